"""PATCH bodies as the API server applies them: JSON Patch, JSON merge patch and strategic merge patch
(named lists merge by name).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from evals.sim.kube.objects import PATCH_TYPES, KubeError


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Strategic merge patch, for the shapes a Deployment has: lists of named items merge by name."""
    if (
        isinstance(patch, list)
        and isinstance(target, list)
        and all(isinstance(item, dict) and "name" in item for item in [*patch, *target])
    ):
        merged = [copy.deepcopy(item) for item in target]
        for item in patch:
            for i, existing in enumerate(merged):
                if existing["name"] == item["name"]:
                    merged[i] = strategic_merge_patch(existing, item)
                    break
            else:
                merged.append(copy.deepcopy(item))
        return merged
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # directives such as $retainKeys do not change these simple shapes
        if value is None:
            result.pop(key, None)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise KubeError(422, "Invalid", f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON Patch (add, remove, replace, test, copy, move)."""
    if not isinstance(operations, list):
        raise KubeError(400, "BadRequest", "json patch must be a list of operations")
    document = copy.deepcopy(target)

    def parent_of(path: str) -> tuple[Any, str]:
        parts = _pointer(path)
        if not parts:
            raise KubeError(422, "Invalid", "cannot patch the whole document")
        node = document
        for part in parts[:-1]:
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError) as exc:
                raise KubeError(422, "Invalid", f"json patch path {path!r} does not exist") from exc
        return node, parts[-1]

    def get(path: str) -> Any:
        node = document
        for part in _pointer(path):
            try:
                node = node[int(part)] if isinstance(node, list) else node[part]
            except (KeyError, IndexError, ValueError) as exc:
                raise KubeError(422, "Invalid", f"json patch path {path!r} does not exist") from exc
        return node

    def put(path: str, value: Any, *, replace: bool) -> None:
        parent, key = parent_of(path)
        if isinstance(parent, list):
            index = len(parent) if key == "-" else int(key)
            if replace:
                parent[index] = value
            else:
                parent.insert(index, value)
        else:
            if replace and key not in parent:
                raise KubeError(422, "Invalid", f"json patch replace: path {path!r} does not exist")
            parent[key] = value

    def remove(path: str) -> Any:
        parent, key = parent_of(path)
        try:
            return parent.pop(int(key)) if isinstance(parent, list) else parent.pop(key)
        except (KeyError, IndexError, ValueError) as exc:
            raise KubeError(422, "Invalid", f"json patch remove: path {path!r} does not exist") from exc

    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise KubeError(400, "BadRequest", f"invalid json patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            put(path, copy.deepcopy(operation.get("value")), replace=False)
        elif op == "replace":
            put(path, copy.deepcopy(operation.get("value")), replace=True)
        elif op == "remove":
            remove(path)
        elif op == "test":
            if get(path) != operation.get("value"):
                raise KubeError(422, "Invalid", f"json patch test failed at {path!r}")
        elif op in ("copy", "move"):
            source = operation.get("from", "")
            value = copy.deepcopy(get(source)) if op == "copy" else remove(source)
            put(path, value, replace=False)
        else:
            raise KubeError(400, "BadRequest", f"unknown json patch operation {op!r}")
    return document


def apply_patch(target: dict[str, Any], body: bytes, content_type: str) -> dict[str, Any]:
    kind = PATCH_TYPES.get(content_type.split(";")[0].strip().lower())
    if kind is None:
        raise KubeError(
            415,
            "UnsupportedMediaType",
            f"the body of the request was in an unknown format - accepted media types include: {', '.join(PATCH_TYPES)}",
        )
    try:
        patch = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        raise KubeError(400, "BadRequest", f"error decoding patch: {exc}") from exc
    if kind == "json":
        patched = json_patch(target, patch)
    elif not isinstance(patch, dict):
        raise KubeError(400, "BadRequest", "a merge patch must be a JSON object")
    elif kind == "merge":
        patched = merge_patch(target, patch)
    else:
        patched = strategic_merge_patch(target, patch)
    if not isinstance(patched, dict):
        raise KubeError(422, "Invalid", "the patched object is not an object")
    return patched
