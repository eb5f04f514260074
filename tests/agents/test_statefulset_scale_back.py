"""A StatefulSet whose replicas a recorded change lowered is scaled back to the count before it: the
change's undo, on a workload that is not a Deployment."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.evidence import EvidenceBundle
from agents.investigation import REPLICA_EDIT, REPLICAS_AFTER, cluster_target
from agents.reasoners.deterministic import choose_option
from agents.remediation import remediation_options
from agents.state import Alert, Diagnosis, StatefulSetTarget
from tests.agents.conftest import agent_context, kubernetes_registry
from tests.agents.test_blast_radius import T0

TARGET = StatefulSetTarget(
    service="store", namespace="data", name="store", replicas=3, scaled_from=6, change_id="run-88", evidence_id="e1"
)


def _diagnosis(change_id: str) -> Diagnosis:
    return Diagnosis(
        root_cause="store saturated after its replicas went 6 -> 3",
        category="resource_exhaustion",
        entity="store",
        confidence=0.7,
        evidence=[],
        inconclusive=False,
        change_id=change_id,
    )


@pytest.mark.parametrize(
    ("text", "counts"),
    [
        ("apply-prod store: 6 -> 3 replicas (FinOps #88)", ("6", "3")),
        ("scale the cluster from 5 to 2 members", ("5", "2")),
    ],
)
def test_a_count_said_before_the_word_replicas_is_read(text: str, counts: tuple[str, str]) -> None:
    found = REPLICAS_AFTER.search(text)
    assert found is not None and found.groups() == counts
    assert REPLICA_EDIT.search("replicaCount: 6 -> 3") is not None


def test_the_diagnosed_scale_down_is_scaled_back_and_chosen(tmp_path: Path) -> None:
    bundle = EvidenceBundle(
        service="web",
        alert=Alert(fingerprint="f", name="WebErrors", title="5xx", service="web", started_at=T0),
        statefulsets=[TARGET],
    )
    diagnosis = _diagnosis("run-88")
    target = cluster_target(bundle, diagnosis)
    assert target == TARGET
    assert cluster_target(bundle, _diagnosis("deploy-web-9")) is None  # another change: not this target
    options = remediation_options(
        diagnosis, None, agent_context(tmp_path, registry=kubernetes_registry()), target=target
    )
    assert [(o.tool, o.args) for o in options] == [
        ("kubernetes.scale_statefulset", {"namespace": "data", "name": "store", "replicas": 6})
    ]
    assert choose_option(diagnosis, options).option_id == "scale_back"
