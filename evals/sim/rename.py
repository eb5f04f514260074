"""A scenario with every name of its world replaced: the metamorphic check that names carry no answer.

The investigation must find the origin from telemetry, logs, changes, the call graph and what the
catalog says a component is, never from what a component is called. `rename_scenario` replaces the
name of every service, Deployment, workload, ConfigMap, Secret, node, namespace and repository (and
their CamelCase forms in alert names) with a neutral one (``cedar-opal``) everywhere in the document:
topology, telemetry, log lines, change descriptions, the answer key. Descriptions keep their meaning
("the orders database"), so what a human could read stays readable. Run the library renamed
(``firstline eval run --rename SEED``) and compare with the plain run: any scenario whose outcome
moves depends on a name somewhere in the agents.

What it cannot keep: a communications fact that is a fragment of a name ("reindex" of
``catalog-reindexer``) has no renamed form, so an update that said it through the name misses it.
Compare root causes and remediations; read a communications miss on a renamed run with that in mind.
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
    # Two plain words, as real names are (a digit would make a name look like a version to whatever
    # weighs identifiers), and no word in two names: two renamed components share no token their real
    # names did not (a change "linked" to a database because both got ``kestrel`` would be an artefact).
    words = list(WORDS)
    rng.shuffle(words)
    pool = [f"{a}-{b}" for a, b in zip(words[0::2], words[1::2], strict=False)]
    pool += [f"{a}-{b}-{c}" for a in WORDS for b in WORDS for c in WORDS[:3] if a != b]
    taken = set(names)
    fresh = (candidate for candidate in pool if candidate not in taken)
    mapping: dict[str, str] = {}
    derived: dict[str, tuple[str, str]] = {}
    for old in names:
        base = _derived_from(old, names)
        if base is None:
            mapping[old] = next(fresh)
        else:
            derived[old] = base
    # A name Kubernetes derives from another (a run ``backfill-0511`` of ``backfill``) keeps the
    # derivation; a suffix that is a word (``orders-db``) would carry meaning, so it is not one.
    for old, (root, suffix) in derived.items():
        mapping[old] = f"{mapping[root]}-{suffix}"
    return mapping


def _derived_from(name: str, names: list[str]) -> tuple[str, str] | None:
    """(base, suffix) when ``name`` is another world name plus a suffix with a digit and no other
    letters than a hash's (``-0511``, ``-7f9c4``)."""
    for base in names:
        if base != name and name.startswith(f"{base}-"):
            suffix = name[len(base) + 1 :]
            if re.fullmatch(r"[0-9a-f]*[0-9][0-9a-f]*", suffix) and _derived_from(base, names) is None:
                return base, suffix
    return None


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
