"""What the communication agent says to each audience, from facts only (catalog, telemetry, actions).

Three audiences, three templates, three sets of rules (`agents.message_lint` checks them):

- **customers** (the status page): the capability in their words (the catalog's ``capability``, the
  status page's own name for it), the state, the impact as a plain share ("about 7 in 10 requests
  failed"), times in the configured zone and durations in words; never a hostname, a query, a diff,
  a commit or a person;
- **stakeholders**: what happened, the window and its size, what was done and by whom (the human who
  approved it, and how long they took), the state, when the next update comes, and a link;
- **responders** (the incident channel): the diagnosis with its evidence one line each (each with its
  query), the action and its approval, what was ruled out.

Every number comes from the incident state: the impact from the alerting SLI the investigation
measured (its peak against its baseline), the window from the onset and the verification.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from agents.humanize import clock_time, duration, headline, seconds, share, tidy_numbers
from agents.state import QUIET_CATEGORIES, CommsPhase, Diagnosis, Evidence, IncidentState, ProposedAction
from knowledge.catalog import Service, ServiceCatalog

Audience = Literal["customers", "stakeholders", "responders"]

# What a root-cause category means to a customer: no component names, no internals.
CUSTOMER_CAUSE = {
    "migration": "a database change we made",
    "bad_deploy": "a software update we released",
    "config_change": "a configuration change we made",
    "feature_flag": "a feature we switched on",
    "oom": "the service running out of memory",
    "memory_leak": "the service running out of memory",
    "crash": "a fault that made the service restart repeatedly",
    "resource_exhaustion": "the service running out of capacity",
    "saturation": "the service running out of capacity",
    "disk_full": "a full disk on one of our systems",
    "connection_pool": "the service running out of database connections",
    "certificate": "an expired or invalid certificate",
    "dns": "a DNS (name lookup) problem",
    "noisy_neighbour": "another workload competing for the same machines",
    "traffic_surge": "unusually high demand",
    "queue_backlog": "a backlog of work, which delayed processing",
    "stampede": "a surge of repeated work after a brief failure",
    "retry_storm": "a flood of retries after a brief failure",
    "replication_lag": "a database falling behind its primary",
    "clock": "a time-dependent fault",
    "network": "a network problem between our systems",
    "service_discovery": "our systems failing to find each other",
    "quota": "a usage limit at an outside provider",
    "monitoring": "a fault in our monitoring",
    "dependency": "a problem in a system it relies on",
    "third_party": "a problem at an outside provider we rely on",
    "cascading": "a failure spreading from a system it relies on",
    "failover": "a database failover",
    "recovered": "a short-lived failure that recovered by itself",
    "no_incident": "no failure: the alert did not match what customers saw",
}
# A network fault triggered by a change to who may talk to whom, or to how traffic is routed.
NETWORK_RULES = re.compile(r"network.?polic|netpol|egress|ingress rule|firewall|security group|allow-?list", re.I)
NETWORK_ROUTING = re.compile(r"\bmesh\b|routing|virtualservice|destinationrule|locality|load.?balanc", re.I)
LATENCY_QUERY = re.compile(r"histogram_quantile|duration|latency", re.I)
LATENCY_WORDS = re.compile(r"latency|\bp9\d\b|\bslow", re.I)
DELAY_WORDS = re.compile(r"\blag|backlog|queue|delay|stall|stuck|behind\b", re.I)
FROM_TO = re.compile(r"\bfrom (\d+) to (\d+)\b")
STATUS_WORDS = {
    "opened": "Investigating",
    "identified": "Identified",
    "mitigated": "Monitoring",
    "resolved": "Resolved",
    "escalated": "Investigating",
}


def cause_words(diagnosis: Diagnosis | None) -> str:
    """What the diagnosis means to a reader who does not read queries (no component names); a network
    fault a change triggered says which kind of change."""
    if diagnosis is None or diagnosis.inconclusive:
        return ""
    if diagnosis.category == "network" and diagnosis.change_id:
        if NETWORK_RULES.search(diagnosis.root_cause):
            return "a network policy change we made (the rules for which of our systems may talk to each other)"
        if NETWORK_ROUTING.search(diagnosis.root_cause):
            return "a change we made to how traffic is routed between our systems"
    return CUSTOMER_CAUSE.get(diagnosis.category, "")


@dataclass
class MessageContext:
    """What the templates need besides the incident: the catalog, the zone, the clock, the links."""

    catalog: ServiceCatalog
    now: datetime
    zone: str = "UTC"
    incident_url: str = ""
    update_every_minutes: int = 60
    oncall: str = ""
    stakeholders: list[str] = field(default_factory=list)
    query_link: Callable[[Evidence], str | None] | None = None


# A failure customers are told about after the fact: at least 1 in 100 requests failed beyond normal, or
# responses half again as slow as usual.
MATERIAL_RISE = 0.01
MATERIAL_SLOWDOWN = 1.5


@dataclass(frozen=True)
class Impact:
    """The alerting SLI's worst point against its baseline, as the investigation measured it."""

    kind: Literal["errors", "latency", "delay"]
    peak: float | None = None
    baseline: float | None = None
    query: str = ""

    @property
    def material(self) -> bool:
        """Customers noticed: errors at least 1 in 100 above normal, responses half again as slow as
        usual, or a delay. Unmeasured counts as noticed."""
        if self.kind == "delay" or self.peak is None:
            return True
        if self.kind == "latency":
            return self.baseline is None or self.peak >= MATERIAL_SLOWDOWN * self.baseline
        return self.peak - (self.baseline or 0.0) >= MATERIAL_RISE

    def usual_words(self, noun: str) -> str:
        """The measured worst point when it was within normal: "no customer impact beyond the usual: ..."."""
        if self.kind == "latency" and self.peak is not None:
            usual = f" ({seconds(self.baseline)} normally)" if self.baseline is not None else ""
            return f"no customer impact beyond the usual: {noun} responses took at most {seconds(self.peak)}{usual}"
        return (
            f"no customer impact beyond the usual: at most {(self.peak or 0.0):.2%} of {noun} requests failed "
            f"({(self.baseline or 0.0):.2%} normally)"
        )

    def customer_words(self, noun: str) -> str:
        if self.kind == "delay":
            return f"{noun} was delayed"
        if self.peak is None:
            return f"some {noun} requests {'were slow' if self.kind == 'latency' else 'failed'}"
        if self.kind == "latency":
            usual = f" (usually {seconds(self.baseline)})" if self.baseline is not None else ""
            return f"{noun} responses took up to {seconds(self.peak)}{usual}"
        return f"at the worst point {share(self.peak)} {noun} requests failed"


