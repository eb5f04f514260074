"""The service catalog generated from a scenario: the agents' view of its services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from evals.sim import World, start_sim
from evals.sim.catalog import catalog_yaml, service_catalog
from evals.sim.scenario import Scenario, parse_scenario
from knowledge.catalog import ServiceCatalog

REPO = Path(__file__).resolve().parents[3]


def test_the_checkout_catalog_matches_the_hand_written_example(scenario: Scenario) -> None:
    generated = ServiceCatalog.from_mapping(yaml.safe_load(catalog_yaml(scenario)))
    example = ServiceCatalog.load(REPO / "examples" / "catalog.yaml")
    assert set(generated.services) == set(example.services)
    fields = (
        "tier",
        "customer_facing",
        "owner",
        "dependencies",
        "namespace",
        "deployment_name",
        "repo",
        "statuspage_component",
        "sli",
        "logs",
        "kind",
        "runbooks",
        "description",
    )
    for name, entry in example.services.items():
        mine = generated.services[name]
        for field in fields:
            assert getattr(mine, field) == getattr(entry, field), (name, field)
        assert mine.oncall is not None and entry.oncall is not None
        assert (mine.oncall.name, mine.oncall.handle) == (entry.oncall.name, entry.oncall.handle)


def small(**service: Any) -> Scenario:
    return parse_scenario(
        {
            "version": 1,
            "name": "small",
            "description": "d",
            "topology": {
                "services": [
                    {
                        "name": "api",
                        "namespace": "core",
                        "deployment": "api-server",
                        "repo": "o/api",
                        "image": "api:1",
                        "dependencies": ["psp", "db"],
                        "baseline": {"request_rate": 5},
                        **service,
                    },
                    {"name": "db", "kind": "database", "image": "pg:16", "baseline": {"request_rate": 50}},
                    {"name": "psp", "kind": "external", "baseline": {"request_rate": 5}},
                ]
            },
            "integrations": {
                "slack": {"channels": [{"id": "C0A", "name": "incidents"}, {"id": "C0B", "name": "team"}]}
            },
            "expected": {"incident": True},
        }
    )


def test_kinds_overrides_and_defaults() -> None:
    services = service_catalog(
        small(
            sli={"saturation": 'max(container_cpu_usage_ratio{service="api"})'},
            chat_channel="C0B",
            owner="team-core",
            runbooks=["api-5xx"],
        )
    )["services"]
    api, db, psp = services["api"], services["db"], services["psp"]
    assert api["logs"] == '{namespace="core", app="api-server"}' and api["deployment"] == "api-server"
    assert set(api["sli"]) == {"error_rate", "latency_p99", "saturation"}
    assert (api["owner"], api["chat_channel"], api["runbooks"]) == ("team-core", "C0B", ["api-5xx"])
    assert "pg_errors_total" in db["sli"]["error_rate"] and "pg_connections_in_use" in db["sli"]["saturation"]
    assert db["owner"] == "unowned" and db["chat_channel"] == "C0A"
    assert "sli" not in psp and "logs" not in psp and "deployment" not in psp
    assert ServiceCatalog.from_mapping({"services": services}).blast_radius("api") == {"api": 0, "psp": 1, "db": 1}


def test_every_catalog_query_is_answered(scenario: Scenario, world: World) -> None:
    for entry in service_catalog(scenario)["services"].values():
        for query in entry.get("sli", {}).values():
            assert world.promql.instant(query, world.now_ts())["result"], query


def test_the_running_sim_writes_its_catalog(scenario: Scenario, tmp_path: Path) -> None:
    with start_sim(scenario) as sim:
        path = sim.write_catalog(tmp_path / "state" / "catalog.yaml")
        assert ServiceCatalog.load(path).get("checkout") is not None
        assert sim.catalog_yaml() == path.read_text(encoding="utf-8")
        assert sim.world.service_catalog() == service_catalog(scenario)
