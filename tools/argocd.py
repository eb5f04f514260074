"""Argo CD REST API (the grpc-gateway under ``/api/v1``): application status and history; rollback and sync.

Auth is ``Authorization: Bearer <token>`` (a project or account token). Errors are grpc-gateway bodies
``{"error", "code", "message"}`` with a gRPC code (3 InvalidArgument, 5 NotFound, 7 PermissionDenied,
9 FailedPrecondition, 16 Unauthenticated) and are reported with the code's name and the message.

Mutations (each needs an execution grant):

- ``rollback`` redeploys an earlier entry of ``status.history`` (``POST .../rollback {"id": N}``). Argo CD
  refuses it with FailedPrecondition "rollback cannot be initiated when auto-sync is enabled" when the
  application has ``spec.syncPolicy.automated``: auto-sync would put the Git revision straight back.
  The error says so and what to do instead (disable auto-sync first, itself a change that needs
  approval, or revert in Git).
- ``sync`` deploys the target revision from Git (or the one given).

Neither call ever prunes: deleting live resources missing from Git is a different, destructive risk
that is not offered here.
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from tools.base import Adapter, AdapterSettings, SafetyMetadata, ToolResult, UpstreamError, tool_call
from tools.wire import (
    as_dict,
    as_list,
    clip,
    decode_json,
    expect_dict,
    json_field,
    malformed,
    opt_int,
    opt_str,
)

APP_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
NAMESPACE = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
REVISION = r"^[A-Za-z0-9._/@+-]{1,250}$"
HISTORY_SHOWN = 10
RESOURCES_SHOWN = 20

GRPC_CODES = {
    1: "Canceled",
    2: "Unknown",
    3: "InvalidArgument",
    4: "DeadlineExceeded",
    5: "NotFound",
    6: "AlreadyExists",
    7: "PermissionDenied",
    8: "ResourceExhausted",
    9: "FailedPrecondition",
    10: "Aborted",
    12: "Unimplemented",
    13: "Internal",
    14: "Unavailable",
    16: "Unauthenticated",
}
AUTO_SYNC_HINT = (
    "auto-sync is enabled on this application, so Argo CD would re-deploy the Git revision at once; "
    "disable auto-sync first (spec.syncPolicy.automated, a change that needs its own approval) or revert "
    "the change in Git and sync"
)

ROLLBACK_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="sync the application to its Git target revision (argocd sync), or roll back to the entry that was current",
    idempotent=True,  # rolling back to the same history entry twice leaves the same state
    blast_radius="service",
    approval_tier="approve",
    action_class="rollback",
)
SYNC_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="roll back to the history entry that was current before the sync (argocd rollback)",
    idempotent=True,  # syncing to the same revision twice converges on the same state
    blast_radius="service",
    approval_tier="approve",
    action_class="deploy",
)


class AppRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=APP_NAME, max_length=253, description="Application name, e.g. checkout-prod.")
    app_namespace: str | None = Field(
        default=None,
        pattern=NAMESPACE,
        description="The Application's namespace, only for apps outside Argo CD's own namespace.",
    )


class RollbackInput(AppRef):
    id: int = Field(ge=0, description="The history entry to redeploy (an id from application_history).")
    dry_run: bool = Field(default=False, description="Validate only; change nothing.")


class SyncInput(AppRef):
    revision: str | None = Field(
        default=None,
        pattern=REVISION,
        description="Git revision (SHA, tag, branch) to deploy; default: the application's target revision.",
    )
    dry_run: bool = Field(default=False, description="Validate only; change nothing.")


class ArgoCDAdapter(Adapter):
    """Reads and changes Argo CD applications with a bearer token."""

    kind: ClassVar[str] = "argocd"
    description: ClassVar[str] = "Argo CD: application sync and health, deployment history; rollback and sync."
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings

    @tool_call(
        description="Read an Argo CD application: sync status and revision, health, auto-sync, the last "
        "operation, images, unhealthy resources and recent history."
    )
    async def get_application(self, args: AppRef) -> ToolResult:
        path, params = _app_path(args), _ns_params(args)
        response, app = await self._send("GET", path, params=params)
        data = _application(self, response, path, app)
        return ToolResult(
            tool=self.tool_id("get_application"),
            status="ok",
            query=f"GET {path}",
            params=params,
            data=data,
            summary=_app_line(data),
        )

    @tool_call(
        description="List an Argo CD application's deployment history, newest first: each entry's id (for "
        "rollback), revision and deploy time."
    )
    async def application_history(self, args: AppRef) -> ToolResult:
        path, params = _app_path(args), _ns_params(args)
        response, app = await self._send("GET", path, params=params)
        data = _application(self, response, path, app)
        history = data["history"]
        current = data["sync"]["revision"]
        return ToolResult(
            tool=self.tool_id("application_history"),
            status="ok" if history else "no_data",
            query=f"GET {path}",
            params=params,
            data={
                "name": data["name"],
                "current_revision": current,
                "auto_sync": data["auto_sync"],
                "history": history,
            },
            summary=(
                f"{len(history)} deployments of {data['name']}; newest: id {history[0]['id']} revision "
                f"{_short(history[0]['revision'])} at {history[0]['deployed_at']}"
                + (
                    f"; previous: id {history[1]['id']} revision {_short(history[1]['revision'])} at {history[1]['deployed_at']}"
                    if len(history) > 1
                    else ""
                )
                + ("; auto-sync is on (rollback is refused while it is)" if data["auto_sync"] else "")
                if history
                else f"no deployment history for {data['name']}"
            ),
        )

    @tool_call(
        description="Roll an Argo CD application back to an earlier history entry (never prunes). Refused by "
        "Argo CD while auto-sync is enabled.",
        safety=ROLLBACK_SAFETY,
    )
    async def rollback(self, args: RollbackInput) -> ToolResult:
        path = f"{_app_path(args)}/rollback"
        body: dict[str, Any] = {"name": args.name, "id": args.id, "dryRun": args.dry_run, "prune": False}
        if args.app_namespace:
            body["appNamespace"] = args.app_namespace
        response, app = await self._send("POST", path, json=body)
        data = _application(self, response, path, app)
        target = next((h for h in data["history"] if h["id"] == args.id), None)
        to = f"history {args.id}" + (f" (revision {_short(target['revision'])})" if target else "")
        return ToolResult(
            tool=self.tool_id("rollback"),
            status="ok",
            query=f"POST {path}",
            params=body,
            data=data,
            summary=f"{'dry run: ' if args.dry_run else ''}rollback of {args.name} to {to} requested; "
            f"operation {data['operation']['phase'] or 'pending'}, health {data['health']['status']}",
        )

    @tool_call(
        description="Sync an Argo CD application to its Git target revision, or to a given revision (never prunes).",
        safety=SYNC_SAFETY,
    )
    async def sync(self, args: SyncInput) -> ToolResult:
        path = f"{_app_path(args)}/sync"
        body: dict[str, Any] = {"name": args.name, "prune": False, "dryRun": args.dry_run, "strategy": {"hook": {}}}
        if args.revision:
            body["revision"] = args.revision
        if args.app_namespace:
            body["appNamespace"] = args.app_namespace
        response, app = await self._send("POST", path, json=body)
        data = _application(self, response, path, app)
        return ToolResult(
            tool=self.tool_id("sync"),
            status="ok",
            query=f"POST {path}",
            params=body,
            data=data,
            summary=f"{'dry run: ' if args.dry_run else ''}sync of {args.name} to "
            f"{args.revision or 'its target revision'} requested; operation {data['operation']['phase'] or 'pending'}",
        )

    async def check(self) -> str:
        """``/api/version`` (reachability), then ``/api/v1/session/userinfo`` (is the token accepted)."""
        response, version = await self._send("GET", "/api/version")
        number = opt_str(version.get("Version"))
        if number is None:
            raise malformed(self.http, response, "/api/version", "the body has no Version")
        path = "/api/v1/session/userinfo"
        response, info = await self._send("GET", path)
        if info.get("loggedIn") is not True:
            raise UpstreamError(
                f"GET {path}: Argo CD {number} answers, but does not accept the token (loggedIn is false)",
                method="GET",
                path=path,
                status_code=401,
                body_excerpt=self.http.redact(response.text[:500]),
            )
        return f"Argo CD {number}, token accepted for {opt_str(info.get('username')) or 'an unnamed account'}"

    async def _send(
        self, method: str, path: str, *, params: dict[str, Any] | None = None, json: Any = None
    ) -> tuple[httpx.Response, dict[str, Any]]:
        response = await self.http.request(method, path, params=params, json=json, describe_error=describe_argocd_error)
        return response, expect_dict(self.http, response, path, decode_json(self.http, response, path), "the body")


def describe_argocd_error(response: httpx.Response) -> str | None:
    """``Argo CD FailedPrecondition: <message>``, with what to do when auto-sync blocks a rollback."""
    message = json_field(response, "message", "error")
    if not isinstance(message, str):
        return None
    code = json_field(response, "code")
    name = GRPC_CODES.get(code, f"code {code}") if isinstance(code, int) else "error"
    text = f"Argo CD {name}: {message}"
    if "auto-sync is enabled" in message:
        text += f" ({AUTO_SYNC_HINT})"
    return text


def _app_path(args: AppRef) -> str:
    return f"/api/v1/applications/{args.name}"


def _ns_params(args: AppRef) -> dict[str, Any]:
    return {"appNamespace": args.app_namespace} if args.app_namespace else {}


def _history_id(value: Any) -> int | None:
    """A history id: a JSON number, or a string of digits (protobuf JSON writes int64 as a string)."""
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return opt_int(value)


def _short(revision: Any) -> str:
    text = str(revision or "?")
    return text[:7] if len(text) == 40 else text


def _application(adapter: Adapter, response: httpx.Response, path: str, app: dict[str, Any]) -> dict[str, Any]:
    meta, spec, status = as_dict(app.get("metadata")), as_dict(app.get("spec")), as_dict(app.get("status"))
    name = opt_str(meta.get("name"))
    if name is None:
        raise malformed(adapter.http, response, path, "the body is not an Application (no metadata.name)")
    source = as_dict(spec.get("source")) or as_dict(next(iter(as_list(spec.get("sources"))), None))
    automated = as_dict(spec.get("syncPolicy")).get("automated")
    sync, health = as_dict(status.get("sync")), as_dict(status.get("health"))
    operation = as_dict(status.get("operationState"))
    history = [h for h in as_list(status.get("history")) if isinstance(h, dict)]
    history.sort(key=lambda h: _history_id(h.get("id")) or 0, reverse=True)
    resources = [r for r in as_list(status.get("resources")) if isinstance(r, dict)]
    unhealthy = [
        {
            "kind": opt_str(r.get("kind")),
            "name": opt_str(r.get("name")),
            "namespace": opt_str(r.get("namespace")),
            "health": opt_str(as_dict(r.get("health")).get("status")),
            "message": opt_str(as_dict(r.get("health")).get("message")),
        }
        for r in resources
        if as_dict(r.get("health")).get("status") not in (None, "Healthy")
    ]
    return {
        "name": name,
        "namespace": opt_str(meta.get("namespace")),
        "project": opt_str(spec.get("project")),
        "source": {
            "repo_url": opt_str(source.get("repoURL")),
            "path": opt_str(source.get("path")),
            "chart": opt_str(source.get("chart")),
            "target_revision": opt_str(source.get("targetRevision")),
        },
        "destination": {
            "server": opt_str(as_dict(spec.get("destination")).get("server")),
            "namespace": opt_str(as_dict(spec.get("destination")).get("namespace")),
        },
        "auto_sync": isinstance(automated, dict),
        "sync": {"status": opt_str(sync.get("status")), "revision": opt_str(sync.get("revision"))},
        "health": {"status": opt_str(health.get("status")), "message": opt_str(health.get("message"))},
        "operation": {
            "phase": opt_str(operation.get("phase")),
            "message": clip(operation["message"], 300) if isinstance(operation.get("message"), str) else None,
            "started_at": opt_str(operation.get("startedAt")),
            "finished_at": opt_str(operation.get("finishedAt")),
            "revision": opt_str(as_dict(operation.get("syncResult")).get("revision")),
        },
        "images": [i for i in as_list(as_dict(status.get("summary")).get("images")) if isinstance(i, str)],
        "unhealthy_resources": unhealthy[:RESOURCES_SHOWN],
        "history": [
            {
                "id": _history_id(h.get("id")),
                "revision": opt_str(h.get("revision")),
                "deployed_at": opt_str(h.get("deployedAt")),
                "started_at": opt_str(h.get("deployStartedAt")),
                "target_revision": opt_str(as_dict(h.get("source")).get("targetRevision")),
            }
            for h in history[:HISTORY_SHOWN]
        ],
    }


def _app_line(data: dict[str, Any]) -> str:
    sync, health, operation = data["sync"], data["health"], data["operation"]
    text = (
        f"{data['name']} is {sync['status']} at {_short(sync['revision'])} and {health['status']}"
        f"{' (' + clip(health['message'], 120) + ')' if health['message'] else ''}; auto-sync "
        f"{'on' if data['auto_sync'] else 'off'}"
    )
    if operation["phase"]:
        text += f"; last operation {operation['phase']}"
        if operation["message"]:
            text += f": {clip(operation['message'], 120)}"
    if data["unhealthy_resources"]:
        text += "; unhealthy: " + ", ".join(
            f"{r['kind']}/{r['name']} {r['health']}" for r in data["unhealthy_resources"][:5]
        )
    if data["history"]:
        newest = data["history"][0]
        text += f"; newest history id {newest['id']} ({_short(newest['revision'])} at {newest['deployed_at']})"
    return text
