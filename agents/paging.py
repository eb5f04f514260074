"""Who is on call, and paging them: PagerDuty's ``/oncalls`` as the source of truth, Events v2 to page.

- `lookup_oncall`: the level-1 on-call now for the service's schedule or escalation policy (catalog
  ``oncall.pagerduty_schedule`` / ``pagerduty_escalation_policy``) through the ``pagerduty`` tool; when
  PagerDuty is not configured, names nobody or fails, the catalog's static name, with a timeline note
  saying why. A service not in the catalog is the configured default team's.
- `page` / `resolve_page`: trigger and resolve one alert per incident (dedup key ``firstline/<id>``)
  through the ``pagerduty_events`` instance of the service (catalog ``pagerduty_events``), or the
  default team's, or the first configured. Both go through the policy and the action ledger, so a
  resumed incident never pages twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel

from agents.context import AgentContext
from agents.outbound import send
from agents.state import IncidentState, ProposedAction, TimelineEntry
from agents.timeline import note
from knowledge.catalog import Service
from tools.base import Adapter

PAGE_SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "SEV4": "info"}


class OnCallAnswer(BaseModel):
    """Who is on call, and where that came from."""

    who: str
    source: Literal["pagerduty", "catalog", "default_team"]


def dedup_key(incident_id: str) -> str:
    return f"firstline/{incident_id}"


async def lookup_oncall(ctx: AgentContext, service: Service | None) -> tuple[OnCallAnswer, list[TimelineEntry]]:
    """The on-call now: PagerDuty first, then the catalog, then the default team; never nobody."""
    team = ctx.settings.comms.default_team
    if service is None:
        return OnCallAnswer(who=team.name, source="default_team"), []
    static = f"{service.oncall.name} ({service.oncall.handle})" if service.oncall and service.oncall.handle else ""
    static = static or (service.oncall.name if service.oncall else "")
    fallback = (
        OnCallAnswer(who=static, source="catalog") if static else OnCallAnswer(who=team.name, source="default_team")
    )
    pagerduty = ctx.registry.first("pagerduty")
    oncall = service.oncall
    schedule = oncall.pagerduty_schedule if oncall else None
    policy = oncall.pagerduty_escalation_policy if oncall else None
    if pagerduty is None or not (schedule or policy):
        why = (
            "no pagerduty tool configured" if pagerduty is None else "the catalog names no PagerDuty schedule or policy"
        )
        return fallback, [note(ctx, "communication", "oncall", f"on-call from the catalog: {fallback.who} ({why})")]
    args: dict[str, Any] = {"schedule_ids": [schedule]} if schedule else {"escalation_policy_ids": [policy]}
    result = await ctx.registry.invoke(pagerduty.tool_id("list_oncalls"), args, budget=None)
    people = [o for o in (result.data or {}).get("oncalls", []) if isinstance(o, dict) and o.get("user")]
    if result.status != "ok" or not people:
        why = result.error.message if result.error is not None else result.summary
        return fallback, [
            note(ctx, "communication", "oncall", f"on-call from the catalog: {fallback.who} (PagerDuty: {why})"[:500])
        ]
    first = min(people, key=lambda o: o.get("level") or 99)
    answer = OnCallAnswer(who=str(first["user"]), source="pagerduty")
    where = f"schedule {schedule}" if schedule else f"escalation policy {policy}"
    return answer, [note(ctx, "communication", "oncall", f"on call now per PagerDuty ({where}): {answer.who}")]


def pager_for(ctx: AgentContext, service: Service | None) -> Adapter | None:
    """The pagerduty_events instance that pages this service's people (the default team's for None)."""
    wanted = service.pagerduty_events if service is not None else ctx.settings.comms.default_team.pagerduty_events
    if wanted:
        return ctx.registry.adapters.get(wanted)
    return ctx.registry.first("pagerduty_events")


def should_page(state: IncidentState, phase: str, page_on: list[str]) -> str | None:
    """Why to page now, or None: an escalation always pages, a listed severity pages when it opens."""
    if phase == "escalated":
        return "escalated to a human"
    if phase == "opened" and state.severity in page_on and state.signal_confirmed is not False:
        return f"{state.severity} incident"
    return None


async def already_paged(ctx: AgentContext, state: IncidentState) -> dict[str, Any] | None:
    """The open PagerDuty incident this alert already raised (the alert routed to PagerDuty itself), if any:
    matched on the alert's fingerprint as the incident key, or on its title."""
    pagerduty = ctx.registry.first("pagerduty")
    if pagerduty is None:
        return None
    since = state.alert.started_at - timedelta(hours=1)
    result = await ctx.registry.invoke(pagerduty.tool_id("list_incidents"), {"since": since}, budget=None)
    if result.status != "ok":
        return None
    for found in (result.data or {}).get("incidents", []):
        if not isinstance(found, dict):
            continue
        if found.get("incident_key") == state.alert.fingerprint or found.get("title") == state.alert.title:
            return found
    return None


