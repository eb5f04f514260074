"""Vectorised evaluation of a parsed PromQL query over the steps of a range (one numpy row per series)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from evals.sim.promql.errors import (
    LOOKBACK_SECONDS,
    BoolArray,
    FloatArray,
    LabelKey,
    PromQLExecutionError,
    SeriesSource,
)
from evals.sim.promql.nodes import (
    _COMPARISON_OPS,
    _SET_OPS,
    Aggregate,
    Binary,
    Call,
    MatrixSelector,
    Node,
    NumberLiteral,
    Unary,
    VectorMatching,
    VectorSelector,
    scalar_op,
)


@dataclass
class Series:
    """One series over the query's steps: a value per step and whether a sample exists there."""

    labels: dict[str, str]
    values: FloatArray
    present: BoolArray

    def key(self, drop: Sequence[str] = ("__name__",), keep: Sequence[str] | None = None) -> LabelKey:
        if keep is not None:
            return tuple(sorted((k, v) for k, v in self.labels.items() if k in keep))
        return tuple(sorted((k, v) for k, v in self.labels.items() if k not in drop))


@dataclass
class ScalarValue:
    values: FloatArray


@dataclass
class VectorValue:
    series: list[Series] = field(default_factory=list)


@dataclass
class RawMatrix:
    """A range selector evaluated at one instant: raw samples (only at the top of an instant query)."""

    series: list[tuple[dict[str, str], FloatArray, FloatArray]]


Value = ScalarValue | VectorValue


def _without_name(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k != "__name__"}


