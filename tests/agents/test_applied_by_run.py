"""A pipeline run that writes a ConfigMap and the write itself are one change recorded twice (in the
config repository and in the cluster): the write stands, with the run as where it came from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from agents.analytics.changes import Change
from agents.investigation import _applying_run

T = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _run(minutes: float, text: str, id: str = "run-1") -> Change:
    return Change(id=id, kind="config", component="bff", time=T + timedelta(minutes=minutes), description=text)


WRITE = Change(
    id="configmap-gateway-limits-2",
    kind="config",
    component="gateway",
    time=T,
    description="configmap edge/gateway-limits written",
)


def test_the_run_that_names_the_configmap_and_ended_with_the_write_applied_it() -> None:
    run = _run(-1, "workflow run sync-gateway-config gateway-limits: per minute (#1312) on acme/platform-config")
    assert _applying_run(WRITE, [run]) is run


def test_a_run_long_before_one_naming_another_configmap_or_two_candidates_are_not_it() -> None:
    assert _applying_run(WRITE, [_run(-30, "sync gateway-limits")]) is None
    assert _applying_run(WRITE, [_run(-1, "sync gateway-limits-eu")]) is None  # another ConfigMap
    two = [_run(-1, "sync gateway-limits", "run-1"), _run(1, "retry gateway-limits", "run-2")]
    assert _applying_run(WRITE, two) is None
    release = Change(id="deploy-7", kind="deploy", component="bff", time=T, description="deploy gateway-limits")
    assert _applying_run(WRITE, [release]) is None  # only a workflow run applies a ConfigMap
    assert _applying_run(release, [_run(-1, "sync gateway-limits")]) is None
