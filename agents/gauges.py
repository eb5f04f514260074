"""Which of a component's own gauges moved at the onset: what its exporters say beyond its SLIs.

A cache's hit ratio and key count, a pool's pending connections, a queue's depth, a volume's free
bytes, a process's open descriptors: the catalog's SLIs (errors, p99, connections) say nothing of
them, so a dependency whose HTTP error rate stayed flat would pass for healthy while its memory sat
at the limit or its keys vanished. Every gauge series of a candidate is compared with its own level
before the onset: a move of many times its normal spread, and by a good part of its level, is a
fact about that component, in the direction it went.

Pure and deterministic: no names are read but the series' own (for the text), no wall clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

# Counters and histograms are read as SLIs (rates, quantiles); what is left is what a process reports
# as a level. ``up`` is the scrape's own health, read by the SLI queries' missing samples.
GAUGE_SELECTOR_EXCLUDE = ".*_(bucket|sum|count|total|created|info)|up"
MIN_REFERENCE = 10  # steps before the onset a level needs
SETTLE = timedelta(minutes=5)  # the reference ends this long before the onset: a slow start is not its level
MIN_SPREADS = 6.0  # a move of six normal spreads...
MIN_RELATIVE = 0.25  # ...and by a quarter of the larger of the two levels
SPREAD_FLOOR = 0.01  # the smallest spread, relative to the level: a pinned gauge's blips are not moves
LEAD = timedelta(minutes=30)  # a gauge may start moving this long before the alerting SLI


class GaugeMove(BaseModel):
    """One gauge of one component that moved at the onset."""

    model_config = ConfigDict(frozen=True)

    service: str
    metric: str = Field(description="The series' name.")
    labels: dict[str, str] = Field(default_factory=dict, description="Its other labels (service, job excluded).")
    before: float = Field(description="Median level before the onset.")
    now: float = Field(description="Median of the last three steps.")
    extreme: float = Field(description="The farthest value since its move began, in the direction it went.")
    direction: str = Field(description="rose or fell")
    spreads: float = Field(description="How many normal spreads the extreme is from the level.")
    since: datetime = Field(description="The first step past the threshold.")
    evidence_id: str = ""

    @property
    def relative(self) -> float:
        """The move as a fraction of the larger of the two levels (0..1)."""
        return abs(self.extreme - self.before) / max(abs(self.before), abs(self.extreme), 1e-12)

    def describe(self) -> str:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        name = f"{self.metric}{{{labels}}}" if labels else self.metric
        return (
            f"{self.service} {name} {_num(self.before)} before, {_num(self.extreme)} "
            f"{'highest' if self.direction == 'rose' else 'lowest'}, {_num(self.now)} now "
            f"({self.direction} {self.relative:.0%} from {self.since:%H:%M} UTC)"
        )


def gauge_move(
    service: str,
    metric: str,
    labels: dict[str, str],
    times: Sequence[datetime],
    values: Sequence[float],
    onset: datetime,
) -> GaugeMove | None:
    """The move of one gauge series at ``onset``, or None when it kept its level (or has too little
    history to have one). NaN samples are skipped."""
    points = [(t, v) for t, v in zip(times, values, strict=True) if not math.isnan(v)]
    reference = [v for t, v in points if t < onset - SETTLE]
    after = [(t, v) for t, v in points if t >= onset - LEAD]
    if len(reference) < MIN_REFERENCE or len(after) < 3:
        return None
    level = median(reference)
    deviations = [abs(v - level) for v in reference]
    spread = max(1.4826 * median(deviations), SPREAD_FLOOR * abs(level), 1e-9)
    last = median(v for _, v in after[-3:])
    direction = "rose" if last > level else "fell"
    sign = 1.0 if direction == "rose" else -1.0
    extreme = max((v for _, v in after), key=lambda v: sign * v)
    spreads = sign * (extreme - level) / spread
    threshold = level + sign * MIN_SPREADS * spread
    # It moved, it is still away from its level (a quarter of the move at least), and by a good part.
    moved = spreads >= MIN_SPREADS and sign * (last - level) >= max(MIN_SPREADS * spread, sign * (extreme - level) / 4)
    if not moved or abs(extreme - level) < MIN_RELATIVE * max(abs(level), abs(extreme)):
        return None
    since = next(t for t, v in after if sign * (v - threshold) >= 0)
    return GaugeMove(
        service=service,
        metric=metric,
        labels=labels,
        before=level,
        now=last,
        extreme=extreme,
        direction=direction,
        spreads=round(spreads, 1),
        since=since,
    )


def _num(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.2f}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.1f}k"
    if magnitude >= 10:
        return f"{value:.0f}"
    return f"{value:.3g}"
