"""A PromQL subset: a hand-written recursive-descent parser and a vectorised evaluator.

The simulator answers ``/api/v1/query`` and ``/api/v1/query_range`` with this module, so that the
production Prometheus adapter and the agents' queries run unchanged against simulated telemetry.

Supported
---------
- Number literals (``0.05``, ``1e3``, ``0x1f``, ``Inf``, ``NaN``) and parentheses.
- Vector selectors with label matchers ``=``, ``!=``, ``=~``, ``!~`` (regexes fully anchored, as in
  Prometheus), with or without a metric name: ``http_requests_total{service="checkout",code=~"5.."}``.
- Range selectors ``[5m]`` and the ``offset`` modifier (``x[5m] offset 1h``).
- Functions over range vectors: ``rate``, ``irate``, ``increase``, ``delta``, ``avg_over_time``,
  ``min_over_time``, ``max_over_time``, ``sum_over_time``, ``count_over_time``, ``last_over_time``.
  ``rate``/``increase``/``delta`` extrapolate exactly as Prometheus does (``extrapolatedRate``).
- ``histogram_quantile(φ, v)`` over classic ``le`` buckets (Prometheus' interpolation and edge cases).
- Instant-vector functions: ``abs``, ``ceil``, ``floor``, ``clamp_min``, ``clamp_max``, ``sort``,
  ``sort_desc``, ``scalar``, ``vector``, ``time``.
- Aggregations ``sum``, ``avg``, ``max``, ``min``, ``count``, ``group`` with ``by (...)`` or
  ``without (...)``, written before or after the argument.
- Binary arithmetic ``+ - * / % ^`` between scalars, between a vector and a scalar, and between two
  vectors (one-to-one matching on identical label sets without ``__name__``, or with
  ``on (...)``/``ignoring (...)``); comparisons ``== != > < >= <=`` that filter, or return 0/1 with
  ``bool``; the set operators ``and``, ``or``, ``unless``.

Not supported, answered with Prometheus' ``bad_data`` error: subqueries (``[1h:5m]``), the ``@``
modifier, ``group_left``/``group_right``, parameterised aggregations (``topk``, ``quantile``...),
string literals as values, and any other function. Errors carry Prometheus' position prefix
(``1:5: parse error: ...``).

Evaluation is vectorised over the steps of a query: each node evaluates to one value per step (a
scalar row, or one row per series with a presence mask), so a three-hour range query at 15 s steps
costs a handful of numpy operations per series rather than 721 separate evaluations.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from evals.sim.timeutil import parse_duration

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
LabelKey = tuple[tuple[str, str], ...]

LOOKBACK_SECONDS = 300.0
MAX_POINTS = 11_000


class PromQLError(Exception):
    """A query that cannot be answered; `error_type` is Prometheus' ``errorType``."""

    error_type: Literal["bad_data", "execution"] = "bad_data"
    http_status = 400


class PromQLParseError(PromQLError):
    """The query is not valid (or not in the supported subset): ``bad_data``, HTTP 400."""


class PromQLExecutionError(PromQLError):
    """The query parsed but cannot be evaluated (e.g. many-to-many matching): ``execution``, HTTP 422."""

    error_type = "execution"
    http_status = 422


class SeriesSource(Protocol):
    """Where samples come from. Label sets are static; samples are produced on demand."""

    def label_sets(self) -> Sequence[Mapping[str, str]]: ...

    def samples(self, index: int, start: float, end: float) -> tuple[FloatArray, FloatArray]:
        """Times (unix seconds, ascending) and values of series ``index`` within [start, end]."""
        ...


# --------------------------------------------------------------------------------------------- lexer

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+)(?![A-Za-z0-9_])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^(){}\[\],=<>:@])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    kind: str  # ident, number, duration, string, op, eof
    text: str
    pos: int  # 0-based offset in the query


