"""What the agents themselves wrote in a message, without the material they quoted in it.

A communications fact ("the promo engine was rolled back") is credited only when the agents said it.
Messages also carry evidence: the incident channel lists each observation with its query, and an
observation may embed a log line or a change title verbatim. A fact found only there was quoted from
the telemetry, not stated, so the scorer matches facts against the authored text this module leaves:

- every line that quotes a recorded evidence observation (matched on its first line, or on the
  leading part a message shortened it to) is dropped;
- fenced code blocks, inline code spans and block quotes (lines starting with ``>``) are dropped:
  the Markdown ways of quoting a log line or a query.

What stays is compared case-insensitively, each fact as a substring.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

FENCED = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# The leading part of an observation that identifies it inside a message line: a message may shorten
# an observation (at a word boundary, with an ellipsis), never below this.
ANCHOR = 40
# An observation shorter than this ("no data") is too common a phrase to mark a line as quoted.
SHORTEST = 20


def _anchors(observations: Iterable[str]) -> list[str]:
    anchors = []
    for observation in observations:
        first = observation.strip().splitlines()[0].strip().lower() if observation.strip() else ""
        if len(first) >= SHORTEST:
            anchors.append(first[:ANCHOR])
    return anchors


def authored_text(text: str, evidence: Iterable[str] = ()) -> str:
    """``text`` without quoted material: evidence lines, code and block quotes (lower-cased)."""
    anchors = _anchors(evidence)
    kept = []
    for line in FENCED.sub("\n", text).splitlines():
        low = line.strip().lower()
        if low.startswith(">") or any(anchor in low for anchor in anchors):
            continue
        kept.append(INLINE_CODE.sub(" ", low))
    return "\n".join(kept)


def missing_facts(facts: Iterable[str], messages: Iterable[str], evidence: Iterable[str] = ()) -> list[str]:
    """The facts no message states in its own words (case-insensitive substrings of the authored text)."""
    evidence = list(evidence)
    said = "\n".join(authored_text(m, evidence) for m in messages)
    return [fact for fact in facts if fact.lower() not in said]
