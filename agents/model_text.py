"""Model text is untrusted input: what of it may reach a summary or a message.

A model's free text fills the narrative only. Before it is used it is cleaned here: markup is stripped
(code fences and their content, HTML tags, markdown emphasis and headings), lines that look like shell
commands are dropped, links that are not among the ones the evidence carries are removed, control
characters go, and the length is bounded at a word. What was removed is reported, so the caller can
put it on the timeline; text with nothing readable left is refused (the caller falls back).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

FENCE = re.compile(r"```.*?(```|$)", re.S)
HTML_TAG = re.compile(r"</?[a-zA-Z][^>]{0,200}>")
URL = re.compile(r"\b(?:https?|ftp|file)://[^\s<>\"')\]]+", re.I)
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A line that starts like a shell command (a prompt, a privilege switch, or a tool an operator runs).
COMMAND = re.compile(
    r"^\s*(?:[$>#]\s|sudo\b|kubectl\b|helm\b|docker\b|curl\b|wget\b|rm\s|bash\b|sh\s|zsh\b|python3?\s|psql\b|"
    r"mysql\b|redis-cli\b|aws\s|gcloud\b|az\s|terraform\b|chmod\b|chown\b|ssh\b|scp\b|systemctl\b|git\s)",
    re.I,
)


@dataclass
class CleanText:
    """The cleaned text and what was taken out of it (for the timeline)."""

    text: str
    removed: list[str] = field(default_factory=list)

    @property
    def readable(self) -> bool:
        return len(re.findall(r"[A-Za-z]{2,}", self.text)) >= 3


def clean_model_text(text: object, *, limit: int, allowed_urls: Iterable[str] = ()) -> CleanText:
    """Markup, commands, unknown links and control characters out; at most ``limit`` characters."""
    raw = text if isinstance(text, str) else ""
    removed: list[str] = []
    allowed = {u.rstrip("/") for u in allowed_urls if u}
    if FENCE.search(raw):
        raw = FENCE.sub(" ", raw)
        removed.append("a code block")
    if HTML_TAG.search(raw):
        raw = HTML_TAG.sub(" ", raw)
        removed.append("markup")
    kept_lines = []
    for line in raw.splitlines():
        if COMMAND.match(line):
            removed.append(f"a command line ({line.strip()[:60]})")
            continue
        kept_lines.append(line)
    raw = "\n".join(kept_lines)

    def keep_known(match: re.Match[str]) -> str:
        url = match.group(0).rstrip(".,;:")
        if url.rstrip("/") in allowed:
            return match.group(0)
        removed.append(f"a link not from the evidence ({url[:80]})")
        return "[link removed]"

    raw = URL.sub(keep_known, raw)
    raw = HEADING.sub("", raw)
    raw = EMPHASIS.sub("", raw)
    raw = CONTROL.sub(" ", raw)
    raw = re.sub(r"[ \t]+", " ", raw)
    raw = re.sub(r"\s*\n\s*", " ", raw).strip()
    if len(raw) > limit:
        raw = cut_at_word(raw, limit)
        removed.append(f"text over {limit} characters")
    return CleanText(raw, removed)


def cut_at_word(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters: cut at the last word boundary past half the limit, with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


SENTENCE_END = re.compile(r"[.!?…)\"'\]]$")
WORD = re.compile(r"[a-z0-9][a-z0-9'-]*")


def _shingles(words: list[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def quality_problems(
    text: str, *, prompt: str = "", service_names: Iterable[str] = (), allowed_services: Iterable[str] = ()
) -> list[str]:
    """Why this model text is not fit to publish, or nothing: it ends mid-sentence (cut), repeats itself,
    echoes the prompt it was given, or names a catalog service the evidence does not involve."""
    problems: list[str] = []
    if text and not SENTENCE_END.search(text.rstrip()):
        problems.append("it ends mid-sentence")
    words = WORD.findall(text.lower())
    if len(words) >= 18:
        counts: dict[tuple[str, ...], int] = {}
        for shingle in _shingles(words, 6):
            counts[shingle] = counts.get(shingle, 0) + 1
        if max(counts.values(), default=0) >= 3 or len(set(words)) / len(words) < 0.3:
            problems.append("it repeats itself")
    prompt_words = WORD.findall(prompt.lower())
    if prompt_words and len(words) >= 8:
        prompt_shingles = set(_shingles(prompt_words, 8))
        own = _shingles(words, 8)
        if own and sum(s in prompt_shingles for s in own) / len(own) >= 0.5:
            problems.append("it echoes the instructions it was given")
    allowed = {s.lower() for s in allowed_services}
    lowered = text.lower()
    foreign = sorted(
        name
        for name in {n.lower() for n in service_names}
        if name not in allowed and re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", lowered)
    )
    if foreign:
        problems.append(f"it names services the evidence does not involve ({', '.join(foreign[:5])})")
    return problems
