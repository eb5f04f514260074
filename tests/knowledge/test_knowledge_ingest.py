from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.catalog import ServiceCatalog
from knowledge.ingest import (
    KnowledgeDocument,
    KnowledgeFileError,
    chunk_document,
    ingest_paths,
    parse_document,
    slugify,
)
from knowledge.store import KnowledgeStore, KnowledgeStoreUnavailable

EXAMPLE_DOCS = {
    "services/checkout",
    "services/inventory",
    "services/payments-db",
    "checkout-5xx",
    "postmortems/2026-03-orders-column-rename",
    "postmortems/2025-11-payments-db-connection-exhaustion",
    "alerts/CheckoutHighErrorRate",
}

GOOD = """---
title: Example runbook
kind: runbook
service: checkout
---

# Example runbook

## Restart

Restart the pods with `kubectl rollout restart deployment/checkout -n shop`.
"""


def _ids(store: KnowledgeStore) -> set[str]:
    return {chunk_id for chunk_id, _ in store.iter_metadata()}


def _skip_reasons(report_skipped: list[tuple[str, str]]) -> dict[str, str]:
    return {Path(path).name: reason for path, reason in report_skipped}


# -- the examples ---------------------------------------------------------------------------------


def test_ingests_every_example_with_citable_metadata(store: KnowledgeStore, knowledge_dir: Path) -> None:
    report = ingest_paths(store, [knowledge_dir])

    assert report.skipped == [] and report.warnings == []
    assert set(report.documents) == EXAMPLE_DOCS
    assert report.added == store.count() > len(EXAMPLE_DOCS)
    metadatas = [m for _, m in store.iter_metadata()]
    assert all(value is not None for m in metadatas for value in m.values())
    rollback = next(m for m in metadatas if m["source_id"] == "knowledge:runbooks/checkout-5xx.md#rollback")
    assert rollback["doc_id"] == "checkout-5xx"
    assert rollback["kind"] == "runbook" and rollback["service"] == "checkout"
    assert rollback["heading"] == "Runbook: checkout 5xx errors > Rollback"
    assert rollback["tags"] == "checkout,5xx,rollback,deploy,migration"
    postmortem = next(m for m in metadatas if m["doc_id"] == "postmortems/2026-03-orders-column-rename")
    assert postmortem["date"] == "2026-03-12"
    assert postmortem["date_ts"] == 1773273600  # 2026-03-12T00:00:00Z
    assert postmortem["time_to_mitigate_minutes"] == 27
    assert str(postmortem["root_cause"]).startswith("Migration 0037 renamed")


def test_chunk_text_starts_with_its_heading_path(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir / "runbooks"])
    texts = {c.metadata["anchor"]: c.text for c in store.all_chunks()}
    assert texts["rollback"].startswith("Runbook: checkout 5xx errors > Rollback\n\n")
    assert "kubectl rollout undo deployment/checkout -n shop" in texts["rollback"]


def test_reingest_is_idempotent(store: KnowledgeStore, knowledge_dir: Path) -> None:
    first = ingest_paths(store, [knowledge_dir])
    ids = _ids(store)
    second = ingest_paths(store, [knowledge_dir])
    assert (second.added, second.updated, second.removed) == (0, 0, 0)
    assert second.unchanged == first.added
    assert _ids(store) == ids


def test_changed_section_replaces_only_its_chunk(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir])
    before = _ids(store)
    runbook = knowledge_dir / "runbooks" / "checkout-5xx.md"
    runbook.write_text(runbook.read_text().replace("under 0.5%", "under 0.3%", 1))

    report = ingest_paths(store, [knowledge_dir])

    assert (report.added, report.removed) == (1, 1)
    after = _ids(store)
    assert len(before - after) == 1 and len(after - before) == 1
    verify = [c for c in store.all_chunks() if c.metadata.get("anchor") == "verify"]
    assert len(verify) == 1 and "under 0.3%" in verify[0].text


