"""Suite-wide guards and settings.

- Logging: structlog quiet (warnings and up, on stderr) unless a test captures logs.
- No network: pytest-socket (``--allow-hosts`` in pyproject.toml) lets sockets reach loopback only, so
  a test can start and call its own servers but never the Internet.
- No real model: no OpenAI credentials or endpoint from the developer's environment reach a test, and
  the OpenAI client refuses to send unless the test is marked ``model_mocked`` (its HTTP is answered
  by respx, which intercepts below the client). A local model server on loopback (Ollama, llama.cpp)
  is therefore never called by accident either; only the tests marked ``llm_server`` (`make test-llm`,
  which starts one on loopback and names it in ``FIRSTLINE_LLM_TEST_URL``) talk to a real one.
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
    allowed = ("model_mocked", "llm_server")
    if not any(request.node.get_closest_marker(marker) for marker in allowed):
        from openai._base_client import AsyncAPIClient, SyncAPIClient

        def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise RealModelCallBlocked(
                f"{request.node.nodeid} called a model endpoint ({self.base_url}); mark it model_mocked and mock it with respx"
            )

        monkeypatch.setattr(AsyncAPIClient, "request", refuse)
        monkeypatch.setattr(SyncAPIClient, "request", refuse)
    yield


# -- a real Postgres (tests of storage.url: postgresql://...) ---------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """A throwaway Postgres cluster for the session (storage/throwaway.py); skips, saying why, without one."""
    from storage.throwaway import Problem, find_bin_dir, start_cluster

    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("Postgres is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin)")
    for cluster in start_cluster(bin_dir):
        if isinstance(cluster, Problem):
            pytest.skip(f"could not start a throwaway Postgres: {cluster.reason}")
        yield cluster


@pytest.fixture
def postgres(postgres_cluster: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fresh, empty database on the session's cluster, as a `PostgresTarget` (password from the environment)."""
    import uuid

    import psycopg

    from storage.target import PostgresTarget
    from storage.throwaway import PASSWORD, PASSWORD_ENV

    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_cluster.url(), password=PASSWORD, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return PostgresTarget(url=postgres_cluster.url(name), password_env=PASSWORD_ENV)
