"""Time helpers shared by the simulator: scenario offsets, durations, wire timestamps, the clock.

Scenario times are offsets from the alert time (the *anchor*): ``-2h50m``, ``-6m``, ``0``, ``+30s``,
``-1d4h``. Durations in queries follow Prometheus (``90s``, ``5m``, ``1h30m``, ``100ms``).

The simulator never reads the wall clock directly: it asks a `SimClock`, which tests freeze and
advance, and which the demo can fast-forward (``POST /_sim/clock``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_OFFSET_RE = re.compile(r"^(?P<sign>[+-])?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
OFFSET_PATTERN = _OFFSET_RE.pattern

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}
_DURATION_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")


def parse_offset(text: str | int | float) -> float:
    """Seconds relative to the anchor for an offset like ``-2h50m`` (numbers are taken as seconds)."""
    if isinstance(text, bool):
        raise ValueError(f"expected an offset like -40m, got {text!r}")
    if isinstance(text, int | float):
        return float(text)
    value = text.strip()
    if value in {"0", "+0", "-0"}:
        return 0.0
    match = _OFFSET_RE.match(value)
    if not value or match is None or not any(match.group(u) for u in "dhms"):
        raise ValueError(f"expected an offset like -40m, -2h50m, 0 or +30s, got {text!r}")
    seconds = (
        int(match.group("d") or 0) * 86400
        + int(match.group("h") or 0) * 3600
        + int(match.group("m") or 0) * 60
        + int(match.group("s") or 0)
    )
    return float(-seconds if match.group("sign") == "-" else seconds)


def format_offset(seconds: float) -> str:
    """The inverse of `parse_offset`, for messages (``-170m`` becomes ``-2h50m``)."""
    if seconds == 0:
        return "0"
    sign = "-" if seconds < 0 else "+"
    rest = int(abs(seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return sign + "".join(parts)


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration (``5m``, ``1h30m``, ``250ms``); raises ValueError otherwise."""
    pos = 0
    total = 0.0
    for match in _DURATION_PART_RE.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"not a valid duration string: {text!r}")
    return total


def format_duration(seconds: float) -> str:
    """Prometheus' rendering of a duration (``300`` becomes ``5m``)."""
    if seconds == 0:
        return "0s"
    millis = round(seconds * 1000)
    parts = []
    for unit, size in (
        ("y", 31536000000),
        ("w", 604800000),
        ("d", 86400000),
        ("h", 3600000),
        ("m", 60000),
        ("s", 1000),
        ("ms", 1),
    ):
        if millis >= size:
            parts.append(f"{millis // size}{unit}")
            millis %= size
    return "".join(parts)


def to_epoch(moment: datetime) -> float:
    return moment.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def rfc3339(moment: datetime | float) -> str:
    """``2026-11-20T19:42:00Z``: whole seconds, UTC, as Kubernetes, GitHub and Alertmanager write it."""
    if not isinstance(moment, datetime):
        moment = from_epoch(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_millis(moment: datetime | float) -> str:
    """``2026-11-20T19:42:00.123Z``, as Statuspage and PagerDuty write it."""
    if not isinstance(moment, datetime):
        moment = from_epoch(moment)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC3339 timestamp (``Z`` or an offset); raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


class SimClock:
    """The simulator's notion of now: a base clock (the wall clock by default) plus a shift.

    ``advance`` moves time forward for everyone reading this clock, which is how a test or the demo
    jumps to "ten minutes after the rollback" without waiting. ``frozen`` builds a clock that only
    moves when advanced. Thread-safe: the server thread and the caller's thread share it.
    """

    def __init__(self, base: Callable[[], datetime] | None = None, *, shift_seconds: float = 0.0) -> None:
        self._base = base or (lambda: datetime.now(UTC))
        self._shift = shift_seconds
        self._lock = threading.Lock()

    @classmethod
    def frozen(cls, at: datetime) -> SimClock:
        return cls(lambda: at)

    @classmethod
    def starting_at(cls, at: datetime) -> SimClock:
        """A clock that reads ``at`` now and runs at the wall clock's pace (a past or future alert time)."""
        return cls(shift_seconds=(at - datetime.now(UTC)).total_seconds())

    def now(self) -> datetime:
        with self._lock:
            shift = self._shift
        return self._base() + timedelta(seconds=shift)

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError(f"the clock only moves forward; got advance of {seconds} seconds")
        with self._lock:
            self._shift += seconds
        return self.now()
