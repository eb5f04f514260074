"""Investigation: gather evidence through the tools, then ask the reasoner for a diagnosis.

The checks, each recorded as citable `Evidence` (tool, exact query, what was observed):
the alerting SLI and its onset; every candidate of the blast radius (callers and callees of the
alerting service within three hops, both ways, then shared infrastructure the catalog describes
without edges; at most `MAX_CANDIDATES`) with its SLIs (error ratio, p99 latency, saturation; the
alerting service's request rate too), its pods and their nodes, its new or spiking log templates,
its Deployment's revisions, rollouts and scale changes; the changes of every candidate's repository
(deploys, workflow runs such as migrations, commits that change replicas, configuration or flags)
before the onset, ranked by the change correlator; and the service doc, runbooks and similar past
incidents from the knowledge store. The candidates' calls are made concurrently up front and read
in a fixed order, so the evidence is the same however the answers interleave. When the diagnosis
stays inconclusive, targeted checks (each lead's warning events) run for at most `MAX_CHECK_ROUNDS`
rounds; when it blames a change a rollback cannot undo, the repository's reverting workflow is
looked up. A check that fails is recorded as such and the rest go on.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, ValidationError

from agents import build_up, cluster
from agents.alert_source import alert_expression, exporter_of, metric_selectors
from agents.analytics.anomaly import Onset, detect_onset
from agents.analytics.changes import GLOBAL_COMPONENT, Change, ChangeKind, rank_changes
from agents.analytics.logs import mine_patterns
from agents.analytics.metrics import MetricKind
from agents.build_up import changed_lines
from agents.call_edges import EDGE_COUNT_METRICS, EdgeFact, edge_from_rates
from agents.call_edges import SETTLE as SETTLE_EDGES
from agents.context import AgentContext
from agents.edge_latency import edges_from_series, served_signals
from agents.evidence import (
    AlertSource,
    CertificateFact,
    ChangeFact,
    ComponentFacts,
    DeploymentFact,
    EvidenceBundle,
    KnowledgeFact,
    LogFact,
    PodFact,
    ProviderFact,
    SignalSummary,
)
from agents.gate import apply_evidence_gate
from agents.gauges import GAUGE_SELECTOR_EXCLUDE, GaugeMove, gauge_move
from agents.humanize import per_second as _rate
from agents.reasoners.base import COUNTER_LIMIT, FAILURE_LINE
from agents.reasoners.deterministic import CONFIG_MECHANISMS
from agents.reasoning import ask, reasoner_for
from agents.rollout import RolloutStep, continued, rollout_step, step_before
from agents.series import first_series
from agents.state import (
    QUIET_CATEGORIES,
    ClusterTarget,
    Diagnosis,
    Evidence,
    Hypothesis,
    IncidentState,
    RuledOut,
    StatefulSetTarget,
    TimelineEntry,
    UndoWorkflow,
)
from agents.timeline import note
from agents.workflow_inputs import MIGRATION_ID, FillFacts, fill_inputs, share_input
from knowledge.catalog import Service
from tools.base import ToolErrorInfo, ToolResult
from tools.github import (
    CommitList,
    CompareInput,
    Comparison,
    DeploymentList,
    GetWorkflowInput,
    ListCommitsInput,
    ListDeploymentsInput,
    ListReposInput,
    ListWorkflowRunsInput,
    ListWorkflowsInput,
    RepositoryList,
    Workflow,
    WorkflowDefinition,
    WorkflowList,
    WorkflowRun,
    WorkflowRunList,
)
from tools.invoke import describe_validation_error
from tools.kubernetes import (
    DeploymentRef,
    DeploymentState,
    Event,
    EventList,
    ListEventsInput,
    ListPodsInput,
    ListReplicaSetsInput,
    ObjectRef,
    PodList,
    ReplicaSet,
    ReplicaSetList,
    StatefulSetState,
)
from tools.loki import LogEntry, LogLines, LogRangeQuery
from tools.prometheus import InstantQuery, QueryResult, RangeQuery, Series
from tools.provider_status import ProviderSummary
from tools.provider_status import SummaryInput as ProviderSummaryInput
from tools.tempo import EdgeQuery, EdgeStats, TraceEdges

LOG_WINDOW_MINUTES = 10
LOG_LIMIT = 2000
MIN_RISE = 0.01  # an error ratio must rise by at least one percentage point to matter
SignalName = Literal["error_rate", "latency_p99", "saturation", "traffic"]
SIGNAL_LABEL = {
    "error_rate": "error ratio",
    "latency_p99": "p99 latency",
    "saturation": "saturation",
    "traffic": "request rate",
}
SIGNALS: tuple[SignalName, ...] = ("error_rate", "latency_p99", "saturation")
SIGNAL_KIND: dict[SignalName, MetricKind] = {
    "error_rate": "error_rate",
    "latency_p99": "latency",
    "saturation": "saturation",
    "traffic": "traffic",
}
# Metric names that report a certificate's expiry: cert-manager's, the blackbox exporter's, x509
# exporters', applications' own gauges.
CERT_EXPIRY_METRICS = ".*(cert|ssl|x509|tls).*(not_?after|expir).*"
EPOCH_LIKE = 1e9  # a value above this is a Unix timestamp, below it seconds left
SLOW_BURN_BASELINE = timedelta(minutes=30)  # the reference of a primary SLI whose move began before the last hour
EPISODE_GAP = timedelta(minutes=10)  # a first onset this long before the alert's start may be an earlier episode's
EPISODE_CALM_STEPS = 3  # ... when the series came back for this many steps in a row before the alert
MAX_CANDIDATES = 60  # components checked besides the alerting one, nearest first: bounds the tool calls
MAX_HOPS = 3
REPLICA_EDIT = re.compile(
    r"(replicas|replicaCount|replica_count|replica count)\D{0,12}?(\d+)\s*(?:->|→|to)\s*(\d+)", re.I
)
# "6 -> 3 replicas", "from 6 to 3 members": a count changed, said the other way round.
REPLICAS_AFTER = re.compile(r"\b(\d+)\s*(?:->|→|to)\s*(\d+)\s*(?:replicas|members|instances)\b", re.I)
CLIENT_SIDE_CATEGORIES = {"failover"}
# The kubelet's words for a container it kills because its liveness probe failed.
PROBE_KILL = re.compile(r"liveness probe failed|failed liveness probe", re.I)
UNDONE_BY_WORKFLOW = {"migration", "feature_flag"}
REVERT_WORDS = re.compile(r"rollback|roll-back|revert|undo|\bdown\b|restore", re.I)
WORDS = re.compile(r"[a-z0-9]+")
# How long before the alerting SLI's onset a candidate's own onset may come: a dependency often
# degrades well before its callers alert (a filling disk, a growing backlog, a delayed failure).
DEPENDENCY_LEAD = timedelta(minutes=30)
CANDIDATE_LOG_LEAD = timedelta(minutes=5)  # a candidate's logs are split this long before the onset
MAX_OUTSIDE_REPOS = 4  # repositories outside the catalog read for changes, most recently pushed first
MAX_CHECK_ROUNDS = 2  # targeted-check rounds before a diagnosis is left inconclusive
CHANGE_SKEW = timedelta(minutes=1)  # a change logged just after the onset (clocks, rate windows) still counts
SCALED = re.compile(r"Scaled (?:up|down) replica set (\S+) to (\d+) from (\d+)")
LATENCY_WORDS = re.compile(r"latenc|slow|duration|p9\d|response time")
# An alert about work that stopped (a consumer that stalls without errors): its SLI is the throughput.
STALL_WORDS = re.compile(
    r"stall|stopped|throughput|not (consuming|processing)|fewer than|nothing (is )?(consumed|processed|sent)"
    r"|no (messages|events|jobs) (consumed|processed)|below \S+ of (the )?usual"
    # a consumer falling behind what it reads: its work rate is what moved
    r"|\blagg?ing\b|\bbehind\b"
)
STALL_FLOOR = 0.5  # traffic at or below half its baseline, and still there, is a stall
STALL_LOOKBACK = timedelta(hours=24)  # how old a stalled service's current release may be and still be suspect
ERROR_WORDS = re.compile(r"error|5xx|fail")
NUMBER = re.compile(r"[0-9.]+(e[+-]?[0-9]+)?")
FLAG_WORDS = re.compile(
    r"feature.?flag|\bflags?\b|\bFF_|toggle|rollout percentage|enable .* for (all|\d+%)", re.IGNORECASE
)
CONFIG_WORDS = re.compile(
    r"config|configmap|\.env\b|\.ya?ml\b|\.toml\b|setting|timeout|endpoint|_URL\b|env var|\blimits?\b", re.IGNORECASE
)


def classify_change(text: str) -> ChangeKind:
    """What a deploy really changed, from its description, commit message and diff (in that priority:
    a migration, a feature flag, a configuration change, else code)."""
    if MIGRATION_WORDS.search(text):
        return "migration"
    if FLAG_WORDS.search(text):
        return "feature_flag"
    code_files = [line for line in text.splitlines() if re.search(r"\.(py|go|java|js|ts|rb|rs|kt|scala|cs)\b", line)]
    if CONFIG_WORDS.search(text) and not code_files:
        return "config"
    return "deploy"


MIGRATION_WORDS = re.compile(r"migrat|schema|alter table|rename column", re.IGNORECASE)


class EvidenceCollector:
    """Runs the checks for one investigation round and builds the `EvidenceBundle`."""

    def __init__(self, state: IncidentState, service: Service, ctx: AgentContext) -> None:
        self.state = state
        self.service = service
        self.ctx = ctx
        self.round = state.investigation_rounds
        self.now = ctx.clock()
        self.start = self.now - timedelta(minutes=ctx.settings.lookback_minutes)
        self.bundle = EvidenceBundle(service=service.name, service_namespace=service.namespace, alert=state.alert)
        self.entries: list[TimelineEntry] = []
        self.recurrence: str | None = None
        self.calls = 0
        self.prefetched: dict[tuple[str, str], ToolResult] = {}
        # Changes seen outside the repositories (Kubernetes rollouts and scale changes), with their evidence.
        self.cluster_changes: list[tuple[Change, str]] = []
        self.node_list: ToolResult | None = None  # the cluster's nodes, once read (agents/cluster.py)
        self.replicaset_created: dict[str, dict[str, datetime]] = {}  # service -> ReplicaSet -> created
        self.runs: dict[str, WorkflowRun] = {}  # change id -> the workflow run it is
        self.listings: dict[str, ToolResult | None] = {}  # organisation -> its list_repos answer
        self.events_read: dict[str, tuple[ToolResult | None, list[Event]]] = {}  # service -> its Warning events
        self.gauge_series: list[Series] = []  # every gauge series of the candidates, as `gauges` read them
        self.later_steps: dict[str, list[tuple[datetime, RolloutStep]]] = {}  # repo -> rollout steps after the onset
        self.run_lists: dict[str, ToolResult] = {}  # repo -> its list_workflow_runs answer

    def add(self, result: ToolResult, observation: str, data: dict[str, Any] | None = None) -> str:
        evidence = Evidence(
            id=f"r{self.round}-e{len(self.bundle.evidence) + 1}",
            source=result.tool,
            query=result.query,
            observation=observation,
            window=(result.window.start, result.window.end) if result.window else None,
            status="ok" if result.status == "ok" else "no_data" if result.status == "no_data" else "error",
            at=self.now,
            data=data or {},
        )
        self.bundle.evidence.append(evidence)
        return evidence.id

    def failed(self, what: str, result: ToolResult) -> None:
        self.bundle.failures.append(f"{what}: {result.summary}")
        self.add(result, f"could not check {what}: {result.summary}")

    async def call(
        self, kind: str, call: str, args: Callable[[], BaseModel], *, instance: str | None = None
    ) -> ToolResult | None:
        """Run ``call`` on the first instance of ``kind`` with the input model ``args`` builds.

        ``args`` builds the model (``partial(ListPodsInput, namespace=..., label_selector=...)``: mypy
        checks the fields) so that a value the model refuses (a catalog namespace that is not a DNS
        label, an empty time window) becomes an error result, as the invoker reports an invalid
        argument, and the check is recorded as failed instead of ending the investigation.
        None when no instance of ``kind`` is configured (or, with ``instance``, no instance of that name).
        """
        adapter = self.ctx.registry.adapters.get(instance) if instance else self.ctx.registry.first(kind)
        if adapter is None or adapter.kind != kind:
            which = f"no {kind} instance {instance!r}" if instance else f"no {kind} instance"
            self.bundle.failures.append(f"{which} configured: skipped {call}")
            return None
        tool_id = adapter.tool_id(call)
        try:
            model = args()
        except ValidationError as exc:
            message = f"invalid arguments for {tool_id}: {describe_validation_error(exc)}"
            return ToolResult(
                tool=tool_id,
                status="error",
                query=tool_id,
                summary=message,
                error=ToolErrorInfo(kind="input", message=message),
            )
        prefetched = self.prefetched.pop((tool_id, model.model_dump_json()), None)
        if prefetched is not None:
            return prefetched
        # Code reads the whole result; the output budget is for what a model sees.
        self.calls += 1
        return await self.ctx.registry.invoke(tool_id, model, budget=None)

    async def prefetch(self, planned: list[tuple[str, str, Callable[[], BaseModel]]]) -> None:
        """Make the calls the checks are about to make, concurrently; each check then reads its
        answer through `call` in its own order, so evidence ids and conclusions stay the same as
        with one call at a time (only faster). A call the plan did not foresee is simply made then."""
        jobs: dict[tuple[str, str], tuple[str, BaseModel]] = {}
        for kind, call, args in planned:
            adapter = self.ctx.registry.first(kind)
            if adapter is None:
                continue
            tool_id = adapter.tool_id(call)
            try:
                model = args()
            except ValidationError:
                continue  # `call` reports it when the check makes it
            jobs.setdefault((tool_id, model.model_dump_json()), (tool_id, model))
        results = await asyncio.gather(
            *(self.ctx.registry.invoke(tool_id, model, budget=None) for tool_id, model in jobs.values())
        )
        self.calls += len(jobs)
        self.prefetched.update(zip(jobs, results, strict=True))

    def plan(self, related: dict[str, int], onset: datetime) -> list[tuple[str, str, Callable[[], BaseModel]]]:
        """The calls `collect` makes after the alerting SLI: every candidate's SLIs, pods, logs,
        Deployment, ReplicaSets, events, and its repository's deployments, runs and commits."""
        planned: list[tuple[str, str, Callable[[], BaseModel]]] = []
        for name in related:
            service = self.ctx.catalog.get(name)
            if service is None:
                continue
            signals: tuple[SignalName, ...] = (*SIGNALS, "traffic") if name == self.service.name else SIGNALS
            for signal in signals:
                primary = self.bundle.primary
                if name == self.service.name and primary is not None and primary.signal == signal:
                    continue  # already read
                query = traffic_query(service.sli.error_rate) if signal == "traffic" else getattr(service.sli, signal)
                if query:
                    planned.append(
                        (
                            "prometheus",
                            "query_range",
                            partial(RangeQuery, query=query, start=self.start, end=self.now, step=60),
                        )
                    )
            if service.kind != "external":
                ns, deployment = service.namespace, service.deployment_name
                planned += [
                    (
                        "kubernetes",
                        "list_pods",
                        partial(ListPodsInput, namespace=ns, label_selector=f"app={deployment}"),
                    ),
                    ("kubernetes", "get_deployment", partial(DeploymentRef, namespace=ns, name=deployment)),
                    (
                        "kubernetes",
                        "list_replicasets",
                        partial(ListReplicaSetsInput, namespace=ns, label_selector=f"app={deployment}"),
                    ),
                    (
                        "kubernetes",
                        "list_events",
                        partial(ListEventsInput, namespace=ns, involved_kind="Deployment", involved_name=deployment),
                    ),
                ]
                if service.logs:
                    split = self.log_split(onset, service)
                    planned += [("loki", "query_range", query) for query in self.log_queries(split, service.logs)]
            if service.repo:
                repo = service.repo
                planned += [
                    ("github", "list_deployments", partial(ListDeploymentsInput, repo=repo, per_page=20)),
                    (
                        "github",
                        "list_workflow_runs",
                        partial(ListWorkflowRunsInput, repo=repo, created_after=self.start),
                    ),
                    ("github", "list_commits", partial(ListCommitsInput, repo=repo, since=self.start, until=onset)),
                ]
        return planned

    def log_split(self, onset: datetime, service: Service) -> datetime:
        """Where a component's logs are split into before and after: the onset for the alerting service;
        a little earlier for a candidate, whose fault comes before the symptom it causes (a loop that
        starts two minutes before its callers time out is new, not already there)."""
        return onset if service.name == self.service.name else onset - CANDIDATE_LOG_LEAD

    def log_queries(self, onset: datetime, selector: str) -> tuple[Callable[[], BaseModel], Callable[[], BaseModel]]:
        """The two log reads around the onset (see `logs`): the newest lines of the ten minutes before
        it, the first lines of the ten minutes after it."""
        span = timedelta(minutes=LOG_WINDOW_MINUTES)
        after_end = min(self.now, onset + span)
        if after_end <= onset:
            after_end = onset + timedelta(seconds=1)
        return (
            partial(
                LogRangeQuery, query=selector, start=onset - span, end=onset, limit=LOG_LIMIT, direction="backward"
            ),
            partial(LogRangeQuery, query=selector, start=onset, end=after_end, limit=LOG_LIMIT, direction="forward"),
        )

    # -- metrics --------------------------------------------------------------------------------

    async def signal(
        self, service: Service, signal: SignalName = "error_rate", *, since: datetime | None = None
    ) -> SignalSummary | None:
        """One SLI of a service over the window, its onset and whether it is anomalous.

        For the alerting service (``since`` None) the onset is searched from an hour before the
        alert and "anomalous" means still elevated now; for a dependency it is searched from
        ``since`` (shortly before the primary onset) and any sustained rise counts. A rise must also
        be material: one percentage point of errors, or half again the baseline latency.
        """
        query = traffic_query(service.sli.error_rate) if signal == "traffic" else getattr(service.sli, signal)
        if not query:
            return None
        result = await self.call(
            "prometheus", "query_range", partial(RangeQuery, query=query, start=self.start, end=self.now, step=60)
        )
        if result is None:
            return None
        label = SIGNAL_LABEL[signal]
        if result.status == "error":
            self.failed(f"{service.name} {label}", result)
            return None
        times, values = first_series(result)
        if len(values) < 3:
            evidence_id = self.add(result, f"no {label} samples for {service.name} (missing telemetry: unknown)")
            return SignalSummary(
                service=service.name, signal=signal, query=query, evidence_id=evidence_id, missing=True
            )
        primary = since is None
        search_from = since or (self.state.alert.started_at - timedelta(minutes=60))
        kind: MetricKind = SIGNAL_KIND[signal]
        onset = detect_onset(values, times, kind=kind, metric=f"{service.name} {label}", search_from=search_from)
        if onset is None and primary and times and times[0] < search_from - SLOW_BURN_BASELINE:
            # A slow burn: the alert fired long after the move began (a backlog crossing its line hours
            # into a throughput drop), so the hour before it is already the incident. The earliest part
            # of the window is the reference then.
            search_from = times[0] + SLOW_BURN_BASELINE
            onset = detect_onset(values, times, kind=kind, metric=f"{service.name} {label}", search_from=search_from)
        if onset is not None and primary:
            onset = current_episode(values, times, onset, self.state.alert.started_at, kind) or onset
        before = [v for t, v in zip(times, values, strict=True) if t < search_from]
        baseline = onset.baseline_value if onset else (_median(before) if before else None)
        after = [v for t, v in zip(times, values, strict=True) if t >= (onset.time if onset else search_from)]
        current = values[-1]
        peak = max(after) if after else current
        base = baseline or 0.0
        floor = (
            MIN_RISE
            if signal == "error_rate"
            else max(0.25 * base, 0.1)
            if signal == "saturation"
            else base  # traffic: at least double
            if signal == "traffic"
            else max(0.5 * base, 0.05)
        )
        rise = peak - base
        if primary:
            # Still a quarter of the rise above the baseline is not recovered (a fix that removed one of two
            # faults leaves the other's errors).
            anomalous = onset is not None and rise >= floor and current - base >= max(floor, rise / 4)
        else:
            anomalous = onset is not None and rise >= floor
        falling = False
        if signal == "traffic" and not anomalous and onset is not None and base > 0 and after:
            # Work that stopped: the throughput fell to half or less (and, for the alerting service, is
            # still there). A consumer that stalls errs on nothing; this is its only symptom.
            low = min(after)
            falling = (current if primary else low) <= STALL_FLOOR * base
            if falling:
                anomalous, peak = True, low
        show = _secs if signal == "latency_p99" else _rate if signal == "traffic" else _pct
        text = (
            f"{service.name} {label} {show(baseline)} before, "
            + (f"{show(peak)} lowest" if falling else f"{show(peak)} peak")
            + f", {show(current)} now"
            + (f"; onset {onset.time:%H:%M:%S} UTC ({onset.reason})" if onset else "; no onset")
            + (" (fell: work stopped)" if falling else " (anomalous)" if anomalous else " (normal)")
        )
        evidence_id = self.add(result, text, {"baseline": baseline, "peak": peak, "current": current})
        return SignalSummary(
            service=service.name,
            signal=signal,
            query=query,
            baseline=baseline,
            current=current,
            peak=peak,
            onset=onset.time if onset else None,
            anomalous=anomalous,
            falling=falling,
            evidence_id=evidence_id,
            times=times,
            values=values,
        )

    async def candidate_signals(self, service: Service, since: datetime) -> None:
        """A candidate's SLIs (error ratio, p99, saturation) since shortly before the onset, into the bundle."""
        for signal in SIGNALS:
            summary = await self.signal(service, signal, since=since)
            if summary is not None:
                self.bundle.dependencies.append(summary)

    def alert_signal(self) -> SignalName:
        """The SLI the alert is about: latency when the alert speaks of it and the service has one."""
        alert = self.state.alert
        text = " ".join([alert.name, alert.title, alert.description]).lower()
        if self.service.sli.latency_p99 and LATENCY_WORDS.search(text) and not ERROR_WORDS.search(alert.name.lower()):
            return "latency_p99"
        if self.service.sli.error_rate and STALL_WORDS.search(text) and not ERROR_WORDS.search(alert.name.lower()):
            return "traffic"
        return "error_rate"

    # -- changes --------------------------------------------------------------------------------

    async def changes(self, related: dict[str, int], onset: datetime, error_lines: list[str]) -> list[ChangeFact]:
        changes: list[Change] = []
        evidence_for: dict[str, str] = {}
        refs: dict[str, str] = {}
        repo_of: dict[str, str] = {}
        catalog_repos: dict[str, str] = {}  # repo -> the candidate whose repo it is
        for name in related:
            svc = self.ctx.catalog.get(name)
            if svc is not None and svc.repo:
                catalog_repos.setdefault(svc.repo, name)
        for repo, name in catalog_repos.items():
            found = await self.repo_changes(repo, onset, evidence_for, refs, owner=self.ctx.catalog.get(name))
            for change in found:
                repo_of[change.id] = repo
            changes += found
        for repo in await self.outside_repos(set(catalog_repos), onset):
            # A flags, config or infrastructure repository the catalog names for no candidate: its
            # change belongs to the candidate its text names (a flag file for that service), else
            # to every component alike.
            for change in await self.repo_changes(repo, onset, evidence_for, refs, owner=None):
                component = mentioned_component(f"{change.description}\n{change.diff}", related, self.ctx)
                changes.append(change.model_copy(update={"component": component}))
                repo_of[change.id] = repo
        for change, evidence_id in self.cluster_changes:
            if change.time > onset + CHANGE_SKEW:
                continue
            same = (
                next(
                    (
                        i
                        for i, c in enumerate(changes)
                        if c.id.startswith("deploy-")
                        and c.component == change.component
                        and abs((c.time - change.time).total_seconds()) <= 300
                    ),
                    None,
                )
                if change.id.startswith("rollout-")
                else None
            )
            applied_by = _applying_run(change, changes) if same is None else None
            if applied_by is not None:
                # The pipeline run that wrote this ConfigMap is the same change, recorded twice (in its
                # repository and in the cluster): one change, where it lands, with where it came from.
                changes.remove(applied_by)
                change = change.model_copy(
                    update={"description": f"{change.description}; applied by {applied_by.description}"}
                )
            if same is None:
                changes.append(change)
                evidence_for[change.id] = evidence_id
            elif change.kind == "config" and changes[same].kind == "deploy":
                # A GitHub deployment of the same rollout already says more, but the cluster knows what
                # it shipped: the same image under a new pod template is a configuration change.
                changes[same] = changes[same].model_copy(
                    update={"kind": "config", "description": f"{changes[same].description} ({change.description})"}
                )
        changes = [c.model_copy(update={"repo": repo_of[c.id]}) if c.id in repo_of else c for c in changes]
        steps = {c.id: step for c in changes if (step := rollout_step(f"{c.description}\n{c.diff}")) is not None}
        changes = [self.rollout_continued(c, steps.get(c.id), repo_of.get(c.id, ""), evidence_for) for c in changes]
        for c in changes:
            if (entry := self.ctx.catalog.get(c.component)) is not None:
                await self.statefulset_scaled(entry, c)
        # Shared infrastructure sits one hop beyond the call graph (`candidates`): its changes count too.
        ranked = rank_changes(
            changes,
            self.service.name,
            related,
            onset,
            error_lines=error_lines,
            aliases={
                name: [a for a in (entry.namespace, entry.deployment) if a]
                for name in related
                if (entry := self.ctx.catalog.get(name)) is not None
            },
            max_hops=max(related.values(), default=0),
        )
        return [
            ChangeFact(
                id=r.change.id,
                kind=_fact_kind(r.change),
                # a change that names no candidate (GLOBAL_COMPONENT, ranked as touching every component)
                # is read where the failure shows
                service=r.change.component if r.change.component != GLOBAL_COMPONENT else self.service.name,
                at=r.change.time,
                description=r.change.description + (f"; {r.change.diff}" if r.change.diff else ""),
                distance=r.hops or 0,
                score=r.score,
                linked_tokens=list(r.shared_tokens),
                text_link=r.text_link,
                reasons=list(r.reasons),
                evidence_id=evidence_for.get(r.change.id, ""),
                ref=refs.get(r.change.id, ""),
                repo=repo_of.get(r.change.id, ""),
                touches_all=r.change.component == GLOBAL_COMPONENT,
                rollout=steps.get(r.change.id),
            )
            for r in ranked
        ]

    async def repo_changes(
        self,
        repo: str,
        onset: datetime,
        evidence_for: dict[str, str],
        refs: dict[str, str],
        *,
        owner: Service | None,
    ) -> list[Change]:
        """The deployments, workflow runs and commits of ``repo`` between the window's start and the onset,
        as changes of ``owner`` (the candidate whose repository it is; None for a repository the catalog
        gives nobody: the caller assigns those). Each is recorded with its evidence and the sha it made."""
        name = owner.name if owner is not None else GLOBAL_COMPONENT
        changes: list[Change] = []
        deploys = await self.call("github", "list_deployments", partial(ListDeploymentsInput, repo=repo, per_page=20))
        if deploys is not None and deploys.status == "error":
            self.failed(f"deployments of {repo}", deploys)
        listed = deploys.payload(DeploymentList).deployments if deploys is not None and deploys.ok else []
        if deploys is not None and deploys.status != "error" and owner is not None:
            recent = [d for d in listed if d.created_at and self.start <= d.created_at <= onset + CHANGE_SKEW]
            if not recent:
                self.add(deploys, f"no deployments of {repo} between {self.start:%H:%M} and the onset")
        items = sorted(listed, key=lambda d: d.created_at or _EPOCH)
        for index, item in enumerate(items):
            at = item.created_at
            if at is None or not (self.start <= at <= onset + CHANGE_SKEW):
                continue
            sha = item.sha or ""
            previous = (items[index - 1].sha or "") if index > 0 else ""
            diff = await self.diff(repo, previous, sha) if previous and sha and previous != sha else ""
            description = f"deployment of {repo}@{sha[:7]} to {item.environment or 'an environment'}: {item.description or ''}".strip()
            change = Change(
                id=f"deploy-{item.id}",
                kind=classify_change(f"{description}\n{diff}"),
                component=name,
                time=at,
                description=description,
                diff=diff,
            )
            refs[change.id] = sha
            changes.append(change)
            assert deploys is not None
            evidence_for[change.id] = self.add(
                deploys, f"{repo} deployed {sha[:7]} at {at:%H:%M} UTC: {item.description or ''}", {"change": change.id}
            )
        runs = await self.call(
            "github", "list_workflow_runs", partial(ListWorkflowRunsInput, repo=repo, created_after=self.start)
        )
        if runs is not None and runs.status == "error":
            self.failed(f"workflow runs of {repo}", runs)
        if runs is not None and runs.ok:
            self.run_lists[repo] = runs
        for run in runs.payload(WorkflowRunList).runs if runs is not None and runs.ok else []:
            at = run.updated_at or run.created_at
            title = " ".join(dict.fromkeys(v or "" for v in (run.name, run.title))).strip()
            if at is not None and onset + CHANGE_SKEW < at <= self.now and (step := rollout_step(title)):
                # A percentage rollout's later steps did not start the incident, but a signal that
                # steps up with each is read against them (`rollout_continued`).
                self.later_steps.setdefault(repo, []).append((at, step))
            if at is None or not (self.start <= at <= onset + CHANGE_SKEW):
                continue
            kind: ChangeKind = (
                "migration" if MIGRATION_WORDS.search(title) else "deploy" if "deploy" in title.lower() else "other"
            )
            if owner is None and kind in ("other", "deploy"):
                # A flags or config repository's sync is that kind; anything else a repository the
                # catalog gives no service runs is infrastructure (policies, clusters), not a release.
                kind = classify_change(f"{repo} {title}")
                kind = "infrastructure" if kind == "deploy" else kind
            sha = run.sha or ""
            change = Change(
                id=f"run-{run.id}",
                kind=kind,
                component=name,
                time=at,
                description=f"workflow run {title} ({run.conclusion or run.status}) on {repo}@{sha[:7]}",
            )
            refs[change.id] = sha
            changes.append(change)
            self.runs[change.id] = run
            assert runs is not None
            evidence_for[change.id] = self.add(
                runs, f"{repo} ran {title} ending {at:%H:%M} UTC ({run.conclusion})", {"change": change.id}
            )
        commits = await self.call(
            "github", "list_commits", partial(ListCommitsInput, repo=repo, since=self.start, until=onset)
        )
        if commits is not None and commits.status == "error":
            self.failed(f"commits of {repo}", commits)
        found = commits.payload(CommitList).commits if commits is not None and commits.ok else []
        messages = {c.sha: c.message for c in found}
        shipped = set(refs.values())
        for commit in found:
            if commit.sha in shipped or commit.date is None or not (self.start <= commit.date <= onset):
                continue
            found_change = self.commit_change(owner, commit.sha, commit.message, commit.date, repo=repo)
            if found_change is not None:
                refs[found_change.id] = commit.sha
                changes.append(found_change)
                assert commits is not None
                evidence_for[found_change.id] = self.add(
                    commits, f"{repo} commit {commit.sha[:7]} at {commit.date:%H:%M} UTC: {commit.message}",
                    {"change": found_change.id},
                )  # fmt: skip
        enriched = []
        for c in changes:
            if refs.get(c.id) in messages:
                diff = f"commit: {messages[refs[c.id]]}\n{c.diff}".strip()
                kind = classify_change(f"{c.description}\n{diff}") if c.kind == "deploy" else c.kind
                c = c.model_copy(update={"diff": diff, "kind": kind})
            enriched.append(c)
        return enriched

    def rollout_continued(
        self, change: Change, step: RolloutStep | None, repo: str, evidence_for: dict[str, str]
    ) -> Change:
        """A percentage rollout's step whose later steps (runs of the same repository after the onset)
        raised the share further: the change says so, with what the alerting SLI did across each step,
        and its evidence is recorded. The step itself stays the change (it started the incident)."""
        later = [(at, s) for at, s in self.later_steps.get(repo, []) if step is not None and at > change.time]
        primary = self.bundle.primary
        if step is None or not later:
            return change
        times, values = (primary.times, primary.values) if primary is not None else ([], [])
        text = continued(step, later, times, values, MIN_RISE)
        if not text:
            return change
        runs = self.run_lists.get(repo)
        if runs is not None and change.id in evidence_for:
            self.add(runs, f"{repo}: {text}", {"change": change.id})
        return change.model_copy(update={"description": f"{change.description}; {text}"})

    async def org_repos(self, owner: str) -> ToolResult | None:
        """An organisation's repositories (`github.list_repos`), read once per investigation round: the
        changes outside the catalog and the runbook search both read them."""
        if owner not in self.listings:
            self.listings[owner] = await self.call("github", "list_repos", partial(ListReposInput, owner=owner))
        return self.listings[owner]

    async def outside_repos(self, known: set[str], onset: datetime) -> list[str]:
        """Repositories of the candidates' organisations that the catalog names for no candidate and
        that were pushed to since the window's start (at most `MAX_OUTSIDE_REPOS`): those last pushed
        before the onset first, then those pushed since, whose earlier pushes may still precede it (a
        rollout's later steps push again); most recent first within each."""
        owners = sorted({repo.split("/", 1)[0] for repo in known if "/" in repo})
        found: list[tuple[bool, str]] = []
        for owner in owners:
            result = await self.org_repos(owner)
            if result is None or not result.ok:
                continue
            pushed = [
                (r.pushed_at > onset + CHANGE_SKEW, r.full_name)
                for r in result.payload(RepositoryList).repos
                if r.full_name not in known and not r.archived and r.pushed_at is not None and self.start <= r.pushed_at
            ]
            if pushed:
                self.add(
                    result,
                    f"{owner} repositories pushed to since {self.start:%H:%M} UTC outside the catalog: "
                    + ", ".join(f"{name}{' (again after the onset)' if later else ''}" for later, name in pushed[:5]),
                )
            found += pushed
        ordered = [name for later, name in found if not later] + [name for later, name in found if later]
        return ordered[:MAX_OUTSIDE_REPOS]

    def commit_change(
        self, service: Service | None, sha: str, message: str, at: datetime, *, repo: str = ""
    ) -> Change | None:
        """A commit that no deployment or workflow run carried, as a change when it says what it
        changed: a replica count (``replicaCount 6 -> 2``: a scale change applied from the repository,
        the way GitOps does), a configuration, a flag or a migration. Plain code commits are not
        changes until they ship. ``service`` None: a repository the catalog gives nobody."""
        scaled = REPLICA_EDIT.search(message) if service is not None else None
        if scaled is not None and service is not None:
            before, after = int(scaled.group(2)), int(scaled.group(3))
            if before != after and after > 0:
                direction = "up" if after > before else "down"
                facts: ComponentFacts | DeploymentFact | None = (
                    self.bundle.deployment
                    if service.name == self.service.name
                    else self.bundle.components.get(service.name)
                )
                change = Change(
                    id=f"scale-{direction}-{service.deployment_name}-{sha[:7]}",
                    kind="infrastructure",
                    component=service.name,
                    time=at,
                    description=f"commit {sha[:7]} scales {service.name} {direction} from {before} to {after} replicas: {message}",
                )
                if facts is not None and facts.scaled_from is None:
                    facts.scaled_from, facts.scale_change = before, change.id
                return change
        kind = classify_change(f"{repo} {message}" if service is None else message)
        if kind == "deploy":
            return None
        return Change(
            id=f"commit-{sha[:12]}",
            kind=kind,
            component=service.name if service is not None else GLOBAL_COMPONENT,
            time=at,
            description=f"commit {sha[:7]}" + (f" on {repo}" if service is None else "") + f": {message}",
        )

    async def diff(self, repo: str, base: str, head: str) -> str:
        """What a deploy changed: file names and patch excerpts from GitHub's compare."""
        result = await self.call("github", "compare", partial(CompareInput, repo=repo, base=base, head=head))
        if result is None or not result.ok:
            return ""
        parts = []
        for f in result.payload(Comparison).files:
            parts.append(f.filename)
            if f.patch:
                parts.append(f.patch[:600])
        return "\n".join(parts)[:3000]

    # -- logs -----------------------------------------------------------------------------------

    async def logs(self, onset: datetime, service: Service | None = None) -> tuple[list[LogFact], list[str]]:
        """Log templates new or spiking since the onset.

        Two reads, so the line limit cannot hide either side: the newest lines of the ten minutes
        before the onset, and the first lines of the ten minutes after it. When a read hits its
        limit, the window is narrowed to the lines actually seen so that rates stay honest.
        """
        service = service or self.service
        selector = service.logs
        if not selector:
            return [], []
        onset = self.log_split(onset, service)
        span = timedelta(minutes=LOG_WINDOW_MINUTES)
        after_end = min(self.now, onset + span)
        if after_end <= onset:
            after_end = onset + timedelta(seconds=1)
        read_before, read_after = self.log_queries(onset, selector)
        before = await self.call("loki", "query_range", read_before)
        after = await self.call("loki", "query_range", read_after)
        if before is None or after is None:
            return [], []
        for result in (before, after):
            if result.status == "error":
                self.failed(f"{service.name} logs", result)
                return [], []
        lines_before = [(e.ts, e.line) for e in _log_entries(before)]
        lines_after = [(e.ts, e.line) for e in _log_entries(after)]
        start = min(t for t, _ in lines_before) if len(lines_before) >= LOG_LIMIT else onset - span
        end = max(t for t, _ in lines_after) if len(lines_after) >= LOG_LIMIT else after_end
        patterns = mine_patterns(lines_before + lines_after, onset, start=start, end=end)
        if not lines_before:
            # Nothing logged before the onset (the stream was not kept, or the service was silent): every
            # template looks new, which says nothing. Only failures stand out.
            patterns = [p for p in patterns if FAILURE_LINE.search(p.example)]
        interesting = patterns[:5]
        facts = []
        for p in interesting:
            change = "new" if p.is_new else f"x{p.spike_ratio:.0f}" if p.spike_ratio else "spiking"
            evidence_id = self.add(
                after,
                f"{service.name} log pattern {change} since the onset: {p.count_after} lines after, {p.count_before} before, e.g. {p.example[:200]}",
                {"template": p.template},
            )
            facts.append(
                LogFact(
                    service=service.name,
                    template=p.template,
                    count_before=p.count_before,
                    count_after=p.count_after,
                    example=p.example,
                    is_new=p.is_new,
                    evidence_id=evidence_id,
                )
            )
        if not interesting:
            self.add(
                after,
                f"no new or spiking {service.name} log patterns among {len(lines_before) + len(lines_after)} lines around the onset",
            )
        return facts, [p.example for p in interesting]

    # -- kubernetes -----------------------------------------------------------------------------

    async def pods(self, service: Service | None = None) -> PodFact | None:
        service = service or self.service
        namespace, selector = service.namespace, f"app={service.deployment_name}"
        result = await self.call(
            "kubernetes", "list_pods", partial(ListPodsInput, namespace=namespace, label_selector=selector)
        )
        if result is None:
            return None
        if result.status == "error":
            self.failed(f"pods of {service.name}", result)
            return None
        pods = result.payload(PodList).pods
        total = len(pods)
        ready = sum(1 for p in pods if p.ready)
        restarts = sum(p.restarts for p in pods)
        reasons = sorted({r for p in pods for r in p.reasons if r})
        text = f"{ready}/{total} {service.name} pods ready, {restarts} restarts" + (
            f", reasons: {', '.join(reasons)}" if reasons else ""
        )
        nodes = sorted({p.node for p in pods if p.node})
        if nodes:
            text += f"; on nodes {', '.join(nodes)}"
        return PodFact(
            total=total,
            ready=ready,
            restarts=restarts,
            reasons=reasons,
            evidence_id=self.add(result, text),
            nodes=nodes,
            configmaps=sorted({c for p in pods for c in p.configmaps}),
        )

    async def deployment(self, service: Service | None = None) -> DeploymentFact | None:
        service = service or self.service
        ns, name = service.namespace, service.deployment_name
        result = await self.call("kubernetes", "get_deployment", partial(DeploymentRef, namespace=ns, name=name))
        if result is None:
            return None
        if result.status != "ok":
            self.failed(f"deployment {ns}/{name}", result)
            return None
        state = result.payload(DeploymentState)
        current = state.revision
        fact = DeploymentFact(
            namespace=ns, name=name, current_revision=current, current_image=_images(state.images), paused=state.paused
        )
        sets = await self.call(
            "kubernetes", "list_replicasets", partial(ListReplicaSetsInput, namespace=ns, label_selector=f"app={name}")
        )
        if sets is not None and sets.ok:
            created = self.replicaset_created.setdefault(service.name, {})
            for rs in sets.payload(ReplicaSetList).replicasets:
                if rs.name and rs.created:
                    created[rs.name] = rs.created
            self.rollouts(service, sets.payload(ReplicaSetList).replicasets, sets)
        if sets is not None and sets.ok and current is not None:
            older = sorted(
                (
                    rs
                    for rs in sets.payload(ReplicaSetList).replicasets
                    if rs.revision is not None and rs.revision < current
                ),
                key=lambda rs: rs.revision or 0,
            )
            if older:
                fact.previous_revision = older[-1].revision
                fact.previous_image = _images(older[-1].images)
                mine = next((rs for rs in sets.payload(ReplicaSetList).replicasets if rs.revision == current), None)
                fact.current_since = mine.created if mine is not None else None
                # The current ReplicaSet is older than the previous revision's: the Deployment was
                # rolled back to it, and "the previous revision" is the release rolled back as bad.
                fact.rolled_back = bool(
                    mine is not None and mine.created and older[-1].created and mine.created < older[-1].created
                )
        text = f"deployment {ns}/{name} at revision {current} ({fact.current_image})" + (
            f"; previous revision {fact.previous_revision} ({fact.previous_image})"
            if fact.previous_revision
            else "; no previous revision found"
        )
        if fact.rolled_back:
            text += "; it was rolled back to this revision: the previous one is the release rolled back"
        fact.evidence_id = self.add(result, text, {"replicas": state.replicas})
        fact.replicas = state.replicas
        return fact

    def rollouts(self, service: Service, sets: list[ReplicaSet], result: ToolResult) -> None:
        """Rollouts of ``service``'s Deployment in the window, read from its ReplicaSets: a change
        recorded in the cluster, whatever repository (or none) it came from."""
        ordered = sorted((rs for rs in sets if rs.revision is not None), key=lambda rs: rs.revision or 0)
        primary = self.bundle.primary
        # Work that stopped without errors may wait hours for the input that stalls the release: the
        # alerting service's current release counts as a change however old (within a day).
        stalled = service.name == self.service.name and primary is not None and primary.falling
        for previous, rs in zip(ordered, ordered[1:], strict=False):
            at = rs.created
            start = self.now - STALL_LOOKBACK if stalled and rs is ordered[-1] else self.start
            if at is None or not (start <= at <= self.now):
                continue
            same_image = rs.images == previous.images
            text = " ".join(
                [
                    f"rollout of deployment {service.namespace}/{service.deployment_name} to revision {rs.revision}",
                    "(same image: a configuration rollout)" if same_image else f"({_images(rs.images)})",
                    rs.change_cause or "",
                ]
            ).strip()
            kind = classify_change(text)
            change = Change(
                id=f"rollout-{service.deployment_name}-{rs.revision}",
                kind="config" if same_image and kind == "deploy" else kind,
                component=service.name,
                time=at,
                description=text,
            )
            evidence_id = self.add(result, f"{text} at {at:%H:%M} UTC", {"change": change.id})
            self.cluster_changes.append((change, evidence_id))

    async def scale_changes(self, service: Service, facts: ComponentFacts | DeploymentFact) -> None:
        """Replica-count changes of ``service``'s Deployment in the window, from its events
        ("Scaled up replica set X to 20 from 4"; from or to zero only for a ReplicaSet that existed
        before: otherwise it is a rollout's handover)."""
        result = await self.call(
            "kubernetes",
            "list_events",
            partial(
                ListEventsInput,
                namespace=service.namespace,
                involved_kind="Deployment",
                involved_name=service.deployment_name,
            ),
        )
        if result is None or not result.ok:
            return
        scaled: list[tuple[datetime, str, int, int]] = []
        for event in result.payload(EventList).events:
            match = SCALED.search(event.message)
            at = event.first_seen or event.last_seen
            if match is not None and at is not None and self.start <= at <= self.now:
                scaled.append((at, match.group(1), int(match.group(2)), int(match.group(3))))
        for at, replicaset, to, before in scaled:
            # A rollout (or a rollback) hands over between two ReplicaSets: one scaled from zero and
            # another to zero within minutes, or a new one created then. Otherwise a move from or to
            # zero is a scale change (a job started by hand, a workload stopped).
            sets = self.replicaset_created.get(service.name, {})
            paired = any(
                other != replicaset and (o_to == 0 or o_before == 0) and abs((other_at - at).total_seconds()) <= 300
                for other_at, other, o_to, o_before in scaled
            )
            created_then = any(abs((at - created).total_seconds()) <= 120 for created in sets.values())
            if to == before or ((to == 0 or before == 0) and (paired or created_then or not sets)):
                continue
            name = service.deployment_name
            direction = "up" if to > before else "down"
            text = f"deployment {service.namespace}/{name} scaled {direction} from {before} to {to} replicas"
            change = Change(
                id=f"scale-{direction}-{name}-{at:%H%M%S}",
                kind="infrastructure",
                component=service.name,
                time=at,
                description=text,
            )
            evidence_id = self.add(result, f"{text} at {at:%H:%M} UTC", {"change": change.id})
            self.cluster_changes.append((change, evidence_id))
            facts.scaled_from, facts.scale_change = before, change.id

    async def component(self, service: Service, distance: int, onset: datetime) -> ComponentFacts:
        """Pods, logs, Deployment (with its rollouts) and scale changes of one candidate."""
        facts = ComponentFacts(
            service=service.name,
            kind=service.kind,
            distance=distance,
            dependencies=list(service.dependencies),
            shared=distance > MAX_HOPS,
            description=service.description,
        )
        if service.kind == "external":
            facts.provider = await self.provider_status(service)
            return facts  # nothing of ours runs there: its callers (and its own status page) tell what it does
        facts.pods = await self.pods(service)
        facts.logs, _ = await self.logs(onset, service)
        facts.deployment = await self.deployment(service)
        await self.scale_changes(service, facts)
        return facts

    async def provider_status(self, service: Service) -> ProviderFact | None:
        """A third party's public status page (the catalog's ``status_page`` names the provider_status
        instance): its indicator and its unresolved incident, as evidence. None without a page."""
        if not service.status_page:
            return None
        result = await self.call("provider_status", "summary", ProviderSummaryInput, instance=service.status_page)
        if result is None:
            return None
        if not result.ok:
            self.failed(f"{service.name}'s status page", result)
            return None
        page = result.payload(ProviderSummary)
        incident = max(page.incidents, key=lambda i: (len(i.components), i.created_at or _EPOCH), default=None)
        latest = incident.updates[0].body if incident is not None and incident.updates else ""
        text = f"{service.name}'s status page ({page.page}): {page.description} (indicator {page.indicator})" + (
            f"; unresolved incident {incident.name!r} ({incident.status}"
            + (f", since {incident.created_at:%H:%M} UTC" if incident.created_at else "")
            + f"): {latest[:200]}"
            if incident is not None
            else "; no unresolved incident"
        )
        return ProviderFact(
            indicator=page.indicator,
            incident=incident.name if incident is not None else "",
            status=incident.status if incident is not None else "",
            started=incident.created_at if incident is not None else None,
            latest=latest,
            evidence_id=self.add(result, text),
        )

    async def warning_events(self, service: Service) -> tuple[ToolResult | None, list[Event]]:
        """The Warning events of ``service``'s namespace since the window's start about its Deployment,
        its ReplicaSets (name-hash) and its pods (name-hash-suffix), not another workload whose name
        merely starts the same way; (None, []) when they cannot be read (recorded as a failed check)."""
        if service.name in self.events_read:
            return self.events_read[service.name]  # read once a round (the probe check, then a targeted check)
        result = await self.call(
            "kubernetes",
            "list_events",
            partial(ListEventsInput, namespace=service.namespace, event_type="Warning"),
        )
        if result is None or result.status == "error":
            if result is not None:
                self.failed(f"warning events of {service.name}", result)
            return None, []
        owned = re.compile(rf"^{re.escape(service.deployment_name)}(-[a-z0-9]{{1,10}})?(-[a-z0-9]{{5}})?$")
        events = [
            e
            for e in (result.payload(EventList).events if result.ok else [])
            if owned.match(e.object.split("/", 1)[-1]) and (e.last_seen or e.first_seen or self.now) >= self.start
        ]
        self.events_read[service.name] = (result, events)
        return result, events

    async def probe_kills(self, pods: PodFact | None) -> PodFact | None:
        """Whether the alerting service's restarts are the kubelet killing it on failed liveness probes
        (its Warning events say so), not its process exiting on its own: then what decides is how strict
        its probes are against how fast it answers now."""
        if pods is None or pods.restarts == 0 or any("OOMKilled" in r for r in pods.reasons):
            return pods
        result, events = await self.warning_events(self.service)
        killed = [e for e in events if PROBE_KILL.search(f"{e.reason} {e.message}")]
        if result is None or not killed:
            return pods
        worst = max(killed, key=lambda e: e.count)
        evidence_id = self.add(
            result,
            f"{self.service.name}'s pods are killed by the kubelet on failed liveness probes "
            f"({sum(e.count for e in killed)} events, e.g. {worst.reason}: {_excerpt(worst.message, 160)})",
        )
        return pods.model_copy(update={"probe_killed": True, "probe_evidence_id": evidence_id})

    async def targeted_checks(self, leads: list[str]) -> tuple[list[str], list[RuledOut]]:
        """One query per lead: the Warning events of its namespace about its pods or its Deployment
        (OOMKilling, Evicted, probes failing, FailedScheduling, node pressure), read as log lines of
        that lead so that the failure-mode signatures apply. Returns the leads with new evidence,
        and a ruled-out item (with its evidence) for each lead where nothing was found."""
        found: list[str] = []
        cleared: list[RuledOut] = []
        for lead in leads:
            service = self.ctx.catalog.get(lead)
            if service is None or service.kind == "external":
                continue  # nothing of ours runs there to ask about
            result, events = await self.warning_events(service)
            if result is None:
                continue
            if not events:
                evidence_id = self.add(result, f"no warning events about {lead} since {self.start:%H:%M} UTC")
                cleared.append(
                    RuledOut(
                        what=f"a failure of {lead}'s pods or nodes",
                        why="targeted check: no warning events about its pods or Deployment",
                        evidence_ids=[evidence_id],
                    )
                )
                continue
            facts: list[LogFact] = []
            for event in events[:5]:
                line = f"{event.reason}: {event.message}"
                evidence_id = self.add(result, f"warning event about {lead} ({event.object}, x{event.count}): {line}")
                facts.append(
                    LogFact(
                        service=lead,
                        template=line,
                        count_before=0,
                        count_after=event.count,
                        example=line,
                        is_new=True,
                        evidence_id=evidence_id,
                    )
                )
            if lead == self.service.name:
                self.bundle.logs = [*self.bundle.logs, *facts]
            elif lead in self.bundle.components:
                component = self.bundle.components[lead]
                component.logs = [*component.logs, *facts]
            found.append(lead)
        return found, cleared

    async def named_config_writes(self, diagnosis: Diagnosis) -> None:
        """For a diagnosis without a change in the window: does the entity's log name a value that an
        earlier write of a ConfigMap it reads introduced? One line-filter query per write (at most
        three terms); a write its logs name becomes the revert to offer, with that evidence."""
        service = self.ctx.catalog.get(diagnosis.entity)
        if diagnosis.change_id or diagnosis.inconclusive or service is None or not service.logs:
            return
        for index, older in enumerate(self.bundle.config_reverts):
            if older.service != service.name or older.change_id:
                continue
            for term in introduced_terms(older.introduced)[:3]:
                query = f'{service.logs} |= "{term}"'
                result = await self.call(
                    "loki",
                    "query_range",
                    partial(LogRangeQuery, query=query, start=self.start, end=self.now, limit=5, direction="backward"),
                )
                lines = _log_entries(result) if result is not None and result.ok else []
                if not lines:
                    continue
                assert result is not None
                evidence_id = self.add(
                    result,
                    f"{service.name} logs name {term}, which configmap {older.namespace}/{older.name} revision "
                    f"{older.from_revision} (written {older.written:%Y-%m-%d %H:%M} UTC) introduced: {lines[0].line[:200]}"
                    if older.written
                    else f"{service.name} logs name {term}, introduced by configmap {older.namespace}/{older.name}",
                )
                self.bundle.config_reverts[index] = older.model_copy(update={"evidence_id": evidence_id})
                return

    async def build_up_writes(self, diagnosis: Diagnosis) -> None:
        """For a slow failure without a change in the window (a volume that filled): an earlier write of a
        ConfigMap the entity reads (within `build_up.HORIZON`) whose changed lines configure the
        diagnosed mechanism, and after which one of the entity's gauges, level until then, climbed. One
        range query per such write; the first that holds becomes the revert to offer, with that evidence."""
        service = self.ctx.catalog.get(diagnosis.entity)
        mechanism = CONFIG_MECHANISMS.get(diagnosis.category)
        if diagnosis.change_id or diagnosis.inconclusive or service is None or mechanism is None:
            return
        for index, older in enumerate(self.bundle.config_reverts):
            written = older.written
            if older.service != service.name or older.change_id or older.evidence_id or written is None:
                continue
            lines = [line for line in changed_lines(older) if mechanism.search(line)]
            if not lines or written < self.start - build_up.HORIZON:
                continue
            start = written - build_up.LEVEL_BEFORE
            step = max(60.0, math.ceil((self.now - start).total_seconds() / 300))
            selector = f'{{service="{_promql_literal(service.name)}", __name__!~"{GAUGE_SELECTOR_EXCLUDE}"}}'
            result = await self.call(
                "prometheus", "query_range", partial(RangeQuery, query=selector, start=start, end=self.now, step=step)
            )
            for series in result.payload(QueryResult).series if result is not None and result.ok else []:
                points = series.points()
                found = build_up.began_with([t for t, _ in points], [v for _, v in points], written)
                if found is None or result is None:
                    continue
                labels = ", ".join(
                    f"{k}={v}" for k, v in sorted(series.metric.items()) if k not in ("__name__", "service")
                )
                evidence_id = self.add(
                    result,
                    f"{service.name} {series.metric.get('__name__', 'gauge')}{{{labels}}} "
                    + (
                        f"was level at {found.before:.4g} until"
                        if found.reached_write
                        else f"climbed steadily from {found.before:.4g} at its oldest sample, after"
                    )
                    + f" configmap {older.namespace}/{older.name} revision {older.from_revision} was written at "
                    f"{written:%Y-%m-%d %H:%M} UTC ({'; '.join(lines)[:160]}), to {found.now:.4g} "
                    f"(+{found.climb:.0%}): the {diagnosis.category.replace('_', ' ')} built up from that write",
                )
                self.bundle.config_reverts[index] = older.model_copy(update={"evidence_id": evidence_id})
                return

    async def undo_workflow(self, diagnosis: Diagnosis) -> UndoWorkflow | None:
        """For a change a Deployment rollback cannot undo (a migration, a flag or configuration
        pushed by a workflow), the repository's workflow that reverts it: its name says rollback,
        revert, undo, down or restore, and it shares the most words with the workflow that carried
        the change (db-migrate -> db-rollback). One query; None when there is no such workflow."""
        change = next((c for c in self.bundle.changes if c.id == diagnosis.change_id), None)
        if change is None or not (change.kind in UNDONE_BY_WORKFLOW or change.id.startswith("run-")):
            return None
        service = self.ctx.catalog.get(change.service)
        repo = change.repo or (service.repo if service is not None else None)
        if not repo:
            return None
        result = await self.call("github", "list_workflows", partial(ListWorkflowsInput, repo=repo))
        if result is None or not result.ok:
            return None
        carried = set(WORDS.findall(change.description.lower()))
        workflows = result.payload(WorkflowList).workflows
        reverting = [w for w in workflows if REVERT_WORDS.search(f"{w.name} {w.path}")]
        if not reverting:
            # The workflow that carried the change may undo it too, through an input (``revert``,
            # ``rollback``, ``down``): `db-migrate` with ``revert: 0311``.
            run = self.runs.get(change.id)
            carrier = next((w for w in workflows if run is not None and run.name == w.name), None)
            inputs = await self.workflow_inputs(repo, carrier.file, change, diagnosis) if carrier else None
            # Or sets back the share a percentage rollout's step moved (`agents.rollout`): set-flag with
            # the flag's percentage as it was before the step.
            step = change.rollout
            by_share = step is not None and any(share_input(name) for name in inputs or {})
            if carrier is None or not inputs or not (by_share or any(REVERT_WORDS.search(n) for n in inputs)):
                self.add(result, f"no workflow of {repo} reverts changes ({result.summary})")
                return None
            evidence_id = self.add(
                result,
                f"{repo}'s workflow {carrier.name} ({carrier.file}), which applied {change.id}, "
                + (f"sets the share back ({step.describe()} undone)" if by_share and step else "reverts it by input"),
            )
            return UndoWorkflow(
                repo=repo,
                workflow=carrier.file,
                inputs=inputs,
                reason=f"{carrier.name} reverts what it applied in {change.id} (inputs "
                + ", ".join(f"{k}={v}" for k, v in sorted(inputs.items()))
                + "); a Deployment rollback leaves it in place",
                evidence_id=evidence_id,
            )
        best = max(reverting, key=lambda w: (len(carried & set(WORDS.findall(w.name.lower()))), -w.id))
        evidence_id = self.add(result, f"{repo} has workflow {best.name} ({best.file}) to revert {change.id}")
        inputs = await self.workflow_inputs(repo, best.file, change, diagnosis)
        if inputs is None:
            return None
        return UndoWorkflow(
            repo=repo,
            workflow=best.file,
            inputs=inputs,
            reason=f"{best.name} reverts what {change.kind} {change.id} applied; a Deployment rollback leaves it in place",
            evidence_id=evidence_id,
        )

    async def statefulset_scaled(self, service: Service, change: Change) -> None:
        """A recorded change whose text lowers a replica count (``6 -> 3 replicas``) of a service that
        runs as a StatefulSet: the StatefulSet, with the count before, for a scale back. One read."""
        counts = replica_counts(change.description)
        if counts is None:
            return
        before, after = counts
        if after >= before or any(s.service == service.name for s in self.bundle.statefulsets):
            return
        component = self.bundle.components.get(service.name)
        deployment = (
            self.bundle.deployment if service.name == self.service.name else getattr(component, "deployment", None)
        )
        if deployment is not None:
            return  # it runs as a Deployment: the Deployment's own scale-back covers it
        ref = ObjectRef(namespace=service.namespace, name=service.deployment_name)
        result = await self.call("kubernetes", "get_statefulset", lambda: ref)
        if result is None or not result.ok:
            return
        state = result.payload(StatefulSetState)
        if state.replicas is None or state.replicas >= before:
            return  # already scaled back (or further): nothing to give back
        evidence_id = self.add(
            result,
            f"statefulset {service.namespace}/{service.deployment_name} runs {state.replicas} replicas "
            f"({state.ready} ready); {change.id} lowered it from {before}",
        )
        self.bundle.statefulsets.append(
            StatefulSetTarget(
                service=service.name,
                namespace=service.namespace,
                name=service.deployment_name,
                replicas=state.replicas,
                scaled_from=before,
                change_id=change.id,
                evidence_id=evidence_id,
            )
        )

    async def runbook_workflow(self, diagnosis: Diagnosis) -> UndoWorkflow | None:
        """For a cause no rollback undoes (an expired certificate), the runbook workflow of the
        organisation that fixes it: a workflow of a runbook repository (its name, description or topics
        say runbook or playbook) whose name speaks of the cause (``issue-client-cert``) and of no
        destructive act, with every required input filled from a fact (the component's namespace, a
        ``key=value`` the evidence names). None when there is none, or when an input has no fact."""
        nouns = RUNBOOK_NOUNS.get(diagnosis.category)
        entry = self.ctx.catalog.get(diagnosis.entity)
        if nouns is None or diagnosis.inconclusive or entry is None:
            return None
        owners = sorted({r.split("/", 1)[0] for s in self.ctx.catalog.services.values() if (r := s.repo) and "/" in r})
        candidates: list[tuple[int, str, Workflow]] = []
        for owner in owners:
            listed = await self.org_repos(owner)
            repos = listed.payload(RepositoryList).repos if listed is not None and listed.ok else []
            for repo in repos:
                about = " ".join([repo.full_name, repo.description or "", *repo.topics])
                if repo.archived or not RUNBOOK_REPO.search(about):
                    continue
                found = await self.call("github", "list_workflows", partial(ListWorkflowsInput, repo=repo.full_name))
                for workflow in found.payload(WorkflowList).workflows if found is not None and found.ok else []:
                    words = set(WORDS.findall(f"{workflow.name} {workflow.file}".lower()))
                    if words & nouns and not words & DESTRUCTIVE_WORDS:
                        candidates.append((len(words & RUNBOOK_VERBS), repo.full_name, workflow))
        if not candidates:
            return None
        _, repo_name, best = max(candidates, key=lambda c: (c[0], -c[2].id))
        read = await self.call("github", "get_workflow", partial(GetWorkflowInput, repo=repo_name, workflow=best.file))
        definition = read.payload(WorkflowDefinition) if read is not None and read.ok else None
        if read is None or definition is None:
            return None
        labels = dict(LABEL_PAIR.findall(diagnosis.root_cause))
        filled = fill_inputs(definition, FillFacts(entity=diagnosis.entity, namespace=entry.namespace, labels=labels))
        if filled.missing:
            self.add(
                read,
                f"runbook workflow {best.file} of {repo_name} needs {', '.join(filled.missing)}, which no evidence "
                "gives: its dispatch is not offered",
            )
            return None
        evidence_id = self.add(
            read,
            f"{repo_name} has runbook workflow {best.name} ({best.file}) for {diagnosis.category.replace('_', ' ')}"
            + (f"; takes {'; '.join(filled.reasons)}" if filled.reasons else ""),
        )
        return UndoWorkflow(
            repo=repo_name,
            workflow=best.file,
            inputs=filled.inputs,
            reason=f"{best.name} is the runbook for this {diagnosis.category.replace('_', ' ')}: no rollback fixes it",
            evidence_id=evidence_id,
            runbook=True,
        )

    async def widening_migration(self, diagnosis: Diagnosis) -> UndoWorkflow | None:
        """For a datastore whose counter ran out (a 32-bit key at its maximum), the migration written to
        widen it and not yet run: a recent commit of a client's repository naming a numbered migration
        that moves to a 64-bit type, and that repository's migration workflow, dispatched with it. None
        when there is no such commit or workflow (the on-call then gets the diagnosis)."""
        entry = self.ctx.catalog.get(diagnosis.entity)
        if diagnosis.inconclusive or entry is None or not COUNTER_LIMIT.search(diagnosis.root_cause):
            return None
        clients = [s for s in self.ctx.catalog.services.values() if diagnosis.entity in s.dependencies]
        repos = sorted({r for s in [entry, *clients] if (r := s.repo)})
        for repo in repos:
            listed = await self.call(
                "github",
                "list_commits",
                partial(ListCommitsInput, repo=repo, since=self.now - WIDENING_LOOKBACK, until=self.now),
            )
            commits = listed.payload(CommitList).commits if listed is not None and listed.ok else []
            pending = next(
                (
                    (c, found)
                    for c in commits
                    if (found := MIGRATION_ID.search(c.message)) and WIDER_TYPE.search(found.group(0) + " " + c.message)
                ),
                None,
            )
            if pending is None or listed is None:
                continue
            commit, found = pending
            workflows = await self.call("github", "list_workflows", partial(ListWorkflowsInput, repo=repo))
            migrating = [
                w
                for w in (workflows.payload(WorkflowList).workflows if workflows is not None and workflows.ok else [])
                if "migrat" in f"{w.name} {w.path}".lower() and not REVERT_WORDS.search(f"{w.name} {w.path}")
            ]
            for workflow in migrating:
                read = await self.call(
                    "github", "get_workflow", partial(GetWorkflowInput, repo=repo, workflow=workflow.file)
                )
                definition = read.payload(WorkflowDefinition) if read is not None and read.ok else None
                if read is None or definition is None:
                    continue
                named = next((i.name for i in definition.inputs if "migrat" in i.name.lower()), None)
                if named is None:
                    continue
                labels = {named: found.group(0)}
                filled = fill_inputs(
                    definition, FillFacts(entity=diagnosis.entity, namespace=entry.namespace, labels=labels)
                )
                if filled.missing:
                    continue
                evidence_id = self.add(
                    listed,
                    f"{repo} has migration {found.group(0)} ({commit.message[:120]}, commit {commit.sha[:7]}), which "
                    f"widens what ran out, and workflow {workflow.name} ({workflow.file}) runs it",
                )
                return UndoWorkflow(
                    repo=repo,
                    workflow=workflow.file,
                    inputs=filled.inputs,
                    reason=f"{workflow.name} runs {found.group(0)}, the schema change that widens {diagnosis.entity}'s "
                    "exhausted counter: no restart or rollback makes room",
                    evidence_id=evidence_id,
                    runbook=True,
                )
        return None

    async def workflow_inputs(
        self, repo: str, workflow: str, change: ChangeFact, diagnosis: Diagnosis
    ) -> dict[str, str] | None:
        """The inputs a revert workflow's file declares, each filled from a fact (agents.workflow_inputs);
        None when a required one cannot be (the dispatch is then not offered). A file that cannot be
        read leaves the inputs empty: GitHub then says what is missing when the dispatch runs."""
        read = await self.call("github", "get_workflow", partial(GetWorkflowInput, repo=repo, workflow=workflow))
        if read is None or not read.ok:
            return {}
        definition = read.payload(WorkflowDefinition)
        if not definition.inputs:
            return {}
        run = self.runs.get(change.id)
        earlier: list[str] = []
        if run is not None and run.name and any(i.required and i.default is None for i in definition.inputs):
            before = (run.created_at or change.at) - timedelta(seconds=1)
            history = await self.call(
                "github",
                "list_workflow_runs",
                partial(
                    ListWorkflowRunsInput,
                    repo=repo,
                    created_after=before - timedelta(days=90),
                    created_before=before,
                    per_page=100,
                ),
            )
            if history is not None and history.ok:
                earlier = [
                    " ".join(dict.fromkeys(v or "" for v in (r.name, r.title))).strip()
                    for r in history.payload(WorkflowRunList).runs
                    if r.name == run.name and r.id != run.id
                ]
        entity = self.ctx.catalog.get(diagnosis.entity) or self.ctx.catalog.get(change.service)
        step = change.rollout
        facts = FillFacts(
            entity=diagnosis.entity,
            namespace=entity.namespace if entity is not None else "",
            change_text=change.description,
            commit=change.ref,
            earlier_texts=earlier,
            rollout=step.model_copy(update={"before": step_before(step, earlier)}) if step is not None else None,
        )
        filled = fill_inputs(definition, facts)
        if filled.missing:
            self.add(
                read,
                f"workflow {workflow} of {repo} needs {', '.join(filled.missing)}, which no evidence gives: "
                "its dispatch is not offered",
            )
            return None
        if filled.reasons:
            self.add(read, f"workflow {workflow} of {repo} takes " + "; ".join(filled.reasons))
        return filled.inputs

    # -- knowledge ------------------------------------------------------------------------------

    def knowledge(self, error_examples: list[str]) -> list[KnowledgeFact]:
        store = self.ctx.knowledge
        if store is None:
            self.bundle.failures.append("no knowledge store configured")
            return []
        query = " ".join([self.state.alert.title, *error_examples[:2]])
        facts = []
        for kind in ("service_doc", "runbook", "postmortem"):
            try:
                hits = store.search(query, service=self.service.name, kind=kind, k=1)
            except Exception as exc:
                self.bundle.failures.append(f"knowledge search ({kind}) failed: {exc}")
                continue
            for hit in hits:
                evidence = Evidence(
                    id=f"r{self.round}-e{len(self.bundle.evidence) + 1}",
                    source=hit.source_id,
                    query=f"knowledge.search({query!r}, service={self.service.name!r}, kind={kind!r})",
                    observation=f"{kind.replace('_', ' ')} '{hit.title}': {_excerpt(hit.text)}",
                    at=self.now,
                )
                self.bundle.evidence.append(evidence)
                facts.append(
                    KnowledgeFact(
                        source_id=hit.source_id,
                        kind=kind,
                        title=hit.title,
                        excerpt=_excerpt(hit.text),
                        evidence_id=evidence.id,
                    )
                )
        return facts

    def memory(self) -> str | None:
        """Similar past incidents and whether this one is a recurrence, as citable evidence."""
        memory = self.ctx.memory
        if memory is None:
            return None
        alert = self.state.alert
        try:
            recall = memory.recall(
                self.service.name, alert.title, now=self.now, alert_name=alert.name, exclude_incident=self.state.id
            )
        except Exception as exc:  # broad on purpose: memory is advisory; its failure is recorded, not fatal
            self.bundle.failures.append(f"incident memory recall failed: {exc}")
            return None
        query = f"memory.recall(service={self.service.name!r}, alert={alert.name!r})"
        for past in recall.similar[:3]:
            observation = f"past incident {past.title} ({past.date or 'undated'}): {past.root_cause or past.excerpt}"
            if past.fix:
                observation += f"; fixed by {past.fix}"
            if past.ruled_out:
                observation += f"; ruled out then: {', '.join(past.ruled_out[:3])}"
            self.bundle.evidence.append(
                Evidence(
                    id=f"r{self.round}-e{len(self.bundle.evidence) + 1}",
                    source=past.source_id,
                    query=query,
                    observation=observation[:600],
                    at=self.now,
                )
            )
        return str(recall.statement) if recall.recurrence.is_recurrence else None

    def candidates(self) -> dict[str, int]:
        """The blast radius: every catalog service within `MAX_HOPS` of the alerting one, callers and
        callees both ways (a dependency's dependency, a job sharing its database), nearest first,
        at most `MAX_CANDIDATES` besides the alerting service."""
        around = self.ctx.catalog.neighbourhood(self.service.name, max_hops=MAX_HOPS)
        ordered = sorted(around.items(), key=lambda item: (item[1], item[0]))
        # Shared infrastructure the catalog describes without edges (cluster DNS, an ingress, a node
        # pool): nobody declares it as a dependency, yet everything fails with it. Checked after
        # the call graph, at one hop beyond it.
        catalog = self.ctx.catalog
        shared = sorted(
            name
            for name, entry in catalog.services.items()
            if name not in around and not entry.dependencies and not catalog.dependents_of(name)
        )
        ordered += [(name, MAX_HOPS + 1) for name in shared]
        return dict(ordered[: MAX_CANDIDATES + 1])

    def catalogued(self, names: list[str]) -> list[str]:
        """``names`` the catalog knows, once each, sorted: the candidates a query over their series reads."""
        return sorted({n for n in names if self.ctx.catalog.get(n) is not None})

    async def certificates(self, names: list[str]) -> list[CertificateFact]:
        """The candidates' certificates that have expired by now, from any metric whose name says it
        is a certificate's expiry (one instant query). A timestamp is read as the expiry; a small value
        as the seconds left (negative: expired). A certificate that expired is the cause its client's
        handshakes fail on, whatever the TLS stack logs ("connection reset by peer")."""
        names = self.catalogued(names)
        if not names:
            return []
        selector = f'{{__name__=~"{CERT_EXPIRY_METRICS}", service=~"{_any_of(names)}"}}'
        result = await self.call("prometheus", "query", partial(InstantQuery, query=selector))
        if result is None or not result.ok:
            return []
        found = []
        for series in result.payload(QueryResult).series:
            service = series.metric.get("service", "")
            value = next((v for _, v in (series.values or [])[-1:] if isinstance(v, float)), None)
            if service not in names or value is None or math.isnan(value):
                continue
            not_after = (
                datetime.fromtimestamp(value, UTC) if value > EPOCH_LIKE else self.now + timedelta(seconds=value)
            )
            if not_after > self.now:
                continue
            subject = ", ".join(
                f"{k}={v}"
                for k, v in sorted(series.metric.items())
                if k not in ("__name__", "service", "job", "instance")
            )
            evidence_id = self.add(
                result,
                f"{service}'s certificate ({subject}) expired at {not_after:%H:%M} UTC "
                f"({series.metric.get('__name__', 'expiry metric')})",
            )
            found.append(
                CertificateFact(service=service, subject=subject, not_after=not_after, evidence_id=evidence_id)
            )
        return found

    async def call_edges(self, names: list[str], onset: datetime) -> list[EdgeFact]:
        """What each candidate sees of each callee: its client-side call counts by outcome (one range
        query over the OpenTelemetry client histograms), or, where a trace backend is configured and
        the metrics say nothing, the spans' call edges before the onset and since."""
        names = self.catalogued(names)
        if not names:
            return []
        query = (
            f'sum by (service, server_address, error_type) (rate({{__name__=~"{EDGE_COUNT_METRICS}", '
            f'service=~"{_any_of(names)}"}}[5m]))'
        )
        result = await self.call(
            "prometheus", "query_range", partial(RangeQuery, query=query, start=self.start, end=self.now, step=60)
        )
        found: list[EdgeFact] = []
        if result is not None and result.ok:
            found = _edges_from_series(result.payload(QueryResult), onset)
        if not found and self.ctx.registry.first("tempo") is not None:
            found, result = await self._trace_edges(onset)
        if result is None:
            return []
        return [
            e.model_copy(update={"evidence_id": self.add(result, e.describe())}) if e.failing else e
            for e in sorted(found, key=lambda e: (e.callee, e.caller))
        ]

    async def edge_latency(self, names: list[str]) -> None:
        """Every call edge's latency at both ends among the candidates over the baseline window (one
        range query, where the settings say a mesh reports it), into the bundle; nothing when no edge
        is measured. The edge ranking compares every candidate's SLIs on the same steps."""
        settings = self.ctx.settings.edge_latency
        if not settings.enabled:
            return
        # The baseline window only: the edges' own past is their reference, and an earlier incident
        # in a longer window would widen what counts as normal.
        start = self.now - timedelta(minutes=self.ctx.settings.baseline_minutes)
        result = await self.call(
            "prometheus", "query_range", partial(RangeQuery, query=settings.query, start=start, end=self.now, step=60)
        )
        if result is None or not result.ok:
            if result is not None:
                self.failed("the call edges' latency at both ends", result)
            return
        grid, edges = edges_from_series(result.payload(QueryResult).series, settings, names)
        if not edges:
            return
        both = sum(1 for e in edges if e.measured_at_both_ends)
        self.bundle.edge_latency, self.bundle.edge_times = edges, grid
        self.bundle.edge_signals = served_signals(self.gauge_series, grid, names)
        self.bundle.edge_latency_evidence = self.add(
            result,
            f"latency of {len(edges)} call edges among the candidates, {both} measured at both ends "
            f"(caller's end: the callee's work plus the network; callee's end: its work only), {len(grid)} steps",
        )

    async def _trace_edges(self, onset: datetime) -> tuple[list[EdgeFact], ToolResult | None]:
        windows = ((onset - DEPENDENCY_LEAD, onset - SETTLE_EDGES), (onset, self.now))
        stats: list[dict[tuple[str, str], EdgeStats]] = []
        last: ToolResult | None = None
        for start, end in windows:
            if end <= start:
                return [], None
            result = await self.call("tempo", "edges", partial(EdgeQuery, start=start, end=end, limit=200))
            if result is None or not result.ok:
                return [], result
            last = result
            stats.append({(e.caller, e.callee): e for e in result.payload(TraceEdges).edges})
        before, now = stats
        edges = []
        for key, current in now.items():
            earlier = before.get(key)
            edges.append(
                EdgeFact(
                    caller=key[0],
                    callee=key[1],
                    before=earlier.errors / earlier.calls if earlier and earlier.calls else 0.0,
                    now=current.errors / current.calls if current.calls else 0.0,
                    calls_before=float(earlier.calls) if earlier else 0.0,
                    calls_now=float(current.calls),
                    kinds=["error"] if current.errors else [],
                    source="tempo",
                )
            )
        return edges, last

    async def gauges(self, names: list[str], onset: datetime) -> list[GaugeMove]:
        """The candidates' own gauges that moved at the onset (one range query over every series
        with a candidate's ``service`` label that is neither a counter nor a histogram): a cache's
        keys and hit ratio, a pool's waiters, a queue's depth, a process's descriptors."""
        names = self.catalogued(names)
        if not names:
            return []
        selector = f'{{service=~"{_any_of(names)}", __name__!~"{GAUGE_SELECTOR_EXCLUDE}"}}'
        result = await self.call(
            "prometheus", "query_range", partial(RangeQuery, query=selector, start=self.start, end=self.now, step=60)
        )
        if result is None or not result.ok:
            if result is not None:
                self.failed("the candidates' gauges", result)
            return []
        found = []
        self.gauge_series = result.payload(QueryResult).series
        for series in self.gauge_series:
            service = series.metric.get("service", "")
            if service not in names:
                continue
            points = series.points()
            labels = {k: v for k, v in series.metric.items() if k not in ("__name__", "service", "job", "namespace")}
            move = gauge_move(
                service,
                series.metric.get("__name__", ""),
                labels,
                [t for t, _ in points],
                [v for _, v in points],
                onset,
            )
            if move is not None:
                found.append(move)
        found.sort(key=lambda g: (g.service, -g.relative, g.metric))
        return [g.model_copy(update={"evidence_id": self.add(result, g.describe())}) for g in found]

    async def alert_source(self) -> AlertSource | None:
        """The caller of the alerting service (a prober, a synthetic check) whose metric the alert's rule
        reads: one instant query per metric the rule's expression names (at most two)."""
        expression = alert_expression(self.state.alert)
        for selector in metric_selectors(expression or ""):
            result = await self.call("prometheus", "query", partial(InstantQuery, query=selector))
            if result is None or not result.ok:
                continue
            series = result.payload(QueryResult).series
            exporters = {e for e in (exporter_of(s.metric) for s in series) if e}
            if len(exporters) != 1:
                continue
            [component] = exporters
            entry = self.ctx.catalog.get(component)
            if entry is None or self.service.name not in entry.dependencies:
                # Its own metric (a queue's length, a node's disk), not a measurement of the service
                # from outside by something that calls it (a prober, a synthetic check).
                return None
            values = [v for s in series for _, v in (s.values or [])[-1:] if isinstance(v, float)]
            value = min(values) if values else None
            evidence_id = self.add(
                result,
                f"the alert's rule reads {selector}, exported by {component}, not by {self.service.name}"
                + (f" (lowest value now {value:g})" if value is not None else ""),
            )
            return AlertSource(component=component, selector=selector, value=value, evidence_id=evidence_id)
        return None

    async def collect(self) -> EvidenceBundle:
        bundle = self.bundle
        bundle.earlier = acted_on(self.state)
        bundle.primary = await self.signal(self.service, self.alert_signal())
        if bundle.primary is not None and bundle.primary.signal != "error_rate" and bundle.primary.onset is None:
            # A latency alert whose latency shows no onset: errors may still tell when it began.
            errors = await self.signal(self.service, "error_rate")
            if errors is not None and errors.onset is not None:
                bundle.primary = errors
        if bundle.primary is not None and not bundle.primary.anomalous and bundle.primary.current is not None:
            bundle.alert_source = await self.alert_source()
        onset = (bundle.primary.onset if bundle.primary else None) or self.state.alert.started_at
        related = self.candidates()
        for name in related:
            entry = self.ctx.catalog.get(name)
            bundle.graph[name] = [d for d in (entry.dependencies if entry else []) if d in related]
        services = [s for s in (self.ctx.catalog.get(n) for n in related) if s is not None]
        await self.prefetch([*self.plan(related, onset), *cluster.planned_calls(services)])
        since = onset - DEPENDENCY_LEAD
        for signal in (*SIGNALS, "traffic"):
            if bundle.primary is None or signal != bundle.primary.signal:
                own = await self.signal(self.service, signal, since=since)
                if own is not None:
                    bundle.own.append(own)
        for name, distance in related.items():
            dep = self.ctx.catalog.get(name)
            if distance > 0 and dep is not None:
                await self.candidate_signals(dep, since)
        bundle.logs, error_lines = await self.logs(onset)
        bundle.pods = await self.probe_kills(await self.pods())
        for name in await cluster.co_located(self, bundle.pods, related):
            # What shares a starved node with the alerting service is a candidate, declared or not.
            related[name] = MAX_HOPS + 1
            entry = self.ctx.catalog.get(name)
            bundle.graph[name] = [d for d in (entry.dependencies if entry else []) if d in related]
            if entry is not None:
                services.append(entry)
                await self.candidate_signals(entry, since)
        bundle.deployment = await self.deployment()
        if bundle.deployment is not None:
            await self.scale_changes(self.service, bundle.deployment)
        for name, distance in related.items():
            dep = self.ctx.catalog.get(name)
            if distance > 0 and dep is not None:
                bundle.components[name] = await self.component(dep, distance, onset)
        error_lines += [log.example for facts in bundle.components.values() for log in facts.logs]
        await cluster.read_cluster(self, services, onset)
        bundle.certificates = await self.certificates(list(related))
        bundle.gauges = await self.gauges([self.service.name, *related], onset)
        bundle.edges = await self.call_edges([self.service.name, *related], onset)
        await self.edge_latency([self.service.name, *related])
        bundle.changes = await self.changes(related, onset, error_lines)
        bundle.knowledge = self.knowledge(error_lines)
        self.recurrence = self.memory()
        bundle.tool_calls = self.calls
        # Evidence gathered by an earlier round (e.g. a failed verification) is part of the picture.
        bundle.evidence = [*[e for e in self.state.evidence if e.id.endswith("verify")], *bundle.evidence]
        return bundle


