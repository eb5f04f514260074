"""Slack's request signing and block_actions payloads, in Slack's real format."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest

from approvals.slack import (
    APPROVE_ACTION_ID,
    SlackRequestError,
    app_manifest,
    parse_interaction,
    sign,
    verify_signature,
)

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"


def block_actions_body(
    incident: str = "INC-1", action: str = "a1", user: str = "U0ALICE", action_id: str = APPROVE_ACTION_ID
) -> bytes:
    """A block_actions interaction as Slack sends it: the form field payload=<URL-encoded JSON>."""
    payload = {
        "type": "block_actions",
        "api_app_id": "A0APP",
        "token": "deprecated-verification-token",
        "trigger_id": "123.456.abc",
        "team": {"id": "T0TEAM", "domain": "acme"},
        "user": {"id": user, "username": "alice", "name": "alice", "team_id": "T0TEAM"},
        "container": {
            "type": "message",
            "message_ts": "1795300100.000200",
            "channel_id": "C0INC",
            "is_ephemeral": False,
        },
        "channel": {"id": "C0INC", "name": "incidents"},
        "message": {"type": "message", "ts": "1795300100.000200", "text": "Approval needed", "blocks": []},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/111/xyz",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": f"firstline:{incident}:{action}",
                "text": {"type": "plain_text", "text": "Approve"},
                "value": json.dumps({"incident": incident, "action": action, "args_hash": "abc"}),
                "style": "primary",
                "action_ts": "1795300112.123456",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed_headers(body: bytes, *, at: float | None = None, secret: bytes = SECRET) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {"x-slack-request-timestamp": stamp, "x-slack-signature": sign(secret, stamp, body)}


def test_slacks_documented_example_signature_verifies() -> None:
    # Slack's "Verifying requests from Slack" example: this secret, timestamp and body give this signature.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {
        "x-slack-request-timestamp": "1531420618",
        "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
    }
    assert verify_signature(SECRET, headers, body, now=1531420618 + 10, max_age=300) == headers["x-slack-signature"]


def test_a_mis_signed_body_or_secret_is_refused() -> None:
    body = block_actions_body()
    headers = signed_headers(body)
    with pytest.raises(SlackRequestError, match="does not match"):
        verify_signature(SECRET, headers, body + b"x", now=time.time(), max_age=300)
    with pytest.raises(SlackRequestError, match="does not match"):
        verify_signature(b"another secret", headers, body, now=time.time(), max_age=300)
    with pytest.raises(SlackRequestError, match="missing"):
        verify_signature(SECRET, {}, body, now=time.time(), max_age=300)


def test_a_stale_request_is_refused() -> None:
    body = block_actions_body()
    now = time.time()
    headers = signed_headers(body, at=now - 301)
    with pytest.raises(SlackRequestError, match="stale"):
        verify_signature(SECRET, headers, body, now=now, max_age=300)
    assert verify_signature(SECRET, signed_headers(body, at=now - 299), body, now=now, max_age=300)


def test_a_block_actions_payload_becomes_a_click() -> None:
    click = parse_interaction(block_actions_body("INC-9", "rollback-1", user="U0BOB"))
    assert (click.decision, click.incident_id, click.action_id) == ("approved", "INC-9", "rollback-1")
    assert click.slack_user == "U0BOB" and click.channel == "C0INC" and click.message_ts == "1795300100.000200"
    assert parse_interaction(block_actions_body(action_id="firstline_reject")).decision == "rejected"
    with pytest.raises(SlackRequestError, match="no firstline button"):
        parse_interaction(block_actions_body(action_id="someone_elses_button"))
    with pytest.raises(SlackRequestError, match="not JSON"):
        parse_interaction(b"payload=%7Bnot-json")


def test_the_manifest_points_interactivity_at_the_endpoint() -> None:
    manifest = app_manifest("https://firstline.example/")
    assert manifest["settings"]["interactivity"]["request_url"] == "https://firstline.example/v1/slack/interactions"
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
