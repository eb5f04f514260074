"""The LLM reasoner at the HTTP level: real ChatOpenAI, chat-completions responses mocked with respx."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from agents.context import AgentContext
from agents.evidence import EvidenceBundle
from agents.reasoners.base import ReasonerFailure, RemediationOption, TriageFacts
from agents.reasoners.deterministic import DeterministicReasoner
from agents.reasoners.llm import LLMReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, Diagnosis, Evidence
from knowledge.catalog import ServiceCatalog
from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.http import HttpCaller
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

# Every test here talks to a chat-completions endpoint mocked with respx.
pytestmark = pytest.mark.model_mocked

LLM_URL = "http://llm.test/v1/chat/completions"


class PodsInput(BaseModel):
    namespace: str = Field(description="namespace")


class FakeCluster(Adapter):
    kind = "fakek8s"

    @tool_call(description="List pods")
    async def list_pods(self, args: PodsInput) -> ToolResult:
        return ToolResult(
            tool=self.tool_id("list_pods"),
            status="ok",
            query=f"GET pods in {args.namespace}",
            data={"pods": [{"name": "api-1", "ready": True}]},
            summary="1/1 pods ready",
        )


def _ctx(tmp_path: Any) -> AgentContext:
    adapter = FakeCluster(
        "k8s",
        AdapterSettings(base_url="http://k8s.test"),
        HttpCaller(httpx.AsyncClient(base_url="http://k8s.test"), instance="k8s"),
    )
    return AgentContext(
        registry=ToolRegistry({"k8s": adapter}),
        ledger=ActionLedger(tmp_path / "l.sqlite"),
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(),
        reasoner=DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(),
    )


def _bundle() -> EvidenceBundle:
    alert = Alert(
        fingerprint="f",
        name="HighErrorRate",
        title="api 5xx",
        service="api",
        started_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    return EvidenceBundle(
        service="api",
        alert=alert,
        evidence=[
            Evidence(
                id="r0-e1", source="prometheus.query_range", query="sum(rate(x[5m]))", observation="error ratio 30%"
            ),
            Evidence(
                id="r0-e2",
                source="github.list_deployments",
                query="GET /repos/a/api/deployments",
                observation="deploy v2 at 10:00",
            ),
        ],
    )


def _completion(message: dict[str, Any], tokens: int = 10) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "local",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                    "message": {"role": "assistant", **message},
                }
            ],
            "usage": {"prompt_tokens": tokens, "completion_tokens": tokens, "total_tokens": 2 * tokens},
        },
    )


def _tool_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    return {
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}],
    }


DIAGNOSIS = {
    "root_cause": "deploy v2 of api broke it",
    "category": "bad_deploy",
    "entity": "api",
    "confidence": 0.8,
    "evidence_ids": ["r0-e2", "llm-e1"],
    "ruled_out": [{"what": "pods", "why": "all ready", "evidence_ids": ["llm-e1"]}],
}


def _reasoner() -> LLMReasoner:
    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    return LLMReasoner(model, max_tool_rounds=4, structured_output_method="function_calling")


@respx.mock
async def test_tool_calls_then_structured_diagnosis(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(
        side_effect=[
            _completion(_tool_call("k8s__list_pods", json.dumps({"namespace": "prod"}))),
            _completion(_tool_call("submit_diagnosis", json.dumps(DIAGNOSIS), "call_2")),
        ]
    )
    reasoner = _reasoner()
    reasoned = await reasoner.diagnose(_bundle(), _ctx(tmp_path))
    diagnosis, gathered = reasoned.answer, reasoned.gathered
    assert route.call_count == 2
    first = json.loads(route.calls[0].request.content)
    assert {t["function"]["name"] for t in first["tools"]} == {"k8s__list_pods", "submit_diagnosis"}
    assert first["tools"][0]["function"]["parameters"]["properties"]["namespace"]["description"] == "namespace"
    second = json.loads(route.calls[1].request.content)
    assert any(m["role"] == "tool" and "evidence llm-e1" in m["content"] for m in second["messages"])
    assert diagnosis.category == "bad_deploy"
    assert [e.id for e in diagnosis.evidence] == ["r0-e2", "llm-e1"]
    assert gathered[0].source == "k8s.list_pods"
    assert (reasoned.usage.prompt_tokens, reasoned.usage.completion_tokens) == (20, 20)


@respx.mock
async def test_malformed_arguments_and_unknown_tool_are_answered_and_recovered(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(
        side_effect=[
            _completion(_tool_call("k8s__list_pods", "{not json")),
            _completion(_tool_call("delete_everything", "{}", "call_2")),
            _completion(
                _tool_call(
                    "submit_diagnosis", json.dumps({**DIAGNOSIS, "evidence_ids": ["r0-e2"], "ruled_out": []}), "call_3"
                )
            ),
        ]
    )
    diagnosis = (await _reasoner().diagnose(_bundle(), _ctx(tmp_path))).answer
    assert diagnosis.entity == "api"
    second = json.loads(route.calls[1].request.content)
    assert any(m["role"] == "tool" and "not valid JSON" in m["content"] for m in second["messages"])
    third = json.loads(route.calls[2].request.content)
    assert any(m["role"] == "tool" and "unknown tool 'delete_everything'" in m["content"] for m in third["messages"])


@respx.mock
async def test_invalid_diagnosis_gets_field_errors_back(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(
        side_effect=[
            _completion(_tool_call("submit_diagnosis", json.dumps({**DIAGNOSIS, "confidence": 7}))),
            _completion(
                _tool_call(
                    "submit_diagnosis", json.dumps({**DIAGNOSIS, "evidence_ids": ["r0-e1"], "ruled_out": []}), "call_2"
                )
            ),
        ]
    )
    diagnosis = (await _reasoner().diagnose(_bundle(), _ctx(tmp_path))).answer
    assert diagnosis.confidence == 0.8
    second = json.loads(route.calls[1].request.content)
    assert any(m["role"] == "tool" and "confidence" in m["content"] for m in second["messages"])


@pytest.mark.parametrize("status", [429, 500])
@respx.mock
async def test_api_errors_raise_reasoner_failure(tmp_path: Any, status: int) -> None:
    route = respx.post(LLM_URL).mock(
        return_value=httpx.Response(status, json={"error": {"message": "busy", "type": "server_error"}})
    )
    with pytest.raises(ReasonerFailure, match="model call failed"):
        await _reasoner().diagnose(_bundle(), _ctx(tmp_path))
    assert route.call_count == 1


@respx.mock
async def test_model_that_never_submits_fails_after_the_turn_bound(tmp_path: Any) -> None:
    respx.post(LLM_URL).mock(return_value=_completion({"content": "I think it is DNS."}))
    with pytest.raises(ReasonerFailure, match="no diagnosis after 4"):
        await _reasoner().diagnose(_bundle(), _ctx(tmp_path))


FACTS = TriageFacts(
    alert_title="t",
    alert_description="",
    alert_severity="critical",
    service="api",
    service_description="",
    tier=1,
    customer_facing=True,
    owner="o",
    oncall="c",
    severity="SEV1",
    severity_reasons=[],
)

OPTIONS = [
    RemediationOption(
        id="rollback",
        tool="k8s.rollout_undo",
        args={},
        title="roll back",
        rationale="r",
        risk="medium",
        addresses="api",
    )
]


@respx.mock
async def test_choose_remediation_structured_output(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(
        return_value=_completion(
            _tool_call("RemediationChoice", json.dumps({"option_id": "rollback", "rationale": "undo the deploy"}))
        )
    )
    diagnosis = Diagnosis(root_cause="deploy", category="bad_deploy", entity="api", confidence=0.8)
    choice = (await _reasoner().choose_remediation(diagnosis, OPTIONS, _ctx(tmp_path))).answer
    assert choice.option_id == "rollback"
    body = json.loads(route.calls[0].request.content)
    assert body["tool_choice"]["function"]["name"] == "RemediationChoice"


@respx.mock
async def test_choosing_an_option_that_does_not_exist_fails(tmp_path: Any) -> None:
    respx.post(LLM_URL).mock(
        return_value=_completion(
            _tool_call("RemediationChoice", json.dumps({"option_id": "drop_database", "rationale": "yolo"}))
        )
    )
    diagnosis = Diagnosis(root_cause="deploy", category="bad_deploy", entity="api", confidence=0.8)
    with pytest.raises(ReasonerFailure) as failed:
        await _reasoner().choose_remediation(diagnosis, OPTIONS, _ctx(tmp_path))
    # The failure says what was wrong: what the model sent, and which ids were valid.
    assert "drop_database" in str(failed.value)
    assert "valid option_id values: " + ", ".join(o.id for o in OPTIONS) in str(failed.value)


@respx.mock
async def test_the_choice_schema_offers_only_the_valid_ids(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(
        return_value=_completion(_tool_call("RemediationChoice", json.dumps({"option_id": None, "rationale": "no"})))
    )
    diagnosis = Diagnosis(root_cause="deploy", category="bad_deploy", entity="api", confidence=0.8)
    await _reasoner().choose_remediation(diagnosis, OPTIONS, _ctx(tmp_path))
    sent = json.loads(route.calls[0].request.content)
    option_id = sent["tools"][0]["function"]["parameters"]["properties"]["option_id"]
    offered = [choice for branch in option_id["anyOf"] for choice in branch.get("enum", [branch.get("const")])]
    # The ids (an enum, or a const for one) the server can constrain decoding with, or null.
    assert sorted(filter(None, offered)) == sorted(o.id for o in OPTIONS)


@respx.mock
async def test_a_reply_cut_at_the_token_limit_is_a_failed_step(tmp_path: Any) -> None:
    cut = _completion({"content": "api is failing for every cust"})
    body = json.loads(cut.content)
    body["choices"][0]["finish_reason"] = "length"
    respx.post(LLM_URL).mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(ReasonerFailure, match="cut at the token limit"):
        await _reasoner().summarize(FACTS, _ctx(tmp_path))


async def test_a_step_past_its_deadline_is_cancelled_and_fails(tmp_path: Any) -> None:
    import asyncio

    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    class Slow(FakeListChatModel):
        async def _agenerate(self, *args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(30)
            raise AssertionError("not reached")

    reasoner = LLMReasoner(Slow(responses=["x"]), step_timeout_seconds=0.2)
    with pytest.raises(ReasonerFailure, match="step deadline of 0.2s"):
        await reasoner.summarize(FACTS, _ctx(tmp_path))


# -- token usage: returned by every call, never kept on the (shared) reasoner ----------------------


@respx.mock
async def test_every_method_returns_the_usage_the_server_reported(tmp_path: Any) -> None:
    from agents.state import Alert as AlertModel
    from agents.state import IncidentState, Usage

    respx.post(LLM_URL).mock(
        side_effect=[
            _completion({"content": "api is failing for every customer; SEV1, owned by team-api."}, tokens=3),
            _completion(
                _tool_call("RemediationChoice", json.dumps({"option_id": "rollback", "rationale": "undo it"})), tokens=5
            ),
            _completion({"content": "We are investigating errors with api."}, tokens=7),
        ]
    )
    reasoner, ctx = _reasoner(), _ctx(tmp_path)
    facts = TriageFacts(
        alert_title="t",
        alert_description="",
        alert_severity="critical",
        service="api",
        service_description="",
        tier=1,
        customer_facing=True,
        owner="o",
        oncall="c",
        severity="SEV1",
        severity_reasons=[],
    )
    summary = await reasoner.summarize(facts, ctx)
    diagnosis = Diagnosis(root_cause="deploy", category="bad_deploy", entity="api", confidence=0.8)
    choice = await reasoner.choose_remediation(diagnosis, OPTIONS, ctx)
    alert = AlertModel(
        fingerprint="f", name="n", title="t", service="api", started_at=datetime(2026, 11, 20, tzinfo=UTC)
    )
    update = await reasoner.write_update(IncidentState(id="i", alert=alert), "opened", "customers", ctx)
    assert [r.usage for r in (summary, choice, update)] == [
        Usage(prompt_tokens=n, completion_tokens=n) for n in (3, 5, 7)
    ]


@respx.mock
async def test_a_failed_diagnosis_reports_what_its_turns_cost(tmp_path: Any) -> None:
    respx.post(LLM_URL).mock(return_value=_completion({"content": "I think it is DNS."}, tokens=6))
    with pytest.raises(ReasonerFailure) as failure:
        await _reasoner().diagnose(_bundle(), _ctx(tmp_path))
    assert (failure.value.usage.prompt_tokens, failure.value.usage.completion_tokens) == (24, 24)  # 4 turns


async def test_two_concurrent_diagnoses_sharing_one_reasoner_keep_their_own_counts(tmp_path: Any) -> None:
    import asyncio

    from tests.agents.conftest import ScriptedChatModel

    # "api" needs two turns (a text reply first), "web" one; their calls interleave on one reasoner.
    model = ScriptedChatModel(
        usage_by_service={"api": (100, 10), "web": (7, 3)}, text_turns={"api": 1}, delay=0.01, category="bad_deploy"
    )
    reasoner = LLMReasoner(model)
    ctx = _ctx(tmp_path)
    web = _bundle().model_copy(update={"service": "web"})
    api_result, web_result = await asyncio.gather(reasoner.diagnose(_bundle(), ctx), reasoner.diagnose(web, ctx))
    assert (api_result.usage.prompt_tokens, api_result.usage.completion_tokens) == (200, 20)
    assert (web_result.usage.prompt_tokens, web_result.usage.completion_tokens) == (7, 3)
    assert api_result.answer.entity == "api" and web_result.answer.entity == "web"
    assert not hasattr(reasoner, "last_tokens")


@respx.mock
async def test_a_summary_that_is_not_fit_to_publish_is_a_failed_step(tmp_path: Any) -> None:
    respx.post(LLM_URL).mock(
        return_value=_completion(
            {"content": "api is failing and api is failing and api is failing and api is failing and api is failing."}
        )
    )
    with pytest.raises(ReasonerFailure, match="not fit to publish: it repeats itself"):
        await _reasoner().summarize(FACTS, _ctx(tmp_path))
