"""The simulator on a real loopback socket, and the production adapters talking to it."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import httpx
import pytest

from evals.sim import start_sim
from evals.sim.scenario import Scenario
from evals.sim.server import INTEGRATIONS, RunningSim
from evals.sim.timeutil import SimClock

ERROR_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)


def test_start_sim_serves_on_a_free_loopback_port(scenario: Scenario) -> None:
    with start_sim(scenario) as sim:
        assert sim.host == "127.0.0.1" and sim.port > 0 and sim.running
        assert sim.base_url == f"http://127.0.0.1:{sim.port}"
        assert set(sim.urls) == set(INTEGRATIONS)
        config = sim.tools_config()
        assert config["prometheus"] == {"kind": "prometheus", "base_url": f"{sim.base_url}/prometheus"}
        assert config["statuspage"] == {
            "kind": "statuspage",
            "base_url": f"{sim.base_url}/statuspage",
            "page_id": "page-acme",
        }
        paging = {name for name in config if config[name]["kind"] == "pagerduty_events"}
        assert set(config) - paging == set(INTEGRATIONS)
        # One Events API v2 integration per PagerDuty service, its simulated routing key in the environment.
        assert paging == {"paging_pchkout", "paging_pinvent", "paging_ppaydb1"}
        checkout = config["paging_pchkout"]
        assert checkout["base_url"] == f"{sim.base_url}/pagerduty-events"
        assert os.environ[checkout["routing_key_env"]] == sim.world.pagerduty.routing_key("PCHKOUT")
        assert sim.tools_config(kinds=["loki", "slack"]) == {name: config[name] for name in ("loki", "slack")}
        response = httpx.get(f"{sim.urls['prometheus']}/api/v1/query", params={"query": ERROR_RATIO}, timeout=5)
        assert response.status_code == 200 and response.json()["status"] == "success"
        assert float(response.json()["data"]["result"][0]["value"][1]) > 0.2
        # The anchor is the wall clock at start: the alert fired "just now".
        assert abs(sim.world.now_ts() - sim.world.anchor) < 5
        assert sim.alertmanager_payload("CheckoutHighErrorRate")["externalURL"] == f"{sim.base_url}/alertmanager"
    assert not sim.running


async def test_async_context_manager(scenario: Scenario) -> None:
    async with start_sim(scenario) as sim:
        async with httpx.AsyncClient(base_url=sim.base_url) as client:
            assert (await client.get("/_sim/state")).json()["scenario"] == "checkout-migration"
    assert not sim.running


async def call(sim_registry: Any, tool: str, args: dict[str, Any]) -> Any:
    """Run one adapter call; mutating calls bypass the approval guard (that is the agents' concern)."""
    adapter, spec = sim_registry.resolve(tool)
    if spec.safety.mutating:
        result = await spec.fn(adapter, spec.input_model.model_validate(args))
    else:
        result = await sim_registry.invoke(tool, args)
    assert result.status in ("ok", "no_data"), f"{tool}: {result.summary} {result.error}"
    return result


@pytest.fixture
async def running(scenario: Scenario) -> Any:
    registry_module = pytest.importorskip("tools.registry")
    clock = SimClock()
    sim: RunningSim = start_sim(scenario, clock=clock)
    kinds = registry_module.available_kinds(include_plugins=False)
    config = sim.tools_config(kinds=kinds)
    registry = registry_module.ToolRegistry.from_config(config, kinds=kinds)
    try:
        yield sim, clock, registry
    finally:
        await registry.aclose()
        sim.stop()


async def test_production_adapters_read_the_incident(running: Any) -> None:
    sim, _, registry = running
    now = sim.world.now()
    result = await call(registry, "prometheus.query", {"query": ERROR_RATIO})
    assert 0.3 < result.data["series"][0]["values"][-1][1] < 0.4
    await call(
        registry,
        "prometheus.query_range",
        {"query": ERROR_RATIO, "start": now - timedelta(hours=3), "end": now, "step": 15},
    )
    logs = await call(
        registry,
        "loki.query_range",
        {
            "query": '{namespace="shop", app="checkout"} |= "UndefinedColumn"',
            "start": now - timedelta(minutes=10),
            "end": now,
        },
    )
    assert "customer_id" in str(logs.data)
    pods = await call(registry, "kubernetes.list_pods", {"namespace": "shop", "label_selector": "app=checkout"})
    assert "checkout-" in str(pods.data)
    await call(registry, "kubernetes.get_deployment", {"namespace": "shop", "name": "checkout"})
    await call(registry, "kubernetes.list_replicasets", {"namespace": "shop", "label_selector": "app=checkout"})
    events = await call(registry, "kubernetes.list_events", {"namespace": "shop"})
    assert "inventory" in str(events.data)
    deployments = await call(registry, "github.list_deployments", {"repo": "acme/checkout"})
    assert "a1b2c3d" in str(deployments.data)
    compare = await call(registry, "github.compare", {"repo": "acme/checkout", "base": "v2.13.2", "head": "v2.14.0"})
    assert "RENAME COLUMN customer_id TO buyer_id" in str(compare.data)
    runs = await call(registry, "github.list_workflow_runs", {"repo": "acme/checkout"})
    assert "db-migrate" in str(runs.data)
    await call(registry, "github.list_commits", {"repo": "acme/checkout", "since": now - timedelta(hours=4)})


async def test_production_adapters_act_and_the_world_changes(running: Any) -> None:
    sim, clock, registry = running
    incident = await call(
        registry,
        "statuspage.create_incident",
        {
            "name": "Checkout errors",
            "body": "Investigating elevated errors.",
            "components": {"cmp-checkout": "partial_outage"},
        },
    )
    assert sim.world.snapshot()["statuspage"]["incidents"][0]["name"] == "Checkout errors"
    await call(registry, "slack.post_message", {"channel": "C0INC", "text": "Rolling back checkout"})
    assert sim.world.snapshot()["slack"]["messages"][0]["text"] == "Rolling back checkout"

    await call(registry, "kubernetes.rollout_restart", {"namespace": "shop", "name": "checkout"})
    undo = await call(registry, "kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout", "to_revision": 6})
    assert "v2.13.2" in str(undo.data)
    assert [(a.action, a.effect) for a in sim.world.applied_actions] == [
        ("kubernetes.rollout_restart", "none"),
        ("kubernetes.rollout_undo", "fixes:orders-column-renamed"),
    ]
    assert sim.world.active_faults() == []

    clock.advance(15 * 60)
    # The adapter stamps queries with its own clock; ask at the simulator's (fast-forwarded) now.
    after = await call(registry, "prometheus.query", {"query": ERROR_RATIO, "time": sim.world.now()})
    [series] = after.data["series"]
    assert series["values"][-1][1] < 0.01  # back to the 0.2 % baseline
    assert incident.data
