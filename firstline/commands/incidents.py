"""Incident commands: demo, respond, approvals, approve, reject, incidents, sandbox."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from agents.approval import ApprovalAnswer, ApprovalRequest
from agents.runner import (
    Decider,
    IncidentIndex,
    IncidentNotFound,
    Responder,
    RunOutcome,
    answer_approvals,
)
from firstline.commands import (
    EXIT_FAILED,
    EXIT_NEEDS_HUMAN,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    add_common,
    load,
    write_json,
)
from firstline.config import FirstlineConfig
from firstline.console import Console, one_line
from firstline.wiring import open_runtime
from intake.alertmanager import AlertPayloadError, parse_alertmanager

if TYPE_CHECKING:
    from evals.sim.scenario import Scenario


def approval_mode(requested: str | None, console: Console, *, default_without_terminal: str | None) -> str:
    if requested is not None:
        return requested
    if console.interactive:
        return "prompt"
    if default_without_terminal is None:
        raise CommandError(
            "no terminal to ask for approval: pass --approve auto (approve on your behalf) or --approve reject",
            EXIT_USAGE,
        )
    return default_without_terminal


def _scenario_or_usage_error(name_or_path: str) -> Any:
    """A library scenario by name, or a scenario file; a bad name or file is a usage error (exit 2)."""
    from evals.sim.library import load_scenario
    from evals.sim.scenario import ScenarioError

    try:
        return load_scenario(name_or_path)
    except ScenarioError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def _decider_name(text: str) -> str:
    """``--by``: who decides, recorded in the ledger; an empty or blank name is refused (exit 2)."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("--by needs the name of who decides (it is recorded)")
    return name


def terminal_decider(mode: str, console: Console) -> Decider:
    """How the command line decides: ask at the terminal (``prompt``), approve on the operator's
    behalf (``auto``), or reject (``reject``). Each shows the request first."""
    user = getpass.getuser()

    def decide(request: ApprovalRequest) -> ApprovalAnswer:
        show_request(request, console)
        if mode == "prompt":
            try:
                answer = console.ask("Approve this action? [y/N] ").strip().lower()
            except EOFError:  # Ctrl-D: no answer is not a rejection; nothing is recorded and the incident waits
                raise CommandError(
                    f"no answer (end of input): nothing was recorded and {request.incident_id} keeps waiting; decide "
                    f"later with `firstline approve|reject {request.incident_id} {request.action_id} --by NAME`",
                    EXIT_NEEDS_HUMAN,
                ) from None
            approved = answer in ("y", "yes")
            try:
                by = console.ask(f"Your name [{user}]: ").strip() or user
            except EOFError:
                by = user
            return ApprovalAnswer(
                decision="approved" if approved else "rejected",
                by=by,
                comment="approved at the terminal" if approved else "rejected at the terminal",
            )
        if mode == "auto":
            by = f"{user} (via --approve auto)"
            console.info(f"--approve auto: approving on the operator's behalf, recorded as {by!r}")
            return ApprovalAnswer(
                decision="approved", by=by, comment="auto-approved on the operator's behalf by --approve auto"
            )
        return ApprovalAnswer(
            decision="rejected", by=f"{user} (via --approve reject)", comment="rejected by --approve reject"
        )

    return decide


async def answer_gate(responder: Responder, outcome: RunOutcome, mode: str, console: Console) -> RunOutcome:
    """Answer approval requests per the mode until the incident no longer waits (or mode is wait)."""
    if mode == "wait":
        return outcome
    return (await answer_approvals(responder, outcome, terminal_decider(mode, console))).outcome


def show_request(request: ApprovalRequest, console: Console) -> None:
    console.heading(f"Approval needed for incident {request.incident_id}: {request.title}")
    console.info(f"  action:       {request.action_id}  ({request.tool} {json.dumps(request.args)})")
    console.info(f"  why:          {one_line(request.rationale)}")
    console.info(f"  risk:         {request.risk}")
    console.info(f"  blast radius: {request.blast_radius}")
    console.info(f"  undo:         {request.undo}")
    console.info(f"  policy:       {request.policy_reason}")
    for line in request.evidence[:6]:
        console.info(f"  evidence:     {one_line(line, 150)}")


