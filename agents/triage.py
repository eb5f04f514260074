"""Triage: severity from the alert, the service's tier and customer impact; owner and on-call from
the catalog; a one-paragraph summary. Severity is a rule in code, not a model's opinion."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Literal

from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

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

REACH_HOPS = 3  # how far up the callers the impact is followed to a customer-facing service
EDGE_LIMIT = 8  # customer-facing callers whose error rate triage reads (the nearest first)
# The measured grades. A share is the error ratio a customer-facing service's SLI shows now.
MAJOR_SHARE = 0.15  # a major share of a tier-1 customer-facing path's users cannot use it: SEV1
MINOR_SHARE = 0.01  # a tier-1 customer-facing path degraded for real (ten times a 99.9% SLO's budget): SEV2
MOST_FAILING = 0.5  # most requests of a tier-1 service fail, customer facing or not: an outage, SEV1

ORDER: tuple[Severity, ...] = ("SEV1", "SEV2", "SEV3", "SEV4")


class PathShare(BaseModel):
    """The error ratio one customer-facing service measures now: a share of its users' requests failing."""

    service: str
    tier: int
    failing: float


class MeasuredImpact(BaseModel):
    """What the SLIs show when triage runs: the alerted service's own error ratio and the customer-facing
    services where customers meet the impact (the edge)."""

    failing: float = Field(description="The alerted service's error ratio now.")
    edge: list[PathShare] = Field(
        default_factory=list,
        description="Its customer-facing callers within REACH_HOPS whose error rate could be read, or else "
        "the service itself when it is customer facing: customers see the impact there.",
    )
    about_errors: bool = Field(
        default=True,
        description="The alert is about failing requests, so the error share is its impact; an alert about "
        "latency or stopped work has an impact the error share does not measure.",
    )


