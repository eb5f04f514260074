"""An approval is bound to the state it was given for.

When remediation proposes an action on a Deployment or a Job, it records what it saw of the target
(the Deployment's revision and replicas, the Job's parallelism). Before the approved action runs, the
target is read again: if someone rolled out, scaled or stopped it in the meantime, the approval was
given for a world that no longer exists (rolling back "to revision 31" after revision 32 shipped
would undo the wrong release), so the action is superseded and the incident re-investigated, which
proposes a fresh action for the state as it is now, asking for approval again.

A ConfigMap revert carries the resourceVersion it read, so the API server itself refuses a stale
write (409); workflow dispatches and CronJob suspensions have no state to compare.
"""

from __future__ import annotations

from agents.context import AgentContext
from agents.state import ClusterTarget, DeploymentFact, JobTarget, ProposedAction
from tools.kubernetes import DeploymentRef, DeploymentState, JobState, ObjectRef

DEPLOYMENT_CALLS = frozenset({"rollout_undo", "rollout_restart", "scale"})
JOB_CALLS = frozenset({"scale_job"})


def _call(tool: str) -> str:
    return tool.rsplit(".", 1)[-1]


def expected_state(
    tool: str, args: dict[str, object], deployment: DeploymentFact | None, target: ClusterTarget | None
) -> dict[str, str]:
    """What the proposal saw of the object the action changes; empty when there is nothing to bind."""
    call = _call(tool)
    if call in DEPLOYMENT_CALLS and deployment is not None:
        if (deployment.namespace, deployment.name) != (args.get("namespace"), args.get("name")):
            return {}
        seen = {"revision": deployment.current_revision, "replicas": deployment.replicas}
        return {k: str(v) for k, v in seen.items() if v is not None}
    if call in JOB_CALLS and isinstance(target, JobTarget) and target.parallelism is not None:
        if (target.namespace, target.name) == (args.get("namespace"), args.get("name")):
            return {"parallelism": str(target.parallelism)}
    return {}


async def current_state(action: ProposedAction, ctx: AgentContext) -> dict[str, str] | None:
    """The same fields read now; None when they cannot be read (the execution then decides as before)."""
    instance = action.tool.rsplit(".", 1)[0]
    namespace, name = action.args.get("namespace"), action.args.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        return None
    call = _call(action.tool)
    if call in DEPLOYMENT_CALLS:
        ref = DeploymentRef(namespace=namespace, name=name)
        result = await ctx.registry.invoke(f"{instance}.get_deployment", ref, budget=None)
        if not result.ok:
            return None
        deployment = result.payload(DeploymentState)
        now = {"revision": deployment.revision, "replicas": deployment.replicas}
        return {k: str(v) for k, v in now.items() if v is not None}
    if call in JOB_CALLS:
        result = await ctx.registry.invoke(
            f"{instance}.get_job", ObjectRef(namespace=namespace, name=name), budget=None
        )
        if not result.ok:
            return None
        job = result.payload(JobState)
        return {"parallelism": str(job.parallelism)} if job.parallelism is not None else {}
    return None


def drift(expected: dict[str, str], now: dict[str, str] | None) -> list[str]:
    """What changed between the proposal and now ("revision 31 -> 32"); empty when nothing did or
    nothing can be compared."""
    if not expected or now is None:
        return []
    return [f"{key} {value} -> {now[key]}" for key, value in expected.items() if key in now and now[key] != value]
