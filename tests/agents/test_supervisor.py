"""The supervisor's invariants, tested on the pure routing function."""

from datetime import UTC, datetime

from agents.state import Alert, Diagnosis, IncidentState, ProposedAction
from agents.supervisor import next_node


def _state(**kw: object) -> IncidentState:
    alert = Alert(
        fingerprint="f", name="HighErrorRate", title="t", service="svc", started_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    return IncidentState(id="inc-1", alert=alert, **kw)  # type: ignore[arg-type]


def _diagnosis() -> Diagnosis:
    return Diagnosis(root_cause="x", category="migration", entity="svc", confidence=0.8)


def _action(status: str = "proposed", requires_approval: bool = True) -> ProposedAction:
    return ProposedAction(
        id="rollback-0",
        tool="kubernetes.rollout_undo",
        args={},
        title="roll back",
        status=status,
        requires_approval=requires_approval,
    )  # type: ignore[arg-type]


def test_no_remediation_without_a_diagnosis() -> None:
    node, reason = next_node(_state(step="remediate"), 20, 2)
    assert node == "investigate"
    assert "diagnosis" in reason


def test_remediation_with_a_diagnosis() -> None:
    assert next_node(_state(step="remediate", diagnosis=_diagnosis()), 20, 2)[0] == "remediate"


def test_execute_of_unapproved_action_goes_to_the_gate() -> None:
    state = _state(step="execute", diagnosis=_diagnosis(), actions=[_action("proposed")])
    assert next_node(state, 20, 2)[0] == "approval_gate"


def test_execute_of_approved_action_runs_it() -> None:
    state = _state(step="execute", diagnosis=_diagnosis(), actions=[_action("approved")])
    assert next_node(state, 20, 2)[0] == "execute"


def test_policy_allowed_action_skips_the_gate() -> None:
    state = _state(step="execute", diagnosis=_diagnosis(), actions=[_action("proposed", requires_approval=False)])
    assert next_node(state, 20, 2)[0] == "execute"


def test_turn_limit_escalates() -> None:
    node, reason = next_node(_state(step="investigate", turns=20), 20, 2)
    assert node == "communicate"
    assert "turn limit" in reason


def test_investigation_rounds_are_bounded() -> None:
    node, reason = next_node(_state(step="investigate", investigation_rounds=2), 20, 2)
    assert node == "communicate"
    assert "rounds" in reason


def test_done_ends() -> None:
    assert next_node(_state(step="done"), 20, 2)[0] == "__end__"


def test_an_action_that_already_ran_is_never_proposed_again() -> None:
    from agents.reasoners.base import RemediationOption
    from agents.remediation import already_tried

    option = RemediationOption(
        id="rollback",
        tool="kubernetes.rollout_undo",
        args={"namespace": "shop", "name": "checkout", "to_revision": 7},
        title="roll back",
        rationale="r",
        risk="medium",
        addresses="checkout",
    )
    ran = _action("executed").model_copy(update={"args": {"namespace": "shop", "name": "checkout", "to_revision": 6}})
    assert already_tried(option, _state(actions=[ran]))
    other = ran.model_copy(update={"args": {"namespace": "shop", "name": "inventory"}})
    assert not already_tried(option, _state(actions=[other]))
    assert not already_tried(option, _state(actions=[_action("proposed")]))
