"""Alertmanager webhook (payload version "4") to canonical alerts.

Each item of ``alerts[]`` becomes one `Alert`; group-level labels and annotations fill in what an
item lacks. The zero time ``0001-01-01T00:00:00Z`` that firing alerts carry in ``endsAt`` is null.
Errors name the field (``alerts[0].labels.service: missing``) so a bad file is easy to fix.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from agents.state import Alert

SERVICE_LABELS = ("service", "app", "job", "component")


class AlertPayloadError(ValueError):
    """The payload is not a usable Alertmanager webhook; the message names the field."""


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, "") or str(value).startswith("0001-01-01"):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise AlertPayloadError(f"{field}: not an RFC3339 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise AlertPayloadError(f"{field}: time without a timezone: {value!r}")
    return parsed


def _str_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AlertPayloadError(f"{field}: expected an object of strings, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def parse_alertmanager(payload: Any) -> list[Alert]:
    """All alerts in one webhook payload, firing and resolved."""
    if not isinstance(payload, dict):
        raise AlertPayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    if str(payload.get("version", "4")) != "4":
        raise AlertPayloadError(f"version: expected \"4\" (Alertmanager webhook), got {payload.get('version')!r}")
    items = payload.get("alerts")
    if not isinstance(items, list) or not items:
        raise AlertPayloadError("alerts: missing or empty; an Alertmanager webhook carries at least one alert")
    common_labels = _str_map(payload.get("commonLabels"), "commonLabels")
    common_annotations = _str_map(payload.get("commonAnnotations"), "commonAnnotations")
    alerts = []
    for i, item in enumerate(items):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise AlertPayloadError(f"{where}: expected an object")
        labels = {**common_labels, **_str_map(item.get("labels"), f"{where}.labels")}
        annotations = {**common_annotations, **_str_map(item.get("annotations"), f"{where}.annotations")}
        name = labels.get("alertname")
        if not name:
            raise AlertPayloadError(f"{where}.labels.alertname: missing")
        service = next((labels[k] for k in SERVICE_LABELS if labels.get(k)), None)
        if not service:
            raise AlertPayloadError(f"{where}.labels.service: missing (also looked for {', '.join(SERVICE_LABELS[1:])})")
        started = _time(item.get("startsAt"), f"{where}.startsAt")
        if started is None:
            raise AlertPayloadError(f"{where}.startsAt: missing")
        status = item.get("status", payload.get("status", "firing"))
        if status not in ("firing", "resolved"):
            raise AlertPayloadError(f"{where}.status: expected firing or resolved, got {status!r}")
        fingerprint = str(item.get("fingerprint") or "") or _label_fingerprint(labels)
        alerts.append(
            Alert(
                source="alertmanager",
                fingerprint=fingerprint,
                status=status,
                name=name,
                title=annotations.get("summary") or name,
                description=annotations.get("description", ""),
                severity=labels.get("severity", "warning"),
                service=service,
                environment=labels.get("env") or labels.get("environment") or "production",
                labels=labels,
                annotations=annotations,
                started_at=started,
                ended_at=_time(item.get("endsAt"), f"{where}.endsAt"),
                links=[u for u in (item.get("generatorURL"), annotations.get("runbook_url")) if u],
            )
        )
    return alerts


def _label_fingerprint(labels: dict[str, str]) -> str:
    import hashlib

    canonical = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
