"""Helpers for the intake tests: fixtures on disk, settings, a controllable clock, a recording starter,
and `Running`, a started `IntakeService` behind its app (in process, through httpx's ASGI transport)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from intake.service import IntakeService
from intake.settings import IntakeSettings
from intake.starter import InvestigationRequest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
T0 = 1_795_168_800.0  # 2026-11-20T10:00:00Z, just before the fixtures' alerts
SHOP = {"checkout": ["payments-db", "inventory"], "inventory": ["payments-db"], "payments-db": []}


def fixture_bytes(source: str, name: str) -> bytes:
    return (FIXTURES / source / f"{name}.json").read_bytes()


def fixture(source: str, name: str) -> Any:
    return json.loads(fixture_bytes(source, name))


def settings(**overrides: Any) -> IntakeSettings:
    """Intake settings for tests: investigations start at once unless told otherwise."""
    data: dict[str, Any] = {"grouping": {"investigation_delay_seconds": 0}}
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return IntakeSettings.model_validate(data)


class Clock:
    """Wall time for the service, moved by hand."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingStarter:
    """Stands in for the workflow: records every investigation it is asked to start."""

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[InvestigationRequest] = []
        self.fail = fail

    async def __call__(self, request: InvestigationRequest) -> str:
        self.requests.append(request)
        if self.fail:
            raise RuntimeError("workflow exploded")
        return "awaiting_approval"


class Running:
    """A started service, its app's client, its clock and starter."""

    def __init__(
        self, service: IntakeService, client: httpx.AsyncClient, clock: Clock, starter: RecordingStarter
    ) -> None:
        self.service, self.client, self.clock, self.starter = service, client, clock, starter

    async def post(self, source: str, body: bytes | Any, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post(f"/v1/alerts/{source}", content=content, headers=headers)

    async def settle(self) -> None:
        await self.service.idle()

    async def incidents(self, status: str | None = None) -> list[dict[str, Any]]:
        response = await self.client.get("/v1/incidents", params={"status": status} if status else {})
        assert response.status_code == 200, response.text
        return response.json()["incidents"]  # type: ignore[no-any-return]
