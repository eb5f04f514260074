"""The action ledger: recorded approvals and at-most-once execution of mutating calls.

It is a small SQLite database (path from config), or the shared Postgres database when several workers
run (``storage.url``; the tables come from `storage.migrations`). Two tables:

- ``decisions``: who approved or rejected which action (incident, action id, tool, argument hash),
  when, with what comment, and, when a human edited the call before approving it, the edited
  arguments themselves (``args_json``: the approval binds to them, not to what was proposed). The
  first decision for an action is final; a second one is reported, not applied.
- ``executions``: one row per action that was claimed for execution. The row is written *before* the
  call runs (state ``claimed``) and updated after (``succeeded`` / ``failed``). A second claim of the
  same action finds the row and does not run the call again: if the process died between the claim and
  the update, the outcome is ``unknown`` and the agents verify the effect instead of repeating it. The
  claim is the table's primary key: two workers claiming at once both insert, and the database lets one.

`claim` is the only place that mints an `ExecutionGrant`, and it mints one only when a recorded
approval (or a policy rule allowing the action) exists for exactly these arguments.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from storage.sql import SqlConnection, connect_postgres
from storage.target import PostgresTarget
from tools.base import ApprovalTier, ExecutionGrant, ToolResult
from tools.grants import mint_grant

Decision = Literal["approved", "rejected"]
ExecutionState = Literal["claimed", "succeeded", "failed", "unknown"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    tool        TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    decision    TEXT NOT NULL,
    decided_by  TEXT NOT NULL,
    decided_at  TEXT NOT NULL,
    comment     TEXT NOT NULL DEFAULT '',
    args_json   TEXT,
    PRIMARY KEY (incident_id, action_id)
);
CREATE TABLE IF NOT EXISTS executions (
    incident_id TEXT NOT NULL,
    action_id   TEXT NOT NULL,
    tool        TEXT NOT NULL,
    args_hash   TEXT NOT NULL,
    state       TEXT NOT NULL,
    claimed_at  TEXT NOT NULL,
    finished_at TEXT,
    result_json TEXT,
    PRIMARY KEY (incident_id, action_id)
);
"""


class DecisionRecord(BaseModel):
    incident_id: str
    action_id: str
    tool: str
    args_hash: str
    decision: Decision
    decided_by: str
    decided_at: datetime
    comment: str = ""
    args: dict[str, Any] | None = Field(
        default=None, description="The arguments approved when a human edited the proposed ones (None: as proposed)."
    )


class ExecutionRecord(BaseModel):
    incident_id: str
    action_id: str
    tool: str
    args_hash: str
    state: ExecutionState
    claimed_at: datetime
    finished_at: datetime | None = None
    result: dict[str, Any] | None = None


class ClaimRefused(Exception):
    """The action may not run: no approval, a rejection, a forbidding policy, or changed arguments."""


class Claim(BaseModel):
    """The outcome of `ActionLedger.claim`: either a fresh grant or the earlier execution."""

    grant: ExecutionGrant | None = None
    previous: ExecutionRecord | None = None

    model_config = {"arbitrary_types_allowed": True}


def _now() -> datetime:
    return datetime.now(UTC)


