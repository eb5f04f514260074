"""Loki HTTP API: LogQL range queries over logs (``/loki/api/v1/query_range``).

Wire format (grafana/loki ``docs/sources/reference/loki-http-api.md``): ``start`` and ``end`` are
nanosecond epochs (``end`` exclusive); a log query answers ``resultType: "streams"`` with
``{"stream": {labels}, "values": [["<ns epoch string>", "<line>"], ...]}``, a metric query answers
``"matrix"`` like Prometheus. ``result`` is ``null`` (or empty) when nothing matched. Errors are plain
text, not JSON. Multi-tenant deployments need the ``X-Scope-OrgID`` header (setting ``org_id``).

``query_range`` returns a `LogQueryResult` payload: `LogLines` (entries with aware UTC times) for a
log query, `LogSeries` (Prometheus `Series`) for a metric query; ``resultType`` says which.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from tools.base import Adapter, AdapterSettings, TimeWindow, ToolResult, tool_call
from tools.prometheus import Series, format_value
from tools.wire import (
    UtcDatetime,
    as_list,
    clip,
    decode_json,
    end_after_start,
    expect_dict,
    expect_list,
    format_number,
    from_unix_nanos,
    from_unix_seconds,
    malformed,
    plain_text,
    rfc3339,
    unix_nanos,
)

MAX_LINE_CHARS = 2000  # one pathological line (a stack dump, a blob) must not eat the output budget

QUERY_RANGE_PATH = "/loki/api/v1/query_range"
LABELS_PATH = "/loki/api/v1/labels"


class LokiSettings(AdapterSettings):
    org_id: str | None = Field(
        default=None, description="Tenant sent as X-Scope-OrgID on every request (multi-tenant Loki)."
    )


class LogRangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1,
        description='LogQL, e.g. {namespace="shop", app="checkout"} |= "error", or a metric query '
        'such as sum by (level) (count_over_time({app="checkout"}[1m])).',
    )
    start: UtcDatetime = Field(description="Start of the window (UTC, RFC 3339), inclusive.")
    end: UtcDatetime = Field(description="End of the window (UTC, RFC 3339), exclusive; after start.")
    limit: int = Field(default=100, ge=1, le=5000, description="Maximum number of log lines to return.")
    direction: Literal["backward", "forward"] = Field(
        default="backward",
        description="backward returns the newest lines of the window (newest first); "
        "forward returns the oldest lines (oldest first).",
    )
    step: float | None = Field(
        default=None, gt=0, description="Step in seconds, for metric queries only (default chosen by Loki)."
    )

    _end_after_start = field_validator("end")(end_after_start)


class LogEntry(BaseModel):
    labels: dict[str, str] = Field(description="The stream's labels.")
    ts: datetime
    line: str = Field(description="The log line, clipped to 2000 characters.")


class LogLines(BaseModel):
    """A log query's lines, merged across streams in the requested direction."""

    resultType: Literal["streams"] = "streams"
    entries: list[LogEntry]
    returned: int
    streams: int
    limit: int
    limit_reached: bool = Field(description="As many lines as the limit: the window may hold more.")


class LogSeries(BaseModel):
    """A metric query's series (``count_over_time`` and friends)."""

    resultType: Literal["matrix"] = "matrix"
    series: list[Series]
    series_count: int


class LogQueryResult(RootModel[Annotated[LogLines | LogSeries, Field(discriminator="resultType")]]):
    """The payload of ``query_range``: read it with ``result.payload(LogLines)`` (or `LogSeries`)."""


