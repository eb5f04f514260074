"""KubernetesAdapter beyond Deployments, against respx in the real API shapes: StatefulSets, DaemonSets,
Jobs, CronJobs, ConfigMaps, Secrets, Services, NetworkPolicies, HPAs, Nodes, ResourceQuotas; and the
mutations that scale, suspend, revert and cordon them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import respx

from tests.tools.conftest import BuildAdapter, grant_for
from tools.kubernetes import (
    ConfigMapList,
    ConfigMapRevisionList,
    ConfigMapState,
    CronJobList,
    DaemonSetList,
    HPAList,
    JobList,
    JobState,
    KubernetesAdapter,
    NetworkPolicyList,
    NodeList,
    ResourceQuotaList,
    SecretList,
    ServiceList,
    StatefulSetList,
    StatefulSetState,
    parse_quantity,
)
from tools.ledger import ActionLedger

BASE = "https://k8s.example:6443"
NOW = datetime(2026, 11, 22, 6, 1, tzinfo=UTC)
SECRET_VALUE = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk"  # base64 of a password: must never reach a result


@pytest.fixture
def k8s(build: BuildAdapter) -> KubernetesAdapter:
    adapter = build(KubernetesAdapter, BASE, max_retries=2)
    assert isinstance(adapter, KubernetesAdapter)
    adapter.clock = lambda: NOW
    return adapter


def listing(kind: str, api_version: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": f"{kind}List",
        "apiVersion": api_version,
        "metadata": {"resourceVersion": "900"},
        "items": list(items),
    }


def job(name: str, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "namespace": "vault",
            "resourceVersion": "812",
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "CronJob", "name": "block-sweeper", "controller": True}
            ],
        },
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "suspend": False,
            "template": {"spec": {"containers": [{"name": "sweeper", "image": "ghcr.io/t/block-sweeper:4.2.0"}]}},
        },
        "status": {"startTime": "2026-11-22T04:20:00Z", **status},
    }


# -- reads --------------------------------------------------------------------------------------------


async def test_list_statefulsets_reads_replicas_and_revisions(k8s: KubernetesAdapter) -> None:
    body = listing(
        "StatefulSet",
        "apps/v1",
        {
            "metadata": {"name": "orders-db", "namespace": "shop", "creationTimestamp": "2026-10-01T00:00:00Z"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "orders-db"}},
                "template": {"spec": {"containers": [{"name": "pg", "image": "postgres:16.4"}]}},
            },
            "status": {
                "readyReplicas": 2,
                "currentReplicas": 3,
                "updatedReplicas": 1,
                "currentRevision": "orders-db-5d4f",
                "updateRevision": "orders-db-7b9c",
            },
        },
    )
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/apis/apps/v1/namespaces/shop/statefulsets").respond(200, json=body)
        result = await k8s.list_statefulsets(k8s.calls["list_statefulsets"].input_model(namespace="shop"))
    assert route.calls.last.request.url.params["limit"] == "500"
    [state] = result.payload(StatefulSetList).statefulsets
    assert (state.replicas, state.ready, state.current_revision, state.update_revision) == (
        3,
        2,
        "orders-db-5d4f",
        "orders-db-7b9c",
    )
    assert state.images == {"pg": "postgres:16.4"} and state.selector == {"app": "orders-db"}
    assert "updating to orders-db-7b9c" in result.summary


async def test_list_daemonsets_counts_nodes(k8s: KubernetesAdapter) -> None:
    body = listing(
        "DaemonSet",
        "apps/v1",
        {
            "metadata": {"name": "log-agent", "namespace": "ops"},
            "spec": {"template": {"spec": {"containers": [{"name": "agent", "image": "fluent-bit:3.1"}]}}},
            "status": {
                "desiredNumberScheduled": 3,
                "currentNumberScheduled": 3,
                "numberReady": 2,
                "numberUnavailable": 1,
            },
        },
    )
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/apps/v1/namespaces/ops/daemonsets").respond(200, json=body)
        result = await k8s.list_daemonsets(k8s.calls["list_daemonsets"].input_model(namespace="ops"))
    [daemonset] = result.payload(DaemonSetList).daemonsets
    assert (daemonset.desired, daemonset.ready, daemonset.unavailable) == (3, 2, 1)
    assert "log-agent 2/3 ready" in result.summary


async def test_list_jobs_tells_active_from_finished_and_who_started_them(k8s: KubernetesAdapter) -> None:
    manual = job("reindex-by-hand", active=2)
    manual["metadata"].pop("ownerReferences")
    manual["status"]["startTime"] = "2026-11-22T05:00:00Z"
    body = listing(
        "Job",
        "batch/v1",
        job(
            "block-sweeper-29419820",
            succeeded=1,
            completionTime="2026-11-21T22:59:00Z",
            conditions=[{"type": "Complete", "status": "True"}],
        ),
        job("block-sweeper-29420180", active=1),
        manual,
        job(
            "block-sweeper-29419460",
            failed=7,
            conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}],
        ),
    )
    body["items"][0]["status"]["startTime"] = "2026-11-21T22:20:00Z"
    body["items"][3]["status"]["startTime"] = "2026-11-21T16:20:00Z"
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/batch/v1/namespaces/vault/jobs").respond(200, json=body)
        result = await k8s.list_jobs(k8s.calls["list_jobs"].input_model(namespace="vault"))
    jobs = result.payload(JobList).jobs
    assert [j.name for j in jobs] == [
        "reindex-by-hand",
        "block-sweeper-29420180",
        "block-sweeper-29419820",
        "block-sweeper-29419460",
    ]  # newest first
    assert [j.status for j in jobs] == ["active", "active", "complete", "failed"]
    assert jobs[0].started_by == "manual" and jobs[0].owner is None and jobs[0].active == 2
    assert jobs[1].started_by == "schedule" and jobs[1].owner == "CronJob/block-sweeper"
    assert jobs[3].conditions == ["Failed: BackoffLimitExceeded"]
    assert "2 active" in result.summary


async def test_list_cronjobs_shows_schedule_suspension_and_running_jobs(k8s: KubernetesAdapter) -> None:
    body = listing(
        "CronJob",
        "batch/v1",
        {
            "metadata": {"name": "block-sweeper", "namespace": "vault"},
            "spec": {"schedule": "20 */6 * * *", "suspend": False, "concurrencyPolicy": "Forbid"},
            "status": {
                "lastScheduleTime": "2026-11-22T04:20:00Z",
                "lastSuccessfulTime": "2026-11-21T22:59:00Z",
                "active": [{"kind": "Job", "name": "block-sweeper-29420180", "namespace": "vault"}],
            },
        },
    )
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/batch/v1/namespaces/vault/cronjobs").respond(200, json=body)
        result = await k8s.list_cronjobs(k8s.calls["list_cronjobs"].input_model(namespace="vault"))
    [cron] = result.payload(CronJobList).cronjobs
    assert cron.schedule == "20 */6 * * *" and not cron.suspended and cron.concurrency_policy == "Forbid"
    assert cron.active_jobs == ["block-sweeper-29420180"]
    assert cron.last_schedule == datetime(2026, 11, 22, 4, 20, tzinfo=UTC)
    assert "running block-sweeper-29420180" in result.summary


async def test_configmaps_list_keys_and_get_reads_data(k8s: KubernetesAdapter) -> None:
    configmap = {
        "metadata": {
            "name": "bot-features",
            "namespace": "edge",
            "resourceVersion": "1009",
            "managedFields": [
                {"manager": "kubectl", "time": "2026-11-02T18:00:00Z"},
                {"manager": "feature-builder", "time": "2026-11-22T17:46:00Z"},
            ],
        },
        "data": {"features.json": '{"count": 120}', "big.txt": "x" * 2500},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/namespaces/edge/configmaps").respond(200, json=listing("ConfigMap", "v1", configmap))
        mock.get("/api/v1/namespaces/edge/configmaps/bot-features").respond(
            200, json={"kind": "ConfigMap", **configmap}
        )
        listed = await k8s.list_configmaps(k8s.calls["list_configmaps"].input_model(namespace="edge"))
        one = await k8s.get_configmap(k8s.calls["get_configmap"].input_model(namespace="edge", name="bot-features"))
    [summary] = listed.payload(ConfigMapList).configmaps
    assert summary.keys == ["big.txt", "features.json"] and summary.data is None  # a list shows keys only
    assert summary.last_written == datetime(2026, 11, 22, 17, 46, tzinfo=UTC)  # the newest write
    state = one.payload(ConfigMapState)
    assert state.data is not None and state.data["features.json"] == '{"count": 120}'
    assert len(state.data["big.txt"]) == 2000 and state.truncated == ["big.txt"]
    assert state.resource_version == "1009"


def controller_revision(
    owner: str, number: int, at: str, data: dict[str, str], kind: str = "ConfigMap"
) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"{owner}-{number}",
            "namespace": "edge",
            "creationTimestamp": at,
            "ownerReferences": [{"apiVersion": "v1", "kind": kind, "name": owner, "uid": "u"}],
        },
        "revision": number,
        "data": {"data": data},
    }


async def test_configmap_revisions_come_from_the_controller_revisions_it_owns(k8s: KubernetesAdapter) -> None:
    items = [
        controller_revision("bot-features", 3, "2026-11-22T17:46:00Z", {"count": "120"}),
        controller_revision("bot-features", 1, "2026-11-02T18:00:00Z", {"count": "58", "big": "x" * 2500}),
        controller_revision("other-settings", 7, "2026-11-22T10:00:00Z", {"count": "1"}),
        controller_revision("web", 2, "2026-11-22T10:00:00Z", {"count": "1"}, kind="StatefulSet"),
    ]
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/apps/v1/namespaces/edge/controllerrevisions").respond(
            200, json=listing("ControllerRevision", "apps/v1", *items)
        )
        result = await k8s.list_configmap_revisions(
            k8s.calls["list_configmap_revisions"].input_model(namespace="edge", name="bot-features")
        )
    revisions = result.payload(ConfigMapRevisionList).revisions
    assert [r.revision for r in revisions] == [1, 3]  # oldest first; another ConfigMap's and a StatefulSet's left out
    assert revisions[1].data == {"count": "120"} and revisions[1].written == datetime(2026, 11, 22, 17, 46, tzinfo=UTC)
    assert revisions[0].truncated == ["big"]  # a clipped value: writing it back would corrupt it


async def test_secrets_show_keys_never_values(k8s: KubernetesAdapter) -> None:
    secret = {
        "metadata": {"name": "db-credentials", "namespace": "shop", "resourceVersion": "77"},
        "type": "Opaque",
        "data": {"password": SECRET_VALUE, "username": "YXBw"},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/namespaces/shop/secrets").respond(200, json=listing("Secret", "v1", secret))
        mock.get("/api/v1/namespaces/shop/secrets/db-credentials").respond(200, json=secret)
        listed = await k8s.list_secrets(k8s.calls["list_secrets"].input_model(namespace="shop"))
        one = await k8s.get_secret(k8s.calls["get_secret"].input_model(namespace="shop", name="db-credentials"))
    [state] = listed.payload(SecretList).secrets
    assert state.keys == ["password", "username"] and state.resource_version == "77"
    for result in (listed, one):
        assert SECRET_VALUE not in result.model_dump_json() and "YXBw" not in result.model_dump_json()


async def test_services_and_network_policies(k8s: KubernetesAdapter) -> None:
    service = {
        "metadata": {"name": "checkout", "namespace": "shop"},
        "spec": {
            "type": "ClusterIP",
            "clusterIP": "10.96.4.7",
            "selector": {"app": "checkout"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
        },
    }
    deny_all = {
        "metadata": {"name": "default-deny", "namespace": "shop"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    }
    allow = {
        "metadata": {"name": "db-from-api", "namespace": "shop"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "orders-db"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "checkout"}}}]}],
        },
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/namespaces/shop/services").respond(200, json=listing("Service", "v1", service))
        mock.get("/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies").respond(
            200, json=listing("NetworkPolicy", "networking.k8s.io/v1", deny_all, allow)
        )
        services = await k8s.list_services(k8s.calls["list_services"].input_model(namespace="shop"))
        policies = await k8s.list_networkpolicies(k8s.calls["list_networkpolicies"].input_model(namespace="shop"))
    [svc] = services.payload(ServiceList).services
    assert svc.ports == ["80->8080/TCP"] and svc.selector == {"app": "checkout"} and svc.cluster_ip == "10.96.4.7"
    deny, allowed = policies.payload(NetworkPolicyList).networkpolicies
    assert deny.denies_all_ingress and deny.denies_all_egress and deny.pod_selector == {}
    assert not allowed.denies_all_ingress and allowed.ingress == [
        '{"from":[{"podSelector":{"matchLabels":{"app":"checkout"}}}]}'
    ]
    assert "default-deny on every pod (Ingress/Egress, denies all ingress, denies all egress)" in policies.summary


async def test_hpas_show_metrics_against_targets(k8s: KubernetesAdapter) -> None:
    hpa = {
        "metadata": {"name": "edge-proxy", "namespace": "edge"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "edge-proxy"},
            "minReplicas": 6,
            "maxReplicas": 12,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}},
                },
                {
                    "type": "Resource",
                    "resource": {"name": "memory", "target": {"type": "Utilization", "averageUtilization": 80}},
                },
            ],
        },
        "status": {
            "currentReplicas": 12,
            "desiredReplicas": 12,
            "currentMetrics": [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 95}}}
            ],
            "conditions": [{"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas"}],
        },
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/autoscaling/v2/namespaces/edge/horizontalpodautoscalers").respond(
            200, json=listing("HorizontalPodAutoscaler", "autoscaling/v2", hpa)
        )
        result = await k8s.list_hpas(k8s.calls["list_hpas"].input_model(namespace="edge"))
    [state] = result.payload(HPAList).hpas
    assert state.target == "Deployment/edge-proxy" and (state.min_replicas, state.max_replicas) == (6, 12)
    assert state.metrics == ["cpu 95% of 70% target", "memory: no current value (target 80%)"]
    assert state.conditions == ["ScalingLimited=True (TooManyReplicas)"]


def node(name: str, *, pressure: str | None = None, ready: str = "True", unschedulable: bool = False) -> dict[str, Any]:
    conditions = [
        {
            "type": t,
            "status": "True" if t == pressure else "False",
            "reason": "x",
            "lastTransitionTime": "2026-11-22T05:50:00Z",
        }
        for t in ("MemoryPressure", "DiskPressure", "PIDPressure")
    ]
    conditions.append({"type": "Ready", "status": ready, "reason": "KubeletReady"})
    spec: dict[str, Any] = (
        {"taints": [{"key": "node.kubernetes.io/disk-pressure", "effect": "NoSchedule"}]} if pressure else {}
    )
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "metadata": {"name": name, "resourceVersion": "55"},
        "spec": spec,
        "status": {
            "allocatable": {"cpu": "7910m", "memory": "31Gi", "ephemeral-storage": "190Gi", "pods": "110"},
            "conditions": conditions,
            "nodeInfo": {"kubeletVersion": "v1.31.2"},
        },
    }


async def test_list_nodes_names_pressure_not_ready_and_cordons(k8s: KubernetesAdapter) -> None:
    body = listing(
        "Node",
        "v1",
        node("node-a"),
        node("node-b", pressure="DiskPressure"),
        node("node-c", ready="Unknown", unschedulable=True),
    )
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/nodes").respond(200, json=body)
        result = await k8s.list_nodes(k8s.calls["list_nodes"].input_model())
    a, b, c = result.payload(NodeList).nodes
    assert a.ready and a.problems == []
    assert b.ready and b.problems == ["DiskPressure"] and b.taints == ["node.kubernetes.io/disk-pressure:NoSchedule"]
    assert not c.ready and c.problems == ["Ready=Unknown", "cordoned"] and c.unschedulable
    assert b.allocatable["ephemeral-storage"] == "190Gi" and b.kubelet_version == "v1.31.2"
    assert "3 nodes, 2 with problems: node-b DiskPressure; node-c Ready=Unknown, cordoned" == result.summary


async def test_resource_quotas_name_what_is_exhausted(k8s: KubernetesAdapter) -> None:
    quota = {
        "metadata": {"name": "batch-quota", "namespace": "batch"},
        "spec": {"hard": {"pods": "20", "requests.memory": "64Gi", "requests.cpu": "16"}},
        "status": {
            "hard": {"pods": "20", "requests.memory": "64Gi", "requests.cpu": "16"},
            "used": {"pods": "20", "requests.memory": "65536Mi", "requests.cpu": "15500m"},
        },
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/namespaces/batch/resourcequotas").respond(200, json=listing("ResourceQuota", "v1", quota))
        result = await k8s.list_resourcequotas(k8s.calls["list_resourcequotas"].input_model(namespace="batch"))
    [state] = result.payload(ResourceQuotaList).resourcequotas
    assert state.exhausted == ["pods", "requests.memory"]  # 65536Mi is 64Gi; 15.5 CPUs are below 16


def test_quantities() -> None:
    assert parse_quantity("500m") == Decimal("0.5")
    assert parse_quantity("64Gi") == parse_quantity("65536Mi") == Decimal(64 * 2**30)
    assert parse_quantity("2k") == 2000 and parse_quantity("nonsense") is None and parse_quantity("5Qi") is None


async def test_an_empty_list_is_no_data(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/batch/v1/namespaces/vault/cronjobs").respond(200, json=listing("CronJob", "batch/v1"))
        result = await k8s.list_cronjobs(k8s.calls["list_cronjobs"].input_model(namespace="vault"))
    assert result.status == "no_data" and result.summary == "no cronjobs in vault"


async def test_a_missing_object_is_reported_with_the_status_message(k8s: KubernetesAdapter) -> None:
    status = {
        "kind": "Status",
        "status": "Failure",
        "reason": "NotFound",
        "message": 'nodes "node-z" not found',
        "code": 404,
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/nodes/node-z").respond(404, json=status)
        result = await k8s.invoke("get_node", {"name": "node-z"})
    assert result.status == "error" and result.error is not None
    assert 'Kubernetes NotFound: nodes "node-z" not found' in result.error.message


# -- mutations ----------------------------------------------------------------------------------------


async def test_scale_statefulset_patches_its_scale_subresource(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "orders-db", "replicas": 5}
    grant = grant_for(ledger, k8s, "scale_statefulset", args)
    scale = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "orders-db"},
        "spec": {"replicas": 3},
    }
    path = "/apis/apps/v1/namespaces/shop/statefulsets/orders-db/scale"
    with respx.mock(base_url=BASE) as mock:
        mock.get(path).respond(200, json=scale)
        patch = mock.patch(path).respond(200, json=scale | {"spec": {"replicas": 5}})
        result = await k8s.invoke("scale_statefulset", args, grant=grant)
    request = patch.calls.last.request
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request.content) == {"spec": {"replicas": 5}}
    assert result.data is not None and (result.data["previous_replicas"], result.data["replicas"]) == (3, 5)


async def test_a_mutation_without_a_grant_waits_for_approval(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.route()
        result = await k8s.invoke("cordon_node", {"name": "node-b"})
    assert result.status == "approval_required" and not route.called


@pytest.mark.parametrize(("call", "suspend"), [("suspend_cronjob", True), ("resume_cronjob", False)])
async def test_suspend_and_resume_a_cronjob(
    k8s: KubernetesAdapter, ledger: ActionLedger, call: str, suspend: bool
) -> None:
    args = {"namespace": "vault", "name": "block-sweeper"}
    grant = grant_for(ledger, k8s, call, args)
    path = "/apis/batch/v1/namespaces/vault/cronjobs/block-sweeper"
    before = {"metadata": {"name": "block-sweeper"}, "spec": {"schedule": "20 */6 * * *", "suspend": not suspend}}
    after = {
        "metadata": {"name": "block-sweeper"},
        "spec": {"schedule": "20 */6 * * *", "suspend": suspend},
        "status": {"active": [{"name": "block-sweeper-29420180"}]},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(path).respond(200, json=before)
        patch = mock.patch(path).respond(200, json=after)
        result = await k8s.invoke(call, args, grant=grant)
    assert json.loads(patch.calls.last.request.content) == {"spec": {"suspend": suspend}}
    assert (
        result.data is not None
        and result.data["suspended"] is suspend
        and result.data["suspended_before"] is not suspend
    )
    if suspend:
        assert "not the running Jobs" in result.summary and "block-sweeper-29420180" in result.summary


async def test_scale_job_to_zero_stops_its_pods_and_keeps_the_job(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "vault", "name": "block-sweeper-29420180", "parallelism": 0}
    grant = grant_for(ledger, k8s, "scale_job", args)
    path = "/apis/batch/v1/namespaces/vault/jobs/block-sweeper-29420180"
    stopped = job("block-sweeper-29420180")
    stopped["spec"]["parallelism"] = 0
    with respx.mock(base_url=BASE) as mock:
        mock.get(path).respond(200, json=job("block-sweeper-29420180", active=1))
        patch = mock.patch(path).respond(200, json=stopped)
        result = await k8s.invoke("scale_job", args, grant=grant)
    request = patch.calls.last.request
    assert request.method == "PATCH" and request.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request.content) == {"spec": {"parallelism": 0}}
    assert result.data is not None and (result.data["previous_parallelism"], result.data["parallelism"]) == (1, 0)
    assert "CronJob/block-sweeper, which will start new runs unless suspended" in result.summary


async def test_scale_job_refuses_a_finished_job(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "vault", "name": "block-sweeper-29419820", "parallelism": 0}
    grant = grant_for(ledger, k8s, "scale_job", args)
    done = job("block-sweeper-29419820", succeeded=1, conditions=[{"type": "Complete", "status": "True"}])
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get("/apis/batch/v1/namespaces/vault/jobs/block-sweeper-29419820").respond(200, json=done)
        patch = mock.patch("/apis/batch/v1/namespaces/vault/jobs/block-sweeper-29419820")
        result = await k8s.invoke("scale_job", args, grant=grant)
    assert (
        result.status == "error" and result.error is not None and "already finished (complete)" in result.error.message
    )
    assert not patch.called


async def test_revert_configmap_writes_exactly_the_given_data(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    good = {"features.json": '{"count": 60}', "limit.txt": "100"}
    args = {"namespace": "edge", "name": "bot-features", "data": good}
    grant = grant_for(ledger, k8s, "revert_configmap", args)
    path = "/api/v1/namespaces/edge/configmaps/bot-features"
    current = {
        "metadata": {"name": "bot-features", "resourceVersion": "1009"},
        "data": {"features.json": '{"count": 120}', "limit.txt": "100", "debug.txt": "added by the bad revision"},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(path).respond(200, json=current)
        patch = mock.patch(path).respond(
            200, json={"metadata": {"name": "bot-features", "resourceVersion": "1011"}, "data": good}
        )
        result = await k8s.invoke("revert_configmap", args, grant=grant)
    sent = json.loads(patch.calls.last.request.content)
    # A merge patch that removes the key the bad revision added and pins the version it read.
    assert sent == {
        "data": {"features.json": '{"count": 60}', "limit.txt": "100", "debug.txt": None},
        "metadata": {"resourceVersion": "1009"},
    }
    assert result.data is not None and result.data["changed_keys"] == ["debug.txt", "features.json"]
    assert result.data["previous_data"]["features.json"] == '{"count": 120}'
    assert (result.data["resource_version_before"], result.data["resource_version"]) == ("1009", "1011")


async def test_revert_configmap_refuses_a_stale_version_and_skips_a_no_op(
    k8s: KubernetesAdapter, ledger: ActionLedger
) -> None:
    path = "/api/v1/namespaces/edge/configmaps/bot-features"
    current = {"metadata": {"name": "bot-features", "resourceVersion": "1012"}, "data": {"a": "1"}}
    stale = {"namespace": "edge", "name": "bot-features", "data": {"a": "0"}, "resource_version": "1009"}
    same = {"namespace": "edge", "name": "bot-features", "data": {"a": "1"}}
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(path).respond(200, json=current)
        patch = mock.patch(path)
        refused = await k8s.invoke("revert_configmap", stale, grant=grant_for(ledger, k8s, "revert_configmap", stale))
        skipped = await k8s.invoke(
            "revert_configmap", same, grant=grant_for(ledger, k8s, "revert_configmap", same, action_id="act-2")
        )
    assert (
        refused.status == "error"
        and refused.error is not None
        and "resourceVersion 1012, not 1009" in refused.error.message
    )
    assert skipped.status == "ok" and skipped.data is not None and skipped.data["skipped"] is True
    assert not patch.called


@pytest.mark.parametrize(("call", "sent"), [("cordon_node", True), ("uncordon_node", None)])
async def test_cordon_and_uncordon_a_node(
    k8s: KubernetesAdapter, ledger: ActionLedger, call: str, sent: bool | None
) -> None:
    grant = grant_for(ledger, k8s, call, {"name": "node-b"})
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/nodes/node-b").respond(200, json=node("node-b", unschedulable=sent is None))
        patch = mock.patch("/api/v1/nodes/node-b").respond(200, json=node("node-b", unschedulable=bool(sent)))
        result = await k8s.invoke(call, {"name": "node-b"}, grant=grant)
    request = patch.calls.last.request
    assert request.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert json.loads(request.content) == {"spec": {"unschedulable": sent}}
    assert result.data is not None and result.data["unschedulable"] is bool(sent)


def test_the_new_mutations_declare_their_safety() -> None:
    calls = KubernetesAdapter.calls
    expected = {
        "scale_statefulset": ("scale", "service"),
        "suspend_cronjob": ("suspend", "single_resource"),
        "resume_cronjob": ("resume", "single_resource"),
        "scale_job": ("scale", "single_resource"),
        "revert_configmap": ("config_revert", "namespace"),
        "cordon_node": ("cordon", "cluster"),
        "uncordon_node": ("cordon", "cluster"),
    }
    for name, (action_class, blast_radius) in expected.items():
        safety = calls[name].safety
        assert safety.mutating and safety.reversible and safety.undo and safety.approval_tier == "approve", name
        assert (safety.action_class, safety.blast_radius) == (action_class, blast_radius), name
    reads = [name for name in calls if name.startswith(("list_", "get_"))]
    assert len(reads) >= 19 and not any(calls[name].safety.mutating for name in reads)


async def test_get_one_job_and_one_statefulset(k8s: KubernetesAdapter) -> None:
    manual = job("reindex-by-hand", active=3)
    manual["metadata"]["ownerReferences"] = []
    manual["spec"]["suspend"] = True
    statefulset = {
        "metadata": {"name": "orders-db", "namespace": "shop"},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "pg", "image": "postgres:16.4"}]}}},
        "status": {"readyReplicas": 2, "currentRevision": "orders-db-5d4f", "updateRevision": "orders-db-5d4f"},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/apis/batch/v1/namespaces/vault/jobs/reindex-by-hand").respond(200, json=manual)
        mock.get("/apis/apps/v1/namespaces/shop/statefulsets/orders-db").respond(200, json=statefulset)
        one_job = await k8s.invoke("get_job", {"namespace": "vault", "name": "reindex-by-hand"})
        one_set = await k8s.invoke("get_statefulset", {"namespace": "shop", "name": "orders-db"})
    state = one_job.payload(JobState)
    assert (state.status, state.suspended, state.started_by, state.owner) == ("suspended", True, "manual", None)
    assert one_set.payload(StatefulSetState).ready == 2 and "updating" not in one_set.summary
