"""Command handlers, one module per command group. Each module has `register(sub)`, which adds its
subcommands to the parser and returns {"command [subcommand]": handler}.

Shared here: exit codes, `CommandError`, `add_common` (--config and -v on every command), loading the
configuration, writing JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from firstline.config import ConfigError, FirstlineConfig, load_config

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NEEDS_HUMAN = 0, 1, 2, 3
REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def add_common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """--config and -v, accepted before or after the command. Only the top level sets defaults, so a
    value given before the command is not overwritten by a subcommand's default."""
    config_default: object = Path("config.yaml") if top else argparse.SUPPRESS
    verbose_default: object = 0 if top else argparse.SUPPRESS
    parser.add_argument(
        "--config", type=Path, default=config_default, help="configuration file (default: ./config.yaml)"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=verbose_default,
        help="log tool calls and steps to stderr (-vv for debug)",
    )


def load(args: argparse.Namespace, *, required: bool = True, check_tools: bool = True) -> FirstlineConfig:
    """The configuration, with --reasoner applied. Without a file, defaults only if not required.

    ``check_tools=False`` for the commands that diagnose the tool instances themselves (see `load_config`).
    """
    path: Path = args.config
    if not path.exists() and not required:
        config = FirstlineConfig().resolve_paths(REPO_ROOT)
    else:
        try:
            config = load_config(path, check_tools=check_tools)
        except ConfigError as exc:
            raise CommandError(str(exc), EXIT_USAGE) from exc
    if getattr(args, "reasoner", None):
        config = config.model_copy(update={"reasoner": args.reasoner})
    return config


def write_json(path: Path, data: Any) -> None:
    """Write JSON to ``path``, or to stdout when the path is ``-``."""
    text = json.dumps(data, indent=2, default=str)
    if str(path) == "-":
        sys.stdout.write(text + "\n")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
