"""A PetShop-shaped window worked by the agents' investigation through the replay: synthetic
CloudWatch-like 5-minute windows (no dataset needed) where the fault starts at a known component,
and the dataset-gated run on the real train split."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from agents.analytics.metrics import NoiseModel
from evals.benchmarks.petshop.dataset import MetricTable, Target, load_dataset
from evals.benchmarks.petshop.investigated import alert_payload, catalog_for, series_query, work_window
from evals.benchmarks.petshop.method import MethodSettings, Ranked, rank
from evals.benchmarks.petshop.run import evaluate_issue, miss_stage
from intake.alertmanager import parse_alertmanager

START = datetime(2023, 4, 18, 22, 2, tzinfo=UTC)
STEPS = 5  # CloudWatch periods, as in a PetShop issue window
FAULT_FROM = 2  # the alert falls in the second period, the fault shows from the third
# The front end calls an API and a search service; the API calls a table.
GRAPH: dict[str, tuple[str, ...]] = {
    "web": ("api", "search"),
    "api": ("table::db",),
    "search": (),
    "table::db": (),
}
LATENCY_S = {"web": 0.10, "api": 0.05, "search": 0.04, "table::db": 0.01}


def _window(*, slow: str = "", seed: int = 3) -> MetricTable:
    """Every component's latency (Average, p99), availability and requests; ``slow`` serves 8x slower
    from `FAULT_FROM` on, and each caller on the way up waits for it (its latency grows by the delay)."""
    rng = np.random.default_rng(seed)
    callers = {callee: caller for caller, callees in GRAPH.items() for callee in callees}
    delay = np.zeros(STEPS)
    if slow:
        delay[FAULT_FROM:] = 7 * LATENCY_S[slow]
    waiting = set()
    at = slow
    while at:
        waiting.add(at)
        at = callers.get(at, "")
    series = {}
    for name, level in LATENCY_S.items():
        wobble = 1 + 0.02 * rng.standard_normal(STEPS)
        average = level * wobble + (delay if name in waiting else 0.0)
        series[name] = {
            "latency.Average": average,
            "latency.p99": 3 * average,
            "availability.Average": np.full(STEPS, 100.0),
            "requests.Sum": np.round(500 * wobble),
        }
    return MetricTable(tuple(START + timedelta(minutes=5 * k) for k in range(STEPS)), series)


def _alert() -> Target:
    return Target("web", "latency", "Average", (START + timedelta(minutes=5, seconds=150)).timestamp())


def _now(target: Target) -> datetime:
    return target.alert_time + MethodSettings().clock_after_alert


def test_a_slow_component_two_hops_down_is_named_not_the_callers_waiting_on_it() -> None:
    target = _alert()

    worked = work_window(_window(slow="table::db"), GRAPH, target, _now(target), incident_id="petshop-test")

    assert worked.named == "table::db", worked.diagnosis.root_cause
    assert worked.ranking[0] == "table::db"
    assert worked.onset is not None and worked.onset >= START + timedelta(minutes=5 * FAULT_FROM)
    assert sorted(worked.blast_radius) == sorted(GRAPH)
    assert worked.tool_calls > 0


def test_a_window_without_a_fault_names_nothing() -> None:
    target = _alert()

    worked = work_window(_window(), GRAPH, target, _now(target), incident_id="petshop-quiet")

    assert worked.named is None, worked.diagnosis.root_cause
    assert worked.diagnosis.inconclusive or worked.diagnosis.category in ("no_incident", "recovered")


def test_the_bench_method_investigation_ranks_through_the_same_path_and_says_where_it_missed() -> None:
    target = _alert()
    settings = MethodSettings(method="investigation")

    found = rank(_window(slow="search"), GRAPH, target, NoiseModel.empty(), settings)

    assert found.named == "search" and found.ranked[0] == "search"
    assert found.stage["blast_radius"] and found.stage["tool_calls"] > 0
    assert miss_stage(found, "search") is None
    assert miss_stage(found, "api") == "ranking"
    outside = Ranked(ranked=[], named=None, abstained=True, reason="", onset=None, top=[], stage={"blast_radius": []})
    assert miss_stage(outside, "api") == "candidates"
    quiet = Ranked(
        ranked=[],
        named=None,
        abstained=True,
        reason="",
        onset=None,
        top=[],
        stage={"blast_radius": ["api"], "onset": "2023-04-18T22:12:00+00:00", "category": "recovered"},
    )
    assert miss_stage(quiet, "api") == "quiet"


def test_the_catalog_reads_the_served_series_and_the_alerting_statistic() -> None:
    target = _alert()
    table = _window()
    del table.series["search"]["availability.Average"]

    catalog = catalog_for(GRAPH, table, target)

    assert sorted(catalog.services) == sorted(GRAPH)
    assert catalog.services["web"].dependencies == ["api", "search"]
    assert catalog.services["web"].sli.latency_p99 == series_query("web", "latency", "Average")
    assert catalog.services["api"].sli.latency_p99 == series_query("api", "latency", "p99")
    assert catalog.services["search"].sli.error_rate is None  # no availability series, no error SLI
    assert "/" not in (catalog.services["api"].sli.error_rate or "/")  # not read as a request-rate ratio
    assert series_query('a"b', "latency", "p99").count('\\"') == 1


def test_the_alert_carries_the_target_and_nothing_of_a_root_cause() -> None:
    target = _alert()

    incident = parse_alertmanager(alert_payload(target))[0]

    assert incident.service == "web"
    assert incident.started_at == target.alert_time
    assert "latency" in incident.name.lower()


# --------------------------------------------------------------------------------------------------
# The real train split (skipped when the dataset is not there)


def _real_dataset() -> Path:
    root = Path(
        os.environ.get("FIRSTLINE_DATASETS", Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets")
    )
    return root / "petshop"


@pytest.mark.skipif(
    not (_real_dataset() / "low_traffic" / "graph.csv").exists(), reason="PetShop dataset not available"
)
def test_real_train_issue_is_worked_by_the_investigation_and_scored() -> None:
    scenario = load_dataset(_real_dataset())[0]
    issue = scenario.issues[0]

    row = evaluate_issue(scenario, issue, NoiseModel.empty(), MethodSettings(method="investigation"))

    stage = row["investigation"]
    assert issue.target.node in stage["blast_radius"] and stage["tool_calls"] > 0
    assert stage["miss"] in (None, "candidates", "onset", "quiet", "ranking")
    assert (stage["miss"] is None) == (row["rank"] == 1 and row["named"] == issue.root_cause)
