"""Elasticsearch and OpenSearch ``_search`` over HTTP: log documents in a time window.

One call, `search`, sends ``POST /<index pattern>/_search`` with a ``bool`` query: a ``range`` filter
on the time field (the window), a ``term`` filter per exact field value, and an optional Lucene
``query_string`` whose bare words search the message field. ``track_total_hits`` is on, so the total
is exact rather than capped at 10,000. The request body is echoed on the result as sent.

Auth is ``Authorization: ApiKey <base64 id:key>`` from ``token_env`` (Elasticsearch API keys) or basic
auth from ``username_env``/``password_env`` (OpenSearch, self-managed clusters). Errors are
``{"error": {"root_cause": [...], "type", "reason"}, "status"}`` and are reported with the root cause's
type and reason (``index_not_found_exception: no such index [x]``). Failed shards on a 200 answer are
reported in the summary: the hits are then incomplete.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tools.base import (
    Adapter,
    AdapterSettings,
    TimeWindow,
    ToolInputError,
    ToolResult,
    UpstreamError,
    tool_call,
)
from tools.http import auth_headers
from tools.wire import (
    UtcDatetime,
    as_dict,
    as_list,
    clip,
    decode_json,
    end_after_start,
    expect_dict,
    expect_list,
    json_field,
    malformed,
    opt_int,
    opt_str,
    rfc3339,
)

# Index names are lowercase and cannot start with -, _ or +; patterns add * and , (and cluster: for CCS).
INDEX_PATTERN = r"^[a-z0-9*][a-z0-9._*,:-]{0,254}$"
FIELD_PATTERN = r"^[A-Za-z0-9@_][A-Za-z0-9@_.-]{0,127}$"
MAX_MESSAGE_CHARS = 1000
MAX_SOURCE_VALUE_CHARS = 300

FilterValue = str | int | float | bool


class ElasticsearchSettings(AdapterSettings):
    default_index: str | None = Field(
        default=None,
        pattern=INDEX_PATTERN,
        description="Index pattern searched when a call gives none, e.g. logs-*.",
    )
    time_field: str = Field(default="@timestamp", pattern=FIELD_PATTERN, description="The documents' time field.")
    message_field: str = Field(
        default="message",
        pattern=FIELD_PATTERN,
        description="The log line field: bare words in a query search it, and it heads each hit.",
    )
    token_scheme: str = Field(
        default="ApiKey",
        description="Authorization scheme for token_env: ApiKey (Elasticsearch API key, base64 id:key) or Bearer.",
    )


class SearchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: str | None = Field(
        default=None,
        pattern=INDEX_PATTERN,
        description="Index pattern, e.g. logs-checkout-* (default: the instance's default_index).",
    )
    query: str = Field(
        default="",
        max_length=4000,
        description='Lucene query string, e.g. level:error AND "connection refused"; bare words search the '
        "message field. Empty: every document in the window.",
    )
    filters: dict[str, FilterValue] = Field(
        default_factory=dict,
        max_length=20,
        description='Exact field values every hit must have, e.g. {"service.name": "checkout", "log.level": "error"}.',
    )
    start: UtcDatetime = Field(description="Start of the window (UTC, RFC 3339), inclusive.")
    end: UtcDatetime = Field(description="End of the window (UTC, RFC 3339), inclusive; after start.")
    size: int = Field(default=50, ge=1, le=500, description="Maximum number of documents to return.")
    order: Literal["desc", "asc"] = Field(default="desc", description="desc: newest first; asc: oldest first.")
    fields: list[str] | None = Field(
        default=None,
        max_length=50,
        description="Only these source fields in each hit (default: the whole document).",
    )

    _end_after_start = field_validator("end")(end_after_start)

    @field_validator("filters")
    @classmethod
    def _filter_fields(cls, filters: dict[str, FilterValue]) -> dict[str, FilterValue]:
        bad = [name for name in filters if not re.match(FIELD_PATTERN, name)]
        if bad:
            raise ValueError(f"field names must be letters, digits, @, _, . or -: {', '.join(map(repr, bad))}")
        return filters


class ElasticsearchAdapter(Adapter):
    """Searches one Elasticsearch or OpenSearch cluster."""

    kind: ClassVar[str] = "elasticsearch"
    description: ClassVar[str] = "Elasticsearch / OpenSearch: search log documents in a time window (_search)."
    settings_model: ClassVar[type[AdapterSettings]] = ElasticsearchSettings
    settings: ElasticsearchSettings

    @classmethod
    def auth_headers(cls, settings: AdapterSettings, *, instance: str) -> tuple[dict[str, str], list[str]]:
        scheme = settings.token_scheme if isinstance(settings, ElasticsearchSettings) else "ApiKey"
        return auth_headers(settings, instance=instance, scheme=scheme)

    @tool_call(
        description="Search log documents in a time window: a Lucene query string (bare words search the message) "
        "and exact field filters; newest first, with the exact total."
    )
    async def search(self, args: SearchInput) -> ToolResult:
        index = args.index or self.settings.default_index
        if not index:
            raise ToolInputError(
                f"index: give an index pattern; instance {self.instance!r} has no default_index configured"
            )
        path = f"/{index}/_search"
        body = self._body(args)
        response = await self.http.request("POST", path, json=body, describe_error=describe_elasticsearch_error)
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        hits_obj = expect_dict(self.http, response, path, answer.get("hits"), "hits")
        items = expect_list(self.http, response, path, hits_obj.get("hits"), "hits.hits")
        try:
            hits = [self._hit(item) for item in items]
        except (KeyError, TypeError) as exc:
            raise malformed(self.http, response, path, f"a hit has an unexpected shape ({exc!r})") from None
        total, relation = _total(hits_obj.get("total"), len(hits))
        shards = as_dict(answer.get("_shards"))
        notes = _shard_notes(shards) + (
            ["the search timed out: hits are partial"] if answer.get("timed_out") is True else []
        )
        where = f"{index}{' matching ' + repr(args.query) if args.query else ''}{_filters_text(args.filters)}"
        span = f"between {rfc3339(args.start)} and {rfc3339(args.end)}"
        if hits:
            newest = hits[0]
            summary = (
                f"{total}{'+' if relation == 'gte' else ''} documents in {where} {span} (showing {len(hits)}, "
                f"{'newest' if args.order == 'desc' else 'oldest'} first); first: [{newest['timestamp']}] "
                f"{clip(newest['message'] or json.dumps(newest['source'], default=str), 160)!r}"
            )
        else:
            summary = f"no documents in {where} {span}"
        if notes:
            summary += "; " + "; ".join(notes)
        return ToolResult(
            tool=self.tool_id("search"),
            status="ok" if hits else "no_data",
            query=f"POST {path}",
            params=body,
            window=TimeWindow(start=args.start, end=args.end),
            data={"total": total, "total_relation": relation, "returned": len(hits), "hits": hits, "notes": notes},
            summary=summary,
        )

    async def check(self) -> str:
        """``GET /`` (name and version), then, with a default_index, a ``size: 0`` search to prove read access."""
        version = ""
        try:
            response = await self.http.request("GET", "/", describe_error=describe_elasticsearch_error)
            root = expect_dict(self.http, response, "/", decode_json(self.http, response, "/"), "the body")
            info = as_dict(root.get("version"))
            number = opt_str(info.get("number"))
            if number is None:
                raise malformed(self.http, response, "/", "the body has no version.number")
            product = "OpenSearch" if info.get("distribution") == "opensearch" else "Elasticsearch"
            version = f"{product} {number} (cluster {opt_str(root.get('cluster_name')) or 'unnamed'})"
        except UpstreamError as exc:
            # A key that may search but not read cluster info (no `monitor` privilege) is still usable.
            if exc.status_code != 403 or not self.settings.default_index:
                raise
        index = self.settings.default_index
        if not index:
            return version
        path = f"/{index}/_search"
        response = await self.http.request("POST", path, json={"size": 0}, describe_error=describe_elasticsearch_error)
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        total, relation = _total(as_dict(answer.get("hits")).get("total"), 0)
        readable = f"{index} readable ({total}{'+' if relation == 'gte' else ''} documents)"
        return f"{version}; {readable}" if version else readable

    def _body(self, args: SearchInput) -> dict[str, Any]:
        time_field = self.settings.time_field
        filters: list[dict[str, Any]] = [
            {
                "range": {
                    time_field: {
                        "gte": rfc3339(args.start),
                        "lte": rfc3339(args.end),
                        "format": "strict_date_optional_time",
                    }
                }
            }
        ]
        filters += [{"term": {name: value}} for name, value in args.filters.items()]
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if args.query.strip():
            query["bool"]["must"] = [
                {"query_string": {"query": args.query, "default_field": self.settings.message_field}}
            ]
        body: dict[str, Any] = {
            "size": args.size,
            "sort": [{time_field: {"order": args.order}}],
            "track_total_hits": True,
            "timeout": f"{max(1, int(self.settings.timeout_seconds))}s",
            "query": query,
        }
        if args.fields is not None:
            body["_source"] = sorted({*args.fields, time_field, self.settings.message_field})
        return body

    def _hit(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise TypeError(f"expected an object, got {type(item).__name__}")
        source = item["_source"] if "_source" in item else {}
        if not isinstance(source, dict):
            raise TypeError("_source is not an object")
        timestamp = _dotted(source, self.settings.time_field)
        message = _dotted(source, self.settings.message_field)
        return {
            "index": opt_str(item.get("_index")),
            "id": opt_str(item.get("_id")),
            "timestamp": timestamp if isinstance(timestamp, str | int | float) else None,
            "message": clip(message, MAX_MESSAGE_CHARS) if isinstance(message, str) else None,
            # The message is already above; the rest of the document carries the context (service, pod, trace id).
            "source": _clipped({k: v for k, v in source.items() if k != self.settings.message_field}),
        }


def describe_elasticsearch_error(response: httpx.Response) -> str | None:
    """``Elasticsearch index_not_found_exception: no such index [x]``, from the root cause when there is one."""
    error = json_field(response, "error")
    if isinstance(error, str):
        return f"Elasticsearch: {error}"
    if not isinstance(error, dict):
        return None
    causes = [c for c in as_list(error.get("root_cause")) if isinstance(c, dict)]
    cause = causes[0] if causes else error
    kind, reason = opt_str(cause.get("type")), opt_str(cause.get("reason"))
    if reason is None:
        return None
    return f"Elasticsearch {kind or 'error'}: {reason}"


def _total(value: Any, fallback: int) -> tuple[int, str]:
    """``hits.total``: ``{"value", "relation"}`` (7.x and later, OpenSearch) or a plain number (6.x)."""
    if isinstance(value, dict):
        number = opt_int(value.get("value"))
        return (fallback if number is None else number), (opt_str(value.get("relation")) or "eq")
    number = opt_int(value)
    return (fallback if number is None else number), "eq"


def _shard_notes(shards: dict[str, Any]) -> list[str]:
    failed, total = opt_int(shards.get("failed")) or 0, opt_int(shards.get("total"))
    if not failed:
        return []
    reasons = {
        opt_str(as_dict(as_dict(f).get("reason")).get("reason")) or "unknown reason"
        for f in as_list(shards.get("failures"))
    }
    return [
        f"{failed} of {total} shards failed ({'; '.join(sorted(reasons)) or 'no reason given'}): hits are incomplete"
    ]


def _filters_text(filters: dict[str, FilterValue]) -> str:
    return "".join(f" with {name}={value!r}" for name, value in filters.items())


def _dotted(source: dict[str, Any], field: str) -> Any:
    """A field by dotted name, whether the document nests it (``service: {name}``) or not (``service.name``)."""
    if field in source:
        return source[field]
    value: Any = source
    for part in field.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _clipped(value: Any) -> Any:
    """The document with every long string clipped, so one stack trace cannot eat the output budget."""
    if isinstance(value, str):
        return clip(value, MAX_SOURCE_VALUE_CHARS)
    if isinstance(value, dict):
        return {k: _clipped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clipped(v) for v in value]
    return value
