"""What each caller sees of each callee (`agents.call_edges`): an edge's failures before and now, read
from the client metrics' counts by outcome; and one path failing while the callee serves its other
callers puts the cause on that caller's side (`path_hypotheses`), never on the callee."""

from __future__ import annotations

from agents.call_edges import EdgeFact, edge_from_rates, one_path_failing
from agents.evidence import ComponentFacts
from agents.investigation import _edges_from_series
from agents.reasoners.deterministic import diagnose_bundle
from agents.state import Evidence
from tests.agents.test_blast_radius import T0, TIMES, _bundle, _change, _pods, _series
from tools.prometheus import QueryResult, Series


def _rates(before: float, after: float) -> list[float]:
    return [before if t < T0 else after for t in TIMES]


def test_an_edge_reads_its_failure_ratio_before_and_now_by_kind() -> None:
    edge = edge_from_rates("web", "api", TIMES, _rates(100.0, 100.0), {"timeout": _rates(0.0, 60.0)}, T0)
    assert edge is not None
    assert (edge.before, edge.now, edge.kinds, edge.failing) == (0.0, 0.6, ["timeout"], True)
    steady = edge_from_rates("web", "api", TIMES, _rates(100.0, 100.0), {"500": _rates(1.0, 1.2)}, T0)
    assert steady is not None and not steady.failing
    assert edge_from_rates("web", "api", TIMES[28:], _rates(1, 1)[28:], {}, T0) is None  # no reference window


def test_the_client_metrics_series_become_one_edge_per_caller_and_callee() -> None:
    def series(caller: str, callee: str, error: str | None, before: float, after: float) -> Series:
        labels = {"service": caller, "server_address": callee} | ({"error_type": error} if error else {})
        return Series(metric=labels, values=[(t, v) for t, v in zip(TIMES, _rates(before, after), strict=True)])

    result = QueryResult(
        resultType="matrix",
        series=[
            series("web", "api", None, 99.0, 40.0),  # the successful calls
            series("web", "api", "timeout", 1.0, 60.0),
            series("web", "db", None, 50.0, 50.0),
        ],
    )
    edges = {(e.caller, e.callee): e for e in _edges_from_series(result, T0)}
    assert set(edges) == {("web", "api"), ("web", "db")}
    assert (edges["web", "api"].before, edges["web", "api"].now) == (0.01, 0.6)
    assert edges["web", "api"].calls_now == 100.0
    assert not edges["web", "db"].failing


def _edge(caller: str, callee: str, now: float, evidence_id: str = "") -> EdgeFact:
    return EdgeFact(caller=caller, callee=callee, before=0.001, now=now, calls_before=20, calls_now=20,
                    kinds=["timeout"] if now > 0.05 else [], evidence_id=evidence_id)  # fmt: skip


def test_one_failing_path_needs_the_callees_other_callers_served() -> None:
    one = [_edge("web", "api", 0.9), _edge("batch", "api", 0.001)]
    assert one_path_failing(one, "api") == one[0]
    assert one_path_failing([_edge("web", "api", 0.9)], "api") is None  # no other caller to compare with
    assert one_path_failing([_edge("web", "api", 0.9), _edge("batch", "api", 0.8)], "api") is None  # all fail


def _path_world(*, web_change: bool, api_change: bool) -> object:
    """web (alerting) and batch both call api; only web's calls to api fail; api's own errors are flat."""
    signals = [
        _series("web", "error_rate", 0.002, 0.3, "e1"),
        _series("api", "error_rate", 0.001, 0.001, "e2"),
        _series("batch", "error_rate", 0.001, 0.001, "e3"),
    ]
    components = {
        "api": ComponentFacts(service="api", distance=1, pods=_pods("p1")),
        "batch": ComponentFacts(service="batch", distance=2, dependencies=["api"], pods=_pods("p2")),
    }
    changes = []
    if web_change:
        changes.append(_change("deploy-web-4.2", "web", "deploy", 6, 0.45, 0))
    if api_change:
        changes.append(_change("config-api-limits", "api", "config", 8, 0.5, 1))
    bundle = _bundle("web", {"web": ["api"], "batch": ["api"], "api": []}, signals, components, changes=changes)
    bundle.edges = [_edge("web", "api", 0.9, "x1"), _edge("batch", "api", 0.001)]
    bundle.evidence.append(Evidence(id="x1", source="prometheus.query_range", query="q", observation="o"))
    return bundle


def test_a_callers_release_that_broke_its_calls_to_a_healthy_callee_is_the_lead() -> None:
    diagnosis = diagnose_bundle(_path_world(web_change=True, api_change=False))  # type: ignore[arg-type]
    assert (diagnosis.entity, diagnosis.change_id) == ("web", "deploy-web-4.2"), diagnosis.root_cause
    assert "only web's calls to api fail" in diagnosis.root_cause
    assert "x1" in [e.id for e in diagnosis.evidence]


def test_without_a_change_the_path_is_a_network_lead_and_a_changed_callee_is_left_to_its_change() -> None:
    unchanged = diagnose_bundle(_path_world(web_change=False, api_change=False))  # type: ignore[arg-type]
    assert unchanged.entity != "api", unchanged.root_cause
    assert any(c.entity == "web" and c.category == "network" for c in unchanged.candidates)
    # The callee changed (a per-client limit of its own): the path rule says nothing.
    changed = diagnose_bundle(_path_world(web_change=True, api_change=True))  # type: ignore[arg-type]
    assert "only web's calls to api fail" not in changed.root_cause
