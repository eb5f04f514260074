"""TeamsAdapter against respx: the Adaptive Card payload, the webhook URL kept secret (from the
environment, redacted from errors and logs), Workflows errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import grant_for
from tools.checks import check_adapter
from tools.ledger import ActionLedger
from tools.registry import ToolRegistry
from tools.teams import TeamsAdapter

HOST = "https://prod-12.westeurope.logic.azure.test"
PATH = "/workflows/0a1b2c3d/triggers/manual/paths/invoke"
SIG = "s1GnAtUrE-ZmlyOXb2c3RsaW5lLXRlc3QtZmlyc3Q"
URL = f"{HOST}{PATH}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
URL_ENV = "FIRSTLINE_TEST_TEAMS_URL"
CARD = {
    "title": "INC-42: checkout 5xx at 7%",
    "text": "Investigating a spike after **v1.4.3**.",
    "facts": [{"title": "Status", "value": "Investigating"}, {"title": "Owner", "value": "firstline"}],
    "links": [{"title": "Open incident", "url": "https://firstline.test/incidents/INC-42"}],
    "style": "attention",
}


@pytest.fixture
async def teams(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TeamsAdapter]:
    monkeypatch.setenv(URL_ENV, URL)
    registry = ToolRegistry.from_config(
        {"teams": {"kind": "teams", "base_url_env": URL_ENV, "max_retries": 2}}, kinds={"teams": TeamsAdapter}
    )
    adapter = registry.adapters["teams"]
    assert isinstance(adapter, TeamsAdapter)
    adapter.http.backoff_seconds = 0
    yield adapter
    await registry.aclose()


def route_for(mock: respx.MockRouter) -> respx.Route:
    return mock.post(f"{HOST}{PATH}", params={"sig": SIG, "api-version": "2016-06-01"})


async def test_post_card_sends_an_adaptive_card_to_the_signed_url(teams: TeamsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, teams, "post_card", CARD)
    with respx.mock() as mock:
        route = route_for(mock).respond(202)
        result = await teams.invoke("post_card", CARD, grant=grant)
    request = route.calls.last.request
    assert str(request.url) == URL.replace("%2F", "/") or request.url.params["sig"] == SIG
    assert request.url.params["sp"] == "/triggers/manual/run" and request.url.path == PATH
    assert json.loads(request.content) == {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [
                        {
                            "type": "TextBlock",
                            "text": CARD["title"],
                            "weight": "Bolder",
                            "size": "Medium",
                            "wrap": True,
                            "color": "attention",
                        },
                        {"type": "TextBlock", "text": CARD["text"], "wrap": True},
                        {"type": "FactSet", "facts": CARD["facts"]},
                    ],
                    "msteams": {"width": "Full"},
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": "Open incident",
                            "url": "https://firstline.test/incidents/INC-42",
                        }
                    ],
                },
            }
        ],
    }
    assert result.status == "ok" and result.summary == "posted card 'INC-42: checkout 5xx at 7%' to Teams"
    assert result.query == f"POST prod-12.westeurope.logic.azure.test{PATH}"
    assert SIG not in result.model_dump_json()


async def test_without_grant_nothing_is_posted(teams: TeamsAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = route_for(mock)
        result = await teams.invoke("post_card", CARD)
    assert result.status == "approval_required" and not route.called


async def test_workflow_error_is_named_and_the_signature_hidden(teams: TeamsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, teams, "post_card", CARD)
    error = {"error": {"code": "DirectApiAuthorizationRequired", "message": f"The request sig {SIG} is not valid"}}
    with capture_logs() as logs, respx.mock() as mock:
        route = route_for(mock).respond(401, json=error)
        result = await teams.invoke("post_card", CARD, grant=grant)
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 401
    assert result.error.message == (
        f"POST {HOST}{PATH} returned HTTP 401: Teams Workflows: DirectApiAuthorizationRequired: The request sig *** is not valid"
    )
    assert result.params["request_params"]["sig"] == "***"
    dumped = result.model_dump_json() + repr(logs)
    assert SIG not in dumped and any(entry["event"] == "http_request" for entry in logs)


async def test_5xx_retried_then_reported(teams: TeamsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, teams, "post_card", CARD)
    with respx.mock() as mock:
        route = route_for(mock).respond(502, text="gateway")
        result = await teams.invoke("post_card", CARD, grant=grant)
    assert route.call_count == 3 and result.error is not None and "after 3 attempts" in result.error.message


async def test_timeout(teams: TeamsAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, teams, "post_card", CARD)
    with respx.mock() as mock:
        route = route_for(mock).mock(side_effect=httpx.ReadTimeout("slow"))
        result = await teams.invoke("post_card", CARD, grant=grant)
    assert route.call_count == 3 and result.error is not None and result.error.kind == "timeout"


async def test_input_is_validated(teams: TeamsAdapter) -> None:
    result = await teams.invoke("post_card", {**CARD, "links": [{"title": "x", "url": "javascript:alert(1)"}]})
    assert result.error is not None and result.error.kind == "input" and "links.0.url" in result.error.message


def test_a_url_in_the_file_is_refused() -> None:
    with pytest.raises(ValueError, match="tools.teams: base_url: a Teams Workflows URL carries its signature"):
        ToolRegistry.from_config({"teams": {"kind": "teams", "base_url": URL}}, kinds={"teams": TeamsAdapter})


def test_the_variable_must_hold_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "not a url")
    with pytest.raises(ValueError, match=f"base_url_env names '{URL_ENV}', which does not hold an http"):
        ToolRegistry.from_config({"teams": {"kind": "teams", "base_url_env": URL_ENV}}, kinds={"teams": TeamsAdapter})


async def test_check_is_skipped_and_names_the_host(teams: TeamsAdapter) -> None:
    result = await check_adapter(teams)
    assert result.status == "skipped"
    assert (
        URL_ENV in result.detail and "prod-12.westeurope.logic.azure.test" in result.detail and SIG not in result.detail
    )


def test_safety_metadata() -> None:
    safety = TeamsAdapter.calls["post_card"].safety
    assert (safety.mutating, safety.action_class, safety.approval_tier, safety.reversible) == (
        True,
        "communicate",
        "auto",
        False,
    )
