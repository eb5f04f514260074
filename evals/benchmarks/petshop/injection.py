"""Synthetic fault injection into normal windows: tests the method where the real labels cannot."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agents.analytics.graph import hop_distances, normalize_graph, reverse_graph
from evals.benchmarks.petshop.dataset import MetricTable


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
