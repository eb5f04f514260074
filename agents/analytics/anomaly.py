"""Metric anomaly ranking: onset of the alerting SLI, anomaly scores per component, root-cause ranking.

The pipeline a reasoner runs (or `analyze_incident` runs for it)::

    detect_onset(target series)        when did the alerting SLI leave its level?
        -> score_components(...)       how far did every component's metrics move at that time,
                                       against their own level just before, in noise units?
        -> rank_root_causes(...)       which anomalous component is not explained by its own
                                       dependencies and sits on an anomalous path to the target?
        -> RankingResult               ranked candidates with the reasons behind each number, or an
                                       abstention that names the leading candidates and what
                                       evidence would separate them.

Design choices that matter for trust (each is visible in the result's ``reasons``):

- **Local reference, normal-operation noise.** A change is measured against the same series' level
  just before the incident (so slow drift and months-old baselines do not look like anomalies) and
  scaled by how much that series moves between steps in normal operation (`NoiseModel`), never less
  than its sampling noise given its traffic.
- **Dependencies explain.** A component whose dependencies added as much extra latency (or as many
  failed requests) as it shows is a victim; its score is discounted, and they are named in
  ``explained_by``.
- **Causes must be big enough.** A candidate whose own excess cannot account for the target's is a
  real but irrelevant blip, and is discounted ("coverage").
- **Paths matter.** A candidate deep in the graph must reach the target through anomalous components;
  an isolated blip three hops away ranks below a direct, well-supported one.
- **Abstain rather than guess.** No onset on the alerting SLI, no candidate above the naming threshold,
  or a runner-up too close to the leader: the result says so and lists what would separate them.

No component names are read anywhere: only values, metric kinds and the graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from agents.analytics.graph import DependencyGraph, hop_distances, normalize_graph, widest_paths
from agents.analytics.metrics import (
    BAD_DIRECTION,
    SCALE_FLOOR,
    Direction,
    FloatArray,
    MetricKind,
    MetricsByComponent,
    NoiseModel,
    SeriesNoise,
    as_float_array,
    classify_metric,
    finite_median,
    is_fraction_scale,
    log_offset,
    sampling_scale,
    transform,
)
from tools.values import TimeWindow

_MODEL = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")


class Onset(BaseModel):
    """When a series left its level: the first step whose move reaches the threshold."""

    model_config = _MODEL

    time: datetime
    index: int = Field(description="Position of the onset step in the series.")
    score: float = Field(description="The move at the onset, in noise units (bad direction positive).")
    value: float
    baseline_value: float
    reason: str


class MetricDeviation(BaseModel):
    """How one metric of one component moved in the incident window, against its reference level."""

    model_config = _MODEL

    metric: str
    kind: MetricKind
    direction: Direction = Field(description="Which way counts as bad for this kind.")
    baseline_value: float = Field(description="Median of the reference window (raw units).")
    peak_value: float = Field(description="The raw value at the step that moved most.")
    peak_time: datetime
    effect: float = Field(
        description="The move in transformed units: log ratio for latency and traffic, error "
        "percentage points for availability, raw units otherwise. Positive is the bad direction."
    )
    score: float = Field(description="|effect| / scale in the bad direction; 0 when it moved the good way.")
    scale: float
    scale_source: str = Field(description="normal-operation | baseline-window | sampling | floor")
    peak_traffic: float | None = Field(default=None, description="Requests of the component in the peak step.")
    excess: float | None = Field(
        default=None,
        description="The move in the bad direction times the requests at the peak: extra latency summed over "
        "requests (latency means) or extra failed requests (availability, error rates). Comparable between a "
        "caller and its callee, which is what lets a callee account for its caller's move. None when unknown.",
    )
    change: str = Field(description="One human line, e.g. 'latency.Average 0.0063 -> 0.0377 (x6.0)'.")


class ComponentScore(BaseModel):
    """A component's anomaly at the incident: its strongest kind, with every metric's deviation."""

    model_config = _MODEL

    component: str
    score: float = Field(description="Max over kinds of the kind score (see kind_scores).")
    kind_scores: dict[str, float] = Field(
        description="Per kind, the k-th largest metric score (k = a quarter of the kind's metrics, at "
        "least 1: the 2nd best of 5 latency statistics), so that one noisy "
        "percentile alone does not make a component anomalous."
    )
    top_metric: str | None
    deviations: list[MetricDeviation] = Field(description="Sorted by score, highest first.")
    reason: str

    def kind_score(self, kinds: Sequence[MetricKind] | None) -> float:
        """The score restricted to ``kinds`` (all kinds when None)."""
        if kinds is None:
            return self.score
        return max((self.kind_scores.get(kind, 0.0) for kind in kinds), default=0.0)

    def top_deviation(self, kinds: Sequence[MetricKind] | None) -> MetricDeviation | None:
        """The highest-scoring deviation among ``kinds`` (all kinds when None)."""
        for deviation in self.deviations:
            if kinds is None or deviation.kind in kinds:
                return deviation
        return None

    def deviation(self, metric: str) -> MetricDeviation | None:
        return next((d for d in self.deviations if d.metric == metric), None)

    def excess(self, kind: MetricKind) -> MetricDeviation | None:
        """The deviation of ``kind`` that carries an excess (a latency mean, an availability), if any."""
        return next((d for d in self.deviations if d.kind == kind and d.excess is not None), None)


class RootCauseCandidate(BaseModel):
    """One ranked candidate, with every factor of its score and the reason for each."""

    model_config = _MODEL

    component: str
    score: float = Field(
        description="anomaly x (1 - explanation_weight x explained_share) x path factor x coverage factor."
    )
    anomaly: float = Field(description="The component's own anomaly score (focus kinds).")
    explained_share: float = Field(description="0..1: how much of its move a dependency's move accounts for.")
    explained_by: list[str] = Field(default_factory=list)
    coverage: float | None = Field(
        default=None, description="0..1: share of the target's excess its own excess could account for."
    )
    path: list[str] = Field(description="Target first, this candidate last.")
    path_support: float = Field(description="0..1: how anomalous the weakest intermediate on the path is.")
    distance: int = Field(description="Hops from the target (0 = the target itself).")
    top_metric: str | None = None
    reasons: list[str]


class RankingResult(BaseModel):
    """The ranking, or an explicit abstention with the leading candidates and how to separate them."""

    model_config = _MODEL

    target: str
    candidates: list[RootCauseCandidate]
    abstained: bool
    reason: str
    separating_evidence: list[str] = Field(default_factory=list)
    ignored: list[str] = Field(
        default_factory=list,
        description="Anomalous components outside the target's dependency closure (cannot explain it "
        "through the graph), listed so that nobody promotes them to causes by accident.",
    )

    @property
    def named(self) -> str | None:
        """The root cause it names, or None when it abstains."""
        return None if self.abstained or not self.candidates else self.candidates[0].component


class IncidentAnalysis(BaseModel):
    """Everything `analyze_incident` did, for the evidence trail."""

    model_config = _MODEL

    target: str
    target_metric: str
    alert_time: datetime
    onset: Onset | None
    baseline_window: TimeWindow
    incident_window: TimeWindow
    noise_source: str
    focus_kinds: list[str]
    scores: list[ComponentScore]
    ranking: RankingResult


@dataclass(frozen=True)
class RankingConfig:
    """The knobs of `rank_root_causes`, with the reason for each default.

    - ``anomaly_threshold`` (3.0): a component outside the target's dependency closure moving this
      much is reported in ``ignored``.
    - ``support_threshold`` (2.0): an intermediate component on the path from the target supports
      the propagation fully from this score on (partially below).
    - ``explain_threshold`` (2.0): a callee must move at least this much to explain its caller;
      quiet callees have wide noise, so a modest score with a large excess is still telling.
    - ``name_threshold`` (5.0): the leader must move at least this much (after discounts) to be
      named; tails of normal operation rarely reach 5 tail-calibrated units.
    - ``lead_ratio`` (0.75): if the runner-up scores at least 75 % of the leader, nobody is clearly
      ahead and the ranking abstains.
    - ``explanation_weight`` (0.95): a fully explained component keeps 5 % of its score, so it still
      ranks above healthy ones (the graph may be incomplete) but not above a quiet root cause: noise
      levels differ by 10x between components, so a victim that kept a fifth of a 45-unit move
      would outrank the 8-unit move of the quiet database that caused it (seen in synthetic
      injections; 0.8 and 0.6 measured in docs/analytics.md).
    - ``min_path_factor`` (0.5): a candidate reached only through healthy intermediates keeps half.
    - ``min_coverage_factor`` (0.25): a candidate whose excess covers none of the target's keeps a
      quarter (the excess of a quiet component is itself noisy).
    """

    anomaly_threshold: float = 3.0
    support_threshold: float = 2.0
    explain_threshold: float = 2.0
    name_threshold: float = 5.0
    lead_ratio: float = 0.75
    explanation_weight: float = 0.95
    min_path_factor: float = 0.5
    min_coverage_factor: float = 0.25


DEFAULT_RANKING = RankingConfig()


# --------------------------------------------------------------------------------------------------
# Time helpers


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: pass timezone-aware times (UTC)")
    return moment.timestamp()


def _as_datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def _epochs(times: Sequence[datetime]) -> FloatArray:
    return np.array([_epoch(moment) for moment in times], dtype=np.float64)


def _in_window(epochs: FloatArray, window: TimeWindow) -> np.ndarray:
    return (epochs >= _epoch(window.start)) & (epochs < _epoch(window.end))


# --------------------------------------------------------------------------------------------------
# One series: reference level, scale, deviation


@dataclass(frozen=True)
class _SeriesContext:
    kind: MetricKind
    offset: float
    fraction: bool
    noise: SeriesNoise | None
    """The normal-operation noise, or None when absent, in other units, or stale (see `_context`)."""


# A normal-operation noise model whose level is this many of its own scales away from the level just
# before the incident describes another regime (a redeploy, months of drift): it is not used.
STALE_NOISE_FACTOR = 6.0


def _context(kind: MetricKind, values: FloatArray, noise: SeriesNoise | None, reference: FloatArray) -> _SeriesContext:
    """Transform parameters for one series, and whether its normal-operation noise still applies."""
    fraction = False
    if kind in ("availability", "error_rate"):
        fraction = is_fraction_scale(values) if np.isfinite(values).any() else bool(noise and noise.fraction)
    basis = reference if np.isfinite(reference).any() else values
    if noise is None or noise.fraction != fraction:
        return _SeriesContext(kind, log_offset(basis), fraction, None)
    context = _SeriesContext(kind, noise.offset, fraction, noise)
    finite_reference = reference[np.isfinite(reference)]
    if finite_reference.size and math.isfinite(noise.level):
        levels = transform(
            kind,
            np.array([finite_median(finite_reference), noise.level]),
            offset=noise.offset,
            fraction=fraction,
        )
        if abs(float(levels[0] - levels[1])) > STALE_NOISE_FACTOR * max(noise.scale, SCALE_FLOOR[kind]):
            return _SeriesContext(kind, log_offset(basis), fraction, None)
    return context


def _self_noise(context: _SeriesContext, reference: FloatArray) -> float:
    """Spread estimated from the reference window itself, when it is long enough (>= 8 steps)."""
    transformed = transform(context.kind, reference, offset=context.offset, fraction=context.fraction)
    finite = transformed[np.isfinite(transformed)]
    if finite.size < 8:
        return 0.0
    differences = np.diff(finite)
    centred = np.abs(differences - np.median(differences))
    return max(1.4826 * float(np.median(centred)), float(np.quantile(centred, 0.99)) / 2.576)


def _scale(
    context: _SeriesContext,
    self_noise: float,
    reference_count: float | None,
    incident_count: float | None,
    reference_level: float,
) -> tuple[float, str]:
    """The scale a move is divided by: the largest of the applicable empirical, sampling and floor scales.

    With usable normal-operation noise, its scale is widened by ``sqrt(normal traffic / current
    traffic)`` when the component serves fewer requests now (averages over fewer events are noisier).
    Without it, latency falls back to the sampling prior (coefficient of variation 1). Counts are
    discrete, so the binomial or Poisson floor of availability, errors and traffic always applies.
    """
    options: list[tuple[float, str]] = [(SCALE_FLOOR[context.kind], "floor")]
    n_effective = None
    if incident_count is not None and reference_count is not None:
        # Both sides of the comparison are aggregates: their sampling variances add.
        n_effective = 1.0 / (1.0 / max(incident_count, 1.0) + 1.0 / max(reference_count, 1.0))
    noise = context.noise
    if noise is not None:
        scale = noise.scale
        if n_effective is not None and noise.traffic_level is not None and noise.traffic_level > 0:
            normal_effective = noise.traffic_level / 2.0
            if n_effective < normal_effective:
                scale *= math.sqrt(normal_effective / n_effective)
        options.append((scale, "normal-operation"))
    elif self_noise > 0:
        options.append((self_noise, "baseline-window"))
    if n_effective is not None and (noise is None or context.kind != "latency"):
        error_level = reference_level if context.kind in ("availability", "error_rate") else 0.0
        options.append(
            (
                sampling_scale(context.kind, n_effective, error_level=error_level, fraction=context.fraction),
                "sampling",
            )
        )
    return max(options, key=lambda option: option[0])


def _oriented(kind: MetricKind, effect: float) -> float:
    """The score contribution of an effect: only the bad direction counts, both ways for 'both'."""
    return abs(effect) if BAD_DIRECTION[kind] == "both" else max(effect, 0.0)


def _describe_change(metric: str, kind: MetricKind, before: float, after: float, effect: float) -> str:
    if kind in ("latency", "traffic") and before > 0 and math.isfinite(after):
        return f"{metric} {before:.4g} -> {after:.4g} (x{after / before:.2f})"
    if kind == "availability":
        return f"{metric} {before:.4g} -> {after:.4g} ({-effect:+.2f} points)"
    return f"{metric} {before:.4g} -> {after:.4g} ({after - before:+.4g})"


# --------------------------------------------------------------------------------------------------
# Onset


def detect_onset(
    series: Sequence[float] | FloatArray,
    times: Sequence[datetime],
    *,
    kind: MetricKind | None = None,
    metric: str = "value",
    search_from: datetime | None = None,
    search_until: datetime | None = None,
    threshold: float = 4.0,
    noise: SeriesNoise | None = None,
    counts: Sequence[float] | FloatArray | None = None,
) -> Onset | None:
    """The first step in [``search_from``, ``search_until``) where ``series`` moves ``threshold`` noise units the bad way.

    The reference level is the median of the steps before ``search_from`` (default: the first third
    of the series, at least one step). The scale is ``noise`` (learnt from normal operation) when
    given, else the spread of the reference steps when there are at least 8, and never less than the
    sampling noise implied by ``counts`` (requests per step) or the kind's floor. ``kind`` defaults to
    the kind guessed from ``metric``. Returns None when the series never reaches the threshold, which
    means "no onset in this window", not an error.
    """
    values = as_float_array(series)
    epochs = _epochs(times)
    if values.size != epochs.size:
        raise ValueError(f"series has {values.size} values but times has {epochs.size}")
    if values.size < 2:
        return None
    resolved_kind = kind or classify_metric(metric)
    start = _epoch(search_from) if search_from is not None else float(epochs[max(1, values.size // 3)])
    before = epochs < start
    if not before.any():
        before = np.zeros(values.size, dtype=bool)
        before[0] = True
    reference = values[before]
    context = _context(resolved_kind, values, noise, reference)
    transformed = transform(resolved_kind, values, offset=context.offset, fraction=context.fraction)
    reference_level = float(np.nanmedian(transformed[before])) if np.isfinite(transformed[before]).any() else math.nan
    if not math.isfinite(reference_level):
        return None
    count_values = as_float_array(counts) if counts is not None else None
    reference_count = float(np.nansum(count_values[before])) if count_values is not None else None
    raw_reference = float(np.nanmedian(reference))
    self_noise = _self_noise(context, reference)
    until = _epoch(search_until) if search_until is not None else math.inf
    for index in np.flatnonzero(~before & (epochs < until)):
        value = transformed[index]
        if not math.isfinite(value):
            continue
        incident_count = float(count_values[index]) if count_values is not None else None
        scale, source = _scale(
            context, self_noise, reference_count, incident_count, _error_level(context, raw_reference)
        )
        score = _oriented(resolved_kind, float(value - reference_level)) / scale
        if score >= threshold:
            return Onset(
                time=_as_datetime(float(epochs[index])),
                index=int(index),
                score=score,
                value=float(values[index]),
                baseline_value=raw_reference,
                reason=(
                    f"{_describe_change(metric, resolved_kind, raw_reference, float(values[index]), float(value - reference_level))}"
                    f": {score:.1f} noise units (scale {scale:.3g}, {source}) >= {threshold:g}"
                ),
            )
    return None


def _error_level(context: _SeriesContext, raw_reference: float) -> float:
    if context.kind == "availability":
        return (1.0 - raw_reference) * 100.0 if context.fraction else 100.0 - raw_reference
    if context.kind == "error_rate":
        return raw_reference
    return 0.0


# --------------------------------------------------------------------------------------------------
# Component scores


def score_components(
    metrics: MetricsByComponent,
    times: Sequence[datetime],
    baseline_window: TimeWindow,
    incident_window: TimeWindow,
    *,
    noise: NoiseModel | None = None,
    kinds: Mapping[str, MetricKind] | None = None,
    stat_agreement: float = 0.25,
) -> list[ComponentScore]:
    """Score every component's move in ``incident_window`` against its level in ``baseline_window``.

    ``metrics`` is ``component -> metric name -> values`` aligned on ``times``; ``kinds`` overrides
    the kind guessed from a metric's name. Each metric gets the peak score over the incident steps
    (see `MetricDeviation`); a kind's score is its k-th best metric, k being ``stat_agreement`` of
    the kind's metrics rounded up (with five latency statistics the second best: two
    latency percentiles must agree), and the component's score is its best kind. Components without
    usable data in both windows are left out. Sorted by score, highest first.
    """
    epochs = _epochs(times)
    reference_mask = _in_window(epochs, baseline_window)
    incident_mask = _in_window(epochs, incident_window)
    if not reference_mask.any():
        raise ValueError(
            f"baseline_window {baseline_window.start.isoformat()}..{baseline_window.end.isoformat()} "
            "contains no step of the series"
        )
    if not incident_mask.any():
        raise ValueError(
            f"incident_window {incident_window.start.isoformat()}..{incident_window.end.isoformat()} "
            "contains no step of the series"
        )
    noise_model = noise or NoiseModel.empty()
    results = []
    for component in sorted(metrics):
        by_metric = metrics[component]
        counts = _traffic_counts(by_metric, kinds)
        deviations = []
        for metric in sorted(by_metric):
            kind = (kinds or {}).get(metric) or classify_metric(metric)
            values = as_float_array(by_metric[metric])
            if values.size != epochs.size:
                raise ValueError(
                    f"metrics[{component!r}][{metric!r}] has {values.size} values but times has {epochs.size}"
                )
            deviation = _deviation(
                metric,
                kind,
                values,
                epochs,
                reference_mask,
                incident_mask,
                noise_model.get(component, metric),
                counts,
            )
            if deviation is not None:
                deviations.append(deviation)
        if deviations:
            results.append(_component_score(component, deviations, stat_agreement))
    return sorted(results, key=lambda score: (-score.score, score.component))


def _traffic_counts(
    by_metric: Mapping[str, Sequence[float] | FloatArray], kinds: Mapping[str, MetricKind] | None
) -> FloatArray | None:
    for metric in sorted(by_metric):
        if ((kinds or {}).get(metric) or classify_metric(metric)) == "traffic":
            return as_float_array(by_metric[metric])
    return None


def _deviation(
    metric: str,
    kind: MetricKind,
    values: FloatArray,
    epochs: FloatArray,
    reference_mask: np.ndarray,
    incident_mask: np.ndarray,
    noise: SeriesNoise | None,
    counts: FloatArray | None,
) -> MetricDeviation | None:
    reference = values[reference_mask]
    context = _context(kind, values, noise, reference)
    transformed = transform(kind, values, offset=context.offset, fraction=context.fraction)
    finite_reference = transformed[reference_mask][np.isfinite(transformed[reference_mask])]
    if not finite_reference.size:
        # Idle just before (no data): there is no level to compare with. A component waking up shows
        # in its traffic and in its callers; its first latencies alone are not evidence.
        return None
    reference_level = finite_median(finite_reference)
    raw_reference = finite_median(reference)
    reference_count = float(np.nansum(counts[reference_mask])) if counts is not None else None
    self_noise = _self_noise(context, reference) if context.noise is None else 0.0
    best: tuple[float, int, float, float, str] | None = None
    for index in (int(i) for i in np.flatnonzero(incident_mask)):
        value = transformed[index]
        if not math.isfinite(value):
            continue
        effect = float(value - reference_level)
        incident_count = float(counts[index]) if counts is not None and math.isfinite(counts[index]) else None
        scale, source = _scale(
            context,
            self_noise,
            reference_count if incident_count is not None else None,
            incident_count,
            _error_level(context, raw_reference),
        )
        score = _oriented(kind, effect) / scale
        if best is None or score > best[0]:
            best = (score, index, effect, scale, source)
    if best is None:
        return None
    score, index, effect, scale, source = best
    peak_value = float(values[index])
    peak_traffic = float(counts[index]) if counts is not None and math.isfinite(counts[index]) else None
    return MetricDeviation(
        metric=metric,
        kind=kind,
        direction=BAD_DIRECTION[kind],
        baseline_value=raw_reference,
        peak_value=peak_value,
        peak_time=_as_datetime(float(epochs[index])),
        effect=effect,
        score=score,
        scale=scale,
        scale_source=source,
        peak_traffic=peak_traffic,
        excess=_excess(metric, kind, raw_reference, peak_value, peak_traffic, context.fraction),
        change=_describe_change(metric, kind, raw_reference, peak_value, effect),
    )


_NOT_A_MEAN = re.compile(r"(^|[^a-z])(p\d{1,3}|q\d{1,3}|quantile|percentile|median|max|min)([^a-z]|$)", re.IGNORECASE)


def is_mean_metric(metric: str) -> bool:
    """Whether a latency metric is a mean (``latency.Average``, ``latency_avg``), not a percentile.

    Only means add up over requests, so only they carry an excess. A bare name counts as a mean.
    """
    return not _NOT_A_MEAN.search(metric)


def _excess(
    metric: str, kind: MetricKind, before: float, after: float, traffic: float | None, fraction: bool
) -> float | None:
    if traffic is None or not (math.isfinite(before) and math.isfinite(after)):
        return None
    if kind == "latency":
        return (after - before) * traffic if is_mean_metric(metric) else None
    if kind == "availability":
        return (before - after) / (1.0 if fraction else 100.0) * traffic
    if kind == "error_rate":
        return (after - before) / (1.0 if fraction else 100.0) * traffic
    return None


def _component_score(component: str, deviations: list[MetricDeviation], stat_agreement: float) -> ComponentScore:
    ordered = sorted(deviations, key=lambda d: (-d.score, d.metric))
    kind_scores: dict[str, float] = {}
    for kind in sorted({d.kind for d in ordered}):
        of_kind = [d.score for d in ordered if d.kind == kind]
        agreeing = max(1, math.ceil(stat_agreement * len(of_kind) - 1e-9))
        kind_scores[kind] = of_kind[min(agreeing, len(of_kind)) - 1]
    score = max(kind_scores.values())
    top = ordered[0]
    return ComponentScore(
        component=component,
        score=score,
        kind_scores=kind_scores,
        top_metric=top.metric,
        deviations=ordered,
        reason=f"{top.change}: {top.score:.1f} noise units ({top.scale_source} scale {top.scale:.3g})",
    )


# --------------------------------------------------------------------------------------------------
# Ranking over the graph


def rank_root_causes(
    scores: Sequence[ComponentScore],
    graph: DependencyGraph,
    target: str,
    *,
    focus_kinds: Sequence[MetricKind] | None = None,
    config: RankingConfig = DEFAULT_RANKING,
    also: Sequence[str] = (),
    silent: Mapping[str, float] | None = None,
) -> RankingResult:
    """Rank root-cause candidates for ``target`` among the components it depends on (and itself).

    ``graph`` is ``caller -> callees``. ``focus_kinds`` restricts which metric kinds count (e.g.
    latency for a latency alert); None counts all. A candidate's score is its own anomaly times three
    factors, each explained in its ``reasons``:

    - *explanation*: discounted when a component it depends on moved enough to account for its move
      (a victim, not a cause);
    - *coverage*: discounted when its own excess (extra latency over its requests, extra failed
      requests) is too small to account for the target's (a real but irrelevant blip);
    - *path*: discounted when the path from the target crosses components that did not move.

    Anomalous components outside the target's dependency closure are listed in ``ignored``, never
    ranked, unless ``also`` names them: components that reach the target another way (a job calling
    a database the target calls too). The result abstains (still listing the leading candidates)
    when nobody reaches the naming threshold or the runner-up is too close (see `RankingConfig`).

    ``silent`` names components that returned no samples at all (a dependency that stopped
    answering exports nothing; a third party exports nothing of its own), each with a weight in
    0..1: how strongly its callers' own evidence points at it (1 when their errors name it). Missing
    telemetry is unknown, never healthy: a silent component whose callers are all anomalous gets the
    anomaly of its least anomalous caller, times its weight, and explains that share of its callers'
    moves, so that the callers stop tying with each other.
    """
    nodes = normalize_graph(graph)
    by_component = {score.component: score for score in scores}
    kinds = list(focus_kinds) if focus_kinds else None

    def measured(component: str) -> float:
        found = by_component.get(component)
        return found.kind_score(kinds) if found is not None else 0.0

    known_topology = target in nodes
    if known_topology:
        distances = hop_distances(nodes, target)
    else:
        # Unknown topology: every scored component is a candidate at one hop, none is ruled out.
        distances = {component: (0 if component == target else 1) for component in by_component} | {target: 0}
    if known_topology and also:
        around = hop_distances(nodes, target, undirected=True)
        for component in also:
            if component not in distances and component in around:
                distances[component] = around[component]
    closure = set(distances)
    inferred, silent_reasons = _silent_anomalies(closure, nodes, silent or {}, measured, config)

    def anomaly(component: str) -> float:
        return inferred[component] if component in inferred else measured(component)

    ignored = sorted(
        component
        for component, score in by_component.items()
        if component not in closure and score.kind_score(kinds) >= config.anomaly_threshold
    )
    support_paths = widest_paths(nodes, target, lambda node: min(anomaly(node) / config.support_threshold, 1.0))
    target_score = by_component.get(target)
    target_top = target_score.top_deviation(kinds) if target_score is not None else None
    target_excess = (
        target_score.excess(target_top.kind) if target_score is not None and target_top is not None else None
    )

    candidates = []
    for component in sorted(closure):
        own = anomaly(component)
        share, explainers, explanation_reasons = _explanation(component, nodes, by_component, kinds, config)
        for callee in nodes.get(component, ()):
            if inferred.get(callee, 0.0) >= config.explain_threshold and anomaly(component) > 0:
                silent_share = min(1.0, (silent or {}).get(callee, 0.0))
                if silent_share > share:
                    share = silent_share
                    explainers = [callee, *[e for e in explainers if e != callee]]
                explanation_reasons = [
                    f"explained {silent_share:.0%} by dependency {callee}, which returns no samples while "
                    "all its callers are anomalous",
                    *[r for r in explanation_reasons if r != "no anomalous dependency explains it"],
                ]
        coverage, coverage_reason = _coverage(component, target, by_component, target_excess)
        if known_topology:
            support, path = support_paths.get(component, (0.0, (target, component)))
        else:
            support, path = 1.0, ((target,) if component == target else (target, component))
        path_factor = config.min_path_factor + (1.0 - config.min_path_factor) * support
        coverage_factor = (
            1.0 if coverage is None else config.min_coverage_factor + (1.0 - config.min_coverage_factor) * coverage
        )
        score = own * (1.0 - config.explanation_weight * share) * path_factor * coverage_factor
        top = by_component[component].top_deviation(kinds) if component in by_component else None
        own_line = f"own anomaly {own:.1f}" + (f": {top.change}" if top is not None else " (no data)")
        reasons = [
            silent_reasons.get(component, own_line),
            *explanation_reasons,
            coverage_reason,
            (
                f"path {' -> '.join(path)}: weakest intermediate at {support:.0%} of the support threshold"
                if len(path) > 2
                else ("is the alerting component" if component == target else "direct dependency of the target")
            ),
        ]
        candidates.append(
            RootCauseCandidate(
                component=component,
                score=score,
                anomaly=own,
                explained_share=share,
                explained_by=explainers,
                coverage=coverage,
                path=list(path),
                path_support=support,
                distance=distances.get(component, 1),
                top_metric=top.metric if top is not None else None,
                reasons=reasons,
            )
        )
    candidates.sort(key=lambda c: (-c.score, -c.anomaly, c.distance, c.component))
    return _decide(target, candidates, ignored, config)


def _silent_anomalies(
    closure: set[str],
    nodes: Mapping[str, tuple[str, ...]],
    silent: Mapping[str, float],
    anomaly: Callable[[str], float],
    config: RankingConfig,
) -> tuple[dict[str, float], dict[str, str]]:
    """The anomaly inferred for each silent component from its callers, and the reason for it.

    A silent component with at least one caller in ``closure``, every one of them anomalous
    (``anomaly_threshold``), gets the smallest of their anomalies times its weight: it is a lead, as
    strong as the evidence its weakest caller gives. Otherwise its anomaly stays unknown (0, with a
    reason saying so): absence of samples is never read as health.
    """
    inferred: dict[str, float] = {}
    reasons: dict[str, str] = {}
    callers_of: dict[str, list[str]] = {}
    for caller, callees in nodes.items():
        for callee in callees:
            callers_of.setdefault(callee, []).append(caller)
    for component in sorted(silent):
        if component not in closure:
            continue
        weight = min(max(silent[component], 0.0), 1.0)
        callers = sorted(c for c in callers_of.get(component, []) if c in closure and c not in silent)
        scores = [anomaly(c) for c in callers]
        if callers and min(scores) >= config.anomaly_threshold and weight > 0:
            inferred[component] = min(scores) * weight
            reasons[component] = (
                f"no samples (missing telemetry): inferred anomaly {inferred[component]:.1f} from its "
                f"{len(callers)} caller(s), all anomalous ({', '.join(callers)}), weight {weight:.2f}"
            )
        else:
            reasons[component] = "no samples (missing telemetry): unknown, not healthy; its callers do not all move"
    return inferred, reasons


def _coverage(
    component: str,
    target: str,
    by_component: Mapping[str, ComponentScore],
    target_excess: MetricDeviation | None,
) -> tuple[float | None, str]:
    """How much of the target's excess this component's own excess could account for (0..1, None: unknown)."""
    if component == target:
        return 1.0, "accounts for the whole symptom (it is the alerting component)"
    if target_excess is None or target_excess.excess is None or target_excess.excess <= 0:
        return None, "coverage unknown (the target's excess cannot be measured)"
    own = by_component.get(component)
    own_excess = own.excess(target_excess.kind) if own is not None else None
    if own_excess is None or own_excess.excess is None:
        return None, "coverage unknown (no traffic or mean metric to measure its excess)"
    coverage = min(max(own_excess.excess, 0.0) / target_excess.excess, 1.0)
    return coverage, (
        f"its excess {own_excess.excess:.3g} ({own_excess.metric}) covers {coverage:.0%} of the target's "
        f"{target_excess.excess:.3g}"
    )


def _explanation(
    component: str,
    nodes: Mapping[str, tuple[str, ...]],
    by_component: Mapping[str, ComponentScore],
    kinds: list[MetricKind] | None,
    config: RankingConfig,
) -> tuple[float, list[str], list[str]]:
    """How much of ``component``'s move the components it depends on account for (0..1), and which.

    With traffic known, the accounting is absolute: a caller's extra latency summed over its requests
    (or its extra failed requests) comes from what its dependencies added, however deep, so one whose
    excess is at least the caller's explains it fully, one with a tenth of it explains a tenth. This
    tells a slow backend (786 calls each 31 ms slower: 24 s) from a load-balancer entry that also
    looks slow (43 calls: 2 s), and it still works when the intermediate components are too noisy to
    show the fault. Without traffic, a direct dependency's relative move (log ratio, error points) on
    the same metric is compared instead. Each dependency is judged alone (the best one counts): calls
    may overlap, and summing would double-count.
    """
    own = by_component.get(component)
    if own is None:
        return 0.0, [], []
    own_top = own.top_deviation(kinds)
    if own_top is None or own_top.effect <= 0:
        return 0.0, [], []
    own_excess = own.excess(own_top.kind)
    callees = set(nodes.get(component, ()))
    best_share = 0.0
    explainers: list[tuple[float, str, str]] = []
    for dependency in sorted(hop_distances(nodes, component)):
        theirs = by_component.get(dependency)
        if dependency == component or theirs is None:
            continue
        if theirs.kind_score([own_top.kind]) < config.explain_threshold:
            continue
        their_excess = theirs.excess(own_top.kind)
        if (
            own_excess is not None
            and own_excess.excess is not None
            and own_excess.excess > 0
            and their_excess is not None
        ):
            share = min(max(their_excess.excess or 0.0, 0.0) / own_excess.excess, 1.0)
            detail = f"{their_excess.change}, excess {their_excess.excess:.3g} vs own {own_excess.excess:.3g}"
        elif dependency in callees:
            matching = theirs.deviation(own_top.metric) or theirs.top_deviation([own_top.kind])
            if matching is None or matching.effect <= 0:
                continue
            share = min(matching.effect / own_top.effect, 1.0)
            detail = f"{matching.change} (relative move {matching.effect:.3g} vs own {own_top.effect:.3g})"
        else:
            continue
        if share <= 0:
            continue
        explainers.append((share, dependency, detail))
        best_share = max(best_share, share)
    explainers.sort(key=lambda item: (-item[0], item[1]))
    reasons = [f"explained {share:.0%} by dependency {name}: {detail}" for share, name, detail in explainers[:3]]
    if not explainers:
        reasons = ["no anomalous dependency explains it"]
    return best_share, [name for _, name, _ in explainers], reasons


def _decide(
    target: str, candidates: list[RootCauseCandidate], ignored: list[str], config: RankingConfig
) -> RankingResult:
    if not candidates or candidates[0].score < config.name_threshold:
        best = f"{candidates[0].component} at {candidates[0].score:.1f}" if candidates else "none"
        return RankingResult(
            target=target,
            candidates=candidates,
            abstained=True,
            reason=(
                f"no candidate reaches the naming threshold {config.name_threshold:g} (best: {best}); "
                "nothing in the target's dependency closure moved clearly enough to be called a cause"
            ),
            separating_evidence=_weak_evidence(candidates[:3]),
            ignored=ignored,
        )
    leader = candidates[0]
    runner_up = candidates[1] if len(candidates) > 1 else None
    if runner_up is not None and runner_up.score >= config.lead_ratio * leader.score:
        return RankingResult(
            target=target,
            candidates=candidates,
            abstained=True,
            reason=(
                f"no candidate is clearly ahead: {leader.component} {leader.score:.1f} vs "
                f"{runner_up.component} {runner_up.score:.1f} (needs a lead of "
                f"{1 / config.lead_ratio:.2f}x); inconclusive, best lead is {leader.component}"
            ),
            separating_evidence=_separating_evidence(leader, runner_up, candidates[2:3]),
            ignored=ignored,
        )
    if runner_up is None:
        lead = ", no other candidate"
    elif runner_up.score > 0:
        lead = f", {leader.score / runner_up.score:.1f}x the runner-up {runner_up.component} ({runner_up.score:.1f})"
    else:
        lead = f", nothing else moved (runner-up {runner_up.component} at 0)"
    return RankingResult(
        target=target,
        candidates=candidates,
        abstained=False,
        reason=f"{leader.component} leads with {leader.score:.1f}{lead}",
        ignored=ignored,
    )


def _weak_evidence(leads: Sequence[RootCauseCandidate]) -> list[str]:
    evidence = [
        f"a longer baseline or finer-grained metrics for {lead.component} (its move: "
        f"{lead.anomaly:.1f} noise units) would show whether it is a real change"
        for lead in leads
        if lead.anomaly > 0
    ]
    return evidence or ["no component moved: check that the alerting SLI really breached (is the alert stale?)"]


def _separating_evidence(
    leader: RootCauseCandidate, runner_up: RootCauseCandidate, others: Sequence[RootCauseCandidate]
) -> list[str]:
    """What would tell the two leading candidates apart, phrased as checks a responder can run."""
    a, b = leader.component, runner_up.component
    evidence = []
    if b in leader.path:
        evidence.append(
            f"{b} calls {a} (path {' -> '.join(leader.path)}): if {b}'s latency/errors excluding its calls "
            f"to {a} are normal (traces, per-dependency metrics), {a} is the cause"
        )
    elif a in runner_up.path:
        evidence.append(
            f"{a} calls {b} (path {' -> '.join(runner_up.path)}): if {a}'s latency/errors excluding its calls "
            f"to {b} are normal (traces, per-dependency metrics), {b} is the cause"
        )
    else:
        evidence.append(
            f"{a} and {b} are on different paths from {leader.path[0]}: traces of failing or slow requests "
            "show which of the two they pass through"
        )
    evidence.append(
        f"finer-grained metrics around the onset: the cause moves first ({a}: {leader.top_metric}, "
        f"{b}: {runner_up.top_metric})"
    )
    evidence.append(f"recent changes (deploys, config, flags) to {a} or {b} before the onset")
    for other in others:
        evidence.append(f"also close: {other.component} ({other.score:.1f})")
    return evidence


# --------------------------------------------------------------------------------------------------
# The whole pipeline


def focus_for(target_kind: MetricKind) -> list[MetricKind]:
    """Which metric kinds explain an alert of ``target_kind``: latency for latency, errors for errors."""
    if target_kind == "latency":
        return ["latency"]
    if target_kind in ("availability", "error_rate"):
        return ["availability", "error_rate"]
    return [target_kind]


def analyze_incident(
    metrics: MetricsByComponent,
    times: Sequence[datetime],
    graph: DependencyGraph,
    target: str,
    target_metric: str,
    alert_time: datetime,
    *,
    noise: NoiseModel | None = None,
    kinds: Mapping[str, MetricKind] | None = None,
    max_lead_steps: int = 0,
    onset_horizon_steps: int = 3,
    incident_steps: int = 2,
    onset_threshold: float = 4.0,
    focus_kinds: Sequence[MetricKind] | None = None,
    config: RankingConfig = DEFAULT_RANKING,
) -> IncidentAnalysis:
    """Onset, component scores and ranking for one alert, with the windows it chose.

    ``times`` are the starts of equally spaced steps. The step containing ``alert_time`` (minus
    ``max_lead_steps`` steps, for alerts that fire after a ``for:`` delay) opens the search for the
    onset of ``target_metric`` on ``target``, which must come within ``onset_horizon_steps`` steps
    (an alert is about now, not about something an hour later); every step before it is the
    reference window. The incident window runs from that step to one step after the onset
    (``incident_steps`` steps at least). Without an onset the ranking is still computed from the
    first ``incident_steps`` steps, so that the leads are visible, but the result abstains.
    """
    epochs = _epochs(times)
    if epochs.size < 2:
        raise ValueError("times needs at least two steps (a reference and an incident step)")
    step = float(np.median(np.diff(epochs)))
    alert_index = int(np.searchsorted(epochs, _epoch(alert_time), side="right")) - 1
    search_index = max(alert_index - max_lead_steps, 1)
    if search_index >= epochs.size:
        raise ValueError(f"alert_time {alert_time.isoformat()} is after the last step of the series")
    target_series = metrics.get(target, {}).get(target_metric)
    if target_series is None:
        raise ValueError(f"no series {target_metric!r} for target {target!r} in metrics")
    kind = (kinds or {}).get(target_metric) or classify_metric(target_metric)
    noise_model = noise or NoiseModel.empty()
    counts = _traffic_counts(metrics[target], kinds)
    onset = detect_onset(
        target_series,
        times,
        kind=kind,
        metric=target_metric,
        search_from=_as_datetime(float(epochs[search_index])),
        search_until=_as_datetime(float(epochs[search_index]) + onset_horizon_steps * step),
        threshold=onset_threshold,
        noise=noise_model.get(target, target_metric),
        counts=counts,
    )
    last_index = max(onset.index if onset is not None else search_index, search_index) + incident_steps - 1
    last_index = min(last_index, epochs.size - 1)
    baseline_window = TimeWindow(start=_as_datetime(float(epochs[0])), end=_as_datetime(float(epochs[search_index])))
    incident_window = TimeWindow(
        start=_as_datetime(float(epochs[search_index])), end=_as_datetime(float(epochs[last_index]) + step)
    )
    scores = score_components(metrics, times, baseline_window, incident_window, noise=noise_model, kinds=kinds)
    focus = list(focus_kinds) if focus_kinds else focus_for(kind)
    ranking = rank_root_causes(scores, graph, target, focus_kinds=focus, config=config)
    if onset is None:
        ranking = ranking.model_copy(
            update={
                "abstained": True,
                "reason": (
                    f"the alerting SLI {target}.{target_metric} shows no onset (none of the {onset_horizon_steps} "
                    f"steps from {incident_window.start.isoformat()} moves {onset_threshold:g} noise units the "
                    "bad way): "
                    "nothing to explain; " + ranking.reason
                ),
                "separating_evidence": [
                    f"confirm the alert: {target}.{target_metric} at finer resolution around {alert_time.isoformat()}",
                    *ranking.separating_evidence,
                ],
            }
        )
    return IncidentAnalysis(
        target=target,
        target_metric=target_metric,
        alert_time=alert_time,
        onset=onset,
        baseline_window=baseline_window,
        incident_window=incident_window,
        noise_source=noise_model.source,
        focus_kinds=list(focus),
        scores=scores,
        ranking=ranking,
    )
