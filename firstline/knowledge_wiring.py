"""Knowledge store wiring: open the configured store, ingest paths with progress."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import structlog

from firstline.config import KnowledgeSettings
from knowledge.catalog import ServiceCatalog
from knowledge.ingest import IngestReport
from knowledge.service import KnowledgeBase, open_knowledge
from knowledge.store import KnowledgeStoreError

log = structlog.get_logger("firstline.knowledge")


def open_store(settings: KnowledgeSettings) -> KnowledgeBase:
    return open_knowledge(settings)


def open_store_or_none(settings: KnowledgeSettings) -> KnowledgeBase | None:
    """The store, or None (with a warning naming the setting) when it cannot be opened.

    An incident must not stop because the knowledge store is down: investigation records the
    missing knowledge as a failed check and goes on.
    """
    try:
        return open_knowledge(settings)
    except (KnowledgeStoreError, ValueError) as exc:
        log.warning("knowledge_unavailable", error=str(exc))
        return None


def ingest(
    settings: KnowledgeSettings,
    paths: Sequence[Path],
    progress: Callable[[int, int, str], None] | None = None,
) -> IngestReport:
    catalog = ServiceCatalog.load(settings.catalog) if settings.catalog.exists() else None
    return open_store(settings).ingest(list(paths), catalog=catalog, on_progress=progress)
