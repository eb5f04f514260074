"""The PetShop benchmark: importer, runner and scoring on a small synthetic dataset in the PetShop layout,
plus checks on the real train split when it is available (``FIRSTLINE_DATASETS``, default
``../shared/datasets`` next to the repository)."""

from __future__ import annotations

import csv
import json
import math
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from evals.benchmarks import petshop
from evals.benchmarks.petshop import (
    DatasetError,
    MetricTable,
    Target,
    baseline_rank,
    inject_fault,
    load_dataset,
    majority_floor,
    normal_windows,
    rank_of,
    run_benchmark,
    summarize_ranks,
)

STATS = ("Average", "p50", "p90", "p95", "p99")
# front calls a and b, a calls c; d calls c but front does not depend on d.
GRAPH = {"front": ["a", "b"], "a": ["c"], "b": [], "c": [], "d": ["c"]}
OWN = {"front": 0.05, "a": 0.01, "b": 0.02, "c": 0.004, "d": 0.1}
ENTRY = {"front": 500.0, "d": 30.0}
T0 = 1_700_000_000


# --------------------------------------------------------------------------------------------------
# A synthetic dataset in the PetShop layout


def _simulate(
    steps: int, rng: random.Random, root: str | None = None, fault: str = "latency"
) -> dict[str, dict[str, list[float]]]:
    """Per component and "metric.stat": values over ``steps``; a fault at ``root`` from step 2 on."""
    order = ["c", "a", "b", "front", "d"]  # callees first
    series: dict[str, dict[str, list[float]]] = {c: {} for c in GRAPH}
    for step in range(steps):
        requests = {"front": ENTRY["front"] * (1 + 0.05 * rng.gauss(0, 1)), "d": ENTRY["d"]}
        requests["a"] = requests["front"]
        requests["b"] = requests["front"] * 0.5
        requests["c"] = requests["a"] + requests["d"]
        latency: dict[str, float] = {}
        errors: dict[str, float] = {}
        for node in order:
            faulty = root == node and step >= 2
            own = OWN[node] + (0.03 if faulty and fault == "latency" else 0.0)
            latency[node] = own + sum(latency[c] for c in GRAPH[node])
            errors[node] = min(
                (0.04 if faulty and fault == "availability" else 0.0) + sum(errors[c] for c in GRAPH[node]),
                1.0,
            )
        for node in GRAPH:
            n = max(round(requests[node]), 1)
            mean = latency[node] * math.exp(rng.gauss(0, 1) / math.sqrt(n))
            for stat, factor in zip(STATS, (1.0, 0.8, 1.8, 2.2, 3.0), strict=True):
                series[node].setdefault(f"latency.{stat}", []).append(mean * factor * math.exp(rng.gauss(0, 0.02)))
            failed = round(n * errors[node] + rng.gauss(0, 1) * math.sqrt(n * errors[node] * (1 - errors[node])))
            series[node].setdefault("requests.Sum", []).append(float(n))
            series[node].setdefault("availability.Average", []).append(100.0 * (1 - min(max(failed, 0), n) / n))
    return series


def _write_metrics(path: Path, series: dict[str, dict[str, list[float]]], start: int, *, blank: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = [(c, m) for c in sorted(series) for m in sorted(series[c])]
    steps = len(next(iter(series.values()))["requests.Sum"])
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["microservice", *[c for c, _ in columns]])
        writer.writerow(["metric", *[m.split(".")[0] for _, m in columns]])
        writer.writerow(["statistic", *[m.split(".")[1] for _, m in columns]])
        writer.writerow(["unix_timestamp", *[""] * len(columns)])
        for i in range(steps):
            cells = [f"{series[c][m][i]:.6g}" for c, m in columns]
            if blank and i == 0:
                cells[0] = ""
            writer.writerow([f"{start + 300 * i:.1f}", *cells])


