"""The cluster beyond Deployments, read for one investigation: the changes and the fix targets that
live in ConfigMaps, Jobs and nodes.

- **ConfigMaps** of the candidates' namespaces written in the window, each linked to the candidates
  that read it (their pods mount it or take env from it, or it carries their ``app`` label): a change
  of that service, with the keys that changed as its diff, and the revision before it (from the
  ConfigMap's history) as what a revert writes back. Most configuration faults live there, not in
  an image.
- **Jobs** of the candidates' namespaces running now, each linked to the candidate it runs (its
  name or its CronJob's is the candidate's workload): a workload that started, recorded as a change
  (a batch started by hand or by a schedule loads what it touches), and what stopping it acts on.
- **Nodes** with a problem condition (DiskPressure, MemoryPressure, PIDPressure, NotReady) under
  the candidates' pods: what the workloads on them share.

Nothing here reads a service's name beyond matching objects to the catalog's namespaces and
workload names.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from pydantic import BaseModel

from agents.analytics.changes import GLOBAL_COMPONENT, Change
from agents.context import AgentContext
from agents.evidence import ComponentFacts, EvidenceBundle, PodFact
from agents.state import ConfigRevert, JobTarget, NodeTarget
from knowledge.catalog import Service
from tools.base import ToolResult
from tools.kubernetes import (
    ConfigMapList,
    ConfigMapRevisionList,
    JobList,
    JobState,
    ListInNamespaceInput,
    ListNodesInput,
    NodeList,
    NodeRef,
    ObjectRef,
    PodList,
)

CHANGE_SKEW = timedelta(minutes=1)
MAX_DIFF = 1200  # characters of changed values shown in a ConfigMap change's diff


class Checks(Protocol):
    """What the cluster reads need of the investigation's collector."""

    ctx: AgentContext
    bundle: EvidenceBundle
    start: datetime
    now: datetime
    cluster_changes: list[tuple[Change, str]]
    node_list: ToolResult | None  # the nodes as first read this round: read once, by whoever needs them first

    async def call(self, kind: str, call: str, args: Callable[[], BaseModel]) -> ToolResult | None: ...

    def add(self, result: ToolResult, observation: str, data: dict[str, object] | None = None) -> str: ...

    def failed(self, what: str, result: ToolResult) -> None: ...


def _pods_of(bundle: EvidenceBundle, name: str) -> PodFact | None:
    if name == bundle.service:
        return bundle.pods
    facts: ComponentFacts | None = bundle.components.get(name)
    return facts.pods if facts is not None else None


async def _listed_nodes(checks: Checks) -> ToolResult | None:
    """The cluster's nodes, read once per round (`co_located` and `_nodes` both need them)."""
    if checks.node_list is None:
        checks.node_list = await checks.call("kubernetes", "list_nodes", ListNodesInput)
    return checks.node_list


def planned_calls(services: list[Service]) -> list[tuple[str, str, Callable[[], BaseModel]]]:
    """The list calls `read_cluster` makes, for the collector to prefetch concurrently."""
    planned: list[tuple[str, str, Callable[[], BaseModel]]] = []  # nodes only once pods are known to run on some
    for namespace in sorted({s.namespace for s in services if s.kind != "external"}):
        planned += [
            ("kubernetes", "list_configmaps", partial(ListInNamespaceInput, namespace=namespace)),
            ("kubernetes", "list_jobs", partial(ListInNamespaceInput, namespace=namespace)),
        ]
    return planned


async def read_cluster(checks: Checks, services: list[Service], onset: datetime) -> None:
    """Read ConfigMaps, Jobs and nodes around ``services`` (the alerting one and the candidates) into
    the bundle, and their changes into ``checks.cluster_changes``."""
    if checks.ctx.registry.first("kubernetes") is None:
        return
    running = [s for s in services if s.kind != "external"]
    for namespace in sorted({s.namespace for s in running}):
        here = [s for s in running if s.namespace == namespace]
        await _configmaps(checks, namespace, here, onset)
        await _jobs(checks, namespace, here, onset)
    await _nodes(checks, running)


