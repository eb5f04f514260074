"""Knowledge commands: ingest, search, stats, recall, remember, eval, bench."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from firstline.commands import EXIT_OK, EXIT_USAGE, REPO_ROOT, CommandError, add_common, load, write_json
from firstline.config import FirstlineConfig
from firstline.console import Console
from firstline.knowledge_wiring import knowledge_settings
from knowledge.catalog import CatalogError, ServiceCatalog
from knowledge.embedders import (
    Embedder,
    EmbeddingError,
    HashingEmbedder,
    SentenceTransformerEmbedder,
    local_embedder_available,
)
from knowledge.ingest import DOC_KINDS, IngestReport
from knowledge.records import IncidentRecordError
from knowledge.retrieval import Hit
from knowledge.service import KnowledgeBase, open_knowledge
from knowledge.store import EmbedderMismatchError, KnowledgeStoreError, KnowledgeStoreUnavailable

DATASETS_ENV = "FIRSTLINE_DATASETS"
EMBEDDER_CHOICES = ("hashing", "local")


# -- shared -----------------------------------------------------------------------------------------


def open_kb(config: FirstlineConfig) -> KnowledgeBase:
    """The configured knowledge base; an unreachable server or a wrong embedder is a clear CommandError."""
    try:
        return open_knowledge(knowledge_settings(config))
    except KnowledgeStoreUnavailable as exc:
        raise CommandError(f"knowledge.chroma: {exc}") from exc
    except EmbedderMismatchError as exc:
        raise CommandError(f"knowledge.embedder: {exc}", EXIT_USAGE) from exc
    except (KnowledgeStoreError, ValueError) as exc:
        raise CommandError(f"knowledge: {exc}", EXIT_USAGE) from exc


@contextmanager
def store_errors() -> Iterator[None]:
    """Errors from the store or the embedder in the middle of a command, as CommandErrors naming the setting."""
    try:
        yield
    except KnowledgeStoreUnavailable as exc:
        raise CommandError(f"knowledge.chroma: {exc}") from exc
    except EmbeddingError as exc:
        raise CommandError(f"knowledge.embedder: {exc}") from exc


def datasets_dir(args: argparse.Namespace) -> Path:
    """--datasets, else $FIRSTLINE_DATASETS, else ../shared/datasets beside the repository."""
    if getattr(args, "datasets", None):
        return Path(args.datasets)
    from_env = os.environ.get(DATASETS_ENV)
    return Path(from_env) if from_env else REPO_ROOT.parent / "shared" / "datasets"


def parse_day(value: str) -> date | datetime:
    try:
        return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time") from exc


def build_eval_embedder(name: str) -> Embedder:
    if name == "hashing":
        return HashingEmbedder()
    if not local_embedder_available():
        raise CommandError(
            "--embedder local needs the optional `local` extra: install a CPU build of torch, then "
            "pip install -e '.[local]'",
            EXIT_USAGE,
        )
    return SentenceTransformerEmbedder()


# -- ingest ---------------------------------------------------------------------------------------


@contextmanager
def ingest_progress(console: Console, *, every: int = 200) -> Iterator[Callable[[int, int, str], None]]:
    """A progress bar on a terminal; otherwise a line every ``every`` files and at the end."""
    if console.out.is_terminal:
        with Progress(
            TextColumn("ingesting"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[file]}", style="dim"),
            console=console.out,
            transient=True,
        ) as bar:
            task = bar.add_task("ingest", total=None, file="")

            def update(done: int, total: int, path: str) -> None:
                bar.update(task, completed=done, total=total, file=Path(path).name)

            yield update
        return

    def report(done: int, total: int, path: str) -> None:
        if done == total or done % every == 0:
            console.info(f"ingested {done}/{total} files")

    yield report


def describe_problem(path: str, reason: str) -> str:
    """One line per skipped file: the full path once, then the reason (which often starts with a path too)."""
    if reason.startswith(path):
        return reason
    named, _, rest = reason.partition(": ")
    if rest and path.endswith(named):
        return f"{path}: {rest}"
    return f"{path}: {reason}"


def print_ingest_report(report: IngestReport, console: Console, *, seconds: float) -> None:
    console.info(f"{report.summary()} in {seconds:.1f}s")
    if report.skipped:
        console.heading(f"Skipped ({len(report.skipped)}), the rest was ingested")
        for path, reason in report.skipped:
            console.info(f"  {describe_problem(path, reason)}")
    if report.warnings:
        console.heading(f"Warnings ({len(report.warnings)})")
        for path, reason in report.warnings:
            console.info(f"  {describe_problem(path, reason)}")


def cmd_ingest(args: argparse.Namespace, console: Console) -> int:
    config = load(args, required=False)
    paths = [Path(p) for p in args.paths] or list(config.knowledge.paths)
    if not paths:
        raise CommandError("nothing to ingest: give PATH arguments or set knowledge.paths in the config", EXIT_USAGE)
    catalog = None
    if config.knowledge.catalog.exists():
        try:
            catalog = ServiceCatalog.load(config.knowledge.catalog)
        except CatalogError as exc:
            console.warn(f"knowledge.catalog: {exc}; ingesting without checking services against it")
    kb = open_kb(config)
    console.info(
        f"ingesting {', '.join(str(p) for p in paths)} into {kb.store.settings.describe()} ({kb.store.embedder.name})"
    )
    started = time.perf_counter()
    with store_errors(), ingest_progress(console) as progress:
        report = kb.ingest(paths, catalog=catalog, on_progress=progress, default_kind=args.kind)
    seconds = time.perf_counter() - started
    if args.json:
        console.info(json.dumps({**report.model_dump(mode="json"), "seconds": round(seconds, 2)}, indent=2))
    else:
        print_ingest_report(report, console, seconds=seconds)
    if args.strict and report.skipped:
        return EXIT_USAGE
    return EXIT_OK


# -- search, stats --------------------------------------------------------------------------------


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    kb = open_kb(load(args, required=False))
    try:
        with store_errors():
            hits = kb.search(
                args.query, service=args.service, kind=args.kind, since=args.since, until=args.until, k=args.k
            )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.json:
        console.info(json.dumps([h.model_dump(mode="json") for h in hits], indent=2))
        return EXIT_OK
    if not hits:
        console.info("no matching knowledge" + (" (check the filters)" if args.service or args.kind else ""))
        return EXIT_OK
    for rank, hit in enumerate(hits, start=1):
        show_hit(rank, hit, console)
    return EXIT_OK


def show_hit(rank: int, hit: Hit, console: Console) -> None:
    where = ", ".join(x for x in (hit.kind, hit.service or "", hit.date or "") if x)
    console.heading(f"{rank}. {hit.title}  ({where})  score {hit.score:.2f}")
    console.info(f"   {hit.source_id}")
    body = " ".join(hit.text.split("\n\n", 1)[-1].split())
    console.info(f"   {body[:300]}{'…' if len(body) > 300 else ''}")


def cmd_stats(args: argparse.Namespace, console: Console) -> int:
    kb = open_kb(load(args, required=False))
    with store_errors():
        stats = kb.stats()
    if args.json:
        console.info(stats.model_dump_json(indent=2))
        return EXIT_OK
    console.info(f"{kb.store.settings.describe()}; embedder {kb.store.embedder.name}")
    console.info(f"{stats.documents} documents, {stats.chunks} chunks")
    if stats.documents:
        console.table(
            ["kind", "documents", "chunks"],
            [[kind, count, stats.chunks_by_kind.get(kind, 0)] for kind, count in stats.documents_by_kind.items()],
        )
        console.table(
            ["service", "documents", "chunks"],
            [[svc, count, stats.chunks_by_service.get(svc, 0)] for svc, count in stats.documents_by_service.items()],
        )
    return EXIT_OK


# -- memory ---------------------------------------------------------------------------------------


def cmd_remember(args: argparse.Namespace, console: Console) -> int:
    kb = open_kb(load(args, required=False))
    failures = 0
    for path in args.records:
        try:
            record = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            console.error(f"{path}: does not exist")
            failures += 1
            continue
        except json.JSONDecodeError as exc:
            console.error(f"{path}: not valid JSON ({exc})")
            failures += 1
            continue
        try:
            with store_errors():
                result = kb.remember_incident(record)
        except IncidentRecordError as exc:
            console.error(f"{path}: {exc}")
            failures += 1
            continue
        incident = result.incident
        ttm = (
            f", mitigated in {incident.time_to_mitigate_minutes:g} min"
            if incident.time_to_mitigate_minutes is not None
            else ""
        )
        console.info(
            f"remembered {incident.incident_id} ({incident.service}, {incident.status}{ttm}) as {result.source_id}: "
            f"{result.added} chunks added, {result.updated} updated, {result.unchanged} unchanged, {result.removed} removed"
        )
    return EXIT_USAGE if failures else EXIT_OK


def cmd_recall(args: argparse.Namespace, console: Console) -> int:
    kb = open_kb(load(args, required=False))
    now = args.now or datetime.now(UTC)
    try:
        with store_errors():
            recall = kb.recall(
                args.service,
                args.text,
                now=now,
                window_days=args.window_days,
                k=args.k,
                alert_name=args.alert,
                category=args.category,
                exclude_incident=args.incident,
            )
    except ValueError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.json:
        console.info(recall.model_dump_json(indent=2))
        return EXIT_OK
    console.heading("Recurrence")
    console.info(recall.statement)
    console.heading("Most similar past incidents")
    if not recall.similar:
        console.info("none: no postmortem or remembered incident matches")
    for rank, item in enumerate(recall.similar, start=1):
        where = ", ".join(x for x in (item.service or "", item.date[:10] if item.date else "") if x)
        console.info(f"{rank}. {item.title} ({where}){'' if item.same_service else ' [other service]'}")
        console.info(f"   {item.source_id}")
        if item.root_cause:
            console.info(f"   root cause: {item.root_cause[:200]}")
        if item.fix:
            approved = f" (approved by {item.approved_by})" if item.approved_by else ""
            console.info(f"   fixed by: {item.fix}{approved}")
        for title in item.open_follow_ups:
            console.info(f"   open follow-up: {title}")
    return EXIT_OK


# -- eval and bench -------------------------------------------------------------------------------


def cmd_eval(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.knowledge.retrieval import (
        DatasetNotFound,
        as_jsonable,
        corpus_folder,
        evaluate,
        render_report,
    )

    try:
        folder = corpus_folder(datasets_dir(args))
    except DatasetNotFound as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    names = args.embedder or ["hashing", *(["local"] if local_embedder_available() else [])]
    if "local" not in names and not local_embedder_available():
        console.info("the local transformer embedder is not installed (optional `local` extra): measuring hashing only")
    embedders = {name: build_eval_embedder(name) for name in dict.fromkeys(names)}
    out: Path = args.out
    rankings: dict[str, dict[str, list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="firstline-eval-") as work, store_errors():
        results, queries = evaluate(
            folder,
            embedders,
            work_dir=Path(work),
            on_progress=lambda text: console.progress("eval", text),
            rankings=rankings,
        )
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", results.model_dump(mode="json"))
    (out / "queries.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in as_jsonable(queries, rankings)), encoding="utf-8"
    )
    report = render_report(results)
    (out / "report.md").write_text("# Knowledge retrieval evaluation\n\n" + report, encoding="utf-8")
    console.info(report)
    console.info(f"results in {out / 'results.json'}, queries with labels and top 5 in {out / 'queries.jsonl'}")
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from evals.benchmarks.knowledge.retrieval import DatasetNotFound, corpus_folder
    from evals.benchmarks.knowledge.speed import run_benchmark

    source: Path | None = None
    if not args.synthetic:
        try:
            source = corpus_folder(datasets_dir(args))
        except DatasetNotFound as exc:
            console.warn(f"{exc}; using generated text instead")
    embedder = build_eval_embedder(args.embedder)
    out: Path = args.out
    with (
        tempfile.TemporaryDirectory(prefix="firstline-bench-") as work,
        store_errors(),
        ingest_progress(console, every=500) as progress,
    ):
        results = run_benchmark(
            embedder,
            work_dir=Path(work),
            chunks=args.chunks,
            queries=args.queries,
            source=source,
            on_progress=lambda text: console.progress("bench", text),
            on_ingest_progress=progress,
        )
    write_json(out / "results.json", results.model_dump(mode="json"))
    verdict = "meets" if results.meets_targets else "misses"
    console.info(
        f"ingest {results.ingest_chunks_per_second:.0f} chunks/s wall ({results.ingest_chunks_per_cpu_second:.0f} per CPU "
        f"second), query p50 {results.query_p50_ms} ms, p95 {results.query_p95_ms} ms: {verdict} the targets "
        f"(>= {results.targets['ingest_chunks_per_second']:.0f} chunks/s, p95 <= {results.targets['query_p95_ms']:.0f} ms); "
        f"load average {results.load_average} on {results.cpu_count} CPUs"
    )
    console.info(f"results in {out / 'results.json'}")
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------------------


def register(sub: Any) -> dict[str, Any]:
    """Add the knowledge commands to the parser; return their handlers."""
    formatter = argparse.RawDescriptionHelpFormatter
    knowledge = sub.add_parser(
        "knowledge",
        help="service docs, runbooks and past incidents: ingest, search, recall, measure",
        description="The knowledge store the agents search (ChromaDB; embedded by default, a server with "
        "knowledge.chroma.mode: server). Markdown with YAML front matter (kind: service_doc | runbook | "
        "postmortem | alert_doc; service, owner, tags, date) and incident records (JSON) go in; hybrid "
        "lexical + vector search comes out, with citable source ids.",
        formatter_class=formatter,
    )
    knowledge_sub = knowledge.add_subparsers(dest="knowledge_command", metavar="SUBCOMMAND")

    ingest = knowledge_sub.add_parser(
        "ingest",
        help="ingest markdown files, incident records and folders",
        description="Ingest files and folders (recursively). Re-ingesting is idempotent: unchanged sections are "
        "not rewritten, changed ones replace their old chunks, and files gone from an ingested folder are "
        "removed. A file that cannot be ingested (bad front matter, unknown kind, empty, binary) is listed with "
        "the reason and the rest goes on.\n\n"
        "examples:\n"
        "  firstline knowledge ingest                       # the folders in knowledge.paths\n"
        "  firstline knowledge ingest docs/runbooks postmortems/2026-03-outage.md\n"
        "  firstline knowledge ingest incident-records/     # JSON from `firstline incidents show ID --json`\n"
        "  firstline knowledge ingest wiki/ --kind service_doc   # files whose front matter and folder name no kind",
        formatter_class=formatter,
    )
    ingest.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or folders (default: knowledge.paths in the config)"
    )
    ingest.add_argument(
        "--kind", choices=DOC_KINDS, help="kind for markdown files whose front matter and folder imply none"
    )
    ingest.add_argument("--strict", action="store_true", help="exit 2 when any file was skipped (for CI)")
    ingest.add_argument("--json", action="store_true", help="print the ingest report as JSON")
    add_common(ingest)

    search = knowledge_sub.add_parser(
        "search",
        help="search the knowledge like the agents do",
        description="Hybrid search: BM25 for exact strings (error messages, alert and service names) fused with "
        "vector similarity for paraphrases. One result per document, each with the source id evidence cites.\n\n"
        "examples:\n"
        "  firstline knowledge search 'column \"customer_id\" does not exist' --service checkout\n"
        "  firstline knowledge search 'connection pool exhausted' --kind postmortem --since 2025-01-01 --json",
        formatter_class=formatter,
    )
    search.add_argument("query", metavar="QUERY")
    search.add_argument("--service", help="only documents of this service")
    search.add_argument("--kind", choices=DOC_KINDS, help="only documents of this kind")
    search.add_argument(
        "--since", type=parse_day, metavar="DATE", help="only dated documents on or after DATE (YYYY-MM-DD)"
    )
    search.add_argument("--until", type=parse_day, metavar="DATE", help="only dated documents on or before DATE")
    search.add_argument("-k", type=int, default=5, metavar="N", help="how many results (default 5)")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    add_common(search)

    stats = knowledge_sub.add_parser("stats", help="what the store holds, per kind and per service")
    stats.add_argument("--json", action="store_true", help="print JSON")
    add_common(stats)

    remember = knowledge_sub.add_parser(
        "remember",
        help="write incident records back to memory (what resolved incidents do automatically)",
        description="Store incident records (the JSON of `firstline incidents show ID --json`) as past incidents: "
        "root cause, the fixing action and its approver, time to mitigate, what was ruled out, links and "
        "follow-ups (an optional 'follow_ups' list in the record). Idempotent.",
    )
    remember.add_argument("records", nargs="+", type=Path, metavar="RECORD_JSON")
    add_common(remember)

    recall = knowledge_sub.add_parser(
        "recall",
        help="similar past incidents of a service, and whether this is a recurrence",
        description="What the agents get on a new incident: the most similar past incidents and a recurrence "
        "statement such as '4th time in 30 days ...; the follow-up from last time is still open'. Past incidents "
        "count as the same problem by alert name or diagnosis category when given, else by text similarity.\n\n"
        "example:\n"
        "  firstline knowledge recall 'checkout 5xx ratio above 5%' --service checkout --alert CheckoutHighErrorRate",
        formatter_class=formatter,
    )
    recall.add_argument("text", metavar="TEXT", help="the alert title, error lines or diagnosis")
    recall.add_argument("--service", required=True)
    recall.add_argument(
        "--alert", metavar="NAME", help="alert name: past incidents with the same alert are recurrences"
    )
    recall.add_argument("--category", help="diagnosis category (e.g. migration): same category counts as a recurrence")
    recall.add_argument(
        "--incident", metavar="ID", help="the current incident's id, left out when it is already remembered"
    )
    recall.add_argument("--window-days", type=int, default=30, metavar="N", help="recurrence window (default 30)")
    recall.add_argument(
        "--now",
        type=lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
        metavar="TIME",
        help="the incident's time (default: now)",
    )
    recall.add_argument("-k", type=int, default=3, metavar="N", help="how many similar incidents (default 3)")
    recall.add_argument("--json", action="store_true", help="print JSON")
    add_common(recall)

    evaluate = knowledge_sub.add_parser(
        "eval",
        help="measure retrieval quality (recall@5, MRR) per embedder on the public postmortems corpus",
        description="Ingest the postmortems corpus (postmortems/data under --datasets, $FIRSTLINE_DATASETS or "
        "../shared/datasets) into a temporary store per embedder and score labelled query sets: summary "
        "sentences, paraphrases, keywords, hand-written queries, topics (how each is made: evals/benchmarks/knowledge/retrieval.py). "
        "Writes results.json (recall_at_5 and mrr per embedder), queries.jsonl and report.md to --out.",
        formatter_class=formatter,
    )
    evaluate.add_argument(
        "--out",
        type=Path,
        default=Path(".firstline/knowledge-eval"),
        metavar="DIR",
        help="output folder (default .firstline/knowledge-eval)",
    )
    evaluate.add_argument(
        "--datasets", type=Path, metavar="DIR", help=f"datasets folder (default ${DATASETS_ENV} or ../shared/datasets)"
    )
    evaluate.add_argument(
        "--embedder",
        action="append",
        choices=EMBEDDER_CHOICES,
        help="embedder to measure, repeatable (default: hashing, and local when installed)",
    )
    add_common(evaluate)

    bench = knowledge_sub.add_parser(
        "bench",
        help="measure ingest throughput and query latency (10,000 chunks, 1,000 queries)",
        description="Generate a corpus of --chunks chunks (the postmortems corpus varied, or generated text), ingest "
        "it into a fresh embedded Chroma, then run --queries queries (a third filtered by service, a third by "
        "kind). Writes results.json with ingest_chunks_per_second, query_p50_ms and query_p95_ms to --out. Wall "
        "times depend on what else runs on the machine: the load average is recorded with them.",
        formatter_class=formatter,
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=Path(".firstline/knowledge-bench"),
        metavar="DIR",
        help="output folder (default .firstline/knowledge-bench)",
    )
    bench.add_argument("--chunks", type=int, default=10_000, metavar="N", help="chunks to ingest (default 10000)")
    bench.add_argument("--queries", type=int, default=1_000, metavar="N", help="queries to run (default 1000)")
    bench.add_argument(
        "--datasets", type=Path, metavar="DIR", help=f"datasets folder (default ${DATASETS_ENV} or ../shared/datasets)"
    )
    bench.add_argument(
        "--synthetic", action="store_true", help="use generated text even when the postmortems corpus is there"
    )
    bench.add_argument("--embedder", choices=EMBEDDER_CHOICES, default="hashing", help="embedder (default hashing)")
    add_common(bench)

    return {
        "knowledge ingest": cmd_ingest,
        "knowledge search": cmd_search,
        "knowledge stats": cmd_stats,
        "knowledge remember": cmd_remember,
        "knowledge recall": cmd_recall,
        "knowledge eval": cmd_eval,
        "knowledge bench": cmd_bench,
    }
