"""Intake's correlation engine is cheap to import: it must never pull in the workflow (LangGraph)."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_loaded_by(statement: str) -> list[str]:
    probe = f"import sys, json; before = set(sys.modules); {statement}; print(json.dumps(sorted(set(sys.modules) - before)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return list(json.loads(out))


def test_the_correlation_engine_loads_no_workflow_code() -> None:
    loaded = _modules_loaded_by("import intake.correlation, intake.pipeline")
    heavy = sorted(
        {m.split(".")[0] for m in loaded} & {"langgraph", "langchain_core", "openai", "chromadb", "agents.runner"}
    )
    assert heavy == [], f"importing intake's engine loaded {heavy}"
    assert not [m for m in loaded if m.startswith("agents.") and m not in ("agents.state", "agents.ids")]
    # It loaded about 1,370 modules when it took its id function from agents.runner; pydantic is most of what is left.
    assert len(loaded) < 600, f"{len(loaded)} modules"
