"""The composition root's knowledge helpers: write-back never fails an incident."""

from __future__ import annotations

from pathlib import Path

import chromadb
from structlog.testing import capture_logs

from firstline.knowledge_wiring import remember_ended_incident
from knowledge.embedders import HashingEmbedder
from knowledge.service import KnowledgeBase
from knowledge.store import ChromaSettings, KnowledgeStore, KnowledgeStoreUnavailable
from tests.knowledge.conftest import make_record


def _kb(path: Path) -> KnowledgeBase:
    store = KnowledgeStore.open(
        ChromaSettings(path=path, collection="wiring"),
        HashingEmbedder(),
        client=chromadb.PersistentClient(path=str(path)),
    )
    return KnowledgeBase(store)


def test_an_ended_incident_is_remembered(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "chroma")

    result = remember_ended_incident(kb, make_record("inc-7"))

    assert result is not None and result.doc_id == "incidents/inc-7" and result.added > 0
    assert remember_ended_incident(None, make_record("inc-7")) is None


def test_a_failed_write_back_is_logged_not_raised(tmp_path: Path) -> None:
    kb = _kb(tmp_path / "chroma")

    def down(*args: object, **kwargs: object) -> None:
        raise KnowledgeStoreUnavailable("Chroma server http://127.0.0.1:9 is not reachable")

    kb.store.upsert = down  # type: ignore[method-assign]  # the server goes down mid-incident
    with capture_logs() as logs:
        assert remember_ended_incident(kb, make_record("inc-8")) is None
        assert remember_ended_incident(kb, {"id": "inc-9", "status": "resolved"}) is None

    assert [(e["event"], e["incident_id"]) for e in logs] == [
        ("incident_not_remembered", "inc-8"),
        ("incident_not_remembered", "inc-9"),
    ]
    assert "not reachable" in logs[0]["error"] and "'service' (or 'alert.service') is missing" in logs[1]["error"]


def test_an_openai_compatible_embedder_defaults_to_the_model_endpoint() -> None:
    from firstline.config import parse_config
    from firstline.knowledge_wiring import knowledge_settings

    config = parse_config(
        {
            "llm": {"base_url": "http://127.0.0.1:11434/v1", "api_key_env": None},
            "knowledge": {"embedder": {"kind": "openai-compatible", "model": "nomic-embed-text", "dimension": 768}},
        }
    )
    explicit = parse_config(
        {
            "knowledge": {
                "embedder": {"kind": "openai-compatible", "model": "m", "dimension": 8, "base_url": "http://embed:9/v1"}
            }
        }
    )

    inherited = knowledge_settings(config).embedder
    assert (inherited.kind, inherited.model, inherited.dimension) == ("openai-compatible", "nomic-embed-text", 768)
    assert (inherited.base_url, inherited.api_key_env) == ("http://127.0.0.1:11434/v1", None)
    assert knowledge_settings(explicit).embedder.base_url == "http://embed:9/v1"
    assert knowledge_settings(explicit).embedder.api_key_env == "OPENAI_API_KEY"  # the llm section's default
    assert knowledge_settings(parse_config({})).embedder.kind == "default"
