"""The simulated world a scenario describes: services and their SLIs, changes, faults and their
effects, alerts, action effects and the third-party integrations.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from evals.sim.scenario.fields import (
    ArgMatch,
    ChangeType,
    ComponentStatus,
    Duration,
    FaultType,
    Labels,
    Offset,
    PodStatus,
    Ratio,
    ServiceKind,
    _Model,
    template_problems,
)
from evals.sim.scenario.kubernetes import ActionTarget, ContainerSpec, NodeConditionEffect


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
        default=None,
        description="Instead of value: the value is the Unix time of this offset (e.g. a certificate's notAfter).",
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
    deployment: str | None = Field(
        default=None, description="Kubernetes Deployment name; defaults to the service name."
    )
    repo: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    replicas: int = Field(default=2, ge=0)
    image: str | None = Field(default=None, description="Image running before the scenario's first deploy.")
    revision: int = Field(default=1, ge=1, description="Kubernetes revision of that image.")
    deployed_at: Offset = Field(default=-7 * 86400.0, description="When that revision rolled out.")
    env: dict[str, str] = Field(default_factory=dict, description="Container environment of that revision.")
    sidecars: list[ContainerSpec] = Field(
        default_factory=list, description="v2: further containers of the Deployment's pods (a proxy, a log shipper)."
    )
    nodes: list[str] = Field(
        default_factory=list, description="v2: the nodes its pods run on, cycled (hashed over the nodes when empty)."
    )
    env_from_configmaps: list[str] = Field(
        default_factory=list,
        description="v2: ConfigMaps (in kubernetes.configmaps, same namespace) the app container reads as its "
        "environment (envFrom).",
    )
    mounts_configmaps: list[str] = Field(
        default_factory=list,
        description="v2: ConfigMaps (in kubernetes.configmaps, same namespace) mounted into the app container at "
        "/etc/<name>.",
    )
    baseline: Baseline
    gauges: list[GaugeSpec] = Field(default_factory=list, description="Extra gauges the service exports.")
    # What the generated service catalog says about the service (evals.sim.catalog).
    owner: str | None = Field(
        default=None, description="Owning team; defaults to one derived from the PagerDuty escalation policy."
    )
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
        default_factory=dict,
        description="Environment variables this rollout sets (merged over the previous revision's).",
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
    deploy: DeploySpec | None = Field(
        default=None,
        description="Required for type deploy; a config or feature_flag "
        "change that rolls the Deployment out (new env, same image) has one too.",
    )
    replicas: int | None = Field(
        default=None, ge=0, description="For type scale: the replica count the Deployment was scaled to."
    )
    workflow: WorkflowRunSpec | None = None


class LogTemplate(_Model):
    template: str = Field(
        description="A log line; placeholders: {latency_ms} {trace_id} {pod} {service} "
        "{source} {one_of:a|b} {int:10-99}."
    )
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
    container: str | None = Field(
        default=None,
        description="v2: the one container the effect hits (a sidecar leaking memory); the others stay healthy. "
        "All containers when absent.",
    )
    node: str | None = Field(default=None, description="v2: only pods on this node are affected.")
    image: str | None = Field(
        default=None, description="v2: the affected pods run this image (a stale pod left on an old version)."
    )
    evicted: bool = Field(
        default=False,
        description="v2: the affected pods are Failed with reason Evicted (the kubelet reclaimed the node).",
    )


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
    node_conditions: list[NodeConditionEffect] = Field(
        default_factory=list, description="v2: node conditions the fault sets while active (DiskPressure, NotReady)."
    )
    callers: list[str] = Field(
        default_factory=list,
        description="v2: the fault lives on the path from these callers to the target (a partition, added latency, "
        "DNS failing for the target's name, a bad certificate on its endpoint): only they see error_ratio and the "
        "latency multipliers on their calls to it; the calls that fail never reach the target, whose own metrics "
        "show their traffic dropping, not errors.",
    )
    error_type: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$",
        description="v2, with callers: how the callers' HTTP clients label the failed calls (OpenTelemetry error.type: "
        "timeout, dns, tls, connection_refused...). Default timeout.",
    )


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
            raise ValueError(
                f"expected none, fixes:<fault>, worsens:<fault> or mitigates:<fault> (or a list of them), got {item!r}"
            )
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
    target: ActionTarget | None = Field(
        default=None,
        description="v2: the object the call must act on (kind, and optionally namespace and name), "
        "besides the arguments in match.",
    )
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
            kind: EffectKind = (
                "fixes"
                if head == "fixes"
                else "worsens"
                if head == "worsens"
                else ("mitigates" if head == "mitigates" else "none")
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


class WorkflowInput(_Model):
    """One ``on.workflow_dispatch.inputs`` entry of a workflow file; dispatches are checked against it."""

    description: str = ""
    required: bool = False
    type: Literal["string", "boolean", "choice", "number", "environment"] = "string"
    options: list[str] = Field(default_factory=list, description="For type choice: the allowed values.")
    default: str | None = Field(default=None, description="The value a dispatch that leaves it out runs with.")

    @model_validator(mode="after")
    def _options_for_choice(self) -> WorkflowInput:
        if self.type == "choice" and not self.options:
            raise ValueError("a choice input needs options")
        if self.type == "choice" and self.default is not None and self.default not in self.options:
            raise ValueError(f"default {self.default!r} is not among the options")
        return self


class GitHubWorkflow(_Model):
    """A workflow that can be dispatched (a workflow referenced by a change is declared implicitly)."""

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    name: str
    path: str | None = Field(default=None, description="Defaults to .github/workflows/<name>.yml")
    id: int | None = None
    inputs: dict[str, WorkflowInput] = Field(
        default_factory=dict,
        description="Its workflow_dispatch inputs: a dispatch missing a required one, naming an undeclared one or "
        "giving a choice outside the options is refused with 422, as GitHub does; defaults fill in the rest.",
    )


class GitHubRepo(_Model):
    """A repository of the organisation besides the services' own (a flags, config or infrastructure repo)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", description="owner/name")
    description: str = ""
    topics: list[str] = Field(default_factory=list)
    language: str | None = None
    archived: bool = False


