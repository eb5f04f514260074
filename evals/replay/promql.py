"""The PromQL subset a replay answers, evaluated over recorded gauges.

Supported: a selector ``name{label="v", label!="v", label=~"re", label!~"re"}`` (name or matchers
optional, not both), ``vector(N)``, a number, the range functions ``rate increase avg_over_time
max_over_time min_over_time last_over_time count_over_time`` over ``selector[duration]``, the
aggregations ``sum avg max min count`` with ``by (...)`` or ``without (...)`` before or after the
argument, ``histogram_quantile(q, buckets)`` over classic ``le`` buckets, arithmetic between an
expression and a number (``1 - ratio``, ``percent / 100``: ``* /`` before ``+ -``, left to right,
parentheses group), and a comparison with a number (``expr > 0.5``: keeps the samples that pass).
Anything else is a `PromQLError`, answered as Prometheus answers a parse error (400, ``bad_data``).
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from evals.replay.recording import Labels, SeriesData

LOOKBACK_S = 300.0  # Prometheus' default lookback delta: an instant selector sees the last 5 minutes
RANGE_FUNCTIONS = frozenset(
    {"rate", "increase", "avg_over_time", "max_over_time", "min_over_time", "last_over_time", "count_over_time"}
)
AGGREGATIONS = frozenset({"sum", "avg", "max", "min", "count"})
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
ARITHMETIC: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b if b != 0 else (math.nan if a == 0 else math.copysign(math.inf, a)),
}
DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\')|(?P<dur>\[\s*\d+(?:ms|[smhdw])\s*\])'
    r"|(?P<num>\d+(?:\.\d+)?(?:e[+-]?\d+)?)|(?P<op>=~|!~|!=|>=|<=|==|[{}(),=<>+\-*/])|(?P<id>[A-Za-z_:][A-Za-z0-9_:.]*))"
)


class PromQLError(ValueError):
    """The expression is outside the replay's subset or malformed."""


# Nodes -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    label: str
    op: str
    value: str

    def matches(self, labels: dict[str, str]) -> bool:
        have = labels.get(self.label, "")
        if self.op == "=":
            return have == self.value
        if self.op == "!=":
            return have != self.value
        hit = re.fullmatch(self.value, have) is not None
        return hit if self.op == "=~" else not hit


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]
    range_s: float | None = None


@dataclass(frozen=True)
class Number:
    value: float
    as_vector: bool = False


@dataclass(frozen=True)
class RangeCall:
    function: str
    selector: Selector


@dataclass(frozen=True)
class Aggregate:
    op: str
    grouping: tuple[str, ...]
    without: bool
    argument: Node


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    threshold: float


@dataclass(frozen=True)
class HistogramQuantile:
    """``histogram_quantile(quantile, buckets)``: the quantile of cumulative ``le`` buckets, as Prometheus computes it."""

    quantile: float
    argument: Node


@dataclass(frozen=True)
class Arithmetic:
    """``left op right`` where at least one side is a number (the replay joins no two vectors)."""

    op: str
    left: Node
    right: Node


Node = Selector | Number | RangeCall | Aggregate | Compare | Arithmetic | HistogramQuantile


# Parsing -----------------------------------------------------------------------------------------


