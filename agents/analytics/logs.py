"""Log patterns: which message templates are new or spiking since the onset.

Log lines are clustered into templates with drain3 (`TemplateMiner`, the maintained implementation of
the Drain algorithm), with numbers, hex ids, UUIDs, IP addresses and durations masked first so that
``timeout after 3000 ms talking to 10.0.3.7`` and ``timeout after 2500 ms talking to 10.0.3.9`` are one
template. The miner's state lives in memory only: no snapshot file, no network.

Then each template's rate after the onset is compared with its rate before:

- **new**: never seen before the onset (and seen at least ``min_count`` times after);
- **spiking**: the count after the onset is at least ``min_ratio`` times what the rate before would
  predict for the same duration, and that excess is unlikely by chance (Poisson tail below
  ``max_p_value``, so 3 lines instead of 1 do not count, 300 instead of 100 do).

Each pattern carries its counts, first and last time seen, an example line (the first one after the
onset) and the reason it was kept, so evidence can quote it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import BaseModel, ConfigDict, Field

_MODEL = ConfigDict(frozen=True, extra="forbid")

# Order matters: the most specific shapes are masked before the generic number.
DEFAULT_MASKS: tuple[tuple[str, str], ...] = (
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "UUID"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b", "IP"),
    (r"\b0x[0-9a-fA-F]+\b", "HEX"),
    (r"\b[0-9a-f]{12,}\b", "HEX"),
    (r"\b\d+(?:\.\d+)?(?:ms|us|ns|s|m|h|KB|MB|GB|B|%)\b", "QTY"),
    (r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?(?![A-Za-z_])", "NUM"),
)


PatternStatus = Literal["new", "spike", "steady", "rare"]
"""new: only after the onset (at least min_count times); spike: far above its earlier rate; steady:
neither; rare: seen after the onset only, but fewer than min_count times."""


class LogPattern(BaseModel):
    """One template, with how often it appeared before and after the onset."""

    model_config = _MODEL

    template: str
    status: PatternStatus
    count_before: int
    count_after: int
    first_seen: datetime
    last_seen: datetime
    example: str = Field(description="The first line of this template after the onset (or the first line seen).")
    is_new: bool
    spike_ratio: float | None = Field(
        description="Rate after / rate before; None for a template never seen before the onset."
    )
    p_value: float = Field(description="Chance of at least count_after lines at the rate before (1.0 for new).")
    reason: str


@dataclass(frozen=True)
class PatternConfig:
    """How patterns are mined and which ones are kept.

    - ``similarity`` (0.4): drain3's similarity threshold; lower merges more lines into a template.
    - ``min_count`` (2): a template must appear at least this often after the onset to be reported
      (one stray line is not a pattern).
    - ``min_ratio`` (3.0) and ``max_p_value`` (0.001): what counts as a spike.
    - ``min_expected_before`` (5.0): a template is new only if, at its rate after the onset, the time
      observed before it would have shown it this many times (absent by chance then: e^-5, under 1 %); a
      line every few minutes missing from a short look before the onset is rare, not new.
    """

    similarity: float = 0.4
    depth: int = 4
    min_count: int = 2
    min_ratio: float = 3.0
    max_p_value: float = 0.001
    min_expected_before: float = 5.0
    masks: tuple[tuple[str, str], ...] = DEFAULT_MASKS


DEFAULT_PATTERNS = PatternConfig()


def mine_patterns(
    lines: Sequence[tuple[datetime, str]],
    onset: datetime,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    include_all: bool = False,
    config: PatternConfig = DEFAULT_PATTERNS,
) -> list[LogPattern]:
    """Templates that are new or spiking since ``onset``, the most telling first.

    ``lines`` are ``(timestamp, message)`` pairs in any order. The observation window runs from
    ``start`` (default: the first line) to ``end`` (default: the last line); rates divide counts by
    the time before and after the onset within it. ``include_all`` returns every template (with its
    counts), not only the new and spiking ones. New templates come first (most frequent first), then
    spikes (least likely by chance first).
    """
    if onset.tzinfo is None:
        raise ValueError("onset must be timezone-aware (UTC)")
    if not lines:
        return []
    naive = next((moment for moment, _ in lines if moment.tzinfo is None), None)
    if naive is not None:
        raise ValueError(f"log line at {naive.isoformat()}: timestamps must be timezone-aware (UTC)")
    ordered = sorted(lines, key=lambda item: item[0])
    window_start = start or ordered[0][0]
    window_end = end or ordered[-1][0]
    before_span = max((onset - window_start).total_seconds(), 0.0)
    after_span = max((window_end - onset).total_seconds(), 0.0)

    miner = TemplateMiner(persistence_handler=None, config=_miner_config(config))
    tallies: dict[int, _Tally] = {}
    for moment, message in ordered:
        result = miner.add_log_message(message.rstrip("\n"))
        cluster_id = int(result["cluster_id"])
        tally = tallies.setdefault(cluster_id, _Tally(first_seen=moment, example=message))
        tally.last_seen = moment
        if moment < onset:
            tally.before += 1
        else:
            tally.after += 1
            if tally.example_after is None:
                tally.example_after = message
    templates = {cluster.cluster_id: cluster.get_template() for cluster in miner.drain.clusters}

    patterns = []
    for cluster_id, tally in tallies.items():
        pattern = _pattern(templates.get(cluster_id, tally.example), tally, before_span, after_span, config)
        if include_all or pattern.status in ("new", "spike"):
            patterns.append(pattern)
    patterns.sort(key=_interest)
    return patterns


@dataclass
class _Tally:
    first_seen: datetime
    example: str
    last_seen: datetime | None = None
    before: int = 0
    after: int = 0
    example_after: str | None = None


def _miner_config(config: PatternConfig) -> TemplateMinerConfig:
    miner_config = TemplateMinerConfig()  # built in code: drain3 reads no drain3.ini this way
    miner_config.drain_sim_th = config.similarity
    miner_config.drain_depth = config.depth
    miner_config.profiling_enabled = False
    miner_config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in config.masks]
    return miner_config


def _pattern(template: str, tally: _Tally, before_span: float, after_span: float, config: PatternConfig) -> LogPattern:
    status: PatternStatus
    ratio: float | None = None
    p_value = 1.0
    if tally.before == 0:
        # At the rate seen after the onset, how many lines the time observed before it should have held.
        expected_before = tally.after / after_span * before_span if after_span > 0 else float("inf")
        status = "new" if tally.after >= config.min_count and expected_before >= config.min_expected_before else "rare"
        reason = (
            f"new since the onset: {tally.after} lines, none before"
            if status == "new"
            else f"seen {tally.after} time(s), all after the onset: below min_count {config.min_count}"
            if tally.after < config.min_count
            else f"seen {tally.after} times after the onset, none in the {before_span:.0f} s before, where "
            f"{expected_before:.1f} were expected at that rate: too rare to call new"
        )
    elif before_span <= 0 or after_span <= 0:
        status, reason = "steady", "no time on one side of the onset to compare rates"
    else:
        expected = tally.before / before_span * after_span
        ratio = (tally.after / after_span) / (tally.before / before_span)
        p_value = poisson_tail(tally.after, expected)
        spiking = tally.after >= config.min_count and ratio >= config.min_ratio and p_value <= config.max_p_value
        status = "spike" if spiking else "steady"
        reason = (
            f"spike: {tally.after} lines after the onset where {expected:.1f} were expected "
            f"(x{ratio:.1f}, p={p_value:.1e})"
            if spiking
            else f"steady: {tally.after} lines after, {expected:.1f} expected (x{ratio:.1f}, p={p_value:.2g})"
        )
    return LogPattern(
        template=template,
        status=status,
        count_before=tally.before,
        count_after=tally.after,
        first_seen=tally.first_seen,
        last_seen=tally.last_seen or tally.first_seen,
        example=(tally.example_after or tally.example).rstrip("\n"),
        is_new=tally.before == 0 and tally.after > 0,
        spike_ratio=ratio,
        p_value=p_value,
        reason=reason,
    )


def poisson_tail(count: int, expected: float) -> float:
    """P(X >= count) for X ~ Poisson(expected), without scipy (whose import costs seconds).

    Below the mean the upper tail is large and computed as 1 - P(X < count); above it the terms
    shrink geometrically and are summed directly, so p-values as small as 1e-300 stay accurate.
    """
    if count <= 0:
        return 1.0
    if expected <= 0:
        return 0.0

    def pmf(i: int) -> float:
        return math.exp(-expected + i * math.log(expected) - math.lgamma(i + 1))

    if count <= expected:
        return max(0.0, 1.0 - math.fsum(pmf(i) for i in range(count)))
    total = 0.0
    i = count
    while True:
        term = pmf(i)
        total += term
        if term < 1e-17 * total or term == 0.0:
            return min(total, 1.0)
        i += 1


def _interest(pattern: LogPattern) -> tuple[int, float, int, str]:
    if pattern.status == "new":
        return (0, 0.0, -pattern.count_after, pattern.template)
    if pattern.status == "spike":
        return (1, math.log10(max(pattern.p_value, 1e-300)), -pattern.count_after, pattern.template)
    return (2, 0.0, -pattern.count_after, pattern.template)
