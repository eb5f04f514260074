"""Format v2's ``kubernetes`` section: the cluster beyond the topology's Deployments.

Format v1 gives every topology service one Deployment and nothing else, so a fault that lives in a
ConfigMap change, a CronJob's run, a node's condition or a sidecar cannot be written. Version 2 adds
the objects a real cluster has around its Deployments: namespaces, nodes (conditions, cordons,
allocatable), workloads of the other kinds (StatefulSets, DaemonSets, Jobs, CronJobs), ConfigMaps and
Secrets with a change history the scenario seeds, Services, NetworkPolicies, HPAs and ResourceQuotas.
The simulator serves them in their API shapes; the PATCHes the fixes need are actions the scenario's
``action_effects`` can name by kind and name.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from evals.sim.scenario.fields import Labels, Offset, _Model

K8S_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"

WorkloadKind = Literal["StatefulSet", "DaemonSet", "Job", "CronJob"]
ObjectKind = Literal[
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "CronJob",
    "ConfigMap",
    "Secret",
    "Service",
    "NetworkPolicy",
    "HorizontalPodAutoscaler",
    "ResourceQuota",
    "Node",
    "Namespace",
]
NodeConditionType = Literal["Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"]
ConditionStatus = Literal["True", "False", "Unknown"]
PolicyType = Literal["Ingress", "Egress"]


class NamespaceSpec(_Model):
    name: str = Field(pattern=K8S_NAME)
    labels: Labels = Field(default_factory=dict)


class NodeCondition(_Model):
    """A node condition as the kubelet reports it (``Ready``, ``MemoryPressure``, ``DiskPressure``...)."""

    type: NodeConditionType
    status: ConditionStatus
    reason: str | None = Field(default=None, description="Defaults to the kubelet's reason for this type/status.")
    message: str | None = None
    since: Offset | None = Field(default=None, description="lastTransitionTime; a week before the alert when absent.")


class NodeSpec(_Model):
    """One node. Healthy by default (Ready, no pressure); a fault's ``effects.node_conditions`` changes that."""

    name: str = Field(pattern=K8S_NAME)
    labels: Labels = Field(default_factory=dict)
    cpu: str = Field(default="8", description="allocatable CPU, e.g. 8 or 7910m")
    memory: str = Field(default="32Gi", description="allocatable memory, e.g. 31Gi")
    ephemeral_storage: str = Field(default="100Gi", description="allocatable ephemeral-storage")
    pods: int = Field(default=110, ge=1, description="allocatable pods")
    unschedulable: bool = Field(default=False, description="cordoned (spec.unschedulable) before the scenario")
    conditions: list[NodeCondition] = Field(default_factory=list, description="Conditions other than the defaults.")
    kubelet_version: str = "v1.31.2"


class ContainerSpec(_Model):
    """A container of a workload's pods (or a sidecar of a topology service's Deployment)."""

    name: str = Field(pattern=K8S_NAME)
    image: str
    cpu_request: str | None = "100m"
    cpu_limit: str | None = None
    memory_request: str | None = "128Mi"
    memory_limit: str | None = "256Mi"
    env: dict[str, str] = Field(default_factory=dict)
    env_from_configmap: str | None = Field(default=None, description="A ConfigMap the container reads (envFrom).")
    mounts_configmap: str | None = Field(default=None, description="A ConfigMap mounted at /etc/<name>.")


class JobRun(_Model):
    """One run of a Job (a CronJob's scheduled run, or a Job started by hand)."""

    name: str | None = Field(
        default=None, pattern=K8S_NAME, description="Defaults to <cronjob>-<minutes since epoch> for a scheduled run."
    )
    started_at: Offset
    duration: Offset | None = Field(
        default=None, description="How long it runs until it completes; still running (active) when absent."
    )
    failed: bool = Field(default=False, description="It ended failed (BackoffLimitExceeded) rather than complete.")
    started_by: Literal["schedule", "manual"] = "schedule"


