"""The PromQL syntax tree: selectors, calls, aggregations, binary and unary operations, and the
language's operator and function sets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from evals.sim.promql.errors import BoolArray, FloatArray

ValueType = Literal["scalar", "vector", "matrix"]
MatchOp = Literal["=", "!=", "=~", "!~"]
MATCH_OPS: dict[str, MatchOp] = {"=": "=", "!=": "!=", "=~": "=~", "!~": "!~"}
_TYPE_NAMES = {"scalar": "scalar", "vector": "instant vector", "matrix": "range vector"}


@dataclass(frozen=True)
class Matcher:
    name: str
    op: MatchOp
    value: str
    regex: re.Pattern[str] | None = None

    def matches(self, value: str) -> bool:
        if self.op == "=":
            return value == self.value
        if self.op == "!=":
            return value != self.value
        assert self.regex is not None
        found = self.regex.fullmatch(value) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    type: ValueType = "scalar"


@dataclass(frozen=True)
class VectorSelector:
    name: str | None
    matchers: tuple[Matcher, ...]
    offset: float = 0.0
    type: ValueType = "vector"

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels.get(m.name, "")) for m in self.matchers)


@dataclass(frozen=True)
class MatrixSelector:
    selector: VectorSelector
    range: float
    type: ValueType = "matrix"


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    type: ValueType = "vector"


@dataclass(frozen=True)
class Aggregate:
    op: str
    expr: Node
    grouping: tuple[str, ...]
    without: bool
    type: ValueType = "vector"


@dataclass(frozen=True)
class VectorMatching:
    on: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node
    return_bool: bool
    matching: VectorMatching | None
    type: ValueType = "vector"


@dataclass(frozen=True)
class Unary:
    op: str
    expr: Node
    type: ValueType = "vector"


Node = NumberLiteral | VectorSelector | MatrixSelector | Call | Aggregate | Binary | Unary

_COMPARISON_OPS = {"==", "!=", ">", "<", ">=", "<="}
_SET_OPS = {"and", "or", "unless"}
_ARITH_OPS = {"+", "-", "*", "/", "%", "^"}
_AGGREGATIONS = {"sum", "avg", "max", "min", "count", "group"}
_UNSUPPORTED_AGGREGATIONS = {"stddev", "stdvar", "topk", "bottomk", "count_values", "quantile", "limitk", "limit_ratio"}
_KEYWORDS = {"by", "without", "on", "ignoring", "bool", "offset", "group_left", "group_right"} | _SET_OPS

# name -> (argument types, return type); a trailing "?" would mean optional, none are needed yet.
_FUNCTIONS: dict[str, tuple[tuple[ValueType, ...], ValueType]] = {
    "rate": (("matrix",), "vector"),
    "irate": (("matrix",), "vector"),
    "increase": (("matrix",), "vector"),
    "delta": (("matrix",), "vector"),
    "avg_over_time": (("matrix",), "vector"),
    "min_over_time": (("matrix",), "vector"),
    "max_over_time": (("matrix",), "vector"),
    "sum_over_time": (("matrix",), "vector"),
    "count_over_time": (("matrix",), "vector"),
    "last_over_time": (("matrix",), "vector"),
    "histogram_quantile": (("scalar", "vector"), "vector"),
    "abs": (("vector",), "vector"),
    "ceil": (("vector",), "vector"),
    "floor": (("vector",), "vector"),
    "clamp_min": (("vector", "scalar"), "vector"),
    "clamp_max": (("vector", "scalar"), "vector"),
    "sort": (("vector",), "vector"),
    "sort_desc": (("vector",), "vector"),
    "scalar": (("vector",), "scalar"),
    "vector": (("scalar",), "vector"),
    "time": ((), "scalar"),
}
# Real Prometheus functions this subset leaves out: a clear "not supported" rather than "unknown".
_KNOWN_UNSUPPORTED_FUNCTIONS = {
    "absent",
    "absent_over_time",
    "changes",
    "clamp",
    "day_of_month",
    "day_of_week",
    "days_in_month",
    "deriv",
    "exp",
    "histogram_count",
    "histogram_sum",
    "histogram_fraction",
    "holt_winters",
    "hour",
    "idelta",
    "label_join",
    "label_replace",
    "ln",
    "log2",
    "log10",
    "minute",
    "month",
    "predict_linear",
    "quantile_over_time",
    "resets",
    "round",
    "sgn",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "timestamp",
    "year",
    "present_over_time",
    "double_exponential_smoothing",
    "info",
    "mad_over_time",
}


def scalar_op(op: str, a: FloatArray, b: FloatArray) -> FloatArray:
    """An arithmetic or comparison operator applied elementwise (constant folding and evaluation share it)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return np.power(a, b)
        comparisons: dict[str, Callable[[FloatArray, FloatArray], BoolArray]] = {
            "==": np.equal,
            "!=": np.not_equal,
            ">": np.greater,
            "<": np.less,
            ">=": np.greater_equal,
            "<=": np.less_equal,
        }
        return comparisons[op](a, b).astype(np.float64)
