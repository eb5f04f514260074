"""Fault timelines and their effect on a service's health over time.

A fault is active from its start until it ends by itself (``ends_at``) or an action fixes it,
whichever comes first. An action that worsens it multiplies its severity from that moment on.
`service_conditions` folds every fault that reaches a service (as its target, or through
propagation to the services that call the target) into per-time arrays of error ratio, latency,
traffic, saturation and availability, starting from the service's baseline.

A fault with ``effects.callers`` lives on the path between those callers and its target (a
partition, added latency, DNS or a certificate for one name): the callers see it, as if it had
propagated to them, while the target sees only the calls that never arrive (its traffic drops).
`edge_conditions` is what one caller's HTTP client sees of one dependency: the target's own health
(its errors and latency reach every caller) combined with the faults on that path.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from evals.sim.scenario import Fault, Scenario, ServiceSpec

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class FaultTimeline:
    """When one fault is active and how severe it is (1.0 = as the scenario describes it).

    ``relief`` holds the windows during which a mitigating action suspended the fault (it comes back
    at the end of each); ``build_start`` is when its build-up (``builds_from``) began.
    """

    fault: Fault
    start: float
    natural_end: float | None
    fixed_at: float | None = None
    fixed_by: str | None = None
    worsened: list[tuple[float, float]] = field(default_factory=list)
    build_start: float | None = None
    relief: list[tuple[float, float]] = field(default_factory=list)

    @property
    def end(self) -> float | None:
        ends = [t for t in (self.natural_end, self.fixed_at) if t is not None]
        return min(ends) if ends else None

    def _in_relief(self, times: FloatArray) -> BoolArray:
        mask = np.zeros(len(times), dtype=bool)
        for begin, until in self.relief:
            mask |= (times >= begin) & (times < until)
        return mask

    def _before_end(self, times: FloatArray) -> BoolArray:
        end = self.end
        return np.ones(len(times), dtype=bool) if end is None else times < end

    def active(self, times: FloatArray) -> BoolArray:
        return (times >= self.start) & self._before_end(times) & ~self._in_relief(times)

    def is_active(self, at: float) -> bool:
        return bool(self.active(np.array([at], dtype=np.float64))[0])

    def active_since(self, at: float) -> float:
        """When the stretch of activity that includes ``at`` began (after a relief, its end)."""
        return max([self.start, *(until for _, until in self.relief if until <= at)])

    def inactive_since(self, at: float) -> float | None:
        """When the fault stopped being active, if it is not active at ``at`` after having started."""
        if at < self.start or self.is_active(at):
            return None
        end = self.end
        if end is not None and at >= end:
            return end
        return max(begin for begin, until in self.relief if begin <= at < until)

    def build_up(self, times: FloatArray) -> FloatArray:
        """0 (healthy) to 1 (full effect) for the effects that build up: saturation, memory, gauges.

        Linear from ``build_start`` to the start, 1 while active, and after a relief linear again
        from 0 at its beginning to 1 at its end (a restarted leak refilling memory).
        """
        level = np.where(self.active(times), 1.0, 0.0)
        ramps = [(self.build_start, self.start)] if self.build_start is not None else []
        ramps += self.relief
        for begin, until in ramps:
            inside = (times >= begin) & (times < until)
            level = np.where(inside, (times - begin) / max(until - begin, 1e-9), level)
        return np.where(self._before_end(times), level, 0.0)

    def shown(self, times: FloatArray) -> BoolArray:
        """Where a step-shaped gauge effect shows: from the build-up (or start) until the fault is over."""
        begin = self.build_start if self.build_start is not None else self.start
        return (times >= begin) & self._before_end(times) & ~self._in_relief(times)

    def severity(self, times: FloatArray) -> FloatArray:
        result = np.ones(len(times))
        for at, factor in self.worsened:
            result = np.where(times >= at, result * factor, result)
        return result


@dataclass
class Conditions:
    """A service's health at each of ``times``; request_rate in requests (or queries) per second.

    ``scraped`` is False where Prometheus has no samples of the service although it is up;
    ``gauges`` holds one array per entry of the service's ``gauges``, in order.
    """

    times: FloatArray
    request_rate: FloatArray
    error_ratio: FloatArray
    latency_p50: FloatArray
    latency_p99: FloatArray
    saturation: FloatArray
    memory: FloatArray
    available: BoolArray
    scraped: BoolArray = field(default_factory=lambda: np.ones(0, dtype=bool))
    gauges: list[FloatArray] = field(default_factory=list)


@dataclass(frozen=True)
class Influence:
    """A fault reaching a service: directly (hops 0) or through callers (weight = attenuation^hops)."""

    fault_id: str
    hops: int
    weight: float


def influences(scenario: Scenario) -> dict[str, list[Influence]]:
    """For each service, the faults that reach it and how strongly."""
    callers: dict[str, list[str]] = {s.name: [] for s in scenario.topology.services}
    for spec in scenario.topology.services:
        for dependency in spec.dependencies:
            callers[dependency].append(spec.name)
    reached: dict[str, list[Influence]] = {s.name: [] for s in scenario.topology.services}
    for fault in scenario.faults:
        reached[fault.target].append(Influence(fault.id, 0, 1.0))
        hops = {fault.target: 0}
        queue = deque([fault.target])
        if fault.effects.callers:
            # A fault on a path reaches exactly its callers (fully, unless propagates says how much
            # a failing call costs them), then their callers as any propagated fault does.
            weight = fault.propagates.attenuation if fault.propagates is not None else 1.0
            for caller in fault.effects.callers:
                hops[caller] = 1
                reached[caller].append(Influence(fault.id, 1, weight))
            queue = deque(fault.effects.callers)
        if fault.propagates is None:
            continue
        while queue:
            current = queue.popleft()
            if hops[current] == fault.propagates.max_hops:
                continue
            for caller in callers[current]:
                if caller not in hops:
                    hops[caller] = hops[current] + 1
                    reached[caller].append(
                        Influence(fault.id, hops[caller], fault.propagates.attenuation ** hops[caller])
                    )
                    queue.append(caller)
    return reached


def edge_shares(scenario: Scenario) -> dict[tuple[str, str], float]:
    """For each (caller, callee) dependency, the share of the callee's traffic that caller sends.

    Callers share a callee's traffic in proportion to their own baseline request rates (evenly when
    none has any).
    """
    callers: dict[str, list[ServiceSpec]] = {s.name: [] for s in scenario.topology.services}
    for spec in scenario.topology.services:
        for dependency in spec.dependencies:
            callers[dependency].append(spec)
    shares: dict[tuple[str, str], float] = {}
    for callee, specs in callers.items():
        total = sum(s.baseline.request_rate for s in specs)
        for spec in specs:
            shares[(spec.name, callee)] = spec.baseline.request_rate / total if total > 0 else 1.0 / len(specs)
    return shares


def path_fault_shares(scenario: Scenario) -> dict[str, float]:
    """For each fault on a path (``effects.callers``), the share of its target's traffic those callers send."""
    shares = edge_shares(scenario)
    return {
        f.id: min(sum(shares.get((caller, f.target), 0.0) for caller in f.effects.callers), 1.0)
        for f in scenario.faults
        if f.effects.callers
    }