def keep_earlier_causes(diagnosis: Diagnosis, earlier: Diagnosis | None) -> Diagnosis:
    """A second cause an earlier round named beside its lead stays named: a later round, after the fix
    of one cause, still sees the other's errors or not, but it was a cause all the same."""
    if earlier is None or diagnosis.inconclusive:
        return diagnosis
    named = {diagnosis.entity, *(c.entity for c in diagnosis.contributing)}
    carried = [c for c in earlier.contributing if c.entity not in named]
    return diagnosis.model_copy(update={"contributing": [*diagnosis.contributing, *carried]}) if carried else diagnosis


async def investigate(state: IncidentState, runtime: Runtime[AgentContext]) -> Command[Literal["supervisor"]]:
    """One investigation round: collect the evidence, ask the reasoner for a diagnosis, gate it.

    Returns an update (never touches ``state``): the diagnosis, the new evidence, what later steps
    need (the inspected deployment, the onset, a recurrence) and the tokens the reasoner used.
    """
    ctx = runtime.context
    service = ctx.catalog.get(state.service)
    assert service is not None  # triage escalates unknown services before investigation
    collector = EvidenceCollector(state, service, ctx)
    entries = [
        note(
            ctx,
            "investigation",
            "started",
            f"round {state.investigation_rounds + 1}: checking metrics, changes, logs, pods and knowledge for {service.name}",
        )
    ]
    bundle = await collector.collect()
    reasoned, fallback = await ask(
        ctx,
        reasoner_for(state, ctx),
        lambda r: r.diagnose(bundle, ctx),
        actor="investigation",
        task="diagnose",
        instead="the deterministic diagnosis",
    )
    entries += fallback
    bundle.evidence.extend(reasoned.gathered)
    usage = reasoned.usage
    answer = reasoned.answer
    checked: set[str] = set()
    ruled_out: list[RuledOut] = []
    for _ in range(MAX_CHECK_ROUNDS):
        # Close leads: one targeted query per lead, then ask again, before settling for "inconclusive".
        named = [c.entity for c in answer.candidates[:3] if c.entity]
        if not named:  # no hypothesis at all: the alerting service and whatever moved with it
            named = [service.name, *dict.fromkeys(d.service for d in bundle.dependencies if d.anomalous)][:3]
        leads = [lead for lead in named if lead not in checked]
        if not answer.inconclusive or not leads:
            break
        checked.update(leads)
        found, cleared = await collector.targeted_checks(leads)
        ruled_out += cleared
        entries.append(
            note(
                ctx,
                "investigation",
                "targeted_checks",
                f"leads too close: checked warning events of {', '.join(leads)}; "
                f"{'new evidence on ' + ', '.join(found) if found else 'nothing new'}",
            )
        )
        if not found:
            break
        again, more = await ask(
            ctx,
            reasoner_for(state, ctx),
            lambda r: r.diagnose(bundle, ctx),
            actor="investigation",
            task="diagnose",
            instead="the deterministic diagnosis",
        )
        entries += more
        bundle.evidence.extend(again.gathered)
        usage = usage + again.usage
        answer = again.answer
    if ruled_out:
        answer = answer.model_copy(update={"ruled_out": [*answer.ruled_out, *ruled_out]})
    bundle.tool_calls = collector.calls
    entries.append(
        note(
            ctx, "investigation", "tool_calls", f"{collector.calls} tool calls over {len(bundle.graph) or 1} components"
        )
    )
    undo = await collector.undo_workflow(answer) if answer.change_id and not answer.inconclusive else None
    undo = undo or await collector.runbook_workflow(answer) or await collector.widening_migration(answer)
    diagnosis, gate_notes = apply_evidence_gate(answer, bundle)
    diagnosis = keep_earlier_causes(diagnosis, state.diagnosis)
    for text in gate_notes:
        entries.append(note(ctx, "investigation", "evidence_gate", text))
    for failure in bundle.failures:
        entries.append(note(ctx, "investigation", "check_failed", failure))
    if collector.recurrence:
        entries.append(note(ctx, "investigation", "recurrence", collector.recurrence))
    entries.append(
        note(
            ctx,
            "investigation",
            "diagnosis",
            f"{'inconclusive' if diagnosis.inconclusive else diagnosis.category} "
            f"({diagnosis.confidence:.0%}): {diagnosis.root_cause}; {len(diagnosis.evidence)} evidence cited, {len(diagnosis.ruled_out)} ruled out",
        )
    )
    update: dict[str, Any] = {
        "diagnosis": diagnosis,
        "evidence": [e for e in bundle.evidence if not e.id.endswith("verify")],
        "investigation_rounds": state.investigation_rounds + 1,
        "timeline": entries,
        "usage": usage,
    }
    if collector.recurrence:
        update["recurrence"] = collector.recurrence
    update["undo_workflow"] = undo
    await collector.named_config_writes(diagnosis)
    await collector.build_up_writes(diagnosis)
    update["evidence"] = [e for e in bundle.evidence if not e.id.endswith("verify")]  # with what these two added
    update["cluster_target"] = cluster_target(bundle, diagnosis)
    target = root_deployment(bundle, diagnosis.entity, diagnosis.category)
    if target is not None:
        update["deployment"] = inspected_deployment(target, state.deployment)
    if bundle.primary is not None and bundle.primary.onset is not None:
        update["onset"] = bundle.primary.onset
    if bundle.primary is not None:
        update["sli_query"] = bundle.primary.query
        if state.baseline is None and bundle.primary.baseline is not None:
            update["baseline"] = bundle.primary.baseline
    if diagnosis.category in QUIET_CATEGORIES:
        update.update({"step": "communicate", "comms_phase": "resolved", "after_comms": "done"})
        entries.append(
            note(ctx, "investigation", diagnosis.category, f"{diagnosis.root_cause}; closing without action")
        )
    else:
        update["step"] = "remediate"
    return Command(goto="supervisor", update=update)


