"""``groupware app-password add|list|revoke``: per-device passwords a user can revoke
without changing the main password (also for LDAP users)."""

from __future__ import annotations

import argparse
from typing import Any

from groupware.cli import EXIT_OK, EXIT_USAGE, CliError
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, find_user, run, say


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "app-password", "per-device passwords: add, list, revoke")
    asub = p.add_subparsers(dest="app_password_command", metavar="ACTION")
    asub.required = True
    a = command_parser(asub, "add", "create an app password and print it once")
    a.add_argument("user")
    a.add_argument("name", help="the device, e.g. 'phone' or 'thunderbird-laptop'")
    a.add_argument("--service", action="append", default=[], metavar="FEATURE",
                   help="restrict to these services (repeatable or comma list)")
    a.set_defaults(func=_add)
    ls = command_parser(asub, "list", "list a user's app passwords (never the secrets)")
    ls.add_argument("user")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    rv = command_parser(asub, "revoke", "delete an app password")
    rv.add_argument("user")
    rv.add_argument("name")
    rv.set_defaults(func=_revoke)


def _add(args: argparse.Namespace) -> int:
    from directory.model import parse_features

    try:
        services = parse_features(",".join(args.service))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None

    async def go(server: Any) -> tuple[Any, str]:
        user = await find_user(server, args.user)
        secret = await server.get_credential_store().create_app_password(
            user.user_id, args.name, services)
        return user, secret

    user, secret = run(args, go)
    say(f"app password {args.name!r} for {user.address}: {secret}")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    async def go(server: Any) -> list[dict[str, Any]]:
        user = await find_user(server, args.user)
        items = await server.get_credential_store().list_app_passwords(user.user_id)
        return [{**a.as_dict(), "user": user.address} for a in items]

    emit(run(args, go), args.json, ("name", "services", "created_at", "last_used_at"),
         title="app passwords")
    return EXIT_OK


def _revoke(args: argparse.Namespace) -> int:
    async def go(server: Any) -> Any:
        user = await find_user(server, args.user)
        await server.get_credential_store().revoke_app_password(user.user_id, args.name)
        return user

    user = run(args, go)
    say(f"revoked app password {args.name!r} of {user.address}")
    return EXIT_OK