DEFAULT_ERROR_TYPE = "timeout"


@dataclass
class EdgeConditions:
    """What a caller's HTTP client sees of one dependency at each of ``times``.

    ``request_rate`` is the calls per second the caller makes; ``server_errors`` the share answered
    with a 5xx by the callee; ``failures`` the share failing before any answer (never reaching the
    callee), by OpenTelemetry ``error.type``; latencies are the client's, network included.
    """

    times: FloatArray
    request_rate: FloatArray
    server_errors: FloatArray
    failures: dict[str, FloatArray]
    latency_p50: FloatArray
    latency_p99: FloatArray


def edge_error_types(scenario: Scenario, caller: str, callee: str) -> list[str]:
    """The ``error.type`` values a caller's client can report toward ``callee`` in this scenario."""
    found = {
        f.effects.error_type or DEFAULT_ERROR_TYPE
        for f in scenario.faults
        if f.target == callee and caller in f.effects.callers
    }
    if any(f.target == callee and not f.effects.available for f in scenario.faults):
        found.add(DEFAULT_ERROR_TYPE)  # a callee that stops answering: calls time out
    return sorted(found)


def edge_conditions(
    scenario: Scenario,
    caller: Conditions,
    callee: Conditions,
    *,
    caller_name: str,
    callee_name: str,
    timelines: dict[str, FaultTimeline],
    share: float,
) -> EdgeConditions:
    """The caller's client view of ``callee``: the callee's errors and latency, plus the faults on the path."""
    caller_spec, callee_spec = scenario.service(caller_name), scenario.service(callee_name)
    times = caller.times
    n = len(times)
    base_rate = share * callee_spec.baseline.request_rate or caller_spec.baseline.request_rate
    traffic = caller.request_rate / caller_spec.baseline.request_rate if caller_spec.baseline.request_rate else 1.0
    rate = base_rate * traffic * np.ones(n)
    p50 = callee.latency_p50.copy()
    p99 = callee.latency_p99.copy()
    reaching = np.ones(n)
    failures = {error_type: np.zeros(n) for error_type in edge_error_types(scenario, caller_name, callee_name)}
    for timeline in timelines.values():
        fault = timeline.fault
        if fault.target != callee_name or caller_name not in fault.effects.callers:
            continue
        strength = np.where(timeline.active(times), timeline.severity(times), 0.0)
        failing = np.clip((fault.effects.error_ratio or 0.0) * strength, 0.0, 1.0) * reaching
        failures[fault.effects.error_type or DEFAULT_ERROR_TYPE] += failing
        reaching = reaching - failing
        p50 = p50 * (1.0 + (fault.effects.latency_p50_multiplier - 1.0) * strength)
        p99 = p99 * (1.0 + (fault.effects.latency_p99_multiplier - 1.0) * strength)
    if DEFAULT_ERROR_TYPE in failures:
        down = ~callee.available
        failures[DEFAULT_ERROR_TYPE] = np.where(
            down, reaching + failures[DEFAULT_ERROR_TYPE], failures[DEFAULT_ERROR_TYPE]
        )
        reaching = np.where(down, 0.0, reaching)
    return EdgeConditions(
        times=times,
        request_rate=np.maximum(rate, 0.0),
        server_errors=np.clip(reaching * callee.error_ratio, 0.0, 1.0),
        failures={k: np.clip(v, 0.0, 1.0) for k, v in failures.items()},
        latency_p50=p50,
        latency_p99=np.maximum(p99, p50 * (1.0 + 1e-6)),
    )


