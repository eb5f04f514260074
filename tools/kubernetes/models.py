"""The Kubernetes adapter's settings, call inputs and typed results.

The result models are what a read call returns as its payload (`ToolResult.payload`) and, dumped to
JSON, the ``data`` the model sees: compact summaries of the API objects, not the objects themselves.
Times are aware UTC datetimes (``null`` when the API left them out or sent something unreadable).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.values import AdapterSettings
from tools.wire import is_none

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
MAX_REPLICAS = 1000  # a sanity bound: a model asking for more is almost certainly wrong


class KubernetesSettings(AdapterSettings):
    # TLS settings are for the client factory that builds the httpx client (``verify=ca_file`` or
    # ``verify=verify_tls``). `tools.registry.default_client_factory` ignores them for now, so an
    # in-cluster deployment with a private CA needs a factory that reads them.
    verify_tls: bool = Field(default=True, description="Verify the API server's TLS certificate.")
    ca_file: str | None = Field(
        default=None,
        description="CA bundle for the API server, e.g. /var/run/secrets/kubernetes.io/serviceaccount/ca.crt.",
    )


# -- inputs -------------------------------------------------------------------------------------------

NamespaceField = Field(pattern=DNS_LABEL, max_length=63, description="Namespace, e.g. shop.")


class ListPodsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    label_selector: str | None = Field(
        default=None, description="Label selector, e.g. app=checkout or app in (checkout,cart)."
    )


class DeploymentRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253, description="Deployment name, e.g. checkout.")


class ListReplicaSetsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    label_selector: str | None = Field(
        default=None, description="Label selector, usually the Deployment's selector, e.g. app=checkout."
    )


class ListEventsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    involved_kind: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]+$",
        description="Only events about this kind, e.g. Pod or Deployment.",
    )
    involved_name: str | None = Field(
        default=None,
        pattern=DNS_SUBDOMAIN,
        max_length=253,
        description="Only events about the object with this name.",
    )
    event_type: Literal["Normal", "Warning"] | None = Field(
        default=None, description="Only Normal or only Warning events."
    )


class RolloutUndoInput(DeploymentRef):
    to_revision: int | None = Field(
        default=None,
        ge=1,
        description="Revision to go back to (see list_replicasets). Default: the revision before the current one.",
    )


class ScaleInput(DeploymentRef):
    replicas: int = Field(ge=0, le=MAX_REPLICAS, description="Desired number of replicas.")


# -- results ------------------------------------------------------------------------------------------


class Termination(BaseModel):
    """How a container's previous run ended (``lastState.terminated``)."""

    reason: str | None = None
    exit_code: int | None = None
    finished_at: datetime | None = None


class ContainerStatus(BaseModel):
    """One container of a pod. A pending pod has no statuses yet: only ``name`` and ``image`` are set,
    and the other keys are left out of the JSON rather than shown as null."""

    name: str | None = None
    image: str | None = None
    ready: bool | None = Field(default=None, exclude_if=is_none)
    restarts: int | None = Field(default=None, exclude_if=is_none)
    state: str | None = Field(default=None, exclude_if=is_none, description="e.g. waiting: CrashLoopBackOff")
    last_terminated: str | None = Field(
        default=None, exclude_if=is_none, description="The previous run's end, as text for the model."
    )
    last_termination: Termination | None = Field(
        default=None, exclude_if=is_none, description="The previous run's end, for code."
    )


class Pod(BaseModel):
    name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    phase: str | None = None
    ready: bool = False
    ready_containers: str = Field(default="0/0", description="ready/total, e.g. 1/2")
    restarts: int = 0
    reasons: list[str] = Field(
        default_factory=list, description="Problem reasons: CrashLoopBackOff, Init:..., last terminated: OOMKilled"
    )
    node: str | None = None
    owner: str | None = Field(default=None, description="kind/name of the first owner, e.g. ReplicaSet/checkout-7a9c")
    started_at: datetime | None = None
    containers: list[ContainerStatus] = Field(default_factory=list)
    configmaps: list[str] = Field(
        default_factory=list, description="ConfigMaps it reads (volumes, envFrom, env values)."
    )


class PodList(BaseModel):
    pods: list[Pod]
    count: int
    more_available: bool = Field(description="The API had another page (only the first is read).")


class DeploymentCondition(BaseModel):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str = ""
    last_update: datetime | None = None


class DeploymentState(BaseModel):
    """One Deployment as ``get_deployment`` reports it: desired and observed replicas, images, revision."""

    name: str | None = None
    namespace: str | None = None
    revision: int | None = Field(default=None, description="deployment.kubernetes.io/revision")
    replicas: int | None = Field(default=None, description="Desired replicas (spec).")
    ready: int = 0
    updated: int = 0
    available: int = 0
    unavailable: int = 0
    paused: bool = False
    images: dict[str, str] = Field(default_factory=dict, description="container name -> image")
    selector: dict[str, str] = Field(default_factory=dict)
    strategy: str | None = None
    generation: int | None = None
    observed_generation: int | None = None
    conditions: list[DeploymentCondition] = Field(default_factory=list)
    created: datetime | None = None


