"""The durable inbox: every accepted delivery, raw, until the worker has correlated it.

The receiver validates a delivery, stores it here, and only then answers 202; the worker takes
pending items in order, and marks them processed in the same transaction that records what they
changed. Processed items are kept for ``retention_hours``: on start the engine's memory is rebuilt
by replaying them (event time makes that exact), then they are pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from storage.sql import SqlConnection, dialect_of

# The only headers a normalizer reads; nothing else (authorization included) is ever stored.
KEPT_HEADERS = ("x-amz-sns-message-type", "x-amz-sns-message-id", "x-amz-sns-topic-arn")


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    source: str
    received_at: float
    headers: dict[str, str]
    body: bytes


class Inbox:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn
        self._postgres = dialect_of(conn) == "postgres"

    def enqueue(self, source: str, received_at: float, headers: Mapping[str, str], body: bytes) -> int:
        kept = {k: headers[k] for k in KEPT_HEADERS if k in headers}
        cursor = self._conn.execute(
            "INSERT INTO inbox (source, received_at, headers, body) VALUES (?, ?, ?, ?) RETURNING id",
            (source, received_at, json.dumps(kept), body),
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def pending(self, limit: int = 500) -> list[InboxItem]:
        rows = self._conn.execute(
            "SELECT id, source, received_at, headers, body FROM inbox WHERE state = 'pending' ORDER BY id LIMIT ?",
            (limit,),
        ).fetchall()
        return [InboxItem(r[0], r[1], r[2], json.loads(r[3]), bytes(r[4])) for r in rows]

    def processed_since(self, since: float) -> Iterator[InboxItem]:
        """Processed items received at or after ``since``, in the order they were correlated (to rebuild the engine)."""
        order = "processed_seq" if self._postgres else "id"
        cursor = self._conn.execute(
            f"SELECT id, source, received_at, headers, body FROM inbox WHERE state = 'processed' AND received_at >= ? ORDER BY {order}",
            (since,),
        )
        for r in cursor:
            yield InboxItem(r[0], r[1], r[2], json.loads(r[3]), bytes(r[4]))

    def mark_processed(self, ids: list[int], at: float, notes: Mapping[int, str] | None = None) -> None:
        # Postgres: several workers correlate in turn; the sequence records the order a late one replays in.
        seq = ", processed_seq = nextval('inbox_processed_seq')" if self._postgres else ""
        self._conn.executemany(
            f"UPDATE inbox SET state = 'processed', processed_at = ?{seq} WHERE id = ?", [(at, i) for i in ids]
        )
        for item_id, note in (notes or {}).items():
            self._conn.execute("UPDATE inbox SET note = ? WHERE id = ?", (note, item_id))

    def note(self, item_id: int, note: str) -> None:
        self._conn.execute("UPDATE inbox SET note = ? WHERE id = ?", (note, item_id))

    def processed_after(self, seq: int, since: float) -> list[tuple[int, InboxItem]]:
        """Postgres: items other workers correlated after ``seq`` (received at or after ``since``), in their order."""
        rows = self._conn.execute(
            "SELECT processed_seq, id, source, received_at, headers, body FROM inbox WHERE state = 'processed' "
            "AND processed_seq > ? AND received_at >= ? ORDER BY processed_seq",
            (seq, since),
        ).fetchall()
        return [(int(r[0]), InboxItem(r[1], r[2], r[3], json.loads(r[4]), bytes(r[5]))) for r in rows]

    def last_processed_seq(self) -> int:
        """Postgres: the order number of the last correlated item (0 when none)."""
        row = self._conn.execute("SELECT COALESCE(MAX(processed_seq), 0) FROM inbox").fetchone()
        return int(row[0]) if row else 0

    def prune(self, before: float) -> int:
        """Forget processed items received before ``before``."""
        cursor = self._conn.execute("DELETE FROM inbox WHERE state = 'processed' AND received_at < ?", (before,))
        return cursor.rowcount

    def counts(self) -> dict[str, int]:
        rows = self._conn.execute("SELECT state, COUNT(*) FROM inbox GROUP BY state").fetchall()
        return {state: count for state, count in rows}
