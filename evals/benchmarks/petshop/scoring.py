"""Scoring helpers: the rank of the truth, top-k summaries, the majority-class floor."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from evals.benchmarks.petshop.dataset import TOP_K


def rank_of(ranked: Sequence[str], truth: str | None) -> int | None:
    """1-based rank of ``truth`` in ``ranked``, None when absent."""
    if truth is None:
        return None
    return ranked.index(truth) + 1 if truth in ranked else None


def summarize_ranks(ranks: Sequence[int | None]) -> dict[str, float | int]:
    """ac1, ac3 and avg5 (mean of the top-1..top-5 hit rates) over issues."""
    n = len(ranks)
    if n == 0:
        return {"n": 0, "ac1": math.nan, "ac3": math.nan, "avg5": math.nan}
    hits = [sum(1 for r in ranks if r is not None and r <= k) / n for k in range(1, TOP_K + 1)]
    return {"n": n, "ac1": hits[0], "ac3": hits[2], "avg5": sum(hits) / TOP_K}


def majority_floor(labels: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy of always answering the most frequent label (top-1) and the three most frequent (top-3)."""
    known = [label for label in labels if label is not None]
    if not known:
        return {"label": None, "ac1": math.nan, "ac3": math.nan}
    counts = Counter(known).most_common()
    top1 = counts[0][1] / len(known)
    top3 = sum(count for _, count in counts[:3]) / len(known)
    return {"label": counts[0][0], "ac1": top1, "ac3": top3}