def capability_of(catalog: ServiceCatalog, service: Service) -> str:
    """The customer's name for what failed: the service's capability, or that of the customer-facing
    callers it serves (a vault behind "Card payments"), or its description as a last resort."""
    if service.capability:
        return service.capability
    callers = [
        s.capability for name in catalog.dependents_of(service.name) if (s := catalog.get(name)) and s.capability
    ]
    if callers:
        return " and ".join(dict.fromkeys(callers))
    return service.description.rstrip(".") or service.name


def measured_impact(state: IncidentState, service: Service, catalog: ServiceCatalog | None = None) -> Impact:
    """The impact from the SLI the investigation measured on the alerting service; when customers know
    it only through its callers (its capability is theirs), the worst of those callers' error ratios."""
    # What the alert is about decides the kind (a p99 alert is about slowness even when the investigation
    # measured the error ratio too); the SLI the investigation used, when the alert does not say.
    said = f"{state.alert.name} {state.alert.title}"
    slow = bool(LATENCY_WORDS.search(said)) or bool(state.sli_query and LATENCY_QUERY.search(state.sli_query))
    slow = slow and bool(service.sli.latency_p99 or LATENCY_QUERY.search(state.sli_query or ""))
    query = (service.sli.latency_p99 if slow else service.sli.error_rate) or state.sli_query
    kind: Literal["errors", "latency", "delay"] = "latency" if slow else "errors"
    if DELAY_WORDS.search(f"{state.alert.name} {state.alert.title}") and not slow:
        kind = "delay"
    found = _sli_evidence(state.evidence, query)
    if catalog is not None and not service.capability and kind == "errors":
        callers = [c for name in catalog.dependents_of(service.name) if (c := catalog.get(name)) and c.capability]
        seen = [e for c in callers if (e := _sli_evidence(state.evidence, c.sli.error_rate or ""))]
        worst = max([*seen, *([found] if found else [])], key=lambda e: float(e.data.get("peak") or 0), default=None)
        if worst is not None:
            found, query = worst, worst.query
    if found is None:
        return Impact(kind=kind, query=query)
    peak, baseline = found.data.get("peak"), found.data.get("baseline")
    return Impact(
        kind=kind,
        peak=float(peak) if isinstance(peak, int | float) else None,
        baseline=float(baseline) if isinstance(baseline, int | float) else None,
        query=query,
    )


