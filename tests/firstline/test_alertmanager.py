import pytest

from intake.alertmanager import AlertPayloadError, parse_alertmanager

PAYLOAD = {
    "receiver": "firstline",
    "status": "firing",
    "version": "4",
    "groupKey": '{}:{alertname="X"}',
    "truncatedAlerts": 0,
    "groupLabels": {"alertname": "HighErrorRate"},
    "commonLabels": {"alertname": "HighErrorRate", "severity": "critical"},
    "commonAnnotations": {"summary": "api 5xx above 5%"},
    "externalURL": "http://am:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighErrorRate", "service": "api", "severity": "critical"},
            "annotations": {"runbook_url": "https://runbooks/api"},
            "startsAt": "2026-11-20T10:01:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prom/graph",
            "fingerprint": "a1b2c3d4e5f60718",
        }
    ],
}


def test_parses_a_firing_alert_with_group_annotations() -> None:
    [alert] = parse_alertmanager(PAYLOAD)
    assert alert.service == "api"
    assert alert.title == "api 5xx above 5%"
    assert alert.severity == "critical"
    assert alert.ended_at is None
    assert alert.fingerprint == "a1b2c3d4e5f60718"
    assert "https://runbooks/api" in alert.links


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.update(alerts=[]), "alerts"),
        (lambda p: p["alerts"][0]["labels"].pop("service"), "alerts[0].labels.service"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
        (lambda p: p.update(version="2"), "version"),
        (lambda p: p["alerts"][0].update(status="pending"), "alerts[0].status"),
    ],
)
def test_bad_payloads_name_the_field(mutate, field) -> None:  # type: ignore[no-untyped-def]
    import copy

    payload = copy.deepcopy(PAYLOAD)
    mutate(payload)
    with pytest.raises(AlertPayloadError) as err:
        parse_alertmanager(payload)
    assert str(err.value).startswith(field)


def test_not_an_object() -> None:
    with pytest.raises(AlertPayloadError, match="payload"):
        parse_alertmanager([1, 2])
