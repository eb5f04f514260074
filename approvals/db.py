"""The approvals database (SQLite, WAL): users, tokens, sessions, votes, audit, Slack messages.
With ``storage.url`` these tables are in the shared Postgres database (`storage.migrations`).

One file, shared by the server and the command line (each process opens its own connection). Every
table is created here, so a new table is one line and an old file gains it on the next open.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from storage.sql import SqlConnection, connect_postgres
from storage.target import PostgresTarget

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL DEFAULT '',
    password_hash TEXT,
    groups_json   TEXT NOT NULL DEFAULT '[]',
    handles_json  TEXT NOT NULL DEFAULT '[]',
    slack_id      TEXT UNIQUE,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL REFERENCES users(name),
    secret_hash TEXT NOT NULL,
    label       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    last_used   TEXT
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash    TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES users(name),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS votes (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    decision    TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    args_json   TEXT NOT NULL,
    edited      INTEGER NOT NULL DEFAULT 0,
    channel     TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    PRIMARY KEY (incident_id, action_id, user_name, args_hash)
);
CREATE TABLE IF NOT EXISTS audit (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    detail_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_incident ON audit (incident_id, seq);
CREATE TABLE IF NOT EXISTS slack_messages (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    channel     TEXT NOT NULL,
    ts          TEXT NOT NULL,
    PRIMARY KEY (incident_id, action_id)
);
CREATE TABLE IF NOT EXISTS slack_seen (
    signature TEXT PRIMARY KEY,
    at        REAL NOT NULL
);
"""


def open_approvals_db(path: str | Path | PostgresTarget) -> SqlConnection:
    """Open (creating if needed) the approvals database; autocommit, safe to share between threads."""
    if isinstance(path, PostgresTarget):
        return connect_postgres(path, application="firstline-approvals")
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.executescript(_SCHEMA)
    return conn
