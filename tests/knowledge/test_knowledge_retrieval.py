from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path

import chromadb
import pytest

from knowledge.embedders import HashingEmbedder
from knowledge.ingest import ingest_paths
from knowledge.retrieval import KnowledgeRetriever, LexicalTokenizer, build_where
from knowledge.service import KnowledgeBaseSettings, open_knowledge
from knowledge.store import ChromaSettings, KnowledgeStore

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "knowledge"
ORDERS_POSTMORTEM = "postmortems/2026-03-orders-column-rename"
DB_POSTMORTEM = "postmortems/2025-11-payments-db-connection-exhaustion"


@pytest.fixture(scope="module")
def examples_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeStore]:
    """The example knowledge, ingested once for the read-only tests of this module."""
    path = tmp_path_factory.mktemp("retrieval") / "chroma"
    store = KnowledgeStore.open(
        ChromaSettings(path=path, collection="kb-test"),
        HashingEmbedder(),
        client=chromadb.PersistentClient(path=str(path)),
    )
    report = ingest_paths(store, [EXAMPLES])
    assert not report.skipped
    yield store


@pytest.fixture(scope="module")
def retriever(examples_store: KnowledgeStore) -> KnowledgeRetriever:
    return KnowledgeRetriever(examples_store)


# -- relevance ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected_first"),
    [
        ('ERROR: column "user_id" does not exist (SQLSTATE 42703)', ORDERS_POSTMORTEM),
        ("FATAL: sorry, too many clients already", DB_POSTMORTEM),
        ("CheckoutHighErrorRate", "alerts/CheckoutHighErrorRate"),
        ("kubectl rollout undo deployment/checkout -n shop", "checkout-5xx"),
    ],
)
def test_exact_error_strings_rank_the_matching_document_first(
    retriever: KnowledgeRetriever, query: str, expected_first: str
) -> None:
    assert retriever.search(query, k=3)[0].doc_id == expected_first


def test_unseen_column_error_finds_the_postmortem_and_runbook(retriever: KnowledgeRetriever) -> None:
    # The demo incident's error: a column name no document mentions, the rest of the message known.
    hits = retriever.search('column "customer_id" does not exist', k=3)
    assert {hits[0].kind, hits[1].kind} == {"postmortem", "runbook"}
    assert hits[0].lexical_score > 0 and hits[0].vector_score > 0


@pytest.mark.parametrize(
    ("query", "expected_source"),
    [
        ("how do I roll back the checkout deployment", "knowledge:runbooks/checkout-5xx.md#rollback"),
        ("the database ran out of connections", None),
        (
            "who do I escalate a stock reservation problem to",
            "knowledge:services/checkout.md#owners-and-escalation",
        ),
        (
            "do schema changes get reverted when rolling back",
            "knowledge:services/checkout.md#schema-migrations",
        ),
    ],
)
def test_paraphrases_find_the_right_section(
    retriever: KnowledgeRetriever, query: str, expected_source: str | None
) -> None:
    hits = retriever.search(query, k=3)
    if expected_source is None:
        assert hits[0].service == "payments-db"
    else:
        assert expected_source in [h.source_id for h in hits]


def test_vector_side_alone_handles_word_variants(examples_store: KnowledgeStore) -> None:
    vector_only = KnowledgeRetriever(examples_store, lexical_weight=0.0)
    hits = vector_only.search("rolled back checkout deploys", kind="runbook", k=1, max_chunks_per_doc=3)
    assert hits[0].source_id == "knowledge:runbooks/checkout-5xx.md#rollback"


# -- filters --------------------------------------------------------------------------------------


def test_service_filter(retriever: KnowledgeRetriever) -> None:
    hits = retriever.search("connections and latency", service="inventory", k=5, max_chunks_per_doc=5)
    assert hits and {h.service for h in hits} == {"inventory"}


def test_several_services(retriever: KnowledgeRetriever) -> None:
    hits = retriever.search("overview", service=["inventory", "payments-db"], k=10)
    assert {h.service for h in hits} == {"inventory", "payments-db"}


def test_kind_filter(retriever: KnowledgeRetriever) -> None:
    hits = retriever.search('column "user_id" does not exist', kind="runbook", k=5)
    assert [h.doc_id for h in hits] == ["checkout-5xx"]
    both = retriever.search("checkout errors", kind=["runbook", "alert_doc"], k=5)
    assert {h.kind for h in both} == {"runbook", "alert_doc"}