def label_severity(alert_severity: str, service: Service, *, reaches: str | None = None) -> tuple[Severity, list[str]]:
    """The alerting rule author's prior: points from the alert's label, customer exposure and the tier.

    The alert's own severity (critical 3, error 2, warning 1, info 0); +1 when customers are exposed: the
    service is customer facing, or a customer-facing caller within `REACH_HOPS` (``reaches``); +1 for tier 1
    (+0.5 for tier 2). SEV1 at 5 or more, SEV2 at 3.5, SEV3 at 2, else SEV4 (but at least SEV3 for tiers 1
    and 2).
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
    severity: Severity = "SEV1" if points >= 5 else "SEV2" if points >= 3.5 else "SEV3" if points >= 2 else "SEV4"
    reasons.append(f"{points:g} points -> {severity}")
    if severity == "SEV4" and service.tier <= 2:
        severity = "SEV3"  # SEV4 is for the low tiers: a tier-1 or tier-2 service's incident is at least SEV3
        reasons.append(f"tier {service.tier}: at least SEV3")
    return severity, reasons


def _share_at(path: PathShare, service: Service) -> str:
    where = "this customer-facing service" if path.service == service.name else f"customer-facing {path.service}"
    return f"{path.failing:.1%} of requests failing now at {where} (tier {path.tier})"


def impact_band(service: Service, impact: MeasuredImpact) -> tuple[Severity, Severity, str]:
    """The severities the measured impact allows (most severe, least severe) and why, in words.

    - SEV1 when a tier-1 customer-facing path fails `MAJOR_SHARE` (15%) of its requests or more (a major
      share of its users cannot use it), or more than `MOST_FAILING` (half) of a tier-1 service's
      requests fail (an outage of a tier-1 path, customer facing or not);
    - SEV2 when a tier-1 customer-facing path fails `MINOR_SHARE` (1%) or more: a partial degradation;
    - SEV2 or SEV3 (the label chooses) when a lower-tier customer-facing path fails a major share;
    - otherwise no customer-facing path measures a real failure: at most SEV2 (the label chooses below).

    For an alert about latency or stopped work the error share only raises the grade: slowness and a
    stalled queue are impact it does not measure, so the label's grade is not capped.
    """
    tier1 = [p for p in impact.edge if p.tier == 1]
    worst = max(tier1, key=lambda p: p.failing, default=None)
    major = [p for p in impact.edge if p.failing >= MAJOR_SHARE]
    most: Severity
    least: Severity
    if worst is not None and worst.failing >= MAJOR_SHARE:
        most, least = "SEV1", "SEV1"
        why = f"{_share_at(worst, service)}, a major share of its users (>= {MAJOR_SHARE:.0%})"
    elif service.tier == 1 and impact.failing > MOST_FAILING:
        most, least = "SEV1", "SEV1"
        why = f"{impact.failing:.0%} of this tier-1 service's requests failing now, most of them"
    elif worst is not None and worst.failing >= MINOR_SHARE:
        most, least = "SEV2", "SEV2"
        why = f"{_share_at(worst, service)}, a partial degradation ({MINOR_SHARE:.0%} to {MAJOR_SHARE:.0%})"
    elif major:
        most, least = "SEV2", "SEV3"
        why = f"{_share_at(major[0], service)}, a major share of a lower-tier customer-facing path"
    else:
        most, least = "SEV2", "SEV4"
        edge = ", ".join(f"{p.service} {p.failing:.1%}" for p in impact.edge) or "none measured"
        why = (
            f"{impact.failing:.1%} of requests failing now; customer-facing paths: {edge}; "
            f"no tier-1 customer-facing path failing {MINOR_SHARE:.0%}"
        )
    if not impact.about_errors:
        most = "SEV1"
    return most, least, why


def assess_severity(
    alert_severity: str,
    service: Service,
    *,
    impact: MeasuredImpact | None = None,
    reaches: str | None = None,
) -> tuple[Severity, list[str]]:
    """Severity from the measured impact when there is one, from the alert's label otherwise; every reason
    names what it used (the timeline's triage entry and the record list them).

    The label and the service give the prior (`label_severity`); the impact the SLIs measure now
    (``impact``) bounds it (`impact_band`): the prior moves to the nearest severity the impact allows.
    Without a measurement (no error-rate SLI, metrics unreachable, samples stale) the prior stands and
    the reasons say so.
    """
    prior, reasons = label_severity(alert_severity, service, reaches=reaches)
    if impact is None:
        reasons.append(f"impact not measured (no readable error-rate SLI): the label's {prior} stands")
        return prior, reasons
    most, least, why = impact_band(service, impact)
    severity = ORDER[min(max(ORDER.index(prior), ORDER.index(most)), ORDER.index(least))]
    allowed = most if most == least else f"{most} to {least}"
    if not impact.about_errors:
        floor = f"at least {least}" if least != "SEV4" else "no floor"
        allowed = f"{floor} (the alert is not about errors: the error share raises its grade, never lowers it)"
    reasons.append(f"measured: {why} -> {allowed}")
    reasons.append(
        f"{severity} (the label's {prior}, within what the impact allows)"
        if severity == prior
        else f"{severity} (the label's {prior}, moved to what the measured impact allows)"
    )
    return severity, reasons


def customer_facing_callers(catalog: ServiceCatalog, service: str, limit: int = EDGE_LIMIT) -> list[Service]:
    """The customer-facing services among ``service``'s callers within `REACH_HOPS`, nearest first (at most
    ``limit``): where customers meet a failure of ``service``."""
    seen, frontier, found = {service}, [service], []
    for _ in range(REACH_HOPS):
        callers = sorted({c for name in frontier for c in catalog.dependents_of(name)} - seen)
        found += [entry for c in callers if (entry := catalog.get(c)) is not None and entry.customer_facing]
        seen.update(callers)
        frontier = callers
    return found[:limit]


def customer_facing_caller(catalog: ServiceCatalog, service: str) -> str | None:
    """The nearest customer-facing service among ``service``'s callers, within `REACH_HOPS`."""
    nearest = customer_facing_callers(catalog, service, limit=1)
    return nearest[0].name if nearest else None


