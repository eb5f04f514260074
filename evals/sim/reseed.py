"""A scenario with other noise: the metamorphic check that no answer rests on one draw of the noise.

A scenario's ``seed`` draws its telemetry's noise, its log lines' values, its pod names. The same
incident under another draw is the same incident: run the library reseeded (``firstline eval run
--reseed N``) and compare with the plain run; an outcome that moves rests on a threshold the noise
happened to clear, not on the evidence.
"""

from __future__ import annotations

import hashlib
from typing import Any


def reseed_scenario(document: dict[str, Any], salt: int) -> dict[str, Any]:
    """The document with its seed replaced by one derived from the old seed and ``salt`` (the same for
    the same pair, different for every salt)."""
    digest = hashlib.sha256(f"{document.get('seed', 0)}:{salt}".encode()).digest()
    return {**document, "seed": int.from_bytes(digest[:4], "big") % 1_000_000}
