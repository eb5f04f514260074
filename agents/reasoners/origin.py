"""Where in the blast radius an incident starts: the graph ranker of `agents.analytics` run on what
the investigation measured.

Every SLI series of every candidate (error ratio, p99 latency, saturation) is scored against its own
level before the onset (`score_components`), then ranked over the catalog's call graph
(`rank_root_causes`): an anomalous component whose own dependencies explain its move is a victim, not
the origin. Components that returned no samples at all are *silent*, never healthy: a silent
callee whose callers are all anomalous is a lead, stronger when the callers' error logs name it.
The PetShop benchmark runs the same ranking function with the same configuration (`RANKING`).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

from agents.analytics.anomaly import (
    DEFAULT_RANKING,
    RankingConfig,
    RankingResult,
    RootCauseCandidate,
    rank_root_causes,
    score_components,
)
from agents.analytics.edges import DEFAULT_EDGE_RANKING, ServiceSignals, localize
from agents.evidence import EvidenceBundle, LogFact, SignalSummary
from agents.reasoners.base import FAILURE_LINE
from agents.state import Hypothesis, RootCauseCategory
from tools.values import TimeWindow

RANKING: RankingConfig = DEFAULT_RANKING
"""The one ranking configuration, shared with `evals.benchmarks.petshop`."""
NAMED_SILENT = 1.0  # the callers' errors name the silent component
OUTBOUND_SILENT = 0.9  # its only silent callee, and the callers' errors are failed outbound calls
UNNAMED_SILENT = 0.5  # they fail, but their logs do not say on what
# What a caller logs when a call it makes fails (generic runtime and HTTP phrasing, no names).
OUTBOUND_FAILURE = re.compile(
    r"upstream|service unavailable|bad gateway|gateway time-?out|-> ?5\d\d\b|read ?timeout|timed out"
    r"|connection (refused|reset)|ECONNRESET|ECONNREFUSED|socket hang up|\bvia \S+ failed|after \d+ attempts",
    re.IGNORECASE,
)


RANKED_SIGNALS = {"error_rate": "error_rate", "latency_p99": "latency", "saturation": "saturation"}
"""What the graph ranker compares. Traffic is left out: a caller's failure lowers its callees'
traffic, so a drop there is an effect, and a surge is read on the alerting service itself."""


def _series(bundle: EvidenceBundle) -> list[SignalSummary]:
    return [
        s for s in [bundle.primary, *bundle.own, *bundle.dependencies] if s is not None and s.signal in RANKED_SIGNALS
    ]


def silent_components(bundle: EvidenceBundle) -> dict[str, float]:
    """Candidates with no samples in any SLI (or no SLI at all), or with half or more of their pods
    down, weighted by whether the error logs of the other components name them."""
    measured = {s.service for s in _series(bundle) if not s.missing and s.values}
    lines = [log.example.lower() for log in bundle.logs] + [
        log.example.lower() for facts in bundle.components.values() for log in facts.logs
    ]
    logs_of = {bundle.service: bundle.logs} | {name: facts.logs for name, facts in bundle.components.items()}
    unmeasured = {
        name for name in bundle.graph if name != bundle.service and (name not in measured or _mostly_down(bundle, name))
    }
    silent: dict[str, float] = {}
    for name in sorted(unmeasured):
        callers = [c for c, callees in bundle.graph.items() if name in callees]
        named = any(name.lower() in line for line in lines)
        outbound = bool(callers) and all(
            len([c for c in bundle.graph.get(caller, []) if c in unmeasured]) == 1
            and _mostly_outbound(logs_of.get(caller, []))
            and not fails_on_its_own(bundle, caller)
            for caller in callers
        )
        silent[name] = NAMED_SILENT if named else OUTBOUND_SILENT if outbound else UNNAMED_SILENT
    return silent


def _mostly_down(bundle: EvidenceBundle, name: str) -> bool:
    """Half or more of its pods not ready: what its own metrics say comes from the few that still
    answer (or from before they stopped), so it counts as silent, judged by what its callers see."""
    facts = bundle.components.get(name)
    pods = facts.pods if facts is not None else None
    return pods is not None and pods.total > 0 and pods.ready * 2 <= pods.total


def _mostly_outbound(logs: list[LogFact]) -> bool:
    """Whether most of a caller's new or spiking lines are failed outbound calls: then what fails is
    what it calls. When they are a minority, its own trouble (a backlog, a slow release) dominates."""
    outbound = sum(log.count_after for log in logs if OUTBOUND_FAILURE.search(log.example))
    return outbound > 0 and outbound * 2 > sum(log.count_after for log in logs)


STRONG_LINK = 0.5  # a change whose text shares an identifier (not just words) with the errors


def fails_on_its_own(bundle: EvidenceBundle, caller: str) -> bool:
    """Whether ``caller`` has evidence of a failure of its own: pods not ready or restarting, or a
    change whose text shares identifiers with the errors. Its failed outbound calls may then be
    its own doing (a crashing process, a broken release), not its silent callee's."""
    pods = bundle.pods if caller == bundle.service else getattr(bundle.components.get(caller), "pods", None)
    if pods is not None and not pods.healthy:
        return True
    return any(c.service == caller and c.text_link >= STRONG_LINK for c in bundle.changes)


