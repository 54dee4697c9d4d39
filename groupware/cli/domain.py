"""``groupware domain add|list|remove``: the mail domains of the SQL directory."""

from __future__ import annotations

import argparse
from typing import Any

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, run, say, sql_directory


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "domain", "mail domains: add, list, remove")
    dsub = p.add_subparsers(dest="domain_command", metavar="ACTION")
    dsub.required = True
    a = command_parser(dsub, "add", "serve a new mail domain")
    a.add_argument("name")
    a.set_defaults(func=_add)
    ls = command_parser(dsub, "list", "list domains with their user and group counts")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    rm = command_parser(dsub, "remove", "stop serving an empty domain")
    rm.add_argument("name")
    rm.set_defaults(func=_remove)


def _add(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> str:
        return str(await sql_directory(server).write("domain_add", sql.add_domain_txn,
                                                     args.name))

    say(f"added domain {run(args, go)}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> list[dict[str, Any]]:
        directory = server.get_directory()
        if directory.writable:
            rows: list[dict[str, Any]] = await directory.write("domain_list",
                                                               sql.list_domains_txn)
            return rows
        return [{"name": d} for d in await directory.domains()]

    emit(run(args, go), args.json, title="domains")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> None:
        await sql_directory(server).write("domain_remove", sql.remove_domain_txn, args.name)

    run(args, go)
    say(f"removed domain {args.name.lower()}")
    return EXIT_OK
