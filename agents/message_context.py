"""The `MessageContext` of one incident from the run's dependencies: zone, cadence, links, stakeholders.

Shared by the communication agent (phase messages) and `agents.cadence` (updates while it waits).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from agents.context import AgentContext
from agents.messages import MessageContext
from agents.state import Evidence, IncidentState
from knowledge.catalog import Service


def incident_url(ctx: AgentContext, incident_id: str) -> str:
    """The console's page for the incident (``links.incident`` is its base, or a template with ``{id}``)."""
    base = ctx.links.get("incident", "")
    if not base:
        return ""
    return base.replace("{id}", incident_id) if "{id}" in base else f"{base.rstrip('/')}/{incident_id}"


def query_linker(ctx: AgentContext) -> Callable[[Evidence], str | None]:
    """A function giving the Prometheus graph link for a metrics evidence item (None for others)."""
    bases = {a.instance: a.settings.base_url.rstrip("/") for a in ctx.registry.instances_of("prometheus")}

    def link(evidence: Evidence) -> str | None:
        base = bases.get(evidence.source.partition(".")[0])
        if not base or not evidence.query:
            return None
        return f"{base}/graph?g0.expr={quote(evidence.query, safe='')}&g0.tab=0&g0.range_input=3h"

    return link


def message_context(ctx: AgentContext, state: IncidentState, service: Service | None, oncall: str) -> MessageContext:
    comms = ctx.settings.comms
    audience = comms.stakeholders.get(state.service) or (
        comms.stakeholders.get(f"tier{service.tier}", []) if service else []
    )
    return MessageContext(
        catalog=ctx.catalog,
        now=ctx.clock(),
        zone=comms.timezone,
        incident_url=incident_url(ctx, state.id),
        update_every_minutes=comms.update_every_minutes.get(state.severity or "SEV3", 60),
        oncall=oncall,
        stakeholders=list(audience),
        query_link=query_linker(ctx),
    )
