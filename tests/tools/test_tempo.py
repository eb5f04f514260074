"""TempoAdapter against respx: Tempo's search envelope, OTLP JSON traces (base64 and hex ids), edges, errors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent
from tools.tempo import TempoAdapter, TraceEdges, TraceList, TraceSpans

BASE = "http://tempo:3200"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
WINDOW = {"start": T0.isoformat(), "end": T1.isoformat()}
START_NS = int(T0.timestamp()) * 1_000_000_000


def b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


def span(
    trace: str, span_id: str, parent: str | None, name: str, start_ms: float, ms: float, error: bool = False
) -> dict[str, object]:
    item: dict[str, object] = {
        "traceId": b64(trace),
        "spanId": b64(span_id),
        "name": name,
        "startTimeUnixNano": str(START_NS + int(start_ms * 1e6)),
        "endTimeUnixNano": str(START_NS + int((start_ms + ms) * 1e6)),
        "status": {"code": "STATUS_CODE_ERROR"} if error else {},
    }
    if parent:
        item["parentSpanId"] = b64(parent)
    return item


def batch(service: str, *spans: dict[str, object]) -> dict[str, object]:
    return {
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "otel"}, "spans": list(spans)}],
    }


def trace_body(trace: str, payment_ms: float, failed: bool) -> dict[str, object]:
    return {
        "batches": [
            batch("checkout", span(trace, "a" * 16, None, "PlaceOrder", 0, payment_ms + 30, failed)),
            batch("payment", span(trace, "b" * 16, "a" * 16, "Charge", 5, payment_ms, failed)),
            batch("cart", span(trace, "c" * 16, "a" * 16, "GetCart", 2, 3)),
        ]
    }


TRACE_A = "1" * 32
TRACE_B = "2" * 32
SEARCH = {
    "traces": [
        {
            "traceID": TRACE_A,
            "rootServiceName": "checkout",
            "rootTraceName": "PlaceOrder",
            "startTimeUnixNano": str(START_NS),
            "durationMs": 930,
        },
        {
            "traceID": TRACE_B,
            "rootServiceName": "checkout",
            "rootTraceName": "PlaceOrder",
            "startTimeUnixNano": str(START_NS),
            "durationMs": 70,
        },
    ],
    "metrics": {"inspectedTraces": 2},
}


@pytest.fixture
def tempo(build: BuildAdapter) -> TempoAdapter:
    adapter = build(TempoAdapter, BASE, max_retries=1)
    assert isinstance(adapter, TempoAdapter)
    return adapter


async def test_search_sends_seconds_logfmt_tags_and_min_duration(tempo: TempoAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/search").respond(200, json=SEARCH)
        result = await tempo.invoke(
            "search", {"service": "checkout", "operation": "Place Order", "min_duration_ms": 250, "limit": 2, **WINDOW}
        )
    params = route.calls.last.request.url.params
    assert params["start"] == str(int(T0.timestamp())) and params["end"] == str(int(T1.timestamp()))
    assert params["tags"] == 'service.name=checkout name="Place Order"'
    assert params["minDuration"] == "250ms" and params["limit"] == "2"
    listed = result.payload(TraceList)
    assert [t.trace_id for t in listed.traces] == [TRACE_A, TRACE_B]
    assert listed.limit_reached and listed.traces[0].start == T0
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_trace_decodes_base64_ids_parents_and_error_status(tempo: TempoAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/api/traces/{TRACE_A}").respond(200, json=trace_body(TRACE_A, 900, failed=True))
        result = await tempo.invoke("trace", {"trace_id": TRACE_A})
    spans = result.payload(TraceSpans)
    assert spans.services == ["cart", "checkout", "payment"] and spans.errors == 2
    charge = next(s for s in spans.spans if s.operation == "Charge")
    assert (charge.trace_id, charge.span_id, charge.parent_id) == (TRACE_A, "b" * 16, "a" * 16)
    assert charge.duration_ms == pytest.approx(900) and charge.error


async def test_trace_accepts_hex_ids_and_resource_spans_with_numeric_status(tempo: TempoAdapter) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
                "instrumentationLibrarySpans": [
                    {
                        "spans": [
                            {
                                "traceId": TRACE_A,
                                "spanId": "d" * 16,
                                "name": "Get",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2000001",
                                "status": {"code": 2},
                            }
                        ]
                    }
                ],
            }
        ]
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/api/traces/{TRACE_A}").respond(200, json=body)
        spans = (await tempo.invoke("trace", {"trace_id": TRACE_A})).payload(TraceSpans)
    assert [(s.span_id, s.error, s.duration_ms) for s in spans.spans] == [("d" * 16, True, 2.0)]


async def test_edges_attribute_latency_and_errors_to_the_callee(tempo: TempoAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/search").respond(200, json=SEARCH)
        mock.get(f"/api/traces/{TRACE_A}").respond(200, json=trace_body(TRACE_A, 900, failed=True))
        mock.get(f"/api/traces/{TRACE_B}").respond(200, json=trace_body(TRACE_B, 40, failed=False))
        result = await tempo.invoke("edges", {"service": "checkout", **WINDOW})
    edges = result.payload(TraceEdges)
    by_edge = {(e.caller, e.callee): e for e in edges.edges}
    assert set(by_edge) == {("checkout", "payment"), ("checkout", "cart")}
    payment = by_edge[("checkout", "payment")]
    assert (payment.calls, payment.errors, payment.max_ms) == (2, 1, 900.0)
    assert payment.p50_ms == 40.0 and payment.p95_ms == 900.0
    assert by_edge[("checkout", "cart")].errors == 0
    assert edges.traces_read == 2
    assert [o.operation for o in edges.failing_operations] == ["PlaceOrder", "Charge"]
    assert edges.slowest_operations[0].operation == "PlaceOrder"
    assert "checkout -> payment" in result.summary


async def test_unknown_trace_is_an_upstream_error_with_tempos_text_and_no_secret(tempo: TempoAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/api/traces/{TRACE_A}").respond(404, text="trace not found")
        with capture_logs() as logs:
            result = await tempo.invoke("trace", {"trace_id": TRACE_A})
    assert result.error is not None and result.error.kind == "upstream"
    assert "trace not found" in result.error.message
    assert_secret_absent(result, logs)


async def test_a_span_without_times_is_a_malformed_answer(tempo: TempoAdapter) -> None:
    body = {"batches": [batch("cart", {"traceId": TRACE_A, "spanId": "d" * 16, "name": "x"})]}
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/api/traces/{TRACE_A}").respond(200, json=body)
        result = await tempo.invoke("trace", {"trace_id": TRACE_A})
    assert result.error is not None and "unexpected shape" in result.error.message


async def test_check_reads_the_echo_endpoint(tempo: TempoAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/echo").respond(200, text="echo")
        assert await tempo.check() == "Tempo answers"
    assert route.called
