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
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tools.base import (
    Adapter,
    AdapterSettings,
    SafetyMetadata,
    TimeWindow,
    ToolResult,
    UpstreamError,
    tool_call,
)
from tools.wire import (
    UtcDatetime,
    as_dict,
    as_list,
    as_utc,
    clip,
    decode_json,
    expect_dict,
    expect_list,
    first_line,
    json_field,
    malformed,
    opt_int,
    opt_str,
    rfc3339,
)

API_VERSION = "2022-11-28"
API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
REPO_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
REF_PATTERN = r"^[A-Za-z0-9._/@:+-]{1,250}$"
PATCH_EXCERPT_CHARS = 1500
COMPARE_COMMITS_SHOWN = 50
WORKFLOW_PATTERN = r"^(?:[A-Za-z0-9._-]+\.ya?ml|[0-9]{1,20})$"
MAX_DISPATCH_INPUTS = 25  # GitHub's limit on workflow_dispatch inputs

DISPATCH_SAFETY = SafetyMetadata(
    mutating=True,
    # What a workflow does is up to the workflow (a deploy, a migration): firstline cannot promise an undo.
    reversible=False,
    idempotent=False,  # every dispatch starts another run
    blast_radius="service",
    approval_tier="approve",
    action_class="workflow",
)

RunStatus = Literal[
    "completed",
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "skipped",
    "stale",
    "success",
    "timed_out",
    "in_progress",
    "queued",
    "requested",
    "waiting",
    "pending",
]


def _check_repo(value: str) -> str:
    if value.split("/", 1)[1] in (".", ".."):
        raise ValueError("the repository name cannot be . or ..")
    return value


def _check_ref(value: str | None) -> str | None:
    if value is not None and (".." in value or value.startswith("/") or value.endswith("/")):
        raise ValueError("a git ref cannot contain '..' or start or end with '/'")
    return value


RepoField = Field(pattern=REPO_PATTERN, description='Repository as "owner/name", e.g. acme/checkout.')


class ListDeploymentsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    environment: str | None = Field(
        default=None, description="Only deployments to this environment, e.g. production."
    )
    per_page: int = Field(
        default=10,
        ge=1,
        le=30,
        description="How many of the newest deployments (each costs one more request for its status).",
    )

    check_repo = field_validator("repo")(_check_repo)


class ListCommitsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    since: UtcDatetime | None = Field(
        default=None, description="Only commits after this time (UTC, RFC 3339)."
    )
    until: UtcDatetime | None = Field(
        default=None, description="Only commits before this time (UTC, RFC 3339)."
    )
    sha: str | None = Field(
        default=None,
        pattern=REF_PATTERN,
        description="Branch, tag or SHA to list from (default branch if omitted).",
    )
    path: str | None = Field(default=None, description="Only commits touching this file or directory.")
    per_page: int = Field(default=30, ge=1, le=100, description="Maximum number of commits, newest first.")

    check_repo = field_validator("repo")(_check_repo)
    check_sha = field_validator("sha")(_check_ref)

    @field_validator("until")
    @classmethod
    def _until_after_since(cls, until: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if since is not None and until is not None and until <= since:
            raise ValueError(f"until ({rfc3339(until)}) must be after since ({rfc3339(since)})")
        return until


class CompareInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    base: str = Field(pattern=REF_PATTERN, description="Base ref: the known-good SHA, tag or branch.")
    head: str = Field(pattern=REF_PATTERN, description="Head ref: the suspect SHA, tag or branch.")

    check_repo = field_validator("repo")(_check_repo)
    check_refs = field_validator("base", "head")(_check_ref)


class ListWorkflowRunsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    branch: str | None = Field(default=None, pattern=REF_PATTERN, description="Only runs for this branch.")
    created_after: UtcDatetime | None = Field(
        default=None, description="Only runs created at or after this time (UTC)."
    )
    created_before: UtcDatetime | None = Field(
        default=None, description="Only runs created at or before this time (UTC)."
    )
    event: str | None = Field(
        default=None,
        pattern=r"^[a-z_]+$",
        description="Only runs triggered by this event, e.g. push or deployment.",
    )
    status: RunStatus | None = Field(
        default=None, description="Only runs with this status or conclusion, e.g. failure or in_progress."
    )
    per_page: int = Field(default=20, ge=1, le=100, description="Maximum number of runs, newest first.")

    check_repo = field_validator("repo")(_check_repo)
    check_branch = field_validator("branch")(_check_ref)

    @field_validator("created_before")
    @classmethod
    def _before_after_after(cls, before: datetime | None, info: ValidationInfo) -> datetime | None:
        after = info.data.get("created_after")
        if after is not None and before is not None and before <= after:
            raise ValueError(
                f"created_before ({rfc3339(before)}) must be after created_after ({rfc3339(after)})"
            )
        return before


class WorkflowDispatchInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    workflow: str = Field(
        pattern=WORKFLOW_PATTERN,
        description="The workflow's file name (db-migrate.yml) or numeric id; it must have a workflow_dispatch trigger.",
    )
    ref: str = Field(pattern=REF_PATTERN, description="Branch or tag to run the workflow on, e.g. main or v1.4.2.")
    inputs: dict[str, str] = Field(
        default_factory=dict,
        max_length=MAX_DISPATCH_INPUTS,
        description="The workflow's declared inputs, name -> value as a string (at most 25), e.g. "
        '{"target": "v41", "dry_run": "false"}.',
    )

    check_repo = field_validator("repo")(_check_repo)
    check_ref = field_validator("ref")(_check_ref)


class GitHubAdapter(Adapter):
    """Reads change history from GitHub (or GitHub Enterprise Server) with a token."""

    kind: ClassVar[str] = "github"
    description: ClassVar[str] = (
        "GitHub: deployments, commits, comparisons between refs, workflow runs; start a workflow (workflow_dispatch)."
    )
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(description="List the newest deployments of a repository, each with its latest status.")
    async def list_deployments(self, args: ListDeploymentsInput) -> ToolResult:
        path = f"/repos/{args.repo}/deployments"
        params: dict[str, Any] = {"per_page": args.per_page}
        if args.environment:
            params["environment"] = args.environment
        response, body = await self._get(path, params)
        items = expect_list(self.http, response, path, body, "the body")
        try:
            deployments = [_deployment(_obj(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(
                self.http, response, path, f"a deployment has an unexpected shape ({exc!r})"
            ) from None
        statuses = await asyncio.gather(*(self._latest_status(args.repo, d["id"]) for d in deployments))
        for deployment, status in zip(deployments, statuses, strict=True):
            deployment.update(status)
        where = f" to {args.environment}" if args.environment else ""
        return ToolResult(
            tool=self.tool_id("list_deployments"),
            status="ok" if deployments else "no_data",
            query=f"GET {path}",
            params=params,
            data={
                "deployments": deployments,
                "count": len(deployments),
                "has_more": "next" in response.links,
            },
            summary=_deployments_line(deployments, args.repo, where)
            if deployments
            else f"no deployments of {args.repo}{where}",
        )

    @tool_call(
        description="List commits of a repository, newest first, optionally in a time range, on a ref or path."
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
            commits = [_commit(_obj(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(
                self.http, response, path, f"a commit has an unexpected shape ({exc!r})"
            ) from None
        window = TimeWindow(start=args.since, end=args.until) if args.since and args.until else None
        scope = f"{args.repo}{'@' + args.sha if args.sha else ''}{' ' + args.path if args.path else ''}"
        span = _span(args.since, args.until)
        return ToolResult(
            tool=self.tool_id("list_commits"),
            status="ok" if commits else "no_data",
            query=f"GET {path}",
            params=params,
            window=window,
            data={"commits": commits, "count": len(commits), "has_more": "next" in response.links},
            summary=(
                f"{len(commits)}{'+' if 'next' in response.links else ''} commits on {scope}{span}; newest: "
                f"{commits[0]['sha'][:7]} {commits[0]['message']!r} by {commits[0]['author']} at {commits[0]['date']}"
                if commits
                else f"no commits on {scope}{span}"
            ),
        )

    @tool_call(
        description="Compare two refs (base...head): how far apart they are, the commits in between and the files "
        "changed with a patch excerpt. Use it to see what a deployment changed."
    )
    async def compare(self, args: CompareInput) -> ToolResult:
        path = f"/repos/{args.repo}/compare/{quote(args.base, safe='/:@')}...{quote(args.head, safe='/:@')}"
        response, body = await self._get(path, None)
        comparison = expect_dict(self.http, response, path, body, "the body")
        try:
            data = _comparison(comparison)
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(
                self.http, response, path, f"the comparison has an unexpected shape ({exc!r})"
            ) from None
        identical = data["status"] == "identical" or (not data["total_commits"] and not data["files"])
        files = data["files"]
        added = sum(f["additions"] for f in files)
        removed = sum(f["deletions"] for f in files)
        listed = ", ".join(
            f"{f['filename']} ({f['status']} +{f['additions']} -{f['deletions']})" for f in files[:5]
        )
        return ToolResult(
            tool=self.tool_id("compare"),
            status="no_data" if identical else "ok",
            query=f"GET {path}",
            params={},
            data=data,
            summary=(
                f"{args.base} and {args.head} are identical"
                if identical
                else f"{args.head} is {data['ahead_by']} commits ahead of and {data['behind_by']} behind {args.base} "
                f"({data['status']}); {len(files)} files changed (+{added} -{removed}): {listed}"
                + (", ..." if len(files) > 5 else "")
            ),
        )

    @tool_call(
        description="List GitHub Actions workflow runs, newest first, optionally by branch, creation time, "
        "event or status (e.g. failure)."
    )
    async def list_workflow_runs(self, args: ListWorkflowRunsInput) -> ToolResult:
        path = f"/repos/{args.repo}/actions/runs"
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
            runs = [_run(_obj(item)) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise malformed(
                self.http, response, path, f"a workflow run has an unexpected shape ({exc!r})"
            ) from None
        # GitHub filters `created` by whole days; keep exactly the runs inside the requested times.
        runs = [r for r in runs if _within(r["created_at"], args.created_after, args.created_before)]
        window = (
            TimeWindow(start=args.created_after, end=args.created_before)
            if args.created_after and args.created_before
            else None
        )
        outcomes = Counter(r["conclusion"] or r["status"] for r in runs)
        return ToolResult(
            tool=self.tool_id("list_workflow_runs"),
            status="ok" if runs else "no_data",
            query=f"GET {path}",
            params=params,
            window=window,
            data={
                "runs": runs,
                "returned": len(runs),
                "total_count": opt_int(envelope.get("total_count")),
                "has_more": "next" in response.links,
            },
            summary=(
                f"{len(runs)} workflow runs of {args.repo}{_span(args.created_after, args.created_before)}: "
                + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.most_common())
                + f"; newest: {runs[0]['name']} #{runs[0]['run_number']} on {runs[0]['branch']} "
                f"({runs[0]['conclusion'] or runs[0]['status']}) at {runs[0]['created_at']}"
                if runs
                else f"no workflow runs of {args.repo}{_span(args.created_after, args.created_before)}"
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
            + (f": run {data['run_id']}" if data.get("run_id") else "; see list_workflow_runs(event=workflow_dispatch)"),
        )

    async def check(self) -> str:
        """``GET /rate_limit``: costs no quota, and a bad token is a 401."""
        response, body = await self._get("/rate_limit", None)
        core = as_dict(as_dict(expect_dict(self.http, response, "/rate_limit", body, "the body").get("resources")).get("core"))
        remaining, limit = opt_int(core.get("remaining")), opt_int(core.get("limit"))
        if remaining is None or limit is None:
            raise malformed(self.http, response, "/rate_limit", "the body has no resources.core limits")
        reset = _reset_time(str(core.get("reset", "")))
        return f"GitHub API: {remaining} of {limit} core requests left (resets at {reset})"

    # -- wire helpers -------------------------------------------------------------------------------

    async def _get(self, path: str, params: dict[str, Any] | None) -> tuple[httpx.Response, Any]:
        response = await self.http.request(
            "GET", path, params=params, headers=API_HEADERS, describe_error=describe_github_error
        )
        return response, decode_json(self.http, response, path)

    async def _latest_status(self, repo: str, deployment_id: int) -> dict[str, Any]:
        """The newest status of a deployment. A failure here degrades to a note, not a failed call."""
        path = f"/repos/{repo}/deployments/{deployment_id}/statuses"
        try:
            response, body = await self._get(path, {"per_page": 1})
            statuses = expect_list(self.http, response, path, body, "the body")
        except UpstreamError as exc:
            return {"state": None, "status_error": str(exc)}
        if not statuses:
            return {"state": None}
        latest = as_dict(statuses[0])
        return {
            "state": opt_str(latest.get("state")),
            "state_description": opt_str(latest.get("description")) or None,
            "state_at": opt_str(latest.get("created_at")),
            "log_url": opt_str(latest.get("log_url")) or opt_str(latest.get("target_url")) or None,
        }


def describe_github_error(response: httpx.Response) -> str | None:
    """``GitHub: Not Found``, or the rate-limit reset time when the limit is exhausted."""
    if response.status_code in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        return f"GitHub rate limit exhausted; it resets at {_reset_time(response.headers.get('x-ratelimit-reset', ''))}"
    message = json_field(response, "message")
    return f"GitHub: {message}" if isinstance(message, str) else None


def _reset_time(header: str) -> str:
    try:
        return rfc3339(datetime.fromtimestamp(int(header), UTC))
    except (ValueError, OverflowError, OSError):
        return "an unknown time"


def _obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _login(user: Any) -> str | None:
    return opt_str(user.get("login")) if isinstance(user, dict) else None


def _deployment(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(item["id"]),
        "sha": opt_str(item.get("sha")),
        "ref": opt_str(item.get("ref")),
        "environment": opt_str(item.get("environment")),
        "task": opt_str(item.get("task")),
        "description": opt_str(item.get("description")),
        "creator": _login(item.get("creator")),
        "created_at": opt_str(item.get("created_at")),
        "updated_at": opt_str(item.get("updated_at")),
    }


def _deployments_line(deployments: list[dict[str, Any]], repo: str, where: str) -> str:
    def one(d: dict[str, Any]) -> str:
        sha = (d["sha"] or "")[:7]
        return f"{sha} (ref {d['ref']}) at {d['created_at']} by {d['creator']}, state {d['state']}"

    text = f"{len(deployments)} deployments of {repo}{where}; newest: {one(deployments[0])}"
    if len(deployments) > 1:
        text += f"; previous: {one(deployments[1])}"
    return text


def _commit(item: dict[str, Any]) -> dict[str, Any]:
    sha = item["sha"]
    if not isinstance(sha, str):
        raise TypeError("sha is not a string")
    commit = _obj(item["commit"])
    author = as_dict(commit.get("author"))
    return {
        "sha": sha,
        "message": first_line(opt_str(commit.get("message")) or ""),
        "author": opt_str(author.get("name")),
        "login": _login(item.get("author")),
        "date": opt_str(author.get("date")),
        "parents": len(as_list(item.get("parents"))),
        "url": opt_str(item.get("html_url")),
    }


def _comparison(body: dict[str, Any]) -> dict[str, Any]:
    commits = [_commit(_obj(c)) for c in as_list(body.get("commits"))]
    commits.reverse()  # GitHub lists oldest first; newest first like every other list here
    files = []
    for f in map(_obj, as_list(body.get("files"))):
        filename = f["filename"]
        if not isinstance(filename, str):
            raise TypeError("filename is not a string")
        entry: dict[str, Any] = {
            "filename": filename,
            "status": opt_str(f.get("status")),
            "additions": opt_int(f.get("additions")) or 0,
            "deletions": opt_int(f.get("deletions")) or 0,
            "changes": opt_int(f.get("changes")) or 0,
            "patch": clip(f["patch"], PATCH_EXCERPT_CHARS) if isinstance(f.get("patch"), str) else None,
        }
        if opt_str(f.get("previous_filename")):
            entry["previous_filename"] = f["previous_filename"]
        files.append(entry)
    total = opt_int(body.get("total_commits"))
    total = len(commits) if total is None else total
    return {
        "status": opt_str(body.get("status")),
        "ahead_by": opt_int(body.get("ahead_by")),
        "behind_by": opt_int(body.get("behind_by")),
        "total_commits": total,
        "commits": commits[:COMPARE_COMMITS_SHOWN],
        "commits_truncated": total > min(len(commits), COMPARE_COMMITS_SHOWN),
        "files": files,
        "html_url": opt_str(body.get("html_url")),
    }


def _run(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": int(item["id"]),
        "name": opt_str(item.get("name")),
        "title": opt_str(item.get("display_title")),
        "branch": opt_str(item.get("head_branch")),
        "sha": opt_str(item.get("head_sha")),
        "event": opt_str(item.get("event")),
        "status": opt_str(item.get("status")),
        "conclusion": opt_str(item.get("conclusion")),
        "run_number": opt_int(item.get("run_number")),
        "attempt": opt_int(item.get("run_attempt")),
        "created_at": opt_str(item.get("created_at")),
        "updated_at": opt_str(item.get("updated_at")),
        "actor": _login(item.get("actor")),
        "url": opt_str(item.get("html_url")),
    }


def _created_filter(after: datetime | None, before: datetime | None) -> str | None:
    """GitHub's search syntax for ``created`` at day granularity: ``>=D``, ``<=D`` or ``D1..D2``."""
    if after and before:
        return f"{after.date().isoformat()}..{before.date().isoformat()}"
    if after:
        return f">={after.date().isoformat()}"
    if before:
        return f"<={before.date().isoformat()}"
    return None


def _within(created_at: Any, after: datetime | None, before: datetime | None) -> bool:
    if not (after or before) or not isinstance(created_at, str):
        return True
    try:
        at = as_utc(datetime.fromisoformat(created_at.replace("Z", "+00:00")))
    except ValueError:
        return True  # keep what cannot be placed rather than hide it
    return (after is None or at >= after) and (before is None or at <= before)


def _span(start: datetime | None, end: datetime | None) -> str:
    if start and end:
        return f" between {rfc3339(start)} and {rfc3339(end)}"
    if start:
        return f" since {rfc3339(start)}"
    if end:
        return f" until {rfc3339(end)}"
    return ""
