"""Reading the Kubernetes API's JSON into the adapter's result models (`tools.kubernetes.models`).

Every reader is lenient field by field, as the API objects are large and partly optional: a missing
or oddly typed field becomes None (or its zero value), never an exception. Only an object that is not
an object at all fails the read, which the adapter reports as a malformed answer.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from tools.kubernetes.models import (
    ConfigMapRevision,
    ConfigMapState,
    ContainerStatus,
    CronJobState,
    DaemonSetState,
    DeploymentCondition,
    DeploymentState,
    Event,
    HPAState,
    JobState,
    NetworkPolicyState,
    NodeCondition,
    NodeState,
    Pod,
    ReplicaSet,
    ResourceQuotaState,
    SecretState,
    ServiceState,
    StatefulSetState,
    Termination,
)
from tools.wire import clip, json_field, opt_int, opt_str, parse_rfc3339

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
CONFIG_VALUE_LIMIT = 2000
CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause"


def describe_kubernetes_error(response: httpx.Response) -> str | None:
    """``Kubernetes NotFound: deployments.apps "x" not found`` from a Status object."""
    message = json_field(response, "message")
    if not isinstance(message, str):
        return None
    reason = json_field(response, "reason")
    return f"Kubernetes {reason}: {message}" if isinstance(reason, str) else f"Kubernetes: {message}"


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (optional fields of API objects)."""
    return value if isinstance(value, dict) else {}