def current_episode(
    values: list[float], times: list[datetime], onset: Onset, alert_start: datetime, kind: MetricKind
) -> Onset | None:
    """The onset of the episode the alert is about, when the first onset in the window belongs to an
    earlier one: more than `EPISODE_GAP` before the alert's start, the series came back (three steps
    in a row within a quarter of that first move of its baseline) before the alert started. The
    later onset is searched after the calm, the earlier episode left out of the reference (its spike
    would widen what counts as noise). None: the first onset is the alert's own (a slow burn never
    comes back, so it keeps its early onset), or nothing moved again."""
    if alert_start - onset.time <= EPISODE_GAP:
        return None
    margin = abs(onset.value - onset.baseline_value) / 4
    calm, calm_from = 0, onset.time
    recovered: tuple[datetime, datetime] | None = None  # (the calm's first step, its third)
    for at, value in zip(times, values, strict=True):
        if at <= onset.time or at >= alert_start:
            continue
        calm = calm + 1 if abs(value - onset.baseline_value) <= margin else 0
        if calm == 1:
            calm_from = at
        if calm >= EPISODE_CALM_STEPS:
            recovered = (calm_from, at)
    if recovered is None:
        return None
    masked = [math.nan if onset.time <= at < recovered[0] else v for at, v in zip(times, values, strict=True)]
    later = detect_onset(masked, times, kind=kind, search_from=recovered[1])
    return later if later is not None and later.time > onset.time else None


