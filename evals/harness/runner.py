"""Run scenarios through the real workflow against the simulator, answer approvals like a careful
human would, and score every case.

The harness drives the agents but does not build them: the caller passes a `RuntimeFactory` (the CLI
uses `firstline.wiring.open_runtime` with a sandbox configuration), so the code path is exactly the
production one, only pointed at the simulator.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from agents.approval import ApprovalAnswer, ApprovalRequest
from agents.runner import DecisionOutcome, RunOutcome, answer_approvals
from evals.harness.scoring import CaseScore, score_case, summarize
from evals.sim.scenario import Scenario
from evals.sim.server import RunningSim, start_sim
from evals.sim.timeutil import SimClock


class ResponderLike(Protocol):
    """What the harness drives (`agents.runner.Responder` satisfies it)."""

    async def start(self, alert: Any) -> RunOutcome: ...

    async def decide(
        self, incident_id: str, action_id: str, decision: Literal["approved", "rejected"], by: str, comment: str = ""
    ) -> DecisionOutcome: ...


RuntimeFactory = Callable[[RunningSim, Path], AbstractAsyncContextManager[ResponderLike]]
AlertParser = Callable[[dict[str, Any]], list[Any]]
Progress = Callable[[int, int, str, "CaseResult | None"], None]


class EvalApprovalPolicy:
    """Approve what the scenario says a careful human would approve (an acceptable remediation, with
    matching arguments); reject everything else. Both answers are recorded."""

    def __init__(self, scenario: Scenario) -> None:
        self.acceptable = scenario.expected.acceptable_remediations

    def decide(self, request: ApprovalRequest) -> ApprovalAnswer:
        for want in self.acceptable:
            if want.matches(request.tool, request.args):
                return ApprovalAnswer(
                    decision="approved",
                    by="eval-policy",
                    comment=f"acceptable remediation for this scenario ({want.tool})",
                )
        return ApprovalAnswer(
            decision="rejected", by="eval-policy", comment="not an acceptable remediation for this scenario"
        )


class CaseResult(BaseModel):
    scenario: str
    repeat: int
    passed: bool
    score: CaseScore | None
    concluded: dict[str, Any] = Field(default_factory=dict, description="What the agents concluded.")
    approvals: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float
    tokens: int = 0
    cost: float = 0.0
    error: str | None = None


def _concluded(record: dict[str, Any]) -> dict[str, Any]:
    diagnosis = record.get("diagnosis") or {}
    return {
        "status": record.get("status"),
        "severity": record.get("severity"),
        "service": record.get("service"),
        "root_cause": diagnosis.get("root_cause"),
        "category": diagnosis.get("category"),
        "entity": diagnosis.get("entity"),
        "confidence": diagnosis.get("confidence"),
        "inconclusive": diagnosis.get("inconclusive"),
        "actions": [
            {"tool": a["tool"], "args": a["args"], "status": a["status"]}
            for a in record.get("actions", [])
            if a.get("kind") == "remediation"
        ],
    }


async def run_case(
    scenario: Scenario,
    factory: RuntimeFactory,
    parse_alerts: AlertParser,
    work_dir: Path,
    *,
    repeat: int = 0,
    price: Callable[[int], float] = lambda tokens: 0.0,
    anchor: datetime | None = None,
) -> CaseResult:
    """One scenario, start to finish. Never raises: a crash is a failed case with its traceback.

    ``anchor`` fixes the alert time (the simulator's clock then starts there, frozen until the
    workflow advances it): the same case at two anchors must reach the same conclusions."""
    started = time.perf_counter()
    policy = EvalApprovalPolicy(scenario)
    approvals: list[dict[str, Any]] = []

    def decide(request: ApprovalRequest) -> ApprovalAnswer:
        # Noted as asked, before it is recorded: a crash later in the case keeps what was asked.
        answer = policy.decide(request)
        approvals.append(
            {
                "action_id": request.action_id,
                "tool": request.tool,
                "args": request.args,
                "decision": answer.decision,
                "why": answer.comment,
            }
        )
        return answer

    case_dir = work_dir / f"{scenario.name}-{repeat}"
    case_dir.mkdir(parents=True, exist_ok=True)
    try:
        clock = SimClock.frozen(anchor) if anchor is not None else None
        with start_sim(scenario, anchor=anchor, clock=clock) as sim:
            alerts = [
                a for a in parse_alerts(sim.alertmanager_payload(scenario.alerts[0].name)) if a.status == "firing"
            ]
            async with factory(sim, case_dir) as responder:
                run = await answer_approvals(responder, await responder.start(alerts[0]), decide)
            record = run.outcome.record()
            sim_state = sim.world.snapshot()
    except Exception as exc:
        return CaseResult(
            scenario=scenario.name,
            repeat=repeat,
            passed=False,
            score=None,
            approvals=approvals,
            seconds=round(time.perf_counter() - started, 3),
            error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}",
        )
    score = score_case(scenario=scenario, record=record, approvals=approvals, sim_state=sim_state)
    tokens = int(record.get("tokens_used") or 0)
    return CaseResult(
        scenario=scenario.name,
        repeat=repeat,
        passed=score.passed,
        score=score,
        concluded=_concluded(record),
        approvals=approvals,
        seconds=round(time.perf_counter() - started, 3),
        tokens=tokens,
        cost=price(tokens),
    )


Part = Literal["dev", "holdout"]


def part_of(scenario: Scenario) -> Part:
    """The library's split: scenarios tagged ``holdout`` are reported apart and never tuned on; all others are
    ``dev``."""
    return "holdout" if "holdout" in scenario.tags else "dev"


class SuiteResult(BaseModel):
    summary: dict[str, float]
    cases: list[CaseResult]
    parts: dict[str, dict[str, float]] = Field(default_factory=dict, description="The summary of each part run.")
    pass_rates: dict[str, str]
    regressions_failed: list[str]
    run: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        cases = []
        for case in self.cases:
            row: dict[str, Any] = {
                "scenario": case.scenario,
                "repeat": case.repeat,
                "passed": case.passed,
                "seconds": case.seconds,
                "tokens": case.tokens,
                "cost": case.cost,
                "error": case.error,
                "concluded": case.concluded,
                "approvals": case.approvals,
            }
            if case.score is not None:
                score = case.score.model_dump()
                row.update({k: v for k, v in score.items() if k not in ("scenario",)})
            cases.append(row)
        return {
            "summary": self.summary,
            "parts": self.parts,
            "cases": cases,
            "pass_rates": self.pass_rates,
            "regressions_failed": self.regressions_failed,
            "run": self.run,
        }


async def run_suite(
    scenarios: list[Scenario],
    factory: RuntimeFactory,
    parse_alerts: AlertParser,
    work_dir: Path,
    *,
    repeat: int = 1,
    concurrency: int = 2,
    progress: Progress | None = None,
    price: Callable[[int], float] = lambda tokens: 0.0,
    run_info: dict[str, Any] | None = None,
) -> SuiteResult:
    """Every scenario ``repeat`` times, ``concurrency`` at a time; scores and the summary."""
    jobs = [(scenario, r) for r in range(repeat) for scenario in scenarios]
    semaphore = asyncio.Semaphore(max(1, concurrency))
    done = 0
    results: list[CaseResult] = []

    async def one(scenario: Scenario, r: int) -> CaseResult:
        nonlocal done
        async with semaphore:
            if progress:
                progress(done, len(jobs), scenario.name, None)
            result = await run_case(scenario, factory, parse_alerts, work_dir, repeat=r, price=price)
            done += 1
            if progress:
                progress(done, len(jobs), scenario.name, result)
            return result

    started = datetime.now(UTC)
    wall = time.perf_counter()
    results = list(await asyncio.gather(*(one(s, r) for s, r in jobs)))
    scored = [c.score for c in results if c.score is not None]
    summary = summarize(scored, [{"seconds": c.seconds, "tokens": c.tokens, "cost": c.cost} for c in results])
    summary["scenarios"] = len(scenarios)
    summary["errors"] = float(sum(1 for c in results if c.error))
    summary["wall_seconds"] = round(time.perf_counter() - wall, 2)
    tags = {s.name: set(s.tags) for s in scenarios}
    pass_rates, regressions = {}, []
    for scenario in scenarios:
        runs = [c for c in results if c.scenario == scenario.name]
        passed = sum(1 for c in runs if c.passed)
        pass_rates[scenario.name] = f"{passed}/{len(runs)}"
        if "regression" in tags[scenario.name] and passed < len(runs):
            regressions.append(scenario.name)
    parts: dict[str, dict[str, float]] = {}
    for part in ("dev", "holdout"):
        names = {s.name for s in scenarios if part_of(s) == part}
        in_part = [c for c in results if c.scenario in names]
        if in_part:
            parts[part] = summarize(
                [c.score for c in in_part if c.score is not None],
                [{"seconds": c.seconds, "tokens": c.tokens, "cost": c.cost} for c in in_part],
            )
            parts[part]["scenarios"] = len(names)
    info = {"started_at": started.isoformat(), "repeat": repeat, "concurrency": concurrency, **(run_info or {})}
    return SuiteResult(
        summary=summary, cases=results, parts=parts, pass_rates=pass_rates, regressions_failed=regressions, run=info
    )
