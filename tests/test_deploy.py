"""The deployment files agree with the configuration they run (Docker is not available to build them here).

deploy/compose.yaml runs deploy/firstline.yaml: the Postgres the storage URL names, with the user and
database the service creates and the password variable the workers are given; the Chroma server the
knowledge settings name; the sandbox the tools point at; two workers on distinct published ports with
every secret variable their configuration names. The Dockerfile is multi-stage, installs the lock and
runs as a non-root user.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from firstline.config import FirstlineConfig, load_config

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def _config() -> FirstlineConfig:
    return load_config(DEPLOY / "firstline.yaml")


def _workers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if "serve" in s.get("command", [])}


def _mounted_config(service: dict[str, Any]) -> Path:
    """The host file mounted where the service's --config points."""
    command = service["command"]
    inside = command[command.index("--config") + 1]
    for volume in service.get("volumes", []):
        host, target, *_ = volume.split(":")
        if target == inside:
            return (DEPLOY / host).resolve()
    raise AssertionError(f"{inside} is not mounted: {service.get('volumes')}")


def _variable(value: str) -> str:
    match = re.fullmatch(r"\$\{(\w+)(:\?.*)?\}", value)
    assert match, f"{value!r} should come from the environment"
    return match.group(1)


def test_two_workers_serve_the_configuration_on_distinct_published_ports() -> None:
    compose = _compose()
    workers = _workers(compose)
    assert len(workers) >= 2
    ports = [int(s["command"][s["command"].index("--port") + 1]) for s in workers.values()]
    assert len(set(ports)) == len(ports)
    sandbox = compose["services"]["sandbox"]
    published = {int(p.split(":")[-1]) for p in sandbox["ports"]}
    for name, service in workers.items():
        assert _mounted_config(service) == DEPLOY / "firstline.yaml", name
        assert service["network_mode"] == "service:sandbox"  # they reach the sandbox on its loopback
    assert set(ports) <= published


def test_storage_url_names_the_postgres_service_with_its_user_database_and_password() -> None:
    compose, config = _compose(), _config()
    target = config.storage.postgres()
    assert target is not None and target.password_env
    url = urlsplit(target.url)
    postgres = compose["services"][url.hostname]
    assert postgres["image"].startswith("postgres:")
    env = postgres["environment"]
    assert (env["POSTGRES_USER"], env["POSTGRES_DB"]) == (url.username, url.path.lstrip("/"))
    assert url.port == 5432
    password_variable = _variable(env["POSTGRES_PASSWORD"])
    for name in [*_workers(compose), "migrate"]:
        service_env = compose["services"][name]["environment"]
        assert _variable(service_env[target.password_env]) == password_variable, name


def test_every_secret_variable_the_configuration_names_is_given_to_the_workers() -> None:
    compose, config = _compose(), _config()
    needed = {config.storage.password_env}
    for source in config.intake.sources.values():
        auth = source.auth.model_dump()
        needed |= {v for k, v in auth.items() if k.endswith("_env") and v}
    for name, service in _workers(compose).items():
        assert needed <= set(service["environment"]), (name, needed - set(service["environment"]))


def test_knowledge_and_tools_point_at_the_chroma_server_and_the_sandbox() -> None:
    compose, config = _compose(), _config()
    chroma = config.knowledge.chroma
    assert chroma.mode == "server" and compose["services"][chroma.host]["image"].startswith("chromadb/chroma:")
    assert chroma.port == 8000  # the Chroma image's port
    lock = (REPO / "requirements.lock").read_text()
    [version] = re.findall(r"^chromadb==(\S+)$", lock, flags=re.M)
    assert compose["services"][chroma.host]["image"] == f"chromadb/chroma:{version}"  # server and client agree
    sandbox = compose["services"]["sandbox"]["command"]
    port = int(sandbox[sandbox.index("--port") + 1])
    for name, tool in config.tools.items():
        base = urlsplit(tool["base_url"])
        assert (base.hostname, base.port) == ("127.0.0.1", port), name
    assert config.clock.url == f"http://127.0.0.1:{port}/_sim"


def test_the_dockerfile_is_multi_stage_non_root_and_installs_the_lock() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\w+))?", text, flags=re.M)
    assert len(stages) >= 2
    assert "-r requirements.lock" in text and "--no-deps ." in text
    [user] = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert user not in ("root", "0")
    assert re.search(r'^ENTRYPOINT \["firstline"\]', text, flags=re.M)
