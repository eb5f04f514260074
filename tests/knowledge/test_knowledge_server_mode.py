"""Server mode against a real `chroma run` on loopback (skipped when the binary is missing)."""

from __future__ import annotations

import json
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


READER = """
import json, sys, time
from pathlib import Path
from knowledge.embedders import HashingEmbedder
from knowledge.retrieval import KnowledgeRetriever
from knowledge.store import ChromaSettings, KnowledgeStore
from firstline.logging import configure_logging
configure_logging(0)
port, stop, out = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
settings = ChromaSettings(mode="server", host="127.0.0.1", port=port, collection="kb-shared")
store = KnowledgeStore.open(settings, HashingEmbedder())
retriever = KnowledgeRetriever(store)
searches, errors, counts = 0, [], []
while not stop.exists():
    try:
        counts.append(store.count())
        retriever.search('column "user_id" does not exist', service="checkout", k=2)
        searches += 1
        out.with_suffix(".ready").touch()
    except Exception as exc:  # recorded: the test asserts there are none
        errors.append(repr(exc))
    time.sleep(0.02)
hits = retriever.search('column "user_id" does not exist', service="checkout", k=2)
out.write_text(json.dumps({"searches": searches, "errors": errors, "counts": counts, "final": store.count(),
                           "top": hits[0].doc_id if hits else None}))
"""


def test_several_workers_read_while_one_ingests(
    chroma_server: tuple[subprocess.Popen[bytes], int], tmp_path: Path
) -> None:
    _, port = chroma_server
    settings = ChromaSettings(mode="server", host="127.0.0.1", port=port, collection="kb-shared")
    store = KnowledgeStore.open(settings, HashingEmbedder())
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(port), str(stop), str(tmp_path / f"reader{n}.json")],
            env={**os.environ, "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(EXAMPLES.parents[1])},
        )
        for n in range(3)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"reader{n}.ready").exists() for n in range(len(readers))):
            assert time.monotonic() < deadline, "the readers did not start searching"
            time.sleep(0.05)
        # The readers are searching the empty collection; now one process ingests.
        report = ingest_paths(store, [EXAMPLES])
        assert report.added > 0 and not report.skipped
        time.sleep(0.5)
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)
    for n, reader in enumerate(readers):
        assert reader.returncode == 0
        seen = json.loads((tmp_path / f"reader{n}.json").read_text())
        assert seen["errors"] == [] and seen["searches"] > 0
        assert seen["counts"][0] == 0 and seen["counts"] == sorted(seen["counts"])  # read before and during ingest
        assert seen["final"] == store.count()
        assert seen["top"] == "postmortems/2026-03-orders-column-rename"
