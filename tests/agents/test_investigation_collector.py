"""The investigation's evidence collector at the tools -> agents seam.

Fake adapters (one per kind) answer with typed payloads, as the real adapters do; a recording
registry keeps what the collector sent. The facts must be built from the payloads' typed values
(datetimes, ints, models) and every call must be made with its input model, not a hand-built dict.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx
import pytest
from pydantic import BaseModel

from agents.context import AgentContext
from agents.investigation import EvidenceCollector
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, IncidentState
from knowledge.catalog import Service, ServiceCatalog
from tools.base import Adapter, AdapterSettings, ExecutionGrant, ToolResult, tool_call
from tools.github import (
    ChangedFile,
    Commit,
    CommitList,
    CompareInput,
    Comparison,
    DeploymentList,
    DeploymentRecord,
    ListCommitsInput,
    ListDeploymentsInput,
    ListReposInput,
    ListWorkflowRunsInput,
    ListWorkflowsInput,
    Workflow,
    WorkflowList,
    WorkflowRun,
    WorkflowRunList,
)
from tools.http import HttpCaller
from tools.kubernetes import (
    ContainerStatus,
    DeploymentRef,
    DeploymentState,
    Event,
    EventList,
    ListEventsInput,
    ListInNamespaceInput,
    ListPodsInput,
    ListReplicaSetsInput,
    Pod,
    PodList,
    ReplicaSet,
    ReplicaSetList,
    Termination,
)
from tools.ledger import ActionLedger
from tools.loki import LogEntry, LogLines, LogQueryResult, LogRangeQuery
from tools.policy import ApprovalPolicy
from tools.prometheus import InstantQuery, QueryResult, RangeQuery, Series
from tools.registry import ToolRegistry
from tools.tempo import EdgeQuery, EdgeStats, TraceEdges

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
ONSET = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
DEPLOYED = datetime(2026, 11, 20, 10, 10, tzinfo=UTC)
MIGRATED = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)
SCALED_DOWN = datetime(2026, 11, 20, 10, 8, tzinfo=UTC)
GOOD_SHA, BAD_SHA = "a" * 40, "b" * 40
SLI = 'sum(rate(http_requests_total{app="orders",code=~"5.."}[5m])) / sum(rate(http_requests_total{app="orders"}[5m]))'


def _ok(adapter: Adapter, call: str, payload: BaseModel, status: Literal["ok", "no_data"] = "ok") -> ToolResult:
    return ToolResult.with_payload(
        payload, tool=adapter.tool_id(call), status=status, query=f"{call}(...)", summary=call
    )


class FakeCluster(Adapter):
    kind: ClassVar[str] = "kubernetes"

    @tool_call(description="pods", result=PodList)
    async def list_pods(self, args: ListPodsInput) -> ToolResult:
        pods = [
            Pod(
                name="orders-1",
                phase="Running",
                ready=False,
                ready_containers="0/1",
                restarts=4,
                reasons=["CrashLoopBackOff", "last terminated: OOMKilled"],
                started_at=DEPLOYED,
                containers=[
                    ContainerStatus(
                        name="orders",
                        image="orders:2",
                        ready=False,
                        restarts=4,
                        last_termination=Termination(reason="OOMKilled", exit_code=137),
                    )
                ],
            ),
            Pod(name="orders-2", phase="Running", ready=True, ready_containers="1/1", restarts=1, started_at=DEPLOYED),
        ]
        return _ok(self, "list_pods", PodList(pods=pods, count=2, more_available=False))

    @tool_call(description="deployment", result=DeploymentState)
    async def get_deployment(self, args: DeploymentRef) -> ToolResult:
        state = DeploymentState(
            name=args.name, namespace=args.namespace, revision=7, replicas=3, images={"orders": "orders:2"}
        )
        return _ok(self, "get_deployment", state)

    @tool_call(description="replicasets", result=ReplicaSetList)
    async def list_replicasets(self, args: ListReplicaSetsInput) -> ToolResult:
        sets = [
            ReplicaSet(name="orders-7", revision=7, images={"orders": "orders:2"}),
            ReplicaSet(name="orders-6", revision=6, images={"orders": "orders:1"}),
            ReplicaSet(name="orders-5", revision=5, images={"orders": "orders:0"}),
            ReplicaSet(name="orders-x", revision=None, images={"orders": "orders:x"}),
        ]
        return _ok(self, "list_replicasets", ReplicaSetList(replicasets=sets, count=4, more_available=False))

    @tool_call(description="events", result=EventList)
    async def list_events(self, args: ListEventsInput) -> ToolResult:
        events = [
            Event(
                reason="ScalingReplicaSet",
                object=f"Deployment/{args.involved_name}",
                message="Scaled down replica set orders-7 to 2 from 6",
                first_seen=SCALED_DOWN,
            ),
            # a rollout's handover (one side at zero) is not a scale change
            Event(
                reason="ScalingReplicaSet",
                object=f"Deployment/{args.involved_name}",
                message="Scaled up replica set orders-7 to 6 from 0",
                first_seen=DEPLOYED,
            ),
        ]
        return _ok(self, "list_events", EventList(events=events, count=2, more_available=False))


class FakeGitHub(Adapter):
    kind: ClassVar[str] = "github"

    @tool_call(description="deployments", result=DeploymentList)
    async def list_deployments(self, args: ListDeploymentsInput) -> ToolResult:
        deployments = [
            DeploymentRecord(
                id=2,
                sha=BAD_SHA,
                environment="production",
                description="orders 2.0: new pricing",
                created_at=DEPLOYED,
                state="success",
            ),
            DeploymentRecord(
                id=1,
                sha=GOOD_SHA,
                environment="production",
                description="orders 1.9",
                created_at=NOW - timedelta(hours=4),
                state="inactive",
            ),
        ]
        return _ok(self, "list_deployments", DeploymentList(deployments=deployments, count=2, has_more=False))

    @tool_call(description="runs", result=WorkflowRunList)
    async def list_workflow_runs(self, args: ListWorkflowRunsInput) -> ToolResult:
        run = WorkflowRun(
            id=9,
            name="db-migrate",
            title="Apply migration 0042 on orders-db",
            sha=BAD_SHA,
            status="completed",
            conclusion="success",
            created_at=MIGRATED - timedelta(minutes=3),
            updated_at=MIGRATED,
        )
        return _ok(self, "list_workflow_runs", WorkflowRunList(runs=[run], returned=1, total_count=1, has_more=False))

    @tool_call(description="workflows", result=WorkflowList)
    async def list_workflows(self, args: ListWorkflowsInput) -> ToolResult:
        workflows = [
            Workflow(id=1, name="deploy", path=".github/workflows/deploy.yml"),
            Workflow(id=2, name="flags-revert", path=".github/workflows/flags-revert.yml"),
            Workflow(id=3, name="db-rollback", path=".github/workflows/db-rollback.yml"),
        ]
        return _ok(self, "list_workflows", WorkflowList(workflows=workflows, count=3))

    @tool_call(description="commits", result=CommitList)
    async def list_commits(self, args: ListCommitsInput) -> ToolResult:
        commits = [Commit(sha=BAD_SHA, message="Price rounding via the new pricing client", date=DEPLOYED)]
        return _ok(self, "list_commits", CommitList(commits=commits, count=1, has_more=False))

    @tool_call(description="compare", result=Comparison)
    async def compare(self, args: CompareInput) -> ToolResult:
        files = [
            ChangedFile(
                filename="src/pricing/client.py", status="modified", additions=3, deletions=1, patch="+round(price, 2)"
            )
        ]
        return _ok(self, "compare", Comparison(status="ahead", ahead_by=1, behind_by=0, total_commits=1, files=files))


class FakeLoki(Adapter):
    kind: ClassVar[str] = "loki"

    @tool_call(description="logs", result=LogQueryResult)
    async def query_range(self, args: LogRangeQuery) -> ToolResult:
        if args.end <= ONSET:  # the window before the onset: healthy lines only
            lines = [(ONSET - timedelta(seconds=30 * i), "GET /orders 200 in 12ms") for i in range(1, 11)]
        else:
            lines = [
                (ONSET + timedelta(seconds=10 * i), f"ERROR pricing client timeout order={i}") for i in range(1, 31)
            ]
        entries = [LogEntry(labels={"app": "orders"}, ts=at, line=line) for at, line in lines]
        payload = LogLines(entries=entries, returned=len(entries), streams=1, limit=args.limit, limit_reached=False)
        return _ok(self, "query_range", LogQueryResult(payload))


class FakePrometheus(Adapter):
    kind: ClassVar[str] = "prometheus"

    @tool_call(description="range", result=QueryResult)
    async def query_range(self, args: RangeQuery) -> ToolResult:
        samples = []
        at = args.start
        while at <= args.end:
            samples.append((at, 0.001 if at < ONSET else 0.2))
            at += timedelta(seconds=args.step)
        series = Series(metric={"app": "orders"}, values=samples)
        return _ok(self, "query_range", QueryResult(resultType="matrix", series=[series]))


class RecordingRegistry(ToolRegistry):
    """A registry that keeps every call's tool id and the arguments exactly as the caller passed them."""

    def __init__(self, adapters: dict[str, Adapter]) -> None:
        super().__init__(adapters)
        self.sent: list[tuple[str, Any]] = []

    async def invoke(
        self,
        tool_id: str,
        args: BaseModel | dict[str, Any],
        *,
        grant: ExecutionGrant | None = None,
        budget: int | None | Literal["default"] = "default",
    ) -> ToolResult:
        self.sent.append((tool_id, args))
        return await super().invoke(tool_id, args, grant=grant, budget=budget)