async def page(
    ctx: AgentContext, state: IncidentState, service: Service | None, *, reason: str, link: str
) -> tuple[ProposedAction | None, list[TimelineEntry]]:
    """Trigger the incident's alert (summary, diagnosis, link). No pager configured: a timeline note."""
    pager = pager_for(ctx, service)
    if pager is None:
        return None, [
            note(
                ctx,
                "communication",
                "page_skipped",
                f"would page ({reason}) but no pagerduty_events tool is configured",
            )
        ]
    diagnosis = state.diagnosis
    details: dict[str, Any] = {"incident": state.id, "why paged": reason, "summary": state.summary[:900]}
    if diagnosis is not None:
        details["diagnosis"] = f"{diagnosis.category} on {diagnosis.entity}: {diagnosis.root_cause}"[:900]
        details["confidence"] = f"{diagnosis.confidence:.0%}"
    args: dict[str, Any] = {
        "dedup_key": dedup_key(state.id),
        "summary": f"[{state.severity or 'SEV?'}] {state.service}: {state.alert.title} ({reason})"[:1024],
        "source": f"{state.service or 'unknown'}.{state.alert.environment}"[:255],
        "severity": PAGE_SEVERITY.get(state.severity or "", "error"),
        "timestamp": state.alert.started_at.isoformat(),
        "component": (state.service or "unknown")[:255],
        "custom_details": details,
    }
    if link.startswith(("http://", "https://")):
        args["client_url"] = link
        args["links"] = [{"href": link, "text": f"firstline incident {state.id}"}]
    return await _send(
        ctx,
        state,
        pager,
        "page-trigger",
        "trigger_event",
        args,
        f"Page {service.owner if service else ctx.settings.comms.default_team.name}",
    )


async def resolve_page(
    ctx: AgentContext, state: IncidentState, service: Service | None
) -> tuple[ProposedAction | None, list[TimelineEntry]]:
    """Resolve the incident's alert, if one was triggered."""
    pager = pager_for(ctx, service)
    if pager is None or "page" not in state.external_refs:
        return None, []
    return await _send(
        ctx, state, pager, "page-resolve", "resolve_event", {"dedup_key": dedup_key(state.id)}, "Resolve the page"
    )


async def _send(
    ctx: AgentContext, state: IncidentState, pager: Adapter, action_id: str, call: str, args: dict[str, Any], title: str
) -> tuple[ProposedAction, list[TimelineEntry]]:
    tool = pager.tool_id(call)
    outcome, action = await send(ctx, state, action_id, tool, args, title)
    verb = {"executed": "sent", "proposed": "not sent (policy did not allow it)", "failed": "failed"}[action.status]
    return action, [note(ctx, "communication", "page", f"{title}: {verb}. {outcome.detail}"[:500])]
