"""The simulated cluster's records: ReplicaSets, rollouts, Deployments and the pod template of a
scenario service.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from evals.sim.kube.objects import HASH_LABEL, normalize, without_hash_label
from evals.sim.kube.resources import config_volumes, container_json
from evals.sim.scenario import ServiceSpec


@dataclass
class ReplicaSetRecord:
    name: str
    uid: str
    hash: str
    template: dict[str, Any]  # normalised, without the hash label
    created_at: float

    def template_with_hash(self) -> dict[str, Any]:
        template = copy.deepcopy(self.template)
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = self.hash
        return template


@dataclass
class Rollout:
    at: float
    replicaset: ReplicaSetRecord
    revision: int
    replicas: int
    pod_set: int  # pods are replaced when this changes (not on a scale)
    reason: str


@dataclass
class DeploymentRecord:
    service: ServiceSpec
    name: str
    namespace: str
    uid: str
    created_at: float
    replicasets: list[ReplicaSetRecord] = field(default_factory=list)
    rollouts: list[Rollout] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    resource_version: int = 0  # the cluster counter at this object's last change

    def current(self, now: float) -> Rollout:
        eligible = [r for r in self.rollouts if r.at <= now]
        return eligible[-1] if eligible else self.rollouts[0]

    def revisions_of(self, replicaset: ReplicaSetRecord, now: float) -> list[int]:
        seen: list[int] = []
        for rollout in self.rollouts:
            if rollout.at <= now and rollout.replicaset is replicaset and rollout.revision not in seen:
                seen.append(rollout.revision)
        return seen

    def max_revision(self) -> int:
        return max(r.revision for r in self.rollouts)

    def find_replicaset(self, template: dict[str, Any]) -> ReplicaSetRecord | None:
        wanted = without_hash_label(template)
        for replicaset in self.replicasets:
            if replicaset.template == wanted:
                return replicaset
        return None


def pod_template(spec: ServiceSpec, image: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    app = spec.deployment_name or spec.name
    port = 5432 if spec.kind == "database" else 8080
    container: dict[str, Any] = {
        "name": app,
        "image": image,
        "env": [{"name": k, "value": v} for k, v in sorted((env or {}).items())],
        "ports": [{"containerPort": port, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }
    if spec.kind != "database":
        container["readinessProbe"] = {
            "httpGet": {"path": "/healthz", "port": port, "scheme": "HTTP"},
            "periodSeconds": 10,
            "timeoutSeconds": 1,
            "successThreshold": 1,
            "failureThreshold": 3,
        }
    # Format v2: the ConfigMaps the app container reads, and sidecars; none in v1, so v1 templates are unchanged.
    if spec.env_from_configmaps:
        container["envFrom"] = [{"configMapRef": {"name": name}} for name in spec.env_from_configmaps]
    if spec.mounts_configmaps:
        container["volumeMounts"] = [
            {"name": name, "mountPath": f"/etc/{name}", "readOnly": True} for name in spec.mounts_configmaps
        ]
    sidecars = [container_json(c) for c in spec.sidecars]
    template = {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "containers": [container, *sidecars],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            **config_volumes(spec.sidecars, spec.mounts_configmaps),
        },
    }
    return normalize(template)  # type: ignore[no-any-return]  # a dict stays a dict


def _images(template: dict[str, Any]) -> dict[str, str]:
    return {c.get("name", ""): c.get("image", "") for c in template.get("spec", {}).get("containers", [])}
