"""One Starlette app serving every simulated API on loopback, and `start_sim` to run it.

Mount points (each answers the real system's paths below it)::

    /prometheus   Prometheus HTTP API         (base_url for the prometheus adapter)
    /loki         Loki                        (paths /loki/api/v1/..., as on a Loki server)
    /kubernetes   Kubernetes API server
    /github       GitHub REST API             (like https://api.github.com)
    /statuspage   Statuspage API              (like https://api.statuspage.io/v1)
    /slack        Slack Web API               (like https://slack.com/api)
    /pagerduty    PagerDuty REST API          (like https://api.pagerduty.com)
    /pagerduty-events  PagerDuty Events API v2 (like https://events.pagerduty.com): pages open incidents
    /elasticsearch  Elasticsearch ``_search`` over the same logs as Loki, index ``logs-<app>``
    /providers/ID third parties' public status pages (``/api/v2/summary.json``..., as on the page)
    /_sim         state, clock and alert payloads for tests and scoring

From synchronous code (tests, the CLI, the eval runner)::

    with start_sim(load_scenario("evals/scenarios/checkout-migration.yaml")) as sim:
        config["tools"] = sim.tools_config()     # adapters pointed at the simulator
        sim.write_catalog(state_dir / "catalog.yaml")   # and knowledge.catalog at its service catalog
        payload = sim.world.alertmanager_payload("CheckoutHighErrorRate")
        ...
        sim.world.applied_actions                # what the agents did

uvicorn runs in a daemon thread; `RunningSim.stop` (or leaving the ``with`` block) shuts it down.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from evals.sim.apis import comms, control, elasticsearch, github, kubernetes, loki, prometheus, providers
from evals.sim.catalog import catalog_yaml, events_key_variable, events_tool_name, provider_tool_name
from evals.sim.library import load_scenario
from evals.sim.scenario import Scenario
from evals.sim.timeutil import SimClock
from evals.sim.world import World

INTEGRATIONS = ("prometheus", "loki", "kubernetes", "github", "statuspage", "slack", "pagerduty", "elasticsearch")
STARTUP_TIMEOUT_SECONDS = 10.0


def create_app(world: World) -> Starlette:
    """The ASGI app for ``world`` (tests drive it with ``httpx.ASGITransport``, no socket needed)."""
    return Starlette(
        routes=[
            Mount("/prometheus", routes=prometheus.routes(world)),
            Mount("/loki", routes=loki.routes(world)),
            Mount("/kubernetes", routes=kubernetes.routes(world)),
            Mount("/github", routes=github.routes(world)),
            Mount("/statuspage", routes=comms.statuspage_routes(world)),
            Mount("/slack", routes=comms.slack_routes(world)),
            Mount("/pagerduty", routes=comms.pagerduty_routes(world)),
            Mount("/pagerduty-events", routes=comms.pagerduty_events_routes(world)),
            Mount("/elasticsearch", routes=elasticsearch.routes(world)),
            Mount("/providers", routes=providers.routes(world)),
            Mount("/_sim", routes=control.routes(world)),
        ]
    )


class SimStartError(RuntimeError):
    """The server did not come up (port taken, bind refused...)."""


class RunningSim:
    """A simulator served by uvicorn in a background thread."""

    def __init__(self, world: World, server: uvicorn.Server, thread: threading.Thread, host: str, port: int) -> None:
        self.world = world
        self._server = server
        self._thread = thread
        self.host = host
        self.port = port
        self.base_url = f"http://{host}:{port}"
        self.urls = {name: f"{self.base_url}/{name}" for name in INTEGRATIONS}

    def tools_config(self, kinds: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """The ``tools:`` mapping of config.yaml with every adapter pointed at this simulator.

        ``kinds`` keeps only those integrations, e.g. the adapter kinds the tool registry knows
        (``tools_config(kinds=available_kinds())``): a registry refuses a kind it has no adapter for.
        """
        wanted = set(self.urls if kinds is None else kinds)
        config: dict[str, dict[str, Any]] = {
            name: {"kind": name, "base_url": url} for name, url in self.urls.items() if name in wanted
        }
        if "statuspage" in config and self.world.statuspage.page_id is not None:
            config["statuspage"]["page_id"] = self.world.statuspage.page_id
        if "elasticsearch" in config:
            config["elasticsearch"]["default_index"] = "logs-*"
        if kinds is None or "pagerduty_events" in wanted:
            # One Events API v2 integration per PagerDuty service, named as the catalog names it. Its routing
            # key is the simulator's own (not a secret: it opens nothing outside this loopback server); the
            # adapter reads keys from the environment only, so the key is put there under its own variable.
            for service_id in self.world.pagerduty.services:
                variable = events_key_variable(service_id)
                os.environ[variable] = self.world.pagerduty.routing_key(service_id)
                config[events_tool_name(service_id)] = {
                    "kind": "pagerduty_events",
                    "base_url": f"{self.base_url}/pagerduty-events",
                    "routing_key_env": variable,
                }
        if kinds is None or "provider_status" in wanted:
            # One read-only instance per third party's public page, named as the catalog names it.
            for page in self.world.scenario.integrations.providers:
                config[provider_tool_name(page.id)] = {
                    "kind": "provider_status",
                    "base_url": f"{self.base_url}/providers/{page.id}",
                }
        return config

    def catalog_yaml(self) -> str:
        """The scenario's service catalog as YAML (`evals.sim.catalog`): write it to a file and point
        ``knowledge.catalog`` at it, so the agents see this scenario's services, SLIs and log selectors."""
        return catalog_yaml(self.world.scenario)

    def write_catalog(self, path: Path) -> Path:
        """Write `catalog_yaml` to ``path`` (parents created) and return the path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.catalog_yaml(), encoding="utf-8")
        return path

    def alertmanager_payload(self, alert_name: str) -> dict[str, Any]:
        """The alert's webhook payload with this server's URLs in ``externalURL``/``generatorURL``."""
        with self.world.locked():
            return self.world.alertmanager_payload(
                alert_name, external_url=f"{self.base_url}/alertmanager", prometheus_url=self.urls["prometheus"]
            )

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> RunningSim:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> RunningSim:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.stop)  # joining the server thread blocks; keep the event loop free


def start_sim(
    scenario: Scenario | str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    anchor: datetime | None = None,
    clock: SimClock | None = None,
) -> RunningSim:
    """Build the world for ``scenario`` (a `Scenario`, a library name or a YAML path) and serve it;
    returns once the socket accepts connections.

    ``port=0`` picks a free port (read it from ``.port`` or ``.base_url``). ``anchor`` is the alert
    time (the scenario's, or now, by default); ``clock`` lets a caller freeze or fast-forward time.
    Raises `SimStartError` if the server does not start within 10 seconds.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    world = World(scenario, anchor=anchor, clock=clock)
    config = uvicorn.Config(
        create_app(world), host=host, port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"firstline-sim-{scenario.name}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise SimStartError(f"the simulator for {scenario.name!r} did not start on {host}:{port}")
        time.sleep(0.01)
    bound_port = server.servers[0].sockets[0].getsockname()[1]
    return RunningSim(world, server, thread, host, bound_port)
