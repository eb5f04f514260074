"""The service catalog of a scenario, in the format of `knowledge.catalog` (``knowledge.catalog`` in
config.yaml), derived from its topology and integrations.

The agents read tiers, owners, on-call, dependencies, SLI queries, log selectors, namespaces,
deployments, repos, status page components and chat channels from the catalog, so every scenario
brings its own. The SLI queries are ones the simulated Prometheus answers and the log selectors
match the simulated Loki's streams::

    catalog = service_catalog(load_scenario("checkout-migration"))   # the mapping
    Path("catalog.yaml").write_text(catalog_yaml(scenario))          # the file the agents load

Per service, by kind:

- ``service``, ``queue``, ``cache``: error rate from ``http_requests_total`` (5xx over all), p99
  latency from ``http_request_duration_seconds_bucket``;
- ``database``: error rate from ``pg_errors_total`` over ``pg_queries_total``, saturation from
  ``pg_connections_in_use`` over ``pg_connections_max``;
- ``external``: no SLI and no logs (nothing of ours runs there), but listed as a dependency.

``sli:`` in a topology service overrides any of these. The owner comes from ``owner:`` or else the
PagerDuty escalation policy covering the service (``Payments`` becomes ``team-payments``); the
on-call from that policy's level-1 on-call (with the policy's id, so the agents ask ``/oncalls`` who it is now),
the pager from the service's Events API v2 integration (`events_tool_name`); the chat channel from ``chat_channel:`` or else the
first Slack channel; the status page component from the component naming the service; for an
external service with a public status page (``integrations.providers``), ``status_page`` names the
sandbox's ``provider_status`` tool instance that reads it (`provider_tool_name`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from evals.sim.scenario import Scenario, ServiceSpec


def sli_queries(spec: ServiceSpec) -> dict[str, str]:
    """The SLI queries of one service: defaults for its kind, then the scenario's overrides."""
    name = spec.name
    queries: dict[str, str] = {}
    if spec.kind == "database":
        queries["error_rate"] = (
            f'sum(rate(pg_errors_total{{service="{name}"}}[5m])) / sum(rate(pg_queries_total{{service="{name}"}}[5m]))'
        )
        queries["saturation"] = (
            f'max(pg_connections_in_use{{service="{name}"}}) / max(pg_connections_max{{service="{name}"}})'
        )
    elif spec.kind != "external":
        queries["error_rate"] = (
            f'sum(rate(http_requests_total{{service="{name}",code=~"5.."}}[5m])) '
            f'/ sum(rate(http_requests_total{{service="{name}"}}[5m]))'
        )
        queries["latency_p99"] = (
            f'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{service="{name}"}}[5m])))'
        )
    for key, query in spec.sli.model_dump(exclude_none=True).items():
        queries[key] = query
    return queries


def log_selector(spec: ServiceSpec) -> str | None:
    """The LogQL stream selector of a service's pods, or None when nothing of it runs in the cluster."""
    deployment = spec.deployment_name
    if deployment is None:
        return None
    return f'{{namespace="{spec.namespace}", app="{deployment}"}}'


def _team(policy_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", policy_name.lower()).strip("-")
    return slug if slug.startswith("team-") else f"team-{slug}"


def provider_tool_name(provider_id: str) -> str:
    """The sandbox's tool instance (kind ``provider_status``) reading a third party's public status page."""
    return f"status_{provider_id}"


def events_tool_name(pagerduty_service_id: str) -> str:
    """The sandbox's tool instance (kind ``pagerduty_events``) paging one PagerDuty service's escalation policy."""
    return f"paging_{pagerduty_service_id.lower()}"


def events_key_variable(pagerduty_service_id: str) -> str:
    """The environment variable holding that instance's (simulated) routing key."""
    return f"FIRSTLINE_SIM_ROUTING_KEY_{re.sub(r'[^A-Z0-9]', '_', pagerduty_service_id.upper())}"


def service_catalog(scenario: Scenario) -> dict[str, Any]:
    """The catalog mapping (``{"services": {name: entry}}``) for ``scenario``."""
    pagerduty = scenario.integrations.pagerduty
    policies = {p.id: p for p in pagerduty.escalation_policies}
    users = {u.id: u for u in pagerduty.users}
    channels = scenario.integrations.slack.channels
    statuspage = scenario.integrations.statuspage
    components = {c.service: c.id for c in (statuspage.components if statuspage else []) if c.service}
    capabilities = {c.service: c.name for c in (statuspage.components if statuspage else []) if c.service and c.name}
    services: dict[str, Any] = {}
    for spec in scenario.topology.services:
        pd_service = next((s for s in pagerduty.services if s.service == spec.name), None)
        policy = policies.get(pd_service.escalation_policy) if pd_service else None
        entry: dict[str, Any] = {
            "description": spec.description,
            "kind": spec.kind,
            "tier": spec.tier,
            "customer_facing": spec.customer_facing,
            "owner": spec.owner or (_team(policy.name) if policy else "unowned"),
        }
        if policy is not None:
            oncall = min(
                (o for o in pagerduty.oncalls if o.escalation_policy == policy.id), key=lambda o: o.level, default=None
            )
            if oncall is not None and oncall.user in users:
                person = users[oncall.user]
                entry["oncall"] = {
                    "name": person.name,
                    "handle": "@" + person.name.split()[0].lower(),
                    "pagerduty_escalation_policy": policy.id,
                }
                if oncall.schedule:
                    entry["oncall"]["pagerduty_schedule"] = oncall.schedule
        if pd_service is not None:
            entry["pagerduty_events"] = events_tool_name(pd_service.id)
        entry["dependencies"] = list(spec.dependencies)
        entry["namespace"] = spec.namespace
        if spec.deployment_name is not None:
            entry["deployment"] = spec.deployment_name
        if spec.repo:
            entry["repo"] = spec.repo
        if spec.name in components:
            entry["statuspage_component"] = components[spec.name]
        if spec.name in capabilities:
            entry["capability"] = capabilities[spec.name]  # the status page's own name for it
        provider = next((p for p in scenario.integrations.providers if p.service == spec.name), None)
        if provider is not None:
            entry["status_page"] = provider_tool_name(provider.id)
        channel = spec.chat_channel or (channels[0].id if channels else None)
        if channel:
            entry["chat_channel"] = channel
        sli = sli_queries(spec)
        if sli:
            entry["sli"] = sli
        selector = log_selector(spec)
        if selector:
            entry["logs"] = selector
        if spec.runbooks:
            entry["runbooks"] = list(spec.runbooks)
        services[spec.name] = entry
    return {"services": services}


def catalog_yaml(scenario: Scenario) -> str:
    """The catalog as the YAML file `knowledge.catalog.ServiceCatalog.load` reads."""
    header = (
        f"# Service catalog of simulated scenario {scenario.name!r}, generated by evals.sim.catalog.\n"
        "# Format: knowledge/catalog.py.\n"
    )
    return header + yaml.safe_dump(service_catalog(scenario), sort_keys=False, width=200)