def replica_counts(text: str) -> tuple[int, int] | None:
    """(before, after) of a replica count a change's text edits: ``replicaCount: 6 -> 3`` or ``6 -> 3
    replicas``; None when it edits none."""
    if (said := REPLICAS_AFTER.search(text)) is not None:
        return int(said.group(1)), int(said.group(2))
    if (edit := REPLICA_EDIT.search(text)) is not None:
        return int(edit.group(2)), int(edit.group(3))
    return None


def _edges_from_series(found: QueryResult, onset: datetime) -> list[EdgeFact]:
    """Per (caller, callee), the call rate summed over outcomes and the failed rate by ``error_type``."""
    by_edge: dict[tuple[str, str], dict[str, list[tuple[datetime, float]]]] = {}
    for series in found.series:
        caller, callee = series.metric.get("service", ""), series.metric.get("server_address", "")
        if caller and callee:
            by_edge.setdefault((caller, callee), {})[series.metric.get("error_type", "")] = series.points()
    edges = []
    for (caller, callee), outcomes in sorted(by_edge.items()):
        times = sorted({t for points in outcomes.values() for t, _ in points})
        aligned = {kind: dict(points) for kind, points in outcomes.items()}
        total = [sum(values.get(t, 0.0) for values in aligned.values()) for t in times]
        failed = {kind: [values.get(t, 0.0) for t in times] for kind, values in aligned.items() if kind}
        edge = edge_from_rates(caller, callee, times, total, failed, onset)
        if edge is not None:
            edges.append(edge)
    return edges


