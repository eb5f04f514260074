"""The tools of any MCP server as an adapter kind (``kind: mcp``), through the official MCP SDK::

    tools:
      grafana-mcp:
        kind: mcp
        command: mcp-grafana                  # stdio: the server runs as a subprocess of firstline
        args: ["--disable-write"]
        env: [GRAFANA_API_KEY]                # names of variables passed on (or {CHILD_NAME: OUR_NAME})
        read_only: ["get_*", "list_*", "search_dashboards"]
      ops-mcp:
        kind: mcp
        url: https://ops.example.com/mcp      # streamable HTTP
        token_env: OPS_MCP_TOKEN              # sent as Authorization: Bearer
        read_only: [get_runbook]
        tools:                                # optional safety declarations of mutating tools
          restart_worker: {reversible: true, undo: "none needed: the worker restarts empty",
                           action_class: restart, blast_radius: service}

Each tool the server lists becomes the call ``<instance>.<tool>``, whose input model validates the
arguments against the tool's own JSON Schema (and shows that schema to a model).

**Safety is declared, never inferred.** A tool is read-only only when ``read_only`` names it (a name
or an ``fnmatch`` pattern); the server's own hints (``readOnlyHint``) are not trusted, since they
come from the code that would do the damage. Every other tool is mutating: approval tier
``approve``, not reversible unless ``tools.<name>`` declares it with undo text, and, like any
mutating call, it runs only with an execution grant the action ledger minted for exactly those
arguments (`tools.invoke`).

The calls are known only by asking the server, so `Adapter.open` connects and lists them (the
registry opens every instance before use); one session is kept for the instance's life, owned by a
background task so any task may call through it. A connection lost while idle is reopened before
the next call; a read lost mid-call is sent again (bounded by ``max_retries``); a mutating call lost
mid-call is never repeated, since the server may have acted.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fnmatch
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import httpx2
import jsonschema
import structlog
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult, TextContent
from mcp_types import Tool as McpTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tools.adapter import Adapter, CallSpec
from tools.http import HttpCaller, Redactor, auth_headers, resolve_secret
from tools.values import (
    READ_ONLY,
    AdapterDefinitionError,
    AdapterSettings,
    ApprovalTier,
    BlastRadius,
    SafetyMetadata,
    ToolInputError,
    ToolResult,
    ToolStatus,
    UpstreamError,
    UpstreamTimeout,
)
from tools.wire import clip

log = structlog.get_logger("firstline.tools.mcp")

# The MCP specification's tool names; anything else could not be called back by name reliably.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
MAX_LIST_PAGES = 100
BODY_EXCERPT_CHARS = 500


class McpToolSafety(BaseModel):
    """What one mutating MCP tool may do, declared by the operator (the server is never asked)."""

    model_config = ConfigDict(extra="forbid")

    reversible: bool = False
    undo: str | None = Field(default=None, description="How to reverse it; required when reversible.")
    destructive: bool = False
    idempotent: bool = False
    blast_radius: BlastRadius = "service"
    approval_tier: ApprovalTier = "approve"
    action_class: str | None = Field(default=None, description="Policy key; default: the instance's action_class.")

    @model_validator(mode="after")
    def _undo_when_reversible(self) -> McpToolSafety:
        if self.reversible and not (self.undo or "").strip():
            raise ValueError("reversible: true needs undo: how a human reverses it")
        return self


class McpSettings(AdapterSettings):
    """One MCP server: how to reach it, and which of its tools are read-only."""

    transport: Literal["stdio", "http"] | None = Field(
        default=None, description="stdio (command) or http (url); taken from which of the two is set."
    )
    command: str | None = Field(default=None, description="stdio: the executable that starts the server.")
    args: list[str] = Field(default_factory=list, description="stdio: its arguments.")
    env: list[str] | dict[str, str] = Field(
        default_factory=list,
        description="stdio: environment variables passed to the server, by name: a list passes each under its own "
        "name, a mapping {NAME_IN_SERVER: OUR_VARIABLE}. Values are secrets: redacted from every error and log line.",
    )
    cwd: Path | None = Field(default=None, description="stdio: the server's working directory.")
    url: str | None = Field(default=None, description="http: the streamable HTTP endpoint, e.g. https://h/mcp.")
    read_only: list[str] = Field(
        default_factory=list,
        description="Tool names or fnmatch patterns (get_*) that are read-only. Every other tool is mutating.",
    )
    tools: dict[str, McpToolSafety] = Field(
        default_factory=dict, description="Safety declarations of mutating tools (reversible and undo, class...)."
    )
    exclude: list[str] = Field(default_factory=list, description="Tool names or patterns never offered as calls.")
    action_class: str = Field(default="mcp", description="Policy key of mutating tools without their own.")
    connect_timeout_seconds: float = Field(default=30.0, gt=0, description="Start, connect and list the tools.")
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _one_base_url(self) -> McpSettings:
        # Replaces AdapterSettings' check: an MCP server is reached by command or url, not base_url.
        if self.base_url or self.base_url_env:
            raise ValueError("an MCP server takes command (stdio) or url (http), not base_url/base_url_env")
        if bool(self.command) == bool(self.url):
            raise ValueError("give exactly one of command (stdio transport) or url (streamable HTTP transport)")
        derived: Literal["stdio", "http"] = "stdio" if self.command else "http"
        if self.transport not in (None, derived):
            raise ValueError(f"transport {self.transport} needs {'url' if self.transport == 'http' else 'command'}")
        self.transport = derived
        if derived == "stdio" and (self.token_env or self.username_env or self.password_env or self.headers):
            raise ValueError(
                "token_env, username_env, password_env and headers are for url; pass a stdio server's secrets with env"
            )
        if derived == "http" and (self.env or self.args or self.cwd):
            raise ValueError("env, args and cwd are for a stdio server (command)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http(s) URL")
        both = sorted(n for n in self.tools if matches(n, self.read_only))
        if both:
            raise ValueError(f"tools: {', '.join(both)} declared mutating but also matched by read_only")
        return self


def matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def tool_safety(name: str, settings: McpSettings) -> SafetyMetadata:
    """The safety of one tool, from the configuration alone: read-only only when declared so."""
    if matches(name, settings.read_only):
        return READ_ONLY
    declared = settings.tools.get(name, McpToolSafety())
    try:
        return SafetyMetadata(
            mutating=True,
            destructive=declared.destructive,
            reversible=declared.reversible,
            undo=declared.undo,
            idempotent=declared.idempotent,
            blast_radius=declared.blast_radius,
            approval_tier=declared.approval_tier,
            action_class=declared.action_class or settings.action_class,
        )
    except ValidationError as exc:
        raise AdapterDefinitionError(f"tools.*.tools.{name}: {exc.errors()[0]['msg']}") from exc


class McpArguments(BaseModel):
    """The arguments of one MCP tool: a JSON object valid against the tool's own input schema.

    Subclassed per tool (`input_model_for`). The schema is the server's, so it is what a model sees
    (`model_json_schema`) and what arguments are checked against, with errors naming the field.
    """

    model_config = ConfigDict(extra="allow")

    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    schema_validator: ClassVar[Any] = None

    @model_validator(mode="before")
    @classmethod
    def _valid_against_schema(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("the arguments must be a JSON object")
        if cls.schema_validator is not None:
            errors = sorted(cls.schema_validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
            if errors:
                shown = [
                    f"{'.'.join(str(p) for p in e.absolute_path) or '(arguments)'}: {e.message}" for e in errors[:3]
                ]
                raise ValueError("; ".join(shown) + (f"; and {len(errors) - 3} more" if len(errors) > 3 else ""))
        return data

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The server's input schema as given (a copy), not one pydantic derived."""
        return copy.deepcopy(cls.input_schema)


