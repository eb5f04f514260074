from agents.triage import assess_severity
from knowledge.catalog import Service


def test_critical_alert_on_tier1_customer_facing_is_sev1() -> None:
    severity, reasons = assess_severity("critical", Service(name="checkout", tier=1, customer_facing=True))
    assert severity == "SEV1"
    assert any("customer-facing" in r for r in reasons)


def test_critical_alert_on_internal_tier3_is_sev3() -> None:
    assert assess_severity("critical", Service(name="batch", tier=3))[0] == "SEV3"


def test_warning_on_internal_tier2_is_sev4() -> None:
    assert assess_severity("warning", Service(name="reports", tier=2))[0] == "SEV4"


def test_unknown_alert_severity_counts_as_warning() -> None:
    assert assess_severity("weird", Service(name="x", tier=1, customer_facing=True))[0] == "SEV3"