def parse(text: str) -> Node:
    tokens = _tokens(text)
    parser = _Parser(tokens)
    node = parser.expression()
    if parser.position != len(tokens):
        raise PromQLError(f"unexpected {tokens[parser.position][1]!r} after the expression")
    return node


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise PromQLError(f"unexpected character at position {position}: {text[position : position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.position] if self.position < len(self.tokens) else ("end", "")

    def take(self, value: str | None = None) -> str:
        kind, text = self.peek()
        if kind == "end" or (value is not None and text != value):
            raise PromQLError(f"expected {value or 'more'}, found {text or 'the end'}")
        self.position += 1
        return text

    def expression(self) -> Node:
        node = self.sum()
        kind, text = self.peek()
        if kind == "op" and text in COMPARISONS:
            self.take()
            threshold = self.take()
            try:
                return Compare(text, node, float(threshold))
            except ValueError:
                raise PromQLError("only a comparison with a number is supported") from None
        return node

    def sum(self) -> Node:
        node = self.product()
        while self.peek() in (("op", "+"), ("op", "-")):
            node = _arithmetic(self.take(), node, self.product())
        return node

    def product(self) -> Node:
        node = self.operand()
        while self.peek() in (("op", "*"), ("op", "/")):
            node = _arithmetic(self.take(), node, self.operand())
        return node

    def operand(self) -> Node:
        kind, text = self.peek()
        if kind == "op" and text == "(":
            self.take("(")
            node = self.sum()
            self.take(")")
            return node
        if kind == "num":
            self.take()
            return Number(float(text))
        if kind == "op" and text == "{":
            return self.selector(None)
        if kind != "id":
            raise PromQLError(f"unexpected {text or 'end'}")
        self.take()
        if text in AGGREGATIONS:
            return self.aggregate(text)
        if text in RANGE_FUNCTIONS:
            self.take("(")
            selector = self.selector(self.take() if self.peek()[0] == "id" else None)
            self.take(")")
            if selector.range_s is None:
                raise PromQLError(f"{text} needs a range vector, e.g. {text}(metric[5m])")
            return RangeCall(text, selector)
        if text == "histogram_quantile":
            self.take("(")
            try:
                quantile = float(self.take())
            except ValueError:
                raise PromQLError(
                    "histogram_quantile needs a number first, e.g. histogram_quantile(0.9, ...)"
                ) from None
            self.take(",")
            argument = self.expression()
            self.take(")")
            return HistogramQuantile(quantile, argument)
        if text == "vector":
            self.take("(")
            value = float(self.take())
            self.take(")")
            return Number(value, as_vector=True)
        if self.peek() == ("op", "("):
            raise PromQLError(f"function {text} is not supported by the replay")
        return self.selector(text)

    def selector(self, name: str | None) -> Selector:
        matchers: list[Matcher] = [Matcher("__name__", "=", name)] if name else []
        if self.peek() == ("op", "{"):
            self.take("{")
            while self.peek() != ("op", "}"):
                label = self.take()
                op = self.take()
                if op not in {"=", "!=", "=~", "!~"}:
                    raise PromQLError(f"unknown matcher operator {op}")
                kind, raw = self.peek()
                if kind != "str":
                    raise PromQLError(f"label {label} needs a quoted value")
                self.take()
                matchers.append(Matcher(label, op, _unquote(raw)))
                if self.peek() == ("op", ","):
                    self.take()
            self.take("}")
        if not matchers:
            raise PromQLError("a selector needs a metric name or a label matcher")
        range_s = None
        if self.peek()[0] == "dur":
            range_s = _duration(self.take().strip("[] "))
        return Selector(tuple(matchers), range_s)

    def aggregate(self, op: str) -> Aggregate:
        grouping: tuple[str, ...] = ()
        without = False
        if self.peek()[1] in {"by", "without"}:
            without = self.take() == "without"
            grouping = self.labels()
        self.take("(")
        argument = self.expression()
        self.take(")")
        if self.peek()[1] in {"by", "without"} and not grouping:
            without = self.take() == "without"
            grouping = self.labels()
        return Aggregate(op, grouping, without, argument)

    def labels(self) -> tuple[str, ...]:
        self.take("(")
        names: list[str] = []
        while self.peek() != ("op", ")"):
            names.append(self.take())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return tuple(names)


def is_scalar(node: Node) -> bool:
    """A plain number, or arithmetic between plain numbers: answered as Prometheus' ``scalar`` type."""
    if isinstance(node, Number):
        return not node.as_vector
    return isinstance(node, Arithmetic) and is_scalar(node.left) and is_scalar(node.right)


def _arithmetic(op: str, left: Node, right: Node) -> Arithmetic:
    if not is_scalar(left) and not is_scalar(right):
        raise PromQLError(f"the replay computes {op} only between an expression and a number, not two vectors")
    return Arithmetic(op, left, right)


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|[smhdw])", text)
    if match is None:
        raise PromQLError(f"bad duration {text}")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


# Evaluation --------------------------------------------------------------------------------------

Sample = tuple[Labels, float]


def evaluate(node: Node, series: list[SeriesData], at: float) -> list[Sample]:
    """The instant vector ``node`` yields at unix time ``at`` (nothing later than ``at`` is read)."""
    if isinstance(node, Number):
        return [((), node.value)]
    if isinstance(node, Selector):
        if node.range_s is not None:
            raise PromQLError("a range vector cannot be evaluated on its own; wrap it in a function")
        return [(s.labels, v) for s in _matching(node, series) if (v := _last(s, at - LOOKBACK_S, at)) is not None]
    if isinstance(node, RangeCall):
        out: list[Sample] = []
        for item in _matching(node.selector, series):
            value = _over_time(node.function, item, at - (node.selector.range_s or 0), at)
            if value is not None:
                out.append((_drop_name(item.labels), value))
        return out
    if isinstance(node, HistogramQuantile):
        return _histogram_quantile(node.quantile, evaluate(node.argument, series, at))
    if isinstance(node, Arithmetic):
        apply = ARITHMETIC[node.op]
        if is_scalar(node.right):
            scalar = evaluate(node.right, series, at)[0][1]
            if is_scalar(node.left):
                return [((), apply(evaluate(node.left, series, at)[0][1], scalar))]
            return [(_drop_name(labels), apply(value, scalar)) for labels, value in evaluate(node.left, series, at)]
        scalar = evaluate(node.left, series, at)[0][1]
        return [(_drop_name(labels), apply(scalar, value)) for labels, value in evaluate(node.right, series, at)]
    if isinstance(node, Compare):
        passes = COMPARISONS[node.op]
        return [(labels, value) for labels, value in evaluate(node.left, series, at) if passes(value, node.threshold)]
    return _aggregate(node, evaluate(node.argument, series, at))


