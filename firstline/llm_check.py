"""`firstline llm check`: what the configured model endpoint can do, and how to fix what it cannot.

Four probes against the OpenAI-compatible endpoint in ``llm:``, each a small real request:

- **answers**: ``GET /models`` lists the configured model (or at least answers);
- **context**: the server's context window where it tells it (llama.cpp's ``GET /props``,
  ``default_generation_settings.n_ctx``), else unknown;
- **tool calls**: a chat request offering one trivial tool and asking for it; a server whose chat
  template has no tool support (llama.cpp without ``--jinja``, or a template without tools) drops the
  tools silently and answers in text: that is reported, with the fix;
- **structured output**: a ``json_schema`` response format; valid JSON back means the method works.

Nothing is sent that mutates anything; the key (if any) comes from the environment.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx

from agents.settings import LLMSettings

ProbeStatus = Literal["ok", "failed", "unknown"]


@dataclass
class Probe:
    name: str
    status: ProbeStatus
    detail: str
    fix: str = ""


PROBE_TOOL = {
    "type": "function",
    "function": {
        "name": "report_status",
        "description": "Report the status of the check.",
        "parameters": {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]},
    },
}
PROBE_SCHEMA = {
    "type": "json_schema",
    "json_schema": {
        "name": "probe",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded"]}},
            "required": ["status"],
            "additionalProperties": False,
        },
    },
}


def _headers(settings: LLMSettings) -> dict[str, str]:
    key = os.environ.get(settings.api_key_env or "", "")
    return {"Authorization": f"Bearer {key}"} if key else {}


def _chat(settings: LLMSettings, **extra: Any) -> dict[str, Any]:
    return {
        "model": settings.model,
        "messages": [{"role": "user", "content": "Report the status 'ok'."}],
        "max_tokens": 64,
        "temperature": 0,
        **extra,
    }


async def check_endpoint(settings: LLMSettings, *, client: httpx.AsyncClient | None = None) -> list[Probe]:
    """Run the four probes; never raises for what the server answers (each probe reports it)."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=min(settings.step_timeout_seconds, 60.0))
    base = settings.base_url.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    headers = _headers(settings)
    probes: list[Probe] = []
    try:
        try:
            models = await http.get(f"{base}/models", headers=headers)
        except httpx.HTTPError as exc:
            return [
                Probe(
                    "answers",
                    "failed",
                    f"{base}/models: {type(exc).__name__}: {exc}",
                    f"is the server running at {base}? (llm.base_url)",
                )
            ]
        if models.status_code == 401:
            return [Probe("answers", "failed", "HTTP 401", f"set the key in ${settings.api_key_env} (llm.api_key_env)")]
        names = [m.get("id") for m in _json(models).get("data", []) if isinstance(m, dict)]
        if models.is_success and settings.model in names:
            probes.append(Probe("answers", "ok", f"serves {settings.model}"))
        elif models.is_success:
            probes.append(
                Probe(
                    "answers",
                    "ok",
                    f"answers; {settings.model!r} is not among {', '.join(map(str, names[:5])) or 'no models'}",
                    "set llm.model to a served model (a single-model server such as llama.cpp accepts any name)",
                )
            )
        else:
            probes.append(Probe("answers", "failed", f"GET /models: HTTP {models.status_code}", "check llm.base_url"))
        probes.append(await _context(http, root, headers))
        probes.append(await _tool_calls(http, base, headers, settings))
        probes.append(await _structured(http, base, headers, settings))
    finally:
        if own:
            await http.aclose()
    return probes


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _root(settings: LLMSettings) -> str:
    base = settings.base_url.rstrip("/")
    return base[: -len("/v1")] if base.endswith("/v1") else base


async def _n_ctx(http: httpx.AsyncClient, root: str, headers: dict[str, str]) -> int | None:
    try:
        props = await http.get(f"{root}/props", headers=headers)
    except httpx.HTTPError:
        return None
    settings = _json(props).get("default_generation_settings") if props.is_success else None
    n_ctx = settings.get("n_ctx") if isinstance(settings, dict) else None
    return n_ctx if isinstance(n_ctx, int) and n_ctx > 0 else None


async def probe_context_tokens(settings: LLMSettings) -> int | None:
    """The server's context window where it tells it (llama.cpp's ``/props``), else None. The LLM reasoner
    asks it once when ``llm.context_tokens`` is not set."""
    async with httpx.AsyncClient(timeout=10.0) as http:
        return await _n_ctx(http, _root(settings), _headers(settings))


async def _context(http: httpx.AsyncClient, root: str, headers: dict[str, str]) -> Probe:
    n_ctx = await _n_ctx(http, root, headers)
    if isinstance(n_ctx, int):
        return Probe("context", "ok", f"{n_ctx} tokens (llama.cpp /props)")
    return Probe("context", "unknown", "the server does not say its context window")


async def _tool_calls(http: httpx.AsyncClient, base: str, headers: dict[str, str], settings: LLMSettings) -> Probe:
    body = _chat(settings, tools=[PROBE_TOOL], tool_choice="auto")
    try:
        reply = await http.post(f"{base}/chat/completions", json=body, headers=headers)
    except httpx.HTTPError as exc:
        return Probe("tool calls", "failed", f"{type(exc).__name__}: {exc}")
    if not reply.is_success:
        return Probe(
            "tool calls", "failed", f"HTTP {reply.status_code}: {reply.text[:200]}", "the server refuses tools"
        )
    message = (_json(reply).get("choices") or [{}])[0].get("message") or {}
    if message.get("tool_calls"):
        return Probe("tool calls", "ok", "the model called the offered tool")
    return Probe(
        "tool calls",
        "failed",
        f"no tool call came back (the model answered in text: {str(message.get('content'))[:80]!r})",
        "start llama-server with --jinja and a tool-capable chat template (--chat-template-file); vLLM needs "
        "--enable-auto-tool-choice --tool-call-parser NAME; with no tool support the investigation falls back to "
        "the deterministic reasoner",
    )


async def _structured(http: httpx.AsyncClient, base: str, headers: dict[str, str], settings: LLMSettings) -> Probe:
    try:
        reply = await http.post(
            f"{base}/chat/completions", json=_chat(settings, response_format=PROBE_SCHEMA), headers=headers
        )
    except httpx.HTTPError as exc:
        return Probe("structured output", "failed", f"{type(exc).__name__}: {exc}")
    if not reply.is_success:
        return Probe(
            "structured output",
            "failed",
            f"json_schema refused: HTTP {reply.status_code}",
            "use llm.structured_output_method: function_calling or json_mode",
        )
    content = ((_json(reply).get("choices") or [{}])[0].get("message") or {}).get("content") or ""
    try:
        parsed = json.loads(content)
    except json.JSONDecodeError:
        return Probe(
            "structured output",
            "failed",
            f"json_schema answered but not JSON: {content[:80]!r}",
            "use llm.structured_output_method: function_calling",
        )
    if isinstance(parsed, dict) and parsed.get("status") in ("ok", "degraded"):
        return Probe("structured output", "ok", "json_schema gives valid JSON within the enum")
    return Probe(
        "structured output",
        "failed",
        f"JSON outside the schema: {content[:80]!r}",
        "use llm.structured_output_method: function_calling",
    )


def probes_json(probes: list[Probe]) -> list[dict[str, str]]:
    return [asdict(p) for p in probes]
