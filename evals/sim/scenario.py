"""The scenario format (version 1): one YAML file describes one simulated incident, as data.

A scenario names the services (`topology`), what changed and when (`changes`), what breaks
(`faults`, with their effect on telemetry, pods and logs), the background log noise (`logs`), the
alerts that fire (`alerts`), what each remediation does to the world (`action_effects`), the SaaS
integrations' fixtures (`integrations`) and what a good responder concludes (`expected`). The engine
(`evals.sim.world`) is generic: everything scenario-specific lives in the file.

Times are offsets from the alert time, the *anchor*: ``-2h50m`` is two hours fifty minutes before
the alert, ``0`` is the alert, ``+5m`` five minutes after. The engine pins the anchor to the wall
clock at start unless the scenario or the caller fixes it.

Skeleton (see ``evals/scenarios/checkout-migration.yaml`` for a complete one, and
``evals/sim/schema.json`` for every field)::

    version: 1
    name: checkout-migration
    description: ...
    tags: [medium, migration]
    seed: 7
    topology:
      services:
        - name: checkout
          tier: 1
          customer_facing: true
          kind: service            # service | database | queue | cache | external
          dependencies: [payments-db]
          namespace: shop
          repo: acme/checkout
          replicas: 3
          image: ghcr.io/acme/checkout:v2.13.2   # running before the first change below
          revision: 6                            # its Kubernetes revision
          baseline: {request_rate: 40, error_ratio: 0.002, latency_p50: 0.04, latency_p99: 0.25, saturation: 0.35}
    changes:
      - id: deploy-checkout-v2.14.0
        type: deploy
        service: checkout
        at: -2h50m
        description: ...
        deploy: {version: v2.14.0, image: ghcr.io/acme/checkout:v2.14.0, revision: 7}
        commit: {sha: <40 hex>, message: ..., author: jdoe, files: [{filename: ..., patch: ...}]}
    faults:
      - id: orders-column-renamed
        type: migration
        target: checkout
        starts_at: -5m
        effects: {error_ratio: 0.35, latency_p99_multiplier: 1.5, logs: [{template: "ERROR ...", rate: 10}]}
    alerts:
      - {name: CheckoutHighErrorRate, fault: orders-column-renamed, fires_at: 0, labels: {...}, annotations: {...}}
    action_effects:
      - {action: kubernetes.rollout_undo, match: {namespace: shop, name: checkout}, effect: "fixes:orders-column-renamed"}
    expected:
      incident: true
      severity: SEV1
      resolution: remediate                  # remediate | escalate | close
      root_cause: {entity: checkout, category: migration, change_id: migration-0042}
      acceptable_remediations: [{tool: kubernetes.rollout_undo, args: {namespace: shop, name: checkout}}]
      requires_approval: [kubernetes.rollout_undo]
      comms_facts: [checkout, rolled back]
      evidence_sources: [metrics, logs, changes, kubernetes]

Every field is documented in ``evals/scenarios/README.md``.

Load a file with `load_scenario`; a problem raises `ScenarioError` whose message names the file and
the field (``faults[0].target: unknown service 'chekout' ...``).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from agents.state import RootCauseCategory
from evals.sim.timeutil import OFFSET_PATTERN, parse_offset

SCENARIO_VERSION = 1
SCHEMA_PATH = Path(__file__).with_name("schema.json")

Offset = Annotated[
    float,
    BeforeValidator(parse_offset),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": OFFSET_PATTERN}, {"type": "number"}],
            "description": "Offset from the alert time: -2h50m, -6m, 0, +30s (a number is seconds).",
        }
    ),
]
Duration = Annotated[
    float,
    BeforeValidator(parse_offset),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": OFFSET_PATTERN}, {"type": "number", "exclusiveMinimum": 0}],
            "description": "A positive length of time: 90s, 2m, 1h (a number is seconds).",
        }
    ),
]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Labels = dict[str, str]

ServiceKind = Literal["service", "database", "queue", "cache", "external"]
ChangeType = Literal["deploy", "migration", "config", "feature_flag", "infrastructure", "scale"]
FaultType = Literal[
    "bad_deploy",
    "migration",
    "config_change",
    "feature_flag",
    "resource_exhaustion",
    "memory_leak",
    "oom",
    "crash",
    "connection_pool",
    "dependency_failure",
    "third_party",
    "traffic_surge",
    "certificate_expiry",
    "dns",
    "network",
    "noisy_neighbour",
    "queue_backlog",
    "cascading",
    "failover",
    "disk_full",
    "capacity",
    "telemetry_gap",
    "other",
]
EvidenceSource = Literal["metrics", "logs", "changes", "kubernetes", "knowledge"]
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
PodStatus = Literal["Running", "CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "Pending", "Error"]
ComponentStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]

# Placeholders a log template may use; ``{{`` and ``}}`` are literal braces.
TEMPLATE_FIELD_RE = re.compile(r"(?<!\{)\{([a-z_]+)(?::([^{}]*))?\}(?!\})")
TEMPLATE_FIELDS = {"latency_ms", "trace_id", "pod", "service", "source", "one_of", "int"}


def template_problems(template: str) -> list[str]:
    """What is wrong with a log template's placeholders (empty when nothing is)."""
    problems = []
    for match in TEMPLATE_FIELD_RE.finditer(template):
        name, arg = match.group(1), match.group(2)
        if name not in TEMPLATE_FIELDS:
            problems.append(f"unknown placeholder {{{name}}} (known: {', '.join(sorted(TEMPLATE_FIELDS))})")
        elif name == "one_of" and not arg:
            problems.append("{one_of:...} needs choices separated by |, e.g. {one_of:GET|POST}")
        elif name == "int" and (arg is None or not re.fullmatch(r"\d+-\d+", arg)):
            problems.append("{int:...} needs a range, e.g. {int:10-99}")
    rest = TEMPLATE_FIELD_RE.sub("", template).replace("{{", "").replace("}}", "")
    if "{" in rest or "}" in rest:
        problems.append("write a literal brace as {{ or }} (a single one is read as a placeholder)")
    return problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Scalar = str | int | float | bool


