"""Tempo HTTP API: trace search, trace by id, and per-edge latency and errors over a window.

Wire format (grafana/tempo ``docs/sources/tempo/api_docs``): ``GET /api/search`` takes ``tags``
(logfmt, ``service.name=cart name=Charge``), ``start``/``end`` in unix seconds, ``minDuration`` and
``limit``, and answers ``{"traces": [{"traceID", "rootServiceName", "rootTraceName",
"startTimeUnixNano", "durationMs"}]}``. ``GET /api/traces/<id>`` answers OTLP JSON: ``batches`` (or
``resourceSpans``) of a ``resource`` (``service.name`` among its attributes) and ``scopeSpans`` (or
the older ``instrumentationLibrarySpans``) holding spans whose ids are base64 (protobuf JSON) or hex.
A span failed when its ``status.code`` is ``STATUS_CODE_ERROR`` (or 2). An unknown trace is a 404.

``edges`` reads the traces of a window and reduces them to what a responder ranks on: per call edge
(the parent span's service calling the child's) the calls, errors and latency, and the slowest and
the failing operations. A slow or failing edge points at its callee.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
from collections import defaultdict
from datetime import datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.base import Adapter, TimeWindow, ToolResult, tool_call
from tools.wire import (
    UtcDatetime,
    as_dict,
    as_list,
    decode_json,
    end_after_start,
    expect_dict,
    expect_list,
    from_unix_nanos,
    malformed,
    plain_text,
    unix_seconds,
)

SEARCH_PATH = "/api/search"
TRACE_PATH = "/api/traces/{trace_id}"
ECHO_PATH = "/api/echo"
ERROR_CODES = frozenset({2, "2", "STATUS_CODE_ERROR", "ERROR"})
_HEX_ID = re.compile(r"(?:[0-9a-fA-F]{16}|[0-9a-fA-F]{32})")
FETCH_CONCURRENCY = 8
TOP_OPERATIONS = 10


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: UtcDatetime = Field(description="Start of the window (UTC, RFC 3339).")
    end: UtcDatetime = Field(description="End of the window (UTC, RFC 3339); after start.")
    service: str | None = Field(default=None, description="Only traces with a span of this service (service.name).")

    _end_after_start = field_validator("end")(end_after_start)


class TraceSearch(_Window):
    operation: str | None = Field(default=None, description="Only traces with a span of this name.")
    min_duration_ms: float | None = Field(default=None, gt=0, description="Only traces at least this long.")
    limit: int = Field(default=20, ge=1, le=200, description="Maximum number of traces (newest first).")


class TraceLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trace_id: str = Field(pattern=r"^[0-9a-fA-F]{1,32}$", description="The trace id, hex.")


class EdgeQuery(_Window):
    limit: int = Field(default=50, ge=1, le=200, description="How many traces of the window to read.")


class TraceSummary(BaseModel):
    trace_id: str
    root_service: str
    root_operation: str
    start: datetime
    duration_ms: float


class TraceList(BaseModel):
    traces: list[TraceSummary]
    returned: int
    limit_reached: bool = Field(description="As many traces as the limit: the window may hold more.")


class SpanInfo(BaseModel):
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    operation: str
    start: datetime
    duration_ms: float
    error: bool
    attributes: dict[str, str] = Field(default_factory=dict, description="The resource's string attributes.")


class TraceSpans(BaseModel):
    trace_id: str
    spans: list[SpanInfo]
    services: list[str]
    errors: int


class EdgeStats(BaseModel):
    caller: str
    callee: str
    calls: int
    errors: int
    p50_ms: float
    p95_ms: float
    max_ms: float


class OperationStats(BaseModel):
    service: str
    operation: str
    calls: int
    errors: int
    p95_ms: float
    max_ms: float


class TraceEdges(BaseModel):
    """Per call edge and per operation, over the traces read (``traces_read`` of them)."""

    edges: list[EdgeStats]
    slowest_operations: list[OperationStats] = Field(description="By p95 latency, slowest first.")
    failing_operations: list[OperationStats] = Field(description="Operations with errors, most first.")
    traces_read: int


class TempoAdapter(Adapter):
    """Reads traces from Grafana Tempo (or any server speaking its search and trace-by-id API)."""

    kind: ClassVar[str] = "tempo"
    description: ClassVar[str] = "Tempo traces: search, spans of a trace, per-edge latency and errors."

    @tool_call(description="Search the traces of a window (by service, operation, minimum duration).", result=TraceList)
    async def search(self, args: TraceSearch) -> ToolResult:
        params = _search_params(args, args.limit)
        if args.operation:
            params["tags"] = f"{params.get('tags', '')} name={_logfmt(args.operation)}".strip()
        if args.min_duration_ms:
            params["minDuration"] = f"{args.min_duration_ms:g}ms"
        traces = await self._search(params)
        payload = TraceList(traces=traces, returned=len(traces), limit_reached=len(traces) >= args.limit)
        slowest = max((t.duration_ms for t in traces), default=0.0)
        return ToolResult.with_payload(
            payload,
            tool=self.tool_id("search"),
            status="ok" if traces else "no_data",
            query=f"GET {SEARCH_PATH}",
            params=params,
            window=TimeWindow(start=args.start, end=args.end),
            summary=f"{len(traces)} trace(s), the longest {slowest:.0f} ms",
        )

    @tool_call(description="Every span of one trace: service, operation, duration, error.", result=TraceSpans)
    async def trace(self, args: TraceLookup) -> ToolResult:
        spans = await self._trace(args.trace_id)
        services = sorted({s.service for s in spans})
        errors = sum(s.error for s in spans)
        return ToolResult.with_payload(
            TraceSpans(trace_id=args.trace_id.lower(), spans=spans, services=services, errors=errors),
            tool=self.tool_id("trace"),
            status="ok" if spans else "no_data",
            query=f"GET {TRACE_PATH.format(trace_id=args.trace_id)}",
            summary=f"{len(spans)} span(s) across {len(services)} service(s), {errors} failed",
        )

    @tool_call(
        description="Per call edge (caller -> callee) calls, errors and p50/p95 latency over a window's traces, "
        "with the slowest and the failing operations. A slow or failing edge points at its callee.",
        result=TraceEdges,
    )
    async def edges(self, args: EdgeQuery) -> ToolResult:
        params = _search_params(args, args.limit)
        found = await self._search(params)
        gate = asyncio.Semaphore(FETCH_CONCURRENCY)

        async def fetch(trace_id: str) -> list[SpanInfo]:
            async with gate:
                return await self._trace(trace_id)

        traces = await asyncio.gather(*(fetch(t.trace_id) for t in found))
        payload = reduce_edges([s for spans in traces for s in spans], traces_read=len(traces))
        worst = max(payload.edges, key=lambda e: (e.errors, e.p95_ms), default=None)
        summary = (
            f"{len(payload.edges)} edge(s) over {len(traces)} trace(s); worst {worst.caller} -> {worst.callee}: "
            f"p95 {worst.p95_ms:.0f} ms, {worst.errors}/{worst.calls} failed"
            if worst
            else f"no call edges in {len(traces)} trace(s)"
        )
        return ToolResult.with_payload(
            payload,
            tool=self.tool_id("edges"),
            status="ok" if payload.edges else "no_data",
            query=f"GET {SEARCH_PATH} + {len(traces)} x GET {TRACE_PATH}",
            params=params,
            window=TimeWindow(start=args.start, end=args.end),
            summary=summary,
        )

    async def check(self) -> str:
        """Tempo's echo endpoint (one small GET): proves reachability and auth."""
        await self.http.request("GET", ECHO_PATH, describe_error=describe_tempo_error)
        return "Tempo answers"

    async def _search(self, params: dict[str, str]) -> list[TraceSummary]:
        response = await self.http.request("GET", SEARCH_PATH, params=params, describe_error=describe_tempo_error)
        body = expect_dict(self.http, response, SEARCH_PATH, decode_json(self.http, response, SEARCH_PATH), "the body")
        items = expect_list(self.http, response, SEARCH_PATH, body.get("traces") or [], "traces")
        try:
            return [
                TraceSummary(
                    trace_id=str(item["traceID"]).lower(),
                    root_service=str(item.get("rootServiceName") or "<unknown>"),
                    root_operation=str(item.get("rootTraceName") or ""),
                    start=from_unix_nanos(item["startTimeUnixNano"]),
                    duration_ms=float(item.get("durationMs") or 0),
                )
                for item in items
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, SEARCH_PATH, f"a trace has an unexpected shape ({exc})") from None

    async def _trace(self, trace_id: str) -> list[SpanInfo]:
        path = TRACE_PATH.format(trace_id=trace_id)
        response = await self.http.request(
            "GET", path, headers={"Accept": "application/json"}, describe_error=describe_tempo_error
        )
        body = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        try:
            return parse_otlp(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"the trace has an unexpected shape ({exc})") from None


