"""Hostile deliveries found by probing: each gets a 4xx naming the field (and a dead letter), never a 500."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from intake_helpers import T0, fixture, fixture_bytes, settings


async def test_deeply_nested_json_is_a_400_dead_letter(start_service: Any) -> None:
    intake = await start_service()
    for source in ("alertmanager", "generic", "pagerduty"):
        response = await intake.post(source, b'{"alerts": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
        assert response.status_code == 400, response.text
        answer = response.json()
        assert answer["field"] == "body" and "nested" in answer["message"]
        assert answer["dead_letter_id"]


@pytest.mark.parametrize(
    ("source", "name", "edit", "field"),
    [
        ("pagerduty", "trigger", lambda d: d.update(event_action=["trigger"]), "event_action"),
        ("pagerduty", "trigger", lambda d: d["payload"].update(severity={"level": "critical"}), "payload.severity"),
        ("cloudwatch", "alarm", None, "NewStateValue"),
    ],
)
async def test_a_list_or_object_where_a_string_belongs_names_the_field(
    start_service: Any, source: str, name: str, edit: Any, field: str
) -> None:
    intake = await start_service()
    document = fixture(source, name)
    if edit is not None:
        edit(document)
    else:  # CloudWatch's alarm is a JSON string inside the SNS envelope
        alarm = json.loads(document["Message"])
        alarm["NewStateValue"] = {"state": "ALARM"}
        document["Message"] = json.dumps(alarm)
    response = await intake.post(source, document)
    assert response.status_code == 400, response.text
    assert response.json()["field"].endswith(field)


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": "Basic " + "é" * 8},  # non-ASCII bytes in a Basic header
        {"authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},  # not UTF-8 inside
    ],
)
async def test_hostile_basic_credentials_are_401_and_counted(start_service: Any, headers: dict[str, str]) -> None:
    intake = await start_service(
        settings(
            sources={"datadog": {"auth": {"kind": "basic", "username": "datadog", "password_env": "DD_PASSWORD"}}}
        ),
        environ={"DD_PASSWORD": "pw"},
    )
    response = await intake.client.post(
        "/v1/alerts/datadog",
        content=fixture_bytes("datadog", "triggered"),
        headers={k: v.encode("latin-1") for k, v in headers.items()},
    )
    assert response.status_code == 401, response.text
    assert intake.service.rejected_unauthenticated == 1


@pytest.mark.parametrize(
    ("signature", "stamp"),
    [
        ("0" * 64, "9" * 400),  # a 400-digit timestamp
        ("é" * 64, str(int(T0))),  # a non-ASCII signature
        ("zz", str(int(T0))),
    ],
)
async def test_hostile_hmac_headers_are_401_and_counted(start_service: Any, signature: str, stamp: str) -> None:
    intake = await start_service(
        settings(
            sources={
                "grafana": {
                    "auth": {
                        "kind": "hmac",
                        "secret_env": "GRAFANA_SECRET",
                        "timestamp_header": "X-Grafana-Alerting-Timestamp",
                    }
                }
            }
        ),
        environ={"GRAFANA_SECRET": "s3cr3t"},
    )
    intake.clock.now = T0
    response = await intake.client.post(
        "/v1/alerts/grafana",
        content=fixture_bytes("grafana", "firing"),
        headers={
            "x-grafana-alerting-signature": signature.encode("latin-1"),
            "x-grafana-alerting-timestamp": stamp.encode(),
        },
    )
    assert response.status_code == 401, response.text
    assert intake.service.rejected_unauthenticated == 1


async def test_the_generic_receiver_maps_common_label_names_and_keeps_the_rest(start_service: Any) -> None:
    intake = await start_service()
    # Shaped like other tools' alert JSON: no "service" field, Kubernetes label names, the pod at the top.
    alerts = [
        {
            "title": "High memory",
            "severity": "warning",
            "pod": pod,
            "namespace": "shop",
            "container": "app",
            "labels": {"app.kubernetes.io/name": "checkout", "env": "prod"},
            "details": {"usage": 0.97},
        }
        for pod in ("checkout-7d9f-abcde", "checkout-7d9f-fghij")
    ]
    response = await intake.post("generic", {"alerts": alerts})
    assert response.status_code == 202, response.text
    assert response.json()["alerts"] == 2
    await intake.settle()
    [request] = intake.starter.requests
    alert = request.alert
    assert alert.service == "checkout"
    assert alert.environment == "production"
    assert alert.labels["pod"] == "checkout-7d9f-abcde" and alert.labels["namespace"] == "shop"
    assert alert.labels["container"] == "app"
    assert alert.annotations["details"] == '{"usage":0.97}'
    [incident] = await intake.incidents()
    assert incident["alerts"] == 2  # two pods are two alerts, not merged into one


@pytest.mark.parametrize(
    ("where", "key", "field"),
    [("labels", "service", "alerts[0].labels.service"), ("annotations", "summary", "alerts[0].annotations.summary")],
)
async def test_a_list_as_an_alertmanager_label_or_annotation_is_refused_not_stringified(
    start_service: Any, where: str, key: str, field: str
) -> None:
    intake = await start_service()
    document = fixture("alertmanager", "firing")
    document["alerts"][0][where][key] = ["checkout"]  # would have become the service name "['checkout']"
    response = await intake.post("alertmanager", document)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
