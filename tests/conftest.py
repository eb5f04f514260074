"""Suite-wide guards and settings.

- Logging: structlog quiet (warnings and up, on stderr) unless a test captures logs.
- No network: pytest-socket (``--allow-hosts`` in pyproject.toml) lets sockets reach loopback only, so
  a test can start and call its own servers but never the Internet.
- No real model: no OpenAI credentials or endpoint from the developer's environment reach a test, and
  the OpenAI client refuses to send unless the test is marked ``model_mocked`` (its HTTP is answered
  by respx, which intercepts below the client). A local model server on loopback (Ollama, llama.cpp)
  is therefore never called by accident either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from firstline.logging import configure_logging

configure_logging(0)

MODEL_ENVIRONMENT = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_API_BASE")


class RealModelCallBlocked(RuntimeError):
    """A test reached the OpenAI client without mocking its HTTP (mark it ``model_mocked`` and use respx)."""


@pytest.fixture(autouse=True)
def _no_real_model(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in MODEL_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    if request.node.get_closest_marker("model_mocked") is None:
        from openai._base_client import AsyncAPIClient, SyncAPIClient

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise RealModelCallBlocked(
                f"{request.node.nodeid} called a model endpoint ({self.base_url}); mark it model_mocked and mock it with respx"
            )

        monkeypatch.setattr(AsyncAPIClient, "request", refuse)
        monkeypatch.setattr(SyncAPIClient, "request", refuse)
    yield
