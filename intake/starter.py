"""What intake asks of the workflow: an `InvestigationRequest` in, a short status out.

A starter is an async callable taking an `InvestigationRequest` and returning a short status
(``awaiting_approval``, ``resolved``...). It is injected, so tests (and ``serve --dry-run``) can use
another; the real one (`firstline.intake_runtime.RuntimeStarter`) lives in the composition root,
because it opens the whole workflow runtime.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agents.state import Alert


@dataclass(frozen=True, slots=True)
class InvestigationRequest:
    incident_id: str
    revision: int
    workflow_id: str
    reasons: tuple[str, ...]
    alert: Alert


WorkflowStarter = Callable[[InvestigationRequest], Awaitable[str]]


async def record_only(request: InvestigationRequest) -> str:
    """The ``--dry-run`` starter: correlate and record, start nothing."""
    return "not started (dry run)"
