"""config.yaml is validated in full at load, each package's section by the package's own model."""

from __future__ import annotations

from pathlib import Path

import pytest

from firstline.config import ConfigError, load_config, parse_config
from knowledge.service import KnowledgeSettings


def test_chroma_ssl_which_the_store_supports_is_accepted() -> None:
    config = parse_config({"knowledge": {"chroma": {"mode": "server", "host": "chroma.internal", "ssl": True}}})
    assert config.knowledge.chroma.ssl is True
    assert config.knowledge.chroma.describe().startswith("Chroma server https://chroma.internal:")


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ({"chroma": {"collection": "x"}}, "knowledge.chroma.collection"),  # too short for Chroma
        ({"chroma": {"collection": "bad name!"}}, "knowledge.chroma.collection"),
        ({"embedder": {"kind": "word2vec"}}, "knowledge.embedder.kind"),
        ({"embedder": {"kind": "hashing", "dimensions": 8}}, "knowledge.embedder.dimensions"),
        ({"chroma": {"port": 0}}, "knowledge.chroma.port"),
        ({"catalogue": "x.yaml"}, "knowledge.catalogue"),
    ],
)
def test_a_bad_knowledge_setting_is_refused_at_load_naming_file_and_field(
    tmp_path: Path, section: dict[str, object], field: str
) -> None:
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"knowledge": section}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_knowledge_paths_resolve_against_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "config.yaml"
    path.parent.mkdir()
    path.write_text("knowledge: {catalog: cat.yaml, paths: [docs], chroma: {path: state/chroma}}\n")
    knowledge = load_config(path).knowledge
    assert isinstance(knowledge, KnowledgeSettings)
    assert knowledge.catalog == path.parent / "cat.yaml"
    assert knowledge.paths == [path.parent / "docs"]
    assert knowledge.chroma.path == path.parent / "state" / "chroma"


def test_a_misspelt_tool_setting_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("tools:\n  prometheus:\n    base_url: http://127.0.0.1:9090\n    timeout_secs: 5\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(path) in str(caught.value)
    assert "tools.prometheus" in str(caught.value) and "timeout_secs" in str(caught.value)


def test_an_unknown_tool_kind_is_refused_at_load() -> None:
    with pytest.raises(ConfigError, match=r"tools\.metrics\.kind: unknown integration 'promethius'"):
        parse_config({"tools": {"metrics": {"kind": "promethius", "base_url": "http://x"}}})
