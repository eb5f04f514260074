"""PagerDuty REST API v2 (``https://api.pagerduty.com``): incidents, their notes, who is on call; add a note.

Every request sends ``Authorization: Token token=<key>`` and ``Accept:
application/vnd.pagerduty+json;version=2``. Writes also need ``From: <email of a valid PagerDuty
user>``, the ``from_email`` setting: PagerDuty records the note as written by that user. Array filters
use the ``name[]`` form (``statuses[]=triggered&statuses[]=acknowledged``). Lists read one page
(``limit`` at most 100); ``more`` says when there is another. Errors are
``{"error": {"message", "code", "errors": [...]}}`` and are reported with all three.

Sending alerts (trigger, acknowledge, resolve) is the Events API, a different endpoint and key: see
`tools.pagerduty_events`.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tools.base import (
    Adapter,
    AdapterSettings,
    SafetyMetadata,
    TimeWindow,
    ToolInputError,
    ToolResult,
    tool_call,
)
from tools.wire import (
    UtcDatetime,
    as_dict,
    as_list,
    clip,
    decode_json,
    expect_dict,
    expect_list,
    json_field,
    malformed,
    opt_int,
    opt_str,
    rfc3339,
)

PD_ACCEPT = "application/vnd.pagerduty+json;version=2"
ID_PATTERN = r"^[A-Z0-9]{2,20}$"
MAX_NOTE_CHARS = 25_000

IncidentStatus = Literal["triggered", "acknowledged", "resolved"]
OPEN_STATUSES: tuple[IncidentStatus, ...] = ("triggered", "acknowledged")

NOTE_SAFETY = SafetyMetadata(
    mutating=True,
    # PagerDuty has no API to edit or delete a note; a wrong one is corrected by another note.
    reversible=False,
    idempotent=False,  # the same note twice is two notes
    blast_radius="single_resource",
    approval_tier="auto",
    action_class="communicate",
)


class PagerDutySettings(AdapterSettings):
    from_email: str | None = Field(
        default=None,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="Email of the PagerDuty user writes are made as (the From header); needed by add_note.",
    )


class ListIncidentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    statuses: list[IncidentStatus] = Field(
        default_factory=lambda: list(OPEN_STATUSES),
        description="Only incidents in these statuses (default: the open ones).",
    )
    service_ids: list[str] = Field(
        default_factory=list, max_length=50, description="Only incidents of these PagerDuty service ids, e.g. PSVC123."
    )
    since: UtcDatetime | None = Field(default=None, description="Only incidents created at or after this time (UTC).")
    until: UtcDatetime | None = Field(default=None, description="Only incidents created before this time (UTC).")
    limit: int = Field(default=25, ge=1, le=100, description="Maximum number of incidents, newest first.")

    @field_validator("service_ids")
    @classmethod
    def _ids(cls, ids: list[str]) -> list[str]:
        return _check_ids(ids)

    @field_validator("until")
    @classmethod
    def _until_after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and until <= since:
            raise ValueError(f"until ({rfc3339(until)}) must be after since ({rfc3339(since)})")
        return until


class IncidentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_id: str = Field(pattern=ID_PATTERN, description="PagerDuty incident id, e.g. Q1ABCDEF2GHIJK.")


class AddNoteInput(IncidentRef):
    content: str = Field(
        min_length=1, max_length=MAX_NOTE_CHARS, description="The note responders read on the incident's timeline."
    )


class ListOncallsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    escalation_policy_ids: list[str] = Field(
        default_factory=list, max_length=50, description="Only on-calls of these escalation policies."
    )
    schedule_ids: list[str] = Field(
        default_factory=list, max_length=50, description="Only on-calls of these schedules."
    )
    user_ids: list[str] = Field(default_factory=list, max_length=50, description="Only these users' on-calls.")
    since: UtcDatetime | None = Field(default=None, description="Start of the time range (UTC); default now.")
    until: UtcDatetime | None = Field(default=None, description="End of the time range (UTC); default now.")

    @field_validator("escalation_policy_ids", "schedule_ids", "user_ids")
    @classmethod
    def _ids(cls, ids: list[str]) -> list[str]:
        return _check_ids(ids)


def _check_ids(ids: list[str]) -> list[str]:
    bad = [i for i in ids if not re.match(ID_PATTERN, i)]
    if bad:
        raise ValueError(f"PagerDuty ids are upper-case letters and digits: {', '.join(map(repr, bad))}")
    return ids


class PagerDutyAdapter(Adapter):
    """Reads incidents and on-call from one PagerDuty account and adds notes, with a REST API key."""

    kind: ClassVar[str] = "pagerduty"
    description: ClassVar[str] = "PagerDuty REST: incidents, their notes and who is on call; add a note to an incident."
    settings_model: ClassVar[type[AdapterSettings]] = PagerDutySettings
    auth_scheme: ClassVar[str] = "Token token="
    settings: PagerDutySettings

    @tool_call(
        description="List PagerDuty incidents, newest first: by status (default open), service and creation time."
    )
    async def list_incidents(self, args: ListIncidentsInput) -> ToolResult:
        params: list[tuple[str, Any]] = [("statuses[]", s) for s in args.statuses]
        params += [("service_ids[]", s) for s in args.service_ids]
        if args.since:
            params.append(("since", rfc3339(args.since)))
        if args.until:
            params.append(("until", rfc3339(args.until)))
        params += [("limit", args.limit), ("total", "true"), ("sort_by", "created_at:desc")]
        path = "/incidents"
        response, body = await self._send("GET", path, params=params)
        items = expect_list(self.http, response, path, body.get("incidents"), "incidents")
        incidents = [_incident(i) for i in items if isinstance(i, dict)]
        counts = Counter(i["status"] for i in incidents)
        window = TimeWindow(start=args.since, end=args.until) if args.since and args.until else None
        scope = "/".join(args.statuses) + (f" of {', '.join(args.service_ids)}" if args.service_ids else "")
        return ToolResult(
            tool=self.tool_id("list_incidents"),
            status="ok" if incidents else "no_data",
            query=f"GET {path}",
            params=_shown(params),
            window=window,
            data={
                "incidents": incidents,
                "returned": len(incidents),
                "total": opt_int(body.get("total")),
                "more": body.get("more") is True,
            },
            summary=(
                f"{len(incidents)}{'+' if body.get('more') is True else ''} {scope} incidents ("
                + ", ".join(f"{n} {s}" for s, n in counts.most_common())
                + f"); newest: #{incidents[0]['number']} {incidents[0]['title']!r} ({incidents[0]['status']}, "
                f"{incidents[0]['urgency']}) on {incidents[0]['service']} at {incidents[0]['created_at']}"
                if incidents
                else f"no {scope} incidents"
            ),
        )

    @tool_call(description="Read one PagerDuty incident: status, urgency, service, assignees, acknowledgements.")
    async def get_incident(self, args: IncidentRef) -> ToolResult:
        path = f"/incidents/{args.incident_id}"
        response, body = await self._send("GET", path)
        incident = expect_dict(self.http, response, path, body.get("incident"), "incident")
        data = _incident(incident)
        if data["id"] is None:
            raise malformed(self.http, response, path, "the incident has no id")
        who = ", ".join(data["assignees"]) or "nobody"
        return ToolResult(
            tool=self.tool_id("get_incident"),
            status="ok",
            query=f"GET {path}",
            params={},
            data=data,
            summary=f"#{data['number']} {data['title']!r} is {data['status']} ({data['urgency']} urgency) on "
            f"{data['service']}, assigned to {who}, created {data['created_at']}",
        )

    @tool_call(description="List the notes on a PagerDuty incident's timeline, oldest first.")
    async def list_notes(self, args: IncidentRef) -> ToolResult:
        path = f"/incidents/{args.incident_id}/notes"
        response, body = await self._send("GET", path)
        notes = [
            _note(n) for n in expect_list(self.http, response, path, body.get("notes"), "notes") if isinstance(n, dict)
        ]
        return ToolResult(
            tool=self.tool_id("list_notes"),
            status="ok" if notes else "no_data",
            query=f"GET {path}",
            params={},
            data={"notes": notes, "count": len(notes)},
            summary=f"{len(notes)} notes on {args.incident_id}; latest by {notes[-1]['user']}: {clip(notes[-1]['content'] or '', 120)!r}"
            if notes
            else f"no notes on {args.incident_id}",
        )

    @tool_call(
        description="Add a note to a PagerDuty incident's timeline (as the configured from_email user).",
        safety=NOTE_SAFETY,
    )
    async def add_note(self, args: AddNoteInput) -> ToolResult:
        if not self.settings.from_email:
            raise ToolInputError(
                f"tools.{self.instance}.from_email is not set: PagerDuty needs the email of a valid user in the "
                "From header to add a note"
            )
        path = f"/incidents/{args.incident_id}/notes"
        body = {"note": {"content": args.content}}
        response, answer = await self._send("POST", path, json=body, headers={"From": self.settings.from_email})
        note = _note(expect_dict(self.http, response, path, answer.get("note"), "note"))
        return ToolResult(
            tool=self.tool_id("add_note"),
            status="ok",
            query=f"POST {path}",
            params=body,
            data=note,
            summary=f"note {note['id']} added to {args.incident_id} as {note['user'] or self.settings.from_email}: "
            f"{clip(args.content, 100)!r}",
        )

    @tool_call(
        description="Who is on call: by escalation policy, schedule or user, with escalation level and shift end."
    )
    async def list_oncalls(self, args: ListOncallsInput) -> ToolResult:
        params: list[tuple[str, Any]] = [("escalation_policy_ids[]", i) for i in args.escalation_policy_ids]
        params += [("schedule_ids[]", i) for i in args.schedule_ids]
        params += [("user_ids[]", i) for i in args.user_ids]
        if args.since:
            params.append(("since", rfc3339(args.since)))
        if args.until:
            params.append(("until", rfc3339(args.until)))
        params += [("earliest", "true"), ("limit", 100)]
        path = "/oncalls"
        response, body = await self._send("GET", path, params=params)
        oncalls = [
            _oncall(o)
            for o in expect_list(self.http, response, path, body.get("oncalls"), "oncalls")
            if isinstance(o, dict)
        ]
        oncalls.sort(key=lambda o: (o["escalation_policy"] or "", o["level"] or 0))
        return ToolResult(
            tool=self.tool_id("list_oncalls"),
            status="ok" if oncalls else "no_data",
            query=f"GET {path}",
            params=_shown(params),
            window=TimeWindow(start=args.since, end=args.until) if args.since and args.until else None,
            data={"oncalls": oncalls, "count": len(oncalls), "more": body.get("more") is True},
            summary="on call: "
            + "; ".join(
                f"{o['user']} (level {o['level']} of {o['escalation_policy']}"
                + (f", until {o['end']})" if o["end"] else ", permanently)")
                for o in oncalls[:5]
            )
            if oncalls
            else "nobody on call matches",
        )

    async def check(self) -> str:
        """``GET /abilities``: any valid key may read it, an invalid one is a 401."""
        response, body = await self._send("GET", "/abilities")
        abilities = expect_list(self.http, response, "/abilities", body.get("abilities"), "abilities")
        writes = (
            f"; notes written as {self.settings.from_email}"
            if self.settings.from_email
            else "; no from_email: add_note is unavailable"
        )
        return f"PagerDuty account with {len(abilities)} abilities{writes}"

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: list[tuple[str, Any]] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[httpx.Response, dict[str, Any]]:
        response = await self.http.request(
            method,
            path,
            params=params,
            json=json,
            headers={"Accept": PD_ACCEPT, **(headers or {})},
            describe_error=describe_pagerduty_error,
        )
        return response, expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")


def describe_pagerduty_error(response: httpx.Response) -> str | None:
    """``PagerDuty: Invalid Input Provided (code 2001): since is not a valid date``."""
    error = json_field(response, "error")
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return None
    text = f"PagerDuty: {error['message']}"
    if opt_int(error.get("code")) is not None:
        text += f" (code {error['code']})"
    details = [str(e) for e in as_list(error.get("errors"))[:3]]
    return text + (f": {'; '.join(details)}" if details else "")


def _shown(params: list[tuple[str, Any]]) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for key, value in params:
        if key.endswith("[]"):
            shown.setdefault(key, []).append(value)
        else:
            shown[key] = value
    return shown


def _summary(ref: Any) -> str | None:
    return opt_str(as_dict(ref).get("summary")) or opt_str(as_dict(ref).get("id"))


def _incident(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": opt_str(item.get("id")),
        "number": opt_int(item.get("incident_number")),
        "title": opt_str(item.get("title")) or opt_str(item.get("summary")),
        "status": opt_str(item.get("status")),
        "urgency": opt_str(item.get("urgency")),
        "service": _summary(item.get("service")),
        "service_id": opt_str(as_dict(item.get("service")).get("id")),
        "escalation_policy": _summary(item.get("escalation_policy")),
        "assignees": [s for a in as_list(item.get("assignments")) if (s := _summary(as_dict(a).get("assignee")))],
        "acknowledged_by": [
            s for a in as_list(item.get("acknowledgements")) if (s := _summary(as_dict(a).get("acknowledger")))
        ],
        "incident_key": opt_str(item.get("incident_key")),
        "created_at": opt_str(item.get("created_at")),
        "last_status_change_at": opt_str(item.get("last_status_change_at")),
        "url": opt_str(item.get("html_url")),
    }


def _note(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": opt_str(item.get("id")),
        "user": _summary(item.get("user")),
        "content": opt_str(item.get("content")),
        "created_at": opt_str(item.get("created_at")),
    }


def _oncall(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "user": _summary(item.get("user")),
        "user_id": opt_str(as_dict(item.get("user")).get("id")),
        "escalation_policy": _summary(item.get("escalation_policy")),
        "schedule": _summary(item.get("schedule")),
        "level": opt_int(item.get("escalation_level")),
        "start": opt_str(item.get("start")),
        "end": opt_str(item.get("end")),
    }
