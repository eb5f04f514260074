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
    # Each part of the library is summarised apart; the dev part is every scenario not tagged holdout.
    from evals.sim.library import load_library

    dev = [s for s in load_library() if "holdout" not in s.tags]
    assert results["parts"]["dev"]["scenarios"] == len(dev)
    assert ("holdout" in results["parts"]) == (len(dev) < results["summary"]["scenarios"])
