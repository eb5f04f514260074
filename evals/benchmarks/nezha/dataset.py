"""The Nezha dataset layout (README beside the data) read into replay `Recording`s, one per fault.

Only what an exporter of a real system would give is read for the method: the day's per-pod metrics,
the front end's SLI, the call graph and node placement (``dependency.csv``), the fault folder's
traces and logs and its recording window (``window.json``). ``target.json`` is read by the scorer
only (`Fault.label`); nothing the method sees is derived from it.
"""

from __future__ import annotations

import bisect
import csv
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.replay.recording import LogLine, Recording, SeriesData, Span

SLI_COLUMNS = {
    "SuccessRate(%)": "sli_success_rate_percent",
    "LatencyP50(s)": "sli_latency_p50_seconds",
    "LatencyP90(s)": "sli_latency_p90_seconds",
    "LatencyP95(s)": "sli_latency_p95_seconds",
    "LatencyP99(s)": "sli_latency_p99_seconds",
}
# PodSuccessRate(%) is 0 in every row (broken, says the README): left out.
SKIPPED_COLUMNS = frozenset({"Time", "TimeStamp", "PodName", "PodSuccessRate(%)"})


class DatasetError(ValueError):
    """PATH is not the Nezha layout."""


@dataclass
class Day:
    name: str
    series: list[SeriesData]
    call_edges: list[tuple[str, str]]
    entry: str


@dataclass
class Fault:
    id: str
    day: str
    window_start: datetime
    window_end: datetime
    folder: Path
    label: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def root_service(self) -> str:
        return str(self.label["root_cause"]["service"])

    @property
    def fault_type(self) -> str:
        return str(self.label["root_cause"]["fault_type"])


def service_of(pod: str) -> str:
    """A Kubernetes Deployment's pod name without its two hash suffixes (``cart-5c6b-fghij`` -> ``cart``)."""
    parts = pod.split("-")
    return "-".join(parts[:-2]) if len(parts) > 2 else pod


def metric_name(column: str) -> str:
    """``PodServerLatencyP90(s)`` -> ``pod_server_latency_p90_seconds``; ``CpuUsageRate(%)`` -> ``pod_cpu_usage_rate_percent``."""
    unit = {"(s)": "_seconds", "(%)": "_percent", "(m)": "_millicores", "(Mi)": "_mebibytes", "(Ops)": "_requests"}
    suffix = next((v for k, v in unit.items() if column.endswith(k)), "")
    base = column.split("(")[0]
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", base).lower()
    return f"{snake}{suffix}" if snake.startswith("node_") else f"pod_{snake.removeprefix('pod_')}{suffix}"


def parse_time_text(text: str) -> float:
    """``2022-08-22 03:51:19.573905004 +0000 UTC m=+0.07`` -> unix seconds (the README: trust ``Time``)."""
    date, clock = text.split()[:2]
    whole, _, fraction = clock.partition(".")
    stamp = datetime.fromisoformat(f"{date}T{whole}").replace(tzinfo=UTC)
    return stamp.timestamp() + (float(f"0.{fraction}") if fraction else 0.0)


