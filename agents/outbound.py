"""Sending a message or a page: the communication action run through the ledger (so a resumed incident
never sends it twice) and what its outcome means for the action's status."""

from __future__ import annotations

from typing import Any, Literal

from agents.context import AgentContext
from agents.state import IncidentState, ProposedAction
from tools.actions import ActionOutcome, execute_action

SentStatus = Literal["executed", "failed", "proposed"]


async def send(
    ctx: AgentContext, state: IncidentState, action_id: str, tool: str, args: dict[str, Any], title: str = ""
) -> tuple[ActionOutcome, ProposedAction]:
    """Run one outbound call under ``action_id`` and record it as the communication action it was:
    sent (or sent before), refused by policy (left proposed), or failed."""
    outcome = await execute_action(
        registry=ctx.registry,
        ledger=ctx.ledger,
        policy=ctx.policy,
        incident_id=state.id,
        action_id=action_id,
        tool_id=tool,
        args=args,
    )
    status: SentStatus = (
        "executed"
        if outcome.status in ("executed", "already_executed")
        else "proposed"
        if outcome.status == "refused"
        else "failed"
    )
    action = ProposedAction(
        id=action_id,
        tool=tool,
        args=args,
        title=title,
        kind="communication",
        risk="low",
        requires_approval=False,
        status=status,
        result_summary=outcome.detail,
    )
    return outcome, action
