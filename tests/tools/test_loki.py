"""LokiAdapter against respx: nanosecond windows, tenant header, merged streams, errors in plain text."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent
from tools.base import ResultShapeError
from tools.loki import LogLines, LogSeries, LokiAdapter

BASE = "http://loki:3100"
PATH = "/loki/api/v1/query_range"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
QUERY = '{namespace="shop", app="checkout"} |= "error"'
ARGS = {"query": QUERY, "start": T0.isoformat(), "end": T1.isoformat(), "limit": 50}


def ns(minute: int, second: int) -> str:
    return str(int(datetime(2026, 11, 20, 10, minute, second, tzinfo=UTC).timestamp()) * 1_000_000_000 + 123_456_789)


def streams(*items: tuple[dict[str, str], list[list[str]]]) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [{"stream": s, "values": v} for s, v in items],
            "stats": {},
        },
    }


@pytest.fixture
def loki(build: BuildAdapter) -> LokiAdapter:
    adapter = build(LokiAdapter, BASE, max_retries=1, org_id="tenant-a")
    assert isinstance(adapter, LokiAdapter)
    return adapter


async def test_query_range_sends_nanoseconds_tenant_and_merges_streams_newest_first(
    loki: LokiAdapter,
) -> None:
    api = {"app": "checkout", "pod": "checkout-1"}
    api2 = {"app": "checkout", "pod": "checkout-2"}
    body = streams(
        (api, [[ns(4, 12), 'level=error msg="upstream timeout"'], [ns(1, 0), "level=error msg=first"]]),
        (api2, [[ns(3, 0), 'level=error msg="pool exhausted"']]),
    )
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(200, json=body)
        result = await loki.invoke("query_range", ARGS)

    request = route.calls.last.request
    assert request.url.params["query"] == QUERY
    assert request.url.params["start"] == "1795168800000000000"
    assert request.url.params["end"] == "1795169700000000000"
    assert request.url.params["limit"] == "50"
    assert request.url.params["direction"] == "backward"
    assert request.headers["X-Scope-OrgID"] == "tenant-a"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"

    assert result.status == "ok"
    assert result.query == QUERY
    assert result.window is not None and result.window.start == T0
    entries = result.data["entries"]
    assert [e["line"] for e in entries] == [
        'level=error msg="upstream timeout"',
        'level=error msg="pool exhausted"',
        "level=error msg=first",
    ]
    assert entries[0] == {
        "labels": api,
        "ts": "2026-11-20T10:04:12.123456Z",
        "line": 'level=error msg="upstream timeout"',
    }
    assert result.data["returned"] == 3 and result.data["streams"] == 2
    assert result.data["limit_reached"] is False
    assert "3 log lines from 2 streams" in result.summary and "upstream timeout" in result.summary


async def test_forward_direction_is_oldest_first(loki: LokiAdapter) -> None:
    body = streams(({"app": "a"}, [[ns(1, 0), "one"], [ns(2, 0), "two"]]))
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(200, json=body)
        result = await loki.invoke("query_range", {**ARGS, "direction": "forward"})
    assert route.calls.last.request.url.params["direction"] == "forward"
    assert [e["line"] for e in result.data["entries"]] == ["one", "two"]


async def test_limit_reached_is_said(loki: LokiAdapter) -> None:
    body = streams(({"app": "a"}, [[ns(2, 0), "two"], [ns(1, 0), "one"]]))
    with respx.mock(base_url=BASE) as mock:
        mock.get(PATH).respond(200, json=body)
        result = await loki.invoke("query_range", {**ARGS, "limit": 2})
    assert result.data["limit_reached"] is True
    assert "limit of 2 reached" in result.summary


async def test_no_tenant_header_without_org_id(build: BuildAdapter) -> None:
    adapter = build(LokiAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(200, json=streams())
        await adapter.invoke("query_range", ARGS)
    assert "X-Scope-OrgID" not in route.calls.last.request.headers


@pytest.mark.parametrize("result_value", [None, []])
async def test_null_or_empty_result_is_no_data(loki: LokiAdapter, result_value: object) -> None:
    body = {"status": "success", "data": {"resultType": "streams", "result": result_value}}
    with respx.mock(base_url=BASE) as mock:
        mock.get(PATH).respond(200, json=body)
        result = await loki.invoke("query_range", ARGS)
    assert result.status == "no_data"
    assert result.error is None
    assert result.data["entries"] == []


async def test_metric_query_returns_series(loki: LokiAdapter) -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"level": "error"}, "values": [[1795168800, "3"], [1795168860, "12"]]}],
        },
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(200, json=body)
        result = await loki.invoke(
            "query_range",
            {**ARGS, "query": 'sum by (level) (count_over_time({app="checkout"}[1m]))', "step": 60},
        )
    assert route.calls.last.request.url.params["step"] == "60"
    assert result.status == "ok"
    assert result.data["series"] == [
        {"metric": {"level": "error"}, "values": [[1795168800.0, 3.0], [1795168860.0, 12.0]]}
    ]
    assert 'level="error"' in result.summary and "= 12" in result.summary


async def test_plain_text_error_is_reported_and_not_retried(loki: LokiAdapter) -> None:
    message = "parse error at line 1, col 1: syntax error: unexpected IDENTIFIER"
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(400, text=message + "\n")
        result = await loki.invoke("query_range", {**ARGS, "query": "checkout"})
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None
    assert result.error.upstream_status == 400
    assert f"Loki: {message}" in result.error.message


async def test_5xx_is_retried_then_reported(loki: LokiAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(502, text="upstream connect error")
        result = await loki.invoke("query_range", ARGS)
    assert route.call_count == 2  # max_retries=1
    assert result.error is not None and result.error.upstream_status == 502
    assert "upstream connect error" in result.error.body_excerpt
    assert result.query == '{namespace="shop", app="checkout"} |= "error"'
    assert result.params["request"] == f"GET {PATH}"
    assert result.params["query"] == QUERY and result.params["request_params"]["query"] == QUERY


async def test_timeout(loki: LokiAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).mock(side_effect=httpx.ReadTimeout("slow"))
        result = await loki.invoke("query_range", ARGS)
    assert route.call_count == 2
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json at all", "not JSON"),
        (
            b'{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"values":[["x","y"]]}]}}',
            "unexpected shape",
        ),
        (b'{"status":"success","data":{"resultType":"vector","result":[]}}', "not streams or matrix"),
        (b'{"status":"failure"}', "status"),
    ],
)
async def test_malformed_body(loki: LokiAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(PATH).respond(200, content=content)
        result = await loki.invoke("query_range", ARGS)
    assert result.status == "error" and result.error is not None
    assert expected in result.error.message
    assert result.error.body_excerpt == content.decode()


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_token(loki: LokiAdapter, status: int) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.get(PATH).respond(status, text=f"no org id / invalid token {TOKEN}")
        result = await loki.invoke("query_range", ARGS)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == status
    assert_secret_absent(result, logs)


async def test_very_long_line_is_clipped(loki: LokiAdapter) -> None:
    body = streams(({"app": "a"}, [[ns(1, 0), "x" * 10_000]]))
    with respx.mock(base_url=BASE) as mock:
        mock.get(PATH).respond(200, json=body)
        result = await loki.invoke("query_range", ARGS)
    line = result.data["entries"][0]["line"]
    assert len(line) < 2100 and line.endswith("[8000 more characters]")


async def test_log_and_metric_payloads_are_typed(loki: LokiAdapter) -> None:
    body = streams(({"app": "a"}, [[ns(4, 12), "two"], [ns(1, 0), "one"]]))
    matrix = {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": {"level": "error"}, "values": [[1795168800, "3"]]}]},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(PATH).mock(side_effect=[httpx.Response(200, json=body), httpx.Response(200, json=matrix)])
        lines = await loki.invoke("query_range", ARGS)
        series = await loki.invoke("query_range", {**ARGS, "query": 'sum(count_over_time({app="a"}[1m]))'})

    entries = lines.payload(LogLines).entries
    assert [e.line for e in entries] == ["two", "one"]
    assert entries[0].ts == datetime(2026, 11, 20, 10, 4, 12, 123456, tzinfo=UTC) and entries[0].ts.tzinfo is UTC
    assert entries[0].labels == {"app": "a"}
    assert series.payload(LogSeries).series[0].points() == [(datetime(2026, 11, 20, 10, 0, tzinfo=UTC), 3.0)]
    # Asking a log query's result for series names the call and what it is not.
    with pytest.raises(ResultShapeError, match=r"loki\.query_range: the result's data is not a LogSeries"):
        lines.payload(LogSeries)