class Comparison(_Model):
    """A numeric condition on an action argument, e.g. ``{gte: 6}`` for "scaled to 6 replicas or more".
    Every key given must hold."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Comparison:
        if all(v is None for v in (self.gt, self.gte, self.lt, self.lte)):
            raise ValueError("a comparison needs at least one of gt, gte, lt, lte")
        if self.witness() is None:
            raise ValueError("no number satisfies this comparison")
        return self

    @model_serializer(mode="plain")
    def _only_given(self) -> dict[str, float]:
        """``{"gte": 6.0}``, not every bound with nulls."""
        return {k: v for k, v in (("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte)) if v is not None}

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (
            (self.gt is None or value > self.gt)
            and (self.gte is None or value >= self.gte)
            and (self.lt is None or value < self.lt)
            and (self.lte is None or value <= self.lte)
        )

    def witness(self) -> int | float | None:
        """A number that satisfies the comparison (an integer when one does), for consistency checks."""
        lows = [v for v in (self.gt, self.gte) if v is not None]
        highs = [v for v in (self.lt, self.lte) if v is not None]
        low, high = max(lows, default=-math.inf), min(highs, default=math.inf)
        candidates: list[int | float] = [0]
        if math.isfinite(low):
            candidates += [math.floor(low) + 1, math.ceil(low)]
        if math.isfinite(high):
            candidates += [math.ceil(high) - 1, math.floor(high)]
        if math.isfinite(low) and math.isfinite(high):
            candidates.append((low + high) / 2)
        return next((c for c in candidates if self.holds(c)), None)


ArgMatch = Scalar | Comparison


def args_match(spec: dict[str, ArgMatch], args: dict[str, Any]) -> bool:
    """Whether a tool call's ``args`` satisfy ``spec``: every named argument equal (or, for a
    `Comparison`, satisfying it). Arguments the spec does not name are free."""
    for name, wanted in spec.items():
        if name not in args:
            return False
        value = args[name]
        if isinstance(wanted, Comparison):
            if not wanted.holds(value):
                return False
        elif isinstance(wanted, bool) or isinstance(value, bool):
            if value is not wanted:
                return False
        elif value != wanted:
            return False
    return True


def witness_args(spec: dict[str, ArgMatch]) -> dict[str, Any]:
    """Concrete arguments that satisfy ``spec`` (comparisons replaced by a satisfying number)."""
    return {name: (wanted.witness() if isinstance(wanted, Comparison) else wanted) for name, wanted in spec.items()}


class Baseline(_Model):
    """A service's healthy telemetry. For a database, request_rate is queries per second and
    saturation is the share of connections in use."""

    request_rate: float = Field(ge=0, description="Requests (or queries) per second.")
    error_ratio: Ratio = 0.001
    latency_p50: float = Field(default=0.05, gt=0, description="Median latency, seconds.")
    latency_p99: float = Field(default=0.25, gt=0, description="99th percentile latency, seconds.")
    saturation: Ratio = Field(default=0.3, description="CPU usage ratio (connections in use, for a database).")
    memory: Ratio = Field(default=0.5, description="Memory usage ratio.")
    max_connections: int = Field(default=100, ge=1, description="Database connection limit.")
    methods: dict[str, float] = Field(
        default_factory=lambda: {"GET": 0.7, "POST": 0.3},
        description="Share of requests per HTTP method (normalised).",
    )

    @model_validator(mode="after")
    def _p99_not_below_p50(self) -> Baseline:
        if self.latency_p99 < self.latency_p50:
            raise ValueError("latency_p99 must not be below latency_p50")
        if not self.methods or any(share <= 0 for share in self.methods.values()):
            raise ValueError("methods must name at least one method, each with a positive share")
        return self


MetricName = Annotated[str, Field(pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")]


class GaugeSpec(_Model):
    """An extra gauge a service exports besides the standard series: disk usage, pool connections,
    queue depth, a certificate's expiry time... Faults move it with `GaugeEffect`."""

    name: MetricName
    labels: Labels = Field(default_factory=dict, description="Extra labels (service, namespace and job are added).")
    value: float | None = Field(default=None, description="Its healthy value.")
    timestamp: Offset | None = Field(
        default=None, description="Instead of value: the value is the Unix time of this offset (e.g. a certificate's notAfter)."
    )
    noise: float = Field(default=0.0, ge=0, le=1, description="Relative standard deviation of the noise (0.01 = 1%).")
    integer: bool = Field(default=False, description="Round to whole numbers (counts such as connections or messages).")

    @model_validator(mode="after")
    def _one_value(self) -> GaugeSpec:
        if (self.value is None) == (self.timestamp is None):
            raise ValueError("give exactly one of value or timestamp")
        return self


