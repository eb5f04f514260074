"""Loki HTTP API (``/loki/api/v1``): query_range, query, labels, label values.

Log queries answer ``resultType: streams`` with ``[["<ns epoch string>", "<line>"], ...]`` values,
newest first unless ``direction=forward``; metric queries answer ``matrix`` (or ``vector`` on the
instant endpoint). Errors are plain text with HTTP 400, as Loki answers them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import numpy as np
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import json_response, request_params
from evals.sim.logs import MAX_ENTRIES, NANOS, LogQLError, LogQuery, MetricQuery, evaluate_metric, parse_logql
from evals.sim.promql import format_time, format_value
from evals.sim.timeutil import parse_duration, parse_rfc3339
from evals.sim.world import World


def parse_loki_time(value: str) -> int:
    """Loki's timestamp parameter: a float is seconds, an integer of up to 10 digits is seconds,
    a longer integer nanoseconds, anything else RFC3339. Returns nanoseconds."""
    if "." in value:
        try:
            return round(float(value) * NANOS)
        except ValueError:
            pass
    try:
        number = int(value)
    except ValueError:
        try:
            return int(parse_rfc3339(value).timestamp() * NANOS)
        except ValueError as exc:
            raise LogQLError(
                f"invalid timestamp {value!r}: could not parse it as nanoseconds, seconds or RFC3339"
            ) from exc
    return number * NANOS if len(value.lstrip("-")) <= 10 else number


def _stats(lines: int, seconds: float) -> dict[str, Any]:
    return {
        "summary": {
            "bytesProcessedPerSecond": 0,
            "linesProcessedPerSecond": int(lines / seconds) if seconds > 0 else lines,
            "totalBytesProcessed": 0,
            "totalLinesProcessed": lines,
            "execTime": round(seconds, 6),
            "queueTime": 0,
            "subqueries": 0,
            "totalEntriesReturned": lines,
            "splits": 0,
            "shards": 0,
        }
    }


def routes(world: World) -> list[BaseRoute]:
    def window(params: Any) -> tuple[int, int]:
        now_ns = int(world.now_ts() * NANOS)
        end = parse_loki_time(params["end"]) if params.get("end") else now_ns
        if params.get("start"):
            start = parse_loki_time(params["start"])
        else:
            since = parse_duration(params["since"]) if params.get("since") else 3600.0
            start = end - int(since * NANOS)
        if end <= start:
            raise LogQLError("end timestamp must not be before or equal to start time")
        return start, end

    def limit_of(params: Any) -> int:
        raw = params.get("limit") or "100"
        try:
            limit = int(raw)
        except ValueError as exc:
            raise LogQLError(f"invalid limit {raw!r}: it must be an integer") from exc
        if limit <= 0:
            raise LogQLError("limit must be a positive value")
        if limit > MAX_ENTRIES:
            raise LogQLError(
                f"max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {MAX_ENTRIES})"
            )
        return limit

    def streams(query: LogQuery, params: Any, start: int, end: int) -> Response:
        requested = params.get("direction") or "backward"
        if requested not in ("forward", "backward"):
            raise LogQLError(f"invalid direction {requested!r}: use forward or backward")
        direction: Literal["forward", "backward"] = "forward" if requested == "forward" else "backward"
        began = time.perf_counter()
        selected = world.logs.select(query, start, end, limit_of(params), direction)
        result = [
            {"stream": labels, "values": [[str(ts), line] for ts, line in entries]} for labels, entries in selected
        ]
        total = sum(len(entries) for _, entries in selected)
        return json_response(
            {
                "status": "success",
                "data": {
                    "resultType": "streams",
                    "result": result,
                    "stats": _stats(total, time.perf_counter() - began),
                },
            }
        )

    def metric_range(query: MetricQuery, params: Any, start: int, end: int) -> Response:
        if params.get("step"):
            try:
                step = float(params["step"])
            except ValueError:
                step = parse_duration(params["step"])
        else:
            step = max(math.floor((end - start) / NANOS / 250), 1)
        if step <= 0:
            raise LogQLError("zero or negative query resolution step widths are not accepted. Try a positive integer")
        count = int((end - start) / NANOS // step) + 1
        times = (start / NANOS + step * np.arange(count)).astype(np.float64)
        began = time.perf_counter()
        result = []
        for series in evaluate_metric(world.logs, query, times):
            points = [
                [format_time(float(t)), format_value(float(v))]
                for t, v in zip(times, series.values, strict=True)
                if v > 0
            ]
            if points:
                result.append({"metric": series.labels, "values": points})
        return json_response(
            {
                "status": "success",
                "data": {"resultType": "matrix", "result": result, "stats": _stats(0, time.perf_counter() - began)},
            }
        )

    def handler(fn: Callable[[Any], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            params = await request_params(request)
            try:
                with world.locked():
                    return fn(params)
            except (LogQLError, ValueError) as exc:
                return PlainTextResponse(str(exc), status_code=400)

        return endpoint

    def query_range(params: Any) -> Response:
        parsed = parse_logql(params.get("query", ""))
        start, end = window(params)
        if isinstance(parsed, LogQuery):
            return streams(parsed, params, start, end)
        return metric_range(parsed, params, start, end)

    def query(params: Any) -> Response:
        parsed = parse_logql(params.get("query", ""))
        if isinstance(parsed, LogQuery):
            raise LogQLError(
                "log queries are not supported as an instant query type, please change your query to a range query type"
            )
        at = parse_loki_time(params["time"]) / NANOS if params.get("time") else world.now_ts()
        result = []
        for series in evaluate_metric(world.logs, parsed, np.array([at])):
            if series.values[0] > 0:
                result.append(
                    {"metric": series.labels, "value": [format_time(at), format_value(float(series.values[0]))]}
                )
        return json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result, "stats": _stats(0, 0.0)}}
        )

    def labels(params: Any) -> Response:
        names = sorted({name for _, labels in world.logs.streams() for name in labels})
        return json_response({"status": "success", "data": names})

    async def label_values(request: Request) -> Response:
        name = request.path_params["name"]

        def values(params: Any) -> Response:
            found = sorted({labels[name] for _, labels in world.logs.streams() if name in labels})
            return json_response({"status": "success", "data": found})

        return await handler(values)(request)

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ready\n")

    both = ["GET", "POST"]
    return [
        Route("/loki/api/v1/query_range", handler(query_range), methods=both),
        Route("/loki/api/v1/query", handler(query), methods=both),
        Route("/loki/api/v1/labels", handler(labels), methods=both),
        Route("/loki/api/v1/label/{name}/values", label_values, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
    ]
