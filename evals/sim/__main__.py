"""Command line for the simulator.

python -m evals.sim serve checkout-migration [--port 8321]      (a library name or a YAML path)
    Serve the scenario on loopback; prints the tools: mapping for config.yaml and writes the
    scenario's service catalog (for knowledge.catalog). Ctrl-C stops it.
python -m evals.sim alert evals/scenarios/checkout-migration.yaml CheckoutHighErrorRate [--anchor 2026-11-20T19:42:00Z]
    Print the Alertmanager webhook payload of a scenario alert (anchored now unless --anchor).
python -m evals.sim schema
    Regenerate evals/sim/schema.json from the scenario model.
python -m evals.sim check evals/scenarios/*.yaml
    Validate scenario files; exit status 1 if any is invalid.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from evals.sim.library import load_scenario
from evals.sim.scenario import ScenarioError, write_schema
from evals.sim.timeutil import SimClock, parse_rfc3339


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.sim", description="The firstline simulated environment.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a scenario's APIs on loopback")
    serve.add_argument("scenario")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    alert = commands.add_parser("alert", help="print an alert's Alertmanager webhook payload")
    alert.add_argument("scenario")
    alert.add_argument("alert")
    alert.add_argument("--anchor", help="the alert time (RFC3339); now by default")
    alert.add_argument("--external-url", default="http://alertmanager:9093")
    alert.add_argument("--prometheus-url", default="http://prometheus:9090")
    commands.add_parser("schema", help="regenerate evals/sim/schema.json")
    check = commands.add_parser("check", help="validate scenario files")
    check.add_argument("scenarios", nargs="+")
    args = parser.parse_args(argv)

    if args.command == "schema":
        print(f"wrote {write_schema()}")
        return 0
    if args.command == "check":
        failed = 0
        for path in args.scenarios:
            try:
                load_scenario(path)
                print(f"ok      {path}")
            except ScenarioError as exc:
                failed += 1
                print(f"invalid {exc}", file=sys.stderr)
        return 1 if failed else 0
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "alert":
        from evals.sim.world import World

        anchor = parse_rfc3339(args.anchor) if args.anchor else None
        world = World(scenario, anchor=anchor, clock=SimClock.frozen(anchor) if anchor else None)
        try:
            payload = world.alertmanager_payload(
                args.alert, external_url=args.external_url, prometheus_url=args.prometheus_url
            )
        except (KeyError, ValueError) as exc:
            print(exc.args[0] if exc.args else exc, file=sys.stderr)
            return 2
        print(json.dumps(payload, indent=2))
        return 0

    from evals.sim.server import start_sim

    sim = start_sim(scenario, host=args.host, port=args.port)
    print(f"serving scenario {scenario.name!r} at {sim.base_url} (alert time {sim.world.anchor_time.isoformat()})")
    catalog = sim.write_catalog(Path(tempfile.mkdtemp(prefix="firstline-sim-")) / "catalog.yaml")
    print(json.dumps({"tools": sim.tools_config(), "knowledge": {"catalog": str(catalog)}}, indent=2))
    try:
        while sim.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