def summarize(outcome: RunOutcome, console: Console) -> None:
    record = outcome.record()
    console.heading(f"Incident {record['id']}: {record['status']} ({record['severity']}, {record['service']})")
    diagnosis = record.get("diagnosis")
    if diagnosis:
        console.info(f"  diagnosis: {one_line(diagnosis['root_cause'])} (confidence {diagnosis['confidence']:.0%})")
        for item in diagnosis["evidence"][:6]:
            console.info(f"    - [{item['source']}] {one_line(item['observation'], 150)}")
        for item in diagnosis["ruled_out"][:4]:
            console.info(f"    ruled out: {one_line(item['what'] + ': ' + item['why'], 150)}")
    for action in record["actions"]:
        if action["kind"] == "remediation":
            who = f" by {action['approval']['by']}" if action.get("approval") else ""
            console.info(f"  action {action['id']}: {action['title']} -> {action['status']}{who}")
    if outcome.waiting_for:
        request = outcome.waiting_for
        console.info(
            f"  waiting for approval: firstline approve {request.incident_id} {request.action_id} --by NAME"
            f"  (or firstline reject ...)"
        )


def exit_code_for(outcome: RunOutcome) -> int:
    status = outcome.state.status
    if status in ("resolved", "mitigated"):
        return EXIT_OK
    if status == "awaiting_approval":
        return EXIT_OK
    return EXIT_NEEDS_HUMAN


def write_record(path: Path | None, outcome: RunOutcome, console: Console) -> None:
    if path is None:
        return
    write_json(path, outcome.record())
    if str(path) != "-":
        console.info(f"incident record written to {path}")


# -- demo and sandbox ---------------------------------------------------------------------------


def sandbox_config(base: FirstlineConfig, sim: Any, state_dir: Path) -> FirstlineConfig:
    """The base configuration pointed at a running sandbox (tools, clock, and the scenario's service
    catalog, written to ``state_dir/catalog.yaml``), state under ``state_dir``."""
    from firstline.config import ClockSettings
    from tools.registry import available_kinds

    tools = sim.tools_config(kinds=set(available_kinds()))
    if "page_id" not in tools.get("statuspage", {"page_id": None}):
        tools.pop("statuspage")  # the scenario has no status page: there is nothing to point at
    storage = base.storage.model_copy(
        update={
            "checkpoints": state_dir / "checkpoints.sqlite",
            "ledger": state_dir / "ledger.sqlite",
            "incidents": state_dir / "incidents.sqlite",
        }
    )
    catalog = sim.write_catalog(state_dir / "catalog.yaml")
    knowledge = base.knowledge.model_copy(
        update={
            "catalog": catalog,
            "chroma": base.knowledge.chroma.model_copy(update={"mode": "embedded", "path": state_dir / "chroma"}),
        }
    )
    clock = ClockSettings(kind="sandbox", url=f"{sim.base_url}/_sim")
    # A sandbox's invented incidents may be approved with --by NAME (as well as a token or the console's
    # users); its users, votes and audit stay beside its state, never in the real .firstline/.
    approvals = base.approvals.model_copy(
        update={
            "database": state_dir / "approvals.sqlite",
            "cli_identity": [*base.approvals.cli_identity, "by"]
            if "by" not in base.approvals.cli_identity
            else base.approvals.cli_identity,
        }
    )
    # Earned autonomy promoted in a sandbox stays in the sandbox too, and so do the alerts `firstline
    # serve` receives for it (its inbox, runs and dead letters).
    policy = base.policy.model_copy(update={"earned_file": state_dir / "earned-autonomy.yaml"})
    intake = base.intake.model_copy(update={"inbox": state_dir / "intake.sqlite"})
    return base.model_copy(
        update={
            "tools": tools,
            "storage": storage,
            "knowledge": knowledge,
            "clock": clock,
            "approvals": approvals,
            "policy": policy,
            "intake": intake,
        }
    )


def ingest_examples(config: FirstlineConfig, console: Console) -> None:
    from firstline.knowledge_wiring import ingest

    report = ingest(config.knowledge, config.knowledge.paths, progress=None)
    console.progress("system", f"knowledge: {report.summary()}")


