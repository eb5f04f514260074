"""One round of the agents' investigation against a replayed recording: what a benchmark scores.

The incident's code path, as the workflow runs it: the recording served by one
`evals.replay.server.ReplayServer` (the clock at ``now``), the adapters of ``kinds`` pointed at it,
an `AgentContext` with the deterministic reasoner, a scratch ledger and ``catalog``, and one call of
`agents.investigation.investigate` on the incident the alert opened. Nezha's and PetShop's benchmarks
build the catalog, the recording and the alert; this module runs the round and reads its update.
"""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from langgraph.runtime import Runtime

from agents.context import AgentContext
from agents.investigation import EvidenceCollector, investigate
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import QUIET_CATEGORIES, Alert, Diagnosis, IncidentState
from evals.replay.recording import Recording
from evals.replay.server import ReplayServer
from knowledge.catalog import ServiceCatalog
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

REPLAY_TIMEOUT_S = 120.0
"""The adapters' per-call timeout against the replay: its answers are computed in this process, so a
busy machine slows them; a timeout there would be the bench's failure, not the method's."""


@dataclass(frozen=True)
class Round:
    """What one investigation round concluded, and what it read."""

    diagnosis: Diagnosis
    tool_calls: int
    evidence: int
    onset: datetime | None
    """The alerting SLI's onset the investigation found, None when it found none."""
    blast_radius: list[str]
    """The components the investigation read: the alerting one and its candidates."""
    service: str = ""
    """The alerting service."""

    def ranking(self, known: Collection[str]) -> list[str]:
        """The components named, most likely root cause first: the diagnosis's entity, then its
        candidates, those in ``known`` only, once each. A quiet diagnosis (no incident, recovered)
        whose entity is the alerting service says what was calm or came back, not what caused it:
        only its candidates rank then (what moved with a recovered episode)."""
        diagnosis = self.diagnosis
        quiet = diagnosis.category in QUIET_CATEGORIES and diagnosis.entity == self.service
        named = [*([] if quiet else [diagnosis.entity]), *(c.entity for c in diagnosis.candidates)]
        return list(dict.fromkeys(n for n in named if n in known))


async def investigate_once(
    served: Recording,
    catalog: ServiceCatalog,
    alert: Alert,
    *,
    incident_id: str,
    now: datetime,
    settings: WorkflowSettings,
    kinds: tuple[str, ...] = ("prometheus", "loki", "tempo"),
) -> Round:
    """One investigation round on the incident ``alert`` opened, ``served`` replayed with its clock at ``now``."""
    service = catalog.get(alert.service)
    if service is None:
        raise ValueError(f"the alert's service {alert.service!r} is not in the catalog")
    with ReplayServer(served) as server, tempfile.TemporaryDirectory() as scratch:
        registry = ToolRegistry.from_config(
            {
                kind: {"kind": kind, "base_url": server.url, "max_retries": 0, "timeout_seconds": REPLAY_TIMEOUT_S}
                for kind in kinds
            }
        )
        ctx = AgentContext(
            registry=registry,
            ledger=ActionLedger(Path(scratch) / "ledger.sqlite"),
            policy=ApprovalPolicy(),
            catalog=catalog,
            reasoner=DeterministicReasoner(),
            fallback=DeterministicReasoner(),
            settings=settings,
            clock=lambda: now,
        )
        state = IncidentState(id=incident_id, alert=alert, service=alert.service)
        radius = sorted(EvidenceCollector(state, service, ctx).candidates())
        try:
            command = await investigate(state, Runtime(context=ctx))
        finally:
            await registry.aclose()
    update = command.update if isinstance(command.update, dict) else {}
    diagnosis = update["diagnosis"]
    assert isinstance(diagnosis, Diagnosis)
    calls = next((int(e.text.split()[0]) for e in update.get("timeline", []) if e.kind == "tool_calls"), 0)
    onset = update.get("onset")
    return Round(
        diagnosis=diagnosis,
        tool_calls=calls,
        evidence=len(update.get("evidence", [])),
        onset=onset if isinstance(onset, datetime) else None,
        blast_radius=radius,
        service=alert.service,
    )
