"""The intake database: one SQLite file (WAL, synchronous=FULL) with the inbox, the dead letters,
the correlated incidents and their workflow runs. One connection per process, used by one thread.
With ``storage.url`` the same tables are in the shared Postgres database (`storage.migrations`).

``synchronous=FULL`` makes every accepted delivery durable before its 202 goes out: an accepted
alert survives a crash of the process or of the machine.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.sql import SqlConnection, connect_postgres
from storage.target import PostgresTarget

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    processed_at REAL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS inbox_by_state ON inbox(state, id);
CREATE INDEX IF NOT EXISTS inbox_by_time ON inbox(received_at);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    received_at REAL NOT NULL,
    stage TEXT NOT NULL,
    status INTEGER NOT NULL,
    field TEXT NOT NULL,
    error TEXT NOT NULL,
    body BLOB NOT NULL,
    body_size INTEGER NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS intake_incidents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    severity TEXT NOT NULL,
    environment TEXT NOT NULL,
    services TEXT NOT NULL,
    title TEXT NOT NULL,
    alerts INTEGER NOT NULL,
    opened_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intake_incidents_by_time ON intake_incidents(updated_at);
CREATE TABLE IF NOT EXISTS intake_runs (
    incident_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    workflow_id TEXT NOT NULL,
    reasons TEXT NOT NULL,
    state TEXT NOT NULL,
    requested_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    alert TEXT NOT NULL,
    PRIMARY KEY (incident_id, revision)
);
"""


def open_db(location: Path | PostgresTarget) -> SqlConnection:
    """Open (creating) the intake database; autocommit mode, transactions via `transaction`."""
    if isinstance(location, PostgresTarget):
        return connect_postgres(location, application="firstline-intake")
    path = location
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.executescript(SCHEMA)
    return conn


@contextmanager
def transaction(conn: SqlConnection) -> Iterator[SqlConnection]:
    """All or nothing: BEGIN IMMEDIATE (Postgres: BEGIN) ... COMMIT, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
