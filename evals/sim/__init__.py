"""The simulated environment: scenarios as data, a world that changes when actions run, and the
real APIs (Prometheus, Loki, Kubernetes, GitHub, Statuspage, Slack, PagerDuty) served on loopback.

Start here: `load_scenario` (by library name or path; format in `evals.sim.scenario`), `World` (the engine, `evals.sim.world`),
`start_sim` (the server, `evals.sim.server`).
"""

from evals.sim.library import load_scenario, scenario_names
from evals.sim.scenario import Scenario, ScenarioError
from evals.sim.server import RunningSim, create_app, start_sim
from evals.sim.world import AppliedAction, World

__all__ = [
    "AppliedAction",
    "RunningSim",
    "Scenario",
    "ScenarioError",
    "World",
    "create_app",
    "load_scenario",
    "scenario_names",
    "start_sim",
]