@pytest.fixture
async def http() -> AsyncIterator[HttpCaller]:
    async with httpx.AsyncClient(base_url="http://fake.test") as client:
        yield HttpCaller(client, instance="fake")


def _registry(http: HttpCaller) -> RecordingRegistry:
    settings = AdapterSettings(base_url="http://fake.test")
    fakes: list[type[Adapter]] = [FakeCluster, FakeGitHub, FakeLoki, FakePrometheus]
    return RecordingRegistry({cls.kind: cls(cls.kind, settings, http) for cls in fakes})


def _collector(tmp_path: Path, registry: ToolRegistry, *, namespace: str = "shop") -> EvidenceCollector:
    service = Service(name="orders", namespace=namespace, repo="acme/orders", logs='{app="orders"}')
    service.sli.error_rate = SLI
    ctx = AgentContext(
        registry=registry,
        ledger=ActionLedger(tmp_path / "ledger.sqlite"),
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(services={"orders": service}),
        reasoner=DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(),
        clock=lambda: NOW,
    )
    alert = Alert(
        fingerprint="f",
        name="HighErrorRate",
        title="orders 5xx",
        service="orders",
        started_at=ONSET + timedelta(minutes=2),
    )
    return EvidenceCollector(IncidentState(id="INC-1", alert=alert, service="orders"), service, ctx)


