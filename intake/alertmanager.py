"""Alertmanager webhook (payload version "4") to workflow alerts, for `firstline respond`.

The parsing is intake's Alertmanager receiver (`intake.sources.alertmanager`); this adds
what working a single incident needs: every alert must name its service. Errors name the field
(``alerts[0].labels.service: missing``) so a bad file is easy to fix.
"""

from __future__ import annotations

import time
from typing import Any

from agents.state import Alert
from intake.events import AlertPayloadError
from intake.settings import IntakeSource
from intake.sources.alertmanager import SERVICE_LABELS, normalize_alertmanager

__all__ = ["AlertPayloadError", "parse_alertmanager"]


def parse_alertmanager(payload: Any) -> list[Alert]:
    """All alerts in one webhook payload, firing and resolved."""
    normalized = normalize_alertmanager(payload, {}, time.time(), IntakeSource())
    alerts = []
    for i, event in enumerate(normalized.events):
        if not event.service:
            raise AlertPayloadError(
                f"alerts[{i}].labels.service: missing (also looked for {', '.join(SERVICE_LABELS[1:])})"
            )
        alerts.append(event.to_alert(fingerprint=event.key.removeprefix("alertmanager:")))
    return alerts
