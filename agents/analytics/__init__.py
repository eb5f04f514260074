"""Investigation analytics both reasoners use: metric anomaly ranking, change correlation, log patterns.

Pure, deterministic library code over plain data (``component -> metric -> values``, a ``caller ->
callees`` graph, timestamps, log lines, change records); every result is a pydantic model that
carries the reason behind each number, so evidence can cite it. It imports nothing else of the
project (the import contract in ``pyproject.toml`` checks it), so the benchmarks run it on plain data. Method and measured figures:
``docs/analytics.md``.

- `analyze_incident` (or `detect_onset` -> `score_components` -> `rank_root_causes`): which component
  most likely caused an alert, or an explicit abstention with what would separate the leads.
- `localize`: which service a slowdown starts at, from both ends of every call edge (a slow callee,
  a slow network into a service, a caller that only waits), with a fault class per service.
- `rank_changes`: deploys, migrations, config and flag changes in the blast radius before the onset.
- `mine_patterns`: log templates (drain3) that are new or spiking since the onset.
"""

from agents.analytics.anomaly import (
    ComponentScore,
    IncidentAnalysis,
    MetricDeviation,
    Onset,
    RankingConfig,
    RankingResult,
    RootCauseCandidate,
    analyze_incident,
    detect_onset,
    rank_root_causes,
    score_components,
)
from agents.analytics.changes import Change, RankedChange, rank_changes
from agents.analytics.edges import (
    EdgeLatency,
    EdgeRanking,
    EdgeRankingConfig,
    ServiceLocalization,
    ServiceSignals,
    localize,
)
from agents.analytics.graph import DependencyGraph, hop_distances
from agents.analytics.logs import LogPattern, PatternConfig, mine_patterns
from agents.analytics.metrics import MetricKind, NoiseModel, classify_metric

__all__ = [
    "Change",
    "ComponentScore",
    "DependencyGraph",
    "EdgeLatency",
    "EdgeRanking",
    "EdgeRankingConfig",
    "IncidentAnalysis",
    "LogPattern",
    "MetricDeviation",
    "MetricKind",
    "NoiseModel",
    "Onset",
    "PatternConfig",
    "RankedChange",
    "RankingConfig",
    "RankingResult",
    "RootCauseCandidate",
    "ServiceLocalization",
    "ServiceSignals",
    "analyze_incident",
    "classify_metric",
    "detect_onset",
    "hop_distances",
    "localize",
    "mine_patterns",
    "rank_changes",
    "rank_root_causes",
    "score_components",
]
