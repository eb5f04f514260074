"""The message lint: what a message for people must never contain, per audience.

Rules (each problem is one sentence naming what was found):

- every audience: no ISO timestamp with fractional seconds, no raw result dumps (``{} = 0.002``);
- customers and stakeholders: no ISO timestamps at all, no diff, no query text, every clock time
  shown in the configured zone (``14:05 CET``, not a bare ``14:05`` or another zone);
- customers: none of the internals given (service names, people, hostnames), no commit ids;
- stakeholders: a link (a URL, or the record's ``firstline incidents show ID`` when none is configured).

`lint_message` is used by the communication agent (a message that fails is not posted as written: the
problem goes on the timeline) and by the tests, over every message of library runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from agents.humanize import zone_labels

ISO_WITH_FRACTION = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}\.\d+")
ISO_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
RESULT_DUMP = re.compile(r"\{\s*\}\s*=|latest: \{")
DIFF = re.compile(r"^(diff --git|@@ |\+\+\+ |--- a/)|^[+-]\s*\S+\s*[:=]", re.M)
QUERY = re.compile(
    r"\b(rate|sum|histogram_quantile|count_over_time|increase|avg_over_time|max_over_time)\s*\(|\{[a-z_]+=~?\"|\|=\s*\""
)
CLOCK = re.compile(r"\b([01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?\b(?!:)(\s+([A-Z][A-Za-z+\-0-9/_]*))?")
COMMIT = re.compile(r"\b[0-9a-f]{7,40}\b")
URL = re.compile(r"https?://\S+")
RECORD_REFERENCE = re.compile(r"firstline incidents show \S+")


def lint_message(text: str, audience: str, *, zone: str, now: datetime, internals: Iterable[str] = ()) -> list[str]:
    """Problems with ``text`` for ``audience`` (customers, stakeholders or responders); empty: fit to send."""
    problems = []
    if ISO_WITH_FRACTION.search(text):
        problems.append("an ISO timestamp with fractional seconds")
    if RESULT_DUMP.search(text):
        problems.append("a raw query result dump")
    if audience in ("customers", "stakeholders"):
        if ISO_TIMESTAMP.search(text):
            problems.append("an ISO timestamp (show the time in the configured zone)")
        if DIFF.search(text):
            problems.append("diff text")
        if QUERY.search(text):
            problems.append("query text")
        labels = zone_labels(zone, now)
        for match in CLOCK.finditer(URL.sub("", text)):
            label = match.group(3)
            if label not in labels:
                problems.append(
                    f"the time {match.group(0).strip()!r} is not shown in the configured zone {zone}"
                    f" ({' or '.join(sorted(labels - {zone})) or zone})"
                )
                break
    if audience == "customers":
        lowered = text.lower()
        named = sorted(
            {n for n in internals if n and re.search(rf"(?<![\w-]){re.escape(n.lower())}(?![\w-])", lowered)}
        )
        if named:
            problems.append(f"internal names customers should not see: {', '.join(named)}")
        if COMMIT.search(URL.sub("", text)):
            problems.append("a commit id")
    if audience == "stakeholders" and not (URL.search(text) or RECORD_REFERENCE.search(text)):
        problems.append("no link to the incident page or the record")
    return problems
