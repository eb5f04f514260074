"""Datadog Webhooks integration.

Two shapes are accepted: the recommended custom payload (``cycle_key``, ``transition``,
``alert_type``, ``priority``, ``tags``...; see the README) and Datadog's default payload (``title``,
``body``, ``event_type``, ``date``, ``id``), whose state comes from the ``[Triggered]``/``[Recovered]``
prefix of the title. The dedup key is ``$ALERT_CYCLE_KEY`` (it links a trigger to its recovery),
then the aggregation key, then the monitor id with its scope.
"""

from __future__ import annotations

import re
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
)
from intake.settings import IntakeSource

_FIRING = {"triggered", "re-triggered", "warn", "re-warn", "no data", "re-no data", "renotify", "alert", "warning"}
_RESOLVED = {"recovered", "resolved", "ok", "success"}
_TITLE_STATE = re.compile(r"^\[(?P<state>[A-Za-z -]+?)(?: on [^\]]*)?\]\s*")
_ALERT_TYPE = {"error": "error", "warning": "warning", "info": "info", "success": "info"}


def _tags(value: Any, field: str) -> dict[str, str]:
    if value is None or value == "":
        return {}
    items = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else None
    if items is None:
        raise AlertPayloadError(f"{field}: expected a comma-separated string or a list, got {type(value).__name__}")
    tags: dict[str, str] = {}
    for tag in items:
        text = str(tag).strip()
        if text:
            key, _, val = text.partition(":")
            tags[key] = val
    return tags


def normalize_datadog(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    body = as_object(payload, "payload")
    title = optional_str(body, "title", "title")
    if not title:
        raise AlertPayloadError("title: missing (map $EVENT_TITLE to title)")
    transition = optional_str(body, "transition", "transition")
    if transition is None:
        match = _TITLE_STATE.match(title)
        if match is None:
            raise AlertPayloadError(
                "transition: missing, and the title has no [Triggered]/[Recovered] prefix to read it from"
            )
        transition = match.group("state")
    state = transition.strip().lower()
    status: EventStatus
    if state in _FIRING:
        status = "firing"
    elif state in _RESOLVED:
        status = "resolved"
    else:
        raise AlertPayloadError(f"transition: unknown Datadog transition {transition!r}")
    tags = _tags(body.get("tags"), "tags")
    scope = optional_str(body, "scope", "scope") or ""
    for part in scope.split(","):
        key, sep, val = part.strip().partition(":")
        if sep and key not in tags:
            tags[key] = val
    alert_id = optional_str(body, "alert_id", "alert_id")
    identity = (
        optional_str(body, "cycle_key", "cycle_key")
        or optional_str(body, "aggreg_key", "aggreg_key")
        or (f"{alert_id}:{scope}" if alert_id else None)
        or optional_str(body, "id", "id")
    )
    if identity is None:
        raise AlertPayloadError("cycle_key: missing (map $ALERT_CYCLE_KEY, or at least $ALERT_ID or $ID)")
    priority = optional_str(body, "priority", "priority")
    alert_type = optional_str(body, "alert_type", "alert_type")
    severity = (
        canonical_severity(priority, settings.default_severity)
        if priority
        else _ALERT_TYPE.get((alert_type or "").lower(), settings.default_severity)
    )
    clean_title = _TITLE_STATE.sub("", title)
    link = optional_str(body, "link", "link")
    event = AlertEvent(
        source="datadog",
        key=f"datadog:{identity}",
        status=status,
        name=optional_str(body, "monitor_name", "monitor_name") or clean_title,
        title=clean_title,
        severity=severity,
        service=tags.get("service", ""),
        environment=canonical_environment(tags.get("env") or tags.get("environment"), settings.default_environment),
        received_at=received_at,
        labels={k: v for k, v in tags.items() if v} | ({"monitor_id": alert_id} if alert_id else {}),
        annotations={"query": q}
        if (q := optional_str(body, "status", "status") or optional_str(body, "query", "query"))
        else {},
        started_at=parse_time(_epoch(body.get("date"), "date"), "date"),
        description=optional_str(body, "body", "body") or "",
        links=[link] if link else [],
    )
    return Normalized(events=[event])


def _epoch(value: Any, field: str) -> Any:
    """Datadog sends ``$DATE`` as epoch milliseconds in a string."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value
