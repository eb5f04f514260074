"""The Nezha benchmark: SLI alert synthesis, tie-aware scoring, the layout reader; the real data when present."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from evals.benchmarks.nezha.alert import FOR_S, synthesize
from evals.benchmarks.nezha.dataset import load_day, load_faults, metric_name, recording, service_of
from evals.benchmarks.nezha.run import (
    LABEL_CLASS,
    PREDICTED_CLASS,
    _class_scores,
    edge_latencies,
    position,
    run_benchmark,
    service_signals,
)
from evals.replay.recording import SeriesData

DATA = Path(__file__).resolve().parents[4] / "shared" / "datasets" / "nezha-ob"
START = datetime(2022, 8, 22, 5, 0, tzinfo=UTC)


def sli(values: list[float], name: str = "sli_latency_p50_seconds") -> SeriesData:
    times = [(START + timedelta(minutes=i)).timestamp() + 19 for i in range(len(values))]
    return SeriesData(labels=(("__name__", name),), times=times, values=values)


def test_alert_fires_one_minute_after_the_first_minute_outside_the_band() -> None:
    quiet = [0.15 + 0.01 * (i % 3) for i in range(70)]
    latency = sli([*quiet, 0.16, 0.9, 1.1, 0.2])
    window = START + timedelta(minutes=70)
    alert = synthesize({"sli_latency_p50_seconds": latency}, window, window + timedelta(minutes=3))
    assert alert.crossed_at == datetime.fromtimestamp(latency.times[71], tz=UTC)
    assert alert.fires_at == alert.crossed_at + timedelta(seconds=FOR_S)
    assert alert.metric == "sli_latency_p50_seconds"


def test_a_success_rate_drop_alerts_and_a_quiet_sli_does_not() -> None:
    window = START + timedelta(minutes=70)
    success = sli([100.0] * 72 + [95.0, 100.0], "sli_success_rate_percent")
    flat = sli([0.15] * 74)
    dropped = synthesize(
        {"sli_success_rate_percent": success, "sli_latency_p50_seconds": flat}, window, window + timedelta(minutes=3)
    )
    assert dropped.metric == "sli_success_rate_percent" and dropped.value == 95.0
    quiet = synthesize({"sli_latency_p50_seconds": flat}, window, window + timedelta(minutes=3))
    assert quiet.crossed_at is None and quiet.fires_at > window


def test_position_counts_ties_against_the_method() -> None:
    ranking = [("a", 3.0), ("b", 2.0), ("c", 2.0), ("d", 0.0)]
    assert position(ranking, "a") == 1
    assert position(ranking, "b") == 3 and position(ranking, "c") == 3
    assert position(ranking, "d") == 4 and position(ranking, "zz") == 5


def test_names_pods_and_columns() -> None:
    assert service_of("cartservice-579f59597d-wc2lz") == "cartservice"
    assert service_of("solo") == "solo"
    assert metric_name("PodServerLatencyP90(s)") == "pod_server_latency_p90_seconds"
    assert metric_name("CpuUsageRate(%)") == "pod_cpu_usage_rate_percent"
    assert metric_name("NodeCpuUsageRate(%)") == "node_cpu_usage_rate_percent"


needs_data = pytest.mark.skipif(not (DATA / "faults.json").is_file(), reason="the Nezha dataset is not on this machine")


@needs_data
def test_a_fault_recording_holds_nothing_after_the_alert() -> None:
    faults = {f.id: f for f in load_faults(DATA)}
    fault = faults["ob-11"]
    day = load_day(DATA, fault.day)
    now = fault.window_start + timedelta(seconds=90)
    cut = recording(day, fault, now)
    assert day.entry in {s for edge in day.call_edges for s in edge}
    assert max(t for s in cut.series for t in s.times) <= now.timestamp()
    assert max(t for s in day.series for t in s.times) > now.timestamp() + 3600  # the day goes on
    assert cut.spans and max(s.end_unix_nano for s in cut.spans) <= now.timestamp() * 1e9


@needs_data
@pytest.mark.slow
def test_the_benchmark_writes_results_and_report_for_selected_faults(tmp_path: Path) -> None:
    results = run_benchmark(DATA, tmp_path, only={"ob-11", "ob-35"})
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["overall"]["faults"] == 2 == len(written["faults"])
    assert set(written["overall"]) == {"as1", "as3", "as5", "faults"}
    assert written["published"]["Nezha"]["as1"] == pytest.approx(0.9286)
    for row in results["faults"]:
        fires = datetime.fromisoformat(row["alert"]["fires_at"])
        fault = next(f for f in load_faults(DATA) if f.id == row["id"])
        assert fault.window_start < fires <= fault.window_end + timedelta(minutes=4)
        assert 1 <= row["rank"] <= 11 and row["series"] > 100
    assert "AS@1" in (tmp_path / "report.txt").read_text()
    assert {r["fault_class"]["label"] for r in written["faults"]} == {"saturation"}  # two CPU faults
    assert 0.0 <= written["fault_class"]["accuracy"] <= 1.0 and written["fault_class"]["majority_floor"] == 1.0


def test_fault_class_accuracy_counts_the_predicted_class_against_the_labels_class() -> None:
    def row(fault_type: str, signals: str, rank: int) -> dict[str, object]:
        return {
            "fault_type": fault_type,
            "rank": rank,
            "fault_class": {"predicted": PREDICTED_CLASS[signals], "label": LABEL_CLASS[fault_type]},
        }

    rows = [
        row("network_delay", "network", 1),
        row("cpu_consumed", "saturation", 2),
        row("return", "latency", 1),  # a slowdown without saturation: a code defect
        row("exception", "saturation", 1),
    ]
    by_type = {name: [r for r in rows if r["fault_type"] == name] for name in {str(r["fault_type"]) for r in rows}}
    scores = _class_scores(rows, by_type)
    assert scores["accuracy"] == 0.75 and scores["accuracy_with_service_at_1"] == 0.5
    assert scores["majority_floor"] == 0.5  # code_defect: 2 of 4
    assert scores["per_fault_type"] == {"cpu_consumed": 1.0, "exception": 0.0, "network_delay": 1.0, "return": 1.0}


def test_the_callers_end_of_an_edge_is_its_source_side_and_the_entry_serves_its_sli() -> None:
    nan = float("nan")
    ends = {
        ("front", "cart"): {"source": [1.0, 2.0], "destination": [0.5, 0.6]},
        ("front", "ad"): {"source": [3.0, 3.0]},
    }
    edges = {(e.caller, e.callee): e for e in edge_latencies(ends, 2)}
    assert edges[("front", "cart")].caller_side == [1.0, 2.0] and edges[("front", "cart")].callee_side == [0.5, 0.6]
    assert all(math.isnan(v) for v in edges[("front", "ad")].callee_side)
    metrics = {
        "front": {
            "sli_latency_p50_seconds": [1.0],
            "sli_success_rate_percent": [99.0],
            "pod_server_latency_p90_seconds": [nan],
            "node_cpu_usage_rate_percent": [1.0],
            "pod_cpu_usage_rate_percent": [1.0],
        },
        "cart": {"sli_latency_p50_seconds": [1.0], "pod_memory_usage_mebibytes": [5.0]},
    }
    signals = service_signals(metrics, "front")
    assert set(signals["front"].latency) == {"sli_latency_p50_seconds", "pod_server_latency_p90_seconds"}
    assert set(signals["front"].saturation) == {"pod_cpu_usage_rate_percent"}  # its node's CPU is not its own
    assert set(signals["front"].availability) == {"sli_success_rate_percent"}
    assert signals["cart"].latency == {} and set(signals["cart"].saturation) == {"pod_memory_usage_mebibytes"}
    replicas = {
        "requests": {"pod_server_latency_p90_seconds{pod=requests-1}": [1.0], "pod_cpu_usage{pod=requests-2}": [1.0]}
    }
    kept = service_signals(replicas, "front")["requests"]  # "request" names traffic: the pod's name is not read
    assert list(kept.latency) == ["pod_server_latency_p90_seconds{pod=requests-1}"]
    assert list(kept.saturation) == ["pod_cpu_usage{pod=requests-2}"]


@needs_data
def test_edge_latency_is_read_per_call_edge_of_the_graph() -> None:
    day = load_day(DATA, "2022-08-22")
    edges = {
        (dict(s.labels)["client"], dict(s.labels)["server"], dict(s.labels)["side"])
        for s in day.series
        if dict(s.labels)["__name__"] == "edge_latency_seconds"
    }
    assert {(c, t) for c, t, _ in edges} == set(day.call_edges)
    assert {side for _, _, side in edges} == {"source", "destination"}


def test_an_injection_shifts_only_the_chosen_service_its_incoming_edges_and_the_sli() -> None:
    from evals.benchmarks.nezha.dataset import Day
    from evals.benchmarks.nezha.injection import FACTOR, inject

    def series(name: str, **labels: str) -> SeriesData:
        times = [START.timestamp() + 60 * i for i in range(10)]
        return SeriesData(tuple(sorted({"__name__": name, **labels}.items())), times, [1.0] * 10)

    day = Day(
        "d",
        [
            series("pod_cpu_usage_rate_percent", service="a"),
            series("pod_cpu_usage_rate_percent", service="b"),
            series("edge_latency_seconds", client="a", server="b", side="source"),
            series("sli_latency_p50_seconds", service="a"),
        ],
        [("a", "b")],
        "a",
    )
    at = START.timestamp() + 60 * 4
    shifted = inject(day, "b", at)
    moved = [[v for v in s.values if v != 1.0] for s in shifted.series]
    assert moved[0] == [] and all(m == [FACTOR] * 4 for m in moved[1:])  # 4 rows in [at, at + 180 s]
    assert all(v == 1.0 for s in day.series for v in s.values)  # the original day is untouched


def test_a_network_injection_shifts_only_the_callers_end_of_the_edges_into_the_service() -> None:
    from evals.benchmarks.nezha.dataset import Day
    from evals.benchmarks.nezha.injection import FACTOR, inject

    def series(name: str, **labels: str) -> SeriesData:
        times = [START.timestamp() + 60 * i for i in range(10)]
        return SeriesData(tuple(sorted({"__name__": name, **labels}.items())), times, [1.0] * 10)

    day = Day(
        "d",
        [
            series("pod_cpu_usage_rate_percent", service="b"),
            series("edge_latency_seconds", client="a", server="b", side="source"),
            series("edge_latency_seconds", client="a", server="b", side="destination"),
            series("sli_latency_p50_seconds", service="a"),
        ],
        [("a", "b")],
        "a",
    )
    shifted = inject(day, "b", START.timestamp() + 60 * 4, kind="network")
    moved = [[v for v in s.values if v != 1.0] for s in shifted.series]
    assert moved == [[], [FACTOR] * 4, [], [FACTOR] * 4]


def test_leave_one_day_out_chooses_on_the_other_day_and_scores_on_the_held_out_one() -> None:
    """Day d1's faults show two steps before the alert (a 3-step window sees them, a 1-step one
    does not); day d2's truth moves in the last step while a bigger, older move elsewhere misleads a
    3-step window. Each fold must pick what its training day needs, and pay for it on the other."""
    from agents.analytics.edges import ServiceSignals
    from evals.benchmarks.nezha.lodo import Case, leave_one_day_out

    def latency(*moves: tuple[int, float]) -> ServiceSignals:
        values = [0.01 * (1 + 0.01 * (i % 3)) for i in range(30)]
        for at, factor in moves:
            values[at] *= factor
        return ServiceSignals(latency={"p90": values})

    quiet = latency()
    d1 = Case("d1", "x", ("x", "y"), {"x": latency((-2, 4.0)), "y": quiet}, [])
    d2 = Case("d2", "x", ("x", "y"), {"x": latency((-1, 3.0)), "y": latency((-3, 9.0))}, [])
    found = leave_one_day_out([d1, d1, d2, d2], grid={"incident_steps": (1, 3)})
    assert found["configurations"] == 2  # the shipped default is the grid's incident_steps=3
    assert found["folds"]["d2"]["chosen"] == {"incident_steps": 3} and found["folds"]["d2"]["chosen_on"] == ["d1"]
    assert found["folds"]["d2"]["train"]["as1"] == 1.0 and found["folds"]["d2"]["held_out"]["as1"] == 0.0
    assert found["folds"]["d1"]["chosen"] == {"incident_steps": 1} and found["folds"]["d1"]["held_out"]["as1"] == 0.0


def test_an_errors_injection_logs_failures_on_the_way_up_from_the_service_only_after_it() -> None:
    from evals.benchmarks.nezha.dataset import Day
    from evals.benchmarks.nezha.injection import SUCCESS_DROP, inject, injected_logs

    times = [START.timestamp() + 60 * i for i in range(20)]
    day = Day(
        "d",
        [
            SeriesData((("__name__", "sli_success_rate_percent"), ("service", "a")), times, [100.0] * 20),
            SeriesData((("__name__", "pod_cpu_usage_rate_percent"), ("service", "c")), times, [10.0] * 20),
        ],
        [("a", "b"), ("b", "c"), ("a", "d")],
        "a",
    )
    at = times[10]
    shifted = inject(day, "c", at, kind="errors")
    assert [v for v in shifted.series[0].values if v != 100.0] == [100.0 * SUCCESS_DROP] * 4
    assert shifted.series[1].values == [10.0] * 20  # no CPU or latency moves
    lines = injected_logs(day, "c", at, at + 600)
    failing = {dict(line.labels)["service"] for line in lines if '"severity":"error"' in line.line}
    assert failing == {"a", "b", "c"}  # the service and each caller up to the entry, not d
    assert all(line.unix_nano >= at * 1e9 for line in lines if '"severity":"error"' in line.line)
    assert {dict(line.labels)["service"] for line in lines if line.unix_nano < at * 1e9} == {"a", "b", "c", "d"}
