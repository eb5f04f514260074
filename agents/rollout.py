"""Percentage rollouts read from a change's text: which flag (or experiment, or canary) moved, from
what share of traffic to what.

A progressive rollout is recorded one step at a time, each a commit or a workflow run of a flags or
config repository: ``leg-grouping: 5% -> 25%``, ``raise checkout-v2 from 10% to 50%``,
``set-flag new-search percentage=25``. Each step is a change of its own; together they are one
rollout, and the signal they break steps up with them. Undoing it means setting the share back to
what it was before the step that started the harm (`RolloutStep.before`), through the workflow that
sets it (`agents.workflow_inputs` fills such a workflow's inputs from a step).

Pure: text in, facts out; no names of particular flags or services.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

_SUBJECT = r"(?P<subject>[A-Za-z][\w.-]*[\w])"
_SHARE = r"\d{1,3}(?:\.\d+)?"
# "flag: 5% -> 25%", "flag 5 % → 25 %", "flag from 5% to 25%"
FROM_TO = re.compile(
    rf"{_SUBJECT}\s*:?\s*(?:from\s+)?(?P<before>{_SHARE})\s*%\s*(?:->|→|=>|to)\s*(?P<after>{_SHARE})\s*%", re.I
)
# "flag percentage=25", "flag rollout: 25", "flag percent 25"
LABELLED = re.compile(
    rf"{_SUBJECT}\s+(?:rollout[_ ]?)?(?:percentage|percent|pct|rollout|share|weight)\s*[:=]?\s*(?P<after>{_SHARE})\b",
    re.I,
)
# "roll out flag to 25%", "flag to 25%", "enable flag for 25%"
TO_SHARE = re.compile(rf"{_SUBJECT}\s+(?:to|for|at)\s+(?P<after>{_SHARE})\s*%", re.I)
# Words a step's subject is never (the verb or noun before the share, not the flag's key).
NOT_SUBJECTS = frozenset(
    {"percentage", "percent", "pct", "rollout", "share", "weight", "traffic", "users", "from", "raise", "raised"}
    | {"out", "on", "it", "is", "was", "went", "now", "set", "back", "up", "down"}
)
STEP_SETTLE = timedelta(minutes=5)  # a rate over 5 minutes reaches a step's new level this long after it
STEP_WINDOW = timedelta(minutes=6)  # the level before and after a step: the median of this long a stretch
MIN_STEP_RISE = 0.5  # a step raised the signal when its level after is at least 1.5x the level before


class RolloutStep(BaseModel):
    """One step of a percentage rollout: ``subject`` moved from ``before`` (None: not said) to ``after`` %."""

    model_config = ConfigDict(frozen=True)

    subject: str = Field(description="The flag, experiment or route key whose share moved.")
    before: float | None = None
    after: float

    def describe(self) -> str:
        start = f"{_share(self.before)}% -> " if self.before is not None else "to "
        return f"{self.subject} {start}{_share(self.after)}%"


def rollout_step(text: str) -> RolloutStep | None:
    """The rollout step a change's text records, the most explicit reading first (``from -> to``, then
    a labelled share, then ``to N%``); None when the text moves no share."""
    for pattern in (FROM_TO, LABELLED, TO_SHARE):
        for found in pattern.finditer(text):
            subject = found.group("subject")
            if subject.lower() in NOT_SUBJECTS:
                continue
            after = float(found.group("after"))
            before = float(found.group("before")) if "before" in found.groupdict() else None
            if after > 100 or (before is not None and before > 100) or before == after:
                continue
            return RolloutStep(subject=subject, before=before, after=after)
    return None


def step_before(step: RolloutStep, earlier: Sequence[str]) -> float | None:
    """The share before ``step``: its own text's, else the newest earlier step of the same subject's
    (the value it had set), else 0 when no earlier step of the subject is on record (a flag starts off)."""
    if step.before is not None:
        return step.before
    for text in earlier:
        found = rollout_step(text)
        if found is not None and found.subject == step.subject and found.after != step.after:
            return found.after
    return 0.0


def level_rise(times: Sequence[datetime], values: Sequence[float], at: datetime) -> tuple[float, float] | None:
    """The signal's level just before ``at`` and once a step made then has settled (medians over
    `STEP_WINDOW`); None when either side has too few samples (the step is too recent, or too old)."""
    before = [v for t, v in zip(times, values, strict=True) if at - STEP_WINDOW <= t <= at and v == v]
    start = at + STEP_SETTLE
    after = [v for t, v in zip(times, values, strict=True) if start <= t <= start + STEP_WINDOW and v == v]
    if len(before) < 3 or len(after) < 3:
        return None
    return median(before), median(after)


def raised(level: tuple[float, float] | None, floor: float) -> bool:
    """Whether a step's (before, after) level is a rise: by half its level at least, and by more than ``floor``."""
    if level is None:
        return False
    low, high = level
    return high - low > floor and high >= low * (1 + MIN_STEP_RISE)


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value:g}"


def continued(
    step: RolloutStep,
    later: Sequence[tuple[datetime, RolloutStep]],
    times: Sequence[datetime],
    values: Sequence[float],
    floor: float,
) -> str:
    """How a rollout went on after ``step``: each later step of the same subject, when it was made and
    what the signal (``times``/``values``, the alerting SLI) did across it. Empty when none followed."""
    parts = []
    previous = step.after
    for at, later_step in sorted(later, key=lambda pair: pair[0]):
        if later_step.subject != step.subject:
            continue
        start = later_step.before if later_step.before is not None else previous
        text = f"{_share(start)}% -> {_share(later_step.after)}% at {at:%H:%M} UTC"
        level = level_rise(times, values, at)
        if level is not None:
            low, high = level
            verb = "rising" if raised(level, floor) else "not rising"
            text += f" (the signal {verb}: {low:.3g} -> {high:.3g})"
        parts.append(text)
        previous = later_step.after
    return f"the rollout of {step.subject} went on: {', '.join(parts)}" if parts else ""
