"""The deterministic reasoner: rules and statistics over the evidence, no model.

It is the embedded default, the baseline every model configuration must beat, and the fallback
when the model fails for a step. It never guesses: when no hypothesis is clearly ahead it says the
diagnosis is inconclusive, names the best lead and what would separate the leaders.

Hypotheses come from the alerting service's own evidence (its changes, log signatures, pods, traffic)
and from the origin the graph ranker finds in the blast radius (`agents.reasoners.origin`): the
origin's own changes, signatures and pods, a third party, a caller's change that loads it, shared
infrastructure that failed with the service, a noisy neighbour on its nodes. No component name is
read anywhere; names from the catalog are only matched against each other and against log lines.
"""

from __future__ import annotations

import re
from datetime import datetime

from agents.analytics.anomaly import RankingResult, RootCauseCandidate
from agents.call_edges import one_path_failing
from agents.evidence import ChangeFact, EvidenceBundle, ProviderFact, SignalSummary
from agents.humanize import per_second as _rate
from agents.reasoners.base import (
    COUNTER_LIMIT,
    FD_LIMIT,
    Reasoned,
    ReasonerContext,
    RemediationChoice,
    RemediationOption,
    TriageFacts,
    UpdatePhase,
)
from agents.reasoners.origin import (
    RANKING,
    downstream,
    edge_leads,
    edge_mechanism,
    edge_ranking,
    edge_share,
    fails_on_its_own,
    log_origin,
    origin_ranking,
    serves_worse,
    silent_components,
)
from agents.state import (
    CHANGE_CATEGORIES,
    QUIET_CATEGORIES,
    Diagnosis,
    Hypothesis,
    IncidentState,
    JobTarget,
    ProposedAction,
    RootCauseCategory,
    RuledOut,
)
from knowledge.catalog import DATASTORE_KINDS

# The category a change of each kind is diagnosed as (`ChangeFact.kind` is free text: unknown kinds
# are read as a bad deploy).
CHANGE_CATEGORY: dict[str, RootCauseCategory] = {
    "migration": "migration",
    "deploy": "bad_deploy",
    "config": "config_change",
    "feature_flag": "feature_flag",
    "infrastructure": "config_change",
    "other": "bad_deploy",
    # a replica-count change: capacity removed, or a workload multiplied (its load lands elsewhere)
    "scale_down": "resource_exhaustion",
    "scale_up": "saturation",
}
RELEASE_KINDS = frozenset({"deploy", "migration", "other"})  # a component's own code or schema shipped
LOAD_CATEGORIES: frozenset[RootCauseCategory] = frozenset(
    {"connection_pool", "saturation", "resource_exhaustion", "traffic_surge", "queue_backlog", "dependency"}
)
SCALE_DOWN_SCORE = 0.55
SHARED_SCORE = 0.75
SURGE_SCORE = 0.6
NEIGHBOUR_SCORE = 0.7
CAPACITY_WORDS = re.compile(
    r"max_children|worker pool|pool exhausted|too many requests|queue full|shedding|overloaded|backpressure"
    r"|rate limit|throttl|capacity|no available (workers|threads)",
    re.I,
)
ORIGIN_BONUS = 0.15  # the graph says the alerting service is a victim of this origin
CALLER_LOAD_WINDOW = 3600.0  # seconds: a caller's change this close before the onset may be the load
RELEASE_LOAD_WINDOW = 1800.0  # ... a caller's release, whose load arrives with its pods (a slow rollout's span)
MIN_LEAD_SCORE = 0.35
MIN_MARGIN = 0.12


def _pct(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.2%}"


def _secs(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.3g} s"


def _fmt_time(at: datetime | None) -> str:
    return at.strftime("%H:%M UTC") if at else "unknown time"


LINKED = 0.5  # a change whose text shares identifiers this strongly with the errors is not a red herring


def related_changes(change: ChangeFact, bundle: EvidenceBundle) -> list[ChangeFact]:
    """Other changes of the same service that share identifiers with the errors (e.g. the deploy that
    carried a migration), or that produced the same commit (the workflow run and the deployment it
    made): they support the hypothesis rather than compete with it."""
    return [
        c
        for c in bundle.changes
        if c.id != change.id
        and c.service == change.service
        and (set(c.linked_tokens) & set(change.linked_tokens) or _same_ref(c.ref, change.ref))
    ]


def _same_ref(a: str, b: str) -> bool:
    """Two refs name the same commit (a full sha and its short form count as one)."""
    if len(a) < 7 or len(b) < 7:
        return False
    return a.startswith(b) or b.startswith(a)


# A change that configures how traffic flows (network policies, egress rules, firewalls, mesh routing
# and locality), followed by calls that time out or cannot connect: the failure is the network path
# the change altered, not the code or the setting's value.
NETWORK_CHANGE = re.compile(
    r"network.?polic|egress|ingress rule|firewall|security.?group|allow.?list|iptables|\bcidr|peering|subnet"
    r"|\bmtu\b|locality|load.?balanc|\brout(e|ing)\b",
    re.I,
)
CONNECT_FAILURE = re.compile(
    r"timed? ?out|timeout|deadline exceeded|connection (refused|reset)|connect(ion)? (error|failure|timeout)"
    r"|unreachable|no route to host|upstream connect|\bslow\b",
    re.I,
)


def change_mechanism(change: ChangeFact, bundle: EvidenceBundle) -> RootCauseCategory | None:
    """The failure mode a change set off when its own text says which: a network path (`NETWORK_CHANGE`)
    whose calls then time out or fail to connect in the changed service's logs."""
    if change.kind not in ("config", "infrastructure", "deploy", "other") or not NETWORK_CHANGE.search(
        change.description
    ):
        return None
    facts = bundle.components.get(change.service)
    logs = bundle.logs if change.service == bundle.service else (facts.logs if facts is not None else [])
    return "network" if any(CONNECT_FAILURE.search(f"{log.template} {log.example}") for log in logs) else None


def change_hypothesis(change: ChangeFact, bundle: EvidenceBundle) -> Hypothesis:
    related = related_changes(change, bundle)
    parts = [f"{change.kind} on {change.service} at {_fmt_time(change.at)}: {change.description}"]
    if related:
        parts.append("shipped with " + "; ".join(f"{c.kind} at {_fmt_time(c.at)}: {c.description}" for c in related))
    if change.linked_tokens:
        parts.append(
            f"the error logs since the onset name {', '.join(change.linked_tokens[:4])}, which this change touches"
        )
    evidence_ids = [change.evidence_id, *(c.evidence_id for c in related)]
    if change.linked_tokens:
        evidence_ids += [
            log.evidence_id
            for log in bundle.logs
            if any(t in log.template or t in log.example for t in change.linked_tokens)
        ]
    if bundle.primary is not None:
        evidence_ids.append(bundle.primary.evidence_id)
    mechanism = change_mechanism(change, bundle)
    if mechanism is not None:
        parts.append(f"it changed how traffic flows and {change.service}'s calls now time out or fail to connect")
    return Hypothesis(
        entity=change.service,
        category=mechanism or CHANGE_CATEGORY.get(change.kind, "bad_deploy"),
        description="; ".join(parts),
        score=change.score,
        evidence_ids=[e for e in dict.fromkeys(evidence_ids) if e],
        change_id=change.id,
    )


# A finite counter or table of a datastore ran out (`COUNTER_LIMIT`): the datastore's own failure, years
# in the making, not load a caller's release added; no restart or scale-out makes room, a schema change does.
# Log signatures of failure modes, checked in order (the first match names the category). Generic
# phrases from common runtimes and infrastructure, never names of particular services.
SIGNATURES: list[tuple[RootCauseCategory, re.Pattern[str]]] = [
    (
        "disk_full",
        re.compile(
            r"no space left on device|disk (is )?full|ENOSPC|ephemeral.storage|file ?system .*full"
            r"|flood.stage|disk usage exceeded|read-only-allow-delete"
            # PostgreSQL, MySQL, Redis and the JVM saying the same in their own words
            r"|could not (extend|write to) file|Errcode: 28|unable to persist to disk|MISCONF Redis"
            r"|There is not enough space on the disk",
            re.I,
        ),
    ),
    ("resource_exhaustion", COUNTER_LIMIT),  # a datastore's counter or table ran out (above)
    # Time itself: a local time that does not exist or happens twice (a daylight-saving change), a clock
    # that jumped or drifted from its peers.
    (
        "clock",
        re.compile(
            r"NonExistentTimeError|AmbiguousTimeError|non-?existent (local )?time|ambiguous (local )?time"
            r"|clock (skew|drift)|skewed clock|time (went|moved|jumped) backwards?|leap second|daylight.saving",
            re.I,
        ),
    ),
    (
        "failover",
        re.compile(
            r"read-only transaction|in a read-only|read only replica|is in recovery|recovery is in progress"
            r"|not (the )?(primary|master|leader)|no longer (the )?(primary|leader)|demoted|failover"
            # MySQL's read-only replica, Kafka's and etcd's leadership moving
            r"|--(super-)?read-only option|NOT_LEADER_(FOR_PARTITION|OR_FOLLOWER)|NotLeaderFor|LEADER_NOT_AVAILABLE"
            r"|leader changed|no leader",
            re.I,
        ),
    ),
    (
        "certificate",
        re.compile(
            r"certificate|x509|tls: expired|ssl.*(alert|handshake|verify)|handshake fail(ed|ure)"
            # Node's, the JVM's and OpenSSL's own words
            r"|CERT_HAS_EXPIRED|UNABLE_TO_VERIFY_LEAF_SIGNATURE|SSLHandshakeException|PKIX path|unknown ca\b",
            re.I,
        ),
    ),
    (
        "dns",
        re.compile(
            # a resolver's own words (Go's "lookup HOST on SERVER:53: ... i/o timeout"), not any
            # "lookup ... timeout": a cache or a session "lookup failed: i/o timeout" is no DNS fault
            r"no such host|NXDOMAIN|SERVFAIL|name resolution|could not resolve|dns"
            r"|lookup [\w.-]+(?: on \S+)?: .*time(?:d )?out|lookup \S+ on \S+:53\b|server misbehaving"
            # Node's and the JVM's resolver failures
            r"|ENOTFOUND|EAI_AGAIN|UnknownHostException",
            re.I,
        ),
    ),
    (
        "connection_pool",
        re.compile(
            r"connection pool|pool (is )?exhausted|connection is not available|too many (clients|connections)"
            r"|timeout waiting for (a )?connection|remaining connection slots|acquire connection"
            # SQLAlchemy's, Redis', JDBC's and PgBouncer's pools and limits
            r"|QueuePool limit|max(imum)? number of clients|Unable to acquire JDBC Connection"
            r"|no more connections allowed|connection limit exceeded|could not obtain (a )?connection",
            re.I,
        ),
    ),
    # Out of threads, not of memory, whatever the JVM calls it ("OutOfMemoryError: unable to create new
    # native thread"): a thread leak or a pids limit, which more memory does not fix.
    ("resource_exhaustion", re.compile(r"unable to create (a )?new native thread|pthread_create failed", re.I)),
    (
        "oom",
        re.compile(
            r"OOMKilled|out of memory|OutOfMemoryError|MemoryError|memory limit"
            r"|used memory > 'maxmemory'|Cannot allocate memory|ENOMEM|heap limit|oom-kill",
            re.I,
        ),
    ),
    (
        "queue_backlog",
        re.compile(
            r"queue (depth|backlog|lag)|consumer lag|backlog|messages? waiting|waited \S+ in (the )?queue|behind by",
            re.I,
        ),
    ),
    # A quota or rate limit someone else enforces is not our traffic surging: scaling out would only
    # hit it harder. It names no failure mode of ours; QUOTA keeps it from reading as a surge.
    ("traffic_surge", re.compile(r"queue full|shedding|worker pool exhausted|too many requests|overloaded", re.I)),
    # A deadline exceeded, a timeout, is what any slow or unreachable dependency looks like from the
    # caller (a partition, a stalled database): it names no failure mode, so it is not one here; the
    # graph and the changes decide. Resource exhaustion is the process's own starvation.
    (
        "resource_exhaustion",
        re.compile(
            r"cpu throttl|thread starvation|gc overhead|run queue"
            r"|Resource temporarily unavailable|no buffer space available",
            re.I,
        ),
    ),
    ("resource_exhaustion", FD_LIMIT),  # ... or of its file descriptors
    (
        "crash",
        re.compile(
            r"panic:|segmentation fault|fatal error|unhandled exception|required environment variable"
            r"|SIGSEGV|core dumped|CrashLoopBackOff|Back-off restarting failed container",
            re.I,
        ),
    ),
]
SEMANTIC_CHANGES = {"migration", "feature_flag", "config"}


