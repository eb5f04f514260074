"""The scenario library: every scenario loads, validates, plays, and its action effects hold.

For each library scenario:
- it loads, validates against the model and the committed JSON Schema, and carries one difficulty tag;
- it plays: the simulated Prometheus answers every catalog SLI query, Loki every log selector, the
  alerts parse as Alertmanager webhooks naming a catalog service;
- its expected outcome is consistent with its telemetry (an incident shows in the alerting
  service's signals at the alert; a false alarm or a recovered incident does not; a ``stalled`` one
  shows in its stalled target's throughput, which the fix restores);
- each acceptable remediation clears the fault it addresses (with the other faults' fixes applied
  too, the alerting service's error ratio is back at baseline once the rate window has passed);
  wrong actions (``none`` effects) and no action at all leave it failing, mitigations only for a
  while, and harmful actions make it worse.

Worlds run on a frozen clock; actions go through `World.apply_action` (the same entry point the
simulated Kubernetes and GitHub APIs use), and the Kubernetes and GitHub remediations once more
through the production adapters against the in-process API.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from evals.sim import World, create_app
from evals.sim.catalog import catalog_yaml, service_catalog
from evals.sim.faults import influences
from evals.sim.library import SCENARIO_DIR, library_index, load_scenario, scenario_names
from evals.sim.logs import LogQuery, parse_logql
from evals.sim.scenario import (
    ExpectedAction,
    Scenario,
    ScenarioError,
    parse_scenario,
    scenario_json_schema,
    witness_args,
)
from evals.sim.timeutil import SimClock
from intake.alertmanager import parse_alertmanager
from knowledge.catalog import ServiceCatalog

ANCHOR = datetime(2027, 5, 12, 14, 30, tzinfo=UTC)
ACT_AFTER = timedelta(minutes=2)  # actions land two minutes after the alert
SETTLE = timedelta(minutes=8)  # past the 5m rate window of the SLI queries
NAMES = scenario_names()
# Written before the library's naming rule; kept because the demo and other suites use it.
NAMED_BEFORE_THE_RULE = {"checkout-migration"}
CATEGORY_WORDS = {
    "migration",
    "deploy",
    "config",
    "flag",
    "oom",
    "memory",
    "crash",
    "cpu",
    "disk",
    "pool",
    "dependency",
    "outage",
    "certificate",
    "cert",
    "tls",
    "dns",
    "neighbour",
    "neighbor",
    "surge",
    "backlog",
    "cascade",
    "cascading",
    "failover",
    "false",
    "recovered",
    "herring",
    "telemetry",
}


@cache
def schema_validator() -> jsonschema.protocols.Validator:
    schema = scenario_json_schema()
    return jsonschema.validators.validator_for(schema)(schema)  # type: ignore[no-any-return]


@cache
def scenario(name: str) -> Scenario:
    return load_scenario(name)


def loadable(name: str) -> Scenario | None:
    """The scenario, or None when it does not load (test_loads_and_validates reports why)."""
    try:
        return scenario(name)
    except ScenarioError:
        return None


def world(name: str, *, after: timedelta = ACT_AFTER) -> World:
    return World(scenario(name), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + after))


def catalog(name: str) -> ServiceCatalog:
    return ServiceCatalog.from_mapping(service_catalog(scenario(name)), origin=name)


def alert_service(name: str) -> str:
    return scenario(name).alerts[0].labels["service"]


def error_ratio(w: World, service: str) -> float | None:
    """The catalog's error-rate SLI of ``service`` at the world's now (None without samples)."""
    query = catalog(w.scenario.name).services[service].sli.error_rate
    assert query is not None
    result = w.promql.instant(query, w.now_ts())["result"]
    if not result:
        return None
    value = float(result[0]["value"][1])
    return None if math.isnan(value) else value


def baseline(name: str, service: str) -> float:
    return scenario(name).service(service).baseline.error_ratio


def healthy(name: str, value: float | None, service: str) -> bool:
    return value is not None and value <= 2 * baseline(name, service) + 0.004


def failing(name: str, value: float | None, service: str) -> bool:
    return value is not None and value >= baseline(name, service) + 0.02


def measured_service(name: str, fault_ids: set[str]) -> str | None:
    """The service whose error ratio shows ``fault_ids``: the alerting one if it has metrics (none for a
    stalled scenario, whose signal is throughput: see `_throughput_ratio`)."""
    if "stalled" in scenario(name).tags:
        return None
    w = world(name)
    service = alert_service(name)
    reached = {i.fault_id for i in influences(w.scenario)[service]}
    if error_ratio(w, service) is not None and reached & fault_ids:
        return service
    return None


def after_action(
    name: str,
    tool: str,
    args: dict[str, Any],
    extra: list[tuple[str, dict[str, Any]]] | None = None,
    *,
    wait: timedelta = SETTLE,
) -> World:
    """The world ``wait`` after ``tool`` (and the ``extra`` calls) ran, two minutes after the alert."""
    w = world(name)
    for call_tool, call_args in [(tool, args), *(extra or [])]:
        w.apply_action(call_tool, call_args)
    w.clock.advance(wait.total_seconds())
    return w


def no_action(name: str, *, wait: timedelta = SETTLE) -> World:
    w = world(name)
    w.clock.advance(wait.total_seconds())
    return w


def fixes_of(name: str, action: ExpectedAction) -> set[str]:
    rule = scenario(name).effect_for(action.tool, witness_args(action.args))
    assert rule is not None
    return {fault for kind, fault in rule.effects if kind == "fixes" and fault}


def loaded_library() -> list[Scenario]:
    return [loaded for name in NAMES if (loaded := loadable(name)) is not None]


def remediation_cases() -> list[Any]:
    return [
        pytest.param(loaded.name, i, id=f"{loaded.name}-{i}")
        for loaded in loaded_library()
        for i in range(len(loaded.expected.acceptable_remediations))
    ]


def rule_cases(kind: str) -> list[Any]:
    out = []
    for loaded in loaded_library():
        for i, rule in enumerate(loaded.action_effects):
            if all(k == kind for k, _ in rule.effects):
                out.append(pytest.param(loaded.name, i, id=f"{loaded.name}-{i}"))
    return out


# -- the library as a whole -----------------------------------------------------------------------


def test_the_library_covers_the_issue() -> None:
    entries = library_index()
    assert len(entries) >= 30
    categories = {e["category"] for e in entries}
    wanted = {
        "bad_deploy",
        "migration",
        "config_change",
        "feature_flag",
        "oom",
        "disk_full",
        "connection_pool",
        "dependency",
        "third_party",
        "certificate",
        "dns",
        "noisy_neighbour",
        "traffic_surge",
        "queue_backlog",
        "cascading",
        "failover",
        "no_incident",
        "recovered",
        "resource_exhaustion",
        "crash",
    }
    assert wanted <= categories, wanted - categories
    tags = {t for e in entries for t in e["tags"]}
    assert {"red-herring", "multiple-faults", "missing-telemetry"} <= tags
    difficulties = [e["difficulty"] for e in entries]
    assert min(difficulties.count(d) for d in ("easy", "medium", "hard")) >= 6, difficulties
    assert len({e["services"] for e in entries}) >= 4  # topologies of varied sizes


def test_services_namespaces_and_repos_vary() -> None:
    services = [s.name for n in NAMES for s in scenario(n).topology.services]
    namespaces = {s.namespace for n in NAMES for s in scenario(n).topology.services}
    assert len(set(services)) >= 100 and len(namespaces) >= 15


# -- per scenario: loads, validates, plays ------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_loads_and_validates(name: str) -> None:
    loaded = scenario(name)
    assert loaded.name == name
    schema_validator().validate(yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text(encoding="utf-8")))
    assert loaded.difficulty is not None, "tag it easy, medium or hard"
    assert loaded.alerts, "a scenario needs an alert to respond to"
    assert loaded.alerts[0].fires_at <= 0, "the first alert is the one responded to: it must have fired by the anchor"
    expected = loaded.expected
    assert expected.root_cause is not None and expected.severity is not None
    assert expected.evidence_sources and expected.comms_facts
    if name not in NAMED_BEFORE_THE_RULE:
        assert not set(name.split("-")) & CATEGORY_WORDS, "a name must not give the answer away"
    if expected.incident and expected.resolution == "remediate":
        assert expected.requires_approval, "say which of the remediations must wait for a human"


@pytest.mark.parametrize("name", NAMES)
def test_round_trips_through_json(name: str) -> None:
    loaded = scenario(name)
    again = parse_scenario(json.loads(json.dumps(loaded.model_dump(mode="json", exclude_none=True))), origin=name)
    assert again == loaded


@pytest.mark.parametrize("name", NAMES)
async def test_plays_through_the_apis(name: str) -> None:
    w = world(name)
    entries = catalog(name)
    now = w.now_ts()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(w)), base_url="http://sim") as client:
        for service in entries.services.values():
            spec = scenario(name).service(service.name)
            if service.sli.error_rate:
                response = await client.get(
                    "/prometheus/api/v1/query_range",
                    params={"query": service.sli.error_rate, "start": now - 3600, "end": now, "step": 60},
                )
                assert response.status_code == 200, response.text
                assert response.json()["data"]["result"], f"{service.name}: no error-rate samples in the last hour"
            for key in ("latency_p99", "saturation"):
                query = getattr(service.sli, key)
                if query:
                    response = await client.get("/prometheus/api/v1/query", params={"query": query, "time": now - 3600})
                    assert response.status_code == 200 and response.json()["data"]["result"], f"{service.name}: {key}"
            if service.logs and w.logs.sources.get(service.name):
                response = await client.get(
                    "/loki/loki/api/v1/query_range",
                    params={
                        "query": service.logs,
                        "start": int((now - 1800) * 1e9),
                        "end": int(now * 1e9),
                        "limit": 50,
                    },
                )
                assert response.status_code == 200, response.text
                assert response.json()["data"]["result"], f"{service.name}: no log lines for {service.logs}"
            workload = _workload_path(scenario(name), spec.name)
            if workload is not None:
                response = await client.get(f"/kubernetes{workload}")
                assert response.status_code == 200, response.text
            elif spec.deployment_name:
                response = await client.get(
                    f"/kubernetes/apis/apps/v1/namespaces/{spec.namespace}/deployments/{spec.deployment_name}"
                )
                assert response.status_code == 200, response.text
        for alert in scenario(name).alerts:
            payload = (await client.get(f"/_sim/alerts/{alert.name}")).json()
            [parsed] = parse_alertmanager(payload)
            assert parsed.service in entries.services, f"{alert.name}: service {parsed.service!r} is not in the catalog"


@pytest.mark.parametrize("name", NAMES)
def test_every_service_has_log_lines(name: str) -> None:
    w = world(name)
    now_ns = int(w.now_ts() * 1e9)
    for service in catalog(name).services.values():
        if service.logs:
            query = parse_logql(service.logs)
            assert isinstance(query, LogQuery), service.logs
            assert w.logs.select(query, now_ns - int(1800e9), now_ns, 5, "backward"), service.name


@pytest.mark.parametrize("name", NAMES)
def test_the_telemetry_agrees_with_the_expected_outcome(name: str) -> None:
    loaded = scenario(name)
    service = alert_service(name)
    w = world(name)
    value = error_ratio(w, service)
    category = loaded.expected.root_cause.category if loaded.expected.root_cause else None
    if not loaded.expected.incident or category == "recovered":
        assert healthy(name, value, service), f"{service} error ratio {value} at the alert: should be back to normal"
        assert not [f for f in w.active_faults() if not loaded.fault(f).background]
        if category == "recovered":
            peak = max(loaded.fault(f.id).starts_at for f in loaded.incident_faults)
            during = World(loaded, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(seconds=peak + 240)))
            assert failing(name, error_ratio(during, service), service), "the recovered incident never showed"
        return
    active = set(w.active_faults()) & {f.id for f in loaded.incident_faults}
    assert active, "an incident scenario needs an incident fault active at the alert"
    if "stalled" in loaded.tags:
        # A consumer that stops without errors shows in its throughput, not in any error ratio.
        assert any(_throughput_ratio(w, loaded.fault(f).target) < 0.5 for f in active), (
            "a stalled scenario needs an incident fault whose target's throughput has dropped below half its baseline"
        )
    elif measured_service(name, active) is not None:
        assert failing(name, value, service), f"{service} error ratio {value} at the alert: the incident does not show"
    else:
        assert "missing-telemetry" in loaded.tags or value is None or "latency" in loaded.tags, (
            f"{service} does not show the incident in its error ratio"
        )


def _throughput_ratio(w: World, service: str) -> float:
    """The service's request rate at the world's now over its baseline (0 when it serves nothing)."""
    spec = w.scenario.service(service)
    query = f'sum(rate(http_requests_total{{service="{service}"}}[5m]))'
    if spec.kind == "database":
        query = f'sum(rate(pg_queries_total{{service="{service}"}}[5m]))'
    result = w.promql.instant(query, w.now_ts())["result"]
    rate = float(result[0]["value"][1]) if result else 0.0
    return rate / spec.baseline.request_rate if spec.baseline.request_rate else 1.0


# -- per remediation: the right action clears the fault -----------------------------------------


@pytest.mark.parametrize(("name", "index"), remediation_cases())
def test_acceptable_remediation_clears_its_fault(name: str, index: int) -> None:
    loaded = scenario(name)
    remediation = loaded.expected.acceptable_remediations[index]
    fixed = fixes_of(name, remediation)
    # Complete the fix with one remediation per remaining incident fault (two simultaneous faults).
    extra: list[tuple[str, dict[str, Any]]] = []
    covered = set(fixed)
    for other in loaded.expected.acceptable_remediations:
        gain = fixes_of(name, other) - covered
        if gain:
            extra.append((other.tool, witness_args(other.args)))
            covered |= gain
    w = after_action(name, remediation.tool, witness_args(remediation.args), extra)
    assert not set(w.active_faults()) & fixed, f"{remediation.tool} did not clear {fixed}"
    still = set(w.active_faults()) & {f.id for f in loaded.incident_faults}
    assert not still, f"faults left active after every acceptable remediation: {still}"
    if "stalled" in loaded.tags:
        targets = {loaded.fault(f).target for f in fixed}
        assert all(_throughput_ratio(w, t) >= 0.8 for t in targets), f"{targets} still stalled after {remediation.tool}"
        control = no_action(name)
        assert any(_throughput_ratio(control, t) < 0.5 for t in targets), (
            "without the action it should still be stalled"
        )
    service = measured_service(name, fixed | covered)
    if service is not None:
        value = error_ratio(w, service)
        assert healthy(name, value, service), f"{service} error ratio {value} after {remediation.tool}"
        control = error_ratio(no_action(name), service)
        assert failing(name, control, service), f"without the action {service} should still fail ({control})"


def rule_args(rule: Any) -> dict[str, Any]:
    """Arguments of a call the rule applies to: its match, plus the object its v2 target names."""
    args = witness_args(rule.match)
    if rule.target is not None:
        args |= {k: v for k, v in (("namespace", rule.target.namespace), ("name", rule.target.name)) if v is not None}
        args["kind"] = rule.target.kind
    return args


@pytest.mark.parametrize(("name", "index"), rule_cases("none"))
def test_a_wrong_action_changes_nothing(name: str, index: int) -> None:
    loaded = scenario(name)
    rule = loaded.action_effects[index]
    w = after_action(name, rule.action, rule_args(rule))
    control = no_action(name)
    assert w.active_faults() == control.active_faults()
    service = alert_service(name)
    if error_ratio(control, service) is not None:
        assert error_ratio(w, service) == pytest.approx(error_ratio(control, service), rel=1e-9)


@pytest.mark.parametrize(("name", "index"), rule_cases("mitigates"))
def test_a_mitigation_only_buys_time(name: str, index: int) -> None:
    loaded = scenario(name)
    rule = loaded.action_effects[index]
    faults = {fault for _, fault in rule.effects if fault}
    assert faults, "a mitigation names the faults it suspends"
    relieved = after_action(name, rule.action, rule_args(rule), wait=timedelta(seconds=rule.relapse_after / 2))
    assert not faults & set(relieved.active_faults())
    relapsed = after_action(name, rule.action, rule_args(rule), wait=timedelta(seconds=rule.relapse_after) + SETTLE)
    assert faults <= set(relapsed.active_faults())
    service = measured_service(name, faults)
    if service is not None:
        assert failing(name, error_ratio(relapsed, service), service)


@pytest.mark.parametrize(("name", "index"), rule_cases("worsens"))
def test_a_harmful_action_makes_it_worse(name: str, index: int) -> None:
    loaded = scenario(name)
    rule = loaded.action_effects[index]
    worsened = {fault for _, fault in rule.effects if fault}
    assert any(a.tool == rule.action for a in loaded.expected.harmful_actions), "list it in expected.harmful_actions"
    w = after_action(name, rule.action, rule_args(rule))
    control = no_action(name)
    targets = {loaded.fault(f).target for f in worsened} | {alert_service(name)}
    # An external target has no SLI of its own (nothing of ours runs there): its callers show it.
    targets = {t for t in targets if catalog(name).services[t].sli.error_rate is not None}
    compared = [(s, error_ratio(w, s), error_ratio(control, s)) for s in targets]
    assert any(a is not None and b is not None and a > b * 1.1 + 0.001 for _, a, b in compared), compared


@pytest.mark.parametrize("name", [s.name for s in loaded_library() if not s.expected.incident])
def test_no_incident_means_no_fix_to_make(name: str) -> None:
    loaded = scenario(name)
    assert not loaded.expected.acceptable_remediations and loaded.expected.resolution == "close"
    assert not any(rule.does("fixes") for rule in loaded.action_effects)


# -- remediation through the production Kubernetes adapter ----------------------------------------


def api_remediation_cases() -> list[Any]:
    return [
        pytest.param(loaded.name, i, id=f"{loaded.name}-{i}")
        for loaded in loaded_library()
        for i, a in enumerate(loaded.expected.acceptable_remediations)
        if a.tool.startswith(("kubernetes.", "github."))
    ]


@pytest.mark.parametrize(("name", "index"), api_remediation_cases())
async def test_remediation_through_the_production_adapter(name: str, index: int) -> None:
    registry_module = pytest.importorskip("tools.registry")
    remediation = scenario(name).expected.acceptable_remediations[index]
    w = world(name)
    app = create_app(w)

    def client_factory(instance: str, settings: Any, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url, headers=headers)

    kinds = registry_module.available_kinds(include_plugins=False)
    registry = registry_module.ToolRegistry.from_config(
        {
            "kubernetes": {"kind": "kubernetes", "base_url": "http://sim/kubernetes"},
            "github": {"kind": "github", "base_url": "http://sim/github"},
        },
        kinds=kinds,
        client_factory=client_factory,
        clock=w.now,
    )
    try:
        adapter, spec = registry.resolve(remediation.tool)
        args = witness_args(remediation.args)
        if remediation.tool == "kubernetes.rollout_undo":
            args.pop("to_revision", None)
        if remediation.tool == "github.workflow_dispatch":
            args.setdefault("ref", "main")
        if remediation.tool == "kubernetes.revert_configmap":
            args.setdefault("data", _data_before_the_last_change(scenario(name), args["namespace"], args["name"]))
        result = await spec.fn(adapter, spec.input_model.model_validate(args))
        assert result.status == "ok", f"{result.summary} {result.error}"
    finally:
        await registry.aclose()
    [applied] = w.applied_actions
    assert applied.action == remediation.tool and remediation.matches(applied.action, applied.args), applied
    assert not set(w.active_faults()) & fixes_of(name, remediation)


def _workload_path(loaded: Scenario, service: str) -> str | None:
    """The API path of the v2 workload that runs ``service``, if one does (it has no Deployment then)."""
    plurals = {"StatefulSet": "apps/v1/namespaces/{ns}/statefulsets", "DaemonSet": "apps/v1/namespaces/{ns}/daemonsets"}
    plurals |= {"Job": "batch/v1/namespaces/{ns}/jobs", "CronJob": "batch/v1/namespaces/{ns}/cronjobs"}
    for workload in loaded.kubernetes.workloads if loaded.kubernetes else []:
        if workload.service == service:
            if workload.kind == "Job":
                return f"/apis/{plurals['Job'].format(ns=workload.namespace)}/{workload.job_runs()[0].name}"
            return f"/apis/{plurals[workload.kind].format(ns=workload.namespace)}/{workload.name}"
    return None


def _data_before_the_last_change(loaded: Scenario, namespace: str, name: str) -> dict[str, str]:
    """What a responder reverting a ConfigMap writes back: the data of the revision before the current one."""
    assert loaded.kubernetes is not None
    [configmap] = [c for c in loaded.kubernetes.configmaps if (c.namespace, c.name) == (namespace, name)]
    current = max(i for i, r in enumerate(configmap.revisions) if r.at <= 0)
    assert current >= 1, f"configmap {namespace}/{name} has no earlier revision to revert to"
    return dict(configmap.revisions[current - 1].data)


# Words of the agents' own judgement or of the actions they take: derivable from what they measure and
# do, so they need not appear in the world ("rolled back" after a rollback, "traffic" from the rates,
# "failover" from a database's promote request).
JUDGEMENT_WORDS = (
    "investigating",
    "traffic",
    "recovered",
    "capacity",
    "expected",
    "delayed",
    "demand",
    "impact",
    "failover",
)
ACTION_WORDS = ("roll", "restart", "scale", "suspend", "revert", "escalat", "stop", "cordon", "paused")


def _what_the_agents_see(loaded: Scenario) -> str:
    """Everything the scenario shows the agents, lower-cased: the catalog, telemetry and log templates,
    changes (titles, commits, run titles), the cluster, alerts, integrations. Not the answer key, the
    action effects, the descriptions of the scenario and its faults, nor workflow input declarations
    (GitHub's API does not serve them)."""
    raw = json.loads(loaded.model_dump_json())
    for hidden in ("description", "expected", "action_effects", "tags", "name", "seed"):
        raw.pop(hidden, None)
    for fault in raw.get("faults", []):
        for hidden in ("description", "id", "type", "change"):
            fault.pop(hidden, None)
    for workflow in (raw.get("integrations", {}).get("github") or {}).get("workflows", []):
        workflow.pop("inputs", None)
    return (json.dumps(raw) + catalog_yaml(loaded)).lower()


@pytest.mark.parametrize("name", NAMES)
def test_facts_and_remediation_inputs_are_derivable_from_what_the_agents_see(name: str) -> None:
    loaded = scenario(name)
    seen = _what_the_agents_see(loaded)

    def shown(value: str) -> bool:
        return re.search(r"(?<![\w.-])" + re.escape(value.lower()) + r"(?![\w-])", seen) is not None

    def derivable(fact: str) -> bool:
        # A phrase is derivable when the world shows each of its words ("SMS provider" from the service
        # sms-provider, "The SMS delivery provider's API"), or it is the agents' own judgement or action.
        words = re.findall(r"[\w.-]+", fact.lower())
        return all(w in seen for w in words) or any(w in fact.lower() for w in JUDGEMENT_WORDS + ACTION_WORDS)

    hidden = [f"comms_facts: {fact!r}" for fact in loaded.expected.comms_facts if not derivable(fact)]
    for i, action in enumerate(loaded.expected.acceptable_remediations):
        for key, value in action.args.items():
            if key.startswith("inputs.") and not shown(key.removeprefix("inputs.")):
                hidden.append(f"acceptable_remediations[{i}]: input {key.removeprefix('inputs.')!r}")
            if isinstance(value, str):
                text = value.removesuffix(".yml").removesuffix(".yaml") if key == "workflow" else value
                if not shown(text):
                    hidden.append(f"acceptable_remediations[{i}].args.{key}: {value!r}")
    assert not hidden, f"the agents cannot know these (show them in the world, or reword): {hidden}"


def test_the_readme_lists_every_scenario() -> None:
    readme = (SCENARIO_DIR / "README.md").read_text(encoding="utf-8")
    missing = [name for name in NAMES if f"| `{name}` |" not in readme]
    assert not missing, f"add them to the library table of evals/scenarios/README.md: {missing}"
