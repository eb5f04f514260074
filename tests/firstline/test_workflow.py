"""The whole workflow against the simulator on loopback, with durable SQLite checkpoints.

Each test starts a fresh simulated environment and a fresh state directory, so it is independent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage

from agents.state import Alert
from evals.sim.server import RunningSim, start_sim
from firstline.commands.incidents import sandbox_config, terminal_decider
from firstline.config import FirstlineConfig, load_config
from firstline.console import Console
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager
from tools.actions import execute_action
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry, available_kinds

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration") as running:
        yield running


def _config(sim: RunningSim, tmp_path: Path, **updates: Any) -> FirstlineConfig:
    base = load_config(REPO / "config.yaml")
    return sandbox_config(base, sim, tmp_path).model_copy(update=updates)


def _alert(sim: RunningSim) -> Alert:
    [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
    return alert


def _undos(sim: RunningSim) -> list[Any]:
    return [a for a in sim.world.applied_actions if "rollout_undo" in str(a)]


@pytest.mark.slow
async def test_approval_from_a_second_runtime_resolves_and_runs_once(sim: RunningSim, tmp_path: Path) -> None:
    config = _config(sim, tmp_path)
    async with open_runtime(config, knowledge=None) as responder:
        first = await responder.start(_alert(sim))
    assert first.state.status == "awaiting_approval"
    assert first.waiting_for is not None
    assert first.waiting_for.tool == "kubernetes.rollout_undo"
    assert first.waiting_for.args == {"namespace": "shop", "name": "checkout", "to_revision": 6}
    assert _undos(sim) == []  # nothing ran before the approval
    incident, action = first.incident_id, first.waiting_for.action_id

    # A new runtime (as another process would build): same SQLite files, fresh graph and clients.
    async with open_runtime(config, knowledge=None) as responder:
        decided = await responder.decide(incident, action, "approved", "alice", "go ahead")
    assert decided.status == "resumed"
    assert decided.run is not None
    record = decided.run.record()
    assert record["status"] == "resolved"
    rollback = next(a for a in record["actions"] if a["id"] == action)
    assert rollback["status"] == "verified"
    assert rollback["approval"]["by"] == "alice"
    assert rollback["approval"]["comment"] == "go ahead"
    assert len(_undos(sim)) == 1
    assert any(t["actor"] == "human" and "alice approved" in t["text"] for t in record["timeline"])
    diagnosis = record["diagnosis"]
    assert diagnosis["category"] == "migration"
    assert "0042" in diagnosis["root_cause"]
    assert {e["source"] for e in diagnosis["evidence"]} >= {
        "github.list_workflow_runs",
        "loki.query_range",
        "prometheus.query_range",
    }
    assert any("inventory" in r["what"] for r in diagnosis["ruled_out"])
    statuspage = [c for c in record["communications"] if c["channel"] == "statuspage"]
    assert statuspage and "resolved" in statuspage[-1]["text"].lower()
    assert sim.world.snapshot()["statuspage"]["incidents"][0]["status"] == "resolved"

    async with open_runtime(config, knowledge=None) as responder:
        again = await responder.decide(incident, action, "approved", "bob")
    assert again.status == "already_decided"
    assert again.decision.decided_by == "alice"
    assert len(_undos(sim)) == 1


async def test_rejection_escalates_and_executes_nothing(sim: RunningSim, tmp_path: Path) -> None:
    async with open_runtime(_config(sim, tmp_path), knowledge=None) as responder:
        first = await responder.start(_alert(sim))
        assert first.waiting_for is not None
        decided = await responder.decide(first.incident_id, first.waiting_for.action_id, "rejected", "carol", "not now")
    assert decided.run is not None
    assert decided.run.state.status == "escalated"
    assert _undos(sim) == []
    assert any(c.audience == "stakeholders" for c in decided.run.state.communications)


async def test_resume_without_a_recorded_decision_executes_nothing(sim: RunningSim, tmp_path: Path) -> None:
    from langgraph.types import Command

    async with open_runtime(_config(sim, tmp_path), knowledge=None) as responder:
        first = await responder.start(_alert(sim))
        assert first.waiting_for is not None
        # Resume the graph directly, bypassing `decide` (so no ledger record exists).
        forged = await responder._run(
            Command(resume={"action_id": first.waiting_for.action_id, "decision": "approved"}), first.incident_id
        )
    assert forged.waiting_for is not None  # still at the gate
    assert forged.state.status == "awaiting_approval"
    assert _undos(sim) == []


async def test_mutating_call_without_approval_record_is_impossible(sim: RunningSim, tmp_path: Path) -> None:
    registry = ToolRegistry.from_config(sim.tools_config(kinds=set(available_kinds())))
    ledger = ActionLedger(tmp_path / "ledger.sqlite")
    args = {"namespace": "shop", "name": "checkout", "to_revision": 6}
    try:
        direct = await registry.invoke("kubernetes.rollout_undo", args)
        assert direct.status == "approval_required"
        outcome = await execute_action(
            registry=registry,
            ledger=ledger,
            policy=ApprovalPolicy(),
            incident_id="inc-x",
            action_id="rollback-0",
            tool_id="kubernetes.rollout_undo",
            args=args,
        )
        assert outcome.status == "refused"
        assert "needs an approval" in outcome.detail
    finally:
        await registry.aclose()
        ledger.close()
    assert _undos(sim) == []


@pytest.mark.slow
async def test_crash_after_execution_is_not_repeated_on_resume(sim: RunningSim, tmp_path: Path) -> None:
    config = _config(sim, tmp_path)
    async with open_runtime(config, knowledge=None) as responder:
        first = await responder.start(_alert(sim))
    assert first.waiting_for is not None
    incident, action = first.incident_id, first.waiting_for.action_id
    # The process approved, claimed the execution, ran the call... and died before recording it.
    ledger = ActionLedger(config.storage.ledger)
    from tools.actions import args_hash_for

    registry = ToolRegistry.from_config(config.tools)
    args = first.waiting_for.args
    args_hash = args_hash_for(registry, "kubernetes.rollout_undo", args)
    ledger.record_decision(
        incident_id=incident,
        action_id=action,
        tool="kubernetes.rollout_undo",
        args_hash=args_hash,
        decision="approved",
        decided_by="dave",
    )
    claim = ledger.claim(
        incident_id=incident, action_id=action, tool="kubernetes.rollout_undo", args_hash=args_hash, tier="approve"
    )
    assert claim.grant is not None
    result = await registry.invoke("kubernetes.rollout_undo", args, grant=claim.grant)
    assert result.status == "ok"
    await registry.aclose()
    ledger.close()
    assert len(_undos(sim)) == 1

    async with open_runtime(config, knowledge=None) as responder:
        outcome = await responder.decide(incident, action, "approved", "dave")
    assert outcome.run is not None
    assert len(_undos(sim)) == 1  # not repeated
    assert any("not running it again" in t.text for t in outcome.run.state.timeline)
    assert outcome.run.state.status == "resolved"  # verification found the effect


class BrokenModel(FakeMessagesListChatModel):
    """A scripted model whose every answer is useless: no tool calls, no JSON."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


