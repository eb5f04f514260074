"""The objects of format v2's ``kubernetes`` section, as the API serves them over time, and the
PATCHes that change them.

Every object has a history the scenario seeds (a ConfigMap's revisions, a CronJob's runs, a node
condition a fault sets) and that actions extend from the moment they run: scaling a StatefulSet,
suspending a CronJob, setting a Job's parallelism to 0, writing a ConfigMap's data back, cordoning a
node. Each such PATCH is an action the world records under the adapter's call name, with the object's
``kind`` among its arguments, so a scenario's ``action_effects`` can say what it does by kind and name.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evals.sim.faults import FaultTimeline
from evals.sim.kube.objects import ActionRequest, KubeError, not_found, random_suffix, stable_uid
from evals.sim.kube.patches import apply_patch
from evals.sim.kube.selectors import label_selector_matches
from evals.sim.scenario import (
    ConfigObjectSpec,
    ContainerSpec,
    JobRun,
    NodeConditionEffect,
    PodEffect,
    Scenario,
    WorkloadSpec,
)
from evals.sim.timeutil import rfc3339

# The node conditions the active faults set at a time, each with when it was set.
NodeEffectsFn = Callable[[float], list[tuple[float, NodeConditionEffect]]]
# Every node condition the faults set by a time: when it was set, and when it cleared (None: still set).
NodeHistoryFn = Callable[[float], list[tuple[float, float | None, NodeConditionEffect]]]

# What the kubelet writes for each node condition, healthy and not (pkg/kubelet/nodestatus/setters.go).
_CONDITION_TEXT: dict[tuple[str, str], tuple[str, str]] = {
    ("Ready", "True"): ("KubeletReady", "kubelet is posting ready status"),
    ("Ready", "False"): ("KubeletNotReady", "container runtime network not ready"),
    ("Ready", "Unknown"): ("NodeStatusUnknown", "Kubelet stopped posting node status."),
    ("MemoryPressure", "False"): ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("MemoryPressure", "True"): ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
    ("DiskPressure", "False"): ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("DiskPressure", "True"): ("KubeletHasDiskPressure", "kubelet has disk pressure"),
    ("PIDPressure", "False"): ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("PIDPressure", "True"): ("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
    ("NetworkUnavailable", "False"): ("RouteCreated", "RouteController created a route"),
    ("NetworkUnavailable", "True"): ("NoRouteCreated", "RouteController failed to create a route"),
}
_CONDITION_ORDER = ("NetworkUnavailable", "MemoryPressure", "DiskPressure", "PIDPressure", "Ready")
# Taints the node lifecycle controller and the kubelet put on an unhealthy or cordoned node.
_CONDITION_TAINTS = {
    ("Ready", "False"): "node.kubernetes.io/not-ready",
    ("Ready", "Unknown"): "node.kubernetes.io/unreachable",
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}

# plural -> (apiVersion, kind, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "namespaces": ("v1", "Namespace", False),
    "nodes": ("v1", "Node", False),
    "configmaps": ("v1", "ConfigMap", True),
    "secrets": ("v1", "Secret", True),
    "services": ("v1", "Service", True),
    "resourcequotas": ("v1", "ResourceQuota", True),
    "statefulsets": ("apps/v1", "StatefulSet", True),
    "daemonsets": ("apps/v1", "DaemonSet", True),
    "jobs": ("batch/v1", "Job", True),
    "cronjobs": ("batch/v1", "CronJob", True),
    "networkpolicies": ("networking.k8s.io/v1", "NetworkPolicy", True),
    "horizontalpodautoscalers": ("autoscaling/v2", "HorizontalPodAutoscaler", True),
    # A ConfigMap's earlier revisions, kept as ControllerRevisions it owns (the kind Kubernetes uses
    # for immutable snapshots of state; a history controller or a GitOps tool keeps them like this).
    "controllerrevisions": ("apps/v1", "ControllerRevision", True),
}
PATCHABLE = {"nodes", "configmaps", "statefulsets", "jobs", "cronjobs"}


@dataclass
class _History:
    """A value over time: the seeded one, then what each action set."""

    initial: Any
    changes: list[tuple[float, Any]] = field(default_factory=list)

    def at(self, now: float) -> Any:
        value = self.initial
        for at, changed in self.changes:
            if at <= now:
                value = changed
        return value

    def set(self, now: float, value: Any) -> None:
        self.changes.append((now, value))
        self.changes.sort(key=lambda item: item[0])


@dataclass
class _ConfigState:
    spec: ConfigObjectSpec
    secret: bool
    # (effective at, data, resourceVersion, revision number); seeded revisions then patches
    revisions: list[tuple[float, dict[str, str], int, int]] = field(default_factory=list)

    def current(self, now: float) -> tuple[float, dict[str, str], int, int]:
        eligible = [r for r in self.revisions if r[0] <= now]
        return eligible[-1] if eligible else self.revisions[0]


@dataclass
class _JobState:
    """One Job: a Job workload's run, or one run of a CronJob."""

    name: str
    namespace: str
    workload: WorkloadSpec
    run: JobRun
    parallelism: _History
    suspend: _History
    resource_version: int
    owner: WorkloadSpec | None = None  # the CronJob that started it


