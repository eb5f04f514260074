"""The LLM reasoner: any OpenAI-compatible chat model, reasoning through the same tools and typed outputs.

- `diagnose` runs a bounded tool-calling loop: the model sees the evidence gathered so far and the
  read-only tool calls (schemas from their input models), may call them for more evidence, and ends
  by calling ``submit_diagnosis`` with a typed diagnosis that cites evidence ids. Unknown tool names,
  malformed arguments and invalid diagnoses are answered with an error message so the model can fix
  them; mutating tools are never offered.
- `choose_remediation` uses structured output to pick one of the options code built. The method
  (``structured_output_method``) is ``json_schema``, ``function_calling`` or ``json_mode``; ``auto`` asks the
  server once which works (a tiny json_schema request, then a tool call; else json_mode) and keeps the answer.
- Any API failure (connection, 429, 5xx, timeout) or an unusable answer raises `ReasonerFailure`; the
  calling agent then uses the deterministic reasoner for that step and notes it on the timeline.
- A prompt budget (`agents.reasoners.prompt_budget`): when the context window is known (``context_tokens``,
  or probed once from the server), the diagnose step offers the tools and the evidence that fit, compacted,
  and any call whose prompt cannot fit is refused before it is sent, with the numbers.
- Every method returns the tokens its model calls used (`Reasoned.usage`, also on a
  `ReasonerFailure`). Nothing is counted on the reasoner itself: one instance serves concurrent
  incidents.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import openai
import structlog
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, Field, ValidationError, create_model

from agents import prompts
from agents.evidence import EvidenceBundle
from agents.model_text import CleanText, clean_model_text, quality_problems
from agents.reasoners import prompt_budget as budget
from agents.reasoners.base import (
    Reasoned,
    ReasonerContext,
    ReasonerFailure,
    RemediationChoice,
    RemediationOption,
    TriageFacts,
    UpdatePhase,
)
from agents.state import Diagnosis, Evidence, IncidentState, RootCauseCategory, RuledOut, Usage
from tools.invoke import describe_validation_error

log = structlog.get_logger("firstline.llm")

SUBMIT = "submit_diagnosis"
MODEL_ERRORS: tuple[type[BaseException], ...] = (openai.APIError, TimeoutError, ConnectionError)


class RuledOutDraft(BaseModel):
    what: str
    why: str
    evidence_ids: list[str] = Field(description="Ids of the evidence that rules it out.")


class DiagnosisDraft(BaseModel):
    """What the model submits. Code checks every cited id against the evidence."""

    root_cause: str = Field(description="One sentence naming the component or change at fault and the mechanism.")
    category: RootCauseCategory = Field(description="The kind of root cause; it decides which remediations apply.")
    entity: str = Field(description="The service (or dependency) at fault, as named in the evidence.")
    confidence: float = Field(ge=0, le=1)
    evidence_ids: list[str] = Field(description="Ids of the evidence that supports the root cause.")
    ruled_out: list[RuledOutDraft] = Field(default_factory=list)
    inconclusive: bool = False


def tool_name(tool_id: str) -> str:
    """OpenAI tool names allow [a-zA-Z0-9_-]: ``prometheus.query`` becomes ``prometheus__query``."""
    return tool_id.replace(".", "__")


class UsageMeter:
    """The tokens of one reasoner call, summed over its model turns. Local to that call, so two
    incidents sharing the reasoner never mix counts."""

    def __init__(self) -> None:
        self.usage = Usage()

    def add(self, message: object) -> None:
        if not isinstance(message, AIMessage) or not message.usage_metadata:
            return
        metadata = message.usage_metadata
        prompt = int(metadata.get("input_tokens") or 0)
        completion = int(metadata.get("output_tokens") or 0)
        if not prompt and not completion:
            # Some servers report only a total: count it as prompt tokens rather than lose it.
            prompt = int(metadata.get("total_tokens") or 0)
        self.usage = self.usage + Usage(prompt_tokens=prompt, completion_tokens=completion)

    def add_completion_usage(self, completion: object) -> None:
        """The usage of a raw SDK completion (one the SDK refused to parse, so no message carries it)."""
        usage = getattr(completion, "usage", None)
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        generated = int(getattr(usage, "completion_tokens", 0) or 0)
        self.usage = self.usage + Usage(prompt_tokens=prompt, completion_tokens=generated)

    def failure(self, message: str) -> ReasonerFailure:
        """A `ReasonerFailure` that still reports what the failed attempt cost."""
        return ReasonerFailure(message, usage=self.usage)


class LLMReasoner:
    """Reasoning with a chat model. Build it with any `BaseChatModel` (ChatOpenAI in production).

    Stateless between calls (safe to share between concurrent incidents).
    """

    name = "llm"

    def __init__(
        self,
        model: BaseChatModel,
        *,
        max_tool_rounds: int = 6,
        structured_output_method: str = "auto",
        step_timeout_seconds: float = 120.0,
        max_tokens: int = 1024,
        context_tokens: int | None = None,
        context_probe: Callable[[], Awaitable[int | None]] | None = None,
    ) -> None:
        self.model = model
        self.max_tool_rounds = max_tool_rounds
        self.structured_output_method = structured_output_method
        self.step_timeout_seconds = step_timeout_seconds
        self.max_tokens = max_tokens
        self.context_tokens = context_tokens
        self._context_probe = context_probe  # asked once, when context_tokens is not configured
        self._method_probe: asyncio.Lock | None = None

    async def _structured_method(self, meter: UsageMeter) -> str:
        """The configured structured-output method, or for ``auto`` the first that works on this server:
        probed once (its tokens counted on the step that probes), then cached for every later call."""
        if self.structured_output_method != "auto":
            return self.structured_output_method
        self._method_probe = self._method_probe or asyncio.Lock()
        async with self._method_probe:
            if self.structured_output_method == "auto":
                self.structured_output_method = await self._probe_method(meter)
                log.info("llm.structured_output_method", method=self.structured_output_method)
        return self.structured_output_method

    async def _probe_method(self, meter: UsageMeter) -> str:
        request = [HumanMessage('Answer with the status "ok".')]
        for method in ("json_schema", "function_calling"):
            try:
                structured = self.model.with_structured_output(
                    ProbeAnswer.model_json_schema(), method=method, include_raw=True
                )
                answer = await asyncio.wait_for(structured.ainvoke(request), timeout=self.step_timeout_seconds)
            except openai.LengthFinishReasonError as exc:  # parsed in the SDK, cut at the limit: spent, not usable
                meter.add_completion_usage(exc.completion)
                continue
            except Exception:  # this method does not work here (an HTTP 400, a timeout); try the next
                continue
            raw = answer.get("raw") if isinstance(answer, dict) else None
            meter.add(raw)
            parsed = answer.get("parsed") if isinstance(answer, dict) else None
            try:
                ProbeAnswer.model_validate(parsed)
            except ValidationError:
                continue
            return method
        return "json_mode"

    async def _window(self) -> int | None:
        """The model's context window: configured, or probed once from the server (None: unknown)."""
        if self.context_tokens is None and self._context_probe is not None:
            probe, self._context_probe = self._context_probe, None
            try:
                self.context_tokens = await asyncio.wait_for(probe(), timeout=10)
            except Exception as exc:  # an unknown window only turns the budget off
                log.warning("llm.context_probe_failed", error=type(exc).__name__)
        return self.context_tokens

    async def _check_fits(
        self, meter: UsageMeter, messages: list[BaseMessage], tools: list[dict[str, Any]] | None, what: str
    ) -> None:
        window = await self._window()
        if window is None:
            return
        needed = sum(budget.estimate_tokens(_text_of(m)) + budget.MESSAGE_OVERHEAD for m in messages)
        needed += budget.tools_tokens(tools or [])
        available = budget.room(window, self.max_tokens)
        if needed > available:
            raise meter.failure(
                budget.over_budget(needed, available, context_tokens=window, max_tokens=self.max_tokens, what=what)
            )

    async def _call(self, meter: UsageMeter, step: Awaitable[Any]) -> Any:
        """Await one model step within its deadline; every way it can fail becomes a `ReasonerFailure`.

        The deadline cancels the request (httpx closes the connection), so an abandoned generation does not
        keep the server busy for the next step. Any failure beyond the SDK's own errors (a reply the client
        cannot parse, a provider SDK bug) is a failed step too: the node falls back and the incident goes on.
        """
        try:
            return await asyncio.wait_for(step, timeout=self.step_timeout_seconds)
        except TimeoutError as exc:
            raise meter.failure(f"no answer within the step deadline of {self.step_timeout_seconds:g}s") from exc
        except openai.LengthFinishReasonError as exc:
            # json_schema replies are parsed inside the SDK; one cut at the limit raises, its usage on the error.
            meter.add_completion_usage(exc.completion)
            raise meter.failure(
                "the reply was cut at the token limit (finish_reason: length); raise llm.max_tokens"
            ) from exc
        except MODEL_ERRORS as exc:
            raise meter.failure(f"model call failed: {describe_model_error(exc)}") from exc
        except ReasonerFailure:
            raise
        except Exception as exc:
            raise meter.failure(f"model reply unusable: {type(exc).__name__}: {_short(str(exc), 200)}") from exc

    @staticmethod
    def _count(meter: UsageMeter, message: AIMessage | None) -> None:
        """Count the reply's tokens; a reply cut at the token limit is not an answer (half a JSON object)."""
        meter.add(message)
        if message is not None and message.response_metadata.get("finish_reason") == "length":
            raise meter.failure("the reply was cut at the token limit (finish_reason: length); raise llm.max_tokens")

    async def _ask(
        self,
        meter: UsageMeter,
        messages: list[BaseMessage],
        tools: list[dict[str, Any]] | None = None,
        *,
        what: str = "the request",
    ) -> AIMessage:
        await self._check_fits(meter, messages, tools, what)
        runnable = self.model.bind_tools(tools) if tools is not None else self.model
        response = await self._call(meter, runnable.ainvoke(messages))
        if not isinstance(response, AIMessage):
            raise meter.failure(f"model returned {type(response).__name__}, not a message")
        self._count(meter, response)
        return response

    async def summarize(self, facts: TriageFacts, ctx: ReasonerContext) -> Reasoned[str]:
        meter = UsageMeter()
        response = await self._ask(
            meter, [SystemMessage(prompts.TRIAGE_SYSTEM), HumanMessage(prompts.triage_request(facts))]
        )
        cleaned = clean_model_text(_text(response), limit=SUMMARY_LIMIT, allowed_urls=ctx.links.values())
        if len(cleaned.text) < 20 or not cleaned.readable:
            raise meter.failure("the model's summary was empty, too short or unreadable")
        involved = {facts.service, *facts.dependents, *ctx.catalog.blast_radius(facts.service)}
        problems = quality_problems(
            cleaned.text, prompt=prompts.TRIAGE_SYSTEM, service_names=ctx.catalog.services, allowed_services=involved
        )
        if problems:
            raise meter.failure(f"the model's summary is not fit to publish: {'; '.join(problems)}")
        return Reasoned(cleaned.text, meter.usage, notes=_cleaning_notes(cleaned))

    async def diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext) -> Reasoned[Diagnosis]:
        refused: list[str] = []  # calls the model asked for that it may not make (mutating, unknown)
        try:
            return await self._diagnose(bundle, ctx, refused)
        except ReasonerFailure as exc:
            exc.notes.extend(_refused(refused, ctx))  # a refused call stays on the record even if the step fails
            raise

    async def _diagnose(self, bundle: EvidenceBundle, ctx: ReasonerContext, refused: list[str]) -> Reasoned[Diagnosis]:
        meter = UsageMeter()
        read_only = {tool_name(info.tool): info for info in ctx.registry.list_tools() if not info.mutating}
        offered: list[dict[str, Any]] = [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": info.description,
                    "parameters": ctx.registry.resolve(info.tool)[1].input_model.model_json_schema(),
                },
            }
            for name, info in read_only.items()
        ]
        submit = {
            "type": "function",
            "function": {
                "name": SUBMIT,
                "description": "Submit the final diagnosis.",
                "parameters": DiagnosisDraft.model_json_schema(),
            },
        }
        tools, brief, result_limit = await self._fit_diagnosis(meter, bundle, submit, offered)
        messages: list[BaseMessage] = [SystemMessage(prompts.INVESTIGATION_SYSTEM), HumanMessage(brief)]
        gathered: list[Evidence] = []
        known = {e.id for e in bundle.evidence}
        for _ in range(self.max_tool_rounds):
            response = await self._ask(meter, messages, tools=tools, what="the diagnosis so far")
            messages.append(response)
            for bad in response.invalid_tool_calls:
                messages.append(
                    ToolMessage(
                        f"error: the arguments of {bad.get('name')} are not valid JSON ({bad.get('error')}); call it again with a JSON object",
                        tool_call_id=bad.get("id") or "invalid",
                    )
                )
            if not response.tool_calls:
                draft = _draft_from_text(_text(response))
                if draft is not None:
                    return Reasoned(
                        self._finish(draft, bundle, gathered), meter.usage, gathered, _refused(refused, ctx)
                    )
                messages.append(HumanMessage(f"Call {SUBMIT} with your diagnosis, citing evidence ids."))
                continue
            for call in response.tool_calls:
                call_id = call.get("id") or call["name"]
                if call["name"] == SUBMIT:
                    try:
                        draft = DiagnosisDraft.model_validate(call["args"])
                    except ValidationError as exc:
                        messages.append(
                            ToolMessage(
                                f"error: invalid diagnosis: {describe_validation_error(exc)}", tool_call_id=call_id
                            )
                        )
                        continue
                    unknown = [i for i in draft.evidence_ids if i not in known]
                    if unknown and not set(draft.evidence_ids) - set(unknown):
                        messages.append(
                            ToolMessage(
                                f"error: none of the cited evidence ids exist ({', '.join(unknown)}); cite ids from the evidence list",
                                tool_call_id=call_id,
                            )
                        )
                        continue
                    return Reasoned(
                        self._finish(draft, bundle, gathered), meter.usage, gathered, _refused(refused, ctx)
                    )
                info = read_only.get(call["name"])
                if info is None:
                    refused.append(call["name"])
                    messages.append(
                        ToolMessage(
                            f"error: unknown tool {call['name']!r}; available: {', '.join(read_only)}, {SUBMIT}",
                            tool_call_id=call_id,
                        )
                    )
                    continue
                result = await ctx.registry.invoke(info.tool, call["args"])
                evidence = Evidence(
                    id=f"llm-e{len(gathered) + 1}",
                    source=result.tool,
                    query=result.query,
                    observation=_short(result.summary or json.dumps(result.data, default=str), 400),
                    status="ok" if result.status == "ok" else "no_data" if result.status == "no_data" else "error",
                )
                gathered.append(evidence)
                known.add(evidence.id)
                messages.append(
                    ToolMessage(
                        f"evidence {evidence.id} ({result.status}): "
                        f"{_short(json.dumps(result.data, default=str), result_limit)}\n"
                        f"{_short(result.summary or '', result_limit)}",
                        tool_call_id=call_id,
                    )
                )
        raise meter.failure(f"no diagnosis after {self.max_tool_rounds} model turns")

    async def _fit_diagnosis(
        self, meter: UsageMeter, bundle: EvidenceBundle, submit: dict[str, Any], offered: list[dict[str, Any]]
    ) -> tuple[list[dict[str, Any]], str, int]:
        """The tools, the evidence brief and the size of a tool result that fit the context window.

        Unknown window: everything, as built. Known: the brief gets up to half of the room left after the
        system prompt and the submit tool (observations cut shorter, then the later items left out), the tools
        what fits of the rest minus a quarter of the room kept for the turns to come; too small even for the
        submit tool and a one-item brief: refused with the numbers."""
        window = await self._window()
        if window is None:
            return [*offered, submit], prompts.evidence_brief(bundle), 3000
        available = budget.room(window, self.max_tokens)
        fixed = budget.estimate_tokens(prompts.INVESTIGATION_SYSTEM) + 2 * budget.MESSAGE_OVERHEAD
        fixed += budget.tools_tokens([budget.compact_tool(submit)])
        smallest = prompts.evidence_brief(bundle, observation_limit=budget.OBSERVATION_STEPS[-1], keep=1)
        minimum = fixed + budget.estimate_tokens(smallest)
        if minimum > available:
            raise meter.failure(
                budget.over_budget(
                    minimum,
                    available,
                    context_tokens=window,
                    max_tokens=self.max_tokens,
                    what="the smallest diagnosis prompt (instructions, the submit tool, one evidence item)",
                )
            )
        spare = available - fixed
        brief = _fit_brief(bundle, spare // 2) or smallest
        reserve = available // 4
        tool_room = spare - budget.estimate_tokens(brief) - reserve
        preferred = {tool_name(e.source).split("__")[0] for e in bundle.evidence if e.source}
        tools, left_out = budget.choose_tools(submit, offered, preferred=sorted(preferred), budget=max(tool_room, 0))
        if left_out:
            log.info("llm.tools_left_out", left_out=left_out, offered=len(tools) - 1, window=window)
        # A tool result is at most a third of what the turns to come may use, in characters.
        result_limit = max(200, min(3000, int(reserve * budget.CHARS_PER_TOKEN / 3)))
        return [*tools[1:], tools[0]], brief, result_limit

    def _finish(self, draft: DiagnosisDraft, bundle: EvidenceBundle, gathered: list[Evidence]) -> Diagnosis:
        by_id = {e.id: e for e in [*bundle.evidence, *gathered]}
        return Diagnosis(
            root_cause=draft.root_cause,
            category=draft.category,
            entity=draft.entity,
            confidence=draft.confidence,
            # Unknown ids are kept as placeholders so the evidence gate can report and drop them.
            evidence=[
                by_id.get(i) or Evidence(id=i, source="model", query="", observation="cited by the model")
                for i in draft.evidence_ids
            ],
            ruled_out=[RuledOut(what=r.what, why=r.why, evidence_ids=r.evidence_ids) for r in draft.ruled_out],
            inconclusive=draft.inconclusive,
            reasoner=self.name,
        )

    async def choose_remediation(
        self, diagnosis: Diagnosis, options: list[RemediationOption], ctx: ReasonerContext
    ) -> Reasoned[RemediationChoice]:
        meter = UsageMeter()
        # The schema the model fills names the valid ids as an enum, so a constrained decoder (json_schema on
        # llama.cpp, vLLM) cannot produce an id that is not an option.
        choice_model = choice_schema([o.id for o in options])

        request: list[BaseMessage] = [
            SystemMessage(prompts.REMEDIATION_SYSTEM),
            HumanMessage(prompts.remediation_request(diagnosis, options)),
        ]
        await self._check_fits(meter, request, [{"schema": choice_model.model_json_schema()}], "the choice")
        method = await self._structured_method(meter)

        valid = f"valid option_id values: {', '.join(o.id for o in options) or 'none'} or null"

        async def choose() -> Any:
            # A JSON Schema dict, not the model class: with a class, json_schema validates inside the client and
            # a reply that fails loses its usage; with the dict the raw reply comes back and code validates it.
            schema = choice_model.model_json_schema()
            structured = self.model.with_structured_output(schema, method=method, include_raw=True)
            return await structured.ainvoke(request)

        answer = await self._call(meter, choose())
        raw = answer.get("raw") if isinstance(answer, dict) else None
        self._count(meter, raw if isinstance(raw, AIMessage) else None)
        parsed = answer.get("parsed") if isinstance(answer, dict) else answer
        sent = _short(_sent(raw), 200) if isinstance(raw, AIMessage) else repr(answer)[:200]
        if isinstance(parsed, BaseModel):
            parsed = parsed.model_dump()
        if not isinstance(parsed, dict):
            error = answer.get("parsing_error") if isinstance(answer, dict) else None
            raise meter.failure(
                f"unusable remediation choice ({method}): {_describe_parse_error(error)}; "
                f"the model sent: {sent!r}; {valid}"
            )
        try:
            validated = choice_model.model_validate(parsed)
        except ValidationError as exc:
            raise meter.failure(f"unusable remediation choice ({method}): {_describe_invalid(exc)}; {valid}") from exc
        chosen = RemediationChoice.model_validate(validated.model_dump())
        if chosen.option_id is not None and chosen.option_id not in {o.id for o in options}:
            raise meter.failure(f"the model chose {chosen.option_id!r}, which is not one of the options")
        return Reasoned(chosen, meter.usage)

    async def write_update(
        self, incident: IncidentState, phase: UpdatePhase, audience: str, ctx: ReasonerContext, *, draft: str = ""
    ) -> Reasoned[str]:
        meter = UsageMeter()
        response = await self._ask(
            meter,
            [
                SystemMessage(prompts.COMMS_SYSTEM),
                HumanMessage(prompts.update_request(incident, phase, audience, draft=draft)),
            ],
        )
        links = [*ctx.links.values(), *incident.alert.links]
        cleaned = clean_model_text(_text(response), limit=UPDATE_LIMIT, allowed_urls=links)
        if len(cleaned.text) < 10 or not cleaned.readable:
            raise meter.failure("the model's update was empty or unreadable")
        involved = {
            incident.service,
            *ctx.catalog.blast_radius(incident.service),
            *ctx.catalog.dependents_of(incident.service),
        }
        if incident.diagnosis is not None:
            involved |= {incident.diagnosis.entity, *(c.entity for c in incident.diagnosis.candidates)}
        problems = quality_problems(
            cleaned.text, prompt=prompts.COMMS_SYSTEM, service_names=ctx.catalog.services, allowed_services=involved
        )
        if problems:
            raise meter.failure(f"the model's update is not fit to publish: {'; '.join(problems)}")
        return Reasoned(cleaned.text, meter.usage, notes=_cleaning_notes(cleaned))


def describe_model_error(exc: BaseException) -> str:
    """``HTTP 429 RateLimitError: ...``: the status and the SDK's own error class, not a wrapper's."""
    kind = next((c.__name__ for c in type(exc).__mro__ if c.__module__.startswith("openai")), type(exc).__name__)
    status = getattr(exc, "status_code", None)
    return f"{f'HTTP {status} ' if status else ''}{kind}: {_short(str(exc))}"


class ProbeAnswer(BaseModel):
    """The tiny answer that tells which structured-output method a server supports."""

    status: Literal["ok", "degraded"]


def _describe_invalid(exc: ValidationError) -> str:
    """``field: problem (the model sent: value)`` for each error, the values truncated."""
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "the answer"
        sent = _short(json.dumps(err.get("input"), default=str), 120)
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')} (the model sent: {sent})")
    return "; ".join(parts)


def _describe_parse_error(error: object) -> str:
    """Which field was wrong and how (a validation error, also when wrapped by the output parser), else the
    parser's own message, truncated; ``nothing parsed`` when there is no error at all (no tool call came back)."""
    seen: object = error
    while isinstance(seen, BaseException):
        if isinstance(seen, ValidationError):
            return _short(_describe_invalid(seen), 400)
        seen = seen.__cause__ or seen.__context__
    if error is None:
        return "nothing parsed (no tool call or JSON object came back)"
    return _short(str(error), 200)


def _fit_brief(bundle: EvidenceBundle, tokens: int) -> str | None:
    """The longest evidence brief within ``tokens``: every item with shorter and shorter observations, then
    fewer items; None when not even one item fits."""
    full = prompts.evidence_brief(bundle)
    if budget.estimate_tokens(full) <= tokens:
        return full
    for limit in budget.OBSERVATION_STEPS:
        for keep in range(len(bundle.evidence), 0, -1):
            brief = prompts.evidence_brief(bundle, observation_limit=limit, keep=keep)
            if budget.estimate_tokens(brief) <= tokens:
                if keep == len(bundle.evidence) or limit == budget.OBSERVATION_STEPS[-1]:
                    return brief
                break  # try a shorter observation before leaving items out
    return None


def _text_of(message: BaseMessage) -> str:
    """Everything of a message that goes into the prompt: its text and its tool calls."""
    calls = json.dumps(message.tool_calls, default=str) if isinstance(message, AIMessage) and message.tool_calls else ""
    content = message.content
    if isinstance(content, list):
        content = " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "") + calls


def _text(message: AIMessage) -> str:
    content = message.content
    if isinstance(content, list):
        content = " ".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
    return str(content or "").strip()


def _draft_from_text(text: str) -> DiagnosisDraft | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        return DiagnosisDraft.model_validate_json(text[start : end + 1])
    except ValidationError:
        return None


def _sent(message: AIMessage) -> str:
    """What the model answered: its tool call's arguments, or its text."""
    if message.tool_calls:
        return json.dumps(message.tool_calls[0].get("args"), default=str)
    return _text(message)


def choice_schema(option_ids: list[str]) -> type[BaseModel]:
    """`RemediationChoice` with ``option_id`` limited to these ids (or null): the enum goes into the JSON
    Schema the server constrains decoding with, and a reply naming another id fails validation."""
    allowed: Any = Literal[tuple(option_ids)] if option_ids else type(None)  # a Literal built at run time
    return create_model(
        "RemediationChoice",
        option_id=(allowed | None, Field(description="The chosen option id, or null to propose nothing.")),
        rationale=(str, Field(description="Why, in one or two sentences.")),
    )


SUMMARY_LIMIT = 1200
UPDATE_LIMIT = 800


def _cleaning_notes(cleaned: CleanText) -> list[str]:
    return [f"model text cleaned before use: removed {', '.join(cleaned.removed)}"] if cleaned.removed else []


def _refused(names: list[str], ctx: ReasonerContext) -> list[str]:
    """Timeline notes for calls the model asked for and was refused: mutating ones and unknown ones."""
    mutating = {tool_name(info.tool) for info in ctx.registry.list_tools() if info.mutating}
    notes = []
    for name in dict.fromkeys(names):
        kind = "a mutating call" if name in mutating else "an unknown call"
        notes.append(f"the model asked for {kind} ({_short(name, 80)}); refused, it was offered read-only tools only")
    return notes


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