# An alert about failing requests, and not about latency or work that stopped: its impact is what the
# error-rate SLI shows.
ERROR_ALERT = re.compile(r"error|5xx|fail|exception", re.I)
OTHER_ALERT = re.compile(r"latenc|slow|p9\d|duration|stall|stopped|backlog|lag\b|throughput|delay", re.I)
CONFIRM_MINUTES = 60
STALE_AFTER = timedelta(minutes=5)
CONFIRM_RISE = 0.01


async def _error_series(service: Service, ctx: AgentContext) -> tuple[list[datetime], list[float], str] | None:
    """The last `CONFIRM_MINUTES` of ``service``'s error-rate SLI (times, values and the tool's summary),
    or None when there is no SLI or no Prometheus to read it from."""
    prom = ctx.registry.first("prometheus")
    query = service.sli.error_rate
    if prom is None or not query:
        return None
    now = ctx.clock()
    result = await ctx.registry.invoke(
        prom.tool_id("query_range"),
        RangeQuery(query=query, start=now - timedelta(minutes=CONFIRM_MINUTES), end=now, step=60),
        budget=None,
    )
    times, values = first_series(result)
    return times, values, result.summary


async def error_ratio_now(service: Service, ctx: AgentContext) -> float | None:
    """``service``'s error ratio now, or None when it cannot be read or its samples stopped arriving."""
    read = await _error_series(service, ctx)
    if read is None or not read[0] or ctx.clock() - read[0][-1] > STALE_AFTER:
        return None
    return read[1][-1]


async def confirm_signal(service: Service, ctx: AgentContext) -> tuple[bool, str, float | None]:
    """Is the alert visible in the service's error-rate SLI right now? Decides going public early.

    Compares the latest value with the median of the first half of the last hour. When the SLI
    cannot be read, the alert is trusted (unconfirmed is not the same as refuted).
    """
    read = await _error_series(service, ctx)
    if read is None:
        return True, "no error-rate SLI to confirm the alert against; trusting the alert", None
    times, values, summary = read
    if times and ctx.clock() - times[-1] > STALE_AFTER:
        # Samples that stopped arriving say nothing about now: missing telemetry is unknown, not healthy.
        return (
            True,
            f"{service.name}'s error rate has no samples since {times[-1]:%H:%M} UTC (stale); trusting the alert",
            None,
        )
    if len(values) < 4:
        return (
            True,
            f"could not read {service.name}'s error rate to confirm the alert ({summary}); trusting the alert",
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


async def measure_impact(
    service: Service, failing: float | None, ctx: AgentContext, *, about_errors: bool
) -> MeasuredImpact | None:
    """The impact the SLIs show now, or None when the service's own error ratio could not be read.

    Customers meet a failure at the customer-facing services closest to them, so the edge is the
    customer-facing callers within `REACH_HOPS` whose error rate reads (their SLI is what their users
    see); a customer-facing service nobody customer-facing calls is its own edge.
    """
    if failing is None:
        return None
    callers = customer_facing_callers(ctx.catalog, service.name)
    ratios = await asyncio.gather(*(error_ratio_now(caller, ctx) for caller in callers))
    edge = [
        PathShare(service=caller.name, tier=caller.tier, failing=ratio)
        for caller, ratio in zip(callers, ratios, strict=True)
        if ratio is not None
    ]
    if not edge and service.customer_facing:
        edge = [PathShare(service=service.name, tier=service.tier, failing=failing)]
    return MeasuredImpact(failing=failing, edge=edge, about_errors=about_errors)


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
        impact=await measure_impact(service, failing, ctx, about_errors=about_errors),
        reaches=customer_facing_caller(ctx.catalog, service.name),
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
