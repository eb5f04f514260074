"""Every shell block of the README works when pasted whole.

Each ```sh block runs with `bash -e` in a scratch folder that looks like a fresh clone's root (the
virtualenv, the examples, the test fixtures and config.yaml linked or copied in), against the real
commands: the sandbox, serve, the demo. Blocks that are reference lists with placeholders are marked
```text in the README and are not run. The two `make` blocks are what CI itself runs (`make test`
running itself would recurse), so they are left to CI.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the demo, the sandbox and serve as a user would

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```(?:sh|bash|shell)\n(.*?)```", re.S)
RUN_BY_CI = re.compile(r"^\s*make (demo|test|test-fast|lint)\b", re.M)


def shell_blocks() -> list[tuple[int, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 1, m.group(1)) for m in BLOCK.finditer(text)]


def test_the_readme_has_runnable_blocks() -> None:
    runnable = [b for b in shell_blocks() if not RUN_BY_CI.search(b[1])]
    assert len(runnable) >= 4


@pytest.mark.parametrize(
    ("line", "block"), [b for b in shell_blocks() if not RUN_BY_CI.search(b[1])], ids=lambda v: str(v)
)
def test_a_readme_shell_block_runs_when_pasted_whole(tmp_path: Path, line: int, block: str) -> None:
    missing = [tool for tool in ("curl", "python3") if re.search(rf"\b{tool}\b", block) and shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"README block at line {line} uses {', '.join(missing)}, not installed here (.ci/run installs curl)"
        )
    for name in (".venv", "examples", "tests", "evals", "docs"):
        (tmp_path / name).symlink_to(REPO / name)
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")  # its relative state paths land in tmp_path
    script = "set -e\n" + block + "\nwait 2>/dev/null || true\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, (
        f"README block at line {line} failed:\n{block}\n--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )
    assert not (REPO / "sim-state").exists()
