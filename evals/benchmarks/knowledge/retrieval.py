"""Retrieval quality: recall@5 and MRR per embedder over the public postmortems corpus.

The corpus is ``postmortems/data`` in the shared datasets folder (242 public postmortems, markdown
with front matter: ``title``, ``summary``, ``keywords``, ``categories``, ``company``, ``product``).
It is read from there, never copied. Every document is ingested as a ``postmortem`` (its body
only: the summary and keywords stay in the metadata, so queries built from them do not repeat the
indexed text), into a fresh embedded Chroma per embedder.

The labelled queries (:func:`build_queries`), five sets:

- ``summary``: the first sentence of the document's ``summary`` (written separately from the body),
  company and product names removed, at most 30 words. Relevant: that document.
- ``paraphrase``: the same sentence through a fixed operations thesaurus (outage -> downtime,
  database -> datastore, deploy -> rollout, ...), then every fourth word dropped, as someone who
  half-remembers the incident would type it. Relevant: that document.
- ``keywords``: the document's first three keywords that are not a company or product name.
  Relevant: every document whose keywords include all three.
- ``handwritten``: 25 queries written by hand for a seeded random sample of documents
  (``knowledge/eval_queries.yaml`` says how). Relevant: that document.
- ``topic``: each keyword that 3 to 10 documents share (names excluded), alone. Relevant: the
  documents tagged with it. Tags are incomplete (a document about DNS may not be tagged ``dns``),
  so this set is a lower bound and is kept out of the headline figure.

The headline ``recall_at_5`` and ``mrr`` pool the queries of the first four sets. recall@5 is
``|relevant ∩ top 5| / min(|relevant|, 5)``; MRR is the mean of ``1 / rank`` of the first relevant
document in the top 10 (0 when none). Each embedder is measured through the product's hybrid
retriever (BM25 + vector, RRF) and through its vector half alone; BM25 alone is measured once.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import chromadb
import yaml
from pydantic import BaseModel, Field

from knowledge.embedders import Embedder
from knowledge.ingest import MARKDOWN_SUFFIXES, KnowledgeFileError, read_text_file, split_front_matter
from knowledge.retrieval import KnowledgeRetriever
from knowledge.service import KnowledgeBase
from knowledge.store import ChromaSettings, KnowledgeStore

QuerySet = Literal["summary", "paraphrase", "keywords", "handwritten", "topic"]
QUERY_SETS: tuple[QuerySet, ...] = ("summary", "paraphrase", "keywords", "handwritten", "topic")
HEADLINE_SETS: tuple[QuerySet, ...] = ("summary", "paraphrase", "keywords", "handwritten")
CORPUS_SUBPATH = Path("postmortems") / "data"
TOP_K = 10
MAX_QUERY_WORDS = 30
TOPIC_MIN_DOCS, TOPIC_MAX_DOCS = 3, 10

ProgressFn = Callable[[str], None]

# A fixed thesaurus of operations vocabulary for the paraphrase set. Written once, before the first
# run; each entry maps a word to one a responder might use instead.
_THESAURUS: dict[str, str] = {
    "outage": "downtime",
    "outages": "downtimes",
    "failed": "broke",
    "failure": "breakdown",
    "failures": "breakdowns",
    "error": "fault",
    "errors": "faults",
    "database": "datastore",
    "databases": "datastores",
    "server": "host",
    "servers": "hosts",
    "configuration": "settings",
    "config": "settings",
    "deploy": "rollout",
    "deployed": "rolled out",
    "deployment": "rollout",
    "increase": "rise",
    "increased": "rose",
    "latency": "slowness",
    "unavailable": "down",
    "customers": "clients",
    "users": "clients",
    "network": "connectivity",
    "certificate": "cert",
    "expired": "lapsed",
    "caused": "led to",
    "bug": "defect",
    "disk": "storage volume",
    "traffic": "load",
    "restart": "reboot",
    "restarted": "rebooted",
    "because": "since",
    "removed": "deleted",
    "deleted": "removed",
    "memory": "RAM",
    "cluster": "fleet",
    "requests": "calls",
    "request": "call",
    "data center": "facility",
    "datacenter": "facility",
    "power": "electricity",
    "upgrade": "update",
    "change": "modification",
    "overloaded": "swamped",
}
_THESAURUS_PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(_THESAURUS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


class DatasetNotFound(FileNotFoundError):
    """The postmortems corpus is not where it was looked for; the message names the path."""


@dataclass(frozen=True)
class CorpusDocument:
    """The fields of one corpus document that the query builder reads."""

    doc_id: str
    title: str
    summary: str
    keywords: tuple[str, ...]
    categories: tuple[str, ...]
    names: tuple[str, ...]


class LabelledQuery(BaseModel):
    id: str
    set: QuerySet
    text: str
    relevant: list[str] = Field(description="Relevant document ids (the corpus file names without .md).")
    source: str | None = Field(default=None, description="The document the query was built from, if any.")


class SetScore(BaseModel):
    queries: int
    recall_at_5: float
    mrr: float


class ModeScore(BaseModel):
    """One retriever configuration's scores: the headline (pooled headline sets) and per set."""

    recall_at_5: float
    mrr: float
    by_set: dict[str, SetScore]
    all_queries: SetScore = Field(description="Every query of every set, topic included.")
    query_p50_ms: float
    query_p95_ms: float


