"""PagerDuty Events API v2 (``POST https://events.pagerduty.com/v2/enqueue``): trigger, acknowledge and
resolve alerts on one service integration.

The credential is the integration's 32-character **routing key**, sent in the body (not a header): the
``routing_key_env`` setting names the variable that holds it, and it is redacted like a token. Events
with the same ``dedup_key`` (and routing key) apply to the same open alert, so `trigger_event` requires
one: a stable key per problem (``firstline/INC-42``) makes repeated triggers update one alert instead
of paging again. After a resolve, a trigger with the same key opens a new alert.

Answers: ``202 {"status": "success", "message": "Event processed", "dedup_key"}``; a bad event is
``400 {"status": "invalid event", "message", "errors": [...]}``; 429 means slow down (reported, not
retried here).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.base import Adapter, AdapterSettings, CheckSkipped, SafetyMetadata, ToolResult, tool_call
from tools.http import HttpCaller, resolve_secret
from tools.wire import (
    UtcDatetime,
    as_list,
    clip,
    decode_json,
    expect_dict,
    json_field,
    malformed,
    opt_str,
    rfc3339,
)

ENQUEUE_PATH = "/v2/enqueue"
DEDUP_PATTERN = r"^[\x21-\x7e ]{1,255}$"

Severity = Literal["critical", "error", "warning", "info"]

TRIGGER_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="resolve the alert: resolve_event with the same dedup_key",
    idempotent=True,  # the dedup_key folds repeated triggers into one alert
    blast_radius="external",  # it pages people
    approval_tier="auto",
    action_class="communicate",
)
ACKNOWLEDGE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=False,  # the Events API cannot un-acknowledge; the alert re-escalates only on its timeout
    idempotent=True,
    blast_radius="external",
    approval_tier="auto",
    action_class="communicate",
)
RESOLVE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="trigger_event again with the same dedup_key: it opens a new alert",
    idempotent=True,
    blast_radius="external",
    # Resolving stops the paging for everyone on the rota: a human should agree in production.
    approval_tier="approve",
    action_class="communicate",
)


class PagerDutyEventsSettings(AdapterSettings):
    base_url: str = Field(default="https://events.pagerduty.com", description="The Events API root.")
    routing_key_env: str = Field(
        description="Environment variable holding the integration's routing key (Events API v2 integration)."
    )
    client: str = Field(default="firstline", max_length=100, description="Sent as the event's client name.")


class DedupKeyField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dedup_key: str = Field(
        pattern=DEDUP_PATTERN,
        description="The alert's key: the same key for every event about one problem, e.g. firstline/INC-42.",
    )


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    href: str = Field(pattern=r"^https?://", max_length=2000, description="URL, e.g. the incident page.")
    text: str = Field(default="", max_length=200, description="Link text.")


class TriggerInput(DedupKeyField):
    summary: str = Field(min_length=1, max_length=1024, description="What is wrong, shown as the alert title.")
    source: str = Field(min_length=1, max_length=255, description="Where: the affected system, e.g. checkout.prod.")
    severity: Severity = Field(description="critical, error, warning or info (sets the urgency with service rules).")
    timestamp: UtcDatetime | None = Field(default=None, description="When the problem started (UTC).")
    component: str | None = Field(default=None, max_length=255, description="Affected component, e.g. api.")
    group: str | None = Field(default=None, max_length=255, description="Logical group, e.g. checkout.")
    event_class: str | None = Field(default=None, max_length=255, description="The problem's class, e.g. error-rate.")
    custom_details: dict[str, Any] = Field(default_factory=dict, description="Extra facts shown on the alert.")
    links: list[Link] = Field(default_factory=list, max_length=10, description="Links shown on the alert.")
    client_url: str | None = Field(
        default=None, pattern=r"^https?://", max_length=2000, description="Link back to firstline's incident page."
    )


class PagerDutyEventsAdapter(Adapter):
    """Sends events to one PagerDuty service integration."""

    kind: ClassVar[str] = "pagerduty_events"
    description: ClassVar[str] = "PagerDuty Events API v2: trigger, acknowledge and resolve alerts (pages people)."
    settings_model: ClassVar[type[AdapterSettings]] = PagerDutyEventsSettings
    settings: PagerDutyEventsSettings

    def __init__(self, instance: str, settings: AdapterSettings, http: HttpCaller, **kwargs: Any) -> None:
        super().__init__(instance, settings, http, **kwargs)
        # Read once at construction so an unset variable fails at start-up, not in the middle of an incident.
        key = resolve_secret(self.settings.routing_key_env, field="routing_key_env", instance=instance)
        assert key is not None  # routing_key_env is required, so resolve_secret either returns or raises
        self._routing_key = key
        http.redact.add(key)

    @tool_call(
        description="Page through PagerDuty: open (or update) the alert with this dedup_key on the configured service.",
        safety=TRIGGER_SAFETY,
    )
    async def trigger_event(self, args: TriggerInput) -> ToolResult:
        payload: dict[str, Any] = {"summary": args.summary, "source": args.source, "severity": args.severity}
        if args.timestamp:
            payload["timestamp"] = rfc3339(args.timestamp)
        for key, value in (("component", args.component), ("group", args.group), ("class", args.event_class)):
            if value:
                payload[key] = value
        if args.custom_details:
            payload["custom_details"] = args.custom_details
        event: dict[str, Any] = {
            "event_action": "trigger",
            "dedup_key": args.dedup_key,
            "payload": payload,
            "client": self.settings.client,
        }
        if args.client_url:
            event["client_url"] = args.client_url
        if args.links:
            event["links"] = [link.model_dump() for link in args.links]
        return await self._send("trigger_event", event, f"triggered {args.severity} alert {clip(args.summary, 100)!r}")

    @tool_call(
        description="Acknowledge the PagerDuty alert with this dedup_key (stops its escalation).",
        safety=ACKNOWLEDGE_SAFETY,
    )
    async def acknowledge_event(self, args: DedupKeyField) -> ToolResult:
        return await self._send(
            "acknowledge_event", {"event_action": "acknowledge", "dedup_key": args.dedup_key}, "acknowledged alert"
        )

    @tool_call(
        description="Resolve the PagerDuty alert with this dedup_key (stops paging for it).", safety=RESOLVE_SAFETY
    )
    async def resolve_event(self, args: DedupKeyField) -> ToolResult:
        return await self._send(
            "resolve_event", {"event_action": "resolve", "dedup_key": args.dedup_key}, "resolved alert"
        )

    async def check(self) -> str:
        raise CheckSkipped(
            "the Events API has no read endpoint and any event pages people; the routing key variable "
            f"{self.settings.routing_key_env} is set"
        )

    async def _send(self, call: str, event: dict[str, Any], what: str) -> ToolResult:
        # The routing key goes in only here: the result echoes the event without it.
        response = await self.http.request(
            "POST", ENQUEUE_PATH, json={"routing_key": self._routing_key, **event}, describe_error=describe_events_error
        )
        answer = expect_dict(
            self.http, response, ENQUEUE_PATH, decode_json(self.http, response, ENQUEUE_PATH), "the body"
        )
        if answer.get("status") != "success":
            raise malformed(self.http, response, ENQUEUE_PATH, 'the answer has no "status": "success"')
        dedup_key = opt_str(answer.get("dedup_key")) or event["dedup_key"]
        return ToolResult(
            tool=self.tool_id(call),
            status="ok",
            query=f"POST {ENQUEUE_PATH}",
            params=event,
            data={
                "dedup_key": dedup_key,
                "event_action": event["event_action"],
                "message": opt_str(answer.get("message")),
            },
            summary=f"{what} {dedup_key!r} ({opt_str(answer.get('message')) or 'accepted'})",
        )


def describe_events_error(response: httpx.Response) -> str | None:
    """``PagerDuty Events: Event object is invalid: 'payload.severity' is invalid``, or the rate limit."""
    if response.status_code == 429:
        return "PagerDuty Events rate limit hit; slow down and send again later"
    message = json_field(response, "message")
    if not isinstance(message, str):
        return None
    errors = [str(e) for e in as_list(json_field(response, "errors"))[:3]]
    return f"PagerDuty Events: {message}" + (f": {'; '.join(errors)}" if errors else "")
