"""The correlation engine: alert events in, incidents and decisions out. Pure, in memory, fast.

The same engine runs in ``firstline serve``, ``intake replay`` and ``intake bench``. Time is event
time (each event's ``received_at``), never the wall clock, so a replay decides exactly what the
live server decided. Per event, in order:

1. **dedup**: an alert is known by its dedup key. A repeat changes nothing but its last-seen time
   (and the incident's severity, if it went up). A resolve for an unknown alert is ignored with a reason.
2. **flap**: ``flap.threshold`` state changes within ``flap.window_minutes`` make an alert flapping;
   while it flaps its resolves are held (the incident stays open), and it is released once it has
   been quiet for the window. A re-fire soon after its incident resolved reopens that incident.
3. **suppression**: a new alert matching a rule or an active maintenance window is suppressed with
   the rule's name as the reason (re-checked on later deliveries, so a window that ends lets it in).
4. **grouping**: a new alert joins an open incident of the same environment when
   - it is on a service that had a firing delivery in the incident within ``grouping.window_minutes``,
     or shares the value of a ``same_labels`` label with an incident active within that window; or
   - its service is within ``max_hops`` of one of the incident's *anchors* in the catalog's
     dependency graph (a caller or a dependency), and the latest new alert on an anchor is at most
     ``topology_window_minutes`` old (symptoms joining do not extend it). Anchors are the incident's bottom-most services, those none
     of whose dependencies are in the incident: the likely causes. Relating to every absorbed
     service instead would snowball (a front end pulls in all its APIs, each API its database,
     each database its workers...) until one incident holds the estate; and cascades spread in
     minutes, so a wider window would glue unrelated problems of a busy estate together.
   An alert on a dependency of the anchors of incidents opened within that window reveals their
   common cause and merges them into the oldest (a database alert joins its callers' incidents); an alert on a caller of
   several incidents' anchors is a symptom and joins only one (the most severe, then most recent). Alerts without a
   service relate by alert name.

An incident resolves when all its alerts have resolved (or it went ``stale_after_minutes`` without
any delivery). It is investigated ``investigation_delay_seconds`` after it opens, and re-investigated
only on a material change (a service it was not investigated for, or a higher severity), never per
repeated alert. Decisions (opened, investigate, resolved, reopened, merged) accumulate in
`CorrelationEngine.decisions` for the caller to drain.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, NamedTuple

from intake.events import RANK_SEVERITY, SEVERITY_RANK, AlertEvent
from intake.ids import workflow_incident_id
from intake.settings import IntakeSettings
from intake.suppression import Suppressor
from intake.topology import Topology

IncidentStatus = Literal["open", "resolved", "merged"]
DecisionKind = Literal["opened", "investigate", "resolved", "reopened", "merged"]
OutcomeKind = Literal["new", "repeat", "resolve", "refire", "reopen", "ack", "suppressed", "ignored"]
IncidentIdFn = Callable[[AlertEvent], str]
HOUSEKEEPING_SECONDS = 15.0
ORPHAN_RESOLVE = "resolved without a known firing alert"
ORPHAN_ACK = "state-less event (acknowledge, note, insufficient data) for an alert that is not open"


def group_service(event: AlertEvent) -> str:
    """The service an alert counts for; alerts naming none group by their alert name."""
    return event.service or f"alertname:{event.name}"


@dataclass(slots=True, eq=False)
class TrackedAlert:
    """One alert (one dedup key) as the engine knows it."""

    key: str
    status: str
    event: AlertEvent
    service: str
    rank: int
    first_seen: float
    last_seen: float
    incident: Incident | None = field(default=None, repr=False)
    suppressed_by: str | None = None
    transitions: list[float] = field(default_factory=list)
    flapping: bool = False
    held: bool = False
    deliveries: int = 1


@dataclass(slots=True, eq=False)
class Incident:
    """A group of alerts believed to share one cause."""

    id: str
    environment: str
    opened_at: float
    last_activity: float
    first_event: AlertEvent = field(repr=False)
    alerts: dict[str, TrackedAlert] = field(default_factory=dict, repr=False)
    services: dict[str, float] = field(default_factory=dict)  # service -> its latest firing delivery
    active: int = 0
    max_rank: int = 0
    status: IncidentStatus = "open"
    closed_at: float | None = None
    resolution: str = ""
    merged_into: Incident | None = field(default=None, repr=False)
    revision: int = 0
    investigated_services: frozenset[str] = frozenset()
    investigated_rank: int = 0
    pending_reasons: list[str] = field(default_factory=list)
    pending_due: float | None = None
    truncated: int = 0
    deliveries: int = 0
    reopened: int = 0
    label_values: set[tuple[str, str]] = field(default_factory=set)
    anchors: set[str] = field(default_factory=set)

    def root(self) -> Incident:
        incident = self
        while incident.merged_into is not None:
            incident = incident.merged_into
        return incident

    @property
    def severity(self) -> str:
        return RANK_SEVERITY.get(self.max_rank, "warning")

    def summary(self) -> dict[str, object]:
        """A JSON-ready view for the API and the incident store."""

        def iso(moment: float | None) -> str | None:
            return None if moment is None else datetime.fromtimestamp(moment, UTC).isoformat()

        return {
            "id": self.id,
            "status": self.status,
            "environment": self.environment,
            "severity": self.severity,
            "services": sorted(self.services),
            "likely_causes": sorted(self.anchors),
            "alerts": len(self.alerts),
            "firing": self.active,
            "deliveries": self.deliveries,
            "title": self.first_event.title,
            "opened_at": iso(self.opened_at),
            "last_alert_at": iso(self.last_activity),
            "closed_at": iso(self.closed_at),
            "resolution": self.resolution,
            "revision": self.revision,
            "merged_into": self.merged_into.root().id if self.merged_into else None,
            "truncated_alerts": self.truncated,
            "reopened": self.reopened,
        }


@dataclass(slots=True)
class Decision:
    """Something the incident store records, and (for ``investigate``) the workflow acts on."""

    kind: DecisionKind
    incident: Incident
    at: float
    revision: int = 0
    reasons: tuple[str, ...] = ()
    into: Incident | None = None


class Outcome(NamedTuple):
    """What happened to one event: the incident it is attached to, or why it is not."""

    incident: Incident | None
    reason: str | None
    kind: OutcomeKind


@dataclass
class EngineStats:
    alerts_in: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)
    incidents_opened: int = 0
    merges: int = 0
    reopened: int = 0
    investigations: int = 0
    resolved: int = 0
    resolved_before_investigation: int = 0
    flapping_alerts: int = 0
    truncated_alerts: int = 0

    @property
    def incidents(self) -> int:
        """Incidents that exist as such: opened minus those merged into another."""
        return self.incidents_opened - self.merges


class CorrelationEngine:
    """Dedup → flap → suppression → grouping, with material-change decisions. Single-threaded."""

    def __init__(
        self,
        settings: IntakeSettings,
        topology: Topology | None = None,
        *,
        incident_id: IncidentIdFn | None = None,
    ) -> None:
        self.settings = settings
        self.topology = topology or Topology.empty()
        self.suppressor = Suppressor(settings.suppress, settings.maintenance)
        self._incident_id = incident_id or (lambda event: workflow_incident_id(event, 1))
        self.window = settings.grouping.window_minutes * 60
        self.topology_window = settings.grouping.topology_window_minutes * 60
        self.flap_window = settings.flap.window_minutes * 60
        self.flap_threshold = settings.flap.threshold
        self.delay = settings.grouping.investigation_delay_seconds
        self.stale_after = settings.stale_after_minutes * 60
        self.retention = settings.retention_hours * 3600
        self.same_labels = tuple(settings.grouping.same_labels)
        self.alerts: dict[str, TrackedAlert] = {}
        self.incidents: dict[str, Incident] = {}
        self.open: dict[str, Incident] = {}
        self.decisions: list[Decision] = []
        self.stats = EngineStats()
        self.now = 0.0
        self._by_service: dict[tuple[str, str], list[Incident]] = {}
        self._by_label: dict[tuple[str, str, str], list[Incident]] = {}
        self._by_anchor: dict[tuple[str, str], list[Incident]] = {}
        self._pending: list[tuple[float, int, Incident]] = []
        self._sequence = 0
        self._flapping: dict[str, TrackedAlert] = {}
        self._suppressed: dict[str, TrackedAlert] = {}
        self._closed: deque[tuple[float, Incident]] = deque()  # (closed at, incident), oldest first
        self._next_housekeeping = 0.0

    # -- the entry points ----------------------------------------------------------------------

    def process(self, event: AlertEvent) -> Outcome:
        """Take one event (in ``received_at`` order; a late one counts as now) and say what became of it."""
        now = event.received_at
        if now < self.now:
            now = self.now
        else:
            self.now = now
        if now >= self._next_housekeeping:
            self._housekeep(now)
        if self._pending and self._pending[0][0] <= now:
            self._emit_due(now)
        self.stats.alerts_in += 1
        outcome = self._route(event, now)
        self.stats.outcomes[outcome.kind] += 1
        if outcome.incident is not None:
            outcome.incident.deliveries += 1
        if self._pending and self._pending[0][0] <= now:
            self._emit_due(now)
        return outcome

    def advance(self, now: float) -> None:
        """Let time pass without events (the server's timer): due investigations, flap release, staleness."""
        if now > self.now:
            self.now = now
        self._housekeep(self.now)
        self._emit_due(self.now)

    def flush(self) -> None:
        """Emit every pending investigation now (end of a replay)."""
        while self._pending:
            due, _, incident = heapq.heappop(self._pending)
            if incident.pending_due == due and incident.status == "open":
                self._investigate(incident, max(due, self.now))

    def drain(self) -> list[Decision]:
        decisions, self.decisions = self.decisions, []
        return decisions

    def note_truncated(self, outcomes: list[Outcome], count: int) -> None:
        """The sender dropped ``count`` alerts of this delivery (``max_alerts``); charge it to their incident."""
        self.stats.truncated_alerts += count
        for outcome in outcomes:
            if outcome.incident is not None:
                outcome.incident.root().truncated += count
                return

    # -- routing ---------------------------------------------------------------------------------

    def _route(self, event: AlertEvent, now: float) -> Outcome:
        tracked = self.alerts.get(event.key)
        status = event.status
        if status == "ack":
            return self._ack(tracked, now)
        if tracked is None:
            if status == "resolved":
                self.stats.ignored[ORPHAN_RESOLVE] += 1
                return Outcome(None, ORPHAN_RESOLVE, "ignored")
            return self._admit(event, now, None)
        tracked.deliveries += 1
        tracked.last_seen = now
        if tracked.suppressed_by is not None:
            return self._suppressed_again(tracked, event, now)
        incident = tracked.incident
        assert incident is not None  # an alert that is not suppressed always belongs to an incident
        incident = incident.root()
        if status == tracked.status:
            if status == "firing":
                return self._repeat(tracked, incident, event, now)
            return Outcome(incident, None, "repeat")
        self._record_transition(tracked, now)
        if status == "resolved":
            tracked.status = "resolved"
            if tracked.flapping:
                tracked.held = True
            else:
                self._deactivate(incident, now)
            return Outcome(incident, None, "resolve")
        return self._refire(tracked, incident, event, now)

    def _ack(self, tracked: TrackedAlert | None, now: float) -> Outcome:
        if tracked is not None:
            if tracked.suppressed_by is not None:
                self.stats.suppressed[tracked.suppressed_by] += 1
                return Outcome(None, tracked.suppressed_by, "suppressed")
            incident = tracked.incident.root() if tracked.incident else None
            if incident is not None and incident.status == "open":
                tracked.last_seen = now
                return Outcome(incident, None, "ack")
        self.stats.ignored[ORPHAN_ACK] += 1
        return Outcome(None, ORPHAN_ACK, "ignored")

    def _suppressed_again(self, tracked: TrackedAlert, event: AlertEvent, now: float) -> Outcome:
        reason = self.suppressor.reason_for(event, now) if self.suppressor else None
        if reason is None and event.status == "firing":
            del self._suppressed[tracked.key]
            return self._admit(event, now, tracked)
        tracked.status = event.status
        tracked.suppressed_by = reason or tracked.suppressed_by
        assert tracked.suppressed_by is not None
        self.stats.suppressed[tracked.suppressed_by] += 1
        return Outcome(None, tracked.suppressed_by, "suppressed")

    def _repeat(self, tracked: TrackedAlert, incident: Incident, event: AlertEvent, now: float) -> Outcome:
        if incident.status == "open":
            incident.last_activity = incident.services[tracked.service] = now
        rank = SEVERITY_RANK.get(event.severity, 2)
        if rank != tracked.rank:
            tracked.rank = rank
            tracked.event = event
            if rank > incident.max_rank:
                incident.max_rank = rank
                self._material(incident, tracked.service, rank, now)
        return Outcome(incident, None, "repeat")

    def _refire(self, tracked: TrackedAlert, incident: Incident, event: AlertEvent, now: float) -> Outcome:
        tracked.status = "firing"
        tracked.event = event
        tracked.rank = SEVERITY_RANK.get(event.severity, 2)
        if tracked.held:  # it never stopped counting as active
            tracked.held = False
            incident.last_activity = incident.services[tracked.service] = now
            return Outcome(incident, None, "refire")
        if incident.status == "open":
            incident.active += 1
            incident.last_activity = incident.services[tracked.service] = now
            if tracked.rank > incident.max_rank:
                incident.max_rank = tracked.rank
                self._material(incident, tracked.service, tracked.rank, now)
            return Outcome(incident, None, "refire")
        if (
            incident.status == "resolved"
            and incident.closed_at is not None
            and now - incident.closed_at <= self.flap_window
        ):
            self._reopen(incident, now)
            incident.active += 1
            incident.services[tracked.service] = now
            if tracked.rank > incident.max_rank:
                incident.max_rank = tracked.rank
                self._material(incident, tracked.service, tracked.rank, now)
            return Outcome(incident, None, "reopen")
        self._detach(tracked, incident)
        return self._admit(event, now, tracked)

    def _admit(self, event: AlertEvent, now: float, tracked: TrackedAlert | None) -> Outcome:
        """A new alert (or one coming back long after its incident closed): suppress or group it."""
        reason = self.suppressor.reason_for(event, now) if self.suppressor else None
        service = group_service(event)
        rank = SEVERITY_RANK.get(event.severity, 2)
        if tracked is None:
            tracked = TrackedAlert(event.key, event.status, event, service, rank, now, now)
            self.alerts[event.key] = tracked
        else:
            tracked.status, tracked.event, tracked.service, tracked.rank = event.status, event, service, rank
            tracked.transitions.clear()
            tracked.flapping = tracked.held = False
            self._flapping.pop(tracked.key, None)
        if reason is not None:
            tracked.suppressed_by = reason
            tracked.incident = None
            self._suppressed[tracked.key] = tracked
            self.stats.suppressed[reason] += 1
            return Outcome(None, reason, "suppressed")
        tracked.suppressed_by = None
        incident = self._find_incident(event, service, now)
        if incident is None:
            incident = self._open_incident(event, now)
        self._attach(incident, tracked, now)
        return Outcome(incident, None, "new")

    # -- grouping --------------------------------------------------------------------------------

    def _find_incident(self, event: AlertEvent, service: str, now: float) -> Incident | None:
        """The incident a new alert joins, merging incidents it reveals a common cause of; None for a new one."""
        env = event.environment
        if event.service:
            young = now - self.topology_window
            # A dependency of young incidents' likely causes is a deeper common cause: those incidents become one.
            causes: list[Incident] = []
            for name in self.topology.above(service):
                if name != service:
                    for incident in self._by_anchor.get((env, name), ()):
                        if incident.opened_at >= young and incident not in causes:
                            causes.append(incident)
            # A caller of a young incident's likely cause is a symptom of it: it joins one (the most severe, then
            # the youngest) and merges none. A fresh failure below a service explains that service's new alerts
            # better than an older incident on the service itself does.
            symptom_of: Incident | None = None
            for name in self.topology.below(service):
                if name != service:
                    for incident in self._by_anchor.get((env, name), ()):
                        if incident.opened_at >= young and (
                            symptom_of is None
                            or (incident.max_rank, incident.opened_at) > (symptom_of.max_rank, symptom_of.opened_at)
                        ):
                            symptom_of = incident
            if causes:
                same = self._same_content(event, service, now)
                if same is not None and same not in causes:
                    causes.append(same)
                target = min(causes, key=lambda i: (i.opened_at, i.id))
                for other in causes:
                    if other is not target:
                        self._merge(other, target, now)
                return target
            if symptom_of is not None:
                return symptom_of
        return self._same_content(event, service, now)

    def _same_content(self, event: AlertEvent, service: str, now: float) -> Incident | None:
        """The incident with the latest delivery on this service within the window (or sharing a ``same_labels`` value)."""
        env = event.environment
        horizon = now - self.window
        best: Incident | None = None
        for incident in self._by_service.get((env, service), ()):
            seen = incident.services[service]
            if seen >= horizon and (best is None or seen > best.services[service]):
                best = incident
        for label in self.same_labels:
            value = event.labels.get(label)
            if value:
                for incident in self._by_label.get((env, label, value), ()):
                    if incident.last_activity >= horizon and (
                        best is None or incident.last_activity > best.last_activity
                    ):
                        best = incident
        return best

    def _open_incident(self, event: AlertEvent, now: float) -> Incident:
        incident_id = self._incident_id(event)
        if incident_id in self.incidents:  # the same first alert again after its incident closed
            n = 2
            while f"{incident_id}-{n}" in self.incidents:
                n += 1
            incident_id = f"{incident_id}-{n}"
        incident = Incident(
            id=incident_id, environment=event.environment, opened_at=now, last_activity=now, first_event=event
        )
        self.incidents[incident_id] = incident
        self.open[incident_id] = incident
        self.stats.incidents_opened += 1
        self.decisions.append(Decision("opened", incident, now))
        self._schedule(incident, "new incident", now)
        return incident

    def _attach(self, incident: Incident, tracked: TrackedAlert, now: float) -> None:
        incident.alerts[tracked.key] = tracked
        tracked.incident = incident
        service = tracked.service
        if service not in incident.services:
            self._by_service.setdefault((incident.environment, service), []).append(incident)
            incident.services[service] = now
            self._add_anchor(incident, service)
        else:
            incident.services[service] = now
        for label in self.same_labels:
            value = tracked.event.labels.get(label)
            if value and (label, value) not in incident.label_values:
                incident.label_values.add((label, value))
                self._by_label.setdefault((incident.environment, label, value), []).append(incident)
        incident.active += 1
        incident.last_activity = now
        if tracked.rank > incident.max_rank:
            incident.max_rank = tracked.rank
        self._material(incident, service, tracked.rank, now)

    def _detach(self, tracked: TrackedAlert, incident: Incident) -> None:
        if incident.alerts.pop(tracked.key, None) is not None:
            if not any(t.service == tracked.service for t in incident.alerts.values()):
                incident.services.pop(tracked.service, None)
                incident.anchors.discard(tracked.service)
        tracked.incident = None

    def _merge(self, source: Incident, target: Incident, now: float) -> None:
        """Fold ``source`` into ``target``: its alerts, services and activity; ``source`` points to ``target``."""
        self._unindex(source)
        for key, tracked in source.alerts.items():
            tracked.incident = target
            target.alerts[key] = tracked
        for service, seen in source.services.items():
            if service in target.services:
                target.services[service] = max(seen, target.services[service])
            else:
                target.services[service] = seen
                self._by_service.setdefault((target.environment, service), []).append(target)
        for label, value in source.label_values - target.label_values:
            target.label_values.add((label, value))
            self._by_label.setdefault((target.environment, label, value), []).append(target)
        self._set_anchors(target, self._bottom(target.services))
        target.active += source.active
        target.deliveries += source.deliveries
        target.truncated += source.truncated
        target.last_activity = max(target.last_activity, source.last_activity)
        target.max_rank = max(target.max_rank, source.max_rank)
        source.alerts = {}
        source.status = "merged"
        source.merged_into = target
        source.closed_at = now
        source.resolution = f"merged into {target.id}"
        source.pending_due = None
        self.open.pop(source.id, None)
        self._closed.append((now, source))
        self.stats.merges += 1
        self.decisions.append(Decision("merged", source, now, into=target))
        if target.revision:
            new = sorted(set(target.services) - target.investigated_services)
            if new or target.max_rank > target.investigated_rank:
                self._schedule(target, f"merged with {source.id} (services {', '.join(sorted(source.services))})", now)

    # -- lifecycle -------------------------------------------------------------------------------

    def _material(self, incident: Incident, service: str, rank: int, now: float) -> None:
        """Schedule a re-investigation if this is a change the last investigation did not cover."""
        if not incident.revision:
            return  # not investigated yet: the pending first investigation will see everything
        if service not in incident.investigated_services:
            self._schedule(incident, f"new service affected: {service}", now)
        elif rank > incident.investigated_rank:
            self._schedule(
                incident, f"severity up: {RANK_SEVERITY[incident.investigated_rank]} -> {RANK_SEVERITY[rank]}", now
            )

    def _schedule(self, incident: Incident, reason: str, now: float) -> None:
        if reason not in incident.pending_reasons:
            incident.pending_reasons.append(reason)
        if incident.pending_due is None:
            due = now + self.delay
            incident.pending_due = due
            self._sequence += 1
            heapq.heappush(self._pending, (due, self._sequence, incident))

    def _emit_due(self, now: float) -> None:
        while self._pending and self._pending[0][0] <= now:
            due, _, incident = heapq.heappop(self._pending)
            if incident.pending_due == due and incident.status == "open":
                self._investigate(incident, due)

    def _investigate(self, incident: Incident, at: float) -> None:
        incident.revision += 1
        incident.investigated_services = frozenset(incident.services)
        incident.investigated_rank = incident.max_rank
        reasons = tuple(incident.pending_reasons)
        incident.pending_reasons = []
        incident.pending_due = None
        self.stats.investigations += 1
        self.decisions.append(Decision("investigate", incident, at, revision=incident.revision, reasons=reasons))

    def _deactivate(self, incident: Incident, now: float) -> None:
        incident.active -= 1
        if incident.active <= 0 and incident.status == "open":
            incident.active = 0
            self._close(incident, now, "all alerts resolved")

    def _close(self, incident: Incident, now: float, resolution: str) -> None:
        incident.status = "resolved"
        incident.closed_at = now
        incident.resolution = resolution
        if incident.pending_due is not None:
            incident.pending_due = None
            incident.pending_reasons = []
            if not incident.revision:
                self.stats.resolved_before_investigation += 1
        self._unindex(incident)
        self.open.pop(incident.id, None)
        self._closed.append((now, incident))
        self.stats.resolved += 1
        self.decisions.append(Decision("resolved", incident, now, reasons=(resolution,)))

    def _reopen(self, incident: Incident, now: float) -> None:
        incident.status = "open"
        incident.closed_at = None
        incident.resolution = ""
        incident.last_activity = now
        incident.reopened += 1
        self.open[incident.id] = incident
        for service in incident.services:
            self._by_service.setdefault((incident.environment, service), []).append(incident)
        for label, value in incident.label_values:
            self._by_label.setdefault((incident.environment, label, value), []).append(incident)
        for anchor in incident.anchors:
            self._by_anchor.setdefault((incident.environment, anchor), []).append(incident)
        self.stats.reopened += 1
        self.decisions.append(Decision("reopened", incident, now))

    def _bottom(self, services: dict[str, float]) -> set[str]:
        below = self.topology.below
        return {s for s in services if not any(d != s and d in services for d in below(s))}

    def _add_anchor(self, incident: Incident, service: str) -> None:
        """A new service is an anchor unless it depends on one of the incident's; it displaces those that depend on it."""
        below = self.topology.below(service)
        if any(d != service and d in incident.services for d in below):
            return
        anchors = {a for a in incident.anchors if service not in self.topology.below(a)}
        anchors.add(service)
        self._set_anchors(incident, anchors)

    def _set_anchors(self, incident: Incident, anchors: set[str]) -> None:
        env = incident.environment
        for gone in incident.anchors - anchors:
            bucket = self._by_anchor.get((env, gone))
            if bucket is not None and incident in bucket:
                bucket.remove(incident)
                if not bucket:
                    del self._by_anchor[(env, gone)]
        for new in anchors - incident.anchors:
            self._by_anchor.setdefault((env, new), []).append(incident)
        incident.anchors = anchors

    def _unindex(self, incident: Incident) -> None:
        for anchor in incident.anchors:
            abucket = self._by_anchor.get((incident.environment, anchor))
            if abucket is not None and incident in abucket:
                abucket.remove(incident)
                if not abucket:
                    del self._by_anchor[(incident.environment, anchor)]
        for service in incident.services:
            bucket = self._by_service.get((incident.environment, service))
            if bucket is not None and incident in bucket:
                bucket.remove(incident)
                if not bucket:
                    del self._by_service[(incident.environment, service)]
        for label, value in incident.label_values:
            lbucket = self._by_label.get((incident.environment, label, value))
            if lbucket is not None and incident in lbucket:
                lbucket.remove(incident)
                if not lbucket:
                    del self._by_label[(incident.environment, label, value)]

    def _record_transition(self, tracked: TrackedAlert, now: float) -> None:
        times = tracked.transitions
        times.append(now)
        if len(times) > self.flap_threshold:
            del times[0]
        if not tracked.flapping and len(times) >= self.flap_threshold and now - times[0] <= self.flap_window:
            tracked.flapping = True
            self._flapping[tracked.key] = tracked
            self.stats.flapping_alerts += 1

    def _housekeep(self, now: float) -> None:
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        for tracked in [t for t in self._flapping.values() if now - t.transitions[-1] > self.flap_window]:
            del self._flapping[tracked.key]
            tracked.flapping = False
            if tracked.held:
                tracked.held = False
                incident = tracked.incident.root() if tracked.incident else None
                if incident is not None and incident.status == "open":
                    self._deactivate(incident, now)
        for incident in [i for i in self.open.values() if now - i.last_activity > self.stale_after]:
            for tracked in incident.alerts.values():
                if tracked.status == "firing" or tracked.held:
                    tracked.status, tracked.held = "resolved", False
            incident.active = 0
            self._close(incident, now, f"stale: no alert for {self.stale_after / 60:g} minutes")
        horizon = now - self.retention
        while self._closed and self._closed[0][0] <= horizon:
            closed_at, incident = self._closed.popleft()
            if incident.status == "open" or incident.closed_at != closed_at:
                continue  # reopened since: queued again when it closed again (or will be)
            for key, tracked in incident.alerts.items():
                if self.alerts.get(key) is tracked:
                    del self.alerts[key]
            if self.incidents.get(incident.id) is incident:
                del self.incidents[incident.id]
        for tracked in [t for t in self._suppressed.values() if t.last_seen <= horizon]:
            del self._suppressed[tracked.key]
            if self.alerts.get(tracked.key) is tracked:
                del self.alerts[tracked.key]
