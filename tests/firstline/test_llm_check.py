"""`firstline llm check` against the real API shapes of two kinds of server (respx)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from agents.settings import LLMSettings
from firstline.llm_check import check_endpoint

BASE = "http://llm.test/v1"


def _completion(message: dict[str, Any]) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", **message}}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
        },
    )


def _by_name(probes: list[Any]) -> dict[str, Any]:
    return {p.name: p for p in probes}


async def test_a_llama_cpp_server_without_tool_support_is_reported_with_the_fix() -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/models").respond(200, json={"object": "list", "data": [{"id": "smollm2", "object": "model"}]})
        mock.get("http://llm.test/props").respond(200, json={"default_generation_settings": {"n_ctx": 8192}})

        def chat(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if "tools" in body:  # the template has no tools: llama.cpp drops them and answers in text
                return _completion({"content": "The status is ok."})
            return _completion({"content": '{"status": "ok"}'})

        mock.post(f"{BASE}/chat/completions").mock(side_effect=chat)
        probes = _by_name(await check_endpoint(LLMSettings(base_url=BASE, model="smollm2", api_key_env=None)))
    assert probes["answers"].status == "ok"
    assert probes["context"].status == "ok" and "8192" in probes["context"].detail
    assert probes["tool calls"].status == "failed" and "--jinja" in probes["tool calls"].fix
    assert probes["structured output"].status == "ok"


async def test_a_server_with_tools_and_no_json_schema() -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/models").respond(200, json={"object": "list", "data": [{"id": "llama3.1"}]})
        mock.get("http://llm.test/props").respond(404)

        def chat(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            if "response_format" in body:
                return httpx.Response(400, json={"error": {"message": "response_format json_schema unsupported"}})
            call = {
                "id": "t",
                "type": "function",
                "function": {"name": "report_status", "arguments": '{"status":"ok"}'},
            }
            return _completion({"content": None, "tool_calls": [call]})

        mock.post(f"{BASE}/chat/completions").mock(side_effect=chat)
        probes = _by_name(await check_endpoint(LLMSettings(base_url=BASE, model="llama3.1", api_key_env=None)))
    assert probes["tool calls"].status == "ok"
    assert probes["context"].status == "unknown"
    assert probes["structured output"].status == "failed" and "function_calling" in probes["structured output"].fix


async def test_a_server_that_is_not_there() -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/models").mock(side_effect=httpx.ConnectError("refused"))
        [probe] = await check_endpoint(LLMSettings(base_url=BASE, api_key_env=None))
    assert probe.status == "failed" and "llm.base_url" in probe.fix


@pytest.mark.parametrize("status", [401])
async def test_a_missing_key_names_the_variable(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with respx.mock() as mock:
        mock.get(f"{BASE}/models").respond(status)
        [probe] = await check_endpoint(LLMSettings(base_url=BASE, api_key_env="FIRSTLINE_TEST_LLM_KEY"))
    assert probe.status == "failed" and "FIRSTLINE_TEST_LLM_KEY" in probe.fix
