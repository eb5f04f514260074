"""Plugins through a real entry point: the example package in tests/plugins/firstline-example-plugin is
built and installed with pip into a temporary directory (never into the project's environment), and
firstline finds it with no change to firstline: `available_kinds()`, `firstline tools list`, a
registry built from configuration, the approval guard. A plugin whose mutating call lacks safety
metadata is refused at start-up."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx

from firstline.cli import main
from tests.tools.conftest import TOKEN, TOKEN_ENV, grant_for
from tools.base import AdapterDefinitionError
from tools.checks import check_adapter
from tools.ledger import ActionLedger
from tools.registry import ToolRegistry, available_kinds, kind_origin

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCE = REPO / "tests" / "plugins" / "firstline-example-plugin"
BASE = "https://healthchecks.test"
UUID = "5bf1e3b7-0f2c-4a8e-9d6b-1c2d3e4f5a6b"
CHECKS = {
    "checks": [
        {
            "name": "nightly-backup",
            "tags": "prod db",
            "status": "down",
            "last_ping": "2026-11-19T02:00:00+00:00",
            "uuid": UUID,
        },
        {"name": "invoice-cron", "tags": "prod", "status": "up", "last_ping": "2026-11-20T19:00:00+00:00"},
    ]
}


@pytest.fixture(scope="session")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin built and installed by pip into its own directory (offline, no build isolation)."""
    root = tmp_path_factory.mktemp("plugin")
    source = root / "source"
    shutil.copytree(PLUGIN_SOURCE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(site),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return site


@pytest.fixture
def plugin_installed(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin importable and its entry point visible for one test."""
    monkeypatch.syspath_prepend(str(plugin_site))
    importlib.invalidate_caches()
    yield plugin_site
    for name in [m for m in sys.modules if m.startswith("firstline_example_plugin")]:
        del sys.modules[name]


def test_the_plugin_is_not_installed_in_the_project_environment() -> None:
    # Otherwise the tests below could pass without the temporary install being what firstline found.
    assert "healthchecks" not in available_kinds(), "uninstall firstline-example-plugin from this environment"


@pytest.mark.slow
def test_an_installed_plugin_is_an_available_kind(plugin_installed: Path) -> None:
    kinds = available_kinds()
    cls = kinds["healthchecks"]
    assert cls.__module__ == "firstline_example_plugin.adapter"
    assert Path(sys.modules[cls.__module__].__file__ or "").is_relative_to(plugin_installed)
    assert set(cls.calls) == {"list_checks", "pause_check", "resume_check"}
    assert kind_origin(cls) == "plugin firstline-example-plugin 0.1.0"
    assert "healthchecks" not in available_kinds(include_plugins=False)


async def test_a_registry_from_config_calls_the_plugin_with_the_sdk_rules(
    plugin_installed: Path, monkeypatch: pytest.MonkeyPatch, ledger: ActionLedger
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    registry = ToolRegistry.from_config(
        {"hc": {"kind": "healthchecks", "base_url": BASE, "token_env": TOKEN_ENV, "max_retries": 0}}
    )
    adapter = registry.adapters["hc"]
    try:
        # What the LLM reasoner offers the model: read-only calls, with the input model's schema.
        read_only = {t.tool for t in registry.list_tools() if not t.mutating}
        assert read_only == {"hc.list_checks"}
        schema = registry.resolve("hc.list_checks")[1].input_model.model_json_schema()
        assert schema["properties"]["tag"]["description"] == "Only checks with this tag, e.g. prod."

        with respx.mock(base_url=BASE) as mock:
            listing = mock.get("/api/v3/checks/").respond(200, json=CHECKS)
            pause = mock.post(f"/api/v3/checks/{UUID}/pause").respond(
                200, json={**CHECKS["checks"][0], "status": "paused"}
            )
            listed = await registry.invoke("hc.list_checks", {"tag": "prod"})
            refused = await registry.invoke("hc.pause_check", {"uuid": UUID})
            assert not pause.called
            paused = await registry.invoke(
                "hc.pause_check", {"uuid": UUID}, grant=grant_for(ledger, adapter, "pause_check", {"uuid": UUID})
            )
            checked = await check_adapter(adapter)
        request = listing.calls[0].request
        assert request.headers["X-Api-Key"] == TOKEN and dict(request.url.params) == {"tag": "prod"}
        assert listed.status == "ok" and listed.summary == "2 checks, 1 down: nightly-backup"
        assert refused.status == "approval_required"
        assert paused.status == "ok" and paused.summary == "check 'nightly-backup' is now paused"
        assert checked.status == "ok" and checked.detail == "Healthchecks.io API: 2 checks visible"

        with respx.mock(base_url=BASE) as mock:
            mock.get("/api/v3/checks/").respond(401, json={"error": f"wrong api key {TOKEN}"})
            failed = await registry.invoke("hc.list_checks", {})
        assert failed.error is not None and failed.error.message == (
            "GET /api/v3/checks/ returned HTTP 401: Healthchecks.io: wrong api key ***"
        )
    finally:
        await registry.aclose()


@pytest.mark.slow
def test_tools_list_shows_the_plugin_from_another_process(plugin_site: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"tools:\n  hc: {{kind: healthchecks, base_url: {BASE}, token_env: FIRSTLINE_TEST_UNSET_KEY}}\n")
    env = {k: v for k, v in os.environ.items() if k != "FIRSTLINE_TEST_UNSET_KEY"}
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    result = subprocess.run(
        [sys.executable, "-m", "firstline.cli", "--config", str(config), "tools", "list", "--json"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    integration = next(i for i in listed["integrations"] if i["kind"] == "healthchecks")
    assert integration["origin"] == "plugin firstline-example-plugin 0.1.0"
    assert integration["configured_as"] == ["hc"]
    [instance] = listed["instances"]
    calls = {c["call"]: c for c in instance["calls"]}
    assert calls["pause_check"]["mutating"] and calls["pause_check"]["declared_tier"] == "approve"
    assert (
        calls["pause_check"]["policy_tier"] == "approve"
        and calls["pause_check"]["undo"] == "resume_check with the same uuid"
    )
    assert instance["problems"] == ["FIRSTLINE_TEST_UNSET_KEY (tools.hc.token_env) is not set"]


BROKEN_MODULE = """
from typing import ClassVar
from pydantic import BaseModel
from tools.base import Adapter, SafetyMetadata, ToolResult, tool_call

class Args(BaseModel):
    name: str

class CarelessAdapter(Adapter):
    kind: ClassVar[str] = "careless"

    @tool_call(description="Delete a thing.", safety=SafetyMetadata(mutating=True, approval_tier="approve"))
    async def delete(self, args: Args) -> ToolResult:
        raise AssertionError("never runs")
"""


@pytest.fixture
def broken_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed distribution (dist-info with an entry point) whose mutating call has no reversibility."""
    site = tmp_path / "site"
    (site / "careless_plugin").mkdir(parents=True)
    (site / "careless_plugin" / "__init__.py").write_text(BROKEN_MODULE)
    dist = site / "careless_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: careless-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[firstline.tools]\ncareless = careless_plugin:CarelessAdapter\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop("careless_plugin", None)


def test_a_plugin_mutating_call_without_safety_metadata_is_refused_at_start_up(broken_plugin: Path) -> None:
    with pytest.raises(AdapterDefinitionError) as raised:
        available_kinds()
    message = str(raised.value)
    assert message.startswith(
        "plugin careless_plugin:CarelessAdapter (entry point 'careless' in package careless-plugin 1.0) cannot be loaded"
    )
    assert "a mutating call must declare reversible in its safety metadata" in message


def test_the_cli_refuses_to_start_with_it(broken_plugin: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tools", "list"]) == 2
    assert "entry point 'careless' in package careless-plugin 1.0" in capsys.readouterr().err


@pytest.mark.model_mocked
async def test_the_llm_reasoner_calls_the_plugin_as_a_tool(
    plugin_installed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The model sees the plugin's read-only call with its schema, calls it, and cites what it returned."""
    from datetime import UTC, datetime

    import httpx
    from langchain_openai import ChatOpenAI

    from agents.context import AgentContext
    from agents.evidence import EvidenceBundle
    from agents.reasoners.deterministic import DeterministicReasoner
    from agents.reasoners.llm import LLMReasoner
    from agents.settings import WorkflowSettings
    from agents.state import Alert, Evidence
    from knowledge.catalog import ServiceCatalog
    from tools.policy import ApprovalPolicy

    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    registry = ToolRegistry.from_config({"hc": {"kind": "healthchecks", "base_url": BASE, "token_env": TOKEN_ENV}})
    ledger = ActionLedger(tmp_path / "l.sqlite")
    ctx = AgentContext(
        registry=registry,
        ledger=ledger,
        policy=ApprovalPolicy(),
        catalog=ServiceCatalog(),
        reasoner=DeterministicReasoner(),
        fallback=DeterministicReasoner(),
        settings=WorkflowSettings(),
    )
    alert = Alert(
        fingerprint="f",
        name="BackupMissing",
        title="nightly backup missing",
        service="db",
        started_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    bundle = EvidenceBundle(
        service="db",
        alert=alert,
        evidence=[
            Evidence(id="r0-e1", source="prometheus.query", query="up", observation="db up"),
        ],
    )
    diagnosis = {
        "root_cause": "the nightly backup job stopped pinging",
        "category": "crash",
        "entity": "db",
        "confidence": 0.6,
        "evidence_ids": ["llm-e1"],
        "ruled_out": [],
    }

    def completion(name: str, arguments: dict[str, object], call_id: str) -> httpx.Response:
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}
        return httpx.Response(
            200,
            json={
                "id": "c",
                "object": "chat.completion",
                "created": 1,
                "model": "local",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "tool_calls",
                        "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            },
        )

    model = ChatOpenAI(model="local", base_url="http://llm.test/v1", api_key="x", max_retries=0, timeout=5)  # type: ignore[arg-type]
    try:
        with respx.mock() as mock:
            llm = mock.post("http://llm.test/v1/chat/completions").mock(
                side_effect=[
                    completion("hc__list_checks", {"tag": "prod"}, "call_1"),
                    completion("submit_diagnosis", diagnosis, "call_2"),
                ]
            )
            checks = mock.get(f"{BASE}/api/v3/checks/").respond(200, json=CHECKS)
            reasoned = await LLMReasoner(model, max_tool_rounds=3).diagnose(bundle, ctx)
            result, gathered = reasoned.answer, reasoned.gathered
        offered = {t["function"]["name"]: t["function"] for t in json.loads(llm.calls[0].request.content)["tools"]}
        assert "hc__list_checks" in offered and "hc__pause_check" not in offered  # mutating calls are never offered
        assert (
            offered["hc__list_checks"]["parameters"]["properties"]["tag"]["description"]
            == "Only checks with this tag, e.g. prod."
        )
        assert checks.calls.last.request.url.params["tag"] == "prod"
        assert gathered[0].source == "hc.list_checks" and "nightly-backup" in gathered[0].observation
        assert [e.id for e in result.evidence] == ["llm-e1"]
    finally:
        ledger.close()
        await registry.aclose()
