"""Workflow incident ids for intake incidents.

An intake incident's id is the workflow's id (`agents.ids.incident_id_for`) of its first alert,
so the first investigation of an incident runs under the incident's own id and
``firstline incidents show ID`` finds it. A re-investigation (revision 2, 3...) runs as a new
workflow incident whose alert fingerprint carries the revision (``<key>#r2``); the runner has no
way to re-open a finished workflow thread.
"""

from __future__ import annotations

from datetime import UTC, datetime

from agents.ids import incident_id_for
from agents.state import Alert
from intake.events import AlertEvent


def workflow_fingerprint(first: AlertEvent, revision: int) -> str:
    return first.key if revision <= 1 else f"{first.key}#r{revision}"


def workflow_started_at(first: AlertEvent) -> datetime:
    return first.started_at or datetime.fromtimestamp(first.received_at, UTC)


def workflow_incident_id(first: AlertEvent, revision: int) -> str:
    """The id `Responder.start` gives the workflow alert of ``revision`` for an incident opened by ``first``."""
    probe = Alert(
        fingerprint=workflow_fingerprint(first, revision),
        name=first.name,
        title=first.title,
        service=first.service or "unknown",
        started_at=workflow_started_at(first),
    )
    return incident_id_for(probe)