@pytest.mark.slow
async def test_model_nonsense_falls_back_to_deterministic_with_timeline_notes(sim: RunningSim, tmp_path: Path) -> None:
    model = BrokenModel(responses=[AIMessage(content="banana")] * 200)
    config = _config(sim, tmp_path, reasoner="llm")
    async with open_runtime(config, knowledge=None, chat_model=model) as responder:
        first = await responder.start(_alert(sim))
    timeline = [t.text for t in first.state.timeline if t.kind == "fallback"]
    assert any("failed to summarize" in t for t in timeline)
    assert any("failed to diagnose" in t for t in timeline)
    assert first.state.diagnosis is not None
    assert first.state.diagnosis.reasoner == "deterministic"
    assert first.state.status == "awaiting_approval"


async def test_unknown_service_is_escalated_with_a_clear_note(sim: RunningSim, tmp_path: Path) -> None:
    alert = _alert(sim).model_copy(update={"service": "ghost", "fingerprint": "ghost1"})
    async with open_runtime(_config(sim, tmp_path), knowledge=None) as responder:
        outcome = await responder.start(alert)
    assert outcome.state.status == "escalated"
    assert any("'ghost'" in t.text and "not in the service catalog" in t.text for t in outcome.state.timeline)


async def test_unreachable_backend_is_recorded_and_the_incident_goes_on(sim: RunningSim, tmp_path: Path) -> None:
    config = _config(sim, tmp_path)
    tools = dict(config.tools)
    tools["loki"] = {**tools["loki"], "base_url": "http://127.0.0.1:9", "max_retries": 0, "timeout_seconds": 1}
    async with open_runtime(config.model_copy(update={"tools": tools}), knowledge=None) as responder:
        outcome = await responder.start(_alert(sim))
    failures = [t.text for t in outcome.state.timeline if t.kind == "check_failed"]
    assert any("logs" in f and "cannot reach" in f for f in failures)
    assert outcome.state.diagnosis is not None
    assert outcome.state.status in ("awaiting_approval", "escalated")


