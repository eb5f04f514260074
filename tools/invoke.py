"""Invoke one adapter call with the cross-cutting rules applied in one place.

Order: find the call, validate the input (errors name the field), check the execution grant for a
mutating call, run it, turn expected errors into an error result, check the typed payload of a call
that declares one, apply the output budget, write one log line. Unexpected exceptions (bugs, such as
a `ResultShapeError` from an adapter whose data does not fit its declared result model) propagate:
they are not the backend's fault.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal

import structlog
from pydantic import BaseModel, ValidationError

from tools.grants import verify_grant
from tools.values import (
    ExecutionGrant,
    ToolErrorInfo,
    ToolInputError,
    ToolResult,
    UpstreamError,
    UpstreamTimeout,
)

if TYPE_CHECKING:
    from tools.adapter import Adapter

log = structlog.get_logger("firstline.tools")


def describe_validation_error(exc: ValidationError) -> str:
    """``field: problem`` for each error, so a model or a human knows exactly what to fix."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        # A validator's own message already names the field; pydantic's "Value error, " prefix adds nothing.
        message = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


async def invoke_call(
    adapter: Adapter,
    call: str,
    args: BaseModel | dict[str, Any],
    *,
    grant: ExecutionGrant | None = None,
    budget: int | None | Literal["default"] = "default",
) -> ToolResult:
    tool_id = adapter.tool_id(call)
    spec = adapter.calls.get(call)
    if spec is None:
        known = ", ".join(sorted(adapter.calls)) or "none"
        return _error(tool_id, "input", f"unknown call {call!r} on {adapter.kind}; available: {known}", args)
    try:
        model = (
            args
            if isinstance(args, spec.input_model)
            else spec.input_model.model_validate(args.model_dump() if isinstance(args, BaseModel) else args)
        )
    except ValidationError as exc:
        return _error(tool_id, "input", f"invalid arguments for {tool_id}: {describe_validation_error(exc)}", args)

    if spec.safety.mutating and not (grant is not None and verify_grant(grant) and grant.matches(tool_id, model)):
        reason = "no execution grant" if grant is None else "the grant does not match this call and arguments"
        log.warning("tool_call_refused", tool=tool_id, reason=reason)
        return ToolResult(
            tool=tool_id,
            status="approval_required",
            query=f"{tool_id}({_compact(model.model_dump(mode='json'))})",
            params=model.model_dump(mode="json"),
            summary=f"refused: {tool_id} is mutating and needs a recorded approval ({reason})",
            error=ToolErrorInfo(kind="approval", message=reason),
        )

    started = time.perf_counter()
    try:
        result = await spec.fn(adapter, model)
    except ToolInputError as exc:
        result = _error(tool_id, "input", str(exc), model)
    except UpstreamTimeout as exc:
        result = _upstream_error(tool_id, "timeout", exc, model)
    except UpstreamError as exc:
        result = _upstream_error(tool_id, "upstream", exc, model)
    result.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    if spec.result_model is not None and result.status in ("ok", "no_data"):
        # Before the budget: the adapter's whole answer must fit the model it declared.
        result.payload(spec.result_model)
    if budget is not None:
        apply_output_budget(result, adapter.settings.output_budget_chars if budget == "default" else budget)
    log.info(
        "tool_call",
        tool=tool_id,
        status=result.status,
        mutating=spec.safety.mutating,
        duration_ms=result.duration_ms,
        truncated=bool(result.truncated),
        error=result.error.message if result.error else None,
    )
    return result


def apply_output_budget(result: ToolResult, budget_chars: int) -> None:
    """Trim ``result.data`` to the budget, keeping whole items, and say what was cut.

    A trimmed result drops its typed payload (`ToolResult.replace_data`): a later ``payload`` reads
    what the model was shown, never the part that was cut.
    """
    try:
        size = len(json.dumps(result.data, default=str))
    except (TypeError, ValueError):
        return
    if size <= budget_chars:
        return
    data = result.data
    if isinstance(data, list):
        trimmed_list, note = _trim_list(data, budget_chars)
        result.replace_data(trimmed_list)
    elif isinstance(data, dict):
        key = max(
            (k for k, v in data.items() if isinstance(v, list)),
            key=lambda k: len(json.dumps(data[k], default=str)),
            default=None,
        )
        if key is None:
            text = json.dumps(data, default=str)
            result.replace_data(text[:budget_chars])
            note = f"kept the first {budget_chars} of {size} characters"
        else:
            rest = size - len(json.dumps(data[key], default=str))
            trimmed, note = _trim_list(data[key], max(budget_chars - rest, 200))
            result.replace_data({**data, key: trimmed})
            note = f"{key}: {note}"
    else:
        result.replace_data(str(data)[:budget_chars])
        note = f"kept the first {budget_chars} of {size} characters"
    result.truncated = f"output budget of {budget_chars} characters: {note}"


def _trim_list(items: list[Any], budget_chars: int) -> tuple[list[Any], str]:
    kept: list[Any] = []
    used = 2
    for item in items:
        cost = len(json.dumps(item, default=str)) + 1
        if used + cost > budget_chars:
            break
        kept.append(item)
        used += cost
    return kept, f"kept {len(kept)} of {len(items)} items"


def _compact(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


def _args_dict(args: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return args.model_dump(mode="json") if isinstance(args, BaseModel) else dict(args)


def _error(tool_id: str, kind: str, message: str, args: BaseModel | dict[str, Any]) -> ToolResult:
    params = _args_dict(args)
    return ToolResult(
        tool=tool_id,
        status="error",
        query=f"{tool_id}({_compact(params)})",
        params=params,
        summary=message,
        error=ToolErrorInfo(kind=kind, message=message),  # type: ignore[arg-type]  # kind is one of the Literal values
    )


def _upstream_error(tool_id: str, kind: str, exc: UpstreamError, model: BaseModel) -> ToolResult:
    params = model.model_dump(mode="json")
    request = f"{exc.method} {exc.path}".strip()
    query = (
        str(params["query"]) if isinstance(params.get("query"), str) else request or f"{tool_id}({_compact(params)})"
    )
    return ToolResult(
        tool=tool_id,
        status="error",
        query=query,
        params={
            **params,
            **({"request": request} if request else {}),
            **({"request_params": exc.params} if exc.params else {}),
        },
        summary=str(exc),
        error=ToolErrorInfo(
            kind=kind,  # type: ignore[arg-type]  # "timeout" or "upstream"
            message=str(exc),
            upstream_status=exc.status_code,
            body_excerpt=exc.body_excerpt,
        ),
    )