def service_conditions(
    spec: ServiceSpec,
    reaching: list[Influence],
    timelines: dict[str, FaultTimeline],
    target_baselines: dict[str, float],
    times: FloatArray,
    anchor: float = 0.0,
    path_shares: dict[str, float] | None = None,
) -> Conditions:
    """Fold the faults reaching ``spec`` into its health at ``times``.

    Error contributions combine as independent failure probabilities; latency and traffic
    multipliers multiply; saturation, memory and availability are set only by faults that target
    the service itself. ``target_baselines`` holds each fault target's baseline error ratio, so a
    fault's ``error_ratio`` is the ratio it produces, not an increment. ``path_shares`` holds, for
    each fault on a path (``effects.callers``), the share of its target's traffic those callers
    send: at the target such a fault only removes the calls that fail on the way.
    """
    base = spec.baseline
    n = len(times)
    survive = np.full(n, 1.0 - base.error_ratio)
    p50 = np.full(n, base.latency_p50)
    p99 = np.full(n, base.latency_p99)
    rate = np.full(n, base.request_rate)
    saturation = np.full(n, base.saturation)
    memory = np.full(n, base.memory)
    available = np.ones(n, dtype=bool)
    scraped = np.ones(n, dtype=bool)
    gauges = [np.full(n, gauge_value(g.value, g.timestamp, anchor)) for g in spec.gauges]
    for influence in reaching:
        timeline = timelines[influence.fault_id]
        effects = timeline.fault.effects
        active = timeline.active(times)
        if influence.hops == 0:
            _move_gauges(spec, timeline, times, anchor, gauges)
            built = timeline.build_up(times) * timeline.severity(times)
            if effects.saturation is not None:
                saturation = saturation + (effects.saturation - saturation) * np.minimum(built, 1.0)
            if effects.memory is not None:
                memory = memory + (effects.memory - memory) * np.minimum(built, 1.0)
        if not active.any():
            continue
        strength = np.where(active, timeline.severity(times) * influence.weight, 0.0)
        if effects.callers and influence.hops == 0:
            lost = (effects.error_ratio or 0.0) * (path_shares or {}).get(influence.fault_id, 0.0)
            rate *= 1.0 - np.clip(lost * strength, 0.0, 1.0)
            if effects.metrics_missing:
                scraped &= ~active
            continue
        if effects.callers:
            extra = effects.error_ratio or 0.0  # a call that never arrived: the callee's baseline has no part
        elif effects.error_ratio is not None:
            extra = max(effects.error_ratio - target_baselines[influence.fault_id], 0.0)
        elif not effects.available and influence.hops > 0:
            extra = 1.0  # callers of an unavailable service fail the calls they make to it
        else:
            extra = 0.0
        survive *= 1.0 - np.clip(extra * strength, 0.0, 1.0)
        p50 *= 1.0 + (effects.latency_p50_multiplier - 1.0) * strength
        p99 *= 1.0 + (effects.latency_p99_multiplier - 1.0) * strength
        if influence.hops == 0:
            # A power, not a linear blend: a worsened fault that cuts traffic cuts it further,
            # it never turns the rate negative.
            rate *= np.power(effects.request_rate_multiplier, strength)
            if not effects.available:
                available &= ~active
            if effects.metrics_missing:
                scraped &= ~active
    return Conditions(
        times=times,
        request_rate=np.maximum(rate, 0.0),
        error_ratio=np.clip(1.0 - survive, 0.0, 1.0),
        latency_p50=p50,
        latency_p99=np.maximum(p99, p50 * (1.0 + 1e-6)),
        saturation=np.clip(saturation, 0.0, 1.0),
        memory=np.clip(memory, 0.0, 1.0),
        available=available,
        scraped=scraped,
        gauges=gauges,
    )


