"""The runner's seams: the one approval loop, and the log context bound for a run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
import respx
import structlog
from langgraph.checkpoint.memory import InMemorySaver

from agents.approval import ApprovalAnswer, ApprovalRequest
from agents.graph import build_graph
from agents.runner import DecisionOutcome, IncidentIndex, Responder, RunOutcome, answer_approvals
from agents.state import Alert
from firstline.logging import configure_logging
from knowledge.catalog import Service
from tests.agents.conftest import agent_context, incident, kubernetes_registry
from tools.ledger import DecisionRecord


def _request(action_id: str) -> ApprovalRequest:
    return ApprovalRequest(
        incident_id="inc-1",
        action_id=action_id,
        tool="kubernetes.rollout_undo",
        args={"namespace": "shop", "name": "api"},
        title=f"do {action_id}",
        rationale="r",
        risk="medium",
        blast_radius="b",
        undo="u",
        policy_reason="p",
        diagnosis="d",
        evidence=[],
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _outcome(waiting: ApprovalRequest | None) -> RunOutcome:
    return RunOutcome(incident_id="inc-1", state=incident(), waiting_for=waiting)


class ScriptedResponder:
    """Resumes into the next scripted outcome on every decision, and records the decisions."""

    def __init__(self, after: list[RunOutcome]) -> None:
        self.after = after
        self.decisions: list[tuple[str, str, str, str, str]] = []

    async def decide(
        self, incident_id: str, action_id: str, decision: Literal["approved", "rejected"], by: str, comment: str = ""
    ) -> DecisionOutcome:
        self.decisions.append((incident_id, action_id, decision, by, comment))
        record = DecisionRecord(
            incident_id=incident_id,
            action_id=action_id,
            tool="t",
            args_hash="h",
            decision=decision,
            decided_by=by,
            decided_at=datetime(2026, 1, 1, tzinfo=UTC),
            comment=comment,
        )
        return DecisionOutcome(status="resumed", decision=record, run=self.after.pop(0))


async def test_answer_approvals_answers_each_request_until_the_incident_stops_waiting() -> None:
    done = _outcome(None)
    responder = ScriptedResponder([_outcome(_request("restart-1")), done])
    seen: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> ApprovalAnswer:
        seen.append(request)
        return ApprovalAnswer(
            decision="approved" if request.action_id == "rollback-0" else "rejected", by="alice", comment="why"
        )

    run = await answer_approvals(responder, _outcome(_request("rollback-0")), decide)
    assert [r.action_id for r in seen] == ["rollback-0", "restart-1"]
    assert responder.decisions == [
        ("inc-1", "rollback-0", "approved", "alice", "why"),
        ("inc-1", "restart-1", "rejected", "alice", "why"),
    ]
    assert [(a.request.action_id, a.answer.decision, a.status) for a in run.answered] == [
        ("rollback-0", "approved", "resumed"),
        ("restart-1", "rejected", "resumed"),
    ]
    assert run.outcome is done


async def test_answer_approvals_does_nothing_when_nothing_waits() -> None:
    def never(request: ApprovalRequest) -> ApprovalAnswer:
        raise AssertionError("asked without a request")

    run = await answer_approvals(ScriptedResponder([]), _outcome(None), never)
    assert run.answered == []


def test_an_approval_answer_names_who_decided() -> None:
    with pytest.raises(ValueError, match="by"):
        ApprovalAnswer(decision="approved", by="")


DEPLOYMENT = {
    "metadata": {"name": "api", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "7"}},
    "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "api", "image": "api:v7"}]}}},
}


@pytest.fixture
def info_logs() -> Any:
    """The command line's own logging at -v (info lines, key=value on stderr), restored afterwards."""
    previous = structlog.get_config()
    configure_logging(1)
    yield
    structlog.configure(**previous)


@respx.mock(base_url="http://k8s.test", assert_all_called=False)
async def test_every_tool_call_and_request_of_a_run_names_its_incident(
    respx_mock: respx.MockRouter, tmp_path: Path, info_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    respx_mock.get("/api/v1/namespaces/shop/pods").respond(200, json={"items": []})
    respx_mock.get("/apis/apps/v1/namespaces/shop/deployments/api").respond(200, json=DEPLOYMENT)
    respx_mock.get("/apis/apps/v1/namespaces/shop/replicasets").respond(200, json={"items": []})
    respx_mock.get("/api/v1/namespaces/shop/events").respond(200, json={"items": []})
    respx_mock.get("/api/v1/namespaces/shop/configmaps").respond(200, json={"items": []})
    respx_mock.get("/apis/batch/v1/namespaces/shop/jobs").respond(200, json={"items": []})
    ctx = agent_context(
        tmp_path, registry=kubernetes_registry(), services=[Service(name="api", tier=2, namespace="shop")]
    )
    index = IncidentIndex(tmp_path / "incidents.sqlite")
    responder = Responder(build_graph().compile(checkpointer=InMemorySaver()), ctx, index)
    alert = Alert(
        fingerprint="f9",
        name="HighErrorRate",
        title="api 5xx",
        service="api",
        started_at=datetime(2026, 11, 20, 9, 55, tzinfo=UTC),
    )
    try:
        outcome = await responder.start(alert)
    finally:
        index.close()
    lines = capsys.readouterr().err.splitlines()
    calls = [line for line in lines if re.search(r"event='?(tool_call|http_request)", line)]
    assert len(calls) >= 4, lines  # pods and the deployment: one tool call and one request each at least
    assert all(
        f"incident_id='{outcome.incident_id}'" in line or f"incident_id={outcome.incident_id}" in line for line in calls
    ), calls
    assert all("thread_id=" in line for line in calls)
    assert structlog.contextvars.get_contextvars() == {}  # unbound after the run: nothing leaks into the next


def test_a_checkpoint_restores_every_model_of_the_state_as_itself() -> None:
    """LangGraph revives only the types it is told about: a ConfigMap revert, a workflow to dispatch or a
    Job to stop must come back from a checkpoint as themselves (an approval resumes from one), and a
    model added to agents.state later is covered without editing a list."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from pydantic import BaseModel

    from agents import state as state_models
    from agents.runner import STATE_TYPES
    from agents.state import ConfigRevert, JobTarget, UndoWorkflow

    defined = {
        obj
        for obj in vars(state_models).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == state_models.__name__
    }
    assert defined <= set(STATE_TYPES)
    serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
    values = [
        ConfigRevert(
            change_id="c", service="s", namespace="n", name="m", from_revision=2, to_revision=1, data={"k": "v"}
        ),
        UndoWorkflow(repo="o/r", workflow="undo.yml"),
        JobTarget(service="s", namespace="n", name="job-1"),
    ]
    for value in values:
        assert serde.loads_typed(serde.dumps_typed(value)) == value
