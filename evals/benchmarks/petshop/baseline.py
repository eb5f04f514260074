"""The dataset's published baseline, re-implemented: MAD anomaly scores against normal operation plus
graph traversal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from agents.analytics.graph import normalize_graph
from agents.analytics.metrics import FloatArray
from evals.benchmarks.petshop.dataset import MetricTable, Target


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
