"""The crash matrix: kill -9 at every step boundary and inside execution, then resume.

A child process (tests/firstline/crash_child.py) runs the example incident against the simulator and
kills itself with SIGKILL at one point: after the N-th step of the graph while the incident is opened
and investigated, after the N-th step once the rollback is approved, or inside the execution of the
approved action (claimed but not sent; sent but not recorded; recorded but not checkpointed). Then the
incident is resumed the way an operator would (`firstline incidents resume`, `firstline approve`). For
every kill point: the incident reaches a terminal state, the rollback ran at most once, and the record
says what happened. It ran exactly once unless the kill came after the ledger claimed the execution
and before the call was sent: that outcome is unknown, so it is never re-run automatically; the world
shows no effect and the incident escalates with the unknown outcome on its timeline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from agents.ids import incident_id_for
from agents.runner import RunOutcome
from agents.state import Alert
from evals.sim.server import RunningSim, start_sim
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager

pytestmark = pytest.mark.slow  # each case runs a child process to its death

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
TERMINAL = ("resolved", "escalated")


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration", port=0) as running:
        yield running


def _setup(sim: RunningSim, tmp_path: Path) -> tuple[FirstlineConfig, Path, Alert]:
    config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
    return config, path, alert


def _child(config: Path, *args: str, kill_at: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), str(config), *args, "--kill-at", kill_at],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def _undos(sim: RunningSim) -> int:
    return len([a for a in sim.world.applied_actions if "rollout_undo" in str(a)])


async def _resume_and_finish(config: FirstlineConfig, incident: str) -> RunOutcome:
    """What an operator does after a crash: resume; approve if it waits for the decision; never twice."""
    async with open_runtime(config, knowledge=None) as responder:
        outcome = (await responder.resume(incident)).run
        while outcome.waiting_for is not None:
            decided = await responder.decide(incident, outcome.waiting_for.action_id, "approved", "operator")
            assert decided.run is not None
            outcome = decided.run
    return outcome


def _timeline(outcome: RunOutcome) -> str:
    return "\n".join(f"{t.actor} {t.kind}: {t.text}" for t in outcome.state.timeline)


@pytest.mark.parametrize("steps", [1, 3, 5, 7, 9, 11])
async def test_a_kill_while_opening_and_investigating_is_resumed(sim: RunningSim, tmp_path: Path, steps: int) -> None:
    config, path, alert = _setup(sim, tmp_path)
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(alert.model_dump_json(), encoding="utf-8")
    child = _child(path, "start", str(alert_file), kill_at=f"node:{steps}")
    assert child.returncode in (-9, 0), child.stderr[-2000:]
    incident = incident_id_for(alert)
    outcome = await _resume_and_finish(config, incident)
    assert outcome.state.status in TERMINAL, _timeline(outcome)
    assert _undos(sim) == 1, _timeline(outcome)  # approved once, ran once
    [rollback] = [a for a in outcome.state.actions if a.kind == "remediation"]
    assert rollback.status == "verified" and rollback.approval is not None and rollback.approval.by == "operator"
    _posted_once(sim)


def _posted_once(sim: RunningSim) -> None:
    """Every message went out at most once per phase, whatever the kill point: the ledger keys them."""
    world = sim.world.snapshot()
    heads = [m["text"].splitlines()[0] for m in world["slack"]["messages"]]
    assert len(heads) == len(set(heads)), heads
    incidents = world["statuspage"]["incidents"]
    assert len(incidents) <= 1
    statuses = [u["status"] for i in incidents for u in i["incident_updates"]]
    assert len(statuses) == len(set(statuses)), statuses
    triggers = [e for e in world["pagerduty"]["events"] if e["event_action"] == "trigger"]
    assert len({e["dedup_key"] for e in triggers}) == len(triggers), triggers


async def _waiting_incident(config: FirstlineConfig, alert: Alert) -> tuple[str, str]:
    async with open_runtime(config, knowledge=None) as responder:
        first = await responder.start(alert)
    assert first.waiting_for is not None
    return first.incident_id, first.waiting_for.action_id


@pytest.mark.parametrize(
    "kill_at", ["node:1", "node:2", "node:3", "node:4", "before_call", "after_call", "after_record"]
)
async def test_a_kill_after_the_approval_is_resumed_and_runs_the_action_at_most_once(
    sim: RunningSim, tmp_path: Path, kill_at: str
) -> None:
    config, path, alert = _setup(sim, tmp_path)
    incident, action = await _waiting_incident(config, alert)
    child = _child(path, "approve", incident, action, kill_at=kill_at)
    assert child.returncode in (-9, 0), child.stderr[-2000:]
    if kill_at in ("after_call", "after_record"):
        assert _undos(sim) == 1
    elif kill_at == "before_call":
        assert _undos(sim) == 0

    # The operator types `approve` again (as the README says after a crash): it must resume, not say "nothing to do".
    async with open_runtime(config, knowledge=None) as responder:
        again = await responder.decide(incident, action, "approved", "operator")
        outcome = again.run if again.run is not None else (await responder.resume(incident)).run
    assert outcome.state.status in TERMINAL, _timeline(outcome)
    [rollback] = [a for a in outcome.state.actions if a.kind == "remediation"]
    assert rollback.approval is not None and rollback.approval.by == "crash-matrix"  # the first decision stands
    timeline = _timeline(outcome)
    if kill_at == "before_call":
        # Claimed, never sent: the outcome is unknown, so it is not run again; the world shows no effect and
        # the incident goes to a human with that on the record.
        assert _undos(sim) == 0, timeline
        assert "may or may not have run; not running it again" in timeline
        assert "not_recovered" in timeline and outcome.state.status == "escalated"
        return
    assert _undos(sim) == 1, timeline  # exactly once, whatever the kill point
    _posted_once(sim)
    if kill_at == "after_call":  # the call ran but its result was never recorded: verified, not repeated
        assert "may or may not have run; not running it again" in timeline
    assert rollback.status == "verified", timeline


async def test_incidents_resume_from_the_command_line(sim: RunningSim, tmp_path: Path) -> None:
    config, path, alert = _setup(sim, tmp_path)
    incident, action = await _waiting_incident(config, alert)
    child = _child(path, "approve", incident, action, kill_at="after_call")
    assert child.returncode == -9, child.stdout + child.stderr[-2000:]
    resumed = subprocess.run(
        [sys.executable, "-m", "firstline.cli", "--config", str(path), "incidents", "resume", incident],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr[-2000:]
    assert _undos(sim) == 1
    shown = subprocess.run(
        [sys.executable, "-m", "firstline.cli", "--config", str(path), "incidents", "resume", incident],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "nothing to resume" in shown.stdout + shown.stderr
    assert _undos(sim) == 1


async def test_serve_resumes_every_unfinished_incident_at_start(sim: RunningSim, tmp_path: Path) -> None:
    config, path, alert = _setup(sim, tmp_path)
    alert_file = tmp_path / "alert.json"
    alert_file.write_text(alert.model_dump_json(), encoding="utf-8")
    assert _child(path, "start", str(alert_file), kill_at="node:5").returncode == -9
    async with open_runtime(config, knowledge=None) as responder:  # what `serve` does once its runtime is open
        [resumed] = await responder.resume_unfinished()
        assert resumed.run.incident_id == incident_id_for(alert)
        assert resumed.run.waiting_for is not None  # investigated and proposed; now it waits for a human
        assert await responder.resume_unfinished() == []  # waiting for a decision is not unfinished
