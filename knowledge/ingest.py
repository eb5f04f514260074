"""Ingest markdown knowledge (service docs, runbooks, postmortems, alert docs) into the knowledge store.

A knowledge file is markdown with YAML front matter::

    ---
    id: checkout-5xx             # optional; defaults to the path without .md (runbooks/checkout-5xx)
    title: "Runbook: checkout 5xx errors"   # optional; defaults to the first '# ' heading
    kind: runbook                # service_doc | runbook | postmortem | alert_doc
    service: checkout            # optional; lets retrieval filter by service
    owner: team-payments
    tags: [checkout, rollback]
    date: 2026-03-12             # optional; enables since/until filters (postmortems)
    root_cause: ...              # any other scalar key is kept as metadata
    ---

``follow_ups`` in the front matter (a list of titles, or of ``{title, status: open|done, owner,
link}``) is stored as ``follow_ups_open`` / ``follow_ups_total`` counts, which memory uses to say
"the follow-up from last time is still open".

Incident records (the JSON the agents write, see :mod:`knowledge.records`) are ingested too, from
``.json`` files: each becomes a ``postmortem`` with the id ``incidents/<incident id>``, the same
document that :mod:`knowledge.memory` writes when an incident resolves.

When ``kind`` is missing it is taken from the folder (``services/``, ``runbooks/``,
``postmortems/``, ``alerts/``). Documents are split at headings; every chunk keeps its heading path
("Runbook: checkout 5xx errors > Rollback") at the top of its text and the anchor of its section, so
evidence can cite ``knowledge:runbooks/checkout-5xx.md#rollback``. Sections longer than
``max_chunk_chars`` (1,200) are split between paragraphs; fenced code blocks are never cut.

Chunk ids are ``sha256(doc id + chunk text)``: ingesting the same files again adds nothing, a changed
section replaces only its own chunk, and chunks of a file that disappeared from an ingested folder
are removed. Bad input never stops a run: each problem is reported in :class:`IngestReport` with the
file and the reason, and the other files are ingested.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from datetime import date as calendar_date
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

import structlog
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from knowledge.catalog import ServiceCatalog
from knowledge.records import (
    IncidentRecordError,
    is_incident_record,
    parse_follow_ups,
    past_incident_from_record,
    render_markdown,
)
from knowledge.records import incident_metadata as _incident_metadata
from knowledge.store import KnowledgeStore, MetadataValue

log = structlog.get_logger(__name__)

DocKind = Literal["service_doc", "runbook", "postmortem", "alert_doc"]
DOC_KINDS: tuple[str, ...] = get_args(DocKind)

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
RECORD_SUFFIXES = frozenset({".json"})
DEFAULT_MAX_CHUNK_CHARS = 1200
MAX_FILE_BYTES = 2 * 1024 * 1024

# Folder names that imply a kind when the front matter has none.
_FOLDER_KINDS: dict[str, DocKind] = {
    "services": "service_doc",
    "service-docs": "service_doc",
    "runbooks": "runbook",
    "postmortems": "postmortem",
    "alerts": "alert_doc",
}
# Metadata keys the ingester owns; front matter cannot override them.
_RESERVED_KEYS = frozenset(
    {
        "doc_id",
        "title",
        "kind",
        "service",
        "owner",
        "tags",
        "date",
        "date_ts",
        "source_path",
        "source_file",
        "source_id",
        "heading",
        "anchor",
        "chunk_index",
        "follow_ups_open",
        "follow_ups_total",
        "origin",
        "incident_json",
    }
)

ProgressCallback = Callable[[int, int, str], None]

# libyaml's safe loader when PyYAML was built with it (the wheels are): the pure-Python one took
# a third of the time of a bulk ingest. Both are safe loaders: no arbitrary objects.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SkippedPath(NamedTuple):
    """A path that was not ingested, and why."""

    path: str
    reason: str


class IngestReport(BaseModel):
    """What an ingest run did. Counts are chunks; ``documents`` lists the doc ids ingested."""

    added: int = 0
    updated: int = Field(default=0, description="Chunks whose text is unchanged but whose metadata changed.")
    unchanged: int = 0
    removed: int = 0
    documents: list[str] = Field(default_factory=list)
    skipped: list[SkippedPath] = Field(default_factory=list)
    warnings: list[SkippedPath] = Field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.documents)} documents: {self.added} chunks added, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.removed} removed; {len(self.skipped)} skipped"
        )


class FrontMatter(BaseModel):
    """The recognised front matter keys; any other key is kept as metadata when it is a scalar."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    title: str | None = None
    kind: DocKind
    service: str | None = None
    owner: str | None = None
    tags: list[str] = Field(default_factory=list)
    # `calendar_date`, not `date`: inside the class body the field name would shadow the type.
    date: calendar_date | datetime | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _tags_as_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [t.strip() for t in value.split(",") if t.strip()]
        if isinstance(value, list):
            return [str(t) for t in value]
        return value

    @field_validator("id", "title", "service", "owner", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        # YAML reads `service: 2024` or `id: 42` as numbers; they are still names.
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


@dataclass(frozen=True)
class Chunk:
    """One piece of a document as stored: ``text`` starts with the heading path."""

    id: str
    doc_id: str
    text: str
    heading: str
    anchor: str
    index: int
    source_id: str
    metadata: dict[str, MetadataValue]


@dataclass
class KnowledgeDocument:
    """A parsed knowledge file."""

    doc_id: str
    title: str
    kind: DocKind
    service: str | None
    source_path: str
    source_file: str
    body: str
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


class KnowledgeFileError(ValueError):
    """A knowledge file cannot be ingested; the message names the file and the problem."""


# ---------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------


def read_text_file(path: Path) -> str:
    """Read a UTF-8 text file, refusing binary, oversized and undecodable files with a clear reason."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise KnowledgeFileError(f"{path}: {size} bytes is larger than {MAX_FILE_BYTES} bytes; split it")
        raw = path.read_bytes()
    except OSError as exc:
        raise KnowledgeFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if b"\x00" in raw[:8192]:
        raise KnowledgeFileError(f"{path}: binary file (contains NUL bytes), not markdown text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KnowledgeFileError(f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from exc


def split_front_matter(text: str, *, origin: str) -> tuple[dict[str, Any], str]:
    """Return (front matter mapping, body). A file without front matter gets an empty mapping."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].strip() in ("---", "..."):
            header = "".join(lines[1:index])
            body = "".join(lines[index + 1 :])
            break
    else:
        raise KnowledgeFileError(f"{origin}: front matter opens with '---' on line 1 but is never closed with '---'")
    try:
        loaded = yaml.load(header, Loader=_YAML_LOADER) if header.strip() else {}
    except yaml.YAMLError as exc:
        detail = str(exc).replace("\n", " ")
        raise KnowledgeFileError(f"{origin}: front matter is not valid YAML: {detail}") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise KnowledgeFileError(
            f"{origin}: front matter must be a mapping of keys to values, got {type(loaded).__name__}"
        )
    return loaded, body


def parse_document(
    text: str,
    *,
    source_path: str,
    source_file: str = "",
    folder_kind: DocKind | None = None,
) -> KnowledgeDocument:
    """Parse one knowledge file's text. Raises :class:`KnowledgeFileError` naming ``source_path``.

    ``source_path`` is the path relative to the knowledge root (it appears in citations);
    ``folder_kind`` is the kind implied by the file's folder, used when the front matter has none.
    """
    raw, body = split_front_matter(text, origin=source_path)
    if not body.strip():
        what = "no text after the front matter" if raw else "the file is empty"
        raise KnowledgeFileError(f"{source_path}: nothing to ingest ({what})")
    if "kind" not in raw and folder_kind is not None:
        raw = {**raw, "kind": folder_kind}
    if "kind" not in raw:
        raise KnowledgeFileError(
            f"{source_path}: front matter has no 'kind' (one of {', '.join(DOC_KINDS)}) and the folder "
            f"does not imply one ({', '.join(sorted(_FOLDER_KINDS))})"
        )
    try:
        front = FrontMatter.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe_error(e, raw) for e in exc.errors())
        raise KnowledgeFileError(f"{source_path}: front matter {problems}") from exc

    doc_id = front.id or _strip_suffix(source_path)
    title = front.title or _first_heading(body) or Path(source_path).stem
    metadata: dict[str, MetadataValue] = {"doc_id": doc_id, "title": title, "kind": front.kind}
    if front.service:
        metadata["service"] = front.service
    if front.owner:
        metadata["owner"] = front.owner
    if front.tags:
        metadata["tags"] = ",".join(front.tags)
    if front.date is not None:
        moment = front.date if isinstance(front.date, datetime) else datetime.combine(front.date, time.min)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        metadata["date"] = front.date.isoformat()
        metadata["date_ts"] = int(moment.timestamp())

    warnings: list[str] = []
    extra = dict(front.model_extra or {})
    if "follow_ups" in extra:
        try:
            follow_ups = parse_follow_ups(extra.pop("follow_ups"), origin="front matter follow_ups")
        except IncidentRecordError as exc:
            raise KnowledgeFileError(f"{source_path}: {exc}") from exc
        metadata["follow_ups_open"] = sum(1 for f in follow_ups if f.is_open)
        metadata["follow_ups_total"] = len(follow_ups)
        if follow_ups:
            metadata["follow_ups"] = "; ".join(f"[{f.status}] {f.title}" for f in follow_ups)
    for key, value in extra.items():
        if key in _RESERVED_KEYS:
            warnings.append(f"front matter key {key!r} is reserved for the ingester and was ignored")
            continue
        converted = _metadata_value(value)
        if converted is None:
            if value is not None:
                warnings.append(
                    f"front matter key {key!r} holds a {type(value).__name__}; only scalars and lists are kept"
                )
            continue
        metadata[key] = converted

    return KnowledgeDocument(
        doc_id=doc_id,
        title=title,
        kind=front.kind,
        service=front.service,
        source_path=source_path,
        source_file=source_file,
        body=body,
        metadata=metadata,
        warnings=warnings,
    )


