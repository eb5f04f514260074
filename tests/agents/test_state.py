"""The incident state's shared vocabularies: one root-cause category set for every layer."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

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
        schema = model.model_json_schema()
        if "$ref" in schema:  # a self-referencing model (a hypothesis' contributing causes) is a reference
            schema = schema["$defs"][schema["$ref"].rsplit("/", 1)[-1]]
        assert schema["properties"]["category"]["enum"] == list(ROOT_CAUSE_CATEGORIES), model.__name__


# Every category scenario format v1 accepted when the vocabulary was unified: a v1 file naming any of
# them must keep loading (and is scored by exact comparison, as before).
FORMAT_V1_CATEGORIES = [
    "migration",
    "bad_deploy",
    "config_change",
    "feature_flag",
    "oom",
    "crash",
    "resource_exhaustion",
    "disk_full",
    "connection_pool",
    "dependency",
    "third_party",
    "certificate",
    "dns",
    "noisy_neighbour",
    "traffic_surge",
    "queue_backlog",
    "cascading",
    "failover",
    "no_incident",
    "recovered",
]


@pytest.mark.parametrize("category", FORMAT_V1_CATEGORIES)
def test_a_format_v1_answer_key_keeps_loading(category: str) -> None:
    assert RootCause.model_validate({"entity": "checkout", "category": category}).category == category


def test_an_unknown_category_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValidationError, match="category"):
        RootCause.model_validate({"entity": "checkout", "category": "gremlins"})
    with pytest.raises(ValidationError, match="category"):
        Diagnosis(root_cause="x", category="gremlins", confidence=0.5)  # type: ignore[arg-type]
