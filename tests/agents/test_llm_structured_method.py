"""``structured_output_method: auto``: the method is probed once per server and kept; a failed choice says
which field was wrong and what the model sent. At the HTTP level (real ChatOpenAI, respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from langchain_openai import ChatOpenAI

from agents.reasoners.base import ReasonerFailure, RemediationOption
from agents.reasoners.llm import LLMReasoner
from agents.state import Diagnosis
from tests.agents.test_llm_reasoner import _ctx

pytestmark = pytest.mark.model_mocked

LLM_URL = "http://llm.test/v1/chat/completions"
DIAGNOSIS = Diagnosis(root_cause="deploy", category="bad_deploy", entity="api", confidence=0.8)
OPTIONS = [
    RemediationOption(
        id=option_id, tool="k8s.rollout_undo", args={}, title=option_id, rationale="r", risk="medium", addresses="api"
    )
    for option_id in ("rollback", "restart")
]


def _reply(content: str | None = None, tool: tuple[str, dict[str, Any]] | None = None) -> httpx.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool is not None:
        name, args = tool
        message["tool_calls"] = [
            {"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        ]
    return httpx.Response(
        200,
        json={
            "id": "x",
            "object": "chat.completion",
            "created": 1,
            "model": "local",
            "choices": [{"index": 0, "finish_reason": "tool_calls" if tool else "stop", "message": message}],
            "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
        },
    )


class Server:
    """A chat-completions endpoint that honours json_schema (llama.cpp, vLLM) or only tools, or neither."""

    def __init__(self, *, json_schema: bool, tools: bool, choice: str = "rollback") -> None:
        self.json_schema, self.tools, self.choice = json_schema, tools, choice
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        fmt = (body.get("response_format") or {}).get("type")
        probe = "status" in json.dumps(body.get("response_format") or body.get("tools") or {})
        answer = {"status": "ok"} if probe else {"option_id": self.choice, "rationale": "undo the deploy"}
        if fmt == "json_schema":
            if not self.json_schema:
                return httpx.Response(400, json={"error": {"message": "response_format json_schema is not supported"}})
            return _reply(json.dumps(answer))
        if body.get("tools"):
            if not self.tools:
                return _reply("I would pick rollback.")  # tools dropped silently, as llama.cpp without a template
            return _reply(tool=(body["tools"][0]["function"]["name"], answer))
        return _reply(json.dumps(answer))  # json_mode / plain

    def methods(self) -> list[str]:
        return [
            "json_schema"
            if (b.get("response_format") or {}).get("type") == "json_schema"
            else "tools"
            if b.get("tools")
            else "plain"
            for b in self.bodies
        ]


def _reasoner() -> LLMReasoner:
    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    return LLMReasoner(model)


@pytest.mark.parametrize(
    ("json_schema", "tools", "method", "requests"),
    [
        (True, True, "json_schema", ["json_schema", "json_schema", "json_schema"]),
        (False, True, "function_calling", ["json_schema", "tools", "tools", "tools"]),
        (False, False, "json_mode", ["json_schema", "tools", "plain", "plain"]),
    ],
)
@respx.mock
async def test_auto_probes_once_per_server_and_keeps_what_works(
    tmp_path: Any, json_schema: bool, tools: bool, method: str, requests: list[str]
) -> None:
    server = Server(json_schema=json_schema, tools=tools)
    respx.post(LLM_URL).mock(side_effect=server)
    reasoner = _reasoner()
    first = await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    second = await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    assert reasoner.structured_output_method == method
    assert first.answer.option_id == second.answer.option_id == "rollback"
    assert server.methods() == requests  # the probe ran once; the second choice asked directly
    # The probe's tokens are spent too: counted on the step that probed (a refused request reports none).
    assert (first.usage.prompt_tokens, second.usage.prompt_tokens) == (14, 7)


@respx.mock
async def test_a_configured_method_is_used_without_a_probe(tmp_path: Any) -> None:
    server = Server(json_schema=True, tools=True)
    respx.post(LLM_URL).mock(side_effect=server)
    reasoner = _reasoner()
    reasoner.structured_output_method = "function_calling"
    await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    assert server.methods() == ["tools"]


@respx.mock
async def test_a_choice_outside_the_options_names_the_field_and_what_the_model_sent(tmp_path: Any) -> None:
    server = Server(json_schema=True, tools=True, choice="scale_up_everything")
    respx.post(LLM_URL).mock(side_effect=server)
    reasoner = _reasoner()
    reasoner.structured_output_method = "json_schema"
    with pytest.raises(ReasonerFailure) as failure:
        await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    message = str(failure.value)
    assert "(json_schema)" in message and "option_id" in message  # which field
    assert "scale_up_everything" in message  # what the model sent
    assert "valid option_id values: rollback, restart or null" in message
    assert "None" not in message.split(";")[0]  # not the old "unusable remediation choice: None"


@respx.mock
async def test_what_the_model_sent_is_truncated_in_the_message(tmp_path: Any) -> None:
    respx.post(LLM_URL).mock(return_value=_reply("x" * 5000))
    reasoner = _reasoner()
    reasoner.structured_output_method = "json_mode"
    with pytest.raises(ReasonerFailure) as failure:
        await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    assert "x" * 150 in str(failure.value) and len(str(failure.value)) < 900


@respx.mock
async def test_a_json_schema_reply_cut_at_the_limit_fails_and_still_counts_its_tokens(tmp_path: Any) -> None:
    # Found against llama.cpp: the SDK parses json_schema replies itself and raises on finish_reason length,
    # so the usage rode only on that error and the incident counted fewer tokens than the server reported.
    cut = json.loads(_reply('{"option_id": "rollback", "rationale": "undo the dep').content)
    cut["choices"][0]["finish_reason"] = "length"
    cut["usage"] = {"prompt_tokens": 834, "completion_tokens": 200, "total_tokens": 1034}
    respx.post(LLM_URL).mock(return_value=httpx.Response(200, json=cut))
    reasoner = _reasoner()
    reasoner.structured_output_method = "json_schema"
    with pytest.raises(ReasonerFailure, match="cut at the token limit") as failure:
        await reasoner.choose_remediation(DIAGNOSIS, OPTIONS, _ctx(tmp_path))
    assert (failure.value.usage.prompt_tokens, failure.value.usage.completion_tokens) == (834, 200)
