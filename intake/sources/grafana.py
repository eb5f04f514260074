"""Grafana Alerting's webhook contact point, version "1": Alertmanager's shape plus ``orgId``,
``state``, ``title``/``message`` and per-alert dashboard, panel and silence links.

A custom payload template replaces the whole body; such bodies arrive here as whatever the template
made, and are rejected with the field that is missing (send them to ``generic`` instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from intake.events import Normalized
from intake.settings import IntakeSource
from intake.sources.alertmanager import normalize_alertmanager_style


def normalize_grafana(
    payload: Any, headers: Mapping[str, str], received_at: float, settings: IntakeSource
) -> Normalized:
    normalized = normalize_alertmanager_style(
        payload, source="grafana", version="1", received_at=received_at, settings=settings
    )
    org = payload.get("orgId")
    if org is not None:
        for event in normalized.events:
            event.labels.setdefault("grafana_org", str(org))
    return normalized
