"""The simulator's own endpoints (``/_sim``), for tests, the demo and eval scoring.

- ``GET /state``: applied actions, faults, deployments, status page incidents, Slack messages,
  PagerDuty incidents (`World.snapshot`).
- ``GET /clock``: anchor and now. ``POST /clock`` with ``{"advance": "10m"}`` (or
  ``{"advance_seconds": 600}``) moves the simulated time forward.
- ``GET /alerts/{name}``: the Alertmanager webhook payload of a scenario alert, with real times
  (``?receiver=`` and ``?external_url=`` optional).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import json_body, json_response, mount_url
from evals.sim.timeutil import parse_offset, rfc3339
from evals.sim.world import World


def routes(world: World) -> list[BaseRoute]:
    def clock_body() -> dict[str, Any]:
        now = world.now_ts()
        return {
            "anchor": rfc3339(world.anchor),
            "now": rfc3339(now),
            "seconds_since_anchor": round(now - world.anchor, 3),
        }

    async def state(request: Request) -> Response:
        return json_response(world.snapshot())

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            body = await json_body(request)
            try:
                if not isinstance(body, dict):
                    raise ValueError('send {"advance": "10m"} or {"advance_seconds": 600}')
                if "advance_seconds" in body:
                    seconds = float(body["advance_seconds"])
                elif "advance" in body:
                    seconds = parse_offset(body["advance"])
                else:
                    raise ValueError('send {"advance": "10m"} or {"advance_seconds": 600}')
                world.clock.advance(seconds)
            except (TypeError, ValueError) as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(clock_body())

    async def alert(request: Request) -> Response:
        base = mount_url(request).removesuffix("/_sim")
        try:
            with world.locked():
                payload = world.alertmanager_payload(
                    request.path_params["name"],
                    receiver=request.query_params.get("receiver", "firstline"),
                    external_url=request.query_params.get("external_url", f"{base}/alertmanager"),
                    prometheus_url=f"{base}/prometheus",
                )
        except KeyError as exc:
            return json_response({"error": str(exc.args[0])}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 409)
        return json_response(payload)

    return [
        Route("/state", state, methods=["GET"]),
        Route("/clock", clock, methods=["GET", "POST"]),
        Route("/alerts/{name}", alert, methods=["GET"]),
    ]
