"""``groupware user ...``: users and resources (rooms, equipment) of the SQL directory.

``list`` and ``show`` also work with the LDAP directory (read-only there).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from groupware.cli import EXIT_OK, EXIT_USAGE, CliError
from groupware.cli.common import command_parser
from groupware.cli.dirtools import (
    add_password_options,
    emit,
    find_user,
    read_new_password,
    run,
    say,
    sql_directory,
)

ATTRS = ("given_name", "surname", "title", "department", "office", "company", "phone",
         "mobile", "description")
LIST_COLUMNS = ("address", "display_name", "kind", "enabled", "disabled_features", "aliases")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "user", "users and resources: add, list, show, passwd, disable, "
                       "enable, features, set, alias, remove")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True

    a = command_parser(usub, "add", "create a user (or a room / equipment mailbox)")
    a.add_argument("address", help="primary address, e.g. alice@example.test")
    a.add_argument("--name", default="", help="display name")
    a.add_argument("--kind", choices=("user", "room", "equipment"), default="user")
    a.add_argument("--alias", action="append", default=[], help="extra address (repeatable)")
    a.add_argument("--disable-feature", action="append", default=[], metavar="FEATURE",
                   help="imap pop3 smtp mobile outlook chat dav (repeatable or comma list)")
    a.add_argument("--random-password", action="store_true",
                   help="generate a password and print it once")
    a.add_argument("--no-password", action="store_true",
                   help="create without a password (resources; users get app passwords)")
    add_password_options(a)
    _attr_options(a)
    a.add_argument("--admin", action="store_true", help="administrator")
    a.add_argument("--locale", default="en",
                   help="language of the mailbox's folder names: en, de, fr, es")
    a.add_argument("--no-mailbox", action="store_true",
                   help="do not create the mailbox now (`groupware mailbox provision` or "
                        "the first login or delivery does)")
    a.set_defaults(func=_add)

    ls = command_parser(usub, "list", "list users and resources")
    ls.add_argument("--domain", help="only this domain")
    ls.add_argument("--kind", choices=("user", "room", "equipment"))
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)

    sh = command_parser(usub, "show", "every attribute of one user")
    sh.add_argument("user", help="address, login name or user:<id>")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=_show)

    pw = command_parser(usub, "passwd", "set a user's password")
    pw.add_argument("user")
    add_password_options(pw)
    pw.set_defaults(func=_passwd)

    for name, enabled in (("disable", False), ("enable", True)):
        c = command_parser(usub, name, f"{name} logins of a user (mail is still accepted)")
        c.add_argument("user")
        c.set_defaults(func=_set_enabled, enabled=enabled)

    f = command_parser(usub, "features", "show or change the features a user may use")
    f.add_argument("user")
    f.add_argument("--enable", action="append", default=[], metavar="FEATURE")
    f.add_argument("--disable", action="append", default=[], metavar="FEATURE")
    f.add_argument("--json", action="store_true", help="machine-readable output")
    f.set_defaults(func=_features)

    s = command_parser(usub, "set", "change attributes (names, phones, quota, photo ...)")
    s.add_argument("user")
    s.add_argument("--name", help="display name")
    _attr_options(s)
    s.add_argument("--photo", type=Path, help="JPEG or PNG file; empty string removes it")
    s.add_argument("--no-photo", action="store_true", help="remove the photo")
    s.add_argument("--admin", choices=("yes", "no"))
    s.set_defaults(func=_set)

    al = command_parser(usub, "alias", "add or remove alias addresses")
    al.add_argument("user")
    al.add_argument("--add", action="append", default=[], metavar="ADDRESS")
    al.add_argument("--remove", action="append", default=[], metavar="ADDRESS")
    al.set_defaults(func=_alias)

    rm = command_parser(usub, "remove", "delete a user and its aliases and app passwords")
    rm.add_argument("user")
    rm.set_defaults(func=_remove)


def _attr_options(p: argparse.ArgumentParser) -> None:
    for attr in ATTRS:
        p.add_argument(f"--{attr.replace('_', '-')}", dest=attr)
    p.add_argument("--manager", help="the manager's address")
    p.add_argument("--quota", type=int, metavar="MiB", help="mailbox quota; 0 = default")
    p.add_argument("--capacity", type=int, help="seats of a room")
    p.add_argument("--hidden", choices=("yes", "no"), help="hide from the address book")


def _attrs(args: argparse.Namespace) -> dict[str, Any]:
    return {a: getattr(args, a) for a in ATTRS if getattr(args, a, None) is not None}


def _features_arg(values: list[str]) -> Any:
    from directory.model import parse_features

    try:
        return parse_features(",".join(values))
    except ValueError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _quota(args: argparse.Namespace) -> int | None:
    if args.quota is None or args.quota == 0:
        return None
    if args.quota < 0:
        raise CliError("--quota must not be negative", EXIT_USAGE)
    return int(args.quota) * 1024 * 1024


def _add(args: argparse.Namespace) -> int:
    from directory import sql
    from directory.model import RecipientKind
    from groupware.passwords import generate_password

    disabled = _features_arg(args.disable_feature)
    if args.random_password:
        password: str | None = generate_password()
    elif args.no_password or args.kind != "user":
        password = read_new_password(args, required=False)
    else:
        password = read_new_password(args)

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        user = await directory.write(
            "user_add", sql.add_user_txn, directory.settings, args.address,
            display_name=args.name, kind=RecipientKind(args.kind), aliases=args.alias,
            disabled_features=disabled, quota=_quota(args), is_admin=args.admin,
            capacity=args.capacity, hidden=args.hidden == "yes", manager=args.manager,
            attrs=_attrs(args))
        if password is not None:
            await server.get_auth().set_password(user, password)
        mailbox = None if args.no_mailbox else await _provision(server, user, args.locale)
        return user, mailbox

    user, mailbox = run(args, go)
    say(f"added {user.kind.value} {user.address} ({user.id})")
    if mailbox is not None:
        say(f"  mailbox: {mailbox}")
    if args.random_password:
        say(f"  password: {password}")
    return EXIT_OK


async def _provision(server: Any, user: Any, locale: str) -> str | None:
    """Create the new user's mailbox now (the mail gateways would on first use), so
    the first login or delivery does not pay for it. A store that cannot do it yet
    (a backend path not there) is reported, not fatal: the user exists."""
    from groupware.errors import GroupwareError

    if not user.is_mailbox or user.user_id is None:
        return None
    try:
        store_id = await server.get_mail_store().provision(user, locale)
    except GroupwareError as exc:
        return f"not created yet ({exc}); it will be on first use"
    return f"store {store_id}"


def _list(args: argparse.Namespace) -> int:
    from directory.model import MAILBOX_KINDS, RecipientKind

    kinds = [RecipientKind(args.kind)] if args.kind else list(MAILBOX_KINDS)

    async def go(server: Any) -> list[dict[str, Any]]:
        page = await server.get_directory().list_recipients(
            offset=0, limit=10**9, kinds=kinds, include_hidden=True)
        rows = [u.as_dict() for u in page.items]
        if args.domain:
            suffix = "@" + args.domain.lower()
            rows = [r for r in rows if str(r["address"]).endswith(suffix)]
        return rows

    emit(run(args, go), args.json, LIST_COLUMNS, title="users")
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    async def go(server: Any) -> dict[str, Any]:
        user = await find_user(server, args.user)
        data: dict[str, Any] = user.as_dict()
        groups = await server.get_directory().member_of(user.id)
        data["member_of"] = [g.address for g in groups]
        return data

    emit(run(args, go), args.json)
    return EXIT_OK


def _passwd(args: argparse.Namespace) -> int:
    password = read_new_password(args)
    assert password is not None

    async def go(server: Any) -> Any:
        user = await find_user(server, args.user)
        await server.get_auth().set_password(user, password)
        return user

    user = run(args, go)
    say(f"password of {user.address} changed")
    return EXIT_OK


def _update(args: argparse.Namespace, **changes: Any) -> Any:
    from directory import sql

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        user = await find_user(server, args.user)
        return await directory.write("user_update", sql.update_user_txn, user.id, **changes)

    return run(args, go)


def _set_enabled(args: argparse.Namespace) -> int:
    user = _update(args, enabled=args.enabled)
    say(f"{user.address} {'enabled' if user.enabled else 'disabled'}")
    return EXIT_OK


def _features(args: argparse.Namespace) -> int:
    from directory import sql

    enable = _features_arg(args.enable)
    disable = _features_arg(args.disable)
    if enable & disable:
        raise CliError("a feature cannot be enabled and disabled at once", EXIT_USAGE)

    async def go(server: Any) -> Any:
        user = await find_user(server, args.user)
        if not (enable or disable):
            return user
        directory = sql_directory(server)
        new = (user.disabled_features - enable) | disable
        return await directory.write("user_features", sql.update_user_txn, user.id,
                                     disabled_features=new)

    user = run(args, go)
    data = {"user": user.address, "enabled": sorted(f.value for f in user.features),
            "disabled": sorted(f.value for f in user.disabled_features)}
    emit(data, args.json)
    return EXIT_OK


def _set(args: argparse.Namespace) -> int:
    from directory import sql

    photo: bytes | None = None
    if args.photo is not None:
        try:
            photo = args.photo.read_bytes()
        except OSError as exc:
            raise CliError(f"{args.photo}: {exc.strerror}") from None
    changes: dict[str, Any] = {"attrs": _attrs(args), "display_name": args.name,
                               "capacity": args.capacity, "manager": args.manager}
    if args.quota is not None:
        changes["quota"] = _quota(args)
    if args.hidden is not None:
        changes["hidden"] = args.hidden == "yes"
    if args.admin is not None:
        changes["is_admin"] = args.admin == "yes"

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        user = await find_user(server, args.user)
        if photo is not None or args.no_photo:
            content_type = "image/png" if photo and photo.startswith(b"\x89PNG") else "image/jpeg"
            await directory.write("user_photo", sql.set_photo_txn, user.id, photo, content_type)
        return await directory.write("user_update", sql.update_user_txn, user.id, **changes)

    user = run(args, go)
    say(f"updated {user.address}")
    return EXIT_OK


def _alias(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        user = await find_user(server, args.user)
        for alias in args.add:
            user = await directory.write("alias_add", sql.add_alias_txn, user.id, alias)
        for alias in args.remove:
            owner = await directory.find_address(alias)
            if owner is None or owner.id != user.id:
                raise CliError(f"{alias} is not an alias of {user.address}")
            user = await directory.write("alias_remove", sql.remove_alias_txn, alias)
        return user

    user = run(args, go)
    say(f"{user.address}: aliases {', '.join(user.aliases) or '(none)'}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        user = await find_user(server, args.user)
        await directory.write("user_remove", sql.remove_user_txn, user.id)
        return user

    user = run(args, go)
    say(f"removed {user.address}")
    return EXIT_OK
