"""Filling a revert workflow's dispatch inputs from facts, never from guesses."""

from __future__ import annotations

from agents.rollout import RolloutStep
from agents.workflow_inputs import FillFacts, fill_inputs, labelled_values
from tools.github import WorkflowDefinition, WorkflowInputSpec


def workflow(*inputs: WorkflowInputSpec) -> WorkflowDefinition:
    return WorkflowDefinition(
        repo="acme/infra", path=".github/workflows/rollback.yml", dispatchable=True, inputs=list(inputs)
    )


def test_labelled_values_read_versions_after_their_label() -> None:
    text = (
        "workflow run publish policies: rate policy for tenant t-4471 (bundle 2027.05.12-4). (success) on a/b@9a8b7c6"
    )
    assert ("bundle", "2027.05.12-4") in labelled_values(text)
    assert labelled_values("policy revision 42, version: v3.1.") == [("revision", "42"), ("version", "v3.1")]


def test_the_version_before_comes_from_the_same_pipelines_earlier_run() -> None:
    spec = WorkflowInputSpec(name="to_version", description="Bundle version to republish", required=True)
    facts = FillFacts(
        entity="policy-check",
        namespace="edge",
        change_text="workflow run publish-policies: rate policy (bundle 2027.05.12-4) (success)",
        earlier_texts=["publish-policies burst limits (bundle 2027.05.12-3)", "publish-policies (bundle 2027.05.11-1)"],
    )
    filled = fill_inputs(workflow(spec, WorkflowInputSpec(name="reason", default="incident rollback")), facts)
    # The newest earlier run, not an older one; the input with a default is left to it.
    assert filled.inputs == {"to_version": "2027.05.12-3"} and not filled.missing
    assert "bundle before the change" in filled.reasons[0]


def test_namespace_and_revision_without_an_earlier_run() -> None:
    facts = FillFacts(
        entity="settlement-worker",
        namespace="finance",
        change_text="apply-network-policies finance: default-deny egress (#2291, policy revision 42)",
    )
    filled = fill_inputs(
        workflow(
            WorkflowInputSpec(name="namespace", required=True),
            WorkflowInputSpec(name="to_revision", description="Policy revision to restore", required=True),
        ),
        facts,
    )
    # A revision counts up by one per change; the PR number (#2291) is no revision.
    assert filled.inputs == {"namespace": "finance", "to_revision": "41"}


def test_a_required_input_no_fact_gives_is_missing_not_guessed() -> None:
    facts = FillFacts(entity="api", namespace="shop", change_text="flags: enable new checkout (bundle 7)")
    filled = fill_inputs(
        workflow(
            WorkflowInputSpec(name="ticket", description="Change ticket", required=True),
            # "bundle 7" is no counter and no earlier run names another bundle: no value.
            WorkflowInputSpec(name="bundle", required=True),
            WorkflowInputSpec(name="dry_run", type="boolean", default="false"),
        ),
        facts,
    )
    assert filled.missing == ["ticket", "bundle"] and filled.inputs == {}


def test_a_value_outside_a_choices_options_is_not_sent() -> None:
    facts = FillFacts(entity="api", namespace="shop", commit="9a8b7c6d")
    filled = fill_inputs(
        workflow(
            WorkflowInputSpec(name="namespace", type="choice", options=["prod", "staging"], required=True),
            WorkflowInputSpec(name="commit_sha", required=True),
            WorkflowInputSpec(name="service", required=True),
        ),
        facts,
    )
    assert filled.missing == ["namespace"]
    assert filled.inputs == {"commit_sha": "9a8b7c6d", "service": "api"}


def test_an_input_named_like_a_label_of_the_evidence_takes_its_value() -> None:
    """A runbook that reissues a certificate takes the Secret the expiry metric named; an input no
    label and no fact gives stays missing, so the dispatch is not offered."""
    spec = WorkflowInputSpec(name="secret", description="Secret to reissue", required=True)
    facts = FillFacts(entity="payout-api", namespace="payouts", labels={"secret": "bank-client-cert"})
    filled = fill_inputs(workflow(WorkflowInputSpec(name="namespace", required=True), spec), facts)
    assert filled.inputs == {"namespace": "payouts", "secret": "bank-client-cert"} and not filled.missing
    assert fill_inputs(workflow(spec), FillFacts(entity="payout-api", namespace="payouts")).missing == ["secret"]


def test_an_input_that_reverts_takes_what_the_change_applied() -> None:
    """The workflow that applied a migration reverts it by an input: the migration's numbered name, or its
    numeric prefix when the input asks for one. No numbered name in the change: nothing is guessed."""
    by_prefix = workflow(
        WorkflowInputSpec(name="migration", description="Migration to apply (file prefix)"),
        WorkflowInputSpec(name="revert", description="Migration to revert with its down script (file prefix)"),
    )
    applied = FillFacts(entity="orders-db", namespace="orders", change_text="db-migrate: 0311_drop_redundant_indexes")
    filled = fill_inputs(by_prefix, applied)
    assert filled.inputs == {"revert": "0311"}
    whole = workflow(WorkflowInputSpec(name="rollback", description="Migration name"))
    assert fill_inputs(whole, applied).inputs == {"rollback": "0311_drop_redundant_indexes"}
    required = workflow(WorkflowInputSpec(name="down", required=True))
    unnamed = FillFacts(entity="orders-db", namespace="orders", change_text="db-migrate: drop redundant indexes")
    assert fill_inputs(required, unnamed).missing == ["down"]


def test_a_rollouts_workflow_sets_the_share_back_to_before_the_step() -> None:
    definition = workflow(
        WorkflowInputSpec(name="flag", description="Flag key", required=True),
        WorkflowInputSpec(name="percentage", description="Share of users on the on variant (0-100)", required=True),
        WorkflowInputSpec(name="reason", description="Why", required=False),
    )
    step = RolloutStep(subject="leg-grouping", before=0.0, after=5.0)
    filled = fill_inputs(definition, FillFacts(entity="itineraries", namespace="travel", rollout=step))
    assert filled.inputs == {"flag": "leg-grouping", "percentage": "0"} and not filled.missing
    # Without a rollout step nothing says which flag or which share: the dispatch is not offered.
    assert fill_inputs(definition, FillFacts(entity="itineraries", namespace="travel")).missing == [
        "flag",
        "percentage",
    ]
