"""Earned autonomy: the track record per action class x service x environment, and human promotion.

``firstline autonomy`` reads every incident record (the incidents index), counts proposals, approvals,
rejections, edits, verified successes, failures, failed verifications and rollbacks per action class on
each service, and says where ``auto`` is earned (README "Earned autonomy"). It also applies the
automatic half: an earned rule with a failure or a rollback since its promotion is demoted on the spot.

``firstline autonomy promote CLASS --service S --by USER`` is the human half: it accepts one
recommendation, and writes the rule with who accepted it and the evidence to ``policy.earned_file``.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common, load
from firstline.config import FirstlineConfig
from firstline.console import Console
from tools.autonomy import TrackRecord, setbacks_since_promotion, track_records
from tools.earned import EarnedRule, EarnedRuleError, Evidence, read_earned_rules, write_earned_rules
from tools.policy import ApprovalPolicy
from tools.registry import available_kinds, parse_settings, resolve_kind
from tools.values import SafetyMetadata


def safety_table(config: FirstlineConfig) -> dict[str, SafetyMetadata]:
    """tool id -> its safety metadata, from the configured instances' declared calls (no network)."""
    kinds = available_kinds()
    table: dict[str, SafetyMetadata] = {}
    for name, raw in config.tools.items():
        try:
            adapter_cls, rest = resolve_kind(name, raw, kinds)
            calls = adapter_cls.declared_calls(parse_settings(name, adapter_cls, rest))
        except ValueError:  # a broken instance: `firstline tools list` names its problem
            continue
        for call, spec in calls.items():
            table[f"{name}.{call}"] = spec.safety
    return table


def incident_records(config: FirstlineConfig) -> list[dict[str, Any]]:
    """Every incident record in the incidents index (none when the index does not exist yet)."""
    from agents.runner import IncidentIndex

    if not config.storage.incidents.exists():
        return []
    index = IncidentIndex(config.storage.incidents)
    try:
        return [record for row in index.rows() if (record := index.get(row["id"])) is not None]
    finally:
        index.close()


def open_policy(config: FirstlineConfig) -> ApprovalPolicy:
    try:
        return ApprovalPolicy(config.policy)
    except EarnedRuleError as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc


def assess(
    config: FirstlineConfig, policy: ApprovalPolicy, *, now: datetime
) -> tuple[list[TrackRecord], list[EarnedRule]]:
    """The track records, after demoting every earned rule with a setback since its promotion."""
    safety = safety_table(config)
    records = incident_records(config)
    tracks = track_records(records, safety_of=safety.get, policy=policy)
    demoted = []
    for track in tracks:
        setbacks = setbacks_since_promotion(track)
        if setbacks:
            first = setbacks[0]
            rule = policy.demote(
                track.action_class,
                track.service,
                environment=track.environment,
                reason=f"{first.outcome.replace('_', ' ')} in {first.incident_id} ({first.action_id})",
                at=now,
            )
            if rule is not None:
                demoted.append(rule)
    if demoted:
        tracks = track_records(records, safety_of=safety.get, policy=policy)
    return tracks, demoted


def track_json(track: TrackRecord) -> dict[str, Any]:
    data = track.model_dump(mode="json", exclude={"events"})
    data["incidents"] = sorted({e.incident_id for e in track.events})
    return data


def cmd_autonomy(args: argparse.Namespace, console: Console) -> int:
    config = load(args, check_tools=False)
    policy = open_policy(config)
    tracks, demoted = assess(config, policy, now=datetime.now(UTC))
    if args.service:
        tracks = [t for t in tracks if t.service == args.service]
    if args.json:
        console.info(
            json.dumps(
                {
                    "thresholds": config.policy.autonomy.model_dump(mode="json"),
                    "environment": config.policy.environment,
                    "demoted_now": [r.model_dump(mode="json") for r in demoted],
                    "track_records": [track_json(t) for t in tracks],
                },
                indent=2,
            )
        )
        return EXIT_OK
    for rule in demoted:
        console.warn(f"demoted {rule.action_class} on {rule.service} ({rule.environment}): {rule.demoted_reason}")
    if not tracks:
        console.info("no remediation has been proposed yet: the track record starts with the first incident")
        return EXIT_OK
    t = config.policy.autonomy
    console.table(
        [
            "class",
            "service",
            "env",
            "proposed",
            "human/auto",
            "rejected/edited",
            "verified",
            "failed",
            "rollbacks",
            "run",
        ],
        [
            [
                r.action_class,
                r.service,
                r.environment,
                r.proposals,
                f"{r.approvals}/{r.auto_runs}",
                f"{r.rejections}/{r.edits}",
                r.verified,
                f"{r.failed}+{r.failed_verifications}",
                r.rollbacks,
                f"{r.run} in {r.run_days}d",
            ]
            for r in tracks
        ],
        title=(
            f"Track records (auto is earned by {t.min_verified_in_a_row} verified in a row over {t.min_days:g}+ days, "
            f"reversible, blast radius <= {t.max_blast_radius}; failed: execution+verification)"
        ),
        keep=("class", "service"),
    )
    for r in tracks:
        console.info(f"{r.action_class} on {r.service} ({r.environment}): {r.standing.replace('_', ' ')}: {r.reason}")
    for r in tracks:
        if r.standing == "recommended":
            console.info(
                f"recommended: firstline autonomy promote {r.action_class} --service {r.service} "
                f"--env {r.environment} --by YOU"
            )
    return EXIT_OK


