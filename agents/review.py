"""The post-incident review draft, from an incident record (the JSON contract of `IncidentState.record`).

`draft_review` reads a record (a finished incident, or a record file such as the demo's ``--json``
output) and returns a `ReviewDraft`: summary, customer impact, detection timings, the timeline with
human and agent decisions side by side (with who and how long the human took), root cause and
contributing factors with their evidence, what was ruled out, what went well and what did not, and
action items with owners from the catalog, plus the follow-ups recurring from past incidents.

Human messages (the incident channel's thread, PagerDuty notes) are passed in as `HumanMessage`s and
placed on the timeline with their author; approval comments come from the record's actions.
`render_markdown` and `render_html` print it; nothing here does I/O.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from agents.humanize import clock_time, duration, headline, seconds, share, tidy_numbers
from knowledge.catalog import ServiceCatalog
from tools.values import parse_moment as _moment

SLOW_APPROVAL = timedelta(minutes=10)
SLOW_DETECTION = timedelta(minutes=5)
QUOTED = re.compile(r"'([^']{3,200})'")
# Follow-up work each kind of root cause usually calls for: generic to the category, never to a service.
FOLLOW_UP = {
    "migration": "Make schema migrations backward compatible and rehearse their rollback before release",
    "bad_deploy": "Add a canary or an automated rollback on the SLI for releases of this service",
    "config_change": "Validate configuration changes before they reach production (schema check, staged rollout)",
    "feature_flag": "Roll out flags progressively with an SLI guard that switches them off",
    "oom": "Right-size memory limits and alert on memory growth before the limit",
    "memory_leak": "Find and fix the leak; alert on memory growth per pod",
    "crash": "Fix the crash and alert on restart loops before the backlog grows",
    "resource_exhaustion": "Add capacity headroom and alert on saturation before errors",
    "saturation": "Add capacity headroom and autoscaling on the saturating resource",
    "disk_full": "Alert on disk usage trends and automate cleanup or expansion",
    "connection_pool": "Cap the connections each client may hold and alert on pool saturation",
    "certificate": "Automate certificate renewal and alert 30 days before expiry",
    "dns": "Monitor DNS resolution from the workloads and review resolver changes",
    "noisy_neighbour": "Isolate the competing workload (requests/limits, node pools)",
    "traffic_surge": "Autoscale on demand and load-test for the next peak",
    "queue_backlog": "Alert on consumer lag and scale consumers with the backlog",
    "stampede": "Add request coalescing or jittered cache refresh",
    "retry_storm": "Add retry budgets with exponential backoff and jitter",
    "replication_lag": "Alert on replication lag and route reads away from lagging replicas",
    "clock": "Test time-dependent code paths (time zones, DST, month ends)",
    "network": "Review network policy changes with a connectivity check in CI",
    "service_discovery": "Alert on missing endpoints behind each service",
    "quota": "Track the provider quota and alert before it is reached",
    "monitoring": "Alert when telemetry goes missing, not only when it is bad",
    "dependency": "Add timeouts, fallbacks and an SLO on the dependency",
    "third_party": "Add a fallback provider or graceful degradation, and subscribe to the provider's status",
    "cascading": "Add circuit breakers between the services involved",
    "failover": "Rehearse failover and make clients reconnect to the new primary",
}


class ReviewEvent(BaseModel):
    at: datetime
    who: str = Field(description="The person, or the agent (firstline: triage, investigation...).")
    side: Literal["human", "agent"]
    text: str


class HumanMessage(BaseModel):
    """Something a person said about the incident: a channel message, a PagerDuty note."""

    at: datetime
    author: str
    text: str
    source: str = Field(default="slack", description="Where it was said: slack, pagerduty...")


class ActionItem(BaseModel):
    text: str
    owner: str


class ReviewDraft(BaseModel):
    incident_id: str
    title: str
    summary: str
    impact: list[str]
    detection: list[str]
    timeline: list[ReviewEvent]
    root_cause: list[str]
    evidence: list[str]
    ruled_out: list[str]
    went_well: list[str]
    went_badly: list[str]
    action_items: list[ActionItem]
    zone: str = "UTC"


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


AGENT_KINDS = {
    "triaged",
    "diagnosis",
    "proposed",
    "no_action",
    "executed",
    "verified",
    "not_recovered",
    "failed",
    "escalated",
    "post",
    "page",
    "oncall",
    "expired",
}


def _event_text(entry: Mapping[str, Any]) -> str:
    text = str(entry.get("text", ""))
    if entry.get("kind") in ("post", "page"):
        text = text.split(". ", 1)[0]  # "Chat update to C0INC: sent": what the upstream said is in the record
    return headline(text, 300)


def draft_review(
    record: Mapping[str, Any],
    *,
    catalog: ServiceCatalog | None = None,
    zone: str = "UTC",
    messages: Iterable[HumanMessage] = (),
    follow_ups: Iterable[str] = (),
) -> ReviewDraft:
    """The review draft of one incident record. ``follow_ups``: open items recurring from past incidents."""
    catalog = catalog or ServiceCatalog()
    incident_id = str(record.get("id", "?"))
    service_name = str(record.get("service") or "")
    service = catalog.get(service_name)
    alert = _map(record.get("alert"))
    diagnosis = _map(record.get("diagnosis"))
    impact = _map(record.get("impact"))
    actions = [a for a in _list(record.get("actions")) if isinstance(a, Mapping)]
    fixes = [a for a in actions if a.get("kind", "remediation") == "remediation"]
    timeline = [t for t in _list(record.get("timeline")) if isinstance(t, Mapping)]
    verification = _map(record.get("verification"))
    status = str(record.get("status") or "open")
    fired = _moment(alert.get("started_at"))
    onset = _moment(impact.get("start")) or fired
    end = _moment(impact.get("end")) or (_moment(verification.get("at")) if verification.get("ok") else None)

    def when(moment: datetime | None) -> str:
        return clock_time(moment, zone, today=onset) if moment else "unknown"

    capability = str(impact.get("capability") or (service.capability if service else "") or service_name)
    kind = str(impact.get("kind") or "errors")
    peak = impact.get("peak")
    base = impact.get("baseline")
    if kind == "latency" and isinstance(peak, int | float):
        size = f"responses took up to {seconds(float(peak))}" + (
            f" (usually {seconds(float(base))})" if isinstance(base, int | float) else ""
        )
    elif kind == "delay":
        size = "processing was delayed"
    elif isinstance(peak, int | float):
        size = f"at the worst point {share(float(peak))} requests failed ({float(peak):.1%} error ratio" + (
            f" against {float(base):.2%} normally)" if isinstance(base, int | float) else ")"
        )
    else:
        size = "not measured"
    category = str(diagnosis.get("category") or "unknown")
    entity = str(diagnosis.get("entity") or service_name)
    fix = next((a for a in reversed(fixes) if a.get("status") in ("executed", "verified")), None)
    lasted = duration(end - onset) if end and onset else "still ongoing at the last entry"

    summary = (
        f"{record.get('severity') or 'Unrated'} on {service_name} ({capability}): {size}. "
        f"Cause: {headline(str(diagnosis.get('root_cause') or 'not established'))}. "
        + (f"Fixed by: {fix.get('title')}. " if fix else "No automated fix ran. ")
        + f"Status: {status}; customer impact lasted {lasted}."
    )
    impact_lines = [
        f"Capability: {capability}",
        f"Window: {when(onset)} to {when(end) if end else 'not recovered at the last entry'} ({lasted})",
        f"Size: {size}",
    ]
    if service is not None:
        callers = catalog.dependents_of(service.name)
        if callers:
            impact_lines.append(f"Callers that depend on it: {', '.join(callers)}")

    triaged = next((_moment(t.get("at")) for t in timeline if t.get("kind") == "triaged"), None)
    diagnosed = next((_moment(t.get("at")) for t in timeline if t.get("kind") == "diagnosis"), None)
    detection = [f"Alert: {alert.get('name', '?')} ({alert.get('title', '')}) from {alert.get('source', '?')}"]
    if onset and fired:
        detection.append(f"Onset {when(onset)}; alert fired {when(fired)} ({duration(fired - onset)} after the onset)")
    if fired and triaged:
        detection.append(f"Triaged {when(triaged)} ({duration(triaged - fired)} after the alert)")
    if fired and diagnosed:
        detection.append(f"Diagnosed {when(diagnosed)} ({duration(diagnosed - fired)} after the alert)")

    decision_kinds = {"approved", "rejected"}  # a decision on an action is shown once, from the action (who, how long)
    events = [
        ReviewEvent(
            at=moment,
            who=str(t.get("actor")) if t.get("actor") != "human" else str(t.get("text", "")).split(" ", 1)[0],
            side="human" if t.get("actor") == "human" else "agent",
            text=_event_text(t),
        )
        for t in timeline
        if (moment := _moment(t.get("at"))) is not None
        and (t.get("kind") in AGENT_KINDS or t.get("actor") == "human")
        and not (t.get("actor") == "human" and t.get("kind") in decision_kinds)
    ]
    asked: dict[str, datetime] = {}
    for t in timeline:
        if t.get("kind") == "proposed" and (moment := _moment(t.get("at"))):
            for a in fixes:
                if str(a.get("title", "")) and str(a.get("title")) in str(t.get("text", "")):
                    asked.setdefault(str(a.get("id")), moment)
    went_well: list[str] = []
    went_badly: list[str] = []
    for a in fixes:
        approval = _map(a.get("approval"))
        decided = _moment(approval.get("at"))
        if not approval or decided is None:
            continue
        proposed = asked.get(str(a.get("id")))
        took = decided - proposed if proposed else None
        comment = f": {approval.get('comment')}" if approval.get("comment") else ""
        events.append(
            ReviewEvent(
                at=decided,
                who=str(approval.get("by")),
                side="human",
                text=f"{approval.get('decision')} {a.get('title')}"
                + (f" after {duration(took)}" if took is not None else "")
                + comment,
            )
        )
        if took is not None:
            (went_badly if took > SLOW_APPROVAL else went_well).append(
                f"{'Slow' if took > SLOW_APPROVAL else 'Quick'} approval: {approval.get('by')} decided "
                f"{a.get('title')} {duration(took)} after it was proposed"
            )
    for message in messages:
        events.append(
            ReviewEvent(
                at=message.at, who=message.author, side="human", text=f"({message.source}) {message.text[:300]}"
            )
        )
    events.sort(key=lambda e: e.at)

    root = [f"{category} on {entity}: {headline(str(diagnosis.get('root_cause') or 'not established'), 600)}"]
    if diagnosis.get("change_id"):
        root.append(f"Change: {diagnosis.get('change_id')}")
    if diagnosis.get("confidence") is not None:
        root.append(
            f"Confidence: {float(diagnosis.get('confidence') or 0):.0%}"
            + (" (inconclusive)" if diagnosis.get("inconclusive") else "")
        )
    for other in _list(diagnosis.get("contributing")):
        if isinstance(other, Mapping):
            root.append(
                f"Contributing: {other.get('category')} on {other.get('entity')}: {headline(str(other.get('description')))}"
            )
    evidence = [
        f"{headline(str(e.get('observation')), 400)} [{e.get('source')}: `{e.get('query')}`]"
        for e in _list(diagnosis.get("evidence"))
        if isinstance(e, Mapping)
    ]
    ruled_out = [
        f"{r.get('what')}: {tidy_numbers(str(r.get('why')))}"
        for r in _list(diagnosis.get("ruled_out"))
        if isinstance(r, Mapping)
    ]

    if onset and fired and fired - onset >= SLOW_DETECTION:
        went_badly.append(f"Detection: the alert fired {duration(fired - onset)} after customers were first affected")
    if onset and diagnosed and diagnosed - onset <= timedelta(minutes=15):
        went_well.append(f"Diagnosed {duration(diagnosed - onset)} after the onset")
    if verification.get("ok"):
        went_well.append("The fix was verified on the SLI")
    failed = [a for a in fixes if a.get("status") in ("failed", "rejected")]
    for a in failed:
        went_badly.append(f"{a.get('title')}: {a.get('status')}" + (f" ({a.get('result')})" if a.get("result") else ""))
    if status == "escalated":
        went_badly.append("firstline could not resolve it and handed it to a human")
    if verification and not verification.get("ok"):
        went_badly.append("The first fix did not bring the SLI back to its baseline")
    if diagnosis and float(diagnosis.get("confidence") or 0) < 0.5:
        went_badly.append(f"Low confidence in the diagnosis ({float(diagnosis.get('confidence') or 0):.0%})")
    missing = [t for t in timeline if t.get("kind") in ("check_failed", "lint", "memory_failed")]
    went_badly += [f"{t.get('actor')}: {t.get('text')}" for t in missing[:5]]
    fallback = [t for t in timeline if t.get("kind") == "oncall" and "from the catalog" in str(t.get("text", ""))]
    if fallback:
        went_badly.append("On-call came from the catalog's static entry, not from PagerDuty")

    owner_of = catalog.get(entity)
    owner = owner_of.owner if owner_of else (service.owner if service else "unowned")
    items = []
    if category in FOLLOW_UP:
        items.append(ActionItem(text=f"{FOLLOW_UP[category]} ({entity})", owner=owner))
    if kind != "delay" and not isinstance(peak, int | float):
        items.append(
            ActionItem(
                text=f"Measure the SLI of {service_name}: the impact could not be sized",
                owner=service.owner if service else owner,
            )
        )
    if status == "escalated":
        items.append(
            ActionItem(
                text="Confirm the root cause and record the fix a human applied",
                owner=service.owner if service else owner,
            )
        )
    items += [ActionItem(text=f"Recurring: {text}", owner=owner) for text in follow_ups]
    # Past incidents the investigation found alike (memory, postmortems): their follow-ups are due again.
    past = [
        quoted.group(1) if (quoted := QUOTED.search(str(e.get("observation", "")))) else str(e.get("source"))
        for e in _list(diagnosis.get("evidence"))
        if isinstance(e, Mapping)
        and str(e.get("source", "")).startswith(("knowledge:postmortems/", "knowledge:incidents/"))
    ]
    items += [
        ActionItem(text=f"Recurring: check that the follow-ups of “{title}” were done", owner=owner)
        for title in dict.fromkeys(past)
    ]
    if record.get("recurrence"):
        items.append(ActionItem(text=f"Recurring incident: {record.get('recurrence')}", owner=owner))
    items.append(
        ActionItem(text="Review this draft, correct it and publish it", owner=service.owner if service else "on-call")
    )

    return ReviewDraft(
        incident_id=incident_id,
        title=f"Post-incident review (draft): {capability} — {incident_id}",
        summary=summary,
        impact=impact_lines,
        detection=detection,
        timeline=events,
        root_cause=root,
        evidence=evidence,
        ruled_out=ruled_out,
        went_well=went_well or ["Nothing recorded"],
        went_badly=went_badly or ["Nothing recorded"],
        action_items=items,
        zone=zone,
    )


def _sections(draft: ReviewDraft) -> list[tuple[str, list[str]]]:
    start = draft.timeline[0].at if draft.timeline else None

    def row(event: ReviewEvent) -> str:
        side = "👤" if event.side == "human" else "🤖"
        return f"{clock_time(event.at, draft.zone, today=start)} {side} **{event.who}**: {event.text}"

    return [
        ("Summary", [draft.summary]),
        ("Customer impact", draft.impact),
        ("Detection", draft.detection),
        ("Timeline (human 👤 and agent 🤖 decisions)", [row(e) for e in draft.timeline]),
        ("Root cause and contributing factors", draft.root_cause),
        ("Evidence", draft.evidence or ["none cited"]),
        ("Ruled out", draft.ruled_out or ["nothing"]),
        ("What went well", draft.went_well),
        ("What did not go well", draft.went_badly),
        ("Action items", [f"[ ] {i.text} — owner: {i.owner}" for i in draft.action_items]),
    ]


def render_markdown(draft: ReviewDraft) -> str:
    """The draft as Markdown, for a file, a GitHub issue or the knowledge memory."""
    out = [f"# {draft.title}", ""]
    for heading, lines in _sections(draft):
        out.append(f"## {heading}")
        out.append("")
        if heading == "Summary":
            out += [*lines, ""]
            continue
        out += [f"- {line}" for line in lines]
        out.append("")
    return "\n".join(out)


def render_html(draft: ReviewDraft) -> str:
    """The draft as a standalone HTML page."""
    body = [f"<h1>{html.escape(draft.title)}</h1>"]
    for heading, lines in _sections(draft):
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if heading == "Summary":
            body.append(f"<p>{html.escape(lines[0])}</p>")
            continue
        body.append("<ul>" + "".join(f"<li>{html.escape(line).replace('**', '')}</li>" for line in lines) + "</ul>")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(draft.title)}</title></head><body>{''.join(body)}</body></html>\n"
    )