def test_time_range_keeps_only_dated_documents_in_range(retriever: KnowledgeRetriever) -> None:
    recent = retriever.search("outage", since=date(2026, 1, 1), k=10)
    assert [h.doc_id for h in recent] == [ORDERS_POSTMORTEM]
    older = retriever.search("outage", until=date(2025, 11, 28), k=10)
    assert [h.doc_id for h in older] == [DB_POSTMORTEM]
    window = retriever.search("outage", since=datetime(2025, 11, 29), until=datetime(2026, 3, 11), k=10)
    assert window == []


def test_filter_that_matches_nothing_returns_no_hits(retriever: KnowledgeRetriever) -> None:
    assert retriever.search("rollback", service="no-such-service") == []


def test_build_where_shapes() -> None:
    assert build_where() is None
    assert build_where(services=["checkout"]) == {"service": {"$eq": "checkout"}}
    assert build_where(kinds=["runbook", "postmortem"], since_ts=10) == {
        "$and": [{"kind": {"$in": ["runbook", "postmortem"]}}, {"date_ts": {"$gte": 10}}]
    }


# -- result shape ---------------------------------------------------------------------------------


def test_one_chunk_per_document_unless_asked(retriever: KnowledgeRetriever) -> None:
    hits = retriever.search("checkout", k=10)
    assert len({h.doc_id for h in hits}) == len(hits)
    several = retriever.search("checkout rollback migration", service="checkout", k=10, max_chunks_per_doc=3)
    per_doc = [sum(h.doc_id == d for h in several) for d in {h.doc_id for h in several}]
    assert max(per_doc) > 1 and max(per_doc) <= 3


def test_hits_are_citable_and_scored(retriever: KnowledgeRetriever) -> None:
    hits = retriever.search("rollback risk and blast radius", k=5)
    assert hits[0].source_id == "knowledge:runbooks/checkout-5xx.md#rollback"
    top = hits[0]
    assert top.title == "Runbook: checkout 5xx errors" and top.heading.endswith("> Rollback")
    assert top.text.startswith("Runbook: checkout 5xx errors > Rollback")
    assert "rollback" in top.tags and top.source_path == "runbooks/checkout-5xx.md"
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0 < h.score <= 1 and -1 <= h.vector_score <= 1 and h.lexical_score >= 0 for h in hits)


def test_bad_arguments_raise_value_errors(retriever: KnowledgeRetriever) -> None:
    with pytest.raises(ValueError, match="query is empty"):
        retriever.search("   ")
    with pytest.raises(ValueError, match="unknown kind howto"):
        retriever.search("x", kind="howto")
    with pytest.raises(ValueError, match="k must be at least 1"):
        retriever.search("x", k=0)


def test_tokenizer_keeps_compound_names_and_error_terms() -> None:
    tokens = LexicalTokenizer()('ERROR: column "customer_id" does not exist on payments-db')
    assert {"customer_id", "custom", "payments-db", "column", "exist"} <= set(tokens)
    assert "not" not in tokens and "on" not in tokens


# -- freshness ------------------------------------------------------------------------------------


def test_empty_store_returns_nothing(store: KnowledgeStore) -> None:
    assert KnowledgeRetriever(store).search("anything") == []


def test_lexical_index_is_rebuilt_after_ingest(store: KnowledgeStore, tmp_path: Path) -> None:
    retriever = KnowledgeRetriever(store)
    doc = tmp_path / "kb" / "runbooks" / "zebra.md"
    doc.parent.mkdir(parents=True)
    doc.write_text("---\nkind: runbook\nservice: zoo\n---\n# Zebra\n\n## Feed\n\nGive the zebra hay.\n")
    ingest_paths(store, [doc.parent.parent])
    assert retriever.search("zebra")[0].doc_id == "runbooks/zebra"

    doc.write_text("---\nkind: runbook\nservice: zoo\n---\n# Zebra\n\n## Feed\n\nGive the okapi clover.\n")
    ingest_paths(store, [doc.parent.parent])
    hit = retriever.search("okapi clover")[0]
    assert "okapi" in hit.text and hit.lexical_score > 0


