"""An incident from intake runs the real workflow: the simulator on loopback, durable checkpoints,
the approval gate, and approval from another runtime (as `firstline approve` does)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from intake_helpers import settings

from agents.runner import IncidentIndex
from evals.sim.server import start_sim
from firstline.commands.incidents import sandbox_config
from firstline.config import load_config
from firstline.intake_runtime import RuntimeStarter
from firstline.wiring import open_runtime
from intake.http.auth import build_authenticators
from intake.http.server import build_app
from intake.service import IntakeService
from intake.topology import Topology
from knowledge.catalog import ServiceCatalog

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
async def test_intake_incident_runs_the_workflow_to_the_approval_gate(tmp_path: Path) -> None:
    with start_sim("checkout-migration") as sim:
        config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
        intake = settings()
        starter = RuntimeStarter(config, knowledge=None)
        topology = Topology.from_catalog(ServiceCatalog.load(config.knowledge.catalog), intake.grouping.max_hops)
        service = IntakeService(intake, topology, starter=starter, db_path=tmp_path / "intake.sqlite")
        app = build_app(service, build_authenticators(intake, {}), manage_service=False)
        await service.start()
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake.test"
            ) as client:
                payload = sim.alertmanager_payload("CheckoutHighErrorRate")
                for _ in range(3):  # Alertmanager re-sends the group: still one investigation
                    assert (await client.post("/v1/alerts/alertmanager", json=payload)).status_code == 202
                await service.idle(timeout=180)
                [incident] = (await client.get("/v1/incidents")).json()["incidents"]
                [run] = (await client.get(f"/v1/incidents/{incident['id']}")).json()["runs"]
        finally:
            await service.stop()
            await starter.aclose()

        assert run["state"] == "started", run
        assert run["detail"].startswith(f"awaiting_approval: firstline approve {incident['id']} ")
        index = IncidentIndex(config.storage.incidents)
        record = index.get(incident["id"])
        index.close()
        assert record is not None and record["status"] == "awaiting_approval"
        assert record["alert"]["labels"]["firstline_intake_incident"] == incident["id"]
        assert any(entry["actor"] == "triage" for entry in record["timeline"])
        action = run["detail"].split()[-3]

        async with open_runtime(config, knowledge=None) as responder:  # another process approves
            decided = await responder.decide(incident["id"], action, "approved", "alice", "go")
        assert decided.run is not None and decided.run.state.status == "resolved"
        assert any(t.actor == "human" and "alice approved" in t.text for t in decided.run.state.timeline)
