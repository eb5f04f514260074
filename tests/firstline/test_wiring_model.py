"""The chat model the wiring builds bounds every generation, in the field the server understands."""

from __future__ import annotations

import json

import httpx
import pytest
import respx

from agents.settings import LLMSettings
from firstline.wiring import build_chat_model

REPLY = {
    "id": "x",
    "object": "chat.completion",
    "created": 0,
    "model": "m",
    "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


@pytest.mark.model_mocked
@pytest.mark.parametrize(
    ("field", "absent"), [("max_tokens", "max_completion_tokens"), ("max_completion_tokens", "max_tokens")]
)
async def test_every_request_carries_the_generation_limit(field: str, absent: str) -> None:
    settings = LLMSettings(base_url="http://llm.test/v1", api_key_env=None, max_tokens=321, max_tokens_field=field)  # type: ignore[arg-type]
    with respx.mock() as mock:
        route = mock.post("http://llm.test/v1/chat/completions").mock(return_value=httpx.Response(200, json=REPLY))
        await build_chat_model(settings).ainvoke("hello")
    body = json.loads(route.calls[0].request.content)
    assert body[field] == 321 and absent not in body