def as_array(value: Any) -> list[Any]:
    """``value`` when it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else []


def revision_of(obj: dict[str, Any]) -> int | None:
    """The ``deployment.kubernetes.io/revision`` annotation of a Deployment or ReplicaSet, as an int."""
    value = as_object(as_object(obj.get("metadata")).get("annotations")).get(REVISION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def images_of(template: dict[str, Any]) -> dict[str, str]:
    """container name -> image of a pod template."""
    containers = as_array(as_object(template.get("spec")).get("containers"))
    return {str(as_object(c).get("name")): str(as_object(c).get("image")) for c in containers}


def container_state_text(state: dict[str, Any]) -> str:
    if "waiting" in state:
        return f"waiting: {as_object(state['waiting']).get('reason') or 'unknown'}"
    if "terminated" in state:
        terminated = as_object(state["terminated"])
        return f"terminated: {terminated.get('reason') or 'unknown'} (exit {terminated.get('exitCode')})"
    if "running" in state:
        return "running"
    return "unknown"


def read_pod(pod: dict[str, Any]) -> Pod:
    """A ``v1.Pod`` as a `Pod`: readiness, restarts, images and every problem reason worth showing."""
    metadata, spec, status = (as_object(pod.get(k)) for k in ("metadata", "spec", "status"))
    images = {str(c.get("name")): opt_str(c.get("image")) for c in map(as_object, as_array(spec.get("containers")))}
    containers: list[ContainerStatus] = []
    reasons: list[str] = []
    if status.get("reason"):
        reasons.append(str(status["reason"]))  # pod-level, e.g. Evicted
    for cs in map(as_object, as_array(status.get("initContainerStatuses"))):
        waiting = as_object(as_object(cs.get("state")).get("waiting"))
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reasons.append(f"Init:{waiting['reason']}")
    statuses = [as_object(cs) for cs in as_array(status.get("containerStatuses"))]
    for cs in statuses:
        state = as_object(cs.get("state"))
        name = opt_str(cs.get("name"))
        for key in ("waiting", "terminated"):
            reason = as_object(state.get(key)).get("reason")
            if reason and reason != "Completed":
                reasons.append(str(reason))
        last = as_object(as_object(cs.get("lastState")).get("terminated"))
        termination = None
        if last:
            termination = Termination(
                reason=opt_str(last.get("reason")),
                exit_code=opt_int(last.get("exitCode")),
                finished_at=parse_rfc3339(last.get("finishedAt")),
            )
            if last.get("reason") and last["reason"] != "Completed":
                reasons.append(f"last terminated: {last['reason']}")
        containers.append(
            ContainerStatus(
                name=name,
                image=opt_str(cs.get("image")) or images.get(str(name)),
                ready=bool(cs.get("ready")),
                restarts=_count(cs.get("restartCount")),
                state=container_state_text(state),
                last_terminated=(
                    f"{last.get('reason') or 'unknown'} (exit {last.get('exitCode')}) at {last.get('finishedAt')}"
                    if last
                    else None
                ),
                last_termination=termination,
            )
        )
    if not containers:  # pending pods have no statuses yet; still show what they run
        containers = [ContainerStatus(name=name, image=image) for name, image in images.items()]
    ready_condition = next(
        (c for c in map(as_object, as_array(status.get("conditions"))) if c.get("type") == "Ready"), None
    )
    ready_count = sum(1 for c in statuses if c.get("ready"))
    owner = as_object(next(iter(as_array(metadata.get("ownerReferences"))), None))
    return Pod(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        labels={str(k): str(v) for k, v in as_object(metadata.get("labels")).items()},
        phase=opt_str(status.get("phase")),
        ready=ready_condition.get("status") == "True"
        if ready_condition
        else bool(statuses) and ready_count == len(statuses),
        ready_containers=f"{ready_count}/{len(images) or len(statuses)}",
        restarts=sum(_count(c.get("restartCount")) for c in statuses),
        reasons=list(dict.fromkeys(reasons)),
        node=opt_str(spec.get("nodeName")),
        owner=f"{owner.get('kind')}/{owner.get('name')}" if owner else None,
        started_at=parse_rfc3339(status.get("startTime")),
        containers=containers,
        configmaps=configmaps_of(spec),
    )


def configmaps_of(spec: dict[str, Any]) -> list[str]:
    """The ConfigMaps a pod spec reads: mounted volumes, ``envFrom`` and single ``env`` values."""
    names = [as_object(as_object(v).get("configMap")).get("name") for v in as_array(spec.get("volumes"))]
    for container in map(as_object, as_array(spec.get("containers"))):
        names += [as_object(as_object(e).get("configMapRef")).get("name") for e in as_array(container.get("envFrom"))]
        names += [
            as_object(as_object(as_object(e).get("valueFrom")).get("configMapKeyRef")).get("name")
            for e in as_array(container.get("env"))
        ]
    return sorted({str(n) for n in names if n})


def read_deployment(deployment: dict[str, Any]) -> DeploymentState:
    """An ``apps/v1.Deployment`` as a `DeploymentState`."""
    metadata, spec, status = (as_object(deployment.get(k)) for k in ("metadata", "spec", "status"))
    return DeploymentState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        revision=revision_of(deployment),
        replicas=opt_int(spec.get("replicas")),
        ready=_count(status.get("readyReplicas")),
        updated=_count(status.get("updatedReplicas")),
        available=_count(status.get("availableReplicas")),
        unavailable=_count(status.get("unavailableReplicas")),
        paused=bool(spec.get("paused", False)),
        images=images_of(as_object(spec.get("template"))),
        selector=_labels(as_object(spec.get("selector")).get("matchLabels")),
        strategy=opt_str(as_object(spec.get("strategy")).get("type")),
        generation=opt_int(metadata.get("generation")),
        observed_generation=opt_int(status.get("observedGeneration")),
        conditions=[
            DeploymentCondition(
                type=opt_str(c.get("type")),
                status=opt_str(c.get("status")),
                reason=opt_str(c.get("reason")),
                message=clip(str(c.get("message") or ""), 200),
                last_update=parse_rfc3339(c.get("lastUpdateTime")),
            )
            for c in map(as_object, as_array(status.get("conditions")))
        ],
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_replicaset(rs: dict[str, Any]) -> ReplicaSet:
    """An ``apps/v1.ReplicaSet`` as a `ReplicaSet` (its revision, images and owning Deployment)."""
    metadata, spec, status = (as_object(rs.get(k)) for k in ("metadata", "spec", "status"))
    owner = next(
        (ref for ref in map(as_object, as_array(metadata.get("ownerReferences"))) if ref.get("kind") == "Deployment"),
        None,
    )
    return ReplicaSet(
        name=opt_str(metadata.get("name")),
        revision=revision_of(rs),
        images=images_of(as_object(spec.get("template"))),
        replicas=_count(spec.get("replicas")),
        ready=_count(status.get("readyReplicas")),
        available=_count(status.get("availableReplicas")),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
        deployment=opt_str(owner.get("name")) if owner else None,
        change_cause=opt_str(as_object(metadata.get("annotations")).get(CHANGE_CAUSE_ANNOTATION)),
    )


def read_event(event: dict[str, Any]) -> Event:
    """A ``core/v1.Event`` as an `Event`; ``last_seen`` falls back through the newer API's fields."""
    involved = as_object(event.get("involvedObject"))
    series = as_object(event.get("series"))
    last_seen = (
        parse_rfc3339(event.get("lastTimestamp"))
        or parse_rfc3339(series.get("lastObservedTime"))
        or parse_rfc3339(event.get("eventTime"))
        or parse_rfc3339(as_object(event.get("metadata")).get("creationTimestamp"))
    )
    return Event(
        type=opt_str(event.get("type")),
        reason=opt_str(event.get("reason")),
        object=f"{involved.get('kind')}/{involved.get('name')}",
        message=clip(str(event.get("message") or ""), 300),
        count=opt_int(event.get("count")) or opt_int(series.get("count")) or 1,
        first_seen=parse_rfc3339(event.get("firstTimestamp")) or parse_rfc3339(event.get("eventTime")),
        last_seen=last_seen,
    )


