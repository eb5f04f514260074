"""What each caller's client sees of its dependencies, and faults that live on one path only.

A small synthetic stack: web and worker both call api, api calls db. A fault with ``callers``
breaks the path from some callers to api; the others, and api's own error ratio, stay healthy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evals.sim import World
from evals.sim.scenario import ScenarioError, parse_scenario
from evals.sim.timeutil import SimClock

ANCHOR = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def stack(*faults: dict[str, Any], version: int = 2) -> World:
    raw = {
        "version": version,
        "name": "edges",
        "description": "Two callers of one API, for path faults.",
        "seed": 5,
        "topology": {
            "services": [
                {"name": "web", "dependencies": ["api"], "image": "web:1", "baseline": {"request_rate": 60}},
                {"name": "worker", "dependencies": ["api"], "image": "worker:1", "baseline": {"request_rate": 20}},
                {
                    "name": "api",
                    "dependencies": ["db"],
                    "image": "api:1",
                    "baseline": {"request_rate": 40, "error_ratio": 0.001, "latency_p50": 0.02, "latency_p99": 0.1},
                },
                {"name": "db", "kind": "database", "image": "pg:16", "baseline": {"request_rate": 100}},
            ]
        },
        "faults": list(faults),
        "alerts": [{"name": "WorkerErrors", "labels": {"service": "worker"}}],
        "expected": {"incident": True, "severity": "SEV3", "resolution": "escalate"},
    }
    return World(
        parse_scenario(raw, origin="edges"), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2))
    )


PARTITION = {
    "id": "worker-cut-off",
    "type": "network",
    "target": "api",
    "starts_at": "-20m",
    "effects": {"callers": ["worker"], "error_ratio": 1.0, "error_type": "timeout"},
}


def value(world: World, query: str) -> float:
    [sample] = world.promql.instant(query, world.now_ts())["result"]
    return float(sample["value"][1])


def client_calls(world: World, caller: str, callee: str, outcome: str) -> float:
    return value(
        world,
        f'sum(rate(http_client_request_duration_seconds_count{{service="{caller}",server_address="{callee}",{outcome}}}[5m]))',
    )


def server_errors(world: World, service: str) -> float:
    return value(
        world,
        f'sum(rate(http_requests_total{{service="{service}",code=~"5.."}}[5m])) / sum(rate(http_requests_total{{service="{service}"}}[5m]))',
    )


def test_every_caller_exports_its_client_view_of_each_dependency() -> None:
    world = stack()
    labels = {tuple(sorted(s.items())) for s in world.telemetry.label_sets() if s["__name__"].endswith("_count")}
    names = {dict(s)["__name__"] for s in labels}
    assert {"http_client_request_duration_seconds_count", "db_client_operation_duration_seconds_count"} <= names
    # Calls split by the callers' own traffic: web sends three quarters of api's 40/s.
    assert client_calls(world, "web", "api", 'http_response_status_code="200"') == pytest.approx(30, rel=0.1)
    assert client_calls(world, "worker", "api", 'http_response_status_code="200"') == pytest.approx(10, rel=0.1)
    p99 = value(
        world,
        'histogram_quantile(0.99, sum by (le) (rate(http_client_request_duration_seconds_bucket{service="web",server_address="api"}[5m])))',
    )
    assert 0.05 < p99 < 0.25  # api's own p99 of 0.1 s, as the client measures it


def test_a_partition_fails_only_its_callers_and_thins_the_targets_traffic() -> None:
    healthy, cut = stack(), stack(PARTITION)
    assert client_calls(cut, "worker", "api", 'error_type="timeout"') == pytest.approx(10, rel=0.1)
    assert client_calls(cut, "web", "api", 'http_response_status_code="200"') == pytest.approx(30, rel=0.1)
    assert server_errors(cut, "worker") > 0.9
    assert server_errors(cut, "web") < 0.01
    # api itself shows no errors, only the worker's quarter of its traffic missing.
    assert server_errors(cut, "api") < 0.01
    rate = 'sum(rate(http_requests_total{service="api"}[5m]))'
    assert value(cut, rate) == pytest.approx(0.75 * value(healthy, rate), rel=0.08)


def test_added_latency_on_one_path_reaches_only_that_caller() -> None:
    slow = stack(
        {
            "id": "slow-path",
            "type": "network",
            "target": "api",
            "starts_at": "-20m",
            "effects": {"callers": ["worker"], "latency_p50_multiplier": 20, "latency_p99_multiplier": 20},
        }
    )
    p99 = 'histogram_quantile(0.99, sum by (le) (rate(http_client_request_duration_seconds_bucket{{service="{}",server_address="api"}}[5m])))'
    assert value(slow, p99.format("worker")) > 1.0
    assert value(slow, p99.format("web")) < 0.25
    server_p99 = 'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="api"}[5m])))'
    assert value(slow, server_p99) < 0.25
    assert value(slow, 'sum(rate(http_requests_total{service="api"}[5m]))') > 35  # the calls still arrive


def test_a_target_that_stops_answering_times_out_for_every_caller() -> None:
    down = stack(
        {"id": "api-down", "type": "crash", "target": "api", "starts_at": "-20m", "effects": {"available": False}}
    )
    assert client_calls(down, "web", "api", 'error_type="timeout"') > 25
    assert client_calls(down, "worker", "api", 'error_type="timeout"') > 8


def test_the_callers_view_recovers_when_the_path_fault_ends() -> None:
    world = stack({**PARTITION, "ends_at": "+1m"})
    world.clock.advance(600)
    assert client_calls(world, "worker", "api", 'http_response_status_code="200"') == pytest.approx(10, rel=0.15)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({**PARTITION, "effects": {"callers": ["db"], "error_ratio": 1.0}}, "does not call"),
        ({**PARTITION, "effects": {"callers": ["nobody"], "error_ratio": 1.0}}, "unknown service"),
        ({**PARTITION, "effects": {"callers": ["worker"], "available": False}}, "available: false"),
        ({**PARTITION, "effects": {"error_type": "dns", "error_ratio": 1.0}}, "only with callers"),
    ],
)
def test_path_faults_are_checked(fault: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        stack(fault)


def test_a_path_fault_needs_version_2() -> None:
    with pytest.raises(ScenarioError, match="needs version: 2"):
        stack(PARTITION, version=1)
