"""The adapter class and the `tool_call` decorator.

An *adapter* speaks one integration's wire format (Prometheus, Loki, Kubernetes...). It is configured
as one or more named *instances* and exposes *calls*: async methods decorated with `tool_call`, each
taking one pydantic input model and returning a `ToolResult` (see `tools.values`). A read call
declares its result model too (``tool_call(..., result=PodList)``): the invoker then checks that every
``ok`` or ``no_data`` result carries that payload, so the agents can read typed values from it.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel

from tools.http import HttpCaller, auth_headers
from tools.invoke import invoke_call
from tools.values import (
    READ_ONLY,
    AdapterDefinitionError,
    AdapterSettings,
    CheckSkipped,
    ExecutionGrant,
    SafetyMetadata,
    ToolResult,
)

InputT = TypeVar("InputT", bound=BaseModel)
CallFn = Callable[[Any, Any], Awaitable[ToolResult]]


@dataclass(frozen=True)
class CallSpec:
    """A declared call: its name, the schema the model sees, its safety metadata and, for a call whose
    results code reads, the model of its typed payload (None: ``data`` is free-form JSON)."""

    name: str
    description: str
    input_model: type[BaseModel]
    safety: SafetyMetadata
    fn: CallFn
    result_model: type[BaseModel] | None = None


def tool_call(
    *,
    description: str,
    safety: SafetyMetadata = READ_ONLY,
    name: str | None = None,
    result: type[BaseModel] | None = None,
) -> Callable[[Callable[[Any, InputT], Awaitable[ToolResult]]], Callable[[Any, InputT], Awaitable[ToolResult]]]:
    """Declare an adapter method as a call.

    The method takes exactly one argument, a pydantic model (its type annotation is the input schema),
    and returns a `ToolResult`. Invoke calls through `Adapter.invoke` (or the registry), which adds
    validation, the approval guard, the output budget and the log line.

    ``result`` is the model of the call's typed payload: the method builds its results with
    ``ToolResult.with_payload(model_instance, ...)`` and callers read ``result.payload(Model)``.
    """

    def decorate(fn: Callable[[Any, InputT], Awaitable[ToolResult]]) -> Callable[[Any, InputT], Awaitable[ToolResult]]:
        fn.__firstline_call__ = {  # type: ignore[attr-defined]  # marker read by Adapter.__init_subclass__
            "name": name or fn.__name__,
            "description": description,
            "safety": safety,
            "result": result,
        }
        return fn

    return decorate


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
    # True when the calls are known only by asking the backend (an MCP server lists its tools): `open`
    # fills `self.calls`, and the registry opens every instance before use.
    discovers_calls: ClassVar[bool] = False
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
        return auth_headers(settings, instance=instance, scheme=cls.auth_scheme)

    async def open(self) -> None:
        """Prepare the instance before its first call; the default has nothing to do.

        An adapter whose calls come from its backend (``discovers_calls``) connects and lists them here,
        raising `UpstreamError` when it cannot.
        """

    async def aclose(self) -> None:
        """Release what the instance holds: its HTTP client (and, for some, a session or a subprocess)."""
        await self.http.client.aclose()

    def endpoint_setting(self) -> str:
        """The setting that says where the backend is, for a fix hint (``tools.NAME.base_url (URL)``)."""
        if self.settings.base_url_env:
            return f"tools.{self.instance}.base_url_env ({self.settings.base_url_env})"
        return f"tools.{self.instance}.base_url ({self.settings.base_url})"

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
                    result_model=marker.get("result"),
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
        return await invoke_call(self, call, args, grant=grant, budget=budget)


def _input_model_of(fn: Callable[..., Any]) -> type[BaseModel]:
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
