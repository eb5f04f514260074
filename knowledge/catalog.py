"""The service catalog: who owns a service, how critical it is, what it depends on, how to measure it.

Triage reads tier, customer impact, owner and on-call; investigation reads dependencies, the SLI
queries, the log selector and where the service is deployed. The file is YAML::

    services:
      checkout:
        description: Takes payment and places orders.
        tier: 1                      # 1 = most critical
        customer_facing: true
        owner: team-payments
        oncall: {name: Dana Reyes, handle: "@dana", pagerduty_schedule: PSCHED1}  # /oncalls says who, now
        dependencies: [payments-db]
        namespace: shop
        deployment: checkout         # Kubernetes Deployment name (defaults to the service name)
        repo: acme/checkout          # GitHub owner/repo for deploys and commits
        statuspage_component: cmp-checkout
        chat_channel: "#inc-checkout"
        # status_page: status_cardco      # for an external service: the provider_status tool instance
                                          # reading the third party's public status page
        sli:
          error_rate: sum(rate(http_requests_total{service="checkout",code=~"5.."}[5m])) / sum(rate(http_requests_total{service="checkout"}[5m]))
          latency_p99: histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="checkout"}[5m])))
        logs: '{app="checkout"}'
        runbooks: [checkout-5xx]
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Kinds that hold state: more copies are not more capacity, and a failover moves them.
DATASTORE_KINDS = frozenset({"database", "cache", "queue"})


class OnCall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    handle: str = ""
    pagerduty_schedule: str | None = Field(
        default=None, description="PagerDuty schedule id: who is on call now is read from /oncalls for it."
    )
    pagerduty_escalation_policy: str | None = Field(
        default=None, description="PagerDuty escalation policy id (level 1 of it is on call), when no schedule is set."
    )


class ServiceSLI(BaseModel):
    model_config = ConfigDict(extra="forbid")

    error_rate: str | None = None
    latency_p99: str | None = None
    saturation: str | None = None


class Service(BaseModel):
    """One service's entry in the catalog."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    tier: int = Field(default=3, ge=1, le=4)
    customer_facing: bool = False
    owner: str = "unowned"
    oncall: OnCall | None = None
    dependencies: list[str] = Field(default_factory=list)
    namespace: str = "default"
    deployment: str = ""
    repo: str | None = None
    statuspage_component: str | None = None
    capability: str = Field(
        default="",
        description="What the service does for its users, in their words (e.g. 'Card payments'): what "
        "customer-facing messages name instead of the service.",
    )
    status_page: str | None = Field(
        default=None,
        description="For a third party: the tools: instance (kind provider_status) that reads its public status page.",
    )
    chat_channel: str | None = None
    pagerduty_events: str | None = Field(
        default=None,
        description="The pagerduty_events tool instance whose routing key pages this service's escalation policy "
        "(None: the first one configured).",
    )
    sli: ServiceSLI = Field(default_factory=ServiceSLI)
    logs: str | None = None
    runbooks: list[str] = Field(default_factory=list)
    kind: str = Field(default="service", description="service, database, queue, cache, external")

    @property
    def deployment_name(self) -> str:
        return self.deployment or self.name


class CatalogError(ValueError):
    """The catalog file is missing or malformed; the message names the file and the field."""


class ServiceCatalog(BaseModel):
    services: dict[str, Service] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> ServiceCatalog:
        path = Path(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CatalogError(f"service catalog {path} does not exist") from exc
        except yaml.YAMLError as exc:
            raise CatalogError(f"service catalog {path} is not valid YAML: {exc}") from exc
        return cls.from_mapping(raw, origin=str(path))

    @classmethod
    def from_mapping(cls, raw: Any, *, origin: str = "catalog") -> ServiceCatalog:
        if not isinstance(raw, dict) or not isinstance(raw.get("services"), dict):
            raise CatalogError(f"{origin}: expected a mapping with a 'services' mapping at the top")
        services: dict[str, Service] = {}
        for name, entry in raw["services"].items():
            try:
                services[name] = Service.model_validate({"name": name, **(entry or {})})
            except ValidationError as exc:
                problems = "; ".join(
                    f"services.{name}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
                )
                raise CatalogError(f"{origin}: {problems}") from exc
        catalog = cls(services=services)
        for service in services.values():
            unknown = [d for d in service.dependencies if d not in services]
            if unknown:
                raise CatalogError(
                    f"{origin}: services.{service.name}.dependencies names unknown services: {', '.join(unknown)}"
                )
        return catalog

    def get(self, name: str) -> Service | None:
        return self.services.get(name)

    def dependents_of(self, name: str) -> list[str]:
        """Services that call ``name`` directly."""
        return [s.name for s in self.services.values() if name in s.dependencies]

    def blast_radius(self, name: str) -> dict[str, int]:
        """Every service related to ``name`` (dependencies, transitively) with its hop distance."""
        distances = {name: 0}
        queue = deque([name])
        while queue:
            current = queue.popleft()
            service = self.services.get(current)
            for dep in service.dependencies if service else []:
                if dep not in distances:
                    distances[dep] = distances[current] + 1
                    queue.append(dep)
        return distances

    def neighbourhood(self, name: str, *, max_hops: int = 3) -> dict[str, int]:
        """Every service within ``max_hops`` of ``name`` walking dependencies both ways (callees and
        callers, transitively), with its hop distance; ``name`` itself at 0.

        This is where the origin of an incident may sit: a dependency's dependency, or a job that
        shares a database with the alerting service (reached through the database's other callers).
        Ties are broken by name so that the order is reproducible.
        """
        distances = {name: 0}
        queue = deque([name])
        while queue:
            current = queue.popleft()
            if distances[current] >= max_hops:
                continue
            service = self.services.get(current)
            neighbours = sorted({*(service.dependencies if service else []), *self.dependents_of(current)})
            for other in neighbours:
                if other not in distances:
                    distances[other] = distances[current] + 1
                    queue.append(other)
        return distances
