from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from analytics_synthetic import GRAPH, STEP, Fault, Telemetry, simulate

from agents.analytics.anomaly import (
    ComponentScore,
    MetricDeviation,
    RankingConfig,
    analyze_incident,
    detect_onset,
    is_mean_metric,
    rank_root_causes,
    score_components,
)
from agents.analytics.metrics import NoiseModel, SeriesNoise
from tools.base import TimeWindow

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _times(n: int) -> list[datetime]:
    return [T0 + i * timedelta(minutes=1) for i in range(n)]


@pytest.fixture(scope="module")
def normal() -> Telemetry:
    return simulate(240, seed=3)


@pytest.fixture(scope="module")
def noise(normal: Telemetry) -> NoiseModel:
    return NoiseModel.from_normal_operation(normal.metrics)


# --------------------------------------------------------------------------------------------------
# detect_onset


def test_detect_onset_finds_the_first_step_that_leaves_the_level() -> None:
    rng = np.random.default_rng(1)
    series = 0.1 * np.exp(rng.normal(0, 0.02, 30))
    series[20:] *= 1.8

    onset = detect_onset(series, _times(30), metric="latency.Average", search_from=_times(30)[15])

    assert onset is not None
    assert onset.index == 20
    assert onset.time == _times(30)[20]
    assert onset.score >= 4.0
    assert "latency.Average" in onset.reason and "(x1.7" in onset.reason


def test_detect_onset_returns_none_when_the_series_only_wobbles() -> None:
    rng = np.random.default_rng(2)
    series = 0.1 * np.exp(rng.normal(0, 0.02, 30))

    assert detect_onset(series, _times(30), metric="latency.Average") is None


def test_detect_onset_ignores_moves_in_the_good_direction() -> None:
    latency = [0.1] * 10 + [0.02] * 10
    availability = [99.0] * 10 + [100.0] * 10

    assert detect_onset(latency, _times(20), kind="latency", search_from=_times(20)[5]) is None
    assert detect_onset(availability, _times(20), kind="availability", search_from=_times(20)[5]) is None


def test_detect_onset_stops_at_search_until() -> None:
    series = [0.1] * 8 + [0.3] * 4
    times = _times(12)

    assert detect_onset(series, times, kind="latency", search_from=times[4], search_until=times[8]) is None
    onset = detect_onset(series, times, kind="latency", search_from=times[4], search_until=times[9])
    assert onset is not None and onset.index == 8


def test_detect_onset_compares_with_the_steps_before_search_from() -> None:
    series = [0.1] * 3 + [0.3] * 9

    # The level already moved inside the reference: nothing starts after step 8.
    assert detect_onset(series, _times(12), kind="latency", search_from=_times(12)[8]) is None
    onset = detect_onset(series, _times(12), kind="latency", search_from=_times(12)[2])
    assert onset is not None and onset.index == 3


def test_detect_onset_needs_a_bigger_move_on_a_quiet_series() -> None:
    series = [0.100] * 6 + [0.125] * 4  # +25 %
    times = _times(10)

    busy = detect_onset(series, times, kind="latency", search_from=times[6], counts=[5000.0] * 10)
    quiet = detect_onset(series, times, kind="latency", search_from=times[6], counts=[20.0] * 10)

    assert busy is not None
    assert quiet is None


def test_detect_onset_uses_the_noise_model_when_given() -> None:
    series = [0.100] * 6 + [0.125] * 4
    times = _times(10)
    wide = SeriesNoise(robust_scale=0.2, tail_scale=0.2, points=500, offset=0.005, fraction=False, level=0.1)

    assert detect_onset(series, times, kind="latency", search_from=times[6]) is not None
    assert detect_onset(series, times, kind="latency", search_from=times[6], noise=wide) is None


def test_detect_onset_rejects_bad_input_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="3 values but times has 4"):
        detect_onset([1.0, 2.0, 3.0], _times(4))
    with pytest.raises(ValueError, match="timezone-aware"):
        detect_onset([1.0, 2.0], [datetime(2024, 1, 1), datetime(2024, 1, 2)])


# --------------------------------------------------------------------------------------------------
# score_components


def _windows(times: list[datetime], split: int) -> tuple[TimeWindow, TimeWindow]:
    return TimeWindow(start=times[0], end=times[split]), TimeWindow(start=times[split], end=times[-1] + STEP)


