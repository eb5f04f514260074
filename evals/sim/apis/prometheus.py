"""Prometheus HTTP API (``/api/v1``): query, query_range, series, labels, label values.

Envelope ``{"status": "success", "data": ...}``; errors ``{"status": "error", "errorType":
"bad_data", "error": "..."}`` with HTTP 400 (422 for ``execution``). Sample values are strings,
timestamps unix seconds. GET and POST (form) are both accepted, as Prometheus does.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import json_response, parse_unix_or_rfc3339, request_params
from evals.sim.promql import PromQLError, parse_selector
from evals.sim.timeutil import parse_duration
from evals.sim.world import World

BUILD_INFO = {
    "version": "3.5.0",
    "revision": "simulated",
    "branch": "HEAD",
    "buildUser": "firstline-sim",
    "buildDate": "20261101-00:00:00",
    "goVersion": "go1.24.5",
}


class BadParameter(ValueError):
    pass


def _error(message: str, status: int = 400, error_type: str = "bad_data") -> Response:
    return json_response({"status": "error", "errorType": error_type, "error": message}, status)


def _time(params: Any, name: str, default: float | None = None) -> float:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is not None:
            return default
        raise BadParameter(f'invalid parameter "{name}": cannot parse "" to a valid timestamp')
    try:
        return parse_unix_or_rfc3339(raw)
    except ValueError as exc:
        raise BadParameter(f'invalid parameter "{name}": cannot parse "{raw}" to a valid timestamp') from exc


def _step(params: Any) -> float:
    raw = params.get("step")
    if raw is None or raw == "":
        raise BadParameter('invalid parameter "step": cannot parse "" to a valid duration')
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise BadParameter(f'invalid parameter "step": cannot parse "{raw}" to a valid duration') from exc


def _limit(params: Any) -> int:
    raw = params.get("limit")
    if raw in (None, ""):
        return 0
    if not re.fullmatch(r"\d+", raw):
        raise BadParameter(f'invalid parameter "limit": cannot parse "{raw}" to a valid limit')
    return int(raw)


def _success(data: Any, limit: int = 0) -> Response:
    body: dict[str, Any] = {"status": "success", "data": data}
    if limit and isinstance(data, dict) and isinstance(data.get("result"), list) and len(data["result"]) > limit:
        data["result"] = data["result"][:limit]
        body["warnings"] = ["results truncated due to limit"]
    return json_response(body)


def routes(world: World) -> list[BaseRoute]:
    def handler(fn: Callable[[Any], Response]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            params = await request_params(request)
            try:
                with world.locked():
                    return fn(params)
            except BadParameter as exc:
                return _error(str(exc))
            except PromQLError as exc:
                message = str(exc)
                if exc.error_type == "bad_data" and re.match(r"^\d+:\d+: parse error", message):
                    message = f'invalid parameter "query": {message}'
                return _error(message, exc.http_status, exc.error_type)

        return endpoint

    def query(params: Any) -> Response:
        at = _time(params, "time", world.now_ts())
        return _success(world.promql.instant(params.get("query", ""), at), _limit(params))

    def query_range(params: Any) -> Response:
        start, end, step = _time(params, "start"), _time(params, "end"), _step(params)
        return _success(world.promql.range(params.get("query", ""), start, end, step), _limit(params))

    def matching_label_sets(params: Any) -> list[dict[str, str]]:
        selectors = params.getlist("match[]")
        for text in selectors:
            try:
                parse_selector(text)
            except PromQLError as exc:
                raise BadParameter(f'invalid parameter "match[]": {exc}') from exc
        if not selectors:
            return [dict(labels) for labels in world.telemetry.label_sets()]
        return world.promql.series(selectors)

    def series(params: Any) -> Response:
        if not params.getlist("match[]"):
            raise BadParameter("no match[] parameter provided")
        return _success(matching_label_sets(params)[: _limit(params) or None])

    def labels(params: Any) -> Response:
        names = sorted({name for labels in matching_label_sets(params) for name in labels})
        return _success(names[: _limit(params) or None])

    def label_values_for(name: str) -> Callable[[Any], Response]:
        def label_values(params: Any) -> Response:
            values = sorted({labels[name] for labels in matching_label_sets(params) if name in labels})
            return _success(values[: _limit(params) or None])

        return label_values

    async def label_values_endpoint(request: Request) -> Response:
        return await handler(label_values_for(request.path_params["name"]))(request)

    async def buildinfo(request: Request) -> Response:
        return _success(BUILD_INFO)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("Prometheus Server is Healthy.\n")

    async def ready(request: Request) -> Response:
        return PlainTextResponse("Prometheus Server is Ready.\n")

    both = ["GET", "POST"]
    return [
        Route("/api/v1/query", handler(query), methods=both),
        Route("/api/v1/query_range", handler(query_range), methods=both),
        Route("/api/v1/series", handler(series), methods=both),
        Route("/api/v1/labels", handler(labels), methods=both),
        Route("/api/v1/label/{name}/values", label_values_endpoint, methods=["GET"]),
        Route("/api/v1/status/buildinfo", buildinfo, methods=["GET"]),
        Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
        Route("/-/ready", ready, methods=["GET", "HEAD"]),
    ]
