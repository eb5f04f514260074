"""Elasticsearch ``_search`` over the simulated logs: the same lines Loki serves, one index per service.

Each line is a document in index ``logs-<app>``::

    {"@timestamp": "2026-11-20T19:41:58.123Z", "message": "<the line>", "service": {"name": "<app>"},
     "kubernetes": {"namespace": ..., "pod": {"name": ...}, "container": {"name": ...}}}

``POST /<index pattern>/_search`` (patterns with ``*`` and ``,``; a missing concrete index is a 404
``index_not_found_exception``) supports the subset a log search needs: ``bool.filter`` with a ``range``
on ``@timestamp`` (``gte``/``gt``/``lte``/``lt``, RFC 3339 or epoch milliseconds) and ``term`` filters
on the fields above; ``bool.must`` with ``query_string`` (words and "quoted phrases", optionally joined
by ``AND``, each a case-insensitive substring of the message) or ``match`` on ``message``; ``sort`` on
``@timestamp``; ``size``; ``track_total_hits``. Totals are exact up to 10,000 (then ``"relation":
"gte"``). Other query clauses answer 400 in Elasticsearch's error shape, naming the clause; ``timeout``
and ``_source`` are accepted and ignored. ``GET /`` answers the cluster banner.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import json_body, json_response
from evals.sim.logs import NANOS, LineFilter, LogQuery
from evals.sim.promql import Matcher
from evals.sim.telemetry import HISTORY_SECONDS, stable_hash
from evals.sim.timeutil import parse_rfc3339, rfc3339_millis
from evals.sim.world import World

VERSION = "8.15.0"
TOTAL_CAP = 10_000
TERM_FIELDS = {
    "service.name": "app",
    "kubernetes.namespace": "namespace",
    "kubernetes.pod.name": "pod",
    "kubernetes.container.name": "container",
}
PHRASE = re.compile(r'"([^"]+)"|(\S+)')


class SearchError(Exception):
    """A request the simulated cluster refuses, rendered in Elasticsearch's error shape."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason

    def response(self) -> Response:
        cause = {"type": self.kind, "reason": self.reason}
        return json_response({"error": {"root_cause": [cause], **cause}, "status": self.status}, self.status)


def routes(world: World) -> list[BaseRoute]:
    async def banner(request: Request) -> Response:
        return json_response(
            {
                "name": "sim-es-0",
                "cluster_name": "firstline-sim",
                "cluster_uuid": "sim",
                "version": {"number": VERSION, "build_flavor": "default", "lucene_version": "9.11.1"},
                "tagline": "You Know, for Search",
            }
        )

    async def search(request: Request) -> Response:
        body = await json_body(request) if await request.body() else {}
        try:
            if not isinstance(body, dict):
                raise SearchError(400, "parsing_exception", "request body is not a JSON object")
            with world.locked():
                return json_response(_search(world, request.path_params["index"], body))
        except SearchError as exc:
            return exc.response()

    return [
        Route("/", banner, methods=["GET"]),
        Route("/{index}/_search", search, methods=["GET", "POST"]),
    ]


def _search(world: World, pattern: str, body: dict[str, Any]) -> dict[str, Any]:
    apps = _apps(world, pattern)
    start, end, terms, words = _query(world, body.get("query"))
    size = body.get("size", 10)
    if not isinstance(size, int) or not 0 <= size <= TOTAL_CAP:
        raise SearchError(400, "illegal_argument_exception", f"size must be between 0 and {TOTAL_CAP}, got {size!r}")
    order = _order(body.get("sort"))
    matchers = [Matcher("app", "=~", "|".join(apps), re.compile("|".join(map(re.escape, apps))))] if apps else []
    matchers += [Matcher(label, "=", value) for label, value in terms]
    filters = tuple(LineFilter("|~", w, re.compile(re.escape(w), re.IGNORECASE)) for w in words)
    found: list[tuple[int, dict[str, str], str]] = []
    if apps:
        direction: Literal["forward", "backward"] = "forward" if order == "asc" else "backward"
        selected = world.logs.select(LogQuery(tuple(matchers), filters), start, end, TOTAL_CAP, direction)
        found = [(ts, labels, line) for labels, entries in selected for ts, line in entries]
        found.sort(key=lambda item: item[0], reverse=order == "desc")
    hits = [_hit(ts, labels, line) for ts, labels, line in found[:size]]
    return {
        "took": 1,
        "timed_out": False,
        "_shards": {"total": max(len(apps), 1), "successful": max(len(apps), 1), "skipped": 0, "failed": 0},
        "hits": {
            "total": {"value": len(found), "relation": "gte" if len(found) >= TOTAL_CAP else "eq"},
            "max_score": None,
            "hits": hits,
        },
    }