class CatalogSLI(_Model):
    """Overrides of the SLI queries the generated service catalog lists (PromQL the simulator answers)."""

    error_rate: str | None = None
    latency_p99: str | None = None
    saturation: str | None = None


class ServiceSpec(_Model):
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
    description: str = ""
    tier: int = Field(default=3, ge=1, le=4)
    customer_facing: bool = False
    kind: ServiceKind = "service"
    dependencies: list[str] = Field(default_factory=list)
    namespace: str = "default"
    deployment: str | None = Field(default=None, description="Kubernetes Deployment name; defaults to the service name.")
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    replicas: int = Field(default=2, ge=0)
    image: str | None = Field(default=None, description="Image running before the scenario's first deploy.")
    revision: int = Field(default=1, ge=1, description="Kubernetes revision of that image.")
    deployed_at: Offset = Field(default=-7 * 86400.0, description="When that revision rolled out.")
    env: dict[str, str] = Field(default_factory=dict, description="Container environment of that revision.")
    baseline: Baseline
    gauges: list[GaugeSpec] = Field(default_factory=list, description="Extra gauges the service exports.")
    # What the generated service catalog says about the service (evals.sim.catalog).
    owner: str | None = Field(default=None, description="Owning team; defaults to one derived from the PagerDuty escalation policy.")
    runbooks: list[str] = Field(default_factory=list, description="Runbook ids the catalog lists.")
    chat_channel: str | None = Field(default=None, description="Slack channel id; defaults to the first channel.")
    sli: CatalogSLI = Field(default_factory=CatalogSLI, description="Overrides of the catalog's SLI queries.")

    @property
    def deployment_name(self) -> str | None:
        """The Kubernetes Deployment, or None for an external service (nothing runs in the cluster)."""
        if self.kind == "external":
            return None
        return self.deployment or self.name


class Topology(_Model):
    services: list[ServiceSpec] = Field(min_length=1)


class Author(_Model):
    login: str
    name: str = ""
    email: str = ""

    @model_validator(mode="before")
    @classmethod
    def _from_login(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"login": value}
        return value

    @model_validator(mode="after")
    def _defaults(self) -> Author:
        self.name = self.name or self.login
        self.email = self.email or f"{self.login}@users.noreply.github.com"
        return self


class FileChange(_Model):
    filename: str
    status: Literal["added", "removed", "modified", "renamed"] = "modified"
    patch: str = ""
    previous_filename: str | None = None


class Commit(_Model):
    sha: str = Field(pattern=r"^[0-9a-f]{40}$")
    message: str
    author: Author | None = Field(default=None, description="Defaults to the change's author.")
    committed_at: Offset | None = Field(default=None, description="Defaults to 10 minutes before the change.")
    repo: str | None = Field(default=None, description="Defaults to the service's repo.")
    files: list[FileChange] = Field(default_factory=list)


class DeploySpec(_Model):
    version: str
    image: str | None = Field(default=None, description="Defaults to the image running before (a config-only rollout).")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables this rollout sets (merged over the previous revision's)."
    )
    revision: int | None = Field(default=None, ge=1, description="Kubernetes revision; defaults to the next one.")
    environment: str = "production"
    ref: str | None = Field(default=None, description="Git ref deployed; defaults to the version.")


class WorkflowRunSpec(_Model):
    """A GitHub Actions run that carried the change out (a migration job, a config push)."""

    name: str
    path: str | None = Field(default=None, description="Defaults to .github/workflows/<name>.yml")
    id: int | None = Field(default=None, description="Workflow id; derived from the path when absent.")
    run_id: int | None = None
    duration: Duration = 120.0
    event: str = "workflow_dispatch"
    conclusion: Literal["success", "failure", "cancelled", "timed_out"] = "success"
    branch: str = "main"


class Change(_Model):
    id: str
    type: ChangeType
    service: str
    at: Offset = Field(description="When the change took effect (deploy finished, migration completed).")
    description: str
    author: Author | None = None
    commit: Commit | None = None
    deploy: DeploySpec | None = Field(default=None, description="Required for type deploy; a config or feature_flag "
                                      "change that rolls the Deployment out (new env, same image) has one too.")
    replicas: int | None = Field(default=None, ge=0, description="For type scale: the replica count the Deployment was scaled to.")
    workflow: WorkflowRunSpec | None = None


class LogTemplate(_Model):
    template: str = Field(description="A log line; placeholders: {latency_ms} {trace_id} {pod} {service} "
                          "{source} {one_of:a|b} {int:10-99}.")
    rate: float = Field(gt=0, description="Lines per second.")

    @field_validator("template")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        problems = template_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


