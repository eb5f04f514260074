"""A generic HTTP action for runbook runners (Rundeck, Jenkins, a CI job, an internal ops API), whose
calls and safety metadata are declared in config.yaml rather than in code::

    tools:
      rundeck:
        kind: http_action
        base_url: https://rundeck.example.com
        token_env: RUNDECK_TOKEN
        token_header: X-Rundeck-Auth-Token    # default Authorization
        token_scheme: ""                       # default Bearer; "" sends the bare token
        check_path: /api/41/system/info        # optional: what `firstline tools check` reads
        actions:
          restart_cache:
            description: Restart a service's cache tier with the Rundeck job "cache-restart".
            method: POST
            path: /api/41/job/4f1c9a2e/run
            body: {options: {service: "{service}"}}
            params:
              service: {type: string, description: Service whose cache restarts, pattern: "^[a-z-]+$"}
            safety: {mutating: true, reversible: true, undo: "none needed: caches refill",
                     approval_tier: approve, action_class: runbook, blast_radius: service}

Each action becomes a call ``<instance>.<action>`` with an input model built from ``params`` (so the
model sees a typed schema and bad arguments are refused naming the field). ``{name}`` placeholders in
``path`` (URL-quoted), ``query`` values and ``body`` strings are filled from the arguments; a body
string that is exactly ``"{name}"`` takes the argument's JSON type. Configuration is checked at
start-up, naming the path of the problem: a mutating action without reversibility and approval tier,
a placeholder that is not a declared param, a write method (POST, PUT, PATCH, DELETE) declared
read-only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from tools.base import (
    Adapter,
    AdapterSettings,
    CallSpec,
    CheckSkipped,
    SafetyMetadata,
    ToolResult,
    ToolStatus,
)
from tools.http import auth_headers
from tools.wire import clip, json_field, plain_text

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
MAX_TEXT_CHARS = 4000
READ_METHODS = ("GET", "HEAD")

ParamType = Literal["string", "integer", "number", "boolean"]
Scalar = str | int | float | bool
PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


class ActionParam(BaseModel):
    """One argument of a configured action, as the model and the validation see it."""

    model_config = ConfigDict(extra="forbid")

    type: ParamType = "string"
    description: str = Field(min_length=1, description="What the argument means; the model reads it.")
    required: bool = True
    default: Scalar | None = None
    enum: list[Scalar] | None = Field(default=None, min_length=1)
    pattern: str | None = None
    minimum: float | None = None
    maximum: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ActionParam:
        if self.pattern is not None:
            if self.type != "string":
                raise ValueError("pattern applies only to type string")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        if (self.minimum is not None or self.maximum is not None) and self.type not in ("integer", "number"):
            raise ValueError("minimum and maximum apply only to types integer and number")
        if self.default is not None:
            self.required = False
        return self


class HttpAction(BaseModel):
    """One configured action: the request it sends and what it may do to the world."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, description="What the action does and when to use it; the model reads it.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    path: str = Field(pattern=r"^/", description="Path under base_url, with {param} placeholders.")
    query: dict[str, str] = Field(default_factory=dict, description="Query parameters, with {param} placeholders.")
    body: Any = Field(default=None, description="JSON body template, with {param} placeholders in strings.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers (no secrets here).")
    params: dict[str, ActionParam] = Field(default_factory=dict)
    safety: SafetyMetadata

    @model_validator(mode="after")
    def _checked(self) -> HttpAction:
        bad_names = [n for n in self.params if not re.match(NAME_PATTERN, n)]
        if bad_names:
            raise ValueError(f"params: names must be lower_snake_case: {', '.join(bad_names)}")
        used = set(PLACEHOLDER.findall(self.path))
        for value in self.query.values():
            used |= set(PLACEHOLDER.findall(value))
        used |= _placeholders(self.body)
        undeclared = sorted(used - set(self.params))
        if undeclared:
            raise ValueError(
                f"placeholder {', '.join('{' + n + '}' for n in undeclared)} is used but not declared under params"
            )
        if self.method not in READ_METHODS and not self.safety.mutating:
            raise ValueError(
                f"safety: a {self.method} action is taken to change something; declare mutating: true with "
                "reversible, undo and approval_tier (or use GET for a read)"
            )
        return self


class HttpActionSettings(AdapterSettings):
    token_header: str = Field(
        default="Authorization", pattern=r"^[A-Za-z0-9-]+$", description="Header carrying the token_env secret."
    )
    token_scheme: str = Field(
        default="Bearer", description='Prefix before the token, e.g. Bearer; "" sends the bare token.'
    )
    check_path: str | None = Field(
        default=None, pattern=r"^/", description="A read-only GET that proves the URL and credentials work."
    )
    actions: dict[str, HttpAction] = Field(min_length=1, description="action name -> the request it sends.")

    @model_validator(mode="after")
    def _action_names(self) -> HttpActionSettings:
        bad = [n for n in self.actions if not re.match(NAME_PATTERN, n)]
        if bad:
            raise ValueError(f"actions: names must be lower_snake_case: {', '.join(bad)}")
        return self


