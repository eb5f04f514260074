"""The simulated Elasticsearch: the Loki lines as documents, the query subset, Elasticsearch's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from evals.sim import World

WINDOW = {"range": {"@timestamp": {"gte": "2026-11-20T19:34:00Z", "lte": "2026-11-20T19:44:00Z"}}}


def search_body(*filters: Any, must: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    query: dict[str, Any] = {"bool": {"filter": [WINDOW, *filters]}}
    if must:
        query["bool"]["must"] = must
    return {"size": 5, "sort": [{"@timestamp": {"order": "desc"}}], "track_total_hits": True, "query": query, **extra}


async def test_banner(client: httpx.AsyncClient) -> None:
    body = (await client.get("/elasticsearch/")).json()
    assert body["version"]["number"] == "8.15.0" and body["tagline"] == "You Know, for Search"


async def test_search_returns_the_same_lines_as_loki(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/elasticsearch/logs-*/_search",
        json=search_body(
            {"term": {"service.name": "checkout"}},
            must=[{"query_string": {"query": "undefinedcolumn", "default_field": "message"}}],
        ),
    )
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert hits["total"]["relation"] == "eq" and hits["total"]["value"] >= len(hits["hits"]) > 0
    first = hits["hits"][0]
    assert first["_index"] == "logs-checkout"
    source = first["_source"]
    assert "UndefinedColumn" in source["message"] and source["service"] == {"name": "checkout"}
    assert source["kubernetes"]["namespace"] == "shop" and source["kubernetes"]["pod"]["name"].startswith("checkout-")
    stamps = [h["_source"]["@timestamp"] for h in hits["hits"]]
    assert stamps == sorted(stamps, reverse=True) and all(
        "2026-11-20T19:3" in s or "2026-11-20T19:4" in s for s in stamps
    )

    loki = await client.get(
        "/loki/loki/api/v1/query_range",
        params={
            "query": '{app="checkout"} |~ "(?i)undefinedcolumn"',
            "start": "2026-11-20T19:34:00Z",
            "end": "2026-11-20T19:44:00Z",
            "limit": 5000,
        },
    )
    loki_lines = sum(len(s["values"]) for s in loki.json()["data"]["result"])
    assert hits["total"]["value"] == loki_lines


async def test_phrases_and_and_narrow_the_search(client: httpx.AsyncClient) -> None:
    async def count(query: str) -> int:
        body = search_body(must=[{"query_string": {"query": query}}])
        return int(
            (await client.post("/elasticsearch/logs-checkout/_search", json=body)).json()["hits"]["total"]["value"]
        )

    broad = await count("UndefinedColumn")
    narrow = await count('UndefinedColumn AND "customer_id"')
    assert broad >= narrow > 0
    assert await count("no-such-text-anywhere") == 0


async def test_unknown_term_field_and_empty_window_find_nothing(client: httpx.AsyncClient) -> None:
    nothing = await client.post("/elasticsearch/logs-*/_search", json=search_body({"term": {"trace.id": "abc"}}))
    assert nothing.json()["hits"]["total"]["value"] == 0
    early = {
        "size": 5,
        "query": {"range": {"@timestamp": {"gte": "2020-01-01T00:00:00Z", "lt": "2020-01-01T00:10:00Z"}}},
    }
    assert (await client.post("/elasticsearch/logs-*/_search", json=early)).json()["hits"]["hits"] == []


@pytest.mark.parametrize(
    ("path", "body", "status", "kind", "reason"),
    [
        ("/elasticsearch/nope/_search", {}, 404, "index_not_found_exception", "no such index [nope]"),
        (
            "/elasticsearch/logs-*/_search",
            {"query": {"wildcard": {"message": "x*"}}},
            400,
            "parsing_exception",
            "[wildcard]",
        ),
        (
            "/elasticsearch/logs-*/_search",
            {"query": {"query_string": {"query": "a OR b"}}},
            400,
            "query_shard_exception",
            "AND only",
        ),
        ("/elasticsearch/logs-*/_search", {"size": 20000}, 400, "illegal_argument_exception", "size must be"),
        (
            "/elasticsearch/logs-*/_search",
            {"query": {"range": {"@timestamp": {"gte": "yesterday"}}}},
            400,
            "parse_exception",
            "yesterday",
        ),
    ],
)
async def test_errors_in_elasticsearch_shape(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], status: int, kind: str, reason: str
) -> None:
    response = await client.post(path, json=body)
    assert response.status_code == status
    error = response.json()
    assert error["status"] == status and error["error"]["type"] == kind
    assert error["error"]["root_cause"][0]["type"] == kind and reason in error["error"]["reason"]


async def test_total_is_capped_like_elasticsearch(client: httpx.AsyncClient, world: World) -> None:
    body = {"size": 0, "query": {"match_all": {}}}
    hits = (await client.post("/elasticsearch/_all/_search", json=body)).json()["hits"]
    assert hits["hits"] == []
    assert (hits["total"]["relation"] == "gte") == (hits["total"]["value"] >= 10_000)