class PodEventSpec(_Model):
    """A Kubernetes event recorded for each affected pod while the fault lasts (e.g. OOMKilling, Evicted)."""

    reason: str = Field(pattern=r"^[A-Za-z]+$")
    message: str = Field(description="The event message; {pod}, {namespace} and {node} are filled in.")
    type: Literal["Normal", "Warning"] = "Warning"
    every: Duration = Field(default=60.0, description="The event's count grows by one this often.")
    component: str = "kubelet"


class PodEffect(_Model):
    status: PodStatus = "Running"
    ready: bool = True
    restarts_per_hour: float = Field(default=0.0, ge=0)
    last_termination_reason: str | None = Field(default=None, description="e.g. OOMKilled, Error")
    exit_code: int | None = None
    affected: int | None = Field(default=None, ge=0, description="How many pods; all when absent.")
    events: list[PodEventSpec] = Field(default_factory=list, description="Extra events per affected pod.")


class GaugeEffect(_Model):
    """Moves one of the target's `GaugeSpec` gauges while the fault lasts."""

    name: MetricName
    labels: Labels = Field(default_factory=dict, description="Selects among the gauges of that name; all when empty.")
    value: float | None = None
    timestamp: Offset | None = Field(default=None, description="Instead of value: the Unix time of this offset.")
    shape: Literal["ramp", "step"] = Field(
        default="ramp",
        description="ramp: moves linearly from the healthy value at the fault's builds_from to this value at its start; "
        "step: shows this value from builds_from (or the start) on.",
    )

    @model_validator(mode="after")
    def _one_value(self) -> GaugeEffect:
        if (self.value is None) == (self.timestamp is None):
            raise ValueError("give exactly one of value or timestamp")
        return self


class FaultEffects(_Model):
    error_ratio: Ratio | None = Field(default=None, description="Error ratio while the fault is active.")
    latency_p50_multiplier: float = Field(default=1.0, gt=0)
    latency_p99_multiplier: float = Field(default=1.0, gt=0)
    request_rate_multiplier: float = Field(default=1.0, ge=0)
    saturation: Ratio | None = None
    memory: Ratio | None = None
    available: bool = Field(default=True, description="False: the target stops answering (up=0, no samples).")
    metrics_missing: bool = Field(
        default=False,
        description="True: Prometheus cannot scrape the target (up=0, no other samples) although it keeps serving.",
    )
    gauges: list[GaugeEffect] = Field(default_factory=list, description="How the target's extra gauges move.")
    pods: PodEffect | None = None
    logs: list[LogTemplate] = Field(default_factory=list)


class Propagation(_Model):
    """How a fault spreads to the services that call its target."""

    attenuation: float = Field(default=0.5, gt=0, le=1, description="Share of the effect per hop.")
    max_hops: int = Field(default=1, ge=1)
    logs: list[LogTemplate] = Field(default_factory=list, description="Lines the callers log; {source} is the target.")


class Fault(_Model):
    id: str
    type: FaultType
    target: str
    description: str = ""
    change: str | None = Field(default=None, description="The change that caused it.")
    starts_at: Offset
    ends_at: Offset | None = Field(default=None, description="When it clears by itself; never when absent.")
    builds_from: Offset | None = Field(
        default=None,
        description="When the condition starts building up (a leak, a filling disk, a growing backlog): saturation, "
        "memory and gauges move from here to their full value at starts_at; errors, latency, pods and logs start at starts_at.",
    )
    background: bool = Field(
        default=False,
        description="Scenery rather than the incident (a telemetry gap, a known flaky job): no remediation is expected for it.",
    )
    effects: FaultEffects
    propagates: Propagation | None = None


class Alert(_Model):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    labels: Labels = Field(default_factory=dict)
    annotations: Labels = Field(default_factory=dict)
    fault: str | None = Field(default=None, description="The fault whose presence keeps the alert firing.")
    fires_at: Offset = 0.0
    resolves_after: Duration = Field(default=300.0, description="Delay between the fault clearing and resolution.")
    expr: str | None = Field(default=None, description="The alerting rule's expression (for generatorURL).")
    group_by: list[str] = Field(default_factory=lambda: ["alertname"])
    pagerduty_service: str | None = Field(default=None, description="PagerDuty service id it pages.")


EFFECT_PATTERN = r"^(none|(fixes|worsens|mitigates):\S+)$"
EffectKind = Literal["none", "fixes", "worsens", "mitigates"]


