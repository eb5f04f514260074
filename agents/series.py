"""Reading a Prometheus query's typed payload (`tools.prometheus.QueryResult`) the way the agents use
it: the first series' numeric samples, split into times and values for the analytics."""

from __future__ import annotations

from datetime import datetime

from tools.base import ToolResult
from tools.prometheus import QueryResult


def first_series(result: ToolResult) -> tuple[list[datetime], list[float]]:
    """Times and values of the first series; NaN steps (no traffic) skipped. Empty unless ``ok``."""
    if not result.ok:
        return [], []
    points = result.payload(QueryResult).first_points()
    return [at for at, _ in points], [value for _, value in points]


def latest_value(result: ToolResult) -> float | None:
    """The most recent usable sample of the first series, if any."""
    _, values = first_series(result)
    return values[-1] if values else None
