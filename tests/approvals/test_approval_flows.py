"""The approval paths end to end against the simulator: web, API, Slack, CLI identity, deadlines, security.

Each test has its own simulated environment and state; the ASGI app is called in-process (httpx's
ASGITransport), in the event loop the workflow runs in.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta

import httpx
import markupsafe
import pytest
import structlog
from structlog.testing import capture_logs

from approvals.identity import User
from approvals.slack import sign
from firstline.approvals_wiring import IdentityError, cli_identity
from tests.approvals.conftest import PASSWORD, SLACK_SECRET, Waiting
from tests.approvals.test_slack_signing import block_actions_body

pytestmark = pytest.mark.slow  # each test runs the example incident in the simulator

BASE = "http://console.test"


def client(waiting: Waiting) -> httpx.AsyncClient:
    app = waiting.approvals.console()
    from starlette.applications import Starlette

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=app.routes())), base_url=BASE)


async def login(http: httpx.AsyncClient, name: str) -> str:
    """Sign in through the form; return the session's CSRF token (read from the incident page)."""
    page = await http.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    answer = await http.post(
        "/login", data={"username": name, "password": PASSWORD, "csrf": csrf.group(1), "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    home = await http.get("/")
    token = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert token is not None
    return token.group(1)


def slack_post(
    waiting: Waiting, user: str, *, at: float | None = None, secret: str = SLACK_SECRET
) -> tuple[bytes, dict[str, str]]:
    body = block_actions_body(waiting.incident, waiting.action, user=user)
    stamp = str(int(at if at is not None else time.time()))
    return body, {
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": stamp,
        "x-slack-signature": sign(secret.encode(), stamp, body),
    }


def card_hash(waiting: Waiting) -> str:
    from tools.base import hash_args

    outcome_args = waiting.first.waiting_for.args if waiting.first.waiting_for else {}
    from tools.actions import normalized_args

    return hash_args(normalized_args(waiting.responder.ctx.registry, "kubernetes.rollout_undo", outcome_args))


async def test_the_web_console_shows_the_card_and_an_approval_executes_and_verifies(waiting: Waiting) -> None:
    async with client(waiting) as http:
        csrf = await login(http, "alice")
        home = await http.get("/")
        assert waiting.incident in home.text and "approval: " in home.text
        page = await http.get(f"/incidents/{waiting.incident}")
        assert page.status_code == 200
        # What changes, from what to what, and under which rule.
        assert "revision" in page.text and "production-changes" in page.text
        assert "kubernetes.rollout_undo" in page.text
        evidence = waiting.first.state.diagnosis.evidence if waiting.first.state.diagnosis else []
        assert evidence and all(str(markupsafe.escape(e.query)) in page.text for e in evidence)  # every exact query
        answer = await http.post(
            f"/incidents/{waiting.incident}/actions/{waiting.action}", data={"csrf": csrf, "decision": "approve"}
        )
        assert answer.status_code == 200, answer.text
        await waiting.approvals.service.drain()
    record = waiting.responder.index.get(waiting.incident)
    assert record is not None and record["status"] == "resolved"
    rollback = next(a for a in record["actions"] if a["id"] == waiting.action)
    assert rollback["status"] == "verified" and rollback["approval"]["by"] == "alice"
    assert len(waiting.undos()) == 1
    events = [(e.event, e.actor, e.channel) for e in waiting.approvals.service.records.audit_log(waiting.incident)]
    assert ("vote", "alice", "web") in events and ("decided", "alice", "web") in events
    assert any(e[0] == "executed" for e in events)


async def test_a_user_without_the_right_is_refused_with_the_rule_named(waiting: Waiting) -> None:
    async with client(waiting) as http:
        csrf = await login(http, "eve")
        answer = await http.post(
            f"/incidents/{waiting.incident}/actions/{waiting.action}", data={"csrf": csrf, "decision": "approve"}
        )
    assert answer.status_code == 403
    assert "production-changes" in answer.text
    assert waiting.responder.ctx.ledger.get_decision(waiting.incident, waiting.action) is None
    assert waiting.undos() == []
    [refusal] = [e for e in waiting.approvals.service.records.audit_log(waiting.incident) if e.event == "refused"]
    assert refusal.actor == "eve" and refusal.detail["rule"] == "production-changes"


async def test_unauthenticated_and_cross_site_requests_are_refused(waiting: Waiting) -> None:
    path = f"/incidents/{waiting.incident}/actions/{waiting.action}"
    async with client(waiting) as http:
        assert (await http.get("/")).status_code == 303  # to the login page
        assert (await http.post(path, data={"decision": "approve"})).status_code == 303
        assert (await http.get("/v1/approvals")).status_code == 401
        assert (
            await http.post(f"/v1/approvals/{waiting.incident}/{waiting.action}", json={"decision": "approve"})
        ).status_code == 401
        csrf = await login(http, "alice")
        no_token = await http.post(path, data={"decision": "approve"})
        assert no_token.status_code == 403
        other_site = await http.post(
            path, data={"decision": "approve", "csrf": csrf}, headers={"origin": "https://evil.example"}
        )
        assert other_site.status_code == 403
        api_without_csrf = await http.post(
            f"/v1/approvals/{waiting.incident}/{waiting.action}", json={"decision": "approve"}
        )
        assert api_without_csrf.status_code == 403
    assert waiting.responder.ctx.ledger.get_decision(waiting.incident, waiting.action) is None
    assert waiting.undos() == []


async def test_the_api_lists_pending_cards_and_decides_with_a_token(waiting: Waiting) -> None:
    token = waiting.approvals.users.create_token("bob", at=waiting.responder.ctx.clock())
    auth = {"authorization": f"Bearer {token}"}
    async with client(waiting) as http:
        listed = (await http.get("/v1/approvals", headers=auth)).json()["approvals"]
        [card] = listed
        assert card["action_id"] == waiting.action and card["rule"] == "production-changes"
        assert any(c["what"].endswith("revision") for c in card["changes"])
        bad = await http.post(
            f"/v1/approvals/{waiting.incident}/{waiting.action}",
            json={"decision": "approve", "args": {"namespace": "shop", "name": "checkout", "to_revision": 0}},
            headers=auth,
        )
        assert bad.status_code == 422 and "to_revision" in bad.json()["message"]
        answer = await http.post(
            f"/v1/approvals/{waiting.incident}/{waiting.action}", json={"decision": "approve"}, headers=auth
        )
        assert answer.status_code == 200 and answer.json()["decided_by"] == "bob"
        await waiting.approvals.service.drain()
        live = (await http.get(f"/v1/workflow/incidents/{waiting.incident}", headers=auth)).json()
    assert live["status"] == "resolved"


async def test_an_edit_needs_a_second_approver_and_runs_with_the_edited_arguments(waiting: Waiting) -> None:
    service = waiting.approvals.service
    users = waiting.approvals.users
    alice, bob = users.get("alice"), users.get("bob")
    assert alice and bob
    proposed = waiting.first.waiting_for.args if waiting.first.waiting_for else {}
    edited = {**proposed, "to_revision": int(proposed["to_revision"]) - 1}
    first = await service.vote(waiting.incident, waiting.action, alice, "approved", channel="web", edited_args=edited)
    assert first.status == "waiting" and "cannot be its only approver" in first.message
    second = await service.vote(waiting.incident, waiting.action, bob, "approved", channel="api")
    assert second.status == "approved" and second.decided_by == "alice, bob"
    await service.apply(waiting.incident, waiting.action)
    record = waiting.responder.index.get(waiting.incident)
    assert record is not None
    rollback = next(a for a in record["actions"] if a["id"] == waiting.action)
    assert rollback["args"]["to_revision"] == edited["to_revision"]
    assert rollback["approval"]["edited_from"]["to_revision"] == proposed["to_revision"]
    assert any("edited arguments" in t["text"] for t in record["timeline"])
    [undo] = waiting.undos()
    assert str(edited["to_revision"]) in str(undo)


async def test_a_signed_slack_click_approves_and_updates_the_message(waiting: Waiting) -> None:
    await waiting.approvals.watcher.tick()  # posts the Block Kit request
    messages = waiting.sim.world.slack.messages
    [request] = [m for m in messages if any(b.get("type") == "actions" for b in m.get("blocks") or [])]
    buttons = next(b for b in request["blocks"] if b["type"] == "actions")["elements"]
    assert {b["action_id"] for b in buttons} == {"firstline_approve", "firstline_reject"}
    body, headers = slack_post(waiting, "U0ALICE")
    payload = json.loads(json.loads(json.dumps(dict(httpx.QueryParams(body.decode()))))["payload"])
    payload["actions"][0]["value"] = json.dumps(
        {"incident": waiting.incident, "action": waiting.action, "args_hash": card_hash(waiting)}
    )
    body = httpx.QueryParams({"payload": json.dumps(payload)}).__str__().encode()
    stamp = headers["x-slack-request-timestamp"]
    headers["x-slack-signature"] = sign(SLACK_SECRET.encode(), stamp, body)
    async with client(waiting) as http:
        answer = await http.post("/v1/slack/interactions", content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["status"] == "approved"
        replay = await http.post("/v1/slack/interactions", content=body, headers=headers)
        assert replay.status_code == 401 and "replay" in replay.json()["message"]
    await waiting.approvals.service.drain()
    record = waiting.responder.index.get(waiting.incident)
    assert record is not None and record["status"] == "resolved"
    updated = next(m for m in waiting.sim.world.slack.messages if m["ts"] == request["ts"])
    assert not any(b.get("type") == "actions" for b in updated.get("blocks") or [])
    assert "verified" in json.dumps(updated)
    assert len(waiting.undos()) == 1


async def test_slack_refuses_mis_signed_stale_and_unmapped_clicks(waiting: Waiting) -> None:
    async with client(waiting) as http:
        body, headers = slack_post(waiting, "U0ALICE", secret="not the secret")
        assert (await http.post("/v1/slack/interactions", content=body, headers=headers)).status_code == 401
        body, headers = slack_post(waiting, "U0ALICE", at=time.time() - 6 * 60)
        stale = await http.post("/v1/slack/interactions", content=body, headers=headers)
        assert stale.status_code == 401 and "stale" in stale.json()["message"]
        body, headers = slack_post(waiting, "U0STRANGER")
        unmapped = await http.post("/v1/slack/interactions", content=body, headers=headers)
        assert unmapped.status_code == 200 and unmapped.json()["status"] == "refused"
        body, headers = slack_post(waiting, "U0EVE")
        refused = await http.post("/v1/slack/interactions", content=body, headers=headers)
        assert refused.json()["status"] == "refused" and "production-changes" in refused.json()["message"]
    await waiting.approvals.service.drain()
    assert waiting.responder.ctx.ledger.get_decision(waiting.incident, waiting.action) is None
    assert waiting.undos() == []


async def test_web_and_slack_approving_at_once_execute_the_action_once(waiting: Waiting) -> None:
    service = waiting.approvals.service
    alice, bob = waiting.approvals.users.get("alice"), waiting.approvals.users.get("bob")
    assert alice and bob
    results = await asyncio.gather(
        service.vote(waiting.incident, waiting.action, alice, "approved", channel="web"),
        service.vote(waiting.incident, waiting.action, bob, "approved", channel="slack"),
    )
    assert sorted(r.status for r in results) == ["already_decided", "approved"]
    await asyncio.gather(*(service.apply(waiting.incident, waiting.action) for _ in range(2)))
    assert len(waiting.undos()) == 1
    record = waiting.responder.index.get(waiting.incident)
    assert record is not None and record["status"] == "resolved"


async def test_deadlines_remind_page_and_expire_and_an_expired_action_never_runs(waiting: Waiting) -> None:
    ctx = waiting.responder.ctx
    requested = waiting.first.waiting_for.requested_at if waiting.first.waiting_for else ctx.clock()
    records = waiting.approvals.service.records
    for minutes in (11, 21):
        ctx.clock = lambda m=minutes: requested + timedelta(minutes=m)  # type: ignore[misc]  # the injected clock
        await waiting.approvals.watcher.tick()
    events = [e.event for e in records.audit_log(waiting.incident)]
    assert "reminded" in events and "escalated" in events
    assert waiting.responder.ctx.ledger.get_decision(waiting.incident, waiting.action) is None
    ctx.clock = lambda: requested + timedelta(minutes=61)  # type: ignore[misc]
    alice = waiting.approvals.users.get("alice")
    assert alice is not None
    late = await waiting.approvals.service.vote(waiting.incident, waiting.action, alice, "approved", channel="web")
    assert late.status == "expired"
    await waiting.approvals.watcher.tick()
    record = waiting.responder.index.get(waiting.incident)
    assert record is not None and record["status"] == "escalated"
    assert any(t["kind"] == "expired" for t in record["timeline"])
    assert "expired" in [e.event for e in records.audit_log(waiting.incident)]
    assert waiting.undos() == []


async def test_the_cli_identity_comes_from_a_token_or_the_mapped_os_user_not_a_free_string(waiting: Waiting) -> None:
    settings = waiting.config.approvals.model_copy(update={"cli_identity": ["token", "os_user"]})
    users = waiting.approvals.users
    token = users.create_token("alice", at=waiting.responder.ctx.clock())
    assert cli_identity(settings, users, None, {"FIRSTLINE_TOKEN": token}).name == "alice"
    with pytest.raises(IdentityError, match="--by is not accepted"):
        cli_identity(settings, users, "mallory", {})
    with pytest.raises(IdentityError, match="not valid"):
        cli_identity(settings, users, None, {"FIRSTLINE_TOKEN": "fl_nope_nope"})
    import getpass

    mapped = settings.model_copy(update={"os_users": {getpass.getuser(): "bob"}})
    assert cli_identity(mapped, users, None, {}).name == "bob"
    sandbox = settings.model_copy(update={"cli_identity": ["token", "by"]})
    assert cli_identity(sandbox, users, "mallory", {}) == User(name="mallory", display_name="(unverified --by)")


async def test_no_password_token_or_session_id_reaches_the_logs(waiting: Waiting) -> None:
    token = waiting.approvals.users.create_token("alice", at=waiting.responder.ctx.clock())
    # Info and up, whatever an earlier setup left: the lines a -v operator would see are the ones checked.
    previous = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    with capture_logs() as logs:
        async with client(waiting) as http:
            await login(http, "alice")
            session = http.cookies.get("firstline_session")
            await http.post("/login", data={"username": "alice", "password": "wrong password!", "csrf": "x"})
            await http.get("/v1/approvals", headers={"authorization": f"Bearer {token}"})
            body, headers = slack_post(waiting, "U0EVE")
            await http.post("/v1/slack/interactions", content=body, headers=headers)
    structlog.configure(**previous)
    text = json.dumps(logs, default=str)
    assert session and session not in text
    for secret in (PASSWORD, "wrong password!", token, SLACK_SECRET, headers["x-slack-signature"]):
        assert secret not in text
    assert logs  # the requests were logged, just without their secrets


async def test_repeated_failed_sign_ins_are_refused_for_a_while(waiting: Waiting) -> None:
    async with client(waiting) as http:
        page = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        form = {"username": "alice", "password": "not the password", "csrf": csrf.group(1), "next": "/"}
        codes = [(await http.post("/login", data=form)).status_code for _ in range(5)]
        assert codes == [401] * 5
        # The right password now is refused too: the limit is on guessing, not on a wrong guess.
        locked = await http.post("/login", data={**form, "password": PASSWORD})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in locked.text
