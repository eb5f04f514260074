"""Third parties' public status pages, in the shape of Statuspage's public API (``/api/v2``).

A scenario declares each page under ``integrations.providers``: its components (with the status they
show before any incident) and its incidents, each a list of updates posted at scenario offsets. At
any moment the page shows what had been posted by then: an incident exists from its first update,
its status is that of its latest update, and each component shows the status the latest update
that named it set. Nothing posted after the clock's now is visible, so a provider can acknowledge
an outage minutes after the callers' errors began, as providers do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evals.sim.scenario import ProviderIncident, ProviderSpec, Scenario
from evals.sim.telemetry import stable_hash
from evals.sim.timeutil import rfc3339_millis

# The page's overall indicator: the worst of its unresolved incidents' impact and its components.
_COMPONENT_INDICATOR = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}
_RANK = {"none": 0, "minor": 1, "major": 2, "critical": 3}
_DESCRIPTION = {
    "none": "All Systems Operational",
    "minor": "Partially Degraded Service",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
CREATED_BEFORE = 2 * 365 * 86400.0  # the page and its components existed long before the scenario


class ProviderError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


def _code(*parts: object) -> str:
    """A Statuspage-like 12-character id, stable per scenario object."""
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    value = stable_hash(*parts) * 2654435761 + stable_hash(*reversed(parts))
    out = ""
    for _ in range(12):
        value, digit = divmod(value, 36)
        out += alphabet[digit]
    return out


class ProviderPages:
    """Every provider's page of one scenario, rendered as of the clock's now."""

    def __init__(self, scenario: Scenario, *, anchor: float, now: Callable[[], float]) -> None:
        self.anchor = anchor
        self._now = now
        self.pages = {p.id: p for p in scenario.integrations.providers}

    def page(self, provider_id: str) -> ProviderSpec:
        found = self.pages.get(provider_id)
        if found is None:
            raise ProviderError(404, "Not found")
        return found

    # -- state at now
    def _visible_updates(self, incident: ProviderIncident) -> list[tuple[int, Any]]:
        now = self._now()
        return [(i, u) for i, u in enumerate(incident.updates) if self.anchor + u.at <= now]

    def _component_states(self, spec: ProviderSpec) -> dict[str, tuple[str, float]]:
        """Component id -> (status, when it was set)."""
        created = self.anchor - CREATED_BEFORE
        states: dict[str, tuple[str, float]] = {c.id: (c.status, created) for c in spec.components}
        posted = sorted(
            (self.anchor + update.at, update)
            for incident in spec.incidents
            for _, update in self._visible_updates(incident)
        )
        for at, update in posted:
            for component, status in update.components.items():
                states[component] = (status, at)
        return states

    def _page_block(self, spec: ProviderSpec) -> dict[str, Any]:
        times = [self.anchor + u.at for i in spec.incidents for _, u in self._visible_updates(i)]
        updated = max(times, default=self.anchor - 86400)
        return {
            "id": _code("page", spec.id),
            "name": spec.name,
            "url": spec.url or f"https://status.{spec.id}.example",
            "time_zone": "Etc/UTC",
            "updated_at": rfc3339_millis(updated),
        }

    def components(self, spec: ProviderSpec) -> list[dict[str, Any]]:
        states = self._component_states(spec)
        page_id = _code("page", spec.id)
        created = rfc3339_millis(self.anchor - CREATED_BEFORE)
        groups: dict[str, list[str]] = {}
        for component in spec.components:
            if component.group:
                groups.setdefault(component.group, []).append(_code("component", spec.id, component.id))
        rendered: list[dict[str, Any]] = []
        for position, (group, members) in enumerate(groups.items(), start=1):
            worst = max(
                (states[c.id][0] for c in spec.components if c.group == group),
                key=lambda s: _RANK[_COMPONENT_INDICATOR[s]],
            )
            rendered.append(
                {
                    "id": _code("group", spec.id, group),
                    "name": group,
                    "status": worst,
                    "created_at": created,
                    "updated_at": created,
                    "position": position,
                    "description": None,
                    "showcase": False,
                    "start_date": None,
                    "group_id": None,
                    "page_id": page_id,
                    "group": True,
                    "only_show_if_degraded": False,
                    "components": members,
                }
            )
        for position, component in enumerate(spec.components, start=len(groups) + 1):
            status, since = states[component.id]
            rendered.append(
                {
                    "id": _code("component", spec.id, component.id),
                    "name": component.name,
                    "status": status,
                    "created_at": created,
                    "updated_at": rfc3339_millis(since),
                    "position": position,
                    "description": component.description or None,
                    "showcase": True,
                    "start_date": None,
                    "group_id": _code("group", spec.id, component.group) if component.group else None,
                    "page_id": page_id,
                    "group": False,
                    "only_show_if_degraded": False,
                }
            )
        return rendered

    def incidents(self, spec: ProviderSpec, *, unresolved_only: bool) -> list[dict[str, Any]]:
        out = []
        for incident in spec.incidents:
            rendered = self._incident(spec, incident)
            if rendered is None or (unresolved_only and rendered["status"] == "resolved"):
                continue
            out.append(rendered)
        return sorted(out, key=lambda i: i["created_at"], reverse=True)

    def _incident(self, spec: ProviderSpec, incident: ProviderIncident) -> dict[str, Any] | None:
        visible = self._visible_updates(incident)
        if not visible:
            return None
        page_id = _code("page", spec.id)
        incident_id = _code("incident", spec.id, incident.id)
        names = {c.id: c.name for c in spec.components}
        before = {c.id: c.status for c in spec.components}
        updates = []
        touched: list[str] = []
        for index, update in visible:
            at = rfc3339_millis(self.anchor + update.at)
            affected = []
            for component, status in update.components.items():
                affected.append(
                    {
                        "code": _code("component", spec.id, component),
                        "name": names[component],
                        "old_status": before[component],
                        "new_status": status,
                    }
                )
                before[component] = status
                if component not in touched:
                    touched.append(component)
            updates.append(
                {
                    "id": _code("update", spec.id, incident.id, index),
                    "status": update.status,
                    "body": update.body,
                    "incident_id": incident_id,
                    "created_at": at,
                    "updated_at": at,
                    "display_at": at,
                    "affected_components": affected or None,
                    "deliver_notifications": True,
                    "custom_tweet": None,
                    "tweet_id": None,
                }
            )
        latest = visible[-1][1]
        first_at = rfc3339_millis(self.anchor + visible[0][1].at)
        resolved = next((u for _, u in visible if u.status == "resolved"), None)
        monitoring = next((u for _, u in visible if u.status == "monitoring"), None)
        component_blocks = {c["id"]: c for c in self.components(spec)}
        return {
            "id": incident_id,
            "name": incident.name,
            "status": latest.status,
            "created_at": first_at,
            "updated_at": rfc3339_millis(self.anchor + latest.at),
            "monitoring_at": rfc3339_millis(self.anchor + monitoring.at) if monitoring else None,
            "resolved_at": rfc3339_millis(self.anchor + resolved.at) if resolved else None,
            "impact": incident.impact,
            "shortlink": incident.shortlink or f"https://stspg.io/{incident_id[:7]}",
            "started_at": first_at,
            "page_id": page_id,
            "incident_updates": list(reversed(updates)),
            "components": [component_blocks[_code("component", spec.id, c)] for c in touched],
        }

    def status(self, spec: ProviderSpec) -> dict[str, str]:
        levels = [_COMPONENT_INDICATOR[status] for status, _ in self._component_states(spec).values()]
        levels += [i["impact"] for i in self.incidents(spec, unresolved_only=True)]
        indicator = max(levels, key=lambda level: _RANK[level], default="none")
        return {"indicator": indicator, "description": _DESCRIPTION[indicator]}

    # -- documents
    def summary(self, provider_id: str) -> dict[str, Any]:
        spec = self.page(provider_id)
        return {
            "page": self._page_block(spec),
            "components": self.components(spec),
            "incidents": self.incidents(spec, unresolved_only=True),
            "scheduled_maintenances": [],
            "status": self.status(spec),
        }

    def document(self, provider_id: str, name: str) -> dict[str, Any]:
        """``status``, ``components``, ``incidents``, ``incidents/unresolved`` or ``summary``."""
        spec = self.page(provider_id)
        page = self._page_block(spec)
        if name == "summary":
            return self.summary(provider_id)
        if name == "status":
            return {"page": page, "status": self.status(spec)}
        if name == "components":
            return {"page": page, "components": self.components(spec)}
        if name == "incidents":
            return {"page": page, "incidents": self.incidents(spec, unresolved_only=False)[:50]}
        if name == "incidents/unresolved":
            return {"page": page, "incidents": self.incidents(spec, unresolved_only=True)}
        raise ProviderError(404, "Not found")
