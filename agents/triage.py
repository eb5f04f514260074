"""Triage: severity from the alert, the service's tier and customer impact; owner and on-call from
the catalog; a one-paragraph summary. Severity is a rule in code, not a model's opinion."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.context import AgentContext
from agents.reasoners.base import TriageFacts
from agents.reasoning import ask, reasoner_for
from agents.series import first_series
from agents.state import IncidentState, Severity, Triage
from agents.timeline import note
from knowledge.catalog import Service, ServiceCatalog
from tools.prometheus import RangeQuery

ALERT_WEIGHT = {
    "critical": 3.0,
    "page": 3.0,
    "high": 2.0,
    "error": 2.0,
    "warning": 1.0,
    "medium": 1.0,
    "low": 0.5,
    "info": 0.0,
}


MAJOR_IMPACT = 0.5  # more than this share of requests failing now: most users of the service are hit
REACH_HOPS = 3  # how far up the callers the impact is followed to a customer-facing service


def assess_severity(
    alert_severity: str,
    service: Service,
    *,
    failing: float | None = None,
    reaches: str | None = None,
    unseen: bool = False,
) -> tuple[Severity, list[str]]:
    """Severity from the alert, the service and the measured impact, with the reasons spelled out.

    Points: the alert's own severity (critical 3, error 2, warning 1, info 0); +1 when customers are
    exposed: the service is customer facing, or the impact reaches a customer-facing caller within
    `REACH_HOPS` (``reaches``); +1 for tier 1 (+0.5 for tier 2); +1 when most requests of a tier-1
    service fail now (``failing``, the error ratio the SLI measures); -1 when the alert is about errors
    and the SLI does not show them now (``unseen``: a spike already over, or not yet visible). SEV1 at
    5 or more, SEV2 at 3.5, SEV3 at 2 (and always for tiers 1 and 2). Every reason names what it used.
    """
    weight = ALERT_WEIGHT.get(alert_severity.lower(), 1.0)
    reasons = [f"alert severity {alert_severity!r} ({weight:g} points)"]
    points = weight
    if service.customer_facing:
        points += 1
        reasons.append("customer-facing service (+1)")
    elif reaches:
        points += 1
        reasons.append(f"its callers include customer-facing {reaches} (+1)")
    if service.tier == 1:
        points += 1
        reasons.append("tier 1 service (+1)")
    elif service.tier == 2:
        points += 0.5
        reasons.append("tier 2 service (+0.5)")
    if failing is not None:
        if service.tier == 1 and failing > MAJOR_IMPACT:
            points += 1
            reasons.append(f"measured: {failing:.0%} of requests failing now, most of them (+1)")
        elif unseen:
            points -= 1
            reasons.append(f"measured: {failing:.1%} of requests failing now, the alert's errors not visible (-1)")
        else:
            reasons.append(f"measured: {failing:.1%} of requests failing now")
    severity: Severity = "SEV1" if points >= 5 else "SEV2" if points >= 3.5 else "SEV3" if points >= 2 else "SEV4"
    reasons.append(f"{points:g} points -> {severity}")
    if severity == "SEV4" and service.tier <= 2:
        severity = "SEV3"  # SEV4 is for the low tiers: a tier-1 or tier-2 service's incident is at least SEV3
        reasons.append(f"tier {service.tier}: at least SEV3")
    return severity, reasons


def customer_facing_caller(catalog: ServiceCatalog, service: str) -> str | None:
    """The nearest customer-facing service among ``service``'s callers, within `REACH_HOPS`."""
    seen, frontier = {service}, [service]
    for _ in range(REACH_HOPS):
        callers = sorted({c for name in frontier for c in catalog.dependents_of(name)} - seen)
        facing = [c for c in callers if (entry := catalog.get(c)) is not None and entry.customer_facing]
        if facing:
            return facing[0]
        seen.update(callers)
        frontier = callers
    return None


# An alert about failing requests, and not about latency or work that stopped: its impact is what the
# error-rate SLI shows.
ERROR_ALERT = re.compile(r"error|5xx|fail|exception", re.I)
OTHER_ALERT = re.compile(r"latenc|slow|p9\d|duration|stall|stopped|backlog|lag\b|throughput|delay", re.I)
CONFIRM_MINUTES = 60
STALE_AFTER = timedelta(minutes=5)
CONFIRM_RISE = 0.01