def test_score_components_scores_the_bad_direction_only() -> None:
    times = _times(8)
    metrics = {
        "slower": {"latency.Average": [0.1] * 5 + [0.3] * 3, "requests.Sum": [500.0] * 8},
        "faster": {"latency.Average": [0.1] * 5 + [0.03] * 3, "requests.Sum": [500.0] * 8},
        "steady": {"latency.Average": [0.1] * 8, "requests.Sum": [500.0] * 8},
        "failing": {"availability.Average": [100.0] * 5 + [96.0] * 3, "requests.Sum": [500.0] * 8},
    }
    baseline, incident = _windows(times, 5)

    scores = {s.component: s for s in score_components(metrics, times, baseline, incident)}

    assert scores["slower"].kind_scores["latency"] > 20
    assert scores["faster"].kind_scores["latency"] == 0.0
    assert scores["steady"].kind_scores["latency"] == 0.0
    assert scores["failing"].kind_scores["availability"] > 10
    failing = scores["failing"].deviations[0]
    assert failing.effect == pytest.approx(4.0)
    assert failing.excess == pytest.approx(20.0)  # 4 % of 500 requests
    assert "-4.00 points" in failing.change


def test_score_components_measures_excess_on_means_only() -> None:
    times = _times(6)
    metrics = {
        "svc": {
            "latency.Average": [0.1] * 3 + [0.2] * 3,
            "latency.p99": [0.3] * 3 + [0.6] * 3,
            "requests.Sum": [100.0] * 6,
        }
    }

    scores = score_components(metrics, times, *_windows(times, 3))
    average = scores[0].deviation("latency.Average")
    p99 = scores[0].deviation("latency.p99")

    assert average is not None and average.excess == pytest.approx(10.0)  # 0.1 s more over 100 requests
    assert p99 is not None and p99.excess is None
    assert is_mean_metric("latency.Average") and not is_mean_metric("latency_p95_ms")


def test_score_components_needs_two_latency_statistics_to_agree_out_of_five() -> None:
    times = _times(6)
    quiet = [0.1] * 6
    one_spike = {f"latency.{s}": quiet for s in ("Average", "p50", "p90", "p95")} | {
        "latency.p99": [0.1] * 3 + [1.0] * 3
    }
    all_move = {f"latency.{s}": [0.1] * 3 + [1.0] * 3 for s in ("Average", "p50", "p90", "p95", "p99")}

    scores = {
        s.component: s for s in score_components({"spike": one_spike, "fault": all_move}, times, *_windows(times, 3))
    }

    assert scores["spike"].kind_scores["latency"] == 0.0
    assert scores["fault"].kind_scores["latency"] > 20


def test_score_components_leaves_out_components_idle_before_the_incident() -> None:
    times = _times(6)
    metrics = {
        "woke_up": {"latency.Average": [math.nan] * 3 + [0.5] * 3},
        "busy": {"latency.Average": [0.1] * 6},
    }

    scores = score_components(metrics, times, *_windows(times, 3))

    assert [s.component for s in scores] == ["busy"]


def test_score_components_ignores_a_stale_noise_model() -> None:
    times = _times(6)
    metrics = {"svc": {"latency.Average": [3.0] * 3 + [3.3] * 3}}
    stale = NoiseModel(
        {("svc", "latency.Average"): SeriesNoise(0.001, 0.001, 500, offset=0.02, fraction=False, level=0.4)},
        "test",
    )

    deviation = score_components(metrics, times, *_windows(times, 3), noise=stale)[0].deviations[0]

    # Its level (0.4) is far from the current one (3.0): a different regime, so its tiny scale is not used.
    assert deviation.scale_source != "normal-operation"
    assert deviation.score < 10


def test_score_components_names_the_empty_window() -> None:
    times = _times(6)
    later = TimeWindow(start=T0 + timedelta(days=1), end=T0 + timedelta(days=2))
    with pytest.raises(ValueError, match="incident_window"):
        score_components({"a": {"latency.Average": [1.0] * 6}}, times, _windows(times, 3)[0], later)
    with pytest.raises(ValueError, match="baseline_window"):
        score_components({"a": {"latency.Average": [1.0] * 6}}, times, later, _windows(times, 3)[1])


# --------------------------------------------------------------------------------------------------
# rank_root_causes, on hand-made scores


def _score(
    component: str, z: float, *, effect: float = 1.0, excess: float | None = None, kind: str = "latency"
) -> ComponentScore:
    metric = "latency.Average" if kind == "latency" else "availability.Average"
    deviation = MetricDeviation(
        metric=metric,
        kind=kind,  # type: ignore[arg-type]  # test helper: kind is one of the two literals above
        direction="up" if kind == "latency" else "down",
        baseline_value=1.0,
        peak_value=2.0,
        peak_time=T0,
        effect=effect,
        score=z,
        scale=0.1,
        scale_source="normal-operation",
        excess=excess,
        change=f"{metric} moved",
    )
    return ComponentScore(
        component=component,
        score=z,
        kind_scores={kind: z},
        top_metric=metric,
        deviations=[deviation],
        reason="",
    )


