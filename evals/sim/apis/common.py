"""Helpers shared by the simulated APIs: parameters, idempotency keys, pagination, mount URLs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.datastructures import ImmutableMultiDict, MultiDict
from starlette.requests import Request
from starlette.responses import Response

from evals.sim.timeutil import parse_rfc3339

FORM_TYPE = "application/x-www-form-urlencoded"


async def request_params(request: Request) -> MultiDict:
    """Query parameters, plus the url-encoded form body of a POST (Prometheus, Loki, Slack accept both).

    Parsed with the standard library: Starlette's ``request.form()`` needs python-multipart, which
    the project does not depend on.
    """
    items = list(request.query_params.multi_items())
    if request.method == "POST" and request.headers.get("content-type", "").startswith(FORM_TYPE):
        body = (await request.body()).decode("utf-8", errors="replace")
        items.extend(parse_qsl(body, keep_blank_values=True))
    return MultiDict(items)


async def json_body(request: Request) -> Any:
    """The JSON body, or None when it is empty or not JSON (callers answer with their API's error)."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def request_id(request: Request) -> str | None:
    """The client's idempotency key, if it sent one: a retried request must not act twice."""
    return request.headers.get("idempotency-key") or request.headers.get("x-request-id")


def mount_url(request: Request) -> str:
    """The URL of the API's mount point, e.g. ``http://127.0.0.1:8123/github``."""
    return str(request.url.replace(path=request.scope.get("root_path", ""), query="")).rstrip("/")


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":"), allow_nan=False),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def parse_unix_or_rfc3339(value: str) -> float:
    """Seconds since the epoch from a float or an RFC3339 timestamp; raises ValueError."""
    try:
        return float(value)
    except ValueError:
        return parse_rfc3339(value).timestamp()


def int_param(params: ImmutableMultiDict[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    return max(low, min(high, value))


Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Exception)


def answering(error: type[E], render: Callable[[E], Response]) -> Callable[[Endpoint], Endpoint]:
    """Wrap endpoints so that ``error`` becomes the API's own error response instead of a 500."""

    def wrap(fn: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            try:
                return await fn(request)
            except error as exc:
                return render(exc)

        return endpoint

    return wrap