async def confirm_signal(service: Service, ctx: AgentContext) -> tuple[bool, str, float | None]:
    """Is the alert visible in the service's error-rate SLI right now? Decides going public early.

    Compares the latest value with the median of the first half of the last hour. When the SLI
    cannot be read, the alert is trusted (unconfirmed is not the same as refuted).
    """
    prom = ctx.registry.first("prometheus")
    query = service.sli.error_rate
    if prom is None or not query:
        return True, "no error-rate SLI to confirm the alert against; trusting the alert", None
    now = ctx.clock()
    result = await ctx.registry.invoke(
        prom.tool_id("query_range"),
        RangeQuery(query=query, start=now - timedelta(minutes=CONFIRM_MINUTES), end=now, step=60),
        budget=None,
    )
    times, values = first_series(result)
    if times and now - times[-1] > STALE_AFTER:
        # Samples that stopped arriving say nothing about now: missing telemetry is unknown, not healthy.
        return (
            True,
            f"{service.name}'s error rate has no samples since {times[-1]:%H:%M} UTC (stale); trusting the alert",
            None,
        )
    if len(values) < 4:
        return (
            True,
            f"could not read {service.name}'s error rate to confirm the alert ({result.summary}); trusting the alert",
            None,
        )
    half = values[: len(values) // 2]
    baseline = sorted(half)[len(half) // 2]
    current = values[-1]
    if current - baseline >= CONFIRM_RISE:
        return True, f"confirmed: {service.name} error ratio {current:.2%} now vs {baseline:.2%} an hour ago", current
    return (
        False,
        f"not confirmed: {service.name} error ratio {current:.2%} now vs {baseline:.2%} an hour ago; "
        "holding public communication until the investigation confirms an incident",
        current,
    )


async def triage(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    alert = state.alert
    service = ctx.catalog.get(alert.service)
    if service is None:
        known = ", ".join(sorted(ctx.catalog.services)) or "none"
        text = (
            f"service {alert.service!r} from the alert is not in the service catalog (known: {known}); "
            "escalating to a human without automated investigation"
        )
        return Command(
            goto="supervisor",
            update={
                "status": "escalated",
                "service": alert.service,
                "summary": f"{alert.title} on unknown service {alert.service!r}",
                "step": "done",
                "timeline": [note(ctx, "triage", "escalated", text)],
                "notes": [text],
            },
        )
    confirmed, confirmation, failing = await confirm_signal(service, ctx)
    about_errors = bool(ERROR_ALERT.search(f"{alert.name} {alert.title}")) and not OTHER_ALERT.search(
        f"{alert.name} {alert.title} {alert.description}"
    )
    severity, reasons = assess_severity(
        alert.severity,
        service,
        failing=failing,
        reaches=customer_facing_caller(ctx.catalog, service.name),
        unseen=about_errors and not confirmed and failing is not None,
    )
    oncall = f"{service.oncall.name} ({service.oncall.handle})" if service.oncall else "no on-call listed"
    facts = TriageFacts(
        alert_title=alert.title,
        alert_description=alert.description,
        alert_severity=alert.severity,
        service=service.name,
        service_description=service.description,
        tier=service.tier,
        customer_facing=service.customer_facing,
        owner=service.owner,
        oncall=oncall,
        severity=severity,
        severity_reasons=reasons,
        dependents=ctx.catalog.dependents_of(service.name),
    )
    entries = []
    entries.append(note(ctx, "triage", "signal", confirmation))
    reasoned, fallback = await ask(
        ctx,
        reasoner_for(state, ctx),
        lambda r: r.summarize(facts, ctx),
        actor="triage",
        task="summarize",
        instead="the deterministic summary",
    )
    entries += fallback
    summary = reasoned.answer
    result = Triage(
        severity=severity,
        service=service.name,
        owner=service.owner,
        oncall=oncall,
        customer_facing=service.customer_facing,
        tier=service.tier,
        summary=summary,
        reasons=reasons,
    )
    entries.append(
        note(
            ctx,
            "triage",
            "triaged",
            f"{severity} on {service.name} (owner {service.owner}, on-call {oncall}): {'; '.join(reasons)}",
        )
    )
    return Command(
        goto="supervisor",
        update={
            "triage": result,
            "severity": severity,
            "service": service.name,
            "summary": summary,
            "step": "communicate",
            "timeline": entries,
            "signal_confirmed": confirmed,
            "usage": reasoned.usage,
        },
    )