def _effects_list(value: Any) -> Any:
    """One effect or a list of them; each must be none, fixes:<fault>, worsens:<fault> or mitigates:<fault>."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("expected at least one effect")
    for item in items:
        if not isinstance(item, str) or not re.match(EFFECT_PATTERN, item):
            raise ValueError(f"expected none, fixes:<fault>, worsens:<fault> or mitigates:<fault> (or a list of them), got {item!r}")
    return value


Effects = Annotated[
    str | list[str],
    BeforeValidator(_effects_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": EFFECT_PATTERN},
                {"type": "array", "items": {"type": "string", "pattern": EFFECT_PATTERN}, "minItems": 1},
            ],
            "description": "none, fixes:<fault>, worsens:<fault>, mitigates:<fault>, or a list of these.",
        }
    ),
]


class ActionEffect(_Model):
    """What one tool call does to the world. The first rule whose ``match`` the call satisfies applies."""

    action: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. kubernetes.rollout_undo")
    match: dict[str, ArgMatch] = Field(
        default_factory=dict,
        description="Arguments that must be equal (or satisfy a comparison such as {gte: 6}) for the rule to apply.",
    )
    effect: Effects = Field(
        description="none, fixes:<fault> (ends it), worsens:<fault> (multiplies its severity by factor), "
        "mitigates:<fault> (suspends it for relapse_after, then it comes back); or a list of these."
    )
    factor: float = Field(default=1.5, gt=1, description="For worsens: how much the fault's effect grows.")
    relapse_after: Duration = Field(default=900.0, description="For mitigates: how long the relief lasts.")

    @property
    def effects(self) -> list[tuple[EffectKind, str | None]]:
        """Each effect as (kind, fault id); ``none`` has no fault."""
        listed = self.effect if isinstance(self.effect, list) else [self.effect]
        out: list[tuple[EffectKind, str | None]] = []
        for item in listed:
            head, _, fault = item.partition(":")
            kind: EffectKind = "fixes" if head == "fixes" else "worsens" if head == "worsens" else (
                "mitigates" if head == "mitigates" else "none"
            )
            out.append((kind, fault or None))
        return out

    def does(self, kind: EffectKind, fault: str | None = None) -> bool:
        return any(k == kind and (fault is None or f == fault) for k, f in self.effects)

    @property
    def effect_text(self) -> str:
        """The effects as one string (``fixes:a, fixes:b``), as applied actions record them."""
        return ", ".join(self.effect) if isinstance(self.effect, list) else self.effect


class StatuspageComponent(_Model):
    id: str
    name: str
    service: str | None = None
    status: ComponentStatus = "operational"
    description: str = ""


class StatuspageSpec(_Model):
    page_id: str
    name: str = "Status"
    components: list[StatuspageComponent] = Field(default_factory=list)


class SlackChannel(_Model):
    id: str = Field(pattern=r"^[CGD][A-Z0-9]+$")
    name: str


class SlackSpec(_Model):
    team_id: str = "T0SIM"
    bot_user_id: str = "U0FIRSTLINE"
    bot_id: str = "B0FIRSTLINE"
    channels: list[SlackChannel] = Field(default_factory=list)


class PagerDutyRef(_Model):
    id: str
    name: str


class PagerDutyUser(_Model):
    id: str
    name: str
    email: str


class PagerDutyService(_Model):
    id: str
    name: str
    service: str | None = Field(default=None, description="The topology service it covers.")
    escalation_policy: str = Field(description="Escalation policy id.")


class PagerDutyOnCall(_Model):
    user: str = Field(description="User id.")
    escalation_policy: str
    schedule: str | None = None
    level: int = Field(default=1, ge=1)


class PagerDutySpec(_Model):
    users: list[PagerDutyUser] = Field(default_factory=list)
    escalation_policies: list[PagerDutyRef] = Field(default_factory=list)
    schedules: list[PagerDutyRef] = Field(default_factory=list)
    services: list[PagerDutyService] = Field(default_factory=list)
    oncalls: list[PagerDutyOnCall] = Field(default_factory=list)


class GitHubWorkflow(_Model):
    """A workflow that can be dispatched (a workflow referenced by a change is declared implicitly)."""

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    name: str
    path: str | None = Field(default=None, description="Defaults to .github/workflows/<name>.yml")
    id: int | None = None


class GitHubSpec(_Model):
    workflows: list[GitHubWorkflow] = Field(default_factory=list)


class Integrations(_Model):
    github: GitHubSpec = Field(default_factory=GitHubSpec)
    statuspage: StatuspageSpec | None = None
    slack: SlackSpec = Field(default_factory=SlackSpec)
    pagerduty: PagerDutySpec = Field(default_factory=PagerDutySpec)


def _earlier_names_in_schema(renames: dict[str, str]) -> Any:
    """A ``json_schema_extra`` hook listing each field's earlier name as a deprecated property."""

    def extra(schema: dict[str, Any]) -> None:
        properties = schema.get("properties", {})
        for old, new in renames.items():
            if new in properties:
                properties[old] = {**properties[new], "deprecated": True, "description": f"Earlier name of {new}."}

    return extra


def _renamed(value: Any, renames: dict[str, str]) -> Any:
    """Accept a field's earlier name (format v1 files written before the rename keep loading)."""
    if isinstance(value, dict):
        for old, new in renames.items():
            if old in value and new not in value:
                value = {**value, new: value[old]}
                del value[old]
    return value


class RootCause(_Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_earlier_names_in_schema({"change": "change_id"}))

    entity: str = Field(description="The service or dependency at fault (a topology name).")
    # The responder's own vocabulary (`agents.state.RootCauseCategory`), so a scorer compares exactly.
    category: RootCauseCategory
    change_id: str | None = Field(default=None, description="The id of the change that caused it (earlier name: change).")

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"change": "change_id"})


