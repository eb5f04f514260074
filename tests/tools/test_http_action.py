"""HttpActionAdapter: calls and safety metadata declared in configuration, checked at start-up; the
requests they send (respx); policy and ledger applied to them like to any other call."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, TOKEN_ENV, assert_secret_absent, grant_for
from tools.actions import execute_action
from tools.checks import check_adapter
from tools.http_action import HttpActionAdapter
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry

BASE = "https://rundeck.test"
KINDS = {"http_action": HttpActionAdapter}
RESTART_SAFETY = {
    "mutating": True,
    "reversible": True,
    "undo": "none needed: caches refill from the database",
    "approval_tier": "approve",
    "action_class": "runbook",
    "blast_radius": "service",
}


def rundeck_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "kind": "http_action",
        "base_url": BASE,
        "token_env": TOKEN_ENV,
        "token_header": "X-Rundeck-Auth-Token",
        "token_scheme": "",
        "max_retries": 2,
        "actions": {
            "restart_cache": {
                "description": "Restart a service's cache tier with the Rundeck job cache-restart.",
                "method": "POST",
                "path": "/api/41/job/4f1c9a2e/run",
                "query": {"runAtTime": "{at}"},
                "body": {
                    "options": {"service": "{service}", "replicas": "{replicas}", "note": "by firstline for {service}"}
                },
                "params": {
                    "service": {"description": "Service whose cache restarts.", "pattern": "^[a-z-]+$"},
                    "replicas": {
                        "type": "integer",
                        "description": "How many cache pods.",
                        "minimum": 1,
                        "maximum": 10,
                        "default": 3,
                    },
                    "at": {"description": "When to run (ISO 8601); empty: now.", "default": ""},
                },
                "safety": RESTART_SAFETY,
            },
            "job_status": {
                "description": "Read the state of one Rundeck execution.",
                "method": "GET",
                "path": "/api/41/execution/{execution_id}",
                "params": {"execution_id": {"type": "integer", "description": "Execution id from restart_cache."}},
                "safety": {"mutating": False},
            },
            "list_jobs": {
                "description": "List the jobs of a project.",
                "method": "GET",
                "path": "/api/41/project/{project}/jobs",
                "params": {"project": {"description": "Project name.", "enum": ["shop", "infra"]}},
                "safety": {"mutating": False},
            },
        },
    }
    config.update(overrides)
    return config


@pytest.fixture
async def make_registry(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., ToolRegistry]]:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    built: list[ToolRegistry] = []

    def make(**overrides: Any) -> ToolRegistry:
        registry = ToolRegistry.from_config({"rundeck": rundeck_config(**overrides)}, kinds=KINDS)
        for adapter in registry.adapters.values():
            adapter.http.backoff_seconds = 0
        built.append(registry)
        return registry

    yield make
    for registry in built:
        await registry.aclose()


@pytest.fixture
def rundeck(make_registry: Callable[..., ToolRegistry]) -> HttpActionAdapter:
    adapter = make_registry().adapters["rundeck"]
    assert isinstance(adapter, HttpActionAdapter)
    return adapter


def test_configured_actions_are_calls_with_their_metadata_and_schema(
    make_registry: Callable[..., ToolRegistry],
) -> None:
    registry = make_registry()
    tools = {t.tool: t for t in registry.list_tools()}
    assert set(tools) == {"rundeck.restart_cache", "rundeck.job_status", "rundeck.list_jobs"}
    restart = tools["rundeck.restart_cache"]
    assert (
        restart.mutating,
        restart.action_class,
        restart.approval_tier,
        restart.reversible,
        restart.blast_radius,
    ) == (
        True,
        "runbook",
        "approve",
        True,
        "service",
    )
    assert not tools["rundeck.job_status"].mutating
    _, spec = registry.resolve("rundeck.restart_cache")
    schema = spec.input_model.model_json_schema()
    assert schema["required"] == ["service"]
    assert schema["properties"]["service"]["pattern"] == "^[a-z-]+$"
    assert schema["properties"]["replicas"]["description"] == "How many cache pods."
    jobs_schema = registry.resolve("rundeck.list_jobs")[1].input_model.model_json_schema()
    assert jobs_schema["properties"]["project"]["enum"] == ["shop", "infra"]
    assert not HttpActionAdapter.calls  # the class declares none: they come from the configuration


async def test_mutating_action_fills_placeholders_with_types(rundeck: HttpActionAdapter, ledger: ActionLedger) -> None:
    args = {"service": "checkout", "replicas": 5}
    grant = grant_for(ledger, rundeck, "restart_cache", args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/41/job/4f1c9a2e/run").respond(
            200, json={"id": 4711, "status": "running", "permalink": "https://rundeck.test/execution/show/4711"}
        )
        result = await rundeck.invoke("restart_cache", args, grant=grant)
    request = route.calls.last.request
    assert request.headers["X-Rundeck-Auth-Token"] == TOKEN and "Authorization" not in request.headers
    assert dict(request.url.params) == {"runAtTime": ""}
    assert json.loads(request.content) == {
        "options": {"service": "checkout", "replicas": 5, "note": "by firstline for checkout"}
    }
    assert result.status == "ok"
    assert result.query == "POST /api/41/job/4f1c9a2e/run"
    assert result.params["arguments"] == {"service": "checkout", "replicas": 5, "at": ""}
    assert result.data["id"] == 4711
    assert result.summary == (
        "restart_cache: POST /api/41/job/4f1c9a2e/run answered HTTP 200: id=4711, status=running, "
        "permalink=https://rundeck.test/execution/show/4711"
    )


async def test_without_grant_nothing_is_sent(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post("/api/41/job/4f1c9a2e/run")
        result = await rundeck.invoke("restart_cache", {"service": "checkout"})
    assert result.status == "approval_required" and not route.called


async def test_read_action_runs_without_grant_and_quotes_path_values(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/41/execution/4711").respond(200, json={"id": 4711, "status": "succeeded"})
        empty = mock.get("/api/41/project/shop/jobs").respond(200, json=[])
        result = await rundeck.invoke("job_status", {"execution_id": 4711})
        listed = await rundeck.invoke("list_jobs", {"project": "shop"})
    assert route.called and result.status == "ok" and result.data["status"] == "succeeded"
    assert empty.called and listed.status == "no_data"


async def test_policy_reads_the_configured_metadata(rundeck: HttpActionAdapter, ledger: ActionLedger) -> None:
    registry = ToolRegistry({"rundeck": rundeck})
    common = {
        "registry": registry,
        "ledger": ledger,
        "incident_id": "INC-42",
        "tool_id": "rundeck.restart_cache",
        "args": {"service": "checkout"},
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/api/41/job/4f1c9a2e/run").respond(200, json={"id": 1})
        walk = await execute_action(policy=ApprovalPolicy(PolicySettings(maturity="walk")), action_id="a1", **common)
        assert walk.status == "refused" and not route.called
        allowed = ApprovalPolicy(PolicySettings(maturity="walk", rules={"runbook": {"production": "auto"}}))
        ran = await execute_action(policy=allowed, action_id="a2", **common)
    assert ran.status == "executed" and route.call_count == 1


async def test_client_error_is_not_retried_and_names_the_message(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/41/execution/9").respond(
            404, json={"error": True, "message": "Execution ID does not exist: 9"}
        )
        result = await rundeck.invoke("job_status", {"execution_id": 9})
    assert route.call_count == 1
    assert result.error is not None and result.error.upstream_status == 404
    assert result.error.message == "GET /api/41/execution/9 returned HTTP 404: Execution ID does not exist: 9"
    assert result.params["execution_id"] == 9


async def test_5xx_retried_then_reported(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/41/execution/1").respond(503, text="maintenance")
        result = await rundeck.invoke("job_status", {"execution_id": 1})
    assert route.call_count == 3 and result.error is not None and result.error.body_excerpt == "maintenance"


async def test_timeout(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/41/execution/1").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await rundeck.invoke("job_status", {"execution_id": 1})
    assert route.call_count == 3 and result.error is not None and result.error.kind == "timeout"


async def test_a_body_that_is_not_json_is_kept_as_text(rundeck: HttpActionAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/41/execution/1").respond(200, content=b"{not json", headers={"Content-Type": "application/json"})
        result = await rundeck.invoke("job_status", {"execution_id": 1})
    assert result.status == "ok" and result.data == {"text": "{not json"}


async def test_auth_failure_never_leaks_the_token(rundeck: HttpActionAdapter) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        mock.get("/api/41/execution/1").respond(403, json={"message": f"token {TOKEN} is not authorized"})
        result = await rundeck.invoke("job_status", {"execution_id": 1})
    assert result.error is not None and "token *** is not authorized" in result.error.message
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"service": "Checkout!"}, "service"),
        ({"service": "checkout", "replicas": 50}, "replicas"),
        ({"service": "checkout", "extra": 1}, "extra"),
        ({}, "service"),
    ],
)
async def test_arguments_are_validated_naming_the_field(
    rundeck: HttpActionAdapter, args: dict[str, Any], field: str
) -> None:
    result = await rundeck.invoke("restart_cache", args)
    assert result.error is not None and result.error.kind == "input" and f"{field}:" in result.error.message


def bad_action(**changes: Any) -> dict[str, Any]:
    action = dict(rundeck_config()["actions"]["restart_cache"])
    action.update(changes)
    return {"restart_cache": action}


@pytest.mark.parametrize(
    ("actions", "message"),
    [
        (
            bad_action(safety={"mutating": True, "action_class": "runbook"}),
            "tools.rundeck: actions.restart_cache.safety: a mutating call must declare reversible, approval_tier "
            "in its safety metadata",
        ),
        (
            bad_action(safety={"mutating": True, "reversible": True, "approval_tier": "approve"}),
            "tools.rundeck: actions.restart_cache.safety: a mutating call must declare undo",
        ),
        (
            bad_action(path="/api/41/job/{job_id}/run"),
            "tools.rundeck: actions.restart_cache: placeholder {job_id} is used but not declared under params",
        ),
        (
            bad_action(safety={"mutating": False}),
            "tools.rundeck: actions.restart_cache: safety: a POST action is taken to change something",
        ),
        (bad_action(safety=None), "tools.rundeck: actions.restart_cache.safety: Input should be a valid dictionary"),
        ({}, "tools.rundeck: actions: Dictionary should have at least 1 item"),
    ],
)
def test_a_misdeclared_action_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, actions: dict[str, Any], message: str
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    with pytest.raises(ValueError) as raised:
        ToolRegistry.from_config({"rundeck": rundeck_config(actions=actions)}, kinds=KINDS)
    assert str(raised.value).startswith(message)


async def test_check_reads_check_path_or_says_it_cannot(make_registry: Callable[..., ToolRegistry]) -> None:
    skipped = await check_adapter(make_registry().adapters["rundeck"])
    assert skipped.status == "skipped" and "set tools.rundeck.check_path" in skipped.detail
    adapter = make_registry(check_path="/api/41/system/info").adapters["rundeck"]
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/41/system/info").respond(200, json={"system": {}})
        checked = await check_adapter(adapter)
    assert checked.status == "ok" and checked.detail == "GET /api/41/system/info answered HTTP 200"
    assert route.calls.last.request.headers["X-Rundeck-Auth-Token"] == TOKEN


async def test_basic_auth_for_jenkins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRSTLINE_TEST_USER", "bot")
    monkeypatch.setenv("FIRSTLINE_TEST_PASSWORD", "api-token-1234")
    config = {
        "kind": "http_action",
        "base_url": "https://jenkins.test",
        "username_env": "FIRSTLINE_TEST_USER",
        "password_env": "FIRSTLINE_TEST_PASSWORD",
        "actions": {
            "redeploy": {
                "description": "Run the redeploy job.",
                "path": "/job/redeploy/buildWithParameters",
                "query": {"SERVICE": "{service}"},
                "params": {"service": {"description": "Service to redeploy."}},
                "safety": RESTART_SAFETY,
            }
        },
    }
    registry = ToolRegistry.from_config({"jenkins": config}, kinds=KINDS)
    adapter = registry.adapters["jenkins"]
    with respx.mock(base_url="https://jenkins.test") as mock:
        route = mock.post("/job/redeploy/buildWithParameters").respond(201, headers={"Location": "/queue/item/5/"})
        result = await adapter.calls["redeploy"].fn(adapter, adapter.calls["redeploy"].input_model(service="checkout"))
    await registry.aclose()
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Basic Ym90OmFwaS10b2tlbi0xMjM0"
    assert dict(request.url.params) == {"SERVICE": "checkout"} and request.content == b""
    assert result.status == "ok" and result.data is None


async def test_a_bare_token_in_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    config = rundeck_config(token_header="Authorization", token_scheme="", check_path="/ping")
    registry = ToolRegistry.from_config({"rundeck": config}, kinds=KINDS)
    try:
        with respx.mock(base_url=BASE) as mock:
            route = mock.get("/ping").respond(200)
            await check_adapter(registry.adapters["rundeck"])
        assert route.calls.last.request.headers["Authorization"] == TOKEN
    finally:
        await registry.aclose()
