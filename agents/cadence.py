"""Updates on a cadence: while an incident stays open (waiting for a human, typically), customers and the
incident channel hear from it every ``update_every_minutes`` of its severity, as every message promised.

`periodic_update` is called by whatever keeps time for waiting incidents (the approval watcher's tick in
``firstline serve``). The n-th update since the last phase message has its own ledger keys
(``comms-<phase>-update-<n>-statuspage`` / ``-chat``), so a tick that repeats, or a restart, never posts
one twice; a tick that comes late posts only the latest due update, not every one it missed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agents.context import AgentContext
from agents.humanize import clock_time, duration
from agents.message_context import message_context
from agents.messages import render
from agents.outbound import send
from agents.state import IncidentState


def due_update(state: IncidentState, now: datetime, every_minutes: int) -> int | None:
    """The number of the update due now (1, 2...), counted from the last phase message; None: none due."""
    if state.status in ("resolved", "mitigated", "escalated") or not state.communications or not state.comms_sent:
        return None
    last = max(c.at for c in state.communications)
    due = int((now - last) / timedelta(minutes=every_minutes))
    return due if due >= 1 else None


async def periodic_update(ctx: AgentContext, state: IncidentState, now: datetime) -> list[str]:
    """Post the due update to the status page and the incident's thread; what was sent, in words."""
    comms = ctx.settings.comms
    every = comms.update_every_minutes.get(state.severity or "SEV3", 60)
    due = due_update(state, now, every)
    if due is None:
        return []
    phase = state.comms_sent[-1]
    service = ctx.catalog.get(state.service)
    mctx = message_context(ctx, state, service, state.external_refs.get("oncall", ""))
    mctx.now = now
    sent = []
    statuspage = ctx.registry.first("statuspage")
    incident = state.external_refs.get("statuspage_incident")
    if statuspage is not None and incident:
        body = render(state, phase, "customers", mctx)  # type: ignore[arg-type]  # phases are CommsPhase values
        args: dict[str, Any] = {"incident_id": incident, "body": body}
        if await _send(
            ctx, state, f"comms-{phase}-update-{due}-statuspage", statuspage.tool_id("update_incident"), args
        ):
            sent.append("status page")
    slack = ctx.registry.first("slack")
    channel, thread = state.external_refs.get("chat_channel"), state.external_refs.get("chat_ts")
    if slack is not None and channel and thread:
        pending = state.pending_action()
        waiting = (
            f"{pending.title} is still waiting for approval"
            if pending is not None and pending.requires_approval and pending.status == "proposed"
            else f"still {phase}"
        )
        since = (
            min(c.at for c in state.communications if c.phase == phase)
            if any(c.phase == phase for c in state.communications)
            else now
        )
        text = (
            f"[{state.id}] Update {due}: {waiting} ({duration(now - since)} since the {phase} update). "
            f"Next update by {clock_time(now + timedelta(minutes=every), comms.timezone, today=now)}."
        )
        args = {"channel": channel, "text": text, "thread_ts": thread}
        if await _send(ctx, state, f"comms-{phase}-update-{due}-chat", slack.tool_id("post_message"), args):
            sent.append("channel")
    return sent


async def _send(ctx: AgentContext, state: IncidentState, action_id: str, tool: str, args: dict[str, Any]) -> bool:
    outcome, _ = await send(ctx, state, action_id, tool, args)
    return outcome.status == "executed"
