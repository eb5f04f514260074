from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from agents.triage import (
    MeasuredImpact,
    PathShare,
    assess_severity,
    confirm_signal,
    customer_facing_caller,
    customer_facing_callers,
    measure_impact,
)
from knowledge.catalog import Service, ServiceCatalog, ServiceSLI
from tests.agents.conftest import NOW, agent_context
from tools.base import AdapterSettings
from tools.http import HttpCaller
from tools.prometheus import PrometheusAdapter
from tools.registry import ToolRegistry


def test_critical_alert_on_tier1_customer_facing_is_sev1() -> None:
    severity, reasons = assess_severity("critical", Service(name="checkout", tier=1, customer_facing=True))
    assert severity == "SEV1"
    assert any("customer-facing" in r for r in reasons)


def test_critical_alert_on_internal_tier3_is_sev3() -> None:
    assert assess_severity("critical", Service(name="batch", tier=3))[0] == "SEV3"


def test_sev4_is_for_the_low_tiers() -> None:
    assert assess_severity("warning", Service(name="reports", tier=3))[0] == "SEV4"
    severity, reasons = assess_severity("warning", Service(name="reports", tier=2))  # 1.5 points
    assert severity == "SEV3" and "tier 2: at least SEV3" in reasons


def test_unknown_alert_severity_counts_as_warning() -> None:
    assert assess_severity("weird", Service(name="x", tier=1, customer_facing=True))[0] == "SEV3"


def test_without_a_measurement_the_label_decides_and_says_so() -> None:
    severity, reasons = assess_severity("critical", Service(name="orders-db", tier=1), reaches="storefront")
    assert severity == "SEV1" and "its callers include customer-facing storefront (+1)" in reasons
    assert reasons[-1] == "impact not measured (no readable error-rate SLI): the label's SEV1 stands"


CHECKOUT = Service(name="checkout", tier=1, customer_facing=True)


def own(service: Service, failing: float, *, about_errors: bool = True) -> MeasuredImpact:
    """A customer-facing service measured on its own SLI (no customer-facing caller)."""
    edge = [PathShare(service=service.name, tier=service.tier, failing=failing)] if service.customer_facing else []
    return MeasuredImpact(failing=failing, edge=edge, about_errors=about_errors)


def test_a_major_share_failing_on_a_tier1_customer_facing_path_is_sev1_whatever_the_label() -> None:
    severity, reasons = assess_severity("warning", CHECKOUT, impact=own(CHECKOUT, 0.15))
    assert severity == "SEV1"
    assert reasons[-2] == (
        "measured: 15.0% of requests failing now at this customer-facing service (tier 1), "
        "a major share of its users (>= 15%) -> SEV1"
    )
    assert reasons[-1] == "SEV1 (the label's SEV3, moved to what the measured impact allows)"


def test_a_partial_failure_of_a_tier1_customer_facing_path_is_sev2_not_the_labels_sev1() -> None:
    severity, reasons = assess_severity("critical", CHECKOUT, impact=own(CHECKOUT, 0.12))
    assert severity == "SEV2"
    assert "a partial degradation (1% to 15%) -> SEV2" in reasons[-2] and "12.0% of requests" in reasons[-2]
    assert assess_severity("critical", CHECKOUT, impact=own(CHECKOUT, 0.149))[0] == "SEV2"
    assert assess_severity("warning", CHECKOUT, impact=own(CHECKOUT, 0.01))[0] == "SEV2"  # raised from SEV3


def test_an_error_alert_whose_errors_no_customer_facing_path_shows_is_at_most_sev2() -> None:
    """A spike already over (the SLI at its baseline now) is not a SEV1 on the alert's word; the label
    still chooses below SEV2."""
    severity, reasons = assess_severity("critical", CHECKOUT, impact=own(CHECKOUT, 0.003))
    assert severity == "SEV2" and "no tier-1 customer-facing path failing 1%" in reasons[-2]
    feed = Service(name="feed", tier=2, customer_facing=True)
    assert assess_severity("warning", feed, impact=own(feed, 0.0))[0] == "SEV3"


