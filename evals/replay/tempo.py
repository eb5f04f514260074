"""Tempo's HTTP API over recorded spans: ``/api/search`` and ``/api/traces/<id>``.

Search takes ``tags`` (logfmt ``service.name=cart name=GET``), ``start``/``end`` (unix seconds),
``minDuration``/``maxDuration`` (``250ms``) and ``limit``; it answers Tempo's ``{"traces": [...]}``
with ``traceID``, ``rootServiceName``, ``rootTraceName``, ``startTimeUnixNano``, ``durationMs``.
Trace-by-id answers OTLP JSON (``batches`` of ``resource`` + ``scopeSpans``) with ids in base64, as
Tempo's JSON does; a trace with no span recorded by "now" is a 404.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections import defaultdict
from typing import Any

from evals.replay.recording import Span

DURATION_UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


class TempoQueryError(ValueError):
    """A search parameter Tempo would reject (400)."""


def index(spans: list[Span]) -> dict[str, list[Span]]:
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        traces[span.trace_id].append(span)
    return dict(traces)


def search(traces: dict[str, list[Span]], params: dict[str, str]) -> dict[str, Any]:
    tags = _tags(params.get("tags", ""))
    start_ns = int(float(params["start"]) * 1e9) if params.get("start") else None
    end_ns = int(float(params["end"]) * 1e9) if params.get("end") else None
    min_ms = _duration_ms(params["minDuration"]) if params.get("minDuration") else None
    max_ms = _duration_ms(params["maxDuration"]) if params.get("maxDuration") else None
    limit = int(params.get("limit") or 20)
    found: list[dict[str, Any]] = []
    for trace_id, spans in traces.items():
        first = min(s.start_unix_nano for s in spans)
        last = max(s.end_unix_nano for s in spans)
        if (start_ns is not None and last < start_ns) or (end_ns is not None and first > end_ns):
            continue
        if tags and not any(all(_span_has(s, k, v) for k, v in tags.items()) for s in spans):
            continue
        duration_ms = (last - first) / 1e6
        if (min_ms is not None and duration_ms < min_ms) or (max_ms is not None and duration_ms > max_ms):
            continue
        root = next((s for s in spans if s.parent_id is None), spans[0])
        found.append(
            {
                "traceID": trace_id,
                "rootServiceName": root.service,
                "rootTraceName": root.operation,
                "startTimeUnixNano": str(first),
                "durationMs": max(1, round(duration_ms)),
            }
        )
    found.sort(key=lambda t: int(t["startTimeUnixNano"]), reverse=True)  # Tempo lists the newest first
    return {"traces": found[:limit], "metrics": {"inspectedTraces": len(traces)}}


def trace_by_id(traces: dict[str, list[Span]], trace_id: str) -> dict[str, Any] | None:
    spans = traces.get(trace_id.lower())
    if not spans:
        return None
    by_resource: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        item: dict[str, Any] = {
            "traceId": _b64(span.trace_id),
            "spanId": _b64(span.span_id),
            "name": span.operation,
            "kind": "SPAN_KIND_SERVER" if span.parent_id is None else "SPAN_KIND_INTERNAL",
            "startTimeUnixNano": str(span.start_unix_nano),
            "endTimeUnixNano": str(span.end_unix_nano),
            "status": {"code": "STATUS_CODE_ERROR"} if span.error else {},
        }
        if span.parent_id:
            item["parentSpanId"] = _b64(span.parent_id)
        by_resource[(span.service, span.pod)].append(item)
    batches = []
    for (service, pod), items in by_resource.items():
        attributes = [{"key": "service.name", "value": {"stringValue": service}}]
        if pod:
            attributes.append({"key": "k8s.pod.name", "value": {"stringValue": pod}})
        batches.append(
            {"resource": {"attributes": attributes}, "scopeSpans": [{"scope": {"name": "replay"}, "spans": items}]}
        )
    return {"batches": batches}


def _b64(hex_id: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()
    except ValueError:
        return hex_id  # not hex: pass the recorded id through unchanged


def _tags(text: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise TempoQueryError(f"invalid tags: {exc}") from None
    for word in words:
        key, sep, value = word.partition("=")
        if not sep:
            raise TempoQueryError(f"invalid tag {word!r}: expected key=value")
        tags[key] = value
    return tags


def _span_has(span: Span, key: str, value: str) -> bool:
    have = {
        "service.name": span.service,
        "name": span.operation,
        "k8s.pod.name": span.pod,
        "status.code": "error" if span.error else "unset",
        "error": "true" if span.error else "false",
    }
    return have.get(key) == value


def _duration_ms(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text.strip())
    if match is None:
        raise TempoQueryError(f"invalid duration {text!r}")
    return float(match.group(1)) * DURATION_UNITS[match.group(2)]
