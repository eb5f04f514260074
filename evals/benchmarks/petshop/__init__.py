"""The PetShop root-cause benchmark: import the public dataset, rank root causes, score the ranking.

PetShop ("PetShop: A Dataset for Root Cause Analysis", CLeaR 2024, data CC-BY-4.0) holds real
CloudWatch metrics of a 41-component AWS application with injected performance issues. Layout::

    <traffic>/graph.csv                 adjacency matrix, row = caller, column = callee
    <traffic>/noissue/metrics.csv       normal operation (absent for the temporal scenarios)
    <traffic>/<split>/issue_N/metrics.csv, target.json

For every issue the analytics of `agents.analytics` rank root-cause components from the metrics and
the call graph only (component names are never read, except to compare the answer with the label),
and `run_benchmark` writes ``results.json`` with top-k accuracies, the specificity on windows of
normal operation, a majority-class floor, the dataset's published baseline re-implemented on the same
windows, and synthetic fault injections (clearly separated: they test the method where the real
labels cannot, since every public train issue has the same root cause).

Run it::

    python -m evals.benchmarks.petshop ../shared/datasets/petshop --out .firstline/bench/petshop
"""

from __future__ import annotations

from evals.benchmarks.petshop.baseline import baseline_rank
from evals.benchmarks.petshop.cli import format_summary, main
from evals.benchmarks.petshop.dataset import (
    DEFAULT_INJECTION_TRIALS,
    DEFAULT_SEED,
    NORMAL_DIR,
    SCENARIOS,
    TOP_K,
    DatasetError,
    Issue,
    MetricTable,
    ProgressCallback,
    Scenario,
    Target,
    load_dataset,
    load_graph,
    load_metrics,
    load_scenario,
    load_target,
)
from evals.benchmarks.petshop.injection import Injection, inject_fault
from evals.benchmarks.petshop.method import METHODS, MethodSettings, Ranked, analyze, normal_noise, rank
from evals.benchmarks.petshop.run import (
    evaluate_issue,
    evaluate_normal_windows,
    published_protocol_specificity,
    run_benchmark,
    run_injections,
)
from evals.benchmarks.petshop.scoring import majority_floor, rank_of, summarize_ranks
from evals.benchmarks.petshop.windows import NormalWindow, normal_windows

__all__ = [
    "DEFAULT_INJECTION_TRIALS",
    "DEFAULT_SEED",
    "DatasetError",
    "Injection",
    "Issue",
    "METHODS",
    "MethodSettings",
    "MetricTable",
    "NORMAL_DIR",
    "NormalWindow",
    "Ranked",
    "ProgressCallback",
    "SCENARIOS",
    "Scenario",
    "TOP_K",
    "Target",
    "analyze",
    "baseline_rank",
    "evaluate_issue",
    "evaluate_normal_windows",
    "format_summary",
    "inject_fault",
    "load_dataset",
    "load_graph",
    "load_metrics",
    "load_scenario",
    "load_target",
    "main",
    "majority_floor",
    "normal_noise",
    "normal_windows",
    "published_protocol_specificity",
    "rank",
    "rank_of",
    "run_benchmark",
    "run_injections",
    "summarize_ranks",
]
