"""The simulated world: one scenario, anchored in time, whose state changes when actions run.

`World` is the engine behind every simulated API. It holds the clock, the fault timelines, the
ledger of applied actions, and one model per backend: metrics (`Telemetry`, queried through the
PromQL engine), logs (`LogStore`), Kubernetes (`KubeCluster`), GitHub (`GitHubState`), Statuspage,
Slack, PagerDuty, and third parties' public status pages (`ProviderPages`). It contains no scenario-specific logic: everything comes from the `Scenario`.

Typical use (the server does the same through HTTP)::

    world = World(load_scenario("evals/scenarios/checkout-migration.yaml"))
    world.active_faults()                      # ["orders-column-renamed"]
    world.apply_action("kubernetes.rollout_undo", {"namespace": "shop", "name": "checkout"})
    world.active_faults()                      # []: the error ratio is back to baseline from now on
    world.alertmanager_payload("CheckoutHighErrorRate")   # the webhook body, with real times

Actions are matched against the scenario's ``action_effects`` (first rule whose ``match`` the call's
arguments satisfy): ``fixes:<fault>`` ends the fault at the time of the action, ``worsens:<fault>``
multiplies its severity from then on, ``mitigates:<fault>`` suspends it for the rule's
``relapse_after`` (then it comes back), ``none`` (or no rule) changes nothing. A rule may list several. Applying an action is
idempotent per request id, and every application is kept in `applied_actions`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import numpy as np
import numpy.typing as npt

from evals.sim.comms import PagerDutyState, SlackState, StatuspageState
from evals.sim.faults import (
    Conditions,
    EdgeConditions,
    FaultTimeline,
    edge_conditions,
    edge_shares,
    influences,
    path_fault_shares,
    service_conditions,
)
from evals.sim.kube import KubeCluster
from evals.sim.logs import LogStore
from evals.sim.promql import PromQLEngine
from evals.sim.providers import ProviderPages
from evals.sim.repos import GitHubState
from evals.sim.scenario import ActionEffect, Alert, NodeConditionEffect, PodEffect, Scenario
from evals.sim.telemetry import Telemetry
from evals.sim.timeutil import SimClock, from_epoch, rfc3339

FloatArray = npt.NDArray[np.float64]
ZERO_TIME = "0001-01-01T00:00:00Z"


@dataclass(frozen=True)
class AppliedAction:
    """One action the world has seen, and what it did to the faults."""

    id: str
    action: str
    args: dict[str, Any]
    at: float
    effect: str
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "args": self.args,
            "at": rfc3339(self.at),
            "effect": self.effect,
            "request_id": self.request_id,
        }


def alert_fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's fingerprint of a label set: FNV-1a 64 over sorted name/value pairs, 0xff-separated."""
    value = 0xCBF29CE484222325
    for name in sorted(labels):
        for chunk in (name.encode(), b"\xff", labels[name].encode(), b"\xff"):
            for byte in chunk:
                value ^= byte
                value = (value * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


@dataclass
class _TimelineCache:
    version: int = -1
    timelines: dict[str, FaultTimeline] = field(default_factory=dict)


class World:
    """A scenario brought to life at ``anchor`` (the alert time; the clock's now by default).

    Without a ``clock``, the world's clock reads the anchor when the world is built (the scenario's
    ``anchor:``, or the ``anchor`` argument) and runs from there at the wall clock's pace.
    """

    def __init__(self, scenario: Scenario, *, anchor: datetime | None = None, clock: SimClock | None = None) -> None:
        self.scenario = scenario
        fixed = anchor or scenario.anchor
        # A fixed alert time (past or future) starts the clock there: on the wall clock the alert would
        # not have fired yet (a future anchor), or hours of history to compute would lie between the
        # alert and now (a past one).
        self.clock = clock or (SimClock.starting_at(fixed) if fixed is not None else SimClock())
        anchor_time = fixed or self.clock.now()
        self.anchor = float(math.floor(anchor_time.timestamp()))
        # Handlers run on the server's thread while tests and the runner read from theirs.
        self._lock = threading.RLock()
        self._version = 0
        self._actions: list[AppliedAction] = []
        self._by_request: dict[str, AppliedAction] = {}
        self._influences = influences(scenario)
        self._target_baseline = {f.id: scenario.service(f.target).baseline.error_ratio for f in scenario.faults}
        self._edge_shares = edge_shares(scenario)
        self._path_shares = path_fault_shares(scenario)
        self._timeline_cache = _TimelineCache()

        self.telemetry = Telemetry(
            scenario,
            anchor=self.anchor,
            conditions=self.conditions,
            now=self.now_ts,
            version=lambda: self._version,
            edge_conditions=self.edge_conditions,
        )
        self.promql = PromQLEngine(self.telemetry)
        self.kube = KubeCluster(
            scenario,
            anchor=self.anchor,
            now=self.now_ts,
            pod_effects=self.pod_effects,
            node_effects=self.node_effects,
            node_history=self.node_condition_history,
        )
        self.logs = LogStore(self)
        self.github = GitHubState(scenario, anchor=self.anchor, now=self.now_ts)
        self.statuspage = StatuspageState(scenario, now=self.now_ts)
        self.providers = ProviderPages(scenario, anchor=self.anchor, now=self.now_ts)
        self.slack = SlackState(scenario, now=self.now_ts)
        self.pagerduty = PagerDutyState(
            scenario, anchor=self.anchor, now=self.now_ts, fingerprint=self._alert_fingerprint
        )

    # -- time
    def now_ts(self) -> float:
        return self.clock.now().timestamp()

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def anchor_time(self) -> datetime:
        return from_epoch(self.anchor)

    def at(self, offset_seconds: float) -> float:
        """Unix time of a scenario offset (seconds from the alert)."""
        return self.anchor + offset_seconds

    @property
    def version(self) -> int:
        """Increases whenever an action changes the world (caches key on it)."""
        return self._version

    @contextmanager
    def locked(self) -> Iterator[None]:
        with self._lock:
            yield

    # -- faults
    def timelines(self) -> dict[str, FaultTimeline]:
        """Every fault's timeline, given the actions applied so far."""
        with self._lock:
            cache = self._timeline_cache
            if cache.version == self._version:
                return cache.timelines
            timelines = {
                f.id: FaultTimeline(
                    f,
                    self.at(f.starts_at),
                    self.at(f.ends_at) if f.ends_at is not None else None,
                    build_start=self.at(f.builds_from) if f.builds_from is not None else None,
                )
                for f in self.scenario.faults
            }
            for applied in self._actions:
                rule = self.effect_for(applied.action, applied.args)
                for kind, fault_id in rule.effects if rule else []:
                    timeline = timelines.get(fault_id or "")
                    if timeline is None:
                        continue
                    end = timeline.end
                    if end is not None and applied.at >= end:
                        continue  # already over: fixing or worsening it changes nothing
                    if kind == "fixes":
                        timeline.fixed_at = applied.at
                        timeline.fixed_by = applied.id
                    elif kind == "worsens":
                        timeline.worsened.append((applied.at, rule.factor if rule else 1.5))
                    elif kind == "mitigates" and rule is not None and timeline.is_active(applied.at):
                        timeline.relief.append((applied.at, applied.at + rule.relapse_after))
            self._timeline_cache = _TimelineCache(self._version, timelines)
            return timelines

    def active_faults(self, at: datetime | float | None = None) -> list[str]:
        """Ids of the faults active at ``at`` (now by default)."""
        moment = self.now_ts() if at is None else at.timestamp() if isinstance(at, datetime) else at
        return [fault_id for fault_id, timeline in self.timelines().items() if timeline.is_active(moment)]

    def conditions(self, service: str, times: FloatArray) -> Conditions:
        """A service's health at each of ``times``: baseline plus every fault that reaches it."""
        return service_conditions(
            self.scenario.service(service),
            self._influences[service],
            self.timelines(),
            self._target_baseline,
            times,
            anchor=self.anchor,
            path_shares=self._path_shares,
        )

    def edge_conditions(self, caller: str, callee: str, times: FloatArray) -> EdgeConditions:
        """What ``caller``'s client sees of its dependency ``callee`` at each of ``times``."""
        return edge_conditions(
            self.scenario,
            self.conditions(caller, times),
            self.conditions(callee, times),
            caller_name=caller,
            callee_name=callee,
            timelines=self.timelines(),
            share=self._edge_shares[(caller, callee)],
        )

    def pod_effects(self, service: str, at: float) -> list[tuple[FaultTimeline, PodEffect]]:
        found = []
        for timeline in self.timelines().values():
            effect = timeline.fault.effects.pods
            if effect is not None and timeline.fault.target == service and timeline.is_active(at):
                found.append((timeline, effect))
        return found

    def node_effects(self, at: float) -> list[tuple[float, NodeConditionEffect]]:
        """The node conditions set by the faults active at ``at``, each with when it was set (format v2)."""
        return [
            (timeline.active_since(at), condition)
            for timeline in self.timelines().values()
            if timeline.is_active(at)
            for condition in timeline.fault.effects.node_conditions
        ]

    def node_condition_history(self, at: float) -> list[tuple[float, float | None, NodeConditionEffect]]:
        """Every node condition a fault set by ``at``: when it was set, when it cleared (None: still set)."""
        return [
            (
                timeline.active_since(at) if timeline.is_active(at) else timeline.start,
                timeline.inactive_since(at),
                condition,
            )
            for timeline in self.timelines().values()
            if timeline.start <= at
            for condition in timeline.fault.effects.node_conditions
        ]

    def pod_timeline(self, service: str) -> list[tuple[float, list[str]]]:
        return self.kube.pod_timeline(service)

    # -- actions
    @property
    def applied_actions(self) -> list[AppliedAction]:
        with self._lock:
            return list(self._actions)

    def effect_for(self, action: str, args: dict[str, Any]) -> ActionEffect | None:
        """The first ``action_effects`` rule matching the call, or None."""
        return self.scenario.effect_for(action, args)

    def apply_action(
        self, action: str, args: dict[str, Any], *, request_id: str | None = None, at: float | None = None
    ) -> AppliedAction:
        """Record an action and apply its effect from time ``at`` (now by default).

        A second call with the same ``request_id`` returns the first application unchanged.
        """
        with self._lock:
            if request_id is not None and request_id in self._by_request:
                return self._by_request[request_id]
            rule = self.effect_for(action, args)
            applied = AppliedAction(
                id=f"act-{len(self._actions) + 1}",
                action=action,
                args=dict(args),
                at=self.now_ts() if at is None else at,
                effect=rule.effect_text if rule else "none",
                request_id=request_id,
            )
            self._actions.append(applied)
            if request_id is not None:
                self._by_request[request_id] = applied
            self._version += 1
            return applied

    # -- alerts
    def _alert_fingerprint(self, alert: Alert) -> str:
        return alert_fingerprint({"alertname": alert.name, **alert.labels})

    def alertmanager_payload(
        self,
        alert_name: str,
        *,
        receiver: str = "firstline",
        external_url: str = "http://alertmanager.sim.local:9093",
        prometheus_url: str = "http://prometheus.sim.local:9090",
    ) -> dict[str, Any]:
        """The Alertmanager webhook body (version "4") for one scenario alert, as of now.

        The alert is ``firing`` while its fault is active and ``resolved`` once the fault has been
        over for the alert's ``resolves_after``. Raises `KeyError` for an unknown alert and
        `ValueError` if it has not fired yet.
        """
        try:
            alert = self.scenario.alert(alert_name)
        except KeyError:
            known = ", ".join(a.name for a in self.scenario.alerts) or "none"
            raise KeyError(f"scenario {self.scenario.name!r} has no alert {alert_name!r} (known: {known})") from None
        now = self.now_ts()
        fired = self.at(alert.fires_at)
        if now < fired:
            raise ValueError(
                f"alert {alert_name!r} fires at {rfc3339(fired)}, after the simulator's now ({rfc3339(now)})"
            )
        labels = {"alertname": alert.name, **alert.labels}
        status, ends_at = "firing", ZERO_TIME
        if alert.fault is not None:
            end = self.timelines()[alert.fault].inactive_since(now)
            if end is not None and now >= end + alert.resolves_after:
                status, ends_at = "resolved", rfc3339(end + alert.resolves_after)
        generator = f"{prometheus_url}/graph?g0.expr={quote(alert.expr or alert.name, safe='')}&g0.tab=1"
        group_labels = {k: labels[k] for k in alert.group_by if k in labels}
        group_key = "{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) + "}"
        return {
            "receiver": receiver,
            "status": status,
            "alerts": [
                {
                    "status": status,
                    "labels": labels,
                    "annotations": dict(alert.annotations),
                    "startsAt": rfc3339(fired),
                    "endsAt": ends_at,
                    "generatorURL": generator,
                    "fingerprint": alert_fingerprint(labels),
                }
            ],
            "groupLabels": group_labels,
            "commonLabels": dict(labels),
            "commonAnnotations": dict(alert.annotations),
            "externalURL": external_url,
            "version": "4",
            "groupKey": group_key,
            "truncatedAlerts": 0,
        }

    # -- inspection
    def service_catalog(self) -> dict[str, Any]:
        """The scenario's service catalog mapping (`evals.sim.catalog`), for ``knowledge.catalog``."""
        from evals.sim.catalog import service_catalog

        return service_catalog(self.scenario)

    def snapshot(self) -> dict[str, Any]:
        """Everything an eval scorer needs: actions, faults, deployments and what was communicated."""
        with self._lock:
            now = self.now_ts()
            timelines = self.timelines()
            return {
                "scenario": self.scenario.name,
                "anchor": rfc3339(self.anchor),
                "now": rfc3339(now),
                "applied_actions": [a.to_json() for a in self._actions],
                "active_faults": self.active_faults(now),
                "faults": [
                    {
                        "id": fault_id,
                        "target": t.fault.target,
                        "active": t.is_active(now),
                        "starts_at": rfc3339(t.start),
                        "ends_at": rfc3339(t.end) if t.end is not None else None,
                        "fixed_by": t.fixed_by,
                        "worsened": [{"at": rfc3339(at), "factor": factor} for at, factor in t.worsened],
                        "relieved": [{"from": rfc3339(a), "until": rfc3339(b)} for a, b in t.relief],
                        "background": t.fault.background,
                    }
                    for fault_id, t in timelines.items()
                ],
                "kubernetes": {
                    "deployments": self.kube.snapshot(),
                    **({"objects": self.kube.objects.snapshot()} if self.scenario.kubernetes is not None else {}),
                },
                "github": {"dispatches": list(self.github.dispatches)},
                "statuspage": {
                    "page_id": self.statuspage.page_id,
                    "incidents": [self.statuspage.render(i) for i in self.statuspage.incidents],
                    "components": list(self.statuspage.components.values()),
                },
                "slack": {"messages": list(self.slack.messages)},
                "pagerduty": {"incidents": self.pagerduty.snapshot(), "events": list(self.pagerduty.events)},
            }
