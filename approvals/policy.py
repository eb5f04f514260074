"""Who may approve what: configuration and safety metadata in, a named rule and a verdict out.

`ApproverPolicy.rule_for` picks the first rule of ``approvals.rules`` that matches the action's class,
service and environment (no rules at all: the built-in rule ``default``, any signed-in user). The rule
says who may approve and how many distinct approvers it takes; the **two-person rule** raises that to
two for destructive, irreversible or wide-blast-radius calls (``approvals.two_person``).

`ApproverPolicy.check` answers one person's vote. It refuses, naming the rule, when the person is not
among the rule's approvers, or when their approval would make the requester of an edit its only
approver. `quorum` says whether the approvals recorded so far are enough.
"""

from __future__ import annotations

from dataclasses import dataclass

from approvals.identity import User
from approvals.settings import ApprovalRule, Approvers, TwoPersonSettings
from tools.base import SafetyMetadata

DEFAULT_RULE = ApprovalRule(name="default", approvers=Approvers())


@dataclass(frozen=True)
class ActionContext:
    """What the policy reads about one pending action: its call's safety, where it runs, who owns it."""

    action_class: str
    service: str
    environment: str
    safety: SafetyMetadata
    owner_team: str = ""
    oncall_handle: str = ""


@dataclass(frozen=True)
class Requirement:
    """The rule that governs an action, who it lets approve, and how many distinct approvers it takes."""

    rule: str
    approvers: str
    required: int
    two_person_reason: str = ""

    def describe(self) -> str:
        count = "one approval" if self.required == 1 else f"{self.required} distinct approvers"
        extra = f" (two-person rule: {self.two_person_reason})" if self.two_person_reason else ""
        return f"rule {self.rule}: {count} from {self.approvers}{extra}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str
    reason: str


class ApproverPolicy:
    """Decides who may approve from ``approvals.rules`` and ``approvals.two_person``; never from a model."""

    def __init__(self, rules: list[ApprovalRule], two_person: TwoPersonSettings) -> None:
        self.rules = rules
        self.two_person = two_person

    def rule_for(self, action: ActionContext) -> ApprovalRule:
        if not self.rules:
            return DEFAULT_RULE
        for rule in self.rules:
            if (
                (not rule.action_classes or action.action_class in rule.action_classes)
                and (not rule.services or action.service in rule.services)
                and (not rule.environments or action.environment in rule.environments)
            ):
                return rule
        return ApprovalRule(name="no-matching-rule", approvers=Approvers())

    def two_person_reason(self, safety: SafetyMetadata) -> str:
        reasons = []
        if self.two_person.destructive and safety.destructive:
            reasons.append("destructive")
        if self.two_person.irreversible and safety.reversible is False:
            reasons.append("irreversible")
        if safety.blast_radius in self.two_person.blast_radius:
            reasons.append(f"blast radius {safety.blast_radius}")
        return ", ".join(reasons)

    def requirement(self, action: ActionContext) -> Requirement:
        rule = self.rule_for(action)
        if rule is DEFAULT_RULE:
            who = "any signed-in user (no approvals.rules configured)"
        elif rule.name == "no-matching-rule":
            who = (
                f"nobody: no rule in approvals.rules matches action class {action.action_class}, service "
                f"{action.service or '-'}, environment {action.environment}"
            )
        else:
            who = rule.approvers.describe()
        reason = self.two_person_reason(action.safety)
        required = max(rule.required, 2 if reason else 1)
        return Requirement(rule=rule.name, approvers=who, required=required, two_person_reason=reason)

    def may_approve(self, user: User, action: ActionContext) -> Verdict:
        """May ``user`` vote on this action at all (approve, edit or reject)?"""
        rule = self.rule_for(action)
        if rule is DEFAULT_RULE:
            return Verdict(True, rule.name, "any signed-in user may approve (no approvals.rules configured)")
        if rule.name == "no-matching-rule":
            return Verdict(
                False,
                rule.name,
                f"no rule in approvals.rules matches action class {action.action_class}, service "
                f"{action.service or '-'}, environment {action.environment}; nobody may approve it",
            )
        who = rule.approvers
        if user.name in who.users:
            return Verdict(True, rule.name, f"{user.name} is named in rule {rule.name}")
        shared = sorted(set(who.groups) & set(user.groups))
        if shared:
            return Verdict(True, rule.name, f"{user.name} is in group {shared[0]} (rule {rule.name})")
        if who.owner_team and action.owner_team and action.owner_team in user.groups:
            return Verdict(True, rule.name, f"{user.name} is in the owner team {action.owner_team} (rule {rule.name})")
        if who.oncall and action.oncall_handle and action.oncall_handle in user.handles:
            return Verdict(True, rule.name, f"{user.name} is the on-call {action.oncall_handle} (rule {rule.name})")
        return Verdict(
            False, rule.name, f"rule {rule.name} lets {who.describe()} approve this action; {user.name} is none of them"
        )

    def check_approval(self, user: User, action: ActionContext, *, approvers: set[str]) -> Verdict:
        """May ``user`` approve now, given who already approved these arguments? (`quorum` then says
        whether that is enough: an editor's own approval never is.)"""
        verdict = self.may_approve(user, action)
        if not verdict.allowed:
            return verdict
        if user.name in approvers:
            return Verdict(False, verdict.rule, f"{user.name} has already approved these arguments")
        return verdict

    def quorum(self, requirement: Requirement, approvers: set[str], editor: str | None) -> tuple[bool, str]:
        """Enough approvals? And if not, what is still missing (for the card and the answer)."""
        if editor is not None and approvers <= {editor}:
            return (
                False,
                f"edited by {editor}: the requester of an edit cannot be its only approver; needs another approver",
            )
        if len(approvers) >= requirement.required:
            return True, ""
        missing = requirement.required - len(approvers)
        return False, f"{missing} more distinct approver{'s' if missing > 1 else ''} needed ({requirement.describe()})"
