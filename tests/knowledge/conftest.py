"""Fixtures for the knowledge tests: a temporary Chroma, the example knowledge, no network, no ONNX."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api.types import DefaultEmbeddingFunction
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from knowledge.embedders import HashingEmbedder
from knowledge.store import ChromaSettings, KnowledgeStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "knowledge"


@pytest.fixture(autouse=True)
def _forbid_chroma_default_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chroma's default embedder downloads an ONNX model on first use; any call to it fails the test."""

    def refuse(self: Any, input: Any) -> Any:
        raise AssertionError("Chroma's default (ONNX) embedding function was called")

    monkeypatch.setattr(DefaultEmbeddingFunction, "__call__", refuse)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "__call__", refuse)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test here may reach the network; loopback stays open for the 'server is down' test."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"network access attempted: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def knowledge_dir(tmp_path: Path) -> Path:
    """A private copy of examples/knowledge that a test may edit."""
    target = tmp_path / "knowledge"
    shutil.copytree(EXAMPLES, target)
    return target


def _open_store(
    path: Path, *, embedder: HashingEmbedder | None = None, collection: str = "kb-test"
) -> KnowledgeStore:
    settings = ChromaSettings(path=path, collection=collection)
    return KnowledgeStore.open(
        settings, embedder or HashingEmbedder(), client=chromadb.PersistentClient(path=str(path))
    )


@pytest.fixture
def open_store() -> Callable[..., KnowledgeStore]:
    """``open_store(path, embedder=None, collection="kb-test")``: a store on its own PersistentClient."""
    return _open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[KnowledgeStore]:
    yield _open_store(tmp_path / "chroma")
