"""The crash matrix's child: a firstline run that kills itself with SIGKILL at a chosen point.

    python tests/firstline/crash_child.py CONFIG.yaml start ALERT.json --kill-at node:3
    python tests/firstline/crash_child.py CONFIG.yaml approve INCIDENT ACTION --kill-at after_call

Kill points: ``node:N`` (right after the N-th step of the graph completes), and inside the execution of
an approved action: ``before_call`` (claimed in the ledger, call not sent), ``after_call`` (the call
ran, its result not yet recorded), ``after_record`` (recorded, the step not yet checkpointed).
Nothing here is production code: the hooks wrap the runtime's objects from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from agents.state import Alert
from firstline.config import load_config
from firstline.wiring import open_runtime

EXECUTE_POINTS = ("before_call", "after_call", "after_record")


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def install_hooks(responder: Any, kill_at: str) -> None:
    if kill_at in EXECUTE_POINTS:
        registry, ledger = responder.ctx.registry, responder.ctx.ledger
        real_invoke, real_finish = registry.invoke, ledger.finish

        async def invoke(tool_id: str, args: Any, *, grant: Any = None, budget: Any = "default") -> Any:
            if grant is not None and kill_at == "before_call":
                die()
            result = await real_invoke(tool_id, args, grant=grant, budget=budget)
            if grant is not None and kill_at == "after_call":
                die()
            return result

        def finish(*args: Any, **kwargs: Any) -> Any:
            record = real_finish(*args, **kwargs)
            if kill_at == "after_record":
                die()
            return record

        registry.invoke, ledger.finish = invoke, finish
    elif kill_at.startswith("node:"):
        steps = int(kill_at.split(":", 1)[1])
        graph = responder.graph

        async def ainvoke(payload: Any, config: Any, **kwargs: Any) -> None:
            done = 0
            async for _ in graph.astream(payload, config, stream_mode="updates", **kwargs):
                done += 1
                if done == steps:
                    die()

        responder.graph = type("Killing", (), {"ainvoke": staticmethod(ainvoke), "aget_state": graph.aget_state})()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("mode", choices=["start", "approve"])
    parser.add_argument("target", nargs="+")
    parser.add_argument("--kill-at", default="none")
    args = parser.parse_args(argv)
    async with open_runtime(load_config(args.config), knowledge=None) as responder:
        install_hooks(responder, args.kill_at)
        if args.mode == "start":
            outcome = await responder.start(Alert.model_validate_json(Path(args.target[0]).read_text()))
            print(f"finished: {outcome.state.status}")
        else:
            incident, action = args.target
            decided = await responder.decide(incident, action, "approved", "crash-matrix")
            print(f"finished: {decided.status}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
