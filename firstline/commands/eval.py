"""Eval commands: run the scenario library through the real workflow and compare runs."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from firstline.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_common, load, write_json
from firstline.config import FirstlineConfig
from firstline.console import Console

THRESHOLDS = Path(__file__).resolve().parent.parent.parent / "evals" / "thresholds.json"


def runtime_factory(base: FirstlineConfig, *, chat_model: Any = None) -> Any:
    """What the harness calls per case: a runtime pointed at that case's simulator and state dir."""
    from firstline.commands.incidents import sandbox_config
    from firstline.wiring import open_runtime

    @asynccontextmanager
    async def factory(sim: Any, state_dir: Path) -> AsyncIterator[Any]:
        config = sandbox_config(base, sim, state_dir)  # tools, clock and the scenario's own service catalog
        async with open_runtime(config, knowledge=None, chat_model=chat_model) as responder:
            yield responder

    return factory


def price_for(config: FirstlineConfig) -> Any:
    price = config.prices.get(config.llm.model)
    if config.reasoner != "llm" or price is None:
        return lambda tokens: 0.0
    # Usage is not split by prompt/completion in the record; price the total at the mean rate.
    rate = (price.prompt_per_1k + price.completion_per_1k) / 2
    return lambda tokens: round(tokens / 1000 * rate, 6)


async def cmd_eval_run(args: argparse.Namespace, console: Console) -> int:
    from evals.harness.report import write_reports
    from evals.harness.runner import CaseResult, run_suite
    from evals.sim.library import load_library, load_scenario
    from evals.sim.scenario import ScenarioError
    from intake.alertmanager import parse_alertmanager

    base = load(args, required=False)
    transform: Any = None
    if args.rename is not None or args.reseed is not None:
        from evals.sim.rename import rename_scenario
        from evals.sim.reseed import reseed_scenario

        rename, reseed, part = args.rename, args.reseed, args.part

        def transform(document: dict[str, Any]) -> dict[str, Any]:
            # Only the part that runs is transformed (the other is dropped below, unread).
            holdout = "holdout" in (document.get("tags") or [])
            if part != "all" and holdout != (part == "holdout"):
                return document
            if reseed is not None:
                document = reseed_scenario(document, reseed)
            return rename_scenario(document, rename)[0] if rename is not None else document

    try:
        if args.scenario:
            scenarios = [load_scenario(name, transform=transform) for name in args.scenario]
        elif args.suite:
            suite_path = Path(args.suite)
            scenarios = (
                load_library(suite_path, transform=transform)
                if suite_path.is_dir()
                else [load_scenario(args.suite, transform=transform)]
            )
        else:
            scenarios = load_library(transform=transform)
    except ScenarioError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    if args.part != "all":
        from evals.harness.runner import part_of

        scenarios = [s for s in scenarios if part_of(s) == args.part]
    if not scenarios:
        raise CommandError("no scenarios to run" + (f" in part {args.part}" if args.part != "all" else ""), EXIT_USAGE)
    out = Path(args.out)

    def progress(done: int, total: int, name: str, result: CaseResult | None) -> None:
        if result is None:
            return
        verdict = "pass" if result.passed else ("ERROR" if result.error else "fail")
        detail = (
            (result.error or "").splitlines()[0]
            if result.error
            else "; ".join(result.score.problems[:2])
            if result.score
            else ""
        )
        console.progress(
            "eval", f"[{done}/{total}] {name}#{result.repeat}: {verdict} in {result.seconds:.1f}s {detail}"
        )

    console.progress("eval", f"running {len(scenarios)} scenarios x {args.repeat} with the {base.reasoner} reasoner")
    with tempfile.TemporaryDirectory(prefix="firstline-eval-") as work:
        suite = await run_suite(
            scenarios,
            runtime_factory(base),
            parse_alertmanager,
            Path(work),
            repeat=args.repeat,
            concurrency=args.concurrency,
            progress=progress,
            price=price_for(base),
            run_info={
                "reasoner": base.reasoner,
                "model": base.llm.model if base.reasoner == "llm" else None,
                "suite": str(args.suite or "evals/scenarios"),
                "renamed_with_seed": args.rename,
                "reseeded_with": args.reseed,
            },
        )
    results = suite.to_json()
    paths = write_reports(results, out)
    summary = results["summary"]
    parts = results.get("parts", {})
    if len(parts) > 1:  # dev and holdout side by side: the holdout part is the one nobody tuned on
        names = list(parts)
        console.table(
            ["metric", "all", *names],
            [[k, v, *[parts[n].get(k, "") for n in names]] for k, v in summary.items()],
            title="Summary",
        )
    else:
        console.table(["metric", "value"], [[k, v] for k, v in summary.items()], title="Summary")
    console.info("written: " + ", ".join(str(p) for p in paths))
    code = EXIT_OK
    if results["regressions_failed"]:
        console.error(f"regression scenarios failed: {', '.join(results['regressions_failed'])}")
        code = EXIT_FAILED
    if args.check_thresholds:
        failures = check_thresholds(summary, Path(args.check_thresholds), parts=parts)
        for failure in failures:
            console.error(failure)
        if failures:
            code = EXIT_FAILED
        else:
            console.info(f"all thresholds in {args.check_thresholds} met")
    return code


