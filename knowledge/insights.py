"""Recurring patterns in the incident history: what keeps happening, what fixes it, how long it takes.

Input: incident records as plain mappings (the JSON contract of the agents, read like `knowledge.records`
reads them), so this stays a leaf. Output: a typed :class:`Insights` report::

    report = build_insights(records, now=now, since=timedelta(days=90))
    report.patterns[0].statement   # '4 of the last 6 checkout incidents were migration; 3 fixed by ...'

A **pattern** is a (service, root-cause category) that recurs more than chance would have it. The guard
is a one-sided exact binomial test: with ``n`` incidents on the service and ``k`` of them in the
category, and ``p0`` the category's share among the *other* services' incidents (smoothed by one pseudo-incident spread
evenly over the root-cause vocabulary, so a history of one service still has a baseline), the p-value is
``P(X >= k | n, p0)``. A pattern needs ``k >= min_count`` (3 by default: two incidents are never a
pattern) and ``p < alpha`` (0.05). Every pattern shows ``k``, ``n``, ``p0`` and ``p``, and cites its
incidents.

Also: MTTA (alert start to firstline's first step on the timeline) and MTTR (alert start to the
verified mitigation) per month, the share resolved by agents alone (the fix ran on a policy decision)
vs with a human (a person approved the fix, or the incident was handed over), approval wait times
(proposal to decision), and open follow-ups whose title recurs across incidents.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from knowledge.records import IncidentRecordError, PastIncident, past_incident_from_record

# Categories that blame a change that shipped: the "kind of preceding change".
CHANGE_KINDS = {
    "migration": "schema migration",
    "bad_deploy": "deploy",
    "config_change": "config change",
    "feature_flag": "feature flag change",
}
# One preventive follow-up per root-cause category: general practice, never about one service.
PREVENTIVE = {
    "migration": "backward-compatible migrations: expand, migrate readers, then contract; run them behind a canary",
    "bad_deploy": "progressive delivery: canary with automatic analysis and rollback on the SLI",
    "config_change": "validate configuration in CI and roll it out progressively, like code",
    "feature_flag": "flag changes through a staged rollout with a kill switch and an owner",
    "oom": "set memory requests and limits from observed peaks; alert on working set near the limit",
    "memory_leak": "a soak test in CI and an alert on memory growth over hours, before the limit",
    "crash": "crash-loop alerting with the last logs attached; a regression test for the crash",
    "resource_exhaustion": "capacity alerts on the exhausted resource with headroom, and a load test",
    "saturation": "autoscaling on the saturated resource and a capacity review",
    "disk_full": "disk usage forecast alerts and log/data retention limits",
    "connection_pool": "size pools from the dependency's limits; timeouts and a bulkhead per caller",
    "certificate": "automated certificate renewal and an expiry alert 21 days ahead",
    "dns": "DNS change review and resolver redundancy; cache TTLs that survive a short outage",
    "noisy_neighbour": "resource isolation (requests, limits, dedicated pools) for the affected workload",
    "traffic_surge": "load shedding and rate limits at the edge; a tested scale-up runbook",
    "queue_backlog": "consumer autoscaling on queue age and a dead-letter policy",
    "stampede": "request coalescing and jittered cache expiry",
    "retry_storm": "retries with exponential backoff, jitter and a retry budget; circuit breakers",
    "replication_lag": "replication lag alerts and reads that tolerate or route around lag",
    "clock": "time sync monitoring and tests across time zones and DST changes",
    "network": "multi-path redundancy and timeouts tuned to the path; synthetic probes",
    "service_discovery": "readiness checks that gate registration; alerts on endpoint count drops",
    "quota": "quota usage alerts at 80% and a documented increase process",
    "monitoring": "alert on the telemetry pipeline itself (absent series, scrape failures)",
    "dependency": "timeouts, fallbacks and an SLO agreed with the dependency's owner",
    "third_party": "a fallback provider or graceful degradation; subscribe to the provider's status",
    "cascading": "bulkheads and load shedding so one failure cannot take its callers down",
    "failover": "regular failover drills and an alert on failover readiness",
}
_DEFAULT_PREVENTIVE = "a post-incident review of the recurring cause, with an owner and a date"


class Stat(BaseModel):
    """The recurrence guard's counts: k of n, the baseline share, the one-sided binomial p-value."""

    test: str = "one-sided exact binomial"
    k: int
    n: int
    baseline: float = Field(description="p0: the category's smoothed share among other services' incidents.")
    p_value: float