def failed_over_datastore(bundle: EvidenceBundle) -> str | None:
    """The direct datastore dependency whose own SLI moved around the onset (a failover shows as a
    short burst of errors there), if exactly one did: a failover happened to it, not to the caller."""
    callees = set(bundle.graph.get(bundle.service, []))
    moved = sorted(
        {
            d.service
            for d in bundle.dependencies
            if d.service in callees
            and d.onset is not None
            and getattr(bundle.components.get(d.service), "kind", "") in DATASTORE_KINDS
        }
    )
    return moved[0] if len(moved) == 1 else None


QUOTA = re.compile(r"quota|rate.?limit(ed)?|RESOURCE_EXHAUSTED|429 Too Many Requests|throttled by", re.I)


def symptom_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """Failure modes named by the new or spiking error logs (disk full, DNS, certificates...).

    A failover is the datastore's event: the caller that keeps writing to the demoted primary is
    where it shows, so the entity is the datastore that moved (when one did)."""
    found: dict[RootCauseCategory, Hypothesis] = {}
    for log in bundle.logs:
        text = f"{log.template} {log.example}"
        for category, pattern in SIGNATURES:
            if category in ("traffic_surge", "resource_exhaustion") and QUOTA.search(text):
                break  # a limit enforced on us, not our load: no capacity category, no scale-up
            if pattern.search(text):
                if category not in found:
                    found[category] = Hypothesis(
                        entity=(failed_over_datastore(bundle) or bundle.service)
                        if category == "failover"
                        else bundle.service,
                        category=category,
                        description=f"{bundle.service} logs show {category.replace('_', ' ')}: {log.example[:200]}",
                        score=0.6 + (0.05 if log.is_new else 0.0),
                        evidence_ids=[log.evidence_id],
                    )
                break
    return sorted(found.values(), key=lambda h: h.score, reverse=True)


def symptoms_of(bundle: EvidenceBundle, name: str) -> list[Hypothesis]:
    """The failure modes ``name``'s own logs name (`symptom_hypotheses` read on that component); none
    for a component whose logs were not read."""
    if name == bundle.service:
        return symptom_hypotheses(bundle)
    facts = bundle.components.get(name)
    if facts is None:
        return []
    return symptom_hypotheses(bundle.model_copy(update={"service": name, "logs": facts.logs}))


def triggering_change(bundle: EvidenceBundle, entity: str) -> ChangeFact | None:
    """The most likely change on ``entity`` before the onset, if any: a symptom's probable trigger. A
    change that names no component (a shared policy or config repository's) can trigger anyone's."""
    return next(
        (c for c in bundle.changes if (c.service == entity and c.distance == 0) or c.touches_all),
        None,
    )


STALL_SCORE = 0.7


def stall_hypothesis(bundle: EvidenceBundle) -> Hypothesis | None:
    """The alerting service's throughput fell to a fraction and stayed there while nothing failed: it
    stopped consuming (a deadlock, dead connections), and its backlog grows. Its trigger is its own
    change before the onset (its current release, however old: a stall may wait for the input that
    deadlocks it), else a change of a dependency it reads from (a broker node replaced under it)."""
    primary = bundle.primary
    if primary is None or not primary.falling or primary.onset is None:
        return None
    onset = primary.onset
    own = next((c for c in bundle.changes if c.service == bundle.service and c.distance == 0), None)
    callees = set(bundle.graph.get(bundle.service, []))
    upstream = next(
        (
            c
            for c in bundle.changes
            if c.service in callees and 0 <= (onset - c.at).total_seconds() <= CALLER_LOAD_WINDOW
        ),
        None,
    )
    trigger = own or upstream
    fell = f"{_rate(primary.baseline)} before, {_rate(primary.peak)} at the lowest"
    description = (
        f"{bundle.service} stopped consuming at {_fmt_time(onset)} without failing ({fell}): its backlog grows"
    )
    if own is not None:
        description += f"; its own {own.kind} {own.id} at {_fmt_time(own.at)} ({own.description}) is the suspect"
    elif upstream is not None:
        description += (
            f"; after {upstream.kind} {upstream.id} on {upstream.service} at {_fmt_time(upstream.at)} "
            f"({upstream.description}), which it reads from"
        )
    evidence = [primary.evidence_id, *([trigger.evidence_id] if trigger else [])]
    if bundle.pods is not None:
        evidence.append(bundle.pods.evidence_id)
    return Hypothesis(
        entity=bundle.service,
        category="queue_backlog",
        description=description,
        score=STALL_SCORE + (0.1 if trigger else 0.0),
        evidence_ids=[e for e in evidence if e],
        # Only its own change is something to roll back here; a dependency's is the occasion.
        change_id=own.id if own is not None else "",
        stalled=True,
    )


# Failure modes a configuration change can set off that the logs name outright: the diagnosis is the
# mechanism (a certificate bundle written without the intermediate is a certificate failure), the
# change its trigger and what is reverted.
# Only when the change configures that mechanism itself (a trust bundle, resolver settings, a pool
# size): a URL pointed at the wrong host fails verification too, but that is a configuration error.
CONFIG_MECHANISMS: dict[RootCauseCategory, re.Pattern[str]] = {
    "certificate": re.compile(r"cert|\.crt\b|\.pem\b|\btls\b|\bssl\b|x509|ca.?bundle|trust|issuer|intermediate", re.I),
    "dns": re.compile(r"\bdns\b|resolv|nameserver|ndots|search domain|upstream resolver", re.I),
    "connection_pool": re.compile(r"pool|max.?conn|connections", re.I),
    "disk_full": re.compile(r"disk|volume|storage|retention|ephemeral", re.I),
    "oom": re.compile(r"memory|heap|xmx", re.I),
    "queue_backlog": re.compile(r"consumer|concurrency|prefetch|\bqueue", re.I),
}


def _config_names_a_mechanism(
    bundle: EvidenceBundle, symptoms: list[Hypothesis], top_change: ChangeFact | None
) -> bool:
    """The leading change is a configuration change of the service whose own logs name a failure mode
    that the change configures (`CONFIG_MECHANISMS`): the symptom leads, with the change as its trigger."""
    if not symptoms or top_change is None or top_change.kind != "config":
        return False
    lead = symptoms[0]
    configures = CONFIG_MECHANISMS.get(lead.category)
    return (
        configures is not None
        and bool(configures.search(top_change.description))
        and triggering_change(bundle, lead.entity) is top_change
    )


# A pod of the current template that never starts: its image cannot be pulled, its container cannot
# be created, or it exits at once and again.
START_FAILURE = re.compile(
    r"ImagePullBackOff|ErrImagePull|InvalidImageName|CreateContainer(Config)?Error|CrashLoopBackOff", re.I
)
START_FAILURE_SCORE = 0.8
CAPACITY_CATEGORIES: frozenset[RootCauseCategory] = frozenset(
    {"traffic_surge", "saturation", "resource_exhaustion", "queue_backlog", "connection_pool"}
)