class EmbedderResult(BaseModel):
    embedder: str
    recall_at_5: float = Field(description="Hybrid retrieval, headline sets pooled.")
    mrr: float
    hybrid: ModeScore
    vector_only: ModeScore
    ingest_seconds: float
    chunks: int


class EvalResults(BaseModel):
    corpus: str
    documents: int
    queries: dict[str, int]
    headline_sets: list[str]
    embedders: dict[str, EmbedderResult]
    lexical_only: ModeScore
    method: str = Field(default=__doc__ or "", description="How the queries and labels were made.")


# ---------------------------------------------------------------------------------------------------
# Corpus and queries
# ---------------------------------------------------------------------------------------------------


def corpus_folder(datasets_dir: Path) -> Path:
    """The postmortems corpus under ``datasets_dir``; raises :class:`DatasetNotFound` naming the path."""
    folder = datasets_dir / CORPUS_SUBPATH
    if not folder.is_dir():
        raise DatasetNotFound(
            f"the postmortems corpus is not at {folder}: point FIRSTLINE_DATASETS (or --datasets) at the folder "
            "that holds postmortems/data"
        )
    return folder


def load_corpus(folder: Path) -> list[CorpusDocument]:
    """Read the corpus front matter; documents that cannot be read are left out (ingestion reports them)."""
    documents: list[CorpusDocument] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in MARKDOWN_SUFFIXES):
        try:
            front, _ = split_front_matter(read_text_file(path), origin=str(path))
        except KnowledgeFileError:
            continue
        names = tuple(
            n.strip()
            for field in ("company", "product")
            for n in str(front.get(field) or "").split(",")
            if len(n.strip()) >= 2
        )
        documents.append(
            CorpusDocument(
                doc_id=path.stem,
                title=str(front.get("title") or ""),
                summary=" ".join(str(front.get("summary") or "").split()),
                keywords=tuple(str(k).strip().lower() for k in front.get("keywords") or [] if str(k).strip()),
                categories=tuple(str(c) for c in front.get("categories") or []),
                names=names,
            )
        )
    return documents


def load_handwritten(known: set[str] | None = None) -> list[LabelledQuery]:
    """The hand-written queries shipped with the package; ids not in ``known`` are dropped."""
    text = resources.files("knowledge").joinpath("eval_queries.yaml").read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    queries = []
    for index, item in enumerate(raw["queries"]):
        relevant = [str(r) for r in item["relevant"]]
        if known is not None and not set(relevant) <= known:
            continue
        queries.append(
            LabelledQuery(
                id=f"handwritten-{index + 1}",
                set="handwritten",
                text=str(item["text"]),
                relevant=relevant,
                source=relevant[0],
            )
        )
    return queries


def build_queries(corpus: Sequence[CorpusDocument], handwritten: Iterable[LabelledQuery] = ()) -> list[LabelledQuery]:
    """The labelled query sets described in the module docstring, in a stable order."""
    all_names = {n.lower() for d in corpus for n in d.names}
    queries: list[LabelledQuery] = []
    for doc in corpus:
        sentence = _summary_query(doc)
        if sentence:
            queries.append(
                LabelledQuery(
                    id=f"summary-{doc.doc_id}", set="summary", text=sentence, relevant=[doc.doc_id], source=doc.doc_id
                )
            )
            queries.append(
                LabelledQuery(
                    id=f"paraphrase-{doc.doc_id}",
                    set="paraphrase",
                    text=paraphrase(sentence),
                    relevant=[doc.doc_id],
                    source=doc.doc_id,
                )
            )
    keyword_sets = {d.doc_id: set(d.keywords) for d in corpus}
    for doc in corpus:
        chosen = [k for k in doc.keywords if not _is_name(k, {n.lower() for n in doc.names})][:3]
        if len(chosen) < 2:
            continue
        relevant = sorted(d for d, kws in keyword_sets.items() if set(chosen) <= kws)
        queries.append(
            LabelledQuery(
                id=f"keywords-{doc.doc_id}", set="keywords", text=" ".join(chosen), relevant=relevant, source=doc.doc_id
            )
        )
    queries.extend(handwritten)
    tagged: dict[str, list[str]] = {}
    for doc in corpus:
        for keyword in set(doc.keywords):
            tagged.setdefault(keyword, []).append(doc.doc_id)
    for keyword in sorted(tagged):
        docs = sorted(tagged[keyword])
        if TOPIC_MIN_DOCS <= len(docs) <= TOPIC_MAX_DOCS and not _is_name(keyword, all_names):
            queries.append(LabelledQuery(id=f"topic-{keyword}", set="topic", text=keyword, relevant=docs))
    return queries