class ExpectedAction(_Model):
    """A tool call, as the scorer matches it: the tool, and a subset of its arguments."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_earlier_names_in_schema({"action": "tool", "match": "args"}))

    tool: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. kubernetes.rollout_undo (earlier name: action)")
    args: dict[str, ArgMatch] = Field(
        default_factory=dict,
        description="Arguments the call must carry, equal or satisfying a comparison like {gte: 6} (earlier name: match).",
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"action": "tool", "match": "args"})

    def matches(self, tool: str, args: dict[str, Any]) -> bool:
        """Whether a call (``kubernetes.rollout_undo`` with its arguments) is this action."""
        return tool == self.tool and args_match(self.args, args)


Resolution = Literal["remediate", "escalate", "close"]


class Expected(_Model):
    """What a good responder concludes and does; precise enough for an automated scorer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_earlier_names_in_schema(
            {"remediations": "acceptable_remediations", "communication_facts": "comms_facts"}
        ),
    )

    incident: bool = Field(description="Whether an incident should be declared at all (false for a false alarm).")
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] | None = None
    resolution: Resolution | None = Field(
        default=None,
        description="remediate: one of acceptable_remediations resolves it; escalate: nothing the agents can do fixes it, "
        "hand over to humans; close: nothing to do (false alarm, already recovered). Derived when absent.",
    )
    root_cause: RootCause | None = None
    other_causes: list[RootCause] = Field(
        default_factory=list, description="Further independent root causes when several faults overlap; a complete diagnosis names all."
    )
    acceptable_remediations: list[ExpectedAction] = Field(
        default_factory=list, description="Any one of these is an acceptable fix (earlier name: remediations)."
    )
    harmful_actions: list[ExpectedAction] = Field(
        default_factory=list, description="Actions that make it worse (the scenario's worsens: effects)."
    )
    requires_approval: list[str] = Field(default_factory=list, description="Tools that must wait for a human.")
    comms_facts: list[str] = Field(
        default_factory=list, description="Phrases the communications must contain (earlier name: communication_facts)."
    )
    evidence_sources: list[EvidenceSource] = Field(
        default_factory=list, description="Evidence a careful investigator must consult to get it right."
    )
    red_herrings: list[str] = Field(default_factory=list, description="Change ids that look suspicious but are not the cause.")

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"remediations": "acceptable_remediations", "communication_facts": "comms_facts"})

    @model_validator(mode="after")
    def _derive_resolution(self) -> Expected:
        if self.resolution is None:
            self.resolution = "close" if not self.incident else "remediate" if self.acceptable_remediations else "escalate"
        return self

    # Earlier names, for readers of format v1 objects.
    @property
    def remediations(self) -> list[ExpectedAction]:
        return self.acceptable_remediations

    @property
    def communication_facts(self) -> list[str]:
        return self.comms_facts


class Scenario(_Model):
    """One simulated incident. Field-level docs: module docstring and ``schema.json``."""

    version: Literal[1]
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str
    tags: list[str] = Field(default_factory=list)
    seed: int = 0
    anchor: datetime | None = Field(default=None, description="Fixed alert time; the wall clock at start when absent.")
    topology: Topology
    changes: list[Change] = Field(default_factory=list)
    faults: list[Fault] = Field(default_factory=list)
    logs: dict[str, list[LogTemplate]] = Field(default_factory=dict, description="Background log lines per service.")
    alerts: list[Alert] = Field(default_factory=list)
    action_effects: list[ActionEffect] = Field(default_factory=list)
    integrations: Integrations = Field(default_factory=Integrations)
    expected: Expected

    def service(self, name: str) -> ServiceSpec:
        for spec in self.topology.services:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def fault(self, fault_id: str) -> Fault:
        for fault in self.faults:
            if fault.id == fault_id:
                return fault
        raise KeyError(fault_id)

    def change(self, change_id: str) -> Change:
        for change in self.changes:
            if change.id == change_id:
                return change
        raise KeyError(change_id)

    def alert(self, name: str) -> Alert:
        for alert in self.alerts:
            if alert.name == name:
                return alert
        raise KeyError(name)

    @property
    def difficulty(self) -> Difficulty | None:
        """The easy / medium / hard tag, if any."""
        return next((tag for tag in DIFFICULTIES if tag in self.tags), None)

    @property
    def incident_faults(self) -> list[Fault]:
        """The faults that make up the incident (not the `background` ones)."""
        return [f for f in self.faults if not f.background]

    def effect_for(self, action: str, args: dict[str, Any]) -> ActionEffect | None:
        """The first ``action_effects`` rule the call satisfies, or None (the call changes nothing)."""
        for rule in self.action_effects:
            if rule.action == action and args_match(rule.match, args):
                return rule
        return None

    @model_validator(mode="after")
    def _references_resolve(self) -> Scenario:
        problems = _reference_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _unknown(kind: str, name: str, known: set[str]) -> str:
    return f"unknown {kind} {name!r} (known: {', '.join(sorted(known)) or 'none'})"