def origin_ranking(bundle: EvidenceBundle, *, step: timedelta = timedelta(minutes=1)) -> RankingResult | None:
    """The graph ranking of the candidates for the alerting service, or None without an onset or
    without any measured series.

    The reference window is every step before the onset of the alerting SLI, the incident window
    from the onset to the last sample. Series are aligned on the union of their sample times
    (a missing step is NaN, which the scorer skips).
    """
    primary = bundle.primary
    if primary is None or primary.onset is None or not primary.values:
        return None
    silent = silent_components(bundle)
    series = [s for s in _series(bundle) if s.values and not s.missing and s.service not in silent]
    times = sorted({t for s in series for t in s.times})
    if len(times) < 3 or times[0] >= primary.onset or times[-1] < primary.onset:
        return None
    index = {t: i for i, t in enumerate(times)}
    metrics: dict[str, dict[str, list[float]]] = {}
    for s in series:
        values = [math.nan] * len(times)
        for at, value in zip(s.times, s.values, strict=True):
            values[index[at]] = value
        metrics.setdefault(s.service, {})[s.signal] = values
    onset: datetime = primary.onset
    scores = score_components(
        metrics,
        times,
        TimeWindow(start=times[0], end=onset),
        TimeWindow(start=onset, end=times[-1] + step),
        kinds={"error_rate": "error_rate", "latency_p99": "latency", "saturation": "saturation"},  # RANKED_SIGNALS
    )
    graph = {name: list(callees) for name, callees in bundle.graph.items()}
    graph.setdefault(bundle.service, [])
    return rank_root_causes(
        scores,
        graph,
        bundle.service,
        config=RANKING,
        also=sorted(bundle.graph),
        silent=silent,
    )


