"""Several workers on one Postgres (storage.url): the workflow, approvals racing, a worker killed mid-execution.

Each test gets a fresh database on a throwaway cluster (tests/conftest.py `postgres`); a "worker" is a
runtime with its own connections (`open_runtime`), in this process or in a child that kills itself
(tests/firstline/crash_child.py). What must hold: the approved rollback runs once in the simulated
world, whichever worker is told, and the incident finishes on the worker that survives.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from agents.runner import RunOutcome
from evals.sim.server import RunningSim, start_sim
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager
from storage.target import PostgresTarget
from tools.ledger import ActionLedger

REPO = Path(__file__).resolve().parents[2]
CHILD = Path(__file__).with_name("crash_child.py")
TERMINAL = ("resolved", "escalated")


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration", port=0) as running:
        yield running


def _config(sim: RunningSim, tmp_path: Path, postgres: PostgresTarget) -> tuple[FirstlineConfig, Path]:
    config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
    storage = config.storage.model_copy(update={"url": postgres.url, "password_env": postgres.password_env})
    config = config.model_copy(update={"storage": storage})
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
    return load_config(path), path


def _undos(sim: RunningSim) -> int:
    return len([a for a in sim.world.applied_actions if "rollout_undo" in str(a)])


def _rows(postgres: PostgresTarget, query: str) -> list[tuple[object, ...]]:
    with psycopg.connect(postgres.url, password=postgres.password(), autocommit=True) as conn:
        return list(conn.execute(query).fetchall())


async def _waiting(config: FirstlineConfig, sim: RunningSim) -> tuple[str, str]:
    [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
    async with open_runtime(config, knowledge=None) as responder:
        first = await responder.start(alert)
    assert first.waiting_for is not None, first.state.status
    return first.incident_id, first.waiting_for.action_id


def _timeline(outcome: RunOutcome) -> str:
    return "\n".join(f"{t.actor} {t.kind}: {t.text}" for t in outcome.state.timeline)


@pytest.mark.slow
async def test_the_workflow_keeps_all_its_state_in_postgres(
    sim: RunningSim, tmp_path: Path, postgres: PostgresTarget
) -> None:
    config, _ = _config(sim, tmp_path, postgres)
    incident, action = await _waiting(config, sim)
    # Another worker (its own connections) sees the waiting incident and resumes it with the decision.
    async with open_runtime(config, knowledge=None) as other:
        decided = await other.decide(incident, action, "approved", "alice")
    assert decided.run is not None and decided.run.state.status in TERMINAL, _timeline(decided.run)
    assert _undos(sim) == 1
    assert _rows(postgres, "SELECT decided_by FROM decisions WHERE decided_by <> 'policy:auto'") == [("alice",)]
    assert _rows(postgres, "SELECT state FROM executions WHERE tool LIKE '%rollout_undo'") == [("succeeded",)]
    assert _rows(postgres, "SELECT count(*) FROM checkpoints")[0][0] > 0  # type: ignore[operator]
    assert [r[0] for r in _rows(postgres, "SELECT id FROM incidents")] == [incident]
    assert not list(tmp_path.rglob("*.sqlite")), "no SQLite file is written when storage.url is set"


@pytest.mark.slow
async def test_approvals_racing_on_two_workers_run_the_action_once(
    sim: RunningSim, tmp_path: Path, postgres: PostgresTarget
) -> None:
    config, _ = _config(sim, tmp_path, postgres)
    incident, action = await _waiting(config, sim)
    async with open_runtime(config, knowledge=None) as one, open_runtime(config, knowledge=None) as two:
        first, second = await asyncio.gather(
            one.decide(incident, action, "approved", "alice"), two.decide(incident, action, "approved", "bob")
        )
    assert _undos(sim) == 1
    assert sorted([first.status, second.status]) == ["already_decided", "resumed"]
    winner = first if first.status == "resumed" else second
    assert winner.run is not None and winner.run.state.status in TERMINAL
    [(decided_by,)] = _rows(postgres, "SELECT decided_by FROM decisions WHERE decided_by <> 'policy:auto'")
    assert decided_by == winner.decision.decided_by  # the first decision is the one that stands on both


def test_claims_racing_on_separate_connections_mint_one_grant(postgres: PostgresTarget) -> None:
    ledgers = [ActionLedger(postgres) for _ in range(8)]
    ledgers[0].record_decision(
        incident_id="inc-1", action_id="a1", tool="t.x", args_hash="h", decision="approved", decided_by="alice"
    )
    start = threading.Barrier(len(ledgers))
    grants: list[object] = []

    def claim(ledger: ActionLedger) -> None:
        start.wait()
        outcome = ledger.claim(incident_id="inc-1", action_id="a1", tool="t.x", args_hash="h", tier="approve")
        if outcome.grant is not None:
            grants.append(outcome.grant)

    threads = [threading.Thread(target=claim, args=(ledger,)) for ledger in ledgers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(grants) == 1
    assert _rows(postgres, "SELECT count(*) FROM executions") == [(1,)]
    for ledger in ledgers:
        ledger.close()


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", ["after_call", "after_record"])
async def test_a_worker_killed_inside_execute_runs_the_action_once_and_the_survivor_finishes(
    sim: RunningSim, tmp_path: Path, postgres: PostgresTarget, kill_at: str
) -> None:
    config, path = _config(sim, tmp_path, postgres)
    incident, action = await _waiting(config, sim)
    child = subprocess.run(
        [sys.executable, str(CHILD), str(path), "approve", incident, action, "--kill-at", kill_at],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert child.returncode == -9, child.stdout + child.stderr[-2000:]
    assert _undos(sim) == 1
    # The dead worker held the incident's lock; its connection is gone, so the survivor gets it at once.
    async with open_runtime(config, knowledge=None) as survivor:
        again = await asyncio.wait_for(survivor.decide(incident, action, "approved", "bob"), timeout=60)
        outcome = again.run if again.run is not None else (await survivor.resume(incident)).run
    assert outcome.state.status in TERMINAL, _timeline(outcome)
    assert _undos(sim) == 1, _timeline(outcome)
    [rollback] = [a for a in outcome.state.actions if a.kind == "remediation"]
    assert rollback.approval is not None and rollback.approval.by == "crash-matrix"  # the first decision stands
    assert rollback.status == "verified", _timeline(outcome)
