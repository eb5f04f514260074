"""Simulated Prometheus metrics, computed lazily from each service's conditions over time.

Series, per service (labels ``service``, ``namespace``, ``job`` plus those shown):

- ``http_requests_total{code="200"|"500", method}`` counters (not for databases),
- ``http_request_duration_seconds_bucket{le}``, ``_sum``, ``_count`` (a log-normal latency whose
  median and 99th percentile follow the service's p50 and p99),
- ``pg_queries_total``, ``pg_errors_total``, ``pg_connections_in_use``, ``pg_connections_max``
  (databases),
- ``container_cpu_usage_ratio``, ``container_memory_usage_ratio``, ``up`` (everything in the cluster),
- the service's extra ``gauges`` (disk usage, pool connections, queue depth, certificate expiry...),
  with their own labels.

A fault with ``metrics_missing`` leaves only ``up`` (at 0) while it lasts, as a failed scrape does.

Every caller also exports what its client sees of each dependency, in the OpenTelemetry semantic
conventions as the OpenTelemetry Prometheus exporter writes them (labels ``service``, ``namespace``,
``job`` of the caller, ``server_address`` the callee):

- ``http_client_request_duration_seconds_bucket{le}``, ``_sum``, ``_count`` toward a service,
  cache, queue or external API, one histogram per outcome: ``http_response_status_code="200"``,
  ``http_response_status_code="500", error_type="500"`` (the callee answered an error), and
  ``error_type="timeout"`` (or ``dns``, ``tls``...: the call failed before any answer);
- ``db_client_operation_duration_seconds_bucket{le}``, ``_sum``, ``_count`` toward a database
  (``db_system_name="postgresql"``), with ``error_type="_OTHER"`` for errors the database returned.

Counting calls is ``sum by (server_address) (rate(http_client_request_duration_seconds_count{service="web"}[5m]))``.

Samples sit on a 15 s grid anchored at the alert time, from three hours before it up to the clock's
now; nothing exists beyond now. A service's arrays are computed on the first query that touches
it and recomputed only when the clock crosses a step or an action changes the world. Noise comes
from per-hour blocks seeded by (scenario seed, service, stream, block), so extending the window
never changes samples already served, and the same seed always yields the same data.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from evals.sim.faults import Conditions, EdgeConditions, edge_error_types, lognormal_sigma
from evals.sim.scenario import Scenario, ServiceSpec

FloatArray = npt.NDArray[np.float64]

STEP_SECONDS = 15.0
HISTORY_SECONDS = 3 * 3600.0
# prometheus_client's default latency buckets.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, math.inf)
_NOISE_BLOCK = 240  # steps per noise block: one hour at 15 s
_ERROR_CODE = "500"


_erf = np.frompyfunc(math.erf, 1, 1)


def normal_cdf(x: FloatArray | float) -> FloatArray:
    """Φ(x), vectorised (scipy.special.ndtr would cost ~0.4 s of import time for this one use)."""
    return np.asarray(0.5 * (1.0 + _erf(np.asarray(x, dtype=np.float64) / math.sqrt(2.0))), dtype=np.float64)


def stable_hash(*parts: object) -> int:
    """A process-independent 32-bit hash (Python's ``hash`` is salted per process)."""
    return zlib.crc32("\x1f".join(str(p) for p in parts).encode())


def format_le(bound: float) -> str:
    """Bucket bounds as the Go client writes them: ``0.005``, ``1``, ``+Inf``."""
    return "+Inf" if math.isinf(bound) else np.format_float_positional(bound, trim="-")


@dataclass(frozen=True)
class SeriesDef:
    labels: dict[str, str]
    service: str
    column: str


@dataclass
class _Frame:
    times: FloatArray
    present: npt.NDArray[np.bool_]
    columns: dict[str, FloatArray]


ConditionsFn = Callable[[str, FloatArray], Conditions]
EdgeConditionsFn = Callable[[str, str, FloatArray], EdgeConditions]
_EDGE = "edge|"  # frame keys of a caller's view of a dependency: edge|<caller>|<callee>


class Telemetry:
    """The metrics side of the world; implements `evals.sim.promql.SeriesSource`."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        anchor: float,
        conditions: ConditionsFn,
        now: Callable[[], float],
        version: Callable[[], int],
        edge_conditions: EdgeConditionsFn | None = None,
    ) -> None:
        self.scenario = scenario
        self._edge_conditions = edge_conditions
        self.anchor = anchor
        self._conditions = conditions
        self._now = now
        self._version = version
        self._series: list[SeriesDef] = []
        for spec in scenario.topology.services:
            self._series.extend(_series_for(spec))
        if edge_conditions is not None:
            for spec in scenario.topology.services:
                for dependency in spec.dependencies:
                    self._series.extend(_edge_series_for(scenario, spec, scenario.service(dependency)))
        self._labels: list[Mapping[str, str]] = [s.labels for s in self._series]
        self._frames: dict[str, tuple[tuple[int, int], _Frame]] = {}
        self._noise_blocks: dict[tuple[str, str, int], FloatArray] = {}

    # -- SeriesSource
    def label_sets(self) -> Sequence[Mapping[str, str]]:
        return self._labels

    def samples(self, index: int, start: float, end: float) -> tuple[FloatArray, FloatArray]:
        series = self._series[index]
        frame = self._frame(series.service)
        lo = int(np.searchsorted(frame.times, start, side="left"))
        hi = int(np.searchsorted(frame.times, end, side="right"))
        times = frame.times[lo:hi]
        values = frame.columns[series.column][lo:hi]
        if series.column == "up":
            return times, values
        mask = frame.present[lo:hi]
        return times[mask], values[mask]

    # -- generation
    def last_step(self) -> int:
        return math.floor((self._now() - self.anchor) / STEP_SECONDS)

    def _frame(self, service: str) -> _Frame:
        key = (self.last_step(), self._version())
        cached = self._frames.get(service)
        if cached is not None and cached[0] == key:
            return cached[1]
        if service.startswith(_EDGE):
            caller, callee = service.removeprefix(_EDGE).split("|")
            frame = self._build_edge(caller, callee, key[0])
        else:
            frame = self._build(self.scenario.service(service), key[0])
        self._frames[service] = (key, frame)
        return frame

    def noise(self, service: str, stream: str, first: int, last: int) -> FloatArray:
        """Standard normal noise for steps first..last, stable whatever window is asked for."""
        blocks = []
        for block in range(first // _NOISE_BLOCK, last // _NOISE_BLOCK + 1):
            cache_key = (service, stream, block)
            values = self._noise_blocks.get(cache_key)
            if values is None:
                rng = np.random.default_rng(
                    [self.scenario.seed & 0xFFFFFFFF, stable_hash(service), stable_hash(stream), block + 1_000_000]
                )
                values = rng.standard_normal(_NOISE_BLOCK)
                self._noise_blocks[cache_key] = values
            blocks.append(values)
        joined = np.concatenate(blocks)
        offset = first - (first // _NOISE_BLOCK) * _NOISE_BLOCK
        return joined[offset : offset + (last - first + 1)]

    def _counter_start(self, spec: ServiceSpec | str, stream: str, daily: float) -> float:
        """Where a counter stands at the first step: a process up for about a day, not zero."""
        name = spec if isinstance(spec, str) else spec.name
        rng = np.random.default_rng([self.scenario.seed & 0xFFFFFFFF, stable_hash(name), stable_hash(stream)])
        return float(math.floor(daily * (0.5 + rng.random())))

    def _counter(self, spec: ServiceSpec | str, stream: str, increments: FloatArray, daily: float) -> FloatArray:
        return np.floor(self._counter_start(spec, stream, daily) + np.cumsum(increments))

    def _build_edge(self, caller: str, callee: str, last: int) -> _Frame:
        """The caller's client histograms toward ``callee``, one per outcome (see the module docstring)."""
        first = -int(HISTORY_SECONDS / STEP_SECONDS)
        key = f"{_EDGE}{caller}|{callee}"
        columns_wanted = [s.column for s in self._series if s.service == key]
        if last < first or self._edge_conditions is None:
            empty = np.zeros(0)
            return _Frame(empty, np.zeros(0, dtype=bool), {c: empty for c in columns_wanted})
        steps = np.arange(first, last + 1)
        times: FloatArray = (self.anchor + steps * STEP_SECONDS).astype(np.float64)
        own = self._conditions(caller, times)
        edge = self._edge_conditions(caller, callee, times)
        present = own.available & own.scraped  # the caller exports these; they vanish with its scrape
        name = f"{caller}>{callee}"
        calls = np.maximum(edge.request_rate * (1 + 0.04 * self.noise(name, "rate", first, last)), 0.0) * STEP_SECONDS
        calls = calls * own.available
        daily = float(edge.request_rate[0]) * 86400 if len(edge.request_rate) else 0.0
        jitter = 1 + 0.12 * self.noise(name, "errors", first, last)
        outcomes: dict[str, FloatArray] = {}
        failed = np.zeros(len(times))
        for error_type, share in sorted(edge.failures.items()):
            outcomes[f"fail:{error_type}"] = calls * np.clip(share * jitter, 0.0, 1.0)
            failed = failed + outcomes[f"fail:{error_type}"]
        outcomes["error"] = np.minimum(calls * np.clip(edge.server_errors * jitter, 0.0, 1.0), calls - failed)
        outcomes["ok"] = np.maximum(calls - failed - outcomes["error"], 0.0)
        mu = np.log(edge.latency_p50 * np.exp(0.02 * self.noise(name, "latency", first, last)))
        sigma = lognormal_sigma(edge.latency_p50, edge.latency_p99)
        mean = np.exp(mu + sigma**2 / 2)
        columns: dict[str, FloatArray] = {}
        for outcome, increments in outcomes.items():
            # One start per histogram, scaled per bucket, so that buckets, count and sum agree.
            share_of_day = daily * (0.98 if outcome == "ok" else 0.01)
            stream = f"{outcome}|histogram"
            for bound in BUCKETS:
                below = 1.0 if math.isinf(bound) else normal_cdf((math.log(bound) - mu) / sigma)
                first_below = 1.0 if math.isinf(bound) else float(np.asarray(below)[0])
                columns[f"{outcome}|bucket|{format_le(bound)}"] = self._counter(
                    name, stream, increments * below, share_of_day * first_below
                )
            columns[f"{outcome}|count"] = columns[f"{outcome}|bucket|+Inf"]
            start_sum = self._counter_start(name, stream, share_of_day) * float(mean[0])
            columns[f"{outcome}|sum"] = np.round(start_sum + np.cumsum(increments * mean), 3)
        return _Frame(times, present, {c: columns[c] for c in columns_wanted})

    def _build(self, spec: ServiceSpec, last: int) -> _Frame:
        first = -int(HISTORY_SECONDS / STEP_SECONDS)
        if last < first:
            empty = np.zeros(0)
            return _Frame(
                empty, np.zeros(0, dtype=bool), {s.column: empty for s in self._series if s.service == spec.name}
            )
        steps = np.arange(first, last + 1)
        times: FloatArray = (self.anchor + steps * STEP_SECONDS).astype(np.float64)
        cond = self._conditions(spec.name, times)
        served = cond.available.astype(np.float64)
        # Where the scrape fails, Prometheus records up=0 and nothing else (the service may well be serving).
        present = cond.available & cond.scraped
        name = spec.name

        requests = (
            np.maximum(cond.request_rate * (1 + 0.04 * self.noise(name, "rate", first, last)), 0.0)
            * STEP_SECONDS
            * served
        )
        error_share = np.clip(cond.error_ratio * (1 + 0.12 * self.noise(name, "errors", first, last)), 0.0, 1.0)
        errors = requests * error_share
        daily = spec.baseline.request_rate * 86400
        cpu = np.clip(cond.saturation + 0.015 * self.noise(name, "cpu", first, last), 0.0, 1.0)
        memory = np.clip(cond.memory + 0.005 * self.noise(name, "memory", first, last), 0.0, 1.0)
        columns: dict[str, FloatArray] = {
            "up": present.astype(np.float64),
            "cpu": np.round(cpu, 4),
            "memory": np.round(memory, 4),
        }
        for index, gauge in enumerate(spec.gauges):
            values = cond.gauges[index]
            if gauge.noise:
                values = values * (1 + gauge.noise * self.noise(name, f"gauge:{index}", first, last))
            columns[f"gauge|{index}"] = np.round(values) if gauge.integer else np.round(values, 6)
        if spec.kind == "database":
            columns["pg_queries"] = self._counter(spec, "pg_queries", requests, daily)
            columns["pg_errors"] = self._counter(spec, "pg_errors", errors, daily * spec.baseline.error_ratio)
            in_use = np.round(cpu * spec.baseline.max_connections)
            columns["pg_connections_in_use"] = in_use
            columns["pg_connections_max"] = np.full(len(times), float(spec.baseline.max_connections))
            return _Frame(times, present, columns)

        shares = _method_shares(spec)
        for method, share in shares.items():
            ok_column, error_column = f"requests|200|{method}", f"requests|{_ERROR_CODE}|{method}"
            columns[ok_column] = self._counter(spec, ok_column, (requests - errors) * share, daily * share)
            columns[error_column] = self._counter(
                spec, error_column, errors * share, daily * share * spec.baseline.error_ratio
            )
        mu = np.log(cond.latency_p50 * np.exp(0.02 * self.noise(name, "latency", first, last)))
        sigma = lognormal_sigma(cond.latency_p50, cond.latency_p99)
        base_mu = math.log(spec.baseline.latency_p50)
        base_sigma = float(lognormal_sigma(spec.baseline.latency_p50, spec.baseline.latency_p99))
        for bound in BUCKETS:
            share_below = 1.0 if math.isinf(bound) else normal_cdf((math.log(bound) - mu) / sigma)
            base_share = 1.0 if math.isinf(bound) else float(normal_cdf((math.log(bound) - base_mu) / base_sigma))
            column = f"bucket|{format_le(bound)}"
            columns[column] = self._counter(spec, "histogram", requests * share_below, daily * base_share)
        columns["count"] = columns["bucket|+Inf"]
        mean = np.exp(mu + sigma**2 / 2)
        # The histogram's buckets, count and sum share one start so that they stay consistent.
        start_sum = self._counter_start(spec, "histogram", daily) * math.exp(base_mu + base_sigma**2 / 2)
        columns["sum"] = np.round(start_sum + np.cumsum(requests * mean), 3)
        return _Frame(times, present, columns)


def _edge_series_for(scenario: Scenario, caller: ServiceSpec, callee: ServiceSpec) -> list[SeriesDef]:
    """The caller's client histograms toward one dependency (nothing when the caller is external)."""
    if caller.kind == "external":
        return []
    key = f"{_EDGE}{caller.name}|{callee.name}"
    common = {"service": caller.name, "namespace": caller.namespace, "job": caller.name, "server_address": callee.name}
    if callee.kind == "database":
        metric = "db_client_operation_duration_seconds"
        common["db_system_name"] = "postgresql"
        outcomes = {"ok": {}, "error": {"error_type": "_OTHER"}}
    else:
        metric = "http_client_request_duration_seconds"
        outcomes = {
            "ok": {"http_response_status_code": "200"},
            "error": {"http_response_status_code": _ERROR_CODE, "error_type": _ERROR_CODE},
        }
    for error_type in edge_error_types(scenario, caller.name, callee.name):
        outcomes[f"fail:{error_type}"] = {"error_type": error_type}
    out = []
    for outcome, labels in outcomes.items():
        for bound in BUCKETS:
            le = format_le(bound)
            out.append(
                SeriesDef({"__name__": f"{metric}_bucket", **common, **labels, "le": le}, key, f"{outcome}|bucket|{le}")
            )
        out.append(SeriesDef({"__name__": f"{metric}_sum", **common, **labels}, key, f"{outcome}|sum"))
        out.append(SeriesDef({"__name__": f"{metric}_count", **common, **labels}, key, f"{outcome}|count"))
    return out


def _method_shares(spec: ServiceSpec) -> dict[str, float]:
    total = sum(spec.baseline.methods.values())
    return {method: share / total for method, share in sorted(spec.baseline.methods.items())}


def _series_for(spec: ServiceSpec) -> list[SeriesDef]:
    if spec.kind == "external":
        return []  # nothing of ours runs there, so nothing is scraped
    common = {"service": spec.name, "namespace": spec.namespace, "job": spec.name}

    def series(metric: str, column: str, labels: dict[str, str] | None = None, **extra: str) -> SeriesDef:
        return SeriesDef({"__name__": metric, **common, **(labels or {}), **extra}, spec.name, column)

    out = [
        series("up", "up", instance=f"{spec.name}.{spec.namespace}.svc:9090"),
        series("container_cpu_usage_ratio", "cpu"),
        series("container_memory_usage_ratio", "memory"),
    ]
    out += [series(gauge.name, f"gauge|{index}", gauge.labels) for index, gauge in enumerate(spec.gauges)]
    if spec.kind == "database":
        out += [
            series("pg_queries_total", "pg_queries"),
            series("pg_errors_total", "pg_errors"),
            series("pg_connections_in_use", "pg_connections_in_use"),
            series("pg_connections_max", "pg_connections_max"),
        ]
        return out
    for method in _method_shares(spec):
        for code in ("200", _ERROR_CODE):
            out.append(series("http_requests_total", f"requests|{code}|{method}", code=code, method=method))
    for bound in BUCKETS:
        out.append(series("http_request_duration_seconds_bucket", f"bucket|{format_le(bound)}", le=format_le(bound)))
    out.append(series("http_request_duration_seconds_sum", "sum"))
    out.append(series("http_request_duration_seconds_count", "count"))
    return out
