"""Tool commands: `tools list` (integrations, configured instances, their calls and approval tiers) and
`tools check` (connectivity and credentials of each configured instance)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any

from rich.text import Text

from firstline.commands import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CommandError, add_common, load
from firstline.config import FirstlineConfig
from firstline.console import Console
from tools.base import Adapter, AdapterDefinitionError, CallSpec, MissingSecret, UpstreamError
from tools.checks import CheckResult, check_instances
from tools.policy import ApprovalPolicy
from tools.registry import (
    available_kinds,
    build_instance,
    kind_origin,
    parse_settings,
    resolve_kind,
    validate_calls,
)

LIST_DESCRIPTION = """\
Show what firstline can call: every configured instance (the tools: section of the configuration)
with each call, whether it reads or writes, and its approval tier: the tier the adapter declares
and the one your policy: section actually gives it (auto runs, approve waits for a human, forbid
only suggests). Then every available integration, built in or installed as a plugin (a package
with a `firstline.tools` entry point), and which instances use it.

Nothing is contacted and no secret is read, except for MCP servers (kind mcp): their tools are known
only by asking, so each is started or connected and asked for its list (--offline skips that). A
variable named by a *_env setting that is not set is reported. --json gives each call's input schema
(for an MCP tool, the server's own). Use `firstline tools check` to test connectivity.

examples:
  firstline tools list
  firstline --config sim.yaml tools list --json
  firstline tools list --offline
"""

CHECK_DESCRIPTION = """\
For each configured instance (or the NAMEs given), make the cheapest read that proves the base URL
answers and the credentials work: Prometheus build info, Loki labels, Kubernetes /version, GitHub
/rate_limit, Statuspage page, Slack auth.test, PagerDuty /abilities, Argo CD version and userinfo,
Elasticsearch / and a size-0 search, an MCP server's initialize and tools/list. One line per instance: ok, failed (with what to fix), or
skipped (senders such as a Teams webhook have nothing to read without posting).

Exits 1 if any instance failed, 0 otherwise.

examples:
  firstline tools check
  firstline tools check github prometheus-eu
"""


def register(sub: Any) -> dict[str, Any]:
    """Add the tool commands to the parser; return their handlers."""
    tools = sub.add_parser(
        "tools",
        help="list integrations and configured tool instances; check their connectivity",
        description="Inspect the tool adapters: `firstline tools list` and `firstline tools check`.",
    )
    tools_sub = tools.add_subparsers(dest="tools_command", metavar="SUBCOMMAND")
    listing = tools_sub.add_parser(
        "list",
        help="every integration and configured instance, its calls, read/write and approval tier",
        description=LIST_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of tables")
    listing.add_argument(
        "--offline", action="store_true", help="do not ask MCP servers for their tools (their calls are not shown)"
    )
    add_common(listing)
    check = tools_sub.add_parser(
        "check",
        help="test connectivity and credentials of each configured instance",
        description=CHECK_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("names", nargs="*", metavar="NAME", help="instances to check (default: all configured)")
    check.add_argument("--json", action="store_true", help="print JSON results")
    add_common(check)
    return {"tools list": cmd_tools_list, "tools check": cmd_tools_check}


def _kinds() -> dict[str, type[Adapter]]:
    try:
        return available_kinds()
    except AdapterDefinitionError as exc:  # a broken plugin: refuse to start, naming it
        raise CommandError(str(exc), EXIT_USAGE) from exc


# -- tools list ----------------------------------------------------------------------------------------


def describe_tools(
    config: FirstlineConfig,
    kinds: dict[str, type[Adapter]],
    discovered: Mapping[str, dict[str, CallSpec] | str] | None = None,
) -> dict[str, Any]:
    """What `tools list` shows, as data: configured instances with their calls, then every integration.

    ``discovered`` holds, per instance whose kind learns its calls from the backend (MCP), the calls it
    listed or why it could not (see `discover_calls`); without it those instances show no calls.
    """
    policy = ApprovalPolicy(config.policy)
    discovered = discovered or {}
    instances = []
    for name, raw in config.tools.items():
        entry: dict[str, Any] = {"instance": name, "kind": str(raw.get("kind") or name), "problems": [], "calls": []}
        try:
            adapter_cls, rest = resolve_kind(name, raw, kinds)
            settings = parse_settings(name, adapter_cls, rest)
            calls = adapter_cls.declared_calls(settings)
            found = discovered.get(name)
            if isinstance(found, dict):
                calls = {**calls, **found}
            validate_calls(adapter_cls.kind, calls.values(), origin=f"tools.{name}")
        except ValueError as exc:
            entry["problems"].append(str(exc))
            instances.append(entry)
            continue
        entry["origin"] = kind_origin(adapter_cls)
        entry["problems"] = [
            f"{env} (tools.{name}.{field}) is not set"
            for field, env in settings.model_dump().items()
            if field.endswith("_env") and isinstance(env, str) and env not in os.environ
        ]
        if isinstance(discovered.get(name), str):
            entry["problems"].append(str(discovered[name]))
        elif adapter_cls.discovers_calls and name not in discovered:
            entry["problems"].append("calls not listed (--offline): they are known only by asking the server")
        entry["calls"] = [_call_info(name, spec, policy) for spec in calls.values()]
        instances.append(entry)
    integrations = [
        {
            "kind": kind,
            "origin": kind_origin(cls),
            "description": cls.description,
            "calls": (
                "listed by the server"
                if cls.discovers_calls
                else "declared in configuration"
                if cls.configurable_calls
                else sorted(cls.calls)
            ),
            "configured_as": [i["instance"] for i in instances if i["kind"] == kind],
        }
        for kind, cls in sorted(kinds.items())
    ]
    return {
        "policy": {"environment": config.policy.environment, "maturity": config.policy.maturity},
        "instances": instances,
        "integrations": integrations,
    }


def _call_info(instance: str, spec: CallSpec, policy: ApprovalPolicy) -> dict[str, Any]:
    safety = spec.safety
    decision = policy.decide(safety)
    return {
        "tool": f"{instance}.{spec.name}",
        "call": spec.name,
        "description": spec.description,
        "mutating": safety.mutating,
        "action_class": safety.action_class,
        "declared_tier": safety.approval_tier,
        "policy_tier": decision.tier,
        "policy_reason": decision.reason,
        "reversible": safety.reversible,
        "undo": safety.undo,
        "destructive": safety.destructive,
        "idempotent": safety.idempotent,
        "blast_radius": safety.blast_radius,
        "input_schema": spec.input_model.model_json_schema(),
    }


async def discover_calls(
    config: FirstlineConfig, kinds: dict[str, type[Adapter]]
) -> dict[str, dict[str, CallSpec] | str]:
    """Ask each instance whose calls come from its backend (an MCP server) for them: the calls, or why not."""
    found: dict[str, dict[str, CallSpec] | str] = {}
    for name, raw in config.tools.items():
        try:
            adapter_cls, _ = resolve_kind(name, raw, kinds)
            if not adapter_cls.discovers_calls:
                continue
            adapter = build_instance(name, raw, kinds=kinds)
        except MissingSecret as exc:
            found[name] = f"cannot list its tools: {exc}"
            continue
        except ValueError:
            continue  # describe_tools reports the bad setting
        try:
            await adapter.open()
            found[name] = dict(adapter.calls)
        except UpstreamError as exc:
            found[name] = f"cannot list its tools: {exc}"
        finally:
            await adapter.aclose()
    return found


async def cmd_tools_list(args: argparse.Namespace, console: Console) -> int:
    config = load(args, required=False, check_tools=False)
    kinds = _kinds()
    discovered = {} if args.offline else await discover_calls(config, kinds)
    data = describe_tools(config, kinds, discovered)
    if args.json:
        console.info(json.dumps(data, indent=2))
        return EXIT_OK
    if not args.config.exists():
        console.warn(f"no configuration file at {args.config}: no instances are configured (use --config PATH)")
    rows = []
    for instance in data["instances"]:
        for call in instance["calls"]:
            rows.append(
                [
                    call["tool"],
                    "WRITE" if call["mutating"] else "read",
                    _approval(call),
                    call["action_class"],
                    _reversible(call),
                    call["blast_radius"],
                ]
            )
    if rows:
        policy = data["policy"]
        console.table(
            ["tool", "r/w", "approval", "class", "undo", "blast radius"],
            rows,
            title=f"Configured tools (approval per policy: {policy['environment']}, maturity {policy['maturity']})",
        )
    elif args.config.exists():
        console.info("no tool instances are configured (add them under tools: in the configuration)")
    for instance in data["instances"]:
        for problem in instance["problems"]:
            console.warn(f"{instance['instance']}: {problem}")
    console.table(
        ["integration", "origin", "calls", "configured as"],
        [
            [
                i["kind"],
                i["origin"],
                i["calls"] if isinstance(i["calls"], str) else ", ".join(i["calls"]),
                ", ".join(i["configured_as"]) or "-",
            ]
            for i in data["integrations"]
        ],
        title="Available integrations",
    )
    return EXIT_OK


def _approval(call: dict[str, Any]) -> str:
    """The tier the policy gives, and the adapter's declared tier when the policy overrides it."""
    tier, declared = call["policy_tier"], call["declared_tier"]
    return tier if declared in (None, tier) else f"{tier} (declared {declared})"


def _reversible(call: dict[str, Any]) -> str:
    if not call["mutating"]:
        return "-"
    return "yes" if call["reversible"] else "NO"


# -- tools check ---------------------------------------------------------------------------------------

STATUS_STYLE = {"ok": "green", "failed": "bold red", "skipped": "yellow"}


async def cmd_tools_check(args: argparse.Namespace, console: Console) -> int:
    config = load(args, check_tools=False)
    if not config.tools:
        raise CommandError(f"no tool instances are configured in {args.config} (add them under tools:)", EXIT_USAGE)
    try:
        results = await check_instances(config.tools, kinds=_kinds(), names=args.names or None)
    except KeyError as exc:
        raise CommandError(str(exc.args[0]), EXIT_USAGE) from exc
    if args.json:
        console.info(json.dumps([r.model_dump() for r in results], indent=2))
    else:
        width = max(len(r.instance) for r in results)
        for result in results:
            _print_check(console, result, width)
        counts = {s: sum(r.status == s for r in results) for s in ("ok", "failed", "skipped")}
        console.info(f"{counts['ok']} ok, {counts['failed']} failed, {counts['skipped']} skipped")
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def _print_check(console: Console, result: CheckResult, width: int) -> None:
    label = "FAILED" if result.status == "failed" else result.status
    timing = f"  ({result.duration_ms:.0f} ms)" if result.status == "ok" else ""
    console.out.print(
        Text.assemble(
            (f"{label:<8}", STATUS_STYLE[result.status]),
            f"{result.instance:<{width}}  {result.kind:<16} {result.detail}{timing}",
        )
    )
    if result.fix:
        console.out.print(Text(f"{'':<8}{'':<{width}}  fix: {result.fix}"))