class GitHubSpec(_Model):
    workflows: list[GitHubWorkflow] = Field(default_factory=list)
    repos: list[GitHubRepo] = Field(
        default_factory=list,
        description="Further repositories of the organisation (every repo a service or a change names exists anyway); "
        "GET /orgs/{org}/repos lists them all.",
    )


ProviderIncidentStatus = Literal["investigating", "identified", "monitoring", "resolved"]
ProviderImpact = Literal["none", "minor", "major", "critical"]


class ProviderComponent(_Model):
    """One component of a third party's public status page, and its status before any incident update."""

    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str
    status: ComponentStatus = "operational"
    description: str = ""
    group: str | None = Field(default=None, description="The name of the component group it sits in, if any.")


class ProviderIncidentUpdate(_Model):
    """One update the provider posted: the incident's status from then on, and the components it set."""

    at: Offset
    status: ProviderIncidentStatus
    body: str
    components: dict[str, ComponentStatus] = Field(
        default_factory=dict, description="Component id -> the status this update set."
    )


class ProviderIncident(_Model):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    name: str
    impact: ProviderImpact = "minor"
    updates: list[ProviderIncidentUpdate] = Field(
        min_length=1, description="Oldest first; the first creates the incident (visible from its time on)."
    )
    shortlink: str | None = None


class ProviderSpec(_Model):
    """A third party's public status page (Statuspage's public API: ``/api/v2/summary.json``...)."""

    id: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_]{0,40}$",
        description="Short id; the simulator serves the page at /providers/<id>, the sandbox names its tool "
        "instance status_<id>.",
    )
    name: str = Field(description="The page's name, e.g. CardCo Status.")
    service: str = Field(description="The topology service (kind external) the page covers.")
    url: str | None = Field(default=None, description="The page's public address (e.g. https://status.cardco.example).")
    components: list[ProviderComponent] = Field(default_factory=list)
    incidents: list[ProviderIncident] = Field(default_factory=list)


class Integrations(_Model):
    github: GitHubSpec = Field(default_factory=GitHubSpec)
    statuspage: StatuspageSpec | None = None
    providers: list[ProviderSpec] = Field(
        default_factory=list,
        description="v2: third parties' public status pages, each covering one external service.",
    )
    slack: SlackSpec = Field(default_factory=SlackSpec)
    pagerduty: PagerDutySpec = Field(default_factory=PagerDutySpec)
