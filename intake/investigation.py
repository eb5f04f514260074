"""From a correlated incident to the alert the workflow investigates.

The workflow takes one alert; an incident has many. The one chosen is on the service whose
dependencies (within ``max_hops``) cover the most of the incident's services: the investigation
walks down from there, so it reaches the likely causes (a front end's alert when the front end, its
API and the API's database all fire). Ties go to the higher severity, then the earlier alert. The
alert carries the incident's highest severity, a description of the whole group and labels naming
the intake incident, so triage and the timeline see the correlation.
"""

from __future__ import annotations

from typing import Any

from agents.state import Alert
from intake.correlation import Incident, TrackedAlert
from intake.ids import workflow_fingerprint, workflow_incident_id, workflow_started_at
from intake.topology import Topology


def representative(incident: Incident, topology: Topology) -> TrackedAlert:
    """The alert to investigate from (see the module docstring)."""
    services = [s for s in incident.services if not s.startswith("alertname:")] or list(incident.services)
    affected = set(services)

    def coverage(service: str) -> int:
        return len(topology.below(service) & affected)

    best_service = max(services, key=lambda s: (coverage(s), -services.index(s)))
    candidates = [t for t in incident.alerts.values() if t.service == best_service] or list(incident.alerts.values())
    firing = [t for t in candidates if t.status == "firing"] or candidates
    return max(firing, key=lambda t: (t.rank, -t.first_seen))


def describe(incident: Incident, reasons: tuple[str, ...]) -> str:
    services = sorted(incident.services)
    shown = ", ".join(services[:12]) + (f" and {len(services) - 12} more" if len(services) > 12 else "")
    causes = ", ".join(sorted(incident.anchors)) or "unknown"
    return (
        f"Correlated by firstline intake (incident {incident.id}): {len(incident.alerts)} alerts on {len(services)} "
        f"service(s): {shown}. Likely cause(s) by topology: {causes}. "
        f"Investigation {incident.revision}: {'; '.join(reasons) or 'new incident'}."
    )


def workflow_alert(incident: Incident, topology: Topology, revision: int, reasons: tuple[str, ...]) -> Alert:
    """The canonical alert for investigation ``revision`` of ``incident``."""
    chosen = representative(incident, topology).event
    first = incident.first_event
    labels = {
        **chosen.labels,
        "firstline_intake_incident": incident.id,
        "firstline_revision": str(revision),
        "firstline_alert_count": str(len(incident.alerts)),
        "firstline_services": ",".join(sorted(incident.services))[:500],
    }
    description = describe(incident, reasons)
    if chosen.description:
        description = f"{chosen.description}\n\n{description}"
    return chosen.to_alert(
        fingerprint=workflow_fingerprint(first, revision),
        started_at=workflow_started_at(first),
        severity=incident.severity,
        description=description,
        labels=labels,
        status="firing",
        ended_at=None,
    )


def run_request_fields(
    incident: Incident, topology: Topology, revision: int, reasons: tuple[str, ...]
) -> dict[str, Any]:
    """What the incident store records for the run: the workflow id and the alert as JSON."""
    alert = workflow_alert(incident, topology, revision, reasons)
    return {"workflow_id": workflow_incident_id(incident.first_event, revision), "alert": alert.model_dump(mode="json")}
