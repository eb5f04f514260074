"""Real Prometheus and Alertmanager (Debian's packages) on loopback: a rule fires, Alertmanager posts
its webhook to `firstline serve`, and the incident appears. Skips with the reason when the binaries
are not installed (CI installs them with apt-get where it can)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_intake_commands import Server, write_config

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
if not (PROMETHEUS and ALERTMANAGER):
    pytest.skip(
        "Prometheus and Alertmanager binaries not found (Debian: apt-get install -y prometheus prometheus-alertmanager; "
        ".ci/run installs them when it runs as root with apt)",
        allow_module_level=True,
    )

RULES = """
groups:
  - name: shop
    interval: 1s
    rules:
      - alert: CheckoutHighErrorRate
        expr: vector(0.071) > 0.05
        labels: {service: checkout, severity: critical, env: production}
        annotations:
          summary: checkout 5xx ratio above 5%
          description: "{{ $value }} of requests to checkout failed"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{what} not ready at {url} after {timeout}s")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def test_alertmanager_webhook_from_a_real_rule_becomes_an_incident(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    assert PROMETHEUS is not None and ALERTMANAGER is not None
    token = "integration-token"
    config = write_config(
        tmp_path, "  sources:\n    alertmanager: {auth: {kind: bearer, token_env: FIRSTLINE_IT_TOKEN}}\n"
    )
    server = Server(config, "--dry-run", env={"FIRSTLINE_IT_TOKEN": token})
    try:
        am_port, prom_port = free_port(), free_port()
        (tmp_path / "alertmanager.yml").write_text(
            "route:\n  receiver: firstline\n  group_by: [alertname, service]\n  group_wait: 1s\n  group_interval: 2s\n"
            "  repeat_interval: 1h\n"
            "receivers:\n  - name: firstline\n    webhook_configs:\n"
            f"      - url: {server.url}/v1/alerts/alertmanager\n        send_resolved: true\n"
            f"        http_config: {{authorization: {{type: Bearer, credentials: {token}}}}}\n",
            encoding="utf-8",
        )
        am = subprocess.Popen(
            [
                ALERTMANAGER,
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{am_port}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(am)
        wait_ready(f"http://127.0.0.1:{am_port}/-/ready", am, "alertmanager")
        (tmp_path / "rules.yml").write_text(RULES, encoding="utf-8")
        (tmp_path / "prometheus.yml").write_text(
            "global: {evaluation_interval: 1s, scrape_interval: 15s}\n"
            f"rule_files: [{tmp_path / 'rules.yml'}]\n"
            f"alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]\n",
            encoding="utf-8",
        )
        prometheus = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--log.level=warn",
                # the first notification is dropped until the Alertmanager is discovered (~5 s); resend soon, not after 1 min
                "--rules.alert.resend-delay=1s",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        processes.append(prometheus)
        wait_ready(f"http://127.0.0.1:{prom_port}/-/ready", prometheus, "prometheus")

        deadline = time.monotonic() + 40
        incidents: list[dict[str, object]] = []
        while time.monotonic() < deadline and not incidents:
            incidents = server.incidents(want=1, timeout=1)
        assert incidents, "no incident 40 s after the rule started firing"
        [incident] = incidents
        assert incident["services"] == ["checkout"]
        assert incident["severity"] == "critical"
        assert incident["title"] == "checkout 5xx ratio above 5%"
        health = httpx.get(f"{server.url}/healthz", timeout=5).json()
        assert health["dead_letters"] == 0 and health["rejected_unauthenticated"] == 0
    finally:
        code = server.stop()
        server.close()  # its output pipe too: warnings (an unclosed file) are errors in this suite
        assert code == 0