def document_from_record(record: Mapping[str, Any], *, source_path: str, source_file: str = "") -> KnowledgeDocument:
    """An incident record (the agents' JSON) as a ``postmortem`` document with id ``incidents/<id>``.

    Raises :class:`KnowledgeFileError` naming ``source_path`` and the field when the record is unusable.
    """
    try:
        incident = past_incident_from_record(record)
    except IncidentRecordError as exc:
        raise KnowledgeFileError(f"{source_path}: {exc}") from exc
    metadata = _incident_metadata(incident)
    return KnowledgeDocument(
        doc_id=incident.doc_id,
        title=str(metadata["title"]),
        kind="postmortem",
        service=incident.service,
        source_path=source_path,
        source_file=source_file,
        body=render_markdown(incident),
        metadata=metadata,
    )


def _parse_record_file(text: str, *, source_path: str, source_file: str) -> KnowledgeDocument:
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KnowledgeFileError(
            f"{source_path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not is_incident_record(loaded):
        raise KnowledgeFileError(
            f"{source_path}: a JSON file is ingested only when it is an incident record "
            "(an object with 'id', 'status' and 'alert' or 'timeline'; see `firstline incidents show ID --json`)"
        )
    return document_from_record(loaded, source_path=source_path, source_file=source_file)


def _describe_error(error: Any, raw: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["loc"] and error["loc"][0] == "kind":
        return f"kind {raw.get('kind')!r} is not one of {', '.join(DOC_KINDS)}"
    return f"{loc}: {error['msg']}"


def _metadata_value(value: Any) -> MetadataValue | None:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list) and all(isinstance(v, bool | int | float | str) for v in value):
        return ",".join(str(v) for v in value)
    return None


def _strip_suffix(source_path: str) -> str:
    path = Path(source_path)
    return path.with_suffix("").as_posix() if path.suffix.lower() in MARKDOWN_SUFFIXES else path.as_posix()


# ---------------------------------------------------------------------------------------------------
# Chunking
# ---------------------------------------------------------------------------------------------------

# ATX headings; a closing run of '#' only counts after whitespace (CommonMark), so "# C#" keeps its '#'.
_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


def _first_heading(body: str) -> str | None:
    for _, title, _ in _sections(body):
        if title:
            return title[-1][1]
    return None


def _sections(body: str) -> Iterable[tuple[int, list[tuple[int, str]], str]]:
    """Yield (section number, heading stack as (level, text), section text), headings in fences ignored."""
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    fence: str | None = None
    number = 0
    for line in body.splitlines():
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
            lines.append(line)
            continue
        heading = _HEADING.match(line) if fence is None else None
        if heading:
            yield number, list(stack), "\n".join(lines)
            number += 1
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _strip_inline_markup(heading.group(2))))
            lines = []
            continue
        lines.append(line)
    yield number, list(stack), "\n".join(lines)


