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
      root_cause: {entity: checkout, category: migration, change: migration-0042}

Load a file with `load_scenario`; a problem raises `ScenarioError` whose message names the file and
the field (``faults[0].target: unknown service 'chekout' ...``).
"""

from __future__ import annotations

import json
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
    model_validator,
)

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
    "dependency_failure",
    "traffic_surge",
    "certificate_expiry",
    "network",
    "disk_full",
    "capacity",
    "other",
]
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
    return problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    baseline: Baseline

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
    image: str
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
    deploy: DeploySpec | None = Field(default=None, description="Required for type deploy.")
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


class PodEffect(_Model):
    status: PodStatus = "Running"
    ready: bool = True
    restarts_per_hour: float = Field(default=0.0, ge=0)
    last_termination_reason: str | None = Field(default=None, description="e.g. OOMKilled, Error")
    exit_code: int | None = None
    affected: int | None = Field(default=None, ge=0, description="How many pods; all when absent.")


class FaultEffects(_Model):
    error_ratio: Ratio | None = Field(default=None, description="Error ratio while the fault is active.")
    latency_p50_multiplier: float = Field(default=1.0, gt=0)
    latency_p99_multiplier: float = Field(default=1.0, gt=0)
    request_rate_multiplier: float = Field(default=1.0, ge=0)
    saturation: Ratio | None = None
    memory: Ratio | None = None
    available: bool = Field(default=True, description="False: the target stops answering (up=0, no samples).")
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


Effect = Annotated[str, Field(pattern=r"^(none|fixes:\S+|worsens:\S+)$")]


class ActionEffect(_Model):
    action: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. kubernetes.rollout_undo")
    match: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Arguments that must be equal for the rule to apply."
    )
    effect: Effect = Field(description="none, fixes:<fault id> or worsens:<fault id>")
    factor: float = Field(default=1.5, gt=1, description="For worsens: how much the fault's effect grows.")

    @property
    def kind(self) -> Literal["none", "fixes", "worsens"]:
        head = self.effect.split(":", 1)[0]
        return "fixes" if head == "fixes" else "worsens" if head == "worsens" else "none"

    @property
    def fault(self) -> str | None:
        return self.effect.split(":", 1)[1] if ":" in self.effect else None


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


class RootCause(_Model):
    entity: str = Field(description="The service at fault.")
    category: str = Field(description="e.g. migration, bad_deploy, config_change, capacity")
    change: str | None = Field(default=None, description="The id of the change that caused it.")


class ExpectedAction(_Model):
    action: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")
    match: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Expected(_Model):
    incident: bool
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] | None = None
    root_cause: RootCause | None = None
    remediations: list[ExpectedAction] = Field(default_factory=list, description="Any one of these is acceptable.")
    requires_approval: list[str] = Field(default_factory=list, description="Actions that must wait for a human.")
    communication_facts: list[str] = Field(default_factory=list, description="Phrases updates must contain.")
    red_herrings: list[str] = Field(default_factory=list, description="Change ids that look suspicious but are not the cause.")


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
        if rule.fault is not None and rule.fault not in faults:
            problems.append(f"action_effects[{i}].effect: {_unknown('fault', rule.fault, faults)}")

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

    root = scenario.expected.root_cause
    if root is not None:
        if root.entity not in services:
            problems.append(f"expected.root_cause.entity: {_unknown('service', root.entity, services)}")
        if root.change is not None and root.change not in changes:
            problems.append(f"expected.root_cause.change: {_unknown('change', root.change, changes)}")
    for i, herring in enumerate(scenario.expected.red_herrings):
        if herring not in changes:
            problems.append(f"expected.red_herrings[{i}]: {_unknown('change', herring, changes)}")
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
