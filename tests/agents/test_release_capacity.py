"""A release whose new pods cannot start (the image cannot be pulled, the container exits at once) takes
capacity away mid-rollout: the remaining pods queue and shed, which the logs read as a surge. The
release is the cause then, and rolled back; without the pods failing to start, the logs' reading stands."""

from __future__ import annotations

from agents.evidence import LogFact, PodFact
from agents.reasoners.deterministic import diagnose_bundle
from agents.state import Evidence
from tests.agents.test_blast_radius import _bundle, _change, _series

SHED = '{"level":40,"msg":"worker queue full, shedding request","queued":233}'


def _world(pod_reasons: list[str]) -> object:
    signals = [_series("listings", "error_rate", 0.002, 0.07, "e1"), _series("listings", "traffic", 130.0, 135.0, "e2")]
    release = _change("deploy-listings-7.3.0", "listings", "deploy", 5, 0.6, 0)
    shed = LogFact(service="listings", template=SHED, count_before=1, count_after=590, example=SHED, is_new=False,
                   evidence_id="l1")  # fmt: skip
    healthy = not pod_reasons
    pods = PodFact(total=8, ready=8 if healthy else 6, restarts=0, reasons=pod_reasons, evidence_id="p0")
    return _bundle("listings", {"listings": []}, signals, {}, changes=[release], logs=[shed], pods=pods)


def test_new_pods_that_cannot_start_make_the_shedding_the_releases_doing() -> None:
    diagnosis = diagnose_bundle(_world(["ImagePullBackOff"]))  # type: ignore[arg-type]
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == (
        "listings",
        "bad_deploy",
        "deploy-listings-7.3.0",
    ), diagnosis.root_cause
    assert "cannot start (ImagePullBackOff)" in diagnosis.root_cause
    assert not diagnosis.inconclusive


def test_with_every_pod_running_the_shedding_is_not_blamed_on_the_release_by_the_pods() -> None:
    diagnosis = diagnose_bundle(_world([]))  # type: ignore[arg-type]
    assert diagnosis.category != "bad_deploy" or diagnosis.inconclusive, diagnosis.root_cause


def _probe_world(*, killed: bool) -> object:
    """orders restarts under load; its own chart change edited its liveness probe two hours before; a
    dependency's release twelve minutes before is the tempting suspect."""
    signals = [_series("orders", "error_rate", 0.002, 0.12, "e1"), _series("stock", "error_rate", 0.001, 0.001, "e2")]
    probe = _change("run-chart-4.2", "orders", "config", 120, 0.29, 0)
    probe = probe.model_copy(update={"description": "chart: detect hung pods faster: liveness timeout 1s"})
    other = _change("deploy-stock-9.1", "stock", "deploy", 12, 0.47, 1)
    pods = PodFact(total=8, ready=8, restarts=12, reasons=["last terminated: Error"], evidence_id="p0",
                   probe_killed=killed, probe_evidence_id="k1" if killed else "")  # fmt: skip
    bundle = _bundle("orders", {"orders": ["stock"], "stock": []}, signals, {}, changes=[probe, other], pods=pods)
    bundle.evidence.append(Evidence(id="k1", source="kubernetes.list_events", query="q", observation="o"))
    return bundle


def test_pods_killed_on_failed_liveness_probes_point_at_the_change_that_edited_the_probes() -> None:
    diagnosis = diagnose_bundle(_probe_world(killed=True))  # type: ignore[arg-type]
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("orders", "config_change", "run-chart-4.2")
    assert "k1" in [e.id for e in diagnosis.evidence]
    # Restarts the kubelet's events do not attribute to the probes: the old chart change is no lead.
    plain = diagnose_bundle(_probe_world(killed=False))  # type: ignore[arg-type]
    assert plain.change_id != "run-chart-4.2", plain.root_cause
