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