def test_writes_from_another_process_are_seen(tmp_path: Path, open_store: Callable[..., KnowledgeStore]) -> None:
    path = tmp_path / "chroma"
    reader = open_store(path)
    retriever = KnowledgeRetriever(reader)
    assert retriever.search("quokka") == []

    writer = open_store(path)  # another client, as a separate `firstline ingest` would be
    doc = tmp_path / "quokka.md"
    doc.write_text("---\nkind: service_doc\n---\n# Quokka\n\nThe quokka service.\n")
    ingest_paths(writer, [doc])

    assert retriever.search("quokka")[0].doc_id == "quokka"

    # An edit keeps the chunk count (one chunk replaced by another); the reader must still notice.
    doc.write_text("---\nkind: service_doc\n---\n# Quokka\n\nThe quokka service feeds wombats.\n")
    ingest_paths(writer, [doc])
    hit = retriever.search("wombats")[0]
    assert "wombats" in hit.text and hit.lexical_score > 0


# -- facade ---------------------------------------------------------------------------------------


def test_open_knowledge_ingests_and_searches(tmp_path: Path) -> None:
    settings = KnowledgeBaseSettings.model_validate({"chroma": {"path": str(tmp_path / "chroma")}})
    kb = open_knowledge(settings)
    report = kb.ingest([EXAMPLES / "runbooks"])
    assert report.documents == ["checkout-5xx"]
    assert kb.search("roll back checkout", service="checkout", kind="runbook", k=1)[0].doc_id == "checkout-5xx"
    assert kb.stats().documents_by_kind == {"runbook": 1}


def test_open_knowledge_accepts_another_settings_model(tmp_path: Path) -> None:
    from pydantic import BaseModel

    class AppChroma(BaseModel):
        mode: str = "embedded"
        path: Path = tmp_path / "chroma"
        host: str = "127.0.0.1"
        port: int = 8000
        collection: str = "app-knowledge"

    class AppKnowledge(BaseModel):
        catalog: Path = Path("catalog.yaml")
        chroma: AppChroma = AppChroma()
        embedder: dict[str, object] = {"kind": "default"}

    kb = open_knowledge(AppKnowledge())
    assert kb.store.settings.collection == "app-knowledge"
    assert isinstance(kb.store.embedder, HashingEmbedder)


def test_demo_incident_query_finds_runbook_and_postmortem(retriever: KnowledgeRetriever) -> None:
    # What investigation asks: the alert title plus the dominant error line, one hit per kind.
    query = (
        'CheckoutHighErrorRate psycopg.errors.UndefinedColumn: column "customer_id" does not exist path=/orders/history'
    )
    runbook = retriever.search(query, service="checkout", kind="runbook", k=1)
    postmortem = retriever.search(query, service="checkout", kind="postmortem", k=1)
    service_doc = retriever.search(query, service="checkout", kind="service_doc", k=1)
    assert runbook[0].source_id == "knowledge:runbooks/checkout-5xx.md#check-recent-deploys-and-migrations"
    assert postmortem[0].doc_id == ORDERS_POSTMORTEM
    assert service_doc[0].doc_id == "services/checkout"


# -- filtered vector search: exact over cached vectors, or Chroma restricted to the ids -----------


@pytest.mark.parametrize(
    ("service", "kind"),
    [("checkout", None), (None, "postmortem"), ("checkout", "runbook"), (["checkout", "payments-db"], None)],
)
def test_exact_and_chroma_filtered_vector_search_agree(
    examples_store: KnowledgeStore, service: str | list[str] | None, kind: str | None
) -> None:
    exact = KnowledgeRetriever(examples_store, lexical_weight=0.0)
    through_chroma = KnowledgeRetriever(examples_store, lexical_weight=0.0, exact_search_limit=0)
    query = "roll back the deploy when the migration broke orders"

    exact_hits = exact.search(query, service=service, kind=kind, k=5, max_chunks_per_doc=3)
    chroma_hits = through_chroma.search(query, service=service, kind=kind, k=5, max_chunks_per_doc=3)

    assert exact_hits, "the filter matches example documents"
    assert [h.chunk_id for h in exact_hits] == [h.chunk_id for h in chroma_hits]
    assert [h.vector_score for h in exact_hits] == pytest.approx([h.vector_score for h in chroma_hits], abs=1e-5)
    services = [service] if isinstance(service, str) else service
    assert all((services is None or h.service in services) and (kind is None or h.kind == kind) for h in exact_hits)


def test_vector_cache_stays_within_its_byte_budget(examples_store: KnowledgeStore) -> None:
    retriever = KnowledgeRetriever(examples_store, vector_cache_bytes=3 * 2048 * 4)

    hits = retriever.search("checkout errors", service="checkout", k=3)

    assert hits
    assert retriever._vectors._bytes <= 3 * 2048 * 4
