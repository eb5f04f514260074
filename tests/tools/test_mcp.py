"""The MCP adapter against a real MCP server (tests/tools/mcp_server.py, written with the SDK), run as a
subprocess over stdio and over streamable HTTP on a loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from firstline.config import ConfigError, parse_config
from tests.tools.conftest import grant_for
from tools.actions import execute_action
from tools.ledger import ActionLedger
from tools.mcp import McpAdapter
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry, available_kinds

SERVER = str(Path(__file__).with_name("mcp_server.py"))
SECRET = "mcp-secret-7c1e5b2d-not-real"
SECRET_ENV = "FIRSTLINE_TEST_MCP_SECRET"
HTTP_TOKEN = "mcp-http-token-9a7c1e5b"
HTTP_TOKEN_ENV = "FIRSTLINE_TEST_MCP_HTTP_TOKEN"
READ_ONLY = ["get_*", "search_logs"]

pytestmark = pytest.mark.slow


def stdio(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return {
        "kind": "mcp",
        "command": sys.executable,
        "args": [SERVER],
        "env": {"MCP_TEST_SECRET": SECRET_ENV, "MCP_TEST_EFFECTS": "FIRSTLINE_TEST_MCP_EFFECTS"},
        "read_only": READ_ONLY,
        "timeout_seconds": 10,
        **settings,
    }


@pytest.fixture
def effects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file the server's mutating tools append to, and the secret it is started with."""
    path = tmp_path / "effects.txt"
    monkeypatch.setenv("FIRSTLINE_TEST_MCP_EFFECTS", str(path))
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return path


@pytest.fixture
async def opened(tmp_path: Path, effects: Path) -> AsyncIterator[ToolRegistry]:
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path)}, kinds=available_kinds(include_plugins=False))
    await registry.open()
    yield registry
    await registry.aclose()