class HttpActionAdapter(Adapter):
    """Runs the HTTP actions one instance declares in configuration."""

    kind: ClassVar[str] = "http_action"
    description: ClassVar[str] = (
        "Generic HTTP actions for runbook runners (Rundeck, Jenkins, CI jobs); calls and safety declared in config."
    )
    settings_model: ClassVar[type[AdapterSettings]] = HttpActionSettings
    configurable_calls: ClassVar[bool] = True
    settings: HttpActionSettings

    @classmethod
    def declared_calls(cls, settings: AdapterSettings) -> dict[str, CallSpec]:
        if not isinstance(settings, HttpActionSettings):
            return {}
        return {
            name: CallSpec(
                name=name,
                description=action.description,
                input_model=_input_model(name, action),
                safety=action.safety,
                fn=_runner(name),
            )
            for name, action in settings.actions.items()
        }

    @classmethod
    def auth_headers(cls, settings: AdapterSettings, *, instance: str) -> tuple[dict[str, str], list[str]]:
        """The token in ``token_header`` with ``token_scheme`` (Rundeck: ``X-Rundeck-Auth-Token``, bare)."""
        if not isinstance(settings, HttpActionSettings):
            return auth_headers(settings, instance=instance)
        headers, secrets = auth_headers(settings, instance=instance, scheme=settings.token_scheme)
        if settings.token_env and settings.token_header != "Authorization" and "Authorization" in headers:
            headers[settings.token_header] = headers.pop("Authorization")
        return headers, secrets

    async def run_action(self, name: str, args: BaseModel) -> ToolResult:
        """Send the request action ``name`` declares, filled with ``args``."""
        action = self.settings.actions[name]
        values = args.model_dump(mode="json")
        path = PLACEHOLDER.sub(lambda m: quote(str(values[m.group(1)]), safe=""), action.path)
        query = {k: _fill_text(v, values) for k, v in action.query.items()}
        body = _fill(action.body, values) if action.body is not None else None
        response = await self.http.request(
            action.method,
            path,
            params=query or None,
            json=body,
            headers=dict(action.headers) or None,
            describe_error=describe_runner_error,
        )
        data = _response_data(response)
        empty = response.status_code == 204 or data in ({}, [], None)
        status: ToolStatus = "no_data" if empty and not action.safety.mutating else "ok"
        return ToolResult(
            tool=self.tool_id(name),
            status=status,
            query=f"{action.method} {path}",
            params={
                "arguments": values,
                **({"query": query} if query else {}),
                **({"body": body} if body is not None else {}),
            },
            data=data,
            summary=f"{name}: {action.method} {path} answered HTTP {response.status_code}{_highlights(data)}",
        )

    async def check(self) -> str:
        """``GET check_path`` when configured; an action runner has no standard read otherwise."""
        if not self.settings.check_path:
            raise CheckSkipped(
                f"no check_path configured (set tools.{self.instance}.check_path to a read-only GET, e.g. "
                "/api/41/system/info for Rundeck or /api/json for Jenkins)"
            )
        response = await self.http.request("GET", self.settings.check_path, describe_error=describe_runner_error)
        return f"GET {self.settings.check_path} answered HTTP {response.status_code}"


def describe_runner_error(response: httpx.Response) -> str | None:
    """The ``message`` or ``error`` field most runners answer errors with (Rundeck, Jenkins, most ops APIs)."""
    message = json_field(response, "message", "error", "errorMessage")
    return message if isinstance(message, str) else None


def _runner(name: str) -> Callable[[Any, Any], Awaitable[ToolResult]]:
    async def run(adapter: Any, args: Any) -> ToolResult:
        result: ToolResult = await adapter.run_action(name, args)
        return result

    return run


def _input_model(name: str, action: HttpAction) -> type[BaseModel]:
    """A pydantic model for the action's params: types, descriptions, enums, patterns and bounds."""
    fields: dict[str, Any] = {}
    for param_name, param in action.params.items():
        annotation: Any = PYTHON_TYPES[param.type]
        if param.enum is not None:
            annotation = Literal[tuple(param.enum)]
        constraints: dict[str, Any] = {"description": param.description}
        if param.pattern is not None:
            constraints["pattern"] = param.pattern
        if param.minimum is not None:
            constraints["ge"] = param.minimum
        if param.maximum is not None:
            constraints["le"] = param.maximum
        if param.required:
            fields[param_name] = (annotation, Field(**constraints))
        else:
            fields[param_name] = (annotation | None, Field(default=param.default, **constraints))
    model_name = "".join(part.capitalize() for part in name.split("_")) + "Input"
    return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)


def _placeholders(template: Any) -> set[str]:
    if isinstance(template, str):
        return set(PLACEHOLDER.findall(template))
    if isinstance(template, dict):
        return set().union(*(_placeholders(v) for v in template.values()), *(_placeholders(k) for k in template))
    if isinstance(template, list):
        return set().union(*(_placeholders(v) for v in template))
    return set()


def _fill_text(text: str, values: dict[str, Any]) -> str:
    return PLACEHOLDER.sub(lambda m: "" if values[m.group(1)] is None else str(values[m.group(1)]), text)


def _fill(template: Any, values: dict[str, Any]) -> Any:
    """The body template with arguments in place; ``"{name}"`` alone keeps the argument's JSON type."""
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template)
        return values[whole.group(1)] if whole else _fill_text(template, values)
    if isinstance(template, dict):
        return {_fill_text(k, values): _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def _response_data(response: httpx.Response) -> Any:
    if not response.content:
        return None
    if "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(response.content)
        except ValueError:
            pass
    return {"text": plain_text(response, MAX_TEXT_CHARS)}


def _highlights(data: Any) -> str:
    """Up to three scalar fields of a JSON object answer (an execution id, a status, a link)."""
    if not isinstance(data, dict):
        return ""
    scalars = [(k, v) for k, v in data.items() if isinstance(v, str | int | float | bool) and not isinstance(v, bool)][
        :3
    ]
    return (": " + ", ".join(f"{k}={clip(str(v), 80)}" for k, v in scalars)) if scalars else ""
