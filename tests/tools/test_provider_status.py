"""ProviderStatusAdapter against respx, on the shape of a Statuspage public page (``/api/v2``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from tests.tools.conftest import BuildAdapter
from tools.provider_status import ProviderStatusAdapter, ProviderSummary

BASE = "https://status.cardco.example"
PAGE = {
    "id": "y2j98763l7yt",
    "name": "CardCo",
    "url": "https://status.cardco.example",
    "time_zone": "Etc/UTC",
    "updated_at": "2027-05-12T14:21:07.412Z",
}


def component(id_: str, name: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": id_,
        "name": name,
        "status": status,
        "created_at": "2019-02-11T19:12:03.245Z",
        "updated_at": "2027-05-12T14:21:07.401Z",
        "position": 1,
        "description": None,
        "showcase": True,
        "start_date": None,
        "group_id": extra.pop("group_id", None),
        "page_id": PAGE["id"],
        "group": extra.pop("group", False),
        "only_show_if_degraded": False,
        **extra,
    }


INCIDENT = {
    "id": "k6s8jbqgx3rz",
    "name": "Elevated authorization errors in EU",
    "status": "identified",
    "created_at": "2027-05-12T14:09:51.332Z",
    "updated_at": "2027-05-12T14:21:07.388Z",
    "monitoring_at": None,
    "resolved_at": None,
    "impact": "major",
    "shortlink": "https://stspg.io/k6s8jbq",
    "started_at": "2027-05-12T14:09:51.326Z",
    "page_id": PAGE["id"],
    "incident_updates": [
        {
            "id": "0zq1x0lh3t9c",
            "status": "identified",
            "body": "We have identified a failing database cluster behind card authorization in eu-west.",
            "incident_id": "k6s8jbqgx3rz",
            "created_at": "2027-05-12T14:21:07.384Z",
            "updated_at": "2027-05-12T14:21:07.384Z",
            "display_at": "2027-05-12T14:21:07.384Z",
            "affected_components": [
                {
                    "code": "gdmb1xsxbq3z",
                    "name": "Card Authorization",
                    "old_status": "degraded_performance",
                    "new_status": "partial_outage",
                }
            ],
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        },
        {
            "id": "vd8mxq5c4t1n",
            "status": "investigating",
            "body": "We are investigating elevated error rates.",
            "incident_id": "k6s8jbqgx3rz",
            "created_at": "2027-05-12T14:09:51.332Z",
            "updated_at": "2027-05-12T14:09:51.332Z",
            "display_at": "2027-05-12T14:09:51.332Z",
            "affected_components": None,
            "deliver_notifications": True,
            "custom_tweet": None,
            "tweet_id": None,
        },
    ],
    "components": [component("gdmb1xsxbq3z", "Card Authorization", "partial_outage", group_id="n2c8x5m2w1zz")],
}


def summary_body(*, incidents: list[dict[str, Any]], indicator: str = "major") -> dict[str, Any]:
    return {
        "page": PAGE,
        "components": [
            component("n2c8x5m2w1zz", "Payments API", "partial_outage", group=True, components=["gdmb1xsxbq3z"]),
            component("qk0s2b7v9h4d", "Dashboard", "operational"),
            component("gdmb1xsxbq3z", "Card Authorization", "partial_outage", group_id="n2c8x5m2w1zz"),
        ],
        "incidents": incidents,
        "scheduled_maintenances": [],
        "status": {"indicator": indicator, "description": "Partial System Outage"},
    }


@pytest.fixture
def page(build: BuildAdapter) -> ProviderStatusAdapter:
    adapter = build(ProviderStatusAdapter, BASE, token_env=None)
    assert isinstance(adapter, ProviderStatusAdapter)
    return adapter


async def test_summary_puts_degraded_components_first_and_shows_the_latest_update(page: ProviderStatusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v2/summary.json").respond(200, json=summary_body(incidents=[INCIDENT]))
        result = await page.invoke("summary", {})
    assert "Authorization" not in route.calls.last.request.headers  # a public page: no credentials sent
    assert result.status == "ok" and result.query == "GET /api/v2/summary.json"
    data = ProviderSummary.model_validate(result.data)
    assert data.indicator == "major" and data.page == "CardCo"
    assert [(c.name, c.status, c.group) for c in data.components] == [
        ("Card Authorization", "partial_outage", "Payments API"),
        ("Dashboard", "operational", None),
    ]
    [incident] = data.incidents
    assert incident.status == "identified" and incident.impact == "major"
    assert incident.updates[0].components == {"Card Authorization": "partial_outage"}
    assert incident.components == ["Card Authorization"]
    assert result.summary == (
        "CardCo: Partial System Outage; Card Authorization partial_outage; 1 unresolved incident(s), newest "
        "'Elevated authorization errors in EU' (identified, since 2027-05-12T14:09:51Z): We have identified a "
        "failing database cluster behind card authorization in eu-west."
    )


async def test_summary_filters_components_by_name(page: ProviderStatusAdapter) -> None:
    body = summary_body(incidents=[], indicator="none")
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/summary.json").respond(200, json=body)
        result = await page.invoke("summary", {"component": "dash"})
    assert [c["name"] for c in result.data["components"]] == ["Dashboard"]
    assert result.summary.endswith("; no unresolved incidents")


async def test_incidents_unresolved_or_all(page: ProviderStatusAdapter) -> None:
    resolved = {**INCIDENT, "id": "old1", "status": "resolved", "resolved_at": "2027-05-01T10:00:00.000Z"}
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/incidents/unresolved.json").respond(200, json={"page": PAGE, "incidents": []})
        everything = mock.get("/api/v2/incidents.json").respond(
            200, json={"page": PAGE, "incidents": [INCIDENT, resolved]}
        )
        open_only = await page.invoke("incidents", {})
        both = await page.invoke("incidents", {"include_resolved": True, "limit": 5})
    assert open_only.status == "no_data" and open_only.summary == "no unresolved incidents on CardCo"
    assert everything.called and both.status == "ok" and both.data["count"] == 2
    assert both.data["incidents"][1]["resolved_at"].startswith("2027-05-01T10:00:00")


async def test_a_malformed_page_is_an_error_that_says_what(page: ProviderStatusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/summary.json").respond(200, json={"page": PAGE, "components": "nope"})
        result = await page.invoke("summary", {})
    assert result.status == "error" and result.error is not None
    assert "components is not a JSON array" in result.error.message


async def test_a_page_that_is_down_is_an_upstream_error(page: ProviderStatusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/summary.json").respond(503, text="upstream connect error")
        result = await page.invoke("summary", {})
    assert result.status == "error" and result.error is not None and result.error.upstream_status == 503


async def test_check_reads_the_overall_status(page: ProviderStatusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/status.json").respond(
            200, json={"page": PAGE, "status": {"indicator": "none", "description": "All Systems Operational"}}
        )
        assert await page.check() == "CardCo: All Systems Operational"


def test_every_call_is_read_only() -> None:
    assert set(ProviderStatusAdapter.calls) == {"summary", "incidents"}
    assert not any(spec.safety.mutating for spec in ProviderStatusAdapter.calls.values())


async def test_a_transport_failure_is_reported_not_raised(page: ProviderStatusAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v2/summary.json").mock(side_effect=httpx.ConnectError("refused"))
        result = await page.invoke("summary", {})
    assert result.status == "error"
