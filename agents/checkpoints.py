"""The connection LangGraph's Postgres checkpointer needs, and its own migrations.

`langgraph-checkpoint-postgres` wants an autocommit connection with ``dict_row`` rows and no
server-side prepared statements (``prepare_threshold=0``, so a pooler in front is safe). Its tables
are versioned by its own ``checkpoint_migrations`` table; `setup_checkpoints` applies them and is
called by ``firstline db migrate`` and on every start (a no-op once done).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.target import PostgresTarget, StorageError, redact


@asynccontextmanager
async def open_checkpoint_connection(target: PostgresTarget, *, setup: bool = True) -> AsyncIterator[Any]:
    """An async connection for `AsyncPostgresSaver`, its tables migrated first unless ``setup=False``."""
    password = target.password()
    kwargs: dict[str, Any] = {
        "autocommit": True,
        "prepare_threshold": 0,
        "row_factory": dict_row,
        "application_name": "firstline-checkpoints",
        "connect_timeout": 10,
    }
    if password is not None:
        kwargs["password"] = password
    try:
        conn = await psycopg.AsyncConnection.connect(target.url, **kwargs)
    except psycopg.Error as exc:
        raise StorageError(f"cannot connect to {target.describe()}: {redact(str(exc), password).strip()}") from None
    try:
        if setup:
            await setup_checkpoints(conn)
        yield conn
    finally:
        await conn.close()


async def setup_checkpoints(conn: Any) -> None:
    """Create or upgrade the checkpointer's tables (under an advisory lock: workers start together)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    await conn.execute("SELECT pg_advisory_lock(%s)", (0x46_4C_43_4B,))
    try:
        await AsyncPostgresSaver(conn).setup()
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (0x46_4C_43_4B,))