class ClusterObjects:
    """Nodes, namespaces and the v2 objects of one scenario, rendered at the clock's time."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        anchor: float,
        now: Callable[[], float],
        next_version: Callable[[], int],
        current_version: Callable[[], int],
        pod_effects: Callable[[str, float], list[tuple[FaultTimeline, PodEffect]]],
        node_effects: NodeEffectsFn,
        node_history: NodeHistoryFn,
    ) -> None:
        self.scenario = scenario
        self.anchor = anchor
        self._now = now
        self._next_version = next_version
        self._current_version = current_version
        self._pod_effects = pod_effects
        self._node_effects = node_effects
        self._node_history = node_history
        self._seed = scenario.seed
        kube = scenario.kubernetes
        self.node_names = scenario.node_names
        self._node_specs = {n.name: n for n in kube.nodes} if kube else {}
        self._cordoned = {
            name: _History(self._node_specs[name].unschedulable if name in self._node_specs else False)
            for name in self.node_names
        }
        self._node_versions = {name: next_version() for name in self.node_names}
        self.workloads = list(kube.workloads) if kube else []
        self._replicas = {
            (w.namespace, w.name): _History(w.replicas) for w in self.workloads if w.kind == "StatefulSet"
        }
        self._cron_suspend = {(w.namespace, w.name): _History(w.suspend) for w in self.workloads if w.kind == "CronJob"}
        self._versions = {(w.kind, w.namespace, w.name): next_version() for w in self.workloads}
        self.jobs: dict[tuple[str, str], _JobState] = {}
        for workload in self.workloads:
            if workload.kind not in ("Job", "CronJob"):
                continue
            for run in workload.job_runs():
                name = run.name or f"{workload.name}-{int((anchor + run.started_at) // 60)}"
                self.jobs[(workload.namespace, name)] = _JobState(
                    name=name,
                    namespace=workload.namespace,
                    workload=workload,
                    run=run,
                    parallelism=_History(workload.parallelism),
                    suspend=_History(workload.suspend if workload.kind == "Job" else False),
                    resource_version=next_version(),
                    owner=workload if workload.kind == "CronJob" else None,
                )
        self.configs: dict[tuple[str, str, str], _ConfigState] = {}
        for secret, objects in ((False, kube.configmaps if kube else []), (True, kube.secrets if kube else [])):
            for spec in objects:
                state = _ConfigState(spec, secret)
                for number, revision in enumerate(spec.revisions, start=1):
                    state.revisions.append((anchor + revision.at, dict(revision.data), next_version(), number))
                self.configs[("secrets" if secret else "configmaps", spec.namespace, spec.name)] = state

    # -- reading -----------------------------------------------------------------------------------

    def namespaces(self) -> list[str]:
        names = {"default", "kube-system"}
        names.update(s.namespace for s in self.scenario.topology.services if s.deployment_name)
        kube = self.scenario.kubernetes
        if kube is not None:
            names.update(n.name for n in kube.namespaces)
            for group in (
                kube.workloads,
                kube.configmaps,
                kube.secrets,
                kube.services,
                kube.network_policies,
                kube.hpas,
                kube.resource_quotas,
            ):
                names.update(obj.namespace for obj in group)
        return sorted(names)

    def list_objects(self, plural: str, namespace: str | None, label_selector: str | None) -> dict[str, Any]:
        api_version, kind, _ = KINDS[plural]
        items = [
            obj
            for obj in self._render_all(plural)
            if (namespace is None or obj["metadata"].get("namespace") == namespace)
            and label_selector_matches(label_selector, obj["metadata"].get("labels", {}))
        ]
        items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": {"resourceVersion": str(self._current_list_version())},
            "items": items,
        }

    def get_object(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        api_version, kind, _ = KINDS[plural]
        for obj in self._render_all(plural):
            if obj["metadata"]["name"] == name and obj["metadata"].get("namespace") == namespace:
                return {"kind": kind, "apiVersion": api_version, **obj}
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        raise not_found(plural, name, group)

    def _current_list_version(self) -> int:
        return self._current_version()

    def _render_all(self, plural: str) -> list[dict[str, Any]]:
        now = self._now()
        if plural == "namespaces":
            return [self._namespace(name) for name in self.namespaces()]
        if plural == "nodes":
            return [self._node(name, now) for name in self.node_names]
        if plural in ("configmaps", "secrets"):
            return [
                self._config(state, now)
                for (kind, _, _), state in self.configs.items()
                if kind == plural and state.revisions[0][0] <= now
            ]
        if plural == "controllerrevisions":
            return [
                self._config_revision(state, revision)
                for (kind, _, _), state in self.configs.items()
                if kind == "configmaps"
                for revision in state.revisions
                if revision[0] <= now
            ]
        if plural == "services":
            return self._services()
        if plural == "resourcequotas":
            kube = self.scenario.kubernetes
            return [self._quota(q) for q in (kube.resource_quotas if kube else [])]
        if plural == "statefulsets":
            return [self._statefulset(w, now) for w in self.workloads if w.kind == "StatefulSet"]
        if plural == "daemonsets":
            return [self._daemonset(w, now) for w in self.workloads if w.kind == "DaemonSet"]
        if plural == "jobs":
            return [self._job(job, now) for job in self.jobs.values() if self.job_started(job, now)]
        if plural == "cronjobs":
            return [self._cronjob(w, now) for w in self.workloads if w.kind == "CronJob"]
        if plural == "networkpolicies":
            kube = self.scenario.kubernetes
            return [
                self._network_policy(p)
                for p in (kube.network_policies if kube else [])
                if self.anchor + p.created_at <= now
            ]
        if plural == "horizontalpodautoscalers":
            kube = self.scenario.kubernetes
            return [self._hpa(h) for h in (kube.hpas if kube else [])]
        raise KeyError(plural)

    def _meta(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        *,
        created: float,
        labels: dict[str, str] | None = None,
        version: int = 1000,
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name,
            "uid": stable_uid(self._seed, kind, namespace or "", name),
            "resourceVersion": str(version),
            "creationTimestamp": rfc3339(created),
        }
        if namespace is not None:
            meta["namespace"] = namespace
        if labels:
            meta["labels"] = dict(labels)
        return meta

    def _namespace(self, name: str) -> dict[str, Any]:
        kube = self.scenario.kubernetes
        labels = {"kubernetes.io/metadata.name": name}
        for spec in kube.namespaces if kube else []:
            if spec.name == name:
                labels.update(spec.labels)
        return {
            "metadata": self._meta("namespace", None, name, created=self.anchor - 400 * 86400, labels=labels),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def node_unschedulable(self, name: str, now: float) -> bool:
        return bool(self._cordoned[name].at(now))

    def _node_conditions(self, name: str, now: float) -> dict[str, tuple[str, str | None, str | None, float | None]]:
        """type -> (status, reason, message, since) for one node at ``now``."""
        conditions: dict[str, tuple[str, str | None, str | None, float | None]] = {
            t: ("True" if t == "Ready" else "False", None, None, None) for t in _CONDITION_ORDER
        }
        spec = self._node_specs.get(name)
        for condition in spec.conditions if spec else []:
            since = self.anchor + condition.since if condition.since is not None else None
            conditions[condition.type] = (condition.status, condition.reason, condition.message, since)
        for since, effect in self._node_effects(now):
            if effect.node == name:
                conditions[effect.type] = (effect.status, effect.reason, effect.message, since)
        return conditions

    def _node(self, name: str, now: float) -> dict[str, Any]:
        spec = self._node_specs.get(name)
        index = self.node_names.index(name)
        labels = {
            "kubernetes.io/hostname": name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            **(spec.labels if spec else {}),
        }
        conditions = []
        taints: list[dict[str, Any]] = []
        week_ago = rfc3339(self.anchor - 7 * 86400)
        for type_, (status, reason, message, since) in self._node_conditions(name, now).items():
            default_reason, default_message = _CONDITION_TEXT.get((type_, status), ("", ""))
            conditions.append(
                {
                    "type": type_,
                    "status": status,
                    "reason": reason or default_reason,
                    "message": message or default_message,
                    "lastHeartbeatTime": rfc3339(now - 10),
                    "lastTransitionTime": rfc3339(since) if since is not None else week_ago,
                }
            )
            taint = _CONDITION_TAINTS.get((type_, status))
            if taint:
                taints.append({"key": taint, "effect": "NoSchedule"})
        unschedulable = self.node_unschedulable(name, now)
        if unschedulable:
            taints.append(
                {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": rfc3339(now)}
            )
        node_spec: dict[str, Any] = {"podCIDR": f"10.244.{index}.0/24", "providerID": f"sim://{name}"}
        if unschedulable:
            node_spec["unschedulable"] = True
        if taints:
            node_spec["taints"] = taints
        allocatable = {
            "cpu": spec.cpu if spec else "8",
            "memory": spec.memory if spec else "32Gi",
            "ephemeral-storage": spec.ephemeral_storage if spec else "100Gi",
            "pods": str(spec.pods if spec else 110),
        }
        return {
            "metadata": {
                **self._meta(
                    "node",
                    None,
                    name,
                    created=self.anchor - 90 * 86400,
                    labels=labels,
                    version=self._node_versions[name],
                ),
            },
            "spec": node_spec,
            "status": {
                "capacity": dict(allocatable),
                "allocatable": allocatable,
                "conditions": conditions,
                "addresses": [
                    {"type": "InternalIP", "address": f"10.0.{index}.10"},
                    {"type": "Hostname", "address": name},
                ],
                "nodeInfo": {
                    "kubeletVersion": spec.kubelet_version if spec else "v1.31.2",
                    "containerRuntimeVersion": "containerd://1.7.22",
                    "osImage": "Ubuntu 24.04.1 LTS",
                    "kernelVersion": "6.8.0-1015",
                    "operatingSystem": "linux",
                    "architecture": "amd64",
                },
            },
        }

    def _config_revision(self, state: _ConfigState, revision: tuple[float, dict[str, str], int, int]) -> dict[str, Any]:
        """One revision of a ConfigMap as a ControllerRevision it owns: its data then, and when."""
        at, data, version, number = revision
        spec = state.spec
        name = f"{spec.name}-{number}"
        meta = self._meta("controllerrevision", spec.namespace, name, created=at, labels=spec.labels, version=version)
        meta["ownerReferences"] = [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": spec.name,
                "uid": stable_uid(self._seed, "configmap", spec.namespace, spec.name),
            }
        ]
        return {"metadata": meta, "revision": number, "data": {"data": dict(data)}}

    def _config(self, state: _ConfigState, now: float) -> dict[str, Any]:
        at, data, version, _ = state.current(now)
        spec = state.spec
        kind = "secret" if state.secret else "configmap"
        meta = self._meta(
            kind,
            spec.namespace,
            spec.name,
            created=self.anchor + spec.revisions[0].at,
            labels=spec.labels,
            version=version,
        )
        # managedFields shows when the object was last written, as the API server records it.
        meta["managedFields"] = [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "apiVersion": "v1",
                "time": rfc3339(at),
                "fieldsType": "FieldsV1",
            }
        ]
        if state.secret:
            encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(data.items())}
            return {"metadata": meta, "type": spec.type, "data": encoded}
        return {"metadata": meta, "data": dict(sorted(data.items()))}

    def _services(self) -> list[dict[str, Any]]:
        out = []
        batch = {w.service for w in self.workloads if w.kind in ("Job", "CronJob")}
        for spec in self.scenario.topology.services:
            name = spec.deployment_name
            if name is None or spec.name in batch:
                continue  # nothing to route to: external, or a batch job that serves no traffic
            port = 5432 if spec.kind == "database" else 8080
            out.append(
                self._service(
                    spec.namespace,
                    spec.name,
                    {"app": self.scenario.workload_for_service(spec.name) or name},
                    [
                        {
                            "name": "http" if port == 8080 else "postgres",
                            "port": 80 if port == 8080 else port,
                            "targetPort": port,
                            "protocol": "TCP",
                        }
                    ],
                    "ClusterIP",
                )
            )
        kube = self.scenario.kubernetes
        for extra in kube.services if kube else []:
            ports = [
                {
                    k: v
                    for k, v in {
                        "name": p.name,
                        "port": p.port,
                        "targetPort": p.target_port or p.port,
                        "protocol": p.protocol,
                    }.items()
                    if v is not None
                }
                for p in extra.ports
            ]
            out = [
                s for s in out if (s["metadata"]["namespace"], s["metadata"]["name"]) != (extra.namespace, extra.name)
            ]
            out.append(self._service(extra.namespace, extra.name, extra.selector, ports, extra.type))
        return out

    def _service(
        self, namespace: str, name: str, selector: dict[str, str], ports: list[dict[str, Any]], type_: str
    ) -> dict[str, Any]:
        digest = hashlib.sha256(f"{namespace}/{name}".encode()).digest()
        spec: dict[str, Any] = {"type": type_, "ports": ports, "sessionAffinity": "None"}
        if selector:
            spec["selector"] = dict(selector)
        if type_ != "ExternalName":
            spec["clusterIP"] = f"10.96.{digest[0]}.{digest[1] % 250 + 2}"
        return {
            "metadata": self._meta("service", namespace, name, created=self.anchor - 200 * 86400, labels={"app": name}),
            "spec": spec,
            "status": {"loadBalancer": {}},
        }

    def _quota(self, quota: Any) -> dict[str, Any]:
        return {
            "metadata": self._meta("resourcequota", quota.namespace, quota.name, created=self.anchor - 100 * 86400),
            "spec": {"hard": dict(quota.hard)},
            "status": {"hard": dict(quota.hard), "used": dict(quota.used)},
        }

    def _network_policy(self, policy: Any) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "podSelector": {"matchLabels": dict(policy.pod_selector)} if policy.pod_selector else {},
            "policyTypes": list(policy.policy_types),
        }
        if "Ingress" in policy.policy_types:
            spec["ingress"] = list(policy.ingress)
        if "Egress" in policy.policy_types:
            spec["egress"] = list(policy.egress)
        return {
            "metadata": self._meta(
                "networkpolicy", policy.namespace, policy.name, created=self.anchor + policy.created_at, version=1000
            ),
            "spec": spec,
        }

    def _hpa(self, hpa: Any) -> dict[str, Any]:
        target = self._replicas_of(hpa.target_kind, hpa.namespace, hpa.target_name)
        conditions = [
            {
                "type": "AbleToScale",
                "status": "True" if hpa.able_to_scale else "False",
                "reason": "ReadyForNewScale" if hpa.able_to_scale else "FailedGetScale",
            },
            {
                "type": "ScalingActive",
                "status": "True" if hpa.current_cpu is not None else "False",
                "reason": "ValidMetricFound" if hpa.current_cpu is not None else "FailedGetResourceMetric",
            },
            {
                "type": "ScalingLimited",
                "status": "True" if hpa.scaling_limited else "False",
                "reason": "TooManyReplicas" if hpa.scaling_limited else "DesiredWithinRange",
            },
        ]
        status: dict[str, Any] = {
            "currentReplicas": target,
            "desiredReplicas": hpa.max_replicas if hpa.scaling_limited else target,
            "conditions": conditions,
        }
        if hpa.current_cpu is not None:
            status["currentMetrics"] = [
                {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": hpa.current_cpu}}}
            ]
        return {
            "metadata": self._meta("hpa", hpa.namespace, hpa.name, created=self.anchor - 60 * 86400),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": hpa.target_kind, "name": hpa.target_name},
                "minReplicas": hpa.min_replicas,
                "maxReplicas": hpa.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": hpa.cpu_utilization},
                        },
                    }
                ],
            },
            "status": status,
        }

    def _replicas_of(self, kind: str, namespace: str, name: str) -> int:
        if kind == "StatefulSet" and (namespace, name) in self._replicas:
            return int(self._replicas[(namespace, name)].at(self._now()))
        for spec in self.scenario.topology.services:
            if spec.namespace == namespace and spec.deployment_name == name:
                return spec.replicas
        return 0

    # -- workloads and their pods -------------------------------------------------------------------

    def _pod_template(self, workload: WorkloadSpec, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "metadata": {"labels": labels},
            "spec": {
                "containers": [container_json(c) for c in workload.containers],
                "restartPolicy": "Never" if workload.kind in ("Job", "CronJob") else "Always",
                **config_volumes(workload.containers),
            },
        }

    def _labels(self, workload: WorkloadSpec) -> dict[str, str]:
        return {"app": workload.name, **workload.labels}

    def _statefulset(self, workload: WorkloadSpec, now: float) -> dict[str, Any]:
        replicas = int(self._replicas[(workload.namespace, workload.name)].at(now))
        pods = self.workload_pods(workload, now)
        ready = sum(1 for p in pods if _pod_ready(p))
        revision = f"{workload.name}-{workload.revision or random_suffix(10, self._seed, workload.name)}"
        return {
            "metadata": self._meta(
                "statefulset",
                workload.namespace,
                workload.name,
                created=self.anchor + workload.created_at,
                labels=self._labels(workload),
                version=self._versions[(workload.kind, workload.namespace, workload.name)],
            ),
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": workload.name}},
                "serviceName": workload.name,
                "template": self._pod_template(workload, self._labels(workload)),
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            },
            "status": {
                "replicas": replicas,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "currentReplicas": replicas,
                "updatedReplicas": replicas,
                "currentRevision": revision,
                "updateRevision": revision,
                "observedGeneration": 1,
            },
        }

    def _daemonset(self, workload: WorkloadSpec, now: float) -> dict[str, Any]:
        pods = self.workload_pods(workload, now)
        ready = sum(1 for p in pods if _pod_ready(p))
        return {
            "metadata": self._meta(
                "daemonset",
                workload.namespace,
                workload.name,
                created=self.anchor + workload.created_at,
                labels=self._labels(workload),
                version=self._versions[(workload.kind, workload.namespace, workload.name)],
            ),
            "spec": {
                "selector": {"matchLabels": {"app": workload.name}},
                "template": self._pod_template(workload, self._labels(workload)),
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            },
            "status": {
                "desiredNumberScheduled": len(pods),
                "currentNumberScheduled": len(pods),
                "numberReady": ready,
                "numberAvailable": ready,
                "numberUnavailable": len(pods) - ready,
                "updatedNumberScheduled": len(pods),
                "numberMisscheduled": 0,
                "observedGeneration": 1,
            },
        }

    def _job_window(self, job: _JobState) -> tuple[float, float | None]:
        start = self.anchor + job.run.started_at
        return start, (start + job.run.duration if job.run.duration is not None else None)

    def job_started(self, job: _JobState, now: float) -> bool:
        """Whether the Job exists at ``now``: its start has come, and, for a scheduled run, its CronJob
        was not suspended at that moment (a suspended CronJob starts nothing)."""
        start = self.anchor + job.run.started_at
        if start > now:
            return False
        if job.owner is not None and job.run.started_by == "schedule":
            return not self._cron_suspend[(job.owner.namespace, job.owner.name)].at(start)
        return True

    def job_active(self, job: _JobState, now: float) -> int:
        """How many of the Job's pods run at ``now`` (0 when finished, suspended or scaled to 0)."""
        _, end = self._job_window(job)
        if not self.job_started(job, now) or (end is not None and now >= end) or job.suspend.at(now):
            return 0
        return int(job.parallelism.at(now))

    def _job(self, job: _JobState, now: float) -> dict[str, Any]:
        start, end = self._job_window(job)
        labels = {**self._labels(job.workload), "job-name": job.name, "batch.kubernetes.io/job-name": job.name}
        active = self.job_active(job, now)
        status: dict[str, Any] = {"startTime": rfc3339(start)}
        if active:
            status["active"] = active
            status["ready"] = active
        if end is not None and now >= end:
            kind = "Failed" if job.run.failed else "Complete"
            status["conditions"] = [
                {
                    "type": kind,
                    "status": "True",
                    "lastProbeTime": rfc3339(end),
                    "lastTransitionTime": rfc3339(end),
                    **(
                        {"reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}
                        if job.run.failed
                        else {}
                    ),
                }
            ]
            if job.run.failed:
                status["failed"] = job.workload.backoff_limit + 1
            else:
                status["succeeded"] = job.workload.completions or 1
                status["completionTime"] = rfc3339(end)
        elif job.suspend.at(now):
            status["conditions"] = [
                {
                    "type": "Suspended",
                    "status": "True",
                    "reason": "JobSuspended",
                    "message": "Job suspended",
                    "lastTransitionTime": rfc3339(now),
                }
            ]
        meta = self._meta("job", job.namespace, job.name, created=start, labels=labels, version=job.resource_version)
        annotations = {}
        if job.owner is not None:
            meta["ownerReferences"] = [
                {
                    "apiVersion": "batch/v1",
                    "kind": "CronJob",
                    "name": job.owner.name,
                    "uid": stable_uid(self._seed, "cronjob", job.namespace, job.owner.name),
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ]
            annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = rfc3339(start)
        elif job.run.started_by == "manual" and job.workload.kind == "CronJob":
            annotations["cronjob.kubernetes.io/instantiate"] = "manual"
        if annotations:
            meta["annotations"] = annotations
        spec: dict[str, Any] = {
            "parallelism": int(job.parallelism.at(now)),
            "backoffLimit": job.workload.backoff_limit,
            "suspend": bool(job.suspend.at(now)),
            "selector": {"matchLabels": {"batch.kubernetes.io/job-name": job.name}},
            "template": self._pod_template(job.workload, labels),
        }
        if job.workload.completions is not None:
            spec["completions"] = job.workload.completions
        return {"metadata": meta, "spec": spec, "status": status}

    def _cronjob(self, workload: WorkloadSpec, now: float) -> dict[str, Any]:
        runs = [job for job in self.jobs.values() if job.owner is workload and self.job_started(job, now)]
        ends = {job.name: self._job_window(job)[1] for job in runs}
        active = [job for job in runs if (end := ends[job.name]) is None or now < end]
        status: dict[str, Any] = {}
        if runs:
            status["lastScheduleTime"] = rfc3339(max(self.anchor + job.run.started_at for job in runs))
        succeeded = [end for job in runs if (end := ends[job.name]) is not None and now >= end and not job.run.failed]
        if succeeded:
            status["lastSuccessfulTime"] = rfc3339(max(succeeded))
        if active:
            status["active"] = [
                {"kind": "Job", "namespace": job.namespace, "name": job.name, "apiVersion": "batch/v1"}
                for job in active
            ]
        return {
            "metadata": self._meta(
                "cronjob",
                workload.namespace,
                workload.name,
                created=self.anchor + workload.created_at,
                labels=self._labels(workload),
                version=self._versions[(workload.kind, workload.namespace, workload.name)],
            ),
            "spec": {
                "schedule": workload.schedule,
                "suspend": bool(self._cron_suspend[(workload.namespace, workload.name)].at(now)),
                "concurrencyPolicy": workload.concurrency_policy,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
                "jobTemplate": {
                    "spec": {
                        "parallelism": workload.parallelism,
                        "backoffLimit": workload.backoff_limit,
                        "template": self._pod_template(workload, self._labels(workload)),
                    }
                },
            },
            "status": status,
        }

    def workload_pods(self, workload: WorkloadSpec, now: float) -> list[dict[str, Any]]:
        """The pods a StatefulSet, DaemonSet, Job or CronJob runs at ``now``."""
        labels = self._labels(workload)
        created = self.anchor + workload.created_at
        if workload.kind == "StatefulSet":
            count = int(self._replicas[(workload.namespace, workload.name)].at(now))
            names = [
                (
                    f"{workload.name}-{i}",
                    self._place(workload, i),
                    created,
                    {**labels, "statefulset.kubernetes.io/pod-name": f"{workload.name}-{i}"},
                )
                for i in range(count)
            ]
            owner = ("apps/v1", "StatefulSet", workload.name)
            return [
                self._pod(workload, name, node, since, pod_labels, owner, i, now)
                for i, (name, node, since, pod_labels) in enumerate(names)
            ]
        if workload.kind == "DaemonSet":
            nodes = workload.nodes or list(self.node_names)
            owner = ("apps/v1", "DaemonSet", workload.name)
            return [
                self._pod(
                    workload,
                    f"{workload.name}-{random_suffix(5, self._seed, workload.name, node)}",
                    node,
                    created,
                    labels,
                    owner,
                    i,
                    now,
                )
                for i, node in enumerate(nodes)
            ]
        pods = []
        for job in self.jobs.values():
            if job.workload is not workload:
                continue
            active = self.job_active(job, now)
            job_labels = {**labels, "job-name": job.name, "batch.kubernetes.io/job-name": job.name}
            start = self.anchor + job.run.started_at
            for i in range(active):
                name = f"{job.name}-{random_suffix(5, self._seed, job.name, i)}"
                pods.append(
                    self._pod(
                        workload,
                        name,
                        self._place(workload, i, name),
                        start + 2,
                        job_labels,
                        ("batch/v1", "Job", job.name),
                        i,
                        now,
                    )
                )
        return pods

    def _place(self, workload: WorkloadSpec, index: int, name: str | None = None) -> str:
        if workload.nodes:
            return workload.nodes[index % len(workload.nodes)]
        return self.node_names[_digest(name or f"{workload.name}-{index}") % len(self.node_names)]

    def _pod(
        self,
        workload: WorkloadSpec,
        name: str,
        node: str,
        created: float,
        labels: dict[str, str],
        owner: tuple[str, str, str],
        index: int,
        now: float,
    ) -> dict[str, Any]:
        effect = None
        if workload.service is not None:
            for timeline, pod_effect in self._pod_effects(workload.service, now):
                if (pod_effect.affected is None or index < pod_effect.affected) and (
                    pod_effect.node is None or pod_effect.node == node
                ):
                    effect = (timeline, pod_effect)
                    break
        statuses = []
        for container in workload.containers:
            hit = effect is not None and (effect[1].container is None or effect[1].container == container.name)
            statuses.append(
                container_status(name, container.name, container.image, created, effect if hit else None, now)
            )
        ready = all(s["ready"] for s in statuses)
        node_index = self.node_names.index(node) if node in self.node_names else 0
        phase = "Running"
        status: dict[str, Any] = {}
        if effect is not None and effect[1].evicted:
            phase = "Failed"
            status.update({"reason": "Evicted", "message": f"The node {node} was low on resource: ephemeral-storage."})
            ready = False
        status.update(
            {
                "phase": phase,
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "lastTransitionTime": rfc3339(created + 6),
                    },
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": rfc3339(created)},
                ],
                "hostIP": f"10.0.{node_index}.10",
                "podIP": f"10.244.{node_index}.{_digest(name, 'ip') % 250 + 2}",
                "startTime": rfc3339(created),
                "qosClass": "Burstable",
                "containerStatuses": statuses,
            }
        )
        api_version, kind, owner_name = owner
        return {
            "metadata": {
                "name": name,
                "namespace": workload.namespace,
                "uid": stable_uid(self._seed, "pod", workload.namespace, name),
                "resourceVersion": str(self._current_list_version()),
                "creationTimestamp": rfc3339(created),
                "labels": dict(labels),
                "ownerReferences": [
                    {
                        "apiVersion": api_version,
                        "kind": kind,
                        "name": owner_name,
                        "uid": stable_uid(self._seed, kind.lower(), workload.namespace, owner_name),
                        "controller": True,
                        "blockOwnerDeletion": True,
                    }
                ],
            },
            "spec": {
                "containers": [container_json(c) for c in workload.containers],
                "nodeName": node,
                "restartPolicy": "Never" if workload.kind in ("Job", "CronJob") else "Always",
                **config_volumes(workload.containers),
            },
            "status": status,
        }

    def pod_timeline(self, service: str) -> list[tuple[float, list[str]]]:
        """When the pods of the workload that runs ``service`` started, oldest first (for log lines)."""
        workload = next((w for w in self.workloads if w.service == service), None)
        if workload is None:
            return []
        created = self.anchor + workload.created_at
        if workload.kind == "StatefulSet":
            names = [f"{workload.name}-{i}" for i in range(max(workload.replicas, 1))]
            return [(created, names)]
        if workload.kind == "DaemonSet":
            nodes = workload.nodes or list(self.node_names)
            return [(created, [f"{workload.name}-{random_suffix(5, self._seed, workload.name, n)}" for n in nodes])]
        segments = []
        for job in sorted(self.jobs.values(), key=lambda j: j.run.started_at):
            if job.workload is workload:
                count = max(workload.parallelism, 1)
                names = [f"{job.name}-{random_suffix(5, self._seed, job.name, i)}" for i in range(count)]
                segments.append((self.anchor + job.run.started_at, names))
        return segments

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        now = self._now()
        return [pod for w in self.workloads if w.namespace == namespace for pod in self.workload_pods(w, now)]

    # -- changing ------------------------------------------------------------------------------------

    def patch(
        self, plural: str, namespace: str | None, name: str, body: bytes, content_type: str, *, dry_run: bool = False
    ) -> tuple[dict[str, Any], list[ActionRequest]]:
        """Apply a PATCH; return the object after it and the actions it amounts to (none on a dry run)."""
        if plural not in PATCHABLE:
            raise KeyError(plural)
        before = self.get_object(plural, namespace, name)
        after = apply_patch(before, body, content_type)
        sent = after.get("metadata", {}).get("resourceVersion")
        if sent is not None and str(sent) != before["metadata"]["resourceVersion"]:
            raise KubeError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": name, "kind": plural},
            )
        if dry_run:
            return after, []
        now = self._now()
        ref: dict[str, Any] = {"namespace": namespace, "name": name} if namespace is not None else {"name": name}
        actions: list[ActionRequest] = []
        spec_before, spec_after = before.get("spec", {}), after.get("spec", {})
        if plural == "nodes":
            wanted = bool(spec_after.get("unschedulable", False))
            if wanted != self.node_unschedulable(name, now):
                self._cordoned[name].set(now, wanted)
                self._node_versions[name] = self._next_version()
                actions.append(
                    ("kubernetes.cordon_node" if wanted else "kubernetes.uncordon_node", {**ref, "kind": "Node"})
                )
        elif plural == "statefulsets":
            replicas = spec_after.get("replicas")
            _check_count(replicas, "StatefulSet.apps", name, "spec.replicas")
            if replicas != spec_before.get("replicas"):
                self._replicas[(str(namespace), name)].set(now, replicas)
                self._versions[("StatefulSet", str(namespace), name)] = self._next_version()
                actions.append(("kubernetes.scale_statefulset", {**ref, "kind": "StatefulSet", "replicas": replicas}))
        elif plural == "cronjobs":
            wanted = bool(spec_after.get("suspend", False))
            if wanted != bool(spec_before.get("suspend", False)):
                self._cron_suspend[(str(namespace), name)].set(now, wanted)
                self._versions[("CronJob", str(namespace), name)] = self._next_version()
                actions.append(
                    (
                        "kubernetes.suspend_cronjob" if wanted else "kubernetes.resume_cronjob",
                        {**ref, "kind": "CronJob"},
                    )
                )
        elif plural == "jobs":
            job = self.jobs[(str(namespace), name)]
            parallelism = spec_after.get("parallelism")
            _check_count(parallelism, "Job.batch", name, "spec.parallelism")
            if parallelism != spec_before.get("parallelism"):
                job.parallelism.set(now, parallelism)
                job.resource_version = self._next_version()
                actions.append(("kubernetes.scale_job", {**ref, "kind": "Job", "parallelism": parallelism}))
            suspend = bool(spec_after.get("suspend", False))
            if suspend != bool(spec_before.get("suspend", False)):
                job.suspend.set(now, suspend)
                job.resource_version = self._next_version()
                actions.append(
                    ("kubernetes.suspend_job" if suspend else "kubernetes.resume_job", {**ref, "kind": "Job"})
                )
        elif plural == "configmaps":
            state = self.configs[("configmaps", str(namespace), name)]
            data = after.get("data") or {}
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise KubeError(422, "Invalid", f'ConfigMap "{name}" is invalid: data: values must be strings')
            if data != before.get("data", {}):
                current = state.current(now)[3]
                number = max(r[3] for r in state.revisions) + 1
                state.revisions.append((now, dict(data), self._next_version(), number))
                earlier = [r for r in state.revisions[:-1] if r[1] == data and r[3] != current]
                if earlier:
                    actions.append(
                        ("kubernetes.revert_configmap", {**ref, "kind": "ConfigMap", "to_revision": earlier[-1][3]})
                    )
                else:
                    actions.append(("kubernetes.patch_configmap", {**ref, "kind": "ConfigMap"}))
        return self.get_object(plural, namespace, name), actions

    # -- events ---------------------------------------------------------------------------------------

    def _event(
        self,
        namespace: str,
        *,
        kind: str,
        name: str,
        api_version: str,
        reason: str,
        message: str,
        at: float,
        component: str,
        type_: str = "Normal",
        host: str | None = None,
    ) -> dict[str, Any]:
        event_name = (
            f"{name}.{hashlib.sha256(f'{self._seed}/{name}/{reason}/{at}/{message}'.encode()).hexdigest()[:16]}"
        )
        source: dict[str, Any] = {"component": component, **({"host": host} if host else {})}
        involved: dict[str, Any] = {
            "kind": kind,
            "name": name,
            "uid": stable_uid(self._seed, kind.lower(), namespace if kind != "Node" else "", name),
            "apiVersion": api_version,
        }
        if kind != "Node":
            involved["namespace"] = namespace
        return {
            "metadata": {
                "name": event_name,
                "namespace": namespace,
                "uid": stable_uid(self._seed, "event", event_name),
                "resourceVersion": str(self._current_list_version()),
                "creationTimestamp": rfc3339(at),
            },
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": rfc3339(at),
            "lastTimestamp": rfc3339(at),
            "count": 1,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": host or "",
            "_last": at,
        }

    def events(self, namespace: str, now: float) -> list[dict[str, Any]]:
        """What the controllers and kubelets record about these objects: Jobs created and finished,
        CronJob runs, StatefulSet scaling, and (in ``default``, as nodes' events are) node conditions
        and cordons. Each carries ``_last``, its time, for the caller to filter and sort on."""
        out: list[dict[str, Any]] = []
        for job in self.jobs.values():
            if job.namespace != namespace:
                continue
            start, end = self._job_window(job)
            if not self.job_started(job, now):
                continue
            common = {"kind": "Job", "name": job.name, "api_version": "batch/v1", "component": "job-controller"}
            for i in range(int(job.parallelism.initial)):
                pod = f"{job.name}-{random_suffix(5, self._seed, job.name, i)}"
                out.append(
                    self._event(
                        namespace, **common, reason="SuccessfulCreate", message=f"Created pod: {pod}", at=start + 1
                    )
                )
            for at, parallelism in job.parallelism.changes:
                if at <= now and parallelism == 0:
                    out.append(
                        self._event(
                            namespace,
                            **common,
                            reason="SuccessfulDelete",
                            message="Deleted pods: parallelism set to 0",
                            at=at,
                        )
                    )
            if end is not None and end <= now:
                if job.run.failed:
                    out.append(
                        self._event(
                            namespace,
                            **common,
                            reason="BackoffLimitExceeded",
                            message="Job has reached the specified backoff limit",
                            at=end,
                            type_="Warning",
                        )
                    )
                else:
                    out.append(self._event(namespace, **common, reason="Completed", message="Job completed", at=end))
            if job.owner is not None:
                cron = {
                    "kind": "CronJob",
                    "name": job.owner.name,
                    "api_version": "batch/v1",
                    "component": "cronjob-controller",
                }
                out.append(
                    self._event(
                        namespace, **cron, reason="SuccessfulCreate", message=f"Created job {job.name}", at=start
                    )
                )
                if end is not None and end <= now:
                    status = "Failed" if job.run.failed else "Complete"
                    out.append(
                        self._event(
                            namespace,
                            **cron,
                            reason="SawCompletedJob",
                            message=f"Saw completed job: {job.name}, condition: {status}",
                            at=end + 2,
                        )
                    )
        for (ns, name), history in self._replicas.items():
            if ns != namespace:
                continue
            previous = int(history.initial)
            for at, replicas in history.changes:
                if at > now:
                    break
                for ordinal in range(previous, replicas):
                    out.append(
                        self._event(
                            namespace,
                            kind="StatefulSet",
                            name=name,
                            api_version="apps/v1",
                            component="statefulset-controller",
                            reason="SuccessfulCreate",
                            message=f"create Pod {name}-{ordinal} in StatefulSet {name} successful",
                            at=at,
                        )
                    )
                for ordinal in range(previous - 1, replicas - 1, -1):
                    out.append(
                        self._event(
                            namespace,
                            kind="StatefulSet",
                            name=name,
                            api_version="apps/v1",
                            component="statefulset-controller",
                            reason="SuccessfulDelete",
                            message=f"delete Pod {name}-{ordinal} in StatefulSet {name} successful",
                            at=at,
                        )
                    )
                previous = int(replicas)
        if namespace == "default":
            for since, until, effect in self._node_history(now):
                healthy = "True" if effect.type == "Ready" else "False"
                if effect.status == healthy:
                    continue
                set_reason = "NodeNotReady" if effect.type == "Ready" else f"NodeHas{effect.type}"
                cleared_reason = "NodeReady" if effect.type == "Ready" else f"NodeHasNo{effect.type}"
                component = "node-controller" if effect.type == "Ready" else "kubelet"
                for reason, moment in ((set_reason, since), (cleared_reason, until)):
                    if moment is not None and moment <= now:
                        out.append(
                            self._event(
                                namespace,
                                kind="Node",
                                name=effect.node,
                                api_version="v1",
                                component=component,
                                reason=reason,
                                message=f"Node {effect.node} status is now: {reason}",
                                at=moment,
                                host=effect.node,
                            )
                        )
            for name, history in self._cordoned.items():
                for at, cordoned in history.changes:
                    if at <= now:
                        reason = "NodeNotSchedulable" if cordoned else "NodeSchedulable"
                        out.append(
                            self._event(
                                namespace,
                                kind="Node",
                                name=name,
                                api_version="v1",
                                component="kubelet",
                                reason=reason,
                                message=f"Node {name} status is now: {reason}",
                                at=at,
                                host=name,
                            )
                        )
        return out

    def snapshot(self) -> dict[str, Any]:
        now = self._now()
        return {
            "nodes": {name: {"unschedulable": self.node_unschedulable(name, now)} for name in self.node_names},
            "statefulsets": {f"{ns}/{name}": int(h.at(now)) for (ns, name), h in self._replicas.items()},
            "cronjobs": {f"{ns}/{name}": {"suspend": bool(h.at(now))} for (ns, name), h in self._cron_suspend.items()},
            "jobs": {f"{ns}/{name}": {"active": self.job_active(job, now)} for (ns, name), job in self.jobs.items()},
            "configmaps": {
                f"{ns}/{name}": {"revision": s.current(now)[3]}
                for (kind, ns, name), s in self.configs.items()
                if kind == "configmaps"
            },
        }


