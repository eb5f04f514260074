"""Slack Web API: post and update messages (``chat.postMessage``, ``chat.update``), and read a channel
(``conversations.history``: what people said, for the post-incident review).

Bodies are JSON with ``Content-Type: application/json; charset=utf-8`` and a bot token
(``Authorization: Bearer xoxb-...``). Slack reports most errors with **HTTP 200** and
``{"ok": false, "error": "channel_not_found"}``, so every answer's ``ok`` is checked and a false one is
an `UpstreamError` naming the ``error`` (with a hint for the common ones). Rate limits are HTTP 429
with a ``Retry-After`` header in seconds; they are reported, not retried here (the caller decides).

Keep the returned ``channel`` and ``ts``: they identify the message for `update_message` and for
threading replies (``thread_ts``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.base import Adapter, AdapterSettings, SafetyMetadata, ToolResult, UpstreamError, tool_call
from tools.http import BODY_EXCERPT_CHARS
from tools.wire import UtcDatetime, as_dict, as_list, clip, decode_json, expect_dict, json_field, malformed

SLACK_JSON = "application/json; charset=utf-8"
TS_PATTERN = r"^\d+\.\d+$"
CHANNEL_PATTERN = r"^[#@]?[A-Za-z0-9._-]{1,80}$"

HINTS = {
    "not_in_channel": "invite the app to the channel first",
    "channel_not_found": "check the channel id; a private channel needs the app invited",
    "is_archived": "the channel is archived",
    "invalid_auth": "the token is invalid",
    "not_authed": "no token was sent",
    "token_revoked": "the token was revoked",
    "account_inactive": "the token's user or app was deactivated",
    "missing_scope": "the token lacks a scope",
    "msg_too_long": "the text is too long",
    "invalid_blocks": "the blocks are malformed",
    "ratelimited": "rate limited; wait and try again",
    "message_not_found": "no message with this ts in this channel",
    "cant_update_message": "only messages posted by this app can be updated",
    "edit_window_closed": "the message is too old to edit",
}

POST_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="edit or delete the message with chat.update/chat.delete",
    idempotent=False,  # posting twice posts two messages
    blast_radius="external",
    approval_tier="auto",
    action_class="communicate",
)
UPDATE_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="edit or delete the message with chat.update/chat.delete",
    idempotent=True,  # the same content twice leaves the same message
    blast_radius="external",
    approval_tier="auto",
    action_class="communicate",
)

AUTH_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "account_inactive", "token_expired"})

BlocksField: Any = Field(
    default=None,
    max_length=50,
    description="Optional Block Kit blocks (at most 50); text stays the notification fallback.",
)


class PostMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=CHANNEL_PATTERN, description="Channel id (e.g. C0INC) or name (#incidents).")
    text: str = Field(min_length=1, max_length=40_000, description="Message text (mrkdwn); always sent.")
    blocks: list[dict[str, Any]] | None = BlocksField
    thread_ts: str | None = Field(
        default=None, pattern=TS_PATTERN, description="Reply in the thread of this message ts."
    )


class UpdateMessageInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=CHANNEL_PATTERN, description="Channel id the message is in (from post_message).")
    ts: str = Field(pattern=TS_PATTERN, description="The message's ts (from post_message).")
    text: str = Field(min_length=1, max_length=40_000, description="New message text.")
    blocks: list[dict[str, Any]] | None = BlocksField


class ChannelHistoryInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(pattern=CHANNEL_PATTERN, description="Channel id (e.g. C0INC).")
    oldest: UtcDatetime | None = Field(default=None, description="Only messages at or after this time (UTC).")
    latest: UtcDatetime | None = Field(default=None, description="Only messages before this time (UTC).")
    limit: int = Field(default=200, ge=1, le=999, description="Most messages to return, newest first.")


class SlackAdapter(Adapter):
    """Posts to one Slack workspace with a bot token."""

    kind: ClassVar[str] = "slack"
    description: ClassVar[str] = "Slack: post messages (optionally in a thread), update them, read a channel."
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(description="Post a message to a Slack channel, or reply in a thread.", safety=POST_SAFETY)
    async def post_message(self, args: PostMessageInput) -> ToolResult:
        body: dict[str, Any] = {"channel": args.channel, "text": args.text}
        if args.blocks is not None:
            body["blocks"] = args.blocks
        if args.thread_ts:
            body["thread_ts"] = args.thread_ts
        answer = await self._call("chat.postMessage", body)
        data = {"channel": answer["channel"], "ts": answer["ts"]}
        if args.thread_ts:
            data["thread_ts"] = args.thread_ts
        where = f"thread {args.thread_ts} in " if args.thread_ts else ""
        return ToolResult(
            tool=self.tool_id("post_message"),
            status="ok",
            query="POST /chat.postMessage",
            params=body,
            data=data,
            summary=f"posted to {where}{answer['channel']} (ts {answer['ts']}): {clip(args.text, 100)!r}",
        )

    @tool_call(description="Replace the text (and blocks) of a message this app posted.", safety=UPDATE_SAFETY)
    async def update_message(self, args: UpdateMessageInput) -> ToolResult:
        body: dict[str, Any] = {"channel": args.channel, "ts": args.ts, "text": args.text}
        if args.blocks is not None:
            body["blocks"] = args.blocks
        answer = await self._call("chat.update", body)
        return ToolResult(
            tool=self.tool_id("update_message"),
            status="ok",
            query="POST /chat.update",
            params=body,
            data={"channel": answer["channel"], "ts": answer["ts"]},
            summary=f"updated message {answer['ts']} in {answer['channel']}: {clip(args.text, 100)!r}",
        )

    @tool_call(description="Read a channel's messages (conversations.history), newest first: who said what, when.")
    async def channel_history(self, args: ChannelHistoryInput) -> ToolResult:
        path = "/conversations.history"
        params: list[tuple[str, Any]] = [("channel", args.channel), ("limit", args.limit)]
        if args.oldest:
            params.append(("oldest", f"{args.oldest.timestamp():.6f}"))
        if args.latest:
            params.append(("latest", f"{args.latest.timestamp():.6f}"))
        # A read method: query parameters (Slack takes JSON bodies for write methods only).
        response = await self.http.request("GET", path, params=params, describe_error=describe_slack_error)
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if answer.get("ok") is not True:
            if "error" not in answer:
                raise malformed(self.http, response, path, 'the body has no "ok": true')
            raise self._slack_error("conversations.history", path, response, answer)
        messages = [_history_message(m) for m in as_list(answer.get("messages")) if isinstance(m, dict)]
        people = sum(1 for m in messages if not m["bot"])
        return ToolResult(
            tool=self.tool_id("channel_history"),
            status="ok" if messages else "no_data",
            query=f"GET {path}",
            params=dict(params),
            data={"messages": messages, "has_more": answer.get("has_more") is True},
            summary=f"{len(messages)} messages in {args.channel} ({people} from people)"
            if messages
            else f"no messages in {args.channel} in that window",
        )

    async def check(self) -> str:
        """``auth.test``: Slack's own token check; an invalid token is reported as a 401."""
        path = "/auth.test"
        response = await self.http.request(
            "POST", path, json={}, headers={"Content-Type": SLACK_JSON}, describe_error=describe_slack_error
        )
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if answer.get("ok") is not True:
            if "error" not in answer:
                raise malformed(self.http, response, path, 'the body has no "ok": true')
            error = self._slack_error("auth.test", path, response, answer)
            if answer.get("error") in AUTH_ERRORS:
                error.status_code = 401  # HTTP 200 on the wire, but a rejected credential all the same
            raise error
        return f"workspace {answer.get('team')} as {answer.get('user')} (bot {answer.get('bot_id')})"

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        path = f"/{method}"
        response = await self.http.request(
            "POST", path, json=body, headers={"Content-Type": SLACK_JSON}, describe_error=describe_slack_error
        )
        answer = expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")
        if answer.get("ok") is not True:
            if "error" not in answer:
                raise malformed(self.http, response, path, 'the body has no "ok": true')
            raise self._slack_error(method, path, response, answer)
        if not isinstance(answer.get("channel"), str) or not isinstance(answer.get("ts"), str):
            raise malformed(self.http, response, path, "the answer has no channel and ts")
        return answer

    def _slack_error(self, method: str, path: str, response: httpx.Response, answer: dict[str, Any]) -> UpstreamError:
        error = str(answer.get("error"))
        hint = HINTS.get(error, "")
        if error == "missing_scope" and answer.get("needed"):
            hint += f" (needs {answer['needed']})"
        details = as_list(as_dict(answer.get("response_metadata")).get("messages"))
        if details:
            hint += ("; " if hint else "") + "; ".join(str(m) for m in details[:3])
        excerpt = self.http.redact(response.text[:BODY_EXCERPT_CHARS])
        return UpstreamError(
            self.http.redact(f"Slack {method} failed: {error}" + (f" ({hint})" if hint else "")),
            method="POST",
            path=path,
            status_code=response.status_code,
            body_excerpt=excerpt,
        )


def _history_message(item: dict[str, Any]) -> dict[str, Any]:
    ts = str(item.get("ts") or "")
    try:
        at = datetime.fromtimestamp(float(ts), tz=UTC).isoformat()
    except ValueError:
        at = None
    profile = as_dict(item.get("user_profile"))
    return {
        "ts": ts,
        "at": at,
        "user": str(item.get("user") or ""),
        "name": str(profile.get("real_name") or profile.get("display_name") or item.get("username") or ""),
        "bot": bool(item.get("bot_id")) or item.get("subtype") == "bot_message",
        "text": clip(str(item.get("text") or ""), 2000),
        "thread_ts": item.get("thread_ts"),
    }


def describe_slack_error(response: httpx.Response) -> str | None:
    """A readable message for a non-2xx answer: the rate limit's Retry-After, or Slack's ``error``."""
    if response.status_code == 429:
        retry_after = response.headers.get("Retry-After")
        wait = f"retry after {retry_after} seconds" if retry_after else "no Retry-After given"
        return f"Slack rate limit hit; {wait} (Retry-After header)"
    error = json_field(response, "error")
    return f"Slack: {error}" if isinstance(error, str) else None