def _matching(selector: Selector, series: list[SeriesData]) -> list[SeriesData]:
    return [s for s in series if all(m.matches(s.label_map) for m in selector.matchers)]


def _window(series: SeriesData, start: float, end: float) -> list[tuple[float, float]]:
    lo = bisect.bisect_right(series.times, start)
    hi = bisect.bisect_right(series.times, end)
    return list(zip(series.times[lo:hi], series.values[lo:hi], strict=True))


def _last(series: SeriesData, start: float, end: float) -> float | None:
    points = _window(series, start, end)
    return points[-1][1] if points else None


def _over_time(function: str, series: SeriesData, start: float, end: float) -> float | None:
    points = _window(series, start, end)
    if not points:
        return None
    values = [v for _, v in points]
    if function in {"rate", "increase"}:
        if len(points) < 2:
            return None
        grown = sum(b - a if b >= a else b for a, b in zip(values, values[1:], strict=False))  # counter resets
        elapsed = points[-1][0] - points[0][0]
        if function == "increase":
            return grown * (end - start) / elapsed if elapsed > 0 else None
        return grown / elapsed if elapsed > 0 else None
    summary: dict[str, Callable[[list[float]], float]] = {
        "avg_over_time": lambda xs: math.fsum(xs) / len(xs),
        "max_over_time": max,
        "min_over_time": min,
        "last_over_time": lambda xs: xs[-1],
        "count_over_time": lambda xs: float(len(xs)),
    }
    return summary[function](values)


def _drop_name(labels: Labels) -> Labels:
    return tuple((k, v) for k, v in labels if k != "__name__")


def _aggregate(node: Aggregate, samples: list[Sample]) -> list[Sample]:
    groups: dict[Labels, list[float]] = {}
    for labels, value in samples:
        if node.without:
            key = tuple((k, v) for k, v in labels if k not in node.grouping and k != "__name__")
        else:
            key = tuple((k, v) for k, v in labels if k in node.grouping)
        groups.setdefault(key, []).append(value)
    reduce: dict[str, Callable[[list[float]], float]] = {
        "sum": math.fsum,
        "avg": lambda xs: math.fsum(xs) / len(xs),
        "max": max,
        "min": min,
        "count": lambda xs: float(len(xs)),
    }
    return [(key, reduce[node.op](values)) for key, values in sorted(groups.items())]


def _histogram_quantile(quantile: float, samples: list[Sample]) -> list[Sample]:
    """Prometheus' ``histogram_quantile`` over classic buckets: per label set without ``le``, the
    cumulative counts sorted by bound, the rank ``quantile x total`` found by linear interpolation
    inside its bucket (from 0 in the first one when its bound is positive); the highest finite bound
    when the rank falls in the ``+Inf`` bucket; NaN with no observations; -Inf / +Inf outside [0, 1]."""
    groups: dict[Labels, list[tuple[float, float]]] = {}
    for labels, value in samples:
        bound = dict(labels).get("le")
        if bound is None:
            continue
        try:
            upper = math.inf if bound in ("+Inf", "Inf", "inf") else float(bound)
        except ValueError:
            continue
        key = tuple((k, v) for k, v in labels if k not in ("le", "__name__"))
        groups.setdefault(key, []).append((upper, value))
    out: list[Sample] = []
    for key, buckets in sorted(groups.items()):
        buckets.sort()
        if quantile < 0 or quantile > 1:
            out.append((key, -math.inf if quantile < 0 else math.inf))
            continue
        if not buckets or buckets[-1][0] != math.inf:
            out.append((key, math.nan))  # no +Inf bucket: Prometheus answers NaN
            continue
        counts = [max(c for _, c in buckets[: i + 1]) for i in range(len(buckets))]  # monotonic, as Prometheus fixes it
        total = counts[-1]
        if total <= 0:
            out.append((key, math.nan))
            continue
        rank = quantile * total
        index = next(i for i, c in enumerate(counts) if c >= rank)
        if buckets[index][0] == math.inf:
            out.append((key, buckets[index - 1][0] if index > 0 else math.nan))
            continue
        lower = buckets[index - 1][0] if index > 0 else 0.0
        below = counts[index - 1] if index > 0 else 0.0
        upper = buckets[index][0]
        if index == 0 and upper <= 0:
            out.append((key, upper))
            continue
        inside = counts[index] - below
        out.append((key, lower + (upper - lower) * ((rank - below) / inside if inside > 0 else 0.0)))
    return out
