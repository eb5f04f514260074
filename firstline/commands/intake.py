"""Alert intake commands: serve, intake replay, intake bench, intake dead-letters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firstline.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_common, load, write_json
from firstline.config import FirstlineConfig
from firstline.console import Console
from intake.topology import Topology

if TYPE_CHECKING:
    from intake.http.server import QuietServer

TARGETS = {"alerts_per_second": 5000, "peak_memory_mb": 500, "compression": 0.95, "purity": 0.95, "lost": 0}


def _topology(config: FirstlineConfig, catalog: Path | None, console: Console, *, required: bool) -> Topology:
    from knowledge.catalog import CatalogError, ServiceCatalog

    path = catalog or config.knowledge.catalog
    try:
        loaded = ServiceCatalog.load(path)
    except CatalogError as exc:
        if required:
            raise CommandError(f"knowledge.catalog: {exc}", EXIT_USAGE) from exc
        console.warn(f"{exc}; grouping by topology is off (same service and labels only)")
        return Topology.empty()
    return Topology.from_catalog(loaded, config.intake.grouping.max_hops)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _serve_setup(
    args: argparse.Namespace, console: Console
) -> tuple[FirstlineConfig, Any, Topology, dict[str, Any], list[str]]:
    """Configuration, intake settings, topology and authenticators for ``serve``; refuses unsafe setups."""
    from intake.http.auth import AuthSetupError, build_authenticators

    config = load(args)
    settings = config.intake.model_copy(
        update={k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    )
    topology = _topology(config, None, console, required=True)
    try:
        authenticators = build_authenticators(settings, os.environ)
    except AuthSetupError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    if not authenticators:
        raise CommandError("intake.sources: no source is enabled; nothing to serve", EXIT_USAGE)
    open_sources = sorted(name for name, auth in authenticators.items() if auth.settings.kind == "none")
    if open_sources and not _loopback(settings.host) and not args.allow_unauthenticated:
        raise CommandError(
            f"refusing to listen on {settings.host} with unauthenticated sources ({', '.join(open_sources)}): set "
            "intake.sources.<name>.auth, or pass --allow-unauthenticated if a proxy in front authenticates",
            EXIT_USAGE,
        )
    return config, settings, topology, authenticators, open_sources


async def cmd_serve(args: argparse.Namespace, console: Console) -> int:
    import uvicorn

    from firstline.intake_runtime import RuntimeStarter
    from intake.http.server import QuietServer, build_app
    from intake.service import IntakeService
    from intake.starter import record_only

    config, settings, topology, authenticators, open_sources = _serve_setup(args, console)
    runtime = None if args.dry_run else RuntimeStarter(config)
    stack = contextlib.AsyncExitStack()
    try:
        extra_routes: list[Any] = []
        if runtime is not None:
            responder = await runtime.open()  # bad tool settings stop the start, naming the setting
            # Workflows a crash cut short (this process killed mid-investigation or mid-execution) go on first.
            for resumed in await responder.resume_unfinished():
                console.info(f"resumed unfinished incident {resumed.run.incident_id}: now {resumed.run.state.status}")
            from approvals.web.openapi import approvals_paths
            from firstline.approvals_wiring import open_approvals, watching

            approvals = await stack.enter_async_context(open_approvals(config, responder))
            try:
                extra_routes = approvals.console().routes()
            except ValueError as exc:
                raise CommandError(str(exc), EXIT_USAGE) from exc
            await stack.enter_async_context(watching(approvals))
        service = IntakeService(
            settings,
            topology,
            starter=record_only if runtime is None else runtime,
            db_path=config.storage.where(settings.inbox),
        )
        config_ = uvicorn.Config(
            build_app(
                service,
                authenticators,
                extra_routes=extra_routes,
                extra_paths=approvals_paths() if extra_routes else None,
            ),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        server = QuietServer(config_)
        port, task = await _start(server, settings.host, settings.port)
        console.info(f"firstline intake listening on http://{settings.host}:{port}")
        console.info(
            f"  POST /v1/alerts/{{{','.join(sorted(authenticators))}}}   GET /healthz   GET /v1/incidents   GET /openapi.json"
        )
        console.info(f"  inbox: {settings.inbox}   catalog: {config.knowledge.catalog}")
        console.info(
            "  workflow: "
            + (
                "not started (--dry-run): incidents are correlated and recorded only"
                if runtime is None
                else "started for each new or materially changed incident; approve in the console "
                f"(http://{settings.host}:{port}/), from Slack, or with `firstline approve`"
            )
        )
        if open_sources:
            console.warn(f"sources without authentication: {', '.join(open_sources)}")
        await task
        stop = signal.Signals(server.exit_signal).name if server.exit_signal else "shutdown"
        console.info(f"stopped ({stop}); accepted alerts not yet correlated stay in the inbox for the next start")
    finally:
        await stack.aclose()
        if runtime is not None:
            await runtime.aclose()
    return EXIT_OK


async def _start(server: QuietServer, host: str, port: int) -> tuple[int, asyncio.Task[None]]:
    """Run ``server`` in a task with graceful SIGINT/SIGTERM; the port it listens on, and the task."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not the main thread
            loop.add_signal_handler(sig, server.request_exit, sig)
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if task.done():
        with contextlib.suppress(SystemExit):  # uvicorn exits on startup failures (port in use...) after logging why
            task.result()
        raise CommandError(f"the server did not start on {host}:{port} (see the log above)")
    return int(server.servers[0].sockets[0].getsockname()[1]), task