def _check_count(value: Any, kind: str, name: str, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise KubeError(422, "Invalid", f'{kind} "{name}" is invalid: {path}: Invalid value: {value!r}')


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()[:4], "big")


def _pod_ready(pod: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])


def config_volumes(containers: list[ContainerSpec], also: list[str] | None = None) -> dict[str, Any]:
    """The pod's ``volumes`` for the ConfigMaps its containers mount, ``also`` those another container
    mounts (a Deployment's app container); none: no key, as the API omits it."""
    mounted = sorted({c.mounts_configmap for c in containers if c.mounts_configmap} | set(also or ()))
    return {"volumes": [{"name": name, "configMap": {"name": name}} for name in mounted]} if mounted else {}


def container_json(spec: ContainerSpec) -> dict[str, Any]:
    """A container of a pod template, in the API's shape."""
    requests = {k: v for k, v in (("cpu", spec.cpu_request), ("memory", spec.memory_request)) if v}
    limits = {k: v for k, v in (("cpu", spec.cpu_limit), ("memory", spec.memory_limit)) if v}
    container: dict[str, Any] = {"name": spec.name, "image": spec.image, "resources": {}}
    if requests:
        container["resources"]["requests"] = requests
    if limits:
        container["resources"]["limits"] = limits
    if spec.env:
        container["env"] = [{"name": k, "value": v} for k, v in sorted(spec.env.items())]
    if spec.env_from_configmap:
        container["envFrom"] = [{"configMapRef": {"name": spec.env_from_configmap}}]
    if spec.mounts_configmap:
        container["volumeMounts"] = [
            {"name": spec.mounts_configmap, "mountPath": f"/etc/{spec.mounts_configmap}", "readOnly": True}
        ]
    return container


