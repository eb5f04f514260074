"""The alert event inside intake: a slotted dataclass built once at the boundary, cheap to pass around.

Receivers validate each source's payload (errors name the field, `AlertPayloadError`) and produce
`AlertEvent`s; the correlation engine reads only these. `AlertEvent.to_alert` turns one into the
workflow's canonical pydantic `agents.state.Alert` when an incident is investigated, so pydantic
validation runs per investigation, not per alert.

Statuses: ``firing`` and ``resolved``; ``ack`` for events that change no state (PagerDuty acknowledge,
Opsgenie notes, CloudWatch INSUFFICIENT_DATA): they attach to an open alert or are ignored with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from agents.state import Alert

EventStatus = Literal["firing", "resolved", "ack"]

SEVERITY_RANK = {"info": 1, "warning": 2, "error": 3, "critical": 4}
RANK_SEVERITY = {rank: name for name, rank in SEVERITY_RANK.items()}
# What sources and rule authors write, mapped onto the four canonical severities.
_SEVERITY_ALIASES = {
    "critical": "critical",
    "crit": "critical",
    "page": "critical",
    "emergency": "critical",
    "fatal": "critical",
    "disaster": "critical",
    "p1": "critical",
    "sev1": "critical",
    "sev-1": "critical",
    "blocker": "critical",
    "error": "error",
    "err": "error",
    "high": "error",
    "major": "error",
    "p2": "error",
    "sev2": "error",
    "sev-2": "error",
    "warning": "warning",
    "warn": "warning",
    "medium": "warning",
    "minor": "warning",
    "average": "warning",
    "p3": "warning",
    "sev3": "warning",
    "sev-3": "warning",
    "info": "info",
    "informational": "info",
    "information": "info",
    "low": "info",
    "none": "info",
    "ok": "info",
    "notice": "info",
    "debug": "info",
    "success": "info",
    "p4": "info",
    "p5": "info",
    "sev4": "info",
    "sev-4": "info",
}


_ENVIRONMENT_ALIASES = {
    "prod": "production",
    "prd": "production",
    "production": "production",
    "live": "production",
    "stage": "staging",
    "stg": "staging",
    "staging": "staging",
    "dev": "development",
    "development": "development",
}


def canonical_environment(value: str | None, default: str) -> str:
    """``prod``/``prd``/``live`` are ``production``, ``stage``/``stg`` are ``staging``, ``dev`` is ``development``;
    anything else is kept as written. Alerts of different environments are never grouped."""
    if not value:
        return default
    return _ENVIRONMENT_ALIASES.get(value.lower(), value)


class AlertPayloadError(ValueError):
    """The payload cannot be used; the message starts with the field (``alerts[0].startsAt: ...``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = message.split(":", 1)[0] if ":" in message else "payload"


def canonical_severity(value: Any, default: str = "warning") -> str:
    """critical, error, warning or info; unknown words fall back to ``default``."""
    if value is None:
        return default
    exact = _SEVERITY_ALIASES.get(value) if isinstance(value, str) else None
    return exact or _SEVERITY_ALIASES.get(str(value).strip().lower(), default)


# Senders repeat the same timestamps (an alert's startsAt on every re-delivery): parse each once.
_TIMES: dict[str, datetime | None] = {}
_TIMES_MAX = 100_000


def parse_time(value: Any, field: str) -> datetime | None:
    """RFC3339 (or epoch seconds/milliseconds as a number) to an aware datetime; the zero time is null."""
    if value.__class__ is str:
        cached = _TIMES.get(value, _MISSING)
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]  # _MISSING is never stored
        parsed = _parse_time(value, field)
        if len(_TIMES) >= _TIMES_MAX:
            _TIMES.clear()
        _TIMES[value] = parsed
        return parsed
    return _parse_time(value, field)


_MISSING = object()


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise AlertPayloadError(f"{field}: expected a time, got {value!r}")
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value  # epoch milliseconds (Datadog, Opsgenie) or seconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise AlertPayloadError(f"{field}: not a usable epoch time: {value!r}") from exc
    text = str(value)
    if text.startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError as exc:
        raise AlertPayloadError(f"{field}: not an RFC3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise AlertPayloadError(f"{field}: time without a timezone: {value!r}")
    return parsed


def str_map(value: Any, field: str, *, strict: bool = False) -> dict[str, str]:
    """A JSON object of scalars as ``dict[str, str]``; null is empty. All-string objects are returned as they are.

    ``strict=True`` where the format says string values (label sets: service, severity, alert name, pod;
    Alertmanager's annotations, which become the title): a list or object value is
    refused naming the field, never turned into a string such as ``['checkout']`` that would become a
    service name. Annotations and details keep nested values as compact JSON.
    """
    if value is None:
        return {}
    if value.__class__ is not dict:
        if isinstance(value, dict):
            value = dict(value)
        else:
            raise AlertPayloadError(f"{field}: expected an object, got {type(value).__name__}")
    for item in value.values():
        if item.__class__ is not str:
            if strict:
                for key, v in value.items():
                    if isinstance(v, dict | list):
                        raise AlertPayloadError(f"{field}.{key}: expected a string label value, got {type(v).__name__}")
            return {str(k): v if isinstance(v, str) else _scalar(v) for k, v in value.items()}
    return value  # type: ignore[no-any-return]  # checked above: every value is a str (JSON keys always are)


def _scalar(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    import json

    return json.dumps(value, sort_keys=True)


def require_str(container: Mapping[str, Any], key: str, field: str) -> str:
    value = container.get(key)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"expected a non-empty string, got {value!r}"[:120]
        raise AlertPayloadError(f"{field}: {got}")
    return value


def optional_str(container: Mapping[str, Any], key: str, field: str) -> str | None:
    value = container.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise AlertPayloadError(f"{field}: expected a string, got {type(value).__name__}")


def as_object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AlertPayloadError(f"{field}: expected a JSON object, got {type(value).__name__}")
    return value


@dataclass(slots=True)
class AlertEvent:
    """One alert as one source reported it, normalized. ``key`` is the dedup key, unique across sources."""

    source: str
    key: str
    status: EventStatus
    name: str
    title: str
    severity: str
    service: str
    environment: str
    received_at: float
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    description: str = ""
    links: list[str] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return SEVERITY_RANK.get(self.severity, 2)

    def to_alert(self, **overrides: Any) -> Alert:
        """The workflow's canonical alert. A missing service becomes ``unknown`` (triage escalates it)."""
        values: dict[str, Any] = {
            "source": self.source,
            "fingerprint": self.key,
            "status": "resolved" if self.status == "resolved" else "firing",
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "severity": self.severity,
            "service": self.service or "unknown",
            "environment": self.environment,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "started_at": self.started_at or datetime.fromtimestamp(self.received_at, UTC),
            "ended_at": self.ended_at,
            "links": list(self.links),
        }
        values.update(overrides)
        return Alert(**values)


@dataclass(slots=True)
class SubscriptionRequest:
    """An SNS SubscriptionConfirmation: confirm by GETting ``subscribe_url``."""

    topic_arn: str
    subscribe_url: str
    message_id: str


@dataclass(slots=True)
class Normalized:
    """What one delivery carried: its alerts, how many the sender dropped, any control message."""

    events: list[AlertEvent]
    truncated: int = 0
    subscription: SubscriptionRequest | None = None
    note: str = ""
    reply: dict[str, Any] = field(default_factory=dict)