def _write_graph(path: Path) -> None:
    names = sorted(GRAPH)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", *names])
        for caller in names:
            writer.writerow([caller, *["1.0" if callee in GRAPH[caller] else "0.0" for callee in names]])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("petshop")
    rng = random.Random(11)
    scenario = root / "low_traffic"
    scenario.mkdir()
    _write_graph(scenario / "graph.csv")
    _write_metrics(scenario / "noissue" / "metrics.csv", _simulate(200, rng), T0 + 10_000_000)
    plan = [("a", "latency"), ("c", "latency"), ("b", "availability"), ("a", "availability")]
    for i, (root_cause, fault) in enumerate(plan):
        start = T0 + 50_000 * i
        issue = scenario / "train" / f"issue_{i}"
        _write_metrics(issue / "metrics.csv", _simulate(5, rng, root_cause, fault), start, blank=i == 0)
        target = {
            "target": {"node": "front", "metric": fault, "agg": "Average", "timestamp": start + 300 + 200},
            "root_cause": {"node": root_cause, "metric": None},
        }
        (issue / "target.json").write_text(json.dumps(target))
    return root


# --------------------------------------------------------------------------------------------------
# Loading


def test_load_dataset_reads_the_petshop_layout(dataset: Path) -> None:
    [scenario] = load_dataset(dataset)

    assert scenario.name == "low_traffic"
    assert scenario.graph["front"] == ("a", "b")  # row = caller, column = callee
    assert scenario.graph["c"] == ()
    assert scenario.normal is not None and len(scenario.normal) == 200
    assert [(i.split, i.name, i.root_cause) for i in scenario.issues] == [
        ("train", "issue_0", "a"),
        ("train", "issue_1", "c"),
        ("train", "issue_2", "b"),
        ("train", "issue_3", "a"),
    ]
    first = scenario.issues[0]
    assert first.target == Target("front", "latency", "Average", float(T0 + 500))
    assert first.target.metric_name == "latency.Average"
    assert set(first.metrics.series["a"]) == {
        "latency.Average",
        "latency.p50",
        "latency.p90",
        "latency.p95",
        "latency.p99",
        "requests.Sum",
        "availability.Average",
    }
    assert math.isnan(first.metrics.series["a"]["availability.Average"][0])  # an empty cell is missing data
    assert first.metrics.times[1].timestamp() == T0 + 300


