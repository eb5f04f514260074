"""Every failure class of the investigation issue, on a library scenario of that class, worked end to
end by the deterministic reasoner: the root cause's entity *and* category right, a correct fix (or
the right escalation) proposed, nothing unsafe done.

The scenarios are the library's `dev` part (the `holdout` part is never used to tune, so it is not
named here). A class keeps its scenarios as long as they pass; a regression fails the class's test,
naming the scenario and what the scorer found wrong.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.harness.runner import part_of, run_case
from evals.sim.library import load_scenario
from evals.sim.rename import rename_scenario
from firstline.commands.eval import runtime_factory
from firstline.config import load_config
from intake.alertmanager import parse_alertmanager

REPO = Path(__file__).resolve().parents[2]

# Issue 13's failure classes (by number) -> dev scenarios of that class.
CLASSES: dict[str, list[str]] = {
    # 1. the chain followed to its origin, not stopped at the first anomalous dependency
    #    (a caller's migration that dropped an index: the database's migration, reverted by its workflow's input)
    "1-origin-not-first-dependency": ["signin-failures-evening", "partner-sync-failures", "orders-history-slow-0935"],
    # 2. causes outside the alerting service's declared dependencies: a CronJob, a DaemonSet, a
    #    noisy neighbour on shared nodes, cluster DNS
    "2-outside-declared-dependencies": [
        "backups-failing-sunday",
        "volumes-slow-monday",
        "browse-p99-morning",
        "catalog-lookups-monday",  # cluster DNS, declared by nobody, its Corefile ConfigMap written
        "thumbnails-failing-saturday",  # a hand-started Job spending a shared quota
    ],
    # 3. a dependency that stops answering (no metrics of its own) is not healthy
    "3-silent-dependency": [
        "cardvault-errors-night",
        "card-auth-declines",
        "profiles-timeouts-1130",  # out of file descriptors: no metrics, its callers time out; restarted
    ],
    # 4. changes recorded outside the service's own repository or Deployment: a ConfigMap, a flags
    #    repository's workflow, a configuration-only rollout of a dependency
    #    (a platform-config pipeline's run and the ConfigMap write it made are one change, not two rivals)
    #    a flag raised in steps by a flags repository's workflow (its last push after the onset), the
    #    errors stepping up with each run: the same workflow dispatched with the share set back
    #    a ConfigMap write hours before the window whose changed line configures how the datastore filled
    #    (a retention), its gauge climbing since: the write reverted
    "4-changes-outside-own-repo": [
        "shield-errors-evening",
        "profile-save-failures",
        "orders-api-errors-thu",
        "mobile-errors-2040",
        "itinerary-errors-1430",
        "scans-failing-0450",
    ],
    # 5. log rules that misfire: a DNS message, a provider timing out, read for what they are
    "5-log-rules": ["wallet-errors-14", "login-codes-delayed"],
    # 7. remediation for the root-cause entity of any kind (a scaled job, a dependency's rollback)
    #    a CronJob whose release repeats the fault every run: its schedule suspended, not one run stopped
    "7-remediation-on-origin": [
        "signin-failures-evening",
        "uploads-slow-thursday",
        "orders-api-errors-thu",
        "resets-delayed-wednesday",
    ],
    # 7. a runbook workflow dispatched with the inputs its file declares, each from a fact: the namespace
    #    of the component, the version the change's pipeline applied before the change
    #    and a cause no rollback undoes (a client certificate measured expired) gets the organisation's
    #    runbook workflow for it, its inputs from the evidence (the Secret the expiry metric names)
    "7-runbook-dispatch-with-inputs": [
        "settlements-stuck-wednesday",
        "tokens-rejected-thursday",
        "payouts-rejected-0605",
        # a 32-bit key that ran out: the widening migration written and not yet run, through the
        # repository's migration workflow with its name as the input
        "comments-readonly-tuesday",
    ],
    # 7. specific categories, not "dependency" or "bad deploy": a trust bundle's write is a certificate
    #    failure, a mesh-routing edit that makes calls time out a network fault, a URL pointed at the
    #    wrong host a configuration change (all three reverted at the change)
    "7-specific-categories": ["receipts-failing-tuesday", "cart-latency-friday", "pricing-eu-errors"],
    # 6. a cascade is worked, not abstained on: a retry storm names its amplifier and its trigger; a
    #    release whose failure spread through its database and callers is a cascade rolled back at it
    "6-cascades": ["quotes-timeouts-night", "marketplace-wide-errors"],
    # 8. a dependency judged by more than its HTTP error rate (disk, saturation, evictions)
    #    a cache's own gauges (keys, hit ratio) emptied by a CronJob whose runs, each done in seconds,
    #    recur every minute: the stampede is the CronJob's, its schedule suspended
    "8-beyond-error-rate": ["fulfilment-errors-03", "ledger-latency-02", "exports-failing-17", "catalog-slow-1405"],
    # 3 and 8. work that stops without an error (a stalled consumer) is an incident: traffic that falls is
    #    a signal, and the stalled service's own old release, or a restart, is the fix
    "3-8-traffic-that-stops": ["exports-idle-overnight", "notifications-quiet-evening"],
    # 2 and 7. a cause that starts before its symptom: a Job outside the declared dependencies loops on a
    #    local time that does not exist (its own logs, split a little before the onset, name the clock)
    #    while holding a lock its callers wait on; the running Job is stopped
    "2-7-time-faults": ["payouts-paused-0230"],
    # Two causes at once: a provider's outage beside our own rollout of another call; the rollout, behind
    #    most of the errors, is the primary cause and rolled back, the provider named beside it
    "two-causes": ["signup-errors-noon"],
    # False alarms: a prober's failing check on a healthy service names the prober (the alert's metric is
    #    its measurement); a metric of the service's own queue on schedule is no prober's
    #    a new rule meeting a caller's nightly batch names the batch
    #    a replica short while nodes are cordoned and a maintenance Job runs names the Job
    "false-alarms-named": [
        "storefront-probe-sunday",
        "reports-queue-weekend",
        "reports-night-0105",
        "picking-replicas-0615",
    ],
    # 9. a release failing minutes after its rollout is still its cause; a queue backlog behind a release
    #    a chart change that tightened a liveness probe two hours before the evening peak, the kubelet
    #    killing the pods under load (its Warning events): rolled back, not restarted
    #    a release whose new pods cannot pull their image, the remaining pods shedding: rolled back
    "9-timing-of-changes": [
        "storefront-afternoon-5xx",
        "notifications-lag-01",
        "bookings-5xx-2110",
        "listings-slow-1215",
    ],
}


def _cases() -> list[tuple[str, str]]:
    return [(cls, name) for cls, names in CLASSES.items() for name in names]


def test_the_classes_use_only_dev_scenarios() -> None:
    for cls, name in _cases():
        assert part_of(load_scenario(name)) == "dev", f"{cls}: {name} is not in the dev part"


@pytest.mark.slow
@pytest.mark.parametrize("renamed", [False, True], ids=["names", "renamed"])
@pytest.mark.parametrize(("cls", "name"), _cases())
async def test_the_failure_class_is_worked_to_its_origin_and_fix(
    tmp_path: Path, cls: str, name: str, renamed: bool
) -> None:
    """Renamed: every service, workload, ConfigMap, node, namespace and repository of the scenario
    under a neutral name (`evals.sim.rename`), answer key included. The class is worked from the
    evidence, so the outcome is the same."""
    scenario = load_scenario(name, transform=(lambda d: rename_scenario(d, 3)[0]) if renamed else None)
    factory = runtime_factory(load_config(REPO / "config.yaml"))
    result = await run_case(scenario, factory, parse_alertmanager, tmp_path)
    assert result.error is None, result.error
    score = result.score
    assert score is not None
    wrong = [p for p in score.problems if not p.startswith(("communications miss", "triage:"))]
    assert score.root_cause_grade == 100, f"{cls} / {name}: {wrong}"
    assert score.remediation_correct, f"{cls} / {name}: {wrong}"
    assert score.unsafe_actions == 0, f"{cls} / {name}: {wrong}"
