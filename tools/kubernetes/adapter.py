"""Kubernetes API over plain HTTP: read pods, deployments, replica sets and events; roll back,
restart and scale Deployments the way kubectl does.

Reads use ``GET`` on the core (``/api/v1``) and apps (``/apis/apps/v1``) groups. Errors are Kubernetes
``Status`` objects (``{"kind": "Status", "reason": "NotFound", "message": ...}``) and are reported with
their reason and message.

Mutations (each needs an execution grant, see `tools.actions`):

- ``rollout_undo`` follows kubectl's ``DeploymentRollbacker``: it lists the Deployment's ReplicaSets
  (by ``spec.selector.matchLabels``, keeping those the Deployment controls or would adopt), picks the
  one with the requested revision (default: the highest revision below the current one) and makes the
  Deployment's ``spec.template`` equal to that ReplicaSet's template without its ``pod-template-hash``
  label. It refuses a paused Deployment and a Deployment with no earlier revision, with kubectl's
  messages. kubectl sends a JSON Patch (``replace /spec/template``); this adapter sends the equivalent
  **JSON merge patch** (``application/merge-patch+json``, RFC 7386) that carries the whole target
  template plus an explicit ``null`` for every key the current template has and the target lacks.
  Merge patch replaces lists whole, so the result is exactly the old template. A strategic-merge
  patch would merge ``containers`` by name and could keep a sidecar, an env var or a volume that the
  bad revision added. The patch also carries ``metadata.resourceVersion``, so the API server refuses
  it with 409 Conflict if the Deployment changed after it was read.
- ``rollout_restart`` sets ``kubectl.kubernetes.io/restartedAt`` on the pod template with a
  strategic-merge patch, as kubectl does, and refuses a paused Deployment.
- ``scale`` reads, then merge-patches the ``scale`` subresource (``{"spec": {"replicas": N}}``).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import httpx

from tools.base import (
    Adapter,
    AdapterSettings,
    SafetyMetadata,
    ToolInputError,
    ToolResult,
    tool_call,
)
from tools.http import HttpCaller
from tools.kubernetes.models import (
    DeploymentRef,
    DeploymentState,
    Event,
    EventList,
    KubernetesSettings,
    ListEventsInput,
    ListPodsInput,
    ListReplicaSetsInput,
    Pod,
    PodList,
    ReplicaSet,
    ReplicaSetList,
    RolloutUndoInput,
    ScaleInput,
)
from tools.kubernetes.wire import (
    REVISION_ANNOTATION,
    as_array,
    as_object,
    describe_kubernetes_error,
    images_of,
    read_deployment,
    read_event,
    read_pod,
    read_replicaset,
    revision_of,
)
from tools.wire import (
    clip,
    decode_json,
    expect_dict,
    expect_list,
    malformed,
    opt_str,
)

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
LIST_LIMIT = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ParsedT = TypeVar("ParsedT")

# kubectl rollback.go: annotations kept from the Deployment rather than copied from the ReplicaSet.
ANNOTATIONS_KEPT_ON_ROLLBACK = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION_ANNOTATION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)

PAUSED_UNDO_MESSAGE = (
    "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again"
)
PAUSED_RESTART_MESSAGE = "can't restart paused deployment (run rollout resume first)"

ROLLBACK_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="roll forward: kubernetes rollout_undo to the revision that was current before",
    idempotent=False,
    blast_radius="service",
    approval_tier="approve",
    action_class="rollback",
)
RESTART_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="none needed; pods are replaced with the same spec",
    idempotent=False,  # every restart stamps a new restartedAt and replaces the pods again
    blast_radius="service",
    approval_tier="approve",
    action_class="restart",
)
SCALE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="scale back to the previous replica count",
    idempotent=True,  # setting the same count twice is the same state
    blast_radius="service",
    approval_tier="approve",
    action_class="scale",
)


class KubernetesAdapter(Adapter):
    """Talks to one cluster's API server with a bearer token."""

    kind: ClassVar[str] = "kubernetes"
    description: ClassVar[str] = (
        "Kubernetes: pods, deployments, replica sets, events; rollback, restart and scale of Deployments."
    )
    settings_model: ClassVar[type[AdapterSettings]] = KubernetesSettings

    # -- reads --------------------------------------------------------------------------------------

    @tool_call(
        description="List pods with phase, readiness, restarts, images and problem reasons "
        "(CrashLoopBackOff, OOMKilled, ImagePullBackOff...).",
        result=PodList,
    )
    async def list_pods(self, args: ListPodsInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/pods"
        params = _list_params(labelSelector=args.label_selector)
        response, items, more = await self._list(path, params)
        pods = _parse(self.http, response, path, lambda: [read_pod(item) for item in items])
        selection = f" matching {args.label_selector}" if args.label_selector else ""
        return ToolResult.with_payload(
            PodList(pods=pods, count=len(pods), more_available=more),
            tool=self.tool_id("list_pods"),
            status="ok" if pods else "no_data",
            query=f"GET {path}",
            params=params,
            summary=_pods_line(pods, f"{args.namespace}{selection}", more)
            if pods
            else f"no pods in {args.namespace}{selection}",
        )

    @tool_call(
        description="Get one Deployment: replicas (desired/ready/updated/available), images, current revision, "
        "paused flag and conditions.",
        result=DeploymentState,
    )
    async def get_deployment(self, args: DeploymentRef) -> ToolResult:
        path = _deployment_path(args.namespace, args.name)
        response, deployment = await self._get(path)
        state = _parse(self.http, response, path, lambda: read_deployment(deployment))
        return ToolResult.with_payload(
            state,
            tool=self.tool_id("get_deployment"),
            status="ok",
            query=f"GET {path}",
            params={},
            summary=_deployment_line(state),
        )

    @tool_call(
        description="List ReplicaSets (one per Deployment revision) with revision, images, replicas and creation "
        "time, newest revision first. Use it to see what a rollback would go back to.",
        result=ReplicaSetList,
    )
    async def list_replicasets(self, args: ListReplicaSetsInput) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/replicasets"
        params = _list_params(labelSelector=args.label_selector)
        response, items, more = await self._list(path, params)
        sets = _parse(self.http, response, path, lambda: [read_replicaset(item) for item in items])
        sets.sort(key=lambda rs: rs.revision if rs.revision is not None else -1, reverse=True)
        selection = f" matching {args.label_selector}" if args.label_selector else ""
        return ToolResult.with_payload(
            ReplicaSetList(replicasets=sets, count=len(sets), more_available=more),
            tool=self.tool_id("list_replicasets"),
            status="ok" if sets else "no_data",
            query=f"GET {path}",
            params=params,
            summary=_replicasets_line(sets, f"{args.namespace}{selection}")
            if sets
            else f"no replicasets in {args.namespace}{selection}",
        )

    @tool_call(
        description="List events (core/v1) in a namespace, newest first, optionally about one object "
        "(kind and name) or of one type (Warning).",
        result=EventList,
    )
    async def list_events(self, args: ListEventsInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/events"
        selectors = []
        if args.involved_kind:
            selectors.append(f"involvedObject.kind={args.involved_kind}")
        if args.involved_name:
            selectors.append(f"involvedObject.name={args.involved_name}")
        if args.event_type:
            selectors.append(f"type={args.event_type}")
        params = _list_params(fieldSelector=",".join(selectors) or None)
        response, items, more = await self._list(path, params)
        events = _parse(self.http, response, path, lambda: [read_event(item) for item in items])
        # Newest first; an event whose time cannot be read goes last rather than failing the sort.
        events.sort(key=lambda e: (e.last_seen is not None, e.last_seen or _EPOCH), reverse=True)
        about = f" ({', '.join(selectors)})" if selectors else ""
        return ToolResult.with_payload(
            EventList(events=events, count=len(events), more_available=more),
            tool=self.tool_id("list_events"),
            status="ok" if events else "no_data",
            query=f"GET {path}",
            params=params,
            summary=_events_line(events, f"{args.namespace}{about}")
            if events
            else f"no events in {args.namespace}{about}",
        )

    # -- mutations ----------------------------------------------------------------------------------

    @tool_call(
        description="Roll a Deployment back to an earlier revision's pod template (kubectl rollout undo). "
        "Default: the revision before the current one.",
        safety=ROLLBACK_SAFETY,
    )
    async def rollout_undo(self, args: RolloutUndoInput) -> ToolResult:
        path = _deployment_path(args.namespace, args.name)
        response, deployment = await self._get(path)
        spec = as_object(deployment.get("spec"))
        metadata = as_object(deployment.get("metadata"))
        if spec.get("paused"):
            raise ToolInputError(PAUSED_UNDO_MESSAGE)
        match_labels = as_object(as_object(spec.get("selector")).get("matchLabels"))
        current_template = spec.get("template")
        if not match_labels or not isinstance(current_template, dict):
            raise malformed(self.http, response, path, "the Deployment has no spec.selector.matchLabels or template")

        rs_path = f"/apis/apps/v1/namespaces/{args.namespace}/replicasets"
        rs_params = _list_params(labelSelector=",".join(f"{k}={v}" for k, v in sorted(match_labels.items())))
        rs_response, items, _ = await self._list(rs_path, rs_params)
        history = [
            (revision, rs)
            for rs in (as_object(item) for item in items)
            if _controlled_by(rs, metadata) and (revision := revision_of(rs)) is not None
        ]
        current = revision_of(deployment)
        if current is None:
            current = max((rev for rev, _ in history), default=None)
        target = _pick_revision(history, current, args.to_revision, args.name)
        target_revision, target_rs = target
        target_template = copy.deepcopy(as_object(target_rs.get("spec")).get("template"))
        if not isinstance(target_template, dict):
            raise malformed(
                self.http, rs_response, rs_path, f"ReplicaSet for revision {target_revision} has no template"
            )
        as_object(as_object(target_template.get("metadata")).get("labels")).pop(POD_TEMPLATE_HASH_LABEL, None)

        before = images_of(current_template)
        after = images_of(target_template)
        result_base = {
            "deployment": args.name,
            "namespace": args.namespace,
            "from_revision": current,
            "to_revision": target_revision,
            "replicaset": as_object(target_rs.get("metadata")).get("name"),
            "images_before": before,
            "images_after": after,
        }
        if _normalized(_without_hash(current_template)) == _normalized(target_template):
            return ToolResult(
                tool=self.tool_id("rollout_undo"),
                status="ok",
                query=f"GET {path}",
                params={},
                data={**result_base, "skipped": True},
                summary=f"skipped rollback (current template already matches revision {target_revision})",
            )

        annotations = as_object(metadata.get("annotations"))
        new_annotations = {k: v for k, v in annotations.items() if k in ANNOTATIONS_KEPT_ON_ROLLBACK}
        new_annotations.update(
            {
                k: v
                for k, v in as_object(as_object(target_rs.get("metadata")).get("annotations")).items()
                if k not in ANNOTATIONS_KEPT_ON_ROLLBACK
            }
        )
        patch: dict[str, Any] = {
            "metadata": {"annotations": merge_patch_replacing(annotations, new_annotations)},
            "spec": {"template": merge_patch_replacing(current_template, target_template)},
        }
        if metadata.get("resourceVersion"):
            patch["metadata"]["resourceVersion"] = metadata["resourceVersion"]
        patched = await self._patch(path, patch, MERGE_PATCH)
        images_now = images_of(as_object(as_object(patched.get("spec")).get("template")))
        return ToolResult(
            tool=self.tool_id("rollout_undo"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "patch": patch},
            data={**result_base, "skipped": False, "images_now": images_now},
            summary=(
                f"rolled back deployment {args.namespace}/{args.name} from revision {current} "
                f"({_images_text(before)}) to the template of revision {target_revision} ({_images_text(after)}); "
                "the controller records it as a new revision"
            ),
        )

    @tool_call(
        description="Restart a Deployment's pods with a rolling update (kubectl rollout restart). Refuses a "
        "paused Deployment.",
        safety=RESTART_SAFETY,
    )
    async def rollout_restart(self, args: DeploymentRef) -> ToolResult:
        path = _deployment_path(args.namespace, args.name)
        _, deployment = await self._get(path)
        if as_object(deployment.get("spec")).get("paused"):
            raise ToolInputError(PAUSED_RESTART_MESSAGE)
        # kubectl formats the time as RFC 3339 without fractional seconds.
        restarted_at = self.clock().isoformat(timespec="seconds").replace("+00:00", "Z")
        patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: restarted_at}}}}}
        patched = await self._patch(path, patch, STRATEGIC_MERGE_PATCH)
        replicas = as_object(patched.get("spec")).get("replicas")
        return ToolResult(
            tool=self.tool_id("rollout_restart"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": STRATEGIC_MERGE_PATCH, "patch": patch},
            data={
                "deployment": args.name,
                "namespace": args.namespace,
                "restarted_at": restarted_at,
                "replicas": replicas,
                "revision_before": revision_of(deployment),
            },
            summary=f"restarted deployment {args.namespace}/{args.name} at {restarted_at}: "
            f"{replicas if replicas is not None else 'its'} pods will be replaced by a rolling update",
        )

    @tool_call(description="Set a Deployment's replica count (kubectl scale).", safety=SCALE_SAFETY)
    async def scale(self, args: ScaleInput) -> ToolResult:
        path = _deployment_path(args.namespace, args.name) + "/scale"
        _, before = await self._get(path)
        previous = as_object(before.get("spec")).get("replicas")
        patch = {"spec": {"replicas": args.replicas}}
        after = await self._patch(path, patch, MERGE_PATCH)
        running = as_object(after.get("status")).get("replicas")
        desired = as_object(after.get("spec")).get("replicas", args.replicas)
        change = "kept" if previous == args.replicas else f"from {previous} to"
        return ToolResult(
            tool=self.tool_id("scale"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "patch": patch},
            data={
                "deployment": args.name,
                "namespace": args.namespace,
                "previous_replicas": previous,
                "replicas": desired,
                "current_replicas": running,
            },
            summary=f"scaled deployment {args.namespace}/{args.name} {change} {desired} replicas "
            f"({running} running now)",
        )

    async def check(self) -> str:
        """``GET /version``: readable by any authenticated identity, and an invalid token is a 401 even here."""
        response, body = await self._get("/version")
        version = opt_str(body.get("gitVersion"))
        if version is None:
            raise malformed(self.http, response, "/version", "the body has no gitVersion")
        return f"Kubernetes {version}"

    # -- wire helpers -------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> tuple[httpx.Response, dict[str, Any]]:
        response = await self.http.request("GET", path, params=params, describe_error=describe_kubernetes_error)
        return response, expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")

    async def _list(self, path: str, params: dict[str, Any]) -> tuple[httpx.Response, list[Any], bool]:
        response, body = await self._get(path, params)
        items = expect_list(self.http, response, path, body.get("items") or [], "items")
        if not all(isinstance(item, dict) for item in items):
            raise malformed(self.http, response, path, "items is not a list of objects")
        more = bool(as_object(body.get("metadata")).get("continue"))
        return response, items, more

    async def _patch(self, path: str, patch: dict[str, Any], content_type: str) -> dict[str, Any]:
        response = await self.http.request(
            "PATCH",
            path,
            json=patch,
            headers={"Content-Type": content_type},
            describe_error=describe_kubernetes_error,
        )
        return expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")


def merge_patch_replacing(current: Any, target: Any) -> Any:
    """A JSON merge patch (RFC 7386) that turns ``current`` into exactly ``target``.

    Objects are walked key by key, with ``None`` for keys only ``current`` has; lists and scalars are
    sent whole (merge patch replaces them).
    """
    if not isinstance(target, dict) or not isinstance(current, dict):
        return target
    patch: dict[str, Any] = {key: None for key in current if key not in target}
    for key, value in target.items():
        patch[key] = merge_patch_replacing(current.get(key), value) if isinstance(current.get(key), dict) else value
    return patch


def _deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def _list_params(**selectors: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {k: v for k, v in selectors.items() if v}
    params["limit"] = LIST_LIMIT
    return params


def _parse(http: HttpCaller, response: httpx.Response, path: str, build: Callable[[], ParsedT]) -> ParsedT:
    try:
        return build()
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise malformed(http, response, path, f"an object has an unexpected shape ({exc!r})") from None


def _controlled_by(replicaset: dict[str, Any], deployment_meta: dict[str, Any]) -> bool:
    """True when the Deployment controls the ReplicaSet, or would adopt it (it has no controller)."""
    refs = map(as_object, as_array(as_object(replicaset.get("metadata")).get("ownerReferences")))
    controllers = [ref for ref in refs if ref.get("controller", True)]
    if not controllers:
        return True
    uid = deployment_meta.get("uid")
    for ref in controllers:
        if ref.get("kind") != "Deployment":
            continue
        if uid and ref.get("uid"):
            if ref["uid"] == uid:
                return True
        elif ref.get("name") == deployment_meta.get("name"):
            return True
    return False


def _pick_revision(
    history: list[tuple[int, dict[str, Any]]], current: int | None, wanted: int | None, name: str
) -> tuple[int, dict[str, Any]]:
    known = sorted({rev for rev, _ in history}, reverse=True)
    if wanted is not None:
        for rev, rs in history:
            if rev == wanted:
                return rev, rs
        raise ToolInputError(
            f"to_revision: unable to find specified revision {wanted} in history of deployment {name!r}; "
            f"known revisions: {', '.join(map(str, known)) or 'none'}"
        )
    earlier = [(rev, rs) for rev, rs in history if current is None or rev < current]
    if not earlier:
        raise ToolInputError(
            f"no rollout history found for deployment {name!r}: no ReplicaSet has a revision before the current "
            f"one ({current}); there is nothing to roll back to"
        )
    return max(earlier, key=lambda item: item[0])


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    stripped = copy.deepcopy(template)
    as_object(as_object(stripped.get("metadata")).get("labels")).pop(POD_TEMPLATE_HASH_LABEL, None)
    return stripped


def _normalized(value: Any) -> Any:
    """Drop nulls and empty objects/lists, as Go's semantic equality treats them as absent."""
    if isinstance(value, dict):
        cleaned = {k: _normalized(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, {}, [])}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    return value


def _images_text(images: dict[str, str]) -> str:
    return ", ".join(f"{name}={image}" for name, image in images.items()) or "no containers"


def _pods_line(pods: list[Pod], where: str, more: bool) -> str:
    ready = sum(1 for p in pods if p.ready)
    restarts = sum(p.restarts for p in pods)
    reasons = Counter(reason for p in pods for reason in p.reasons)
    images = Counter(str(c.image) for p in pods for c in p.containers)
    parts = [
        f"{len(pods)} pods in {where}{' (first page only)' if more else ''}: {ready} ready, {len(pods) - ready} not ready"
    ]
    parts.append(f"{restarts} restarts")
    if reasons:
        parts.append("reasons: " + ", ".join(f"{r} x{n}" for r, n in reasons.most_common(4)))
    if images:
        parts.append("images: " + ", ".join(f"{i} x{n}" for i, n in images.most_common(3)))
    return "; ".join(parts)


def _deployment_line(d: DeploymentState) -> str:
    conditions = ", ".join(f"{c.type}={c.status} ({c.reason})" for c in d.conditions)
    return (
        f"deployment {d.namespace}/{d.name} revision {d.revision}: {d.ready}/{d.replicas} ready, "
        f"{d.updated} updated, {d.available} available; {_images_text(d.images)}"
        f"{'; PAUSED' if d.paused else ''}{'; ' + conditions if conditions else ''}"
    )


def _replicasets_line(sets: list[ReplicaSet], where: str) -> str:
    described = [
        f"{rs.name} (revision {rs.revision}, {rs.ready}/{rs.replicas} ready, {_images_text(rs.images)})"
        for rs in sets[:3]
    ]
    return f"{len(sets)} replicasets in {where}, newest revision first: " + "; ".join(described)


def _events_line(events: list[Event], where: str) -> str:
    warnings = [e for e in events if e.type == "Warning"]
    reasons = Counter(str(e.reason) for e in (warnings or events))
    top = ", ".join(f"{reason} x{n}" for reason, n in reasons.most_common(4))
    newest = events[0]
    return (
        f"{len(events)} events in {where} ({len(warnings)} Warning); "
        f"{'warning reasons' if warnings else 'reasons'}: {top}; "
        f"newest: {newest.reason} on {newest.object}: {clip(newest.message, 120)}"
    )
