"""Finding the origin anywhere in the blast radius, and acting on it.

Each test builds a small world of one incident class (hand-built evidence, as the collector would
gather it) and checks that the deterministic reasoner names the origin, not the alerting service or
the first anomalous dependency, and that remediation acts on the origin's own Deployment.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from agents.analytics.anomaly import ComponentScore, MetricDeviation, rank_root_causes
from agents.evidence import (
    CertificateFact,
    ChangeFact,
    ComponentFacts,
    EvidenceBundle,
    LogFact,
    PodFact,
    SignalSummary,
)
from agents.investigation import root_deployment
from agents.reasoners.deterministic import choose_option, diagnose_bundle
from agents.remediation import remediation_options
from agents.state import Alert, DeploymentFact, Evidence
from knowledge.catalog import ServiceCatalog
from tests.agents.conftest import agent_context, kubernetes_registry

T0 = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
TIMES = [T0 - timedelta(minutes=30) + timedelta(minutes=i) for i in range(40)]  # onset at index 30


def _series(service: str, signal: str, before: float, after: float, evidence_id: str) -> SignalSummary:
    values = [before * (1 + 0.01 * (i % 3)) if t < T0 else after for i, t in enumerate(TIMES)]
    anomalous = after > before * 1.5 + 0.01
    return SignalSummary(
        service=service,
        signal=signal,
        query=f"{signal}({service})",
        baseline=before,
        current=after,
        peak=after,
        onset=T0 if anomalous else None,
        anomalous=anomalous,
        evidence_id=evidence_id,
        times=TIMES,
        values=values,
    )


def _silent(service: str, evidence_id: str) -> SignalSummary:
    return SignalSummary(service=service, query=f"error_rate({service})", evidence_id=evidence_id, missing=True)


def _log(service: str, example: str, evidence_id: str) -> LogFact:
    return LogFact(
        service=service, template=example, count_before=0, count_after=300, example=example, is_new=True,
        evidence_id=evidence_id,
    )  # fmt: skip


def _pods(evidence_id: str, healthy: bool = True) -> PodFact:
    return PodFact(
        total=3, ready=3 if healthy else 1, restarts=0 if healthy else 7,
        reasons=[] if healthy else ["CrashLoopBackOff"], evidence_id=evidence_id,
    )  # fmt: skip


def _deployment(name: str, replicas: int = 3) -> DeploymentFact:
    return DeploymentFact(
        namespace="shop", name=name, current_revision=8, previous_revision=7, replicas=replicas, evidence_id="k"
    )


def _bundle(
    service: str,
    graph: dict[str, list[str]],
    signals: list[SignalSummary],
    components: dict[str, ComponentFacts],
    *,
    changes: list[ChangeFact] = (),  # type: ignore[assignment]  # a tuple default, never mutated
    logs: list[LogFact] = (),  # type: ignore[assignment]
    pods: PodFact | None = None,
) -> EvidenceBundle:
    ids = {s.evidence_id for s in signals} | {c.evidence_id for c in changes} | {"k", "p0"}
    ids |= {log.evidence_id for log in logs} | {
        i for f in components.values() for i in [*(x.evidence_id for x in f.logs), f.pods.evidence_id if f.pods else ""]
    }
    primary = next(s for s in signals if s.service == service and s.signal == "error_rate")
    return EvidenceBundle(
        service=service,
        alert=Alert(fingerprint="f", name="HighErrorRate", title="5xx", service=service, started_at=T0),
        primary=primary,
        dependencies=[s for s in signals if s.service != service],
        own=[s for s in signals if s.service == service and s is not primary],
        changes=list(changes),
        logs=list(logs),
        pods=pods or _pods("p0"),
        deployment=_deployment(service),
        components=components,
        graph=graph,
        evidence=[
            Evidence(id=i, source="prometheus.query_range", query="q", observation="o") for i in sorted(ids) if i
        ],
    )


def _change(cid: str, service: str, kind: str, minutes: int, score: float, distance: int) -> ChangeFact:
    return ChangeFact(
        id=cid, kind=kind, service=service, at=T0 - timedelta(minutes=minutes), description=f"{kind} of {service}",
        distance=distance, score=score, evidence_id=f"ev-{cid}",
    )  # fmt: skip


def test_the_chain_is_followed_to_its_origin_and_its_own_release_is_rolled_back(tmp_path: Path) -> None:
    """Class 1 and 7: web -> api -> db. api fails most, db a little (load from api's release), web
    because of api. The first anomalous dependency of web is api, but the origin check must still
    stop at api (db cannot explain api's 45 % of errors), and the fix is api's rollback."""
    graph = {"web": ["api"], "api": ["db"], "db": []}
    signals = [
        _series("web", "error_rate", 0.002, 0.30, "s1"),
        _series("api", "error_rate", 0.001, 0.45, "s2"),
        _series("db", "error_rate", 0.0002, 0.03, "s3"),
        _series("db", "saturation", 0.4, 0.95, "s4"),
    ]
    components = {
        "api": ComponentFacts(service="api", distance=1, dependencies=["db"], pods=_pods("p1"), deployment=_deployment("api")),
        "db": ComponentFacts(service="db", kind="database", distance=2, pods=_pods("p2"), deployment=_deployment("db")),
    }  # fmt: skip
    changes = [
        _change("deploy-api-12", "api", "deploy", 22, 0.45, 1),
        _change("deploy-web-red-herring", "web", "deploy", 300, 0.3, 0),
    ]
    bundle = _bundle("web", graph, signals, components, changes=changes)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.change_id, diagnosis.inconclusive) == ("api", "deploy-api-12", False)
    assert any("deploy-web-red-herring" in r.what for r in diagnosis.ruled_out)
    target = root_deployment(bundle, diagnosis.entity)
    assert target is not None and target.name == "api"
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    options = remediation_options(diagnosis, target, ctx)
    choice = choose_option(diagnosis, options)
    chosen = next(o for o in options if o.id == choice.option_id)
    assert chosen.tool == "kubernetes.rollout_undo" and chosen.args["name"] == "api"


def _shared_database(worker: ComponentFacts, change: ChangeFact) -> EvidenceBundle:
    """auth -> db <- worker: the shared database out of connections; worker (undeclared by auth) changed."""
    graph = {"auth": ["db"], "worker": ["db"], "db": []}
    signals = [
        _series("auth", "error_rate", 0.002, 0.33, "s1"),
        _series("db", "error_rate", 0.0002, 0.35, "s2"),
        _series("db", "saturation", 0.45, 1.0, "s3"),
        _series("worker", "error_rate", 0.001, 0.001, "s4"),
    ]
    database = ComponentFacts(
        service="db", kind="database", distance=1, pods=_pods("p1"),
        logs=[_log("db", "FATAL:  sorry, too many clients already", "l1")],
    )  # fmt: skip
    return _bundle("auth", graph, signals, {"db": database, "worker": worker}, changes=[change])


def test_a_job_sharing_the_database_is_found_and_scaled_back(tmp_path: Path) -> None:
    """Class 2: auth -> db <- worker. worker is not in auth's dependencies; it was scaled from 4 to 20
    and took every connection of the shared database. The root is worker and the fix undoes the scale."""
    worker = ComponentFacts(
        service="worker", distance=2, dependencies=["db"], pods=_pods("p2"), deployment=_deployment("worker", replicas=20),
        scaled_from=4, scale_change="scale-worker-1",
    )  # fmt: skip
    bundle = _shared_database(worker, _change("scale-worker-1", "worker", "infrastructure", 17, 0.4, 2))
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == (
        "worker",
        "connection_pool",
        "scale-worker-1",
    )
    target = root_deployment(bundle, diagnosis.entity)
    assert target is not None and target.scaled_from == 4
    options = remediation_options(diagnosis, target, agent_context(tmp_path, registry=kubernetes_registry()))
    chosen = next(o for o in options if o.id == choose_option(diagnosis, options).option_id)
    assert chosen.tool == "kubernetes.scale" and chosen.args == {"namespace": "shop", "name": "worker", "replicas": 4}


def _provider_world(*, caller_pods_healthy: bool) -> EvidenceBundle:
    graph = {"gateway": ["provider", "vault"], "provider": [], "vault": []}
    signals = [
        _series("gateway", "error_rate", 0.002, 0.28, "s1"),
        _series("vault", "error_rate", 0.001, 0.001, "s2"),
        _silent("provider", "s3"),
    ]
    components = {
        "provider": ComponentFacts(service="provider", kind="external", distance=1),
        "vault": ComponentFacts(service="vault", distance=1, pods=_pods("p1"), deployment=_deployment("vault")),
    }
    logs = [
        _log("gateway", "ERROR AuthClient - POST https://api.acquirer.test/v3/auth -> 503 Service Unavailable", "l1")
    ]
    changes = [_change("deploy-gateway-9", "gateway", "deploy", 40, 0.45, 0)]
    return _bundle(
        "gateway", graph, signals, components, changes=changes, logs=logs, pods=_pods("p0", caller_pods_healthy)
    )


def test_a_silent_third_party_is_a_lead_not_a_healthy_dependency(tmp_path: Path) -> None:
    """Class 3 and 4: the provider exports nothing; its only caller fails its outbound calls with
    503s. The provider is the root (third party, nothing to roll back), the caller's recent release a
    red herring, and no action is offered."""
    bundle = _provider_world(caller_pods_healthy=True)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.inconclusive) == ("provider", "third_party", False)
    assert any("deploy-gateway-9" in r.what for r in diagnosis.ruled_out)
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    assert remediation_options(diagnosis, root_deployment(bundle, diagnosis.entity), ctx) == []


def test_a_crashing_caller_is_not_a_victim_of_its_silent_callee() -> None:
    """The same world with the caller's pods crash-looping: its failed calls may be its own doing, so
    the silent provider no longer explains it and is not named as a confident third-party cause."""
    diagnosis = diagnose_bundle(_provider_world(caller_pods_healthy=False))
    assert not (diagnosis.entity == "provider" and diagnosis.category == "third_party" and not diagnosis.inconclusive)


def _score(component: str, value: float) -> ComponentScore:
    deviation = MetricDeviation(
        metric="error_rate", kind="error_rate", direction="up", baseline_value=0.0, peak_value=value,
        peak_time=T0, effect=value, score=value / 0.0005, scale=0.0005, scale_source="floor", change="up",
    )  # fmt: skip
    return ComponentScore(
        component=component, score=value / 0.0005, kind_scores={"error_rate": value / 0.0005},
        top_metric="error_rate", deviations=[deviation], reason="up",
    )  # fmt: skip


def test_the_graph_ranker_infers_a_silent_callee_only_when_all_its_callers_move() -> None:
    graph = {"a": ["x"], "b": ["x"], "x": []}
    both = rank_root_causes([_score("a", 0.3), _score("b", 0.2)], graph, "a", also=["b"], silent={"x": 1.0})
    assert both.candidates[0].component == "x" and not both.abstained
    assert "inferred anomaly" in both.candidates[0].reasons[0]
    one = rank_root_causes([_score("a", 0.3), _score("b", 0.0)], graph, "a", also=["b"], silent={"x": 1.0})
    assert one.candidates[0].component == "a"
    silent_row = next(c for c in one.candidates if c.component == "x")
    assert "unknown, not healthy" in silent_row.reasons[0]
    without = rank_root_causes([_score("a", 0.3), _score("b", 0.2)], graph, "a")
    assert "b" not in {c.component for c in without.candidates}  # not a candidate unless named in `also`


def test_the_neighbourhood_walks_callers_and_callees() -> None:
    catalog = ServiceCatalog.from_mapping(
        {"services": {"auth": {"dependencies": ["db"]}, "worker": {"dependencies": ["db"]}, "db": {}, "far": {"dependencies": ["worker"]}}}
    )  # fmt: skip
    assert catalog.neighbourhood("auth") == {"auth": 0, "db": 1, "worker": 2, "far": 3}
    assert catalog.neighbourhood("auth", max_hops=2) == {"auth": 0, "db": 1, "worker": 2}
    assert catalog.blast_radius("auth") == {"auth": 0, "db": 1}  # the callees only, as before


def test_a_dependency_with_its_pods_down_is_judged_by_its_callers_not_its_stale_sli(tmp_path: Path) -> None:
    """Class 3: rates rolls out a release that crash-loops; its own error SLI stays flat (the dead
    pods export nothing new), the caller's errors name it. The caller's own older release is the
    red herring; the fix rolls back rates, not the caller."""
    graph = {"checkout": ["rates", "promo"], "rates": [], "promo": []}
    signals = [
        _series("checkout", "error_rate", 0.002, 0.5, "s1"),
        _series("rates", "error_rate", 0.001, 0.0012, "s2"),
        _series("promo", "error_rate", 0.001, 0.001, "s3"),
    ]
    crashing = PodFact(total=2, ready=0, restarts=6, reasons=["CrashLoopBackOff"], evidence_id="p1")
    components = {
        "rates": ComponentFacts(
            service="rates", distance=1, pods=crashing, deployment=_deployment("rates"),
            logs=[_log("rates", 'panic: config: required environment variable "FEED_URL" is not set', "l2")],
        ),
        "promo": ComponentFacts(service="promo", distance=1, pods=_pods("p2"), deployment=_deployment("promo")),
    }  # fmt: skip
    logs = [
        _log("checkout", 'msg="quote failed" err="dial tcp rates.shop.svc:8080: connect: connection refused"', "l1")
    ]
    changes = [
        _change("deploy-checkout-3", "checkout", "deploy", 16, 0.62, 0),
        _change("deploy-rates-2", "rates", "config", 3, 0.6, 1),
    ]
    bundle = _bundle("checkout", graph, signals, components, changes=changes, logs=logs)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.change_id, diagnosis.inconclusive) == ("rates", "deploy-rates-2", False)
    target = root_deployment(bundle, diagnosis.entity, diagnosis.category)
    options = remediation_options(diagnosis, target, agent_context(tmp_path, registry=kubernetes_registry()))
    chosen = next(o for o in options if o.id == choose_option(diagnosis, options).option_id)
    assert chosen.tool == "kubernetes.rollout_undo" and chosen.args["name"] == "rates"


def test_an_alerting_service_whose_callers_all_fail_is_not_closed_as_healthy() -> None:
    """Class 3, the other way round: the alerting service's own SLI is flat (a scrape gap), but its
    only caller fails since its release. Not a false alarm: its release is the lead."""
    graph = {"gateway": ["vault"], "vault": []}
    signals = [_series("vault", "error_rate", 0.001, 0.001, "s1"), _series("gateway", "error_rate", 0.003, 0.16, "s2")]
    bundle = _bundle(
        "vault", graph, signals, {"gateway": ComponentFacts(service="gateway", distance=1, pods=_pods("p1"))},
        changes=[_change("deploy-vault-7", "vault", "deploy", 4, 0.6, 0)],
    )  # fmt: skip
    diagnosis = diagnose_bundle(bundle)
    assert diagnosis.category not in ("no_incident", "recovered")
    assert (diagnosis.entity, diagnosis.change_id) == ("vault", "deploy-vault-7")


def test_a_failover_blames_the_datastore_and_restarts_its_clients(tmp_path: Path) -> None:
    """Class 7: after a database failover the service writes to the demoted primary. The entity is
    the database (its SLI burst at the onset); the fix restarts the clients, never the database."""
    graph = {"orders": ["db"], "db": []}
    db_burst = _series("db", "error_rate", 0.0003, 0.05, "s2").model_copy(update={"current": 0.0003})
    signals = [_series("orders", "error_rate", 0.002, 0.45, "s1"), db_burst]
    components = {
        "db": ComponentFacts(service="db", kind="database", distance=1, pods=_pods("p1"), deployment=_deployment("db"))
    }
    logs = [_log("orders", "ERROR SqlExceptionHelper - ERROR: cannot execute INSERT in a read-only transaction", "l1")]
    bundle = _bundle("orders", graph, signals, components, logs=logs)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category) == ("db", "failover")
    target = root_deployment(bundle, diagnosis.entity, diagnosis.category)
    options = remediation_options(diagnosis, target, agent_context(tmp_path, registry=kubernetes_registry()))
    assert [(o.tool, o.args["name"]) for o in options] == [("kubernetes.rollout_restart", "orders")]


def test_a_traffic_surge_without_a_change_is_scaled(tmp_path: Path) -> None:
    """Class 5: five times the requests and capacity warnings in the logs, no change: a traffic
    surge (scale out), not resource exhaustion."""
    signals = [
        _series("signup", "error_rate", 0.003, 0.14, "s1"),
        _series("signup", "traffic", 40.0, 200.0, "s2"),
        _series("db", "error_rate", 0.0003, 0.0003, "s3"),
    ]
    logs = [_log("signup", "WARNING: [pool www] server reached pm.max_children setting (24)", "l1")]
    bundle = _bundle("signup", {"signup": ["db"], "db": []}, signals, {"db": ComponentFacts(service="db")}, logs=logs)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category) == ("signup", "traffic_surge")
    options = remediation_options(diagnosis, bundle.deployment, agent_context(tmp_path, registry=kubernetes_registry()))
    assert [o.tool for o in options] == ["kubernetes.scale"] and options[0].args["replicas"] > 3


def test_capacity_removed_an_hour_before_is_the_lead_and_is_given_back(tmp_path: Path) -> None:
    """Class 9: a scale-down 65 minutes before the onset (the failure waited for the lunchtime load)
    is not ruled out as too old; undoing it restores the replicas it removed."""
    signals = [_series("quotes", "error_rate", 0.003, 0.08, "s1")]
    deployment = _deployment("quotes", replicas=2).model_copy(
        update={"scaled_from": 6, "scale_change": "scale-down-quotes-74d56fa"}
    )
    bundle = _bundle(
        "quotes", {"quotes": []}, signals, {},
        changes=[_change("scale-down-quotes-74d56fa", "quotes", "scale_down", 65, 0.33, 0)],
    ).model_copy(update={"deployment": deployment})  # fmt: skip
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.inconclusive) == ("quotes", "resource_exhaustion", False)
    options = remediation_options(diagnosis, deployment, agent_context(tmp_path, registry=kubernetes_registry()))
    chosen = next(o for o in options if o.id == choose_option(diagnosis, options).option_id)
    assert chosen.tool == "kubernetes.scale" and chosen.args["replicas"] == 6


def test_a_crash_loop_without_a_release_behind_it_gets_no_restart(tmp_path: Path) -> None:
    """A poison message crash-loops a consumer: Kubernetes restarts it already, so one more restart
    is no fix; with a release behind the crash, the rollback stays on offer."""
    from agents.state import Diagnosis

    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    looping = _deployment("scorer").model_copy(update={"crash_looping": True})
    crash = Diagnosis(root_cause="panic on an event", category="crash", entity="scorer", confidence=0.8)
    assert remediation_options(crash, looping, ctx) == []
    assert [o.tool for o in remediation_options(crash, _deployment("scorer"), ctx)] == ["kubernetes.rollout_restart"]
    released = crash.model_copy(update={"change_id": "deploy-scorer-4"})
    assert [o.tool for o in remediation_options(released, looping, ctx)] == ["kubernetes.rollout_undo"]


def test_timeouts_and_quotas_do_not_read_as_capacity_problems() -> None:
    """Class 5: a partition's "context deadline exceeded" is not resource exhaustion, and a quota
    someone enforces on us ("429 Too Many Requests: quota exceeded") is not a traffic surge; neither
    may lead to a scale-up. Real starvation and real overload still do."""
    from agents.reasoners.deterministic import symptom_hypotheses

    def categories(line: str) -> list[str]:
        bundle = _bundle(
            "api", {"api": []}, [_series("api", "error_rate", 0.001, 0.2, "s1")], {}, logs=[_log("api", line, "l1")]
        )
        return [h.category for h in symptom_hypotheses(bundle)]

    assert categories('rpc error: code = DeadlineExceeded desc = context deadline exceeded (read "ledger:9090")') == []
    assert categories("POST https://maps.example/v1/geocode -> 429 Too Many Requests: quota exceeded") == []
    assert categories("GCE API error: RESOURCE_EXHAUSTED: Quota 'CPUS' exceeded, too many requests") == []
    assert categories("WARN cpu throttling: 83% of periods throttled, thread starvation detected") == [
        "resource_exhaustion"
    ]
    assert categories("503 shedding load: server overloaded") == ["traffic_surge"]


def test_a_callers_release_is_not_blamed_for_a_datastore_failing_on_its_own() -> None:
    """The load rule's limit: the database's disk is full (its own failure mode), and the caller
    shipped a release 20 minutes before. The database is the root, the release a red herring."""
    graph = {"api": ["db"], "db": []}
    signals = [
        _series("api", "error_rate", 0.002, 0.3, "s1"),
        _series("db", "error_rate", 0.0002, 0.32, "s2"),
        _series("db", "saturation", 0.3, 0.35, "s3"),
    ]
    components = {
        "db": ComponentFacts(
            service="db", kind="database", distance=1, pods=_pods("p1"), deployment=_deployment("db"),
            logs=[_log("db", "PANIC: could not write to file pg_wal/xlogtemp.41: No space left on device", "l1")],
        )
    }  # fmt: skip
    bundle = _bundle("api", graph, signals, components, changes=[_change("deploy-api-5", "api", "deploy", 20, 0.6, 0)])
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("db", "disk_full", "")


def test_shared_infrastructure_outside_the_call_graph_is_a_candidate(tmp_path: Path) -> None:
    """Class 2: nobody declares the cluster resolver as a dependency; it moved with the alerting
    service right after a configuration rollout, and the service's errors are failed lookups. The
    resolver is the root (dns), its rollout the change, its rollback the fix."""
    catalog = ServiceCatalog.from_mapping(
        {"services": {"wallet": {"dependencies": ["wallet-db"]}, "wallet-db": {}, "resolver": {}}}
    )
    assert set(catalog.neighbourhood("wallet")) == {"wallet", "wallet-db"}  # not in the call graph
    graph = {"wallet": ["wallet-db"], "wallet-db": []}
    signals = [
        _series("wallet", "error_rate", 0.002, 0.26, "s1"),
        _series("wallet-db", "error_rate", 0.0002, 0.0002, "s2"),
        _series("resolver", "error_rate", 0.0005, 0.34, "s3"),
    ]
    components = {
        "wallet-db": ComponentFacts(service="wallet-db", kind="database", distance=1, pods=_pods("p1")),
        "resolver": ComponentFacts(
            service="resolver", distance=4, shared=True, pods=_pods("p2"), deployment=_deployment("resolver")
        ),
    }
    logs = [_log("wallet", 'err="dial tcp: lookup wallet-db.wallet.svc.cluster.local: no such host"', "l1")]
    changes = [
        _change("rollout-resolver-9", "resolver", "config", 6, 0.45, 4),
        _change("deploy-wallet-11", "wallet", "deploy", 180, 0.3, 0),
    ]
    bundle = _bundle("wallet", graph, signals, components, changes=changes, logs=logs)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("resolver", "dns", "rollout-resolver-9")
    target = root_deployment(bundle, diagnosis.entity, diagnosis.category)
    options = remediation_options(diagnosis, target, agent_context(tmp_path, registry=kubernetes_registry()))
    chosen = next(o for o in options if o.id == choose_option(diagnosis, options).option_id)
    assert chosen.tool == "kubernetes.rollout_undo" and chosen.args["name"] == "resolver"


def test_a_caller_whose_own_trouble_dominates_its_logs_is_not_a_victim_of_its_silent_callee() -> None:
    """Most of the caller's new lines are its own backlog; a minority are timeouts to the silent
    relay. The relay is not inferred as the confident cause; the caller's release leads."""
    bundle = _provider_world(caller_pods_healthy=True)
    backlog = LogFact(
        service="gateway", template="message <*> waited <*>s in queue (SLA 300s)", count_before=100,
        count_after=600, example="WARNING consumer message 1ba5 waited 2431s in queue (SLA 300s)", is_new=False,
        evidence_id="l2",
    )  # fmt: skip
    bundle = bundle.model_copy(update={"logs": [*bundle.logs, backlog]})
    bundle.evidence.append(Evidence(id="l2", source="loki.query_range", query="q", observation="o"))
    diagnosis = diagnose_bundle(bundle)
    assert not (diagnosis.entity == "provider" and not diagnosis.inconclusive)
    assert diagnosis.entity == "gateway"


def test_the_mechanism_the_callers_see_names_the_origins_change() -> None:
    """A dependency's configuration rollout, nothing in its own logs, and its caller's errors are
    failed lookups: the category is dns (the mechanism), the rollout its trigger (kept for the undo)."""
    graph = {"wallet": ["resolver"], "resolver": []}
    signals = [
        _series("wallet", "error_rate", 0.002, 0.26, "s1"),
        _series("resolver", "error_rate", 0.0005, 0.34, "s2"),
    ]
    components = {
        "resolver": ComponentFacts(service="resolver", distance=1, pods=_pods("p1"), deployment=_deployment("resolver"))
    }
    logs = [
        _log("wallet", 'err="dial tcp: lookup fx.wallet.svc.cluster.local on 10.96.0.10:53: server misbehaving"', "l1")
    ]
    changes = [_change("rollout-resolver-9", "resolver", "config", 6, 0.5, 1)]
    diagnosis = diagnose_bundle(_bundle("wallet", graph, signals, components, changes=changes, logs=logs))
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("resolver", "dns", "rollout-resolver-9")


def test_a_shared_policy_repositorys_change_triggers_the_crash_it_precedes(tmp_path: Path) -> None:
    """Class 4: a change from a repository that names no component (a policies or config bundle) is
    read where the failure shows; when the service's pods then crash-loop, the crash is that change's
    failure (a configuration change), not a crash of unknown cause."""
    graph = {"gate": []}
    signals = [_series("gate", "error_rate", 0.002, 0.9, "s1")]
    policy = _change("run-publish-policies", "gate", "config", 14, 0.45, 0).model_copy(update={"touches_all": True})
    bundle = _bundle("gate", graph, signals, {}, changes=[policy], pods=_pods("p9", healthy=False))
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("gate", "config_change", policy.id)
    own_only = bundle.model_copy(update={"changes": [policy.model_copy(update={"touches_all": False, "distance": 1})]})
    assert diagnose_bundle(own_only).category == "crash"  # a neighbour's change is no trigger of this crash


def test_the_workflow_run_and_the_deployment_of_one_commit_are_one_change() -> None:
    """A workflow run and the deployment it made carry the same sha: one hypothesis citing both, not
    two rivals that tie."""
    graph = {"api": []}
    signals = [_series("api", "error_rate", 0.002, 0.3, "s1")]
    sha = "f78d45d6cf445a9ef1fd3f3c814ea20d46da8d1a"
    run = _change("run-1", "api", "config", 8, 0.6, 0).model_copy(update={"ref": sha})
    deploy = _change("deploy-1", "api", "config", 10, 0.6, 0).model_copy(update={"ref": sha[:7]})
    diagnosis = diagnose_bundle(_bundle("api", graph, signals, {}, changes=[run, deploy]))
    assert not diagnosis.inconclusive and diagnosis.change_id == "run-1"
    assert "shipped with" in diagnosis.root_cause and "ev-deploy-1" in {e.id for e in diagnosis.evidence}
    assert [c.change_id for c in diagnosis.candidates].count("deploy-1") == 0


def _stalled(service: str, evidence_id: str) -> SignalSummary:
    """Throughput that fell from 30/s to under 1/s at the onset and stays there (errors: none)."""
    values = [30.0 * (1 + 0.01 * (i % 3)) if t < T0 else 0.3 for i, t in enumerate(TIMES)]
    return SignalSummary(
        service=service, signal="traffic", query=f"traffic({service})", baseline=30.0, current=0.3, peak=0.3,
        onset=T0, anomalous=True, falling=True, evidence_id=evidence_id, times=TIMES, values=values,
    )  # fmt: skip


def test_a_consumer_that_stops_without_errors_is_a_stall_not_a_recovery(tmp_path: Path) -> None:
    """Class 8 (a traffic drop is a signal) and the stalled consumer: the throughput fell, nothing
    errs, pods are ready. With its own release behind it the release is rolled back; without one it
    is restarted (fresh connections), and never scaled (more consumers stall too)."""
    graph = {"exporter": ["broker"], "broker": []}
    stall = _stalled("exporter", "s1")
    errors = _series("exporter", "error_rate", 0.001, 0.001, "s2")
    components = {"broker": ComponentFacts(service="broker", kind="queue", distance=1, pods=_pods("p1"))}
    release = _change("rollout-exporter-41", "exporter", "deploy", 300, 0.26, 0)
    herring = _change("deploy-api", "api", "deploy", 120, 0.2, 1)
    bundle = _bundle("exporter", graph, [errors, stall], components, changes=[release, herring]).model_copy(
        update={"primary": stall}
    )
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.entity, diagnosis.category, diagnosis.stalled) == ("exporter", "queue_backlog", True)
    assert diagnosis.change_id == release.id and not diagnosis.inconclusive
    ctx = agent_context(tmp_path, registry=kubernetes_registry())
    options = remediation_options(diagnosis, _deployment("exporter"), ctx)
    assert options[0].tool == "kubernetes.rollout_undo" and choose_option(diagnosis, options).option_id == "rollback"
    assert "kubernetes.scale" not in [o.tool for o in options]

    no_release = diagnose_bundle(bundle.model_copy(update={"changes": [herring]}))
    assert (no_release.category, no_release.stalled, no_release.change_id) == ("queue_backlog", True, "")
    options = remediation_options(no_release, _deployment("exporter"), ctx)
    assert [o.tool for o in options] == ["kubernetes.rollout_restart"]


def _config_world(change_text: str, log_line: str) -> EvidenceBundle:
    graph = {"mailer": ["render"], "render": []}
    signals = [_series("mailer", "error_rate", 0.003, 0.8, "s1"), _series("render", "error_rate", 0.002, 0.002, "s2")]
    components = {"render": ComponentFacts(service="render", distance=1, pods=_pods("p1"))}
    change = _change("configmap-x-2", "mailer", "config", 20, 0.5, 0).model_copy(update={"description": change_text})
    return _bundle("mailer", graph, signals, components, changes=[change], logs=[_log("mailer", log_line, "l1")])


def test_a_config_change_is_named_by_the_mechanism_only_when_it_configures_it() -> None:
    """Class 7 (specific categories): a trust bundle rewritten without an intermediate, then TLS
    verification failing, is a certificate failure triggered by the write; a URL pointed at the wrong
    host that then fails verification is a configuration error. Either way the write is the change
    to revert."""
    tls = "POST https://render:8443 failed: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    bundle = _config_world("configmap billing/ca-bundle written (keys changed: ca.crt): R4 only", tls)
    diagnosis = diagnose_bundle(bundle)
    assert (diagnosis.category, diagnosis.change_id) == ("certificate", "configmap-x-2")
    url = _config_world("rollout with FX_RATES_URL=https://fx.staging.example/v2", tls)
    diagnosis = diagnose_bundle(url)
    assert (diagnosis.category, diagnosis.change_id) == ("config_change", "configmap-x-2")


def test_a_change_to_how_traffic_flows_then_timeouts_is_a_network_fault() -> None:
    """Class 5 and 7: egress policies or mesh routing changed, then the service's calls time out: the
    category is the network path, not "a bad deploy" or "resource exhaustion"; without timeouts in its
    logs the same change stays a configuration change."""
    timeout = "POST http://ledger.core.svc:8080/v1/entries failed: HttpConnectTimeoutException: timed out"
    bundle = _config_world("apply network policies: default-deny egress with an explicit allow-list", timeout)
    assert diagnose_bundle(bundle).category == "network"
    quiet = _config_world("apply network policies: default-deny egress with an explicit allow-list", "ERROR bad input")
    assert diagnose_bundle(quiet).category == "config_change"


def test_a_second_round_that_finds_another_cause_names_both() -> None:
    """Two faults at once: the first round's fix ran and verification failed; the second round finds a
    different cause still failing. Both were causes: the record names the first as contributing."""
    from agents.state import Hypothesis

    graph = {"feed": ["recs"], "recs": []}
    signals = [_series("feed", "error_rate", 0.002, 0.12, "s1"), _series("recs", "error_rate", 0.002, 0.002, "s2")]
    components = {"recs": ComponentFacts(service="recs", distance=1, pods=_pods("p1"), deployment=_deployment("recs"))}
    release = _change("deploy-feed-62", "feed", "deploy", 9, 0.7, 0)
    bundle = _bundle("feed", graph, signals, components, changes=[release])
    earlier = Hypothesis(entity="recs", category="oom", description="found and acted on first: recs OOMKilled")
    diagnosis = diagnose_bundle(bundle.model_copy(update={"earlier": earlier}))
    assert (diagnosis.entity, diagnosis.change_id) == ("feed", "deploy-feed-62")
    assert [(c.entity, c.category) for c in diagnosis.contributing] == [("recs", "oom")]
    assert diagnose_bundle(bundle).contributing == []  # a first round names no earlier cause


def test_a_release_whose_failure_spreads_through_several_components_is_a_cascade(tmp_path: Path) -> None:
    """Class 6: a dependency's release saturates its database and fails the caller in between before
    the alerting front end: a cascade (still rolled back at the release). The same release failing only
    its own database, or failing on its own with its callers relaying the errors, is a bad deploy."""
    graph = {"web": ["search", "listings"], "search": ["listings"], "listings": ["db"], "db": []}
    signals = [
        _series("web", "error_rate", 0.002, 0.30, "s1"),
        _series("listings", "error_rate", 0.001, 0.45, "s2"),
        _series("search", "error_rate", 0.002, 0.27, "s3"),
        _series("db", "saturation", 0.4, 0.97, "s4"),
    ]
    components = {
        "search": ComponentFacts(service="search", distance=1, dependencies=["listings"], pods=_pods("p1"), deployment=_deployment("search")),
        "listings": ComponentFacts(service="listings", distance=1, dependencies=["db"], pods=_pods("p2"), deployment=_deployment("listings")),
        "db": ComponentFacts(service="db", kind="database", distance=2, pods=_pods("p3"), deployment=_deployment("db")),
    }  # fmt: skip
    release = _change("deploy-listings-12", "listings", "deploy", 22, 0.8, 1)
    diagnosis = diagnose_bundle(_bundle("web", graph, signals, components, changes=[release]))
    assert (diagnosis.entity, diagnosis.category, diagnosis.change_id) == ("listings", "cascading", release.id)
    options = remediation_options(
        diagnosis, _deployment("listings"), agent_context(tmp_path, registry=kubernetes_registry())
    )
    assert options[0].tool == "kubernetes.rollout_undo"
    contained = [s for s in signals if s.service != "search"] + [_series("search", "error_rate", 0.002, 0.002, "s3")]
    diagnosis = diagnose_bundle(_bundle("web", graph, contained, components, changes=[release]))
    assert (diagnosis.entity, diagnosis.category) == ("listings", "bad_deploy")
    # Its callers relaying its errors, its own database fine: a bad release seen from above, not a cascade.
    # (two callers in between fail, as many as in the cascade above)
    relayed = [s for s in signals if s.service != "db"] + [
        _series("db", "saturation", 0.4, 0.4, "s4"),
        _series("feed", "error_rate", 0.002, 0.25, "s5"),
    ]
    fanned = {**graph, "web": ["search", "feed", "listings"], "feed": ["listings"]}
    feed = ComponentFacts(service="feed", distance=1, dependencies=["listings"], pods=_pods("p4"), deployment=_deployment("feed"))  # fmt: skip
    diagnosis = diagnose_bundle(_bundle("web", fanned, relayed, {**components, "feed": feed}, changes=[release]))
    assert (diagnosis.entity, diagnosis.category) == ("listings", "bad_deploy"), diagnosis.root_cause


def test_a_certificate_measured_expired_at_the_onset_is_the_cause_not_the_silent_callee() -> None:
    """Class 3 and 5: the same world, with the caller's own client certificate toward the provider
    expiring five minutes before the onset (its expiry metric says so). The handshakes the provider
    resets are the caller's certificate's: the caller is the root, certificate the category."""
    bundle = _provider_world(caller_pods_healthy=True)
    expired = CertificateFact(
        service="gateway", subject="secret=acquirer-client-cert", not_after=T0 - timedelta(minutes=5), evidence_id="c1"
    )
    with_cert = bundle.model_copy(
        update={
            "certificates": [expired],
            "evidence": [*bundle.evidence, Evidence(id="c1", source="prometheus.query", query="q", observation="o")],
        }
    )
    diagnosis = diagnose_bundle(with_cert)
    assert (diagnosis.entity, diagnosis.category, diagnosis.inconclusive) == ("gateway", "certificate", False)
    assert "acquirer-client-cert" in diagnosis.root_cause
    # one that expired a day before the onset is no lead: the provider stays the root
    stale = with_cert.model_copy(
        update={"certificates": [expired.model_copy(update={"not_after": T0 - timedelta(days=1)})]}
    )
    assert diagnose_bundle(stale).entity == "provider"


def _waiting_world(*, api_pods_healthy: bool) -> EvidenceBundle:
    """web -> api -> store: the store got slow (p99 x6) and fails a little; api, retrying with short
    timeouts, fails a fifth of its calls and leads an error-rate ranking; the store's replicas were
    halved by an infrastructure change an hour and a half before; api has a release of its own."""
    graph = {"web": ["api"], "api": ["store"], "store": []}
    signals = [
        _series("web", "error_rate", 0.002, 0.18, "s1"),
        _series("api", "error_rate", 0.001, 0.22, "s2"),
        _series("api", "latency_p99", 0.08, 2.3, "s3"),
        _series("store", "error_rate", 0.0005, 0.04, "s4"),
        _series("store", "latency_p99", 0.017, 0.1, "s5"),
    ]
    components = {
        "api": ComponentFacts(service="api", distance=1, dependencies=["store"], pods=_pods("p1", api_pods_healthy), deployment=_deployment("api")),
        "store": ComponentFacts(service="store", kind="cache", distance=2, pods=_pods("p2"), deployment=_deployment("store")),
    }  # fmt: skip
    changes = [
        _change("run-infra-88", "store", "infrastructure", 100, 0.45, 2),
        _change("deploy-api-15", "api", "deploy", 38, 0.4, 1),
    ]
    return _bundle("web", graph, signals, components, changes=changes)


def test_the_slow_dependency_a_retrying_caller_waits_on_is_the_origin_not_the_loudest_caller() -> None:
    """Class 1 and 6: the error-rate ranking leads with api (it fails most), but api waits on a store
    several times slower than usual and has no failure of its own: the store, and its own change, are
    where the failure starts; api's release and its anomaly are on the way, not rivals."""
    diagnosis = diagnose_bundle(_waiting_world(api_pods_healthy=True))
    assert (diagnosis.entity, diagnosis.change_id, diagnosis.inconclusive) == ("store", "run-infra-88", False)
    crashing = diagnose_bundle(_waiting_world(api_pods_healthy=False))
    assert crashing.entity != "store" or crashing.inconclusive  # api failing on its own stays a suspect


def test_a_callers_release_loads_the_database_only_when_it_lands_near_the_onset() -> None:
    """The same shared database out of connections, with a release of the other caller instead of a
    scale-up: ten minutes before the onset it may be the new load; forty minutes before, its pods had
    served the old load long before the database filled, so it brought none."""

    def diagnosis_with_release(minutes: int) -> tuple[str, str]:
        worker = ComponentFacts(
            service="worker", distance=2, dependencies=["db"], pods=_pods("p2"), deployment=_deployment("worker")
        )
        diagnosis = diagnose_bundle(
            _shared_database(worker, _change("deploy-worker-7", "worker", "deploy", minutes, 0.4, 2))
        )
        return diagnosis.entity, diagnosis.change_id

    assert diagnosis_with_release(10) == ("worker", "deploy-worker-7")
    assert diagnosis_with_release(40) != ("worker", "deploy-worker-7")
