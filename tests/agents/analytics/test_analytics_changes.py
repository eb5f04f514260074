from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.analytics.changes import Change, rank_changes, token_weight
from agents.analytics.graph import hop_distances

ONSET = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
GRAPH = {
    "checkout": ["payments", "orders-db"],
    "payments": ["ledger"],
    "orders-db": [],
    "ledger": [],
    "search": [],
}
DISTANCES = hop_distances(GRAPH, "checkout", undirected=True)
ERRORS = [
    'ERROR checkout: column "customer_id" does not exist (SQLSTATE 42703) in SELECT ... FROM orders',
    "ERROR checkout: request failed after 3 retries",
]


def _change(id: str, component: str, minutes_before: float, **fields: str) -> Change:
    return Change(id=id, component=component, time=ONSET - timedelta(minutes=minutes_before), **fields)  # type: ignore[arg-type]


def test_a_migration_sharing_an_identifier_with_the_errors_outranks_a_fresher_deploy() -> None:
    changes = [
        _change("deploy-checkout", "checkout", 5, kind="deploy", description="checkout v2.4.1: bump dependencies"),
        _change(
            "migrate-orders",
            "orders-db",
            40,
            kind="migration",
            description="rename customer column",
            diff="ALTER TABLE orders RENAME COLUMN customer_id TO client_id;",
        ),
    ]

    ranked = rank_changes(changes, "checkout", DISTANCES, ONSET, error_lines=ERRORS)

    assert [r.change.id for r in ranked] == ["migrate-orders", "deploy-checkout"]
    top = ranked[0]
    assert top.shared_tokens[0] == "customer_id"
    assert top.text_link >= 0.8
    assert any("customer_id" in reason for reason in top.reasons)
    assert ranked[1].text_link == 0.0


def test_without_a_textual_link_recency_and_proximity_decide() -> None:
    changes = [
        _change("old-here", "checkout", 180, kind="deploy"),
        _change("recent-here", "checkout", 10, kind="deploy"),
        _change("recent-two-hops", "ledger", 10, kind="config"),
    ]

    ranked = rank_changes(changes, "checkout", DISTANCES, ONSET)

    assert [r.change.id for r in ranked] == ["recent-here", "recent-two-hops", "old-here"]
    assert ranked[0].topology == 1.0
    assert ranked[1].hops == 2 and ranked[1].topology == pytest.approx(1 / 3)
    assert ranked[0].time_proximity == pytest.approx(1.0)  # within the 15-minute grace
    assert ranked[2].time_proximity == pytest.approx(0.5 ** ((180 - 15) / 30))
    assert ranked[0].minutes_before_onset == pytest.approx(10)


def test_a_release_that_fails_minutes_after_its_rollout_is_not_ruled_out_as_too_early() -> None:
    """Failures that wait for traffic, caches or load (10-15 minutes) keep full time proximity; older
    changes lose it by half-lives counted from the end of the grace."""
    changes = [_change("delayed", "checkout", 14, kind="deploy"), _change("instant", "checkout", 1, kind="deploy")]
    ranked = {r.change.id: r for r in rank_changes(changes, "checkout", DISTANCES, ONSET)}
    assert ranked["delayed"].time_proximity == ranked["instant"].time_proximity == pytest.approx(1.0)
    late = rank_changes([_change("late", "checkout", 45, kind="deploy")], "checkout", DISTANCES, ONSET)[0]
    assert late.time_proximity == pytest.approx(0.5)


def test_changes_after_the_onset_outside_the_lookback_or_the_blast_radius_are_left_out() -> None:
    changes = [
        _change("after", "checkout", -10),
        _change("skewed", "checkout", -0.5),  # within the 1-minute clock skew tolerance
        _change("ancient", "checkout", 60 * 30),
        _change("elsewhere", "search", 5),
        _change("unknown", "billing", 5),
    ]

    ranked = rank_changes(changes, "checkout", DISTANCES, ONSET)

    assert [r.change.id for r in ranked] == ["skewed"]


def test_max_hops_bounds_the_blast_radius() -> None:
    changes = [_change("two-hops", "ledger", 5)]

    assert rank_changes(changes, "checkout", DISTANCES, ONSET, max_hops=1) == []
    assert len(rank_changes(changes, "checkout", DISTANCES, ONSET, max_hops=2)) == 1


def test_a_global_change_is_in_everyone_s_blast_radius_at_half_weight() -> None:
    ranked = rank_changes([_change("flag", "*", 5, kind="feature_flag")], "checkout", DISTANCES, ONSET)

    assert ranked[0].hops is None
    assert ranked[0].topology == 0.5
    assert "touches every component" in ranked[0].reasons[1]


