"""The track record of each action class on each service in each environment, and what it earns.

Read from the incident records (the JSON contract of `IncidentState.record()`, as plain mappings, so
this module stays a leaf): every remediation action counts as a **proposal**; its approval as a human
**approval** (or an ``auto`` run when the policy decided), a **rejection**, or an **edit** (approved
with changed arguments); its outcome as a **verified** success, a **failed** execution, a **failed
verification** (it ran and the signal did not recover) or a **rollback** (undone afterwards: the action
carries ``rolled_back: true`` or the timeline a ``rolled_back`` entry naming it).

The **run** is the verified successes in a row since the last setback (a failure, a failed
verification, a rollback, a rejection or an edit: autonomy runs the proposal as proposed, so only
proposals accepted as they were count). A recommendation for ``auto`` needs a run of at least
``policy.autonomy.min_verified_in_a_row`` spanning at least ``min_days`` days, a reversible,
non-destructive call whose blast radius is within ``max_blast_radius``, and a policy that would
otherwise ask a human (never lifts ``forbid``). A recommendation is only that: a human accepts it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools.earned import EarnedRule
from tools.policy import ApprovalPolicy, may_earn_autonomy
from tools.values import SafetyMetadata
from tools.values import parse_moment as _moment

Outcome = Literal["verified", "failed", "failed_verification", "rolled_back", "rejected", "pending"]
Standing = Literal["recommended", "auto", "not_yet", "ineligible", "demoted"]
POLICY_ACTORS = ("policy:",)
SETBACKS: frozenset[str] = frozenset({"failed", "failed_verification", "rolled_back"})
_FINAL = frozenset({"mitigated", "resolved", "escalated"})


class ActionEvent(BaseModel):
    """One remediation action of one incident, as the track record sees it."""

    incident_id: str
    action_id: str
    tool: str
    at: datetime
    approved_by: str | None = None
    decided_at: datetime | None = None
    auto: bool = Field(default=False, description="Ran on a policy decision, no human asked.")
    edited: bool = False
    outcome: Outcome


class TrackRecord(BaseModel):
    """The counts, the current run and the standing of one action class x service x environment."""

    action_class: str
    service: str
    environment: str
    proposals: int = 0
    approvals: int = 0
    auto_runs: int = 0
    rejections: int = 0
    edits: int = 0
    verified: int = 0
    failed: int = 0
    failed_verifications: int = 0
    rollbacks: int = 0
    run: int = Field(default=0, description="Verified successes in a row since the last setback.")
    run_days: float = 0.0
    run_incidents: list[str] = Field(default_factory=list)
    last_setback: str | None = Field(default=None, description="'<outcome> in <incident>' of the latest setback.")
    standing: Standing = "not_yet"
    reason: str = ""
    rule: EarnedRule | None = None
    events: list[ActionEvent] = Field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.action_class, self.service, self.environment)


def _rolled_back(record: Mapping[str, Any], action: Mapping[str, Any]) -> bool:
    if action.get("rolled_back") is True:
        return True
    action_id = str(action.get("id", ""))
    return any(
        isinstance(entry, Mapping) and entry.get("kind") == "rolled_back" and action_id in str(entry.get("text", ""))
        for entry in record.get("timeline") or []
    )


def action_events(record: Mapping[str, Any]) -> list[ActionEvent]:
    """The remediation actions of one incident record, each with its approval and outcome."""
    alert = record.get("alert") or {}
    started = _moment(alert.get("started_at")) if isinstance(alert, Mapping) else None
    timeline = [e for e in record.get("timeline") or [] if isinstance(e, Mapping)]
    if started is None and timeline:
        started = _moment(timeline[0].get("at"))
    if started is None:
        return []
    not_recovered = any(e.get("kind") == "not_recovered" for e in timeline)
    final = record.get("status") in _FINAL
    events = []
    for action in record.get("actions") or []:
        if not isinstance(action, Mapping) or action.get("kind", "remediation") != "remediation":
            continue
        approval = action.get("approval") if isinstance(action.get("approval"), Mapping) else None
        status = action.get("status")
        outcome: Outcome
        if _rolled_back(record, action):
            outcome = "rolled_back"
        elif status == "verified":
            outcome = "verified"
        elif status == "failed":
            outcome = "failed"
        elif status == "rejected" or (approval is not None and approval.get("decision") == "rejected"):
            outcome = "rejected"
        elif status == "executed" and (final or not_recovered):
            outcome = "failed_verification"
        else:
            outcome = "pending"
        by = str(approval.get("by")) if approval and approval.get("by") else None
        events.append(
            ActionEvent(
                incident_id=str(record.get("id")),
                action_id=str(action.get("id")),
                tool=str(action.get("tool")),
                at=started,
                approved_by=by if approval and approval.get("decision") == "approved" else None,
                decided_at=_moment(approval.get("at")) if approval else None,
                auto=bool(by and by.startswith(POLICY_ACTORS)) or action.get("requires_approval") is False,
                edited=bool(approval and approval.get("edited_from")),
                outcome=outcome,
            )
        )
    return events


def track_records(
    records: Iterable[Mapping[str, Any]],
    *,
    safety_of: Callable[[str], SafetyMetadata | None],
    policy: ApprovalPolicy,
) -> list[TrackRecord]:
    """The track record per action class x service x environment, oldest incident first within each.

    ``safety_of`` maps a tool id to its safety metadata (None: a tool no longer registered; its actions
    are left out, since their class is unknown). The environment is the policy's.
    """
    env = policy.settings.environment
    grouped: dict[tuple[str, str, str], TrackRecord] = {}
    safeties: dict[tuple[str, str, str], SafetyMetadata] = {}
    for record in records:
        service = str(record.get("service") or (record.get("alert") or {}).get("service") or "")
        if not service:
            continue
        for event in action_events(record):
            safety = safety_of(event.tool)
            if safety is None or not safety.mutating:
                continue
            key = (safety.action_class, service, env)
            track = grouped.setdefault(key, TrackRecord(action_class=key[0], service=service, environment=env))
            safeties.setdefault(key, safety)
            track.events.append(event)
    for key, track in grouped.items():
        _tally(track)
        _stand(track, safeties[key], policy)
    return sorted(grouped.values(), key=lambda t: t.key)


def _tally(track: TrackRecord) -> None:
    track.events.sort(key=lambda e: (e.at, e.incident_id, e.action_id))
    run: list[ActionEvent] = []
    for event in track.events:
        track.proposals += 1
        if event.outcome == "rejected":
            track.rejections += 1
        elif event.auto:
            track.auto_runs += 1
        elif event.approved_by:
            track.approvals += 1
        track.edits += int(event.edited)
        if event.outcome == "verified":
            track.verified += 1
        track.failed += int(event.outcome == "failed")
        track.failed_verifications += int(event.outcome == "failed_verification")
        track.rollbacks += int(event.outcome == "rolled_back")
        if event.outcome in SETBACKS or event.outcome == "rejected" or event.edited:
            what = "edited" if event.edited and event.outcome not in SETBACKS else event.outcome
            track.last_setback = f"{what.replace('_', ' ')} in {event.incident_id}"
            run = []
        elif event.outcome == "verified":
            run.append(event)
    track.run = len(run)
    track.run_incidents = [e.incident_id for e in run]
    track.run_days = round((run[-1].at - run[0].at).total_seconds() / 86400, 1) if run else 0.0


def _stand(track: TrackRecord, safety: SafetyMetadata, policy: ApprovalPolicy) -> None:
    thresholds = policy.settings.autonomy
    demoted = [
        r for r in policy.earned if not r.active and r.matches(track.action_class, track.service, track.environment)
    ]
    track.rule = policy.earned_rule(track.action_class, track.service, track.environment)
    if track.rule is not None:
        track.standing, track.reason = (
            "auto",
            (f"promoted by {track.rule.promoted_by} on {track.rule.promoted_at:%Y-%m-%d}"),
        )
        return
    allowed, why = may_earn_autonomy(safety, thresholds.max_blast_radius)
    configured = policy.decide(safety, environment=track.environment, service="")
    if not allowed:
        track.standing, track.reason = "ineligible", why
    elif configured.tier != "approve":
        track.standing, track.reason = "ineligible", f"the policy says {configured.tier} ({configured.reason})"
    elif track.run < thresholds.min_verified_in_a_row:
        track.standing = "demoted" if demoted and track.run == 0 else "not_yet"
        track.reason = f"{track.run} of {thresholds.min_verified_in_a_row} verified successes in a row" + (
            f" (last setback: {track.last_setback})" if track.last_setback else ""
        )
        if demoted and track.run == 0:
            track.rule = demoted[-1]
            track.reason = f"demoted {demoted[-1].demoted_at:%Y-%m-%d}: {demoted[-1].demoted_reason}; " + track.reason
    elif track.run_days < thresholds.min_days:
        track.standing = "not_yet"
        track.reason = f"the run spans {track.run_days} of {thresholds.min_days:g} days"
    else:
        track.standing = "recommended"
        track.reason = (
            f"{track.run} verified successes in a row over {track.run_days} days, no setback since; reversible, "
            f"blast radius {safety.blast_radius}"
        )


def setbacks_since_promotion(track: TrackRecord) -> list[ActionEvent]:
    """Failures and rollbacks of this class on this service after its active rule was accepted."""
    rule = track.rule
    if rule is None or not rule.active:
        return []
    return [e for e in track.events if e.outcome in SETBACKS and (e.decided_at or e.at) >= rule.promoted_at]
