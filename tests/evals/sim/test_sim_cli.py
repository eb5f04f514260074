"""``python -m evals.sim``: check, alert."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.sim.__main__ import main

REPO = Path(__file__).resolve().parents[3]
SCENARIO = str(REPO / "evals" / "scenarios" / "checkout-migration.yaml")


def test_check_reports_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nname: broken\n", encoding="utf-8")
    assert main(["check", SCENARIO]) == 0
    assert main(["check", SCENARIO, str(broken)]) == 1
    captured = capsys.readouterr()
    assert "ok      " in captured.out and "description: Field required" in captured.err


def test_alert_prints_the_example_payload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alert", SCENARIO, "CheckoutHighErrorRate", "--anchor", "2026-11-20T19:42:00Z"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((REPO / "examples" / "alerts" / "checkout-5xx.json").read_text(encoding="utf-8"))


def test_alert_errors_are_reported(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alert", SCENARIO, "Nope"]) == 2
    assert "has no alert 'Nope'" in capsys.readouterr().err
