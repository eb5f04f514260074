"""Log signatures read for what they name: a resolver's own words are DNS, a cache lookup that timed
out is not; a process out of file descriptors is exhausted by its own leak, fixed by a restart, not by
more replicas (which leak as well); a caller's release does not "load" a callee that ran out of its own
descriptors."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.evidence import EvidenceBundle, LogFact
from agents.reasoners.deterministic import symptom_hypotheses
from agents.remediation import remediation_options
from agents.state import Alert, DeploymentFact, Diagnosis
from knowledge.catalog import Service
from tests.agents.conftest import agent_context, kubernetes_registry
from tests.agents.test_blast_radius import T0


def _bundle(line: str) -> EvidenceBundle:
    log = LogFact(
        service="web", template=line, count_before=0, count_after=200, example=line, is_new=True, evidence_id="l1"
    )
    alert = Alert(fingerprint="f", name="WebErrors", title="5xx", service="web", started_at=T0)
    return EvidenceBundle(service="web", alert=alert, logs=[log])


@pytest.mark.parametrize(
    ("line", "category"),
    [
        ('err="dial tcp: lookup orders.shop.svc on 10.96.0.10:53: read udp: i/o timeout"', "dns"),
        ('err="dial tcp: lookup orders.shop.svc: i/o timeout"', "dns"),
        ("getaddrinfo ENOTFOUND: no such host", "dns"),
        ('msg="session lookup failed" err="read tcp 10.8.1.4:40112->10.8.3.17:6379: i/o timeout"', None),
        (
            "http: Accept error: accept tcp [::]:8080: accept4: too many open files; retrying in 1s",
            "resource_exhaustion",
        ),
        ('err="dial tcp: socket: too many open files"', "resource_exhaustion"),
        # the same failure modes in other runtimes' and datastores' own words
        ('ERROR: could not extend file "base/16384/24601": No space left on device', "disk_full"),
        (
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk",
            "disk_full",
        ),
        ("Error writing file '/var/lib/mysql/ibtmp1' (Errcode: 28 - No space left on device)", "disk_full"),
        ("ERROR 1290 (HY000): The MySQL server is running with the --super-read-only option", "failover"),
        ("Produce failed: NOT_LEADER_OR_FOLLOWER for partition orders-3", "failover"),
        ("Error: certificate has expired (code CERT_HAS_EXPIRED)", "certificate"),
        ("javax.net.ssl.SSLHandshakeException: PKIX path validation failed", "certificate"),
        ("remote error: tls: handshake failure", "certificate"),
        ("Error: getaddrinfo EAI_AGAIN payments.internal", "dns"),
        ("java.net.UnknownHostException: ledger.shop.svc.cluster.local", "dns"),
        ("sqlalchemy.exc.TimeoutError: QueuePool limit of size 5 overflow 10 reached", "connection_pool"),
        ("ERR max number of clients reached", "connection_pool"),
        ("Unable to acquire JDBC Connection; nested exception", "connection_pool"),
        ("OOM command not allowed when used memory > 'maxmemory'.", "oom"),
        ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "oom"),
        ("java.lang.OutOfMemoryError: unable to create new native thread", "resource_exhaustion"),
        (
            "runtime: failed to create new OS thread (pthread_create failed: Resource temporarily unavailable)",
            "resource_exhaustion",
        ),
        ("Back-off restarting failed container api in pod api-7d9", "crash"),
        ("worker exited on signal 11 (SIGSEGV), core dumped", "crash"),
        # a limit someone else enforces is no failure mode of ours
        ("429 Too Many Requests: quota exceeded for project", None),
    ],
)
def test_a_signature_names_the_failure_mode_its_words_do(line: str, category: str | None) -> None:
    found = [h.category for h in symptom_hypotheses(_bundle(line))]
    assert found == ([category] if category else [])


def _diagnosis(text: str) -> Diagnosis:
    return Diagnosis(
        root_cause=text, category="resource_exhaustion", entity="store", confidence=0.7, evidence=[], inconclusive=False
    )


def test_a_leak_is_restarted_and_not_scaled_but_starvation_is_scaled(tmp_path: Path) -> None:
    deployment = DeploymentFact(
        namespace="shop", name="store", current_revision=8, previous_revision=7, replicas=3, evidence_id="k"
    )
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    leak = remediation_options(_diagnosis("store logs show accept4: too many open files"), deployment, ctx)
    starved = remediation_options(_diagnosis("store logs show cpu throttling"), deployment, ctx)
    assert [o.tool for o in leak] == ["kubernetes.rollout_restart"]
    assert "kubernetes.scale" in [o.tool for o in starved] and "kubernetes.rollout_restart" not in [
        o.tool for o in starved
    ]


def test_a_datastore_out_of_connections_is_not_restarted_but_a_service_is(tmp_path: Path) -> None:
    """Restarting a database its clients filled drops every connection at once and they all come back;
    a service whose own pool is stuck is restarted."""
    ctx = agent_context(
        tmp_path,
        registry=kubernetes_registry(),
        services=[Service(name="store", kind="database"), Service(name="api")],
    )

    def restart_offered(entity: str) -> bool:
        diagnosis = Diagnosis(
            root_cause=f"{entity} logs show connection pool: too many clients", category="connection_pool",
            entity=entity, confidence=0.7, evidence=[], inconclusive=False,
        )  # fmt: skip
        deployment = DeploymentFact(
            namespace="shop", name=entity, current_revision=8, previous_revision=7, replicas=1, evidence_id="k"
        )
        return "kubernetes.rollout_restart" in [o.tool for o in remediation_options(diagnosis, deployment, ctx)]

    assert not restart_offered("store")
    assert restart_offered("api")
