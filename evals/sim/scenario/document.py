"""The scenario document itself, and the cross-reference checks that make a scenario self-consistent."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    Field,
    model_validator,
)

from evals.sim.scenario.environment import (
    ActionEffect,
    Alert,
    Change,
    Fault,
    Integrations,
    LogTemplate,
    ServiceSpec,
    Topology,
)
from evals.sim.scenario.expected import Expected
from evals.sim.scenario.fields import DIFFICULTIES, Difficulty, _Model, args_match, witness_args
from evals.sim.scenario.kubernetes import KubernetesSpec, target_matches

DEFAULT_NODES = ("node-a", "node-b", "node-c")


class Scenario(_Model):
    """One simulated incident. Field-level docs: module docstring and ``schema.json``."""

    version: Literal[1, 2] = Field(description="The format version: 1, or 2 for the kubernetes section and its fields.")
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
    kubernetes: KubernetesSpec | None = Field(
        default=None, description="v2: the cluster beyond the topology's Deployments (nodes, workloads, config...)."
    )
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
            if (
                rule.action == action
                and args_match(rule.match, args)
                and (rule.target is None or target_matches(rule.target, action, args))
            ):
                return rule
        return None

    @property
    def node_names(self) -> tuple[str, ...]:
        """The cluster's nodes: those of the kubernetes section, or the three default ones."""
        if self.kubernetes is not None and self.kubernetes.nodes:
            return tuple(node.name for node in self.kubernetes.nodes)
        return DEFAULT_NODES

    def workload_for_service(self, service: str) -> str | None:
        """The name of the v2 workload that runs ``service`` (instead of a Deployment), if any."""
        for workload in self.kubernetes.workloads if self.kubernetes else []:
            if workload.service == service:
                return workload.name
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
        if (
            change.workflow is not None
            and scenario.service(change.service).repo is None
            and (change.commit is None or change.commit.repo is None)
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
        for caller in fault.effects.callers:
            if caller not in services:
                problems.append(f"faults[{i}].effects.callers: {_unknown('service', caller, services)}")
            elif fault.target in services and fault.target not in scenario.service(caller).dependencies:
                problems.append(
                    f"faults[{i}].effects.callers: {caller!r} does not call {fault.target!r} "
                    f"(it is not among its dependencies)"
                )
        if fault.effects.callers and not fault.effects.available:
            problems.append(
                f"faults[{i}].effects: available: false stops the target for everyone; "
                "for a path that fails, give callers and error_ratio: 1"
            )
        if fault.effects.error_type is not None and not fault.effects.callers:
            problems.append(f"faults[{i}].effects.error_type: only with callers (the path whose calls fail)")

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
            problems.append(
                f"alerts[{i}].pagerduty_service: {_unknown('PagerDuty service', alert.pagerduty_service, pd_services)}"
            )

    for i, rule in enumerate(scenario.action_effects):
        for _, fault_id in rule.effects:
            if fault_id is not None and fault_id not in faults:
                problems.append(f"action_effects[{i}].effect: {_unknown('fault', fault_id, faults)}")

    statuspage = scenario.integrations.statuspage
    for i, component in enumerate(statuspage.components if statuspage else []):
        if component.service is not None and component.service not in services:
            problems.append(
                f"integrations.statuspage.components[{i}].service: {_unknown('service', component.service, services)}"
            )
    for dup in _duplicates([p.id for p in scenario.integrations.providers]):
        problems.append(f"integrations.providers: duplicate provider id {dup!r}")
    for i, provider in enumerate(scenario.integrations.providers):
        where = f"integrations.providers[{i}]"
        if provider.service not in services:
            problems.append(f"{where}.service: {_unknown('service', provider.service, services)}")
        elif scenario.service(provider.service).kind != "external":
            problems.append(
                f"{where}.service: {provider.service!r} is not external (a status page covers a third party)"
            )
        component_ids = {c.id for c in provider.components}
        for dup in _duplicates([c.id for c in provider.components]):
            problems.append(f"{where}.components: duplicate component id {dup!r}")
        for j, incident in enumerate(provider.incidents):
            times = [u.at for u in incident.updates]
            if times != sorted(times):
                problems.append(f"{where}.incidents[{j}].updates: must be oldest first")
            for k, update in enumerate(incident.updates):
                for component_id in update.components:
                    if component_id not in component_ids:
                        problems.append(
                            f"{where}.incidents[{j}].updates[{k}].components: "
                            f"{_unknown('component', component_id, component_ids)}"
                        )
    pagerduty = scenario.integrations.pagerduty
    users = {u.id for u in pagerduty.users}
    policies = {p.id for p in pagerduty.escalation_policies}
    schedules = {s.id for s in pagerduty.schedules}
    for i, pd_service in enumerate(pagerduty.services):
        if pd_service.service is not None and pd_service.service not in services:
            problems.append(
                f"integrations.pagerduty.services[{i}].service: {_unknown('service', pd_service.service, services)}"
            )
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
            problems.append(
                f"integrations.pagerduty.oncalls[{i}].schedule: {_unknown('schedule', oncall.schedule, schedules)}"
            )

    if len([t for t in scenario.tags if t in DIFFICULTIES]) > 1:
        problems.append("tags: at most one of easy, medium, hard")
    problems.extend(_version_problems(scenario))
    problems.extend(_kubernetes_problems(scenario, services, changes))
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
        # Every remediation mutates the world, so it waits for a human: the answer key says so, or approval
        # recall would score an ungated fix as right. (v2 only: v1 files load exactly as before.)
        if scenario.version >= 2 and action.tool not in expected.requires_approval:
            problems.append(
                f"expected.acceptable_remediations[{i}]: list {action.tool} in expected.requires_approval "
                "(a remediation waits for a human)"
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


def _version_problems(scenario: Scenario) -> list[str]:
    """A v1 file may not use what v2 added: it would mean something a v1 reader cannot see."""
    if scenario.version >= 2:
        return []
    problems = []
    if scenario.kubernetes is not None:
        problems.append("kubernetes: needs version: 2")
    for i, spec in enumerate(scenario.topology.services):
        if spec.sidecars or spec.nodes or spec.env_from_configmaps or spec.mounts_configmaps:
            problems.append(
                f"topology.services[{i}]: sidecars, nodes, env_from_configmaps and mounts_configmaps need version: 2"
            )
    for i, fault in enumerate(scenario.faults):
        pods = fault.effects.pods
        if fault.effects.callers:
            problems.append(f"faults[{i}].effects.callers: needs version: 2")
        if fault.effects.node_conditions or (
            pods is not None and (pods.container or pods.node or pods.image or pods.evicted)
        ):
            problems.append(
                f"faults[{i}].effects: node_conditions and pods.container/node/image/evicted need version: 2"
            )
    for i, rule in enumerate(scenario.action_effects):
        if rule.target is not None:
            problems.append(f"action_effects[{i}].target: needs version: 2")
    if scenario.integrations.providers:
        problems.append("integrations.providers: needs version: 2")
    causes = [("expected.root_cause", scenario.expected.root_cause)] + [
        (f"expected.other_causes[{i}]", c) for i, c in enumerate(scenario.expected.other_causes)
    ]
    problems += [f"{where}.role: needs version: 2" for where, c in causes if c is not None and c.role is not None]
    return problems


def _kubernetes_problems(scenario: Scenario, services: set[str], changes: set[str]) -> list[str]:
    """Cross-references of the v2 kubernetes section and of the fields that point into it."""
    problems: list[str] = []
    kube = scenario.kubernetes
    nodes = set(scenario.node_names)
    for i, spec in enumerate(scenario.topology.services):
        for node in spec.nodes:
            if node not in nodes:
                problems.append(f"topology.services[{i}].nodes: {_unknown('node', node, nodes)}")
    for i, fault in enumerate(scenario.faults):
        pods = fault.effects.pods
        if pods is not None and pods.node is not None and pods.node not in nodes:
            problems.append(f"faults[{i}].effects.pods.node: {_unknown('node', pods.node, nodes)}")
        if pods is not None and pods.container is not None and fault.target in services:
            containers = _containers_of(scenario, fault.target)
            if pods.container not in containers:
                problems.append(
                    f"faults[{i}].effects.pods.container: {_unknown(f'container of {fault.target}', pods.container, containers)}"
                )
        for j, condition in enumerate(fault.effects.node_conditions):
            if condition.node not in nodes:
                problems.append(
                    f"faults[{i}].effects.node_conditions[{j}].node: {_unknown('node', condition.node, nodes)}"
                )
    declared = {(c.namespace, c.name) for c in (kube.configmaps if kube else [])}
    for i, spec in enumerate(scenario.topology.services):
        for field in ("env_from_configmaps", "mounts_configmaps"):
            for ref in getattr(spec, field):
                if (spec.namespace, ref) not in declared:
                    here = {n for ns, n in declared if ns == spec.namespace}
                    problems.append(
                        f"topology.services[{i}].{field}: {_unknown(f'configmap in {spec.namespace}', ref, here)}"
                    )
    if kube is None:
        return problems
    for dup in _duplicates([n.name for n in kube.nodes]):
        problems.append(f"kubernetes.nodes: duplicate node {dup!r}")
    names_by_kind: dict[str, set[tuple[str, str]]] = {}
    for i, workload in enumerate(kube.workloads):
        where = f"kubernetes.workloads[{i}]"
        key = (workload.namespace, workload.name)
        if key in names_by_kind.setdefault(workload.kind, set()):
            problems.append(f"{where}.name: duplicate {workload.kind} {workload.namespace}/{workload.name}")
        names_by_kind[workload.kind].add(key)
        if workload.service is not None:
            if workload.service not in services:
                problems.append(f"{where}.service: {_unknown('service', workload.service, services)}")
            elif scenario.service(workload.service).kind == "external":
                problems.append(f"{where}.service: {workload.service!r} is external and runs nowhere")
            elif workload.namespace != scenario.service(workload.service).namespace:
                problems.append(f"{where}.namespace: must be the namespace of service {workload.service!r}")
        for node in workload.nodes:
            if node not in nodes:
                problems.append(f"{where}.nodes: {_unknown('node', node, nodes)}")
    ran_by = [w.service for w in kube.workloads if w.service is not None]
    for dup in _duplicates(ran_by):
        problems.append(f"kubernetes.workloads: service {dup!r} is run by more than one workload")
    for section, objects in (("configmaps", kube.configmaps), ("secrets", kube.secrets)):
        for dup in _duplicates([f"{o.namespace}/{o.name}" for o in objects]):
            problems.append(f"kubernetes.{section}: duplicate {dup!r}")
        for i, obj in enumerate(objects):
            for j, revision in enumerate(obj.revisions):
                if revision.change is not None and revision.change not in changes:
                    problems.append(
                        f"kubernetes.{section}[{i}].revisions[{j}].change: {_unknown('change', revision.change, changes)}"
                    )
    configmaps = {c.name for c in kube.configmaps}
    for i, workload in enumerate(kube.workloads):
        for j, container in enumerate(workload.containers):
            for ref in (container.env_from_configmap, container.mounts_configmap):
                if ref is not None and ref not in configmaps:
                    problems.append(
                        f"kubernetes.workloads[{i}].containers[{j}]: {_unknown('configmap', ref, configmaps)}"
                    )
    for i, hpa in enumerate(kube.hpas):
        if hpa.min_replicas > hpa.max_replicas:
            problems.append(f"kubernetes.hpas[{i}].min_replicas: above max_replicas")
    return problems


def _containers_of(scenario: Scenario, service: str) -> set[str]:
    """The container names of the pods that run ``service``."""
    for workload in scenario.kubernetes.workloads if scenario.kubernetes else []:
        if workload.service == service:
            return {c.name for c in workload.containers}
    spec = scenario.service(service)
    return {spec.deployment_name or spec.name, *(c.name for c in spec.sidecars)}
