"""Connectivity and credential checks for configured instances: what `firstline tools check` runs.

Each adapter's `Adapter.check` makes its cheapest authenticated read (Prometheus build info, GitHub
rate limit, Slack ``auth.test``...). This module builds every instance on its own (an unset variable
fails that instance only), runs the checks concurrently, and turns each failure into one line saying
what failed and how to fix it: a 401 names the variable that holds the rejected token, a connection
error names the base URL setting, and so on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from tools.base import Adapter, CheckSkipped, UpstreamError, UpstreamTimeout
from tools.registry import ClientFactory, build_instance, default_client_factory

CheckStatus = Literal["ok", "failed", "skipped"]


class CheckResult(BaseModel):
    """The outcome of checking one instance."""

    instance: str
    kind: str
    status: CheckStatus
    detail: str = ""
    fix: str = ""
    duration_ms: float = 0.0


async def check_adapter(adapter: Adapter) -> CheckResult:
    """Run one instance's check; never raises for an upstream problem."""
    started = time.perf_counter()
    status: CheckStatus
    fix = ""
    try:
        detail = await adapter.check()
        status = "ok"
    except CheckSkipped as exc:
        status, detail = "skipped", str(exc)
    except UpstreamTimeout as exc:
        status, detail = "failed", str(exc)
        fix = (
            f"nothing answered within {adapter.settings.timeout_seconds:g}s: check that "
            f"tools.{adapter.instance}.base_url is reachable from this host, or raise "
            f"tools.{adapter.instance}.timeout_seconds"
        )
    except UpstreamError as exc:
        status, detail = "failed", str(exc)
        fix = fix_for(adapter, exc)
    return CheckResult(
        instance=adapter.instance,
        kind=adapter.kind,
        status=status,
        detail=detail,
        fix=fix,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def fix_for(adapter: Adapter, error: UpstreamError) -> str:
    """How to fix a failed check, from the upstream status (or the lack of one)."""
    where = adapter.endpoint_setting()
    status = error.status_code
    if status is None:
        return f"cannot connect: check {where} and that the service is reachable from this host"
    if status == 401:
        return f"credentials rejected: {_credential_hint(adapter)}"
    if status == 403:
        return (
            f"the credentials work but may not {error.method} {error.path}: give the identity in "
            f"{_credential_names(adapter) or 'the configured credentials'} read access (scope, role or binding)"
        )
    if status == 404:
        return f"nothing answers at {error.path}: check that {where} is the API root of a {adapter.kind} server"
    if status == 429:
        return "rate limited: wait, then check again"
    if status >= 500:
        return "the server failed: check its health, then check again"
    if status < 300:
        return f"something answered, but not like a {adapter.kind} API: check {where}"
    return ""


def _credential_names(adapter: Adapter) -> str:
    settings, name = adapter.settings, adapter.instance
    named = [
        f"{env} (tools.{name}.{field})"
        for field in ("token_env", "username_env", "password_env")
        if (env := getattr(settings, field, None))
    ]
    return ", ".join(named)


def _credential_hint(adapter: Adapter) -> str:
    names = _credential_names(adapter)
    if names:
        return f"check the value of {names}"
    return (
        f"the server wants credentials and tools.{adapter.instance} sends none: set token_env to the name "
        "of an environment variable holding a token"
    )


async def check_instances(
    instances: Mapping[str, Mapping[str, Any]],
    *,
    kinds: Mapping[str, type[Adapter]],
    names: Sequence[str] | None = None,
    client_factory: ClientFactory = default_client_factory,
    clock: Callable[[], datetime] | None = None,
) -> list[CheckResult]:
    """Check the named instances (all when ``names`` is None), in configuration order.

    An instance that cannot be built (unknown kind, bad setting, unset variable) fails on its own
    line; the others are still checked. Raises `KeyError` for a name that is not configured.
    """
    wanted = list(instances) if names is None else list(names)
    unknown = [n for n in wanted if n not in instances]
    if unknown:
        raise KeyError(
            f"no instance named {', '.join(map(repr, unknown))} under tools: in the configuration; "
            f"configured: {', '.join(instances) or 'none'}"
        )
    results: dict[str, CheckResult] = {}
    adapters: list[Adapter] = []
    for name in wanted:
        raw = instances[name]
        try:
            adapters.append(build_instance(name, raw, kinds=kinds, client_factory=client_factory, clock=clock))
        except ValueError as exc:
            results[name] = CheckResult(
                instance=name,
                kind=str(raw.get("kind") or name),
                status="failed",
                detail=str(exc),
                fix="fix the setting in the configuration file (or export the variable it names)",
            )
    try:
        for result in await asyncio.gather(*(check_adapter(a) for a in adapters)):
            results[result.instance] = result
    finally:
        for adapter in adapters:
            await adapter.aclose()
    return [results[name] for name in wanted]
