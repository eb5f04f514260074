"""What a replay or a benchmark reports: compression, throughput, nothing lost, grouping quality.

``lost`` counts alerts that are neither attached to an incident nor suppressed/ignored with a
recorded reason; it must be 0. With ground truth (an expected incident key per alert):

- ``purity``: the share of alerts that sit in an incident whose majority truth is their own
  (1.0: no incident mixes problems);
- ``completeness``: the share of alerts that sit in the incident holding most of their truth's
  alerts (1.0: no problem is split over several incidents).

Both are weighted by alerts and computed over alerts that have a truth and an incident, after all
merges. Suppressed and ignored alerts are counted per reason instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from intake.correlation import CorrelationEngine, Incident, Outcome


@dataclass
class Tally:
    """Accumulates outcomes (and truths) alert by alert; `results` turns them into the report."""

    payloads: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    rejected_count: int = 0
    lost: int = 0
    attached: int = 0
    _pairs: Counter[tuple[Incident, str]] = field(default_factory=Counter)
    truths_seen: bool = False

    def add(self, outcomes: list[Outcome], truth: str | None) -> None:
        self.payloads += 1
        for outcome in outcomes:
            incident = outcome.incident
            if incident is None:
                if outcome.reason is None:
                    self.lost += 1
                continue
            self.attached += 1
            if truth is not None:
                self._pairs[(incident, truth)] += 1
        if truth is not None:
            self.truths_seen = True

    def reject(self, where: str, error: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < 50:
            self.rejected.append({"where": where, "error": error})

    def grouping(self) -> tuple[float, float] | None:
        """(purity, completeness), or None without ground truth."""
        if not self._pairs:
            return None
        by_pair: Counter[tuple[str, str]] = Counter()
        for (incident, truth), count in self._pairs.items():
            by_pair[(incident.root().id, truth)] += count
        total = sum(by_pair.values())
        best_truth: dict[str, int] = {}
        best_incident: dict[str, int] = {}
        for (incident_id, truth), count in by_pair.items():
            best_truth[incident_id] = max(best_truth.get(incident_id, 0), count)
            best_incident[truth] = max(best_incident.get(truth, 0), count)
        return sum(best_truth.values()) / total, sum(best_incident.values()) / total

    def results(self, engine: CorrelationEngine, seconds: float) -> dict[str, Any]:
        stats = engine.stats
        alerts_in = stats.alerts_in
        incidents_out = stats.incidents
        results: dict[str, Any] = {
            "alerts_in": alerts_in,
            "incidents_out": incidents_out,
            "compression": round(1 - incidents_out / alerts_in, 4) if alerts_in else 0.0,
            "alerts_per_second": round(alerts_in / seconds) if seconds > 0 else None,
            "lost": self.lost,
            "seconds": round(seconds, 3),
            "payloads": self.payloads,
            "rejected_payloads": self.rejected_count,
            "attached": self.attached,
            "suppressed": sum(stats.suppressed.values()),
            "suppressed_by_reason": dict(stats.suppressed.most_common()),
            "ignored_by_reason": dict(stats.ignored.most_common()),
            "outcomes": dict(stats.outcomes.most_common()),
            "investigations": stats.investigations,
            "merges": stats.merges,
            "reopened": stats.reopened,
            "resolved_incidents": stats.resolved,
            "resolved_before_investigation": stats.resolved_before_investigation,
            "open_incidents": len(engine.open),
            "flapping_alerts": stats.flapping_alerts,
            "truncated_alerts": stats.truncated_alerts,
        }
        scores = self.grouping()
        if scores is not None:
            results["purity"], results["completeness"] = round(scores[0], 4), round(scores[1], 4)
        if self.rejected:
            results["rejected"] = self.rejected
        return results