class ReplicaSet(BaseModel):
    """One ReplicaSet: one revision of a Deployment's pod template."""

    name: str | None = None
    revision: int | None = None
    images: dict[str, str] = Field(default_factory=dict)
    replicas: int = 0
    ready: int = 0
    available: int = 0
    created: datetime | None = None
    deployment: str | None = Field(default=None, description="The owning Deployment's name.")
    change_cause: str | None = None


class ReplicaSetList(BaseModel):
    replicasets: list[ReplicaSet] = Field(description="Newest revision first.")
    count: int
    more_available: bool


class Event(BaseModel):
    type: str | None = None
    reason: str | None = None
    object: str = Field(description="kind/name of the involved object")
    message: str = ""
    count: int = 1
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class EventList(BaseModel):
    events: list[Event] = Field(description="Newest first; events without a time last.")
    count: int
    more_available: bool


# -- the cluster beyond Deployments: inputs ------------------------------------------------------------


class ListInNamespaceInput(BaseModel):
    """A list of one kind of object in a namespace, optionally by label."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    label_selector: str | None = Field(default=None, description="Label selector, e.g. app=checkout.")


class ObjectRef(BaseModel):
    """One namespaced object by name (a StatefulSet, Job, CronJob, ConfigMap...)."""

    model_config = ConfigDict(extra="forbid")

    namespace: str = NamespaceField
    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253, description="The object's name.")


class ListNodesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    label_selector: str | None = Field(default=None, description="Label selector, e.g. node-role=worker.")


class NodeRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=DNS_SUBDOMAIN, max_length=253, description="The node's name, e.g. node-b.")


class ScaleStatefulSetInput(ObjectRef):
    replicas: int = Field(ge=0, le=MAX_REPLICAS, description="Desired number of replicas.")


class ScaleJobInput(ObjectRef):
    parallelism: int = Field(
        ge=0,
        le=MAX_REPLICAS,
        description="Pods the Job may run at once; 0 stops its running pods and keeps the Job and its history.",
    )


class RevertConfigMapInput(ObjectRef):
    data: dict[str, str] = Field(
        description="The ConfigMap's complete data as it should be (an earlier revision's, e.g. from the change "
        "that altered it); keys not listed are removed."
    )
    resource_version: str | None = Field(
        default=None,
        pattern=r"^[0-9]+$",
        description="Only if the ConfigMap is still at this resourceVersion (as read by get_configmap).",
    )


# -- the cluster beyond Deployments: results -----------------------------------------------------------


class StatefulSetState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    replicas: int | None = Field(default=None, description="Desired replicas (spec).")
    ready: int = 0
    current: int = 0
    updated: int = 0
    current_revision: str | None = None
    update_revision: str | None = Field(default=None, description="Differs from current_revision mid-rollout.")
    images: dict[str, str] = Field(default_factory=dict)
    selector: dict[str, str] = Field(default_factory=dict)
    created: datetime | None = None


class StatefulSetList(BaseModel):
    statefulsets: list[StatefulSetState]
    count: int
    more_available: bool


class DaemonSetState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    desired: int = Field(default=0, description="Nodes that should run a pod.")
    current: int = 0
    ready: int = 0
    available: int = 0
    unavailable: int = 0
    misscheduled: int = 0
    updated: int = 0
    images: dict[str, str] = Field(default_factory=dict)
    created: datetime | None = None


class DaemonSetList(BaseModel):
    daemonsets: list[DaemonSetState]
    count: int
    more_available: bool


class JobState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    status: Literal["active", "complete", "failed", "suspended", "pending"] = "pending"
    active: int = Field(default=0, description="Pods running now.")
    succeeded: int = 0
    failed: int = 0
    parallelism: int | None = None
    completions: int | None = None
    suspended: bool = False
    started: datetime | None = None
    completed: datetime | None = None
    owner: str | None = Field(default=None, description="kind/name of its controller, e.g. CronJob/nightly-export.")
    started_by: Literal["schedule", "manual"] | None = Field(
        default=None, description="schedule: a CronJob's run; manual: started by hand."
    )
    images: dict[str, str] = Field(default_factory=dict)
    conditions: list[str] = Field(default_factory=list, description="e.g. Failed: BackoffLimitExceeded")


class JobList(BaseModel):
    jobs: list[JobState] = Field(description="Newest first.")
    count: int
    more_available: bool


class CronJobState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    schedule: str | None = None
    suspended: bool = False
    concurrency_policy: str | None = None
    last_schedule: datetime | None = None
    last_successful: datetime | None = None
    active_jobs: list[str] = Field(default_factory=list, description="Jobs of this CronJob running now.")
    images: dict[str, str] = Field(default_factory=dict)
    created: datetime | None = None


class CronJobList(BaseModel):
    cronjobs: list[CronJobState]
    count: int
    more_available: bool


class ConfigMapState(BaseModel):
    """A ConfigMap's data (values clipped at 2,000 characters) and when it was last written."""

    name: str | None = None
    namespace: str | None = None
    resource_version: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    keys: list[str] = Field(default_factory=list)
    data: dict[str, str] | None = Field(
        default=None, exclude_if=is_none, description="Values by key (only when read one by one)."
    )
    truncated: list[str] = Field(default_factory=list, description="Keys whose values were clipped.")
    last_written: datetime | None = Field(default=None, description="The newest managedFields time.")
    created: datetime | None = None


