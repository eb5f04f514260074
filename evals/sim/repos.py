"""Simulated GitHub: commits, deployments, workflows and workflow runs derived from the changes.

Each repository's history is linear: the scenario's commits in time order, each the parent of the
next. A deploy change becomes a GitHub deployment (with ``in_progress`` then ``success`` statuses)
whose ``ref`` is the version, usable as a tag in ``compare``. A change carried out by a workflow
becomes a completed workflow run. ``POST .../dispatches`` adds a run that is queued, then in
progress, then completes a minute later. Nothing dated after the clock's now is visible.

Responses carry URLs built on the simulator's own base URL, so a client that follows
``statuses_url`` stays on loopback.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from evals.sim.scenario import Author, FileChange, GitHubRepo, Scenario, WorkflowInput
from evals.sim.telemetry import stable_hash
from evals.sim.timeutil import parse_rfc3339, rfc3339

HTML_BASE = "https://github.com"
DOCS_URL = "https://docs.github.com/rest"
DISPATCH_ACTOR = Author(login="firstline-bot", name="firstline", email="firstline-bot@users.noreply.github.com")


class GitHubError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"message": self.message, "documentation_url": DOCS_URL, "status": str(self.status)}


def _sha(*parts: object) -> str:
    return hashlib.sha1("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _count_lines(patch: str) -> tuple[int, int]:
    additions = deletions = 0
    for line in patch.splitlines():
        if line.startswith("+") and not line.startswith("+++"):
            additions += 1
        elif line.startswith("-") and not line.startswith("---"):
            deletions += 1
    return additions, deletions


@dataclass
class CommitRecord:
    sha: str
    message: str
    author: Author
    at: float
    files: list[FileChange]
    parent: str = ""


@dataclass
class DeploymentRecord:
    id: int
    sha: str
    ref: str
    environment: str
    description: str
    creator: Author
    created_at: float
    finished_at: float


@dataclass
class WorkflowRecord:
    id: int
    name: str
    path: str
    created_at: float
    inputs: dict[str, WorkflowInput] = field(default_factory=dict)


@dataclass
class RunRecord:
    id: int
    workflow: WorkflowRecord
    head_sha: str
    head_branch: str
    event: str
    created_at: float
    completed_at: float
    conclusion: str
    actor: Author
    run_number: int
    display_title: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RepoRecord:
    full_name: str
    id: int
    commits: list[CommitRecord] = field(default_factory=list)
    deployments: list[DeploymentRecord] = field(default_factory=list)
    workflows: list[WorkflowRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    spec: GitHubRepo | None = None

    @property
    def root_sha(self) -> str:
        """The commit the history the scenario shows starts from (every real default branch has one)."""
        return _sha(self.full_name, "root")


class GitHubState:
    """The repositories the scenario mentions, and the workflow dispatches made during the run."""

    def __init__(self, scenario: Scenario, *, anchor: float, now: Callable[[], float]) -> None:
        self.anchor = anchor
        self._now = now
        self.repos: dict[str, RepoRecord] = {}
        self.dispatches: list[dict[str, Any]] = []
        for spec in scenario.topology.services:
            if spec.repo:
                self._repo(spec.repo)
        for change in sorted(scenario.changes, key=lambda c: c.at):
            service = scenario.service(change.service)
            at = anchor + change.at
            author = change.author or (change.commit.author if change.commit else None) or DISPATCH_ACTOR
            repo_name = (change.commit.repo if change.commit else None) or service.repo
            if repo_name is None:
                continue
            repo = self._repo(repo_name)
            sha = ""
            if change.commit is not None:
                commit = change.commit
                sha = commit.sha
                if all(c.sha != sha for c in repo.commits):
                    committed = anchor + commit.committed_at if commit.committed_at is not None else at - 600
                    repo.commits.append(
                        CommitRecord(sha, commit.message, commit.author or author, committed, list(commit.files))
                    )
            if change.deploy is not None:
                deploy = change.deploy
                ref = deploy.ref or deploy.version
                head = sha or (repo.commits[-1].sha if repo.commits else _sha(repo_name, change.id))
                repo.tags[deploy.version] = head
                repo.deployments.append(
                    DeploymentRecord(
                        id=1_000_000_000 + stable_hash(repo_name, change.id) % 900_000_000,
                        sha=head,
                        ref=ref,
                        environment=deploy.environment,
                        description=change.description,
                        creator=author,
                        created_at=at - 150,
                        finished_at=at,
                    )
                )
            if change.workflow is not None:
                spec_run = change.workflow
                workflow = self._workflow(repo, spec_run.name, spec_run.path, spec_run.id)
                repo.runs.append(
                    RunRecord(
                        id=spec_run.run_id or 9_000_000_000 + stable_hash(repo_name, change.id) % 900_000_000,
                        workflow=workflow,
                        head_sha=sha or (repo.commits[-1].sha if repo.commits else _sha(repo_name, change.id)),
                        head_branch=spec_run.branch,
                        event=spec_run.event,
                        created_at=at - spec_run.duration,
                        completed_at=at,
                        conclusion=spec_run.conclusion,
                        actor=author,
                        run_number=len([r for r in repo.runs if r.workflow is workflow]) + 100,
                        display_title=change.description.split("\n")[0][:120],
                    )
                )
        for declared in scenario.integrations.github.workflows:
            workflow = self._workflow(self._repo(declared.repo), declared.name, declared.path, declared.id)
            workflow.inputs = dict(declared.inputs)
        for declared_repo in scenario.integrations.github.repos:
            self._repo(declared_repo.name).spec = declared_repo
        for repo in self.repos.values():
            repo.commits.sort(key=lambda c: c.at)
            previous = repo.root_sha
            for record in repo.commits:
                record.parent = previous
                previous = record.sha

    def _repo(self, full_name: str) -> RepoRecord:
        if full_name not in self.repos:
            self.repos[full_name] = RepoRecord(full_name, 500_000_000 + stable_hash(full_name) % 100_000_000)
        return self.repos[full_name]

    def _workflow(self, repo: RepoRecord, name: str, path: str | None, workflow_id: int | None) -> WorkflowRecord:
        path = path or f".github/workflows/{name}.yml"
        for workflow in repo.workflows:
            if workflow.path == path:
                return workflow
        workflow = WorkflowRecord(
            workflow_id or 70_000_000 + stable_hash(repo.full_name, path) % 10_000_000,
            name,
            path,
            self.anchor - 90 * 86400,
        )
        repo.workflows.append(workflow)
        return workflow

    # -- lookups
    def owner_repos(self, owner: str) -> list[RepoRecord]:
        """The repositories of one organisation (or user); raises 404 when it has none, as for an unknown org."""
        found = [r for r in self.repos.values() if r.full_name.split("/")[0].lower() == owner.lower()]
        if not found:
            raise GitHubError(404, "Not Found")
        return found

    def repo(self, owner: str, name: str) -> RepoRecord:
        found = self.repos.get(f"{owner}/{name}")
        if found is None:
            raise GitHubError(404, "Not Found")
        return found

    def visible_commits(self, repo: RepoRecord) -> list[CommitRecord]:
        now = self._now()
        return [c for c in repo.commits if c.at <= now]

    def resolve(self, repo: RepoRecord, ref: str) -> int:
        """Index in the visible history of a sha (or unique prefix), tag, or branch name."""
        commits = self.visible_commits(repo)
        if not commits:
            raise GitHubError(404, "Not Found")
        if ref in ("main", "master", "HEAD"):
            return len(commits) - 1
        ref = repo.tags.get(ref, ref)
        if re.fullmatch(r"[0-9a-f]{4,40}", ref):
            matches = [i for i, c in enumerate(commits) if c.sha.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
        raise GitHubError(404, "Not Found")

    def workflow(self, repo: RepoRecord, workflow_id: str) -> WorkflowRecord:
        for workflow in repo.workflows:
            if str(workflow.id) == workflow_id or workflow.path.rsplit("/", 1)[-1] == workflow_id:
                return workflow
        raise GitHubError(404, "Not Found")

    # -- rendering
    def render_repo(self, repo: RepoRecord, api: str) -> dict[str, Any]:
        """A repository as ``GET /repos/{owner}/{repo}`` and ``GET /orgs/{org}/repos`` return it (the fields
        clients read; pushed_at is the newest visible commit or deployment)."""
        owner, name = repo.full_name.split("/")
        spec = repo.spec or GitHubRepo(name=repo.full_name)
        created = self.anchor - 400 * 86400 - stable_hash("created", repo.full_name) % (300 * 86400)
        now = self._now()
        moments = [c.at for c in repo.commits if c.at <= now] + [
            d.finished_at for d in repo.deployments if d.finished_at <= now
        ]
        pushed = max(moments, default=created + 86400)
        base = f"{api}/repos/{repo.full_name}"
        return {
            "id": repo.id,
            "node_id": f"R_kgDO{repo.id}",
            "name": name,
            "full_name": repo.full_name,
            "private": True,
            "owner": self.user(Author(login=owner), api) | {"type": "Organization"},
            "html_url": f"{HTML_BASE}/{repo.full_name}",
            "description": spec.description or None,
            "fork": False,
            "url": base,
            "commits_url": f"{base}/commits{{/sha}}",
            "deployments_url": f"{base}/deployments",
            "created_at": rfc3339(created),
            "updated_at": rfc3339(pushed),
            "pushed_at": rfc3339(pushed),
            "language": spec.language,
            "archived": spec.archived,
            "disabled": False,
            "visibility": "private",
            "topics": list(spec.topics),
            "default_branch": "main",
        }

    def user(self, author: Author, api: str) -> dict[str, Any]:
        user_id = 10_000_000 + stable_hash("user", author.login) % 90_000_000
        return {
            "login": author.login,
            "id": user_id,
            "node_id": f"U_kgDO{user_id:08d}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
            "url": f"{api}/users/{author.login}",
            "html_url": f"{HTML_BASE}/{author.login}",
            "type": "Bot" if author.login.endswith("-bot") else "User",
            "site_admin": False,
        }

    def render_commit(
        self, repo: RepoRecord, commit: CommitRecord, api: str, *, with_files: bool = False
    ) -> dict[str, Any]:
        base = f"{api}/repos/{repo.full_name}"
        signature = {"name": commit.author.name, "email": commit.author.email, "date": rfc3339(commit.at)}
        rendered: dict[str, Any] = {
            "sha": commit.sha,
            "node_id": f"C_kwDO{commit.sha[:12]}",
            "commit": {
                "author": signature,
                "committer": dict(signature),
                "message": commit.message,
                "tree": {"sha": _sha(commit.sha, "tree"), "url": f"{base}/git/trees/{_sha(commit.sha, 'tree')}"},
                "url": f"{base}/git/commits/{commit.sha}",
                "comment_count": 0,
                "verification": {
                    "verified": False,
                    "reason": "unsigned",
                    "signature": None,
                    "payload": None,
                    "verified_at": None,
                },
            },
            "url": f"{base}/commits/{commit.sha}",
            "html_url": f"{HTML_BASE}/{repo.full_name}/commit/{commit.sha}",
            "comments_url": f"{base}/commits/{commit.sha}/comments",
            "author": self.user(commit.author, api),
            "committer": self.user(commit.author, api),
            "parents": [
                {
                    "sha": commit.parent,
                    "url": f"{base}/commits/{commit.parent}",
                    "html_url": f"{HTML_BASE}/{repo.full_name}/commit/{commit.parent}",
                }
            ],
        }
        if with_files:
            files = [self.render_file(repo, commit.sha, f) for f in commit.files]
            additions = sum(f["additions"] for f in files)
            deletions = sum(f["deletions"] for f in files)
            rendered["stats"] = {"total": additions + deletions, "additions": additions, "deletions": deletions}
            rendered["files"] = files
        return rendered

    def render_file(self, repo: RepoRecord, sha: str, change: FileChange, patch: str | None = None) -> dict[str, Any]:
        patch = change.patch if patch is None else patch
        additions, deletions = _count_lines(patch)
        rendered: dict[str, Any] = {
            "sha": _sha(sha, change.filename),
            "filename": change.filename,
            "status": change.status,
            "additions": additions,
            "deletions": deletions,
            "changes": additions + deletions,
            "blob_url": f"{HTML_BASE}/{repo.full_name}/blob/{sha}/{change.filename}",
            "raw_url": f"{HTML_BASE}/{repo.full_name}/raw/{sha}/{change.filename}",
            "contents_url": f"https://api.github.com/repos/{repo.full_name}/contents/{change.filename}?ref={sha}",
            "patch": patch,
        }
        if change.previous_filename:
            rendered["previous_filename"] = change.previous_filename
        return rendered

    def list_commits(
        self,
        repo: RepoRecord,
        api: str,
        *,
        sha: str | None,
        path: str | None,
        author: str | None,
        since: str | None,
        until: str | None,
    ) -> list[dict[str, Any]]:
        commits = self.visible_commits(repo)
        if sha:
            commits = commits[: self.resolve(repo, sha) + 1]
        if path:
            commits = [
                c
                for c in commits
                if any(f.filename == path or f.filename.startswith(path.rstrip("/") + "/") for f in c.files)
            ]
        if author:
            commits = [c for c in commits if author in (c.author.login, c.author.email)]
        if since:
            start = _time_param("since", since)
            commits = [c for c in commits if c.at >= start]
        if until:
            end = _time_param("until", until)
            commits = [c for c in commits if c.at <= end]
        return [self.render_commit(repo, c, api) for c in reversed(commits)]

    def get_commit(self, repo: RepoRecord, ref: str, api: str) -> dict[str, Any]:
        commit = self.visible_commits(repo)[self.resolve(repo, ref)]
        return self.render_commit(repo, commit, api, with_files=True)

    def compare(self, repo: RepoRecord, basehead: str, api: str) -> dict[str, Any]:
        if "..." not in basehead:
            raise GitHubError(404, "Not Found")
        base_ref, head_ref = basehead.split("...", 1)
        commits = self.visible_commits(repo)
        base, head = self.resolve(repo, base_ref), self.resolve(repo, head_ref)
        if head > base:
            status, ahead, behind, between = "ahead", head - base, 0, commits[base + 1 : head + 1]
        elif head < base:
            status, ahead, behind, between = "behind", 0, base - head, []
        else:
            status, ahead, behind, between = "identical", 0, 0, []
        merged: dict[str, tuple[FileChange, list[str]]] = {}
        for commit in between:
            for change in commit.files:
                entry = merged.setdefault(change.filename, (change, []))
                entry[1].append(change.patch)
        files = [
            self.render_file(repo, commits[head].sha, change, "\n".join(p for p in patches if p))
            for change, patches in merged.values()
        ]
        base_commit = self.render_commit(repo, commits[base], api)
        merge_base = commits[min(base, head)]
        return {
            "url": f"{api}/repos/{repo.full_name}/compare/{basehead}",
            "html_url": f"{HTML_BASE}/{repo.full_name}/compare/{basehead}",
            "permalink_url": (
                f"{HTML_BASE}/{repo.full_name}/compare/"
                f"{repo.full_name.split('/')[0]}:{commits[base].sha[:7]}...{repo.full_name.split('/')[0]}:{commits[head].sha[:7]}"
            ),
            "diff_url": f"{HTML_BASE}/{repo.full_name}/compare/{basehead}.diff",
            "patch_url": f"{HTML_BASE}/{repo.full_name}/compare/{basehead}.patch",
            "base_commit": base_commit,
            "merge_base_commit": self.render_commit(repo, merge_base, api),
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "total_commits": len(between),
            "commits": [self.render_commit(repo, c, api) for c in between],
            "files": files,
        }

    def list_deployments(
        self, repo: RepoRecord, api: str, *, sha: str | None, ref: str | None, task: str | None, environment: str | None
    ) -> list[dict[str, Any]]:
        now = self._now()
        found = [d for d in repo.deployments if d.created_at <= now]
        if sha:
            found = [d for d in found if d.sha == sha]
        if ref:
            found = [d for d in found if d.ref == ref]
        if task and task != "deploy":
            found = []
        if environment:
            found = [d for d in found if d.environment == environment]
        return [self.render_deployment(repo, d, api) for d in sorted(found, key=lambda d: d.created_at, reverse=True)]

    def render_deployment(self, repo: RepoRecord, deployment: DeploymentRecord, api: str) -> dict[str, Any]:
        base = f"{api}/repos/{repo.full_name}"
        return {
            "url": f"{base}/deployments/{deployment.id}",
            "id": deployment.id,
            "node_id": f"DE_kwDO{deployment.id}",
            "sha": deployment.sha,
            "ref": deployment.ref,
            "task": "deploy",
            "payload": {},
            "original_environment": deployment.environment,
            "environment": deployment.environment,
            "description": deployment.description,
            "creator": self.user(deployment.creator, api),
            "created_at": rfc3339(deployment.created_at),
            "updated_at": rfc3339(min(deployment.finished_at, self._now())),
            "statuses_url": f"{base}/deployments/{deployment.id}/statuses",
            "repository_url": base,
            "transient_environment": False,
            "production_environment": deployment.environment in ("production", "prod"),
        }

    def deployment_statuses(self, repo: RepoRecord, deployment_id: str, api: str) -> list[dict[str, Any]]:
        now = self._now()
        deployment = next((d for d in repo.deployments if str(d.id) == deployment_id and d.created_at <= now), None)
        if deployment is None:
            raise GitHubError(404, "Not Found")
        base = f"{api}/repos/{repo.full_name}"
        statuses = [
            ("queued", deployment.created_at + 2),
            ("in_progress", deployment.created_at + 10),
            ("success", deployment.finished_at),
        ]
        rendered = []
        for number, (state, at) in enumerate(statuses):
            if at > now:
                continue
            status_id = deployment.id * 10 + number
            rendered.append(
                {
                    "url": f"{base}/deployments/{deployment.id}/statuses/{status_id}",
                    "id": status_id,
                    "node_id": f"DES_kwDO{status_id}",
                    "state": state,
                    "creator": self.user(deployment.creator, api),
                    "description": {
                        "queued": "Deployment queued",
                        "in_progress": "Deployment started",
                        "success": "Deployment finished successfully.",
                    }[state],
                    "environment": deployment.environment,
                    "target_url": f"{HTML_BASE}/{repo.full_name}/actions",
                    "log_url": f"{HTML_BASE}/{repo.full_name}/actions",
                    "created_at": rfc3339(at),
                    "updated_at": rfc3339(at),
                    "deployment_url": f"{base}/deployments/{deployment.id}",
                    "repository_url": base,
                    "environment_url": "",
                }
            )
        return list(reversed(rendered))

    def run_state(self, run: RunRecord) -> tuple[str, str | None, float]:
        now = self._now()
        if now >= run.completed_at:
            return "completed", run.conclusion, run.completed_at
        if now >= run.created_at + 5:
            return "in_progress", None, run.created_at + 5
        return "queued", None, run.created_at

    def render_run(self, repo: RepoRecord, run: RunRecord, api: str) -> dict[str, Any]:
        base = f"{api}/repos/{repo.full_name}"
        status, conclusion, updated = self.run_state(run)
        head = next((c for c in repo.commits if c.sha == run.head_sha), None)
        return {
            "id": run.id,
            "name": run.workflow.name,
            "node_id": f"WFR_kwLO{run.id}",
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.workflow.path,
            "display_title": run.display_title,
            "run_number": run.run_number,
            "event": run.event,
            "status": status,
            "conclusion": conclusion,
            "workflow_id": run.workflow.id,
            "check_suite_id": run.id + 1,
            "url": f"{base}/actions/runs/{run.id}",
            "html_url": f"{HTML_BASE}/{repo.full_name}/actions/runs/{run.id}",
            "created_at": rfc3339(run.created_at),
            "updated_at": rfc3339(updated),
            "run_attempt": 1,
            "run_started_at": rfc3339(run.created_at),
            "actor": self.user(run.actor, api),
            "triggering_actor": self.user(run.actor, api),
            "jobs_url": f"{base}/actions/runs/{run.id}/jobs",
            "logs_url": f"{base}/actions/runs/{run.id}/logs",
            "workflow_url": f"{base}/actions/workflows/{run.workflow.id}",
            "head_commit": None
            if head is None
            else {
                "id": head.sha,
                "tree_id": _sha(head.sha, "tree"),
                "message": head.message,
                "timestamp": rfc3339(head.at),
                "author": {"name": head.author.name, "email": head.author.email},
                "committer": {"name": head.author.name, "email": head.author.email},
            },
            "repository": {"id": repo.id, "name": repo.full_name.split("/")[1], "full_name": repo.full_name},
        }

    def list_runs(
        self,
        repo: RepoRecord,
        api: str,
        *,
        workflow: WorkflowRecord | None = None,
        branch: str | None = None,
        event: str | None = None,
        status: str | None = None,
        head_sha: str | None = None,
        created: str | None = None,
        actor: str | None = None,
    ) -> list[dict[str, Any]]:
        now = self._now()
        runs = [r for r in repo.runs if r.created_at <= now and (workflow is None or r.workflow is workflow)]
        if branch:
            runs = [r for r in runs if r.head_branch == branch]
        if event:
            runs = [r for r in runs if r.event == event]
        if head_sha:
            runs = [r for r in runs if r.head_sha == head_sha]
        if actor:
            runs = [r for r in runs if r.actor.login == actor]
        if status:
            runs = [r for r in runs if status in (self.run_state(r)[0], self.run_state(r)[1])]
        if created:
            low, high = _created_range(created)
            runs = [r for r in runs if low <= r.created_at <= high]
        return [self.render_run(repo, r, api) for r in sorted(runs, key=lambda r: r.created_at, reverse=True)]

    def list_workflows(self, repo: RepoRecord, api: str) -> dict[str, Any]:
        base = f"{api}/repos/{repo.full_name}"
        workflows = [
            {
                "id": w.id,
                "node_id": f"W_kwDO{w.id}",
                "name": w.name,
                "path": w.path,
                "state": "active",
                "created_at": rfc3339(w.created_at),
                "updated_at": rfc3339(w.created_at),
                "url": f"{base}/actions/workflows/{w.id}",
                "html_url": f"{HTML_BASE}/{repo.full_name}/blob/main/{w.path}",
                "badge_url": f"{HTML_BASE}/{repo.full_name}/workflows/{w.name}/badge.svg",
            }
            for w in repo.workflows
        ]
        return {"total_count": len(workflows), "workflows": workflows}

    def workflow_file(self, repo: RepoRecord, path: str, api: str) -> dict[str, Any]:
        """The contents-API answer for a workflow file (base64 YAML with its triggers and
        workflow_dispatch inputs); 404 for any other path, as for a file that does not exist."""
        workflow = next((w for w in repo.workflows if w.path == path.strip("/")), None)
        if workflow is None:
            raise GitHubError(404, "Not Found")
        events = sorted({r.event for r in repo.runs if r.workflow is workflow} - {"workflow_dispatch"})
        triggers: dict[str, Any] = {event: None for event in events}
        inputs = {
            name: {
                k: v
                for k, v in {
                    "description": spec.description or None,
                    "required": spec.required,
                    "type": spec.type,
                    "default": spec.default,
                    "options": spec.options or None,
                }.items()
                if v is not None
            }
            for name, spec in workflow.inputs.items()
        }
        # Every workflow of the simulated world can be dispatched (one that declares no inputs takes any).
        triggers["workflow_dispatch"] = {"inputs": inputs} if inputs else None
        text = yaml.safe_dump({"name": workflow.name, "on": triggers, "jobs": {"run": {"runs-on": "ubuntu-latest"}}})
        encoded = base64.encodebytes(text.encode()).decode()
        blob = hashlib.sha1(f"blob {len(text)}\0{text}".encode()).hexdigest()
        return {
            "type": "file",
            "encoding": "base64",
            "size": len(text),
            "name": workflow.path.rsplit("/", 1)[-1],
            "path": workflow.path,
            "content": encoded,
            "sha": blob,
            "url": f"{api}/repos/{repo.full_name}/contents/{workflow.path}",
            "html_url": f"{HTML_BASE}/{repo.full_name}/blob/main/{workflow.path}",
        }

    def dispatch(self, repo: RepoRecord, workflow_id: str, body: Any) -> RunRecord:
        workflow = self.workflow(repo, workflow_id)
        if not isinstance(body, dict) or not isinstance(body.get("ref"), str) or not body["ref"]:
            raise GitHubError(422, 'Invalid request.\n\n"ref" wasn\'t supplied.')
        inputs = body.get("inputs") or {}
        if not isinstance(inputs, dict):
            raise GitHubError(422, "Invalid request.\n\nFor 'properties/inputs', it is not an object.")
        ref = body["ref"]
        if not self.visible_commits(repo) and ref in ("main", "master", "HEAD", "refs/heads/main"):
            # The scenario shows none of its history, but the default branch exists (it has its root commit).
            head = repo.root_sha
        else:
            try:
                head = self.visible_commits(repo)[self.resolve(repo, ref.removeprefix("refs/heads/"))].sha
            except GitHubError as exc:
                raise GitHubError(422, f"No ref found for: {ref}") from exc
        inputs = _checked_inputs(workflow, inputs)
        now = self._now()
        run = RunRecord(
            id=9_500_000_000
            + len(self.dispatches) * 7919
            + stable_hash(repo.full_name, workflow.path, now) % 1_000_000,
            workflow=workflow,
            head_sha=head,
            head_branch=ref if not re.fullmatch(r"[0-9a-f]{7,40}", ref) else "main",
            event="workflow_dispatch",
            created_at=now,
            completed_at=now + 60,
            conclusion="success",
            actor=DISPATCH_ACTOR,
            run_number=len([r for r in repo.runs if r.workflow is workflow]) + 100,
            display_title=workflow.name,
            inputs=inputs,
        )
        repo.runs.append(run)
        self.dispatches.append(
            {"repo": repo.full_name, "workflow": workflow.path, "ref": ref, "inputs": inputs, "at": rfc3339(now)}
        )
        return run


def _checked_inputs(workflow: WorkflowRecord, given: dict[str, Any]) -> dict[str, Any]:
    """A dispatch's inputs checked against the workflow's declared ones, with the defaults filled in.

    GitHub refuses (422) undeclared inputs, a missing required input, and a choice outside its
    options; a workflow that declares no inputs (the scenario did not say) takes anything.
    """
    declared = workflow.inputs
    if not declared:
        return dict(given)
    unexpected = sorted(set(given) - set(declared))
    if unexpected:
        listed = ", ".join(f'"{name}"' for name in unexpected)
        raise GitHubError(422, f"Unexpected inputs provided: [{listed}]")
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        if name not in given:
            if spec.required and spec.default is None:
                raise GitHubError(422, f"Required input '{name}' not provided")
            if spec.default is not None:
                out[name] = spec.default
            continue
        value = given[name]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if spec.type == "choice" and text not in spec.options:
            raise GitHubError(422, f"Provided value '{text}' for input '{name}' not in the list of allowed values")
        if spec.type == "boolean" and text not in ("true", "false"):
            raise GitHubError(422, f"Provided value '{text}' for input '{name}' is not a boolean")
        if spec.type == "number":
            try:
                float(text)
            except ValueError:
                raise GitHubError(422, f"Provided value '{text}' for input '{name}' is not a number") from None
        out[name] = text
    return out


def _time_param(name: str, value: str) -> float:
    try:
        return parse_rfc3339(value).timestamp()
    except ValueError as exc:
        raise GitHubError(422, f"Invalid request.\n\n{name!r} is not a valid ISO 8601 timestamp: {value!r}") from exc


def _created_range(value: str) -> tuple[float, float]:
    """GitHub's date qualifiers: ``>=2026-11-20``, ``<2026-11-21T10:00:00Z``, ``a..b``, or one date."""

    def moment(text: str, *, end_of_day: bool = False) -> float:
        """A date alone is a whole day: its start, or (as an upper bound, or after ``>``) its end."""
        text = text.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return _time_param("created", text + "T00:00:00Z") + (86400 if end_of_day else 0)
        return _time_param("created", text)

    if ".." in value:
        low, high = value.split("..", 1)
        return (
            moment(low) if low != "*" else float("-inf"),
            moment(high, end_of_day=True) if high != "*" else float("inf"),
        )
    for prefix in (">=", "<=", ">", "<"):
        if value.startswith(prefix):
            at = moment(value[len(prefix) :], end_of_day=prefix in ("<=", ">"))
            return (at, float("inf")) if prefix.startswith(">") else (float("-inf"), at)
    start = moment(value)
    return start, start + 86400
