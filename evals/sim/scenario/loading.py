"""Reading a scenario from YAML or JSON, with errors that name the field and the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from evals.sim.scenario.document import Scenario
from evals.sim.scenario.fields import SCENARIO_VERSIONS


class ScenarioError(ValueError):
    """A scenario file is missing, not YAML, or invalid; the message names the file and each field."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def describe_errors(exc: ValidationError) -> list[str]:
    """One ``field.path: message`` line per problem."""
    lines = []
    for error in exc.errors():
        # Skip pydantic's internal step names (e.g. the function-after validator tag) in the path.
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        message = error["msg"].removeprefix("Value error, ")
        if loc:
            lines.append(f"{_field_path(loc)}: {message}")
        else:
            lines.extend(message.splitlines())
    return lines


def parse_scenario(raw: Any, *, origin: str = "scenario") -> Scenario:
    """Validate an already-parsed mapping; raise `ScenarioError` naming every bad field."""
    if not isinstance(raw, dict):
        raise ScenarioError(f"{origin}: expected a mapping at the top level, got {type(raw).__name__}")
    version = raw.get("version")
    if isinstance(version, bool) or version not in SCENARIO_VERSIONS:
        known = " and ".join(str(v) for v in SCENARIO_VERSIONS)
        raise ScenarioError(f"{origin}: version: this simulator reads scenario versions {known}, got {version!r}")
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{origin}: " + "; ".join(describe_errors(exc))) from exc


def load_scenario(path: str | Path, *, transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> Scenario:
    """Read and validate one scenario file; ``transform`` rewrites the parsed document first (e.g.
    `evals.sim.rename`)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ScenarioError(f"scenario file {path} does not exist") from exc
    except yaml.YAMLError as exc:
        raise ScenarioError(f"scenario file {path} is not valid YAML: {exc}") from exc
    if transform is not None and isinstance(raw, dict):
        raw = transform(raw)
    return parse_scenario(raw, origin=str(path))
