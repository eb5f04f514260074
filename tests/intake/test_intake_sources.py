"""Every receiver's normalizer on realistic payloads, and bad payloads naming the field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from intake_helpers import T0, fixture

from intake.events import AlertPayloadError
from intake.pipeline import IntakePipeline, UnknownSource
from intake.settings import IntakeSettings

PIPELINE = IntakePipeline(IntakeSettings())


def normalize(source: str, payload: Any, headers: dict[str, str] | None = None) -> Any:
    return PIPELINE.normalize(source, payload, T0, headers or {})


def test_alertmanager_group_becomes_one_event_per_alert() -> None:
    normalized = normalize("alertmanager", fixture("alertmanager", "firing"))
    first, second = normalized.events
    assert (first.key, second.key) == ("alertmanager:a1b2c3d4e5f60718", "alertmanager:b2c3d4e5f6071829")
    assert first.status == "firing"
    assert first.service == "checkout"
    assert first.severity == "critical"
    assert first.environment == "production"
    assert first.title == "checkout 5xx ratio above 5%"
    assert first.description.startswith("7.1% of requests")
    assert first.started_at is not None and first.started_at.isoformat() == "2026-11-20T10:01:00.123456+00:00"
    assert first.ended_at is None  # the zero time is null
    assert "https://runbooks.example/checkout-5xx" in first.links
    assert first.labels["pod"] == "checkout-7d9f8b6c4-x2x9q"
    assert normalized.truncated == 0


def test_alertmanager_resolved_and_truncated() -> None:
    resolved = normalize("alertmanager", fixture("alertmanager", "resolved"))
    assert {e.status for e in resolved.events} == {"resolved"}
    assert resolved.events[0].ended_at is not None
    assert normalize("alertmanager", fixture("alertmanager", "truncated")).truncated == 37


def test_alertmanager_without_service_label_is_accepted_with_an_empty_service() -> None:
    payload = fixture("alertmanager", "firing")
    for alert in payload["alerts"]:
        alert["labels"].pop("service")
    payload["commonLabels"].pop("service")
    [event, _] = normalize("alertmanager", payload).events
    assert event.service == ""
    assert event.to_alert().service == "unknown"


def test_grafana_keeps_dashboard_links_and_org() -> None:
    [event] = normalize("grafana", fixture("grafana", "firing")).events
    assert event.key == "grafana:c6eadffa33fcdf37"
    assert event.service == "checkout"
    assert event.title == "checkout memory above 90% in us-1"
    assert "https://grafana.example/d/shop-checkout?viewPanel=4" in event.links
    assert event.labels["grafana_org"] == "1"
    [resolved] = normalize("grafana", fixture("grafana", "resolved")).events
    assert resolved.status == "resolved" and resolved.key == event.key


def test_pagerduty_trigger_acknowledge_resolve_share_a_key() -> None:
    trigger = normalize("pagerduty", fixture("pagerduty", "trigger"))
    [event] = trigger.events
    assert event.key == "pagerduty:0123456789abcdef0123456789abcdef:checkout/latency-p99"
    assert (event.status, event.severity, event.service, event.name) == ("firing", "error", "checkout", "latency")
    assert event.labels["detail_region"] == "eu-west-1"
    assert "https://grafana.example/d/shop-checkout" in event.links
    assert trigger.reply == {"dedup_key": "checkout/latency-p99"}
    assert normalize("pagerduty", fixture("pagerduty", "acknowledge")).events[0].status == "ack"
    [resolve] = normalize("pagerduty", fixture("pagerduty", "resolve")).events
    assert resolve.status == "resolved" and resolve.key == event.key


def test_pagerduty_trigger_without_dedup_key_gets_a_stable_one() -> None:
    payload = fixture("pagerduty", "trigger")
    payload.pop("dedup_key")
    first, again = normalize("pagerduty", payload), normalize("pagerduty", copy.deepcopy(payload))
    assert first.reply["dedup_key"] == again.reply["dedup_key"]
    assert first.events[0].key == again.events[0].key


def test_datadog_custom_and_default_payloads() -> None:
    [triggered] = normalize("datadog", fixture("datadog", "triggered")).events
    assert triggered.key == "datadog:7f3e2b1a9c8d7e6f5a4b3c2d1e0f9a8b"
    assert (triggered.status, triggered.severity, triggered.service, triggered.environment) == (
        "firing",
        "error",
        "checkout",
        "production",
    )
    assert triggered.title == "checkout p99 latency high"
    assert triggered.started_at is not None and triggered.started_at.year == 2026
    [recovered] = normalize("datadog", fixture("datadog", "recovered")).events
    assert recovered.status == "resolved" and recovered.key == triggered.key
    [default] = normalize("datadog", fixture("datadog", "default_payload")).events
    assert default.status == "firing"
    assert default.title == "checkout error budget burn"
    assert default.key == "datadog:7061294367432810923"


def test_cloudwatch_notification_decodes_the_message_twice() -> None:
    [alarm] = normalize("cloudwatch", fixture("cloudwatch", "alarm"), {"x-amz-sns-message-type": "Notification"}).events
    assert alarm.key == "cloudwatch:arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-alb-5xx"
    assert (alarm.status, alarm.service, alarm.severity) == (
        "firing",
        "checkout",
        "warning",
    )  # app/<name>/<id> load balancer
    assert alarm.title == 'ALARM: "checkout-alb-5xx" in EU (Ireland)'
    assert alarm.started_at is not None and alarm.started_at.isoformat() == "2026-11-20T10:01:04.488000+00:00"
    [ok] = normalize("cloudwatch", fixture("cloudwatch", "ok")).events
    assert ok.status == "resolved" and ok.key == alarm.key


def test_cloudwatch_raw_message_delivery_and_insufficient_data() -> None:
    alarm = json.loads(fixture("cloudwatch", "alarm")["Message"])
    assert normalize("cloudwatch", alarm).events[0].status == "firing"
    alarm["NewStateValue"] = "INSUFFICIENT_DATA"
    assert normalize("cloudwatch", alarm).events[0].status == "ack"


def test_cloudwatch_subscription_confirmation_is_a_control_message() -> None:
    normalized = normalize("cloudwatch", fixture("cloudwatch", "subscription_confirmation"))
    assert normalized.events == []
    assert normalized.subscription is not None
    assert normalized.subscription.subscribe_url.startswith(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription"
    )
    unsubscribed = normalize("cloudwatch", fixture("cloudwatch", "unsubscribe_confirmation"))
    assert unsubscribed.events == [] and "unsubscribed" in unsubscribed.note


def test_opsgenie_create_acknowledge_close() -> None:
    [created] = normalize("opsgenie", fixture("opsgenie", "create")).events
    assert (created.key, created.status, created.severity, created.service) == (
        "opsgenie:checkout-5xx-prod",
        "firing",
        "critical",
        "checkout",
    )
    assert created.environment == "production"
    assert normalize("opsgenie", fixture("opsgenie", "acknowledge")).events[0].status == "ack"
    [closed] = normalize("opsgenie", fixture("opsgenie", "close")).events
    assert closed.status == "resolved" and closed.key == created.key


def test_generic_single_list_and_wrapped() -> None:
    [event] = normalize("generic", fixture("generic", "firing")).events
    assert (event.key, event.severity, event.service, event.links) == (
        "generic:checkout:prod:synthetic-checkout-flow",
        "critical",
        "checkout",
        ["https://synthetics.example/runs/42"],
    )
    two = [fixture("generic", "firing"), fixture("generic", "resolved")]
    assert [e.status for e in normalize("generic", two).events] == ["firing", "resolved"]
    assert len(normalize("generic", {"alerts": two}).events) == 2


Mutation = Callable[[Any], Any]


@pytest.mark.parametrize(
    ("source", "name", "mutate", "field"),
    [
        ("alertmanager", "firing", lambda p: p.update(alerts=[]), "alerts"),
        ("alertmanager", "firing", lambda p: p["alerts"][1].update(startsAt="yesterday"), "alerts[1].startsAt"),
        ("alertmanager", "firing", lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
        (
            "alertmanager",
            "firing",
            lambda p: (p["alerts"][0]["labels"].pop("alertname"), p["commonLabels"].pop("alertname")),
            "alerts[0].labels.alertname",
        ),
        ("alertmanager", "firing", lambda p: p.update(truncatedAlerts=-1), "truncatedAlerts"),
        ("alertmanager", "firing", lambda p: p.update(version="3"), "version"),
        ("grafana", "firing", lambda p: p["alerts"][0].update(labels="oops"), "alerts[0].labels"),
        ("pagerduty", "trigger", lambda p: p.pop("routing_key"), "routing_key"),
        ("pagerduty", "trigger", lambda p: p.update(event_action="escalate"), "event_action"),
        ("pagerduty", "trigger", lambda p: p["payload"].pop("summary"), "payload.summary"),
        ("pagerduty", "trigger", lambda p: p["payload"].update(severity="fatal"), "payload.severity"),
        ("pagerduty", "resolve", lambda p: p.pop("dedup_key"), "dedup_key"),
        ("datadog", "triggered", lambda p: p.update(transition="Exploded"), "transition"),
        ("datadog", "triggered", lambda p: p.pop("title"), "title"),
        ("datadog", "default_payload", lambda p: p.update(title="checkout is sad"), "transition"),
        ("cloudwatch", "alarm", lambda p: p.update(Message="{not json"), "Message"),
        ("cloudwatch", "alarm", lambda p: p.update(Type="Telegram"), "Type"),
        (
            "cloudwatch",
            "subscription_confirmation",
            lambda p: p.update(SubscribeURL="https://evil.example/?x=sns.amazonaws.com"),
            "SubscribeURL",
        ),
        ("opsgenie", "create", lambda p: p["alert"].pop("message"), "alert.message"),
        ("opsgenie", "create", lambda p: p.pop("alert"), "alert"),
        ("generic", "firing", lambda p: p.pop("title"), "title"),
        ("generic", "firing", lambda p: p.update(started_at="2026-11-20T10:03:00"), "started_at"),
        ("generic", "firing", lambda p: p.update(links="https://x"), "links"),
    ],
)
def test_bad_payloads_name_the_field(source: str, name: str, mutate: Mutation, field: str) -> None:
    payload = fixture(source, name)
    mutate(payload)
    with pytest.raises(AlertPayloadError) as error:
        normalize(source, payload)
    assert error.value.field == field, str(error.value)


@pytest.mark.parametrize("payload", [None, "text", 42, [1]])
def test_not_an_object(payload: Any) -> None:
    for source in ("alertmanager", "pagerduty", "datadog", "opsgenie", "cloudwatch"):
        with pytest.raises(AlertPayloadError):
            normalize(source, payload)


def test_unknown_source_lists_the_known_ones() -> None:
    with pytest.raises(UnknownSource, match="known: alertmanager, grafana"):
        normalize("nagios", {})
