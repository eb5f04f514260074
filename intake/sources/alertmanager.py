"""Alertmanager webhook (payload version "4") and Grafana's look-alike (version "1").

Each item of ``alerts[]`` is one event keyed by its ``fingerprint`` (a hash of its label set);
``commonLabels``/``commonAnnotations`` fill in what an item lacks. ``truncatedAlerts`` (alerts the
sender dropped because of ``max_alerts``) is reported, not hidden. The zero time
``0001-01-01T00:00:00Z`` that firing alerts carry in ``endsAt`` is null.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from intake.events import (
    AlertEvent,
    AlertPayloadError,
    Normalized,
    canonical_environment,
    canonical_severity,
    parse_time,
    str_map,
)
from intake.settings import IntakeSource

SERVICE_LABELS = ("service", "app", "job", "component")
_EXTRA_LINKS = ("dashboardURL", "panelURL", "silenceURL")


def label_fingerprint(labels: Mapping[str, str]) -> str:
    """A stable stand-in for Alertmanager's fingerprint when an item has none."""
    canonical = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def service_from_labels(labels: Mapping[str, str]) -> str:
    for key in SERVICE_LABELS:
        value = labels.get(key)
        if value:
            return value
    return ""


def normalize_alertmanager_style(
    payload: Any, *, source: str, version: str, received_at: float, settings: IntakeSource
) -> Normalized:
    """Alerts of one Alertmanager-shaped delivery (``source`` prefixes the dedup keys)."""
    if not isinstance(payload, dict):
        raise AlertPayloadError(f"payload: expected a JSON object, got {type(payload).__name__}")
    if str(payload.get("version", version)) != version:
        raise AlertPayloadError(f"version: expected {version!r} ({source} webhook), got {payload.get('version')!r}")
    items = payload.get("alerts")
    if not isinstance(items, list) or not items:
        raise AlertPayloadError(f"alerts: missing or empty; a {source} webhook carries at least one alert")
    common_labels = str_map(payload.get("commonLabels"), "commonLabels", strict=True)
    common_annotations = str_map(payload.get("commonAnnotations"), "commonAnnotations", strict=True)
    group_status = payload.get("status", "firing")
    truncated = payload.get("truncatedAlerts") or 0
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise AlertPayloadError(f"truncatedAlerts: expected a count, got {truncated!r}")
    prefix = source + ":"
    events = []
    for i, item in enumerate(items):
        where = f"alerts[{i}]"
        if not isinstance(item, dict):
            raise AlertPayloadError(f"{where}: expected an object, got {type(item).__name__}")
        labels = str_map(item.get("labels"), f"{where}.labels", strict=True)
        if common_labels:
            labels = {**common_labels, **labels}
        annotations = str_map(item.get("annotations"), f"{where}.annotations", strict=True)
        if common_annotations:
            annotations = {**common_annotations, **annotations}
        name = labels.get("alertname")
        if not name:
            raise AlertPayloadError(f"{where}.labels.alertname: missing")
        started = parse_time(item.get("startsAt"), f"{where}.startsAt")
        if started is None:
            raise AlertPayloadError(f"{where}.startsAt: missing")
        status = item.get("status", group_status)
        if status not in ("firing", "resolved"):
            raise AlertPayloadError(f"{where}.status: expected firing or resolved, got {status!r}")
        fingerprint = item.get("fingerprint")
        if fingerprint is not None and not isinstance(fingerprint, str):
            raise AlertPayloadError(f"{where}.fingerprint: expected a string, got {type(fingerprint).__name__}")
        links = [u for u in (item.get("generatorURL"), annotations.get("runbook_url")) if u and isinstance(u, str)]
        if source == "grafana":
            links.extend(u for k in _EXTRA_LINKS if (u := item.get(k)) and isinstance(u, str))
        environment = canonical_environment(
            labels.get("env") or labels.get("environment"), settings.default_environment
        )
        events.append(
            AlertEvent(
                source=source,
                key=prefix + (fingerprint or label_fingerprint(labels)),
                status=status,
                name=name,
                title=annotations.get("summary") or annotations.get("title") or name,
                severity=canonical_severity(labels.get("severity"), settings.default_severity),
                service=service_from_labels(labels),
                environment=environment,
                received_at=received_at,
                labels=labels,
                annotations=annotations,
                started_at=started,
                ended_at=parse_time(item.get("endsAt"), f"{where}.endsAt"),
                description=annotations.get("description", ""),
                links=links,
            )
        )
    return Normalized(events=events, truncated=truncated)


def normalize_alertmanager(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    """Prometheus Alertmanager's webhook, version "4"."""
    return normalize_alertmanager_style(
        payload, source="alertmanager", version="4", received_at=received_at, settings=settings
    )
