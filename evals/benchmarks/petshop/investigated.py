"""A PetShop window worked by the agents' investigation: the incident's own code path, against the replay.

What production would have: a service catalog (`catalog_for`: every component of the call graph
with its callees, and SLI queries over its served CloudWatch series), a Prometheus (one
`evals.replay.server.ReplayServer` serving the window as `replayed.as_recording` builds it, its
clock at ``now``: nothing later is served), and an Alertmanager webhook for the window's alert
(`alert_payload`: the alerting component and SLI the window's target names, firing when it does;
nothing from the labelled root cause), parsed by the intake's parser. The investigation node
(`agents.investigation.investigate`) runs one round with the deterministic reasoner, exactly as the
workflow runs it for an incident; its diagnosis is the answer.

PetShop's series are CloudWatch 5-minute periods while the investigation reads every SLI with
60-second range queries. Each catalog query is ``last_over_time(...[5m])`` of the one series: at a
60-second step it answers the latest period that has begun (five equal points per period, a gap
where CloudWatch had no period), which is what a Prometheus scraping a CloudWatch exporter holds,
and never interpolates or invents a value between two periods.

The ranking a window is scored on (ac1, ac3) is the diagnosis's entity, then its candidates in
order, as the analytics' ranking is scored whether it abstains or not. What it *names*
(`Worked.named`, specificity) is the entity of a diagnosis that is neither inconclusive nor quiet
(``no_incident``, ``recovered``): a window without a fault passes only when the investigation says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agents.settings import WorkflowSettings
from agents.state import QUIET_CATEGORIES, Diagnosis
from evals.benchmarks.investigation_round import investigate_once
from evals.benchmarks.petshop.dataset import MetricTable, Target
from evals.benchmarks.petshop.replayed import SERIES_NAME, as_recording
from intake.alertmanager import parse_alertmanager
from knowledge.catalog import Service, ServiceCatalog, ServiceSLI

PERIOD = "5m"
"""CloudWatch's period in the dataset: the range each catalog query reads its latest sample from."""
LATENCY_STATISTIC = "p99"
"""The latency statistic a component's ``latency_p99`` SLI reads (the alerting one reads its alert's)."""
LOOKBACK_MINUTES = 60
"""How far back the investigation reads: an hour, the span its onset search covers (a PetShop window
holds 25 minutes, so the default three hours would only read emptiness, at three times the cost)."""
AVAILABILITY = ("availability", "Average")
"""The series an error-ratio SLI is read from: CloudWatch's availability, in percent."""


@dataclass(frozen=True)
class Worked:
    """What one investigation round concluded about a window."""

    diagnosis: Diagnosis
    ranking: list[str]
    """The diagnosis's entity (unless quiet) then its candidates, catalog components only."""
    tool_calls: int
    onset: datetime | None
    """The alerting SLI's onset the investigation found, None when it found none."""
    blast_radius: list[str]
    """The components the investigation read (the alerting one and its candidates)."""

    @property
    def named(self) -> str | None:
        """The entity named as the root cause: None when the diagnosis is inconclusive or quiet. An
        entity outside the catalog (a node, say) is still a cause named, so it counts against specificity."""
        quiet = self.diagnosis.inconclusive or self.diagnosis.category in QUIET_CATEGORIES
        return None if quiet else self.diagnosis.entity or None


def series_query(component: str, metric: str, statistic: str) -> str:
    """The latest 5-minute period of one served series, at any evaluation time (see the module doc)."""
    labels = f"component={_literal(component)},metric={_literal(metric)},statistic={_literal(statistic)}"
    return f"last_over_time({SERIES_NAME}{{{labels}}}[{PERIOD}])"


def catalog_for(graph: Mapping[str, Sequence[str]], table: MetricTable, target: Target) -> ServiceCatalog:
    """The call graph's components as a team would catalog them: each with its callees, its error
    ratio (``1 - availability``) and latency as SLIs when the window has those series. The alerting
    component's latency SLI is the statistic its alert is on (an alert rule and its SLI agree);
    every other component's is `LATENCY_STATISTIC`, or its first recorded latency statistic."""
    names = sorted({*graph, *(callee for callees in graph.values() for callee in callees)})
    services = {}
    for name in names:
        recorded = table.series.get(name, {})
        statistics = [key.partition(".")[2] for key in recorded if key.startswith("latency.")]
        wanted = target.agg if name == target.node and target.metric == "latency" else LATENCY_STATISTIC
        statistic = wanted if wanted in statistics else (statistics[0] if statistics else None)
        availability = ".".join(AVAILABILITY) in recorded
        sli = ServiceSLI(
            # ``* 0.01``, not ``/ 100``: the investigation reads the denominator of a top-level ratio
            # as the request rate (`agents.investigation.traffic_query`), and 100 is not one.
            error_rate=f"1 - {series_query(name, *AVAILABILITY)} * 0.01" if availability else None,
            latency_p99=series_query(name, "latency", statistic) if statistic else None,
        )
        services[name] = Service(
            name=name,
            tier=1 if name == target.node else 2,
            customer_facing=name == target.node,
            dependencies=sorted(set(graph.get(name, ()))),
            sli=sli,
            kind="external",  # no Kubernetes workload behind a CloudWatch component
        )
    return ServiceCatalog(services=services)


def alert_payload(target: Target) -> dict[str, Any]:
    """The Alertmanager webhook the window's alert rule would send: its component, its SLI, its time."""
    latency = target.metric == "latency"
    name = "LatencyHigh" if latency else "AvailabilityLow"
    what = f"{target.metric} {target.agg}"
    return {
        "version": "4",
        "status": "firing",
        "receiver": "firstline",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": target.node, "severity": "critical"},
                "annotations": {
                    "summary": f"{target.node} {what} left its normal band"
                    + (" (latency high)" if latency else " (availability low: errors)")
                },
                "startsAt": target.alert_time.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "fingerprint": f"petshop-{int(target.timestamp)}-{target.metric}-{target.agg}",
            }
        ],
    }


def work_window(
    table: MetricTable, graph: Mapping[str, Sequence[str]], target: Target, now: datetime, *, incident_id: str
) -> Worked:
    """One investigation round on the window ``table`` for ``target``'s alert, the replay's clock at ``now``."""
    return asyncio.run(_work(table, graph, target, now, incident_id))


async def _work(
    table: MetricTable, graph: Mapping[str, Sequence[str]], target: Target, now: datetime, incident_id: str
) -> Worked:
    catalog = catalog_for(graph, table, target)
    if target.node not in catalog.services:
        raise ValueError(f"the alert's component {target.node!r} is not in the call graph")
    incident = parse_alertmanager(alert_payload(target))[0]
    settings = WorkflowSettings(lookback_minutes=LOOKBACK_MINUTES)
    done = await investigate_once(
        as_recording(table, now),
        catalog,
        incident,
        incident_id=incident_id,
        now=now,
        settings=settings,
        kinds=("prometheus",),
    )
    return Worked(done.diagnosis, done.ranking(catalog.services), done.tool_calls, done.onset, done.blast_radius)


def _literal(text: str) -> str:
    """A PromQL double-quoted string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