def edge_ranking(bundle: EvidenceBundle) -> RankingResult | None:
    """The ranking by the call edges' latency at both ends (`agents.analytics.edges.localize`), when
    the investigation measured some edge at both ends; None otherwise (the graph ranker decides).

    Each candidate's SLIs are its own signals there: its p99 latency what it serves, its saturation
    its resources, its error ratio (as a success rate) what it answers. The incident window is the
    last few steps up to now, as the alert just fired. A slow callee, a slow network into a service
    and a caller waiting on either come apart there; a candidate's `top_metric` says which
    (network, saturation, errors, latency)."""
    edges = bundle.edge_latency
    both = [e for e in edges if e.measured_at_both_ends]
    if not both or not bundle.edge_times:
        return None
    grid = bundle.edge_times
    index = {t: i for i, t in enumerate(grid)}
    signals: dict[str, dict[str, dict[str, list[float]]]] = {}
    for s in _series(bundle):
        if s.missing or not s.values:
            continue
        values = [math.nan] * len(grid)
        for at, value in zip(s.times, s.values, strict=True):
            if at in index:
                values[index[at]] = 100.0 * (1.0 - value) if s.signal == "error_rate" else value
        kind = {"latency_p99": "latency", "saturation": "saturation", "error_rate": "availability"}[s.signal]
        signals.setdefault(s.service, {}).setdefault(kind, {})[s.signal] = values
    for name, own in bundle.edge_signals.items():  # its gauges by meaning, beside its SLIs
        for kind, by_name in (("latency", own.latency), ("saturation", own.saturation)):
            signals.setdefault(name, {}).setdefault(kind, {}).update(by_name)
    services = {name: ServiceSignals(**by_kind) for name, by_kind in signals.items()}
    found = localize(services, edges)
    distance = _distances(bundle.graph, bundle.service)
    candidates = [
        RootCauseCandidate(
            component=s.service,
            score=round(s.score, 4),
            anomaly=round(s.served_raw, 4),
            explained_share=round(1.0 - s.served / s.served_raw, 4) if s.served_raw > 0 else 0.0,
            path=[bundle.service] if s.service == bundle.service else [bundle.service, s.service],
            path_support=1.0,
            distance=distance.get(s.service, 1),
            top_metric=s.fault_class,
            reasons=s.reasons,
        )
        for s in found.services
        if s.score > 0
    ]
    leader = found.leader
    reason = f"edge ranking over {len(edges)} call edges ({len(both)} measured at both ends): " + (
        f"{leader.service} leads ({leader.fault_class}, score {leader.score:.1f})" if leader else "nothing moved"
    )
    return RankingResult(target=bundle.service, candidates=candidates, abstained=leader is None, reason=reason)


def _distances(graph: dict[str, list[str]], start: str) -> dict[str, int]:
    """Hops from ``start`` over the call graph, either direction."""
    neighbours: dict[str, set[str]] = {}
    for caller, callees in graph.items():
        for callee in callees:
            neighbours.setdefault(caller, set()).add(callee)
            neighbours.setdefault(callee, set()).add(caller)
    seen, frontier = {start: 0}, [start]
    while frontier:
        nxt = []
        for name in frontier:
            for other in sorted(neighbours.get(name, ())):
                if other not in seen:
                    seen[other] = seen[name] + 1
                    nxt.append(other)
        frontier = nxt
    return seen


EDGE_LEAD = 0.6
"""A lead's score from the edge ranking alone (the origin bonus comes on top when it does not abstain);
the others get it in proportion to their edge score."""
EDGE_CATEGORY: dict[str, RootCauseCategory] = {"network": "network", "saturation": "saturation"}
"""The category a mechanism the edges show names; a slower or failing code path of its own names none."""


def edge_leads(bundle: EvidenceBundle, ranking: RankingResult, *, bonus: float) -> list[Hypothesis]:
    """One hypothesis per service the edge ranking scores (the first five), the leader first: where the
    slowdown starts, by what its edges and its own signals say. The category is the mechanism the
    signals show there (a network delay into it, its resources saturated); without one, a component
    the alerting service depends on is a `dependency`, the alerting service itself `unknown`."""
    scored = [c for c in ranking.candidates if c.score > 0][:5]
    if not scored:
        return []
    top = scored[0].score
    cited = {s.service: s.evidence_id for s in _series(bundle) if s.evidence_id and not s.missing}
    out = []
    for candidate in scored:
        name = candidate.component
        category = EDGE_CATEGORY.get(candidate.top_metric or "", "unknown" if name == bundle.service else "dependency")
        lead = candidate is scored[0]
        out.append(
            Hypothesis(
                entity=name,
                category=category,
                description=f"the failure starts at {name} ({candidate.top_metric}): {ranking.reason}; "
                + "; ".join(candidate.reasons[:2]),
                score=round(min(0.95, (EDGE_LEAD + (bonus if lead else 0.0)) * candidate.score / top), 4),
                evidence_ids=[i for i in (bundle.edge_latency_evidence, cited.get(name, "")) if i],
            )
        )
    return out


def edge_mechanism(ranking: RankingResult, name: str) -> RootCauseCategory | None:
    """The category the mechanism the edges show at ``name`` names (network, saturation), if any."""
    found = next((c.top_metric for c in ranking.candidates if c.component == name), None)
    return EDGE_CATEGORY.get(found or "")


