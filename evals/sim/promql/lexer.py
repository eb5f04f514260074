"""PromQL tokens: the lexer and string unquoting, with Prometheus' position prefixes in errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

from evals.sim.promql.errors import PromQLParseError

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