class Evaluator:
    """Evaluates an AST at every step of ``times`` (one step for an instant query)."""

    def __init__(self, source: SeriesSource, times: FloatArray, *, lookback: float = LOOKBACK_SECONDS) -> None:
        self.source = source
        self.times = times
        self.lookback = lookback
        self._label_sets = source.label_sets()

    def evaluate(self, node: Node) -> Value:
        if isinstance(node, NumberLiteral):
            return ScalarValue(np.full(len(self.times), node.value))
        if isinstance(node, VectorSelector):
            return self.instant_selector(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Aggregate):
            return self.aggregate(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Unary):
            operand = self.evaluate(node.expr)
            if isinstance(operand, ScalarValue):
                return ScalarValue(-operand.values)
            return VectorValue([Series(_without_name(s.labels), -s.values, s.present) for s in operand.series])
        raise PromQLExecutionError("a range vector cannot be evaluated here")

    # -- selectors
    def matching(self, selector: VectorSelector) -> list[int]:
        return [i for i, labels in enumerate(self._label_sets) if selector.matches(labels)]

    def instant_selector(self, selector: VectorSelector) -> VectorValue:
        at = self.times - selector.offset
        out = []
        for index in self.matching(selector):
            times, values = self.source.samples(index, float(at[0]) - self.lookback, float(at[-1]))
            if len(times) == 0:
                continue
            last = np.searchsorted(times, at, side="right") - 1
            clipped = np.clip(last, 0, len(times) - 1)
            present = (last >= 0) & (times[clipped] > at - self.lookback)
            if present.any():
                out.append(Series(dict(self._label_sets[index]), values[clipped], present))
        return VectorValue(out)

    def windows(
        self, matrix: MatrixSelector
    ) -> list[tuple[dict[str, str], FloatArray, FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
        """Per matching series: its samples and, per step, the [lo, hi) sample indices in its window."""
        end = self.times - matrix.selector.offset
        start = end - matrix.range
        out = []
        for index in self.matching(matrix.selector):
            times, values = self.source.samples(index, float(start[0]), float(end[-1]))
            if len(times) == 0:
                continue
            # Prometheus 3 windows are left-open: (t - range, t].
            lo = np.searchsorted(times, start, side="right")
            hi = np.searchsorted(times, end, side="right")
            out.append((dict(self._label_sets[index]), times, values, lo, hi))
        return out

    def raw_matrix(self, matrix: MatrixSelector) -> RawMatrix:
        series = []
        for labels, times, values, lo, hi in self.windows(matrix):
            if hi[0] > lo[0]:
                series.append((labels, times[lo[0] : hi[0]], values[lo[0] : hi[0]]))
        return RawMatrix(series)

    # -- functions
    def call(self, node: Call) -> Value:
        name = node.func
        if name in ("rate", "increase", "delta"):
            return self.extrapolated(node.args[0], is_counter=name != "delta", is_rate=name == "rate")
        if name == "irate":
            return self.irate(node.args[0])
        if name.endswith("_over_time"):
            return self.over_time(name.removesuffix("_over_time"), node.args[0])
        if name == "histogram_quantile":
            q = self.evaluate(node.args[0])
            vector = self.evaluate(node.args[1])
            assert isinstance(q, ScalarValue) and isinstance(vector, VectorValue)
            return self.histogram_quantile(q.values, vector)
        if name == "time":
            return ScalarValue(self.times.copy())
        if name == "vector":
            scalar = self.evaluate(node.args[0])
            assert isinstance(scalar, ScalarValue)
            return VectorValue([Series({}, scalar.values, np.ones(len(self.times), dtype=bool))])
        if name == "scalar":
            vector = self.evaluate(node.args[0])
            assert isinstance(vector, VectorValue)
            counts = np.sum([s.present for s in vector.series], axis=0) if vector.series else np.zeros(len(self.times))
            values = np.full(len(self.times), math.nan)
            for s in vector.series:
                values = np.where(s.present & (counts == 1), s.values, values)
            return ScalarValue(values)
        vector = self.evaluate(node.args[0])
        assert isinstance(vector, VectorValue)
        if name in ("sort", "sort_desc"):
            # Order only matters for an instant query's output; the API layer sorts by the first step's value.
            reverse = name == "sort_desc"
            ordered = sorted(
                vector.series, key=lambda s: float(s.values[0]) if s.present[0] else math.inf, reverse=reverse
            )
            return VectorValue(ordered)
        transforms: dict[str, Callable[[FloatArray], FloatArray]] = {"abs": np.abs, "ceil": np.ceil, "floor": np.floor}
        if name in transforms:
            fn = transforms[name]
            return VectorValue([Series(_without_name(s.labels), fn(s.values), s.present) for s in vector.series])
        bound = self.evaluate(node.args[1])
        assert isinstance(bound, ScalarValue)
        clamp = np.maximum if name == "clamp_min" else np.minimum
        return VectorValue(
            [Series(_without_name(s.labels), clamp(s.values, bound.values), s.present) for s in vector.series]
        )

    def extrapolated(self, arg: Node, *, is_counter: bool, is_rate: bool) -> VectorValue:
        assert isinstance(arg, MatrixSelector)
        range_end = self.times - arg.selector.offset
        range_start = range_end - arg.range
        out = []
        with np.errstate(divide="ignore", invalid="ignore"):
            for labels, times, values, lo, hi in self.windows(arg):
                count = hi - lo
                present = count >= 2
                if not present.any():
                    continue
                first = np.clip(lo, 0, len(times) - 1)
                last = np.clip(hi - 1, 0, len(times) - 1)
                result = values[last] - values[first]
                if is_counter:
                    drops = np.where(values[1:] < values[:-1], values[:-1], 0.0)
                    corrections = np.concatenate(([0.0], np.cumsum(drops)))
                    result = result + corrections[last] - corrections[first]
                sampled = times[last] - times[first]
                average = sampled / np.maximum(count - 1, 1)
                threshold = average * 1.1
                to_start = times[first] - range_start
                to_start = np.where(to_start >= threshold, average / 2, to_start)
                if is_counter:
                    to_zero = np.where(
                        (result > 0) & (values[first] >= 0), sampled * (values[first] / result), math.inf
                    )
                    to_start = np.minimum(to_start, to_zero)
                to_end = range_end - times[last]
                to_end = np.where(to_end >= threshold, average / 2, to_end)
                factor = (sampled + to_start + to_end) / sampled
                if is_rate:
                    factor = factor / arg.range
                out.append(Series(_without_name(labels), result * factor, present))
        return VectorValue(out)

    def irate(self, arg: Node) -> VectorValue:
        assert isinstance(arg, MatrixSelector)
        out = []
        with np.errstate(divide="ignore", invalid="ignore"):
            for labels, times, values, lo, hi in self.windows(arg):
                present = (hi - lo) >= 2
                if not present.any():
                    continue
                last = np.clip(hi - 1, 0, len(times) - 1)
                previous = np.clip(hi - 2, 0, len(times) - 1)
                delta = np.where(values[last] < values[previous], values[last], values[last] - values[previous])
                out.append(Series(_without_name(labels), delta / (times[last] - times[previous]), present))
        return VectorValue(out)

    def over_time(self, kind: str, arg: Node) -> VectorValue:
        assert isinstance(arg, MatrixSelector)
        reducers: dict[str, Callable[[FloatArray], float]] = {
            "avg": lambda v: float(np.mean(v)),
            "min": lambda v: float(np.nanmin(v)) if not np.isnan(v).all() else math.nan,
            "max": lambda v: float(np.nanmax(v)) if not np.isnan(v).all() else math.nan,
            "sum": lambda v: float(np.sum(v)),
            "count": lambda v: float(len(v)),
            "last": lambda v: float(v[-1]),
        }
        reduce = reducers[kind]
        out = []
        for labels, _times, values, lo, hi in self.windows(arg):
            present = hi > lo
            if not present.any():
                continue
            result = np.array([reduce(values[a:b]) if b > a else math.nan for a, b in zip(lo, hi, strict=True)])
            # last_over_time keeps the metric name, as in Prometheus; the others drop it.
            out.append(Series(labels if kind == "last" else _without_name(labels), result, present))
        return VectorValue(out)

    def histogram_quantile(self, q: FloatArray, vector: VectorValue) -> VectorValue:
        groups: dict[LabelKey, list[tuple[float, Series]]] = {}
        for s in vector.series:
            le = s.labels.get("le")
            if le is None:
                continue
            try:
                bound = float(le.replace("+Inf", "inf"))
            except ValueError:
                continue
            groups.setdefault(s.key(drop=("__name__", "le")), []).append((bound, s))
        out = []
        for key, buckets in groups.items():
            buckets.sort(key=lambda pair: pair[0])
            bounds = np.array([b for b, _ in buckets])
            counts = np.vstack([s.values for _, s in buckets])
            presence = np.vstack([s.present for _, s in buckets])
            values = np.full(len(self.times), math.nan)
            present = np.zeros(len(self.times), dtype=bool)
            for step in range(len(self.times)):
                mask = presence[:, step]
                if not mask.any():
                    continue
                present[step] = True
                values[step] = bucket_quantile(float(q[step]), bounds[mask], counts[mask, step])
            if present.any():
                out.append(Series(dict(key), values, present))
        return VectorValue(out)

    # -- aggregation
    def aggregate(self, node: Aggregate) -> VectorValue:
        operand = self.evaluate(node.expr)
        assert isinstance(operand, VectorValue)
        groups: dict[LabelKey, list[Series]] = {}
        for s in operand.series:
            key = s.key(drop=("__name__", *node.grouping)) if node.without else s.key(keep=node.grouping)
            groups.setdefault(key, []).append(s)
        out = []
        for key, members in groups.items():
            values = np.vstack([m.values for m in members])
            present = np.vstack([m.present for m in members])
            any_present: BoolArray = np.asarray(present.any(axis=0), dtype=bool)
            count = present.sum(axis=0).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                if node.op in ("sum", "avg"):
                    total = np.where(present, values, 0.0).sum(axis=0)
                    result = total if node.op == "sum" else total / count
                elif node.op == "count":
                    result = count
                elif node.op == "group":
                    result = np.ones(len(self.times))
                else:
                    masked = np.where(present, values, math.nan)
                    # fmax/fmin skip NaN unless every value is NaN, like Prometheus' max/min.
                    reducer = np.fmax if node.op == "max" else np.fmin
                    result = reducer.reduce(masked, axis=0)
            out.append(Series(dict(key), result, any_present))
        return VectorValue(out)

    # -- binary operators
    def binary(self, node: Binary) -> Value:
        lhs = self.evaluate(node.lhs)
        rhs = self.evaluate(node.rhs)
        op = node.op
        if isinstance(lhs, ScalarValue) and isinstance(rhs, ScalarValue):
            return ScalarValue(scalar_op(op, lhs.values, rhs.values))
        if isinstance(lhs, VectorValue) and isinstance(rhs, VectorValue):
            if op in _SET_OPS:
                return self.set_operation(op, lhs, rhs, node.matching)
            return self.vector_vector(node, lhs, rhs)
        return self.vector_scalar(node, lhs, rhs)

    def vector_scalar(self, node: Binary, lhs: Value, rhs: Value) -> VectorValue:
        vector_on_left = isinstance(lhs, VectorValue)
        vector = lhs if isinstance(lhs, VectorValue) else rhs
        scalar = rhs if isinstance(rhs, ScalarValue) else lhs
        assert isinstance(vector, VectorValue) and isinstance(scalar, ScalarValue)
        out = []
        for s in vector.series:
            a, b = (s.values, scalar.values) if vector_on_left else (scalar.values, s.values)
            result = scalar_op(node.op, a, b)
            if node.op in _COMPARISON_OPS and not node.return_bool:
                out.append(Series(s.labels, s.values, s.present & (result == 1.0)))
            else:
                out.append(Series(_without_name(s.labels), result, s.present))
        return VectorValue(out)

    def _match_key(self, s: Series, matching: VectorMatching | None) -> LabelKey:
        if matching is None:
            return s.key()
        if matching.on:
            return s.key(keep=matching.labels)
        return s.key(drop=("__name__", *matching.labels))

    def _unique_side(self, series: list[Series], matching: VectorMatching | None, side: str) -> dict[LabelKey, Series]:
        """Index one side by its match key; series sharing a key must never be present together."""
        index: dict[LabelKey, Series] = {}
        for s in series:
            key = self._match_key(s, matching)
            if key in index:
                other = index[key]
                if (other.present & s.present).any():
                    raise PromQLExecutionError(
                        f"found duplicate series for the match group {_format_key(key)} on the {side} hand-side "
                        "of the operation: many-to-many matching not allowed: matching labels must be unique on one side"
                    )
                index[key] = Series(
                    other.labels, np.where(s.present, s.values, other.values), other.present | s.present
                )
            else:
                index[key] = s
        return index

    def vector_vector(self, node: Binary, lhs: VectorValue, rhs: VectorValue) -> VectorValue:
        right = self._unique_side(rhs.series, node.matching, "right")
        left = self._unique_side(lhs.series, node.matching, "left")
        filtering = node.op in _COMPARISON_OPS and not node.return_bool
        out = []
        for key, ls in left.items():
            rs = right.get(key)
            if rs is None:
                continue
            result = scalar_op(node.op, ls.values, rs.values)
            present = ls.present & rs.present
            labels = dict(ls.labels)
            if node.matching is not None:
                labels = (
                    dict(key)
                    if node.matching.on
                    else {k: v for k, v in labels.items() if k not in node.matching.labels}
                )
            if filtering:
                out.append(Series(labels, ls.values, present & (result == 1.0)))
            else:
                out.append(Series(_without_name(labels), result, present))
        return VectorValue([s for s in out if s.present.any()])

    def set_operation(
        self, op: str, lhs: VectorValue, rhs: VectorValue, matching: VectorMatching | None
    ) -> VectorValue:
        right_presence: dict[LabelKey, BoolArray] = {}
        for s in rhs.series:
            key = self._match_key(s, matching)
            right_presence[key] = right_presence.get(key, np.zeros(len(self.times), dtype=bool)) | s.present
        none = np.zeros(len(self.times), dtype=bool)
        if op == "and":
            out = [
                Series(s.labels, s.values, s.present & right_presence.get(self._match_key(s, matching), none))
                for s in lhs.series
            ]
        elif op == "unless":
            out = [
                Series(s.labels, s.values, s.present & ~right_presence.get(self._match_key(s, matching), none))
                for s in lhs.series
            ]
        else:
            left_presence: dict[LabelKey, BoolArray] = {}
            for s in lhs.series:
                key = self._match_key(s, matching)
                left_presence[key] = left_presence.get(key, none) | s.present
            out = list(lhs.series) + [
                Series(s.labels, s.values, s.present & ~left_presence.get(self._match_key(s, matching), none))
                for s in rhs.series
            ]
        return VectorValue([s for s in out if s.present.any()])


def _format_key(key: LabelKey) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"


def bucket_quantile(q: float, bounds: FloatArray, counts: FloatArray) -> float:
    """Prometheus' ``bucketQuantile`` over cumulative classic buckets sorted by upper bound."""
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(bounds) == 0 or not math.isinf(bounds[-1]):
        return math.nan
    # Merge duplicate bounds, then force monotonic counts (scrape skew can make them dip).
    unique_bounds, first_index = np.unique(bounds, return_index=True)
    counts = np.maximum.accumulate(counts[first_index])
    bounds = unique_bounds
    if len(bounds) < 2:
        return math.nan
    observations = counts[-1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    b = int(np.searchsorted(counts[:-1], rank, side="left"))
    if b == len(bounds) - 1:
        return float(bounds[-2])
    if b == 0 and bounds[0] <= 0:
        return float(bounds[0])
    bucket_start = 0.0
    bucket_end = float(bounds[b])
    count = float(counts[b])
    if b > 0:
        bucket_start = float(bounds[b - 1])
        count -= float(counts[b - 1])
        rank -= float(counts[b - 1])
    return float(bucket_start + (bucket_end - bucket_start) * (rank / count))
