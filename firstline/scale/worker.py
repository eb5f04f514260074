"""One worker process of ``firstline bench scale``.

    python -m firstline.scale.worker SETUP.json RESULT.json

``mode: intake``: an `IntakeService` (nothing investigated: the record-only starter) on the given store,
its clock the engine's event time; exits when ``expected`` deliveries are processed in the store.
``mode: investigate``: the workflow runtime from ``config``; waits for the ``go`` file, then opens an
incident for each of its ``alerts`` in turn. Both write their peak resident memory to RESULT.json.
Prints ``ready`` once started.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from evals.benchmarks.intake.bench import peak_memory_mb


def worker_peak_mb() -> float:
    """This process's own peak resident set. On Linux ``ru_maxrss`` carries the parent's peak across
    fork+exec (the kernel keeps the larger), so the mm's high-water mark (VmHWM) is read instead."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return peak_memory_mb()


async def _intake(setup: dict[str, Any]) -> dict[str, Any]:
    from intake.service import IntakeService
    from intake.settings import IntakeSettings
    from intake.starter import record_only
    from intake.topology import Topology
    from storage.target import PostgresTarget

    settings = IntakeSettings.model_validate(setup["settings"])
    topology = Topology(setup["dependencies"], settings.grouping.max_hops)
    db = PostgresTarget.model_validate(setup["postgres"]) if setup.get("postgres") else Path(setup["sqlite"])
    service: IntakeService | None = None
    service = IntakeService(
        settings, topology, starter=record_only, clock=lambda: service.engine.now if service else 0.0, db_path=db
    )
    await service.start()
    print("ready", flush=True)
    while True:
        health = await service.health()
        if health["inbox_processed"] >= setup["expected"] and not health["inbox_pending"]:
            break
        await asyncio.sleep(0.05)
    correlated = service.rebuilt_items
    await service.stop()
    return {"peak_rss_mb": worker_peak_mb(), "replayed_from_others": correlated}


async def _investigate(setup: dict[str, Any]) -> dict[str, Any]:
    from agents.state import Alert
    from firstline.config import load_config
    from firstline.wiring import open_runtime

    alerts = [Alert.model_validate(a) for a in setup["alerts"]]
    statuses: list[str] = []
    async with open_runtime(load_config(Path(setup["config"])), knowledge=None) as responder:
        print("ready", flush=True)
        go = Path(setup["go"])
        while not go.exists():
            await asyncio.sleep(0.02)
        started = time.perf_counter()
        for alert in alerts:
            outcome = await responder.start(alert)
            statuses.append(str(outcome.state.status))
        elapsed = time.perf_counter() - started
    return {"peak_rss_mb": worker_peak_mb(), "incidents": len(alerts), "seconds": elapsed, "statuses": statuses}


def main(argv: list[str]) -> int:
    from firstline.logging import configure_logging

    configure_logging(0)
    setup = json.loads(Path(argv[0]).read_text())
    run = _intake if setup["mode"] == "intake" else _investigate
    result = asyncio.run(run(setup))
    Path(argv[1]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
