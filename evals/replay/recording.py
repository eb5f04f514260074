"""A recorded incident folder, read into memory and cut at the replay clock's "now".

Layout (docs/replay.md): ``incident.json`` (``now``: the alert time), ``metrics.csv``
(``timestamp,metric,value`` plus one column per label), ``logs.csv`` (``timestamp,line`` plus label
columns), ``traces.csv`` (``trace_id,span_id,parent_id,service,operation,start_unix_nano,
end_unix_nano`` plus optional ``status`` and ``pod``) and ``topology.csv`` (``source,target``). Every
file but ``incident.json`` is optional. Timestamps are unix seconds or RFC 3339.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

METRIC_COLUMNS = ("timestamp", "metric", "value")
LOG_COLUMNS = ("timestamp", "line")
TRACE_COLUMNS = ("trace_id", "span_id", "parent_id", "service", "operation", "start_unix_nano", "end_unix_nano")
ROOT_PARENTS = frozenset({"", "root", "0", "0000000000000000"})


class RecordingError(ValueError):
    """The folder does not follow the layout; the message names the file and the row."""


class IncidentInfo(BaseModel):
    """``incident.json``: when the alert fired (the replay's "now") and what it said."""

    model_config = ConfigDict(extra="allow")

    now: datetime = Field(description="The alert time: nothing recorded after it is ever served.")
    title: str = ""


Labels = tuple[tuple[str, str], ...]


@dataclass
class SeriesData:
    """One metric series: its labels (``__name__`` included) and its samples in time order."""

    labels: Labels
    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    @property
    def label_map(self) -> dict[str, str]:
        return dict(self.labels)


@dataclass(frozen=True)
class LogLine:
    unix_nano: int
    labels: Labels
    line: str


@dataclass(frozen=True)
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    service: str
    operation: str
    start_unix_nano: int
    end_unix_nano: int
    error: bool
    pod: str = ""


@dataclass
class Recording:
    """Everything served, already cut at ``now`` (inclusive)."""

    now: datetime
    series: list[SeriesData]
    logs: list[LogLine]
    spans: list[Span]
    edges: list[tuple[str, str]]

    @property
    def now_unix(self) -> float:
        return self.now.timestamp()


def parse_time(text: str) -> float:
    """Unix seconds from ``1661145489``, ``1661145489.5`` or an RFC 3339 / ISO 8601 text (UTC if naive)."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def load(folder: Path, now: datetime | None = None) -> Recording:
    """Read ``folder`` and keep only what was recorded at or before ``now`` (default: ``incident.json``'s)."""
    info_path = folder / "incident.json"
    if not info_path.is_file():
        raise RecordingError(f"{info_path}: missing (it holds the alert time, `now`)")
    info = IncidentInfo.model_validate(json.loads(info_path.read_text()))
    cut = (now or info.now).astimezone(UTC)
    limit_s = cut.timestamp()
    limit_ns = int(round(limit_s * 1e9))
    return Recording(
        now=cut,
        series=_series(folder / "metrics.csv", limit_s),
        logs=_logs(folder / "logs.csv", limit_ns),
        spans=_spans(folder / "traces.csv", limit_ns),
        edges=_edges(folder / "topology.csv"),
    )


def _rows(path: Path, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    if not path.is_file():
        return
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise RecordingError(f"{path}: missing column(s) {', '.join(missing)}")
        yield from enumerate(reader, start=2)


def _labels(row: dict[str, str], skip: Iterable[str]) -> Labels:
    skipped = set(skip)
    return tuple(sorted((k, v) for k, v in row.items() if k not in skipped and k and v not in (None, "")))


def _series(path: Path, limit_s: float) -> list[SeriesData]:
    by_labels: dict[Labels, SeriesData] = {}
    for number, row in _rows(path, METRIC_COLUMNS):
        try:
            at = parse_time(row["timestamp"])
            value = float(row["value"])
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: {exc}") from None
        if at > limit_s or math.isnan(value):
            continue
        labels = tuple(sorted((*_labels(row, METRIC_COLUMNS), ("__name__", row["metric"]))))
        series = by_labels.setdefault(labels, SeriesData(labels))
        series.times.append(at)
        series.values.append(value)
    for series in by_labels.values():
        order = sorted(range(len(series.times)), key=series.times.__getitem__)
        series.times = [series.times[i] for i in order]
        series.values = [series.values[i] for i in order]
    return list(by_labels.values())


def _logs(path: Path, limit_ns: int) -> list[LogLine]:
    lines: list[LogLine] = []
    for number, row in _rows(path, LOG_COLUMNS):
        try:
            at = int(round(parse_time(row["timestamp"]) * 1e9))
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: {exc}") from None
        if at <= limit_ns:
            lines.append(LogLine(at, _labels(row, LOG_COLUMNS), row["line"]))
    lines.sort(key=lambda line: line.unix_nano)
    return lines


def _spans(path: Path, limit_ns: int) -> list[Span]:
    spans: list[Span] = []
    for number, row in _rows(path, TRACE_COLUMNS):
        try:
            start, end = int(row["start_unix_nano"]), int(row["end_unix_nano"])
        except ValueError as exc:
            raise RecordingError(f"{path}:{number}: {exc}") from None
        if end > limit_ns:  # a span still open at the alert has not been exported yet
            continue
        parent = row["parent_id"].strip()
        spans.append(
            Span(
                trace_id=row["trace_id"].strip().lower(),
                span_id=row["span_id"].strip().lower(),
                parent_id=None if parent in ROOT_PARENTS else parent.lower(),
                service=row["service"],
                operation=row["operation"],
                start_unix_nano=start,
                end_unix_nano=end,
                error=(row.get("status") or "").strip().lower() in {"error", "2", "status_code_error"},
                pod=row.get("pod") or "",
            )
        )
    spans.sort(key=lambda span: span.start_unix_nano)
    return spans


def _edges(path: Path) -> list[tuple[str, str]]:
    return [(row["source"], row["target"]) for _, row in _rows(path, ("source", "target"))]