def impact_of(state: IncidentState, service: Service | None, ctx: MessageContext) -> Impact:
    """The incident's recorded impact (measured by the communication agent), else measured from evidence."""
    if state.impact is not None:
        return Impact(
            kind=state.impact.kind, peak=state.impact.peak, baseline=state.impact.baseline, query=state.impact.query
        )
    if service is None:
        return Impact(kind="errors")
    return measured_impact(state, service, ctx.catalog)


def _sli_evidence(evidence: list[Evidence], query: str) -> Evidence | None:
    return next((e for e in evidence if query and e.query == query and "peak" in e.data), None)


def window(state: IncidentState, now: datetime) -> tuple[datetime, datetime | None]:
    """When customers were affected: from the onset (or the alert) to the verified recovery (None: ongoing)."""
    start = state.onset or state.alert.started_at
    end = state.verification.at if state.verification is not None and state.verification.ok else None
    return start, end


def remediation(state: IncidentState) -> ProposedAction | None:
    return next((a for a in reversed(state.actions) if a.kind == "remediation"), None)


def done_words(action: ProposedAction | None) -> str:
    """What was done, in plain words for any audience ("we rolled back the change that caused it")."""
    if action is None or action.status not in ("executed", "verified"):
        return ""
    call = action.tool.rsplit(".", 1)[-1]
    if call == "scale":
        numbers = FROM_TO.search(action.title)
        if numbers and int(numbers.group(2)) < int(numbers.group(1)):
            return "we scaled back the workload that overloaded it"
        return "we scaled up the service to add capacity"
    if call == "workflow_dispatch":
        return "we rolled back (reverted) the change that caused it"
    return {
        "rollout_undo": "we rolled back the change that caused it",
        "rollback": "we rolled back the change that caused it",
        "rollout_restart": "we restarted the affected service",
        "revert_configmap": "we reverted the configuration change that caused it",
        "scale_job": "we stopped the job that caused it",
        "suspend_cronjob": "we paused the scheduled job that caused it",
        "cordon_node": "we moved work off the faulty machine",
    }.get(call, "we applied a fix")


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --------------------------------------------------------------------------------------------- customers


def status_page_message(state: IncidentState, phase: CommsPhase, ctx: MessageContext) -> str:
    """The status page update: what customers use, how badly, since when, and what happens next."""
    service = ctx.catalog.get(state.service)
    what = capability_of(ctx.catalog, service) if service else "one of our services"
    impact = impact_of(state, service, ctx)
    start, end = window(state, ctx.now)
    since = clock_time(start, ctx.zone, today=ctx.now)
    diagnosis = state.diagnosis
    problem = "slow responses" if impact.kind == "latency" else "delays" if impact.kind == "delay" else "errors"
    cause = cause_words(diagnosis)
    next_update = clock_time(ctx.now + timedelta(minutes=ctx.update_every_minutes), ctx.zone, today=ctx.now)
    if diagnosis is not None and diagnosis.category in QUIET_CATEGORIES and phase == "resolved":
        if diagnosis.category == "no_incident":
            return f"{what} is working normally; there was no customer impact."
        return (
            f"Resolved: between {since} and {clock_time(end or ctx.now, ctx.zone, today=ctx.now)} "
            f"{impact.customer_words(what)}. It recovered by itself and {what} is working normally again."
        )
    lines: list[str]
    if phase == "resolved":
        finish = end or ctx.now
        fixed = done_words(remediation(state))
        lines = [
            f"Resolved: {what} is working normally again.",
            f"Between {since} and {clock_time(finish, ctx.zone, today=ctx.now)} ({duration(finish - start)}) "
            f"{impact.customer_words(what)}.",
        ]
        if cause:
            lines.append(_sentence(f"the cause was {cause}" + (f"; {fixed}" if fixed else "")))
        elif fixed:
            lines.append(_sentence(fixed))
        return " ".join(lines)
    lines = [f"{STATUS_WORDS[phase]}: {problem} with {what} since {since}."]
    lines.append(_sentence(f"so far {impact.customer_words(what)}"))
    if phase in ("identified", "mitigated") and cause:
        lines.append(
            f"We have found the cause, {cause}, and {'are applying' if phase == 'identified' else 'applied'} a fix."
        )
    elif phase == "escalated":
        lines.append("Our engineers are working on it.")
    lines.append(f"Next update by {next_update}.")
    return " ".join(lines)


