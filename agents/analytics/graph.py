"""Dependency-graph helpers shared by the analytics: who calls whom, how far, through what.

A dependency graph is a plain mapping ``caller -> callees`` (``{"frontend": ["search", "cart"]}``), the
shape a service catalog or a call-graph export gives. Edges point the way requests flow, so faults
(latency, errors) travel against them: a slow callee makes its callers slow.

Nothing here reads component names; every function is pure and deterministic (ties are broken by name
order so that results are reproducible).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping

DependencyGraph = Mapping[str, Iterable[str]]
"""``caller -> callees``. Components that call nothing may be absent or map to an empty list."""


def normalize_graph(graph: DependencyGraph) -> dict[str, tuple[str, ...]]:
    """Every component (callers and callees) mapped to its sorted, de-duplicated callees, no self-loops."""
    nodes: dict[str, set[str]] = {}
    for caller, callees in graph.items():
        nodes.setdefault(caller, set())
        for callee in callees:
            nodes.setdefault(callee, set())
            if callee != caller:
                nodes[caller].add(callee)
    return {node: tuple(sorted(callees)) for node, callees in sorted(nodes.items())}


def reverse_graph(graph: DependencyGraph) -> dict[str, tuple[str, ...]]:
    """``callee -> callers`` for every component of ``graph``."""
    callers: dict[str, set[str]] = {node: set() for node in normalize_graph(graph)}
    for caller, callees in normalize_graph(graph).items():
        for callee in callees:
            callers[callee].add(caller)
    return {node: tuple(sorted(found)) for node, found in callers.items()}


def hop_distances(graph: DependencyGraph, source: str, *, undirected: bool = False) -> dict[str, int]:
    """Hops from ``source`` to every component it reaches (``source`` itself at 0).

    Directed by default: the components ``source`` depends on, directly or not. With ``undirected``
    the edges are walked both ways, which is what "topology distance" between a changed component and
    the affected one means when either may call the other.
    """
    forward = normalize_graph(graph)
    backward = reverse_graph(graph) if undirected else {}
    if source not in forward:
        return {source: 0}
    distances = {source: 0}
    queue: deque[str] = deque([source])
    while queue:
        node = queue.popleft()
        neighbours = list(forward.get(node, ())) + list(backward.get(node, ()))
        for neighbour in neighbours:
            if neighbour not in distances:
                distances[neighbour] = distances[node] + 1
                queue.append(neighbour)
    return distances


def widest_paths(
    graph: DependencyGraph, source: str, capacity: Callable[[str], float]
) -> dict[str, tuple[float, tuple[str, ...]]]:
    """For every component reachable from ``source``, the path whose weakest *intermediate* node is best.

    ``capacity(node)`` rates how well a node supports propagation (for the ranking: how anomalous it
    is, in [0, 1]). The endpoints do not count: a path ``source -> a -> b -> target`` is rated by
    ``min(capacity(a), capacity(b))``, and a direct edge has the full rating 1.0. Among equally rated
    paths the shortest wins. Returns ``node -> (rating, path from source to node inclusive)``.
    """
    forward = normalize_graph(graph)
    if source not in forward:
        return {source: (1.0, (source,))}
    best: dict[str, tuple[float, tuple[str, ...]]] = {source: (1.0, (source,))}
    # Max-heap on rating, then fewest hops, then name order for determinism.
    heap: list[tuple[float, int, str, tuple[str, ...]]] = [(-1.0, 0, source, (source,))]
    done: set[str] = set()
    while heap:
        negative_rating, hops, node, path = heapq.heappop(heap)
        if node in done:
            continue
        done.add(node)
        rating = -negative_rating
        for callee in forward.get(node, ()):
            if callee in done:
                continue
            through = rating if node == source else min(rating, capacity(node))
            candidate = (through, path + (callee,))
            known = best.get(callee)
            if known is None or through > known[0] or (through == known[0] and len(candidate[1]) < len(known[1])):
                best[callee] = candidate
                heapq.heappush(heap, (-through, hops + 1, callee, candidate[1]))
    return best
