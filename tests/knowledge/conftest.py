"""Fixtures for the knowledge tests: a temporary Chroma, the example knowledge, no network, no ONNX."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
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


def _open_store(path: Path, *, embedder: HashingEmbedder | None = None, collection: str = "kb-test") -> KnowledgeStore:
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


# -- incident records (the agents' JSON contract), for the memory and CLI tests ---------------------

NOW = datetime(2026, 11, 22, 3, 46, 35, tzinfo=UTC)


def make_record(
    incident_id: str = "inc-1",
    *,
    started: datetime = NOW,
    service: str = "checkout",
    alert: str = "CheckoutHighErrorRate",
    category: str = "migration",
    entity: str = "checkout",
    status: str = "resolved",
    follow_ups: list[Any] | None = None,
) -> dict[str, Any]:
    """A record shaped like ``IncidentState.record()`` (trimmed to what memory reads)."""
    at = started.isoformat().replace("+00:00", "Z")

    def later(minutes: float) -> str:
        return (started + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    record: dict[str, Any] = {
        "id": incident_id,
        "status": status,
        "severity": "SEV1",
        "service": service,
        "summary": f"SEV1: {service} 5xx ratio above 5% on {service} (customer-facing, tier 1).",
        "diagnosis": {
            "root_cause": "migration 0042 renamed orders.customer_id to buyer_id while the code still read customer_id",
            "category": category,
            "entity": entity,
            "confidence": 0.9,
            "inconclusive": False,
            "reasoner": "deterministic",
            "evidence": [
                {
                    "id": "r1-e1",
                    "source": "loki.query_range",
                    "query": '{app="checkout"} |= "ERROR"',
                    "observation": 'log pattern x38 since the onset, e.g. ERROR column "customer_id" does not exist',
                },
                {
                    "id": "r1-e2",
                    "source": "knowledge:runbooks/checkout-5xx.md#rollback",
                    "query": "knowledge.search(...)",
                    "observation": "runbook 'Runbook: checkout 5xx errors'",
                },
            ],
            "ruled_out": [{"what": "deploy of inventory", "why": "no identifier in common with the error lines"}],
            "candidates": [],
        },
        "actions": [
            {
                "id": "comms-opened-chat",
                "tool": "slack.post_message",
                "title": "Chat update",
                "kind": "communication",
                "status": "executed",
                "approval": {"decision": "approved", "by": "policy:auto", "at": later(0.2), "comment": ""},
            },
            {
                "id": "restart-1",
                "tool": "kubernetes.rollout_restart",
                "title": "Restart deployment/checkout",
                "kind": "remediation",
                "status": "rejected",
                "approval": {"decision": "rejected", "by": "bob", "at": later(1), "comment": "not a pod problem"},
            },
            {
                "id": "rollback-1",
                "tool": "kubernetes.rollout_undo",
                "title": "Roll back deployment/checkout in shop from revision 7 to 6",
                "kind": "remediation",
                "status": "verified",
                "approval": {"decision": "approved", "by": "alice", "at": later(2), "comment": "go"},
            },
        ],
        "verification": {"ok": True, "detail": "error ratio 0.0020 vs baseline 0.0020", "at": later(12)},
        "communications": [],
        "timeline": [
            {"at": at, "actor": "triage", "kind": "triaged", "text": "SEV1"},
            {
                "at": later(3),
                "actor": "execution",
                "kind": "executed",
                "text": "ran Roll back deployment/checkout in shop from revision 7 to 6",
            },
            {"at": later(12), "actor": "verification", "kind": "verified", "text": "back to baseline"},
        ],
        "alert": {
            "name": alert,
            "title": f"{service} 5xx ratio above 5%",
            "service": service,
            "started_at": at,
            "links": ["https://runbooks.example.test/checkout-5xx"],
        },
        "external_refs": {"statuspage_link": "https://status.example.test/inc/1", "chat_ts": "1.2"},
    }
    if follow_ups is not None:
        record["follow_ups"] = follow_ups
    return record