async def test_same_alert_twice_is_one_incident(sim: RunningSim, tmp_path: Path) -> None:
    async with open_runtime(_config(sim, tmp_path), knowledge=None) as responder:
        first = await responder.start(_alert(sim))
        second = await responder.start(_alert(sim))
    assert first.incident_id == second.incident_id
    assert len([t for t in second.state.timeline if t.kind == "triaged"]) == 1


@pytest.mark.model_mocked
async def test_model_api_500_at_the_http_level_falls_back_per_step(sim: RunningSim, tmp_path: Path) -> None:
    import respx
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    config = _config(sim, tmp_path, reasoner="llm")
    with respx.mock(assert_all_called=False) as mock:
        llm = mock.post("http://llm.test/v1/chat/completions").respond(
            500, json={"error": {"message": "overloaded", "type": "server_error"}}
        )
        mock.route(host="127.0.0.1").pass_through()
        async with open_runtime(config, knowledge=None, chat_model=model) as responder:
            first = await responder.start(_alert(sim))
    assert llm.call_count >= 3  # summary, diagnosis, remediation choice (and updates) were each tried
    notes = [t.text for t in first.state.timeline if t.kind == "fallback"]
    assert any("InternalServerError" in n for n in notes)
    assert first.state.diagnosis is not None and first.state.diagnosis.category == "migration"
    assert first.state.status == "awaiting_approval"


@pytest.mark.slow
async def test_resolved_incident_is_remembered_and_the_next_one_is_a_recurrence(
    sim: RunningSim, tmp_path: Path
) -> None:
    from datetime import timedelta

    config = _config(sim, tmp_path)
    async with open_runtime(config) as responder:  # the default knowledge store: Chroma under tmp_path
        first = await responder.start(_alert(sim))
        assert first.waiting_for is not None
        done = await responder.decide(first.incident_id, first.waiting_for.action_id, "approved", "erin")
        assert done.run is not None and done.run.state.status == "resolved"
        assert any(t.kind == "remembered" for t in done.run.state.timeline)
        again = _alert(sim).model_copy(
            update={"fingerprint": "again", "started_at": _alert(sim).started_at + timedelta(minutes=30)}
        )
        second = await responder.start(again)
    notes = [t.text for t in second.state.timeline if t.kind == "recurrence"]
    assert notes and "2nd time in 30 days" in notes[0]
    assert second.record()["recurrence"] == notes[0]
    assert any(e.source.startswith("knowledge:incidents/") for e in second.state.evidence)


class ScriptedConsole(Console):
    """A console whose prompts are answered from a script; everything shown is kept."""

    def __init__(self, answers: list[str]) -> None:
        super().__init__()
        self.answers = answers
        self.shown: list[str] = []

    def ask(self, prompt: str) -> str:
        return self.answers.pop(0)

    def info(self, text: str) -> None:
        self.shown.append(text)

    def heading(self, text: str) -> None:
        self.shown.append(text)


