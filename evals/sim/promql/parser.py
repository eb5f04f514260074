"""A recursive-descent PromQL parser producing the syntax tree in `nodes`."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np

from evals.sim.promql.errors import PromQLParseError
from evals.sim.promql.lexer import Token, _parse_error, _unquote, tokenize
from evals.sim.promql.nodes import (
    _AGGREGATIONS,
    _COMPARISON_OPS,
    _FUNCTIONS,
    _KEYWORDS,
    _KNOWN_UNSUPPORTED_FUNCTIONS,
    _SET_OPS,
    _TYPE_NAMES,
    _UNSUPPORTED_AGGREGATIONS,
    MATCH_OPS,
    Aggregate,
    Binary,
    Call,
    Matcher,
    MatrixSelector,
    Node,
    NumberLiteral,
    Unary,
    ValueType,
    VectorMatching,
    VectorSelector,
    scalar_op,
)
from evals.sim.timeutil import parse_duration


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
    def _binary_level(
        self, ops: Callable[[], str | None], operand: Callable[[], Node], *, comparison: bool = False
    ) -> Node:
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
        return self._binary_level(
            lambda: self.current.text if self.at_op("+", "-") else None, self.parse_multiplicative
        )

    def parse_multiplicative(self) -> Node:
        return self._binary_level(lambda: self.current.text if self.at_op("*", "/", "%") else None, self.parse_unary)

    def parse_unary(self) -> Node:
        if self.at_op("-", "+"):
            op_token = self.advance()
            operand = self.parse_unary()
            if operand.type == "matrix":
                raise self.error(
                    "unary expression only allowed on expressions of type scalar or instant vector", op_token
                )
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
            folded = scalar_op(op, np.array([lhs.value]), np.array([rhs.value]))[0]
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
                raise self.error(
                    "offset modifier must be preceded by an instant vector selector or range vector selector",
                    offset_token,
                )
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
            raise self.error(f"expected {len(expected)} argument(s) in call to {name!r}, got {len(args)}", name_token)
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
                raise self.error(f'unexpected {self.describe(self.current)} in grouping opts, expected "," or ")"')
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
            raise self.error(
                f"expected type instant vector in aggregation expression, got {_TYPE_NAMES[expr.type]}", op_token
            )
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
                    raise self.error(
                        f'unexpected {self.describe(self.current)} in label matching, expected "," or "}}"'
                    )
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
            raise self.error(
                f"unexpected {self.describe(self.current)} in label matching, expected label matching operator"
            )
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
