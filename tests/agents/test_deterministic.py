"""The deterministic reasoner on hand-built evidence: it picks a clear leader, abstains otherwise."""

from datetime import UTC, datetime, timedelta

from agents.evidence import ChangeFact, ComponentFacts, EvidenceBundle, LogFact, PodFact, SignalSummary
from agents.gate import apply_evidence_gate
from agents.reasoners.deterministic import diagnose_bundle
from agents.state import Alert, Diagnosis, Evidence, JobTarget, RuledOut

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)


def _bundle(changes: list[ChangeFact], pods_healthy: bool = True) -> EvidenceBundle:
    alert = Alert(fingerprint="f", name="HighErrorRate", title="5xx", service="orders", started_at=T0)
    evidence = [Evidence(id=f"e{i}", source="prometheus.query_range", query="q", observation="o") for i in range(1, 8)]
    return EvidenceBundle(
        service="orders",
        alert=alert,
        evidence=evidence,
        primary=SignalSummary(
            service="orders",
            query="q",
            baseline=0.001,
            current=0.3,
            peak=0.35,
            onset=T0,
            anomalous=True,
            evidence_id="e1",
        ),
        dependencies=[
            SignalSummary(service="db", query="q2", baseline=0.0, current=0.0, anomalous=False, evidence_id="e2")
        ],
        changes=changes,
        logs=[
            LogFact(
                template='column "<*>" does not exist',
                count_before=0,
                count_after=500,
                example='column "user_ref" does not exist',
                is_new=True,
                evidence_id="e3",
            )
        ],
        pods=PodFact(
            total=3,
            ready=3 if pods_healthy else 1,
            restarts=0 if pods_healthy else 9,
            reasons=[] if pods_healthy else ["OOMKilled"],
            evidence_id="e4",
        ),
    )


def _change(cid: str, kind: str, score: float, service: str = "orders", tokens: list[str] | None = None) -> ChangeFact:
    return ChangeFact(
        id=cid,
        kind=kind,
        service=service,
        at=T0 - timedelta(minutes=10),
        description=f"{kind} {cid}",
        score=score,
        linked_tokens=tokens or [],
        evidence_id="e5" if cid == "a" else "e6",
    )


def test_clear_leader_is_diagnosed_and_red_herring_ruled_out() -> None:
    bundle = _bundle(
        [_change("a", "migration", 0.9, tokens=["user_ref"]), _change("b", "deploy", 0.2, service="search")]
    )
    diagnosis = diagnose_bundle(bundle)
    assert not diagnosis.inconclusive
    assert diagnosis.category == "migration"
    assert diagnosis.entity == "orders"
    assert {"e5", "e3"} <= {e.id for e in diagnosis.evidence}
    assert any("deploy b" in r.what for r in diagnosis.ruled_out)
    assert any("dependency db" in r.what for r in diagnosis.ruled_out)


def test_two_close_candidates_abstain() -> None:
    bundle = _bundle([_change("a", "migration", 0.55), _change("b", "config", 0.5, service="search")])
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.inconclusive
    assert diagnosis.confidence <= 0.3
    assert "Leads" in diagnosis.root_cause
    assert len(diagnosis.candidates) == 2


def test_unhealthy_pods_without_changes_point_to_oom() -> None:
    diagnosis = diagnose_bundle(_bundle([], pods_healthy=False))
    assert diagnosis.category == "oom"
    assert not diagnosis.inconclusive


def test_normal_signal_without_onset_is_no_incident() -> None:
    bundle = _bundle([])
    assert bundle.primary is not None
    bundle.primary.anomalous, bundle.primary.onset, bundle.primary.current = False, None, 0.001
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.category == "no_incident"
    assert not diagnosis.inconclusive


def test_signal_that_rose_and_came_back_is_recovered() -> None:
    bundle = _bundle([_change("a", "migration", 0.9, tokens=["user_ref"])])
    assert bundle.primary is not None
    bundle.primary.anomalous, bundle.primary.current = False, 0.001
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.category == "recovered"
    assert "recovered" in diagnosis.root_cause


