"""Sending a message or a page: the communication action run through the ledger (so a resumed incident
never sends it twice) and what its outcome means for the action's status."""

from __future__ import annotations

from typing import Any, Literal

from agents.context import AgentContext
from agents.state import IncidentState
from tools.actions import ActionOutcome, execute_action

SentStatus = Literal["executed", "failed", "proposed"]


async def send(
    ctx: AgentContext, state: IncidentState, action_id: str, tool: str, args: dict[str, Any]
) -> tuple[ActionOutcome, SentStatus]:
    """Run one outbound call under ``action_id``: sent (or sent before), refused by policy (left
    proposed), or failed."""
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
    return outcome, status