def _count(value: Any) -> int:
    """A replica or restart count: the API leaves zero counts out, so anything not an int is 0."""
    return opt_int(value) or 0


def _labels(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in as_object(value).items()}


def _meta(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return as_object(obj.get("metadata")), as_object(obj.get("spec")), as_object(obj.get("status"))


def _template_images(spec: dict[str, Any]) -> dict[str, str]:
    return images_of(as_object(spec.get("template")))


def _last_written(metadata: dict[str, Any]) -> Any:
    """The newest ``managedFields`` time: when anyone last wrote the object (the API keeps no history)."""
    times = [parse_rfc3339(as_object(f).get("time")) for f in as_array(metadata.get("managedFields"))]
    known = [t for t in times if t is not None]
    return max(known) if known else None


def read_statefulset(obj: dict[str, Any]) -> StatefulSetState:
    metadata, spec, status = _meta(obj)
    return StatefulSetState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        replicas=opt_int(spec.get("replicas")),
        ready=_count(status.get("readyReplicas")),
        current=_count(status.get("currentReplicas")),
        updated=_count(status.get("updatedReplicas")),
        current_revision=opt_str(status.get("currentRevision")),
        update_revision=opt_str(status.get("updateRevision")),
        images=_template_images(spec),
        selector=_labels(as_object(spec.get("selector")).get("matchLabels")),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_daemonset(obj: dict[str, Any]) -> DaemonSetState:
    metadata, spec, status = _meta(obj)
    return DaemonSetState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        desired=_count(status.get("desiredNumberScheduled")),
        current=_count(status.get("currentNumberScheduled")),
        ready=_count(status.get("numberReady")),
        available=_count(status.get("numberAvailable")),
        unavailable=_count(status.get("numberUnavailable")),
        misscheduled=_count(status.get("numberMisscheduled")),
        updated=_count(status.get("updatedNumberScheduled")),
        images=_template_images(spec),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_job(obj: dict[str, Any]) -> JobState:
    """A ``batch/v1.Job``: running, finished or suspended, and who started it."""
    metadata, spec, status = _meta(obj)
    conditions = [as_object(c) for c in as_array(status.get("conditions"))]
    true_types = {str(c.get("type")) for c in conditions if c.get("status") == "True"}
    active = _count(status.get("active"))
    suspended = bool(spec.get("suspend", False))
    state: Any = (
        "failed"
        if "Failed" in true_types
        else "complete"
        if "Complete" in true_types
        else "suspended"
        if suspended
        else "active"
        if active
        else "pending"
    )
    owner = next(
        (as_object(r) for r in as_array(metadata.get("ownerReferences")) if as_object(r).get("controller")), None
    )
    annotations = as_object(metadata.get("annotations"))
    started_by: Any = None
    if owner is not None and owner.get("kind") == "CronJob":
        started_by = "schedule"
    elif annotations.get("cronjob.kubernetes.io/instantiate") == "manual" or owner is None:
        started_by = "manual"
    return JobState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        status=state,
        active=active,
        succeeded=_count(status.get("succeeded")),
        failed=_count(status.get("failed")),
        parallelism=opt_int(spec.get("parallelism")),
        completions=opt_int(spec.get("completions")),
        suspended=suspended,
        started=parse_rfc3339(status.get("startTime")),
        completed=parse_rfc3339(status.get("completionTime")),
        owner=f"{owner.get('kind')}/{owner.get('name')}" if owner else None,
        started_by=started_by,
        images=_template_images(spec),
        conditions=[
            f"{c.get('type')}: {c.get('reason')}" if c.get("reason") else str(c.get("type"))
            for c in conditions
            if c.get("status") == "True"
        ],
    )


