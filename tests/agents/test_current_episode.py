"""The alerting SLI's onset is the alert's own episode's, not an earlier spike's that came back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.analytics.anomaly import detect_onset
from agents.investigation import current_episode
from agents.reasoners.base import FAILURE_LINE

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
TIMES = [T0 + timedelta(minutes=i) for i in range(60)]


def _latency(spike_at: int | None, rise_from: int | None, *, stays: bool = False) -> list[float]:
    values = [0.2 + 0.01 * (i % 3) for i in range(60)]
    if spike_at is not None:
        for i in range(spike_at, 60 if stays else spike_at + 2):
            values[i] = 3.0
    if rise_from is not None:
        for i in range(rise_from, 60):
            values[i] = 2.5
    return values


def _first(values: list[float]):  # type: ignore[no-untyped-def]
    found = detect_onset(values, TIMES, kind="latency", search_from=T0 + timedelta(minutes=15))
    assert found is not None
    return found


def test_an_earlier_spike_that_came_back_gives_way_to_the_alerts_own_onset() -> None:
    values = _latency(spike_at=20, rise_from=55)
    first = _first(values)
    assert first.time == TIMES[20]
    later = current_episode(values, TIMES, first, TIMES[56], "latency")
    assert later is not None and later.time == TIMES[55]


def test_a_slow_burn_that_never_came_back_keeps_its_early_onset() -> None:
    values = _latency(spike_at=20, rise_from=None, stays=True)
    assert current_episode(values, TIMES, _first(values), TIMES[56], "latency") is None


def test_an_onset_close_to_the_alert_is_the_alerts() -> None:
    values = _latency(spike_at=50, rise_from=None, stays=True)
    assert current_episode(values, TIMES, _first(values), TIMES[56], "latency") is None


def test_failure_lines_are_told_from_ordinary_ones() -> None:
    assert FAILURE_LINE.search('{"severity":"error","message":"could not charge card"}')
    assert FAILURE_LINE.search("java.lang.NullPointerException at Foo.bar")
    assert FAILURE_LINE.search("request to payments timed out after 3 attempts")
    assert not FAILURE_LINE.search('{"severity":"info","message":"[GetQuote] received request"}')
    assert not FAILURE_LINE.search("GetCartAsync called with userId=fbd160cc")
