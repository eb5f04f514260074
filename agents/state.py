"""The incident: typed state that flows through the graph and becomes the incident record.

`IncidentState` is the LangGraph state. Lists that only grow (timeline, evidence, communications)
use an append reducer, so a node returns just its new entries. `IncidentState.record()` produces the
stable incident record contract (extra keys are allowed, the listed ones never change meaning).
"""

from __future__ import annotations

import operator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

IncidentStatus = Literal["open", "awaiting_approval", "mitigated", "resolved", "escalated"]
Severity = Literal["SEV1", "SEV2", "SEV3", "SEV4"]
ActionStatus = Literal["proposed", "approved", "rejected", "executed", "verified", "failed", "superseded"]
Risk = Literal["low", "medium", "high"]
Actor = Literal[
    "supervisor",
    "triage",
    "investigation",
    "remediation",
    "approval",
    "execution",
    "verification",
    "communication",
    "human",
    "system",
]
CommsPhase = Literal["opened", "identified", "mitigated", "resolved", "escalated"]
Step = Literal["triage", "investigate", "remediate", "approve", "execute", "verify", "communicate", "done"]

# The one root-cause vocabulary: what a diagnosis may name, what the LLM's structured output offers,
# what remediation maps to actions and what a scenario's answer key may expect. One value per line,
# so adding a category is one line (then decide in agents/remediation.py which actions address it).
RootCauseCategory = Literal[
    # a change that shipped
    "migration",
    "bad_deploy",
    "config_change",
    "feature_flag",
    # a failure mode of the component itself
    "oom",
    "memory_leak",
    "crash",
    "resource_exhaustion",
    "saturation",
    "disk_full",
    "connection_pool",
    "certificate",
    "dns",
    "noisy_neighbour",
    "traffic_surge",
    "queue_backlog",
    "stampede",  # a cache stampede or another metastable state: load that sustains itself
    "retry_storm",  # retries without backoff amplifying a short failure
    "replication_lag",  # replicas behind their primary, or split brain
    "clock",  # a time-dependent bug or clock skew
    # something between or around the components
    "network",  # a partition, packet loss or added latency on one path
    "service_discovery",  # endpoints or registrations missing or stale
    "quota",  # a quota or rate limit enforced by someone else (a cloud provider, a shared API)
    "monitoring",  # the telemetry itself is wrong: a broken exporter, a bad rule
    # something outside the component
    "dependency",
    "third_party",
    "cascading",
    "failover",
    # nothing to fix: a false alarm, or a real problem that was over before anyone could act
    "no_incident",
    "recovered",
    # no cause could be named
    "unknown",
]
ROOT_CAUSE_CATEGORIES: tuple[RootCauseCategory, ...] = get_args(RootCauseCategory)
# Categories that blame a change: rolling it back is the remedy.
CHANGE_CATEGORIES: frozenset[RootCauseCategory] = frozenset(
    {"migration", "bad_deploy", "config_change", "feature_flag"}
)
# Categories that close an incident without action.
QUIET_CATEGORIES: frozenset[RootCauseCategory] = frozenset({"no_incident", "recovered"})


def utcnow() -> datetime:
    return datetime.now(UTC)


class Alert(BaseModel):
    """The canonical alert every source is normalized to."""

    model_config = ConfigDict(extra="ignore")

    source: str = "alertmanager"
    fingerprint: str
    status: Literal["firing", "resolved"] = "firing"
    name: str
    title: str
    description: str = ""
    severity: str = "warning"
    service: str
    environment: str = "production"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    started_at: datetime
    ended_at: datetime | None = None
    links: list[str] = Field(default_factory=list)


class TimelineEntry(BaseModel):
    at: datetime
    actor: Actor
    kind: str
    text: str


class Evidence(BaseModel):
    """One observation a claim can cite: where it came from, the exact query, what was seen."""

    id: str
    source: str = Field(description="Tool id (e.g. prometheus.query_range) or knowledge:<doc id>.")
    query: str
    observation: str
    window: tuple[datetime, datetime] | None = None
    status: Literal["ok", "no_data", "error"] = "ok"
    at: datetime = Field(default_factory=utcnow)
    data: dict[str, Any] = Field(default_factory=dict, description="Small structured facts for reasoning.")


class RuledOut(BaseModel):
    what: str
    why: str
    evidence_ids: list[str] = Field(default_factory=list)


