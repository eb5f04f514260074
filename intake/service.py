"""The intake service behind ``firstline serve``: accept, store, correlate, investigate.

- `IntakeService.accept` validates a delivery (normalizes it; a bad one goes to the dead letters and
  the sender gets the field), stores it in the inbox (durable, fsync'd) and returns; the HTTP answer
  does not wait for correlation.
- The worker takes inbox items in order, runs them through the same `IntakePipeline` as replay and
  bench, and records the resulting decisions and requested runs in the transaction that marks the
  items processed.
- Each requested investigation runs as a background task through the injected `WorkflowStarter`
  (at most ``max_concurrent_investigations`` at once).
- A timer lets time pass in the engine (pending investigations, flap release, stale incidents).
- On start, the engine is rebuilt from the processed inbox items of the last ``retention_hours``,
  then unfinished runs are started again, then pending items are processed.

SQLite is used from one dedicated thread; the engine only from the event loop.

**Several workers on one Postgres** (``storage.url``), no leader: each worker correlates in turn under
a transaction-scoped advisory lock. Holding it, a worker first replays into its engine the items the
others correlated since it last held it (in the order they were correlated: ``processed_seq``; at
start that is everything retained, which is how a worker's engine is rebuilt), then takes the pending
items, and commits their decisions with the items' processed mark before it lets go. So each delivery
is correlated once, by an engine that has seen everything before it; a worker killed mid-batch commits
nothing and its items stay pending for the next one. A run is leased to the worker that requested it
(renewed while it runs); when that worker dies the lease expires and another worker claims the run
(`IncidentStore.claim_orphaned_runs`) and starts it again: the workflow resumes from its checkpoint,
and the ledger keeps an approved action from running twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import structlog

from agents.state import Alert
from intake.correlation import Decision
from intake.db import open_db, transaction
from intake.deadletters import DeadLetters
from intake.events import AlertPayloadError, SubscriptionRequest
from intake.inbox import Inbox, InboxItem
from intake.investigation import run_request_fields
from intake.pipeline import IntakePipeline, UnknownSource
from intake.settings import IntakeSettings
from intake.starter import InvestigationRequest, WorkflowStarter
from intake.store import IncidentStore, RunRequest
from intake.topology import Topology
from storage.sql import transient_errors
from storage.target import PostgresTarget

log = structlog.get_logger("firstline.intake")
T = TypeVar("T")
BATCH = 500
TICK_SECONDS = 1.0
# pg_advisory_xact_lock key held while a worker correlates ("FLIN": firstline intake).
CORRELATION_LOCK = 0x46_4C_49_4E


@dataclass(frozen=True, slots=True)
class Accepted:
    inbox_id: int
    alerts: int
    note: str = ""
    reply: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    status: int
    field: str
    message: str
    dead_letter_id: int | None


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


class IntakeService:
    """Owns the database, the engine and the background tasks of one server."""

    def __init__(
        self,
        settings: IntakeSettings,
        topology: Topology,
        *,
        starter: WorkflowStarter,
        clock: Callable[[], float] = time.time,
        http_client: httpx.AsyncClient | None = None,
        db_path: Path | PostgresTarget | None = None,
    ) -> None:
        self.settings = settings
        self.topology = topology
        self.pipeline = IntakePipeline(settings, topology)
        self.engine = self.pipeline.engine
        self.starter = starter
        self.clock = clock
        self.db_path: Path | PostgresTarget = db_path or settings.inbox
        self._http = http_client
        self._own_http = http_client is None
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-db")
        self._conn: Any = None
        self.inbox: Inbox
        self.dead: DeadLetters
        self.store: IncidentStore
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._runs: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(settings.max_concurrent_investigations)
        self.rejected_unauthenticated = 0
        self.started_at = 0.0
        self.rebuilt_items = 0
        self._stopped = False
        self._busy = False
        # Several workers on one Postgres: a second connection (and thread) for the correlation transaction,
        # so accepting a delivery never waits for the lock nor joins that transaction.
        self.shared = isinstance(self.db_path, PostgresTarget)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._work_thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="intake-work") if self.shared else self._db_thread
        )
        self._work_conn: Any = None
        self._step = asyncio.Lock()
        self._seen_seq = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, lambda: fn(*args))

    async def _wdb(self, fn: Callable[..., T], *args: Any) -> T:
        """On the correlation connection's thread (the same thread as `_db` with SQLite)."""
        return await asyncio.get_running_loop().run_in_executor(self._work_thread, lambda: fn(*args))

    def _stores(self, conn: Any) -> tuple[Inbox, DeadLetters, IncidentStore]:
        owner = self.worker_id if self.shared else None
        store = IncidentStore(conn, owner=owner, lease_seconds=self.settings.run_lease_seconds)
        return Inbox(conn), DeadLetters(conn), store

    async def start(self) -> None:
        def open_all() -> None:
            self._conn = open_db(self.db_path)
            self.inbox, self.dead, self.store = self._stores(self._conn)

        await self._db(open_all)
        self.started_at = self.clock()
        if not self.shared:
            self._work_conn = self._conn
            self._w_inbox, self._w_dead, self._w_store = self.inbox, self.dead, self.store
            await self._rebuild()
            for run in await self._db(self.store.unfinished_runs):
                log.info("intake.run_resumed", incident_id=run.incident_id, revision=run.revision)
                self._launch(run)
        else:

            def open_work() -> None:
                self._work_conn = open_db(self.db_path)

            await self._wdb(open_work)
            self._w_inbox, self._w_dead, self._w_store = self._stores(self._work_conn)
            await self._correlate_shared(take_pending=False)  # the rebuild: replay everything retained
            log.info("intake.worker_started", worker=self.worker_id, rebuilt_items=self.rebuilt_items)
            await self._claim_orphans()
        self._tasks = [
            asyncio.create_task(self._work(), name="intake-worker"),
            asyncio.create_task(self._tick(), name="intake-timer"),
        ]

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Stop the worker and timer, give running investigations ``grace_seconds``, close the database. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runs:
            _, still = await asyncio.wait(self._runs, timeout=grace_seconds)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        if self._own_http and self._http is not None:
            await self._http.aclose()
        if self.shared:
            if self._work_conn is not None:
                await self._wdb(self._work_conn.close)
            self._work_thread.shutdown(wait=True)
        if self._conn is not None:
            await self._db(self._conn.close)
        self._db_thread.shutdown(wait=True)

    @property
    def worker_alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def _rebuild(self) -> None:
        """Replay the retained processed items into the engine; their decisions were recorded already."""
        since = self.clock() - self.settings.retention_hours * 3600
        items = await self._db(lambda: list(self.inbox.processed_since(since)))
        for item in items:
            try:
                self.pipeline.feed(item.source, json.loads(item.body), item.received_at, item.headers)
            except (ValueError, UnknownSource):
                continue  # it was dead-lettered when first processed
        self.engine.drain()
        self.rebuilt_items = len(items)
        if items:
            log.info(
                "intake.rebuilt", items=len(items), incidents=len(self.engine.incidents), open=len(self.engine.open)
            )

    # -- receiving -------------------------------------------------------------------------------

    async def accept(self, source: str, headers: Mapping[str, str], body: bytes) -> Accepted | Rejected:
        """Validate and store one delivery. Nothing is processed here; nothing is dropped silently."""
        received_at = self.clock()
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return await self._reject(source, received_at, body, "body", f"body: not valid JSON ({exc})")
        except RecursionError:
            return await self._reject(source, received_at, body, "body", "body: JSON nested too deeply to read")
        try:
            normalized = self.pipeline.normalize(source, payload, received_at, headers)
        except AlertPayloadError as exc:
            return await self._reject(source, received_at, body, exc.field, str(exc))
        inbox_id = await self._db(self.inbox.enqueue, source, received_at, headers, body)
        self._wake.set()
        note = normalized.note or (
            f"{normalized.truncated} alerts truncated by the sender" if normalized.truncated else ""
        )
        log.info("intake.accepted", source=source, inbox_id=inbox_id, alerts=len(normalized.events), note=note or None)
        return Accepted(inbox_id, len(normalized.events), note, normalized.reply)

    async def _reject(self, source: str, received_at: float, body: bytes, field_name: str, message: str) -> Rejected:
        letter = await self._db(
            lambda: self.dead.add(
                source=source,
                received_at=received_at,
                stage="receive",
                status=400,
                field=field_name,
                error=message,
                body=body,
            )
        )
        log.warning("intake.rejected", source=source, field=field_name, error=message, dead_letter_id=letter)
        return Rejected(400, field_name, message, letter)

    async def reject_oversized(self, source: str, head: bytes, size: int | None, limit: int) -> Rejected:
        received_at = self.clock()
        shown = f"{size} bytes" if size is not None else "more"
        message = f"body: {shown} is over the {limit}-byte limit (intake.max_body_kb)"
        letter = await self._db(
            lambda: self.dead.add(
                source=source,
                received_at=received_at,
                stage="receive",
                status=413,
                field="body",
                error=message,
                body=head,
                body_size=size if size is not None else len(head),
            )
        )
        log.warning("intake.rejected", source=source, field="body", error=message, dead_letter_id=letter)
        return Rejected(413, "body", message, letter)

    # -- processing ------------------------------------------------------------------------------

    async def _work(self) -> None:
        if self.shared:
            await self._work_shared()
            return
        while True:
            items = await self._db(self.inbox.pending, BATCH)
            if not items:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=TICK_SECONDS)
                except TimeoutError:
                    pass
                continue
            self._busy = True
            try:
                await self._process(items)
            finally:
                self._busy = False

    async def _process(self, items: list[InboxItem]) -> None:
        failures, subscriptions, notes = self._feed(items)
        decisions = self.engine.drain()
        runs = await self._record([i.id for i in items], decisions, failures, notes)
        for run in runs:
            self._launch(run)
        for item, request in subscriptions:
            self._runs_add(asyncio.create_task(self._confirm(item, request)))

    def _feed(
        self, items: list[InboxItem]
    ) -> tuple[
        list[tuple[InboxItem, AlertPayloadError | UnknownSource | ValueError]],
        list[tuple[InboxItem, SubscriptionRequest]],
        dict[int, str],
    ]:
        """Run items through the pipeline: the ones that failed, the SNS subscriptions, the notes."""
        failures: list[tuple[InboxItem, AlertPayloadError | UnknownSource | ValueError]] = []
        subscriptions: list[tuple[InboxItem, SubscriptionRequest]] = []
        notes: dict[int, str] = {}
        for item in items:
            try:
                fed = self.pipeline.feed(item.source, json.loads(item.body), item.received_at, item.headers)
            except (AlertPayloadError, UnknownSource, ValueError) as exc:
                failures.append((item, exc))
                continue
            if fed.normalized.subscription is not None:
                subscriptions.append((item, fed.normalized.subscription))
            if fed.normalized.note:
                notes[item.id] = fed.normalized.note
        return failures, subscriptions, notes

    # -- several workers (Postgres) --------------------------------------------------------------

    async def _work_shared(self) -> None:
        while True:
            try:
                handled = await self._correlate_shared()
            except transient_errors() as exc:
                log.error("intake.store_retry", worker=self.worker_id, error=str(exc), retry_in=1.0)
                await asyncio.sleep(1.0)
                continue
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=TICK_SECONDS)

    def _begin_locked(self) -> None:
        self._work_conn.execute("BEGIN")
        self._work_conn.execute("SELECT pg_advisory_xact_lock(?)", (CORRELATION_LOCK,))

    def _end(self, commit: bool) -> None:
        self._work_conn.execute("COMMIT" if commit else "ROLLBACK")

    async def _correlate_shared(self, *, take_pending: bool = True, advance_to: float | None = None) -> int:
        """One turn under the correlation lock: catch up, correlate a batch, commit. The items taken.

        If anything fails before the commit, nothing of the turn is kept: the transaction is rolled back
        and the engine (which may have taken items that are still pending) is rebuilt on the next turn.
        """
        async with self._step:
            await self._wdb(self._begin_locked)
            committed = False
            try:
                self._busy = True
                await self._catch_up()
                items = await self._wdb(self._w_inbox.pending, BATCH) if take_pending else []
                failures, subscriptions, notes = self._feed(items)
                if advance_to is not None:
                    self.engine.advance(advance_to)
                decisions = self.engine.drain()
                runs = await self._wdb(self._write_decisions, [i.id for i in items], decisions, failures, notes)
                if items:
                    self._seen_seq = await self._wdb(self._w_inbox.last_processed_seq)
                await self._wdb(self._end, True)
                committed = True
            finally:
                self._busy = False
                if not committed:
                    with contextlib.suppress(*transient_errors()):
                        await self._wdb(self._end, False)
                    self._reset_engine()
        for run in runs:
            self._launch(run)
        for item, request in subscriptions:
            self._runs_add(asyncio.create_task(self._confirm(item, request)))
        return len(items)

    async def _catch_up(self) -> None:
        """Replay what other workers correlated since this one last held the lock (their decisions are recorded)."""
        since = self.clock() - self.settings.retention_hours * 3600
        missed = await self._wdb(self._w_inbox.processed_after, self._seen_seq, since)
        for seq, item in missed:
            self._seen_seq = seq
            try:
                self.pipeline.feed(item.source, json.loads(item.body), item.received_at, item.headers)
            except (ValueError, UnknownSource):
                continue  # dead-lettered when it was first processed
        if missed:
            self.engine.drain()
            self.rebuilt_items += len(missed)

    def _reset_engine(self) -> None:
        """Forget the engine's state; the next turn replays everything retained into a fresh one."""
        self.pipeline = IntakePipeline(self.settings, self.topology)
        self.engine = self.pipeline.engine
        self._seen_seq = 0
        self.rebuilt_items = 0

    async def _claim_orphans(self) -> None:
        for run in await self._db(self.store.claim_orphaned_runs, time.time()):
            log.info("intake.run_taken_over", worker=self.worker_id, incident_id=run.incident_id, revision=run.revision)
            self._launch(run)

    async def _keep_lease(self, run: RunRequest) -> None:
        every = self.settings.run_lease_seconds / 3
        while True:
            await asyncio.sleep(every)
            if not await self._db(self.store.renew_lease, run.incident_id, run.revision, time.time()):
                log.warning(
                    "intake.lease_lost", worker=self.worker_id, incident_id=run.incident_id, revision=run.revision
                )
                return

    async def _record(
        self,
        item_ids: list[int],
        decisions: list[Decision],
        failures: list[tuple[InboxItem, AlertPayloadError | UnknownSource | ValueError]],
        notes: dict[int, str] | None = None,
    ) -> list[RunRequest]:
        """Persist decisions (and mark items processed) in one transaction; the new runs to start."""
        now = self.clock()
        summaries, requests = self._summaries_and_requests(decisions)

        def write() -> list[RunRequest]:
            with transaction(self._conn):
                return self._write(item_ids, now, notes, failures, summaries, requests)

        # The engine has moved on: these decisions must reach the disk. SQLite errors here are transient
        # (locked, disk full); retry, holding the worker back, rather than lose a requested investigation.
        delay = 0.5
        while True:
            try:
                return await self._db(write)
            except transient_errors() as exc:
                log.error("intake.store_retry", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _summaries_and_requests(self, decisions: list[Decision]) -> tuple[dict[str, dict[str, Any]], list[RunRequest]]:
        """The incidents' summaries to save and the runs to request, from the engine's decisions (logged)."""
        summaries: dict[str, dict[str, Any]] = {}
        requests: list[RunRequest] = []
        for decision in decisions:
            incident = decision.incident
            summaries[incident.id] = incident.summary()
            if decision.into is not None:
                summaries[decision.into.id] = decision.into.summary()
            if decision.kind == "investigate":
                fields = run_request_fields(incident, self.topology, decision.revision, decision.reasons)
                requests.append(
                    RunRequest(incident.id, decision.revision, fields["workflow_id"], decision.reasons, fields["alert"])
                )
            log.info(
                "intake.decision",
                kind=decision.kind,
                incident_id=incident.id,
                revision=decision.revision or None,
                reasons="; ".join(decision.reasons) or None,
                into=decision.into.id if decision.into else None,
            )
        return summaries, requests

    def _write(
        self,
        item_ids: list[int],
        now: float,
        notes: dict[int, str] | None,
        failures: list[tuple[InboxItem, AlertPayloadError | UnknownSource | ValueError]],
        summaries: dict[str, dict[str, Any]],
        requests: list[RunRequest],
    ) -> list[RunRequest]:
        """The writes of one batch (inside the caller's transaction); the runs requested for the first time."""
        fresh = []
        if item_ids:
            self._w_inbox.mark_processed(item_ids, now, notes)
        for item, exc in failures:
            field_name = getattr(exc, "field", "payload")
            self._w_dead.add(
                source=item.source,
                received_at=item.received_at,
                stage="process",
                status=0,
                field=field_name,
                error=str(exc),
                body=item.body,
            )
        for summary in summaries.values():
            self._w_store.save_incident(summary, _iso(now))
        for request in requests:
            if self._w_store.request_run(request, now):
                fresh.append(request)
        return fresh

    def _write_decisions(
        self,
        item_ids: list[int],
        decisions: list[Decision],
        failures: list[tuple[InboxItem, AlertPayloadError | UnknownSource | ValueError]],
        notes: dict[int, str],
    ) -> list[RunRequest]:
        """Postgres: the writes of one turn, in the caller's open transaction."""
        now = self.clock()
        summaries, requests = self._summaries_and_requests(decisions)
        return self._write(item_ids, now, notes, failures, summaries, requests)

    async def _tick(self) -> None:
        last_prune = 0.0
        last_claim = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = self.clock()
            if self.shared:
                try:
                    await self._correlate_shared(take_pending=False, advance_to=now)
                    if time.monotonic() - last_claim > self.settings.run_lease_seconds / 2:
                        last_claim = time.monotonic()
                        await self._claim_orphans()
                except transient_errors() as exc:
                    log.error("intake.store_retry", worker=self.worker_id, error=str(exc), retry_in=TICK_SECONDS)
                    continue
            else:
                await self._advance(now)
            if now - last_prune > 600:
                last_prune = now
                await self._db(self.inbox.prune, now - self.settings.retention_hours * 3600)

    async def _advance(self, now: float) -> None:
        """One process: let time pass in the engine and record what it decided."""
        self.engine.advance(now)
        decisions = self.engine.drain()
        if decisions:
            self._busy = True
            try:
                for run in await self._record([], decisions, []):
                    self._launch(run)
            finally:
                self._busy = False

    # -- investigations --------------------------------------------------------------------------

    def _runs_add(self, task: asyncio.Task[None]) -> None:
        self._runs.add(task)
        task.add_done_callback(self._runs.discard)

    def _launch(self, run: RunRequest) -> None:
        self._runs_add(
            asyncio.create_task(self._investigate(run), name=f"investigate-{run.incident_id}-r{run.revision}")
        )

    async def _investigate(self, run: RunRequest) -> None:
        # Several workers: the lease is kept from now (also while waiting for a free slot), or another takes the run.
        keeper = asyncio.create_task(self._keep_lease(run)) if self.shared else None
        try:
            await self._run_investigation(run, keeper)
        finally:
            if keeper is not None:
                keeper.cancel()

    async def _run_investigation(self, run: RunRequest, keeper: asyncio.Task[None] | None) -> None:
        async with self._limit:
            if keeper is not None and keeper.done():
                return  # the lease was lost while waiting: the worker that took the run over starts it
            await self._db(self.store.set_run_state, run.incident_id, run.revision, "running", self.clock())
            request = InvestigationRequest(
                incident_id=run.incident_id,
                revision=run.revision,
                workflow_id=run.workflow_id,
                reasons=run.reasons,
                alert=Alert.model_validate(run.alert),
            )
            log.info(
                "intake.investigation_started",
                incident_id=run.incident_id,
                revision=run.revision,
                workflow_id=run.workflow_id,
            )
            try:
                detail = await self.starter(request)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing workflow must not take the server down; it is recorded and visible
                log.error(
                    "intake.investigation_failed", incident_id=run.incident_id, revision=run.revision, error=repr(exc)
                )
                await self._db(
                    self.store.set_run_state, run.incident_id, run.revision, "failed", self.clock(), repr(exc)
                )
                return
            log.info("intake.investigation_done", incident_id=run.incident_id, revision=run.revision, detail=detail)
            await self._db(self.store.set_run_state, run.incident_id, run.revision, "started", self.clock(), detail)

    async def _confirm(self, item: InboxItem, request: SubscriptionRequest) -> None:
        settings = self.pipeline.source_settings("cloudwatch")
        if not settings.confirm_subscriptions:
            await self._db(
                self.inbox.note,
                item.id,
                f"SNS subscription to {request.topic_arn} NOT confirmed "
                f"(confirm_subscriptions is off): GET {request.subscribe_url}",
            )
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        try:
            response = await self._http.get(request.subscribe_url)
            ok, detail = response.status_code == 200, f"HTTP {response.status_code}: {response.text[:300]}"
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if ok:
            log.info("intake.sns_confirmed", topic=request.topic_arn)
            await self._db(self.inbox.note, item.id, f"SNS subscription to {request.topic_arn} confirmed")
            return
        log.error("intake.sns_confirm_failed", topic=request.topic_arn, detail=detail)
        await self._db(
            lambda: self.dead.add(
                source=item.source,
                received_at=item.received_at,
                stage="confirm",
                status=0,
                field="SubscribeURL",
                error=f"confirming {request.subscribe_url} failed: {detail}",
                body=item.body,
            )
        )

    # -- views -----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        counts = await self._db(self.inbox.counts)
        dead = await self._db(self.dead.count)
        runs = await self._db(self.store.run_counts)
        return {
            "status": "ok" if self.worker_alive else "degraded",
            "worker": "running" if self.worker_alive else "stopped",
            "inbox_pending": counts.get("pending", 0),
            "inbox_processed": counts.get("processed", 0),
            "dead_letters": dead,
            "rejected_unauthenticated": self.rejected_unauthenticated,
            "open_incidents": len(self.engine.open),
            "alerts_tracked": len(self.engine.alerts),
            "investigations": runs,
            "uptime_seconds": round(self.clock() - self.started_at, 1),
        }

    def _live(self, stored: dict[str, Any]) -> dict[str, Any]:
        """The stored summary, refreshed from the engine while it still holds the incident (repeats are not written)."""
        incident = self.engine.incidents.get(stored["id"])
        return stored if incident is None else {**stored, **incident.summary()}

    async def incidents(self, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = await self._db(lambda: self.store.incidents(status=status, limit=limit))
        return [self._live(row) for row in rows]

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        stored = await self._db(self.store.incident, incident_id)
        return None if stored is None else self._live(stored)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the inbox is drained and no investigation runs (tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = await self._db(self.inbox.counts)
            if not counts.get("pending") and not self._busy and not self._runs:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(
            f"intake not idle after {timeout}s: {await self._db(self.inbox.counts)}, {len(self._runs)} runs"
        )
