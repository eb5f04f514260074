"""One interface, two reasoners: `deterministic` (rules, statistics, retrieval) and `llm`.

The agents gather facts with tools and call the reasoner for judgement at four points. Every
method has a deterministic answer, which is also the fallback when the model fails for that step.
Code, not the reasoner, decides severity rules, approval, and what may be executed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, Field

from agents.evidence import EvidenceBundle
from agents.state import Diagnosis, Evidence, IncidentState, Severity, Usage
from knowledge.catalog import ServiceCatalog
from tools.registry import ToolRegistry

# A process at its open-files limit: it refuses connections and fails its own calls alike. A leak of
# its own (descriptors held per request, never closed), not load a caller sent; read by the
# deterministic reasoner's log signatures and by remediation (a restart resets it, replicas leak too).
FD_LIMIT = re.compile(r"too many open files|EMFILE|file descriptors? (limit|exhausted)", re.I)
# A log line that reports a failure: a severity word, an exception, a failed, refused or timed-out
# call. Read by the investigation on a stream with nothing before the onset, and by the reasoner
# for where failures start in the logs.
FAILURE_LINE = re.compile(
    r"\b(error|err|fatal|panic|critical|severe|exception|traceback|fail(ed|ure|s)?|refused|timed? ?out|denied)\b"
    r"|\w+(Error|Exception)\b",
    re.IGNORECASE,
)
# A datastore's counter or table that ran out (a 32-bit key at its maximum, transaction-id wraparound, a
# full table): read by the log signatures, and by the investigation's search for the schema change
# that widens it.
COUNTER_LIMIT = re.compile(
    r"integer out of range|NumericValueOutOfRange|out of range for type (small|big)?int|value out of range"
    r"|reached (its )?maximum value|nextval: reached|wraparound|table '?[\w.]+'? is full|table is full"
    r"|ER_RECORD_FILE_FULL",
    re.I,
)


class ReasonerContext(Protocol):
    """What a reasoner may use of the run's dependencies (`agents.context.AgentContext` satisfies it).

    Narrower than the agents' context on purpose: a reasoner reads tools, the catalog and the clock;
    it never sees the ledger or the policy.
    """

    @property
    def registry(self) -> ToolRegistry: ...

    @property
    def catalog(self) -> ServiceCatalog: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    @property
    def links(self) -> dict[str, str]: ...


class TriageFacts(BaseModel):
    alert_title: str
    alert_description: str
    alert_severity: str
    service: str
    service_description: str
    tier: int
    customer_facing: bool
    owner: str
    oncall: str
    severity: Severity
    severity_reasons: list[str]
    dependents: list[str] = Field(default_factory=list)


class RemediationOption(BaseModel):
    """An action code has judged applicable, for the reasoner to choose from (or decline)."""

    id: str
    tool: str
    args: dict[str, object]
    title: str
    rationale: str
    risk: Literal["low", "medium", "high"]
    addresses: str = Field(description="The diagnosis entity this option fixes.")


class RemediationChoice(BaseModel):
    option_id: str | None = Field(description="The chosen option id, or null to propose nothing.")
    rationale: str


UpdatePhase = Literal["opened", "identified", "mitigated", "resolved", "escalated"]

AnswerT = TypeVar("AnswerT", covariant=True)


@dataclass(frozen=True)
class Reasoned(Generic[AnswerT]):
    """A reasoner's answer with what it cost and what it gathered on the way.

    Returned, never kept on the reasoner: one reasoner object serves concurrent incidents, so a count
    stored on it would mix theirs. The calling node adds ``usage`` to the incident's state.
    """

    answer: AnswerT
    usage: Usage = field(default_factory=Usage)
    gathered: list[Evidence] = field(default_factory=list)
    # What the calling node should put on the timeline about how the answer was reached (the model
    # asked for a mutating or unknown call; text was cleaned before use).
    notes: list[str] = field(default_factory=list)


class Reasoner(Protocol):
    name: str

    async def summarize(self, facts: TriageFacts, ctx: ReasonerContext) -> Reasoned[str]:
        """One paragraph: what is happening, to what, how bad, who owns it."""
        ...

    async def diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext) -> Reasoned[Diagnosis]:
        """A diagnosis citing evidence ids from the bundle; new evidence it gathered is in ``gathered``."""
        ...

    async def choose_remediation(
        self, diagnosis: Diagnosis, options: list[RemediationOption], ctx: ReasonerContext
    ) -> Reasoned[RemediationChoice]: ...

    async def write_update(
        self, incident: IncidentState, phase: UpdatePhase, audience: str, ctx: ReasonerContext, *, draft: str = ""
    ) -> Reasoned[str]:
        """Text for a status page update or a chat message at one phase of the incident. ``draft``: the
        template's message from the facts, to reword (a model) or to return as it is (the deterministic one)."""
        ...


class ReasonerFailure(Exception):
    """The reasoner could not produce a usable answer for this step (the caller falls back).

    ``usage`` is what the failed attempt still cost: the caller counts it against the budget too;
    ``notes`` what happened on the way that belongs on the timeline (a refused call), as for `Reasoned`.
    """

    def __init__(self, message: str, *, usage: Usage | None = None, notes: list[str] | None = None) -> None:
        super().__init__(message)
        self.usage = usage if usage is not None else Usage()
        self.notes = list(notes or [])
