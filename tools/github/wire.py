"""Reading GitHub's REST JSON into the adapter's result models (`tools.github.models`).

A field that identifies an item (a deployment's or run's ``id``, a commit's ``sha``, a file's
``filename``) must be there with its type: without it the item means nothing, so the reader raises
and the adapter reports the answer as malformed. Every other field is copied only with the type it
claims, else None.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

import httpx
import yaml

from tools.github.models import (
    ChangedFile,
    Commit,
    Comparison,
    DeploymentRecord,
    Repository,
    WorkflowDefinition,
    WorkflowInputSpec,
    WorkflowRun,
)
from tools.wire import (
    as_dict,
    as_list,
    clip,
    first_line,
    json_field,
    opt_int,
    opt_str,
    parse_rfc3339,
    rfc3339,
)

PATCH_EXCERPT_CHARS = 1500
COMPARE_COMMITS_SHOWN = 50


def describe_github_error(response: httpx.Response) -> str | None:
    """``GitHub: Not Found``, or the rate-limit reset time when the limit is exhausted."""
    if response.status_code in (403, 429) and response.headers.get("x-ratelimit-remaining") == "0":
        return f"GitHub rate limit exhausted; it resets at {reset_time(response.headers.get('x-ratelimit-reset', ''))}"
    message = json_field(response, "message")
    return f"GitHub: {message}" if isinstance(message, str) else None


def reset_time(header: str) -> str:
    """A rate limit's reset (unix seconds in a header or body) as RFC 3339."""
    try:
        return rfc3339(datetime.fromtimestamp(int(header), UTC))
    except (ValueError, OverflowError, OSError):
        return "an unknown time"