async def test_every_call_is_made_with_its_input_model(tmp_path: Path, http: HttpCaller) -> None:
    registry = _registry(http)
    await _collector(tmp_path, registry).collect()
    sent = dict(registry.sent)
    expected = {
        "prometheus.query_range": RangeQuery,
        "prometheus.query": InstantQuery,  # the candidates' certificate expiry metrics, one instant query
        "loki.query_range": LogRangeQuery,
        "github.list_deployments": ListDeploymentsInput,
        "github.list_workflow_runs": ListWorkflowRunsInput,
        "github.list_commits": ListCommitsInput,
        "github.compare": CompareInput,
        "github.list_repos": ListReposInput,  # the organisation's repositories the catalog names for nobody
        "kubernetes.list_pods": ListPodsInput,
        "kubernetes.get_deployment": DeploymentRef,
        "kubernetes.list_replicasets": ListReplicaSetsInput,
        "kubernetes.list_events": ListEventsInput,
        # the cluster beyond Deployments (agents/cluster.py): ConfigMap writes and running Jobs (nodes only
        # once pods are seen on some)
        "kubernetes.list_configmaps": ListInNamespaceInput,
        "kubernetes.list_jobs": ListInNamespaceInput,
    }
    assert set(sent) == set(expected)
    for tool, model in expected.items():
        assert isinstance(sent[tool], model), f"{tool} was called with {type(sent[tool]).__name__}"
    pods_args = sent["kubernetes.list_pods"]
    assert isinstance(pods_args, ListPodsInput)
    assert (pods_args.namespace, pods_args.label_selector) == ("shop", "app=orders")


