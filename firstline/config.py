"""config.yaml: every setting in one typed model. Secrets are never here, only the names of the
environment variables that hold them.

Relative paths in the file are resolved against the file's own directory, so a config written by
`firstline sandbox run --write-config /tmp/x.yaml` works from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agents.settings import LLMSettings, WorkflowSettings
from approvals.settings import ApprovalSettings
from intake.settings import IntakeSettings
from knowledge.settings import KnowledgeSettings
from storage.target import PostgresTarget
from tools.policy import PolicySettings

ReasonerName = Literal["deterministic", "llm"]


class ConfigError(ValueError):
    """The configuration file is missing or invalid; the message names the file and the field."""


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid")

    prompt_per_1k: float = 0.0
    completion_per_1k: float = 0.0


class StorageSettings(BaseModel):
    """Where the state is kept. By default SQLite files (one process); with ``url``, one Postgres database
    for every store (checkpoints, ledger, incident index, intake inbox and runs, dead letters, approvals),
    shared by any number of ``firstline serve`` workers. The paths here and ``intake.inbox`` /
    ``approvals.database`` are then unused."""

    model_config = ConfigDict(extra="forbid")

    checkpoints: Path = Path(".firstline/checkpoints.sqlite")
    ledger: Path = Path(".firstline/ledger.sqlite")
    incidents: Path = Path(".firstline/incidents.sqlite")
    url: str | None = Field(
        default=None,
        description="postgresql://USER@HOST:PORT/DATABASE (no password: see password_env). Unset: SQLite files.",
    )
    password_env: str | None = Field(
        default=None, description="Environment variable holding the database password (read at connect time)."
    )

    @model_validator(mode="after")
    def _valid_url(self) -> StorageSettings:
        if self.url is not None:
            try:
                PostgresTarget(url=self.url, password_env=self.password_env)
            except ValidationError as exc:
                # The URL itself is not repeated: it could hold the secret the check is refusing.
                raise ValueError(
                    "url: " + "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                ) from None
        elif self.password_env is not None:
            raise ValueError("password_env: set only with storage.url (SQLite files have no password)")
        return self

    def postgres(self) -> PostgresTarget | None:
        """The shared database, or None for the embedded SQLite files."""
        return None if self.url is None else PostgresTarget(url=self.url, password_env=self.password_env)

    def where(self, path: Path) -> Path | PostgresTarget:
        """Where a store lives: the shared Postgres database when ``url`` is set, else its SQLite file ``path``."""
        return self.postgres() or path


class ClockSettings(BaseModel):
    """``system`` (the wall clock) or ``sandbox`` (a simulator's clock at ``url``, e.g. http://127.0.0.1:PORT/_sim)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["system", "sandbox"] = "system"
    url: str | None = None


class McpServeSettings(BaseModel):
    """``firstline mcp serve``: where its HTTP transport listens and which variable holds its bearer token."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8788, ge=0, le=65535)
    token_env: str | None = Field(
        default=None, description="Environment variable holding the bearer token HTTP clients must send."
    )


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
    incident_link: str = Field(
        default="", description="Base URL for incident links, e.g. https://firstline.example/incidents/"
    )
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    mcp: McpServeSettings = Field(default_factory=McpServeSettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)

    def resolve_paths(self, base: Path) -> FirstlineConfig:
        """Make every relative path absolute against ``base`` (the config file's directory)."""

        def fix(p: Path) -> Path:
            return p if p.is_absolute() else (base / p)

        s = self.storage
        return self.model_copy(
            update={
                "storage": s.model_copy(
                    update={"checkpoints": fix(s.checkpoints), "ledger": fix(s.ledger), "incidents": fix(s.incidents)}
                ),
                "knowledge": self.knowledge.resolve_paths(base),
                "intake": self.intake.model_copy(update={"inbox": fix(self.intake.inbox)}),
                "approvals": self.approvals.resolve_paths(base),
                "policy": self.policy.model_copy(
                    update={"earned_file": fix(self.policy.earned_file) if self.policy.earned_file else None}
                ),
            }
        )


def load_config(path: str | Path, *, check_tools: bool = True) -> FirstlineConfig:
    """Load and validate config.yaml. Errors name the file and the offending field.

    ``check_tools=False`` leaves the tool instances' own settings to the caller: ``firstline tools
    list|check`` report a broken instance next to the working ones instead of refusing to start.
    """
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
    return parse_config(raw, origin=str(path), check_tools=check_tools).resolve_paths(path.resolve().parent)


def parse_config(raw: dict[str, Any], *, origin: str = "config", check_tools: bool = True) -> FirstlineConfig:
    """Validate every section, the tool instances' settings included (by their adapter's own model)."""
    try:
        config = FirstlineConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{origin}: {problems}") from exc
    if check_tools:
        _validate_tool_settings(config.tools, origin=origin)
    return config


def _validate_tool_settings(tools: dict[str, dict[str, Any]], *, origin: str) -> None:
    """Each ``tools.<name>`` against its kind's settings model, so a typo fails at load, not at first use.

    Secrets are not read here (only the names of their variables are checked): an unset secret is
    reported when the tools are built, by ``firstline tools check`` and at start.
    """
    if not tools:
        return
    from tools.registry import available_kinds, parse_settings, resolve_kind

    kinds = available_kinds()
    for name, raw in tools.items():
        try:
            adapter_cls, rest = resolve_kind(name, raw, kinds)
            parse_settings(name, adapter_cls, rest)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from exc
