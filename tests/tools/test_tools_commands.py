"""`firstline tools list` and `firstline tools check`, run in process: against the simulator for the
happy path, against respx for failures."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import respx
import yaml

from evals.sim.server import RunningSim, start_sim
from firstline.cli import main
from tests.tools.conftest import TOKEN, TOKEN_ENV
from tools.registry import available_kinds


def write_config(path: Path, tools: dict[str, Any], **extra: Any) -> Path:
    path.write_text(yaml.safe_dump({"tools": tools, **extra}, sort_keys=False))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


RUNBOOK = {
    "kind": "http_action",
    "base_url": "https://rundeck.test",
    "actions": {
        "restart_cache": {
            "description": "Restart a service's cache tier.",
            "path": "/api/41/job/abc/run",
            "params": {"service": {"description": "Service."}},
            "safety": {
                "mutating": True,
                "reversible": True,
                "undo": "none needed",
                "approval_tier": "approve",
                "action_class": "runbook",
                "blast_radius": "service",
            },
        }
    },
}


def test_list_json_shows_instances_calls_tiers_and_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FIRSTLINE_TEST_UNSET_URL", raising=False)
    config = write_config(
        tmp_path / "c.yaml",
        {
            "prom-eu": {"kind": "prometheus", "base_url": "http://prom-eu:9090"},
            "prom-us": {"kind": "prometheus", "base_url": "http://prom-us:9090"},
            "rundeck": RUNBOOK,
            "teams": {"kind": "teams", "base_url_env": "FIRSTLINE_TEST_UNSET_URL"},
            "grafana": {"kind": "grafana", "base_url": "http://g"},
        },
        policy={"environment": "production", "maturity": "run", "rules": {"runbook": {"production": "auto"}}},
    )
    code, out, _ = run(capsys, "--config", str(config), "tools", "list", "--json")
    assert code == 0
    listed = json.loads(out)
    instances = {i["instance"]: i for i in listed["instances"]}
    assert list(instances) == ["prom-eu", "prom-us", "rundeck", "teams", "grafana"]
    assert [c["tool"] for c in instances["prom-us"]["calls"]] == [
        "prom-us.query",
        "prom-us.query_range",
        "prom-us.series",
        "prom-us.label_values",
    ]
    [restart] = instances["rundeck"]["calls"]
    assert (restart["tool"], restart["mutating"], restart["declared_tier"], restart["policy_tier"]) == (
        "rundeck.restart_cache",
        True,
        "approve",
        "auto",
    )
    assert restart["policy_reason"] == "rule runbook.production"
    post_card = instances["teams"]["calls"][0]
    assert (post_card["policy_tier"], post_card["policy_reason"]) == (
        "auto",
        "maturity run: the call's declared tier (auto)",
    )
    assert instances["teams"]["problems"] == ["FIRSTLINE_TEST_UNSET_URL (tools.teams.base_url_env) is not set"]
    assert instances["grafana"]["problems"][0].startswith("tools.grafana.kind: unknown integration 'grafana'")
    integrations = {i["kind"]: i for i in listed["integrations"]}
    assert set(integrations) >= set(available_kinds(include_plugins=False))
    assert integrations["prometheus"]["configured_as"] == ["prom-eu", "prom-us"]
    assert integrations["http_action"]["calls"] == "declared in configuration"
    assert integrations["argocd"]["origin"] == "built-in" and integrations["argocd"]["configured_as"] == []


def test_list_tables_for_humans(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    config = write_config(tmp_path / "c.yaml", {"rundeck": RUNBOOK, "gh": {"kind": "github", "base_url": "http://gh"}})
    code, out, err = run(capsys, "--config", str(config), "tools", "list")
    assert code == 0
    assert "Configured tools (approval per policy: production, maturity walk)" in out
    row = next(line for line in out.splitlines() if "rundeck.restart_cache" in line)
    assert "WRITE" in row and "approve" in row and "runbook" in row and "service" in row
    dispatch = next(line for line in out.splitlines() if "gh.workflow_dispatch" in line)
    assert "NO" in dispatch  # not reversible
    assert "Available integrations" in out and "pagerduty_events" in out
    assert err == ""


def test_list_without_a_config_file_lists_integrations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(tmp_path / "missing.yaml"), "tools", "list")
    assert code == 0 and "Available integrations" in out
    assert "no configuration file at" in err


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration") as running:
        yield running


def test_check_against_the_simulator(
    sim: RunningSim, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIRSTLINE_TEST_TEAMS_URL", "https://teams.test/workflows/1/invoke?sig=abcdef123456")
    monkeypatch.delenv("FIRSTLINE_TEST_UNSET", raising=False)
    tools = sim.tools_config(kinds=set(available_kinds()))
    core = {"prometheus", "loki", "kubernetes", "github", "statuspage", "slack", "pagerduty", "elasticsearch"}
    assert core <= set(tools)
    # Besides them, one Events v2 paging instance per PagerDuty service of the scenario.
    assert {tools[name]["kind"] for name in set(tools) - core} == {"pagerduty_events"}
    tools["teams"] = {"kind": "teams", "base_url_env": "FIRSTLINE_TEST_TEAMS_URL"}
    tools["gh-enterprise"] = {
        "kind": "github",
        "base_url": f"{sim.base_url}/github",
        "token_env": "FIRSTLINE_TEST_UNSET",
    }
    config = write_config(tmp_path / "sim.yaml", tools)

    code, out, _ = run(capsys, "--config", str(config), "tools", "check", "--json")
    results = {r["instance"]: r for r in json.loads(out)}
    assert code == 1  # gh-enterprise cannot be built
    assert {n for n, r in results.items() if r["status"] == "ok"} == {
        "prometheus",
        "loki",
        "kubernetes",
        "github",
        "statuspage",
        "slack",
        "pagerduty",
        "elasticsearch",
    }
    assert results["kubernetes"]["detail"] == "Kubernetes v1.31.0-sim"
    assert results["statuspage"]["detail"] == "page page-acme (Acme Status)"
    assert results["teams"]["status"] == "skipped" and "abcdef123456" not in out
    assert (
        results["gh-enterprise"]["status"] == "failed" and "FIRSTLINE_TEST_UNSET" in results["gh-enterprise"]["detail"]
    )

    code, out, _ = run(capsys, "--config", str(config), "tools", "check", "github", "kubernetes")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("ok      github") and "GitHub API: 4999 of 5000 core requests left" in lines[0]
    assert lines[1].startswith("ok      kubernetes") and lines[-1] == "2 ok, 0 failed, 0 skipped"


def test_check_failure_lines_say_how_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv("COLUMNS", "250")
    config = write_config(
        tmp_path / "c.yaml",
        {
            "github": {"kind": "github", "base_url": "https://gh.test", "token_env": TOKEN_ENV, "max_retries": 0},
            "prom": {"kind": "prometheus", "base_url": "https://prom.test", "max_retries": 0},
        },
    )
    with respx.mock() as mock:
        mock.get("https://gh.test/rate_limit").respond(401, json={"message": f"Bad credentials {TOKEN}"})
        mock.get("https://prom.test/api/v1/status/buildinfo").respond(
            200, json={"status": "success", "data": {"version": "2.53.0"}}
        )
        code, out, _ = run(capsys, "--config", str(config), "tools", "check")
    assert code == 1
    lines = out.splitlines()
    assert (
        lines[0].startswith("FAILED  github  github")
        and "GET /rate_limit returned HTTP 401: GitHub: Bad credentials ***" in lines[0]
    )
    assert lines[1].strip() == f"fix: credentials rejected: check the value of {TOKEN_ENV} (tools.github.token_env)"
    assert lines[2].startswith("ok      prom") and "Prometheus 2.53.0" in lines[2]
    assert lines[-1] == "1 ok, 1 failed, 0 skipped"
    assert TOKEN not in out


def test_check_refuses_unknown_names_and_empty_configs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "c.yaml", {"prom": {"kind": "prometheus", "base_url": "http://p"}})
    code, _, err = run(capsys, "--config", str(config), "tools", "check", "nope")
    assert code == 2 and "no instance named 'nope'" in err and "configured: prom" in err
    empty = write_config(tmp_path / "e.yaml", {})
    code, _, err = run(capsys, "--config", str(empty), "tools", "check")
    assert code == 2 and "no tool instances are configured" in err


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["tools", "check", "--help"])
    text = capsys.readouterr().out
    assert (
        "cheapest read" in text and "Exits 1 if any instance failed" in text and "firstline tools check github" in text
    )
    with pytest.raises(SystemExit):
        main(["tools", "list", "--help"])
    assert "entry point" in capsys.readouterr().out


def test_the_commented_examples_in_config_yaml_are_valid() -> None:
    """Uncommenting the example instances in config.yaml gives instances that start (secrets aside)."""
    from firstline.commands.tools import describe_tools
    from firstline.config import FirstlineConfig

    text = (Path(__file__).resolve().parents[2] / "config.yaml").read_text()
    # Only the tools: section (other sections have prose comments at the same indentation).
    section = text.split("\ntools:\n", 1)[1]
    section = section[: next((m.start() for m in re.finditer(r"^\S", section, re.MULTILINE)), len(section))]
    examples = "\n".join(line.replace("  # ", "  ", 1) for line in section.splitlines() if line.startswith("  # "))
    tools = yaml.safe_load("tools:\n" + examples)["tools"]
    assert {t["kind"] for t in tools.values()} >= {
        "prometheus",
        "elasticsearch",
        "argocd",
        "pagerduty",
        "pagerduty_events",
        "teams",
        "http_action",
    }
    assert {n for n, t in tools.items() if t["kind"] == "mcp"} == {"grafana-mcp", "ops-mcp"}
    described = describe_tools(FirstlineConfig(tools=tools), available_kinds(include_plugins=False))
    for instance in described["instances"]:
        if instance["kind"] == "mcp":  # its calls come from the server, which is not asked here: settings valid only
            offline = "calls not listed (--offline): they are known only by asking the server"
            assert instance["problems"][-1] == offline
            assert all(p.endswith("is not set") for p in instance["problems"][:-1]), instance["problems"]
            continue
        assert instance["calls"], instance
        assert all(p.endswith("is not set") for p in instance["problems"]), instance["problems"]