class Hypothesis(BaseModel):
    entity: str = Field(description="The component or change at fault, e.g. deploy:checkout@abc123.")
    category: RootCauseCategory
    description: str
    score: float = 0.0
    evidence_ids: list[str] = Field(default_factory=list)
    change_id: str = Field(default="", description="The change that caused or triggered it, if one did.")
    stalled: bool = Field(
        default=False,
        description="The entity stopped doing its work without failing (a consumer that consumes nothing): "
        "more replicas stall too; a restart or the rollback of its own release is the fix.",
    )
    contributing: list[Hypothesis] = Field(
        default_factory=list, description="Causes besides this one that it needs to be told whole (its trigger)."
    )


class Diagnosis(BaseModel):
    root_cause: str
    category: RootCauseCategory
    entity: str = ""
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    ruled_out: list[RuledOut] = Field(default_factory=list)
    candidates: list[Hypothesis] = Field(default_factory=list)
    inconclusive: bool = False
    reasoner: str = "deterministic"
    change_id: str = Field(
        default="", description="The change that caused or triggered it (rolling it back is an option)."
    )
    stalled: bool = Field(default=False, description="As `Hypothesis.stalled`: work stopped, nothing failed.")
    contributing: list[Hypothesis] = Field(
        default_factory=list,
        description="Further causes besides the root: what amplified it (retries without backoff), or a second, "
        "independent fault seen at the same time.",
    )


class DeploymentFact(BaseModel):
    """The deployment the investigation inspected: what a rollback, restart or scale would act on."""

    namespace: str
    name: str
    current_revision: int | None = None
    previous_revision: int | None = None
    current_image: str = ""
    previous_image: str = ""
    paused: bool = False
    current_since: datetime | None = Field(default=None, description="When the current revision was rolled out.")
    replicas: int | None = None
    evidence_id: str = ""
    service: str = Field(default="", description="The catalog service it runs (empty: the alerting service).")
    scaled_from: int | None = Field(default=None, description="Replicas before a recent scale change, if one was seen.")
    scale_change: str = Field(default="", description="The id of that scale change.")
    crash_looping: bool = Field(default=False, description="Its pods are in CrashLoopBackOff: already restarting.")
    rolled_back: bool = Field(
        default=False,
        description="It was rolled back to the current revision: the previous one was rolled back as bad.",
    )


class UndoWorkflow(BaseModel):
    """A dispatchable workflow that undoes the diagnosed change where a Deployment rollback cannot
    (a schema migration's down step, a flag revert): what remediation may offer to run."""

    repo: str
    workflow: str = Field(description="Its file name, as workflow_dispatch takes it (db-rollback.yml).")
    ref: str = "main"
    inputs: dict[str, str] = Field(
        default_factory=dict,
        description="Its workflow_dispatch inputs, each filled from a fact (agents.workflow_inputs).",
    )
    reason: str = ""
    evidence_id: str = ""
    runbook: bool = Field(
        default=False, description="A runbook's fix for the cause (no change to undo), not a change's revert."
    )


class ConfigRevert(BaseModel):
    """A ConfigMap write the investigation saw, with the earlier revision a revert would write back."""

    kind: Literal["configmap"] = "configmap"
    change_id: str
    service: str = Field(description="The catalog service that reads it.")
    namespace: str
    name: str
    from_revision: int
    to_revision: int
    data: dict[str, str] = Field(description="The earlier revision's complete data.")
    resource_version: str | None = Field(default=None, description="The ConfigMap's version when it was read.")
    changed_keys: list[str] = Field(default_factory=list)
    introduced: list[str] = Field(default_factory=list, description="The values the write introduced.")
    written: datetime | None = None
    evidence_id: str = ""


class JobTarget(BaseModel):
    """A running Job (a batch started by hand, or a CronJob's run): what stopping it acts on."""

    kind: Literal["job"] = "job"
    service: str
    namespace: str
    name: str
    owner: str | None = Field(default=None, description="The CronJob that started it, if one did.")
    started: datetime | None = None
    started_by: str | None = None
    parallelism: int | None = None
    nodes: list[str] = Field(default_factory=list)
    change_id: str = Field(default="", description="The change its start is recorded as.")
    evidence_id: str = ""
    running: bool = Field(default=True, description="Whether it runs now (False: a CronJob's runs that finished).")
    runs: int = Field(default=1, description="Its CronJob's runs started in the window (this one included).")


