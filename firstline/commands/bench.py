"""Benchmark commands on public datasets: `firstline bench petshop PATH`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common
from firstline.console import Console


def cmd_bench_petshop(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.petshop import DatasetError, run_benchmark

    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done - last.get(stage, 0) >= max(1, total // 10):
            last[stage] = done
            console.progress("bench", f"{stage}: {done}/{total}")

    try:
        results = run_benchmark(Path(args.path), Path(args.out), progress, injection_trials=args.inject)
    except DatasetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc

    def cells(row: dict[str, Any]) -> list[str]:
        floor = row.get("majority_floor")
        floor = floor.get("ac1") if isinstance(floor, dict) else floor
        return [_fmt(row.get(k)) for k in ("ac1", "ac3", "avg5", "specificity")] + [_fmt(floor)]

    rows = [[name, *cells(row)] for name, row in results.get("per_scenario", {}).items()]
    rows.append(["overall", *cells(results.get("overall", {}))])
    console.table(
        ["scenario", "ac1", "ac3", "avg5", "specificity", "majority floor"], rows, title="PetShop root-cause ranking"
    )
    console.info(f"results written to {Path(args.out) / 'results.json'}")
    return EXIT_OK


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))


def register(sub: Any) -> dict[str, Any]:
    bench = sub.add_parser("bench", help="benchmarks on public datasets")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="SUBCOMMAND")
    petshop = bench_sub.add_parser(
        "petshop",
        help="rank root causes on the PetShop dataset from metrics and the call graph only",
        description="Reads the PetShop layout (<traffic>/graph.csv, noissue/, train|test/issue_N/) and writes "
        "results.json with ac1, ac3, avg5, specificity, the majority floor, one row per issue, per traffic "
        "scenario and overall, plus synthetic fault injections. Method and figures: docs/analytics.md.",
    )
    petshop.add_argument("path", metavar="PATH", help="dataset root, e.g. ../shared/datasets/petshop")
    petshop.add_argument(
        "--out", default="out/petshop", metavar="DIR", help="where to write results.json (default out/petshop)"
    )
    petshop.add_argument(
        "--inject", type=int, default=30, metavar="N", help="synthetic injection trials per scenario (0: none)"
    )
    add_common(petshop)
    return {"bench petshop": cmd_bench_petshop}
