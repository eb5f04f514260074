"""Messages per audience, from facts: the status page in customer words and plain numbers in the
configured zone, the stakeholder update with who approved what and a link, the incident channel with
evidence one line each; and the lint that checks every message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.humanize import clock_time, duration, share
from agents.message_lint import lint_message
from agents.messages import Impact, MessageContext, capability_of, render
from agents.state import (
    ApprovalRecord,
    CustomerImpact,
    Diagnosis,
    Evidence,
    IncidentState,
    ProposedAction,
    RuledOut,
    TimelineEntry,
    Verification,
)
from agents.supervisor import next_node
from knowledge.catalog import OnCall, Service, ServiceCatalog, ServiceSLI
from tests.agents.conftest import NOW, incident

ERRORS = 'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))'
CATALOG = ServiceCatalog(
    services={
        "checkout": Service(
            name="checkout",
            description="Takes payment and places orders.",
            capability="Checkout",
            tier=1,
            customer_facing=True,
            owner="team-payments",
            oncall=OnCall(name="Dana Reyes", handle="@dana"),
            dependencies=["payments-db"],
            sli=ServiceSLI(error_rate=ERRORS),
        ),
        "payments-db": Service(name="payments-db", description="PostgreSQL primary.", kind="database"),
        "vault": Service(name="vault", description="Tokenises card numbers.", customer_facing=True),
        "gateway": Service(name="gateway", capability="Card payments", dependencies=["vault"], customer_facing=True),
    }
)
ONSET = NOW - timedelta(minutes=22)


@pytest.mark.parametrize(
    ("fraction", "words"),
    [
        (0.71, "about 7 in 10"),
        (0.12, "about 1 in 10"),
        (0.034, "about 3 in 100"),
        (0.0021, "about 2 in 1,000"),
        (0.0002, "fewer than 1 in 1,000"),
        (0.99, "nearly all"),
    ],
)
def test_share_reads_as_a_plain_ratio(fraction: float, words: str) -> None:
    assert share(fraction) == words


def test_durations_and_times_are_for_people() -> None:
    assert duration(timedelta(seconds=20)) == "under a minute"
    assert duration(timedelta(minutes=25, seconds=10)) == "about 25 minutes"
    assert duration(timedelta(minutes=70)) == "1 hour 10 minutes"
    assert clock_time(datetime(2026, 12, 2, 10, 22, 49, 118000, tzinfo=UTC), "Europe/Berlin") == "11:22 CET"
    assert clock_time(datetime(2026, 7, 2, 10, 22, tzinfo=UTC), "Europe/Berlin") == "12:22 CEST"
    assert clock_time(NOW - timedelta(days=1), "UTC", today=NOW) == "Thu 19 Nov 10:00 UTC"


def test_capability_is_the_customers_word_or_that_of_the_callers_it_serves() -> None:
    assert capability_of(CATALOG, CATALOG.services["checkout"]) == "Checkout"
    assert capability_of(CATALOG, CATALOG.services["vault"]) == "Card payments"


def _state(**fields: object) -> IncidentState:
    alert = incident().alert.model_copy(update={"service": "checkout", "title": "checkout 5xx ratio above 5%"})
    evidence = Evidence(
        id="e1",
        source="prometheus.query_range",
        query=ERRORS,
        observation="checkout error ratio 0.20% before, 71.00% peak, 69.00% now",
        data={"baseline": 0.002, "peak": 0.71, "current": 0.69},
    )
    diagnosis = Diagnosis(
        root_cause="deploy checkout@abc1234 raised the error ratio",
        category="bad_deploy",
        entity="checkout",
        confidence=0.82,
        change_id="deploy-42",
        evidence=[evidence],
        ruled_out=[RuledOut(what="dependency payments-db", why="error_rate normal (0.0001999408870420919 vs 0.0002)")],
    )
    rollback = ProposedAction(
        id="rollback-1",
        tool="kubernetes.rollout_undo",
        args={"namespace": "shop", "name": "checkout"},
        title="Roll back deployment/checkout in shop from revision 8 to 7",
        status="verified",
        approval=ApprovalRecord(decision="approved", by="alice", at=NOW - timedelta(minutes=5), comment="go"),
    )
    base = IncidentState(
        id="inc-7",
        alert=alert,
        service="checkout",
        severity="SEV1",
        summary="SEV1: checkout 5xx ratio above 5% on checkout",
        onset=ONSET,
        sli_query=ERRORS,
        evidence=[evidence],
        diagnosis=diagnosis,
        actions=[rollback],
        timeline=[
            TimelineEntry(
                at=NOW - timedelta(minutes=17), actor="remediation", kind="proposed", text=f"proposed {rollback.title}"
            )
        ],
        verification=Verification(ok=True, baseline=0.002, observed=0.0021, query=ERRORS, detail="x", at=NOW),
    )
    return base.model_copy(update=fields)


def _ctx(zone: str = "Europe/Berlin", url: str = "https://console.test/incidents/inc-7") -> MessageContext:
    return MessageContext(
        catalog=CATALOG,
        now=NOW + timedelta(minutes=1),
        zone=zone,
        incident_url=url,
        update_every_minutes=30,
        oncall="Priya Natarajan",
        stakeholders=["support-leads"],
        query_link=lambda e: f"https://prom.test/graph?g0.expr={len(e.query)}",
    )


def _lint(text: str, audience: str, zone: str = "Europe/Berlin") -> list[str]:
    internals = {"checkout", "payments-db", "Dana Reyes", "Priya Natarajan"} - {"checkout"}
    return lint_message(text, audience, zone=zone, now=NOW, internals=internals)


def test_the_status_page_says_what_customers_use_how_badly_and_when_in_their_zone() -> None:
    text = render(_state(), "resolved", "customers", _ctx())
    assert text == (
        "Resolved: Checkout is working normally again. Between 10:38 CET and 11:00 CET (about 22 minutes) at the "
        "worst point about 7 in 10 Checkout requests failed. The cause was a software update we released; "
        "we rolled back the change that caused it."
    )
    assert _lint(text, "customers") == []


def test_an_open_status_page_promises_the_next_update() -> None:
    opened = _state(diagnosis=None, actions=[], verification=None)
    text = render(opened, "opened", "customers", _ctx())
    assert text.startswith("Investigating: errors with Checkout since 10:38 CET.")
    assert "about 7 in 10 Checkout requests failed" in text
    assert text.endswith("Next update by 11:31 CET.")
    assert _lint(text, "customers") == []


def test_the_stakeholder_update_names_the_approver_the_window_the_state_and_links() -> None:
    text = render(_state(), "resolved", "stakeholders", _ctx())
    lines = text.splitlines()
    assert lines[0] == "To: support-leads"
    assert lines[1] == "SEV1 incident inc-7: Checkout (checkout) — resolved"
    assert "Window: 10:38 CET to 11:00 CET (about 22 minutes)" in lines
    assert (
        "- Roll back deployment/checkout in shop from revision 8 to 7: verified (we rolled back the change that "
        "caused it); proposed by firstline, approved by alice at 10:55 CET after about 12 minutes" in lines
    )
    assert lines[-1] == "Incident: https://console.test/incidents/inc-7"
    assert _lint(text, "stakeholders") == []
    opened = render(_state(verification=None, actions=[]), "identified", "stakeholders", _ctx(url=""))
    assert "Next update: by 11:31 CET" in opened and "firstline incidents show inc-7" in opened
    assert _lint(opened, "stakeholders") == []


def test_the_channel_lists_evidence_with_its_query_link_the_approval_and_what_was_ruled_out() -> None:
    text = render(_state(), "resolved", "responders", _ctx())
    assert "Diagnosis (82%, bad_deploy): deploy checkout@abc1234 raised the error ratio" in text
    assert (
        f"- checkout error ratio 0.20% before, 71.00% peak, 69.00% now [prometheus.query_range: `{ERRORS}` https://prom.test/graph?g0.expr={len(ERRORS)}]"
        in text
    )
    assert "[verified; risk medium; approved by alice (go)]" in text
    assert "- dependency payments-db: error_rate normal (0.0002 vs 0.0002)" in text
    assert "Verification: recovered, error ratio 0.21% against a baseline of 0.20%" in text
    assert _lint(text, "responders") == []


@pytest.mark.parametrize(
    ("text", "audience", "problem"),
    [
        ("Impact window: 2026-12-02T10:22:49.118000+00:00 to now.", "responders", "fractional seconds"),
        ("Impact window: 2026-12-02T10:22:49+00:00 to now.", "customers", "an ISO timestamp"),
        ("latest: {} = 0.002041", "responders", "raw query result"),
        ("We are fixing it.\n- timeout: 800\n+ timeout: 80", "stakeholders", "diff text"),
        ('Errors: sum(rate(http_requests_total{code=~"5.."}[5m])) high. https://x.test', "stakeholders", "query text"),
        ("Errors since 10:38 UTC. https://x.test", "stakeholders", "not shown in the configured zone"),
        ("Errors since 10:38. https://x.test", "stakeholders", "not shown in the configured zone"),
        ("payments-db is down; Checkout fails.", "customers", "internal names customers should not see: payments-db"),
        ("Priya Natarajan is on it.", "customers", "internal names"),
        ("Release abc1234f broke it.", "customers", "a commit id"),
        ("Checkout fails since 10:38 CET.", "stakeholders", "no link"),
    ],
)
def test_the_lint_catches_what_people_should_not_read(text: str, audience: str, problem: str) -> None:
    assert any(problem in p for p in _lint(text, audience)), _lint(text, audience)


def test_an_escalation_without_any_message_goes_to_communication_first() -> None:
    silent = _state().model_copy(update={"step": "done", "status": "escalated", "comms_sent": []})
    assert next_node(silent, 20, 2)[0] == "communicate"
    told = silent.model_copy(update={"comms_sent": ["escalated"]})
    assert next_node(told, 20, 2)[0] == "__end__"


def test_the_resolution_in_the_thread_does_not_repeat_the_evidence_already_posted() -> None:
    text = render(_state(comms_sent=["opened", "identified"]), "resolved", "responders", _ctx())
    assert "Evidence:" not in text and "Ruled out:" not in text
    assert "Verification: recovered" in text and "Action: Roll back" in text


@pytest.mark.parametrize(
    ("kind", "peak", "baseline", "material"),
    [
        ("errors", 0.25, 0.003, True),
        ("errors", 0.0052, 0.002, False),  # a blip within a point of normal
        ("latency", 2.3, 0.46, True),
        ("latency", 0.364, 0.36, False),
        ("errors", None, None, True),  # unmeasured: assume customers noticed
        ("delay", None, None, True),
    ],
)
def test_impact_is_material_when_customers_would_notice(
    kind: str, peak: float | None, baseline: float | None, material: bool
) -> None:
    assert Impact(kind=kind, peak=peak, baseline=baseline).material is material  # type: ignore[arg-type]


def test_a_recovered_blip_tells_stakeholders_there_was_no_customer_impact() -> None:
    blip = Diagnosis(root_cause="recovered by itself", category="recovered", entity="checkout", confidence=0.6)
    state = _state(
        diagnosis=blip,
        actions=[],
        verification=None,
        impact=CustomerImpact(capability="Checkout", kind="errors", peak=0.0052, baseline=0.002),
    )
    text = render(state, "resolved", "stakeholders", _ctx())
    assert (
        "What happened: no customer impact beyond the usual: at most 0.52% of Checkout requests failed (0.20% normally)."
        in text
    )
    assert "What was done: nothing was needed" in text
