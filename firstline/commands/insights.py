"""`firstline insights`: recurring patterns, trends and approval waits over the incident history.

Reads every incident record in the incidents index (`knowledge.insights` does the counting and the
recurrence test); prints a summary, and writes the full report as JSON (``--json``) or a standalone
HTML page (``--html``).
"""

from __future__ import annotations

import argparse
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from firstline.commands import EXIT_OK, EXIT_USAGE, CommandError, add_common, load, write_json
from firstline.commands.autonomy import incident_records
from firstline.console import Console
from knowledge.insights import Insights, build_insights

_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> timedelta:
    """``90d``, ``12w``, ``36h``, ``30m`` -> a timedelta; a clear error otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", text)
    if not match:
        raise CommandError(f"--since {text!r}: expected a number and a unit (m, h, d or w), e.g. 90d", EXIT_USAGE)
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:g} min"


def summary_lines(report: Insights) -> list[str]:
    """The report as plain lines (what the terminal shows and the README quotes)."""
    scope = f" for {report.service}" if report.service else ""
    lines = [
        f"{report.incidents} incidents{scope} from {report.since:%Y-%m-%d} to {report.until:%Y-%m-%d}",
        "by service: " + (", ".join(f"{k} {v}" for k, v in report.by_service.items()) or "-"),
        "by category: " + (", ".join(f"{k} {v}" for k, v in report.by_category.items()) or "-"),
        "by preceding change: " + (", ".join(f"{k} {v}" for k, v in report.by_preceding_change.items()) or "-"),
        f"MTTA {_minutes(report.mtta_minutes)}, MTTR {_minutes(report.mttr_minutes)}; resolved by agents alone "
        f"{report.resolved_by_agents}, with a human's approval {report.resolved_with_humans}, handed to humans "
        f"{report.handed_to_humans}; approval wait median {_minutes(report.approval_wait_median_minutes)} "
        f"over {len(report.approval_waits_minutes)} approvals",
    ]
    for trend in report.trends:
        lines.append(
            f"  {trend.month}: {trend.incidents} incidents, MTTA {_minutes(trend.mtta_minutes)}, "
            f"MTTR {_minutes(trend.mttr_minutes)}"
        )
    if not report.patterns:
        lines.append("no recurring pattern passes the recurrence test")
    for pattern in report.patterns:
        s = pattern.stat
        lines += [
            f"pattern: {pattern.statement}",
            f"  test: {s.test}, {s.k} of {s.n} against a baseline share of {s.baseline:.2f}: p = {s.p_value:.2g}",
            f"  incidents: {', '.join(pattern.incidents)}",
            f"  preventive follow-up: {pattern.preventive}",
        ]
    for c in report.candidates:
        lines.append(
            f"not a pattern (yet): {c.k} of {c.n} {c.service} incidents were {c.category} (p = {c.p_value:.2g}): "
            + ", ".join(c.incidents)
        )
    for follow_up in report.recurring_follow_ups:
        lines.append(f"recurring open follow-up: {follow_up.title} ({', '.join(follow_up.incidents)})")
    return lines


def render_html(report: Insights) -> str:
    """A standalone HTML page of the report (every value escaped: titles come from incident records)."""
    esc = html.escape
    rows = "".join(
        f"<tr><td>{esc(p.service)}</td><td>{esc(p.category)}</td><td>{esc(p.statement)}</td>"
        f"<td>{p.stat.k} of {p.stat.n}, p0 {p.stat.baseline:.2f}, p = {p.stat.p_value:.2g}</td>"
        f"<td>{esc(', '.join(p.incidents))}</td><td>{esc(p.preventive)}</td></tr>"
        for p in report.patterns
    )
    summary = "".join(f"<li>{esc(line)}</li>" for line in summary_lines(report))
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>firstline insights</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}</style></head><body>"
        f"<h1>Incident insights</h1><ul>{summary}</ul><h2>Patterns</h2><table><tr><th>service</th>"
        "<th>category</th><th>pattern</th><th>recurrence test (one-sided binomial)</th><th>incidents</th>"
        f"<th>preventive follow-up</th></tr>{rows}</table></body></html>\n"
    )


def cmd_insights(args: argparse.Namespace, console: Console) -> int:
    config = load(args, check_tools=False)
    since = parse_since(args.since)
    now = datetime.now(UTC) if args.until is None else _until(args.until)
    report = build_insights(incident_records(config), now=now, since=since, service=args.service)
    for line in summary_lines(report):
        console.info(line)
    if args.json:
        write_json(args.json, report.model_dump(mode="json"))
    if args.html:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render_html(report), encoding="utf-8")
        console.info(f"HTML report written to {args.html}")
    return EXIT_OK


def _until(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--until {text!r}: expected an ISO date or time, e.g. 2026-03-31", EXIT_USAGE) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(sub: Any) -> dict[str, Any]:
    insights = sub.add_parser(
        "insights",
        help="recurring patterns in the incident history, MTTA/MTTR, agents vs humans, approval waits",
        description="Count the incidents of the period by service, root-cause category and the kind of change that "
        "preceded them; call a (service, category) a pattern only when a one-sided exact binomial test says it "
        "recurs more than the other services' share would have it (at least 3 incidents, p < 0.05), citing the "
        "incidents and a preventive follow-up; MTTA and MTTR per month, the share resolved by agents alone vs "
        "with a human, approval wait times and open follow-ups that recur.",
    )
    insights.add_argument("--since", default="90d", metavar="DURATION", help="how far back: 90d (default), 12w, 36h")
    insights.add_argument("--until", metavar="WHEN", help="the end of the period (default: now), ISO date or time")
    insights.add_argument("--service", metavar="NAME", help="only this service")
    insights.add_argument("--json", type=Path, metavar="PATH", help="write the full report as JSON (- for stdout)")
    insights.add_argument("--html", type=Path, metavar="PATH", help="write the report as a standalone HTML page")
    add_common(insights)
    return {"insights": cmd_insights}
