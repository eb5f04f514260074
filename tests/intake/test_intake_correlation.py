"""The correlation engine, decision by decision: dedup, flapping, suppression, grouping, material change."""

from __future__ import annotations

from typing import Any

from intake_helpers import SHOP, T0, settings

from intake.correlation import CorrelationEngine, Decision
from intake.events import AlertEvent
from intake.topology import Topology

ESTATE = {
    **SHOP,
    "web": ["checkout", "search"],
    "search": ["search-db"],
    "search-db": [],
    "worker-a": ["kafka"],
    "worker-b": ["kafka"],
    "kafka": [],
}


def event(
    key: str, service: str, at: float, status: str = "firing", severity: str = "warning", **fields: Any
) -> AlertEvent:
    return AlertEvent(
        source="generic",
        key=key,
        status=status,
        name=fields.pop("name", key.split("-")[0]),
        title=key,
        severity=severity,  # type: ignore[arg-type]
        service=service,
        environment=fields.pop("environment", "production"),
        received_at=T0 + at,
        **fields,
    )


def engine(**overrides: Any) -> CorrelationEngine:
    intake = settings(**overrides)
    return CorrelationEngine(intake, Topology(ESTATE, intake.grouping.max_hops))


def kinds(decisions: list[Decision]) -> list[tuple[str, str, int]]:
    return [(d.kind, d.incident.id, d.revision) for d in decisions]


def test_repeats_are_deduplicated_and_never_reinvestigated() -> None:
    e = engine()
    first = e.process(event("err-1", "checkout", 0))
    for t in range(1, 50):
        again = e.process(event("err-1", "checkout", t * 30))
        assert again.incident is first.incident and again.kind == "repeat"
    decisions = e.drain()
    assert [d.kind for d in decisions] == ["opened", "investigate"]
    assert e.stats.incidents == 1 and e.stats.investigations == 1
    assert first.incident is not None and first.incident.deliveries == 50


def test_resolving_every_alert_resolves_the_incident() -> None:
    e = engine()
    e.process(event("err-1", "checkout", 0))
    e.process(event("err-2", "checkout", 5))
    e.process(event("err-1", "checkout", 60, "resolved"))
    assert next(iter(e.incidents.values())).status == "open"
    outcome = e.process(event("err-2", "checkout", 70, "resolved"))
    assert outcome.kind == "resolve"
    assert outcome.incident is not None and outcome.incident.status == "resolved"
    assert outcome.incident.resolution == "all alerts resolved"
    assert [d.kind for d in e.drain()][-1] == "resolved"


def test_a_resolve_for_an_unknown_alert_is_ignored_with_a_reason() -> None:
    e = engine()
    outcome = e.process(event("ghost", "checkout", 0, "resolved"))
    assert outcome.incident is None and outcome.reason == "resolved without a known firing alert"
    assert e.stats.incidents == 0


def test_acknowledge_attaches_to_an_open_alert_or_is_ignored() -> None:
    e = engine()
    assert e.process(event("pd-1", "checkout", 0, "ack")).kind == "ignored"
    opened = e.process(event("pd-1", "checkout", 1))
    ack = e.process(event("pd-1", "checkout", 2, "ack"))
    assert ack.kind == "ack" and ack.incident is opened.incident


def test_database_and_its_callers_are_one_incident_whichever_fires_first() -> None:
    for order in (["payments-db", "checkout", "inventory"], ["checkout", "inventory", "payments-db"]):
        e = engine()
        outcomes = [e.process(event(f"a-{service}", service, i * 20)) for i, service in enumerate(order)]
        roots = {o.incident.root().id for o in outcomes if o.incident}
        assert len(roots) == 1, order
        incident = outcomes[0].incident.root() if outcomes[0].incident else None
        assert incident is not None and set(incident.services) == {"payments-db", "checkout", "inventory"}
        assert incident.anchors == {"payments-db"}  # the likely cause
        assert e.stats.incidents == 1


def test_callers_first_then_their_dependency_merges_into_the_oldest_and_reinvestigates_once() -> None:
    e = engine()
    a = e.process(event("a-wa", "worker-a", 0)).incident
    b = e.process(event("a-wb", "worker-b", 10)).incident
    assert a is not b  # siblings: not related until their shared dependency fires
    e.drain()
    kafka = e.process(event("a-kafka", "kafka", 20, severity="critical")).incident
    assert kafka is a and b is not None and b.merged_into is a
    assert a is not None and a.anchors == {"kafka"}
    decisions = e.drain()
    assert [d.kind for d in decisions] == ["merged", "investigate"]
    assert decisions[-1].revision == 2
    assert any("new service affected: kafka" in r for r in decisions[-1].reasons)