def test_removed_file_loses_its_chunks(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir])
    (knowledge_dir / "services" / "inventory.md").unlink()

    report = ingest_paths(store, [knowledge_dir])

    assert report.removed > 0
    assert store.stats().documents_by_service.get("inventory") is None
    assert "services/inventory" not in report.documents


def test_metadata_only_change_updates_chunks_in_place(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir])
    doc = knowledge_dir / "services" / "inventory.md"
    doc.write_text(doc.read_text().replace("owner: team-fulfilment", "owner: team-stock"))
    ids = _ids(store)

    report = ingest_paths(store, [knowledge_dir])

    assert report.added == 0 and report.removed == 0 and report.updated > 0
    assert _ids(store) == ids
    owners = {m["owner"] for _, m in store.iter_metadata({"doc_id": "services/inventory"})}
    assert owners == {"team-stock"}


def test_moved_file_keeps_one_copy(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir])
    (knowledge_dir / "runbooks" / "checkout-5xx.md").rename(knowledge_dir / "runbooks" / "checkout-errors.md")

    ingest_paths(store, [knowledge_dir])

    sources = {m["source_path"] for _, m in store.iter_metadata({"doc_id": "checkout-5xx"})}
    assert sources == {"runbooks/checkout-errors.md"}


def test_progress_reports_every_file(store: KnowledgeStore, knowledge_dir: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    ingest_paths(store, [knowledge_dir], on_progress=lambda done, total, path: calls.append((done, total, path)))
    assert [c[0] for c in calls] == list(range(1, len(EXAMPLE_DOCS) + 1))
    assert {c[1] for c in calls} == {len(EXAMPLE_DOCS)}
    assert all(c[2].endswith(".md") for c in calls)


# -- bad input ------------------------------------------------------------------------------------


def test_bad_inputs_are_skipped_with_reasons_and_the_rest_is_ingested(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    (folder / "runbooks").mkdir(parents=True)
    (folder / "good.md").write_text(GOOD)
    (folder / "bad-yaml.md").write_text("---\nkind: runbook\ntags: [unclosed\n---\n# T\n\nbody\n")
    (folder / "unknown-kind.md").write_text("---\nkind: wiki\n---\n# T\n\nbody\n")
    (folder / "empty.md").write_text("")
    (folder / "only-front-matter.md").write_text("---\nkind: runbook\n---\n\n")
    (folder / "binary.md").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (folder / "latin1.md").write_bytes("---\nkind: runbook\n---\n# Caf\xe9\n".encode("latin-1"))
    (folder / "unclosed.md").write_text("---\nkind: runbook\n# Title\n\nbody\n")
    (folder / "not-a-mapping.md").write_text("---\n- a\n- b\n---\n# T\n\nbody\n")
    (folder / "no-kind.md").write_text("# Notes\n\nNo front matter and no telling folder.\n")
    (folder / "diagram.png").write_bytes(b"\x89PNG\x00")
    (folder / "runbooks" / "inferred.md").write_text("# Inferred runbook\n\nKind comes from the folder.\n")
    missing = tmp_path / "nowhere.md"

    report = ingest_paths(store, [folder, missing])

    assert sorted(report.documents) == ["good", "runbooks/inferred"]
    reasons = _skip_reasons(report.skipped)
    assert "front matter is not valid YAML" in reasons["bad-yaml.md"]
    assert "kind 'wiki' is not one of service_doc, runbook, postmortem, alert_doc" in reasons["unknown-kind.md"]
    assert "the file is empty" in reasons["empty.md"]
    assert "no text after the front matter" in reasons["only-front-matter.md"]
    assert "binary file" in reasons["binary.md"]
    assert "not UTF-8 text (byte 0xe9" in reasons["latin1.md"]
    assert "never closed" in reasons["unclosed.md"]
    assert "must be a mapping" in reasons["not-a-mapping.md"]
    assert "no 'kind'" in reasons["no-kind.md"]
    assert "not a markdown file or an incident record (.png)" in reasons["diagram.png"]
    assert "does not exist" in reasons["nowhere.md"]
    # Every reason names its file so a long report can be acted on line by line.
    for path, reason in report.skipped:
        assert Path(path).name in reason
    kinds = {m["doc_id"]: m["kind"] for _, m in store.iter_metadata()}
    assert kinds == {"good": "runbook", "runbooks/inferred": "runbook"}


def test_file_broken_after_ingest_keeps_its_previous_chunks(store: KnowledgeStore, tmp_path: Path) -> None:
    doc = tmp_path / "kb" / "good.md"
    doc.parent.mkdir()
    doc.write_text(GOOD)
    ingest_paths(store, [doc.parent])
    ids = _ids(store)
    doc.write_text("---\nkind: [broken\n---\n# T\n\nbody\n")

    report = ingest_paths(store, [doc.parent])

    assert report.removed == 0 and len(report.skipped) == 1
    assert _ids(store) == ids


def test_duplicate_id_in_two_files_skips_the_second(store: KnowledgeStore, tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "a.md").write_text(GOOD.replace("title: Example runbook", "id: shared\ntitle: A"))
    (folder / "b.md").write_text(GOOD.replace("title: Example runbook", "id: shared\ntitle: B"))

    report = ingest_paths(store, [folder])

    assert report.documents == ["shared"]
    assert "id 'shared' is already used by" in report.skipped[0].reason


def test_single_file_that_disappeared_removes_its_chunks(store: KnowledgeStore, tmp_path: Path) -> None:
    doc = tmp_path / "single.md"
    doc.write_text(GOOD)
    ingest_paths(store, [doc])
    assert store.count() > 0
    doc.unlink()

    report = ingest_paths(store, [doc])

    assert store.count() == 0
    assert "does not exist (removed" in report.skipped[0].reason


def test_unknown_service_and_reserved_keys_are_warnings(store: KnowledgeStore, tmp_path: Path) -> None:
    catalog = ServiceCatalog.from_mapping({"services": {"checkout": {}}})
    doc = tmp_path / "ghost.md"
    doc.write_text(GOOD.replace("service: checkout", "service: ghost\nsource_id: mine\nlinks: {a: b}"))

    report = ingest_paths(store, [doc], catalog=catalog)

    assert report.documents == ["ghost"]
    messages = " | ".join(w.reason for w in report.warnings)
    assert "service 'ghost' is not in the service catalog" in messages
    assert "'source_id' is reserved" in messages
    assert "'links' holds a dict" in messages


# -- parsing and chunking -------------------------------------------------------------------------


def test_parse_requires_a_known_kind_and_names_the_file() -> None:
    with pytest.raises(KnowledgeFileError, match=r"^runbooks/x\.md: front matter kind 'howto'"):
        parse_document("---\nkind: howto\n---\n# X\n\ntext\n", source_path="runbooks/x.md")


def test_title_falls_back_to_the_first_heading() -> None:
    document = parse_document("---\nkind: runbook\n---\nintro\n\n# Real title\n\nbody\n", source_path="x.md")
    assert document.title == "Real title"
    assert document.doc_id == "x"


def _document(body: str) -> KnowledgeDocument:
    return parse_document(f"---\nkind: runbook\ntitle: Doc\n---\n{body}", source_path="runbooks/doc.md")


def test_long_sections_split_at_paragraphs_and_keep_code_blocks_whole() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i}. " + "word " * 60 for i in range(8))
    code = "```\n" + "\n\n".join(f"echo step {i}" for i in range(20)) + "\n```"
    chunks = chunk_document(_document(f"# Doc\n\n## Steps\n\n{paragraphs}\n\n{code}\n"), max_chars=1200)

    assert len(chunks) > 2
    header = "Doc > Steps\n\n"
    assert all(c.text.startswith(header) for c in chunks)
    assert all(len(c.text) - len(header) <= 1200 for c in chunks)
    assert sum("```" in c.text for c in chunks) == 1  # the fence opens and closes in one chunk
    fenced = next(c for c in chunks if "```" in c.text)
    assert fenced.text.count("```") == 2
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert len({c.id for c in chunks}) == len(chunks)


def test_headings_inside_code_fences_are_not_sections() -> None:
    chunks = chunk_document(_document("# Doc\n\n## Script\n\n```bash\n# not a heading\necho hi\n```\n"))
    assert [c.heading for c in chunks] == ["Doc > Script"]


def test_duplicate_headings_get_numbered_anchors() -> None:
    body = "# Doc\n\n## Verify\n\nfirst\n\n## Again\n\n### Verify\n\nsecond\n"
    anchors = [c.source_id for c in chunk_document(_document(body))]
    assert anchors == ["knowledge:runbooks/doc.md#verify", "knowledge:runbooks/doc.md#verify-1"]


def test_preamble_without_heading_cites_the_file() -> None:
    chunks = chunk_document(parse_document("---\nkind: runbook\n---\nJust text.\n", source_path="r.md"))
    assert [c.source_id for c in chunks] == ["knowledge:r.md"]
    assert chunks[0].text == "r\n\nJust text."


def test_chunk_ids_are_content_hashes_of_doc_id_and_text() -> None:
    first = chunk_document(_document("# Doc\n\n## A\n\nsame\n"))
    again = chunk_document(_document("# Doc\n\n## A\n\nsame\n"))
    other_doc = chunk_document(
        parse_document("---\nkind: runbook\ntitle: Doc\nid: other\n---\n# Doc\n\n## A\n\nsame\n", source_path="x.md")
    )
    assert [c.id for c in first] == [c.id for c in again]
    assert first[0].id != other_doc[0].id


def test_slugify_matches_github_anchors() -> None:
    assert slugify("Check recent deploys and migrations") == "check-recent-deploys-and-migrations"
    assert slugify("Postmortem: orders.user_id rename") == "postmortem-ordersuser_id-rename"


def test_removed_folder_given_by_path_loses_its_chunks(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir])
    alerts = knowledge_dir / "alerts"
    for file in alerts.iterdir():
        file.unlink()
    alerts.rmdir()

    report = ingest_paths(store, [alerts])

    assert "alert_doc" not in store.stats().documents_by_kind
    assert report.removed > 0 and "does not exist (removed" in report.skipped[0].reason


