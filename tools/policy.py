"""The approval policy: decides from safety metadata and configuration alone, never from a model.

Resolution for a call, most specific first:
1. a rule for its action class in the current environment (``policy.rules.<class>.<env>``);
2. a rule for its action class in any environment (``policy.rules.<class>.default``);
3. the maturity preset (``crawl``: every mutating action is only a suggestion, so ``forbid``;
   ``walk``: every mutating action needs a human, so ``approve``; ``run``: the call's declared tier);
Read-only calls are always ``auto``. A destructive, irreversible call is never ``auto``: a rule that
says so is raised to ``approve`` (humans hold the pen on what cannot be undone).

**Earned autonomy** (README "Earned autonomy") then may lift an ``approve`` to ``auto`` for one action
class on one service in one environment, when a human accepted that promotion (`tools.earned`, the
``policy.earned_file``) and the call is reversible, not destructive and its blast radius is no wider than
``policy.autonomy.max_blast_radius``. It never lifts ``forbid`` and never applies without a service.
A failure or a rollback demotes the rule (`ApprovalPolicy.demote`), here and in the file.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.base import ApprovalTier, SafetyMetadata
from tools.earned import EarnedRule, read_earned_rules, write_earned_rules
from tools.values import BlastRadius

Maturity = Literal["crawl", "walk", "run"]
# Narrowest first: a rule allowing up to "service" allows "none" and "single_resource" too.
BLAST_RADIUS_ORDER: tuple[BlastRadius, ...] = ("none", "single_resource", "service", "namespace", "cluster", "external")


class AutonomyThresholds(BaseModel):
    """When a track record earns a recommendation for ``auto`` (``policy.autonomy``)."""

    model_config = ConfigDict(extra="forbid")

    min_verified_in_a_row: int = Field(default=5, ge=1, description="Verified successes in a row, none failed since.")
    min_days: float = Field(default=7.0, ge=0, description="Days the run of verified successes must span.")
    max_blast_radius: BlastRadius = Field(default="service", description="No wider than this (and reversible).")


def within_blast_radius(radius: BlastRadius, limit: BlastRadius) -> bool:
    return BLAST_RADIUS_ORDER.index(radius) <= BLAST_RADIUS_ORDER.index(limit)


def may_earn_autonomy(safety: SafetyMetadata, limit: BlastRadius) -> tuple[bool, str]:
    """Can a call with this safety ever run on earned autonomy? (And if not, why not, for people.)"""
    if not safety.mutating:
        return False, "read-only: always auto already"
    if safety.destructive:
        return False, "destructive"
    if safety.reversible is not True:
        return False, "not reversible"
    if not within_blast_radius(safety.blast_radius, limit):
        return False, f"blast radius {safety.blast_radius} is wider than {limit}"
    return True, ""


class PolicySettings(BaseModel):
    """The ``policy:`` section of config.yaml."""

    model_config = ConfigDict(extra="forbid")

    environment: str = "production"
    maturity: Maturity = "walk"
    rules: dict[str, dict[str, ApprovalTier]] = Field(
        default_factory=dict,
        description="action class -> environment (or 'default') -> auto | approve | forbid",
    )
    autonomy: AutonomyThresholds = Field(default_factory=AutonomyThresholds)
    earned_file: Path | None = Field(
        default=None,
        description="The earned autonomy rules file (written by `firstline autonomy promote`); null: none.",
    )


class PolicyDecision(BaseModel):
    tier: ApprovalTier
    reason: str


class ApprovalPolicy:
    """Maps a call's safety metadata to auto / approve / forbid."""

    def __init__(
        self,
        settings: PolicySettings | None = None,
        *,
        earned: list[EarnedRule] | None = None,
        service: str = "",
    ) -> None:
        self.settings = settings or PolicySettings()
        # Shared (not copied) by `scoped` policies, so a demotion seen by one is seen by all.
        if earned is None:
            earned = read_earned_rules(self.settings.earned_file) if self.settings.earned_file else []
        self.earned = earned
        self.service = service

    def scoped(self, service: str) -> ApprovalPolicy:
        """The same policy deciding for calls on ``service`` (where earned rules can apply)."""
        return ApprovalPolicy(self.settings, earned=self.earned, service=service)

    def earned_rule(self, action_class: str, service: str, environment: str | None = None) -> EarnedRule | None:
        env = environment or self.settings.environment
        return next((r for r in self.earned if r.active and r.matches(action_class, service, env)), None)

    def decide(
        self, safety: SafetyMetadata, *, environment: str | None = None, service: str | None = None
    ) -> PolicyDecision:
        decided = self._configured(safety, environment=environment)
        if decided.tier != "approve":
            return decided
        target = service if service is not None else self.service
        rule = self.earned_rule(safety.action_class, target, environment) if target else None
        allowed, _ = may_earn_autonomy(safety, self.settings.autonomy.max_blast_radius)
        if rule is None or not allowed:
            return decided
        return PolicyDecision(
            tier="auto",
            reason=(
                f"earned autonomy: {rule.action_class} on {rule.service} in {rule.environment}, promoted by "
                f"{rule.promoted_by} on {rule.promoted_at:%Y-%m-%d} after {rule.evidence.verified_in_a_row} "
                "verified successes in a row"
            ),
        )

    def demote(
        self, action_class: str, service: str, *, reason: str, at: datetime, environment: str | None = None
    ) -> EarnedRule | None:
        """Demote the active earned rule for this class, service and environment (None: there was none).

        The rule is marked here (every scoped policy sees it at once) and in the file, re-read first so a
        promotion written meanwhile by another process is kept.
        """
        env = environment or self.settings.environment
        rule = self.earned_rule(action_class, service, env)
        if rule is None:
            return None
        demoted = rule.model_copy(update={"demoted_at": at, "demoted_reason": reason})
        self.earned[self.earned.index(rule)] = demoted
        path = self.settings.earned_file
        if path is not None:
            stored = read_earned_rules(path)
            found = any(r.active and r.matches(action_class, service, env) for r in stored)
            stored = [demoted if r.active and r.matches(action_class, service, env) else r for r in stored]
            write_earned_rules(path, stored if found else [*stored, demoted])
        return demoted

    def _configured(self, safety: SafetyMetadata, *, environment: str | None) -> PolicyDecision:
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
