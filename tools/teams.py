"""Microsoft Teams through a Workflows (Power Automate) webhook: post an Adaptive Card to a channel.

Office 365 connector webhooks (``MessageCard``) are retired; a Teams Workflows webhook takes
``{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
"content": <Adaptive Card>}]}`` and usually answers 202 Accepted. Its URL carries a signature in the
query string (``sig=...``) that lets anyone post, so the URL is a secret: configure it with
``base_url_env`` (the variable holding it), never ``base_url``. The signature is redacted from every
error and log line.

A webhook cannot edit or delete what it posted, and ``Action.Submit`` buttons do not call back through
it: cards carry facts and ``Action.OpenUrl`` links (to the incident, the approval page), nothing more.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.base import Adapter, AdapterSettings, CheckSkipped, SafetyMetadata, ToolResult, tool_call
from tools.wire import clip, json_field

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"

POST_SAFETY = SafetyMetadata(
    mutating=True,
    reversible=False,  # a webhook cannot edit or delete what it posted; a wrong card is corrected by another
    idempotent=False,  # posting twice posts two cards
    blast_radius="external",
    approval_tier="auto",
    action_class="communicate",
)

Style = Literal["default", "good", "attention", "warning", "accent"]


class TeamsSettings(AdapterSettings):
    @model_validator(mode="after")
    def _url_from_the_environment(self) -> TeamsSettings:
        if self.base_url:
            raise ValueError(
                "base_url: a Teams Workflows URL carries its signature; put it in an environment variable and "
                "name that variable in base_url_env"
            )
        return self


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=100, description="Fact name, e.g. Status.")
    value: str = Field(min_length=1, max_length=1000, description="Fact value, e.g. Investigating.")


class LinkButton(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=60, description="Button text, e.g. Open incident.")
    url: str = Field(pattern=r"^https?://", max_length=2000, description="The URL the button opens.")


class PostCardInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300, description="Card heading, e.g. INC-42: checkout 5xx at 7%.")
    text: str = Field(default="", max_length=10_000, description="Body text (Adaptive Card markdown subset).")
    facts: list[Fact] = Field(default_factory=list, max_length=20, description="Name/value pairs shown as a table.")
    links: list[LinkButton] = Field(default_factory=list, max_length=5, description="Buttons that open a URL.")
    style: Style = Field(
        default="default", description="Heading colour: attention (red), warning, good (green), accent or default."
    )


class TeamsAdapter(Adapter):
    """Posts Adaptive Cards to one Teams channel through a Workflows webhook."""

    kind: ClassVar[str] = "teams"
    description: ClassVar[str] = "Microsoft Teams (Workflows webhook): post an Adaptive Card to a channel."
    settings_model: ClassVar[type[AdapterSettings]] = TeamsSettings

    @tool_call(
        description="Post an Adaptive Card to the configured Teams channel: a title, text, facts and link buttons.",
        safety=POST_SAFETY,
    )
    async def post_card(self, args: PostCardInput) -> ToolResult:
        body = {
            "type": "message",
            "attachments": [{"contentType": ADAPTIVE_CARD, "contentUrl": None, "content": adaptive_card(args)}],
        }
        url = httpx.URL(self.settings.base_url)
        # The full webhook URL, sent absolute: the signature rides in the query parameters, which the HTTP
        # layer redacts from errors.
        target = str(url.copy_with(query=None, fragment=None))
        await self.http.request(
            "POST", target, params=list(url.params.multi_items()), json=body, describe_error=describe_teams_error
        )
        return ToolResult(
            tool=self.tool_id("post_card"),
            status="ok",
            query=f"POST {url.host}{url.path}",
            params=body,
            data={"posted": True, "title": args.title},
            summary=f"posted card {clip(args.title, 100)!r} to Teams",
        )

    async def check(self) -> str:
        raise CheckSkipped(
            "a Workflows webhook has no read endpoint and checking it would post a message; the URL in "
            f"{self.settings.base_url_env} is set and points at {httpx.URL(self.settings.base_url).host}"
        )


def adaptive_card(args: PostCardInput) -> dict[str, Any]:
    """An Adaptive Card 1.4 for the input: heading, text, a FactSet, OpenUrl actions."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": args.title,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            **({"color": args.style} if args.style != "default" else {}),
        }
    ]
    if args.text:
        body.append({"type": "TextBlock", "text": args.text, "wrap": True})
    if args.facts:
        body.append({"type": "FactSet", "facts": [fact.model_dump() for fact in args.facts]})
    card: dict[str, Any] = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if args.links:
        card["actions"] = [{"type": "Action.OpenUrl", "title": link.title, "url": link.url} for link in args.links]
    return card


def describe_teams_error(response: httpx.Response) -> str | None:
    """``Teams Workflows: DirectApiAuthorizationRequired: ...`` from ``{"error": {"code", "message"}}``."""
    error = json_field(response, "error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        code = error.get("code")
        return f"Teams Workflows: {code + ': ' if isinstance(code, str) else ''}{error['message']}"
    return None
