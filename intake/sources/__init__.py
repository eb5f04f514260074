"""One normalizer per source: ``(payload, headers, received_at, settings) -> Normalized``.

Each validates its payload and raises `AlertPayloadError` naming the first bad field. Headers are
lower-cased. Normalizers are pure (no I/O), so serve, replay and bench share them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from intake.events import Normalized
from intake.settings import IntakeSource
from intake.sources.alertmanager import normalize_alertmanager
from intake.sources.cloudwatch import normalize_cloudwatch
from intake.sources.datadog import normalize_datadog
from intake.sources.generic import normalize_generic
from intake.sources.grafana import normalize_grafana
from intake.sources.opsgenie import normalize_opsgenie
from intake.sources.pagerduty import normalize_pagerduty

Normalizer = Callable[[Any, Mapping[str, str], float, IntakeSource], Normalized]

NORMALIZERS: dict[str, Normalizer] = {
    "alertmanager": normalize_alertmanager,
    "grafana": normalize_grafana,
    "pagerduty": normalize_pagerduty,
    "datadog": normalize_datadog,
    "cloudwatch": normalize_cloudwatch,
    "opsgenie": normalize_opsgenie,
    "generic": normalize_generic,
}

__all__ = ["NORMALIZERS", "Normalizer"]
