"""`firstline bench nezha`: for each fault, an SLI alert, the replay at the alert, the ranking through the adapters.

The path measured: the fault's recording is served by `evals.replay` (the clock at the alert); the
Prometheus adapter (`tools.prometheus`) reads the last hour of every pod metric and the SLI with
one ``query_range``, and both ends of every call edge's latency with a second. The ranking is
`agents.analytics.edges.localize` (served latency, victims, saturation, the network gap into a
service); `--rank-by candidates` runs the investigation's graph ranker instead
(`agents.analytics.analyze_incident` with `agents.reasoners.origin.RANKING`). The Tempo traces are
served but not read: a fault folder's traces have no history to compare with. Scored at the service
level, ties counted against the method, and the fault class of the top-ranked service against the
label's."""

from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.analytics.anomaly import IncidentAnalysis, analyze_incident
from agents.analytics.edges import (
    DEFAULT_EDGE_RANKING,
    EdgeLatency,
    EdgeRanking,
    EdgeRankingConfig,
    ServiceSignals,
    localize,
)
from agents.analytics.metrics import classify_metric
from agents.reasoners.origin import RANKING
from evals.benchmarks.nezha.alert import SyntheticAlert, synthesize
from evals.benchmarks.nezha.dataset import DatasetError, Day, Fault, load_day, load_faults, recording
from evals.benchmarks.nezha.investigated import Worked, work_fault
from evals.benchmarks.nezha.lodo import Case, leave_one_day_out
from evals.replay.server import ReplayServer
from tools.prometheus import QueryResult
from tools.registry import ToolRegistry

HISTORY = timedelta(minutes=60)
STEP_S = 60
# Every pod metric but the client-side latency: a caller's client latency is its callees' problem, and
# arrives as evidence on each callee through the edge latency below.
METRICS_QUERY = '{__name__=~"pod_.*|sli_.*", __name__!~"pod_client_.*"}'
EDGE_QUERY = "edge_latency_seconds"
USE_EDGES = True
"""Per-edge latency as evidence on the callee: a slow edge points at the service it calls."""
# The ESEC/FSE 2023 paper's Table 3 (service level, %), Online Boutique, 56 faults (the dataset's README).
PUBLISHED = {
    "MicroScope (metrics)": (12.5, 41.07, 55.35),
    "MicroRCA (metrics)": (16.07, 62.5, 92.75),
    "SBLD (logs)": (19.64, 23.21, 25.00),
    "LogFaultFlagger (logs)": (19.64, 21.42, 23.21),
    "MicroRank (traces)": (41.07, 48.21, 62.5),
    "TraceAnomaly (traces)": (30.35, 33.92, 48.21),
    "PDiagnose (metrics+logs+traces)": (41.07, 73.21, 82.14),
    "Nezha without metrics and logs": (14.28, 17.85, 17.85),
    "Nezha without metrics": (26.78, 33.92, 35.71),
    "Nezha without logs": (64.28, 64.28, 64.28),
    "Nezha": (92.86, 96.43, 96.43),
}

Progress = Callable[[str, int, int], None]

LABEL_CLASS = {
    "network_delay": "network",
    "cpu_contention": "saturation",
    "cpu_consumed": "saturation",
    "return": "code_defect",
    "exception": "code_defect",
}
"""Nezha's fault types by what they look like in telemetry: the two CPU faults both saturate the
pod, the two code defects (an error return, an exception) both change what the code serves."""
PREDICTED_CLASS = {
    "network": "network",
    "saturation": "saturation",
    "errors": "code_defect",
    "latency": "code_defect",  # slower without saturation or network: its own code path
    "none": "none",
}
"""`agents.analytics.edges.FaultClass` mapped onto `LABEL_CLASS`'s classes for scoring."""