def as_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object; a `TypeError` (a malformed answer) otherwise."""
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _login(user: Any) -> str | None:
    return opt_str(user.get("login")) if isinstance(user, dict) else None


def read_deployment(item: dict[str, Any]) -> DeploymentRecord:
    """A deployment without its status (`with_latest_status` adds it)."""
    return DeploymentRecord(
        id=int(item["id"]),
        sha=opt_str(item.get("sha")),
        ref=opt_str(item.get("ref")),
        environment=opt_str(item.get("environment")),
        task=opt_str(item.get("task")),
        description=opt_str(item.get("description")),
        creator=_login(item.get("creator")),
        created_at=parse_rfc3339(item.get("created_at")),
        updated_at=parse_rfc3339(item.get("updated_at")),
    )


def with_latest_status(deployment: DeploymentRecord, statuses: list[Any] | str) -> DeploymentRecord:
    """``deployment`` with the newest of its statuses, or with ``status_error`` when they could not be
    read (``statuses`` is then the error text)."""
    if isinstance(statuses, str):
        return deployment.model_copy(update={"state": None, "status_error": statuses})
    if not statuses:
        return deployment
    latest = as_dict(statuses[0])
    return deployment.model_copy(
        update={
            "state": opt_str(latest.get("state")),
            "state_description": opt_str(latest.get("description")) or None,
            "state_at": parse_rfc3339(latest.get("created_at")),
            "log_url": opt_str(latest.get("log_url")) or opt_str(latest.get("target_url")) or None,
        }
    )


def read_commit(item: dict[str, Any]) -> Commit:
    sha = item["sha"]
    if not isinstance(sha, str):
        raise TypeError("sha is not a string")
    commit = as_object(item["commit"])
    author = as_dict(commit.get("author"))
    return Commit(
        sha=sha,
        message=first_line(opt_str(commit.get("message")) or ""),
        author=opt_str(author.get("name")),
        login=_login(item.get("author")),
        date=parse_rfc3339(author.get("date")),
        parents=len(as_list(item.get("parents"))),
        url=opt_str(item.get("html_url")),
    )


def read_comparison(body: dict[str, Any]) -> Comparison:
    commits = [read_commit(as_object(c)) for c in as_list(body.get("commits"))]
    commits.reverse()  # GitHub lists oldest first; newest first like every other list here
    files = []
    for f in map(as_object, as_list(body.get("files"))):
        filename = f["filename"]
        if not isinstance(filename, str):
            raise TypeError("filename is not a string")
        files.append(
            ChangedFile(
                filename=filename,
                status=opt_str(f.get("status")),
                additions=opt_int(f.get("additions")) or 0,
                deletions=opt_int(f.get("deletions")) or 0,
                changes=opt_int(f.get("changes")) or 0,
                patch=clip(f["patch"], PATCH_EXCERPT_CHARS) if isinstance(f.get("patch"), str) else None,
                previous_filename=opt_str(f.get("previous_filename")) or None,
            )
        )
    total = opt_int(body.get("total_commits"))
    total = len(commits) if total is None else total
    return Comparison(
        status=opt_str(body.get("status")),
        ahead_by=opt_int(body.get("ahead_by")),
        behind_by=opt_int(body.get("behind_by")),
        total_commits=total,
        commits=commits[:COMPARE_COMMITS_SHOWN],
        commits_truncated=total > min(len(commits), COMPARE_COMMITS_SHOWN),
        files=files,
        html_url=opt_str(body.get("html_url")),
    )


def read_run(item: dict[str, Any]) -> WorkflowRun:
    return WorkflowRun(
        id=int(item["id"]),
        name=opt_str(item.get("name")),
        title=opt_str(item.get("display_title")),
        branch=opt_str(item.get("head_branch")),
        sha=opt_str(item.get("head_sha")),
        event=opt_str(item.get("event")),
        status=opt_str(item.get("status")),
        conclusion=opt_str(item.get("conclusion")),
        run_number=opt_int(item.get("run_number")),
        attempt=opt_int(item.get("run_attempt")),
        created_at=parse_rfc3339(item.get("created_at")),
        updated_at=parse_rfc3339(item.get("updated_at")),
        actor=_login(item.get("actor")),
        url=opt_str(item.get("html_url")),
    )


def read_repository(item: dict[str, Any]) -> Repository:
    """One entry of ``GET /orgs/{org}/repos`` (``full_name`` required)."""
    full_name = item["full_name"]
    if not isinstance(full_name, str):
        raise TypeError("full_name is not a string")
    topics = [t for t in as_list(item.get("topics")) if isinstance(t, str)]
    return Repository(
        full_name=full_name,
        description=opt_str(item.get("description")),
        default_branch=opt_str(item.get("default_branch")),
        pushed_at=parse_rfc3339(item.get("pushed_at")),
        updated_at=parse_rfc3339(item.get("updated_at")),
        archived=item.get("archived") is True,
        private=item["private"] if isinstance(item.get("private"), bool) else None,
        language=opt_str(item.get("language")),
        topics=topics,
        url=opt_str(item.get("html_url")),
    )


def read_workflow_file(repo: str, path: str, item: dict[str, Any]) -> WorkflowDefinition:
    """A contents-API answer for a workflow file (base64 YAML) as its dispatch trigger and inputs.

    YAML 1.1 reads the bare key ``on`` as the boolean true, so both spellings are looked up; a trigger
    given as a string or a list (``on: workflow_dispatch``, ``on: [push, workflow_dispatch]``) has no
    inputs. Raises ValueError when the answer is not a decodable YAML file."""
    if item.get("type", "file") != "file":
        raise ValueError(f"{path} is a {item.get('type')}, not a file")
    content = item.get("content")
    if not isinstance(content, str):
        raise ValueError(f"{path} has no content (a file over 1 MB is served without it)")
    try:
        text = base64.b64decode(content).decode("utf-8") if item.get("encoding", "base64") == "base64" else content
        document = yaml.safe_load(text)
    except (binascii.Error, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValueError(f"{path} is not a readable YAML file ({type(exc).__name__})") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a YAML mapping")
    triggers: Any = document.get("on", document.get(True))
    if isinstance(triggers, str):
        triggers = {triggers: None}
    elif isinstance(triggers, list):
        triggers = {str(t): None for t in triggers}
    triggers = triggers if isinstance(triggers, dict) else {}
    dispatchable = "workflow_dispatch" in triggers
    declared = as_dict(as_dict(triggers.get("workflow_dispatch")).get("inputs"))
    inputs = []
    for name, raw in declared.items():
        spec = as_dict(raw)
        default = spec.get("default")
        inputs.append(
            WorkflowInputSpec(
                name=str(name),
                description=str(spec.get("description") or ""),
                required=spec.get("required") is True,
                type=str(spec.get("type") or "string"),
                default=None if default is None else _scalar(default),
                options=[_scalar(o) for o in as_list(spec.get("options"))],
            )
        )
    return WorkflowDefinition(
        repo=repo, path=path, name=str(document.get("name") or ""), dispatchable=dispatchable, inputs=inputs
    )


def _scalar(value: Any) -> str:
    """A YAML scalar as the string a dispatch sends (``true`` -> "true", 3 -> "3")."""
    return str(value).lower() if isinstance(value, bool) else str(value)
