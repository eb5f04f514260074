"""Slack approvals: the Block Kit request message, and the ``block_actions`` interactions that answer it.

Verification follows Slack's signing scheme: ``X-Slack-Signature`` must be ``v0=`` + hex
HMAC-SHA256(signing secret, ``v0:{X-Slack-Request-Timestamp}:{raw body}``), compared in constant
time; a timestamp more than ``max_age_seconds`` (300) from now is refused, and a signature already
seen is a replay and refused too. Errors say what was wrong, never the expected signature.

The buttons carry identifiers only (incident, action, the hash of the arguments shown), never the
action itself: the click is decided against the workflow's current state like any other vote.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qs

from approvals.service import ActionCard

APPROVE_ACTION_ID = "firstline_approve"
REJECT_ACTION_ID = "firstline_reject"


class SlackRequestError(Exception):
    """The request is not a valid, signed, fresh Slack interaction (HTTP 401, or 400 for a bad payload)."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends for this body and timestamp (what a test or proxy computes)."""
    return "v0=" + hmac.new(secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, headers: dict[str, str], body: bytes, *, now: float, max_age: float) -> str:
    """Check the signature and freshness; return the signature (the replay key)."""
    stamp = headers.get("x-slack-request-timestamp", "").strip()
    signature = headers.get("x-slack-signature", "").strip()
    if not stamp or not signature:
        raise SlackRequestError("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SlackRequestError("X-Slack-Request-Timestamp is not Unix seconds")
    age = now - int(stamp)
    if abs(age) > max_age:
        raise SlackRequestError(
            f"request timestamp is {age:+.0f}s from now (more than {max_age:.0f}s): stale or replayed"
        )
    if not hmac.compare_digest(sign(secret, stamp, body).encode(), signature.encode()):
        raise SlackRequestError("X-Slack-Signature does not match the body (wrong signing secret?)")
    return signature


@dataclass(frozen=True)
class ButtonClick:
    decision: Literal["approved", "rejected"]
    incident_id: str
    action_id: str
    args_hash: str
    slack_user: str
    slack_user_name: str
    channel: str
    message_ts: str


def parse_interaction(body: bytes) -> ButtonClick:
    """A ``block_actions`` payload (form field ``payload``, URL-encoded JSON) to the click it carries."""
    form = parse_qs(body.decode("utf-8", errors="replace"))
    raw = form.get("payload", [""])[0]
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SlackRequestError("payload: not JSON (expected the form field payload=<JSON>)", 400) from exc
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        kind = payload.get("type") if isinstance(payload, dict) else type(payload).__name__
        raise SlackRequestError(f"payload.type: {kind!r} is not handled (only block_actions)", 400)
    actions = payload.get("actions") or []
    ours = [a for a in actions if isinstance(a, dict) and a.get("action_id") in (APPROVE_ACTION_ID, REJECT_ACTION_ID)]
    if not ours:
        raise SlackRequestError("payload.actions: no firstline button in this interaction", 400)
    action = ours[0]
    try:
        value = json.loads(action.get("value") or "")
        incident_id, action_id = str(value["incident"]), str(value["action"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SlackRequestError("payload.actions[0].value: not a firstline button value", 400) from exc
    user = payload.get("user") or {}
    container = payload.get("container") or {}
    channel = (payload.get("channel") or {}).get("id") or container.get("channel_id") or ""
    return ButtonClick(
        decision="approved" if action["action_id"] == APPROVE_ACTION_ID else "rejected",
        incident_id=incident_id,
        action_id=action_id,
        args_hash=str(value.get("args_hash", "")),
        slack_user=str(user.get("id", "")),
        slack_user_name=str(user.get("username") or user.get("name") or ""),
        channel=str(channel),
        message_ts=str(container.get("message_ts") or (payload.get("message") or {}).get("ts") or ""),
    )


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:3000]}


def request_blocks(card: ActionCard, args_hash: str, link: str = "") -> tuple[str, list[dict[str, Any]]]:
    """The approval request: the fallback text and the blocks (what changes, why, risk, undo, the rule, buttons)."""
    text = f"Approval needed for {card.incident_id}: {card.title}"
    changes = (
        "\n".join(f"• {c.what}: `{c.before or '-'}` → `{c.after}`" for c in card.changes) or "• (no change listed)"
    )
    value = json.dumps({"incident": card.incident_id, "action": card.action_id, "args_hash": args_hash})
    header = f"*{card.incident_id}* ({card.service}, {card.environment}) proposes *{card.title}*"
    if link:
        header += f"  <{link}|open in firstline>"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": "summary", "text": _mrkdwn(header)},
        {"type": "section", "block_id": "changes", "text": _mrkdwn(f"*What changes*\n{changes}")},
        {
            "type": "section",
            "block_id": "why",
            "fields": [
                _mrkdwn(f"*Why*\n{card.rationale or '-'}"),
                _mrkdwn(f"*Risk*\n{card.risk}; blast radius {card.blast_radius or '-'}"),
                _mrkdwn(f"*Undo*\n{card.undo or '-'}"),
                _mrkdwn(f"*Who may approve*\n{card.requirement}"),
            ],
        },
        {
            "type": "actions",
            "block_id": f"firstline:{card.incident_id}:{card.action_id}"[:255],
            "elements": [
                {
                    "type": "button",
                    "action_id": APPROVE_ACTION_ID,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": REJECT_ACTION_ID,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": value,
                },
            ],
        },
    ]
    return text, blocks


def outcome_blocks(card_title: str, incident_id: str, outcome: str) -> tuple[str, list[dict[str, Any]]]:
    """The message once decided: the buttons are gone, the outcome says who and what happened."""
    text = f"{incident_id}: {outcome}"
    return text, [
        {"type": "section", "block_id": "summary", "text": _mrkdwn(f"*{incident_id}*: {card_title}")},
        {"type": "context", "block_id": "outcome", "elements": [_mrkdwn(outcome)]},
    ]


def app_manifest(url: str) -> dict[str, Any]:
    """The Slack app manifest for approvals: a bot that posts and updates, with interactivity at ``url``."""
    base = url.rstrip("/")
    return {
        "display_information": {"name": "firstline", "description": "Approve incident actions from Slack"},
        "features": {"bot_user": {"display_name": "firstline", "always_online": True}},
        "oauth_config": {"scopes": {"bot": ["chat:write", "chat:write.public"]}},
        "settings": {
            "interactivity": {"is_enabled": True, "request_url": f"{base}/v1/slack/interactions"},
            "org_deploy_enabled": False,
            "socket_mode_enabled": False,
            "token_rotation_enabled": False,
        },
    }
