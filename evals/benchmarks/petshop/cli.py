"""The command line of the PetShop benchmark (`firstline bench petshop`, `python -m
evals.benchmarks.petshop`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.analytics.anomaly import RankingConfig
from agents.reasoners.origin import RANKING
from evals.benchmarks.petshop.dataset import DEFAULT_INJECTION_TRIALS, DEFAULT_SEED, DatasetError
from evals.benchmarks.petshop.method import METHODS, MethodSettings
from evals.benchmarks.petshop.run import run_benchmark


def format_summary(results: Mapping[str, Any]) -> str:
    """A short table of the headline figures, for the terminal."""
    lines = [
        f"{'scenario':20s} {'n':>3s} {'ac1':>6s} {'ac3':>6s} {'avg5':>6s} {'spec':>6s} {'floor':>6s} {'base1':>6s} {'base3':>6s} {'bspec':>6s}"
    ]

    def cell(value: Any) -> str:
        return f"{value:6.3f}" if isinstance(value, float) and math.isfinite(value) else f"{'n/a':>6s}"

    for name, row in [*results["per_scenario"].items(), ("overall", results["overall"])]:
        baseline = row.get("baseline") or {}
        lines.append(
            f"{name:20s} {row.get('n', 0):3d} {cell(row.get('ac1'))} {cell(row.get('ac3'))} {cell(row.get('avg5'))} "
            f"{cell(row.get('specificity'))} {cell((row.get('majority_floor') or {}).get('ac1'))} "
            f"{cell(baseline.get('ac1'))} {cell(baseline.get('ac3'))} {cell(row.get('baseline_specificity'))}"
        )
    synthetic = results.get("synthetic_injection", {}).get("per_scenario", {})
    if synthetic:
        lines.append("synthetic injection (injected component's rank):")
        for name, backgrounds in synthetic.items():
            for kind, summary in backgrounds.items():
                without = summary.get("without_real_root")
                lines.append(
                    f"  {name:18s} {kind:7s} n={summary['n']:3d} ac1={summary['ac1']:.3f} ac3={summary['ac3']:.3f} "
                    f"named_correct={summary['named_correct']:.3f} named_wrong={summary['named_wrong']:.3f}"
                    + (
                        f" | without the real root: ac1={without['ac1']:.3f} ac3={without['ac3']:.3f}"
                        if without
                        else ""
                    )
                )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m evals.benchmarks.petshop",
        description=(
            "Rank root causes on the PetShop dataset (metrics + call graph only) and write results.json "
            "with ac1, ac3, avg5, specificity, a majority floor, the published baseline re-run on the same "
            "windows, and synthetic fault injections."
        ),
    )
    parser.add_argument("path", type=Path, help="dataset root holding low_traffic/, high_traffic/, ...")
    parser.add_argument("--out", type=Path, default=None, help="directory for results.json (default: print only)")
    parser.add_argument(
        "--inject",
        type=int,
        default=DEFAULT_INJECTION_TRIALS,
        help="synthetic injection trials per scenario (0: none)",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed of the synthetic injections")
    parser.add_argument(
        "--ranking",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "override a RankingConfig field for a sensitivity run, e.g. --ranking lead_ratio=0.6 "
            f"(fields: {', '.join(f.name for f in dataclasses.fields(RankingConfig))})"
        ),
    )
    parser.add_argument(
        "--onset-threshold",
        type=float,
        default=MethodSettings().onset_threshold,
        help="noise units (default 4)",
    )
    parser.add_argument(
        "--no-noise-model",
        action="store_true",
        help="ablation: ignore the noissue data when scoring (sampling floors only, as in the temporal scenarios)",
    )
    parser.add_argument(
        "--clock-after-alert",
        type=float,
        default=MethodSettings().clock_after_alert.total_seconds() / 60,
        metavar="MINUTES",
        help="the replay's clock, this many minutes after the alert: nothing later is served (default 15: "
        "the three 5-minute periods after the alert's have begun; 0: the clock at the alert)",
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default=MethodSettings().method,
        help="analytics: agents.analytics.analyze_incident called by the bench (default); investigation: the "
        "agents' investigation node works every window as an incident (the incident's code path)",
    )
    args = parser.parse_args(argv)
    if args.clock_after_alert < 0:
        parser.error(f"--clock-after-alert {args.clock_after_alert:g}: minutes after the alert, 0 or more")
    try:
        overrides = _parse_overrides(args.ranking)
    except ValueError as error:
        parser.error(str(error))
    settings = MethodSettings(
        ranking=dataclasses.replace(RANKING, **overrides),  # the agents' configuration, with the overrides
        onset_threshold=args.onset_threshold,
        use_normal_noise=not args.no_noise_model,
        clock_after_alert=timedelta(minutes=args.clock_after_alert),
        method=args.method,
    )

    def show(stage: str, done: int, total: int) -> None:
        if done == total or done % 25 == 0:
            print(f"\r{stage}: {done}/{total}", end="\n" if done == total else "", file=sys.stderr, flush=True)

    try:
        results = run_benchmark(
            args.path, args.out, show, settings=settings, injection_trials=args.inject, seed=args.seed
        )
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_summary(results))
    if args.out is not None:
        print(f"wrote {args.out / 'results.json'}")
    return 0


def _parse_overrides(pairs: Sequence[str]) -> dict[str, float]:
    known = {f.name for f in dataclasses.fields(RankingConfig)}
    overrides = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key not in known:
            raise ValueError(f"--ranking {pair!r}: unknown field {key!r} (known: {', '.join(sorted(known))})")
        try:
            overrides[key] = float(value)
        except ValueError as error:
            raise ValueError(f"--ranking {pair!r}: {value!r} is not a number") from error
    return overrides


if __name__ == "__main__":
    raise SystemExit(main())