async def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from evals.sim.server import start_sim

    mode = approval_mode(args.approve, console, default_without_terminal=None)
    base = load(args, required=False)
    scenario = _scenario_or_usage_error(args.scenario)
    state_dir = Path(tempfile.mkdtemp(prefix="firstline-demo-"))
    with start_sim(scenario) as sim:
        config = sandbox_config(base, sim, state_dir)
        console.progress("system", f"simulated environment for scenario {scenario.name!r} on {sim.base_url}")
        ingest_examples(config, console)
        fired = [alert for alert in scenario.alerts if sim.world.at(alert.fires_at) <= sim.world.now_ts()]
        alerts = [
            a
            for alert in fired
            for a in parse_alertmanager(sim.alertmanager_payload(alert.name))
            if a.status == "firing"
        ]
        if not alerts:
            console.info(f"scenario {scenario.name!r} has no firing alert at its start; nothing to respond to")
            return EXIT_OK
        console.progress("system", f"alert fired: {alerts[0].title} ({alerts[0].service}, {alerts[0].severity})")
        async with open_runtime(config, progress=console.progress) as responder:
            outcome = await responder.start(alerts[0])
            outcome = await answer_gate(responder, outcome, mode, console)
        summarize(outcome, console)
        show_answer_key(scenario, console)
        write_record(args.json, outcome, console)
        console.info(f"state kept in {state_dir}")
    return exit_code_for(outcome)


def show_answer_key(scenario: Scenario, console: Console) -> None:
    """What the scenario expects, to compare with what the agents concluded."""
    expected = scenario.expected
    root = expected.root_cause
    cause = f"{root.category} on {root.entity}" + (f" ({root.change_id})" if root.change_id else "") if root else "none"
    fixes = (
        ", ".join(f"{a.tool} {json.dumps(a.model_dump(mode='json')['args'])}" for a in expected.acceptable_remediations)
        or "none"
    )
    console.info(
        f"  scenario expects: {'an incident' if expected.incident else 'no incident'}"
        f"{f' ({expected.severity})' if expected.severity else ''}; root cause {cause}; "
        f"resolution {expected.resolution}; acceptable fixes: {fixes}"
    )


def cmd_sandbox_run(args: argparse.Namespace, console: Console) -> int:
    from evals.sim.server import start_sim

    scenario = _scenario_or_usage_error(args.scenario)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with start_sim(scenario, port=args.port) as sim:
        console.info(f"scenario {scenario.name!r} served on {sim.base_url}")
        for name, url in sim.urls.items():
            console.info(f"  {name:<11} {url}")
        if args.write_config:
            path: Path = args.write_config.resolve()
            base = load(args, required=False)
            # The sandbox's incidents, ledger and memory live apart from the real state folder (.firstline/), so
            # invented incidents never come back as "past incidents" of a real run.
            state_dir = (args.state or path.with_name(f"{path.stem}-state")).resolve()
            config = sandbox_config(base, sim, state_dir)
            data = json.loads(config.model_dump_json(exclude_defaults=False))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(
                "# Written by `firstline sandbox run`: adapters point at the simulated environment.\n"
                + yaml.safe_dump(data, sort_keys=False),
                encoding="utf-8",
            )
            console.info(
                f"config written to {path} (service catalog: {config.knowledge.catalog}; state in {state_dir})"
            )
            # The simulated PagerDuty's routing keys are the sandbox's own (they page nothing real), but adapters
            # read keys from the environment only: another process needs them exported to page through it.
            paging = sorted(
                {str(t["routing_key_env"]) for t in config.tools.values() if t.get("kind") == "pagerduty_events"}
            )
            if paging:
                exports = " ".join(f"{name}={os.environ.get(name, '')}" for name in paging)
                console.info(f"to page through the sandbox from another shell: export {exports}")
            ingest_examples(config, console)
        else:
            catalog = sim.write_catalog(Path(tempfile.mkdtemp(prefix="firstline-sandbox-")) / "catalog.yaml")
            from tools.registry import available_kinds

            tools = sim.tools_config(kinds=set(available_kinds()))
            if "page_id" not in tools.get("statuspage", {"page_id": None}):
                tools.pop("statuspage")  # the scenario has no status page: there is nothing to point at
            snippet = {"knowledge": {"catalog": str(catalog)}, "tools": tools}
            console.info("config to point at it (or let --write-config PATH write a whole file):")
            console.info(yaml.safe_dump(snippet, sort_keys=False).rstrip())
        if args.alert_file:
            payload = sim.alertmanager_payload(scenario.alerts[0].name)
            args.alert_file.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
            console.info(f"alert payload written to {args.alert_file}")
        console.info("serving until interrupted (Ctrl-C)")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def cmd_sandbox_list(args: argparse.Namespace, console: Console) -> int:
    from evals.sim.library import library_index

    entries = library_index()
    if args.json:
        write_json(Path("-"), entries)
        return EXIT_OK
    width = max((len(e["name"]) for e in entries), default=8)
    for entry in entries:
        tags = ", ".join(t for t in entry["tags"] if t != entry["difficulty"])
        console.info(
            f"{entry['name']:<{width}}  {entry['difficulty'] or '-':<6}  {entry['category'] or '-':<16}  {tags}"
        )
        console.info(f"{'':<{width}}  {entry['summary']}")
    console.info(
        f"{len(entries)} scenarios; run one with `firstline demo --scenario NAME` or `firstline sandbox run NAME`"
    )
    return EXIT_OK


