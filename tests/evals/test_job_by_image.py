"""A Job started by hand under any name is still its service's: the investigation recognises it by the
image it runs, not only by a name derived from the workload's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.cluster import _image_name
from evals.harness.runner import run_case
from evals.sim.library import load_scenario
from firstline.commands.eval import runtime_factory
from firstline.config import load_config
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]
SCENARIO = "thumbnails-failing-saturday"  # dev part: a hand-started Job spends a shared quota


def test_an_image_references_name_is_its_repositorys_last_segment() -> None:
    assert _image_name("ghcr.io/acme/media-backfill:0.3.1") == "media-backfill"
    assert _image_name("registry.local:5000/team/retag@sha256:abc") == "retag"
    assert _image_name("postgres") == "postgres"


def _rename_jobs(document: dict[str, Any]) -> dict[str, Any]:
    """Every Job (and its runs, faults, action rules, answer key) under a name that shares nothing with
    its service's."""
    jobs = [w["name"] for w in document["kubernetes"]["workloads"] if w["kind"] == "Job"]
    assert jobs
    text = yaml.safe_dump(document)
    for i, old in enumerate(jobs):
        text = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", f"adhoc-retag-run{'-x' * i}", text)
    renamed: dict[str, Any] = yaml.safe_load(text)
    return renamed


@pytest.mark.slow
async def test_a_job_named_unlike_its_workload_is_found_by_its_image_and_stopped(tmp_path: Path) -> None:
    scenario = load_scenario(SCENARIO, transform=_rename_jobs)
    assert "adhoc-retag-run" in {w.name for w in scenario.kubernetes.workloads}  # type: ignore[union-attr]
    factory = runtime_factory(load_config(REPO / "config.yaml"))
    result = await run_case(scenario, factory, parse_alertmanager, tmp_path)
    assert result.error is None, result.error
    assert result.score is not None
    assert result.score.root_cause_grade == 100, result.score.problems
    assert result.score.remediation_correct, result.score.problems