class WorkloadSpec(_Model):
    """A StatefulSet, DaemonSet, Job or CronJob.

    ``service`` links it to a topology service: that service's faults (pods effects, logs) show on
    these pods, and the service gets no Deployment of its own (the workload runs it).
    """

    kind: WorkloadKind
    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    service: str | None = Field(default=None, description="The topology service it runs, if any.")
    labels: Labels = Field(default_factory=dict, description="Extra labels; app=<name> is always set.")
    containers: list[ContainerSpec] = Field(min_length=1)
    replicas: int = Field(default=1, ge=0, description="StatefulSet replicas.")
    revision: str | None = Field(default=None, description="StatefulSet currentRevision / DaemonSet revision suffix.")
    nodes: list[str] = Field(
        default_factory=list, description="Where its pods run: a DaemonSet's nodes (all when empty), others cycled."
    )
    created_at: Offset = Field(default=-30 * 86400.0)
    # Jobs and CronJobs
    parallelism: int = Field(default=1, ge=0, description="Job: pods running at once while active.")
    completions: int | None = Field(default=1, ge=1)
    backoff_limit: int = Field(default=6, ge=0)
    schedule: str | None = Field(default=None, description="CronJob: the cron schedule, e.g. '0 */2 * * *'.")
    suspend: bool = Field(default=False, description="CronJob or Job: suspended before the scenario.")
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Allow"
    runs: list[JobRun] = Field(
        default_factory=list,
        description="Job: its one run (defaults to one started at created_at); CronJob: the Jobs it started.",
    )

    @model_validator(mode="after")
    def _kind_fields(self) -> WorkloadSpec:
        if self.kind == "CronJob" and not self.schedule:
            raise ValueError("schedule: required for a CronJob")
        if self.kind != "CronJob" and self.schedule:
            raise ValueError("schedule: only for a CronJob")
        if self.kind == "Job" and len(self.runs) > 1:
            raise ValueError("runs: a Job has at most one run (a CronJob has several)")
        if self.kind not in ("Job", "CronJob") and self.runs:
            raise ValueError("runs: only for a Job or a CronJob")
        return self

    def job_runs(self) -> list[JobRun]:
        """The Jobs this workload stands for, oldest first (a Job without runs ran from its creation)."""
        if self.kind == "Job" and not self.runs:
            return [JobRun(name=self.name, started_at=self.created_at, started_by="manual")]
        return sorted(self.runs, key=lambda run: run.started_at)


class ConfigRevision(_Model):
    """The content of a ConfigMap (or the keys of a Secret) from ``at`` on."""

    at: Offset
    data: dict[str, str] = Field(default_factory=dict, description="ConfigMap data; for a Secret, key -> a fake value.")
    change: str | None = Field(default=None, description="The scenario change that wrote it, if any.")


class ConfigObjectSpec(_Model):
    """A ConfigMap or a Secret with its change history, oldest revision first.

    The API serves the revision current at the clock's time (``resourceVersion`` moves with each).
    A Secret's values are never served to the adapter as text; only its keys and version matter.
    """

    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    labels: Labels = Field(default_factory=dict)
    type: str = Field(default="Opaque", description="Secret type, e.g. kubernetes.io/tls.")
    revisions: list[ConfigRevision] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> ConfigObjectSpec:
        times = [r.at for r in self.revisions]
        if times != sorted(times) or len(set(times)) != len(times):
            raise ValueError("revisions: must be in time order, at distinct times")
        return self


class ServicePort(_Model):
    port: int = Field(ge=1, le=65535)
    target_port: int | str | None = None
    protocol: Literal["TCP", "UDP", "SCTP"] = "TCP"
    name: str | None = None


class KubeServiceSpec(_Model):
    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    type: Literal["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"] = "ClusterIP"
    selector: Labels = Field(default_factory=dict)
    ports: list[ServicePort] = Field(default_factory=list)


class NetworkPolicySpec(_Model):
    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    pod_selector: Labels = Field(default_factory=dict, description="matchLabels; empty selects every pod.")
    policy_types: list[PolicyType] = Field(default_factory=lambda: list[PolicyType](["Ingress"]))
    ingress: list[dict[str, Any]] = Field(default_factory=list, description="Rules in the API's own shape.")
    egress: list[dict[str, Any]] = Field(default_factory=list, description="Rules in the API's own shape.")
    created_at: Offset = Field(default=-30 * 86400.0)


