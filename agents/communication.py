"""Communication: the status page, the incident channel, the stakeholders and the pager, at each phase.

Phases: ``opened`` (after triage), ``identified`` (a diagnosis and a plan exist), ``resolved``
(verified recovery), ``escalated`` (handed to a human). At each, once:

- the on-call is looked up (PagerDuty ``/oncalls``, else the catalog, else the default team: `agents.paging`);
- each audience gets its own message from `agents.messages` (customers, stakeholders, responders),
  checked by `agents.message_lint` (a problem goes on the timeline);
- the status page and the channel are posted, the pager triggered (an escalation, a paging severity)
  or resolved. Every post is a mutating tool call through the policy and the action ledger (action id
  ``comms-<phase>-<channel>``), so a resumed incident never posts twice, and a policy that does not
  allow it leaves a draft instead of posting;
- when the incident ends, the post-incident review draft is written (`agents.review`) and the
  incident, with it, goes to memory.

An alert for a service the catalog does not know still reaches people: the default team's channel and pager.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.context import AgentContext
from agents.message_context import message_context
from agents.message_lint import lint_message
from agents.messages import Audience, Impact, capability_of, measured_impact, render, window
from agents.outbound import send
from agents.paging import already_paged, lookup_oncall, page, resolve_page, should_page
from agents.reasoning import ask, reasoner_for
from agents.review import draft_review, render_markdown
from agents.series import latest_value
from agents.state import (
    QUIET_CATEGORIES,
    ApprovalRecord,
    CommsPhase,
    Communication,
    CustomerImpact,
    IncidentState,
    ProposedAction,
    TimelineEntry,
    Usage,
)
from agents.timeline import note
from knowledge.catalog import Service
from tools.prometheus import InstantQuery

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


async def _post(
    ctx: AgentContext, state: IncidentState, action_id: str, tool: str, args: dict[str, Any], title: str
) -> tuple[ProposedAction, dict[str, Any] | None, TimelineEntry]:
    outcome, action = await send(ctx, state, action_id, tool, args, title)
    decision = ctx.ledger.get_decision(state.id, action_id)
    if decision is not None:
        approval = ApprovalRecord(
            decision=decision.decision, by=decision.decided_by, at=decision.decided_at, comment=decision.comment
        )
        action = action.model_copy(update={"approval": approval})
    data = outcome.result.data if outcome.result is not None and outcome.result.status == "ok" else None
    verb = {"executed": "sent", "proposed": "drafted only (policy did not allow posting)", "failed": "failed"}[
        action.status
    ]
    return (
        action,
        data if isinstance(data, dict) else None,
        note(ctx, "communication", "post", f"{title}: {verb}. {outcome.detail}"[:500]),
    )


async def customer_impact(state: IncidentState, service: Service, ctx: AgentContext) -> CustomerImpact:
    """The impact (the SLI's peak and baseline from the investigation's evidence) and its window, for the
    messages and the review. Before any evidence (at opening), the SLI is read now: what is failing now
    is the least customers are told, never "some requests may fail"."""
    measured = measured_impact(state, service, ctx.catalog)
    peak = measured.peak
    if state.impact is not None and state.impact.peak is not None and (peak is None or state.impact.peak > peak):
        peak = state.impact.peak  # the worst point seen so far stays the worst point
    prom = ctx.registry.first("prometheus")
    if peak is None and prom is not None and measured.query and measured.kind != "delay":
        result = await ctx.registry.invoke(
            prom.tool_id("query"), InstantQuery(query=measured.query, time=ctx.clock()), budget=None
        )
        peak = latest_value(result)
    start, end = window(state, ctx.clock())
    return CustomerImpact(
        capability=capability_of(ctx.catalog, service),
        kind=measured.kind,
        peak=peak,
        baseline=measured.baseline
        if measured.baseline is not None
        else (state.impact.baseline if state.impact else None),
        query=measured.query,
        start=start,
        end=end,
    )


FACT = re.compile(
    r"about \d+ in [\d,]+|nearly all|fewer than 1 in 1,000|\b\d{2}:\d{2} [A-Z][A-Za-z+0-9]*|\d+(?:\.\d+)? (?:ms|s)\b"
)


async def _worded(
    ctx: AgentContext, state: IncidentState, phase: CommsPhase, draft: str, service: Service | None
) -> tuple[str, Usage, list[TimelineEntry]]:
    """The customer message in the model's words when a model reasons, else the template's. The model
    only rewords: its text is used when it keeps every fact of the draft (the shares, the times, the
    capability) and passes the lint; otherwise the draft is posted, with a timeline note saying why."""
    reasoner = reasoner_for(state, ctx)
    if reasoner is ctx.fallback:
        return draft, Usage(), []
    answer, notes = await ask(
        ctx,
        reasoner,
        lambda r: r.write_update(state, phase, "customers", ctx, draft=draft),
        actor="communication",
        task=f"word the {phase} status page update",
        instead="the template",
    )
    text = answer.answer.strip()
    if text == draft:
        return draft, answer.usage, notes
    facts = [*FACT.findall(draft), *([capability_of(ctx.catalog, service)] if service else [])]
    dropped = [f for f in facts if f not in text]
    problems = _checked(ctx, state, text, "customers", service) if not dropped else []
    if dropped or problems:
        why = f"it dropped {', '.join(dropped)}" if dropped else "it failed the message lint"
        return (
            draft,
            answer.usage,
            [
                *notes,
                *problems,
                note(
                    ctx, "communication", "model_note", f"the model's wording was not used ({why}); posted the template"
                ),
            ],
        )
    return text, answer.usage, notes


def _checked(
    ctx: AgentContext, state: IncidentState, text: str, audience: Audience, service: Service | None
) -> list[TimelineEntry]:
    """Lint a message; a problem goes on the timeline (the message still goes out: silence is worse)."""
    internals: set[str] = set()
    if audience == "customers":
        shown = capability_of(ctx.catalog, service).lower() if service else ""
        internals = {n for n in ctx.catalog.services if n.lower() not in shown}
        internals |= {s.oncall.name for s in ctx.catalog.services.values() if s.oncall}
    problems = lint_message(text, audience, zone=ctx.settings.comms.timezone, now=ctx.clock(), internals=internals)
    if not problems:
        return []
    return [note(ctx, "communication", "lint", f"the {audience} message has {'; '.join(problems)}"[:500])]


async def communicate(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    phase: CommsPhase = state.comms_phase or "opened"
    entries: list[TimelineEntry] = []
    comms: list[Communication] = []
    actions = list(state.actions)
    refs = dict(state.external_refs)
    service = ctx.catalog.get(state.service)
    now = ctx.clock()

    impact = state.impact
    usage = Usage()
    if phase not in state.comms_sent:
        impact = await customer_impact(state, service, ctx) if service is not None else state.impact
        if "oncall" not in refs:
            answer, notes = await lookup_oncall(ctx, service)
            refs["oncall"], refs["oncall_source"] = answer.who, answer.source
            entries += notes
        mctx = message_context(ctx, state, service, refs["oncall"])
        link = mctx.incident_url

        def current() -> IncidentState:
            return state.model_copy(update={"external_refs": refs, "actions": actions, "impact": impact})

        # -- status page (customers)
        statuspage = ctx.registry.first("statuspage")
        quiet = state.diagnosis is not None and state.diagnosis.category in QUIET_CATEGORIES
        # Public communication waits for evidence: at "opened" only when triage saw the alert in the SLI
        # (or could not check it: unconfirmed is not refuted). An incident that was over before anyone
        # could act is still told, once, as resolved: customers saw it.
        public_ok = phase != "opened" or state.signal_confirmed is not False
        if (
            statuspage is not None
            and service is not None
            and service.customer_facing
            and service.statuspage_component
            and public_ok
            and not (state.diagnosis is not None and state.diagnosis.category == "no_incident")
        ):
            public, spent, notes = await _worded(
                ctx, state, phase, render(current(), phase, "customers", mctx), service
            )
            usage, entries = usage + spent, entries + notes
            entries += _checked(ctx, state, public, "customers", service)
            component = {
                service.statuspage_component: "operational"
                if phase == "resolved"
                else COMPONENT_STATUS[state.severity or "SEV3"]
            }
            tool = ""
            args: dict[str, Any] = {}
            # Told after the fact only when customers noticed it (a material rise), not for a blip the
            # investigation called recovered.
            told_after = (
                quiet
                and impact is not None
                and Impact(kind=impact.kind, peak=impact.peak, baseline=impact.baseline).material
            )
            if "statuspage_incident" not in refs and (phase != "resolved" or told_after):
                tool = statuspage.tool_id("create_incident")
                args = {
                    "name": f"{capability_of(ctx.catalog, service)}: "
                    + {"latency": "slow responses", "delay": "delays"}.get(impact.kind if impact else "", "errors"),
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
            if tool:
                action_id = f"comms-{phase}-statuspage"
                action, data, entry = await _post(ctx, state, action_id, tool, args, title)
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
                            phase=phase,
                            destination=f"status page incident {refs.get('statuspage_incident', '?')}",
                            upstream=action.result_summary[:300],
                            action_id=action_id,
                        )
                    )

        # -- pager
        reason = should_page(state, phase, ctx.settings.comms.page_on) if service is not None else "unknown service"
        if reason and "page" not in refs and "pagerduty_incident" not in refs and phase == "opened":
            # The alert may have paged already (routed to PagerDuty by its own rule): not a second page.
            existing = await already_paged(ctx, state)
            if existing is not None:
                refs["pagerduty_incident"] = str(existing.get("id"))
                who = ", ".join(existing.get("assignees") or []) or "its escalation policy"
                entries.append(
                    note(
                        ctx,
                        "communication",
                        "page",
                        f"already paged: PagerDuty incident #{existing.get('number')} ({existing.get('status')}), "
                        f"assigned to {who}; not paging again",
                    )
                )
                reason = None
        if reason and "page" not in refs and phase != "resolved":
            paged, notes = await page(ctx, current(), service, reason=reason, link=link)
            entries += notes
            if paged is not None:
                actions.append(paged)
                if paged.status == "executed":
                    refs["page"] = str(paged.args["dedup_key"])
        if phase == "resolved":
            resolved, notes = await resolve_page(ctx, current(), service)
            entries += notes
            if resolved is not None:
                actions.append(resolved)

        # -- incident channel (responders)
        slack = ctx.registry.first("slack")
        channel = service.chat_channel if service is not None else ctx.settings.comms.default_team.chat_channel
        if slack is not None and channel:
            text = render(current(), phase, "responders", mctx)
            entries += _checked(ctx, state, text, "responders", service)
            args = {"channel": channel, "text": text}
            if "chat_ts" in refs:
                args["thread_ts"] = refs["chat_ts"]
            action_id = f"comms-{phase}-chat"
            action, data, entry = await _post(
                ctx, state, action_id, slack.tool_id("post_message"), args, f"Chat update to {channel}"
            )
            actions.append(action)
            entries.append(entry)
            if data and data.get("ts") and "chat_ts" not in refs:
                refs["chat_ts"] = str(data["ts"])
                refs["chat_channel"] = str(data.get("channel") or channel)
            if action.status == "executed":
                comms.append(
                    Communication(
                        channel=f"slack:{channel}",
                        audience="responders",
                        text=text,
                        at=now,
                        phase=phase,
                        destination=f"{channel}" + (f" thread {refs['chat_ts']}" if "chat_ts" in refs else ""),
                        upstream=action.result_summary[:300],
                        action_id=action_id,
                    )
                )

        # -- stakeholders: an update at every phase, addressed per service or tier
        summary = render(current(), phase, "stakeholders", mctx)
        entries += _checked(ctx, state, summary, "stakeholders", service)
        comms.append(
            Communication(
                channel="summary",
                audience="stakeholders",
                text=summary,
                at=now,
                link=link or refs.get("statuspage_link"),
                phase=phase,
                destination=", ".join(mctx.stakeholders) or "the incident record",
                upstream="recorded",
                action_id=f"comms-{phase}-summary",
            )
        )
        entries.append(note(ctx, "communication", "summary", f"stakeholder update written ({phase})"))

        if phase in ("resolved", "escalated"):
            entries += finish(current(), phase, comms, entries, actions, refs, ctx)

    update: dict[str, Any] = {
        "actions": actions,
        "external_refs": refs,
        "communications": comms,
        "timeline": entries,
        "comms_sent": [*state.comms_sent, phase] if phase not in state.comms_sent else state.comms_sent,
        "step": state.after_comms,
        "usage": usage,
        "impact": impact,
    }
    if phase == "resolved":
        update["status"] = "resolved"
    return Command(goto="supervisor", update=update)


def finish(
    state: IncidentState,
    phase: str,
    comms: list[Communication],
    entries: list[TimelineEntry],
    actions: list[ProposedAction],
    refs: dict[str, str],
    ctx: AgentContext,
) -> list[TimelineEntry]:
    """The incident ended: draft its review, write it where configured, and remember the incident with it."""
    final = state.model_copy(
        update={
            "status": "resolved" if phase == "resolved" else state.status,
            "communications": [*state.communications, *comms],
            "timeline": [*state.timeline, *entries],
            "actions": actions,
            "external_refs": refs,
        }
    )
    record = final.record()
    review = render_markdown(draft_review(record, catalog=ctx.catalog, zone=ctx.settings.comms.timezone))
    notes = []
    folder = ctx.settings.comms.review_dir
    if folder:
        path = Path(folder) / f"{state.id}-review.md"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(review, encoding="utf-8")
            notes.append(note(ctx, "communication", "review", f"post-incident review draft written to {path}"))
        except OSError as exc:
            notes.append(note(ctx, "communication", "review_failed", f"could not write the review to {path}: {exc}"))
    else:
        notes.append(note(ctx, "communication", "review", "post-incident review drafted (firstline incidents review)"))
    if ctx.memory is None:
        return notes
    try:
        remembered = ctx.memory.remember({**record, "review": review})
    except Exception as exc:  # broad on purpose: memory is advisory, failing to write it must not fail the incident
        return [*notes, note(ctx, "communication", "memory_failed", f"could not write the incident to memory: {exc}")]
    return [
        *notes,
        note(ctx, "communication", "remembered", f"remembered as {remembered.source_id} with its review draft"),
    ]
