"""Reading the Prometheus adapter's result data: one place for the shape
``{"series": [{"metric": {...}, "values": [[unix_seconds, value], ...]}]}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def first_series(data: Any) -> tuple[list[datetime], list[float]]:
    """Times and values of the first series; NaN steps (no traffic) and unparsable values skipped."""
    series = data.get("series") if isinstance(data, dict) else None
    if not series:
        return [], []
    times, values = [], []
    for ts, value in series[0].get("values") or []:
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number != number:  # NaN: no traffic in that step
            continue
        times.append(datetime.fromtimestamp(float(ts), tz=UTC))
        values.append(number)
    return times, values


def latest_value(data: Any) -> float | None:
    """The most recent usable sample of the first series, if any."""
    _, values = first_series(data)
    return values[-1] if values else None
