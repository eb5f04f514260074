"""Incident ids, shared by the workflow and alert intake.

Kept apart from the runner so intake (which must not load LangGraph) can compute the id the workflow
will give an alert.
"""

from __future__ import annotations

import hashlib

from agents.state import Alert


def incident_id_for(alert: Alert) -> str:
    """Stable id: the same alert (fingerprint and start) always maps to the same incident."""
    digest = hashlib.sha256(f"{alert.fingerprint}|{alert.started_at.isoformat()}".encode()).hexdigest()[:8]
    return f"inc-{alert.started_at:%Y%m%d}-{digest}"