def test_customers_meet_the_impact_at_the_customer_facing_callers() -> None:
    api = Service(name="comments-api", tier=1, customer_facing=True)
    # The front end customers use fails far less than the API behind it: its share is the impact.
    behind = MeasuredImpact(failing=0.3, edge=[PathShare(service="forum-web", tier=1, failing=0.002)])
    severity, reasons = assess_severity("critical", api, impact=behind)
    assert severity == "SEV2" and "customer-facing paths: forum-web 0.2%" in reasons[-2]
    # A dependency healthy on its own SLI whose customer-facing caller fails a major share: SEV1.
    vault = Service(name="vault", tier=1)
    reached = MeasuredImpact(failing=0.001, edge=[PathShare(service="checkout-web", tier=1, failing=0.2)])
    severity, reasons = assess_severity("warning", vault, impact=reached)
    assert severity == "SEV1" and "at customer-facing checkout-web (tier 1)" in reasons[-2]


def test_most_requests_of_a_tier1_service_failing_is_an_outage_even_internal() -> None:
    db = Service(name="orders-db", tier=1)
    severity, reasons = assess_severity("critical", db, impact=own(db, 0.6))
    assert severity == "SEV1" and "60% of this tier-1 service's requests failing now, most of them" in reasons[-2]
    assert assess_severity("critical", db, impact=own(db, 0.3))[0] == "SEV2"  # internal, not most: capped
    assert assess_severity("critical", Service(name="x", tier=2), impact=own(db, 0.9))[0] == "SEV2"  # tier 1 only


def test_a_lower_tier_customer_facing_path_failing_a_major_share_is_sev2_or_sev3_by_the_label() -> None:
    returns = Service(name="returns", tier=2, customer_facing=True)
    assert assess_severity("critical", returns, impact=own(returns, 0.5))[0] == "SEV2"
    severity, reasons = assess_severity("warning", returns, impact=own(returns, 0.5))
    assert severity == "SEV3" and reasons[-2].endswith(
        "a major share of a lower-tier customer-facing path -> SEV2 to SEV3"
    )
    batch = Service(name="batch", tier=3, customer_facing=True)
    assert assess_severity("info", batch, impact=own(batch, 0.5))[0] == "SEV3"  # raised from SEV4


def test_the_error_share_raises_but_never_lowers_an_alert_about_latency() -> None:
    slow = own(CHECKOUT, 0.05, about_errors=False)
    severity, reasons = assess_severity("critical", CHECKOUT, impact=slow)
    assert severity == "SEV1" and "the error share raises its grade, never lowers it" in reasons[-2]
    listings = Service(name="listings", tier=1)
    reached = MeasuredImpact(failing=0.07, edge=[PathShare(service="web", tier=1, failing=0.04)], about_errors=False)
    assert assess_severity("warning", listings, impact=reached, reaches="web")[0] == "SEV2"  # raised from SEV3


def test_the_edge_is_the_customer_facing_callers_nearest_first() -> None:
    catalog = ServiceCatalog(
        services={
            "web": Service(name="web", customer_facing=True, dependencies=["api"]),
            "app": Service(name="app", customer_facing=True, dependencies=["orders-db"]),
            "api": Service(name="api", dependencies=["orders-db"]),
            "orders-db": Service(name="orders-db", tier=1),
            "batch": Service(name="batch", dependencies=["ledger"]),
            "ledger": Service(name="ledger"),
        }
    )
    assert [s.name for s in customer_facing_callers(catalog, "orders-db")] == ["app", "web"]  # one hop, then two
    assert customer_facing_caller(catalog, "orders-db") == "app"
    assert customer_facing_callers(catalog, "ledger") == [] and customer_facing_caller(catalog, "ledger") is None


