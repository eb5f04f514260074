"""The one way a human decision reaches an incident, whatever the channel (web, API, Slack, CLI).

    vote (who, approve|reject, maybe edited arguments, channel)
      -> authorize (approvals.policy: the rule, the two-person rule, the editor rule) or refuse naming the rule
      -> record the vote and audit it
      -> quorum reached? write the ledger's decision (first decision anywhere wins), audit it
      -> apply: resume the incident's workflow, which executes through the ledger exactly once

`vote` is quick and never runs the workflow; `apply` resumes it (a Slack click is acknowledged before
that, a web form returns to a page that follows it live). Both take a per-incident lock, so two
channels deciding at once in this process are serialized; across processes the ledger's first
decision and its single execution claim keep an action from running twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import BaseModel

from agents.approval import EXPIRED_BY, ApprovalRequest
from agents.runner import IncidentNotFound, Responder, RunOutcome
from agents.state import IncidentState, ProposedAction
from approvals.identity import User
from approvals.policy import ActionContext, ApproverPolicy, Requirement
from approvals.records import ApprovalRecords, Channel, Vote
from approvals.settings import ApprovalSettings
from tools.actions import normalized_args
from tools.base import hash_args

log = structlog.get_logger("firstline.approvals")

VoteStatus = Literal["approved", "rejected", "waiting", "refused", "invalid", "already_decided", "expired"]


class NotPending(LookupError):
    """The incident is not waiting for a decision on that action (and none was recorded)."""


class Change(BaseModel):
    """One thing the action changes: what it is now and what it will be."""

    what: str
    before: str
    after: str


class ApprovalView(BaseModel):
    """The vote so far: for which arguments, by whom, and what is still needed."""

    args: dict[str, Any]
    edited_by: str | None
    approvers: list[str]
    missing: str


class ActionCard(BaseModel):
    """Everything the console, the API and Slack show about one pending action."""

    incident_id: str
    action_id: str
    tool: str
    title: str
    rationale: str
    risk: str
    blast_radius: str
    undo: str
    policy_reason: str
    proposed_args: dict[str, Any]
    changes: list[Change]
    rule: str
    requirement: str
    approvers: str
    required: int
    vote: ApprovalView
    requested_at: datetime
    remind_at: datetime | None
    escalate_at: datetime | None
    expires_at: datetime | None
    input_schema: dict[str, Any]
    service: str
    environment: str


@dataclass(frozen=True)
class VoteResult:
    status: VoteStatus
    message: str
    rule: str = ""
    decided_by: str = ""

    @property
    def decided(self) -> bool:
        """A decision is in the ledger: `apply` will move the incident on."""
        return self.status in ("approved", "rejected")


DecisionListener = Callable[[str, str, str], Awaitable[None]]


@dataclass
class ApprovalService:
    """Authorizes and records votes, writes decisions and resumes incidents. Shared by every channel."""

    responder: Responder
    records: ApprovalRecords
    policy: ApproverPolicy
    settings: ApprovalSettings
    listeners: list[DecisionListener] = field(default_factory=list)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.responder.ctx.clock

    def _lock(self, incident_id: str) -> asyncio.Lock:
        return self._locks.setdefault(incident_id, asyncio.Lock())

    # -- reading -------------------------------------------------------------------------------

    def pending(self) -> list[dict[str, Any]]:
        """Every action waiting for a decision, from the incident index (cheap: no checkpoint read)."""
        return self.responder.index.pending_approvals()

    async def waiting(self, incident_id: str) -> tuple[RunOutcome, ApprovalRequest | None]:
        outcome = await self.responder.snapshot(incident_id)
        return outcome, outcome.waiting_for

    def action_context(self, state: IncidentState, action: ProposedAction) -> ActionContext:
        _, spec = self.responder.ctx.registry.resolve(action.tool)
        service = state.service or state.alert.service
        entry = self.responder.ctx.catalog.get(service)
        return ActionContext(
            action_class=spec.safety.action_class,
            service=service,
            environment=state.alert.environment,
            safety=spec.safety,
            owner_team=entry.owner if entry else "",
            oncall_handle=entry.oncall.handle if entry and entry.oncall else "",
        )

    def requirement(self, state: IncidentState, action: ProposedAction) -> Requirement:
        return self.policy.requirement(self.action_context(state, action))

    def current_proposal(self, action: ProposedAction, votes: list[Vote]) -> tuple[dict[str, Any], str | None]:
        """The arguments being voted on (the latest edit's, else the proposed) and who edited them."""
        edits = [v for v in votes if v.edited]
        if edits:
            return edits[-1].args, edits[-1].user
        return normalized_args(self.responder.ctx.registry, action.tool, action.args), None

    def view(self, state: IncidentState, action: ProposedAction) -> ApprovalView:
        votes = self.records.votes(state.id, action.id)
        args, editor = self.current_proposal(action, votes)
        digest = hash_args(args)
        approvers = [v.user for v in votes if v.decision == "approved" and v.args_hash == digest]
        _, missing = self.policy.quorum(self.requirement(state, action), set(approvers), editor)
        return ApprovalView(args=args, edited_by=editor, approvers=approvers, missing=missing)

    def deadline(self, requested_at: datetime, minutes: float) -> datetime | None:
        return requested_at + timedelta(minutes=minutes) if minutes else None

    def card(self, state: IncidentState, request: ApprovalRequest) -> ActionCard:
        action = next(a for a in state.actions if a.id == request.action_id)
        requirement = self.requirement(state, action)
        _, spec = self.responder.ctx.registry.resolve(action.tool)
        d = self.settings.deadlines
        ctx = self.action_context(state, action)
        return ActionCard(
            incident_id=state.id,
            action_id=action.id,
            tool=action.tool,
            title=action.title,
            rationale=action.rationale,
            risk=action.risk,
            blast_radius=action.blast_radius,
            undo=action.undo,
            policy_reason=action.policy_reason,
            proposed_args=action.args,
            changes=describe_changes(state, action),
            rule=requirement.rule,
            requirement=requirement.describe(),
            approvers=requirement.approvers,
            required=requirement.required,
            vote=self.view(state, action),
            requested_at=request.requested_at,
            remind_at=self.deadline(request.requested_at, d.remind_after_minutes),
            escalate_at=self.deadline(request.requested_at, d.escalate_after_minutes),
            expires_at=self.deadline(request.requested_at, d.expire_after_minutes),
            input_schema=spec.input_model.model_json_schema(),
            service=ctx.service,
            environment=ctx.environment,
        )

    # -- deciding ------------------------------------------------------------------------------

    async def vote(
        self,
        incident_id: str,
        action_id: str,
        user: User,
        decision: Literal["approved", "rejected"],
        *,
        channel: Channel,
        comment: str = "",
        edited_args: dict[str, Any] | None = None,
        expected_args_hash: str | None = None,
    ) -> VoteResult:
        """Authorize and record one person's decision; write the ledger's when the rule's quorum is met.

        ``expected_args_hash``: the arguments the voter saw (a Slack button carries it); if they were
        edited since, the vote is refused rather than applied to arguments the voter never saw.
        Raises `NotPending` (and `IncidentNotFound`) for an action nobody is waiting on. Never resumes
        the workflow: call `apply` (or `apply_soon`) when the result is `decided`.
        """
        async with self._lock(incident_id):
            return await self._vote(
                incident_id, action_id, user, decision, channel, comment, edited_args, expected_args_hash
            )

    async def _vote(
        self,
        incident_id: str,
        action_id: str,
        user: User,
        decision: Literal["approved", "rejected"],
        channel: Channel,
        comment: str,
        edited_args: dict[str, Any] | None,
        expected_args_hash: str | None = None,
    ) -> VoteResult:
        ledger, now = self.responder.ctx.ledger, self.clock()
        outcome = await self.responder.snapshot(incident_id)
        request = outcome.waiting_for
        existing = ledger.get_decision(incident_id, action_id)
        if existing is not None:
            return VoteResult(
                "already_decided",
                f"{action_id} was already {existing.decision} by {existing.decided_by} at "
                f"{existing.decided_at:%Y-%m-%d %H:%M:%S} UTC; nothing more to decide",
                decided_by=existing.decided_by,
            )
        if request is None or request.action_id != action_id:
            waiting = f"it waits for {request.action_id}" if request else f"its status is {outcome.state.status}"
            raise NotPending(f"incident {incident_id} is not waiting for a decision on {action_id} ({waiting})")
        state = outcome.state
        action = next(a for a in state.actions if a.id == action_id)
        audit: dict[str, Any] = {
            "incident_id": incident_id,
            "action_id": action_id,
            "actor": user.name,
            "channel": channel,
        }
        expires = self.deadline(request.requested_at, self.settings.deadlines.expire_after_minutes)
        if expires is not None and now >= expires:
            self.records.audit(at=now, event="refused", rule="deadline", reason="expired", **audit)
            return VoteResult("expired", f"the approval expired at {expires:%H:%M:%S} UTC; it will not run", "deadline")
        ctx = self.action_context(state, action)
        requirement = self.policy.requirement(ctx)
        verdict = self.policy.may_approve(user, ctx)
        if not verdict.allowed:
            self.records.audit(
                at=now, event="refused", rule=verdict.rule, reason=verdict.reason, decision=decision, **audit
            )
            log.info(
                "approval_refused", incident_id=incident_id, action_id=action_id, user=user.name, rule=verdict.rule
            )
            return VoteResult("refused", f"refused by rule {verdict.rule}: {verdict.reason}", verdict.rule)
        votes = self.records.votes(incident_id, action_id)
        current, editor = self.current_proposal(action, votes)
        if expected_args_hash is not None and expected_args_hash != hash_args(current):
            return VoteResult(
                "invalid",
                f"the arguments were edited since this request was shown (now {current}); decide in the console",
                verdict.rule,
            )
        args = current
        if decision == "approved":
            if edited_args is not None:
                try:
                    edited = normalized_args(self.responder.ctx.registry, action.tool, edited_args)
                except ValueError as exc:
                    return VoteResult("invalid", str(exc), verdict.rule)
                if edited != current:
                    args, editor = edited, user.name
        digest = hash_args(args)
        is_edit = decision == "approved" and editor == user.name and digest != hash_args(current)
        approvers = {v.user for v in votes if v.decision == "approved" and v.args_hash == digest}
        if decision == "approved":
            check = self.policy.check_approval(user, ctx, approvers=approvers)
            if not check.allowed:
                self.records.audit(at=now, event="refused", rule=check.rule, reason=check.reason, **audit)
                return VoteResult("refused", f"refused by rule {check.rule}: {check.reason}", check.rule)
        self.records.add_vote(
            Vote(
                incident_id=incident_id,
                action_id=action_id,
                user=user.name,
                decision=decision,
                args_hash=digest,
                args=args,
                edited=is_edit,
                channel=channel,
                comment=comment,
                at=now,
            )
        )
        self.records.audit(
            at=now,
            event="edit" if is_edit else "vote",
            decision=decision,
            args=args,
            proposed_args=action.args,
            rule=verdict.rule,
            why=verdict.reason,
            comment=comment,
            **audit,
        )
        if decision == "approved":
            approvers.add(user.name)
            done, missing = self.policy.quorum(requirement, approvers, editor)
            if not done:
                return VoteResult("waiting", f"approval by {user.name} recorded; {missing}", verdict.rule)
            ordered = [v.user for v in self.records.votes(incident_id, action_id) if v.args_hash == digest]
            decided_by = ", ".join(dict.fromkeys(ordered))
        else:
            decided_by = user.name
        proposed = normalized_args(self.responder.ctx.registry, action.tool, action.args)
        record, created = ledger.record_decision(
            incident_id=incident_id,
            action_id=action_id,
            tool=action.tool,
            args_hash=digest,
            decision=decision,
            decided_by=decided_by,
            comment=comment,
            at=now,
            args=args if args != proposed else None,
        )
        if not created:  # another process decided between our read and our write: theirs stands
            return VoteResult("already_decided", f"{action_id} was already {record.decision} by {record.decided_by}")
        self.records.audit(
            at=now, event="decided", decision=decision, decided_by=decided_by, args=args, rule=verdict.rule, **audit
        )
        log.info("approval_decided", incident_id=incident_id, action_id=action_id, decision=decision, channel=channel)
        return VoteResult(decision, f"{action.title}: {decision} by {decided_by}", verdict.rule, decided_by)

    async def expire(self, incident_id: str, action_id: str, *, minutes: float) -> bool:
        """Record an expired approval as a rejection by ``policy:expired`` (it never runs); True if this call did."""
        async with self._lock(incident_id):
            ledger, now = self.responder.ctx.ledger, self.clock()
            outcome = await self.responder.snapshot(incident_id)
            request = outcome.waiting_for
            if request is None or request.action_id != action_id or ledger.get_decision(incident_id, action_id):
                return False
            action = next(a for a in outcome.state.actions if a.id == action_id)
            _, created = ledger.record_decision(
                incident_id=incident_id,
                action_id=action_id,
                tool=action.tool,
                args_hash=hash_args(normalized_args(self.responder.ctx.registry, action.tool, action.args)),
                decision="rejected",
                decided_by=EXPIRED_BY,
                comment=f"no decision within {minutes:g} minutes",
                at=now,
            )
            if created:
                self.records.audit(
                    at=now,
                    incident_id=incident_id,
                    action_id=action_id,
                    event="expired",
                    actor=EXPIRED_BY,
                    channel="system",
                    minutes=minutes,
                    args=action.args,
                )
            return created

    async def apply(self, incident_id: str, action_id: str) -> RunOutcome:
        """Resume the incident with the recorded decision (executes an approved action exactly once)."""
        async with self._lock(incident_id):
            resumed = await self.responder.resume(incident_id)
        state = resumed.run.state
        action = next((a for a in state.actions if a.id == action_id), None)
        status = action.status if action else "unknown"
        self.records.audit(
            at=self.clock(),
            incident_id=incident_id,
            action_id=action_id,
            event="executed" if status in ("executed", "verified", "failed") else "decided",
            actor="firstline",
            channel="system",
            action_status=status,
            incident_status=state.status,
            result=action.result_summary if action else "",
        )
        text = f"{action.title if action else action_id}: {status}; incident {state.status}"
        for listener in self.listeners:
            await listener(incident_id, action_id, text)
        return resumed.run

    def apply_soon(self, incident_id: str, action_id: str) -> asyncio.Task[None]:
        """`apply` in the background (kept referenced until done); its failure is logged, never lost."""

        async def run() -> None:
            try:
                await self.apply(incident_id, action_id)
            except (IncidentNotFound, RuntimeError, OSError) as exc:
                log.error("approval_apply_failed", incident_id=incident_id, action_id=action_id, error=str(exc))

        return self.spawn(run())

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``work`` in the background, kept referenced until done (`drain` waits for all of it)."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self) -> None:
        """Wait for every background `apply` (tests, and the server's shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def describe_changes(state: IncidentState, action: ProposedAction) -> list[Change]:
    """What the action changes, from what to what, from the facts the investigation recorded.

    Read from the typed facts (the inspected Deployment, a ConfigMap revert), never from names: any
    argument the facts do not explain is shown as the value it sets.
    """
    args = action.args
    changes: list[Change] = []
    dep = state.deployment
    explained: set[str] = set()
    if dep is not None and args.get("name") == dep.name and args.get("namespace", dep.namespace) == dep.namespace:
        explained |= {"name", "namespace"}
        target = f"deployment/{dep.name} in {dep.namespace}"
        if "to_revision" in args or action.tool.endswith("rollout_undo"):
            to_revision = args.get("to_revision") or dep.previous_revision
            changes.append(Change(what=f"{target}: revision", before=str(dep.current_revision), after=str(to_revision)))
            if dep.current_image and dep.previous_image and to_revision == dep.previous_revision:
                changes.append(Change(what=f"{target}: image", before=dep.current_image, after=dep.previous_image))
            explained.add("to_revision")
        if "replicas" in args:
            changes.append(Change(what=f"{target}: replicas", before=str(dep.replicas), after=str(args["replicas"])))
            explained.add("replicas")
        if action.tool.endswith("restart") and not changes:
            changes.append(
                Change(what=f"{target}: pods", before="running pods", after="replaced by new pods, same revision")
            )
    target_fact = state.cluster_target
    if target_fact is not None and target_fact.kind == "configmap" and args.get("name") == target_fact.name:
        explained |= {"name", "namespace", "data", "resource_version"}
        changes.append(
            Change(
                what=f"configmap/{target_fact.name} in {target_fact.namespace}",
                before=f"revision {target_fact.from_revision}",
                after=f"revision {target_fact.to_revision} (keys {', '.join(target_fact.changed_keys) or 'all'})",
            )
        )
    for key, value in args.items():
        if key not in explained:
            changes.append(Change(what=key, before="", after=str(value)))
    return changes