RANK_BY = ("investigation", "edges", "candidates", "anomaly")
"""investigation: the agents' investigation node on the incident's code path
(`evals.benchmarks.nezha.investigated`: the diagnosis's entity, then its candidates); edges:
`agents.analytics.edges.localize` on every pod series, read by the bench itself (both ends of every
call edge, served latency, saturation); candidates: the graph ranker alone (`RankingResult.candidates`);
anomaly: each service's own anomaly score (`ComponentScore.score`), no graph: an ablation."""
INJECTED = {
    "cpu": "CPU+latency x3",
    "network": "caller-end edge latency x3",
    "errors": "failure log lines + front-end success x0.9",
}
"""How the report names each self-check kind (`evals.benchmarks.nezha.injection`)."""
CATEGORY_SIGNALS = {"network": "network", "saturation": "saturation", "no_incident": "none", "recovered": "none"}
"""The investigation's category as the signals it names (`PREDICTED_CLASS`'s keys); any other
category (a failing or slower code path, a dependency) is the service's own code: ``latency``."""


@dataclass(frozen=True)
class Investigation:
    analysis: IncidentAnalysis
    edges: EdgeRanking
    seen: dict[str, Any]
    signals: dict[str, ServiceSignals]
    edge_latency: list[EdgeLatency]


def rank_services(found: Investigation, services: list[str], rank_by: str = "edges") -> list[tuple[str, float]]:
    """Every service with its score: the ranker's candidates first, the rest after them with score 0."""
    analysis = found.analysis
    if rank_by == "edges":
        scored = {s.service: s.score for s in found.edges.services}
    elif rank_by == "anomaly":
        scored = {c.component: c.score for c in analysis.scores}
    else:
        scored = {c.component: c.score for c in analysis.ranking.candidates}
    return sorted(((s, scored.get(s, 0.0)) for s in services), key=lambda item: -item[1])


def position(ranking: list[tuple[str, float]], truth: str) -> int:
    """1-based rank of ``truth``, ties counted against the method (the worst position among equals)."""
    scores = dict(ranking)
    if truth not in scores:
        return len(ranking) + 1
    return sum(1 for _, score in ranking if score >= scores[truth])


async def investigate(
    day: Day, fault: Fault, alert: SyntheticAlert, edge_config: EdgeRankingConfig = DEFAULT_EDGE_RANKING
) -> Investigation:
    now = alert.fires_at
    with ReplayServer(recording(day, fault, now)) as server:
        config = {"prometheus": {"kind": "prometheus", "base_url": server.url, "max_retries": 0}}
        registry = ToolRegistry.from_config(config)
        # Whole seconds: the adapter sends milliseconds, and a start rounded up would push the last
        # step past the replay's clock, which drops the newest minute of every series.
        end = now.replace(microsecond=0)
        window = {"start": (end - HISTORY).isoformat(), "end": end.isoformat(), "step": STEP_S}
        series = []
        try:
            for query in (METRICS_QUERY, EDGE_QUERY) if USE_EDGES else (METRICS_QUERY,):
                result = await registry.adapters["prometheus"].invoke(
                    "query_range",
                    {"query": query, **window},
                    budget=None,  # code reads the full result
                )
                if result.error is not None:
                    raise RuntimeError(f"{fault.id}: the replay's Prometheus answered an error: {result.error.message}")
                series += result.payload(QueryResult).series
        finally:
            await registry.aclose()
    times = sorted({t for s in series for t, _ in s.points()})
    index = {t: i for i, t in enumerate(times)}
    metrics: dict[str, dict[str, list[float]]] = defaultdict(dict)
    edge_ends: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(dict)
    by_pod: dict[str, dict[str, list[float]]] = defaultdict(dict)
    for item in series:
        values = [math.nan] * len(times)
        for t, v in item.points():
            values[index[t]] = v
        labels = item.metric
        if "server" in labels:  # an edge's latency is evidence on its callee
            name = f"{labels['__name__']}.from_{labels['client']}.{labels.get('side', '')}"
            metrics[labels["server"]][name] = values
            edge_ends[(labels["client"], labels["server"])][labels.get("side", "")] = values
        else:
            metrics[labels["service"]][labels["__name__"]] = values
            # Every pod of a service keeps its own series: the worst replica is the one to see.
            by_pod[labels["service"]][f"{labels['__name__']}{{pod={labels.get('pod', '')}}}"] = values
    graph: dict[str, list[str]] = defaultdict(list)
    for caller, callee in day.call_edges:
        graph[caller].append(callee)
    analysis = analyze_incident(
        metrics,
        times,
        graph,
        day.entry,
        alert.metric,
        now,
        max_lead_steps=1,
        incident_steps=2,
        config=RANKING,
    )
    signals, edge_latency = service_signals(by_pod, day.entry), edge_latencies(edge_ends, len(times))
    edges = localize(signals, edge_latency, edge_config)
    return Investigation(analysis, edges, {"series": len(series), "steps": len(times)}, signals, edge_latency)