def build_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    hypotheses: list[Hypothesis] = []
    stall = stall_hypothesis(bundle)
    if stall is not None:
        # Work that stopped is the symptom; the changes are its suspects, folded into it.
        hypotheses.append(stall)
    symptoms = symptom_hypotheses(bundle)
    linked = [c for c in bundle.changes if c.linked_tokens and c.score >= LINKED]
    top_change = bundle.changes[0] if bundle.changes else None
    if (
        symptoms
        and not linked
        and not (top_change is not None and top_change.kind in SEMANTIC_CHANGES and top_change.score >= 0.4)
    ) or _config_names_a_mechanism(bundle, symptoms, top_change):
        # A failure mode the logs name outranks a change that shares nothing with the errors; the change,
        # if on the same service, stays as its probable trigger (so rolling it back is an option).
        lead = symptoms[0]
        trigger = triggering_change(bundle, lead.entity)
        if trigger is not None:
            # A crash right after a change of the same service is that change's failure (a bad deploy);
            # resource failure modes (disk, memory, pools...) keep their own name, the change is their trigger.
            # So is a capacity symptom (queues full, shedding, saturation) while the release's new pods
            # cannot start: the pods it took away are the lost capacity, not a surge.
            cannot_start = bundle.pods is not None and any(START_FAILURE.search(r) for r in bundle.pods.reasons)
            from_release = lead.category == "crash" or (cannot_start and lead.category in CAPACITY_CATEGORIES)
            category: RootCauseCategory = (
                CHANGE_CATEGORY.get(trigger.kind, "bad_deploy") if from_release else lead.category
            )
            lead = lead.model_copy(
                update={
                    "category": category,
                    "description": (
                        f"{lead.entity}'s new pods cannot start ({', '.join(sorted(bundle.pods.reasons))}), so the "
                        f"pods left carry the load: {lead.description}"
                        if cannot_start and from_release and bundle.pods is not None
                        else lead.description
                    )
                    + f"; probably triggered by {trigger.kind} {trigger.id} at {_fmt_time(trigger.at)} ({trigger.description})",
                    "evidence_ids": [*lead.evidence_ids, trigger.evidence_id],
                    "score": max(lead.score, START_FAILURE_SCORE if cannot_start else 0.7),
                    "change_id": trigger.id,
                }
            )
        # Other failure modes in the same logs and unhealthy pods are co-symptoms: they support the lead.
        support = [i for h in symptoms[1:] for i in h.evidence_ids]
        if bundle.pods is not None and not bundle.pods.healthy:
            support.append(bundle.pods.evidence_id)
        lead = lead.model_copy(update={"evidence_ids": [*lead.evidence_ids, *support]})
        hypotheses.append(lead)
    for change in bundle.changes:  # already ranked: a change related to a stronger one is folded into it
        if any(change.evidence_id in h.evidence_ids for h in hypotheses):
            continue
        hypothesis = change_hypothesis(change, bundle)
        primary = bundle.primary
        if (
            change.kind == "scale_down"
            and change.service == bundle.service
            and primary is not None
            and primary.anomalous
        ):
            # Capacity taken from the very service that now fails: its failure waits for the load, so
            # recency says little; the removed replicas are the lead.
            hypothesis = hypothesis.model_copy(update={"score": max(hypothesis.score, SCALE_DOWN_SCORE)})
        hypotheses.append(hypothesis)
    surge = next((s for s in bundle.own if s.signal == "traffic" and s.anomalous and not s.falling), None)
    primary = bundle.primary
    if surge is not None and primary is not None and primary.anomalous and not linked:
        # Twice the requests or more, and it fails: a capacity problem unless a change explains it.
        support = [log.evidence_id for log in bundle.logs if CAPACITY_WORDS.search(f"{log.template} {log.example}")]
        hypotheses.append(
            Hypothesis(
                entity=bundle.service,
                category="traffic_surge",
                description=(
                    f"traffic surge on {bundle.service}: {surge.peak:.3g} requests/s against {surge.baseline:.3g} before "
                    f"the onset ({(surge.peak or 0) / max(surge.baseline or 1e-9, 1e-9):.1f}x) and fails under it"
                ),
                score=SURGE_SCORE + (0.1 if support else 0.0),
                evidence_ids=[surge.evidence_id, primary.evidence_id, *support],
            )
        )
    hypotheses = probe_hypotheses(bundle, hypotheses)
    pods = bundle.pods
    own_change = next((h for h in hypotheses if h.entity == bundle.service and h.change_id and h.score >= LINKED), None)
    if (
        pods is not None
        and not pods.healthy
        and own_change is not None
        and not any("OOMKilled" in r for r in pods.reasons)
    ):
        # Pods crashing after a strong change of their own service are that change's symptom, not a rival cause.
        index = hypotheses.index(own_change)
        hypotheses[index] = own_change.model_copy(update={"evidence_ids": [*own_change.evidence_ids, pods.evidence_id]})
    if pods is not None and not pods.healthy and not any(pods.evidence_id in h.evidence_ids for h in hypotheses):
        reasons = set(pods.reasons)
        pod_category: RootCauseCategory = "oom" if any("OOMKilled" in r for r in reasons) else "crash"
        score = 0.75 if reasons else 0.5
        # Pods failing soon after a release of their own are most likely that release's failure:
        # rolling it back is then the fix, a restart only buys time.
        trigger = triggering_change(bundle, bundle.service)
        recent = trigger is not None and trigger.score >= LINKED * 0.75
        if recent and trigger is not None and pod_category == "crash":
            pod_category = CHANGE_CATEGORY.get(trigger.kind, "bad_deploy")  # as for a crash the logs name
        hypotheses.append(
            Hypothesis(
                entity=bundle.service,
                category=pod_category,
                description=(
                    f"{bundle.service} pods unhealthy: {pods.ready}/{pods.total} ready, {pods.restarts} restarts "
                    f"({', '.join(sorted(reasons)) or 'not ready'})"
                    + (
                        f"; probably triggered by {trigger.kind} {trigger.id} at {_fmt_time(trigger.at)}"
                        if recent and trigger
                        else ""
                    )
                ),
                score=score,
                evidence_ids=[pods.evidence_id, *([trigger.evidence_id] if recent and trigger else [])],
                change_id=trigger.id if recent and trigger else "",
            )
        )
    hypotheses = path_hypotheses(bundle, hypotheses)
    seen: set[str] = set()
    below = downstream(bundle.graph, bundle.service) if bundle.graph else None
    for dep in bundle.dependencies:
        if dep.anomalous and dep.service not in seen and (below is None or dep.service in below):
            seen.add(dep.service)
            hypotheses.append(
                Hypothesis(
                    entity=dep.service,
                    category="dependency",
                    description=f"dependency {dep.service} is anomalous: {dep.signal} {dep.current} vs baseline {dep.baseline}",
                    score=0.6,
                    evidence_ids=[dep.evidence_id],
                )
            )
    return sorted(hypotheses, key=lambda h: h.score, reverse=True)


PATH_SCORE = 0.8  # a caller's change that broke its calls to one callee, which serves its other callers
PATH_ONLY_SCORE = 0.55  # the same without a change of the caller's: its side of the path, cause unnamed


PROBE_WORDS = re.compile(
    r"liveness|readiness|startup ?probe|\bprobes?\b|health ?check|timeoutSeconds|failureThreshold", re.I
)
PROBE_SCORE = 0.8


