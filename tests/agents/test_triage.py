from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from agents.triage import assess_severity, confirm_signal
from knowledge.catalog import Service, ServiceSLI
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
    assert severity == "SEV3" and reasons[-1] == "tier 2: at least SEV3"


def test_unknown_alert_severity_counts_as_warning() -> None:
    assert assess_severity("weird", Service(name="x", tier=1, customer_facing=True))[0] == "SEV3"


def test_measured_impact_and_its_reach_weigh_in_and_are_named() -> None:
    from agents.triage import customer_facing_caller
    from knowledge.catalog import ServiceCatalog

    db = Service(name="orders-db", tier=1)
    assert assess_severity("critical", db)[0] == "SEV2"
    severity, reasons = assess_severity("critical", db, failing=0.6)  # most requests fail on a tier-1 service
    assert severity == "SEV1" and "measured: 60% of requests failing now, most of them (+1)" in reasons
    assert assess_severity("critical", db, failing=0.3)[0] == "SEV2"  # measured, named, but not "most"
    assert "measured: 30.0% of requests failing now" in assess_severity("critical", db, failing=0.3)[1]
    assert assess_severity("critical", Service(name="x", tier=2), failing=0.9)[0] == "SEV2"  # tier 1 only
    severity, reasons = assess_severity("critical", db, reaches="storefront")
    assert severity == "SEV1" and "its callers include customer-facing storefront (+1)" in reasons

    catalog = ServiceCatalog(
        services={
            "web": Service(name="web", customer_facing=True, dependencies=["api"]),
            "api": Service(name="api", dependencies=["orders-db"]),
            "orders-db": db,
            "batch": Service(name="batch", dependencies=["ledger"]),
            "ledger": Service(name="ledger"),
        }
    )
    assert customer_facing_caller(catalog, "orders-db") == "web"  # two hops up
    assert customer_facing_caller(catalog, "ledger") is None


def test_an_error_alert_whose_errors_the_sli_does_not_show_weighs_less() -> None:
    """Class 11: a spike already over (the SLI at its baseline now) is not a SEV1 on the alert's word."""
    checkout = Service(name="checkout", tier=1, customer_facing=True)
    severity, reasons = assess_severity("critical", checkout, failing=0.003, unseen=True)
    assert severity == "SEV2" and any("not visible (-1)" in r for r in reasons)
    assert assess_severity("critical", checkout, failing=0.003)[0] == "SEV1"


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