def service_signals(metrics: dict[str, dict[str, list[float]]], entry: str) -> dict[str, ServiceSignals]:
    """Each service's own series by meaning: server-side latency, its pods' saturation (not their
    node's), and the entry's SLI (its latency and success rate are what it serves). Names may carry
    a ``{pod=...}`` suffix: one series per replica."""
    out = {}
    for service, by_name in metrics.items():
        latency, saturation, availability = {}, {}, {}
        for name, values in by_name.items():
            if name.startswith("edge_"):
                continue
            kind = classify_metric(name.split("{", 1)[0])  # not the pod's name
            if kind == "latency" and (name.startswith("pod_server_") or (service == entry and name.startswith("sli_"))):
                latency[name] = values
            elif kind == "saturation" and name.startswith("pod_"):
                saturation[name] = values
            elif kind == "availability" and service == entry:
                availability[name] = values
        out[service] = ServiceSignals(latency=latency, saturation=saturation, availability=availability)
    return out


def edge_latencies(ends: dict[tuple[str, str], dict[str, list[float]]], steps: int) -> list[EdgeLatency]:
    """``edge_latency_seconds{side="source"}`` is the caller's end, ``side="destination"`` the callee's."""
    missing = [math.nan] * steps
    return [
        EdgeLatency(
            caller=caller,
            callee=callee,
            caller_side=by_side.get("source", missing),
            callee_side=by_side.get("destination", missing),
        )
        for (caller, callee), by_side in sorted(ends.items())
    ]


def run_benchmark(
    root: Path,
    out: Path,
    progress: Progress | None = None,
    *,
    rank_by: str = "investigation",
    only: set[str] | None = None,
    injection_trials: int = 0,
    lodo: bool = False,
) -> dict[str, Any]:
    """Every fault of ``root`` (or those whose id is in ``only``); writes ``out``/results.json and report.txt."""
    if not (root / "faults.json").is_file():
        raise DatasetError(f"{root}: not the Nezha layout (no faults.json); see the dataset's README")
    if rank_by not in RANK_BY:
        raise DatasetError(f"rank_by: one of {', '.join(RANK_BY)}")
    faults = [f for f in load_faults(root) if only is None or f.id in only]
    if not faults:
        raise DatasetError(f"{root}: no fault folders selected")
    days = {name: load_day(root, name) for name in sorted({f.day for f in faults})}
    rows: list[dict[str, Any]] = []
    cases: list[Case] = []
    started = time.perf_counter()
    for done, fault in enumerate(faults, start=1):
        tick = time.perf_counter()
        day = days[fault.day]
        sli = {dict(s.labels)["__name__"]: s for s in day.series if dict(s.labels)["__name__"].startswith("sli_")}
        alert = synthesize(sli, fault.window_start, fault.window_end)
        found = asyncio.run(investigate(day, fault, alert))
        analysis = found.analysis
        services = sorted({s for edge in day.call_edges for s in edge})
        edges_ranking = rank_services(found, services, "edges")
        worked: Worked | None = None
        if rank_by == "investigation":
            worked = asyncio.run(work_fault(day, fault, alert))
            ranking = named_first(worked.ranking, services)
            signals = CATEGORY_SIGNALS.get(worked.diagnosis.category, "latency")
        else:
            ranking = rank_services(found, services, rank_by)
            named = next((s for s in found.edges.services if s.service == ranking[0][0]), None)
            signals = named.fault_class if named is not None else "none"
        rank = position(ranking, fault.root_service)
        cases.append(Case(fault.day, fault.root_service, tuple(services), found.signals, found.edge_latency))
        rows.append(
            {
                "id": fault.id,
                "fault_type": fault.fault_type,
                "truth": fault.root_service,
                "rank": rank,
                "top5": [s for s, _ in ranking[:5]],
                "fault_class": {
                    "signals": signals,
                    "predicted": PREDICTED_CLASS[signals],
                    "label": LABEL_CLASS.get(fault.fault_type, fault.fault_type),
                },
                "alert": {
                    "metric": alert.metric,
                    "crossed_at": alert.crossed_at.isoformat() if alert.crossed_at else None,
                    "fires_at": alert.fires_at.isoformat(),
                    "reason": alert.reason,
                },
                "abstained": analysis.ranking.abstained,
                "edges_rank": position(edges_ranking, fault.root_service),
                **(_worked(worked) if worked is not None else {}),
                "seconds": round(time.perf_counter() - tick, 3),
                **found.seen,
            }
        )
        if progress:
            progress("faults", done, len(faults))
    elapsed = time.perf_counter() - started
    results = _summarize(rows, elapsed)
    results["rank_by"] = rank_by
    if lodo:
        results["leave_one_day_out"] = leave_one_day_out(cases)
    if injection_trials:
        from evals.benchmarks.nezha.injection import KINDS, run_injections

        results["injections"] = {
            f"{name} {kind}" if kind != "cpu" else name: run_injections(
                day, max(f.window_end for f in faults if f.day == name), injection_trials, rank_by=rank_by, kind=kind
            )
            for kind in (KINDS if rank_by == "investigation" else KINDS[:2])  # only the investigation reads logs
            for name, day in days.items()
        }
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    (out / "report.txt").write_text(report(results), encoding="utf-8")
    return results


