"""Pending approvals over time: post them to Slack, remind, page the on-call, expire.

`ApprovalWatcher.tick` runs every few seconds in the server (and once per call in tests, with the
clock injected through the responder's context). For each action waiting for a human:

- Slack enabled and not posted yet: post the Block Kit request, remember its ``channel`` and ``ts``;
- ``remind_after_minutes`` passed: remind the approvers (a thread reply), once;
- ``escalate_after_minutes`` passed: page the on-call (PagerDuty Events, with the incident link), once;
- every ``update_every_minutes`` of its severity: a status page and channel update (`agents.cadence`);
- ``expire_after_minutes`` passed: record the expiry (the action never runs) and resume the incident,
  which escalates with a timeline entry.

Every message and page goes through `tools.actions.execute_action`, so the ledger and the approval
policy govern them like any other mutating call; each is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from agents.cadence import periodic_update
from approvals.service import ActionCard, ApprovalService
from approvals.slack import outcome_blocks, request_blocks
from tools.actions import execute_action
from tools.base import hash_args

log = structlog.get_logger("firstline.approvals")


@dataclass
class ApprovalWatcher:
    service: ApprovalService

    @property
    def settings(self) -> Any:
        return self.service.settings

    def link(self, incident_id: str) -> str:
        base = self.settings.console_url.rstrip("/")
        return f"{base}/incidents/{incident_id}" if base else ""

    async def _send(self, incident_id: str, key: str, tool: str, args: dict[str, Any]) -> dict[str, Any] | None:
        ctx = self.service.responder.ctx
        outcome = await execute_action(
            registry=ctx.registry,
            ledger=ctx.ledger,
            policy=ctx.policy,
            incident_id=incident_id,
            action_id=key,
            tool_id=tool,
            args=args,
        )
        if outcome.result is None or outcome.result.status != "ok":
            log.warning("approval_notice_failed", incident_id=incident_id, key=key, detail=outcome.detail)
            return None
        return dict(outcome.result.data) if isinstance(outcome.result.data, dict) else {}

    def _slack_tool(self) -> str | None:
        slack = self.settings.slack
        registry = self.service.responder.ctx.registry
        return slack.tool if slack.enabled and slack.tool in registry.adapters else None

    def _channel(self, card: ActionCard) -> str | None:
        if self.settings.slack.channel:
            return str(self.settings.slack.channel)
        entry = self.service.responder.ctx.catalog.get(card.service)
        return entry.chat_channel if entry and entry.chat_channel else None

    async def post_request(self, card: ActionCard) -> None:
        tool = self._slack_tool()
        channel = self._channel(card)
        records = self.service.records
        if tool is None or channel is None or records.slack_message(card.incident_id, card.action_id):
            return
        text, blocks = request_blocks(card, hash_args(card.vote.args), self.link(card.incident_id))
        data = await self._send(
            card.incident_id,
            f"{card.action_id}:slack-request",
            f"{tool}.post_message",
            {"channel": channel, "text": text, "blocks": blocks},
        )
        if data and data.get("ts"):
            records.remember_slack_message(card.incident_id, card.action_id, str(data["channel"]), str(data["ts"]))
            records.audit(
                at=self.service.clock(),
                incident_id=card.incident_id,
                action_id=card.action_id,
                event="slack_posted",
                actor="firstline",
                channel="slack",
                slack_channel=data["channel"],
                ts=data["ts"],
            )

    async def update_message(self, incident_id: str, action_id: str, outcome: str) -> None:
        """Replace the request's buttons with the outcome (``chat.update``); a listener of the service."""
        tool = self._slack_tool()
        where = self.service.records.slack_message(incident_id, action_id)
        if tool is None or where is None:
            return
        channel, ts = where
        text, blocks = outcome_blocks(action_id, incident_id, outcome)
        seq = len(self.service.records.audit_log(incident_id))
        data = await self._send(
            incident_id,
            f"{action_id}:slack-update-{seq}",
            f"{tool}.update_message",
            {"channel": channel, "ts": ts, "text": text, "blocks": blocks},
        )
        if data is not None:
            self.service.records.audit(
                at=self.service.clock(),
                incident_id=incident_id,
                action_id=action_id,
                event="slack_updated",
                actor="firstline",
                channel="slack",
                text=outcome,
            )

    async def reply_in_thread(self, incident_id: str, action_id: str, text: str) -> None:
        """A reply under the request (a click that decided nothing: refused, unmapped, already decided)."""
        tool = self._slack_tool()
        where = self.service.records.slack_message(incident_id, action_id)
        if tool is None or where is None:
            return
        seq = len(self.service.records.audit_log(incident_id))
        await self._send(
            incident_id,
            f"{action_id}:slack-reply-{seq}",
            f"{tool}.post_message",
            {"channel": where[0], "text": text, "thread_ts": where[1]},
        )

    async def remind(self, card: ActionCard, now: datetime) -> None:
        records = self.service.records
        if records.has_event(card.incident_id, card.action_id, "reminded"):
            return
        where = records.slack_message(card.incident_id, card.action_id)
        tool = self._slack_tool()
        sent = "no chat configured"
        if tool and where:
            text = f"Reminder: {card.title} is still waiting for approval. {card.vote.missing or card.requirement}"
            data = await self._send(
                card.incident_id,
                f"{card.action_id}:remind",
                f"{tool}.post_message",
                {"channel": where[0], "text": text, "thread_ts": where[1]},
            )
            sent = "posted in the request's thread" if data is not None else "the reminder could not be posted"
        records.audit(
            at=now,
            incident_id=card.incident_id,
            action_id=card.action_id,
            event="reminded",
            actor="firstline",
            channel="slack" if tool and where else "system",
            approvers=card.approvers,
            result=sent,
        )

    async def escalate(self, card: ActionCard, now: datetime) -> None:
        records = self.service.records
        if records.has_event(card.incident_id, card.action_id, "escalated"):
            return
        registry = self.service.responder.ctx.registry
        entry = self.service.responder.ctx.catalog.get(card.service)
        # The configured pager, else the one that pages this service's escalation policy, else the first one.
        wanted = self.settings.deadlines.pager_tool or (entry.pagerduty_events if entry else None)
        pager = registry.adapters.get(wanted) if wanted else registry.first("pagerduty_events")
        result = "no pagerduty_events instance configured: nobody was paged"
        if pager is not None:
            args: dict[str, Any] = {
                "dedup_key": f"firstline/{card.incident_id}/{card.action_id}/approval",
                "summary": f"{card.incident_id}: approval of '{card.title}' has waited "
                f"{self.settings.deadlines.escalate_after_minutes:g} minutes",
                "source": f"{card.service}.{card.environment}",
                "severity": "error",
                "custom_details": {"action": card.action_id, "rule": card.rule, "who may approve": card.approvers},
            }
            link = self.link(card.incident_id)
            if link.startswith(("http://", "https://")):
                args["client_url"] = link
            data = await self._send(card.incident_id, f"{card.action_id}:page", pager.tool_id("trigger_event"), args)
            result = "paged the on-call" if data is not None else "the page could not be sent"
        records.audit(
            at=now,
            incident_id=card.incident_id,
            action_id=card.action_id,
            event="escalated",
            actor="firstline",
            channel="system",
            result=result,
        )

    async def tick(self) -> None:
        """One pass over every pending approval: post, remind, escalate, expire."""
        deadlines = self.settings.deadlines
        for pending in self.service.pending():
            incident_id, action_id = pending["incident"], pending["id"]
            outcome, request = await self.service.waiting(incident_id)
            if request is None or request.action_id != action_id:
                continue
            card = self.service.card(outcome.state, request)
            now = self.service.clock()
            await self.post_request(card)
            # While it waits, customers and the channel hear from it on the cadence its messages promised.
            sent = await periodic_update(self.service.responder.ctx, outcome.state, now)
            if sent:
                log.info("periodic_update", incident_id=incident_id, sent=sent)
            if card.expires_at is not None and now >= card.expires_at:
                if await self.service.expire(incident_id, action_id, minutes=deadlines.expire_after_minutes):
                    await self.service.apply(incident_id, action_id)
                continue
            if card.escalate_at is not None and now >= card.escalate_at:
                await self.escalate(card, now)
            if card.remind_at is not None and now >= card.remind_at:
                await self.remind(card, now)
