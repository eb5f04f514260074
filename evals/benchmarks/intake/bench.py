"""``firstline intake bench``: a generated storm (`evals.benchmarks.intake.storm`) through the pipeline.

Timed: decoding each delivery's JSON body, normalizing it and correlating its alerts (dedup, flap,
suppression, grouping, decisions), on one core in this process. Not timed: generating the storm
and encoding the bodies (the senders' work). Peak memory is the process's peak resident set.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from evals.benchmarks.intake.scoring import Tally
from evals.benchmarks.intake.storm import StormBuilder
from intake.pipeline import IntakePipeline
from intake.settings import IntakeSettings
from intake.topology import Topology

ProgressFn = Callable[[int, int], None]


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    try:
        import resource

        peak = float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
    except ImportError:  # Windows: the current resident set is the best available
        import psutil

        return round(float(psutil.Process().memory_info().rss) / (1024 * 1024), 1)


def bench_settings(base: IntakeSettings, builder: StormBuilder) -> IntakeSettings:
    """``base``'s grouping and flap settings with the storm's suppression rule and maintenance window."""
    data = base.model_dump(mode="json", exclude={"suppress", "maintenance"})
    return IntakeSettings.model_validate({**data, **builder.suppression_config()})


def write_replay_config(directory: Path, builder: StormBuilder, settings: IntakeSettings) -> Path:
    """``storm-catalog.yaml`` (the storm's estate) and ``storm-config.yaml`` (these intake settings, that
    catalog), so ``firstline --config DIR/storm-config.yaml intake replay DIR/storm.jsonl`` decides the same."""
    directory.mkdir(parents=True, exist_ok=True)
    catalog = directory / "storm-catalog.yaml"
    services = {
        name: {"dependencies": deps, "kind": {"app": "service"}.get(builder.kinds[name], builder.kinds[name])}
        for name, deps in builder.dependencies.items()
    }
    catalog.write_text(
        "# The estate of `firstline intake bench`'s storm (knowledge/catalog.py format).\n"
        + yaml.safe_dump({"services": services}, sort_keys=True),
        encoding="utf-8",
    )
    config = directory / "storm-config.yaml"
    intake = settings.model_dump(mode="json", exclude={"inbox"})
    config.write_text(
        "# Replays the bench storm: firstline --config storm-config.yaml intake replay storm.jsonl\n"
        + yaml.safe_dump({"knowledge": {"catalog": catalog.name}, "intake": intake}, sort_keys=False),
        encoding="utf-8",
    )
    return config


def run_bench(
    alerts: int,
    *,
    base: IntakeSettings | None = None,
    seed: int = 7,
    rules: Path | None = None,
    storm_file: Path | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    builder = StormBuilder(alerts, seed=seed, rules=rules)
    settings = bench_settings(base or IntakeSettings(), builder)
    if storm_file is not None:
        write_replay_config(storm_file.parent, builder, settings)
    pipeline = IntakePipeline(settings, Topology(builder.dependencies, settings.grouping.max_hops))
    engine = pipeline.engine
    tally = Tally()
    elapsed = 0.0
    clock = time.perf_counter
    out = storm_file.open("w", encoding="utf-8") if storm_file else None
    try:
        for line in builder.lines():
            body = json.dumps(line.payload)
            if out is not None:
                out.write(line.jsonl() + "\n")
            started = clock()
            fed = pipeline.feed(line.source, json.loads(body), line.received_at)
            engine.drain()
            elapsed += clock() - started
            tally.add(fed.outcomes, line.truth)
            if progress is not None and tally.payloads % 5000 == 0:
                progress(engine.stats.alerts_in, alerts)
    finally:
        if out is not None:
            out.close()
    engine.flush()
    engine.drain()
    results = tally.results(engine, elapsed)
    results["peak_memory_mb"] = peak_memory_mb()
    results["seed"] = seed
    results["storm"] = builder.describe()
    results["settings"] = {
        "window_minutes": settings.grouping.window_minutes,
        "topology_window_minutes": settings.grouping.topology_window_minutes,
        "max_hops": settings.grouping.max_hops,
        "flap": settings.flap.model_dump(),
        "investigation_delay_seconds": settings.grouping.investigation_delay_seconds,
    }
    return results