def _episode(service: str, rise: float, evidence_id: str) -> SignalSummary:
    """An error ratio flat for 30 minutes, ``rise`` higher for 5, then back: a spike that recovered."""
    times = [T0 - timedelta(minutes=30 - k) for k in range(41)]
    values = [0.001 + (rise if 30 <= k < 35 else 0.0) + 0.0002 * (k % 3) for k in range(41)]
    return SignalSummary(
        service=service,
        query=f"errors of {service}",
        baseline=0.001,
        current=values[-1],
        peak=max(values),
        onset=T0 if rise else None,
        anomalous=False,
        evidence_id=evidence_id,
        times=times,
        values=values,
    )


def test_a_recovered_episode_still_names_what_moved_with_it() -> None:
    """A spike that came back by itself is closed without action, but its cause may come back: the
    dependency whose errors rose and fell with it is ranked as for an incident and kept as a candidate."""
    bundle = _bundle([])
    bundle.primary = _episode("orders", 0.2, "e1")
    bundle.graph = {"orders": ["db", "search"], "db": [], "search": []}
    bundle.dependencies = [_episode("db", 0.3, "e2"), _episode("search", 0.0, "e6")]
    bundle.components = {name: ComponentFacts(service=name, distance=1) for name in ("db", "search")}
    bundle.logs, bundle.pods = [], None
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.category, diagnosis.entity, diagnosis.change_id) == ("recovered", "orders", "")
    assert diagnosis.candidates and diagnosis.candidates[0].entity == "db"
    assert "search" not in [c.entity for c in diagnosis.candidates[:1]]
    assert "what moved with the episode" in diagnosis.root_cause


def test_no_anomaly_at_all_has_no_candidates() -> None:
    bundle = _bundle([])
    bundle.primary = _episode("orders", 0.0, "e1")
    bundle.graph = {"orders": ["db"], "db": []}
    bundle.dependencies = [_episode("db", 0.3, "e2")]
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.category == "no_incident" and diagnosis.candidates == []


def test_evidence_gate_drops_unknown_citations_and_caps_confidence() -> None:
    bundle = _bundle([])
    claimed = Diagnosis(
        root_cause="the cache",
        category="dependency",
        entity="cache",
        confidence=0.9,
        evidence=[Evidence(id="invented", source="model", query="", observation="")],
        ruled_out=[RuledOut(what="db", why="fine", evidence_ids=["nope"])],
    )
    gated, notes = apply_evidence_gate(claimed, bundle)
    assert gated.evidence == []
    assert gated.ruled_out == []
    assert gated.confidence == 0.3
    assert gated.inconclusive
    assert any("invented" in n for n in notes)


def test_evidence_gate_keeps_supported_diagnosis() -> None:
    bundle = _bundle([])
    claimed = Diagnosis(root_cause="x", category="oom", entity="orders", confidence=0.8, evidence=[bundle.evidence[0]])
    gated, notes = apply_evidence_gate(claimed, bundle)
    assert gated.confidence == 0.8
    assert not gated.inconclusive
    assert notes == []


def test_a_maintenance_job_draining_nodes_is_why_an_availability_alert_fired() -> None:
    """Nothing fails, a replica is short, nodes are cordoned and another component's Job runs: the
    maintenance run, not the service, is named; without the cordoned nodes (nothing is draining) or with
    every pod ready, the service stays the entity."""
    bundle = _bundle([])
    assert bundle.primary is not None
    bundle.primary.anomalous, bundle.primary.onset, bundle.primary.current = False, None, 0.001
    bundle.pods = PodFact(total=6, ready=5, restarts=0, reasons=["Pending"], evidence_id="e4")
    rotation = JobTarget(
        service="node-rotator",
        namespace="ops",
        name="rotate-1",
        started=T0 - timedelta(minutes=40),
        started_by="manual",
        evidence_id="e5",
    )
    bundle.jobs = [rotation]
    bundle.cordoned, bundle.cordoned_evidence_id = ["n1", "n2"], "e6"
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.category, diagnosis.entity) == ("no_incident", "node-rotator")
    assert {e.id for e in diagnosis.evidence} >= {"e5", "e6"} and "cordoned" in diagnosis.root_cause
    assert diagnose_bundle(bundle.model_copy(update={"cordoned": []})).entity == "orders"
    every_pod = bundle.model_copy(update={"pods": PodFact(total=6, ready=6, restarts=0, evidence_id="e4")})
    assert diagnose_bundle(every_pod).entity == "orders"
    later = rotation.model_copy(update={"started": T0 + timedelta(minutes=5)})  # began after the alert
    assert diagnose_bundle(bundle.model_copy(update={"jobs": [later]})).entity == "orders"
