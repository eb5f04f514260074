"""`agents.analytics.edges`: both ends of every call edge, served latency, victims, saturation, on synthetic graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.analytics.edges import (
    EdgeLatency,
    EdgeRanking,
    EdgeRankingConfig,
    ServiceSignals,
    localize,
    rise,
)

STEPS = 60
INCIDENT = 3
# entry -> cart, entry -> shop, entry -> price, shop -> price: "price" has two callers, "cart" one.
GRAPH = [("entry", "cart"), ("entry", "shop"), ("entry", "price"), ("shop", "price")]


def noisy(level: float, seed: int, spread: float = 0.05) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(level * math.exp(rng.normal(0.0, spread))) for _ in range(STEPS)]


def bumped(values: list[float], factor: float) -> list[float]:
    """The last `INCIDENT` steps multiplied by ``factor``: the fault."""
    return [*values[:-INCIDENT], *(v * factor for v in values[-INCIDENT:])]


class World:
    """Quiet telemetry for `GRAPH`; a test bends some series, then ranks."""

    def __init__(self) -> None:
        self.edges = {
            edge: {"caller": noisy(0.012, seed=i), "callee": noisy(0.010, seed=100 + i)} for i, edge in enumerate(GRAPH)
        }
        names = sorted({s for edge in GRAPH for s in edge})
        self.latency = {name: {"p90": noisy(0.02, seed=200 + i)} for i, name in enumerate(names)}
        self.cpu = {name: {"cpu": noisy(30.0, seed=300 + i)} for i, name in enumerate(names)}
        self.success = {"entry": {"success": [100.0 - 0.2 * (i % 3) for i in range(STEPS)]}}

    def slow_edge(self, caller: str, callee: str, *, caller_end: float, callee_end: float) -> None:
        edge = self.edges[(caller, callee)]
        edge["caller"] = bumped(edge["caller"], caller_end)
        edge["callee"] = bumped(edge["callee"], callee_end)

    def rank(self, config: EdgeRankingConfig | None = None) -> EdgeRanking:
        services = {
            name: ServiceSignals(
                latency=self.latency[name], saturation=self.cpu[name], availability=self.success.get(name, {})
            )
            for name in self.latency
        }
        edges = [
            EdgeLatency(caller=caller, callee=callee, caller_side=ends["caller"], callee_side=ends["callee"])
            for (caller, callee), ends in self.edges.items()
        ]
        return localize(services, edges, config or EdgeRankingConfig(incident_steps=INCIDENT))


def by_name(ranking: EdgeRanking) -> dict[str, float]:
    return {s.service: s.score for s in ranking.services}


def test_rise_is_in_robust_spreads_of_the_reference_and_unknown_without_one() -> None:
    quiet = [10.0 + (i % 2) for i in range(20)]
    assert rise([*quiet, 10.5, 16.0, 11.0], 3, floor=0.01, relative=True) == pytest.approx((16.0 - 10.5) / 1.4826 / 0.5)
    assert rise([*quiet, 9.0, 9.0, 9.0], 3, floor=0.01, relative=True) < 0  # moved the good way
    assert rise([math.nan] * 20 + [50.0] * 3, 3, floor=0.01) == 0.0  # no level to compare with
    assert rise([1.0, 1.0, 40.0], 2, floor=0.1) == 0.0  # too short a reference
    # log: a doubling is the same move at any level
    fast = rise([*(0.005 * (1 + 0.01 * (i % 3)) for i in range(20)), 0.01], 1, floor=0.1, log=True)
    slow = rise([*(5.0 * (1 + 0.01 * (i % 3)) for i in range(20)), 10.0], 1, floor=0.1, log=True)
    assert fast == pytest.approx(slow, rel=1e-6) and fast > 5


def test_a_quiet_world_scores_nobody() -> None:
    ranking = World().rank()
    assert max(by_name(ranking).values()) < 3
    assert {s.service for s in ranking.services} == {"entry", "cart", "shop", "price"}


def test_network_delay_points_at_the_common_endpoint_of_the_gapped_edges() -> None:
    """The caller end of every edge into `price` rises, its callee end does not: network into price.
    Both callers have one such edge and healthy others; the old graph ranker credited the callers'
    client latency to them or spread the edge latency over every service it touched."""
    world = World()
    world.slow_edge("entry", "price", caller_end=6.0, callee_end=1.0)
    world.slow_edge("shop", "price", caller_end=6.0, callee_end=1.0)
    ranking = world.rank()
    leader = ranking.services[0]
    assert leader.service == "price" and leader.fault_class == "network"
    assert leader.network > 5 and leader.served < 3
    scores = by_name(ranking)
    assert scores["price"] > 3 * max(scores["entry"], scores["shop"], scores["cart"])


def test_a_slow_callee_is_the_cause_and_its_waiting_callers_are_victims() -> None:
    """Both ends of every edge into `price` rise and its CPU with them; `shop` serves slower too,
    because it waits on price: a victim."""
    world = World()
    world.slow_edge("entry", "price", caller_end=5.0, callee_end=5.0)
    world.slow_edge("shop", "price", caller_end=5.0, callee_end=5.0)
    world.slow_edge("entry", "shop", caller_end=3.0, callee_end=3.0)
    world.latency["price"]["p90"] = bumped(world.latency["price"]["p90"], 5.0)
    world.latency["shop"]["p90"] = bumped(world.latency["shop"]["p90"], 3.0)
    world.cpu["price"]["cpu"] = bumped(world.cpu["price"]["cpu"], 2.5)
    ranking = world.rank()
    leader = ranking.services[0]
    assert leader.service == "price" and leader.fault_class == "saturation"
    shop = next(s for s in ranking.services if s.service == "shop")
    assert shop.served_raw > 4 and shop.served == pytest.approx(0.2 * shop.served_raw)
    assert any(reason.startswith("a victim: waits on price") for reason in shop.reasons)


def test_saturation_counts_only_as_far_as_the_service_serves_slower() -> None:
    """`cart` burns CPU but serves as fast as before; `shop` is mildly slower with no CPU change."""
    world = World()
    world.cpu["cart"]["cpu"] = bumped(world.cpu["cart"]["cpu"], 3.0)
    world.slow_edge("entry", "shop", caller_end=1.6, callee_end=1.6)
    world.latency["shop"]["p90"] = bumped(world.latency["shop"]["p90"], 1.6)
    ranking = world.rank()
    cart = next(s for s in ranking.services if s.service == "cart")
    assert cart.saturation > 20 and cart.score < 3
    assert ranking.services[0].service == "shop" and ranking.services[0].fault_class == "latency"


def test_failures_the_entry_serves_with_nothing_slow_below_it_point_at_the_entry() -> None:
    world = World()
    world.success["entry"]["success"] = [*world.success["entry"]["success"][:-INCIDENT], 100.0, 80.0, 85.0]
    ranking = world.rank()
    assert ranking.services[0].service == "entry" and ranking.services[0].fault_class == "errors"
    assert ranking.leader is not None and ranking.leader.availability > 10


def test_no_name_is_read_renaming_every_service_permutes_the_scores() -> None:
    world = World()
    world.slow_edge("entry", "price", caller_end=6.0, callee_end=1.0)
    world.slow_edge("shop", "price", caller_end=6.0, callee_end=1.0)
    rename = {"entry": "n4", "cart": "n1", "shop": "n3", "price": "n2"}
    renamed = World()
    renamed.edges = {(rename[a], rename[b]): ends for (a, b), ends in world.edges.items()}
    renamed.latency = {rename[n]: v for n, v in world.latency.items()}
    renamed.cpu = {rename[n]: v for n, v in world.cpu.items()}
    renamed.success = {rename[n]: v for n, v in world.success.items()}
    before, after = by_name(world.rank()), by_name(renamed.rank())
    assert {rename[n]: score for n, score in before.items()} == pytest.approx(after)


def test_the_entrys_failures_are_passed_on_when_it_waits_on_a_clearly_slower_callee() -> None:
    """`price` serves far slower (both ends of its edges) and the entry fails requests: the entry
    passes price's failures on, so price leads; with no slow callee the entry would."""
    world = World()
    world.success["entry"]["success"] = [*world.success["entry"]["success"][:-INCIDENT], 90.0, 85.0, 88.0]
    world.slow_edge("entry", "price", caller_end=8.0, callee_end=8.0)
    world.slow_edge("shop", "price", caller_end=8.0, callee_end=8.0)
    world.latency["price"]["p90"] = bumped(world.latency["price"]["p90"], 8.0)
    ranking = world.rank()
    entry = next(s for s in ranking.services if s.service == "entry")
    assert ranking.services[0].service == "price"
    assert entry.availability > ranking.services[0].score  # its own failures alone would have led
    assert entry.served == pytest.approx(0.2 * entry.served_raw)


