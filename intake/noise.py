"""Suggested noise rules from the intake history, each checked by replaying the history with it applied.

The history is the deliveries as received (source, time, payload: the ``intake replay`` JSONL that
``intake bench --write-storm`` writes). It is played through the real pipeline (the configured dedup,
flap, suppression and grouping) once as it is. An alert rule on a service (``alertname`` x
``service``) becomes a **suppression suggestion** when:

- it fired often: at least ``min_firings`` firing episodes in all, and at least ``min_per_instance``
  episodes per alert instance (an instance that fires, resolves and fires again: flapping or an
  expected batch, not a real incident's alerts, which fire once and are re-sent);
- it never led to an action or to an incident a human kept: no incident record with an executed
  remediation, or handed over (escalated), or waiting for approval, came from it (``actionable``).

Each suggestion is a ``config.yaml`` snippet with its evidence (firings, instances, the period) and a
replay with the rule added: alerts and incidents before and after, alerts suppressed, and the
incidents holding an actionable alert before and after (a suggestion that would lose one is dropped).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from intake.events import AlertPayloadError
from intake.pipeline import IntakePipeline, UnknownSource
from intake.settings import IntakeSettings, SuppressionRule
from intake.topology import Topology

AlertKey = tuple[str, str]  # (alertname, service)


@dataclass(frozen=True)
class Delivery:
    source: str
    received_at: float
    payload: Any


class ReplayCounts(BaseModel):
    alerts: int
    incidents: int
    suppressed: int
    actionable_incidents: int = Field(description="Incidents holding at least one alert of an actionable rule.")
    rejected: int = 0


class RuleEvidence(BaseModel):
    firings: int = Field(description="Firing episodes (an instance going from not firing to firing).")
    instances: int
    deliveries: int
    first_seen: datetime
    last_seen: datetime
    days: float
    incidents: int = Field(description="Correlated incidents its alerts opened or joined, before the rule.")


class NoiseSuggestion(BaseModel):
    kind: str = "suppress"
    alertname: str
    service: str
    rule: SuppressionRule
    snippet: str = Field(description="Ready to paste under config.yaml's intake: section.")
    evidence: RuleEvidence
    before: ReplayCounts
    after: ReplayCounts


@dataclass
class _Played:
    counts: ReplayCounts
    firings: Counter[AlertKey]
    instances: dict[AlertKey, set[str]]
    deliveries: Counter[AlertKey]
    first: dict[AlertKey, float]
    last: dict[AlertKey, float]
    incidents: dict[AlertKey, set[str]]


def play(
    deliveries: Iterable[Delivery], settings: IntakeSettings, topology: Topology | None, actionable: set[AlertKey]
) -> _Played:
    """Play the history through a fresh pipeline and count per alert rule and service."""
    pipeline = IntakePipeline(settings, topology)
    engine = pipeline.engine
    firing: dict[str, bool] = {}
    firings: Counter[AlertKey] = Counter()
    counted: Counter[AlertKey] = Counter()
    instances: dict[AlertKey, set[str]] = defaultdict(set)
    first: dict[AlertKey, float] = {}
    last: dict[AlertKey, float] = {}
    holders: dict[AlertKey, list[Any]] = defaultdict(list)
    rejected = 0
    for delivery in deliveries:
        try:
            fed = pipeline.feed(delivery.source, delivery.payload, delivery.received_at)
        except (AlertPayloadError, UnknownSource):
            rejected += 1
            continue
        engine.drain()
        for event, outcome in zip(fed.normalized.events, fed.outcomes, strict=True):
            key = (event.name, event.service)
            counted[key] += 1
            instances[key].add(event.key)
            first.setdefault(key, event.received_at)
            last[key] = event.received_at
            now_firing = event.status == "firing"
            if now_firing and not firing.get(event.key, False):
                firings[key] += 1
            firing[event.key] = now_firing
            if outcome.incident is not None:
                holders[key].append(outcome.incident)
    engine.flush()
    engine.drain()
    incidents = {key: {i.root().id for i in found} for key, found in holders.items()}
    actionable_ids = {i for key in actionable for i in incidents.get(key, set())}
    counts = ReplayCounts(
        alerts=engine.stats.alerts_in,
        incidents=engine.stats.incidents,
        suppressed=sum(engine.stats.suppressed.values()),
        actionable_incidents=len(actionable_ids),
        rejected=rejected,
    )
    return _Played(counts, firings, instances, counted, first, last, incidents)


def _rule_name(alertname: str, service: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", f"{alertname}-{service}".lower()).strip("-")
    return f"suggested-{slug}"[:80]


def _snippet(rule: SuppressionRule) -> str:
    import yaml

    body = rule.model_dump(mode="json", exclude_defaults=True)
    body.setdefault("reason", rule.reason)
    return yaml.safe_dump({"intake": {"suppress": [body]}}, sort_keys=False, default_flow_style=False)


def suggest_noise_rules(
    deliveries: list[Delivery],
    settings: IntakeSettings,
    topology: Topology | None = None,
    *,
    actionable: set[AlertKey] | None = None,
    min_firings: int = 10,
    min_per_instance: float = 3.0,
) -> tuple[ReplayCounts, list[NoiseSuggestion]]:
    """The history as it is, and the suggested suppression rules with their evidence and replay."""
    actionable = actionable or set()
    base = play(deliveries, settings, topology, actionable)
    suggestions = []
    for key, firings in base.firings.most_common():
        alertname, service = key
        instances = len(base.instances[key])
        if key in actionable or firings < min_firings or firings / max(instances, 1) < min_per_instance:
            continue
        first, last = base.first[key], base.last[key]
        days = round((last - first) / 86400, 2)
        match = {"alertname": alertname, **({"service": service} if service else {})}
        rule = SuppressionRule(
            name=_rule_name(alertname, service),
            reason=(
                f"suggested by firstline: fired {firings} times over {instances} instances in {days:g} days "
                "and never led to an action or a kept incident"
            ),
            match=match,
        )
        trial = settings.model_copy(update={"suppress": [*settings.suppress, rule]})
        after = play(deliveries, trial, topology, actionable).counts
        if after.actionable_incidents < base.counts.actionable_incidents:
            continue  # it would hide an incident that led to an action: not noise
        suggestions.append(
            NoiseSuggestion(
                alertname=alertname,
                service=service,
                rule=rule,
                snippet=_snippet(rule),
                evidence=RuleEvidence(
                    firings=firings,
                    instances=instances,
                    deliveries=base.deliveries[key],
                    first_seen=datetime.fromtimestamp(first, UTC),
                    last_seen=datetime.fromtimestamp(last, UTC),
                    days=days,
                    incidents=len(base.incidents.get(key, set())),
                ),
                before=base.counts,
                after=after,
            )
        )
    return base.counts, suggestions
