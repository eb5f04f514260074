"""The scenario library: the YAML files in ``evals/scenarios``, found by name.

    load_scenario("checkout-migration")                 # by name
    load_scenario("evals/scenarios/checkout-migration.yaml")   # or by path
    scenario_names()                                    # every scenario in the library
"""

from __future__ import annotations

from pathlib import Path

from evals.sim.scenario import Scenario, ScenarioError
from evals.sim.scenario import load_scenario as load_scenario_file

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def scenario_names(directory: Path = SCENARIO_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.yaml"))


def scenario_path(name_or_path: str | Path, directory: Path = SCENARIO_DIR) -> Path:
    """The file for a library name, or the path itself when it names a file."""
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        return candidate
    path = directory / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(scenario_names(directory)) or "none"
        raise ScenarioError(f"no scenario named {str(name_or_path)!r} in {directory} (known: {known})")
    return path


def load_scenario(name_or_path: str | Path, directory: Path = SCENARIO_DIR) -> Scenario:
    """Load a scenario by library name or by path; raises `ScenarioError` naming what is wrong."""
    return load_scenario_file(scenario_path(name_or_path, directory))


def load_library(directory: Path = SCENARIO_DIR) -> list[Scenario]:
    """Every scenario in the library, validated (the first invalid file raises)."""
    return [load_scenario_file(directory / f"{name}.yaml") for name in scenario_names(directory)]
