"""Prometheus and Loki as served by the simulator: the real envelopes, parameters and errors."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml

from evals.sim import World

REPO = Path(__file__).resolve().parents[3]
ERROR_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)


# ---------------------------------------------------------------------------------------- Prometheus


async def test_instant_query_envelope(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get("/prometheus/api/v1/query", params={"query": ERROR_RATIO})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "vector"
    [sample] = body["data"]["result"]
    assert sample["metric"] == {}
    timestamp, value = sample["value"]
    assert timestamp == world.now_ts() and isinstance(value, str)
    assert 0.3 < float(value) < 0.4


async def test_post_form_and_rfc3339_time(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/prometheus/api/v1/query", data={"query": 'up{service="checkout"}', "time": "2026-11-20T19:00:00Z"}
    )
    [sample] = response.json()["data"]["result"]
    assert sample["metric"] == {
        "__name__": "up",
        "service": "checkout",
        "namespace": "shop",
        "job": "checkout",
        "instance": "checkout.shop.svc:9090",
    }
    assert sample["value"] == [1795201200, "1"]


async def test_range_query_over_three_hours_is_fast(client: httpx.AsyncClient, world: World) -> None:
    params = {"query": ERROR_RATIO, "start": str(world.at(-3 * 3600)), "end": str(world.now_ts()), "step": "15s"}
    began = time.perf_counter()
    response = await client.get("/prometheus/api/v1/query_range", params=params)
    elapsed = time.perf_counter() - began
    body = response.json()
    assert body["data"]["resultType"] == "matrix"
    values = body["data"]["result"][0]["values"]
    assert len(values) > 700 and values[1][0] - values[0][0] == 15
    assert all(isinstance(v, str) for _, v in values)
    assert elapsed < 1.0, f"a 3 h range query took {elapsed:.2f} s"


@pytest.mark.parametrize(
    ("path", "params", "status", "error_type", "message"),
    [
        (
            "query",
            {"query": "sum("},
            400,
            "bad_data",
            'invalid parameter "query": 1:5: parse error: unexpected end of input',
        ),
        (
            "query",
            {"query": "up", "time": "yesterday"},
            400,
            "bad_data",
            'invalid parameter "time": cannot parse "yesterday"',
        ),
        ("query_range", {"query": "up", "start": "1", "end": "2"}, 400, "bad_data", 'invalid parameter "step"'),
        (
            "query_range",
            {"query": "up", "start": "10", "end": "1", "step": "1"},
            400,
            "bad_data",
            "end timestamp must not be before start time",
        ),
        ("query", {"query": "http_requests_total / on(service) http_requests_total"}, 422, "execution", "many-to-many"),
        ("series", {}, 400, "bad_data", "no match[] parameter provided"),
        ("series", {"match[]": "sum(up)"}, 400, "bad_data", 'invalid parameter "match[]"'),
    ],
)
async def test_prometheus_errors(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int, error_type: str, message: str
) -> None:
    response = await client.get(f"/prometheus/api/v1/{path}", params=params)
    assert response.status_code == status
    body = response.json()
    assert body["status"] == "error" and body["errorType"] == error_type
    assert message in body["error"]


async def test_series_labels_and_label_values(client: httpx.AsyncClient) -> None:
    series = (
        await client.get("/prometheus/api/v1/series", params={"match[]": 'http_requests_total{service="inventory"}'})
    ).json()
    assert series["status"] == "success"
    assert {(s["code"], s["method"]) for s in series["data"]} == {
        ("200", "GET"),
        ("500", "GET"),
        ("200", "POST"),
        ("500", "POST"),
    }
    labels = (await client.get("/prometheus/api/v1/labels")).json()["data"]
    assert {"__name__", "service", "code", "le", "namespace"} <= set(labels)
    services = (await client.get("/prometheus/api/v1/label/service/values")).json()["data"]
    assert services == ["checkout", "inventory", "payments-db"]
    names = (await client.get("/prometheus/api/v1/label/__name__/values")).json()["data"]
    assert "pg_connections_max" in names and "http_request_duration_seconds_bucket" in names


async def test_limit_truncates_with_a_warning(client: httpx.AsyncClient) -> None:
    body = (await client.get("/prometheus/api/v1/query", params={"query": "up", "limit": "1"})).json()
    assert len(body["data"]["result"]) == 1 and body["warnings"] == ["results truncated due to limit"]


def catalog_queries() -> list[tuple[str, str, str]]:
    catalog = yaml.safe_load((REPO / "examples" / "catalog.yaml").read_text(encoding="utf-8"))
    return [
        (name, kind, query)
        for name, entry in catalog["services"].items()
        for kind, query in entry.get("sli", {}).items()
    ]


@pytest.mark.parametrize(("service", "sli", "query"), catalog_queries(), ids=lambda v: v if len(str(v)) < 30 else "q")
async def test_catalog_sli_queries_answer(client: httpx.AsyncClient, service: str, sli: str, query: str) -> None:
    body = (await client.get("/prometheus/api/v1/query", params={"query": query})).json()
    assert body["status"] == "success", body
    [sample] = body["data"]["result"]
    value = float(sample["value"][1])
    assert 0 <= value < (5 if sli == "latency_p99" else 1)


# ---------------------------------------------------------------------------------------------- Loki


async def test_log_query_streams_newest_first(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        "/loki/loki/api/v1/query_range",
        params={"query": '{namespace="shop", app="checkout"} |= "UndefinedColumn"', "limit": "20"},
    )
    body = response.json()
    assert body["status"] == "success" and body["data"]["resultType"] == "streams"
    entries = [entry for stream in body["data"]["result"] for entry in stream["values"]]
    assert len(entries) == 20
    for stream in body["data"]["result"]:
        assert stream["stream"]["app"] == "checkout" and stream["stream"]["pod"].startswith("checkout-")
        stamps = [int(ts) for ts, _ in stream["values"]]
        assert stamps == sorted(stamps, reverse=True)
    ts, line = entries[0]
    assert isinstance(ts, str) and len(ts) == 19
    assert line == 'ERROR psycopg.errors.UndefinedColumn: column "customer_id" does not exist'
    assert all(int(ts) <= world.now_ts() * 1e9 for ts, _ in entries)


async def test_forward_direction_and_explicit_window(client: httpx.AsyncClient, world: World) -> None:
    start = int(world.at(-3600) * 1e9)
    body = (
        await client.get(
            "/loki/loki/api/v1/query_range",
            params={
                "query": '{app="inventory"}',
                "start": str(start),
                "end": str(world.at(-3000)),
                "limit": "10",
                "direction": "forward",
            },
        )
    ).json()
    stamps = sorted(int(ts) for stream in body["data"]["result"] for ts, _ in stream["values"])
    assert len(stamps) == 10 and stamps[0] >= start and stamps[-1] < start + 60 * 1e9


@pytest.mark.parametrize(
    ("pipeline", "check"),
    [
        ('|= "POST"', lambda line: "POST" in line),
        ('!= "GET"', lambda line: "GET" not in line),
        ('|~ "GET /api/orders/[0-9]+ "', lambda line: line.startswith("INFO GET /api/orders/")),
        ('!~ "INFO|ERROR"', lambda line: line.startswith("WARN")),
    ],
)
async def test_line_filters(client: httpx.AsyncClient, pipeline: str, check: object) -> None:
    body = (
        await client.get(
            "/loki/loki/api/v1/query_range",
            params={"query": f'{{app="checkout"}} {pipeline}', "since": "3h", "limit": "200"},
        )
    ).json()
    lines = [line for stream in body["data"]["result"] for _, line in stream["values"]]
    assert lines and all(check(line) for line in lines)  # type: ignore[operator]  # the lambdas above


@pytest.mark.parametrize(
    ("query", "extra", "message"),
    [
        ('{app="checkout"', {}, "parse error at line 1, col"),
        ("checkout", {}, "parse error at line 1, col 1"),
        (
            '{app=~".*"}',
            {},
            "queries require at least one regexp or equality matcher that does not have an empty-compatible value",
        ),
        ('{app="checkout"} | json', {}, "the pipeline stage '| json' is not supported by the simulator"),
        ('{app="checkout"}', {"limit": "5001"}, "max entries limit per query exceeded"),
        ('{app="checkout"}', {"direction": "sideways"}, "invalid direction"),
        ('{app="checkout"}', {"start": "200", "end": "100"}, "end timestamp must not be before or equal to start time"),
    ],
)
async def test_loki_errors_are_plain_text(
    client: httpx.AsyncClient, query: str, extra: dict[str, str], message: str
) -> None:
    response = await client.get("/loki/loki/api/v1/query_range", params={"query": query, **extra})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert message in response.text


async def test_metric_query_counts_the_signature(client: httpx.AsyncClient) -> None:
    body = (
        await client.get(
            "/loki/loki/api/v1/query_range",
            params={
                "query": 'sum by (app) (count_over_time({namespace="shop"} |= "UndefinedColumn" [1m]))',
                "since": "30m",
                "step": "60",
            },
        )
    ).json()
    assert body["data"]["resultType"] == "matrix"
    [series] = body["data"]["result"]
    assert series["metric"] == {"app": "checkout"}
    assert 500 < float(series["values"][-1][1]) < 700  # ~10 lines/s
    assert len(series["values"]) <= 8  # only the minutes since the fault began have lines
    rate = (
        await client.get(
            "/loki/loki/api/v1/query", params={"query": 'sum(rate({app="checkout"} |= "UndefinedColumn" [1m]))'}
        )
    ).json()
    assert rate["data"]["resultType"] == "vector" and 8 < float(rate["data"]["result"][0]["value"][1]) < 12


async def test_instant_log_query_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/loki/loki/api/v1/query", params={"query": '{app="checkout"}'})
    assert response.status_code == 400 and "log queries are not supported as an instant query" in response.text


async def test_loki_labels(client: httpx.AsyncClient) -> None:
    assert {"app", "namespace", "pod"} <= set((await client.get("/loki/loki/api/v1/labels")).json()["data"])
    apps = (await client.get("/loki/loki/api/v1/label/app/values")).json()["data"]
    assert apps == ["checkout", "inventory", "payments-db"]