# --------------------------------------------------------------------------------------------- stakeholders


def _approval_words(action: ProposedAction, ctx: MessageContext, asked: datetime | None) -> str:
    if action.approval is None:
        return "allowed by policy" if not action.requires_approval else "waiting for approval"
    took = f" after {duration(action.approval.at - asked)}" if asked is not None and action.approval.at >= asked else ""
    return f"{action.approval.decision} by {action.approval.by} at {clock_time(action.approval.at, ctx.zone, today=ctx.now)}{took}"


def _asked_at(state: IncidentState, action: ProposedAction) -> datetime | None:
    return next(
        (t.at for t in state.timeline if t.actor == "remediation" and t.kind == "proposed" and action.title in t.text),
        None,
    )


def _cause_for_people(state: IncidentState) -> str:
    """The diagnosis for people who do not read queries: category, the component, the change."""
    diagnosis = state.diagnosis
    if diagnosis is None:
        return "not known yet; the investigation is under way"
    if diagnosis.inconclusive:
        return f"not established (best lead: {diagnosis.entity or 'none'}, {diagnosis.confidence:.0%} confidence)"
    change = f", change {diagnosis.change_id}" if diagnosis.change_id else ""
    words = cause_words(diagnosis) or diagnosis.category.replace("_", " ")
    return f"{words} ({diagnosis.category.replace('_', ' ')} on {diagnosis.entity or state.service}{change}; {diagnosis.confidence:.0%} confidence)"


