"""The LogQL subset a replay answers: a stream selector and line filters.

``{service="cart", pod=~"cart-.*"} |= "error" != "health" |~ "time(d)? ?out" !~ "debug"``. Metric
queries (``count_over_time`` and friends) and parsers (``| json``) are a `LogQLError` (Loki answers
a parse error with 400 and a plain-text body).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from evals.replay.promql import Matcher, PromQLError, parse
from evals.replay.promql import Selector as PromSelector
from evals.replay.recording import Labels, LogLine

_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*("(?:[^"\\]|\\.)*"|`[^`]*`)')


class LogQLError(ValueError):
    """The query is outside the replay's subset or malformed."""


@dataclass(frozen=True)
class LogQuery:
    matchers: tuple[Matcher, ...]
    filters: tuple[Callable[[str], bool], ...]

    def selects(self, labels: Labels) -> bool:
        have = dict(labels)
        return all(m.matches(have) for m in self.matchers)

    def keeps(self, line: str) -> bool:
        return all(test(line) for test in self.filters)


def parse_log_query(text: str) -> LogQuery:
    text = text.strip()
    if not text.startswith("{"):
        raise LogQLError("parse error: only log queries are replayed; a query starts with a stream selector {...}")
    close = _selector_end(text)
    try:
        selector = parse(text[: close + 1])
    except PromQLError as exc:
        raise LogQLError(f"parse error: {exc}") from None
    if not isinstance(selector, PromSelector):
        raise LogQLError("parse error: bad stream selector")
    filters: list[Callable[[str], bool]] = []
    rest = text[close + 1 :]
    while rest.strip():
        match = _FILTER.match(rest)
        if match is None:
            raise LogQLError(f"parse error: unsupported pipeline stage {rest.strip()[:40]!r}")
        filters.append(_line_filter(match.group(1), match.group(2)))
        rest = rest[match.end() :]
    return LogQuery(selector.matchers, tuple(filters))


def _selector_end(text: str) -> int:
    quoted: str | None = None
    for index, char in enumerate(text):
        if quoted:
            if char == quoted and text[index - 1] != "\\":
                quoted = None
        elif char in "\"'`":
            quoted = char
        elif char == "}":
            return index
    raise LogQLError("parse error: unclosed stream selector")


def _line_filter(op: str, raw: str) -> Callable[[str], bool]:
    value = raw[1:-1] if raw.startswith("`") else re.sub(r"\\(.)", r"\1", raw[1:-1])
    if op == "|=":
        return lambda line: value in line
    if op == "!=":
        return lambda line: value not in line
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise LogQLError(f"parse error: bad regex {value!r}: {exc}") from None
    if op == "|~":
        return lambda line: pattern.search(line) is not None
    return lambda line: pattern.search(line) is None


def select(
    lines: list[LogLine], query: LogQuery, start_ns: int, end_ns: int, limit: int, forward: bool
) -> list[LogLine]:
    """The lines of ``[start_ns, end_ns)`` the query keeps, the oldest (forward) or newest ``limit`` of them."""
    kept = [
        line
        for line in lines
        if start_ns <= line.unix_nano < end_ns and query.selects(line.labels) and query.keeps(line.line)
    ]
    return kept[:limit] if forward else kept[::-1][:limit]
