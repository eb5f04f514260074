"""Scenario files in format v1 keep loading exactly as they did.

Users have written their own v1 scenarios and independent suites are in v1, so the reader may grow
(new optional fields, a v2), but what a v1 file means must not move. The golden file holds the parsed
form of every library scenario as the reader produced it when format v1 was frozen (34 scenarios,
December 2026); each must still parse to the same values. A field added later with a default is
allowed (the golden simply does not name it).

Regenerate only for a deliberate, documented change of meaning:
``python tests/evals/sim/test_scenario_v1_compat.py --write``.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from evals.sim.library import SCENARIO_DIR, load_scenario

GOLDEN = Path(__file__).parent / "golden" / "library_v1.json.gz"


def parsed(name: str) -> dict[str, Any]:
    dumped: dict[str, Any] = json.loads(load_scenario(name).model_dump_json())
    return dumped


def differences(golden: Any, now: Any, path: str = "") -> list[str]:
    """Where ``now`` departs from ``golden``; keys only ``now`` has are new fields and are fine."""
    if isinstance(golden, dict) and isinstance(now, dict):
        found = []
        for key, value in golden.items():
            if key not in now:
                found.append(f"{path}.{key}: missing")
            else:
                found.extend(differences(value, now[key], f"{path}.{key}"))
        return found
    if isinstance(golden, list) and isinstance(now, list):
        if len(golden) != len(now):
            return [f"{path}: {len(golden)} items, now {len(now)}"]
        return [d for i, (g, n) in enumerate(zip(golden, now, strict=True)) for d in differences(g, n, f"{path}[{i}]")]
    return [] if golden == now else [f"{path}: {golden!r} -> {now!r}"]


def _golden() -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads(gzip.decompress(GOLDEN.read_bytes()))
    return data


@pytest.mark.parametrize("name", sorted(_golden()) if GOLDEN.exists() else [])
def test_a_v1_library_scenario_parses_as_it_did(name: str) -> None:
    assert (SCENARIO_DIR / f"{name}.yaml").exists(), f"{name}: the v1 file is gone from the library"
    found = differences(_golden()[name], parsed(name))
    assert found == [], f"{name}: " + "; ".join(found[:10])


def test_the_golden_covers_the_whole_v1_library() -> None:
    assert len(_golden()) >= 34


def test_a_changed_meaning_is_caught() -> None:
    golden = _golden()["checkout-migration"]
    changed = json.loads(json.dumps(golden))
    changed["expected"]["severity"] = "SEV4" if golden["expected"]["severity"] != "SEV4" else "SEV1"
    assert differences(golden, changed) != []


if __name__ == "__main__" and "--write" in sys.argv:
    names = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    GOLDEN.write_bytes(gzip.compress(json.dumps({n: parsed(n) for n in names}, sort_keys=True).encode(), mtime=0))
    print(f"wrote {GOLDEN} ({len(names)} scenarios)")
