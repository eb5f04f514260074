"""What people said about an incident, for its review: the incident channel (Slack
``conversations.history`` of the channel firstline posted in) and the notes of its PagerDuty incident.

Best effort: a source that is not configured or does not answer is named in the returned notes, and
the review is drafted without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from agents.review import HumanMessage
from tools.registry import ToolRegistry


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


async def human_messages(registry: ToolRegistry, record: Mapping[str, Any]) -> tuple[list[HumanMessage], list[str]]:
    """People's messages in the incident's channel and PagerDuty notes, and what could not be read."""
    refs = record.get("external_refs") or {}
    alert = record.get("alert") or {}
    timeline = record.get("timeline") or []
    start = _moment(alert.get("started_at"))
    ends = [m for t in timeline if isinstance(t, Mapping) and (m := _moment(t.get("at")))]
    found: list[HumanMessage] = []
    missing: list[str] = []
    slack = registry.first("slack")
    channel = refs.get("chat_channel")
    if channel and slack is None:
        missing.append(f"the channel {channel}: no slack tool configured")
    elif channel and slack is not None:
        args: dict[str, Any] = {"channel": channel, "limit": 500}
        if start is not None:
            args["oldest"] = start - timedelta(minutes=30)
        if ends:
            args["latest"] = max(ends) + timedelta(hours=6)
        result = await registry.invoke(slack.tool_id("channel_history"), args, budget=None)
        if result.status == "error":
            missing.append(f"the channel {channel}: {result.error.message if result.error else result.summary}")
        for message in (result.data or {}).get("messages", []) if result.status == "ok" else []:
            at = _moment(message.get("at"))
            if at is not None and not message.get("bot") and message.get("text"):
                author = message.get("name") or message.get("user") or "someone"
                found.append(HumanMessage(at=at, author=str(author), text=str(message["text"]), source="slack"))
    pagerduty = registry.first("pagerduty")
    incident = refs.get("pagerduty_incident")
    if incident and pagerduty is not None:
        result = await registry.invoke(pagerduty.tool_id("list_notes"), {"incident_id": incident}, budget=None)
        if result.status == "error":
            missing.append(f"PagerDuty incident {incident}: {result.error.message if result.error else result.summary}")
        for note in (result.data or {}).get("notes", []) if result.status == "ok" else []:
            at = _moment(note.get("created_at"))
            if at is not None and note.get("content"):
                found.append(
                    HumanMessage(
                        at=at, author=str(note.get("user") or "someone"), text=str(note["content"]), source="pagerduty"
                    )
                )
    return found, missing
