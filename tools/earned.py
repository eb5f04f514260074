"""Earned autonomy rules: ``auto`` for one action class on one service in one environment, granted by a human.

A rule is earned from a track record (see `tools.autonomy`) and accepted by a named person with
``firstline autonomy promote``; it is never written by the software on its own. It is kept in its own
policy file (``policy.earned_file``), next to the configuration, one entry per rule, each saying where
it came from: who promoted it, when, and the evidence (the counts and the incidents). A failure or a
rollback demotes it: the entry stays in the file, marked with when and why, so the history is visible::

    rules:
    - action_class: restart
      service: checkout
      environment: production
      promoted_by: alice
      promoted_at: '2026-03-02T10:00:00+00:00'
      evidence: {verified_in_a_row: 5, days: 21.0, incidents: [inc-1, inc-2, ...]}
      demoted_at: null

The file is rewritten whole (to a temporary file, then renamed) so a reader never sees half of it.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class EarnedRuleError(ValueError):
    """The earned-rules file cannot be read; the message names the file and the field."""


class Evidence(BaseModel):
    """The track record a promotion rests on, as it stood when the human accepted it."""

    model_config = ConfigDict(extra="forbid")

    verified_in_a_row: int
    days: float = Field(description="Days between the first and the last verified success of the run.")
    proposals: int = 0
    approvals: int = 0
    rejections: int = 0
    edits: int = 0
    incidents: list[str] = Field(default_factory=list, description="The incidents of the verified run, oldest first.")


class EarnedRule(BaseModel):
    """``auto`` for ``action_class`` on ``service`` in ``environment``, with where it came from."""

    model_config = ConfigDict(extra="forbid")

    action_class: str
    service: str
    environment: str
    promoted_by: str
    promoted_at: datetime
    evidence: Evidence
    comment: str = ""
    demoted_at: datetime | None = None
    demoted_reason: str = ""

    @property
    def active(self) -> bool:
        return self.demoted_at is None

    def matches(self, action_class: str, service: str, environment: str) -> bool:
        return (self.action_class, self.service, self.environment) == (action_class, service, environment)


class EarnedRulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[EarnedRule] = Field(default_factory=list)


def read_earned_rules(path: Path) -> list[EarnedRule]:
    """The rules in ``path``; none when the file does not exist yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        raw: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise EarnedRuleError(f"{path} is not valid YAML: {exc}") from exc
    try:
        return EarnedRulesFile.model_validate(raw).rules
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise EarnedRuleError(f"{path}: {problems}") from exc


_HEADER = (
    "# Earned autonomy: `auto` per action class x service x environment, each accepted by a human\n"
    "# (`firstline autonomy promote`) with the evidence it rested on. A failure or a rollback demotes a rule\n"
    "# (demoted_at, demoted_reason); demoted rules stay here as history. Written by firstline.\n"
)


def write_earned_rules(path: Path, rules: list[EarnedRule]) -> None:
    """Replace the file with ``rules`` atomically (a temporary file renamed over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump(
        EarnedRulesFile(rules=rules).model_dump(mode="json"), sort_keys=False, default_flow_style=False
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(_HEADER + body)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
