"""The communication agent's customer message in a model's words: used only when the model kept every
fact of the template's draft (shares, times, the capability) and the lint passes; otherwise the draft."""

from __future__ import annotations

from pathlib import Path

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agents.communication import _worded
from agents.reasoners.llm import LLMReasoner
from tests.agents.conftest import agent_context
from tests.agents.test_messages import CATALOG, _state

DRAFT = (
    "Resolved: Checkout is working normally again. Between 10:38 UTC and 11:00 UTC (about 22 minutes) at the "
    "worst point about 7 in 10 Checkout requests failed."
)


async def _word(tmp_path: Path, answer: str) -> tuple[str, list[str]]:
    ctx = agent_context(tmp_path, reasoner=LLMReasoner(FakeListChatModel(responses=[answer])))
    ctx.catalog = CATALOG
    text, _, notes = await _worded(ctx, _state(), "resolved", DRAFT, CATALOG.get("checkout"))
    return text, [n.text for n in notes]


async def test_the_models_wording_is_used_when_it_keeps_every_fact(tmp_path: Path) -> None:
    worded = (
        "Good news: Checkout is working normally again. Between 10:38 UTC and 11:00 UTC about 7 in 10 Checkout "
        "requests failed at the worst point. We are sorry for the trouble."
    )
    text, notes = await _word(tmp_path, worded)
    assert text == worded and notes == []


async def test_the_draft_is_posted_when_the_model_drops_a_fact(tmp_path: Path) -> None:
    text, notes = await _word(tmp_path, "Good news: Checkout works again. Some requests failed for a while, sorry!")
    assert text == DRAFT
    assert any("dropped 10:38 UTC, 11:00 UTC, about 7 in 10" in n for n in notes)


async def test_the_draft_is_posted_when_the_models_wording_fails_the_lint(tmp_path: Path) -> None:
    leaky = f"{DRAFT} The payments-db primary ran out of disk."
    text, notes = await _word(tmp_path, leaky)
    assert text == DRAFT and any("payments-db" in n for n in notes)
