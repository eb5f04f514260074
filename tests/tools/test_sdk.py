"""The adapter SDK core: invocation rules, definition checks, policy, ledger, grants, HTTP layer."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest
import respx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.actions import execute_action
from tools.base import (
    Adapter,
    AdapterDefinitionError,
    AdapterSettings,
    ExecutionGrant,
    ResultShapeError,
    SafetyMetadata,
    ToolResult,
    UpstreamError,
    hash_args,
    tool_call,
)
from tools.http import HttpCaller, Redactor
from tools.ledger import ActionLedger, ClaimRefused
from tools.policy import ApprovalPolicy, PolicySettings
from tools.registry import BUILTIN_KINDS, ToolRegistry, available_kinds, validate_adapter_class

RESTART = SafetyMetadata(
    mutating=True, reversible=True, undo="nothing to undo", approval_tier="approve", action_class="restart"
)


class CountInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: int = Field(ge=0, description="How many items to produce.")
    label: str = Field(default="x", description="A label echoed back.")


class ToyAdapter(Adapter):
    kind: ClassVar[str] = "toy"
    description: ClassVar[str] = "A test adapter with no backend."

    def __init__(self, instance: str, settings: AdapterSettings, http: HttpCaller) -> None:
        super().__init__(instance, settings, http)
        self.mutations = 0

    @tool_call(description="Produce a list of items.")
    async def items(self, args: CountInput) -> ToolResult:
        data = [{"i": i, "pad": "x" * 50} for i in range(args.count)]
        return ToolResult(tool=self.tool_id("items"), status="ok", query=f"items {args.count}", data=data)

    @tool_call(description="Produce an object holding a long list.")
    async def table(self, args: CountInput) -> ToolResult:
        rows = [{"i": i, "pad": "y" * 50} for i in range(args.count)]
        return ToolResult(tool=self.tool_id("table"), status="ok", query="table", data={"title": "t", "rows": rows})

    @tool_call(description="Change something.", safety=RESTART)
    async def mutate(self, args: CountInput) -> ToolResult:
        self.mutations += 1
        return ToolResult(tool=self.tool_id("mutate"), status="ok", query="mutate", summary=f"mutated {args.count}")


@pytest.fixture
async def toy() -> AsyncIterator[ToyAdapter]:
    async with httpx.AsyncClient(base_url="http://toy") as client:
        settings = AdapterSettings(base_url="http://toy", output_budget_chars=500)
        yield ToyAdapter("toy", settings, HttpCaller(client, instance="toy", backoff_seconds=0))


# -- invocation ----------------------------------------------------------------------------------------


async def test_output_budget_trims_whole_list_items_and_says_so(toy: ToyAdapter) -> None:
    result = await toy.invoke("items", {"count": 100})
    assert result.status == "ok"
    assert isinstance(result.data, list) and 0 < len(result.data) < 100
    assert len(json.dumps(result.data)) <= 500
    assert result.truncated == f"output budget of 500 characters: kept {len(result.data)} of 100 items"


async def test_output_budget_trims_the_longest_list_inside_an_object(toy: ToyAdapter) -> None:
    result = await toy.invoke("table", {"count": 100})
    assert result.data["title"] == "t"
    kept = len(result.data["rows"])
    assert 0 < kept < 100
    assert result.truncated == f"output budget of 500 characters: rows: kept {kept} of 100 items"


async def test_small_output_is_untouched(toy: ToyAdapter) -> None:
    result = await toy.invoke("items", {"count": 2})
    assert result.truncated is None and len(result.data) == 2


async def test_unknown_call_lists_what_exists(toy: ToyAdapter) -> None:
    result = await toy.invoke("explode", {"count": 1})
    assert result.status == "error" and result.error is not None
    assert result.error.kind == "input"
    assert result.error.message == "unknown call 'explode' on toy; available: items, mutate, table"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"count": -1}, "count: Input should be greater than or equal to 0"),
        ({"count": "many"}, "count: Input should be a valid integer"),
        ({}, "count: Field required"),
        ({"count": 1, "colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
async def test_invalid_arguments_name_the_field(toy: ToyAdapter, args: dict[str, Any], expected: str) -> None:
    result = await toy.invoke("items", args)
    assert result.status == "error" and result.error is not None and result.error.kind == "input"
    assert result.error.message.startswith("invalid arguments for toy.items: ")
    assert expected in result.error.message


async def test_registry_invoke_of_unknown_instance(toy: ToyAdapter) -> None:
    registry = ToolRegistry({"toy": toy})
    result = await registry.invoke("nope.items", {"count": 1})
    assert result.error is not None and "unknown tool 'nope.items'; configured instances: toy" in result.error.message


# -- definition checks ---------------------------------------------------------------------------------


def test_mutating_metadata_without_reversible_and_tier_is_refused() -> None:
    with pytest.raises(ValidationError, match="must declare reversible, approval_tier"):
        SafetyMetadata(mutating=True)
    with pytest.raises(ValidationError, match="must declare undo"):
        SafetyMetadata(mutating=True, reversible=True, approval_tier="approve")


def test_such_a_call_cannot_even_be_declared() -> None:
    with pytest.raises(ValidationError, match="reversible"):

        class Careless(Adapter):  # the class statement itself must fail
            kind: ClassVar[str] = "careless"

            @tool_call(description="Delete things.", safety=SafetyMetadata(mutating=True, approval_tier="approve"))
            async def delete(self, args: CountInput) -> ToolResult:
                raise AssertionError("never runs")


def test_validate_adapter_class_catches_metadata_built_around_validation() -> None:
    sneaky_safety = SafetyMetadata.model_construct(mutating=True, action_class="delete")

    class Sneaky(Adapter):
        kind: ClassVar[str] = "sneaky"

        @tool_call(description="Delete things.", safety=sneaky_safety)
        async def delete(self, args: CountInput) -> ToolResult:
            raise AssertionError("never runs")

    with pytest.raises(
        AdapterDefinitionError, match=r"plugin x: sneaky.delete has invalid safety metadata: .*reversible"
    ):
        validate_adapter_class(Sneaky, origin="plugin x")
    # The registry runs the same check at start-up, even for kinds handed to it directly; the error is
    # a ValueError too, so start-up code reports it as a configuration problem.
    with pytest.raises(ValueError, match=r"tools.s \(kind 'sneaky'\): sneaky.delete has invalid safety metadata"):
        ToolRegistry.from_config({"s": {"kind": "sneaky", "base_url": "http://s"}}, kinds={"sneaky": Sneaky})


@pytest.mark.parametrize("settings", [{}, {"base_url": "http://a", "base_url_env": "FIRSTLINE_TEST_URL"}])
def test_an_instance_needs_exactly_one_base_url(settings: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="tools.p: give exactly one of base_url or base_url_env"):
        ToolRegistry.from_config(
            {"p": {"kind": "prometheus", **settings}}, kinds=available_kinds(include_plugins=False)
        )


def test_a_call_takes_exactly_one_model() -> None:
    with pytest.raises(AdapterDefinitionError, match="exactly one input model argument, got 2"):

        class TwoArgs(Adapter):
            kind: ClassVar[str] = "two"

            @tool_call(description="Bad.")
            async def bad(self, a: CountInput, b: CountInput) -> ToolResult:
                raise AssertionError("never runs")


def test_every_builtin_adapter_is_valid_and_documented() -> None:
    kinds = available_kinds(include_plugins=False)
    assert (
        set(kinds)
        == set(BUILTIN_KINDS)
        == {
            "prometheus",
            "loki",
            "kubernetes",
            "github",
            "statuspage",
            "provider_status",
            "slack",
            "elasticsearch",
            "argocd",
            "pagerduty",
            "pagerduty_events",
            "teams",
            "http_action",
            "mcp",
            "tempo",
        }
    )
    for kind, cls in kinds.items():
        assert cls.kind == kind and cls.description
        for spec in cls.calls.values():
            assert spec.description, f"{kind}.{spec.name} has no description"
            schema = spec.input_model.model_json_schema()
            undocumented = [name for name, prop in schema["properties"].items() if not prop.get("description")]
            assert not undocumented, f"{kind}.{spec.name}: fields without a description: {undocumented}"


# -- policy --------------------------------------------------------------------------------------------

READ = SafetyMetadata(mutating=False)
ROLLBACK = SafetyMetadata(
    mutating=True, reversible=True, undo="roll forward", approval_tier="approve", action_class="rollback"
)
NOTIFY = SafetyMetadata(
    mutating=True, reversible=True, undo="edit it", approval_tier="auto", action_class="communicate"
)
DROP_TABLE = SafetyMetadata(
    mutating=True, destructive=True, reversible=False, approval_tier="auto", action_class="delete"
)


@pytest.mark.parametrize(
    ("maturity", "safety", "tier"),
    [
        ("crawl", ROLLBACK, "forbid"),
        ("crawl", NOTIFY, "forbid"),
        ("crawl", READ, "auto"),
        ("walk", NOTIFY, "approve"),
        ("walk", ROLLBACK, "approve"),
        ("run", NOTIFY, "auto"),
        ("run", ROLLBACK, "approve"),
        ("run", DROP_TABLE, "approve"),  # declared auto, but destructive and irreversible
    ],
)
def test_maturity_presets(maturity: str, safety: SafetyMetadata, tier: str) -> None:
    policy = ApprovalPolicy(PolicySettings.model_validate({"maturity": maturity}))
    assert policy.decide(safety).tier == tier


def test_rules_per_environment_beat_the_default_rule_and_the_preset() -> None:
    policy = ApprovalPolicy(
        PolicySettings(
            environment="production",
            maturity="crawl",
            rules={"rollback": {"staging": "auto", "default": "approve"}, "delete": {"default": "auto"}},
        )
    )
    assert policy.decide(ROLLBACK, environment="staging").tier == "auto"
    production = policy.decide(ROLLBACK)
    assert (production.tier, production.reason) == ("approve", "rule rollback.default")
    assert policy.decide(NOTIFY).tier == "forbid"  # no rule: the crawl preset
    never_auto = policy.decide(DROP_TABLE)
    assert never_auto.tier == "approve" and "destructive and irreversible" in never_auto.reason


# -- ledger --------------------------------------------------------------------------------------------


def test_first_decision_wins(ledger: ActionLedger) -> None:
    common = {"incident_id": "INC-1", "action_id": "a1", "tool": "toy.mutate", "args_hash": "h1"}
    first, created = ledger.record_decision(**common, decision="approved", decided_by="alice")
    second, created_again = ledger.record_decision(**common, decision="rejected", decided_by="mallory")
    assert created and not created_again
    assert second.decision == "approved" and second.decided_by == "alice" == first.decided_by


def test_a_decision_needs_a_name(ledger: ActionLedger) -> None:
    with pytest.raises(ValueError, match="--by"):
        ledger.record_decision(
            incident_id="I", action_id="a", tool="t", args_hash="h", decision="approved", decided_by=" "
        )


def test_approval_is_bound_to_the_arguments(ledger: ActionLedger) -> None:
    ledger.record_decision(
        incident_id="INC-1",
        action_id="a1",
        tool="toy.mutate",
        args_hash="h1",
        decision="approved",
        decided_by="alice",
    )
    with pytest.raises(ClaimRefused, match="approved for different arguments"):
        ledger.claim(incident_id="INC-1", action_id="a1", tool="toy.mutate", args_hash="h2", tier="approve")
    with pytest.raises(ClaimRefused, match="approved for different arguments"):
        ledger.claim(incident_id="INC-1", action_id="a1", tool="toy.other", args_hash="h1", tier="approve")
    claim = ledger.claim(incident_id="INC-1", action_id="a1", tool="toy.mutate", args_hash="h1", tier="approve")
    assert claim.grant is not None and claim.grant.approved_by == "alice"


def test_claims_are_refused_without_approval_after_rejection_and_when_forbidden(ledger: ActionLedger) -> None:
    with pytest.raises(ClaimRefused, match="needs an approval and none is recorded"):
        ledger.claim(incident_id="I", action_id="none", tool="t", args_hash="h", tier="approve")
    ledger.record_decision(
        incident_id="I", action_id="no", tool="t", args_hash="h", decision="rejected", decided_by="bob"
    )
    with pytest.raises(ClaimRefused, match="rejected by bob"):
        ledger.claim(incident_id="I", action_id="no", tool="t", args_hash="h", tier="approve")
    with pytest.raises(ClaimRefused, match="forbidden by policy"):
        ledger.claim(incident_id="I", action_id="f", tool="t", args_hash="h", tier="forbid")


def test_an_action_is_claimed_once_and_an_unfinished_claim_is_unknown(ledger: ActionLedger) -> None:
    first = ledger.claim(incident_id="I", action_id="a", tool="t", args_hash="h", tier="auto")
    second = ledger.claim(incident_id="I", action_id="a", tool="t", args_hash="h", tier="auto")
    assert first.grant is not None and second.grant is None
    assert second.previous is not None and second.previous.state == "unknown"


# -- grants --------------------------------------------------------------------------------------------


async def test_a_forged_grant_is_refused(toy: ToyAdapter) -> None:
    args = {"count": 3}
    forged = ExecutionGrant(
        incident_id="INC-1",
        action_id="a1",
        tool="toy.mutate",
        args_hash=hash_args(CountInput.model_validate(args).model_dump(mode="json")),
        approved_by="alice",
        _seal="0" * 64,
    )
    result = await toy.invoke("mutate", args, grant=forged)
    assert result.status == "approval_required"
    assert result.error is not None and "does not match" in result.error.message
    assert toy.mutations == 0


async def test_a_real_grant_edited_after_minting_is_refused(toy: ToyAdapter, ledger: ActionLedger) -> None:
    approved = CountInput(count=1).model_dump(mode="json")
    ledger.record_decision(
        incident_id="INC-1",
        action_id="a1",
        tool="toy.mutate",
        args_hash=hash_args(approved),
        decision="approved",
        decided_by="alice",
    )
    grant = ledger.claim(
        incident_id="INC-1", action_id="a1", tool="toy.mutate", args_hash=hash_args(approved), tier="approve"
    ).grant
    assert grant is not None
    widened = dataclasses.replace(grant, args_hash=hash_args(CountInput(count=50).model_dump(mode="json")))
    assert (await toy.invoke("mutate", {"count": 50}, grant=widened)).status == "approval_required"
    assert (await toy.invoke("mutate", {"count": 50}, grant=grant)).status == "approval_required"
    assert toy.mutations == 0
    assert (await toy.invoke("mutate", {"count": 1}, grant=grant)).status == "ok"
    assert toy.mutations == 1


async def test_execute_action_runs_once_and_refuses_without_approval(toy: ToyAdapter, ledger: ActionLedger) -> None:
    registry = ToolRegistry({"toy": toy})
    policy = ApprovalPolicy(PolicySettings(maturity="walk"))
    refused = await execute_action(
        registry=registry,
        ledger=ledger,
        policy=policy,
        incident_id="I",
        action_id="a",
        tool_id="toy.mutate",
        args={"count": 2},
    )
    assert refused.status == "refused" and toy.mutations == 0

    ledger.record_decision(
        incident_id="I",
        action_id="b",
        tool="toy.mutate",
        args_hash=hash_args({"count": 2, "label": "x"}),
        decision="approved",
        decided_by="alice",
    )
    outcomes = [
        await execute_action(
            registry=registry,
            ledger=ledger,
            policy=policy,
            incident_id="I",
            action_id="b",
            tool_id="toy.mutate",
            args={"count": 2},  # the default label is filled in before hashing
        )
        for _ in range(3)
    ]
    assert [o.status for o in outcomes] == ["executed", "already_executed", "already_executed"]
    assert toy.mutations == 1
    assert outcomes[1].result is not None and outcomes[1].result.summary == "mutated 2"


# -- HTTP layer and results ----------------------------------------------------------------------------


async def test_describe_error_words_the_message_and_keeps_the_raw_excerpt() -> None:
    async with httpx.AsyncClient(base_url="http://api") as client:
        caller = HttpCaller(client, instance="api", max_retries=0, backoff_seconds=0)
        with respx.mock(base_url="http://api") as mock:
            mock.get("/thing").respond(400, json={"error": "bad thing"})
            with pytest.raises(UpstreamError) as raised:
                await caller.request("GET", "/thing", describe_error=lambda r: f"API says: {r.json()['error']}")
    error = raised.value
    assert str(error) == "GET /thing returned HTTP 400: API says: bad thing"
    assert error.body_excerpt == '{"error":"bad thing"}'
    assert error.status_code == 400 and not error.retryable


def test_redactor_hides_the_secret_and_its_base64_form() -> None:
    redact = Redactor(["hunter2-secret"])
    assert redact("token hunter2-secret and aHVudGVyMi1zZWNyZXQ=") == "token *** and ***"


def test_non_finite_samples_survive_json() -> None:
    result = ToolResult(tool="p.q", status="ok", query="q", data=[math.nan, math.inf, -math.inf, 1.5])
    dumped = result.model_dump_json()
    assert json.loads(dumped)["data"] == ["NaN", "Infinity", "-Infinity", 1.5]
    again = ToolResult.model_validate_json(dumped)
    assert again.data == ["NaN", "Infinity", "-Infinity", 1.5]


def test_hash_args_ignores_key_order() -> None:
    assert hash_args({"a": 1, "b": [1, 2]}) == hash_args({"b": [1, 2], "a": 1})
    assert hash_args({"a": 1}) != hash_args({"a": 2})


def test_registry_names_an_unset_token_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIRSTLINE_MISSING_TOKEN", raising=False)
    with pytest.raises(
        ValueError, match="instance 'prom': token_env names environment variable 'FIRSTLINE_MISSING_TOKEN'"
    ):
        ToolRegistry.from_config(
            {"prom": {"kind": "prometheus", "base_url": "http://p", "token_env": "FIRSTLINE_MISSING_TOKEN"}},
            kinds=available_kinds(include_plugins=False),
        )


def test_registry_refuses_an_unknown_kind_and_a_bad_setting() -> None:
    kinds = available_kinds(include_plugins=False)
    with pytest.raises(ValueError, match="tools.x.kind: unknown integration 'grafana'"):
        ToolRegistry.from_config({"x": {"kind": "grafana", "base_url": "http://g"}}, kinds=kinds)
    with pytest.raises(ValueError, match="tools.k8s: verify_tls: Input should be a valid boolean"):
        ToolRegistry.from_config(
            {"k8s": {"kind": "kubernetes", "base_url": "http://k", "verify_tls": "maybe"}}, kinds=kinds
        )


# -- typed payloads ------------------------------------------------------------------------------------


class Row(BaseModel):
    i: int
    pad: str


class RowList(BaseModel):
    title: str
    rows: list[Row]


class TypedToy(Adapter):
    kind: ClassVar[str] = "typedtoy"

    @tool_call(description="Rows as a typed payload.", result=RowList)
    async def rows(self, args: CountInput) -> ToolResult:
        payload = RowList(title=args.label, rows=[Row(i=i, pad="z" * 50) for i in range(args.count)])
        return ToolResult.with_payload(payload, tool=self.tool_id("rows"), status="ok", query="rows")

    @tool_call(description="Claims a payload but builds dicts of another shape.", result=RowList)
    async def sloppy(self, args: CountInput) -> ToolResult:
        return ToolResult(tool=self.tool_id("sloppy"), status="ok", query="sloppy", data={"rows": "none"})


@pytest.fixture
async def typed() -> AsyncIterator[TypedToy]:
    async with httpx.AsyncClient(base_url="http://toy") as client:
        settings = AdapterSettings(base_url="http://toy", output_budget_chars=500)
        yield TypedToy("typed", settings, HttpCaller(client, instance="typed", backoff_seconds=0))


def test_the_result_model_is_declared_with_the_call() -> None:
    assert TypedToy.calls["rows"].result_model is RowList
    assert ToyAdapter.calls["items"].result_model is None


async def test_code_reading_the_whole_result_gets_the_adapters_payload(typed: TypedToy) -> None:
    result = await typed.invoke("rows", {"count": 100}, budget=None)
    rows = result.payload(RowList)
    assert len(rows.rows) == 100 and rows.rows[99].i == 99
    assert result.payload(RowList) is rows  # validated (here: built) once
    assert result.data == rows.model_dump(mode="json")


async def test_a_trimmed_result_payload_is_what_the_model_was_shown(typed: TypedToy) -> None:
    result = await typed.invoke("rows", {"count": 100})
    kept = len(result.data["rows"])
    assert 0 < kept < 100 and result.truncated is not None
    assert len(result.payload(RowList).rows) == kept


async def test_data_that_does_not_fit_the_declared_model_is_a_bug_that_names_the_call(typed: TypedToy) -> None:
    with pytest.raises(
        ResultShapeError, match=r"typed\.sloppy: the result's data is not a RowList: title: Field required; rows: "
    ):
        await typed.invoke("sloppy", {"count": 1})


async def test_an_error_result_has_no_payload(typed: TypedToy) -> None:
    result = await typed.invoke("rows", {"count": -1})
    assert result.status == "error"
    with pytest.raises(ResultShapeError, match=r"typed\.rows returned 'error', which carries no RowList payload"):
        result.payload(RowList)
