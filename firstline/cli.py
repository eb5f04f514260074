"""The `firstline` command line. Run `firstline --help`, or `firstline COMMAND --help`.

Exit codes: 0 success; 1 the command failed (the message says why); 2 bad usage or input
(a malformed alert file, an invalid config); 3 the incident needs a human (escalated, or
waiting for approval when --approve wait was not asked for).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from firstline.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NEEDS_HUMAN = 0, 1, 2, 3

DESCRIPTION = """\
firstline: an AI incident responder. An alert arrives; triage, investigation, remediation and
communication agents work the incident through your tools; mutating actions wait for a human.

quick start:
  firstline demo                          run the example incident against a simulated environment
  firstline sandbox run --write-config sim.yaml &
  firstline --config sim.yaml respond examples/alerts/checkout-5xx.json --approve wait
  firstline --config sim.yaml approvals list
  firstline --config sim.yaml approve INCIDENT ACTION --by alice
"""


def _add_common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--config and -v, accepted before or after the command. Only the top level sets defaults, so a
    value given before the command is not overwritten by a subcommand's default."""
    config_default: object = Path("config.yaml") if top else argparse.SUPPRESS
    verbose_default: object = 0 if top else argparse.SUPPRESS
    parser.add_argument("--config", type=Path, default=config_default, help="configuration file (default: ./config.yaml)")
    parser.add_argument("-v", "--verbose", action="count", default=verbose_default, help="log tool calls and steps to stderr (-vv for debug)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="firstline", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="run the example incident end to end against the simulated environment",
        description="Start the simulated environment on loopback, ingest the example knowledge, fire the "
        "scenario's alert and work the incident to resolution. Nothing outside this machine is touched.",
    )
    demo.add_argument("--scenario", default="checkout-migration", help="scenario name (default: checkout-migration)")
    demo.add_argument(
        "--approve", choices=["prompt", "auto", "reject"], default=None,
        help="how to answer the approval gate: prompt asks on the terminal (the default on one); auto approves "
        "on your behalf (needed without a terminal); reject declines",
    )
    demo.add_argument("--reasoner", choices=["deterministic", "llm"], help="override the reasoner in the config")
    demo.add_argument("--json", type=Path, metavar="PATH", help="write the incident record to PATH")
    _add_common(demo)

    respond = sub.add_parser(
        "respond", help="work an incident from an Alertmanager webhook payload file",
        description="Read an Alertmanager webhook JSON file, open an incident per firing alert and work it. "
        "With --approve wait the incident stops at the approval gate; decide later with `firstline approve` or "
        "`firstline reject`, from any process.",
    )
    respond.add_argument("alert_file", type=Path, metavar="ALERT_FILE")
    respond.add_argument("--approve", choices=["prompt", "auto", "reject", "wait"], default=None,
                         help="prompt (default on a terminal), auto, reject, or wait (default without a terminal)")
    respond.add_argument("--reasoner", choices=["deterministic", "llm"], help="override the reasoner in the config")
    respond.add_argument("--json", type=Path, metavar="PATH", help="write the incident record to PATH")
    _add_common(respond)

    approvals = sub.add_parser("approvals", help="actions waiting for a human decision")
    approvals_sub = approvals.add_subparsers(dest="approvals_command", metavar="SUBCOMMAND")
    approvals_list = approvals_sub.add_parser("list", help="list every action waiting for approval")
    approvals_list.add_argument("--json", action="store_true", help="print JSON")
    _add_common(approvals_list)

    for verb in ("approve", "reject"):
        p = sub.add_parser(
            verb, help=f"{verb} a proposed action and resume its incident",
            description=f"Record that NAME {verb}s ACTION of INCIDENT (who and when go on the timeline), then resume "
            "the incident from its checkpoint. The first decision wins; repeating it executes nothing.",
        )
        p.add_argument("incident", metavar="INCIDENT")
        p.add_argument("action", metavar="ACTION")
        p.add_argument("--by", required=True, metavar="NAME", help="who decides (recorded)")
        p.add_argument("--comment", default="", metavar="TEXT")
        _add_common(p)

    incidents = sub.add_parser("incidents", help="list and show incidents")
    incidents_sub = incidents.add_subparsers(dest="incidents_command", metavar="SUBCOMMAND")
    inc_list = incidents_sub.add_parser("list", help="list incidents, newest first")
    inc_list.add_argument("--json", action="store_true", help="print JSON")
    _add_common(inc_list)
    inc_show = incidents_sub.add_parser("show", help="show one incident: diagnosis, actions, timeline")
    inc_show.add_argument("incident", metavar="ID")
    inc_show.add_argument("--json", type=Path, metavar="PATH", help="write the incident record to PATH ('-' for stdout)")
    _add_common(inc_show)

    sandbox = sub.add_parser("sandbox", help="the simulated environment")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    run = sandbox_sub.add_parser(
        "run", help="serve a scenario's simulated APIs on loopback until stopped",
        description="Serve Prometheus, Loki, Kubernetes, GitHub, Statuspage, Slack and PagerDuty for a scenario on "
        "127.0.0.1, print the endpoints, and optionally write a config file that points the adapters at them.",
    )
    run.add_argument("scenario", nargs="?", default="checkout-migration", metavar="SCENARIO")
    run.add_argument("--write-config", type=Path, metavar="PATH", help="write a config.yaml pointing at the sandbox")
    run.add_argument("--alert-file", type=Path, metavar="PATH", help="write the scenario's alert payload (with live times) to PATH")
    run.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    _add_common(run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from firstline.logging import configure_logging

    configure_logging(args.verbose)
    console = Console()
    from firstline import commands
    from firstline.wiring import SetupError

    handler = commands.HANDLERS.get(_command_key(args))
    if handler is None:
        parser.parse_args([*([args.command] if args.command else []), "--help"])
        return EXIT_USAGE
    try:
        return int(asyncio.run(handler(args, console)) if asyncio.iscoroutinefunction(handler) else handler(args, console))
    except commands.CommandError as exc:
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


def write_json(path: Path, data: Any) -> None:
    text = json.dumps(data, indent=2, default=str)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
