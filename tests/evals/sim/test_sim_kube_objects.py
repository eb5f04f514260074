"""Format v2's Kubernetes objects as the simulator serves them, the PATCHes that change them, and the
production adapter reading and changing them over a loopback socket."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import yaml

from evals.sim import World, create_app, start_sim
from evals.sim.scenario import Scenario, ScenarioError, parse_scenario
from evals.sim.timeutil import SimClock
from tests.evals.sim.conftest import ANCHOR, SCENARIO_PATH

MERGE = {"content-type": "application/merge-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}
K = "/kubernetes"

V2_ADDITIONS: dict[str, Any] = {
    "kubernetes": {
        "nodes": [
            {"name": "node-a"},
            {"name": "node-b", "memory": "16Gi"},
            {"name": "node-c", "unschedulable": True},
        ],
        "workloads": [
            {
                "kind": "StatefulSet",
                "name": "orders-db",
                "namespace": "shop",
                "service": "orders-db",
                "replicas": 3,
                "revision": "5d4f8b",
                "containers": [{"name": "postgres", "image": "postgres:16.4"}],
            },
            {
                "kind": "DaemonSet",
                "name": "log-agent",
                "namespace": "ops",
                "containers": [{"name": "agent", "image": "fluent-bit:3.1.9"}],
            },
            {
                "kind": "Job",
                "name": "reindex",
                "namespace": "shop",
                "parallelism": 2,
                "created_at": "-20m",
                "nodes": ["node-a"],
                "containers": [{"name": "reindex", "image": "ghcr.io/acme/reindex:1.0"}],
            },
            {
                "kind": "CronJob",
                "name": "nightly-report",
                "namespace": "shop",
                "schedule": "0 2 * * *",
                "containers": [{"name": "report", "image": "ghcr.io/acme/report:2.2"}],
                "runs": [
                    {"name": "nightly-report-1", "started_at": "-1d", "duration": "20m"},
                    {"name": "nightly-report-2", "started_at": "-50m"},
                ],
            },
        ],
        "configmaps": [
            {
                "name": "checkout-settings",
                "namespace": "shop",
                "labels": {"app": "checkout"},
                "revisions": [
                    {"at": "-2d", "data": {"POOL_SIZE": "20", "TIMEOUT_MS": "800"}},
                    {
                        "at": "-30m",
                        "data": {"POOL_SIZE": "2", "TIMEOUT_MS": "800", "DEBUG": "1"},
                        "change": "migration-0042",
                    },
                ],
            }
        ],
        "secrets": [
            {
                "name": "db-credentials",
                "namespace": "shop",
                "revisions": [{"at": "-9d", "data": {"password": "hunter2"}}],
            }
        ],
        "services": [
            {
                "name": "orders-db-headless",
                "namespace": "shop",
                "selector": {"app": "orders-db"},
                "ports": [{"port": 5432}],
            }
        ],
        "network_policies": [{"name": "default-deny", "namespace": "shop", "policy_types": ["Ingress", "Egress"]}],
        "hpas": [
            {
                "name": "checkout",
                "namespace": "shop",
                "target_name": "checkout",
                "min_replicas": 3,
                "max_replicas": 10,
                "current_cpu": 91,
                "scaling_limited": True,
            }
        ],
        "resource_quotas": [
            {"name": "shop-quota", "namespace": "shop", "hard": {"pods": "40"}, "used": {"pods": "12"}}
        ],
    },
}


def v2_raw() -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load(SCENARIO_PATH.read_text(encoding="utf-8"))
    raw["version"] = 2
    raw.update(copy.deepcopy(V2_ADDITIONS))
    services = raw["topology"]["services"]
    inventory = next(s for s in services if s["name"] == "inventory")
    inventory["sidecars"] = [{"name": "envoy", "image": "envoyproxy/envoy:v1.30.2", "memory_limit": "128Mi"}]
    inventory["nodes"] = ["node-a", "node-b"]
    services.append(
        {
            "name": "orders-db",
            "kind": "database",
            "namespace": "shop",
            "image": "postgres:16.4",
            "replicas": 3,
            "baseline": {"request_rate": 50},
        }
    )
    raw["faults"] += [
        {
            "id": "envoy-leak",
            "type": "memory_leak",
            "target": "inventory",
            "starts_at": "-10m",
            "effects": {
                "pods": {
                    "container": "envoy",
                    "node": "node-b",
                    "restarts_per_hour": 6,
                    "last_termination_reason": "OOMKilled",
                },
                "node_conditions": [{"node": "node-b", "type": "MemoryPressure"}],
            },
        },
        {
            "id": "one-stale-replica",
            "type": "other",
            "target": "orders-db",
            "background": True,
            "starts_at": "-3d",
            "effects": {"pods": {"affected": 1, "image": "postgres:15.8"}},
        },
    ]
    raw["action_effects"] += [
        {
            "action": "kubernetes.cordon_node",
            "target": {"kind": "Node", "name": "node-b"},
            "effect": "fixes:envoy-leak",
        },
        {
            "action": "kubernetes.scale_job",
            "target": {"kind": "Job", "namespace": "shop", "name": "reindex"},
            "match": {"parallelism": 0},
            "effect": "none",
        },
    ]
    return raw


@pytest.fixture(scope="module")
def v2() -> Scenario:
    return parse_scenario(v2_raw(), origin="v2.yaml")


@pytest.fixture
def world2(v2: Scenario) -> World:
    return World(v2, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2)))


@pytest.fixture
async def kube(world2: World) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(world2))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http


def names(body: dict[str, Any]) -> list[str]:
    return [item["metadata"]["name"] for item in body["items"]]


# -- the format -------------------------------------------------------------------------------------


def test_v2_parses_and_v1_cannot_use_what_v2_added(v2: Scenario) -> None:
    assert v2.version == 2 and v2.kubernetes is not None and v2.node_names == ("node-a", "node-b", "node-c")
    assert v2.workload_for_service("orders-db") == "orders-db" and v2.workload_for_service("checkout") is None
    raw = v2_raw()
    raw["version"] = 1
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw, origin="v1.yaml")
    message = str(caught.value)
    assert "kubernetes: needs version: 2" in message
    assert (
        "sidecars, nodes, env_from_configmaps and mounts_configmaps need version: 2" in message
        and "action_effects[4].target: needs version: 2" in message
    )


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda r: r["kubernetes"]["workloads"][0].update(service="ordres-db"),
            "kubernetes.workloads[0].service: unknown service 'ordres-db'",
        ),
        (
            lambda r: r["kubernetes"]["workloads"][0].update(namespace="web"),
            "kubernetes.workloads[0].namespace: must be the namespace of service",
        ),
        (
            lambda r: r["faults"][-2]["effects"]["pods"].update(container="envoi"),
            "faults[1].effects.pods.container: unknown container of inventory 'envoi'",
        ),
        (
            lambda r: r["faults"][-2]["effects"]["node_conditions"][0].update(node="node-z"),
            "faults[1].effects.node_conditions[0].node: unknown node 'node-z'",
        ),
        (
            lambda r: r["kubernetes"]["configmaps"][0]["revisions"][1].update(change="nope"),
            "kubernetes.configmaps[0].revisions[1].change: unknown change 'nope'",
        ),
        (
            lambda r: r["kubernetes"]["configmaps"][0]["revisions"][1].update(at="-3d"),
            "revisions: must be in time order",
        ),
        (lambda r: r["kubernetes"]["workloads"][3].pop("schedule"), "schedule: required for a CronJob"),
    ],
)
def test_v2_cross_references_name_the_field(mutate: Any, expected: str) -> None:
    raw = v2_raw()
    mutate(raw)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw, origin="v2.yaml")
    assert expected in str(caught.value)


def test_action_targets_match_kind_namespace_and_name(v2: Scenario) -> None:
    rule = v2.effect_for("kubernetes.cordon_node", {"name": "node-b"})
    assert rule is not None and rule.does("fixes", "envoy-leak")
    assert v2.effect_for("kubernetes.cordon_node", {"name": "node-a"}) is None
    assert v2.effect_for("kubernetes.cordon_node", {"name": "node-b", "kind": "Deployment"}) is None
    assert v2.effect_for("kubernetes.scale_job", {"namespace": "shop", "name": "reindex", "parallelism": 0}) is not None
    assert v2.effect_for("kubernetes.scale_job", {"namespace": "web", "name": "reindex", "parallelism": 0}) is None


# -- reading ----------------------------------------------------------------------------------------


async def test_nodes_show_conditions_from_faults_and_cordons(kube: httpx.AsyncClient) -> None:
    body = (await kube.get(f"{K}/api/v1/nodes")).json()
    assert body["kind"] == "NodeList" and names(body) == ["node-a", "node-b", "node-c"]
    node_b = (await kube.get(f"{K}/api/v1/nodes/node-b")).json()
    assert node_b["kind"] == "Node" and node_b["apiVersion"] == "v1"
    conditions = {c["type"]: c for c in node_b["status"]["conditions"]}
    assert conditions["MemoryPressure"]["status"] == "True"
    assert conditions["MemoryPressure"]["reason"] == "KubeletHasInsufficientMemory"
    assert conditions["Ready"]["status"] == "True" and node_b["status"]["allocatable"]["memory"] == "16Gi"
    assert {"key": "node.kubernetes.io/memory-pressure", "effect": "NoSchedule"} in node_b["spec"]["taints"]
    node_c = (await kube.get(f"{K}/api/v1/nodes/node-c")).json()
    assert node_c["spec"]["unschedulable"] is True
    assert (await kube.get(f"{K}/api/v1/nodes/node-z")).status_code == 404


async def test_a_sidecar_leaks_on_one_node_while_the_app_container_is_fine(kube: httpx.AsyncClient) -> None:
    pods = (await kube.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "app=inventory"})).json()[
        "items"
    ]
    by_node = {p["spec"]["nodeName"]: p for p in pods}
    assert set(by_node) == {"node-a", "node-b"}
    sick = {s["name"]: s for s in by_node["node-b"]["status"]["containerStatuses"]}
    healthy = {s["name"]: s for s in by_node["node-a"]["status"]["containerStatuses"]}
    assert sick["envoy"]["lastState"]["terminated"]["reason"] == "OOMKilled" and sick["envoy"]["restartCount"] == 1
    assert sick["inventory"]["restartCount"] == 0 and sick["inventory"]["lastState"] == {}
    assert healthy["envoy"]["restartCount"] == 0 and [c["name"] for c in by_node["node-a"]["spec"]["containers"]] == [
        "inventory",
        "envoy",
    ]


async def test_statefulset_pods_have_ordinals_and_one_runs_a_stale_image(kube: httpx.AsyncClient) -> None:
    statefulset = (await kube.get(f"{K}/apis/apps/v1/namespaces/shop/statefulsets/orders-db")).json()
    assert (statefulset["kind"], statefulset["apiVersion"]) == ("StatefulSet", "apps/v1")
    assert statefulset["spec"]["replicas"] == 3 and statefulset["status"]["currentRevision"] == "orders-db-5d4f8b"
    pods = (await kube.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "app=orders-db"})).json()[
        "items"
    ]
    assert names({"items": pods}) == ["orders-db-0", "orders-db-1", "orders-db-2"]
    images = [p["status"]["containerStatuses"][0]["image"] for p in pods]
    assert images == ["postgres:15.8", "postgres:16.4", "postgres:16.4"]
    assert pods[0]["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    # A service run by a StatefulSet has no Deployment.
    assert (await kube.get(f"{K}/apis/apps/v1/namespaces/shop/deployments/orders-db")).status_code == 404


async def test_a_daemonset_runs_one_pod_per_node(kube: httpx.AsyncClient) -> None:
    daemonset = (await kube.get(f"{K}/apis/apps/v1/namespaces/ops/daemonsets/log-agent")).json()
    assert daemonset["status"]["desiredNumberScheduled"] == 3 and daemonset["status"]["numberReady"] == 3
    pods = (await kube.get(f"{K}/api/v1/namespaces/ops/pods")).json()["items"]
    assert sorted(p["spec"]["nodeName"] for p in pods) == ["node-a", "node-b", "node-c"]


async def test_jobs_and_cronjobs(kube: httpx.AsyncClient) -> None:
    jobs = (await kube.get(f"{K}/apis/batch/v1/namespaces/shop/jobs")).json()
    assert jobs["kind"] == "JobList" and jobs["apiVersion"] == "batch/v1"
    by_name = {j["metadata"]["name"]: j for j in jobs["items"]}
    assert set(by_name) == {"reindex", "nightly-report-1", "nightly-report-2"}
    assert by_name["reindex"]["status"]["active"] == 2 and "ownerReferences" not in by_name["reindex"]["metadata"]
    assert by_name["nightly-report-1"]["status"]["conditions"][0]["type"] == "Complete"
    assert by_name["nightly-report-2"]["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    cron = (await kube.get(f"{K}/apis/batch/v1/namespaces/shop/cronjobs/nightly-report")).json()
    assert cron["spec"]["schedule"] == "0 2 * * *" and cron["spec"]["suspend"] is False
    assert [a["name"] for a in cron["status"]["active"]] == ["nightly-report-2"]
    pods = (await kube.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "job-name=reindex"})).json()
    assert len(pods["items"]) == 2 and {p["spec"]["nodeName"] for p in pods["items"]} == {"node-a"}


async def test_configmap_history_follows_the_clock(v2: Scenario) -> None:
    for minutes, pool in ((-40, "20"), (2, "2")):
        w = World(v2, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=minutes)))
        body = w.kube.objects.get_object("configmaps", "shop", "checkout-settings")
        assert body["data"]["POOL_SIZE"] == pool


async def test_the_other_kinds_in_their_api_shapes(kube: httpx.AsyncClient) -> None:
    secret = (await kube.get(f"{K}/api/v1/namespaces/shop/secrets/db-credentials")).json()
    assert secret["type"] == "Opaque" and secret["data"] == {"password": "aHVudGVyMg=="}
    services = (await kube.get(f"{K}/api/v1/namespaces/shop/services")).json()
    assert {"checkout", "inventory", "orders-db", "orders-db-headless"} <= set(names(services))
    headless = next(s for s in services["items"] if s["metadata"]["name"] == "orders-db-headless")
    assert headless["spec"]["selector"] == {"app": "orders-db"} and headless["spec"]["ports"][0]["port"] == 5432
    policy = (await kube.get(f"{K}/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/default-deny")).json()
    assert policy["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    hpa = (await kube.get(f"{K}/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/checkout")).json()
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["status"]["desiredReplicas"] == 10
    quota = (await kube.get(f"{K}/api/v1/namespaces/shop/resourcequotas")).json()
    assert quota["items"][0]["status"]["used"] == {"pods": "12"}
    namespaces = names((await kube.get(f"{K}/api/v1/namespaces")).json())
    assert {"shop", "ops", "default", "kube-system"} <= set(namespaces)
    # Each kind lives in its own group and version only.
    assert (await kube.get(f"{K}/apis/apps/v1/namespaces/shop/jobs")).status_code == 404
    assert (await kube.get(f"{K}/apis/batch/v1/namespaces/shop/statefulsets")).status_code == 404
    assert (await kube.get(f"{K}/api/v1/namespaces/shop/nodes")).status_code == 404


# -- changing ---------------------------------------------------------------------------------------


async def test_cordoning_a_node_is_an_action_that_can_fix_a_fault(kube: httpx.AsyncClient, world2: World) -> None:
    assert "envoy-leak" in world2.active_faults()
    response = await kube.patch(f"{K}/api/v1/nodes/node-b", json={"spec": {"unschedulable": True}}, headers=STRATEGIC)
    assert response.status_code == 200 and response.json()["spec"]["unschedulable"] is True
    [applied] = world2.applied_actions
    assert (applied.action, applied.args) == ("kubernetes.cordon_node", {"name": "node-b", "kind": "Node"})
    assert "envoy-leak" not in world2.active_faults()
    node_b = (await kube.get(f"{K}/api/v1/nodes/node-b")).json()
    assert {c["type"]: c["status"] for c in node_b["status"]["conditions"]}["MemoryPressure"] == "False"
    again = await kube.patch(f"{K}/api/v1/nodes/node-b", json={"spec": {"unschedulable": True}}, headers=STRATEGIC)
    assert again.status_code == 200 and len(world2.applied_actions) == 1  # no change, no action
    await kube.patch(f"{K}/api/v1/nodes/node-b", json={"spec": {"unschedulable": None}}, headers=STRATEGIC)
    assert world2.applied_actions[-1].action == "kubernetes.uncordon_node"


async def test_scaling_a_statefulset_through_its_scale_subresource(kube: httpx.AsyncClient, world2: World) -> None:
    path = f"{K}/apis/apps/v1/namespaces/shop/statefulsets/orders-db/scale"
    scale = (await kube.get(path)).json()
    assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 3
    response = await kube.patch(path, json={"spec": {"replicas": 5}}, headers=MERGE)
    assert response.json()["spec"]["replicas"] == 5
    [applied] = world2.applied_actions
    assert applied.action == "kubernetes.scale_statefulset" and applied.args["replicas"] == 5
    pods = (await kube.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "app=orders-db"})).json()
    assert len(pods["items"]) == 5
    bad = await kube.patch(
        f"{K}/apis/apps/v1/namespaces/shop/statefulsets/orders-db", json={"spec": {"replicas": -1}}, headers=MERGE
    )
    assert bad.status_code == 422 and bad.json()["reason"] == "Invalid"


async def test_stopping_a_job_and_suspending_a_cronjob(kube: httpx.AsyncClient, world2: World) -> None:
    job = f"{K}/apis/batch/v1/namespaces/shop/jobs/reindex"
    response = await kube.patch(job, json={"spec": {"parallelism": 0}}, headers=MERGE)
    assert response.status_code == 200 and "active" not in response.json()["status"]
    pods = (await kube.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "job-name=reindex"})).json()
    assert pods["items"] == []
    cron = f"{K}/apis/batch/v1/namespaces/shop/cronjobs/nightly-report"
    assert (await kube.patch(cron, json={"spec": {"suspend": True}}, headers=MERGE)).json()["spec"]["suspend"] is True
    actions = [(a.action, a.args, a.effect) for a in world2.applied_actions]
    assert actions == [
        ("kubernetes.scale_job", {"namespace": "shop", "name": "reindex", "kind": "Job", "parallelism": 0}, "none"),
        ("kubernetes.suspend_cronjob", {"namespace": "shop", "name": "nightly-report", "kind": "CronJob"}, "none"),
    ]
    # Suspending the CronJob does not stop the run already going.
    still = (await kube.get(f"{K}/apis/batch/v1/namespaces/shop/jobs/nightly-report-2")).json()
    assert still["status"]["active"] == 1


async def test_writing_a_configmap_back_is_a_revert(kube: httpx.AsyncClient, world2: World) -> None:
    path = f"{K}/api/v1/namespaces/shop/configmaps/checkout-settings"
    current = (await kube.get(path)).json()
    stale = {"metadata": {"resourceVersion": "1"}, "data": {"POOL_SIZE": "20"}}
    assert (await kube.patch(path, json=stale, headers=MERGE)).status_code == 409
    dry = await kube.patch(f"{path}?dryRun=All", json={"data": {"POOL_SIZE": "20"}}, headers=MERGE)
    assert dry.json()["data"]["POOL_SIZE"] == "20" and world2.applied_actions == []
    revert = {
        "metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
        "data": {"POOL_SIZE": "20", "DEBUG": None},
    }
    after = (await kube.patch(path, json=revert, headers=MERGE)).json()
    assert after["data"] == {"POOL_SIZE": "20", "TIMEOUT_MS": "800"}
    assert int(after["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])
    await kube.patch(path, json={"data": {"TIMEOUT_MS": "900"}}, headers=MERGE)
    assert [(a.action, a.args.get("to_revision")) for a in world2.applied_actions] == [
        ("kubernetes.revert_configmap", 1),
        ("kubernetes.patch_configmap", None),
    ]


# -- the production adapter over loopback -------------------------------------------------------------


async def test_the_production_adapter_reads_and_changes_the_v2_cluster(v2: Scenario) -> None:
    registry_module = pytest.importorskip("tools.registry")
    clock = SimClock.frozen(ANCHOR + timedelta(minutes=2))
    sim = start_sim(v2, clock=clock, anchor=ANCHOR)
    registry = registry_module.ToolRegistry.from_config(
        sim.tools_config(kinds=["kubernetes"]), kinds=registry_module.available_kinds(include_plugins=False)
    )

    async def read(tool: str, args: dict[str, Any]) -> Any:
        result = await registry.invoke(tool, args)
        assert result.status == "ok", f"{tool}: {result.summary} {result.error}"
        return result

    async def change(tool: str, args: dict[str, Any]) -> Any:
        adapter, spec = registry.resolve(tool)
        result = await spec.fn(adapter, spec.input_model.model_validate(args))
        assert result.status == "ok", f"{tool}: {result.summary} {result.error}"
        return result

    try:
        nodes = await read("kubernetes.list_nodes", {})
        assert "node-b MemoryPressure" in nodes.summary and "node-c cordoned" in nodes.summary
        shop = {"namespace": "shop"}
        statefulsets = await read("kubernetes.list_statefulsets", shop)
        assert statefulsets.data["statefulsets"][0]["replicas"] == 3
        assert (await read("kubernetes.list_daemonsets", {"namespace": "ops"})).data["daemonsets"][0]["desired"] == 3
        jobs = await read("kubernetes.list_jobs", shop)
        assert {j["name"]: j["status"] for j in jobs.data["jobs"]} == {
            "reindex": "active",
            "nightly-report-2": "active",
            "nightly-report-1": "complete",
        }
        cron = await read("kubernetes.get_cronjob", {**shop, "name": "nightly-report"})
        assert cron.data["active_jobs"] == ["nightly-report-2"]
        configmap = await read("kubernetes.get_configmap", {**shop, "name": "checkout-settings"})
        assert configmap.data["data"]["POOL_SIZE"] == "2"
        history = await read("kubernetes.list_configmap_revisions", {**shop, "name": "checkout-settings"})
        assert [r["data"]["POOL_SIZE"] for r in history.data["revisions"]] == ["20", "2"]  # what a revert writes back
        secrets = await read("kubernetes.list_secrets", shop)
        assert secrets.data["secrets"][0]["keys"] == ["password"] and "hunter2" not in secrets.model_dump_json()
        assert "aHVudGVyMg" not in secrets.model_dump_json()
        services = await read("kubernetes.list_services", shop)
        assert any(s["ports"] == ["5432->5432/TCP"] for s in services.data["services"])
        policies = await read("kubernetes.list_networkpolicies", shop)
        assert policies.data["networkpolicies"][0]["denies_all_ingress"] is True
        hpas = await read("kubernetes.list_hpas", shop)
        assert hpas.data["hpas"][0]["metrics"] == ["cpu 91% of 70% target"]
        quotas = await read("kubernetes.list_resourcequotas", shop)
        assert quotas.data["resourcequotas"][0]["exhausted"] == []
        pods = await read("kubernetes.list_pods", {**shop, "label_selector": "app=inventory"})
        assert "last terminated: OOMKilled" in pods.summary

        await change("kubernetes.scale_statefulset", {**shop, "name": "orders-db", "replicas": 4})
        await change("kubernetes.suspend_cronjob", {**shop, "name": "nightly-report"})
        await change("kubernetes.scale_job", {**shop, "name": "reindex", "parallelism": 0})
        await change(
            "kubernetes.revert_configmap",
            {**shop, "name": "checkout-settings", "data": {"POOL_SIZE": "20", "TIMEOUT_MS": "800"}},
        )
        await change("kubernetes.cordon_node", {"name": "node-b"})
    finally:
        await registry.aclose()
        sim.stop()
    applied = [(a.action, a.effect) for a in sim.world.applied_actions]
    assert applied == [
        ("kubernetes.scale_statefulset", "none"),
        ("kubernetes.suspend_cronjob", "none"),
        ("kubernetes.scale_job", "none"),
        ("kubernetes.revert_configmap", "none"),
        ("kubernetes.cordon_node", "fixes:envoy-leak"),
    ]
    assert sim.world.applied_actions[3].args["to_revision"] == 1
    snapshot = sim.world.snapshot()["kubernetes"]["objects"]
    assert snapshot["statefulsets"] == {"shop/orders-db": 4} and snapshot["nodes"]["node-b"]["unschedulable"] is True
    assert snapshot["configmaps"]["shop/checkout-settings"]["revision"] == 3


async def test_events_of_jobs_cronjobs_statefulsets_and_nodes(kube: httpx.AsyncClient) -> None:
    await kube.patch(f"{K}/api/v1/nodes/node-b", json={"spec": {"unschedulable": True}}, headers=STRATEGIC)
    await kube.patch(
        f"{K}/apis/apps/v1/namespaces/shop/statefulsets/orders-db", json={"spec": {"replicas": 4}}, headers=MERGE
    )
    nodes = (
        await kube.get(f"{K}/api/v1/namespaces/default/events", params={"fieldSelector": "involvedObject.kind=Node"})
    ).json()
    seen = [(e["involvedObject"]["name"], e["reason"]) for e in nodes["items"]]
    # The leak set MemoryPressure; the cordon that fixes it cleared it: all three are on record.
    assert {
        ("node-b", "NodeHasMemoryPressure"),
        ("node-b", "NodeNotSchedulable"),
        ("node-b", "NodeHasNoMemoryPressure"),
    } <= set(seen)
    shop = (await kube.get(f"{K}/api/v1/namespaces/shop/events")).json()["items"]
    about = {(e["involvedObject"]["kind"], e["involvedObject"]["name"], e["reason"]): e["message"] for e in shop}
    assert about[("Job", "reindex", "SuccessfulCreate")].startswith("Created pod: reindex-")
    assert about[("CronJob", "nightly-report", "SuccessfulCreate")] == "Created job nightly-report-2"
    assert (
        about[("StatefulSet", "orders-db", "SuccessfulCreate")]
        == "create Pod orders-db-3 in StatefulSet orders-db successful"
    )
    # Events older than an hour are gone, as the API server's TTL drops them.
    assert ("Job", "nightly-report-1", "Completed") not in about


async def test_evicted_pods_and_a_node_not_ready(v2: Scenario) -> None:
    raw = v2_raw()
    raw["faults"].append(
        {
            "id": "node-c-lost",
            "type": "capacity",
            "target": "inventory",
            "starts_at": "-5m",
            "effects": {
                "pods": {"evicted": True, "affected": 1},
                "node_conditions": [{"node": "node-c", "type": "Ready", "status": "Unknown"}],
            },
        }
    )
    world = World(
        parse_scenario(raw, origin="v2.yaml"), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2))
    )
    pods = world.kube.list_pods("shop", "app=inventory", None)["items"]
    evicted = [p for p in pods if p["status"]["phase"] == "Failed"]
    assert len(evicted) == 1 and evicted[0]["status"]["reason"] == "Evicted"
    assert all(not s["ready"] for s in evicted[0]["status"]["containerStatuses"])
    events = world.kube.events("shop", "reason=Evicted")["items"]
    assert [e["involvedObject"]["name"] for e in events] == [evicted[0]["metadata"]["name"]]
    node_c = world.kube.objects.get_object("nodes", None, "node-c")
    ready = next(c for c in node_c["status"]["conditions"] if c["type"] == "Ready")
    assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
    assert {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"} in node_c["spec"]["taints"]
    node_events = world.kube.events("default", "involvedObject.name=node-c")["items"]
    assert [e["reason"] for e in node_events] == ["NodeNotReady"]


async def test_a_suspended_cronjob_starts_no_new_run(v2: Scenario) -> None:
    raw = v2_raw()
    raw["kubernetes"]["workloads"][3]["runs"].append({"name": "nightly-report-3", "started_at": "+10m"})
    clock = SimClock.frozen(ANCHOR + timedelta(minutes=2))
    world = World(parse_scenario(raw, origin="v2.yaml"), anchor=ANCHOR, clock=clock)
    control = World(
        parse_scenario(raw, origin="v2.yaml"), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=15))
    )
    assert "nightly-report-3" in names(control.kube.objects.list_objects("jobs", "shop", None))
    world.kube.objects.patch(
        "cronjobs", "shop", "nightly-report", b'{"spec": {"suspend": true}}', "application/merge-patch+json"
    )
    clock.advance(13 * 60)
    assert "nightly-report-3" not in names(world.kube.objects.list_objects("jobs", "shop", None))
    assert world.kube.list_pods("shop", "job-name=nightly-report-3", None)["items"] == []


# -- a Deployment's ConfigMaps ------------------------------------------------------------------------


def _reads_settings() -> dict[str, Any]:
    raw = v2_raw()
    checkout = next(s for s in raw["topology"]["services"] if s["name"] == "checkout")
    checkout["env_from_configmaps"] = ["checkout-settings"]
    checkout["mounts_configmaps"] = ["checkout-settings"]
    return raw


async def test_a_deployment_reads_the_configmaps_it_declares_and_the_adapter_sees_them() -> None:
    loaded = parse_scenario(_reads_settings(), origin="v2.yaml")
    w = World(loaded, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(w)), base_url="http://sim") as http:
        pods = (await http.get(f"{K}/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})).json()
        deployment = (await http.get(f"{K}/apis/apps/v1/namespaces/shop/deployments/checkout")).json()
    assert pods["items"]
    for spec in [p["spec"] for p in pods["items"]] + [deployment["spec"]["template"]["spec"]]:
        [app] = [c for c in spec["containers"] if c["name"] == "checkout"]
        assert app["envFrom"] == [{"configMapRef": {"name": "checkout-settings"}}]
        assert app["volumeMounts"] == [
            {"name": "checkout-settings", "mountPath": "/etc/checkout-settings", "readOnly": True}
        ]
        assert {"name": "checkout-settings", "configMap": {"name": "checkout-settings"}} in spec["volumes"]

    registry_module = pytest.importorskip("tools.registry")
    sim = start_sim(loaded, clock=SimClock.frozen(ANCHOR + timedelta(minutes=2)), anchor=ANCHOR)
    registry = registry_module.ToolRegistry.from_config(
        sim.tools_config(kinds=["kubernetes"]), kinds=registry_module.available_kinds(include_plugins=False)
    )
    try:
        result = await registry.invoke("kubernetes.list_pods", {"namespace": "shop", "label_selector": "app=checkout"})
        assert result.status == "ok", result.error
        assert result.data is not None and result.data["pods"]
        assert all(p["configmaps"] == ["checkout-settings"] for p in result.data["pods"])
    finally:
        await registry.aclose()
        sim.stop()


def test_a_deployment_may_read_only_declared_configmaps_of_its_namespace_and_only_in_v2() -> None:
    raw = _reads_settings()
    checkout = next(s for s in raw["topology"]["services"] if s["name"] == "checkout")
    checkout["mounts_configmaps"] = ["checkout-setings"]
    with pytest.raises(ScenarioError, match=r"mounts_configmaps: unknown configmap in shop 'checkout-setings'"):
        parse_scenario(raw, origin="v2.yaml")
    v1 = yaml.safe_load(SCENARIO_PATH.read_text(encoding="utf-8"))
    next(s for s in v1["topology"]["services"] if s["name"] == "checkout")["env_from_configmaps"] = ["x"]
    with pytest.raises(ScenarioError, match="env_from_configmaps and mounts_configmaps need version: 2"):
        parse_scenario(v1, origin="v1.yaml")


def test_a_v2_remediation_must_be_listed_as_waiting_for_approval() -> None:
    raw = v2_raw()
    raw["expected"]["requires_approval"] = []
    with pytest.raises(ScenarioError, match=r"list kubernetes.rollout_undo in expected.requires_approval"):
        parse_scenario(raw, origin="v2.yaml")
    # A v1 file loads as it always did.
    v1 = yaml.safe_load(SCENARIO_PATH.read_text(encoding="utf-8"))
    v1["expected"]["requires_approval"] = []
    assert parse_scenario(v1, origin="v1.yaml").expected.requires_approval == []
