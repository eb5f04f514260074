"""Opsgenie outgoing webhook integration (``action`` + ``alert``).

``Create`` fires and ``Close`` resolves the alert keyed by its ``alias`` (Opsgenie's dedup key among
open alerts), or ``alertId`` when there is no alias. Every other action (Acknowledge, AddNote,
AddTeam...) changes no state. Opsgenie shuts down on 2027-04-05; this receiver is kept small.
"""

from __future__ import annotations

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

_ACTIONS: dict[str, EventStatus] = {"create": "firing", "close": "resolved"}


def normalize_opsgenie(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    body = as_object(payload, "payload")
    action = require_str(body, "action", "action")
    alert = as_object(body.get("alert"), "alert")
    identity = optional_str(alert, "alias", "alert.alias") or optional_str(alert, "alertId", "alert.alertId")
    if identity is None:
        raise AlertPayloadError("alert.alias: missing (and no alert.alertId either)")
    status: EventStatus = _ACTIONS.get(action.lower(), "ack")
    message = optional_str(alert, "message", "alert.message")
    if status == "firing" and not message:
        raise AlertPayloadError("alert.message: missing")
    raw_tags = alert.get("tags") or []
    if not isinstance(raw_tags, list):
        raise AlertPayloadError(f"alert.tags: expected a list, got {type(raw_tags).__name__}")
    tags = {str(t).partition(":")[0]: str(t).partition(":")[2] for t in raw_tags}
    details = str_map(alert.get("details"), "alert.details")
    entity = optional_str(alert, "entity", "alert.entity")
    labels = {**{k: v for k, v in tags.items() if v}, **details}
    if entity:
        labels["entity"] = entity
    event = AlertEvent(
        source="opsgenie",
        key=f"opsgenie:{identity}",
        status=status,
        name=identity if status != "firing" else (message or identity),
        title=message or action,
        severity=canonical_severity(optional_str(alert, "priority", "alert.priority"), settings.default_severity),
        service=details.get("service") or tags.get("service") or entity or "",
        environment=canonical_environment(
            details.get("environment") or details.get("env") or tags.get("env"), settings.default_environment
        ),
        received_at=received_at,
        labels=labels,
        started_at=parse_time(alert.get("createdAt"), "alert.createdAt"),
        description=optional_str(alert, "description", "alert.description") or "",
    )
    if status == "ack":
        event.labels["opsgenie_action"] = action
    return Normalized(events=[event])
