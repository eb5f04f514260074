"""Replay files and the generated storm: the same pipeline, the numbers it reports, and their meaning."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evals.benchmarks.intake.bench import run_bench
from evals.benchmarks.intake.replay import replay_file
from evals.benchmarks.intake.storm import StormBuilder, load_rules
from intake.topology import Topology
from tests.intake.intake_helpers import SHOP, T0, fixture, settings

RULES = Path("/work/shared/datasets/prometheus-alert-rules/rules.yml")


def line(source: str, at: float, payload: Any, truth: str | None = None) -> str:
    stamp = datetime.fromtimestamp(T0 + at, UTC).isoformat().replace("+00:00", "Z")
    record: dict[str, Any] = {"source": source, "received_at": stamp, "payload": payload}
    if truth is not None:
        record["truth"] = truth
    return json.dumps(record)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_replay_reports_compression_grouping_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        line("alertmanager", 60, fixture("alertmanager", "firing"), "db-outage"),
        line("alertmanager", 70, fixture("alertmanager", "database"), "db-outage"),
        line("alertmanager", 90, fixture("alertmanager", "firing"), "db-outage"),
        line("datadog", 95, fixture("datadog", "triggered"), "db-outage"),
        line("generic", 100, {"title": "disk almost full", "service": "search", "dedup_key": "disk"}, "disk"),
        "this is not json",
        line("pagerduty", 110, {"routing_key": "r", "event_action": "resolve"}, "db-outage"),
        line("alertmanager", 900, fixture("alertmanager", "resolved"), "db-outage"),
        line("pagerduty", 910, fixture("pagerduty", "resolve")),
    ]
    results = replay_file(write(tmp_path / "storm.jsonl", lines), settings(), Topology(SHOP, 2))
    assert results["alerts_in"] == 2 + 1 + 2 + 1 + 1 + 2 + 1
    assert results["incidents_out"] == 2
    assert results["compression"] == round(1 - 2 / 10, 4)
    assert results["lost"] == 0
    assert results["purity"] == 1.0 and results["completeness"] == 1.0
    assert results["ignored_by_reason"] == {"resolved without a known firing alert": 1}
    assert results["rejected_payloads"] == 2
    assert [r["where"] for r in results["rejected"]] == ["line 6", "line 7"]
    assert results["rejected"][1]["error"].startswith("dedup_key: required for resolve")
    assert results["resolved_incidents"] == 0  # the datadog alert on checkout is still firing


def test_purity_and_completeness_measure_wrong_grouping(tmp_path: Path) -> None:
    # The truth says the checkout alerts and the database alert are two problems; topology groups them.
    lines = [
        line("alertmanager", 60, fixture("alertmanager", "firing"), "checkout-bug"),
        line("alertmanager", 61, fixture("alertmanager", "database"), "db-disk"),
        # and it says one problem, but two environments cannot be grouped
        line("generic", 62, {"title": "t", "service": "api", "dedup_key": "a", "environment": "production"}, "split"),
        line("generic", 63, {"title": "t", "service": "api", "dedup_key": "b", "environment": "staging"}, "split"),
    ]
    results = replay_file(write(tmp_path / "truth.jsonl", lines), settings(), Topology(SHOP, 2))
    assert results["incidents_out"] == 3
    assert results["purity"] == round(4 / 5, 4)  # one of five alerts sits with another truth's majority
    assert results["completeness"] == round(4 / 5, 4)  # one of five is away from its truth's main incident


def test_replay_line_errors_name_the_field(tmp_path: Path) -> None:
    lines = [
        json.dumps({"source": "alertmanager", "payload": {}}),
        json.dumps({"source": "alertmanager", "received_at": "2026-11-20T10:00:00", "payload": {}}),
        json.dumps({"source": "nagios", "received_at": "2026-11-20T10:00:00Z", "payload": {}}),
        json.dumps({"received_at": "2026-11-20T10:00:00Z", "payload": {}}),
        json.dumps([1, 2]),
    ]
    results = replay_file(write(tmp_path / "bad.jsonl", lines), settings(), Topology.empty())
    errors = [r["error"].split(":")[0] for r in results["rejected"]]
    assert errors == ["received_at", "received_at", "source", "source", "line"]
    assert results["alerts_in"] == 0 and results["lost"] == 0


def test_storm_is_deterministic_and_exactly_sized() -> None:
    first = [entry.jsonl() for entry in StormBuilder(3000, seed=11).lines()]
    second = [entry.jsonl() for entry in StormBuilder(3000, seed=11).lines()]
    other = [entry.jsonl() for entry in StormBuilder(3000, seed=12).lines()]
    assert first == second and first != other
    alerts = 0
    for text in first:
        record = json.loads(text)
        payload = record["payload"]
        alerts += len(payload["alerts"]) if record["source"] in ("alertmanager", "grafana") else 1
    assert alerts == 3000
    sources = {scenario.source for scenario in StormBuilder(100_000).scenarios}  # planning only: cheap
    assert sources == {"alertmanager", "grafana", "pagerduty", "datadog", "generic", "cloudwatch", "opsgenie"}


@pytest.mark.slow
def test_small_bench_meets_the_quality_targets_and_replays_identically(tmp_path: Path) -> None:
    storm = tmp_path / "storm.jsonl"
    results = run_bench(8000, seed=5, storm_file=storm)
    assert results["alerts_in"] == 8000
    assert results["lost"] == 0
    assert results["compression"] >= 0.95
    assert results["purity"] >= 0.95 and results["completeness"] >= 0.9
    assert results["suppressed_by_reason"].keys() >= {"rule watchdog: heartbeat, not a problem"}
    assert results["flapping_alerts"] > 0 and results["resolved_incidents"] > 0
    assert results["alerts_per_second"] > 0 and results["peak_memory_mb"] > 0

    # The same storm through `intake replay` (same settings and topology) decides exactly the same.
    builder = StormBuilder(8000, seed=5)
    from evals.benchmarks.intake.bench import bench_settings
    from intake.settings import IntakeSettings

    replayed = replay_file(storm, bench_settings(IntakeSettings(), builder), Topology(builder.dependencies, 2))
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


def test_rule_names_come_from_the_dataset_when_present() -> None:
    if not RULES.is_file():
        pytest.skip(f"alert rule collection not present at {RULES}")
    pools, origin = load_rules(RULES)
    assert sum(len(rules) for rules in pools.values()) > 500
    assert any(rule.name == "PostgresqlTooManyConnections" for rule in pools["database"])
    assert str(RULES) in origin


def test_rule_names_fall_back_to_built_ins(tmp_path: Path) -> None:
    pools, origin = load_rules(tmp_path / "missing.yml")
    assert origin == "built-in rule names" and pools["database"]
