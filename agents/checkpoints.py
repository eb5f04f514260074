"""The connection LangGraph's Postgres checkpointer needs, and its own migrations.

`langgraph-checkpoint-postgres` wants an autocommit connection with ``dict_row`` rows and no
server-side prepared statements (``prepare_threshold=0``, so a pooler in front is safe). Its tables
are versioned by its own ``checkpoint_migrations`` table; `setup_checkpoints` applies them and is
called by ``firstline db migrate`` and on every start (a no-op once done).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from storage.target import PostgresTarget, StorageError, redact

SETUP_WAIT_SECONDS = 120


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

    # Polled, never waited on: the checkpointer's migrations build indexes CONCURRENTLY, which waits for
    # every open transaction, a blocked `pg_advisory_lock` statement of another worker included (a
    # deadlock). Each try is a statement that ends at once.
    deadline = asyncio.get_running_loop().time() + SETUP_WAIT_SECONDS
    while True:
        row = await (await conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", (0x46_4C_43_4B,))).fetchone()
        if row is not None and row["taken"]:
            break
        if asyncio.get_running_loop().time() > deadline:
            raise StorageError(f"another worker held the checkpoint migration lock for {SETUP_WAIT_SECONDS} s")
        await asyncio.sleep(0.2)
    try:
        await AsyncPostgresSaver(conn).setup()
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (0x46_4C_43_4B,))
