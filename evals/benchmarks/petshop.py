"""The PetShop root-cause benchmark: import the public dataset, rank root causes, score the ranking.

PetShop ("PetShop: A Dataset for Root Cause Analysis", CLeaR 2024, data CC-BY-4.0) holds real
CloudWatch metrics of a 41-component AWS application with injected performance issues. Layout::

    <traffic>/graph.csv                 adjacency matrix, row = caller, column = callee
    <traffic>/noissue/metrics.csv       normal operation (absent for the temporal scenarios)
    <traffic>/<split>/issue_N/metrics.csv, target.json

For every issue the analytics of `agents.analytics` rank root-cause components from the metrics and
the call graph only (component names are never read, except to compare the answer with the label),
and `run_benchmark` writes ``results.json`` with top-k accuracies, the specificity on windows of
normal operation, a majority-class floor, the dataset's published baseline re-implemented on the same
windows, and synthetic fault injections (clearly separated: they test the method where the real
labels cannot, since every public train issue has the same root cause).

Run it::

    python -m evals.benchmarks.petshop ../shared/datasets/petshop --out .firstline/bench/petshop
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from agents.analytics.anomaly import IncidentAnalysis, RankingConfig, analyze_incident
from agents.analytics.graph import hop_distances, normalize_graph, reverse_graph
from agents.analytics.metrics import FloatArray, NoiseModel

log = structlog.get_logger("firstline.evals.petshop")

SCENARIOS = ("low_traffic", "high_traffic", "temporal_traffic1", "temporal_traffic2")
NORMAL_DIR = "noissue"
TOP_K = 5
DEFAULT_INJECTION_TRIALS = 200
# Seed 7 served to compare settings (docs/analytics.md, sensitivity); the reported figures use fresh trials.
DEFAULT_SEED = 2024
ProgressCallback = Callable[[str, int, int], None]
"""``on_progress(stage, done, total)``: called as issues and windows are evaluated."""


class DatasetError(ValueError):
    """The dataset directory does not have the PetShop layout; the message names the file and field."""


# --------------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class MetricTable:
    """One metrics.csv: step start times and ``component -> "metric.statistic" -> values``."""

    times: tuple[datetime, ...]
    series: dict[str, dict[str, FloatArray]]

    def __len__(self) -> int:
        return len(self.times)

    def rows(self, start: int, stop: int) -> MetricTable:
        """The steps ``start`` (inclusive) to ``stop`` (exclusive), as a new table (copies)."""
        return MetricTable(
            self.times[start:stop],
            {
                c: {m: v[start:stop].copy() for m, v in by_metric.items()}
                for c, by_metric in self.series.items()
            },
        )

    def copy(self) -> MetricTable:
        return self.rows(0, len(self.times))


@dataclass(frozen=True)
class Target:
    """The alerting SLI of an issue (``target`` in target.json)."""

    node: str
    metric: str
    agg: str
    timestamp: float

    @property
    def metric_name(self) -> str:
        return f"{self.metric}.{self.agg}"

    @property
    def alert_time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, tz=UTC)


@dataclass(frozen=True)
class Issue:
    scenario: str
    split: str
    name: str
    metrics: MetricTable
    target: Target
    root_cause: str | None


@dataclass(frozen=True)
class Scenario:
    name: str
    graph: dict[str, tuple[str, ...]]
    normal: MetricTable | None
    issues: tuple[Issue, ...]


def load_metrics(path: Path) -> MetricTable:
    """Read a PetShop metrics.csv (3 header rows, a ``unix_timestamp`` label row, then one row per step)."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error}") from error
    if (
        len(rows) < 4
        or not rows[0]
        or rows[0][0] != "microservice"
        or rows[1][0] != "metric"
        or rows[2][0] != "statistic"
    ):
        raise DatasetError(f"{path}: expected header rows 'microservice', 'metric', 'statistic'")
    components, metric_names, statistics = rows[0][1:], rows[1][1:], rows[2][1:]
    if not len(components) == len(metric_names) == len(statistics):
        raise DatasetError(f"{path}: the three header rows have different lengths")
    data_rows = [row for row in rows[3:] if row and _is_number(row[0])]
    if not data_rows:
        raise DatasetError(f"{path}: no data rows (first column must be a unix timestamp)")
    times = tuple(datetime.fromtimestamp(float(row[0]), tz=UTC) for row in data_rows)
    matrix = np.full((len(data_rows), len(components)), np.nan)
    for i, row in enumerate(data_rows):
        for j, cell in enumerate(row[1 : len(components) + 1]):
            if cell != "":
                try:
                    matrix[i, j] = float(cell)
                except ValueError as error:
                    raise DatasetError(
                        f"{path}: row {i + 5}, column {components[j]!r}: {cell!r} is not a number"
                    ) from error
    series: dict[str, dict[str, FloatArray]] = {}
    for j, (component, metric, statistic) in enumerate(
        zip(components, metric_names, statistics, strict=True)
    ):
        series.setdefault(component, {})[f"{metric}.{statistic}"] = matrix[:, j]
    return MetricTable(times, series)


