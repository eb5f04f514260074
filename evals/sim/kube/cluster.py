"""The simulated cluster model: Deployments, ReplicaSets, Pods and Events over time, and how PATCHes
extend their history.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable
from typing import Any

from evals.sim.faults import FaultTimeline
from evals.sim.kube.objects import (
    DESIRED_REPLICAS,
    EVENT_TTL_SECONDS,
    HASH_LABEL,
    MAX_REPLICAS,
    RESTARTED_AT,
    REVISION,
    REVISION_HISTORY,
    ActionRequest,
    KubeError,
    PodEffectsFn,
    normalize,
    not_found,
    random_suffix,
    stable_uid,
    template_hash,
    without_hash_label,
)
from evals.sim.kube.patches import apply_patch
from evals.sim.kube.records import DeploymentRecord, ReplicaSetRecord, Rollout, _images, pod_template
from evals.sim.kube.resources import ClusterObjects, NodeEffectsFn, NodeHistoryFn, container_status
from evals.sim.kube.selectors import field_selector_matches, label_selector_matches
from evals.sim.scenario import PodEffect, Scenario, ServiceSpec
from evals.sim.telemetry import stable_hash
from evals.sim.timeutil import rfc3339


class KubeCluster:
    """Every Deployment of the scenario's topology and what the API shows of it at a given time."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        anchor: float,
        now: Callable[[], float],
        pod_effects: PodEffectsFn,
        node_effects: NodeEffectsFn | None = None,
        node_history: NodeHistoryFn | None = None,
    ) -> None:
        self.scenario = scenario
        self.anchor = anchor
        self._now = now
        self._pod_effects = pod_effects
        self._seed = scenario.seed
        self.deployments: dict[tuple[str, str], DeploymentRecord] = {}
        self._resource_version = 1000
        self.nodes = scenario.node_names
        for spec in scenario.topology.services:
            if spec.deployment_name is None or spec.image is None:
                continue
            if scenario.workload_for_service(spec.name) is not None:
                continue  # a v2 StatefulSet, DaemonSet or Job runs it instead of a Deployment
            self._add_deployment(spec, spec.image)
        # Created after the Deployments, so that their resourceVersions are what format v1 always served.
        self.objects = ClusterObjects(
            scenario,
            anchor=anchor,
            now=now,
            next_version=self._next_version,
            current_version=lambda: self._resource_version,
            pod_effects=pod_effects,
            node_effects=node_effects or (lambda _now: []),
            node_history=node_history or (lambda _now: []),
        )

    def _next_version(self) -> int:
        self._resource_version += 1
        return self._resource_version

    def _add_deployment(self, spec: ServiceSpec, image: str) -> None:
        name = spec.deployment_name or spec.name
        created = self.anchor + min(spec.deployed_at, -30 * 86400.0)
        record = DeploymentRecord(
            service=spec,
            name=name,
            namespace=spec.namespace,
            uid=stable_uid(self._seed, "deployment", spec.namespace, name),
            created_at=created,
            labels={"app": name},
        )
        self.deployments[(spec.namespace, name)] = record
        self._touch(record)
        env = dict(spec.env)
        self._rollout(
            record,
            pod_template(spec, image, env),
            self.anchor + spec.deployed_at,
            reason="initial",
            revision=spec.revision,
            replicas=spec.replicas,
        )
        own = (c for c in self.scenario.changes if c.service == spec.name and (c.deploy or c.replicas is not None))
        for change in sorted(own, key=lambda c: c.at):
            if change.deploy is None:
                assert change.replicas is not None
                self._scale(record, change.replicas, self.anchor + change.at)
                continue
            image = change.deploy.image or image  # a config-only rollout keeps the image
            env = {**env, **change.deploy.env}
            self._rollout(
                record,
                pod_template(spec, image, env),
                self.anchor + change.at,
                reason="deploy",
                revision=change.deploy.revision,
                replicas=record.rollouts[-1].replicas,
            )

    def _rollout(
        self,
        record: DeploymentRecord,
        template: dict[str, Any],
        at: float,
        *,
        reason: str,
        revision: int | None = None,
        replicas: int,
    ) -> None:
        """Make ``template`` current at ``at``, reusing the ReplicaSet that already has it, if any."""
        replicaset = record.find_replicaset(template)
        if replicaset is None:
            normalized = without_hash_label(template)
            digest = template_hash(normalized)
            replicaset = ReplicaSetRecord(
                name=f"{record.name}-{digest}",
                uid=stable_uid(self._seed, "replicaset", record.namespace, record.name, digest),
                hash=digest,
                template=normalized,
                created_at=at,
            )
            record.replicasets.append(replicaset)
        number = revision if revision is not None else (record.max_revision() + 1 if record.rollouts else 1)
        record.rollouts.append(Rollout(at, replicaset, number, replicas, pod_set=len(record.rollouts), reason=reason))
        record.rollouts.sort(key=lambda r: r.at)

    # -- lookups
    def deployment(self, namespace: str, name: str) -> DeploymentRecord:
        record = self.deployments.get((namespace, name))
        if record is None:
            raise not_found("deployments", name, "apps")
        return record

    def deployment_for_service(self, service: str) -> DeploymentRecord | None:
        for record in self.deployments.values():
            if record.service.name == service:
                return record
        return None

    def resource_version(self) -> str:
        return str(self._resource_version)

    # -- pods
    def pod_names(self, record: DeploymentRecord, rollout: Rollout) -> list[str]:
        return [
            f"{rollout.replicaset.name}-{random_suffix(5, self._seed, rollout.replicaset.name, rollout.pod_set, i)}"
            for i in range(rollout.replicas)
        ]

    def pod_timeline(self, service: str) -> list[tuple[float, list[str]]]:
        """When each set of pods started running, oldest first (used to attribute log lines)."""
        record = self.deployment_for_service(service)
        if record is None:
            return self.objects.pod_timeline(service)
        return [(r.at, self.pod_names(record, r)) for r in record.rollouts]

    def _pod_created(self, record: DeploymentRecord, rollout: Rollout, index: int) -> float:
        """When pod ``index`` of the rollout's pod set started: with its rollout, or with the scale-up that added it."""
        for candidate in record.rollouts:
            if candidate.pod_set == rollout.pod_set and candidate.replicas > index:
                return _pods_start(candidate) + index * 3
        return _pods_start(rollout)

    def render_pod(self, record: DeploymentRecord, rollout: Rollout, index: int, name: str) -> dict[str, Any]:
        now = self._now()
        spec = record.service
        replicaset = rollout.replicaset
        created = self._pod_created(record, rollout, index)
        uid = stable_uid(self._seed, "pod", name)
        template = replicaset.template_with_hash()
        containers = template["spec"]["containers"]
        node = self._node_of(record, name, index)
        effect = self._effect_for(spec.name, index, now, node)
        if effect is not None and (effect[1].container or effect[1].image or effect[1].evicted):
            return self._render_v2_pod(record, rollout, index, name, node, effect)
        phase = "Running"
        pod_conditions_ready = True
        scheduled = True
        statuses = []
        for container in containers:
            image = container.get("image", "")
            status: dict[str, Any] = {
                "name": container["name"],
                "image": image,
                "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
                "containerID": f"containerd://{hashlib.sha256((name + container['name']).encode()).hexdigest()}",
                "ready": True,
                "started": True,
                "restartCount": 0,
                "state": {"running": {"startedAt": rfc3339(created + 4)}},
                "lastState": {},
            }
            if effect is not None:
                timeline, pod_effect = effect
                since = max(timeline.active_since(now), created)
                restarts = math.floor(pod_effect.restarts_per_hour * max(now - since, 0) / 3600)
                status["restartCount"] = restarts
                last_restart = since + (now - since) * 0.8 if restarts else created + 4
                if restarts or pod_effect.last_termination_reason:
                    reason = pod_effect.last_termination_reason or (
                        "OOMKilled" if pod_effect.status == "OOMKilled" else "Error"
                    )
                    exit_code = (
                        pod_effect.exit_code
                        if pod_effect.exit_code is not None
                        else (137 if reason == "OOMKilled" else 1)
                    )
                    status["lastState"] = {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": reason,
                            "startedAt": rfc3339(max(last_restart - 60, since)),
                            "finishedAt": rfc3339(last_restart),
                            "containerID": status["containerID"],
                        }
                    }
                if pod_effect.status in ("CrashLoopBackOff", "Error"):
                    status["state"] = {
                        "waiting": {
                            "reason": "CrashLoopBackOff",
                            "message": f"back-off 5m0s restarting failed container={container['name']} "
                            f"pod={name}_{record.namespace}({uid})",
                        }
                    }
                    status["ready"] = status["started"] = False
                elif pod_effect.status == "ImagePullBackOff":
                    status["state"] = {
                        "waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
                    }
                    status["ready"] = status["started"] = False
                    status["restartCount"] = 0
                    status["lastState"] = {}
                    phase = "Pending"
                elif pod_effect.status == "Pending":
                    phase = "Pending"
                    scheduled = False
                else:
                    status["state"] = {"running": {"startedAt": rfc3339(last_restart)}}
                    status["ready"] = pod_effect.ready
                pod_conditions_ready = pod_conditions_ready and bool(status["ready"]) and scheduled
            statuses.append(status)
        transition = rfc3339(created + 6)
        if scheduled:
            conditions = [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": transition},
                {"type": "Initialized", "status": "True", "lastTransitionTime": rfc3339(created + 1)},
                _ready_condition("Ready", pod_conditions_ready, transition, containers),
                _ready_condition("ContainersReady", pod_conditions_ready, transition, containers),
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(created)},
            ]
        else:
            conditions = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient memory.",
                    "lastTransitionTime": rfc3339(created),
                }
            ]
        pod: dict[str, Any] = {
            "metadata": {
                "name": name,
                "generateName": f"{replicaset.name}-",
                "namespace": record.namespace,
                "uid": uid,
                "resourceVersion": self.resource_version(),
                "creationTimestamp": rfc3339(created),
                "labels": dict(template["metadata"]["labels"]),
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": replicaset.name,
                        "uid": replicaset.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {**copy.deepcopy(template["spec"]), **({"nodeName": node} if scheduled else {})},
            "status": {
                "phase": phase,
                "conditions": conditions,
                "qosClass": "Burstable",
                "startTime": rfc3339(created),
            },
        }
        if scheduled:
            octet = stable_hash(name, "ip") % 250 + 2
            pod["status"].update(
                {
                    "hostIP": f"10.0.{self.nodes.index(node)}.10",
                    "podIP": f"10.244.{self.nodes.index(node)}.{octet}",
                    "containerStatuses": statuses,
                }
            )
        return pod

    def _effect_for(
        self, service: str, index: int, now: float, node: str | None = None
    ) -> tuple[FaultTimeline, PodEffect] | None:
        for timeline, effect in self._pod_effects(service, now):
            if (effect.affected is None or index < effect.affected) and (effect.node is None or effect.node == node):
                return timeline, effect
        return None

    def _node_of(self, record: DeploymentRecord, pod: str, index: int) -> str:
        """The node a pod runs on: the service's v2 ``nodes`` in turn, else a hash of its name."""
        if record.service.nodes:
            return record.service.nodes[index % len(record.service.nodes)]
        return self.nodes[stable_hash(pod) % len(self.nodes)]

    def _render_v2_pod(
        self,
        record: DeploymentRecord,
        rollout: Rollout,
        index: int,
        name: str,
        node: str,
        effect: tuple[FaultTimeline, PodEffect],
    ) -> dict[str, Any]:
        """A pod whose fault hits one container, runs a stale image or was evicted (format v2 effects)."""
        now = self._now()
        pod_effect = effect[1]
        healthy = self.render_pod_without_effects(record, rollout, index, name, node)
        containers = healthy["spec"]["containers"]
        created = self._pod_created(record, rollout, index)
        target = pod_effect.container or containers[0]["name"]
        statuses = []
        for container in containers:
            hit = pod_effect.container is None or container["name"] == pod_effect.container
            if pod_effect.image is not None and container["name"] == target:
                container["image"] = pod_effect.image
            statuses.append(
                container_status(name, container["name"], container["image"], created, effect if hit else None, now)
            )
        ready = all(s["ready"] for s in statuses)
        status = healthy["status"]
        status["containerStatuses"] = statuses
        for condition in status["conditions"]:
            if condition["type"] in ("Ready", "ContainersReady"):
                condition.update(
                    _ready_condition(condition["type"], ready, condition["lastTransitionTime"], containers)
                )
        if pod_effect.evicted:
            status.update(
                {
                    "phase": "Failed",
                    "reason": "Evicted",
                    "message": f"The node {node} was low on resource: ephemeral-storage.",
                }
            )
        return healthy

    def render_pod_without_effects(
        self, record: DeploymentRecord, rollout: Rollout, index: int, name: str, node: str
    ) -> dict[str, Any]:
        """The pod as it runs with no fault on it."""
        saved = self._pod_effects
        self._pod_effects = lambda _service, _at: []
        try:
            return self.render_pod(record, rollout, index, name)
        finally:
            self._pod_effects = saved

    def current_pods(self, record: DeploymentRecord) -> list[dict[str, Any]]:
        rollout = record.current(self._now())
        return [self.render_pod(record, rollout, i, name) for i, name in enumerate(self.pod_names(record, rollout))]

    def list_pods(
        self, namespace: str | None, label_selector: str | None, field_selector: str | None
    ) -> dict[str, Any]:
        """Pods of one namespace, or of every namespace (``None``: ``GET /api/v1/pods``)."""
        items = []
        candidates = [
            pod
            for (ns, _), record in sorted(self.deployments.items())
            if namespace is None or ns == namespace
            for pod in self.current_pods(record)
        ]
        namespaces = sorted(self.objects.namespaces()) if namespace is None else [namespace]
        for pod in [*candidates, *(p for ns in namespaces for p in self.objects.pods(ns))]:
            if label_selector_matches(label_selector, pod["metadata"]["labels"]) and field_selector_matches(
                field_selector, pod
            ):
                items.append(pod)
        items.sort(key=lambda p: (p["metadata"].get("namespace", ""), p["metadata"]["name"]))
        return {
            "kind": "PodList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": self.resource_version()},
            "items": items,
        }

    def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        for (ns, _), record in self.deployments.items():
            if ns != namespace:
                continue
            for pod in self.current_pods(record):
                if pod["metadata"]["name"] == name:
                    return {"kind": "Pod", "apiVersion": "v1", **pod}
        for pod in self.objects.pods(namespace):
            if pod["metadata"]["name"] == name:
                return {"kind": "Pod", "apiVersion": "v1", **pod}
        raise not_found("pods", name)

    # -- deployments and replicasets
    def render_deployment(self, record: DeploymentRecord) -> dict[str, Any]:
        now = self._now()
        current = record.current(now)
        past = [r for r in record.rollouts if r.at <= now]
        pods = self.current_pods(record)
        ready = sum(
            1 for p in pods if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        )
        replicas = current.replicas
        annotations = {**record.annotations, REVISION: str(current.revision)}
        progressing_at = rfc3339(current.at)
        conditions = [
            {
                "type": "Available",
                "status": "True"
                if ready >= max(replicas - math.ceil(replicas * 0.25) + (replicas == 0), 0)
                else "False",
                "reason": "MinimumReplicasAvailable" if ready >= replicas * 0.75 else "MinimumReplicasUnavailable",
                "message": "Deployment has minimum availability."
                if ready >= replicas * 0.75
                else "Deployment does not have minimum availability.",
                "lastUpdateTime": progressing_at,
                "lastTransitionTime": progressing_at,
            },
            {
                "type": "Progressing",
                "status": "True",
                "reason": "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{current.replicaset.name}" has successfully progressed.',
                "lastUpdateTime": progressing_at,
                "lastTransitionTime": rfc3339(record.created_at),
            },
        ]
        status: dict[str, Any] = {
            "observedGeneration": len(past),
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "conditions": conditions,
        }
        if replicas - ready > 0:
            status["unavailableReplicas"] = replicas - ready
        if ready == 0:
            status.pop("readyReplicas")
            status.pop("availableReplicas")
        return {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": record.name,
                "namespace": record.namespace,
                "uid": record.uid,
                "resourceVersion": str(record.resource_version),
                "generation": len(past),
                "creationTimestamp": rfc3339(record.created_at),
                "labels": dict(record.labels),
                "annotations": annotations,
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": record.name}},
                "template": copy.deepcopy(current.replicaset.template),
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": status,
        }

    def list_deployments(self, namespace: str, label_selector: str | None) -> dict[str, Any]:
        items = []
        for (ns, _), record in sorted(self.deployments.items()):
            if ns == namespace and label_selector_matches(label_selector, record.labels):
                rendered = self.render_deployment(record)
                rendered.pop("apiVersion")
                rendered.pop("kind")
                items.append(rendered)
        return {
            "kind": "DeploymentList",
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": self.resource_version()},
            "items": items,
        }

    def render_replicaset(self, record: DeploymentRecord, replicaset: ReplicaSetRecord) -> dict[str, Any]:
        now = self._now()
        current = record.current(now)
        revisions = record.revisions_of(replicaset, now)
        is_current = current.replicaset is replicaset
        replicas = current.replicas if is_current else 0
        annotations = {
            DESIRED_REPLICAS: str(current.replicas),
            MAX_REPLICAS: str(current.replicas + math.ceil(current.replicas * 0.25)),
            REVISION: str(revisions[-1]),
        }
        if len(revisions) > 1:
            annotations[REVISION_HISTORY] = ",".join(str(r) for r in revisions[:-1])
        template = replicaset.template_with_hash()
        ready = 0
        if is_current:
            ready = sum(
                1
                for p in self.current_pods(record)
                if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
            )
        status: dict[str, Any] = {
            "replicas": replicas,
            "fullyLabeledReplicas": replicas,
            "observedGeneration": len(revisions) + 1,
        }
        if ready:
            status.update({"readyReplicas": ready, "availableReplicas": ready})
        return {
            "metadata": {
                "name": replicaset.name,
                "namespace": record.namespace,
                "uid": replicaset.uid,
                "resourceVersion": self.resource_version(),
                "generation": len(revisions) + 1,
                "creationTimestamp": rfc3339(replicaset.created_at),
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [
                    {
                        "apiVersion": "apps/v1",
                        "kind": "Deployment",
                        "name": record.name,
                        "uid": record.uid,
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": record.name, HASH_LABEL: replicaset.hash}},
                "template": template,
            },
            "status": status,
        }

    def list_replicasets(self, namespace: str, label_selector: str | None) -> dict[str, Any]:
        now = self._now()
        items = []
        for (ns, _), record in sorted(self.deployments.items()):
            if ns != namespace:
                continue
            for replicaset in record.replicasets:
                if replicaset.created_at > now:
                    continue
                rendered = self.render_replicaset(record, replicaset)
                if label_selector_matches(label_selector, rendered["metadata"]["labels"]):
                    items.append(rendered)
        items.sort(key=lambda r: r["metadata"]["name"])
        return {
            "kind": "ReplicaSetList",
            "apiVersion": "apps/v1",
            "metadata": {"resourceVersion": self.resource_version()},
            "items": items,
        }

    def render_scale(self, record: DeploymentRecord) -> dict[str, Any]:
        current = record.current(self._now())
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": record.name,
                "namespace": record.namespace,
                "uid": record.uid,
                "resourceVersion": str(record.resource_version),
                "creationTimestamp": rfc3339(record.created_at),
            },
            "spec": {"replicas": current.replicas},
            "status": {"replicas": current.replicas, "selector": f"app={record.name}"},
        }

    # -- mutations
    def patch_deployment(
        self, namespace: str, name: str, body: bytes, content_type: str
    ) -> tuple[dict[str, Any], list[ActionRequest]]:
        """Apply a PATCH the way the API server and the deployment controller would.

        Returns the updated Deployment and the actions it amounts to (possibly none, e.g. when
        the same rollback is sent twice).
        """
        record = self.deployment(namespace, name)
        before = self.render_deployment(record)
        after = apply_patch(before, body, content_type)
        self._check_resource_version(record, after, "deployments.apps")
        now = self._now()
        current = record.current(now)
        actions: list[ActionRequest] = []
        ref = {"namespace": namespace, "name": name}

        new_template = after.get("spec", {}).get("template")
        if not isinstance(new_template, dict) or not new_template.get("spec", {}).get("containers"):
            raise KubeError(
                422, "Invalid", f'Deployment.apps "{name}" is invalid: spec.template.spec.containers: Required value'
            )
        labels = new_template.get("metadata", {}).get("labels", {})
        if labels.get("app") != record.name:
            raise KubeError(
                422,
                "Invalid",
                f'Deployment.apps "{name}" is invalid: spec.template.metadata.labels: Invalid value: '
                f'map[string]string{{"app":"{labels.get("app", "")}"}}: `selector` does not match template `labels`',
            )
        replicas = after.get("spec", {}).get("replicas", current.replicas)
        if not isinstance(replicas, int) or replicas < 0:
            raise KubeError(
                422, "Invalid", f'Deployment.apps "{name}" is invalid: spec.replicas: Invalid value: {replicas!r}'
            )

        annotations = dict(after.get("metadata", {}).get("annotations") or {})
        annotations.pop(REVISION, None)
        annotations.pop(REVISION_HISTORY, None)
        record.annotations = {k: str(v) for k, v in annotations.items()}

        wanted = without_hash_label(new_template)
        if wanted != current.replicaset.template:
            existing = record.find_replicaset(wanted)
            if existing is not None:
                revisions = record.revisions_of(existing, now)
                previous_revision = revisions[-1] if revisions else None
                self._rollout(record, wanted, now, reason="rollback", replicas=replicas)
                actions.append(("kubernetes.rollout_undo", {**ref, "to_revision": previous_revision}))
            else:
                kind = _template_change_kind(current.replicaset.template, wanted)
                self._rollout(record, wanted, now, reason=kind, replicas=replicas)
                if kind == "restart":
                    actions.append(("kubernetes.rollout_restart", ref))
                elif kind == "image":
                    actions.append(("kubernetes.set_image", {**ref, "images": _images(wanted)}))
                else:
                    actions.append(("kubernetes.patch_deployment", ref))
        elif replicas != current.replicas:
            self._scale(record, replicas, now)
            actions.append(("kubernetes.scale", {**ref, "replicas": replicas}))
        if actions or annotations != before["metadata"].get("annotations"):
            self._touch(record)
        return self.render_deployment(record), actions

    def _touch(self, record: DeploymentRecord) -> None:
        self._resource_version += 1
        record.resource_version = self._resource_version

    def _check_resource_version(self, record: DeploymentRecord, patched: dict[str, Any], kind: str) -> None:
        """A patch that carries a resourceVersion applies only to that version (optimistic concurrency)."""
        sent = patched.get("metadata", {}).get("resourceVersion")
        if sent is not None and str(sent) != str(record.resource_version):
            raise KubeError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {kind} "{record.name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": record.name, "group": kind.partition(".")[2], "kind": kind.partition(".")[0]},
            )

    def _scale(self, record: DeploymentRecord, replicas: int, now: float) -> None:
        current = record.current(now)
        record.rollouts.append(Rollout(now, current.replicaset, current.revision, replicas, current.pod_set, "scale"))
        record.rollouts.sort(key=lambda r: r.at)

    def patch_scale(
        self, namespace: str, name: str, body: bytes, content_type: str
    ) -> tuple[dict[str, Any], list[ActionRequest]]:
        record = self.deployment(namespace, name)
        after = apply_patch(self.render_scale(record), body, content_type)
        self._check_resource_version(record, after, "deployments.apps")
        replicas = after.get("spec", {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise KubeError(
                422, "Invalid", f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: {replicas!r}'
            )
        actions: list[ActionRequest] = []
        now = self._now()
        if replicas != record.current(now).replicas:
            self._scale(record, replicas, now)
            actions.append(("kubernetes.scale", {"namespace": namespace, "name": name, "replicas": replicas}))
            self._touch(record)
        return self.render_scale(record), actions

    # -- events
    def events(self, namespace: str, field_selector: str | None) -> dict[str, Any]:
        now = self._now()
        items = []
        for (ns, _), record in sorted(self.deployments.items()):
            if ns != namespace:
                continue
            items.extend(self._rollout_events(record, now))
            items.extend(self._fault_events(record, now))
        items.extend(self.objects.events(namespace, now))
        items = [
            e
            for e in items
            if now - EVENT_TTL_SECONDS <= e["_last"] <= now and field_selector_matches(field_selector, e)
        ]
        items.sort(key=lambda e: (e["_last"], e["metadata"]["name"]))
        for event in items:
            del event["_last"]
        return {
            "kind": "EventList",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": self.resource_version()},
            "items": items,
        }

    def _event(
        self,
        record: DeploymentRecord,
        *,
        kind: str,
        name: str,
        uid: str,
        reason: str,
        message: str,
        first: float,
        last: float | None = None,
        count: int = 1,
        type_: str = "Normal",
        component: str = "kubelet",
        api_version: str = "v1",
        host: str | None = None,
    ) -> dict[str, Any]:
        last = first if last is None else last
        event_name = f"{name}.{hashlib.sha256(f'{self._seed}/{name}/{reason}/{first}'.encode()).hexdigest()[:16]}"
        source: dict[str, Any] = {"component": component}
        if host:
            source["host"] = host
        return {
            "metadata": {
                "name": event_name,
                "namespace": record.namespace,
                "uid": stable_uid(self._seed, "event", event_name),
                "resourceVersion": self.resource_version(),
                "creationTimestamp": rfc3339(first),
            },
            "involvedObject": {
                "kind": kind,
                "namespace": record.namespace,
                "name": name,
                "uid": uid,
                "apiVersion": api_version,
            },
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": rfc3339(first),
            "lastTimestamp": rfc3339(last),
            "count": count,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
            "_last": last,
        }

    def _rollout_events(self, record: DeploymentRecord, now: float) -> list[dict[str, Any]]:
        events = []
        previous: Rollout | None = None
        for rollout in record.rollouts:
            if rollout.at > now:
                break
            at = rollout.at
            if previous is None:
                previous = rollout
                continue
            deployment: dict[str, Any] = {
                "kind": "Deployment",
                "name": record.name,
                "uid": record.uid,
                "api_version": "apps/v1",
                "component": "deployment-controller",
            }
            if rollout.reason == "scale":
                verb = "up" if rollout.replicas > previous.replicas else "down"
                events.append(
                    self._event(
                        record,
                        **deployment,
                        reason="ScalingReplicaSet",
                        first=at,
                        message=f"Scaled {verb} replica set {rollout.replicaset.name} to {rollout.replicas} from {previous.replicas}",
                    )
                )
            else:
                events.append(
                    self._event(
                        record,
                        **deployment,
                        reason="ScalingReplicaSet",
                        first=_pods_start(rollout),
                        message=f"Scaled up replica set {rollout.replicaset.name} to {rollout.replicas} from 0",
                    )
                )
                events.append(
                    self._event(
                        record,
                        **deployment,
                        reason="ScalingReplicaSet",
                        first=at,
                        message=f"Scaled down replica set {previous.replicaset.name} to 0 from {previous.replicas}",
                    )
                )
                for i, pod in enumerate(self.pod_names(record, rollout)):
                    pod_uid = stable_uid(self._seed, "pod", pod)
                    created = _pods_start(rollout) + i * 3
                    node = self._node_of(record, pod, i)
                    image = next(iter(_images(rollout.replicaset.template).values()), "")
                    common: dict[str, Any] = {"kind": "Pod", "name": pod, "uid": pod_uid, "host": node}
                    events.append(
                        self._event(
                            record,
                            **common,
                            reason="Scheduled",
                            first=created,
                            component="default-scheduler",
                            message=f"Successfully assigned {record.namespace}/{pod} to {node}",
                        )
                    )
                    events.append(
                        self._event(
                            record,
                            **common,
                            reason="Pulled",
                            first=created + 1,
                            message=f'Container image "{image}" already present on machine',
                        )
                    )
                    events.append(
                        self._event(
                            record,
                            **common,
                            reason="Created",
                            first=created + 1,
                            message=f"Created container: {record.name}",
                        )
                    )
                    events.append(
                        self._event(
                            record,
                            **common,
                            reason="Started",
                            first=created + 2,
                            message=f"Started container {record.name}",
                        )
                    )
                for i, pod in enumerate(self.pod_names(record, previous)):
                    events.append(
                        self._event(
                            record,
                            kind="Pod",
                            name=pod,
                            uid=stable_uid(self._seed, "pod", pod),
                            reason="Killing",
                            first=at + i * 3,
                            message=f"Stopping container {record.name}",
                        )
                    )
            previous = rollout
        return events

    def _fault_events(self, record: DeploymentRecord, now: float) -> list[dict[str, Any]]:
        events = []
        rollout = record.current(now)
        for index, pod in enumerate(self.pod_names(record, rollout)):
            effect = self._effect_for(record.service.name, index, now, self._node_of(record, pod, index))
            if effect is None:
                continue
            timeline, pod_effect = effect
            since = max(timeline.active_since(now), self._pod_created(record, rollout, index))
            if since > now:
                continue
            common: dict[str, Any] = {
                "kind": "Pod",
                "name": pod,
                "uid": stable_uid(self._seed, "pod", pod),
                "host": self._node_of(record, pod, index),
            }
            restarts = math.floor(pod_effect.restarts_per_hour * (now - since) / 3600)
            image = next(iter(_images(rollout.replicaset.template).values()), "")
            if pod_effect.status in ("CrashLoopBackOff", "Error", "OOMKilled") and restarts:
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="BackOff",
                        type_="Warning",
                        first=since + 30,
                        last=now - 5,
                        count=restarts,
                        message=f"Back-off restarting failed container {record.name} in pod "
                        f"{pod}_{record.namespace}({common['uid']})",
                    )
                )
            if pod_effect.status == "ImagePullBackOff":
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="Failed",
                        type_="Warning",
                        first=since + 5,
                        last=now - 5,
                        count=max(1, int((now - since) / 300)),
                        message=f'Failed to pull image "{image}": rpc error: code = NotFound desc = '
                        f'failed to pull and unpack image "{image}": not found',
                    )
                )
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="BackOff",
                        first=since + 10,
                        last=now - 5,
                        count=max(1, int((now - since) / 60)),
                        message=f'Back-off pulling image "{image}"',
                    )
                )
            if pod_effect.status == "Pending":
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="FailedScheduling",
                        type_="Warning",
                        first=since,
                        last=now - 5,
                        component="default-scheduler",
                        message="0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are "
                        "available: 3 No preemption victims found for incoming pod.",
                    )
                )
            for spec in pod_effect.events:
                node = common["host"]
                message = (
                    spec.message.replace("{pod}", pod).replace("{namespace}", record.namespace).replace("{node}", node)
                )
                events.append(
                    self._event(
                        record,
                        **common,
                        reason=spec.reason,
                        type_=spec.type,
                        first=since + 5,
                        last=max(since + 5, now - 5),
                        count=max(1, int((now - since) / spec.every)),
                        component=spec.component,
                        message=message,
                    )
                )
            if pod_effect.evicted:  # format v2: the kubelet's eviction, once
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="Evicted",
                        type_="Warning",
                        first=since + 5,
                        message=f"The node {common['host']} was low on resource: ephemeral-storage.",
                    )
                )
            elif not pod_effect.ready and pod_effect.status == "Running":
                events.append(
                    self._event(
                        record,
                        **common,
                        reason="Unhealthy",
                        type_="Warning",
                        first=since + 10,
                        last=now - 3,
                        count=max(1, int((now - since) / 10)),
                        message="Readiness probe failed: HTTP probe failed with statuscode: 503",
                    )
                )
        return events

    def snapshot(self) -> dict[str, Any]:
        now = self._now()
        out = {}
        for (ns, name), record in sorted(self.deployments.items()):
            current = record.current(now)
            out[f"{ns}/{name}"] = {
                "revision": current.revision,
                "replicaset": current.replicaset.name,
                "images": _images(current.replicaset.template),
                "replicas": current.replicas,
            }
        return out