def input_model_for(tool: str, schema: dict[str, Any]) -> type[McpArguments]:
    """An input model validating against ``schema``. Raises `ValueError` for a schema that is not one."""
    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"its inputSchema is not a valid JSON Schema: {exc.message}") from exc
    name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", tool) if part) + "Arguments"
    namespace = {
        "__module__": __name__,
        "__doc__": f"Arguments of the MCP tool {tool!r}.",
        "input_schema": schema,
        "schema_validator": validator_cls(schema),
    }
    return type(name, (McpArguments,), namespace)


class McpSession:
    """One client session to an MCP server, kept open by a background task that owns it.

    The SDK's client is an async context manager built on task groups, which must be entered and left
    by the same task; the incident workflow calls from many. The owner task enters it, hands the
    connected client out, and leaves it when asked (or when the connection fails).
    """

    def __init__(self, connect: Callable[[], Client], *, timeout_seconds: float, redact: Redactor) -> None:
        self._connect = connect
        self._timeout = timeout_seconds
        self._redact = redact
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and self._task is not None and not self._task.done()

    async def client(self) -> Client:
        """The connected client, connecting first when there is none (or the last one ended)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.connected:
                assert self._client is not None
                return self._client
            await self._stop_owner()
            loop = asyncio.get_running_loop()
            ready: asyncio.Future[Client] = loop.create_future()
            stop = asyncio.Event()
            task = asyncio.create_task(self._own(self._connect(), ready, stop))
            try:
                async with asyncio.timeout(self._timeout):
                    client = await asyncio.shield(ready)
            except TimeoutError:
                stop.set()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise UpstreamTimeout(
                    f"the MCP server did not start and answer within {self._timeout:g}s", method="initialize"
                ) from None
            except Exception as exc:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                raise UpstreamError(
                    self._redact(f"cannot connect to the MCP server: {describe_exception(exc)}"),
                    method="initialize",
                    retryable=True,
                ) from None
            self._client, self._task, self._stop = client, task, stop
            return client

    async def _own(self, client: Client, ready: asyncio.Future[Client], stop: asyncio.Event) -> None:
        try:
            async with client:
                ready.set_result(client)
                await stop.wait()
        except Exception as exc:  # the connection failed: hand it to the waiter, or end quietly (next call reconnects)
            if not ready.done():
                ready.set_exception(exc)
            else:
                log.warning("mcp_session_ended", error=self._redact(describe_exception(exc)))

    async def reset(self) -> None:
        """Drop the current session (after a lost connection); the next `client` reconnects."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._stop_owner()

    async def _stop_owner(self) -> None:
        task, stop = self._task, self._stop
        self._client, self._task, self._stop = None, None, None
        if task is None:
            return
        if stop is not None:
            stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=10)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        except Exception as exc:  # the owner's own failure was already logged; closing must not raise
            log.debug("mcp_session_close_failed", error=self._redact(describe_exception(exc)))

    async def aclose(self) -> None:
        await self.reset()


