"""Recurring patterns over incident records: the recurrence test, the metrics, the cited incidents."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from knowledge.insights import PREVENTIVE, binomial_tail, build_insights

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def record(
    n: int,
    *,
    service: str,
    category: str,
    days_ago: float,
    by: str | None = "alice",
    ttm: float = 10,
    status: str = "resolved",
    follow_ups: list[str] | None = None,
) -> dict[str, Any]:
    start = NOW - timedelta(days=days_ago)
    proposed = start + timedelta(minutes=2)
    decided = proposed + timedelta(minutes=4)
    verified = start + timedelta(minutes=ttm)
    resolved = status == "resolved"
    return {
        "id": f"inc-{n}",
        "status": status,
        "service": service,
        "severity": "SEV2",
        "summary": "",
        "alert": {"started_at": start.isoformat(), "service": service, "title": f"{service} errors"},
        "diagnosis": {"category": category, "root_cause": f"{category} on {service}"},
        "actions": [
            {
                "id": f"a{n}",
                "tool": "k8s.rollout_undo",
                "title": "Roll back",
                "kind": "remediation",
                "status": "verified" if resolved else "proposed",
                "approval": None if by is None else {"decision": "approved", "by": by, "at": decided.isoformat()},
            }
        ],
        "verification": {"ok": True, "detail": "back", "at": verified.isoformat()} if resolved else None,
        "timeline": [
            {"at": (start + timedelta(minutes=1)).isoformat(), "actor": "triage", "kind": "triaged", "text": ""},
            {"at": proposed.isoformat(), "actor": "remediation", "kind": "proposed", "text": ""},
        ],
        "follow_ups": follow_ups or [],
    }


def history() -> list[dict[str, Any]]:
    checkout = [
        record(1, service="checkout", category="migration", days_ago=5, ttm=12),
        record(2, service="checkout", category="migration", days_ago=15, ttm=16, by=None),
        record(3, service="checkout", category="migration", days_ago=25, ttm=14),
        record(4, service="checkout", category="migration", days_ago=35, ttm=14, follow_ups=["Add a canary"]),
        record(5, service="checkout", category="oom", days_ago=45, follow_ups=["add a canary!"]),
        record(6, service="checkout", category="bad_deploy", days_ago=55),
    ]
    others = [
        record(10 + i, service=s, category=c, days_ago=3 + i)
        for i, (s, c) in enumerate(
            [("search", "oom"), ("search", "saturation"), ("cart", "dns"), ("cart", "oom"), ("cart", "bad_deploy")]
        )
    ]
    return checkout + others


def test_binomial_tail_is_exact() -> None:
    assert binomial_tail(3, 3, 0.5) == pytest.approx(0.125)
    assert binomial_tail(0, 5, 0.3) == 1.0
    assert binomial_tail(2, 4, 0.25) == pytest.approx(1 - 0.75**4 - 4 * 0.25 * 0.75**3)


def test_a_pattern_cites_its_incidents_counts_and_test() -> None:
    report = build_insights(history(), now=NOW)
    [pattern] = report.patterns
    assert (pattern.service, pattern.category, pattern.preceding_change) == (
        "checkout",
        "migration",
        "schema migration",
    )
    assert pattern.incidents == ["inc-1", "inc-2", "inc-3", "inc-4"]
    # 0 of the 5 other incidents were migrations; one pseudo-incident spread over the vocabulary (V).
    share = (0 + 1 / len(PREVENTIVE)) / (5 + 1)
    assert (pattern.stat.k, pattern.stat.n, pattern.stat.baseline) == (4, 6, round(share, 4))
    expected = sum(math.comb(6, i) * share**i * (1 - share) ** (6 - i) for i in range(4, 7))
    assert pattern.stat.p_value == pytest.approx(expected, abs=1e-4)
    assert pattern.mean_time_to_mitigate_minutes == 14.0
    assert pattern.fixes == {"Roll back": 4}
    assert pattern.statement.startswith("4 of the last 6 checkout incidents followed a schema migration; 4 fixed by")
    assert "expand" in pattern.preventive


def test_two_incidents_are_never_a_pattern() -> None:
    records = [
        record(1, service="checkout", category="dns", days_ago=1),
        record(2, service="checkout", category="dns", days_ago=2),
        *[record(10 + i, service="search", category="oom", days_ago=3 + i) for i in range(8)],
    ]
    report = build_insights(records, now=NOW)
    assert [(p.service, p.stat.k) for p in report.patterns] == [("search", 8)]  # eight are, for search
    [candidate] = [c for c in report.candidates if c.service == "checkout"]
    assert (candidate.k, candidate.n, candidate.incidents) == (2, 2, ["inc-1", "inc-2"])


def test_a_category_common_everywhere_is_not_a_pattern_of_one_service() -> None:
    records = [record(i, service="checkout", category="oom", days_ago=i) for i in range(1, 4)]
    records += [record(10 + i, service=f"svc{i}", category="oom", days_ago=i) for i in range(6)]
    report = build_insights(records, now=NOW)
    assert not [p for p in report.patterns if p.service == "checkout"]
    assert any(c.service == "checkout" and c.k == 3 for c in report.candidates)


def test_metrics_agents_vs_humans_waits_and_recurring_follow_ups() -> None:
    records = [*history(), record(30, service="cart", category="dns", days_ago=1, status="escalated", by=None)]
    report = build_insights(records, now=NOW)
    assert report.incidents == 12
    assert report.by_service == {"checkout": 6, "cart": 4, "search": 2}
    assert report.by_preceding_change["schema migration"] == 4
    assert (report.resolved_by_agents, report.resolved_with_humans, report.handed_to_humans) == (1, 10, 1)
    assert report.mtta_minutes == 1.0
    assert report.approval_wait_median_minutes == 4.0 and len(report.approval_waits_minutes) == 10
    [follow_up] = report.recurring_follow_ups
    assert follow_up.incidents == ["inc-4", "inc-5"]


def test_one_service_alone_needs_three_to_make_a_pattern() -> None:
    two = [record(i, service="checkout", category="migration", days_ago=i * 7) for i in range(1, 3)]
    assert build_insights(two, now=NOW).patterns == []
    three = [*two, record(3, service="checkout", category="migration", days_ago=21)]
    [pattern] = build_insights(three, now=NOW).patterns
    assert (pattern.stat.k, pattern.stat.n) == (3, 3) and pattern.stat.p_value < 0.05


def test_the_period_and_the_service_filter() -> None:
    report = build_insights(history(), now=NOW, since=timedelta(days=20), service="checkout")
    assert report.incidents == 2 and report.by_service == {"checkout": 2}
    assert [t.month for t in report.trends] == ["2026-06"]


def test_the_cli_writes_json_and_html(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agents.runner import IncidentIndex
    from firstline.cli import main

    config = tmp_path / "config.yaml"
    config.write_text("storage: {incidents: incidents.sqlite}\n", encoding="utf-8")
    index = IncidentIndex(tmp_path / "incidents.sqlite")
    for item in history():
        item["alert"]["title"] = "<script>x</script>"
        index.save(item, NOW.isoformat())
    index.close()
    out_json, out_html = tmp_path / "insights.json", tmp_path / "insights.html"
    argv = ["--config", str(config), "insights", "--until", "2026-06-30T12:00:00", "--json", str(out_json)]
    assert main([*argv, "--html", str(out_html)]) == 0
    shown = capsys.readouterr().out
    assert "pattern: 4 of the last 6 checkout incidents followed a schema migration" in shown
    assert "test: one-sided exact binomial, 4 of 6" in shown
    data = json.loads(out_json.read_text())
    assert data["patterns"][0]["incidents"] == ["inc-1", "inc-2", "inc-3", "inc-4"]
    page = out_html.read_text()
    assert "<table>" in page and "inc-4" in page and "<script>" not in page
    assert main(["--config", str(config), "insights", "--since", "ninety"]) == 2
    assert "expected a number and a unit" in capsys.readouterr().err
