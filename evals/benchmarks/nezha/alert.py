"""An alert synthesized from the front end's SLI only: the first minute its latency or success rate
leaves its normal band, within a fault folder's recording window. Nothing from the label is read.

The band is the median of the hour before the window, plus or minus `BAND_WIDTH` robust standard
deviations (1.4826 x MAD, floored at `MIN_RELATIVE_SCALE` of the median so a flat series still has a
band). The alert fires `FOR_S` after the crossing (a rule's ``for:``), which is the replay's "now".
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evals.replay.recording import SeriesData

BAND_WIDTH = 4.0
LATENCY_METRICS = ("sli_latency_p50_seconds", "sli_latency_p90_seconds")
MIN_RELATIVE_SCALE = 0.01
HISTORY_S = 3600.0
SEARCH_AFTER_WINDOW_S = 180.0  # a metric row covers the minute before it: look a little past the window
FOR_S = 60.0
LATENCY_METRIC = "sli_latency_p90_seconds"
SUCCESS_METRIC = "sli_success_rate_percent"


@dataclass(frozen=True)
class SyntheticAlert:
    crossed_at: datetime | None
    fires_at: datetime
    metric: str
    value: float | None
    band: tuple[float, float] | None
    reason: str


def synthesize(sli: dict[str, SeriesData], window_start: datetime, window_end: datetime) -> SyntheticAlert:
    start, end = window_start.timestamp(), window_end.timestamp() + SEARCH_AFTER_WINDOW_S
    crossings: list[tuple[float, str, float, tuple[float, float]]] = []
    for metric, bad_high in [*((m, True) for m in LATENCY_METRICS), (SUCCESS_METRIC, False)]:
        series = sli.get(metric)
        if series is None:
            continue
        lo = bisect.bisect_left(series.times, start - HISTORY_S)
        first = bisect.bisect_left(series.times, start)
        history = series.values[lo:first]
        if len(history) < 3:
            continue
        median = statistics.median(history)
        mad = statistics.median(abs(v - median) for v in history)
        scale = max(1.4826 * mad, MIN_RELATIVE_SCALE * abs(median), 1e-9)
        band = (median - BAND_WIDTH * scale, median + BAND_WIDTH * scale)
        for index in range(first, bisect.bisect_right(series.times, end)):
            value = series.values[index]
            if (bad_high and value > band[1]) or (not bad_high and value < band[0]):
                crossings.append((series.times[index], metric, value, band))
                break
    if not crossings:
        fires = datetime.fromtimestamp(end, tz=UTC)
        return SyntheticAlert(
            None, fires, LATENCY_METRIC, None, None, "the SLI never left its band; alert at the window's end"
        )
    at, metric, value, band = min(crossings)
    crossed = datetime.fromtimestamp(at, tz=UTC)
    return SyntheticAlert(
        crossed,
        crossed + timedelta(seconds=FOR_S),
        metric,
        value,
        band,
        f"{metric} {value:.3g} outside [{band[0]:.3g}, {band[1]:.3g}] at {crossed.isoformat()}",
    )
