"""One object for the rest of firstline: open the store, ingest, search, count.

::

    kb = open_knowledge(KnowledgeSettings())            # embedded Chroma, offline embedder
    report = kb.ingest(["examples/knowledge"], on_progress=print_progress)
    hits = kb.search('column "customer_id" does not exist', service="checkout", kind="runbook", k=3)
    kb.remember_incident(record)                             # an ended incident, written back
    recall = kb.recall("checkout", alert_title, now=now, alert_name="CheckoutHighErrorRate")

``open_knowledge`` also accepts any settings object with the same attribute names (``chroma``
with ``mode``/``path``/``host``/``port``/``collection``, and ``embedder``), so the application's own
configuration model can be passed as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from chromadb.api import ClientAPI
from pydantic import BaseModel

from knowledge.catalog import ServiceCatalog
from knowledge.embedders import Embedder, build_embedder
from knowledge.ingest import DEFAULT_MAX_CHUNK_CHARS, DocKind, IngestReport, ProgressCallback, ingest_paths
from knowledge.memory import IncidentMemory, Recall, RememberedIncident
from knowledge.retrieval import Hit, KnowledgeRetriever
from knowledge.settings import (
    KnowledgeSettings as KnowledgeSettings,  # re-exported for callers of open_knowledge
)
from knowledge.store import KnowledgeStats, KnowledgeStore

# The name this model had when it held only the store's fields; kept for code written against it.
KnowledgeBaseSettings = KnowledgeSettings


class KnowledgeBase:
    """The knowledge store with its retriever: what agents search and the CLI ingests into."""

    def __init__(self, store: KnowledgeStore, retriever: KnowledgeRetriever | None = None) -> None:
        self.store = store
        self.retriever = retriever or KnowledgeRetriever(store)
        # One retriever for search and memory, so both reuse the same lexical index.
        self.memory = IncidentMemory(store, self.retriever)

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
        """Hybrid search; see :meth:`knowledge.retrieval.KnowledgeRetriever.search`."""
        return self.retriever.search(
            query,
            service=service,
            kind=kind,
            since=since,
            until=until,
            k=k,
            max_chunks_per_doc=max_chunks_per_doc,
        )

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        root: str | Path | None = None,
        catalog: ServiceCatalog | None = None,
        on_progress: ProgressCallback | None = None,
        max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
        default_kind: DocKind | None = None,
    ) -> IngestReport:
        """Ingest files and folders; see :func:`knowledge.ingest.ingest_paths`."""
        return ingest_paths(
            self.store,
            paths,
            root=root,
            catalog=catalog,
            on_progress=on_progress,
            max_chunk_chars=max_chunk_chars,
            default_kind=default_kind,
        )

    def stats(self) -> KnowledgeStats:
        return self.store.stats()

    def remember_incident(self, record: Mapping[str, Any]) -> RememberedIncident:
        """Write an ended incident back; see :meth:`knowledge.memory.IncidentMemory.remember`."""
        return self.memory.remember(record)

    def recall(
        self,
        service: str,
        text: str,
        *,
        now: datetime,
        window_days: int = 30,
        k: int = 3,
        alert_name: str | None = None,
        category: str | None = None,
        entity: str | None = None,
        exclude_incident: str | None = None,
    ) -> Recall:
        """Similar past incidents and the recurrence statement; see :meth:`IncidentMemory.recall`."""
        return self.memory.recall(
            service,
            text,
            now=now,
            window_days=window_days,
            k=k,
            alert_name=alert_name,
            category=category,
            entity=entity,
            exclude_incident=exclude_incident,
        )


def open_knowledge(
    settings: KnowledgeSettings | BaseModel | Mapping[str, Any] | None = None,
    *,
    embedder: Embedder | None = None,
    client: ClientAPI | None = None,
    http_client: httpx.Client | None = None,
) -> KnowledgeBase:
    """Open the configured knowledge base.

    ``embedder`` overrides the one described by the settings; ``client`` reuses a Chroma client;
    ``http_client`` is passed to an OpenAI-compatible embedder. Raises
    :class:`~knowledge.store.KnowledgeStoreUnavailable` when the Chroma server is down,
    :class:`~knowledge.store.EmbedderMismatchError` when the collection was built with another
    embedder, and ``ValueError`` naming the setting when the settings are incomplete.
    """
    if isinstance(settings, KnowledgeSettings):
        resolved = settings
    elif isinstance(settings, BaseModel):
        # Another application's settings model: keep the fields this package knows.
        known = {k: v for k, v in settings.model_dump().items() if k in KnowledgeSettings.model_fields}
        resolved = KnowledgeSettings.model_validate(known)
    else:
        resolved = KnowledgeSettings.model_validate(dict(settings) if settings is not None else {})
    chosen = embedder or build_embedder(resolved.embedder, http_client=http_client)
    return KnowledgeBase(KnowledgeStore.open(resolved.chroma, chosen, client=client))
