"""Server mode against a real `chroma run` on loopback (skipped when the binary is missing)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from knowledge.embedders import HashingEmbedder
from knowledge.ingest import ingest_paths
from knowledge.retrieval import KnowledgeRetriever
from knowledge.store import ChromaSettings, KnowledgeStore, KnowledgeStoreUnavailable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "knowledge"


def _chroma_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    return str(beside_python) if beside_python.exists() else shutil.which("chroma")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    binary = _chroma_binary()
    if binary is None:
        pytest.skip("the chroma server binary is not installed")
    port = _free_port()
    log = (tmp_path / "chroma.log").open("wb")
    server = subprocess.Popen(
        [binary, "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.skip(f"chroma server did not start: {(tmp_path / 'chroma.log').read_text()[-500:]}")
            time.sleep(0.1)
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_server_mode_ingests_searches_and_reports_a_lost_server(
    chroma_server: tuple[subprocess.Popen[bytes], int],
) -> None:
    server, port = chroma_server
    settings = ChromaSettings(mode="server", host="127.0.0.1", port=port, collection="kb-server")
    store = KnowledgeStore.open(settings, HashingEmbedder())
    report = ingest_paths(store, [EXAMPLES])
    assert not report.skipped and report.added == store.count()

    # A second, independent connection (another process would do the same) sees the same collection.
    reopened = KnowledgeStore.open(settings, HashingEmbedder())
    retriever = KnowledgeRetriever(reopened)
    hits = retriever.search('column "user_id" does not exist', service="checkout", k=2)
    assert hits[0].doc_id == "postmortems/2026-03-orders-column-rename"

    server.terminate()
    server.wait(timeout=10)
    with pytest.raises(KnowledgeStoreUnavailable, match=f"127.0.0.1:{port}.*chroma.host"):
        reopened.count()