async def test_facts_are_built_from_typed_payloads(tmp_path: Path, http: HttpCaller) -> None:
    bundle = await _collector(tmp_path, _registry(http)).collect()

    assert bundle.primary is not None and bundle.primary.onset == ONSET and bundle.primary.anomalous
    assert bundle.pods is not None
    assert (bundle.pods.total, bundle.pods.ready, bundle.pods.restarts) == (2, 1, 5)
    assert bundle.pods.reasons == ["CrashLoopBackOff", "last terminated: OOMKilled"]

    deployment = bundle.deployment
    assert deployment is not None
    assert (deployment.current_revision, deployment.previous_revision) == (7, 6)
    assert (deployment.current_image, deployment.previous_image) == ("orders:2", "orders:1")

    changes = {c.id: c for c in bundle.changes if not c.kind.startswith("scale")}  # scale: its own test
    # Only the deployment inside the lookback before the onset is a change (the older one is its diff base).
    assert set(changes) == {"deploy-2", "run-9"}
    deploy = changes["deploy-2"]
    assert deploy.at == DEPLOYED and deploy.ref == BAD_SHA
    assert "commit: Price rounding via the new pricing client" in deploy.description
    assert "src/pricing/client.py" in deploy.description  # the compare payload's file, read for the diff
    assert changes["run-9"].kind == "migration" and changes["run-9"].at == MIGRATED

    assert bundle.logs, "the new error template after the onset must be found"
    new = bundle.logs[0]
    assert new.is_new and new.count_after == 30 and new.count_before == 0
    assert "pricing client timeout" in new.example


async def test_an_input_the_model_refuses_is_a_failed_check_not_a_call(tmp_path: Path, http: HttpCaller) -> None:
    registry = _registry(http)
    collector = _collector(tmp_path, registry, namespace="Not_A_DNS_Label")
    assert await collector.pods() is None
    assert not [tool for tool, _ in registry.sent if tool == "kubernetes.list_pods"]
    assert collector.bundle.failures == [
        "pods of orders: invalid arguments for kubernetes.list_pods: namespace: "
        "String should match pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"
    ]
    evidence = collector.bundle.evidence[-1]
    assert evidence.status == "error" and evidence.source == "kubernetes.list_pods"


async def test_a_scale_change_in_the_deployment_events_is_a_change_and_can_be_undone(
    tmp_path: Path, http: HttpCaller
) -> None:
    """Replica-count changes are changes even when no repository records them; a rollout's handover
    (one side at zero) is not one. The replicas before it are kept for the undo."""
    bundle = await _collector(tmp_path, _registry(http)).collect()
    scale = [c for c in bundle.changes if c.kind.startswith("scale")]
    assert [(c.kind, c.service, c.at) for c in scale] == [("scale_down", "orders", SCALED_DOWN)]
    assert bundle.deployment is not None
    assert (bundle.deployment.scaled_from, bundle.deployment.scale_change) == (6, scale[0].id)
    assert bundle.tool_calls > 0


def test_the_request_rate_is_read_from_the_error_ratio_denominator() -> None:
    from agents.investigation import traffic_query

    sli = (
        'sum(rate(http_requests_total{service="x",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="x"}[5m]))'
    )
    assert traffic_query(sli) == 'sum(rate(http_requests_total{service="x"}[5m]))'
    assert traffic_query("sum(rate(a[5m]) / rate(b[5m]))") is None  # the division is not at the top level
    assert traffic_query("avg(errors_ratio)") is None and traffic_query(None) is None
    assert traffic_query('1 - min(success_percent{service="x"}) / 100') is None  # a unit conversion


class WarningCluster(FakeCluster):
    """Warning events of the namespace: one about an orders pod, one about another workload."""

    @tool_call(description="events", result=EventList)
    async def list_events(self, args: ListEventsInput) -> ToolResult:
        if args.event_type != "Warning":
            return _ok(self, "list_events", EventList(events=[], count=0, more_available=False))
        events = [
            Event(
                type="Warning",
                reason="OOMKilling",
                object="Pod/orders-7-x2k9d",
                message="Memory cgroup out of memory: Killed process 4242 (java)",
                count=6,
                last_seen=NOW - timedelta(minutes=3),
            ),
            Event(type="Warning", reason="BackOff", object="Pod/ledger-5-aa", message="Back-off", last_seen=NOW),
            # another workload whose name starts like the lead's
            Event(
                type="Warning", reason="Evicted", object="Pod/orders-api-7d9f8-zz1q2", message="Evicted", last_seen=NOW
            ),
        ]
        return _ok(self, "list_events", EventList(events=events, count=2, more_available=False))


