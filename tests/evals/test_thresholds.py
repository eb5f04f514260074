"""The deterministic reasoner must stay at or above the thresholds in evals/thresholds.json (the CI gate
of the eval harness) on the scenarios those floors were measured on (``measured_on``): a scenario added to
the library since is run and reported by ``firstline eval run`` but joins the gate only when a new run is
accepted and the list and the floors are updated together. Takes a few minutes: it runs every scenario
through the real workflow against the simulator."""

import json
from pathlib import Path

import pytest

from firstline.cli import main


@pytest.mark.slow
def test_library_meets_the_deterministic_thresholds(tmp_path: Path) -> None:
    gate = json.loads((Path(__file__).resolve().parents[2] / "evals" / "thresholds.json").read_text())
    measured_on: list[str] = gate["measured_on"]
    chosen = [arg for name in measured_on for arg in ("--scenario", name)]
    code = main(["eval", "run", "--out", str(tmp_path), "--check-thresholds", "--concurrency", "2", *chosen])
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["summary"]["errors"] == 0, [c["error"] for c in results["cases"] if c["error"]]
    assert code == 0, results["summary"]
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    # Each part of the library is summarised apart; the dev part is every scenario not tagged holdout.
    from evals.sim.library import load_library

    library = {s.name: s for s in load_library()}
    assert set(measured_on) <= set(library), set(measured_on) - set(library)
    dev = [n for n in measured_on if "holdout" not in library[n].tags]
    assert results["summary"]["scenarios"] == len(measured_on)
    assert results["parts"]["dev"]["scenarios"] == len(dev)
    assert ("holdout" in results["parts"]) == (len(dev) < results["summary"]["scenarios"])
