"""Incident records as past incidents: what happened, what fixed it, who approved it, how long it took.

The incident record is the JSON contract the agents produce (``IncidentState.record()``, see the
README's "The incident record"). This module reads it as a plain mapping, so the knowledge package
stays a leaf that never imports the agents, and turns it into a :class:`PastIncident`: the facts
memory needs (root cause, category, the fixing action and its approver, time to mitigate, links,
follow-ups) and a markdown rendering that is chunked and stored like any postmortem::

    incident = past_incident_from_record(json.loads(path.read_text()))
    incident.time_to_mitigate_minutes     # 5.2
    incident.fix.approved_by              # 'alice'
    render_markdown(incident)             # '# Incident inc-...: checkout 5xx ratio above 5%\\n...'

A record may carry ``follow_ups`` (not produced by the agents; added by whoever owns the
post-incident review): a list of ``{"title", "status": "open"|"done", "owner", "link"}`` or of
plain strings (open). Markdown postmortems declare the same list in their front matter.

What counts as the mitigation time: the verification time when verification succeeded; otherwise,
for a mitigated or resolved incident, the time the fixing action was executed (from the timeline);
otherwise there is none. Time to mitigate is measured from the alert's ``started_at``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from knowledge.store import MetadataValue

FollowUpStatus = Literal["open", "done"]
RESOLVED_STATUSES = frozenset({"mitigated", "resolved"})
# Statuses people write for a finished follow-up; everything else is taken as open.
_DONE_WORDS = frozenset({"done", "closed", "complete", "completed", "resolved", "fixed", "wontfix", "won't fix"})
_MAX_EVIDENCE_LINES = 8
_MAX_METADATA_TEXT = 1000


class IncidentRecordError(ValueError):
    """A mapping is not a usable incident record; the message names the missing or malformed field."""


class FollowUp(BaseModel):
    """An action item from the post-incident review."""

    title: str
    status: FollowUpStatus = "open"
    owner: str | None = None
    link: str | None = None

    @field_validator("status", mode="before")
    @classmethod
    def _normalise_status(cls, value: Any) -> Any:
        if value is None:
            return "open"
        if isinstance(value, bool):
            return "done" if value else "open"
        return "done" if str(value).strip().lower() in _DONE_WORDS else "open"

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class FixAction(BaseModel):
    """The remediation that mitigated the incident, and the human (or policy) that approved it."""

    action_id: str
    title: str
    tool: str = ""
    status: str = ""
    approved_by: str | None = None
    approved_at: datetime | None = None
    approval_comment: str = ""


class PastIncident(BaseModel):
    """What memory keeps of one incident; built by :func:`past_incident_from_record`."""

    incident_id: str
    service: str
    title: str
    alert_name: str | None = None
    severity: str | None = None
    status: str
    resolved: bool = Field(description="True when the incident ended mitigated or resolved.")
    started_at: datetime
    mitigated_at: datetime | None = None
    time_to_mitigate_minutes: float | None = None
    summary: str = ""
    root_cause: str | None = None
    category: str | None = None
    entity: str | None = None
    confidence: float | None = None
    inconclusive: bool = False
    fix: FixAction | None = None
    rejected_actions: list[str] = Field(default_factory=list, description="Remediations a human rejected.")
    failed_actions: list[str] = Field(default_factory=list, description="Remediations that ran and did not help.")
    ruled_out: list[str] = Field(default_factory=list, description="'what: why' of each rejected hypothesis.")
    evidence: list[str] = Field(default_factory=list, description="'[source] observation' lines, strongest first.")
    verification: str | None = None
    follow_ups: list[FollowUp] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    review: str = Field(default="", description="The post-incident review draft (Markdown), when one was written.")

    @property
    def doc_id(self) -> str:
        return incident_doc_id(self.incident_id)

    @property
    def open_follow_ups(self) -> list[FollowUp]:
        return [f for f in self.follow_ups if f.is_open]


def incident_doc_id(incident_id: str) -> str:
    """The knowledge document id of an incident: ``incidents/<incident id>``."""
    return f"incidents/{incident_id}"


def is_incident_record(value: Any) -> bool:
    """True when ``value`` looks like an incident record (an id, a status and an alert or timeline)."""
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("id"), str)
        and isinstance(value.get("status"), str)
        and (isinstance(value.get("alert"), Mapping) or isinstance(value.get("timeline"), list))
    )


def parse_follow_ups(value: Any, *, origin: str = "follow_ups") -> list[FollowUp]:
    """Follow-ups from a list of mappings or strings; raises :class:`IncidentRecordError` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise IncidentRecordError(f"{origin} must be a list of follow-ups, got {type(value).__name__}")
    follow_ups: list[FollowUp] = []
    for index, item in enumerate(value):
        try:
            if isinstance(item, str):
                follow_ups.append(FollowUp(title=item))
            elif isinstance(item, Mapping):
                follow_ups.append(FollowUp.model_validate(dict(item)))
            else:
                raise IncidentRecordError(
                    f"{origin}[{index}] must be a string or a mapping with a title, got {type(item).__name__}"
                )
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise IncidentRecordError(f"{origin}[{index}]: {problems}") from exc
    return follow_ups


