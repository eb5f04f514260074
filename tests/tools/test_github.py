"""GitHubAdapter against respx: pinned API headers, deployment statuses by id, compare, runs, errors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from structlog.testing import capture_logs

from tests.tools.conftest import TOKEN, BuildAdapter, assert_secret_absent, grant_for
from tools.github import (
    CommitList,
    Comparison,
    DeploymentList,
    GitHubAdapter,
    ListDeploymentsInput,
    WorkflowDefinition,
    WorkflowList,
    WorkflowRunList,
)
from tools.ledger import ActionLedger

# A base URL with a path prefix, as the simulator serves it: every path must stay relative to it.
BASE = "http://127.0.0.1:8555/github"
REPO = "acme/checkout"


def deployment(id_: int, sha: str, ref: str, created: str) -> dict[str, Any]:
    return {
        "id": id_,
        "sha": sha,
        "ref": ref,
        "task": "deploy",
        "environment": "production",
        "description": f"deploy {ref}",
        "creator": {"login": "deploy-bot"},
        "created_at": created,
        "updated_at": created,
        # Absolute and pointing at the public API: must not be followed.
        "statuses_url": f"https://api.github.com/repos/{REPO}/deployments/{id_}/statuses",
        "production_environment": True,
    }


def commit(sha: str, message: str, date: str, login: str | None = "alice") -> dict[str, Any]:
    return {
        "sha": sha,
        "html_url": f"https://github.com/{REPO}/commit/{sha}",
        "commit": {"message": message, "author": {"name": "Alice", "email": "a@x", "date": date}},
        "author": {"login": login} if login else None,
        "parents": [{"sha": "p"}],
    }


@pytest.fixture
def gh(build: BuildAdapter) -> GitHubAdapter:
    adapter = build(GitHubAdapter, BASE, max_retries=2)
    assert isinstance(adapter, GitHubAdapter)
    return adapter


def assert_github_headers(request: httpx.Request) -> None:
    assert request.headers["Accept"] == "application/vnd.github+json"
    assert request.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"


async def test_list_deployments_with_latest_status_from_id_built_paths(gh: GitHubAdapter) -> None:
    deployments = [
        deployment(202, "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6", "v1.4.3", "2026-11-20T09:58:00Z"),
        deployment(201, "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d", "v1.4.2", "2026-11-18T14:00:00Z"),
    ]
    with respx.mock(base_url=BASE) as mock:
        listing = mock.get(f"/repos/{REPO}/deployments").respond(200, json=deployments)
        s202 = mock.get(f"/repos/{REPO}/deployments/202/statuses").respond(
            200,
            json=[
                {
                    "state": "success",
                    "description": "ok",
                    "created_at": "2026-11-20T10:00:00Z",
                    "log_url": "https://ci/202",
                },
                {"state": "in_progress"},
            ],
        )
        s201 = mock.get(f"/repos/{REPO}/deployments/201/statuses").respond(200, json=[{"state": "inactive"}])
        result = await gh.invoke("list_deployments", {"repo": REPO, "environment": "production", "per_page": 5})

    request = listing.calls.last.request
    assert request.url.path == f"/github/repos/{REPO}/deployments"
    assert dict(request.url.params) == {"per_page": "5", "environment": "production"}
    for route in (listing, s202, s201):
        assert_github_headers(route.calls.last.request)
    assert s202.calls.last.request.url.params["per_page"] == "1"
    assert result.status == "ok"
    assert result.query == f"GET /repos/{REPO}/deployments"
    first, second = result.data["deployments"]
    assert first["id"] == 202 and first["state"] == "success" and first["log_url"] == "https://ci/202"
    assert second["state"] == "inactive"
    assert "9f1c2e3 (ref v1.4.3)" in result.summary and "previous: 1a2b3c4 (ref v1.4.2)" in result.summary


async def test_a_failing_status_fetch_degrades_to_a_note(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/deployments").respond(200, json=[deployment(7, "abc", "main", "2026-11-20T09:58:00Z")])
        mock.get(f"/repos/{REPO}/deployments/7/statuses").respond(404, json={"message": "Not Found"})
        result = await gh.invoke("list_deployments", {"repo": REPO})
    assert result.status == "ok"
    entry = result.data["deployments"][0]
    assert entry["state"] is None and "GitHub: Not Found" in entry["status_error"]


async def test_no_deployments_is_no_data(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/deployments").respond(200, json=[])
        result = await gh.invoke("list_deployments", {"repo": REPO, "environment": "staging"})
    assert result.status == "no_data"
    assert result.summary == f"no deployments of {REPO} to staging"


async def test_list_commits_sends_window_ref_and_path(gh: GitHubAdapter) -> None:
    commits = [
        commit("9f1c2e3d4b5a", "Raise pool size\n\nLonger body", "2026-11-20T09:40:00Z"),
        commit("8e0b1d2c3a49", "Bump client", "2026-11-20T08:30:00Z", login=None),
    ]
    link = f'<{BASE}/repos/{REPO}/commits?page=2>; rel="next"'
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/commits").respond(200, json=commits, headers={"Link": link})
        result = await gh.invoke(
            "list_commits",
            {
                "repo": REPO,
                "since": "2026-11-20T08:00:00Z",
                "until": "2026-11-20T10:00:00Z",
                "sha": "main",
                "path": "config/",
            },
        )
    request = route.calls.last.request
    assert_github_headers(request)
    assert dict(request.url.params) == {
        "per_page": "30",
        "sha": "main",
        "since": "2026-11-20T08:00:00Z",
        "until": "2026-11-20T10:00:00Z",
        "path": "config/",
    }
    assert result.window is not None and result.window.start == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert result.data["has_more"] is True
    assert result.data["commits"][0]["message"] == "Raise pool size"
    assert result.data["commits"][1]["login"] is None
    assert "2+ commits" in result.summary and "9f1c2e3 'Raise pool size'" in result.summary


async def test_compare_lists_commits_newest_first_and_clips_patches(gh: GitHubAdapter) -> None:
    body = {
        "status": "ahead",
        "ahead_by": 2,
        "behind_by": 0,
        "total_commits": 2,
        "html_url": f"https://github.com/{REPO}/compare/v1.4.2...v1.4.3",
        "commits": [
            commit("aaa111", "first", "2026-11-20T08:00:00Z"),
            commit("bbb222", "second", "2026-11-20T09:00:00Z"),
        ],
        "files": [
            {
                "filename": "config/pool.yaml",
                "status": "modified",
                "additions": 1,
                "deletions": 1,
                "changes": 2,
                "patch": "@@ -1 +1 @@\n-max_connections: 50\n+max_connections: 5",
            },
            {
                "filename": "src/big.py",
                "status": "renamed",
                "previous_filename": "src/old.py",
                "additions": 900,
                "deletions": 0,
                "changes": 900,
                "patch": "+" * 5000,
            },
        ],
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/compare/v1.4.2...v1.4.3").respond(200, json=body)
        result = await gh.invoke("compare", {"repo": REPO, "base": "v1.4.2", "head": "v1.4.3"})
    assert_github_headers(route.calls.last.request)
    assert result.status == "ok"
    assert [c["sha"] for c in result.data["commits"]] == ["bbb222", "aaa111"]
    files = result.data["files"]
    assert files[0]["patch"].endswith("+max_connections: 5")
    assert len(files[1]["patch"]) < 1600 and files[1]["previous_filename"] == "src/old.py"
    assert "2 commits ahead" in result.summary and "config/pool.yaml (modified +1 -1)" in result.summary


async def test_compare_branch_with_slash(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/compare/main...feature/pool").respond(
            200,
            json={
                "status": "identical",
                "ahead_by": 0,
                "behind_by": 0,
                "total_commits": 0,
                "commits": [],
                "files": [],
            },
        )
        result = await gh.invoke("compare", {"repo": REPO, "base": "main", "head": "feature/pool"})
    assert route.called
    assert result.status == "no_data"
    assert result.summary == "main and feature/pool are identical"


async def test_workflow_runs_filter_by_created_range(gh: GitHubAdapter) -> None:
    runs = {
        "total_count": 3,
        "workflow_runs": [
            {
                "id": 3,
                "name": "CI",
                "display_title": "Raise pool",
                "head_branch": "main",
                "head_sha": "9f1c",
                "event": "push",
                "status": "completed",
                "conclusion": "failure",
                "run_number": 88,
                "run_attempt": 1,
                "created_at": "2026-11-20T09:45:00Z",
                "actor": {"login": "alice"},
            },
            {
                "id": 2,
                "name": "CI",
                "head_branch": "main",
                "status": "completed",
                "conclusion": "success",
                "run_number": 87,
                "created_at": "2026-11-20T08:10:00Z",
            },
            {
                "id": 1,
                "name": "CI",
                "head_branch": "main",
                "status": "completed",
                "conclusion": "success",
                "run_number": 86,
                "created_at": "2026-11-20T06:00:00Z",
            },  # same day, before the window
        ],
    }
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/actions/runs").respond(200, json=runs)
        result = await gh.invoke(
            "list_workflow_runs",
            {
                "repo": REPO,
                "branch": "main",
                "event": "push",
                "status": "completed",
                "created_after": "2026-11-20T08:00:00Z",
                "created_before": "2026-11-21T10:00:00Z",
            },
        )
    request = route.calls.last.request
    assert_github_headers(request)
    assert dict(request.url.params) == {
        "per_page": "20",
        "branch": "main",
        "event": "push",
        "status": "completed",
        "created": "2026-11-20..2026-11-21",
    }
    assert [r["id"] for r in result.data["runs"]] == [3, 2]
    assert result.data["total_count"] == 3
    assert "1 failure, 1 success" in result.summary and "CI #88" in result.summary


async def test_workflow_runs_open_ended_created_filter(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/actions/runs").respond(200, json={"total_count": 0, "workflow_runs": []})
        result = await gh.invoke("list_workflow_runs", {"repo": REPO, "created_after": "2026-11-20T08:00:00Z"})
    assert route.calls.last.request.url.params["created"] == ">=2026-11-20"
    assert result.status == "no_data"


async def test_list_workflows_gives_the_file_names_dispatch_takes(gh: GitHubAdapter) -> None:
    body = {
        "total_count": 2,
        "workflows": [
            {"id": 11, "name": "deploy", "path": ".github/workflows/deploy.yml", "state": "active"},
            {"id": 12, "name": "db-rollback", "path": ".github/workflows/db-rollback.yml", "state": "active"},
        ],
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/actions/workflows").respond(200, json=body)
        result = await gh.invoke("list_workflows", {"repo": REPO})
        mock.get(f"/repos/{REPO}/actions/workflows").respond(200, json={"total_count": 0, "workflows": []})
        empty = await gh.invoke("list_workflows", {"repo": REPO})
    listed = result.payload(WorkflowList).workflows
    assert [(w.name, w.file) for w in listed] == [("deploy", "deploy.yml"), ("db-rollback", "db-rollback.yml")]
    assert result.query == f"GET /repos/{REPO}/actions/workflows" and "db-rollback (db-rollback.yml)" in result.summary
    assert empty.status == "no_data"


def workflow_file(text: str, path: str = ".github/workflows/netpol-rollback.yml") -> dict[str, Any]:
    """A contents-API answer: base64 with a line break every 60 characters, as GitHub sends it."""
    return {"type": "file", "encoding": "base64", "path": path, "content": base64.encodebytes(text.encode()).decode()}


ROLLBACK_YML = """name: netpol-rollback
on:
  workflow_dispatch:
    inputs:
      namespace:
        description: Namespace whose NetworkPolicies to restore
        required: true
      to_revision:
        description: Policy revision to restore
        required: true
      dry_run:
        type: boolean
        default: false
      mode:
        type: choice
        options: [fast, careful]
        default: careful
