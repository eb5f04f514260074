"""Remediation: turn a diagnosis into one concrete action with risk, blast radius and undo.

Code decides which actions are applicable to a diagnosis (`remediation_options`); the reasoner only
chooses among them (or declines). The approval policy, reading the call's safety metadata, decides
whether a human must approve; the model's opinion never enters that decision.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command

from agents.context import AgentContext
from agents.reasoners.base import FD_LIMIT, RemediationChoice, RemediationOption
from agents.reasoning import ask, reasoner_for
from agents.state import (
    CHANGE_CATEGORIES,
    ClusterTarget,
    ConfigRevert,
    DeploymentFact,
    Diagnosis,
    IncidentState,
    JobTarget,
    ProposedAction,
    Risk,
    RootCauseCategory,
    StatefulSetTarget,
    UndoWorkflow,
)
from agents.target_state import expected_state
from agents.timeline import note
from knowledge.catalog import DATASTORE_KINDS

# Which root causes each kind of action addresses (a change is rolled back: `CHANGE_CATEGORIES`).
# A category in none of them gets no automated action and the incident goes to the on-call.
RESTART_CATEGORIES: frozenset[RootCauseCategory] = frozenset(
    {"crash", "memory_leak", "oom", "certificate", "connection_pool", "failover"}
)
SCALE_CATEGORIES: frozenset[RootCauseCategory] = frozenset(
    {"traffic_surge", "saturation", "resource_exhaustion", "queue_backlog"}
)
# Exhaustion by a leak of the process's own (descriptors it never closes): fresh pods start from zero,
# more pods leak too. A restart is the fix, scaling is not.
LEAK_WORD = re.compile(r"\bleak", re.I)


def cluster_options(diagnosis: Diagnosis, target: ClusterTarget | None, ctx: AgentContext) -> list[RemediationOption]:
    """The fix for a root cause that lives outside a Deployment: write a ConfigMap back to the revision
    before the diagnosed write, or stop the running Job behind the diagnosis (its CronJob, if any, keeps
    its schedule: suspending it is the on-call's call). A node is evidence, not yet a target: no
    diagnosis names one, so no cordon is offered."""
    k8s = ctx.registry.first("kubernetes")
    if k8s is None or target is None:
        return []
    if isinstance(target, ConfigRevert):
        keys = ", ".join(target.changed_keys[:5]) or "its data"
        return [
            RemediationOption(
                id="revert_config",
                tool=k8s.tool_id("revert_configmap"),
                args={
                    "namespace": target.namespace,
                    "name": target.name,
                    "data": dict(target.data),
                    **({"resource_version": target.resource_version} if target.resource_version else {}),
                },
                title=(
                    f"Revert configmap/{target.name} in {target.namespace} from revision {target.from_revision} "
                    f"to {target.to_revision} ({keys})"
                ),
                rationale=f"It undoes {target.change_id or f'revision {target.from_revision}'}, the write behind the "
                f"diagnosis: {diagnosis.root_cause}",
                risk="medium",
                addresses=diagnosis.entity,
            )
        ]
    if isinstance(target, StatefulSetTarget):
        return [
            RemediationOption(
                id="scale_back",
                tool=k8s.tool_id("scale_statefulset"),
                args={"namespace": target.namespace, "name": target.name, "replicas": target.scaled_from},
                title=f"Scale statefulset/{target.name} in {target.namespace} back from {target.replicas} to "
                f"{target.scaled_from} replicas",
                rationale=f"It undoes {target.change_id}, which lowered the replicas behind the diagnosis: "
                f"{diagnosis.root_cause}",
                risk="medium",
                addresses=diagnosis.entity,
            )
        ]
    if isinstance(target, JobTarget):
        schedule = f"; its CronJob {target.owner} keeps its schedule" if target.owner else ""
        options = []
        recurring = not target.running or target.runs > 1
        if target.owner and (recurring or (diagnosis.change_id and diagnosis.change_id != target.change_id)):
            # The fault is in what the CronJob runs (its release), not in this one run, or its runs
            # recur (a schedule firing again and again): every scheduled run repeats it, so the schedule
            # is what stops it (resumed once the release or the schedule is fixed).
            options.append(
                RemediationOption(
                    id="suspend_cronjob",
                    tool=k8s.tool_id("suspend_cronjob"),
                    args={"namespace": target.namespace, "name": target.owner},
                    title=f"Suspend cronjob/{target.owner} in {target.namespace} (no new runs until resumed)",
                    rationale=f"Every run of {target.owner} repeats the diagnosed fault ({diagnosis.root_cause}); "
                    + (
                        f"stopping only job/{target.name} lasts until the next scheduled run."
                        if target.running
                        else f"{target.runs} runs started in the window and each finished: only the schedule stops the next."
                    ),
                    risk="medium",
                    addresses=diagnosis.entity,
                )
            )
        if not target.running:
            return options  # its runs finished: there is no Job to stop, only the schedule
        return options + [
            RemediationOption(
                id="stop_job",
                tool=k8s.tool_id("scale_job"),
                args={"namespace": target.namespace, "name": target.name, "parallelism": 0},
                title=f"Stop job/{target.name} in {target.namespace} (parallelism {target.parallelism} to 0){schedule}",
                rationale=f"Its run is the diagnosed load or fault: {diagnosis.root_cause}. The Job is kept, so it can "
                "be resumed or inspected.",
                risk="medium",
                addresses=diagnosis.entity,
            )
        ]
    return []


def remediation_options(
    diagnosis: Diagnosis,
    deployment: DeploymentFact | None,
    ctx: AgentContext,
    undo: UndoWorkflow | None = None,
    target: ClusterTarget | None = None,
) -> list[RemediationOption]:
    """The actions that address this diagnosis, from its category and the deployment the
    investigation inspected (its revisions for a rollback, its replicas for scaling), the workflow
    that reverts the diagnosed change when a rollback cannot (``undo``), and the ConfigMap, Job or
    node the root cause lives in (``target``)."""
    if diagnosis.inconclusive:
        return []
    options: list[RemediationOption] = cluster_options(diagnosis, target, ctx)
    github = ctx.registry.first("github")
    if undo is not None and github is not None and (diagnosis.change_id or undo.runbook):
        options.append(
            RemediationOption(
                id="runbook_workflow" if undo.runbook else "revert_workflow",
                tool=github.tool_id("workflow_dispatch"),
                args={"repo": undo.repo, "workflow": undo.workflow, "ref": undo.ref}
                | ({"inputs": dict(undo.inputs)} if undo.inputs else {}),
                title=f"Run workflow {undo.workflow} of {undo.repo} on {undo.ref}"
                + (f" with {', '.join(f'{k}={v}' for k, v in undo.inputs.items())}" if undo.inputs else ""),
                rationale=f"{undo.reason}. The diagnosis: {diagnosis.root_cause}",
                risk="medium",
                addresses=diagnosis.entity,
            )
        )
    k8s = ctx.registry.first("kubernetes")
    if k8s is None or deployment is None or not deployment.name:
        return options
    namespace, name = deployment.namespace, deployment.name
    scale_undo = bool(diagnosis.change_id) and diagnosis.change_id == deployment.scale_change
    if (
        (diagnosis.category in CHANGE_CATEGORIES or diagnosis.change_id)
        and deployment.previous_revision
        and not scale_undo
        and not deployment.rolled_back  # never redeploy the release that was rolled back as bad
    ):
        prev, cur = deployment.previous_revision, deployment.current_revision
        options.append(
            RemediationOption(
                id="rollback",
                tool=k8s.tool_id("rollout_undo"),
                args={"namespace": namespace, "name": name, "to_revision": prev},
                title=f"Roll back deployment/{name} in {namespace} from revision {cur} to {prev}",
                rationale=f"The diagnosis blames a change that shipped with revision {cur}: {diagnosis.root_cause}",
                risk="medium",
                addresses=diagnosis.entity,
            )
        )
    if diagnosis.change_id and diagnosis.change_id == deployment.scale_change and deployment.scaled_from is not None:
        options.append(
            RemediationOption(
                id="rollback",
                tool=k8s.tool_id("scale"),
                args={"namespace": namespace, "name": name, "replicas": deployment.scaled_from},
                title=f"Scale deployment/{name} in {namespace} back from {deployment.replicas} to {deployment.scaled_from} replicas",
                rationale=f"Undoes {diagnosis.change_id}, the scale change behind the diagnosis: {diagnosis.root_cause}",
                risk="medium",
                addresses=diagnosis.entity,
            )
        )
    elif (
        (diagnosis.category in RESTART_CATEGORIES or diagnosis.stalled or leaking(diagnosis))
        and not (diagnosis.category == "crash" and deployment.crash_looping)
        and not (diagnosis.category == "connection_pool" and _datastore(diagnosis.entity, ctx))
    ):
        # (A datastore whose connections its clients exhausted is not restarted: that drops every
        # client's connections at once and they all come back; the load that filled it is the fix.)
        # A stalled consumer (dead connections, a deadlock) is unstuck by fresh pods; with its own release
        # behind the stall the rollback above is the fix and this only buys time.
        # A crash loop is Kubernetes restarting the pods already: one more restart cannot fix a crash
        # that is not a release's (a poison message, corrupt state); that goes to a human.
        options.append(
            RemediationOption(
                id="restart",
                tool=k8s.tool_id("rollout_restart"),
                args={"namespace": namespace, "name": name},
                title=f"Restart deployment/{name} in {namespace}",
                rationale="Replaces unhealthy pods with fresh ones of the same spec.",
                risk="low",
                addresses=diagnosis.entity,
            )
        )
    # More replicas of a consumer that stalls stall too (or wait behind the stuck ones' consumer slots).
    # A datastore's replicas are not capacity: a second copy of a database's Deployment is a second
    # writer on its data, and a cache's or broker's copies do not share its contents.
    stateful = _datastore(diagnosis.entity, ctx)
    if (
        diagnosis.category in SCALE_CATEGORIES
        and deployment.replicas
        and not scale_undo
        and not diagnosis.stalled
        and not stateful
        and not leaking(diagnosis)
    ):
        replicas = deployment.replicas
        wanted = max(replicas + 1, round(replicas * 1.5))
        options.append(
            RemediationOption(
                id="scale",
                tool=k8s.tool_id("scale"),
                args={"namespace": namespace, "name": name, "replicas": wanted},
                title=f"Scale deployment/{name} in {namespace} from {replicas} to {wanted} replicas",
                rationale="Adds capacity for the load the service is saturated by.",
                risk="low",
                addresses=diagnosis.entity,
            )
        )
    return options


def _datastore(name: str, ctx: AgentContext) -> bool:
    entry = ctx.catalog.get(name)
    return entry is not None and entry.kind in DATASTORE_KINDS


def leaking(diagnosis: Diagnosis) -> bool:
    """A resource exhausted by the process's own leak, by the diagnosis's words."""
    text = diagnosis.root_cause
    return diagnosis.category == "resource_exhaustion" and bool(FD_LIMIT.search(text) or LEAK_WORD.search(text))


def already_tried(option: RemediationOption, state: IncidentState) -> bool:
    """An action of the same kind on the same target already ran: never repeat it. After a rollback,
    "the previous revision" is the release that was just rolled back, so a second rollback would put
    the suspect change back."""
    target = (option.tool, option.args.get("namespace"), option.args.get("name"))
    return any(
        (a.tool, a.args.get("namespace"), a.args.get("name")) == target
        for a in state.actions
        if a.kind == "remediation" and a.status in ("executed", "verified", "failed")
    )


def describe_blast_radius(service: str, declared: str, ctx: AgentContext) -> str:
    entry = ctx.catalog.get(service)
    dependents = ctx.catalog.dependents_of(service)
    parts = [f"{declared.replace('_', ' ')}: {service}"]
    if entry is not None:
        parts.append(f"tier {entry.tier}{', customer-facing' if entry.customer_facing else ''}")
    parts.append(f"callers affected: {', '.join(dependents) if dependents else 'none'}")
    return "; ".join(parts)


async def remediate(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    ctx = runtime.context
    assert state.diagnosis is not None  # the supervisor routes here only with a diagnosis
    diagnosis = state.diagnosis
    options = [
        o
        for o in remediation_options(diagnosis, state.deployment, ctx, state.undo_workflow, state.cluster_target)
        if not already_tried(o, state)
    ]
    entries = []
    if not options:
        why = (
            f"inconclusive diagnosis (best lead: {diagnosis.entity or 'none'})"
            if diagnosis.inconclusive
            else f"no safe automated action applies to category {diagnosis.category!r}"
        )
        entries.append(note(ctx, "remediation", "no_action", f"{why}; handing over to the on-call"))
        return Command(
            goto="supervisor",
            update={
                "step": "communicate",
                "comms_phase": "escalated",
                "after_comms": "done",
                "status": "escalated",
                "timeline": entries,
            },
        )
    reasoned, fallback = await ask(
        ctx,
        reasoner_for(state, ctx),
        lambda r: r.choose_remediation(diagnosis, options, ctx),
        actor="remediation",
        task="choose",
        instead="the deterministic choice",
    )
    entries += fallback
    choice = reasoned.answer
    option = next((o for o in options if o.id == choice.option_id), None)
    if option is None:
        entries.append(note(ctx, "remediation", "declined", f"no option chosen: {choice.rationale}"))
        return Command(
            goto="supervisor",
            update={
                "step": "communicate",
                "comms_phase": "escalated",
                "after_comms": "done",
                "status": "escalated",
                "timeline": entries,
                "usage": reasoned.usage,
            },
        )
    _, spec = ctx.registry.resolve(option.tool)
    decision = ctx.policy.decide(spec.safety)
    risk: Risk = "high" if spec.safety.destructive else option.risk
    action_id = f"{option.id}-{state.investigation_rounds}"
    action = ProposedAction(
        id=action_id,
        tool=option.tool,
        args=dict(option.args),
        title=option.title,
        rationale=f"{option.rationale} Chosen because: {choice.rationale}",
        risk=risk,
        blast_radius=describe_blast_radius(state.service, spec.safety.blast_radius, ctx),
        undo=spec.safety.undo or "not reversible",
        requires_approval=decision.tier != "auto",
        policy_reason=decision.reason,
        target_state=expected_state(option.tool, option.args, state.deployment, state.cluster_target),
    )
    entries.append(
        note(
            ctx,
            "remediation",
            "proposed",
            f"proposed {action.title} (risk {risk}); policy: {decision.tier} ({decision.reason})",
        )
    )
    if decision.tier == "forbid":
        entries.append(
            note(
                ctx,
                "remediation",
                "suggestion",
                "policy forbids running this action; it stays a suggestion for the on-call",
            )
        )
        return Command(
            goto="supervisor",
            update={
                "actions": [*state.actions, action],
                "step": "communicate",
                "comms_phase": "escalated",
                "after_comms": "done",
                "status": "escalated",
                "timeline": entries,
                "usage": reasoned.usage,
            },
        )
    update: dict[str, Any] = {
        "actions": [*state.actions, action],
        "step": "communicate",
        "comms_phase": "identified",
        "after_comms": "approve" if action.requires_approval else "execute",
        "timeline": entries,
        "usage": reasoned.usage,
    }
    if action.requires_approval:
        update["status"] = "awaiting_approval"
    return Command(goto="supervisor", update=update)


__all__ = ["RemediationChoice", "remediate", "remediation_options"]
