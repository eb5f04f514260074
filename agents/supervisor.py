"""The supervisor: routes the incident and enforces the invariants in code.

Invariants (each is a branch below, and each has a test):
- no remediation without a diagnosis: a request to remediate without one goes back to investigation;
- no mutating action without passing the approval gate: a pending action that requires approval and
  has not been approved is routed to the gate, whatever step was asked for;
- a bounded number of turns: past ``max_turns`` the incident is escalated to a human;
- no escalation in silence: an incident that ends escalated has told someone (the default team at least);
- a bounded token budget: past it, the model is no longer called (the deterministic reasoner runs).
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END
from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.context import AgentContext
from agents.state import IncidentState
from agents.timeline import note

Node = Literal["triage", "investigate", "remediate", "approval_gate", "execute", "verify", "communicate", "__end__"]


def next_node(state: IncidentState, max_turns: int, max_rounds: int) -> tuple[Node, str]:
    """Where the incident goes next, and why. Pure: the tests call it directly."""
    if state.step == "done":
        if state.status == "escalated" and "escalated" not in state.comms_sent:
            # Escalated without a word to anyone (an alert for a service the catalog does not know):
            # the default team still hears about it and is paged.
            return "communicate", "escalated without communications: telling the default team"
        return "__end__", "done"
    if state.turns >= max_turns and state.step != "communicate":
        return "communicate", f"turn limit of {max_turns} reached: escalating to a human"
    step = state.step
    if step == "triage":
        return "triage", "new incident"
    if step == "communicate":
        return "communicate", f"communications for phase {state.comms_phase}"
    if step == "investigate":
        if state.investigation_rounds >= max_rounds:
            return "communicate", f"{max_rounds} investigation rounds without recovery: escalating to a human"
        return "investigate", "gather evidence"
    if step == "remediate":
        if state.diagnosis is None:
            return "investigate", "no remediation without a diagnosis"
        return "remediate", "plan remediation"
    action = state.pending_action()
    if step in ("approve", "execute"):
        if action is None:
            return "communicate", "no action pending"
        if action.requires_approval and action.status != "approved":
            return "approval_gate", "the action requires approval"
        return "execute", "approved or allowed by policy"
    if step == "verify":
        return "verify", "check the effect of the action"
    return "communicate", f"unknown step {step!r}: escalating"


async def supervisor(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Node]:
    ctx = runtime.context
    settings = ctx.settings
    goto, reason = next_node(state, settings.max_turns, settings.max_investigation_rounds)
    update: dict[str, Any] = {"turns": state.turns + 1}
    entries = []
    escalating = goto == "communicate" and state.step not in ("communicate",)
    if escalating:
        update.update({"comms_phase": "escalated", "after_comms": "done", "status": "escalated", "step": "communicate"})
        entries.append(note(ctx, "supervisor", "escalated", reason))
    elif goto != state.step and goto not in (END,) and state.step not in ("approve", "execute"):
        entries.append(note(ctx, "supervisor", "guard", f"asked for {state.step}, routed to {goto}: {reason}"))
    if not state.budget_exhausted and state.tokens_used >= settings.token_budget:
        update["budget_exhausted"] = True
        entries.append(
            note(
                ctx,
                "supervisor",
                "budget",
                f"token budget of {settings.token_budget} used up; the deterministic reasoner takes over",
            )
        )
    if entries:
        update["timeline"] = entries
    return Command(goto=goto, update=update)