def _pods_start(rollout: Rollout) -> float:
    """Scenario deploys are stamped when they finished, so their pods started a little earlier;
    actions taken through the API start their pods on the spot."""
    return rollout.at - 30 if rollout.reason in ("initial", "deploy") else rollout.at


def _ready_condition(kind: str, ready: bool, at: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    if ready:
        return {"type": kind, "status": "True", "lastTransitionTime": at}
    names = " ".join(c["name"] for c in containers)
    return {
        "type": kind,
        "status": "False",
        "reason": "ContainersNotReady",
        "message": f"containers with unready status: [{names}]",
        "lastTransitionTime": at,
    }


def _template_change_kind(old: dict[str, Any], new: dict[str, Any]) -> str:
    """``restart`` if only the restartedAt annotation differs, ``image`` if an image changed, else ``patch``."""

    def strip_restart(template: dict[str, Any]) -> dict[str, Any]:
        stripped = copy.deepcopy(template)
        annotations = stripped.get("metadata", {}).get("annotations", {})
        annotations.pop(RESTARTED_AT, None)
        return normalize(stripped)  # type: ignore[no-any-return]  # a dict stays a dict

    old_annotation = old.get("metadata", {}).get("annotations", {}).get(RESTARTED_AT)
    new_annotation = new.get("metadata", {}).get("annotations", {}).get(RESTARTED_AT)
    if new_annotation is not None and new_annotation != old_annotation and strip_restart(old) == strip_restart(new):
        return "restart"
    if _images(old) != _images(new):
        return "image"
    return "patch"
