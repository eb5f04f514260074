from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from firstline.cli import main
from firstline.config import ConfigError, parse_config
from storage.target import PostgresTarget


def _config(tmp_path: Path, postgres: PostgresTarget) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"url": postgres.url, "password_env": postgres.password_env}}))
    return path


def test_db_status_then_migrate_then_status(
    postgres: PostgresTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, postgres)
    assert main(["--config", str(config), "db", "status", "--json"]) == 1  # pending migrations
    before = json.loads(capsys.readouterr().out)
    assert before["current"] == 0 and before["pending"]
    assert main(["--config", str(config), "db", "migrate", "--json"]) == 0
    applied = json.loads(capsys.readouterr().out)
    assert applied["applied_now"] == [m["version"] for m in before["pending"]]
    assert main(["--config", str(config), "db", "status"]) == 0
    out = capsys.readouterr().out
    assert f"schema at version {applied['latest']}" in out and "pending" not in out
    assert main(["--config", str(config), "db", "migrate"]) == 0
    assert "nothing to apply" in capsys.readouterr().out


def test_db_commands_without_storage_url_explain_sqlite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("reasoner: deterministic\n")
    assert main(["--config", str(config), "db", "migrate"]) == 2
    assert "storage.url is not set" in capsys.readouterr().err


def test_db_migrate_with_a_wrong_password_names_the_server_not_the_secret(
    postgres: PostgresTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert postgres.password_env is not None
    monkeypatch.setenv(postgres.password_env, "wrong-horse-battery")
    assert main(["--config", str(_config(tmp_path, postgres)), "db", "migrate"]) == 1
    captured = capsys.readouterr()
    assert "cannot connect to postgresql://firstline@" in captured.err
    assert "wrong-horse-battery" not in captured.out + captured.err


def test_storage_url_is_validated_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"storage": {"url": "postgresql://u:topsecret99@db/x"}})
    assert "storage.url" in str(caught.value) or "storage" in str(caught.value)
    assert "topsecret99" not in str(caught.value)
    with pytest.raises(ConfigError, match="password_env: set only with storage.url"):
        parse_config({"storage": {"password_env": "PGPASSWORD"}})
    config = parse_config({"storage": {"url": "postgresql://firstline@db:5432/firstline", "password_env": "PW"}})
    target = config.storage.postgres()
    assert target is not None and config.storage.where(Path("x.sqlite")) == target
    assert parse_config({}).storage.where(Path("x.sqlite")) == Path("x.sqlite")