def _strip_inline_markup(text: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.replace("`", "")
    # Emphasis markers only where they delimit words: `orders.user_id` keeps its underscore.
    text = re.sub(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", r"\2", text)
    text = re.sub(r"(?<!\w)([*_])(?=\S)(.+?)(?<=\S)\1(?!\w)", r"\2", text)
    return text.strip()


def slugify(heading: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to hyphens."""
    slug = heading.strip().lower()
    slug = re.sub(r"[^\w\- ]", "", slug)
    return slug.replace(" ", "-")


def _blocks(text: str) -> list[str]:
    """Split at blank lines, keeping each fenced code block whole."""
    blocks: list[str] = []
    current: list[str] = []
    fence: str | None = None
    for line in text.splitlines():
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
        if fence is None and not line.strip() and not fence_match:
            if current:
                blocks.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        blocks.append("\n".join(current))
    return blocks


def _pack(text: str, max_chars: int) -> list[str]:
    """Pack paragraphs into pieces of at most ``max_chars`` (a single longer paragraph is cut at lines)."""
    pieces: list[str] = []
    current = ""
    for block in _blocks(text):
        for part in _split_oversized(block, max_chars):
            if current and len(current) + 2 + len(part) > max_chars:
                pieces.append(current)
                current = part
            else:
                current = f"{current}\n\n{part}" if current else part
    if current:
        pieces.append(current)
    return pieces


def _split_oversized(block: str, max_chars: int) -> list[str]:
    if len(block) <= max_chars:
        return [block]
    if block.lstrip().startswith(("```", "~~~")) and len(block) <= 3 * max_chars:
        # A code block a little over the limit is more useful whole than cut in the middle.
        return [block]
    parts: list[str] = []
    current = ""
    for line in block.splitlines():
        while len(line) > max_chars:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:max_chars])
            line = line[max_chars:]
        if current and len(current) + 1 + len(line) > max_chars:
            parts.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return parts


def chunk_document(document: KnowledgeDocument, *, max_chars: int = DEFAULT_MAX_CHUNK_CHARS) -> list[Chunk]:
    """Split a document into chunks at headings, then at paragraphs when a section is too long."""
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    anchor_counts: dict[str, int] = {}
    for _, stack, text in _sections(document.body):
        anchor = ""
        if stack:
            # Anchors are numbered like GitHub's: the second "Verify" heading is #verify-1.
            base = slugify(stack[-1][1])
            seen = anchor_counts.get(base, 0)
            anchor_counts[base] = seen + 1
            anchor = base if seen == 0 else f"{base}-{seen}"
        if not text.strip():
            continue
        headings = [h for _, h in stack]
        heading = " > ".join(headings) if headings else document.title
        # The text starts with the title and heading path so both retrievers see what the section is about.
        path_line = heading if not headings or headings[0] == document.title else f"{document.title} > {heading}"
        for piece in _pack(text.strip(), max_chars):
            chunk_text = f"{path_line}\n\n{piece}"
            chunk_id = hashlib.sha256(f"{document.doc_id}\n{chunk_text}".encode()).hexdigest()
            if chunk_id in seen_ids:
                continue
            seen_ids.add(chunk_id)
            source_id = f"knowledge:{document.source_path}" + (f"#{anchor}" if anchor else "")
            metadata: dict[str, MetadataValue] = {
                **document.metadata,
                "source_path": document.source_path,
                "source_file": document.source_file,
                "source_id": source_id,
                "heading": heading,
                "anchor": anchor,
                "chunk_index": len(chunks),
            }
            chunks.append(
                Chunk(
                    id=chunk_id,
                    doc_id=document.doc_id,
                    text=chunk_text,
                    heading=heading,
                    anchor=anchor,
                    index=len(chunks),
                    source_id=source_id,
                    metadata=metadata,
                )
            )
    return chunks


# ---------------------------------------------------------------------------------------------------
# Ingesting
# ---------------------------------------------------------------------------------------------------


class _PendingWrites:
    """Writes queued across files and sent in large batches: Chroma's cost is mostly per call.

    The last operation on an id wins, so a delete followed by an upsert of the same id (a moved
    document) and the reverse both end as they would one by one. Deletes go first on flush.

    A flush embeds the batch in the calling thread and hands the Chroma write to one writer thread,
    so parsing and embedding the next files overlaps the previous write (Chroma's native code
    releases the GIL; on 2 cores this is most of the gain). Writes stay in order, one at a time;
    a failed write raises from the next flush or from :meth:`close`.
    """

    def __init__(self, store: KnowledgeStore, *, batch_size: int = 512) -> None:
        self.store = store
        self.batch_size = batch_size
        self.upserts: dict[str, tuple[str, Mapping[str, MetadataValue]]] = {}
        self.deletes: set[str] = set()
        self._writer: ThreadPoolExecutor | None = None
        self._in_flight: Future[None] | None = None

    def upsert(self, chunks: Sequence[Chunk]) -> None:
        for chunk in chunks:
            self.deletes.discard(chunk.id)
            self.upserts[chunk.id] = (chunk.text, chunk.metadata)
        if len(self.upserts) + len(self.deletes) >= self.batch_size:
            self.flush()

    def delete(self, ids: Iterable[str]) -> None:
        for chunk_id in ids:
            self.upserts.pop(chunk_id, None)
            self.deletes.add(chunk_id)
        if len(self.upserts) + len(self.deletes) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        deletes = sorted(self.deletes)
        ids = list(self.upserts)
        texts = [self.upserts[i][0] for i in ids]
        metadatas = [self.upserts[i][1] for i in ids]
        self.deletes.clear()
        self.upserts.clear()
        if not deletes and not ids:
            return
        embeddings = self.store.embedder.embed_documents(texts) if ids else []
        self.wait()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="knowledge-writer")
        self._in_flight = self._writer.submit(self._write, deletes, ids, texts, metadatas, embeddings)

    def _write(
        self,
        deletes: list[str],
        ids: list[str],
        texts: list[str],
        metadatas: list[Mapping[str, MetadataValue]],
        embeddings: list[list[float]],
    ) -> None:
        if deletes:
            self.store.delete(deletes)
        if ids:
            self.store.upsert(ids, texts, metadatas, embeddings=embeddings)

    def wait(self) -> None:
        """Block until the write in flight is done; raise its error, if any."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            in_flight.result()

    def close(self) -> None:
        """Flush what is queued and wait for the last write (raising its error, if any)."""
        self.flush()
        self.wait()

    def shutdown(self) -> None:
        """Stop the writer thread (after the write in flight, if any); queued writes are dropped."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None


@dataclass(frozen=True)
class _Candidate:
    file: Path
    source_path: str


def ingest_paths(
    store: KnowledgeStore,
    paths: Sequence[str | Path],
    *,
    root: str | Path | None = None,
    catalog: ServiceCatalog | None = None,
    on_progress: ProgressCallback | None = None,
    max_chunk_chars: int = DEFAULT_MAX_CHUNK_CHARS,
    default_kind: DocKind | None = None,
) -> IngestReport:
    """Ingest markdown files, incident records (``.json``) and folders (recursively) into ``store``.

    Never raises for bad input: every file that cannot be ingested is in ``report.skipped`` with the
    reason, and the other files are ingested.

    Citations use paths relative to ``root``; without it, relative to the folder given (or, for a
    file given directly, to its parent folder, unless the file was ingested before, in which case
    its earlier path is kept). For each folder, chunks of files that were ingested from it before
    and are gone now are removed. With ``catalog``, a ``service`` the catalog does not know is
    reported as a warning. ``on_progress(done, total, path)`` is called after each file.
    ``default_kind`` is the kind of a markdown file whose front matter and folder name none.
    """
    report = IngestReport()
    writes = _PendingWrites(store)
    try:
        root_dir = Path(os.path.abspath(root)) if root is not None else None
        existing = _metadata_by_file(store)
        candidates: list[_Candidate] = []

        for given in paths:
            # abspath, not resolve(): a symlinked file keeps the path it was found under, run after run.
            path = Path(os.path.abspath(given))
            if path.is_dir():
                base = root_dir or path
                found = sorted(p for p in path.rglob("*") if p.is_file() and not _is_hidden(p, path))
                for file in found:
                    if file.suffix.lower() not in MARKDOWN_SUFFIXES | RECORD_SUFFIXES:
                        reason = f"{file}: not a markdown file or an incident record ({file.suffix or 'no suffix'})"
                        report.skipped.append(SkippedPath(str(file), reason))
                        continue
                    candidates.append(_Candidate(file, _relative(file, base)))
                present = {str(p) for p in found}
                removed = _forget(writes, existing, [f for f in existing if _is_under(f, path) and f not in present])
                if removed:
                    report.removed += removed
                    log.info("knowledge_removed_missing_files", folder=str(path), chunks=removed)
            elif path.exists():
                previous = next(iter(existing.get(str(path), {}).values()), None)
                if root_dir is None and previous is not None and previous.get("source_path"):
                    source_path = str(previous["source_path"])
                else:
                    source_path = _relative(path, root_dir or path.parent)
                candidates.append(_Candidate(path, source_path))
            else:
                # Whatever was ingested from this path (a file, or a folder's files) is gone with it.
                removed = _forget(writes, existing, [f for f in existing if f == str(path) or _is_under(f, path)])
                reason = f"{given}: does not exist"
                if removed:
                    report.removed += removed
                    reason += f" (removed {removed} chunks ingested from it earlier)"
                report.skipped.append(SkippedPath(str(given), reason))

        # A file reached twice (a folder and one of its files) is ingested once, with its first path.
        unique: dict[Path, _Candidate] = {}
        for candidate in candidates:
            unique.setdefault(candidate.file, candidate)
        candidates = list(unique.values())
        total = len(candidates)
        files_by_doc = _files_by_doc(existing)
        claimed: dict[str, str] = {}
        for done, candidate in enumerate(candidates, start=1):
            try:
                _ingest_file(
                    writes, candidate, existing, files_by_doc, claimed, report, catalog, max_chunk_chars, default_kind
                )
            except KnowledgeFileError as exc:
                report.skipped.append(SkippedPath(str(candidate.file), str(exc)))
                log.warning("knowledge_file_skipped", path=str(candidate.file), reason=str(exc))
            if on_progress is not None:
                on_progress(done, total, str(candidate.file))
        writes.close()
    finally:
        writes.shutdown()

    log.info(
        "knowledge_ingested",
        documents=len(report.documents),
        added=report.added,
        updated=report.updated,
        unchanged=report.unchanged,
        removed=report.removed,
        skipped=len(report.skipped),
    )
    return report


def _ingest_file(
    writes: _PendingWrites,
    candidate: _Candidate,
    existing: dict[str, dict[str, Mapping[str, MetadataValue]]],
    files_by_doc: dict[str, set[str]],
    claimed: dict[str, str],
    report: IngestReport,
    catalog: ServiceCatalog | None,
    max_chunk_chars: int,
    default_kind: DocKind | None = None,
) -> None:
    source_file = str(candidate.file)
    text = read_text_file(candidate.file)
    if candidate.file.suffix.lower() in RECORD_SUFFIXES:
        document = _parse_record_file(text, source_path=candidate.source_path, source_file=source_file)
    else:
        document = parse_document(
            text,
            source_path=candidate.source_path,
            source_file=source_file,
            folder_kind=_FOLDER_KINDS.get(candidate.file.parent.name.lower(), default_kind),
        )
    on_disk, moved_from = _other_files_with_doc(document.doc_id, source_file, existing, files_by_doc)
    owner = claimed.get(document.doc_id) or next(iter(on_disk), None)
    if owner is not None and owner != source_file:
        raise KnowledgeFileError(
            f"{candidate.source_path}: id {document.doc_id!r} is already used by {owner}; give one of them another id"
        )
    # The document moved: its chunks under the old path would duplicate it in results.
    report.removed += _forget(writes, existing, moved_from)
    claimed[document.doc_id] = source_file
    for warning in document.warnings:
        report.warnings.append(SkippedPath(source_file, f"{candidate.source_path}: {warning}"))
    if catalog is not None and document.service and catalog.get(document.service) is None:
        report.warnings.append(
            SkippedPath(
                source_file,
                f"{candidate.source_path}: service {document.service!r} is not in the service catalog",
            )
        )

    chunks = chunk_document(document, max_chars=max_chunk_chars)
    before = existing.get(source_file, {})
    new_ids = {c.id for c in chunks}
    to_write = [c for c in chunks if c.id not in before or dict(before[c.id]) != c.metadata]
    stale = [chunk_id for chunk_id in before if chunk_id not in new_ids]
    writes.delete(stale)
    writes.upsert(to_write)
    added = sum(1 for c in to_write if c.id not in before)
    report.added += added
    report.updated += len(to_write) - added
    report.unchanged += len(chunks) - len(to_write)
    report.removed += len(stale)
    report.documents.append(document.doc_id)


def _forget(
    writes: _PendingWrites,
    existing: dict[str, dict[str, Mapping[str, MetadataValue]]],
    gone_files: list[str],
) -> int:
    """Queue the deletion of the chunks of ``gone_files`` and drop them from ``existing``; return how many."""
    ids = [chunk_id for file in gone_files for chunk_id in existing.pop(file)]
    writes.delete(ids)
    return len(ids)


def _metadata_by_file(store: KnowledgeStore) -> dict[str, dict[str, Mapping[str, MetadataValue]]]:
    by_file: dict[str, dict[str, Mapping[str, MetadataValue]]] = {}
    for chunk_id, metadata in store.iter_metadata():
        by_file.setdefault(str(metadata.get("source_file", "")), {})[chunk_id] = metadata
    return by_file


def _files_by_doc(existing: dict[str, dict[str, Mapping[str, MetadataValue]]]) -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    for file, chunks in existing.items():
        for metadata in chunks.values():
            files.setdefault(str(metadata.get("doc_id", "")), set()).add(file)
    return files


def _other_files_with_doc(
    doc_id: str,
    source_file: str,
    existing: dict[str, dict[str, Mapping[str, MetadataValue]]],
    files_by_doc: dict[str, set[str]],
) -> tuple[list[str], list[str]]:
    """Other files the store holds ``doc_id`` for, split into (still on disk, gone from disk)."""
    others = sorted(f for f in files_by_doc.get(doc_id, set()) if f != source_file and f in existing)
    on_disk = [f for f in others if os.path.exists(f)]
    return on_disk, [f for f in others if f not in on_disk]


def _relative(file: Path, base: Path) -> str:
    try:
        return file.relative_to(base).as_posix()
    except ValueError:
        return file.name


def _is_under(file: str, folder: Path) -> bool:
    return file.startswith(str(folder) + os.sep)


def _is_hidden(file: Path, folder: Path) -> bool:
    return any(part.startswith(".") for part in file.relative_to(folder).parts)
