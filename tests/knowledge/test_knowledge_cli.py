"""`firstline knowledge ...` end to end, in process, against a temporary embedded Chroma."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from firstline.cli import main
from firstline.logging import configure_logging
from tests.knowledge.conftest import NOW, make_record

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() points structlog at the stderr of the moment (capsys's); point it back at the real one after."""
    yield
    configure_logging(0)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "knowledge": {
                    "catalog": str(EXAMPLES / "catalog.yaml"),
                    "paths": [str(EXAMPLES / "knowledge")],
                    "chroma": {"path": str(tmp_path / "chroma"), "collection": "cli-test"},
                }
            }
        ),
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_ingest_defaults_to_the_configured_paths_and_reports_progress(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "knowledge", "ingest", "--config", str(config))

    assert code == 0
    assert "ingested 7/7 files" in out
    assert "7 documents: 36 chunks added, 0 updated, 0 unchanged, 0 removed; 0 skipped" in out

    code, out, _ = run(capsys, "knowledge", "ingest", "--config", str(config), "--json")
    report = json.loads(out[out.index("{") :])
    assert code == 0 and report["added"] == 0 and report["unchanged"] == 36


def test_bad_files_are_listed_with_reasons_and_the_rest_is_ingested(
    config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "good.md").write_text(
        "---\nkind: runbook\nservice: checkout\n---\n\n# Good\n\nRestart it.\n", encoding="utf-8"
    )
    (folder / "bad.md").write_text("---\nkind: [unclosed\n---\n\n# Bad\n", encoding="utf-8")
    (folder / "wiki.md").write_text("---\nkind: wiki\n---\n\n# Wiki\n\ntext\n", encoding="utf-8")
    (folder / "empty.md").write_text("", encoding="utf-8")
    (folder / "blob.md").write_bytes(b"\x00\x01\x02")

    code, out, _ = run(capsys, "knowledge", "ingest", str(folder), str(tmp_path / "missing"), "--config", str(config))

    assert code == 0
    assert "1 documents: 1 chunks added" in out and "5 skipped" in out
    assert f"{folder / 'bad.md'}: front matter is not valid YAML" in out
    assert (
        f"{folder / 'wiki.md'}: front matter kind 'wiki' is not one of service_doc, runbook, postmortem, alert_doc"
        in out
    )
    assert f"{folder / 'empty.md'}: nothing to ingest (the file is empty)" in out
    assert f"{folder / 'blob.md'}: binary file" in out
    assert f"{tmp_path / 'missing'}: does not exist" in out
    assert run(capsys, "knowledge", "ingest", str(folder), "--strict", "--config", str(config))[0] == 2


def test_search_stats_and_filters(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "knowledge", "ingest", "--config", str(config))

    code, out, _ = run(
        capsys,
        "knowledge",
        "search",
        'column "user_id" does not exist',
        "--service",
        "checkout",
        "--kind",
        "postmortem",
        "--json",
        "--config",
        str(config),
    )
    hits = json.loads(out)
    assert code == 0
    assert hits[0]["doc_id"] == "postmortems/2026-03-orders-column-rename"
    assert hits[0]["source_id"].startswith("knowledge:postmortems/2026-03-orders-column-rename.md#")
    assert {h["kind"] for h in hits} == {"postmortem"}

    code, out, _ = run(capsys, "knowledge", "search", "rollback", "--since", "2030-01-01", "--config", str(config))
    assert code == 0 and "no matching knowledge" in out

    code, out, _ = run(capsys, "knowledge", "stats", "--json", "--config", str(config))
    stats = json.loads(out)
    assert stats["documents"] == 7 and stats["documents_by_kind"]["postmortem"] == 2

    with pytest.raises(SystemExit) as usage:
        main(["knowledge", "search", "x", "--kind", "wiki", "--config", str(config)])
    assert usage.value.code == 2
    assert "invalid choice: 'wiki'" in capsys.readouterr().err


def test_remember_and_recall(config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = []
    for number, days in enumerate([9, 4], start=1):
        path = tmp_path / f"inc-{number}.json"
        started = NOW.replace(day=NOW.day - days)
        path.write_text(
            json.dumps(make_record(f"inc-{number}", started=started, follow_ups=["Backward-compatible migrations"])),
            encoding="utf-8",
        )
        records.append(str(path))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"id": "x", "status": "resolved"}), encoding="utf-8")

    code, out, err = run(capsys, "knowledge", "remember", *records, str(broken), "--config", str(config))

    assert code == 2
    assert "remembered inc-1 (checkout, resolved, mitigated in 12 min) as knowledge:incidents/inc-1" in out
    assert f"{broken}: incident record x: 'service' (or 'alert.service') is missing" in " ".join(err.split())

    code, out, _ = run(
        capsys,
        "knowledge",
        "recall",
        "checkout 5xx ratio above 5%",
        "--service",
        "checkout",
        "--alert",
        "CheckoutHighErrorRate",
        "--now",
        NOW.isoformat(),
        "--json",
        "--config",
        str(config),
    )
    recall = json.loads(out)
    assert code == 0
    assert recall["recurrence"]["occurrence"] == 3
    assert recall["recurrence"]["statement"].startswith("3rd time in 30 days (checkout, alert CheckoutHighErrorRate)")
    assert (
        'the follow-up from last time is still open: "Backward-compatible migrations"'
        in recall["recurrence"]["statement"]
    )

    code, out, _ = run(
        capsys,
        "knowledge",
        "recall",
        "checkout errors",
        "--service",
        "checkout",
        "--alert",
        "CheckoutHighErrorRate",
        "--now",
        NOW.isoformat(),
        "--incident",
        "inc-2",
        "--config",
        str(config),
    )
    assert code == 0 and "2nd time in 30 days" in out and "open follow-up: Backward-compatible migrations" in out


