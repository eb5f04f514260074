"""Paging and on-call lookup against PagerDuty's real API shapes (respx): ``GET /oncalls`` for the
catalog's schedule or escalation policy, with the catalog's static name as the fallback (and a timeline
note saying why), Events v2 ``/v2/enqueue`` to trigger and resolve one alert per incident, the default
team for a service the catalog does not know, and no second page after a resume."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import respx
from langgraph.runtime import Runtime

from agents.communication import communicate
from agents.context import AgentContext
from agents.paging import dedup_key, lookup_oncall, page, resolve_page, should_page
from agents.settings import CommsSettings, DefaultTeam
from agents.state import Diagnosis
from knowledge.catalog import OnCall, Service
from tests.agents.conftest import agent_context, incident
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry

PD = "https://api.pagerduty.test"
EVENTS = "https://events.pagerduty.test"
SLACK = "https://slack.test/api"
KEY_ENV = "FIRSTLINE_TEST_PAGING_KEY"
DEFAULT_KEY_ENV = "FIRSTLINE_TEST_DEFAULT_PAGING_KEY"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
DEFAULT_ROUTING_KEY = "fedcba9876543210fedcba9876543210"
ONCALLS = {
    "oncalls": [
        {
            "escalation_policy": {"id": "PEPAPI1", "type": "escalation_policy_reference", "summary": "API"},
            "escalation_level": 2,
            "schedule": None,
            "user": {"id": "PU2", "type": "user_reference", "summary": "Sam Okafor"},
            "start": None,
            "end": None,
        },
        {
            "escalation_policy": {"id": "PEPAPI1", "type": "escalation_policy_reference", "summary": "API"},
            "escalation_level": 1,
            "schedule": {"id": "PSCHED1", "type": "schedule_reference", "summary": "API primary"},
            "user": {"id": "PU1", "type": "user_reference", "summary": "Priya Natarajan"},
            "start": "2026-11-16T18:00:00Z",
            "end": "2026-11-23T18:00:00Z",
        },
    ],
    "limit": 100,
    "offset": 0,
    "more": False,
    "total": None,
}
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "firstline/inc-1"}


def _service(**oncall: Any) -> Service:
    return Service(
        name="api",
        tier=1,
        customer_facing=True,
        owner="team-api",
        oncall=OnCall(name="Dana Reyes", handle="@dana", **oncall),
        chat_channel="C0INC",
    )


@pytest.fixture
async def registry(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ToolRegistry]:
    monkeypatch.setenv(KEY_ENV, ROUTING_KEY)
    monkeypatch.setenv(DEFAULT_KEY_ENV, DEFAULT_ROUTING_KEY)
    monkeypatch.setenv("FIRSTLINE_TEST_PD_TOKEN", "pd-token")
    monkeypatch.setenv("FIRSTLINE_TEST_SLACK_TOKEN", "xoxb-test")
    built = ToolRegistry.from_config(
        {
            "pagerduty": {"kind": "pagerduty", "base_url": PD, "token_env": "FIRSTLINE_TEST_PD_TOKEN"},
            "paging": {"kind": "pagerduty_events", "base_url": EVENTS, "routing_key_env": KEY_ENV},
            "paging_default": {"kind": "pagerduty_events", "base_url": EVENTS, "routing_key_env": DEFAULT_KEY_ENV},
            "slack": {"kind": "slack", "base_url": SLACK, "token_env": "FIRSTLINE_TEST_SLACK_TOKEN"},
        }
    )
    for adapter in built.adapters.values():
        adapter.http.backoff_seconds = 0
    yield built
    await built.aclose()


def _ctx(tmp_path: Path, registry: ToolRegistry, service: Service | None = None, **comms: Any) -> AgentContext:
    ctx = agent_context(
        tmp_path,
        registry=registry,
        services=[service or _service(pagerduty_escalation_policy="PEPAPI1")],
        comms=CommsSettings(**comms),
    )
    # As config.yaml ships: communication (posts, pages) runs without a human.
    ctx.policy = ApprovalPolicy(PolicySettings(rules={"communicate": {"default": "auto"}}))
    return ctx


async def test_oncall_comes_from_pagerduty_for_the_catalog_policy(tmp_path: Path, registry: ToolRegistry) -> None:
    ctx = _ctx(tmp_path, registry)
    with respx.mock(base_url=PD) as mock:
        route = mock.get("/oncalls").respond(200, json=ONCALLS)
        answer, notes = await lookup_oncall(ctx, ctx.catalog.get("api"))
    assert ("escalation_policy_ids[]", "PEPAPI1") in route.calls.last.request.url.params.multi_items()
    assert route.calls.last.request.headers["authorization"] == "Token token=pd-token"
    # Level 1 is on call now, not the static catalog name and not level 2.
    assert (answer.who, answer.source) == ("Priya Natarajan", "pagerduty")
    assert "per PagerDuty (escalation policy PEPAPI1): Priya Natarajan" in notes[0].text


async def test_oncall_asks_for_the_schedule_when_the_catalog_names_one(tmp_path: Path, registry: ToolRegistry) -> None:
    ctx = _ctx(tmp_path, registry, _service(pagerduty_schedule="PSCHED1"))
    with respx.mock(base_url=PD) as mock:
        route = mock.get("/oncalls").respond(200, json=ONCALLS)
        answer, _ = await lookup_oncall(ctx, ctx.catalog.get("api"))
    assert ("schedule_ids[]", "PSCHED1") in route.calls.last.request.url.params.multi_items()
    assert answer.who == "Priya Natarajan"


@pytest.mark.parametrize(
    ("status", "body", "why"),
    [
        (200, {"oncalls": [], "limit": 100, "offset": 0, "more": False, "total": None}, "nobody on call matches"),
        (401, {"error": {"message": "Unauthorized", "code": 2006}}, "HTTP 401"),
    ],
)
async def test_oncall_falls_back_to_the_catalog_with_a_note(
    tmp_path: Path, registry: ToolRegistry, status: int, body: dict[str, Any], why: str
) -> None:
    ctx = _ctx(tmp_path, registry)
    with respx.mock(base_url=PD) as mock:
        mock.get("/oncalls").respond(status, json=body)
        answer, notes = await lookup_oncall(ctx, ctx.catalog.get("api"))
    assert (answer.who, answer.source) == ("Dana Reyes (@dana)", "catalog")
    assert "on-call from the catalog" in notes[0].text and why in notes[0].text


async def test_an_unknown_service_is_the_default_teams(tmp_path: Path, registry: ToolRegistry) -> None:
    ctx = _ctx(tmp_path, registry, default_team=DefaultTeam(name="platform-oncall"))
    answer, notes = await lookup_oncall(ctx, None)
    assert (answer.who, answer.source) == ("platform-oncall", "default_team")
    assert notes == []


def test_escalations_and_paging_severities_page() -> None:
    opened = incident(severity="SEV1", signal_confirmed=True)
    assert should_page(opened, "opened", ["SEV1"]) == "SEV1 incident"
    assert should_page(opened.model_copy(update={"severity": "SEV3"}), "opened", ["SEV1"]) is None
    assert should_page(opened.model_copy(update={"signal_confirmed": False}), "opened", ["SEV1"]) is None
    assert should_page(incident(severity="SEV4"), "escalated", ["SEV1"]) == "escalated to a human"
    assert should_page(opened, "identified", ["SEV1"]) is None


async def test_page_triggers_one_alert_with_the_diagnosis_and_the_link_then_resolves_it(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    ctx = _ctx(tmp_path, registry)
    diagnosis = Diagnosis(root_cause="release 4.2 broke checkout", category="bad_deploy", entity="api", confidence=0.8)
    state = incident(severity="SEV1", service="api", diagnosis=diagnosis, summary="api failing")
    link = "https://firstline.test/incidents/inc-1"
    with respx.mock(base_url=EVENTS) as mock:
        route = mock.post("/v2/enqueue").respond(202, json=ACCEPTED)
        action, _ = await page(ctx, state, ctx.catalog.get("api"), reason="escalated to a human", link=link)
        again, _ = await page(ctx, state, ctx.catalog.get("api"), reason="escalated to a human", link=link)
        paged = state.model_copy(update={"external_refs": {"page": dedup_key("inc-1")}})
        resolved, _ = await resolve_page(ctx, paged, ctx.catalog.get("api"))
    assert action is not None and action.status == "executed" and again is not None
    sent = [json.loads(call.request.content) for call in route.calls]
    assert [s["event_action"] for s in sent] == ["trigger", "resolve"]  # the repeat was not sent again
    trigger = sent[0]
    assert trigger["routing_key"] == ROUTING_KEY and trigger["dedup_key"] == "firstline/inc-1"
    assert trigger["payload"]["severity"] == "critical"
    assert "escalated to a human" in trigger["payload"]["summary"]
    assert trigger["payload"]["custom_details"]["diagnosis"].startswith("bad_deploy on api: release 4.2")
    assert trigger["links"] == [{"href": link, "text": "firstline incident inc-1"}]
    assert trigger["client_url"] == link
    assert resolved is not None and resolved.status == "executed"
    assert sent[1] == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": "firstline/inc-1"}


async def test_an_escalated_unknown_service_pages_and_tells_the_default_team(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    ctx = _ctx(
        tmp_path,
        registry,
        default_team=DefaultTeam(name="platform-oncall", chat_channel="C0PLAT", pagerduty_events="paging_default"),
    )
    alert = incident().alert.model_copy(update={"service": "billing-ghost"})
    state = incident().model_copy(
        update={
            "alert": alert,
            "service": "billing-ghost",
            "status": "escalated",
            "comms_phase": "escalated",
            "step": "communicate",
        }
    )
    with respx.mock(assert_all_called=True) as mock:
        enqueue = mock.post(f"{EVENTS}/v2/enqueue").respond(202, json=ACCEPTED)
        posted = mock.post(f"{SLACK}/chat.postMessage").respond(
            200, json={"ok": True, "channel": "C0PLAT", "ts": "1700000000.000100", "message": {"text": "x"}}
        )
        command = await communicate(state, Runtime(context=ctx))
    update = command.update
    assert isinstance(update, dict)
    trigger = json.loads(enqueue.calls.last.request.content)
    assert trigger["routing_key"] == DEFAULT_ROUTING_KEY  # the default team's integration, not the first one
    assert "unknown service" in trigger["payload"]["summary"]
    message = json.loads(posted.calls.last.request.content)
    assert message["channel"] == "C0PLAT" and "billing-ghost" in message["text"]
    assert "platform-oncall" in message["text"]
    assert update["external_refs"]["oncall"] == "platform-oncall"
    assert {c.audience for c in update["communications"]} == {"responders", "stakeholders"}
