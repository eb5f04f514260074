"""`firstline autonomy` and `firstline autonomy promote` over an incidents index written by the test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agents.runner import IncidentIndex
from firstline.cli import main
from tools.earned import read_earned_rules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _record(n: int, day: float, status: str = "verified", service: str = "checkout") -> dict[str, Any]:
    start = T0 + timedelta(days=day)
    return {
        "id": f"inc-{n}",
        "status": "resolved",
        "severity": "SEV2",
        "service": service,
        "summary": "",
        "alert": {"started_at": start.isoformat(), "service": service},
        "actions": [
            {
                "id": f"rollback-{n}",
                "tool": "k8s.rollout_undo",
                "kind": "remediation",
                "status": status,
                "requires_approval": True,
                "approval": {"decision": "approved", "by": "alice", "at": start.isoformat(), "edited_from": None},
            }
        ],
        "timeline": [],
    }


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    config = tmp_path / "config.yaml"
    config.write_text(
        "storage: {incidents: incidents.sqlite, ledger: ledger.sqlite, checkpoints: checkpoints.sqlite}\n"
        "policy:\n  autonomy: {min_verified_in_a_row: 3, min_days: 7}\n  earned_file: earned.yaml\n"
        "approvals: {database: approvals.sqlite, cli_identity: [by]}\n"
        "tools: {k8s: {kind: kubernetes, base_url: 'http://127.0.0.1:9'}}\n",
        encoding="utf-8",
    )
    index = IncidentIndex(tmp_path / "incidents.sqlite")
    for n, day in enumerate((0, 5, 10), start=1):
        index.save(_record(n, day), T0.isoformat())
    index.save(_record(7, 1, service="search"), T0.isoformat())
    index.close()
    return config


def test_autonomy_json_shows_the_track_record_and_the_recommendation(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(setup), "autonomy", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    tracks = {t["service"]: t for t in data["track_records"]}
    assert tracks["checkout"]["standing"] == "recommended"
    assert (tracks["checkout"]["verified"], tracks["checkout"]["run"], tracks["checkout"]["run_days"]) == (3, 3, 10.0)
    assert tracks["checkout"]["incidents"] == ["inc-1", "inc-2", "inc-3"]
    assert tracks["search"]["standing"] == "not_yet"
    assert data["thresholds"]["min_verified_in_a_row"] == 3


def test_the_table_prints_the_promote_command(setup: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(setup), "autonomy"]) == 0
    out = capsys.readouterr().out
    assert "firstline autonomy promote rollback --service checkout --env production --by YOU" in out
    assert "rollback on search (production): not yet: 1 of 3 verified successes in a row" in out


def test_promotion_is_refused_where_not_earned_and_recorded_where_it_is(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    earned = setup.parent / "earned.yaml"
    assert main(["--config", str(setup), "autonomy", "promote", "rollback", "--service", "search", "--by", "bob"]) == 2
    assert "has not earned auto: not_yet" in capsys.readouterr().err
    assert not earned.exists()
    assert main(["--config", str(setup), "autonomy", "promote", "rollback", "--service", "checkout"]) == 2
    assert "accepted by a named person" in capsys.readouterr().err
    assert (
        main(["--config", str(setup), "autonomy", "promote", "rollback", "--service", "checkout", "--by", "bob"]) == 0
    )
    [rule] = read_earned_rules(earned)
    assert (rule.service, rule.promoted_by, rule.evidence.incidents) == ("checkout", "bob", ["inc-1", "inc-2", "inc-3"])
    assert main(["--config", str(setup), "autonomy", "--json"]) == 0
    capsys.readouterr()


def test_a_failure_recorded_after_the_promotion_demotes_on_the_next_look(
    setup: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(["--config", str(setup), "autonomy", "promote", "rollback", "--service", "checkout", "--by", "bob"]) == 0
    )
    index = IncidentIndex(setup.parent / "incidents.sqlite")
    later = _record(4, 400, status="failed")  # after the promotion (now): the rollback failed
    later["alert"]["started_at"] = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    later["actions"][0]["approval"]["at"] = later["alert"]["started_at"]
    index.save(later, T0.isoformat())
    index.close()
    capsys.readouterr()
    assert main(["--config", str(setup), "autonomy", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    [demoted] = data["demoted_now"]
    assert demoted["service"] == "checkout" and "failed in inc-4" in demoted["demoted_reason"]
    [rule] = read_earned_rules(setup.parent / "earned.yaml")
    assert not rule.active
