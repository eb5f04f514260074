"""Simulated communication services: Statuspage incidents, Slack messages, PagerDuty incidents (the REST
API and the Events API v2 that pages).

Their state starts from the scenario's ``integrations`` section and changes only through the API;
`World.snapshot` exposes all of it for eval scoring (what was posted, where, and when).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.sim.scenario import Alert, Scenario
from evals.sim.timeutil import rfc3339, rfc3339_millis

INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")
COMPONENT_STATUSES = ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage")
IMPACTS = ("none", "minor", "major", "critical")
_IMPACT_OF_COMPONENT = {
    "operational": "none",
    "under_maintenance": "none",
    "degraded_performance": "minor",
    "partial_outage": "major",
    "major_outage": "critical",
}


def _token(*parts: object, length: int = 12) -> str:
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class StatuspageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error": self.message}


class StatuspageState:
    """One page, its components and the incidents created during the run."""

    def __init__(self, scenario: Scenario, *, now: Callable[[], float]) -> None:
        spec = scenario.integrations.statuspage
        self._now = now
        self.page_id = spec.page_id if spec else None
        self.page_name = spec.name if spec else ""
        created = now() - 365 * 86400
        self.components: dict[str, dict[str, Any]] = {}
        for position, component in enumerate(spec.components if spec else []):
            self.components[component.id] = {
                "id": component.id,
                "page_id": self.page_id,
                "group_id": None,
                "created_at": rfc3339_millis(created),
                "updated_at": rfc3339_millis(created),
                "group": False,
                "name": component.name,
                "description": component.description or None,
                "position": position + 1,
                "status": component.status,
                "showcase": True,
                "only_show_if_degraded": False,
                "automation_email": f"component+{component.id}@notifications.statuspage.io",
                "start_date": None,
            }
        self.incidents: list[dict[str, Any]] = []

    def check_page(self, page_id: str) -> None:
        if self.page_id is None or page_id != self.page_id:
            raise StatuspageError(404, "Could not find page")

    def incident(self, page_id: str, incident_id: str) -> dict[str, Any]:
        self.check_page(page_id)
        for incident in self.incidents:
            if incident["id"] == incident_id:
                return incident
        raise StatuspageError(404, "Could not find incident")

    def _apply_components(self, requested: Any) -> list[dict[str, Any]]:
        """Set component statuses; returns the affected_components entries of the update."""
        if requested is None:
            return []
        if not isinstance(requested, dict):
            raise StatuspageError(422, "components must be an object of component id to status")
        affected = []
        now = rfc3339_millis(self._now())
        for component_id, status in requested.items():
            component = self.components.get(component_id)
            if component is None:
                raise StatuspageError(422, f"Component {component_id} could not be found")
            if status not in COMPONENT_STATUSES:
                raise StatuspageError(
                    422, f"Status {status!r} is not a valid component status ({', '.join(COMPONENT_STATUSES)})"
                )
            affected.append(
                {
                    "code": component_id,
                    "name": component["name"],
                    "old_status": component["status"],
                    "new_status": status,
                }
            )
            component["status"] = status
            component["updated_at"] = now
        return affected

    def _impact(self, requested: Any, component_ids: list[str]) -> str:
        if requested is not None:
            if requested not in IMPACTS:
                raise StatuspageError(422, f"Impact override {requested!r} is not valid ({', '.join(IMPACTS)})")
            return str(requested)
        worst = "none"
        for component_id in component_ids:
            impact = _IMPACT_OF_COMPONENT[self.components[component_id]["status"]]
            if IMPACTS.index(impact) > IMPACTS.index(worst):
                worst = impact
        return worst

    def create(self, page_id: str, body: Any) -> dict[str, Any]:
        self.check_page(page_id)
        fields = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise StatuspageError(400, "incident is missing")
        name = fields.get("name")
        if not isinstance(name, str) or not name.strip():
            raise StatuspageError(422, "Name can't be blank")
        status = fields.get("status", "investigating")
        if status not in INCIDENT_STATUSES:
            raise StatuspageError(
                422, f"Status {status!r} is not included in the list ({', '.join(INCIDENT_STATUSES)})"
            )
        component_ids = list(fields.get("component_ids") or [])
        requested_components = fields.get("components")
        if isinstance(requested_components, dict):
            component_ids = list(dict.fromkeys([*component_ids, *requested_components]))
        for component_id in component_ids:
            if component_id not in self.components:
                raise StatuspageError(422, f"Component {component_id} could not be found")
        affected = self._apply_components(requested_components)
        now = self._now()
        incident_id = _token(self.page_id, "incident", len(self.incidents), now)
        incident: dict[str, Any] = {
            "id": incident_id,
            "name": name,
            "status": status,
            "created_at": rfc3339_millis(now),
            "updated_at": rfc3339_millis(now),
            "monitoring_at": rfc3339_millis(now) if status == "monitoring" else None,
            "resolved_at": rfc3339_millis(now) if status == "resolved" else None,
            "impact": self._impact(fields.get("impact_override"), component_ids),
            "shortlink": f"https://stspg.io/{incident_id[:5]}",
            "started_at": rfc3339_millis(now),
            "page_id": self.page_id,
            "incident_updates": [],
            "postmortem_body": None,
            "postmortem_published_at": None,
            "scheduled_for": None,
            "scheduled_until": None,
            "impact_override": fields.get("impact_override"),
            "metadata": fields.get("metadata") or {},
            "components": [],
            "_component_ids": component_ids,
        }
        self._add_update(
            incident, status, str(fields.get("body") or ""), affected, fields.get("deliver_notifications", True)
        )
        self.incidents.insert(0, incident)
        return self.render(incident)

    def _add_update(
        self, incident: dict[str, Any], status: str, body: str, affected: list[dict[str, Any]], deliver: Any
    ) -> None:
        now = rfc3339_millis(self._now())
        update_id = _token(incident["id"], "update", len(incident["incident_updates"]))
        incident["incident_updates"].insert(
            0,
            {
                "id": update_id,
                "incident_id": incident["id"],
                "status": status,
                "body": body,
                "created_at": now,
                "updated_at": now,
                "display_at": now,
                "affected_components": affected or None,
                "deliver_notifications": bool(deliver),
                "custom_tweet": None,
                "tweet_id": None,
            },
        )

    def update(self, page_id: str, incident_id: str, body: Any) -> dict[str, Any]:
        incident = self.incident(page_id, incident_id)
        fields = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise StatuspageError(400, "incident is missing")
        status = fields.get("status", incident["status"])
        if status not in INCIDENT_STATUSES:
            raise StatuspageError(
                422, f"Status {status!r} is not included in the list ({', '.join(INCIDENT_STATUSES)})"
            )
        requested_components = fields.get("components")
        if isinstance(requested_components, dict):
            incident["_component_ids"] = list(dict.fromkeys([*incident["_component_ids"], *requested_components]))
        for component_id in fields.get("component_ids") or []:
            if component_id not in self.components:
                raise StatuspageError(422, f"Component {component_id} could not be found")
            if component_id not in incident["_component_ids"]:
                incident["_component_ids"].append(component_id)
        affected = self._apply_components(requested_components)
        now = rfc3339_millis(self._now())
        if "name" in fields:
            incident["name"] = fields["name"]
        if "impact_override" in fields:
            incident["impact_override"] = fields["impact_override"]
        incident["impact"] = self._impact(incident["impact_override"], incident["_component_ids"])
        if status != incident["status"]:
            if status == "monitoring":
                incident["monitoring_at"] = now
            if status == "resolved":
                incident["resolved_at"] = now
        incident["status"] = status
        incident["updated_at"] = now
        if fields.get("body") or affected or status != incident["incident_updates"][0]["status"]:
            self._add_update(
                incident, status, str(fields.get("body") or ""), affected, fields.get("deliver_notifications", True)
            )
        return self.render(incident)

    def render(self, incident: dict[str, Any]) -> dict[str, Any]:
        rendered = {k: copy.deepcopy(v) for k, v in incident.items() if not k.startswith("_")}
        rendered["components"] = [copy.deepcopy(self.components[c]) for c in incident["_component_ids"]]
        return rendered

    def list_incidents(
        self, page_id: str, *, q: str | None = None, unresolved_only: bool = False
    ) -> list[dict[str, Any]]:
        self.check_page(page_id)
        found = [i for i in self.incidents if not unresolved_only or i["status"] != "resolved"]
        if q:
            found = [i for i in found if q.lower() in i["name"].lower()]
        return [self.render(i) for i in found]

    def list_components(self, page_id: str) -> list[dict[str, Any]]:
        self.check_page(page_id)
        return [copy.deepcopy(c) for c in self.components.values()]

    def update_component(self, page_id: str, component_id: str, body: Any) -> dict[str, Any]:
        self.check_page(page_id)
        if component_id not in self.components:
            raise StatuspageError(404, "Could not find component")
        fields = body.get("component") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise StatuspageError(400, "component is missing")
        if "status" in fields:
            self._apply_components({component_id: fields["status"]})
        for key in ("name", "description"):
            if key in fields:
                self.components[component_id][key] = fields[key]
        return copy.deepcopy(self.components[component_id])


# --------------------------------------------------------------------------------------------- Slack


class SlackState:
    """Channels from the scenario and every message posted or updated."""

    def __init__(self, scenario: Scenario, *, now: Callable[[], float]) -> None:
        spec = scenario.integrations.slack
        self.spec = spec
        self._now = now
        self.channels = {c.id: c.name for c in spec.channels}
        self.messages: list[dict[str, Any]] = []
        self._last_ts = 0.0

    def resolve_channel(self, channel: Any) -> str | None:
        if not isinstance(channel, str):
            return None
        if channel in self.channels:
            return channel
        name = channel.lstrip("#")
        for channel_id, channel_name in self.channels.items():
            if channel_name == name:
                return channel_id
        return None

    def _next_ts(self) -> str:
        # Slack ts values are unique per channel and increase: seconds with six decimals.
        candidate = max(round(self._now(), 6), round(self._last_ts + 0.000001, 6))
        self._last_ts = candidate
        return f"{candidate:.6f}"

    def _message(self, fields: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "user": self.spec.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.spec.bot_id,
            "app_id": "A0FIRSTLINE",
            "text": fields.get("text") or "",
            "team": self.spec.team_id,
            "bot_profile": {
                "id": self.spec.bot_id,
                "name": "firstline",
                "app_id": "A0FIRSTLINE",
                "team_id": self.spec.team_id,
            },
        }
        if fields.get("blocks"):
            message["blocks"] = fields["blocks"]
        if fields.get("thread_ts"):
            message["thread_ts"] = fields["thread_ts"]
            message["parent_user_id"] = self.spec.bot_user_id
        return message

    def post(self, fields: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(fields.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if not fields.get("text") and not fields.get("blocks") and not fields.get("attachments"):
            return {"ok": False, "error": "no_text"}
        thread = fields.get("thread_ts")
        if thread and not any(m["channel"] == channel and m["ts"] == thread for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        ts = self._next_ts()
        message = self._message(fields, ts)
        self.messages.append({"channel": channel, **message})
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def update(self, fields: dict[str, Any]) -> dict[str, Any]:
        channel = self.resolve_channel(fields.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = fields.get("ts")
        for stored in self.messages:
            if stored["channel"] == channel and stored["ts"] == ts:
                if "text" in fields:
                    stored["text"] = fields["text"] or ""
                if "blocks" in fields:
                    stored["blocks"] = fields["blocks"]
                stored["edited"] = {"user": self.spec.bot_user_id, "ts": self._next_ts()}
                message = {k: v for k, v in stored.items() if k != "channel"}
                return {"ok": True, "channel": channel, "ts": ts, "text": stored["text"], "message": message}
        return {"ok": False, "error": "message_not_found"}


# ----------------------------------------------------------------------------------------- PagerDuty


class PagerDutyError(Exception):
    def __init__(self, status: int, message: str, code: int, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


@dataclass
class PagerDutyIncident:
    id: str
    number: int
    title: str
    service_id: str
    status: str
    urgency: str
    incident_key: str
    created_at: float
    updated_at: float
    details: str = ""
    notes: list[dict[str, Any]] = field(default_factory=list)
    acknowledged_at: float | None = None


class PagerDutyState:
    """Users, escalation policies, schedules, services and on-calls from the scenario; incidents
    raised by the scenario's paging alerts once they fire, or created through the API."""

    def __init__(
        self, scenario: Scenario, *, anchor: float, now: Callable[[], float], fingerprint: Callable[[Alert], str]
    ) -> None:
        self.spec = scenario.integrations.pagerduty
        self._now = now
        self.users = {u.id: u for u in self.spec.users}
        self.policies = {p.id: p for p in self.spec.escalation_policies}
        self.schedules = {s.id: s for s in self.spec.schedules}
        self.services = {s.id: s for s in self.spec.services}
        self.incidents: list[PagerDutyIncident] = []
        self.events: list[dict[str, Any]] = []  # Events API v2 events received, without their routing key
        # Incidents the scenario's alerts open; they appear once the alert has fired.
        for alert in scenario.alerts:
            if alert.pagerduty_service is None:
                continue
            at = anchor + alert.fires_at
            self.incidents.append(
                PagerDutyIncident(
                    id="Q" + _token("pd", alert.name, length=13).upper(),
                    number=1000 + len(self.incidents) + 1,
                    title=alert.annotations.get("summary", alert.name),
                    service_id=alert.pagerduty_service,
                    status="triggered",
                    urgency="high",
                    incident_key=fingerprint(alert),
                    created_at=at,
                    updated_at=at,
                    details=alert.annotations.get("description", ""),
                )
            )

    def _ref(self, kind: str, obj_id: str, summary: str, path: str) -> dict[str, Any]:
        return {
            "id": obj_id,
            "type": f"{kind}_reference",
            "summary": summary,
            "self": f"https://api.pagerduty.com/{path}/{obj_id}",
            "html_url": f"https://acme.pagerduty.com/{path}/{obj_id}",
        }

    def user_ref(self, user_id: str) -> dict[str, Any]:
        user = self.users.get(user_id)
        return self._ref("user", user_id, user.name if user else user_id, "users")

    def oncall_user(self, policy_id: str, level: int = 1) -> str | None:
        for oncall in self.spec.oncalls:
            if oncall.escalation_policy == policy_id and oncall.level == level:
                return oncall.user
        return None

    def visible(self) -> list[PagerDutyIncident]:
        now = self._now()
        return [i for i in self.incidents if i.created_at <= now]

    def incident(self, incident_id: str) -> PagerDutyIncident:
        for incident in self.visible():
            if incident.id == incident_id:
                return incident
        raise PagerDutyError(404, "Not Found", 2100)

    def render(self, incident: PagerDutyIncident) -> dict[str, Any]:
        service = self.services.get(incident.service_id)
        policy_id = service.escalation_policy if service else ""
        policy = self.policies.get(policy_id)
        assignee = self.oncall_user(policy_id)
        return {
            "id": incident.id,
            "type": "incident",
            "summary": f"[#{incident.number}] {incident.title}",
            "self": f"https://api.pagerduty.com/incidents/{incident.id}",
            "html_url": f"https://acme.pagerduty.com/incidents/{incident.id}",
            "incident_number": incident.number,
            "title": incident.title,
            "description": incident.title,
            "created_at": _pd_time(incident.created_at),
            "updated_at": _pd_time(incident.updated_at),
            "last_status_change_at": _pd_time(incident.updated_at),
            "status": incident.status,
            "incident_key": incident.incident_key,
            "service": self._ref(
                "service", incident.service_id, service.name if service else incident.service_id, "services"
            ),
            "assignments": []
            if assignee is None or incident.status == "resolved"
            else [{"at": _pd_time(incident.created_at), "assignee": self.user_ref(assignee)}],
            "acknowledgements": []
            if incident.acknowledged_at is None or assignee is None
            else [{"at": _pd_time(incident.acknowledged_at), "acknowledger": self.user_ref(assignee)}],
            "escalation_policy": self._ref(
                "escalation_policy", policy_id, policy.name if policy else policy_id, "escalation_policies"
            ),
            "teams": [],
            "urgency": incident.urgency,
            "priority": None,
            "alert_counts": {
                "all": 1,
                "triggered": 0 if incident.status == "resolved" else 1,
                "resolved": 1 if incident.status == "resolved" else 0,
            },
            "body": {"type": "incident_body", "details": incident.details},
            "resolve_reason": None,
            "is_mergeable": True,
        }

    def list_incidents(
        self, *, statuses: list[str], service_ids: list[str], since: float | None, until: float | None
    ) -> list[dict[str, Any]]:
        found = self.visible()
        if statuses:
            found = [i for i in found if i.status in statuses]
        if service_ids:
            found = [i for i in found if i.service_id in service_ids]
        if since is not None:
            found = [i for i in found if i.created_at >= since]
        if until is not None:
            found = [i for i in found if i.created_at < until]
        return [self.render(i) for i in sorted(found, key=lambda i: i.created_at)]

    def create(self, body: Any, requester: str | None) -> dict[str, Any]:
        fields = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise PagerDutyError(400, "Invalid Input Provided", 2001, ["Incident is missing."])
        service_id = (fields.get("service") or {}).get("id") if isinstance(fields.get("service"), dict) else None
        if service_id not in self.services:
            raise PagerDutyError(400, "Invalid Input Provided", 2001, ["Service not found."])
        title = fields.get("title")
        if not isinstance(title, str) or not title:
            raise PagerDutyError(400, "Invalid Input Provided", 2001, ["Title cannot be empty."])
        key = str(fields.get("incident_key") or _token("pd-key", len(self.incidents), self._now()))
        if any(i.incident_key == key and i.service_id == service_id and i.status != "resolved" for i in self.incidents):
            raise PagerDutyError(
                400,
                "Invalid Input Provided",
                2001,
                ["Open incident with matching dedup key already exists on this service"],
            )
        now = self._now()
        details = fields.get("body", {}).get("details", "") if isinstance(fields.get("body"), dict) else ""
        incident = PagerDutyIncident(
            id="Q" + _token("pd", key, now, length=13).upper(),
            number=1000 + len(self.incidents) + 1,
            title=title,
            service_id=service_id,
            status="triggered",
            urgency=str(fields.get("urgency") or "high"),
            incident_key=key,
            created_at=now,
            updated_at=now,
            details=str(details),
        )
        self.incidents.append(incident)
        return self.render(incident)

    def update(self, incident_id: str, body: Any) -> dict[str, Any]:
        incident = self.incident(incident_id)
        fields = body.get("incident") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            raise PagerDutyError(400, "Invalid Input Provided", 2001, ["Incident is missing."])
        status = fields.get("status")
        if status is not None:
            if status not in ("acknowledged", "resolved"):
                raise PagerDutyError(400, "Invalid Input Provided", 2001, [f"Status {status!r} is not valid."])
            if incident.status == "resolved":
                raise PagerDutyError(400, "Incident Already Resolved", 1001)
            now = self._now()
            if status == "acknowledged":
                incident.acknowledged_at = now
            incident.status = status
            incident.updated_at = now
        if isinstance(fields.get("title"), str):
            incident.title = fields["title"]
        return self.render(incident)

    def add_note(self, incident_id: str, body: Any, requester: str | None) -> dict[str, Any]:
        incident = self.incident(incident_id)
        note = body.get("note") if isinstance(body, dict) else None
        content = note.get("content") if isinstance(note, dict) else None
        if not isinstance(content, str) or not content.strip():
            raise PagerDutyError(400, "Invalid Input Provided", 2001, ["Note content cannot be empty."])
        user_id = next((u.id for u in self.users.values() if requester and u.email == requester), None)
        user_id = user_id or next(iter(self.users), "PBOT")
        rendered = {
            "id": "N" + _token("note", incident.id, len(incident.notes), length=13).upper(),
            "user": self.user_ref(user_id),
            "channel": {"summary": "The PagerDuty REST API", "type": "api_reference"},
            "content": content,
            "created_at": _pd_time(self._now()),
        }
        incident.notes.append(rendered)
        return rendered

    def oncalls(self, *, policy_ids: list[str], schedule_ids: list[str], user_ids: list[str]) -> list[dict[str, Any]]:
        now = self._now()
        out = []
        for oncall in self.spec.oncalls:
            if policy_ids and oncall.escalation_policy not in policy_ids:
                continue
            if schedule_ids and oncall.schedule not in schedule_ids:
                continue
            if user_ids and oncall.user not in user_ids:
                continue
            policy = self.policies[oncall.escalation_policy]
            schedule = self.schedules.get(oncall.schedule) if oncall.schedule else None
            week_start = now - (now % (7 * 86400)) + 18 * 3600 - 7 * 86400
            out.append(
                {
                    "escalation_policy": self._ref("escalation_policy", policy.id, policy.name, "escalation_policies"),
                    "escalation_level": oncall.level,
                    "schedule": self._ref("schedule", schedule.id, schedule.name, "schedules") if schedule else None,
                    "user": self.user_ref(oncall.user),
                    "start": _pd_time(week_start) if schedule else None,
                    "end": _pd_time(week_start + 7 * 86400) if schedule else None,
                }
            )
        return out

    def snapshot(self) -> list[dict[str, Any]]:
        return [{**self.render(i), "notes": list(i.notes)} for i in self.visible()]

    # -- Events API v2 (https://events.pagerduty.com/v2/enqueue) ------------------------------------

    def routing_key(self, service_id: str) -> str:
        """The 32-character integration key of one service's Events API v2 integration."""
        return _token("events-v2", service_id, length=32)

    def enqueue(self, body: Any) -> tuple[int, dict[str, Any]]:
        """One event, as the Events API answers it: 202 with the dedup key, or 400 with the errors.

        A trigger opens an incident on the routing key's service (or folds into the open one with the
        same dedup key); acknowledge and resolve act on that open incident; an event for no open one is
        accepted and changes nothing, as PagerDuty does."""
        if not isinstance(body, dict):
            return 400, _invalid_event(["Event object must be a JSON object"])
        service_id = next((sid for sid in self.services if self.routing_key(sid) == body.get("routing_key")), None)
        errors = []
        if service_id is None:
            errors.append("'routing_key' is invalid")
        action = body.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
        payload = body.get("payload") if isinstance(body.get("payload"), dict) else None
        key = body.get("dedup_key")
        if action == "trigger":
            if payload is None:
                errors.append("'payload' is missing or not an object")
            else:
                for name in ("summary", "source", "severity"):
                    if not isinstance(payload.get(name), str) or not payload.get(name):
                        errors.append(f"'payload.{name}' is missing or blank")
                if payload.get("severity") not in (None, "critical", "error", "warning", "info"):
                    errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
        elif not isinstance(key, str) or not key:
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if errors:
            return 400, _invalid_event(errors)
        assert service_id is not None
        key = str(key or _token("dedup", len(self.events), self._now()))
        self.events.append({k: v for k, v in body.items() if k != "routing_key"} | {"service_id": service_id})
        now = self._now()
        open_incident = next(
            (
                i
                for i in self.incidents
                if i.service_id == service_id and i.incident_key == key and i.status != "resolved"
            ),
            None,
        )
        if action == "trigger" and open_incident is None:
            assert payload is not None
            details = payload.get("custom_details")
            self.incidents.append(
                PagerDutyIncident(
                    id="Q" + _token("pd-event", key, now, length=13).upper(),
                    number=1000 + len(self.incidents) + 1,
                    title=str(payload["summary"])[:1024],
                    service_id=service_id,
                    status="triggered",
                    urgency="high" if payload.get("severity") in ("critical", "error") else "low",
                    incident_key=key,
                    created_at=now,
                    updated_at=now,
                    details=json.dumps(details, sort_keys=True) if isinstance(details, dict) else str(details or ""),
                )
            )
        elif open_incident is not None and action in ("acknowledge", "resolve"):
            open_incident.status = "acknowledged" if action == "acknowledge" else "resolved"
            open_incident.updated_at = now
            if action == "acknowledge":
                open_incident.acknowledged_at = now
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}


def _invalid_event(errors: list[str]) -> dict[str, Any]:
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}


def _pd_time(seconds: float) -> str:
    return rfc3339(seconds)
