"""Asking a reasoner from a node: the configured one first, the deterministic one when it fails.

Every node that needs judgement goes through `ask`, so the fallback, its timeline note and the token
accounting are the same everywhere: the returned usage includes what a failed attempt still cost, and
the node adds it to the incident's state (``{"usage": ...}``, summed by the state's reducer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from agents.context import AgentContext
from agents.reasoners.base import Reasoned, Reasoner, ReasonerFailure
from agents.state import Actor, IncidentState, TimelineEntry
from agents.timeline import note

T = TypeVar("T")


def reasoner_for(state: IncidentState, ctx: AgentContext) -> Reasoner:
    """The configured reasoner, or the deterministic one once the token budget is used up."""
    return ctx.fallback if state.budget_exhausted else ctx.reasoner


async def ask(
    ctx: AgentContext,
    reasoner: Reasoner,
    call: Callable[[Reasoner], Awaitable[Reasoned[T]]],
    *,
    actor: Actor,
    task: str,
    instead: str,
) -> tuple[Reasoned[T], list[TimelineEntry]]:
    """``call(reasoner)``; if it raises `ReasonerFailure`, ``call(ctx.fallback)`` and a timeline note
    "<reasoner> reasoner failed to <task> (<why>); used <instead>".

    The answer's usage is the sum of both attempts: tokens a failed model call used are spent too.
    """
    try:
        answer = await call(reasoner)
    except ReasonerFailure as exc:
        notes = [note(ctx, actor, "model_note", f"{reasoner.name} reasoner, {task}: {text}") for text in exc.notes]
        entry = note(ctx, actor, "fallback", f"{reasoner.name} reasoner failed to {task} ({exc}); used {instead}")
        answer = await call(ctx.fallback)
        return Reasoned(answer.answer, exc.usage + answer.usage, answer.gathered), [*notes, entry]
    return answer, [
        note(ctx, actor, "model_note", f"{reasoner.name} reasoner, {task}: {text}") for text in answer.notes
    ]
