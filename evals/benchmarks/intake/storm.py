"""A synthetic alert storm with known ground truth, for ``firstline intake bench``.

The estate: 30 business domains, each with a database, an API and a worker (workers also use a
shared Kafka), plus six front ends that call several domain APIs, a shared auth API and a session
Redis; about 100 services, written as catalog dependencies. Over the storm's span (6 hours per
100,000 alerts) it plays, in the real wire formats of all seven sources:

- one **cascade**: a domain database fails; its API, its worker and the front ends that call the
  API fire error-rate and latency alerts within minutes, re-sent every 30 s, then recover;
- **service incidents**: one service, 1–3 rules over 5–30 instances, re-sent every 30–60 s, some
  escalating to a critical rule midway, then resolved;
- **flapping** rules: 5–15 pods of a service each toggling every one to two and a half minutes;
- **background** alerts: small, unrelated, warnings and info, some in staging, on any service at any
  time (when one lands on a service that has an incident, it is merged in and counts against purity);
- a **Watchdog** that always fires (a suppression rule expects it) and alerts during a
  **maintenance window** (expected suppressed: no truth);
- duplicate deliveries (2 %), as senders retry.

Service incidents and flapping rules never overlap in time on one service (nor with the cascade):
two simultaneous problems on one service are indistinguishable from one, so such truth could not be
recovered from the alerts. Each line carries ``truth``: the scenario it belongs to. Alert names, descriptions and severities
come from a Prometheus alert-rule collection when one is given (``--rules``, the YAML of
awesome-prometheus-alerts), else from a small built-in list.
"""

from __future__ import annotations

import heapq
import json
import random
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

START = 1_795_000_000.0  # 2026-11-18T09:46:40Z, any fixed instant works
DOMAINS = [
    "orders",
    "payments",
    "users",
    "catalog",
    "search",
    "inventory",
    "shipping",
    "billing",
    "notifications",
    "reviews",
    "recommendations",
    "pricing",
    "cart",
    "fraud",
    "ledger",
    "media",
    "analytics",
    "reports",
    "accounts",
    "loyalty",
    "coupons",
    "returns",
    "tax",
    "warehouse",
    "suppliers",
    "content",
    "messaging",
    "identity",
    "invoicing",
    "subscriptions",
]
FRONTENDS = ["web", "mobile-bff", "admin-ui", "partner-gateway", "public-api", "graphql-gateway"]
SOURCE_MIX = [
    ("alertmanager", 55),
    ("grafana", 10),
    ("pagerduty", 10),
    ("datadog", 10),
    ("generic", 8),
    ("cloudwatch", 4),
    ("opsgenie", 3),
]
ROUTING_KEY = "0123456789abcdef0123456789abcdef"
BUSY_MARGIN = 30 * 60.0  # the engine's default grouping window


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    description: str
    severity: str


BUILTIN_RULES: dict[str, list[Rule]] = {
    "database": [
        Rule("PostgresqlDown", "PostgreSQL instance is down", "critical"),
        Rule("PostgresqlTooManyConnections", "PostgreSQL instance has too many connections (> 80%).", "warning"),
        Rule("PostgresqlReplicationLag", "PostgreSQL replication lag is going up (> 30s)", "critical"),
        Rule("MysqlSlowQueries", "MySQL server has new slow queries.", "warning"),
        Rule("RedisOutOfMemory", "Redis is running out of memory (> 90%)", "warning"),
    ],
    "queue": [
        Rule("KafkaTopicsReplicas", "Kafka topic in-sync partition", "critical"),
        Rule("KafkaConsumersGroupLag", "Kafka consumers group lag is high", "warning"),
        Rule("RabbitmqTooManyUnackMessages", "Too many unacknowledged messages", "warning"),
    ],
    "app": [
        Rule("NginxHighHttp5xxErrorRate", "Too many HTTP requests with status 5xx (> 5%)", "critical"),
        Rule("KubernetesPodCrashLooping", "Pod is crash looping", "warning"),
        Rule("JvmMemoryFillingUp", "JVM memory is filling up (> 80%)", "warning"),
        Rule("KubernetesContainerOomKiller", "Container has been OOMKilled", "warning"),
        Rule("EnvoyHighLatency", "Upstream request latency p99 above 1s", "warning"),
    ],
    "host": [
        Rule("HostOutOfDiskSpace", "Disk is almost full (< 10% left)", "warning"),
        Rule("HostHighCpuLoad", "CPU load is > 80%", "warning"),
        Rule("HostClockSkew", "Clock skew detected. Clock is out of sync.", "warning"),
        Rule("SslCertificateExpiry", "SSL certificate expires in less than 20 days", "warning"),
        Rule("HostSystemdServiceCrashed", "systemd service crashed", "info"),
    ],
}
SYMPTOMS = [
    Rule("HighErrorRate", "5xx ratio above 5% for 5 minutes", "critical"),
    Rule("HighLatencyP99", "p99 latency above 1s for 5 minutes", "warning"),
]
_GROUP_KINDS = {
    "Databases": "database",
    "Message brokers": "queue",
    "Proxies, load balancers and service meshes": "app",
    "Runtimes": "app",
    "Orchestrators": "app",
    "Basic resource monitoring": "host",
    "Storage": "host",
    "Network and security": "host",
    "Observability": "host",
    "CI/CD": "host",
}


def camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in re.split(r"[^A-Za-z0-9]+", name) if w)


def load_rules(path: Path | None) -> tuple[dict[str, list[Rule]], str]:
    """Rule pools by kind from an awesome-prometheus-alerts ``rules.yml``; built-ins when absent."""
    if path is None or not path.is_file():
        return BUILTIN_RULES, "built-in rule names"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    pools: dict[str, list[Rule]] = {kind: [] for kind in BUILTIN_RULES}
    for group in data.get("groups") or []:
        kind = _GROUP_KINDS.get(str(group.get("name")))
        if kind is None:
            continue
        for service in group.get("services") or []:
            for exporter in service.get("exporters") or []:
                for rule in exporter.get("rules") or []:
                    severity = str(rule.get("severity") or "warning")
                    if rule.get("name") and severity in ("critical", "warning", "info"):
                        pools[kind].append(Rule(camel(str(rule["name"])), str(rule.get("description") or ""), severity))
    for kind, rules in pools.items():
        if not rules:
            pools[kind] = BUILTIN_RULES[kind]
    return pools, f"{sum(len(r) for r in pools.values())} rules from {path}"


def build_estate(rng: random.Random) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Service → dependencies, and service → kind (database, queue, app)."""
    deps: dict[str, list[str]] = {"events-kafka": [], "sessions-redis": [], "identity-provider": []}
    kinds = {"events-kafka": "queue", "sessions-redis": "database", "identity-provider": "app"}
    deps["auth-api"] = ["identity-provider", "sessions-redis"]
    kinds["auth-api"] = "app"
    for domain in DOMAINS:
        deps[f"{domain}-db"] = []
        deps[f"{domain}-api"] = [f"{domain}-db"]
        deps[f"{domain}-worker"] = [f"{domain}-db", "events-kafka"]
        kinds.update({f"{domain}-db": "database", f"{domain}-api": "app", f"{domain}-worker": "app"})
    for frontend in FRONTENDS:
        deps[frontend] = [f"{d}-api" for d in rng.sample(DOMAINS, 6)] + ["auth-api", "sessions-redis"]
        kinds[frontend] = "app"
    return deps, kinds


@dataclass(slots=True, eq=False)
class Member:
    """One alert instance: what it is, where, and when it fires and resolves."""

    source: str
    rule: Rule
    service: str
    instance: str
    start: float
    end: float
    environment: str = "production"
    severity: str = ""
    key: str = ""

    def __post_init__(self) -> None:
        self.severity = self.severity or self.rule.severity
        self.key = f"{self.rule.name}|{self.service}|{self.instance}|{self.environment}|{int(self.start)}"


@dataclass(slots=True)
class Tick:
    at: float
    firing: list[Member]
    resolved: list[Member]


@dataclass(slots=True)
class Scenario:
    truth: str | None
    source: str
    ticks: list[Tick] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(len(t.firing) + len(t.resolved) for t in self.ticks)


@dataclass(frozen=True, slots=True)
class StormLine:
    received_at: float
    source: str
    payload: dict[str, Any]
    truth: str | None

    def jsonl(self) -> str:
        at = datetime.fromtimestamp(self.received_at, UTC).isoformat().replace("+00:00", "Z")
        return json.dumps({"source": self.source, "received_at": at, "payload": self.payload, "truth": self.truth})


def _schedule(members: list[Member], first: float, interval: float, rng: random.Random) -> list[Tick]:
    """Deliveries of a group of members: every ``interval`` while any fires, then their resolves once."""
    ticks: list[Tick] = []
    pending = sorted(members, key=lambda m: m.end)
    last_end = max(m.end for m in members)
    t = first
    while pending and t <= last_end + interval * 1.5:
        firing = [m for m in members if m.start <= t < m.end]
        resolved = []
        while pending and pending[0].end <= t:
            resolved.append(pending.pop(0))
        if firing or resolved:
            ticks.append(Tick(t, firing, resolved))
        t += interval * rng.uniform(0.9, 1.1)
    return ticks


def _with_duplicates(ticks: list[Tick], rng: random.Random, rate: float = 0.02) -> list[Tick]:
    out: list[Tick] = []
    for tick in ticks:
        out.append(tick)
        if rng.random() < rate:
            out.append(Tick(tick.at + rng.uniform(0.5, 5), tick.firing, tick.resolved))
    return out


class StormBuilder:
    """Plans the scenarios for ``alerts`` alerts (deterministic for a seed), then streams the lines."""

    def __init__(self, alerts: int, *, seed: int = 7, rules: Path | None = None) -> None:
        if alerts < 100:
            raise ValueError("alerts: a storm needs at least 100 alerts")
        self.alerts = alerts
        self.rng = random.Random(seed)
        self.pools, self.rules_origin = load_rules(rules)
        self.dependencies, self.kinds = build_estate(self.rng)
        self.span = max(2 * 3600.0, 6 * 3600.0 * alerts / 100_000)
        self.scenarios: list[Scenario] = []
        self.maintenance: tuple[str, float, float] | None = None
        self._counts: dict[str, int] = {}
        self._busy: dict[str, list[tuple[float, float]]] = {}
        self._plan()

    # -- planning ------------------------------------------------------------------------------

    def _source(self) -> str:
        return self.rng.choices([s for s, _ in SOURCE_MIX], weights=[w for _, w in SOURCE_MIX])[0]

    def _rule(self, kind: str) -> Rule:
        return self.rng.choice(self.pools[kind])

    def _free_service(self, start: float, end: float, candidates: list[str]) -> str | None:
        """A service with no other incident from ``start`` to 30 min after ``end``; None if every pick was busy.

        Two simultaneous problems on one service are indistinguishable from one problem, so ground
        truth that tells them apart could not be recovered from the alerts by anyone.
        """
        for _ in range(20):
            service = self.rng.choice(candidates)
            if all(end + BUSY_MARGIN <= s or start >= e + BUSY_MARGIN for s, e in self._busy.get(service, ())):
                self._busy.setdefault(service, []).append((start, end))
                return service
        return None

    def _add(self, category: str, scenario: Scenario) -> None:
        if scenario.ticks:
            self.scenarios.append(scenario)
            self._counts[category] = self._counts.get(category, 0) + scenario.alerts

    def _plan(self) -> None:
        n = self.alerts
        self._cascade(target=int(n * 0.2))
        self._watchdog()
        self._maintenance(target=int(n * 0.03))
        shares = {"service": 0.6, "flapping": 0.03, "background": 0.04}
        index = 0
        while sum(self._counts.values()) < n:
            index += 1
            behind = [c for c, share in shares.items() if self._counts.get(c, 0) < share * n] or ["service"]
            for category in behind:
                getattr(self, f"_{category}")(index)

    def _cascade(self, target: int) -> None:
        rng = self.rng
        domain = rng.choice([d for d in DOMAINS if any(f"{d}-api" in self.dependencies[f] for f in FRONTENDS)])
        callers = [f for f in FRONTENDS if f"{domain}-api" in self.dependencies[f]]
        interval, duration = 30.0, 40 * 60.0
        per_pod = 2 + 1 + len(callers)
        pods = max(2, round((target / (duration / interval + 2) - 6) / per_pod))
        t0 = START + self.span * 0.3
        end = t0 + duration
        for service in [f"{domain}-db", f"{domain}-api", f"{domain}-worker", *callers]:
            self._busy.setdefault(service, []).append((t0, end + 300))
        members = [
            Member(
                "alertmanager",
                self._rule("database"),
                f"{domain}-db",
                f"{domain}-db-{i}",
                t0 + rng.uniform(0, 60),
                end,
                severity="critical",
            )
            for i in range(3)
            for _ in range(2)
        ]
        for rule in SYMPTOMS:
            members += [
                Member(
                    "alertmanager",
                    rule,
                    f"{domain}-api",
                    f"{domain}-api-{p}",
                    t0 + rng.uniform(60, 180),
                    end + rng.uniform(60, 300),
                )
                for p in range(pods)
            ]
        members += [
            Member(
                "alertmanager",
                self._rule("app"),
                f"{domain}-worker",
                f"{domain}-worker-{p}",
                t0 + rng.uniform(90, 240),
                end + rng.uniform(60, 300),
            )
            for p in range(pods)
        ]
        for caller in callers:
            members += [
                Member(
                    "alertmanager",
                    SYMPTOMS[0],
                    caller,
                    f"{caller}-{p}",
                    t0 + rng.uniform(120, 300),
                    end + rng.uniform(60, 300),
                )
                for p in range(pods)
            ]
        groups: dict[tuple[str, str], list[Member]] = {}
        for m in members:
            groups.setdefault((m.rule.name, m.service), []).append(m)
        for group in groups.values():
            first = min(m.start for m in group) + rng.uniform(0, 10)
            self._add(
                "cascade",
                Scenario("cascade", "alertmanager", _with_duplicates(_schedule(group, first, interval, rng), rng)),
            )

    def _watchdog(self) -> None:
        member = Member(
            "alertmanager",
            Rule("Watchdog", "Always firing: the alerting pipeline is alive", "info"),
            "prometheus",
            "prometheus-0",
            START,
            START + self.span * 2,
        )
        ticks = [Tick(START + i * 60.0, [member], []) for i in range(int(self.span // 60))]
        self._add("watchdog", Scenario(None, "alertmanager", ticks))

    def _maintenance(self, target: int) -> None:
        rng = self.rng
        service = rng.choice([s for s, k in self.kinds.items() if k == "database" and s.endswith("-db")])
        begin = START + self.span * 0.6
        self.maintenance = (service, begin, begin + 3600)
        interval = 60.0
        instances = max(1, round(target / (50 * 60 / interval) / 2))
        members = [
            Member(
                "alertmanager",
                self._rule("database"),
                service,
                f"{service}-{i}",
                begin + rng.uniform(60, 300),
                begin + rng.uniform(40, 50) * 60,
            )
            for i in range(instances)
            for _ in range(2)
        ]
        self._add("maintenance", Scenario(None, "alertmanager", _schedule(members, begin + 300, interval, rng)))

    def _service(self, index: int) -> None:
        rng = self.rng
        start = START + rng.uniform(0, self.span)
        duration = rng.uniform(20, 90) * 60
        service = self._free_service(start, start + duration + 120, list(self.kinds))
        if service is None:
            return
        kind = self.kinds[service]
        source = self._source()
        interval = rng.choice([30.0, 45.0, 60.0])
        truth = f"service-{index}"
        members = []
        for _ in range(rng.randint(1, 3)):
            rule = self._rule(kind)
            members += [
                Member(
                    source,
                    rule,
                    service,
                    f"{service}-{i}",
                    start + rng.uniform(0, 120),
                    start + duration + rng.uniform(0, 120),
                )
                for i in range(rng.randint(5, 30))
            ]
        self._add(
            "service", Scenario(truth, source, _with_duplicates(_schedule(members, start + 30, interval, rng), rng))
        )
        if rng.random() < 0.25:  # escalation: a critical rule on the same service, later
            later = start + rng.uniform(5, 15) * 60
            rule = Rule(rng.choice(self.pools[kind]).name + "Critical", "escalated", "critical")
            escalation = [
                Member(source, rule, service, f"{service}-{i}", later, start + duration)
                for i in range(rng.randint(1, 3))
            ]
            self._add("service", Scenario(truth, source, _schedule(escalation, later + 5, interval, rng)))

    def _flapping(self, index: int) -> None:
        """A rule flapping on several pods of one service: each toggles every one to two and a half minutes."""
        rng = self.rng
        start = START + rng.uniform(0, self.span)
        stop = start + rng.uniform(20, 50) * 60
        service = self._free_service(start, stop + 180, list(self.kinds))
        if service is None:
            return
        rule = self._rule(self.kinds[service])
        for pod in range(rng.randint(5, 15)):
            member = Member("alertmanager", rule, service, f"{service}-{pod}", start, stop)
            ticks, t, firing = [], start + rng.uniform(0, 60), True
            while t < stop:
                ticks.append(Tick(t, [member], []) if firing else Tick(t, [], [member]))
                firing = not firing
                t += rng.uniform(45, 150)
            if not firing:  # the last delivery fired: end with a resolve
                ticks.append(Tick(t, [], [member]))
            self._add("flapping", Scenario(f"flapping-{index}", "alertmanager", ticks))

    def _background(self, index: int) -> None:
        rng = self.rng
        service = rng.choice(list(self.kinds))
        start = START + rng.uniform(0, self.span)
        duration = rng.uniform(30, 120) * 60
        env = "staging" if rng.random() < 0.1 else "production"
        rule = self._rule("host")
        severity = rule.severity if rule.severity != "critical" else "warning"
        members = [
            Member(
                self._source(),
                rule,
                service,
                f"{service}-node-{rng.randint(1, 40)}",
                start,
                start + duration,
                environment=env,
                severity=severity,
            )
            for _ in range(rng.randint(1, 2))
        ]
        source = members[0].source
        for m in members:
            m.source = source
        interval = rng.choice([60.0, 120.0, 300.0])
        self._add(
            "background",
            Scenario(
                f"background-{index}", source, _with_duplicates(_schedule(members, start + 10, interval, rng), rng)
            ),
        )

    # -- output ----------------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        description: dict[str, Any] = {
            "services": len(self.dependencies),
            "span_hours": round(self.span / 3600, 2),
            "scenarios": len({s.truth for s in self.scenarios if s.truth}),
            "planned_alerts_by_category": self._counts,
            "rules": self.rules_origin,
        }
        if self.maintenance:
            description["maintenance"] = {"service": self.maintenance[0]}
        return description

    def suppression_config(self) -> dict[str, Any]:
        """The ``intake.suppress``/``intake.maintenance`` settings this storm expects."""
        config: dict[str, Any] = {
            "suppress": [{"name": "watchdog", "reason": "heartbeat, not a problem", "match": {"alertname": "Watchdog"}}]
        }
        if self.maintenance:
            service, begin, end = self.maintenance
            config["maintenance"] = [
                {
                    "name": f"{service}-upgrade",
                    "services": [service],
                    "start": datetime.fromtimestamp(begin, UTC).isoformat(),
                    "end": datetime.fromtimestamp(end, UTC).isoformat(),
                }
            ]
        return config

    def lines(self) -> Iterator[StormLine]:
        """Every delivery in time order, exactly ``alerts`` alerts in all."""
        streams = [self._stream(s) for s in self.scenarios]
        remaining = self.alerts
        for line, count in heapq.merge(*streams, key=lambda item: item[0].received_at):
            if count > remaining:
                line = _trim(line, remaining)
                count = remaining
            yield line
            remaining -= count
            if remaining <= 0:
                return

    def _stream(self, scenario: Scenario) -> Iterator[tuple[StormLine, int]]:
        for tick in scenario.ticks:
            members = [(m, "firing") for m in tick.firing] + [(m, "resolved") for m in tick.resolved]
            if scenario.source in ("alertmanager", "grafana"):
                payload = _alertmanager(scenario.source, members, tick.at)
                yield StormLine(tick.at, scenario.source, payload, scenario.truth), len(members)
            else:
                for member, status in members:
                    yield (
                        StormLine(
                            tick.at, member.source, PAYLOADS[member.source](member, status, tick.at), scenario.truth
                        ),
                        1,
                    )


def _trim(line: StormLine, keep: int) -> StormLine:
    payload = dict(line.payload)
    payload["alerts"] = payload["alerts"][:keep]
    return StormLine(line.received_at, line.source, payload, line.truth)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def _fingerprint(member: Member) -> str:
    import hashlib

    return hashlib.sha1(member.key.encode()).hexdigest()[:16]


def _alertmanager(source: str, members: list[tuple[Member, str]], at: float) -> dict[str, Any]:
    alerts = []
    for m, status in members:
        labels = {
            "alertname": m.rule.name,
            "service": m.service,
            "severity": m.severity,
            "instance": m.instance,
            "env": m.environment,
        }
        alerts.append(
            {
                "status": status,
                "labels": labels,
                "annotations": {"summary": f"{m.rule.name} on {m.service}", "description": m.rule.description},
                "startsAt": _iso(m.start),
                "endsAt": _iso(m.end) if status == "resolved" else "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus:9090/graph?g0.expr={m.rule.name}",
                "fingerprint": _fingerprint(m),
            }
        )
    first = members[0][0]
    status = "firing" if any(s == "firing" for _, s in members) else "resolved"
    payload: dict[str, Any] = {
        "receiver": "firstline",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": first.rule.name, "service": first.service},
        "commonLabels": {"alertname": first.rule.name, "service": first.service},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "groupKey": f'{{}}:{{alertname="{first.rule.name}", service="{first.service}"}}',
        "truncatedAlerts": 0,
        "version": "4" if source == "alertmanager" else "1",
    }
    if source == "grafana":
        payload.update(
            orgId=1,
            state="alerting" if status == "firing" else "ok",
            title=f"[{status.upper()}] {first.rule.name}",
            message="",
        )
    return payload


def _pagerduty(m: Member, status: str, at: float) -> dict[str, Any]:
    key = _fingerprint(m)
    if status == "resolved":
        return {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    return {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": f"{m.rule.name} on {m.service}: {m.rule.description}"[:1024],
            "source": m.instance,
            "severity": m.severity if m.severity in ("critical", "error", "warning", "info") else "warning",
            "timestamp": _iso(m.start),
            "component": m.service,
            "class": m.rule.name,
            "custom_details": {"environment": m.environment},
        },
    }


def _datadog(m: Member, status: str, at: float) -> dict[str, Any]:
    transition = "Recovered" if status == "resolved" else "Triggered"
    return {
        "source": "datadog",
        "alert_id": str(zlib.crc32(m.rule.name.encode()) % 100000),
        "cycle_key": _fingerprint(m),
        "transition": transition,
        "alert_type": "success" if status == "resolved" else ("error" if m.severity == "critical" else "warning"),
        "priority": "P1" if m.severity == "critical" else "P3",
        "title": f"[{transition}] {m.rule.name} on {m.service}",
        "tags": f"env:{m.environment},service:{m.service},host:{m.instance}",
        "scope": f"host:{m.instance}",
        "date": str(int(at * 1000)),
        "monitor_name": m.rule.name,
        "link": "https://app.datadoghq.com/monitors/1",
    }


def _generic(m: Member, status: str, at: float) -> dict[str, Any]:
    return {
        "dedup_key": _fingerprint(m),
        "status": status,
        "title": f"{m.rule.name} on {m.service}",
        "name": m.rule.name,
        "description": m.rule.description,
        "severity": m.severity,
        "service": m.service,
        "environment": m.environment,
        "labels": {"instance": m.instance},
        "started_at": _iso(m.start),
        "ended_at": _iso(m.end) if status == "resolved" else None,
    }


def _cloudwatch(m: Member, status: str, at: float) -> dict[str, Any]:
    alarm = {
        "AlarmName": f"{m.service}-{m.rule.name}-{m.instance}",
        "AlarmDescription": m.rule.description,
        "AWSAccountId": "123456789012",
        "NewStateValue": "OK" if status == "resolved" else "ALARM",
        "NewStateReason": "Threshold Crossed",
        "StateChangeTime": _iso(at).replace("Z", "+0000"),
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{_fingerprint(m)}",
        "OldStateValue": "ALARM" if status == "resolved" else "OK",
        "Trigger": {
            "MetricName": m.rule.name,
            "Namespace": "Custom",
            "Dimensions": [{"name": "ServiceName", "value": m.service}],
        },
    }
    return {
        "Type": "Notification",
        "MessageId": f"{_fingerprint(m)}-{int(at)}",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:alarms",
        "Subject": f'{"OK" if status == "resolved" else "ALARM"}: "{alarm["AlarmName"]}" in EU (Ireland)',
        "Message": json.dumps(alarm),
        "Timestamp": _iso(at),
        "SignatureVersion": "1",
        "Signature": "x",
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com/x.pem",
    }


def _opsgenie(m: Member, status: str, at: float) -> dict[str, Any]:
    return {
        "action": "Close" if status == "resolved" else "Create",
        "alert": {
            "alertId": _fingerprint(m),
            "alias": _fingerprint(m),
            "message": f"{m.rule.name} on {m.service}",
            "tags": [f"env:{m.environment}"],
            "entity": m.service,
            "priority": "P1" if m.severity == "critical" else "P3",
            "createdAt": int(m.start * 1000),
            "details": {"service": m.service, "environment": m.environment},
        },
        "source": {"name": "", "type": "API"},
        "integrationName": "firstline",
    }


PAYLOADS = {
    "pagerduty": _pagerduty,
    "datadog": _datadog,
    "generic": _generic,
    "cloudwatch": _cloudwatch,
    "opsgenie": _opsgenie,
}