def named_first(named: list[str], services: list[str]) -> list[tuple[str, float]]:
    """The services the investigation named, in its order, scored so that they come first; every other
    service after them with score 0 (tied, so counted against the method by `position`)."""
    order = [s for s in named if s in services]
    return [(s, float(len(order) - i)) for i, s in enumerate(order)] + [(s, 0.0) for s in services if s not in order]


def _worked(worked: Worked) -> dict[str, Any]:
    diagnosis = worked.diagnosis
    return {
        "diagnosis": {
            "entity": diagnosis.entity,
            "category": diagnosis.category,
            "inconclusive": diagnosis.inconclusive,
            "confidence": diagnosis.confidence,
            "root_cause": diagnosis.root_cause[:400],
        },
        "tool_calls": worked.tool_calls,
        "evidence": worked.evidence,
    }


def _scores(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    return {f"as{k}": round(sum(r["rank"] <= k for r in rows) / n, 4) for k in (1, 3, 5)} | {"faults": n}


def _summarize(rows: list[dict[str, Any]], elapsed: float) -> dict[str, Any]:
    counts = Counter(r["truth"] for r in rows)
    top3 = {s for s, _ in counts.most_common(3)}
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_type[row["fault_type"]].append(row)
    return {
        "command": "firstline bench nezha PATH",
        "path": "SLI alert (Alertmanager webhook, intake's parser) -> replay (evals.replay: Prometheus, Loki, "
        "Tempo, clock at the alert) -> agents.investigation.investigate (deterministic reasoner; --rank-by "
        "investigation) or tools.prometheus query_range -> agents.analytics.edges.localize (--rank-by edges; "
        "agents.analytics.analyze_incident with agents.reasoners.origin.RANKING for candidates/anomaly)",
        "overall": _scores(rows),
        "edges_overall": {f"as{k}": round(sum(r["edges_rank"] <= k for r in rows) / len(rows), 4) for k in (1, 3, 5)},
        "majority_floor": {
            "as1": round(counts.most_common(1)[0][1] / len(rows), 4),
            "as3": round(sum(r["truth"] in top3 for r in rows) / len(rows), 4),
        },
        "random_floor": {"as1": round(1 / len(counts), 4), "as3": round(min(1.0, 3 / len(counts)), 4)},
        "per_fault_type": {name: _scores(group) for name, group in sorted(by_type.items())},
        "per_system": {"Online Boutique": _scores(rows)},
        "fault_class": _class_scores(rows, by_type),
        "alerts_without_crossing": sum(r["alert"]["crossed_at"] is None for r in rows),
        "published": {name: {"as1": a / 100, "as3": b / 100, "as5": c / 100} for name, (a, b, c) in PUBLISHED.items()},
        "seconds_total": round(elapsed, 2),
        "seconds_per_fault": round(elapsed / len(rows), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "faults": rows,
    }


def _class_scores(rows: list[dict[str, Any]], by_type: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Fault-class accuracy: the class predicted from the signals at the top-ranked service against the
    label's class (`LABEL_CLASS`), overall and per fault type, next to always guessing the commonest class."""

    def right(row: dict[str, Any]) -> bool:
        return bool(row["fault_class"]["predicted"] == row["fault_class"]["label"])

    labels = Counter(r["fault_class"]["label"] for r in rows)
    return {
        "classes": sorted(labels),
        "mapping": {"label": LABEL_CLASS, "predicted": PREDICTED_CLASS},
        "accuracy": round(sum(map(right, rows)) / len(rows), 4),
        "accuracy_with_service_at_1": round(sum(right(r) and r["rank"] == 1 for r in rows) / len(rows), 4),
        "majority_floor": round(labels.most_common(1)[0][1] / len(rows), 4),
        "per_fault_type": {
            name: round(sum(map(right, group)) / len(group), 4) for name, group in sorted(by_type.items())
        },
    }


def report(results: dict[str, Any]) -> str:
    overall = results["overall"]
    lines = [
        "Nezha Online Boutique: root-cause service ranking through the replay and the adapters",
        f"path: {results['path']}; ranked by {results.get('rank_by', 'investigation')}",
        f"overall: AS@1 {overall['as1']:.3f}  AS@3 {overall['as3']:.3f}  AS@5 {overall['as5']:.3f}  ({overall['faults']} faults)",
        f"edges alone (agents.analytics.edges.localize on every pod series): AS@1 {results['edges_overall']['as1']:.3f}  "
        f"AS@3 {results['edges_overall']['as3']:.3f}  AS@5 {results['edges_overall']['as5']:.3f}",
        f"majority floor: AS@1 {results['majority_floor']['as1']:.3f}  AS@3 {results['majority_floor']['as3']:.3f}",
        f"alerts without an SLI crossing: {results['alerts_without_crossing']}",
        f"fault class ({', '.join(results['fault_class']['classes'])}) from the signals at the top service: "
        f"accuracy {results['fault_class']['accuracy']:.3f} (with the service at rank 1: "
        f"{results['fault_class']['accuracy_with_service_at_1']:.3f}), majority floor {results['fault_class']['majority_floor']:.3f}",
        *(
            f"injected {INJECTED.get(v.get('kind', 'cpu'), v.get('kind'))} "
            f"({name}, {v['trials']} trials): injected service first {v['top1']}, top 3 {v['top3']}"
            for name, v in results.get("injections", {}).items()
        ),
        *(
            f"leave-one-day-out ({results['leave_one_day_out']['configurations']} configurations): chosen on "
            f"{', '.join(fold['chosen_on'])} {fold['chosen']}: AS@1 {fold['held_out']['as1']:.3f} AS@3 "
            f"{fold['held_out']['as3']:.3f} on {day} (default there: {fold['default_held_out']['as1']:.3f} / "
            f"{fold['default_held_out']['as3']:.3f})"
            for day, fold in results.get("leave_one_day_out", {}).get("folds", {}).items()
        ),
        f"time: {results['seconds_total']} s ({results['seconds_per_fault']} s a fault), peak RSS {results['peak_rss_mb']} MB",
        "",
        "per fault type:",
    ]
    for name, row in results["per_fault_type"].items():
        lines.append(
            f"  {name:16} AS@1 {row['as1']:.3f}  AS@3 {row['as3']:.3f}  AS@5 {row['as5']:.3f}  "
            f"class {results['fault_class']['per_fault_type'][name]:.3f}  (n={row['faults']})"
        )
    lines += ["", "published (ESEC/FSE 2023, full data):"]
    for name, row in results["published"].items():
        lines.append(f"  {name:34} AS@1 {row['as1']:.3f}  AS@3 {row['as3']:.3f}  AS@5 {row['as5']:.3f}")
    lines += ["", "faults:"]
    for row in results["faults"]:
        lines.append(
            f"  {row['id']} {row['fault_type']:15} rank {row['rank']:>2} (edges {row['edges_rank']:>2})  top {', '.join(row['top5'][:3])}  "
            f"class {row['fault_class']['predicted']}  [{row['alert']['reason']}]"
        )
    return "\n".join(lines) + "\n"