def _apps(world: World, pattern: str) -> list[str]:
    indices = {f"logs-{labels['app']}": labels["app"] for _, labels in world.logs.streams()}
    wanted: set[str] = set()
    for part in pattern.split(","):
        if part in ("_all", "*"):
            wanted.update(indices.values())
        elif "*" in part:
            wanted.update(app for index, app in indices.items() if fnmatch.fnmatchcase(index, part))
        elif part in indices:
            wanted.add(indices[part])
        else:
            raise SearchError(404, "index_not_found_exception", f"no such index [{part}]")
    return sorted(wanted)


def _query(world: World, query: Any) -> tuple[int, int, list[tuple[str, str]], list[str]]:
    """The window (ns), term filters (label, value) and message words of a query in the supported subset."""
    start = int((world.anchor - HISTORY_SECONDS) * NANOS)
    end = int(world.now_ts() * NANOS) + 1
    terms: list[tuple[str, str]] = []
    words: list[str] = []
    if query is None or query == {"match_all": {}}:
        return start, end, terms, words
    clauses = _bool(query)
    for clause in clauses.get("filter", []) + clauses.get("must", []):
        kind, spec = _single(clause)
        if kind == "range":
            field, bounds = _single(spec)
            if field != "@timestamp" or not isinstance(bounds, dict):
                raise SearchError(
                    400, "query_shard_exception", f"the simulator ranges only on @timestamp, not {field!r}"
                )
            for op, value in bounds.items():
                if op in ("format", "time_zone"):
                    continue
                at = _time_ns(value)
                if op in ("gte", "gt"):
                    start = max(start, at + (1 if op == "gt" else 0))
                elif op in ("lte", "lt"):
                    end = min(end, at + (1 if op == "lte" else 0))
                else:
                    raise SearchError(400, "parsing_exception", f"[range] query does not support [{op}]")
        elif kind == "term":
            field, value = _single(spec)
            if isinstance(value, dict):
                value = value.get("value")
            label = TERM_FIELDS.get(field)
            # A term on a field no document has matches nothing, as in Elasticsearch.
            terms.append((label, str(value)) if label else ("__absent__", "x"))
        elif kind == "query_string":
            words += _words(str(spec.get("query", "")) if isinstance(spec, dict) else "")
        elif kind == "match":
            field, value = _single(spec)
            if field != "message":
                raise SearchError(400, "query_shard_exception", f"the simulator matches only on message, not {field!r}")
            words += str(value.get("query") if isinstance(value, dict) else value).split()
        elif kind != "match_all":
            raise SearchError(400, "parsing_exception", f"the simulator does not support [{kind}] queries")
    return start, end, terms, words


def _bool(query: Any) -> dict[str, list[Any]]:
    kind, spec = _single(query)
    if kind != "bool":
        return {"must": [query]}
    if not isinstance(spec, dict) or set(spec) - {"filter", "must"}:
        raise SearchError(400, "parsing_exception", "the simulator supports bool queries with filter and must only")
    return {k: v if isinstance(v, list) else [v] for k, v in spec.items()}


def _single(value: Any) -> tuple[str, Any]:
    if not isinstance(value, dict) or len(value) != 1:
        raise SearchError(400, "parsing_exception", f"expected an object with one key, got {value!r}")
    return next(iter(value.items()))


def _words(text: str) -> list[str]:
    words = []
    for phrase, word in PHRASE.findall(text):
        if word in ("OR", "NOT") or word.startswith(("-", "(")) or ":" in word:
            raise SearchError(
                400,
                "query_shard_exception",
                f'Failed to parse query [{text}]: the simulator supports words and "phrases" joined by AND only',
            )
        if word != "AND":
            words.append(phrase or word)
    return words


def _time_ns(value: Any) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1_000_000)  # epoch milliseconds
    try:
        return int(parse_rfc3339(str(value)).timestamp() * NANOS)
    except ValueError:
        raise SearchError(400, "parse_exception", f"failed to parse date field [{value}]") from None


def _order(sort: Any) -> str:
    if sort is None:
        return "desc"
    items = sort if isinstance(sort, list) else [sort]
    for item in items:
        field, spec = _single(item) if isinstance(item, dict) else (str(item), "asc")
        if field != "@timestamp":
            raise SearchError(400, "query_shard_exception", f"the simulator sorts only on @timestamp, not {field!r}")
        order = spec.get("order", "asc") if isinstance(spec, dict) else spec
        if order not in ("asc", "desc"):
            raise SearchError(400, "parsing_exception", f"unknown sort order [{order}]")
        return str(order)
    return "desc"


def _hit(ts: int, labels: dict[str, str], line: str) -> dict[str, Any]:
    millis = ts // 1_000_000
    return {
        "_index": f"logs-{labels['app']}",
        "_id": f"{stable_hash(labels['pod'], str(ts)):016x}",
        "_score": None,
        "_source": {
            "@timestamp": rfc3339_millis(ts / NANOS),
            "message": line,
            "service": {"name": labels["app"]},
            "kubernetes": {
                "namespace": labels["namespace"],
                "pod": {"name": labels["pod"]},
                "container": {"name": labels["container"]},
            },
        },
        "sort": [millis],
    }
