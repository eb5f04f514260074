"""The metamorphic rename: every world name is replaced everywhere, consistently, and nothing else.

`firstline eval run --rename SEED` is only a check on the agents if the renamed scenario is the same
incident under other names: the answer key renamed with the world, vocabulary untouched, every
scenario still valid.
"""

from __future__ import annotations

import re

import pytest
import yaml

from evals.sim.library import SCENARIO_DIR, load_scenario, scenario_names
from evals.sim.rename import VOCABULARY, name_map, rename_scenario, world_names

NAMES = scenario_names()


def _document(name: str) -> dict:
    return yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


def _without_vocabulary(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_vocabulary(v) for k, v in value.items() if not (k in VOCABULARY and isinstance(v, str))}
    if isinstance(value, list):
        return [_without_vocabulary(v) for v in value]
    return value


def _body(document: dict) -> str:
    """The renamed text a name could hide in: everything but the scenario's own name and tags and the
    vocabulary fields (a namespace may be called ``monitoring``, and so may a category)."""
    kept = {k: v for k, v in document.items() if k not in ("name", "tags", "version", "seed")}
    return yaml.safe_dump(_without_vocabulary(kept))


@pytest.mark.parametrize("name", NAMES)
def test_no_world_name_survives_and_the_renamed_scenario_is_valid(name: str) -> None:
    document = _document(name)
    renamed, mapping = rename_scenario(document, seed=3)
    assert mapping, f"{name}: no world names found"
    text = _body(renamed)
    for old in mapping:
        left = re.search(rf"(?<![A-Za-z0-9_]){re.escape(old)}(?![A-Za-z0-9_])", text)
        assert left is None, (
            f"{name}: {old!r} survives renaming: ...{text[max(0, left.start() - 60) : left.end() + 60]}..."
        )
    scenario = load_scenario(name, transform=lambda d: rename_scenario(d, 3)[0])
    services = {s.name for s in scenario.topology.services}
    assert services == {mapping.get(s.name, s.name) for s in load_scenario(name).topology.services}


@pytest.mark.parametrize("name", NAMES)
def test_the_answer_key_is_renamed_with_the_world(name: str) -> None:
    plain = load_scenario(name)
    renamed = load_scenario(name, transform=lambda d: rename_scenario(d, 5)[0])
    mapping = name_map(_document(name), 5)
    if plain.expected.root_cause is not None:
        entity = plain.expected.root_cause.entity
        assert renamed.expected.root_cause is not None
        assert renamed.expected.root_cause.entity == mapping.get(entity, entity)
        assert renamed.expected.root_cause.category == plain.expected.root_cause.category
    assert [a.tool for a in renamed.expected.acceptable_remediations] == [
        a.tool for a in plain.expected.acceptable_remediations
    ]
    assert renamed.expected.severity == plain.expected.severity
    assert len(renamed.alerts) == len(plain.alerts)


def test_mapping_is_stable_per_seed_and_differs_across_seeds() -> None:
    document = _document(NAMES[0])
    assert name_map(document, 1) == name_map(document, 1)
    assert name_map(document, 1) != name_map(document, 2)
    assert set(name_map(document, 1)) == set(world_names(document))
    assert not set(name_map(document, 1).values()) & set(world_names(document))


def test_longer_names_win_and_vocabulary_and_partial_words_stay() -> None:
    document = {
        "name": "orders-slow",
        "tags": ["orders"],
        "topology": {
            "services": [
                {"name": "orders", "namespace": "monitoring", "repo": "acme/orders", "kind": "service"},
                {"name": "orders-db", "kind": "database", "namespace": "monitoring"},
            ]
        },
        "kubernetes": {"nodes": [{"name": "node-a"}]},
        "logs": {"orders": [{"line": "call to orders-db failed on node-a; reorders=3 OrdersDb down"}]},
        "expected": {"root_cause": {"entity": "orders-db", "category": "monitoring"}},
    }
    renamed, mapping = rename_scenario(document, 9)
    line = renamed["logs"][mapping["orders"]][0]["line"]
    assert mapping["orders-db"] in line and mapping["node-a"] in line
    assert "reorders=3" in line  # part of a longer word: not a name
    assert "OrdersDb" not in line and "orders" not in line.replace("reorders", "")
    assert renamed["expected"]["root_cause"] == {"entity": mapping["orders-db"], "category": "monitoring"}
    assert renamed["topology"]["services"][1]["kind"] == "database"
    assert renamed["topology"]["services"][0]["repo"] == f"acme/{mapping['orders']}"
    assert renamed["name"] == "orders-slow" and renamed["tags"] == ["orders"]
