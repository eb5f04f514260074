"""`tools.checks`: each built-in adapter's cheapest read, and failures that say how to fix them."""

from __future__ import annotations

import httpx
import pytest
import respx

from tests.tools.conftest import TOKEN, TOKEN_ENV, BuildAdapter
from tools.checks import check_adapter, check_instances
from tools.github import GitHubAdapter
from tools.kubernetes import KubernetesAdapter
from tools.loki import LokiAdapter
from tools.prometheus import PrometheusAdapter
from tools.registry import available_kinds
from tools.slack import SlackAdapter
from tools.statuspage import StatuspageAdapter

BASE = "http://backend.test"


async def test_prometheus_reads_build_info(build: BuildAdapter) -> None:
    prom = build(PrometheusAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/api/v1/status/buildinfo").respond(
            200, json={"status": "success", "data": {"version": "2.53.0", "revision": "x"}}
        )
        result = await check_adapter(prom)
    assert (result.status, result.detail) == ("ok", "Prometheus 2.53.0")
    assert route.calls.last.request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_prometheus_without_build_info_falls_back_to_a_query(build: BuildAdapter) -> None:
    prom = build(PrometheusAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/api/v1/status/buildinfo").respond(404, text="404 page not found")
        query = mock.get("/api/v1/query").respond(
            200, json={"status": "success", "data": {"resultType": "vector", "result": []}}
        )
        result = await check_adapter(prom)
    assert result.status == "ok" and "no build info" in result.detail
    assert query.calls.last.request.url.params["query"] == "vector(1)"


async def test_loki_reads_labels_with_the_tenant(build: BuildAdapter) -> None:
    loki = build(LokiAdapter, BASE, org_id="team-a")
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/loki/api/v1/labels").respond(200, json={"status": "success", "data": ["app", "pod"]})
        result = await check_adapter(loki)
    assert (result.status, result.detail) == ("ok", "Loki answers for tenant team-a: 2 label names")
    assert route.calls.last.request.headers["X-Scope-OrgID"] == "team-a"


async def test_kubernetes_reads_version(build: BuildAdapter) -> None:
    k8s = build(KubernetesAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/version").respond(200, json={"major": "1", "minor": "30", "gitVersion": "v1.30.2"})
        result = await check_adapter(k8s)
    assert (result.status, result.detail) == ("ok", "Kubernetes v1.30.2")


async def test_github_reads_rate_limit(build: BuildAdapter) -> None:
    gh = build(GitHubAdapter, BASE)
    core = {"limit": 5000, "remaining": 4990, "reset": 1795169700, "used": 10}
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/rate_limit").respond(200, json={"resources": {"core": core}})
        result = await check_adapter(gh)
    assert result.status == "ok"
    assert result.detail == "GitHub API: 4990 of 5000 core requests left (resets at 2026-11-20T10:15:00Z)"
    assert route.calls.last.request.headers["X-GitHub-Api-Version"] == "2022-11-28"


async def test_statuspage_reads_the_page(build: BuildAdapter) -> None:
    sp = build(StatuspageAdapter, BASE, page_id="pg1")
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/pages/pg1").respond(200, json={"id": "pg1", "name": "Acme"})
        result = await check_adapter(sp)
    assert (result.status, result.detail) == ("ok", "page pg1 (Acme)")
    assert route.calls.last.request.headers["Authorization"] == f"OAuth {TOKEN}"


async def test_slack_auth_test(build: BuildAdapter) -> None:
    slack = build(SlackAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.post("/auth.test").respond(200, json={"ok": True, "team": "acme", "user": "firstline", "bot_id": "B1"})
        result = await check_adapter(slack)
    assert (result.status, result.detail) == ("ok", "workspace acme as firstline (bot B1)")


async def test_slack_invalid_auth_on_http_200_names_the_variable(build: BuildAdapter) -> None:
    slack = build(SlackAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.post("/auth.test").respond(200, json={"ok": False, "error": "invalid_auth"})
        result = await check_adapter(slack)
    assert result.status == "failed" and "invalid_auth" in result.detail
    assert result.fix == f"credentials rejected: check the value of {TOKEN_ENV} (tools.slack.token_env)"


@pytest.mark.parametrize(
    ("status", "fix"),
    [
        (401, f"credentials rejected: check the value of {TOKEN_ENV} (tools.kubernetes.token_env)"),
        (403, f"the credentials work but may not GET /version: give the identity in {TOKEN_ENV}"),
        (404, f"nothing answers at /version: check that tools.kubernetes.base_url ({BASE}) is the API root"),
        (503, "the server failed: check its health"),
    ],
)
async def test_failures_say_how_to_fix_them(build: BuildAdapter, status: int, fix: str) -> None:
    k8s = build(KubernetesAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/version").respond(status, json={"kind": "Status", "message": f"no ({TOKEN})"})
        result = await check_adapter(k8s)
    assert result.status == "failed" and f"HTTP {status}" in result.detail
    assert result.fix.startswith(fix)
    assert TOKEN not in result.model_dump_json()


async def test_connection_error_and_timeout(build: BuildAdapter) -> None:
    k8s = build(KubernetesAdapter, BASE, max_retries=0)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/version").mock(side_effect=httpx.ConnectError("refused"))
        refused = await check_adapter(k8s)
        mock.get("/version").mock(side_effect=httpx.ReadTimeout("slow"))
        slow = await check_adapter(k8s)
    assert refused.status == "failed"
    assert (
        refused.fix
        == f"cannot connect: check tools.kubernetes.base_url ({BASE}) and that the service is reachable from this host"
    )
    assert slow.status == "failed" and "raise tools.kubernetes.timeout_seconds" in slow.fix


async def test_a_body_that_is_not_the_api_is_named(build: BuildAdapter) -> None:
    k8s = build(KubernetesAdapter, BASE)
    with respx.mock(base_url=BASE) as mock:
        mock.get("/version").respond(200, html="<html>login</html>")
        result = await check_adapter(k8s)
    assert result.status == "failed" and "not JSON" in result.detail
    assert result.fix.startswith("something answered, but not like a kubernetes API")


async def test_check_instances_fails_only_the_instance_that_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRSTLINE_TEST_UNSET", raising=False)
    instances = {
        "k8s": {"kind": "kubernetes", "base_url": BASE},
        "gh": {"kind": "github", "base_url": BASE, "token_env": "FIRSTLINE_TEST_UNSET"},
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get("/version").respond(200, json={"gitVersion": "v1.31.0"})
        results = await check_instances(instances, kinds=available_kinds(include_plugins=False))
    assert [(r.instance, r.status) for r in results] == [("k8s", "ok"), ("gh", "failed")]
    assert "FIRSTLINE_TEST_UNSET" in results[1].detail and "export the variable" in results[1].fix


async def test_check_instances_refuses_an_unknown_name() -> None:
    with pytest.raises(KeyError, match="no instance named 'nope'"):
        await check_instances({"k8s": {"kind": "kubernetes", "base_url": BASE}}, kinds={}, names=["nope"])


async def test_an_adapter_without_a_check_is_skipped() -> None:
    from tests.tools.test_sdk import ToyAdapter
    from tools.base import AdapterSettings
    from tools.http import HttpCaller

    async with httpx.AsyncClient(base_url="http://toy") as client:
        toy = ToyAdapter("toy", AdapterSettings(base_url="http://toy"), HttpCaller(client, instance="toy"))
        result = await check_adapter(toy)
    assert (result.status, result.detail) == ("skipped", "the toy adapter defines no check")
