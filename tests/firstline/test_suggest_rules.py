"""`firstline suggest-rules` over a generated storm: flapping is suggested, real incidents never lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agents.runner import IncidentIndex
from evals.benchmarks.intake.bench import run_bench
from firstline.cli import main
from firstline.config import load_config
from intake.pipeline import IntakePipeline
from intake.settings import IntakeSettings


@pytest.fixture(scope="module")
def storm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("storm")
    run_bench(5000, seed=7, storm_file=directory / "storm.jsonl")
    return directory


def _truths(storm: Path, alertname: str, service: str) -> set[str]:
    """The ground truth of every alert the rule matches (the storm labels each line)."""
    pipeline = IntakePipeline(IntakeSettings())
    found = set()
    for raw in (storm / "storm.jsonl").read_text().splitlines():
        line = json.loads(raw)
        from intake.events import parse_time

        received = parse_time(line["received_at"], "received_at")
        assert received is not None
        events = pipeline.normalize(line["source"], line["payload"], received.timestamp()).events
        if any(e.name == alertname and e.service == service for e in events):
            found.add(str(line.get("truth")))
    return found


def _suggest(storm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    out = tmp_path / "suggestions.json"
    config = storm / "storm-config.yaml"
    assert main(["--config", str(config), "suggest-rules", str(storm / "storm.jsonl"), "--json", str(out)]) == 0
    capsys.readouterr()
    data: dict[str, object] = json.loads(out.read_text())
    return data


def test_flapping_is_suggested_with_evidence_and_a_replay(
    storm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _suggest(storm, tmp_path, capsys)
    suggestions = data["suggestions"]
    assert isinstance(suggestions, list) and suggestions
    for s in suggestions:
        truths = _truths(storm, s["alertname"], s["service"])
        assert truths and all(t.startswith("flapping") for t in truths), truths
        assert s["evidence"]["firings"] >= 10 and s["evidence"]["firings"] >= 3 * s["evidence"]["instances"]
        assert s["after"]["suppressed"] > s["before"]["suppressed"]
        assert s["after"]["incidents"] <= s["before"]["incidents"]
        assert s["after"]["actionable_incidents"] == s["before"]["actionable_incidents"]
        # The snippet is a real config: the loader takes it as it is.
        snippet = tmp_path / "snippet.yaml"
        snippet.write_text(s["snippet"])
        [rule] = load_config(snippet, check_tools=False).intake.suppress
        assert rule.match == {"alertname": s["alertname"], "service": s["service"]}


def test_an_alert_that_led_to_an_action_is_never_suggested(
    storm: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _suggest(storm, tmp_path, capsys)["suggestions"]
    assert isinstance(first, list) and first
    target = first[0]
    # The config's incidents index gets a record: that alert led to an executed rollback.
    config = tmp_path / "config.yaml"
    text = (storm / "storm-config.yaml").read_text()
    config.write_text(text + f"\nstorage: {{incidents: {tmp_path / 'incidents.sqlite'}}}\n")
    catalog = storm / "storm-catalog.yaml"
    if catalog.exists():
        (tmp_path / "storm-catalog.yaml").write_text(catalog.read_text())
    index = IncidentIndex(tmp_path / "incidents.sqlite")
    index.save(
        {
            "id": "inc-1",
            "status": "resolved",
            "severity": "SEV2",
            "service": target["service"],
            "summary": "",
            "alert": {"name": target["alertname"], "service": target["service"]},
            "actions": [{"id": "a", "kind": "remediation", "status": "verified", "tool": "k8s.rollout_undo"}],
        },
        "2026-01-01T00:00:00+00:00",
    )
    index.close()
    out = tmp_path / "again.json"
    assert main(["--config", str(config), "suggest-rules", str(storm / "storm.jsonl"), "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["before"]["actionable_incidents"] >= 1
    keys = {(s["alertname"], s["service"]) for s in again["suggestions"]}
    assert (target["alertname"], target["service"]) not in keys
    assert len(keys) == len(first) - 1


def test_a_missing_history_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "none.yaml"), "suggest-rules", str(tmp_path / "nope.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
