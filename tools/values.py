"""The adapter SDK's value types: errors, safety metadata, results, execution grants, settings.

Errors, by intent (the caller decides what to do from the type, never from the message)::

    ToolError
     ├── ToolInputError        the arguments are wrong: fix them and call again (a model can retry)
     ├── UpstreamError         the backend failed or answered nonsense; visible on the result
     │    └── UpstreamTimeout  no answer within the per-call timeout
     ├── ApprovalRequired      a mutating call without a valid execution grant; needs a human
     └── AdapterDefinitionError  a developer mistake found at registration (bad safety metadata...)

`CheckSkipped` is not an error: an adapter's `Adapter.check` raises it when the integration has no
read that could prove connectivity without side effects (a webhook that only posts).

`ToolResult.status` is ``ok``, ``no_data`` (the query worked and found nothing: not an error),
``error`` or ``approval_required``. Every result echoes the exact query, parameters and time window so
that evidence built on it can be cited and re-run.

This module imports nothing else of ``tools``: the HTTP layer, the invoker, the grants and the
adapter class all build on it.
"""


from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ToolStatus = Literal["ok", "no_data", "error", "approval_required"]
ApprovalTier = Literal["auto", "approve", "forbid"]
BlastRadius = Literal["none", "single_resource", "service", "namespace", "cluster", "external"]


class ToolError(Exception):
    """Base of every error an adapter raises on purpose."""


class ToolInputError(ToolError):
    """The call's arguments are invalid. The message names the field; the caller may fix and retry."""


class UpstreamError(ToolError):
    """The backend answered with an error or an unusable body.

    Carries what was tried (method, URL path, parameters) and what came back (status, body excerpt),
    with secrets already redacted by the HTTP layer.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        params: dict[str, Any] | None = None,
        status_code: int | None = None,
        body_excerpt: str = "",
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.params = params or {}
        self.status_code = status_code
        self.body_excerpt = body_excerpt
        self.retryable = retryable


class UpstreamTimeout(UpstreamError):
    """The backend did not answer within the per-call timeout (after the bounded retries)."""


class ApprovalRequired(ToolError):
    """A mutating call was attempted without a valid execution grant from the action ledger."""


class AdapterDefinitionError(ToolError, ValueError):
    """An adapter or instance is declared wrongly (a developer or configuration mistake).

    A `ValueError` too, so start-up code that reports bad configuration reports it the same way.
    """


class CheckSkipped(Exception):
    """`Adapter.check` cannot test this instance without a side effect; the message says why."""


class SafetyMetadata(BaseModel):
    """What a call can do to the world. The approval policy reads only this and the configuration.

    A mutating call must say whether it is reversible (and how), and which approval tier it defaults
    to; registration refuses it otherwise.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mutating: bool
    destructive: bool = False
    reversible: bool | None = None
    undo: str | None = Field(default=None, description="How to reverse the action, for humans.")
    idempotent: bool = True
    blast_radius: BlastRadius = "none"
    approval_tier: ApprovalTier | None = None
    action_class: str = Field(
        default="read",
        description="Policy key, e.g. read, rollback, restart, scale, notify, status_page.",
    )

    @model_validator(mode="after")
    def _mutating_needs_metadata(self) -> SafetyMetadata:
        if self.mutating:
            missing = [
                name
                for name, value in (("reversible", self.reversible), ("approval_tier", self.approval_tier))
                if value is None
            ]
            if self.reversible and not self.undo:
                missing.append("undo")
            if missing:
                raise ValueError(
                    f"a mutating call must declare {', '.join(missing)} in its safety metadata"
                )
        return self


READ_ONLY = SafetyMetadata(mutating=False, approval_tier="auto", reversible=True, action_class="read")


class TimeWindow(BaseModel):
    """The time range a query covered (UTC)."""

    start: datetime
    end: datetime


class ToolErrorInfo(BaseModel):
    """What went wrong, in a form a human or a model can act on."""

    kind: Literal["input", "upstream", "timeout", "approval", "internal"]
    message: str
    upstream_status: int | None = None
    body_excerpt: str = ""


class ToolResult(BaseModel):
    """The outcome of one call, echoing exactly what was asked."""

    # Metric samples can be NaN or +/-Inf (a histogram_quantile over an empty or top bucket). Pydantic's
    # default JSON writes them as null, which reads as "missing"; strings keep them distinguishable.
    model_config = ConfigDict(ser_json_inf_nan="strings")

    tool: str = Field(description="instance.call, e.g. prometheus.query_range")
    status: ToolStatus
    query: str = Field(description="The exact query or request, as sent.")
    params: dict[str, Any] = Field(default_factory=dict)
    window: TimeWindow | None = None
    data: Any = None
    summary: str = Field(default="", description="One line saying what was observed.")
    error: ToolErrorInfo | None = None
    truncated: str | None = Field(default=None, description="What the output budget cut, if anything.")
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class ExecutionGrant:
    """Proof, minted only by the action ledger, that one mutating call may run once.

    ``args_hash`` binds the grant to the exact arguments that were approved.
    """

    incident_id: str
    action_id: str
    tool: str
    args_hash: str
    approved_by: str
    _seal: str

    def matches(self, tool: str, args: BaseModel) -> bool:
        return self.tool == tool and self.args_hash == hash_args(args.model_dump(mode="json"))


def hash_args(args: dict[str, Any]) -> str:
    """A stable hash of call arguments (key order does not matter)."""
    return hashlib.sha256(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()[:16]


class AdapterSettings(BaseModel):
    """Settings common to every instance. Adapters subclass this for their own fields.

    Secrets are never in the file: ``token_env`` (or ``username_env``/``password_env``) names the
    environment variable that holds them.
    """

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(default="", description="The API root, e.g. https://api.github.com.")
    base_url_env: str | None = Field(
        default=None,
        description="Environment variable holding the base URL instead, for integrations whose URL is "
        "itself the secret (a Teams Workflows webhook). The value is redacted like a token.",
    )
    token_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_retries: int = Field(default=2, ge=0, le=5)
    output_budget_chars: int = Field(default=20_000, ge=500)
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_base_url(self) -> AdapterSettings:
        if bool(self.base_url) == bool(self.base_url_env):
            raise ValueError("give exactly one of base_url or base_url_env")
        return self