def _summary_query(doc: CorpusDocument) -> str:
    if not doc.summary:
        return ""
    text = _MARKDOWN_LINK.sub(r"\1", doc.summary).replace("*", "").replace("`", "")
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0]
    for name in sorted(doc.names, key=len, reverse=True):
        sentence = re.sub(rf"(?i)\b{re.escape(name)}(?:['’]s)?\b", " ", sentence)
    words = sentence.split()
    if len(words) < 6:
        return ""
    return " ".join(words[:MAX_QUERY_WORDS]).strip(" ,;:-")


def paraphrase(sentence: str) -> str:
    """Swap operations vocabulary for near-synonyms, then drop every fourth word."""

    def swap(match: re.Match[str]) -> str:
        return _THESAURUS[match.group(1).lower()]

    words = _THESAURUS_PATTERN.sub(swap, sentence).split()
    return " ".join(w for i, w in enumerate(words) if i % 4 != 3)


def _is_name(keyword: str, names: set[str]) -> bool:
    """A keyword that is (part of) a company or product name identifies the document, not the problem."""
    return any(keyword == n or (len(keyword) >= 3 and keyword in n) or (len(n) >= 3 and n in keyword) for n in names)


# ---------------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------------


def recall_at(ranked: Sequence[str], relevant: Sequence[str], k: int = 5) -> float:
    """|relevant ∩ top k| / min(|relevant|, k): 1.0 when the top k is as relevant as it can be."""
    if not relevant:
        return 0.0
    wanted = set(relevant)
    return len(wanted.intersection(ranked[:k])) / min(len(wanted), k)


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str], k: int = TOP_K) -> float:
    wanted = set(relevant)
    for rank, doc_id in enumerate(ranked[:k], start=1):
        if doc_id in wanted:
            return 1.0 / rank
    return 0.0


def score_mode(
    retriever: KnowledgeRetriever, queries: Sequence[LabelledQuery], *, rankings: dict[str, list[str]] | None = None
) -> ModeScore:
    """Run every query through ``retriever`` and score it; ``rankings`` collects the top ids per query."""
    per_query: list[tuple[LabelledQuery, float, float]] = []
    latencies: list[float] = []
    for query in queries:
        started = time.perf_counter()
        hits = retriever.search(query.text, kind="postmortem", k=TOP_K)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = [h.doc_id for h in hits]
        if rankings is not None:
            rankings[query.id] = ranked[:5]
        per_query.append((query, recall_at(ranked, query.relevant), reciprocal_rank(ranked, query.relevant)))

    def pooled(selected: list[tuple[LabelledQuery, float, float]]) -> SetScore:
        if not selected:
            return SetScore(queries=0, recall_at_5=0.0, mrr=0.0)
        return SetScore(
            queries=len(selected),
            recall_at_5=round(statistics.fmean(r for _, r, _ in selected), 4),
            mrr=round(statistics.fmean(m for _, _, m in selected), 4),
        )

    by_set = {name: pooled([p for p in per_query if p[0].set == name]) for name in QUERY_SETS}
    headline = pooled([p for p in per_query if p[0].set in HEADLINE_SETS])
    return ModeScore(
        recall_at_5=headline.recall_at_5,
        mrr=headline.mrr,
        by_set={k: v for k, v in by_set.items() if v.queries},
        all_queries=pooled(per_query),
        query_p50_ms=round(percentile(latencies, 50), 2),
        query_p95_ms=round(percentile(latencies, 95), 2),
    )


