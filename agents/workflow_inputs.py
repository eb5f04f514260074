"""Filling a runbook workflow's dispatch inputs from what the investigation established.

A revert workflow declares its inputs in its file (``on.workflow_dispatch.inputs``); a dispatch that
leaves out a required one is refused by GitHub. Each input is read by its name and description, and
filled only from facts:

- a **namespace** input takes the namespace of the diagnosed component;
- a **component** input (service, app, component, deployment) takes the diagnosed component's name;
- a **version** input (version, revision, release, tag, bundle, build) takes the value the change's
  pipeline applied *before* the diagnosed change: the change's own text names its value under a label
  ("policy revision 42", "bundle 2027.05.12-4"), and the newest earlier run of the same workflow names
  the previous one under the same label ("policy revision 41"). A bare revision number with no earlier
  run on record steps back by one;
- a **commit** input (sha, commit) takes the diagnosed change's commit;
- an input named like a label the evidence gives (``secret`` of a certificate's ``secret=...``) takes
  that value;
- for a percentage rollout's step (`agents.rollout`): a **share** input (percentage, percent, share,
  weight, rollout) takes the share before the diagnosed step, and a **subject** input (flag, key,
  feature, toggle, experiment) the key whose share moved: the workflow that set it sets it back.

Anything else keeps its declared default, or, when it is required and has none, is reported missing:
the dispatch is then not offered (a guess would run a runbook with made-up arguments).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from agents.rollout import RolloutStep
from tools.github.models import WorkflowDefinition, WorkflowInputSpec

WORD = re.compile(r"[a-z]+")
# A label followed by a version-like value: "revision 42", "bundle 2027.05.12-4", "version: v3.1".
LABELLED = re.compile(r"\b([A-Za-z][A-Za-z]+)\s*[:=]?\s*(v?\d[\w.+-]*)")
NAMESPACE_WORDS = frozenset({"namespace", "ns"})
COMPONENT_WORDS = frozenset({"service", "app", "application", "component", "deployment", "workload"})
VERSION_WORDS = frozenset({"version", "revision", "rev", "release", "tag", "bundle", "build", "generation"})
COMMIT_WORDS = frozenset({"sha", "commit"})
# An input that undoes something, and the identifiers of what a change applies (a migration file's
# numbered name: ``0311_drop_redundant_indexes``, ``20241102_add_index``).
REVERT_INPUT_WORDS = frozenset({"revert", "rollback", "undo", "down", "downgrade"})
MIGRATION_ID = re.compile(r"\b(\d{3,14})_[a-z][a-z0-9_]*\b")
# Values that count up by one per change, so the one before is the value minus one.
COUNTERS = frozenset({"revision", "rev", "generation"})
# A rollout's inputs: the share of traffic, and what it is the share of.
SHARE_WORDS = frozenset({"percentage", "percent", "pct", "share", "weight", "rollout"})
SUBJECT_WORDS = frozenset({"flag", "key", "feature", "toggle", "experiment"})


@dataclass(frozen=True)
class FillFacts:
    """What the investigation established about the change a workflow is to undo."""

    entity: str
    namespace: str
    change_text: str = ""
    commit: str = ""
    earlier_texts: Sequence[str] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    """``key=value`` pairs the evidence names (a certificate's ``secret=bank-client-cert``): an input
    named by a key takes its value."""
    rollout: RolloutStep | None = None
    """The percentage-rollout step the diagnosed change made, its ``before`` the share to set back."""


@dataclass
class FilledInputs:
    inputs: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _words(spec: WorkflowInputSpec) -> tuple[set[str], set[str]]:
    name = set(WORD.findall(re.sub(r"([a-z])([A-Z])", r"\1 \2", spec.name).lower()))
    return name, set(WORD.findall(spec.description.lower()))


def applied_identifier(spec: WorkflowInputSpec, change_text: str) -> str | None:
    """The identifier of what a change applied (a migration's ``0311_drop_redundant_indexes``), for an
    input that reverts it: its numeric prefix when the input's description asks for a prefix."""
    found = MIGRATION_ID.search(change_text)
    if found is None:
        return None
    _, described = _words(spec)
    return found.group(1) if "prefix" in described else found.group(0)


def labelled_values(text: str) -> list[tuple[str, str]]:
    """(label, value) pairs of a change's text, labels lower-cased, values without trailing punctuation."""
    return [(label.lower(), value.rstrip(".-+")) for label, value in LABELLED.findall(text)]


def value_before(spec: WorkflowInputSpec, facts: FillFacts) -> tuple[str, str] | None:
    """The value the change's pipeline had before the change, and how it was found."""
    name, described = _words(spec)
    wanted = (name | described) - {"to", "the", "a", "restore", "republish"}
    current = [(label, value) for label, value in labelled_values(facts.change_text) if label in wanted]
    if not current:
        return None
    # A label the input's own name uses beats one only its description mentions.
    label, value = max(current, key=lambda pair: (pair[0] in name, pair[0] in VERSION_WORDS))
    for text in facts.earlier_texts:
        for other_label, other in labelled_values(text):
            if other_label == label and other != value:
                return other, f"the {label} before the change ({other}, from the run before it: {text[:80]})"
    if label in COUNTERS and value.isdigit() and int(value) > 1:
        return str(int(value) - 1), f"the {label} before {value} (no earlier run on record)"
    return None


def share_input(name: str) -> bool:
    """Whether an input named ``name`` takes a share of traffic (``percentage``, ``rollout_pct``)."""
    return bool(set(WORD.findall(re.sub(r"([a-z])([A-Z])", r"\1 \2", name).lower())) & SHARE_WORDS)


def fill_inputs(definition: WorkflowDefinition, facts: FillFacts) -> FilledInputs:
    """The inputs to dispatch ``definition`` with, why each was chosen, and the required ones no fact gives."""
    out = FilledInputs()
    for spec in definition.inputs:
        name, described = _words(spec)
        value: str | None = None
        reason = ""
        if spec.name in facts.labels:
            value, reason = facts.labels[spec.name], f"the {spec.name} the evidence names"
        elif facts.rollout is not None and facts.rollout.before is not None and name & SHARE_WORDS:
            value = f"{facts.rollout.before:g}"
            reason = f"the share of {facts.rollout.subject} before the diagnosed step ({facts.rollout.describe()})"
        elif facts.rollout is not None and name & SUBJECT_WORDS:
            value, reason = facts.rollout.subject, "the key whose share the diagnosed step moved"
        elif name & REVERT_INPUT_WORDS and (applied := applied_identifier(spec, facts.change_text)) is not None:
            value, reason = applied, "what the diagnosed change applied, to revert"
        elif name & NAMESPACE_WORDS and facts.namespace:
            value, reason = facts.namespace, f"the namespace of {facts.entity}"
        elif name & VERSION_WORDS or (described & VERSION_WORDS and not name & COMPONENT_WORDS):
            found = value_before(spec, facts)
            if found is not None:
                value, reason = found
        elif name & COMMIT_WORDS and facts.commit:
            value, reason = facts.commit, "the diagnosed change's commit"
        elif name & COMPONENT_WORDS:
            value, reason = facts.entity, "the diagnosed component"
        if value is not None and spec.options and value not in spec.options:
            value = None
        if value is not None:
            out.inputs[spec.name] = value
            out.reasons.append(f"{spec.name}={value}: {reason}")
        elif spec.required and spec.default is None:
            out.missing.append(spec.name)
    return out
