"""The one place where adapters talk HTTP: timeout, bounded retry, redaction, one log line per request.

Adapters call `HttpCaller.request` and get an `httpx.Response` for any status they may want to read
(2xx and 4xx), or an `UpstreamError` naming the method, path, parameters, status and a redacted body
excerpt. Only what can succeed on retry is retried: 5xx, timeouts and connection errors, a bounded
number of times. 4xx is never retried.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import httpx
import structlog

from tools.values import AdapterSettings, MissingSecret, UpstreamError, UpstreamTimeout

log = structlog.get_logger("firstline.tools.http")

BODY_EXCERPT_CHARS = 500
REDACTED = "***"


class Redactor:
    """Replaces known secret values (and their base64 forms) with ``***`` in any text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4:
            self._secrets.add(secret)
            self._secrets.add(base64.b64encode(secret.encode()).decode())

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return text


def resolve_secret(env_name: str | None, *, field: str, instance: str) -> str | None:
    """Read a secret from the environment variable the configuration names.

    Raises `MissingSecret` (a `ValueError`) naming the instance, the setting and the variable when it
    is unset, so a misconfiguration is found at start-up rather than on the first call during an incident.
    """
    if not env_name:
        return None
    value = os.environ.get(env_name)
    if value is None:
        raise MissingSecret(instance=instance, field=field, variable=env_name)
    return value


def auth_headers(
    settings: AdapterSettings, *, instance: str, scheme: str = "Bearer"
) -> tuple[dict[str, str], list[str]]:
    """Build the Authorization header from the settings' environment variables.

    Returns the headers and the secret values to redact. ``scheme`` is the token prefix the
    integration expects (``Bearer``, ``OAuth``, ``Token token=``, ``GenieKey``...).
    """
    headers: dict[str, str] = {}
    secrets: list[str] = []
    token = resolve_secret(settings.token_env, field="token_env", instance=instance)
    if token:
        # "Bearer x", "Token token=x" (no space after "="), or the bare token when the scheme is empty.
        prefix = scheme if not scheme or scheme.endswith("=") else f"{scheme} "
        headers["Authorization"] = f"{prefix}{token}"
        secrets.append(token)
    user = resolve_secret(settings.username_env, field="username_env", instance=instance)
    password = resolve_secret(settings.password_env, field="password_env", instance=instance)
    if user is not None and password is not None and "Authorization" not in headers:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        secrets.extend([password, f"{user}:{password}"])
    return headers, secrets


class HttpCaller:
    """Wraps an injected ``httpx.AsyncClient`` with the cross-cutting behaviour every adapter shares."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        instance: str,
        timeout_seconds: float = 10.0,
        max_retries: int = 2,
        redactor: Redactor | None = None,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.client = client
        self.instance = instance
        self.timeout_seconds = timeout_seconds
        self.max_retries = max_retries
        self.redact = redactor or Redactor()
        self.backoff_seconds = backoff_seconds

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        json: Any = None,
        data: dict[str, Any] | None = None,
        content: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        accept_statuses: Iterable[int] = (),
        describe_error: Callable[[httpx.Response], str | None] | None = None,
    ) -> httpx.Response:
        """Send one request with retry. Returns the response for 2xx, 3xx and ``accept_statuses``.

        Any other status raises `UpstreamError` (with status and redacted body excerpt); timeouts
        raise `UpstreamTimeout`; connection errors raise `UpstreamError` with no status.
        ``describe_error`` reads an error response in the integration's own format (Prometheus
        ``error``, a Kubernetes Status ``message``...) and returns the text to put in the error
        message instead of the raw excerpt, or None to keep the excerpt. It must not raise.
        """
        accepted = set(accept_statuses)
        # Errors echo the parameters; a secret can ride in one (a webhook's signature), so redact them.
        shown_params = {k: self.redact(v) if isinstance(v, str) else v for k, v in _params_dict(params).items()}
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                response = await self.client.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    data=data,
                    content=content,
                    headers=headers,
                    timeout=self.timeout_seconds,
                )
            except httpx.TimeoutException as exc:
                error: UpstreamError = UpstreamTimeout(
                    f"{method} {path} timed out after {self.timeout_seconds:g}s",
                    method=method,
                    path=path,
                    params=shown_params,
                    retryable=True,
                )
                self._log(method, path, None, started, attempt, error=type(exc).__name__)
            except httpx.TransportError as exc:
                error = UpstreamError(
                    self.redact(f"{method} {path}: cannot reach {self.client.base_url}: {exc}"),
                    method=method,
                    path=path,
                    params=shown_params,
                    retryable=True,
                )
                self._log(method, path, None, started, attempt, error=type(exc).__name__)
            else:
                self._log(method, path, response.status_code, started, attempt)
                if response.status_code < 400 or response.status_code in accepted:
                    return response
                excerpt = self.redact(response.text[:BODY_EXCERPT_CHARS])
                described = describe_error(response) if describe_error is not None else None
                detail = self.redact(described) if described else excerpt
                error = UpstreamError(
                    f"{method} {path} returned HTTP {response.status_code}: {detail}",
                    method=method,
                    path=path,
                    params=shown_params,
                    status_code=response.status_code,
                    body_excerpt=excerpt,
                    retryable=response.status_code >= 500,
                )
            if not error.retryable or attempt > self.max_retries:
                if error.retryable and attempt > 1:
                    error.args = (f"{error.args[0]} (after {attempt} attempts)",)
                raise error
            await asyncio.sleep(self.backoff_seconds * attempt)

    def _log(
        self, method: str, path: str, status: int | None, started: float, attempt: int, error: str | None = None
    ) -> None:
        log.info(
            "http_request",
            instance=self.instance,
            method=method,
            path=self.redact(path),
            status=status,
            attempt=attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            error=error,
        )


def _params_dict(params: dict[str, Any] | list[tuple[str, Any]] | None) -> dict[str, Any]:
    if params is None:
        return {}
    if isinstance(params, dict):
        return dict(params)
    merged: dict[str, Any] = {}
    for key, value in params:
        merged.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in merged.items()}
