"""Speed: ingest 10,000 chunks, then run 1,000 queries, and report throughput and latency.

The corpus is generated into a temporary folder as markdown files with front matter, so the whole
ingestion path is measured (reading, parsing, chunking, embedding, Chroma writes). With the
postmortems dataset at hand (see :mod:`evals.benchmarks.knowledge.retrieval`), documents are its bodies, varied per
copy (another service, paragraphs rotated, a service line added), one paragraph per section; without
it, sentences are generated from an operations vocabulary. Either way the chunk count is exact:
each generated document is chunked as ingestion will chunk it before it is written.

Queries mix what agents send: a third unfiltered, a third filtered by service, a third by kind;
texts come from the documents' summaries and keywords (or the vocabulary). The first query builds
the lexical index and is reported on its own (``first_query_ms``); p50/p95 are over the rest.
"""

from __future__ import annotations

import os
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import chromadb
from pydantic import BaseModel, Field

from evals.benchmarks.knowledge.retrieval import load_corpus, percentile
from knowledge.embedders import Embedder
from knowledge.ingest import (
    DOC_KINDS,
    MARKDOWN_SUFFIXES,
    KnowledgeFileError,
    chunk_document,
    parse_document,
    read_text_file,
    split_front_matter,
)
from knowledge.retrieval import KnowledgeRetriever
from knowledge.service import KnowledgeBase
from knowledge.store import ChromaSettings, KnowledgeStore

TARGET_INGEST_CHUNKS_PER_SECOND = 200.0
TARGET_QUERY_P95_MS = 50.0
SERVICES = tuple(f"svc-{n:02d}" for n in range(50))
_MAX_SECTION_CHARS = 1000

ProgressFn = Callable[[str], None]
IngestProgressFn = Callable[[int, int, str], None]

_VOCABULARY = (
    "checkout payments inventory search gateway database replica primary connection pool timeout latency "
    "error rate deploy rollback migration schema column index cache eviction memory leak cpu throttling "
    "disk pressure certificate expiry dns resolution load balancer health check kafka consumer lag queue "
    "backlog retry storm circuit breaker rate limit quota region zone failover network partition packet "
    "loss config change feature flag canary release cron job batch worker oom killed crash loop restart"
).split()


class BenchResults(BaseModel):
    embedder: str
    corpus: str = Field(description="Where the documents came from.")
    documents: int
    chunks: int
    ingest_seconds: float
    ingest_chunks_per_second: float
    ingest_cpu_seconds: float = Field(description="CPU time of this process (all threads) during the ingest.")
    ingest_chunks_per_cpu_second: float
    reingest_seconds: float = Field(description="A second ingest of the same files: nothing changes.")
    queries: int
    first_query_ms: float = Field(description="The first query, which builds the lexical index.")
    query_p50_ms: float
    query_p95_ms: float
    query_p99_ms: float
    query_max_ms: float
    cpu_count: int
    load_average: list[float] = Field(
        description="1-minute load average before ingest, after ingest and after the queries: above the "
        "CPU count, other processes were competing for the machine and wall times are inflated."
    )
    chroma_version: str
    targets: dict[str, float] = Field(
        default_factory=lambda: {
            "ingest_chunks_per_second": TARGET_INGEST_CHUNKS_PER_SECOND,
            "query_p95_ms": TARGET_QUERY_P95_MS,
        }
    )

    @property
    def meets_targets(self) -> bool:
        return (
            self.ingest_chunks_per_second >= TARGET_INGEST_CHUNKS_PER_SECOND
            and self.query_p95_ms <= TARGET_QUERY_P95_MS
        )