def load_graph(path: Path) -> dict[str, tuple[str, ...]]:
    """Read graph.csv (adjacency matrix, row = caller, column = callee) as ``caller -> callees``."""
    try:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
    except OSError as error:
        raise DatasetError(f"cannot read {path}: {error}") from error
    if not rows or len(rows[0]) < 2:
        raise DatasetError(f"{path}: expected a header row of callee names")
    callees = rows[0][1:]
    graph: dict[str, list[str]] = {name: [] for name in callees}
    for row in rows[1:]:
        if not row:
            continue
        caller = row[0]
        graph.setdefault(caller, [])
        for callee, cell in zip(callees, row[1:], strict=False):
            if _is_number(cell) and float(cell) != 0.0:
                graph[caller].append(callee)
    return normalize_graph(graph)


def load_target(path: Path) -> tuple[Target, str | None]:
    """Read target.json: the alerting SLI and (when present) the labelled root-cause component."""
    try:
        payload = json.loads(path.read_text())
        target = payload["target"]
        parsed = Target(
            str(target["node"]), str(target["metric"]), str(target["agg"]), float(target["timestamp"])
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: expected target.node/metric/agg/timestamp ({error})") from error
    root = payload.get("root_cause") or {}
    return parsed, (str(root["node"]) if root.get("node") else None)


def load_scenario(directory: Path) -> Scenario:
    """One traffic scenario: its graph, its normal-operation metrics (if any) and every issue of every split."""
    graph = load_graph(directory / "graph.csv")
    normal_path = directory / NORMAL_DIR / "metrics.csv"
    normal = load_metrics(normal_path) if normal_path.exists() else None
    issues = []
    for split_dir in sorted(p for p in directory.iterdir() if p.is_dir() and p.name != NORMAL_DIR):
        for issue_dir in sorted(split_dir.iterdir(), key=_issue_order):
            if not (issue_dir / "target.json").exists():
                continue
            target, root = load_target(issue_dir / "target.json")
            metrics = load_metrics(issue_dir / "metrics.csv")
            issues.append(Issue(directory.name, split_dir.name, issue_dir.name, metrics, target, root))
    return Scenario(directory.name, graph, normal, tuple(issues))


def load_dataset(path: Path) -> list[Scenario]:
    """Every scenario directory under ``path`` that has a graph.csv, in the dataset's usual order."""
    if not path.is_dir():
        raise DatasetError(f"{path} is not a directory (expected the PetShop dataset root)")
    found = [p for p in path.iterdir() if p.is_dir() and (p / "graph.csv").exists()]
    if not found:
        raise DatasetError(f"{path}: no scenario directory with a graph.csv (e.g. low_traffic/graph.csv)")
    order = {name: i for i, name in enumerate(SCENARIOS)}
    return [load_scenario(p) for p in sorted(found, key=lambda p: (order.get(p.name, len(order)), p.name))]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _issue_order(path: Path) -> tuple[int, str]:
    suffix = path.name.rsplit("_", 1)[-1]
    return (int(suffix), path.name) if suffix.isdigit() else (1 << 30, path.name)


# --------------------------------------------------------------------------------------------------
# The method under test


@dataclass(frozen=True)
class MethodSettings:
    """How the benchmark calls `analyze_incident` (the defaults are the library's)."""

    ranking: RankingConfig = field(default_factory=RankingConfig)
    onset_threshold: float = 4.0
    incident_steps: int = 2
    use_normal_noise: bool = True
    """False scores every scenario the way the temporal ones must be (sampling floors only): an ablation."""


def analyze(
    table: MetricTable,
    graph: Mapping[str, Sequence[str]],
    target: Target,
    noise: NoiseModel,
    settings: MethodSettings,
) -> IncidentAnalysis:
    return analyze_incident(
        table.series,
        table.times,
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


# --------------------------------------------------------------------------------------------------
# Normal-operation windows (specificity)


@dataclass(frozen=True)
class NormalWindow:
    scenario: str
    start: int
    stop: int
    target: Target


def normal_windows(scenario: Scenario, length: int, alert_offset_s: float) -> list[NormalWindow]:
    """Non-overlapping windows of ``length`` steps over the normal-operation data, one per alerting SLI.

    The alerting SLIs are the distinct (node, metric, statistic) targets of the scenario's issues; the
    fictitious alert of each window fires ``alert_offset_s`` seconds into its second step, where the
    issues' alerts fall.
    """
    if scenario.normal is None:
        return []
    slis = sorted({(i.target.node, i.target.metric, i.target.agg) for i in scenario.issues})
    times = scenario.normal.times
    windows = []
    for start in range(0, len(times) - length + 1, length):
        alert = times[start + 1].timestamp() + alert_offset_s
        for node, metric, agg in slis:
            windows.append(
                NormalWindow(scenario.name, start, start + length, Target(node, metric, agg, alert))
            )
    return windows


# --------------------------------------------------------------------------------------------------
# The published baseline, re-implemented (MAD anomaly scores vs normal operation + graph traversal)


def baseline_rank(
    table: MetricTable,
    graph: Mapping[str, Sequence[str]],
    target: Target,
    normal: MetricTable,
    threshold: float = 5.0,
) -> list[str]:
    """The dataset's baseline: anomalous nodes (|x - median| / MAD > 5 on the target's metric and
    statistic, scored against normal operation) at the third step (or the next step where the target
    is anomalous) that have no anomalous callee and reach the target through anomalous nodes, ranked
    by the sum of anomaly scores along the path. Empty when the target is not anomalous.
    """
    metric = target.metric_name
    scores: dict[str, float] = {}
    flags: dict[str, FloatArray] = {}
    for component, by_metric in table.series.items():
        values = by_metric.get(metric)
        reference = normal.series.get(component, {}).get(metric)
        if values is None or reference is None:
            continue
        reference = reference[np.isfinite(reference)]
        if reference.size < 10:
            continue
        median = float(np.median(reference))
        mad = float(np.median(np.abs(reference - median)))
        if mad > 0:
            row_scores = np.abs(values - median) / mad
            flags[component] = np.where(np.isfinite(row_scores), row_scores, 0.0)
        else:
            row_scores = np.abs(values - float(np.mean(reference)))
            flags[component] = np.where(np.isfinite(row_scores), row_scores, 0.0)
            scores[component] = -1.0  # marks the trivial model: threshold 0
    row = 2
    target_flags = flags.get(target.node)
    if target_flags is None:
        return []
    thresholds = {c: (0.0 if scores.get(c) == -1.0 else threshold) for c in flags}
    for index in range(2, len(table)):
        if target_flags[index] > thresholds[target.node]:
            row = index
            break
    if row >= len(table) or not target_flags[row] > thresholds[target.node]:
        return []
    anomalous = {c: float(f[row]) for c, f in flags.items() if f[row] > thresholds[c]}
    nodes = normalize_graph(graph)
    roots = [c for c in anomalous if not any(callee in anomalous for callee in nodes.get(c, ()))]
    ranked: dict[str, float] = {}
    for root in roots:
        best = _best_anomalous_path_score(nodes, target.node, root, anomalous)
        if best is not None:
            ranked[root] = best
    return [c for c, _ in sorted(ranked.items(), key=lambda item: (-item[1], item[0]))]


def _best_anomalous_path_score(
    nodes: Mapping[str, tuple[str, ...]], source: str, goal: str, anomalous: Mapping[str, float]
) -> float | None:
    """Max over simple paths source -> goal through anomalous nodes only of the summed scores."""
    if source not in anomalous:
        return None
    if source == goal:
        return anomalous[source]
    best: float | None = None

    def walk(node: str, seen: frozenset[str], total: float) -> None:
        nonlocal best
        for callee in nodes.get(node, ()):
            if callee in seen or callee not in anomalous:
                continue
            if callee == goal:
                score = total + anomalous[callee]
                best = score if best is None else max(best, score)
            else:
                walk(callee, seen | {callee}, total + anomalous[callee])

    walk(source, frozenset({source}), anomalous[source])
    return best


# --------------------------------------------------------------------------------------------------
# Synthetic fault injection


@dataclass(frozen=True)
class Injection:
    """A fault written into a window: which component, what kind, how big at the target."""

    root: str
    fault: str  # "latency" | "availability"
    target_change: float
    path: tuple[str, ...]


def inject_fault(
    table: MetricTable,
    graph: Mapping[str, Sequence[str]],
    target_node: str,
    fault: str,
    rng: random.Random,
    *,
    onset_row: int = 2,
    exclude: Iterable[str] = (),
) -> tuple[MetricTable, Injection] | None:
    """Write a fault into a copy of ``table`` at a component chosen at random, and propagate it to the target.

    The root is any component in the target's dependency closure (the target included) that serves
    traffic in the window. From ``onset_row`` on (full strength for two steps, fading on the third),
    a latency fault adds the same absolute delay to every latency statistic of the root and, scaled by
    relative traffic (``traffic_target / traffic_node``, i.e. calls per target request), of each
    component on the shortest path up to the target, sized so the target's average latency grows by
    15-60 %. An availability fault removes 2-8 points of availability at the target, the
    corresponding error points at the root and along the path (capped at 100 % errors). Returns None
    when no component can carry the fault.
    """
    nodes = normalize_graph(graph)
    callers = reverse_graph(nodes)
    closure = hop_distances(nodes, target_node)
    traffic = {c: _traffic_level(table, c, onset_row) for c in closure}
    excluded = set(exclude)
    eligible = [
        c
        for c in sorted(closure)
        if c not in excluded and traffic.get(c, 0.0) >= 5.0 and _has_metric(table, c, fault, onset_row)
    ]
    if not eligible or traffic.get(target_node, 0.0) <= 0:
        return None
    root = rng.choice(eligible)
    path = _shortest_path_up(callers, root, target_node)
    if path is None:
        return None
    copy = table.copy()
    strength = [0.0] * len(table)
    for row in range(onset_row, len(table)):
        strength[row] = 1.0 if row < onset_row + 2 else rng.uniform(0.0, 0.5)

    def row_traffic(node: str, row: int) -> float:
        # Requests in that very step: what the fault's extra time or errors are spread over.
        counts = table.series.get(node, {}).get("requests.Sum")
        value = float(counts[row]) if counts is not None else math.nan
        return value if math.isfinite(value) and value > 0 else max(traffic.get(node, 0.0), 1.0)

    if fault == "latency":
        target_level = _level(table, target_node, "latency.Average", onset_row)
        relative = rng.uniform(0.15, 0.6)
        delta_target = relative * target_level
        for node in path:
            for metric, values in copy.series[node].items():
                if metric.startswith("latency."):
                    for row, weight in enumerate(strength):
                        # The same extra time summed over requests at every hop: a caller waits for it all.
                        ratio = row_traffic(target_node, row) / row_traffic(node, row)
                        values[row] += delta_target * ratio * weight
        return copy, Injection(root, fault, relative, tuple(path))
    points_target = rng.uniform(2.0, 8.0)
    capacity = 90.0 * min(
        row_traffic(root, row) / row_traffic(target_node, row) for row in range(onset_row, onset_row + 2)
    )
    points_target = min(points_target, capacity)
    if points_target < 2.0:
        return None
    for node in path:
        availability = copy.series[node].get("availability.Average")
        if availability is None:
            continue
        for row, weight in enumerate(strength):
            # The same number of failed requests at every hop: each failed call fails its caller's request.
            points = min(points_target * row_traffic(target_node, row) / row_traffic(node, row), 95.0)
            if math.isfinite(availability[row]):
                availability[row] = max(availability[row] - points * weight, 0.0)
    return copy, Injection(root, fault, points_target, tuple(path))


def _traffic_level(table: MetricTable, component: str, upto: int) -> float:
    values = table.series.get(component, {}).get("requests.Sum")
    if values is None:
        return 0.0
    finite = values[:upto][np.isfinite(values[:upto])]
    return float(np.median(finite)) if finite.size else 0.0


def _level(table: MetricTable, component: str, metric: str, upto: int) -> float:
    values = table.series[component][metric][:upto]
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else 0.0


def _has_metric(table: MetricTable, component: str, fault: str, upto: int) -> bool:
    metric = "latency.Average" if fault == "latency" else "availability.Average"
    values = table.series.get(component, {}).get(metric)
    if values is None:
        return False
    before = values[:upto]
    finite = before[np.isfinite(before)]
    if fault == "latency":
        return bool(finite.size) and float(np.median(finite)) > 0 and bool(np.isfinite(values[upto:]).all())
    return bool(finite.size) and float(np.median(finite)) > 50.0 and bool(np.isfinite(values[upto:]).all())


def _shortest_path_up(callers: Mapping[str, tuple[str, ...]], root: str, target: str) -> list[str] | None:
    """Components from ``target`` down to ``root`` (both included) along call edges, fewest hops."""
    previous: dict[str, str | None] = {root: None}
    frontier = [root]
    while frontier:
        following = []
        for node in frontier:
            if node == target:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])  # type: ignore[arg-type]  # checked not None
                return path
            for caller in callers.get(node, ()):
                if caller not in previous:
                    previous[caller] = node
                    following.append(caller)
        frontier = following
    return None