def test_file_reached_twice_is_ingested_once(store: KnowledgeStore, knowledge_dir: Path) -> None:
    runbook = knowledge_dir / "runbooks" / "checkout-5xx.md"
    report = ingest_paths(store, [knowledge_dir / "runbooks", runbook])
    assert report.documents == ["checkout-5xx"]
    assert report.added == store.count()


def test_root_sets_the_cited_path(store: KnowledgeStore, knowledge_dir: Path) -> None:
    ingest_paths(store, [knowledge_dir / "runbooks" / "checkout-5xx.md"], root=knowledge_dir.parent)
    sources = {m["source_path"] for _, m in store.iter_metadata()}
    assert sources == {"knowledge/runbooks/checkout-5xx.md"}


def test_heading_closing_hashes_follow_commonmark() -> None:
    chunks = chunk_document(_document("# Doc\n\n## Upgrading C# services ##\n\ntext\n"))
    assert chunks[0].heading == "Doc > Upgrading C# services"


def test_queued_writes_keep_the_last_operation_per_id(store: KnowledgeStore) -> None:
    from knowledge.ingest import _PendingWrites

    first, second = chunk_document(_document("# Doc\n\n## A\n\none\n\n## B\n\ntwo\n"))
    writes = _PendingWrites(store, batch_size=2)
    try:
        writes.delete([first.id])
        writes.upsert([first, second])  # reaches the batch size: flushed, written by the writer thread
        writes.wait()
        assert store.count() == 2
        writes.upsert([first])
        writes.delete([first.id])
        writes.close()
    finally:
        writes.shutdown()
    assert _ids(store) == {second.id}


def test_a_failed_background_write_raises_and_stops_the_ingest(store: KnowledgeStore, knowledge_dir: Path) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise KnowledgeStoreUnavailable("Chroma server http://127.0.0.1:9 is not reachable")

    store.upsert = refuse  # type: ignore[method-assign]  # simulate the server going down mid-ingest
    with pytest.raises(KnowledgeStoreUnavailable, match="not reachable"):
        ingest_paths(store, [knowledge_dir])
