"""PagerDutyEventsAdapter against respx: the routing key in the body (and nowhere else), dedup keys,
trigger/acknowledge/resolve bodies, invalid events, rate limits."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import BuildAdapter, grant_for
from tools.checks import check_adapter
from tools.ledger import ActionLedger
from tools.pagerduty_events import PagerDutyEventsAdapter
from tools.registry import ToolRegistry

BASE = "https://events.pagerduty.test"
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
KEY_ENV = "FIRSTLINE_TEST_ROUTING_KEY"
TRIGGER = {
    "dedup_key": "firstline/INC-42",
    "summary": "checkout 5xx ratio above 5% (prod)",
    "source": "checkout.prod",
    "severity": "critical",
    "timestamp": "2026-11-20T19:42:00Z",
    "component": "api",
    "group": "checkout",
    "event_class": "error-rate",
    "custom_details": {"ratio": 0.071},
    "links": [{"href": "https://firstline.test/incidents/INC-42", "text": "incident"}],
    "client_url": "https://firstline.test/incidents/INC-42",
}
OK = {"status": "success", "message": "Event processed", "dedup_key": "firstline/INC-42"}


@pytest.fixture
def events(build: BuildAdapter, monkeypatch: pytest.MonkeyPatch) -> PagerDutyEventsAdapter:
    monkeypatch.setenv(KEY_ENV, ROUTING_KEY)
    adapter = build(PagerDutyEventsAdapter, BASE, token_env=None, routing_key_env=KEY_ENV)
    assert isinstance(adapter, PagerDutyEventsAdapter)
    return adapter


async def test_trigger_sends_the_full_event(events: PagerDutyEventsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, events, "trigger_event", TRIGGER)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").respond(202, json=OK)
        result = await events.invoke("trigger_event", TRIGGER, grant=grant)
    request = route.calls.last.request
    assert "Authorization" not in request.headers
    assert json.loads(request.content) == {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "firstline/INC-42",
        "payload": {
            "summary": "checkout 5xx ratio above 5% (prod)",
            "source": "checkout.prod",
            "severity": "critical",
            "timestamp": "2026-11-20T19:42:00Z",
            "component": "api",
            "group": "checkout",
            "class": "error-rate",
            "custom_details": {"ratio": 0.071},
        },
        "client": "firstline",
        "client_url": "https://firstline.test/incidents/INC-42",
        "links": [{"href": "https://firstline.test/incidents/INC-42", "text": "incident"}],
    }
    assert result.status == "ok" and result.query == "POST /v2/enqueue"
    assert "routing_key" not in result.params and ROUTING_KEY not in result.model_dump_json()
    assert (
        result.summary
        == "triggered critical alert 'checkout 5xx ratio above 5% (prod)' 'firstline/INC-42' (Event processed)"
    )


@pytest.mark.parametrize(("call", "action"), [("acknowledge_event", "acknowledge"), ("resolve_event", "resolve")])
async def test_acknowledge_and_resolve_send_only_the_key(
    events: PagerDutyEventsAdapter, ledger: ActionLedger, call: str, action: str
) -> None:
    args = {"dedup_key": "firstline/INC-42"}
    grant = grant_for(ledger, events, call, args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").respond(202, json=OK)
        result = await events.invoke(call, args, grant=grant)
    assert json.loads(route.calls.last.request.content) == {
        "routing_key": ROUTING_KEY,
        "event_action": action,
        "dedup_key": "firstline/INC-42",
    }
    assert result.data["event_action"] == action


async def test_without_grant_nothing_is_sent(events: PagerDutyEventsAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/v2/enqueue")
        result = await events.invoke("trigger_event", TRIGGER)
    assert result.status == "approval_required" and not route.called


async def test_invalid_event_names_the_errors_and_hides_the_key(
    events: PagerDutyEventsAdapter, ledger: ActionLedger
) -> None:
    grant = grant_for(ledger, events, "trigger_event", TRIGGER)
    body = {
        "status": "invalid event",
        "message": "Event object is invalid",
        "errors": ["'payload.severity' is invalid", f"routing key {ROUTING_KEY} is not valid"],
    }
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").respond(400, json=body)
        result = await events.invoke("trigger_event", TRIGGER, grant=grant)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 400
    assert result.error.message == (
        "POST /v2/enqueue returned HTTP 400: PagerDuty Events: Event object is invalid: 'payload.severity' is invalid; "
        "routing key *** is not valid"
    )
    assert ROUTING_KEY not in result.model_dump_json() and ROUTING_KEY not in repr(logs)
    assert result.params["dedup_key"] == "firstline/INC-42"


async def test_rate_limit_is_not_retried(events: PagerDutyEventsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, events, "resolve_event", {"dedup_key": "k"})
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").respond(429, text="")
        result = await events.invoke("resolve_event", {"dedup_key": "k"}, grant=grant)
    assert route.call_count == 1
    assert result.error is not None and "rate limit" in result.error.message


async def test_5xx_retried_then_reported(events: PagerDutyEventsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, events, "acknowledge_event", {"dedup_key": "k"})
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").respond(502, text="bad gateway")
        result = await events.invoke("acknowledge_event", {"dedup_key": "k"}, grant=grant)
    assert route.call_count == 3 and result.error is not None and result.error.upstream_status == 502


async def test_timeout(events: PagerDutyEventsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, events, "acknowledge_event", {"dedup_key": "k"})
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/v2/enqueue").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await events.invoke("acknowledge_event", {"dedup_key": "k"}, grant=grant)
    assert route.call_count == 3 and result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"), [(b"ok", "not JSON"), (b'{"status": "queued"}', '"status": "success"')]
)
async def test_malformed_body(
    events: PagerDutyEventsAdapter, ledger: ActionLedger, content: bytes, expected: str
) -> None:
    grant = grant_for(ledger, events, "acknowledge_event", {"dedup_key": "k"})
    with respx.mock(base_url=BASE) as mock:
        mock.post("/v2/enqueue").respond(202, content=content)
        result = await events.invoke("acknowledge_event", {"dedup_key": "k"}, grant=grant)
    assert result.error is not None and expected in result.error.message


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({k: v for k, v in TRIGGER.items() if k != "dedup_key"}, "dedup_key"),
        ({**TRIGGER, "severity": "sev1"}, "severity"),
        ({**TRIGGER, "summary": "x" * 1025}, "summary"),
        ({**TRIGGER, "links": [{"href": "javascript:alert(1)"}]}, "links"),
    ],
)
async def test_input_is_validated(events: PagerDutyEventsAdapter, args: dict[str, Any], field: str) -> None:
    result = await events.invoke("trigger_event", args)
    assert result.error is not None and result.error.kind == "input" and field in result.error.message


def test_an_unset_routing_key_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ValueError, match=f"instance 'paging': routing_key_env names environment variable '{KEY_ENV}'"):
        ToolRegistry.from_config(
            {"paging": {"kind": "pagerduty_events", "routing_key_env": KEY_ENV}},
            kinds={"pagerduty_events": PagerDutyEventsAdapter},
        )


async def test_check_is_skipped_without_sending_anything(events: PagerDutyEventsAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/v2/enqueue")
        result = await check_adapter(events)
    assert result.status == "skipped" and KEY_ENV in result.detail and not route.called


def test_safety_metadata() -> None:
    calls = PagerDutyEventsAdapter.calls
    assert {n: c.safety.approval_tier for n, c in calls.items()} == {
        "trigger_event": "auto",
        "acknowledge_event": "auto",
        "resolve_event": "approve",
    }
    assert all(c.safety.mutating and c.safety.action_class == "communicate" for c in calls.values())
    assert calls["trigger_event"].safety.undo == "resolve the alert: resolve_event with the same dedup_key"