def past_incident_from_record(
    record: Mapping[str, Any], *, follow_ups: Sequence[FollowUp | Mapping[str, Any] | str] | None = None
) -> PastIncident:
    """Read an incident record (a plain mapping) into a :class:`PastIncident`.

    ``follow_ups`` replaces the record's own ``follow_ups`` when given. Raises
    :class:`IncidentRecordError` naming the field when the record lacks its id, status, service or
    start time, or when a field has the wrong type.
    """
    if not isinstance(record, Mapping):
        raise IncidentRecordError(f"an incident record must be a JSON object, got {type(record).__name__}")
    incident_id = _required_text(record, "id")
    status = _required_text(record, "status")
    alert = _mapping(record, "alert")
    service = _text(record.get("service")) or _text(alert.get("service"))
    if not service:
        raise IncidentRecordError(f"incident record {incident_id}: 'service' (or 'alert.service') is missing")
    timeline = _list(record, "timeline")
    started_at = _moment(alert.get("started_at"), f"incident record {incident_id}: alert.started_at")
    if started_at is None:
        first = next((entry for entry in timeline if isinstance(entry, Mapping) and entry.get("at")), None)
        started_at = _moment(first.get("at") if first else None, f"incident record {incident_id}: timeline[0].at")
    if started_at is None:
        raise IncidentRecordError(
            f"incident record {incident_id}: no start time ('alert.started_at' or a timeline entry's 'at')"
        )

    diagnosis = _mapping(record, "diagnosis")
    actions = [a for a in _list(record, "actions") if isinstance(a, Mapping)]
    remediations = [a for a in actions if a.get("kind", "remediation") == "remediation"]
    verification = _mapping(record, "verification")
    resolved = status in RESOLVED_STATUSES
    fix = _fixing_action(remediations, verification_ok=bool(verification.get("ok")), resolved=resolved)
    mitigated_at = _mitigated_at(record, verification, fix, timeline, resolved)
    ttm = None
    if mitigated_at is not None and mitigated_at >= started_at:
        ttm = round((mitigated_at - started_at).total_seconds() / 60.0, 1)

    if follow_ups is None:
        parsed_follow_ups = parse_follow_ups(
            record.get("follow_ups"), origin=f"incident record {incident_id}: follow_ups"
        )
    else:
        parsed_follow_ups = [
            f if isinstance(f, FollowUp) else parse_follow_ups([f], origin="follow_ups")[0] for f in follow_ups
        ]

    evidence = [
        f"[{_text(e.get('source'))}] {_text(e.get('observation'))}"
        for e in _list(diagnosis, "evidence")
        if isinstance(e, Mapping) and _text(e.get("observation"))
    ][:_MAX_EVIDENCE_LINES]
    ruled_out = [
        f"{_text(r.get('what'))}: {_text(r.get('why'))}"
        for r in _list(diagnosis, "ruled_out")
        if isinstance(r, Mapping)
    ]
    links = _links(record, alert, diagnosis)
    confidence = diagnosis.get("confidence")
    return PastIncident(
        incident_id=incident_id,
        service=service,
        title=_text(alert.get("title")) or _text(record.get("summary"))[:120] or incident_id,
        alert_name=_text(alert.get("name")) or None,
        severity=_text(record.get("severity")) or None,
        status=status,
        resolved=resolved,
        started_at=started_at,
        mitigated_at=mitigated_at,
        time_to_mitigate_minutes=ttm,
        summary=_text(record.get("summary")),
        root_cause=_text(diagnosis.get("root_cause")) or None,
        category=_text(diagnosis.get("category")) or None,
        entity=_text(diagnosis.get("entity")) or None,
        confidence=float(confidence)
        if isinstance(confidence, int | float) and not isinstance(confidence, bool)
        else None,
        inconclusive=bool(diagnosis.get("inconclusive", False)),
        fix=fix,
        rejected_actions=[_text(a.get("title")) for a in remediations if a.get("status") == "rejected"],
        failed_actions=[_text(a.get("title")) for a in remediations if a.get("status") == "failed"],
        ruled_out=ruled_out,
        evidence=evidence,
        verification=_text(verification.get("detail")) or None,
        follow_ups=parsed_follow_ups,
        links=links,
        review=_text(record.get("review")),
    )


