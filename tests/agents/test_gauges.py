"""A component's own gauges beyond its SLIs: a move at the onset is a fact about it (`agents.gauges`),
and a change whose callee's gauges moved within minutes acted on that callee (`touched_hypotheses`):
a purge that emptied a cache is a stampede's origin, its recurring runs suspended at the schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from agents import cluster
from agents.analytics.changes import Change
from agents.evidence import ComponentFacts, EvidenceBundle, LogFact
from agents.gauges import gauge_move
from agents.reasoners.deterministic import diagnose_bundle
from agents.remediation import remediation_options
from agents.state import Alert, Diagnosis, Evidence, JobTarget
from knowledge.catalog import Service
from tests.agents.conftest import agent_context, kubernetes_registry
from tests.agents.test_blast_radius import T0, TIMES, _bundle, _change, _series
from tools.kubernetes import JobList, JobState
from tools.values import ToolResult

ONSET_INDEX = 30  # TIMES[30] == T0


def _level(before: float, after: float, *, jitter: float = 0.01, at: int = ONSET_INDEX) -> list[float]:
    return [(before if i < at else after) * (1 + jitter * math.sin(i)) for i in range(len(TIMES))]


def test_a_gauge_that_fell_at_the_onset_is_a_move_with_its_time_and_direction() -> None:
    move = gauge_move("cache", "redis_db_keys", {"db": "db0"}, TIMES, _level(1.9e6, 1.3e5), T0)
    assert move is not None
    assert (move.direction, move.since) == ("fell", T0)
    assert move.relative > 0.9
    assert "redis_db_keys{db=db0} 1.90M before" in move.describe()


def test_a_level_kept_a_small_move_a_recovered_one_or_too_short_a_history_is_none() -> None:
    assert gauge_move("cache", "keys", {}, TIMES, _level(100.0, 100.0), T0) is None
    assert gauge_move("cache", "keys", {}, TIMES, _level(100.0, 110.0, jitter=0.0), T0) is None  # 10 %: not a move
    recovered = [100.0 if i < ONSET_INDEX or i > ONSET_INDEX + 3 else 5.0 for i in range(len(TIMES))]
    assert gauge_move("cache", "keys", {}, TIMES, recovered, T0) is None
    assert gauge_move("cache", "keys", {}, TIMES[25:], _level(100.0, 5.0)[25:], T0) is None
    with_gaps = _level(0.2, 0.95)
    with_gaps[ONSET_INDEX + 2] = math.nan
    gap = gauge_move("db", "container_cpu_usage_ratio", {}, TIMES, with_gaps, T0)
    assert gap is not None and gap.direction == "rose"


def _cache_world(*, gauge_at: int | None, cache_kind: str = "cache") -> object:
    """web calls a cache and a database; a purge job calls the cache. web and the database fail from
    the onset (the database out of connections); the purge's runs started at the onset."""
    signals = [
        _series("web", "error_rate", 0.002, 0.14, "e1"),
        _series("cache", "error_rate", 0.0, 0.0, "e2"),
        _series("db", "error_rate", 0.0, 0.15, "e3"),
        _series("purge", "error_rate", 0.0, 0.0, "e4"),
    ]
    pool = "FATAL:  sorry, too many clients already"
    components = {
        "cache": ComponentFacts(service="cache", kind=cache_kind, distance=1),
        "db": ComponentFacts(
            service="db", kind="database", distance=1,
            logs=[LogFact(service="db", template=pool, count_before=0, count_after=300, example=pool, is_new=True,
                          evidence_id="l1")],
        ),
        "purge": ComponentFacts(service="purge", distance=2),
    }  # fmt: skip
    runs = _change("runs-ops-purge", "purge", "infrastructure", 0, 0.43, 2)
    bundle = _bundle(
        "web", {"web": ["cache", "db"], "cache": [], "db": [], "purge": ["cache"]}, signals, components, changes=[runs]
    )
    if gauge_at is not None:
        move = gauge_move("cache", "redis_keyspace_hit_ratio", {}, TIMES, _level(0.97, 0.3, at=gauge_at), T0)
        assert move is not None
        bundle.gauges = [move.model_copy(update={"evidence_id": "g1"})]
        bundle.evidence.append(Evidence(id="g1", source="prometheus.query_range", query="q", observation="o"))
    return bundle


def test_a_change_whose_callee_cache_emptied_at_once_is_the_stampedes_origin() -> None:
    diagnosis = diagnose_bundle(_cache_world(gauge_at=ONSET_INDEX))  # type: ignore[arg-type]
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("purge", "stampede", "runs-ops-purge")
    assert "g1" in [e.id for e in diagnosis.evidence]


def test_no_gauge_move_or_one_long_after_the_change_blames_no_caller_of_the_cache() -> None:
    for world in (_cache_world(gauge_at=None), _cache_world(gauge_at=ONSET_INDEX + 8)):
        diagnosis = diagnose_bundle(world)  # type: ignore[arg-type]
        assert diagnosis.entity != "purge" or diagnosis.category != "stampede", diagnosis.root_cause