def test_load_dataset_explains_what_is_wrong(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        load_dataset(tmp_path / "absent")
    with pytest.raises(DatasetError, match="no scenario directory"):
        load_dataset(tmp_path)
    scenario = tmp_path / "low_traffic"
    scenario.mkdir()
    _write_graph(scenario / "graph.csv")
    issue = scenario / "train" / "issue_0"
    issue.mkdir(parents=True)
    (issue / "target.json").write_text('{"target": {"node": "front"}}')
    (issue / "metrics.csv").write_text("microservice,a\nmetric,latency\nstatistic,Average\n1.0,0.1\n")
    with pytest.raises(DatasetError, match=r"issue_0/target.json: expected target.node/metric/agg/timestamp"):
        load_dataset(tmp_path)
    (issue / "target.json").write_text(
        '{"target": {"node": "a", "metric": "latency", "agg": "Average", "timestamp": 1}}'
    )
    (issue / "metrics.csv").write_text("service,a\nmetric,latency\nstatistic,Average\n1.0,0.1\n")
    with pytest.raises(DatasetError, match=r"issue_0/metrics.csv: expected header rows"):
        load_dataset(tmp_path)


# --------------------------------------------------------------------------------------------------
# Scoring helpers


def test_rank_and_summaries() -> None:
    assert rank_of(["x", "y", "z"], "y") == 2
    assert rank_of(["x"], "y") is None
    assert rank_of(["x"], None) is None
    summary = summarize_ranks([1, 2, None, 4])
    assert summary["ac1"] == 0.25
    assert summary["ac3"] == 0.5
    assert summary["avg5"] == pytest.approx((0.25 + 0.5 + 0.5 + 0.75 + 0.75) / 5)
    floor = majority_floor(["a", "a", "b", "c", "d"])
    assert floor == {"label": "a", "ac1": 0.4, "ac3": 0.8}


def test_normal_windows_tile_the_normal_data_once_per_alerting_sli(dataset: Path) -> None:
    [scenario] = load_dataset(dataset)

    windows = normal_windows(scenario, 5, 200.0)

    assert len(windows) == 40 * 2  # 200 steps / 5, for latency and availability alerts
    assert {w.target.metric_name for w in windows} == {"latency.Average", "availability.Average"}
    first = windows[0]
    assert first.stop - first.start == 5
    assert scenario.normal is not None
    assert first.target.timestamp == scenario.normal.times[1].timestamp() + 200.0


# --------------------------------------------------------------------------------------------------
# Baseline and injections


def test_baseline_ranks_anomalous_nodes_without_anomalous_callees(dataset: Path) -> None:
    [scenario] = load_dataset(dataset)
    assert scenario.normal is not None
    issue = scenario.issues[1]  # c slowed down; a and front carry it

    ranked = baseline_rank(issue.metrics, scenario.graph, issue.target, scenario.normal)

    assert ranked[0] == "c"
    quiet = scenario.normal.rows(0, 5)
    assert baseline_rank(quiet, scenario.graph, issue.target, scenario.normal) == []


def test_inject_fault_propagates_to_the_target_along_the_call_path(dataset: Path) -> None:
    [scenario] = load_dataset(dataset)
    assert scenario.normal is not None
    table = scenario.normal.rows(10, 15)
    rng = random.Random(3)

    for _ in range(20):
        injected = inject_fault(table, scenario.graph, "front", "latency", rng, exclude=["b"])
        assert injected is not None
        modified, injection = injected
        assert injection.root != "b" and injection.root != "d"  # excluded; outside front's closure
        assert injection.path[0] == "front" and injection.path[-1] == injection.root
        before = table.series["front"]["latency.Average"]
        after = modified.series["front"]["latency.Average"]
        assert np.allclose(after[:2], before[:2])  # the fault starts at the third step
        growth = (after[2] - before[2]) / float(np.median(before[:2]))
        assert 0.1 < growth < 0.7
    # The original table is untouched.
    assert table.series["front"]["latency.Average"][2] == scenario.normal.series["front"]["latency.Average"][12]


def test_inject_availability_fault_removes_points_at_the_target(dataset: Path) -> None:
    [scenario] = load_dataset(dataset)
    assert scenario.normal is not None
    table = scenario.normal.rows(20, 25)

    injected = inject_fault(table, scenario.graph, "front", "availability", random.Random(5))

    assert injected is not None
    modified, injection = injected
    drop = table.series["front"]["availability.Average"][2] - modified.series["front"]["availability.Average"][2]
    assert 2.0 <= drop <= 8.0 + 1e-9
    assert injection.fault == "availability"
    assert (modified.series[injection.root]["availability.Average"] >= 0).all()


# --------------------------------------------------------------------------------------------------
# The runner


def test_run_benchmark_writes_results_json(dataset: Path, tmp_path: Path) -> None:
    stages: list[str] = []

    results = run_benchmark(
        dataset, tmp_path / "out", lambda stage, done, total: stages.append(stage), injection_trials=10
    )

    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["ac1"] == results["ac1"]
    for key in (
        "ac1",
        "ac3",
        "avg5",
        "specificity",
        "majority_floor",
        "per_scenario",
        "issues",
        "normal_windows",
    ):
        assert key in written, key
    assert results["ac1"] >= 0.75
    assert results["ac3"] == 1.0
    assert results["specificity"] >= 0.9
    assert results["majority_floor"] == 0.5  # "a" is the root cause of two issues out of four
    assert len(results["issues"]) == 4
    row = results["issues"][0]
    assert row["root_cause"] == "a" and row["top"][0]["why"]
    assert results["per_scenario"]["low_traffic"]["normal_windows"] == 80
    assert "non-overlapping windows of 5 steps" in results["normal_windows"]["how"]
    published = results["specificity_published_protocol"]["per_scenario"]["low_traffic"]
    assert published["windows"] == 2 * len(range(100, 197, 20))  # two SLIs, splits every tenth from half
    assert published["specificity"] >= 0.9
    synthetic = results["synthetic_injection"]["per_scenario"]["low_traffic"]
    assert {"normal", "issue"} <= set(synthetic)
    assert {"issues", "normal windows", "synthetic injections"} <= set(stages)


def test_command_line_entry_point(dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert petshop.main([str(dataset), "--out", str(tmp_path), "--inject", "0"]) == 0
    out = capsys.readouterr().out
    assert "low_traffic" in out and "overall" in out
    assert (tmp_path / "results.json").exists()

    assert petshop.main([str(tmp_path / "absent")]) == 2
    assert "not a directory" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------
# The real train split (skipped when the dataset is not there)


def _real_dataset() -> Path:
    root = Path(
        os.environ.get("FIRSTLINE_DATASETS", Path(__file__).resolve().parents[3] / ".." / "shared" / "datasets")
    )
    return root / "petshop"


real = pytest.mark.skipif(
    not (_real_dataset() / "low_traffic" / "graph.csv").exists(), reason="PetShop dataset not available"
)


@pytest.fixture(scope="module")
def scenarios() -> list[petshop.Scenario]:
    return load_dataset(_real_dataset())


@real
def test_real_train_issues_rank_the_labelled_root_cause_first(scenarios: list[petshop.Scenario]) -> None:
    settings = petshop.MethodSettings()
    ranks = []
    for scenario in scenarios:
        noise = petshop.normal_noise(scenario.normal)
        for issue in scenario.issues:
            ranks.append(petshop.evaluate_issue(scenario, issue, noise, settings)["rank"])

    summary = summarize_ranks(ranks)
    # Every train issue has the same root cause, so this is a regression check, not a proof.
    assert summary["ac1"] >= 0.8
    assert summary["ac3"] >= 0.95


@real
def test_real_ranking_is_invariant_to_component_names(scenarios: list[petshop.Scenario]) -> None:
    scenario = scenarios[0]
    assert scenario.normal is not None
    rng = random.Random(1)
    names = sorted(scenario.graph)
    aliases = dict(zip(names, [f"node{n:03d}" for n in rng.sample(range(len(names)), len(names))], strict=True))

    def rename(table: MetricTable) -> MetricTable:
        return MetricTable(table.times, {aliases.get(c, c): v for c, v in table.series.items()})

    graph = {aliases[k]: [aliases[c] for c in v] for k, v in scenario.graph.items()}
    noise = petshop.normal_noise(rename(scenario.normal))
    original_noise = petshop.normal_noise(scenario.normal)
    for issue in scenario.issues[:4]:
        target = issue.target
        renamed_target = Target(aliases[target.node], target.metric, target.agg, target.timestamp)
        original: Any = petshop.analyze(issue.metrics, scenario.graph, target, original_noise, petshop.MethodSettings())
        renamed: Any = petshop.analyze(rename(issue.metrics), graph, renamed_target, noise, petshop.MethodSettings())
        # Same order up to exact ties (which are broken by name, for determinism only).
        assert _tie_groups(original.ranking.candidates, aliases) == _tie_groups(renamed.ranking.candidates, None)
        assert original.ranking.abstained == renamed.ranking.abstained


def _tie_groups(candidates: Any, aliases: dict[str, str] | None) -> list[tuple[float, frozenset[str]]]:
    groups: dict[float, set[str]] = {}
    for candidate in candidates:
        name = aliases[candidate.component] if aliases else candidate.component
        groups.setdefault(round(candidate.score, 9), set()).add(name)
    return [(score, frozenset(names)) for score, names in groups.items()]