def cmd_autonomy_promote(args: argparse.Namespace, console: Console) -> int:
    from firstline.approvals_wiring import IdentityError, cli_identity, open_users

    config = load(args, check_tools=False)
    users = open_users(config.approvals)
    try:
        user = cli_identity(config.approvals, users, args.by, os.environ)
    except IdentityError as exc:
        raise CommandError(f"a promotion is accepted by a named person: {exc}", EXIT_USAGE) from exc
    finally:
        users.conn.close()
    if user.name.startswith("policy:"):
        raise CommandError("a promotion is accepted by a person, never by the policy", EXIT_USAGE)
    path = config.policy.earned_file
    if path is None:
        raise CommandError("policy.earned_file is not set: there is nowhere to record the promotion", EXIT_USAGE)
    policy = open_policy(config)
    now = datetime.now(UTC)
    env = args.env or config.policy.environment
    tracks, _ = assess(config, policy, now=now)
    track = next((t for t in tracks if t.key == (args.action_class, args.service, env)), None)
    if track is None:
        known = ", ".join(f"{t.action_class}/{t.service}/{t.environment}" for t in tracks) or "none"
        raise CommandError(
            f"no track record for {args.action_class} on {args.service} in {env} (known: {known})", EXIT_USAGE
        )
    if track.standing == "auto":
        console.info(f"{args.action_class} on {args.service} in {env} already runs on earned autonomy ({track.reason})")
        return EXIT_OK
    if track.standing != "recommended":
        raise CommandError(
            f"{args.action_class} on {args.service} in {env} has not earned auto: {track.standing}, {track.reason}",
            EXIT_USAGE,
        )
    rule = EarnedRule(
        action_class=track.action_class,
        service=track.service,
        environment=track.environment,
        promoted_by=user.name,
        promoted_at=now,
        comment=args.comment,
        evidence=Evidence(
            verified_in_a_row=track.run,
            days=track.run_days,
            proposals=track.proposals,
            approvals=track.approvals,
            rejections=track.rejections,
            edits=track.edits,
            incidents=track.run_incidents,
        ),
    )
    write_earned_rules(path, [*read_earned_rules(path), rule])
    console.info(
        f"promoted {rule.action_class} on {rule.service} in {rule.environment} to auto, accepted by {user.name} "
        f"({track.run} verified in a row over {track.run_days} days: {', '.join(track.run_incidents)}); "
        f"recorded in {path}. A failure or a rollback demotes it."
    )
    return EXIT_OK


def register(sub: Any) -> dict[str, Any]:
    autonomy = sub.add_parser(
        "autonomy",
        help="earned autonomy: each action class's track record per service, and where auto is earned",
        description="Count, per action class x service x environment, the proposals, human approvals, auto runs, "
        "rejections, edits, verified successes, failed executions and verifications, and rollbacks in the incident "
        "records; recommend auto where policy.autonomy's thresholds are met. A recommendation is never applied on "
        "its own: `firstline autonomy promote` accepts it, naming who. A failure or rollback demotes a rule "
        "automatically (during the incident, and here for anything recorded since).",
    )
    autonomy.add_argument("--service", metavar="NAME", help="only this service")
    autonomy.add_argument("--json", action="store_true", help="print JSON (thresholds, track records, demotions)")
    add_common(autonomy)
    autonomy_sub = autonomy.add_subparsers(dest="autonomy_command", metavar="SUBCOMMAND")
    promote = autonomy_sub.add_parser(
        "promote",
        help="accept a recommendation: CLASS runs without waiting on SERVICE (recorded with who and the evidence)",
        description="Write an earned auto rule for CLASS on --service in --env (default: policy.environment) to "
        "policy.earned_file, with who accepted it (a token, a mapped OS user, or --by where approvals.cli_identity "
        "allows) and the track record. Refused unless `firstline autonomy` recommends it.",
    )
    promote.add_argument("action_class", metavar="CLASS", help="the action class, e.g. restart")
    promote.add_argument("--service", required=True, metavar="NAME")
    promote.add_argument("--env", metavar="ENV", help="environment (default: policy.environment)")
    promote.add_argument("--by", metavar="NAME", help="who accepts (where approvals.cli_identity lists by)")
    promote.add_argument("--comment", default="", metavar="TEXT")
    add_common(promote)
    return {"autonomy": cmd_autonomy, "autonomy promote": cmd_autonomy_promote}
