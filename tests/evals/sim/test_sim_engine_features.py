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
                {
                    "name": "web",
                    "dependencies": ["api"],
                    "image": "web:1",
                    "baseline": {"request_rate": 50, "error_ratio": 0.001},
                },
                {
                    "name": "api",
                    "dependencies": ["db"],
                    "image": "api:1",
                    "replicas": 3,
                    "baseline": {"request_rate": 30, "error_ratio": 0.001},
                },
                {
                    "name": "db",
                    "kind": "database",
                    "image": "pg:16",
                    "replicas": 1,
                    "baseline": {"request_rate": 100, "error_ratio": 0.0, "saturation": 0.2, "max_connections": 50},
                },
            ]
        },
        "faults": [
            {
                "id": "db-down",
                "type": "resource_exhaustion",
                "target": "db",
                "starts_at": "-10m",
                "effects": {
                    "error_ratio": 0.8,
                    "saturation": 1.0,
                    "logs": [{"template": "FATAL: sorry, too many clients already", "rate": 5}],
                },
                "propagates": {
                    "attenuation": 0.5,
                    "max_hops": 2,
                    "logs": [{"template": "ERROR upstream {source} failed on {pod}", "rate": 2}],
                },
                **fault,
            }
        ],
        "expected": {"incident": True},
    }


def world_for(raw: dict[str, Any], minutes_after: float = 0) -> World:
    return World(parse_scenario(raw), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=minutes_after)))


def ratio(world: World, service: str) -> float:
    query = f'sum(rate(http_requests_total{{service="{service}",code="500"}}[5m])) / sum(rate(http_requests_total{{service="{service}"}}[5m]))'
    [sample] = world.promql.instant(query, world.now_ts())["result"]
    return float(sample["value"][1])


def test_faults_propagate_to_callers_with_attenuation() -> None:
    world = world_for(synthetic())
    db_errors = 'sum(rate(pg_errors_total{service="db"}[5m])) / sum(rate(pg_queries_total{service="db"}[5m]))'
    assert float(world.promql.instant(db_errors, world.now_ts())["result"][0]["value"][1]) == pytest.approx(
        0.8, abs=0.05
    )
    assert ratio(world, "api") == pytest.approx(0.001 + 0.4, abs=0.04)  # one hop: half the effect
    assert ratio(world, "web") == pytest.approx(0.001 + 0.2, abs=0.04)  # two hops: a quarter
    saturation = world.promql.instant(
        'pg_connections_in_use{service="db"} / pg_connections_max{service="db"}', world.now_ts()
    )
    assert float(saturation["result"][0]["value"][1]) == pytest.approx(1.0, abs=0.05)


def test_propagation_stops_at_max_hops() -> None:
    raw = synthetic()
    raw["faults"][0]["propagates"]["max_hops"] = 1
    world = world_for(raw)
    assert ratio(world, "api") > 0.3
    assert ratio(world, "web") < 0.01


