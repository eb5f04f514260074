"""Approval people and records: users add|list|token, audit, console."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common, load
from firstline.console import Console


def _read_password(args: argparse.Namespace, console: Console) -> str | None:
    if args.no_password:
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not console.interactive:
        raise CommandError("no terminal to ask for the password: pass --password-stdin or --no-password", EXIT_USAGE)
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise CommandError("the passwords differ; nothing was changed", EXIT_USAGE)
    return first


def cmd_users_add(args: argparse.Namespace, console: Console) -> int:
    from approvals.identity import IdentityError
    from firstline.approvals_wiring import open_users

    config = load(args, check_tools=False)
    users = open_users(config.approvals, config.storage)
    try:
        user = users.add_user(
            args.name,
            password=_read_password(args, console),
            at=datetime.now(UTC),
            display_name=args.display_name or "",
            groups=args.group,
            handles=args.handle,
            slack_id=args.slack,
        )
    except IdentityError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    finally:
        users.conn.close()
    console.info(
        f"added {user.name} (groups: {', '.join(user.groups) or '-'}; handles: {', '.join(user.handles) or '-'})"
    )
    return EXIT_OK


def cmd_users_list(args: argparse.Namespace, console: Console) -> int:
    from firstline.approvals_wiring import open_users

    config = load(args, check_tools=False)
    users = open_users(config.approvals, config.storage)
    try:
        rows: list[dict[str, Any]] = [
            {
                "name": u.name,
                "display_name": u.display_name,
                "groups": list(u.groups),
                "handles": list(u.handles),
                "slack_id": u.slack_id,
                "tokens": users.tokens(u.name),
            }
            for u in users.users()
        ]
    finally:
        users.conn.close()
    if args.json:
        console.info(json.dumps(rows, indent=2))
    elif not rows:
        console.info("no users yet: firstline users add NAME --group GROUP")
    else:
        console.table(
            ["name", "groups", "handles", "slack", "tokens"],
            [
                [r["name"], ", ".join(r["groups"]), ", ".join(r["handles"]), r["slack_id"] or "", len(r["tokens"])]
                for r in rows
            ],
            keep=("name",),
        )
    return EXIT_OK


def cmd_users_token(args: argparse.Namespace, console: Console) -> int:
    from approvals.identity import IdentityError
    from firstline.approvals_wiring import open_users

    config = load(args, check_tools=False)
    users = open_users(config.approvals, config.storage)
    try:
        if args.revoke:
            if not users.revoke_token(args.revoke):
                raise CommandError(f"no token {args.revoke!r} (firstline users list --json shows the ids)", EXIT_USAGE)
            console.info(f"revoked token {args.revoke}")
            return EXIT_OK
        token = users.create_token(args.name, at=datetime.now(UTC), label=args.label or "")
    except IdentityError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    finally:
        users.conn.close()
    # The token goes to stdout alone (for `export FIRSTLINE_TOKEN=$(...)`); the advice to stderr.
    sys.stdout.write(token + "\n")
    console.err.print(
        f"a personal API token for {args.name}, shown once (only its hash is kept). Use it as "
        f"{config.approvals.token_env}=... for `firstline approve`, or as Authorization: Bearer ... for the API.",
        markup=False,
    )
    return EXIT_OK


def cmd_audit(args: argparse.Namespace, console: Console) -> int:
    from approvals.db import open_approvals_db
    from approvals.records import ApprovalRecords

    config = load(args, check_tools=False)
    path: Path = config.approvals.database
    if config.storage.url is None and not path.exists():
        console.info(f"no approvals database at {path} yet: nothing was decided")
        return EXIT_OK
    conn = open_approvals_db(config.storage.where(path))
    try:
        entries = ApprovalRecords(conn).audit_log(args.incident)
    finally:
        conn.close()
    if args.json:
        console.info(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return EXIT_OK
    if not entries:
        console.info("no audit entries" + (f" for {args.incident}" if args.incident else ""))
        return EXIT_OK
    console.table(
        ["at", "incident", "action", "event", "who", "channel", "what"],
        [
            [
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.incident_id,
                e.action_id,
                e.event,
                e.actor,
                e.channel,
                _what(e.detail),
            ]
            for e in entries
        ],
        keep=("incident", "action"),
    )
    return EXIT_OK


def _what(detail: dict[str, Any]) -> str:
    parts = []
    for key in ("decision", "rule", "reason", "result", "action_status", "args", "minutes", "text"):
        if detail.get(key) not in (None, "", {}):
            parts.append(f"{key}={json.dumps(detail[key]) if isinstance(detail[key], dict) else detail[key]}")
    return "; ".join(parts)


async def cmd_console(args: argparse.Namespace, console: Console) -> int:
    """The console alone (no alert intake): for teams whose alerts reach firstline another way."""
    import asyncio
    import signal

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from firstline.approvals_wiring import open_approvals, watching
    from firstline.commands.intake import _start
    from firstline.wiring import open_runtime
    from intake.http.server import QuietServer

    config = load(args)
    host = args.host or config.intake.host
    port = args.port if args.port is not None else config.intake.port
    async with open_runtime(config, progress=None) as responder, open_approvals(config, responder) as approvals:
        try:
            app = approvals.console()
        except ValueError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc

        async def healthz(_: Any) -> JSONResponse:
            return JSONResponse({"status": "ok", "pending_approvals": len(approvals.service.pending())})

        starlette = Starlette(routes=[*app.routes(), Route("/healthz", healthz, methods=["GET"])])
        server = QuietServer(uvicorn.Config(starlette, host=host, port=port, log_level="warning", access_log=False))
        async with watching(approvals):
            bound, task = await _start(server, host, port)
            console.info(f"firstline console on http://{host}:{bound}   (approvals API: /v1/approvals)")
            await task
            await asyncio.sleep(0)
        stop = signal.Signals(server.exit_signal).name if server.exit_signal else "shutdown"
        console.info(f"stopped ({stop})")
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    users = sub.add_parser(
        "users",
        help="people who may sign in to the console and approve: add, list, tokens",
        description="Local users of the console, the approvals API, Slack and `firstline approve`. Passwords are "
        "hashed with argon2id and tokens are stored as hashes, in approvals.database. Groups, handles and the Slack "
        "id are what approvals.rules match (groups, the owner team, the on-call's handle, the Slack user who clicked).",
    )
    users_sub = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND")
    add = users_sub.add_parser("add", help="add a user (asks for the password on the terminal)")
    add.add_argument("name", metavar="NAME", help="lowercase user name, e.g. alice")
    add.add_argument(
        "--group", action="append", default=[], metavar="GROUP", help="a group (repeatable): sre, team-payments"
    )
    add.add_argument("--handle", action="append", default=[], metavar="HANDLE", help="an on-call handle, e.g. @alice")
    add.add_argument("--slack", metavar="USER_ID", help="the Slack user id (U...) whose clicks are this user's")
    add.add_argument("--display-name", metavar="TEXT")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--no-password", action="store_true", help="no password: token or trusted-proxy sign-in only")
    add_common(add)
    listing = users_sub.add_parser("list", help="list users, their groups, handles, Slack ids and tokens")
    listing.add_argument("--json", action="store_true", help="print JSON (token ids, never the tokens)")
    add_common(listing)
    token = users_sub.add_parser(
        "token",
        help="create a personal API token for NAME (printed once), or --revoke ID",
        description="Print a new token on stdout: export FIRSTLINE_TOKEN=$(firstline users token alice). Only its "
        "hash is stored; `firstline users list --json` shows token ids for --revoke.",
    )
    token.add_argument("name", metavar="NAME", nargs="?", default="")
    token.add_argument("--label", metavar="TEXT", help="what the token is for")
    token.add_argument("--revoke", metavar="TOKEN_ID", help="revoke this token instead")
    add_common(token)

    audit = sub.add_parser(
        "audit",
        help="every approval decision, refusal, reminder, escalation and expiry: who, when, from where, what",
    )
    audit.add_argument("--incident", metavar="ID", help="only this incident")
    audit.add_argument("--json", action="store_true", help="print JSON")
    add_common(audit)

    console_cmd = sub.add_parser(
        "console",
        help="serve the approvals console and API alone (no alert intake; `serve` includes it)",
        description="Serve the web console (incidents, the pending action cards, approve/reject/edit), the approvals "
        "API (/v1/approvals) and, with approvals.slack.enabled, the Slack interactions endpoint, over the configured "
        "state. Approval deadlines (remind, page, expire) are watched while it runs.",
    )
    console_cmd.add_argument("--host", help="address to listen on (default: intake.host)")
    console_cmd.add_argument("--port", type=int, help="port (default: intake.port; 0 picks a free one)")
    add_common(console_cmd)
    return {
        "users add": cmd_users_add,
        "users list": cmd_users_list,
        "users token": cmd_users_token,
        "audit": cmd_audit,
        "console": cmd_console,
    }
