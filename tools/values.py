"""The adapter SDK's value types: errors, safety metadata, results, execution grants, settings.

Errors, by intent (the caller decides what to do from the type, never from the message)::

    ToolError
     ├── ToolInputError        the arguments are wrong: fix them and call again (a model can retry)
     ├── UpstreamError         the backend failed or answered nonsense; visible on the result
     │    └── UpstreamTimeout  no answer within the per-call timeout
     ├── ApprovalRequired      a mutating call without a valid execution grant; needs a human
     ├── AdapterDefinitionError  a developer mistake found at registration (bad safety metadata...)
     └── ResultShapeError      a developer mistake found at run time: a result's data is not the
                               payload model the adapter declared or the caller asked for

`CheckSkipped` is not an error: an adapter's `Adapter.check` raises it when the integration has no
read that could prove connectivity without side effects (a webhook that only posts).

`ToolResult.status` is ``ok``, ``no_data`` (the query worked and found nothing: not an error),
``error`` or ``approval_required``. Every result echoes the exact query, parameters and time window so
that evidence built on it can be cited and re-run.

Two views of one result: ``data`` is the JSON the model sees, the output budget trims and the ledger
records; a read call that declares a result model (``tool_call(result=PodList)``) also carries that
model as its typed *payload*, read with ``result.payload(PodList)``. ``data`` is always the payload's
JSON dump, so the two cannot disagree; a payload lost on the way (a result read back from the ledger,
a list trimmed by the budget) is validated again from ``data``, once.

This module imports nothing else of ``tools``: the HTTP layer, the invoker, the grants and the
adapter class all build on it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, RootModel, ValidationError, model_validator

ToolStatus = Literal["ok", "no_data", "error", "approval_required"]
PayloadT = TypeVar("PayloadT", bound=BaseModel)
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


class ResultShapeError(ToolError, TypeError):
    """A result's data does not fit the payload model asked for: an adapter or a caller is wrong.

    A `TypeError` too: like a wrong argument type, it is a bug to fix in code, never a state a model
    or an operator can act on, so nothing catches it on purpose.
    """


class MissingSecret(ValueError):
    """A ``*_env`` setting names an environment variable that is not set (a configuration problem).

    Carries the instance, the setting and the variable, so the runtime can disable just that
    instance with a warning naming them, while ``tools check`` reports it.
    """

    def __init__(self, *, instance: str, field: str, variable: str) -> None:
        super().__init__(f"instance {instance!r}: {field} names environment variable {variable!r}, which is not set")
        self.instance, self.field, self.variable = instance, field, variable


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
                raise ValueError(f"a mutating call must declare {', '.join(missing)} in its safety metadata")
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

    # The typed payload behind ``data`` (see the module docstring). Private: never serialized, so the
    # JSON shape of a result (for the model, the ledger, the run record) does not depend on it.
    _payload: BaseModel | None = PrivateAttr(default=None)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def with_payload(
        cls,
        payload: BaseModel,
        *,
        tool: str,
        status: ToolStatus,
        query: str,
        params: dict[str, Any] | None = None,
        window: TimeWindow | None = None,
        summary: str = "",
    ) -> ToolResult:
        """A result whose ``data`` is ``payload``'s JSON dump and whose typed payload is ``payload``."""
        result = cls(
            tool=tool,
            status=status,
            query=query,
            params=params or {},
            window=window,
            summary=summary,
            data=payload.model_dump(mode="json"),
        )
        result._payload = payload
        return result

    def replace_data(self, data: Any) -> None:
        """Set ``data`` to another value (the output budget trims it) and drop the typed payload, so
        that a later `payload` reads what is left rather than what was cut."""
        self.data = data
        self._payload = None

    def payload(self, model: type[PayloadT]) -> PayloadT:
        """The result's data as ``model``: datetimes, ints and lists of models instead of JSON.

        Returns the payload the adapter built when it is a ``model`` (or a `RootModel` union whose
        value is one), else validates ``data`` once and keeps the answer. Works for ``ok`` and
        ``no_data`` results (an empty list is a payload); check ``status`` first, because an
        ``error`` or ``approval_required`` result has none. Raises `ResultShapeError`, naming the
        call, when there is no payload or ``data`` does not fit ``model``.
        """
        if self.status not in ("ok", "no_data"):
            raise ResultShapeError(
                f"{self.tool} returned {self.status!r}, which carries no {model.__name__} payload: {self.summary}"
            )
        cached = self._payload
        if isinstance(cached, RootModel) and isinstance(cached.root, model):
            return cached.root
        if isinstance(cached, model):
            return cached
        try:
            parsed = model.model_validate(self.data)
        except ValidationError as exc:
            cut = f" (the output budget cut it: {self.truncated})" if self.truncated else ""
            raise ResultShapeError(
                f"{self.tool}: the result's data is not a {model.__name__}{cut}: {_first_errors(exc)}"
            ) from exc
        self._payload = parsed
        return parsed


def _first_errors(exc: ValidationError, limit: int = 3) -> str:
    errors = exc.errors()
    shown = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in errors[:limit])
    return shown + (f"; and {len(errors) - limit} more" if len(errors) > limit else "")


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


def parse_moment(value: object) -> datetime | None:
    """A time read from a stored record: a datetime as it is, an ISO 8601 string (``Z`` accepted),
    anything else (missing, malformed) None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None
