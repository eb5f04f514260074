"""Running the benchmark: every issue, the normal windows, the baseline and the injections, into one
results document.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import structlog

from agents.analytics.metrics import NoiseModel
from agents.state import QUIET_CATEGORIES
from evals.benchmarks.petshop.baseline import baseline_rank
from evals.benchmarks.petshop.dataset import (
    DEFAULT_INJECTION_TRIALS,
    DEFAULT_SEED,
    TOP_K,
    Issue,
    MetricTable,
    ProgressCallback,
    Scenario,
    Target,
    load_dataset,
)
from evals.benchmarks.petshop.injection import inject_fault
from evals.benchmarks.petshop.method import MethodSettings, Ranked, normal_noise, rank
from evals.benchmarks.petshop.scoring import majority_floor, rank_of, summarize_ranks
from evals.benchmarks.petshop.windows import normal_windows

log = structlog.get_logger("firstline.evals.petshop")


@dataclass
class _Tally:
    ranks: list[int | None] = field(default_factory=list)
    named_hits: int = 0
    abstained: int = 0
    labels: list[str | None] = field(default_factory=list)
    baseline_ranks: list[int | None] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        n = len(self.ranks)
        return {
            **summarize_ranks(self.ranks),
            "ac1_named": self.named_hits / n if n else math.nan,
            "abstention_rate": self.abstained / n if n else math.nan,
            "majority_floor": majority_floor(self.labels),
            "baseline": summarize_ranks(self.baseline_ranks) if self.baseline_ranks else None,
        }


MISS_STAGES = ("candidates", "onset", "quiet", "ranking")
"""Where an investigation that did not put the truth first lost it, first failing stage first:
outside the blast radius it read, no onset of the alerting SLI, a quiet diagnosis (no incident,
recovered), or ranked behind another component."""


def miss_stage(found: Ranked, truth: str | None) -> str | None:
    """The stage (`MISS_STAGES`) at which the investigation missed ``truth``; None on a hit or without a truth."""
    if truth is None or (found.ranked[:1] == [truth] and found.named == truth):
        return None
    stage = found.stage
    if truth not in stage.get("blast_radius", [truth]):
        return "candidates"
    if stage.get("onset") is None:
        return "onset"
    if stage.get("category") in QUIET_CATEGORIES:
        return "quiet"
    return "ranking"


def evaluate_issue(scenario: Scenario, issue: Issue, noise: NoiseModel, settings: MethodSettings) -> dict[str, Any]:
    """One row of results.json: the ranking for one issue and where the labelled root cause landed."""
    found = rank(
        issue.metrics,
        scenario.graph,
        issue.target,
        noise,
        settings,
        label=f"{scenario.name}-{issue.split}-{issue.name}",
    )
    position = rank_of(found.ranked, issue.root_cause)
    baseline = (
        baseline_rank(issue.metrics, scenario.graph, issue.target, scenario.normal)
        if scenario.normal is not None
        else None
    )
    return {
        "scenario": scenario.name,
        "split": issue.split,
        "issue": issue.name,
        "target": {
            "node": issue.target.node,
            "metric": issue.target.metric_name,
            "alert_time": issue.target.alert_time.isoformat(),
        },
        "root_cause": issue.root_cause,
        "rank": position,
        "hit": {f"top{k}": position is not None and position <= k for k in range(1, TOP_K + 1)},
        "named": found.named,
        "abstained": found.abstained,
        "reason": found.reason,
        "onset": found.onset.isoformat() if found.onset is not None else None,
        "top": found.top,
        "separating_evidence": found.separating_evidence,
        **({"investigation": {**found.stage, "miss": miss_stage(found, issue.root_cause)}} if found.stage else {}),
        "baseline_rank": rank_of(baseline, issue.root_cause) if baseline is not None else None,
        "baseline_top": baseline[:TOP_K] if baseline is not None else None,
    }


def evaluate_normal_windows(
    scenario: Scenario,
    settings: MethodSettings,
    *,
    length: int,
    alert_offset_s: float,
    on_window: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Specificity: the share of normal-operation windows where the method names no root cause."""
    windows = normal_windows(scenario, length, alert_offset_s)
    per_sli: dict[str, dict[str, int]] = {}
    named_examples: list[dict[str, Any]] = []
    assert scenario.normal is not None or not windows
    cache: dict[int, tuple[NoiseModel, MetricTable]] = {}
    for window in windows:
        assert scenario.normal is not None
        if window.start not in cache:
            # Windows come grouped by start (one per SLI): keep only the current start's models.
            cache.clear()
            cache[window.start] = (
                normal_noise(scenario.normal, (window.start, window.stop)),
                _without_rows(scenario.normal, window.start, window.stop),
            )
        noise, rest = cache[window.start]
        table = scenario.normal.rows(window.start, window.stop)
        found = rank(
            table, scenario.graph, window.target, noise, settings, label=f"{scenario.name}-normal-{window.start}"
        )
        baseline = baseline_rank(table, scenario.graph, window.target, rest)
        tally = per_sli.setdefault(
            window.target.metric_name, {"windows": 0, "named": 0, "baseline_named": 0, "onsets": 0}
        )
        tally["windows"] += 1
        tally["onsets"] += found.onset is not None
        tally["baseline_named"] += bool(baseline)
        if found.named is not None:
            tally["named"] += 1
            if len(named_examples) < 10:
                named_examples.append(
                    {
                        "start": window.target.alert_time.isoformat(),
                        "sli": window.target.metric_name,
                        "named": found.named,
                        "reason": found.reason,
                    }
                )
        if on_window is not None:
            on_window()
    total = sum(t["windows"] for t in per_sli.values())
    named = sum(t["named"] for t in per_sli.values())
    baseline_named = sum(t["baseline_named"] for t in per_sli.values())
    return {
        "windows": total,
        "specificity": 1 - named / total if total else math.nan,
        "baseline_specificity": 1 - baseline_named / total if total else math.nan,
        "per_sli": {
            sli: {
                **t,
                "specificity": 1 - t["named"] / t["windows"],
                "baseline_specificity": 1 - t["baseline_named"] / t["windows"],
            }
            for sli, t in sorted(per_sli.items())
        },
        "named_examples": named_examples,
    }


