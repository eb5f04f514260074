"""Token accounting over a whole incident: the workflow against the simulator with a scripted chat
model that reports usage on every call. The state's totals must equal what the model reported, and
the budget must trip on the sum across all steps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.state import Alert, Usage
from evals.sim.server import RunningSim, start_sim
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager
from tests.agents.conftest import ScriptedChatModel

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sim() -> Iterator[RunningSim]:
    with start_sim("checkout-migration") as running:
        yield running


def _config(sim: RunningSim, tmp_path: Path, **workflow: Any) -> FirstlineConfig:
    config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
    return config.model_copy(update={"reasoner": "llm", "workflow": config.workflow.model_copy(update=workflow)})


def _alert(sim: RunningSim) -> Alert:
    [alert] = parse_alertmanager(sim.alertmanager_payload("CheckoutHighErrorRate"))
    return alert


async def test_every_steps_tokens_land_in_the_state_and_sum_to_what_the_model_reported(
    sim: RunningSim, tmp_path: Path
) -> None:
    model = ScriptedChatModel(category="migration", prompt_tokens=120, completion_tokens=30)
    async with open_runtime(_config(sim, tmp_path), knowledge=None, chat_model=model) as responder:
        first = await responder.start(_alert(sim))
        assert first.waiting_for is not None
        decided = await responder.decide(first.incident_id, first.waiting_for.action_id, "approved", "erin")
    assert decided.run is not None
    state = decided.run.state
    assert state.status == "resolved"
    kinds = {kind for kind, _, _ in model.reported}
    assert kinds == {"summarize", "diagnose", "choose", "update"}  # triage, investigation, remediation, comms
    prompt, completion = model.total
    assert state.usage == Usage(prompt_tokens=prompt, completion_tokens=completion)
    assert decided.run.record()["tokens_used"] == prompt + completion
    assert not state.budget_exhausted


async def test_the_budget_trips_when_the_sum_across_steps_passes_it(sim: RunningSim, tmp_path: Path) -> None:
    # 340 tokens a call: the summary and the opening status page wording (680) stay under the budget,
    # the diagnosis (1020) passes it.
    model = ScriptedChatModel(category="migration", prompt_tokens=290, completion_tokens=50)
    async with open_runtime(_config(sim, tmp_path, token_budget=1000), knowledge=None, chat_model=model) as responder:
        outcome = await responder.start(_alert(sim))
    kinds = [kind for kind, _, _ in model.reported]
    state = outcome.state
    assert state.budget_exhausted
    assert state.tokens_used == sum(p + c for _, p, c in model.reported) >= 1000
    assert "diagnose" in kinds and "choose" not in kinds  # tripped after the investigation, not before
    assert any(t.kind == "budget" for t in state.timeline)
