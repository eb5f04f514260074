"""Clocks: the wall clock, or a sandbox's simulated clock so a 30-minute incident plays in seconds.

The sandbox clock reads ``GET {url}/clock`` for now and ``POST {url}/clock {"advance_seconds": n}``
for a wait, so every process pointed at the same sandbox (respond, approve) shares one time line.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SandboxClock:
    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/") + "/clock"
        self.timeout = timeout

    def now(self) -> datetime:
        try:
            response = httpx.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            return datetime.fromisoformat(response.json()["now"].replace("Z", "+00:00"))
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise RuntimeError(f"sandbox clock at {self.url} is not answering ({exc}); is `firstline sandbox run` still serving?") from exc

    async def sleep(self, seconds: float) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            response = await client.post(self.url, json={"advance_seconds": seconds})
            response.raise_for_status()
