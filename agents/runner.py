"""Run incidents durably: start, resume after a decision, list what waits for approval.

One LangGraph thread per incident (thread id = incident id), checkpointed to SQLite (or, with
``storage.url``, to the shared Postgres database through `langgraph-checkpoint-postgres`) with
``durability="sync"`` so the state is on disk before the next step starts. With several workers on
one Postgres, each run of an incident holds its advisory lock (`storage.locks`): a decision given to
any worker waits for the one running the incident, then finds the incident moved on or resumes it. After every run the
incident record is written to a small index (`IncidentIndex`) that `incidents list|show` read.

Approve and reject write the decision to the action ledger first, then resume the graph; the
approval gate reads the ledger. A decision for an incident that is no longer waiting changes
nothing and says so. `answer_approvals` is the one loop that answers the gate's requests until the
incident stops waiting; the CLI and the eval harness call it, each with its own way of deciding.

Every run and resume binds ``incident_id`` and ``thread_id`` to structlog's context, so each log
line written meanwhile (tool calls, HTTP requests, timeline entries) says which incident it is for.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import aiosqlite
import structlog
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel

from agents import state as state_models
from agents.approval import ApprovalAnswer, ApprovalRequest
from agents.context import AgentContext
from agents.graph import build_graph
from agents.ids import incident_id_for
from agents.state import Alert, IncidentState
from storage.locks import IncidentLocks, NoLocks, PostgresIncidentLocks
from storage.sql import SqlConnection, connect_postgres
from storage.target import PostgresTarget
from tools.actions import args_hash_for
from tools.ledger import DecisionRecord

# Every model of the incident state, so a checkpoint restores them as themselves (LangGraph refuses to
# revive a type not listed): a new model in agents.state is covered without touching this list.
STATE_TYPES = sorted(
    (
        obj
        for obj in vars(state_models).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj.__module__ == state_models.__name__
    ),
    key=lambda model: model.__name__,
)


class IncidentNotFound(LookupError):
    pass


class NotWaiting(RuntimeError):
    """The incident is not waiting for a decision on that action."""


class UnknownAction(NotWaiting, LookupError):
    """The incident has no action of that id."""


class IncidentIndex:
    """The latest record of every incident, for listing without replaying checkpoints."""

    def __init__(self, path: str | Path | PostgresTarget) -> None:
        self._conn: SqlConnection
        if isinstance(path, PostgresTarget):
            self._conn = connect_postgres(path, application="firstline-index")
            return
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS incidents (id TEXT PRIMARY KEY, status TEXT, severity TEXT, service TEXT, "
            "summary TEXT, updated_at TEXT, record_json TEXT)"
        )

    def save(self, record: dict[str, Any], updated_at: str) -> None:
        self._conn.execute(
            "INSERT INTO incidents VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
            "severity=excluded.severity, service=excluded.service, summary=excluded.summary, "
            "updated_at=excluded.updated_at, record_json=excluded.record_json",
            (
                record["id"],
                record["status"],
                record["severity"],
                record["service"],
                record["summary"],
                updated_at,
                json.dumps(record),
            ),
        )

    def get(self, incident_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT record_json FROM incidents WHERE id=?", (incident_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def rows(self) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT id, status, severity, service, summary, updated_at FROM incidents ORDER BY updated_at DESC"
        ).fetchall()
        keys = ["id", "status", "severity", "service", "summary", "updated_at"]
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def pending_approvals(self) -> list[dict[str, Any]]:
        """Every remediation action waiting for a human decision."""
        pending = []
        for row in self.rows():
            if row["status"] != "awaiting_approval":
                continue
            record = self.get(row["id"]) or {}
            for action in record.get("actions", []):
                if action["kind"] == "remediation" and action["status"] == "proposed" and action["requires_approval"]:
                    pending.append(
                        {"incident": row["id"], "service": row["service"], "severity": row["severity"], **action}
                    )
        return pending

    def close(self) -> None:
        self._conn.close()


@dataclass
class RunOutcome:
    incident_id: str
    state: IncidentState
    waiting_for: ApprovalRequest | None

    def record(self) -> dict[str, Any]:
        return self.state.record()


@dataclass
class DecisionOutcome:
    status: Literal["resumed", "already_decided"]
    decision: DecisionRecord
    run: RunOutcome | None


ResumeStatus = Literal["resumed", "waiting", "finished"]


@dataclass
class ResumeOutcome:
    """What `Responder.resume` found: it ran the workflow on (``resumed``), or there was nothing to run
    (``waiting`` for a human decision not yet recorded, or ``finished``)."""

    status: ResumeStatus
    run: RunOutcome


class Responder:
    """The incident workflow compiled against a durable checkpointer, with its dependencies."""

    def __init__(
        self,
        graph: CompiledStateGraph[Any, Any, Any, Any],
        ctx: AgentContext,
        index: IncidentIndex,
        locks: IncidentLocks | None = None,
    ) -> None:
        self.graph = graph
        self.ctx = ctx
        self.index = index
        self.locks: IncidentLocks = locks or NoLocks()

    @staticmethod
    def _config(incident_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": incident_id}}

    @staticmethod
    def _log_context(incident_id: str) -> AbstractContextManager[None]:
        """Bind the incident to every log line until the block ends (the thread id is the incident id).
        Context variables are per task, so concurrent incidents never see each other's."""
        return structlog.contextvars.bound_contextvars(incident_id=incident_id, thread_id=incident_id)

    async def _context_for(self, payload: Any, incident_id: str) -> AgentContext:
        """The run's context with the policy scoped to the incident's service (earned autonomy is per service)."""
        state = payload if isinstance(payload, IncidentState) else None
        if state is None:
            values = (await self.graph.aget_state(self._config(incident_id))).values
            state = IncidentState.model_validate(values) if values else None
        service = (state.service or state.alert.service) if state is not None else ""
        return replace(self.ctx, policy=self.ctx.policy.scoped(service))

    async def _run(self, payload: Any, incident_id: str) -> RunOutcome:
        ctx = await self._context_for(payload, incident_id)
        with self._log_context(incident_id):
            await self.graph.ainvoke(payload, self._config(incident_id), context=ctx, durability="sync")
        return await self.snapshot(incident_id)

    async def snapshot(self, incident_id: str) -> RunOutcome:
        snap = await self.graph.aget_state(self._config(incident_id))
        if not snap.values:
            raise IncidentNotFound(f"no incident {incident_id!r} in {self.index_path_hint()}")
        state = IncidentState.model_validate(snap.values)
        # The gate interrupts with the request's JSON; it becomes the typed request again here.
        waiting = ApprovalRequest.model_validate(snap.interrupts[0].value) if snap.interrupts else None
        self.index.save(state.record(), self.ctx.clock().isoformat())
        return RunOutcome(incident_id=incident_id, state=state, waiting_for=waiting)

    def index_path_hint(self) -> str:
        return "the checkpoint store (check --config)"

    async def start(self, alert: Alert) -> RunOutcome:
        """Open an incident for the alert and run until it is done or waits for a human.

        The same alert twice gives the same incident: the second call reports it without re-running,
        or, if the first run was cut short (a crash), resumes it from its last checkpoint.
        """
        incident_id = incident_id_for(alert)
        async with self.locks.hold(incident_id):
            return await self._start(alert, incident_id)

    async def _start(self, alert: Alert, incident_id: str) -> RunOutcome:
        existing = await self.graph.aget_state(self._config(incident_id))
        if existing.values:
            return (await self.resume(incident_id)).run
        initial = IncidentState(id=incident_id, alert=alert)
        # Listed before the first step runs, so a crash during it leaves an incident `resume_unfinished` finds.
        self.index.save(initial.record(), self.ctx.clock().isoformat())
        return await self._run(initial, incident_id)

    async def resume(self, incident_id: str) -> ResumeOutcome:
        """Continue an incident from its last checkpoint, whatever stopped it.

        - A run cut short (a crash between or inside steps) runs on from the last completed step; an
          action whose execution was claimed but never recorded is verified, not repeated (the ledger).
        - Waiting at the gate with the decision already in the ledger (``approve`` died before it
          resumed): resumes with that decision.
        - Waiting with no decision, or finished: nothing runs; the outcome says which.
        """
        async with self.locks.hold(incident_id):
            return await self._resume(incident_id)

    async def _resume(self, incident_id: str) -> ResumeOutcome:
        snap = await self.graph.aget_state(self._config(incident_id))
        if not snap.values:
            raise IncidentNotFound(f"no incident {incident_id!r} in {self.index_path_hint()}")
        if snap.interrupts:
            request = ApprovalRequest.model_validate(snap.interrupts[0].value)
            record = self.ctx.ledger.get_decision(incident_id, request.action_id)
            if record is None:
                return ResumeOutcome("waiting", await self.snapshot(incident_id))
            command: Command[Any] = Command(resume={"action_id": request.action_id, "decision": record.decision})
            return ResumeOutcome("resumed", await self._run(command, incident_id))
        if not snap.next:
            return ResumeOutcome("finished", await self.snapshot(incident_id))
        return ResumeOutcome("resumed", await self._run(None, incident_id))

    async def resume_unfinished(self) -> list[ResumeOutcome]:
        """Resume every listed incident that is neither finished nor waiting for a human (``serve`` at start)."""
        resumed = []
        for row in self.index.rows():
            if row["status"] in ("resolved", "escalated"):
                continue
            snap = await self.graph.aget_state(self._config(row["id"]))
            if snap.values and snap.next:
                outcome = await self.resume(row["id"])
                if outcome.status == "resumed":
                    resumed.append(outcome)
        return resumed

    async def decide(
        self, incident_id: str, action_id: str, decision: Literal["approved", "rejected"], by: str, comment: str = ""
    ) -> DecisionOutcome:
        """Record a human decision and resume the incident. Safe to repeat: the first decision wins.

        With several workers, this waits while another worker runs the incident, so the decision is
        checked against where the incident stands once that run has stopped.
        """
        async with self.locks.hold(incident_id):
            return await self._decide(incident_id, action_id, decision, by, comment)

    async def _decide(
        self, incident_id: str, action_id: str, decision: Literal["approved", "rejected"], by: str, comment: str
    ) -> DecisionOutcome:
        outcome = await self.snapshot(incident_id)
        action = next((a for a in outcome.state.actions if a.id == action_id), None)
        if action is None:
            known = ", ".join(a.id for a in outcome.state.actions if a.kind == "remediation") or "none"
            raise UnknownAction(f"incident {incident_id} has no action {action_id!r} (remediation actions: {known})")
        existing = self.ctx.ledger.get_decision(incident_id, action_id)
        waiting = outcome.waiting_for is not None and outcome.waiting_for.action_id == action_id
        if not waiting:
            if existing is not None:
                # Decided before; if the run that followed was cut short, finish it now.
                resumed = await self.resume(incident_id)
                if resumed.status == "resumed":
                    return DecisionOutcome(status="resumed", decision=existing, run=resumed.run)
                return DecisionOutcome(status="already_decided", decision=existing, run=resumed.run)
            raise NotWaiting(
                f"incident {incident_id} is not waiting for a decision on {action_id} (status {outcome.state.status})"
            )
        record, _ = self.ctx.ledger.record_decision(
            incident_id=incident_id,
            action_id=action_id,
            tool=action.tool,
            args_hash=args_hash_for(self.ctx.registry, action.tool, action.args),
            decision=decision,
            decided_by=by,
            comment=comment,
            at=self.ctx.clock(),
        )
        run = await self._run(Command(resume={"action_id": action_id, "decision": record.decision}), incident_id)
        return DecisionOutcome(status="resumed", decision=record, run=run)