def stakeholder_message(state: IncidentState, phase: CommsPhase, ctx: MessageContext) -> str:
    """The update for engineering, business and support leads."""
    service = ctx.catalog.get(state.service)
    what = capability_of(ctx.catalog, service) if service else state.service or "an unknown service"
    impact = impact_of(state, service, ctx)
    start, end = window(state, ctx.now)
    finish = end or ctx.now
    state_words = {
        "opened": "open, investigating",
        "identified": "open, cause identified, fix proposed",
        "mitigated": "mitigated, monitoring",
        "resolved": "resolved",
        "escalated": "escalated to the on-call, needs a human",
    }[phase]
    lines = []
    if ctx.stakeholders:
        lines.append(f"To: {', '.join(ctx.stakeholders)}")
    quiet = state.diagnosis is not None and state.diagnosis.category in QUIET_CATEGORIES
    happened = impact.customer_words(what)
    if quiet and not impact.material and impact.peak is not None:
        happened = impact.usual_words(what)
    lines += [
        f"{state.severity or 'Unrated'} incident {state.id}: {what} ({state.service}) — {state_words}",
        f"What happened: {happened}.",
        f"Window: {clock_time(start, ctx.zone, today=ctx.now)} to "
        + (
            clock_time(finish, ctx.zone, today=ctx.now) + f" ({duration(finish - start)})"
            if end
            else f"now ({duration(finish - start)} so far)"
        ),
        f"Cause: {_cause_for_people(state)}",
    ]
    done = [a for a in state.actions if a.kind == "remediation"]
    if done:
        lines.append("What was done:")
        for action in done:
            words = done_words(action)
            lines.append(
                f"- {action.title}: {action.status}{f' ({words})' if words else ''}; proposed by firstline, "
                f"{_approval_words(action, ctx, _asked_at(state, action))}"
            )
    else:
        lines.append(
            "What was done: "
            + (
                "nothing was needed"
                if quiet
                else "nothing automated; handed to a human"
                if phase == "escalated"
                else "nothing yet; investigating"
            )
        )
    owner = f"{service.owner}" if service else "no owner in the catalog"
    lines.append(f"Owner: {owner}; on-call: {ctx.oncall or 'unknown'}")
    if phase not in ("resolved",):
        lines.append(
            f"Next update: by {clock_time(ctx.now + timedelta(minutes=ctx.update_every_minutes), ctx.zone, today=ctx.now)}"
        )
    status_link = state.external_refs.get("statuspage_link")
    if status_link:
        lines.append(f"Status page: {status_link}")
    lines.append(f"Incident: {ctx.incident_url or f'firstline incidents show {state.id}'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- responders


def _evidence_line(evidence: Evidence, ctx: MessageContext) -> str:
    observation = headline(evidence.observation, 400)
    link = ctx.query_link(evidence) if ctx.query_link is not None else None
    query = headline(evidence.query, 160)
    return f"- {observation} [{evidence.source}: `{query}`" + (f" {link}]" if link else "]")


def channel_message(state: IncidentState, phase: CommsPhase, ctx: MessageContext) -> str:
    """The incident channel: diagnosis, evidence (one line each, with its query), action, ruled out."""
    head = f"[{state.id}] {state.severity or ''} {state.service}: {STATUS_WORDS[phase].lower()}".replace("  ", " ")
    lines = [head]
    diagnosis = state.diagnosis
    service = ctx.catalog.get(state.service)
    if phase == "opened" or diagnosis is None:
        lines.append(state.summary or state.alert.title)
        if service is not None:
            lines.append(f"Customer capability: {capability_of(ctx.catalog, service)}")
        lines.append(f"On-call: {ctx.oncall or 'unknown'}. firstline is investigating.")
        return "\n".join(lines)
    entity = ctx.catalog.get(diagnosis.entity)
    about = (
        f" ({entity.description.rstrip('.')})" if entity and entity.description and entity.name != state.service else ""
    )
    lines.append(
        f"Diagnosis ({diagnosis.confidence:.0%}, {diagnosis.category}): {headline(diagnosis.root_cause)}"
        + (f"\nAt fault: {diagnosis.entity}{about}" if diagnosis.entity else "")
    )
    for other in diagnosis.contributing:
        lines.append(f"Contributing: {other.category} on {other.entity}: {headline(other.description)}")
    # The resolution closes the thread: the evidence and what was ruled out are in the identified update above.
    detailed = phase != "resolved" or "identified" not in state.comms_sent
    if diagnosis.evidence and detailed:
        lines.append("Evidence:")
        lines += [_evidence_line(e, ctx) for e in diagnosis.evidence[:8]]
    action = remediation(state)
    if action is not None:
        approval = (
            f"{action.approval.decision} by {action.approval.by}"
            + (f" ({action.approval.comment})" if action.approval.comment else "")
            if action.approval
            else "needs approval: firstline approve " + f"{state.id} {action.id} --by NAME"
            if action.requires_approval and action.status == "proposed"
            else "allowed by policy"
        )
        lines.append(f"Action: {action.title} [{action.status}; risk {action.risk}; {approval}]")
        if action.undo:
            lines.append(f"Undo: {action.undo}")
    if state.verification is not None:
        check = state.verification
        measured = (
            f"error ratio {check.observed:.2%} against a baseline of {check.baseline:.2%}"
            if check.observed is not None and check.baseline is not None
            else "no measurement"
        )
        lines.append(f"Verification: {'recovered' if check.ok else 'not recovered'}, {measured} [`{check.query}`]")
    if diagnosis.ruled_out and detailed:
        lines.append("Ruled out:")
        lines += [f"- {r.what}: {tidy_numbers(r.why)}" for r in diagnosis.ruled_out[:8]]
    if phase == "escalated":
        lines.append(f"Handing over to the on-call: {ctx.oncall or 'unknown'}.")
    return "\n".join(lines)


def render(state: IncidentState, phase: CommsPhase, audience: Audience, ctx: MessageContext) -> str:
    """The message for ``audience`` at ``phase``."""
    if audience == "customers":
        return status_page_message(state, phase, ctx)
    if audience == "stakeholders":
        return stakeholder_message(state, phase, ctx)
    return channel_message(state, phase, ctx)
