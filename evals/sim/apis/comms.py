"""Statuspage (``/v1``), Slack Web API and PagerDuty REST API v2.

- Statuspage: ``/pages/{page}/incidents`` (GET list, POST create), ``/incidents/unresolved``,
  ``/incidents/{id}`` (GET, PATCH/PUT update, each body kept in ``incident_updates``),
  ``/components`` and ``/components/{id}``; errors ``{"error": "..."}``.
- Slack: ``chat.postMessage``, ``chat.update``, ``conversations.history``, ``auth.test``; JSON or
  form bodies; failures are HTTP 200 with ``{"ok": false, "error": "channel_not_found"}``.
- PagerDuty: ``/incidents`` (GET with ``statuses[]``/``service_ids[]``/``since``/``until``/
  ``limit``/``offset``/``total``, POST), ``/incidents/{id}`` (GET, PUT), ``/incidents/{id}/notes``
  (GET, POST), ``/oncalls``, ``/abilities``; errors ``{"error": {"message", "code", "errors"}}``.

Any Authorization header is accepted and none is required: the simulator holds no secrets.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import (
    answering,
    int_param,
    json_body,
    json_response,
    parse_unix_or_rfc3339,
    request_params,
)
from evals.sim.comms import PagerDutyError, StatuspageError
from evals.sim.world import World

# ---------------------------------------------------------------------------------------- Statuspage


def statuspage_routes(world: World) -> list[BaseRoute]:
    state = world.statuspage

    guarded = answering(StatuspageError, lambda exc: json_response(exc.body(), exc.status))

    def page_slice(request: Request, items: list[Any]) -> list[Any]:
        q = request.query_params
        try:
            per_page = int_param(q, "per_page", int_param(q, "limit", 100, low=1, high=100), low=1, high=100)
            page = int_param(q, "page", 1, low=1, high=10**6)
        except ValueError as exc:
            raise StatuspageError(400, str(exc)) from exc
        return items[(page - 1) * per_page : page * per_page]

    async def page(request: Request) -> Response:
        with world.locked():
            state.check_page(request.path_params["page"])
            return json_response(
                {"id": state.page_id, "name": state.page_name, "url": f"https://status.{state.page_id}.example"}
            )

    async def incidents(request: Request) -> Response:
        page_id = request.path_params["page"]
        if request.method == "POST":
            body = await json_body(request)
            with world.locked():
                return json_response(state.create(page_id, body), 201)
        with world.locked():
            return json_response(page_slice(request, state.list_incidents(page_id, q=request.query_params.get("q"))))

    async def unresolved(request: Request) -> Response:
        with world.locked():
            return json_response(
                page_slice(request, state.list_incidents(request.path_params["page"], unresolved_only=True))
            )

    async def incident(request: Request) -> Response:
        page_id, incident_id = request.path_params["page"], request.path_params["incident"]
        if request.method in ("PATCH", "PUT"):
            body = await json_body(request)
            with world.locked():
                return json_response(state.update(page_id, incident_id, body))
        with world.locked():
            return json_response(state.render(state.incident(page_id, incident_id)))

    async def components(request: Request) -> Response:
        with world.locked():
            return json_response(state.list_components(request.path_params["page"]))

    async def component(request: Request) -> Response:
        page_id, component_id = request.path_params["page"], request.path_params["component"]
        if request.method in ("PATCH", "PUT"):
            body = await json_body(request)
            with world.locked():
                return json_response(state.update_component(page_id, component_id, body))
        with world.locked():
            for found in state.list_components(page_id):
                if found["id"] == component_id:
                    return json_response(found)
        raise StatuspageError(404, "Could not find component")

    async def unknown(request: Request) -> Response:
        raise StatuspageError(404, "Not found")

    return [
        Route("/pages/{page}", guarded(page), methods=["GET"]),
        Route("/pages/{page}/incidents", guarded(incidents), methods=["GET", "POST"]),
        Route("/pages/{page}/incidents/unresolved", guarded(unresolved), methods=["GET"]),
        Route("/pages/{page}/incidents/{incident}", guarded(incident), methods=["GET", "PATCH", "PUT"]),
        Route("/pages/{page}/components", guarded(components), methods=["GET"]),
        Route("/pages/{page}/components/{component}", guarded(component), methods=["GET", "PATCH", "PUT"]),
        Route("/{path:path}", guarded(unknown), methods=["GET", "POST", "PATCH", "PUT", "DELETE"]),
    ]


# --------------------------------------------------------------------------------------------- Slack


async def _slack_fields(request: Request) -> dict[str, Any]:
    """A Web API call's arguments: JSON body, or form fields (where blocks arrive as a JSON string)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request)
        return body if isinstance(body, dict) else {}
    params = await request_params(request)
    fields: dict[str, Any] = dict(params.items())
    for key in ("blocks", "attachments"):
        if isinstance(fields.get(key), str):
            try:
                fields[key] = json.loads(fields[key])
            except json.JSONDecodeError:
                fields[key] = None
    return fields


