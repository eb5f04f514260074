"""Nodes called one at a time with a hand-built `IncidentState` and an `AgentContext` of fakes: each
returns an update (the state it was given is never changed), and every reasoner call's tokens are in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from langgraph.runtime import Runtime

from agents.communication import communicate
from agents.context import AgentContext
from agents.evidence import EvidenceBundle
from agents.investigation import investigate
from agents.reasoners.base import Reasoned, ReasonerContext, ReasonerFailure, TriageFacts
from agents.reasoners.deterministic import DeterministicReasoner
from agents.reasoners.llm import LLMReasoner
from agents.remediation import remediate
from agents.state import DeploymentFact, Diagnosis, Evidence, Usage
from agents.triage import triage
from knowledge.catalog import Service
from tests.agents.conftest import ScriptedChatModel, agent_context, incident, kubernetes_registry


def _runtime(ctx: AgentContext) -> Runtime[AgentContext]:
    return Runtime(context=ctx)


def _update(command: Any) -> dict[str, Any]:
    update = command.update
    assert isinstance(update, dict)
    return update


async def test_triage_puts_the_summary_tokens_and_the_signal_check_in_its_update(tmp_path: Path) -> None:
    model = ScriptedChatModel(prompt_tokens=70, completion_tokens=30)
    ctx = agent_context(tmp_path, reasoner=LLMReasoner(model, structured_output_method="function_calling"))
    state = incident()
    before = state.model_dump()
    update = _update(await triage(state, _runtime(ctx)))
    assert [kind for kind, _, _ in model.reported] == ["summarize"]
    assert update["usage"] == Usage(prompt_tokens=70, completion_tokens=30)
    assert update["signal_confirmed"] is True  # no metrics backend: the alert is trusted
    assert state.model_dump() == before


class FailingAfterSpending:
    """A reasoner whose every answer fails after the model used tokens."""

    name = "flaky"

    async def summarize(self, facts: TriageFacts, ctx: ReasonerContext) -> Reasoned[str]:
        raise ReasonerFailure("the model's summary was empty", usage=Usage(prompt_tokens=500, completion_tokens=1))

    async def diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext) -> Reasoned[Diagnosis]:
        raise ReasonerFailure("no diagnosis after 6 model turns", usage=Usage(prompt_tokens=900, completion_tokens=90))

    async def choose_remediation(self, *args: Any) -> Reasoned[Any]:
        raise ReasonerFailure("unusable", usage=Usage(prompt_tokens=1))

    async def write_update(self, *args: Any, **kwargs: Any) -> Reasoned[str]:
        raise ReasonerFailure("empty", usage=Usage(prompt_tokens=1))


async def test_a_failed_model_attempt_still_counts_and_the_fallback_is_noted(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, reasoner=FailingAfterSpending())  # type: ignore[arg-type]
    update = _update(await triage(incident(), _runtime(ctx)))
    assert update["usage"] == Usage(prompt_tokens=500, completion_tokens=1)
    notes = [t.text for t in update["timeline"] if t.kind == "fallback"]
    assert notes and "flaky reasoner failed to summarize" in notes[0]
    assert update["summary"].startswith("SEV1: api 5xx on api")  # the deterministic summary


def _deployment(**kw: Any) -> DeploymentFact:
    return DeploymentFact(namespace="shop", name="api", current_revision=7, previous_revision=6, replicas=3, **kw)


@pytest.mark.parametrize("category", ["connection_pool", "certificate"])
@respx.mock
async def test_an_llm_diagnosis_of_a_restartable_cause_reaches_the_restart_option(
    tmp_path: Path, category: str
) -> None:
    model = ScriptedChatModel(category=category, prompt_tokens=11, completion_tokens=5)
    reasoner = LLMReasoner(model, structured_output_method="function_calling")
    ctx = agent_context(tmp_path, reasoner=reasoner, registry=kubernetes_registry())
    bundle = EvidenceBundle(
        service="api",
        alert=incident().alert,
        evidence=[
            Evidence(
                id="r0-e1",
                source="loki.query_range",
                query='{app="api"}',
                observation="log pattern new since the onset",
            ),
        ],
    )
    diagnosed = await reasoner.diagnose(bundle, ctx)
    assert diagnosed.answer.category == category  # the LLM's schema offers it

    state = incident(service="api", diagnosis=diagnosed.answer, deployment=_deployment())
    update = _update(await remediate(state, _runtime(ctx)))
    [action] = update["actions"]
    assert action.tool == "kubernetes.rollout_restart"
    assert action.args == {"namespace": "shop", "name": "api"}
    assert update["usage"] == Usage(prompt_tokens=11, completion_tokens=5)  # the LLM chose it
    assert [kind for kind, _, _ in model.reported] == ["diagnose", "choose"]


async def test_scale_is_sized_from_the_inspected_deployment_replicas(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    diagnosis = Diagnosis(root_cause="too much traffic", category="traffic_surge", entity="api", confidence=0.9)
    deployment = _deployment().model_copy(update={"replicas": 4})
    update = _update(
        await remediate(incident(service="api", diagnosis=diagnosis, deployment=deployment), _runtime(ctx))
    )
    [action] = update["actions"]
    assert action.tool == "kubernetes.scale" and action.args["replicas"] == 6
    assert update["usage"] == Usage()  # the deterministic reasoner costs nothing


DEPLOYMENT = {
    "metadata": {"name": "api", "namespace": "shop", "annotations": {"deployment.kubernetes.io/revision": "7"}},
    "spec": {"replicas": 4, "template": {"spec": {"containers": [{"name": "api", "image": "api:v7"}]}}},
    "status": {"readyReplicas": 4},
}
REPLICASETS = {
    "items": [
        {
            "metadata": {
                "name": f"api-{rev}",
                "annotations": {"deployment.kubernetes.io/revision": str(rev)},
                "ownerReferences": [{"kind": "Deployment", "name": "api"}],
            },
            "spec": {
                "replicas": 4 if rev == 7 else 0,
                "template": {"spec": {"containers": [{"name": "api", "image": f"api:v{rev}"}]}},
            },
        }
        for rev in (6, 7)
    ]
}


async def test_investigate_returns_the_inspected_deployment_and_leaves_the_state_alone(tmp_path: Path) -> None:
    service = Service(name="api", tier=1, customer_facing=True, namespace="shop")
    ctx = agent_context(tmp_path, registry=kubernetes_registry(), services=[service])
    earlier = _deployment().model_copy(update={"replicas": 2})
    state = incident(service="api", step="investigate", deployment=earlier)
    before = state.model_dump()
    with respx.mock(base_url="http://k8s.test") as mock:
        mock.get("/apis/apps/v1/namespaces/shop/deployments/api").respond(200, json=DEPLOYMENT)
        mock.get("/apis/apps/v1/namespaces/shop/replicasets").respond(200, json=REPLICASETS)
        mock.get("/api/v1/namespaces/shop/events").respond(200, json={"items": []})
        mock.get("/api/v1/namespaces/shop/configmaps").respond(200, json={"items": []})
        mock.get("/apis/batch/v1/namespaces/shop/jobs").respond(200, json={"items": []})
        mock.get("/api/v1/namespaces/shop/pods").respond(200, json={"items": []})
        update = _update(await investigate(state, _runtime(ctx)))
    deployment = update["deployment"]
    assert isinstance(deployment, DeploymentFact)
    assert (deployment.current_revision, deployment.previous_revision, deployment.previous_image) == (7, 6, "api:v6")
    # Replicas as the first round saw them: a later scale is sized from the service before our actions.
    assert deployment.replicas == 2
    assert update["usage"] == Usage()
    assert state.model_dump() == before


async def test_investigate_records_the_replicas_it_found_on_the_first_round(tmp_path: Path) -> None:
    service = Service(name="api", tier=1, customer_facing=True, namespace="shop")
    ctx = agent_context(tmp_path, registry=kubernetes_registry(), services=[service])
    with respx.mock(base_url="http://k8s.test") as mock:
        mock.get("/apis/apps/v1/namespaces/shop/deployments/api").respond(200, json=DEPLOYMENT)
        mock.get("/apis/apps/v1/namespaces/shop/replicasets").respond(200, json=REPLICASETS)
        mock.get("/api/v1/namespaces/shop/events").respond(200, json={"items": []})
        mock.get("/api/v1/namespaces/shop/configmaps").respond(200, json={"items": []})
        mock.get("/apis/batch/v1/namespaces/shop/jobs").respond(200, json={"items": []})
        mock.get("/api/v1/namespaces/shop/pods").respond(200, json={"items": []})
        update = _update(await investigate(incident(service="api", step="investigate"), _runtime(ctx)))
    assert update["deployment"].replicas == 4


async def test_investigate_counts_a_failed_diagnosis_attempt(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, reasoner=FailingAfterSpending())  # type: ignore[arg-type]
    update = _update(await investigate(incident(service="api", step="investigate"), _runtime(ctx)))
    assert update["usage"] == Usage(prompt_tokens=900, completion_tokens=90)
    assert update["diagnosis"].reasoner == "deterministic"


def test_the_state_sums_usage_and_tokens_used_is_its_total() -> None:
    state = incident(usage=Usage(prompt_tokens=3, completion_tokens=4))
    assert state.tokens_used == 7
    assert state.record()["tokens_used"] == 7
    assert state.record()["usage"] == {"prompt_tokens": 3, "completion_tokens": 4}


async def test_the_deterministic_reasoner_reports_zero_usage(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path)
    reasoned = await DeterministicReasoner().write_update(incident(summary="s"), "opened", "responders", ctx)
    assert reasoned.usage == Usage() and reasoned.answer


@pytest.mark.parametrize(("confirmed", "posts_publicly"), [(True, True), (None, True), (False, False)])
async def test_the_status_page_waits_for_a_confirmed_signal(
    tmp_path: Path, confirmed: bool | None, posts_publicly: bool
) -> None:
    from tools.http import HttpCaller
    from tools.registry import ToolRegistry
    from tools.statuspage import StatuspageAdapter, StatuspageSettings

    base = "https://statuspage.test/v1"
    adapter = StatuspageAdapter(
        "statuspage",
        StatuspageSettings(base_url=base, page_id="pg1abc"),
        HttpCaller(httpx.AsyncClient(base_url=base), instance="statuspage"),
    )
    service = Service(name="api", tier=1, customer_facing=True, statuspage_component="cmp1")
    ctx = agent_context(tmp_path, registry=ToolRegistry({"statuspage": adapter}), services=[service])
    state = incident(
        service="api", severity="SEV1", step="communicate", comms_phase="opened", signal_confirmed=confirmed
    )
    with respx.mock(base_url=base, assert_all_called=False) as mock:
        mock.post("/pages/pg1abc/incidents").respond(201, json={"id": "sp1", "shortlink": "https://stspg.io/x"})
        update = _update(await communicate(state, _runtime(ctx)))
    tools = [a.tool for a in update["actions"]]
    assert ("statuspage.create_incident" in tools) is posts_publicly
    assert update["usage"] == Usage()


async def _rollback_approved(tmp_path: Path) -> tuple[AgentContext, Any]:
    """A rollback from revision 7 to 6 proposed when the Deployment was at 7 with 4 replicas, approved
    (in the state and in the ledger, as the approval gate records it)."""
    from agents.state import ApprovalRecord
    from tests.agents.conftest import NOW
    from tools.actions import hash_args, normalized_args

    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    diagnosis = Diagnosis(root_cause="bad release", category="bad_deploy", entity="api", confidence=0.9, change_id="d7")
    proposed = _update(
        await remediate(
            incident(service="api", diagnosis=diagnosis, deployment=_deployment().model_copy(update={"replicas": 4})),
            _runtime(ctx),
        )
    )
    [action] = proposed["actions"]
    assert action.tool == "kubernetes.rollout_undo" and action.target_state == {"revision": "7", "replicas": "4"}
    ctx.ledger.record_decision(
        incident_id="inc-1", action_id=action.id, tool=action.tool, decision="approved", decided_by="kim",
        args_hash=hash_args(normalized_args(ctx.registry, action.tool, action.args)),
    )  # fmt: skip
    approved = action.model_copy(
        update={"status": "approved", "approval": ApprovalRecord(decision="approved", by="kim", at=NOW)}
    )
    return ctx, incident(service="api", diagnosis=diagnosis, actions=[approved], step="execute")


@pytest.mark.parametrize("revision_now", ["7", "8"])
async def test_an_approved_action_whose_target_changed_is_re_planned_not_run(tmp_path: Path, revision_now: str) -> None:
    from agents.execution import execute

    ctx, state = await _rollback_approved(tmp_path)
    annotations = {"deployment.kubernetes.io/revision": revision_now}
    moved = {
        "metadata": {"name": "api", "namespace": "shop", "annotations": annotations},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "api"}},
            "template": {
                "metadata": {"labels": {"app": "api"}},
                "spec": {"containers": [{"name": "api", "image": "v7"}]},
            },
        },
        "status": {"readyReplicas": 4},
    }
    with respx.mock(base_url="http://k8s.test", assert_all_called=False) as mock:
        mock.get("/apis/apps/v1/namespaces/shop/deployments/api").respond(200, json=moved)
        undo = mock.patch("/apis/apps/v1/namespaces/shop/deployments/api").respond(200, json=moved)
        mock.get(url__regex=r".*/replicasets.*").respond(200, json=REPLICASETS)
        update = _update(await execute(state, _runtime(ctx)))
    [after] = update["actions"]
    if revision_now == "8":
        # Someone shipped revision 8 after the approval: rolling back "to 6" would undo the wrong release.
        assert after.status == "superseded" and not undo.called
        assert update["step"] == "investigate" and "revision 7 -> 8" in after.result_summary
        assert [t.kind for t in update["timeline"]] == ["superseded"]
    else:
        assert after.status == "executed" and undo.called and update["step"] == "verify", after.result_summary
