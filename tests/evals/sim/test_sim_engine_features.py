"""Generic engine features on a small synthetic scenario: propagation, outages, crashing pods,
self-clearing faults. Nothing here is specific to the checkout scenario."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from evals.sim import World, create_app
from evals.sim.logs import parse_logql
from evals.sim.scenario import parse_scenario
from evals.sim.timeutil import SimClock

ANCHOR = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)


def synthetic(**fault: Any) -> dict[str, Any]:
    """web -> api -> db, with one fault on ``db`` (overridable)."""
    return {
        "version": 1,
        "name": "synthetic",
        "description": "A three-tier stack for engine tests.",
        "seed": 3,
        "topology": {
            "services": [
                {"name": "web", "dependencies": ["api"], "image": "web:1", "baseline": {"request_rate": 50, "error_ratio": 0.001}},
                {"name": "api", "dependencies": ["db"], "image": "api:1", "replicas": 3,
                 "baseline": {"request_rate": 30, "error_ratio": 0.001}},
                {"name": "db", "kind": "database", "image": "pg:16", "replicas": 1,
                 "baseline": {"request_rate": 100, "error_ratio": 0.0, "saturation": 0.2, "max_connections": 50}},
            ]
        },
        "faults": [
            {
                "id": "db-down",
                "type": "resource_exhaustion",
                "target": "db",
                "starts_at": "-10m",
                "effects": {"error_ratio": 0.8, "saturation": 1.0,
                            "logs": [{"template": "FATAL: sorry, too many clients already", "rate": 5}]},
                "propagates": {"attenuation": 0.5, "max_hops": 2,
                               "logs": [{"template": "ERROR upstream {source} failed on {pod}", "rate": 2}]},
                **fault,
            }
        ],
        "expected": {"incident": True},
    }


def world_for(raw: dict[str, Any], minutes_after: float = 0) -> World:
    return World(parse_scenario(raw), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=minutes_after)))


def ratio(world: World, service: str) -> float:
    query = (
        f'sum(rate(http_requests_total{{service="{service}",code="500"}}[5m])) / sum(rate(http_requests_total{{service="{service}"}}[5m]))'
    )
    [sample] = world.promql.instant(query, world.now_ts())["result"]
    return float(sample["value"][1])


def test_faults_propagate_to_callers_with_attenuation() -> None:
    world = world_for(synthetic())
    db_errors = 'sum(rate(pg_errors_total{service="db"}[5m])) / sum(rate(pg_queries_total{service="db"}[5m]))'
    assert float(world.promql.instant(db_errors, world.now_ts())["result"][0]["value"][1]) == pytest.approx(0.8, abs=0.05)
    assert ratio(world, "api") == pytest.approx(0.001 + 0.4, abs=0.04)  # one hop: half the effect
    assert ratio(world, "web") == pytest.approx(0.001 + 0.2, abs=0.04)  # two hops: a quarter
    saturation = world.promql.instant('pg_connections_in_use{service="db"} / pg_connections_max{service="db"}', world.now_ts())
    assert float(saturation["result"][0]["value"][1]) == pytest.approx(1.0, abs=0.05)


def test_propagation_stops_at_max_hops() -> None:
    raw = synthetic()
    raw["faults"][0]["propagates"]["max_hops"] = 1
    world = world_for(raw)
    assert ratio(world, "api") > 0.3
    assert ratio(world, "web") < 0.01


def test_propagated_logs_name_their_source_and_pod() -> None:
    world = world_for(synthetic())
    found = world.logs.select(parse_logql('{app="api"} |= "upstream"'), int((world.now_ts() - 120) * 1e9), int(world.now_ts() * 1e9), 20, "backward")
    assert found
    for labels, entries in found:
        for _, line in entries:
            assert line == f"ERROR upstream db failed on {labels['pod']}"
    assert not world.logs.select(parse_logql('{app="web"} |= "too many clients"'), int((world.now_ts() - 120) * 1e9), int(world.now_ts() * 1e9), 5, "backward")


def test_an_unavailable_service_has_no_samples_and_up_zero() -> None:
    raw = synthetic(effects={"available": False})
    world = world_for(raw)
    assert world.promql.instant('up{service="db"}', world.now_ts())["result"][0]["value"][1] == "0"
    assert world.promql.instant('pg_queries_total{service="db"}', world.now_ts())["result"] == []
    assert world.promql.instant('pg_queries_total{service="db"}', world.now_ts() - 15 * 60)["result"] != []
    assert ratio(world, "api") == pytest.approx(0.5, abs=0.05)  # callers fail the calls they make to it


def test_a_fault_can_clear_by_itself() -> None:
    world = world_for(synthetic(ends_at="-2m"), minutes_after=10)
    assert world.active_faults() == []
    assert world.active_faults(world.at(-5 * 60)) == ["db-down"]
    assert ratio(world, "api") < 0.01


async def test_crashing_pods_show_in_the_kubernetes_api() -> None:
    raw = synthetic(effects={"pods": {"status": "CrashLoopBackOff", "ready": False, "restarts_per_hour": 30,
                                      "last_termination_reason": "OOMKilled", "affected": 1}})
    world = world_for(raw, minutes_after=10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as client:
        pods = (await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=db"})).json()["items"]
        [pod] = pods
        [status] = pod["status"]["containerStatuses"]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert status["lastState"]["terminated"]["reason"] == "OOMKilled" and status["lastState"]["terminated"]["exitCode"] == 137
        assert status["restartCount"] == 10  # 30 an hour for 20 minutes
        assert next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
        deployment = (await client.get("/kubernetes/apis/apps/v1/namespaces/default/deployments/db")).json()
        assert deployment["status"]["unavailableReplicas"] == 1
        events = (await client.get("/kubernetes/api/v1/namespaces/default/events", params={"fieldSelector": "reason=BackOff"})).json()
        [backoff] = events["items"]
        assert backoff["type"] == "Warning" and backoff["count"] == 10 and backoff["involvedObject"]["name"] == pod["metadata"]["name"]
        healthy = (await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=api"})).json()["items"]
        assert all(p["status"]["containerStatuses"][0]["ready"] for p in healthy)


async def test_pending_pods_are_unschedulable() -> None:
    world = world_for(synthetic(effects={"pods": {"status": "Pending", "ready": False}}), minutes_after=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as client:
        [pod] = (await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=db"})).json()["items"]
        assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
        assert pod["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_no_integrations_configured() -> None:
    world = world_for(synthetic())
    assert world.statuspage.page_id is None
    assert world.snapshot()["pagerduty"]["incidents"] == []
    assert world.github.repos == {}