def _duplicates(values: list[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _reference_problems(scenario: Scenario) -> list[str]:
    """Every cross-reference that does not resolve, each prefixed with the field it sits in."""
    problems: list[str] = []
    services = {s.name for s in scenario.topology.services}
    faults = {f.id for f in scenario.faults}
    changes = {c.id for c in scenario.changes}

    for dup in _duplicates([s.name for s in scenario.topology.services]):
        problems.append(f"topology.services: duplicate service name {dup!r}")
    for i, spec in enumerate(scenario.topology.services):
        for dep in spec.dependencies:
            if dep not in services:
                problems.append(f"topology.services[{i}].dependencies: {_unknown('service', dep, services)}")
            elif dep == spec.name:
                problems.append(f"topology.services[{i}].dependencies: a service cannot depend on itself")
        if spec.deployment_name and spec.image is None:
            problems.append(f"topology.services[{i}].image: required for a service that runs in Kubernetes")

    for dup in _duplicates([c.id for c in scenario.changes]):
        problems.append(f"changes: duplicate change id {dup!r}")
    last_revision = {s.name: s.revision for s in scenario.topology.services}
    # In time order, so that each deploy's revision is checked against the one before it.
    for index, change in sorted(enumerate(scenario.changes), key=lambda pair: pair[1].at):
        where = f"changes[{index}]"
        if change.service not in services:
            problems.append(f"{where}.service: {_unknown('service', change.service, services)}")
            continue
        if change.type == "deploy" and change.deploy is None:
            problems.append(f"{where}.deploy: required for a change of type deploy")
        if change.replicas is not None:
            if change.type != "scale":
                problems.append(f"{where}.replicas: only for a change of type scale")
            elif scenario.service(change.service).deployment_name is None:
                problems.append(f"{where}.replicas: service {change.service!r} is external and has no deployment")
        if change.deploy is not None:
            if scenario.service(change.service).deployment_name is None:
                problems.append(f"{where}.deploy: service {change.service!r} is external and has no deployment")
            revision = change.deploy.revision or last_revision[change.service] + 1
            if revision <= last_revision[change.service]:
                problems.append(
                    f"{where}.deploy.revision: {revision} must be above the previous revision "
                    f"{last_revision[change.service]} of {change.service}"
                )
            last_revision[change.service] = revision
        if change.commit is not None:
            if change.commit.author is None and change.author is None:
                problems.append(f"{where}.author: required (or commit.author)")
            if (change.commit.repo or scenario.service(change.service).repo) is None:
                problems.append(f"{where}.commit.repo: required, service {change.service!r} has no repo")
        if change.workflow is not None and scenario.service(change.service).repo is None and (
            change.commit is None or change.commit.repo is None
        ):
            problems.append(f"{where}.workflow: service {change.service!r} has no repo to run it in")

    for dup in _duplicates([f.id for f in scenario.faults]):
        problems.append(f"faults: duplicate fault id {dup!r}")
    for i, fault in enumerate(scenario.faults):
        if fault.target not in services:
            problems.append(f"faults[{i}].target: {_unknown('service', fault.target, services)}")
        else:
            gauges = {g.name for g in scenario.service(fault.target).gauges}
            for j, gauge in enumerate(fault.effects.gauges):
                if gauge.name not in gauges:
                    problems.append(
                        f"faults[{i}].effects.gauges[{j}].name: {_unknown(f'gauge of {fault.target}', gauge.name, gauges)}"
                    )
        if fault.builds_from is not None and fault.builds_from >= fault.starts_at:
            problems.append(f"faults[{i}].builds_from: must be before starts_at")
        if fault.change is not None and fault.change not in changes:
            problems.append(f"faults[{i}].change: {_unknown('change', fault.change, changes)}")
        if fault.ends_at is not None and fault.ends_at <= fault.starts_at:
            problems.append(f"faults[{i}].ends_at: must be after starts_at")

    for name in scenario.logs:
        if name not in services:
            problems.append(f"logs.{name}: {_unknown('service', name, services)}")

    for dup in _duplicates([a.name for a in scenario.alerts]):
        problems.append(f"alerts: duplicate alert name {dup!r}")
    pd_services = {s.id for s in scenario.integrations.pagerduty.services}
    for i, alert in enumerate(scenario.alerts):
        if alert.fault is not None and alert.fault not in faults:
            problems.append(f"alerts[{i}].fault: {_unknown('fault', alert.fault, faults)}")
        if alert.labels.get("alertname", alert.name) != alert.name:
            problems.append(f"alerts[{i}].labels.alertname: must equal the alert name {alert.name!r}")
        if alert.pagerduty_service is not None and alert.pagerduty_service not in pd_services:
            problems.append(f"alerts[{i}].pagerduty_service: {_unknown('PagerDuty service', alert.pagerduty_service, pd_services)}")

    for i, rule in enumerate(scenario.action_effects):
        for _, fault_id in rule.effects:
            if fault_id is not None and fault_id not in faults:
                problems.append(f"action_effects[{i}].effect: {_unknown('fault', fault_id, faults)}")

    statuspage = scenario.integrations.statuspage
    for i, component in enumerate(statuspage.components if statuspage else []):
        if component.service is not None and component.service not in services:
            problems.append(f"integrations.statuspage.components[{i}].service: {_unknown('service', component.service, services)}")
    pagerduty = scenario.integrations.pagerduty
    users = {u.id for u in pagerduty.users}
    policies = {p.id for p in pagerduty.escalation_policies}
    schedules = {s.id for s in pagerduty.schedules}
    for i, pd_service in enumerate(pagerduty.services):
        if pd_service.service is not None and pd_service.service not in services:
            problems.append(f"integrations.pagerduty.services[{i}].service: {_unknown('service', pd_service.service, services)}")
        if pd_service.escalation_policy not in policies:
            problems.append(
                f"integrations.pagerduty.services[{i}].escalation_policy: "
                f"{_unknown('escalation policy', pd_service.escalation_policy, policies)}"
            )
    for i, oncall in enumerate(pagerduty.oncalls):
        if oncall.user not in users:
            problems.append(f"integrations.pagerduty.oncalls[{i}].user: {_unknown('user', oncall.user, users)}")
        if oncall.escalation_policy not in policies:
            problems.append(
                f"integrations.pagerduty.oncalls[{i}].escalation_policy: "
                f"{_unknown('escalation policy', oncall.escalation_policy, policies)}"
            )
        if oncall.schedule is not None and oncall.schedule not in schedules:
            problems.append(f"integrations.pagerduty.oncalls[{i}].schedule: {_unknown('schedule', oncall.schedule, schedules)}")

    if len([t for t in scenario.tags if t in DIFFICULTIES]) > 1:
        problems.append("tags: at most one of easy, medium, hard")
    problems.extend(_expected_problems(scenario, services, changes))
    return problems


def _expected_problems(scenario: Scenario, services: set[str], changes: set[str]) -> list[str]:
    """The expected outcome must agree with the scenario's own action effects."""
    problems: list[str] = []
    expected = scenario.expected
    causes = [("expected.root_cause", expected.root_cause)] + [
        (f"expected.other_causes[{i}]", cause) for i, cause in enumerate(expected.other_causes)
    ]
    for where, root in causes:
        if root is None:
            continue
        if root.entity not in services:
            problems.append(f"{where}.entity: {_unknown('service', root.entity, services)}")
        if root.change_id is not None and root.change_id not in changes:
            problems.append(f"{where}.change_id: {_unknown('change', root.change_id, changes)}")
    for i, herring in enumerate(expected.red_herrings):
        if herring not in changes:
            problems.append(f"expected.red_herrings[{i}]: {_unknown('change', herring, changes)}")
    incident_faults = {f.id for f in scenario.incident_faults}
    for i, action in enumerate(expected.acceptable_remediations):
        rule = scenario.effect_for(action.tool, witness_args(action.args))
        if rule is None or not any(kind == "fixes" and fault in incident_faults for kind, fault in rule.effects):
            problems.append(
                f"expected.acceptable_remediations[{i}]: no action_effects rule makes {action.tool} {witness_args(action.args)} "
                "fix one of the incident's faults"
            )
    for i, action in enumerate(expected.harmful_actions):
        rule = scenario.effect_for(action.tool, witness_args(action.args))
        if rule is None or not rule.does("worsens"):
            problems.append(
                f"expected.harmful_actions[{i}]: no action_effects rule makes {action.tool} {witness_args(action.args)} worsen a fault"
            )
    if expected.resolution == "remediate" and not expected.acceptable_remediations:
        problems.append("expected.resolution: remediate needs at least one acceptable remediation")
    if not expected.incident and expected.resolution != "close":
        problems.append("expected.resolution: must be close when no incident is expected")
    return problems


class ScenarioError(ValueError):
    """A scenario file is missing, not YAML, or invalid; the message names the file and each field."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe_errors(exc: ValidationError) -> list[str]:
    """One ``field.path: message`` line per problem."""
    lines = []
    for error in exc.errors():
        # Skip pydantic's internal step names (e.g. the function-after validator tag) in the path.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        message = error["msg"].removeprefix("Value error, ")
        if loc:
            lines.append(f"{_field_path(loc)}: {message}")
        else:
            lines.extend(message.splitlines())
    return lines


def parse_scenario(raw: Any, *, origin: str = "scenario") -> Scenario:
    """Validate an already-parsed mapping; raise `ScenarioError` naming every bad field."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    if raw.get("version") != SCENARIO_VERSION:
        raise ScenarioError(
            f"{origin}: version: this simulator reads scenario version {SCENARIO_VERSION}, got {raw.get('version')!r}"
        )
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: " + "; ".join(describe_errors(exc))) from exc


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate one scenario file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScenarioError(f"scenario file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario file {path} is not valid YAML: {exc}") from exc
    return parse_scenario(raw, origin=str(path))


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, as committed in ``evals/sim/schema.json``."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "firstline simulated incident scenario (version 1)"
    return schema


def render_schema() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the committed schema file (``python -m evals.sim.scenario``)."""
    path.write_text(render_schema(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_schema()}")