def percentile(values: Sequence[float], percent: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(percent / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# ---------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------


def evaluate(
    folder: Path,
    embedders: Mapping[str, Embedder],
    *,
    work_dir: Path,
    on_progress: ProgressFn | None = None,
    rankings: dict[str, dict[str, list[str]]] | None = None,
) -> tuple[EvalResults, list[LabelledQuery]]:
    """Ingest ``folder`` once per embedder (under ``work_dir``) and score every query set.

    Returns the results and the queries (so a caller can write them out next to the results).
    ``rankings`` collects, per embedder, the top 5 document ids of every query (hybrid).
    """
    say = on_progress or (lambda _: None)
    corpus = load_corpus(folder)
    known = {d.doc_id for d in corpus}
    queries = build_queries(corpus, load_handwritten(known))
    counts: dict[str, int] = {name: sum(1 for q in queries if q.set == name) for name in QUERY_SETS}
    say(
        f"corpus {folder}: {len(corpus)} documents; {len(queries)} queries ({', '.join(f'{k} {v}' for k, v in counts.items())})"
    )

    results: dict[str, EmbedderResult] = {}
    lexical: ModeScore | None = None
    for label, embedder in embedders.items():
        path = work_dir / f"chroma-{_safe(label)}"
        store = KnowledgeStore.open(
            ChromaSettings(path=path, collection="eval"), embedder, client=chromadb.PersistentClient(path=str(path))
        )
        store.clear()
        started = time.perf_counter()
        report = KnowledgeBase(store).ingest([folder], default_kind="postmortem")
        ingest_seconds = time.perf_counter() - started
        say(f"{label}: ingested {report.summary()} in {ingest_seconds:.1f}s")
        collected: dict[str, list[str]] = {}
        hybrid = score_mode(KnowledgeRetriever(store), queries, rankings=collected)
        vector_only = score_mode(KnowledgeRetriever(store, lexical_weight=0.0), queries)
        if rankings is not None:
            rankings[label] = collected
        if lexical is None:
            lexical = score_mode(KnowledgeRetriever(store, vector_weight=0.0), queries)
        say(
            f"{label}: hybrid recall@5 {hybrid.recall_at_5:.3f} MRR {hybrid.mrr:.3f}; "
            f"vector only recall@5 {vector_only.recall_at_5:.3f} MRR {vector_only.mrr:.3f}"
        )
        results[label] = EmbedderResult(
            embedder=embedder.name,
            recall_at_5=hybrid.recall_at_5,
            mrr=hybrid.mrr,
            hybrid=hybrid,
            vector_only=vector_only,
            ingest_seconds=round(ingest_seconds, 2),
            chunks=store.count(),
        )
    assert lexical is not None, "evaluate needs at least one embedder"
    return (
        EvalResults(
            corpus=str(folder),
            documents=len(corpus),
            queries=counts,
            headline_sets=list(HEADLINE_SETS),
            embedders=results,
            lexical_only=lexical,
        ),
        queries,
    )


def render_report(results: EvalResults) -> str:
    """A markdown table of the results, for report.md and the README."""
    lines = [
        f"Corpus: {results.corpus} ({results.documents} documents). Queries: "
        + ", ".join(f"{k} {v}" for k, v in results.queries.items())
        + f". Headline = {' + '.join(results.headline_sets)} pooled.",
        "",
        "| embedder | retrieval | recall@5 | MRR | " + " | ".join(f"{s} r@5" for s in QUERY_SETS) + " | query p50 ms |",
        "| --- | --- | ---: | ---: | " + " | ".join("---:" for _ in QUERY_SETS) + " | ---: |",
    ]

    def row(label: str, mode_name: str, mode: ModeScore) -> str:
        per_set = " | ".join(f"{mode.by_set[s].recall_at_5:.3f}" if s in mode.by_set else "-" for s in QUERY_SETS)
        return (
            f"| {label} | {mode_name} | {mode.recall_at_5:.3f} | {mode.mrr:.3f} | {per_set} | {mode.query_p50_ms:.1f} |"
        )

    for label, result in results.embedders.items():
        lines.append(row(label, "hybrid", result.hybrid))
        lines.append(row(label, "vector only", result.vector_only))
    lines.append(row("(none)", "BM25 only", results.lexical_only))
    return "\n".join(lines) + "\n"


def sample_for_review(queries: Sequence[LabelledQuery], per_set: int = 3, seed: int = 0) -> list[LabelledQuery]:
    """A few queries of each set, to show in a report what the generated queries look like."""
    rng = random.Random(seed)
    picked: list[LabelledQuery] = []
    for name in QUERY_SETS:
        members = [q for q in queries if q.set == name]
        picked.extend(rng.sample(members, min(per_set, len(members))))
    return picked


def _safe(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-") or "embedder"


def as_jsonable(
    queries: Sequence[LabelledQuery], rankings: Mapping[str, Mapping[str, list[str]]]
) -> list[dict[str, Any]]:
    """Queries with their labels and each embedder's top 5, one mapping per query (queries.jsonl)."""
    return [
        {**q.model_dump(), "top5": {label: ranked.get(q.id, []) for label, ranked in rankings.items()}} for q in queries
    ]
