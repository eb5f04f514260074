from __future__ import annotations

import math

import numpy as np
import pytest

from agents.analytics.metrics import (
    NoiseModel,
    classify_metric,
    finite_median,
    is_fraction_scale,
    sampling_scale,
    transform,
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("latency.p99", "latency"),
        ("http_request_duration_seconds", "latency"),
        ("availability.Average", "availability"),
        ("error_rate", "error_rate"),
        ("requests.Sum", "traffic"),
        ("cpu_usage", "saturation"),
        ("temperature", "other"),
    ],
)
def test_classify_metric_reads_the_kind_from_the_metric_name(name: str, kind: str) -> None:
    assert classify_metric(name) == kind


def test_latency_is_compared_on_a_log_scale_so_a_tripling_is_the_same_move_at_any_level() -> None:
    fast = transform("latency", np.array([0.01, 0.03]), offset=0.0, fraction=False)
    slow = transform("latency", np.array([1.0, 3.0]), offset=0.0, fraction=False)

    assert fast[1] - fast[0] == pytest.approx(slow[1] - slow[0])
    assert fast[1] - fast[0] == pytest.approx(math.log(3))


def test_availability_becomes_error_points_in_percent_or_fraction() -> None:
    percent = transform("availability", np.array([100.0, 97.0]), offset=0.0, fraction=False)
    fraction = transform("availability", np.array([1.0, 0.97]), offset=0.0, fraction=True)

    assert percent.tolist() == pytest.approx([0.0, 3.0])
    assert fraction.tolist() == pytest.approx([0.0, 3.0])
    assert is_fraction_scale(np.array([0.99, 1.0, np.nan]))
    assert not is_fraction_scale(np.array([99.0, 100.0]))


def test_sampling_scale_shrinks_with_traffic() -> None:
    assert sampling_scale("latency", 100) == pytest.approx(0.1)
    assert sampling_scale("latency", 10_000) == pytest.approx(0.01)
    assert sampling_scale("latency", None) == 0.0
    # One error in twenty requests is 5 points; in two thousand it is noise of a tenth of a point.
    assert sampling_scale("availability", 20) > 10 * sampling_scale("availability", 2000)


def test_finite_median_ignores_missing_values() -> None:
    assert finite_median(np.array([3.0, np.nan, 1.0, 2.0])) == 2.0
    assert math.isnan(finite_median(np.array([np.nan])))


def _noise(values: list[float], **extra: list[float]) -> NoiseModel:
    return NoiseModel.from_normal_operation({"svc": {"latency.Average": values, **extra}})


def test_noise_model_learns_the_step_to_step_spread_of_a_series() -> None:
    rng = np.random.default_rng(3)
    quiet = _noise(list(0.1 * np.exp(rng.normal(0, 0.01, 400)))).get("svc", "latency.Average")
    noisy = _noise(list(0.1 * np.exp(rng.normal(0, 0.10, 400)))).get("svc", "latency.Average")

    assert quiet is not None and noisy is not None
    assert noisy.scale == pytest.approx(10 * quiet.scale, rel=0.3)
    assert quiet.level == pytest.approx(0.1, rel=0.05)


def test_noise_model_widens_for_heavy_tails() -> None:
    rng = np.random.default_rng(4)
    values = 0.1 * np.exp(rng.normal(0, 0.01, 400))
    values[::25] *= 3  # rare large spikes: the median spread ignores them, the tail scale does not
    noise = _noise(list(values)).get("svc", "latency.Average")

    assert noise is not None
    assert noise.tail_scale > 3 * noise.robust_scale
    assert noise.scale == noise.tail_scale


def test_noise_model_skips_series_with_too_little_data_and_honours_the_exclusion_mask() -> None:
    values = [0.1] * 10 + [math.nan] * 390  # 24 differences over lags 1-3: fewer than 30
    assert _noise(values).get("svc", "latency.Average") is None

    rng = np.random.default_rng(5)
    steady = list(0.1 * np.exp(rng.normal(0, 0.01, 400)))
    spoiled = steady[:200] + [10.0] * 10 + steady[210:]
    mask = np.zeros(400, dtype=bool)
    mask[200:210] = True
    clean = NoiseModel.from_normal_operation({"svc": {"latency.Average": spoiled}}, exclude=mask)
    dirty = NoiseModel.from_normal_operation({"svc": {"latency.Average": spoiled}})

    clean_scale = clean.get("svc", "latency.Average")
    dirty_scale = dirty.get("svc", "latency.Average")
    assert clean_scale is not None and dirty_scale is not None
    assert clean_scale.scale < dirty_scale.scale / 3


def test_noise_model_records_the_traffic_level_while_the_series_had_data() -> None:
    latency = [0.1, math.nan] * 100
    requests = [40.0, 0.0] * 100
    noise = _noise(latency, **{"requests.Sum": requests}).get("svc", "latency.Average")

    assert noise is not None
    assert noise.traffic_level == 40.0


def test_noise_model_rejects_series_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same number of steps"):
        NoiseModel.from_normal_operation({"a": {"latency.Average": [1.0] * 50}, "b": {"latency.Average": [1.0] * 40}})
