"""The deterministic reasoner is deterministic whatever the time of day: a library scenario worked at
two wall-clock anchors (different dates, hours and seconds within the minute) reaches the same
diagnosis and proposes the same actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evals.harness.runner import run_case
from evals.sim.library import load_scenario
from firstline.commands.eval import runtime_factory
from firstline.config import load_config
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]
CLOCK_TEXT = re.compile(r"\d{2}:\d{2}(:\d{2})?( UTC)?|\d{4}-\d{2}-\d{2}T[\d:.]+(Z|\+00:00)?")


def _conclusions(concluded: dict[str, Any]) -> dict[str, Any]:
    """What was concluded, with clock readings (which move with the anchor) masked."""
    return {
        key: CLOCK_TEXT.sub("<time>", value) if isinstance(value, str) else value for key, value in concluded.items()
    }


@pytest.mark.parametrize(
    ("name", "entity"), [("signin-failures-evening", "analytics-worker"), ("marketplace-wide-errors", "listings")]
)
async def test_a_scenario_reaches_the_same_diagnosis_at_shifted_wall_clock_times(
    tmp_path: Path, name: str, entity: str
) -> None:
    scenario = load_scenario(name)
    factory = runtime_factory(load_config(REPO / "config.yaml"))
    results = []
    for index, anchor in enumerate(
        [datetime(2026, 3, 2, 3, 17, 41, tzinfo=UTC), datetime(2026, 7, 15, 16, 52, 9, 500000, tzinfo=UTC)]
    ):
        result = await run_case(scenario, factory, parse_alertmanager, tmp_path / str(index), anchor=anchor)
        assert result.error is None, result.error
        results.append(result)
    first, second = (_conclusions(r.concluded) for r in results)
    assert first["entity"] == entity  # the case is worked, not just equally broken twice
    assert first == second


@pytest.mark.parametrize("days", [-200, 45])
async def test_a_scenario_anchored_in_the_past_or_future_plays_as_one_anchored_now(tmp_path: Path, days: int) -> None:
    """A scenario's own ``anchor:`` (no anchor from the runner) starts the simulator's clock there: a
    future alert has fired, and a past one does not make the simulator compute months of history."""
    scenario = load_scenario("signin-failures-evening")
    anchored = scenario.model_copy(update={"anchor": datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)})
    factory = runtime_factory(load_config(REPO / "config.yaml"))
    result = await run_case(anchored, factory, parse_alertmanager, tmp_path)
    assert result.error is None, result.error
    assert result.concluded["entity"] == "analytics-worker"
    assert result.seconds < 30


async def test_a_runbook_dispatch_reads_the_same_history_just_after_midnight(tmp_path: Path) -> None:
    """The version to roll back to is read from a run a day before the alert: GitHub's ``created``
    dates are whole days, so at 00:05 that run is on the last day of the range, and is still found."""
    scenario = load_scenario("tokens-rejected-thursday")
    factory = runtime_factory(load_config(REPO / "config.yaml"))
    proposed = []
    for index, anchor in enumerate(
        [datetime(2026, 5, 13, 0, 5, 3, tzinfo=UTC), datetime(2026, 5, 13, 14, 40, 0, tzinfo=UTC)]
    ):
        result = await run_case(scenario, factory, parse_alertmanager, tmp_path / str(index), anchor=anchor)
        assert result.error is None, result.error
        assert result.score is not None and result.score.remediation_correct, result.score.problems
        proposed.append(_conclusions(result.concluded))
    assert proposed[0] == proposed[1]
