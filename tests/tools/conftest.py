"""Shared fixtures for adapter tests: adapters built through the registry, a secret token, grants."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tools.base import Adapter, ExecutionGrant, ToolResult, hash_args
from tools.ledger import ActionLedger
from tools.registry import ToolRegistry

TOKEN = "tok-3f9a7c1e5b2d-not-a-real-secret"
TOKEN_ENV = "FIRSTLINE_TEST_TOKEN"

BuildAdapter = Callable[..., Adapter]


@pytest.fixture(autouse=True)
def info_logs_reach_capture_logs() -> Iterator[None]:
    """Let `structlog.testing.capture_logs` see info lines (one per request and per call).

    The suite configures structlog to drop everything below WARNING before any processor runs, and
    `capture_logs` only swaps the processors, so without this it would capture nothing. The whole
    configuration is restored afterwards: a test that runs the CLI's `main` reconfigures logging to
    print to a stderr that pytest closes after the test.
    """
    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.configure(**previous)


@pytest.fixture
async def build(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BuildAdapter]:
    """Build one adapter instance the way production does (registry, env token), without retry backoff.

    ``build(SomeAdapter, "http://host", max_retries=2, **settings)`` returns the adapter; its client is
    closed after the test.
    """
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    registries: list[ToolRegistry] = []

    def _build(cls: type[Adapter], base_url: str, **settings: Any) -> Adapter:
        config = {"kind": cls.kind, "base_url": base_url, "token_env": TOKEN_ENV, **settings}
        registry = ToolRegistry.from_config({cls.kind: config}, kinds={cls.kind: cls})
        registries.append(registry)
        adapter = registry.adapters[cls.kind]
        adapter.http.backoff_seconds = 0
        return adapter

    yield _build
    for registry in registries:
        await registry.aclose()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[ActionLedger]:
    store = ActionLedger(tmp_path / "l.sqlite")
    yield store
    store.close()


def grant_for(
    ledger: ActionLedger,
    adapter: Adapter,
    call: str,
    args: dict[str, Any],
    *,
    incident_id: str = "INC-42",
    action_id: str = "act-1",
) -> ExecutionGrant:
    """Record a human approval for exactly these arguments and claim the action's single execution."""
    tool = adapter.tool_id(call)
    canonical = adapter.calls[call].input_model.model_validate(args).model_dump(mode="json")
    args_hash = hash_args(canonical)
    ledger.record_decision(
        incident_id=incident_id,
        action_id=action_id,
        tool=tool,
        args_hash=args_hash,
        decision="approved",
        decided_by="alice",
    )
    claim = ledger.claim(incident_id=incident_id, action_id=action_id, tool=tool, args_hash=args_hash, tier="approve")
    assert claim.grant is not None
    return claim.grant


def assert_secret_absent(result: ToolResult, logs: list[dict[str, Any]]) -> None:
    assert TOKEN not in result.model_dump_json()
    assert TOKEN not in repr(logs)
