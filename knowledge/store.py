"""The knowledge store: one Chroma collection of chunks (runbooks, service docs, postmortems, alert docs).

Chroma runs embedded (``chromadb.PersistentClient`` on a local directory, the default) or as a
server (``chromadb.HttpClient``), chosen by :class:`ChromaSettings`. The collection uses cosine
distance and is always created and opened with an explicit embedding function
(:class:`~knowledge.embedders.ChromaEmbeddingFunction`), so Chroma's default ONNX model, which
downloads on first use, is never touched.

Each record is one chunk: ``id`` (a content hash), ``document`` (the chunk text, headed by its
title and heading path) and flat metadata (``doc_id``, ``kind``, ``service``, ``source_path``,
``source_file``, ``date_ts``, ...; see :mod:`knowledge.ingest`).

Errors::

    KnowledgeStoreError               base class
    ├── KnowledgeStoreUnavailable     the Chroma server cannot be reached (names chroma.host/port)
    └── EmbedderMismatchError         the collection was built with a different embedder
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import chromadb
import httpx
import numpy as np
import structlog
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from pydantic import BaseModel

from knowledge.embedders import ChromaEmbeddingFunction, Embedder, HashingEmbedder
from knowledge.settings import (
    ChromaSettings as ChromaSettings,  # re-exported: its home before knowledge.settings
)

log = structlog.get_logger(__name__)

MetadataValue = str | int | float | bool

# Page size for full scans (lexical index, stale-chunk diffing); well under Chroma's max batch size.
_PAGE = 1000
_REVISION_KEY = "firstline_revision"
# HNSW build parameters for new collections. Chroma's defaults (ef_construction 100, 16 neighbours)
# spent 26 CPU seconds inserting 10,000 hashed 2048-d chunks; 64/12 spent 20 with the same top-50
# neighbours for every test query (48/8 was faster but found only 76% of them). Existing collections
# keep the parameters they were created with.
_HNSW: dict[str, Any] = {"space": "cosine", "ef_construction": 64, "max_neighbors": 12}


class KnowledgeStoreError(RuntimeError):
    """Base class for knowledge store failures."""


class KnowledgeStoreUnavailable(KnowledgeStoreError):
    """The Chroma server could not be reached; the message names the settings to check."""


class EmbedderMismatchError(KnowledgeStoreError):
    """The collection holds vectors from another embedder; querying it with this one would be wrong."""


@dataclass(frozen=True)
class StoredChunk:
    """One record as read back from the collection."""

    id: str
    text: str
    metadata: Mapping[str, MetadataValue]


@dataclass(frozen=True)
class VectorMatch:
    id: str
    distance: float
    text: str
    metadata: Mapping[str, MetadataValue]


class KnowledgeStats(BaseModel):
    """What the store holds: chunk and document totals, documents per kind and per service."""

    chunks: int
    documents: int
    documents_by_kind: dict[str, int]
    documents_by_service: dict[str, int]
    chunks_by_kind: dict[str, int]
    chunks_by_service: dict[str, int]


def connect(settings: ChromaSettings) -> ClientAPI:
    """Create the Chroma client the settings describe; an unreachable server raises a clear error."""
    if settings.mode == "embedded":
        settings.path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(settings.path))
    try:
        return chromadb.HttpClient(host=settings.host, port=settings.port, ssl=settings.ssl)
    except (ValueError, httpx.TransportError) as exc:
        # chromadb raises a bare ValueError("Could not connect to a Chroma server...") from the constructor.
        raise KnowledgeStoreUnavailable(_unreachable_message(settings, exc)) from exc


def _unreachable_message(settings: ChromaSettings, exc: BaseException) -> str:
    return (
        f"{settings.describe()} is not reachable ({type(exc).__name__}: {exc}). Start it "
        f"(`chroma run --path ./chroma --host {settings.host} --port {settings.port}`), fix chroma.host / "
        "chroma.port, or set chroma.mode=embedded to use a local directory instead."
    )


class KnowledgeStore:
    """The Chroma collection of knowledge chunks, with the embedder that fills and queries it.

    Build one with :meth:`open`. Caches built from the collection (the lexical index in
    :mod:`knowledge.retrieval`) compare :meth:`revision` to know when to rebuild: every write through
    any ``KnowledgeStore``, in any process, stamps the collection with a new revision token.
    ``generation`` counts the writes made through this object.
    """

    def __init__(
        self,
        collection: Collection,
        embedder: Embedder,
        *,
        settings: ChromaSettings | None = None,
        client: ClientAPI | None = None,
    ) -> None:
        self.collection = collection
        self.embedder = embedder
        self.settings = settings or ChromaSettings()
        self._client = client
        self._function = ChromaEmbeddingFunction(embedder)
        self.generation = 0

    @classmethod
    def open(
        cls,
        settings: ChromaSettings | None = None,
        embedder: Embedder | None = None,
        *,
        client: ClientAPI | None = None,
    ) -> KnowledgeStore:
        """Open (creating if needed) the collection named in ``settings``.

        ``embedder`` defaults to the offline :class:`~knowledge.embedders.HashingEmbedder`. Pass
        ``client`` to reuse an existing Chroma client (tests pass a ``PersistentClient(tmp_path)``).
        Raises :class:`EmbedderMismatchError` when the collection was built with another embedder and
        :class:`KnowledgeStoreUnavailable` when the server cannot be reached.
        """
        settings = settings or ChromaSettings()
        embedder = embedder or HashingEmbedder()
        client = client or connect(settings)
        function = ChromaEmbeddingFunction(embedder)
        try:
            with _server_errors(settings):
                collection = client.get_or_create_collection(
                    settings.collection,
                    embedding_function=function,  # type: ignore[arg-type]  # chroma types the EF over Embeddable
                    configuration=cast(Any, {"hnsw": _HNSW}),
                )
        except ValueError as exc:
            if "Embedding function conflict" in str(exc):
                raise EmbedderMismatchError(
                    f"{settings.describe()} was created with another Chroma embedding function ({exc}); "
                    "use another chroma.collection"
                ) from exc
            raise KnowledgeStoreError(f"{settings.describe()} cannot be opened: {exc}") from exc
        _check_embedder(collection, embedder, settings)
        log.debug("knowledge_store_opened", store=settings.describe(), embedder=embedder.name)
        return cls(collection, embedder, settings=settings, client=client)

    # -- writes --------------------------------------------------------------------------------------

    def upsert(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        metadatas: Sequence[Mapping[str, MetadataValue]],
        *,
        embeddings: Sequence[Sequence[float]] | None = None,
    ) -> None:
        """Insert or replace chunks; the store's embedder computes the vectors unless ``embeddings`` are given
        (they must come from the same embedder)."""
        if not (len(ids) == len(texts) == len(metadatas)):
            raise ValueError(
                f"upsert needs as many ids ({len(ids)}), texts ({len(texts)}) and metadatas ({len(metadatas)})"
            )
        if embeddings is not None and len(embeddings) != len(ids):
            raise ValueError(f"upsert got {len(embeddings)} embeddings for {len(ids)} ids")
        for start in range(0, len(ids), _PAGE):
            end = start + _PAGE
            batch_texts = list(texts[start:end])
            batch_embeddings = (
                self.embedder.embed_documents(batch_texts) if embeddings is None else embeddings[start:end]
            )
            with _server_errors(self.settings):
                self.collection.upsert(
                    ids=list(ids[start:end]),
                    documents=batch_texts,
                    embeddings=cast(Any, batch_embeddings),
                    metadatas=[_clean_metadata(m) for m in metadatas[start:end]],
                )
        if ids:
            self._mark_changed()

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id; unknown ids are ignored."""
        for start in range(0, len(ids), _PAGE):
            with _server_errors(self.settings):
                self.collection.delete(ids=list(ids[start : start + _PAGE]))
        if ids:
            self._mark_changed()

    def _mark_changed(self) -> None:
        self.generation += 1
        # A fresh token in the collection's metadata tells other processes that their caches are stale.
        with _server_errors(self.settings):
            self.collection.modify(metadata={_REVISION_KEY: uuid.uuid4().hex})

    def revision(self) -> str:
        """A token that changes whenever the collection's content changes (from any process)."""
        token: Any = None
        if self._client is not None:
            with _server_errors(self.settings):
                current = self._client.get_collection(
                    self.settings.collection,
                    embedding_function=self._function,  # type: ignore[arg-type]  # see open()
                )
            token = (current.metadata or {}).get(_REVISION_KEY)
        if token is not None:
            # Every write through a KnowledgeStore sets a fresh token; counting too would cost a call.
            return str(token)
        return f"{token}/{self.count()}"

    def clear(self) -> None:
        """Delete every chunk in the collection (the collection and its configuration stay)."""
        ids = [chunk_id for chunk_id, _ in self.iter_metadata()]
        self.delete(ids)

    # -- reads ---------------------------------------------------------------------------------------

    def count(self) -> int:
        with _server_errors(self.settings):
            return int(self.collection.count())

    def iter_metadata(
        self, where: Mapping[str, Any] | None = None
    ) -> Iterator[tuple[str, Mapping[str, MetadataValue]]]:
        """Every (chunk id, metadata) pair, optionally filtered with a Chroma ``where`` clause."""
        for chunk in self._scan(include_documents=False, where=where):
            yield chunk.id, chunk.metadata

    def all_chunks(self) -> list[StoredChunk]:
        """Every chunk with its text and metadata (used to build the lexical index)."""
        return list(self._scan(include_documents=True))

    def get_chunks(self, ids: Sequence[str]) -> list[StoredChunk]:
        if not ids:
            return []
        with _server_errors(self.settings):
            result = self.collection.get(ids=list(ids), include=["documents", "metadatas"])
        return _stored_chunks(result)

    def get_embedding_matrix(self, ids: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """The stored vectors of ``ids`` as one matrix (rows in the order of the returned ids)."""
        if not ids:
            return [], np.zeros((0, 0), dtype=np.float32)
        with _server_errors(self.settings):
            result = self.collection.get(ids=list(ids), include=["embeddings"])
        embeddings = result.get("embeddings")
        if embeddings is None or len(result["ids"]) == 0:
            return [], np.zeros((0, 0), dtype=np.float32)
        return list(result["ids"]), np.asarray(embeddings, dtype=np.float32)

    def get_embeddings(self, ids: Sequence[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        with _server_errors(self.settings):
            result = self.collection.get(ids=list(ids), include=["embeddings"])
        embeddings = result.get("embeddings")
        if embeddings is None:
            return {}
        return {
            chunk_id: [float(x) for x in vector] for chunk_id, vector in zip(result["ids"], embeddings, strict=True)
        }

    def query(
        self,
        embedding: Sequence[float],
        *,
        n_results: int,
        where: Mapping[str, Any] | None = None,
        ids: Sequence[str] | None = None,
        include_payload: bool = True,
    ) -> list[VectorMatch]:
        """Nearest chunks to ``embedding`` by cosine distance (0 = same direction, 2 = opposite).

        With ``include_payload=False`` the matches carry ids and distances only (empty text and
        metadata): reading documents and metadata back is most of a query's cost (15 of 17 ms on
        500 chunks), and the retriever already holds both in its lexical index. ``ids`` restricts
        the search to those chunks.
        """
        if n_results < 1:
            return []
        include: list[Any] = ["documents", "metadatas", "distances"] if include_payload else ["distances"]
        with _server_errors(self.settings):
            result = self.collection.query(
                query_embeddings=cast(Any, [list(embedding)]),
                n_results=n_results,
                where=cast(Any, dict(where)) if where else None,
                ids=list(ids) if ids is not None else None,
                include=include,
            )
        found = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        # Documents and metadatas are absent when not included: pad with None.
        raw_documents: Any = result.get("documents")
        raw_metadatas: Any = result.get("metadatas")
        documents: Sequence[str | None] = raw_documents[0] if raw_documents else [None] * len(found)
        metadatas: Sequence[Any] = raw_metadatas[0] if raw_metadatas else [None] * len(found)
        return [
            VectorMatch(id=i, distance=float(d), text=t or "", metadata=cast(Mapping[str, MetadataValue], m or {}))
            for i, d, t, m in zip(found, distances, documents, metadatas, strict=True)
        ]

    def stats(self) -> KnowledgeStats:
        """Totals per kind and per service, counted over documents and over chunks."""
        chunks_by_kind: Counter[str] = Counter()
        chunks_by_service: Counter[str] = Counter()
        doc_kind: dict[str, str] = {}
        doc_service: dict[str, str] = {}
        total = 0
        for _, metadata in self.iter_metadata():
            total += 1
            kind = str(metadata.get("kind", "unknown"))
            service = str(metadata.get("service", "(none)"))
            chunks_by_kind[kind] += 1
            chunks_by_service[service] += 1
            doc_id = str(metadata.get("doc_id", ""))
            doc_kind[doc_id] = kind
            doc_service[doc_id] = service
        return KnowledgeStats(
            chunks=total,
            documents=len(doc_kind),
            documents_by_kind=dict(sorted(Counter(doc_kind.values()).items())),
            documents_by_service=dict(sorted(Counter(doc_service.values()).items())),
            chunks_by_kind=dict(sorted(chunks_by_kind.items())),
            chunks_by_service=dict(sorted(chunks_by_service.items())),
        )

    def _scan(self, *, include_documents: bool, where: Mapping[str, Any] | None = None) -> Iterator[StoredChunk]:
        include: list[Any] = ["metadatas", "documents"] if include_documents else ["metadatas"]
        offset = 0
        while True:
            with _server_errors(self.settings):
                result = self.collection.get(
                    where=cast(Any, dict(where)) if where else None,
                    limit=_PAGE,
                    offset=offset,
                    include=include,
                )
            page = _stored_chunks(result)
            yield from page
            if len(page) < _PAGE:
                return
            offset += _PAGE


def _stored_chunks(result: Any) -> list[StoredChunk]:
    ids: list[str] = list(result["ids"])
    documents = result.get("documents") or [None] * len(ids)
    metadatas = result.get("metadatas") or [None] * len(ids)
    return [
        StoredChunk(id=i, text=t or "", metadata=cast(Mapping[str, MetadataValue], m or {}))
        for i, t, m in zip(ids, documents, metadatas, strict=True)
    ]


def _clean_metadata(metadata: Mapping[str, Any]) -> dict[str, MetadataValue]:
    """Chroma rejects None and nested values: drop None, keep scalars, refuse anything else loudly."""
    cleaned: dict[str, MetadataValue] = {}
    for key, value in metadata.items():
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise TypeError(f"metadata {key!r} must be str, int, float or bool, got {type(value).__name__}")
        cleaned[key] = value
    return cleaned


def _check_embedder(collection: Collection, embedder: Embedder, settings: ChromaSettings) -> None:
    persisted = (collection.configuration_json or {}).get("embedding_function") or {}
    if persisted.get("name") not in (None, ChromaEmbeddingFunction.name()):
        raise EmbedderMismatchError(
            f"{settings.describe()} was created with Chroma embedding function {persisted.get('name')!r}, "
            "not firstline's; use another chroma.collection"
        )
    # Compare names, not whole configs: the name covers what changes the vectors (model, dimension,
    # hashing parameters) while e.g. a new base_url for the same model is harmless.
    stored_name = (persisted.get("config") or {}).get("embedder_name")
    if stored_name is not None and stored_name != embedder.name:
        raise EmbedderMismatchError(
            f"{settings.describe()} was built with embedder {stored_name!r}, but the configured embedder is "
            f"{embedder.name!r}. Vectors from different embedders cannot be compared: set the embedder "
            "back, or use a new chroma.collection and ingest again."
        )


@contextmanager
def _server_errors(settings: ChromaSettings) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise KnowledgeStoreUnavailable(_unreachable_message(settings, exc)) from exc
