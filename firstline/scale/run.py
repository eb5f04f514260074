"""``firstline bench scale --workers 1,2,4``: what more workers on one Postgres buy, measured.

For each store (SQLite in one process; Postgres with each worker count):

- **accept**: deliveries stored one by one, each committed before the next (what the receiver does
  before its 202), from one client connection.
- **correlate**: the storm of `intake bench` (``--alerts``) written to the inbox at once, then the time
  until the workers have correlated every delivery (worker start-up not included: they wait, ready).
- **investigate**: ``--incidents`` distinct incidents from the simulator's example alert, each run to the
  approval gate by the deterministic reasoner; split evenly between the workers (a static split: it
  measures the shared store, not the lease hand-out).
- **peak memory** per worker process (peak resident set).

Workers are separate processes (`firstline.scale.worker`). The Postgres is the one in
``storage.url``, or a throwaway cluster started for the run (``--throwaway``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import yaml

from evals.benchmarks.intake.bench import bench_settings
from evals.benchmarks.intake.storm import StormBuilder
from intake.db import open_db, transaction
from intake.inbox import Inbox
from intake.settings import IntakeSettings
from storage.target import PostgresTarget

ProgressFn = Callable[[str], None]
REPO = Path(__file__).resolve().parents[2]


@contextmanager
def throwaway_postgres() -> Iterator[PostgresTarget]:
    """A temporary cluster (storage.throwaway), fsync on; RuntimeError saying why when none can start."""
    from storage.throwaway import PASSWORD, PASSWORD_ENV, Problem, find_bin_dir, start_cluster

    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise RuntimeError("no Postgres binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql/*/bin")
    os.environ[PASSWORD_ENV] = PASSWORD
    for cluster in start_cluster(bin_dir, durable=True):
        if isinstance(cluster, Problem):
            raise RuntimeError(cluster.reason)
        yield PostgresTarget(url=cluster.url(), password_env=PASSWORD_ENV)


def _fresh_database(server: PostgresTarget, name: str) -> PostgresTarget:
    """An empty database ``name`` on the server (dropped first if it exists)."""
    parts = urlsplit(server.url)
    with psycopg.connect(server.url, password=server.password(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    return PostgresTarget(url=urlunsplit(parts._replace(path=f"/{name}")), password_env=server.password_env)


def _spawn(setups: list[dict[str, Any]], workdir: Path) -> list[tuple[subprocess.Popen[bytes], Path, Path]]:
    procs = []
    for n, setup in enumerate(setups):
        setup_path, result, out = workdir / f"setup{n}.json", workdir / f"result{n}.json", workdir / f"out{n}.txt"
        result.unlink(missing_ok=True)
        setup_path.write_text(json.dumps(setup))
        with out.open("wb") as stdout:
            proc = subprocess.Popen(
                [sys.executable, "-m", "firstline.scale.worker", str(setup_path), str(result)],
                cwd=REPO,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )
        procs.append((proc, result, out))
    deadline = time.monotonic() + 120
    for proc, _, out in procs:
        while not out.read_bytes().startswith(b"ready"):
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(procs)  # none left running behind the error
                raise RuntimeError(f"a bench worker did not start: {out.read_text(errors='replace')[-2000:]}")
            time.sleep(0.02)
    return procs


def _stop(procs: list[tuple[subprocess.Popen[bytes], Path, Path]]) -> None:
    """Kill and reap every worker still running."""
    for proc, _, _ in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _collect(procs: list[tuple[subprocess.Popen[bytes], Path, Path]], timeout: float) -> list[dict[str, Any]]:
    results = []
    for proc, result, out in procs:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        if code != 0 or not result.exists():
            _stop(procs)
            raise RuntimeError(f"a bench worker failed: {out.read_text(errors='replace')[-2000:]}")
        results.append(json.loads(result.read_text()))
    return results


def _accept_rate(location: Path | PostgresTarget, bodies: list[tuple[str, float, bytes]]) -> float:
    conn = open_db(location)
    inbox = Inbox(conn)
    started = time.perf_counter()
    for source, at, body in bodies:
        inbox.enqueue(source, at, {}, body)
    elapsed = time.perf_counter() - started
    conn.close()
    return len(bodies) / elapsed


def _correlate(
    location: Path | PostgresTarget,
    workers: int,
    storm: dict[str, Any],
    bodies: list[tuple[str, float, bytes]],
    workdir: Path,
) -> dict[str, Any]:
    setup = {"mode": "intake", "expected": len(bodies), **storm}
    setup |= {"postgres": location.model_dump()} if isinstance(location, PostgresTarget) else {"sqlite": str(location)}
    procs = _spawn([setup] * workers, workdir)
    conn = open_db(location)
    inbox = Inbox(conn)
    with transaction(conn):
        for source, at, body in bodies:
            inbox.enqueue(source, at, {}, body)
    started = time.perf_counter()
    results = _collect(procs, timeout=900)
    elapsed = time.perf_counter() - started
    conn.close()
    return {
        "seconds": round(elapsed, 2),
        "deliveries_per_second": round(len(bodies) / elapsed),
        "alerts_per_second": round(storm["alerts"] / elapsed),
        "peak_rss_mb_per_worker": [r["peak_rss_mb"] for r in results],
    }


def _investigate(config: Path, workers: int, alerts: list[dict[str, Any]], workdir: Path) -> dict[str, Any]:
    go = workdir / "go"
    go.unlink(missing_ok=True)
    shares = [alerts[n::workers] for n in range(workers)]
    procs = _spawn(
        [{"mode": "investigate", "config": str(config), "go": str(go), "alerts": s} for s in shares], workdir
    )
    started = time.perf_counter()
    go.touch()
    results = _collect(procs, timeout=1800)
    elapsed = time.perf_counter() - started
    statuses = sorted({s for r in results for s in r["statuses"]})
    return {
        "seconds": round(elapsed, 2),
        "incidents_per_minute": round(len(alerts) / elapsed * 60, 1),
        "statuses": statuses,
        "peak_rss_mb_per_worker": [r["peak_rss_mb"] for r in results],
    }


def run_scale(
    workers: list[int],
    *,
    server: PostgresTarget,
    alerts: int = 20_000,
    incidents: int = 12,
    seed: int = 7,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Measure every configuration; ``server`` is a Postgres where databases may be created."""
    from evals.sim.server import start_sim
    from firstline.commands.incidents import sandbox_config
    from firstline.config import load_config
    from intake.alertmanager import parse_alertmanager

    say = progress or (lambda _: None)
    builder = StormBuilder(alerts, seed=seed)
    settings = bench_settings(IntakeSettings(), builder)
    storm = {"settings": settings.model_dump(mode="json"), "dependencies": builder.dependencies, "alerts": alerts}
    bodies = [(line.source, line.received_at, json.dumps(line.payload).encode()) for line in builder.lines()]
    sample = bodies[: min(len(bodies), 2000)]
    results: dict[str, Any] = {
        "alerts": alerts,
        "deliveries": len(bodies),
        "incidents": incidents,
        "cpus": os.cpu_count(),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="firstline-scale-") as tmp, start_sim("checkout-migration") as sim:
        workdir = Path(tmp)
        [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
        distinct = [
            alert.model_copy(update={"fingerprint": f"{alert.fingerprint}-scale{n}"}).model_dump(mode="json")
            for n in range(incidents)
        ]
        plan: list[tuple[str, int]] = [("sqlite", 1)] + [("postgres", n) for n in workers]
        for store, count in plan:
            label = f"{store} x{count}"
            run_dir = workdir / f"{store}{count}"
            run_dir.mkdir()
            location: Path | PostgresTarget = (
                run_dir / "intake.sqlite" if store == "sqlite" else _fresh_database(server, f"scale_{count}")
            )
            say(f"{label}: accept")
            accept_at = run_dir / "accept.sqlite" if store == "sqlite" else _fresh_database(server, f"accept_{count}")
            accept = _accept_rate(accept_at, sample)
            say(f"{label}: correlate {alerts:,} alerts")
            correlate = _correlate(location, count, storm, bodies, run_dir)
            say(f"{label}: investigate {incidents} incidents")
            config = sandbox_config(load_config(REPO / "config.yaml"), sim, run_dir)
            if isinstance(location, PostgresTarget):
                storage = config.storage.model_copy(update={"url": location.url, "password_env": location.password_env})
                config = config.model_copy(update={"storage": storage})
            config_path = run_dir / "config.yaml"
            config_path.write_text(yaml.safe_dump(config.model_dump(mode="json")), encoding="utf-8")
            investigate = _investigate(config_path, count, distinct, run_dir)
            results["runs"].append(
                {
                    "store": store,
                    "workers": count,
                    "accept_deliveries_per_second": round(accept),
                    "correlate": correlate,
                    "investigate": investigate,
                }
            )
    return results
