"""The receivers over HTTP (in process): every source, duplicates, resolves, truncation, auth,
oversized bodies, dead letters, SNS confirmation, restarts, and the investigations they start."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from intake_helpers import T0, Clock, RecordingStarter, fixture, fixture_bytes, settings

from intake.db import open_db
from intake.deadletters import DeadLetters
from intake.inbox import Inbox
from intake.starter import InvestigationRequest

FIRST_DELIVERY = {
    "alertmanager": ("firing", "checkout"),
    "grafana": ("firing", "checkout"),
    "pagerduty": ("trigger", "checkout"),
    "datadog": ("triggered", "checkout"),
    "cloudwatch": ("alarm", "checkout"),
    "opsgenie": ("create", "checkout"),
    "generic": ("firing", "checkout"),
}
RESOLVING = {
    "alertmanager": ("firing", "resolved"),
    "grafana": ("firing", "resolved"),
    "pagerduty": ("trigger", "resolve"),
    "datadog": ("triggered", "recovered"),
    "cloudwatch": ("alarm", "ok"),
    "opsgenie": ("create", "close"),
    "generic": ("firing", "resolved"),
}


@pytest.mark.parametrize("source", sorted(FIRST_DELIVERY))
async def test_each_source_opens_an_incident_and_starts_the_workflow(start_service: Any, source: str) -> None:
    intake = await start_service()
    name, service = FIRST_DELIVERY[source]
    response = await intake.post(source, fixture_bytes(source, name), **{"content-type": "text/plain; charset=UTF-8"})
    assert response.status_code == 202, response.text
    assert response.json()["status"] in ("accepted", "success")
    await intake.settle()
    [incident] = await intake.incidents()
    assert incident["services"] == [service] and incident["status"] == "open"
    [request] = intake.starter.requests
    assert (
        request.incident_id == incident["id"] == request.workflow_id
    )  # the first investigation runs under the incident's id
    assert request.alert.service == service
    assert request.alert.labels["firstline_intake_incident"] == incident["id"]


@pytest.mark.parametrize("source", sorted(RESOLVING))
async def test_duplicate_deliveries_then_resolve(start_service: Any, source: str) -> None:
    intake = await start_service()
    firing, resolved = RESOLVING[source]
    for _ in range(3):  # the sender retries / repeats
        assert (await intake.post(source, fixture_bytes(source, firing))).status_code == 202
    await intake.settle()
    [incident] = await intake.incidents()
    assert incident["deliveries"] == 3 * len(fixture_payload_alerts(source, firing))
    assert len(intake.starter.requests) == 1  # never once per repeated alert
    intake.clock.advance(600)
    assert (await intake.post(source, fixture_bytes(source, resolved))).status_code == 202
    await intake.settle()
    [closed] = await intake.incidents(status="resolved")
    assert closed["id"] == incident["id"] and closed["resolution"] == "all alerts resolved"
    assert len(intake.starter.requests) == 1


def fixture_payload_alerts(source: str, name: str) -> list[Any]:
    payload = fixture(source, name)
    return payload["alerts"] if isinstance(payload, dict) and "alerts" in payload else [payload]


async def test_pagerduty_answers_like_pagerduty(start_service: Any) -> None:
    intake = await start_service()
    ok = await intake.post("pagerduty", fixture("pagerduty", "trigger"))
    assert ok.status_code == 202
    assert (
        ok.json().items()
        >= {"status": "success", "message": "Event processed", "dedup_key": "checkout/latency-p99"}.items()
    )
    bad = await intake.post("pagerduty", {"routing_key": "x", "event_action": "trigger"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == ["payload: expected a JSON object, got NoneType"]


async def test_truncated_group_is_accepted_and_the_loss_recorded(start_service: Any) -> None:
    intake = await start_service()
    response = await intake.post("alertmanager", fixture_bytes("alertmanager", "truncated"))
    assert response.status_code == 202
    assert response.json()["note"] == "37 alerts truncated by the sender"
    await intake.settle()
    [incident] = await intake.incidents()
    assert incident["truncated_alerts"] == 37 and incident["alerts"] == 2


async def test_malformed_payload_gets_400_naming_the_field_and_a_dead_letter(start_service: Any) -> None:
    intake = await start_service()
    payload = fixture("alertmanager", "firing")
    payload["alerts"][1]["startsAt"] = "half past ten"
    response = await intake.post("alertmanager", payload)
    assert response.status_code == 400
    body = response.json()
    assert body["field"] == "alerts[1].startsAt"
    assert body["message"].startswith("alerts[1].startsAt: not an RFC3339 time")
    not_json = await intake.post("generic", b"{oops")
    assert not_json.status_code == 400 and not_json.json()["field"] == "body"
    letters = DeadLetters(open_db(intake.service.db_path))
    listed = letters.list()
    assert [(d["source"], d["field"], d["status"]) for d in listed] == [
        ("generic", "body", 400),
        ("alertmanager", "alerts[1].startsAt", 400),
    ]
    kept = letters.get(body["dead_letter_id"])
    assert kept is not None and "half past ten" in kept["body"]
    await intake.settle()
    assert await intake.incidents() == []


def _sign(secret: str, body: bytes, stamp: str | None = None) -> str:
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    if stamp is not None:
        mac.update(stamp.encode() + b":")
    mac.update(body)
    return mac.hexdigest()


async def test_grafana_hmac_signature_on_the_raw_body(start_service: Any) -> None:
    intake_settings = settings(
        sources={
            "grafana": {
                "auth": {
                    "kind": "hmac",
                    "secret_env": "GRAFANA_SECRET",
                    "timestamp_header": "X-Grafana-Alerting-Timestamp",
                }
            }
        }
    )
    intake = await start_service(intake_settings, environ={"GRAFANA_SECRET": "s3cr3t"})
    body = fixture_bytes("grafana", "firing")
    stamp = str(int(T0))
    good = await intake.post(
        "grafana",
        body,
        **{"X-Grafana-Alerting-Signature": _sign("s3cr3t", body, stamp), "X-Grafana-Alerting-Timestamp": stamp},
    )
    assert good.status_code == 202, good.text
    cases = {
        "missing signature": {"X-Grafana-Alerting-Timestamp": stamp},
        "wrong secret": {
            "X-Grafana-Alerting-Signature": _sign("guess", body, stamp),
            "X-Grafana-Alerting-Timestamp": stamp,
        },
        "body signed without the timestamp": {
            "X-Grafana-Alerting-Signature": _sign("s3cr3t", body),
            "X-Grafana-Alerting-Timestamp": stamp,
        },
        "replayed an hour later": {
            "X-Grafana-Alerting-Signature": _sign("s3cr3t", body, str(int(T0) - 3600)),
            "X-Grafana-Alerting-Timestamp": str(int(T0) - 3600),
        },
        "missing timestamp": {"X-Grafana-Alerting-Signature": _sign("s3cr3t", body, stamp)},
    }
    for case, headers in cases.items():
        response = await intake.post("grafana", body, **headers)
        assert response.status_code == 401, case
        assert response.json()["error"] == "unauthenticated"
    tampered = body.replace(b"91.2", b"11.2")
    response = await intake.post(
        "grafana",
        tampered,
        **{"X-Grafana-Alerting-Signature": _sign("s3cr3t", body, stamp), "X-Grafana-Alerting-Timestamp": stamp},
    )
    assert response.status_code == 401
    health = (await intake.client.get("/healthz")).json()
    assert health["rejected_unauthenticated"] == len(cases) + 1
    assert health["dead_letters"] == 0  # unauthenticated bodies are not stored


async def test_bearer_and_basic_auth(start_service: Any) -> None:
    intake_settings = settings(
        sources={
            "alertmanager": {"auth": {"kind": "bearer", "token_env": "AM_TOKEN"}},
            "datadog": {"auth": {"kind": "basic", "username": "datadog", "password_env": "DD_PASSWORD"}},
        }
    )
    intake = await start_service(intake_settings, environ={"AM_TOKEN": "t0ken", "DD_PASSWORD": "pa:ss"})
    body = fixture_bytes("alertmanager", "firing")
    assert (await intake.post("alertmanager", body)).status_code == 401
    assert (await intake.post("alertmanager", body, authorization="Bearer nope")).status_code == 401
    assert (await intake.post("alertmanager", body, authorization="Bearer t0ken")).status_code == 202
    basic = "Basic " + base64.b64encode(b"datadog:pa:ss").decode()
    wrong = "Basic " + base64.b64encode(b"datadog:pass").decode()
    assert (await intake.post("datadog", fixture_bytes("datadog", "triggered"), authorization=wrong)).status_code == 401
    assert (
        await intake.post("datadog", fixture_bytes("datadog", "triggered"), authorization="Basic !!!")
    ).status_code == 401
    assert (await intake.post("datadog", fixture_bytes("datadog", "triggered"), authorization=basic)).status_code == 202
    assert (
        await intake.post("grafana", fixture_bytes("grafana", "firing"))
    ).status_code == 404  # not listed: not enabled


async def test_oversized_bodies_get_413_and_a_dead_letter(start_service: Any) -> None:
    intake = await start_service(settings(max_body_kb=4))
    payload = fixture("generic", "firing")
    payload["description"] = "x" * 5000
    response = await intake.post("generic", payload)
    assert response.status_code == 413 and response.json()["field"] == "body"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed, cut at the limit
        for _ in range(10):
            yield b"[" + b" " * 1000

    streamed = await intake.client.post("/v1/alerts/generic", content=chunks())
    assert streamed.status_code == 413
    letters = DeadLetters(open_db(intake.service.db_path)).list()
    assert [(d["status"], d["field"]) for d in letters] == [(413, "body"), (413, "body")]
    assert letters[1]["body_size"] > 4096


async def test_unknown_source_is_404_naming_the_enabled_ones(start_service: Any) -> None:
    intake = await start_service()
    response = await intake.post("nagios", {"x": 1})
    assert response.status_code == 404
    assert "enabled: alertmanager, cloudwatch, datadog" in response.json()["message"]


async def test_sns_subscription_is_confirmed_through_the_subscribe_url(start_service: Any) -> None:
    calls: list[str] = []

    def sns(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")

    http = httpx.AsyncClient(transport=httpx.MockTransport(sns))
    intake = await start_service(http=http)
    response = await intake.post(
        "cloudwatch",
        fixture_bytes("cloudwatch", "subscription_confirmation"),
        **{"x-amz-sns-message-type": "SubscriptionConfirmation", "content-type": "text/plain; charset=UTF-8"},
    )
    assert response.status_code == 202 and response.json()["alerts"] == 0
    await intake.settle()
    assert len(calls) == 1 and calls[0].startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")
    assert await intake.incidents() == []
    await http.aclose()


async def test_a_failed_sns_confirmation_is_a_dead_letter(start_service: Any) -> None:
    http = httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(403, text="AuthorizationError"))
    )
    intake = await start_service(http=http)
    await intake.post("cloudwatch", fixture_bytes("cloudwatch", "subscription_confirmation"))
    await intake.settle()
    [letter] = DeadLetters(open_db(intake.service.db_path)).list()
    assert letter["stage"] == "confirm" and "HTTP 403" in letter["error"]
    await http.aclose()


async def test_healthz_and_openapi(start_service: Any) -> None:
    intake = await start_service()
    health = await intake.client.get("/healthz")
    assert health.status_code == 200
    assert health.json().items() >= {"status": "ok", "worker": "running", "inbox_pending": 0, "dead_letters": 0}.items()
    document = (await intake.client.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/v1/alerts/{source}",
        "/v1/incidents",
        "/v1/incidents/{incident_id}",
        "/healthz",
        "/openapi.json",
    }
    parameters = document["paths"]["/v1/alerts/{source}"]["post"]["parameters"]
    assert parameters[0]["schema"]["enum"] == [
        "alertmanager",
        "cloudwatch",
        "datadog",
        "generic",
        "grafana",
        "opsgenie",
        "pagerduty",
    ]
    assert (await intake.client.get("/v1/incidents", params={"status": "weird"})).status_code == 400
    assert (await intake.client.get("/v1/incidents/nope")).status_code == 404


async def test_cascade_is_one_incident_reinvestigated_only_on_material_change(start_service: Any) -> None:
    intake = await start_service()
    await intake.post("alertmanager", fixture_bytes("alertmanager", "firing"))  # checkout 5xx, critical
    await intake.settle()
    intake.clock.advance(30)
    await intake.post("alertmanager", fixture_bytes("alertmanager", "firing"))  # repeated: nothing new
    await intake.post("alertmanager", fixture_bytes("alertmanager", "database"))  # payments-db: new service
    await intake.settle()
    intake.clock.advance(30)
    await intake.post("alertmanager", fixture_bytes("alertmanager", "inventory"))  # inventory warning: new service
    await intake.post("alertmanager", fixture_bytes("alertmanager", "database"))
    await intake.settle()
    [incident] = await intake.incidents()
    assert incident["services"] == ["checkout", "inventory", "payments-db"]
    assert incident["likely_causes"] == ["payments-db"]
    revisions = [(r.revision, r.reasons) for r in intake.starter.requests]
    assert revisions == [
        (1, ("new incident",)),
        (2, ("new service affected: payments-db",)),
        (3, ("new service affected: inventory",)),
    ]
    latest = intake.starter.requests[-1].alert
    assert latest.service == "checkout"  # its dependencies cover the whole incident
    assert latest.severity == "critical"
    assert "payments-db" in latest.description
    shown = (await intake.client.get(f"/v1/incidents/{incident['id']}")).json()
    assert [(r["revision"], r["state"]) for r in shown["runs"]] == [(1, "started"), (2, "started"), (3, "started")]
    assert len({r["workflow_id"] for r in shown["runs"]}) == 3


async def test_a_failing_workflow_is_recorded_not_fatal(start_service: Any) -> None:
    intake = await start_service(starter=RecordingStarter(fail=True))
    await intake.post("generic", fixture_bytes("generic", "firing"))
    await intake.settle()
    [incident] = await intake.incidents()
    [run] = (await intake.client.get(f"/v1/incidents/{incident['id']}")).json()["runs"]
    assert run["state"] == "failed" and "workflow exploded" in run["detail"]
    assert (await intake.client.get("/healthz")).json()["investigations"] == {"failed": 1}


async def test_an_accepted_delivery_survives_a_crash_before_processing(start_service: Any, tmp_path: Path) -> None:
    db_path = tmp_path / "crash.sqlite"
    conn = open_db(db_path)  # what `accept` did before the 202 went out, in a process that then died
    Inbox(conn).enqueue("alertmanager", T0 + 60, {}, fixture_bytes("alertmanager", "firing"))
    conn.close()
    intake = await start_service(db_path=db_path)
    await intake.settle()
    [incident] = await intake.incidents()
    assert incident["services"] == ["checkout"]
    assert len(intake.starter.requests) == 1


async def test_restart_rebuilds_correlation_from_the_inbox(start_service: Any, tmp_path: Path) -> None:
    db_path, clock = tmp_path / "restart.sqlite", Clock()
    first = await start_service(db_path=db_path, clock=clock)
    await first.post("alertmanager", fixture_bytes("alertmanager", "firing"))
    await first.settle()
    [before] = await first.incidents()
    await first.service.stop()

    clock.advance(60)
    second = await start_service(db_path=db_path, clock=clock)
    assert second.service.rebuilt_items == 1
    await second.post("alertmanager", fixture_bytes("alertmanager", "firing"))  # a repeat after the restart
    await second.post("alertmanager", fixture_bytes("alertmanager", "database"))  # a caller's dependency joins
    await second.settle()
    [after] = await second.incidents()
    assert after["id"] == before["id"] and after["services"] == ["checkout", "payments-db"]
    assert [r.revision for r in second.starter.requests] == [2]  # revision 1 ran before the restart; not again


async def test_an_interrupted_investigation_is_started_again_after_a_restart(
    start_service: Any, tmp_path: Path
) -> None:
    db_path = tmp_path / "runs.sqlite"
    blocked = asyncio.Event()

    class Hanging(RecordingStarter):
        async def __call__(self, request: InvestigationRequest) -> str:
            self.requests.append(request)
            blocked.set()
            await asyncio.sleep(3600)
            return "never"

    first = await start_service(db_path=db_path, starter=Hanging())
    await first.post("generic", fixture_bytes("generic", "firing"))
    await asyncio.wait_for(blocked.wait(), 5)
    await first.service.stop(grace_seconds=0)  # the process goes away mid-investigation

    second = await start_service(db_path=db_path)
    await second.settle()
    [request] = second.starter.requests
    assert request.revision == 1 and request.alert.service == "checkout"


async def test_dry_run_starter_records_without_starting(start_service: Any) -> None:
    from intake.starter import record_only

    intake = await start_service()
    intake.service.starter = record_only
    await intake.post("generic", fixture_bytes("generic", "firing"))
    await intake.settle()
    [incident] = await intake.incidents()
    [run] = (await intake.client.get(f"/v1/incidents/{incident['id']}")).json()["runs"]
    assert run["state"] == "started" and run["detail"] == "not started (dry run)"
    assert json.loads(json.dumps(run))  # JSON-ready


async def test_a_full_disk_answers_503_so_the_sender_retries(start_service: Any) -> None:
    import sqlite3

    intake = await start_service()

    def full(*args: Any) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    intake.service.inbox.enqueue = full
    response = await intake.post("alertmanager", fixture_bytes("alertmanager", "firing"))
    assert response.status_code == 503 and response.json()["error"] == "inbox_unavailable"
    assert "retry" in response.json()["message"]
