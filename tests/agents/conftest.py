"""Fakes for node and reasoner tests: a scripted chat model that reports token usage, and an
`AgentContext` assembled from fakes (no network; the Kubernetes adapter is real but never called)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

from agents.context import AgentContext
from agents.reasoners.base import Reasoner
from agents.reasoners.deterministic import DeterministicReasoner
from agents.settings import WorkflowSettings
from agents.state import Alert, IncidentState
from knowledge.catalog import Service, ServiceCatalog
from tools.http import HttpCaller
from tools.kubernetes import KubernetesAdapter, KubernetesSettings
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
EVIDENCE_LINE = re.compile(r"^- (\S+) \[", re.MULTILINE)
SERVICE_IN_BRIEF = re.compile(r"on service (\S+)")


class ScriptedChatModel(BaseChatModel):
    """Answers every kind of request the LLM reasoner makes, and reports token usage for each call.

    - tools offering ``submit_diagnosis``: submits ``category`` on the alert's service, citing the
      first evidence id of the brief (after ``text_turns[service]`` plain-text replies that submit nothing);
    - the ``RemediationChoice`` structured output: picks the first option;
    - anything else (a summary, an update): a sentence of text.

    ``usage_by_service`` sets the tokens per call for a diagnosis of that service (else
    ``prompt_tokens``/``completion_tokens``). ``reported`` lists (kind, prompt, completion) per call,
    in order: the sum the state must end up with. ``delay`` makes concurrent calls interleave.
    """

    prompt_tokens: int = 40
    completion_tokens: int = 10
    usage_by_service: dict[str, tuple[int, int]] = Field(default_factory=dict)
    category: str = "migration"
    text_turns: dict[str, int] = Field(default_factory=dict)
    delay: float = 0.0
    reported: list[tuple[str, int, int]] = Field(default_factory=list)
    turns_seen: dict[str, int] = Field(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Runnable[Any, BaseMessage]:
        names = [
            (t["function"]["name"] if "function" in t else t.get("title", "")) if isinstance(t, dict) else t.__name__
            for t in tools
        ]
        return self.bind(tool_names=names)

    @property
    def total(self) -> tuple[int, int]:
        return sum(p for _, p, _ in self.reported), sum(c for _, _, c in self.reported)

    def _answer(self, messages: list[BaseMessage], tool_names: list[str]) -> AIMessage:
        brief = "\n".join(str(m.content) for m in messages)
        prompt, completion = self.prompt_tokens, self.completion_tokens
        if "submit_diagnosis" in tool_names:
            service = (SERVICE_IN_BRIEF.findall(brief) or ["unknown"])[0]
            prompt, completion = self.usage_by_service.get(service, (prompt, completion))
            turn = self.turns_seen.get(service, 0)
            self.turns_seen[service] = turn + 1
            if turn < self.text_turns.get(service, 0):
                kind, message = "diagnose", AIMessage(content="Still thinking about it.")
            else:
                cited = EVIDENCE_LINE.findall(brief)[:1]
                draft = {
                    "root_cause": f"a change to {service} broke it",
                    "category": self.category,
                    "entity": service,
                    "confidence": 0.8,
                    "evidence_ids": cited,
                    "ruled_out": [],
                }
                kind = "diagnose"
                message = AIMessage(
                    content="", tool_calls=[{"name": "submit_diagnosis", "args": draft, "id": f"call-{service}-{turn}"}]
                )
        elif "RemediationChoice" in tool_names:
            options = json.loads(str(messages[-1].content))["options"]
            kind = "choose"
            message = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": "RemediationChoice",
                        "args": {"option_id": options[0]["id"], "rationale": "it fits"},
                        "id": "call-choice",
                    }
                ],
            )
        else:
            kind = "update" if "Write the update" in brief else "summarize"
            message = AIMessage(content="A scripted paragraph about the incident, long enough to be used.")
        message.usage_metadata = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "total_tokens": prompt + completion,
        }
        self.reported.append((kind, prompt, completion))
        return message

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages, kwargs.get("tool_names", [])))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._generate(messages, stop, **kwargs)


def kubernetes_registry() -> ToolRegistry:
    """A registry with one Kubernetes instance (offers rollback, restart and scale; never called here)."""
    settings = KubernetesSettings(base_url="http://k8s.test")
    adapter = KubernetesAdapter(
        "kubernetes", settings, HttpCaller(httpx.AsyncClient(base_url="http://k8s.test"), instance="kubernetes")
    )
    return ToolRegistry({"kubernetes": adapter})


def agent_context(
    tmp_path: Path,
    *,
    reasoner: Reasoner | None = None,
    registry: ToolRegistry | None = None,
    services: list[Service] | None = None,
    **settings: Any,
) -> AgentContext:
    catalog = ServiceCatalog(
        services={s.name: s for s in services or [Service(name="api", tier=1, customer_facing=True, owner="team-api")]}
    )
    return AgentContext(
        registry=registry or ToolRegistry({}),
        ledger=ActionLedger(tmp_path / "ledger.sqlite"),
        policy=ApprovalPolicy(),
        catalog=catalog,
        reasoner=reasoner or DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(**settings),
        clock=lambda: NOW,
    )


def incident(**fields: Any) -> IncidentState:
    alert = Alert(
        fingerprint="f1", name="HighErrorRate", title="api 5xx", service="api", severity="critical", started_at=NOW
    )
    return IncidentState(id="inc-1", alert=alert, **fields)
