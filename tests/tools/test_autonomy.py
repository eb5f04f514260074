"""Earned autonomy: the track record from incident records, the policy's earned rules, demotion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tools.autonomy import action_events, setbacks_since_promotion, track_records
from tools.base import SafetyMetadata
from tools.earned import EarnedRule, EarnedRuleError, Evidence, read_earned_rules, write_earned_rules
from tools.ledger import ActionLedger, ClaimRefused
from tools.policy import ApprovalPolicy, AutonomyThresholds, PolicySettings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESTART = SafetyMetadata(
    mutating=True, reversible=True, undo="none", blast_radius="service", approval_tier="approve", action_class="restart"
)
WIDE = SafetyMetadata(
    mutating=True, reversible=True, undo="x", blast_radius="cluster", approval_tier="approve", action_class="drain"
)
IRREVERSIBLE = SafetyMetadata(
    mutating=True,
    reversible=False,
    destructive=True,
    blast_radius="service",
    approval_tier="approve",
    action_class="delete",
)
SAFETY = {"k8s.restart": RESTART, "k8s.drain": WIDE, "k8s.delete": IRREVERSIBLE}


def record(
    n: int,
    *,
    day: float,
    status: str = "verified",
    by: str | None = "alice",
    decision: str = "approved",
    edited: bool = False,
    service: str = "checkout",
    tool: str = "k8s.restart",
    incident_status: str = "resolved",
    timeline: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    start = T0 + timedelta(days=day)
    approval = (
        None
        if by is None
        else {
            "decision": decision,
            "by": by,
            "at": (start + timedelta(minutes=3)).isoformat(),
            "comment": "",
            "edited_from": {"replicas": 1} if edited else None,
        }
    )
    return {
        "id": f"inc-{n}",
        "status": incident_status,
        "service": service,
        "alert": {"started_at": start.isoformat(), "service": service},
        "actions": [
            {
                "id": f"a{n}",
                "tool": tool,
                "kind": "remediation",
                "status": status,
                "approval": approval,
                "requires_approval": True,
            },
            {"id": f"c{n}", "tool": "slack.post_message", "kind": "communication", "status": "executed"},
        ],
        "timeline": timeline or [{"at": start.isoformat(), "kind": "opened", "text": ""}],
    }


def policy(tmp_path: Path | None = None, **thresholds: Any) -> ApprovalPolicy:
    settings = PolicySettings(
        autonomy=AutonomyThresholds(**{"min_verified_in_a_row": 3, "min_days": 7, **thresholds}),
        earned_file=(tmp_path / "earned.yaml") if tmp_path else None,
    )
    return ApprovalPolicy(settings)


def rule(service: str = "checkout", action_class: str = "restart", at: datetime = T0) -> EarnedRule:
    return EarnedRule(
        action_class=action_class,
        service=service,
        environment="production",
        promoted_by="alice",
        promoted_at=at,
        evidence=Evidence(verified_in_a_row=3, days=10, incidents=["inc-1", "inc-2", "inc-3"]),
    )


def test_counts_every_proposal_approval_edit_rejection_and_outcome() -> None:
    records = [
        record(1, day=0),
        record(2, day=1, edited=True),
        record(3, day=2, by="bob", decision="rejected", status="rejected"),
        record(4, day=3, status="failed"),
        record(5, day=4, status="executed"),  # ran, the incident ended, never verified
        record(6, day=5, timeline=[{"at": T0.isoformat(), "kind": "rolled_back", "text": "undid a6 by hand"}]),
        record(7, day=6, by="policy:auto"),
        record(8, day=7, status="proposed", by=None, incident_status="awaiting_approval"),
    ]
    [track] = track_records(records, safety_of=SAFETY.get, policy=policy())
    assert (track.action_class, track.service, track.environment) == ("restart", "checkout", "production")
    assert track.proposals == 8
    assert (track.approvals, track.auto_runs, track.rejections, track.edits) == (5, 1, 1, 1)
    assert (track.verified, track.failed, track.failed_verifications, track.rollbacks) == (3, 1, 1, 1)
    # After the rollback of inc-6, only inc-7 was verified; inc-8 is still waiting.
    assert track.run == 1 and track.run_incidents == ["inc-7"]
    assert track.last_setback == "rolled back in inc-6"
    assert track.standing == "not_yet"


def test_recommends_auto_after_enough_verified_successes_over_enough_days() -> None:
    records = [record(i, day=i * 4) for i in range(1, 4)]  # days 4, 8, 12: spans 8 days
    [track] = track_records(records, safety_of=SAFETY.get, policy=policy())
    assert track.standing == "recommended", track.reason
    assert track.run == 3 and track.run_days == 8.0
    assert "3 verified successes in a row over 8.0 days" in track.reason


def test_too_short_a_span_or_too_few_successes_is_not_yet() -> None:
    fast = [record(i, day=i) for i in range(1, 4)]  # spans 2 days
    [track] = track_records(fast, safety_of=SAFETY.get, policy=policy())
    assert track.standing == "not_yet" and "spans 2.0 of 7 days" in track.reason
    few = [record(1, day=0), record(2, day=10)]
    [track] = track_records(few, safety_of=SAFETY.get, policy=policy())
    assert track.standing == "not_yet" and track.reason.startswith("2 of 3 verified")


def test_an_edit_or_a_failure_restarts_the_run() -> None:
    records = [record(1, day=0), record(2, day=5), record(3, day=10, edited=True), record(4, day=15)]
    [track] = track_records(records, safety_of=SAFETY.get, policy=policy())
    assert track.run == 1 and track.last_setback == "edited in inc-3"
    records[3] = record(4, day=15, status="failed")
    [track] = track_records(records, safety_of=SAFETY.get, policy=policy())
    assert track.run == 0 and track.last_setback == "failed in inc-4"


def test_each_service_has_its_own_track_record() -> None:
    records = [record(i, day=i * 4) for i in range(1, 4)] + [record(9, day=1, service="search")]
    tracks = {t.service: t for t in track_records(records, safety_of=SAFETY.get, policy=policy())}
    assert tracks["checkout"].standing == "recommended"
    assert tracks["search"].standing == "not_yet" and tracks["search"].proposals == 1


@pytest.mark.parametrize(
    "tool, why", [("k8s.drain", "blast radius cluster is wider than service"), ("k8s.delete", "destructive")]
)
def test_wide_or_irreversible_actions_never_earn_auto(tool: str, why: str) -> None:
    records = [record(i, day=i * 4, tool=tool) for i in range(1, 6)]
    [track] = track_records(records, safety_of=SAFETY.get, policy=policy())
    assert track.run == 5
    assert track.standing == "ineligible" and track.reason == why


def test_a_configured_forbid_is_never_lifted() -> None:
    settings = PolicySettings(
        rules={"restart": {"default": "forbid"}}, autonomy=AutonomyThresholds(min_verified_in_a_row=1)
    )
    forbidding = ApprovalPolicy(settings, earned=[rule()])
    records = [record(i, day=i * 4) for i in range(1, 4)]
    [track] = track_records(records, safety_of=SAFETY.get, policy=ApprovalPolicy(settings, earned=[]))
    assert track.standing == "ineligible" and "forbid" in track.reason
    assert forbidding.decide(RESTART, service="checkout").tier == "forbid"


def test_an_earned_rule_lifts_approve_to_auto_for_its_service_only() -> None:
    earned = ApprovalPolicy(PolicySettings(), earned=[rule()])
    assert earned.decide(RESTART, service="checkout").tier == "auto"
    assert "promoted by alice" in earned.decide(RESTART, service="checkout").reason
    assert earned.scoped("checkout").decide(RESTART).tier == "auto"
    assert earned.decide(RESTART, service="search").tier == "approve"
    assert earned.decide(RESTART).tier == "approve"  # no service: no earned rule applies
    assert earned.decide(RESTART, service="checkout", environment="staging").tier == "approve"
    wide = rule(action_class="drain")
    assert ApprovalPolicy(PolicySettings(), earned=[wide]).decide(WIDE, service="checkout").tier == "approve"


def test_a_mutating_call_without_approval_or_an_allowing_rule_is_refused_by_the_ledger(tmp_path: Path) -> None:
    earned = ApprovalPolicy(PolicySettings(), earned=[rule()])
    ledger = ActionLedger(tmp_path / "ledger.sqlite")
    try:
        tier = earned.decide(RESTART, service="search").tier
        with pytest.raises(ClaimRefused, match="needs an approval"):
            ledger.claim(incident_id="inc-1", action_id="a1", tool="k8s.restart", args_hash="h", tier=tier)
        allowed = earned.decide(RESTART, service="checkout").tier
        claim = ledger.claim(incident_id="inc-2", action_id="a1", tool="k8s.restart", args_hash="h", tier=allowed)
        assert claim.grant is not None
        decision = ledger.get_decision("inc-2", "a1")
        assert decision is not None and decision.decided_by == "policy:auto"
    finally:
        ledger.close()


def test_demotion_marks_the_rule_everywhere_and_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "earned.yaml"
    other = rule(service="search")
    write_earned_rules(path, [rule(), other])
    base = policy(tmp_path)
    scoped = base.scoped("checkout")
    assert scoped.decide(RESTART).tier == "auto"
    demoted = base.demote("restart", "checkout", reason="a failed verification in inc-9", at=T0 + timedelta(days=30))
    assert demoted is not None and not demoted.active
    assert scoped.decide(RESTART).tier == "approve"  # the scoped policy of a running incident sees it at once
    stored = read_earned_rules(path)
    assert [(r.service, r.active) for r in stored] == [("checkout", False), ("search", True)]
    assert stored[0].demoted_reason == "a failed verification in inc-9" and stored[0].promoted_by == "alice"
    assert "promoted_by: alice" in path.read_text()  # the file says where each rule came from
    assert base.demote("restart", "checkout", reason="again", at=T0) is None  # nothing active to demote


def test_setbacks_after_the_promotion_are_found_for_demotion() -> None:
    records = [record(i, day=i * 4) for i in range(1, 4)] + [record(4, day=20, status="failed")]
    earned = ApprovalPolicy(policy().settings, earned=[rule(at=T0 + timedelta(days=14))])
    [track] = track_records(records, safety_of=SAFETY.get, policy=earned)
    assert track.standing == "auto"
    assert [e.incident_id for e in setbacks_since_promotion(track)] == ["inc-4"]


def test_a_broken_earned_file_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "earned.yaml"
    path.write_text("rules:\n- action_class: restart\n  service: checkout\n")
    with pytest.raises(EarnedRuleError, match=r"earned.yaml: rules.0.environment"):
        read_earned_rules(path)


def test_an_action_of_an_unparseable_record_is_skipped() -> None:
    assert action_events({"id": "x", "status": "open", "actions": [{"id": "a"}]}) == []