def render_markdown(incident: PastIncident) -> str:
    """The incident as a markdown postmortem, one heading per topic so each becomes its own chunk."""
    lines = [f"# Incident {incident.incident_id}: {incident.title}", ""]
    facts = [f"**Service:** {incident.service}."]
    if incident.severity:
        facts.append(f"**Severity:** {incident.severity}.")
    facts.append(f"**Status:** {incident.status}.")
    facts.append(f"**Started:** {incident.started_at.isoformat()}.")
    if incident.alert_name:
        facts.append(f"**Alert:** {incident.alert_name}.")
    if incident.time_to_mitigate_minutes is not None:
        facts.append(f"**Time to mitigate:** {incident.time_to_mitigate_minutes:g} minutes.")
    lines += [" ".join(facts), ""]
    if incident.summary:
        lines += ["## Summary", "", incident.summary, ""]
    lines += ["## Root cause", ""]
    if incident.root_cause:
        detail = [
            f"category {incident.category}" if incident.category else "",
            f"entity {incident.entity}" if incident.entity else "",
        ]
        if incident.confidence is not None:
            detail.append(f"confidence {incident.confidence:.0%}")
        described = ", ".join(d for d in detail if d)
        lines.append(incident.root_cause + (f" ({described})" if described else ""))
        if incident.inconclusive:
            lines.append("")
            lines.append("The diagnosis was inconclusive: this was the best lead, not a confirmed cause.")
    else:
        lines.append("No root cause was recorded.")
    lines.append("")
    lines += ["## Fix", ""]
    if incident.fix is not None:
        fix = incident.fix
        approval = f", approved by {fix.approved_by}" if fix.approved_by else ""
        when = f" at {fix.approved_at.isoformat()}" if fix.approved_by and fix.approved_at else ""
        lines.append(f"{fix.title} (`{fix.tool}`, {fix.status}{approval}{when}).")
    else:
        lines.append("No remediation action fixed this incident.")
    if incident.verification:
        lines += ["", f"Verification: {incident.verification}"]
    for title in incident.rejected_actions:
        lines += ["", f"Rejected by a human: {title}."]
    for title in incident.failed_actions:
        lines += ["", f"Ran and did not help: {title}."]
    lines.append("")
    if incident.evidence:
        lines += ["## Evidence", "", *[f"- {e}" for e in incident.evidence], ""]
    if incident.ruled_out:
        lines += ["## Ruled out", "", *[f"- {r}" for r in incident.ruled_out], ""]
    if incident.follow_ups:
        lines += ["## Follow-ups", ""]
        for item in incident.follow_ups:
            extra = ", ".join(x for x in (item.owner, item.link) if x)
            lines.append(f"- [{item.status}] {item.title}" + (f" ({extra})" if extra else ""))
        lines.append("")
    if incident.links:
        lines += ["## Links", "", *[f"- {link}" for link in incident.links], ""]
    if incident.review:
        # The review's own headings go one level down, under this one: each section stays its own chunk.
        lines += ["## Post-incident review draft", ""]
        lines += [f"#{line}" if line.startswith("#") else line for line in incident.review.splitlines()]
        lines.append("")
    return "\n".join(lines)


def incident_metadata(incident: PastIncident) -> dict[str, MetadataValue]:
    """Flat metadata for the store (Chroma keeps scalars only); the ingester adds source fields."""
    metadata: dict[str, MetadataValue] = {
        "doc_id": incident.doc_id,
        "title": f"Incident {incident.incident_id}: {incident.title}",
        "kind": "postmortem",
        "service": incident.service,
        "date": incident.started_at.isoformat(),
        "date_ts": int(incident.started_at.timestamp()),
        "origin": "incident_record",
        "incident_id": incident.incident_id,
        "status": incident.status,
        "resolved": incident.resolved,
        "follow_ups_open": len(incident.open_follow_ups),
        "follow_ups_total": len(incident.follow_ups),
        # The whole summary, so recall can return typed details without parsing the text back.
        "incident_json": incident.model_dump_json(exclude={"evidence", "summary"}),
    }
    optional: dict[str, MetadataValue | None] = {
        "severity": incident.severity,
        "alert_name": incident.alert_name,
        "category": incident.category,
        "entity": incident.entity,
        "root_cause": incident.root_cause[:_MAX_METADATA_TEXT] if incident.root_cause else None,
        "fix": incident.fix.title if incident.fix else None,
        "fix_tool": incident.fix.tool if incident.fix else None,
        "approved_by": incident.fix.approved_by if incident.fix else None,
        "time_to_mitigate_minutes": incident.time_to_mitigate_minutes,
        "mitigated_at": incident.mitigated_at.isoformat() if incident.mitigated_at else None,
    }
    metadata.update({k: v for k, v in optional.items() if v is not None})
    tags = [t for t in (incident.category, incident.alert_name, incident.severity) if t]
    if tags:
        metadata["tags"] = ",".join(tags)
    return metadata


