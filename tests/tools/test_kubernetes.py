"""KubernetesAdapter against respx: reads, kubectl-style rollback/restart/scale, grants and errors."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.actions import args_hash_for, execute_action
from tools.kubernetes import (
    DeploymentRef,
    DeploymentState,
    EventList,
    KubernetesAdapter,
    KubernetesSettings,
    ListPodsInput,
    PodList,
    ReplicaSetList,
    merge_patch_replacing,
)
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry

BASE = "https://k8s.example:6443"
DEP_PATH = "/apis/apps/v1/namespaces/shop/deployments/checkout"
RS_PATH = "/apis/apps/v1/namespaces/shop/replicasets"
PODS_PATH = "/api/v1/namespaces/shop/pods"
EVENTS_PATH = "/api/v1/namespaces/shop/events"
NOW = datetime(2026, 11, 20, 10, 5, 0, 123456, tzinfo=UTC)
DEP_UID = "0b6e4c1a-dep"

GOOD_TEMPLATE = {
    "metadata": {"labels": {"app": "checkout"}, "creationTimestamp": None},
    "spec": {"containers": [{"name": "checkout", "image": "registry/checkout:1.4.2"}]},
}
# Revision 7 changed the image, added an env var, a sidecar and a template annotation.
BAD_TEMPLATE = {
    "metadata": {
        "labels": {"app": "checkout"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-19T08:00:00Z"},
    },
    "spec": {
        "containers": [
            {
                "name": "checkout",
                "image": "registry/checkout:1.4.3",
                "env": [{"name": "FEATURE_X", "value": "on"}],
            },
            {"name": "envoy", "image": "envoyproxy/envoy:v1.30"},
        ]
    },
}


def deployment(*, revision: int = 7, paused: bool = False, template: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {
            "name": "checkout",
            "namespace": "shop",
            "uid": DEP_UID,
            "resourceVersion": "4242",
            "generation": 9,
            "annotations": {
                "deployment.kubernetes.io/revision": str(revision),
                "kubernetes.io/change-cause": "deploy 1.4.3",
                "team": "payments",
            },
        },
        "spec": {
            "replicas": 3,
            "paused": paused,
            "selector": {"matchLabels": {"app": "checkout"}},
            "strategy": {"type": "RollingUpdate"},
            "template": copy.deepcopy(template if template is not None else BAD_TEMPLATE),
        },
        "status": {
            "observedGeneration": 9,
            "replicas": 3,
            "readyReplicas": 1,
            "updatedReplicas": 3,
            "availableReplicas": 1,
            "unavailableReplicas": 2,
            "conditions": [
                {
                    "type": "Available",
                    "status": "False",
                    "reason": "MinimumReplicasUnavailable",
                    "message": "...",
                },
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "NewReplicaSetAvailable",
                    "message": "...",
                },
            ],
        },
    }


def replicaset(
    name: str,
    revision: int,
    template: dict[str, Any],
    *,
    owner_uid: str = DEP_UID,
    replicas: int = 0,
    change_cause: str | None = None,
) -> dict[str, Any]:
    template = copy.deepcopy(template)
    template["metadata"]["labels"]["pod-template-hash"] = name.rsplit("-", 1)[1]
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    return {
        "metadata": {
            "name": name,
            "namespace": "shop",
            "creationTimestamp": f"2026-11-{10 + revision}T09:00:00Z",
            "annotations": annotations,
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "name": "checkout",
                    "uid": owner_uid,
                    "controller": True,
                }
            ],
        },
        "spec": {"replicas": replicas, "template": template},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
    }


RS_HISTORY = {
    "kind": "ReplicaSetList",
    "metadata": {"resourceVersion": "1"},
    "items": [
        replicaset("checkout-5f7d", 5, GOOD_TEMPLATE),
        replicaset("checkout-7a9c", 7, BAD_TEMPLATE, replicas=3),
        replicaset("checkout-6c8b", 6, GOOD_TEMPLATE, change_cause="deploy 1.4.2"),
        replicaset("other-4d2e", 9, GOOD_TEMPLATE, owner_uid="someone-else"),  # same labels, other owner
    ],
}


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, to check what the API server would make of the patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result


@pytest.fixture
def k8s(build: BuildAdapter) -> KubernetesAdapter:
    adapter = build(KubernetesAdapter, BASE, max_retries=2, verify_tls=False)
    assert isinstance(adapter, KubernetesAdapter)
    assert isinstance(adapter.settings, KubernetesSettings) and adapter.settings.verify_tls is False
    adapter.clock = lambda: NOW
    return adapter


# -- reads --------------------------------------------------------------------------------------------


async def test_list_pods_summarizes_crashloop_and_oom(k8s: KubernetesAdapter) -> None:
    pods = {
        "kind": "PodList",
        "metadata": {"resourceVersion": "12345", "continue": ""},
        "items": [
            {
                "metadata": {
                    "name": "checkout-7a9c-abc",
                    "ownerReferences": [{"kind": "ReplicaSet", "name": "checkout-7a9c"}],
                },
                "spec": {
                    "nodeName": "node-a",
                    "containers": [{"name": "checkout", "image": "registry/checkout:1.4.3"}],
                },
                "status": {
                    "phase": "Running",
                    "startTime": "2026-11-20T09:50:00Z",
                    "conditions": [{"type": "Ready", "status": "False"}],
                    "containerStatuses": [
                        {
                            "name": "checkout",
                            "image": "registry/checkout:1.4.3",
                            "ready": False,
                            "restartCount": 7,
                            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}},
                            "lastState": {
                                "terminated": {
                                    "reason": "OOMKilled",
                                    "exitCode": 137,
                                    "finishedAt": "2026-11-20T10:00:40Z",
                                }
                            },
                        }
                    ],
                },
            },
            {
                "metadata": {"name": "checkout-7a9c-def"},
                "spec": {
                    "nodeName": "node-b",
                    "containers": [{"name": "checkout", "image": "registry/checkout:1.4.3"}],
                },
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        {"name": "checkout", "ready": True, "restartCount": 0, "state": {"running": {}}}
                    ],
                },
            },
        ],
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PODS_PATH).respond(200, json=pods)
        result = await k8s.invoke("list_pods", {"namespace": "shop", "label_selector": "app=checkout"})

    request = route.calls.last.request
    assert request.url.params["labelSelector"] == "app=checkout"
    assert request.url.params["limit"] == "500"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert result.status == "ok"
    assert result.query == f"GET {PODS_PATH}"
    first = result.data["pods"][0]
    assert first["ready"] is False and first["phase"] == "Running"
    assert first["restarts"] == 7
    assert first["reasons"] == ["CrashLoopBackOff", "last terminated: OOMKilled"]
    assert first["owner"] == "ReplicaSet/checkout-7a9c"
    assert first["containers"][0]["last_terminated"].startswith("OOMKilled (exit 137)")
    assert first["containers"][0]["state"] == "waiting: CrashLoopBackOff"
    assert result.data["pods"][1]["ready"] is True
    assert "1 ready, 1 not ready" in result.summary
    assert "CrashLoopBackOff x1" in result.summary and "OOMKilled" in result.summary
    assert "registry/checkout:1.4.3 x2" in result.summary


async def test_list_pods_empty_is_no_data(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(PODS_PATH).respond(200, json={"kind": "PodList", "metadata": {}, "items": []})
        result = await k8s.invoke("list_pods", {"namespace": "shop", "label_selector": "app=ghost"})
    assert result.status == "no_data"
    assert result.summary == "no pods in shop matching app=ghost"


async def test_get_deployment(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        result = await k8s.invoke("get_deployment", {"namespace": "shop", "name": "checkout"})
    assert result.status == "ok"
    assert result.query == f"GET {DEP_PATH}"
    data = result.data
    assert (data["revision"], data["replicas"], data["ready"], data["paused"]) == (7, 3, 1, False)
    assert data["images"] == {"checkout": "registry/checkout:1.4.3", "envoy": "envoyproxy/envoy:v1.30"}
    assert data["selector"] == {"app": "checkout"}
    assert "revision 7: 1/3 ready" in result.summary and "Available=False" in result.summary


async def test_missing_deployment_reports_the_status_message_once(k8s: KubernetesAdapter) -> None:
    status = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'deployments.apps "checkout" not found',
        "reason": "NotFound",
        "details": {"name": "checkout", "group": "apps", "kind": "deployments"},
        "code": 404,
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(DEP_PATH).respond(404, json=status)
        result = await k8s.invoke("get_deployment", {"namespace": "shop", "name": "checkout"})
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None
    assert 'Kubernetes NotFound: deployments.apps "checkout" not found' in result.error.message
    assert result.error.upstream_status == 404


async def test_list_replicasets_newest_revision_first(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        result = await k8s.invoke("list_replicasets", {"namespace": "shop", "label_selector": "app=checkout"})
    assert route.calls.last.request.url.params["labelSelector"] == "app=checkout"
    sets = result.data["replicasets"]
    assert [rs["revision"] for rs in sets] == [9, 7, 6, 5]
    rev6 = sets[2]
    assert rev6["name"] == "checkout-6c8b"
    assert rev6["images"] == {"checkout": "registry/checkout:1.4.2"}
    assert rev6["change_cause"] == "deploy 1.4.2"
    assert rev6["created"] == "2026-11-16T09:00:00Z"
    assert "newest revision first" in result.summary


async def test_list_events_filters_by_involved_object(k8s: KubernetesAdapter) -> None:
    events = {
        "items": [
            {
                "type": "Normal",
                "reason": "Pulled",
                "message": "Container image pulled",
                "involvedObject": {"kind": "Pod", "name": "checkout-7a9c-abc"},
                "count": 1,
                "firstTimestamp": "2026-11-20T09:50:00Z",
                "lastTimestamp": "2026-11-20T09:50:00Z",
            },
            {
                "type": "Warning",
                "reason": "BackOff",
                "message": "Back-off restarting failed container",
                "involvedObject": {"kind": "Pod", "name": "checkout-7a9c-abc"},
                "count": 14,
                "firstTimestamp": "2026-11-20T09:52:00Z",
                "lastTimestamp": "2026-11-20T10:04:00Z",
            },
        ]
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(EVENTS_PATH).respond(200, json=events)
        result = await k8s.invoke(
            "list_events", {"namespace": "shop", "involved_kind": "Pod", "involved_name": "checkout-7a9c-abc"}
        )
    assert (
        route.calls.last.request.url.params["fieldSelector"]
        == "involvedObject.kind=Pod,involvedObject.name=checkout-7a9c-abc"
    )
    assert [e["reason"] for e in result.data["events"]] == ["BackOff", "Pulled"]
    assert result.data["events"][0]["count"] == 14
    assert "(1 Warning)" in result.summary and "BackOff x1" in result.summary


async def test_no_events_is_no_data(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(EVENTS_PATH).respond(200, json={"items": None})
        result = await k8s.invoke("list_events", {"namespace": "shop", "event_type": "Warning"})
    assert result.status == "no_data"


async def test_namespace_cannot_inject_a_path(k8s: KubernetesAdapter) -> None:
    result = await k8s.invoke("get_deployment", {"namespace": "../../api/v1/secrets", "name": "checkout"})
    assert result.error is not None and result.error.kind == "input"
    assert "namespace" in result.error.message


# -- error paths on a read ----------------------------------------------------------------------------


async def test_5xx_retried_then_reported(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(DEP_PATH).respond(
            500,
            json={
                "kind": "Status",
                "message": "etcdserver: request timed out",
                "reason": "InternalError",
                "code": 500,
            },
        )
        result = await k8s.invoke("get_deployment", {"namespace": "shop", "name": "checkout"})
    assert route.call_count == 3
    assert result.error is not None and result.error.upstream_status == 500
    assert "Kubernetes InternalError: etcdserver: request timed out" in result.error.message
    assert "etcdserver" in result.error.body_excerpt
    assert result.query == f"GET {DEP_PATH}"


async def test_timeout(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(PODS_PATH).mock(side_effect=httpx.ConnectTimeout("no route"))
        result = await k8s.invoke("list_pods", {"namespace": "shop"})
    assert route.call_count == 3
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<html>login page</html>", "not JSON"),
        (b'{"items": {"a": 1}}', "not a JSON array"),
        (b'{"items": [1]}', "not a list of objects"),
    ],
)
async def test_malformed_list(k8s: KubernetesAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(PODS_PATH).respond(200, content=content)
        result = await k8s.invoke("list_pods", {"namespace": "shop"})
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_token(k8s: KubernetesAdapter, status: int) -> None:
    body = {
        "kind": "Status",
        "reason": "Forbidden",
        "code": status,
        "message": f'pods is forbidden: token "{TOKEN}" cannot list resource "pods" in namespace "shop"',
    }
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.get(PODS_PATH).respond(status, json=body)
        result = await k8s.invoke("list_pods", {"namespace": "shop"})
    assert route.call_count == 1
    assert result.error is not None and "Kubernetes Forbidden: pods is forbidden" in result.error.message
    assert_secret_absent(result, logs)


# -- rollout_undo --------------------------------------------------------------------------------------


async def test_rollout_undo_without_grant_sends_nothing(k8s: KubernetesAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        routes = [mock.get(DEP_PATH), mock.get(RS_PATH), mock.patch(DEP_PATH)]
        result = await k8s.invoke("rollout_undo", {"namespace": "shop", "name": "checkout"})
    assert result.status == "approval_required"
    assert not any(route.called for route in routes)


async def test_rollout_undo_restores_previous_template_exactly_once(
    k8s: KubernetesAdapter, ledger: ActionLedger
) -> None:
    registry = ToolRegistry({k8s.instance: k8s})
    policy = ApprovalPolicy(PolicySettings(maturity="walk"))
    args = {"namespace": "shop", "name": "checkout"}
    ledger.record_decision(
        incident_id="INC-42",
        action_id="rollback-1",
        tool="kubernetes.rollout_undo",
        args_hash=args_hash_for(registry, "kubernetes.rollout_undo", args),
        decision="approved",
        decided_by="alice",
    )
    current = deployment()
    patched: dict[str, Any] = {}  # what the fake API server stored after the PATCH
    with respx.mock(base_url=BASE) as mock:
        get_dep = mock.get(DEP_PATH).respond(200, json=current)
        list_rs = mock.get(RS_PATH).respond(200, json=RS_HISTORY)

        def answer(request: httpx.Request) -> httpx.Response:
            nonlocal patched
            patched = apply_merge_patch(current, json.loads(request.content))
            return httpx.Response(200, json=patched)

        patch = mock.patch(DEP_PATH).mock(side_effect=answer)
        outcome = await execute_action(
            registry=registry,
            ledger=ledger,
            policy=policy,
            incident_id="INC-42",
            action_id="rollback-1",
            tool_id="kubernetes.rollout_undo",
            args=args,
        )
        again = await execute_action(
            registry=registry,
            ledger=ledger,
            policy=policy,
            incident_id="INC-42",
            action_id="rollback-1",
            tool_id="kubernetes.rollout_undo",
            args=args,
        )

    assert outcome.status == "executed", outcome.detail
    assert again.status == "already_executed"
    assert (get_dep.call_count, list_rs.call_count, patch.call_count) == (1, 1, 1)
    assert list_rs.calls.last.request.url.params["labelSelector"] == "app=checkout"
    request = patch.calls.last.request
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    body = json.loads(request.content)
    assert body["metadata"]["resourceVersion"] == "4242"  # refused with 409 if someone changed it meanwhile

    # What the API server makes of the patch: the template of revision 6, without its hash label,
    # with the sidecar, the env var and the template annotation of revision 7 gone.
    expected_template = {k: v for k, v in GOOD_TEMPLATE.items() if k != "metadata"} | {
        "metadata": {"labels": {"app": "checkout"}}
    }
    assert apply_merge_patch(BAD_TEMPLATE, body["spec"]["template"]) == expected_template
    # kubectl's annotation rule: keep the revision annotation, take change-cause from the ReplicaSet,
    # drop the rest.
    assert patched["metadata"]["annotations"] == {
        "deployment.kubernetes.io/revision": "7",
        "kubernetes.io/change-cause": "deploy 1.4.2",
    }
    result = outcome.result
    assert result is not None and result.query == f"PATCH {DEP_PATH}"
    assert result.data["from_revision"] == 7 and result.data["to_revision"] == 6
    assert result.data["replicaset"] == "checkout-6c8b"
    assert result.data["images_after"] == {"checkout": "registry/checkout:1.4.2"}
    assert "from revision 7" in result.summary and "revision 6" in result.summary


async def test_rollout_undo_to_a_specific_revision(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout", "to_revision": 5}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    with respx.mock(base_url=BASE) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        patch = mock.patch(DEP_PATH).respond(200, json=deployment(template=GOOD_TEMPLATE))
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert result.status == "ok", result.summary
    assert patch.call_count == 1
    assert result.data["to_revision"] == 5 and result.data["replicaset"] == "checkout-5f7d"


async def test_rollout_undo_to_a_revision_owned_by_another_deployment_is_refused(
    k8s: KubernetesAdapter, ledger: ActionLedger
) -> None:
    args = {"namespace": "shop", "name": "checkout", "to_revision": 9}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        patch = mock.patch(DEP_PATH)
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert not patch.called
    assert result.error is not None and result.error.kind == "input"
    assert "unable to find specified revision 9" in result.error.message
    assert "known revisions: 7, 6, 5" in result.error.message


async def test_rollout_undo_without_history_is_refused(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout"}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    only_current = {"items": [replicaset("checkout-7a9c", 7, BAD_TEMPLATE, replicas=3)]}
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        mock.get(RS_PATH).respond(200, json=only_current)
        patch = mock.patch(DEP_PATH)
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert not patch.called
    assert result.error is not None and result.error.kind == "input"
    assert "no rollout history found for deployment 'checkout'" in result.error.message


async def test_rollout_undo_refuses_a_paused_deployment(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout"}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment(paused=True))
        later = [mock.get(RS_PATH), mock.patch(DEP_PATH)]
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert not any(route.called for route in later)
    assert result.error is not None
    assert result.error.message == (
        "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
    )


async def test_rollout_undo_skips_when_template_already_matches(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout", "to_revision": 6}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment(revision=8, template=GOOD_TEMPLATE))
        mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        patch = mock.patch(DEP_PATH)
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert not patch.called
    assert result.status == "ok" and result.data["skipped"] is True
    assert result.summary == "skipped rollback (current template already matches revision 6)"


async def test_rollout_undo_conflict_is_reported(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout"}
    grant = grant_for(ledger, k8s, "rollout_undo", args)
    conflict = {
        "kind": "Status",
        "reason": "Conflict",
        "code": 409,
        "message": 'Operation cannot be fulfilled on deployments.apps "checkout": the object has been modified',
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        patch = mock.patch(DEP_PATH).respond(409, json=conflict)
        result = await k8s.invoke("rollout_undo", args, grant=grant)
    assert patch.call_count == 1
    assert result.error is not None and "Kubernetes Conflict: Operation cannot be fulfilled" in result.error.message


async def test_grant_for_other_arguments_is_refused(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, k8s, "rollout_undo", {"namespace": "shop", "name": "checkout", "to_revision": 6})
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        routes = [mock.get(DEP_PATH), mock.patch(DEP_PATH)]
        result = await k8s.invoke(
            "rollout_undo", {"namespace": "shop", "name": "checkout", "to_revision": 5}, grant=grant
        )
    assert result.status == "approval_required"
    assert not any(route.called for route in routes)


def test_merge_patch_replacing_turns_current_into_target() -> None:
    current = {"a": {"b": 1, "c": [1, 2], "gone": {"x": 1}}, "keep": None, "drop": 2}
    target = {"a": {"b": 2, "c": [3], "new": {"y": 1}}, "keep": None}
    patch = merge_patch_replacing(current, target)
    assert patch["drop"] is None and patch["a"]["gone"] is None
    assert apply_merge_patch(current, patch) == {"a": {"b": 2, "c": [3], "new": {"y": 1}}}


# -- rollout_restart and scale -------------------------------------------------------------------------


async def test_rollout_restart_sets_restarted_at_with_strategic_merge(
    k8s: KubernetesAdapter, ledger: ActionLedger
) -> None:
    args = {"namespace": "shop", "name": "checkout"}
    grant = grant_for(ledger, k8s, "rollout_restart", args)
    with respx.mock(base_url=BASE) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        patch = mock.patch(DEP_PATH).respond(200, json=deployment())
        result = await k8s.invoke("rollout_restart", args, grant=grant)
    assert result.status == "ok", result.summary
    request = patch.calls.last.request
    assert request.headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert json.loads(request.content) == {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-20T10:05:00Z"}}}
        }
    }
    assert result.data["restarted_at"] == "2026-11-20T10:05:00Z"
    assert "3 pods will be replaced" in result.summary


async def test_rollout_restart_refuses_a_paused_deployment(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout"}
    grant = grant_for(ledger, k8s, "rollout_restart", args)
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment(paused=True))
        patch = mock.patch(DEP_PATH)
        result = await k8s.invoke("rollout_restart", args, grant=grant)
    assert not patch.called
    assert result.error is not None
    assert result.error.message == "can't restart paused deployment (run rollout resume first)"


async def test_scale_patches_the_scale_subresource(k8s: KubernetesAdapter, ledger: ActionLedger) -> None:
    args = {"namespace": "shop", "name": "checkout", "replicas": 5}
    grant = grant_for(ledger, k8s, "scale", args)
    scale = {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": "checkout"},
        "spec": {"replicas": 3},
        "status": {"replicas": 3, "selector": "app=checkout"},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"{DEP_PATH}/scale").respond(200, json=scale)
        patch = mock.patch(f"{DEP_PATH}/scale").respond(200, json=scale | {"spec": {"replicas": 5}})
        result = await k8s.invoke("scale", args, grant=grant)
    assert patch.call_count == 1
    request = patch.calls.last.request
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert json.loads(request.content) == {"spec": {"replicas": 5}}
    assert result.data == {
        "deployment": "checkout",
        "namespace": "shop",
        "previous_replicas": 3,
        "replicas": 5,
        "current_replicas": 3,
    }
    assert "from 3 to 5 replicas" in result.summary


async def test_scale_refuses_absurd_counts(k8s: KubernetesAdapter) -> None:
    result = await k8s.invoke("scale", {"namespace": "shop", "name": "checkout", "replicas": 100_000})
    assert result.error is not None and result.error.kind == "input" and "replicas" in result.error.message


def test_mutating_calls_declare_the_agreed_safety_metadata() -> None:
    calls = KubernetesAdapter.calls
    undo = calls["rollout_undo"].safety
    assert (
        undo.mutating,
        undo.reversible,
        undo.idempotent,
        undo.blast_radius,
        undo.approval_tier,
        undo.action_class,
    ) == (True, True, False, "service", "approve", "rollback")
    assert undo.undo == "roll forward: kubernetes rollout_undo to the revision that was current before"
    assert calls["rollout_restart"].safety.action_class == "restart"
    assert calls["rollout_restart"].safety.undo == "none needed; pods are replaced with the same spec"
    assert calls["scale"].safety.action_class == "scale"
    assert calls["scale"].safety.undo == "scale back to the previous replica count"
    assert not any(
        calls[name].safety.mutating for name in ("list_pods", "get_deployment", "list_replicasets", "list_events")
    )


async def test_events_with_odd_timestamps_still_sort(k8s: KubernetesAdapter) -> None:
    events = {
        "items": [
            {
                "type": "Warning",
                "reason": "BackOff",
                "involvedObject": {"kind": "Pod", "name": "a"},
                "lastTimestamp": {"odd": True},
                "count": "many",
            },
            {
                "type": "Normal",
                "reason": "Pulled",
                "involvedObject": {"kind": "Pod", "name": "a"},
                "lastTimestamp": "2026-11-20T10:00:00Z",
            },
        ]
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(EVENTS_PATH).respond(200, json=events)
        result = await k8s.invoke("list_events", {"namespace": "shop"})
    assert result.status == "ok"
    assert [e["reason"] for e in result.data["events"]] == ["Pulled", "BackOff"]
    assert result.data["events"][1]["count"] == 1


# -- typed payloads -----------------------------------------------------------------------------------


async def test_list_pods_payload_is_typed(k8s: KubernetesAdapter) -> None:
    pod = {
        "metadata": {"name": "checkout-7a9c-abc", "ownerReferences": [{"kind": "ReplicaSet", "name": "checkout-7a9c"}]},
        "spec": {"nodeName": "node-a", "containers": [{"name": "checkout", "image": "registry/checkout:1.4.3"}]},
        "status": {
            "phase": "Running",
            "startTime": "2026-11-20T09:50:00Z",
            "containerStatuses": [
                {
                    "name": "checkout",
                    "ready": False,
                    "restartCount": 7,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {
                            "reason": "OOMKilled",
                            "exitCode": 137,
                            "finishedAt": "2026-11-20T10:00:40+01:00",
                        }
                    },
                }
            ],
        },
    }
    pending = {
        "metadata": {"name": "checkout-7a9c-new"},
        "spec": {"containers": [{"name": "checkout", "image": "x:1"}]},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(PODS_PATH).respond(200, json={"items": [pod, pending], "metadata": {"continue": "abc"}})
        result = await k8s.invoke("list_pods", ListPodsInput(namespace="shop", label_selector="app=checkout"))

    pods = result.payload(PodList)
    assert pods.count == 2 and pods.more_available is True
    first = pods.pods[0]
    assert first.restarts == 7 and isinstance(first.restarts, int)
    assert first.started_at == datetime(2026, 11, 20, 9, 50, tzinfo=UTC) and first.started_at.tzinfo is UTC
    container = first.containers[0]
    assert container.last_termination is not None
    assert container.last_termination.reason == "OOMKilled" and container.last_termination.exit_code == 137
    assert container.last_termination.finished_at == datetime(2026, 11, 20, 9, 0, 40, tzinfo=UTC)
    # data is the payload's JSON: what the model sees, and what a ledger or record reads back.
    assert PodList.model_validate(result.data) == pods
    assert result.data["pods"][0]["started_at"] == "2026-11-20T09:50:00Z"
    # A pending pod's container shows only what is known: no null ready/restarts/state keys.
    assert result.data["pods"][1]["containers"] == [{"name": "checkout", "image": "x:1"}]


async def test_deployment_replicaset_and_event_payloads_are_typed(k8s: KubernetesAdapter) -> None:
    events = {
        "items": [
            {
                "type": "Warning",
                "reason": "BackOff",
                "involvedObject": {"kind": "Pod", "name": "a"},
                "count": 14,
                "firstTimestamp": "2026-11-20T09:52:00Z",
                "lastTimestamp": "2026-11-20T10:04:00Z",
            },
            {
                "type": "Normal",
                "reason": "Pulled",
                "involvedObject": {"kind": "Pod", "name": "a"},
                "lastTimestamp": "not a time",
            },
        ]
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(DEP_PATH).respond(200, json=deployment())
        mock.get(RS_PATH).respond(200, json=RS_HISTORY)
        mock.get(EVENTS_PATH).respond(200, json=events)
        dep = (await k8s.invoke("get_deployment", DeploymentRef(namespace="shop", name="checkout"))).payload(
            DeploymentState
        )
        sets = (await k8s.invoke("list_replicasets", {"namespace": "shop"})).payload(ReplicaSetList)
        found = (await k8s.invoke("list_events", {"namespace": "shop"})).payload(EventList)

    assert (dep.revision, dep.replicas, dep.ready, dep.unavailable) == (7, 3, 1, 2)
    assert dep.conditions[0].type == "Available" and dep.conditions[0].status == "False"
    assert [rs.revision for rs in sets.replicasets] == [9, 7, 6, 5]
    assert sets.replicasets[2].created == datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    assert sets.replicasets[2].deployment == "checkout"
    backoff, pulled = found.events
    assert backoff.count == 14 and backoff.last_seen == datetime(2026, 11, 20, 10, 4, tzinfo=UTC)
    assert pulled.last_seen is None and pulled.count == 1  # an unreadable time is unknown, not a crash
