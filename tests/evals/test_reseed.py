"""The reseeded scenario: another draw of the noise, nothing else changed."""

from __future__ import annotations

import yaml

from evals.sim.library import SCENARIO_DIR, load_scenario, scenario_names
from evals.sim.reseed import reseed_scenario


def test_only_the_seed_changes_the_same_way_for_the_same_salt() -> None:
    name = scenario_names()[0]
    document = yaml.safe_load((SCENARIO_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    first, again, other = (reseed_scenario(document, s) for s in (1, 1, 2))
    assert first == again
    assert len({document["seed"], first["seed"], other["seed"]}) == 3
    assert {k: v for k, v in first.items() if k != "seed"} == {k: v for k, v in document.items() if k != "seed"}
    reseeded = load_scenario(name, transform=lambda d: reseed_scenario(d, 1))
    assert reseeded.seed == first["seed"] and reseeded.expected == load_scenario(name).expected