jobs:
  rollback: {runs-on: ubuntu-latest}
"""


async def test_get_workflow_reads_dispatch_inputs_from_the_file(gh: GitHubAdapter) -> None:
    path = f"/repos/{REPO}/contents/.github/workflows/netpol-rollback.yml"
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(path).respond(200, json=workflow_file(ROLLBACK_YML))
        result = await gh.invoke("get_workflow", {"repo": REPO, "workflow": "netpol-rollback.yml", "ref": "main"})
    definition = result.payload(WorkflowDefinition)
    assert route.calls.last.request.url.params["ref"] == "main"
    assert definition.dispatchable and definition.name == "netpol-rollback"
    by_name = {i.name: i for i in definition.inputs}
    assert [i.name for i in definition.required] == ["namespace", "to_revision"]
    # YAML's booleans are sent as GitHub takes them: lower-case strings.
    assert by_name["dry_run"].default == "false" and by_name["dry_run"].type == "boolean"
    assert by_name["mode"].options == ["fast", "careful"]
    assert "namespace (required)" in result.summary and "dry_run," in result.summary


@pytest.mark.parametrize(
    ("text", "dispatchable", "inputs"),
    [
        ("on: [push, workflow_dispatch]\n", True, 0),
        ("on: workflow_dispatch\n", True, 0),
        ("'on':\n  push: {branches: [main]}\n", False, 0),
        ("on:\n  workflow_dispatch:\n    inputs:\n      target: {required: true}\n", True, 1),
    ],
)
async def test_get_workflow_reads_every_trigger_spelling(
    gh: GitHubAdapter, text: str, dispatchable: bool, inputs: int
) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/contents/.github/workflows/x.yml").respond(200, json=workflow_file(text))
        result = await gh.invoke("get_workflow", {"repo": REPO, "workflow": "x.yml"})
    definition = result.payload(WorkflowDefinition)
    assert (definition.dispatchable, len(definition.inputs)) == (dispatchable, inputs)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "dir", "path": ".github/workflows/x.yml"},
        {"type": "file", "path": ".github/workflows/x.yml"},
        {"type": "file", "encoding": "base64", "content": "%%%not base64%%%"},
        workflow_file("- just\n- a list\n"),
    ],
)
async def test_get_workflow_reports_an_unreadable_file_as_malformed(gh: GitHubAdapter, body: dict[str, Any]) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/contents/.github/workflows/x.yml").respond(200, json=body)
        result = await gh.invoke("get_workflow", {"repo": REPO, "workflow": "x.yml"})
    assert result.status == "error" and result.error is not None


async def test_workflow_runs_of_one_workflow_use_its_path(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/actions/workflows/publish.yml/runs").respond(
            200, json={"total_count": 0, "workflow_runs": []}
        )
        result = await gh.invoke("list_workflow_runs", {"repo": REPO, "workflow": "publish.yml"})
    assert route.called and result.query == f"GET /repos/{REPO}/actions/workflows/publish.yml/runs"


async def test_not_found_is_reported_once(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/commits").respond(
            404,
            json={
                "message": "Not Found",
                "documentation_url": "https://docs.github.com/rest",
                "status": "404",
            },
        )
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert route.call_count == 1
    assert result.error is not None and "GitHub: Not Found" in result.error.message


async def test_rate_limit_is_reported_with_reset_time(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/commits").respond(
            403,
            json={"message": "API rate limit exceeded for installation."},
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1795169700"},
        )
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert route.call_count == 1
    assert result.error is not None
    assert "GitHub rate limit exhausted; it resets at 2026-11-20T10:15:00Z" in result.error.message


async def test_5xx_retried_then_reported(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/deployments").respond(502, text="<html>Unicorn!</html>")
        result = await gh.invoke("list_deployments", {"repo": REPO})
    assert route.call_count == 3
    assert result.error is not None and result.error.upstream_status == 502
    assert "Unicorn" in result.error.body_excerpt and "after 3 attempts" in result.error.message
    assert result.query == f"GET /repos/{REPO}/deployments"


async def test_timeout(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/commits").mock(side_effect=httpx.ReadTimeout("slow"))
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert route.call_count == 3
    assert result.error is not None and result.error.kind == "timeout"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"<!DOCTYPE html>", "not JSON"),
        (b'{"message": "ok"}', "not a JSON array"),
        (b'[{"sha": "x"}]', "unexpected shape"),
    ],
)
async def test_malformed_body(gh: GitHubAdapter, content: bytes, expected: str) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/commits").respond(200, content=content)
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert result.error is not None and expected in result.error.message
    assert result.error.body_excerpt == content.decode()


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_failure_never_leaks_the_token(gh: GitHubAdapter, status: int) -> None:
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.get(f"/repos/{REPO}/commits").respond(
            status, json={"message": f"Bad credentials for token {TOKEN}"}
        )
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert route.call_count == 1
    assert result.error is not None and "Bad credentials" in result.error.message
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"repo": "acme/../../admin", "base": "a", "head": "b"}, "repo"),
        ({"repo": REPO, "base": "main..evil", "head": "b"}, "base"),
        ({"repo": REPO, "base": "a", "head": "b?x=1"}, "head"),
    ],
)
async def test_path_parts_are_validated(gh: GitHubAdapter, args: dict[str, str], field: str) -> None:
    result = await gh.invoke("compare", args)
    assert result.error is not None and result.error.kind == "input"
    assert f"{field}:" in result.error.message


def test_only_workflow_dispatch_is_mutating() -> None:
    mutating = {name for name, spec in GitHubAdapter.calls.items() if spec.safety.mutating}
    assert mutating == {"workflow_dispatch"}
    assert set(GitHubAdapter.calls) == {
        "list_repos",
        "list_deployments",
        "list_commits",
        "compare",
        "list_workflow_runs",
        "list_workflows",
        "get_workflow",
        "workflow_dispatch",
    }
    safety = GitHubAdapter.calls["workflow_dispatch"].safety
    assert (safety.approval_tier, safety.reversible, safety.idempotent, safety.action_class) == (
        "approve",
        False,
        False,
        "workflow",
    )


DISPATCH = {"repo": REPO, "workflow": "db-migrate.yml", "ref": "main", "inputs": {"target": "v41"}}
DISPATCH_PATH = f"/repos/{REPO}/actions/workflows/db-migrate.yml/dispatches"


async def test_workflow_dispatch_without_grant_sends_nothing(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        route = mock.post(DISPATCH_PATH)
        result = await gh.invoke("workflow_dispatch", DISPATCH)
    assert result.status == "approval_required" and not route.called


async def test_workflow_dispatch_posts_ref_and_inputs(gh: GitHubAdapter, ledger: ActionLedger) -> None:
    grant = grant_for(ledger, gh, "workflow_dispatch", DISPATCH)
    with respx.mock(base_url=BASE) as mock:
        route = mock.post(DISPATCH_PATH).respond(204)
        result = await gh.invoke("workflow_dispatch", DISPATCH, grant=grant)
    request = route.calls.last.request
    assert request.url.path == f"/github{DISPATCH_PATH}"
    assert_github_headers(request)
    assert json.loads(request.content) == {"ref": "main", "inputs": {"target": "v41"}}
    assert result.status == "ok", result.summary
    assert result.query == f"POST {DISPATCH_PATH}"
    assert result.data == {"repo": REPO, "workflow": "db-migrate.yml", "ref": "main", "inputs": {"target": "v41"}}
    assert result.summary.startswith("started workflow db-migrate.yml of acme/checkout on main (target='v41')")


async def test_workflow_dispatch_reads_run_details_when_returned(gh: GitHubAdapter, ledger: ActionLedger) -> None:
    args = {**DISPATCH, "workflow": "12345", "inputs": {}}
    grant = grant_for(ledger, gh, "workflow_dispatch", args)
    with respx.mock(base_url=BASE) as mock:
        mock.post(f"/repos/{REPO}/actions/workflows/12345/dispatches").respond(
            200, json={"workflow_run_id": 987, "html_url": "https://github.com/acme/checkout/actions/runs/987"}
        )
        result = await gh.invoke("workflow_dispatch", args, grant=grant)
    assert result.data["run_id"] == 987 and result.summary.endswith("run 987")


@pytest.mark.parametrize(
    ("status", "message", "calls"),
    [
        (422, 'Unexpected inputs provided: ["target"]', 1),
        (404, "Not Found", 1),
        (503, "unavailable", 3),
    ],
)
async def test_workflow_dispatch_errors_name_the_request(
    gh: GitHubAdapter, ledger: ActionLedger, status: int, message: str, calls: int
) -> None:
    grant = grant_for(ledger, gh, "workflow_dispatch", DISPATCH)
    with capture_logs() as logs, respx.mock(base_url=BASE) as mock:
        route = mock.post(DISPATCH_PATH).respond(status, json={"message": message, "token": TOKEN})
        result = await gh.invoke("workflow_dispatch", DISPATCH, grant=grant)
    assert route.call_count == calls
    assert result.status == "error" and result.error is not None
    assert result.error.upstream_status == status
    assert (
        f"POST {DISPATCH_PATH} returned HTTP {status}: GitHub: {message.replace(chr(92), '')}" in result.error.message
    )
    assert result.params["ref"] == "main" and result.params["inputs"] == {"target": "v41"}
    assert_secret_absent(result, logs)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({**DISPATCH, "workflow": "../../evil"}, "workflow"),
        ({**DISPATCH, "ref": "main..x"}, "ref"),
        ({**DISPATCH, "inputs": {f"k{i}": "v" for i in range(26)}}, "inputs"),
    ],
)
async def test_workflow_dispatch_input_is_validated(gh: GitHubAdapter, args: dict[str, Any], field: str) -> None:
    result = await gh.invoke("workflow_dispatch", args)
    assert result.error is not None and result.error.kind == "input" and f"{field}:" in result.error.message


@pytest.mark.parametrize(
    ("path", "call", "args", "body"),
    [
        # Found by fuzzing: fields of the wrong type must not crash the summary.
        (
            f"/repos/{REPO}/deployments",
            "list_deployments",
            {"repo": REPO},
            [{"id": 1, "sha": 12345, "ref": {"x": 1}, "creator": "bot", "created_at": None}],
        ),
        (
            f"/repos/{REPO}/compare/a...b",
            "compare",
            {"repo": REPO, "base": "a", "head": "b"},
            {
                "status": "ahead",
                "total_commits": "2",
                "commits": None,
                "files": [{"filename": "f", "additions": "1", "deletions": None, "patch": 5}],
            },
        ),
        (
            f"/repos/{REPO}/actions/runs",
            "list_workflow_runs",
            {"repo": REPO},
            {"workflow_runs": [{"id": 1, "conclusion": {"odd": True}, "status": ["x"], "run_number": "7"}]},
        ),
    ],
)
async def test_fields_of_the_wrong_type_do_not_crash(
    gh: GitHubAdapter, path: str, call: str, args: dict[str, str], body: Any
) -> None:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        mock.get(path).respond(200, json=body)
        mock.get(f"/repos/{REPO}/deployments/1/statuses").respond(200, json=[{"state": 3}])
        result = await gh.invoke(call, args)
    assert result.status in ("ok", "no_data"), result.summary
    result.model_dump_json()


async def test_unreadable_rate_limit_reset_is_still_a_clear_error(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/commits").respond(
            429,
            json={"message": "slow down"},
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": "9" * 40},
        )
        result = await gh.invoke("list_commits", {"repo": REPO})
    assert result.error is not None and "resets at an unknown time" in result.error.message


# -- typed payloads -----------------------------------------------------------------------------------


async def test_read_payloads_are_typed(gh: GitHubAdapter) -> None:
    run = {
        "id": 3,
        "name": "db-migrate",
        "display_title": "Apply 0042",
        "head_sha": "9f1c",
        "status": "completed",
        "conclusion": "success",
        "run_number": 88,
        "created_at": "2026-11-20T09:45:00Z",
        "updated_at": "2026-11-20T09:47:30+00:00",
    }
    comparison = {
        "status": "ahead",
        "ahead_by": 1,
        "behind_by": 0,
        "total_commits": 1,
        "commits": [commit("bbb222", "Raise pool", "2026-11-20T09:00:00Z")],
        "files": [
            {
                "filename": "config/pool.yaml",
                "status": "modified",
                "additions": 1,
                "deletions": 1,
                "changes": 2,
                "patch": "-50\n+5",
            }
        ],
    }
    with respx.mock(base_url=BASE) as mock:
        mock.get(f"/repos/{REPO}/deployments").respond(
            200, json=[deployment(202, "9f1c2e3d", "v1.4.3", "2026-11-20T09:58:00Z")]
        )
        mock.get(f"/repos/{REPO}/deployments/202/statuses").respond(
            200, json=[{"state": "failure", "created_at": "2026-11-20T10:00:00Z"}]
        )
        mock.get(f"/repos/{REPO}/commits").respond(
            200, json=[commit("9f1c2e3d", "Raise pool size", "2026-11-20T09:40:00Z")]
        )
        mock.get(f"/repos/{REPO}/actions/runs").respond(200, json={"total_count": 1, "workflow_runs": [run]})
        mock.get(f"/repos/{REPO}/compare/v1...v2").respond(200, json=comparison)
        deployments = (await gh.invoke("list_deployments", ListDeploymentsInput(repo=REPO))).payload(DeploymentList)
        commits = (await gh.invoke("list_commits", {"repo": REPO})).payload(CommitList)
        runs = (await gh.invoke("list_workflow_runs", {"repo": REPO})).payload(WorkflowRunList)
        compared = await gh.invoke("compare", {"repo": REPO, "base": "v1", "head": "v2"})

    first = deployments.deployments[0]
    assert first.id == 202 and first.state == "failure"
    assert first.created_at == datetime(2026, 11, 20, 9, 58, tzinfo=UTC)
    assert first.state_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert commits.commits[0].date == datetime(2026, 11, 20, 9, 40, tzinfo=UTC)
    assert runs.runs[0].updated_at == datetime(2026, 11, 20, 9, 47, 30, tzinfo=UTC) and runs.runs[0].run_number == 88
    files = compared.payload(Comparison).files
    assert files[0].filename == "config/pool.yaml" and files[0].additions == 1
    # data keeps the wire shape: no status keys GitHub did not send, times as RFC 3339.
    assert (
        DeploymentList.model_validate({"deployments": [first.model_dump(mode="json")], "count": 1, "has_more": False})
        == deployments
    )
    assert "log_url" not in first.model_dump(mode="json") and "status_error" not in first.model_dump(mode="json")
    assert compared.data["files"][0] == {
        "filename": "config/pool.yaml",
        "status": "modified",
        "additions": 1,
        "deletions": 1,
        "changes": 2,
        "patch": "-50\n+5",
    }


def org_repo(name: str, pushed: str, **extra: Any) -> dict[str, Any]:
    """One entry of GET /orgs/{org}/repos, trimmed to what the adapter reads plus noise it ignores."""
    return {
        "id": 1296269,
        "node_id": "MDEwOlJlcG9zaXRvcnkxMjk2MjY5",
        "name": name,
        "full_name": f"acme/{name}",
        "owner": {"login": "acme", "type": "Organization"},
        "private": True,
        "html_url": f"https://github.com/acme/{name}",
        "description": extra.pop("description", None),
        "fork": False,
        "url": f"https://api.github.com/repos/acme/{name}",
        "language": extra.pop("language", None),
        "default_branch": "main",
        "pushed_at": pushed,
        "created_at": "2024-01-26T19:01:12Z",
        "updated_at": pushed,
        "archived": extra.pop("archived", False),
        "topics": extra.pop("topics", []),
        "visibility": "private",
        "permissions": {"admin": False, "push": False, "pull": True},
        **extra,
    }


async def test_list_repos_of_an_organisation(gh: GitHubAdapter) -> None:
    repos = [
        org_repo("flags", "2026-11-20T09:50:00Z", description="Feature flags", topics=["flags"]),
        org_repo("checkout", "2026-11-19T12:00:00Z", language="Go"),
        org_repo("legacy-billing", "2023-02-01T08:00:00Z", archived=True),
    ]
    link = f'<{BASE}/orgs/acme/repos?page=2>; rel="next"'
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/orgs/acme/repos").respond(200, json=repos, headers={"Link": link})
        result = await gh.invoke("list_repos", {"owner": "acme", "per_page": 3})
    request = route.calls.last.request
    assert_github_headers(request)
    assert dict(request.url.params) == {"per_page": "3", "sort": "pushed"}
    assert result.status == "ok" and result.query == "GET /orgs/acme/repos"
    first = result.data["repos"][0]
    assert (
        first["full_name"] == "acme/flags" and first["topics"] == ["flags"] and first["description"] == "Feature flags"
    )
    assert result.data["repos"][2]["archived"] is True and result.data["has_more"] is True
    assert result.summary.startswith("3+ repositories of acme by pushed: acme/flags (pushed 2026-11-20T09:50:00Z)")
    assert "acme/legacy-billing (pushed 2023-02-01T08:00:00Z, archived)" in result.summary


async def test_list_repos_falls_back_to_a_user_account(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/orgs/kim/repos").respond(404, json={"message": "Not Found", "documentation_url": "https://docs"})
        mock.get("/users/kim/repos").respond(200, json=[])
        result = await gh.invoke("list_repos", {"owner": "kim"})
    assert result.status == "no_data" and result.query == "GET /users/kim/repos"
    assert result.summary == "no repositories visible in kim"


async def test_list_repos_reports_a_malformed_entry(gh: GitHubAdapter) -> None:
    with respx.mock(base_url=BASE) as mock:
        mock.get("/orgs/acme/repos").respond(200, json=[{"name": "no-full-name"}])
        result = await gh.invoke("list_repos", {"owner": "acme"})
    assert result.status == "error" and result.error is not None
    assert "a repository has an unexpected shape" in result.error.message


async def test_list_repos_rejects_a_bad_owner(gh: GitHubAdapter) -> None:
    result = await gh.invoke("list_repos", {"owner": "acme/flags"})
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "input" and "owner:" in result.error.message