def read_cronjob(obj: dict[str, Any]) -> CronJobState:
    metadata, spec, status = _meta(obj)
    job_spec = as_object(as_object(spec.get("jobTemplate")).get("spec"))
    return CronJobState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        schedule=opt_str(spec.get("schedule")),
        suspended=bool(spec.get("suspend", False)),
        concurrency_policy=opt_str(spec.get("concurrencyPolicy")),
        last_schedule=parse_rfc3339(status.get("lastScheduleTime")),
        last_successful=parse_rfc3339(status.get("lastSuccessfulTime")),
        active_jobs=[str(as_object(ref).get("name")) for ref in as_array(status.get("active"))],
        images=images_of(as_object(job_spec.get("template"))),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_configmap(obj: dict[str, Any], *, with_data: bool) -> ConfigMapState:
    """A ConfigMap; its values (each clipped) only when ``with_data`` (a list shows keys only)."""
    metadata = as_object(obj.get("metadata"))
    raw = {str(k): str(v) for k, v in as_object(obj.get("data")).items()}
    binary = [str(k) for k in as_object(obj.get("binaryData"))]
    data = {k: v[:CONFIG_VALUE_LIMIT] for k, v in raw.items()} if with_data else None
    return ConfigMapState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        resource_version=opt_str(metadata.get("resourceVersion")),
        labels={str(k): str(v) for k, v in as_object(metadata.get("labels")).items()},
        keys=sorted([*raw, *binary]),
        data=data,
        truncated=sorted(k for k, v in raw.items() if len(v) > CONFIG_VALUE_LIMIT) if with_data else [],
        last_written=_last_written(metadata),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_configmap_revision(obj: dict[str, Any]) -> tuple[str | None, ConfigMapRevision | None]:
    """A ControllerRevision: the ConfigMap that owns it (None when a ConfigMap owns none) and that revision."""
    metadata = as_object(obj.get("metadata"))
    owner = next(
        (
            opt_str(as_object(ref).get("name"))
            for ref in as_array(metadata.get("ownerReferences"))
            if as_object(ref).get("kind") == "ConfigMap"
        ),
        None,
    )
    number = obj.get("revision")
    if owner is None or not isinstance(number, int):
        return None, None
    raw = {str(k): str(v) for k, v in as_object(as_object(obj.get("data")).get("data")).items()}
    return owner, ConfigMapRevision(
        revision=number,
        written=parse_rfc3339(metadata.get("creationTimestamp")),
        data={k: v[:CONFIG_VALUE_LIMIT] for k, v in raw.items()},
        truncated=sorted(k for k, v in raw.items() if len(v) > CONFIG_VALUE_LIMIT),
    )


def read_secret(obj: dict[str, Any]) -> SecretState:
    """A Secret's keys and version. The values are read past, never copied."""
    metadata = as_object(obj.get("metadata"))
    keys = {*as_object(obj.get("data")), *as_object(obj.get("stringData"))}
    return SecretState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        type=opt_str(obj.get("type")),
        keys=sorted(str(k) for k in keys),
        resource_version=opt_str(metadata.get("resourceVersion")),
        last_written=_last_written(metadata),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_service(obj: dict[str, Any]) -> ServiceState:
    metadata, spec, _ = _meta(obj)
    ports = []
    for port in map(as_object, as_array(spec.get("ports"))):
        target = port.get("targetPort", port.get("port"))
        ports.append(f"{port.get('port')}->{target}/{port.get('protocol') or 'TCP'}")
    return ServiceState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        type=opt_str(spec.get("type")),
        cluster_ip=opt_str(spec.get("clusterIP")),
        selector=_labels(spec.get("selector")),
        ports=ports,
    )


def read_network_policy(obj: dict[str, Any]) -> NetworkPolicyState:
    metadata, spec, _ = _meta(obj)
    types = [str(t) for t in as_array(spec.get("policyTypes"))] or ["Ingress"]
    ingress = [
        clip(json.dumps(rule, sort_keys=True, separators=(",", ":")), 300) for rule in as_array(spec.get("ingress"))
    ]
    egress = [
        clip(json.dumps(rule, sort_keys=True, separators=(",", ":")), 300) for rule in as_array(spec.get("egress"))
    ]
    return NetworkPolicyState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        pod_selector=_labels(as_object(spec.get("podSelector")).get("matchLabels")),
        policy_types=types,
        ingress=ingress,
        egress=egress,
        # A policy type with no rules allows nothing in that direction for the pods it selects.
        denies_all_ingress="Ingress" in types and not ingress,
        denies_all_egress="Egress" in types and not egress,
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


