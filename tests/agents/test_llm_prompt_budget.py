"""The prompt budget of the LLM reasoner: what reaches a small model's context window, at the HTTP level.

The defect it answers: the diagnose prompt was 8.3-8.7k tokens (77 % tool schemas) and a llama.cpp server with
an 8k context answered HTTP 400 "exceeds the available context size"."""

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
from agents.reasoners import prompt_budget as budget
from agents.reasoners.base import ReasonerFailure
from agents.reasoners.deterministic import DeterministicReasoner
from agents.reasoners.llm import SUBMIT, LLMReasoner
from agents.settings import LLMSettings, WorkflowSettings
from agents.state import Alert, Evidence
from firstline.llm_check import probe_context_tokens
from knowledge.catalog import ServiceCatalog
from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.http import HttpCaller
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

pytestmark = pytest.mark.model_mocked

LLM_URL = "http://llm.test/v1/chat/completions"
LONG = "A long description of the field that documents it for people and costs tokens. " * 4


class WideInput(BaseModel):
    query: str = Field(description=LONG)
    start: str = Field(default="", description=LONG)
    end: str = Field(default="", description=LONG)
    step: str = Field(default="", description=LONG)


def _result(tool: str) -> ToolResult:
    return ToolResult(tool=tool, status="ok", query="q", data={}, summary="nothing")


class Metrics(Adapter):
    kind = "fakemetrics"

    @tool_call(description="Query metrics. " + LONG)
    async def query(self, args: WideInput) -> ToolResult:
        return _result(self.tool_id("query"))

    @tool_call(description="Query a metric range. " + LONG)
    async def query_range(self, args: WideInput) -> ToolResult:
        return _result(self.tool_id("query_range"))


class Logs(Adapter):
    kind = "fakelogs"

    @tool_call(description="Search logs. " + LONG)
    async def search(self, args: WideInput) -> ToolResult:
        return _result(self.tool_id("search"))

    @tool_call(description="Tail logs. " + LONG)
    async def tail(self, args: WideInput) -> ToolResult:
        return _result(self.tool_id("tail"))

    @tool_call(description="Count log lines. " + LONG)
    async def count(self, args: WideInput) -> ToolResult:
        return _result(self.tool_id("count"))


def _ctx(tmp_path: Any) -> AgentContext:
    def caller(name: str) -> HttpCaller:
        return HttpCaller(httpx.AsyncClient(base_url=f"http://{name}.test"), instance=name)

    return AgentContext(
        registry=ToolRegistry(
            {
                "logs": Logs("logs", AdapterSettings(base_url="http://logs.test"), caller("logs")),
                "metrics": Metrics("metrics", AdapterSettings(base_url="http://metrics.test"), caller("metrics")),
            }
        ),
        ledger=ActionLedger(tmp_path / "l.sqlite"),
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(),
        reasoner=DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(),
    )


def _bundle(items: int = 2, observation: str = "error ratio 30%") -> EvidenceBundle:
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
                id=f"r0-e{i}", source="metrics.query_range", query="sum(rate(x[5m]))", observation=f"{i}: {observation}"
            )
            for i in range(1, items + 1)
        ],
    )


def _submit(evidence_id: str = "r0-e1") -> httpx.Response:
    args = {
        "root_cause": "api broke",
        "category": "bad_deploy",
        "entity": "api",
        "confidence": 0.5,
        "evidence_ids": [evidence_id],
    }
    message = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": SUBMIT, "arguments": json.dumps(args)}}],
    }
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "local",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": message}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
        },
    )


def _reasoner(**kwargs: Any) -> LLMReasoner:
    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    return LLMReasoner(model, max_tool_rounds=2, **kwargs)


def _prompt_tokens(sent: dict[str, Any]) -> int:
    messages = sum(
        budget.estimate_tokens(str(m.get("content") or "")) + budget.MESSAGE_OVERHEAD for m in sent["messages"]
    )
    return messages + budget.tools_tokens(sent.get("tools", []))


