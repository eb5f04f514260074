"""The tool registry: adapter kinds (built in and plugins), configured instances, and invocation.

Kinds come from `BUILTIN_KINDS` and from the entry-point group ``firstline.tools`` (a third-party
package declares ``[project.entry-points."firstline.tools"] mykind = "mypkg.adapter:MyAdapter"``).
Instances come from the ``tools:`` section of config.yaml: a name, a ``kind`` and that kind's
settings. Registration validates every adapter class; a mutating call without reversibility and
approval metadata is refused with an `AdapterDefinitionError` naming the call.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ValidationError

from tools.base import (
    Adapter,
    AdapterDefinitionError,
    AdapterSettings,
    CallSpec,
    ExecutionGrant,
    MissingSecret,
    SafetyMetadata,
    ToolResult,
    UpstreamError,
)
from tools.http import HttpCaller, Redactor, resolve_secret
from tools.invoke import describe_validation_error

ENTRY_POINT_GROUP = "firstline.tools"

BUILTIN_KINDS: dict[str, str] = {
    "prometheus": "tools.prometheus:PrometheusAdapter",
    "loki": "tools.loki:LokiAdapter",
    "tempo": "tools.tempo:TempoAdapter",
    "kubernetes": "tools.kubernetes:KubernetesAdapter",
    "github": "tools.github:GitHubAdapter",
    "statuspage": "tools.statuspage:StatuspageAdapter",
    "provider_status": "tools.provider_status:ProviderStatusAdapter",
    "slack": "tools.slack:SlackAdapter",
    "elasticsearch": "tools.elasticsearch:ElasticsearchAdapter",
    "argocd": "tools.argocd:ArgoCDAdapter",
    "pagerduty": "tools.pagerduty:PagerDutyAdapter",
    "pagerduty_events": "tools.pagerduty_events:PagerDutyEventsAdapter",
    "teams": "tools.teams:TeamsAdapter",
    "http_action": "tools.http_action:HttpActionAdapter",
    "mcp": "tools.mcp:McpAdapter",
}

ClientFactory = Callable[[str, AdapterSettings, dict[str, str]], httpx.AsyncClient]


def validate_adapter_class(cls: type[Adapter], *, origin: str) -> None:
    """Refuse an adapter class that is declared wrongly, naming what to fix."""
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterDefinitionError(f"{origin}: {cls!r} is not a subclass of tools.base.Adapter")
    if not cls.kind:
        raise AdapterDefinitionError(f"{origin}: {cls.__qualname__} does not set `kind`")
    if not cls.calls and not cls.configurable_calls:
        raise AdapterDefinitionError(f"{origin}: {cls.__qualname__} declares no @tool_call methods")
    if not (isinstance(cls.settings_model, type) and issubclass(cls.settings_model, AdapterSettings)):
        raise AdapterDefinitionError(
            f"{origin}: {cls.__qualname__}.settings_model must subclass tools.base.AdapterSettings"
        )
    validate_calls(cls.kind, cls.calls.values(), origin=origin)


def validate_calls(kind: str, specs: Iterable[CallSpec], *, origin: str) -> None:
    """Refuse a call whose safety metadata is invalid (a mutating call without reversibility, undo or tier)."""
    for spec in specs:
        try:
            # Re-validate: a plugin could have built the metadata with model_construct().
            SafetyMetadata.model_validate(spec.safety.model_dump())
        except ValidationError as exc:
            raise AdapterDefinitionError(
                f"{origin}: {kind}.{spec.name} has invalid safety metadata: {describe_validation_error(exc)}"
            ) from exc


def load_kind(target: str) -> type[Adapter]:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, attr)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise AdapterDefinitionError(f"{target} is not an adapter class (a subclass of tools.base.Adapter)")
    return cls


def available_kinds(*, include_plugins: bool = True) -> dict[str, type[Adapter]]:
    """Every adapter kind: built in, then plugins from the ``firstline.tools`` entry points."""
    kinds: dict[str, type[Adapter]] = {}
    for kind, target in BUILTIN_KINDS.items():
        cls = load_kind(target)
        validate_adapter_class(cls, origin=f"built-in {target}")
        kinds[kind] = cls
    if include_plugins:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            origin = f"plugin {ep.value} (entry point {ep.name!r} in {_distribution(ep)})"
            try:
                cls = ep.load()
            except ValidationError as exc:  # e.g. SafetyMetadata refused while the class was defined
                raise AdapterDefinitionError(f"{origin} cannot be loaded: {describe_validation_error(exc)}") from exc
            except (ImportError, AttributeError, ValueError) as exc:
                raise AdapterDefinitionError(f"{origin} cannot be loaded: {exc}") from exc
            validate_adapter_class(cls, origin=origin)
            if cls.kind in kinds:
                raise AdapterDefinitionError(
                    f"{origin}: kind {cls.kind!r} is already provided by {kinds[cls.kind].__module__}; "
                    "give the plugin's adapter another kind"
                )
            kinds[cls.kind] = cls
    return kinds


def kind_origin(cls: type[Adapter]) -> str:
    """``built-in``, or ``plugin <package> <version>`` (the installed distribution whose entry point names it)."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    if BUILTIN_KINDS.get(cls.kind) == target:
        return "built-in"
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.value.replace(" ", "") == target:
            return f"plugin {_distribution(ep).removeprefix('package ')}"
    return f"plugin {cls.__module__}"


