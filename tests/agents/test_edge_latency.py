"""Call edges' latency at both ends, read from a mesh's series by the labels the settings name."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from agents.edge_latency import edges_from_series
from agents.settings import EdgeLatencySettings
from tools.prometheus import Series

T0 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def series(values: list[float], start: int = 0, **labels: str) -> Series:
    return Series(
        metric=labels,
        values=[((T0 + timedelta(minutes=start + i)).timestamp(), v) for i, v in enumerate(values)],  # type: ignore[misc]
    )


def test_istio_labels_give_each_edge_both_ends_on_one_grid() -> None:
    found = [
        series([0.1, 0.2, 0.3], source_workload="web", destination_workload="api", reporter="source"),
        series([0.05, 0.06], start=1, source_workload="web", destination_workload="api", reporter="destination"),
        series([9.0], source_workload="web", destination_workload="elsewhere", reporter="source"),  # not a candidate
        series([1.0], source_workload="web", destination_workload="api", reporter="proxy"),  # neither end
    ]
    grid, edges = edges_from_series(found, EdgeLatencySettings(), ["web", "api"])
    assert grid == [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert [(e.caller, e.callee) for e in edges] == [("web", "api")]
    assert edges[0].caller_side == [0.1, 0.2, 0.3]
    assert math.isnan(edges[0].callee_side[0]) and edges[0].callee_side[1:] == [0.05, 0.06]


def test_several_series_of_one_end_keep_the_slowest_and_other_labels_can_be_named() -> None:
    settings = EdgeLatencySettings(
        query="edge_latency_seconds", caller_label="client", callee_label="server", end_label="side"
    )
    found = [
        series([0.1, 0.5], client="a", server="b", side="destination", pod="b-1"),
        series([0.3, 0.2], client="a", server="b", side="destination", pod="b-2"),
        series([0.4, float("nan")], client="a", server="a", side="source"),  # a call to itself: no edge
    ]
    _, edges = edges_from_series(found, settings, ["a", "b"])
    assert len(edges) == 1 and edges[0].callee_side == [0.3, 0.5]
    assert all(math.isnan(v) for v in edges[0].caller_side)


def test_nothing_measured_is_no_edge() -> None:
    grid, edges = edges_from_series([], EdgeLatencySettings(), ["a", "b"])
    assert grid == [] and edges == []