def test_the_terminal_decider_asks_and_records_who_decided() -> None:
    from datetime import UTC, datetime

    from agents.approval import ApprovalRequest

    request = ApprovalRequest(
        incident_id="inc-1",
        action_id="rollback-0",
        tool="kubernetes.rollout_undo",
        args={"to_revision": 6},
        title="Roll back",
        rationale="r",
        risk="medium",
        blast_radius="b",
        undo="u",
        policy_reason="p",
        diagnosis="d",
        evidence=["[prometheus] errors 30%"],
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    console = ScriptedConsole(["y", "alice"])
    answer = terminal_decider("prompt", console)(request)
    assert (answer.decision, answer.by) == ("approved", "alice")
    assert any("kubernetes.rollout_undo" in line for line in console.shown)
    assert any("errors 30%" in line for line in console.shown)
    assert terminal_decider("reject", ScriptedConsole([]))(request).decision == "rejected"
    assert "--approve auto" in terminal_decider("auto", ScriptedConsole([]))(request).by


async def test_the_cli_and_the_eval_answer_the_gate_through_the_same_typed_loop(
    sim: RunningSim, tmp_path: Path
) -> None:
    from agents.approval import ApprovalAnswer, ApprovalRequest
    from agents.runner import answer_approvals
    from evals.harness.runner import EvalApprovalPolicy
    from evals.sim.library import load_scenario

    policy = EvalApprovalPolicy(load_scenario("checkout-migration"))
    asked: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> ApprovalAnswer:
        asked.append(request)
        return policy.decide(request)

    async with open_runtime(_config(sim, tmp_path), knowledge=None) as responder:
        run = await answer_approvals(responder, await responder.start(_alert(sim)), decide)
    assert [type(r) for r in asked] == [ApprovalRequest]
    assert asked[0].risk in ("low", "medium", "high") and asked[0].tool == "kubernetes.rollout_undo"
    assert [(a.answer.decision, a.answer.by, a.status) for a in run.answered] == [
        ("approved", "eval-policy", "resumed")
    ]
    assert run.outcome.waiting_for is None and run.outcome.state.status == "resolved"
    assert len(_undos(sim)) == 1


@pytest.mark.model_mocked
async def test_an_unreadable_model_reply_falls_back_and_the_incident_is_recorded(
    sim: RunningSim, tmp_path: Path
) -> None:
    import httpx
    import respx
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    config = _config(sim, tmp_path, reasoner="llm")
    with respx.mock(assert_all_called=False) as mock:
        # 200 OK, but not a chat completion: bytes that are not JSON (a proxy's error page, a truncated body).
        mock.post("http://llm.test/v1/chat/completions").mock(
            return_value=httpx.Response(
                200, content=b"\xff\xfe<html>gateway \x00 oops", headers={"content-type": "application/json"}
            )
        )
        mock.route(host="127.0.0.1").pass_through()
        async with open_runtime(config, knowledge=None, chat_model=model) as responder:
            first = await responder.start(_alert(sim))
    notes = [t.text for t in first.state.timeline if t.kind == "fallback"]
    assert any("failed to summarize" in n for n in notes), notes
    assert first.state.summary and "oops" not in first.state.summary  # the deterministic summary
    assert first.state.status == "awaiting_approval"  # the incident went on and is on record
    assert first.record()["id"] == first.incident_id


@pytest.mark.model_mocked
async def test_model_text_is_cleaned_and_a_refused_mutating_call_is_on_the_timeline(
    sim: RunningSim, tmp_path: Path
) -> None:
    import json

    import httpx
    import respx
    from langchain_openai import ChatOpenAI

    def completion(message: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 0,
                "model": "local",
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            },
        )

    summary = (
        "Checkout is failing for most requests since the migration at 14:14; payments team owns it.\n"
        "$ kubectl rollout undo deployment/checkout -n shop\nDetails: https://attacker.example/x"
    )
    mutating_call = {
        "content": None,
        "tool_calls": [
            {
                "id": "t1",
                "type": "function",
                "function": {
                    "name": "kubernetes__rollout_undo",
                    "arguments": json.dumps({"namespace": "shop", "name": "checkout"}),
                },
            }
        ],
    }
    given: set[str] = set()

    def answer(request: httpx.Request) -> httpx.Response:
        # The summary step (no tools) gets the dirty text; the diagnosis step (tools offered) a mutating call;
        # everything after that fails, so the deterministic reasoner finishes the incident.
        step = "diagnose" if "tools" in json.loads(request.content) else "summarize"
        if step not in given:
            given.add(step)
            return completion({"content": summary} if step == "summarize" else mutating_call)
        return httpx.Response(500, json={"error": {"message": "done", "type": "server_error"}})

    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    config = _config(sim, tmp_path, reasoner="llm")
    with respx.mock(assert_all_called=False) as mock:
        mock.post("http://llm.test/v1/chat/completions").mock(side_effect=answer)
        mock.route(host="127.0.0.1").pass_through()
        async with open_runtime(config, knowledge=None, chat_model=model) as responder:
            first = await responder.start(_alert(sim))
    assert first.state.summary.startswith("Checkout is failing for most requests")
    assert "kubectl" not in first.state.summary and "attacker.example" not in first.state.summary
    timeline = [t.text for t in first.state.timeline]
    assert any("model text cleaned before use" in t and "command line" in t for t in timeline), timeline
    assert any("asked for a mutating call" in t and "rollout_undo" in t for t in timeline), timeline