def _any_of(names: list[str]) -> str:
    """A PromQL regex matching exactly one of ``names``."""
    return "|".join(_promql_literal(n) for n in names)


def _promql_literal(text: str) -> str:
    """``text`` matched literally inside a PromQL regex string: regex metacharacters escaped with a
    backslash, itself escaped for the string (``re.escape`` would also escape ``-``, which PromQL's
    string syntax refuses)."""
    return "".join(f"\\\\{c}" if c in ".+*?()[]{}|^$\\" else c for c in text)


WIDENING_LOOKBACK = timedelta(days=30)  # how old a written, not yet run, widening migration may be
# A schema change to a wider integer: what makes room in a counter that ran out.
WIDER_TYPE = re.compile(r"bigint|bigserial|\bint8\b|int64|64.?bit|\bwiden", re.I)
# Runbook workflows: where they live, and the words of a fix for each cause no rollback undoes.
RUNBOOK_REPO = re.compile(r"runbook|playbook", re.I)
RUNBOOK_NOUNS: dict[str, frozenset[str]] = {"certificate": frozenset({"cert", "certs", "certificate", "tls", "mtls"})}
RUNBOOK_VERBS = frozenset({"issue", "reissue", "renew", "rotate", "refresh", "fix", "restore"})
DESTRUCTIVE_WORDS = frozenset({"revoke", "delete", "destroy", "drop", "purge", "wipe", "disable"})
LABEL_PAIR = re.compile(r"\b([a-z][a-z_]*)=([A-Za-z0-9][\w.-]*[A-Za-z0-9])")

