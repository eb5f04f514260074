"""The engine: telemetry follows the scenario, actions change it from their time on, data is deterministic."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from evals.sim import World
from evals.sim.logs import parse_logql
from evals.sim.scenario import Scenario
from evals.sim.timeutil import SimClock, rfc3339
from evals.sim.world import alert_fingerprint

REPO = Path(__file__).resolve().parents[3]
ERROR_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)
P99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout"}[5m])))'


def value_at(world: World, query: str, offset_seconds: float) -> float:
    data = world.promql.instant(query, world.at(offset_seconds))
    assert len(data["result"]) == 1, data
    return float(data["result"][0]["value"][1])


def test_baseline_before_the_fault_and_errors_during_it(world: World) -> None:
    assert value_at(world, ERROR_RATIO, -3600) == pytest.approx(0.002, abs=0.002)
    assert value_at(world, ERROR_RATIO, 0) == pytest.approx(0.35, abs=0.04)
    assert value_at(world, 'sum(rate(http_requests_total{service="checkout"}[5m]))', -3600) == pytest.approx(
        40, rel=0.05
    )


def test_latency_follows_the_fault(world: World) -> None:
    before, during = value_at(world, P99, -3600), value_at(world, P99, 0)
    assert 0.25 <= before <= 0.36  # p99 0.28 s, read through the 0.25-0.5 bucket as Prometheus would
    assert during > before * 1.2


def test_red_herring_and_database_stay_healthy(world: World) -> None:
    inventory = ERROR_RATIO.replace("checkout", "inventory")
    assert value_at(world, inventory, 0) == pytest.approx(0.001, abs=0.002)
    assert value_at(
        world, 'max(pg_connections_in_use{service="payments-db"}) / max(pg_connections_max{service="payments-db"})', 0
    ) == (pytest.approx(0.32, abs=0.05))
    db_errors = (
        'sum(rate(pg_errors_total{service="payments-db"}[5m])) / sum(rate(pg_queries_total{service="payments-db"}[5m]))'
    )
    assert value_at(world, db_errors, 0) < 0.005


def test_no_sample_exists_after_now_or_before_the_window(world: World) -> None:
    assert world.promql.instant("up", world.at(10 * 60))["result"] == []  # the clock is at +2m
    assert world.promql.instant("up", world.at(-4 * 3600))["result"] == []


def test_fix_ends_the_fault_at_the_time_of_the_action(world: World, clock: SimClock) -> None:
    applied = world.apply_action("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout", "to_revision": 6})
    assert applied.effect == "fixes:orders-column-renamed"
    assert world.active_faults() == []
    assert world.active_faults(world.at(60)) == ["orders-column-renamed"]  # the past does not change
    clock.advance(15 * 60)
    assert value_at(world, ERROR_RATIO, 60) == pytest.approx(0.35, abs=0.04)
    assert value_at(world, ERROR_RATIO, 17 * 60) == pytest.approx(0.002, abs=0.002)


@pytest.mark.parametrize(
    ("action", "args"),
    [
        ("kubernetes.rollout_restart", {"namespace": "shop", "name": "checkout"}),
        ("kubernetes.rollout_undo", {"namespace": "shop", "name": "inventory"}),
        ("github.workflow_dispatch", {"repo": "acme/checkout", "workflow": "deploy.yml", "ref": "main"}),
    ],
)
def test_unrelated_actions_change_nothing(world: World, clock: SimClock, action: str, args: dict[str, str]) -> None:
    assert world.apply_action(action, args).effect == "none"
    clock.advance(15 * 60)
    assert world.active_faults() == ["orders-column-renamed"]
    assert value_at(world, ERROR_RATIO, 17 * 60) == pytest.approx(0.35, abs=0.04)


def test_worsens_raises_the_error_ratio(scenario: Scenario, clock: SimClock) -> None:
    from evals.sim.scenario import ActionEffect

    worse = scenario.model_copy(
        update={
            "action_effects": [
                ActionEffect(
                    action="kubernetes.scale",
                    match={"name": "checkout"},
                    effect="worsens:orders-column-renamed",
                    factor=2.0,
                )
            ]
        }
    )
    world = World(worse, anchor=clock.now() - timedelta(minutes=2), clock=clock)
    world.apply_action("kubernetes.scale", {"namespace": "shop", "name": "checkout", "replicas": 1})
    clock.advance(15 * 60)
    assert value_at(world, ERROR_RATIO, 17 * 60) == pytest.approx(0.70, abs=0.06)
    assert world.snapshot()["faults"][0]["worsened"][0]["factor"] == 2.0


def test_actions_are_idempotent_per_request(world: World) -> None:
    first = world.apply_action(
        "kubernetes.rollout_restart", {"namespace": "shop", "name": "checkout"}, request_id="req-1"
    )
    again = world.apply_action(
        "kubernetes.rollout_restart", {"namespace": "shop", "name": "checkout"}, request_id="req-1"
    )
    assert again is first
    assert len(world.applied_actions) == 1
    world.apply_action("kubernetes.rollout_restart", {"namespace": "shop", "name": "checkout"}, request_id="req-2")
    assert [a.id for a in world.applied_actions] == ["act-1", "act-2"]


def test_same_seed_same_data_other_seed_other_data(make_world: Callable[..., World]) -> None:
    def sample(world: World) -> tuple[str, list[str]]:
        metrics = json.dumps(
            world.promql.range('rate(http_requests_total{service="checkout"}[1m])', world.at(-3600), world.at(0), 15)
        )
        lines = world.logs.select(
            parse_logql('{app="checkout"}'), int(world.at(-600) * 1e9), int(world.at(0) * 1e9), 50, "backward"
        )
        return metrics, [line for _, entries in lines for _, line in entries]

    first, second, other = sample(make_world()), sample(make_world()), sample(make_world(seed=1))
    assert first == second
    assert first[0] != other[0] and first[1] != other[1]


def test_samples_already_served_do_not_change_as_time_passes(world: World, clock: SimClock) -> None:
    query = 'http_requests_total{service="checkout",code="200",method="GET"}'
    before = world.promql.instant(query, world.at(60))
    clock.advance(3600)
    assert world.promql.instant(query, world.at(60)) == before


def test_log_signature_appears_only_while_the_fault_is_active(world: World, clock: SimClock) -> None:
    signature = parse_logql('{namespace="shop", app="checkout"} |= "UndefinedColumn"')

    def window(start: float, end: float) -> Any:
        return world.logs.select(signature, int(world.at(start) * 1e9), int(world.at(end) * 1e9), 5000, "forward")

    def count(found: Any) -> int:
        return sum(len(entries) for _, entries in found)

    assert count(window(-600, -300)) == 0
    assert count(window(-300, 0)) == pytest.approx(3000, rel=0.1)  # ~10 lines/s for five minutes
    world.apply_action("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout"})
    clock.advance(600)
    assert count(window(3 * 60, 10 * 60)) == 0


def test_alertmanager_payload(world: World, clock: SimClock) -> None:
    payload = world.alertmanager_payload("CheckoutHighErrorRate")
    alert = payload["alerts"][0]
    assert payload["version"] == "4" and payload["status"] == "firing"
    assert alert["labels"] == {
        "alertname": "CheckoutHighErrorRate",
        "service": "checkout",
        "severity": "critical",
        "namespace": "shop",
    }
    assert alert["startsAt"] == "2026-11-20T19:42:00Z" and alert["endsAt"] == "0001-01-01T00:00:00Z"
    assert alert["fingerprint"] == alert_fingerprint(alert["labels"]) and len(alert["fingerprint"]) == 16
    assert payload["groupKey"] == '{}:{alertname="CheckoutHighErrorRate"}'
    world.apply_action("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout"})
    clock.advance(6 * 60)
    resolved = world.alertmanager_payload("CheckoutHighErrorRate")
    assert resolved["status"] == "resolved" and resolved["alerts"][0]["endsAt"] == "2026-11-20T19:49:00Z"
    with pytest.raises(KeyError, match="has no alert 'Nope'"):
        world.alertmanager_payload("Nope")


def test_alert_not_yet_fired_is_refused(make_world: Callable[..., World]) -> None:
    early = make_world(minutes_after=-1)
    with pytest.raises(ValueError, match="fires at 2026-11-20T19:42:00Z"):
        early.alertmanager_payload("CheckoutHighErrorRate")


def test_fingerprint_matches_alertmanager() -> None:
    # An empty label set hashes to the FNV-1a offset basis, as model.LabelSet{}.Fingerprint() does.
    assert alert_fingerprint({}) == "cbf29ce484222325"
    assert alert_fingerprint({"a": "b"}) != alert_fingerprint({"a": "c"})


def test_example_payload_is_the_rendering_of_the_scenario(scenario: Scenario) -> None:
    from evals.sim.timeutil import parse_rfc3339

    anchor = parse_rfc3339("2026-11-20T19:42:00Z")
    world = World(scenario, anchor=anchor, clock=SimClock.frozen(anchor))
    rendered = world.alertmanager_payload(
        "CheckoutHighErrorRate", external_url="http://alertmanager:9093", prometheus_url="http://prometheus:9090"
    )
    example = json.loads((REPO / "examples" / "alerts" / "checkout-5xx.json").read_text(encoding="utf-8"))
    assert example == rendered


def test_snapshot_lists_state_for_scoring(world: World) -> None:
    world.apply_action("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout"})
    state = world.snapshot()
    assert state["applied_actions"][0]["action"] == "kubernetes.rollout_undo"
    assert state["active_faults"] == []
    assert state["faults"][0]["fixed_by"] == "act-1"
    assert state["kubernetes"]["deployments"]["shop/checkout"]["revision"] == 7  # the world record alone moves no pods
    assert state["statuspage"]["page_id"] == "page-acme"
    assert [i["status"] for i in state["pagerduty"]["incidents"]] == ["triggered"]


@pytest.mark.parametrize("offset", [timedelta(days=-400), timedelta(days=90)])
def test_a_fixed_anchor_in_the_past_or_future_starts_the_clock_there(scenario: Scenario, offset: timedelta) -> None:
    """Without a clock, a scenario's ``anchor:`` starts the world's clock at the alert, wherever it is."""
    anchor = (datetime.now(UTC) + offset).replace(microsecond=0)
    world = World(scenario.model_copy(update={"anchor": anchor}))
    assert abs(world.now_ts() - world.anchor) < 60
    payload = world.alertmanager_payload(scenario.alerts[0].name)  # it has fired: no 409 for a future anchor
    assert payload["alerts"][0]["startsAt"] == rfc3339(world.anchor)
    # Three hours of history, not the months between the anchor and the wall clock.
    assert len(world.telemetry._frame(scenario.alerts[0].labels["service"]).times) < 800
