"""What a benchmark scores of one investigation round: the components its diagnosis names, in order."""

from __future__ import annotations

import pytest

from agents.state import Diagnosis, Hypothesis
from evals.benchmarks.investigation_round import Round


def _round(category: str, entity: str, candidates: list[str]) -> Round:
    diagnosis = Diagnosis(
        root_cause="r",
        category=category,  # type: ignore[arg-type]
        entity=entity,
        confidence=0.6,
        candidates=[Hypothesis(entity=c, category="dependency", description=c, score=0.5) for c in candidates],
    )
    return Round(diagnosis=diagnosis, tool_calls=0, evidence=0, onset=None, blast_radius=[], service="front")


@pytest.mark.parametrize(
    ("category", "entity", "candidates", "ranked"),
    [
        # a cause named: it leads, its rivals follow, once each, catalog components only
        ("bad_deploy", "db", ["cache", "db", "node-7"], ["db", "cache"]),
        # the alerting service came back by itself: what moved with the episode ranks, not the service
        ("recovered", "front", ["db", "cache"], ["db", "cache"]),
        ("no_incident", "front", [], []),
        # a quiet diagnosis that names why the alert fired (the exporter that measures it) names a cause
        ("no_incident", "prober", [], ["prober"]),
    ],
)
def test_the_ranking_is_what_the_diagnosis_names_as_a_cause(
    category: str, entity: str, candidates: list[str], ranked: list[str]
) -> None:
    known = {"front", "db", "cache", "prober"}
    assert _round(category, entity, candidates).ranking(known) == ranked
