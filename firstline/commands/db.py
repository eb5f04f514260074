"""`firstline db migrate|status`: the Postgres schema (``storage.url``), applied and reported.

Workers also migrate on start (under a lock, so they may start together); the command lets a
deployment migrate before rolling out, and shows what is applied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from firstline.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_common, load
from firstline.console import Console

MIGRATE_DESCRIPTION = """\
Apply the pending migrations of firstline's Postgres schema (storage/migrations/NNNN_*.sql, recorded
in the schema_migrations table) and create or upgrade LangGraph's checkpoint tables. Safe to run
again, and while workers run: each migration is applied once, in one transaction, under a lock.

Needs storage.url (postgresql://USER@HOST:PORT/DB) and, for the password, storage.password_env.
With the default SQLite storage there is nothing to migrate: each store creates its tables itself.

examples:
  FIRSTLINE_DB_PASSWORD=... firstline --config org.yaml db migrate
  firstline --config org.yaml db status --json
"""

STATUS_DESCRIPTION = """\
Show which schema version the database is at, which migrations are applied (when) and which are
pending. Changes nothing. Exit 0 when up to date, 1 when migrations are pending.
"""


def _target(args: argparse.Namespace) -> Any:
    config = load(args, check_tools=False)
    target = config.storage.postgres()
    if target is None:
        raise CommandError(
            "storage.url is not set: the state is in SQLite files, which need no migrations "
            "(set storage.url: postgresql://USER@HOST:PORT/DB to share one database between workers)",
            EXIT_USAGE,
        )
    return target


def _status_json(status: Any) -> dict[str, Any]:
    return {
        "current": status.current,
        "latest": status.latest,
        "applied": [{"version": v, "name": n, "applied_at": at} for v, n, at in status.applied],
        "pending": [{"version": m.version, "name": m.name} for m in status.pending],
    }


def cmd_db_migrate(args: argparse.Namespace, console: Console) -> int:
    from agents.checkpoints import open_checkpoint_connection
    from storage.migrations import migrate, status
    from storage.sql import connect_postgres
    from storage.target import StorageError

    target = _target(args)
    try:
        conn = connect_postgres(target, migrate=False)
        try:
            applied = migrate(conn)
            after = status(conn)
        finally:
            conn.close()

        async def checkpoints() -> None:
            async with open_checkpoint_connection(target, setup=True):
                pass

        asyncio.run(checkpoints())
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        console.info(json.dumps({"applied_now": [m.version for m in applied], **_status_json(after)}, indent=2))
        return EXIT_OK
    for migration in applied:
        console.info(f"applied {migration.version:04d}_{migration.name}")
    console.info(
        f"{target.describe()}: schema at version {after.current} (latest {after.latest})"
        + ("" if applied else ", nothing to apply")
        + "; LangGraph checkpoint tables up to date"
    )
    return EXIT_OK


def cmd_db_status(args: argparse.Namespace, console: Console) -> int:
    from storage.migrations import status
    from storage.sql import connect_postgres
    from storage.target import StorageError

    target = _target(args)
    try:
        conn = connect_postgres(target, migrate=False)
        try:
            found = status(conn)
        finally:
            conn.close()
    except StorageError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        console.info(json.dumps(_status_json(found), indent=2))
    else:
        console.info(f"{target.describe()}: schema at version {found.current} (latest {found.latest})")
        for version, name, at in found.applied:
            console.info(f"  applied  {version:04d}_{name}  {at[:19]}")
        for migration in found.pending:
            console.info(f"  pending  {migration.version:04d}_{migration.name}  (firstline db migrate)")
    return EXIT_OK if not found.pending else EXIT_FAILED


def register(sub: Any) -> dict[str, Any]:
    db = sub.add_parser("db", help="the Postgres schema (storage.url): migrate, status")
    db_sub = db.add_subparsers(dest="db_command", metavar="SUBCOMMAND")
    migrate = db_sub.add_parser(
        "migrate",
        help="apply pending schema migrations",
        description=MIGRATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    status = db_sub.add_parser(
        "status",
        help="which migrations are applied and which pending",
        description=STATUS_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for parser in (migrate, status):
        parser.add_argument("--json", action="store_true", help="print JSON")
        add_common(parser)
    return {"db migrate": cmd_db_migrate, "db status": cmd_db_status}