class Pattern(BaseModel):
    service: str
    category: str
    preceding_change: str | None = Field(description="The kind of change that preceded them, if a change.")
    incidents: list[str] = Field(description="The incidents the pattern rests on, newest first.")
    fixes: dict[str, int] = Field(default_factory=dict, description="Fixing action title -> how many times.")
    mean_time_to_mitigate_minutes: float | None = None
    stat: Stat
    preventive: str
    statement: str


class Candidate(BaseModel):
    """A repeat that did not pass the guard: shown with its counts, not called a pattern."""

    service: str
    category: str
    k: int
    n: int
    p_value: float
    incidents: list[str]


class MonthTrend(BaseModel):
    month: str
    incidents: int
    mtta_minutes: float | None = None
    mttr_minutes: float | None = None


class RecurringFollowUp(BaseModel):
    title: str
    incidents: list[str]


class Insights(BaseModel):
    since: datetime
    until: datetime
    service: str | None = None
    incidents: int
    by_service: dict[str, int]
    by_category: dict[str, int]
    by_preceding_change: dict[str, int]
    patterns: list[Pattern]
    candidates: list[Candidate]
    trends: list[MonthTrend]
    mtta_minutes: float | None
    mttr_minutes: float | None
    resolved_by_agents: int
    resolved_with_humans: int
    handed_to_humans: int
    approval_waits_minutes: list[float]
    approval_wait_median_minutes: float | None
    recurring_follow_ups: list[RecurringFollowUp]
    skipped: list[str] = Field(default_factory=list, description="Records that could not be read, with why.")


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exactly."""
    if k <= 0:
        return 1.0
    return min(1.0, sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1)))


def _moment(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


def _minutes(a: datetime, b: datetime) -> float:
    return round((b - a).total_seconds() / 60, 1)


def _mean(values: Iterable[float]) -> float | None:
    items = list(values)
    return round(statistics.fmean(items), 1) if items else None


def _mtta(record: Mapping[str, Any], incident: PastIncident) -> float | None:
    moments = [m for e in record.get("timeline") or [] if isinstance(e, Mapping) and (m := _moment(e.get("at")))]
    first = min(moments, default=None)
    return _minutes(incident.started_at, first) if first is not None and first >= incident.started_at else None


def _approval_waits(record: Mapping[str, Any]) -> list[float]:
    proposed = [
        m
        for e in record.get("timeline") or []
        if isinstance(e, Mapping) and e.get("kind") == "proposed" and (m := _moment(e.get("at")))
    ]
    waits = []
    for action in record.get("actions") or []:
        approval = action.get("approval") if isinstance(action, Mapping) else None
        if not isinstance(approval, Mapping) or str(approval.get("by", "")).startswith("policy:"):
            continue
        decided = _moment(approval.get("at"))
        before = [p for p in proposed if decided is not None and p <= decided]
        if decided is not None and before:
            waits.append(_minutes(max(before), decided))
    return waits


def _human(approved_by: str | None) -> bool:
    return bool(approved_by) and not str(approved_by).startswith("policy:")


def _title_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", title.lower()).strip()


def build_insights(
    records: Iterable[Mapping[str, Any]],
    *,
    now: datetime,
    since: timedelta = timedelta(days=90),
    service: str | None = None,
    min_count: int = 3,
    alpha: float = 0.05,
) -> Insights:
    """The insights report over the records that started within ``since`` before ``now``."""
    start = now - since
    rows: list[tuple[Mapping[str, Any], PastIncident]] = []
    skipped = []
    for record in records:
        try:
            incident = past_incident_from_record(record)
        except IncidentRecordError as exc:
            skipped.append(str(exc))
            continue
        if start <= incident.started_at <= now:
            rows.append((record, incident))
    rows.sort(key=lambda r: r[1].started_at, reverse=True)
    everyone = rows
    if service:
        rows = [r for r in rows if r[1].service == service]

    category_of = {i.incident_id: (i.category or "unknown") for _, i in everyone}
    categories = sorted(set(category_of.values()))
    per_service: dict[str, list[PastIncident]] = defaultdict(list)
    for _, incident in everyone:
        per_service[incident.service].append(incident)

    patterns, candidates = [], []
    services = [service] if service else sorted(per_service)
    for name in services:
        mine = per_service.get(name, [])
        others = [i for s, items in per_service.items() if s != name for i in items]
        counts = Counter(category_of[i.incident_id] for i in mine)
        for category, k in counts.most_common():
            if category in ("unknown", "no_incident", "recovered") or k < 2:
                continue
            n = len(mine)
            # One pseudo-incident spread evenly over the vocabulary: no other data means 1/V, and the
            # other services' history dominates as soon as there is some.
            vocabulary = len(set(PREVENTIVE) | set(categories))
            seen_elsewhere = sum(category_of[i.incident_id] == category for i in others)
            share = (seen_elsewhere + 1 / vocabulary) / (len(others) + 1)
            p_value = binomial_tail(k, n, share)
            cited = [i for i in mine if category_of[i.incident_id] == category]
            ids = [i.incident_id for i in cited]
            if k < min_count or p_value >= alpha:
                candidates.append(
                    Candidate(service=name, category=category, k=k, n=n, p_value=float(f"{p_value:.3g}"), incidents=ids)
                )
                continue
            fixes = Counter(i.fix.title for i in cited if i.fix is not None and i.resolved)
            ttm = _mean(i.time_to_mitigate_minutes for i in cited if i.time_to_mitigate_minutes is not None)
            change = CHANGE_KINDS.get(category)
            fixed = "; ".join(f"{c} fixed by {title}" for title, c in fixes.most_common(2)) or "none fixed by an action"
            statement = (
                f"{k} of the last {n} {name} incidents "
                + (f"followed a {change}" if change else f"were {category.replace('_', ' ')}")
                + f"; {fixed}"
                + (f"; mean time to mitigate {ttm:g} min" if ttm is not None else "")
            )
            patterns.append(
                Pattern(
                    service=name,
                    category=category,
                    preceding_change=change,
                    incidents=ids,
                    fixes=dict(fixes),
                    mean_time_to_mitigate_minutes=ttm,
                    stat=Stat(k=k, n=n, baseline=round(share, 4), p_value=float(f"{p_value:.3g}")),
                    preventive=PREVENTIVE.get(category, _DEFAULT_PREVENTIVE),
                    statement=statement,
                )
            )
    patterns.sort(key=lambda p: (p.stat.p_value, -p.stat.k))

    months: dict[str, list[tuple[Mapping[str, Any], PastIncident]]] = defaultdict(list)
    for record, incident in rows:
        months[f"{incident.started_at:%Y-%m}"].append((record, incident))
    trends = [
        MonthTrend(
            month=month,
            incidents=len(items),
            mtta_minutes=_mean(m for r, i in items if (m := _mtta(r, i)) is not None),
            mttr_minutes=_mean(i.time_to_mitigate_minutes for _, i in items if i.time_to_mitigate_minutes is not None),
        )
        for month, items in sorted(months.items())
    ]
    # A fix with no human approval ran on a policy decision (the ledger allows nothing else): agents alone.
    by_agents = sum(1 for _, i in rows if i.resolved and i.fix and not _human(i.fix.approved_by))
    with_humans = sum(1 for _, i in rows if i.resolved and i.fix and _human(i.fix.approved_by))
    handed = sum(1 for _, i in rows if i.status == "escalated")
    waits = [w for r, _ in rows for w in _approval_waits(r)]
    follow_ups: dict[str, tuple[str, list[str]]] = {}
    for _, incident in rows:
        for item in incident.open_follow_ups:
            key = _title_key(item.title)
            title, ids = follow_ups.setdefault(key, (item.title, []))
            ids.append(incident.incident_id)
    return Insights(
        since=start,
        until=now,
        service=service,
        incidents=len(rows),
        by_service=dict(Counter(i.service for _, i in rows).most_common()),
        by_category=dict(Counter(i.category or "unknown" for _, i in rows).most_common()),
        by_preceding_change=dict(
            Counter(CHANGE_KINDS.get(i.category or "", "no change named") for _, i in rows).most_common()
        ),
        patterns=patterns,
        candidates=candidates,
        trends=trends,
        mtta_minutes=_mean(m for r, i in rows if (m := _mtta(r, i)) is not None),
        mttr_minutes=_mean(i.time_to_mitigate_minutes for _, i in rows if i.time_to_mitigate_minutes is not None),
        resolved_by_agents=by_agents,
        resolved_with_humans=with_humans,
        handed_to_humans=handed,
        approval_waits_minutes=waits,
        approval_wait_median_minutes=round(statistics.median(waits), 1) if waits else None,
        recurring_follow_ups=[
            RecurringFollowUp(title=title, incidents=ids) for title, ids in follow_ups.values() if len(ids) >= 2
        ],
        skipped=skipped,
    )
