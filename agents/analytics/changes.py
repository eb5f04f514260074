"""Change correlation: which recent changes could have caused what the affected service shows.

A *change* is anything an operator did on purpose: a deploy, a schema migration, a configuration or
feature-flag edit, an infrastructure change. `rank_changes` keeps the changes made before the onset,
within a lookback, to components in the blast radius of the affected one, and scores each on three
factors that are reported separately so that evidence can cite them:

- **time proximity**: halves every ``half_life`` (30 minutes by default) between the change and the
  onset, because most change-induced incidents start soon after the change lands;
- **topology distance**: 1 for the affected component itself, 1/2 one hop away, 1/3 two hops away;
- **textual link**: identifiers that appear both in the error log lines and in the change's
  description or diff (``customer_id`` in a failing query and in a migration that renamed it). An
  identifier-looking token (snake_case, camelCase, dotted, with digits) weighs far more than an
  ordinary word, and words every error line contains ("error", "failed") do not count.

The score is ``0.35 x time + 0.25 x topology + 0.4 x text``, so a change with a strong textual link
outranks a merely recent one, and a recent change next door outranks an old one far away. Changes
after the onset cannot have caused it and are left out (``clock_skew`` tolerates unsynchronized
clocks). Nothing here reads component names beyond matching the change's component to the graph.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ChangeKind = Literal["deploy", "migration", "config", "feature_flag", "infrastructure", "other"]

GLOBAL_COMPONENT = "*"
"""A change that touches every component (a cluster-wide setting): topology factor 0.5."""

_MODEL = ConfigDict(frozen=True, extra="forbid")

# The textual link weighs most: an identifier shared by a failing line and a diff is the strongest
# single clue a change caused an incident; recency and adjacency alone are circumstantial.
TIME_WEIGHT = 0.35
TOPOLOGY_WEIGHT = 0.25
TEXT_WEIGHT = 0.4


class Change(BaseModel):
    """One change, as a deploy tracker, a migration log or a flag service reports it."""

    model_config = _MODEL

    id: str
    component: str = Field(description="The component changed, or '*' for a change that touches all of them.")
    kind: ChangeKind = "other"
    time: datetime = Field(description="When the change took effect (timezone-aware).")
    description: str = ""
    diff: str = Field(default="", description="The diff or the detailed change (config keys, SQL), if any.")
    author: str | None = None
    url: str | None = None
    repo: str = Field(default="", description="The repository it was recorded in (owner/name), if any.")


class RankedChange(BaseModel):
    """A change with its score and every factor behind it."""

    model_config = _MODEL

    change: Change
    score: float = Field(description="0.35 x time_proximity + 0.25 x topology + 0.4 x text_link, in 0..1.")
    time_proximity: float
    topology: float
    text_link: float
    minutes_before_onset: float
    hops: int | None = Field(description="Hops between the changed and the affected component; None if global.")
    shared_tokens: list[str] = Field(description="Tokens found both in error lines and in the change, strongest first.")
    reasons: list[str]


def rank_changes(
    changes: Iterable[Change],
    affected: str,
    distances: Mapping[str, int],
    onset: datetime,
    *,
    error_lines: Sequence[str] = (),
    aliases: Mapping[str, Sequence[str]] | None = None,
    lookback: timedelta = timedelta(hours=24),
    half_life: timedelta = timedelta(minutes=30),
    max_hops: int = 3,
    clock_skew: timedelta = timedelta(minutes=1),
    grace: timedelta = timedelta(minutes=15),
) -> list[RankedChange]:
    """Changes that could explain the incident on ``affected``, most likely first.

    ``distances`` maps components to hops from ``affected`` (``affected`` itself at 0), e.g.
    ``hop_distances(graph, affected, undirected=True)``; components missing from it, or further than
    ``max_hops``, are outside the blast radius. ``error_lines`` are the affected services' error log
    lines around the onset, used for the textual link; ``aliases`` the other names a component goes by
    (its namespace, its Deployment), context like its own name. Changes later than ``onset + clock_skew`` or
    earlier than ``onset - lookback`` are left out. Time proximity is 1 for changes up to ``grace``
    before the onset (a release often fails only once its pods take traffic, caches expire or load
    rises: 10-15 minutes is common) and halves every ``half_life`` after that. Raises ValueError on
    a naive ``onset``.
    """
    if onset.tzinfo is None:
        raise ValueError("onset must be timezone-aware (UTC)")
    if half_life <= timedelta(0):
        raise ValueError("half_life must be positive")
    # The affected service's own name is context, not evidence: it is in its logs and its deploys. Another
    # component's name in its errors says which call fails; a change naming that call is linked to them.
    error_tokens = {token for token in _error_tokens(error_lines) if token.lower() != affected.lower()}
    ranked = []
    for change in changes:
        if change.time.tzinfo is None:
            raise ValueError(f"change {change.id!r}: time must be timezone-aware (UTC)")
        before = onset - change.time
        if before < -clock_skew or before > lookback:
            continue
        if change.component == GLOBAL_COMPONENT:
            hops: int | None = None
            topology = 0.5
            where = "touches every component"
        else:
            found = distances.get(change.component)
            if found is None or found > max_hops:
                continue
            hops = found
            topology = 1.0 / (1.0 + hops)
            where = (
                "the affected component itself" if hops == 0 else f"{hops} hop{'s' if hops > 1 else ''} from {affected}"
            )
        minutes = max(before.total_seconds(), 0.0) / 60.0
        proximity = 0.5 ** (max(before.total_seconds() - grace.total_seconds(), 0.0) / half_life.total_seconds())
        # So are the words of the changed component's own name ("worker" of "mail-worker") and of its
        # repository ("acme" of acme/mail-worker): its log lines, bucket names and paths all carry them.
        # Another component's name in a diff is a clue.
        # Its namespace too: "batch/reindexer" is written in the change, and "batch" in every line the
        # job logs about its own work.
        own = _name_parts(change.component.lower()) | _name_parts(change.repo.lower())
        for alias in (aliases or {}).get(change.component, ()):
            own |= _name_parts(alias.lower())
        shared, text_link = _text_link(
            {t for t in error_tokens if t.lower() not in own}, f"{change.description}\n{change.diff}"
        )
        score = TIME_WEIGHT * proximity + TOPOLOGY_WEIGHT * topology + TEXT_WEIGHT * text_link
        reasons = [
            f"{change.kind} on {change.component} {minutes:.0f} min before the onset: time proximity {proximity:.2f} "
            f"(full for {grace.total_seconds() / 60:.0f} min, then half-life {half_life.total_seconds() / 60:.0f} min)",
            f"{where}: topology {topology:.2f}",
            (
                f"shares {', '.join(shared[:5])} with the error lines: textual link {text_link:.2f}"
                if shared
                else "no identifier in common with the error lines"
            ),
        ]
        ranked.append(
            RankedChange(
                change=change,
                score=score,
                time_proximity=proximity,
                topology=topology,
                text_link=text_link,
                minutes_before_onset=minutes,
                hops=hops,
                shared_tokens=shared,
                reasons=reasons,
            )
        )
    ranked.sort(key=lambda r: (-r.score, r.minutes_before_onset, r.change.id))
    return ranked


# --------------------------------------------------------------------------------------------------
# Tokens

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*[A-Za-z0-9_]|[A-Za-z_]")
_CAMEL = re.compile(r"[a-z][A-Z]")

# Words that appear in error lines whatever the cause; they link nothing.
_GENERIC = frozenset(
    """
    error errors failed failure fail fails exception exceptions warn warning info debug trace fatal
    critical timeout timed out null none nil undefined true false the and for with from into this that
    exceeded times seconds after retries retried
    not was were has have had are can cannot could would should will unable invalid request requests
    response status code message line file column value values type object call called calling caused
    cause while when then than after before retry retrying attempt connection connect refused reset
    http https get post put delete patch select insert update where table query column row rows id
    service server client user users data database internal unknown unexpected missing found
    """.split()
)


def _tokens(text: str) -> set[str]:
    """Candidate identifiers of ``text``; dotted or dashed names also yield their parts
    (``orders.customer_id`` matches a diff that only says ``customer_id``)."""
    found = set()
    for match in _TOKEN.finditer(text):
        whole = match.group(0).strip(".-")
        # A host name's labels are names too: ``orders-db.shop.svc`` yields ``orders-db`` as well as
        # ``orders`` and ``db``.
        parts = [part for part in re.split(r"[.\-]", whole) if part] if ("." in whole or "-" in whole) else []
        if "." in whole:
            parts += [label for label in whole.split(".") if "-" in label]
        for token in [whole, *parts]:
            if len(token) < 3:
                continue
            lowered = token.lower()
            if lowered in _GENERIC or lowered.rstrip("s") in _GENERIC or lowered.isdigit():
                continue
            found.add(token)
    return found


def _name_parts(name: str) -> set[str]:
    """A component name and the words it is made of."""
    return {name, *(part for part in re.split(r"[.\-_/]", name) if part)}


def _error_tokens(lines: Sequence[str]) -> set[str]:
    tokens: set[str] = set()
    for line in lines:
        tokens |= _tokens(line)
    return tokens


def token_weight(token: str) -> float:
    """How specific a token is: identifiers (``customer_id``, ``maxPoolSize``, ``orders.v2``) ~0.8-0.9,
    plain words ~0.15-0.2. Specific tokens shared by an error and a change are strong evidence; a
    shared ordinary word is barely a hint."""
    if "_" in token or "." in token or _CAMEL.search(token):
        weight = 0.8
    elif any(ch.isdigit() for ch in token):
        weight = 0.6
    else:
        return 0.2 if len(token) >= 8 else 0.15
    return min(weight + (0.1 if len(token) >= 8 else 0.0), 0.9)


def _text_link(error_tokens: set[str], change_text: str) -> tuple[list[str], float]:
    """Tokens shared (case-insensitive) by the error lines and the change, and the combined link in 0..1.

    Independent pieces of evidence combine as ``1 - prod(1 - weight)``, so two identifiers in
    common beat one, and ten ordinary words never reach the strength of one identifier pair.
    """
    if not error_tokens or not change_text:
        return [], 0.0
    change_tokens = {token.lower(): token for token in _tokens(change_text)}
    shared = sorted(
        {token for token in error_tokens if token.lower() in change_tokens},
        key=lambda token: (-token_weight(token), token.lower()),
    )
    # A name and the words it is made of are one piece of evidence: ``orders-db`` shared, its ``orders``
    # and ``db`` add nothing.
    whole = [t for t in shared if re.search(r"[.\-]", t)]
    shared = [
        t for t in shared if not any(t != w and t.lower() in {p.lower() for p in re.split(r"[.\-]", w)} for w in whole)
    ]
    # Plain words are capped at three so that a long diff cannot build a link out of vocabulary alone.
    plain = [t for t in shared if token_weight(t) < 0.5][:3]
    strong = [t for t in shared if token_weight(t) >= 0.5]
    miss = math.prod(1.0 - token_weight(t) for t in strong + plain)
    return shared, 1.0 - miss
