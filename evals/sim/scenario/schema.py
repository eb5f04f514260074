"""The scenario format's JSON Schema, generated from the models (`python -m evals.sim schema`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.sim.scenario.document import Scenario
from evals.sim.scenario.fields import SCHEMA_PATH


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario format, as committed in ``evals/sim/schema.json``."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "firstline simulated incident scenario (versions 1 and 2)"
    return schema


def render_schema() -> str:
    return json.dumps(scenario_json_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    """Regenerate the committed schema file (``python -m evals.sim.scenario``)."""
    path.write_text(render_schema(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write_schema()}")