class HPASpec(_Model):
    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    target_kind: Literal["Deployment", "StatefulSet"] = "Deployment"
    target_name: str = Field(pattern=K8S_NAME)
    min_replicas: int = Field(default=1, ge=1)
    max_replicas: int = Field(ge=1)
    cpu_utilization: int = Field(default=70, ge=1, le=1000, description="Target average CPU utilisation, percent.")
    current_cpu: int | None = Field(default=None, description="Observed average CPU utilisation, percent.")
    able_to_scale: bool = True
    scaling_limited: bool = Field(default=False, description="At max_replicas (ScalingLimited=True).")


class ResourceQuotaSpec(_Model):
    name: str = Field(pattern=K8S_NAME)
    namespace: str = Field(default="default", pattern=K8S_NAME)
    hard: dict[str, str] = Field(description="e.g. {pods: '20', requests.memory: 64Gi}")
    used: dict[str, str] = Field(default_factory=dict)


class KubernetesSpec(_Model):
    """Everything in the cluster besides the topology's Deployments (format v2)."""

    namespaces: list[NamespaceSpec] = Field(
        default_factory=list, description="Extra namespaces (every namespace a service or object uses exists)."
    )
    nodes: list[NodeSpec] = Field(
        default_factory=list, description="The nodes; three healthy ones (node-a, node-b, node-c) when empty."
    )
    workloads: list[WorkloadSpec] = Field(default_factory=list)
    configmaps: list[ConfigObjectSpec] = Field(default_factory=list)
    secrets: list[ConfigObjectSpec] = Field(default_factory=list)
    services: list[KubeServiceSpec] = Field(
        default_factory=list,
        description="Services besides the one generated per topology service (app=<deployment>, its port).",
    )
    network_policies: list[NetworkPolicySpec] = Field(default_factory=list)
    hpas: list[HPASpec] = Field(default_factory=list)
    resource_quotas: list[ResourceQuotaSpec] = Field(default_factory=list)


class NodeConditionEffect(_Model):
    """A fault's effect on a node: a condition it sets while active (e.g. DiskPressure True)."""

    node: str
    type: NodeConditionType
    status: ConditionStatus = "True"
    reason: str | None = None
    message: str | None = None


class ActionTarget(_Model):
    """The object an action must act on for a rule to apply: its kind, and optionally namespace and name.

    A call's kind is its ``kind`` argument, or the kind its tool acts on (``kubernetes.revert_configmap``
    acts on a ConfigMap, the v1 Deployment calls on a Deployment).
    """

    kind: ObjectKind
    name: str | None = None
    namespace: str | None = None


# The kind of object each Kubernetes call acts on, for calls that do not say it in their arguments.
ACTION_TARGET_KINDS: dict[str, ObjectKind] = {
    "kubernetes.rollout_undo": "Deployment",
    "kubernetes.rollout_restart": "Deployment",
    "kubernetes.scale": "Deployment",
    "kubernetes.set_image": "Deployment",
    "kubernetes.patch_deployment": "Deployment",
    "kubernetes.scale_statefulset": "StatefulSet",
    "kubernetes.suspend_cronjob": "CronJob",
    "kubernetes.resume_cronjob": "CronJob",
    "kubernetes.scale_job": "Job",
    "kubernetes.suspend_job": "Job",
    "kubernetes.resume_job": "Job",
    "kubernetes.revert_configmap": "ConfigMap",
    "kubernetes.patch_configmap": "ConfigMap",
    "kubernetes.cordon_node": "Node",
    "kubernetes.uncordon_node": "Node",
}


def target_matches(target: ActionTarget, action: str, args: dict[str, Any]) -> bool:
    """Whether a call acts on ``target``: same kind, and the same namespace and name when the target names them."""
    kind = args.get("kind") or ACTION_TARGET_KINDS.get(action)
    if kind != target.kind:
        return False
    if target.name is not None and args.get("name") != target.name:
        return False
    return target.namespace is None or args.get("namespace") == target.namespace
