"""The agents' own settings: the workflow's bounds and the model endpoint of the LLM reasoner.

The composition root (`firstline.config`) nests them under ``workflow:`` and ``llm:`` in config.yaml.
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator


class LLMSettings(BaseModel):
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp...)."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = "http://127.0.0.1:11434/v1"
    model: str = "llama3.1"
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Environment variable holding the API key; local servers accept any value.",
    )
    timeout_seconds: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=1, ge=0, le=5)
    temperature: float = 0.0
    structured_output_method: Literal["auto", "function_calling", "json_schema", "json_mode"] = Field(
        default="auto",
        description="How the remediation choice is asked for. auto: probed once per server (json_schema, else "
        "function_calling, else json_mode) and kept.",
    )
    max_tool_rounds: int = Field(default=6, ge=1, le=30)
    max_tokens: int = Field(
        default=1024,
        ge=16,
        le=32_768,
        description="Most tokens one model call may generate. Without it a small model can generate until its "
        "context is full (minutes), and every later step queues behind the abandoned request.",
    )
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="How the limit is sent: max_tokens (llama.cpp, vLLM, Ollama, most OpenAI models) or "
        "max_completion_tokens (OpenAI reasoning models, which refuse max_tokens).",
    )
    context_tokens: int | None = Field(
        default=None,
        ge=512,
        description="The model's context window in tokens. Unset: asked from the server where it tells it "
        "(llama.cpp's /props), else no prompt budget. The diagnose step offers the tools and evidence that fit.",
    )
    step_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Deadline for one model step (all its retries); the request is cancelled and the step falls back.",
    )


class DefaultTeam(BaseModel):
    """Who hears about an incident nobody in the catalog owns (an alert for an unknown service)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="on-call", description="The team's name, as messages show it.")
    chat_channel: str | None = Field(default=None, description="Its Slack channel (id or #name).")
    pagerduty_events: str | None = Field(
        default=None, description="The pagerduty_events tool instance that pages it; None: the first one configured."
    )


class CommsSettings(BaseModel):
    """How the communication agent talks to people: time zone, cadence, paging, stakeholders."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = Field(
        default="UTC", description="IANA zone (Europe/Berlin) customer and stakeholder messages show times in."
    )
    update_every_minutes: dict[str, int] = Field(
        default_factory=lambda: {"SEV1": 30, "SEV2": 60, "SEV3": 120, "SEV4": 240},
        description="While an incident is open, the next update is promised within this many minutes, per severity.",
    )
    page_on: list[str] = Field(
        default_factory=lambda: ["SEV1"],
        description="Severities that page the on-call as soon as triage is done (escalations always page).",
    )
    stakeholders: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Who the stakeholder update is addressed to, by service name or by tier (tier1, tier2...).",
    )
    default_team: DefaultTeam = Field(default_factory=DefaultTeam)
    review_dir: str | None = Field(
        default=None, description="Folder the post-incident review draft is written to when an incident ends."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {zone!r} (an IANA name such as Europe/Berlin)") from exc
        return zone


ISTIO_EDGE_LATENCY = (
    "histogram_quantile(0.5, sum by (le, source_workload, destination_workload, reporter) "
    "(rate(istio_request_duration_milliseconds_bucket[5m])))"
)


class EdgeLatencySettings(BaseModel):
    """Where the investigation reads every call edge's latency at both of its ends.

    One range query answering one series per caller, callee and end: the caller's end (request sent
    to response received: the callee's work plus the network) and the callee's end (its work only).
    The default is Istio's standard metric, whose sidecars report each request from both sides; any
    mesh or exporter that labels the two ends works once the labels are named here. Units do not
    matter (the ranking compares each series with its own past).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    query: str = Field(default=ISTIO_EDGE_LATENCY, min_length=1)
    caller_label: str = Field(default="source_workload", min_length=1, description="Label naming the caller.")
    callee_label: str = Field(default="destination_workload", min_length=1, description="Label naming the callee.")
    end_label: str = Field(default="reporter", min_length=1, description="Label saying which end measured it.")
    caller_end: str = Field(default="source", description="``end_label``'s value at the caller's end.")
    callee_end: str = Field(default="destination", description="``end_label``'s value at the callee's end.")


class WorkflowSettings(BaseModel):
    """Bounds the supervisor enforces, and how verification judges recovery."""

    model_config = ConfigDict(extra="forbid")

    max_turns: int = Field(default=20, ge=4, le=100)
    max_investigation_rounds: int = Field(default=2, ge=1, le=5)
    token_budget: int = Field(default=200_000, ge=1_000)
    lookback_minutes: int = Field(default=180, ge=10, description="How far back to look for changes.")
    baseline_minutes: int = Field(default=60, ge=5)
    verify_settle_seconds: float = Field(
        default=300.0, ge=0, description="Wait after an action before verifying (rate windows need to cover it)."
    )
    verify_tolerance: float = Field(
        default=0.005, ge=0, description="Absolute slack over the baseline error ratio that still counts as recovered."
    )
    environment: str = "production"
    comms: CommsSettings = Field(default_factory=lambda: CommsSettings())
    edge_latency: EdgeLatencySettings = Field(
        default_factory=lambda: EdgeLatencySettings(),
        description="Where each call edge's latency at both ends is read (README, the investigation's edge ranking).",
    )
