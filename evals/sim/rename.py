"""A scenario with every name of its world replaced: the metamorphic check that names carry no answer.

The investigation must find the origin from telemetry, logs, changes, the call graph and what the
catalog says a component is, never from what a component is called. `rename_scenario` replaces the
name of every service, Deployment, workload, ConfigMap, Secret, node, namespace and repository (and
their CamelCase forms in alert names) with a neutral one (``cedar-4``) everywhere in the document:
topology, telemetry, log lines, change descriptions, the answer key. Descriptions keep their meaning
("the orders database"), so what a human could read stays readable. Run the library renamed
(``firstline eval run --rename SEED``) and compare with the plain run: any scenario whose outcome
moves depends on a name somewhere in the agents.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

WORDS = (
    "alder birch cedar delta ember fjord grove heron iris juniper kestrel lumen maple nimbus onyx pebble quill raven "
    "sable tundra umber vale willow yarrow zephyr basalt cobalt dahlia egret flint garnet hazel indigo jasper kelp "
    "lichen marlin nettle opal plover quartz rowan sorrel tansy "
).split()

# (list path, field) pairs whose values are names of things in the scenario's world.
_NAMED = (
    ("topology.services", "name"),
    ("topology.services", "deployment"),
    ("topology.services", "namespace"),
    ("kubernetes.workloads", "name"),
    ("kubernetes.workloads", "namespace"),
    ("kubernetes.configmaps", "name"),
    ("kubernetes.secrets", "name"),
    ("kubernetes.network_policies", "name"),
    ("kubernetes.hpas", "name"),
    ("kubernetes.resource_quotas", "name"),
    ("kubernetes.namespaces", "name"),
    ("kubernetes.nodes", "name"),
)
_KEEP_NAMESPACES = frozenset({"default"})
_WORD = "A-Za-z0-9_"
_SCHEMA_KEY = re.compile(r"[a-z0-9_]+")
# Fields whose values come from a vocabulary (a namespace may be called ``monitoring``, a category too).
VOCABULARY = frozenset({"type", "category", "kind", "severity", "status", "signal", "tier"})


def _items(document: dict[str, Any], path: str) -> Iterator[dict[str, Any]]:
    node: Any = document
    for key in path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    for item in node if isinstance(node, list) else []:
        if isinstance(item, dict):
            yield item


def world_names(document: dict[str, Any]) -> list[str]:
    """Every name the scenario gives a thing of its world, longest first (so ``orders-db`` is replaced
    before ``orders``)."""
    names: set[str] = set()
    for path, field in _NAMED:
        for item in _items(document, path):
            value = item.get(field)
            if isinstance(value, str) and value and value not in _KEEP_NAMESPACES:
                names.add(value)
    for item in _items(document, "topology.services"):
        repo = item.get("repo")
        if isinstance(repo, str) and "/" in repo:
            names.add(repo.split("/", 1)[1])
    return sorted(names, key=lambda n: (-len(n), n))


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name) if part)


def name_map(document: dict[str, Any], seed: int) -> dict[str, str]:
    """Old name -> neutral new name, the same for the same document and seed."""
    names = world_names(document)
    rng = random.Random(f"{seed}:{document.get('name', '')}")
    pool = [f"{word}-{n}" for word in WORDS for n in range(1, 10)]
    rng.shuffle(pool)
    taken = set(names)
    fresh = (candidate for candidate in pool if candidate not in taken)
    return {old: next(fresh) for old in names}


def _replacer(mapping: dict[str, str]) -> tuple[re.Pattern[str], dict[str, str]]:
    table = dict(mapping)
    for old, new in mapping.items():
        table.setdefault(_camel(old), _camel(new))
    # A name is replaced wherever it is a whole part of an identifier (a pod's ``name-hash``, a change id
    # ``deploy-name-1.2.0``); longer names first, so ``orders-db`` is one name, not ``orders`` and ``-db``.
    alternatives = "|".join(re.escape(old) for old in sorted(table, key=lambda n: (-len(n), n)))
    return re.compile(rf"(?<![{_WORD}])({alternatives})(?![{_WORD}])"), table


def rename_scenario(document: dict[str, Any], seed: int) -> tuple[dict[str, Any], dict[str, str]]:
    """The document with every world name replaced, and the mapping used: in string values, and in
    mapping keys that are a name (``logs: {orders: ...}``). The scenario's own name and tags stay."""
    mapping = name_map(document, seed)
    if not mapping:
        return document, mapping
    pattern, table = _replacer(mapping)

    def _key(key: Any) -> Any:
        # A key that is a name (``logs: {orders: ...}``) or holds one (``orders.rules.yaml`` in a
        # ConfigMap's data); schema field names are snake_case words and stay.
        if not isinstance(key, str):
            return key
        if key in table:
            return table[key]
        return pattern.sub(lambda m: table[m.group(1)], key) if _SCHEMA_KEY.fullmatch(key) is None else key

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            return pattern.sub(lambda m: table[m.group(1)], value)
        if isinstance(value, list):
            return [swap(v) for v in value]
        if isinstance(value, dict):
            return {_key(k): v if k in VOCABULARY and isinstance(v, str) else swap(v) for k, v in value.items()}
        return value

    renamed: dict[str, Any] = {
        key: value if key in ("name", "tags", "version", "seed") else swap(value) for key, value in document.items()
    }
    return renamed, mapping