# -- incidents and approvals ----------------------------------------------------------------------


def read_alert_file(path: Path) -> list[Any]:
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise CommandError(f"alert file {path} does not exist", EXIT_USAGE) from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"alert file {path} is not valid JSON: {exc}", EXIT_USAGE) from exc
    try:
        alerts = [a for a in parse_alertmanager(payload) if a.status == "firing"]
    except AlertPayloadError as exc:
        raise CommandError(f"alert file {path}: {exc}", EXIT_USAGE) from exc
    if not alerts:
        raise CommandError(f"alert file {path}: no firing alerts (all are resolved); nothing to respond to", EXIT_USAGE)
    return alerts


async def cmd_respond(args: argparse.Namespace, console: Console) -> int:
    config = load(args)
    alerts = read_alert_file(args.alert_file)
    mode = approval_mode(args.approve, console, default_without_terminal="wait")
    codes = []
    async with open_runtime(config, progress=console.progress) as responder:
        for alert in alerts:
            outcome = await responder.start(alert)
            outcome = await answer_gate(responder, outcome, mode, console)
            summarize(outcome, console)
            write_record(args.json, outcome, console)
            codes.append(exit_code_for(outcome))
    return max(codes)


def cmd_approvals_list(args: argparse.Namespace, console: Console) -> int:
    config = load(args)
    index = IncidentIndex(config.storage.where(config.storage.incidents))
    try:
        pending = index.pending_approvals()
    finally:
        index.close()
    if args.json:
        console.info(json.dumps(pending, indent=2, default=str))
        return EXIT_OK
    if not pending:
        console.info("no actions are waiting for approval")
        return EXIT_OK
    console.table(
        ["incident", "action", "service", "severity", "title", "risk"],
        [[p["incident"], p["id"], p["service"], p["severity"], p["title"], p["risk"]] for p in pending],
        title="Waiting for approval",
        keep=("incident", "action"),
    )
    return EXIT_OK


async def _decide(args: argparse.Namespace, console: Console, decision: Literal["approved", "rejected"]) -> int:
    """Who you are (token, mapped OS user, or --by where allowed), then the same path as the console and Slack:
    the approval rules, the two-person rule, the ledger's first decision, then the incident resumes."""
    import os

    from approvals.service import NotPending
    from firstline.approvals_wiring import IdentityError, cli_identity, open_approvals

    config = load(args)
    async with open_runtime(config, progress=console.progress) as responder:
        async with open_approvals(config, responder) as approvals:
            try:
                user = cli_identity(config.approvals, approvals.users, args.by, os.environ)
            except IdentityError as exc:
                raise CommandError(str(exc), EXIT_USAGE) from exc
            try:
                result = await approvals.service.vote(
                    args.incident, args.action, user, decision, channel="cli", comment=args.comment
                )
            except (IncidentNotFound, NotPending) as exc:  # a wrong id or an action not waiting: bad input
                raise CommandError(str(exc), EXIT_USAGE) from exc
            if result.status == "already_decided":
                # Decided before; if the run that followed was cut short, finish it now.
                resumed = await responder.resume(args.incident)
                console.info(result.message + ("; nothing was executed" if resumed.status != "resumed" else ""))
                if resumed.status == "resumed":
                    summarize(resumed.run, console)
                    return exit_code_for(resumed.run)
                return EXIT_OK
            if not result.decided:
                console.info(f"{result.status}: {result.message}")
                return EXIT_NEEDS_HUMAN if result.status == "waiting" else EXIT_FAILED
            run = await approvals.service.apply(args.incident, args.action)
    summarize(run, console)
    return exit_code_for(run)


