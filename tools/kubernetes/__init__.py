"""The Kubernetes integration: `KubernetesAdapter` and its typed inputs and results.

Layout: ``models`` (settings, call inputs, result models), ``wire`` (the API's JSON read into those
models, the error text of a ``Status`` object), ``adapter`` (the calls, the kubectl-style rollback,
restart and scale). Import from here; the modules are an implementation detail.
"""

from tools.kubernetes.adapter import KubernetesAdapter, merge_patch_replacing
from tools.kubernetes.models import (
    ContainerStatus,
    DeploymentCondition,
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
    Termination,
)
from tools.kubernetes.wire import describe_kubernetes_error

__all__ = [
    "ContainerStatus",
    "DeploymentCondition",
    "DeploymentRef",
    "DeploymentState",
    "Event",
    "EventList",
    "KubernetesAdapter",
    "KubernetesSettings",
    "ListEventsInput",
    "ListPodsInput",
    "ListReplicaSetsInput",
    "Pod",
    "PodList",
    "ReplicaSet",
    "ReplicaSetList",
    "RolloutUndoInput",
    "ScaleInput",
    "Termination",
    "describe_kubernetes_error",
    "merge_patch_replacing",
]