def describe_exception(exc: BaseException) -> str:
    """One line for an error, looking inside the task groups' exception groups the SDK raises."""
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe_exception(inner) for inner in exc.exceptions)
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {exc.request.url}"
    text = str(exc) or type(exc).__name__
    return text if type(exc).__name__ in text else f"{type(exc).__name__}: {text}"


class McpAdapter(Adapter):
    """Calls the tools of one MCP server (stdio subprocess or streamable HTTP)."""

    kind: ClassVar[str] = "mcp"
    description: ClassVar[str] = (
        "Any MCP server's tools (stdio or streamable HTTP); read-only only when declared so, all others need approval."
    )
    settings_model: ClassVar[type[AdapterSettings]] = McpSettings
    configurable_calls: ClassVar[bool] = True
    discovers_calls: ClassVar[bool] = True
    settings: McpSettings

    def __init__(self, instance: str, settings: AdapterSettings, http: HttpCaller, **kwargs: Any) -> None:
        super().__init__(instance, settings, http, **kwargs)
        assert isinstance(settings, McpSettings)
        # Secrets are read now, so an unset variable disables the instance at start (MissingSecret).
        self._child_env = self._resolve_env(settings)
        for value in self._child_env.values():
            self.http.redact.add(value)
        self._headers, secrets = auth_headers(settings, instance=instance)
        for secret in secrets:
            self.http.redact.add(secret)
        self.session = McpSession(
            self.new_client, timeout_seconds=settings.connect_timeout_seconds, redact=self.http.redact
        )
        # Tools the server listed but that cannot be offered (a bad name or schema), with the reason.
        self.skipped: dict[str, str] = {}
        self.server_name = ""

    def _resolve_env(self, settings: McpSettings) -> dict[str, str]:
        pairs = settings.env.items() if isinstance(settings.env, dict) else ((n, n) for n in settings.env)
        env: dict[str, str] = {}
        for child_name, ours in pairs:
            value = resolve_secret(ours, field=f"env.{child_name}", instance=self.instance)
            assert value is not None
            env[child_name] = value
        return env

    def new_client(self) -> Client:
        """A fresh SDK client for this instance's transport (not yet connected)."""
        s = self.settings
        timeout = s.timeout_seconds
        if s.transport == "stdio":
            assert s.command is not None
            params = StdioServerParameters(command=s.command, args=s.args, env=self._child_env or None, cwd=s.cwd)
            return Client(params, read_timeout_seconds=timeout, cache=None)
        assert s.url is not None
        return Client(
            _http_transport(s.url, {**s.headers, **self._headers}, s.connect_timeout_seconds),
            read_timeout_seconds=timeout,
            cache=None,
        )

    def endpoint_setting(self) -> str:
        s = self.settings
        if s.transport == "stdio":
            return f"tools.{self.instance}.command ({' '.join([s.command or '', *s.args])})"
        return f"tools.{self.instance}.url ({s.url})"

    # -- discovery -----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, list the server's tools and turn each into a call (idempotent)."""
        if self.calls and self.session.connected:
            return
        tools = await self.list_server_tools()
        self.calls, self.skipped = self.calls_for(tools)

    async def list_server_tools(self) -> list[McpTool]:
        """Every tool the server lists (all pages). Raises `UpstreamError` when it cannot be asked."""
        started = time.perf_counter()
        error: str | None = None
        try:
            client = await self.session.client()
            self.server_name = (
                f"{client.server_info.name} {client.server_info.version}".strip() if client.server_info else ""
            )
            found: list[McpTool] = []
            cursor: str | None = None
            for _ in range(MAX_LIST_PAGES):
                page = await client.list_tools(cursor=cursor, cache_mode="refresh")
                found.extend(page.tools)
                cursor = page.next_cursor
                if cursor is None:
                    break
            return found
        except MCPError as exc:
            error = exc.message
            await self.session.reset()
            raise self._error("tools/list", "", {}, exc) from None
        except UpstreamError as exc:
            error = str(exc)
            raise
        finally:
            self._log("tools/list", None, started, error)

    def calls_for(self, tools: list[McpTool]) -> tuple[dict[str, CallSpec], dict[str, str]]:
        """The calls for the listed tools, and the tools left out with the reason."""
        calls: dict[str, CallSpec] = {}
        skipped: dict[str, str] = {}
        for tool in tools:
            if matches(tool.name, self.settings.exclude):
                continue
            if not TOOL_NAME.match(tool.name):
                skipped[tool.name] = "its name is not a valid MCP tool name ([A-Za-z0-9_.-], at most 128)"
                continue
            try:
                model = input_model_for(tool.name, dict(tool.input_schema))
            except ValueError as exc:
                skipped[tool.name] = str(exc)
                continue
            calls[tool.name] = CallSpec(
                name=tool.name,
                description=clip(tool.description or tool.title or f"MCP tool {tool.name}", 1000),
                input_model=model,
                safety=tool_safety(tool.name, self.settings),
                fn=_runner(tool.name),
            )
        return calls, skipped

    async def check(self) -> str:
        tools = await self.list_server_tools()
        calls, _ = self.calls_for(tools)
        reads = sum(not spec.safety.mutating for spec in calls.values())
        server = self.server_name or "the MCP server"
        return f"{server} answered: {len(tools)} tools ({reads} declared read-only)"

    # -- calls ---------------------------------------------------------------------------------------

    async def call_tool(self, name: str, args: BaseModel) -> ToolResult:
        """Send ``tools/call`` for one tool and read its answer into a `ToolResult`."""
        spec = self.calls[name]
        arguments = args.model_dump(mode="json")
        mutating = spec.safety.mutating
        attempts = 1 if mutating else 1 + self.settings.max_retries
        if mutating:
            # A session that died while idle fails the call before anything is sent, which would read as "may
            # have run": prove the session alive with a read first, reconnecting if it is not.
            await self._ensure_alive()
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            client = await self.session.client()
            try:
                result = await client.call_tool(name, arguments, read_timeout_seconds=self.settings.timeout_seconds)
            except MCPError as exc:
                self._log("tools/call", name, started, exc.message, attempt)
                if exc.code == CONNECTION_CLOSED:
                    await self.session.reset()
                    if attempt < attempts:
                        continue
                raise self._error("tools/call", name, arguments, exc, mutating=mutating) from None
            self._log("tools/call", name, started, "tool error" if result.is_error else None, attempt)
            return self._read_result(name, arguments, result, mutating=mutating)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _ensure_alive(self) -> None:
        client = await self.session.client()
        try:
            await client.list_tools(cache_mode="refresh")
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise self._error("tools/list", "", {}, exc) from None
            await self.session.reset()
            await self.session.client()

    def _read_result(
        self, name: str, arguments: dict[str, Any], result: CallToolResult, *, mutating: bool
    ) -> ToolResult:
        text = self.http.redact("\n".join(b.text for b in result.content if isinstance(b, TextContent)))
        if result.is_error:
            raise UpstreamError(
                f"tools/call {name}: the tool failed: {clip(text, BODY_EXCERPT_CHARS) or '(no message)'}",
                method="tools/call",
                path=name,
                params=arguments,
                body_excerpt=text[:BODY_EXCERPT_CHARS],
            )
        data = self._redacted(
            result.structured_content if result.structured_content is not None else _content_data(result)
        )
        empty = data in (None, "", [], {})
        status: ToolStatus = "no_data" if empty and not mutating else "ok"
        return ToolResult(
            tool=self.tool_id(name),
            status=status,
            query=f"tools/call {name} {json.dumps(arguments, sort_keys=True)}",
            params=arguments,
            data=data,
            summary=f"{name}: {_summary(data, text, empty)}",
        )

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.http.redact(value)
        if isinstance(value, list):
            return [self._redacted(v) for v in value]
        if isinstance(value, dict):
            return {k: self._redacted(v) for k, v in value.items()}
        return value

    def _error(
        self, method: str, name: str, arguments: dict[str, Any], exc: MCPError, *, mutating: bool = False
    ) -> UpstreamError:
        what = f"{method} {name}".strip()
        if exc.code == REQUEST_TIMEOUT:
            return UpstreamTimeout(
                f"{what} timed out after {self.settings.timeout_seconds:g}s"
                + (" (the tool may still be running on the server)" if mutating else ""),
                method=method,
                path=name,
                params=arguments,
            )
        if exc.code == CONNECTION_CLOSED:
            detail = (
                "the connection to the MCP server was lost during the call: it may or may not have run; not sent again"
                if mutating
                else "the connection to the MCP server was lost"
            )
            return UpstreamError(
                f"{what}: {detail}", method=method, path=name, params=arguments, retryable=not mutating
            )
        message = self.http.redact(exc.message)
        return UpstreamError(
            f"{what}: the MCP server answered error {exc.code}: {message}",
            method=method,
            path=name,
            params=arguments,
            body_excerpt=message[:BODY_EXCERPT_CHARS],
        )

    def _log(self, method: str, tool: str | None, started: float, error: str | None, attempt: int = 1) -> None:
        log.info(
            "mcp_request",
            instance=self.instance,
            method=method,
            tool=tool,
            attempt=attempt,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
            error=self.http.redact(error) if error else None,
        )

    async def aclose(self) -> None:
        await self.session.aclose()
        await super().aclose()


