"""Suppression rules and maintenance windows from config, compiled once, checked per new alert.

A suppressed alert is never dropped silently: the engine records it with the returned reason
(``rule watchdog: ...`` or ``maintenance db-upgrade``), and counts it per reason.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from intake.events import AlertEvent
from intake.settings import WEEKDAYS, MaintenanceWindow, SuppressionRule, WeeklySchedule

Check = Callable[[AlertEvent], bool]


def _getter(key: str) -> Callable[[AlertEvent], str]:
    if key in ("name", "alertname"):
        return lambda e: e.name
    if key in ("source", "service", "severity", "environment", "title"):
        return lambda e: str(getattr(e, key))
    return lambda e: e.labels.get(key, "")


def _equals(get: Callable[[AlertEvent], str], value: str) -> Check:
    return lambda e: get(e) == value


def _full_match(get: Callable[[AlertEvent], str], regex: re.Pattern[str]) -> Check:
    return lambda e: regex.fullmatch(get(e)) is not None


def compile_matchers(match: Mapping[str, str], match_re: Mapping[str, str], services: list[str] | None = None) -> Check:
    """One predicate: every exact matcher, every regex (full match) and, if given, the service list."""
    checks: list[Check] = []
    checks.extend(_equals(_getter(key), value) for key, value in match.items())
    checks.extend(_full_match(_getter(key), re.compile(pattern)) for key, pattern in match_re.items())
    if services:
        allowed = frozenset(services)
        checks.append(lambda e: e.service in allowed)
    return lambda e: all(check(e) for check in checks)


class _Weekly:
    def __init__(self, schedule: WeeklySchedule) -> None:
        self.days = frozenset(WEEKDAYS.index(d) for d in schedule.days)
        hour, minute = (int(p) for p in schedule.start.split(":")[:2])
        self.start = (hour, minute)
        self.duration = timedelta(minutes=schedule.duration_minutes)
        self.zone = ZoneInfo(schedule.timezone)

    def contains(self, now: float) -> bool:
        local = datetime.fromtimestamp(now, self.zone)
        # An occurrence that covers `now` started at most `duration` (≤ 7 days) ago.
        for back in range(0, 8):
            day = (local - timedelta(days=back)).date()
            if day.weekday() not in self.days:
                continue
            begin = datetime(day.year, day.month, day.day, *self.start, tzinfo=self.zone)
            if begin.timestamp() <= now < (begin + self.duration).timestamp():
                return True
        return False


class Suppressor:
    """``reason_for(event, now)``: why this alert is suppressed at ``now`` (epoch seconds), or None."""

    def __init__(self, rules: list[SuppressionRule], windows: list[MaintenanceWindow]) -> None:
        self._rules = [
            (
                compile_matchers(r.match, r.match_re),
                r.until.timestamp() if r.until else None,
                f"rule {r.name}" + (f": {r.reason}" if r.reason else ""),
            )
            for r in rules
        ]
        self._windows = [
            (
                compile_matchers(w.match, w.match_re, w.services),
                w.start.timestamp() if w.start else None,
                w.end.timestamp() if w.end else None,
                _Weekly(w.weekly) if w.weekly else None,
                f"maintenance {w.name}",
            )
            for w in windows
        ]

    def __bool__(self) -> bool:
        return bool(self._rules or self._windows)

    def reason_for(self, event: AlertEvent, now: float) -> str | None:
        for matches, until, reason in self._rules:
            if (until is None or now < until) and matches(event):
                return reason
        for matches, start, end, weekly, reason in self._windows:
            if weekly is None:
                if start is not None and end is not None and start <= now < end and matches(event):
                    return reason
            elif matches(event) and weekly.contains(now):
                return reason
        return None