class DecidingResponder(Protocol):
    """What `answer_approvals` needs of a `Responder` (a test may pass a fake)."""

    async def decide(
        self, incident_id: str, action_id: str, decision: Literal["approved", "rejected"], by: str, comment: str = ""
    ) -> DecisionOutcome: ...


Decider = Callable[[ApprovalRequest], ApprovalAnswer]


@dataclass(frozen=True)
class AnsweredRequest:
    request: ApprovalRequest
    answer: ApprovalAnswer
    status: Literal["resumed", "already_decided"]


@dataclass
class ApprovalRun:
    """Where the incident stands after `answer_approvals`, and every request it answered, in order."""

    outcome: RunOutcome
    answered: list[AnsweredRequest] = field(default_factory=list)


async def answer_approvals(responder: DecidingResponder, outcome: RunOutcome, decide: Decider) -> ApprovalRun:
    """Answer the approval gate's requests with ``decide`` until the incident no longer waits.

    Each answer is recorded through `Responder.decide` (the ledger first, then the graph resumes),
    so it is exactly what ``firstline approve|reject`` would do. ``decide`` is the caller's way of
    deciding: a prompt at the terminal, a flag, or the eval's policy.
    """
    run = ApprovalRun(outcome=outcome)
    while run.outcome.waiting_for is not None:
        request = run.outcome.waiting_for
        answer = decide(request)
        decided = await responder.decide(
            request.incident_id, request.action_id, answer.decision, answer.by, answer.comment
        )
        run.answered.append(AnsweredRequest(request=request, answer=answer, status=decided.status))
        if decided.run is None:
            break
        run.outcome = decided.run
    return run


