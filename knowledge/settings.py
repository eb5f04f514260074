"""The ``knowledge:`` section of config.yaml, as this package owns it: the catalog, what to ingest,
where the store lives (Chroma embedded or server) and how text is embedded.

Kept free of Chroma, numpy and scikit-learn imports, so loading the configuration (every command does)
stays cheap; `knowledge.store` and `knowledge.embedders` build on these models.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]$")


class ChromaSettings(BaseModel):
    """Where the knowledge lives. Embedded mode needs only ``path``; server mode ``host`` and ``port``."""

    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "server"] = "embedded"
    path: Path = Field(default=Path(".firstline/chroma"), description="Directory for embedded mode.")
    host: str = Field(default="127.0.0.1", description="Chroma server host for server mode.")
    port: int = Field(default=8000, ge=1, le=65535, description="Chroma server port for server mode.")
    ssl: bool = False
    collection: str = Field(default="firstline-knowledge", description="Collection name.")

    @field_validator("collection")
    @classmethod
    def _valid_collection_name(cls, value: str) -> str:
        if not _COLLECTION_NAME.match(value):
            raise ValueError(
                f"chroma.collection {value!r} is not a valid Chroma collection name: use 3-512 characters "
                "from letters, digits, '.', '_' and '-', starting and ending with a letter or digit"
            )
        return value

    def describe(self) -> str:
        if self.mode == "server":
            scheme = "https" if self.ssl else "http"
            return f"Chroma server {scheme}://{self.host}:{self.port}, collection {self.collection}"
        return f"embedded Chroma at {self.path}, collection {self.collection}"


class EmbedderSettings(BaseModel):
    """How to build the embedder; ``kind: default`` (= ``hashing``, offline) needs nothing else."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["default", "hashing", "openai-compatible", "local"] = "default"
    dimension: int | None = Field(
        default=None, description="Vector length; hashing defaults to 2048, openai-compatible requires it."
    )
    base_url: str | None = Field(default=None, description="For openai-compatible, e.g. https://api.openai.com/v1")
    model: str | None = Field(default=None, description="For openai-compatible, e.g. text-embedding-3-small")
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY", description="Environment variable holding the API key; null for none."
    )
    model_path: str | None = Field(
        default=None,
        description="For local: a sentence-transformers model directory; default the packaged all-MiniLM-L6-v2.",
    )


class KnowledgeSettings(BaseModel):
    """The ``knowledge:`` section of config.yaml: the catalog, what to ingest, where it lives, how it is embedded.

    Owned by this package and validated in full when the configuration loads (a bad collection name,
    an unknown embedder kind or a misspelt field is refused there, naming the field).
    """

    model_config = ConfigDict(extra="forbid")

    catalog: Path = Field(default=Path("examples/catalog.yaml"), description="The service catalog (YAML).")
    paths: list[Path] = Field(
        default_factory=lambda: [Path("examples/knowledge")],
        description="Markdown docs, runbooks and postmortems to ingest.",
    )
    chroma: ChromaSettings = Field(default_factory=ChromaSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)

    def resolve_paths(self, base: Path) -> KnowledgeSettings:
        """Every relative path made absolute against ``base`` (the config file's directory)."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else base / p

        return self.model_copy(
            update={
                "catalog": fix(self.catalog),
                "paths": [fix(p) for p in self.paths],
                "chroma": self.chroma.model_copy(update={"path": fix(self.chroma.path)}),
            }
        )