class NodeTarget(BaseModel):
    """A node with a problem condition (pressure, NotReady) under some of the candidates' pods."""

    kind: Literal["node"] = "node"
    name: str
    problems: list[str]
    since: datetime | None = None
    cordoned: bool = False
    services: list[str] = Field(default_factory=list, description="Candidates with pods on it.")
    evidence_id: str = ""


class StatefulSetTarget(BaseModel):
    """A StatefulSet whose replica count a recorded change lowered: scaling it back undoes the change."""

    kind: Literal["statefulset"] = "statefulset"
    service: str
    namespace: str
    name: str
    replicas: int = Field(description="Its desired replicas now.")
    scaled_from: int = Field(description="The count before the change.")
    change_id: str
    evidence_id: str = ""


ClusterTarget = Annotated[ConfigRevert | JobTarget | NodeTarget | StatefulSetTarget, Field(discriminator="kind")]


class Usage(BaseModel):
    """Tokens one reasoner call (or a sum of calls) used. The deterministic reasoner uses none.

    Added with ``+``; the incident state sums every step's usage through that (a LangGraph reducer),
    so a node returns only what its own calls used.
    """

    model_config = ConfigDict(frozen=True)

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
        )


class ApprovalRecord(BaseModel):
    decision: Literal["approved", "rejected"]
    by: str
    at: datetime
    comment: str = ""
    edited_from: dict[str, Any] | None = Field(
        default=None, description="The proposed arguments, when the approver edited them (args holds the approved)."
    )


class ProposedAction(BaseModel):
    id: str
    tool: str
    args: dict[str, Any]
    title: str
    rationale: str = ""
    risk: Risk = "medium"
    blast_radius: str = ""
    undo: str = ""
    requires_approval: bool = True
    policy_reason: str = ""
    status: ActionStatus = "proposed"
    approval: ApprovalRecord | None = None
    result_summary: str = ""
    kind: Literal["remediation", "communication"] = "remediation"
    target_state: dict[str, str] = Field(
        default_factory=dict,
        description="What the proposal saw of the object it changes (a Deployment's revision and replicas): "
        "checked again before it runs (agents.target_state).",
    )


class Communication(BaseModel):
    """One message as it was sent: where to, what the upstream answered, under which ledger key."""

    channel: str
    audience: Literal["responders", "stakeholders", "customers"]
    text: str
    at: datetime
    link: str | None = None
    phase: str = Field(default="", description="The incident phase it was sent at (opened, identified...).")
    destination: str = Field(
        default="", description="Where it went: the status page incident, the channel, the people."
    )
    upstream: str = Field(default="", description="What the upstream answered (its summary), or why nothing was sent.")
    action_id: str = Field(default="", description="The ledger key that makes a resumed incident not send it again.")


class CustomerImpact(BaseModel):
    """What customers felt, as measured on the alerting SLI: the communication agent fills it in."""

    capability: str = Field(description="The capability in customer words (the catalog's capability).")
    kind: Literal["errors", "latency", "delay"] = "errors"
    peak: float | None = Field(default=None, description="The SLI's worst value (error ratio, or seconds).")
    baseline: float | None = None
    query: str = ""
    start: datetime | None = None
    end: datetime | None = Field(default=None, description="The verified recovery; None while it lasts.")


class Triage(BaseModel):
    severity: Severity
    service: str
    owner: str
    oncall: str
    customer_facing: bool
    tier: int
    summary: str
    reasons: list[str] = Field(default_factory=list)


class Verification(BaseModel):
    ok: bool
    baseline: float | None
    observed: float | None
    query: str
    detail: str
    at: datetime


def _replace(_old: Any, new: Any) -> Any:
    return new


