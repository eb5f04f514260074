"""The approval policy: decides from safety metadata and configuration alone, never from a model.

Resolution for a call, most specific first:
1. a rule for its action class in the current environment (``policy.rules.<class>.<env>``);
2. a rule for its action class in any environment (``policy.rules.<class>.default``);
3. the maturity preset (``crawl``: every mutating action is only a suggestion, so ``forbid``;
   ``walk``: every mutating action needs a human, so ``approve``; ``run``: the call's declared tier);
Read-only calls are always ``auto``. A destructive, irreversible call is never ``auto``: a rule that
says so is raised to ``approve`` (humans hold the pen on what cannot be undone).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.base import ApprovalTier, SafetyMetadata

Maturity = Literal["crawl", "walk", "run"]


class PolicySettings(BaseModel):
    """The ``policy:`` section of config.yaml."""

    model_config = ConfigDict(extra="forbid")

    environment: str = "production"
    maturity: Maturity = "walk"
    rules: dict[str, dict[str, ApprovalTier]] = Field(
        default_factory=dict,
        description="action class -> environment (or 'default') -> auto | approve | forbid",
    )


class PolicyDecision(BaseModel):
    tier: ApprovalTier
    reason: str


class ApprovalPolicy:
    """Maps a call's safety metadata to auto / approve / forbid."""

    def __init__(self, settings: PolicySettings | None = None) -> None:
        self.settings = settings or PolicySettings()

    def decide(self, safety: SafetyMetadata, *, environment: str | None = None) -> PolicyDecision:
        if not safety.mutating:
            return PolicyDecision(tier="auto", reason="read-only call")
        env = environment or self.settings.environment
        by_env = self.settings.rules.get(safety.action_class, {})
        if env in by_env:
            tier, reason = by_env[env], f"rule {safety.action_class}.{env}"
        elif "default" in by_env:
            tier, reason = by_env["default"], f"rule {safety.action_class}.default"
        elif self.settings.maturity == "crawl":
            tier, reason = "forbid", "maturity crawl: mutating actions are suggestions only"
        elif self.settings.maturity == "walk":
            tier, reason = "approve", "maturity walk: every mutating action needs a human"
        else:
            tier = safety.approval_tier or "approve"
            reason = f"maturity run: the call's declared tier ({tier})"
        if tier == "auto" and safety.destructive and not safety.reversible:
            return PolicyDecision(tier="approve", reason=f"{reason}, raised to approve: destructive and irreversible")
        return PolicyDecision(tier=tier, reason=reason)
