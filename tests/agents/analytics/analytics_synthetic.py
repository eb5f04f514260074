"""A small synthetic microservice world for the analytics tests (not a test module).

Requests flow down a call graph: a callee serves ``calls`` requests per request of each caller, a
caller's mean latency is its own work plus the latency of what it calls (weighted by calls per
request), and a failed call fails the caller's request. Averages are noisy in proportion to
1/sqrt(requests), like real per-step aggregates. Faults add latency or errors to one component from a
given step on, and the physics above carries them to its callers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

START = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=1)

# frontend calls search (which calls db) and cart (which calls db and cache). "edge" is a thin
# load-balancer entry the frontend also calls, with few requests: a classic ambiguous sibling.
GRAPH: dict[str, list[str]] = {
    "frontend": ["search", "cart", "edge"],
    "search": ["db"],
    "cart": ["db", "cache"],
    "db": [],
    "cache": [],
    "edge": [],
    "batch": ["cache"],  # outside the frontend's dependency closure
}
OWN_LATENCY = {
    "frontend": 0.040,
    "search": 0.010,
    "cart": 0.015,
    "db": 0.004,
    "cache": 0.001,
    "edge": 0.002,
    "batch": 0.2,
}
CALLS = {
    ("frontend", "search"): 1.5,
    ("frontend", "cart"): 0.3,
    ("frontend", "edge"): 0.05,
    ("search", "db"): 1.0,
    ("cart", "db"): 2.0,
    ("cart", "cache"): 3.0,
    ("batch", "cache"): 1.0,
}
ENTRY_TRAFFIC = {"frontend": 600.0, "batch": 20.0}


@dataclass(frozen=True)
class Fault:
    component: str
    start: int
    extra_latency: float = 0.0
    error_rate: float = 0.0


@dataclass
class Telemetry:
    times: list[datetime]
    metrics: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def window(self, start: int, stop: int) -> Telemetry:
        return Telemetry(
            self.times[start:stop],
            {c: {m: v[start:stop] for m, v in by_metric.items()} for c, by_metric in self.metrics.items()},
        )


def _order(graph: Mapping[str, Sequence[str]]) -> list[str]:
    """Callees before callers."""
    seen: list[str] = []

    def visit(node: str) -> None:
        if node in seen:
            return
        for callee in graph.get(node, ()):
            visit(callee)
        seen.append(node)

    for node in sorted(graph):
        visit(node)
    return seen


def simulate(
    steps: int, *, faults: Sequence[Fault] = (), seed: int = 1, graph: Mapping[str, Sequence[str]] = GRAPH
) -> Telemetry:
    rng = random.Random(seed)
    order = _order(graph)
    callers: dict[str, list[str]] = {node: [] for node in graph}
    for caller, callees in graph.items():
        for callee in callees:
            callers[callee].append(caller)
    telemetry = Telemetry([START + i * STEP for i in range(steps)])
    for node in graph:
        telemetry.metrics[node] = {
            "latency.Average": [],
            "latency.p99": [],
            "availability.Average": [],
            "requests.Sum": [],
        }
    for step in range(steps):
        requests: dict[str, float] = {}
        for node in reversed(order):  # callers before callees
            entry = ENTRY_TRAFFIC.get(node, 0.0) * (1.0 + 0.05 * rng.gauss(0, 1))
            requests[node] = entry + sum(requests[c] * CALLS.get((c, node), 1.0) for c in callers[node])
        latency: dict[str, float] = {}
        errors: dict[str, float] = {}
        for node in order:  # callees before callers
            active = [f for f in faults if f.component == node and step >= f.start]
            own = OWN_LATENCY[node] + sum(f.extra_latency for f in active)
            below = sum(CALLS.get((node, callee), 1.0) * latency[callee] for callee in graph.get(node, ()))
            latency[node] = own + below
            own_errors = sum(f.error_rate for f in active)
            below_errors = sum(CALLS.get((node, callee), 1.0) * errors[callee] for callee in graph.get(node, ()))
            errors[node] = min(own_errors + below_errors, 1.0)
        for node in graph:
            n = max(int(round(requests[node])), 1)
            noisy = latency[node] * math.exp(rng.gauss(0, 1) / math.sqrt(n))
            rate = errors[node]
            spread = math.sqrt(n * rate * (1 - rate))
            failed = min(max(round(n * rate + rng.gauss(0, 1) * spread), 0), n) if rate > 0 else 0
            series = telemetry.metrics[node]
            series["latency.Average"].append(noisy)
            series["latency.p99"].append(noisy * 3.0 * math.exp(rng.gauss(0, 0.1)))
            series["availability.Average"].append(100.0 * (1 - failed / n))
            series["requests.Sum"].append(float(n))
    return telemetry
