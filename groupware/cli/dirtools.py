"""Helpers of the directory commands (domain, user, group, contact, app-password, import).

Each command builds a :class:`GroupwareServer` from the configuration, checks the schema,
runs one coroutine against ``server.get_directory()`` / ``server.get_auth()`` and closes
everything again. Directory errors become one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from groupware.cli import EXIT_USAGE, CliError
from groupware.cli.common import config_from_args, ensure_data_dir
from groupware.errors import NotFound

T = TypeVar("T")


def run(args: argparse.Namespace, fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run ``fn(server)`` with a fully configured server (no listeners)."""
    from groupware.clock import Clock
    from groupware.server import GroupwareServer

    config = config_from_args(args)
    if not config.database.url:
        ensure_data_dir(config)
    server = GroupwareServer(config, Clock())

    async def _main() -> T:
        try:
            return await fn(server)
        finally:
            directory = server._components.get("get_directory")
            if directory is not None:
                await directory.close()

    try:
        server.check_schema()
        return asyncio.run(_main())
    finally:
        server.close()


def sql_directory(server: Any) -> Any:
    """The SQL directory, or a clear error when the configured one is read-only."""
    directory = server.get_directory()
    if not directory.writable:
        raise CliError(f"the {directory.name} directory is managed in its own server; "
                       "this command changes the SQL directory only", EXIT_USAGE)
    return directory


async def find_user(server: Any, ref: str) -> Any:
    """A mailbox owner given as login name, address or ``user:<id>``."""
    directory = server.get_directory()
    user = await directory.get(ref) if ref.startswith("user:") else None
    if user is None:
        user = await directory.find_address(ref) if "@" in ref else None
    if user is None:
        user = await directory.resolve_login(ref)
    if user is None or user.user_id is None:
        raise NotFound(f"no user {ref!r}")
    return user


def read_new_password(args: argparse.Namespace, *, required: bool = True) -> str | None:
    """``--password-stdin`` (first line), ``--password``, an interactive prompt, or None."""
    if getattr(args, "password_stdin", False):
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if getattr(args, "password", None):
        return str(args.password)
    if not required:
        return None
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat it: "):
            raise CliError("the passwords differ")
        return first
    raise CliError("give the password with --password-stdin", EXIT_USAGE)


def add_password_options(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("--password-stdin", action="store_true",
                   help="read the password from the first line of standard input")
    g.add_argument("--password", help="the password (visible to other local users in ps)")


def emit(data: Any, as_json: bool, columns: Sequence[str] | None = None,
         title: str | None = None) -> None:
    """Print ``data`` (a dict or a list of dicts) as JSON or as a table / key list."""
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False, default=str))  # noqa: T201
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, soft_wrap=True)
    if isinstance(data, dict):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {_cell(value)}")  # noqa: T201
        return
    table = Table(title=title, title_justify="left")
    cols = list(columns or (data[0].keys() if data else []))
    for col in cols:
        table.add_column(col)
    for row in data:
        table.add_row(*(_cell(row.get(c)) for c in cols))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in value)
    return str(value)


def say(text: str) -> None:
    print(text)  # noqa: T201
