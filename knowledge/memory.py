"""Outcome-linked memory: resolved incidents are written back, and new incidents recall them.

Every incident that ends is remembered with its outcome: the root cause, the action that fixed it
and who approved it, the time to mitigate, what was ruled out or rejected, the links and the
follow-ups. It is stored as a ``postmortem`` document (id ``incidents/<incident id>``) in the same
Chroma collection as the written postmortems, so a plain ``search(kind="postmortem")`` finds it too.

On a new incident, :meth:`IncidentMemory.recall` returns the most similar past incidents (remembered
ones and written postmortems alike) and says whether this is a recurrence::

    memory = IncidentMemory(store)
    memory.remember(record)                        # the incident record, as a plain dict
    recall = memory.recall("checkout", "checkout 5xx ratio above 5%", now=clock(),
                           alert_name="CheckoutHighErrorRate", exclude_incident="inc-42")
    recall.recurrence.statement
    # '4th time in 30 days (checkout, alert CheckoutHighErrorRate): previously on 2026-11-02, ...;
    #  the follow-up from last time is still open: "Make migrations backward compatible"'
    recall.similar[0].source_id                    # 'knowledge:incidents/inc-41#root-cause'

What counts as the same problem (a recurrence): a past incident of the same service, dated in the
window before ``now``, with the same alert name, or with the same diagnosis category (and the same
entity when both name one). When the caller knows neither, text similarity decides: the past
incidents in the window that share words with ``text`` (BM25 above zero) and whose best chunk has a
cosine similarity of at least ``min_similarity`` to it. That threshold suits the offline hashing
embedder (unrelated texts score below 0.1); prefer passing the alert name or the category. Written postmortems take part through their front matter (``date``,
``service``, ``alert`` or ``alert_name``, ``category``, ``follow_ups``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from pydantic import BaseModel, Field

from knowledge.ingest import KnowledgeDocument, chunk_document
from knowledge.records import (
    FollowUp,
    PastIncident,
    incident_doc_id,
    incident_metadata,
    past_incident_from_metadata,
    past_incident_from_record,
    render_markdown,
)
from knowledge.retrieval import Hit, KnowledgeRetriever
from knowledge.store import KnowledgeStore, MetadataValue

log = structlog.get_logger(__name__)

MEMORY_SOURCE_PREFIX = "memory:"


class RememberedIncident(BaseModel):
    """What :meth:`IncidentMemory.remember` wrote."""

    doc_id: str
    source_id: str = Field(description="Citable id of the remembered incident, e.g. knowledge:incidents/inc-1")
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    incident: PastIncident


class RecalledIncident(BaseModel):
    """A past incident as the agents see it: what it was, what fixed it, what is still open."""

    doc_id: str
    source_id: str
    title: str
    origin: Literal["incident_record", "postmortem"]
    service: str | None = None
    same_service: bool = True
    date: str | None = None
    incident_id: str | None = None
    score: float | None = Field(default=None, description="Fused retrieval score; None when found by date only.")
    excerpt: str = ""
    alert_name: str | None = None
    category: str | None = None
    entity: str | None = None
    root_cause: str | None = None
    fix: str | None = None
    approved_by: str | None = None
    time_to_mitigate_minutes: float | None = None
    resolved: bool | None = None
    open_follow_ups: list[str] = Field(default_factory=list)
    follow_ups_total: int = 0
    ruled_out: list[str] = Field(default_factory=list, description="Hypotheses that were wrong last time.")
    rejected_actions: list[str] = Field(default_factory=list)


class Recurrence(BaseModel):
    """Whether the incident happened before in the window, and the sentence that says so."""

    occurrence: int = Field(description="This incident is the Nth in the window; 1 means first.")
    window_days: int
    matched_on: str = Field(description="What made past incidents count: alert, category or similar text.")
    previous: list[RecalledIncident] = Field(default_factory=list, description="Newest first.")
    statement: str

    @property
    def is_recurrence(self) -> bool:
        return self.occurrence > 1


class Recall(BaseModel):
    """The past incidents most like this one, and the recurrence statement."""

    service: str
    query: str
    similar: list[RecalledIncident] = Field(default_factory=list)
    recurrence: Recurrence

    @property
    def statement(self) -> str:
        return self.recurrence.statement


class IncidentMemory:
    """Write incidents back to the knowledge store and recall them; share the retriever when you can."""

    def __init__(self, store: KnowledgeStore, retriever: KnowledgeRetriever | None = None) -> None:
        self.store = store
        self.retriever = retriever or KnowledgeRetriever(store)

    # -- writing -------------------------------------------------------------------------------------

    def remember(
        self,
        record: Mapping[str, Any],
        *,
        follow_ups: Sequence[FollowUp | Mapping[str, Any] | str] | None = None,
    ) -> RememberedIncident:
        """Store an incident record (the agents' JSON, as a dict) as a past incident.

        Idempotent: remembering the same record again writes nothing; a changed record (a new
        follow-up, a later status) replaces only the sections that changed. ``follow_ups`` replaces
        the record's own ``follow_ups``. Raises :class:`~knowledge.records.IncidentRecordError`
        naming the field when the record is unusable, and the store's errors when Chroma is down.
        """
        incident = past_incident_from_record(record, follow_ups=follow_ups)
        document = _document(incident)
        chunks = chunk_document(document)
        before = dict(self.store.iter_metadata(where={"doc_id": incident.doc_id}))
        new_ids = {c.id for c in chunks}
        to_write = [c for c in chunks if c.id not in before or dict(before[c.id]) != c.metadata]
        stale = [chunk_id for chunk_id in before if chunk_id not in new_ids]
        self.store.delete(stale)
        if to_write:
            self.store.upsert([c.id for c in to_write], [c.text for c in to_write], [c.metadata for c in to_write])
        added = sum(1 for c in to_write if c.id not in before)
        result = RememberedIncident(
            doc_id=incident.doc_id,
            source_id=f"knowledge:{document.source_path}",
            added=added,
            updated=len(to_write) - added,
            unchanged=len(chunks) - len(to_write),
            removed=len(stale),
            incident=incident,
        )
        log.info(
            "incident_remembered",
            incident_id=incident.incident_id,
            service=incident.service,
            resolved=incident.resolved,
            added=result.added,
            updated=result.updated,
            removed=result.removed,
        )
        return result

    def forget(self, incident_id: str) -> int:
        """Remove a remembered incident; returns how many chunks were removed."""
        ids = [chunk_id for chunk_id, _ in self.store.iter_metadata(where={"doc_id": incident_doc_id(incident_id)})]
        self.store.delete(ids)
        return len(ids)

    # -- reading -------------------------------------------------------------------------------------

    def recall(
        self,
        service: str,
        text: str,
        *,
        now: datetime,
        window_days: int = 30,
        k: int = 3,
        alert_name: str | None = None,
        category: str | None = None,
        entity: str | None = None,
        exclude_incident: str | None = None,
        min_similarity: float = 0.15,
    ) -> Recall:
        """The ``k`` past incidents most similar to ``text`` and whether this incident is a recurrence.

        ``service`` scopes both: similar incidents of the service come first, then (to fill ``k``)
        similar incidents of other services, marked ``same_service=False``. ``now`` is the current
        incident's time (inject the workflow clock); the recurrence window is
        ``[now - window_days, now]``. Pass the alert name (known at once) and, once there is a
        diagnosis, its category and entity: they decide what counts as the same problem (see the
        module docstring). ``exclude_incident`` leaves the current incident out when it is already
        remembered.
        """
        if not text.strip():
            raise ValueError("recall text is empty: pass the alert title, the error lines or the diagnosis")
        if window_days < 1:
            raise ValueError(f"window_days must be at least 1, got {window_days}")
        now = now if now.tzinfo else now.replace(tzinfo=UTC)
        excluded = {incident_doc_id(exclude_incident)} if exclude_incident else set()
        similar = self._similar(service, text, k=k, excluded=excluded)
        recurrence = self._recurrence(
            service,
            text,
            now=now,
            window_days=window_days,
            alert_name=alert_name,
            category=category,
            entity=entity,
            excluded=excluded,
            min_similarity=min_similarity,
        )
        log.debug(
            "incident_recall",
            service=service,
            similar=len(similar),
            occurrence=recurrence.occurrence,
            matched_on=recurrence.matched_on,
        )
        return Recall(service=service, query=text, similar=similar, recurrence=recurrence)

    def past_incidents(
        self, service: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[RecalledIncident]:
        """Every past incident (remembered or written) of ``service`` dated in the range, newest first."""
        clauses: list[dict[str, Any]] = [{"kind": {"$eq": "postmortem"}}, {"service": {"$eq": service}}]
        if since is not None:
            clauses.append({"date_ts": {"$gte": int(since.timestamp())}})
        if until is not None:
            clauses.append({"date_ts": {"$lte": int(until.timestamp())}})
        first_chunk: dict[str, Mapping[str, MetadataValue]] = {}
        for _, metadata in self.store.iter_metadata(where={"$and": clauses}):
            doc_id = str(metadata.get("doc_id", ""))
            current = first_chunk.get(doc_id)
            if current is None or _chunk_index(metadata) < _chunk_index(current):
                first_chunk[doc_id] = metadata
        incidents = [_recalled(metadata, service=service) for metadata in first_chunk.values()]
        return sorted(incidents, key=lambda i: (_date_ts(first_chunk[i.doc_id]), i.doc_id), reverse=True)

    def _similar(self, service: str, text: str, *, k: int, excluded: set[str]) -> list[RecalledIncident]:
        if k < 1:
            return []
        hits = [
            h
            for h in self.retriever.search(text, service=service, kind="postmortem", k=k + len(excluded))
            if h.doc_id not in excluded
        ]
        hits = hits[:k]
        if len(hits) < k:
            seen = {h.doc_id for h in hits} | excluded
            others = self.retriever.search(text, kind="postmortem", k=k + len(seen))
            hits += [h for h in others if h.doc_id not in seen][: k - len(hits)]
        metadata = {c.id: c.metadata for c in self.store.get_chunks([h.chunk_id for h in hits])}
        return [_recalled(metadata.get(h.chunk_id, {}), service=service, hit=h) for h in hits]

    def _recurrence(
        self,
        service: str,
        text: str,
        *,
        now: datetime,
        window_days: int,
        alert_name: str | None,
        category: str | None,
        entity: str | None,
        excluded: set[str],
        min_similarity: float,
    ) -> Recurrence:
        start = now - timedelta(days=window_days)
        candidates = [i for i in self.past_incidents(service, since=start, until=now) if i.doc_id not in excluded]
        reasons: list[str] = []
        if alert_name:
            reasons.append(f"alert {alert_name}")
        if category:
            reasons.append(f"category {category}" + (f" on {entity}" if entity else ""))
        if alert_name or category:
            matches = [
                i for i in candidates if _same_problem(i, alert_name=alert_name, category=category, entity=entity)
            ]
            matched_on = " or ".join(reasons)
        else:
            matched_on = f"text similar to {text[:80]!r}"
            similar_ids = {
                h.doc_id
                for h in self.retriever.search(
                    text, service=service, kind="postmortem", since=start, until=now, k=max(len(candidates), 1)
                )
                if h.lexical_score > 0 and h.vector_score >= min_similarity
            }
            matches = [i for i in candidates if i.doc_id in similar_ids]
        statement = _statement(service, matches, window_days=window_days, matched_on=matched_on, since=start)
        return Recurrence(
            occurrence=len(matches) + 1,
            window_days=window_days,
            matched_on=matched_on,
            previous=matches,
            statement=statement,
        )


# ---------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------


def _document(incident: PastIncident) -> KnowledgeDocument:
    source_path = incident.doc_id
    return KnowledgeDocument(
        doc_id=incident.doc_id,
        title=f"Incident {incident.incident_id}: {incident.title}",
        kind="postmortem",
        service=incident.service,
        source_path=source_path,
        # A per-incident pseudo path: it is on no disk, so folder ingestion never claims or removes it,
        # and an incident record file of the same incident replaces it cleanly.
        source_file=f"{MEMORY_SOURCE_PREFIX}{source_path}",
        body=render_markdown(incident),
        metadata=incident_metadata(incident),
    )


def _chunk_index(metadata: Mapping[str, MetadataValue]) -> int:
    value = metadata.get("chunk_index", 0)
    return int(value) if isinstance(value, int | float) else 0


def _date_ts(metadata: Mapping[str, MetadataValue]) -> int:
    value = metadata.get("date_ts", 0)
    return int(value) if isinstance(value, int | float) else 0


def _optional_text(metadata: Mapping[str, MetadataValue], *keys: str) -> str | None:
    for key in keys:
        value = metadata.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _recalled(metadata: Mapping[str, MetadataValue], *, service: str, hit: Hit | None = None) -> RecalledIncident:
    stored = past_incident_from_metadata(metadata)
    doc_id = str(metadata.get("doc_id", hit.doc_id if hit else ""))
    source_path = str(metadata.get("source_path", doc_id))
    ttm = metadata.get("time_to_mitigate_minutes")
    resolved = metadata.get("resolved")
    follow_ups_total = metadata.get("follow_ups_total", 0)
    if stored is not None:
        open_follow_ups = [f.title for f in stored.open_follow_ups]
    else:
        listed = str(metadata.get("follow_ups", ""))
        open_follow_ups = [
            item.strip()[len("[open] ") :] for item in listed.split(";") if item.strip().startswith("[open] ")
        ]
    item_service = _optional_text(metadata, "service")
    return RecalledIncident(
        doc_id=doc_id,
        source_id=hit.source_id if hit else f"knowledge:{source_path}",
        title=str(metadata.get("title", hit.title if hit else doc_id)),
        origin="incident_record" if metadata.get("origin") == "incident_record" else "postmortem",
        service=item_service,
        same_service=item_service == service,
        date=_optional_text(metadata, "date"),
        incident_id=_optional_text(metadata, "incident_id"),
        score=hit.score if hit else None,
        excerpt=_excerpt(hit.text) if hit else "",
        alert_name=_optional_text(metadata, "alert_name", "alert"),
        category=_optional_text(metadata, "category"),
        entity=_optional_text(metadata, "entity"),
        root_cause=_optional_text(metadata, "root_cause"),
        fix=_optional_text(metadata, "fix"),
        approved_by=_optional_text(metadata, "approved_by"),
        time_to_mitigate_minutes=float(ttm) if isinstance(ttm, int | float) and not isinstance(ttm, bool) else None,
        resolved=resolved if isinstance(resolved, bool) else None,
        open_follow_ups=open_follow_ups,
        follow_ups_total=int(follow_ups_total) if isinstance(follow_ups_total, int | float) else 0,
        ruled_out=stored.ruled_out if stored else [],
        rejected_actions=stored.rejected_actions if stored else [],
    )


def _same_problem(
    incident: RecalledIncident, *, alert_name: str | None, category: str | None, entity: str | None
) -> bool:
    if alert_name and incident.alert_name == alert_name:
        return True
    if category and incident.category == category:
        # The entity narrows the match only when both sides name one.
        return not (entity and incident.entity and incident.entity != entity)
    return False


def _excerpt(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _statement(
    service: str, matches: list[RecalledIncident], *, window_days: int, matched_on: str, since: datetime
) -> str:
    if not matches:
        return (
            f"first time in {window_days} days: no earlier {service} incident matching {matched_on} "
            f"since {since.date().isoformat()}"
        )
    dates = [m.date[:10] if m.date else "an unknown date" for m in reversed(matches)]
    listed = dates[0] if len(dates) == 1 else ", ".join(dates[:-1]) + f" and {dates[-1]}"
    last = matches[0]
    parts = [
        f"{ordinal(len(matches) + 1)} time in {window_days} days ({service}, {matched_on}): previously on {listed}"
    ]
    detail = []
    if last.root_cause:
        detail.append(f"root cause {_excerpt(last.root_cause, 160)}")
    if last.fix:
        fixed = f"fixed by {last.fix}"
        if last.approved_by:
            fixed += f" approved by {last.approved_by}"
        if last.time_to_mitigate_minutes is not None:
            fixed += f", mitigated in {last.time_to_mitigate_minutes:g} min"
        detail.append(fixed)
    if detail:
        parts.append(f"last time ({last.source_id}): " + "; ".join(detail))
    if last.open_follow_ups:
        titles = ", ".join(f'"{t}"' for t in last.open_follow_ups)
        if len(last.open_follow_ups) == 1:
            parts.append(f"the follow-up from last time is still open: {titles}")
        else:
            parts.append(f"{len(last.open_follow_ups)} follow-ups from last time are still open: {titles}")
    elif last.follow_ups_total:
        parts.append("the follow-ups from last time are all done")
    else:
        parts.append("no follow-up was recorded last time")
    return "; ".join(parts)
