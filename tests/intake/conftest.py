"""The ``start_service`` fixture: start `IntakeService`s behind their app; all are stopped after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from intake_helpers import SHOP, Clock, RecordingStarter, Running, settings

from intake.http.auth import SourceAuth, build_authenticators
from intake.http.server import build_app
from intake.service import IntakeService
from intake.settings import IntakeSettings
from intake.topology import Topology

StartService = Callable[..., Any]


@pytest.fixture
async def start_service(tmp_path: Path) -> AsyncIterator[StartService]:
    """``await start_service(settings=..., environ=..., starter=..., http=...)`` → `Running`; all stopped after the test."""
    started: list[Running] = []

    async def start(
        intake: IntakeSettings | None = None,
        *,
        environ: dict[str, str] | None = None,
        starter: RecordingStarter | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        db_path: Path | None = None,
    ) -> Running:
        intake = intake or settings()
        clock = clock or Clock()
        starter = starter or RecordingStarter()
        authenticators: dict[str, SourceAuth] = build_authenticators(intake, environ or {})
        service = IntakeService(
            intake,
            Topology(SHOP, intake.grouping.max_hops),
            starter=starter,
            clock=clock,
            http_client=http,
            db_path=db_path or tmp_path / "intake.sqlite",
        )
        app = build_app(service, authenticators, manage_service=False)
        await service.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake.test")
        running = Running(service, client, clock, starter)
        started.append(running)
        return running

    yield start
    for running in started:
        await running.client.aclose()
        await running.service.stop()