class LokiAdapter(Adapter):
    """Reads logs from Loki (or any server speaking its query API, e.g. Grafana Cloud Logs)."""

    kind: ClassVar[str] = "loki"
    description: ClassVar[str] = "Loki logs: LogQL queries over a time window."
    settings_model: ClassVar[type[AdapterSettings]] = LokiSettings
    settings: LokiSettings

    @tool_call(
        description="Run a LogQL query over a time window. Log queries return lines with their stream labels; "
        "metric queries return series like Prometheus.",
        result=LogQueryResult,
    )
    async def query_range(self, args: LogRangeQuery) -> ToolResult:
        params: dict[str, Any] = {
            "query": args.query,
            "start": str(unix_nanos(args.start)),
            "end": str(unix_nanos(args.end)),
            "limit": args.limit,
            "direction": args.direction,
        }
        if args.step is not None:
            params["step"] = format_number(args.step)
        headers = {"X-Scope-OrgID": self.settings.org_id} if self.settings.org_id else None
        response = await self.http.request(
            "GET", QUERY_RANGE_PATH, params=params, headers=headers, describe_error=describe_loki_error
        )
        body = expect_dict(
            self.http,
            response,
            QUERY_RANGE_PATH,
            decode_json(self.http, response, QUERY_RANGE_PATH),
            "the body",
        )
        if body.get("status") != "success":
            raise malformed(self.http, response, QUERY_RANGE_PATH, 'the envelope has no "status": "success"')
        data = expect_dict(self.http, response, QUERY_RANGE_PATH, body.get("data"), "data")
        window = TimeWindow(start=args.start, end=args.end)
        span = f"{rfc3339(args.start)} to {rfc3339(args.end)}"
        result_type = data.get("resultType")
        raw_result = data.get("result") or []  # null when nothing matched (grafana/grafana#40246)
        payload: LogLines | LogSeries
        try:
            if result_type == "streams":
                payload, summary = _streams(
                    expect_list(self.http, response, QUERY_RANGE_PATH, raw_result, "data.result"), args, span
                )
            elif result_type == "matrix":
                payload, summary = _matrix(
                    expect_list(self.http, response, QUERY_RANGE_PATH, raw_result, "data.result"), span
                )
            else:
                raise malformed(
                    self.http,
                    response,
                    QUERY_RANGE_PATH,
                    f"data.resultType {result_type!r} is not streams or matrix",
                )
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise malformed(
                self.http,
                response,
                QUERY_RANGE_PATH,
                f"a {result_type} result has an unexpected shape ({exc})",
            ) from None
        found = payload.returned if isinstance(payload, LogLines) else payload.series_count
        return ToolResult.with_payload(
            LogQueryResult(payload),
            tool=self.tool_id("query_range"),
            status="ok" if found else "no_data",
            query=args.query,
            params=params,
            window=window,
            summary=summary,
        )

    async def check(self) -> str:
        """The label names (one small GET, with the tenant header): proves reachability, auth and tenant."""
        headers = {"X-Scope-OrgID": self.settings.org_id} if self.settings.org_id else None
        response = await self.http.request("GET", LABELS_PATH, headers=headers, describe_error=describe_loki_error)
        body = expect_dict(self.http, response, LABELS_PATH, decode_json(self.http, response, LABELS_PATH), "the body")
        if body.get("status") != "success":
            raise malformed(self.http, response, LABELS_PATH, 'the envelope has no "status": "success"')
        tenant = f" for tenant {self.settings.org_id}" if self.settings.org_id else ""
        return f"Loki answers{tenant}: {len(as_list(body.get('data')))} label names"


def describe_loki_error(response: httpx.Response) -> str | None:
    """Loki answers errors in plain text (``parse error at line 1, col 1: ...``)."""
    text = plain_text(response)
    return f"Loki: {text}" if text else None


def _streams(result: list[Any], args: LogRangeQuery, span: str) -> tuple[LogLines, str]:
    entries: list[tuple[int, LogEntry]] = []
    for stream in result:
        labels = stream["stream"]
        if not isinstance(labels, dict):
            raise TypeError("stream labels are not an object")
        for ns, line in stream["values"]:
            entries.append(
                (int(ns), LogEntry(labels=labels, ts=from_unix_nanos(ns), line=clip(str(line), MAX_LINE_CHARS)))
            )
    # Streams come one after another; merge them into one timeline in the requested direction.
    entries.sort(key=lambda item: item[0], reverse=args.direction == "backward")
    lines = [entry for _, entry in entries]
    limit_reached = len(lines) >= args.limit
    payload = LogLines(
        entries=lines, returned=len(lines), streams=len(result), limit=args.limit, limit_reached=limit_reached
    )
    if not lines:
        return payload, f"no log lines matched from {span}"
    newest = max(entries, key=lambda item: item[0])[1]
    oldest = min(entries, key=lambda item: item[0])[1]
    more = (
        f"; limit of {args.limit} reached, so older lines may be missing"
        if limit_reached and args.direction == "backward"
        else f"; limit of {args.limit} reached, so newer lines may be missing"
        if limit_reached
        else ""
    )
    summary = (
        f"{len(lines)} log lines from {len(result)} streams between {rfc3339(oldest.ts)} and {rfc3339(newest.ts)}"
        f"{more}; newest: {clip(newest.line, 160)}"
    )
    return payload, summary


def _matrix(result: list[Any], span: str) -> tuple[LogSeries, str]:
    series: list[Series] = []
    for item in result:
        metric = item["metric"]
        if not isinstance(metric, dict):
            raise TypeError("metric is not an object")
        series.append(
            Series(metric=metric, values=[(from_unix_seconds(float(ts)), float(v)) for ts, v in item["values"]])
        )
    payload = LogSeries(series=series, series_count=len(series))
    if not series:
        return payload, f"no series from {span}"

    def latest(entry: Series) -> float:
        value = entry.values[-1][1] if entry.values else math.nan
        return value if isinstance(value, float) else math.nan

    top = max(series, key=lambda e: latest(e) if not math.isnan(latest(e)) else -math.inf)
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(top.metric.items()))
    return (
        payload,
        f"matrix: {len(series)} series from {span}; highest latest: {{{labels}}} = {format_value(latest(top))}",
    )
