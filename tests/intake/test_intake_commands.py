"""The intake commands as users run them: separate processes, a real port on loopback."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from intake_helpers import FIXTURES, fixture

# Each test runs firstline serve or an intake command in a subprocess.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def firstline(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firstline.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def write_config(directory: Path, intake: str = "") -> Path:
    config = directory / "config.yaml"
    config.write_text(
        f"knowledge:\n  catalog: {REPO / 'examples' / 'catalog.yaml'}\n"
        f"storage:\n  checkpoints: {directory / 'checkpoints.sqlite'}\n  ledger: {directory / 'ledger.sqlite'}\n"
        f"  incidents: {directory / 'incidents.sqlite'}\n"
        f"intake:\n  inbox: {directory / 'intake.sqlite'}\n  grouping: {{investigation_delay_seconds: 0}}\n{intake}",
        encoding="utf-8",
    )
    return config


class Server:
    """``firstline serve`` in a child process; its URL once it says it listens."""

    def __init__(self, config: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "firstline.cli", "--config", str(config), "serve", "--port", "0", *extra],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200", **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.url = self._wait_for_url()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.lines.put(text)

    def _wait_for_url(self, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                text = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.output.append(text)
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if match:
                return match.group(1)
        self.proc.kill()
        pytest.fail("serve did not start:\n" + "".join(self.output))

    def incidents(self, want: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found: list[dict[str, Any]] = httpx.get(f"{self.url}/v1/incidents", timeout=5).json()["incidents"]
            if len(found) >= want or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def close(self) -> None:
        """Kill the child if it still runs and close its output pipe (warnings are errors in this suite)."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def iter_queue(lines: queue.Queue[str]) -> Iterator[str]:
    while True:
        try:
            yield lines.get(timeout=1)
        except queue.Empty:
            return


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.close()


def test_serve_receives_correlates_and_stops_cleanly(tmp_path: Path, servers: list[Server]) -> None:
    config = write_config(tmp_path)
    server = Server(config, "--dry-run")
    servers.append(server)
    body = (FIXTURES / "alertmanager" / "firing.json").read_bytes()
    response = httpx.post(f"{server.url}/v1/alerts/alertmanager", content=body, timeout=10)
    assert response.status_code == 202, response.text
    httpx.post(
        f"{server.url}/v1/alerts/alertmanager",
        content=(FIXTURES / "alertmanager" / "database.json").read_bytes(),
        timeout=10,
    )
    bad = httpx.post(f"{server.url}/v1/alerts/generic", json={"status": "firing"}, timeout=10)
    assert bad.status_code == 400 and bad.json()["field"] == "title"
    deadline = time.monotonic() + 20
    while (
        (found := server.incidents())
        and found[0]["services"] != ["checkout", "payments-db"]
        and time.monotonic() < deadline
    ):
        time.sleep(0.1)
    [incident] = found
    assert incident["services"] == ["checkout", "payments-db"]  # the database joined its caller's incident
    assert httpx.get(f"{server.url}/healthz", timeout=5).json()["status"] == "ok"
    assert server.stop() == 0
    assert any("stopped (SIGTERM)" in line for line in [*server.output, *iter_queue(server.lines)])

    letters = firstline("--config", str(config), "intake", "dead-letters", "--json")
    assert letters.returncode == 0, letters.stderr
    [letter] = json.loads(letters.stdout)
    assert (letter["source"], letter["field"], letter["status"]) == ("generic", "title", 400)
    shown = firstline("--config", str(config), "intake", "dead-letters", "--show", str(letter["id"]))
    assert "error: title: missing" in shown.stdout and '{"status":"firing"}' in shown.stdout


def test_an_accepted_alert_survives_kill_9(tmp_path: Path, servers: list[Server]) -> None:
    config = write_config(tmp_path)
    first = Server(config, "--dry-run")
    servers.append(first)
    body = (FIXTURES / "generic" / "firing.json").read_bytes()
    assert httpx.post(f"{first.url}/v1/alerts/generic", content=body, timeout=10).status_code == 202
    first.stop(signal.SIGKILL)  # no chance to finish anything
    second = Server(config, "--dry-run")
    servers.append(second)
    [incident] = second.incidents()
    assert incident["services"] == ["checkout"]
    assert second.stop() == 0


