"""The incident state's shared vocabularies: one root-cause category set for every layer."""

from __future__ import annotations

from typing import get_args

from agents.reasoners.llm import DiagnosisDraft
from agents.state import ROOT_CAUSE_CATEGORIES, Diagnosis, Hypothesis, RootCauseCategory
from evals.sim.library import load_library
from evals.sim.scenario import RootCause


def test_every_category_an_answer_key_uses_is_in_the_vocabulary_and_the_llm_schema() -> None:
    expected = {s.expected.root_cause.category for s in load_library() if s.expected.root_cause is not None}
    assert expected, "the library has answer keys"
    offered = set(DiagnosisDraft.model_json_schema()["properties"]["category"]["enum"])
    assert expected - set(ROOT_CAUSE_CATEGORIES) == set()
    assert expected - offered == set(), "the LLM reasoner cannot name these categories"


def test_the_llm_schema_offers_exactly_the_vocabulary() -> None:
    assert DiagnosisDraft.model_json_schema()["properties"]["category"]["enum"] == list(ROOT_CAUSE_CATEGORIES)


def test_every_layer_validates_against_the_one_vocabulary() -> None:
    assert ROOT_CAUSE_CATEGORIES == get_args(RootCauseCategory)
    for model in (Diagnosis, Hypothesis, DiagnosisDraft, RootCause):
        assert model.model_json_schema()["properties"]["category"]["enum"] == list(ROOT_CAUSE_CATEGORIES), model.__name__
