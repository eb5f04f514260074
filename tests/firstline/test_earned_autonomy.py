"""Earned autonomy end to end: the same fault week after week against the simulator, one state directory.

The track record earns a recommendation, only a named human's promotion makes the next occurrence run
without waiting, and a failed verification demotes the rule on its own (timeline, policy file, owner).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.state import Alert
from evals.sim.server import RunningSim, start_sim
from firstline.commands import CommandError
from firstline.commands.autonomy import assess, open_policy
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.console import Console
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager
from tools.earned import read_earned_rules
from tools.kubernetes.adapter import ROLLBACK_SAFETY
from tools.ledger import ActionLedger
from tools.policy import AutonomyThresholds

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
WEEK0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


class Shown(Console):
    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def info(self, text: str) -> None:
        self.shown.append(text)


@contextmanager
def week(n: int) -> Iterator[RunningSim]:
    with start_sim("checkout-migration", anchor=WEEK0 + timedelta(weeks=n)) as running:
        yield running


def _config(sim: RunningSim, state: Path) -> FirstlineConfig:
    base = load_config(REPO / "config.yaml")
    config = sandbox_config(base, sim, state)
    policy = config.policy.model_copy(update={"autonomy": AutonomyThresholds(min_verified_in_a_row=2, min_days=7)})
    return config.model_copy(update={"policy": policy})


def _alert(sim: RunningSim) -> Alert:
    [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
    return alert


async def _approved_occurrence(n: int, state: Path) -> dict[str, Any]:
    with week(n) as sim:
        async with open_runtime(_config(sim, state), knowledge=None) as responder:
            first = await responder.start(_alert(sim))
            assert first.waiting_for is not None, "without a promotion the rollback waits for a human"
            done = await responder.decide(first.incident_id, first.waiting_for.action_id, "approved", "alice")
    assert done.run is not None
    return done.run.record()


def _promote(config: FirstlineConfig, by: str | None) -> int:
    args = argparse.Namespace(
        config=None, action_class="rollback", service="checkout", env=None, by=by, comment="two clean weeks"
    )
    import firstline.commands.autonomy as autonomy

    original = autonomy.load
    autonomy.load = lambda *_a, **_k: config  # type: ignore[assignment]  # the in-memory sandbox config
    try:
        return autonomy.cmd_autonomy_promote(args, Shown())
    finally:
        autonomy.load = original


async def test_promotion_needs_a_human_and_a_failed_verification_demotes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    for n in (0, 1):
        record = await _approved_occurrence(n, state)
        assert record["status"] == "resolved"

    with week(2) as sim:
        config = _config(sim, state)
        [track] = [t for t in assess(config, open_policy(config), now=WEEK0)[0] if t.action_class == "rollback"]
        assert (track.service, track.verified, track.approvals, track.run) == ("checkout", 2, 2, 2)
        assert track.standing == "recommended", track.reason
        # The recommendation alone changes nothing: the third week would still wait.
        assert read_earned_rules(config.policy.earned_file) == []  # type: ignore[arg-type]
        with pytest.raises(CommandError, match="accepted by a named person"):
            _promote(
                config.model_copy(update={"approvals": config.approvals.model_copy(update={"cli_identity": ["by"]})}),
                None,
            )
        assert _promote(config, "bob") == 0
        [rule] = read_earned_rules(config.policy.earned_file)  # type: ignore[arg-type]
        assert (rule.promoted_by, rule.evidence.verified_in_a_row, rule.active) == ("bob", 2, True)
        assert len(rule.evidence.incidents) == 2 and rule.comment == "two clean weeks"

        async with open_runtime(config, knowledge=None) as responder:
            third = await responder.start(_alert(sim))
    assert third.waiting_for is None, "the promoted rollback runs without waiting"
    record = third.record()
    assert record["status"] == "resolved"
    rollback = next(a for a in record["actions"] if a["kind"] == "remediation")
    assert rollback["status"] == "verified" and rollback["requires_approval"] is False
    proposed = next(t["text"] for t in record["timeline"] if t["kind"] == "proposed")
    assert "policy: auto (earned autonomy: rollback on checkout in production, promoted by bob" in proposed
    ledger = ActionLedger(config.storage.ledger)
    try:
        decision = ledger.get_decision(record["id"], rollback["id"])
    finally:
        ledger.close()
    assert decision is not None and decision.decided_by == "policy:auto"

    with week(3) as sim:
        sim.world.effect_for = lambda *_a, **_k: None  # type: ignore[method-assign]  # this time it does not help
        config = _config(sim, state)
        async with open_runtime(config, knowledge=None) as responder:
            fourth = await responder.start(_alert(sim))
        timeline = fourth.state.timeline
    demoted = [t for t in timeline if t.kind == "autonomy_demoted"]
    assert demoted and "needs a human approval again after a failed verification" in demoted[0].text
    told = [t.text for t in timeline if t.kind == "post" and "demotion told to" in t.text]
    assert told, [t.text for t in timeline if t.kind == "post"]
    [rule] = read_earned_rules(config.policy.earned_file)  # type: ignore[arg-type]
    assert not rule.active and "a failed verification" in rule.demoted_reason and rule.promoted_by == "bob"
    # From now on the rollback waits for a human again, and the track record says why.
    assert open_policy(config).decide(ROLLBACK_SAFETY, service="checkout").tier == "approve"
    [track] = [t for t in assess(config, open_policy(config), now=WEEK0)[0] if t.action_class == "rollback"]
    assert (track.standing, track.verified, track.failed_verifications, track.auto_runs) == ("demoted", 3, 1, 2)
    assert track.reason.startswith("demoted ") and "a failed verification" in track.reason


async def test_the_sequence_eval_scores_every_step(tmp_path: Path) -> None:
    from firstline.learning_eval import run_sequence

    report = await run_sequence(
        load_config(REPO / "config.yaml"), tmp_path, scenario="checkout-migration", alert_name="CheckoutHighErrorRate"
    )
    assert [c.name for c in report.checks] == [
        "recurrence",
        "recommended",
        "promotion_needs_a_human",
        "runs_without_waiting",
        "failure_demotes",
    ]
    assert report.score == 1.0, [c for c in report.checks if not c.passed]
    assert [o.waited_for_human for o in report.occurrences] == [True, True, False, False]
    assert report.occurrences[-1].demoted and not report.occurrences[0].recurrence_note
