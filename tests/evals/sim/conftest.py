"""Shared fixtures: the checkout-migration scenario, a world on a frozen clock, an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from evals.sim import World, create_app, load_scenario
from evals.sim.scenario import Scenario
from evals.sim.timeutil import SimClock

REPO = Path(__file__).resolve().parents[3]
SCENARIO_PATH = REPO / "evals" / "scenarios" / "checkout-migration.yaml"
ANCHOR = datetime(2026, 11, 20, 19, 42, tzinfo=UTC)
ERROR_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return load_scenario(SCENARIO_PATH)


@pytest.fixture
def clock() -> SimClock:
    """Two minutes after the alert, frozen; tests move it with ``clock.advance``."""
    return SimClock.frozen(ANCHOR + timedelta(minutes=2))


@pytest.fixture
def world(scenario: Scenario, clock: SimClock) -> World:
    return World(scenario, anchor=ANCHOR, clock=clock)


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(world)), base_url="http://sim") as http:
        yield http


@pytest.fixture
def make_world(scenario: Scenario) -> Callable[..., World]:
    def build(*, seed: int | None = None, minutes_after: float = 2.0) -> World:
        chosen = scenario if seed is None else scenario.model_copy(update={"seed": seed})
        return World(chosen, anchor=ANCHOR, clock=SimClock.frozen(ANCHOR + timedelta(minutes=minutes_after)))

    return build