def _distribution(ep: EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return f"package {dist.name} {dist.version}" if dist is not None else "an unknown package"


def default_client_factory(instance: str, settings: AdapterSettings, headers: dict[str, str]) -> httpx.AsyncClient:
    # A query string in the base URL (a webhook's signature) is not a path prefix: adapters that need
    # it send it per request (see tools.teams).
    base_url = httpx.URL(settings.base_url).copy_with(query=None, fragment=None)
    return httpx.AsyncClient(
        base_url=base_url,
        headers={**settings.headers, **headers},
        timeout=settings.timeout_seconds,
    )


def parse_settings(name: str, adapter_cls: type[Adapter], raw: Mapping[str, Any]) -> AdapterSettings:
    """Validate one instance's settings (without ``kind``); errors name ``tools.<name>`` and the field."""
    try:
        return adapter_cls.settings_model.model_validate(dict(raw))
    except ValidationError as exc:
        raise ValueError(f"tools.{name}: {describe_validation_error(exc)}") from exc


def resolve_kind(
    name: str, raw: Mapping[str, Any], kinds: Mapping[str, type[Adapter]]
) -> tuple[type[Adapter], dict[str, Any]]:
    """The adapter class an instance's ``kind`` (default: its name) names, and the rest of its settings."""
    settings = dict(raw)
    kind = settings.pop("kind", None) or name
    adapter_cls = kinds.get(kind)
    if adapter_cls is None:
        raise ValueError(f"tools.{name}.kind: unknown integration {kind!r}; known: {', '.join(sorted(kinds))}")
    return adapter_cls, settings


SECRET_PARAM_WORDS = ("sig", "token", "key", "code", "secret", "auth", "pass")


def url_secrets(url: str) -> list[str]:
    """The values to redact for a URL that is itself a secret: the URL, its query, credential-like parameters."""
    parsed = httpx.URL(url)
    secrets = [url, parsed.query.decode()]
    secrets += [v for k, v in parsed.params.multi_items() if any(w in k.lower() for w in SECRET_PARAM_WORDS)]
    return secrets


def build_instance(
    name: str,
    raw: Mapping[str, Any],
    *,
    kinds: Mapping[str, type[Adapter]],
    client_factory: ClientFactory = default_client_factory,
    clock: Callable[[], datetime] | None = None,
) -> Adapter:
    """One configured instance: kind, settings, declared calls and credentials checked, client built.

    Raises `ValueError` naming ``tools.<name>`` and the field (bad setting, unset variable) and
    `AdapterDefinitionError` for an adapter or a configured call declared wrongly.
    """
    adapter_cls, rest = resolve_kind(name, raw, kinds)
    origin = f"tools.{name} (kind {adapter_cls.kind!r})"
    validate_adapter_class(adapter_cls, origin=origin)
    settings = parse_settings(name, adapter_cls, rest)
    validate_calls(adapter_cls.kind, adapter_cls.declared_calls(settings).values(), origin=origin)
    secrets: list[str] = []
    if settings.base_url_env:
        url = resolve_secret(settings.base_url_env, field="base_url_env", instance=name) or ""
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"instance {name!r}: base_url_env names {settings.base_url_env!r}, which does not hold an http(s) URL"
            )
        settings = settings.model_copy(update={"base_url": url})
        secrets += url_secrets(url)
    headers, auth_secrets = adapter_cls.auth_headers(settings, instance=name)
    caller = HttpCaller(
        client_factory(name, settings, headers),
        instance=name,
        timeout_seconds=settings.timeout_seconds,
        max_retries=settings.max_retries,
        redactor=Redactor([*secrets, *auth_secrets]),
    )
    return adapter_cls(name, settings, caller, clock=clock) if clock else adapter_cls(name, settings, caller)


class ToolInfo(BaseModel):
    """One call of one configured instance (the LLM reasoner offers the read-only ones as tools)."""

    tool: str
    instance: str
    kind: str
    call: str
    description: str
    mutating: bool
    action_class: str
    approval_tier: str | None
    reversible: bool | None
    blast_radius: str


