"""Atlassian Statuspage API (``https://api.statuspage.io/v1``): create, update, resolve and read
incidents; read components and set a component's status.

Auth is ``Authorization: OAuth <api key>`` (the key belongs to a user with the Incident Manager role
on the page). Incidents live under ``/pages/{page_id}/incidents``; request bodies wrap the fields in
``{"incident": {...}}``. Errors are ``{"error": "..."}`` (sometimes a list of messages).

Creating, updating, resolving and setting a component's status are mutating calls (customers see them), so they need an execution grant; the
default tier is ``auto`` because a status update is cheap to correct and slow to send by hand.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.base import Adapter, AdapterSettings, SafetyMetadata, ToolResult, tool_call
from tools.wire import (
    as_list,
    clip,
    decode_json,
    expect_dict,
    expect_list,
    json_field,
    malformed,
    opt_str,
)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"

IncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
ComponentStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]
Impact = Literal["none", "minor", "major", "critical"]

COMMUNICATE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="post a correcting update or resolve the incident",
    idempotent=False,
    blast_radius="external",
    approval_tier="auto",
    action_class="communicate",
)


class StatuspageSettings(AdapterSettings):
    page_id: str = Field(pattern=ID_PATTERN, description="The status page's id (in its manage URL).")


ComponentsField: Any = Field(
    default_factory=dict,
    description='Component id -> status to set, e.g. {"cmp123": "partial_outage"}. Statuses: operational, '
    "under_maintenance, degraded_performance, partial_outage, major_outage.",
)


class CreateIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255, description="Incident title customers see.")
    status: IncidentStatus = Field(default="investigating", description="Incident status.")
    body: str = Field(min_length=1, description="The first update customers read; plain, factual, no internals.")
    impact_override: Impact | None = Field(
        default=None,
        description="Impact shown (none, minor, major, critical); default is derived from components.",
    )
    component_ids: list[str] = Field(
        default_factory=list, description="Affected component ids (components listed below are added)."
    )
    components: dict[str, ComponentStatus] = ComponentsField
    deliver_notifications: bool = Field(default=True, description="Notify the page's subscribers.")

    @model_validator(mode="after")
    def _ids_are_safe(self) -> CreateIncidentInput:
        _check_ids([*self.component_ids, *self.components])
        return self


class UpdateIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=ID_PATTERN, description="Id returned by create_incident.")
    status: IncidentStatus | None = Field(default=None, description="New status, e.g. identified or resolved.")
    body: str | None = Field(default=None, min_length=1, description="The update customers read.")
    components: dict[str, ComponentStatus] = ComponentsField
    deliver_notifications: bool = Field(default=True, description="Notify the page's subscribers.")

    @model_validator(mode="after")
    def _something_to_update(self) -> UpdateIncidentInput:
        if self.status is None and self.body is None and not self.components:
            raise ValueError("give at least one of status, body or components")
        _check_ids(list(self.components))
        return self


class GetIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=ID_PATTERN, description="Incident id.")


class ResolveIncidentInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=ID_PATTERN, description="Id returned by create_incident.")
    body: str = Field(min_length=1, description="The closing update customers read: what happened, that it is fixed.")
    component_ids: list[str] = Field(
        default_factory=list,
        description="Components to set back to operational (usually the ones the incident affected).",
    )
    deliver_notifications: bool = Field(default=True, description="Notify the page's subscribers.")

    @model_validator(mode="after")
    def _ids_are_safe(self) -> ResolveIncidentInput:
        _check_ids(self.component_ids)
        return self


class ListComponentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    only_affected: bool = Field(default=False, description="Only components that are not operational.")


class SetComponentStatusInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component_id: str = Field(pattern=ID_PATTERN, description="Component id (from list_components).")
    status: ComponentStatus = Field(
        description="operational, under_maintenance, degraded_performance, partial_outage or major_outage."
    )


def _check_ids(ids: list[str]) -> None:
    bad = [i for i in ids if not re.match(ID_PATTERN, i)]
    if bad:
        raise ValueError(f"component ids must be letters, digits, - or _: {', '.join(map(repr, bad))}")


class StatuspageAdapter(Adapter):
    """Publishes incidents on one Statuspage page."""

    kind: ClassVar[str] = "statuspage"
    description: ClassVar[str] = (
        "Atlassian Statuspage: create, update, resolve and read public incidents; component statuses."
    )
    settings_model: ClassVar[type[AdapterSettings]] = StatuspageSettings
    auth_scheme: ClassVar[str] = "OAuth"
    settings: StatuspageSettings

    @tool_call(description="Open a public incident on the status page.", safety=COMMUNICATE_SAFETY)
    async def create_incident(self, args: CreateIncidentInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/incidents"
        incident: dict[str, Any] = {
            "name": args.name,
            "status": args.status,
            "body": args.body,
            # Components whose status is set are affected by definition; list each once, in order.
            "component_ids": list(dict.fromkeys([*args.component_ids, *args.components])),
            "deliver_notifications": args.deliver_notifications,
        }
        if args.components:
            incident["components"] = dict(args.components)
        if args.impact_override:
            incident["impact_override"] = args.impact_override
        body = {"incident": incident}
        data = await self._send("POST", path, body)
        return ToolResult(
            tool=self.tool_id("create_incident"),
            status="ok",
            query=f"POST {path}",
            params=body,
            data=data,
            summary=f"created incident {data['id']} {data['name']!r} ({data['status']}, impact {data['impact']})"
            f"{_link(data)}{_components_text(data)}",
        )

    @tool_call(
        description="Post an update to a public incident: new status, a message, component statuses.",
        safety=COMMUNICATE_SAFETY,
    )
    async def update_incident(self, args: UpdateIncidentInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/incidents/{args.incident_id}"
        incident: dict[str, Any] = {"deliver_notifications": args.deliver_notifications}
        if args.status:
            incident["status"] = args.status
        if args.body:
            incident["body"] = args.body
        if args.components:
            incident["components"] = dict(args.components)
        body = {"incident": incident}
        data = await self._send("PATCH", path, body)
        return ToolResult(
            tool=self.tool_id("update_incident"),
            status="ok",
            query=f"PATCH {path}",
            params=body,
            data=data,
            summary=f"updated incident {data['id']} {data['name']!r}: now {data['status']}{_components_text(data)}",
        )

    @tool_call(description="Read a public incident: status, impact, components and its updates.")
    async def get_incident(self, args: GetIncidentInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/incidents/{args.incident_id}"
        data = await self._send("GET", path, None)
        latest = data.get("latest_update") or {}
        return ToolResult(
            tool=self.tool_id("get_incident"),
            status="ok",
            query=f"GET {path}",
            params={},
            data=data,
            summary=f"incident {data['id']} {data['name']!r} is {data['status']} (impact {data['impact']}), "
            f"{data['updates_count']} updates; latest: {clip(str(latest.get('body') or ''), 120)!r}",
        )

    @tool_call(
        description="Resolve a public incident with a closing update, setting the given components back to operational.",
        safety=COMMUNICATE_SAFETY,
    )
    async def resolve_incident(self, args: ResolveIncidentInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/incidents/{args.incident_id}"
        incident: dict[str, Any] = {
            "status": "resolved",
            "body": args.body,
            "deliver_notifications": args.deliver_notifications,
        }
        if args.component_ids:
            incident["components"] = dict.fromkeys(args.component_ids, "operational")
        body = {"incident": incident}
        data = await self._send("PATCH", path, body)
        return ToolResult(
            tool=self.tool_id("resolve_incident"),
            status="ok",
            query=f"PATCH {path}",
            params=body,
            data=data,
            summary=f"resolved incident {data['id']} {data['name']!r}: now {data['status']}{_components_text(data)}",
        )

    @tool_call(description="List the status page's components and their current status.")
    async def list_components(self, args: ListComponentsInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/components"
        response = await self.http.request("GET", path, describe_error=describe_statuspage_error)
        items = expect_list(self.http, response, path, decode_json(self.http, response, path), "the body")
        components = [_component(c) for c in items if isinstance(c, dict)]
        affected = [c for c in components if c["status"] != "operational"]
        shown = affected if args.only_affected else components
        return ToolResult(
            tool=self.tool_id("list_components"),
            status="ok" if shown else "no_data",
            query=f"GET {path}",
            params={"only_affected": args.only_affected},
            data={"components": shown, "count": len(shown)},
            summary=f"{len(components)} components, {len(affected)} not operational"
            + (": " + ", ".join(f"{c['name']}={c['status']}" for c in affected[:8]) if affected else ""),
        )

    @tool_call(
        description="Set one component's status on the status page (without an incident), e.g. degraded_performance.",
        safety=COMMUNICATE_SAFETY,
    )
    async def set_component_status(self, args: SetComponentStatusInput) -> ToolResult:
        path = f"/pages/{self.settings.page_id}/components/{args.component_id}"
        body = {"component": {"status": args.status}}
        response = await self.http.request("PATCH", path, json=body, describe_error=describe_statuspage_error)
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if not isinstance(answer.get("id"), str):
            raise malformed(self.http, response, path, "the body is not a component (no id)")
        component = _component(answer)
        return ToolResult(
            tool=self.tool_id("set_component_status"),
            status="ok",
            query=f"PATCH {path}",
            params=body,
            data=component,
            summary=f"component {component['name'] or component['id']} is now {component['status']}",
        )

    async def check(self) -> str:
        """``GET /pages/{page_id}``: proves the key and that it can see this page."""
        path = f"/pages/{self.settings.page_id}"
        response = await self.http.request("GET", path, describe_error=describe_statuspage_error)
        page = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if not isinstance(page.get("id"), str):
            raise malformed(self.http, response, path, "the body is not a page (no id)")
        return f"page {page['id']} ({opt_str(page.get('name')) or 'unnamed'})"

    async def _send(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        response = await self.http.request(method, path, json=body, describe_error=describe_statuspage_error)
        incident = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if not isinstance(incident.get("id"), str) or "status" not in incident:
            raise malformed(self.http, response, path, "the body is not an incident (no id or status)")
        return _incident(incident)


def describe_statuspage_error(response: httpx.Response) -> str | None:
    """``Statuspage: <error>`` from ``{"error": "..."}`` or ``{"error": ["...", ...]}``."""
    error = json_field(response, "error", "message")
    if isinstance(error, list):
        error = "; ".join(str(e) for e in error)
    return f"Statuspage: {error}" if isinstance(error, str) and error else None


def _incident(incident: dict[str, Any]) -> dict[str, Any]:
    updates = [u for u in as_list(incident.get("incident_updates")) if isinstance(u, dict)]
    latest = max(updates, key=lambda u: str(u.get("created_at") or ""), default=None)
    return {
        "id": incident["id"],
        "name": opt_str(incident.get("name")),
        "status": opt_str(incident.get("status")),
        "impact": opt_str(incident.get("impact")),
        "shortlink": opt_str(incident.get("shortlink")),
        "created_at": opt_str(incident.get("created_at")),
        "updated_at": opt_str(incident.get("updated_at")),
        "resolved_at": opt_str(incident.get("resolved_at")),
        "components": [
            {"id": opt_str(c.get("id")), "name": opt_str(c.get("name")), "status": opt_str(c.get("status"))}
            for c in as_list(incident.get("components"))
            if isinstance(c, dict)
        ],
        "latest_update": (
            {
                "status": opt_str(latest.get("status")),
                "body": opt_str(latest.get("body")),
                "created_at": opt_str(latest.get("created_at")),
            }
            if latest
            else None
        ),
        "updates_count": len(updates),
    }


def _component(component: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": opt_str(component.get("id")),
        "name": opt_str(component.get("name")),
        "status": opt_str(component.get("status")),
        "group_id": opt_str(component.get("group_id")),
        "updated_at": opt_str(component.get("updated_at")),
    }


def _link(data: dict[str, Any]) -> str:
    return f" at {data['shortlink']}" if data.get("shortlink") else ""


def _components_text(data: dict[str, Any]) -> str:
    components = data.get("components") or []
    if not components:
        return ""
    return "; components: " + ", ".join(f"{c['name'] or c['id']}={c['status']}" for c in components)
