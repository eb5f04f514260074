"""Terminal output: live progress lines, tables, and errors on stderr."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console as RichConsole
from rich.table import Table
from rich.text import Text

from agents.model_text import cut_at_word

ACTOR_STYLE = {
    "triage": "cyan",
    "investigation": "blue",
    "remediation": "magenta",
    "approval": "yellow",
    "human": "bold yellow",
    "execution": "green",
    "verification": "green",
    "communication": "white",
    "supervisor": "dim",
    "system": "dim",
}


def one_line(text: str, limit: int = 180) -> str:
    """The first line of ``text``, at most ``limit`` characters, cut at a word: what a terminal shows of a
    long observation (a commit diff, a log excerpt). The incident record keeps the whole text."""
    first, _, rest = text.strip().partition("\n")
    if len(first) > limit:
        return cut_at_word(first, limit)
    return first + ("…" if rest.strip() else "")


class Console:
    def __init__(self) -> None:
        self.out = RichConsole(highlight=False, soft_wrap=True)
        self.err = RichConsole(stderr=True, highlight=False, soft_wrap=True)

    @property
    def interactive(self) -> bool:
        return sys.stdin.isatty() and sys.stdout.isatty()

    def progress(self, actor: str, text: str) -> None:
        style = ACTOR_STYLE.get(actor, "white")
        self.out.print(Text.assemble((f"{actor:>13} ", style), one_line(text, 200)))

    def info(self, text: str) -> None:
        self.out.print(text, markup=False)

    def heading(self, text: str) -> None:
        self.out.print(Text.assemble("\n", (text, "bold")))

    def error(self, text: str) -> None:
        self.err.print(Text.assemble(("error: ", "bold red"), text))

    def warn(self, text: str) -> None:
        self.err.print(Text.assemble(("warning: ", "yellow"), text))

    def table(
        self, columns: list[str], rows: list[list[Any]], title: str | None = None, *, keep: tuple[str, ...] = ()
    ) -> None:
        """A table; the ``keep`` columns (ids a user must type) are never cut or wrapped, however narrow
        the terminal or when piped: the other columns fold instead."""
        table = Table(title=title, show_lines=False)
        for i, column in enumerate(columns):
            if column in keep:
                width = max([len(column), *(len(str(r[i])) for r in rows)])
                table.add_column(column, no_wrap=True, min_width=width, overflow="ignore")
            else:
                table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*[str(v) for v in row])
        self.out.print(table)

    def ask(self, prompt: str) -> str:
        return self.out.input(Text(prompt))