def prom_series(*values: float, last_minutes_ago: int = 0) -> dict[str, Any]:
    start = NOW - timedelta(minutes=60)
    points = [
        [(start + timedelta(minutes=i)).timestamp(), str(values[min(i, len(values) - 1)])]
        for i in range(0, 61 - last_minutes_ago)
    ]  # fmt: skip
    return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}}


async def test_measure_impact_reads_the_callers_that_customers_use(tmp_path: Path) -> None:
    base = "http://prom.test"
    api = Service(name="api", tier=1, customer_facing=True, sli=ServiceSLI(error_rate="api_errors"))
    web = Service(
        name="web", tier=1, customer_facing=True, dependencies=["api"], sli=ServiceSLI(error_rate="web_errors")
    )
    app = Service(
        name="app", tier=2, customer_facing=True, dependencies=["api"], sli=ServiceSLI(error_rate="app_errors")
    )
    kiosk = Service(name="kiosk", tier=1, customer_facing=True, dependencies=["api"])  # no SLI: unread
    async with httpx.AsyncClient(base_url=base) as client:
        adapter = PrometheusAdapter(
            "prometheus", AdapterSettings(base_url=base), HttpCaller(client, instance="prometheus", backoff_seconds=0)
        )
        registry = ToolRegistry({"prometheus": adapter})
        ctx = agent_context(tmp_path, registry=registry, services=[api, web, app, kiosk])
        with respx.mock(base_url=base) as mock:
            mock.get("/api/v1/query_range", params={"query": "web_errors"}).respond(200, json=prom_series(0.04))
            mock.get("/api/v1/query_range", params={"query": "app_errors"}).respond(
                200, json=prom_series(0.5, last_minutes_ago=20)
            )  # stale: measures nothing
            impact = await measure_impact(api, 0.3, ctx, about_errors=True)
            alone = await measure_impact(
                api, 0.3, agent_context(tmp_path, registry=registry, services=[api]), about_errors=False
            )
    assert impact is not None and impact.edge == [PathShare(service="web", tier=1, failing=0.04)]
    assert alone is not None and alone.edge == [PathShare(service="api", tier=1, failing=0.3)]
    assert not alone.about_errors
    assert await measure_impact(api, None, ctx, about_errors=True) is None  # own SLI unread: the label decides


async def test_stale_samples_confirm_nothing_and_measure_nothing(tmp_path: Path) -> None:
    """Missing telemetry is unknown, not healthy: an error-rate series whose samples stopped twenty
    minutes ago neither refutes the alert nor counts as "0% failing now"."""
    base = "http://prom.test"
    service = Service(name="api", tier=1, customer_facing=True, sli=ServiceSLI(error_rate="sum(rate(errors[5m]))"))

    def series(last_minutes_ago: int) -> dict[str, Any]:
        start = NOW - timedelta(minutes=60)
        points = [
            [(start + timedelta(minutes=i)).timestamp(), "0.001"]
            for i in range(0, 61 - last_minutes_ago)
        ]  # fmt: skip
        return {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]}}

    async with httpx.AsyncClient(base_url=base) as client:
        adapter = PrometheusAdapter(
            "prometheus", AdapterSettings(base_url=base), HttpCaller(client, instance="prometheus", backoff_seconds=0)
        )
        ctx = agent_context(tmp_path, registry=ToolRegistry({"prometheus": adapter}), services=[service])
        with respx.mock(base_url=base) as mock:
            mock.get("/api/v1/query_range").respond(200, json=series(20))
            stale = await confirm_signal(service, ctx)
            mock.get("/api/v1/query_range").respond(200, json=series(0))
            fresh = await confirm_signal(service, ctx)
    assert stale[0] is True and stale[2] is None and "stale" in stale[1]
    assert fresh[0] is False and fresh[2] == pytest.approx(0.001)
