"""Execute the approved action exactly once, then verify its effect on the triggering signal.

Execution goes through `tools.actions.execute_action`, so the ledger refuses anything without a
recorded approval (or an allowing policy), and a repeated resume finds the earlier execution instead
of running the call again. Verification compares the SLI now with its pre-incident baseline; if it
has not recovered, the incident goes back to investigation with that observation as new evidence.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.autonomy import demote_on_setback
from agents.context import AgentContext
from agents.series import latest_value
from agents.state import Evidence, IncidentState, Verification
from agents.target_state import current_state, drift
from agents.timeline import note
from tools.actions import execute_action
from tools.prometheus import InstantQuery


async def execute(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    action = state.pending_action()
    assert action is not None  # the supervisor routes here only with a pending action
    if action.target_state and ctx.ledger.get_execution(state.id, action.id) is None:
        changed = drift(action.target_state, await current_state(action, ctx))
        if changed:
            # Approved for a state that is gone: never run it; investigate again, which proposes an
            # action for the target as it is now (and asks for approval again).
            text = (
                f"{action.title} not run: its target changed since it was proposed ({', '.join(changed)}); "
                "the approval was for the old state, so the incident is re-investigated and a new action proposed"
            )
            superseded = action.model_copy(update={"status": "superseded", "result_summary": text})
            return Command(
                goto="supervisor",
                update={
                    "actions": [superseded if a.id == action.id else a for a in state.actions],
                    "step": "investigate",
                    "status": "open",
                    "timeline": [note(ctx, "execution", "superseded", text)],
                },
            )
    outcome = await execute_action(
        registry=ctx.registry,
        ledger=ctx.ledger,
        policy=ctx.policy,
        incident_id=state.id,
        action_id=action.id,
        tool_id=action.tool,
        args=action.args,
    )
    entries = []
    if outcome.status in ("executed", "already_executed", "unknown"):
        status: Literal["executed", "failed"] = "executed"
        if outcome.status == "executed":
            entries.append(note(ctx, "execution", "executed", f"ran {action.title}: {outcome.detail}"))
        else:
            entries.append(note(ctx, "execution", "skipped", f"{outcome.detail}; verifying its effect instead"))
        step = "verify"
        update: dict[str, Any] = {}
    else:
        status = "failed"
        entries.append(note(ctx, "execution", outcome.status, f"{action.title} did not run: {outcome.detail}"))
        if outcome.status == "failed":
            entries += await demote_on_setback(ctx, state, action, "a failed execution")
        step = "communicate"
        update = {"comms_phase": "escalated", "after_comms": "done", "status": "escalated"}
    updated = action.model_copy(update={"status": status, "result_summary": outcome.detail})
    actions = [updated if a.id == action.id else a for a in state.actions]
    return Command(goto="supervisor", update={**update, "actions": actions, "step": step, "timeline": entries})


def recovered(observed: float, baseline: float, tolerance: float) -> bool:
    """Back to baseline: within the absolute tolerance, or within twice the baseline."""
    return observed <= max(baseline + tolerance, baseline * 2)


async def verify(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    settings = ctx.settings
    action = next((a for a in reversed(state.actions) if a.kind == "remediation" and a.status == "executed"), None)
    assert action is not None
    if settings.verify_settle_seconds:
        await ctx.sleep(settings.verify_settle_seconds)
    prom = ctx.registry.first("prometheus")
    now = ctx.clock()
    observed: float | None = None
    query = state.sli_query
    detail = "no metrics backend configured"
    if prom is not None and query:
        result = await ctx.registry.invoke(prom.tool_id("query"), InstantQuery(query=query, time=now), budget=None)
        observed = latest_value(result)
        detail = result.summary
    baseline = state.baseline if state.baseline is not None else 0.0
    ok = observed is not None and recovered(observed, baseline, settings.verify_tolerance)
    shown = "unknown" if observed is None else f"{observed:.4f}"
    verification = Verification(
        ok=ok,
        baseline=state.baseline,
        observed=observed,
        query=query,
        at=now,
        detail=f"error ratio {shown} vs baseline {baseline:.4f} (tolerance {settings.verify_tolerance}): {detail}",
    )
    if ok:
        updated = action.model_copy(update={"status": "verified"})
        actions = [updated if a.id == action.id else a for a in state.actions]
        entry = note(
            ctx,
            "verification",
            "verified",
            f"after {action.title} the error ratio is {shown}, back to its baseline of {baseline:.4f}",
        )
        return Command(
            goto="supervisor",
            update={
                "actions": actions,
                "verification": verification,
                "status": "mitigated",
                "step": "communicate",
                "comms_phase": "resolved",
                "after_comms": "done",
                "timeline": [entry],
            },
        )
    evidence = Evidence(
        id=f"r{state.investigation_rounds}-verify",
        source=prom.tool_id("query") if prom else "verification",
        query=query,
        observation=f"after {action.title} the error ratio is still {shown} (baseline {baseline:.4f})",
        at=now,
    )
    entry = note(
        ctx,
        "verification",
        "not_recovered",
        f"{evidence.observation}; back to investigation. To undo the action: {action.undo}",
    )
    demotion = await demote_on_setback(ctx, state, action, "a failed verification")
    return Command(
        goto="supervisor",
        update={
            "verification": verification,
            "evidence": [evidence],
            "step": "investigate",
            "timeline": [entry, *demotion],
        },
    )
