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
from pydantic import BaseModel

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
    ConfigMapList,
    ConfigMapRevisionList,
    ConfigMapState,
    CronJobList,
    CronJobState,
    DaemonSetList,
    DeploymentRef,
    DeploymentState,
    Event,
    EventList,
    HPAList,
    JobList,
    JobState,
    KubernetesSettings,
    ListEventsInput,
    ListInNamespaceInput,
    ListNodesInput,
    ListPodsInput,
    ListReplicaSetsInput,
    NetworkPolicyList,
    NodeList,
    NodeRef,
    NodeState,
    ObjectRef,
    Pod,
    PodList,
    ReplicaSet,
    ReplicaSetList,
    ResourceQuotaList,
    RevertConfigMapInput,
    RolloutUndoInput,
    ScaleInput,
    ScaleJobInput,
    ScaleStatefulSetInput,
    SecretList,
    SecretState,
    ServiceList,
    StatefulSetList,
    StatefulSetState,
)
from tools.kubernetes.wire import (
    REVISION_ANNOTATION,
    as_array,
    as_object,
    describe_kubernetes_error,
    images_of,
    read_configmap,
    read_configmap_revision,
    read_cronjob,
    read_daemonset,
    read_deployment,
    read_event,
    read_hpa,
    read_job,
    read_network_policy,
    read_node,
    read_pod,
    read_replicaset,
    read_resource_quota,
    read_secret,
    read_service,
    read_statefulset,
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
ObjectT = TypeVar("ObjectT", bound=BaseModel)

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


STATEFULSET_SCALE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="scale_statefulset back to the previous replica count (returned as previous_replicas)",
    idempotent=True,
    blast_radius="service",
    approval_tier="approve",
    action_class="scale",
)
SUSPEND_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="resume_cronjob (the schedules missed meanwhile are not run, except the last one within startingDeadlineSeconds)",
    idempotent=True,
    blast_radius="single_resource",
    approval_tier="approve",
    action_class="suspend",
)
RESUME_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="suspend_cronjob",
    idempotent=True,
    blast_radius="single_resource",
    approval_tier="approve",
    action_class="resume",
)
# Stopping a Job by setting parallelism to 0 rather than deleting it: the Job, its completed pods and
# their logs stay for the investigation and the post-incident review, and the change is undone by
# setting parallelism back; a deletion (with its pods, under the default propagation) is neither.
JOB_SCALE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="scale_job back to the previous parallelism (returned as previous_parallelism); pods restart from scratch",
    idempotent=True,
    blast_radius="single_resource",
    approval_tier="approve",
    action_class="scale",
)
CONFIG_REVERT_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="revert_configmap with the data it replaced (returned as previous_data)",
    idempotent=True,
    # Every workload in the namespace that mounts or reads the ConfigMap sees the change.
    blast_radius="namespace",
    approval_tier="approve",
    action_class="config_revert",
)
CORDON_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="uncordon_node",
    idempotent=True,
    # New pods of every namespace stop landing on the node; running pods stay (cordon does not drain).
    blast_radius="cluster",
    approval_tier="approve",
    action_class="cordon",
)
UNCORDON_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="cordon_node",
    idempotent=True,
    blast_radius="cluster",
    approval_tier="approve",
    action_class="cordon",
)