class ToolRegistry:
    """Configured adapter instances by name, with one invocation entry point."""

    def __init__(self, adapters: Mapping[str, Adapter], *, disabled: Mapping[str, MissingSecret] | None = None) -> None:
        self.adapters = dict(adapters)
        # Instances left out because a secret they need is not set (see `from_config`).
        self.disabled: dict[str, MissingSecret] = dict(disabled or {})
        # Instances left out because they could not be opened (an MCP server that does not answer), with why.
        self.unavailable: dict[str, str] = {}

    async def open(self) -> None:
        """Open every instance (`Adapter.open`): an MCP client connects and lists its tools.

        An instance that cannot be opened is closed, left out and listed in `unavailable` with the
        reason (the runtime warns), so one unreachable server does not stop an incident. The calls an
        instance discovered are checked like declared ones: invalid safety metadata raises
        `AdapterDefinitionError`. Opening twice does nothing more.
        """
        for name, adapter in list(self.adapters.items()):
            try:
                await adapter.open()
            except UpstreamError as exc:
                self.unavailable[name] = str(exc)
                del self.adapters[name]
                await adapter.aclose()
                continue
            validate_calls(adapter.kind, adapter.calls.values(), origin=f"tools.{name} (kind {adapter.kind!r})")

    @classmethod
    def from_config(
        cls,
        instances: Mapping[str, Mapping[str, Any]],
        *,
        kinds: Mapping[str, type[Adapter]] | None = None,
        client_factory: ClientFactory = default_client_factory,
        clock: Callable[[], datetime] | None = None,
        missing_secrets: Literal["fail", "disable"] = "fail",
    ) -> ToolRegistry:
        """Build every instance from its config mapping (``kind`` plus that kind's settings).

        Raises `ValueError` naming the instance and the field for a bad setting. An unset secret
        variable raises `MissingSecret` too, unless ``missing_secrets="disable"``: then that instance is
        left out and listed in `disabled` (the runtime warns; an investigation records the checks it
        could not run), so a first run starts with the integrations it can reach. ``clock`` replaces the
        adapters' wall clock (the simulator's clock in the sandbox).
        """
        kinds = kinds if kinds is not None else available_kinds()
        adapters: dict[str, Adapter] = {}
        disabled: dict[str, MissingSecret] = {}
        for name, raw in instances.items():
            try:
                adapters[name] = build_instance(name, raw, kinds=kinds, client_factory=client_factory, clock=clock)
            except MissingSecret as exc:
                if missing_secrets == "fail":
                    raise
                disabled[name] = exc
        return cls(adapters, disabled=disabled)

    async def aclose(self) -> None:
        for adapter in self.adapters.values():
            await adapter.aclose()

    def instances_of(self, kind: str) -> list[Adapter]:
        return [a for a in self.adapters.values() if a.kind == kind]

    def first(self, kind: str) -> Adapter | None:
        found = self.instances_of(kind)
        return found[0] if found else None

    def resolve(self, tool_id: str) -> tuple[Adapter, CallSpec]:
        instance, _, call = tool_id.partition(".")
        adapter = self.adapters.get(instance)
        if adapter is None:
            raise KeyError(f"unknown tool instance {instance!r} in {tool_id!r}; configured: {', '.join(self.adapters)}")
        spec = adapter.calls.get(call)
        if spec is None:
            raise KeyError(
                f"unknown call {call!r} on {instance} ({adapter.kind}); available: {', '.join(adapter.calls)}"
            )
        return adapter, spec

    async def invoke(
        self,
        tool_id: str,
        args: BaseModel | dict[str, Any],
        *,
        grant: ExecutionGrant | None = None,
        budget: int | None | Literal["default"] = "default",
    ) -> ToolResult:
        instance, _, call = tool_id.partition(".")
        adapter = self.adapters.get(instance)
        if adapter is None:
            from tools.base import ToolErrorInfo

            message = f"unknown tool {tool_id!r}; configured instances: {', '.join(self.adapters) or 'none'}"
            return ToolResult(
                tool=tool_id,
                status="error",
                query=tool_id,
                summary=message,
                error=ToolErrorInfo(kind="input", message=message),
            )
        return await adapter.invoke(call, args, grant=grant, budget=budget)

    def list_tools(self) -> list[ToolInfo]:
        infos = []
        for adapter in self.adapters.values():
            for spec in adapter.calls.values():
                infos.append(
                    ToolInfo(
                        tool=adapter.tool_id(spec.name),
                        instance=adapter.instance,
                        kind=adapter.kind,
                        call=spec.name,
                        description=spec.description,
                        mutating=spec.safety.mutating,
                        action_class=spec.safety.action_class,
                        approval_tier=spec.safety.approval_tier,
                        reversible=spec.safety.reversible,
                        blast_radius=spec.safety.blast_radius,
                    )
                )
        return infos
