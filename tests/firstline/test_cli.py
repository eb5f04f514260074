"""The `firstline` command as users run it: separate processes, a sandbox serving in the background."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

# Each test runs the firstline command in a subprocess (several seconds each).
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def firstline(*args: str, cwd: Path = REPO, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firstline.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    config, alert = tmp_path / "sim.yaml", tmp_path / "alert.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "firstline.cli",
            "sandbox",
            "run",
            "--write-config",
            str(config),
            "--alert-file",
            str(alert),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (alert.exists() and alert.stat().st_size > 0):
            if proc.poll() is not None or time.monotonic() > deadline:
                output = proc.stdout.read() if proc.stdout else ""
                pytest.fail(f"sandbox did not start: {output}")
            time.sleep(0.2)
        url = json.loads(json.dumps(__import__("yaml").safe_load(config.read_text())))["clock"]["url"]
        yield config, alert, url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def _state(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/state", timeout=10).json()  # type: ignore[no-any-return]


def test_respond_wait_then_approve_from_another_process(sandbox: tuple[Path, Path, str], tmp_path: Path) -> None:
    config, alert, sim_url = sandbox
    record_path = tmp_path / "record.json"
    waited = firstline("--config", str(config), "respond", str(alert), "--approve", "wait", "--json", str(record_path))
    assert waited.returncode == 0, waited.stderr
    record = json.loads(record_path.read_text())
    assert record["status"] == "awaiting_approval"
    pending_action = next(a for a in record["actions"] if a["requires_approval"] and a["status"] == "proposed")
    assert "firstline approve" in waited.stdout

    listed = firstline("--config", str(config), "approvals", "list", "--json")
    pending = json.loads(listed.stdout)
    assert [(p["incident"], p["id"]) for p in pending] == [(record["id"], pending_action["id"])]

    approved = firstline(
        "--config", str(config), "approve", record["id"], pending_action["id"], "--by", "alice", "--comment", "ship it"
    )
    assert approved.returncode == 0, approved.stderr
    shown = firstline("--config", str(config), "incidents", "show", record["id"], "--json", "-")
    final = json.loads(shown.stdout)
    assert final["status"] == "resolved"
    action = next(a for a in final["actions"] if a["id"] == pending_action["id"])
    assert action["status"] == "verified"
    assert action["approval"]["by"] == "alice"
    undos = [a for a in _state(sim_url)["applied_actions"] if "rollout_undo" in json.dumps(a)]
    assert len(undos) == 1

    again = firstline("--config", str(config), "approve", record["id"], pending_action["id"], "--by", "bob")
    assert again.returncode == 0
    assert "already approved by alice" in again.stdout
    assert "nothing was executed" in again.stdout
    assert len([a for a in _state(sim_url)["applied_actions"] if "rollout_undo" in json.dumps(a)]) == 1

    assert json.loads(firstline("--config", str(config), "approvals", "list", "--json").stdout) == []


def test_malformed_alert_file_names_the_field(sandbox: tuple[Path, Path, str], tmp_path: Path) -> None:
    config, alert, _ = sandbox
    payload = json.loads(alert.read_text())
    del payload["alerts"][0]["labels"]["service"]
    payload["commonLabels"].pop("service", None)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(payload))
    result = firstline("--config", str(config), "respond", str(bad))
    assert result.returncode == 2
    assert "alerts[0].labels.service: missing" in result.stderr
    not_json = tmp_path / "not.json"
    not_json.write_text("{nope")
    result = firstline("--config", str(config), "respond", str(not_json))
    assert result.returncode == 2
    assert "not valid JSON" in result.stderr


def test_bad_config_names_the_field(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("workflow:\n  max_turns: many\n")
    result = firstline("--config", str(config), "incidents", "list")
    assert result.returncode == 2
    assert "workflow.max_turns" in result.stderr


def test_a_tool_with_an_unset_secret_is_disabled_with_a_warning_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"knowledge: {{catalog: {REPO / 'examples/catalog.yaml'}}}\n"
        f"storage: {{checkpoints: {tmp_path / 'c.sqlite'}, ledger: {tmp_path / 'l.sqlite'}, incidents: {tmp_path / 'i.sqlite'}}}\n"
        "tools:\n  gh: {kind: github, base_url: http://127.0.0.1:9, token_env: FIRSTLINE_TEST_UNSET_TOKEN}\n"
    )
    alert = REPO / "examples/alerts/checkout-5xx.json"
    result = firstline("--config", str(config), "respond", str(alert), "--approve", "wait")
    assert result.returncode != 2, result.stderr  # the incident is worked with what can be reached
    assert "tool_disabled" in result.stderr and "FIRSTLINE_TEST_UNSET_TOKEN" in result.stderr
    assert "tools.gh.token_env" in result.stderr


def test_help_teaches_every_command() -> None:
    top = firstline("--help")
    assert top.returncode == 0
    for command in ("demo", "respond", "approvals", "approve", "reject", "incidents", "sandbox"):
        assert command in top.stdout
    respond = firstline("respond", "--help")
    assert "--approve" in respond.stdout and "wait" in respond.stdout


def test_the_sandbox_config_keeps_its_state_apart_from_the_real_state_folder(
    sandbox: tuple[Path, Path, str], tmp_path: Path
) -> None:
    config, _, _ = sandbox
    written = __import__("yaml").safe_load(config.read_text())
    state = tmp_path / "sim-state"
    for key in ("checkpoints", "ledger", "incidents"):
        assert Path(written["storage"][key]).parent == state, written["storage"]
    assert Path(written["knowledge"]["chroma"]["path"]).parent == state
    assert Path(written["intake"]["inbox"]).parent == state  # alerts served for it stay beside it
    assert Path(written["approvals"]["database"]).parent == state
    assert ".firstline" not in json.dumps([written["storage"], written["intake"], written["approvals"]])
