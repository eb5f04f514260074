"""Hybrid retrieval over the knowledge store: vector similarity fused with BM25.

Vector search finds chunks that say the same thing in other words; BM25 finds the chunks that
contain the exact strings an incident produces (``column "user_id" does not exist``,
``CheckoutHighErrorRate``, ``payments-db``). The two rankings are fused with weighted reciprocal
rank fusion (RRF), which needs no score calibration between the two. Results are one chunk per
document by default, each with a ``source_id`` that evidence can cite::

    retriever = KnowledgeRetriever(store)
    hits = retriever.search('column "customer_id" does not exist', service="checkout", k=3)
    hits[0].source_id   # 'knowledge:postmortems/2026-03-orders-column-rename.md#summary'

The BM25 index is built from the collection's documents on first use and cached; it is rebuilt when
the collection's revision changes (``KnowledgeStore.revision``: any write, from any process).
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import bm25s
import numpy as np
import Stemmer
import structlog
from pydantic import BaseModel, Field
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from knowledge.ingest import DOC_KINDS
from knowledge.store import KnowledgeStore, MetadataValue

log = structlog.get_logger(__name__)


class Hit(BaseModel):
    """One retrieved chunk, ready to quote and cite."""

    doc_id: str
    chunk_id: str
    source_id: str = Field(description="Citable reference, e.g. knowledge:runbooks/checkout-5xx.md#rollback")
    title: str
    kind: str
    service: str | None = None
    heading: str = Field(description="Heading path of the chunk's section, e.g. 'Runbook > Rollback'")
    text: str
    score: float = Field(description="Fused score in [0, 1]; 1 means first in both rankings.")
    vector_score: float = Field(description="Cosine similarity of query and chunk, in [-1, 1].")
    lexical_score: float = Field(description="BM25 score of the chunk for the query (0 when no term matches).")
    date: str | None = None
    source_path: str = ""
    tags: list[str] = Field(default_factory=list)


# ---------------------------------------------------------------------------------------------------
# Lexical side
# ---------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9_]+(?:[.\-][a-z0-9_]+)*")
_SEPARATORS = re.compile(r"[._\-]")
_STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)


class LexicalTokenizer:
    """Lower-case word tokens, stemmed (Snowball English), stop words dropped.

    Compound tokens are kept whole and also split, so ``payments-db`` matches a query for
    ``payments-db`` exactly and one for ``payments`` partly; ``customer_id`` likewise.
    """

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        tokens: list[str] = []
        for token in _TOKEN.findall(text.lower()):
            if "_" in token or "-" in token or "." in token:
                tokens.append(token)
                tokens.extend(p for p in _SEPARATORS.split(token) if p and p not in _STOP_WORDS)
            elif token not in _STOP_WORDS:
                tokens.append(token)
        return [str(t) for t in self._stemmer.stemWords(tokens)]


@dataclass
class _LexicalIndex:
    key: tuple[int, str]
    ids: list[str]
    texts: list[str]
    metadatas: list[Mapping[str, MetadataValue]]
    bm25: bm25s.BM25 | None
    position: dict[str, int]
    # Filter columns, so a filter is a few vectorised comparisons instead of a loop over metadata.
    services: np.ndarray
    kinds: np.ndarray
    date_ts: np.ndarray

    def allowed(
        self, services: Sequence[str], kinds: Sequence[str], since_ts: int | None, until_ts: int | None
    ) -> np.ndarray:
        """Boolean mask of the chunks that pass the filters (the same semantics as :func:`build_where`)."""
        mask = np.ones(len(self.ids), dtype=bool)
        if services:
            mask &= np.isin(self.services, list(services))
        if kinds:
            mask &= np.isin(self.kinds, list(kinds))
        if since_ts is not None or until_ts is not None:
            dated = ~np.isnan(self.date_ts)
            mask &= dated
            if since_ts is not None:
                mask &= np.where(dated, self.date_ts >= since_ts, False)
            if until_ts is not None:
                mask &= np.where(dated, self.date_ts <= until_ts, False)
        return mask

    def scores(self, tokens: list[str]) -> np.ndarray:
        if self.bm25 is None:
            return np.zeros(len(self.ids), dtype=np.float32)
        known = [t for t in tokens if t in self.bm25.vocab_dict]
        if not known:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


# ---------------------------------------------------------------------------------------------------
# Retriever
# ---------------------------------------------------------------------------------------------------


class _VectorCache:
    """Stored vectors by chunk id (unit length), least recently used dropped past ``max_bytes``.

    Chunk ids are content hashes, so a cached vector never goes stale: a changed chunk has a new id.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0

    def fetch(self, store: KnowledgeStore, ids: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        missing = []
        for chunk_id in ids:
            vector = self._vectors.get(chunk_id)
            if vector is None:
                missing.append(chunk_id)
            else:
                self._vectors.move_to_end(chunk_id)
                found[chunk_id] = vector
        for start in range(0, len(missing), _FETCH_PAGE):
            fetched_ids, matrix = store.get_embedding_matrix(missing[start : start + _FETCH_PAGE])
            norms = np.linalg.norm(matrix, axis=1, keepdims=True) if len(fetched_ids) else matrix
            # Kept unit-length (float32), so a similarity is one matrix-vector product.
            units = np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0) if len(fetched_ids) else matrix
            for chunk_id, vector in zip(fetched_ids, units, strict=True):
                found[chunk_id] = vector
                self._vectors[chunk_id] = vector
                self._bytes += vector.nbytes
        while self._bytes > self.max_bytes and self._vectors:
            _, dropped = self._vectors.popitem(last=False)
            self._bytes -= dropped.nbytes
        return found


