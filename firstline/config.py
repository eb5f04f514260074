"""config.yaml: every setting in one typed model. Secrets are never here, only the names of the
environment variables that hold them.

Relative paths in the file are resolved against the file's own directory, so a config written by
`firstline sandbox run --write-config /tmp/x.yaml` works from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.settings import LLMSettings, WorkflowSettings
from intake.settings import IntakeSettings
from tools.policy import PolicySettings

ReasonerName = Literal["deterministic", "llm"]


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message names the file and the field."""




class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_per_1k: float = 0.0
    completion_per_1k: float = 0.0


class StorageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    checkpoints: Path = Path(".firstline/checkpoints.sqlite")
    ledger: Path = Path(".firstline/ledger.sqlite")
    incidents: Path = Path(".firstline/incidents.sqlite")


class ChromaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["embedded", "server"] = "embedded"
    path: Path = Path(".firstline/chroma")
    host: str = "127.0.0.1"
    port: int = 8000
    collection: str = "firstline-knowledge"


class KnowledgeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    catalog: Path = Path("examples/catalog.yaml")
    paths: list[Path] = Field(default_factory=lambda: [Path("examples/knowledge")])
    chroma: ChromaConfig = Field(default_factory=ChromaConfig)
    embedder: dict[str, Any] = Field(default_factory=lambda: {"kind": "default"})




class ClockSettings(BaseModel):
    """``system`` (the wall clock) or ``sandbox`` (a simulator's clock at ``url``, e.g. http://127.0.0.1:PORT/_sim)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["system", "sandbox"] = "system"
    url: str | None = None


class FirstlineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasoner: ReasonerName = "deterministic"
    llm: LLMSettings = Field(default_factory=LLMSettings)
    prices: dict[str, Price] = Field(default_factory=dict)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    knowledge: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    workflow: WorkflowSettings = Field(default_factory=WorkflowSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    clock: ClockSettings = Field(default_factory=ClockSettings)
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict)
    statuspage_link: str = Field(default="", description="Public status page URL used in communications.")
    incident_link: str = Field(default="", description="Base URL for incident links, e.g. https://firstline.example/incidents/")
    intake: IntakeSettings = Field(default_factory=IntakeSettings)

    def resolve_paths(self, base: Path) -> FirstlineConfig:
        """Make every relative path absolute against ``base`` (the config file's directory)."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p)

        s = self.storage
        k = self.knowledge
        return self.model_copy(
            update={
                "storage": s.model_copy(
                    update={"checkpoints": fix(s.checkpoints), "ledger": fix(s.ledger), "incidents": fix(s.incidents)}
                ),
                "knowledge": k.model_copy(
                    update={
                        "catalog": fix(k.catalog),
                        "paths": [fix(p) for p in k.paths],
                        "chroma": k.chroma.model_copy(update={"path": fix(k.chroma.path)}),
                    }
                ),
                "intake": self.intake.model_copy(update={"inbox": fix(self.intake.inbox)}),
            }
        )


def load_config(path: str | Path) -> FirstlineConfig:
    """Load and validate config.yaml. Errors name the file and the offending field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration file {path} does not exist (use --config PATH)") from exc
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return parse_config(raw, origin=str(path)).resolve_paths(path.resolve().parent)


def parse_config(raw: dict[str, Any], *, origin: str = "config") -> FirstlineConfig:
    try:
        return FirstlineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{origin}: {problems}") from exc