def _summary(results: dict[str, Any], console: Console, *, bench: bool) -> None:
    rows = []
    for key in (
        "alerts_in",
        "incidents_out",
        "compression",
        "alerts_per_second",
        "lost",
        "purity",
        "completeness",
        "peak_memory_mb",
        "investigations",
        "suppressed",
        "rejected_payloads",
    ):
        if key not in results:
            continue
        target = TARGETS.get(key) if bench else None
        verdict = ""
        if target is not None:
            value = results[key]
            ok = value <= target if key in ("peak_memory_mb", "lost") else value >= target
            verdict = f"{'ok' if ok else 'MISSED'} ({'≤' if key in ('peak_memory_mb', 'lost') else '≥'} {target})"
        rows.append([key, results[key], verdict])
    console.table(["measure", "value", "target"] if bench else ["measure", "value", ""], rows)


def _targets_met(results: dict[str, Any]) -> list[str]:
    missed = []
    for key, target in TARGETS.items():
        value = results.get(key)
        if value is None:
            continue
        ok = value <= target if key in ("peak_memory_mb", "lost") else value >= target
        if not ok:
            missed.append(f"{key} {value} (target {target})")
    return missed


def cmd_replay(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.intake.replay import replay_file

    config = load(args, required=False)
    if not args.file.is_file():
        raise CommandError(f"replay file {args.file} does not exist", EXIT_USAGE)
    topology = _topology(config, args.catalog, console, required=False)
    results = replay_file(
        args.file, config.intake, topology, progress=lambda n: console.progress("intake", f"{n:,} lines")
    )
    out = args.out / "results.json"
    write_json(out, results)
    _summary(results, console, bench=False)
    for rejected in results.get("rejected", [])[:10]:
        console.warn(f"{rejected['where']}: {rejected['error']}")
    console.info(f"results written to {out}")
    return EXIT_OK if results["lost"] == 0 else EXIT_FAILED


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.intake.bench import run_bench

    config = load(args, required=False)
    rules = args.rules or (
        Path(os.environ["FIRSTLINE_ALERT_RULES"]) if os.environ.get("FIRSTLINE_ALERT_RULES") else None
    )
    if rules is not None and not rules.is_file():
        console.warn(f"alert rules {rules} not found; using the built-in rule names")
        rules = None
    storm_file = args.out / "storm.jsonl" if args.write_storm else None
    if storm_file:
        storm_file.parent.mkdir(parents=True, exist_ok=True)
    console.progress("intake", f"generating and correlating a storm of {args.alerts:,} alerts (seed {args.seed})")
    results = run_bench(
        args.alerts,
        base=config.intake,
        seed=args.seed,
        rules=rules,
        storm_file=storm_file,
        progress=lambda done, total: console.progress("intake", f"{done:,} / {total:,} alerts"),
    )
    results["command"] = f"firstline intake bench --alerts {args.alerts} --seed {args.seed}" + (
        f" --rules {rules}" if rules else ""
    )
    out = args.out / "results.json"
    write_json(out, results)
    _summary(results, console, bench=True)
    storm = results["storm"]
    console.info(
        f"storm: {storm['services']} services over {storm['span_hours']} h, {storm['scenarios']} scenarios; {storm['rules']}"
    )
    if storm_file:
        config_file = storm_file.parent / "storm-config.yaml"
        console.info(
            f"storm written to {storm_file} (replay it with its own settings: "
            f"`firstline --config {config_file} intake replay {storm_file}`)"
        )
    console.info(f"results written to {out}")
    missed = _targets_met(results)
    if missed and args.check:
        console.error("targets missed: " + "; ".join(missed))
        return EXIT_FAILED
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace, console: Console) -> int:
    from intake.db import open_db
    from intake.deadletters import DeadLetters

    config = load(args, required=False)
    path = config.intake.inbox
    if config.storage.url is None and not path.exists():
        console.info(f"no intake database at {path} yet (`firstline serve` creates it): no dead letters")
        return EXIT_OK
    conn = open_db(config.storage.where(path))
    try:
        letters = DeadLetters(conn)
        if args.show is not None:
            record = letters.get(args.show)
            if record is None:
                raise CommandError(f"no dead letter {args.show} in {path}")
            if args.json:
                console.info(json.dumps(record, indent=2))
                return EXIT_OK
            when = datetime.fromtimestamp(record["received_at"], UTC).isoformat(timespec="seconds")
            console.heading(
                f"dead letter {record['id']}: {record['source']} at {when} ({record['stage']}, HTTP {record['status'] or '-'})"
            )
            console.info(f"field: {record['field']}\nerror: {record['error']}")
            cut = f" (first {len(record['body'])} of {record['body_size']} bytes)" if record["truncated"] else ""
            console.info(f"body{cut}:\n{record['body']}")
            return EXIT_OK
        rows = letters.list(limit=args.limit, source=args.source)
    finally:
        conn.close()
    if args.json:
        console.info(json.dumps(rows, indent=2))
        return EXIT_OK
    if not rows:
        console.info("no dead letters")
        return EXIT_OK
    console.table(
        ["id", "received", "source", "stage", "status", "field", "error"],
        [
            [
                r["id"],
                datetime.fromtimestamp(r["received_at"], UTC).strftime("%Y-%m-%d %H:%M:%S"),
                r["source"],
                r["stage"],
                r["status"] or "-",
                r["field"],
                r["error"][:90],
            ]
            for r in rows
        ],
        title=f"Dead letters in {path} (newest first; `--show ID` for one with its body)",
    )
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    """Add the intake commands to the parser; return their handlers."""
    serve = sub.add_parser(
        "serve",
        help="receive alerts over HTTP, correlate them into incidents and work each incident",
        description="Serve POST /v1/alerts/{alertmanager,grafana,pagerduty,datadog,cloudwatch,opsgenie,generic}. Each "
        "delivery is authenticated per source (intake.sources in config.yaml), validated (a bad one gets 400 naming the "
        "field and is kept as a dead letter), stored durably, and answered 202 at once; the worker then deduplicates, "
        "detects flapping, applies suppression rules and maintenance windows, and groups alerts into incidents by "
        "service, time and catalog topology. A new incident, or one with a material change (a new service affected, "
        "a higher severity), starts the workflow; approvals then wait for `firstline approve` as usual.",
    )
    serve.add_argument("--host", help="address to listen on (default: intake.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: intake.port, 8787; 0 picks a free one)")
    serve.add_argument(
        "--dry-run", action="store_true", help="correlate and record incidents without starting the workflow"
    )
    serve.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="listen on a non-loopback address even though some sources have no authentication",
    )
    add_common(serve)

    intake = sub.add_parser("intake", help="replay recorded alerts, benchmark correlation, list dead letters")
    intake_sub = intake.add_subparsers(dest="intake_command", metavar="SUBCOMMAND")
    replay = intake_sub.add_parser(
        "replay",
        help="feed recorded deliveries through the intake pipeline at full speed",
        description='Read FILE.jsonl, one delivery per line: {"source": "alertmanager", "received_at": RFC3339, '
        '"payload": {...}, "truth": "incident key"} (truth optional). Run them through the same normalization and '
        "correlation as `serve` (no authentication, no workflow) and write DIR/results.json: alerts_in, incidents_out, "
        "compression, alerts_per_second, lost (must be 0) and, with truth, purity and completeness.",
    )
    replay.add_argument("file", type=Path, metavar="FILE.jsonl")
    replay.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="where results.json goes (default: .)"
    )
    replay.add_argument(
        "--catalog", type=Path, metavar="PATH", help="service catalog for topology (default: knowledge.catalog)"
    )
    add_common(replay)

    bench = intake_sub.add_parser(
        "bench",
        help="generate an alert storm with known truth and measure correlation",
        description="Generate a storm (default 100,000 alerts: ~100 services, a cascade through dependencies, service "
        "incidents, flapping, resolves, duplicates, background noise, a Watchdog and a maintenance window) in all seven "
        "wire formats, and time JSON decoding + normalization + correlation on one core. Writes DIR/results.json with "
        "the replay keys plus peak_memory_mb. Targets: >= 5,000 alerts/s, < 500 MB, compression and purity >= 0.95, lost 0.",
    )
    bench.add_argument("--alerts", type=int, default=100_000, metavar="N", help="alerts in the storm (default 100000)")
    bench.add_argument(
        "--out", type=Path, default=Path("."), metavar="DIR", help="where results.json goes (default: .)"
    )
    bench.add_argument(
        "--seed", type=int, default=7, help="random seed (default 7); the same seed gives the same storm"
    )
    bench.add_argument(
        "--rules",
        type=Path,
        metavar="RULES.yml",
        help="awesome-prometheus-alerts rules.yml for realistic names (default: $FIRSTLINE_ALERT_RULES, else built-in)",
    )
    bench.add_argument("--write-storm", action="store_true", help="also write DIR/storm.jsonl (replayable)")
    bench.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    add_common(bench)

    dead = intake_sub.add_parser(
        "dead-letters",
        help="deliveries that were rejected or could not be processed",
        description="List what `serve` could not accept or process, newest first: malformed payloads (with the field), "
        "oversized bodies, failed SNS subscription confirmations. Nothing is dropped silently.",
    )
    dead.add_argument("--limit", type=int, default=50)
    dead.add_argument("--source", help="only this source")
    dead.add_argument("--show", type=int, metavar="ID", help="show one dead letter with its body")
    dead.add_argument("--json", action="store_true", help="print JSON")
    add_common(dead)
    return {
        "serve": cmd_serve,
        "intake replay": cmd_replay,
        "intake bench": cmd_bench,
        "intake dead-letters": cmd_dead_letters,
    }