@respx.mock
async def test_without_a_known_window_every_tool_is_offered_as_it_is(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(return_value=_submit())
    await _reasoner().diagnose(_bundle(), _ctx(tmp_path))
    sent = json.loads(route.calls[0].request.content)
    assert len(sent["tools"]) == 6
    assert LONG.strip() in json.dumps(sent["tools"])  # the field descriptions are all there


@respx.mock
async def test_a_small_window_gets_compacted_schemas_the_tools_that_fit_and_the_evidence_sources_first(
    tmp_path: Any,
) -> None:
    route = respx.post(LLM_URL).mock(return_value=_submit())
    await _reasoner().diagnose(_bundle(), _ctx(tmp_path))
    full_tokens = _prompt_tokens(json.loads(route.calls[-1].request.content))
    window, max_tokens = 2200, 256
    assert full_tokens > budget.room(window, max_tokens)  # the test means something: the full prompt does not fit

    diagnosis = await _reasoner(context_tokens=window, max_tokens=max_tokens).diagnose(_bundle(), _ctx(tmp_path))
    assert diagnosis.answer.entity == "api"
    sent = json.loads(route.calls[-1].request.content)
    names = [t["function"]["name"] for t in sent["tools"]]
    assert SUBMIT in names and 1 < len(names) < 6
    assert names[0].startswith("metrics__")  # the source the evidence came from is offered first
    assert LONG.strip() not in json.dumps(sent["tools"]) and '"title"' not in json.dumps(sent["tools"])
    assert _prompt_tokens(sent) <= budget.room(window, max_tokens)


@respx.mock
async def test_the_evidence_is_summarised_to_fit(tmp_path: Any) -> None:
    route = respx.post(LLM_URL).mock(return_value=_submit())
    bundle = _bundle(items=60, observation="x" * 300)
    window, max_tokens = 3000, 256
    assert budget.estimate_tokens(json.dumps([e.model_dump(mode="json") for e in bundle.evidence])) > window
    await _reasoner(context_tokens=window, max_tokens=max_tokens).diagnose(bundle, _ctx(tmp_path))
    sent = json.loads(route.calls[-1].request.content)
    brief = sent["messages"][1]["content"]
    assert "r0-e1 " in brief and "x" * 300 not in brief
    assert "left out to fit the context" in brief
    assert _prompt_tokens(sent) <= budget.room(window, max_tokens)


@respx.mock
async def test_a_window_too_small_for_the_minimum_is_refused_with_the_numbers_before_anything_is_sent(
    tmp_path: Any,
) -> None:
    route = respx.post(LLM_URL).mock(return_value=_submit())
    with pytest.raises(
        ReasonerFailure, match=r"needs about \d+ tokens, \d+ are available \(llm.context_tokens 900"
    ) as failure:
        await _reasoner(context_tokens=900, max_tokens=512).diagnose(_bundle(), _ctx(tmp_path))
    assert "llm.max_tokens 512" in str(failure.value)
    assert not route.called


@respx.mock
async def test_the_window_is_probed_once_from_llama_cpp_props(tmp_path: Any) -> None:
    props = respx.get("http://llm.test/props").mock(
        return_value=httpx.Response(200, json={"default_generation_settings": {"n_ctx": 2200}})
    )
    route = respx.post(LLM_URL).mock(return_value=_submit())
    settings = LLMSettings(base_url="http://llm.test/v1", api_key_env=None)
    reasoner = _reasoner(max_tokens=256, context_probe=lambda: probe_context_tokens(settings))
    await reasoner.diagnose(_bundle(), _ctx(tmp_path))
    await reasoner.diagnose(_bundle(), _ctx(tmp_path))
    assert props.call_count == 1 and reasoner.context_tokens == 2200
    assert len(json.loads(route.calls[-1].request.content)["tools"]) < 6  # the probed window was used


@respx.mock
async def test_a_server_that_does_not_say_its_window_leaves_the_budget_off(tmp_path: Any) -> None:
    respx.get("http://llm.test/props").mock(return_value=httpx.Response(404))
    route = respx.post(LLM_URL).mock(return_value=_submit())
    settings = LLMSettings(base_url="http://llm.test/v1", api_key_env=None)
    reasoner = _reasoner(context_probe=lambda: probe_context_tokens(settings))
    await reasoner.diagnose(_bundle(), _ctx(tmp_path))
    assert reasoner.context_tokens is None
    assert len(json.loads(route.calls[-1].request.content)["tools"]) == 6


def test_compacting_a_schema_keeps_its_structure_and_drops_its_documentation() -> None:
    schema = WideInput.model_json_schema()
    compact = budget.compact_schema(schema)
    assert compact["required"] == schema["required"] and set(compact["properties"]) == set(schema["properties"])
    assert "title" not in json.dumps(compact) and "description" not in json.dumps(compact)
    assert budget.estimate_tokens(json.dumps(compact)) * 3 < budget.estimate_tokens(json.dumps(schema))
