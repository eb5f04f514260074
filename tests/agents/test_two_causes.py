"""Two causes at once: a provider's outage and our own rollout of another call. The change that names
the call its errors are about, behind most of the new error lines, is the primary cause (its rollback
the fix); the provider is named beside it, and stays named in later rounds."""

from __future__ import annotations

from datetime import timedelta

from agents.analytics.changes import Change, rank_changes
from agents.evidence import ChangeFact
from agents.investigation import keep_earlier_causes
from agents.reasoners.deterministic import own_change_behind_most_errors
from agents.state import Diagnosis, Hypothesis
from tests.agents.test_blast_radius import T0, _bundle, _log, _series

REFERRALS = "ERROR ReferralClient - GET http://referrals.identity.svc/v2/codes/F539 -> 404 Not Found"
VERIFY = "WARN VerifyClient - POST https://api.mailcheck.example/v2/verify -> 503 Service Unavailable"


def test_another_components_name_in_the_errors_links_a_change_that_names_it() -> None:
    change = Change(id="cfg-1", component="signup", kind="config", time=T0 - timedelta(minutes=3),
                    description="signup: use referrals v2 endpoint")  # fmt: skip
    [ranked] = rank_changes([change], "signup", {"signup": 0, "referrals": 1}, T0, error_lines=[REFERRALS])
    assert "referrals" in ranked.shared_tokens and ranked.text_link > 0
    # The alerting service's own name is in every line it logs: no link.
    own = Change(id="cfg-2", component="signup", kind="config", time=T0, description="signup settings")
    [plain] = rank_changes([own], "signup", {"signup": 0}, T0, error_lines=["ERROR signup failed: 404"])
    assert plain.shared_tokens == []


def _two_faults(*, referral_lines: int, linked: list[str]) -> tuple[Hypothesis, Hypothesis, object]:
    logs = [_log("signup", REFERRALS, "l1"), _log("signup", VERIFY, "l2")]
    logs[0] = logs[0].model_copy(update={"count_after": referral_lines})
    logs[1] = logs[1].model_copy(update={"count_after": 130})
    change = ChangeFact(id="cfg-1", kind="config", service="signup", at=T0, description="use referrals v2",
                        linked_tokens=linked, evidence_id="c1")  # fmt: skip
    bundle = _bundle("signup", {"signup": ["referrals", "verify"], "referrals": [], "verify": []},
                     [_series("signup", "error_rate", 0.003, 0.33, "e1")], {}, logs=logs, changes=[change])  # fmt: skip
    provider = Hypothesis(entity="verify", category="third_party", description="provider outage", score=0.8,
                          evidence_ids=["p1", "e1"])  # fmt: skip
    ours = Hypothesis(entity="signup", category="config_change", description="config", score=0.68,
                      evidence_ids=["c1", "l1", "e1"], change_id="cfg-1")  # fmt: skip
    return provider, ours, bundle


def test_our_change_behind_most_errors_is_primary_beside_a_provider_outage() -> None:
    provider, ours, bundle = _two_faults(referral_lines=780, linked=["referrals"])
    assert own_change_behind_most_errors(bundle, provider, ours) == ours  # type: ignore[arg-type]
    # Behind fewer of the errors than half, or linked only by a word that names no component: no.
    provider, ours, bundle = _two_faults(referral_lines=100, linked=["referrals"])
    assert own_change_behind_most_errors(bundle, provider, ours) is None  # type: ignore[arg-type]
    provider, ours, bundle = _two_faults(referral_lines=780, linked=["pay"])
    assert own_change_behind_most_errors(bundle, provider, ours) is None  # type: ignore[arg-type]


def test_a_cause_named_beside_the_lead_stays_named_in_a_later_round() -> None:
    provider = Hypothesis(entity="verify", category="third_party", description="provider outage", score=0.8)
    first = Diagnosis(root_cause="config", category="config_change", entity="signup", confidence=0.8,
                      contributing=[provider])  # fmt: skip
    second = first.model_copy(update={"contributing": []})
    assert [c.entity for c in keep_earlier_causes(second, first).contributing] == ["verify"]
    assert keep_earlier_causes(second, None) == second
    # The provider became the lead: it is not also its own contributing cause.
    turned = Diagnosis(root_cause="p", category="third_party", entity="verify", confidence=0.8)
    assert keep_earlier_causes(turned, first).contributing == []
