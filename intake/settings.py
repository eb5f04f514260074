"""The ``intake:`` section of config.yaml: receivers, their authentication, correlation and suppression.

Secrets never appear here, only the names of the environment variables that hold them. Every
validation error names the field (``intake.sources.grafana.auth: secret_env is required ...``).
"""

from __future__ import annotations

import re
from datetime import datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SourceName = Literal["alertmanager", "grafana", "pagerduty", "datadog", "cloudwatch", "opsgenie", "generic"]
SOURCE_NAMES: tuple[SourceName, ...] = (
    "alertmanager",
    "grafana",
    "pagerduty",
    "datadog",
    "cloudwatch",
    "opsgenie",
    "generic",
)
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Fields of the canonical alert a matcher may name; any other key is looked up in the alert's labels.
MATCHABLE_FIELDS = frozenset({"source", "name", "alertname", "service", "severity", "environment", "title"})


def _env_name(value: str | None, field: str) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"{field}: {value!r} is not an environment variable name")
    return value


class IntakeAuth(BaseModel):
    """How one source proves who it is. ``kind``: none, bearer, basic or hmac (Grafana's signature)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["none", "bearer", "basic", "hmac"] = "none"
    token_env: str | None = Field(default=None, description="bearer: variable holding the token.")
    username: str | None = Field(default=None, description="basic: the user name (not a secret).")
    password_env: str | None = Field(default=None, description="basic: variable holding the password.")
    secret_env: str | None = Field(default=None, description="hmac: variable holding the shared secret.")
    signature_header: str = Field(
        default="X-Grafana-Alerting-Signature", description="hmac: header with the hex HMAC-SHA256."
    )
    timestamp_header: str | None = Field(
        default=None,
        description="hmac: header with the Unix time the sender signed as '<timestamp>:<body>' (Grafana has no default; "
        "X-Grafana-Alerting-Timestamp is usual). Set it to refuse replayed deliveries.",
    )
    max_skew_seconds: int = Field(
        default=300, ge=1, le=86_400, description="hmac with timestamp: accepted clock difference."
    )

    @model_validator(mode="after")
    def _complete(self) -> IntakeAuth:
        for field in ("token_env", "password_env", "secret_env"):
            _env_name(getattr(self, field), field)
        needed = {"bearer": ("token_env",), "basic": ("username", "password_env"), "hmac": ("secret_env",)}.get(
            self.kind, ()
        )
        missing = [f for f in needed if not getattr(self, f)]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required when kind is {self.kind}")
        return self


class IntakeSource(BaseModel):
    """One receiver, ``POST /v1/alerts/{source}``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    auth: IntakeAuth = Field(default_factory=IntakeAuth)
    default_severity: Literal["critical", "error", "warning", "info"] = Field(
        default="warning", description="Severity when the payload carries none (CloudWatch alarms never do)."
    )
    default_environment: str = Field(default="production", description="Environment when the payload names none.")
    confirm_subscriptions: bool = Field(
        default=True,
        description="cloudwatch: confirm SNS SubscriptionConfirmation by GETting its SubscribeURL (sns.*.amazonaws.com only).",
    )


