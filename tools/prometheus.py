"""Prometheus HTTP API (``/api/v1``): instant and range queries, series and label values.

Wire format (prometheus ``docs/querying/api.md``): every answer is an envelope
``{"status": "success"|"error", "data": ..., "errorType", "error", "warnings"}``; errors come with
HTTP 400 (bad parameters), 422 (the expression cannot be executed) or 503 (timeout, abort).
Sample values are strings and may be ``"NaN"``, ``"+Inf"`` or ``"-Inf"``; they are returned here as
floats. Timestamps are sent as unix seconds. ``query`` and ``query_range`` return a `QueryResult`
payload: each `Series` with its samples as (aware UTC datetime, float) pairs, unix seconds in ``data``.

Queries longer than `POST_THRESHOLD_CHARS` once URL-encoded go as a form POST, which Prometheus
accepts on the same endpoints, so a long PromQL expression never hits a URL length limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tools.base import Adapter, AdapterSettings, TimeWindow, ToolResult, UpstreamError, tool_call
from tools.http import HttpCaller
from tools.wire import (
    UnixTime,
    UtcDatetime,
    as_dict,
    as_list,
    decode_json,
    end_after_start,
    expect_dict,
    expect_list,
    format_number,
    from_unix_seconds,
    is_empty,
    is_none,
    json_field,
    malformed,
    opt_str,
    rfc3339,
    unix_seconds,
)

POST_THRESHOLD_CHARS = 2000
BUILDINFO_PATH = "/api/v1/status/buildinfo"
MAX_POINTS_PER_SERIES = 11_000  # Prometheus refuses query_range beyond this resolution
SUMMARY_SERIES = 3

ResultType = Literal["vector", "matrix", "scalar", "string"]


class HistogramSummary(BaseModel):
    """A native histogram sample reduced to what a reader uses (the buckets are large and rarely read)."""

    count: float
    sum: float


class Series(BaseModel):
    """One series: its labels and samples. ``values`` holds floats (``NaN``/``Inf`` included), or the
    text of a ``string`` result; a native-histogram series has ``histograms`` instead."""

    metric: dict[str, str]
    values: list[tuple[UnixTime, float | str]] | None = Field(default=None, exclude_if=is_none)
    histograms: list[tuple[UnixTime, HistogramSummary]] | None = Field(default=None, exclude_if=is_none)

    def points(self) -> list[tuple[datetime, float]]:
        """The numeric samples in time order, without NaN steps (a ratio over no traffic is no data)."""
        return [(at, value) for at, value in self.values or [] if isinstance(value, float) and not math.isnan(value)]


class QueryResult(BaseModel):
    """The payload of ``query`` and ``query_range``; a scalar or string answer is one label-less series."""

    # camelCase as Prometheus names it, so data keeps the wire's key.
    resultType: ResultType
    series: list[Series]
    warnings: list[str] = Field(default_factory=list, exclude_if=is_empty)
    infos: list[str] = Field(default_factory=list, exclude_if=is_empty)

    def first_points(self) -> list[tuple[datetime, float]]:
        """`Series.points` of the first series (a single-series SLI query has only that one)."""
        return self.series[0].points() if self.series else []


class InstantQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        min_length=1,
        description='PromQL expression, e.g. sum by (code) (rate(http_requests_total{service="api"}[5m]))',
    )
    time: UtcDatetime | None = Field(
        default=None,
        description="Evaluation time (UTC, RFC 3339). Defaults to now; the time used is echoed in the result.",
    )


class RangeQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, description="PromQL expression evaluated at every step.")
    start: UtcDatetime = Field(description="Start of the range (UTC, RFC 3339), inclusive.")
    end: UtcDatetime = Field(description="End of the range (UTC, RFC 3339), inclusive; after start.")
    step: float = Field(
        default=60.0,
        gt=0,
        description="Resolution step in seconds (e.g. 60). At most 11000 points per series.",
    )

    _end_after_start = field_validator("end")(end_after_start)

    @field_validator("step")
    @classmethod
    def _bounded_resolution(cls, step: float, info: ValidationInfo) -> float:
        start, end = info.data.get("start"), info.data.get("end")
        if start is not None and end is not None:
            points = (end - start).total_seconds() / step + 1
            if points > MAX_POINTS_PER_SERIES:
                minimum = math.ceil((end - start).total_seconds() / (MAX_POINTS_PER_SERIES - 1))
                raise ValueError(
                    f"{format_number(step)}s over this range gives {int(points)} points per series; "
                    f"Prometheus allows {MAX_POINTS_PER_SERIES}: use a step of at least {minimum} seconds"
                )
        return step


class SeriesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    match: list[str] = Field(
        min_length=1,
        description='Series selectors, sent as match[], e.g. ["up{job=\\"api\\"}", "http_requests_total"].',
    )
    start: UtcDatetime = Field(description="Start of the range to search (UTC, RFC 3339).")
    end: UtcDatetime = Field(description="End of the range to search (UTC, RFC 3339); after start.")

    _end_after_start = field_validator("end")(end_after_start)


class LabelValuesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label: str = Field(
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="Label name, e.g. service, or __name__ for metric names.",
    )
    match: list[str] = Field(
        default_factory=list,
        description="Optional series selectors (match[]) restricting which series' values are listed.",
    )
    start: UtcDatetime | None = Field(default=None, description="Optional start of the range (UTC).")
    end: UtcDatetime | None = Field(default=None, description="Optional end of the range (UTC).")


class PrometheusAdapter(Adapter):
    """Reads metrics from a Prometheus-compatible API (Prometheus, Thanos, Mimir, VictoriaMetrics)."""

    kind: ClassVar[str] = "prometheus"
    description: ClassVar[str] = "Prometheus metrics: PromQL instant and range queries, series, label values."
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(
        description="Evaluate a PromQL expression at one instant (default now). Returns each series' value.",
        result=QueryResult,
    )
    async def query(self, args: InstantQuery) -> ToolResult:
        at = args.time or self.clock()
        params = {"query": args.query, "time": unix_seconds(at)}
        answer = await self._api("/api/v1/query", list(params.items()))
        result_type, series = _parse_query_data(self.http, answer)
        payload, warnings = _payload(result_type, series, answer.body)
        summary = (
            f"{_summarize_series(result_type, series)} at {rfc3339(at)}{warnings}"
            if series
            else f"no series matched at {rfc3339(at)}{warnings}"
        )
        return ToolResult.with_payload(
            payload,
            tool=self.tool_id("query"),
            status="ok" if series else "no_data",
            query=args.query,
            params=params,
            summary=summary,
        )

    @tool_call(
        description="Evaluate a PromQL expression over a time range at a fixed step (a matrix of samples).",
        result=QueryResult,
    )
    async def query_range(self, args: RangeQuery) -> ToolResult:
        params = {
            "query": args.query,
            "start": unix_seconds(args.start),
            "end": unix_seconds(args.end),
            "step": format_number(args.step),
        }
        answer = await self._api("/api/v1/query_range", list(params.items()))
        result_type, series = _parse_query_data(self.http, answer)
        payload, warnings = _payload(result_type, series, answer.body)
        span = f"{rfc3339(args.start)} to {rfc3339(args.end)} at {format_number(args.step)}s"
        summary = (
            f"{_summarize_series(result_type, series)} from {span}{warnings}"
            if series
            else f"no series matched from {span}{warnings}"
        )
        return ToolResult.with_payload(
            payload,
            tool=self.tool_id("query_range"),
            status="ok" if series else "no_data",
            query=args.query,
            params=params,
            window=TimeWindow(start=args.start, end=args.end),
            summary=summary,
        )

    @tool_call(description="List the label sets of the series matching selectors in a time range.")
    async def series(self, args: SeriesQuery) -> ToolResult:
        params: list[tuple[str, str]] = [("match[]", m) for m in args.match]
        params += [("start", unix_seconds(args.start)), ("end", unix_seconds(args.end))]
        answer = await self._api("/api/v1/series", params)
        found = expect_list(self.http, answer.response, answer.path, answer.body.get("data"), "data")
        if not all(isinstance(labels, dict) for labels in found):
            raise malformed(self.http, answer.response, answer.path, "data is not a list of label sets")
        shown = _shown_params(params)
        selectors = ", ".join(args.match)
        return ToolResult(
            tool=self.tool_id("series"),
            status="ok" if found else "no_data",
            query=selectors,
            params=shown,
            window=TimeWindow(start=args.start, end=args.end),
            data={"series": found, "count": len(found)},
            summary=(
                f"{len(found)} series match {selectors}" + (f", e.g. {_labels_text(found[0])}" if found else "")
                if found
                else f"no series match {selectors}"
            ),
        )

    @tool_call(description="List the values a label takes (e.g. every service or job), optionally for selectors.")
    async def label_values(self, args: LabelValuesQuery) -> ToolResult:
        params: list[tuple[str, str]] = [("match[]", m) for m in args.match]
        if args.start is not None:
            params.append(("start", unix_seconds(args.start)))
        if args.end is not None:
            params.append(("end", unix_seconds(args.end)))
        path = f"/api/v1/label/{args.label}/values"
        # Label values is GET-only in the Prometheus API; selectors are short in practice.
        response = await self.http.request("GET", path, params=params, describe_error=describe_prometheus_error)
        body = _envelope(self.http, response, path)
        values = expect_list(self.http, response, path, body.get("data"), "data")
        if not all(isinstance(v, str) for v in values):
            raise malformed(self.http, response, path, "data is not a list of strings")
        window = TimeWindow(start=args.start, end=args.end) if args.start is not None and args.end is not None else None
        preview = ", ".join(values[:10]) + (", ..." if len(values) > 10 else "")
        return ToolResult(
            tool=self.tool_id("label_values"),
            status="ok" if values else "no_data",
            query=f"GET {path}",
            params=_shown_params(params),
            window=window,
            data={"label": args.label, "values": values, "count": len(values)},
            summary=f"{len(values)} values of {args.label}: {preview}" if values else f"no values of {args.label}",
        )

    async def check(self) -> str:
        """Build info (one small GET); servers without it (some Prometheus-compatible stores) get ``vector(1)``."""
        try:
            answer = await self._api(BUILDINFO_PATH, [])
        except UpstreamError as exc:
            if exc.status_code != 404:
                raise
            await self._api("/api/v1/query", [("query", "vector(1)")])
            return "answers PromQL (no build info endpoint)"
        version = opt_str(as_dict(answer.body.get("data")).get("version"))
        return f"Prometheus {version or '(version not reported)'}"

    # -- wire helpers -------------------------------------------------------------------------------

    async def _api(self, path: str, params: list[tuple[str, str]]) -> _Answer:
        """GET (or form POST when long) one endpoint and return its checked success envelope."""
        if len(urlencode(params)) > POST_THRESHOLD_CHARS:
            form: dict[str, Any] = {}
            for key, value in params:
                form.setdefault(key, []).append(value)
            response = await self.http.request(
                "POST",
                path,
                data={k: v[0] if len(v) == 1 else v for k, v in form.items()},
                describe_error=describe_prometheus_error,
            )
        else:
            response = await self.http.request("GET", path, params=params, describe_error=describe_prometheus_error)
        return _Answer(response, path, _envelope(self.http, response, path))


@dataclass(frozen=True)
class _Answer:
    response: httpx.Response
    path: str
    body: dict[str, Any]


def describe_prometheus_error(response: httpx.Response) -> str | None:
    """``Prometheus bad_data: parse error...`` from the error envelope, or None for other bodies."""
    error = json_field(response, "error")
    if not isinstance(error, str):
        return None
    error_type = json_field(response, "errorType")
    return f"Prometheus {error_type or 'error'}: {error}"


def _envelope(http: HttpCaller, response: httpx.Response, path: str) -> dict[str, Any]:
    body = expect_dict(http, response, path, decode_json(http, response, path), "the body")
    if body.get("status") != "success":
        if body.get("status") == "error":
            raise malformed(
                http, response, path, f"Prometheus reported an error: {describe_prometheus_error(response)}"
            )
        raise malformed(http, response, path, 'the envelope has no "status": "success"')
    return body


def _parse_query_data(http: HttpCaller, answer: _Answer) -> tuple[ResultType, list[Series]]:
    response, path = answer.response, answer.path
    data = expect_dict(http, response, path, answer.body.get("data"), "data")
    result_type = data.get("resultType")
    result: Any = data.get("result")
    try:
        if result_type in ("vector", "matrix"):
            items = expect_list(http, response, path, result, "data.result")
            return result_type, [_series(item, result_type) for item in items]
        if result_type == "scalar":
            return "scalar", [Series(metric={}, values=[_sample(result)])]
        if result_type == "string":
            return "string", [Series(metric={}, values=[(from_unix_seconds(float(result[0])), str(result[1]))])]
    except (KeyError, IndexError, TypeError, ValueError) as exc:  # ValueError includes pydantic's ValidationError
        raise malformed(http, response, path, f"a {result_type} result has an unexpected shape ({exc})") from None
    raise malformed(http, response, path, f"data.resultType {result_type!r} is not vector, matrix, scalar or string")


def _series(item: dict[str, Any], result_type: str) -> Series:
    metric = item["metric"]
    if not isinstance(metric, dict):
        raise TypeError("metric is not an object")
    values: list[Any] | None = None
    histograms: list[Any] | None = None
    if result_type == "vector":
        if "value" in item:
            values = [_sample(item["value"])]
        if "histogram" in item:
            histograms = [_histogram_sample(item["histogram"])]
    else:
        if "values" in item:
            values = [_sample(pair) for pair in item["values"]]
        if "histograms" in item:
            histograms = [_histogram_sample(pair) for pair in item["histograms"]]
    if values is None and histograms is None:
        raise KeyError("value" if result_type == "vector" else "values")
    return Series(metric=metric, values=values, histograms=histograms)


def _sample(pair: Any) -> tuple[datetime, float]:
    # float() reads Prometheus' "NaN", "+Inf" and "-Inf" directly.
    return from_unix_seconds(float(pair[0])), float(pair[1])


def _histogram_sample(pair: Any) -> tuple[datetime, HistogramSummary]:
    # Native histograms: keep count and sum (the buckets are rarely useful to a reader and are large).
    histogram = pair[1]
    return from_unix_seconds(float(pair[0])), HistogramSummary(
        count=float(histogram["count"]), sum=float(histogram["sum"])
    )


def _payload(result_type: ResultType, series: list[Series], body: dict[str, Any]) -> tuple[QueryResult, str]:
    notes = {key: [str(item) for item in as_list(body.get(key))] for key in ("warnings", "infos")}
    payload = QueryResult(resultType=result_type, series=series, **notes)
    return payload, f" (Prometheus warnings: {'; '.join(payload.warnings)})" if payload.warnings else ""


def _shown_params(params: list[tuple[str, str]]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in params:
        if key == "match[]":
            shown.setdefault(key, []).append(value)
        else:
            shown[key] = value
    return shown


def _labels_text(metric: dict[str, Any], limit: int = 120) -> str:
    name = metric.get("__name__", "")
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(metric.items()) if k != "__name__")
    text = f"{name}{{{labels}}}" if labels or not name else name
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_value(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return f"{value:.4g}"
    return str(value)


def _latest(entry: Series) -> Any:
    return entry.values[-1][1] if entry.values else None


def _sort_key(value: Any) -> float:
    # Highest first, NaN last: an investigator wants the worst series on top.
    if isinstance(value, float) and not math.isnan(value):
        return -value
    return math.inf


def _summarize_series(result_type: str, series: list[Series]) -> str:
    ranked = sorted(series, key=lambda e: _sort_key(_latest(e)))
    shown = "; ".join(f"{_labels_text(e.metric)} = {format_value(_latest(e))}" for e in ranked[:SUMMARY_SERIES])
    samples = sum(len(e.values or []) for e in series)
    count = f"{len(series)} series" + (f", {samples} samples" if result_type == "matrix" else "")
    lead = "highest latest" if len(series) > 1 else "latest"
    return f"{result_type}: {count}; {lead}: {shown}"