class ActionLedger:
    """Approvals and execution records (SQLite or Postgres), safe to share between processes and workers."""

    def __init__(self, location: str | Path | PostgresTarget) -> None:
        self._conn: SqlConnection
        if isinstance(location, PostgresTarget):
            self.path = Path(location.describe())
            self._conn = connect_postgres(location)
        else:
            self.path = Path(location)
            if str(location) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(location), timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(decisions)")}
            if "args_json" not in columns:  # a ledger written before edits were recorded
                conn.execute("ALTER TABLE decisions ADD COLUMN args_json TEXT")
            self._conn = conn
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    # -- decisions -----------------------------------------------------------------------------

    def record_decision(
        self,
        *,
        incident_id: str,
        action_id: str,
        tool: str,
        args_hash: str,
        decision: Decision,
        decided_by: str,
        comment: str = "",
        at: datetime | None = None,
        args: dict[str, Any] | None = None,
    ) -> tuple[DecisionRecord, bool]:
        """Record a decision. Returns the stored record and whether this call created it.

        The first decision wins: a later one (even the same) leaves the record unchanged. ``args``
        are the edited arguments an approval is for (their canonical form; ``args_hash`` is theirs).
        """
        if not decided_by.strip():
            raise ValueError("a decision needs the name of who made it (--by)")
        record = DecisionRecord(
            incident_id=incident_id,
            action_id=action_id,
            tool=tool,
            args_hash=args_hash,
            decision=decision,
            decided_by=decided_by,
            decided_at=at or _now(),
            comment=comment,
            args=args,
        )
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO decisions (incident_id, action_id, tool, args_hash, decision, decided_by, "
                "decided_at, comment, args_json) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (
                    incident_id,
                    action_id,
                    tool,
                    args_hash,
                    decision,
                    decided_by,
                    record.decided_at.isoformat(),
                    comment,
                    None if args is None else json.dumps(args, sort_keys=True),
                ),
            )
            created = cursor.rowcount == 1
        stored = self.get_decision(incident_id, action_id)
        assert stored is not None  # just inserted or already present
        return stored, created

    def get_decision(self, incident_id: str, action_id: str) -> DecisionRecord | None:
        row = self._conn.execute(
            "SELECT incident_id, action_id, tool, args_hash, decision, decided_by, decided_at, comment, args_json "
            "FROM decisions WHERE incident_id=? AND action_id=?",
            (incident_id, action_id),
        ).fetchone()
        if row is None:
            return None
        keys = ["incident_id", "action_id", "tool", "args_hash", "decision", "decided_by", "decided_at", "comment"]
        fields: dict[str, Any] = dict(zip(keys, row[:8], strict=True))
        fields["args"] = json.loads(row[8]) if row[8] else None
        return DecisionRecord.model_validate(fields)

    # -- executions ----------------------------------------------------------------------------

    def claim(self, *, incident_id: str, action_id: str, tool: str, args_hash: str, tier: ApprovalTier) -> Claim:
        """Claim the single execution of an action and mint its grant.

        ``tier`` comes from the approval policy. ``auto`` records a decision by ``policy:auto``;
        ``approve`` requires an ``approved`` decision for these exact arguments; ``forbid`` refuses.
        If the action was claimed before, returns that record and no grant.
        """
        previous = self.get_execution(incident_id, action_id)
        if previous is not None:
            return Claim(previous=previous)
        if tier == "forbid":
            raise ClaimRefused(f"{tool} is forbidden by policy; it can only be suggested")
        if tier == "auto":
            self.record_decision(
                incident_id=incident_id,
                action_id=action_id,
                tool=tool,
                args_hash=args_hash,
                decision="approved",
                decided_by="policy:auto",
                comment="allowed by policy without a human",
            )
        decision = self.get_decision(incident_id, action_id)
        if decision is None:
            raise ClaimRefused(f"{tool} needs an approval and none is recorded for action {action_id}")
        if decision.decision != "approved":
            raise ClaimRefused(f"action {action_id} was rejected by {decision.decided_by}")
        if decision.args_hash != args_hash or decision.tool != tool:
            raise ClaimRefused(
                f"action {action_id} was approved for different arguments; the change needs a new approval"
            )
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO executions (incident_id, action_id, tool, args_hash, state, claimed_at) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                (incident_id, action_id, tool, args_hash, "claimed", _now().isoformat()),
            )
        if cursor.rowcount != 1:  # another process claimed it between our read and our insert
            earlier = self.get_execution(incident_id, action_id)
            return Claim(previous=earlier)
        grant = mint_grant(
            incident_id=incident_id,
            action_id=action_id,
            tool=tool,
            args_hash=args_hash,
            approved_by=decision.decided_by,
        )
        return Claim(grant=grant)

    def finish(self, incident_id: str, action_id: str, result: ToolResult) -> ExecutionRecord:
        state: ExecutionState = "succeeded" if result.status == "ok" else "failed"
        with self._lock:
            self._conn.execute(
                "UPDATE executions SET state=?, finished_at=?, result_json=? WHERE incident_id=? AND action_id=?",
                (state, _now().isoformat(), result.model_dump_json(), incident_id, action_id),
            )
        record = self.get_execution(incident_id, action_id)
        assert record is not None
        return record

    def get_execution(self, incident_id: str, action_id: str) -> ExecutionRecord | None:
        row = self._conn.execute(
            "SELECT incident_id, action_id, tool, args_hash, state, claimed_at, finished_at, result_json "
            "FROM executions WHERE incident_id=? AND action_id=?",
            (incident_id, action_id),
        ).fetchone()
        if row is None:
            return None
        state = row[4]
        if state == "claimed":
            # Claimed but never finished: the process died mid-call. The outcome is unknown and the
            # call is never repeated blindly.
            state = "unknown"
        return ExecutionRecord(
            incident_id=row[0],
            action_id=row[1],
            tool=row[2],
            args_hash=row[3],
            state=state,
            claimed_at=row[5],
            finished_at=row[6],
            result=json.loads(row[7]) if row[7] else None,
        )

    def executions_for(self, incident_id: str) -> list[ExecutionRecord]:
        rows = self._conn.execute(
            "SELECT action_id FROM executions WHERE incident_id=? ORDER BY claimed_at", (incident_id,)
        ).fetchall()
        return [rec for (action_id,) in rows if (rec := self.get_execution(incident_id, action_id))]
