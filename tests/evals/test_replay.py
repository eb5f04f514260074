"""The replay backend end to end: the example folder served on loopback, read through the real adapters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from evals.replay.recording import RecordingError, load
from evals.replay.server import ReplayServer
from tools.base import ToolResult
from tools.loki import LogLines, LokiAdapter
from tools.prometheus import PrometheusAdapter, QueryResult
from tools.registry import ToolRegistry
from tools.tempo import TempoAdapter, TraceEdges, TraceList, TraceSpans

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "replay" / "checkout-slow-payment"
NOW = datetime(2026, 11, 20, 10, 25, tzinfo=UTC)  # incident.json's "now"
AFTER = NOW + timedelta(minutes=5)  # the example folder records until 10:35


@pytest.fixture(scope="module")
def server() -> Iterator[ReplayServer]:
    with ReplayServer(load(EXAMPLE)) as running:
        yield running


@pytest.fixture
async def registry(server: ReplayServer) -> AsyncIterator[ToolRegistry]:
    config = {
        kind: {"kind": kind, "base_url": server.url, "max_retries": 0} for kind in ("prometheus", "loki", "tempo")
    }
    built = ToolRegistry.from_config(config)
    yield built
    await built.aclose()


def ok(result: ToolResult) -> ToolResult:
    assert result.error is None, result.error
    return result


async def test_prometheus_range_query_sees_the_fault_and_stops_at_now(registry: ToolRegistry) -> None:
    prometheus = registry.adapters["prometheus"]
    assert isinstance(prometheus, PrometheusAdapter)
    args = {
        "query": 'max by (service) (pod_cpu_usage_ratio{service=~"pay.*|cart"})',
        "start": (NOW - timedelta(minutes=10)).isoformat(),
        "end": AFTER.isoformat(),  # asks past the alert
        "step": 60,
    }
    result = ok(await prometheus.invoke("query_range", args))
    series = {s.metric["service"]: s.points() for s in result.payload(QueryResult).series}
    assert set(series) == {"payment", "cart"}
    assert max(t for t, _ in series["payment"]) == NOW
    before = [v for t, v in series["payment"] if t <= NOW - timedelta(minutes=6)]
    during = [v for t, v in series["payment"] if t > NOW - timedelta(minutes=4)]
    assert max(before) < 0.3 < 0.7 < min(during)
    assert max(v for _, v in series["cart"]) < 0.3


async def test_prometheus_instant_rate_and_comparison(registry: ToolRegistry) -> None:
    prometheus = registry.adapters["prometheus"]
    result = ok(
        await prometheus.invoke(
            "query", {"query": 'sum by (service) (rate(http_requests_total{code="500"}[5m])) > 0.5'}
        )
    )
    failing = {s.metric["service"] for s in result.payload(QueryResult).series}
    assert failing == {"frontend", "checkout", "payment"}


async def test_prometheus_instant_query_after_now_is_answered_at_now(server: ReplayServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        later = await client.get(
            "/api/v1/query", params={"query": "pod_cpu_usage_ratio", "time": str(AFTER.timestamp())}
        )
        bad = await client.get("/api/v1/query", params={"query": "quantile_over_time(0.9, x[5m])"})
    values = later.json()["data"]["result"]
    assert values and all(v["value"][0] == NOW.timestamp() for v in values)
    assert bad.status_code == 400 and bad.json()["errorType"] == "bad_data"


async def test_service_graph_serves_the_topology(registry: ToolRegistry) -> None:
    result = ok(await registry.adapters["prometheus"].invoke("query", {"query": "traces_service_graph_request_total"}))
    edges = {(s.metric["client"], s.metric["server"]) for s in result.payload(QueryResult).series}
    assert edges == {("frontend", "checkout"), ("checkout", "cart"), ("checkout", "payment")}


async def test_loki_filters_streams_limit_and_direction(registry: ToolRegistry) -> None:
    loki = registry.adapters["loki"]
    assert isinstance(loki, LokiAdapter)
    window = {"start": (NOW - timedelta(minutes=30)).isoformat(), "end": AFTER.isoformat()}
    errors = ok(
        await loki.invoke(
            "query_range", {"query": '{node="node-b"} |= "level=error" != "debug"', "limit": 500, **window}
        )
    )
    lines = errors.payload(LogLines)
    assert {e.labels["service"] for e in lines.entries} == {"payment"}
    assert all(e.ts <= NOW for e in lines.entries)
    assert lines.entries[0].ts == NOW  # backward: newest first, and the newest is the alert itself
    oldest = ok(
        await loki.invoke(
            "query_range",
            {"query": '{service=~"pay.*"} |~ "time(d)?out"', "limit": 2, "direction": "forward", **window},
        )
    )
    first = oldest.payload(LogLines)
    assert first.returned == 2 and first.limit_reached
    assert first.entries[0].ts < first.entries[1].ts
    assert first.entries[0].ts > NOW - timedelta(minutes=5)  # the fault started at 10:20


async def test_tempo_search_trace_and_edges_point_at_the_slow_callee(registry: ToolRegistry) -> None:
    tempo = registry.adapters["tempo"]
    assert isinstance(tempo, TempoAdapter)
    window = {"start": (NOW - timedelta(minutes=4)).isoformat(), "end": AFTER.isoformat()}
    found = ok(await tempo.invoke("search", {"service": "payment", "min_duration_ms": 500, "limit": 5, **window}))
    traces = found.payload(TraceList).traces
    assert len(traces) == 5 and all(t.duration_ms >= 500 and t.start <= NOW for t in traces)
    spans = ok(await tempo.invoke("trace", {"trace_id": traces[0].trace_id})).payload(TraceSpans)
    assert spans.services == ["cart", "checkout", "frontend", "payment"]
    assert all(s.parent_id is None or len(s.parent_id) == 16 for s in spans.spans)
    edges = ok(await tempo.invoke("edges", {"limit": 50, **window})).payload(TraceEdges)
    by_edge = {(e.caller, e.callee): e for e in edges.edges}
    assert by_edge[("checkout", "payment")].p95_ms > 10 * by_edge[("checkout", "cart")].p95_ms
    assert by_edge[("checkout", "payment")].errors > 0 and by_edge[("checkout", "cart")].errors == 0
    assert edges.slowest_operations[0].service == "frontend"  # the root spans are the longest
    assert {o.service for o in edges.failing_operations} == {"frontend", "checkout", "payment"}


async def test_nothing_recorded_after_now_is_ever_served(tmp_path: Path) -> None:
    """The clock pinned earlier than the file's alert: the fault's data (after 10:20) disappears everywhere."""
    early = NOW - timedelta(minutes=10)
    with ReplayServer(load(EXAMPLE, now=early)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            matrix = await client.get(
                "/api/v1/query_range",
                params={
                    "query": "pod_cpu_usage_ratio",
                    "start": "2026-11-20T09:00:00Z",
                    "end": "2026-11-21T00:00:00Z",
                    "step": "60",
                },
            )
            logs = await client.get(
                "/loki/api/v1/query_range", params={"query": '{service="payment"}', "limit": "5000"}
            )
            search = await client.get("/api/search", params={"limit": "1000"})
            trace_ids = [t["traceID"] for t in search.json()["traces"]]
            late = await client.get(
                "/api/search", params={"start": str(early.timestamp() + 1), "end": str(AFTER.timestamp())}
            )
    times = [float(t) for s in matrix.json()["data"]["result"] for t, _ in s["values"]]
    assert times and max(times) <= early.timestamp()
    stamps = [int(ns) for s in logs.json()["data"]["result"] for ns, _ in s["values"]]
    assert stamps and max(stamps) <= early.timestamp() * 1e9
    assert not any("error" in line for s in logs.json()["data"]["result"] for _, line in s["values"])
    assert trace_ids and all(int(t["startTimeUnixNano"]) <= early.timestamp() * 1e9 for t in search.json()["traces"])
    assert late.json()["traces"] == []


def test_a_folder_without_incident_json_or_with_a_bad_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="incident.json"):
        load(tmp_path)
    (tmp_path / "incident.json").write_text(json.dumps({"now": "2026-11-20T10:25:00Z"}))
    (tmp_path / "metrics.csv").write_text("time,metric,value\n1,x,2\n")
    with pytest.raises(RecordingError, match="timestamp"):
        load(tmp_path)
