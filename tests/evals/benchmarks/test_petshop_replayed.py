"""The PetShop window's data path: a table through the replay and the Prometheus adapter, cut at the alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from evals.benchmarks.petshop.dataset import MetricTable
from evals.benchmarks.petshop.replayed import ReplayReadError, as_recording, read_through_replay

START = datetime(2023, 4, 18, 22, 0, tzinfo=UTC)


def _table(steps: int = 5) -> MetricTable:
    times = tuple(START + timedelta(seconds=300 * k) for k in range(steps))
    return MetricTable(
        times,
        {
            "Frontend": {
                "latency.Average": np.array([1.5, np.nan, 2.25, 3.0, 4.0][:steps]),
                "requests.Sum": np.array([10.0, 12.0, np.nan, np.nan, 9.0][:steps]),
            },
            "Backend::Lambda": {"errors.Sum": np.array([0.0, 1.0, 2.0, 0.0, 5.0][:steps])},
        },
    )


def test_a_table_round_trips_through_the_replay_and_the_adapter_with_its_gaps() -> None:
    table = _table()

    served = read_through_replay(table, table.times[-1])

    assert served.times == table.times
    assert served.series.keys() == table.series.keys()
    for component, by_metric in table.series.items():
        assert served.series[component].keys() == by_metric.keys()
        for name, values in by_metric.items():
            np.testing.assert_array_equal(served.series[component][name], values)  # NaN == NaN here


def test_nothing_after_the_alert_is_served() -> None:
    table = _table()
    alert = table.times[1] + timedelta(seconds=183)

    served = read_through_replay(table, alert)

    assert served.times == table.times[:2]
    np.testing.assert_array_equal(served.series["Backend::Lambda"]["errors.Sum"], [0.0, 1.0])
    recording = as_recording(table, alert)
    assert max(t for s in recording.series for t in s.times) <= alert.timestamp()


def test_an_alert_before_the_window_is_refused() -> None:
    table = _table()
    with pytest.raises(ReplayReadError, match="before the window"):
        read_through_replay(table, table.times[0] - timedelta(seconds=1))


def test_the_method_reads_the_window_up_to_its_clock_after_the_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    """`analyze` serves the window with the clock `clock_after_alert` after the alert: the default
    quarter hour reaches the three periods after the alert's, the clock at the alert only two."""
    from evals.benchmarks.petshop import method
    from evals.benchmarks.petshop.dataset import Target

    seen: list[int] = []
    monkeypatch.setattr(method, "analyze_incident", lambda series, times, *a, **k: seen.append(len(times)))
    table = _table()
    target = Target(node="Frontend", metric="latency", agg="Average", timestamp=table.times[1].timestamp() + 60)
    method.analyze(table, {"Frontend": []}, target, method.NoiseModel.empty(), method.MethodSettings())
    method.analyze(
        table,
        {"Frontend": []},
        target,
        method.NoiseModel.empty(),
        method.MethodSettings(clock_after_alert=timedelta(0)),
    )
    assert seen == [5, 2]
