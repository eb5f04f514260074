"""Third parties' public status pages: served in Statuspage's public shape, as posted by the clock's now,
read by the production provider_status adapter, named in the catalog and the sandbox's tools."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from evals.sim import World, create_app
from evals.sim.catalog import service_catalog
from evals.sim.scenario import ScenarioError, parse_scenario
from evals.sim.server import start_sim
from evals.sim.timeutil import SimClock
from tools.registry import ToolRegistry, available_kinds

ANCHOR = datetime(2027, 5, 12, 14, 30, tzinfo=UTC)


def raw(**provider: Any) -> dict[str, Any]:
    page = {
        "id": "cardco",
        "name": "CardCo Status",
        "service": "card-processor",
        "components": [
            {"id": "auth", "name": "Card Authorization", "group": "Payments API"},
            {"id": "dash", "name": "Dashboard"},
        ],
        "incidents": [
            {
                "id": "eu-auth",
                "name": "Elevated authorization errors",
                "impact": "major",
                "updates": [
                    {
                        "at": "-5m",
                        "status": "investigating",
                        "body": "We are investigating.",
                        "components": {"auth": "degraded_performance"},
                    },
                    {
                        "at": "+4m",
                        "status": "identified",
                        "body": "A database cluster failed.",
                        "components": {"auth": "partial_outage"},
                    },
                    {"at": "+40m", "status": "resolved", "body": "Resolved.", "components": {"auth": "operational"}},
                ],
            }
        ],
        **provider,
    }
    return {
        "version": 2,
        "name": "providers",
        "description": "A checkout calling an external card processor with a public status page.",
        "topology": {
            "services": [
                {
                    "name": "checkout",
                    "image": "c:1",
                    "dependencies": ["card-processor"],
                    "baseline": {"request_rate": 20},
                },
                {"name": "card-processor", "kind": "external", "baseline": {"request_rate": 0}},
            ]
        },
        "alerts": [{"name": "CheckoutErrors", "labels": {"service": "checkout"}}],
        "integrations": {"providers": [page]},
        "expected": {"incident": True, "severity": "SEV2", "resolution": "escalate"},
    }


def world(minutes: float) -> World:
    return World(
        parse_scenario(raw(), origin="p"), anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=minutes))
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(world(1))), base_url="http://sim"
    ) as http:
        yield http


async def test_the_page_shows_what_was_posted_by_now(client: httpx.AsyncClient) -> None:
    summary = (await client.get("/providers/cardco/api/v2/summary.json")).json()
    assert summary["page"]["name"] == "CardCo Status"
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    by_name = {c["name"]: c for c in summary["components"]}
    assert by_name["Payments API"]["group"] is True and by_name["Payments API"]["status"] == "degraded_performance"
    assert by_name["Card Authorization"]["status"] == "degraded_performance"
    assert by_name["Card Authorization"]["group_id"] == by_name["Payments API"]["id"]
    [incident] = summary["incidents"]
    assert incident["status"] == "investigating" and len(incident["incident_updates"]) == 1  # +4m not posted yet
    assert incident["incident_updates"][0]["affected_components"][0]["new_status"] == "degraded_performance"
    unresolved = (await client.get("/providers/cardco/api/v2/incidents/unresolved.json")).json()
    assert [i["name"] for i in unresolved["incidents"]] == ["Elevated authorization errors"]
    assert (await client.get("/providers/cardco/api/v2/status.json")).json()["status"]["indicator"] == "major"
    assert (await client.get("/providers/nobody/api/v2/summary.json")).status_code == 404
    assert (await client.get("/providers/cardco/api/v2/secrets.json")).status_code == 404


def test_later_updates_appear_and_a_resolved_incident_leaves_the_unresolved_list() -> None:
    later = world(10).providers.summary("cardco")
    assert later["incidents"][0]["status"] == "identified"
    assert later["incidents"][0]["incident_updates"][0]["body"] == "A database cluster failed."
    before = world(-30).providers.summary("cardco")
    assert before["incidents"] == [] and before["status"]["indicator"] == "none"
    done = world(60).providers
    assert done.summary("cardco")["incidents"] == []
    assert done.document("cardco", "incidents")["incidents"][0]["resolved_at"] is not None


async def test_the_production_adapter_reads_the_simulated_page() -> None:
    w = world(10)
    app = create_app(w)

    def client_factory(instance: str, settings: Any, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url, headers=headers)

    registry = ToolRegistry.from_config(
        {"status_cardco": {"kind": "provider_status", "base_url": "http://sim/providers/cardco"}},
        kinds=available_kinds(include_plugins=False),
        client_factory=client_factory,
        clock=w.now,
    )
    try:
        adapter, spec = registry.resolve("status_cardco.summary")
        result = await spec.fn(adapter, spec.input_model.model_validate({}))
    finally:
        await registry.aclose()
    assert result.status == "ok", result.error
    assert result.data["components"][0] == {
        "name": "Card Authorization",
        "status": "partial_outage",
        "group": "Payments API",
        "updated_at": "2027-05-12T14:34:00Z",
    }
    assert "identified" in result.summary


def test_the_catalog_and_the_sandbox_name_the_page() -> None:
    scenario = parse_scenario(raw(), origin="p")
    assert service_catalog(scenario)["services"]["card-processor"]["status_page"] == "status_cardco"
    with start_sim(scenario, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR)) as sim:
        tools = sim.tools_config(kinds=set(available_kinds()))
        assert tools["status_cardco"] == {"kind": "provider_status", "base_url": f"{sim.base_url}/providers/cardco"}
        assert "status_cardco" not in sim.tools_config(kinds={"prometheus"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"service": "checkout"}, "is not external"),
        ({"service": "nobody"}, "unknown service"),
        (
            {
                "incidents": [
                    {
                        "id": "x",
                        "name": "x",
                        "updates": [
                            {"at": 0, "status": "investigating", "body": "b", "components": {"zzz": "major_outage"}}
                        ],
                    }
                ]
            },
            "unknown component",
        ),
    ],
)
def test_a_provider_page_is_checked(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(raw(**change), origin="p")
