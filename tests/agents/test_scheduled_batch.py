"""A quiet alert (nothing fails) measured a caller's scheduled batch: the diagnosis names the batch as
why it fired, not the alerting service."""

from __future__ import annotations

from datetime import timedelta

from agents.evidence import EvidenceBundle, SignalSummary
from agents.reasoners.deterministic import diagnose_bundle
from agents.state import Alert, JobTarget
from tests.agents.test_blast_radius import T0, TIMES


def _bundle(*jobs: JobTarget) -> EvidenceBundle:
    flat = SignalSummary(
        service="reports", query="q", baseline=0.001, current=0.001, peak=0.0012, anomalous=False, evidence_id="s1",
        times=TIMES, values=[0.001] * len(TIMES),
    )  # fmt: skip
    return EvidenceBundle(
        service="reports",
        alert=Alert(fingerprint="f", name="ReportsCpuHigh", title="CPU", service="reports", started_at=T0),
        primary=flat,
        graph={"close": ["reports"], "reports": []},
        jobs=list(jobs),
    )


def _job(service: str, started_by: str, minutes_before: int = 25) -> JobTarget:
    return JobTarget(
        service=service, namespace="finance", name=f"{service}-29390080", owner=f"CronJob/{service}",
        started=T0 - timedelta(minutes=minutes_before), started_by=started_by, evidence_id="j1",
    )  # fmt: skip


def test_a_callers_scheduled_run_is_why_the_quiet_alert_fired() -> None:
    diagnosis = diagnose_bundle(_bundle(_job("close", "schedule")))
    assert (diagnosis.category, diagnosis.entity) == ("no_incident", "close")
    assert "scheduled run" in diagnosis.root_cause


def test_a_batch_started_by_hand_one_not_calling_it_or_starting_after_the_alert_is_not() -> None:
    for job in (_job("close", "manual"), _job("other", "schedule"), _job("close", "schedule", minutes_before=-5)):
        diagnosis = diagnose_bundle(_bundle(job))
        assert (diagnosis.category, diagnosis.entity) == ("no_incident", "reports"), job