CHAIN = {"front": ["mid", "thin"], "mid": ["back"], "back": [], "thin": [], "other": ["back"], "lonely": []}


def test_a_dependency_that_accounts_for_the_move_makes_its_caller_a_victim() -> None:
    scores = [_score("front", 12, excess=20), _score("mid", 15, excess=19), _score("back", 30, excess=20)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert [c.component for c in result.candidates[:3]] == ["back", "mid", "front"]
    front = next(c for c in result.candidates if c.component == "front")
    assert front.explained_share == pytest.approx(1.0)
    assert front.explained_by[:2] == ["back", "mid"]
    assert any("explained 100% by dependency back" in reason for reason in front.reasons)
    assert result.named == "back"


def test_coverage_prefers_the_dependency_whose_excess_accounts_for_the_symptom() -> None:
    # "thin" moved more in noise units, but its 40 requests add 2 s where the target lost 24 s.
    scores = [_score("front", 10, excess=24), _score("mid", 15, excess=24), _score("thin", 20, excess=2)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert result.candidates[0].component == "mid"
    thin = next(c for c in result.candidates if c.component == "thin")
    assert thin.coverage == pytest.approx(2 / 24)
    assert any("covers 8%" in reason for reason in thin.reasons)


def test_a_deep_candidate_behind_a_healthy_component_is_discounted() -> None:
    scores = [_score("front", 10), _score("mid", 0.0), _score("back", 12), _score("thin", 12)]

    result = rank_root_causes(scores, CHAIN, "front")

    back = next(c for c in result.candidates if c.component == "back")
    thin = next(c for c in result.candidates if c.component == "thin")
    assert back.path == ["front", "mid", "back"]
    assert back.path_support == 0.0
    assert thin.score > back.score


def test_anomalies_outside_the_dependency_closure_are_ignored_not_ranked() -> None:
    scores = [_score("front", 8), _score("other", 40), _score("lonely", 40)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert {c.component for c in result.candidates} == {"front", "mid", "back", "thin"}
    assert result.ignored == ["lonely", "other"]


def test_the_target_itself_is_the_cause_when_nothing_below_moved() -> None:
    scores = [_score("front", 9), _score("mid", 0.5), _score("back", 0.3)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert result.named == "front"
    assert "is the alerting component" in result.candidates[0].reasons[-1]


def test_it_abstains_when_nobody_moved_enough() -> None:
    scores = [_score("front", 3.0), _score("mid", 0.5)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert result.abstained and result.named is None
    assert "naming threshold" in result.reason
    assert result.candidates[0].component == "front"  # the leads are still listed
    assert result.separating_evidence


def test_it_abstains_when_the_runner_up_is_too_close_and_says_what_would_separate_them() -> None:
    scores = [_score("front", 6, excess=10), _score("mid", 20, excess=10), _score("thin", 19, excess=10)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert result.abstained
    assert "no candidate is clearly ahead" in result.reason
    assert "inconclusive, best lead is mid" in result.reason
    assert any("mid and thin are on different paths" in line for line in result.separating_evidence)
    assert any("recent changes" in line for line in result.separating_evidence)


def test_lead_ratio_is_configurable() -> None:
    scores = [_score("front", 6, excess=10), _score("mid", 20, excess=10), _score("thin", 19, excess=10)]

    result = rank_root_causes(scores, CHAIN, "front", config=RankingConfig(lead_ratio=0.99))

    assert not result.abstained and result.named == "mid"


def test_an_unknown_target_ranks_every_scored_component() -> None:
    scores = [_score("a", 3), _score("b", 12)]

    result = rank_root_causes(scores, CHAIN, "a")

    assert [c.component for c in result.candidates][:2] == ["b", "a"]


# --------------------------------------------------------------------------------------------------
# analyze_incident, end to end on the synthetic world


def _incident(fault: Fault | None, seed: int = 9) -> Telemetry:
    return simulate(12, faults=[fault] if fault else [], seed=seed)


@pytest.mark.parametrize(
    ("fault", "metric"),
    [
        (Fault("db", 7, extra_latency=0.02), "latency.Average"),
        (Fault("search", 7, error_rate=0.03), "availability.Average"),
        (Fault("edge", 7, extra_latency=0.5), "latency.Average"),
        (Fault("cart", 7, extra_latency=0.08), "latency.Average"),
    ],
)
def test_analyze_incident_names_the_faulty_component(fault: Fault, metric: str, noise: NoiseModel) -> None:
    incident = _incident(fault)

    analysis = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", metric, incident.times[6] + STEP / 2, noise=noise
    )

    assert analysis.onset is not None and analysis.onset.index == 7
    assert analysis.baseline_window.end == incident.times[6]
    assert analysis.ranking.named == fault.component, analysis.ranking.reason


def test_analyze_incident_works_without_normal_operation_data() -> None:
    incident = _incident(Fault("db", 7, extra_latency=0.02))

    analysis = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", "latency.Average", incident.times[7]
    )

    assert analysis.noise_source.startswith("none")
    assert analysis.ranking.candidates[0].component == "db"


def test_analyze_incident_abstains_in_normal_operation(noise: NoiseModel) -> None:
    named = 0
    for seed in range(20):
        window = simulate(8, seed=100 + seed)
        analysis = analyze_incident(
            window.metrics, window.times, GRAPH, "frontend", "latency.Average", window.times[3], noise=noise
        )
        named += analysis.ranking.named is not None
        if analysis.onset is None:
            assert "shows no onset" in analysis.ranking.reason
    assert named <= 1


def test_analyze_incident_never_blames_a_component_the_target_does_not_depend_on(noise: NoiseModel) -> None:
    incident = _incident(Fault("batch", 7, extra_latency=2.0))

    analysis = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", "latency.Average", incident.times[6], noise=noise
    )

    assert "batch" not in {c.component for c in analysis.ranking.candidates}
    assert analysis.ranking.ignored == ["batch"]
    assert analysis.ranking.abstained


def test_ranking_does_not_depend_on_component_names(noise: NoiseModel, normal: Telemetry) -> None:
    incident = _incident(Fault("db", 7, extra_latency=0.02))
    rng = random.Random(4)
    names = list(GRAPH)
    aliases = dict(zip(names, rng.sample([f"c{n:02d}" for n in range(len(names))], len(names)), strict=True))
    renamed_graph = {aliases[k]: [aliases[c] for c in v] for k, v in GRAPH.items()}
    renamed_metrics = {aliases[k]: v for k, v in incident.metrics.items()}
    renamed_noise = NoiseModel.from_normal_operation({aliases[k]: v for k, v in normal.metrics.items()})

    original = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", "latency.Average", incident.times[6], noise=noise
    )
    renamed = analyze_incident(
        renamed_metrics,
        incident.times,
        renamed_graph,
        aliases["frontend"],
        "latency.Average",
        incident.times[6],
        noise=renamed_noise,
    )

    assert [aliases[c.component] for c in original.ranking.candidates] == [
        c.component for c in renamed.ranking.candidates
    ]
    assert [c.score for c in original.ranking.candidates] == pytest.approx(
        [c.score for c in renamed.ranking.candidates]
    )


def test_analyze_incident_rejects_an_unknown_target_series() -> None:
    incident = _incident(None)
    with pytest.raises(ValueError, match="no series 'latency.p42' for target 'frontend'"):
        analyze_incident(incident.metrics, incident.times, GRAPH, "frontend", "latency.p42", incident.times[6])


def test_analysis_serializes_to_json_for_the_evidence_trail(noise: NoiseModel) -> None:
    incident = _incident(Fault("db", 7, extra_latency=0.02))

    analysis = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", "latency.Average", incident.times[6], noise=noise
    )
    payload = analysis.model_dump(mode="json")

    assert payload["ranking"]["candidates"][0]["component"] == "db"
    assert payload["onset"]["index"] == 7
    assert payload["ranking"]["candidates"][0]["reasons"]


def test_separating_evidence_for_a_caller_and_its_callee_points_at_per_dependency_metrics() -> None:
    # mid and back are equally strong and back's excess explains none of mid (no traffic data):
    # nothing separates a caller from its callee but a look inside the caller.
    scores = [_score("front", 1.0), _score("mid", 20, effect=5.0), _score("back", 19, effect=0.1)]

    result = rank_root_causes(scores, CHAIN, "front")

    assert result.abstained
    assert [c.component for c in result.candidates[:2]] == ["mid", "back"]
    assert any(line.startswith("mid calls back") for line in result.separating_evidence)


def test_an_onset_long_after_the_alert_is_not_the_alert_s(noise: NoiseModel) -> None:
    incident = simulate(14, faults=[Fault("db", 11, extra_latency=0.02)], seed=9)

    late = analyze_incident(
        incident.metrics, incident.times, GRAPH, "frontend", "latency.Average", incident.times[6], noise=noise
    )
    wider = analyze_incident(
        incident.metrics,
        incident.times,
        GRAPH,
        "frontend",
        "latency.Average",
        incident.times[6],
        noise=noise,
        onset_horizon_steps=6,
    )

    assert late.onset is None and late.ranking.abstained
    assert wider.onset is not None and wider.onset.index == 11
