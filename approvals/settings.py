"""The ``approvals:`` section of config.yaml: who may approve what, how people sign in, deadlines, Slack.

Secrets are never here, only the names of the environment variables that hold them (the Slack signing
secret) or nothing at all (passwords and tokens live hashed in the approvals database).

A rule matches an action by its action class, service and environment (an empty list matches any);
the first matching rule decides who may approve and how many distinct approvers it takes::

    approvals:
      rules:
        - name: production-changes
          action_classes: [rollback, scale, restart]
          environments: [production]
          approvers: {groups: [sre], owner_team: true, oncall: true}
        - name: anything-else
          approvers: {groups: [sre]}
      two_person: {destructive: true, irreversible: true, blast_radius: [namespace, cluster, external]}
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

BlastRadiusName = Literal["none", "single_resource", "service", "namespace", "cluster", "external"]
CliIdentity = Literal["token", "os_user", "by"]
WIDE_BLAST_RADII: tuple[BlastRadiusName, ...] = ("namespace", "cluster", "external")
DEFAULT_CLI_IDENTITY: tuple[CliIdentity, ...] = ("token", "os_user")


class Approvers(BaseModel):
    """Who a rule lets approve. Someone matching any of these may."""

    model_config = ConfigDict(extra="forbid")

    users: list[str] = Field(default_factory=list, description="firstline user names.")
    groups: list[str] = Field(default_factory=list, description="Groups a user belongs to (users add --group).")
    owner_team: bool = Field(
        default=False, description="Members of the service's owner team (the catalog's owner, as a group name)."
    )
    oncall: bool = Field(
        default=False, description="The service's current on-call (the catalog's on-call handle, as a user handle)."
    )

    def describe(self) -> str:
        parts = [f"user {u}" for u in self.users] + [f"group {g}" for g in self.groups]
        if self.owner_team:
            parts.append("the service's owner team")
        if self.oncall:
            parts.append("the service's on-call")
        return ", ".join(parts) or "nobody"


class ApprovalRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    action_classes: list[str] = Field(default_factory=list, description="Empty: every action class.")
    services: list[str] = Field(default_factory=list, description="Empty: every service.")
    environments: list[str] = Field(default_factory=list, description="Empty: every environment.")
    approvers: Approvers = Field(default_factory=Approvers)
    required: int = Field(
        default=1, ge=1, le=5, description="Distinct approvers needed (the two-person rule may raise it)."
    )


class TwoPersonSettings(BaseModel):
    """Which actions need two distinct approvers whatever their rule says, from the call's safety metadata."""

    model_config = ConfigDict(extra="forbid")

    destructive: bool = True
    irreversible: bool = True
    blast_radius: list[BlastRadiusName] = Field(default_factory=lambda: list(WIDE_BLAST_RADII))


class DeadlineSettings(BaseModel):
    """Minutes after the request: remind the approvers, page the on-call, expire (never run). 0 turns one off."""

    model_config = ConfigDict(extra="forbid")

    remind_after_minutes: float = Field(default=10, ge=0)
    escalate_after_minutes: float = Field(default=20, ge=0)
    expire_after_minutes: float = Field(default=60, ge=0)
    pager_tool: str | None = Field(
        default=None,
        description="A pagerduty_events instance (its name in tools:) to page the on-call with; None: the first one.",
    )


class SlackApprovals(BaseModel):
    """Approval requests as Slack messages with buttons, and the interactions endpoint that receives the clicks."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    tool: str = Field(default="slack", description="The slack instance (its name in tools:) that posts.")
    channel: str | None = Field(default=None, description="Where to post; None: the service's catalog chat channel.")
    signing_secret_env: str = Field(
        default="SLACK_SIGNING_SECRET", description="Variable holding the app's signing secret (Basic Information)."
    )
    max_age_seconds: int = Field(default=300, ge=30, le=900, description="Older signed requests are refused.")


class TrustedProxy(BaseModel):
    """An authenticating proxy (oauth2-proxy...) in front: its user header is believed only from these addresses."""

    model_config = ConfigDict(extra="forbid")

    header: str = "X-Forwarded-User"
    sources: list[str] = Field(min_length=1, description="Addresses or networks of the proxy, e.g. 10.0.0.5/32.")

    @field_validator("sources")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item, strict=False)  # a ValueError names the bad entry
        return value


class ApprovalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    database: Path = Field(
        default=Path(".firstline/approvals.sqlite"),
        description="Users (password and token hashes), sessions, votes, the audit log, Slack messages.",
    )
    rules: list[ApprovalRule] = Field(
        default_factory=list,
        description="First match wins. None at all: any signed-in user may approve (rule 'default').",
    )
    two_person: TwoPersonSettings = Field(default_factory=TwoPersonSettings)
    deadlines: DeadlineSettings = Field(default_factory=DeadlineSettings)
    slack: SlackApprovals = Field(default_factory=SlackApprovals)
    trusted_proxy: TrustedProxy | None = None
    cli_identity: list[CliIdentity] = Field(
        default_factory=lambda: list(DEFAULT_CLI_IDENTITY),
        description="How `firstline approve` knows who you are, tried in order: token (FIRSTLINE_TOKEN), os_user "
        "(the login mapped in os_users), by (the --by NAME flag, unverified: only for sandboxes and demos).",
    )
    token_env: str = Field(default="FIRSTLINE_TOKEN", description="Variable holding a personal API token for the CLI.")
    os_users: dict[str, str] = Field(default_factory=dict, description="OS login -> firstline user, for os_user.")
    console_url: str = Field(default="", description="Base URL of the console, for links in Slack and pages.")
    session_hours: float = Field(default=12, gt=0, le=24 * 30)
    secure_cookies: bool = Field(default=False, description="Mark the session cookie Secure (serve behind HTTPS).")

    def resolve_paths(self, base: Path) -> ApprovalSettings:
        return self if self.database.is_absolute() else self.model_copy(update={"database": base / self.database})