@pytest.fixture
def http_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test server over streamable HTTP on a loopback port, requiring a bearer token."""
    env = {**os.environ, "MCP_TEST_HTTP_TOKEN": HTTP_TOKEN}
    process = subprocess.Popen(
        [sys.executable, SERVER, "http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on "), line
        monkeypatch.setenv(HTTP_TOKEN_ENV, HTTP_TOKEN)
        yield line.removeprefix("listening on ").strip()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def logged(logs: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry["event"] == event]


async def test_each_listed_tool_is_a_call_with_its_schema_and_only_declared_reads_are_read_only(
    opened: ToolRegistry,
) -> None:
    infos = {info.call: info for info in opened.list_tools()}
    assert set(infos) >= {"get_status", "search_logs", "get_broken", "restart_service", "restart_and_crash"}
    reads = sorted(call for call, info in infos.items() if not info.mutating)
    assert reads == ["get_broken", "get_crash", "get_credential", "get_many", "get_slowly", "get_status", "search_logs"]
    restart = infos["restart_service"]
    assert (restart.mutating, restart.approval_tier, restart.reversible, restart.action_class) == (
        True,
        "approve",
        False,
        "mcp",
    )
    # The model is shown the server's own schema (the LLM reasoner offers every read-only call with it).
    schema = opened.resolve("ops.search_logs")[1].input_model.model_json_schema()
    assert schema["properties"]["limit"] == {"default": 10, "title": "Limit", "type": "integer"}
    assert schema["required"] == ["query"]


async def test_a_read_returns_the_structured_answer_with_one_log_line_per_call(opened: ToolRegistry) -> None:
    with capture_logs() as logs:
        result = await opened.invoke("ops.get_status", {"service": "checkout"})
    assert result.status == "ok", result.summary
    assert result.data == {"service": "checkout", "status": "degraded", "error_ratio": 0.12}
    assert result.query == 'tools/call get_status {"service": "checkout"}'
    assert result.params == {"service": "checkout"}
    assert "status=degraded" in result.summary
    [request] = logged(logs, "mcp_request")
    assert (request["method"], request["tool"], request["error"]) == ("tools/call", "get_status", None)
    [call] = logged(logs, "tool_call")
    assert (call["tool"], call["status"], call["mutating"]) == ("ops.get_status", "ok", False)


async def test_arguments_are_checked_against_the_schema_before_anything_is_sent(opened: ToolRegistry) -> None:
    with capture_logs() as logs:
        result = await opened.invoke("ops.search_logs", {"query": "timeout", "limit": "ten"})
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "input"
    assert "limit: 'ten' is not of type 'integer'" in result.summary
    assert logged(logs, "mcp_request") == []


async def test_a_tool_that_errors_is_an_upstream_error_with_its_message(opened: ToolRegistry) -> None:
    result = await opened.invoke("ops.get_broken", {"message": "disk on fire"})
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "upstream"
    assert "backend exploded: disk on fire" in result.error.message
    assert result.query == "tools/call get_broken"


async def test_a_slow_tool_times_out(tmp_path: Path, effects: Path) -> None:
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path, timeout_seconds=0.5)})
    await registry.open()
    try:
        result = await registry.invoke("ops.get_slowly", {"seconds": 5})
    finally:
        await registry.aclose()
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "timeout"
    assert "timed out after 0.5s" in result.error.message


async def test_a_large_answer_is_trimmed_to_the_output_budget(tmp_path: Path, effects: Path) -> None:
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path, output_budget_chars=1000)})
    await registry.open()
    try:
        result = await registry.invoke("ops.get_many", {"n": 200})
    finally:
        await registry.aclose()
    assert result.status == "ok"
    assert 0 < len(result.data["items"]) < 200
    assert result.truncated is not None and "of 200 items" in result.truncated


async def test_a_secret_passed_to_the_server_is_redacted_from_results_and_logs(opened: ToolRegistry) -> None:
    with capture_logs() as logs:
        result = await opened.invoke("ops.get_credential", {})
    assert result.status == "ok"
    assert "started with key ***" in result.summary
    assert SECRET not in result.model_dump_json()
    assert SECRET not in repr(logs)


async def test_a_server_that_dies_mid_session_fails_that_call_and_the_next_call_reconnects(
    opened: ToolRegistry,
) -> None:
    crashed = await opened.invoke("ops.get_crash", {})
    assert crashed.status == "error" and crashed.error is not None
    assert "connection to the MCP server was lost" in crashed.error.message
    again = await opened.invoke("ops.get_status", {"service": "search"})
    assert again.status == "ok", again.summary
    assert again.data["status"] == "healthy"


async def test_an_undeclared_tool_is_mutating_refused_without_a_grant_and_runs_with_one(
    opened: ToolRegistry, effects: Path, ledger: ActionLedger
) -> None:
    refused = await opened.invoke("ops.restart_service", {"service": "checkout"})
    assert refused.status == "approval_required"
    assert not effects.exists()  # nothing reached the server
    adapter = opened.adapters["ops"]
    grant = grant_for(ledger, adapter, "restart_service", {"service": "checkout"})
    other = await opened.invoke("ops.restart_service", {"service": "payments"}, grant=grant)
    assert other.status == "approval_required"  # the grant binds the approved arguments only
    ran = await opened.invoke("ops.restart_service", {"service": "checkout"}, grant=grant)
    assert ran.status == "ok", ran.summary
    assert effects.read_text() == "restart checkout\n"


async def test_a_mutating_tool_goes_through_the_ledger_once_and_only_after_an_approval(
    opened: ToolRegistry, effects: Path, ledger: ActionLedger
) -> None:
    policy = ApprovalPolicy()  # maturity walk: every mutating action needs a human
    action = {"incident_id": "INC-9", "action_id": "act-restart", "tool_id": "ops.restart_service"}
    args = {"service": "checkout", "reason": "stuck workers"}
    refused = await execute_action(registry=opened, ledger=ledger, policy=policy, args=args, **action)
    assert refused.status == "refused" and "needs an approval" in refused.detail
    assert not effects.exists()
    from tools.actions import args_hash_for

    ledger.record_decision(
        incident_id="INC-9",
        action_id="act-restart",
        tool="ops.restart_service",
        args_hash=args_hash_for(opened, "ops.restart_service", args),
        decision="approved",
        decided_by="alice",
    )
    executed = await execute_action(registry=opened, ledger=ledger, policy=policy, args=args, **action)
    assert executed.status == "executed", executed.detail
    repeated = await execute_action(registry=opened, ledger=ledger, policy=policy, args=args, **action)
    assert repeated.status == "already_executed"
    assert effects.read_text() == "restart checkout\n"


async def test_a_mutating_call_lost_mid_call_is_not_sent_again(
    opened: ToolRegistry, effects: Path, ledger: ActionLedger
) -> None:
    adapter = opened.adapters["ops"]
    grant = grant_for(ledger, adapter, "restart_and_crash", {"service": "checkout"})
    result = await opened.invoke("ops.restart_and_crash", {"service": "checkout"}, grant=grant)
    assert result.status == "error" and result.error is not None
    assert "may or may not have run" in result.error.message
    assert effects.read_text() == "restart checkout\n"  # exactly once: a read would have been retried


async def test_declared_safety_makes_a_tool_reversible_and_sets_its_policy_class(tmp_path: Path, effects: Path) -> None:
    declared = {"restart_service": {"reversible": True, "undo": "none needed", "action_class": "restart"}}
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path, tools=declared)})
    await registry.open()
    try:
        safety = registry.resolve("ops.restart_service")[1].safety
    finally:
        await registry.aclose()
    assert (safety.mutating, safety.reversible, safety.undo, safety.action_class) == (
        True,
        True,
        "none needed",
        "restart",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"command": "x", "url": "http://h/mcp"}, "exactly one of command"),
        ({"command": "x", "token_env": "T"}, "pass a stdio server's secrets with env"),
        ({"url": "http://h/mcp", "env": ["A"]}, "are for a stdio server"),
        ({"command": "x", "read_only": ["restart_*"], "tools": {"restart_x": {}}}, "also matched by read_only"),
        ({"command": "x", "tools": {"restart_x": {"reversible": True}}}, "undo"),
    ],
)
async def test_bad_settings_are_refused_naming_the_instance(settings: dict[str, Any], message: str) -> None:
    with pytest.raises((ConfigError, ValueError)) as caught:
        registry = ToolRegistry.from_config({"ops": {"kind": "mcp", **settings}})
        await registry.open()
        await registry.aclose()
    assert message in str(caught.value)


def test_the_config_file_validates_mcp_instances() -> None:
    with pytest.raises(ConfigError, match=r"tools\.ops: .*exactly one of command"):
        parse_config({"tools": {"ops": {"kind": "mcp"}}})


async def test_a_server_that_cannot_start_is_left_out_with_the_reason(tmp_path: Path, effects: Path) -> None:
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path, command=str(tmp_path / "no-such-server"))})
    await registry.open()
    try:
        assert "ops" not in registry.adapters
        assert "cannot connect to the MCP server" in registry.unavailable["ops"]
    finally:
        await registry.aclose()


async def test_an_unset_variable_disables_the_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    monkeypatch.setenv("FIRSTLINE_TEST_MCP_EFFECTS", str(tmp_path / "e"))
    registry = ToolRegistry.from_config({"ops": stdio(tmp_path)}, missing_secrets="disable")
    assert registry.disabled["ops"].variable == SECRET_ENV


async def test_streamable_http_with_a_bearer_token_lists_and_calls(http_url: str) -> None:
    config = {"kind": "mcp", "url": http_url, "token_env": HTTP_TOKEN_ENV, "read_only": READ_ONLY}
    registry = ToolRegistry.from_config({"remote": config})
    await registry.open()
    try:
        with capture_logs() as logs:
            result = await registry.invoke("remote.search_logs", {"query": "OOMKilled", "limit": 2})
            refused = await registry.invoke("remote.restart_service", {"service": "checkout"})
        adapter = registry.adapters["remote"]
        assert isinstance(adapter, McpAdapter)
        check = await adapter.check()
    finally:
        await registry.aclose()
    assert result.status == "ok", result.summary
    assert result.data["lines"] == ["OOMKilled seen on pod-0", "OOMKilled seen on pod-1"]
    assert refused.status == "approval_required"
    assert check.startswith("firstline-test-mcp 1.0.0 answered:")
    assert HTTP_TOKEN not in repr(logs)


async def test_streamable_http_with_a_wrong_token_is_unavailable_and_its_check_fails(
    http_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.checks import check_instances

    monkeypatch.setenv(HTTP_TOKEN_ENV, "wrong-token-value")
    config = {"kind": "mcp", "url": http_url, "token_env": HTTP_TOKEN_ENV, "connect_timeout_seconds": 5}
    registry = ToolRegistry.from_config({"remote": config})
    await registry.open()
    await registry.aclose()
    assert "remote" in registry.unavailable
    [checked] = await check_instances({"remote": config}, kinds=available_kinds(include_plugins=False))
    assert checked.status == "failed"
    assert "wrong-token-value" not in checked.detail + checked.fix


def test_tools_list_shows_each_mcp_tool_with_its_schema_and_tools_check_asks_the_server(
    tmp_path: Path, effects: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    import yaml

    from firstline.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"tools": {"ops": stdio(tmp_path)}}))
    assert main(["--config", str(config), "tools", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    [ops] = listed["instances"]
    calls = {c["call"]: c for c in ops["calls"]}
    assert ops["problems"] == []
    assert calls["get_status"]["mutating"] is False
    assert calls["get_status"]["input_schema"]["required"] == ["service"]
    restart = calls["restart_service"]
    assert (restart["mutating"], restart["policy_tier"], restart["reversible"]) == (True, "approve", False)
    [mcp_kind] = [i for i in listed["integrations"] if i["kind"] == "mcp"]
    assert mcp_kind["configured_as"] == ["ops"]

    assert main(["--config", str(config), "tools", "list", "--json", "--offline"]) == 0
    [offline] = json.loads(capsys.readouterr().out)["instances"]
    assert offline["calls"] == [] and "--offline" in offline["problems"][0]

    assert main(["--config", str(config), "tools", "check", "--json"]) == 0
    [checked] = json.loads(capsys.readouterr().out)
    assert checked["status"] == "ok"
    assert checked["detail"].startswith("firstline-test-mcp 1.0.0 answered: 9 tools (7 declared read-only)")
