from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from agents.analytics.logs import mine_patterns, poisson_tail

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ONSET = T0 + timedelta(minutes=30)


def _lines() -> list[tuple[datetime, str]]:
    rng = random.Random(7)
    lines = []
    for minute in range(60):
        at = T0 + timedelta(minutes=minute)
        lines.append((at, f"GET /api/items/{rng.randint(1, 999)} 200 in {rng.randint(5, 40)} ms"))
        if minute % 10 == 0:
            lines.append((at + timedelta(seconds=3), f"cache miss for key user:{rng.randint(1, 9999)}"))
        if minute >= 30:
            lines.append(
                (
                    at + timedelta(seconds=5),
                    f"ERROR pool exhausted: 50 of 50 connections busy, waited {rng.randint(100, 900)} ms",
                )
            )
            for k in range(4):
                lines.append((at + timedelta(seconds=7 + k), f"cache miss for key user:{rng.randint(1, 9999)}"))
    rng.shuffle(lines)  # order does not matter
    return lines


def test_new_templates_come_first_with_counts_and_an_example() -> None:
    patterns = mine_patterns(_lines(), ONSET)

    first = patterns[0]
    assert first.is_new
    assert first.template.startswith("ERROR pool exhausted")
    assert "<NUM>" in first.template
    assert (first.count_before, first.count_after) == (0, 30)
    assert first.spike_ratio is None
    assert first.first_seen == ONSET + timedelta(seconds=5)
    assert first.example.startswith("ERROR pool exhausted: 50 of 50 connections busy")


def test_spiking_templates_are_reported_with_their_ratio() -> None:
    patterns = mine_patterns(_lines(), ONSET)

    spike = next(p for p in patterns if p.template.startswith("cache miss"))
    assert not spike.is_new
    assert spike.count_before == 3 and spike.count_after == 123
    assert spike.spike_ratio is not None and spike.spike_ratio > 20
    assert spike.status == "spike" and spike.reason.startswith("spike")


def test_steady_templates_are_left_out_unless_asked_for() -> None:
    notable = mine_patterns(_lines(), ONSET)
    everything = mine_patterns(_lines(), ONSET, include_all=True)

    assert not any(p.template.startswith("GET") for p in notable)
    steady = next(p for p in everything if p.template.startswith("GET"))
    assert steady.status == "steady"
    assert steady.count_before == 30 and steady.count_after == 30


def test_a_few_more_lines_than_usual_are_not_a_spike() -> None:
    lines = [(T0 + timedelta(minutes=m), "disk usage check ok") for m in range(0, 30, 10)]
    lines += [(T0 + timedelta(minutes=m), "disk usage check ok") for m in range(30, 60, 5)]

    everything = mine_patterns(lines, ONSET, include_all=True, end=T0 + timedelta(minutes=60))

    assert everything[0].spike_ratio == pytest.approx(2.0)
    assert everything[0].status == "steady"


def test_a_single_new_line_is_not_a_pattern() -> None:
    lines = [(T0 + timedelta(minutes=m), "heartbeat ok") for m in range(60)]
    lines.append((ONSET + timedelta(minutes=1), "segfault in worker 3"))

    assert mine_patterns(lines, ONSET) == []
    rare = next(p for p in mine_patterns(lines, ONSET, include_all=True) if p.is_new)
    assert rare.status == "rare" and rare.count_after == 1


def test_empty_input_and_naive_times() -> None:
    assert mine_patterns([], ONSET) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        mine_patterns([(T0, "x")], datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        mine_patterns([(datetime(2024, 5, 1), "x")], ONSET)


def test_poisson_tail_matches_known_values() -> None:
    assert poisson_tail(0, 3.0) == 1.0
    assert poisson_tail(1, 3.0) == pytest.approx(1 - math.exp(-3.0))
    assert poisson_tail(3, 1.0) == pytest.approx(1 - math.exp(-1.0) * (1 + 1 + 0.5))
    assert poisson_tail(153, 2.9) == pytest.approx(1.5605925486266033e-200, rel=1e-9)  # scipy's pdtrc
    assert poisson_tail(30, 29.2) == pytest.approx(0.4655995622232011, rel=1e-9)
    assert poisson_tail(5, 0.0) == 0.0


def test_a_line_too_rare_to_have_been_seen_in_the_look_before_is_not_new() -> None:
    """Four checkpoint lines after the onset and none in the one minute read before it: at that rate
    the minute before should have held well under one, so their absence says nothing."""
    before = [(ONSET - timedelta(seconds=60 - i), f"GET /api/items/{i} 200 in 9 ms") for i in range(60)]
    after = [(ONSET + timedelta(seconds=i), f"GET /api/items/{i} 200 in 9 ms") for i in range(0, 600, 2)]
    rare = [(ONSET + timedelta(minutes=m), f"LOG:  checkpoint complete: wrote {100 + m} buffers") for m in (1, 3, 6, 9)]
    frequent = [(ONSET + timedelta(seconds=s), f"ERROR timeout calling ledger after {s} ms") for s in range(0, 600, 10)]
    patterns = {p.template: p for p in mine_patterns([*before, *after, *rare, *frequent], ONSET, include_all=True)}
    checkpoint = next(p for t, p in patterns.items() if t.startswith("LOG:"))
    timeout = next(p for t, p in patterns.items() if t.startswith("ERROR"))
    assert (checkpoint.status, checkpoint.is_new) == ("rare", True) and "too rare to call new" in checkpoint.reason
    # 60 lines in ten minutes would have put 6 in the minute before: none there is news.
    assert timeout.status == "new"