def parse_otlp(body: dict[str, Any]) -> list[SpanInfo]:
    """The spans of an OTLP JSON trace (Tempo's ``batches`` or the standard ``resourceSpans``)."""
    spans: list[SpanInfo] = []
    for batch in as_list(body.get("batches") or body.get("resourceSpans")):
        attributes = _attributes(as_dict(as_dict(batch).get("resource")).get("attributes"))
        service = attributes.get("service.name", "<unknown>")
        scopes = as_list(batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans"))
        for scope in scopes:
            for span in as_list(as_dict(scope).get("spans")):
                start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                parent = span.get("parentSpanId") or None
                spans.append(
                    SpanInfo(
                        trace_id=_hex_id(span["traceId"]),
                        span_id=_hex_id(span["spanId"]),
                        parent_id=_hex_id(parent) if parent else None,
                        service=service,
                        operation=str(span.get("name") or ""),
                        start=from_unix_nanos(start),
                        duration_ms=max(0, end - start) / 1e6,
                        error=as_dict(span.get("status")).get("code") in ERROR_CODES,
                        attributes=attributes,
                    )
                )
    spans.sort(key=lambda s: s.start)
    return spans


def reduce_edges(spans: list[SpanInfo], traces_read: int) -> TraceEdges:
    """Per caller -> callee edge (a span whose parent is another service's) and per operation."""
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    edge_samples: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    op_samples: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    for span in spans:
        op_samples[(span.service, span.operation)].append((span.duration_ms, span.error))
        parent = by_id.get((span.trace_id, span.parent_id)) if span.parent_id else None
        if parent is not None and parent.service != span.service:
            edge_samples[(parent.service, span.service)].append((span.duration_ms, span.error))
    edges = [
        EdgeStats(
            caller=caller,
            callee=callee,
            calls=len(samples),
            errors=sum(e for _, e in samples),
            p50_ms=_quantile([d for d, _ in samples], 0.5),
            p95_ms=_quantile([d for d, _ in samples], 0.95),
            max_ms=max(d for d, _ in samples),
        )
        for (caller, callee), samples in sorted(edge_samples.items())
    ]
    operations = [
        OperationStats(
            service=service,
            operation=operation,
            calls=len(samples),
            errors=sum(e for _, e in samples),
            p95_ms=_quantile([d for d, _ in samples], 0.95),
            max_ms=max(d for d, _ in samples),
        )
        for (service, operation), samples in sorted(op_samples.items())
    ]
    slowest = sorted(operations, key=lambda o: -o.p95_ms)[:TOP_OPERATIONS]
    failing = sorted((o for o in operations if o.errors), key=lambda o: (-o.errors, -o.p95_ms))[:TOP_OPERATIONS]
    return TraceEdges(edges=edges, slowest_operations=slowest, failing_operations=failing, traces_read=traces_read)


def describe_tempo_error(response: httpx.Response) -> str | None:
    """Tempo answers errors in plain text (``trace not found``, ``invalid start``)."""
    text = plain_text(response)
    return f"Tempo: {text}" if text else None


def _search_params(args: _Window, limit: int) -> dict[str, str]:
    params = {"start": unix_seconds(args.start), "end": unix_seconds(args.end), "limit": str(limit)}
    if args.service:
        params["tags"] = f"service.name={_logfmt(args.service)}"
    return params


def _logfmt(value: str) -> str:
    return value if re.fullmatch(r"[^\s\"=]+", value) else '"' + value.replace('"', '\\"') + '"'


def _attributes(raw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in as_list(raw):
        value = as_dict(as_dict(item).get("value"))
        text = value.get("stringValue")
        if isinstance(text, str):
            out[str(item.get("key"))] = text
    return out


def _hex_id(raw: Any) -> str:
    text = str(raw)
    if _HEX_ID.fullmatch(text):
        return text.lower()
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        raise ValueError(f"span id {text!r} is neither hex nor base64") from None


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return round(ordered[index], 3)