def probe_hypotheses(bundle: EvidenceBundle, hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """Pods the kubelet kills on failed liveness probes, and a change of the service's own that edited
    its probes (however long before: the probes bite when the load slows the answers): that change is
    the cause, its rollback the fix; the restarts are its symptom, not a crash."""
    pods = bundle.pods
    if pods is None or not pods.probe_killed:
        return hypotheses
    change = next(
        (c for c in bundle.changes if c.service == bundle.service and PROBE_WORDS.search(c.description)), None
    )
    if change is None:
        return hypotheses
    found = change_hypothesis(change, bundle)
    lead = found.model_copy(
        update={
            "score": max(found.score, PROBE_SCORE),
            "description": f"{found.description}; it edited {bundle.service}'s probes, and the kubelet now kills "
            f"its pods on failed liveness probes ({pods.restarts} restarts)",
            "evidence_ids": [*found.evidence_ids, pods.evidence_id, pods.probe_evidence_id],
        }
    )
    return [lead, *(h for h in hypotheses if h.change_id != change.id)]


def path_hypotheses(bundle: EvidenceBundle, hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """One caller's calls to a callee fail while the callee's other callers are served as before and the
    callee's own error rate stays flat: what broke is on that caller's side of the path (its release
    pointed at a wrong port or endpoint, its network policy), never the callee. The caller's change, if
    it has one, is the lead; else its side of the path is a weaker one."""
    flat = {s.service for s in bundle.dependencies if s.signal == "error_rate" and not s.anomalous and not s.missing}
    out = list(hypotheses)
    changed = {c.service for c in bundle.changes}
    for callee in sorted({e.callee for e in bundle.edges} & flat - changed):
        # (a callee that changed may refuse one caller by its own rule: a per-client limit, an ACL)
        edge = one_path_failing(bundle.edges, callee)
        if edge is None:
            continue
        why = (
            f"only {edge.caller}'s calls to {callee} fail ({edge.now:.0%} now, {edge.before:.1%} before"
            + (f"; {', '.join(edge.kinds)}" if edge.kinds else "")
            + f"); {callee} serves its other callers as before"
        )
        own = next((h for h in out if h.entity == edge.caller and h.change_id), None)
        change = next((c for c in bundle.changes if c.service == edge.caller), None)
        if own is not None:
            index = out.index(own)
            out[index] = own.model_copy(
                update={
                    "score": max(own.score, PATH_SCORE),
                    "description": f"{own.description}; {why}",
                    "evidence_ids": [*own.evidence_ids, edge.evidence_id],
                }
            )
        elif change is not None:
            found = change_hypothesis(change, bundle)
            out.append(
                found.model_copy(
                    update={
                        "score": max(found.score, PATH_SCORE),
                        "description": f"{found.description}; {why}",
                        "evidence_ids": [*found.evidence_ids, edge.evidence_id],
                    }
                )
            )
        else:
            out.append(
                Hypothesis(
                    entity=edge.caller,
                    category="network",
                    description=f"the path from {edge.caller} to {callee} is broken on {edge.caller}'s side: {why}",
                    score=PATH_ONLY_SCORE,
                    evidence_ids=[edge.evidence_id],
                )
            )
        # The callee is not the origin: what its one caller sees is the path's doing.
        out = [h for h in out if not (h.entity == callee and not h.change_id)]
    return out


def ruled_out_items(bundle: EvidenceBundle, lead: Hypothesis | None) -> list[RuledOut]:
    items: list[RuledOut] = []
    for change in bundle.changes:
        if lead is not None and change.evidence_id in lead.evidence_ids:
            continue  # the lead itself, or a change that shipped with it
        why = "; ".join(change.reasons) or "no link to the failure"
        items.append(
            RuledOut(
                what=f"{change.kind} {change.id} on {change.service} ({change.description})",
                why=why,
                evidence_ids=[change.evidence_id],
            )
        )
    anomalous = {d.service for d in bundle.dependencies if d.anomalous}
    for dep in bundle.dependencies:
        if not dep.anomalous and dep.service not in anomalous and dep.signal == "error_rate":
            items.append(
                RuledOut(
                    what=f"dependency {dep.service}",
                    why=f"{dep.signal} normal ({dep.current} vs baseline {dep.baseline})",
                    evidence_ids=[dep.evidence_id],
                )
            )
    if bundle.pods is not None and bundle.pods.healthy:
        items.append(
            RuledOut(
                what="pod crashes or resource exhaustion",
                why=f"{bundle.pods.ready}/{bundle.pods.total} pods ready, no restarts",
                evidence_ids=[bundle.pods.evidence_id],
            )
        )
    return items


def _undirected(graph: dict[str, list[str]], source: str) -> dict[str, int]:
    neighbours: dict[str, set[str]] = {}
    for caller, callees in graph.items():
        for callee in callees:
            neighbours.setdefault(caller, set()).add(callee)
            neighbours.setdefault(callee, set()).add(caller)
    distances, frontier = {source: 0}, [source]
    while frontier:
        nxt = []
        for node in frontier:
            for other in sorted(neighbours.get(node, ())):
                if other not in distances:
                    distances[other] = distances[node] + 1
                    nxt.append(other)
        frontier = nxt
    return distances


def origin_view(bundle: EvidenceBundle, origin: str) -> EvidenceBundle:
    """The bundle as if ``origin`` were the alerting service: its logs, its pods, changes re-scored by
    their distance to it (the topology term of the change correlator, 0.25 / (1 + hops))."""
    facts = bundle.components[origin]
    hops = _undirected(bundle.graph, origin)
    changes = []
    for change in bundle.changes:
        distance = hops.get(change.service)
        if distance is None:
            continue
        score = change.score - 0.25 / (1 + change.distance) + 0.25 / (1 + distance)
        changes.append(change.model_copy(update={"distance": distance, "score": round(score, 4)}))
    changes.sort(key=lambda c: -c.score)
    primary = next((d for d in bundle.dependencies if d.service == origin and d.anomalous), bundle.primary)
    return bundle.model_copy(
        update={"service": origin, "logs": facts.logs, "pods": facts.pods, "changes": changes, "primary": primary}
    )


SLOW_FACTOR = 3.0  # a dependency whose p99 grew this many times is slow enough to fail its callers' calls
SATURATED = 0.9


def _slow_or_saturated(bundle: EvidenceBundle, name: str) -> bool:
    for s in bundle.dependencies:
        if s.service != name or not s.anomalous or s.peak is None:
            continue
        if s.signal == "latency_p99" and s.baseline and s.peak >= SLOW_FACTOR * s.baseline:
            return True
        if s.signal == "saturation" and s.peak >= SATURATED:
            return True
    return False


def waited_on(bundle: EvidenceBundle, ranking: RankingResult) -> RootCauseCandidate:
    """The ranker's leader, or what it waits on: an error rate counts its failed requests, so a caller
    whose calls time out on a slow dependency (retries amplifying them) can fail far more than the
    dependency does and lead the ranking. When a direct dependency of the leader is slow (its p99
    several times its own) or saturated, and the leader has no failure of its own (its pods healthy,
    no change linked to the errors), that dependency is where the failure starts (followed twice)."""
    by_name = {c.component: c for c in ranking.candidates}
    lead = ranking.candidates[0]
    for _ in range(2):
        if fails_on_its_own(bundle, lead.component):
            break
        slow = [
            by_name[d]
            for d in bundle.graph.get(lead.component, [])
            if d in by_name and by_name[d].score > 0 and _slow_or_saturated(bundle, d)
        ]
        if len(slow) != 1:
            break
        lead = slow[0]
    return lead


def origin_hypotheses(bundle: EvidenceBundle, ranking: RankingResult) -> list[Hypothesis]:
    """Hypotheses about the origin the graph ranker leads with, when it is not the alerting service.

    Its own changes, log signatures and pods are read as they are for the alerting service. A third
    party (``external``) is a third-party failure. An origin with no change of its own but whose
    caller changed shortly before the onset (a release, a scale-up) got its load from that caller:
    the caller is the root and undoing its change the fix; never for a third party (a recent release
    of ours does not make a provider answer 503: the callers' releases there are red herrings).
    """
    if not ranking.candidates or ranking.candidates[0].score <= 0:
        return []
    lead = waited_on(bundle, ranking)
    origin = lead.component
    if origin == bundle.service or origin not in bundle.components:
        return []
    facts = bundle.components[origin]
    view = origin_view(bundle, origin)
    cited = [e for e in (s.evidence_id for s in bundle.dependencies if s.service == origin) if e]
    if bundle.primary is not None:
        cited.append(bundle.primary.evidence_id)
    found = [h for h in build_hypotheses(view) if h.entity == origin and "dependency" != h.category]
    seen = symptom_hypotheses(bundle)  # what the alerting service's own logs name
    if seen and found and all(h.category in CHANGE_CATEGORIES for h in found):
        # The origin's change shows no failure mode in the origin's own logs, but its callers' do (a
        # resolver's rollout seen as failed lookups): that mechanism is the category, the change its
        # trigger (rolling it back stays the fix), as for a change of the alerting service itself.
        mechanism = seen[0]
        found = [
            h.model_copy(
                update={
                    "category": mechanism.category,
                    "description": f"{h.description}; seen by {bundle.service} as {mechanism.category.replace('_', ' ')}",
                    "evidence_ids": [*h.evidence_ids, *mechanism.evidence_ids],
                }
            )
            if h.change_id
            else h
            for h in found
        ]
    reason = "; ".join([ranking.reason, *lead.reasons[:2]])
    if facts.kind == "external" and not any(h.change_id for h in found):
        page = facts.provider
        confirmed = page is not None and page.reports_trouble
        found.append(
            Hypothesis(
                entity=origin,
                category="third_party",
                description=f"third party {origin} is failing its callers: {reason}"
                + (f"; the provider's status page confirms it: {_provider_words(page)}" if page and confirmed else ""),
                score=0.8 if confirmed else 0.7,
                evidence_ids=[*cited, *([page.evidence_id] if page and confirmed else [])],
            )
        )
    own_change = any(h.change_id and h.entity == origin for h in found)
    # A disk filling up, an expired certificate, a crash, a failover, a counter or its descriptors run
    # out is the origin's own failure; only a failure mode that more load produces (pools, saturation,
    # backlogs, none named) may come from a caller's change.
    own_failure = any(
        h.entity == origin
        and (h.category not in LOAD_CATEGORIES or COUNTER_LIMIT.search(h.description) or FD_LIMIT.search(h.description))
        for h in found
    )
    if not own_change and not own_failure:
        callers = sorted(name for name, callees in bundle.graph.items() if origin in callees)
        # A caller whose own request rate was measured flat sent no more calls than before: its change
        # is the weaker suspect for loading the origin when another caller changed too (stable order
        # otherwise: the correlator's ranking).
        flat = {s.service for s in bundle.own if s.signal == "traffic" and not s.anomalous and not s.missing}
        for change in sorted(view.changes, key=lambda c: c.service in flat):
            if change.service not in callers or change.service == origin:
                continue
            onset = bundle.primary.onset if bundle.primary else None
            # A workload multiplied (a scale-up, a Job) can take a while to add up; a release's new
            # load arrives with its pods: one long before the onset did not bring it.
            window = RELEASE_LOAD_WINDOW if change.kind in RELEASE_KINDS else CALLER_LOAD_WINDOW
            recent = onset is not None and 0 <= (onset - change.at).total_seconds() <= window
            if not recent or facts.kind == "external":
                continue
            symptom = next((h for h in found if h.category not in CHANGE_CATEGORIES), None)
            # The caller's own logs may name why it loads the origin (a loop on a local time that does
            # not exist, a crash-and-retry): that failure mode is the category.
            caller_mode = next(
                (h for h in symptoms_of(bundle, change.service) if h.category not in LOAD_CATEGORIES), None
            )
            # A caller's own release that loads the origin is that release's fault (a bad deploy, a
            # migration); a workload multiplied (scaled up, a Job started) is load: saturation.
            category: RootCauseCategory = (
                caller_mode.category
                if caller_mode is not None
                else symptom.category
                if symptom is not None
                else CHANGE_CATEGORY.get(change.kind, "bad_deploy")
                if change.service == bundle.service or change.kind in RELEASE_KINDS
                else "saturation"
            )
            # A migration the caller's pipeline ran changed the datastore itself (its schema, its indexes):
            # the fault lives in the datastore, the migration is its change (reverted by its workflow).
            altered = change.kind == "migration" and facts.kind == "database"
            # The origin's own symptoms are how the load shows: they support this hypothesis, not rival it.
            found = [
                Hypothesis(
                    entity=origin if altered else change.service,
                    category="migration" if altered else category,
                    description=(
                        f"{change.kind} on {change.service} at {_fmt_time(change.at)} ({change.description}) "
                        + ("altered" if altered else "loads")
                        + f" {origin}, where the failure starts: {reason}"
                        + (f"; {origin}: {symptom.description}" if symptom else "")
                        + (f"; {caller_mode.description}" if caller_mode else "")
                    ),
                    score=0.75,
                    evidence_ids=[
                        change.evidence_id,
                        *cited,
                        *(symptom.evidence_ids if symptom else []),
                        *(caller_mode.evidence_ids if caller_mode else []),
                    ],
                    change_id=change.id,
                )
            ]
            break
    if not found:
        found.append(
            Hypothesis(
                entity=origin,
                category="dependency",
                description=f"the failure starts at {origin}: {reason}",
                score=0.6,
                evidence_ids=cited,
            )
        )
    bonus = 0.0 if ranking.abstained else ORIGIN_BONUS
    return [h.model_copy(update={"score": round(min(0.95, h.score + bonus), 4)}) for h in found]


def callers_see_it_failing(bundle: EvidenceBundle) -> SignalSummary | None:
    """When the alerting service's own error SLI is normal but every direct caller's error rate is
    anomalous, the strongest caller's signal (its onset tells when it started); else None."""
    primary = bundle.primary
    if primary is None or primary.anomalous or primary.signal != "error_rate":
        return None
    callers = sorted(name for name, callees in bundle.graph.items() if bundle.service in callees)
    seen = [d for d in bundle.dependencies if d.service in callers and d.signal == "error_rate"]
    if not callers or len({d.service for d in seen}) < len(callers) or not all(d.anomalous for d in seen):
        return None
    return max(seen, key=lambda d: (d.peak or 0.0) - (d.baseline or 0.0))


def neighbour_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """Workloads scaled up onto the alerting service's nodes shortly before the onset: noisy
    neighbours (CPU, memory, disk or network of the shared nodes), whatever the call graph says.
    Only read when the graph finds no dependency that explains the alerting service's move."""
    own = bundle.pods
    primary = bundle.primary
    if own is None or not own.nodes or primary is None or primary.onset is None:
        return []
    found = []
    for change in bundle.changes:
        facts = bundle.components.get(change.service)
        if change.kind != "scale_up" or facts is None or facts.pods is None:
            continue
        shared = sorted(set(own.nodes) & set(facts.pods.nodes))
        before = (primary.onset - change.at).total_seconds()
        if not shared or not 0 <= before <= CALLER_LOAD_WINDOW:
            continue
        found.append(
            Hypothesis(
                entity=change.service,
                category="noisy_neighbour",
                description=(
                    f"noisy neighbour: {change.description} at {_fmt_time(change.at)}, onto nodes "
                    f"{', '.join(shared)} where {bundle.service} runs; {bundle.service}'s dependencies do not explain its move"
                ),
                score=NEIGHBOUR_SCORE,
                evidence_ids=[change.evidence_id, own.evidence_id, facts.pods.evidence_id, primary.evidence_id],
                change_id=change.id,
            )
        )
    return found


def _provider_words(page: ProviderFact) -> str:
    if page.incident:
        return f"{page.incident!r} ({page.status})" + (f", posted {_fmt_time(page.started)}" if page.started else "")
    return f"indicator {page.indicator}"


QUOTA_SCORE = 0.85
RETRY_STORM_SCORE = 0.85
# Retries that do not back off: the caller multiplies the load on a slow dependency until it cannot recover.
NO_BACKOFF = re.compile(
    r"backoff[\s=:(]*0\s*(ms|s)?\b|without backoff|no backoff|retrying immediately|immediate retr", re.I
)


def retry_storm_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A caller retrying without backoff against a dependency that is saturated: the dependency's slowness
    was the trigger, the caller's retries the amplifier that keeps it down (a retry storm). The caller
    is the root (its retry settings are what to undo, `cluster_target`); the saturated dependency is
    named as the contributing trigger. Restarting the dependency or adding callers feeds the storm."""
    saturated = {
        d.service: d for d in bundle.dependencies if d.signal == "saturation" and d.anomalous and not d.falling
    }
    found = []
    for caller, logs in [(bundle.service, bundle.logs), *((n, f.logs) for n, f in sorted(bundle.components.items()))]:
        retrying = [log for log in logs if NO_BACKOFF.search(f"{log.template} {log.example}")]
        hit = sorted(set(bundle.graph.get(caller, [])) & set(saturated))
        if not retrying or not hit:
            continue
        callee = saturated[hit[0]]
        settings = bundle.retry_settings(caller)
        found.append(
            Hypothesis(
                entity=caller,
                category="retry_storm",
                description=(
                    f"{caller} retries without backoff ({retrying[0].example[:140]}) against {callee.service}, "
                    f"saturated at {_pct(callee.peak)} (from {_pct(callee.baseline)}): the retries keep it down"
                    + (
                        f"; its retry settings changed in configmap {settings.namespace}/{settings.name} "
                        f"(revision {settings.from_revision}, keys {', '.join(settings.changed_keys[:4])})"
                        if settings
                        else ""
                    )
                ),
                score=RETRY_STORM_SCORE + (0.05 if settings else 0.0),
                evidence_ids=[
                    *(log.evidence_id for log in retrying),
                    callee.evidence_id,
                    *([settings.evidence_id] if settings else []),
                ],
                change_id=settings.change_id if settings else "",
                contributing=[
                    Hypothesis(
                        entity=callee.service,
                        category="saturation",
                        description=f"{callee.service} saturated (the trigger the retries amplify)",
                        evidence_ids=[callee.evidence_id],
                    )
                ],
            )
        )
    # The caller nearest the saturated dependency with settings to undo first, else the nearest.
    return sorted(found, key=lambda h: -h.score)[:1]


def quota_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A quota or rate limit the alerting service is throttled by (429s, "quota exceeded") is shared by
    every caller of what enforces it: the caller whose load appeared shortly before the onset (a Job
    started, a workload scaled up) spends it, and stopping that load is the fix. Not our traffic
    surging, not the provider failing, and never fixed by scaling the throttled service."""
    primary = bundle.primary
    throttled = [log for log in bundle.logs if QUOTA.search(f"{log.template} {log.example}")]
    if primary is None or primary.onset is None or not throttled:
        return []
    onset = primary.onset
    callees = set(bundle.graph.get(bundle.service, []))
    found = []
    for change in bundle.changes:
        if change.kind != "scale_up" or change.service == bundle.service:
            continue
        shared = sorted(callees & set(bundle.graph.get(change.service, [])))
        if not shared or not 0 <= (onset - change.at).total_seconds() <= 2 * CALLER_LOAD_WINDOW:
            continue
        found.append(
            Hypothesis(
                entity=change.service,
                category="quota",
                description=(
                    f"{change.service}'s load ({change.description}, since {_fmt_time(change.at)}) spends the quota "
                    f"of {', '.join(shared)} that {bundle.service} shares with it: {bundle.service} is throttled "
                    f"({throttled[0].example[:160]})"
                ),
                score=QUOTA_SCORE,
                evidence_ids=[change.evidence_id, primary.evidence_id, *(log.evidence_id for log in throttled)],
                change_id=change.id,
            )
        )
    return found[:1]


CASCADE_SPREAD = 2  # other components failing besides the origin and the alerting service


def as_cascade(lead: Hypothesis, bundle: EvidenceBundle) -> Hypothesis:
    """A release of a dependency whose failure spread through several other components before it
    reached the alerting service, among them something it uses (its database saturated, then the
    callers in between failing), is a cascade: the release is still what to roll back, but the
    category says how far it reached. Callers only relaying its errors leave it a bad deploy."""
    if lead.category != "bad_deploy" or lead.entity == bundle.service or not lead.change_id:
        return lead
    spread = sorted({d.service for d in bundle.dependencies if d.anomalous and d.service != lead.entity})
    # Its callers relaying its errors is a bad release seen from above; a cascade is one that broke what
    # it uses too (its database saturated), and through that reached others.
    broke_below = set(spread) & downstream(bundle.graph, lead.entity)
    if len(spread) < CASCADE_SPREAD or not broke_below:
        return lead
    return lead.model_copy(
        update={
            "category": "cascading",
            "description": f"{lead.description}; the failure cascades through {', '.join(spread)} to {bundle.service}",
            "evidence_ids": [
                *lead.evidence_ids,
                *(d.evidence_id for d in bundle.dependencies if d.service in spread and d.anomalous),
            ],
        }
    )


def fold_into_storm(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """A retry storm's load symptoms (the saturated dependency's exhausted pool, the caller's timeouts on
    it) are how the storm shows, not rival causes: they become its support."""
    storm = next((h for h in hypotheses if h.category == "retry_storm"), None)
    if storm is None:
        return hypotheses
    involved = {storm.entity, *(c.entity for c in storm.contributing)}
    symptoms = [h for h in hypotheses if h is not storm and h.entity in involved and h.category in LOAD_CATEGORIES]
    if not symptoms:
        return hypotheses
    support = [i for h in symptoms for i in h.evidence_ids if i not in storm.evidence_ids]
    folded = storm.model_copy(update={"evidence_ids": [*storm.evidence_ids, *dict.fromkeys(support)]})
    return [folded if h is storm else h for h in hypotheses if not any(h is s for s in symptoms)]


def provider_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A third party the alerting service depends on (directly or through its callees) whose own
    status page reports trouble while the alerting service fails: the provider's word, whatever the
    graph ranks first (a provider that stops answering exports nothing to rank)."""
    primary = bundle.primary
    if primary is None or not primary.anomalous:
        return []
    below = downstream(bundle.graph, bundle.service)
    found = []
    for name, facts in sorted(bundle.components.items()):
        page = facts.provider
        if facts.kind != "external" or page is None or not page.reports_trouble or name not in below:
            continue
        found.append(
            Hypothesis(
                entity=name,
                category="third_party",
                description=f"third party {name}, which {bundle.service} depends on, reports trouble on its own "
                f"status page: {_provider_words(page)}; {page.latest[:160]}".rstrip("; "),
                score=0.8,
                evidence_ids=[page.evidence_id, primary.evidence_id],
            )
        )
    return found


# What a node's pressure condition is, as a root-cause category: the resource its workloads share.
PRESSURE_CATEGORY: dict[str, RootCauseCategory] = {
    "DiskPressure": "disk_full",
    "MemoryPressure": "noisy_neighbour",
    "PIDPressure": "resource_exhaustion",
}
NODE_SCORE = 0.8


def _oom_killed(bundle: EvidenceBundle, name: str) -> bool:
    facts = bundle.components.get(name)
    return facts is not None and facts.pods is not None and any("OOMKilled" in r for r in facts.pods.reasons)


def node_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A node under pressure (disk, memory, PIDs) where the alerting service's pods run: the workload
    on it that started or changed before the pressure is the origin, and the pressure's resource the
    mechanism (a Job filling the shared disk, a DaemonSet whose new config makes it grow). A workload
    that changed (not one that merely started) and fills memory is leaking. Nothing when no other
    workload there started or changed: then the alerting service's own logs and changes decide."""
    found: list[Hypothesis] = []
    primary = bundle.primary
    onset = primary.onset if primary is not None else None
    for node in bundle.nodes:
        pressures = [p for p in node.problems if p in PRESSURE_CATEGORY]
        if not pressures or bundle.service not in node.services or onset is None:
            continue
        others = [name for name in node.services if name != bundle.service]
        jobs = [j for j in bundle.jobs if j.service in others and node.name in j.nodes]
        changed = [
            c
            for c in bundle.changes
            if c.service in others
            and c.at is not None
            and c.at <= (node.since or onset)
            and not c.id.startswith("scale-up-job-")
        ]
        category = PRESSURE_CATEGORY[pressures[0]]
        if jobs:
            job = min(jobs, key=lambda j: j.started or onset)
            entity, change_id, why = job.service, job.change_id, f"job {job.name} runs there"
            cited = [job.evidence_id]
        elif changed:
            change = max(changed, key=lambda c: c.at or onset)
            entity, change_id = change.service, change.id
            why = f"{change.kind} {change.id} on {change.service} at {_fmt_time(change.at)} ({change.description})"
            cited = [change.evidence_id]
            if category == "noisy_neighbour":
                category = "memory_leak"
        elif hogs := [name for name in others if pressures[0] == "MemoryPressure" and _oom_killed(bundle, name)]:
            # Nothing started or changed, but a workload there keeps being OOMKilled: it is the one
            # growing into the node's memory (its own leak), the others starve with it.
            entity, change_id = hogs[0], ""
            why = f"{entity}'s containers there are OOMKilled"
            facts = bundle.components[entity]
            cited = [facts.pods.evidence_id] if facts.pods is not None else []
            category = "memory_leak"
        else:
            continue
        pods = bundle.pods
        found.append(
            Hypothesis(
                entity=entity,
                category=category,
                description=(
                    f"node {node.name} is under {', '.join(pressures)}"
                    + (f" since {_fmt_time(node.since)}" if node.since else "")
                    + f", where {bundle.service} fails; {why}: {entity} shares the node's "
                    f"{'disk' if category == 'disk_full' else 'memory' if pressures[0] == 'MemoryPressure' else 'resources'}"
                ),
                score=NODE_SCORE,
                evidence_ids=[
                    node.evidence_id,
                    *cited,
                    *([pods.evidence_id] if pods is not None else []),
                    *([primary.evidence_id] if primary is not None else []),
                ],
                change_id=change_id,
            )
        )
    return sorted(found, key=lambda h: h.entity)[:1] if len({h.entity for h in found}) == 1 else found


# Which shared component provides what a failure mode is about, by what its catalog entry says it does.
PROVIDERS_OF: dict[RootCauseCategory, re.Pattern[str]] = {
    "dns": re.compile(r"\bdns\b|coredns|kube-dns|resolver|name server", re.I),
    "certificate": re.compile(r"cert-manager|certificate authority|\binternal ca\b|\bpki\b|issuer", re.I),
}


def shared_hypotheses(bundle: EvidenceBundle, symptoms: list[Hypothesis]) -> list[Hypothesis]:
    """Shared infrastructure outside the call graph (no edges in the catalog) that failed with the
    alerting service: its own SLI moved around the onset, or its pods are unhealthy, and it changed
    shortly before. The failure mode is what the alerting service's logs name (a DNS lookup failing,
    a certificate), else the change's."""
    primary = bundle.primary
    if primary is None or primary.onset is None:
        return []
    found = []
    for name, facts in sorted(bundle.components.items()):
        if not facts.shared:
            continue
        moved = [d for d in bundle.dependencies if d.service == name and d.anomalous]
        unhealthy = facts.pods is not None and not facts.pods.healthy
        change = next(
            (
                c
                for c in bundle.changes
                if c.service == name and 0 <= (primary.onset - c.at).total_seconds() <= CALLER_LOAD_WINDOW
            ),
            None,
        )
        symptom = symptoms[0] if symptoms else None
        # The component that provides what the errors say fails (cluster DNS for lookups that fail): its
        # change is the lead even while its own SLI and pods look healthy (it answers, wrongly).
        provides = (
            symptom is not None
            and (words := PROVIDERS_OF.get(symptom.category)) is not None
            and bool(words.search(facts.description))
        )
        if not (moved or unhealthy or provides) or change is None:
            continue
        found.append(
            Hypothesis(
                entity=name,
                category=symptom.category if symptom else CHANGE_CATEGORY.get(change.kind, "bad_deploy"),
                description=(
                    f"shared {name} (outside {bundle.service}'s call graph) failed with it after "
                    f"{change.kind} {change.id} at {_fmt_time(change.at)} ({change.description})"
                    + (f"; {symptom.description}" if symptom else "")
                ),
                score=SHARED_SCORE + (0.1 if provides else 0.0),
                evidence_ids=[
                    change.evidence_id,
                    *(d.evidence_id for d in moved),
                    *([facts.pods.evidence_id] if unhealthy and facts.pods else []),
                    *(symptom.evidence_ids if symptom else []),
                ],
                change_id=change.id,
            )
        )
    return found


CERT_SCORE = 0.9
CERT_BEFORE = 3600.0  # seconds: a certificate that expired this long before the onset, or less, is a lead
CERT_AFTER = 300.0  # ... or this long after it (the expiry metric's and the SLI's clocks differ)


def certificate_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A candidate's certificate whose expiry metric says it expired around the onset: every handshake
    presenting it fails from then on, whatever its TLS stack logs."""
    primary = bundle.primary
    if primary is None or primary.onset is None or not primary.anomalous:
        return []
    onset = primary.onset
    found: dict[str, Hypothesis] = {}
    for cert in sorted(bundle.certificates, key=lambda c: c.not_after):
        lead = (onset - cert.not_after).total_seconds()
        if not -CERT_AFTER <= lead <= CERT_BEFORE or cert.service in found:
            continue
        found[cert.service] = Hypothesis(
            entity=cert.service,
            category="certificate",
            description=f"{cert.service}'s certificate ({cert.subject}) expired at {_fmt_time(cert.not_after)}, "
            f"{max(lead, 0) / 60:.0f} min before the onset: every handshake presenting it fails",
            score=CERT_SCORE,
            evidence_ids=[cert.evidence_id, primary.evidence_id],
        )
    return list(found.values())


TOUCH_BEFORE = 60.0  # seconds a gauge may move before the change it follows (scrape and clock skew)
TOUCH_AFTER = 300.0  # seconds after a change its callee's gauge must move to be its doing
TOUCH_ONSET = 600.0  # seconds between that move and the alerting SLI's onset
TOUCH_SCORE = 0.85
WORKLOAD_RUNS = ("scale-up-job-", "runs-")  # a Job started, a CronJob's runs: load, not a release


def touched_hypotheses(bundle: EvidenceBundle) -> list[Hypothesis]:
    """A change of one component, and within minutes a callee of it, on the alerting service's path,
    moved in its own gauges: the change acted on the callee (a purge emptied a cache, a batch filled a
    database's connections), and the alerting service's failure follows from that callee's new
    state. A cache that lost its keys or hits sends every miss to what it fronts: a stampede."""
    primary = bundle.primary
    if primary is None or primary.onset is None or not primary.anomalous:
        return []
    onset = primary.onset
    path = downstream(bundle.graph, bundle.service)
    found: dict[str, Hypothesis] = {}
    for move in bundle.gauges:
        callee = move.service
        if callee == bundle.service or callee not in path or abs((move.since - onset).total_seconds()) > TOUCH_ONSET:
            continue
        for change in sorted(bundle.changes, key=lambda c: -c.score):
            actor = change.service
            lag = (move.since - change.at).total_seconds()
            if actor in (bundle.service, callee) or callee not in bundle.graph.get(actor, []) or actor in found:
                continue
            if not (change.id.startswith(WORKLOAD_RUNS) or change.kind in ("scale_up", "infrastructure")):
                continue  # a release acting on its callee is read by the origin's caller rules
            if not -TOUCH_BEFORE <= lag <= TOUCH_AFTER:
                continue
            facts = bundle.components.get(callee)
            emptied = facts is not None and facts.kind == "cache" and move.direction == "fell"
            # The callee's own logs may name how its new state fails (connections exhausted): that is the category.
            mode = next((h for h in symptoms_of(bundle, callee) if h.category in LOAD_CATEGORIES), None)
            category: RootCauseCategory = "stampede" if emptied else mode.category if mode is not None else "saturation"
            effect = (
                f"; every miss goes to what {callee} fronts, a stampede on its callers' other dependencies"
                if emptied
                else ""
            )
            found[actor] = Hypothesis(
                entity=actor,
                category=category,
                description=(
                    f"{change.kind} on {actor} at {_fmt_time(change.at)} ({change.description}) acted on {callee}, "
                    f"which it calls: {move.describe()}{effect}"
                ),
                score=TOUCH_SCORE,
                evidence_ids=[
                    change.evidence_id,
                    move.evidence_id,
                    primary.evidence_id,
                    *(mode.evidence_ids if mode is not None else []),
                ],
                change_id=change.id,
            )
    return list(found.values())


def _page_confirms(bundle: EvidenceBundle, name: str) -> bool:
    facts = bundle.components.get(name)
    return facts is not None and facts.provider is not None and facts.provider.reports_trouble


def scheduled_caller(bundle: EvidenceBundle) -> JobTarget | None:
    """The one running Job a CronJob's schedule started before the alert, of a component that calls the
    alerting service: the batch whose load a quiet alert measured."""
    alert_at = bundle.alert.started_at
    found = [
        job
        for job in bundle.jobs
        if job.started_by == "schedule"
        and job.service != bundle.service
        and bundle.service in bundle.graph.get(job.service, [])
        and (alert_at is None or job.started is None or job.started <= alert_at)
    ]
    return found[0] if len({j.service for j in found}) == 1 else None


def maintenance_job(bundle: EvidenceBundle) -> JobTarget | None:
    """The one running Job of another component, started before the alert, while nodes are cordoned
    and the alerting service is short of ready pods: a drain or node rotation evicted them, and the
    maintenance run (not the service) is why an availability alert fired."""
    pods = bundle.pods
    if not bundle.cordoned or pods is None or pods.ready >= pods.total:
        return None
    alert_at = bundle.alert.started_at
    found = [
        job
        for job in bundle.jobs
        if job.running
        and job.service != bundle.service
        and (alert_at is None or job.started is None or job.started <= alert_at)
    ]
    return found[0] if len({j.service for j in found}) == 1 else None


def explained_by(other: Hypothesis, lead: Hypothesis) -> bool:
    """Whether ``other`` is no rival of ``lead``: the same cause named twice, or a reading of the same
    component whose every piece of evidence the lead already cites, with more besides (a pool exhausted
    in the logs of a service whose traffic quadrupled is the surge seen from inside, not a second
    explanation)."""
    if other.entity != lead.entity:
        return False
    if other.category == lead.category:
        return True
    theirs, ours = set(other.evidence_ids), set(lead.evidence_ids)
    return bool(theirs) and theirs < ours


def ranked_hypotheses(bundle: EvidenceBundle, edges: RankingResult | None) -> list[Hypothesis]:
    """Every reading of the evidence, strongest first: the graph (or edge) ranking's origins, the
    alerting service's and its neighbours' own readings, shared infrastructure, changes acted on,
    certificates; victims on the way a failure travels folded into its origin."""
    ranking = edges or origin_ranking(bundle)
    hypotheses = build_hypotheses(bundle)
    if ranking is not None and ranking.candidates and ranking.candidates[0].component == bundle.service:
        hypotheses += neighbour_hypotheses(bundle)
        # The alerting service's move is its own (no dependency explains it): an anomalous dependency
        # the graph ranks far below it is a side effect, not a rival cause.
        top = ranking.candidates[0].score
        graph_score = {c.component: c.score for c in ranking.candidates}
        hypotheses = [
            h
            if h.category != "dependency" or top <= 0 or graph_score.get(h.entity, 0.0) >= RANKING.lead_ratio * top
            else h.model_copy(update={"score": round(h.score * graph_score.get(h.entity, 0.0) / top, 4)})
            for h in hypotheses
        ]
        hypotheses.sort(key=lambda h: h.score, reverse=True)
    shared = [
        *node_hypotheses(bundle),
        *provider_hypotheses(bundle),
        *quota_hypotheses(bundle),
        *retry_storm_hypotheses(bundle),
        *shared_hypotheses(bundle, symptom_hypotheses(bundle)),
    ]
    if shared:
        # The alerting service's own symptoms are how the shared failure shows: support, not rivals.
        folded = {i for h in shared for i in h.evidence_ids}
        hypotheses = [h for h in hypotheses if not (h.entity == bundle.service and set(h.evidence_ids) <= folded)]
        hypotheses = sorted([*shared, *hypotheses], key=lambda h: h.score, reverse=True)
    if ranking is not None:
        from_origin = origin_hypotheses(bundle, ranking)
        if from_origin:
            # The alerting service logging the origin's own failure mode (a database error it relays)
            # is that failure seen from the caller: support for the origin, not a rival.
            relayed = {o.category for o in from_origin} - {"dependency"}
            origins = {o.entity for o in from_origin}
            changed_origins = {o.entity for o in from_origin if o.change_id}
            rest = [
                h
                for h in hypotheses
                if h.entity not in origins
                and not (h.entity == bundle.service and h.category in relayed)
                # a component between the alerting service and the origin, anomalous and nothing more,
                # is on the way the failure travels: a victim, not a rival
                and not (h.category == "dependency" and origins & downstream(bundle.graph, h.entity))
                # ... and so is a release of one when the origin has a change of its own: the origin's
                # own change explains its failure, which the one between only relays
                and not (
                    h.change_id and h.entity != bundle.service and changed_origins & downstream(bundle.graph, h.entity)
                )
            ]
            hypotheses = sorted([*from_origin, *rest], key=lambda h: h.score, reverse=True)
    if edges is not None:
        # Both ends of the call edges measured: a component anomalous in its own SLIs counts as far as
        # the edges say it serves worse on its own, and each service the edges score is a lead.
        # A plain "dependency" reading takes the mechanism the edges show at it (a network delay into it,
        # its resources saturated).
        # Where both read the same component, the stronger stays.
        by_entity = {h.entity: h for h in edge_leads(bundle, edges, bonus=0.0 if edges.abstained else ORIGIN_BONUS)}
        hypotheses = [
            h.model_copy(
                update={
                    "score": round(h.score * edge_share(edges, h.entity), 4),
                    "category": edge_mechanism(edges, h.entity) or h.category,
                }
            )
            if h.category == "dependency" and not h.change_id
            else h
            for h in hypotheses
        ]
        hypotheses = [
            h
            for h in hypotheses
            if not (h.entity in by_entity and not h.change_id and by_entity[h.entity].score > h.score)
        ]
        named = {h.entity for h in hypotheses}
        scored = [h for h in by_entity.values() if h.entity not in named]
        from_logs = log_origin(bundle, edges)
        if from_logs is not None:
            # Where the logged failures start is a lead beside the edges' (a code path that fails fast
            # moves no latency); the same component's readings merge into it.
            mode = next((h for h in symptoms_of(bundle, from_logs.entity)), None)
            if mode is not None:
                from_logs = from_logs.model_copy(update={"category": mode.category})
            same = [h for h in [*hypotheses, *scored] if h.entity == from_logs.entity]
            if all(h.score < from_logs.score and not h.change_id for h in same):
                hypotheses = [h for h in hypotheses if h.entity != from_logs.entity]
                scored = [*(h for h in scored if h.entity != from_logs.entity), from_logs]
        hypotheses = sorted([*hypotheses, *scored], key=lambda h: h.score, reverse=True)
    touched = touched_hypotheses(bundle)
    if touched:
        # The components on the alerting service's path read without a change of their own (a pool
        # exhausted, a dependency failing) are how the acted-on callee's new state shows: victims.
        path = downstream(bundle.graph, bundle.service) | {bundle.service}
        actors = {h.entity for h in touched}
        hypotheses = [h for h in hypotheses if h.entity not in actors and (h.change_id or h.entity not in path)]
        hypotheses = sorted([*touched, *hypotheses], key=lambda h: h.score, reverse=True)
    expired = certificate_hypotheses(bundle)
    if expired:
        # A certificate measured expired at the onset explains its holder's failed handshakes: the
        # silent callee they fail against is no lead of its own (unless its status page says so).
        owners = {h.entity for h in expired}
        silent = silent_components(bundle)
        callees = {c for owner in owners for c in bundle.graph.get(owner, [])}
        hypotheses = [
            h
            for h in hypotheses
            if not (h.entity in silent and h.entity in callees and not _page_confirms(bundle, h.entity))
            and not (h.entity in owners and h.category == "certificate")
        ]
        hypotheses = sorted([*expired, *hypotheses], key=lambda h: h.score, reverse=True)
    hypotheses = fold_into_storm(hypotheses)
    if hypotheses:
        hypotheses[0] = as_cascade(hypotheses[0], bundle)
    return hypotheses


def diagnose_bundle(bundle: EvidenceBundle) -> Diagnosis:
    """Pick the leading hypothesis if it is clearly ahead; otherwise say the result is inconclusive."""
    by_id = {e.id: e for e in bundle.evidence}
    primary = bundle.primary
    seen_by_callers = callers_see_it_failing(bundle)
    if seen_by_callers is not None:
        # Its own SLI looks fine, but what calls it fails: its telemetry is not telling the whole
        # story (a scrape gap, a proxy answering for it). The callers' view is the symptom.
        bundle = bundle.model_copy(update={"primary": seen_by_callers.model_copy(update={"service": bundle.service})})
        primary = bundle.primary
    edges = edge_ranking(bundle)
    if primary is not None and not primary.anomalous and primary.current is not None and not serves_worse(edges):
        recovered = primary.onset is not None
        show = _secs if primary.signal == "latency_p99" else _pct
        text = (
            f"{bundle.service}'s {primary.signal} rose at {_fmt_time(primary.onset)} and has recovered by itself: "
            f"{show(primary.current)} now against a baseline of {show(primary.baseline)}"
            if recovered
            else f"no sustained anomaly on {bundle.service}: {primary.signal} is {show(primary.current)} against a baseline of {show(primary.baseline)}"
        )
        source = bundle.alert_source
        # Not when the service's traffic moved: customers not reaching it is what a prober sees first.
        traffic_moved = any(s.signal == "traffic" and s.anomalous for s in bundle.own)
        measured_by = source is not None and not recovered and source.component != bundle.service and not traffic_moved
        if measured_by and source is not None:
            # The alert is another component's measurement of this service, and the service's own
            # telemetry says it is fine: the measurement (a check's expectation, a prober's path) is
            # why the alert fired.
            text = (
                f"{text}; the alert reads {source.selector}, which {source.component} measures and exports: "
                f"the failure is in what {source.component} checks or how, not in {bundle.service} (a false alarm "
                "from the monitoring)"
            )
        quiet_evidence = [primary.evidence_id, *([source.evidence_id] if measured_by and source else [])]
        entity = source.component if measured_by and source else bundle.service
        batch = None if recovered or measured_by else scheduled_caller(bundle)
        if batch is not None:
            # Nothing fails, and a caller's batch started on its schedule: the alert measured expected
            # work (a new rule meeting an old nightly run), and the batch is why it fired.
            started = f", started {_fmt_time(batch.started)}" if batch.started else ""
            text = (
                f"{text}; the load is {batch.service}'s scheduled run (job {batch.namespace}/{batch.name}{started} by "
                f"its CronJob's schedule), which calls {bundle.service}: expected work the alert measured, not a failure"
            )
            entity = batch.service
            quiet_evidence += [batch.evidence_id] if batch.evidence_id else []
        maintenance = None if recovered or measured_by or batch is not None else maintenance_job(bundle)
        if maintenance is not None and bundle.pods is not None:
            started = f" since {_fmt_time(maintenance.started)}" if maintenance.started else ""
            text = (
                f"{text}; {bundle.pods.ready}/{bundle.pods.total} of its pods are ready while nodes "
                f"{', '.join(bundle.cordoned)} are cordoned and {maintenance.service}'s job "
                f"{maintenance.namespace}/{maintenance.name} runs{started}: maintenance draining nodes evicted the missing ones, "
                "expected while it runs, not a failure of the service"
            )
            entity = maintenance.service
            quiet_evidence += [
                e for e in (maintenance.evidence_id, bundle.cordoned_evidence_id, bundle.pods.evidence_id) if e
            ]
        # A spike that came back by itself still had a cause, and it may come back: what moved with the
        # episode is ranked as for an incident and kept as candidates (nothing is acted on).
        episode = [h for h in ranked_hypotheses(bundle, edges) if h.score > 0] if recovered else []
        if episode:
            moved = ", ".join(f"{h.entity} ({h.category}, score {h.score:.2f})" for h in episode[:3])
            text = f"{text}; what moved with the episode, likeliest first: {moved}"
        return Diagnosis(
            root_cause=text,
            category="recovered" if recovered else "no_incident",
            entity=entity,
            confidence=0.6,
            evidence=[by_id[i] for i in quiet_evidence if i in by_id],
            ruled_out=ruled_out_items(bundle, None),
            candidates=episode[:5],
            inconclusive=False,
        )
    hypotheses = ranked_hypotheses(bundle, edges)
    lead = hypotheses[0] if hypotheses else None
    runner_up = hypotheses[1] if len(hypotheses) > 1 else None
    rival = next((h for h in hypotheses[1:] if lead is not None and not explained_by(h, lead)), None)
    knowledge = [by_id[k.evidence_id] for k in bundle.knowledge if k.evidence_id in by_id]
    if lead is None or lead.score < MIN_LEAD_SCORE or (rival is not None and lead.score - rival.score < MIN_MARGIN):
        leads = ", ".join(f"{h.description} (score {h.score:.2f})" for h in hypotheses[:3]) or "none"
        separate = "error logs that name an identifier changed by one candidate, or which component's own dependencies are healthy"
        return Diagnosis(
            root_cause=f"inconclusive: no candidate is clearly ahead. Leads: {leads}. Would separate them: {separate}",
            category=lead.category if lead else "unknown",
            entity=lead.entity if lead else "",
            confidence=min(0.3, lead.score if lead else 0.0),
            evidence=[by_id[i] for h in hypotheses[:3] for i in h.evidence_ids if i in by_id] + knowledge[:2],
            ruled_out=ruled_out_items(bundle, None),
            candidates=hypotheses[:5],
            inconclusive=True,
        )
    margin = lead.score - (runner_up.score if runner_up else 0.0)
    confidence = round(min(0.95, 0.5 * lead.score + 0.5 * min(1.0, margin * 2)), 2)
    second = own_change_behind_most_errors(bundle, lead, runner_up)
    if second is not None:
        # Two causes at once: the lead explains none of the new error lines, the alerting service's own
        # change most of them. The change is the primary cause (undoing it is the fix); the lead is
        # named beside it.
        lead, runner_up = second, lead
        lead = lead.model_copy(update={"contributing": [*lead.contributing, runner_up]})
        # Not rivals: its margin is over the next hypothesis that is neither of the two.
        rival = next((h for h in hypotheses if h.entity not in (lead.entity, runner_up.entity)), None)
        margin = lead.score - (rival.score if rival else 0.0)
        confidence = round(min(0.95, 0.5 * lead.score + 0.5 * min(1.0, max(margin, 0.0) * 2)), 2)
    cited = [by_id[i] for i in lead.evidence_ids if i in by_id] + knowledge[:3]
    return Diagnosis(
        root_cause=lead.description,
        category=lead.category,
        entity=lead.entity,
        confidence=confidence,
        evidence=list({e.id: e for e in cited}.values()),
        ruled_out=ruled_out_items(bundle, lead),
        candidates=hypotheses[:5],
        change_id=lead.change_id,
        stalled=lead.stalled,
        contributing=[*lead.contributing, *_earlier_cause(bundle, lead)],
    )


EXPLAINS_MOST = 0.5  # the share of the new error lines a cause's cited patterns must hold to be the primary one


def own_change_behind_most_errors(
    bundle: EvidenceBundle, lead: Hypothesis, runner_up: Hypothesis | None
) -> Hypothesis | None:
    """The runner-up, when it is a change of the alerting service that names the component whose calls
    fail in its cited log patterns, and those patterns hold most of the alerting service's new or
    spiking error lines while the lead's evidence holds none of them (a provider's outage and our own
    rollout of another call at once: each explains its own errors). Else None."""
    if runner_up is None or not runner_up.change_id or runner_up.entity != bundle.service:
        return None
    change = next((c for c in bundle.changes if c.id == runner_up.change_id), None)
    components = {*bundle.components, *bundle.graph} - {bundle.service}
    if change is None or not {t.lower() for t in change.linked_tokens} & components:
        return None
    if lead.entity == runner_up.entity or runner_up.score < MIN_LEAD_SCORE:
        return None
    total = sum(log.count_after for log in bundle.logs)
    if total <= 0:
        return None

    def explained(h: Hypothesis) -> int:
        return sum(log.count_after for log in bundle.logs if log.evidence_id in h.evidence_ids)

    if explained(lead) == 0 and explained(runner_up) >= EXPLAINS_MOST * total:
        return runner_up
    return None


def _earlier_cause(bundle: EvidenceBundle, lead: Hypothesis) -> list[Hypothesis]:
    """The cause an earlier round acted on, when this round finds another one still failing: both were
    causes (two faults at once), and the record names both."""
    earlier = bundle.earlier
    if earlier is None or earlier.entity == lead.entity or earlier.category in QUIET_CATEGORIES:
        return []
    return [earlier]


class DeterministicReasoner:
    """Rules, statistics and templates. Stateless; safe to share."""

    name = "deterministic"

    async def summarize(self, facts: TriageFacts, ctx: ReasonerContext) -> Reasoned[str]:
        return Reasoned(summary_text(facts))

    async def diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext) -> Reasoned[Diagnosis]:
        return Reasoned(diagnose_bundle(bundle))

    async def choose_remediation(
        self, diagnosis: Diagnosis, options: list[RemediationOption], ctx: ReasonerContext
    ) -> Reasoned[RemediationChoice]:
        return Reasoned(choose_option(diagnosis, options))

    async def write_update(
        self, incident: IncidentState, phase: UpdatePhase, audience: str, ctx: ReasonerContext, *, draft: str = ""
    ) -> Reasoned[str]:
        return Reasoned(draft or render_update(incident, phase, audience, ctx))


def summary_text(facts: TriageFacts) -> str:
    """The triage paragraph from the facts alone."""
    impact = "customer-facing" if facts.customer_facing else "internal"
    callers = f" Callers that may be affected: {', '.join(facts.dependents)}." if facts.dependents else ""
    return (
        f"{facts.severity}: {facts.alert_title} on {facts.service} ({impact}, tier {facts.tier}"
        f"{': ' + facts.service_description if facts.service_description else ''}). "
        f"{facts.alert_description + ' ' if facts.alert_description else ''}"
        f"Owner {facts.owner}; on-call {facts.oncall}.{callers} Severity because: {'; '.join(facts.severity_reasons)}."
    )


def choose_option(diagnosis: Diagnosis, options: list[RemediationOption]) -> RemediationChoice:
    """Roll back the change behind the diagnosis when possible, else the least risky fitting option;
    nothing when the diagnosis is too weak to act on."""
    if diagnosis.inconclusive or diagnosis.confidence < 0.4:
        return RemediationChoice(option_id=None, rationale=f"confidence {diagnosis.confidence:.2f} is too low to act")
    preferred = [o for o in options if o.addresses == diagnosis.entity] or options
    # The object the root cause lives in (a ConfigMap write, a running Job) is fixed where it is.
    direct = next(
        (o for o in preferred if o.id in ("revert_config", "suspend_cronjob", "stop_job", "scale_back")), None
    )
    if direct is not None:
        return RemediationChoice(option_id=direct.id, rationale=f"it acts where the diagnosed cause is: {direct.title}")
    runbook = next((o for o in preferred if o.id == "runbook_workflow"), None)
    if runbook is not None:
        return RemediationChoice(
            option_id=runbook.id, rationale=f"the runbook for {diagnosis.category.replace('_', ' ')}: {runbook.title}"
        )
    if diagnosis.change_id and any(o.id == "revert_workflow" for o in preferred):
        return RemediationChoice(
            option_id="revert_workflow",
            rationale=f"it reverts {diagnosis.change_id} where it was applied; a Deployment rollback would leave it",
        )
    if diagnosis.change_id and any(o.id == "rollback" for o in preferred):
        return RemediationChoice(
            option_id="rollback",
            rationale=f"it undoes {diagnosis.change_id}, which caused or triggered {diagnosis.category}",
        )

    order = {"low": 0, "medium": 1, "high": 2}
    choice = (
        min(preferred, key=lambda o: order[o.risk]) if diagnosis.category not in CHANGE_CATEGORIES else preferred[0]
    )
    return RemediationChoice(
        option_id=choice.id, rationale=f"it directly addresses {diagnosis.category} on {diagnosis.entity}"
    )


def action_phrase(action: ProposedAction | None) -> str:
    """What was done, in plain words for any audience."""
    if action is None or action.status not in ("executed", "verified"):
        return "the service recovered"
    call = action.tool.rsplit(".", 1)[-1]
    if call == "workflow_dispatch" and action.id.startswith("revert_workflow"):
        return f"we rolled back (reverted) the change that caused them with the {action.args.get('workflow', 'revert')} workflow"
    return {
        "rollout_undo": "we rolled back the change that caused them",
        "rollback": "we rolled back the change that caused them",
        "rollout_restart": "we restarted the affected service",
        "scale": "we scaled up the service to add capacity",
        "revert_configmap": "we reverted the configuration change that caused them",
        "scale_job": "we stopped the job that caused them",
        "suspend_cronjob": "we paused the scheduled job that caused them",
        "cordon_node": "we cordoned the affected node so no new work lands on it",
    }.get(call, f"we ran {action.title.lower()}")


LATENCY_QUERY = re.compile(r"histogram_quantile|duration|latency", re.I)


def render_update(incident: IncidentState, phase: UpdatePhase, audience: str, ctx: ReasonerContext) -> str:
    """Template text for each phase and audience."""
    service = incident.service
    entry = ctx.catalog.get(service)
    what = entry.description.rstrip(".").lower() if entry and entry.description else service
    action = next((a for a in reversed(incident.actions) if a.kind == "remediation"), None)
    diagnosis = incident.diagnosis
    start = (incident.onset or incident.alert.started_at).isoformat()
    end = incident.verification.at.isoformat() if incident.verification else ctx.clock().isoformat()
    if audience == "customers":
        # Customers read what they use (the catalog's capability, the status page's own name for it),
        # and whether it fails or is slow; the service's own name only when the catalog has no other.
        subject = entry.capability if entry and entry.capability else f"{service} ({what})"
        short = entry.capability if entry and entry.capability else service
        slow = bool(incident.sli_query and LATENCY_QUERY.search(incident.sli_query))
        problem, effect = (
            ("slow responses", "Some requests may be slow.") if slow else ("elevated errors", "Some requests may fail.")
        )
        return {
            "opened": f"We are investigating {problem} with {subject}. {effect} Next update within 30 minutes.",
            "identified": f"We have identified the cause of the {problem} with {short} and are applying a fix.",
            "mitigated": f"A fix for the {problem} with {short} has been applied and we are monitoring the results.",
            "resolved": f"The {problem} with {subject} have been resolved: {action_phrase(action)}. Impact window: {start} to {end}.",
            "escalated": f"We are continuing to investigate {problem} with {short}.",
        }[phase]
    quiet = diagnosis is not None and diagnosis.category in QUIET_CATEGORIES
    if quiet and phase == "resolved":
        closing = f"No action needed: {diagnosis.root_cause}." if diagnosis else "No action needed."
        return (
            closing
            if audience != "customers"
            else f"The errors with {service} have cleared; no further impact is expected."
        )
    if audience == "responders":
        if phase == "opened":
            return f"[{incident.id}] {incident.summary}\nfirstline is investigating."
        if phase == "identified" and diagnosis is not None:
            lines = [f"[{incident.id}] Diagnosis ({diagnosis.confidence:.0%} confidence): {diagnosis.root_cause}"]
            if action is not None:
                lines.append(
                    f"Proposed: {action.title}. Risk {action.risk}. Blast radius: {action.blast_radius}. Undo: {action.undo}."
                )
                if action.requires_approval:
                    lines.append(
                        f"Needs approval: firstline approve {incident.id} {action.id} --by NAME (or firstline reject ...)"
                    )
            return "\n".join(lines)
        if phase == "resolved":
            done = (
                f"{action.title} (approved by {action.approval.by})"
                if action and action.approval
                else (action.title if action else "no action")
            )
            return f"[{incident.id}] Resolved, {action_phrase(action)}: {done}; {incident.verification.detail if incident.verification else ''}"
        return (
            f"[{incident.id}] {phase}: "
            + (diagnosis.root_cause if diagnosis else incident.summary)
            + (f"\nHanding over to the on-call: {incident.triage.oncall}." if incident.triage else "")
        )
    # stakeholders: the summary
    done_lines = [
        f"- {a.title}: {a.status}"
        + (f" (approved by {a.approval.by} at {a.approval.at:%H:%M UTC})" if a.approval else "")
        for a in incident.actions
        if a.kind == "remediation"
    ] or ["- no remediation was executed"]
    links = [f"- {link}" for link in (incident.external_refs.get("statuspage_link"), ctx.links.get("incident")) if link]
    links += [f"- {e.source}" for e in (diagnosis.evidence if diagnosis else []) if e.source.startswith("knowledge:")]
    outcome = "Resolved" if phase == "resolved" else "Escalated to a human"
    return "\n".join(
        [
            f"{outcome}: {incident.severity} {service} incident {incident.id}",
            f"What happened: {diagnosis.root_cause if diagnosis else incident.summary}",
            f"Outcome: {action_phrase(next((a for a in reversed(incident.actions) if a.kind == 'remediation'), None))}.",
            f"Impact window: {start} to {end} ({what}).",
            "What was done:",
            *done_lines,
            f"Verification: {incident.verification.detail}" if incident.verification else "Verification: not done",
            "Links:",
            *(links or ["- none"]),
        ]
    )