class GroupingSettings(BaseModel):
    """When alerts become one incident: same environment, and related by service, labels or topology in time."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: float = Field(
        default=30,
        gt=0,
        le=24 * 60,
        description="A new alert joins an incident whose alerts on the same service (or with the same same_labels value) "
        "were delivered this recently.",
    )
    topology_window_minutes: float = Field(
        default=10,
        gt=0,
        le=24 * 60,
        description="An alert on a related service (a caller or dependency in the catalog) joins only an incident opened "
        "this recently: a cascade spreads in minutes, and a busy estate would otherwise glue unrelated problems together.",
    )
    max_hops: int = Field(
        default=2,
        ge=0,
        le=6,
        description="Catalog dependency hops that still relate two services (0: same service only).",
    )
    same_labels: list[str] = Field(
        default_factory=list, description="Labels whose equal value also groups alerts (e.g. cluster, region)."
    )
    investigation_delay_seconds: float = Field(
        default=10,
        ge=0,
        le=3600,
        description="Wait this long after an incident opens or changes before (re)starting the workflow, so a cascade "
        "arriving within seconds is investigated once.",
    )


class FlapSettings(BaseModel):
    """An alert that changes state ``threshold`` times within ``window_minutes`` is flapping: its resolves are held."""

    model_config = ConfigDict(extra="forbid")

    window_minutes: float = Field(default=10, gt=0, le=24 * 60)
    threshold: int = Field(default=4, ge=2, le=100, description="State changes within the window that mean flapping.")


def _check_matchers(match: dict[str, str], match_re: dict[str, str]) -> None:
    for key, pattern in match_re.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"match_re.{key}: not a regular expression ({exc})") from exc
    for key in [*match, *match_re]:
        if not key:
            raise ValueError("match: empty key")


class SuppressionRule(BaseModel):
    """Alerts matching every matcher are suppressed (recorded with this rule's name and reason, never dropped).

    ``match`` compares exactly, ``match_re`` with a full-match regular expression (as Alertmanager's
    ``match``/``match_re``). Keys: source, alertname (or name), service, severity, environment, title,
    or any label name.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    reason: str = ""
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    until: datetime | None = Field(
        default=None, description="The rule stops applying at this time (RFC3339 with zone)."
    )

    @model_validator(mode="after")
    def _valid(self) -> SuppressionRule:
        if not self.match and not self.match_re:
            raise ValueError(
                "match: a rule needs at least one matcher in match or match_re (it would suppress everything)"
            )
        _check_matchers(self.match, self.match_re)
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("until: needs a timezone, e.g. 2026-11-20T10:00:00Z")
        return self


class WeeklySchedule(BaseModel):
    """A window that recurs every week: on ``days`` from ``start`` (HH:MM in ``timezone``) for ``duration_minutes``."""

    model_config = ConfigDict(extra="forbid")

    days: list[Weekday] = Field(min_length=1)
    start: str = Field(description="HH:MM, 24-hour clock.")
    duration_minutes: int = Field(ge=1, le=7 * 24 * 60)
    timezone: str = "UTC"

    @field_validator("start")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"expected HH:MM, got {value!r}") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as Europe/Berlin)") from exc
        return value


class MaintenanceWindow(BaseModel):
    """Planned work: alerts on these services (or matching these matchers) are suppressed during the window.

    Either an absolute window (``start`` and ``end``) or a ``weekly`` schedule.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    services: list[str] = Field(default_factory=list)
    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)
    start: datetime | None = None
    end: datetime | None = None
    weekly: WeeklySchedule | None = None

    @model_validator(mode="after")
    def _valid(self) -> MaintenanceWindow:
        if not (self.services or self.match or self.match_re):
            raise ValueError("services: a window needs services, match or match_re (it would silence everything)")
        _check_matchers(self.match, self.match_re)
        absolute = self.start is not None or self.end is not None
        if absolute == (self.weekly is not None):
            raise ValueError("start: give either start and end, or weekly (not both, not neither)")
        if absolute:
            if self.start is None or self.end is None:
                raise ValueError("end: an absolute window needs both start and end")
            if self.start.tzinfo is None or self.end.tzinfo is None:
                raise ValueError("start: start and end need a timezone, e.g. 2026-11-20T22:00:00Z")
            if self.end <= self.start:
                raise ValueError("end: must be after start")
        return self


def _all_sources() -> dict[SourceName, IntakeSource]:
    return {name: IntakeSource() for name in SOURCE_NAMES}


class IntakeSettings(BaseModel):
    """Alert intake: receivers, the durable inbox, correlation, flap detection, suppression."""

    model_config = ConfigDict(extra="forbid")

    inbox: Path = Field(
        default=Path(".firstline/intake.sqlite"), description="SQLite file: inbox, dead letters, incidents."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8787, ge=0, le=65535)
    max_body_kb: int = Field(default=1024, ge=1, le=64 * 1024, description="Larger request bodies get 413.")
    sources: dict[SourceName, IntakeSource] = Field(
        default_factory=_all_sources, description="Enabled receivers; a source not listed answers 404."
    )
    grouping: GroupingSettings = Field(default_factory=GroupingSettings)
    flap: FlapSettings = Field(default_factory=FlapSettings)
    stale_after_minutes: float = Field(
        default=24 * 60,
        gt=0,
        description="An incident whose alerts stop arriving (and never resolve) is closed after this.",
    )
    retention_hours: float = Field(
        default=24,
        gt=0,
        le=24 * 90,
        description="How long processed payloads and closed incidents are kept for dedup and restarts.",
    )
    max_concurrent_investigations: int = Field(default=2, ge=1, le=64)
    run_lease_seconds: float = Field(
        default=30,
        ge=1,
        le=3600,
        description="Several workers (storage.url): a worker renews its runs' leases every third of this; "
        "a run whose lease expired (its worker died) is taken over by another worker.",
    )
    suppress: list[SuppressionRule] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> IntakeSettings:
        for field, items in (("suppress", self.suppress), ("maintenance", self.maintenance)):
            names = [item.name for item in items]
            duplicates = sorted({n for n in names if names.count(n) > 1})
            if duplicates:
                raise ValueError(f"{field}: duplicate names {', '.join(duplicates)} (each reason must be traceable)")
        return self
