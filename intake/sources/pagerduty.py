"""PagerDuty Events API v2 (``/v2/enqueue`` shape), for tools that already speak it.

One event per delivery, keyed by routing key and ``dedup_key`` (PagerDuty applies acknowledge and
resolve only with the same routing key). A trigger without ``dedup_key`` gets a stable one from its
content, returned in the reply as PagerDuty does, so retries of the same trigger deduplicate.
``acknowledge`` changes no state: it attaches to the open alert or is ignored with a reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from intake.events import (
    AlertEvent,
    AlertPayloadError,
    EventStatus,
    Normalized,
    as_object,
    canonical_environment,
    canonical_severity,
    optional_str,
    parse_time,
    require_str,
    str_map,
)
from intake.settings import IntakeSource

_ACTIONS: dict[str, EventStatus] = {"trigger": "firing", "acknowledge": "ack", "resolve": "resolved"}
_SEVERITIES = ("critical", "error", "warning", "info")


def normalize_pagerduty(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    body = as_object(payload, "payload")
    routing_key = require_str(body, "routing_key", "routing_key")
    action = body.get("event_action")
    if not isinstance(action, str) or action not in _ACTIONS:
        raise AlertPayloadError(f"event_action: expected trigger, acknowledge or resolve, got {action!r}")
    dedup_key = optional_str(body, "dedup_key", "dedup_key")
    if dedup_key is not None and len(dedup_key) > 255:
        raise AlertPayloadError("dedup_key: longer than 255 characters")
    status = _ACTIONS[action]
    if status != "firing":
        if dedup_key is None:
            raise AlertPayloadError(f"dedup_key: required for {action}")
        event = AlertEvent(
            source="pagerduty",
            key=f"pagerduty:{routing_key}:{dedup_key}",
            status=status,
            name=action,
            title=action,
            severity=settings.default_severity,
            service="",
            environment=settings.default_environment,
            received_at=received_at,
        )
        return Normalized(events=[event], reply={"dedup_key": dedup_key})
    details = as_object(body.get("payload"), "payload")
    summary = require_str(details, "summary", "payload.summary")
    if len(summary) > 1024:
        raise AlertPayloadError("payload.summary: longer than 1024 characters")
    origin = require_str(details, "source", "payload.source")
    severity = details.get("severity")
    if not isinstance(severity, str) or severity not in _SEVERITIES:
        raise AlertPayloadError(f"payload.severity: expected one of {', '.join(_SEVERITIES)}, got {severity!r}")
    component = optional_str(details, "component", "payload.component")
    group = optional_str(details, "group", "payload.group")
    klass = optional_str(details, "class", "payload.class")
    custom = details.get("custom_details")
    custom_map = (
        str_map(custom, "payload.custom_details")
        if isinstance(custom, dict) or custom is None
        else {"details": str(custom)}
    )
    if dedup_key is None:
        dedup_key = hashlib.sha256(f"{routing_key}|{summary}|{origin}|{component}|{klass}".encode()).hexdigest()[:32]
    labels = {k: v for k, v in (("source", origin), ("component", component), ("group", group), ("class", klass)) if v}
    labels.update({f"detail_{k}": v for k, v in custom_map.items() if len(v) <= 200})
    links = []
    raw_links = body.get("links")
    if raw_links is not None:
        if not isinstance(raw_links, list):
            raise AlertPayloadError(f"links: expected a list, got {type(raw_links).__name__}")
        for i, link in enumerate(raw_links):
            href = as_object(link, f"links[{i}]").get("href")
            if not isinstance(href, str):
                raise AlertPayloadError(f"links[{i}].href: expected a string")
            links.append(href)
    if isinstance(client_url := body.get("client_url"), str) and client_url:
        links.append(client_url)
    service = component or custom_map.get("service") or origin
    event = AlertEvent(
        source="pagerduty",
        key=f"pagerduty:{routing_key}:{dedup_key}",
        status="firing",
        name=klass or summary[:80],
        title=summary,
        severity=canonical_severity(severity),
        service=service,
        environment=canonical_environment(
            custom_map.get("environment") or custom_map.get("env"), settings.default_environment
        ),
        received_at=received_at,
        labels=labels,
        annotations={"summary": summary},
        started_at=parse_time(details.get("timestamp"), "payload.timestamp"),
        links=links,
    )
    return Normalized(events=[event], reply={"dedup_key": dedup_key})
