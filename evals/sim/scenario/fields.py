"""The scenario format's value types: offsets and durations, the closed vocabularies, log template
checks, and argument matching for expected actions.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_serializer,
    model_validator,
)

from evals.sim.timeutil import OFFSET_PATTERN, parse_offset

# The newest format version; the loader reads every version in SCENARIO_VERSIONS. Version 2 adds the
# ``kubernetes`` section and the fields that use it; a v1 file means exactly what it always did.
SCENARIO_VERSION = 2
SCENARIO_VERSIONS: tuple[int, ...] = (1, 2)
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schema.json"  # evals/sim/schema.json

Offset = Annotated[
    float,
    BeforeValidator(parse_offset),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": OFFSET_PATTERN}, {"type": "number"}],
            "description": "Offset from the alert time: -2h50m, -6m, 0, +30s (a number is seconds).",
        }
    ),
]
Duration = Annotated[
    float,
    BeforeValidator(parse_offset),
    Field(gt=0),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": OFFSET_PATTERN}, {"type": "number", "exclusiveMinimum": 0}],
            "description": "A positive length of time: 90s, 2m, 1h (a number is seconds).",
        }
    ),
]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Labels = dict[str, str]

ServiceKind = Literal["service", "database", "queue", "cache", "external"]
ChangeType = Literal["deploy", "migration", "config", "feature_flag", "infrastructure", "scale"]
FaultType = Literal[
    "bad_deploy",
    "migration",
    "config_change",
    "feature_flag",
    "resource_exhaustion",
    "memory_leak",
    "oom",
    "crash",
    "connection_pool",
    "dependency_failure",
    "third_party",
    "traffic_surge",
    "certificate_expiry",
    "dns",
    "network",
    "noisy_neighbour",
    "queue_backlog",
    "cascading",
    "failover",
    "disk_full",
    "capacity",
    "telemetry_gap",
    "quota",
    "retry_storm",
    "stampede",
    "replication_lag",
    "clock",
    "service_discovery",
    "monitoring",
    "other",
]
EvidenceSource = Literal["metrics", "logs", "changes", "kubernetes", "knowledge"]
Difficulty = Literal["easy", "medium", "hard"]
DIFFICULTIES: tuple[Difficulty, ...] = ("easy", "medium", "hard")
PodStatus = Literal["Running", "CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "Pending", "Error"]
ComponentStatus = Literal["operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"]

# Placeholders a log template may use; ``{{`` and ``}}`` are literal braces.
TEMPLATE_FIELD_RE = re.compile(r"(?<!\{)\{([a-z_]+)(?::([^{}]*))?\}(?!\})")
TEMPLATE_FIELDS = {"latency_ms", "trace_id", "pod", "service", "source", "one_of", "int"}


def template_problems(template: str) -> list[str]:
    """What is wrong with a log template's placeholders (empty when nothing is)."""
    problems = []
    for match in TEMPLATE_FIELD_RE.finditer(template):
        name, arg = match.group(1), match.group(2)
        if name not in TEMPLATE_FIELDS:
            problems.append(f"unknown placeholder {{{name}}} (known: {', '.join(sorted(TEMPLATE_FIELDS))})")
        elif name == "one_of" and not arg:
            problems.append("{one_of:...} needs choices separated by |, e.g. {one_of:GET|POST}")
        elif name == "int" and (arg is None or not re.fullmatch(r"\d+-\d+", arg)):
            problems.append("{int:...} needs a range, e.g. {int:10-99}")
    rest = TEMPLATE_FIELD_RE.sub("", template).replace("{{", "").replace("}}", "")
    if "{" in rest or "}" in rest:
        problems.append("write a literal brace as {{ or }} (a single one is read as a placeholder)")
    return problems


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


Scalar = str | int | float | bool


class Comparison(_Model):
    """A numeric condition on an action argument, e.g. ``{gte: 6}`` for "scaled to 6 replicas or more".
    Every key given must hold."""

    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Comparison:
        if all(v is None for v in (self.gt, self.gte, self.lt, self.lte)):
            raise ValueError("a comparison needs at least one of gt, gte, lt, lte")
        if self.witness() is None:
            raise ValueError("no number satisfies this comparison")
        return self

    @model_serializer(mode="plain")
    def _only_given(self) -> dict[str, float]:
        """``{"gte": 6.0}``, not every bound with nulls."""
        return {
            k: v for k, v in (("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte)) if v is not None
        }

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (
            (self.gt is None or value > self.gt)
            and (self.gte is None or value >= self.gte)
            and (self.lt is None or value < self.lt)
            and (self.lte is None or value <= self.lte)
        )

    def witness(self) -> int | float | None:
        """A number that satisfies the comparison (an integer when one does), for consistency checks."""
        lows = [v for v in (self.gt, self.gte) if v is not None]
        highs = [v for v in (self.lt, self.lte) if v is not None]
        low, high = max(lows, default=-math.inf), min(highs, default=math.inf)
        candidates: list[int | float] = [0]
        if math.isfinite(low):
            candidates += [math.floor(low) + 1, math.ceil(low)]
        if math.isfinite(high):
            candidates += [math.ceil(high) - 1, math.floor(high)]
        if math.isfinite(low) and math.isfinite(high):
            candidates.append((low + high) / 2)
        return next((c for c in candidates if self.holds(c)), None)


ArgMatch = Scalar | Comparison


_MISSING = object()


def _argument(args: dict[str, Any], name: str) -> Any:
    """``args[name]``; a dotted name reaches into a mapping argument (``inputs.percentage``)."""
    if name in args:
        return args[name]
    head, dot, rest = name.partition(".")
    if dot and isinstance(args.get(head), dict):
        return _argument(args[head], rest)
    return _MISSING


def args_match(spec: dict[str, ArgMatch], args: dict[str, Any]) -> bool:
    """Whether a tool call's ``args`` satisfy ``spec``: every named argument equal (or, for a
    `Comparison`, satisfying it). Arguments the spec does not name are free. A dotted name matches
    one key of a mapping argument: ``{inputs.percentage: "0"}`` for a workflow dispatch's inputs."""
    for name, wanted in spec.items():
        value = _argument(args, name)
        if value is _MISSING:
            return False
        if isinstance(wanted, Comparison):
            if not wanted.holds(value):
                return False
        elif isinstance(wanted, bool) or isinstance(value, bool):
            if value is not wanted:
                return False
        elif value != wanted:
            return False
    return True


def witness_args(spec: dict[str, ArgMatch]) -> dict[str, Any]:
    """Concrete arguments that satisfy ``spec`` (comparisons replaced by a satisfying number; a
    dotted name becomes a key of a mapping argument)."""
    out: dict[str, Any] = {}
    for name, wanted in spec.items():
        value = wanted.witness() if isinstance(wanted, Comparison) else wanted
        *parents, leaf = name.split(".")
        into = out
        for parent in parents:
            into = into.setdefault(parent, {})
        into[leaf] = value
    return out