async def co_located(checks: Checks, pods: PodFact | None, known: dict[str, int]) -> list[str]:
    """Catalog services not yet among the candidates whose pods share a problem node (pressure,
    NotReady) with the alerting service's: whatever its dependencies, what runs beside it on a
    starved node is a suspect (a Job filling the disk, a DaemonSet eating the memory)."""
    if pods is None or not pods.nodes or checks.ctx.registry.first("kubernetes") is None:
        return []
    result = await _listed_nodes(checks)
    if result is None or not result.ok:
        return []
    troubled = [
        n.name
        for n in result.payload(NodeList).nodes
        if n.name in pods.nodes and any(p != "cordoned" for p in n.problems)
    ]
    by_workload = {(s.namespace, s.deployment_name): name for name, s in checks.ctx.catalog.services.items()}
    found: list[str] = []
    for node in sorted(n for n in troubled if n):
        listed = await checks.call("kubernetes", "list_node_pods", partial(NodeRef, name=node))
        if listed is None or not listed.ok:
            continue
        names = sorted(
            {
                by_workload[(p.namespace or "", p.labels.get("app", ""))]
                for p in listed.payload(PodList).pods
                if (p.namespace or "", p.labels.get("app", "")) in by_workload
            }
            - set(known)
        )
        if names:
            checks.add(listed, f"on node {node}, beside {checks.bundle.service}: pods of {', '.join(names)}")
        found += [n for n in names if n not in found]
    return found


async def _namespace_list(checks: Checks, call: str, namespace: str, what: str) -> ToolResult | None:
    """One namespaced list call; a failure is recorded as a failed check and read as nothing."""
    result = await checks.call("kubernetes", call, partial(ListInNamespaceInput, namespace=namespace))
    if result is not None and result.status == "error":
        checks.failed(f"{what} in {namespace}", result)
        return None
    return result


def _image_name(image: str) -> str:
    """The repository's last segment of an image reference: ``ghcr.io/acme/backfill:0.3.1`` ->
    ``backfill`` (a digest or a registry port is no part of the name)."""
    path = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return path.split(":", 1)[0]


def _named_for(configmap: str, workload: str) -> bool:
    """The ConfigMap is named after the workload, as charts and operators name them (``coredns``,
    ``coredns-config``, ``coredns-custom``): that workload's configuration, read or not."""
    return configmap == workload or configmap.startswith(f"{workload}-")


async def _configmaps(checks: Checks, namespace: str, services: list[Service], onset: datetime) -> None:
    result = await _namespace_list(checks, "list_configmaps", namespace, "configmaps")
    if result is None:
        return
    for configmap in result.payload(ConfigMapList).configmaps if result.ok else []:
        written, name = configmap.last_written, configmap.name
        if name is None or written is None or written > onset + CHANGE_SKEW:
            continue
        recent = written >= checks.start
        readers = [
            s.name
            for s in services
            if configmap.labels.get("app") == s.deployment_name
            or _named_for(name, s.deployment_name)
            or name in ((_pods_of(checks.bundle, s.name) or PodFact(total=0, ready=0, restarts=0)).configmaps)
        ]
        if not readers:
            if namespace != checks.bundle.service_namespace or not recent:
                continue
            # Nobody says they read it (no pod reference, no app label), but it changed in the alerting
            # service's namespace just before: a namespace-wide change (a shared CA bundle, shared
            # settings), ranked as touching every component alike.
            readers = [GLOBAL_COMPONENT]
        history = await checks.call(
            "kubernetes", "list_configmap_revisions", partial(ObjectRef, namespace=namespace, name=name)
        )
        revisions = history.payload(ConfigMapRevisionList).revisions if history is not None and history.ok else []
        current = next(
            (r for r in reversed(revisions) if r.written is not None and r.written <= onset + CHANGE_SKEW), None
        )
        earlier = [r for r in revisions if current is not None and r.revision < current.revision]
        previous = earlier[-1] if earlier else None
        changed = sorted(
            k
            for k in {*(current.data if current else {}), *(previous.data if previous else {})}
            if previous is not None and current is not None and current.data.get(k) != previous.data.get(k)
        )
        diff = "\n".join(
            f"{k}: {previous.data.get(k, '(absent)')!s} -> {current.data.get(k, '(removed)')!s}"
            for k in changed
            if previous is not None and current is not None
        )[:MAX_DIFF]
        # The revision before this write, as a revert would write it back (not when a value was clipped).
        revert = (
            ConfigRevert(
                change_id="",
                service=checks.bundle.service,
                namespace=namespace,
                name=name,
                from_revision=current.revision,
                to_revision=previous.revision,
                data=previous.data,
                resource_version=configmap.resource_version,
                changed_keys=changed,
                introduced=sorted({current.data[k] for k in changed if current.data.get(k)}),
                written=written,
            )
            if current is not None and previous is not None and not previous.truncated
            else None
        )
        for reader in readers:
            service = reader if reader != GLOBAL_COMPONENT else checks.bundle.service
            if not recent:
                # Written before the window: not a change of this incident by its timing, but a slow
                # failure (a leak, a backlog) can start long after the write that caused it. Kept as a
                # revert the diagnosis may use when its errors name a value this write introduced.
                if revert is not None and changed:
                    checks.bundle.config_reverts.append(revert.model_copy(update={"service": service}))
                continue
            change = Change(
                id=f"configmap-{name}-{current.revision if current else configmap.resource_version}",
                kind="config",
                component=reader,
                time=written,
                description=(
                    f"configmap {namespace}/{name} written at {written:%H:%M} UTC"
                    + (" (no workload names it as read)" if reader == GLOBAL_COMPONENT else "")
                    + (
                        f" (revision {current.revision}; keys changed: {', '.join(changed)})"
                        if current and changed
                        else ""
                    )
                ),
                diff=diff,
            )
            evidence_id = checks.add(
                history if history is not None and history.ok else result,
                f"{change.description}"
                + (f"; read by {reader}" if reader != GLOBAL_COMPONENT else "")
                + (f": {diff[:300]}" if diff else ""),
                {"change": change.id},
            )
            checks.cluster_changes.append((change, evidence_id))
            if revert is not None:
                checks.bundle.config_reverts.append(
                    revert.model_copy(update={"change_id": change.id, "service": service, "evidence_id": evidence_id})
                )


