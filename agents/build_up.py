"""A slow failure traced back to the configuration write that started it.

A volume that fills, a heap that grows, a backlog that builds: the failure shows hours after its
cause, well before the investigation window, so no change "just before the onset" explains it. Two
facts tie an earlier write of a ConfigMap the failing component reads to it:

- **mechanism**: the lines the write changed configure the failure mode the diagnosis names (a
  retention for a full disk, a heap size for memory: `agents.reasoners.deterministic.CONFIG_MECHANISMS`);
- **timing**: one of the component's gauges was level before the write and has climbed since: the
  build-up began with the write (`began_with`); or, when the metrics' history does not reach back to
  the write, it climbed steadily across all of it, the build-up under way before its oldest sample.

Both must hold before the write is offered as the revert. Pure and deterministic: series and text in,
facts out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

from agents.state import ConfigRevert

HORIZON = timedelta(hours=24)  # how long before the window a write may be and still start a build-up
LEVEL_BEFORE = timedelta(hours=1)  # the gauge's level before the write: the median of this long a stretch
SETTLE = timedelta(minutes=15)  # the build-up is read from this long after the write
MIN_CLIMB = 0.25  # the gauge climbed by a quarter of its level at least...
MAX_DRIFT = 0.05  # ...having moved less than a twentieth of it over the hour before the write
MIN_POINTS = 4  # samples needed on each side


class BuildUp(BaseModel):
    """A gauge that was level before a write and has climbed since."""

    model_config = ConfigDict(frozen=True)

    before: float = Field(description="Its level before the write (or at its oldest sample).")
    at_write: float
    now: float
    reached_write: bool = Field(default=True, description="Whether the samples reach back to the write.")

    @property
    def climb(self) -> float:
        return (self.now - self.before) / max(abs(self.before), 1e-12)


def changed_lines(revert: ConfigRevert) -> list[str]:
    """The lines a ConfigMap write introduced: of each changed key's new value, those the earlier
    revision's value of that key did not have (a whole properties file is one key; one line moved)."""
    lines: list[str] = []
    old_lines = {line.strip() for value in revert.data.values() for line in value.splitlines()}
    for value in revert.introduced:
        lines += [line.strip() for line in value.splitlines() if line.strip() and line.strip() not in old_lines]
    return lines


def began_with(times: Sequence[datetime], values: Sequence[float], written: datetime) -> BuildUp | None:
    """The build-up of one gauge series that began at ``written``. When the samples reach back before
    the write: level over the hour before it (drift under `MAX_DRIFT`), then a climb of `MIN_CLIMB` at
    least by the last sample. When the history starts after the write (a short retention, a new
    exporter): a steady climb across every sample (each third above the one before) of `MIN_CLIMB`
    at least, so the build-up was under way before the oldest sample, which the write precedes.
    None otherwise (it was already climbing before the write, it fell, or there are too few samples)."""
    points = [(t, v) for t, v in zip(times, values, strict=True) if not math.isnan(v)]
    after = [v for t, v in points if t >= written + SETTLE]
    if len(after) < MIN_POINTS:
        return None
    now = median(after[-3:])
    if points[0][0] > written:
        third = len(after) // 3
        first, middle, last = median(after[:third]), median(after[third : 2 * third]), median(after[2 * third :])
        if not first < middle < last:
            return None
        found = BuildUp(before=first, at_write=first, now=now, reached_write=False)
        return found if found.climb >= MIN_CLIMB else None
    before = [v for t, v in points if written - LEVEL_BEFORE <= t <= written]
    if len(before) < MIN_POINTS:
        return None
    level = median(before)
    if (max(before) - min(before)) / max(abs(level), 1e-12) > MAX_DRIFT:
        return None  # not level before the write: something else started it
    found = BuildUp(before=level, at_write=before[-1], now=now)
    return found if found.climb >= MIN_CLIMB else None
