from pathlib import Path

import pytest

from firstline.cli import main


def test_bench_petshop_names_a_bad_dataset_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["bench", "petshop", str(missing), "--out", str(tmp_path / "out"), "--inject", "0"]) == 2
    assert "nope" in capsys.readouterr().err


def test_bench_petshop_help_explains_the_outputs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "petshop", "--help"])
    out = capsys.readouterr().out
    assert "ac1" in out and "specificity" in out


def test_bench_petshop_offers_the_investigation_method_and_refuses_others(capsys: pytest.CaptureFixture[str]) -> None:
    from evals.benchmarks.petshop.method import METHODS, MethodSettings
    from firstline.commands.bench import DEFAULT_METHOD
    from firstline.commands.bench import METHODS as CLI_METHODS

    assert CLI_METHODS == METHODS and DEFAULT_METHOD == MethodSettings().method
    with pytest.raises(SystemExit):
        main(["bench", "petshop", "--help"])
    assert "investigation" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "petshop", "somewhere", "--method", "guess"])
    assert exit_info.value.code == 2
    assert "guess" in capsys.readouterr().err


def test_bench_nezha_names_a_bad_dataset_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert main(["bench", "nezha", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert "nope" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_bench_nezha_help_names_the_metrics_and_the_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "nezha", "--help"])
    out = capsys.readouterr().out
    assert "as1" in out and "replay" in out and "--rank-by" in out
