"""Who may approve: rules by action class, service and environment; the two-person and editor rules."""

from __future__ import annotations

from approvals.identity import User
from approvals.policy import ActionContext, ApproverPolicy
from approvals.settings import ApprovalRule, Approvers, TwoPersonSettings
from tools.base import SafetyMetadata

ROLLBACK = SafetyMetadata(
    mutating=True,
    reversible=True,
    undo="roll forward",
    blast_radius="service",
    approval_tier="approve",
    action_class="rollback",
)
DRAIN = SafetyMetadata(
    mutating=True,
    destructive=True,
    reversible=False,
    blast_radius="cluster",
    approval_tier="approve",
    action_class="drain",
)

ALICE = User("alice", groups=("sre",))
BOB = User("bob", groups=("team-payments",))
DANA = User("dana", handles=("@dana",))
EVE = User("eve")


def _ctx(
    safety: SafetyMetadata = ROLLBACK, *, service: str = "svc-a", environment: str = "production"
) -> ActionContext:
    return ActionContext(
        action_class=safety.action_class,
        service=service,
        environment=environment,
        safety=safety,
        owner_team="team-payments",
        oncall_handle="@dana",
    )


def _policy() -> ApproverPolicy:
    return ApproverPolicy(
        [
            ApprovalRule(
                name="prod-rollbacks",
                action_classes=["rollback"],
                environments=["production"],
                approvers=Approvers(groups=["sre"], owner_team=True, oncall=True),
            ),
            ApprovalRule(name="staging-anything", environments=["staging"], approvers=Approvers(users=["eve"])),
        ],
        TwoPersonSettings(),
    )


def test_a_rule_admits_its_groups_the_owner_team_and_the_oncall_and_refuses_others_naming_itself() -> None:
    policy = _policy()
    assert policy.may_approve(ALICE, _ctx()).allowed
    assert policy.may_approve(BOB, _ctx()).allowed  # the catalog's owner team, as a group
    assert policy.may_approve(DANA, _ctx()).allowed  # the on-call's handle
    refused = policy.may_approve(EVE, _ctx())
    assert not refused.allowed
    assert refused.rule == "prod-rollbacks"
    assert "prod-rollbacks" in refused.reason and "eve" in refused.reason


def test_rules_match_by_environment_and_the_first_match_wins() -> None:
    policy = _policy()
    assert policy.may_approve(EVE, _ctx(environment="staging")).allowed
    assert not policy.may_approve(ALICE, _ctx(environment="staging")).allowed


def test_an_action_no_rule_matches_may_be_approved_by_nobody() -> None:
    verdict = _policy().may_approve(ALICE, _ctx(DRAIN))
    assert not verdict.allowed
    assert verdict.rule == "no-matching-rule"
    assert "drain" in verdict.reason


def test_without_rules_any_signed_in_user_may_approve() -> None:
    policy = ApproverPolicy([], TwoPersonSettings())
    assert policy.may_approve(EVE, _ctx()).allowed
    assert policy.requirement(_ctx()).rule == "default"


def test_the_two_person_rule_applies_to_destructive_irreversible_or_wide_actions() -> None:
    policy = ApproverPolicy([ApprovalRule(name="all", approvers=Approvers(groups=["sre"]))], TwoPersonSettings())
    assert policy.requirement(_ctx()).required == 1
    wide = policy.requirement(_ctx(DRAIN))
    assert wide.required == 2
    assert "destructive" in wide.two_person_reason and "irreversible" in wide.two_person_reason
    assert "cluster" in wide.two_person_reason
    assert policy.quorum(wide, {"alice"}, None)[0] is False
    assert policy.quorum(wide, {"alice", "bob"}, None)[0] is True


def test_the_requester_of_an_edit_cannot_be_its_only_approver() -> None:
    policy = _policy()
    requirement = policy.requirement(_ctx())
    done, missing = policy.quorum(requirement, {"alice"}, "alice")
    assert not done
    assert "cannot be its only approver" in missing
    assert policy.quorum(requirement, {"alice", "bob"}, "alice")[0]


def test_nobody_approves_the_same_arguments_twice() -> None:
    verdict = _policy().check_approval(ALICE, _ctx(), approvers={"alice"})
    assert not verdict.allowed
    assert "already approved" in verdict.reason