def test_propagated_logs_name_their_source_and_pod() -> None:
    world = world_for(synthetic())
    found = world.logs.select(
        parse_logql('{app="api"} |= "upstream"'),
        int((world.now_ts() - 120) * 1e9),
        int(world.now_ts() * 1e9),
        20,
        "backward",
    )
    assert found
    for labels, entries in found:
        for _, line in entries:
            assert line == f"ERROR upstream db failed on {labels['pod']}"
    assert not world.logs.select(
        parse_logql('{app="web"} |= "too many clients"'),
        int((world.now_ts() - 120) * 1e9),
        int(world.now_ts() * 1e9),
        5,
        "backward",
    )


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
    raw = synthetic(
        effects={
            "pods": {
                "status": "CrashLoopBackOff",
                "ready": False,
                "restarts_per_hour": 30,
                "last_termination_reason": "OOMKilled",
                "affected": 1,
            }
        }
    )
    world = world_for(raw, minutes_after=10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as client:
        pods = (
            await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=db"})
        ).json()["items"]
        [pod] = pods
        [status] = pod["status"]["containerStatuses"]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert (
            status["lastState"]["terminated"]["reason"] == "OOMKilled"
            and status["lastState"]["terminated"]["exitCode"] == 137
        )
        assert status["restartCount"] == 10  # 30 an hour for 20 minutes
        assert next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")["status"] == "False"
        deployment = (await client.get("/kubernetes/apis/apps/v1/namespaces/default/deployments/db")).json()
        assert deployment["status"]["unavailableReplicas"] == 1
        events = (
            await client.get("/kubernetes/api/v1/namespaces/default/events", params={"fieldSelector": "reason=BackOff"})
        ).json()
        [backoff] = events["items"]
        assert (
            backoff["type"] == "Warning"
            and backoff["count"] == 10
            and backoff["involvedObject"]["name"] == pod["metadata"]["name"]
        )
        healthy = (
            await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=api"})
        ).json()["items"]
        assert all(p["status"]["containerStatuses"][0]["ready"] for p in healthy)


async def test_pending_pods_are_unschedulable() -> None:
    world = world_for(synthetic(effects={"pods": {"status": "Pending", "ready": False}}), minutes_after=1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as client:
        [pod] = (
            await client.get("/kubernetes/api/v1/namespaces/default/pods", params={"labelSelector": "app=db"})
        ).json()["items"]
        assert pod["status"]["phase"] == "Pending" and "nodeName" not in pod["spec"]
        assert pod["status"]["conditions"][0]["reason"] == "Unschedulable"


def test_no_integrations_configured() -> None:
    world = world_for(synthetic())
    assert world.statuspage.page_id is None
    assert world.snapshot()["pagerduty"]["incidents"] == []
    assert world.github.repos == {}


# -- format additions for the scenario library --------------------------------------------------


def instant(world: World, query: str, at: float | None = None) -> list[dict[str, Any]]:
    return world.promql.instant(query, world.now_ts() if at is None else at)["result"]  # type: ignore[no-any-return]


def test_gauges_ramp_over_the_build_up_and_return_after_a_fix() -> None:
    raw = synthetic(
        builds_from="-1h",
        effects={
            "error_ratio": 0.5,
            "gauges": [{"name": "disk_used_ratio", "labels": {"volume": "data"}, "value": 1.0}],
        },
    )
    raw["topology"]["services"][2]["gauges"] = [
        {"name": "disk_used_ratio", "labels": {"volume": "data"}, "value": 0.4},
        {"name": "disk_used_ratio", "labels": {"volume": "wal"}, "value": 0.1},
    ]
    raw["action_effects"] = [
        {"action": "kubernetes.rollout_restart", "match": {"name": "db"}, "effect": "fixes:db-down"}
    ]
    world = world_for(raw, minutes_after=1)
    series = {s["metric"]["volume"]: float(s["value"][1]) for s in instant(world, 'disk_used_ratio{service="db"}')}
    assert series == {"data": 1.0, "wal": 0.1}
    halfway = instant(world, 'disk_used_ratio{volume="data"}', world.at(-35 * 60))
    assert float(halfway[0]["value"][1]) == pytest.approx(0.4 + 0.6 * 25 / 50, abs=0.01)
    assert float(instant(world, 'disk_used_ratio{volume="data"}', world.at(-70 * 60))[0]["value"][1]) == 0.4
    world.apply_action("kubernetes.rollout_restart", {"namespace": "default", "name": "db"})
    world.clock.advance(60)
    assert float(instant(world, 'disk_used_ratio{volume="data"}')[0]["value"][1]) == 0.4


def test_a_timestamp_gauge_steps_from_the_build_up() -> None:
    raw = synthetic(
        builds_from="-2h",
        effects={
            "error_ratio": 0.3,
            "gauges": [{"name": "probe_ssl_earliest_cert_expiry", "timestamp": "-8m", "shape": "step"}],
        },
    )
    raw["topology"]["services"][1]["gauges"] = [{"name": "probe_ssl_earliest_cert_expiry", "timestamp": "+89d"}]
    raw["faults"][0]["target"] = "api"
    world = world_for(raw)
    expiry = float(instant(world, "probe_ssl_earliest_cert_expiry")[0]["value"][1])
    assert expiry == world.at(-8 * 60)
    before = float(instant(world, "probe_ssl_earliest_cert_expiry", world.at(-150 * 60))[0]["value"][1])
    assert before == world.at(89 * 86400)


def test_missing_metrics_leave_only_up_zero_while_logs_continue() -> None:
    world = world_for(
        synthetic(
            effects={
                "error_ratio": 0.5,
                "metrics_missing": True,
                "logs": [{"template": "FATAL: out of shared memory", "rate": 3}],
            }
        )
    )
    assert instant(world, 'up{service="db"}')[0]["value"][1] == "0"
    assert instant(world, 'pg_queries_total{service="db"}') == []
    assert instant(world, 'pg_queries_total{service="db"}', world.at(-15 * 60)) != []
    lines = world.logs.select(
        parse_logql('{app="db"} |= "shared memory"'),
        int((world.now_ts() - 60) * 1e9),
        int(world.now_ts() * 1e9),
        5,
        "backward",
    )
    assert lines
    assert ratio(world, "api") > 0.2  # the callers still see the failures in their own metrics


def test_a_mitigation_suspends_the_fault_then_it_relapses() -> None:
    raw = synthetic(
        builds_from="-30m",
        effects={"error_ratio": 0.5, "memory": 0.99, "pods": {"status": "OOMKilled", "restarts_per_hour": 6}},
    )
    raw["action_effects"] = [
        {
            "action": "kubernetes.rollout_restart",
            "match": {"name": "db"},
            "effect": "mitigates:db-down",
            "relapse_after": "20m",
        }
    ]
    world = world_for(raw)
    world.apply_action("kubernetes.rollout_restart", {"namespace": "default", "name": "db"})
    world.clock.advance(10 * 60)
    assert world.active_faults() == []
    memory = float(instant(world, 'container_memory_usage_ratio{service="db"}')[0]["value"][1])
    baseline = 0.5
    assert memory == pytest.approx(baseline + (0.99 - baseline) * 0.5, abs=0.02)  # refilling
    world.clock.advance(11 * 60)
    assert world.active_faults() == ["db-down"]
    [fault] = world.snapshot()["faults"]
    assert fault["relieved"] and fault["fixed_by"] is None


def test_one_action_may_fix_several_faults_and_matches_compare_numbers() -> None:
    raw = synthetic()
    raw["faults"].append(
        {"id": "api-slow", "type": "capacity", "target": "api", "starts_at": "-5m", "effects": {"error_ratio": 0.2}}
    )
    raw["action_effects"] = [
        {
            "action": "kubernetes.scale",
            "match": {"name": "api", "replicas": {"gte": 6}},
            "effect": ["fixes:db-down", "fixes:api-slow"],
        },
        {
            "action": "kubernetes.scale",
            "match": {"name": "api", "replicas": {"lt": 3}},
            "effect": "worsens:api-slow",
            "factor": 2,
        },
    ]
    world = world_for(raw)
    assert (
        world.apply_action("kubernetes.scale", {"namespace": "default", "name": "api", "replicas": 4}).effect == "none"
    )
    assert (
        world.apply_action("kubernetes.scale", {"namespace": "default", "name": "api", "replicas": 1}).effect
        == "worsens:api-slow"
    )
    applied = world.apply_action("kubernetes.scale", {"namespace": "default", "name": "api", "replicas": 6})
    assert applied.effect == "fixes:db-down, fixes:api-slow"
    assert world.active_faults() == []


async def test_pod_events_env_rollouts_and_scale_changes_show_in_kubernetes() -> None:
    raw = synthetic(
        effects={
            "error_ratio": 0.3,
            "pods": {
                "status": "Running",
                "affected": 1,
                "events": [
                    {
                        "reason": "Evicted",
                        "message": "Pod {pod} in {namespace} exceeded its ephemeral storage on {node}",
                        "every": "2m",
                    }
                ],
            },
        }
    )
    raw["topology"]["services"][1]["env"] = {"FLAG": "off"}
    raw["changes"] = [
        {
            "id": "flag-on",
            "type": "feature_flag",
            "service": "api",
            "at": "-20m",
            "description": "flag on",
            "deploy": {"version": "1-ff", "env": {"FLAG": "on"}},
        },
        {"id": "scale-web", "type": "scale", "service": "web", "at": "-30m", "description": "scale web", "replicas": 5},
    ]
    world = world_for(raw, minutes_after=10)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as client:
        events = (
            await client.get("/kubernetes/api/v1/namespaces/default/events", params={"fieldSelector": "reason=Evicted"})
        ).json()["items"]
        [evicted] = events
        assert evicted["message"].startswith(f"Pod {evicted['involvedObject']['name']} in default exceeded")
        assert evicted["count"] == 10  # every two minutes for twenty
        api = (await client.get("/kubernetes/apis/apps/v1/namespaces/default/deployments/api")).json()
        [container] = api["spec"]["template"]["spec"]["containers"]
        assert container["env"] == [{"name": "FLAG", "value": "on"}] and container["image"] == "api:1"
        assert api["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
        web = (await client.get("/kubernetes/apis/apps/v1/namespaces/default/deployments/web")).json()
        assert web["spec"]["replicas"] == 5


def test_a_stray_brace_in_a_template_is_refused() -> None:
    raw = synthetic(effects={"logs": [{"template": 'ERROR {"error": 1}', "rate": 1}]})
    with pytest.raises(ValueError, match=r"write a literal brace as \{\{"):
        parse_scenario(raw)