APPLY_SKEW = timedelta(minutes=5)  # a pipeline's run and the write it made, as each records its time


def _applying_run(write: Change, changes: list[Change]) -> Change | None:
    """The workflow run that made a ConfigMap write: it ended within `APPLY_SKEW` of the write and its
    text names the ConfigMap. None when no run, or more than one, fits."""
    if not write.id.startswith("configmap-"):
        return None
    name = write.id.removeprefix("configmap-").rsplit("-", 1)[0]
    named = re.compile(rf"(?<![\w-]){re.escape(name)}(?![\w-])", re.I)
    runs = [
        c
        for c in changes
        if c.id.startswith("run-")
        and abs((c.time - write.time).total_seconds()) <= APPLY_SKEW.total_seconds()
        and named.search(f"{c.description}\n{c.diff}")
    ]
    return runs[0] if len(runs) == 1 else None


def root_deployment(bundle: EvidenceBundle, entity: str, category: str = "") -> DeploymentFact | None:
    """The Deployment remediation acts on: the root-cause entity's when the diagnosis names another
    candidate than the alerting service (a dependency, a job sharing its database), with the scale
    change seen on it; else the alerting service's. For a cause fixed on the client side (after a
    datastore failover the callers hold connections to the demoted primary: they are restarted, the
    datastore is left alone) the alerting service's too."""
    facts = bundle.components.get(entity)
    if category in CLIENT_SIDE_CATEGORIES or facts is None or facts.deployment is None:
        pods = bundle.pods
        found = bundle.deployment
    else:
        pods = facts.pods
        found = facts.deployment.model_copy(
            update={"service": entity, "scaled_from": facts.scaled_from, "scale_change": facts.scale_change}
        )
    if found is not None and pods is not None:
        found = found.model_copy(update={"crash_looping": any("CrashLoopBackOff" in r for r in pods.reasons)})
    return found