def load_day(root: Path, day: str) -> Day:
    folder = root / "days" / day
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    with (folder / "dependency.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            target = row["Target"]
            if re.fullmatch(r"\d+(\.\d+){3}", target):
                nodes[row["Source"]] = target
            else:
                edges.append((row["Source"], target))
    callees = {t for _, t in edges}
    entries = sorted({s for s, _ in edges} - callees)
    if len(entries) != 1:
        raise DatasetError(f"{folder / 'dependency.csv'}: expected one entry service (no callers), found {entries}")
    series: list[SeriesData] = []
    for path in sorted((folder / "metrics").glob("*_metric.csv")):
        pod = path.name.removesuffix("_metric.csv")
        service = service_of(pod)
        base = (("node", nodes.get(service, "")), ("pod", pod), ("service", service))
        series += _columns(path, base, {c: metric_name(c) for c in _header(path) if c not in SKIPPED_COLUMNS})
    series += _columns(folder / "metrics" / "front_service.csv", (("service", entries[0]),), SLI_COLUMNS)
    for side in ("source", "destination"):
        path = folder / "metrics" / f"{side}_50.csv"
        if path.is_file():
            series += _edge_columns(path, side, edges)
    return Day(day, series, edges, entries[0])


def _edge_columns(path: Path, side: str, edges: list[tuple[str, str]]) -> list[SeriesData]:
    """``caller_callee`` columns (median latency seen at the caller's or the callee's side) as
    ``edge_latency_seconds{client, server, side}``, one series per call edge of the graph."""
    columns = {f"{caller}_{callee}": (caller, callee) for caller, callee in edges}
    out: list[SeriesData] = []
    for column in _header(path):
        if column in columns:
            caller, callee = columns[column]
            base = (("client", caller), ("server", callee), ("side", side))
            out += _columns(path, base, {column: "edge_latency_seconds"}, time_column="time")
    return out


def _header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle))


def _columns(
    path: Path, base: tuple[tuple[str, str], ...], names: dict[str, str], time_column: str = "Time"
) -> list[SeriesData]:
    out = {
        column: SeriesData(labels=tuple(sorted((*[(k, v) for k, v in base if v], ("__name__", name)))))
        for column, name in names.items()
    }
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            at = parse_time_text(row[time_column])
            for column, series in out.items():
                try:
                    value = float(row[column])
                except (TypeError, ValueError):
                    continue
                if value == value:  # NaN cells: no sample
                    series.times.append(at)
                    series.values.append(value)
    for series in out.values():
        order = sorted(range(len(series.times)), key=series.times.__getitem__)
        series.times = [series.times[i] for i in order]
        series.values = [series.values[i] for i in order]
    return list(out.values())


def load_faults(root: Path) -> list[Fault]:
    faults_dir = root / "faults"
    if not faults_dir.is_dir():
        raise DatasetError(f"{root}: no faults/ folder (expected the Nezha layout, see its README)")
    faults: list[Fault] = []
    for folder in sorted(faults_dir.iterdir()):
        window = json.loads((folder / "window.json").read_text())
        day = window["day"]
        first, last = window["minute_files"][0], window["minute_files"][-1]
        start = datetime.fromisoformat(f"{day}T{first.replace('_', ':')}:00").replace(tzinfo=UTC)
        end = datetime.fromisoformat(f"{day}T{last.replace('_', ':')}:00").replace(tzinfo=UTC) + timedelta(minutes=1)
        label = json.loads((folder / "target.json").read_text())
        faults.append(Fault(folder.name, day, start, end, folder, label))
    return faults


def fault_spans(fault: Fault) -> list[Span]:
    path = fault.folder / "traces.csv"
    spans: list[Span] = []
    if not path.is_file():
        return spans
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            parent = row["ParentID"]
            spans.append(
                Span(
                    trace_id=row["TraceID"],
                    span_id=row["SpanID"],
                    parent_id=None if parent == "root" else parent,
                    service=service_of(row["PodName"]),
                    operation=row["OperationName"],
                    start_unix_nano=int(row["StartTimeUnixNano"]),
                    end_unix_nano=int(row["EndTimeUnixNano"]),
                    error=False,
                    pod=row["PodName"],
                )
            )
    return spans


def recording(day: Day, fault: Fault, now: datetime) -> Recording:
    """What a replay serves for ``fault`` with the clock at ``now``: the day's metrics up to now, the fault's traces."""

    limit = now.timestamp()
    series = []
    for item in day.series:
        cut = bisect.bisect_right(item.times, limit)
        series.append(SeriesData(item.labels, item.times[:cut], item.values[:cut]))
    limit_ns = int(limit * 1e9)
    spans = [s for s in fault_spans(fault) if s.end_unix_nano <= limit_ns]
    logs: list[LogLine] = []
    return Recording(now=now, series=series, logs=logs, spans=spans, edges=list(day.call_edges))
