"""GitHub REST API (version 2022-11-28): repositories (one, or an organisation's), deployments, commits,
compare, Actions runs and dispatches.

Lists paginate with ``per_page``/``page`` and a ``Link`` header, as GitHub does. A workflow dispatch
(``POST .../actions/workflows/{id}/dispatches``) answers 204 and is recorded as the action
``github.workflow_dispatch`` with ``{repo, workflow, ref, inputs}`` (the inputs checked against the
workflow's declared ones and completed with their defaults). Errors are
``{"message", "documentation_url", "status"}``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import answering, int_param, json_body, json_response, mount_url, request_id
from evals.sim.repos import GitHubError
from evals.sim.world import World

API_VERSION = "2022-11-28"


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {
        "x-github-api-version-selected": API_VERSION,
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-used": "1",
        "x-ratelimit-reset": str(int(time.time()) + 3600),
        "x-ratelimit-resource": "core",
    }
    headers.update(extra or {})
    return headers


def _page(request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
    """One page of ``items`` and the ``Link`` header pointing at the others."""
    try:
        per_page = int_param(request.query_params, "per_page", 30, low=1, high=100)
        page = int_param(request.query_params, "page", 1, low=1, high=10**6)
    except ValueError as exc:
        raise GitHubError(422, f"Invalid request.\n\n{exc}") from exc
    last = max(1, -(-len(items) // per_page))
    links = []

    def link(number: int, rel: str) -> str:
        return f'<{request.url.include_query_params(page=number, per_page=per_page)}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    headers = {"link": ", ".join(links)} if links else {}
    return items[(page - 1) * per_page : page * per_page], headers


def routes(world: World) -> list[BaseRoute]:
    state = world.github

    guarded = answering(GitHubError, lambda exc: json_response(exc.body(), exc.status, _headers()))

    def repo_of(request: Request) -> Any:
        return state.repo(request.path_params["owner"], request.path_params["repo"])

    def paged(request: Request, items: list[Any]) -> Response:
        page, headers = _page(request, items)
        return json_response(page, headers=_headers(headers))

    async def get_repo(request: Request) -> Response:
        with world.locked():
            return json_response(state.render_repo(repo_of(request), mount_url(request)), headers=_headers())

    async def owner_repos(request: Request) -> Response:
        q = request.query_params
        sort = q.get("sort", "created")
        if sort not in ("created", "updated", "pushed", "full_name"):
            raise GitHubError(
                422, f"Invalid request.\n\n{sort!r} is not a valid sort (created, updated, pushed, full_name)."
            )
        direction = q.get("direction", "asc" if sort == "full_name" else "desc")
        owner = request.path_params.get("org") or request.path_params["user"]
        with world.locked():
            rendered = [state.render_repo(r, mount_url(request)) for r in state.owner_repos(owner)]
        kind = q.get("type", "all")
        if kind == "forks":
            rendered = []
        elif kind == "public":
            rendered = [r for r in rendered if not r["private"]]
        elif kind == "private":
            rendered = [r for r in rendered if r["private"]]
        key = {"created": "created_at", "updated": "updated_at", "pushed": "pushed_at", "full_name": "full_name"}[sort]
        rendered.sort(key=lambda r: (r[key], r["full_name"]), reverse=direction == "desc")
        return paged(request, rendered)

    async def deployments(request: Request) -> Response:
        q = request.query_params
        with world.locked():
            found = state.list_deployments(
                repo_of(request),
                mount_url(request),
                sha=q.get("sha"),
                ref=q.get("ref"),
                task=q.get("task"),
                environment=q.get("environment"),
            )
        return paged(request, found)

    async def deployment(request: Request) -> Response:
        with world.locked():
            repo = repo_of(request)
            wanted = request.path_params["id"]
            for item in state.list_deployments(
                repo, mount_url(request), sha=None, ref=None, task=None, environment=None
            ):
                if str(item["id"]) == wanted:
                    return json_response(item, headers=_headers())
        raise GitHubError(404, "Not Found")

    async def deployment_statuses(request: Request) -> Response:
        with world.locked():
            found = state.deployment_statuses(repo_of(request), request.path_params["id"], mount_url(request))
        return paged(request, found)

    async def commits(request: Request) -> Response:
        q = request.query_params
        with world.locked():
            found = state.list_commits(
                repo_of(request),
                mount_url(request),
                sha=q.get("sha"),
                path=q.get("path"),
                author=q.get("author"),
                since=q.get("since"),
                until=q.get("until"),
            )
        return paged(request, found)

    async def commit(request: Request) -> Response:
        with world.locked():
            return json_response(
                state.get_commit(repo_of(request), request.path_params["ref"], mount_url(request)), headers=_headers()
            )

    async def compare(request: Request) -> Response:
        with world.locked():
            return json_response(
                state.compare(repo_of(request), request.path_params["basehead"], mount_url(request)), headers=_headers()
            )

    def runs_response(request: Request, workflow_id: str | None) -> Response:
        q = request.query_params
        with world.locked():
            repo = repo_of(request)
            workflow = state.workflow(repo, workflow_id) if workflow_id is not None else None
            found = state.list_runs(
                repo,
                mount_url(request),
                workflow=workflow,
                branch=q.get("branch"),
                event=q.get("event"),
                status=q.get("status"),
                head_sha=q.get("head_sha"),
                created=q.get("created"),
                actor=q.get("actor"),
            )
        page, headers = _page(request, found)
        return json_response({"total_count": len(found), "workflow_runs": page}, headers=_headers(headers))

    async def runs(request: Request) -> Response:
        return runs_response(request, None)

    async def workflow_runs(request: Request) -> Response:
        return runs_response(request, request.path_params["workflow_id"])

    async def run(request: Request) -> Response:
        with world.locked():
            repo = repo_of(request)
            for record in repo.runs:
                if str(record.id) == request.path_params["run_id"] and record.created_at <= world.now_ts():
                    return json_response(state.render_run(repo, record, mount_url(request)), headers=_headers())
        raise GitHubError(404, "Not Found")

    async def workflows(request: Request) -> Response:
        with world.locked():
            return json_response(state.list_workflows(repo_of(request), mount_url(request)), headers=_headers())

    async def contents(request: Request) -> Response:
        with world.locked():
            answer = state.workflow_file(repo_of(request), request.path_params["path"], mount_url(request))
        return json_response(answer, headers=_headers())

    async def dispatch(request: Request) -> Response:
        body = await json_body(request)
        with world.locked():
            repo = repo_of(request)
            created = state.dispatch(repo, request.path_params["workflow_id"], body)
            world.apply_action(
                "github.workflow_dispatch",
                {
                    "repo": repo.full_name,
                    "workflow": created.workflow.path.rsplit("/", 1)[-1],
                    "ref": body["ref"],
                    "inputs": created.inputs,
                },
                request_id=request_id(request),
            )
        return Response(status_code=204, headers=_headers())

    async def rate_limit(request: Request) -> Response:
        # Costs no quota on GitHub; firstline's connectivity check reads it.
        reset = int(time.time()) + 3600
        core = {"limit": 5000, "used": 1, "remaining": 4999, "reset": reset}
        return json_response({"resources": {"core": core}, "rate": core}, headers=_headers())

    async def unknown(request: Request) -> Response:
        raise GitHubError(404, "Not Found")

    repo = "/repos/{owner}/{repo}"
    return [
        Route("/rate_limit", rate_limit, methods=["GET"]),
        Route("/orgs/{org}/repos", guarded(owner_repos), methods=["GET"]),
        Route("/users/{user}/repos", guarded(owner_repos), methods=["GET"]),
        Route(repo, guarded(get_repo), methods=["GET"]),
        Route(f"{repo}/deployments", guarded(deployments), methods=["GET"]),
        Route(f"{repo}/deployments/{{id}}", guarded(deployment), methods=["GET"]),
        Route(f"{repo}/deployments/{{id}}/statuses", guarded(deployment_statuses), methods=["GET"]),
        Route(f"{repo}/commits", guarded(commits), methods=["GET"]),
        Route(f"{repo}/commits/{{ref}}", guarded(commit), methods=["GET"]),
        Route(f"{repo}/compare/{{basehead:path}}", guarded(compare), methods=["GET"]),
        Route(f"{repo}/contents/{{path:path}}", guarded(contents), methods=["GET"]),
        Route(f"{repo}/actions/runs", guarded(runs), methods=["GET"]),
        Route(f"{repo}/actions/runs/{{run_id}}", guarded(run), methods=["GET"]),
        Route(f"{repo}/actions/workflows", guarded(workflows), methods=["GET"]),
        Route(f"{repo}/actions/workflows/{{workflow_id}}/runs", guarded(workflow_runs), methods=["GET"]),
        Route(f"{repo}/actions/workflows/{{workflow_id}}/dispatches", guarded(dispatch), methods=["POST"]),
        Route("/{path:path}", guarded(unknown), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]
