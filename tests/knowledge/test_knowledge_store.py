from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import chromadb
import pytest
from pydantic import ValidationError

from knowledge.embedders import ChromaEmbeddingFunction, HashingEmbedder
from knowledge.store import (
    ChromaSettings,
    EmbedderMismatchError,
    KnowledgeStore,
    KnowledgeStoreUnavailable,
)

OpenStore = Callable[..., KnowledgeStore]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_invalid_collection_name_names_the_setting() -> None:
    with pytest.raises(ValidationError, match="chroma.collection 'k'"):
        ChromaSettings(collection="k")


def test_collection_is_cosine_and_persists_the_firstline_embedder(store: KnowledgeStore) -> None:
    configuration = store.collection.configuration_json
    assert configuration["hnsw"]["space"] == "cosine"
    assert configuration["embedding_function"]["name"] == "firstline"
    assert configuration["embedding_function"]["config"]["embedder"] == store.embedder.config()


def test_upsert_drops_none_metadata_and_counts(store: KnowledgeStore) -> None:
    store.upsert(
        ["c1", "c2"],
        ["Checkout rollback steps", "payments-db connection limits"],
        [
            {"doc_id": "a", "kind": "runbook", "service": "checkout", "owner": None},
            {"doc_id": "b", "kind": "service_doc"},
        ],
    )
    assert store.count() == 2
    (chunk,) = store.get_chunks(["c1"])
    assert chunk.text == "Checkout rollback steps"
    assert "owner" not in chunk.metadata
    assert store.generation == 1


def test_upsert_refuses_nested_metadata_with_the_key_named(store: KnowledgeStore) -> None:
    with pytest.raises(TypeError, match="metadata 'extra' must be str, int, float or bool"):
        store.upsert(["c1"], ["text"], [{"extra": {"nested": 1}}])  # type: ignore[dict-item]


def test_delete_and_stats_by_kind_and_service(store: KnowledgeStore) -> None:
    store.upsert(
        ["r1", "r2", "p1", "s1"],
        ["rollback", "verify", "postmortem summary", "inventory overview"],
        [
            {"doc_id": "runbook", "kind": "runbook", "service": "checkout"},
            {"doc_id": "runbook", "kind": "runbook", "service": "checkout"},
            {"doc_id": "pm", "kind": "postmortem", "service": "checkout"},
            {"doc_id": "inv", "kind": "service_doc", "service": "inventory"},
        ],
    )
    stats = store.stats()
    assert stats.chunks == 4 and stats.documents == 3
    assert stats.documents_by_kind == {"postmortem": 1, "runbook": 1, "service_doc": 1}
    assert stats.documents_by_service == {"checkout": 2, "inventory": 1}
    assert stats.chunks_by_kind["runbook"] == 2
    store.delete(["r1", "does-not-exist"])
    assert store.count() == 3
    store.clear()
    assert store.count() == 0


def test_vector_query_filters_with_where(store: KnowledgeStore) -> None:
    store.upsert(
        ["a", "b"],
        ["roll back checkout deployment", "roll back inventory deployment"],
        [
            {"doc_id": "a", "kind": "runbook", "service": "checkout"},
            {"doc_id": "b", "kind": "runbook", "service": "inventory"},
        ],
    )
    embedding = store.embedder.embed_query("roll back")
    assert [m.id for m in store.query(embedding, n_results=5, where={"service": "inventory"})] == ["b"]
    assert {m.id for m in store.query(embedding, n_results=5)} == {"a", "b"}


def test_second_client_opens_the_collection_with_the_explicit_embedder(tmp_path: Path, open_store: OpenStore) -> None:
    path = tmp_path / "chroma"
    first = open_store(path)
    first.upsert(["a"], ["checkout rollback runbook"], [{"doc_id": "a", "kind": "runbook"}])

    second = open_store(path)
    assert second.count() == 1
    matches = second.query(second.embedder.embed_query("rollback"), n_results=1)
    assert [m.id for m in matches] == ["a"]


def test_registered_embedder_serves_a_client_that_passes_none(tmp_path: Path, open_store: OpenStore) -> None:
    # Verified Chroma 1.5 behaviour: get_collection without an embedding function rebuilds ours from the
    # persisted config through the registry, so query_texts works without the ONNX default (which the
    # autouse fixture would turn into a failure).
    path = tmp_path / "chroma"
    open_store(path).upsert(["a"], ["checkout rollback runbook"], [{"doc_id": "a", "kind": "runbook"}])

    raw = chromadb.PersistentClient(path=str(path)).get_collection("kb-test")
    assert raw.query(query_texts=["rollback"], n_results=1)["ids"] == [["a"]]


def test_opening_with_another_embedder_is_refused(tmp_path: Path, open_store: OpenStore) -> None:
    path = tmp_path / "chroma"
    open_store(path, embedder=HashingEmbedder(512))
    with pytest.raises(EmbedderMismatchError, match="hashing-w12-c35-512.*hashing-w12-c35-1024"):
        open_store(path, embedder=HashingEmbedder(1024))


def test_collection_of_another_embedding_function_is_refused(tmp_path: Path, open_store: OpenStore) -> None:
    class Other(ChromaEmbeddingFunction):
        @staticmethod
        def name() -> str:
            return "someone-else"

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    client.create_collection("kb-test", embedding_function=Other(HashingEmbedder(256)))  # type: ignore[arg-type]
    with pytest.raises(EmbedderMismatchError, match="persisted: someone-else.*use another chroma.collection"):
        open_store(tmp_path / "chroma")


def test_server_down_error_names_the_settings() -> None:
    settings = ChromaSettings(mode="server", host="127.0.0.1", port=_free_port(), collection="kb-test")
    with pytest.raises(KnowledgeStoreUnavailable) as caught:
        KnowledgeStore.open(settings)
    message = str(caught.value)
    assert f"http://127.0.0.1:{settings.port}" in message
    assert "chroma.host" in message and "chroma.port" in message and "chroma.mode=embedded" in message


def test_embedded_mode_creates_the_directory(tmp_path: Path) -> None:
    settings = ChromaSettings(path=tmp_path / "deep" / "chroma", collection="kb-test")
    store = KnowledgeStore.open(settings, HashingEmbedder(256))
    assert settings.path.is_dir()
    assert store.count() == 0


def test_no_onnx_model_is_downloaded(tmp_path: Path, open_store: OpenStore) -> None:
    cache = Path.home() / ".cache" / "chroma" / "onnx_models"
    existed = cache.exists()
    store = open_store(tmp_path / "chroma")
    store.upsert(["a"], ["text"], [{"doc_id": "a"}])
    store.query(store.embedder.embed_query("text"), n_results=1)
    assert cache.exists() == existed
