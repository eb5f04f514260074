"""The incident store: what correlation decided, durably, and which workflow runs it asked for.

``intake_incidents`` keeps the latest summary of every correlated incident (for ``GET
/v1/incidents`` and across restarts). ``intake_runs`` has one row per investigation (incident,
revision): the workflow alert that was (or is to be) started, its state (``pending`` → ``running``
→ ``started`` or ``failed``) and what came of it. Rows are written in the same transaction that
marks the inbox items processed, so after a crash a requested investigation is neither lost nor
started twice (``Responder.start`` is idempotent per workflow id as well).
"""

from __future__ import annotations

import json
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
    def __init__(self, conn: SqlConnection) -> None:
        self._conn = conn

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
