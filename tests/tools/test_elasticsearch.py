"""ElasticsearchAdapter against respx: the _search body as sent, totals, hits, shard failures, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent
from tools.checks import check_adapter
from tools.elasticsearch import ElasticsearchAdapter

BASE = "http://es.test:9200"
WINDOW = {"start": "2026-11-20T09:45:00Z", "end": "2026-11-20T10:00:00Z"}
SEARCH = {"index": "logs-checkout-*", "query": 'level:error AND "connection refused"', **WINDOW}
PATH = "/logs-checkout-*/_search"


def hit(ts: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "_index": "logs-checkout-2026.11.20",
        "_id": f"id-{ts}",
        "_score": None,
        "_source": {"@timestamp": ts, "message": message, "service": {"name": "checkout"}, **extra},
        "sort": [1795300059000],
    }


def answer(hits: list[dict[str, Any]], total: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "took": 5,
        "timed_out": False,
        "_shards": {"total": 3, "successful": 3, "skipped": 0, "failed": 0},
        "hits": {"total": total if total is not None else {"value": len(hits), "relation": "eq"}, "hits": hits},
        **extra,
    }


@pytest.fixture
def es(build: BuildAdapter) -> ElasticsearchAdapter:
    adapter = build(ElasticsearchAdapter, BASE, max_retries=2, default_index="logs-*")
    assert isinstance(adapter, ElasticsearchAdapter)
    return adapter


async def test_search_sends_the_window_filters_and_query(es: ElasticsearchAdapter) -> None:
    hits = [
        hit("2026-11-20T09:59:58Z", "connection refused: db:5432", log={"level": "error"}),
        hit("2026-11-20T09:58:00Z", "connection refused: db:5432"),
    ]
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(PATH).respond(200, json=answer(hits, {"value": 123, "relation": "eq"}))
        result = await es.invoke("search", {**SEARCH, "filters": {"service.name": "checkout"}, "size": 2})
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"ApiKey {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body == {
        "size": 2,
        "sort": [{"@timestamp": {"order": "desc"}}],
        "track_total_hits": True,
        "timeout": "10s",
        "query": {
            "bool": {
                "filter": [
                    {
                        "range": {
                            "@timestamp": {
                                "gte": "2026-11-20T09:45:00Z",
                                "lte": "2026-11-20T10:00:00Z",
                                "format": "strict_date_optional_time",
                            }
                        }
                    },
                    {"term": {"service.name": "checkout"}},
                ],
                "must": [{"query_string": {"query": SEARCH["query"], "default_field": "message"}}],
            }
        },
    }
    assert result.status == "ok"
    assert result.query == f"POST {PATH}" and result.params == body
    assert result.window is not None and result.window.end.isoformat() == "2026-11-20T10:00:00+00:00"
    first = result.data["hits"][0]
    assert first["timestamp"] == "2026-11-20T09:59:58Z" and first["message"] == "connection refused: db:5432"
    assert first["source"] == {
        "@timestamp": "2026-11-20T09:59:58Z",
        "service": {"name": "checkout"},
        "log": {"level": "error"},
    }
    assert result.data["total"] == 123
    assert result.summary.startswith(
        "123 documents in logs-checkout-* matching 'level:error AND \"connection refused\"' with "
        "service.name='checkout' between 2026-11-20T09:45:00Z and 2026-11-20T10:00:00Z (showing 2, newest first)"
    )


async def test_default_index_fields_and_old_style_total(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/logs-*/_search").respond(200, json=answer([hit("2026-11-20T09:50:00Z", "x")], total=10000))
        result = await es.invoke("search", {**WINDOW, "fields": ["trace.id"], "order": "asc"})
    body = json.loads(route.calls.last.request.content)
    assert "must" not in body["query"]["bool"]
    assert body["_source"] == ["@timestamp", "message", "trace.id"]
    assert body["sort"] == [{"@timestamp": {"order": "asc"}}]
    assert result.data["total"] == 10000 and "oldest first" in result.summary


async def test_capped_total_is_marked(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(
            200, json=answer([hit("2026-11-20T09:50:00Z", "x")], {"value": 10000, "relation": "gte"})
        )
        result = await es.invoke("search", SEARCH)
    assert result.data["total_relation"] == "gte" and result.summary.startswith("10000+ documents")


async def test_no_hits_is_no_data(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(200, json=answer([]))
        result = await es.invoke("search", SEARCH)
    assert result.status == "no_data" and result.error is None
    assert result.summary.startswith("no documents in logs-checkout-* matching")


async def test_failed_shards_and_timeouts_are_reported(es: ElasticsearchAdapter) -> None:
    shards = {"total": 5, "successful": 4, "failed": 1, "failures": [{"reason": {"type": "x", "reason": "node left"}}]}
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(
            200, json=answer([hit("2026-11-20T09:50:00Z", "x")], _shards=shards) | {"timed_out": True}
        )
        result = await es.invoke("search", SEARCH)
    assert "1 of 5 shards failed (node left): hits are incomplete" in result.summary
    assert "the search timed out: hits are partial" in result.data["notes"]


async def test_long_values_are_clipped(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(200, json=answer([hit("2026-11-20T09:50:00Z", "m" * 5000, stack="s" * 5000)]))
        result = await es.invoke("search", SEARCH)
    first = result.data["hits"][0]
    assert len(first["message"]) < 1100 and len(first["source"]["stack"]) < 400


async def test_missing_index_is_a_clear_error_without_retry(es: ElasticsearchAdapter) -> None:
    error = {
        "error": {
            "root_cause": [{"type": "index_not_found_exception", "reason": "no such index [logs-checkout-*]"}],
            "type": "index_not_found_exception",
            "reason": "no such index [logs-checkout-*]",
        },
        "status": 404,
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(PATH).respond(404, json=error)
        result = await es.invoke("search", SEARCH)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 404
    assert result.error.message == (
        f"POST {PATH} returned HTTP 404: Elasticsearch index_not_found_exception: no such index [logs-checkout-*]"
    )
    assert result.params["query"] == SEARCH["query"] and result.query == SEARCH["query"]
    assert '"index_not_found_exception"' in result.error.body_excerpt


async def test_bad_query_string_names_the_root_cause(es: ElasticsearchAdapter) -> None:
    error = {
        "error": {
            "root_cause": [{"type": "query_shard_exception", "reason": "Failed to parse query [level:(]"}],
            "type": "search_phase_execution_exception",
            "reason": "all shards failed",
        },
        "status": 400,
    }
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(400, json=error)
        result = await es.invoke("search", {**SEARCH, "query": "level:("})
    assert result.error is not None and "query_shard_exception: Failed to parse query [level:(]" in result.error.message


async def test_5xx_retried_then_reported(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(PATH).respond(503, text="cluster_block_exception")
        result = await es.invoke("search", SEARCH)
    assert route.call_count == 3
    assert result.error is not None and result.error.upstream_status == 503
    assert "after 3 attempts" in result.error.message and result.error.body_excerpt == "cluster_block_exception"


async def test_timeout(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(PATH).mock(side_effect=httpx.ReadTimeout("slow"))
        result = await es.invoke("search", SEARCH)
    assert route.call_count == 3
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html>proxy</html>", "not JSON"),
        (b'{"took": 1}', "hits is not a JSON object"),
        (b'{"hits": {"hits": {}}}', "hits.hits is not a JSON array"),
        (b'{"hits": {"hits": [{"_source": "text"}]}}', "unexpected shape"),
    ],
)
async def test_malformed_body(es: ElasticsearchAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.post(PATH).respond(200, content=content)
        result = await es.invoke("search", SEARCH)
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_key(es: ElasticsearchAdapter, status: int) -> None:
    error = {
        "error": {"type": "security_exception", "reason": f"unable to authenticate with ApiKey {TOKEN}"},
        "status": status,
    }
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.post(PATH).respond(status, json=error)
        result = await es.invoke("search", SEARCH)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == status
    assert "security_exception: unable to authenticate with ApiKey ***" in result.error.message
    assert any(entry["event"] == "http_request" for entry in logs)
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({**SEARCH, "index": "_all"}, "index"),
        ({**SEARCH, "index": "logs/../x"}, "index"),
        ({**SEARCH, "end": "2026-11-20T09:00:00Z"}, "end"),
        ({**SEARCH, "filters": {"bad field": "x"}}, "filters"),
        ({**SEARCH, "size": 5000}, "size"),
    ],
)
async def test_input_is_validated(es: ElasticsearchAdapter, args: dict[str, Any], field: str) -> None:
    result = await es.invoke("search", args)
    assert result.error is not None and result.error.kind == "input" and f"{field}:" in result.error.message


async def test_without_index_or_default_the_call_says_so(build: BuildAdapter) -> None:
    es = build(ElasticsearchAdapter, BASE)
    result = await es.invoke("search", WINDOW)
    assert result.error is not None and result.error.kind == "input"
    assert (
        result.error.message == "index: give an index pattern; instance 'elasticsearch' has no default_index configured"
    )


async def test_basic_auth_for_opensearch(build: BuildAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTLINE_TEST_USER", "reader")
    monkeypatch.setenv("FIRSTLINE_TEST_PASSWORD", "pw-9f8e7d6c")
    es = build(
        ElasticsearchAdapter,
        BASE,
        token_env=None,
        username_env="FIRSTLINE_TEST_USER",
        password_env="FIRSTLINE_TEST_PASSWORD",
        default_index="logs-*",
    )
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/logs-*/_search").respond(200, json=answer([]))
        await es.invoke("search", WINDOW)
    assert route.calls.last.request.headers["Authorization"] == "Basic cmVhZGVyOnB3LTlmOGU3ZDZj"


async def test_check_reads_version_then_proves_read_access(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/").respond(200, json={"cluster_name": "logs", "version": {"number": "8.15.0"}})
        count = mock.post("/logs-*/_search").respond(200, json=answer([], {"value": 42, "relation": "eq"}))
        result = await check_adapter(es)
    assert (result.status, result.detail) == (
        "ok",
        "Elasticsearch 8.15.0 (cluster logs); logs-* readable (42 documents)",
    )
    assert json.loads(count.calls.last.request.content) == {"size": 0}


async def test_check_tolerates_a_key_without_cluster_monitor(es: ElasticsearchAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/").respond(
            403,
            json={"error": {"type": "security_exception", "reason": "action [cluster:monitor/main] is unauthorized"}},
        )
        mock.post("/logs-*/_search").respond(200, json=answer([], {"value": 10000, "relation": "gte"}))
        result = await check_adapter(es)
    assert (result.status, result.detail) == ("ok", "logs-* readable (10000+ documents)")


async def test_check_names_opensearch(build: BuildAdapter) -> None:
    es = build(ElasticsearchAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/").respond(
            200, json={"cluster_name": "c", "version": {"number": "2.17.0", "distribution": "opensearch"}}
        )
        result = await check_adapter(es)
    assert result.detail == "OpenSearch 2.17.0 (cluster c)"


def test_search_is_read_only() -> None:
    assert not ElasticsearchAdapter.calls["search"].safety.mutating


async def test_against_the_simulator() -> None:
    """The production adapter on the simulator's Elasticsearch (in process, no socket)."""
    from datetime import UTC, datetime, timedelta

    from evals.sim import World, create_app, load_scenario
    from evals.sim.timeutil import SimClock
    from tools.base import AdapterSettings
    from tools.registry import ToolRegistry

    anchor = datetime(2026, 11, 20, 19, 42, tzinfo=UTC)
    world = World(
        load_scenario("checkout-migration"), anchor=anchor, clock=SimClock.frozen(anchor + timedelta(minutes=2))
    )
    app = create_app(world)

    def factory(name: str, settings: AdapterSettings, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url, headers=headers)

    registry = ToolRegistry.from_config(
        {"es": {"kind": "elasticsearch", "base_url": "http://sim/elasticsearch", "default_index": "logs-*"}},
        kinds={"elasticsearch": ElasticsearchAdapter},
        client_factory=factory,
    )
    try:
        result = await registry.invoke(
            "es.search",
            {
                "query": "UndefinedColumn",
                "filters": {"service.name": "checkout"},
                "start": "2026-11-20T19:34:00Z",
                "end": "2026-11-20T19:44:00Z",
                "size": 3,
            },
        )
        assert result.status == "ok", result.summary
        assert result.data["returned"] == 3 and result.data["total"] >= 3
        assert all("UndefinedColumn" in h["message"] for h in result.data["hits"])
        assert result.data["hits"][0]["source"]["kubernetes"]["namespace"] == "shop"
        quiet = await registry.invoke(
            "es.search",
            {
                "query": "UndefinedColumn",
                "start": "2026-11-20T18:00:00Z",
                "end": "2026-11-20T18:10:00Z",
            },
        )
        assert quiet.status == "no_data"
        checked = await check_adapter(registry.adapters["es"])
        assert checked.status == "ok" and checked.detail.startswith(
            "Elasticsearch 8.15.0 (cluster firstline-sim); logs-* readable"
        )
    finally:
        await registry.aclose()
