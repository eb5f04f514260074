"""The post-incident review draft from an incident record: impact, detection timings, human and agent
decisions side by side with how long the human took, what people said, root cause with evidence,
what went well and not, action items with owners; Markdown and HTML; and kept in memory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agents.review import HumanMessage, draft_review, render_html, render_markdown
from agents.settings import CommsSettings
from agents.state import CustomerImpact, TimelineEntry
from knowledge.records import past_incident_from_record
from knowledge.records import render_markdown as memory_markdown
from tests.agents.conftest import NOW, agent_context
from tests.agents.test_messages import CATALOG, ONSET, _state


def _record(approval_minutes: float = 14) -> dict[str, object]:
    state = _state()
    rollback = state.actions[0]
    approved = rollback.model_copy(
        update={"approval": rollback.approval.model_copy(update={"at": NOW - timedelta(minutes=17 - approval_minutes)})}
        if rollback.approval
        else {}
    )
    timeline = [
        TimelineEntry(at=NOW - timedelta(minutes=19), actor="triage", kind="triaged", text="SEV1 on checkout"),
        TimelineEntry(at=NOW - timedelta(minutes=18), actor="investigation", kind="diagnosis", text="bad_deploy (82%)"),
        *state.timeline,
        TimelineEntry(at=NOW - timedelta(minutes=3), actor="human", kind="approved", text="alice approved Roll back"),
        TimelineEntry(at=NOW, actor="verification", kind="verified", text="back to baseline"),
    ]
    impact = CustomerImpact(capability="Checkout", kind="errors", peak=0.71, baseline=0.002, start=ONSET, end=NOW)
    alert = state.alert.model_copy(update={"started_at": ONSET + timedelta(minutes=3)})
    final = state.model_copy(
        update={"actions": [approved], "timeline": timeline, "impact": impact, "alert": alert, "status": "resolved"}
    )
    return final.record()


def test_the_review_reads_like_one_an_sre_would_file() -> None:
    said = HumanMessage(at=NOW - timedelta(minutes=10), author="Dana Reyes", text="customers report failed payments")
    draft = draft_review(_record(), catalog=CATALOG, zone="Europe/Berlin", messages=[said])
    assert draft.summary.startswith("SEV1 on checkout (Checkout): at the worst point about 7 in 10 requests failed")
    assert "Window: 10:38 CET to 11:00 CET (about 22 minutes)" in draft.impact
    assert "Onset 10:38 CET; alert fired 10:41 CET (about 3 minutes after the onset)" in draft.detection
    assert "Triaged 10:41 CET (under a minute after the alert)" in draft.detection
    humans = [e for e in draft.timeline if e.side == "human"]
    # The approval once (from the action, with how long it took), and what Dana said, in time order.
    assert [(e.who, e.text) for e in humans] == [
        ("Dana Reyes", "(slack) customers report failed payments"),
        ("alice", "approved Roll back deployment/checkout in shop from revision 8 to 7 after about 14 minutes: go"),
    ]
    assert [e.at for e in draft.timeline] == sorted(e.at for e in draft.timeline)
    assert any("Slow approval: alice" in line for line in draft.went_badly)
    assert "The fix was verified on the SLI" in draft.went_well
    assert draft.action_items[0].owner == "team-payments" and "canary" in draft.action_items[0].text
    assert draft.ruled_out == ["dependency payments-db: error_rate normal (0.0002 vs 0.0002)"]


def test_a_quick_approval_went_well_and_the_draft_renders() -> None:
    draft = draft_review(_record(approval_minutes=2), catalog=CATALOG)
    assert any(line.startswith("Quick approval: alice") for line in draft.went_well)
    markdown = render_markdown(draft)
    assert markdown.startswith("# Post-incident review (draft): Checkout — inc-7\n")
    for heading in (
        "Customer impact",
        "Detection",
        "Timeline",
        "Root cause",
        "Ruled out",
        "What went well",
        "Action items",
    ):
        assert f"\n## {heading}" in markdown
    page = render_html(draft.model_copy(update={"summary": "a <script> in text"}))
    assert "&lt;script&gt;" in page and "<script>" not in page


def test_memory_keeps_the_review_with_the_incident() -> None:
    record = _record()
    review = render_markdown(draft_review(record, catalog=CATALOG))
    kept = memory_markdown(past_incident_from_record({**record, "review": review}))
    assert "## Post-incident review draft" in kept
    assert "### Action items" in kept  # its headings one level down, each its own chunk


class RememberingMemory:
    """Keeps what it was asked to remember (the IncidentMemoryLike protocol)."""

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []

    def remember(self, record: dict[str, object]) -> object:
        self.records.append(record)

        class Remembered:
            source_id = f"knowledge:incidents/{record['id']}"

        return Remembered()

    def recall(self, *args: object, **kwargs: object) -> object:
        return None


async def test_the_end_of_an_incident_writes_its_review_and_remembers_it_with_the_review(tmp_path: Path) -> None:
    from langgraph.runtime import Runtime

    from agents.communication import communicate

    memory = RememberingMemory()
    ctx = agent_context(tmp_path, comms=CommsSettings(review_dir=str(tmp_path / "reviews")))
    ctx.catalog = CATALOG
    ctx.memory = memory
    state = _state(comms_phase="resolved", step="communicate", after_comms="done", comms_sent=["opened", "identified"])
    command = await communicate(state, Runtime(context=ctx))
    update = command.update
    assert isinstance(update, dict) and update["status"] == "resolved"
    written = (tmp_path / "reviews" / "inc-7-review.md").read_text()
    assert written.startswith("# Post-incident review (draft): Checkout — inc-7")
    [record] = memory.records
    assert record["review"] == written and record["status"] == "resolved"
    assert any(t.kind == "remembered" and "with its review draft" in t.text for t in update["timeline"])
