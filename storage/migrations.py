"""The Postgres schema as plain versioned SQL files, applied in order at start.

Why plain SQL and not alembic: the stores speak raw SQL through the DB-API (no SQLAlchemy models for
alembic to diff against), the schema is a dozen tables, and a reviewer reads exactly what runs. The
files are ``storage/migrations/NNNN_name.sql``; ``schema_migrations`` records each applied version.
Pending migrations run in one transaction with their version rows, under an advisory lock, so workers
starting together apply them once and a failed one leaves nothing half done. Applied files are never edited: a
change is a new file.

LangGraph's checkpoint tables are not here: `langgraph-checkpoint-postgres` migrates its own (its
``setup()``, with its own version table), called by `firstline db migrate` and at start.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from storage.sql import PgConnection

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# pg_advisory_xact_lock key: "firstline schema" (any constant shared by every worker).
_LOCK_KEY = 0x46_4C_53_43
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class Migration(BaseModel):
    version: int
    name: str
    path: Path


class MigrationStatus(BaseModel):
    current: int
    latest: int
    applied: list[tuple[int, str, str]]
    pending: list[Migration]


def available() -> list[Migration]:
    """The migration files, in version order."""
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(version=int(match.group(1)), name=match.group(2), path=path))
    return found


_VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"


def status(conn: PgConnection) -> MigrationStatus:
    """What is applied and what is not, without changing anything."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    rows = (
        []
        if not (exists and exists[0])
        else conn.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()
    )
    applied = [(int(r[0]), str(r[1]), str(r[2])) for r in rows]
    done = {v for v, _, _ in applied}
    known = available()
    return MigrationStatus(
        current=max(done, default=0),
        latest=max((m.version for m in known), default=0),
        applied=applied,
        pending=[m for m in known if m.version not in done],
    )


def migrate(conn: PgConnection) -> list[Migration]:
    """Apply every pending migration, all in one transaction under the schema lock; the ones applied.

    Workers starting together wait on the lock; the first applies, the others then find nothing to do.
    """
    done: list[Migration] = []
    with conn.raw.transaction():
        conn.raw.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.raw.execute(_VERSION_TABLE)
        applied = {int(r[0]) for r in conn.raw.execute("SELECT version FROM schema_migrations").fetchall()}
        for migration in available():
            if migration.version in applied:
                continue
            conn.raw.execute(migration.path.read_text(encoding="utf-8"))
            conn.raw.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                (migration.version, migration.name, datetime.now(UTC).isoformat()),
            )
            done.append(migration)
    return done