def _job_service(job: JobState, services: list[Service]) -> Service | None:
    """The candidate a Job belongs to: its CronJob's, or named after the workload (a run started by
    hand: ``backfill-0511``), or running the service's image (a Job named anything, ``kubectl create
    job`` with the service's image); the owner first, then the longest name (``media-backfill`` over
    ``media``)."""
    owner = _owner(job)
    images = {_image_name(image) for image in job.images.values()}
    name = job.name or ""
    return max(
        (
            s
            for s in services
            if s.deployment_name in {name, owner}
            or _named_for(name, s.deployment_name)
            or images & {s.deployment_name, s.name}
        ),
        key=lambda s: (
            s.deployment_name in {name, owner},
            _named_for(name, s.deployment_name),
            len(s.deployment_name),
        ),
        default=None,
    )


def _owner(job: JobState) -> str | None:
    return job.owner.split("/", 1)[1] if job.owner and "/" in job.owner else None


async def _jobs(checks: Checks, namespace: str, services: list[Service], onset: datetime) -> None:
    result = await _namespace_list(checks, "list_jobs", namespace, "jobs")
    if result is None:
        return
    jobs = [j for j in result.payload(JobList).jobs if j.name is not None] if result.ok else []
    running = {_owner(j) for j in jobs if j.status == "active"} - {None}
    finished: dict[tuple[str, str], list[JobState]] = {}
    for job in jobs:
        service = _job_service(job, services)
        if service is None:
            continue
        owner = _owner(job)
        if job.status != "active":
            # A CronJob's runs that already finished: each one short, together load or a flush that
            # recurs (a schedule firing every minute). Read as one change when they started in the window.
            started = job.started
            if owner and owner not in running and started is not None and checks.start <= started:
                finished.setdefault((service.name, owner), []).append(job)
            continue
        _running_job(checks, result, namespace, service, job, owner, onset)
    for (name, owner), runs in sorted(finished.items()):
        service = next(s for s in services if s.name == name)
        _finished_runs(checks, result, namespace, service, owner, runs, onset)


def _running_job(
    checks: Checks,
    result: ToolResult,
    namespace: str,
    service: Service,
    job: JobState,
    owner: str | None,
    onset: datetime,
) -> None:
    pods = _pods_of(checks.bundle, service.name)
    started = job.started
    who = "by its CronJob's schedule" if job.started_by == "schedule" else "by hand" if job.started_by else ""
    text = f"job {namespace}/{job.name} of {service.name} running since {started:%H:%M} UTC" if started else ""
    text = text or f"job {namespace}/{job.name} of {service.name} running"
    text += f" (started {who})" if who else ""
    text += f", {job.active} pods active" + (f" on nodes {', '.join(pods.nodes)}" if pods and pods.nodes else "")
    change_id = ""
    evidence_id = checks.add(result, text, {"job": job.name})
    if started is not None and checks.start <= started <= onset + CHANGE_SKEW:
        # A workload that started is load that appeared: read like a scale-up of its service.
        change = Change(
            id=f"scale-up-job-{job.name}",
            kind="infrastructure",
            component=service.name,
            time=started,
            description=text,
        )
        checks.cluster_changes.append((change, evidence_id))
        change_id = change.id
    checks.bundle.jobs.append(
        JobTarget(
            service=service.name,
            namespace=namespace,
            name=job.name or "",
            owner=owner,
            started=started,
            started_by=job.started_by,
            parallelism=job.parallelism,
            nodes=list(pods.nodes) if pods else [],
            change_id=change_id,
            evidence_id=evidence_id,
        )
    )


