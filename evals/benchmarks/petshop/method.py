"""The method under test: the agents' analytics (`agents.analytics`) applied to one PetShop window.

The window is not handed to the analytics as a table: `analyze` serves it through the replay and
reads it back through the Prometheus adapter (`replayed`), so the method sees what an incident would
see at the replay's clock, and nothing recorded after it.

The clock (`MethodSettings.clock_after_alert`) is 15 minutes after the alert by default: the
investigation a quarter hour into the incident. PetShop's metrics are CloudWatch 5-minute periods and
the alert falls inside the second of an issue's five; the method reads up to three periods after the
alert's to find the onset, which begin at most 15 minutes after it. With the clock at the alert
(``--clock-after-alert 0``) only the period before and the alert's own are served (README, "PetShop
through the replay", gives both figures).

Two methods (`MethodSettings.method`, ``--method``): ``analytics`` calls `analyze_incident` on the
served table (the ranking function the agents use, called by the bench); ``investigation`` runs the
agents' investigation node on the window (`investigated.work_window`: catalog, replay, alert, one
round with the deterministic reasoner), the incident's own code path. `rank` runs either and
returns what the benchmark scores (`Ranked`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np

from agents.analytics.anomaly import IncidentAnalysis, RankingConfig, analyze_incident
from agents.analytics.metrics import NoiseModel
from agents.reasoners.origin import RANKING
from evals.benchmarks.petshop.dataset import TOP_K, MetricTable, Target
from evals.benchmarks.petshop.investigated import work_window
from evals.benchmarks.petshop.replayed import read_through_replay

Method = Literal["analytics", "investigation"]
METHODS: tuple[Method, ...] = ("analytics", "investigation")


@dataclass(frozen=True)
class MethodSettings:
    """How the benchmark calls `analyze_incident`. The ranking configuration is the one the agents
    rank the blast radius with (`agents.reasoners.origin.RANKING`), so the benchmark measures the
    ranking the investigation runs."""

    ranking: RankingConfig = field(default_factory=lambda: RANKING)
    onset_threshold: float = 4.0
    incident_steps: int = 2
    use_normal_noise: bool = True
    """False scores every scenario the way the temporal ones must be (sampling floors only): an ablation."""
    clock_after_alert: timedelta = timedelta(minutes=15)
    """Where the replay's clock stands: this long after the alert (nothing later is served)."""
    method: Method = "analytics"
    """``analytics``: `analyze_incident` called by the bench; ``investigation``: the agents' investigation node."""


@dataclass(frozen=True)
class Ranked:
    """What the benchmark scores of one window, whichever method ranked it."""

    ranked: list[str]
    """Components, most likely root cause first (ac1, ac3 read the truth's place here)."""
    named: str | None
    """The root cause the method commits to; None when it abstains or finds nothing (specificity)."""
    abstained: bool
    reason: str
    onset: datetime | None
    top: list[dict[str, Any]]
    separating_evidence: list[str] = field(default_factory=list)
    stage: dict[str, Any] = field(default_factory=dict)
    """The investigation's intermediate findings (category, onset, blast radius, tool calls), to tell
    where a miss comes from; empty for the analytics."""


def rank(
    table: MetricTable,
    graph: Mapping[str, Sequence[str]],
    target: Target,
    noise: NoiseModel,
    settings: MethodSettings,
    *,
    label: str = "petshop",
) -> Ranked:
    """Rank root causes for ``target``'s alert on the window ``table`` with ``settings.method``.

    The investigation has no normal-operation noise model (an incident has none either), so
    ``noise`` only reaches the analytics. ``label`` names the incident the investigation opens.
    """
    if settings.method == "investigation":
        worked = work_window(table, graph, target, target.alert_time + settings.clock_after_alert, incident_id=label)
        diagnosis = worked.diagnosis
        return Ranked(
            ranked=worked.ranking,
            named=worked.named,
            abstained=worked.named is None,
            reason=diagnosis.root_cause,
            onset=worked.onset,
            top=[
                {"component": c.entity, "score": round(c.score, 3), "category": c.category, "why": [c.description]}
                for c in diagnosis.candidates[:TOP_K]
            ],
            stage={
                "category": diagnosis.category,
                "inconclusive": diagnosis.inconclusive,
                "confidence": diagnosis.confidence,
                "onset": worked.onset.isoformat() if worked.onset else None,
                "blast_radius": worked.blast_radius,
                "tool_calls": worked.tool_calls,
            },
        )
    analysis = analyze(table, graph, target, noise, settings)
    ranking = analysis.ranking
    return Ranked(
        ranked=[c.component for c in ranking.candidates],
        named=ranking.named,
        abstained=ranking.abstained,
        reason=ranking.reason,
        onset=analysis.onset.time if analysis.onset is not None else None,
        top=[
            {"component": c.component, "score": round(c.score, 3), "anomaly": round(c.anomaly, 3), "why": c.reasons}
            for c in ranking.candidates[:TOP_K]
        ],
        separating_evidence=ranking.separating_evidence,
    )


def analyze(
    table: MetricTable,
    graph: Mapping[str, Sequence[str]],
    target: Target,
    noise: NoiseModel,
    settings: MethodSettings,
) -> IncidentAnalysis:
    """Rank root causes for ``target``'s alert from ``table`` as read through the replay, its clock
    ``settings.clock_after_alert`` after the alert."""
    served = read_through_replay(table, target.alert_time + settings.clock_after_alert)
    return analyze_incident(
        served.series,
        served.times,
        graph,
        target.node,
        target.metric_name,
        target.alert_time,
        noise=noise if settings.use_normal_noise else NoiseModel.empty(),
        onset_threshold=settings.onset_threshold,
        incident_steps=settings.incident_steps,
        config=settings.ranking,
    )


def normal_noise(normal: MetricTable | None, exclude: tuple[int, int] | None = None) -> NoiseModel:
    """The noise model from the normal-operation window, leaving out steps ``exclude`` = (start, stop)."""
    if normal is None:
        return NoiseModel.empty()
    mask = None
    if exclude is not None:
        mask = np.zeros(len(normal), dtype=bool)
        mask[exclude[0] : exclude[1]] = True
    return NoiseModel.from_normal_operation(normal.series, exclude=mask)
