"""Where an alert's numbers come from: the component that exports the metric its rule reads.

An alert whose service looks healthy by its own SLIs still fired for a reason. The rule's expression
(Alertmanager's ``generatorURL`` carries it as ``g0.expr``) names metrics; the series of those metrics
carry the labels of whatever exports them (``service``, ``job``, ``app``). When that is not the
alerting service (a synthetic prober, a blackbox exporter, a batch job reporting on it), the alert
says what that component measured, and a healthy service means the measurement, not the service, is
what to look at: a check with a stale expectation, a prober that lost its network path.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from agents.state import Alert

# A metric name followed by its matchers, or a bare name that is not a function call or keyword.
SELECTOR = re.compile(r"(?<![\w:\"'])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])\s*(\{[^{}]*\})?(?!\s*\()")
PROMQL_WORDS = frozenset(
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool",
        "offset", "sum", "avg", "min", "max", "count", "topk", "bottomk", "quantile", "stddev", "stdvar",
        "count_values", "group", "inf", "nan", "atan2",
    }
)  # fmt: skip
EXPORTER_LABELS = ("service", "job", "app", "app_kubernetes_io_name", "container")
MAX_SELECTORS = 2


def alert_expression(alert: Alert) -> str | None:
    """The alerting rule's PromQL, from a Prometheus graph link among the alert's links."""
    for link in alert.links:
        values = parse_qs(urlsplit(link).query).get("g0.expr")
        if values and values[0].strip():
            return values[0].strip()
    return None


def metric_selectors(expression: str) -> list[str]:
    """The metric selectors an expression reads (``synthetic_check_success{check="home"}``), at most
    two, without durations, numbers or label values mistaken for names."""
    text = re.sub(r"\[[^\]]*\]", "", expression)  # range selectors: [5m]
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    found: list[str] = []
    for match in SELECTOR.finditer(text):
        name, matchers = match.group(1), match.group(2) or ""
        if name.lower() in PROMQL_WORDS or name[0].isdigit():
            continue
        selector = f"{name}{matchers}"
        if selector not in found:
            found.append(selector)
        if len(found) == MAX_SELECTORS:
            break
    return found


def exporter_of(labels: dict[str, str]) -> str | None:
    """The component a series comes from, by the labels scrapes attach."""
    return next((labels[k] for k in EXPORTER_LABELS if labels.get(k)), None)
