"""Healthchecks.io (API v3) for firstline: list checks; pause and resume one.

Written against the public adapter SDK only (`tools.base`, `tools.http`, `tools.wire`), as a platform
team would write it outside the firstline repository:

1. an input model per call (typed fields with descriptions: the schema the model sees);
2. the adapter class: ``kind``, ``description``, one ``@tool_call`` method per call, safety metadata on
   each mutating call (registration refuses one without reversibility and an approval tier);
3. ``auth_headers`` for this API's header (``X-Api-Key``), ``check`` for `firstline tools check`;
4. the entry point in pyproject.toml.

Timeouts, retries, redaction, the output budget, the approval guard and logging come from the SDK.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.base import Adapter, AdapterSettings, SafetyMetadata, ToolResult, tool_call
from tools.http import resolve_secret
from tools.wire import as_list, decode_json, expect_dict, expect_list, json_field, malformed, opt_str

UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"

PAUSE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="resume_check with the same uuid",
    idempotent=True,  # pausing a paused check changes nothing
    blast_radius="single_resource",
    approval_tier="approve",  # a paused check cannot alert: a human should agree
    action_class="silence",
)
RESUME_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="pause_check with the same uuid",
    idempotent=True,
    blast_radius="single_resource",
    approval_tier="auto",  # resuming restores monitoring
    action_class="silence",
)


class ListChecksInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: str | None = Field(
        default=None, pattern=r"^[\w.-]{1,64}$", description="Only checks with this tag, e.g. prod."
    )


class CheckRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uuid: str = Field(pattern=UUID_PATTERN, description="The check's uuid (from list_checks).")


class HealthchecksAdapter(Adapter):
    """Reads and pauses Healthchecks.io checks with a project API key."""

    kind: ClassVar[str] = "healthchecks"
    description: ClassVar[str] = "Healthchecks.io (plugin example): list cron/heartbeat checks; pause and resume one."
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @classmethod
    def auth_headers(cls, settings: AdapterSettings, *, instance: str) -> tuple[dict[str, str], list[str]]:
        key = resolve_secret(settings.token_env, field="token_env", instance=instance)
        return ({"X-Api-Key": key}, [key]) if key else ({}, [])

    @tool_call(description="List Healthchecks.io checks with their status (up, down, grace, paused) and last ping.")
    async def list_checks(self, args: ListChecksInput) -> ToolResult:
        path = "/api/v3/checks/"
        params = {"tag": args.tag} if args.tag else {}
        response = await self.http.request("GET", path, params=params, describe_error=describe_error)
        body = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        checks = [
            _check(c)
            for c in expect_list(self.http, response, path, body.get("checks"), "checks")
            if isinstance(c, dict)
        ]
        down = [c["name"] for c in checks if c["status"] == "down"]
        return ToolResult(
            tool=self.tool_id("list_checks"),
            status="ok" if checks else "no_data",
            query=f"GET {path}",
            params=params,
            data={"checks": checks, "count": len(checks)},
            summary=f"{len(checks)} checks, {len(down)} down{': ' + ', '.join(down[:5]) if down else ''}"
            if checks
            else "no checks",
        )

    @tool_call(description="Pause a check: it stops alerting until its next ping or resume_check.", safety=PAUSE_SAFETY)
    async def pause_check(self, args: CheckRef) -> ToolResult:
        return await self._post("pause_check", f"/api/v3/checks/{args.uuid}/pause")

    @tool_call(description="Resume a paused check.", safety=RESUME_SAFETY)
    async def resume_check(self, args: CheckRef) -> ToolResult:
        return await self._post("resume_check", f"/api/v3/checks/{args.uuid}/resume")

    async def check(self) -> str:
        response = await self.http.request("GET", "/api/v3/checks/", describe_error=describe_error)
        body = expect_dict(
            self.http, response, "/api/v3/checks/", decode_json(self.http, response, "/api/v3/checks/"), "the body"
        )
        return f"Healthchecks.io API: {len(as_list(body.get('checks')))} checks visible"

    async def _post(self, call: str, path: str) -> ToolResult:
        response = await self.http.request("POST", path, describe_error=describe_error)
        body = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if "status" not in body:
            raise malformed(self.http, response, path, "the body is not a check (no status)")
        data = _check(body)
        return ToolResult(
            tool=self.tool_id(call),
            status="ok",
            query=f"POST {path}",
            params={},
            data=data,
            summary=f"check {data['name']!r} is now {data['status']}",
        )


def describe_error(response: httpx.Response) -> str | None:
    """``Healthchecks.io: wrong api key`` from ``{"error": "..."}``."""
    error = json_field(response, "error")
    return f"Healthchecks.io: {error}" if isinstance(error, str) else None


def _check(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "uuid": opt_str(item.get("uuid")),
        "name": opt_str(item.get("name")),
        "tags": (opt_str(item.get("tags")) or "").split(),
        "status": opt_str(item.get("status")),
        "last_ping": opt_str(item.get("last_ping")),
        "next_ping": opt_str(item.get("next_ping")),
    }
