"""Metric kinds, the transforms that make changes comparable, and the noise model that scales them.

Every anomaly score in this package is the same quantity: *how far a series moved from its own recent
level, in units of how much it normally moves*. Three pieces make that work across very different
series (a 6 ms database call, a 95 ms page, 99.9 % availability, 40 or 4,000 requests per step):

- a **kind** per metric (latency, availability, error rate, traffic, saturation, other), which fixes
  the direction that counts as bad and the transform: latency and traffic on a log scale (a fault
  multiplies them), availability as an error percentage, the rest linear;
- a **noise model** learnt from a stretch of normal operation: for each series, the spread of the
  transformed value between one step and the steps 1 to 3 before it (robust, and widened when the
  series has heavy tails), which is exactly the comparison an incident makes;
- a **sampling floor** from the traffic of the same component: an average over 20 requests is noisier
  than one over 2,000, so a quiet component needs a larger move to count. This is what still works
  when no normal-operation data exists.

Metric names are read only to guess their kind (``latency.p99`` is a latency); component names are
never read.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

MetricKind = Literal["latency", "availability", "error_rate", "traffic", "saturation", "other"]
"""What a series measures, which decides its bad direction, transform and sampling noise."""

Direction = Literal["up", "down", "both"]

FloatArray = npt.NDArray[np.float64]
MetricsByComponent = Mapping[str, Mapping[str, Sequence[float] | FloatArray]]
"""``component -> metric name -> values``, every series aligned on the same time axis."""

BAD_DIRECTION: dict[MetricKind, Direction] = {
    "latency": "up",
    "availability": "down",
    "error_rate": "up",
    "traffic": "both",
    "saturation": "up",
    "other": "both",
}

# Smallest scale a change is measured against, in transformed units, so that a series that never
# moved in normal operation (availability pinned at 100 %) does not turn every blip into infinity.
SCALE_FLOOR: dict[MetricKind, float] = {
    "latency": 0.02,  # 2 % on the log scale
    "availability": 0.05,  # percentage points of errors
    "error_rate": 0.0005,  # fraction (0.05 percentage points)
    "traffic": 0.02,
    "saturation": 0.01,
    "other": 1e-9,
}

_KIND_KEYWORDS: tuple[tuple[MetricKind, tuple[str, ...]], ...] = (
    ("availability", ("availability", "success_rate", "uptime")),
    ("error_rate", ("error", "fault", "5xx", "failure")),
    ("latency", ("latency", "duration", "response_time", "elapsed")),
    ("traffic", ("request", "throughput", "rps", "qps", "calls", "invocations", "count")),
    ("saturation", ("cpu", "memory", "mem_", "saturation", "utilization", "utilisation", "queue")),
)

# How many lags the noise model pools: an incident compares a step with the 1 to 3 steps before it.
NOISE_LAGS = (1, 2, 3)
MIN_NOISE_POINTS = 30


@functools.lru_cache(maxsize=4096)
def classify_metric(name: str) -> MetricKind:
    """Guess a metric's kind from its name (``latency.p99`` -> latency, ``requests.Sum`` -> traffic).

    Callers that know better pass an explicit kind; an unknown name is ``other`` (both directions
    count, linear scale).
    """
    lowered = name.lower()
    for kind, keywords in _KIND_KEYWORDS:
        if any(keyword in lowered for keyword in keywords):
            return kind
    return "other"


def as_float_array(values: Sequence[float] | FloatArray) -> FloatArray:
    """A float64 copy of ``values`` with ``None`` read as missing (NaN)."""
    return np.array(values, dtype=np.float64)


def is_fraction_scale(values: FloatArray) -> bool:
    """Whether an availability or error series is a fraction (0..1) rather than a percentage."""
    finite = values[np.isfinite(values)]
    return bool(finite.size) and float(np.max(np.abs(finite))) <= 1.0


def finite_median(values: FloatArray) -> float:
    """Median of the finite values (NaN when there are none); fast on the short windows incidents use."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan
    if finite.size <= 64:
        ordered: list[float] = sorted(float(value) for value in finite)
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else 0.5 * (ordered[middle - 1] + ordered[middle])
    return float(np.median(finite))


