"""A slow build-up traced to the ConfigMap write that started it (agents.build_up and the collector's
`build_up_writes`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from agents.build_up import began_with, changed_lines
from agents.context import AgentContext
from agents.investigation import EvidenceCollector, cluster_target
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, ConfigRevert, Diagnosis, IncidentState
from knowledge.catalog import Service, ServiceCatalog
from tools.base import Adapter, AdapterSettings, ToolResult, tool_call
from tools.http import HttpCaller
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.prometheus import QueryResult, RangeQuery, Series
from tools.registry import ToolRegistry

WRITTEN = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
NOW = WRITTEN + timedelta(hours=5)
PROPERTIES_BEFORE = "log.dirs=/data\nlog.retention.ms=86400000\nlog.segment.bytes=1073741824\n"
PROPERTIES_AFTER = "log.dirs=/data\nlog.retention.ms=1728000000\nlog.segment.bytes=1073741824\n"


def _revert() -> ConfigRevert:
    return ConfigRevert(
        change_id="",
        service="events",
        namespace="data",
        name="events-config",
        from_revision=2,
        to_revision=1,
        data={"server.properties": PROPERTIES_BEFORE},
        changed_keys=["server.properties"],
        introduced=[PROPERTIES_AFTER],
        written=WRITTEN,
    )


def _series(start: datetime, hours: float, value: Callable[[datetime], float]) -> tuple[list[datetime], list[float]]:
    times = [start + timedelta(minutes=5 * i) for i in range(int(hours * 12))]
    return times, [float(value(t)) for t in times]


def test_the_lines_a_write_changed_inside_one_key() -> None:
    assert changed_lines(_revert()) == ["log.retention.ms=1728000000"]


def test_a_gauge_level_before_the_write_and_climbing_since_began_with_it() -> None:
    def filling(t: datetime) -> float:
        hours = max((t - WRITTEN).total_seconds() / 3600, 0.0)
        return 300 + 40 * hours

    times, values = _series(WRITTEN - timedelta(hours=2), 6, filling)
    found = began_with(times, values, WRITTEN)
    assert found is not None and found.reached_write and found.before == 300 and found.climb > 0.25
    # Already climbing an hour before the write: something else started it.
    times, values = _series(WRITTEN - timedelta(hours=2), 6, lambda t: 100 + 40 * (t - times[0]).total_seconds() / 3600)
    assert began_with(times, values, WRITTEN) is None
    # Level all along: nothing built up.
    times, values = _series(WRITTEN - timedelta(hours=2), 6, lambda t: 300)
    assert began_with(times, values, WRITTEN) is None


def test_a_history_that_starts_after_the_write_must_climb_across_all_of_it() -> None:
    start = WRITTEN + timedelta(hours=2)
    times, values = _series(start, 3, lambda t: 400 + 45 * (t - start).total_seconds() / 3600)
    found = began_with(times, values, WRITTEN)
    assert found is not None and not found.reached_write and found.before < found.now
    # It rose and fell back: no steady build-up.
    times, values = _series(start, 3, lambda t: 400 + (60 if 1 <= (t - start).total_seconds() / 3600 < 2 else 0))
    assert began_with(times, values, WRITTEN) is None


class FillingVolume(Adapter):
    """A Prometheus with three hours of history, whose one gauge of the broker climbs across all of it."""

    kind: ClassVar[str] = "prometheus"

    @tool_call(description="range", result=QueryResult)
    async def query_range(self, args: RangeQuery) -> ToolResult:
        first = max(args.start, NOW - timedelta(hours=3))
        samples, at = [], first
        while at <= args.end:
            samples.append((at, 4e11 + 4.5e10 * (at - first).total_seconds() / 3600))
            at += timedelta(seconds=args.step)
        series = Series(
            metric={"__name__": "volume_used_bytes", "service": "events", "claim": "data-0"}, values=samples
        )
        payload = QueryResult(resultType="matrix", series=[series])
        return ToolResult.with_payload(
            payload, tool=self.tool_id("query_range"), status="ok", query=args.query, summary="ok"
        )


@pytest.fixture
async def ctx(tmp_path: Path) -> AsyncIterator[AgentContext]:
    async with httpx.AsyncClient(base_url="http://fake.test") as client:
        prometheus = FillingVolume(
            "prometheus", AdapterSettings(base_url="http://fake.test"), HttpCaller(client, instance="fake")
        )
        yield AgentContext(
            registry=ToolRegistry({"prometheus": prometheus}),
            ledger=ActionLedger(tmp_path / "ledger.sqlite"),
            policy=ApprovalPolicy(),
            catalog=ServiceCatalog(
                services={
                    "ingest": Service(name="ingest", namespace="data", dependencies=["events"]),
                    "events": Service(name="events", namespace="data", kind="queue"),
                }
            ),
            reasoner=DeterministicReasoner(),
            fallback=DeterministicReasoner(),
            settings=WorkflowSettings(),
            clock=lambda: NOW,
        )


def _collector(ctx: AgentContext, revert: ConfigRevert) -> EvidenceCollector:
    alert = Alert(fingerprint="f", name="IngestErrors", title="ingest 5xx", service="ingest", started_at=NOW)
    ingest = ctx.catalog.get("ingest")
    assert ingest is not None
    collector = EvidenceCollector(IncidentState(id="INC-1", alert=alert, service="ingest"), ingest, ctx)
    collector.bundle.config_reverts = [revert]
    return collector


FULL = Diagnosis(root_cause="events logs show disk full", category="disk_full", entity="events", confidence=0.8)


async def test_the_write_that_configures_the_mechanism_and_preceded_the_climb_is_the_revert(ctx: AgentContext) -> None:
    collector = _collector(ctx, _revert())
    await collector.build_up_writes(FULL)
    [linked] = collector.bundle.config_reverts
    found = collector.bundle.get(linked.evidence_id)
    assert found is not None and "log.retention.ms=1728000000" in found.observation
    assert cluster_target(collector.bundle, FULL) == linked  # offered as the revert


async def test_no_link_without_the_mechanism_or_without_the_line_that_configures_it(ctx: AgentContext) -> None:
    collector = _collector(ctx, _revert())
    await collector.build_up_writes(FULL.model_copy(update={"category": "crash"}))  # no setting makes a crash
    assert not collector.bundle.config_reverts[0].evidence_id
    other = _revert().model_copy(update={"introduced": [PROPERTIES_BEFORE.replace("/data", "/data2")]})
    collector = _collector(ctx, other)
    await collector.build_up_writes(FULL)  # the write moved the data directory, not the retention
    assert not collector.bundle.config_reverts[0].evidence_id
    assert cluster_target(collector.bundle, FULL) is None
