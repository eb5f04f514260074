"""Reading the Kubernetes API's JSON into the adapter's result models (`tools.kubernetes.models`).

Every reader is lenient field by field, as the API objects are large and partly optional: a missing
or oddly typed field becomes None (or its zero value), never an exception. Only an object that is not
an object at all fails the read, which the adapter reports as a malformed answer.
"""

from __future__ import annotations

from typing import Any

import httpx

from tools.kubernetes.models import (
    ContainerStatus,
    DeploymentCondition,
    DeploymentState,
    Event,
    Pod,
    ReplicaSet,
    Termination,
)
from tools.wire import clip, json_field, opt_int, opt_str, parse_rfc3339

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
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
    )


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
