"""The replay's PromQL subset evaluated directly: arithmetic between an expression and a number."""

from __future__ import annotations

import math

import pytest

from evals.replay import promql
from evals.replay.recording import SeriesData

SERIES = [
    SeriesData((("__name__", "success_percent"), ("service", "front")), [0.0, 60.0], [99.0, 80.0]),
    SeriesData((("__name__", "success_percent"), ("service", "cart")), [0.0, 60.0], [100.0, 50.0]),
]


def at(text: str, when: float = 60.0) -> dict[str, float]:
    return {
        dict(labels).get("service", ""): value for labels, value in promql.evaluate(promql.parse(text), SERIES, when)
    }


def test_a_ratio_from_a_percentage_keeps_the_labels_and_drops_the_name() -> None:
    found = promql.evaluate(promql.parse('1 - success_percent{service="front"} / 100'), SERIES, 60.0)
    assert found == [((("service", "front"),), pytest.approx(0.2))]


def test_products_bind_before_sums_and_parentheses_group() -> None:
    assert at("100 - success_percent / 2") == {"front": 60.0, "cart": 75.0}
    assert at("(100 - success_percent) / 2") == {"front": 10.0, "cart": 25.0}
    assert at("max(success_percent) * 2 + 1") == {"": 161.0}  # max at 60 s: 80
    assert at("2 * 3 - 1") == {"": 5.0}


def test_arithmetic_then_a_comparison_filters_the_results() -> None:
    assert at("100 - success_percent > 30") == {"cart": 50.0}


def test_division_by_zero_is_infinite_or_nan_as_in_prometheus() -> None:
    assert at("success_percent / 0") == {"front": math.inf, "cart": math.inf}
    assert math.isnan(at("0 / 0")[""])


def test_two_vectors_are_refused_with_a_parse_error() -> None:
    with pytest.raises(promql.PromQLError, match="not two vectors"):
        promql.parse("success_percent / success_percent")
    with pytest.raises(promql.PromQLError, match="not two vectors"):
        promql.parse("vector(1) - success_percent")


def test_scalars_are_told_apart_from_vectors() -> None:
    assert promql.is_scalar(promql.parse("1 - 2 / 4"))
    assert not promql.is_scalar(promql.parse("vector(1) * 2"))
    assert not promql.is_scalar(promql.parse("success_percent * 2"))


def _buckets(counts: dict[str, float], **labels: str) -> list[SeriesData]:
    return [
        SeriesData(tuple(sorted({"__name__": "d_bucket", "le": le, **labels}.items())), [0.0], [count])
        for le, count in counts.items()
    ]


def test_histogram_quantile_interpolates_inside_the_bucket_like_prometheus() -> None:
    series = _buckets({"0.1": 50.0, "0.5": 90.0, "1": 100.0, "+Inf": 100.0}, edge="a")
    series += _buckets({"0.1": 0.0, "0.5": 0.0, "+Inf": 10.0}, edge="b")  # all above the last bound
    found = {
        dict(k)["edge"]: v for k, v in promql.evaluate(promql.parse("histogram_quantile(0.5, d_bucket)"), series, 0.0)
    }
    assert found["a"] == pytest.approx(0.1)  # the 50th of 100 sits at the first bucket's bound
    assert found["b"] == pytest.approx(0.5)  # in the +Inf bucket: the highest finite bound
    p90 = promql.evaluate(promql.parse('histogram_quantile(0.9, sum by (le) (d_bucket{edge="a"}))'), series, 0.0)
    assert p90 == [((), pytest.approx(0.5))]
    p70 = promql.evaluate(promql.parse('histogram_quantile(0.7, d_bucket{edge="a"})'), series, 0.0)
    assert p70[0][1] == pytest.approx(0.1 + 0.4 * (20 / 40))


def test_histogram_quantile_without_observations_is_nan_and_needs_a_number_first() -> None:
    empty = _buckets({"0.1": 0.0, "+Inf": 0.0})
    assert math.isnan(promql.evaluate(promql.parse("histogram_quantile(0.5, d_bucket)"), empty, 0.0)[0][1])
    with pytest.raises(promql.PromQLError, match="number first"):
        promql.parse("histogram_quantile(d_bucket, 0.5)")
