"""The composition root: configuration in, a ready `Responder` out. The only place that knows every
package; `agents`, `tools` and `knowledge` never read configuration files or the environment."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import structlog

from agents.context import AgentContext, KnowledgeSearch, ProgressFn
from agents.reasoners.base import Reasoner
from agents.reasoners.deterministic import DeterministicReasoner
from agents.runner import Responder, open_responder
from agents.settings import LLMSettings
from firstline.clock import SandboxClock, SystemClock
from firstline.config import FirstlineConfig
from knowledge.catalog import ServiceCatalog
from tools.ledger import ActionLedger
from tools.policy import ApprovalPolicy
from tools.registry import ToolRegistry

log = structlog.get_logger("firstline.wiring")


class SetupError(RuntimeError):
    """The configuration cannot be turned into a runtime; the message names the setting."""


def build_chat_model(settings: LLMSettings, **overrides: Any) -> Any:
    """ChatOpenAI against any OpenAI-compatible endpoint. The key comes from the environment."""
    from langchain_openai import ChatOpenAI

    api_key = os.environ.get(settings.api_key_env or "", "") or "not-needed"
    # The generation limit goes in the request body under the name the server understands: langchain-openai
    # sends its max_tokens as max_completion_tokens, which llama.cpp and older vLLM/Ollama builds ignore.
    limit: dict[str, Any] = (
        {"extra_body": {"max_tokens": settings.max_tokens}}
        if settings.max_tokens_field == "max_tokens"
        else {"max_tokens": settings.max_tokens}
    )
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=api_key,  # type: ignore[arg-type]  # SecretStr is built from the str
        timeout=settings.timeout_seconds,
        max_retries=settings.max_retries,
        temperature=settings.temperature,
        use_responses_api=False,
        **{**limit, **overrides},
    )


def build_clock(config: FirstlineConfig) -> SystemClock | SandboxClock:
    if config.clock.kind == "sandbox":
        if not config.clock.url:
            raise SetupError("clock.url: required when clock.kind is sandbox (the simulator's /_sim URL)")
        return SandboxClock(config.clock.url)
    return SystemClock()


def build_reasoner(config: FirstlineConfig, *, chat_model: Any = None) -> Reasoner:
    if config.reasoner == "deterministic":
        return DeterministicReasoner()
    from agents.reasoners.llm import LLMReasoner
    from firstline.llm_check import probe_context_tokens

    model = chat_model if chat_model is not None else build_chat_model(config.llm)
    settings = config.llm
    return LLMReasoner(
        model,
        max_tool_rounds=settings.max_tool_rounds,
        structured_output_method=settings.structured_output_method,
        step_timeout_seconds=settings.step_timeout_seconds,
        max_tokens=settings.max_tokens,
        context_tokens=settings.context_tokens,
        context_probe=lambda: probe_context_tokens(settings),
    )


def build_knowledge(config: FirstlineConfig) -> KnowledgeSearch | None:
    """The retrieval API over the configured Chroma store, or None when it cannot be opened."""
    from firstline.knowledge_wiring import knowledge_settings, open_store_or_none

    # knowledge_settings: an OpenAI-compatible embedder defaults to the model's endpoint and key variable.
    return open_store_or_none(knowledge_settings(config))


def build_memory(store: Any) -> Any:
    """Outcome-linked memory over the same Chroma store as the knowledge, when there is one."""
    if store is None:
        return None
    from knowledge.memory import IncidentMemory
    from knowledge.service import KnowledgeBase

    if isinstance(store, KnowledgeBase):
        return IncidentMemory(store.store, store.retriever)
    return None


def incident_link(config: FirstlineConfig) -> str:
    """The base of incident links in messages: ``incident_link``, else the console's incident pages."""
    if config.incident_link:
        return config.incident_link
    console = config.approvals.console_url.rstrip("/")
    return f"{console}/incidents/" if console else ""


@asynccontextmanager
async def open_runtime(
    config: FirstlineConfig,
    *,
    progress: ProgressFn | None = None,
    chat_model: Any = None,
    knowledge: KnowledgeSearch | None | Callable[[FirstlineConfig], KnowledgeSearch | None] = build_knowledge,
    registry: ToolRegistry | None = None,
) -> AsyncIterator[Responder]:
    """Build every dependency from the configuration and yield a `Responder`; close them after."""
    clock = build_clock(config)
    try:
        # An integration whose secret is unset is left out with a warning, not a refusal to start: the
        # incident is still worked with what can be reached (its checks are recorded as not run).
        registry = registry or ToolRegistry.from_config(config.tools, clock=clock.now, missing_secrets="disable")
        catalog = ServiceCatalog.load(config.knowledge.catalog)
    except ValueError as exc:  # bad tool settings, unset secret variables, a broken catalog: all name the field
        raise SetupError(str(exc)) from exc
    for name, missing in registry.disabled.items():
        log.warning(
            "tool_disabled",
            instance=name,
            variable=missing.variable,
            setting=f"tools.{name}.{missing.field}",
            reason=f"{missing.variable} is not set; `firstline tools check` lists every instance's problems",
        )
    # MCP servers are asked for their tools now; one that does not answer is left out, like an unset secret.
    try:
        await registry.open()
    except BaseException:
        await registry.aclose()
        raise
    for name, reason in registry.unavailable.items():
        log.warning("tool_unavailable", instance=name, reason=reason)
    try:
        policy = ApprovalPolicy(config.policy)  # reads the earned autonomy rules (policy.earned_file)
    except ValueError as exc:  # a broken earned-rules file names the file and the field
        await registry.aclose()
        raise SetupError(str(exc)) from exc
    ledger = ActionLedger(config.storage.where(config.storage.ledger))
    store = knowledge(config) if callable(knowledge) else knowledge
    ctx = AgentContext(
        registry=registry,
        ledger=ledger,
        policy=policy,
        catalog=catalog,
        reasoner=build_reasoner(config, chat_model=chat_model),
        fallback=DeterministicReasoner(),
        settings=config.workflow,
        knowledge=store,
        memory=build_memory(store),
        links={"incident": incident_base} if (incident_base := incident_link(config)) else {},
        clock=clock.now,
        sleep=clock.sleep,
    )
    if progress is not None:
        ctx.progress = progress
    try:
        async with open_responder(
            ctx, config.storage.where(config.storage.checkpoints), config.storage.where(config.storage.incidents)
        ) as responder:
            yield responder
    finally:
        ledger.close()
        await registry.aclose()
