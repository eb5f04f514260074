"""Benchmark commands: `firstline bench petshop|nezha PATH` (public datasets), `firstline bench scale` (workers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common
from firstline.console import Console


def cmd_bench_petshop(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.petshop import DatasetError, MethodSettings, run_benchmark

    last: dict[str, int] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done - last.get(stage, 0) >= max(1, total // 10):
            last[stage] = done
            console.progress("bench", f"{stage}: {done}/{total}")

    try:
        results = run_benchmark(
            Path(args.path),
            Path(args.out),
            progress,
            settings=MethodSettings(method=args.method),
            injection_trials=args.inject,
        )
    except DatasetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc

    def cells(row: dict[str, Any]) -> list[str]:
        floor = row.get("majority_floor")
        floor = floor.get("ac1") if isinstance(floor, dict) else floor
        return [_fmt(row.get(k)) for k in ("ac1", "ac3", "avg5", "specificity")] + [_fmt(floor)]

    rows = [[name, *cells(row)] for name, row in results.get("per_scenario", {}).items()]
    rows.append(["overall", *cells(results.get("overall", {}))])
    console.table(
        ["scenario", "ac1", "ac3", "avg5", "specificity", "majority floor"],
        rows,
        title=f"PetShop root-cause ranking ({results.get('method', args.method)})",
    )
    misses = results.get("investigation_misses")
    if misses:
        console.info(
            "issues by where the investigation lost the truth: " + ", ".join(f"{k} {v}" for k, v in misses.items())
        )
    console.info(f"results written to {Path(args.out) / 'results.json'}")
    return EXIT_OK


def cmd_bench_nezha(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.nezha import DatasetError, run_benchmark

    def progress(stage: str, done: int, total: int) -> None:
        if done == total or done % 10 == 0:
            console.progress("bench", f"{stage}: {done}/{total}")

    try:
        results = run_benchmark(
            Path(args.path),
            Path(args.out),
            progress,
            rank_by=args.rank_by,
            injection_trials=args.inject,
            lodo=args.lodo,
        )
    except DatasetError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    rows = [
        [name, *(_fmt(row[k]) for k in ("as1", "as3", "as5")), str(row["faults"])]
        for name, row in results["per_fault_type"].items()
    ]
    overall = results["overall"]
    rows.append(["overall", *(_fmt(overall[k]) for k in ("as1", "as3", "as5")), str(overall["faults"])])
    floor = results["majority_floor"]
    rows.append(["majority floor", _fmt(floor["as1"]), _fmt(floor["as3"]), "n/a", ""])
    console.table(["fault type", "AS@1", "AS@3", "AS@5", "faults"], rows, title="Nezha root-cause service ranking")
    for name, check in results.get("injections", {}).items():
        console.info(
            f"injected anomalies ({name}, {check['trials']} trials): first {check['top1']}, top 3 {check['top3']}"
        )
    console.info(
        f"{results['seconds_total']} s ({results['seconds_per_fault']} s a fault), peak RSS {results['peak_rss_mb']} MB; "
        f"results written to {Path(args.out) / 'results.json'} and report.txt"
    )
    return EXIT_OK


SCALE_DESCRIPTION = """\
Measure what more workers on one Postgres buy: intake accept rate (deliveries stored and committed one
by one), correlation throughput (intake bench's storm of --alerts alerts, all queued, until every
delivery is correlated), investigation throughput (--incidents incidents from the simulator run to
the approval gate, split between the workers), and peak memory per worker process; for SQLite in one
process, then Postgres with each --workers count. Workers are separate processes.

The Postgres is storage.url (the bench creates and drops databases scale_N and accept_N there), or
with --throwaway a temporary cluster from Debian's /usr/lib/postgresql/NN/bin (nothing is installed
or started as a service). Writes DIR/results.json.

examples:
  firstline bench scale --workers 1,2,4 --throwaway
  firstline --config org.yaml bench scale --workers 1,2 --alerts 5000 --incidents 6
