"""Windows of normal operation, on which a good method finds nothing (specificity)."""

from __future__ import annotations

from dataclasses import dataclass

from evals.benchmarks.petshop.dataset import Scenario, Target


@dataclass(frozen=True)
class NormalWindow:
    scenario: str
    start: int
    stop: int
    target: Target


def normal_windows(scenario: Scenario, length: int, alert_offset_s: float) -> list[NormalWindow]:
    """Non-overlapping windows of ``length`` steps over the normal-operation data, one per alerting SLI.

    The alerting SLIs are the distinct (node, metric, statistic) targets of the scenario's issues; the
    fictitious alert of each window fires ``alert_offset_s`` seconds into its second step, where the
    issues' alerts fall.
    """
    if scenario.normal is None:
        return []
    slis = sorted({(i.target.node, i.target.metric, i.target.agg) for i in scenario.issues})
    times = scenario.normal.times
    windows = []
    for start in range(0, len(times) - length + 1, length):
        alert = times[start + 1].timestamp() + alert_offset_s
        for node, metric, agg in slis:
            windows.append(NormalWindow(scenario.name, start, start + length, Target(node, metric, agg, alert)))
    return windows
