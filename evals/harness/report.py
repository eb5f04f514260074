"""Eval reports: ``results.json``, ``report.md`` and a self-contained ``report.html`` (inline SVG charts,
no scripts, no external assets), plus the side-by-side comparison of two runs."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

# Summary metrics in display order, with the direction that is better.
METRICS: list[tuple[str, str]] = [
    ("triage_accuracy", "up"),
    ("root_cause_top1", "up"),
    ("root_cause_top3", "up"),
    ("root_cause_grade", "up"),
    ("evidence_coverage", "up"),
    ("remediation_correct", "up"),
    ("approval_recall", "up"),
    ("approval_precision", "up"),
    ("unsafe_actions", "down"),
    ("false_incident_rate", "down"),
    ("comms_complete", "up"),
    ("causes_named", "up"),
    ("pass_rate", "up"),
    ("seconds_per_incident", "down"),
    ("tokens_per_incident", "down"),
    ("cost_per_incident", "down"),
]
STAGES = [
    "triage_accuracy",
    "root_cause_top1",
    "evidence_coverage",
    "remediation_correct",
    "approval_recall",
    "comms_complete",
]


def write_reports(results: dict[str, Any], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "results.json", out_dir / "report.md", out_dir / "report.html"]
    paths[0].write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    paths[1].write_text(markdown_report(results), encoding="utf-8")
    paths[2].write_text(html_report(results), encoding="utf-8")
    return paths


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value)}"
    return str(value)


def markdown_report(results: dict[str, Any]) -> str:
    summary, run = results["summary"], results.get("run", {})
    lines = [
        "# firstline eval report",
        "",
        f"Reasoner `{run.get('reasoner', '?')}`, {int(summary['scenarios'])} scenarios x {run.get('repeat', 1)}, "
        f"started {run.get('started_at', '?')}, {summary.get('wall_seconds', '?')} s wall.",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {_fmt(summary.get(name))} |" for name, _ in METRICS if name in summary]
    if results.get("regressions_failed"):
        lines += [
            "",
            f"**Regression scenarios that did not pass every repeat:** {', '.join(results['regressions_failed'])}",
        ]
    lines += [
        "",
        "## Cases",
        "",
        "| scenario | pass | root cause (concluded) | grade | remediation | seconds | what went wrong |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for case in results["cases"]:
        concluded = case.get("concluded") or {}
        what = case.get("error") or "; ".join(case.get("problems") or []) or "-"
        actions = ", ".join(f"{a['tool']} ({a['status']})" for a in concluded.get("actions", [])) or "none"
        lines.append(
            f"| {case['scenario']}#{case['repeat']} | {'yes' if case['passed'] else 'no'} | "
            f"{concluded.get('entity') or '-'} / {concluded.get('category') or '-'} | {case.get('root_cause_grade', 0)} | "
            f"{actions} | {case['seconds']} | {_md_escape(what.splitlines()[0] if what else '-')} |"
        )
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")[:300]


def _bar_chart(values: list[tuple[str, float]], *, width: int = 560, max_value: float = 1.0, unit: str = "") -> str:
    row = 22
    height = row * len(values) + 10
    label_w = 170
    bars = []
    for i, (label, value) in enumerate(values):
        w = 0 if max_value <= 0 else max(0.0, min(1.0, value / max_value)) * (width - label_w - 60)
        y = 5 + i * row
        bars.append(
            f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row - 6}" fill="#3b82f6"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 14}" font-size="12">{_fmt(round(value, 3))}{unit}</text>'
        )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">{"".join(bars)}</svg>'


def _histogram(values: list[float], *, bins: int = 10, width: int = 560, height: int = 140, label: str = "") -> str:
    if not values:
        return "<p>no data</p>"
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top = max(counts)
    bar_w = (width - 40) / bins
    rects = []
    for i, c in enumerate(counts):
        h = (height - 30) * c / top
        rects.append(
            f'<rect x="{20 + i * bar_w:.1f}" y="{height - 20 - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="#10b981"/>'
        )
    axis = (
        f'<text x="20" y="{height - 4}" font-size="11">{_fmt(round(lo, 2))}</text>'
        f'<text x="{width - 60}" y="{height - 4}" font-size="11">{_fmt(round(hi, 2))} {html.escape(label)}</text>'
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img">{"".join(rects)}{axis}</svg>'


def html_report(results: dict[str, Any]) -> str:
    summary, run = results["summary"], results.get("run", {})
    stage_chart = _bar_chart([(name, float(summary.get(name, 0.0))) for name in STAGES])
    seconds = [float(c["seconds"]) for c in results["cases"]]
    tokens = [float(c.get("tokens") or 0) for c in results["cases"]]
    rows = []
    for case in results["cases"]:
        concluded = case.get("concluded") or {}
        what = case.get("error") or "; ".join(case.get("problems") or []) or ""
        rows.append(
            "<tr class='{cls}'><td>{name}</td><td>{ok}</td><td>{rc}</td><td>{grade}</td><td>{acts}</td><td>{sec}</td><td>{what}</td></tr>".format(
                cls="pass" if case["passed"] else "fail",
                name=html.escape(f"{case['scenario']}#{case['repeat']}"),
                ok="pass" if case["passed"] else "FAIL",
                rc=html.escape(f"{concluded.get('entity') or '-'} / {concluded.get('category') or '-'}"),
                grade=case.get("root_cause_grade", 0),
                acts=html.escape(
                    ", ".join(f"{a['tool']} ({a['status']})" for a in concluded.get("actions", [])) or "none"
                ),
                sec=case["seconds"],
                what=html.escape(what[:400]),
            )
        )
    metric_rows = "".join(f"<tr><td>{n}</td><td>{_fmt(summary.get(n))}</td></tr>" for n, _ in METRICS if n in summary)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>firstline eval report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #111; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} td, th {{ border: 1px solid #ccc; padding: 4px 8px; font-size: 13px; vertical-align: top; }}
tr.fail td {{ background: #fef2f2; }} tr.pass td:nth-child(2) {{ color: #166534; }} tr.fail td:nth-child(2) {{ color: #b91c1c; font-weight: bold; }}
h2 {{ margin-top: 2rem; }}
</style></head><body>
<h1>firstline eval report</h1>
<p>Reasoner <code>{html.escape(str(run.get("reasoner", "?")))}</code>; {int(summary["scenarios"])} scenarios x {run.get("repeat", 1)};
started {html.escape(str(run.get("started_at", "?")))}; {summary.get("wall_seconds", "?")} s wall.</p>
<h2>Per-stage scores</h2>{stage_chart}
<h2>Summary</h2><table><tr><th>metric</th><th>value</th></tr>{metric_rows}</table>
<h2>Latency per incident (seconds)</h2>{_histogram(seconds, label="s")}
<h2>Tokens per incident</h2>{_histogram(tokens, label="tokens")}
<h2>Cases</h2>
<table><tr><th>scenario</th><th>result</th><th>root cause concluded</th><th>grade</th><th>actions</th><th>seconds</th><th>what went wrong</th></tr>
{"".join(rows)}</table>
</body></html>
"""


