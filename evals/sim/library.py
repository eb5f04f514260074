"""The scenario library: the YAML files in ``evals/scenarios``, found by name.

load_scenario("checkout-migration")                 # by name
load_scenario("evals/scenarios/checkout-migration.yaml")   # or by path
scenario_names()                                    # every scenario in the library
library_index()                                     # one summary per scenario (`firstline sandbox list`)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.sim.scenario import Scenario, ScenarioError
from evals.sim.scenario import load_scenario as load_scenario_file

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")
SCENARIO_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def scenario_names(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))


def scenario_path(name_or_path: str | Path, directory: Path = SCENARIO_DIR) -> Path:
    """The file for a library name (``checkout-migration``), or a path to a scenario file (``.yaml``,
    ``.yml`` or ``.json``). Anything else is refused: a name is never read as an arbitrary file."""
    candidate = Path(name_or_path)
    if candidate.suffix in SCENARIO_SUFFIXES:
        return candidate
    if not SCENARIO_NAME.fullmatch(str(name_or_path)):
        raise ScenarioError(
            f"{str(name_or_path)!r} is neither a library scenario name (letters, digits and dashes) nor a scenario "
            f"file ({', '.join(SCENARIO_SUFFIXES)}); `firstline sandbox list` shows the library"
        )
    path = directory / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(scenario_names(directory)) or "none"
        raise ScenarioError(f"no scenario named {str(name_or_path)!r} in {directory} (known: {known})")
    return path


Transform = Callable[[dict[str, Any]], dict[str, Any]]


def load_scenario(
    name_or_path: str | Path, directory: Path = SCENARIO_DIR, *, transform: Transform | None = None
) -> Scenario:
    """Load a scenario by library name or by path; raises `ScenarioError` naming what is wrong.
    ``transform`` rewrites the document before it is validated (`evals.sim.rename`)."""
    return load_scenario_file(scenario_path(name_or_path, directory), transform=transform)


def load_library(directory: Path = SCENARIO_DIR, *, transform: Transform | None = None) -> list[Scenario]:
    """Every scenario in the library, validated (the first invalid file raises)."""
    return [load_scenario_file(directory / f"{name}.yaml", transform=transform) for name in scenario_names(directory)]


def summary_line(scenario: Scenario, limit: int = 110) -> str:
    """The first sentence of the description, shortened to ``limit`` characters."""
    text = " ".join(scenario.description.split())
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


def library_index(directory: Path = SCENARIO_DIR) -> list[dict[str, Any]]:
    """One entry per library scenario: name, difficulty, root-cause category, tags, whether an
    incident is expected, the expected resolution, the number of services and the description."""
    entries = []
    for scenario in load_library(directory):
        root = scenario.expected.root_cause
        entries.append(
            {
                "name": scenario.name,
                "difficulty": scenario.difficulty,
                "category": root.category if root else None,
                "tags": list(scenario.tags),
                "incident": scenario.expected.incident,
                "resolution": scenario.expected.resolution,
                "services": len(scenario.topology.services),
                "summary": summary_line(scenario),
                "description": " ".join(scenario.description.split()),
            }
        )
    return entries
