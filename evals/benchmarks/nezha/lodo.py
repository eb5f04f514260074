"""Leave-one-day-out for the edge localization's parameters: choose on one day, measure on the other.

Each fault's inputs to `agents.analytics.edges.localize` (what the adapters returned) are kept from
the benchmark run, so the grid costs only the ranking. For every day, the configuration of `GRID`
with the best (AS@1, AS@3) on the other days is chosen (ties: the shipped default, then grid
order) and scored on that day; the shipped default is scored next to it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from agents.analytics.edges import DEFAULT_EDGE_RANKING, EdgeLatency, EdgeRankingConfig, ServiceSignals, localize

GRID: dict[str, tuple[float, ...]] = {
    "incident_steps": (3, 5, 7),
    "availability_floor": (1.0, 3.0),
    "victim_weight": (0.2, 0.5),
    "explained_ratio": (0.5, 1.0),
    "latency_floor": (0.1, 0.2),
    "min_wait": (0.0, 3.0, 5.0, 8.0),
}
"""192 configurations around the shipped default (every value of it is in the grid)."""


@dataclass(frozen=True)
class Case:
    """One fault as the ranking saw it, with the label the scorer reads."""

    day: str
    truth: str
    services: tuple[str, ...]
    signals: Mapping[str, ServiceSignals]
    edges: Sequence[EdgeLatency]


def configurations(grid: Mapping[str, Sequence[float]] = GRID) -> list[EdgeRankingConfig]:
    names = list(grid)
    out = []
    for values in itertools.product(*(grid[name] for name in names)):
        fields = {name: int(v) if name == "incident_steps" else float(v) for name, v in zip(names, values, strict=True)}
        out.append(replace(DEFAULT_EDGE_RANKING, **fields))  # type: ignore[arg-type]  # fields are EdgeRankingConfig's
    return out


def positions(cases: Sequence[Case], config: EdgeRankingConfig) -> list[int]:
    """Each case's rank of its truth, ties counted against the method (as the benchmark scores)."""
    out = []
    for case in cases:
        scores = {s.service: s.score for s in localize(case.signals, case.edges, config).services}
        truth = scores.get(case.truth, 0.0)
        out.append(sum(1 for name in case.services if scores.get(name, 0.0) >= truth))
    return out


def _as(ranks: Sequence[int]) -> tuple[float, float]:
    if not ranks:
        return (0.0, 0.0)
    return (round(sum(r <= 1 for r in ranks) / len(ranks), 4), round(sum(r <= 3 for r in ranks) / len(ranks), 4))


def leave_one_day_out(cases: Sequence[Case], grid: Mapping[str, Sequence[float]] = GRID) -> dict[str, Any]:
    """Per held-out day: the configuration chosen on the other days, its score there and on the held-out day."""
    days = sorted({c.day for c in cases})
    candidates = configurations(grid)
    if DEFAULT_EDGE_RANKING not in candidates:
        candidates.append(DEFAULT_EDGE_RANKING)
    ranks = {config: positions(cases, config) for config in candidates}

    def score(config: EdgeRankingConfig, chosen_days: Sequence[str]) -> tuple[float, float]:
        return _as([r for r, c in zip(ranks[config], cases, strict=True) if c.day in chosen_days])

    folds = {}
    for held_out in days:
        train = [d for d in days if d != held_out]
        best = max(candidates, key=lambda c: (score(c, train), c == DEFAULT_EDGE_RANKING))
        folds[held_out] = {
            "chosen_on": train,
            "chosen": {name: getattr(best, name) for name in grid},
            "train": dict(zip(("as1", "as3"), score(best, train), strict=True)),
            "held_out": dict(zip(("as1", "as3"), score(best, [held_out]), strict=True)),
            "default_held_out": dict(zip(("as1", "as3"), score(DEFAULT_EDGE_RANKING, [held_out]), strict=True)),
        }
    return {
        "grid": {name: list(values) for name, values in grid.items()},
        "configurations": len(candidates),
        "default": asdict(DEFAULT_EDGE_RANKING),
        "default_all": dict(zip(("as1", "as3"), score(DEFAULT_EDGE_RANKING, days), strict=True)),
        "folds": folds,
    }
