"""A third party's public status page (Statuspage's public API, ``/api/v2``), read-only.

Most providers (payment processors, SMS gateways, clouds, SaaS) publish their status with Atlassian
Statuspage, whose public pages answer the same JSON below their own address:
``https://www.githubstatus.com/api/v2/summary.json``. No authentication. One instance per page:

    tools:
      cardco_status: {kind: provider_status, base_url: https://status.cardco.example}

- ``summary``: the page's overall indicator, its components with their status (the degraded ones
  first) and its unresolved incidents with their latest update (``GET /api/v2/summary.json``);
- ``incidents``: the unresolved incidents (``/api/v2/incidents/unresolved.json``), or the most
  recent ones resolved included (``/api/v2/incidents.json``), each with its updates, newest first.

What the page says is the provider's word, posted by hand and often minutes behind the outage: an
operational page does not clear the provider, an incident on it confirms the provider knows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.wire import as_dict, as_list, clip, decode_json, expect_dict, expect_list, malformed, opt_str, parse_rfc3339

ComponentStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]
Indicator = Literal["none", "minor", "major", "critical", "maintenance"]
UPDATE_BODY_CHARS = 600
_SEVERITY = {"major_outage": 0, "partial_outage": 1, "degraded_performance": 2, "under_maintenance": 3}


class SummaryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    component: str | None = Field(
        default=None,
        max_length=100,
        description="Only components whose name contains this (case-insensitive), e.g. Card Authorization.",
    )


class IncidentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_resolved: bool = Field(
        default=False, description="Also the recently resolved incidents (default: only the unresolved ones)."
    )
    limit: int = Field(default=10, ge=1, le=50, description="How many incidents, newest first.")


class ProviderComponent(BaseModel):
    name: str
    status: str
    group: str | None = Field(default=None, description="The component group it belongs to, if any.")
    updated_at: datetime | None = None


class ProviderIncidentUpdate(BaseModel):
    status: str
    body: str
    at: datetime | None = None
    components: dict[str, str] = Field(default_factory=dict, description="Component name -> status this update set.")


class ProviderIncident(BaseModel):
    id: str
    name: str
    status: str = Field(description="investigating, identified, monitoring, resolved (or a maintenance's).")
    impact: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    resolved_at: datetime | None = None
    components: list[str] = Field(default_factory=list, description="Names of the affected components.")
    updates: list[ProviderIncidentUpdate] = Field(default_factory=list, description="Newest first.")
    url: str | None = None


class ProviderSummary(BaseModel):
    page: str
    url: str | None = None
    indicator: str = Field(description="none, minor, major, critical (maintenance while one is in progress).")
    description: str
    components: list[ProviderComponent] = Field(description="The degraded ones first, then in the page's order.")
    incidents: list[ProviderIncident] = Field(description="Unresolved, newest first.")
    updated_at: datetime | None = None


class ProviderIncidentList(BaseModel):
    page: str
    incidents: list[ProviderIncident]
    count: int


class ProviderStatusAdapter(Adapter):
    """Reads one third party's public Statuspage page (no credentials)."""

    kind: ClassVar[str] = "provider_status"
    description: ClassVar[str] = (
        "A third party's public status page (Statuspage's public API): its components' status and its incidents."
    )
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(
        description="Read the provider's public status page: the overall status, each component's status "
        "(degraded first) and the incidents it has not resolved, with their latest update.",
        result=ProviderSummary,
    )
    async def summary(self, args: SummaryInput) -> ToolResult:
        path = "/api/v2/summary.json"
        response, body = await self._get(path)
        try:
            page = as_dict(body.get("page"))
            status = as_dict(body.get("status"))
            components = _components(expect_list(self.http, response, path, body.get("components"), "components"))
            incidents = [
                _incident(as_dict(i))
                for i in expect_list(self.http, response, path, body.get("incidents", []), "incidents")
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"the summary has an unexpected shape ({exc!r})") from None
        shown = list(components.values())
        if args.component:
            wanted = args.component.lower()
            shown = [c for c in shown if wanted in c.name.lower() or wanted in (c.group or "").lower()]
        shown.sort(key=lambda c: _SEVERITY.get(c.status, 9))
        summary = ProviderSummary(
            page=str(page.get("name") or "status page"),
            url=opt_str(page.get("url")),
            indicator=str(status.get("indicator") or "none"),
            description=str(status.get("description") or ""),
            components=shown,
            incidents=incidents,
            updated_at=parse_rfc3339(page.get("updated_at")),
        )
        degraded = [c for c in shown if c.status != "operational"]
        text = f"{summary.page}: {summary.description or summary.indicator}"
        if degraded:
            text += "; " + ", ".join(f"{c.name} {c.status}" for c in degraded[:6])
        elif args.component:
            text += f"; {len(shown)} components matching {args.component!r}, all operational" if shown else ""
        if incidents:
            latest = incidents[0]
            said = latest.updates[0] if latest.updates else None
            text += f"; {len(incidents)} unresolved incident(s), newest {latest.name!r} ({latest.status}"
            text += f", since {_when(latest.created_at)})" + (f": {clip(said.body, 200)}" if said else "")
        else:
            text += "; no unresolved incidents"
        if args.component and not shown:
            text += f"; no component matches {args.component!r}"
        return ToolResult.with_payload(
            summary,
            tool=self.tool_id("summary"),
            status="ok",
            query=f"GET {path}",
            params={"component": args.component} if args.component else {},
            summary=text,
        )

    @tool_call(
        description="List the provider's incidents, newest first, each with its updates: the unresolved ones, or "
        "the recent ones resolved included (did the provider report an outage, and when?).",
        result=ProviderIncidentList,
    )
    async def incidents(self, args: IncidentsInput) -> ToolResult:
        path = "/api/v2/incidents.json" if args.include_resolved else "/api/v2/incidents/unresolved.json"
        response, body = await self._get(path)
        try:
            page = as_dict(body.get("page"))
            items = expect_list(self.http, response, path, body.get("incidents"), "incidents")
            incidents = [_incident(as_dict(i)) for i in items][: args.limit]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"an incident has an unexpected shape ({exc!r})") from None
        name = str(page.get("name") or "status page")
        which = "incidents" if args.include_resolved else "unresolved incidents"
        return ToolResult.with_payload(
            ProviderIncidentList(page=name, incidents=incidents, count=len(incidents)),
            tool=self.tool_id("incidents"),
            status="ok" if incidents else "no_data",
            query=f"GET {path}",
            params={"limit": args.limit},
            summary=(
                f"{len(incidents)} {which} on {name}: "
                + "; ".join(
                    f"{i.name!r} {i.status} ({i.impact or 'no'} impact, since {_when(i.created_at)})"
                    for i in incidents[:5]
                )
                if incidents
                else f"no {which} on {name}"
            ),
        )

    async def check(self) -> str:
        """``GET /api/v2/status.json``: the page's name and overall status."""
        response, body = await self._get("/api/v2/status.json")
        status = as_dict(body.get("status"))
        if "indicator" not in status:
            raise malformed(self.http, response, "/api/v2/status.json", "the body has no status.indicator")
        return f"{as_dict(body.get('page')).get('name') or 'status page'}: {status.get('description') or status['indicator']}"

    async def _get(self, path: str) -> tuple[httpx.Response, dict[str, Any]]:
        response = await self.http.request("GET", path, headers={"Accept": "application/json"})
        return response, expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")


