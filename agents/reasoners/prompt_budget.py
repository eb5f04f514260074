"""The prompt budget: what of the tools and the evidence fits the model's context window.

A small local model has a small window (SmolLM2: 8k tokens) and the full diagnose prompt (21 tool schemas and
the evidence) is larger; the server answers HTTP 400 and the step is lost. So before a call:

- the room is the context window minus the generation limit (``max_tokens``) minus a margin for the chat
  template's own wrapping;
- tool schemas are compacted (titles and per-field descriptions out; the tool's own description cut);
- tools are offered in order of use (the submit tool first, then tools of the sources the evidence already
  came from, then the rest, each in registry order) while they fit;
- the evidence is summarised to fit: observations cut shorter step by step, then the oldest items left out
  (counted in the prompt, so the model knows);
- when even the minimum (system prompt, submit tool, the alert line and one short observation) does not fit,
  the call is refused before it is sent, with the numbers.

Token counts are estimates (``len(text) / CHARS_PER_TOKEN``, conservative for JSON and English): no tokenizer
is downloaded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

CHARS_PER_TOKEN = 3.0
TEMPLATE_MARGIN = 256  # the chat template's role markers and tool-calling preamble
MESSAGE_OVERHEAD = 8
DESCRIPTION_LIMIT = 160
OBSERVATION_STEPS = (400, 200, 100, 60)


class PromptTooLarge(ValueError):
    """Even the smallest prompt for this step does not fit the context window."""


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def tools_tokens(tools: Iterable[dict[str, Any]]) -> int:
    return sum(estimate_tokens(json.dumps(t, separators=(",", ":"))) for t in tools)


def room(context_tokens: int, max_tokens: int) -> int:
    """Prompt tokens available in a window of ``context_tokens`` when ``max_tokens`` are kept for the answer."""
    return context_tokens - max_tokens - TEMPLATE_MARGIN


def compact_schema(schema: Any) -> Any:
    """The JSON Schema without what only documents it: titles, examples, and descriptions below the top level
    (field names carry the meaning for the model; the tool's description stays, cut)."""
    if isinstance(schema, dict):
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key in {"title", "examples"}:
                continue
            if key == "description" and isinstance(value, str):
                continue
            if key == "properties" and isinstance(value, dict):
                out[key] = {name: compact_schema(sub) for name, sub in value.items()}
            else:
                out[key] = compact_schema(value)
        return out
    if isinstance(schema, list):
        return [compact_schema(item) for item in schema]
    return schema


def compact_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    description = str(function.get("description") or "")
    if len(description) > DESCRIPTION_LIMIT:
        description = description[: DESCRIPTION_LIMIT - 1] + "…"
    return {
        "type": "function",
        "function": {
            "name": function["name"],
            "description": description,
            "parameters": compact_schema(function.get("parameters") or {"type": "object"}),
        },
    }


def choose_tools(
    submit: dict[str, Any], tools: list[dict[str, Any]], *, preferred: Iterable[str], budget: int
) -> tuple[list[dict[str, Any]], int]:
    """The submit tool plus as many of ``tools`` as fit in ``budget`` tokens (compacted; those whose name
    starts with a ``preferred`` prefix first). Returns them and how many were left out."""
    prefixes = tuple(preferred)
    ordered = sorted(tools, key=lambda t: not str(t["function"]["name"]).startswith(prefixes) if prefixes else False)
    chosen = [compact_tool(submit)]
    used = tools_tokens(chosen)
    left_out = 0
    for tool in ordered:
        compact = compact_tool(tool)
        cost = tools_tokens([compact])
        if used + cost > budget:
            left_out += 1
            continue
        chosen.append(compact)
        used += cost
    return chosen, left_out


def over_budget(needed: int, available: int, *, context_tokens: int, max_tokens: int, what: str) -> str:
    return (
        f"the prompt does not fit the model's context: {what} needs about {needed} tokens, {available} are "
        f"available (llm.context_tokens {context_tokens} - llm.max_tokens {max_tokens} - {TEMPLATE_MARGIN} for "
        f"the chat template); raise the server's context (llama-server -c) or lower llm.max_tokens"
    )
