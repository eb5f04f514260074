"""Label and field selectors, matched as the API server does."""

from __future__ import annotations

from typing import Any


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def label_selector_matches(selector: str | None, labels: dict[str, str]) -> bool:
    """``app=checkout``, ``app!=x``, ``tier in (a,b)``, ``tier notin (a)``, ``app``, ``!app``."""
    if not selector:
        return True
    for requirement in _split_top_level(selector):
        if " notin " in requirement or " in " in requirement:
            negate = " notin " in requirement
            key, _, values = requirement.partition(" notin " if negate else " in ")
            allowed = {v.strip() for v in values.strip().strip("()").split(",")}
            present = labels.get(key.strip()) in allowed
            if present == negate:
                return False
        elif "!=" in requirement:
            key, _, value = requirement.partition("!=")
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in requirement:
            key, _, value = requirement.replace("==", "=").partition("=")
            if labels.get(key.strip()) != value.strip():
                return False
        elif requirement.startswith("!"):
            if requirement[1:].strip() in labels:
                return False
        elif requirement not in labels:
            return False
    return True


def field_selector_matches(selector: str | None, obj: dict[str, Any]) -> bool:
    """``involvedObject.kind=Pod,involvedObject.name=x,type!=Normal``."""
    if not selector:
        return True
    for requirement in _split_top_level(selector):
        negate = "!=" in requirement
        path, _, value = requirement.replace("==", "=").partition("!=" if negate else "=")
        node: Any = obj
        for part in path.strip().split("."):
            node = node.get(part) if isinstance(node, dict) else None
        actual = "" if node is None else str(node)
        if (actual == value.strip()) == negate:
            return False
    return True
