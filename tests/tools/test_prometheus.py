"""PrometheusAdapter against respx: request shape, parsing, no data, and every error path."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent
from tools.base import AdapterSettings, ToolResult
from tools.http import HttpCaller, Redactor
from tools.prometheus import PrometheusAdapter, QueryResult, RangeQuery

BASE = "http://prom:9090"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 11, 0, tzinfo=UTC)
ERROR_RATE = 'sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'


def vector(*series: tuple[dict[str, str], str]) -> dict[str, object]:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": m, "value": [T0.timestamp(), v]} for m, v in series],
        },
    }


@pytest.fixture
def prom(build: BuildAdapter) -> PrometheusAdapter:
    adapter = build(PrometheusAdapter, BASE, max_retries=2)
    assert isinstance(adapter, PrometheusAdapter)
    adapter.clock = lambda: T0
    return adapter


async def test_instant_query_sends_promql_time_and_token_and_parses_floats(prom: PrometheusAdapter) -> None:
    body = vector(({"code": "500", "service": "checkout"}, "0.071"), ({"code": "502", "service": "checkout"}, "0.002"))
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").respond(200, json=body)
        result = await prom.invoke("query", {"query": ERROR_RATE})

    assert result.status == "ok", result.summary
    request = route.calls.last.request
    assert request.url.params["query"] == ERROR_RATE
    assert request.url.params["time"] == "1795168800"  # the injected clock, in unix seconds
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert result.tool == "prometheus.query"
    assert result.query == ERROR_RATE
    assert result.params == {"query": ERROR_RATE, "time": "1795168800"}
    assert result.data["resultType"] == "vector"
    assert result.data["series"][0] == {
        "metric": {"code": "500", "service": "checkout"},
        "values": [[T0.timestamp(), 0.071]],
    }
    assert 'code="500"' in result.summary and "0.071" in result.summary


async def test_explicit_time_is_sent_as_unix_seconds(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").respond(200, json=vector(({"job": "api"}, "1")))
        await prom.invoke("query", {"query": "up", "time": "2026-11-20T10:00:30.5+01:00"})
    assert route.calls.last.request.url.params["time"] == "1795165230.5"


async def test_query_range_converts_nan_and_inf_and_keeps_them_distinct_in_json(
    prom: PrometheusAdapter,
) -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"service": "checkout"},
                    "values": [
                        [1795168800, "0.5"],
                        [1795168860, "NaN"],
                        [1795168920, "+Inf"],
                        [1795168980, "-Inf"],
                    ],
                }
            ],
        },
        "warnings": ["results may be incomplete"],
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query_range").respond(200, json=body)
        result = await prom.invoke("query_range", {"query": "x", "start": T0, "end": T1, "step": 60})

    params = route.calls.last.request.url.params
    assert (params["start"], params["end"], params["step"]) == ("1795168800", "1795172400", "60")
    values = result.data["series"][0]["values"]
    assert values[0][1] == 0.5 and math.isnan(values[1][1])
    assert values[2][1] == math.inf and values[3][1] == -math.inf
    assert result.window is not None and result.window.start == T0 and result.window.end == T1
    assert result.data["warnings"] == ["results may be incomplete"]
    assert "warnings" in result.summary
    dumped = json.loads(result.model_dump_json())
    assert [v[1] for v in dumped["data"]["series"][0]["values"]] == [0.5, "NaN", "Infinity", "-Infinity"]


async def test_long_query_goes_as_form_post(prom: PrometheusAdapter) -> None:
    long_query = "sum(" + " + ".join(f'rate(m{{i="{i}"}}[5m])' for i in range(200)) + ")"
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        get = mock.get("/api/v1/query")
        post = mock.post("/api/v1/query").respond(200, json=vector(({}, "3")))
        result = await prom.invoke("query", {"query": long_query})

    assert result.status == "ok"
    assert not get.called and post.call_count == 1
    request = post.calls.last.request
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode())["query"] == [long_query]


async def test_empty_result_is_no_data_not_error(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/query").respond(
            200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
        )
        result = await prom.invoke("query", {"query": 'up{job="nope"}'})
    assert result.status == "no_data"
    assert result.error is None
    assert result.data["series"] == []
    assert "no series matched" in result.summary


@pytest.mark.parametrize(
    ("status", "error_type", "message"),
    [
        (400, "bad_data", 'invalid parameter "query": 1:5: parse error: unexpected end of input'),
        (422, "execution", "query processing would load too many samples into memory"),
    ],
)
async def test_client_errors_are_parsed_and_not_retried(
    prom: PrometheusAdapter, status: int, error_type: str, message: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").respond(
            status, json={"status": "error", "errorType": error_type, "error": message}
        )
        result = await prom.invoke("query", {"query": "sum(rate("})
    assert route.call_count == 1
    assert result.status == "error"
    assert result.error is not None and result.error.kind == "upstream"
    assert result.error.upstream_status == status
    assert f"Prometheus {error_type}: {message}" in result.error.message
    assert result.params["query"] == "sum(rate("


async def test_503_is_retried_then_reported_with_query_status_and_body(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query_range").respond(
            503,
            json={
                "status": "error",
                "errorType": "timeout",
                "error": "query timed out in expression evaluation",
            },
        )
        result = await prom.invoke("query_range", {"query": ERROR_RATE, "start": T0, "end": T1, "step": 60})
    assert route.call_count == 3  # max_retries=2: one try and two retries
    assert result.status == "error" and result.error is not None
    assert result.error.upstream_status == 503
    assert "Prometheus timeout: query timed out" in result.error.message
    assert "after 3 attempts" in result.error.message
    assert "query timed out" in result.error.body_excerpt
    assert result.query.startswith("sum by (code")
    assert result.params["request"] == "GET /api/v1/query_range"
    assert result.params["query"] == ERROR_RATE
    assert result.params["request_params"]["query"] == ERROR_RATE


async def test_timeout_is_retried_then_reported_as_timeout(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await prom.invoke("query", {"query": "up"})
    assert route.call_count == 3
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "timeout"
    assert "timed out" in result.error.message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html><body>502 Bad Gateway from proxy</body></html>", "not JSON"),
        (
            json.dumps({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}}).encode(),
            "unexpected shape",
        ),
        (
            json.dumps(
                {
                    "status": "success",
                    "data": {"resultType": "vector", "result": [{"metric": {}, "value": ["x"]}]},
                }
            ).encode(),
            "unexpected shape",
        ),
        (
            json.dumps({"status": "success", "data": {"resultType": "histogramz", "result": []}}).encode(),
            "resultType",
        ),
        (json.dumps(["not", "an", "envelope"]).encode(), "not a JSON object"),
    ],
)
async def test_malformed_success_body_is_an_upstream_error_with_excerpt(
    prom: PrometheusAdapter, content: bytes, expected: str
) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").respond(200, content=content)
        result = await prom.invoke("query", {"query": "up"})
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "upstream"
    assert expected in result.error.message
    assert result.error.body_excerpt == content.decode()[:500]


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_token(prom: PrometheusAdapter, status: int) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/query").respond(status, text=f"bad credentials: Bearer {TOKEN}")
        result = await prom.invoke("query", {"query": "up"})
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None
    assert result.error.upstream_status == status
    assert "***" in result.error.body_excerpt
    assert logs, "the HTTP layer logs every request"
    assert_secret_absent(result, logs)


async def test_series_sends_each_selector_as_match(prom: PrometheusAdapter) -> None:
    found = [{"__name__": "up", "job": "api", "instance": "a:9100"}]
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/series").respond(200, json={"status": "success", "data": found})
        result = await prom.invoke(
            "series", {"match": ['up{job="api"}', "process_start_time_seconds"], "start": T0, "end": T1}
        )
    request = route.calls.last.request
    assert request.url.params.get_list("match[]") == ['up{job="api"}', "process_start_time_seconds"]
    assert request.url.params["start"] == "1795168800"
    assert result.status == "ok"
    assert result.data == {"series": found, "count": 1}
    assert result.params["match[]"] == ['up{job="api"}', "process_start_time_seconds"]


async def test_series_without_matches_is_no_data(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/series").respond(200, json={"status": "success", "data": []})
        result = await prom.invoke("series", {"match": ['up{job="gone"}'], "start": T0, "end": T1})
    assert result.status == "no_data"


async def test_label_values(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/label/service/values").respond(
            200, json={"status": "success", "data": ["checkout", "inventory"]}
        )
        result = await prom.invoke("label_values", {"label": "service", "match": ["http_requests_total"]})
    assert route.calls.last.request.url.params.get_list("match[]") == ["http_requests_total"]
    assert result.status == "ok"
    assert result.data["values"] == ["checkout", "inventory"]
    assert "checkout" in result.summary


async def test_label_name_cannot_escape_the_path(prom: PrometheusAdapter) -> None:
    result = await prom.invoke("label_values", {"label": "../../admin"})
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "input"
    assert "label" in result.error.message


async def test_too_fine_a_step_is_refused_naming_step(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.get("/api/v1/query_range")
        result = await prom.invoke(
            "query_range",
            {"query": "up", "start": "2026-11-01T00:00:00Z", "end": "2026-11-20T00:00:00Z", "step": 1},
        )
    assert not route.called
    assert result.error is not None and result.error.kind == "input"
    assert "step:" in result.error.message and "at least 150 seconds" in result.error.message


async def test_end_before_start_is_refused_naming_end(prom: PrometheusAdapter) -> None:
    result = await prom.invoke("query_range", {"query": "up", "start": T1, "end": T0})
    assert result.error is not None and result.error.kind == "input"
    assert "end:" in result.error.message


async def test_base_url_with_path_prefix_is_kept() -> None:
    """The simulator serves every API from one port under a prefix; paths must stay relative."""
    base = "http://127.0.0.1:8555/prometheus"
    async with httpx.AsyncClient(base_url=base) as client:
        adapter = PrometheusAdapter(
            "prom",
            AdapterSettings(base_url=base),
            HttpCaller(client, instance="prom", backoff_seconds=0, redactor=Redactor()),
            clock=lambda: T0,
        )
        with respx.mock(base_url=base) as mock:
            route = mock.get("/api/v1/query").respond(200, json=vector(({"job": "api"}, "1")))
            result = await adapter.invoke("query", {"query": "up"})
    assert result.status == "ok"
    assert route.calls.last.request.url.path == "/prometheus/api/v1/query"


async def test_scalar_result(prom: PrometheusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/query").respond(
            200, json={"status": "success", "data": {"resultType": "scalar", "result": [1795168800, "42"]}}
        )
        result = await prom.invoke("query", {"query": "scalar(sum(up))"})
    assert result.status == "ok"
    assert result.data["series"] == [{"metric": {}, "values": [[1795168800.0, 42.0]]}]


async def test_odd_warnings_field_does_not_crash(prom: PrometheusAdapter) -> None:
    body = vector(({"job": "api"}, "1")) | {"warnings": 1.5}
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/query").respond(200, json=body)
        result = await prom.invoke("query", {"query": "up"})
    assert result.status == "ok" and "warnings" not in result.data


async def test_query_payload_is_typed(prom: PrometheusAdapter) -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"service": "checkout"},
                    "values": [[1795168800, "0.5"], [1795168860.5, "NaN"], [1795168920, "0.25"]],
                }
            ],
        },
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/query_range").respond(200, json=body)
        result = await prom.invoke("query_range", RangeQuery(query="x", start=T0, end=T1, step=60))
    payload = result.payload(QueryResult)
    assert payload.resultType == "matrix" and payload.series[0].metric == {"service": "checkout"}
    at, value = (payload.series[0].values or [])[1]
    assert at == datetime(2026, 11, 20, 10, 1, 0, 500000, tzinfo=UTC)
    assert isinstance(value, float) and math.isnan(value)
    assert payload.first_points() == [(T0, 0.5), (datetime(2026, 11, 20, 10, 2, tzinfo=UTC), 0.25)]
    # data keeps unix seconds for the model; read back (from a record), it is the same payload.
    assert result.data["series"][0]["values"][0] == [1795168800.0, 0.5]
    restored = ToolResult.model_validate_json(result.model_dump_json())
    assert restored.payload(QueryResult).first_points() == payload.first_points()
