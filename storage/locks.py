"""One worker at a time per incident: Postgres advisory locks, held for one run of the workflow.

`IncidentLocks.hold(incident_id)` waits until no other worker runs that incident, then holds it
until the block ends. The lock lives on a connection of its own: when a worker dies (even by
``kill -9``) its connection closes and Postgres releases the lock, so the survivor takes over with
nothing to clean up; the lease is the connection's life. Holding is re-entrant within one task
(``start`` resuming, ``decide`` resuming), so nested calls do not wait for themselves.
"""

from __future__ import annotations

import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

import psycopg

from storage.target import PostgresTarget, StorageError, redact

_held: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar("firstline_held_locks", default=frozenset())


class IncidentLocks(Protocol):
    """What the runner needs: hold an incident while its workflow runs."""

    def hold(self, incident_id: str) -> Any:  # an async context manager
        ...

    def try_hold(self, name: str) -> Any:  # an async context manager yielding whether it is held
        ...


class PostgresIncidentLocks:
    """Advisory locks keyed by the incident id (``hashtextextended``: 64 bits, collisions only serialize)."""

    def __init__(self, target: PostgresTarget) -> None:
        self.target = target

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        password = self.target.password()
        kwargs: dict[str, Any] = {"autocommit": True, "application_name": "firstline-lock", "connect_timeout": 10}
        if password is not None:
            kwargs["password"] = password
        try:
            return await psycopg.AsyncConnection.connect(self.target.url, **kwargs)
        except psycopg.Error as exc:
            raise StorageError(
                f"cannot connect to {self.target.describe()}: {redact(str(exc), password).strip()}"
            ) from None

    @asynccontextmanager
    async def hold(self, incident_id: str) -> AsyncIterator[None]:
        held = _held.get()
        if incident_id in held:
            yield
            return
        conn = await self._connect()
        try:
            await conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (incident_id,))
            token = _held.set(held | {incident_id})
            try:
                yield
            finally:
                _held.reset(token)
        finally:
            await conn.close()  # releases the lock with the session

    @asynccontextmanager
    async def try_hold(self, name: str) -> AsyncIterator[bool]:
        """Hold ``name`` if no other worker does (True), else do not wait (False): for periodic jobs one
        worker should do at a time, such as the approvals watcher's reminders."""
        conn = await self._connect()
        try:
            row = await (await conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,))).fetchone()
            yield bool(row and row[0])
        finally:
            await conn.close()


class NoLocks:
    """One process (SQLite): nothing to coordinate with."""

    @asynccontextmanager
    async def hold(self, incident_id: str) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def try_hold(self, name: str) -> AsyncIterator[bool]:
        yield True
