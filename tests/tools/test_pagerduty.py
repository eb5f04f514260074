"""PagerDutyAdapter against respx (headers, array filters, From on writes, errors) and against the
simulator's PagerDuty (the same adapter the demo uses)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from evals.sim import World, create_app, load_scenario
from evals.sim.timeutil import SimClock
from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.base import AdapterSettings
from tools.checks import check_adapter
from tools.ledger import ActionLedger
from tools.pagerduty import PagerDutyAdapter
from tools.registry import ToolRegistry

BASE = "https://api.pagerduty.test"
INCIDENT = {
    "id": "Q1ABCDEF2GHIJK",
    "incident_number": 1042,
    "title": "checkout 5xx ratio above 5%",
    "status": "triggered",
    "urgency": "high",
    "service": {"id": "PCHKOUT", "type": "service_reference", "summary": "checkout"},
    "escalation_policy": {"id": "PEPPAY1", "summary": "Payments"},
    "assignments": [{"at": "2026-11-20T19:42:00Z", "assignee": {"id": "PUSR1", "summary": "Dana Reyes"}}],
    "acknowledgements": [],
    "incident_key": "abc123",
    "created_at": "2026-11-20T19:42:00Z",
    "html_url": "https://acme.pagerduty.com/incidents/Q1ABCDEF2GHIJK",
}


@pytest.fixture
def pd(build: BuildAdapter) -> PagerDutyAdapter:
    adapter = build(PagerDutyAdapter, BASE, max_retries=2, from_email="firstline@acme.test")
    assert isinstance(adapter, PagerDutyAdapter)
    return adapter


def assert_pd_headers(request: httpx.Request) -> None:
    assert request.headers["Authorization"] == f"Token token={TOKEN}"
    assert request.headers["Accept"] == "application/vnd.pagerduty+json;version=2"


async def test_list_incidents_sends_array_filters(pd: PagerDutyAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/incidents").respond(
            200, json={"incidents": [INCIDENT], "limit": 10, "offset": 0, "more": True, "total": 3}
        )
        result = await pd.invoke(
            "list_incidents",
            {"service_ids": ["PCHKOUT"], "since": "2026-11-20T19:00:00Z", "until": "2026-11-20T20:00:00Z", "limit": 10},
        )
    request = route.calls.last.request
    assert_pd_headers(request)
    assert request.url.params.multi_items() == [
        ("statuses[]", "triggered"),
        ("statuses[]", "acknowledged"),
        ("service_ids[]", "PCHKOUT"),
        ("since", "2026-11-20T19:00:00Z"),
        ("until", "2026-11-20T20:00:00Z"),
        ("limit", "10"),
        ("total", "true"),
        ("sort_by", "created_at:desc"),
    ]
    assert result.status == "ok" and result.window is not None
    assert result.params["statuses[]"] == ["triggered", "acknowledged"]
    assert result.data["total"] == 3 and result.data["more"] is True
    incident = result.data["incidents"][0]
    assert incident["assignees"] == ["Dana Reyes"] and incident["service"] == "checkout"
    assert result.summary == (
        "1+ triggered/acknowledged of PCHKOUT incidents (1 triggered); newest: #1042 'checkout 5xx ratio above 5%' "
        "(triggered, high) on checkout at 2026-11-20T19:42:00Z"
    )


async def test_no_incidents_is_no_data(pd: PagerDutyAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/incidents").respond(200, json={"incidents": [], "more": False, "total": 0})
        result = await pd.invoke("list_incidents", {"statuses": ["resolved"]})
    assert result.status == "no_data" and result.summary == "no resolved incidents"


async def test_get_incident_and_notes(pd: PagerDutyAdapter) -> None:
    notes = [
        {"id": "PN1", "user": {"summary": "Dana Reyes"}, "content": "looking", "created_at": "2026-11-20T19:50:00Z"}
    ]
    with respx.mock(base_url=BASE) as mock:
        mock.get("/incidents/Q1ABCDEF2GHIJK").respond(200, json={"incident": INCIDENT})
        mock.get("/incidents/Q1ABCDEF2GHIJK/notes").respond(200, json={"notes": notes})
        incident = await pd.invoke("get_incident", {"incident_id": "Q1ABCDEF2GHIJK"})
        listed = await pd.invoke("list_notes", {"incident_id": "Q1ABCDEF2GHIJK"})
    assert incident.summary == (
        "#1042 'checkout 5xx ratio above 5%' is triggered (high urgency) on checkout, assigned to Dana Reyes, "
        "created 2026-11-20T19:42:00Z"
    )
    assert listed.data["notes"][0]["user"] == "Dana Reyes" and "latest by Dana Reyes: 'looking'" in listed.summary


async def test_add_note_needs_a_grant_and_sends_from(pd: PagerDutyAdapter, ledger: ActionLedger) -> None:
    args = {"incident_id": "Q1ABCDEF2GHIJK", "content": "firstline: rolled back checkout to v1.4.2"}
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/incidents/Q1ABCDEF2GHIJK/notes").respond(
            201, json={"note": {"id": "PN2", "user": {"summary": "firstline bot"}, "content": args["content"]}}
        )
        refused = await pd.invoke("add_note", args)
        assert not route.called and refused.status == "approval_required"
        result = await pd.invoke("add_note", args, grant=grant_for(ledger, pd, "add_note", args))
    request = route.calls.last.request
    assert_pd_headers(request)
    assert request.headers["From"] == "firstline@acme.test"
    assert json.loads(request.content) == {"note": {"content": args["content"]}}
    assert result.status == "ok" and result.data["id"] == "PN2"
    assert (
        result.summary
        == "note PN2 added to Q1ABCDEF2GHIJK as firstline bot: 'firstline: rolled back checkout to v1.4.2'"
    )


async def test_add_note_without_from_email_says_which_setting(build: BuildAdapter, ledger: ActionLedger) -> None:
    pd = build(PagerDutyAdapter, BASE)
    args = {"incident_id": "Q1ABCDEF2GHIJK", "content": "x"}
    result = await pd.invoke("add_note", args, grant=grant_for(ledger, pd, "add_note", args))
    assert result.error is not None and result.error.kind == "input"
    assert result.error.message.startswith("tools.pagerduty.from_email is not set")


async def test_oncalls_sorted_by_policy_and_level(pd: PagerDutyAdapter) -> None:
    oncalls = [
        {
            "user": {"id": "PU2", "summary": "Sam"},
            "escalation_policy": {"summary": "Payments"},
            "schedule": None,
            "escalation_level": 2,
            "start": None,
            "end": None,
        },
        {
            "user": {"id": "PU1", "summary": "Dana Reyes"},
            "escalation_policy": {"summary": "Payments"},
            "schedule": {"summary": "Payments primary"},
            "escalation_level": 1,
            "start": "2026-11-17T18:00:00Z",
            "end": "2026-11-24T18:00:00Z",
        },
    ]
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/oncalls").respond(200, json={"oncalls": oncalls, "more": False})
        result = await pd.invoke("list_oncalls", {"escalation_policy_ids": ["PEPPAY1"]})
    assert route.calls.last.request.url.params.multi_items() == [
        ("escalation_policy_ids[]", "PEPPAY1"),
        ("earliest", "true"),
        ("limit", "100"),
    ]
    assert [o["user"] for o in result.data["oncalls"]] == ["Dana Reyes", "Sam"]
    assert result.summary == (
        "on call: Dana Reyes (level 1 of Payments, until 2026-11-24T18:00:00Z); Sam (level 2 of Payments, permanently)"
    )


async def test_invalid_input_error_lists_pagerduty_details(pd: PagerDutyAdapter) -> None:
    error = {"error": {"message": "Invalid Input Provided", "code": 2001, "errors": ["Since is not a valid date"]}}
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/incidents").respond(400, json=error)
        result = await pd.invoke("list_incidents", {})
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 400
    assert result.error.message == (
        "GET /incidents returned HTTP 400: PagerDuty: Invalid Input Provided (code 2001): Since is not a valid date"
    )
    assert result.params["request_params"]["statuses[]"] == ["triggered", "acknowledged"]


async def test_5xx_retried_then_reported(pd: PagerDutyAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/incidents/Q1ABCDEF2GHIJK").respond(500, text="oops")
        result = await pd.invoke("get_incident", {"incident_id": "Q1ABCDEF2GHIJK"})
    assert route.call_count == 3
    assert (
        result.error is not None and result.error.body_excerpt == "oops" and "after 3 attempts" in result.error.message
    )


async def test_timeout(pd: PagerDutyAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/oncalls").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await pd.invoke("list_oncalls", {})
    assert route.call_count == 3 and result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"<html/>", "not JSON"), (b'{"incidents": {}}', "incidents is not a JSON array"), (b"[]", "not a JSON object")],
)
async def test_malformed_body(pd: PagerDutyAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/incidents").respond(200, content=content)
        result = await pd.invoke("list_incidents", {})
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


async def test_auth_failure_never_leaks_the_key(pd: PagerDutyAdapter) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        mock.get("/incidents").respond(401, json={"error": {"message": f"Invalid token {TOKEN}", "code": 2006}})
        result = await pd.invoke("list_incidents", {})
    assert result.error is not None and "PagerDuty: Invalid token *** (code 2006)" in result.error.message
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("call", "args", "field"),
    [
        ("get_incident", {"incident_id": "../users"}, "incident_id"),
        ("list_incidents", {"statuses": ["open"]}, "statuses"),
        ("list_incidents", {"service_ids": ["p svc"]}, "service_ids"),
        ("add_note", {"incident_id": "Q1", "content": ""}, "content"),
    ],
)
async def test_input_is_validated(pd: PagerDutyAdapter, call: str, args: dict[str, Any], field: str) -> None:
    result = await pd.invoke(call, args)
    assert result.error is not None and result.error.kind == "input" and f"{field}" in result.error.message


async def test_check_reads_abilities(pd: PagerDutyAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/abilities").respond(200, json={"abilities": ["teams", "urgencies"]})
        result = await check_adapter(pd)
    assert (result.status, result.detail) == (
        "ok",
        "PagerDuty account with 2 abilities; notes written as firstline@acme.test",
    )


def test_safety_metadata() -> None:
    mutating = {n: c.safety for n, c in PagerDutyAdapter.calls.items() if c.safety.mutating}
    assert list(mutating) == ["add_note"]
    note = mutating["add_note"]
    assert (note.action_class, note.approval_tier, note.reversible, note.idempotent) == (
        "communicate",
        "auto",
        False,
        False,
    )


# -- against the simulator (in process, no socket) ------------------------------------------------------


@pytest.fixture
async def sim_pd() -> AsyncIterator[PagerDutyAdapter]:
    anchor = datetime(2026, 11, 20, 19, 42, tzinfo=UTC)
    world = World(
        load_scenario("checkout-migration"), anchor=anchor, clock=SimClock.frozen(anchor + timedelta(minutes=2))
    )
    app = create_app(world)

    def factory(name: str, settings: AdapterSettings, headers: dict[str, str]) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url, headers=headers)

    registry = ToolRegistry.from_config(
        {"pd": {"kind": "pagerduty", "base_url": "http://sim/pagerduty", "from_email": "dana.reyes@acme.test"}},
        kinds={"pagerduty": PagerDutyAdapter},
        client_factory=factory,
    )
    adapter = registry.adapters["pd"]
    assert isinstance(adapter, PagerDutyAdapter)
    yield adapter
    await registry.aclose()


async def test_against_the_simulator(sim_pd: PagerDutyAdapter, ledger: ActionLedger) -> None:
    listed = await sim_pd.invoke("list_incidents", {"service_ids": ["PCHKOUT"]})
    assert listed.status == "ok", listed.summary
    [incident] = listed.data["incidents"]
    assert incident["assignees"] == ["Dana Reyes"]
    args = {"incident_id": incident["id"], "content": "firstline: rolled back checkout"}
    added = await sim_pd.invoke("add_note", args, grant=grant_for(ledger, sim_pd, "add_note", args))
    assert added.status == "ok" and added.data["user"] == "Dana Reyes"
    notes = await sim_pd.invoke("list_notes", {"incident_id": incident["id"]})
    assert [n["content"] for n in notes.data["notes"]] == ["firstline: rolled back checkout"]
    oncalls = await sim_pd.invoke("list_oncalls", {"escalation_policy_ids": ["PEPPAY1"]})
    assert oncalls.data["oncalls"][0]["user"] == "Dana Reyes"
    assert (await check_adapter(sim_pd)).status == "ok"