def past_incident_from_metadata(metadata: Mapping[str, MetadataValue]) -> PastIncident | None:
    """The :class:`PastIncident` stored with a remembered incident's chunks, or None for other docs."""
    raw = metadata.get("incident_json")
    if not isinstance(raw, str):
        return None
    try:
        return PastIncident.model_validate(json.loads(raw))
    except (ValueError, ValidationError):
        return None


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ("" if value is None else str(value))


def _required_text(record: Mapping[str, Any], key: str) -> str:
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        where = f"incident record {record.get('id')}" if isinstance(record.get("id"), str) else "incident record"
        raise IncidentRecordError(f"{where}: '{key}' is missing or not a string")
    return value.strip()


def _mapping(record: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = record.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise IncidentRecordError(
            f"incident record {record.get('id')}: '{key}' must be an object, got {type(value).__name__}"
        )
    return value


def _list(record: Mapping[str, Any], key: str) -> list[Any]:
    value = record.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise IncidentRecordError(
            f"incident record {record.get('id')}: '{key}' must be a list, got {type(value).__name__}"
        )
    return value


def _moment(value: Any, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise IncidentRecordError(f"{field}: {value!r} is not an ISO 8601 time") from exc
    else:
        raise IncidentRecordError(f"{field}: expected an ISO 8601 time, got {type(value).__name__}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fixing_action(remediations: list[Mapping[str, Any]], *, verification_ok: bool, resolved: bool) -> FixAction | None:
    """The verified remediation; else the last executed one when the incident ended well."""
    chosen = next((a for a in reversed(remediations) if a.get("status") == "verified"), None)
    if chosen is None and (verification_ok or resolved):
        chosen = next((a for a in reversed(remediations) if a.get("status") == "executed"), None)
    if chosen is None:
        return None
    raw_approval = chosen.get("approval")
    approval: Mapping[str, Any] = raw_approval if isinstance(raw_approval, Mapping) else {}
    approved = approval.get("decision") == "approved"
    return FixAction(
        action_id=_text(chosen.get("id")),
        title=_text(chosen.get("title")) or _text(chosen.get("tool")),
        tool=_text(chosen.get("tool")),
        status=_text(chosen.get("status")),
        approved_by=(_text(approval.get("by")) or None) if approved else None,
        approved_at=_moment(approval.get("at"), "actions[].approval.at") if approved else None,
        approval_comment=_text(approval.get("comment")) if approved else "",
    )


def _mitigated_at(
    record: Mapping[str, Any],
    verification: Mapping[str, Any],
    fix: FixAction | None,
    timeline: list[Any],
    resolved: bool,
) -> datetime | None:
    if verification.get("ok"):
        verified = _moment(verification.get("at"), f"incident record {record.get('id')}: verification.at")
        if verified is not None:
            return verified
    if not resolved:
        return None
    executed = [
        _moment(entry.get("at"), f"incident record {record.get('id')}: timeline[].at")
        for entry in timeline
        if isinstance(entry, Mapping)
        and entry.get("actor") == "execution"
        and entry.get("kind") == "executed"
        and (fix is None or fix.title in _text(entry.get("text")))
    ]
    moments = [m for m in executed if m is not None]
    return moments[-1] if moments else None


def _links(record: Mapping[str, Any], alert: Mapping[str, Any], diagnosis: Mapping[str, Any]) -> list[str]:
    links: list[str] = []
    for value in (record.get("links") or []) if isinstance(record.get("links"), list) else []:
        links.append(_text(value))
    refs = record.get("external_refs")
    if isinstance(refs, Mapping):
        links.extend(_text(v) for k, v in refs.items() if str(k).endswith("link") and _text(v))
    links.extend(_text(v) for v in (alert.get("links") or []) if isinstance(alert.get("links"), list))
    # Knowledge the investigation cited (runbooks, earlier postmortems) is a link worth keeping.
    for item in _list(diagnosis, "evidence"):
        if isinstance(item, Mapping) and _text(item.get("source")).startswith("knowledge:"):
            links.append(_text(item.get("source")))
    seen: set[str] = set()
    unique = []
    for link in links:
        if link and link not in seen:
            seen.add(link)
            unique.append(link)
    return unique