_FETCH_PAGE = 500


class KnowledgeRetriever:
    """Search the knowledge store; keep one per store so the lexical index is reused.

    ``vector_weight`` and ``lexical_weight`` weight the two rankings in the fusion; ``rrf_k`` is the
    usual RRF damping constant (higher flattens the difference between ranks); ``candidates`` is
    how many chunks each retriever contributes before fusion.

    Filtered vector search: Chroma's filtered HNSW search costs 35-70 ms on 10,000 chunks whatever
    the filter, so the retriever filters itself. When at most ``exact_search_limit`` chunks pass the
    filters (a service, a service and a kind), it compares the query with their stored vectors
    exactly (fetched once, then cached up to ``vector_cache_bytes``); for broader filters it asks
    Chroma for the nearest among exactly the ids that pass.
    """

    def __init__(
        self,
        store: KnowledgeStore,
        *,
        vector_weight: float = 1.0,
        lexical_weight: float = 1.0,
        rrf_k: int = 60,
        candidates: int = 50,
        exact_search_limit: int = 1000,
        vector_cache_bytes: int = 128 * 1024 * 1024,
    ) -> None:
        if vector_weight < 0 or lexical_weight < 0 or vector_weight + lexical_weight == 0:
            raise ValueError("vector_weight and lexical_weight must be >= 0 and not both 0")
        self.store = store
        self.vector_weight = vector_weight
        self.lexical_weight = lexical_weight
        self.rrf_k = rrf_k
        self.candidates = candidates
        self.exact_search_limit = exact_search_limit
        self._tokenize = LexicalTokenizer()
        self._lexical: _LexicalIndex | None = None
        self._vectors = _VectorCache(vector_cache_bytes)

    def search(
        self,
        query: str,
        *,
        service: str | Sequence[str] | None = None,
        kind: str | Sequence[str] | None = None,
        since: datetime | date | None = None,
        until: datetime | date | None = None,
        k: int = 5,
        max_chunks_per_doc: int = 1,
    ) -> list[Hit]:
        """The ``k`` most relevant chunks for ``query``, best first.

        Filters: ``service`` and ``kind`` take one value or several; ``since`` / ``until`` keep only
        dated documents (postmortems) in that range, both ends inclusive (a ``date`` as ``until``
        covers that whole day, naive datetimes are UTC). At most ``max_chunks_per_doc`` chunks of
        one document are returned (default 1: the best section of each document). No match returns
        an empty list; an empty query or an unknown kind raises ``ValueError``.
        """
        if not query.strip():
            raise ValueError("search query is empty")
        if k < 1:
            raise ValueError(f"k must be at least 1, got {k}")
        services = _as_list(service)
        kinds = _as_list(kind)
        unknown = [x for x in kinds if x not in DOC_KINDS]
        if unknown:
            raise ValueError(f"unknown kind {', '.join(unknown)}; expected one of {', '.join(DOC_KINDS)}")
        since_ts = _timestamp(since, end_of_day=False)
        until_ts = _timestamp(until, end_of_day=True)
        filtered = bool(services or kinds or since_ts is not None or until_ts is not None)

        index = self._lexical_index()
        if not index.ids:
            return []
        query_vector = np.asarray(self.store.embedder.embed_query(query), dtype=np.float64)
        pool = self.candidates + k * max_chunks_per_doc
        allowed = index.allowed(services, kinds, since_ts, until_ts)

        vector_sim = self._vector_candidates(index, query_vector, allowed, filtered=filtered, n=pool)
        vector_rank = list(vector_sim)

        lexical = index.scores(self._tokenize(query))
        lexical_masked = np.where(allowed, lexical, 0.0)
        order = np.argsort(-lexical_masked, kind="stable")[:pool]
        lexical_rank = [index.ids[i] for i in order if lexical_masked[i] > 0]

        fused: dict[str, float] = {}
        for weight, ranking in ((self.vector_weight, vector_rank), (self.lexical_weight, lexical_rank)):
            if weight == 0:
                continue
            for rank, chunk_id in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (self.rrf_k + rank)
        best_possible = (self.vector_weight + self.lexical_weight) / (self.rrf_k + 1)

        position = index.position
        # A chunk outside the vector pool is no more similar than the pool's last member; use that
        # bound to break ties, and fetch real similarities only for the hits returned (below).
        vector_floor = min(vector_sim.values()) if vector_sim else 0.0

        # RRF ties often (same ranks, mirrored); break them by the raw evidence of both retrievers.
        top_lexical = float(lexical_masked.max()) or 1.0

        def raw_evidence(chunk_id: str) -> float:
            i = position.get(chunk_id)
            return vector_sim.get(chunk_id, vector_floor) + (float(lexical[i]) / top_lexical if i is not None else 0.0)

        ranked = sorted(fused.items(), key=lambda item: (-round(item[1], 12), -raw_evidence(item[0]), item[0]))
        chosen: list[tuple[str, float]] = []
        per_doc: dict[str, int] = {}
        for chunk_id, fused_score in ranked:
            if chunk_id not in position:
                continue  # written by another process between the revision check and the query
            doc_id = str(index.metadatas[position[chunk_id]].get("doc_id", chunk_id))
            if per_doc.get(doc_id, 0) >= max_chunks_per_doc:
                continue
            per_doc[doc_id] = per_doc.get(doc_id, 0) + 1
            chosen.append((chunk_id, fused_score))
            if len(chosen) == k:
                break
        missing = [chunk_id for chunk_id, _ in chosen if chunk_id not in vector_sim]
        found_ids, vectors = self.store.get_embedding_matrix(missing)
        for chunk_id, vector in zip(found_ids, vectors, strict=True):
            vector_sim[chunk_id] = _cosine(query_vector, vector.astype(np.float64))
        hits = [
            _hit(
                chunk_id,
                index.texts[position[chunk_id]],
                index.metadatas[position[chunk_id]],
                score=fused_score / best_possible,
                vector_score=vector_sim.get(chunk_id, 0.0),
                lexical_score=float(lexical[position[chunk_id]]),
            )
            for chunk_id, fused_score in chosen
        ]
        log.debug(
            "knowledge_search",
            query_chars=len(query),
            services=services,
            kinds=kinds,
            since_ts=since_ts,
            until_ts=until_ts,
            vector_candidates=len(vector_rank),
            lexical_candidates=len(lexical_rank),
            hits=len(hits),
        )
        return hits

    def _vector_candidates(
        self, index: _LexicalIndex, query_vector: np.ndarray, allowed: np.ndarray, *, filtered: bool, n: int
    ) -> dict[str, float]:
        """The ``n`` chunks nearest to the query among those allowed, with their cosine similarity, best first."""
        if not filtered:
            matches = self.store.query(query_vector.tolist(), n_results=min(n, len(index.ids)), include_payload=False)
            return {m.id: 1.0 - m.distance for m in matches}
        allowed_ids = [index.ids[i] for i in np.flatnonzero(allowed)]
        if not allowed_ids:
            return {}
        if len(allowed_ids) > self.exact_search_limit:
            matches = self.store.query(
                query_vector.tolist(), n_results=min(n, len(allowed_ids)), ids=allowed_ids, include_payload=False
            )
            return {m.id: 1.0 - m.distance for m in matches}
        vectors = self._vectors.fetch(self.store, allowed_ids)
        ids = [chunk_id for chunk_id in allowed_ids if chunk_id in vectors]
        if not ids:
            return {}
        unit_query = (query_vector / (np.linalg.norm(query_vector) or 1.0)).astype(np.float32)
        similarity = np.vstack([vectors[chunk_id] for chunk_id in ids]) @ unit_query
        best = np.argsort(-similarity, kind="stable")[:n]
        return {ids[i]: float(similarity[i]) for i in best}

    def _lexical_index(self) -> _LexicalIndex:
        key = (self.store.generation, self.store.revision())
        if self._lexical is not None and self._lexical.key == key:
            return self._lexical
        chunks = self.store.all_chunks()
        # The title counts once more than the body (a poor man's BM25F): a document whose title is
        # the alert name or the error beats one that merely mentions it.
        corpus = [self._tokenize(f"{c.metadata.get('title', '')}\n{c.text}") for c in chunks]
        bm25: bm25s.BM25 | None = None
        if any(corpus):
            bm25 = bm25s.BM25()
            # bm25s cannot index an empty token list; a chunk with no words gets a placeholder.
            bm25.index([tokens or [""] for tokens in corpus], show_progress=False)
        self._lexical = _LexicalIndex(
            key=key,
            ids=[c.id for c in chunks],
            texts=[c.text for c in chunks],
            metadatas=[c.metadata for c in chunks],
            bm25=bm25,
            position={c.id: i for i, c in enumerate(chunks)},
            services=np.array([str(c.metadata.get("service", "")) for c in chunks], dtype=object),
            kinds=np.array([str(c.metadata.get("kind", "")) for c in chunks], dtype=object),
            date_ts=np.array([_as_timestamp(c.metadata.get("date_ts")) for c in chunks], dtype=np.float64),
        )
        log.debug("knowledge_lexical_index_built", chunks=len(chunks), generation=key[0])
        return self._lexical


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def build_where(
    *,
    services: Sequence[str] = (),
    kinds: Sequence[str] = (),
    since_ts: int | None = None,
    until_ts: int | None = None,
) -> dict[str, Any] | None:
    """The Chroma ``where`` clause for the filters, or ``None`` when there are none."""
    clauses: list[dict[str, Any]] = []
    for key, values in (("service", services), ("kind", kinds)):
        if len(values) == 1:
            clauses.append({key: {"$eq": values[0]}})
        elif values:
            clauses.append({key: {"$in": list(values)}})
    if since_ts is not None:
        clauses.append({"date_ts": {"$gte": since_ts}})
    if until_ts is not None:
        clauses.append({"date_ts": {"$lte": until_ts}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _as_timestamp(value: MetadataValue | None) -> float:
    """A metadata timestamp as a float; NaN when the chunk has none (undated chunks fail date filters)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _timestamp(moment: datetime | date | None, *, end_of_day: bool) -> int | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime):
        start = datetime.combine(moment, time.min, tzinfo=UTC)
        moment = start + timedelta(days=1, microseconds=-1) if end_of_day else start
    elif moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return math.floor(moment.timestamp()) if not end_of_day else math.ceil(moment.timestamp())


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denominator if denominator else 0.0


def _hit(
    chunk_id: str,
    text: str,
    metadata: Mapping[str, MetadataValue],
    *,
    score: float,
    vector_score: float,
    lexical_score: float,
) -> Hit:
    service = metadata.get("service")
    date_value = metadata.get("date")
    tags = str(metadata.get("tags", ""))
    return Hit(
        doc_id=str(metadata.get("doc_id", "")),
        chunk_id=chunk_id,
        source_id=str(metadata.get("source_id", f"knowledge:{chunk_id}")),
        title=str(metadata.get("title", "")),
        kind=str(metadata.get("kind", "")),
        service=str(service) if service is not None else None,
        heading=str(metadata.get("heading", "")),
        text=text,
        score=round(score, 6),
        vector_score=round(vector_score, 6),
        lexical_score=round(lexical_score, 6),
        date=str(date_value) if date_value is not None else None,
        source_path=str(metadata.get("source_path", "")),
        tags=[t for t in tags.split(",") if t],
    )
