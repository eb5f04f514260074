"""The learning sequence eval: one class of fault, week after week, in one state directory.

Plays a library scenario ``occurrences`` times, a week apart (fresh simulated world each time, the
same incident memory, ledger, incidents index and earned-autonomy file), and scores the learning loop:

1. ``recurrence``: the second occurrence is recognised as a recurrence (a ``recurrence`` timeline note);
2. ``recommended``: after the approved, verified occurrences the fix's action class is recommended for
   ``auto`` on that service (`firstline autonomy`'s track record);
3. ``promotion_needs_a_human``: the recommendation alone changes nothing (no earned rule), and a
   promotion without a named person is refused;
4. ``runs_without_waiting``: once a human accepted, the next occurrence runs the fix without waiting
   and it is verified;
5. ``failure_demotes``: an occurrence where the fix does not help (its simulated effect removed)
   demotes the rule on its own, on the timeline and in the policy file.

Also measured: each occurrence's time to mitigate (simulated minutes from the alert) and time spent
waiting for a human.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agents.state import Alert
from evals.sim.server import RunningSim, start_sim
from firstline.commands.autonomy import assess, open_policy
from firstline.commands.incidents import sandbox_config
from firstline.config import FirstlineConfig
from firstline.wiring import open_runtime
from intake.alertmanager import parse_alertmanager
from knowledge.records import past_incident_from_record
from tools.earned import EarnedRule, Evidence, read_earned_rules, write_earned_rules
from tools.policy import AutonomyThresholds

HUMAN = "eval-approver"


class Occurrence(BaseModel):
    week: int
    incident_id: str
    status: str
    waited_for_human: bool
    recurrence_note: str = ""
    time_to_mitigate_minutes: float | None = None
    demoted: bool = False


class Check(BaseModel):
    name: str
    passed: bool
    detail: str


class SequenceReport(BaseModel):
    scenario: str
    config: dict[str, Any] = Field(
        default_factory=dict, description="The configuration of the state directory (for autonomy and insights)."
    )
    occurrences: list[Occurrence] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)

    @property
    def score(self) -> float:
        return round(sum(c.passed for c in self.checks) / len(self.checks), 3) if self.checks else 0.0


def _alert(sim: RunningSim, name: str) -> Alert:
    [alert] = parse_alertmanager(sim.alertmanager_payload(name))
    return alert


async def run_sequence(
    base: FirstlineConfig,
    state: Path,
    *,
    scenario: str,
    alert_name: str,
    start: datetime = datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
    progress: Callable[[str], None] = lambda _text: None,
) -> SequenceReport:
    """Play the sequence (two approved occurrences, a promotion, one on auto, one that fails) and score it."""
    report = SequenceReport(scenario=scenario)
    thresholds = AutonomyThresholds(min_verified_in_a_row=2, min_days=7)

    def configured(sim: RunningSim) -> FirstlineConfig:
        config = sandbox_config(base, sim, state)
        return config.model_copy(update={"policy": config.policy.model_copy(update={"autonomy": thresholds})})

    async def occurrence(week: int, *, approve: bool, break_fix: bool = False) -> tuple[Occurrence, dict[str, Any]]:
        with start_sim(scenario, anchor=start + timedelta(weeks=week)) as sim:
            if break_fix:
                sim.world.effect_for = lambda *_a, **_k: None  # type: ignore[method-assign]  # the fix does not help
            async with open_runtime(configured(sim)) as responder:
                outcome = await responder.start(_alert(sim, alert_name))
                waited = outcome.waiting_for is not None
                if waited and approve and outcome.waiting_for is not None:
                    decided = await responder.decide(
                        outcome.incident_id, outcome.waiting_for.action_id, "approved", HUMAN
                    )
                    assert decided.run is not None
                    outcome = decided.run
        record = outcome.record()
        notes = [t.text for t in outcome.state.timeline if t.kind == "recurrence"]
        seen = Occurrence(
            week=week,
            incident_id=outcome.incident_id,
            status=record["status"],
            waited_for_human=waited,
            recurrence_note=notes[0] if notes else "",
            time_to_mitigate_minutes=past_incident_from_record(record).time_to_mitigate_minutes,
            demoted=any(t.kind == "autonomy_demoted" for t in outcome.state.timeline),
        )
        report.occurrences.append(seen)
        progress(f"week {week}: {seen.status}, waited for a human: {waited}")
        return seen, record

    await occurrence(0, approve=True)
    second, _ = await occurrence(1, approve=True)
    report.checks.append(
        Check(name="recurrence", passed=bool(second.recurrence_note), detail=second.recurrence_note or "not recognised")
    )

    with start_sim(scenario, anchor=start + timedelta(weeks=2)) as sim:
        config = configured(sim)
    report.config = config.model_dump(mode="json")
    policy = open_policy(config)
    tracks, _ = assess(config, policy, now=start + timedelta(weeks=2))
    earned = [t for t in tracks if t.standing == "recommended"]
    report.checks.append(
        Check(
            name="recommended",
            passed=bool(earned),
            detail="; ".join(f"{t.action_class} on {t.service}: {t.reason}" for t in tracks) or "no track record",
        )
    )
    path = config.policy.earned_file
    assert path is not None
    untouched = read_earned_rules(path) == []
    report.checks.append(
        Check(
            name="promotion_needs_a_human",
            passed=untouched,
            detail="no rule until a person accepts" if untouched else "a rule appeared without a promotion",
        )
    )
    if not earned:
        return report
    track = earned[0]
    # What `firstline autonomy promote` writes, accepted by the eval's named human at the simulated time.
    write_earned_rules(
        path,
        [
            *read_earned_rules(path),
            EarnedRule(
                action_class=track.action_class,
                service=track.service,
                environment=track.environment,
                promoted_by=HUMAN,
                promoted_at=start + timedelta(weeks=2),
                evidence=Evidence(
                    verified_in_a_row=track.run,
                    days=track.run_days,
                    proposals=track.proposals,
                    approvals=track.approvals,
                    rejections=track.rejections,
                    edits=track.edits,
                    incidents=track.run_incidents,
                ),
            ),
        ],
    )
    third, _ = await occurrence(2, approve=False)
    report.checks.append(
        Check(
            name="runs_without_waiting",
            passed=not third.waited_for_human and third.status in ("mitigated", "resolved"),
            detail=f"{third.incident_id}: {third.status}, waited for a human: {third.waited_for_human}",
        )
    )
    fourth, _ = await occurrence(3, approve=False, break_fix=True)
    rules = read_earned_rules(path)
    demoted = fourth.demoted and bool(rules) and not rules[-1].active
    report.checks.append(
        Check(
            name="failure_demotes",
            passed=demoted,
            detail=rules[-1].demoted_reason if rules and not rules[-1].active else "still active",
        )
    )
    return report
