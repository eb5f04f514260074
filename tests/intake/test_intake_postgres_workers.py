"""Several intake workers on one Postgres, an alert storm, one worker killed with SIGKILL mid-stream.

The storm is `intake bench`'s generator (scaled down to run in seconds); its deliveries are written to
the shared inbox as the receivers would, in chunks, while three worker processes
(tests/intake/pg_worker.py) correlate them. One is killed mid-stream and started again. Then: no
delivery is lost or correlated twice, every requested investigation is started once (a second start
only for a run the dead worker had taken and never finished), and the incidents are the ones one
engine gets from the same storm.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from evals.benchmarks.intake.bench import bench_settings
from evals.benchmarks.intake.storm import StormBuilder
from intake.db import open_db
from intake.inbox import Inbox
from intake.pipeline import IntakePipeline
from intake.settings import IntakeSettings
from intake.topology import Topology
from storage.target import PostgresTarget

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
WORKER = HERE / "pg_worker.py"
ALERTS = int(os.environ.get("FIRSTLINE_STORM_ALERTS", "20000"))  # the storm; smaller to iterate


def _start_worker(setup: Path, n: int) -> subprocess.Popen[str]:
    out, err = setup.with_name(f"worker{n}.out"), setup.with_name(f"worker{n}.err")
    with out.open("w") as stdout, err.open("w") as stderr:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER), str(setup), str(setup.with_name(f"engine{n}.json"))],
            cwd=REPO,
            stdout=stdout,
            stderr=stderr,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
    deadline = time.monotonic() + 60
    while not out.read_text().startswith("ready"):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise AssertionError(f"worker {n} did not start: {err.read_text()[-3000:]}")
        time.sleep(0.05)
    return worker


def _one_engine(lines: list[Any], settings: IntakeSettings, topology: Topology) -> tuple[dict[str, int], set[Any]]:
    """What a single engine makes of the storm (the reference): each incident's alerts, the runs requested."""
    pipeline = IntakePipeline(settings, topology)
    runs: set[tuple[str, int]] = set()
    for line in lines:
        pipeline.feed(line.source, json.loads(json.dumps(line.payload)), line.received_at)
        for decision in pipeline.engine.drain():
            if decision.kind == "investigate":
                runs.add((decision.incident.id, decision.revision))
    return {incident.id: len(incident.alerts) for incident in pipeline.engine.incidents.values()}, runs


def _wait_settled(conn: psycopg.Connection[Any], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [(processed, pending)] = conn.execute(
            "SELECT count(*) FILTER (WHERE state = 'processed'), count(*) FILTER (WHERE state = 'pending') FROM inbox"
        ).fetchall()
        [(unfinished,)] = conn.execute(
            "SELECT count(*) FROM intake_runs WHERE state IN ('pending', 'running')"
        ).fetchall()
        if processed == expected and pending == 0 and unfinished == 0:
            return
        time.sleep(0.2)
    raise AssertionError(
        f"not settled after {timeout}s: processed {processed}/{expected}, unfinished runs {unfinished}"
    )


@pytest.mark.slow
def test_three_workers_and_a_kill_lose_nothing_and_investigate_once(postgres: PostgresTarget, tmp_path: Path) -> None:
    builder = StormBuilder(ALERTS, seed=11)
    base = IntakeSettings.model_validate({"run_lease_seconds": 3})
    settings = bench_settings(base, builder)
    topology = Topology(builder.dependencies, settings.grouping.max_hops)
    lines = list(builder.lines())
    setup = tmp_path / "setup.json"
    setup.write_text(
        json.dumps(
            {
                "url": postgres.url,
                "password_env": postgres.password_env,
                "settings": settings.model_dump(mode="json"),
                "dependencies": builder.dependencies,
            }
        )
    )
    db = open_db(postgres)  # migrates the schema
    inbox = Inbox(db)
    watch = psycopg.connect(postgres.url, password=postgres.password(), autocommit=True)
    try:
        _storm_with_a_kill(setup, lines, inbox, watch, settings, topology)
    finally:
        watch.close()
        db.close()


def _storm_with_a_kill(
    setup: Path,
    lines: list[Any],
    inbox: Inbox,
    watch: psycopg.Connection[Any],
    settings: IntakeSettings,
    topology: Topology,
) -> None:
    watch.execute("CREATE TABLE test_starts (worker TEXT, incident_id TEXT, revision INTEGER)")
    workers = [_start_worker(setup, n) for n in range(3)]
    killed: subprocess.Popen[str] | None = None
    try:
        chunks = [lines[i : i + 50] for i in range(0, len(lines), 50)]
        for n, chunk in enumerate(chunks):
            for line in chunk:
                inbox.enqueue(line.source, line.received_at, {}, json.dumps(line.payload).encode())
            if n == len(chunks) // 3:
                killed = workers.pop(0)
                killed.send_signal(signal.SIGKILL)
                killed.wait(timeout=10)
            if n == len(chunks) // 2:
                workers.append(_start_worker(setup, 3))  # the killed worker comes back (a new process)
            time.sleep(0.01)
        _wait_settled(watch, len(lines), timeout=90)
        time.sleep(2.5)  # every worker's timer takes a turn: each engine catches up with the others' last items
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert killed is not None and killed.returncode == -9

    # Every delivery correlated exactly once, none dead-lettered that one engine accepts.
    [(processed, distinct_seq)] = watch.execute(
        "SELECT count(*), count(DISTINCT processed_seq) FROM inbox WHERE state = 'processed'"
    ).fetchall()
    assert processed == distinct_seq == len(lines)
    assert watch.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)

    # The same incidents, with the same alerts, and the same investigations, as one engine decides; and the
    # survivors' engines (the restarted one rebuilt from the store) each hold all of it.
    expected_incidents, expected_runs = _one_engine(lines, settings, topology)
    stored = {row[0] for row in watch.execute("SELECT id FROM intake_incidents")}
    assert stored == set(expected_incidents)
    engines = [json.loads(path.read_text()) for path in sorted(setup.parent.glob("engine*.json"))]
    assert len(engines) == 3  # the two survivors and the restarted worker; the killed one wrote nothing
    for engine in engines:
        assert engine["incidents"] == expected_incidents, engine["worker"]
    runs = {(r[0], r[1]) for r in watch.execute("SELECT incident_id, revision FROM intake_runs").fetchall()}
    assert runs == expected_runs and len(runs) >= 5

    # Each investigation started once; twice only when the killed worker had started it and died.
    starts: dict[tuple[str, int], list[str]] = {}
    for worker, incident, revision in watch.execute("SELECT worker, incident_id, revision FROM test_starts"):
        starts.setdefault((incident, revision), []).append(worker)
    assert set(starts) == runs
    dead = {w for ws in starts.values() for w in ws if f":{killed.pid}:" in w}
    for key, by in starts.items():
        survivors = [w for w in by if w not in dead]
        assert len(survivors) <= 1, (key, by)
