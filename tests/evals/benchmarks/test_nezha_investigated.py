"""A Nezha-shaped recording worked by the agents' investigation through the replay: synthetic days
(no dataset needed) where the slowdown starts at a known service, by a known mechanism."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evals.benchmarks.nezha.alert import SUCCESS_METRIC, SyntheticAlert
from evals.benchmarks.nezha.dataset import Day, Fault
from evals.benchmarks.nezha.investigated import catalog_for, work_fault
from evals.benchmarks.nezha.run import named_first, position
from evals.replay.recording import SeriesData

START = datetime(2022, 8, 22, 4, 0, tzinfo=UTC)
STEPS = 70  # one a minute; the fault moves the last four
EDGES = [("front", "orders"), ("orders", "stock"), ("front", "ads")]


def _values(level: float, moved: float = 1.0, phase: int = 0) -> list[float]:
    base = [level * (1 + 0.03 * ((i + phase) % 4)) for i in range(STEPS)]
    return [v * (moved if i >= STEPS - 4 else 1.0) for i, v in enumerate(base)]


def _series(name: str, values: list[float], **labels: str) -> SeriesData:
    times = [(START + timedelta(minutes=i)).timestamp() + 19 for i in range(STEPS)]
    return SeriesData(tuple(sorted({"__name__": name, **labels}.items())), times, values)


def _day(*, slow: str = "", delayed: str = "", felt: bool = True, failing: bool = False) -> Day:
    """``slow``: that service serves 6x slower (both ends of every edge into it, its own latency, and
    its callers wait on it, unless not ``felt``); ``delayed``: the network into it adds 6x (only the
    callers' ends)."""
    waits = {"front": {"orders", "ads"}, "orders": {"stock"}, "stock": set(), "ads": set()}

    def factor(service: str) -> float:
        upstream_of = {s for s, callees in waits.items() if slow in callees or delayed in callees}
        if service == slow:
            return 6.0
        if felt and (service in upstream_of or (service == "front" and "orders" in upstream_of)):
            return 6.0
        return 1.0

    series = []
    for k, service in enumerate(sorted(waits)):
        labels = {"service": service, "pod": f"{service}-7f9c-x{k}"}
        series.append(_series("pod_server_latency_p99_seconds", _values(0.05, factor(service), k), **labels))
        series.append(_series("pod_cpu_usage_rate_percent", _values(20.0, phase=k), **labels))
    success = [100.0] * (STEPS - 4) + [90.0 if failing else 100.0] * 4
    series.append(_series("sli_success_rate_percent", success, service="front"))
    for caller, callee in EDGES:
        callee_end = 6.0 if callee == slow else 1.0
        caller_end = 6.0 if callee in (slow, delayed) else 1.0
        for side, moved in (("source", caller_end), ("destination", callee_end)):
            values = _values(0.04, moved, len(callee))
            series.append(_series("edge_latency_seconds", values, client=caller, server=callee, side=side))
    return Day("2022-08-22", series, EDGES, "front")


def _work(day: Day, tmp_path: Path, metric: str = "sli_latency_p50_seconds") -> tuple[str, str, list[str]]:
    import asyncio

    last = START + timedelta(minutes=STEPS - 1, seconds=19)
    alert = SyntheticAlert(
        crossed_at=last - timedelta(minutes=2),
        fires_at=last,
        metric=metric,
        value=1.0,
        band=(0.0, 0.5),
        reason="test",
    )
    fault = Fault("ob-test", day.name, last - timedelta(minutes=3), last, tmp_path)
    worked = asyncio.run(work_fault(day, fault, alert))
    return worked.diagnosis.entity, worked.diagnosis.category, worked.ranking


def test_a_slow_service_deep_in_the_graph_is_named_not_its_waiting_callers(tmp_path: Path) -> None:
    entity, category, ranking = _work(_day(slow="stock"), tmp_path)
    assert entity == "stock", ranking
    assert category != "network"
    assert position(named_first(ranking, ["ads", "front", "orders", "stock"]), "stock") == 1


def test_a_delay_on_the_network_into_a_service_is_named_network(tmp_path: Path) -> None:
    entity, category, _ = _work(_day(delayed="ads"), tmp_path)
    assert (entity, category) == ("ads", "network")


def test_a_service_serving_far_worse_now_is_an_incident_even_when_the_alerting_sli_is_back(tmp_path: Path) -> None:
    entity, category, _ = _work(_day(slow="stock", felt=False), tmp_path)
    assert category not in ("no_incident", "recovered") and entity == "stock"


def _write_logs(folder: Path, failing: dict[str, str]) -> None:
    """A Nezha ``logs.csv``: every service logs a request every 10 s for ten minutes; from three minutes
    before the end, each service in ``failing`` also logs its failure line."""
    end = START + timedelta(minutes=STEPS - 1, seconds=19)
    rows = ["Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log"]
    for k in range(60):
        at = end - timedelta(seconds=600 - 10 * k)
        for n, service in enumerate(["ads", "front", "orders", "stock"]):
            lines = [f'{{"severity":"info","message":"TraceID: {k:032x} SpanID: {n:016x} handled request"}}']
            if service in failing and at >= end - timedelta(minutes=3):
                lines.append(
                    f'{{"severity":"error","message":"TraceID: {k:032x} SpanID: {n:016x} {failing[service]}"}}'
                )
            for line in lines:
                wrapped = json.dumps({"log": line + "\n", "stream": "stdout", "time": at.isoformat()})
                quoted = '"' + wrapped.replace('"', '""') + '"'
                rows.append(f"{at.isoformat()},{int(at.timestamp() * 1e9)},10.0.0.1,{service}-7f9c-x{n},c,t,s,{quoted}")
    (folder / "logs.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


def test_where_the_logged_failures_start_is_named_when_no_latency_moved(tmp_path: Path) -> None:
    _write_logs(
        tmp_path,
        {
            "stock": "reserve failed: java.lang.IllegalStateException: no row for item",
            "orders": "call to stock failed: rpc error: code = Unknown",
            "front": "request error: could not place order",
        },
    )
    entity, _, ranking = _work(_day(failing=True), tmp_path, metric=SUCCESS_METRIC)
    assert entity == "stock", ranking


def test_when_nothing_moved_the_investigation_finds_no_incident(tmp_path: Path) -> None:
    entity, category, _ = _work(_day(), tmp_path)
    assert category in ("no_incident", "recovered") and entity == "front"


def test_the_catalog_has_every_service_of_the_graph_with_its_callees_and_slis() -> None:
    catalog = catalog_for(_day())
    assert sorted(catalog.services) == ["ads", "front", "orders", "stock"]
    assert catalog.services["front"].dependencies == ["ads", "orders"]
    assert catalog.services["front"].sli.error_rate and not catalog.services["stock"].sli.error_rate
    assert all(s.sli.latency_p99 and s.sli.saturation for s in catalog.services.values())