def mentioned_component(text: str, related: dict[str, int], ctx: AgentContext) -> str:
    """The candidate a change's text names (its service or workload name as a word: a flag file
    ``flags/accounts.json``), nearest first; `GLOBAL_COMPONENT` when it names none or several."""
    lowered = text.lower()
    named = []
    for name, distance in sorted(related.items(), key=lambda item: (item[1], item[0])):
        entry = ctx.catalog.get(name)
        words = {name, entry.deployment_name if entry else name}
        if any(re.search(rf"(?<![a-z0-9-]){re.escape(w.lower())}(?![a-z0-9-])", lowered) for w in words):
            named.append((distance, name))
    nearest = [n for d, n in named if d == named[0][0]] if named else []
    return nearest[0] if len(nearest) == 1 else GLOBAL_COMPONENT


def cluster_target(bundle: EvidenceBundle, diagnosis: Diagnosis) -> ClusterTarget | None:
    """The object outside a Deployment that the root cause lives in: the ConfigMap whose write the
    diagnosis blames (with the revision before it), or the running Job of the workload it blames
    (never the alerting service's own: stopping the failing batch is not fixing it)."""
    if diagnosis.inconclusive or not diagnosis.entity:
        return None
    revert = next(
        (r for r in bundle.config_reverts if diagnosis.change_id and r.change_id == diagnosis.change_id), None
    )
    if revert is not None:
        return revert
    scaled = next((s for s in bundle.statefulsets if diagnosis.change_id and s.change_id == diagnosis.change_id), None)
    if scaled is not None:
        return scaled
    if not diagnosis.change_id:
        # No change in the window, but the entity's logs name a value an earlier write of a ConfigMap
        # it reads introduced (a decommissioned address, a wrong limit): that write is the cause
        # (`EvidenceCollector.named_config_writes` checked it).
        named = next((r for r in bundle.config_reverts if r.service == diagnosis.entity and r.evidence_id), None)
        if named is not None and not named.change_id:
            return named
    if diagnosis.category == "retry_storm" and (settings := bundle.retry_settings(diagnosis.entity)) is not None:
        return settings  # the storm's amplifier: the caller's retry settings, their last write
    if diagnosis.entity == bundle.service:
        return None
    return next((j for j in bundle.jobs if j.service == diagnosis.entity), None)


