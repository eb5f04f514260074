"""Kubernetes as served by the simulator, and the world changing when a rollout is patched."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from evals.sim import World
from evals.sim.kube import json_patch, label_selector_matches, merge_patch, strategic_merge_patch
from evals.sim.timeutil import SimClock

DEPLOYMENTS = "/kubernetes/apis/apps/v1/namespaces/shop/deployments"
ERROR_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)
JSON_PATCH = {"content-type": "application/json-patch+json"}
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}


def error_ratio(world: World, offset_seconds: float) -> float:
    [sample] = world.promql.instant(ERROR_RATIO, world.at(offset_seconds))["result"]
    return float(sample["value"][1])


async def replicasets(client: httpx.AsyncClient, app: str) -> dict[str, dict[str, Any]]:
    body = (
        await client.get("/kubernetes/apis/apps/v1/namespaces/shop/replicasets", params={"labelSelector": f"app={app}"})
    ).json()
    return {rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs for rs in body["items"]}


async def kubectl_rollout_undo(client: httpx.AsyncClient, name: str, revision: str) -> httpx.Response:
    """What ``kubectl rollout undo --to-revision`` sends: a JSON patch replacing the template."""
    template = copy.deepcopy((await replicasets(client, name))[revision]["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    template["metadata"]["creationTimestamp"] = None  # kubectl serialises the Go zero value
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": {}},
    ]
    return await client.patch(f"{DEPLOYMENTS}/{name}", content=json.dumps(patch), headers=JSON_PATCH)


# ------------------------------------------------------------------------------------------ reading


async def test_pods_are_running_and_ready(client: httpx.AsyncClient) -> None:
    body = (
        await client.get("/kubernetes/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})
    ).json()
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1" and "resourceVersion" in body["metadata"]
    assert len(body["items"]) == 3
    for pod in body["items"]:
        assert "kind" not in pod  # list items carry no kind, as the API server returns them
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert pod["spec"]["containers"][0]["image"] == "ghcr.io/acme/checkout:v2.14.0"
        assert pod["status"]["phase"] == "Running"
        [status] = pod["status"]["containerStatuses"]
        assert status["ready"] is True and status["restartCount"] == 0 and "running" in status["state"]
        assert {"type": "Ready", "status": "True"}.items() <= next(
            c for c in pod["status"]["conditions"] if c["type"] == "Ready"
        ).items()


async def test_deployment_carries_its_revision(client: httpx.AsyncClient) -> None:
    body = (await client.get(f"{DEPLOYMENTS}/checkout")).json()
    assert body["kind"] == "Deployment" and body["apiVersion"] == "apps/v1"
    assert body["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "7"
    assert body["spec"]["replicas"] == 3 and body["spec"]["selector"] == {"matchLabels": {"app": "checkout"}}
    assert body["status"]["readyReplicas"] == 3
    listed = (await client.get(DEPLOYMENTS)).json()
    assert listed["kind"] == "DeploymentList" and [d["metadata"]["name"] for d in listed["items"]] == [
        "checkout",
        "inventory",
        "payments-db",
    ]


async def test_replicasets_record_the_history(client: httpx.AsyncClient) -> None:
    deployment = (await client.get(f"{DEPLOYMENTS}/checkout")).json()
    history = await replicasets(client, "checkout")
    assert set(history) == {"5", "6", "7"}
    images = {rev: rs["spec"]["template"]["spec"]["containers"][0]["image"] for rev, rs in history.items()}
    assert images == {
        "5": "ghcr.io/acme/checkout:v2.13.1",
        "6": "ghcr.io/acme/checkout:v2.13.2",
        "7": "ghcr.io/acme/checkout:v2.14.0",
    }
    for rs in history.values():
        owner = rs["metadata"]["ownerReferences"][0]
        assert (
            owner["kind"] == "Deployment"
            and owner["uid"] == deployment["metadata"]["uid"]
            and owner["controller"] is True
        )
        pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
        assert rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == pod_hash
        assert rs["metadata"]["name"] == f"checkout-{pod_hash}"
    assert [rs["spec"]["replicas"] for rs in (history["5"], history["6"], history["7"])] == [0, 0, 3]


async def test_events_of_the_last_hour(client: httpx.AsyncClient) -> None:
    body = (await client.get("/kubernetes/api/v1/namespaces/shop/events")).json()
    assert body["kind"] == "EventList"
    scaling = [e["message"] for e in body["items"] if e["reason"] == "ScalingReplicaSet"]
    assert any(m.startswith("Scaled up replica set inventory-") for m in scaling)
    assert not any("checkout" in m for m in scaling)  # the checkout deploy is older than the 1 h event TTL
    pods_only = (
        await client.get(
            "/kubernetes/api/v1/namespaces/shop/events", params={"fieldSelector": "involvedObject.kind=Deployment"}
        )
    ).json()["items"]
    assert pods_only and all(e["involvedObject"]["kind"] == "Deployment" for e in pods_only)


async def test_pod_logs_as_text(client: httpx.AsyncClient) -> None:
    pods = (
        await client.get("/kubernetes/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})
    ).json()["items"]
    name = pods[0]["metadata"]["name"]
    response = await client.get(
        f"/kubernetes/api/v1/namespaces/shop/pods/{name}/log", params={"tailLines": "30", "timestamps": "true"}
    )
    assert response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert len(lines) == 30 and any("UndefinedColumn" in line for line in lines)
    assert lines[0].split(" ", 1)[0].endswith("Z")
    previous = await client.get(f"/kubernetes/api/v1/namespaces/shop/pods/{name}/log", params={"previous": "true"})
    assert previous.status_code == 400 and previous.json()["reason"] == "BadRequest"


@pytest.mark.parametrize(
    ("method", "path", "code", "reason", "message"),
    [
        ("GET", f"{DEPLOYMENTS}/nope", 404, "NotFound", 'deployments.apps "nope" not found'),
        ("GET", "/kubernetes/api/v1/namespaces/shop/pods/nope", 404, "NotFound", 'pods "nope" not found'),
        (
            "GET",
            "/kubernetes/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        ("PUT", f"{DEPLOYMENTS}/checkout", 405, "MethodNotAllowed", "does not allow this method"),
    ],
)
async def test_errors_are_status_objects(
    client: httpx.AsyncClient, method: str, path: str, code: int, reason: str, message: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == code
    body = response.json()
    assert (body["kind"], body["status"], body["code"], body["reason"]) == ("Status", "Failure", code, reason)
    assert message in body["message"]


async def test_patch_with_an_unknown_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.patch(
        f"{DEPLOYMENTS}/checkout", content=b"{}", headers={"content-type": "application/json"}
    )
    assert response.status_code == 415 and response.json()["reason"] == "UnsupportedMediaType"


async def test_stale_resource_version_is_a_conflict(client: httpx.AsyncClient, world: World) -> None:
    patch = {"metadata": {"resourceVersion": "1"}, "spec": {"replicas": 4}}
    response = await client.patch(f"{DEPLOYMENTS}/checkout", content=json.dumps(patch), headers=MERGE_PATCH)
    assert response.status_code == 409 and response.json()["reason"] == "Conflict"
    assert world.applied_actions == []


async def test_dry_run_changes_nothing(client: httpx.AsyncClient, world: World) -> None:
    patch = {"spec": {"replicas": 5}}
    response = await client.patch(
        f"{DEPLOYMENTS}/checkout", params={"dryRun": "All"}, content=json.dumps(patch), headers=MERGE_PATCH
    )
    assert response.json()["spec"]["replicas"] == 5
    assert (await client.get(f"{DEPLOYMENTS}/checkout")).json()["spec"]["replicas"] == 3
    assert world.applied_actions == []


async def test_scale_subresource(client: httpx.AsyncClient, world: World) -> None:
    scale = (await client.get(f"{DEPLOYMENTS}/checkout/scale")).json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3} and scale["status"]["selector"] == "app=checkout"
    patched = await client.patch(
        f"{DEPLOYMENTS}/checkout/scale", content=json.dumps({"spec": {"replicas": 5}}), headers=MERGE_PATCH
    )
    assert patched.json()["spec"]["replicas"] == 5
    [applied] = world.applied_actions
    assert (applied.action, applied.args, applied.effect) == (
        "kubernetes.scale",
        {"namespace": "shop", "name": "checkout", "replicas": 5},
        "none",
    )
    pods = (
        await client.get("/kubernetes/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})
    ).json()["items"]
    assert len(pods) == 5


# ---------------------------------------------------------------------------------- state changes


async def test_kubectl_rollout_undo_fixes_checkout_from_that_time_on(
    client: httpx.AsyncClient, world: World, clock: SimClock
) -> None:
    pods_before = {
        p["metadata"]["name"]
        for p in (
            await client.get("/kubernetes/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})
        ).json()["items"]
    }
    response = await kubectl_rollout_undo(client, "checkout", "6")
    assert response.status_code == 200
    deployment = response.json()
    assert (
        deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "8"
    )  # a new revision, as Kubernetes does
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/checkout:v2.13.2"

    [applied] = world.applied_actions
    assert applied.action == "kubernetes.rollout_undo"
    assert applied.args == {"namespace": "shop", "name": "checkout", "to_revision": 6}
    assert applied.effect == "fixes:orders-column-renamed"
    assert world.active_faults() == []

    history = await replicasets(client, "checkout")
    assert set(history) == {"5", "7", "8"}  # revision 6's ReplicaSet now carries revision 8
    assert history["8"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "6"
    pods = (
        await client.get("/kubernetes/api/v1/namespaces/shop/pods", params={"labelSelector": "app=checkout"})
    ).json()["items"]
    assert {p["metadata"]["labels"]["pod-template-hash"] for p in pods} == {
        history["8"]["metadata"]["labels"]["pod-template-hash"]
    }
    assert pods_before.isdisjoint(p["metadata"]["name"] for p in pods)

    clock.advance(15 * 60)
    assert error_ratio(world, 60) == pytest.approx(0.35, abs=0.04)  # before the rollback: unchanged
    assert error_ratio(world, 2 * 60 + 5 * 60 + 15) == pytest.approx(0.002, abs=0.002)  # a full window after it
    signature = await client.get(
        "/loki/loki/api/v1/query_range",
        params={"query": '{app="checkout"} |= "UndefinedColumn"', "start": str(world.at(3 * 60)), "limit": "10"},
    )
    assert signature.json()["data"]["result"] == []


async def test_merge_patch_rollback_like_the_adapter_sends(client: httpx.AsyncClient, world: World) -> None:
    current = (await client.get(f"{DEPLOYMENTS}/checkout")).json()
    template = copy.deepcopy((await replicasets(client, "checkout"))["6"]["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    patch = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]}, "spec": {"template": template}}
    response = await client.patch(f"{DEPLOYMENTS}/checkout", content=json.dumps(patch), headers=MERGE_PATCH)
    assert response.status_code == 200
    assert [a.action for a in world.applied_actions] == ["kubernetes.rollout_undo"]
    assert world.active_faults() == []


async def test_the_same_rollback_twice_acts_once(client: httpx.AsyncClient, world: World) -> None:
    assert (await kubectl_rollout_undo(client, "checkout", "6")).status_code == 200
    template = copy.deepcopy((await replicasets(client, "checkout"))["8"]["spec"]["template"])
    del template["metadata"]["labels"]["pod-template-hash"]
    again = await client.patch(
        f"{DEPLOYMENTS}/checkout",
        content=json.dumps([{"op": "replace", "path": "/spec/template", "value": template}]),
        headers=JSON_PATCH,
    )
    assert again.json()["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "8"
    assert len(world.applied_actions) == 1


async def test_retried_request_with_the_same_key_acts_once(client: httpx.AsyncClient, world: World) -> None:
    body = json.dumps({"spec": {"replicas": 4}})
    await client.patch(f"{DEPLOYMENTS}/checkout/scale", content=body, headers={**MERGE_PATCH, "Idempotency-Key": "k1"})
    await client.patch(
        f"{DEPLOYMENTS}/checkout/scale",
        content=json.dumps({"spec": {"replicas": 6}}),
        headers={**MERGE_PATCH, "Idempotency-Key": "k1"},
    )
    assert len(world.applied_actions) == 1


async def test_rollout_restart_of_checkout_does_not_fix_it(
    client: httpx.AsyncClient, world: World, clock: SimClock
) -> None:
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-20T19:44:00Z"}}}
        }
    }
    response = await client.patch(f"{DEPLOYMENTS}/checkout", content=json.dumps(patch), headers=STRATEGIC)
    deployment = response.json()
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "8"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/checkout:v2.14.0"
    [applied] = world.applied_actions
    assert (applied.action, applied.effect) == ("kubernetes.rollout_restart", "none")
    clock.advance(15 * 60)
    assert world.active_faults() == ["orders-column-renamed"]
    assert error_ratio(world, 15 * 60) == pytest.approx(0.35, abs=0.04)


async def test_rollback_of_inventory_does_not_fix_checkout(
    client: httpx.AsyncClient, world: World, clock: SimClock
) -> None:
    response = await kubectl_rollout_undo(client, "inventory", "11")
    assert response.json()["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/acme/inventory:v5.0.3"
    [applied] = world.applied_actions
    assert (applied.action, applied.args["name"], applied.effect) == ("kubernetes.rollout_undo", "inventory", "none")
    clock.advance(15 * 60)
    assert error_ratio(world, 15 * 60) == pytest.approx(0.35, abs=0.04)


async def test_image_change_is_a_set_image_action(client: httpx.AsyncClient, world: World) -> None:
    patch = {
        "spec": {"template": {"spec": {"containers": [{"name": "checkout", "image": "ghcr.io/acme/checkout:v2.14.1"}]}}}
    }
    response = await client.patch(f"{DEPLOYMENTS}/checkout", content=json.dumps(patch), headers=STRATEGIC)
    container = response.json()["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/checkout:v2.14.1" and container["ports"]  # merged by name, not replaced
    assert [(a.action, a.args["images"]) for a in world.applied_actions] == [
        ("kubernetes.set_image", {"checkout": "ghcr.io/acme/checkout:v2.14.1"})
    ]


# ----------------------------------------------------------------------------------------- helpers


def test_patch_flavours() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "list": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]}
    assert merge_patch(target, {"a": {"b": None, "c": [3]}}) == {"a": {"c": [3]}, "list": target["list"]}
    assert strategic_merge_patch(target, {"list": [{"name": "y", "v": 3}]})["list"] == [
        {"name": "x", "v": 1},
        {"name": "y", "v": 3},
    ]
    patched = json_patch(
        target,
        [
            {"op": "add", "path": "/a/c/-", "value": 9},
            {"op": "remove", "path": "/a/b"},
            {"op": "test", "path": "/a/c/0", "value": 1},
        ],
    )
    assert patched["a"] == {"c": [1, 2, 9]}
    assert target["a"]["b"] == 1  # patches never modify their input


def test_label_selectors() -> None:
    labels = {"app": "checkout", "tier": "web"}
    assert label_selector_matches("app=checkout", labels)
    assert label_selector_matches("app==checkout,tier!=db", labels)
    assert label_selector_matches("tier in (web, api),!canary", labels)
    assert not label_selector_matches("tier notin (web)", labels)
    assert not label_selector_matches("app=inventory", labels)
    assert not label_selector_matches("missing", labels)