def slack_routes(world: World) -> list[BaseRoute]:
    state = world.slack

    async def post_message(request: Request) -> Response:
        fields = await _slack_fields(request)
        with world.locked():
            return json_response(state.post(fields))

    async def update(request: Request) -> Response:
        fields = await _slack_fields(request)
        with world.locked():
            return json_response(state.update(fields))

    async def history(request: Request) -> Response:
        fields = await _slack_fields(request)
        with world.locked():
            channel = state.resolve_channel(fields.get("channel"))
            if channel is None:
                return json_response({"ok": False, "error": "channel_not_found"})
            messages = [
                {k: v for k, v in m.items() if k != "channel"}
                for m in reversed(state.messages)
                if m["channel"] == channel
            ]
        limit = int(fields.get("limit") or 100)
        return json_response(
            {"ok": True, "messages": messages[:limit], "has_more": len(messages) > limit, "pin_count": 0}
        )

    async def auth_test(request: Request) -> Response:
        spec = state.spec
        return json_response(
            {
                "ok": True,
                "url": "https://acme.slack.com/",
                "team": "acme",
                "user": "firstline",
                "team_id": spec.team_id,
                "user_id": spec.bot_user_id,
                "bot_id": spec.bot_id,
                "is_enterprise_install": False,
            }
        )

    async def unknown(request: Request) -> Response:
        return json_response({"ok": False, "error": "unknown_method"}, 404)

    both = ["GET", "POST"]
    return [
        Route("/chat.postMessage", post_message, methods=["POST"]),
        Route("/chat.update", update, methods=["POST"]),
        Route("/conversations.history", history, methods=both),
        Route("/auth.test", auth_test, methods=both),
        Route("/{method:path}", unknown, methods=both),
    ]


# ----------------------------------------------------------------------------------------- PagerDuty


def _list_param(request: Request, name: str) -> list[str]:
    return request.query_params.getlist(f"{name}[]") + request.query_params.getlist(name)


def pagerduty_routes(world: World) -> list[BaseRoute]:
    state = world.pagerduty

    guarded = answering(PagerDutyError, lambda exc: json_response(exc.body(), exc.status))

    def paginated(request: Request, key: str, items: list[Any]) -> Response:
        q = request.query_params
        try:
            limit = int_param(q, "limit", 25, low=1, high=100)
            offset = int_param(q, "offset", 0, low=0, high=10_000)
        except ValueError as exc:
            raise PagerDutyError(400, "Invalid Input Provided", 2001, [str(exc)]) from exc
        page = items[offset : offset + limit]
        total = len(items) if q.get("total") == "true" else None
        return json_response(
            {key: page, "limit": limit, "offset": offset, "more": offset + limit < len(items), "total": total}
        )

    def time_param(request: Request, name: str) -> float | None:
        raw = request.query_params.get(name)
        if not raw:
            return None
        try:
            return parse_unix_or_rfc3339(raw)
        except ValueError as exc:
            raise PagerDutyError(400, "Invalid Input Provided", 2001, [f"{name} is not a valid date: {raw!r}"]) from exc

    async def incidents(request: Request) -> Response:
        if request.method == "POST":
            body = await json_body(request)
            with world.locked():
                return json_response({"incident": state.create(body, request.headers.get("from"))}, 201)
        with world.locked():
            found = state.list_incidents(
                statuses=_list_param(request, "statuses"),
                service_ids=_list_param(request, "service_ids"),
                since=time_param(request, "since"),
                until=time_param(request, "until"),
            )
        return paginated(request, "incidents", found)

    async def incident(request: Request) -> Response:
        incident_id = request.path_params["id"]
        if request.method == "PUT":
            body = await json_body(request)
            with world.locked():
                return json_response({"incident": state.update(incident_id, body)})
        with world.locked():
            return json_response({"incident": state.render(state.incident(incident_id))})

    async def notes(request: Request) -> Response:
        incident_id = request.path_params["id"]
        if request.method == "POST":
            body = await json_body(request)
            with world.locked():
                return json_response({"note": state.add_note(incident_id, body, request.headers.get("from"))}, 201)
        with world.locked():
            return json_response({"notes": list(state.incident(incident_id).notes)})

    async def oncalls(request: Request) -> Response:
        with world.locked():
            found = state.oncalls(
                policy_ids=_list_param(request, "escalation_policy_ids"),
                schedule_ids=_list_param(request, "schedule_ids"),
                user_ids=_list_param(request, "user_ids"),
            )
        return paginated(request, "oncalls", found)

    async def abilities(request: Request) -> Response:
        # Any valid key may read it; firstline's connectivity check uses it.
        return json_response({"abilities": ["teams", "read_only_users", "urgencies"]})

    async def unknown(request: Request) -> Response:
        raise PagerDutyError(404, "Not Found", 2100)

    return [
        Route("/incidents", guarded(incidents), methods=["GET", "POST"]),
        Route("/incidents/{id}", guarded(incident), methods=["GET", "PUT"]),
        Route("/incidents/{id}/notes", guarded(notes), methods=["GET", "POST"]),
        Route("/oncalls", guarded(oncalls), methods=["GET"]),
        Route("/abilities", abilities, methods=["GET"]),
        Route("/{path:path}", guarded(unknown), methods=["GET", "POST", "PUT", "DELETE"]),
    ]


def pagerduty_events_routes(world: World) -> list[BaseRoute]:
    """PagerDuty's Events API v2: ``POST /v2/enqueue`` (like https://events.pagerduty.com)."""
    state = world.pagerduty

    async def enqueue(request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return json_response(
                {"status": "invalid event", "message": "Event object is invalid", "errors": ["not JSON"]}, 400
            )
        with world.locked():
            status, answer = state.enqueue(body)
        return json_response(answer, status)

    return [Route("/v2/enqueue", enqueue, methods=["POST"])]
