"""The HTTP face of intake (Starlette): receivers, health, the incidents view, the OpenAPI document.

    POST|PUT /v1/alerts/{source}   202 accepted (stored durably) | 400 the field at fault | 401 | 404 | 413 | 503
    GET      /v1/incidents         correlated incidents, newest first (?status=open|resolved|merged, ?limit=)
    GET      /v1/incidents/{id}    one incident with its investigations (runs)
    GET      /healthz              inbox depth, dead letters, open incidents, worker state
    GET      /openapi.json         this API

Authentication per source comes first (bearer and basic from the headers, before the body is read;
Grafana's HMAC over the raw body once read). Bodies are read up to ``intake.max_body_kb``; a larger
one gets 413 and a dead letter. SNS posts ``text/plain``: bodies are parsed as JSON whatever the
content type says.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from intake.http.auth import AuthError, SourceAuth
from intake.http.openapi import openapi_document
from intake.service import Accepted, IntakeService
from intake.settings import SOURCE_NAMES

log = structlog.get_logger("firstline.intake")


class _TooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        self.head = head


async def _read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > limit:
            raise _TooLarge(b"".join(chunks))
    return b"".join(chunks)


def _error(status: int, error: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": "error", "error": error, "message": message, **extra}, status_code=status)


def build_app(
    service: IntakeService,
    authenticators: dict[str, SourceAuth],
    *,
    manage_service: bool = True,
    extra_routes: Sequence[BaseRoute] = (),
    extra_paths: dict[str, Any] | None = None,
) -> Starlette:
    """The Starlette app around ``service``. With ``manage_service`` the app's lifespan starts and stops it.

    ``extra_routes`` (and their OpenAPI ``extra_paths``) are served beside the receivers: ``firstline serve``
    adds the approvals console and API there, so intake need not know them."""
    limit = service.settings.max_body_kb * 1024
    enabled = sorted(authenticators)

    async def receive_alerts(request: Request) -> Response:
        source = request.path_params["source"]
        auth = authenticators.get(source)
        if auth is None:
            known = "unknown source" if source not in SOURCE_NAMES else "source not enabled in intake.sources"
            return _error(404, "unknown_source", f"{known}: {source!r}; enabled: {', '.join(enabled)}", field="source")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            auth.check_headers(headers)
        except AuthError as exc:
            service.rejected_unauthenticated += 1
            log.warning(
                "intake.unauthenticated",
                source=source,
                reason=str(exc),
                client=request.client.host if request.client else None,
            )
            return _error(401, "unauthenticated", str(exc))
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            if auth.needs_body:  # unauthenticated until the signature is checked: nothing is stored
                service.rejected_unauthenticated += 1
                return _error(413, "too_large", f"body: {declared} bytes is over the {limit}-byte limit", field="body")
            rejected = await service.reject_oversized(source, b"", int(declared), limit)
            return _error(413, "too_large", rejected.message, field="body", dead_letter_id=rejected.dead_letter_id)
        try:
            body = await _read_body(request, limit)
        except _TooLarge as exc:
            if auth.needs_body:
                service.rejected_unauthenticated += 1
                return _error(413, "too_large", f"body: over the {limit}-byte limit", field="body")
            rejected = await service.reject_oversized(source, exc.head, None, limit)
            return _error(413, "too_large", rejected.message, field="body", dead_letter_id=rejected.dead_letter_id)
        try:
            auth.check_body(headers, body, service.clock())
        except AuthError as exc:
            service.rejected_unauthenticated += 1
            log.warning(
                "intake.unauthenticated",
                source=source,
                reason=str(exc),
                client=request.client.host if request.client else None,
            )
            return _error(401, "unauthenticated", str(exc))
        try:
            result = await service.accept(source, headers, body)
        except (
            OSError,
            sqlite3.Error,
        ) as exc:  # the inbox cannot be written (disk full...): 503, so the sender retries
            log.error("intake.inbox_unavailable", source=source, error=repr(exc))
            return _error(503, "inbox_unavailable", f"the inbox could not store the delivery ({exc}); retry later")
        if isinstance(result, Accepted):
            answer: dict[str, Any] = {"status": "accepted", "inbox_id": result.inbox_id, "alerts": result.alerts}
            if result.note:
                answer["note"] = result.note
            if source == "pagerduty":  # PagerDuty's own answer shape, for senders that read it
                answer.update(status="success", message="Event processed", **result.reply)
            return JSONResponse(answer, status_code=202)
        extra: dict[str, Any] = {"field": result.field, "dead_letter_id": result.dead_letter_id}
        if source == "pagerduty":
            extra["errors"] = [result.message]
        return _error(result.status, "invalid_payload", result.message, **extra)

    async def healthz(request: Request) -> Response:
        health = await service.health()
        return JSONResponse(health, status_code=200 if health["status"] == "ok" else 503)

    async def list_incidents(request: Request) -> Response:
        status = request.query_params.get("status") or None
        if status not in (None, "open", "resolved", "merged"):
            return _error(400, "invalid_query", "status: expected open, resolved or merged", field="status")
        raw_limit = request.query_params.get("limit", "100")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
            return _error(400, "invalid_query", "limit: expected 1..1000", field="limit")
        return JSONResponse({"incidents": await service.incidents(status, int(raw_limit))})

    async def show_incident(request: Request) -> Response:
        incident = await service.incident(request.path_params["incident_id"])
        if incident is None:
            return _error(404, "not_found", f"no incident {request.path_params['incident_id']!r}")
        return JSONResponse(incident)

    async def openapi(request: Request) -> Response:
        document = openapi_document(enabled)
        document["paths"].update(extra_paths or {})
        return JSONResponse(document)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if manage_service:
            await service.start()
        try:
            yield
        finally:
            if manage_service:
                await service.stop()

    return Starlette(
        routes=[
            Route("/v1/alerts/{source}", receive_alerts, methods=["POST", "PUT"]),
            Route("/v1/incidents", list_incidents, methods=["GET"]),
            Route("/v1/incidents/{incident_id}", show_incident, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            *extra_routes,
        ],
        lifespan=lifespan,
    )


class QuietServer(uvicorn.Server):
    """uvicorn's server without its own signal capture: uvicorn re-raises SIGTERM after a graceful
    shutdown, so the process would die of it. ``serve`` installs handlers that call `request_exit`."""

    exit_signal: int | None = None

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_exit(self, sig: int) -> None:
        self.exit_signal = sig
        self.should_exit = True