def gauge_value(value: float | None, timestamp: float | None, anchor: float) -> float:
    """A gauge's number: ``value``, or the Unix time of the offset ``timestamp``."""
    return float(value) if value is not None else anchor + float(timestamp or 0.0)


def _move_gauges(
    spec: ServiceSpec, timeline: FaultTimeline, times: FloatArray, anchor: float, gauges: list[FloatArray]
) -> None:
    """Apply the fault's gauge effects to the target's gauges, in place."""
    for effect in timeline.fault.effects.gauges:
        target = gauge_value(effect.value, effect.timestamp, anchor)
        if effect.shape == "step":
            weight = timeline.shown(times).astype(np.float64)
        else:
            weight = np.minimum(timeline.build_up(times), 1.0)
        for index, gauge in enumerate(spec.gauges):
            if gauge.name == effect.name and all(gauge.labels.get(k) == v for k, v in effect.labels.items()):
                gauges[index] = gauges[index] + (target - gauges[index]) * weight


def lognormal_sigma(p50: FloatArray | float, p99: FloatArray | float) -> FloatArray:
    """The log-normal spread whose median is p50 and 99th percentile p99 (z(0.99) = 2.3263)."""
    return np.maximum((np.log(p99) - np.log(p50)) / 2.326347874, 1e-3)
