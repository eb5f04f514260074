"""Where the failures in the logs start, placed against the edge ranking's leader."""

from __future__ import annotations

from datetime import UTC, datetime

from agents.analytics.anomaly import RankingResult, RootCauseCandidate
from agents.evidence import ComponentFacts, EvidenceBundle, LogFact
from agents.reasoners.origin import LOG_LEAD_ABOVE, LOG_LEAD_ASIDE, LOG_LEAD_BELOW, failing_in_logs, log_origin
from agents.state import Alert

GRAPH = {"web": ["orders", "ads"], "orders": ["stock"], "stock": [], "ads": []}
FAIL = "ERROR placing order: java.lang.IllegalStateException"
INFO = "INFO handled request"


def _log(service: str, example: str, count: int = 12) -> LogFact:
    return LogFact(service=service, template=example, count_before=0, count_after=count, example=example, is_new=True)


def _bundle(lines: dict[str, str]) -> EvidenceBundle:
    alert = Alert(fingerprint="f", name="WebErrors", title="web errors", service="web", started_at=datetime.now(UTC))
    return EvidenceBundle(
        service="web",
        alert=alert,
        graph=GRAPH,
        logs=[_log("web", lines["web"])] if "web" in lines else [],
        components={
            name: ComponentFacts(service=name, logs=[_log(name, lines[name])] if name in lines else [])
            for name in GRAPH
            if name != "web"
        },
    )


def _ranking(leader: str, mechanism: str = "latency") -> RankingResult:
    lead = RootCauseCandidate(
        component=leader,
        score=9.0,
        anomaly=9.0,
        explained_share=0.0,
        path=["web", leader],
        path_support=1.0,
        distance=1,
        top_metric=mechanism,
        reasons=["r"],
    )
    return RankingResult(target="web", candidates=[lead], abstained=False, reason="edges")


def test_the_deepest_failing_component_is_the_origin_below_a_leader_that_relays_it() -> None:
    bundle = _bundle({"web": FAIL, "orders": "rpc error: call to stock failed", "stock": FAIL, "ads": INFO})
    assert failing_in_logs(bundle) == {"web": 12, "orders": 12, "stock": 12}
    found = log_origin(bundle, _ranking("orders"))
    assert found is not None and found.entity == "stock" and found.score == LOG_LEAD_BELOW
    assert log_origin(bundle, _ranking("web", "errors")).score == LOG_LEAD_BELOW  # type: ignore[union-attr]


def test_a_component_calling_the_slow_leader_is_below_it_and_one_beside_it_in_between() -> None:
    callers = _bundle({"web": FAIL, "orders": "request to stock timed out"})
    assert log_origin(callers, _ranking("stock")).score == LOG_LEAD_ABOVE  # type: ignore[union-attr]
    aside = _bundle({"web": FAIL, "ads": FAIL})
    assert log_origin(aside, _ranking("orders")).score == LOG_LEAD_ASIDE  # type: ignore[union-attr]


def test_no_lead_without_failure_lines_two_deepest_or_only_the_alerting_service() -> None:
    assert log_origin(_bundle({"web": INFO, "stock": INFO}), _ranking("stock")) is None
    assert log_origin(_bundle({"web": FAIL, "stock": FAIL, "ads": FAIL}), _ranking("stock")) is None
    assert log_origin(_bundle({"web": FAIL}), _ranking("stock")) is None
