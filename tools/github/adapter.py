"""GitHub REST API: deployments with their latest status, commits, comparisons, workflow runs, and
``workflow_dispatch`` (the one mutating call: it starts a workflow, so it needs an execution grant).

Every request pins ``X-GitHub-Api-Version: 2022-11-28`` and ``Accept: application/vnd.github+json``
(``2026-03-10`` is the first version with breaking changes; requests without the header fall back to
2022-11-28, which stays supported until at least 2028). Errors are ``{"message", "documentation_url"}``;
an exhausted rate limit is a 403 or 429 with ``x-ratelimit-remaining: 0`` and is reported with its
reset time. Only the first page is read; ``has_more`` says when the ``Link`` header offers another.

The base URL is the API root (``https://api.github.com``, or ``https://ghe.example.com/api/v3``); the
deployment statuses are fetched from a path built from the ids, never from the absolute
``statuses_url`` in the payload, so a base URL with a path prefix (a proxy, the simulator) still works.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from tools.base import (
    Adapter,
    AdapterSettings,
    SafetyMetadata,
    TimeWindow,
    ToolResult,
    UpstreamError,
    tool_call,
)
from tools.github.models import (
    CommitList,
    CompareInput,
    Comparison,
    DeploymentList,
    DeploymentRecord,
    GetWorkflowInput,
    ListCommitsInput,
    ListDeploymentsInput,
    ListReposInput,
    ListWorkflowRunsInput,
    ListWorkflowsInput,
    RepositoryList,
    Workflow,
    WorkflowDefinition,
    WorkflowDispatchInput,
    WorkflowList,
    WorkflowRunList,
)
from tools.github.wire import (
    as_object,
    describe_github_error,
    read_commit,
    read_comparison,
    read_deployment,
    read_repository,
    read_run,
    read_workflow_file,
    reset_time,
    with_latest_status,
)
from tools.wire import (
    as_dict,
    decode_json,
    expect_dict,
    expect_list,
    malformed,
    opt_int,
    opt_str,
    rfc3339,
)

API_VERSION = "2022-11-28"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}

DISPATCH_SAFETY = SafetyMetadata(
    mutating=True,
    # What a workflow does is up to the workflow (a deploy, a migration): firstline cannot promise an undo.
    reversible=False,
    idempotent=False,  # every dispatch starts another run
    blast_radius="service",
    approval_tier="approve",
    action_class="workflow",
)


class GitHubAdapter(Adapter):
    """Reads change history from GitHub (or GitHub Enterprise Server) with a token."""

    kind: ClassVar[str] = "github"
    description: ClassVar[str] = (
        "GitHub: an organisation's repositories, deployments, commits, comparisons between refs, workflow runs; "
        "start a workflow (workflow_dispatch)."
    )
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(
        description="List the newest deployments of a repository, each with its latest status.",
        result=DeploymentList,
    )
    async def list_deployments(self, args: ListDeploymentsInput) -> ToolResult:
        path = f"/repos/{args.repo}/deployments"
        params: dict[str, Any] = {"per_page": args.per_page}
        if args.environment:
            params["environment"] = args.environment
        response, body = await self._get(path, params)
        items = expect_list(self.http, response, path, body, "the body")
        try:
            found = [read_deployment(as_object(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"a deployment has an unexpected shape ({exc!r})") from None
        statuses = await asyncio.gather(*(self._statuses(args.repo, d.id) for d in found))
        deployments = [with_latest_status(d, st) for d, st in zip(found, statuses, strict=True)]
        where = f" to {args.environment}" if args.environment else ""
        return ToolResult.with_payload(
            DeploymentList(deployments=deployments, count=len(deployments), has_more="next" in response.links),
            tool=self.tool_id("list_deployments"),
            status="ok" if deployments else "no_data",
            query=f"GET {path}",
            params=params,
            summary=_deployments_line(deployments, args.repo, where)
            if deployments
            else f"no deployments of {args.repo}{where}",
        )

    @tool_call(
        description="List an organisation's repositories, most recently pushed first: where a change may live "
        "when the service's own repository shows none (a flags, config or infrastructure repository).",
        result=RepositoryList,
    )
    async def list_repos(self, args: ListReposInput) -> ToolResult:
        params: dict[str, Any] = {"per_page": args.per_page, "sort": args.sort}
        path = f"/orgs/{args.owner}/repos"
        try:
            response, body = await self._get(path, params)
        except UpstreamError as exc:
            if exc.status_code != 404:
                raise
            # Not an organisation: a user account's repositories live under /users.
            path = f"/users/{args.owner}/repos"
            response, body = await self._get(path, params)
        items = expect_list(self.http, response, path, body, "the body")
        try:
            repos = [read_repository(as_object(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"a repository has an unexpected shape ({exc!r})") from None
        more = "next" in response.links
        return ToolResult.with_payload(
            RepositoryList(owner=args.owner, repos=repos, count=len(repos), has_more=more),
            tool=self.tool_id("list_repos"),
            status="ok" if repos else "no_data",
            query=f"GET {path}",
            params=params,
            summary=(
                f"{len(repos)}{'+' if more else ''} repositories of {args.owner} by {args.sort}: "
                + ", ".join(
                    f"{r.full_name} (pushed {_when(r.pushed_at)}{', archived' if r.archived else ''})"
                    for r in repos[:8]
                )
                + (", ..." if len(repos) > 8 else "")
                if repos
                else f"no repositories visible in {args.owner}"
            ),
        )

    @tool_call(
        description="List commits of a repository, newest first, optionally in a time range, on a ref or path.",
        result=CommitList,
    )
    async def list_commits(self, args: ListCommitsInput) -> ToolResult:
        path = f"/repos/{args.repo}/commits"
        params: dict[str, Any] = {"per_page": args.per_page}
        if args.sha:
            params["sha"] = args.sha
        if args.since:
            params["since"] = rfc3339(args.since)
        if args.until:
            params["until"] = rfc3339(args.until)
        if args.path:
            params["path"] = args.path
        response, body = await self._get(path, params)
        items = expect_list(self.http, response, path, body, "the body")
        try:
            commits = [read_commit(as_object(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"a commit has an unexpected shape ({exc!r})") from None
        window = TimeWindow(start=args.since, end=args.until) if args.since and args.until else None
        scope = f"{args.repo}{'@' + args.sha if args.sha else ''}{' ' + args.path if args.path else ''}"
        span = _span(args.since, args.until)
        return ToolResult.with_payload(
            CommitList(commits=commits, count=len(commits), has_more="next" in response.links),
            tool=self.tool_id("list_commits"),
            status="ok" if commits else "no_data",
            query=f"GET {path}",
            params=params,
            window=window,
            summary=(
                f"{len(commits)}{'+' if 'next' in response.links else ''} commits on {scope}{span}; newest: "
                f"{commits[0].sha[:7]} {commits[0].message!r} by {commits[0].author} at {_when(commits[0].date)}"
                if commits
                else f"no commits on {scope}{span}"
            ),
        )

    @tool_call(
        description="Compare two refs (base...head): how far apart they are, the commits in between and the files "
        "changed with a patch excerpt. Use it to see what a deployment changed.",
        result=Comparison,
    )
    async def compare(self, args: CompareInput) -> ToolResult:
        path = f"/repos/{args.repo}/compare/{quote(args.base, safe='/:@')}...{quote(args.head, safe='/:@')}"
        response, body = await self._get(path, None)
        comparison = expect_dict(self.http, response, path, body, "the body")
        try:
            data = read_comparison(comparison)
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"the comparison has an unexpected shape ({exc!r})") from None
        identical = data.status == "identical" or (not data.total_commits and not data.files)
        files = data.files
        added = sum(f.additions for f in files)
        removed = sum(f.deletions for f in files)
        listed = ", ".join(f"{f.filename} ({f.status} +{f.additions} -{f.deletions})" for f in files[:5])
        return ToolResult.with_payload(
            data,
            tool=self.tool_id("compare"),
            status="no_data" if identical else "ok",
            query=f"GET {path}",
            params={},
            summary=(
                f"{args.base} and {args.head} are identical"
                if identical
                else f"{args.head} is {data.ahead_by} commits ahead of and {data.behind_by} behind {args.base} "
                f"({data.status}); {len(files)} files changed (+{added} -{removed}): {listed}"
                + (", ..." if len(files) > 5 else "")
            ),
        )

    @tool_call(
        description="List GitHub Actions workflow runs, newest first, optionally by branch, creation time, "
        "event or status (e.g. failure).",
        result=WorkflowRunList,
    )
    async def list_workflow_runs(self, args: ListWorkflowRunsInput) -> ToolResult:
        path = (
            f"/repos/{args.repo}/actions/workflows/{args.workflow}/runs"
            if args.workflow
            else f"/repos/{args.repo}/actions/runs"
        )
        params: dict[str, Any] = {"per_page": args.per_page}
        for key in ("branch", "event", "status"):
            if getattr(args, key):
                params[key] = getattr(args, key)
        created = _created_filter(args.created_after, args.created_before)
        if created:
            params["created"] = created
        response, body = await self._get(path, params)
        envelope = expect_dict(self.http, response, path, body, "the body")
        items = expect_list(self.http, response, path, envelope.get("workflow_runs"), "workflow_runs")
        try:
            runs = [read_run(as_object(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"a workflow run has an unexpected shape ({exc!r})") from None
        # GitHub filters `created` by whole days; keep exactly the runs inside the requested times.
        runs = [r for r in runs if _within(r.created_at, args.created_after, args.created_before)]
        window = (
            TimeWindow(start=args.created_after, end=args.created_before)
            if args.created_after and args.created_before
            else None
        )
        outcomes = Counter(r.conclusion or r.status for r in runs)
        return ToolResult.with_payload(
            WorkflowRunList(
                runs=runs,
                returned=len(runs),
                total_count=opt_int(envelope.get("total_count")),
                has_more="next" in response.links,
            ),
            tool=self.tool_id("list_workflow_runs"),
            status="ok" if runs else "no_data",
            query=f"GET {path}",
            params=params,
            window=window,
            summary=(
                f"{len(runs)} workflow runs of {args.repo}{_span(args.created_after, args.created_before)}: "
                + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.most_common())
                + f"; newest: {runs[0].name} #{runs[0].run_number} on {runs[0].branch} "
                f"({runs[0].conclusion or runs[0].status}) at {_when(runs[0].created_at)}"
                if runs
                else f"no workflow runs of {args.repo}{_span(args.created_after, args.created_before)}"
            ),
        )

    @tool_call(
        description="List a repository's GitHub Actions workflows (name, file, state): the runbook jobs "
        "workflow_dispatch can start, e.g. a rollback or revert workflow.",
        result=WorkflowList,
    )
    async def list_workflows(self, args: ListWorkflowsInput) -> ToolResult:
        path = f"/repos/{args.repo}/actions/workflows"
        params: dict[str, Any] = {"per_page": 100}
        response, body = await self._get(path, params)
        envelope = expect_dict(self.http, response, path, body, "the body")
        items = expect_list(self.http, response, path, envelope.get("workflows"), "workflows")
        try:
            workflows = [
                Workflow(
                    id=int(item["id"]),
                    name=str(item["name"]),
                    path=str(item["path"]),
                    state=opt_str(item.get("state")),
                )
                for item in (as_object(raw) for raw in items)
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(self.http, response, path, f"a workflow has an unexpected shape ({exc!r})") from None
        return ToolResult.with_payload(
            WorkflowList(workflows=workflows, count=len(workflows)),
            tool=self.tool_id("list_workflows"),
            status="ok" if workflows else "no_data",
            query=f"GET {path}",
            params=params,
            summary=(
                f"{len(workflows)} workflows of {args.repo}: " + ", ".join(f"{w.name} ({w.file})" for w in workflows)
                if workflows
                else f"no workflows in {args.repo}"
            ),
        )

    @tool_call(
        description="Read a workflow file of a repository (.github/workflows/NAME.yml): whether it can be "
        "dispatched and its workflow_dispatch inputs (name, required, type, default, options), so a dispatch "
        "passes the inputs it needs.",
        result=WorkflowDefinition,
    )
    async def get_workflow(self, args: GetWorkflowInput) -> ToolResult:
        path = f"/repos/{args.repo}/contents/.github/workflows/{quote(args.workflow)}"
        params: dict[str, Any] = {"ref": args.ref} if args.ref else {}
        response, body = await self._get(path, params or None)
        envelope = expect_dict(self.http, response, path, body, "the body")
        try:
            definition = read_workflow_file(args.repo, str(envelope.get("path") or path), envelope)
        except ValueError as exc:
            raise malformed(self.http, response, path, str(exc)) from None
        inputs = ", ".join(
            f"{i.name}{' (required)' if i.required and i.default is None else ''}" for i in definition.inputs
        )
        return ToolResult.with_payload(
            definition,
            tool=self.tool_id("get_workflow"),
            status="ok",
            query=f"GET {path}",
            params=params,
            summary=(
                f"workflow {definition.name or args.workflow} of {args.repo}: "
                + ("dispatchable" if definition.dispatchable else "no workflow_dispatch trigger")
                + (f", inputs {inputs}" if inputs else ", no inputs")
            ),
        )

    @tool_call(
        description="Start a GitHub Actions workflow that has a workflow_dispatch trigger (a runbook job, a "
        "migration, a redeploy) on a branch or tag, with its inputs. Find the run afterwards with "
        "list_workflow_runs(event=workflow_dispatch).",
        safety=DISPATCH_SAFETY,
    )
    async def workflow_dispatch(self, args: WorkflowDispatchInput) -> ToolResult:
        path = f"/repos/{args.repo}/actions/workflows/{args.workflow}/dispatches"
        body: dict[str, Any] = {"ref": args.ref, "inputs": dict(args.inputs)}
        response = await self.http.request(
            "POST", path, json=body, headers=API_HEADERS, describe_error=describe_github_error
        )
        data: dict[str, Any] = {"repo": args.repo, "workflow": args.workflow, "ref": args.ref, "inputs": body["inputs"]}
        # GitHub answers 204 No Content; newer versions can answer 200 with the run's id and URLs.
        if response.status_code == 200 and response.content:
            answer = as_dict(decode_json(self.http, response, path))
            data["run_id"] = opt_int(answer.get("workflow_run_id"))
            data["run_url"] = opt_str(answer.get("html_url"))
        inputs = ", ".join(f"{k}={v!r}" for k, v in args.inputs.items()) or "no inputs"
        return ToolResult(
            tool=self.tool_id("workflow_dispatch"),
            status="ok",
            query=f"POST {path}",
            params=body,
            data=data,
            summary=f"started workflow {args.workflow} of {args.repo} on {args.ref} ({inputs})"
            + (
                f": run {data['run_id']}" if data.get("run_id") else "; see list_workflow_runs(event=workflow_dispatch)"
            ),
        )

    async def check(self) -> str:
        """``GET /rate_limit``: costs no quota, and a bad token is a 401."""
        response, body = await self._get("/rate_limit", None)
        core = as_dict(
            as_dict(expect_dict(self.http, response, "/rate_limit", body, "the body").get("resources")).get("core")
        )
        remaining, limit = opt_int(core.get("remaining")), opt_int(core.get("limit"))
        if remaining is None or limit is None:
            raise malformed(self.http, response, "/rate_limit", "the body has no resources.core limits")
        reset = reset_time(str(core.get("reset", "")))
        return f"GitHub API: {remaining} of {limit} core requests left (resets at {reset})"

    # -- wire helpers -------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any] | None) -> tuple[httpx.Response, Any]:
        response = await self.http.request(
            "GET", path, params=params, headers=API_HEADERS, describe_error=describe_github_error
        )
        return response, decode_json(self.http, response, path)

    async def _statuses(self, repo: str, deployment_id: int) -> list[Any] | str:
        """A deployment's newest status (a one-item list), or the error text: a failure here degrades
        to a note on the deployment, not a failed call."""
        path = f"/repos/{repo}/deployments/{deployment_id}/statuses"
        try:
            response, body = await self._get(path, {"per_page": 1})
            return expect_list(self.http, response, path, body, "the body")
        except UpstreamError as exc:
            return str(exc)


def _when(value: datetime | None) -> str:
    return rfc3339(value) if value else "an unknown time"


def _deployments_line(deployments: list[DeploymentRecord], repo: str, where: str) -> str:
    def one(d: DeploymentRecord) -> str:
        sha = (d.sha or "")[:7]
        return f"{sha} (ref {d.ref}) at {_when(d.created_at)} by {d.creator}, state {d.state}"

    text = f"{len(deployments)} deployments of {repo}{where}; newest: {one(deployments[0])}"
    if len(deployments) > 1:
        text += f"; previous: {one(deployments[1])}"
    return text


def _created_filter(after: datetime | None, before: datetime | None) -> str | None:
    """GitHub's search syntax for ``created`` at day granularity: ``>=D``, ``<=D`` or ``D1..D2``."""
    if after and before:
        return f"{after.date().isoformat()}..{before.date().isoformat()}"
    if after:
        return f">={after.date().isoformat()}"
    if before:
        return f"<={before.date().isoformat()}"
    return None


def _within(created_at: datetime | None, after: datetime | None, before: datetime | None) -> bool:
    if created_at is None:
        return True  # keep what cannot be placed rather than hide it
    return (after is None or created_at >= after) and (before is None or created_at <= before)


def _span(start: datetime | None, end: datetime | None) -> str:
    if start and end:
        return f" between {rfc3339(start)} and {rfc3339(end)}"
    if start:
        return f" since {rfc3339(start)}"
    if end:
        return f" until {rfc3339(end)}"
    return ""
