"""The v2 library scenarios played through the production Kubernetes adapter: what a responder would
read shows the fault, the right action clears it, and the tempting wrong ones leave it in place."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from evals.sim import World, create_app
from evals.sim.library import load_scenario
from evals.sim.timeutil import SimClock
from tests.evals.sim.conftest import ANCHOR


def world_of(name: str) -> World:
    return World(load_scenario(name), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=1)))


@pytest.fixture
async def registry_for() -> AsyncIterator[Any]:
    registry_module = pytest.importorskip("tools.registry")
    made: list[Any] = []

    def build(world: World) -> Any:
        app = create_app(world)

        def client_factory(instance: str, settings: Any, headers: dict[str, str]) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=settings.base_url, headers=headers
            )

        registry = registry_module.ToolRegistry.from_config(
            {"kubernetes": {"kind": "kubernetes", "base_url": "http://sim/kubernetes"}},
            kinds=registry_module.available_kinds(include_plugins=False),
            client_factory=client_factory,
            clock=world.now,
        )
        made.append(registry)
        return registry

    yield build
    for registry in made:
        await registry.aclose()


async def act(registry: Any, tool: str, args: dict[str, Any]) -> Any:
    adapter, spec = registry.resolve(tool)
    result = await spec.fn(adapter, spec.input_model.model_validate(args))
    assert result.status == "ok", f"{tool}: {result.summary} {result.error}"
    return result


async def test_the_journal_that_fills_a_node_is_found_and_stopped(registry_for: Any) -> None:
    world = world_of("backups-failing-sunday")
    registry = registry_for(world)
    incident = {"sweeper-journal-fills-disk", "backup-writes-fail-on-full-disk"}
    assert set(world.active_faults()) == incident
    nodes = await registry.invoke("kubernetes.list_nodes", {})
    assert nodes.summary == "3 nodes, 1 with problems: node-b DiskPressure"
    pods = await registry.invoke("kubernetes.list_pods", {"namespace": "vault", "label_selector": "app=backup-api"})
    unready = {p["node"] for p in pods.data["pods"] if not p["ready"]}
    assert unready == {"node-b"}
    jobs = await registry.invoke("kubernetes.list_jobs", {"namespace": "vault"})
    [running] = [j for j in jobs.data["jobs"] if j["status"] == "active"]
    assert running["name"] == "block-sweeper-29420180" and running["owner"] == "CronJob/block-sweeper"

    # Wrong: suspending the CronJob leaves its running Job; cordoning node-b frees nothing.
    await act(registry, "kubernetes.suspend_cronjob", {"namespace": "vault", "name": "block-sweeper"})
    await act(registry, "kubernetes.cordon_node", {"name": "node-b"})
    assert set(world.active_faults()) == incident
    # Right: stop the running Job.
    await act(registry, "kubernetes.scale_job", {"namespace": "vault", "name": running["name"], "parallelism": 0})
    assert world.active_faults() == []
    node_b = await registry.invoke("kubernetes.get_node", {"name": "node-b"})
    assert node_b.data["problems"] == ["cordoned"]  # the pressure is gone; the cordon stays until undone


async def test_the_oversized_feature_file_is_reverted_not_rolled_back(registry_for: Any) -> None:
    world = world_of("shield-errors-evening")
    registry = registry_for(world)
    assert "feature-file-over-limit" in world.active_faults()
    pods = await registry.invoke("kubernetes.list_pods", {"namespace": "edge", "label_selector": "app=edge-proxy"})
    crashing = [p for p in pods.data["pods"] if "CrashLoopBackOff" in p["reasons"]]
    assert len(crashing) == 4
    for pod in crashing:
        states = {c["name"]: c["state"] for c in pod["containers"]}
        assert states == {"edge-proxy": "waiting: CrashLoopBackOff", "log-shipper": "running"}
    configmap = await registry.invoke("kubernetes.get_configmap", {"namespace": "edge", "name": "bot-features"})
    assert '"count": 120' in configmap.data["data"]["features.json"]

    # Wrong: the image did not change, and new pods load the same file.
    await act(registry, "kubernetes.rollout_restart", {"namespace": "edge", "name": "edge-proxy"})
    await act(registry, "kubernetes.rollout_undo", {"namespace": "edge", "name": "edge-proxy"})
    assert "feature-file-over-limit" in world.active_faults()
    # Writing some other data is not a revert.
    await act(
        registry,
        "kubernetes.revert_configmap",
        {"namespace": "edge", "name": "bot-features", "data": {"features.json": "{}", "limit.txt": "100"}},
    )
    assert "feature-file-over-limit" in world.active_faults()
    # Right: the previous revision's data.
    previous = load_scenario("shield-errors-evening").kubernetes
    assert previous is not None
    good = dict(previous.configmaps[0].revisions[1].data)
    await act(registry, "kubernetes.revert_configmap", {"namespace": "edge", "name": "bot-features", "data": good})
    assert "feature-file-over-limit" not in world.active_faults()
    assert [a.action for a in world.applied_actions][-2:] == [
        "kubernetes.patch_configmap",
        "kubernetes.revert_configmap",
    ]


async def test_the_leaking_agent_on_every_node_is_reverted_at_its_config(registry_for: Any) -> None:
    world = world_of("volumes-slow-monday")
    registry = registry_for(world)
    incident = {"reporter-buffers-grow", "volume-store-starved"}
    assert set(world.active_faults()) == incident
    nodes = await registry.invoke("kubernetes.list_nodes", {})
    assert [n["problems"] for n in nodes.data["nodes"]] == [["MemoryPressure"]] * 3
    daemonsets = await registry.invoke("kubernetes.list_daemonsets", {"namespace": "ops"})
    assert daemonsets.data["daemonsets"][0]["desired"] == 3
    pods = await registry.invoke("kubernetes.list_pods", {"namespace": "ops", "label_selector": "app=metrics-reporter"})
    for pod in pods.data["pods"]:
        ends = {c["name"]: (c.get("last_termination") or {}).get("reason") for c in pod["containers"]}
        assert ends == {"reporter": "OOMKilled", "node-probe": None}  # the leaking container only
    store = await registry.invoke("kubernetes.get_statefulset", {"namespace": "storage", "name": "volume-store"})
    assert store.data["replicas"] == 3

    # Wrong: cordoning moves nothing; more volume-store replicas land on the same nodes.
    await act(registry, "kubernetes.cordon_node", {"name": "node-a"})
    await act(registry, "kubernetes.scale_statefulset", {"namespace": "storage", "name": "volume-store", "replicas": 4})
    assert set(world.active_faults()) == incident
    assert [a.effect for a in world.applied_actions] == ["none", "none"]
    # Right: point the reporters back at the live collector.
    await act(
        registry,
        "kubernetes.revert_configmap",
        {
            "namespace": "ops",
            "name": "metrics-reporter-config",
            "data": {"reporter.yaml": "collector: stats-collector.ops.svc:9125\nflush_interval: 10s\n"},
        },
    )
    assert world.active_faults() == []
    nodes = await registry.invoke("kubernetes.list_nodes", {})
    assert [n["problems"] for n in nodes.data["nodes"]] == [["cordoned"], [], []]


async def test_removing_volume_store_replicas_makes_it_worse(registry_for: Any) -> None:
    world = world_of("volumes-slow-monday")
    registry = registry_for(world)
    await act(registry, "kubernetes.scale_statefulset", {"namespace": "storage", "name": "volume-store", "replicas": 2})
    [applied] = world.applied_actions
    assert applied.effect == "worsens:volume-store-starved"
    assert "volume-store-starved" in world.active_faults()
