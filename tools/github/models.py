"""The GitHub adapter's call inputs and typed results.

The result models are each read call's payload (`ToolResult.payload`) and, dumped to JSON, the
``data`` the model sees. Times are aware UTC datetimes (``null`` when GitHub left them out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tools.wire import UtcDatetime, is_none, rfc3339

REPO_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$"
REF_PATTERN = r"^[A-Za-z0-9._/@:+-]{1,250}$"
WORKFLOW_PATTERN = r"^(?:[A-Za-z0-9._-]+\.ya?ml|[0-9]{1,20})$"
MAX_DISPATCH_INPUTS = 25  # GitHub's limit on workflow_dispatch inputs

# -- inputs -------------------------------------------------------------------------------------------

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
    environment: str | None = Field(default=None, description="Only deployments to this environment, e.g. production.")
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
    since: UtcDatetime | None = Field(default=None, description="Only commits after this time (UTC, RFC 3339).")
    until: UtcDatetime | None = Field(default=None, description="Only commits before this time (UTC, RFC 3339).")
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
    workflow: str | None = Field(
        default=None,
        pattern=WORKFLOW_PATTERN,
        description="Only runs of this workflow (its file name, e.g. publish-policies.yml, or numeric id).",
    )
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
            raise ValueError(f"created_before ({rfc3339(before)}) must be after created_after ({rfc3339(after)})")
        return before


class ListWorkflowsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField

    check_repo = field_validator("repo")(_check_repo)


class GetWorkflowInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo: str = RepoField
    workflow: str = Field(
        pattern=r"^[A-Za-z0-9._-]+\.ya?ml$",
        description="The workflow's file name under .github/workflows (netpol-rollback.yml).",
    )
    ref: str | None = Field(
        default=None, pattern=REF_PATTERN, description="Branch or tag to read it at (default branch)."
    )

    check_repo = field_validator("repo")(_check_repo)


OWNER_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$"


class ListReposInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    owner: str = Field(
        pattern=OWNER_PATTERN,
        description="The organisation (or user) whose repositories to list, e.g. acme: find the flags, config or "
        "infrastructure repository a change may live in when the service's own repo shows none.",
    )
    sort: Literal["pushed", "updated", "created", "full_name"] = Field(
        default="pushed", description="pushed (most recently pushed first, the default), updated, created or full_name."
    )
    per_page: int = Field(default=30, ge=1, le=100, description="How many repositories (one page).")


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


# -- results ------------------------------------------------------------------------------------------


class DeploymentRecord(BaseModel):
    """One GitHub deployment with its latest status. The status keys are left out of the JSON when
    GitHub has no status (``state`` is then null), ``status_error`` when the status read worked."""

    id: int
    sha: str | None = None
    ref: str | None = None
    environment: str | None = None
    task: str | None = None
    description: str | None = None
    creator: str | None = Field(default=None, description="login")
    created_at: datetime | None = None
    updated_at: datetime | None = None
    state: str | None = Field(default=None, description="Latest status: success, failure, in_progress, inactive...")
    state_description: str | None = Field(default=None, exclude_if=is_none)
    state_at: datetime | None = Field(default=None, exclude_if=is_none)
    log_url: str | None = Field(default=None, exclude_if=is_none)
    status_error: str | None = Field(
        default=None, exclude_if=is_none, description="Why the latest status could not be read."
    )


class DeploymentList(BaseModel):
    deployments: list[DeploymentRecord] = Field(description="Newest first, as GitHub lists them.")
    count: int
    has_more: bool


class Commit(BaseModel):
    sha: str
    message: str = Field(description="The first line of the commit message.")
    author: str | None = Field(default=None, description="The git author's name.")
    login: str | None = Field(default=None, description="The GitHub user of the author, when linked.")
    date: datetime | None = Field(default=None, description="The git author date.")
    parents: int = 0
    url: str | None = None


class CommitList(BaseModel):
    commits: list[Commit] = Field(description="Newest first.")
    count: int
    has_more: bool


class ChangedFile(BaseModel):
    filename: str
    status: str | None = None
    additions: int = 0
    deletions: int = 0
    changes: int = 0
    patch: str | None = Field(default=None, description="The diff excerpt, clipped.")
    previous_filename: str | None = Field(default=None, exclude_if=is_none)


class Comparison(BaseModel):
    """``base...head``: how far apart, the commits in between (newest first) and the files changed."""

    status: str | None = Field(default=None, description="ahead, behind, diverged or identical")
    ahead_by: int | None = None
    behind_by: int | None = None
    total_commits: int = 0
    commits: list[Commit] = Field(default_factory=list)
    commits_truncated: bool = False
    files: list[ChangedFile] = Field(default_factory=list)
    html_url: str | None = None


class WorkflowRun(BaseModel):
    id: int
    name: str | None = None
    title: str | None = Field(default=None, description="display_title: the commit or PR title")
    branch: str | None = None
    sha: str | None = None
    event: str | None = None
    status: str | None = None
    conclusion: str | None = None
    run_number: int | None = None
    attempt: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    actor: str | None = None
    url: str | None = None


class Workflow(BaseModel):
    """One workflow of a repository: what `workflow_dispatch` can start (by its file name)."""

    id: int
    name: str
    path: str = Field(description="e.g. .github/workflows/db-rollback.yml")
    state: str | None = None

    @property
    def file(self) -> str:
        """The file name `workflow_dispatch` takes (db-rollback.yml)."""
        return self.path.rsplit("/", 1)[-1]


class Repository(BaseModel):
    """One repository of an organisation, as `list_repos` shows it."""

    full_name: str
    description: str | None = None
    default_branch: str | None = None
    pushed_at: datetime | None = Field(default=None, description="When anything was last pushed to it.")
    updated_at: datetime | None = None
    archived: bool = False
    private: bool | None = None
    language: str | None = None
    topics: list[str] = Field(default_factory=list)
    url: str | None = Field(default=None, description="The repository's page (html_url).")


class RepositoryList(BaseModel):
    owner: str
    repos: list[Repository]
    count: int
    has_more: bool


class WorkflowInputSpec(BaseModel):
    """One ``on.workflow_dispatch.inputs`` entry of a workflow file: what a dispatch must (or may) pass."""

    name: str
    description: str = ""
    required: bool = False
    type: str = Field(default="string", description="string, boolean, choice, number or environment")
    default: str | None = None
    options: list[str] = Field(default_factory=list, description="For a choice: the allowed values.")


class WorkflowDefinition(BaseModel):
    """A workflow file read from the repository: whether it can be dispatched, and with which inputs."""

    repo: str
    path: str
    name: str = ""
    dispatchable: bool = Field(description="It has a workflow_dispatch trigger.")
    inputs: list[WorkflowInputSpec] = Field(default_factory=list)

    @property
    def required(self) -> list[WorkflowInputSpec]:
        return [i for i in self.inputs if i.required and i.default is None]


class WorkflowList(BaseModel):
    workflows: list[Workflow]
    count: int


class WorkflowRunList(BaseModel):
    runs: list[WorkflowRun] = Field(description="Newest first, only those inside the requested times.")
    returned: int
    total_count: int | None = Field(default=None, description="GitHub's count before the time filter.")
    has_more: bool
