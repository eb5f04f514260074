"""The compiled workflow with an in-memory checkpointer: through the gate's interrupt and back.

No simulator here: fake adapters (tests/agents/test_investigation_collector.py) answer with typed
payloads, a fake cluster records the one mutating call, and LangGraph's `InMemorySaver` holds the
checkpoint. This proves the wiring (`agents.graph`) on its own: the run stops at the approval gate
with a typed request, resuming without a recorded decision changes nothing, and resuming after the
ledger holds an approval executes the action exactly once, even if resumed again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agents.approval import ApprovalRequest
from agents.context import AgentContext
from agents.evidence import EvidenceBundle
from agents.graph import build_graph
from agents.reasoners.base import Reasoned, ReasonerContext
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, Diagnosis, IncidentState
from knowledge.catalog import Service, ServiceCatalog
from tests.agents.test_investigation_collector import (
    NOW,
    ONSET,
    SLI,
    FakeCluster,
    FakeGitHub,
    FakeLoki,
    FakePrometheus,
)
from tools.actions import args_hash_for
from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.http import HttpCaller
from tools.kubernetes import DeploymentRef, RolloutUndoInput
from tools.kubernetes.adapter import RESTART_SAFETY, ROLLBACK_SAFETY
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry


class MutableCluster(FakeCluster):
    """The fake cluster, plus the mutations remediation may propose; each must run at most once."""

    kind: ClassVar[str] = "kubernetes"
    undone: ClassVar[list[tuple[str, str]]] = []

    @tool_call(description="rollback", safety=ROLLBACK_SAFETY)
    async def rollout_undo(self, args: RolloutUndoInput) -> ToolResult:
        type(self).undone.append(("rollout_undo", args.name))
        return ToolResult(tool=self.tool_id("rollout_undo"), status="ok", query="rollout undo", summary="rolled back")

    @tool_call(description="restart", safety=RESTART_SAFETY)
    async def rollout_restart(self, args: DeploymentRef) -> ToolResult:
        type(self).undone.append(("rollout_restart", args.name))
        return ToolResult(
            tool=self.tool_id("rollout_restart"), status="ok", query="rollout restart", summary="restarted"
        )


class ScriptedDiagnosis(DeterministicReasoner):
    """The deterministic reasoner with one scripted judgement: the release on orders broke it. This test is
    about the graph's wiring, not the investigation's method (tests/agents/test_blast_radius.py is)."""

    async def diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext) -> Reasoned[Diagnosis]:
        found = await super().diagnose(bundle, ctx)
        cited = [e for e in bundle.evidence if e.source.startswith(("github.", "prometheus."))][:3]
        return Reasoned(
            Diagnosis(
                root_cause="the orders 2.0 release fails every pricing call",
                category="bad_deploy",
                entity="orders",
                confidence=0.9,
                evidence=cited,
                change_id="deploy-2",
            ),
            found.usage,
        )


@pytest.fixture
async def http() -> AsyncIterator[HttpCaller]:
    async with httpx.AsyncClient(base_url="http://fake.test") as client:
        yield HttpCaller(client, instance="fake")


def _context(tmp_path: Path, http: HttpCaller) -> AgentContext:
    settings = AdapterSettings(base_url="http://fake.test")
    fakes: list[type[Adapter]] = [MutableCluster, FakeGitHub, FakeLoki, FakePrometheus]
    service = Service(name="orders", namespace="shop", repo="acme/orders", logs='{app="orders"}', tier=1)
    service.sli.error_rate = SLI

    async def no_wait(seconds: float) -> None:
        return None

    return AgentContext(
        registry=ToolRegistry({cls.kind: cls(cls.kind, settings, http) for cls in fakes}),
        ledger=ActionLedger(tmp_path / "ledger.sqlite"),
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(services={"orders": service}),
        reasoner=ScriptedDiagnosis(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(verify_settle_seconds=0),
        clock=lambda: NOW,
        sleep=no_wait,
    )


def _first_input() -> IncidentState:
    alert = Alert(
        fingerprint="f",
        name="HighErrorRate",
        title="orders 5xx",
        service="orders",
        started_at=ONSET + timedelta(minutes=2),
    )
    return IncidentState(id="INC-G1", alert=alert)


def _decide(ctx: AgentContext, request: ApprovalRequest, decision: Literal["approved", "rejected"], by: str) -> None:
    """What `firstline approve|reject` does before resuming: the decision goes to the ledger first."""
    ctx.ledger.record_decision(
        incident_id=request.incident_id,
        action_id=request.action_id,
        tool=request.tool,
        args_hash=args_hash_for(ctx.registry, request.tool, request.args),
        decision=decision,
        decided_by=by,
    )


async def _waiting(graph: Any, config: Any) -> ApprovalRequest:
    snapshot = await graph.aget_state(config)
    assert snapshot.next == ("approval_gate",), snapshot.next
    [pending] = snapshot.interrupts
    return ApprovalRequest.model_validate(pending.value)


async def test_the_graph_interrupts_at_the_gate_and_resumes_to_execute_once(tmp_path: Path, http: HttpCaller) -> None:
    MutableCluster.undone.clear()
    ctx = _context(tmp_path, http)
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "INC-G1"}}

    await graph.ainvoke(_first_input(), config, context=ctx)
    request = await _waiting(graph, config)
    assert (
        request.tool in ("kubernetes.rollout_undo", "kubernetes.rollout_restart") and request.args["name"] == "orders"
    )
    assert MutableCluster.undone == []  # nothing runs before a human decides

    # A resume without a decision in the ledger: the gate trusts the ledger and asks again.
    await graph.ainvoke(Command(resume={"action_id": request.action_id, "decision": "approved"}), config, context=ctx)
    assert (await _waiting(graph, config)).action_id == request.action_id
    assert MutableCluster.undone == []

    _decide(ctx, request, "approved", "alice")
    await graph.ainvoke(Command(resume={"action_id": request.action_id, "decision": "approved"}), config, context=ctx)
    final = IncidentState.model_validate((await graph.aget_state(config)).values)
    assert MutableCluster.undone == [(request.tool.split(".")[1], "orders")]
    [action] = [a for a in final.actions if a.kind == "remediation"]
    assert action.status in ("executed", "verified", "failed") and action.approval is not None
    assert action.approval.by == "alice"
    assert final.status in ("resolved", "mitigated", "escalated")

    # Resuming a finished thread again never runs the action a second time.
    await graph.ainvoke(Command(resume={"action_id": request.action_id, "decision": "approved"}), config, context=ctx)
    assert len(MutableCluster.undone) == 1


async def test_a_rejection_through_the_graph_executes_nothing(tmp_path: Path, http: HttpCaller) -> None:
    MutableCluster.undone.clear()
    ctx = _context(tmp_path, http)
    graph = build_graph().compile(checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "INC-G1"}}
    await graph.ainvoke(_first_input(), config, context=ctx)
    request = await _waiting(graph, config)
    _decide(ctx, request, "rejected", "bob")
    await graph.ainvoke(Command(resume={"action_id": request.action_id, "decision": "rejected"}), config, context=ctx)
    final = IncidentState.model_validate((await graph.aget_state(config)).values)
    assert MutableCluster.undone == []
    assert final.status == "escalated"
    assert [a.status for a in final.actions if a.kind == "remediation"] == ["rejected"]
