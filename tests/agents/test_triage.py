from agents.triage import assess_severity
from knowledge.catalog import Service


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
