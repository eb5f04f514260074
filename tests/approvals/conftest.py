"""A waiting incident (the checkout-migration scenario in the simulator) with the approvals layer around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.runner import Responder, RunOutcome
from approvals.settings import ApprovalRule, ApprovalSettings, Approvers, SlackApprovals
from evals.sim.server import RunningSim, start_sim
from firstline.approvals_wiring import ApprovalsRuntime, open_approvals
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]
SLACK_SECRET = "test-signing-secret-0123456789"
PASSWORD = "correct horse battery"


@dataclass
class Waiting:
    sim: RunningSim
    config: FirstlineConfig
    responder: Responder
    approvals: ApprovalsRuntime
    first: RunOutcome

    @property
    def incident(self) -> str:
        return self.first.incident_id

    @property
    def action(self) -> str:
        assert self.first.waiting_for is not None
        return self.first.waiting_for.action_id

    def undos(self) -> list[object]:
        return [a for a in self.sim.world.applied_actions if "rollout_undo" in str(a)]


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration") as running:
        yield running


def approvals_config(sim: RunningSim, tmp_path: Path) -> FirstlineConfig:
    base = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
    settings = ApprovalSettings(
        database=tmp_path / "approvals.sqlite",
        rules=[
            ApprovalRule(
                name="production-changes",
                action_classes=["rollback", "scale", "restart"],
                environments=["production"],
                approvers=Approvers(groups=["sre"], oncall=True),
            )
        ],
        slack=SlackApprovals(enabled=True, tool="slack", signing_secret_env="FL_TEST_SLACK_SECRET"),
        console_url="http://127.0.0.1:8787",
    )
    return base.model_copy(update={"approvals": settings})


@pytest.fixture
async def waiting(sim: RunningSim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Waiting]:
    monkeypatch.setenv("FL_TEST_SLACK_SECRET", SLACK_SECRET)
    config = approvals_config(sim, tmp_path)
    async with open_runtime(config, knowledge=None) as responder, open_approvals(config, responder) as approvals:
        [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
        first = await responder.start(alert)
        assert first.waiting_for is not None
        now = datetime.now(UTC)
        users = approvals.users
        users.add_user("alice", password=PASSWORD, at=now, groups=["sre"], slack_id="U0ALICE")
        users.add_user("bob", password=PASSWORD, at=now, groups=["sre"], slack_id="U0BOB")
        users.add_user("eve", password=PASSWORD, at=now, groups=["marketing"], slack_id="U0EVE")
        yield Waiting(sim, config, responder, approvals, first)
