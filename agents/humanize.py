"""Numbers and times the way people read them: "about 7 in 10", "14:05 CET", "about 25 minutes".

Pure functions, no state: every message template uses them, and the message lint checks their output.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def share(fraction: float) -> str:
    """A share as a plain ratio: 0.71 -> "about 7 in 10", 0.034 -> "about 3 in 100", 0.0004 -> "fewer
    than 1 in 1,000". Never "0 in 10": a share that rounds to nothing goes to the next denominator."""
    fraction = max(0.0, min(1.0, fraction))
    if fraction >= 0.95:
        return "nearly all"
    for denominator in (10, 100, 1000):
        count = round(fraction * denominator)
        if count >= 1:
            return f"about {count} in {denominator:,}"
    return "fewer than 1 in 1,000"


def clock_time(moment: datetime, zone: str, *, today: datetime | None = None) -> str:
    """``14:05 CET`` in ``zone``; with the day (``Tue 2 Dec 14:05 CET``) when it is not ``today``'s date there."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    label = local.tzname() or zone
    if today is not None and today.astimezone(tz).date() != local.date():
        return f"{local:%a} {local.day} {local:%b %H:%M} {label}"
    return f"{local:%H:%M} {label}"


def zone_labels(zone: str, around: datetime) -> set[str]:
    """Every abbreviation ``zone`` shows within a year of ``around`` (CET and CEST), for the lint."""
    tz = ZoneInfo(zone)
    labels = {zone}
    for days in range(0, 366, 30):
        name = (around + timedelta(days=days)).astimezone(tz).tzname()
        if name:
            labels.add(name)
    return labels


def duration(span: timedelta) -> str:
    """``about 25 minutes``, ``1 hour 10 minutes``, ``under a minute``: never seconds with decimals."""
    minutes = round(span.total_seconds() / 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''}"
    hours, rest = divmod(minutes, 60)
    text = f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{text} {rest} minute{'s' if rest != 1 else ''}" if rest else text


def per_second(value: float | None) -> str:
    """A rate as evidence shows it: ``35/s``, ``0.344/s``; unknown when not measured."""
    return "unknown" if value is None else f"{value:.3g}/s"


def seconds(value: float) -> str:
    """A latency: ``850 ms`` below a second, ``4.2 s`` above."""
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def headline(text: str, limit: int = 300) -> str:
    """The first line of a machine-written text (a root cause may carry the change's diff after it),
    cut at a word boundary: what a person reads in a message or a review."""
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) <= limit:
        return first
    cut = first[:limit].rsplit(" ", 1)[0].rstrip(",;:")
    return f"{cut} …"


LONG_FLOAT = re.compile(r"\b\d+\.\d{5,}\b")


def tidy_numbers(text: str) -> str:
    """``0.0001999408870420919`` -> ``0.0002``: engineers read three significant digits, not seventeen."""
    return LONG_FLOAT.sub(lambda m: f"{float(m.group(0)):.3g}", text)
