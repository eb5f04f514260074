"""The approval gate: its own node, no side effects before `interrupt()`.

The gate asks for a decision on the pending action by interrupting the graph with an
`ApprovalRequest`. The incident then waits, durably (the checkpoint is in SQLite), for
`firstline approve|reject`, possibly from another process. Those commands write the decision to the
action ledger first and then resume the graph; the gate trusts the ledger, not the resume payload,
so resuming without a recorded decision changes nothing and the gate asks again.

On resume LangGraph re-runs this node from the top, which is why nothing before `interrupt()` may
have an effect.

The interrupt carries the request as JSON (so a checkpoint stays readable whatever the model's
Python class becomes); `agents.runner.Responder` validates it back into an `ApprovalRequest`, and
from there it stays typed to the CLI and the eval harness (`agents.runner.answer_approvals`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import BaseModel, Field

from agents.context import AgentContext
from agents.state import ApprovalRecord, IncidentState, ProposedAction, Risk
from agents.timeline import note

# Who the ledger names for an approval that expired without a decision (recorded as a rejection).
EXPIRED_BY = "policy:expired"


class ApprovalRequest(BaseModel):
    """What a human sees before deciding: the action, why, its risk, blast radius and undo."""

    incident_id: str
    action_id: str
    tool: str
    args: dict[str, Any]
    title: str
    rationale: str
    risk: Risk
    blast_radius: str
    undo: str
    policy_reason: str
    diagnosis: str
    evidence: list[str]
    requested_at: datetime


class ApprovalAnswer(BaseModel):
    """A decision on an `ApprovalRequest`: what a human (or a policy acting for one) answered."""

    decision: Literal["approved", "rejected"]
    by: str = Field(min_length=1, description="Who decided; recorded in the ledger and on the timeline.")
    comment: str = ""


def build_request(state: IncidentState, action: ProposedAction, at: datetime) -> ApprovalRequest:
    diagnosis = state.diagnosis
    return ApprovalRequest(
        incident_id=state.id,
        action_id=action.id,
        tool=action.tool,
        args=action.args,
        title=action.title,
        rationale=action.rationale,
        risk=action.risk,
        blast_radius=action.blast_radius,
        undo=action.undo,
        policy_reason=action.policy_reason,
        diagnosis=diagnosis.root_cause if diagnosis else "",
        evidence=[f"[{e.source}] {e.observation}" for e in (diagnosis.evidence if diagnosis else [])][:8],
        requested_at=at,
    )


async def approval_gate(
    state: IncidentState, runtime: Runtime[AgentContext]
) -> Command[Literal["supervisor", "approval_gate"]]:
    ctx = runtime.context
    action = state.pending_action()
    if action is None:
        return Command(goto="supervisor", update={"step": "communicate"})
    record = ctx.ledger.get_decision(state.id, action.id)
    if record is None:
        interrupt(build_request(state, action, ctx.clock()).model_dump(mode="json"))
        record = ctx.ledger.get_decision(state.id, action.id)
        if record is None:
            entry = note(
                ctx, "approval", "ignored", f"resumed without a recorded decision for {action.id}; still waiting"
            )
            return Command(goto="approval_gate", update={"timeline": [entry]})
    # An approval of edited arguments binds to them: the action runs with what was approved (the
    # ledger refuses any other arguments), and the timeline says what changed.
    edited = record.decision == "approved" and record.args is not None and record.args != action.args
    args = record.args if edited and record.args is not None else action.args
    approval = ApprovalRecord(
        decision=record.decision,
        by=record.decided_by,
        at=record.decided_at,
        comment=record.comment,
        edited_from=action.args if edited else None,
    )
    comment = f" ({record.comment})" if record.comment else ""
    change = f" with edited arguments {args} (proposed {action.args})" if edited else ""
    updated = action.model_copy(update={"status": record.decision, "approval": approval, "args": args})
    actions = [updated if a.id == action.id else a for a in state.actions]
    if record.decided_by == EXPIRED_BY:
        entry = note(ctx, "approval", "expired", f"{action.title} was not decided in time and will not run{comment}")
    else:
        entry = note(
            ctx, "human", record.decision, f"{record.decided_by} {record.decision} {action.title}{change}{comment}"
        )
    if record.decision == "approved":
        return Command(
            goto="supervisor", update={"actions": actions, "status": "open", "step": "execute", "timeline": [entry]}
        )
    return Command(
        goto="supervisor",
        update={
            "actions": actions,
            "status": "escalated",
            "step": "communicate",
            "comms_phase": "escalated",
            "after_comms": "done",
            "timeline": [entry],
        },
    )
