"""Which services are related, from the service catalog's dependencies.

Two services are related when one depends on the other within ``max_hops`` (either direction):
a database and the services that call it, an API and the services it calls. Siblings that merely
share a dependency are not related by that alone; when the shared dependency alerts too, the
correlation engine merges their incidents through it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping

from knowledge.catalog import ServiceCatalog


class Topology:
    """Dependency graph with cached neighbourhoods. Services not in the catalog relate only to themselves."""

    def __init__(self, dependencies: Mapping[str, Iterable[str]], max_hops: int) -> None:
        self.max_hops = max_hops
        self._down: dict[str, tuple[str, ...]] = {name: tuple(deps) for name, deps in dependencies.items()}
        up: dict[str, list[str]] = {}
        for name, deps in self._down.items():
            for dep in deps:
                up.setdefault(dep, []).append(name)
        self._up = {name: tuple(callers) for name, callers in up.items()}
        self._related: dict[str, frozenset[str]] = {}
        self._below: dict[str, frozenset[str]] = {}
        self._above: dict[str, frozenset[str]] = {}

    @classmethod
    def from_catalog(cls, catalog: ServiceCatalog, max_hops: int) -> Topology:
        return cls({name: service.dependencies for name, service in catalog.services.items()}, max_hops)

    @classmethod
    def empty(cls) -> Topology:
        return cls({}, 0)

    def knows(self, service: str) -> bool:
        return service in self._down or service in self._up

    def _walk(self, start: str, edges: Mapping[str, tuple[str, ...]]) -> set[str]:
        seen = {start}
        frontier = deque([(start, 0)])
        while frontier:
            current, hops = frontier.popleft()
            if hops == self.max_hops:
                continue
            for nxt in edges.get(current, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append((nxt, hops + 1))
        return seen

    def related(self, service: str) -> frozenset[str]:
        """``service`` and every service within ``max_hops`` of it, callers and dependencies."""
        cached = self._related.get(service)
        if cached is None:
            cached = frozenset(self._walk(service, self._down) | self._walk(service, self._up))
            self._related[service] = cached
        return cached

    def above(self, service: str) -> frozenset[str]:
        """``service`` and its callers within ``max_hops``: what a failure of it can break."""
        cached = self._above.get(service)
        if cached is None:
            cached = frozenset(self._walk(service, self._up))
            self._above[service] = cached
        return cached

    def below(self, service: str) -> frozenset[str]:
        """``service`` and what it depends on within ``max_hops``: what an investigation from it covers."""
        cached = self._below.get(service)
        if cached is None:
            cached = frozenset(self._walk(service, self._down))
            self._below[service] = cached
        return cached
