"""Clocks: the wall clock, or a sandbox's simulated clock so a 30-minute incident plays in seconds.

The sandbox clock reads ``GET {url}/clock`` for now and ``POST {url}/clock {"advance_seconds": n}``
for a wait, so every process pointed at the same sandbox (respond, approve) shares one time line.
It keeps the sandbox's offset from the wall clock for a couple of seconds rather than asking on
every read (another process's advance is seen within that time).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import httpx


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SandboxClock:
    def __init__(self, url: str, *, timeout: float = 5.0, refresh_seconds: float = 2.0) -> None:
        self.url = url.rstrip("/") + "/clock"
        self.timeout = timeout
        self.refresh_seconds = refresh_seconds
        self._offset: timedelta | None = None
        self._read_at = 0.0

    def _remember(self, body: dict[str, str]) -> datetime:
        sandbox_now = datetime.fromisoformat(body["now"].replace("Z", "+00:00"))
        self._offset = sandbox_now - datetime.now(UTC)
        self._read_at = time.monotonic()
        return sandbox_now

    def now(self) -> datetime:
        if self._offset is not None and time.monotonic() - self._read_at < self.refresh_seconds:
            return datetime.now(UTC) + self._offset
        try:
            response = httpx.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            return self._remember(response.json())
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise RuntimeError(
                f"sandbox clock at {self.url} is not answering ({exc}); is `firstline sandbox run` still serving?"
            ) from exc

    async def sleep(self, seconds: float) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json={"advance_seconds": seconds})
            response.raise_for_status()
            self._remember(response.json())
