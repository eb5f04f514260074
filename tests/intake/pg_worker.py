"""One intake worker on a shared Postgres, for tests/intake/test_intake_postgres_workers.py.

    python tests/intake/pg_worker.py SETUP.json ENGINE.json

SETUP.json: ``url``, ``password_env``, ``settings`` (intake settings), ``dependencies`` (the storm's
estate). The starter stands in for the workflow: it writes each start to ``test_starts`` (worker,
incident, revision) with its own connection. The intake clock is the engine's event time, so a
generated storm hours long is decided as if it arrived live. Prints ``ready`` once started; on SIGTERM
writes its engine's incidents (id: alert count) to ENGINE.json and stops; the test kills one with SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import psycopg

from firstline.logging import configure_logging
from intake.service import IntakeService
from intake.settings import IntakeSettings
from intake.starter import InvestigationRequest
from intake.topology import Topology
from storage.target import PostgresTarget


async def main(setup_path: Path, engine_path: Path) -> int:
    configure_logging(0)  # warnings and up, on stderr (a file the test reads on failure)
    setup: dict[str, Any] = json.loads(setup_path.read_text())
    target = PostgresTarget(url=setup["url"], password_env=setup["password_env"])
    settings = IntakeSettings.model_validate(setup["settings"])
    topology = Topology(setup["dependencies"], settings.grouping.max_hops)
    log_conn = await psycopg.AsyncConnection.connect(target.url, password=target.password(), autocommit=True)
    service: IntakeService | None = None

    async def starter(request: InvestigationRequest) -> str:
        assert service is not None
        await log_conn.execute(
            "INSERT INTO test_starts (worker, incident_id, revision) VALUES (%s, %s, %s)",
            (service.worker_id, request.incident_id, request.revision),
        )
        return "recorded"

    service = IntakeService(
        settings, topology, starter=starter, clock=lambda: service.engine.now if service else 0.0, db_path=target
    )
    await service.start()
    print("ready", service.worker_id, flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    incidents = {incident.id: len(incident.alerts) for incident in service.engine.incidents.values()}
    engine_path.write_text(json.dumps({"worker": service.worker_id, "incidents": incidents}))
    await service.stop()
    await log_conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2]))))
