"""Which service a slowdown starts at, read from its call edges' latency seen at both ends.

A call edge ``caller -> callee`` is measured twice: at the caller (request sent to response
received: the callee's work *plus the network between them*) and at the callee (request received
to response sent: its work only). That pair separates three situations the graph ranker of
`agents.analytics.anomaly` mixes up:

- **The callee is slow** (a saturated CPU, a slow code path): both ends of every edge into it rise.
  Its *served latency* rises, and it does not wait on a callee that is itself slow.
- **The network into a service is slow** (a delay on its interface): the caller's end rises, the
  callee's does not, on *every* edge into it. The gap between the two ends is network time, and the
  service whose incoming edges all carry a wider gap is their common endpoint; a caller of it has
  one such edge among several healthy ones.
- **A caller waits** on a slow callee: its own served latency rises too, but so does its end of an
  edge out of it, and that callee is slow at its own end or behind a slow network (every edge into
  it wider). It is a victim; its score is discounted.

Each series is compared with its own level in the reference window (median, robust spread from
the median absolute deviation, never below a floor in the series' units), over the last
``incident_steps`` steps. A service's saturation (CPU, memory) counts only as far as its served
latency moved: a busy process that serves as fast as before did not cause the alert.

No component names are read: only the values, which end of an edge a series was measured at, and
the graph the edges form. Pure and deterministic; the result carries the reason behind each number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

FaultClass = Literal["network", "saturation", "errors", "latency", "none"]
"""What the signals at a service look like: a network delay into it (its incoming edges' gap),
its resources saturated while it serves slowly, failed requests, a slowdown of its own without
saturation (a slow code path), or nothing."""

_MODEL = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")


@dataclass(frozen=True)
class EdgeRankingConfig:
    """The knobs of `localize`, with the reason for each default.

    - ``incident_steps`` (3): the steps up to the alert that form the incident window: an alert
      fires a step or two after its SLI crossed, so the fault's first steps are inside it.
    - ``min_reference_steps`` (5): fewer finite reference steps than this and a series has no
      level to compare with (its rise is 0, unknown rather than anomalous).
    - ``latency_floor`` (0.2): the smallest spread of a log latency (or of a log gap between the
      two ends of an edge): a 20 % move is never more than one unit.
    - ``saturation_floor`` (0.05): the smallest spread of a saturation series, relative to its level.
    - ``availability_floor`` (1.0): the smallest spread of a success rate, in percentage points.
    - ``explained_ratio`` (0.5), ``min_wait`` (5.0) and ``victim_weight`` (0.2): a service that waits
      on a callee whose both ends rose clearly (``min_wait`` units) and by at least half its own
      latency rise is a victim and keeps a fifth of its score, failures included: a caller passes
      its callee's failures on.

    Chosen on the Nezha Online Boutique recording with leave-one-day-out checks (README, "Benchmark:
    Nezha"): every value but ``availability_floor`` is what both folds picked; where the folds
    disagreed the prior default stayed.
    """

    incident_steps: int = 3
    min_reference_steps: int = 5
    latency_floor: float = 0.2
    saturation_floor: float = 0.05
    availability_floor: float = 1.0
    explained_ratio: float = 0.5
    victim_weight: float = 0.2
    min_wait: float = 5.0


DEFAULT_EDGE_RANKING = EdgeRankingConfig()


class EdgeLatency(BaseModel):
    """One call edge's latency, measured at each end, aligned on the same steps as every series."""

    model_config = _MODEL

    caller: str
    callee: str
    caller_side: list[float] = Field(description="Request sent to response received, at the caller (NaN: no sample).")
    callee_side: list[float] = Field(description="Request received to response sent, at the callee (NaN: no sample).")

    @property
    def measured_at_both_ends(self) -> bool:
        """Whether each end has at least one sample: only then can the two be told apart."""
        return any(map(math.isfinite, self.caller_side)) and any(map(math.isfinite, self.callee_side))


class ServiceSignals(BaseModel):
    """What one service exports about itself, by meaning (the caller classifies the series)."""

    model_config = _MODEL

    latency: dict[str, list[float]] = Field(
        default_factory=dict, description="Latency of the requests it serves (server side), one series per statistic."
    )
    saturation: dict[str, list[float]] = Field(
        default_factory=dict, description="Its own resource use (CPU, memory), not its node's."
    )
    availability: dict[str, list[float]] = Field(
        default_factory=dict, description="Success rate of what it serves, in percent."
    )


class ServiceLocalization(BaseModel):
    """One service's score, with each factor in noise units and the reason for each."""

    model_config = _MODEL

    service: str
    score: float = Field(description="max(served + min(saturation, served), network).")
    served: float = Field(description="How much slower (or less available) it serves, after the victim discount.")
    served_raw: float = Field(description="The same before the discount.")
    waits_on: float = Field(
        description="The largest rise of its end of an edge out of it, up to the callee's own end or network rise."
    )
    saturation: float
    network: float = Field(description="Median over its incoming edges of the caller-minus-callee gap's rise.")
    availability: float = Field(description="Drop of its success rate (part of served).")
    fault_class: FaultClass
    reasons: list[str]


class EdgeRanking(BaseModel):
    """Every service, highest score first (ties by name, so the order is deterministic)."""

    model_config = _MODEL

    services: list[ServiceLocalization]
    incident_steps: int

    @property
    def leader(self) -> ServiceLocalization | None:
        return self.services[0] if self.services and self.services[0].score > 0 else None


def rise(
    values: Sequence[float],
    incident_steps: int,
    *,
    floor: float,
    log: bool = False,
    relative: bool = False,
    min_reference: int = DEFAULT_EDGE_RANKING.min_reference_steps,
) -> float:
    """The largest move up over the last ``incident_steps`` values, in robust spreads of the steps before.

    The spread is 1.4826 x the median absolute deviation of the reference steps, never below
    ``floor`` (times the reference level when ``relative``). ``log`` compares logarithms (latency:
    a doubling is the same move at 5 ms and at 500 ms). 0 when the reference has fewer than
    ``min_reference`` finite steps or the incident window none: unknown, not anomalous.
    """
    array = np.asarray(values, dtype=np.float64)
    if log:
        array = np.where(array > 0, np.log(np.where(array > 0, array, 1.0)), np.nan)
    if incident_steps < 1 or array.size <= incident_steps:
        return 0.0
    reference, incident = array[:-incident_steps], array[-incident_steps:]
    reference = reference[np.isfinite(reference)]
    incident = incident[np.isfinite(incident)]
    if reference.size < min_reference or incident.size == 0:
        return 0.0
    level = float(np.median(reference))
    spread = 1.4826 * float(np.median(np.abs(reference - level)))
    scale = max(spread, floor * abs(level) if relative else floor, 1e-12)
    return float(np.max(incident - level)) / scale


def _gap(edge: EdgeLatency) -> list[float]:
    """Per step, log(caller side) - log(callee side): the network's share of the call (NaN if either is missing)."""
    out = []
    for client, server in zip(edge.caller_side, edge.callee_side, strict=True):
        ok = math.isfinite(client) and math.isfinite(server) and client > 0 and server > 0
        out.append(math.log(client) - math.log(server) if ok else math.nan)
    return out


def _kth_best(scores: list[float], k: int) -> float:
    ordered = sorted(scores, reverse=True)
    return ordered[min(k, len(ordered)) - 1] if ordered else 0.0


def localize(
    services: Mapping[str, ServiceSignals],
    edges: Sequence[EdgeLatency],
    config: EdgeRankingConfig = DEFAULT_EDGE_RANKING,
) -> EdgeRanking:
    """Score every service named in ``services`` or by an edge; see the module docstring for the method.

    A service's *served* rise is the larger of its own latency (the second best of its statistics,
    so one noisy percentile is not enough) or availability drop, and the median rise of the callee
    end of its incoming edges. It is discounted to ``victim_weight`` when it waits on a callee: its
    end of an edge out of it rose, and so did the callee's own end or the network into the callee,
    by ``min_wait`` units and by ``explained_ratio`` of its own latency rise. Its *network* rise is
    the median over its incoming edges of the rise of the gap between the caller's and the
    callee's end.
    """
    steps = config.incident_steps

    def latency_rise(values: Sequence[float], log: bool = True) -> float:
        return rise(
            values,
            steps,
            floor=config.latency_floor,
            log=log,
            min_reference=config.min_reference_steps,
        )

    names = sorted({*services, *(e.caller for e in edges), *(e.callee for e in edges)})
    caller_rise = {id(e): latency_rise(e.caller_side) for e in edges}
    callee_rise = {id(e): latency_rise(e.callee_side) for e in edges}
    gap_rise = {id(e): latency_rise(_gap(e), log=False) for e in edges}
    network_of = {
        name: float(np.median([gap_rise[id(e)] for e in edges if e.callee == name]))
        for name in {e.callee for e in edges}
    }
    results = []
    for name in names:
        signals = services.get(name, ServiceSignals())
        incoming = [e for e in edges if e.callee == name]
        outgoing = [e for e in edges if e.caller == name]
        own_latency = _kth_best(
            [latency_rise(v) for v in signals.latency.values()],
            2 if len(signals.latency) > 1 else 1,
        )
        availability = max(
            (
                rise(
                    [100.0 - x for x in v],
                    steps,
                    floor=config.availability_floor,
                    min_reference=config.min_reference_steps,
                )
                for v in signals.availability.values()
            ),
            default=0.0,
        )
        callee_end = float(np.median([callee_rise[id(e)] for e in incoming])) if incoming else 0.0
        served_raw = max(own_latency, callee_end, availability)
        # It waits on a callee that is slow at its own end, or whose network is slow into it (every
        # edge into that callee, not only this one, carries a wider gap).
        waits = [(min(caller_rise[id(e)], max(callee_rise[id(e)], network_of[e.callee])), e.callee) for e in outgoing]
        waits_on, waited = max(waits, default=(0.0, ""))
        # Latency against latency: failures are not a wait, but a caller whose slowdown its callee
        # explains passes on that callee's failures too, so the whole served rise is discounted.
        slower = max(own_latency, callee_end)
        victim = served_raw > 0 and waits_on >= max(config.explained_ratio * slower, config.min_wait)
        served = served_raw * config.victim_weight if victim else served_raw
        saturation = max(
            (
                rise(
                    v,
                    steps,
                    floor=config.saturation_floor,
                    relative=True,
                    min_reference=config.min_reference_steps,
                )
                for v in signals.saturation.values()
            ),
            default=0.0,
        )
        network = network_of.get(name, 0.0)
        local = served + min(max(saturation, 0.0), max(served, 0.0))
        score = max(local, network, 0.0)
        reasons = [
            f"serves {served_raw:.1f} units worse (own latency {own_latency:.1f}, callee end of "
            f"{len(incoming)} incoming edge(s) {callee_end:.1f}, availability {availability:.1f})",
            (
                f"a victim: waits on {waited} ({waits_on:.1f}, >= {config.min_wait:g} and >= "
                f"{config.explained_ratio:g} x its own latency rise), kept {config.victim_weight:.0%}"
                if victim
                else f"not explained by what it calls (largest wait on a slow callee or network {waits_on:.1f})"
            ),
            f"saturation {saturation:.1f}, counted up to its served rise",
            f"network into it {network:.1f} (median gap rise, caller end minus callee end, of its incoming edges)",
        ]
        results.append(
            ServiceLocalization(
                service=name,
                score=score,
                served=served,
                served_raw=served_raw,
                waits_on=waits_on,
                saturation=saturation,
                network=network,
                availability=availability,
                fault_class=_fault_class(score, local, network, saturation, availability, own_latency, callee_end),
                reasons=reasons,
            )
        )
    results.sort(key=lambda r: (-r.score, r.service))
    return EdgeRanking(services=results, incident_steps=steps)


SATURATED = 3.0
"""A saturation rise this large, with the service serving slowly, makes saturation its fault class."""


def _fault_class(
    score: float,
    local: float,
    network: float,
    saturation: float,
    availability: float,
    own_latency: float,
    callee_end: float,
) -> FaultClass:
    if score <= 0:
        return "none"
    if network >= local:
        return "network"
    if saturation >= SATURATED:
        return "saturation"
    if availability >= max(own_latency, callee_end):
        return "errors"
    return "latency"
