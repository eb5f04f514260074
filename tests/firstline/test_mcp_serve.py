"""`firstline mcp serve` as a subprocess, driven by the official MCP SDK's client over stdio and over
streamable HTTP, against a config pointed at the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from evals.sim.server import RunningSim, start_sim
from firstline.cli import main
from firstline.commands.incidents import sandbox_config
from firstline.config import load_config
from tools.mcp import _http_transport, describe_exception

REPO = Path(__file__).resolve().parents[2]
TOKEN = "mcp-serve-token-5b2d9a7c1e3f"
TOKEN_ENV = "FIRSTLINE_TEST_MCP_SERVE_TOKEN"
READS = {
    "list_incidents",
    "show_incident",
    "list_pending_approvals",
    "search_knowledge",
    "recall_similar_incidents",
    "list_services",
    "get_service",
}

pytestmark = pytest.mark.slow


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration") as running:
        yield running


@pytest.fixture
def config_path(sim: RunningSim, tmp_path: Path) -> Path:
    config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path / "state")
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False))
    return path


def data(result: Any) -> Any:
    assert not result.is_error, result.content
    return result.structured_content


async def test_stdio_serves_the_reads_and_starts_an_investigation_that_waits_for_a_human(
    sim: RunningSim, config_path: Path
) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "firstline.cli", "--config", str(config_path), "mcp", "serve"],
        env={"PYTHONPATH": str(REPO)},
        cwd=str(config_path.parent),
    )
    async with Client(params, read_timeout_seconds=120, cache=None) as client:
        listed = await client.list_tools()
        names = {t.name for t in listed.tools}
        assert names == READS | {"start_investigation"}  # no tool decides an approval
        assert all(t.annotations and t.annotations.read_only_hint for t in listed.tools if t.name in READS)
        assert data(await client.call_tool("list_incidents", {}))["total"] == 0

        started = data(
            await client.call_tool(
                "start_investigation", {"payload": sim.alertmanager_payload("CheckoutHighErrorRate")}
            )
        )
        [incident] = started["incidents"]
        assert incident["status"] == "awaiting_approval"
        assert incident["waiting_for_approval"]["tool"] == "kubernetes.rollout_undo"
        assert sim.world.applied_actions == []  # nothing mutating ran

        pending = data(await client.call_tool("list_pending_approvals", {}))["pending"]
        assert [p["incident"] for p in pending] == [incident["incident_id"]]
        record = data(await client.call_tool("show_incident", {"incident_id": incident["incident_id"]}))
        assert record["diagnosis"]["evidence"] and record["timeline"]
        assert data(await client.call_tool("list_incidents", {"status": "awaiting_approval"}))["total"] == 1

        service = data(await client.call_tool("get_service", {"name": "checkout"}))
        assert service["name"] == "checkout" and service["dependencies"]
        assert "checkout" in [s["name"] for s in data(await client.call_tool("list_services", {}))["services"]]

        missing = await client.call_tool("show_incident", {"incident_id": "INC-nope"})
        assert missing.is_error and "no incident 'INC-nope'" in missing.content[0].text  # type: ignore[union-attr]
        bad = await client.call_tool("start_investigation", {"payload": {"alerts": "no"}})
        assert bad.is_error and "payload" in bad.content[0].text  # type: ignore[union-attr]


@pytest.fixture
def http_server(config_path: Path) -> Iterator[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), TOKEN_ENV: TOKEN}
    process = subprocess.Popen(
        [sys.executable, "-m", "firstline.cli", "--config", str(config_path), "mcp", "serve"]
        + ["--transport", "http", "--port", "0", "--token-env", TOKEN_ENV],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert line.startswith("firstline MCP server on "), line
        yield line.split()[4]
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


async def test_http_answers_only_requests_with_the_bearer_token(http_server: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with Client(_http_transport(http_server, headers, 10), read_timeout_seconds=30, cache=None) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert names == READS | {"start_investigation"}
        assert data(await client.call_tool("list_pending_approvals", {}))["pending"] == []
    for wrong in ({}, {"Authorization": "Bearer not-the-token"}):
        try:
            async with Client(_http_transport(http_server, wrong, 10), read_timeout_seconds=10, cache=None):
                raise AssertionError(f"connected with {wrong}")
        except (MCPError, BaseExceptionGroup) as exc:  # the SDK's task groups may wrap it
            assert "error response" in describe_exception(exc)


def test_http_refuses_to_start_without_a_token(
    config_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    unnamed = config_path.with_name("no-token.yaml")
    written = yaml.safe_load(config_path.read_text())
    written["mcp"] = {**written.get("mcp", {}), "token_env": None}  # the shipped config names one; this one does not
    unnamed.write_text(yaml.safe_dump(written))
    args = ["--config", str(unnamed), "mcp", "serve", "--transport", "http", "--port", "0"]
    assert main(args) == 2
    assert "needs a bearer token" in capsys.readouterr().err
    assert main([*args, "--token-env", TOKEN_ENV]) == 2
    assert f"{TOKEN_ENV} (the bearer token for mcp serve) is not set" in capsys.readouterr().err
