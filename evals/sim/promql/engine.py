"""The query facade the simulated Prometheus API calls: parse, evaluate, format results as Prometheus does."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from evals.sim.promql.errors import LOOKBACK_SECONDS, MAX_POINTS, PromQLParseError, SeriesSource
from evals.sim.promql.evaluator import Evaluator, ScalarValue, Series
from evals.sim.promql.nodes import Call, MatrixSelector, Node
from evals.sim.promql.parser import parse, parse_selector


def format_value(value: float) -> str:
    """Prometheus' sample rendering (Go ``FormatFloat(v, 'f', -1, 64)``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return np.format_float_positional(value, trim="-")


def format_time(seconds: float) -> float | int:
    """Unix seconds with millisecond precision, as a JSON number."""
    millis = round(seconds * 1000)
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


def _sort_key(labels: Mapping[str, str]) -> list[tuple[str, str]]:
    return sorted(labels.items())


class PromQLEngine:
    """Answers instant and range queries over a `SeriesSource` with Prometheus' ``data`` shapes."""

    def __init__(self, source: SeriesSource, *, lookback: float = LOOKBACK_SECONDS) -> None:
        self.source = source
        self.lookback = lookback

    def instant(self, query: str, at: float) -> dict[str, Any]:
        """The ``data`` object of ``/api/v1/query`` evaluated at unix time ``at``."""
        node = parse(query)
        times = np.array([at], dtype=np.float64)
        evaluator = Evaluator(self.source, times, lookback=self.lookback)
        stamp = format_time(at)
        if isinstance(node, MatrixSelector):
            raw = evaluator.raw_matrix(node)
            result = [
                {"metric": labels, "values": [[format_time(t), format_value(v)] for t, v in zip(ts, vs, strict=True)]}
                for labels, ts, vs in sorted(raw.series, key=lambda item: _sort_key(item[0]))
            ]
            return {"resultType": "matrix", "result": result}
        value = evaluator.evaluate(node)
        if isinstance(value, ScalarValue):
            return {"resultType": "scalar", "result": [stamp, format_value(float(value.values[0]))]}
        series = [s for s in value.series if s.present[0]]
        if not _is_sorted_call(node):
            series.sort(key=lambda s: _sort_key(s.labels))
        return {
            "resultType": "vector",
            "result": [{"metric": s.labels, "value": [stamp, format_value(float(s.values[0]))]} for s in series],
        }

    def range(self, query: str, start: float, end: float, step: float) -> dict[str, Any]:
        """The ``data`` object of ``/api/v1/query_range`` (always a matrix)."""
        if end < start:
            raise PromQLParseError("end timestamp must not be before start time")
        if step <= 0:
            raise PromQLParseError(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
            )
        if (end - start) / step > MAX_POINTS:
            raise PromQLParseError(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
            )
        node = parse(query)
        if node.type == "matrix":
            raise PromQLParseError(
                'invalid parameter "query": invalid expression type "range vector" for range query, must be Scalar or instant Vector'
            )
        count = int(math.floor((end - start) / step + 1e-9)) + 1
        times = start + step * np.arange(count, dtype=np.float64)
        value = Evaluator(self.source, times, lookback=self.lookback).evaluate(node)
        if isinstance(value, ScalarValue):
            rows = [Series({}, value.values, np.ones(count, dtype=bool))]
        else:
            rows = sorted(value.series, key=lambda s: _sort_key(s.labels))
        stamps = [format_time(float(t)) for t in times]
        result = []
        for s in rows:
            points = [[stamps[i], format_value(float(s.values[i]))] for i in np.flatnonzero(s.present)]
            if points:
                result.append({"metric": s.labels, "values": points})
        return {"resultType": "matrix", "result": result}

    def series(self, selectors: Sequence[str]) -> list[dict[str, str]]:
        """Label sets matching any of the ``match[]`` selectors (``/api/v1/series``)."""
        parsed = [parse_selector(text) for text in selectors]
        found = [dict(labels) for labels in self.source.label_sets() if any(p.matches(labels) for p in parsed)]
        return sorted(found, key=_sort_key)


def _is_sorted_call(node: Node) -> bool:
    return isinstance(node, Call) and node.func in ("sort", "sort_desc")
