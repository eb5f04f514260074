"""Fault timelines and their effect on a service's health over time.

A fault is active from its start until it ends by itself (``ends_at``) or an action fixes it,
whichever comes first. An action that worsens it multiplies its severity from that moment on.
`service_conditions` folds every fault that reaches a service (as its target, or through
propagation to the services that call the target) into per-time arrays of error ratio, latency,
traffic, saturation and availability, starting from the service's baseline.
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
    """When one fault is active and how severe it is (1.0 = as the scenario describes it)."""

    fault: Fault
    start: float
    natural_end: float | None
    fixed_at: float | None = None
    fixed_by: str | None = None
    worsened: list[tuple[float, float]] = field(default_factory=list)

    @property
    def end(self) -> float | None:
        ends = [t for t in (self.natural_end, self.fixed_at) if t is not None]
        return min(ends) if ends else None

    def active(self, times: FloatArray) -> BoolArray:
        end = self.end
        mask = times >= self.start
        if end is not None:
            mask &= times < end
        return mask

    def is_active(self, at: float) -> bool:
        end = self.end
        return at >= self.start and (end is None or at < end)

    def severity(self, times: FloatArray) -> FloatArray:
        result = np.ones(len(times))
        for at, factor in self.worsened:
            result = np.where(times >= at, result * factor, result)
        return result


@dataclass
class Conditions:
    """A service's health at each of ``times``; request_rate in requests (or queries) per second."""

    times: FloatArray
    request_rate: FloatArray
    error_ratio: FloatArray
    latency_p50: FloatArray
    latency_p99: FloatArray
    saturation: FloatArray
    memory: FloatArray
    available: BoolArray


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
        if fault.propagates is None:
            continue
        hops = {fault.target: 0}
        queue = deque([fault.target])
        while queue:
            current = queue.popleft()
            if hops[current] == fault.propagates.max_hops:
                continue
            for caller in callers[current]:
                if caller not in hops:
                    hops[caller] = hops[current] + 1
                    reached[caller].append(Influence(fault.id, hops[caller], fault.propagates.attenuation ** hops[caller]))
                    queue.append(caller)
    return reached


def service_conditions(
    spec: ServiceSpec,
    reaching: list[Influence],
    timelines: dict[str, FaultTimeline],
    target_baselines: dict[str, float],
    times: FloatArray,
) -> Conditions:
    """Fold the faults reaching ``spec`` into its health at ``times``.

    Error contributions combine as independent failure probabilities; latency and traffic
    multipliers multiply; saturation, memory and availability are set only by faults that target
    the service itself. ``target_baselines`` holds each fault target's baseline error ratio, so a
    fault's ``error_ratio`` is the ratio it produces, not an increment.
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
    for influence in reaching:
        timeline = timelines[influence.fault_id]
        effects = timeline.fault.effects
        active = timeline.active(times)
        if not active.any():
            continue
        strength = np.where(active, timeline.severity(times) * influence.weight, 0.0)
        if effects.error_ratio is not None:
            extra = max(effects.error_ratio - target_baselines[influence.fault_id], 0.0)
        elif not effects.available and influence.hops > 0:
            extra = 1.0  # callers of an unavailable service fail the calls they make to it
        else:
            extra = 0.0
        survive *= 1.0 - np.clip(extra * strength, 0.0, 1.0)
        p50 *= 1.0 + (effects.latency_p50_multiplier - 1.0) * strength
        p99 *= 1.0 + (effects.latency_p99_multiplier - 1.0) * strength
        if influence.hops == 0:
            rate *= 1.0 + (effects.request_rate_multiplier - 1.0) * strength
            if effects.saturation is not None:
                saturation = np.where(active, saturation + (effects.saturation - saturation) * np.minimum(strength, 1.0), saturation)
            if effects.memory is not None:
                memory = np.where(active, memory + (effects.memory - memory) * np.minimum(strength, 1.0), memory)
            if not effects.available:
                available &= ~active
    return Conditions(
        times=times,
        request_rate=np.maximum(rate, 0.0),
        error_ratio=np.clip(1.0 - survive, 0.0, 1.0),
        latency_p50=p50,
        latency_p99=np.maximum(p99, p50 * (1.0 + 1e-6)),
        saturation=np.clip(saturation, 0.0, 1.0),
        memory=np.clip(memory, 0.0, 1.0),
        available=available,
    )


def lognormal_sigma(p50: FloatArray | float, p99: FloatArray | float) -> FloatArray:
    """The log-normal spread whose median is p50 and 99th percentile p99 (z(0.99) = 2.3263)."""
    return np.maximum((np.log(p99) - np.log(p50)) / 2.326347874, 1e-3)
