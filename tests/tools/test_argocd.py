"""ArgoCDAdapter against respx: application status and history, rollback refused under auto-sync,
sync bodies, grpc-gateway errors, grants."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.argocd import ArgoCDAdapter
from tools.checks import check_adapter
from tools.ledger import ActionLedger

BASE = "https://argocd.test"
APP_PATH = "/api/v1/applications/checkout-prod"
SHA_NEW = "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6"
SHA_OLD = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"


def application(
    *, automated: bool = False, phase: str = "Succeeded", history_ids: tuple[Any, ...] = (11, 12)
) -> dict[str, Any]:
    history = [
        {
            "id": i,
            "revision": SHA_OLD if n == 0 else SHA_NEW,
            "deployedAt": f"2026-11-{18 + n}T10:00:00Z",
            "deployStartedAt": f"2026-11-{18 + n}T09:59:00Z",
            "source": {"targetRevision": "main"},
        }
        for n, i in enumerate(history_ids)
    ]
    return {
        "metadata": {"name": "checkout-prod", "namespace": "argocd"},
        "spec": {
            "project": "shop",
            "source": {"repoURL": "https://github.com/acme/deploy", "path": "checkout", "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
            "syncPolicy": {"automated": {"prune": False, "selfHeal": True}} if automated else {},
        },
        "status": {
            "sync": {"status": "Synced", "revision": SHA_NEW},
            "health": {"status": "Degraded", "message": "1 of 3 pods crash looping"},
            "operationState": {
                "phase": phase,
                "message": "successfully synced (all tasks run)",
                "startedAt": "2026-11-19T09:59:00Z",
            },
            "summary": {"images": ["ghcr.io/acme/checkout:v1.4.3"]},
            "resources": [
                {
                    "kind": "Deployment",
                    "name": "checkout",
                    "namespace": "shop",
                    "health": {"status": "Degraded", "message": "crash"},
                },
                {"kind": "Service", "name": "checkout", "namespace": "shop", "health": {"status": "Healthy"}},
                {"kind": "ConfigMap", "name": "checkout-config", "namespace": "shop"},
            ],
            "history": history,
        },
    }


@pytest.fixture
def argo(build: BuildAdapter) -> ArgoCDAdapter:
    adapter = build(ArgoCDAdapter, BASE, max_retries=2)
    assert isinstance(adapter, ArgoCDAdapter)
    return adapter


async def test_get_application_summarizes_status(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(APP_PATH).respond(200, json=application())
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}" and not request.url.params
    assert result.status == "ok" and result.query == f"GET {APP_PATH}"
    assert result.data["sync"] == {"status": "Synced", "revision": SHA_NEW}
    assert result.data["unhealthy_resources"] == [
        {"kind": "Deployment", "name": "checkout", "namespace": "shop", "health": "Degraded", "message": "crash"}
    ]
    assert result.data["images"] == ["ghcr.io/acme/checkout:v1.4.3"]
    assert result.summary == (
        "checkout-prod is Synced at 9f1c2e3 and Degraded (1 of 3 pods crash looping); auto-sync off; last operation "
        "Succeeded: successfully synced (all tasks run); unhealthy: Deployment/checkout Degraded; newest history id "
        "12 (9f1c2e3 at 2026-11-19T10:00:00Z)"
    )


async def test_history_newest_first_with_ids_as_numbers_or_strings(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(APP_PATH).respond(200, json=application(automated=True, history_ids=("11", "12")))
        result = await argo.invoke("application_history", {"name": "checkout-prod", "app_namespace": "team-a"})
    assert route.calls.last.request.url.params["appNamespace"] == "team-a"
    assert [h["id"] for h in result.data["history"]] == [12, 11]
    assert result.data["auto_sync"] is True
    assert "previous: id 11 revision 1a2b3c4" in result.summary
    assert result.summary.endswith("auto-sync is on (rollback is refused while it is)")


async def test_no_history_is_no_data(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(APP_PATH).respond(200, json=application(history_ids=()))
        result = await argo.invoke("application_history", {"name": "checkout-prod"})
    assert result.status == "no_data" and result.summary == "no deployment history for checkout-prod"


async def test_rollback_without_grant_sends_nothing(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(f"{APP_PATH}/rollback")
        result = await argo.invoke("rollback", {"name": "checkout-prod", "id": 11})
    assert result.status == "approval_required" and not route.called


async def test_rollback_posts_the_history_id_and_never_prunes(argo: ArgoCDAdapter, ledger: ActionLedger) -> None:
    args = {"name": "checkout-prod", "id": 11}
    grant = grant_for(ledger, argo, "rollback", args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(f"{APP_PATH}/rollback").respond(200, json=application(phase="Running"))
        result = await argo.invoke("rollback", args, grant=grant)
    assert json.loads(route.calls.last.request.content) == {
        "name": "checkout-prod",
        "id": 11,
        "dryRun": False,
        "prune": False,
    }
    assert result.status == "ok", result.summary
    assert (
        result.summary
        == "rollback of checkout-prod to history 11 (revision 1a2b3c4) requested; operation Running, health Degraded"
    )


async def test_rollback_under_auto_sync_says_what_to_do(argo: ArgoCDAdapter, ledger: ActionLedger) -> None:
    args = {"name": "checkout-prod", "id": 11}
    grant = grant_for(ledger, argo, "rollback", args)
    error = {
        "error": "rollback cannot be initiated when auto-sync is enabled",
        "code": 9,
        "message": "rollback cannot be initiated when auto-sync is enabled",
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(f"{APP_PATH}/rollback").respond(400, json=error)
        result = await argo.invoke("rollback", args, grant=grant)
    assert route.call_count == 1
    assert result.status == "error" and result.error is not None and result.error.upstream_status == 400
    message = result.error.message
    assert message.startswith(
        f"POST {APP_PATH}/rollback returned HTTP 400: Argo CD FailedPrecondition: rollback cannot be initiated when "
        "auto-sync is enabled (auto-sync is enabled on this application"
    )
    assert "disable auto-sync first (spec.syncPolicy.automated" in message
    assert result.params["id"] == 11 and "auto-sync" in result.error.body_excerpt


async def test_sync_to_a_revision(argo: ArgoCDAdapter, ledger: ActionLedger) -> None:
    args = {"name": "checkout-prod", "revision": SHA_OLD, "app_namespace": "team-a", "dry_run": True}
    grant = grant_for(ledger, argo, "sync", args)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(f"{APP_PATH}/sync").respond(200, json=application(phase="Running"))
        result = await argo.invoke("sync", args, grant=grant)
    assert json.loads(route.calls.last.request.content) == {
        "name": "checkout-prod",
        "prune": False,
        "dryRun": True,
        "strategy": {"hook": {}},
        "revision": SHA_OLD,
        "appNamespace": "team-a",
    }
    assert result.summary == f"dry run: sync of checkout-prod to {SHA_OLD} requested; operation Running"


async def test_an_operation_in_progress_is_reported(argo: ArgoCDAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, argo, "sync", {"name": "checkout-prod"})
    with respx.mock(base_url=BASE) as mock:
        mock.post(f"{APP_PATH}/sync").respond(
            400, json={"error": "x", "code": 9, "message": "another operation is already in progress"}
        )
        result = await argo.invoke("sync", {"name": "checkout-prod"}, grant=grant)
    assert result.error is not None
    assert result.error.message.endswith("Argo CD FailedPrecondition: another operation is already in progress")


async def test_not_found_and_permission_denied_are_not_retried(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(APP_PATH).respond(
            403, json={"error": "permission denied", "code": 7, "message": "permission denied"}
        )
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    assert route.call_count == 1
    assert result.error is not None and "Argo CD PermissionDenied: permission denied" in result.error.message


async def test_5xx_retried_then_reported(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(APP_PATH).respond(502, text="bad gateway")
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    assert route.call_count == 3
    assert (
        result.error is not None
        and result.error.body_excerpt == "bad gateway"
        and "after 3 attempts" in result.error.message
    )


async def test_timeout(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(APP_PATH).mock(side_effect=httpx.ConnectTimeout("slow"))
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    assert route.call_count == 3 and result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"<html>sso</html>", "not JSON"), (b"[]", "not a JSON object"), (b'{"status": {}}', "not an Application")],
)
async def test_malformed_body(argo: ArgoCDAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(APP_PATH).respond(200, content=content)
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


async def test_unauthenticated_never_leaks_the_token(argo: ArgoCDAdapter) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        mock.get(APP_PATH).respond(
            401, json={"error": "invalid session", "code": 16, "message": f"invalid session: {TOKEN}"}
        )
        result = await argo.invoke("get_application", {"name": "checkout-prod"})
    assert result.error is not None and "Argo CD Unauthenticated: invalid session: ***" in result.error.message
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"name": "Checkout_Prod"}, "name"),
        ({"name": "a", "id": -1}, "id"),
        ({"name": "a", "id": 1, "prune": True}, "prune"),
    ],
)
async def test_input_is_validated(argo: ArgoCDAdapter, args: dict[str, Any], field: str) -> None:
    result = await argo.invoke("rollback", args)
    assert result.error is not None and result.error.kind == "input" and f"{field}:" in result.error.message


async def test_check_version_then_token(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/version").respond(200, json={"Version": "v2.13.1+af54ef8"})
        mock.get("/api/v1/session/userinfo").respond(
            200, json={"loggedIn": True, "username": "firstline", "iss": "argocd"}
        )
        result = await check_adapter(argo)
    assert (result.status, result.detail) == ("ok", "Argo CD v2.13.1+af54ef8, token accepted for firstline")


async def test_check_token_not_accepted(argo: ArgoCDAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/version").respond(200, json={"Version": "v2.13.1"})
        mock.get("/api/v1/session/userinfo").respond(200, json={"loggedIn": False})
        result = await check_adapter(argo)
    assert result.status == "failed" and "does not accept the token" in result.detail
    assert result.fix.startswith(
        "credentials rejected: check the value of FIRSTLINE_TEST_TOKEN (tools.argocd.token_env)"
    )


def test_safety_metadata() -> None:
    calls = ArgoCDAdapter.calls
    assert {n for n, c in calls.items() if c.safety.mutating} == {"rollback", "sync"}
    assert calls["rollback"].safety.action_class == "rollback" and calls["sync"].safety.action_class == "deploy"
    for name in ("rollback", "sync"):
        safety = calls[name].safety
        assert (safety.approval_tier, safety.reversible, safety.destructive) == ("approve", True, False)
        assert "prune" not in calls[name].input_model.model_fields