def read_hpa(obj: dict[str, Any]) -> HPAState:
    """An ``autoscaling/v2`` HorizontalPodAutoscaler: bounds, replicas, metrics against targets, conditions."""
    metadata, spec, status = _meta(obj)
    ref = as_object(spec.get("scaleTargetRef"))
    targets: dict[str, str] = {}
    for metric in map(as_object, as_array(spec.get("metrics"))):
        resource = as_object(metric.get("resource"))
        target = as_object(resource.get("target"))
        if resource.get("name"):
            value = target.get("averageUtilization")
            targets[str(resource["name"])] = f"{value}%" if value is not None else str(target.get("averageValue"))
    metrics = []
    for metric in map(as_object, as_array(status.get("currentMetrics"))):
        resource = as_object(metric.get("resource"))
        current = as_object(resource.get("current"))
        name = str(resource.get("name"))
        value = current.get("averageUtilization")
        shown = f"{value}%" if value is not None else str(current.get("averageValue"))
        metrics.append(f"{name} {shown} of {targets.get(name, '?')} target")
    for name, wanted in targets.items():
        if not any(m.startswith(f"{name} ") for m in metrics):
            metrics.append(f"{name}: no current value (target {wanted})")
    return HPAState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        target=f"{ref.get('kind')}/{ref.get('name')}" if ref else None,
        min_replicas=opt_int(spec.get("minReplicas")),
        max_replicas=opt_int(spec.get("maxReplicas")),
        current_replicas=opt_int(status.get("currentReplicas")),
        desired_replicas=opt_int(status.get("desiredReplicas")),
        metrics=metrics,
        conditions=[
            f"{c.get('type')}={c.get('status')} ({c.get('reason')})"
            for c in map(as_object, as_array(status.get("conditions")))
        ],
    )


def read_node(obj: dict[str, Any]) -> NodeState:
    """A ``v1.Node``: readiness, pressure conditions, cordon and taints, allocatable resources."""
    metadata, spec, status = _meta(obj)
    conditions = [
        NodeCondition(
            type=opt_str(c.get("type")),
            status=opt_str(c.get("status")),
            reason=opt_str(c.get("reason")),
            message=clip(str(c.get("message") or ""), 200),
            since=parse_rfc3339(c.get("lastTransitionTime")),
        )
        for c in map(as_object, as_array(status.get("conditions")))
    ]
    ready = next((c for c in conditions if c.type == "Ready"), None)
    problems = []
    if ready is None or ready.status != "True":
        problems.append("NotReady" if ready is None or ready.status == "False" else "Ready=Unknown")
    problems.extend(str(c.type) for c in conditions if c.type != "Ready" and c.status == "True")
    unschedulable = bool(spec.get("unschedulable", False))
    if unschedulable:
        problems.append("cordoned")
    return NodeState(
        name=opt_str(metadata.get("name")),
        ready=ready is not None and ready.status == "True",
        problems=problems,
        unschedulable=unschedulable,
        taints=[f"{t.get('key')}:{t.get('effect')}" for t in map(as_object, as_array(spec.get("taints")))],
        allocatable={str(k): str(v) for k, v in as_object(status.get("allocatable")).items()},
        conditions=conditions,
        kubelet_version=opt_str(as_object(status.get("nodeInfo")).get("kubeletVersion")),
        created=parse_rfc3339(metadata.get("creationTimestamp")),
    )


_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([a-zA-Z]*)$")
_SUFFIXES: dict[str, Decimal | int] = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def parse_quantity(text: str) -> Decimal | None:
    """A Kubernetes quantity (``500m``, ``64Gi``, ``20``) as a number, or None when unreadable."""
    match = _QUANTITY.match(text.strip())
    if match is None or match.group(2) not in _SUFFIXES:
        return None
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIXES[match.group(2)])
    except InvalidOperation:
        return None


def read_resource_quota(obj: dict[str, Any]) -> ResourceQuotaState:
    """A ResourceQuota; ``exhausted`` names what has reached its hard limit (new pods needing it are refused)."""
    metadata, spec, status = _meta(obj)
    hard = {str(k): str(v) for k, v in as_object(status.get("hard") or spec.get("hard")).items()}
    used = {str(k): str(v) for k, v in as_object(status.get("used")).items()}
    exhausted = []
    for resource, limit in hard.items():
        limit_value, used_value = parse_quantity(limit), parse_quantity(used.get(resource, "0"))
        if limit_value is not None and used_value is not None and used_value >= limit_value:
            exhausted.append(resource)
    return ResourceQuotaState(
        name=opt_str(metadata.get("name")),
        namespace=opt_str(metadata.get("namespace")),
        hard=hard,
        used=used,
        exhausted=sorted(exhausted),
    )
