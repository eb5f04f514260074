"""A self-check that cannot be gamed: shift one service's CPU and latency in a normal hour, the
latency of the edges into it and the front end's latency with it, then run the same alert, replay
and ranking; count how often the injected service ranks first. A second kind, ``network``, shifts
only the caller's end of the edges into the service (a delay on its network: the callee's own end
does not see it) and the front end's latency. A third, ``errors``, is a code path that fails fast:
no latency or CPU moves, the front end's success rate falls by a tenth, and the failure shows in the
logs only (every service logs an ordinary line every 10 s for the ten minutes before; from the
injection on, the service logs an exception, each caller on the way up from it to the front end a
failed call, the front end a failed request). The service and the time are drawn at random
(seeded); nothing reads service names, the fault order or any fault's label, and the normal hours
are those after the day's last fault folder's recording window (no label needed to find them)."""

from __future__ import annotations

import asyncio
import bisect
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.benchmarks.nezha.alert import synthesize
from evals.benchmarks.nezha.dataset import Day, Fault
from evals.replay.recording import LogLine, SeriesData

FACTOR = 3.0
DURATION_S = 180
SHIFTED = (
    "pod_cpu_usage_rate_percent",
    "pod_cpu_usage_millicores",
    "pod_server_latency_p90_seconds",
    "pod_server_latency_p95_seconds",
    "pod_server_latency_p99_seconds",
)
SLI_SHIFTED = ("sli_latency_p50_seconds", "sli_latency_p90_seconds")
QUIET_AFTER_S = 1800  # start this long after the last recorded fault window
MARGIN_S = 3 * 3600  # and keep the last hours of the recording out


def _shift(series: SeriesData, start: float, end: float, factor: float = FACTOR) -> SeriesData:
    lo, hi = bisect.bisect_left(series.times, start), bisect.bisect_right(series.times, end)
    values = [*series.values[:lo], *(v * factor for v in series.values[lo:hi]), *series.values[hi:]]
    return SeriesData(series.labels, list(series.times), values)


KINDS = ("cpu", "network", "errors")
SUCCESS_DROP = 0.9  # errors: the front end's success rate is multiplied by this during the injection


def inject(day: Day, service: str, at: float, kind: str = "cpu") -> Day:
    end = at + DURATION_S
    shifted: list[SeriesData] = []
    for series in day.series:
        labels = dict(series.labels)
        name = labels["__name__"]
        if kind == "errors":
            hit = name == "sli_success_rate_percent"
            shifted.append(_shift(series, at, end, SUCCESS_DROP) if hit else series)
            continue
        into = name == "edge_latency_seconds" and labels.get("server") == service
        if kind == "network":
            hit = name in SLI_SHIFTED or (into and labels.get("side") == "source")  # only the caller's end
        else:
            hit = (
                (labels.get("service") == service and name in SHIFTED)
                or name in SLI_SHIFTED
                or into  # its callers wait for it
            )
        shifted.append(_shift(series, at, end) if hit else series)
    return replace(day, series=shifted)


def injected_logs(day: Day, service: str, at: float, until: float) -> list[LogLine]:
    """The ``errors`` kind's log lines up to ``until`` (see the module docstring); pods are named as
    the day's metrics name them."""
    pods = {dict(s.labels).get("service", ""): dict(s.labels).get("pod", "") for s in day.series}
    callers = {callee: caller for caller, callee in day.call_edges}
    path, current = [service], service
    while current in callers and callers[current] not in path:  # up to the entry, one caller each
        current = callers[current]
        path.append(current)
    failures = {name: "rpc error: code = Unavailable desc = call failed" for name in path[1:]}
    failures[service] = "uncaught exception: java.lang.IllegalStateException: order state invalid"
    failures[day.entry] = "request error: could not serve the page"
    services = sorted({s for edge in day.call_edges for s in edge})
    lines = []
    step = 10.0
    t = at - 600.0
    while t <= min(at + DURATION_S, until):
        for k, name in enumerate(services):
            labels = tuple(sorted((("service", name), ("pod", pods.get(name) or f"{name}-0"))))
            ident = f"TraceID: {int(t * 1000) + k:032x}"
            lines.append(LogLine(int(t * 1e9), labels, f'{{"severity":"info","message":"{ident} handled request"}}'))
            if t >= at and name in failures:
                lines.append(
                    LogLine(int(t * 1e9) + 1, labels, f'{{"severity":"error","message":"{ident} {failures[name]}"}}')
                )
        t += step
    return lines


def run_injections(
    day: Day, last_window_end: datetime, trials: int, seed: int = 17, rank_by: str = "edges", kind: str = "cpu"
) -> dict[str, Any]:
    """``trials`` injections of ``kind`` at random services and times; for ``network`` only services
    that something calls (a delay into the entry has no edge to show on)."""
    from evals.benchmarks.nezha.investigated import work_fault
    from evals.benchmarks.nezha.run import investigate, named_first, position, rank_services

    rng = random.Random(seed)
    services = sorted({s for edge in day.call_edges for s in edge})
    targets = sorted({callee for _, callee in day.call_edges}) if kind == "network" else services
    end_of_day = max(t for s in day.series for t in s.times)
    first, last = last_window_end.timestamp() + QUIET_AFTER_S, end_of_day - MARGIN_S
    hits = top3 = 0
    rows = []
    for _ in range(trials):
        service = rng.choice(targets)
        at = rng.uniform(first, last)
        injected = inject(day, service, at, kind)
        start = datetime.fromtimestamp(at - 60, tz=UTC)
        sli = {dict(s.labels)["__name__"]: s for s in injected.series if dict(s.labels)["__name__"].startswith("sli_")}
        alert = synthesize(sli, start, start + timedelta(minutes=3))
        probe = Fault(
            id="injected",
            day=day.name,
            window_start=start,
            window_end=start + timedelta(minutes=3),
            folder=Path("/nonexistent"),
        )
        if rank_by == "investigation":
            logs = injected_logs(day, service, at, alert.fires_at.timestamp()) if kind == "errors" else []
            ranking = named_first(asyncio.run(work_fault(injected, probe, alert, logs=logs)).ranking, services)
        else:
            ranking = rank_services(asyncio.run(investigate(injected, probe, alert)), services, rank_by)
        rank = position(ranking, service)
        hits += rank == 1
        top3 += rank <= 3
        rows.append(
            {
                "service": service,
                "at": datetime.fromtimestamp(at, tz=UTC).isoformat(),
                "rank": rank,
                "alerted": alert.crossed_at is not None,
            }
        )
    return {
        "trials": trials,
        "top1": round(hits / trials, 4) if trials else None,
        "top3": round(top3 / trials, 4) if trials else None,
        "factor": FACTOR,
        "kind": kind,
        "rows": rows,
    }