def generate_corpus(
    folder: Path, *, chunks: int, source: Path | None = None, seed: int = 0
) -> tuple[int, int, list[str]]:
    """Write markdown documents holding exactly ``chunks`` chunks into ``folder``.

    Returns (documents, chunks, query texts). ``source`` is the postmortems corpus folder, or None
    for generated text.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    bodies, queries = _source_texts(source, rng)
    written_docs = written_chunks = 0
    copy = 0
    while written_chunks < chunks:
        for index, (title, paragraphs) in enumerate(bodies):
            if written_chunks >= chunks:
                break
            service = SERVICES[(copy * len(bodies) + index) % len(SERVICES)]
            kind = DOC_KINDS[(copy + index) % len(DOC_KINDS)]
            shift = copy % max(len(paragraphs), 1)
            rotated = paragraphs[shift:] + paragraphs[:shift]
            rotated = [f"Affected service: {service} (copy {copy}). {rotated[0]}", *rotated[1:]]
            remaining = chunks - written_chunks
            sections = rotated[:remaining]
            text = _markdown(f"{title} ({service})", kind, service, copy, sections)
            name = f"doc-{copy:03d}-{index:04d}.md"
            document = parse_document(text, source_path=name)
            produced = len(chunk_document(document))
            (folder / name).write_text(text, encoding="utf-8")
            written_docs += 1
            written_chunks += produced
        copy += 1
    return written_docs, written_chunks, queries


def _markdown(title: str, kind: str, service: str, copy: int, sections: list[str]) -> str:
    day = 1 + copy % 28
    lines = [
        "---",
        f"title: {title!r}",
        f"kind: {kind}",
        f"service: {service}",
        f"date: 2026-01-{day:02d}",
        "---",
        "",
        f"# {title}",
        "",
    ]
    for number, paragraph in enumerate(sections, start=1):
        lines += [f"## Part {number}", "", paragraph, ""]
    return "\n".join(lines)


def _source_texts(source: Path | None, rng: random.Random) -> tuple[list[tuple[str, list[str]]], list[str]]:
    if source is not None:
        bodies: list[tuple[str, list[str]]] = []
        for path in sorted(p for p in source.iterdir() if p.suffix.lower() in MARKDOWN_SUFFIXES):
            try:
                front, body = split_front_matter(read_text_file(path), origin=str(path))
            except KnowledgeFileError:
                continue
            paragraphs = [
                " ".join(p.split())[:_MAX_SECTION_CHARS]
                for p in body.split("\n\n")
                if p.strip() and not p.lstrip().startswith("#")
            ]
            if paragraphs:
                bodies.append((str(front.get("title") or path.stem), paragraphs))
        corpus = load_corpus(source)
        queries = [d.summary.split(". ")[0] for d in corpus if d.summary] + [
            " ".join(d.keywords[:3]) for d in corpus if d.keywords
        ]
        if bodies and queries:
            return bodies, queries
    generated = []
    for number in range(300):
        paragraphs = [
            " ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(40, 120))) + "."
            for _ in range(rng.randint(1, 4))
        ]
        generated.append((f"Generated document {number}", paragraphs))
    queries = [" ".join(rng.choice(_VOCABULARY) for _ in range(rng.randint(2, 8))) for _ in range(500)]
    return generated, queries


def run_benchmark(
    embedder: Embedder,
    *,
    work_dir: Path,
    chunks: int = 10_000,
    queries: int = 1_000,
    source: Path | None = None,
    on_progress: ProgressFn | None = None,
    on_ingest_progress: IngestProgressFn | None = None,
    seed: int = 0,
) -> BenchResults:
    """Generate the corpus under ``work_dir``, ingest it into a fresh embedded Chroma, query it."""
    say = on_progress or (lambda _: None)
    corpus_dir = work_dir / "corpus"
    chroma_dir = work_dir / "chroma"
    for path in (corpus_dir, chroma_dir):
        if path.exists():
            shutil.rmtree(path)
    documents, produced, texts = generate_corpus(corpus_dir, chunks=chunks, source=source, seed=seed)
    say(f"generated {documents} documents holding {produced} chunks in {corpus_dir}")

    store = KnowledgeStore.open(
        ChromaSettings(path=chroma_dir, collection="bench"),
        embedder,
        client=chromadb.PersistentClient(path=str(chroma_dir)),
    )
    kb = KnowledgeBase(store)
    loads = [_load_average()]
    started, cpu_started = time.perf_counter(), time.process_time()
    report = kb.ingest([corpus_dir], on_progress=on_ingest_progress)
    ingest_seconds = time.perf_counter() - started
    ingest_cpu_seconds = time.process_time() - cpu_started
    loads.append(_load_average())
    if report.skipped:
        raise RuntimeError(f"benchmark corpus had skipped files: {report.skipped[:3]}")
    say(f"ingested {report.added} chunks in {ingest_seconds:.1f}s ({report.added / ingest_seconds:.0f} chunks/s)")
    started = time.perf_counter()
    again = kb.ingest([corpus_dir])
    reingest_seconds = time.perf_counter() - started
    say(f"re-ingested (idempotent: {again.added} added, {again.unchanged} unchanged) in {reingest_seconds:.1f}s")

    retriever = KnowledgeRetriever(store)
    rng = random.Random(seed)
    started = time.perf_counter()
    retriever.search(texts[0], k=5)
    first_query_ms = (time.perf_counter() - started) * 1000
    latencies: list[float] = []
    for number in range(queries):
        text = rng.choice(texts)
        service = rng.choice(SERVICES) if number % 3 == 1 else None
        kind = rng.choice(DOC_KINDS) if number % 3 == 2 else None
        started = time.perf_counter()
        retriever.search(text, service=service, kind=kind, k=5)
        latencies.append((time.perf_counter() - started) * 1000)
    loads.append(_load_average())
    result = BenchResults(
        embedder=embedder.name,
        corpus=f"postmortems corpus {source}, varied" if source is not None else "generated text",
        documents=documents,
        chunks=store.count(),
        ingest_seconds=round(ingest_seconds, 2),
        ingest_chunks_per_second=round(report.added / ingest_seconds, 1) if ingest_seconds else 0.0,
        ingest_cpu_seconds=round(ingest_cpu_seconds, 2),
        ingest_chunks_per_cpu_second=round(report.added / ingest_cpu_seconds, 1) if ingest_cpu_seconds else 0.0,
        reingest_seconds=round(reingest_seconds, 2),
        queries=queries,
        first_query_ms=round(first_query_ms, 1),
        query_p50_ms=round(percentile(latencies, 50), 2),
        query_p95_ms=round(percentile(latencies, 95), 2),
        query_p99_ms=round(percentile(latencies, 99), 2),
        query_max_ms=round(max(latencies, default=0.0), 2),
        cpu_count=os.cpu_count() or 0,
        load_average=loads,
        chroma_version=chromadb.__version__,
    )
    say(
        f"{queries} queries: p50 {result.query_p50_ms} ms, p95 {result.query_p95_ms} ms (first query {result.first_query_ms} ms)"
    )
    return result


def _load_average() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return -1.0
