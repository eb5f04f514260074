"""StatuspageAdapter against respx: OAuth header, wrapped bodies, grants, once-only, error shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.actions import execute_action
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry
from tools.statuspage import StatuspageAdapter

BASE = "https://api.statuspage.io/v1"
PAGE = "pg7x2k"
INCIDENTS = f"/pages/{PAGE}/incidents"

CREATE_ARGS = {
    "name": "Elevated checkout errors",
    "status": "investigating",
    "body": "We are investigating elevated error rates on checkout.",
    "impact_override": "major",
    "component_ids": ["cmp123"],
    "components": {"cmp-checkout": "partial_outage"},
}


def incident(status: str = "investigating", **extra: Any) -> dict[str, Any]:
    return {
        "id": "inc9q",
        "name": "Elevated checkout errors",
        "status": status,
        "impact": "major",
        "shortlink": "https://stspg.io/abc",
        "created_at": "2026-11-20T10:06:00Z",
        "page_id": PAGE,
        "components": [{"id": "cmp-checkout", "name": "Checkout", "status": "partial_outage"}],
        "incident_updates": [
            {
                "id": "u1",
                "status": "investigating",
                "body": "We are investigating.",
                "created_at": "2026-11-20T10:06:00Z",
            },
            {"id": "u2", "status": status, "body": "Cause identified.", "created_at": "2026-11-20T10:20:00Z"},
        ],
        **extra,
    }


@pytest.fixture
def sp(build: BuildAdapter) -> StatuspageAdapter:
    adapter = build(StatuspageAdapter, BASE, page_id=PAGE, max_retries=2)
    assert isinstance(adapter, StatuspageAdapter)
    return adapter


async def test_create_without_grant_sends_nothing(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(INCIDENTS)
        result = await sp.invoke("create_incident", CREATE_ARGS)
    assert result.status == "approval_required"
    assert not route.called


async def test_create_runs_once_through_the_ledger(sp: StatuspageAdapter, ledger: ActionLedger) -> None:
    registry = ToolRegistry({sp.instance: sp})
    # maturity run: the call's declared tier (auto) applies, so the ledger records policy:auto itself.
    policy = ApprovalPolicy(PolicySettings(maturity="run"))
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(INCIDENTS).respond(201, json=incident())
        outcomes = [
            await execute_action(
                registry=registry,
                ledger=ledger,
                policy=policy,
                incident_id="INC-42",
                action_id="sp-open",
                tool_id="statuspage.create_incident",
                args=CREATE_ARGS,
            )
            for _ in range(2)
        ]
    assert [o.status for o in outcomes] == ["executed", "already_executed"]
    assert route.call_count == 1
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"OAuth {TOKEN}"
    assert json.loads(request.content) == {
        "incident": {
            "name": "Elevated checkout errors",
            "status": "investigating",
            "body": "We are investigating elevated error rates on checkout.",
            "component_ids": ["cmp123", "cmp-checkout"],
            "components": {"cmp-checkout": "partial_outage"},
            "impact_override": "major",
            "deliver_notifications": True,
        }
    }
    decision = ledger.get_decision("INC-42", "sp-open")
    assert decision is not None and decision.decided_by == "policy:auto"
    result = outcomes[0].result
    assert result is not None and result.query == f"POST {INCIDENTS}"
    assert result.data["id"] == "inc9q" and result.data["shortlink"] == "https://stspg.io/abc"
    assert "created incident inc9q" in result.summary and "Checkout=partial_outage" in result.summary


async def test_update_incident_patches_status_body_and_components(sp: StatuspageAdapter, ledger: ActionLedger) -> None:
    args = {
        "incident_id": "inc9q",
        "status": "identified",
        "body": "Cause identified; rolling back.",
        "components": {"cmp-checkout": "degraded_performance"},
    }
    grant = grant_for(ledger, sp, "update_incident", args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.patch(f"{INCIDENTS}/inc9q").respond(200, json=incident("identified"))
        result = await sp.invoke("update_incident", args, grant=grant)
    assert result.status == "ok", result.summary
    assert json.loads(route.calls.last.request.content) == {
        "incident": {
            "deliver_notifications": True,
            "status": "identified",
            "body": "Cause identified; rolling back.",
            "components": {"cmp-checkout": "degraded_performance"},
        }
    }
    assert result.data["latest_update"]["body"] == "Cause identified."
    assert "now identified" in result.summary


async def test_update_needs_something_to_say(sp: StatuspageAdapter) -> None:
    result = await sp.invoke("update_incident", {"incident_id": "inc9q"})
    assert result.error is not None and result.error.kind == "input"
    assert "give at least one of status, body or components" in result.error.message


async def test_bad_component_status_names_the_field(sp: StatuspageAdapter) -> None:
    result = await sp.invoke("create_incident", {**CREATE_ARGS, "components": {"cmp-checkout": "on_fire"}})
    assert result.error is not None and result.error.kind == "input"
    assert "components.cmp-checkout" in result.error.message


async def test_get_incident_is_read_only(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"{INCIDENTS}/inc9q").respond(200, json=incident("monitoring"))
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert route.call_count == 1
    assert result.status == "ok"
    assert result.data["updates_count"] == 2
    assert "is monitoring" in result.summary


async def test_error_body_is_reported_and_4xx_not_retried(sp: StatuspageAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, sp, "create_incident", CREATE_ARGS)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(INCIDENTS).respond(422, json={"error": ["Components is invalid", "Name can't be blank"]})
        result = await sp.invoke("create_incident", CREATE_ARGS, grant=grant)
    assert route.call_count == 1
    assert result.error is not None
    assert "Statuspage: Components is invalid; Name can't be blank" in result.error.message


async def test_5xx_retried_then_reported(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"{INCIDENTS}/inc9q").respond(500, json={"error": "Internal Server Error"})
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert route.call_count == 3
    assert result.error is not None and result.error.upstream_status == 500
    assert "Statuspage: Internal Server Error" in result.error.message
    assert result.query == f"GET {INCIDENTS}/inc9q"


async def test_timeout(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"{INCIDENTS}/inc9q").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert route.call_count == 3
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"), [(b"Service Unavailable", "not JSON"), (b'{"name": "x"}', "not an incident")]
)
async def test_malformed_body(sp: StatuspageAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"{INCIDENTS}/inc9q").respond(200, content=content)
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_token(sp: StatuspageAdapter, status: int) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.get(f"{INCIDENTS}/inc9q").respond(status, json={"error": f"Invalid OAuth key {TOKEN}"})
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert route.call_count == 1
    assert result.error is not None and "Statuspage: Invalid OAuth key ***" in result.error.message
    assert_secret_absent(result, logs)


def test_page_id_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"tools.statuspage: page_id: Field required"):
        ToolRegistry.from_config({"statuspage": {"base_url": BASE}}, kinds={"statuspage": StatuspageAdapter})


def test_safety_metadata() -> None:
    for name in ("create_incident", "update_incident", "resolve_incident", "set_component_status"):
        safety = StatuspageAdapter.calls[name].safety
        assert (
            safety.mutating,
            safety.action_class,
            safety.approval_tier,
            safety.reversible,
            safety.idempotent,
            safety.blast_radius,
        ) == (True, "communicate", "auto", True, False, "external")
        assert safety.undo == "post a correcting update or resolve the incident"
    assert not StatuspageAdapter.calls["get_incident"].safety.mutating
    assert not StatuspageAdapter.calls["list_components"].safety.mutating


async def test_odd_incident_fields_do_not_crash(sp: StatuspageAdapter) -> None:
    odd = {"id": "inc9q", "status": "investigating", "name": 5, "incident_updates": 1.5, "components": "all"}
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"{INCIDENTS}/inc9q").respond(200, json=odd)
        result = await sp.invoke("get_incident", {"incident_id": "inc9q"})
    assert result.status == "ok"
    assert result.data["components"] == [] and result.data["updates_count"] == 0


async def test_resolve_incident_sets_components_operational(sp: StatuspageAdapter, ledger: ActionLedger) -> None:
    args = {
        "incident_id": "inc9q",
        "body": "Checkout is fixed: we rolled back a bad release.",
        "component_ids": ["cmp-checkout"],
    }
    grant = grant_for(ledger, sp, "resolve_incident", args)
    resolved = incident("resolved", components=[{"id": "cmp-checkout", "name": "Checkout", "status": "operational"}])
    with respx.mock(base_url=BASE) as mock:
        route = mock.patch(f"{INCIDENTS}/inc9q").respond(200, json=resolved)
        result = await sp.invoke("resolve_incident", args, grant=grant)
    assert json.loads(route.calls.last.request.content) == {
        "incident": {
            "status": "resolved",
            "body": "Checkout is fixed: we rolled back a bad release.",
            "deliver_notifications": True,
            "components": {"cmp-checkout": "operational"},
        }
    }
    assert result.status == "ok" and result.query == f"PATCH {INCIDENTS}/inc9q"
    assert (
        result.summary
        == "resolved incident inc9q 'Elevated checkout errors': now resolved; components: Checkout=operational"
    )


COMPONENTS = [
    {"id": "cmp-checkout", "name": "Checkout", "status": "partial_outage", "group_id": None},
    {"id": "cmp-search", "name": "Search", "status": "operational"},
]


async def test_list_components_and_only_the_affected(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/pages/{PAGE}/components").respond(200, json=COMPONENTS)
        everything = await sp.invoke("list_components", {})
        affected = await sp.invoke("list_components", {"only_affected": True})
    assert route.call_count == 2 and route.calls.last.request.headers["Authorization"] == f"OAuth {TOKEN}"
    assert [c["id"] for c in everything.data["components"]] == ["cmp-checkout", "cmp-search"]
    assert [c["id"] for c in affected.data["components"]] == ["cmp-checkout"]
    assert affected.summary == "2 components, 1 not operational: Checkout=partial_outage"


async def test_no_affected_components_is_no_data(sp: StatuspageAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/pages/{PAGE}/components").respond(200, json=[COMPONENTS[1]])
        result = await sp.invoke("list_components", {"only_affected": True})
    assert result.status == "no_data" and result.summary == "1 components, 0 not operational"


async def test_set_component_status(sp: StatuspageAdapter, ledger: ActionLedger) -> None:
    args = {"component_id": "cmp-checkout", "status": "degraded_performance"}
    with respx.mock(base_url=BASE) as mock:
        route = mock.patch(f"/pages/{PAGE}/components/cmp-checkout").respond(
            200, json={**COMPONENTS[0], "status": "degraded_performance"}
        )
        refused = await sp.invoke("set_component_status", args)
        assert refused.status == "approval_required" and not route.called
        result = await sp.invoke(
            "set_component_status", args, grant=grant_for(ledger, sp, "set_component_status", args)
        )
    assert json.loads(route.calls.last.request.content) == {"component": {"status": "degraded_performance"}}
    assert result.summary == "component Checkout is now degraded_performance"


@pytest.mark.parametrize(
    ("status", "content", "expected"),
    [
        (404, b'{"error": "Could not find component"}', "HTTP 404: Statuspage: Could not find component"),
        (200, b'{"name": "x"}', "not a component"),
    ],
)
async def test_set_component_status_errors(
    sp: StatuspageAdapter, ledger: ActionLedger, status: int, content: bytes, expected: str
) -> None:
    args = {"component_id": "cmp-x", "status": "operational"}
    with respx.mock(base_url=BASE) as mock:
        route = mock.patch(f"/pages/{PAGE}/components/cmp-x").respond(status, content=content)
        result = await sp.invoke(
            "set_component_status", args, grant=grant_for(ledger, sp, "set_component_status", args)
        )
    assert route.call_count == 1
    assert result.error is not None and expected in result.error.message
