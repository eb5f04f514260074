"""Kubernetes API: pods (and their logs), events, deployments, scale, replicasets; and format v2's
objects: namespaces, nodes, configmaps, secrets, services, resourcequotas (v1), statefulsets and
daemonsets (apps/v1), jobs and cronjobs (batch/v1), networkpolicies (networking.k8s.io/v1) and
horizontalpodautoscalers (autoscaling/v2), each listed (in a namespace or across all), read by name,
and, for nodes, configmaps, statefulsets (and their scale), jobs and cronjobs, patched.

A PATCH of a deployment that changes its pod template or replicas is an action: the world records
it (``kubernetes.rollout_undo``, ``kubernetes.rollout_restart``, ``kubernetes.scale``...) and applies
the scenario's effect from that moment. ``?dryRun=All`` answers without changing anything. Errors
are ``Status`` objects with the HTTP code they carry.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import answering, json_response, request_id
from evals.sim.kube import ActionRequest, DeploymentRecord, KubeError, apply_patch, status_object
from evals.sim.kube.resources import KINDS, PATCHABLE
from evals.sim.logs import NANOS, LogQuery
from evals.sim.promql import Matcher
from evals.sim.timeutil import parse_rfc3339, rfc3339
from evals.sim.world import World


def routes(world: World) -> list[BaseRoute]:
    kube = world.kube

    guarded = answering(KubeError, lambda exc: json_response(exc.body(), exc.code))

    async def list_pods(request: Request) -> Response:
        with world.locked():
            return json_response(
                kube.list_pods(
                    request.path_params.get("namespace"),
                    request.query_params.get("labelSelector"),
                    request.query_params.get("fieldSelector"),
                )
            )

    async def get_pod(request: Request) -> Response:
        with world.locked():
            return json_response(kube.get_pod(request.path_params["namespace"], request.path_params["name"]))

    async def pod_log(request: Request) -> Response:
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        params = request.query_params
        with world.locked():
            pod = kube.get_pod(namespace, name)
            container = params.get("container") or pod["spec"]["containers"][0]["name"]
            statuses = {s["name"]: s for s in pod["status"].get("containerStatuses", [])}
            if container not in statuses:
                raise KubeError(400, "BadRequest", f"container {container} is not valid for pod {name}")
            if params.get("previous") in ("true", "1"):
                if not statuses[container].get("lastState", {}).get("terminated"):
                    raise KubeError(
                        400, "BadRequest", f'previous terminated container "{container}" in pod "{name}" not found'
                    )
                return PlainTextResponse("")
            now = world.now_ts()
            start = parse_rfc3339(pod["metadata"]["creationTimestamp"]).timestamp()
            if params.get("sinceSeconds"):
                start = max(start, now - float(params["sinceSeconds"]))
            query = LogQuery((Matcher("namespace", "=", namespace), Matcher("pod", "=", name)))
            tail = int(params["tailLines"]) if params.get("tailLines") else 5000
            selected = world.logs.select(query, int(start * NANOS), int(now * NANOS) + 1, tail, "backward")
            entries = sorted((ts, line) for _, lines in selected for ts, line in lines)
        with_time = params.get("timestamps") in ("true", "1")
        text = "".join(f"{_nano_rfc3339(ts)} {line}\n" if with_time else f"{line}\n" for ts, line in entries)
        return PlainTextResponse(text)

    async def events(request: Request) -> Response:
        with world.locked():
            return json_response(
                kube.events(request.path_params["namespace"], request.query_params.get("fieldSelector"))
            )

    async def list_deployments(request: Request) -> Response:
        with world.locked():
            return json_response(
                kube.list_deployments(request.path_params["namespace"], request.query_params.get("labelSelector"))
            )

    async def get_or_patch(
        request: Request,
        render: Callable[[DeploymentRecord], dict[str, Any]],
        patch: Callable[[str, str, bytes, str], tuple[dict[str, Any], list[ActionRequest]]],
    ) -> Response:
        """GET renders the object; PATCH changes it and records the actions the change amounts to."""
        namespace, name = request.path_params["namespace"], request.path_params["name"]
        if request.method == "GET":
            with world.locked():
                return json_response(render(kube.deployment(namespace, name)))
        if request.method != "PATCH":
            raise KubeError(
                405,
                "MethodNotAllowed",
                f"the server does not allow this method on the requested resource ({request.method})",
            )
        body = await request.body()
        content_type = request.headers.get("content-type", "")
        with world.locked():
            record = kube.deployment(namespace, name)
            if _dry_run(request):
                return json_response(apply_patch(render(record), body, content_type))
            _, actions = patch(namespace, name, body, content_type)
            for action, args in actions:
                world.apply_action(action, args, request_id=request_id(request))
            # Rendered after the actions so that pod readiness reflects a fault they fixed.
            return json_response(render(record))

    async def deployment(request: Request) -> Response:
        return await get_or_patch(request, kube.render_deployment, kube.patch_deployment)

    async def scale(request: Request) -> Response:
        return await get_or_patch(request, kube.render_scale, kube.patch_scale)

    async def replicasets(request: Request) -> Response:
        with world.locked():
            return json_response(
                kube.list_replicasets(request.path_params["namespace"], request.query_params.get("labelSelector"))
            )

    async def list_objects(request: Request) -> Response:
        plural = request.path_params["plural"]
        if not _served(request, plural):
            return await unknown(request)
        with world.locked():
            return json_response(
                kube.objects.list_objects(
                    plural, request.path_params.get("namespace"), request.query_params.get("labelSelector")
                )
            )

    async def one_object(request: Request) -> Response:
        """GET an object by name; PATCH it (recording the actions the change amounts to)."""
        plural, name = request.path_params["plural"], request.path_params["name"]
        namespace = request.path_params.get("namespace")
        if not _served(request, plural):
            return await unknown(request)
        if request.method == "GET":
            with world.locked():
                return json_response(kube.objects.get_object(plural, namespace, name))
        if request.method != "PATCH" or plural not in PATCHABLE:
            raise KubeError(
                405,
                "MethodNotAllowed",
                f"the server does not allow this method on the requested resource ({request.method})",
            )
        body = await request.body()
        with world.locked():
            changed, actions = kube.objects.patch(
                plural, namespace, name, body, request.headers.get("content-type", ""), dry_run=_dry_run(request)
            )
            for action, args in actions:
                world.apply_action(action, args, request_id=request_id(request))
            return json_response(changed if _dry_run(request) else kube.objects.get_object(plural, namespace, name))

    async def statefulset_scale(request: Request) -> Response:
        """The scale subresource of a StatefulSet (autoscaling/v1 Scale), read and patched."""
        namespace, name = request.path_params["namespace"], request.path_params["name"]

        def as_scale() -> dict[str, Any]:
            statefulset = kube.objects.get_object("statefulsets", namespace, name)
            meta = statefulset["metadata"]
            return {
                "kind": "Scale",
                "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")},
                "spec": {"replicas": statefulset["spec"]["replicas"]},
                "status": {"replicas": statefulset["status"]["replicas"], "selector": f"app={name}"},
            }

        with world.locked():
            if request.method == "GET":
                return json_response(as_scale())
            if request.method != "PATCH":
                raise KubeError(405, "MethodNotAllowed", f"the server does not allow this method ({request.method})")
            patched = apply_patch(as_scale(), await request.body(), request.headers.get("content-type", ""))
            replicas = patched.get("spec", {}).get("replicas")
            if _dry_run(request):
                return json_response(patched)
            _, actions = kube.objects.patch(
                "statefulsets",
                namespace,
                name,
                json.dumps({"spec": {"replicas": replicas}}).encode(),
                "application/merge-patch+json",
            )
            for action, args in actions:
                world.apply_action(action, args, request_id=request_id(request))
            return json_response(as_scale())

    async def version(request: Request) -> Response:
        # What `kubectl version` reads; firstline's connectivity check uses it.
        return json_response(
            {
                "major": "1",
                "minor": "31",
                "gitVersion": "v1.31.0-sim",
                "gitCommit": "0" * 40,
                "gitTreeState": "clean",
                "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.23.0",
                "compiler": "gc",
                "platform": "linux/amd64",
            }
        )

    async def unknown(request: Request) -> Response:
        return json_response(status_object(404, "NotFound", "the server could not find the requested resource"), 404)

    any_method = ["GET", "PATCH", "PUT", "POST", "DELETE"]
    return [
        Route("/version", version, methods=["GET"]),
        Route("/api/v1/pods", guarded(list_pods), methods=["GET"]),
        Route("/api/v1/namespaces/{namespace}/pods", guarded(list_pods), methods=["GET"]),
        Route("/api/v1/namespaces/{namespace}/pods/{name}", guarded(get_pod), methods=["GET"]),
        Route("/api/v1/namespaces/{namespace}/pods/{name}/log", guarded(pod_log), methods=["GET"]),
        Route("/api/v1/namespaces/{namespace}/events", guarded(events), methods=["GET"]),
        Route("/apis/apps/v1/namespaces/{namespace}/deployments", guarded(list_deployments), methods=["GET"]),
        Route("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", guarded(deployment), methods=any_method),
        Route("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", guarded(scale), methods=any_method),
        Route("/apis/apps/v1/namespaces/{namespace}/replicasets", guarded(replicasets), methods=["GET"]),
        Route(
            "/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale",
            guarded(statefulset_scale),
            methods=any_method,
        ),
        # Cluster-scoped kinds (nodes, namespaces) and all-namespace lists of the namespaced ones.
        Route("/api/v1/{plural}", guarded(list_objects), methods=["GET"]),
        Route("/api/v1/{plural}/{name}", guarded(one_object), methods=any_method),
        Route("/api/v1/namespaces/{namespace}/{plural}", guarded(list_objects), methods=["GET"]),
        Route("/api/v1/namespaces/{namespace}/{plural}/{name}", guarded(one_object), methods=any_method),
        Route("/apis/{group}/{version}/{plural}", guarded(list_objects), methods=["GET"]),
        Route("/apis/{group}/{version}/namespaces/{namespace}/{plural}", guarded(list_objects), methods=["GET"]),
        Route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}",
            guarded(one_object),
            methods=any_method,
        ),
        Route("/{path:path}", unknown, methods=any_method),
    ]


def _served(request: Request, plural: str) -> bool:
    """Whether ``plural`` is served under the request's group and version, and in the scope it asked for."""
    if plural not in KINDS:
        return False
    api_version, _, namespaced = KINDS[plural]
    group, version = request.path_params.get("group"), request.path_params.get("version")
    asked = f"{group}/{version}" if group is not None else "v1"
    if asked != api_version:
        return False
    return namespaced or "namespace" not in request.path_params


def _dry_run(request: Request) -> bool:
    return request.query_params.get("dryRun") == "All"


def _nano_rfc3339(ts_ns: int) -> str:
    whole = rfc3339(ts_ns // NANOS)
    return f"{whole[:-1]}.{ts_ns % NANOS:09d}Z"