def test_a_chroma_server_that_is_down_names_the_setting(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "config.yaml"
    config.write_text(
        yaml.safe_dump({"knowledge": {"chroma": {"mode": "server", "host": "127.0.0.1", "port": port}}}),
        encoding="utf-8",
    )

    code, _, err = run(capsys, "knowledge", "stats", "--config", str(config))

    assert code == 1
    flat = " ".join(err.split())
    assert f"knowledge.chroma: Chroma server http://127.0.0.1:{port}" in flat and "is not reachable" in flat


# -- eval and bench on a small corpus ------------------------------------------------------------


def _tiny_corpus(root: Path) -> Path:
    data = root / "postmortems" / "data"
    data.mkdir(parents=True)
    topics = [
        (
            "dns",
            "A DNS resolver change broke name resolution for internal services.",
            ["dns", "resolver", "configuration"],
        ),
        (
            "cert",
            "An expired TLS certificate made every API call fail the handshake.",
            ["certificate", "tls", "expiry"],
        ),
        ("disk", "The database disk filled up with write-ahead logs and writes stopped.", ["disk", "wal", "postgres"]),
        (
            "bgp",
            "A BGP route leak sent traffic through a small provider and caused packet loss.",
            ["bgp", "route leak", "network"],
        ),
        ("leap", "A leap second made the kernel spin and servers hung at midnight.", ["leap second", "kernel", "time"]),
        (
            "oom",
            "A memory leak in the image resizer got the workers OOM killed in a loop.",
            ["memory leak", "oom", "workers"],
        ),
    ]
    for name, summary, keywords in topics:
        body = (
            f"{summary} Engineers found the cause after an hour and restored service.\n\nFollow-up work was scheduled."
        )
        front = {
            "title": f"Outage: {name}",
            "summary": summary,
            "keywords": keywords,
            "categories": ["cloud"],
            "company": "Acme",
        }
        (data / f"{name}.md").write_text(f"---\n{yaml.safe_dump(front)}---\n\n{body}\n", encoding="utf-8")
    return root


def test_eval_writes_recall_and_mrr_per_embedder(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    datasets = _tiny_corpus(tmp_path / "datasets")
    out = tmp_path / "eval"

    code, printed, _ = run(
        capsys,
        "knowledge",
        "eval",
        "--datasets",
        str(datasets),
        "--embedder",
        "hashing",
        "--out",
        str(out),
        "--config",
        str(config),
    )

    assert code == 0, printed
    results = json.loads((out / "results.json").read_text())
    hashing = results["embedders"]["hashing"]
    assert 0.0 <= hashing["recall_at_5"] <= 1.0 and 0.0 <= hashing["mrr"] <= 1.0
    # Six distinct documents, each queried by its own summary: the right one must come first.
    assert hashing["hybrid"]["by_set"]["summary"]["recall_at_5"] == 1.0
    assert results["queries"]["handwritten"] == 0  # the shipped queries name documents this corpus lacks
    lines = (out / "queries.jsonl").read_text().splitlines()
    assert len(lines) == sum(results["queries"].values())
    assert "| hashing | hybrid |" in (out / "report.md").read_text()


def test_eval_without_the_dataset_says_where_it_looked(
    tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "knowledge", "eval", "--datasets", str(tmp_path / "nowhere"), "--config", str(config))
    assert code == 2
    assert f"the postmortems corpus is not at {tmp_path / 'nowhere' / 'postmortems' / 'data'}" in " ".join(err.split())


def test_bench_writes_throughput_and_latency(tmp_path: Path, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"

    code, printed, _ = run(
        capsys,
        "knowledge",
        "bench",
        "--synthetic",
        "--chunks",
        "120",
        "--queries",
        "20",
        "--out",
        str(out),
        "--config",
        str(config),
    )

    assert code == 0, printed
    results = json.loads((out / "results.json").read_text())
    assert results["chunks"] == 120 and results["queries"] == 20
    assert results["ingest_chunks_per_second"] > 0
    assert 0 < results["query_p50_ms"] <= results["query_p95_ms"]
    assert "chunks/s wall" in printed