def test_a_symptom_joins_one_incident_and_merges_none() -> None:
    e = engine()
    checkout = e.process(event("a-checkout", "checkout", 0, severity="critical")).incident
    search = e.process(event("a-search", "search", 5)).incident
    web = e.process(event("a-web", "web", 30)).incident
    assert web is checkout  # the more severe of the two incidents below it
    assert search is not None and search.status == "open" and search.merged_into is None


def test_topology_joins_only_while_the_incident_is_young() -> None:
    e = engine()
    db = e.process(event("a-db", "payments-db", 0)).incident
    for t in range(1, 40):  # keep it alive with repeats for 20 minutes
        e.process(event("a-db", "payments-db", t * 30))
    late = e.process(event("a-checkout", "checkout", 20 * 60)).incident
    assert late is not db  # topology_window_minutes (10) after the incident opened


def test_hub_dependency_does_not_glue_old_incidents_together() -> None:
    e = engine()
    a = e.process(event("a-wa", "worker-a", 0)).incident
    b = e.process(event("a-wb", "worker-b", 60)).incident
    for t in range(1, 60):
        e.process(event("a-wa", "worker-a", t * 30))
        e.process(event("a-wb", "worker-b", t * 30 + 1))
    kafka = e.process(event("a-kafka", "kafka", 30 * 60)).incident
    assert kafka is not a and kafka is not b
    assert a is not None and b is not None and a.merged_into is None and b.merged_into is None


def test_same_service_groups_within_the_window_only() -> None:
    e = engine()
    first = e.process(event("err-1", "checkout", 0)).incident
    e.process(event("err-1", "checkout", 60, "resolved"))
    # a different alert on the same service, 20 minutes after the last delivery: still the window
    e2 = engine()
    one = e2.process(event("err-1", "checkout", 0)).incident
    two = e2.process(event("lat-1", "checkout", 20 * 60)).incident
    three = e2.process(event("cpu-1", "checkout", 60 * 60)).incident
    assert one is two and three is not one
    assert first is not None


def test_environments_never_mix() -> None:
    e = engine()
    prod = e.process(event("err-1", "checkout", 0)).incident
    staging = e.process(event("err-2", "checkout", 5, environment="staging")).incident
    assert prod is not staging


def test_alerts_without_a_service_group_by_name() -> None:
    e = engine()
    a = e.process(event("disk-1", "", 0, name="HostOutOfDiskSpace")).incident
    b = e.process(event("disk-2", "", 10, name="HostOutOfDiskSpace")).incident
    c = e.process(event("clock-1", "", 20, name="HostClockSkew")).incident
    assert a is b and c is not a


def test_same_labels_group_across_unrelated_services() -> None:
    e = engine(grouping={"same_labels": ["cluster"]})
    a = e.process(event("a-1", "search", 0, labels={"cluster": "eu-1"})).incident
    b = e.process(event("b-1", "worker-a", 10, labels={"cluster": "eu-1"})).incident
    c = e.process(event("c-1", "worker-b", 20, labels={"cluster": "us-2"})).incident
    assert a is b and c is not a


def test_new_service_and_higher_severity_are_material_repeats_are_not() -> None:
    e = engine(grouping={"investigation_delay_seconds": 0})
    incident = e.process(event("err-1", "checkout", 0)).incident
    assert incident is not None
    e.process(event("err-2", "checkout", 5))  # another alert, same service, same severity: not material
    e.process(event("err-1", "checkout", 10))
    assert e.stats.investigations == 1
    e.process(event("err-3", "checkout", 15, severity="critical"))
    e.process(event("db-1", "payments-db", 20))
    investigations = [d for d in e.drain() if d.kind == "investigate"]
    assert [(d.revision, d.reasons) for d in investigations] == [
        (1, ("new incident",)),
        (2, ("severity up: warning -> critical",)),
        (3, ("new service affected: payments-db",)),
    ]


def test_investigation_delay_coalesces_a_cascade_into_one_investigation() -> None:
    e = engine(grouping={"investigation_delay_seconds": 30})
    e.process(event("db-1", "payments-db", 0))
    e.process(event("a-checkout", "checkout", 10))
    e.process(event("a-inventory", "inventory", 20))
    assert e.stats.investigations == 0
    e.process(event("db-1", "payments-db", 31))  # any later event lets time pass
    investigations = [d for d in e.drain() if d.kind == "investigate"]
    assert len(investigations) == 1 and investigations[0].reasons == ("new incident",)