# --------------------------------------------------------------------------------------------------
# Scoring helpers


def rank_of(ranked: Sequence[str], truth: str | None) -> int | None:
    """1-based rank of ``truth`` in ``ranked``, None when absent."""
    if truth is None:
        return None
    return ranked.index(truth) + 1 if truth in ranked else None


def summarize_ranks(ranks: Sequence[int | None]) -> dict[str, float | int]:
    """ac1, ac3 and avg5 (mean of the top-1..top-5 hit rates) over issues."""
    n = len(ranks)
    if n == 0:
        return {"n": 0, "ac1": math.nan, "ac3": math.nan, "avg5": math.nan}
    hits = [sum(1 for r in ranks if r is not None and r <= k) / n for k in range(1, TOP_K + 1)]
    return {"n": n, "ac1": hits[0], "ac3": hits[2], "avg5": sum(hits) / TOP_K}


def majority_floor(labels: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy of always answering the most frequent label (top-1) and the three most frequent (top-3)."""
    known = [label for label in labels if label is not None]
    if not known:
        return {"label": None, "ac1": math.nan, "ac3": math.nan}
    counts = Counter(known).most_common()
    top1 = counts[0][1] / len(known)
    top3 = sum(count for _, count in counts[:3]) / len(known)
    return {"label": counts[0][0], "ac1": top1, "ac3": top3}


# --------------------------------------------------------------------------------------------------
# Running


@dataclass
class _Tally:
    ranks: list[int | None] = field(default_factory=list)
    named_hits: int = 0
    abstained: int = 0
    labels: list[str | None] = field(default_factory=list)
    baseline_ranks: list[int | None] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        n = len(self.ranks)
        return {
            **summarize_ranks(self.ranks),
            "ac1_named": self.named_hits / n if n else math.nan,
            "abstention_rate": self.abstained / n if n else math.nan,
            "majority_floor": majority_floor(self.labels),
            "baseline": summarize_ranks(self.baseline_ranks) if self.baseline_ranks else None,
        }


def evaluate_issue(
    scenario: Scenario, issue: Issue, noise: NoiseModel, settings: MethodSettings
) -> dict[str, Any]:
    """One row of results.json: the ranking for one issue and where the labelled root cause landed."""
    analysis = analyze(issue.metrics, scenario.graph, issue.target, noise, settings)
    ranking = analysis.ranking
    ranked = [c.component for c in ranking.candidates]
    rank = rank_of(ranked, issue.root_cause)
    baseline = (
        baseline_rank(issue.metrics, scenario.graph, issue.target, scenario.normal)
        if scenario.normal is not None
        else None
    )
    return {
        "scenario": scenario.name,
        "split": issue.split,
        "issue": issue.name,
        "target": {
            "node": issue.target.node,
            "metric": issue.target.metric_name,
            "alert_time": issue.target.alert_time.isoformat(),
        },
        "root_cause": issue.root_cause,
        "rank": rank,
        "hit": {f"top{k}": rank is not None and rank <= k for k in range(1, TOP_K + 1)},
        "named": ranking.named,
        "abstained": ranking.abstained,
        "reason": ranking.reason,
        "onset": analysis.onset.time.isoformat() if analysis.onset is not None else None,
        "top": [
            {
                "component": c.component,
                "score": round(c.score, 3),
                "anomaly": round(c.anomaly, 3),
                "why": c.reasons,
            }
            for c in ranking.candidates[:TOP_K]
        ],
        "separating_evidence": ranking.separating_evidence,
        "baseline_rank": rank_of(baseline, issue.root_cause) if baseline is not None else None,
        "baseline_top": baseline[:TOP_K] if baseline is not None else None,
    }


def evaluate_normal_windows(
    scenario: Scenario,
    settings: MethodSettings,
    *,
    length: int,
    alert_offset_s: float,
    on_window: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Specificity: the share of normal-operation windows where the method names no root cause."""
    windows = normal_windows(scenario, length, alert_offset_s)
    per_sli: dict[str, dict[str, int]] = {}
    named_examples: list[dict[str, Any]] = []
    assert scenario.normal is not None or not windows
    cache: dict[int, tuple[NoiseModel, MetricTable]] = {}
    for window in windows:
        assert scenario.normal is not None
        if window.start not in cache:
            # Windows come grouped by start (one per SLI): keep only the current start's models.
            cache.clear()
            cache[window.start] = (
                normal_noise(scenario.normal, (window.start, window.stop)),
                _without_rows(scenario.normal, window.start, window.stop),
            )
        noise, rest = cache[window.start]
        table = scenario.normal.rows(window.start, window.stop)
        analysis = analyze(table, scenario.graph, window.target, noise, settings)
        baseline = baseline_rank(table, scenario.graph, window.target, rest)
        tally = per_sli.setdefault(
            window.target.metric_name, {"windows": 0, "named": 0, "baseline_named": 0, "onsets": 0}
        )
        tally["windows"] += 1
        tally["onsets"] += analysis.onset is not None
        tally["baseline_named"] += bool(baseline)
        if analysis.ranking.named is not None:
            tally["named"] += 1
            if len(named_examples) < 10:
                named_examples.append(
                    {
                        "start": window.target.alert_time.isoformat(),
                        "sli": window.target.metric_name,
                        "named": analysis.ranking.named,
                        "reason": analysis.ranking.reason,
                    }
                )
        if on_window is not None:
            on_window()
    total = sum(t["windows"] for t in per_sli.values())
    named = sum(t["named"] for t in per_sli.values())
    baseline_named = sum(t["baseline_named"] for t in per_sli.values())
    return {
        "windows": total,
        "specificity": 1 - named / total if total else math.nan,
        "baseline_specificity": 1 - baseline_named / total if total else math.nan,
        "per_sli": {
            sli: {
                **t,
                "specificity": 1 - t["named"] / t["windows"],
                "baseline_specificity": 1 - t["baseline_named"] / t["windows"],
            }
            for sli, t in sorted(per_sli.items())
        },
        "named_examples": named_examples,
    }


def published_protocol_specificity(scenario: Scenario, settings: MethodSettings) -> dict[str, Any]:
    """Specificity the way the dataset's own code measures it, for a like-for-like comparison.

    For each alerting SLI and each split point from half the normal data to its end in steps of a
    tenth, the steps before the split are the normal operation and the rest (long: up to half of it)
    the "abnormal" window, whose third step is the trigger. The method under test reads the trigger
    as an alert in that step (so it looks at the steps around it); the re-implemented baseline
    searches the whole remaining window for an anomalous target, as published.
    """
    if scenario.normal is None:
        return {}
    normal = scenario.normal
    steps = len(normal)
    slis = sorted({(i.target.node, i.target.metric, i.target.agg) for i in scenario.issues})
    splits = list(range(steps // 2, steps - 3, int(steps * 0.1)))
    named = baseline_named = 0
    for split in splits:
        history = normal.rows(0, split)
        noise = normal_noise(history)
        abnormal = normal.rows(split, steps)
        for node, metric, agg in slis:
            target = Target(node, metric, agg, abnormal.times[2].timestamp() + 1.0)
            named += analyze(abnormal, scenario.graph, target, noise, settings).ranking.named is not None
            baseline_named += bool(baseline_rank(abnormal, scenario.graph, target, history))
    windows = len(splits) * len(slis)
    return {
        "windows": windows,
        "specificity": 1 - named / windows if windows else math.nan,
        "baseline_specificity": 1 - baseline_named / windows if windows else math.nan,
    }


def _without_rows(table: MetricTable, start: int, stop: int) -> MetricTable:
    keep = [i for i in range(len(table)) if not start <= i < stop]
    return MetricTable(
        tuple(table.times[i] for i in keep),
        {c: {m: v[keep] for m, v in by_metric.items()} for c, by_metric in table.series.items()},
    )


def run_injections(
    scenarios: Sequence[Scenario],
    settings: MethodSettings,
    *,
    trials: int,
    seed: int,
    length: int,
    on_trial: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Synthetic faults on random components, in normal windows and in issue windows; where does the injected one rank?"""
    rng = random.Random(seed)
    results: dict[str, Any] = {}
    for scenario in scenarios:
        per_background: dict[str, list[dict[str, Any]]] = {"normal": [], "issue": []}
        backgrounds: list[tuple[str, MetricTable, NoiseModel, str | None, Target]] = []
        for issue in scenario.issues:
            noise = normal_noise(scenario.normal)
            backgrounds.append(("issue", issue.metrics, noise, issue.root_cause, issue.target))
        normal_starts = (
            list(range(0, len(scenario.normal) - length + 1, length)) if scenario.normal is not None else []
        )
        target_nodes = sorted({i.target.node for i in scenario.issues})
        for trial in range(trials):
            kind = "normal" if normal_starts and trial % 2 == 0 else "issue"
            fault = rng.choice(["latency", "availability"])
            if kind == "normal":
                assert scenario.normal is not None
                start = rng.choice(normal_starts)
                table = scenario.normal.rows(start, start + length)
                noise = normal_noise(scenario.normal, (start, start + length))
                real_root: str | None = None
                target_node = rng.choice(target_nodes)
            else:
                if not backgrounds:
                    continue
                _, table, noise, real_root, issue_target = rng.choice(backgrounds)
                target_node = issue_target.node
            injected = inject_fault(
                table, scenario.graph, target_node, fault, rng, exclude=[real_root] if real_root else []
            )
            if injected is None:
                continue
            modified, injection = injected
            alert = modified.times[1].timestamp() + rng.uniform(0.0, 300.0)
            agg = "Average"
            target = Target(target_node, fault, agg, alert)
            analysis = analyze(modified, scenario.graph, target, noise, settings)
            ranked = [c.component for c in analysis.ranking.candidates]
            per_background[kind].append(
                {
                    "fault": fault,
                    "root": injection.root,
                    "hops": len(injection.path) - 1,
                    "rank": rank_of(ranked, injection.root),
                    "named": analysis.ranking.named,
                    "real": real_root,
                    "real_rank": rank_of(ranked, real_root),
                    "rank_without_real": rank_of([c for c in ranked if c != real_root], injection.root),
                }
            )
            if on_trial is not None:
                on_trial()
        results[scenario.name] = {
            kind: _injection_summary(rows) for kind, rows in per_background.items() if rows
        }
    return results


def _injection_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Where the injected component ranked; with a real fault in the background, also without it."""
    summary: dict[str, Any] = {
        **summarize_ranks([row["rank"] for row in rows]),
        "named_correct": sum(1 for row in rows if row["named"] == row["root"]) / len(rows),
        # Naming the real (background) fault is not a mistake; naming anything else is.
        "named_wrong": sum(1 for row in rows if row["named"] not in (None, row["root"], row["real"]))
        / len(rows),
        "abstained": sum(1 for row in rows if row["named"] is None) / len(rows),
        "by_fault": {
            fault: summarize_ranks([row["rank"] for row in rows if row["fault"] == fault])
            for fault in sorted({row["fault"] for row in rows})
        },
    }
    if any(row["real_rank"] is not None for row in rows):
        # Two concurrent causes: the injected one may rightly rank behind the real one.
        summary["without_real_root"] = summarize_ranks([row["rank_without_real"] for row in rows])
        summary["named_real"] = sum(1 for row in rows if row["named"] == row["real"]) / len(rows)
        summary["both_in_top3"] = sum(
            1 for row in rows if (row["rank"] or TOP_K + 1) <= 3 and (row["real_rank"] or TOP_K + 1) <= 3
        ) / len(rows)
    summary["misses"] = [
        {"root": row["root"], "fault": row["fault"], "rank": row["rank"], "hops": row["hops"]}
        for row in rows
        if row["rank"] != 1
    ][:15]
    return summary


def run_benchmark(
    path: Path,
    out_dir: Path | None,
    on_progress: ProgressCallback | None = None,
    *,
    settings: MethodSettings | None = None,
    injection_trials: int = DEFAULT_INJECTION_TRIALS,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Run the PetShop benchmark on the dataset at ``path``; write ``results.json`` into ``out_dir``.

    Returns the same dictionary. ``on_progress(stage, done, total)`` is called after each issue,
    normal window and injection trial. ``injection_trials`` per scenario (0 disables the synthetic
    part). Raises `DatasetError` (naming the file) when ``path`` does not have the PetShop layout.
    """
    settings = settings or MethodSettings()
    started = time.monotonic()
    scenarios = load_dataset(path)
    issue_length = _issue_length(scenarios)
    alert_offset = _alert_offset(scenarios)
    total_issues = sum(len(s.issues) for s in scenarios)
    total_windows = sum(len(normal_windows(s, issue_length, alert_offset)) for s in scenarios)
    progress = on_progress or (lambda stage, done, total: None)

    rows: list[dict[str, Any]] = []
    tallies: dict[str, _Tally] = {}
    overall = _Tally()
    done = 0
    for scenario in scenarios:
        noise = normal_noise(scenario.normal)
        for issue in scenario.issues:
            row = evaluate_issue(scenario, issue, noise, settings)
            rows.append(row)
            for tally in (tallies.setdefault(scenario.name, _Tally()), overall):
                tally.ranks.append(row["rank"])
                tally.named_hits += row["named"] is not None and row["named"] == issue.root_cause
                tally.abstained += row["abstained"]
                tally.labels.append(issue.root_cause)
                if scenario.normal is not None:
                    tally.baseline_ranks.append(row["baseline_rank"])
            done += 1
            progress("issues", done, total_issues)

    windows_done = 0

    def window_done() -> None:
        nonlocal windows_done
        windows_done += 1
        progress("normal windows", windows_done, total_windows)

    specificity = {
        s.name: evaluate_normal_windows(
            s, settings, length=issue_length, alert_offset_s=alert_offset, on_window=window_done
        )
        for s in scenarios
        if s.normal is not None
    }
    published_protocol = {
        s.name: published_protocol_specificity(s, settings) for s in scenarios if s.normal is not None
    }
    trials_done = 0

    def trial_done() -> None:
        nonlocal trials_done
        trials_done += 1
        progress("synthetic injections", trials_done, injection_trials * len(scenarios))

    synthetic = (
        run_injections(
            scenarios, settings, trials=injection_trials, seed=seed, length=issue_length, on_trial=trial_done
        )
        if injection_trials > 0
        else {}
    )

    per_scenario = {}
    for scenario in scenarios:
        summary = tallies[scenario.name].summary() if scenario.name in tallies else {}
        spec = specificity.get(scenario.name)
        per_scenario[scenario.name] = {
            **summary,
            "specificity": spec["specificity"] if spec else None,
            "baseline_specificity": spec["baseline_specificity"] if spec else None,
            "normal_windows": spec["windows"] if spec else 0,
        }
    all_windows = sum(s["windows"] for s in specificity.values())
    named = sum(s["windows"] * (1 - s["specificity"]) for s in specificity.values())
    baseline_named = sum(s["windows"] * (1 - s["baseline_specificity"]) for s in specificity.values())
    overall_summary = overall.summary()
    results: dict[str, Any] = {
        "benchmark": "petshop",
        "dataset": str(path),
        "splits": sorted({row["split"] for row in rows}),
        "settings": {
            "ranking": dataclasses.asdict(settings.ranking),
            "onset_threshold": settings.onset_threshold,
            "incident_steps": settings.incident_steps,
            "use_normal_noise": settings.use_normal_noise,
        },
        "method": (
            "agents.analytics.analyze_incident: onset of the alerting SLI from the step containing the alert; "
            "every component metric scored as (value - median of the steps before the alert step) / noise scale "
            "(log scale for latency and requests, error points for availability; scale = max of the normal-operation "
            "step-to-step spread, the sampling noise given the component's requests, and a floor); component score "
            "= 2nd-best latency statistic (latency alerts) or availability (availability alerts); ranked over the "
            "target's dependency closure, discounted when a dependency's relative move explains it and when the "
            "path from the target crosses healthy components; abstains below 5 or when the runner-up is within 75 %."
        ),
        "ac1": overall_summary["ac1"],
        "ac3": overall_summary["ac3"],
        "avg5": overall_summary["avg5"],
        "specificity": 1 - named / all_windows if all_windows else None,
        "majority_floor": overall_summary["majority_floor"]["ac1"],
        "overall": {
            **overall_summary,
            "specificity": 1 - named / all_windows if all_windows else None,
            "baseline_specificity": 1 - baseline_named / all_windows if all_windows else None,
            "normal_windows": all_windows,
        },
        "per_scenario": per_scenario,
        "normal_windows": {
            "how": (
                f"non-overlapping windows of {issue_length} steps (the issue windows' length) over each "
                f"scenario's noissue metrics, one per alerting SLI of the scenario's issues (node, metric, "
                f"statistic from target.json); the fictitious alert fires {alert_offset:.0f} s into the "
                "second step (the issues' median); the noise model leaves the window out. Temporal scenarios "
                "have no noissue data, so no windows."
            ),
            "per_scenario": specificity,
        },
        "specificity_published_protocol": {
            "how": (
                "the dataset's evaluate_specificity: per alerting SLI, split points from half the noissue data "
                "to its end every tenth; before the split = normal operation, after = the 'abnormal' window "
                "whose third step is the trigger (here: the alert step)"
            ),
            "per_scenario": published_protocol,
        },
        "baseline": (
            "the dataset's published method re-implemented (MAD score > 5 against noissue on the target's metric "
            "and statistic, third step or the next one where the target is anomalous, anomalous nodes without "
            "anomalous callees reaching the target through anomalous nodes, ranked by summed scores); "
            "n/a where there is no noissue data"
        ),
        "synthetic_injection": {
            "how": (
                "faults written into copies of normal windows and issue windows at a random component of the "
                "target's dependency closure (never the labelled root), propagated to the target along the "
                "shortest call path scaled by relative traffic; latency faults grow the target's average latency "
                "15-60 %, availability faults remove 2-8 points; the alert is set in the second step and the "
                "fault starts in the third. 'issue' backgrounds keep the real fault: two concurrent causes."
            ),
            "trials_per_scenario": injection_trials,
            "seed": seed,
            "per_scenario": synthetic,
        },
        "issues": rows,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(_json_safe(results), indent=2) + "\n")
    log.info(
        "petshop.done",
        issues=len(rows),
        ac1=results["ac1"],
        ac3=results["ac3"],
        specificity=results["specificity"],
        elapsed_s=results["elapsed_s"],
        out=str(out_dir) if out_dir is not None else None,
    )
    return results


def _issue_length(scenarios: Sequence[Scenario]) -> int:
    lengths = [len(issue.metrics) for s in scenarios for issue in s.issues]
    return int(np.median(lengths)) if lengths else 5


def _alert_offset(scenarios: Sequence[Scenario]) -> float:
    """Median seconds between the start of the step containing the alert and the alert itself."""
    offsets = []
    for scenario in scenarios:
        for issue in scenario.issues:
            epochs = [t.timestamp() for t in issue.metrics.times]
            index = int(np.searchsorted(epochs, issue.target.timestamp, side="right")) - 1
            if 0 <= index < len(epochs):
                offsets.append(issue.target.timestamp - epochs[index])
    return float(np.median(offsets)) if offsets else 150.0


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def format_summary(results: Mapping[str, Any]) -> str:
    """A short table of the headline figures, for the terminal."""
    lines = [
        f"{'scenario':20s} {'n':>3s} {'ac1':>6s} {'ac3':>6s} {'avg5':>6s} {'spec':>6s} {'floor':>6s} {'base1':>6s} {'base3':>6s} {'bspec':>6s}"
    ]

    def cell(value: Any) -> str:
        return f"{value:6.3f}" if isinstance(value, float) and math.isfinite(value) else f"{'n/a':>6s}"

    for name, row in [*results["per_scenario"].items(), ("overall", results["overall"])]:
        baseline = row.get("baseline") or {}
        lines.append(
            f"{name:20s} {row.get('n', 0):3d} {cell(row.get('ac1'))} {cell(row.get('ac3'))} {cell(row.get('avg5'))} "
            f"{cell(row.get('specificity'))} {cell((row.get('majority_floor') or {}).get('ac1'))} "
            f"{cell(baseline.get('ac1'))} {cell(baseline.get('ac3'))} {cell(row.get('baseline_specificity'))}"
        )
    synthetic = results.get("synthetic_injection", {}).get("per_scenario", {})
    if synthetic:
        lines.append("synthetic injection (injected component's rank):")
        for name, backgrounds in synthetic.items():
            for kind, summary in backgrounds.items():
                without = summary.get("without_real_root")
                lines.append(
                    f"  {name:18s} {kind:7s} n={summary['n']:3d} ac1={summary['ac1']:.3f} ac3={summary['ac3']:.3f} "
                    f"named_correct={summary['named_correct']:.3f} named_wrong={summary['named_wrong']:.3f}"
                    + (
                        f" | without the real root: ac1={without['ac1']:.3f} ac3={without['ac3']:.3f}"
                        if without
                        else ""
                    )
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.benchmarks.petshop",
        description=(
            "Rank root causes on the PetShop dataset (metrics + call graph only) and write results.json "
            "with ac1, ac3, avg5, specificity, a majority floor, the published baseline re-run on the same "
            "windows, and synthetic fault injections."
        ),
    )
    parser.add_argument("path", type=Path, help="dataset root holding low_traffic/, high_traffic/, ...")
    parser.add_argument(
        "--out", type=Path, default=None, help="directory for results.json (default: print only)"
    )
    parser.add_argument(
        "--inject",
        type=int,
        default=DEFAULT_INJECTION_TRIALS,
        help="synthetic injection trials per scenario (0: none)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the synthetic injections")
    parser.add_argument(
        "--ranking",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "override a RankingConfig field for a sensitivity run, e.g. --ranking lead_ratio=0.6 "
            f"(fields: {', '.join(f.name for f in dataclasses.fields(RankingConfig))})"
        ),
    )
    parser.add_argument(
        "--onset-threshold",
        type=float,
        default=MethodSettings().onset_threshold,
        help="noise units (default 4)",
    )
    parser.add_argument(
        "--no-noise-model",
        action="store_true",
        help="ablation: ignore the noissue data when scoring (sampling floors only, as in the temporal scenarios)",
    )
    args = parser.parse_args(argv)
    try:
        overrides = _parse_overrides(args.ranking)
    except ValueError as error:
        parser.error(str(error))
    settings = MethodSettings(
        ranking=RankingConfig(**overrides),
        onset_threshold=args.onset_threshold,
        use_normal_noise=not args.no_noise_model,
    )

    def show(stage: str, done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            print(
                f"\r{stage}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True
            )

    try:
        results = run_benchmark(
            args.path, args.out, show, settings=settings, injection_trials=args.inject, seed=args.seed
        )
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(results))
    if args.out is not None:
        print(f"wrote {args.out / 'results.json'}")
    return 0


def _parse_overrides(pairs: Sequence[str]) -> dict[str, float]:
    known = {f.name for f in dataclasses.fields(RankingConfig)}
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in known:
            raise ValueError(f"--ranking {pair!r}: unknown field {key!r} (known: {', '.join(sorted(known))})")
        try:
            overrides[key] = float(value)
        except ValueError as error:
            raise ValueError(f"--ranking {pair!r}: {value!r} is not a number") from error
    return overrides


if __name__ == "__main__":
    raise SystemExit(main())