def test_a_small_wait_does_not_make_a_victim() -> None:
    """`shop` serves slower; its edge to `price` rose a little at both ends (below ``min_wait``)."""
    world = World()
    world.slow_edge("entry", "shop", caller_end=2.5, callee_end=2.5)
    world.latency["shop"]["p90"] = bumped(world.latency["shop"]["p90"], 2.5)
    world.slow_edge("shop", "price", caller_end=2.0, callee_end=2.0)
    shop = next(s for s in world.rank().services if s.service == "shop")
    assert 0 < shop.waits_on < 5 and shop.served == shop.served_raw
    assert world.rank(EdgeRankingConfig(incident_steps=INCIDENT, min_wait=0.0)).services[0].served < shop.served


def test_a_caller_waiting_on_a_callee_behind_a_slow_network_is_a_victim() -> None:
    """The network into `price` is slow (the caller end of both its edges); `shop` serves slower
    because it waits on price. Its own rise is the larger one, but it is explained."""
    world = World()
    world.slow_edge("entry", "price", caller_end=4.0, callee_end=1.0)
    world.slow_edge("shop", "price", caller_end=4.0, callee_end=1.0)
    world.slow_edge("entry", "shop", caller_end=5.0, callee_end=5.0)
    world.latency["shop"]["p90"] = bumped(world.latency["shop"]["p90"], 5.0)
    ranking = world.rank()
    shop = next(s for s in ranking.services if s.service == "shop")
    price = next(s for s in ranking.services if s.service == "price")
    assert shop.served_raw > price.network and shop.served == pytest.approx(0.2 * shop.served_raw)
    assert ranking.services[0].service == "price" and price.fault_class == "network"