RECENT_RUN = timedelta(minutes=5)  # a single finished run counts when it ended this close to the onset


def _finished_runs(
    checks: Checks,
    result: ToolResult,
    namespace: str,
    service: Service,
    owner: str,
    runs: list[JobState],
    onset: datetime,
) -> None:
    """A CronJob whose runs in the window all finished: several runs (a schedule firing again and
    again), or one that ended around the onset, are one change starting with the first of them."""
    runs = sorted(runs, key=lambda j: j.started or onset)
    first, last = runs[0], runs[-1]
    ended = last.completed or last.started
    if first.started is None or first.started > onset + CHANGE_SKEW:
        return  # runs that began after the onset did not start it
    if len(runs) < 2 and (ended is None or ended < onset - RECENT_RUN):
        return
    took = [
        (j.completed - j.started).total_seconds() for j in runs if j.completed is not None and j.started is not None
    ]
    each = f", each finished in about {sorted(took)[len(took) // 2]:.0f} s" if took else ""
    last_start = last.started or first.started
    text = (
        f"cronjob {namespace}/{owner} of {service.name} ran {len(runs)} times between {first.started:%H:%M} and "
        f"{last_start:%H:%M} UTC{each}"
        if len(runs) > 1
        else f"cronjob {namespace}/{owner} of {service.name} ran at {first.started:%H:%M} UTC{each}"
    )
    evidence_id = checks.add(result, text, {"cronjob": owner, "runs": len(runs)})
    change = Change(
        id=f"runs-{namespace}-{owner}",
        kind="infrastructure",
        component=service.name,
        time=first.started,
        description=text,
    )
    checks.cluster_changes.append((change, evidence_id))
    checks.bundle.jobs.append(
        JobTarget(
            service=service.name,
            namespace=namespace,
            name=last.name or "",
            owner=owner,
            started=first.started,
            started_by="schedule",
            parallelism=last.parallelism,
            change_id=change.id,
            evidence_id=evidence_id,
            running=False,
            runs=len(runs),
        )
    )


async def _nodes(checks: Checks, services: list[Service]) -> None:
    where: dict[str, list[str]] = {}
    for service in services:
        pods = _pods_of(checks.bundle, service.name)
        for node_name in pods.nodes if pods else []:
            where.setdefault(node_name, []).append(service.name)
    if not where:
        return
    result = await _listed_nodes(checks)
    if result is None or result.status == "error":
        if result is not None:
            checks.failed("nodes", result)
        return
    nodes = result.payload(NodeList).nodes if result.ok else []
    cordoned = sorted(n.name for n in nodes if n.unschedulable and n.name)
    if cordoned:
        # Nodes taken out of scheduling: a drain, an upgrade or a pool rotation is under way; what it
        # evicts waits for room elsewhere (read by the quiet diagnosis: planned maintenance).
        checks.bundle.cordoned = cordoned
        checks.bundle.cordoned_evidence_id = checks.add(
            result, f"nodes cordoned (unschedulable): {', '.join(cordoned)}", {"cordoned": len(cordoned)}
        )
    for node in nodes:
        problems = [p for p in node.problems if p != "cordoned"]
        if node.name is None or node.name not in where or not problems:
            continue
        # NotReady is the Ready condition being False; the pressures are conditions of their own name.
        types = {*problems, *(("Ready",) if "NotReady" in problems else ())}
        since = min((c.since for c in node.conditions if c.since is not None and c.type in types), default=None)
        messages = "; ".join(c.message for c in node.conditions if c.type in types and c.message)
        text = (
            f"node {node.name}: {', '.join(problems)}"
            + (f" since {since:%H:%M} UTC" if since else "")
            + (f" ({messages[:200]})" if messages else "")
            + f"; pods of {', '.join(sorted(where[node.name]))} run there"
        )
        checks.bundle.nodes.append(
            NodeTarget(
                name=node.name,
                problems=problems,
                since=since,
                cordoned=node.unschedulable,
                services=sorted(where[node.name]),
                evidence_id=checks.add(result, text, {"node": node.name}),
            )
        )
