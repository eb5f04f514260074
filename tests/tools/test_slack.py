"""SlackAdapter against respx: JSON posts, ok:false on HTTP 200, rate limits, grants and once-only."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.actions import execute_action
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry
from tools.slack import SlackAdapter

BASE = "https://slack.com/api"
POST = {"channel": "C0INC", "text": "INC-42: checkout 5xx at 7%; investigating"}
OK = {"ok": True, "channel": "C0INC", "ts": "1795300100.000200", "message": {"text": "..."}}


@pytest.fixture
def slack(build: BuildAdapter) -> SlackAdapter:
    adapter = build(SlackAdapter, BASE, max_retries=2)
    assert isinstance(adapter, SlackAdapter)
    return adapter


async def test_post_without_grant_sends_nothing(slack: SlackAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/chat.postMessage")
        result = await slack.invoke("post_message", POST)
    assert result.status == "approval_required"
    assert not route.called


async def test_post_runs_once_through_the_ledger(slack: SlackAdapter, ledger: ActionLedger) -> None:
    registry = ToolRegistry({slack.instance: slack})
    policy = ApprovalPolicy(PolicySettings(maturity="walk", rules={"communicate": {"default": "auto"}}))
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*INC-42* checkout 5xx"}}]
    args = {**POST, "blocks": blocks, "thread_ts": "1795300000.000100"}
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").respond(200, json=OK)
        first = await execute_action(
            registry=registry,
            ledger=ledger,
            policy=policy,
            incident_id="INC-42",
            action_id="post-1",
            tool_id="slack.post_message",
            args=args,
        )
        second = await execute_action(
            registry=registry,
            ledger=ledger,
            policy=policy,
            incident_id="INC-42",
            action_id="post-1",
            tool_id="slack.post_message",
            args=args,
        )
    assert (first.status, second.status) == ("executed", "already_executed")
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content) == {
        "channel": "C0INC",
        "text": POST["text"],
        "blocks": blocks,
        "thread_ts": "1795300000.000100",
    }
    assert first.result is not None
    assert first.result.data == {
        "channel": "C0INC",
        "ts": "1795300100.000200",
        "thread_ts": "1795300000.000100",
    }
    assert first.result.query == "POST /chat.postMessage"
    assert second.result is not None and second.result.data["ts"] == "1795300100.000200"


async def test_update_message(slack: SlackAdapter, ledger: ActionLedger) -> None:
    args = {"channel": "C0INC", "ts": "1795300100.000200", "text": "Approved by @alice", "blocks": []}
    grant = grant_for(ledger, slack, "update_message", args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.update").respond(200, json=OK)
        result = await slack.invoke("update_message", args, grant=grant)
    assert result.status == "ok", result.summary
    assert json.loads(route.calls.last.request.content) == args
    assert result.data == {"channel": "C0INC", "ts": "1795300100.000200"}


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {"ok": False, "error": "channel_not_found"},
            "Slack chat.postMessage failed: channel_not_found (check the",
        ),
        ({"ok": False, "error": "not_in_channel"}, "not_in_channel (invite the app"),
        (
            {"ok": False, "error": "missing_scope", "needed": "chat:write"},
            "missing_scope (the token lacks a scope (needs chat:write))",
        ),
        (
            {
                "ok": False,
                "error": "invalid_blocks",
                "response_metadata": {"messages": ["[ERROR] must provide text"]},
            },
            "invalid_blocks (the blocks are malformed; [ERROR] must provide text)",
        ),
    ],
)
async def test_ok_false_on_http_200_is_an_error_naming_it(
    slack: SlackAdapter, ledger: ActionLedger, answer: dict[str, object], expected: str
) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").respond(200, json=answer)
        result = await slack.invoke("post_message", POST, grant=grant)
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "upstream" and result.error.upstream_status == 200
    assert expected in result.error.message
    assert result.query == "POST /chat.postMessage"


async def test_invalid_auth_never_leaks_the_token(slack: SlackAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        mock.post("/chat.postMessage").respond(200, json={"ok": False, "error": "invalid_auth", "token": TOKEN})
        result = await slack.invoke("post_message", POST, grant=grant)
    assert result.error is not None and "invalid_auth (the token is invalid)" in result.error.message
    assert_secret_absent(result, logs)


@pytest.mark.parametrize("status", [401, 403])
async def test_http_auth_failure_never_leaks_the_token(slack: SlackAdapter, ledger: ActionLedger, status: int) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").respond(status, text=f"denied for Bearer {TOKEN}")
        result = await slack.invoke("post_message", POST, grant=grant)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == status
    assert_secret_absent(result, logs)


async def test_rate_limit_mentions_retry_after_and_is_not_retried(slack: SlackAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").respond(
            429, json={"ok": False, "error": "ratelimited"}, headers={"Retry-After": "30"}
        )
        result = await slack.invoke("post_message", POST, grant=grant)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 429
    assert "retry after 30 seconds (Retry-After header)" in result.error.message


async def test_5xx_retried_then_reported(slack: SlackAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").respond(503, text="upstream unavailable")
        result = await slack.invoke("post_message", POST, grant=grant)
    assert route.call_count == 3
    assert result.error is not None and result.error.upstream_status == 503
    assert result.error.body_excerpt == "upstream unavailable"
    assert result.params["channel"] == "C0INC"


async def test_timeout(slack: SlackAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/chat.postMessage").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await slack.invoke("post_message", POST, grant=grant)
    assert route.call_count == 3
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"ok", "not JSON"), (b'{"ok": true}', "no channel and ts"), (b'{"channel": "C0INC"}', '"ok": true')],
)
async def test_malformed_body(slack: SlackAdapter, ledger: ActionLedger, content: bytes, expected: str) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        mock.post("/chat.postMessage").respond(200, content=content)
        result = await slack.invoke("post_message", POST, grant=grant)
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


async def test_thread_ts_format_is_checked(slack: SlackAdapter) -> None:
    result = await slack.invoke("post_message", {**POST, "thread_ts": "yesterday"})
    assert result.error is not None and result.error.kind == "input" and "thread_ts" in result.error.message


def test_safety_metadata() -> None:
    post = SlackAdapter.calls["post_message"].safety
    update = SlackAdapter.calls["update_message"].safety
    for safety in (post, update):
        assert (
            safety.mutating,
            safety.action_class,
            safety.approval_tier,
            safety.reversible,
            safety.blast_radius,
        ) == (True, "communicate", "auto", True, "external")
        assert safety.undo == "edit or delete the message with chat.update/chat.delete"
    assert post.idempotent is False


async def test_odd_error_details_do_not_crash(slack: SlackAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, slack, "post_message", POST)
    with respx.mock(base_url=BASE) as mock:
        mock.post("/chat.postMessage").respond(
            200, json={"ok": False, "error": "invalid_blocks", "response_metadata": {"messages": 3}}
        )
        result = await slack.invoke("post_message", POST, grant=grant)
    assert result.error is not None and "invalid_blocks (the blocks are malformed)" in result.error.message


async def test_channel_history_reads_who_said_what_with_query_parameters(slack: SlackAdapter) -> None:
    answer = {
        "ok": True,
        "messages": [
            {
                "type": "message",
                "user": "U0DANA",
                "text": "rolling back by hand would take 20 min",
                "ts": "1763667720.000200",
                "user_profile": {"real_name": "Dana Reyes"},
            },
            {
                "type": "message",
                "user": "U0BOT",
                "bot_id": "B0FL",
                "text": "[inc-1] investigating",
                "ts": "1763667600.000100",
            },
        ],
        "has_more": False,
        "pin_count": 0,
        "response_metadata": {"next_cursor": ""},
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/conversations.history").respond(200, json=answer)
        result = await slack.invoke(
            "channel_history", {"channel": "C0INC", "oldest": "2025-11-20T19:40:00Z", "limit": 50}
        )
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.url.params["channel"] == "C0INC" and request.url.params["limit"] == "50"
    assert request.url.params["oldest"] == "1763667600.000000"
    assert result.status == "ok" and result.summary == "1 messages in C0INC (1 from people)".replace(
        "1 messages", "2 messages"
    )
    first = result.data["messages"][0]
    assert (first["name"], first["bot"], first["at"]) == ("Dana Reyes", False, "2025-11-20T19:42:00.000200+00:00")
    assert result.data["messages"][1]["bot"] is True


async def test_channel_history_reports_slacks_error(slack: SlackAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/conversations.history").respond(200, json={"ok": False, "error": "not_in_channel"})
        result = await slack.invoke("channel_history", {"channel": "C0INC"})
    assert result.status == "error" and result.error is not None
    assert "conversations.history failed: not_in_channel (invite the app to the channel first)" in result.error.message