def introduced_terms(values: list[str]) -> list[str]:
    """What a ConfigMap write introduced, as terms a log line would name: each line's value (after
    ``key:`` or ``key=``), cut to its host part (``collector-legacy.ops.svc:9125`` ->
    ``collector-legacy.ops.svc``). Short values (a number, ``true``) name nothing."""
    terms = []
    for value in values:
        for line in value.splitlines() or [value]:
            item = re.split(r"[:=]\s*", line.strip(), maxsplit=1)[-1].strip().strip("\"'")
            head = re.split(r"[:/,\s]", item, maxsplit=1)[0]
            if len(head) >= 8 and re.fullmatch(r"[\w.\-]+", head):
                terms.append(head)
    return list(dict.fromkeys(terms))


def inspected_deployment(found: DeploymentFact, earlier: DeploymentFact | None) -> DeploymentFact:
    """The deployment as this round found it, with the replica count the first round saw: a scale
    proposed after a failed verification is sized from the service before any action of ours."""
    if (
        earlier is None
        or earlier.replicas is None
        or (earlier.namespace, earlier.name) != (found.namespace, found.name)
    ):
        return found
    return found.model_copy(update={"replicas": earlier.replicas})


# -- reading typed payloads ---------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # sorts a change without a time first


def acted_on(state: IncidentState) -> Hypothesis | None:
    """In a round after our fix ran and its verification failed: the cause it was for (it may have
    been fixed while a second one remains: two faults at once)."""
    ran = any(e.actor == "execution" and e.kind == "executed" for e in state.timeline)
    if not ran or state.diagnosis is None or state.diagnosis.inconclusive or not state.diagnosis.entity:
        return None
    earlier = state.diagnosis
    return Hypothesis(
        entity=earlier.entity,
        category=earlier.category,
        description=f"found and acted on first: {earlier.root_cause}",
        change_id=earlier.change_id,
    )


def _fact_kind(change: Change) -> str:
    """The kind a diagnosis reads: a replica-count change is a scale-up or a scale-down, not a deploy."""
    for direction in ("up", "down"):
        if change.id.startswith(f"scale-{direction}-"):
            return f"scale_{direction}"
    return change.kind


def _log_entries(result: ToolResult) -> list[LogEntry]:
    """The lines of a Loki log query; none for a result without lines (``no_data``)."""
    return result.payload(LogLines).entries if result.ok else []


def _images(images: dict[str, str]) -> str:
    return ", ".join(images.values())


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def traffic_query(error_rate: str | None) -> str | None:
    """The request-rate query inside an error-ratio SLI: the denominator of ``errors / total`` at the
    top level of the expression (``sum(rate(x{code=~"5.."}[5m])) / sum(rate(x[5m]))`` gives
    ``sum(rate(x[5m]))``); None when the SLI is not such a ratio, or divides by a number."""
    if not error_rate:
        return None
    depth = 0
    for index, char in enumerate(error_rate):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "/" and depth == 0:
            denominator = error_rate[index + 1 :].strip()
            # A number is a unit conversion (``1 - success_percent / 100``), not a request rate.
            return None if not denominator or NUMBER.fullmatch(denominator) else denominator
    return None


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"


def _secs(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g}s"


def _excerpt(text: str, limit: int = 240) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
