"""The `firstline` command line. Run `firstline --help`, or `firstline COMMAND --help`.

Exit codes: 0 success; 1 the command failed (the message says why); 2 bad usage or input
(a malformed alert file, an invalid config); 3 the incident needs a human (escalated, or
waiting for approval when --approve wait was not asked for).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from firstline.commands import EXIT_FAILED, EXIT_USAGE, CommandError, add_common
from firstline.console import Console

# Command groups, one module each under firstline/commands/ (each has `register(sub)`).
COMMAND_MODULES = [
    "incidents",
    "approvals",
    "autonomy",
    "insights",
    "noise",
    "eval",
    "bench",
    "tools",
    "llm",
    "intake",
    "knowledge",
    "mcp",
    "db",
]

DESCRIPTION = """\
firstline: an AI incident responder. An alert arrives; triage, investigation, remediation and
communication agents work the incident through your tools; mutating actions wait for a human.

quick start:
  firstline demo                          run the example incident against a simulated environment
  firstline sandbox run --write-config sim.yaml --alert-file alert.json &
  firstline --config sim.yaml respond alert.json --approve wait
  firstline --config sim.yaml approvals list
  firstline --config sim.yaml approve INCIDENT ACTION --by alice
"""


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The parser with every command group, and the handler for each command."""
    parser = argparse.ArgumentParser(
        prog="firstline", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    handlers: dict[str, Any] = {}
    for module in COMMAND_MODULES:
        handlers.update(importlib.import_module(f"firstline.commands.{module}").register(sub))
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from firstline.logging import configure_logging

    configure_logging(args.verbose)
    console = Console()
    from firstline.wiring import SetupError

    handler = handlers.get(_command_key(args))
    if handler is None:
        parser.parse_args([*([args.command] if args.command else []), "--help"])
        return EXIT_USAGE
    try:
        return int(
            asyncio.run(handler(args, console)) if asyncio.iscoroutinefunction(handler) else handler(args, console)
        )
    except CommandError as exc:
        console.error(str(exc))
        return exc.exit_code
    except SetupError as exc:
        console.error(f"configuration {args.config}: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        console.error("interrupted; the incident's state is kept in its checkpoint")
        return EXIT_FAILED


def _command_key(args: argparse.Namespace) -> str:
    sub = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {sub}" if sub else str(args.command)


if __name__ == "__main__":
    sys.exit(main())