def log_offset(values: FloatArray) -> float:
    """The offset added before taking logs: 5 % of the typical positive value.

    It keeps a series that sits at (or drops to) zero finite on the log scale without letting a move
    from 0.0001 to 0.0003 on an idle component look like a tripling.
    """
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        return 1e-9
    return max(0.05 * finite_median(positive), 1e-12)


def transform(kind: MetricKind, values: FloatArray, *, offset: float, fraction: bool) -> FloatArray:
    """Map raw values to the scale on which changes are compared (and on which noise is measured)."""
    if kind == "latency":
        return np.log(np.clip(values, 0.0, None) + offset)
    if kind == "traffic":
        return np.log1p(np.clip(values, 0.0, None))
    if kind == "availability":
        # Error percentage: a drop from 100 % to 97 % is +3 points of errors.
        return (1.0 - values) * 100.0 if fraction else 100.0 - values
    return values.astype(np.float64)


def sampling_scale(kind: MetricKind, count: float | None, *, error_level: float = 0.0, fraction: bool = False) -> float:
    """The noise an aggregate over ``count`` events has by construction (0.0 when unknown).

    - latency (log scale): a mean over ``n`` requests moves by about ``1/sqrt(n)`` when the
      coefficient of variation is near 1, which holds for service latencies;
    - availability (error points): binomial, with the error rate at least one error in ``n``;
    - traffic (log scale): Poisson, ``1/sqrt(n + 1)``.
    """
    if count is None or not math.isfinite(count):
        return 0.0
    n = max(float(count), 1.0)
    if kind == "latency":
        return 1.0 / math.sqrt(n)
    if kind == "traffic":
        return 1.0 / math.sqrt(n + 1.0)
    if kind in ("availability", "error_rate"):
        unit = 100.0 if (kind == "availability" or not fraction) else 1.0
        rate = max(error_level / unit, 1.0 / (n + 1.0))
        rate = min(rate, 0.5)
        return unit * math.sqrt(rate * (1.0 - rate) / n)
    return 0.0


@dataclass(frozen=True)
class SeriesNoise:
    """How much one series normally moves between a step and the 1-3 steps before it."""

    robust_scale: float
    tail_scale: float
    points: int
    offset: float
    fraction: bool
    level: float
    traffic_level: float | None = None
    """Median requests per step of the same component in normal operation, when known."""

    @property
    def scale(self) -> float:
        """The larger of the robust (MAD) spread and the tail-calibrated one (99th percentile / 2.58)."""
        return max(self.robust_scale, self.tail_scale)


@dataclass(frozen=True)
class NoiseModel:
    """Per-series noise learnt from normal operation. Build it with `NoiseModel.from_normal_operation`.

    ``source`` says where it came from (for the evidence): e.g. "normal operation, 589 steps".
    """

    series: Mapping[tuple[str, str], SeriesNoise] = field(default_factory=dict)
    source: str = "none"

    @classmethod
    def empty(cls) -> NoiseModel:
        """No normal-operation data: every scale falls back to the sampling and kind floors."""
        return cls({}, "none (sampling floors only)")

    @classmethod
    def from_normal_operation(
        cls,
        metrics: MetricsByComponent,
        *,
        kinds: Mapping[str, MetricKind] | None = None,
        exclude: npt.NDArray[np.bool_] | None = None,
    ) -> NoiseModel:
        """Learn each series' step-to-step spread from a stretch of normal operation.

        ``exclude`` masks steps (True = left out), e.g. the window being evaluated when the same data
        also serves as the incident. Series with fewer than 30 usable differences are skipped (their
        scale then comes from the sampling noise and the floors).
        """
        keys: list[tuple[str, str]] = []
        columns: list[FloatArray] = []
        series_kinds: list[MetricKind] = []
        traffic_levels: list[float | None] = []
        for component in sorted(metrics):
            by_metric = metrics[component]
            traffic = None
            for metric in sorted(by_metric):
                if ((kinds or {}).get(metric) or classify_metric(metric)) == "traffic":
                    traffic = _masked(as_float_array(by_metric[metric]), exclude)
                    break
            for metric in sorted(by_metric):
                column = _masked(as_float_array(by_metric[metric]), exclude)
                keys.append((component, metric))
                columns.append(column)
                series_kinds.append((kinds or {}).get(metric) or classify_metric(metric))
                # Requests per step while this series had data: a mostly idle component's latency is an
                # average over its active steps, so that is the traffic its noise was measured at.
                active = traffic[np.isfinite(column) & np.isfinite(traffic)] if traffic is not None else None
                traffic_levels.append(finite_median(active) if active is not None and active.size else None)
        if not columns:
            return cls({}, "normal operation, 0 steps")
        steps = max(column.size for column in columns)
        if any(column.size != steps for column in columns):
            raise ValueError("every normal-operation series must have the same number of steps")
        return cls(
            _batch_noise(keys, np.column_stack(columns), series_kinds, traffic_levels),
            f"normal operation, {steps} steps",
        )

    def get(self, component: str, metric: str) -> SeriesNoise | None:
        return self.series.get((component, metric))


