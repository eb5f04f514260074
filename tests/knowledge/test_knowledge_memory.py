"""Outcome-linked memory: incident records in, similar past incidents and recurrences out."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.ingest import ingest_paths
from knowledge.memory import IncidentMemory, ordinal
from knowledge.records import (
    IncidentRecordError,
    past_incident_from_record,
    render_markdown,
)
from knowledge.retrieval import KnowledgeRetriever
from knowledge.store import KnowledgeStore
from tests.knowledge.conftest import NOW, make_record

# -- reading records ------------------------------------------------------------------------------


def test_record_yields_outcome_fix_approver_and_time_to_mitigate() -> None:
    incident = past_incident_from_record(make_record())

    assert incident.doc_id == "incidents/inc-1"
    assert incident.resolved and incident.status == "resolved"
    assert incident.time_to_mitigate_minutes == 12.0
    assert incident.fix is not None
    assert incident.fix.title.startswith("Roll back deployment/checkout")
    assert incident.fix.approved_by == "alice"
    assert incident.rejected_actions == ["Restart deployment/checkout"]
    assert incident.ruled_out == ["deploy of inventory: no identifier in common with the error lines"]
    assert incident.links == [
        "https://status.example.test/inc/1",
        "https://runbooks.example.test/checkout-5xx",
        "knowledge:runbooks/checkout-5xx.md#rollback",
    ]
    text = render_markdown(incident)
    assert "approved by alice" in text
    assert "Rejected by a human: Restart deployment/checkout." in text
    assert 'column "customer_id" does not exist' in text


def test_mitigated_without_verification_uses_the_execution_time() -> None:
    record = make_record(status="mitigated")
    record["verification"] = None
    record["actions"][2]["status"] = "executed"

    incident = past_incident_from_record(record)

    assert incident.fix is not None and incident.fix.status == "executed"
    assert incident.time_to_mitigate_minutes == 3.0


def test_escalated_incident_has_no_fix_and_no_time_to_mitigate() -> None:
    record = make_record(status="escalated")
    record["verification"] = {"ok": False, "detail": "still failing", "at": NOW.isoformat()}
    record["actions"][2]["status"] = "failed"

    incident = past_incident_from_record(record)

    assert not incident.resolved
    assert incident.fix is None and incident.time_to_mitigate_minutes is None
    assert incident.failed_actions == ["Roll back deployment/checkout in shop from revision 7 to 6"]
    assert "No remediation action fixed this incident." in render_markdown(incident)


def test_follow_ups_accept_strings_and_mappings_with_loose_status_words() -> None:
    record = make_record(
        follow_ups=["Add an alert on migration failures", {"title": "Expand/contract migrations", "status": "Closed"}]
    )

    incident = past_incident_from_record(record)

    assert [(f.title, f.status) for f in incident.follow_ups] == [
        ("Add an alert on migration failures", "open"),
        ("Expand/contract migrations", "done"),
    ]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("id"), "'id' is missing"),
        (
            lambda r: r.update(service=None, alert={"started_at": "2026-11-22T03:00:00Z"}),
            "'service' (or 'alert.service') is missing",
        ),
        (lambda r: r["alert"].update(started_at="yesterday"), "alert.started_at: 'yesterday' is not an ISO 8601 time"),
        (lambda r: r.update(actions={"a": 1}), "'actions' must be a list"),
        (lambda r: r.update(follow_ups=[42]), "follow_ups[0] must be a string or a mapping"),
    ],
)
def test_unusable_records_name_the_field(mutate: Any, message: str) -> None:
    record = make_record()
    mutate(record)
    with pytest.raises(IncidentRecordError, match=None) as caught:
        past_incident_from_record(record)
    assert message in str(caught.value)


# -- remembering ----------------------------------------------------------------------------------


def test_remember_is_idempotent_and_replaces_only_what_changed(store: KnowledgeStore) -> None:
    memory = IncidentMemory(store)

    first = memory.remember(make_record())
    again = memory.remember(make_record())
    changed = memory.remember(make_record(follow_ups=["Add a pre-deploy schema compatibility check"]))

    assert first.added > 3 and first.removed == 0
    assert again.added == again.updated == again.removed == 0 and again.unchanged == first.added
    # The follow-up adds a section and changes the metadata every chunk carries.
    assert changed.added >= 1
    doc_chunks = [m for _, m in store.iter_metadata(where={"doc_id": "incidents/inc-1"})]
    assert len(doc_chunks) == first.added + 1
    assert all(m["follow_ups_open"] == 1 and m["source_file"] == "memory:incidents/inc-1" for m in doc_chunks)
    assert memory.forget("inc-1") == len(doc_chunks)
    assert store.count() == 0


def test_remembered_incidents_are_found_by_the_agents_postmortem_search(store: KnowledgeStore) -> None:
    IncidentMemory(store).remember(make_record())

    hits = KnowledgeRetriever(store).search(
        'column "customer_id" does not exist', service="checkout", kind="postmortem"
    )

    assert hits and hits[0].doc_id == "incidents/inc-1"
    assert hits[0].source_id.startswith("knowledge:incidents/inc-1#")


# -- recalling ------------------------------------------------------------------------------------


def _history(memory: IncidentMemory) -> None:
    for number, days in enumerate([40, 20, 12], start=1):
        memory.remember(make_record(f"inc-old-{number}", started=NOW - timedelta(days=days)))
    memory.remember(
        make_record(
            "inc-old-4",
            started=NOW - timedelta(days=5),
            follow_ups=[
                {"title": "Make migrations backward compatible", "owner": "team-payments"},
                {"title": "Alert on schema drift", "status": "done"},
            ],
        )
    )
    memory.remember(
        make_record(
            "inc-other-alert", started=NOW - timedelta(days=3), alert="CheckoutLatencyHigh", category="capacity"
        )
    )
    memory.remember(
        make_record("inc-inventory", started=NOW - timedelta(days=2), service="inventory", alert="InventoryDown")
    )


def test_recall_says_when_this_is_a_recurrence_and_what_is_still_open(store: KnowledgeStore) -> None:
    memory = IncidentMemory(store)
    _history(memory)

    recall = memory.recall("checkout", "checkout 5xx ratio above 5%", now=NOW, alert_name="CheckoutHighErrorRate")

    recurrence = recall.recurrence
    assert recurrence.is_recurrence and recurrence.occurrence == 4
    assert [p.incident_id for p in recurrence.previous] == ["inc-old-4", "inc-old-3", "inc-old-2"]
    assert recurrence.statement.startswith("4th time in 30 days (checkout, alert CheckoutHighErrorRate)")
    assert "previously on 2026-11-02, 2026-11-10 and 2026-11-17" in recurrence.statement
    assert "approved by alice, mitigated in 12 min" in recurrence.statement
    assert 'the follow-up from last time is still open: "Make migrations backward compatible"' in recurrence.statement
    last = recurrence.previous[0]
    assert last.open_follow_ups == ["Make migrations backward compatible"] and last.follow_ups_total == 2
    assert last.ruled_out and last.rejected_actions == ["Restart deployment/checkout"]
    assert len(recall.similar) == 3 and all(s.same_service and s.score is not None for s in recall.similar)


def test_recall_matches_on_category_and_entity_and_excludes_the_current_incident(store: KnowledgeStore) -> None:
    memory = IncidentMemory(store)
    _history(memory)
    memory.remember(make_record("inc-now", started=NOW))

    by_category = memory.recall(
        "checkout", "orders query fails", now=NOW, category="capacity", exclude_incident="inc-now"
    )
    other_entity = memory.recall(
        "checkout",
        "orders query fails",
        now=NOW,
        category="migration",
        entity="payments-db",
        exclude_incident="inc-now",
    )

    assert [p.incident_id for p in by_category.recurrence.previous] == ["inc-other-alert"]
    assert by_category.recurrence.statement.startswith("2nd time in 30 days")
    assert "no follow-up was recorded last time" in by_category.recurrence.statement
    assert other_entity.recurrence.occurrence == 1
    assert all(s.incident_id != "inc-now" for s in by_category.similar)


def test_first_occurrence_says_so_and_similar_fills_from_other_services(store: KnowledgeStore) -> None:
    memory = IncidentMemory(store)
    memory.remember(
        make_record("inc-inventory", started=NOW - timedelta(days=2), service="inventory", alert="InventoryDown")
    )

    recall = memory.recall(
        "checkout", 'column "customer_id" does not exist', now=NOW, alert_name="CheckoutHighErrorRate"
    )

    assert recall.recurrence.occurrence == 1
    assert recall.statement == (
        "first time in 30 days: no earlier checkout incident matching alert CheckoutHighErrorRate since 2026-10-23"
    )
    assert [(s.incident_id, s.same_service) for s in recall.similar] == [("inc-inventory", False)]


def test_text_similarity_decides_when_no_alert_or_category_is_known(store: KnowledgeStore) -> None:
    memory = IncidentMemory(store)
    _history(memory)

    related = memory.recall("checkout", 'ERROR column "customer_id" does not exist', now=NOW)
    unrelated = memory.recall("checkout", "kafka broker disk full", now=NOW)

    assert related.recurrence.occurrence >= 3
    assert related.recurrence.matched_on.startswith("text similar to")
    assert unrelated.recurrence.occurrence == 1


def test_written_postmortems_take_part_with_their_front_matter(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "postmortems"
    folder.mkdir()
    (folder / "pm.md").write_text(
        "---\nkind: postmortem\nservice: checkout\ndate: 2026-11-15\nalert: CheckoutHighErrorRate\n"
        "category: migration\nroot_cause: A column rename.\nfix: Rolled back.\ntime_to_mitigate_minutes: 27\n"
        "follow_ups:\n  - title: Lint migrations for renames\n    status: open\n  - Add a canary\n---\n\n"
        "# Checkout outage\n\n## Summary\n\nOrders failed after a rename.\n",
        encoding="utf-8",
    )
    report = ingest_paths(store, [folder])
    assert report.skipped == [] and report.warnings == []

    recall = IncidentMemory(store).recall("checkout", "checkout errors", now=NOW, alert_name="CheckoutHighErrorRate")

    last = recall.recurrence.previous[0]
    assert last.origin == "postmortem" and last.doc_id == "pm"
    assert last.open_follow_ups == ["Lint migrations for renames", "Add a canary"]
    assert "2 follow-ups from last time are still open" in recall.statement
    assert "fixed by Rolled back., mitigated in 27 min" in recall.statement


def test_recall_rejects_empty_text(store: KnowledgeStore) -> None:
    with pytest.raises(ValueError, match="recall text is empty"):
        IncidentMemory(store).recall("checkout", "  ", now=NOW)


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]


# -- incident records as files --------------------------------------------------------------------


def test_incident_record_files_are_ingested_as_postmortems(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "inc-1.json").write_text(json.dumps(make_record()), encoding="utf-8")
    (folder / "broken.json").write_text("{not json", encoding="utf-8")
    (folder / "dashboard.json").write_text(json.dumps({"panels": []}), encoding="utf-8")
    no_service = make_record("inc-2")
    no_service["service"] = ""
    no_service["alert"].pop("service")
    (folder / "inc-2.json").write_text(json.dumps(no_service), encoding="utf-8")

    report = ingest_paths(store, [folder])

    assert report.documents == ["incidents/inc-1"]
    reasons = {Path(path).name: reason for path, reason in report.skipped}
    assert "broken.json: not valid JSON (line 1, column 2" in reasons["broken.json"]
    assert "only when it is an incident record" in reasons["dashboard.json"]
    assert "inc-2.json: incident record inc-2: 'service' (or 'alert.service') is missing" in reasons["inc-2.json"]
    metadata = [m for _, m in store.iter_metadata()]
    assert {m["kind"] for m in metadata} == {"postmortem"}
    assert {m["source_id"] for m in metadata} >= {"knowledge:inc-1.json#root-cause", "knowledge:inc-1.json#fix"}

    (folder / "inc-1.json").unlink()
    assert ingest_paths(store, [folder]).removed == len(metadata)
    assert store.count() == 0


def test_a_record_file_and_the_remembered_incident_are_one_document(store: KnowledgeStore, tmp_path: Path) -> None:
    memory = IncidentMemory(store)
    memory.remember(make_record())
    folder = tmp_path / "records"
    folder.mkdir()
    (folder / "inc-1.json").write_text(json.dumps(make_record()), encoding="utf-8")

    ingest_paths(store, [folder])
    files = {m["source_file"] for _, m in store.iter_metadata(where={"doc_id": "incidents/inc-1"})}
    memory.remember(make_record())
    after = {m["source_file"] for _, m in store.iter_metadata(where={"doc_id": "incidents/inc-1"})}

    assert files == {str(folder / "inc-1.json")}
    assert after == {"memory:incidents/inc-1"}
    assert len({m["doc_id"] for _, m in store.iter_metadata()}) == 1
