"""The intake section of config.yaml: defaults, the shipped file, and errors that name the field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from firstline.config import ConfigError, load_config, parse_config
from intake.events import AlertEvent
from intake.settings import IntakeSettings, MaintenanceWindow
from intake.suppression import Suppressor

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_has_a_valid_intake_section() -> None:
    config = load_config(REPO / "config.yaml")
    assert config.intake.inbox == REPO / ".firstline" / "intake.sqlite"  # resolved against the file
    assert set(config.intake.sources) == {
        "alertmanager",
        "grafana",
        "pagerduty",
        "datadog",
        "cloudwatch",
        "opsgenie",
        "generic",
    }
    assert config.intake.grouping.window_minutes > 0


@pytest.mark.parametrize(
    ("intake", "field"),
    [
        ({"sources": {"alertmanager": {"auth": {"kind": "bearer"}}}}, "intake.sources.alertmanager.auth"),
        (
            {"sources": {"grafana": {"auth": {"kind": "hmac", "secret_env": "not a name"}}}},
            "intake.sources.grafana.auth",
        ),
        (
            {"sources": {"datadog": {"auth": {"kind": "basic", "password_env": "DD_PASS"}}}},
            "intake.sources.datadog.auth",
        ),
        ({"sources": {"nagios": {}}}, "intake.sources.nagios"),
        ({"grouping": {"window_minutes": 0}}, "intake.grouping.window_minutes"),
        ({"flap": {"threshold": 1}}, "intake.flap.threshold"),
        ({"suppress": [{"name": "x"}]}, "intake.suppress.0"),
        ({"suppress": [{"name": "x", "match_re": {"service": "(("}}]}, "intake.suppress.0"),
        ({"suppress": [{"name": "x", "match": {"a": "b"}}, {"name": "x", "match": {"a": "c"}}]}, "intake"),
        ({"maintenance": [{"name": "m", "services": ["db"], "start": "2026-11-20T10:00:00Z"}]}, "intake.maintenance.0"),
        (
            {
                "maintenance": [
                    {"name": "m", "services": ["db"], "start": "2026-11-20T11:00:00Z", "end": "2026-11-20T10:00:00Z"}
                ]
            },
            "intake.maintenance.0",
        ),
        (
            {"maintenance": [{"name": "m", "start": "2026-11-20T10:00:00Z", "end": "2026-11-20T11:00:00Z"}]},
            "intake.maintenance.0",
        ),
        (
            {
                "maintenance": [
                    {
                        "name": "m",
                        "services": ["db"],
                        "weekly": {"days": ["sat"], "start": "25:00", "duration_minutes": 60},
                    }
                ]
            },
            "intake.maintenance.0.weekly.start",
        ),
        (
            {
                "maintenance": [
                    {
                        "name": "m",
                        "services": ["db"],
                        "weekly": {
                            "days": ["sat"],
                            "start": "02:00",
                            "duration_minutes": 60,
                            "timezone": "Mars/Olympus",
                        },
                    }
                ]
            },
            "intake.maintenance.0.weekly.timezone",
        ),
        ({"bogus": 1}, "intake.bogus"),
    ],
)
def test_bad_intake_settings_name_the_field(intake: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config({"intake": intake}, origin="config.yaml")
    assert f"config.yaml: {field}" in str(error.value)


def _event(service: str, **fields: Any) -> AlertEvent:
    environment = fields.pop("environment", "production")
    return AlertEvent(
        "generic", "k", "firing", fields.pop("name", "X"), "t", "warning", service, environment, 0.0, **fields
    )


def test_weekly_window_follows_its_timezone_across_midnight() -> None:
    window = MaintenanceWindow.model_validate(
        {
            "name": "sat-night",
            "services": ["db"],
            "weekly": {"days": ["sat"], "start": "23:00", "duration_minutes": 120, "timezone": "Europe/Berlin"},
        }
    )
    suppressor = Suppressor([], [window])

    def at(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    # 2026-11-21 is a Saturday; Berlin is UTC+1 in November
    assert (
        suppressor.reason_for(_event("db"), at("2026-11-21T22:30:00+00:00")) == "maintenance sat-night"
    )  # Sun 00:30 Berlin
    assert suppressor.reason_for(_event("db"), at("2026-11-21T21:59:00+00:00")) is None  # Sat 22:59 Berlin
    assert suppressor.reason_for(_event("db"), at("2026-11-22T00:01:00+00:00")) is None  # Sun 01:01 Berlin: over
    assert suppressor.reason_for(_event("api"), at("2026-11-21T22:30:00+00:00")) is None  # another service


def test_rules_match_labels_and_regexes_and_expire() -> None:
    settings = IntakeSettings.model_validate(
        {
            "suppress": [
                {"name": "staging", "match": {"environment": "staging"}},
                {
                    "name": "batch",
                    "match_re": {"service": "batch-.*"},
                    "match": {"team": "data"},
                    "until": "2026-11-21T00:00:00Z",
                },
            ]
        }
    )
    suppressor = Suppressor(settings.suppress, settings.maintenance)
    now = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    assert suppressor.reason_for(_event("api", environment="staging"), now) == "rule staging"
    assert (
        suppressor.reason_for(_event("api", labels={"environment": "staging"}), now) is None
    )  # the field, not a label
    assert suppressor.reason_for(_event("batch-etl", labels={"team": "data"}), now) == "rule batch"
    assert suppressor.reason_for(_event("batch-etl", labels={"team": "web"}), now) is None
    assert suppressor.reason_for(_event("xbatch-etl", labels={"team": "data"}), now) is None  # full match
    assert suppressor.reason_for(_event("batch-etl", labels={"team": "data"}), now + 2 * 86400) is None  # expired
