"""A datastore that runs out of a finite counter or table (a 32-bit key, a transaction-id wraparound, a
full table) is named for what it is, at the datastore, and never "fixed" by more replicas."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.evidence import ComponentFacts
from agents.reasoners.deterministic import diagnose_bundle, symptom_hypotheses
from agents.remediation import remediation_options
from agents.state import Diagnosis
from knowledge.catalog import Service
from tests.agents.conftest import agent_context, kubernetes_registry
from tests.agents.test_blast_radius import _bundle, _change, _deployment, _log, _pods, _series

OUT_OF_RANGE = 'ERROR:  integer out of range STATEMENT:  INSERT INTO "comments" ("body") VALUES ($1) RETURNING "id"'


@pytest.mark.parametrize(
    ("line", "category"),
    [
        (OUT_OF_RANGE, "resource_exhaustion"),
        ("PG::NumericValueOutOfRange: ERROR: value out of range for type integer", "resource_exhaustion"),
        ('ERROR: nextval: reached maximum value of sequence "orders_id_seq" (2147483647)', "resource_exhaustion"),
        ('database is not accepting commands to avoid wraparound data loss in database "app"', "resource_exhaustion"),
        ("ERROR 1114 (HY000): The table 'events' is full", "resource_exhaustion"),
        (
            "index [logs-2026.12] blocked by: [TOO_MANY_REQUESTS/12/disk usage exceeded flood-stage watermark]",
            "disk_full",
        ),
    ],
)
def test_datastore_limits_are_named_by_their_log_lines(line: str, category: str) -> None:
    bundle = _bundle("db", {"db": []}, [_series("db", "error_rate", 0.0, 0.2, "e1")], {}, logs=[_log("db", line, "l1")])
    assert [h.category for h in symptom_hypotheses(bundle)][:1] == [category]


def _exhausted_db(tmp_path: Path) -> tuple[Diagnosis, list[str]]:
    signals = [_series("api", "error_rate", 0.002, 0.2, "e1"), _series("db", "error_rate", 0.0, 0.21, "e2")]
    components = {
        "db": ComponentFacts(service="db", kind="database", distance=1, pods=_pods("p1"), deployment=_deployment("db", 1),
                             logs=[_log("db", OUT_OF_RANGE, "l2")]),
    }  # fmt: skip
    relayed = f"ActiveRecord::RangeError (PG::NumericValueOutOfRange: {OUT_OF_RANGE}): POST /v2/comments 500"
    bundle = _bundle(
        "api",
        {"api": ["db"], "db": []},
        signals,
        components,
        logs=[_log("api", relayed, "l1")],
        changes=[_change("deploy-api", "api", "deploy", 60, 0.35, 0)],  # an unrelated release an hour before
    )
    diagnosis = diagnose_bundle(bundle)
    ctx = agent_context(
        tmp_path,
        registry=kubernetes_registry(),
        services=[Service(name="api"), Service(name="db", kind="database")],
    )
    return diagnosis, [o.tool for o in remediation_options(diagnosis, _deployment("db", 1), ctx)]


def test_the_exhausted_datastore_is_the_cause_and_its_callers_logs_relay_it(tmp_path: Path) -> None:
    diagnosis, tools = _exhausted_db(tmp_path)
    # The caller logs the same failure mode; that is the database's error relayed, not a rival cause.
    assert not diagnosis.inconclusive, diagnosis.root_cause
    assert (diagnosis.entity, diagnosis.category) == ("db", "resource_exhaustion")
    # A second replica of a database's Deployment is a second writer on its data, not capacity.
    assert "kubernetes.scale" not in tools


def test_a_stateless_service_under_the_same_category_is_still_scaled(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, registry=kubernetes_registry(), services=[Service(name="worker")])
    diagnosis = Diagnosis(root_cause="x", category="resource_exhaustion", entity="worker", confidence=0.8)
    assert [o.tool for o in remediation_options(diagnosis, _deployment("worker", 2), ctx)] == ["kubernetes.scale"]