def test_an_incident_resolved_before_its_investigation_is_not_investigated() -> None:
    e = engine(grouping={"investigation_delay_seconds": 60})
    e.process(event("blip", "checkout", 0))
    e.process(event("blip", "checkout", 20, "resolved"))
    e.advance(T0 + 120)
    assert e.stats.investigations == 0 and e.stats.resolved_before_investigation == 1


def test_flapping_alert_holds_its_incident_open_and_is_released_when_quiet() -> None:
    e = engine(flap={"window_minutes": 10, "threshold": 4})
    statuses = ["firing", "resolved"] * 5
    incidents = set()
    for i, status in enumerate(statuses):
        outcome = e.process(event("flappy", "checkout", i * 60, status))
        assert outcome.incident is not None
        incidents.add(outcome.incident.id)
    assert len(incidents) == 1  # reopened, never a new incident
    incident = e.incidents[incidents.pop()]
    assert e.stats.flapping_alerts == 1
    assert incident.status == "open"  # the last resolve is held while it flaps
    assert e.stats.investigations == 1
    e.advance(T0 + 9 * 60 + 11 * 60)
    assert incident.status == "resolved"


def test_refire_soon_after_resolve_reopens_and_later_opens_a_new_incident() -> None:
    e = engine()
    first = e.process(event("err-1", "checkout", 0)).incident
    e.process(event("err-1", "checkout", 60, "resolved"))
    reopened = e.process(event("err-1", "checkout", 120))
    assert reopened.kind == "reopen" and reopened.incident is first
    e.process(event("err-1", "checkout", 180, "resolved"))
    later = e.process(event("err-1", "checkout", 180 + 3600))
    assert later.incident is not first and later.kind == "new"


def test_suppression_rule_and_maintenance_window_record_a_reason() -> None:
    window = {
        "name": "db-upgrade",
        "services": ["payments-db"],
        "start": "2026-11-20T10:00:00Z",
        "end": "2026-11-20T11:00:00Z",
    }
    e = engine(
        suppress=[{"name": "watchdog", "reason": "heartbeat", "match": {"alertname": "Watchdog"}}], maintenance=[window]
    )
    assert e.process(event("wd", "prometheus", 0, name="Watchdog")).reason == "rule watchdog: heartbeat"
    assert e.process(event("wd", "prometheus", 60, name="Watchdog")).reason == "rule watchdog: heartbeat"
    assert e.process(event("db-1", "payments-db", 60)).reason == "maintenance db-upgrade"
    after = e.process(event("db-1", "payments-db", 3601))  # the window ended: the still-firing alert gets in
    assert after.incident is not None and after.kind == "new"
    assert e.stats.suppressed == {"rule watchdog: heartbeat": 2, "maintenance db-upgrade": 1}


def test_stale_incidents_close_and_old_state_is_forgotten() -> None:
    e = engine(stale_after_minutes=60, retention_hours=1)
    incident = e.process(event("err-1", "checkout", 0)).incident
    assert incident is not None
    e.advance(T0 + 61 * 60)
    assert incident.status == "resolved" and incident.resolution.startswith("stale")
    e.advance(T0 + 61 * 60 + 3601)
    assert e.alerts == {} and e.incidents == {}


def test_replaying_the_same_events_gives_the_same_incidents() -> None:
    events = [
        event(f"a-{s}-{i}", s, i * 7.0) for i in range(30) for s in ("checkout", "payments-db", "search", "worker-a")
    ]
    runs = []
    for _ in range(2):
        e = engine()
        runs.append([(o.incident.root().id if o.incident else o.reason) for o in map(e.process, events)])
    assert runs[0] == runs[1]


def test_a_reopened_incident_does_not_hold_back_forgetting_the_others() -> None:
    e = engine(retention_hours=1)
    flappy = e.process(event("flap-1", "checkout", 0)).incident
    other = e.process(event("disk-1", "search", 1)).incident
    e.process(event("flap-1", "checkout", 60, "resolved"))
    e.process(event("disk-1", "search", 61, "resolved"))
    e.process(event("flap-1", "checkout", 120))  # reopens; stays open for hours with repeats
    for t in range(1, 200):
        e.process(event("flap-1", "checkout", 120 + t * 60))
    assert flappy is not None and flappy.status == "open"
    assert other is not None and other.id not in e.incidents  # closed more than an hour ago: forgotten
    assert "disk-1" not in e.alerts and flappy.id in e.incidents