def _position(query: str, pos: int) -> str:
    line = query.count("\n", 0, pos) + 1
    column = pos - (query.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{column}"


def _parse_error(query: str, pos: int, message: str) -> PromQLParseError:
    return PromQLParseError(f"{_position(query, pos)}: parse error: {message}")


def tokenize(query: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(query):
        match = _TOKEN_RE.match(query, pos)
        if match is None:
            if query[pos] in "\"'`":
                raise _parse_error(query, pos, "unterminated quoted string")
            raise _parse_error(query, pos, f"unexpected character: {query[pos]!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(query)))
    return tokens


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


def _unquote(token: Token, query: str) -> str:
    text = token.text
    if text[0] == "`":
        return text[1:-1]
    out: list[str] = []
    i = 1
    while i < len(text) - 1:
        char = text[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[nxt]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _parse_error(query, token.pos + i, f"invalid escape sequence \\{nxt}{digits}")
            out.append(chr(int(digits, 16)))
            i += 2 + width
        else:
            raise _parse_error(query, token.pos + i, f"unknown escape sequence \\{nxt}")
    return "".join(out)


# ----------------------------------------------------------------------------------------------- AST

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
    "absent", "absent_over_time", "changes", "clamp", "day_of_month", "day_of_week", "days_in_month",
    "deriv", "exp", "histogram_count", "histogram_sum", "histogram_fraction", "holt_winters", "hour",
    "idelta", "label_join", "label_replace", "ln", "log2", "log10", "minute", "month", "predict_linear",
    "quantile_over_time", "resets", "round", "sgn", "sqrt", "stddev_over_time", "stdvar_over_time",
    "timestamp", "year", "present_over_time", "double_exponential_smoothing", "info", "mad_over_time",
}


# --------------------------------------------------------------------------------------------- parser


class Parser:
    """Recursive descent, one method per precedence level (lowest first)::

        expr     := or_expr
        or_expr  := and_expr ('or' modifiers and_expr)*
        and_expr := cmp_expr (('and'|'unless') modifiers cmp_expr)*
        cmp_expr := add_expr (cmp_op ['bool'] modifiers add_expr)*
        add_expr := mul_expr (('+'|'-') modifiers mul_expr)*
        mul_expr := unary (('*'|'/'|'%') modifiers unary)*
        unary    := ('-'|'+') unary | pow_expr
        pow_expr := postfix ('^' modifiers unary)?          right-associative
        postfix  := primary ['[' duration ']'] ['offset' ['-'] duration]
        primary  := number | '(' expr ')' | aggregation | call | selector
    """

    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = tokenize(query)
        self.index = 0

    # -- token helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "eof":
            self.index += 1
        return token

    def at_op(self, *texts: str) -> bool:
        return self.current.kind == "op" and self.current.text in texts

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind == "ident" and self.current.text.lower() in words

    def error(self, message: str, token: Token | None = None) -> PromQLParseError:
        return _parse_error(self.query, (token or self.current).pos, message)

    def describe(self, token: Token) -> str:
        if token.kind == "eof":
            return "end of input"
        return {"ident": "identifier", "number": "number", "duration": "duration", "string": "string"}.get(
            token.kind, "character"
        ) + f" {token.text!r}"

    def expect_op(self, text: str, context: str) -> Token:
        if not self.at_op(text):
            raise self.error(f"unexpected {self.describe(self.current)} {context}, expected {text!r}")
        return self.advance()

    # -- entry
    def parse(self) -> Node:
        if self.current.kind == "eof":
            raise self.error("no expression found in input")
        node = self.parse_or()
        if self.current.kind != "eof":
            raise self.error(f"unexpected {self.describe(self.current)}")
        return node

    # -- binary levels
    def _binary_level(self, ops: Callable[[], str | None], operand: Callable[[], Node], *, comparison: bool = False) -> Node:
        lhs = operand()
        while (op := ops()) is not None:
            op_token = self.advance()
            return_bool = False
            if comparison and self.at_keyword("bool"):
                self.advance()
                return_bool = True
            matching = self.parse_matching()
            rhs = operand()
            lhs = self.make_binary(op, lhs, rhs, return_bool, matching, op_token)
        return lhs

    def parse_or(self) -> Node:
        return self._binary_level(lambda: "or" if self.at_keyword("or") else None, self.parse_and)

    def parse_and(self) -> Node:
        return self._binary_level(
            lambda: self.current.text.lower() if self.at_keyword("and", "unless") else None, self.parse_comparison
        )

    def parse_comparison(self) -> Node:
        return self._binary_level(
            lambda: self.current.text if self.at_op(*_COMPARISON_OPS) else None, self.parse_additive, comparison=True
        )

    def parse_additive(self) -> Node:
        return self._binary_level(lambda: self.current.text if self.at_op("+", "-") else None, self.parse_multiplicative)

    def parse_multiplicative(self) -> Node:
        return self._binary_level(lambda: self.current.text if self.at_op("*", "/", "%") else None, self.parse_unary)

    def parse_unary(self) -> Node:
        if self.at_op("-", "+"):
            op_token = self.advance()
            operand = self.parse_unary()
            if operand.type == "matrix":
                raise self.error("unary expression only allowed on expressions of type scalar or instant vector", op_token)
            if op_token.text == "+":
                return operand
            if isinstance(operand, NumberLiteral):
                return NumberLiteral(-operand.value)
            return Unary("-", operand, type=operand.type)
        return self.parse_power()

    def parse_power(self) -> Node:
        base = self.parse_postfix()
        if self.at_op("^"):
            op_token = self.advance()
            matching = self.parse_matching()
            exponent = self.parse_unary()  # right-associative: 2^3^2 = 2^9
            return self.make_binary("^", base, exponent, False, matching, op_token)
        return base

    def parse_matching(self) -> VectorMatching | None:
        if not self.at_keyword("on", "ignoring"):
            if self.at_keyword("group_left", "group_right"):
                raise self.error(f"{self.current.text} (many-to-one matching) is not supported by the simulator")
            return None
        on = self.advance().text.lower() == "on"
        labels = self.parse_label_list("on" if on else "ignoring")
        if self.at_keyword("group_left", "group_right"):
            raise self.error(f"{self.current.text} (many-to-one matching) is not supported by the simulator")
        return VectorMatching(on=on, labels=tuple(labels))

    def make_binary(
        self, op: str, lhs: Node, rhs: Node, return_bool: bool, matching: VectorMatching | None, token: Token
    ) -> Node:
        if lhs.type == "matrix" or rhs.type == "matrix":
            raise self.error("binary expression must contain only scalar and instant vector types", token)
        if op in _SET_OPS:
            if lhs.type != "vector" or rhs.type != "vector":
                raise self.error(f"set operator {op!r} not allowed in binary scalar expression", token)
        if return_bool and op not in _COMPARISON_OPS:
            raise self.error("bool modifier can only be used on comparison operators", token)
        if op in _COMPARISON_OPS and lhs.type == "scalar" and rhs.type == "scalar" and not return_bool:
            raise self.error("comparisons between scalars must use BOOL modifier", token)
        if matching is not None and (lhs.type != "vector" or rhs.type != "vector"):
            raise self.error("vector matching only allowed between instant vectors", token)
        result_type: ValueType = "scalar" if lhs.type == "scalar" and rhs.type == "scalar" else "vector"
        if result_type == "scalar" and isinstance(lhs, NumberLiteral) and isinstance(rhs, NumberLiteral):
            folded = _scalar_op(op, np.array([lhs.value]), np.array([rhs.value]))[0]
            return NumberLiteral(float(folded))
        return Binary(op, lhs, rhs, return_bool, matching, type=result_type)

    # -- postfix and primaries
    def parse_postfix(self) -> Node:
        node = self.parse_primary()
        if self.at_op("["):
            open_token = self.advance()
            if not isinstance(node, VectorSelector):
                raise self.error("ranges only allowed for vector selectors", open_token)
            if self.current.kind != "duration":
                raise self.error(f"unexpected {self.describe(self.current)} in range selector, expected duration")
            duration_token = self.advance()
            # ``[5m:1m]`` lexes as a duration then ``:1m`` (metric names may start with a colon).
            if self.at_op(":") or (self.current.kind == "ident" and self.current.text.startswith(":")):
                raise self.error("subqueries are not supported by the simulator")
            self.expect_op("]", "in range selector")
            length = self.duration_value(duration_token)
            if length <= 0:
                raise self.error("range duration must be positive", duration_token)
            node = MatrixSelector(node, length)
        if self.at_keyword("offset"):
            offset_token = self.advance()
            sign = -1.0 if self.at_op("-") else 1.0
            if self.at_op("-", "+"):
                self.advance()
            if self.current.kind != "duration":
                raise self.error(f"unexpected {self.describe(self.current)} in offset, expected duration")
            offset = sign * self.duration_value(self.advance())
            if isinstance(node, VectorSelector):
                node = VectorSelector(node.name, node.matchers, offset)
            elif isinstance(node, MatrixSelector):
                node = MatrixSelector(VectorSelector(node.selector.name, node.selector.matchers, offset), node.range)
            else:
                raise self.error("offset modifier must be preceded by an instant vector selector or range vector selector", offset_token)
        if self.at_op("@"):
            raise self.error("the @ modifier is not supported by the simulator")
        return node

    def duration_value(self, token: Token) -> float:
        try:
            return parse_duration(token.text)
        except ValueError as exc:
            raise self.error(str(exc), token) from exc

    def parse_primary(self) -> Node:
        token = self.current
        if token.kind == "number":
            self.advance()
            text = token.text
            return NumberLiteral(float(int(text, 16)) if text.lower().startswith("0x") else float(text))
        if token.kind == "duration":
            raise self.error(f"unexpected duration {token.text!r}")
        if token.kind == "string":
            raise self.error("string literals are not supported as values by the simulator")
        if self.at_op("("):
            self.advance()
            inner = self.parse_or()
            self.expect_op(")", "in parenthesized expression")
            return inner
        if self.at_op("{"):
            return self.parse_selector(None, token)
        if token.kind == "ident":
            lowered = token.text.lower()
            if lowered in ("inf", "nan"):
                self.advance()
                return NumberLiteral(math.inf if lowered == "inf" else math.nan)
            if lowered in _AGGREGATIONS | _UNSUPPORTED_AGGREGATIONS and self._aggregation_follows():
                return self.parse_aggregation()
            if lowered in _KEYWORDS:
                raise self.error(f"unexpected {self.describe(token)}")
            self.advance()
            if self.at_op("("):
                return self.parse_call(token)
            return self.parse_selector(token.text, token)
        raise self.error(f"unexpected {self.describe(token)}")

    def _aggregation_follows(self) -> bool:
        following = self.tokens[self.index + 1]
        return (following.kind == "op" and following.text == "(") or (
            following.kind == "ident" and following.text.lower() in ("by", "without")
        )

    def parse_call(self, name_token: Token) -> Node:
        name = name_token.text
        if name not in _FUNCTIONS:
            if name in _KNOWN_UNSUPPORTED_FUNCTIONS:
                raise self.error(f"function {name!r} is not supported by the simulator", name_token)
            raise self.error(f"unknown function with name {name!r}", name_token)
        self.expect_op("(", "in call")
        args: list[Node] = []
        if not self.at_op(")"):
            args.append(self.parse_or())
            while self.at_op(","):
                self.advance()
                args.append(self.parse_or())
        self.expect_op(")", f"in call to function {name!r}")
        expected, return_type = _FUNCTIONS[name]
        if len(args) != len(expected):
            raise self.error(
                f"expected {len(expected)} argument(s) in call to {name!r}, got {len(args)}", name_token
            )
        for arg, want in zip(args, expected, strict=True):
            if arg.type != want:
                raise self.error(
                    f"expected type {_TYPE_NAMES[want]} in call to function {name!r}, got {_TYPE_NAMES[arg.type]}",
                    name_token,
                )
        return Call(name, tuple(args), type=return_type)

    def parse_label_list(self, context: str) -> list[str]:
        self.expect_op("(", f"in {context} clause")
        labels: list[str] = []
        while not self.at_op(")"):
            if self.current.kind != "ident":
                raise self.error(f"unexpected {self.describe(self.current)} in grouping opts, expected label")
            labels.append(self.advance().text)
            if self.at_op(","):
                self.advance()
            elif not self.at_op(")"):
                raise self.error(f"unexpected {self.describe(self.current)} in grouping opts, expected \",\" or \")\"")
        self.advance()
        return labels

    def parse_aggregation(self) -> Node:
        op_token = self.advance()
        op = op_token.text.lower()
        if op in _UNSUPPORTED_AGGREGATIONS:
            raise self.error(
                f"aggregation {op!r} is not supported by the simulator (supported: {', '.join(sorted(_AGGREGATIONS))})",
                op_token,
            )
        grouping: list[str] = []
        without = False
        modifier_seen = False
        if self.at_keyword("by", "without"):
            without = self.advance().text.lower() == "without"
            grouping = self.parse_label_list("by" if not without else "without")
            modifier_seen = True
        self.expect_op("(", f"in aggregation {op!r}")
        if self.at_op(")"):
            raise self.error(f"no arguments for aggregate expression {op!r} provided")
        expr = self.parse_or()
        if self.at_op(","):
            raise self.error(f"aggregation {op!r} takes exactly one argument")
        self.expect_op(")", f"in aggregation {op!r}")
        if self.at_keyword("by", "without"):
            if modifier_seen:
                raise self.error("aggregation can have only one grouping clause")
            without = self.advance().text.lower() == "without"
            grouping = self.parse_label_list("by" if not without else "without")
        if expr.type != "vector":
            raise self.error(f"expected type instant vector in aggregation expression, got {_TYPE_NAMES[expr.type]}", op_token)
        return Aggregate(op, expr, tuple(grouping), without)

    def parse_selector(self, name: str | None, start: Token) -> VectorSelector:
        matchers: list[Matcher] = []
        if name is not None:
            matchers.append(Matcher("__name__", "=", name))
        if self.at_op("{"):
            self.advance()
            while not self.at_op("}"):
                matchers.append(self.parse_matcher())
                if self.at_op(","):
                    self.advance()
                elif not self.at_op("}"):
                    raise self.error(f"unexpected {self.describe(self.current)} in label matching, expected \",\" or \"}}\"")
            self.advance()
        if not any(not m.matches("") for m in matchers):
            raise self.error("vector selector must contain at least one non-empty matcher", start)
        names = [m for m in matchers if m.name == "__name__"]
        if name is not None and len(names) > 1:
            raise self.error(f"metric name must not be set twice: {name!r}", start)
        return VectorSelector(name, tuple(matchers))

    def parse_matcher(self) -> Matcher:
        if self.current.kind != "ident":
            raise self.error(f"unexpected {self.describe(self.current)} in label matching, expected label")
        label = self.advance().text
        if not self.at_op(*MATCH_OPS):
            raise self.error(f"unexpected {self.describe(self.current)} in label matching, expected label matching operator")
        op = MATCH_OPS[self.advance().text]
        if self.current.kind != "string":
            raise self.error(f"unexpected {self.describe(self.current)} in label matching, expected string")
        value_token = self.advance()
        value = _unquote(value_token, self.query)
        regex = None
        if op in ("=~", "!~"):
            try:
                regex = re.compile(value)
            except re.error as exc:
                raise self.error(f"error parsing regexp: {exc}", value_token) from exc
        return Matcher(label, op, value, regex)


def parse(query: str) -> Node:
    """Parse a query into its AST; raises `PromQLParseError` with a ``line:col`` position."""
    return Parser(query).parse()


def parse_selector(text: str) -> VectorSelector:
    """Parse a series selector as used by ``match[]`` (a plain vector selector)."""
    node = parse(text)
    if not isinstance(node, VectorSelector):
        raise PromQLParseError(f"{text!r} is not a plain series selector")
    return node


# ------------------------------------------------------------------------------------------ evaluator


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


def _scalar_op(op: str, a: FloatArray, b: FloatArray) -> FloatArray:
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
            "==": np.equal, "!=": np.not_equal, ">": np.greater, "<": np.less, ">=": np.greater_equal, "<=": np.less_equal,
        }
        return comparisons[op](a, b).astype(np.float64)


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

    def windows(self, matrix: MatrixSelector) -> list[tuple[dict[str, str], FloatArray, FloatArray, npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
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
            ordered = sorted(vector.series, key=lambda s: float(s.values[0]) if s.present[0] else math.inf, reverse=reverse)
            return VectorValue(ordered)
        transforms: dict[str, Callable[[FloatArray], FloatArray]] = {"abs": np.abs, "ceil": np.ceil, "floor": np.floor}
        if name in transforms:
            fn = transforms[name]
            return VectorValue([Series(_without_name(s.labels), fn(s.values), s.present) for s in vector.series])
        bound = self.evaluate(node.args[1])
        assert isinstance(bound, ScalarValue)
        clamp = np.maximum if name == "clamp_min" else np.minimum
        return VectorValue([Series(_without_name(s.labels), clamp(s.values, bound.values), s.present) for s in vector.series])

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
                    to_zero = np.where((result > 0) & (values[first] >= 0), sampled * (values[first] / result), math.inf)
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
            return ScalarValue(_scalar_op(op, lhs.values, rhs.values))
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
            result = _scalar_op(node.op, a, b)
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
                index[key] = Series(other.labels, np.where(s.present, s.values, other.values), other.present | s.present)
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
            result = _scalar_op(node.op, ls.values, rs.values)
            present = ls.present & rs.present
            labels = dict(ls.labels)
            if node.matching is not None:
                labels = dict(key) if node.matching.on else {k: v for k, v in labels.items() if k not in node.matching.labels}
            if filtering:
                out.append(Series(labels, ls.values, present & (result == 1.0)))
            else:
                out.append(Series(_without_name(labels), result, present))
        return VectorValue([s for s in out if s.present.any()])

    def set_operation(self, op: str, lhs: VectorValue, rhs: VectorValue, matching: VectorMatching | None) -> VectorValue:
        right_presence: dict[LabelKey, BoolArray] = {}
        for s in rhs.series:
            key = self._match_key(s, matching)
            right_presence[key] = right_presence.get(key, np.zeros(len(self.times), dtype=bool)) | s.present
        none = np.zeros(len(self.times), dtype=bool)
        if op == "and":
            out = [Series(s.labels, s.values, s.present & right_presence.get(self._match_key(s, matching), none)) for s in lhs.series]
        elif op == "unless":
            out = [Series(s.labels, s.values, s.present & ~right_presence.get(self._match_key(s, matching), none)) for s in lhs.series]
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


# -------------------------------------------------------------------------------------- query facade


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
            raise PromQLParseError("zero or negative query resolution step widths are not accepted. Try a positive integer")
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
