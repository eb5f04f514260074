"""Percentage-rollout steps read from a change's text, and the share to set back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.rollout import RolloutStep, level_rise, raised, rollout_step, step_before


@pytest.mark.parametrize(
    ("text", "subject", "before", "after"),
    [
        ("leg-grouping: 0% -> 5% (set-flag)", "leg-grouping", 0.0, 5.0),
        ("raise checkout_v2 from 10% to 50%", "checkout_v2", 10.0, 50.0),
        ("new-search 25 % → 100 %", "new-search", 25.0, 100.0),
        ("workflow run set-flag set-flag price-alerts percentage=25 (success)", "price-alerts", None, 25.0),
        ("Roll out profile-v2-validation to 100%", "profile-v2-validation", None, 100.0),
    ],
)
def test_a_step_names_its_subject_and_shares(text: str, subject: str, before: float | None, after: float) -> None:
    assert rollout_step(text) == RolloutStep(subject=subject, before=before, after=after)


@pytest.mark.parametrize(
    "text",
    [
        "orders 4.2.0: retry budget raised",  # no share at all
        "replicas 6 -> 3",  # counts, not shares
        "cpu limit 80% -> 80%",  # nothing moved
        "canary 50% -> 150%",  # not a share
    ],
)
def test_text_that_moves_no_share_is_no_step(text: str) -> None:
    assert rollout_step(text) is None


def test_the_share_before_is_the_steps_own_then_the_subjects_last_step_then_off() -> None:
    said = RolloutStep(subject="grouping", before=5.0, after=25.0)
    assert step_before(said, ["grouping percentage=50"]) == 5.0
    unsaid = RolloutStep(subject="grouping", after=50.0)
    earlier = ["other-flag percentage=80", "grouping percentage=25", "grouping percentage=5"]
    assert step_before(unsaid, earlier) == 25.0  # the newest earlier step of the same subject
    assert step_before(unsaid, ["other-flag percentage=80"]) == 0.0  # no earlier step: it was off


def test_a_step_raised_the_signal_when_its_level_after_settles_higher() -> None:
    start = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    times = [start + timedelta(minutes=i) for i in range(40)]
    step_at = start + timedelta(minutes=20)
    stairs = [0.02 if t < step_at + timedelta(minutes=2) else 0.09 for t in times]
    level = level_rise(times, stairs, step_at)
    assert level == (0.02, 0.09) and raised(level, floor=0.01)
    flat = [0.02] * len(times)
    assert not raised(level_rise(times, flat, step_at), floor=0.01)
    assert level_rise(times, stairs, times[-2]) is None  # too recent: not settled yet