def _components(items: list[Any]) -> dict[str, ProviderComponent]:
    """Component id -> component, groups folded into their members' ``group``."""
    raw = [as_dict(item) for item in items]
    groups = {str(c["id"]): str(c["name"]) for c in raw if c.get("group") is True}
    out = {}
    for component in raw:
        if component.get("group") is True:
            continue
        out[str(component["id"])] = ProviderComponent(
            name=str(component["name"]),
            status=str(component.get("status") or "unknown"),
            group=groups.get(str(component.get("group_id"))),
            updated_at=parse_rfc3339(component.get("updated_at")),
        )
    return out


def _incident(item: dict[str, Any]) -> ProviderIncident:
    updates = []
    for raw in as_list(item.get("incident_updates")):
        update = as_dict(raw)
        affected = {
            str(a.get("name")): str(a.get("new_status"))
            for a in (as_dict(x) for x in as_list(update.get("affected_components")))
            if a.get("name")
        }
        updates.append(
            ProviderIncidentUpdate(
                status=str(update.get("status") or ""),
                body=clip(str(update.get("body") or ""), UPDATE_BODY_CHARS),
                at=parse_rfc3339(update.get("display_at") or update.get("created_at")),
                components=affected,
            )
        )
    names = [str(as_dict(c).get("name")) for c in as_list(item.get("components")) if as_dict(c).get("name")]
    return ProviderIncident(
        id=str(item["id"]),
        name=str(item["name"]),
        status=str(item.get("status") or ""),
        impact=opt_str(item.get("impact")),
        created_at=parse_rfc3339(item.get("created_at")),
        updated_at=parse_rfc3339(item.get("updated_at")),
        resolved_at=parse_rfc3339(item.get("resolved_at")),
        components=names,
        updates=updates,
        url=opt_str(item.get("shortlink")),
    )


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else "an unknown time"
