"""Simulated Kubernetes: Deployments, one ReplicaSet per pod template, Pods and Events; and (format
v2, `resources`) nodes, namespaces, StatefulSets, DaemonSets, Jobs, CronJobs, ConfigMaps and Secrets
with their revisions, Services, NetworkPolicies, HPAs and ResourceQuotas, whose PATCHes are actions
too (``kubernetes.scale_statefulset``, ``suspend_cronjob``, ``scale_job``, ``revert_configmap``,
``cordon_node``...).

The history of each Deployment is a list of *rollouts*: at time T, ReplicaSet R became current with
revision N and K replicas. The scenario's deploys seed it; PATCHes from the API extend it the way the
deployment controller would:

- a template equal to an older ReplicaSet's (ignoring ``pod-template-hash``) re-activates that
  ReplicaSet under a new revision number, like ``kubectl rollout undo`` (action
  ``kubernetes.rollout_undo``); its ``deployment.kubernetes.io/revision-history`` keeps the old one;
- a template that only adds or changes ``kubectl.kubernetes.io/restartedAt`` creates a new
  ReplicaSet and revision (``kubernetes.rollout_restart``);
- any other template change creates a new ReplicaSet (``kubernetes.set_image`` when an image
  changed, ``kubernetes.patch_deployment`` otherwise); a replicas change is ``kubernetes.scale``.

Every rollout replaces the pods (new names), so a rollback is visible in pod names and in logs.
PATCH bodies may be JSON Patch, JSON merge patch or strategic merge patch (lists of named items,
such as containers, merge by ``name``). Errors are Kubernetes ``Status`` objects.
"""

from __future__ import annotations

from evals.sim.kube.cluster import KubeCluster
from evals.sim.kube.objects import (
    DESIRED_REPLICAS,
    EVENT_TTL_SECONDS,
    HASH_LABEL,
    MAX_REPLICAS,
    NODES,
    PATCH_TYPES,
    RESTARTED_AT,
    REVISION,
    REVISION_HISTORY,
    SAFE_ALPHABET,
    ActionRequest,
    KubeError,
    PodEffectsFn,
    fnv32a,
    normalize,
    not_found,
    random_suffix,
    safe_encode,
    stable_uid,
    status_object,
    template_hash,
    without_hash_label,
)
from evals.sim.kube.patches import apply_patch, json_patch, merge_patch, strategic_merge_patch
from evals.sim.kube.records import DeploymentRecord, ReplicaSetRecord, Rollout, pod_template
from evals.sim.kube.resources import ClusterObjects
from evals.sim.kube.selectors import field_selector_matches, label_selector_matches

__all__ = [
    "ActionRequest",
    "ClusterObjects",
    "DESIRED_REPLICAS",
    "DeploymentRecord",
    "EVENT_TTL_SECONDS",
    "HASH_LABEL",
    "KubeCluster",
    "KubeError",
    "MAX_REPLICAS",
    "NODES",
    "PATCH_TYPES",
    "PodEffectsFn",
    "RESTARTED_AT",
    "REVISION",
    "REVISION_HISTORY",
    "ReplicaSetRecord",
    "Rollout",
    "SAFE_ALPHABET",
    "apply_patch",
    "field_selector_matches",
    "fnv32a",
    "json_patch",
    "label_selector_matches",
    "merge_patch",
    "normalize",
    "not_found",
    "pod_template",
    "random_suffix",
    "safe_encode",
    "stable_uid",
    "status_object",
    "strategic_merge_patch",
    "template_hash",
    "without_hash_label",
]