def test_generic_words_do_not_make_a_link_and_identifiers_weigh_more_than_words() -> None:
    changes = [_change("noise", "checkout", 5, description="fix error handling when request failed after retries")]

    ranked = rank_changes(changes, "checkout", DISTANCES, ONSET, error_lines=ERRORS)

    assert ranked[0].text_link == 0.0
    assert token_weight("customer_id") > token_weight("orders") + 0.4
    assert token_weight("maxPoolSize") >= 0.8


def test_dotted_names_link_through_their_parts() -> None:
    changes = [_change("m", "orders-db", 5, diff="DROP INDEX idx_orders_customer; -- touches customer_id")]

    ranked = rank_changes(changes, "checkout", DISTANCES, ONSET, error_lines=["lookup on orders.customer_id timed out"])

    assert "customer_id" in ranked[0].shared_tokens


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        rank_changes([], "checkout", DISTANCES, datetime(2024, 5, 1))
    naive = Change(id="n", component="checkout", time=datetime(2024, 5, 1, 11, 0))
    with pytest.raises(ValueError, match="change 'n'"):
        rank_changes([naive], "checkout", DISTANCES, ONSET)


def test_the_words_of_the_changed_components_own_name_are_no_link() -> None:
    """Every line a service logs and every path of its repository carry its name's words ("worker" of
    mail-worker): a release of mail-worker is not linked to the errors by them. Another component's
    name in a change's diff (the callee a config now points at) still is a clue."""
    graph = {"mail-worker": ["smtp-relay"], "smtp-relay": []}
    distances = hop_distances(graph, "mail-worker", undirected=True)
    errors = ["ERROR worker.smtp send timed out after 30s (relay busy) message=4f2a"]
    changes = [
        _change(
            "deploy-mail", "mail-worker", 20, kind="deploy", description="mail worker 3.3", diff="worker/render.py"
        ),
        _change("config-mail", "mail-worker", 20, kind="config", description="tune", diff="RELAY_HOST: smtp relay"),
    ]

    ranked = {r.change.id: r for r in rank_changes(changes, "mail-worker", distances, ONSET, error_lines=errors)}

    assert ranked["deploy-mail"].shared_tokens == [] and ranked["deploy-mail"].text_link == 0.0
    assert "relay" in ranked["config-mail"].shared_tokens and ranked["config-mail"].text_link > 0.0


def test_the_words_of_the_changes_repository_are_no_link() -> None:
    """An organisation's name is in its bucket names and in every deployment's description
    ("deployment of acme/images@..."): sharing it with an error line links nothing."""
    distances = hop_distances({"images": []}, "images", undirected=True)
    errors = ["PUT gs://acme-renditions/3f/thumb.webp -> 429 Too Many Requests"]
    release = _change("deploy-1", "images", 30, kind="deploy", description="deployment of acme/images@9c0: quality")

    unlinked = rank_changes(
        [release.model_copy(update={"repo": "acme/images"})], "images", distances, ONSET, error_lines=errors
    )
    linked = rank_changes([release], "images", distances, ONSET, error_lines=errors)

    assert unlinked[0].shared_tokens == [] and "acme" in linked[0].shared_tokens


def test_a_dashed_name_inside_a_host_name_links_once_not_once_per_word() -> None:
    """``GET http://gift-cards.shop.svc/v2`` names ``gift-cards``: a change pointing at it is linked by
    that name, and the words ``gift`` and ``cards`` are the same evidence, not two more pieces."""
    distances = hop_distances({"signup": ["gift-cards"], "gift-cards": []}, "signup", undirected=True)
    errors = ["ERROR ReferralClient - GET http://gift-cards.shop.svc/v2/codes/JOIN1 -> 404 Not Found"]
    change = _change("cfg", "signup", 10, kind="config", description="signup: use gift-cards v2 endpoint")

    [ranked] = rank_changes([change], "signup", distances, ONSET, error_lines=errors)

    assert ranked.shared_tokens == ["gift-cards"]
    assert ranked.text_link == pytest.approx(token_weight("gift-cards"))


def test_the_changed_components_namespace_is_no_link() -> None:
    """A job logs its namespace's word in its own lines ("reindexed batch 12/40"), and its scale-up is
    written ``batch/reindexer``: sharing it links nothing once the namespace is known as its alias."""
    distances = hop_distances({"browse": [], "reindexer": []}, "browse", undirected=True) | {"reindexer": 1}
    errors = ["INFO reindexed batch 1204/12000 docs=950 in 40ms"]
    change = _change("scale", "reindexer", 10, description="deployment batch/reindexer scaled up from 0 to 6")

    [plain] = rank_changes([change], "browse", distances, ONSET, error_lines=errors)
    [aliased] = rank_changes([change], "browse", distances, ONSET, error_lines=errors, aliases={"reindexer": ["batch"]})

    assert plain.shared_tokens == ["batch"]
    assert aliased.shared_tokens == [] and aliased.text_link == 0.0
