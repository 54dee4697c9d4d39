"""``groupware group ...`` and ``groupware contact ...``: distribution groups (nested)
and external contacts of the SQL directory."""

from __future__ import annotations

import argparse
from typing import Any

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, run, say, sql_directory


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "group", "distribution groups: add, list, show, members, remove")
    gsub = p.add_subparsers(dest="group_command", metavar="ACTION")
    gsub.required = True
    a = command_parser(gsub, "add", "create a group")
    a.add_argument("address")
    a.add_argument("--name", default="", help="display name")
    a.add_argument("--description", default="")
    a.add_argument("--member", action="append", default=[],
                   help="member address (user, group or contact; repeatable)")
    a.set_defaults(func=_add)
    ls = command_parser(gsub, "list", "list groups")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    sh = command_parser(gsub, "show", "a group with its direct and expanded members")
    sh.add_argument("group")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=_show)
    for name, doc in (("add-member", "add members"), ("remove-member", "remove members")):
        m = command_parser(gsub, name, doc)
        m.add_argument("group")
        m.add_argument("members", nargs="+")
        m.set_defaults(func=_members, adding=name == "add-member")
    rm = command_parser(gsub, "remove", "delete a group (members are not touched)")
    rm.add_argument("group")
    rm.set_defaults(func=_remove)

    c = command_parser(sub, "contact", "external contacts of the address book")
    csub = c.add_subparsers(dest="contact_command", metavar="ACTION")
    csub.required = True
    ca = command_parser(csub, "add", "add an external contact")
    ca.add_argument("address")
    ca.add_argument("--name", default="")
    for attr in ("given_name", "surname", "company", "title", "department", "phone", "mobile"):
        ca.add_argument(f"--{attr.replace('_', '-')}", dest=attr)
    ca.set_defaults(func=_contact_add)
    cl = command_parser(csub, "list", "list contacts")
    cl.add_argument("--json", action="store_true", help="machine-readable output")
    cl.set_defaults(func=_contact_list)
    cr = command_parser(csub, "remove", "delete a contact")
    cr.add_argument("address")
    cr.set_defaults(func=_contact_remove)


def _add(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        group = await directory.write("group_add", sql.add_group_txn, directory.settings,
                                      args.address, display_name=args.name,
                                      description=args.description)
        for member in args.member:
            await directory.write("group_add_member", sql.add_member_txn, group.id, member)
        return group

    group = run(args, go)
    say(f"added group {group.address} ({group.id})")
    return EXIT_OK


def _list(args: argparse.Namespace) -> int:
    from directory.model import RecipientKind

    async def go(server: Any) -> list[dict[str, Any]]:
        page = await server.get_directory().list_recipients(
            limit=10**9, kinds=[RecipientKind.GROUP], include_hidden=True)
        return [g.as_dict() for g in page.items]

    emit(run(args, go), args.json, ("address", "display_name", "aliases", "description"),
         title="groups")
    return EXIT_OK


async def _group(server: Any, ref: str) -> Any:
    from groupware.errors import NotFound

    directory = server.get_directory()
    group = await directory.get(ref) if ref.startswith("group:") else \
        await directory.find_address(ref)
    if group is None or group.kind.value != "group":
        raise NotFound(f"no group {ref!r}")
    return group


def _show(args: argparse.Namespace) -> int:
    async def go(server: Any) -> dict[str, Any]:
        directory = server.get_directory()
        group = await _group(server, args.group)
        data: dict[str, Any] = {k: v for k, v in group.as_dict().items()
                                if k in ("id", "address", "display_name", "aliases",
                                         "description", "legacy_dn")}
        data["members"] = [m.address for m in await directory.group_members(group.id)]
        data["expanded"] = [m.address for m in await directory.expand_group(group.id)]
        return data

    emit(run(args, go), args.json)
    return EXIT_OK


def _members(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        group = await _group(server, args.group)
        fn = sql.add_member_txn if args.adding else sql.remove_member_txn
        for member in args.members:
            await directory.write("group_member", fn, group.id, member)
        return group

    group = run(args, go)
    say(f"{group.address}: {'added' if args.adding else 'removed'} {len(args.members)} member(s)")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> Any:
        group = await _group(server, args.group)
        await sql_directory(server).write("group_remove", sql.remove_group_txn, group.id)
        return group

    say(f"removed group {run(args, go).address}")
    return EXIT_OK


def _contact_add(args: argparse.Namespace) -> int:
    from directory import sql

    attrs = {a: getattr(args, a) for a in ("given_name", "surname", "company", "title",
                                           "department", "phone", "mobile")
             if getattr(args, a) is not None}

    async def go(server: Any) -> Any:
        directory = sql_directory(server)
        return await directory.write("contact_add", sql.add_contact_txn, directory.settings,
                                     args.address, display_name=args.name, attrs=attrs)

    contact = run(args, go)
    say(f"added contact {contact.address} ({contact.id})")
    return EXIT_OK


def _contact_list(args: argparse.Namespace) -> int:
    from directory.model import RecipientKind

    async def go(server: Any) -> list[dict[str, Any]]:
        page = await server.get_directory().list_recipients(
            limit=10**9, kinds=[RecipientKind.CONTACT], include_hidden=True)
        return [c.as_dict() for c in page.items]

    emit(run(args, go), args.json, ("address", "display_name", "company"), title="contacts")
    return EXIT_OK


def _contact_remove(args: argparse.Namespace) -> int:
    from directory import sql

    async def go(server: Any) -> None:
        await sql_directory(server).write("contact_remove", sql.remove_contact_txn,
                                          args.address)

    run(args, go)
    say(f"removed contact {args.address.lower()}")
    return EXIT_OK
