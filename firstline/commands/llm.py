"""`firstline llm check`: probe the configured model endpoint (answers, context window, tool calls,
structured output) and say how to fix what does not work."""

from __future__ import annotations

import argparse
import json
from typing import Any

from firstline.commands import EXIT_FAILED, EXIT_OK, add_common, load
from firstline.console import Console

CHECK_DESCRIPTION = """\
Probe the OpenAI-compatible endpoint in the llm: section with four small requests: does it answer
(GET /models), how large is its context window (llama.cpp's /props, where the server tells it), do
tool calls come back (one trivial tool is offered), and does a json_schema response format give
valid JSON. One line each: ok, failed (with the fix), or unknown. Nothing is changed anywhere.

Exit 0 when the endpoint answers and tool calls work, 1 otherwise.

examples:
  firstline llm check
  firstline --config ollama.yaml llm check --json
"""


async def cmd_llm_check(args: argparse.Namespace, console: Console) -> int:
    from firstline.llm_check import check_endpoint, probes_json

    config = load(args, required=False)
    probes = await check_endpoint(config.llm)
    if args.json:
        console.info(
            json.dumps(
                {"endpoint": config.llm.base_url, "model": config.llm.model, "probes": probes_json(probes)}, indent=2
            )
        )
    else:
        console.info(f"{config.llm.base_url} (model {config.llm.model})")
        for probe in probes:
            console.info(f"  {probe.name:<18} {probe.status:<8} {probe.detail}")
            if probe.fix and probe.status != "ok":
                console.info(f"  {'':<18} fix: {probe.fix}")
    status = {p.name: p.status for p in probes}
    return EXIT_OK if status.get("answers") == "ok" and status.get("tool calls") == "ok" else EXIT_FAILED


def register(sub: Any) -> dict[str, Any]:
    llm = sub.add_parser("llm", help="check the model endpoint the llm reasoner uses")
    llm_sub = llm.add_subparsers(dest="llm_command", metavar="SUBCOMMAND")
    check = llm_sub.add_parser(
        "check",
        help="does the endpoint answer, its context size, do tool calls and structured output work",
        description=CHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--json", action="store_true", help="print JSON")
    add_common(check)
    return {"llm check": cmd_llm_check}
