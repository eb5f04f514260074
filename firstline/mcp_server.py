"""firstline as an MCP server (`firstline mcp serve`): an assistant reads incidents, pending approvals,
knowledge, memory and the service catalog, and can start an investigation from an alert.

Tools (all read-only except ``start_investigation``):

- ``list_incidents``, ``show_incident``: the incident index (``storage.incidents``): status, severity,
  diagnosis with its evidence and what was ruled out, actions, timeline;
- ``list_pending_approvals``: actions waiting for a human (read only);
- ``search_knowledge``, ``recall_similar_incidents``: the knowledge store and incident memory;
- ``list_services``, ``get_service``: the service catalog;
- ``start_investigation``: an Alertmanager webhook payload, worked like ``firstline respond --approve
  wait``: the incident runs to its approval gate and waits there.

Deciding an approval is deliberately not offered: an approval is a human's recorded decision, taken
with ``firstline approve`` (or the chat integration) by someone accountable, never by an assistant
acting through a tool. Over HTTP every request must carry ``Authorization: Bearer <token>`` (the
token from the environment variable ``mcp.token_env`` or ``--token-env`` names); the server refuses
to start without it.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import structlog
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from agents.runner import IncidentIndex
from firstline.config import FirstlineConfig
from intake.alertmanager import AlertPayloadError, parse_alertmanager
from knowledge.catalog import CatalogError, ServiceCatalog

log = structlog.get_logger("firstline.mcp")

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
START = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)
MAX_LIST = 200

# How a request's alert is worked: the runtime is opened per call, as `firstline respond` does.
Investigate = Callable[[FirstlineConfig, list[Any]], Awaitable[list[dict[str, Any]]]]


async def investigate(config: FirstlineConfig, alerts: list[Any]) -> list[dict[str, Any]]:
    """Work each alert to its end or its approval gate (``respond --approve wait``); one summary each."""
    from firstline.wiring import open_runtime

    summaries = []
    async with open_runtime(config) as responder:
        for alert in alerts:
            outcome = await responder.start(alert)
            record = outcome.record()
            waiting = outcome.waiting_for
            summaries.append(
                {
                    "incident_id": outcome.incident_id,
                    "status": record["status"],
                    "severity": record["severity"],
                    "service": record["service"],
                    "summary": record["summary"],
                    "root_cause": (record.get("diagnosis") or {}).get("root_cause"),
                    "waiting_for_approval": None
                    if waiting is None
                    else {
                        "action_id": waiting.action_id,
                        "tool": waiting.tool,
                        "args": waiting.args,
                        "title": waiting.title,
                        "decide_with": f"firstline approve {waiting.incident_id} {waiting.action_id} --by NAME "
                        "(or firstline reject ...): a human decides; this server cannot",
                    },
                }
            )
    return summaries


def build_server(config: FirstlineConfig, *, investigate_alerts: Investigate = investigate) -> MCPServer:
    """The MCP server over ``config``'s state. Nothing is opened until a tool is called."""
    server = MCPServer(
        "firstline",
        instructions="Read firstline's incidents (diagnosis, evidence, timeline), pending approvals, knowledge, "
        "past incidents and service catalog; start an investigation from an Alertmanager payload. Approvals are "
        "decided by humans with `firstline approve`, never through this server.",
        log_level="WARNING",
    )
    knowledge_cache: dict[str, Any] = {}

    def index() -> IncidentIndex:
        return IncidentIndex(config.storage.where(config.storage.incidents))

    def knowledge() -> Any:
        if "kb" not in knowledge_cache:
            from firstline.knowledge_wiring import knowledge_settings, open_store_or_none

            knowledge_cache["kb"] = open_store_or_none(knowledge_settings(config))
        kb = knowledge_cache["kb"]
        if kb is None:
            raise ToolError("the knowledge store cannot be opened (see knowledge.chroma in the configuration)")
        return kb

    def catalog() -> ServiceCatalog:
        try:
            return ServiceCatalog.load(config.knowledge.catalog)
        except CatalogError as exc:
            raise ToolError(str(exc)) from exc

    @server.tool(annotations=READ, description="Incidents, newest first: id, status, severity, service, summary.")
    def list_incidents(
        status: Annotated[
            str | None, Field(description="Only this status: open, awaiting_approval, resolved, escalated...")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=MAX_LIST, description="At most this many.")] = 20,
    ) -> dict[str, Any]:
        store = index()
        try:
            rows = store.rows()
        finally:
            store.close()
        if status is not None:
            rows = [r for r in rows if r.get("status") == status]
        return {"incidents": rows[:limit], "total": len(rows)}

    @server.tool(
        annotations=READ,
        description="One incident's record: diagnosis (root cause, evidence with the exact queries, ruled out), "
        "actions and their approvals, communications, timeline.",
    )
    def show_incident(
        incident_id: Annotated[str, Field(description="The incident id (from list_incidents).")],
    ) -> dict[str, Any]:
        store = index()
        try:
            record = store.get(incident_id)
        finally:
            store.close()
        if record is None:
            raise ToolError(f"no incident {incident_id!r}; list_incidents shows them")
        return record

    @server.tool(annotations=READ, description="Actions waiting for a human decision (read only: a human decides).")
    def list_pending_approvals() -> dict[str, Any]:
        store = index()
        try:
            pending = store.pending_approvals()
        finally:
            store.close()
        return {"pending": pending, "decide_with": "firstline approve|reject INCIDENT ACTION --by NAME"}

    @server.tool(
        annotations=READ,
        description="Search service docs, runbooks and postmortems (hybrid: exact strings and paraphrases).",
    )
    def search_knowledge(
        query: Annotated[str, Field(min_length=1, description="What to look for, e.g. an error message.")],
        service: Annotated[str | None, Field(description="Only documents about this service.")] = None,
        kind: Annotated[str | None, Field(description="service_doc, runbook, postmortem or alert_doc.")] = None,
        limit: Annotated[int, Field(ge=1, le=20, description="At most this many hits.")] = 5,
    ) -> dict[str, Any]:
        hits = knowledge().search(query, service=service, kind=kind, k=limit)
        return {
            "query": query,
            "hits": [h.model_dump(mode="json", exclude={"vector_score", "lexical_score"}) for h in hits],
        }

    @server.tool(
        annotations=READ,
        description="Past incidents most like a description, and whether this is a recurrence (same service and "
        "alert or category within 30 days), with what fixed them.",
    )
    def recall_similar_incidents(
        service: Annotated[str, Field(min_length=1, description="The service affected.")],
        text: Annotated[str, Field(min_length=1, description="What is happening, e.g. the alert's summary.")],
        alert: Annotated[str | None, Field(description="The alert's name, e.g. CheckoutHighErrorRate.")] = None,
        limit: Annotated[int, Field(ge=1, le=10, description="At most this many.")] = 3,
    ) -> dict[str, Any]:
        from datetime import UTC, datetime

        recall = knowledge().recall(service, text, now=datetime.now(UTC), k=limit, alert_name=alert)
        return {**recall.model_dump(mode="json"), "statement": recall.statement}

    @server.tool(annotations=READ, description="Every service in the catalog: tier, owner, dependencies.")
    def list_services() -> dict[str, Any]:
        services = catalog().services.values()
        return {
            "services": [
                {
                    "name": s.name,
                    "tier": s.tier,
                    "customer_facing": s.customer_facing,
                    "owner": s.owner,
                    "kind": s.kind,
                    "dependencies": s.dependencies,
                }
                for s in services
            ]
        }

    @server.tool(
        annotations=READ,
        description="One service's catalog entry (owner, on-call, dependencies, SLI queries, runbooks) and who "
        "depends on it.",
    )
    def get_service(
        name: Annotated[str, Field(description="The service's name (from list_services).")],
    ) -> dict[str, Any]:
        found = catalog()
        service = found.get(name)
        if service is None:
            raise ToolError(f"no service {name!r} in the catalog; list_services shows them")
        return {**service.model_dump(mode="json"), "dependents": found.dependents_of(name)}

    @server.tool(
        annotations=START,
        description="Start working an incident from an Alertmanager webhook payload (version 4 JSON). It runs "
        "triage, investigation and remediation planning, and stops at the approval gate: a mutating action "
        "waits for a human (`firstline approve`). Returns each incident's id, status and diagnosis.",
    )
    async def start_investigation(
        payload: Annotated[
            dict[str, Any], Field(description="The Alertmanager webhook body: {version, status, alerts: [...]}.")
        ],
    ) -> dict[str, Any]:
        try:
            alerts = [a for a in parse_alertmanager(payload) if a.status == "firing"]
        except AlertPayloadError as exc:
            raise ToolError(f"payload: {exc}") from exc
        if not alerts:
            raise ToolError("payload: no firing alerts (all are resolved); nothing to investigate")
        log.info("mcp_start_investigation", alerts=len(alerts))
        return {"incidents": await investigate_alerts(config, alerts)}

    return server


class BearerAuth:
    """ASGI middleware: every HTTP request must carry ``Authorization: Bearer <token>`` (401 otherwise)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self._expected):
                log.warning("mcp_unauthenticated", path=scope.get("path"), client=str(scope.get("client")))
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")],
                    }
                )
                await send({"type": "http.response.body", "body": b'{"error": "a valid bearer token is required"}'})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, *, token: str, host: str) -> Any:
    """The streamable HTTP app at ``/mcp``, behind the bearer check."""
    return BearerAuth(server.streamable_http_app(host=host), token)