"""


def cmd_bench_scale(args: argparse.Namespace, console: Console) -> int:
    import contextlib
    import json

    from firstline.commands import load
    from firstline.scale.run import run_scale, throwaway_postgres
    from storage.target import StorageError

    try:
        workers = sorted({int(n) for n in args.workers.split(",") if n.strip()})
    except ValueError as exc:
        raise CommandError(f"--workers: a comma-separated list of counts, e.g. 1,2,4 ({exc})", EXIT_USAGE) from exc
    if not workers or workers[0] < 1:
        raise CommandError("--workers: counts of at least 1, e.g. 1,2,4", EXIT_USAGE)
    with contextlib.ExitStack() as stack:
        if args.throwaway:
            try:
                server = stack.enter_context(throwaway_postgres())
            except RuntimeError as exc:
                raise CommandError(f"--throwaway: cannot start a Postgres: {exc}") from exc
        else:
            target = load(args, required=False, check_tools=False).storage.postgres()
            if target is None:
                raise CommandError(
                    "set storage.url (a Postgres the bench may create databases on) or use --throwaway", EXIT_USAGE
                )
            server = target
        try:
            results = run_scale(
                workers,
                server=server,
                alerts=args.alerts,
                incidents=args.incidents,
                progress=lambda text: console.progress("scale", text),
            )
        except StorageError as exc:
            raise CommandError(str(exc)) from None
    results["command"] = (
        f"firstline bench scale --workers {args.workers} --alerts {args.alerts} --incidents {args.incidents}"
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    rows = []
    for run in results["runs"]:
        correlate, investigate = run["correlate"], run["investigate"]
        memory = max(correlate["peak_rss_mb_per_worker"] + investigate["peak_rss_mb_per_worker"])
        rows.append(
            [
                f"{run['store']} x{run['workers']}",
                str(run["accept_deliveries_per_second"]),
                f"{correlate['alerts_per_second']:,}",
                f"{investigate['incidents_per_minute']}",
                f"{memory}",
            ]
        )
    console.table(
        ["store", "accept/s", "alerts correlated/s", "incidents/min", "peak MB/worker"],
        rows,
        title=f"{results['alerts']:,} alerts, {results['incidents']} incidents, {results['cpus']} CPUs",
    )
    console.info(f"results written to {out / 'results.json'}")
    return EXIT_OK


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("n/a" if value is None else str(value))


METHODS = ("analytics", "investigation")  # evals.benchmarks.petshop.method.METHODS, without importing it here
DEFAULT_METHOD = "analytics"


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
    petshop.add_argument(
        "--method",
        choices=METHODS,
        default=DEFAULT_METHOD,
        help="analytics: the agents' ranking function called by the bench (default); investigation: the agents' "
        "investigation node works every window as an incident (catalog, replay, alert, deterministic reasoner)",
    )
    add_common(petshop)
    nezha = bench_sub.add_parser(
        "nezha",
        help="rank root-cause services on the Nezha dataset through the replay and the adapters",
        description="Reads the Nezha layout (faults/ob-NN/, days/<day>/metrics/, dependency.csv; see the dataset's "
        "README). For each fault an alert is synthesized from the front end's SLI only, the fault's recording is "
        "replayed with the clock at the alert (Prometheus, Loki and Tempo on loopback), and the agents' investigation "
        "works it through the adapters as it works an incident (deterministic reasoner); its diagnosis ranks the "
        "services. Writes results.json (as1, as3, as5, per fault type, floors, published baselines) and "
        "report.txt. Method and figures: README, 'Benchmark: Nezha'.",
    )
    nezha.add_argument("path", metavar="PATH", help="dataset root, e.g. ../shared/datasets/nezha-ob")
    nezha.add_argument("--out", default="out/nezha", metavar="DIR", help="where results.json goes (default out/nezha)")
    nezha.add_argument(
        "--rank-by",
        choices=["investigation", "edges", "candidates", "anomaly"],
        default="investigation",
        help="investigation: the agents' investigation, the incident's code path (default); edges: both ends of every "
        "call edge on every pod series, read by the bench (agents.analytics.edges.localize); candidates: the graph "
        "ranker alone; anomaly: each service's own anomaly (ablations)",
    )
    nezha.add_argument(
        "--inject",
        type=int,
        default=0,
        metavar="N",
        help="self-check: N injected anomalies per day in the normal hours",
    )
    nezha.add_argument(
        "--lodo",
        action="store_true",
        help="leave-one-day-out: choose the edge ranking's parameters on one day, score them on the other",
    )
    add_common(nezha)
    scale = bench_sub.add_parser(
        "scale",
        help="intake and investigation throughput with 1..N workers on Postgres, against SQLite",
        description=SCALE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    scale.add_argument("--workers", default="1,2,4", metavar="N,N", help="worker counts to measure (default 1,2,4)")
    scale.add_argument("--alerts", type=int, default=20_000, help="alerts in the storm (default 20000)")
    scale.add_argument("--incidents", type=int, default=12, help="incidents to investigate per run (default 12)")
    scale.add_argument("--throwaway", action="store_true", help="start a temporary Postgres for the run")
    scale.add_argument("--out", default="out/scale", metavar="DIR", help="where results.json goes (default out/scale)")
    add_common(scale)
    return {"bench petshop": cmd_bench_petshop, "bench nezha": cmd_bench_nezha, "bench scale": cmd_bench_scale}