class KubernetesAdapter(Adapter):
    """Talks to one cluster's API server with a bearer token."""

    kind: ClassVar[str] = "kubernetes"
    description: ClassVar[str] = (
        "Kubernetes: pods, deployments, replica sets, events, statefulsets, daemonsets, jobs, cronjobs, "
        "configmaps, secrets (keys only), services, network policies, HPAs, nodes, resource quotas; rollback, "
        "restart and scale of Deployments, scale of StatefulSets and Jobs, CronJob suspend, ConfigMap revert, "
        "node cordon."
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
        description="List the pods running on one node, in every namespace (fieldSelector spec.nodeName): who "
        "shares its disk, memory and CPU.",
        result=PodList,
    )
    async def list_node_pods(self, args: NodeRef) -> ToolResult:
        path = "/api/v1/pods"
        params = _list_params(fieldSelector=f"spec.nodeName={args.name}")
        response, items, more = await self._list(path, params)
        pods = _parse(self.http, response, path, lambda: [read_pod(item) for item in items])
        return ToolResult.with_payload(
            PodList(pods=pods, count=len(pods), more_available=more),
            tool=self.tool_id("list_node_pods"),
            status="ok" if pods else "no_data",
            query=f"GET {path}",
            params=params,
            summary=_pods_line(pods, f"node {args.name}", more) if pods else f"no pods on node {args.name}",
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

    # -- the cluster beyond Deployments: reads ------------------------------------------------------

    async def _get_object(
        self, call: str, path: str, read: Callable[[dict[str, Any]], ObjectT], summary: Callable[[ObjectT], str]
    ) -> ToolResult:
        """GET one object, read it into its model, and return it as the call's typed payload."""
        response, body = await self._get(path)
        payload = _parse(self.http, response, path, lambda: read(body))
        return ToolResult.with_payload(
            payload, tool=self.tool_id(call), status="ok", query=f"GET {path}", params={}, summary=summary(payload)
        )

    async def _read_list(
        self, path: str, label_selector: str | None, read: Callable[[dict[str, Any]], ParsedT]
    ) -> tuple[list[ParsedT], bool, dict[str, Any]]:
        params = _list_params(labelSelector=label_selector)
        response, items, more = await self._list(path, params)
        parsed = _parse(self.http, response, path, lambda: [read(item) for item in items])
        return parsed, more, params

    def _listed(
        self, call: str, path: str, params: dict[str, Any], payload: Any, count: int, what: str, where: str, line: str
    ) -> ToolResult:
        return ToolResult.with_payload(
            payload,
            tool=self.tool_id(call),
            status="ok" if count else "no_data",
            query=f"GET {path}",
            params=params,
            summary=line if count else f"no {what} in {where}",
        )

    @tool_call(
        description="List StatefulSets: desired/ready replicas, current and update revisions, images.",
        result=StatefulSetList,
    )
    async def list_statefulsets(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/statefulsets"
        sets, more, params = await self._read_list(path, args.label_selector, read_statefulset)
        line = f"{len(sets)} statefulsets in {args.namespace}: " + "; ".join(_statefulset_text(s) for s in sets[:5])
        return self._listed(
            "list_statefulsets",
            path,
            params,
            StatefulSetList(statefulsets=sets, count=len(sets), more_available=more),
            len(sets),
            "statefulsets",
            _where(args),
            line,
        )

    @tool_call(description="Get one StatefulSet: replicas, revisions, images.", result=StatefulSetState)
    async def get_statefulset(self, args: ObjectRef) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/statefulsets/{args.name}"
        return await self._get_object(
            "get_statefulset",
            path,
            read_statefulset,
            lambda state: f"statefulset {args.namespace}/{_statefulset_text(state)}",
        )

    @tool_call(
        description="List DaemonSets: nodes that should run a pod, ready, unavailable and misscheduled counts.",
        result=DaemonSetList,
    )
    async def list_daemonsets(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/daemonsets"
        sets, more, params = await self._read_list(path, args.label_selector, read_daemonset)
        line = f"{len(sets)} daemonsets in {args.namespace}: " + "; ".join(
            f"{d.name} {d.ready}/{d.desired} ready ({_images_text(d.images)})" for d in sets[:5]
        )
        return self._listed(
            "list_daemonsets",
            path,
            params,
            DaemonSetList(daemonsets=sets, count=len(sets), more_available=more),
            len(sets),
            "daemonsets",
            _where(args),
            line,
        )

    @tool_call(
        description="List Jobs, newest first: active/succeeded/failed pods, parallelism, suspended, who started "
        "each (a CronJob's schedule or by hand), start and completion times.",
        result=JobList,
    )
    async def list_jobs(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/jobs"
        jobs, more, params = await self._read_list(path, args.label_selector, read_job)
        jobs.sort(key=lambda j: (j.started is not None, j.started or _EPOCH), reverse=True)
        active = [j for j in jobs if j.status == "active"]
        line = f"{len(jobs)} jobs in {args.namespace}, {len(active)} active: " + "; ".join(
            _job_text(j) for j in jobs[:5]
        )
        return self._listed(
            "list_jobs",
            path,
            params,
            JobList(jobs=jobs, count=len(jobs), more_available=more),
            len(jobs),
            "jobs",
            _where(args),
            line,
        )

    @tool_call(description="Get one Job: status, active pods, parallelism, owner, times.", result=JobState)
    async def get_job(self, args: ObjectRef) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/jobs/{args.name}"
        return await self._get_object(
            "get_job",
            path,
            read_job,
            lambda job: f"job {args.namespace}/{_job_text(job)}",
        )

    @tool_call(
        description="List CronJobs: schedule, suspended, last schedule and last success, the Jobs running now.",
        result=CronJobList,
    )
    async def list_cronjobs(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/cronjobs"
        crons, more, params = await self._read_list(path, args.label_selector, read_cronjob)
        line = f"{len(crons)} cronjobs in {args.namespace}: " + "; ".join(_cronjob_text(c) for c in crons[:5])
        return self._listed(
            "list_cronjobs",
            path,
            params,
            CronJobList(cronjobs=crons, count=len(crons), more_available=more),
            len(crons),
            "cronjobs",
            _where(args),
            line,
        )

    @tool_call(description="Get one CronJob: schedule, suspended, last runs, active Jobs.", result=CronJobState)
    async def get_cronjob(self, args: ObjectRef) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/cronjobs/{args.name}"
        return await self._get_object(
            "get_cronjob",
            path,
            read_cronjob,
            lambda cron: f"cronjob {args.namespace}/{_cronjob_text(cron)}",
        )

    @tool_call(
        description="List ConfigMaps with their keys, resourceVersion and when each was last written "
        "(get_configmap reads the data).",
        result=ConfigMapList,
    )
    async def list_configmaps(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/configmaps"
        maps, more, params = await self._read_list(
            path, args.label_selector, lambda o: read_configmap(o, with_data=False)
        )
        maps.sort(key=lambda m: (m.last_written is not None, m.last_written or _EPOCH), reverse=True)
        line = f"{len(maps)} configmaps in {args.namespace}, last written first: " + "; ".join(
            f"{m.name} ({len(m.keys)} keys, written {_when(m.last_written)})" for m in maps[:5]
        )
        return self._listed(
            "list_configmaps",
            path,
            params,
            ConfigMapList(configmaps=maps, count=len(maps), more_available=more),
            len(maps),
            "configmaps",
            _where(args),
            line,
        )

    @tool_call(
        description="Get one ConfigMap's data (each value clipped at 2,000 characters), resourceVersion and "
        "last write time.",
        result=ConfigMapState,
    )
    async def get_configmap(self, args: ObjectRef) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/configmaps/{args.name}"
        return await self._get_object(
            "get_configmap",
            path,
            lambda body: read_configmap(body, with_data=True),
            lambda state: (
                f"configmap {args.namespace}/{args.name} resourceVersion {state.resource_version}, "
                f"last written {_when(state.last_written)}: keys {', '.join(state.keys) or 'none'}"
            ),
        )

    @tool_call(
        description="A ConfigMap's revisions, oldest first (data and write time of each), from the "
        "ControllerRevisions it owns, where a history controller or GitOps tool keeps them: what "
        "revert_configmap writes back.",
        result=ConfigMapRevisionList,
    )
    async def list_configmap_revisions(self, args: ObjectRef) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/controllerrevisions"
        owned, _, params = await self._read_list(path, None, read_configmap_revision)
        revisions = sorted((r for owner, r in owned if owner == args.name and r is not None), key=lambda r: r.revision)
        payload = ConfigMapRevisionList(configmap=args.name, namespace=args.namespace, revisions=revisions)
        line = f"{len(revisions)} revisions of configmap {args.namespace}/{args.name}: " + "; ".join(
            f"{r.revision} written {_when(r.written)} ({len(r.data)} keys)" for r in revisions[-4:]
        )
        return self._listed(
            "list_configmap_revisions",
            path,
            params,
            payload,
            len(revisions),
            "revisions",
            f"configmap {args.name}",
            line,
        )

    @tool_call(
        description="List Secrets: names, types, keys, resourceVersion and last write time. Never their values.",
        result=SecretList,
    )
    async def list_secrets(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/secrets"
        secrets, more, params = await self._read_list(path, args.label_selector, read_secret)
        line = f"{len(secrets)} secrets in {args.namespace}: " + "; ".join(
            f"{s.name} ({s.type}, keys {', '.join(s.keys)}, written {_when(s.last_written)})" for s in secrets[:5]
        )
        return self._listed(
            "list_secrets",
            path,
            params,
            SecretList(secrets=secrets, count=len(secrets), more_available=more),
            len(secrets),
            "secrets",
            _where(args),
            line,
        )

    @tool_call(description="Get one Secret's type, keys and version (never its values).", result=SecretState)
    async def get_secret(self, args: ObjectRef) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/secrets/{args.name}"
        return await self._get_object(
            "get_secret",
            path,
            read_secret,
            lambda secret: (
                f"secret {args.namespace}/{args.name} ({secret.type}) resourceVersion {secret.resource_version}, "
                f"last written {_when(secret.last_written)}: keys {', '.join(secret.keys) or 'none'}"
            ),
        )

    @tool_call(description="List Services: type, cluster IP, pod selector and ports.", result=ServiceList)
    async def list_services(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/services"
        services, more, params = await self._read_list(path, args.label_selector, read_service)
        line = f"{len(services)} services in {args.namespace}: " + "; ".join(
            f"{s.name} {s.type} {','.join(s.ports)} -> {_labels_text(s.selector) or 'no selector'}"
            for s in services[:6]
        )
        return self._listed(
            "list_services",
            path,
            params,
            ServiceList(services=services, count=len(services), more_available=more),
            len(services),
            "services",
            _where(args),
            line,
        )

    @tool_call(
        description="List NetworkPolicies: the pods each selects, its ingress/egress rules, and whether it denies "
        "all traffic in a direction.",
        result=NetworkPolicyList,
    )
    async def list_networkpolicies(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/networking.k8s.io/v1/namespaces/{args.namespace}/networkpolicies"
        policies, more, params = await self._read_list(path, args.label_selector, read_network_policy)
        line = f"{len(policies)} network policies in {args.namespace}: " + "; ".join(
            f"{p.name} on {_labels_text(p.pod_selector) or 'every pod'} ({'/'.join(p.policy_types)}"
            f"{', denies all ingress' if p.denies_all_ingress else ''}{', denies all egress' if p.denies_all_egress else ''})"
            for p in policies[:5]
        )
        return self._listed(
            "list_networkpolicies",
            path,
            params,
            NetworkPolicyList(networkpolicies=policies, count=len(policies), more_available=more),
            len(policies),
            "network policies",
            _where(args),
            line,
        )

    @tool_call(
        description="List HorizontalPodAutoscalers (autoscaling/v2): target, min/max, current and desired "
        "replicas, metrics against targets, conditions (ScalingLimited, ScalingActive).",
        result=HPAList,
    )
    async def list_hpas(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/apis/autoscaling/v2/namespaces/{args.namespace}/horizontalpodautoscalers"
        hpas, more, params = await self._read_list(path, args.label_selector, read_hpa)
        line = f"{len(hpas)} autoscalers in {args.namespace}: " + "; ".join(
            f"{h.name} -> {h.target} {h.current_replicas}/{h.min_replicas}..{h.max_replicas} ({', '.join(h.metrics)})"
            for h in hpas[:5]
        )
        return self._listed(
            "list_hpas",
            path,
            params,
            HPAList(hpas=hpas, count=len(hpas), more_available=more),
            len(hpas),
            "autoscalers",
            _where(args),
            line,
        )

    @tool_call(
        description="List nodes: ready, pressure conditions (MemoryPressure, DiskPressure, PIDPressure), cordoned, "
        "taints, allocatable CPU/memory/storage, kubelet version.",
        result=NodeList,
    )
    async def list_nodes(self, args: ListNodesInput) -> ToolResult:
        path = "/api/v1/nodes"
        nodes, more, params = await self._read_list(path, args.label_selector, read_node)
        troubled = [n for n in nodes if n.problems]
        line = f"{len(nodes)} nodes, {len(troubled)} with problems" + (
            ": " + "; ".join(f"{n.name} {', '.join(n.problems)}" for n in troubled[:6]) if troubled else ""
        )
        return self._listed(
            "list_nodes",
            path,
            params,
            NodeList(nodes=nodes, count=len(nodes), more_available=more),
            len(nodes),
            "nodes",
            "the cluster",
            line,
        )

    @tool_call(description="Get one node: conditions, cordon, taints, allocatable.", result=NodeState)
    async def get_node(self, args: NodeRef) -> ToolResult:
        path = f"/api/v1/nodes/{args.name}"
        return await self._get_object(
            "get_node",
            path,
            read_node,
            lambda node: f"node {args.name}: {', '.join(node.problems) or 'Ready, no pressure'}",
        )

    @tool_call(
        description="List ResourceQuotas: hard limits, use, and which resources are exhausted (new pods refused).",
        result=ResourceQuotaList,
    )
    async def list_resourcequotas(self, args: ListInNamespaceInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/resourcequotas"
        quotas, more, params = await self._read_list(path, args.label_selector, read_resource_quota)
        line = f"{len(quotas)} quotas in {args.namespace}: " + "; ".join(
            f"{q.name} " + (f"exhausted: {', '.join(q.exhausted)}" if q.exhausted else "within limits")
            for q in quotas[:5]
        )
        return self._listed(
            "list_resourcequotas",
            path,
            params,
            ResourceQuotaList(resourcequotas=quotas, count=len(quotas), more_available=more),
            len(quotas),
            "resource quotas",
            _where(args),
            line,
        )

    # -- the cluster beyond Deployments: mutations --------------------------------------------------

    @tool_call(
        description="Set a StatefulSet's replica count (kubectl scale statefulset).", safety=STATEFULSET_SCALE_SAFETY
    )
    async def scale_statefulset(self, args: ScaleStatefulSetInput) -> ToolResult:
        path = f"/apis/apps/v1/namespaces/{args.namespace}/statefulsets/{args.name}/scale"
        _, before = await self._get(path)
        previous = as_object(before.get("spec")).get("replicas")
        patch = {"spec": {"replicas": args.replicas}}
        after = await self._patch(path, patch, MERGE_PATCH)
        desired = as_object(after.get("spec")).get("replicas", args.replicas)
        return ToolResult(
            tool=self.tool_id("scale_statefulset"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "patch": patch},
            data={
                "statefulset": args.name,
                "namespace": args.namespace,
                "previous_replicas": previous,
                "replicas": desired,
            },
            summary=f"scaled statefulset {args.namespace}/{args.name} from {previous} to {desired} replicas "
            "(pods are added or removed one at a time, highest ordinal first)",
        )

    async def _set_cronjob_suspend(self, call: str, args: ObjectRef, suspend: bool) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/cronjobs/{args.name}"
        _, before = await self._get(path)
        was = bool(as_object(before.get("spec")).get("suspend", False))
        patch = {"spec": {"suspend": suspend}}
        after = await self._patch(path, patch, MERGE_PATCH)
        cron = read_cronjob(after)
        verb = "suspended" if suspend else "resumed"
        running = f"; still running: {', '.join(cron.active_jobs)}" if cron.active_jobs else ""
        return ToolResult(
            tool=self.tool_id(call),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "patch": patch},
            data={
                "cronjob": args.name,
                "namespace": args.namespace,
                "suspended_before": was,
                "suspended": cron.suspended,
                "active_jobs": cron.active_jobs,
            },
            summary=f"{verb} cronjob {args.namespace}/{args.name} (was {'suspended' if was else 'active'})"
            + (f"{running} (suspending stops new runs, not the running Jobs: scale_job them to 0)" if suspend else ""),
        )

    @tool_call(
        description="Suspend a CronJob (spec.suspend: true): no new runs start. Jobs already running keep running.",
        safety=SUSPEND_SAFETY,
    )
    async def suspend_cronjob(self, args: ObjectRef) -> ToolResult:
        return await self._set_cronjob_suspend("suspend_cronjob", args, True)

    @tool_call(description="Resume a suspended CronJob (spec.suspend: false).", safety=RESUME_SAFETY)
    async def resume_cronjob(self, args: ObjectRef) -> ToolResult:
        return await self._set_cronjob_suspend("resume_cronjob", args, False)

    @tool_call(
        description="Set a running Job's parallelism; 0 stops its pods now and keeps the Job (and its history) to "
        "resume later. Refuses a finished Job.",
        safety=JOB_SCALE_SAFETY,
    )
    async def scale_job(self, args: ScaleJobInput) -> ToolResult:
        path = f"/apis/batch/v1/namespaces/{args.namespace}/jobs/{args.name}"
        _, before = await self._get(path)
        job = read_job(before)
        if job.status in ("complete", "failed"):
            raise ToolInputError(
                f"job {args.namespace}/{args.name} has already finished ({job.status}); there is nothing to scale"
            )
        patch = {"spec": {"parallelism": args.parallelism}}
        after = read_job(await self._patch(path, patch, MERGE_PATCH))
        stopping = " (its pods are being terminated)" if args.parallelism == 0 else ""
        return ToolResult(
            tool=self.tool_id("scale_job"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "patch": patch},
            data={
                "job": args.name,
                "namespace": args.namespace,
                "previous_parallelism": job.parallelism,
                "parallelism": after.parallelism,
                "active": after.active,
                "owner": job.owner,
            },
            summary=f"set job {args.namespace}/{args.name} parallelism from {job.parallelism} to {after.parallelism}"
            f"{stopping}; {after.active} pods active"
            + (f"; it belongs to {job.owner}, which will start new runs unless suspended" if job.owner else ""),
        )

    @tool_call(
        description="Write a ConfigMap's data back to an earlier revision's (the complete data; other keys are "
        "removed). Pods see it on their next read of a mounted file (up to a minute) or, for env vars, on restart.",
        safety=CONFIG_REVERT_SAFETY,
    )
    async def revert_configmap(self, args: RevertConfigMapInput) -> ToolResult:
        path = f"/api/v1/namespaces/{args.namespace}/configmaps/{args.name}"
        response, before = await self._get(path)
        current = {str(k): str(v) for k, v in as_object(before.get("data")).items()}
        version = opt_str(as_object(before.get("metadata")).get("resourceVersion"))
        if args.resource_version is not None and version is not None and args.resource_version != version:
            raise ToolInputError(
                f"resource_version: configmap {args.namespace}/{args.name} is at resourceVersion {version}, not "
                f"{args.resource_version}: it changed since it was read; read it again before reverting"
            )
        changed = sorted(k for k in {*current, *args.data} if current.get(k) != args.data.get(k))
        if not changed:
            return ToolResult(
                tool=self.tool_id("revert_configmap"),
                status="ok",
                query=f"GET {path}",
                params={},
                data={"configmap": args.name, "namespace": args.namespace, "skipped": True, "changed_keys": []},
                summary=f"skipped: configmap {args.namespace}/{args.name} already has this data",
            )
        patch: dict[str, Any] = {"data": merge_patch_replacing(current, args.data)}
        if version is not None:
            patch["metadata"] = {"resourceVersion": version}  # 409 Conflict if it changed after the read
        after = await self._patch(path, patch, MERGE_PATCH)
        return ToolResult(
            tool=self.tool_id("revert_configmap"),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": MERGE_PATCH, "changed_keys": changed},
            data={
                "configmap": args.name,
                "namespace": args.namespace,
                "skipped": False,
                "changed_keys": changed,
                "previous_data": {k: v[:2000] for k, v in current.items()},
                "resource_version_before": version,
                "resource_version": opt_str(as_object(after.get("metadata")).get("resourceVersion")),
            },
            summary=f"reverted configmap {args.namespace}/{args.name}: {len(changed)} keys changed "
            f"({', '.join(changed[:5])}); pods reading it as env vars need a restart to see it",
        )

    async def _set_unschedulable(self, call: str, args: NodeRef, unschedulable: bool) -> ToolResult:
        path = f"/api/v1/nodes/{args.name}"
        _, before = await self._get(path)
        was = bool(as_object(before.get("spec")).get("unschedulable", False))
        # What kubectl cordon sends; uncordon removes the field rather than writing false.
        patch = {"spec": {"unschedulable": True if unschedulable else None}}
        after = read_node(await self._patch(path, patch, STRATEGIC_MERGE_PATCH))
        verb = "cordoned" if unschedulable else "uncordoned"
        return ToolResult(
            tool=self.tool_id(call),
            status="ok",
            query=f"PATCH {path}",
            params={"content_type": STRATEGIC_MERGE_PATCH, "patch": patch},
            data={"node": args.name, "unschedulable_before": was, "unschedulable": after.unschedulable},
            summary=f"{verb} node {args.name}"
            + (" (already)" if was == unschedulable else "")
            + ("; its running pods stay until drained or evicted" if unschedulable else ""),
        )

    @tool_call(
        description="Cordon a node (spec.unschedulable: true, kubectl cordon): no new pods land on it; running pods "
        "stay.",
        safety=CORDON_SAFETY,
    )
    async def cordon_node(self, args: NodeRef) -> ToolResult:
        return await self._set_unschedulable("cordon_node", args, True)

    @tool_call(
        description="Uncordon a node (kubectl uncordon): pods may be scheduled on it again.", safety=UNCORDON_SAFETY
    )
    async def uncordon_node(self, args: NodeRef) -> ToolResult:
        return await self._set_unschedulable("uncordon_node", args, False)

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


def _where(args: ListInNamespaceInput) -> str:
    return f"{args.namespace} matching {args.label_selector}" if args.label_selector else args.namespace


def _when(moment: datetime | None) -> str:
    return moment.isoformat().replace("+00:00", "Z") if moment else "unknown"


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _statefulset_text(s: StatefulSetState) -> str:
    rolling = (
        f", updating to {s.update_revision}" if s.update_revision and s.update_revision != s.current_revision else ""
    )
    return f"{s.name} {s.ready}/{s.replicas} ready, revision {s.current_revision}{rolling} ({_images_text(s.images)})"


def _job_text(j: JobState) -> str:
    by = f", {j.started_by}" + (f" by {j.owner}" if j.owner else "") if j.started_by else ""
    return f"{j.name} {j.status} ({j.active} active, parallelism {j.parallelism}, started {_when(j.started)}{by})"


def _cronjob_text(c: CronJobState) -> str:
    running = f", running {', '.join(c.active_jobs)}" if c.active_jobs else ""
    return f"{c.name} '{c.schedule}'{' SUSPENDED' if c.suspended else ''}, last run {_when(c.last_schedule)}{running}"
