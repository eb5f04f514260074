"""A Nezha fault worked by the agents' investigation: the incident's own code path, against the replay.

What production would have: a service catalog (`catalog_for`: the call graph's services with
their dependencies, each one's SLI queries over its pods' metrics, its log stream), a Prometheus,
a Loki and a Tempo (one `evals.replay.server.ReplayServer` answering all three, the clock at the
alert), where the mesh reports every call edge's latency at both ends (`EDGE_LATENCY`: the
recording's ``edge_latency_seconds{client, server, side}``), and an Alertmanager webhook for the
synthesized SLI alert, parsed by the intake's parser. The investigation node
(`agents.investigation.investigate`) runs one round with the deterministic reasoner, exactly as the
workflow runs it for an incident; its diagnosis is the answer.

The ranking a fault is scored on is the diagnosis's entity, then its candidates in order (nothing
else: a service the investigation does not name is behind every named one); a recovered episode
ranks only what moved with it (`investigation_round.Round.ranking`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agents.settings import EdgeLatencySettings, WorkflowSettings
from agents.state import Diagnosis
from evals.benchmarks.investigation_round import investigate_once
from evals.benchmarks.nezha.alert import SUCCESS_METRIC, SyntheticAlert
from evals.benchmarks.nezha.dataset import Day, Fault, recording, service_of
from evals.replay.recording import LogLine
from intake.alertmanager import parse_alertmanager
from knowledge.catalog import Service, ServiceCatalog, ServiceSLI

EDGE_LATENCY = EdgeLatencySettings(
    query="edge_latency_seconds",
    caller_label="client",
    callee_label="server",
    end_label="side",
    caller_end="source",
    callee_end="destination",
)
"""The recording's per-edge medians: ``side="source"`` is the caller's Istio sidecar, ``destination`` the callee's."""


@dataclass(frozen=True)
class Worked:
    diagnosis: Diagnosis
    ranking: list[str]
    tool_calls: int
    evidence: int


def catalog_for(day: Day) -> ServiceCatalog:
    """The services of the day's call graph as a team would catalog them: each with its callees, its
    served latency (the slowest pod's p99) and CPU (the busiest pod's, as a ratio) as SLIs, its logs
    by service label; the entry also with the front end's success rate as its error SLI."""
    names = sorted({s for edge in day.call_edges for s in edge})
    services = {}
    for name in names:
        pods = f'{{service="{name}"}}'
        sli = ServiceSLI(
            latency_p99=f"max(pod_server_latency_p99_seconds{pods})",
            saturation=f"max(pod_cpu_usage_rate_percent{pods}) / 100",
        )
        if name == day.entry:
            sli = sli.model_copy(update={"error_rate": f"1 - min(sli_success_rate_percent{pods}) / 100"})
        services[name] = Service(
            name=name,
            tier=1 if name == day.entry else 2,
            customer_facing=name == day.entry,
            dependencies=sorted({callee for caller, callee in day.call_edges if caller == name}),
            sli=sli,
            logs=pods,
        )
    return ServiceCatalog(services=services)


def fault_logs(fault: Fault, until: datetime) -> list[LogLine]:
    """The fault folder's log lines up to ``until``, as a log shipper stores them: the container
    runtime's JSON wrapper taken off (Promtail's ``docker`` stage), labelled by service, pod and node."""
    path = fault.folder / "logs.csv"
    if not path.is_file():
        return []
    limit = int(until.timestamp() * 1e9)
    lines = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            try:
                at = int(row["TimeUnixNano"])
                wrapped = json.loads(row["Log"])
            except (KeyError, ValueError, TypeError):
                continue
            text = str(wrapped.get("log", "") if isinstance(wrapped, dict) else row["Log"]).rstrip("\n")
            if at > limit or not text:
                continue
            pod = row.get("PodName", "")
            labels = tuple(sorted({("service", service_of(pod)), ("pod", pod), ("node", row.get("Node", ""))}))
            lines.append(LogLine(at, tuple((k, v) for k, v in labels if v), text))
    lines.sort(key=lambda line: line.unix_nano)
    return lines


def alert_payload(day: Day, alert: SyntheticAlert) -> dict[str, Any]:
    """The Alertmanager webhook a rule on the front end's SLI would send."""
    started = alert.crossed_at or alert.fires_at
    name = "FrontendErrorsHigh" if alert.metric == SUCCESS_METRIC else "FrontendLatencyHigh"
    return {
        "version": "4",
        "status": "firing",
        "receiver": "firstline",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": name, "service": day.entry, "severity": "critical"},
                "annotations": {"summary": f"{day.entry} {alert.metric} left its normal band ({alert.reason})"},
                "startsAt": started.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "fingerprint": f"nezha-{day.name}-{int(started.timestamp())}",
            }
        ],
    }


async def work_fault(day: Day, fault: Fault, alert: SyntheticAlert, *, logs: list[LogLine] | None = None) -> Worked:
    """One investigation round on ``fault`` with the replay's clock at the alert; ``logs`` (a self-check's
    injected lines) instead of the fault folder's."""
    now = alert.fires_at
    served = recording(day, fault, now)
    served.logs = (
        fault_logs(fault, now) if logs is None else [line for line in logs if line.unix_nano <= now.timestamp() * 1e9]
    )
    catalog = catalog_for(day)
    incident = parse_alertmanager(alert_payload(day, alert))[0]
    settings = WorkflowSettings(edge_latency=EDGE_LATENCY)
    done = await investigate_once(
        served, catalog, incident, incident_id=f"nezha-{fault.id}", now=now, settings=settings
    )
    return Worked(done.diagnosis, done.ranking(catalog.services), done.tool_calls, done.evidence)
