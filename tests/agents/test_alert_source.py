"""An alert that is another component's measurement of a healthy service names that component: the
prober's check, not the service, is why it fired."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agents.alert_source import alert_expression, exporter_of, metric_selectors
from agents.evidence import AlertSource
from agents.reasoners.deterministic import diagnose_bundle
from agents.state import Alert, Evidence
from tests.agents.test_blast_radius import T0, _bundle, _series


@pytest.mark.parametrize(
    ("expression", "selectors"),
    [
        ('synthetic_check_success{check="home"} == 0', ['synthetic_check_success{check="home"}']),
        (
            'sum(rate(http_requests_total{code=~"5.."}[5m])) by (service) / sum(rate(http_requests_total[5m])) > 0.05',
            ['http_requests_total{code=~"5.."}', "http_requests_total"],
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > 2.5",
         ["http_request_duration_seconds_bucket"]),
        ('probe_success{job="blackbox"} < 1 and on(instance) up == 1', ['probe_success{job="blackbox"}', "up"]),
        ('label_replace(up, "dst", "$1", "src", "(.*)") == 0', ["up"]),
    ],
)  # fmt: skip
def test_the_metrics_a_rule_reads(expression: str, selectors: list[str]) -> None:
    assert metric_selectors(expression) == selectors


def test_the_rules_expression_comes_from_its_generator_link() -> None:
    alert = Alert(
        fingerprint="f", name="HomeDown", title="t", service="web", started_at=T0,
        links=["https://runbooks/x", "http://prom:9090/graph?g0.expr=probe_success%7Bcheck%3D%22home%22%7D+%3D%3D+0&g0.tab=1"],
    )  # fmt: skip
    assert alert_expression(alert) == 'probe_success{check="home"} == 0'
    assert alert_expression(alert.model_copy(update={"links": []})) is None
    assert exporter_of({"job": "uptime", "instance": "x"}) == "uptime"
    assert exporter_of({"service": "checker", "job": "kubernetes-pods"}) == "checker"


def _healthy_web(*, traffic_after: float) -> tuple[str, str]:
    signals = [_series("web", "error_rate", 0.002, 0.002, "e1"), _series("web", "traffic", 120.0, traffic_after, "e3")]
    if traffic_after < 120.0:
        signals[1] = signals[1].model_copy(
            update={"anomalous": True, "falling": True, "onset": T0 - timedelta(minutes=5)}
        )
    bundle = _bundle("web", {"web": []}, signals, {})
    bundle.alert_source = AlertSource(component="uptime", selector='probe_success{check="home"}', value=0.0,
                                      evidence_id="a1")  # fmt: skip
    bundle.evidence.append(Evidence(id="a1", source="prometheus.query", query="q", observation="o"))
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.category == "no_incident"
    return diagnosis.entity, diagnosis.root_cause


def test_a_probe_failing_on_a_healthy_service_is_a_false_alarm_named_for_the_probe() -> None:
    entity, why = _healthy_web(traffic_after=121.0)
    assert entity == "uptime" and "false alarm from the monitoring" in why


def test_not_when_the_services_traffic_fell() -> None:
    entity, why = _healthy_web(traffic_after=20.0)
    assert entity == "web" and "uptime" not in why
