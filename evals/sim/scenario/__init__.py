"""The scenario format (versions 1 and 2): one YAML file describes one simulated incident, as data.

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

Version 2 (``version: 2``) adds a ``kubernetes`` section (`KubernetesSpec`: nodes, StatefulSets,
DaemonSets, Jobs, CronJobs, ConfigMaps and Secrets with their revisions, Services, NetworkPolicies,
HPAs, ResourceQuotas, namespaces), per-pod detail on faults (the container, node or stale image an
effect hits; evictions), node conditions a fault sets, sidecars and node placement of a service's
pods, and ``action_effects[].target`` (the kind and name of the object an action must act on). A
version 1 file reads exactly as it always did and may not use these.

Every field is documented in ``evals/scenarios/README.md``.

Load a file with `load_scenario`; a problem raises `ScenarioError` whose message names the file and
the field (``faults[0].target: unknown service 'chekout' ...``).
"""

from __future__ import annotations

from evals.sim.scenario.document import Scenario
from evals.sim.scenario.environment import (
    EFFECT_PATTERN,
    ActionEffect,
    Alert,
    Author,
    Baseline,
    CatalogSLI,
    Change,
    Commit,
    DeploySpec,
    EffectKind,
    Effects,
    Fault,
    FaultEffects,
    FileChange,
    GaugeEffect,
    GaugeSpec,
    GitHubRepo,
    GitHubSpec,
    GitHubWorkflow,
    Integrations,
    LogTemplate,
    MetricName,
    PagerDutyOnCall,
    PagerDutyRef,
    PagerDutyService,
    PagerDutySpec,
    PagerDutyUser,
    PodEffect,
    PodEventSpec,
    Propagation,
    ProviderComponent,
    ProviderIncident,
    ProviderIncidentUpdate,
    ProviderSpec,
    ServiceSpec,
    SlackChannel,
    SlackSpec,
    StatuspageComponent,
    StatuspageSpec,
    Topology,
    WorkflowInput,
    WorkflowRunSpec,
)
from evals.sim.scenario.expected import Expected, ExpectedAction, Resolution, RootCause
from evals.sim.scenario.fields import (
    DIFFICULTIES,
    SCENARIO_VERSION,
    SCENARIO_VERSIONS,
    SCHEMA_PATH,
    TEMPLATE_FIELD_RE,
    TEMPLATE_FIELDS,
    ArgMatch,
    ChangeType,
    Comparison,
    ComponentStatus,
    Difficulty,
    Duration,
    EvidenceSource,
    FaultType,
    Labels,
    Offset,
    PodStatus,
    Ratio,
    Scalar,
    ServiceKind,
    args_match,
    template_problems,
    witness_args,
)
from evals.sim.scenario.kubernetes import (
    ACTION_TARGET_KINDS,
    ActionTarget,
    ConfigObjectSpec,
    ConfigRevision,
    ContainerSpec,
    HPASpec,
    JobRun,
    KubernetesSpec,
    KubeServiceSpec,
    NamespaceSpec,
    NetworkPolicySpec,
    NodeCondition,
    NodeConditionEffect,
    NodeSpec,
    ObjectKind,
    ResourceQuotaSpec,
    WorkloadKind,
    WorkloadSpec,
    target_matches,
)
from evals.sim.scenario.loading import ScenarioError, describe_errors, load_scenario, parse_scenario
from evals.sim.scenario.schema import render_schema, scenario_json_schema, write_schema

__all__ = [
    "ACTION_TARGET_KINDS",
    "ActionTarget",
    "ConfigObjectSpec",
    "ConfigRevision",
    "ContainerSpec",
    "HPASpec",
    "JobRun",
    "KubernetesSpec",
    "KubeServiceSpec",
    "NamespaceSpec",
    "NetworkPolicySpec",
    "NodeCondition",
    "NodeConditionEffect",
    "NodeSpec",
    "ObjectKind",
    "ResourceQuotaSpec",
    "WorkloadKind",
    "WorkloadSpec",
    "target_matches",
    "SCENARIO_VERSIONS",
    "ActionEffect",
    "Alert",
    "ArgMatch",
    "Author",
    "Baseline",
    "CatalogSLI",
    "Change",
    "ChangeType",
    "Commit",
    "Comparison",
    "ComponentStatus",
    "DIFFICULTIES",
    "DeploySpec",
    "Difficulty",
    "Duration",
    "EFFECT_PATTERN",
    "EffectKind",
    "Effects",
    "EvidenceSource",
    "Expected",
    "ExpectedAction",
    "Fault",
    "FaultEffects",
    "FaultType",
    "FileChange",
    "GaugeEffect",
    "GaugeSpec",
    "GitHubRepo",
    "GitHubSpec",
    "GitHubWorkflow",
    "Integrations",
    "Labels",
    "LogTemplate",
    "MetricName",
    "Offset",
    "PagerDutyOnCall",
    "PagerDutyRef",
    "PagerDutyService",
    "PagerDutySpec",
    "PagerDutyUser",
    "PodEffect",
    "PodEventSpec",
    "PodStatus",
    "Propagation",
    "ProviderComponent",
    "ProviderIncident",
    "ProviderIncidentUpdate",
    "ProviderSpec",
    "Ratio",
    "Resolution",
    "RootCause",
    "SCENARIO_VERSION",
    "SCHEMA_PATH",
    "Scalar",
    "Scenario",
    "ScenarioError",
    "ServiceKind",
    "ServiceSpec",
    "SlackChannel",
    "SlackSpec",
    "StatuspageComponent",
    "StatuspageSpec",
    "TEMPLATE_FIELDS",
    "TEMPLATE_FIELD_RE",
    "Topology",
    "WorkflowInput",
    "WorkflowRunSpec",
    "args_match",
    "describe_errors",
    "load_scenario",
    "parse_scenario",
    "render_schema",
    "scenario_json_schema",
    "template_problems",
    "witness_args",
    "write_schema",
]