async def cmd_approve(args: argparse.Namespace, console: Console) -> int:
    return await _decide(args, console, "approved")


async def cmd_reject(args: argparse.Namespace, console: Console) -> int:
    return await _decide(args, console, "rejected")


async def cmd_incidents_resume(args: argparse.Namespace, console: Console) -> int:
    """Continue an incident from its last checkpoint (after a crash); never repeats an executed action."""
    config = load(args)
    async with open_runtime(config, progress=console.progress) as responder:
        try:
            resumed = await responder.resume(args.incident)
        except IncidentNotFound as exc:
            raise CommandError(str(exc)) from exc
    if resumed.status == "waiting":
        request = resumed.run.waiting_for
        assert request is not None
        console.info(
            f"{args.incident} is waiting for a decision on {request.action_id}, which nobody has recorded; nothing to "
            f"resume (decide with `firstline approve {args.incident} {request.action_id} --by NAME`)"
        )
    elif resumed.status == "finished":
        console.info(f"{args.incident} has finished ({resumed.run.state.status}); nothing to resume")
    summarize(resumed.run, console)
    return exit_code_for(resumed.run)


def cmd_incidents_list(args: argparse.Namespace, console: Console) -> int:
    config = load(args)
    index = IncidentIndex(config.storage.where(config.storage.incidents))
    try:
        rows = index.rows()
    finally:
        index.close()
    if args.json:
        console.info(json.dumps(rows, indent=2))
    elif not rows:
        console.info("no incidents yet")
    else:
        console.table(
            ["id", "status", "severity", "service", "updated", "summary"],
            [
                [r["id"], r["status"], r["severity"], r["service"], r["updated_at"][:19], (r["summary"] or "")[:70]]
                for r in rows
            ],
            keep=("id",),
        )
    return EXIT_OK


def cmd_incidents_show(args: argparse.Namespace, console: Console) -> int:
    config = load(args)
    index = IncidentIndex(config.storage.where(config.storage.incidents))
    try:
        record = index.get(args.incident)
    finally:
        index.close()
    if record is None:
        raise CommandError(f"no incident {args.incident!r}; `firstline incidents list` shows them")
    if args.json:
        write_json(args.json, record)
        if str(args.json) == "-":
            return EXIT_OK
    console.heading(f"{record['id']}  {record['status']}  {record['severity']}  {record['service']}")
    console.info(record["summary"])
    if record.get("diagnosis"):
        d = record["diagnosis"]
        console.heading("Diagnosis")
        console.info(f"{d['root_cause']} (category {d['category']}, confidence {d['confidence']:.0%})")
        for e in d["evidence"]:
            console.info(f"  evidence [{e['source']}] {e['query'][:120]}\n           {e['observation']}")
        for r in d["ruled_out"]:
            console.info(f"  ruled out: {r['what']}: {r['why']}")
    console.heading("Actions")
    for a in record["actions"]:
        who = f" ({a['approval']['decision']} by {a['approval']['by']})" if a.get("approval") else ""
        console.info(f"  {a['id']:<28} {a['status']:<9} {a['title']}{who}")
    console.heading("Timeline")
    for t in record["timeline"]:
        console.info(f"  {t['at'][11:19]}  {t['actor']:<13} {t['text']}")
    return EXIT_OK


def _read_record(args: argparse.Namespace, config: FirstlineConfig) -> dict[str, Any]:
    """The record: a JSON file (the demo's --json output), or an incident id from the incident index."""
    given = Path(args.incident)
    if given.suffix == ".json" or given.exists():
        try:
            record = json.loads(given.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CommandError(f"incident record file {given} does not exist", EXIT_USAGE) from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"incident record file {given} is not JSON: {exc}", EXIT_USAGE) from exc
        if not isinstance(record, dict) or "id" not in record:
            raise CommandError(f"{given} is not an incident record (a JSON object with an 'id')", EXIT_USAGE)
        return record
    index = IncidentIndex(config.storage.incidents)
    try:
        found = index.get(args.incident)
    finally:
        index.close()
    if found is None:
        raise CommandError(
            f"no incident {args.incident!r}; `firstline incidents list` shows them, or pass a record file", EXIT_USAGE
        )
    return found


