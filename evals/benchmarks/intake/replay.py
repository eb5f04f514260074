"""``firstline intake replay FILE.jsonl``: recorded deliveries through the live pipeline, at full speed.

One JSON object per line::

    {"source": "alertmanager", "received_at": "2026-11-20T10:01:00Z", "payload": {...}, "truth": "db-outage"}

``truth`` (optional) is the incident the alert belongs to; with it the results carry grouping purity
and completeness. Lines are processed in file order with ``received_at`` as the clock (a line older
than the one before counts as arriving then). A line that cannot be used is counted and reported
with its number and the field at fault; the rest of the file still plays.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.benchmarks.intake.scoring import Tally
from intake.events import AlertPayloadError, parse_time
from intake.pipeline import IntakePipeline, UnknownSource
from intake.settings import IntakeSettings
from intake.topology import Topology

ProgressFn = Callable[[int], None]


class ReplayLineError(ValueError):
    pass


def _line(record: Any) -> tuple[str, float, Any, str | None]:
    if not isinstance(record, dict):
        raise ReplayLineError(f"line: expected a JSON object, got {type(record).__name__}")
    source = record.get("source")
    if not isinstance(source, str):
        raise ReplayLineError("source: missing or not a string")
    try:
        received = parse_time(record.get("received_at"), "received_at")
    except AlertPayloadError as exc:
        raise ReplayLineError(str(exc)) from exc
    if received is None:
        raise ReplayLineError("received_at: missing")
    if "payload" not in record:
        raise ReplayLineError("payload: missing")
    truth = record.get("truth")
    if truth is not None and not isinstance(truth, str | int):
        raise ReplayLineError("truth: expected a string")
    return source, received.timestamp(), record["payload"], None if truth is None else str(truth)


def replay_file(
    path: Path, settings: IntakeSettings, topology: Topology, *, progress: ProgressFn | None = None
) -> dict[str, Any]:
    """Play ``path`` through a fresh pipeline; the results of `Tally.results` plus the file name."""
    pipeline = IntakePipeline(settings, topology)
    engine = pipeline.engine
    tally = Tally()
    elapsed = 0.0
    clock = time.perf_counter
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            started = clock()
            try:
                source, received_at, payload, truth = _line(json.loads(raw))
                fed = pipeline.feed(source, payload, received_at)
            except json.JSONDecodeError as exc:
                tally.reject(f"line {number}", f"not JSON: {exc}")
                continue
            except (ReplayLineError, AlertPayloadError, UnknownSource) as exc:
                tally.reject(f"line {number}", str(exc))
                continue
            engine.drain()
            elapsed += clock() - started
            tally.add(fed.outcomes, truth)
            if progress is not None and number % 10_000 == 0:
                progress(number)
    engine.flush()
    engine.drain()
    return {"file": str(path), **tally.results(engine, elapsed)}
