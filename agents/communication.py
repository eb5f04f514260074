"""Communication: status page, chat, and the stakeholder summary, at each phase of the incident.

Phases: ``opened`` (after triage), ``identified`` (a diagnosis and a plan exist), ``resolved``
(verified recovery), ``escalated`` (handed to a human). Every post is a mutating tool call that goes
through the policy and the action ledger (action id ``comms-<phase>-<channel>``), so a repeated run
never posts twice, and a policy that does not allow it leaves a draft instead of posting.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.context import AgentContext
from agents.reasoners.base import Reasoned, UpdatePhase
from agents.reasoning import ask, reasoner_for
from agents.state import ApprovalRecord, Communication, IncidentState, ProposedAction, TimelineEntry, Usage
from agents.timeline import note
from tools.actions import execute_action

STATUSPAGE_STATUS = {
    "opened": "investigating",
    "identified": "identified",
    "mitigated": "monitoring",
    "resolved": "resolved",
    "escalated": "investigating",
}
COMPONENT_STATUS = {
    "SEV1": "major_outage",
    "SEV2": "partial_outage",
    "SEV3": "degraded_performance",
    "SEV4": "degraded_performance",
}
IMPACT = {"SEV1": "critical", "SEV2": "major", "SEV3": "minor", "SEV4": "minor"}


async def _write(
    state: IncidentState, phase: UpdatePhase, audience: str, ctx: AgentContext
) -> tuple[Reasoned[str], list[TimelineEntry]]:
    return await ask(
        ctx,
        reasoner_for(state, ctx),
        lambda r: r.write_update(state, phase, audience, ctx),
        actor="communication",
        task=f"draft the {phase} update",
        instead="the template",
    )


async def _post(
    ctx: AgentContext, state: IncidentState, action_id: str, tool: str, args: dict[str, Any], title: str
) -> tuple[ProposedAction, dict[str, Any] | None, TimelineEntry]:
    outcome = await execute_action(
        registry=ctx.registry,
        ledger=ctx.ledger,
        policy=ctx.policy,
        incident_id=state.id,
        action_id=action_id,
        tool_id=tool,
        args=args,
    )
    status: Literal["executed", "failed", "proposed"] = (
        "executed"
        if outcome.status in ("executed", "already_executed")
        else "proposed"
        if outcome.status == "refused"
        else "failed"
    )
    decision = ctx.ledger.get_decision(state.id, action_id)
    approval = (
        ApprovalRecord(
            decision=decision.decision, by=decision.decided_by, at=decision.decided_at, comment=decision.comment
        )
        if decision is not None
        else None
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
        approval=approval,
    )
    data = outcome.result.data if outcome.result is not None and outcome.result.status == "ok" else None
    verb = {"executed": "sent", "proposed": "drafted only (policy did not allow posting)", "failed": "failed"}[status]
    return (
        action,
        data if isinstance(data, dict) else None,
        note(ctx, "communication", "post", f"{title}: {verb}. {outcome.detail}"[:500]),
    )


def remember(
    state: IncidentState, phase: str, comms: list[Communication], entries: list[TimelineEntry], ctx: AgentContext
) -> list[TimelineEntry]:
    """Write the finished incident back to memory, with its outcome, so the next one starts from it."""
    if ctx.memory is None:
        return []
    final = state.model_copy(
        update={
            "status": "resolved" if phase == "resolved" else state.status,
            "communications": [*state.communications, *comms],
            "timeline": [*state.timeline, *entries],
        }
    )
    try:
        remembered = ctx.memory.remember(final.record())
    except Exception as exc:  # broad on purpose: memory is advisory, failing to write it must not fail the incident
        return [note(ctx, "communication", "memory_failed", f"could not write the incident to memory: {exc}")]
    return [note(ctx, "communication", "remembered", f"remembered as {remembered.source_id} for future incidents")]


async def communicate(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    phase: UpdatePhase = state.comms_phase or "opened"
    entries: list[TimelineEntry] = []
    comms: list[Communication] = []
    actions = list(state.actions)
    refs = dict(state.external_refs)
    service = ctx.catalog.get(state.service)
    now = ctx.clock()
    usage = Usage()

    if phase not in state.comms_sent and service is not None:
        drafted, extra = await _write(state, phase, "customers", ctx)
        public, usage = drafted.answer, usage + drafted.usage
        entries += extra
        statuspage = ctx.registry.first("statuspage")
        # Public communication waits for evidence: at "opened" only when triage saw the alert in the SLI
        # (or could not check it: unconfirmed is not refuted).
        public_ok = phase != "opened" or state.signal_confirmed is not False
        if statuspage is not None and service.customer_facing and service.statuspage_component and public_ok:
            component = {
                service.statuspage_component: "operational"
                if phase == "resolved"
                else COMPONENT_STATUS[state.severity or "SEV3"]
            }
            if "statuspage_incident" not in refs and phase != "resolved":
                tool = statuspage.tool_id("create_incident")
                args: dict[str, Any] = {
                    "name": f"{service.name}: {state.alert.title}"[:200],
                    "status": STATUSPAGE_STATUS[phase],
                    "body": public,
                    "impact_override": IMPACT[state.severity or "SEV3"],
                    "component_ids": [service.statuspage_component],
                    "components": component,
                }
                title = "Open status page incident"
            elif "statuspage_incident" in refs:
                tool = statuspage.tool_id("update_incident")
                args = {
                    "incident_id": refs["statuspage_incident"],
                    "status": STATUSPAGE_STATUS[phase],
                    "body": public,
                    "components": component,
                }
                title = f"Status page update ({STATUSPAGE_STATUS[phase]})"
            else:
                tool = ""
            if tool:
                action, data, entry = await _post(ctx, state, f"comms-{phase}-statuspage", tool, args, title)
                actions.append(action)
                entries.append(entry)
                if data and data.get("id"):
                    refs["statuspage_incident"] = str(data["id"])
                    if data.get("shortlink"):
                        refs["statuspage_link"] = str(data["shortlink"])
                if action.status == "executed":
                    comms.append(
                        Communication(
                            channel="statuspage",
                            audience="customers",
                            text=public,
                            at=now,
                            link=refs.get("statuspage_link"),
                        )
                    )

        slack = ctx.registry.first("slack")
        if slack is not None and service.chat_channel:
            drafted, extra = await _write(state, phase, "responders", ctx)
            text, usage = drafted.answer, usage + drafted.usage
            entries += extra
            args = {"channel": service.chat_channel, "text": text}
            if "chat_ts" in refs:
                args["thread_ts"] = refs["chat_ts"]
            action, data, entry = await _post(
                ctx,
                state,
                f"comms-{phase}-chat",
                slack.tool_id("post_message"),
                args,
                f"Chat update to {service.chat_channel}",
            )
            actions.append(action)
            entries.append(entry)
            if data and data.get("ts") and "chat_ts" not in refs:
                refs["chat_ts"] = str(data["ts"])
            if action.status == "executed":
                comms.append(
                    Communication(channel=f"slack:{service.chat_channel}", audience="responders", text=text, at=now)
                )

        if phase in ("resolved", "escalated"):
            drafted, extra = await _write(state, phase, "stakeholders", ctx)
            summary, usage = drafted.answer, usage + drafted.usage
            entries += extra
            comms.append(
                Communication(
                    channel="summary", audience="stakeholders", text=summary, at=now, link=ctx.links.get("incident")
                )
            )
            entries.append(note(ctx, "communication", "summary", "stakeholder summary written"))
            entries += remember(state, phase, comms, entries, ctx)

    update: dict[str, Any] = {
        "actions": actions,
        "external_refs": refs,
        "communications": comms,
        "timeline": entries,
        "comms_sent": [*state.comms_sent, phase] if phase not in state.comms_sent else state.comms_sent,
        "step": state.after_comms,
        "usage": usage,
    }
    if phase == "resolved":
        update["status"] = "resolved"
    return Command(goto="supervisor", update=update)
