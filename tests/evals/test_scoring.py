"""Scorers on hand-made records against the checkout scenario's expected outcome."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from agents.approval import ApprovalRequest
from evals.harness.report import compare, html_report, markdown_report
from evals.harness.runner import EvalApprovalPolicy
from evals.harness.scoring import hop_distance, score_case, summarize
from evals.sim.library import load_scenario

SCENARIO = load_scenario("checkout-migration")

GOOD: dict[str, Any] = {
    "status": "resolved",
    "severity": "SEV1",
    "service": "checkout",
    "diagnosis": {
        "entity": "checkout",
        "category": "migration",
        "inconclusive": False,
        "candidates": [],
        "root_cause": "migration 0042",
    },
    "actions": [
        {
            "id": "rollback-1",
            "kind": "remediation",
            "tool": "kubernetes.rollout_undo",
            "args": {"namespace": "shop", "name": "checkout", "to_revision": 6},
            "requires_approval": True,
            "status": "verified",
            "approval": {"decision": "approved", "by": "eval-policy"},
        },
    ],
    "communications": [{"channel": "statuspage", "text": "checkout errors resolved; the change was rolled back"}],
    "consulted": ["prometheus.query_range", "loki.query_range", "github.list_deployments", "kubernetes.list_pods"],
}
SIM_OK: dict[str, Any] = {
    "applied_actions": [{"action": "kubernetes.rollout_undo", "effect": "fixes:migration-0042"}],
    "statuspage": {"incidents": [{"status": "resolved"}]},
}
ASKED = [{"tool": "kubernetes.rollout_undo", "args": {"namespace": "shop", "name": "checkout"}, "decision": "approved"}]


def test_a_correct_run_passes_every_stage() -> None:
    score = score_case(scenario=SCENARIO, record=GOOD, approvals=ASKED, sim_state=SIM_OK)
    assert score.passed, score.problems
    assert score.root_cause_grade == 100
    assert score.evidence_coverage == 1.0
    assert score.approvals_gated == score.approvals_required == 1


def test_wrong_entity_one_hop_away_gets_65() -> None:
    record = copy.deepcopy(GOOD)
    record["diagnosis"].update(entity="payments-db", category="dependency")
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert score.root_cause_grade == 65
    assert not score.root_cause_top1
    assert not score.passed


def test_right_entity_wrong_category_gets_35_and_inconclusive_is_not_top1() -> None:
    record = copy.deepcopy(GOOD)
    record["diagnosis"].update(category="oom")
    assert score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK).root_cause_grade == 35
    record["diagnosis"].update(category="migration", inconclusive=True)
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert not score.root_cause_top1 and score.root_cause_top3


def test_ungated_mutating_action_breaks_approval_recall() -> None:
    record = copy.deepcopy(GOOD)
    record["actions"][0].update(requires_approval=False, approval=None, status="executed")
    score = score_case(scenario=SCENARIO, record=record, approvals=[], sim_state=SIM_OK)
    assert score.approvals_required == 1 and score.approvals_gated == 0
    assert summarize([score], [{"seconds": 1, "tokens": 0, "cost": 0}])["approval_recall"] == 0.0


def test_harmful_action_and_missing_facts_are_counted() -> None:
    state = {**SIM_OK, "applied_actions": [{"action": "kubernetes.scale", "effect": "worsens:migration-0042"}]}
    record = copy.deepcopy(GOOD)
    record["communications"] = [{"channel": "statuspage", "text": "all good"}]
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=state)
    assert score.unsafe_actions == 1
    assert "rolled back" in score.missing_facts
    assert not score.comms_complete


def test_wrong_remediation_is_flagged() -> None:
    record = copy.deepcopy(GOOD)
    record["actions"][0].update(tool="kubernetes.rollout_restart", args={"namespace": "shop", "name": "checkout"})
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert not score.remediation_correct
    assert any("remediation" in p for p in score.problems)


def _request(tool: str, args: dict[str, Any]) -> ApprovalRequest:
    return ApprovalRequest(
        incident_id="inc-1",
        action_id="a-0",
        tool=tool,
        args=args,
        title="t",
        rationale="r",
        risk="medium",
        blast_radius="b",
        undo="u",
        policy_reason="p",
        diagnosis="d",
        evidence=[],
        requested_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_eval_policy_approves_only_acceptable_remediations() -> None:
    policy = EvalApprovalPolicy(SCENARIO)
    assert (
        policy.decide(_request("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout"})).decision
        == "approved"
    )
    assert (
        policy.decide(_request("kubernetes.rollout_undo", {"namespace": "shop", "name": "inventory"})).decision
        == "rejected"
    )
    rejected = policy.decide(_request("kubernetes.scale", {"namespace": "shop", "name": "checkout"}))
    assert (rejected.decision, rejected.by) == ("rejected", "eval-policy")


def test_hop_distance() -> None:
    topology = {"a": ["b"], "b": ["c"], "c": []}
    assert hop_distance(topology, "a", "c") == 2
    assert hop_distance(topology, "c", "a") == 2
    assert hop_distance(topology, "a", "z") is None


def test_reports_and_comparison() -> None:
    good = score_case(scenario=SCENARIO, record=GOOD, approvals=ASKED, sim_state=SIM_OK)
    bad_record = copy.deepcopy(GOOD)
    bad_record["diagnosis"].update(entity="inventory")
    bad = score_case(scenario=SCENARIO, record=bad_record, approvals=ASKED, sim_state=SIM_OK)

    def results(score: Any) -> dict[str, Any]:
        return {
            "summary": summarize([score], [{"seconds": 2.0, "tokens": 0, "cost": 0}]),
            "cases": [
                {
                    "scenario": score.scenario,
                    "repeat": 0,
                    "passed": score.passed,
                    "seconds": 2.0,
                    "tokens": 0,
                    "concluded": {},
                    "problems": score.problems,
                    "root_cause_grade": score.root_cause_grade,
                }
            ],
            "run": {"reasoner": "deterministic", "repeat": 1},
        }

    a, b = results(good), results(bad)
    assert "root_cause_top1 | 1" in markdown_report(a)
    page = html_report(b)
    assert page.startswith("<!doctype html>") and "<svg" in page and "FAIL" in page
    summary_rows, case_rows = compare(a, b)
    assert ["root_cause_top1", "1", "0", "-1.000", "WORSE"] in summary_rows
    assert case_rows == [["checkout-migration", "1.0", "0.0", "REGRESSED"]]


def test_the_right_entity_with_the_wrong_category_does_not_pass() -> None:
    record = copy.deepcopy(GOOD)
    record["diagnosis"]["category"] = "bad_deploy"  # right component, wrong mechanism
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert score.root_cause_top1 and score.remediation_correct
    assert not score.passed


def test_an_approval_for_the_wrong_target_is_asked_but_not_needed() -> None:
    wrong = [
        {"tool": "kubernetes.rollout_undo", "args": {"namespace": "shop", "name": "inventory"}, "decision": "rejected"}
    ]
    score = score_case(scenario=SCENARIO, record=GOOD, approvals=[*ASKED, *wrong], sim_state=SIM_OK)
    assert score.approvals_asked == 2 and score.approvals_needed == 1


def test_a_false_alarm_passes_only_when_the_diagnosis_names_why_it_fired() -> None:
    scenario = load_scenario("reports-queue-weekend")
    assert scenario.expected.root_cause is not None
    why = scenario.expected.root_cause.entity
    quiet: dict[str, Any] = {
        "status": "resolved",
        "severity": "SEV4",
        "service": why,
        "actions": [],
        "consulted": [],
        "communications": [{"channel": "chat", "text": " ".join(scenario.expected.comms_facts)}],
        "diagnosis": {"entity": why, "category": "no_incident", "inconclusive": False, "candidates": []},
    }
    named = score_case(scenario=scenario, record=quiet, approvals=[], sim_state={})
    assert named.root_cause_grade == 100
    bare = copy.deepcopy(quiet)
    bare["diagnosis"]["entity"] = ""
    unnamed = score_case(scenario=scenario, record=bare, approvals=[], sim_state={})
    assert unnamed.root_cause_grade < 100 and not unnamed.passed
    assert any("why the alert fired" in p for p in unnamed.problems)


def test_compare_on_different_scenario_sets_uses_only_the_common_ones() -> None:
    from evals.harness.report import common_scenarios

    def run(cases: list[tuple[str, bool]]) -> dict[str, Any]:
        scores = []
        for name, ok in cases:
            score = score_case(
                scenario=SCENARIO, record=GOOD if ok else {**GOOD, "diagnosis": None}, approvals=ASKED, sim_state=SIM_OK
            )
            scores.append(
                {
                    **score.model_dump(),
                    "scenario": name,
                    "passed": score.passed,
                    "seconds": 1.0,
                    "tokens": 0,
                    "cost": 0.0,
                }
            )
        from evals.harness.scoring import CaseScore

        summary = summarize(
            [CaseScore.model_validate(c) for c in scores], [{"seconds": 1.0, "tokens": 0, "cost": 0.0}] * len(scores)
        )
        return {"summary": summary, "cases": scores}

    a = run([("one", True), ("two", True)])
    b = run([("one", True), ("three", False)])  # a failing case A never ran
    assert common_scenarios(a, b) == ({"one"}, {"two"}, {"three"})
    summary_rows, case_rows = compare(a, b)
    pass_row = next(r for r in summary_rows if r[0] == "pass_rate")
    assert pass_row[1] == pass_row[2]  # on the one shared scenario nothing changed
    assert case_rows == []


def test_a_suite_reports_its_dev_and_holdout_parts_apart() -> None:
    from evals.harness.runner import part_of

    held = SCENARIO.model_copy(update={"tags": [*SCENARIO.tags, "holdout"]})
    assert part_of(SCENARIO) == "dev" and part_of(held) == "holdout"


def test_each_root_cause_is_credited_and_a_v2_case_passes_only_when_it_names_them_all() -> None:
    from evals.sim.scenario.expected import RootCause

    amplifier = RootCause(entity="payments-db", category="retry_storm", role="amplifier")
    expected = SCENARIO.expected.model_copy(update={"other_causes": [amplifier]})
    v1 = SCENARIO.model_copy(update={"expected": expected})
    v2 = v1.model_copy(update={"version": 2})

    alone = score_case(scenario=v2, record=GOOD, approvals=ASKED, sim_state=SIM_OK)
    assert (alone.causes_expected, alone.causes_named) == (2, 1)
    assert not alone.passed and any("causes not named: payments-db" in p for p in alone.problems)
    # format v1 is scored on its root alone, exactly as before
    assert score_case(scenario=v1, record=GOOD, approvals=ASKED, sim_state=SIM_OK).passed

    both = copy.deepcopy(GOOD)
    both["diagnosis"]["contributing"] = [{"entity": "payments-db", "category": "retry_storm"}]
    named = score_case(scenario=v2, record=both, approvals=ASKED, sim_state=SIM_OK)
    assert (named.causes_named, named.passed) == (2, True), named.problems
    assert summarize([alone, named], [])["causes_named"] == 0.75


def test_a_comms_fact_counts_only_in_the_agents_own_words_not_in_quoted_evidence() -> None:
    # The fact appears only in a log line the channel message quotes as evidence: not stated.
    observation = "checkout log pattern since the onset: 310 lines after, 0 before, e.g. deploy rolled back by ci"
    record = copy.deepcopy(GOOD)
    record["diagnosis"]["evidence"] = [{"id": "e1", "source": "loki.query_range", "observation": observation}]
    record["communications"] = [
        {"channel": "statuspage", "text": "Checkout errors are resolved."},
        {"channel": "slack", "text": f'Evidence:\n- {observation} [loki.query_range: `{{app="checkout"}}`]'},
        {"channel": "slack", "text": "> 12:01 checkout: rolled back\n```\nrolled back\n```\nand `rolled back`"},
    ]
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert score.missing_facts == ["rolled back"] and not score.comms_complete
    # Said in prose, in any case, it counts.
    record["communications"].append({"channel": "statuspage", "text": "We ROLLED BACK the change to checkout."})
    score = score_case(scenario=SCENARIO, record=record, approvals=ASKED, sim_state=SIM_OK)
    assert score.missing_facts == [] and score.comms_complete, score.problems
