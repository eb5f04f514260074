"""One connection type for every store, whichever the engine.

The stores write portable SQL (``?`` placeholders, ``INSERT ... ON CONFLICT``, ``RETURNING``), which
SQLite runs as is. `PgConnection` runs the same statements on Postgres: it turns ``?`` into ``%s``,
``BEGIN IMMEDIATE`` into ``BEGIN``, and works in autocommit mode like the SQLite connections do, so a
store's explicit ``BEGIN ... COMMIT`` means the same on both.

The schema is not created here: SQLite stores create their tables on open (as they always have);
Postgres gets the versioned migrations (`storage.migrations`), applied by `connect` when asked.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import psycopg

from storage.target import PostgresTarget, StorageError, redact

Dialect = Literal["sqlite", "postgres"]

_PLACEHOLDER = re.compile(r"\?")


def to_postgres(sql: str) -> str:
    """A portable statement in psycopg's form (the stores' SQL never has ``?`` or ``%`` inside literals)."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


class PgConnection:
    """A psycopg connection with the part of the `sqlite3.Connection` API the stores use.

    Statements from several threads are serialized (psycopg's own lock); a transaction belongs to the
    connection, so a store that opens one (the intake worker) keeps a connection of its own.
    """

    dialect: Dialect = "postgres"

    def __init__(self, conn: psycopg.Connection[Any], target: PostgresTarget) -> None:
        self.raw = conn
        self.target = target
        self._lock = threading.RLock()

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        with self._lock:
            return self.raw.execute(to_postgres(sql), tuple(parameters))

    def executemany(self, sql: str, seq: Iterable[Sequence[Any]], /) -> psycopg.Cursor[Any]:
        with self._lock:
            cursor = self.raw.cursor()
            cursor.executemany(to_postgres(sql), [tuple(p) for p in seq])
            return cursor

    def close(self) -> None:
        self.raw.close()


SqlConnection = sqlite3.Connection | PgConnection


def dialect_of(conn: SqlConnection) -> Dialect:
    return "postgres" if isinstance(conn, PgConnection) else "sqlite"


def connect_postgres(target: PostgresTarget, *, migrate: bool = True, application: str = "firstline") -> PgConnection:
    """Connect (autocommit) and, unless ``migrate=False``, bring the schema up to date first.

    Errors are `StorageError` naming the server (never the password).
    """
    password = target.password()
    try:
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": application, "connect_timeout": 10}
        if password is not None:
            kwargs["password"] = password
        raw = psycopg.connect(target.url, **kwargs)
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to {target.describe()}: {redact(str(exc), password).strip()}") from None
    conn = PgConnection(raw, target)
    if migrate:
        from storage.migrations import migrate as apply

        apply(conn)
    return conn


def integrity_errors() -> tuple[type[Exception], ...]:
    """A constraint refused the write (a duplicate key), on either engine."""
    return (sqlite3.IntegrityError, psycopg.IntegrityError)


def transient_errors() -> tuple[type[Exception], ...]:
    """The errors a write may succeed after on retry (a locked SQLite file; a lost or busy Postgres)."""
    return (sqlite3.OperationalError, psycopg.OperationalError)
