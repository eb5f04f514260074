"""The scenario format: validation errors name the field, the schema file is current, the first
scenario agrees with the example service catalog."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from evals.sim.scenario import (
    SCHEMA_PATH,
    Scenario,
    ScenarioError,
    load_scenario,
    parse_scenario,
    render_schema,
    scenario_json_schema,
)
from evals.sim.timeutil import format_offset, parse_duration, parse_offset
from knowledge.catalog import ServiceCatalog

REPO = Path(__file__).resolve().parents[3]
SCENARIO_PATH = REPO / "evals" / "scenarios" / "checkout-migration.yaml"
SCENARIOS = sorted((REPO / "evals" / "scenarios").glob("*.yaml"))


@pytest.fixture
def raw() -> dict[str, Any]:
    return yaml.safe_load(SCENARIO_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def invalid(raw: dict[str, Any]) -> str:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(raw, origin="case.yaml")
    return str(caught.value)


def test_committed_schema_is_generated_from_the_model() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == render_schema(), "run: python -m evals.sim schema"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_scenario_file_validates_against_model_and_schema(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), scenario_json_schema())


def test_offsets_parse_and_format() -> None:
    assert parse_offset("-2h50m") == -10200
    assert parse_offset("0") == 0
    assert parse_offset("+30s") == 30
    assert parse_offset("-1d4h") == -100800
    assert parse_offset(90) == 90
    assert format_offset(-10200) == "-2h50m"
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    for bad in ("", "-", "5x", "m5", "1h-5m"):
        with pytest.raises(ValueError):
            parse_offset(bad)


def test_wrong_version_is_refused(raw: dict[str, Any]) -> None:
    raw["version"] = 3
    assert "version: this simulator reads scenario versions 1 and 2, got 3" in invalid(raw)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r["faults"][0].update(target="chekout"), "faults[0].target: unknown service 'chekout'"),
        (
            lambda r: r["faults"][0]["effects"].update(error_ratio=1.5),
            "faults[0].effects.error_ratio: Input should be less than or equal to 1",
        ),
        (lambda r: r["faults"][0].update(starts_at="-5x"), "faults[0].starts_at: expected an offset"),
        (lambda r: r["faults"][0].update(ends_at="-10m"), "faults[0].ends_at: must be after starts_at"),
        (
            lambda r: r["changes"][1]["deploy"].update(revision=3),
            "changes[1].deploy.revision: 3 must be above the previous revision 6",
        ),
        (lambda r: r["changes"][0].update(service="nope"), "changes[0].service: unknown service 'nope'"),
        (lambda r: r["changes"][1]["commit"].update(sha="xyz"), "changes[1].commit.sha: String should match pattern"),
        (lambda r: r["alerts"][0].update(fault="nope"), "alerts[0].fault: unknown fault 'nope'"),
        (
            lambda r: r["action_effects"][0].update(effect="fixes:nope"),
            "action_effects[0].effect: unknown fault 'nope'",
        ),
        (
            lambda r: r["action_effects"][0].update(effect="repairs"),
            "action_effects[0].effect: expected none, fixes:<fault>",
        ),
        (lambda r: r["action_effects"][0].update(effect=[]), "action_effects[0].effect: expected at least one effect"),
        (
            lambda r: r["expected"]["root_cause"].update(category="gremlins"),
            "expected.root_cause.category: Input should be 'migration'",
        ),
        (
            lambda r: r["expected"]["acceptable_remediations"][0]["args"].update(name="inventory"),
            "expected.acceptable_remediations[0]: no action_effects rule makes kubernetes.rollout_undo",
        ),
        (
            lambda r: r["expected"].update(
                harmful_actions=[
                    {"tool": "kubernetes.rollout_restart", "args": {"namespace": "shop", "name": "checkout"}}
                ]
            ),
            "expected.harmful_actions[0]: no action_effects rule makes kubernetes.rollout_restart",
        ),
        (
            lambda r: r["expected"].update(incident=False),
            "expected.resolution: must be close when no incident is expected",
        ),
        (lambda r: r["tags"].append("hard"), "tags: at most one of easy, medium, hard"),
        (
            lambda r: r["faults"][0]["effects"].update(gauges=[{"name": "disk_used_ratio", "value": 1}]),
            "faults[0].effects.gauges[0].name: unknown gauge of checkout 'disk_used_ratio'",
        ),
        (lambda r: r["faults"][0].update(builds_from="-1m"), "faults[0].builds_from: must be before starts_at"),
        (
            lambda r: r["topology"]["services"][0].update(dependencies=["ghost"]),
            "topology.services[0].dependencies: unknown service 'ghost'",
        ),
        (
            lambda r: r["topology"]["services"][0]["baseline"].update(latency_p99=0.01),
            "topology.services[0].baseline: latency_p99 must not be below latency_p50",
        ),
        (
            lambda r: r["topology"]["services"][0].update(colour="blue"),
            "topology.services[0].colour: Extra inputs are not permitted",
        ),
        (
            lambda r: r["logs"]["checkout"][0].update(template="{nope}"),
            "logs.checkout[0].template: unknown placeholder {nope}",
        ),
        (lambda r: r["logs"].update(ghost=[]), "logs.ghost: unknown service 'ghost'"),
        (
            lambda r: r["expected"]["root_cause"].update(change_id="nope"),
            "expected.root_cause.change_id: unknown change 'nope'",
        ),
        (
            lambda r: r["integrations"]["pagerduty"]["oncalls"][0].update(user="nobody"),
            "integrations.pagerduty.oncalls[0].user: unknown user",
        ),
        (lambda r: r.pop("expected"), "expected: Field required"),
    ],
)
def test_validation_errors_name_the_field(raw: dict[str, Any], mutate: Any, expected: str) -> None:
    changed = copy.deepcopy(raw)
    mutate(changed)
    message = invalid(changed)
    assert message.startswith("case.yaml: ")
    assert expected in message


def test_every_problem_is_reported_at_once(raw: dict[str, Any]) -> None:
    raw["faults"][0]["target"] = "a"
    raw["alerts"][0]["fault"] = "b"
    message = invalid(raw)
    assert "faults[0].target" in message and "alerts[0].fault" in message


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [1\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="is not valid YAML"):
        load_scenario(broken)


def test_checkout_scenario_matches_the_example_catalog(scenario: Scenario) -> None:
    catalog = ServiceCatalog.load(REPO / "examples" / "catalog.yaml")
    for spec in scenario.topology.services:
        entry = catalog.get(spec.name)
        assert entry is not None, spec.name
        assert (spec.namespace, spec.tier, spec.customer_facing, spec.kind) == (
            entry.namespace,
            entry.tier,
            entry.customer_facing,
            entry.kind,
        )
        assert spec.deployment_name == entry.deployment_name
        assert spec.repo == entry.repo
        assert sorted(spec.dependencies) == sorted(entry.dependencies)
    checkout = catalog.services["checkout"]
    statuspage = scenario.integrations.statuspage
    assert statuspage is not None and statuspage.page_id == "page-acme"
    assert checkout.statuspage_component in {c.id for c in statuspage.components}
    assert checkout.chat_channel in {c.id for c in scenario.integrations.slack.channels}


def test_checkout_scenario_tells_the_story(scenario: Scenario) -> None:
    deploy = scenario.change("deploy-checkout-v2.14.0")
    assert deploy.at == -10200 and deploy.deploy is not None and deploy.deploy.revision == 7
    assert deploy.commit is not None and deploy.commit.sha.startswith("a1b2c3d")
    migration = scenario.change("migration-0042")
    assert migration.workflow is not None and migration.workflow.name == "db-migrate" and migration.at == -360
    assert migration.commit is not None
    assert "ALTER TABLE orders RENAME COLUMN customer_id TO buyer_id" in migration.commit.files[0].patch
    fault = scenario.fault("orders-column-renamed")
    assert (fault.type, fault.target, fault.starts_at, fault.effects.error_ratio) == (
        "migration",
        "checkout",
        -300,
        0.35,
    )
    assert scenario.service("checkout").baseline.request_rate == 40
    assert scenario.expected.root_cause is not None and scenario.expected.root_cause.change_id == "migration-0042"


def test_schema_documents_offsets() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    fault = schema["$defs"]["Fault"]["properties"]["starts_at"]
    assert fault["anyOf"][0]["type"] == "string"


def test_library_loads_by_name_or_path() -> None:
    from evals.sim.library import load_library, scenario_names
    from evals.sim.library import load_scenario as load_named

    assert "checkout-migration" in scenario_names()
    assert load_named("checkout-migration").name == "checkout-migration"
    assert load_named(SCENARIO_PATH).name == "checkout-migration"
    assert [s.name for s in load_library()] == scenario_names()
    with pytest.raises(ScenarioError, match=r"no scenario named 'chekout' .*known: .*checkout-migration"):
        load_named("chekout")
