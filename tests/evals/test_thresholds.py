"""The deterministic reasoner on the whole scenario library must stay at or above the thresholds in
evals/thresholds.json (the CI gate of the eval harness). Takes a few minutes: it runs every scenario
through the real workflow against the simulator."""

import json
from pathlib import Path

import pytest

from firstline.cli import main


@pytest.mark.slow
def test_library_meets_the_deterministic_thresholds(tmp_path: Path) -> None:
    code = main(["eval", "run", "--out", str(tmp_path), "--check-thresholds", "--concurrency", "2"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["summary"]["errors"] == 0, [c["error"] for c in results["cases"] if c["error"]]
    assert code == 0, results["summary"]
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