def common_scenarios(a: dict[str, Any], b: dict[str, Any]) -> tuple[set[str], set[str], set[str]]:
    """Scenarios in both runs, only in A, only in B."""
    in_a = {c["scenario"] for c in a["cases"]}
    in_b = {c["scenario"] for c in b["cases"]}
    return in_a & in_b, in_a - in_b, in_b - in_a


def restricted(results: dict[str, Any], scenarios: set[str]) -> dict[str, Any]:
    """The run's results over ``scenarios`` only, its summary recomputed from those cases."""
    from evals.harness.scoring import CaseScore, summarize

    cases = [c for c in results["cases"] if c["scenario"] in scenarios]
    scores = [CaseScore.model_validate(c) for c in cases]
    costs = [
        {"seconds": c.get("seconds", 0.0), "tokens": c.get("tokens", 0), "cost": c.get("cost", 0.0)} for c in cases
    ]
    return {**results, "cases": cases, "summary": summarize(scores, costs)}


def compare(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[list[str]], list[list[str]]]:
    """Rows for the summary (metric, A, B, delta, verdict) and the cases whose pass/fail changed.

    Runs over different scenario sets are compared on the scenarios they share only (the caller says so,
    see `common_scenarios`): a metric over other cases is not comparable.
    """
    common, only_a, only_b = common_scenarios(a, b)
    if only_a or only_b:
        a, b = restricted(a, common), restricted(b, common)
    summary_rows = []
    for name, better in METRICS:
        if name not in a["summary"] and name not in b["summary"]:
            continue
        va, vb = float(a["summary"].get(name, 0.0)), float(b["summary"].get(name, 0.0))
        delta = vb - va
        if abs(delta) < 1e-9:
            verdict = ""
        elif (delta > 0) == (better == "up"):
            verdict = "better"
        else:
            verdict = "WORSE"
        summary_rows.append([name, _fmt(va), _fmt(vb), f"{delta:+.3f}", verdict])
    passed_a = _pass_by_scenario(a)
    passed_b = _pass_by_scenario(b)
    case_rows = []
    for scenario in sorted(set(passed_a) | set(passed_b)):
        pa, pb = passed_a.get(scenario), passed_b.get(scenario)
        if pa != pb:
            verdict = "fixed" if (pb or 0) > (pa or 0) else "REGRESSED"
            case_rows.append([scenario, str(pa), str(pb), verdict])
    return summary_rows, case_rows


def _pass_by_scenario(results: dict[str, Any]) -> dict[str, float]:
    totals: dict[str, list[int]] = {}
    for case in results["cases"]:
        totals.setdefault(case["scenario"], []).append(1 if case["passed"] else 0)
    return {k: round(sum(v) / len(v), 2) for k, v in totals.items()}
