"""Demotion of earned autonomy: a failure or a failed verification withdraws ``auto`` at once.

Called by execution and verification when an action did not do what it should. If the policy holds an
active earned rule for the action's class on this service (README "Earned autonomy"), the rule is
demoted (in memory for every incident, and in the policy file), the timeline says so, and the owning
team hears it through the same chat path as the incident's other messages. Demotion needs no human;
promotion always does.
"""

from __future__ import annotations

from agents.context import AgentContext
from agents.state import IncidentState, ProposedAction, TimelineEntry
from agents.timeline import note
from tools.actions import execute_action


async def demote_on_setback(
    ctx: AgentContext, state: IncidentState, action: ProposedAction, setback: str
) -> list[TimelineEntry]:
    """Demote the earned rule that covers ``action`` (if any) and tell the owner; the timeline entries."""
    _, spec = ctx.registry.resolve(action.tool)
    service_name = state.service or state.alert.service
    action_class = spec.safety.action_class
    rule = ctx.policy.demote(
        action_class, service_name, reason=f"{setback} in {state.id} ({action.title})", at=ctx.clock()
    )
    if rule is None:
        return []
    text = (
        f"Earned autonomy withdrawn: {action_class} on {service_name} in {rule.environment} needs a human "
        f"approval again after {setback} in {state.id} ({action.title}). It was promoted by {rule.promoted_by} "
        f"on {rule.promoted_at:%Y-%m-%d}; `firstline autonomy` shows the track record."
    )
    entries = [note(ctx, "system", "autonomy_demoted", text)]
    service = ctx.catalog.get(service_name)
    channel = service.chat_channel if service is not None else ctx.settings.comms.default_team.chat_channel
    owner = service.owner if service is not None else ctx.settings.comms.default_team.name
    slack = ctx.registry.first("slack")
    if slack is None or not channel:
        entries.append(
            note(ctx, "communication", "post", f"no chat channel for {owner}: the demotion is recorded in the policy")
        )
        return entries
    outcome = await execute_action(
        registry=ctx.registry,
        ledger=ctx.ledger,
        policy=ctx.policy,
        incident_id=state.id,
        action_id=f"autonomy-demoted-{action.id}",
        tool_id=slack.tool_id("post_message"),
        args={"channel": channel, "text": f"@{owner} {text}"},
    )
    entries.append(note(ctx, "communication", "post", f"demotion told to {owner} in {channel}: {outcome.detail}"[:500]))
    return entries
