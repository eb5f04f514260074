"""`firstline incidents review ID|RECORD.json`: the draft from a record file, in Markdown or HTML; what
people said read from Slack and PagerDuty (respx); bad input is a clear message and exit code 2."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import respx

from firstline.cli import main
from firstline.commands import EXIT_OK, EXIT_USAGE
from firstline.review_sources import human_messages
from tests.agents.test_review import _record
from tools.registry import ToolRegistry

REPO = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"knowledge: {{catalog: {REPO / 'examples/catalog.yaml'}}}\n"
        f"storage: {{checkpoints: {tmp_path / 'c.sqlite'}, ledger: {tmp_path / 'l.sqlite'}, incidents: {tmp_path / 'i.sqlite'}}}\n"
        "workflow: {comms: {timezone: Europe/Berlin}}\n"
    )
    return config


@pytest.mark.parametrize(
    ("fmt", "start"), [("md", "# Post-incident review (draft): Checkout"), ("html", "<!doctype html>")]
)
def test_review_writes_the_draft_of_a_record_file(tmp_path: Path, fmt: str, start: str) -> None:
    record = tmp_path / "record.json"
    record.write_text(json.dumps(_record()))
    out = tmp_path / f"review.{fmt}"
    code = main(
        [
            "--config",
            str(_config(tmp_path)),
            "incidents",
            "review",
            str(record),
            "--no-people",
            "--format",
            fmt,
            "--out",
            str(out),
        ]
    )
    assert code == EXIT_OK
    text = out.read_text()
    assert text.startswith(start)
    assert "10:38 CET" in text  # the configured zone
    assert "team-payments" in text  # owners from the catalog


def test_review_of_a_missing_record_or_incident_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = str(_config(tmp_path))
    assert main(["--config", config, "incidents", "review", str(tmp_path / "nope.json")]) == EXIT_USAGE
    assert "does not exist" in capsys.readouterr().err
    assert main(["--config", config, "incidents", "review", "inc-nope"]) == EXIT_USAGE
    assert "no incident 'inc-nope'" in capsys.readouterr().err


@pytest.fixture
async def registry(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ToolRegistry]:
    monkeypatch.setenv("FIRSTLINE_TEST_SLACK_TOKEN", "xoxb-test")
    monkeypatch.setenv("FIRSTLINE_TEST_PD_TOKEN", "pd-token")
    built = ToolRegistry.from_config(
        {
            "slack": {"kind": "slack", "base_url": "https://slack.test/api", "token_env": "FIRSTLINE_TEST_SLACK_TOKEN"},
            "pagerduty": {"kind": "pagerduty", "base_url": "https://pd.test", "token_env": "FIRSTLINE_TEST_PD_TOKEN"},
        }
    )
    yield built
    await built.aclose()


async def test_people_are_read_from_the_channel_and_the_pagerduty_notes(registry: ToolRegistry) -> None:
    record = _record()
    record["external_refs"] = {"chat_channel": "C0INC", "chat_ts": "1763632800.000100", "pagerduty_incident": "Q1ABC"}
    history = {
        "ok": True,
        "messages": [
            {
                "type": "message",
                "user": "U1",
                "text": "I see it too",
                "ts": "1763632980.000200",
                "user_profile": {"real_name": "Dana Reyes"},
            },
            {"type": "message", "bot_id": "B1", "text": "[inc-7] investigating", "ts": "1763632800.000100"},
        ],
        "has_more": False,
    }
    notes = {
        "notes": [
            {
                "id": "N1",
                "user": {"id": "PU1", "summary": "Sam Okafor"},
                "content": "paged payments-db team",
                "created_at": "2025-11-20T10:05:00Z",
                "channel": {"summary": "The PagerDuty website"},
            }
        ]
    }
    with respx.mock() as mock:
        mock.get("https://slack.test/api/conversations.history").respond(200, json=history)
        mock.get("https://pd.test/incidents/Q1ABC/notes").respond(200, json=notes)
        found, missing = await human_messages(registry, record)
    assert missing == []
    assert [(m.author, m.text, m.source) for m in found] == [
        ("Dana Reyes", "I see it too", "slack"),  # the bot's own post is not a human message
        ("Sam Okafor", "paged payments-db team", "pagerduty"),
    ]


async def test_a_channel_that_cannot_be_read_is_named(registry: ToolRegistry) -> None:
    record = _record()
    record["external_refs"] = {"chat_channel": "C0INC"}
    with respx.mock() as mock:
        mock.get("https://slack.test/api/conversations.history").respond(
            200, json={"ok": False, "error": "not_in_channel"}
        )
        found, missing = await human_messages(registry, record)
    assert found == [] and "not_in_channel" in missing[0]
