"""A slow burn: a consumer's throughput fell two hours before its backlog alert fired, without an
error. The alert ("behind") is read on throughput, the onset is found against the window's start,
and the consumer's own configuration rollout is rolled back."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.investigation import STALL_WORDS
from evals.harness.runner import run_case
from evals.sim.library import load_scenario
from firstline.commands.eval import runtime_factory
from firstline.config import load_config
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "stall"),
    [
        ("search index more than 150k catalog changes behind", True),
        ("consumer lagging on orders-events", True),
        ("checkout 5xx ratio above 5%", False),
        ("lagoon-api p99 above 2s", False),
    ],
)
def test_an_alert_about_falling_behind_is_about_throughput(text: str, stall: bool) -> None:
    assert (STALL_WORDS.search(text.lower()) is not None) is stall


@pytest.mark.slow
async def test_a_throughput_drop_two_hours_before_its_alert_is_found_and_rolled_back(tmp_path: Path) -> None:
    scenario = load_scenario("search-stale-0320")  # dev part, written outside the team
    result = await run_case(scenario, runtime_factory(load_config(REPO / "config.yaml")), parse_alertmanager, tmp_path)
    assert result.error is None, result.error
    assert result.score is not None
    assert result.score.root_cause_top1, result.score.problems
    assert result.score.remediation_correct, result.score.problems
