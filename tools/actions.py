"""Run one mutating action through the policy and the ledger: the only path to a side effect.

    decide tier (policy) -> claim (ledger: needs a recorded approval, mints the grant, at most once)
        -> invoke with the grant -> record the outcome

A repeated call for the same action returns the earlier outcome without invoking anything.
"""

from __future__ import annotations

from typing import Any, Literal

import structlog
from pydantic import BaseModel

from tools.base import ToolResult, hash_args
from tools.invoke import describe_validation_error
from tools.ledger import ActionLedger, ClaimRefused, ExecutionRecord
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

log = structlog.get_logger("firstline.actions")


class ActionOutcome(BaseModel):
    """What happened when an action was asked to run."""

    status: Literal["executed", "already_executed", "refused", "failed", "unknown"]
    detail: str
    result: ToolResult | None = None
    record: ExecutionRecord | None = None


def normalized_args(registry: ToolRegistry, tool_id: str, args: dict[str, Any]) -> dict[str, Any]:
    """Validate the arguments against the call's input model and return them in canonical form.

    The approval binds to the hash of this canonical form, so defaults filled in later cannot
    change what was approved.
    """
    from pydantic import ValidationError

    _, spec = registry.resolve(tool_id)
    try:
        return spec.input_model.model_validate(args).model_dump(mode="json")
    except ValidationError as exc:
        raise ValueError(f"invalid arguments for {tool_id}: {describe_validation_error(exc)}") from exc


def args_hash_for(registry: ToolRegistry, tool_id: str, args: dict[str, Any]) -> str:
    return hash_args(normalized_args(registry, tool_id, args))


async def execute_action(
    *,
    registry: ToolRegistry,
    ledger: ActionLedger,
    policy: ApprovalPolicy,
    incident_id: str,
    action_id: str,
    tool_id: str,
    args: dict[str, Any],
) -> ActionOutcome:
    _, spec = registry.resolve(tool_id)
    canonical = normalized_args(registry, tool_id, args)
    decision = policy.decide(spec.safety)
    try:
        claim = ledger.claim(
            incident_id=incident_id,
            action_id=action_id,
            tool=tool_id,
            args_hash=hash_args(canonical),
            tier=decision.tier,
        )
    except ClaimRefused as exc:
        log.warning("action_refused", incident_id=incident_id, action_id=action_id, tool=tool_id, reason=str(exc))
        return ActionOutcome(status="refused", detail=str(exc))
    if claim.previous is not None:
        prev = claim.previous
        if prev.state == "unknown":
            # Claimed, then the process stopped before the result was recorded: the call may or may not have
            # been sent. Running it again could do it twice; the caller verifies the world instead.
            detail = (
                f"{tool_id} was claimed for this action but its result was never recorded (the process stopped "
                "during the call): it may or may not have run; not running it again"
            )
        else:
            detail = f"{tool_id} already ran for this action (state {prev.state}); not running it again"
        log.info("action_already_executed", incident_id=incident_id, action_id=action_id, state=prev.state)
        result = ToolResult.model_validate(prev.result) if prev.result else None
        return ActionOutcome(
            status="unknown" if prev.state == "unknown" else "already_executed",
            detail=detail,
            result=result,
            record=prev,
        )
    assert claim.grant is not None
    result = await registry.invoke(tool_id, canonical, grant=claim.grant)
    record = ledger.finish(incident_id, action_id, result)
    log.info("action_executed", incident_id=incident_id, action_id=action_id, tool=tool_id, status=result.status)
    return ActionOutcome(
        status="executed" if result.status == "ok" else "failed",
        detail=result.summary,
        result=result,
        record=record,
    )