@asynccontextmanager
async def open_responder(
    ctx: AgentContext, checkpoints: Path | PostgresTarget, incidents: Path | PostgresTarget
) -> AsyncIterator[Responder]:
    """Compile the workflow against the checkpointer (SQLite file or Postgres) and yield a `Responder`."""
    serde = JsonPlusSerializer(allowed_msgpack_modules=STATE_TYPES)
    if isinstance(checkpoints, PostgresTarget):
        async with open_postgres_responder(ctx, checkpoints, serde) as responder:
            yield responder
        return
    checkpoints.parent.mkdir(parents=True, exist_ok=True)
    async with aiosqlite.connect(str(checkpoints)) as conn:
        saver = AsyncSqliteSaver(conn, serde=serde)
        graph = build_graph().compile(checkpointer=saver)
        index = IncidentIndex(incidents)
        try:
            yield Responder(graph, ctx, index)
        finally:
            index.close()


@asynccontextmanager
async def open_postgres_responder(
    ctx: AgentContext, target: PostgresTarget, serde: JsonPlusSerializer
) -> AsyncIterator[Responder]:
    """The workflow checkpointed to Postgres, with per-incident advisory locks (several workers)."""
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    from agents.checkpoints import open_checkpoint_connection

    async with open_checkpoint_connection(target) as conn:
        saver = AsyncPostgresSaver(conn, serde=serde)
        graph = build_graph().compile(checkpointer=saver)
        index = IncidentIndex(target)
        try:
            yield Responder(graph, ctx, index, locks=PostgresIncidentLocks(target))
        finally:
            index.close()
