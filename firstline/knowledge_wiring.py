"""Knowledge store wiring: open the configured store, ingest paths with progress, write incidents back."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog

from firstline.config import FirstlineConfig
from knowledge.catalog import ServiceCatalog
from knowledge.embedders import EmbeddingError
from knowledge.ingest import IngestReport
from knowledge.memory import RememberedIncident
from knowledge.records import IncidentRecordError
from knowledge.service import KnowledgeBase, KnowledgeSettings, open_knowledge
from knowledge.store import KnowledgeStoreError

log = structlog.get_logger("firstline.knowledge")


def knowledge_settings(config: FirstlineConfig) -> KnowledgeSettings:
    """``config.knowledge`` with an ``openai-compatible`` embedder's missing ``base_url`` and
    ``api_key_env`` taken from ``config.llm``: one endpoint serves the model and the embeddings."""
    settings = config.knowledge
    embedder = settings.embedder
    if embedder.kind != "openai-compatible":
        return settings
    given = embedder.model_fields_set
    inherited = {
        name: value
        for name, value in (("base_url", config.llm.base_url), ("api_key_env", config.llm.api_key_env))
        if name not in given
    }
    return settings.model_copy(update={"embedder": embedder.model_copy(update=inherited)})


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


def remember_ended_incident(kb: KnowledgeBase | None, record: Mapping[str, Any]) -> RememberedIncident | None:
    """Write an ended incident (its record, as a dict) back to memory; None when it could not be.

    Memory must never fail an incident: a store that is down, an embedder error or a record memory
    cannot read is logged with the incident id and the reason, and the caller goes on.
    """
    if kb is None:
        return None
    try:
        return kb.remember_incident(record)
    except (KnowledgeStoreError, EmbeddingError, IncidentRecordError) as exc:
        log.warning("incident_not_remembered", incident_id=record.get("id"), error=str(exc))
        return None
