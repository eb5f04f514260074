"""The adapter SDK: typed tool calls with safety metadata and uniform results.

An *adapter* speaks one integration's wire format (Prometheus, Loki, Kubernetes...). It is configured
as one or more named *instances* and exposes *calls*: async methods decorated with `tool_call`, each
taking one pydantic input model and returning a `ToolResult`.

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
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from tools.http import HttpCaller

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


InputT = TypeVar("InputT", bound=BaseModel)
CallFn = Callable[[Any, Any], Awaitable[ToolResult]]


@dataclass(frozen=True)
class CallSpec:
    """A declared call: its name, the schema the model sees, and its safety metadata."""

    name: str
    description: str
    input_model: type[BaseModel]
    safety: SafetyMetadata
    fn: CallFn


def tool_call(
    *, description: str, safety: SafetyMetadata = READ_ONLY, name: str | None = None
) -> Callable[[Callable[[Any, InputT], Awaitable[ToolResult]]], Callable[[Any, InputT], Awaitable[ToolResult]]]:
    """Declare an adapter method as a call.

    The method takes exactly one argument, a pydantic model (its type annotation is the input schema),
    and returns a `ToolResult`. Invoke calls through `Adapter.invoke` (or the registry), which adds
    validation, the approval guard, the output budget and the log line.
    """

    def decorate(fn: Callable[[Any, InputT], Awaitable[ToolResult]]) -> Callable[[Any, InputT], Awaitable[ToolResult]]:
        fn.__firstline_call__ = {  # type: ignore[attr-defined]  # marker read by Adapter.__init_subclass__
            "name": name or fn.__name__,
            "description": description,
            "safety": safety,
        }
        return fn

    return decorate


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


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Adapter:
    """Base of every integration. Subclasses set `kind`, `settings_model` and decorate calls.

    An instance is built from its settings, an `HttpCaller` (which holds the injected
    ``httpx.AsyncClient`` and the cross-cutting behaviour) and a clock (``now`` for calls that
    default to the current time; the simulator injects its own).
    """

    kind: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[AdapterSettings]] = AdapterSettings
    auth_scheme: ClassVar[str] = "Bearer"
    # True when an instance's calls come from its settings (see `declared_calls`), not @tool_call methods.
    configurable_calls: ClassVar[bool] = False
    # The calls declared with @tool_call on the class. An instance's own calls are `self.calls`, which
    # `declared_calls` may extend from the settings.
    calls: dict[str, CallSpec] = {}

    def __init__(
        self,
        instance: str,
        settings: AdapterSettings,
        http: HttpCaller,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.instance = instance
        self.settings = settings
        self.http = http
        self.clock = clock
        self.calls = type(self).declared_calls(settings)

    @classmethod
    def declared_calls(cls, settings: AdapterSettings) -> dict[str, CallSpec]:
        """The calls an instance with these settings offers: the class's @tool_call methods.

        An adapter whose calls are declared in configuration (``configurable_calls = True``, like the
        generic HTTP action) overrides this. It runs without credentials, so ``firstline tools list``
        can show every call before any secret is set.
        """
        return dict(cls.calls)

    @classmethod
    def auth_headers(cls, settings: AdapterSettings, *, instance: str) -> tuple[dict[str, str], list[str]]:
        """The headers that authenticate every request, and the secret values to redact.

        The default sends ``Authorization: <auth_scheme> <token>`` from ``token_env`` (or basic auth
        from ``username_env``/``password_env``). Override for another header.
        """
        from tools.http import auth_headers  # local: http.py imports this module

        return auth_headers(settings, instance=instance, scheme=cls.auth_scheme)

    async def check(self) -> str:
        """Prove that this instance is reachable and its credentials work, with the cheapest read.

        Return one short line saying what answered (``Prometheus 2.53.0``); let `UpstreamError` from
        ``self.http`` propagate (``firstline tools check`` turns it into a failure with a fix hint);
        raise `CheckSkipped` when no read exists that has no side effect.
        """
        raise CheckSkipped(f"the {self.kind} adapter defines no check")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, CallSpec] = {}
        for base in reversed(cls.__mro__):
            for attr in vars(base).values():
                marker = getattr(attr, "__firstline_call__", None)
                if marker is None:
                    continue
                input_model = _input_model_of(attr)
                found[marker["name"]] = CallSpec(
                    name=marker["name"],
                    description=marker["description"],
                    input_model=input_model,
                    safety=marker["safety"],
                    fn=attr,
                )
        cls.calls = found

    def tool_id(self, call: str) -> str:
        return f"{self.instance}.{call}"

    async def invoke(
        self,
        call: str,
        args: BaseModel | dict[str, Any],
        *,
        grant: ExecutionGrant | None = None,
        budget: int | None | Literal["default"] = "default",
    ) -> ToolResult:
        """Validate, guard, run and budget one call. Never raises for upstream or input problems.

        ``budget`` caps the result's size in characters: the instance's ``output_budget_chars`` by
        default (what a model sees), or None for code that reads the full result.
        """
        from tools.invoke import invoke_call  # local: invoke.py imports this module

        return await invoke_call(self, call, args, grant=grant, budget=budget)


def _input_model_of(fn: Callable[..., Any]) -> type[BaseModel]:
    import inspect
    import typing

    hints = typing.get_type_hints(fn)
    params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
    if len(params) != 1:
        raise AdapterDefinitionError(
            f"{fn.__qualname__}: a call takes exactly one input model argument, got {len(params)}"
        )
    model = hints.get(params[0].name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise AdapterDefinitionError(
            f"{fn.__qualname__}: the argument {params[0].name!r} must be annotated with a pydantic model"
        )
    return model

