"""Helpers shared by the CLI commands: config loading and data-dir checks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from groupware.cli import EXIT_USAGE, CliError, add_common_options
from groupware.config import Config, load_config


def command_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
                   help_text: str, description: str | None = None) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_text, description=description or help_text)
    add_common_options(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(args.config, data_dir=args.data_dir)


def ensure_data_dir(config: Config) -> Path:
    """Create the data dir (mode 0750) or fail with exit 2 if it cannot be written."""
    path = config.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o750)
    except OSError as exc:
        raise CliError(f"data directory {path}: cannot create it ({exc.strerror})",
                       EXIT_USAGE) from None
    if not path.is_dir():
        raise CliError(f"data directory {path}: not a directory", EXIT_USAGE)
    if not os.access(path, os.W_OK | os.X_OK):
        raise CliError(f"data directory {path}: not writable by this user", EXIT_USAGE)
    return path