async def test_targeted_checks_read_each_leads_warning_events_and_rule_out_the_quiet_ones(
    tmp_path: Path, http: HttpCaller
) -> None:
    """The hypothesis loop's query: a lead whose pods were OOM-killed gains that as a log line (so
    the oom signature applies); a lead with no warning events is ruled out, citing the query."""
    from agents.reasoners.deterministic import symptom_hypotheses

    settings = AdapterSettings(base_url="http://fake.test")
    fakes: list[type[Adapter]] = [WarningCluster, FakeGitHub, FakeLoki, FakePrometheus]
    registry = RecordingRegistry({cls.kind: cls(cls.kind, settings, http) for cls in fakes})
    collector = _collector(tmp_path, registry)
    collector.ctx.catalog.services["billing"] = Service(name="billing", namespace="shop")
    found, cleared = await collector.targeted_checks(["orders", "billing"])
    assert found == ["orders"]
    [line] = [log for log in collector.bundle.logs if "OOMKilling" in log.template]
    assert line.service == "orders" and line.count_after == 6
    assert [h.category for h in symptom_hypotheses(collector.bundle)] == ["oom"]
    [quiet] = cleared
    assert "billing" in quiet.what and quiet.evidence_ids
    assert collector.bundle.get(quiet.evidence_ids[0]) is not None
    assert not any(w in log.template for log in collector.bundle.logs for w in ("Back-off", "Evicted"))  # others


async def test_a_migration_is_undone_by_the_repositorys_matching_revert_workflow(
    tmp_path: Path, http: HttpCaller
) -> None:
    """A Deployment rollback leaves a schema change in place: the repository's reverting workflow that
    shares most with the one that applied it (db-migrate -> db-rollback, not flags-revert) is offered,
    and chosen over the rollback."""
    from agents.reasoners.deterministic import choose_option
    from agents.remediation import remediation_options
    from agents.state import Diagnosis
    from tests.agents.conftest import agent_context, kubernetes_registry

    collector = _collector(tmp_path, _registry(http))
    bundle = await collector.collect()
    migration = next(c for c in bundle.changes if c.id == "run-9")
    diagnosis = Diagnosis(
        root_cause="migration 0042", category="migration", entity="orders", confidence=0.8, change_id=migration.id
    )
    undo = await collector.undo_workflow(diagnosis)
    assert undo is not None and (undo.repo, undo.workflow) == ("acme/orders", "db-rollback.yml")
    assert bundle.get(undo.evidence_id) is not None
    code = diagnosis.model_copy(update={"change_id": "deploy-2", "category": "bad_deploy"})
    assert await collector.undo_workflow(code) is None  # a release is rolled back, not reverted by a job
    ctx = agent_context(tmp_path / "ctx", registry=kubernetes_registry())
    assert ctx.registry.first("github") is None  # no GitHub configured: no dispatch offered
    assert [o.id for o in remediation_options(diagnosis, bundle.deployment, ctx, undo)] == ["rollback"]
    options = remediation_options(diagnosis, bundle.deployment, collector.ctx, undo)
    assert options[0].args == {"repo": "acme/orders", "workflow": "db-rollback.yml", "ref": "main"}
    assert choose_option(diagnosis, options).option_id == "revert_workflow"


def test_candidates_are_the_neighbourhood_then_shared_infrastructure(tmp_path: Path, http: HttpCaller) -> None:
    collector = _collector(tmp_path, _registry(http))
    services = collector.ctx.catalog.services
    services["orders"].dependencies = ["orders-db"]
    services.update(
        {
            "orders-db": Service(name="orders-db"),
            "batch": Service(name="batch", dependencies=["orders-db"]),  # shares the database
            "resolver": Service(name="resolver"),  # no edges: shared infrastructure
            "elsewhere": Service(name="elsewhere", dependencies=["other-db"]),
            "other-db": Service(name="other-db"),
        }
    )
    assert collector.candidates() == {"orders": 0, "orders-db": 1, "batch": 2, "resolver": 4}


def test_a_wide_first_ring_is_read_whole(tmp_path: Path, http: HttpCaller) -> None:
    """A gateway calling forty services directly (a large system's front end): every one is a
    candidate, so whether the origin is read cannot depend on where its name sorts."""
    collector = _collector(tmp_path, _registry(http))
    services = collector.ctx.catalog.services
    callees = [f"svc-{i:02d}" for i in range(40)]
    services["orders"].dependencies = callees
    services.update({name: Service(name=name, dependencies=["store"]) for name in callees})
    services["store"] = Service(name="store")
    found = collector.candidates()
    assert set(callees) <= set(found) and found["store"] == 2


