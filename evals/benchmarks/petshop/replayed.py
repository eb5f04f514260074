"""A PetShop window read the way an incident reads it: served by the replay, fetched by the Prometheus adapter.

`as_recording` turns a `MetricTable` into a `evals.replay.recording.Recording`: one series per
component x metric x statistic, named `SERIES_NAME` with the labels ``component``, ``metric`` and
``statistic``, cut at the replay clock (the alert: no sample stamped after it is kept; a NaN cell is
a missing sample, a gap). `read_through_replay` serves that recording on loopback
(`evals.replay.server.ReplayServer`, one server per window), asks `tools.prometheus` for every series
with one ``query_range`` at the table's step (300 s for PetShop; the replay's 5-minute lookback is
left-open, so a gap stays a gap instead of repeating the previous step), and rebuilds the answer into
the `MetricTable` the method takes: the query's grid of step starts, NaN where nothing came back.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta

import numpy as np

from agents.analytics.metrics import FloatArray
from evals.benchmarks.petshop.dataset import MetricTable
from evals.replay.recording import Recording, SeriesData
from evals.replay.server import ReplayServer
from tools.prometheus import QueryResult, Series
from tools.registry import ToolRegistry

SERIES_NAME = "cloudwatch_metric"
SERIES_QUERY = SERIES_NAME  # every series of the window in one query


class ReplayReadError(RuntimeError):
    """The replay's Prometheus answered an error, or an answer the table cannot be rebuilt from."""


def as_recording(table: MetricTable, now: datetime) -> Recording:
    """The table as a recording whose clock is ``now``: samples stamped after it, and NaN cells, are left out."""
    limit = now.timestamp()
    epochs = [moment.timestamp() for moment in table.times]
    series: list[SeriesData] = []
    for component, by_metric in table.series.items():
        for name, values in by_metric.items():
            metric, _, statistic = name.rpartition(".")
            pairs = (("__name__", SERIES_NAME), ("component", component), ("metric", metric or name))
            # Prometheus has no empty label: a name without a statistic carries none.
            labels = tuple(sorted((*pairs, ("statistic", statistic)) if metric else pairs))
            kept = [(at, float(v)) for at, v in zip(epochs, values, strict=True) if at <= limit and not math.isnan(v)]
            if kept:
                series.append(SeriesData(labels, [at for at, _ in kept], [v for _, v in kept]))
    return Recording(now=now.astimezone(UTC), series=series, logs=[], spans=[], edges=[])


def read_through_replay(table: MetricTable, now: datetime) -> MetricTable:
    """Serve ``table`` with the replay clock at ``now`` and read it back through the Prometheus adapter.

    The result holds the steps from the table's first up to the last one starting at or before
    ``now``; a series with no sample in that span is absent, as it would be from Prometheus.
    """
    return asyncio.run(_read(table, now))


async def _read(table: MetricTable, now: datetime) -> MetricTable:
    if len(table) < 2:
        raise ReplayReadError(f"a window needs at least two steps to have a step width, got {len(table)}")
    epochs = np.array([moment.timestamp() for moment in table.times])
    step = float(np.median(np.diff(epochs)))
    start = table.times[0]
    # Whole seconds: the adapter sends milliseconds, and the grid must land on the recorded stamps.
    end = datetime.fromtimestamp(math.floor(now.timestamp()), tz=UTC)
    if end < start:
        raise ReplayReadError(f"the alert {now.isoformat()} comes before the window's first step {start.isoformat()}")
    grid = [start + timedelta(seconds=k * step) for k in range(int((end - start).total_seconds() // step) + 1)]
    with ReplayServer(as_recording(table, now)) as server:
        registry = ToolRegistry.from_config(
            {"prometheus": {"kind": "prometheus", "base_url": server.url, "max_retries": 0}}
        )
        try:
            result = await registry.adapters["prometheus"].invoke(
                "query_range",
                {"query": SERIES_QUERY, "start": start.isoformat(), "end": end.isoformat(), "step": step},
                budget=None,  # code reads the whole answer
            )
        finally:
            await registry.aclose()
    if result.error is not None:
        raise ReplayReadError(f"query_range {SERIES_QUERY!r} from {start} to {end}: {result.error.message}")
    return _rebuild(result.payload(QueryResult).series, grid)


def _rebuild(answer: list[Series], grid: list[datetime]) -> MetricTable:
    index = {moment.timestamp(): i for i, moment in enumerate(grid)}
    series: dict[str, dict[str, FloatArray]] = {}
    for item in answer:
        labels = item.metric
        values = np.full(len(grid), np.nan)
        for at, value in item.points():
            position = index.get(at.timestamp())
            if position is None:
                raise ReplayReadError(f"{labels}: a sample at {at.isoformat()} is off the query's grid")
            values[position] = value
        name = f"{labels['metric']}.{labels['statistic']}" if labels.get("statistic") else labels["metric"]
        series.setdefault(labels["component"], {})[name] = values
    return MetricTable(tuple(grid), series)
