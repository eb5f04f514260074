"""Bad input at the command line: a clear message and the documented exit code, never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.approval import ApprovalRequest
from firstline.cli import main
from firstline.commands import EXIT_NEEDS_HUMAN, EXIT_USAGE, CommandError
from firstline.commands.incidents import terminal_decider
from firstline.console import Console

REPO = Path(__file__).resolve().parents[2]


def _request() -> ApprovalRequest:
    return ApprovalRequest(
        incident_id="inc-1",
        action_id="rollback-1",
        tool="kubernetes.rollout_undo",
        args={"name": "checkout"},
        title="Roll back checkout",
        rationale="bad deploy",
        risk="medium",
        blast_radius="service",
        undo="roll forward",
        policy_reason="walk",
        diagnosis="bad deploy",
        evidence=[],
        requested_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


class EndOfInput(Console):
    """A terminal whose user presses Ctrl-D at the given prompt (0: the approval, 1: the name)."""

    def __init__(self, at: int, answer: str = "y") -> None:
        super().__init__()
        self.at, self.answer, self.asked = at, answer, 0

    def ask(self, prompt: str) -> str:
        self.asked += 1
        if self.asked - 1 == self.at:
            raise EOFError
        return self.answer


def test_ctrl_d_at_the_approval_prompt_records_nothing_and_says_how_to_decide_later() -> None:
    with pytest.raises(CommandError) as caught:
        terminal_decider("prompt", EndOfInput(at=0))(_request())
    assert caught.value.exit_code == EXIT_NEEDS_HUMAN
    assert "firstline approve|reject inc-1 rollback-1" in str(caught.value)


def test_ctrl_d_at_the_name_prompt_records_the_os_user() -> None:
    import getpass

    answer = terminal_decider("prompt", EndOfInput(at=1))(_request())
    assert answer.decision == "approved" and answer.by == getpass.getuser()


@pytest.mark.parametrize("by", ["", "   "])
def test_an_empty_by_is_a_usage_error(by: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["approve", "inc-1", "rollback-1", "--by", by])
    assert exited.value.code == EXIT_USAGE
    assert "--by needs the name" in capsys.readouterr().err


def test_approving_an_unknown_incident_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"knowledge: {{catalog: {REPO / 'examples/catalog.yaml'}}}\n"
        f"storage: {{checkpoints: {tmp_path / 'c.sqlite'}, ledger: {tmp_path / 'l.sqlite'}, incidents: {tmp_path / 'i.sqlite'}}}\n"
        # --by is accepted only where the configuration says so (approvals.cli_identity).
        f"approvals: {{database: {tmp_path / 'a.sqlite'}, cli_identity: [by]}}\n"
    )
    code = main(["--config", str(config), "approve", "inc-nope", "rollback-1", "--by", "ann"])
    assert code == EXIT_USAGE
    assert "no incident 'inc-nope'" in capsys.readouterr().err


def test_approving_with_by_where_the_configuration_does_not_allow_it_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        f"knowledge: {{catalog: {REPO / 'examples/catalog.yaml'}}}\n"
        f"storage: {{checkpoints: {tmp_path / 'c.sqlite'}, ledger: {tmp_path / 'l.sqlite'}, incidents: {tmp_path / 'i.sqlite'}}}\n"
        f"approvals: {{database: {tmp_path / 'a.sqlite'}}}\n"
    )
    code = main(["--config", str(config), "approve", "inc-nope", "rollback-1", "--by", "ann"])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "cannot tell who is deciding" in err and "--by is not accepted" in err


@pytest.mark.parametrize("name", ["../../../../etc/passwd", "/etc/hostname", "checkout migration"])
def test_a_scenario_name_is_never_read_as_an_arbitrary_file(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["sandbox", "run", name])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "neither a library scenario name" in err and "root:" not in err
