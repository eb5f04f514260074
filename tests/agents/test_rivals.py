"""Which hypotheses are rivals of the lead: only another explanation, not the lead's own evidence
read again under another name."""

from __future__ import annotations

from agents.reasoners.deterministic import explained_by
from agents.state import Hypothesis


def _h(entity: str, category: str, evidence: list[str], score: float = 0.6) -> Hypothesis:
    return Hypothesis(entity=entity, category=category, description="", score=score, evidence_ids=evidence)  # type: ignore[arg-type]


def test_a_reading_of_the_leads_own_evidence_on_the_same_component_is_no_rival() -> None:
    surge = _h("booking", "traffic_surge", ["rate", "errors", "log-pool", "log-queue"], 0.7)
    pool = _h("booking", "connection_pool", ["log-pool", "log-queue"], 0.65)
    assert explained_by(pool, surge)


def test_the_same_cause_twice_is_no_rival_but_other_evidence_or_another_component_is() -> None:
    lead = _h("booking", "traffic_surge", ["rate", "log-pool"], 0.7)
    assert explained_by(_h("booking", "traffic_surge", ["log-queue"]), lead)
    assert not explained_by(_h("booking", "connection_pool", ["log-pool", "log-other"]), lead)
    assert not explained_by(_h("booking-db", "connection_pool", ["log-pool"]), lead)
    assert not explained_by(_h("booking", "connection_pool", []), lead)
    # the same evidence, no more: two readings of one set of facts stay rivals
    assert not explained_by(_h("booking", "connection_pool", ["rate", "log-pool"]), lead)
