"""Votes, the audit log and the Slack messages of pending approvals, in the approvals database.

A **vote** is one person's approval or rejection of one action for exact arguments (their hash), from
one channel (web, api, slack, cli). Votes count toward the rule's quorum; the ledger's decision is
written only when the quorum is reached, so the ledger keeps its meaning: a decision means "may run".

The **audit log** is append-only: every vote, refusal, decision, reminder, escalation and expiry, with
who, when, which channel and the details (arguments, the rule). `firstline audit` reads it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from storage.sql import SqlConnection

Channel = Literal["web", "api", "slack", "cli", "system"]
AuditEvent = Literal[
    "approval_requested",
    "vote",
    "edit",
    "refused",
    "decided",
    "executed",
    "reminded",
    "escalated",
    "expired",
    "slack_posted",
    "slack_updated",
    "slack_rejected_request",
]


class Vote(BaseModel):
    incident_id: str
    action_id: str
    user: str
    decision: Literal["approved", "rejected"]
    args_hash: str
    args: dict[str, Any]
    edited: bool
    channel: Channel
    comment: str
    at: datetime


class AuditEntry(BaseModel):
    seq: int
    at: datetime
    incident_id: str
    action_id: str
    event: AuditEvent
    actor: str
    channel: Channel
    detail: dict[str, Any]


@dataclass
class ApprovalRecords:
    conn: SqlConnection
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- votes ---------------------------------------------------------------------------------

    def add_vote(self, vote: Vote) -> bool:
        """Record a vote; False when this person already voted the same on the same arguments."""
        with self._lock:
            cursor = self.conn.execute(
                "INSERT INTO votes VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    vote.incident_id,
                    vote.action_id,
                    vote.user,
                    vote.decision,
                    vote.args_hash,
                    json.dumps(vote.args, sort_keys=True),
                    int(vote.edited),
                    vote.channel,
                    vote.comment,
                    vote.at.isoformat(),
                ),
            )
        return cursor.rowcount == 1

    def votes(self, incident_id: str, action_id: str) -> list[Vote]:
        rows = self.conn.execute(
            "SELECT incident_id, action_id, user_name, decision, args_hash, args_json, edited, channel, comment, at "
            "FROM votes WHERE incident_id=? AND action_id=? ORDER BY at",
            (incident_id, action_id),
        ).fetchall()
        return [
            Vote(
                incident_id=r[0],
                action_id=r[1],
                user=r[2],
                decision=r[3],
                args_hash=r[4],
                args=json.loads(r[5]),
                edited=bool(r[6]),
                channel=r[7],
                comment=r[8],
                at=r[9],
            )
            for r in rows
        ]

    # -- audit ---------------------------------------------------------------------------------

    def audit(
        self,
        *,
        at: datetime,
        incident_id: str,
        action_id: str,
        event: AuditEvent,
        actor: str,
        channel: Channel,
        **detail: Any,
    ) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT INTO audit (at, incident_id, action_id, event, actor, channel, detail_json) VALUES (?,?,?,?,?,?,?)",
                (at.isoformat(), incident_id, action_id, event, actor, channel, json.dumps(detail, default=str)),
            )

    def audit_log(self, incident_id: str | None = None, *, limit: int = 10_000) -> list[AuditEntry]:
        where, params = ("WHERE incident_id=?", (incident_id,)) if incident_id else ("", ())
        rows = self.conn.execute(
            f"SELECT seq, at, incident_id, action_id, event, actor, channel, detail_json FROM audit {where} "
            "ORDER BY seq LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [
            AuditEntry(
                seq=r[0],
                at=r[1],
                incident_id=r[2],
                action_id=r[3],
                event=r[4],
                actor=r[5],
                channel=r[6],
                detail=json.loads(r[7]),
            )
            for r in rows
        ]

    def has_event(self, incident_id: str, action_id: str, event: AuditEvent) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM audit WHERE incident_id=? AND action_id=? AND event=? LIMIT 1",
            (incident_id, action_id, event),
        ).fetchone()
        return row is not None

    # -- Slack ---------------------------------------------------------------------------------

    def slack_message(self, incident_id: str, action_id: str) -> tuple[str, str] | None:
        row = self.conn.execute(
            "SELECT channel, ts FROM slack_messages WHERE incident_id=? AND action_id=?", (incident_id, action_id)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def remember_slack_message(self, incident_id: str, action_id: str, channel: str, ts: str) -> None:
        with self._lock:
            self.conn.execute(
                "INSERT INTO slack_messages VALUES (?,?,?,?) ON CONFLICT (incident_id, action_id) DO UPDATE "
                "SET channel = excluded.channel, ts = excluded.ts",
                (incident_id, action_id, channel, ts),
            )

    def first_sight(self, signature: str, *, now: float, window_seconds: float) -> bool:
        """True the first time a signed Slack request is seen; False for a replay within the window."""
        with self._lock:
            self.conn.execute("DELETE FROM slack_seen WHERE at < ?", (now - 2 * window_seconds,))
            cursor = self.conn.execute("INSERT INTO slack_seen VALUES (?,?) ON CONFLICT DO NOTHING", (signature, now))
        return cursor.rowcount == 1
