"""The incident store: what correlation decided, durably, and which workflow runs it asked for.

``intake_incidents`` keeps the latest summary of every correlated incident (for ``GET
/v1/incidents`` and across restarts). ``intake_runs`` has one row per investigation (incident,
revision): the workflow alert that was (or is to be) started, its state (``pending`` → ``running``
→ ``started`` or ``failed``) and what came of it. Rows are written in the same transaction that
marks the inbox items processed, so after a crash a requested investigation is neither lost nor
started twice (``Responder.start`` is idempotent per workflow id as well).

With several workers (Postgres), a run also has a lease: the worker that requested it owns it and
renews ``lease_until`` while it runs; a run whose lease expired (its worker died) is claimed by
another worker with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two survivors never take the same one.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Literal

from storage.sql import SqlConnection

RunState = Literal["pending", "running", "started", "failed"]


@dataclass(frozen=True, slots=True)
class RunRequest:
    incident_id: str
    revision: int
    workflow_id: str
    reasons: tuple[str, ...]
    alert: dict[str, Any]


class IncidentStore:
    def __init__(self, conn: SqlConnection, *, owner: str | None = None, lease_seconds: float = 30.0) -> None:
        """``owner``: this worker's name, when runs are leased (Postgres, several workers)."""
        self._conn = conn
        self.owner = owner
        self.lease_seconds = lease_seconds

    def save_incident(self, summary: dict[str, Any], updated_at: str) -> None:
        self._conn.execute(
            "INSERT INTO intake_incidents (id, status, severity, environment, services, title, alerts, opened_at, updated_at, summary) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
            "severity=excluded.severity, services=excluded.services, alerts=excluded.alerts, updated_at=excluded.updated_at, "
            "summary=excluded.summary",
            (
                summary["id"],
                summary["status"],
                summary["severity"],
                summary["environment"],
                json.dumps(summary["services"]),
                summary["title"],
                summary["alerts"],
                summary["opened_at"],
                updated_at,
                json.dumps(summary),
            ),
        )

    def request_run(self, run: RunRequest, at: float) -> bool:
        """Record an investigation to start; False if this (incident, revision) was already requested."""
        if self.owner is not None:
            cursor = self._conn.execute(
                "INSERT INTO intake_runs (incident_id, revision, workflow_id, reasons, state, requested_at, updated_at, "
                "alert, owner, lease_until, attempts) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING",
                (
                    run.incident_id,
                    run.revision,
                    run.workflow_id,
                    json.dumps(run.reasons),
                    at,
                    at,
                    json.dumps(run.alert),
                    self.owner,
                    time.time() + self.lease_seconds,  # leases are wall-clock time, whatever clock intake runs on
                ),
            )
            return cursor.rowcount == 1
        cursor = self._conn.execute(
            "INSERT INTO intake_runs (incident_id, revision, workflow_id, reasons, state, requested_at, updated_at, alert) "
            "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
            (run.incident_id, run.revision, run.workflow_id, json.dumps(run.reasons), at, at, json.dumps(run.alert)),
        )
        return cursor.rowcount == 1

    def set_run_state(self, incident_id: str, revision: int, state: RunState, at: float, detail: str = "") -> None:
        self._conn.execute(
            "UPDATE intake_runs SET state = ?, updated_at = ?, detail = ? WHERE incident_id = ? AND revision = ?",
            (state, at, detail[:2000], incident_id, revision),
        )

    def claim_orphaned_runs(self, now: float, limit: int = 10) -> list[RunRequest]:
        """Postgres: take over unfinished runs whose lease expired (their worker died); each goes to one worker.

        ``now`` is wall-clock time (`time.time`), like the leases.
        """
        assert self.owner is not None, "runs are leased only with several workers"
        rows = self._conn.execute(
            "UPDATE intake_runs SET owner = ?, lease_until = ?, attempts = attempts + 1 "
            "WHERE (incident_id, revision) IN (SELECT incident_id, revision FROM intake_runs "
            "WHERE state IN ('pending', 'running') AND (lease_until IS NULL OR lease_until < ?) "
            "ORDER BY requested_at LIMIT ? FOR UPDATE SKIP LOCKED) "
            "RETURNING incident_id, revision, workflow_id, reasons, alert",
            (self.owner, now + self.lease_seconds, now, limit),
        ).fetchall()
        return [RunRequest(r[0], r[1], r[2], tuple(json.loads(r[3])), json.loads(r[4])) for r in rows]

    def renew_lease(self, incident_id: str, revision: int, now: float) -> bool:
        """Postgres: keep this worker's run; False when another worker has taken it over."""
        cursor = self._conn.execute(
            "UPDATE intake_runs SET lease_until = ? WHERE incident_id = ? AND revision = ? AND owner = ?",
            (now + self.lease_seconds, incident_id, revision, self.owner),
        )
        return cursor.rowcount == 1

    def unfinished_runs(self) -> list[RunRequest]:
        """Runs requested but not known to have started: to start (again) after a restart."""
        rows = self._conn.execute(
            "SELECT incident_id, revision, workflow_id, reasons, alert FROM intake_runs WHERE state IN ('pending', 'running') "
            "ORDER BY requested_at"
        ).fetchall()
        return [RunRequest(r[0], r[1], r[2], tuple(json.loads(r[3])), json.loads(r[4])) for r in rows]

    def runs(self, incident_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT revision, workflow_id, reasons, state, requested_at, updated_at, detail FROM intake_runs "
            "WHERE incident_id = ? ORDER BY revision",
            (incident_id,),
        ).fetchall()
        return [
            {
                "revision": r[0],
                "workflow_id": r[1],
                "reasons": json.loads(r[2]),
                "state": r[3],
                "requested_at": r[4],
                "updated_at": r[5],
                "detail": r[6],
            }
            for r in rows
        ]

    def incidents(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query, args = "SELECT summary FROM intake_incidents", tuple[str, ...]()
        if status:
            query, args = query + " WHERE status = ?", (status,)
        rows = self._conn.execute(query + " ORDER BY updated_at DESC LIMIT ?", (*args, limit)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def incident(self, incident_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT summary FROM intake_incidents WHERE id = ?", (incident_id,)).fetchone()
        if row is None:
            return None
        summary: dict[str, Any] = json.loads(row[0])
        summary["runs"] = self.runs(incident_id)
        return summary

    def run_counts(self) -> dict[str, int]:
        return {
            state: count
            for state, count in self._conn.execute("SELECT state, COUNT(*) FROM intake_runs GROUP BY state")
        }
