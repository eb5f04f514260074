"""Generic JSON: the canonical alert itself, for anything without its own receiver.

The body is one alert object, a list of them, or ``{"alerts": [...]}``. Fields (only ``title`` is
required; ``dedup_key`` is strongly advised, without it the title and service make the key)::

    {"dedup_key": "api:prod:error-rate", "status": "firing", "title": "API error rate high",
     "description": "5xx > 5% for 10m", "severity": "critical", "service": "api", "environment": "prod",
     "name": "HighErrorRate", "labels": {"team": "checkout"}, "annotations": {},
     "started_at": "2026-11-20T10:01:00Z", "ended_at": null,
     "links": [{"href": "https://grafana/...", "text": "dashboard"}]}

Payloads from other tools rarely use these names exactly, so without ``service`` the service comes from
the common label names (``service``, ``app.kubernetes.io/name``, ``app``, ``k8s-app``, ``job``), in the
labels or at the top level; ``environment`` likewise from ``env``. Top-level fields this schema does not
name are kept, not dropped: scalars (``pod``, ``namespace``, ``container``...) become labels, anything
else an annotation. Without ``dedup_key`` the key is the title plus every label, so two pods alerting
with the same title stay two alerts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from intake.events import (
    AlertEvent,
    AlertPayloadError,
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

_KNOWN_FIELDS = {
    "dedup_key",
    "external_id",
    "status",
    "title",
    "description",
    "severity",
    "service",
    "environment",
    "name",
    "labels",
    "annotations",
    "started_at",
    "ended_at",
    "links",
    "source",
}
_SERVICE_LABELS = ("service", "app.kubernetes.io/name", "app", "k8s-app", "job", "service_name")
_ENVIRONMENT_LABELS = ("environment", "env")
_STATUSES = {
    "firing": "firing",
    "triggered": "firing",
    "open": "firing",
    "resolved": "resolved",
    "ok": "resolved",
    "closed": "resolved",
}


def _links(value: Any, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise AlertPayloadError(f"{field}: expected a list")
    links = []
    for i, link in enumerate(value):
        href = link if isinstance(link, str) else as_object(link, f"{field}[{i}]").get("href")
        if not isinstance(href, str):
            raise AlertPayloadError(f"{field}[{i}].href: expected a string")
        links.append(href)
    return links


def _one(item: Any, where: str, received_at: float, settings: IntakeSource) -> AlertEvent:
    body = as_object(item, where or "payload")
    prefix = f"{where}." if where else ""
    title = require_str(body, "title", f"{prefix}title")
    status = _STATUSES.get(str(body.get("status", "firing")).lower())
    if status is None:
        raise AlertPayloadError(f"{prefix}status: expected firing or resolved, got {body.get('status')!r}")
    labels = str_map(body.get("labels"), f"{prefix}labels", strict=True)
    annotations = str_map(body.get("annotations"), f"{prefix}annotations")
    _keep_unmapped(body, labels, annotations)
    service = optional_str(body, "service", f"{prefix}service") or next(
        (labels[name] for name in _SERVICE_LABELS if labels.get(name)), ""
    )
    environment = optional_str(body, "environment", f"{prefix}environment") or next(
        (labels[name] for name in _ENVIRONMENT_LABELS if labels.get(name)), None
    )
    key = optional_str(body, "dedup_key", f"{prefix}dedup_key") or optional_str(
        body, "external_id", f"{prefix}external_id"
    )
    if key is None:
        identity = "|".join(f"{k}={v}" for k, v in sorted(labels.items()))
        key = hashlib.sha256(f"{title}|{service}|{identity}".encode()).hexdigest()[:24]
    severity = body.get("severity")
    if severity is not None and not isinstance(severity, str):
        raise AlertPayloadError(f"{prefix}severity: expected a string")
    return AlertEvent(
        source="generic",
        key=f"generic:{key}",
        status="firing" if status == "firing" else "resolved",
        name=optional_str(body, "name", f"{prefix}name") or title,
        title=title,
        severity=canonical_severity(severity, settings.default_severity),
        service=service,
        environment=canonical_environment(environment, settings.default_environment),
        received_at=received_at,
        labels=labels,
        annotations=annotations,
        started_at=parse_time(body.get("started_at"), f"{prefix}started_at"),
        ended_at=parse_time(body.get("ended_at"), f"{prefix}ended_at"),
        description=optional_str(body, "description", f"{prefix}description") or "",
        links=_links(body.get("links"), f"{prefix}links"),
    )


def _keep_unmapped(body: Mapping[str, Any], labels: dict[str, str], annotations: dict[str, str]) -> None:
    """Top-level fields the schema does not name: scalars join the labels (the labels object wins on a
    clash), anything else is kept as a compact JSON annotation."""
    for name, value in body.items():
        if name in _KNOWN_FIELDS or value is None or value == "" or value == {} or value == []:
            continue
        if isinstance(value, str | int | float | bool):
            labels.setdefault(name, str(value).lower() if isinstance(value, bool) else str(value))
        else:
            annotations.setdefault(name, json.dumps(value, separators=(",", ":"), default=str)[:1000])


def normalize_generic(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    if isinstance(payload, dict) and "alerts" in payload and "title" not in payload:
        items, where = payload["alerts"], "alerts"
        if not isinstance(items, list):
            raise AlertPayloadError("alerts: expected a list")
    elif isinstance(payload, list):
        items, where = payload, ""
    else:
        return Normalized(events=[_one(payload, "", received_at, settings)])
    if not items:
        raise AlertPayloadError(f"{where or 'payload'}: empty list of alerts")
    return Normalized(events=[_one(item, f"{where}[{i}]", received_at, settings) for i, item in enumerate(items)])
