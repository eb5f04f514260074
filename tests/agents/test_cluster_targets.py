"""The cluster beyond Deployments in the diagnosis and the fix: a node under pressure points at the
workload beside the failing service (a Job filling the disk), a ConfigMap write is reverted to the
revision before it, a running Job is stopped; and none of it fires without the facts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from agents import cluster
from agents.evidence import ComponentFacts, EvidenceBundle, LogFact, PodFact
from agents.investigation import EvidenceCollector, cluster_target, introduced_terms
from agents.reasoners.deterministic import choose_option, diagnose_bundle, node_hypotheses
from agents.remediation import remediation_options
from agents.state import Alert, ConfigRevert, Diagnosis, Evidence, IncidentState, JobTarget, NodeTarget
from knowledge.catalog import Service
from tests.agents.conftest import agent_context, kubernetes_registry
from tests.agents.test_blast_radius import T0, _bundle, _change, _series
from tools.base import ToolResult
from tools.kubernetes import NodeList, NodeState

DISK = "ERROR write /scratch/chunks/881.part: no space left on device"


def _disk_world(*, job: bool) -> EvidenceBundle:
    signals = [_series("uploads", "error_rate", 0.002, 0.3, "e1"), _series("sweeper", "error_rate", 0.0, 0.0, "e2")]
    components = {
        "sweeper": ComponentFacts(
            service="sweeper",
            distance=4,
            shared=True,
            pods=PodFact(total=1, ready=1, restarts=0, nodes=["node-b"], evidence_id="p1"),
        )
    }
    bundle = _bundle(
        "uploads",
        {"uploads": [], "sweeper": []},
        signals,
        components,
        logs=[
            LogFact(
                service="uploads",
                template=DISK,
                count_before=0,
                count_after=90,
                example=DISK,
                is_new=True,
                evidence_id="l1",
            )
        ],  # fmt: skip
        pods=PodFact(total=4, ready=2, restarts=0, nodes=["node-a", "node-b"], evidence_id="p0"),
    )
    bundle.nodes = [
        NodeTarget(
            name="node-b", problems=["DiskPressure"], since=T0, services=["sweeper", "uploads"], evidence_id="n1"
        )
    ]
    if job:
        bundle.jobs = [
            JobTarget(service="sweeper", namespace="shop", name="sweeper-29420180", owner="sweeper",
                      started=T0 - timedelta(minutes=95), parallelism=1, nodes=["node-b"], evidence_id="j1")
        ]  # fmt: skip
    bundle.evidence += [
        Evidence(id=i, source="kubernetes.list_nodes", query="q", observation="o") for i in ("n1", "j1")
    ]
    return bundle


def test_a_job_on_the_node_under_disk_pressure_is_the_origin_and_is_stopped(tmp_path: Path) -> None:
    bundle = _disk_world(job=True)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category) == ("sweeper", "disk_full"), diagnosis.root_cause
    target = cluster_target(bundle, diagnosis)
    assert isinstance(target, JobTarget)
    options = remediation_options(
        diagnosis, None, agent_context(tmp_path, registry=kubernetes_registry()), None, target
    )
    assert [(o.tool, o.args) for o in options] == [
        ("kubernetes.scale_job", {"namespace": "shop", "name": "sweeper-29420180", "parallelism": 0})
    ]
    assert choose_option(diagnosis, options).option_id == "stop_job"


def test_without_a_workload_that_started_or_changed_there_the_pressure_blames_nobody_else() -> None:
    bundle = _disk_world(job=False)
    assert node_hypotheses(bundle) == []
    assert diagnose_bundle(bundle).entity == "uploads"  # its own logs decide: the disk it fills itself


def test_a_configmap_write_is_reverted_to_the_revision_before_it(tmp_path: Path) -> None:
    signals = [_series("proxy", "error_rate", 0.001, 0.45, "e1")]
    change = _change("configmap-features-3", "proxy", "config", 13, 0.8, 0)
    bundle = _bundle("proxy", {"proxy": []}, signals, {}, changes=[change])
    revert = ConfigRevert(change_id=change.id, service="proxy", namespace="edge", name="features", from_revision=3,
                          to_revision=2, data={"count": "60"}, resource_version="1009", changed_keys=["count"])  # fmt: skip
    bundle.config_reverts = [revert]
    diagnosis = Diagnosis(root_cause="x", category="config_change", entity="proxy", confidence=0.8, change_id=change.id)
    assert cluster_target(bundle, diagnosis) == revert
    assert cluster_target(bundle, diagnosis.model_copy(update={"change_id": "deploy-7"})) is None  # another change
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    [option] = [o for o in remediation_options(diagnosis, None, ctx, None, revert) if o.id == "revert_config"]
    assert option.args == {"namespace": "edge", "name": "features", "data": {"count": "60"}, "resource_version": "1009"}
    assert "from revision 3 to 2" in option.title


def test_a_revert_found_by_its_logs_needs_their_evidence() -> None:
    older = ConfigRevert(change_id="", service="reporter", namespace="ops", name="reporter-config", from_revision=2,
                         to_revision=1, data={"a": "b"}, introduced=["collector: stats-legacy.ops.svc:9125\n"])  # fmt: skip
    bundle = _disk_world(job=False)
    bundle.config_reverts = [older]
    diagnosis = Diagnosis(root_cause="x", category="memory_leak", entity="reporter", confidence=0.8)
    assert cluster_target(bundle, diagnosis) is None  # nothing links the write to the failure yet
    bundle.config_reverts = [older.model_copy(update={"evidence_id": "logs-name-it"})]
    assert cluster_target(bundle, diagnosis) == bundle.config_reverts[0]
    assert introduced_terms(older.introduced) == ["stats-legacy.ops.svc"]
    assert introduced_terms(["flush_interval: 10s", "enabled=true"]) == []  # short values name nothing


def test_customers_read_the_capability_they_use_and_whether_it_fails_or_is_slow(tmp_path: Path) -> None:
    from agents.reasoners.deterministic import render_update
    from agents.state import Alert, IncidentState
    from knowledge.catalog import Service

    cards = Service(
        name="payment-gateway", description="Charges cards", customer_facing=True, capability="Card payments"
    )
    ctx = agent_context(tmp_path, services=[cards, Service(name="ledger", description="Keeps the books")])

    def incident(service: str, sli: str) -> IncidentState:
        alert = Alert(fingerprint="f", name="Alert", title="t", service=service, started_at=T0)
        return IncidentState(id="inc-1", alert=alert, service=service, sli_query=sli)

    errors = render_update(incident("payment-gateway", 'sum(rate(x{code=~"5.."}[5m]))'), "opened", "customers", ctx)
    assert (
        errors.startswith("We are investigating elevated errors with Card payments.")
        and "payment-gateway" not in errors
    )
    slow = render_update(incident("payment-gateway", "histogram_quantile(0.99, sum by (le) (rate(d[5m])))"), "opened",
                         "customers", ctx)  # fmt: skip
    assert "slow responses with Card payments" in slow and "may be slow" in slow
    # without a capability in the catalog, the service and its description are what there is
    assert "elevated errors with ledger (keeps the books)" in render_update(
        incident("ledger", "q"), "opened", "customers", ctx
    )


def test_a_change_outside_the_catalog_belongs_to_the_candidate_its_text_names(tmp_path: Path) -> None:
    from agents.analytics.changes import GLOBAL_COMPONENT
    from agents.investigation import mentioned_component
    from knowledge.catalog import Service

    ctx = agent_context(tmp_path, services=[Service(name="accounts"), Service(name="accounts-db"), Service(name="web")])
    related = {"accounts": 0, "accounts-db": 1, "web": 1}
    assert mentioned_component("commit on acme/feature-flags: flags/accounts.flagd.json", related, ctx) == "accounts"
    assert mentioned_component("bump pool size for accounts-db", related, ctx) == "accounts-db"  # not accounts
    assert mentioned_component("rotate the shared TLS bundle", related, ctx) == GLOBAL_COMPONENT
    assert mentioned_component("web and accounts-db settings", related, ctx) == GLOBAL_COMPONENT  # two at one distance


def test_a_provider_reporting_trouble_on_its_own_page_is_a_lead_only_for_what_depends_on_it() -> None:
    from agents.evidence import ProviderFact
    from agents.reasoners.deterministic import provider_hypotheses

    signals = [_series("checkout", "error_rate", 0.002, 0.3, "e1")]
    page = ProviderFact(indicator="major", incident="Elevated API errors", status="identified", evidence_id="sp1")
    geo = ComponentFacts(service="geo", kind="external", distance=1, provider=page)
    bundle = _bundle("checkout", {"checkout": ["geo"], "geo": []}, signals, {"geo": geo})
    [lead] = provider_hypotheses(bundle)
    assert (lead.entity, lead.category) == ("geo", "third_party") and "sp1" in lead.evidence_ids
    assert provider_hypotheses(bundle.model_copy(update={"graph": {"checkout": [], "geo": []}})) == []  # not below
    calm = geo.model_copy(update={"provider": ProviderFact(indicator="none", evidence_id="sp2")})
    assert provider_hypotheses(bundle.model_copy(update={"components": {"geo": calm}})) == []  # page says all is well


def _dns_world(*, describes_dns: bool, changed: bool) -> EvidenceBundle:
    lookup = "GET https://feeds.partners.internal/v2 failed: ConnectError: Temporary failure in name resolution"
    signals = [_series("sync", "error_rate", 0.004, 0.8, "e1"), _series("infra-a", "error_rate", 0.0005, 0.0005, "e2")]
    components = {
        "infra-a": ComponentFacts(
            service="infra-a", distance=4, shared=True,
            description="Cluster DNS (CoreDNS)." if describes_dns else "Image thumbnails.",
            pods=PodFact(total=2, ready=2, restarts=0, evidence_id="p1"),
        )
    }  # fmt: skip
    changes = [_change("configmap-infra-a-2", "infra-a", "config", 1, 0.3, 4)] if changed else []
    return _bundle(
        "sync",
        {"sync": [], "infra-a": []},
        signals,
        components,
        changes=changes,
        logs=[
            LogFact(
                service="sync",
                template=lookup,
                count_before=0,
                count_after=400,
                example=lookup,
                is_new=True,
                evidence_id="l1",
            )
        ],  # fmt: skip
    )


def test_the_shared_component_that_provides_what_fails_is_the_origin_though_it_looks_healthy() -> None:
    """Class 2: lookups fail in one service; cluster DNS (shared, declared by nobody) answers fine on
    its own SLI and pods, but its configuration was written a minute before. It provides what fails,
    so it is the origin. A healthy shared component that does something else, or did not change, is
    not."""
    diagnosis = diagnose_bundle(_dns_world(describes_dns=True, changed=True))
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("infra-a", "dns", "configmap-infra-a-2")
    assert diagnose_bundle(_dns_world(describes_dns=False, changed=True)).entity != "infra-a"
    assert diagnose_bundle(_dns_world(describes_dns=True, changed=False)).entity == "sync"


def test_the_workload_whose_load_appeared_spends_the_shared_quota_and_is_stopped(tmp_path: Path) -> None:
    """Class 2 and 5: the alerting service is throttled ("429 ... quota") by a dependency it shares with
    a Job started an hour before; the Job (outside its dependencies) is the origin, category quota, and
    it is stopped: never a scale-up of the throttled service, never its own unrelated release."""
    throttled = "PUT gs://renditions/x/thumb.webp -> 429 Too Many Requests: rateLimitExceeded (quota per project)"
    signals = [_series("worker", "error_rate", 0.002, 0.45, "e1"), _series("backfill", "error_rate", 0.001, 0.45, "e2")]
    components = {
        "store": ComponentFacts(service="store", kind="external", distance=1),
        "backfill": ComponentFacts(service="backfill", distance=2, dependencies=["store"]),
    }
    job_start = _change("scale-up-job-backfill-0511", "backfill", "scale_up", 40, 0.3, 2)
    release = _change("deploy-worker-5", "worker", "deploy", 120, 0.38, 0)
    bundle = _bundle(
        "worker", {"worker": ["store"], "backfill": ["store"], "store": []}, signals, components,
        changes=[release, job_start],
        logs=[LogFact(service="worker", template=throttled, count_before=0, count_after=900, example=throttled,
                      is_new=True, evidence_id="l1")],
    )  # fmt: skip
    bundle.jobs = [
        JobTarget(service="backfill", namespace="data", name="backfill-0511", started=T0 - timedelta(minutes=40),
                  parallelism=48, change_id=job_start.id, evidence_id="j1")
    ]  # fmt: skip
    bundle.evidence.append(Evidence(id="j1", source="kubernetes.list_jobs", query="q", observation="o"))
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("backfill", "quota", job_start.id)
    target = cluster_target(bundle, diagnosis)
    assert isinstance(target, JobTarget) and target.name == "backfill-0511"
    options = remediation_options(
        diagnosis, None, agent_context(tmp_path, registry=kubernetes_registry()), target=target
    )
    chosen = next(o for o in options if o.id == choose_option(diagnosis, options).option_id)
    assert chosen.tool == "kubernetes.scale_job" and chosen.args["parallelism"] == 0
    quiet = bundle.model_copy(update={"logs": []})  # no throttling in its logs: no quota to blame the Job for
    assert diagnose_bundle(quiet).category != "quota"


def _storm_world(retry_line: str) -> EvidenceBundle:
    pool = "FATAL: remaining connection slots are reserved for non-replication superuser connections"
    signals = [
        _series("quotes", "error_rate", 0.002, 0.4, "e1"),
        _series("rates-db", "error_rate", 0.0, 0.4, "e2"),
        _series("rates-db", "saturation", 0.45, 1.0, "e3"),
    ]
    components = {
        "rates-db": ComponentFacts(
            service="rates-db", kind="database", distance=1, pods=PodFact(total=1, ready=1, restarts=0, evidence_id="p1"),
            logs=[LogFact(service="rates-db", template=pool, count_before=2, count_after=900, example=pool, is_new=False,
                          evidence_id="l2")],
        )
    }  # fmt: skip
    bundle = _bundle(
        "quotes", {"quotes": ["rates-db"], "rates-db": []}, signals, components,
        logs=[LogFact(service="quotes", template=retry_line, count_before=5, count_after=1000, example=retry_line,
                      is_new=False, evidence_id="l1")],
    )  # fmt: skip
    bundle.config_reverts = [
        ConfigRevert(change_id="", service="quotes", namespace="q", name="quotes-settings", from_revision=2,
                     to_revision=1, data={"DB_RETRIES": "2", "DB_RETRY_BACKOFF_MS": "200"},
                     changed_keys=["DB_RETRIES", "DB_RETRY_BACKOFF_MS"], written=T0 - timedelta(days=3))
    ]  # fmt: skip
    return bundle


def test_retries_without_backoff_against_a_saturated_dependency_are_the_storm_to_undo() -> None:
    """A slow moment of the database (the trigger) is kept going by a caller retrying six times without
    backoff (the amplifier): the caller is the root (retry storm), the database is named as the
    contributing trigger, its exhausted pool folds into the storm, and the fix is the caller's retry
    settings written back, however old the write. Retries that back off are no storm."""
    bundle = _storm_world("WARN query rate_factors timed out after 800 ms, retry 2/6 (backoff 0 ms)")
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.inconclusive) == ("quotes", "retry_storm", False)
    assert [(c.entity, c.category) for c in diagnosis.contributing] == [("rates-db", "saturation")]
    target = cluster_target(bundle, diagnosis)
    assert isinstance(target, ConfigRevert) and target.name == "quotes-settings"
    backing_off = diagnose_bundle(
        _storm_world("WARN query rate_factors timed out after 800 ms, retry 2/6 (backoff 400 ms)")
    )
    assert backing_off.category != "retry_storm"


def test_the_record_names_the_contributing_causes() -> None:
    """The record carries what the scorer and people read as a second cause."""
    from agents.state import Hypothesis
    from tests.agents.conftest import incident

    diagnosis = Diagnosis(
        root_cause="storm", category="retry_storm", entity="quotes", confidence=0.8,
        contributing=[Hypothesis(entity="rates-db", category="saturation", description="the trigger")],
    )  # fmt: skip
    record = incident(diagnosis=diagnosis).record()
    assert [c["entity"] for c in record["diagnosis"]["contributing"]] == ["rates-db"]


def _shared_relay(*, own_traffic_flat: bool) -> EvidenceBundle:
    """accounts and sender both call relay, which fails first and most; both shipped a release."""
    signals = [
        _series("accounts", "error_rate", 0.002, 0.30, "e1"),
        _series("relay", "error_rate", 0.001, 0.60, "e2"),
        _series("sender", "error_rate", 0.0, 0.32, "e3"),
    ]
    if own_traffic_flat:
        signals.append(_series("accounts", "traffic", 85.0, 86.0, "e4"))
    components = {
        "relay": ComponentFacts(service="relay", distance=1, pods=PodFact(total=3, ready=3, restarts=0, evidence_id="p1")),
        "sender": ComponentFacts(service="sender", distance=2, shared=True, dependencies=["relay"],
                                 pods=PodFact(total=1, ready=1, restarts=0, evidence_id="p2")),
    }  # fmt: skip
    changes = [
        _change("deploy-accounts", "accounts", "deploy", 22, 0.6, 0),
        _change("deploy-sender", "sender", "deploy", 16, 0.4, 2),
    ]
    return _bundle(
        "accounts", {"accounts": ["relay"], "sender": ["relay"], "relay": []}, signals, components, changes=changes
    )


def test_a_caller_whose_calls_stayed_flat_is_not_the_one_that_loaded_the_shared_dependency() -> None:
    flat = diagnose_bundle(_shared_relay(own_traffic_flat=True))
    # The other caller's release is the load (a release: a bad deploy, not mere saturation).
    assert (flat.entity, flat.category, flat.change_id) == ("sender", "bad_deploy", "deploy-sender"), flat.root_cause
    # Without the measurement, the correlator's ranking decides: the alerting service's own release.
    unmeasured = diagnose_bundle(_shared_relay(own_traffic_flat=False))
    assert unmeasured.change_id == "deploy-accounts", unmeasured.root_cause


def test_a_cronjobs_release_behind_the_fault_suspends_its_schedule(tmp_path: Path) -> None:
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    job = JobTarget(service="sender", namespace="marketing", name="sender-29401170", owner="sender",
                    parallelism=1, evidence_id="j1")  # fmt: skip
    release = Diagnosis(root_cause="x", category="bad_deploy", entity="sender", confidence=0.8, change_id="deploy-7")
    options = remediation_options(release, None, ctx, None, job)
    assert [o.id for o in options] == ["suspend_cronjob", "stop_job"]
    assert options[0].tool == "kubernetes.suspend_cronjob"
    assert options[0].args == {"namespace": "marketing", "name": "sender"}
    assert choose_option(release, options).option_id == "suspend_cronjob"
    # The run itself is the cause (a Job started by hand, its start the change): only that run is stopped.
    started = release.model_copy(update={"change_id": "job-start-1"})
    hand = job.model_copy(update={"owner": None, "change_id": "job-start-1"})
    assert [o.id for o in remediation_options(started, None, ctx, None, hand)] == ["stop_job"]
    scheduled_run = job.model_copy(update={"change_id": "job-start-1"})
    assert [o.id for o in remediation_options(started, None, ctx, None, scheduled_run)] == ["stop_job"]


async def test_the_clusters_cordoned_nodes_are_read_with_their_evidence(tmp_path: Path) -> None:
    """Every cordoned node counts (the evicted pods are no longer on them); none cordoned, no fact."""
    service = Service(name="api", namespace="shop")
    ctx = agent_context(tmp_path, registry=kubernetes_registry(), services=[service])

    async def read(nodes: list[NodeState]) -> EvidenceBundle:
        alert = Alert(fingerprint="f", name="ApiReplicas", title="replicas", service="api", started_at=T0)
        collector = EvidenceCollector(IncidentState(id="INC-1", alert=alert, service="api"), service, ctx)
        collector.bundle.pods = PodFact(total=3, ready=2, restarts=0, nodes=["n3"])
        payload = NodeList(nodes=nodes, count=len(nodes), more_available=False)
        collector.node_list = ToolResult.with_payload(
            payload, tool="kubernetes.list_nodes", status="ok", query="list_nodes", summary="nodes"
        )
        await cluster._nodes(collector, [service])
        return collector.bundle

    drained = [
        NodeState(name="n1", ready=True, unschedulable=True, problems=["cordoned"]),
        NodeState(name="n2", ready=True, unschedulable=True, problems=["cordoned"]),
        NodeState(name="n3", ready=True),
    ]
    bundle = await read(drained)
    assert bundle.cordoned == ["n1", "n2"] and not bundle.nodes  # cordoned is no node problem of its own
    found = bundle.get(bundle.cordoned_evidence_id)
    assert found is not None and "n1, n2" in found.observation
    quiet = await read([NodeState(name="n3", ready=True)])
    assert quiet.cordoned == [] and not quiet.cordoned_evidence_id
