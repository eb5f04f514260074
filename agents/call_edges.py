"""What each caller sees of each callee: the call edges' failures before and since the onset.

A callee's own SLI says what it serves; its callers' client-side view says what arrives. The two part
when the callee stops answering (it exports nothing, its callers time out), or when only one path to
it breaks (a caller's network policy, a wrong port in one release). Read from either source the
investigation has:

- Prometheus: the OpenTelemetry client histograms' counts (``http_client_request_duration_seconds``,
  ``db_client_operation_duration_seconds``) by caller (``service``), callee (``server_address``) and
  outcome (``error_type``, absent on success);
- Tempo: the spans' call edges (`tools.tempo.TraceEdges`), one window before the onset, one since.

Pure and deterministic: no names are read but the labels that say which end is which.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel, ConfigDict, Field

EDGE_COUNT_METRICS = "http_client_request_duration_seconds_count|db_client_operation_duration_seconds_count"
SETTLE = timedelta(minutes=5)  # the reference ends this long before the onset
MIN_FAILING = 0.05  # a failing edge fails at least 5 % of its calls now...
MIN_RISE = 3.0  # ...and three times what it failed before (plus a point)
MIN_CALLS = 0.05  # calls per second an edge must carry to be judged


class EdgeFact(BaseModel):
    """One caller -> callee edge, its failure ratio before the onset and now."""

    model_config = ConfigDict(frozen=True)

    caller: str
    callee: str
    before: float = Field(description="Share of calls that failed before the onset.")
    now: float = Field(description="Share of calls failing now.")
    calls_before: float = Field(description="Calls per second before the onset (traces: calls read).")
    calls_now: float
    kinds: list[str] = Field(default_factory=list, description="How the failing calls failed (timeout, 500, dns...).")
    source: str = Field(default="prometheus", description="prometheus (client metrics) or tempo (spans).")
    evidence_id: str = ""

    @property
    def failing(self) -> bool:
        return (
            max(self.calls_now, self.calls_before) >= MIN_CALLS
            and self.now >= MIN_FAILING
            and self.now >= MIN_RISE * self.before + 0.01
        )

    def describe(self) -> str:
        how = f" ({', '.join(self.kinds)})" if self.kinds else ""
        return (
            f"{self.caller} -> {self.callee}: {self.now:.1%} of calls failing now{how}, {self.before:.1%} before "
            f"({self.calls_now:.3g}/s now, {self.calls_before:.3g}/s before; {self.source})"
        )


def edge_from_rates(
    caller: str,
    callee: str,
    times: Sequence[datetime],
    total: Sequence[float],
    failed: Mapping[str, Sequence[float]],
    onset: datetime,
) -> EdgeFact | None:
    """An edge from its call rate and its failed-call rates by kind, aligned on ``times``; None
    without enough of both windows."""
    before = [i for i, t in enumerate(times) if t < onset - SETTLE]
    after = [i for i, t in enumerate(times) if t >= onset][-3:]
    if len(before) < 3 or not after:
        return None

    def ratio(steps: list[int]) -> tuple[float, float]:
        calls = median(_finite(total[i]) for i in steps)
        bad = median(sum(_finite(series[i]) for series in failed.values()) for i in steps)
        return (bad / calls if calls > 0 else (1.0 if bad > 0 else 0.0)), calls

    was, calls_before = ratio(before)
    now, calls_now = ratio(after)
    kinds = sorted(kind for kind, series in failed.items() if median(_finite(series[i]) for i in after) > 0)
    return EdgeFact(
        caller=caller,
        callee=callee,
        before=round(min(was, 1.0), 6),
        now=round(min(now, 1.0), 6),
        calls_before=round(calls_before, 4),
        calls_now=round(calls_now, 4),
        kinds=kinds,
    )


def _finite(value: float) -> float:
    return 0.0 if math.isnan(value) else value


def one_path_failing(edges: Sequence[EdgeFact], callee: str) -> EdgeFact | None:
    """The one failing edge into ``callee`` when its other callers' calls to it are served as before:
    what breaks is on that caller's side of the path (its release, its network), not the callee."""
    into = [e for e in edges if e.callee == callee and max(e.calls_now, e.calls_before) >= MIN_CALLS]
    failing = [e for e in into if e.failing]
    served = [e for e in into if not e.failing and e.now < MIN_FAILING]
    return failing[0] if len(failing) == 1 and served else None