def _runner(name: str) -> Callable[[Any, Any], Awaitable[ToolResult]]:
    async def run(adapter: Any, args: Any) -> ToolResult:
        if not isinstance(adapter, McpAdapter):
            raise ToolInputError(f"{name} is an MCP tool and needs an MCP adapter")
        return await adapter.call_tool(name, args)

    return run


def _summary(data: Any, text: str, empty: bool) -> str:
    """Up to three scalar fields of an object answer, else the first line of its text."""
    if empty:
        return "no data"
    if isinstance(data, dict):
        scalars = [(k, v) for k, v in data.items() if isinstance(v, str | int | float | bool)][:3]
        if scalars:
            return ", ".join(f"{k}={clip(str(v), 80)}" for k, v in scalars)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    return clip(first_line, 160) if first_line else "answered"


def _content_data(result: CallToolResult) -> Any:
    """Unstructured content as data: one text block's JSON (or text), else a list describing each block."""
    blocks = result.content
    if len(blocks) == 1 and isinstance(blocks[0], TextContent):
        text = blocks[0].text
        try:
            return json.loads(text)
        except ValueError:
            return {"text": text}
    described: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, TextContent):
            described.append({"type": "text", "text": block.text})
        else:  # images, audio, resources: their kind and reference, never the bytes
            dumped = block.model_dump(mode="json", exclude_none=True)
            dumped.pop("data", None)
            if isinstance(dumped.get("resource"), dict):
                dumped["resource"].pop("blob", None)
            described.append(dumped)
    return described


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str], connect_timeout: float) -> AsyncIterator[Any]:
    """Streamable HTTP with our headers (the bearer token) on every request; the HTTP client closed after."""
    timeout = httpx2.Timeout(connect_timeout, read=300.0)
    async with httpx2.AsyncClient(headers=headers, timeout=timeout) as http_client:
        async with streamable_http_client(url, http_client=http_client) as streams:
            yield streams