class ConfigMapRevision(BaseModel):
    """One earlier (or the current) revision of a ConfigMap, from a ControllerRevision it owns."""

    revision: int
    written: datetime | None = None
    data: dict[str, str] = Field(default_factory=dict, description="Values by key, each clipped at 2,000 characters.")
    truncated: list[str] = Field(default_factory=list, description="Keys whose values were clipped: not revertible.")


class ConfigMapRevisionList(BaseModel):
    configmap: str
    namespace: str
    revisions: list[ConfigMapRevision] = Field(description="Oldest first.")


class ConfigMapList(BaseModel):
    configmaps: list[ConfigMapState] = Field(description="Keys only; get_configmap reads the data.")
    count: int
    more_available: bool


class SecretState(BaseModel):
    """A Secret's names and versions only: values never leave the adapter."""

    name: str | None = None
    namespace: str | None = None
    type: str | None = None
    keys: list[str] = Field(default_factory=list)
    resource_version: str | None = None
    last_written: datetime | None = None
    created: datetime | None = None


class SecretList(BaseModel):
    secrets: list[SecretState]
    count: int
    more_available: bool


class ServiceState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    type: str | None = None
    cluster_ip: str | None = None
    selector: dict[str, str] = Field(default_factory=dict, description="Pods it sends traffic to; empty: none.")
    ports: list[str] = Field(default_factory=list, description="port->targetPort/protocol, e.g. 80->8080/TCP")


class ServiceList(BaseModel):
    services: list[ServiceState]
    count: int
    more_available: bool


class NetworkPolicyState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    pod_selector: dict[str, str] = Field(default_factory=dict, description="matchLabels; empty: every pod.")
    policy_types: list[str] = Field(default_factory=list)
    ingress: list[str] = Field(default_factory=list, description="Each ingress rule as compact JSON.")
    egress: list[str] = Field(default_factory=list, description="Each egress rule as compact JSON.")
    denies_all_ingress: bool = Field(default=False, description="Ingress is a policy type with no rule.")
    denies_all_egress: bool = False
    created: datetime | None = None


class NetworkPolicyList(BaseModel):
    networkpolicies: list[NetworkPolicyState]
    count: int
    more_available: bool


class HPAState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    target: str | None = Field(default=None, description="kind/name it scales.")
    min_replicas: int | None = None
    max_replicas: int | None = None
    current_replicas: int | None = None
    desired_replicas: int | None = None
    metrics: list[str] = Field(default_factory=list, description="e.g. cpu 92% of 70% target")
    conditions: list[str] = Field(default_factory=list, description="type=status (reason)")


class HPAList(BaseModel):
    hpas: list[HPAState]
    count: int
    more_available: bool


class NodeCondition(BaseModel):
    type: str | None = None
    status: str | None = None
    reason: str | None = None
    message: str = ""
    since: datetime | None = None


class NodeState(BaseModel):
    name: str | None = None
    ready: bool = False
    problems: list[str] = Field(
        default_factory=list, description="NotReady, MemoryPressure, DiskPressure, PIDPressure, cordoned..."
    )
    unschedulable: bool = Field(default=False, description="Cordoned (spec.unschedulable).")
    taints: list[str] = Field(default_factory=list, description="key:effect")
    allocatable: dict[str, str] = Field(default_factory=dict)
    conditions: list[NodeCondition] = Field(default_factory=list)
    kubelet_version: str | None = None
    created: datetime | None = None


class NodeList(BaseModel):
    nodes: list[NodeState]
    count: int
    more_available: bool


class ResourceQuotaState(BaseModel):
    name: str | None = None
    namespace: str | None = None
    hard: dict[str, str] = Field(default_factory=dict)
    used: dict[str, str] = Field(default_factory=dict)
    exhausted: list[str] = Field(default_factory=list, description="Resources whose use has reached the limit.")


class ResourceQuotaList(BaseModel):
    resourcequotas: list[ResourceQuotaState]
    count: int
    more_available: bool