def container_status(
    pod: str, name: str, image: str, created: float, effect: tuple[FaultTimeline, PodEffect] | None, now: float
) -> dict[str, Any]:
    """One container's status: healthy and running, or as a fault's pod effect makes it."""
    container_id = f"containerd://{hashlib.sha256((pod + name).encode()).hexdigest()}"
    status: dict[str, Any] = {
        "name": name,
        "image": image,
        "imageID": f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}",
        "containerID": container_id,
        "ready": True,
        "started": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": rfc3339(created + 4)}},
        "lastState": {},
    }
    if effect is None:
        return status
    timeline, pod_effect = effect
    if pod_effect.image is not None:
        status["image"] = pod_effect.image
    since = max(timeline.active_since(now), created)
    restarts = math.floor(pod_effect.restarts_per_hour * max(now - since, 0) / 3600)
    status["restartCount"] = restarts
    last_restart = since + (now - since) * 0.8 if restarts else created + 4
    if restarts or pod_effect.last_termination_reason:
        reason = pod_effect.last_termination_reason or ("OOMKilled" if pod_effect.status == "OOMKilled" else "Error")
        exit_code = pod_effect.exit_code if pod_effect.exit_code is not None else (137 if reason == "OOMKilled" else 1)
        status["lastState"] = {
            "terminated": {
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": rfc3339(max(last_restart - 60, since)),
                "finishedAt": rfc3339(last_restart),
                "containerID": container_id,
            }
        }
    if pod_effect.evicted:
        status["state"] = {
            "terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                "finishedAt": rfc3339(since),
            }
        }
        status["ready"] = status["started"] = False
    elif pod_effect.status in ("CrashLoopBackOff", "Error"):
        status["state"] = {
            "waiting": {
                "reason": "CrashLoopBackOff",
                "message": f"back-off 5m0s restarting failed container={name} pod={pod}",
            }
        }
        status["ready"] = status["started"] = False
    else:
        status["state"] = {"running": {"startedAt": rfc3339(last_restart)}}
        status["ready"] = pod_effect.ready
    return status