def check_thresholds(
    summary: dict[str, float], path: Path, *, parts: dict[str, dict[str, float]] | None = None
) -> list[str]:
    """Each threshold is ``{"min": x}`` or ``{"max": x}``; returns what is out of bounds.

    ``deterministic`` bounds the tuned part: the dev part when the run has parts (the whole run
    otherwise); ``deterministic_holdout``, when present, bounds the holdout part (a floor against
    regressions measured on it, never a target to tune to)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        floors = {"dev": document["deterministic"], "holdout": document.get("deterministic_holdout", {})}
    except (FileNotFoundError, KeyError, json.JSONDecodeError) as exc:
        raise CommandError(f"thresholds file {path}: {exc}", EXIT_USAGE) from exc
    measured = dict(parts or {}) or {"dev": summary}
    failures = []
    for part, thresholds in floors.items():
        values = measured.get(part)
        if values is None:
            continue  # a run of one part only: the other's floor does not apply
        where = f"{part}: " if parts else ""
        for metric, bound in thresholds.items():
            value = values.get(metric)
            if value is None:
                failures.append(f"{where}{metric}: missing from the summary")
            elif "min" in bound and value < bound["min"]:
                failures.append(f"{where}{metric} = {value} is below the threshold {bound['min']}")
            elif "max" in bound and value > bound["max"]:
                failures.append(f"{where}{metric} = {value} is above the threshold {bound['max']}")
    return failures


def cmd_eval_compare(args: argparse.Namespace, console: Console) -> int:
    from evals.harness.report import common_scenarios, compare

    try:
        a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (args.a, args.b))
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise CommandError(f"cannot read results: {exc}", EXIT_USAGE) from exc
    common, only_a, only_b = common_scenarios(a, b)
    if only_a or only_b:
        console.warn(
            f"the runs cover different scenarios: comparing the {len(common)} they share"
            + (f"; only in A: {', '.join(sorted(only_a))}" if only_a else "")
            + (f"; only in B: {', '.join(sorted(only_b))}" if only_b else "")
        )
    summary_rows, case_rows = compare(a, b)
    console.table(["metric", "A", "B", "delta", ""], summary_rows, title=f"A = {args.a}   B = {args.b}")
    if case_rows:
        console.table(["scenario", "A pass rate", "B pass rate", ""], case_rows, title="Scenarios that changed")
    else:
        console.info("no scenario changed its pass rate")
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    evals = sub.add_parser("eval", help="score the agents on the scenario library, stage by stage")
    evals_sub = evals.add_subparsers(dest="eval_command", metavar="SUBCOMMAND")
    run = evals_sub.add_parser(
        "run",
        help="run scenarios through the real workflow against the simulator and score every stage",
        description="Each scenario is served by the simulator on loopback and worked by the real workflow. "
        "Approvals are answered by an eval policy: approve what the scenario lists as an acceptable remediation, "
        "reject the rest (both recorded). Writes DIR/results.json, DIR/report.md and DIR/report.html.",
    )
    run.add_argument("--suite", metavar="PATH", help="a folder of scenario files, or one file (default: the library)")
    run.add_argument("--scenario", action="append", metavar="NAME", help="run only this library scenario (repeatable)")
    run.add_argument("--reasoner", choices=["deterministic", "llm"], help="override the reasoner in the config")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="run each scenario N times; report pass rates")
    run.add_argument(
        "--part",
        choices=["all", "dev", "holdout"],
        default="all",
        help="the library's dev part (tuned on), its holdout part (scenarios tagged holdout: reported apart, never "
        "tuned on), or all (default; results.json has each part's summary)",
    )
    run.add_argument(
        "--rename",
        type=int,
        metavar="SEED",
        help="replace every service, workload, ConfigMap, node, namespace and repository name with a neutral one "
        "(cedar-opal) throughout each scenario, answer key included: the outcomes must not move, since no answer may "
        "depend on a name (compare with `firstline eval compare`)",
    )
    run.add_argument(
        "--reseed",
        type=int,
        metavar="N",
        help="draw each scenario's noise (telemetry, log values, pod names) from another seed derived from N: "
        "the incident is the same, so the outcomes must not move (an outcome that does rests on one draw)",
    )
    run.add_argument("--concurrency", type=int, default=2, metavar="N", help="scenarios in flight at once (default 2)")
    run.add_argument("--out", default="out/eval", metavar="DIR", help="where to write the reports (default out/eval)")
    run.add_argument(
        "--check-thresholds",
        nargs="?",
        const=str(THRESHOLDS),
        metavar="PATH",
        help=f"fail when a summary metric is out of bounds (default file: {THRESHOLDS.name})",
    )
    add_common(run)
    cmp = evals_sub.add_parser("compare", help="two runs side by side, with the differences that matter")
    cmp.add_argument("a", metavar="A/results.json")
    cmp.add_argument("b", metavar="B/results.json")
    add_common(cmp)
    seq = evals_sub.add_parser(
        "sequence",
        help="the learning loop: one fault week after week (recurrence, track record, promotion, auto, demotion)",
        description="Play SCENARIO four times a week apart in one state directory and score the learning loop: the "
        "second time recognised as a recurrence, the fix's action class recommended for auto, nothing promoted "
        "without a person, the third time run without waiting and verified, a failing fourth time demoting the rule.",
    )
    seq.add_argument("--scenario", default="checkout-migration", metavar="NAME", help="library scenario to repeat")
    seq.add_argument("--alert", default="CheckoutHighErrorRate", metavar="NAME", help="its alert to send")
    seq.add_argument("--state", type=Path, metavar="DIR", help="state directory (default: a new temporary one)")
    seq.add_argument("--json", type=Path, metavar="PATH", help="write the scored report as JSON")
    add_common(seq)
    return {"eval run": cmd_eval_run, "eval compare": cmd_eval_compare, "eval sequence": cmd_eval_sequence}


async def cmd_eval_sequence(args: argparse.Namespace, console: Console) -> int:
    import yaml

    from firstline.learning_eval import run_sequence

    config = load(args, required=False)
    state = args.state or Path(tempfile.mkdtemp(prefix="firstline-sequence-"))
    report = await run_sequence(
        config, state, scenario=args.scenario, alert_name=args.alert, progress=lambda t: console.progress("eval", t)
    )
    console.table(
        ["week", "incident", "status", "waited", "TTM min", "recurrence", "demoted"],
        [
            [
                o.week,
                o.incident_id,
                o.status,
                o.waited_for_human,
                o.time_to_mitigate_minutes,
                bool(o.recurrence_note),
                o.demoted,
            ]
            for o in report.occurrences
        ],
        title=f"learning sequence: {report.scenario}",
        keep=("incident",),
    )
    for check in report.checks:
        console.info(f"{'PASS' if check.passed else 'FAIL'} {check.name}: {check.detail}")
    view = state / "config.yaml"
    view.write_text(yaml.safe_dump(report.config, sort_keys=False), encoding="utf-8")
    console.info(
        f"score {report.score} ({sum(c.passed for c in report.checks)} of {len(report.checks)}); state in {state}; "
        f"look at it with: firstline --config {view} autonomy (or insights)"
    )
    if args.json:
        write_json(args.json, {**report.model_dump(mode="json", exclude={"config"}), "score": report.score})
    return EXIT_OK if report.score == 1.0 else EXIT_FAILED
