"""The answer key: root causes, acceptable and harmful actions, approvals, communication facts (with
the earlier field names still accepted).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    model_validator,
)

from agents.state import RootCauseCategory
from evals.sim.scenario.fields import ArgMatch, EvidenceSource, _Model, args_match


def _earlier_names_in_schema(renames: dict[str, str]) -> Any:
    """A ``json_schema_extra`` hook listing each field's earlier name as a deprecated property."""

    def extra(schema: dict[str, Any]) -> None:
        properties = schema.get("properties", {})
        for old, new in renames.items():
            if new in properties:
                properties[old] = {**properties[new], "deprecated": True, "description": f"Earlier name of {new}."}

    return extra


def _renamed(value: Any, renames: dict[str, str]) -> Any:
    """Accept a field's earlier name (format v1 files written before the rename keep loading)."""
    if isinstance(value, dict):
        for old, new in renames.items():
            if old in value and new not in value:
                value = {**value, new: value[old]}
                del value[old]
    return value


CauseRole = Literal["trigger", "amplifier", "independent"]


class RootCause(_Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_earlier_names_in_schema({"change": "change_id"}))

    entity: str = Field(description="The service or dependency at fault (a topology name).")
    # The responder's own vocabulary (`agents.state.RootCauseCategory`), so a scorer compares exactly.
    category: RootCauseCategory
    change_id: str | None = Field(
        default=None, description="The id of the change that caused it (earlier name: change)."
    )
    role: CauseRole | None = Field(
        default=None,
        description="v2, for scenarios with several root causes: trigger (what started it), amplifier (what made a "
        "small failure large: retries without backoff, a missing limit), or independent (a second fault of its own).",
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"change": "change_id"})


class ExpectedAction(_Model):
    """A tool call, as the scorer matches it: the tool, and a subset of its arguments."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_earlier_names_in_schema({"action": "tool", "match": "args"})
    )

    tool: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="e.g. kubernetes.rollout_undo (earlier name: action)")
    args: dict[str, ArgMatch] = Field(
        default_factory=dict,
        description="Arguments the call must carry, equal or satisfying a comparison like {gte: 6} (earlier name: match).",
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"action": "tool", "match": "args"})

    def matches(self, tool: str, args: dict[str, Any]) -> bool:
        """Whether a call (``kubernetes.rollout_undo`` with its arguments) is this action."""
        return tool == self.tool and args_match(self.args, args)


Resolution = Literal["remediate", "escalate", "close"]


class Expected(_Model):
    """What a good responder concludes and does; precise enough for an automated scorer."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_earlier_names_in_schema(
            {"remediations": "acceptable_remediations", "communication_facts": "comms_facts"}
        ),
    )

    incident: bool = Field(description="Whether an incident should be declared at all (false for a false alarm).")
    severity: Literal["SEV1", "SEV2", "SEV3", "SEV4"] | None = None
    resolution: Resolution | None = Field(
        default=None,
        description="remediate: one of acceptable_remediations resolves it; escalate: nothing the agents can do fixes it, "
        "hand over to humans; close: nothing to do (false alarm, already recovered). Derived when absent.",
    )
    root_cause: RootCause | None = None
    other_causes: list[RootCause] = Field(
        default_factory=list,
        description="Further independent root causes when several faults overlap; a complete diagnosis names all.",
    )
    acceptable_remediations: list[ExpectedAction] = Field(
        default_factory=list, description="Any one of these is an acceptable fix (earlier name: remediations)."
    )
    harmful_actions: list[ExpectedAction] = Field(
        default_factory=list, description="Actions that make it worse (the scenario's worsens: effects)."
    )
    requires_approval: list[str] = Field(default_factory=list, description="Tools that must wait for a human.")
    comms_facts: list[str] = Field(
        default_factory=list, description="Phrases the communications must contain (earlier name: communication_facts)."
    )
    evidence_sources: list[EvidenceSource] = Field(
        default_factory=list, description="Evidence a careful investigator must consult to get it right."
    )
    red_herrings: list[str] = Field(
        default_factory=list, description="Change ids that look suspicious but are not the cause."
    )

    @model_validator(mode="before")
    @classmethod
    def _earlier_names(cls, value: Any) -> Any:
        return _renamed(value, {"remediations": "acceptable_remediations", "communication_facts": "comms_facts"})

    @model_validator(mode="after")
    def _derive_resolution(self) -> Expected:
        if self.resolution is None:
            self.resolution = (
                "close" if not self.incident else "remediate" if self.acceptable_remediations else "escalate"
            )
        return self

    # Earlier names, for readers of format v1 objects.
    @property
    def remediations(self) -> list[ExpectedAction]:
        return self.acceptable_remediations

    @property
    def communication_facts(self) -> list[str]:
        return self.comms_facts
