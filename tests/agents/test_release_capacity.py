"""A release whose new pods cannot start (the image cannot be pulled, the container exits at once) takes
capacity away mid-rollout: the remaining pods queue and shed, which the logs read as a surge. The
release is the cause then, and rolled back; without the pods failing to start, the logs' reading stands."""

from __future__ import annotations

from agents.evidence import LogFact, PodFact
from agents.reasoners.deterministic import diagnose_bundle
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
