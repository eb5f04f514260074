"""Timeline entries: every step lands on the incident's timeline, and on the live progress display."""

from __future__ import annotations

import structlog

from agents.context import AgentContext
from agents.state import Actor, TimelineEntry

log = structlog.get_logger("firstline.agents")


def note(ctx: AgentContext, actor: Actor, kind: str, text: str) -> TimelineEntry:
    """Make a timeline entry, show it as progress, and log it (one line per step)."""
    entry = TimelineEntry(at=ctx.clock(), actor=actor, kind=kind, text=text)
    ctx.progress(actor, text)
    log.info("timeline", actor=actor, kind=kind, text=text)
    return entry
