"""What an investigation gathered, in structured form, with every fact tied to a citable `Evidence`.

Reasoners read an `EvidenceBundle`; they may only cite `Evidence` ids that exist in it (the
evidence gate in `agents/gate.py` enforces that).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from agents.analytics.edges import EdgeLatency, ServiceSignals
from agents.call_edges import EdgeFact
from agents.gauges import GaugeMove
from agents.rollout import RolloutStep

# DeploymentFact lives with the state (the incident carries the inspected deployment); imported here
# so a bundle's readers find it with the other facts.
from agents.state import (
    Alert,
    ConfigRevert,
    DeploymentFact,
    Evidence,
    Hypothesis,
    JobTarget,
    NodeTarget,
    StatefulSetTarget,
)

RETRY_KEYS = re.compile(r"retr(y|ies)|backoff", re.I)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

__all__ = [
    "ChangeFact",
    "ComponentFacts",
    "DeploymentFact",
    "EvidenceBundle",
    "KnowledgeFact",
    "LogFact",
    "PodFact",
    "ProviderFact",
    "SignalSummary",
]


class SignalSummary(BaseModel):
    """One SLI of one service over the investigation window."""

    service: str
    signal: str = "error_rate"
    query: str
    baseline: float | None = None
    current: float | None = None
    peak: float | None = None
    onset: datetime | None = None
    anomalous: bool = False
    evidence_id: str = ""
    missing: bool = Field(default=False, description="The query returned no samples: unknown, not healthy.")
    falling: bool = Field(
        default=False,
        description="Anomalous because it fell (traffic that stopped: a stalled consumer), not because it rose; "
        "`peak` is then the lowest value.",
    )
    times: list[datetime] = Field(default_factory=list, description="The samples, for the graph ranker.")
    values: list[float] = Field(default_factory=list)


class ChangeFact(BaseModel):
    """A change in the blast radius before the onset, scored by the change correlator."""

    id: str
    kind: str = Field(description="deploy, migration, config, flag, commit")
    service: str
    at: datetime
    description: str
    distance: int = 0
    score: float = 0.0
    linked_tokens: list[str] = Field(default_factory=list, description="Identifiers shared with error logs.")
    text_link: float = Field(default=0.0, description="0..1: how strongly its text links to the errors.")
    reasons: list[str] = Field(default_factory=list)
    evidence_id: str = ""
    ref: str = Field(default="", description="sha or revision the change produced")
    repo: str = Field(default="", description="The repository it was recorded in, if any.")
    touches_all: bool = Field(
        default=False,
        description="It names no one component (a shared policy, flag or config repository's change): "
        "`service` is where it is read, but it may be the trigger of any candidate's failure.",
    )
    rollout: RolloutStep | None = Field(
        default=None, description="The percentage-rollout step it made, when its text records one (agents.rollout)."
    )


class LogFact(BaseModel):
    service: str = ""
    template: str
    count_before: int
    count_after: int
    example: str
    is_new: bool
    evidence_id: str = ""


class PodFact(BaseModel):
    total: int
    ready: int
    restarts: int
    reasons: list[str] = Field(default_factory=list)
    evidence_id: str = ""
    nodes: list[str] = Field(default_factory=list, description="The nodes its pods run on.")
    configmaps: list[str] = Field(default_factory=list, description="The ConfigMaps its pods read.")
    probe_killed: bool = Field(default=False, description="Its restarts are the kubelet's, on failed liveness probes.")
    probe_evidence_id: str = ""

    @property
    def healthy(self) -> bool:
        return self.total > 0 and self.ready == self.total and self.restarts == 0 and not self.reasons


class ProviderFact(BaseModel):
    """What a third party's public status page says: its overall indicator and the incident it has
    not resolved that names the most components (if any)."""

    indicator: str = Field(description="none, minor, major, critical")
    incident: str = Field(default="", description="The unresolved incident's name, if one is open.")
    status: str = ""
    started: datetime | None = None
    latest: str = Field(default="", description="Its latest update's text.")
    evidence_id: str = ""

    @property
    def reports_trouble(self) -> bool:
        return bool(self.incident) or self.indicator in ("minor", "major", "critical")


class CertificateFact(BaseModel):
    """A certificate a component presents or serves whose expiry a metric reports (cert-manager, the
    blackbox exporter, an x509 exporter, the application's own gauge)."""

    service: str
    subject: str = Field(description="What the series' labels say it is (secret, peer, name...).")
    not_after: datetime
    evidence_id: str = ""


class ComponentFacts(BaseModel):
    """What the investigation saw of one candidate in the blast radius (callers and callees of the
    alerting service, transitively): its kind, where it sits, its pods, its logs, its Deployment."""

    service: str
    kind: str = "service"
    distance: int = 0
    dependencies: list[str] = Field(default_factory=list, description="Its callees among the candidates.")
    pods: PodFact | None = None
    logs: list[LogFact] = Field(default_factory=list)
    deployment: DeploymentFact | None = None
    scaled_from: int | None = Field(default=None, description="Replicas before a scale change seen in its events.")
    scale_change: str = Field(default="", description="The id of that scale change, if any.")
    shared: bool = Field(default=False, description="Shared infrastructure outside the call graph (no edges).")
    description: str = Field(default="", description="What the catalog says it does (cluster DNS, the internal CA).")
    provider: ProviderFact | None = Field(default=None, description="A third party's own status page, when read.")


class KnowledgeFact(BaseModel):
    source_id: str
    kind: str
    title: str
    excerpt: str
    evidence_id: str = ""


class AlertSource(BaseModel):
    """The caller of the alerting service that exports the metric the alert's rule reads (a prober, a
    synthetic check): the alert is its measurement of the service (`agents.alert_source`)."""

    component: str
    selector: str
    value: float | None = None
    evidence_id: str = ""


class EvidenceBundle(BaseModel):
    """Everything one investigation round found."""

    service: str
    service_namespace: str = Field(default="", description="The alerting service's Kubernetes namespace.")
    alert: Alert
    primary: SignalSummary | None = None
    alert_source: AlertSource | None = Field(
        default=None, description="Read only when the alerting service's own SLI looks normal."
    )
    earlier: Hypothesis | None = Field(
        default=None,
        description="The cause an earlier round found and acted on, in a round after its fix ran and verification "
        "failed: if this round finds another, both were causes.",
    )
    dependencies: list[SignalSummary] = Field(default_factory=list)
    own: list[SignalSummary] = Field(default_factory=list, description="The alerting service's other SLIs.")
    changes: list[ChangeFact] = Field(default_factory=list)
    logs: list[LogFact] = Field(default_factory=list)
    pods: PodFact | None = None
    deployment: DeploymentFact | None = None
    knowledge: list[KnowledgeFact] = Field(default_factory=list)
    components: dict[str, ComponentFacts] = Field(
        default_factory=dict, description="Every candidate other than the alerting service, by name."
    )
    tool_calls: int = Field(default=0, description="Tool calls the round made.")
    graph: dict[str, list[str]] = Field(
        default_factory=dict, description="caller -> callees among the alerting service and the candidates."
    )
    evidence: list[Evidence] = Field(default_factory=list)
    failures: list[str] = Field(default_factory=list, description="Checks that could not be made, and why.")
    nodes: list[NodeTarget] = Field(default_factory=list, description="Problem nodes under the candidates' pods.")
    jobs: list[JobTarget] = Field(default_factory=list, description="The candidates' Jobs running now.")
    cordoned: list[str] = Field(
        default_factory=list, description="The cluster's cordoned (unschedulable) nodes: a drain or maintenance."
    )
    cordoned_evidence_id: str = ""
    statefulsets: list[StatefulSetTarget] = Field(
        default_factory=list, description="StatefulSets a recorded change scaled down, with the count before."
    )
    certificates: list[CertificateFact] = Field(
        default_factory=list, description="The candidates' certificates expired by now, by their expiry metrics."
    )
    config_reverts: list[ConfigRevert] = Field(
        default_factory=list, description="ConfigMap writes in the window, with the revision before each."
    )
    edges: list[EdgeFact] = Field(
        default_factory=list, description="What each caller sees of each callee it calls: failures before and now."
    )
    gauges: list[GaugeMove] = Field(
        default_factory=list, description="The candidates' own gauges that moved at the onset (beyond their SLIs)."
    )
    edge_latency: list[EdgeLatency] = Field(
        default_factory=list, description="Each call edge's latency at both ends (a mesh's metrics), on `edge_times`."
    )
    edge_times: list[datetime] = Field(default_factory=list, description="The steps `edge_latency` is aligned on.")
    edge_latency_evidence: str = Field(default="", description="The evidence id of the edge latency read.")
    edge_signals: dict[str, ServiceSignals] = Field(
        default_factory=dict,
        description="Each candidate's own gauges by meaning (served latency, saturation), per pod, on `edge_times`.",
    )

    def moved(self, service: str) -> list[GaugeMove]:
        """``service``'s gauges that moved, farthest first."""
        return sorted((g for g in self.gauges if g.service == service), key=lambda g: -g.relative)

    def retry_settings(self, service: str) -> ConfigRevert | None:
        """The last write of ``service``'s ConfigMaps that changed retry or backoff keys, however old: what
        a retry storm's fix writes back."""
        found = [
            r for r in self.config_reverts if r.service == service and any(RETRY_KEYS.search(k) for k in r.changed_keys)
        ]
        return max(found, key=lambda r: r.written or _EPOCH, default=None)

    def evidence_ids(self) -> set[str]:
        return {e.id for e in self.evidence}

    def get(self, evidence_id: str) -> Evidence | None:
        return next((e for e in self.evidence if e.id == evidence_id), None)
