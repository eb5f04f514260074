"""`firstline sandbox list`, `firstline demo --scenario` on any library scenario, and the sandbox
configuration pointing the agents at the scenario's own service catalog."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.sim import start_sim
from evals.sim.library import scenario_names
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig
from knowledge.catalog import ServiceCatalog

# Each test runs the sandbox or the demo in a subprocess.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def firstline(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firstline.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_sandbox_list_shows_every_scenario_with_its_tags() -> None:
    listed = firstline("sandbox", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["name"] for e in entries] == scenario_names()
    for entry in entries:
        assert entry["difficulty"] in ("easy", "medium", "hard") and entry["difficulty"] in entry["tags"]
        assert entry["category"] and entry["description"]
    text = firstline("sandbox", "list")
    assert text.returncode == 0
    assert all(name in text.stdout for name in scenario_names())


def test_sandbox_config_points_at_the_scenario_catalog(tmp_path: Path) -> None:
    with start_sim("storefront-afternoon-5xx") as sim:
        config = sandbox_config(FirstlineConfig(), sim, tmp_path)
        catalog = ServiceCatalog.load(config.knowledge.catalog)
        assert config.knowledge.catalog == tmp_path / "catalog.yaml"
        storefront = catalog.services["storefront"]
        assert storefront.namespace == "web" and storefront.sli.error_rate
        assert config.tools["prometheus"]["base_url"] == sim.urls["prometheus"]


def test_demo_runs_a_scenario_without_an_incident(tmp_path: Path) -> None:
    record_path = tmp_path / "record.json"
    result = firstline("demo", "--scenario", "stock-api-page-11", "--approve", "reject", "--json", str(record_path))
    assert result.returncode in (0, 3), result.stderr
    record = json.loads(record_path.read_text())
    assert record["service"] == "stock-api"
    assert "scenario expects: no incident" in result.stdout


def test_the_demo_output_is_short_and_readable(tmp_path: Path) -> None:
    record_path = tmp_path / "record.json"
    result = firstline("demo", "--approve", "auto", "--json", str(record_path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # The example's diagnosis carries a commit diff: the terminal shows one line of it, the record all of it.
    assert not [line for line in lines if line.startswith(("+", "-", "@@ ", "diff ")) and not line.startswith("--")], (
        result.stdout
    )
    assert max(len(line) for line in lines) <= 260
    assert len(lines) <= 60
    assert "@@ " in json.dumps(json.loads(record_path.read_text())["diagnosis"])  # nothing lost in the record
    assert "resolved" in result.stdout and "state kept in" in result.stdout


def test_one_line_keeps_the_first_line_and_cuts_at_a_word() -> None:
    from firstline.console import one_line

    assert one_line("migration on checkout\n@@ -1 +1 @@\n+ALTER TABLE") == "migration on checkout…"
    assert one_line("short") == "short"
    cut = one_line("word " * 100, 50)
    assert len(cut) <= 50 and cut.endswith("word…")