class IncidentState(BaseModel):
    """Everything the agents know about one incident."""

    id: str
    alert: Alert
    status: IncidentStatus = "open"
    severity: Severity | None = None
    service: str = ""
    summary: str = ""
    triage: Triage | None = None
    evidence: Annotated[list[Evidence], operator.add] = Field(default_factory=list)
    diagnosis: Diagnosis | None = None
    actions: list[ProposedAction] = Field(default_factory=list)
    verification: Verification | None = None
    communications: Annotated[list[Communication], operator.add] = Field(default_factory=list)
    timeline: Annotated[list[TimelineEntry], operator.add] = Field(default_factory=list)
    external_refs: dict[str, str] = Field(default_factory=dict, description="statuspage incident id, chat ts...")
    step: Step = "triage"
    comms_phase: CommsPhase | None = None
    after_comms: Step = "investigate"
    comms_sent: list[str] = Field(default_factory=list)
    # What triage and investigation found that later steps need.
    signal_confirmed: bool | None = Field(
        default=None, description="Triage saw the alert in the SLI (None: not checked). Public posts wait for it."
    )
    deployment: DeploymentFact | None = Field(default=None, description="The deployment the investigation inspected.")
    cluster_target: ClusterTarget | None = Field(
        default=None,
        description="What a fix acts on when it is not a Deployment: a ConfigMap to revert, a Job to stop, a node.",
    )
    undo_workflow: UndoWorkflow | None = Field(
        default=None, description="A workflow that undoes the diagnosed change, when its repository has one."
    )
    onset: datetime | None = Field(default=None, description="When the alerting SLI started to rise.")
    recurrence: str | None = Field(default=None, description="How this incident repeats earlier ones, if it does.")
    sli_query: str = ""
    baseline: float | None = None
    impact: CustomerImpact | None = Field(default=None, description="Customer impact, for messages and the review.")
    budget_exhausted: bool = False
    turns: int = 0
    investigation_rounds: int = 0
    usage: Annotated[Usage, operator.add] = Field(default_factory=Usage, description="Tokens of every reasoner call.")
    notes: Annotated[list[str], operator.add] = Field(default_factory=list)

    @property
    def tokens_used(self) -> int:
        """Every token the reasoners used for this incident, all steps together (the budget's measure)."""
        return self.usage.total_tokens

    def pending_action(self) -> ProposedAction | None:
        return next(
            (a for a in self.actions if a.kind == "remediation" and a.status in ("proposed", "approved")),
            None,
        )

    def record(self) -> dict[str, Any]:
        """The incident record: a stable JSON contract (see README, "The incident record")."""
        diagnosis = self.diagnosis
        return {
            "id": self.id,
            "status": self.status,
            "severity": self.severity,
            "service": self.service,
            "summary": self.summary,
            "diagnosis": None
            if diagnosis is None
            else {
                "root_cause": diagnosis.root_cause,
                "category": diagnosis.category,
                "entity": diagnosis.entity,
                "confidence": diagnosis.confidence,
                "inconclusive": diagnosis.inconclusive,
                "reasoner": diagnosis.reasoner,
                "change_id": diagnosis.change_id,
                "evidence": [
                    {
                        "id": e.id,
                        "source": e.source,
                        "query": e.query,
                        "observation": e.observation,
                        "window": [e.window[0].isoformat(), e.window[1].isoformat()] if e.window else None,
                    }
                    for e in diagnosis.evidence
                ],
                "ruled_out": [r.model_dump(mode="json") for r in diagnosis.ruled_out],
                "candidates": [c.model_dump(mode="json") for c in diagnosis.candidates],
                "contributing": [c.model_dump(mode="json") for c in diagnosis.contributing],
                "stalled": diagnosis.stalled,
            },
            "actions": [
                {
                    "id": a.id,
                    "tool": a.tool,
                    "args": a.args,
                    "title": a.title,
                    "kind": a.kind,
                    "risk": a.risk,
                    "blast_radius": a.blast_radius,
                    "undo": a.undo,
                    "requires_approval": a.requires_approval,
                    "status": a.status,
                    "approval": a.approval.model_dump(mode="json") if a.approval else None,
                    "result": a.result_summary,
                }
                for a in self.actions
            ],
            "verification": self.verification.model_dump(mode="json") if self.verification else None,
            "communications": [c.model_dump(mode="json") for c in self.communications],
            "timeline": [t.model_dump(mode="json") for t in self.timeline],
            "consulted": sorted({e.source for e in self.evidence}),
            "recurrence": self.recurrence,
            "impact": self.impact.model_dump(mode="json") if self.impact else None,
            "alert": self.alert.model_dump(mode="json"),
            "external_refs": self.external_refs,
            "tokens_used": self.tokens_used,
            "usage": {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens},
        }
