from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from firstline.cli import main
from storage.target import PostgresTarget


def test_bench_scale_refuses_bad_worker_counts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "scale", "--workers", "1,two", "--out", str(tmp_path)]) == 2
    assert "--workers" in capsys.readouterr().err
    assert main(["bench", "scale", "--workers", "0", "--out", str(tmp_path)]) == 2


def test_bench_scale_needs_a_postgres(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("reasoner: deterministic\n")
    assert main(["--config", str(config), "bench", "scale", "--out", str(tmp_path)]) == 2
    assert "storage.url" in capsys.readouterr().err


@pytest.mark.slow
def test_bench_scale_measures_every_configuration(
    postgres: PostgresTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"storage": {"url": postgres.url, "password_env": postgres.password_env}}))
    out = tmp_path / "out"
    argv = ["--config", str(config), "bench", "scale", "--workers", "1,2", "--alerts", "600", "--incidents", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert [(r["store"], r["workers"]) for r in results["runs"]] == [("sqlite", 1), ("postgres", 1), ("postgres", 2)]
    for run in results["runs"]:
        assert run["accept_deliveries_per_second"] > 0 and run["correlate"]["alerts_per_second"] > 0
        assert run["investigate"]["statuses"] == ["awaiting_approval"]  # each incident reached the gate
        assert len(run["investigate"]["peak_rss_mb_per_worker"]) == run["workers"]
        assert all(mb > 20 for mb in run["correlate"]["peak_rss_mb_per_worker"])
    assert "postgres x2" in capsys.readouterr().out
