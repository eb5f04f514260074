"""Third parties' public status pages (Statuspage's public API), one per provider of the scenario.

Paths, below ``/providers/{id}`` (as below a page's own address, e.g. ``https://www.githubstatus.com``)::

    /api/v2/summary.json               page, components, unresolved incidents, overall status
    /api/v2/status.json                page and overall status
    /api/v2/components.json            page and components
    /api/v2/incidents.json             the 50 most recent incidents
    /api/v2/incidents/unresolved.json  incidents not yet resolved

Public, read-only, no authentication; an unknown page or path is 404 ``{"error": "Not found"}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from evals.sim.apis.common import answering, json_response
from evals.sim.providers import ProviderError
from evals.sim.world import World

DOCUMENTS = ("summary", "status", "components", "incidents", "incidents/unresolved")


def routes(world: World) -> list[BaseRoute]:
    pages = world.providers
    guarded = answering(ProviderError, lambda exc: json_response(exc.body(), exc.status))

    async def document(request: Request) -> Response:
        name = request.path_params["document"]
        if name not in DOCUMENTS:
            raise ProviderError(404, "Not found")
        with world.locked():
            return json_response(pages.document(request.path_params["provider"], name))

    return [Route("/{provider}/api/v2/{document:path}.json", guarded(document), methods=["GET"])]
