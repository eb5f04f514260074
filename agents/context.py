"""Run-scoped dependencies of the workflow, injected through LangGraph's `context_schema`.

Nothing here is built at import time; the CLI, the server or a test assembles an `AgentContext`
and passes it to every invocation. Swapping any dependency (tools, store, model, clock) needs no
patching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from agents.reasoners.base import Reasoner
from agents.settings import WorkflowSettings
from knowledge.catalog import ServiceCatalog
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry


class KnowledgeHit(Protocol):
    """What the agents need from a retrieval hit (knowledge.retrieval.Hit satisfies it)."""

    source_id: str
    title: str
    kind: str
    text: str
    score: float


class KnowledgeSearch(Protocol):
    def search(self, query: str, *, service: str | None = None, kind: str | None = None, k: int = 5) -> list[Any]: ...


class IncidentMemoryLike(Protocol):
    """Outcome-linked memory (knowledge.memory.IncidentMemory satisfies it)."""

    def remember(self, record: dict[str, Any]) -> Any: ...

    def recall(
        self,
        service: str,
        text: str,
        *,
        now: datetime,
        alert_name: str | None = None,
        exclude_incident: str | None = None,
    ) -> Any: ...


def utc_clock() -> datetime:
    return datetime.now(UTC)


ProgressFn = Callable[[str, str], None]


def _no_progress(actor: str, text: str) -> None:
    return None


@dataclass
class AgentContext:
    registry: ToolRegistry
    ledger: ActionLedger
    policy: ApprovalPolicy
    catalog: ServiceCatalog
    reasoner: Reasoner
    fallback: Reasoner
    settings: WorkflowSettings
    knowledge: KnowledgeSearch | None = None
    memory: IncidentMemoryLike | None = None
    clock: Callable[[], datetime] = utc_clock
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    progress: ProgressFn = _no_progress
    links: dict[str, str] = field(default_factory=dict)
