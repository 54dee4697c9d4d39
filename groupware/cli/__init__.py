"""The ``groupware`` command line.

Each sub-command lives in its own module exposing ``register(subparsers)``; they are
listed in :data:`COMMAND_MODULES`. Exit status: 0 success, 1 the operation failed,
2 wrong usage or environment (bad config, port in use, data dir not writable, old
schema) — always with one line on stderr saying what and where, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from groupware import __version__
from groupware.errors import ConfigError, GroupwareError, SchemaOutdated

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

COMMAND_MODULES = [
    "groupware.cli.serve",
    "groupware.cli.init",
    "groupware.cli.db",
    "groupware.cli.check_config",
    "groupware.cli.domain",
    "groupware.cli.user",
    "groupware.cli.group",
    "groupware.cli.app_password",
    "groupware.cli.importer",
    "groupware.cli.auth",
    "groupware.cli.mailbox",
    "groupware.cli.queue",
    "groupware.cli.device",
]


class CliError(GroupwareError):
    """A failure to report as one line with a chosen exit status."""

    def __init__(self, message: str, exit_status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="groupware",
        description="Groupware server: Outlook, ActiveSync, IMAP, POP3, SMTP and XMPP "
        "over one store. Run `groupware init` once, then `groupware serve`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"groupware {__version__}")
    add_common_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every command accepts (before or after the command name)."""
    parser.add_argument(
        "-c", "--config", type=Path, default=argparse.SUPPRESS,
        help="configuration file (default: $GROUPWARE_CONFIG, else built-in defaults)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS,
        help="data directory (overrides [server] data_dir; default ./var)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for opt in ("config", "data_dir"):
        if not hasattr(args, opt):
            setattr(args, opt, None)
    try:
        status: int = args.func(args)
        return status
    except ConfigError as exc:
        print(f"groupware: configuration error: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except SchemaOutdated as exc:
        print(f"groupware: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    except CliError as exc:
        print(f"groupware: {exc}", file=sys.stderr)  # noqa: T201
        return exc.exit_status
    except GroupwareError as exc:
        print(f"groupware: {exc}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


def run() -> None:
    """Entry point of the console script."""
    sys.exit(main())
