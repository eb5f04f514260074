"""`firstline suggest-rules HISTORY.jsonl`: suppression rules for alerts that are noise, each with a replay.

The history is the ``intake replay`` format (``intake bench --write-storm`` writes one, with the
config to replay it: ``firstline --config DIR/storm-config.yaml suggest-rules DIR/storm.jsonl``). What
counts as actionable comes from the incident records: an alert rule on a service whose incident had an
executed remediation, was handed to a human or waits for an approval is never suggested, and a rule
whose replay would lose an incident holding such an alert is dropped. Every snippet printed has been
loaded by the real configuration loader.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common, load, write_json
from firstline.commands.autonomy import incident_records
from firstline.config import ConfigError, parse_config
from firstline.console import Console
from intake.events import AlertPayloadError, parse_time
from intake.noise import AlertKey, Delivery, NoiseSuggestion, suggest_noise_rules

_KEPT = frozenset({"escalated", "awaiting_approval"})


def read_history(path: Path) -> tuple[list[Delivery], list[str]]:
    """The deliveries of a replay JSONL file, and the lines that could not be read (with why)."""
    deliveries, problems = [], []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
                received = parse_time(line.get("received_at"), "received_at") if isinstance(line, dict) else None
                if received is None or not isinstance(line.get("source"), str) or "payload" not in line:
                    raise ValueError("needs source, received_at and payload")
            except (json.JSONDecodeError, AlertPayloadError, ValueError) as exc:
                problems.append(f"line {number}: {exc}")
                continue
            deliveries.append(Delivery(line["source"], received.timestamp(), line["payload"]))
    return deliveries, problems


def actionable_keys(records: list[dict[str, Any]]) -> set[AlertKey]:
    """(alertname, service) of every incident that led to an action or that a human kept."""
    keys = set()
    for record in records:
        alert = record.get("alert") or {}
        acted = any(
            a.get("kind", "remediation") == "remediation" and a.get("status") in ("executed", "verified", "failed")
            for a in record.get("actions") or []
        )
        if acted or record.get("status") in _KEPT:
            keys.add((str(alert.get("name", "")), str(record.get("service") or alert.get("service") or "")))
    return keys


def validated(suggestion: NoiseSuggestion) -> None:
    """Load the snippet with the real configuration loader; a failure is a bug in the suggestion."""
    try:
        parse_config(yaml.safe_load(suggestion.snippet), origin=f"suggested rule {suggestion.rule.name}")
    except ConfigError as exc:
        raise CommandError(f"suggested rule {suggestion.rule.name} does not load: {exc}") from exc


def cmd_suggest_rules(args: argparse.Namespace, console: Console) -> int:
    config = load(args, required=False, check_tools=False)
    if not args.history.is_file():
        raise CommandError(f"history file {args.history} does not exist", EXIT_USAGE)
    from firstline.commands.intake import _topology

    topology = _topology(config, None, console, required=False)
    deliveries, problems = read_history(args.history)
    for problem in problems[:10]:
        console.warn(problem)
    actionable = actionable_keys(incident_records(config))
    console.progress("intake", f"replaying {len(deliveries):,} deliveries ({len(actionable)} actionable alert rules)")
    before, suggestions = suggest_noise_rules(
        deliveries,
        config.intake,
        topology,
        actionable=actionable,
        min_firings=args.min_firings,
        min_per_instance=args.min_per_instance,
    )
    for suggestion in suggestions:
        validated(suggestion)
    console.info(
        f"history: {before.alerts:,} alerts, {before.incidents:,} incidents, {before.suppressed:,} suppressed, "
        f"{before.actionable_incidents} holding an alert that led to an action"
    )
    if not suggestions:
        console.info("no suggestion: nothing fired often enough without ever leading to an action")
    for s in suggestions:
        e, a = s.evidence, s.after
        console.info(
            f"\n# {s.alertname} on {s.service or '-'}: {e.firings} firings over {e.instances} instances from "
            f"{e.first_seen:%Y-%m-%d %H:%M} to {e.last_seen:%Y-%m-%d %H:%M} ({e.deliveries} deliveries, "
            f"{e.incidents} incidents), never an action\n"
            f"# replay with the rule: alerts reaching grouping {before.alerts - before.suppressed} -> "
            f"{a.alerts - a.suppressed}, suppressed {before.suppressed} -> {a.suppressed}, incidents {before.incidents} -> "
            f"{a.incidents}, incidents that led to an action {before.actionable_incidents} -> "
            f"{a.actionable_incidents}\n{s.snippet.rstrip()}"
        )
    if args.json:
        write_json(
            args.json, {"before": before.model_dump(), "suggestions": [s.model_dump(mode="json") for s in suggestions]}
        )
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    suggest = sub.add_parser(
        "suggest-rules",
        help="suggest suppression rules for alert noise from the intake history, each with a replay",
        description="Replay HISTORY.jsonl (the `intake replay` format) through the configured pipeline; an alert rule "
        "on a service that fired at least --min-firings times, at least --min-per-instance times per instance "
        "(flapping, batches), and never led to an action or a kept incident (the incident records) becomes a ready "
        "config.yaml suppression snippet, with its evidence and the history replayed with it (alerts, incidents and "
        "incidents that led to an action, before and after). A rule that would lose one of those is not suggested.",
    )
    suggest.add_argument("history", type=Path, metavar="HISTORY.jsonl")
    suggest.add_argument("--min-firings", type=int, default=10, metavar="N", help="firing episodes in all (10)")
    suggest.add_argument(
        "--min-per-instance", type=float, default=3.0, metavar="X", help="episodes per alert instance (3)"
    )
    suggest.add_argument("--json", type=Path, metavar="PATH", help="write the suggestions as JSON (- for stdout)")
    add_common(suggest)
    return {"suggest-rules": cmd_suggest_rules}