async def cmd_incidents_review(args: argparse.Namespace, console: Console) -> int:
    from agents.review import draft_review, render_html, render_markdown
    from firstline.review_sources import human_messages
    from knowledge.catalog import CatalogError, ServiceCatalog
    from tools.registry import ToolRegistry

    config = load(args, required=False)
    record = _read_record(args, config)
    try:
        catalog = ServiceCatalog.load(config.knowledge.catalog)
    except CatalogError as exc:
        console.warn(f"drafting without the service catalog (owners unknown): {exc}")
        catalog = ServiceCatalog()
    messages: list[Any] = []
    if args.people:
        registry = ToolRegistry.from_config(config.tools, missing_secrets="disable")
        try:
            messages, missing = await human_messages(registry, record)
        finally:
            await registry.aclose()
        for problem in missing:
            console.warn(f"could not read what people said in {problem}")
    draft = draft_review(record, catalog=catalog, zone=config.workflow.comms.timezone, messages=messages)
    text = render_html(draft) if args.format == "html" else render_markdown(draft)
    if args.out is None or str(args.out) == "-":
        sys.stdout.write(text)
        return EXIT_OK
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    console.info(f"review draft of {draft.incident_id} written to {args.out}")
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    """Add the incident commands to the parser; return their handlers."""
    demo = sub.add_parser(
        "demo",
        help="run the example incident end to end against the simulated environment",
        description="Start the simulated environment on loopback, ingest the example knowledge, fire the "
        "scenario's alert and work the incident to resolution. Nothing outside this machine is touched.",
    )
    demo.add_argument(
        "--scenario",
        default="checkout-migration",
        help="scenario name or YAML path (default: checkout-migration; list them with `firstline sandbox list`)",
    )
    demo.add_argument(
        "--approve",
        choices=["prompt", "auto", "reject"],
        default=None,
        help="how to answer the approval gate: prompt asks on the terminal (the default on one); auto approves "
        "on your behalf (needed without a terminal); reject declines",
    )
    demo.add_argument("--reasoner", choices=["deterministic", "llm"], help="override the reasoner in the config")
    demo.add_argument("--json", type=Path, metavar="PATH", help="write the incident record to PATH")
    add_common(demo)

    respond = sub.add_parser(
        "respond",
        help="work an incident from an Alertmanager webhook payload file",
        description="Read an Alertmanager webhook JSON file, open an incident per firing alert and work it. "
        "With --approve wait the incident stops at the approval gate; decide later with `firstline approve` or "
        "`firstline reject`, from any process.",
    )
    respond.add_argument("alert_file", type=Path, metavar="ALERT_FILE")
    respond.add_argument(
        "--approve",
        choices=["prompt", "auto", "reject", "wait"],
        default=None,
        help="prompt (default on a terminal), auto, reject, or wait (default without a terminal)",
    )
    respond.add_argument("--reasoner", choices=["deterministic", "llm"], help="override the reasoner in the config")
    respond.add_argument("--json", type=Path, metavar="PATH", help="write the incident record to PATH")
    add_common(respond)

    approvals = sub.add_parser("approvals", help="actions waiting for a human decision")
    approvals_sub = approvals.add_subparsers(dest="approvals_command", metavar="SUBCOMMAND")
    approvals_list = approvals_sub.add_parser("list", help="list every action waiting for approval")
    approvals_list.add_argument("--json", action="store_true", help="print JSON")
    add_common(approvals_list)

    for verb in ("approve", "reject"):
        p = sub.add_parser(
            verb,
            help=f"{verb} a proposed action and resume its incident",
            description=f"Record that you {verb} ACTION of INCIDENT (who, when and from where go on the timeline and "
            "in the audit log), then resume the incident from its checkpoint. The approval rules apply as in the "
            "console and Slack (approvals.rules; two approvers for destructive, irreversible or wide changes). The "
            "first decision anywhere wins; repeating it executes nothing.",
        )
        p.add_argument("incident", metavar="INCIDENT")
        p.add_argument("action", metavar="ACTION")
        p.add_argument(
            "--by",
            type=_decider_name,
            metavar="NAME",
            help="who decides, believed as given: accepted only where approvals.cli_identity lists `by` (sandboxes, "
            "demos). Otherwise you are who your token (FIRSTLINE_TOKEN, from `firstline users token`) or your OS "
            "login (approvals.os_users) says",
        )
        p.add_argument("--comment", default="", metavar="TEXT")
        add_common(p)

    incidents = sub.add_parser("incidents", help="list, show, resume and review incidents")
    incidents_sub = incidents.add_subparsers(dest="incidents_command", metavar="SUBCOMMAND")
    inc_list = incidents_sub.add_parser("list", help="list incidents, newest first")
    inc_list.add_argument("--json", action="store_true", help="print JSON")
    add_common(inc_list)
    inc_show = incidents_sub.add_parser("show", help="show one incident: diagnosis, actions, timeline")
    inc_show.add_argument("incident", metavar="ID")
    inc_show.add_argument(
        "--json", type=Path, metavar="PATH", help="write the incident record to PATH ('-' for stdout)"
    )
    add_common(inc_show)
    inc_review = incidents_sub.add_parser(
        "review",
        help="draft the post-incident review of an incident (Markdown or HTML)",
        description="Draft the post-incident review from an incident id or an incident record file (the demo's "
        "--json output): summary, customer impact, detection timings, the timeline with human and agent decisions "
        "(who approved what, and how long it took), root cause with its evidence, what was ruled out, what went well "
        "and what did not, and action items with owners from the catalog. What people said in the incident channel "
        "(Slack) and in PagerDuty notes is read with the configured tools and placed on the timeline.",
    )
    inc_review.add_argument("incident", metavar="ID|RECORD.json")
    inc_review.add_argument("--out", type=Path, metavar="FILE", help="write the draft to FILE (default: stdout)")
    inc_review.add_argument("--format", choices=["md", "html"], default="md", help="md (default) or html")
    inc_review.add_argument(
        "--no-people",
        dest="people",
        action="store_false",
        help="do not read the channel and PagerDuty notes (offline; the record alone)",
    )
    add_common(inc_review)
    inc_resume = incidents_sub.add_parser(
        "resume",
        help="continue an incident from its last checkpoint (after a crash)",
        description="Continue an incident whose run was cut short (a crash, a kill) from its last completed step. "
        "An action whose execution was claimed but whose result was never recorded is verified against the world, "
        "not run again. An incident waiting for a human decision, or finished, is left as it is (and says so).",
    )
    inc_resume.add_argument("incident", metavar="ID")
    add_common(inc_resume)

    sandbox = sub.add_parser("sandbox", help="the simulated environment")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="SUBCOMMAND")
    run = sandbox_sub.add_parser(
        "run",
        help="serve a scenario's simulated APIs on loopback until stopped",
        description="Serve Prometheus, Loki, Kubernetes, GitHub, Statuspage, Slack and PagerDuty for a scenario on "
        "127.0.0.1, print the endpoints, and optionally write a config file that points the adapters at them.",
    )
    run.add_argument("scenario", nargs="?", default="checkout-migration", metavar="SCENARIO")
    run.add_argument("--write-config", type=Path, metavar="PATH", help="write a config.yaml pointing at the sandbox")
    run.add_argument(
        "--alert-file", type=Path, metavar="PATH", help="write the scenario's alert payload (with live times) to PATH"
    )
    run.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    run.add_argument(
        "--state",
        type=Path,
        metavar="DIR",
        help="where the written config keeps incidents, ledger and memory (default: NAME-state/ beside the config "
        "file, never the real .firstline/)",
    )
    add_common(run)
    listing = sandbox_sub.add_parser(
        "list",
        help="list the scenario library with difficulty, root-cause category and tags",
        description="List every scenario in evals/scenarios: its name, difficulty (easy, medium, hard), the category "
        "of its root cause, its tags and a one-line story. Use a name with `firstline demo --scenario NAME`.",
    )
    listing.add_argument(
        "--json", action="store_true", help="print JSON (name, tags, difficulty, category, incident, description)"
    )
    add_common(listing)
    return {
        "demo": cmd_demo,
        "respond": cmd_respond,
        "approvals list": cmd_approvals_list,
        "approve": cmd_approve,
        "reject": cmd_reject,
        "incidents list": cmd_incidents_list,
        "incidents show": cmd_incidents_show,
        "incidents resume": cmd_incidents_resume,
        "incidents review": cmd_incidents_review,
        "sandbox run": cmd_sandbox_run,
        "sandbox list": cmd_sandbox_list,
    }