def test_a_non_cache_callee_that_moved_takes_its_own_logs_failure_mode() -> None:
    world = _cache_world(gauge_at=ONSET_INDEX, cache_kind="service")
    world.components["cache"].logs = [  # type: ignore[attr-defined]
        LogFact(service="cache", template="pool exhausted", count_before=0, count_after=90,
                example="HikariPool-1 - Connection is not available, request timed out after 30000ms",
                is_new=True, evidence_id="l2")
    ]  # fmt: skip
    world.evidence.append(Evidence(id="l2", source="loki.query_range", query="q", observation="o"))  # type: ignore[attr-defined]
    diagnosis = diagnose_bundle(world)  # type: ignore[arg-type]
    assert (diagnosis.entity, diagnosis.category) == ("purge", "connection_pool"), diagnosis.root_cause


def test_a_cronjobs_finished_recurring_runs_are_stopped_at_the_schedule_only(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    runs = JobTarget(service="purge", namespace="ops", name="purge-29925484", owner="purge",
                     started=T0 - timedelta(seconds=10), started_by="schedule", parallelism=1,
                     change_id="runs-ops-purge", evidence_id="j1", running=False, runs=5)  # fmt: skip
    diagnosis = Diagnosis(root_cause="x", category="stampede", entity="purge", confidence=0.8, change_id=runs.change_id)
    options = remediation_options(diagnosis, None, ctx, None, runs)
    assert [o.id for o in options] == ["suspend_cronjob"]
    assert options[0].args == {"namespace": "ops", "name": "purge"}
    assert "5 runs" in options[0].rationale
    # One run still going, its start the diagnosed change: that run is stopped (its schedule left alone).
    single = runs.model_copy(update={"running": True, "runs": 1})
    assert [o.id for o in remediation_options(diagnosis, None, ctx, None, single)] == ["stop_job"]


class _Checks:
    """What `agents.cluster` needs of the collector: one canned Job list, evidence ids counted."""

    def __init__(self, jobs: list[JobState], tmp_path: Path) -> None:
        self.ctx = agent_context(tmp_path, registry=kubernetes_registry())
        self.bundle = EvidenceBundle(
            service="web", alert=Alert(fingerprint="f", name="Slow", title="slow", service="web", started_at=T0)
        )
        self.start, self.now = T0 - timedelta(hours=1), T0 + timedelta(minutes=5)
        self.cluster_changes: list[tuple[Change, str]] = []
        self.node_list = None
        self.jobs = JobList(jobs=jobs, count=len(jobs), more_available=False)
        self.added: list[str] = []

    async def call(self, kind: str, call: str, args: Callable[[], BaseModel]) -> ToolResult | None:
        args()
        return ToolResult.with_payload(self.jobs, tool=f"{kind}.{call}", status="ok", query=call)

    def add(self, result: ToolResult, observation: str, data: dict[str, object] | None = None) -> str:
        self.added.append(observation)
        return f"e{len(self.added)}"

    def failed(self, what: str, result: ToolResult) -> None:
        raise AssertionError(what)


def _run(minute: int, *, owner: str | None = "CronJob/purge", status: str = "complete") -> JobState:
    start = T0 + timedelta(minutes=minute)
    return JobState(
        name=f"purge-{minute + 100}", namespace="ops", status=status, started=start,  # type: ignore[arg-type]
        completed=start + timedelta(seconds=10) if status == "complete" else None, owner=owner,
        started_by="schedule", parallelism=1, images={"purge": "ghcr.io/acme/purge:1.0"},
    )  # fmt: skip


async def test_a_cronjobs_runs_finished_between_reads_are_one_change_from_the_first(tmp_path: Path) -> None:
    purge = Service(name="purge", namespace="ops", deployment="purge")
    checks = _Checks([_run(m) for m in (4, 3, 2, 1, 0)], tmp_path)
    await cluster._jobs(checks, "ops", [purge], T0)  # type: ignore[arg-type]
    [(change, evidence_id)] = checks.cluster_changes
    assert (change.id, change.component, change.time) == ("runs-ops-purge", "purge", T0)
    assert "ran 5 times between" in checks.added[0] and "about 10 s" in checks.added[0]
    [target] = checks.bundle.jobs
    assert (target.owner, target.running, target.runs, target.change_id) == ("purge", False, 5, change.id)


async def test_runs_begun_after_the_onset_an_old_single_run_or_a_running_one_are_not_that_change(
    tmp_path: Path,
) -> None:
    purge = Service(name="purge", namespace="ops", deployment="purge")
    for jobs in ([_run(2), _run(3)], [_run(-40)]):
        checks = _Checks(jobs, tmp_path)
        await cluster._jobs(checks, "ops", [purge], T0)  # type: ignore[arg-type]
        assert checks.cluster_changes == [] and checks.bundle.jobs == [], jobs
    # A run still going is read as a running Job (its start the change), the finished ones beside it not again.
    checks = _Checks([_run(1, status="active"), _run(0), _run(-1)], tmp_path)
    await cluster._jobs(checks, "ops", [purge], T0)  # type: ignore[arg-type]
    assert [t.running for t in checks.bundle.jobs] == [True]
