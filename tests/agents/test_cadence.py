"""Updates on a cadence while an incident waits: due every ``update_every_minutes`` of its severity after
the last phase message, posted once per interval (ledger keys), the latest one only when a tick is late."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import respx

from agents.cadence import due_update, periodic_update
from agents.settings import CommsSettings
from agents.state import Communication, IncidentState, ProposedAction
from tests.agents.conftest import NOW, agent_context
from tests.agents.test_messages import CATALOG, _state
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import ToolRegistry

PAGE = "https://api.statuspage.test/v1"
SLACK = "https://slack.test/api"


def _waiting(minutes_ago: float = 31) -> IncidentState:
    proposed = ProposedAction(
        id="rollback-1", tool="kubernetes.rollout_undo", args={}, title="Roll back checkout", status="proposed"
    )
    said = Communication(
        channel="statuspage",
        audience="customers",
        text="Identified ...",
        at=NOW - timedelta(minutes=minutes_ago),
        phase="identified",
    )
    return _state(
        actions=[proposed],
        verification=None,
        status="awaiting_approval",
        comms_sent=["opened", "identified"],
        communications=[said],
        external_refs={"statuspage_incident": "sp1", "chat_channel": "C0INC", "chat_ts": "1763632800.000100"},
    )


def test_an_update_is_due_each_interval_after_the_last_message() -> None:
    assert due_update(_waiting(29), NOW, 30) is None
    assert due_update(_waiting(31), NOW, 30) == 1
    assert due_update(_waiting(95), NOW, 30) == 3  # a late tick: only the latest
    assert due_update(_waiting(95).model_copy(update={"status": "resolved"}), NOW, 30) is None


@pytest.fixture
async def registry(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ToolRegistry]:
    monkeypatch.setenv("FIRSTLINE_TEST_SP_TOKEN", "sp-token")
    monkeypatch.setenv("FIRSTLINE_TEST_SLACK_TOKEN", "xoxb-test")
    built = ToolRegistry.from_config(
        {
            "statuspage": {
                "kind": "statuspage",
                "base_url": PAGE,
                "page_id": "pg1",
                "token_env": "FIRSTLINE_TEST_SP_TOKEN",
            },
            "slack": {"kind": "slack", "base_url": SLACK, "token_env": "FIRSTLINE_TEST_SLACK_TOKEN"},
        }
    )
    yield built
    await built.aclose()


async def test_the_due_update_is_posted_once_to_the_status_page_and_the_thread(
    tmp_path: Path, registry: ToolRegistry
) -> None:
    ctx = agent_context(tmp_path, registry=registry, comms=CommsSettings(timezone="Europe/Berlin"))
    ctx.catalog = CATALOG
    ctx.policy = ApprovalPolicy(PolicySettings(rules={"communicate": {"default": "auto"}}))
    state = _waiting(31)
    with respx.mock() as mock:
        page = mock.patch(f"{PAGE}/pages/pg1/incidents/sp1").respond(
            200,
            json={"id": "sp1", "name": "Checkout: errors", "status": "identified", "shortlink": "https://stspg.io/x"},
        )
        chat = mock.post(f"{SLACK}/chat.postMessage").respond(
            200, json={"ok": True, "channel": "C0INC", "ts": "1763634660.000200", "message": {"text": "x"}}
        )
        first = await periodic_update(ctx, state, NOW)
        again = await periodic_update(ctx, state, NOW + timedelta(minutes=1))  # the same interval: nothing
    assert first == ["status page", "channel"] and again == []
    assert page.call_count == 1 and chat.call_count == 1
    body = json.loads(page.calls.last.request.content)["incident"]["body"]
    assert body.startswith("Identified: errors with Checkout") and body.endswith("Next update by 11:30 CET.")
    text = json.loads(chat.calls.last.request.content)
    assert text["thread_ts"] == "1763632800.000100"
    assert (
        "Update 1: Roll back checkout is still waiting for approval (about 31 minutes since the identified update)"
        in text["text"]
    )
