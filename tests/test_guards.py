"""The suite's guards hold: no socket leaves loopback, no model is called unless its HTTP is mocked."""

from __future__ import annotations

import socket

import httpx
import pytest
import respx
from pytest_socket import SocketConnectBlockedError

from agents.settings import LLMSettings
from firstline.wiring import build_chat_model


def test_a_connection_off_loopback_is_refused() -> None:
    # pytest-socket warns, then raises; under the suite's warnings-as-errors either fails the test.
    with pytest.raises(SocketConnectBlockedError), pytest.warns(UserWarning, match="192.0.2.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1: never routable


def test_loopback_stays_reachable() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()[:2], timeout=1) as client:
        assert client.getpeername()[0] == "127.0.0.1"


async def test_the_model_client_refuses_to_send_without_a_mock() -> None:
    # The default endpoint is a local Ollama on loopback, which the socket guard alone would allow.
    model = build_chat_model(LLMSettings(max_retries=0))
    with pytest.raises(RuntimeError, match="called a model endpoint"):
        await model.ainvoke("hello")


@pytest.mark.model_mocked
async def test_a_mocked_model_endpoint_is_allowed() -> None:
    reply = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    with respx.mock(assert_all_called=True) as mock:
        mock.post("http://127.0.0.1:11434/v1/chat/completions").mock(return_value=httpx.Response(200, json=reply))
        answer = await build_chat_model(LLMSettings(max_retries=0, api_key_env=None)).ainvoke("hello")
    assert answer.content == "hi"


def test_the_developers_model_credentials_never_reach_a_test() -> None:
    import os

    assert "OPENAI_API_KEY" not in os.environ and "OPENAI_BASE_URL" not in os.environ