def published_protocol_specificity(scenario: Scenario, settings: MethodSettings) -> dict[str, Any]:
    """Specificity the way the dataset's own code measures it, for a like-for-like comparison.

    For each alerting SLI and each split point from half the normal data to its end in steps of a
    tenth, the steps before the split are the normal operation and the rest (long: up to half of it)
    the "abnormal" window, whose third step is the trigger. The method under test reads the trigger
    as an alert in that step (so it looks at the steps around it); the re-implemented baseline
    searches the whole remaining window for an anomalous target, as published.
    """
    if scenario.normal is None:
        return {}
    normal = scenario.normal
    steps = len(normal)
    slis = sorted({(i.target.node, i.target.metric, i.target.agg) for i in scenario.issues})
    splits = list(range(steps // 2, steps - 3, int(steps * 0.1)))
    named = baseline_named = 0
    for split in splits:
        history = normal.rows(0, split)
        noise = normal_noise(history)
        abnormal = normal.rows(split, steps)
        for node, metric, agg in slis:
            target = Target(node, metric, agg, abnormal.times[2].timestamp() + 1.0)
            named += rank(abnormal, scenario.graph, target, noise, settings).named is not None
            baseline_named += bool(baseline_rank(abnormal, scenario.graph, target, history))
    windows = len(splits) * len(slis)
    return {
        "windows": windows,
        "specificity": 1 - named / windows if windows else math.nan,
        "baseline_specificity": 1 - baseline_named / windows if windows else math.nan,
    }


def _without_rows(table: MetricTable, start: int, stop: int) -> MetricTable:
    keep = [i for i in range(len(table)) if not start <= i < stop]
    return MetricTable(
        tuple(table.times[i] for i in keep),
        {c: {m: v[keep] for m, v in by_metric.items()} for c, by_metric in table.series.items()},
    )


def run_injections(
    scenarios: Sequence[Scenario],
    settings: MethodSettings,
    *,
    trials: int,
    seed: int,
    length: int,
    on_trial: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Synthetic faults on random components, in normal windows and in issue windows; where does the injected one rank?"""
    rng = random.Random(seed)
    results: dict[str, Any] = {}
    for scenario in scenarios:
        per_background: dict[str, list[dict[str, Any]]] = {"normal": [], "issue": []}
        backgrounds: list[tuple[str, MetricTable, NoiseModel, str | None, Target]] = []
        for issue in scenario.issues:
            noise = normal_noise(scenario.normal)
            backgrounds.append(("issue", issue.metrics, noise, issue.root_cause, issue.target))
        normal_starts = list(range(0, len(scenario.normal) - length + 1, length)) if scenario.normal is not None else []
        target_nodes = sorted({i.target.node for i in scenario.issues})
        for trial in range(trials):
            kind = "normal" if normal_starts and trial % 2 == 0 else "issue"
            fault = rng.choice(["latency", "availability"])
            if kind == "normal":
                assert scenario.normal is not None
                start = rng.choice(normal_starts)
                table = scenario.normal.rows(start, start + length)
                noise = normal_noise(scenario.normal, (start, start + length))
                real_root: str | None = None
                target_node = rng.choice(target_nodes)
            else:
                if not backgrounds:
                    continue
                _, table, noise, real_root, issue_target = rng.choice(backgrounds)
                target_node = issue_target.node
            injected = inject_fault(
                table, scenario.graph, target_node, fault, rng, exclude=[real_root] if real_root else []
            )
            if injected is None:
                continue
            modified, injection = injected
            alert = modified.times[1].timestamp() + rng.uniform(0.0, 300.0)
            agg = "Average"
            target = Target(target_node, fault, agg, alert)
            found = rank(modified, scenario.graph, target, noise, settings, label=f"{scenario.name}-injected-{trial}")
            ranked = found.ranked
            per_background[kind].append(
                {
                    "fault": fault,
                    "root": injection.root,
                    "hops": len(injection.path) - 1,
                    "rank": rank_of(ranked, injection.root),
                    "named": found.named,
                    "real": real_root,
                    "real_rank": rank_of(ranked, real_root),
                    "rank_without_real": rank_of([c for c in ranked if c != real_root], injection.root),
                }
            )
            if on_trial is not None:
                on_trial()
        results[scenario.name] = {kind: _injection_summary(rows) for kind, rows in per_background.items() if rows}
    return results


def _injection_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Where the injected component ranked; with a real fault in the background, also without it."""
    summary: dict[str, Any] = {
        **summarize_ranks([row["rank"] for row in rows]),
        "named_correct": sum(1 for row in rows if row["named"] == row["root"]) / len(rows),
        # Naming the real (background) fault is not a mistake; naming anything else is.
        "named_wrong": sum(1 for row in rows if row["named"] not in (None, row["root"], row["real"])) / len(rows),
        "abstained": sum(1 for row in rows if row["named"] is None) / len(rows),
        "by_fault": {
            fault: summarize_ranks([row["rank"] for row in rows if row["fault"] == fault])
            for fault in sorted({row["fault"] for row in rows})
        },
    }
    if any(row["real_rank"] is not None for row in rows):
        # Two concurrent causes: the injected one may rightly rank behind the real one.
        summary["without_real_root"] = summarize_ranks([row["rank_without_real"] for row in rows])
        summary["named_real"] = sum(1 for row in rows if row["named"] == row["real"]) / len(rows)
        summary["both_in_top3"] = sum(
            1 for row in rows if (row["rank"] or TOP_K + 1) <= 3 and (row["real_rank"] or TOP_K + 1) <= 3
        ) / len(rows)
    summary["misses"] = [
        {"root": row["root"], "fault": row["fault"], "rank": row["rank"], "hops": row["hops"]}
        for row in rows
        if row["rank"] != 1
    ][:15]
    return summary


def run_benchmark(
    path: Path,
    out_dir: Path | None,
    on_progress: ProgressCallback | None = None,
    *,
    settings: MethodSettings | None = None,
    injection_trials: int = DEFAULT_INJECTION_TRIALS,
    seed: int = DEFAULT_SEED,
) -> dict[str, Any]:
    """Run the PetShop benchmark on the dataset at ``path``; write ``results.json`` into ``out_dir``.

    Returns the same dictionary. ``on_progress(stage, done, total)`` is called after each issue,
    normal window and injection trial. ``injection_trials`` per scenario (0 disables the synthetic
    part). Raises `DatasetError` (naming the file) when ``path`` does not have the PetShop layout.
    """
    settings = settings or MethodSettings()
    started = time.monotonic()
    scenarios = load_dataset(path)
    issue_length = _issue_length(scenarios)
    alert_offset = _alert_offset(scenarios)
    total_issues = sum(len(s.issues) for s in scenarios)
    total_windows = sum(len(normal_windows(s, issue_length, alert_offset)) for s in scenarios)
    progress = on_progress or (lambda stage, done, total: None)

    rows: list[dict[str, Any]] = []
    tallies: dict[str, _Tally] = {}
    overall = _Tally()
    done = 0
    for scenario in scenarios:
        noise = normal_noise(scenario.normal)
        for issue in scenario.issues:
            row = evaluate_issue(scenario, issue, noise, settings)
            rows.append(row)
            for tally in (tallies.setdefault(scenario.name, _Tally()), overall):
                tally.ranks.append(row["rank"])
                tally.named_hits += row["named"] is not None and row["named"] == issue.root_cause
                tally.abstained += row["abstained"]
                tally.labels.append(issue.root_cause)
                if scenario.normal is not None:
                    tally.baseline_ranks.append(row["baseline_rank"])
            done += 1
            progress("issues", done, total_issues)

    windows_done = 0

    def window_done() -> None:
        nonlocal windows_done
        windows_done += 1
        progress("normal windows", windows_done, total_windows)

    specificity = {
        s.name: evaluate_normal_windows(
            s, settings, length=issue_length, alert_offset_s=alert_offset, on_window=window_done
        )
        for s in scenarios
        if s.normal is not None
    }
    published_protocol = {
        s.name: published_protocol_specificity(s, settings) for s in scenarios if s.normal is not None
    }
    trials_done = 0

    def trial_done() -> None:
        nonlocal trials_done
        trials_done += 1
        progress("synthetic injections", trials_done, injection_trials * len(scenarios))

    synthetic = (
        run_injections(
            scenarios, settings, trials=injection_trials, seed=seed, length=issue_length, on_trial=trial_done
        )
        if injection_trials > 0
        else {}
    )

    per_scenario = {}
    for scenario in scenarios:
        summary = tallies[scenario.name].summary() if scenario.name in tallies else {}
        spec = specificity.get(scenario.name)
        per_scenario[scenario.name] = {
            **summary,
            "specificity": spec["specificity"] if spec else None,
            "baseline_specificity": spec["baseline_specificity"] if spec else None,
            "normal_windows": spec["windows"] if spec else 0,
        }
    all_windows = sum(s["windows"] for s in specificity.values())
    named = sum(s["windows"] * (1 - s["specificity"]) for s in specificity.values())
    baseline_named = sum(s["windows"] * (1 - s["baseline_specificity"]) for s in specificity.values())
    overall_summary = overall.summary()
    results: dict[str, Any] = {
        "benchmark": "petshop",
        "dataset": str(path),
        "splits": sorted({row["split"] for row in rows}),
        "settings": {
            "ranking": dataclasses.asdict(settings.ranking),
            "onset_threshold": settings.onset_threshold,
            "incident_steps": settings.incident_steps,
            "use_normal_noise": settings.use_normal_noise,
            "clock_after_alert_s": settings.clock_after_alert.total_seconds(),
            "method": settings.method,
        },
        "method": settings.method,
        "method_how": METHOD_HOW[settings.method],
        **({"investigation_misses": _miss_counts(rows)} if settings.method == "investigation" else {}),
        "ac1": overall_summary["ac1"],
        "ac3": overall_summary["ac3"],
        "avg5": overall_summary["avg5"],
        "specificity": 1 - named / all_windows if all_windows else None,
        "majority_floor": overall_summary["majority_floor"]["ac1"],
        "overall": {
            **overall_summary,
            "specificity": 1 - named / all_windows if all_windows else None,
            "baseline_specificity": 1 - baseline_named / all_windows if all_windows else None,
            "normal_windows": all_windows,
        },
        "per_scenario": per_scenario,
        "normal_windows": {
            "how": (
                f"non-overlapping windows of {issue_length} steps (the issue windows' length) over each "
                f"scenario's noissue metrics, one per alerting SLI of the scenario's issues (node, metric, "
                f"statistic from target.json); the fictitious alert fires {alert_offset:.0f} s into the "
                "second step (the issues' median); the noise model leaves the window out. Temporal scenarios "
                "have no noissue data, so no windows."
            ),
            "per_scenario": specificity,
        },
        "specificity_published_protocol": {
            "how": (
                "the dataset's evaluate_specificity: per alerting SLI, split points from half the noissue data "
                "to its end every tenth; before the split = normal operation, after = the 'abnormal' window "
                "whose third step is the trigger (here: the alert step)"
            ),
            "per_scenario": published_protocol,
        },
        "baseline": (
            "the dataset's published method re-implemented (MAD score > 5 against noissue on the target's metric "
            "and statistic, third step or the next one where the target is anomalous, anomalous nodes without "
            "anomalous callees reaching the target through anomalous nodes, ranked by summed scores); "
            "n/a where there is no noissue data"
        ),
        "synthetic_injection": {
            "how": (
                "faults written into copies of normal windows and issue windows at a random component of the "
                "target's dependency closure (never the labelled root), propagated to the target along the "
                "shortest call path scaled by relative traffic; latency faults grow the target's average latency "
                "15-60 %, availability faults remove 2-8 points; the alert is set in the second step and the "
                "fault starts in the third. 'issue' backgrounds keep the real fault: two concurrent causes."
            ),
            "trials_per_scenario": injection_trials,
            "seed": seed,
            "per_scenario": synthetic,
        },
        "issues": rows,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "results.json").write_text(json.dumps(_json_safe(results), indent=2) + "\n")
    log.info(
        "petshop.done",
        issues=len(rows),
        ac1=results["ac1"],
        ac3=results["ac3"],
        specificity=results["specificity"],
        elapsed_s=results["elapsed_s"],
        out=str(out_dir) if out_dir is not None else None,
    )
    return results


METHOD_HOW = {
    "analytics": (
        "agents.analytics.analyze_incident: onset of the alerting SLI from the step containing the alert; "
        "every component metric scored as (value - median of the steps before the alert step) / noise scale "
        "(log scale for latency and requests, error points for availability; scale = max of the normal-operation "
        "step-to-step spread, the sampling noise given the component's requests, and a floor); component score "
        "= 2nd-best latency statistic (latency alerts) or availability (availability alerts); ranked over the "
        "target's dependency closure, discounted when a dependency's relative move explains it and when the "
        "path from the target crosses healthy components; abstains below 5 or when the runner-up is within 75 %."
    ),
    "investigation": (
        "agents.investigation.investigate, one round, deterministic reasoner: a catalog of every component "
        "(callees from graph.csv; SLIs last_over_time of its availability and latency series over 5m), the "
        "window served by the replay's Prometheus (clock clock_after_alert_s after the alert), an Alertmanager "
        "webhook for the target's SLI parsed by the intake; ranking = the diagnosis's entity then its "
        "candidates; named = the entity unless the diagnosis is inconclusive, no_incident or recovered. "
        "No normal-operation noise model (an incident has none)."
    ),
}


def _miss_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many issues the investigation missed at each stage (`MISS_STAGES`), and how many it hit."""
    stages = [row.get("investigation", {}).get("miss") for row in rows]
    return {"hit": sum(1 for s in stages if s is None), **{s: stages.count(s) for s in MISS_STAGES}}


def _issue_length(scenarios: Sequence[Scenario]) -> int:
    lengths = [len(issue.metrics) for s in scenarios for issue in s.issues]
    return int(np.median(lengths)) if lengths else 5


def _alert_offset(scenarios: Sequence[Scenario]) -> float:
    """Median seconds between the start of the step containing the alert and the alert itself."""
    offsets = []
    for scenario in scenarios:
        for issue in scenario.issues:
            epochs = [t.timestamp() for t in issue.metrics.times]
            index = int(np.searchsorted(epochs, issue.target.timestamp, side="right")) - 1
            if 0 <= index < len(epochs):
                offsets.append(issue.target.timestamp - epochs[index])
    return float(np.median(offsets)) if offsets else 150.0


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value
