"""The real intake starter: runs the incident workflow in this process.

`RuntimeStarter` opens the runtime (`firstline.wiring.open_runtime`) on first use, keeps it for the
server's life, and runs `Responder.start` for the request's alert. Approvals then go through
``firstline approve`` as for any incident, from any process.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

from agents.runner import Responder
from firstline.config import FirstlineConfig
from intake.starter import InvestigationRequest


class RuntimeStarter:
    """Runs the incident workflow in this process through `open_runtime(config)`."""

    def __init__(self, config: FirstlineConfig, **runtime_options: Any) -> None:
        """``runtime_options`` go to `open_runtime` (e.g. ``knowledge=None`` in tests)."""
        self.config = config
        self.runtime_options = runtime_options
        self._stack: AsyncExitStack | None = None
        self._responder: Responder | None = None

    async def open(self) -> Responder:
        """Open the runtime now (``serve`` does, so broken tool settings stop it at start, not at the first incident)."""
        if self._responder is None:
            from firstline.wiring import open_runtime

            stack = AsyncExitStack()
            try:
                self._responder = await stack.enter_async_context(open_runtime(self.config, **self.runtime_options))
            except BaseException:
                await stack.aclose()
                raise
            self._stack = stack
        return self._responder

    async def __call__(self, request: InvestigationRequest) -> str:
        responder = await self.open()
        outcome = await responder.start(request.alert)
        status = outcome.state.status
        if outcome.waiting_for is not None:
            action = outcome.waiting_for.action_id
            return f"{status}: firstline approve {outcome.incident_id} {action} --by NAME"
        return str(status)

    async def aclose(self) -> None:
        if self._stack is not None:
            await self._stack.aclose()
            self._stack, self._responder = None, None
