"""Investigation analytics both reasoners use: metric anomaly ranking, change correlation, log patterns.

Pure, deterministic library code over plain data (``component -> metric -> values``, a ``caller ->
callees`` graph, timestamps, log lines, change records); every result is a pydantic model that
carries the reason behind each number, so evidence can cite it. A leaf of ``tools``: it imports
nothing from ``agents``, ``knowledge``, ``evals`` or ``firstline``. Method and measured figures:
``docs/analytics.md``.

- `analyze_incident` (or `detect_onset` -> `score_components` -> `rank_root_causes`): which component
  most likely caused an alert, or an explicit abstention with what would separate the leads.
- `rank_changes`: deploys, migrations, config and flag changes in the blast radius before the onset.
- `mine_patterns`: log templates (drain3) that are new or spiking since the onset.
"""

from tools.analytics.anomaly import (
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
from tools.analytics.changes import Change, RankedChange, rank_changes
from tools.analytics.graph import DependencyGraph, hop_distances
from tools.analytics.logs import LogPattern, PatternConfig, mine_patterns
from tools.analytics.metrics import MetricKind, NoiseModel, classify_metric

__all__ = [
    "Change",
    "ComponentScore",
    "DependencyGraph",
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
    "analyze_incident",
    "classify_metric",
    "detect_onset",
    "hop_distances",
    "mine_patterns",
    "rank_changes",
    "rank_root_causes",
    "score_components",
]