def edge_share(ranking: RankingResult, name: str) -> float:
    """``name``'s edge score as a share of the leader's (0 when it is not scored)."""
    top = ranking.candidates[0].score if ranking.candidates else 0.0
    score = next((c.score for c in ranking.candidates if c.component == name), 0.0)
    return score / top if top > 0 else 0.0


STILL_SERVING_WORSE = DEFAULT_EDGE_RANKING.min_wait
"""An edge-ranking leader this many robust spreads worse than it served before (the bar at which
`localize` counts a wait as clear) is a failure going on now, whatever the alerting SLI says at
this minute (a percentile that dipped back, a spiky series)."""


def serves_worse(ranking: RankingResult | None) -> bool:
    """Whether the edge ranking leads with a service that serves far worse than before, right now."""
    return ranking is not None and not ranking.abstained and ranking.candidates[0].score >= STILL_SERVING_WORSE


LOG_LEAD_BELOW = 0.8
"""A service where the failures in the logs start, when it lies below the edge ranking's leader (the
leader's trouble is what it relays) or the leader is the alerting service failing requests."""
LOG_LEAD_ASIDE = 0.7  # ... when it is neither below nor above the leader
LOG_LEAD_ABOVE = 0.55  # ... when it calls the leader: a slow callee makes its callers log failed calls


def failing_in_logs(bundle: EvidenceBundle) -> dict[str, int]:
    """Each component's new or spiking log lines since the onset that report a failure."""
    logs = {bundle.service: bundle.logs} | {name: facts.logs for name, facts in bundle.components.items()}
    counts = {
        name: sum(log.count_after for log in found if FAILURE_LINE.search(log.example)) for name, found in logs.items()
    }
    return {name: count for name, count in counts.items() if count > 0}


def log_origin(bundle: EvidenceBundle, ranking: RankingResult) -> Hypothesis | None:
    """Where the failures the logs report start: the one component logging new failures none of whose
    callees (however deep) does, when more than one component logs them or the one that does is
    not the alerting service. Placed against the edge ranking's leader: below it, it is what the
    leader relays; calling it, its failures may be the leader's slowness seen from above."""
    failing = failing_in_logs(bundle)
    if not failing:
        return None
    below = {name: downstream(bundle.graph, name) - {name} for name in failing}
    deepest = [name for name in failing if not below[name] & set(failing)]
    if len(deepest) != 1 or (set(failing) == {bundle.service}):
        return None
    origin = deepest[0]
    leader = ranking.candidates[0] if ranking.candidates and not ranking.abstained else None
    if leader is None or leader.component == origin:
        score = LOG_LEAD_BELOW
    elif origin in downstream(bundle.graph, leader.component) or (
        leader.component == bundle.service and leader.top_metric == "errors"
    ):
        score = LOG_LEAD_BELOW
    elif leader.component in below[origin]:
        score = LOG_LEAD_ABOVE
    else:
        score = LOG_LEAD_ASIDE
    facts = bundle.logs if origin == bundle.service else bundle.components[origin].logs
    cited = [log.evidence_id for log in facts if FAILURE_LINE.search(log.example) and log.evidence_id]
    example = next((log.example for log in facts if FAILURE_LINE.search(log.example)), "")
    return Hypothesis(
        entity=origin,
        category="unknown" if origin == bundle.service else "dependency",
        description=f"the failures in the logs start at {origin}: {failing[origin]} new failure lines since the onset "
        f"and none in what it calls (e.g. {example[:160]})",
        score=score,
        evidence_ids=cited,
    )


def downstream(graph: dict[str, list[str]], source: str) -> set[str]:
    """What ``source`` depends on, transitively (a caller's failure is not its cause); ``source`` itself
    only when a cycle leads back to it."""
    found: set[str] = set()
    frontier = [source]
    while frontier:
        node = frontier.pop()
        for callee in graph.get(node, []):
            if callee not in found:
                found.add(callee)
                frontier.append(callee)
    return found