def test_serve_refuses_bad_setups_with_the_setting_named(tmp_path: Path) -> None:
    config = write_config(
        tmp_path, "  sources:\n    alertmanager: {auth: {kind: bearer, token_env: FIRSTLINE_TEST_UNSET_TOKEN}}\n"
    )
    missing = firstline("--config", str(config), "serve", "--port", "0")
    assert missing.returncode == 2
    assert (
        "intake.sources.alertmanager.auth.token_env: environment variable FIRSTLINE_TEST_UNSET_TOKEN is not set"
        in missing.stderr
    )
    open_config = write_config(tmp_path)
    exposed = firstline("--config", str(open_config), "serve", "--host", "0.0.0.0", "--port", "0")
    assert exposed.returncode == 2
    assert "refusing to listen on 0.0.0.0 with unauthenticated sources" in exposed.stderr
    broken_tools = write_config(tmp_path)
    broken_tools.write_text(
        broken_tools.read_text() + "tools:\n  teams: {kind: teams, base_url_env: FIRSTLINE_TEST_NOT_A_URL}\n",
        encoding="utf-8",
    )
    # not --dry-run: the workflow runtime opens first, so a broken tool stops the start, naming it
    early = firstline(
        "--config", str(broken_tools), "serve", "--port", "0", env={"FIRSTLINE_TEST_NOT_A_URL": "not-a-url"}
    )
    assert early.returncode == 2
    assert (
        "instance 'teams': base_url_env names 'FIRSTLINE_TEST_NOT_A_URL', which does not hold an http(s) URL"
        in early.stderr
    )


def test_serve_starts_with_a_tool_whose_secret_is_unset_and_warns(tmp_path: Path, servers: list[Server]) -> None:
    config = write_config(tmp_path)
    config.write_text(
        config.read_text() + "tools:\n  github: {kind: github, base_url: https://api.github.com, "
        "token_env: FIRSTLINE_TEST_UNSET_GITHUB}\n",
        encoding="utf-8",
    )
    server = Server(config)  # not --dry-run: the workflow runtime opens at start
    servers.append(server)
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert server.stop() == 0
    output = "".join(server.output) + "".join(iter_queue(server.lines))
    assert "tool_disabled" in output and "FIRSTLINE_TEST_UNSET_GITHUB" in output and "tools.github.token_env" in output


def test_replay_command_writes_results(tmp_path: Path) -> None:
    lines = [
        {
            "source": "alertmanager",
            "received_at": "2026-11-20T10:01:05Z",
            "payload": fixture("alertmanager", "firing"),
            "truth": "a",
        },
        {
            "source": "alertmanager",
            "received_at": "2026-11-20T10:02:15Z",
            "payload": fixture("alertmanager", "database"),
            "truth": "a",
        },
        {
            "source": "alertmanager",
            "received_at": "2026-11-20T10:20:00Z",
            "payload": fixture("alertmanager", "resolved"),
            "truth": "a",
        },
    ]
    storm = tmp_path / "recorded.jsonl"
    storm.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    result = firstline(
        "--config", str(write_config(tmp_path)), "intake", "replay", str(storm), "--out", str(tmp_path / "out")
    )
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["alerts_in"] == 5 and results["incidents_out"] == 1 and results["lost"] == 0
    assert results["purity"] == 1.0 and results["compression"] == 0.8
    missing = firstline("intake", "replay", str(tmp_path / "nope.jsonl"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_bench_command_writes_results_with_memory(tmp_path: Path) -> None:
    result = firstline("intake", "bench", "--alerts", "3000", "--out", str(tmp_path), "--write-storm")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    for key in (
        "alerts_in",
        "incidents_out",
        "compression",
        "alerts_per_second",
        "lost",
        "purity",
        "completeness",
        "peak_memory_mb",
    ):
        assert key in results, key
    assert results["alerts_in"] == 3000 and results["lost"] == 0
    assert results["command"].startswith("firstline intake bench --alerts 3000")
    assert "alerts_per_second" in result.stdout
    # The storm it wrote, replayed as the printed hint says (with the config it wrote), decides exactly the same.
    hint = re.search(r"`firstline (--config \S+ intake replay \S+)`", result.stdout + result.stderr)
    assert hint is not None, result.stdout + result.stderr
    replay = firstline(*hint.group(1).split(), "--out", str(tmp_path / "replay"))
    assert replay.returncode == 0, replay.stderr
    replayed = json.loads((tmp_path / "replay" / "results.json").read_text())
    for key in (
        "alerts_in",
        "incidents_out",
        "purity",
        "completeness",
        "investigations",
        "suppressed",
        "merges",
        "lost",
    ):
        assert replayed[key] == results[key], key