def _masked(values: FloatArray, exclude: npt.NDArray[np.bool_] | None) -> FloatArray:
    if exclude is None:
        return values
    return np.where(exclude[: values.size], np.nan, values)


def _column_quantile(matrix: FloatArray, q: float) -> FloatArray:
    """Per-column quantile (linear interpolation) ignoring NaN; NaN for an all-NaN column."""
    ordered = np.sort(matrix, axis=0)  # NaN sorts last
    finite = np.isfinite(matrix).sum(axis=0)
    position = q * np.maximum(finite - 1, 0)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, np.maximum(finite - 1, 0))
    weight = position - low
    low_values = np.take_along_axis(ordered, low[None, :], axis=0)[0]
    high_values = np.take_along_axis(ordered, high[None, :], axis=0)[0]
    result = low_values + (high_values - low_values) * weight
    return np.where(finite > 0, result, np.nan)


def _batch_noise(
    keys: Sequence[tuple[str, str]],
    matrix: FloatArray,
    series_kinds: Sequence[MetricKind],
    traffic_levels: Sequence[float | None],
) -> dict[tuple[str, str], SeriesNoise]:
    """`SeriesNoise` for every column of ``matrix`` (steps x series) at once."""
    transformed = np.empty_like(matrix)
    with np.errstate(invalid="ignore"):
        positive_medians = _column_quantile(np.where(matrix > 0, matrix, np.nan), 0.5)
    offsets: list[float] = []
    fractions: list[bool] = []
    for j, kind in enumerate(series_kinds):
        column = matrix[:, j]
        fraction = is_fraction_scale(column) if kind in ("availability", "error_rate") else False
        median = positive_medians[j]
        offset = max(0.05 * float(median), 1e-12) if math.isfinite(median) else 1e-9
        transformed[:, j] = transform(kind, column, offset=offset, fraction=fraction)
        offsets.append(offset)
        fractions.append(fraction)
    differences = np.vstack(
        [transformed[lag:] - transformed[:-lag] for lag in NOISE_LAGS if transformed.shape[0] > lag]
        or [np.full((0, matrix.shape[1]), np.nan)]
    )
    with np.errstate(invalid="ignore"):
        centre = _column_quantile(differences, 0.5)
        centred = np.abs(differences - centre[None, :])
        robust = 1.4826 * _column_quantile(centred, 0.5)
        tail = _column_quantile(centred, 0.99) / 2.576
        levels = _column_quantile(matrix, 0.5)
    points = np.isfinite(differences).sum(axis=0)
    result = {}
    for j, key in enumerate(keys):
        if points[j] < MIN_NOISE_POINTS:
            continue
        result[key] = SeriesNoise(
            robust_scale=float(robust[j]),
            tail_scale=float(tail[j]),
            points=int(points[j]),
            offset=offsets[j],
            fraction=fractions[j],
            level=float(levels[j]),
            traffic_level=traffic_levels[j],
        )
    return result
