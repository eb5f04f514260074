"""Each call edge's latency at both of its ends, read from a service mesh's per-edge series.

A mesh's sidecars report every request twice: at the caller (request sent to response received:
the callee's work plus the network between them) and at the callee (its work only). The pair is
what separates a slow callee, a slow network into it and a caller waiting on either
(`agents.analytics.edges`). `EdgeLatencySettings` says which query answers them and which labels
name the caller, the callee and the end; this module turns the query's series into
`EdgeLatency` rows aligned on one grid of steps.

Pure and deterministic: no names are read but the labels the settings name.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime

from agents.analytics.edges import EdgeLatency, ServiceSignals
from agents.analytics.metrics import classify_metric
from agents.settings import EdgeLatencySettings
from tools.prometheus import Series


def edges_from_series(
    series: Iterable[Series], settings: EdgeLatencySettings, names: Iterable[str]
) -> tuple[list[datetime], list[EdgeLatency]]:
    """The grid of steps the series share and every edge between two of ``names`` with a sample at
    either end; an end with no sample at a step is NaN there. Several series for one edge and end
    (one per pod, say) keep the slowest value at each step: the worst replica is the one to see."""
    wanted = set(names)
    ends: dict[tuple[str, str], dict[str, dict[datetime, float]]] = {}
    for item in series:
        labels = item.metric
        caller, callee = labels.get(settings.caller_label, ""), labels.get(settings.callee_label, "")
        end = labels.get(settings.end_label, "")
        if caller not in wanted or callee not in wanted or caller == callee:
            continue
        if end not in (settings.caller_end, settings.callee_end):
            continue
        values = ends.setdefault((caller, callee), {}).setdefault(end, {})
        for at, value in item.points():
            if math.isfinite(value) and (at not in values or value > values[at]):
                values[at] = value
    grid = sorted({at for by_end in ends.values() for values in by_end.values() for at in values})
    edges = [
        EdgeLatency(
            caller=caller,
            callee=callee,
            caller_side=_on(grid, by_end.get(settings.caller_end, {})),
            callee_side=_on(grid, by_end.get(settings.callee_end, {})),
        )
        for (caller, callee), by_end in sorted(ends.items())
    ]
    return grid, [e for e in edges if _measured(e.caller_side) or _measured(e.callee_side)]


CLIENT_SIDE = ("client", "outbound", "upstream")
"""Words that make a latency series the caller's view of its callees (OpenTelemetry's ``http.client``,
Envoy's upstream timings): their time is the callees' problem, not what the service serves."""
NODE_PREFIX = "node_"
"""node_exporter's prefix: a node's CPU or memory is every tenant's, not the service's own saturation."""
IGNORED_LABELS = frozenset({"__name__", "service", "job", "namespace", "instance"})


def served_signals(
    series: Iterable[Series], grid: Sequence[datetime], names: Iterable[str]
) -> dict[str, ServiceSignals]:
    """Each of ``names``' own gauges by meaning, one entry per series (a pod's p90, another's p99):
    latency it serves (not the latency of calls it makes) and saturation, on ``grid``. The edge
    ranking compares every one with its own past and keeps the second worst, so one noisy
    percentile or replica is not enough."""
    wanted = set(names)
    found: dict[str, dict[str, dict[str, list[float]]]] = {}
    for item in series:
        service, name = item.metric.get("service", ""), item.metric.get("__name__", "")
        kind = classify_metric(name)
        if service not in wanted or kind not in ("latency", "saturation") or not grid:
            continue
        if kind == "latency" and any(word in name.lower() for word in CLIENT_SIDE):
            continue
        if name.startswith(NODE_PREFIX):  # the node's use, exported beside the pod's: not the service's own
            continue
        labels = ",".join(f"{k}={v}" for k, v in sorted(item.metric.items()) if k not in IGNORED_LABELS)
        values = dict(item.points())
        found.setdefault(service, {}).setdefault(kind, {})[f"{name}{{{labels}}}"] = _on(grid, values)
    return {service: ServiceSignals(**by_kind) for service, by_kind in sorted(found.items())}


def _on(grid: Sequence[datetime], values: dict[datetime, float]) -> list[float]:
    return [values.get(at, math.nan) for at in grid]


def _measured(values: Sequence[float]) -> bool:
    return any(math.isfinite(v) for v in values)
