"""A flag raised in steps through a flags repository's workflow: the repository is read though its last
push came after the onset, the step before the onset is the change, the later steps are recorded with
what the alerting SLI did across each, and the fix is the same workflow with the share set back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from pydantic import BaseModel

from agents.context import AgentContext
from agents.evidence import SignalSummary
from agents.investigation import EvidenceCollector
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, Diagnosis, IncidentState
from knowledge.catalog import Service, ServiceCatalog
from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.github import (
    Commit,
    CommitList,
    DeploymentList,
    GetWorkflowInput,
    ListCommitsInput,
    ListDeploymentsInput,
    ListReposInput,
    ListWorkflowRunsInput,
    ListWorkflowsInput,
    Repository,
    RepositoryList,
    Workflow,
    WorkflowDefinition,
    WorkflowInputSpec,
    WorkflowList,
    WorkflowRun,
    WorkflowRunList,
)
from tools.http import HttpCaller
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ONSET = NOW - timedelta(minutes=60)
FLAGS = "acme/flags"
SHA = {5: "5" * 40, 25: "2" * 40, 50: "0" * 40}
STEP_AT = {5: ONSET - timedelta(minutes=2), 25: ONSET + timedelta(minutes=25), 50: ONSET + timedelta(minutes=45)}


def _ok(adapter: Adapter, call: str, payload: BaseModel) -> ToolResult:
    return ToolResult.with_payload(payload, tool=adapter.tool_id(call), status="ok", query=call, summary=call)


class FlagsGitHub(Adapter):
    """The service's own repository is quiet; the flags repository holds the set-flag runs and commits."""

    kind: ClassVar[str] = "github"

    @tool_call(description="repos", result=RepositoryList)
    async def list_repos(self, args: ListReposInput) -> ToolResult:
        # Last pushed by the latest step, well after the onset.
        repos = [Repository(full_name=FLAGS, pushed_at=STEP_AT[50] - timedelta(minutes=1))]
        return _ok(self, "list_repos", RepositoryList(owner=args.owner, repos=repos, count=1, has_more=False))

    @tool_call(description="deployments", result=DeploymentList)
    async def list_deployments(self, args: ListDeploymentsInput) -> ToolResult:
        return _ok(self, "list_deployments", DeploymentList(deployments=[], count=0, has_more=False))

    @tool_call(description="runs", result=WorkflowRunList)
    async def list_workflow_runs(self, args: ListWorkflowRunsInput) -> ToolResult:
        runs = [
            WorkflowRun(
                id=share,
                name="set-flag",
                title=f"set-flag grouped-legs percentage={share}",
                sha=SHA[share],
                conclusion="success",
                created_at=at - timedelta(minutes=1),
                updated_at=at,
            )
            for share, at in STEP_AT.items()
        ]
        if args.repo != FLAGS:
            runs = []
        runs = [r for r in runs if args.created_before is None or (r.created_at and r.created_at < args.created_before)]
        return _ok(self, "list_workflow_runs", WorkflowRunList(runs=runs, returned=len(runs), has_more=False))

    @tool_call(description="commits", result=CommitList)
    async def list_commits(self, args: ListCommitsInput) -> ToolResult:
        commits = [Commit(sha=SHA[5], message="grouped-legs: 0% -> 5% (set-flag)", date=STEP_AT[5])]
        found = commits if args.repo == FLAGS else []
        return _ok(self, "list_commits", CommitList(commits=found, count=len(found), has_more=False))

    @tool_call(description="workflows", result=WorkflowList)
    async def list_workflows(self, args: ListWorkflowsInput) -> ToolResult:
        workflows = [Workflow(id=1, name="set-flag", path=".github/workflows/set-flag.yml")]
        return _ok(self, "list_workflows", WorkflowList(workflows=workflows, count=1))

    @tool_call(description="workflow file", result=WorkflowDefinition)
    async def get_workflow(self, args: GetWorkflowInput) -> ToolResult:
        definition = WorkflowDefinition(
            repo=args.repo,
            path=f".github/workflows/{args.workflow}",
            dispatchable=True,
            inputs=[
                WorkflowInputSpec(name="flag", description="Flag key", required=True),
                WorkflowInputSpec(name="percentage", description="Share of users (0-100)", required=True),
            ],
        )
        return _ok(self, "get_workflow", definition)


@pytest.fixture
async def http() -> AsyncIterator[HttpCaller]:
    async with httpx.AsyncClient(base_url="http://fake.test") as client:
        yield HttpCaller(client, instance="fake")


def _collector(tmp_path: Path, http: HttpCaller) -> EvidenceCollector:
    service = Service(name="trips", namespace="travel", repo="acme/trips")
    ctx = AgentContext(
        registry=ToolRegistry({"github": FlagsGitHub("github", AdapterSettings(base_url="http://fake.test"), http)}),
        ledger=ActionLedger(tmp_path / "ledger.sqlite"),
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(services={"trips": service}),
        reasoner=DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(),
        clock=lambda: NOW,
    )
    alert = Alert(fingerprint="f", name="TripsErrors", title="trips 5xx", service="trips", started_at=NOW)
    collector = EvidenceCollector(IncidentState(id="INC-1", alert=alert, service="trips"), service, ctx)
    # The error ratio in stairs: 0.2% before the first step, then up with each one.
    times = [collector.start + timedelta(minutes=i) for i in range(int((NOW - collector.start).total_seconds() // 60))]
    level = {
        t: 0.002 + sum(0.03 * (s / 25) for s, at in STEP_AT.items() if t >= at + timedelta(minutes=2)) for t in times
    }
    collector.bundle.primary = SignalSummary(
        service="trips", query="q", onset=ONSET, anomalous=True, times=times, values=[level[t] for t in times]
    )
    return collector


async def test_a_flag_step_in_a_repository_pushed_after_the_onset_is_the_change(
    tmp_path: Path, http: HttpCaller
) -> None:
    collector = _collector(tmp_path, http)
    changes = await collector.changes({"trips": 0}, ONSET, [])
    [step] = [c for c in changes if c.repo == FLAGS]
    assert step.kind == "feature_flag" and step.service == "trips" and step.touches_all
    assert step.rollout is not None and (step.rollout.subject, step.rollout.before, step.rollout.after) == (
        "grouped-legs",
        0.0,
        5.0,
    )
    # The later steps are not changes (they came after the onset) but the record says the rollout went on.
    assert "went on: 5% -> 25%" in step.description and "25% -> 50%" in step.description
    assert "the signal rising" in step.description
    assert any("went on" in e.observation for e in collector.bundle.evidence)


async def test_the_steps_workflow_is_dispatched_with_the_share_before_the_step(
    tmp_path: Path, http: HttpCaller
) -> None:
    collector = _collector(tmp_path, http)
    collector.bundle.changes = await collector.changes({"trips": 0}, ONSET, [])
    [step] = [c for c in collector.bundle.changes if c.repo == FLAGS]
    diagnosis = Diagnosis(
        root_cause="the grouped-legs flag", category="feature_flag", entity="trips", confidence=0.7, change_id=step.id
    )
    undo = await collector.undo_workflow(diagnosis)
    assert undo is not None
    assert (undo.repo, undo.workflow, undo.inputs) == (
        FLAGS,
        "set-flag.yml",
        {"flag": "grouped-legs", "percentage": "0"},
    )
    assert collector.bundle.get(undo.evidence_id) is not None
    # A change that records no rollout step gets no set-flag dispatch: nothing says what to set back.
    collector.bundle.changes = [step.model_copy(update={"rollout": None})]
    assert await collector.undo_workflow(diagnosis) is None