class RolledBackCluster(FakeCluster):
    """orders was rolled back to the template of revision 6 (now revision 8): its ReplicaSet is older
    than revision 7's, the release that was rolled back."""

    @tool_call(description="deployment", result=DeploymentState)
    async def get_deployment(self, args: DeploymentRef) -> ToolResult:
        state = DeploymentState(name="orders", namespace="shop", revision=8, replicas=3, images={"orders": "orders:1"})
        return _ok(self, "get_deployment", state)

    @tool_call(description="replicasets", result=ReplicaSetList)
    async def list_replicasets(self, args: ListReplicaSetsInput) -> ToolResult:
        sets = [
            ReplicaSet(name="orders-8", revision=8, images={"orders": "orders:1"}, created=NOW - timedelta(days=3)),
            ReplicaSet(name="orders-7", revision=7, images={"orders": "orders:2"}, created=DEPLOYED),
        ]
        return _ok(self, "list_replicasets", ReplicaSetList(replicasets=sets, count=2, more_available=False))


async def test_a_release_rolled_back_as_bad_is_never_redeployed(tmp_path: Path, http: HttpCaller) -> None:
    from agents.remediation import remediation_options
    from agents.state import Diagnosis
    from tests.agents.conftest import agent_context, kubernetes_registry

    settings = AdapterSettings(base_url="http://fake.test")
    fakes: list[type[Adapter]] = [RolledBackCluster, FakeGitHub, FakeLoki, FakePrometheus]
    registry = RecordingRegistry({cls.kind: cls(cls.kind, settings, http) for cls in fakes})
    deployment = await _collector(tmp_path, registry).deployment()
    assert deployment is not None and deployment.previous_revision == 7 and deployment.rolled_back
    diagnosis = Diagnosis(root_cause="bad release", category="bad_deploy", entity="orders", confidence=0.8)
    ctx = agent_context(tmp_path / "ctx", registry=kubernetes_registry())
    assert remediation_options(diagnosis, deployment, ctx) == []
    fresh = deployment.model_copy(update={"rolled_back": False})
    assert [o.tool for o in remediation_options(diagnosis, fresh, ctx)] == ["kubernetes.rollout_undo"]


async def test_prefetching_the_calls_changes_no_evidence(tmp_path: Path, http: HttpCaller) -> None:
    """The candidates' calls made concurrently up front must yield the very evidence (ids, order,
    observations) the checks produce one call at a time."""
    concurrent_collector = _collector(tmp_path / "a", _registry(http))
    planned = len(concurrent_collector.plan({"orders": 0}, ONSET))
    concurrent = await concurrent_collector.collect()
    assert planned > 5 and len(concurrent_collector.prefetched) < planned  # the checks read what was fetched
    sequential_collector = _collector(tmp_path / "b", _registry(http))

    async def no_prefetch(planned: object) -> None:
        return None

    sequential_collector.prefetch = no_prefetch  # type: ignore[method-assign]  # the one-at-a-time path
    sequential = await sequential_collector.collect()
    assert [(e.id, e.source, e.observation) for e in concurrent.evidence] == [
        (e.id, e.source, e.observation) for e in sequential.evidence
    ]
    assert concurrent.changes == sequential.changes


class FakeTempo(Adapter):
    kind: ClassVar[str] = "tempo"

    @tool_call(description="edges", result=TraceEdges)
    async def edges(self, args: EdgeQuery) -> ToolResult:
        failing = args.start >= ONSET  # the window since the onset: orders' calls to payments fail
        edge = EdgeStats(caller="orders", callee="payments", calls=50, errors=40 if failing else 0, p50_ms=20,
                         p95_ms=900 if failing else 40, max_ms=1200)  # fmt: skip
        payload = TraceEdges(edges=[edge], slowest_operations=[], failing_operations=[], traces_read=50)
        return _ok(self, "edges", payload)


async def test_without_client_metrics_the_trace_backends_edges_are_read_before_and_since_the_onset(
    tmp_path: Path, http: HttpCaller
) -> None:
    registry = _registry(http)
    registry.adapters["tempo"] = FakeTempo("tempo", AdapterSettings(base_url="http://fake.test"), http)
    collector = _collector(tmp_path, registry)
    edges = await collector.call_edges(["orders"], ONSET)
    windows = [args for tool, args in registry.sent if tool == "tempo.edges"]
    assert [w.end <= ONSET for w in windows] == [True, False]  # one window before the onset, one since
    [edge] = edges
    assert (edge.caller, edge.callee, edge.before, edge.now, edge.source) == ("orders", "payments", 0.0, 0.8, "tempo")
    assert edge.failing and edge.evidence_id
    assert "orders -> payments: 80.0% of calls failing now" in collector.bundle.get(edge.evidence_id).observation  # type: ignore[union-attr]
