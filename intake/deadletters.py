"""Dead letters: every delivery that could not be accepted or processed, with why, never silently lost.

Stages: ``receive`` (malformed payload, oversized body: the sender got a 4xx naming the field),
``process`` (a stored delivery the worker could not use), ``confirm`` (an SNS subscription that could
not be confirmed). Bodies are kept up to `BODY_LIMIT` bytes; ``truncated`` says when more was cut.
Unauthenticated requests are logged and counted but not stored: anyone could fill the disk with them.
"""

from __future__ import annotations

from typing import Any, Literal

from storage.sql import SqlConnection

Stage = Literal["receive", "process", "confirm"]
BODY_LIMIT = 64 * 1024


class DeadLetters:
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

    def add(
        self,
        *,
        source: str,
        received_at: float,
        stage: Stage,
        status: int,
        field: str,
        error: str,
        body: bytes,
        body_size: int | None = None,
    ) -> int:
        kept = body[:BODY_LIMIT]
        size = len(body) if body_size is None else body_size
        cursor = self._conn.execute(
            "INSERT INTO dead_letters (source, received_at, stage, status, field, error, body, body_size, truncated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (source, received_at, stage, status, field, error[:2000], kept, size, int(size > len(kept))),
        )
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def list(self, limit: int = 50, source: str | None = None) -> list[dict[str, Any]]:
        """Newest first, without bodies."""
        query = "SELECT id, source, received_at, stage, status, field, error, body_size, truncated FROM dead_letters"
        args: tuple[Any, ...] = ()
        if source:
            query += " WHERE source = ?"
            args = (source,)
        rows = self._conn.execute(query + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        keys = ["id", "source", "received_at", "stage", "status", "field", "error", "body_size", "truncated"]
        return [dict(zip(keys, row, strict=True)) | {"truncated": bool(row[8])} for row in rows]

    def get(self, letter_id: int) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT id, source, received_at, stage, status, field, error, body_size, truncated, body FROM dead_letters WHERE id = ?",
            (letter_id,),
        ).fetchone()
        if row is None:
            return None
        keys = ["id", "source", "received_at", "stage", "status", "field", "error", "body_size", "truncated"]
        record = dict(zip(keys, row[:9], strict=True))
        record["truncated"] = bool(row[8])
        record["body"] = bytes(row[9]).decode("utf-8", errors="replace")
        return record

    def count(self) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM dead_letters").fetchone()
        return int(row[0]) if row else 0
