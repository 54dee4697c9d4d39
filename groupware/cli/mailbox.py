"""``groupware mailbox show|folders|provision|repair|move-folder|gc``: the message store.

A mailbox is named like a user (login name, address, ``user:<id>``) or directly as
``store:<id>``. ``repair`` exits 1 while problems remain; ``move-folder`` is resumable
(run the same command again after an interruption) and prints its progress.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from groupware.cli import EXIT_FAILED, EXIT_OK, CliError
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, find_user, run, say


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "mailbox", "mailbox stores: show, folders, provision, repair, "
                       "move-folder, gc")
    msub = p.add_subparsers(dest="mailbox_command", metavar="ACTION")
    msub.required = True

    sh = command_parser(msub, "show", "a mailbox: ids, size, quotas, change numbers")
    sh.add_argument("mailbox", help="login name, address, user:<id> or store:<id>")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    sh.set_defaults(func=_show)

    fo = command_parser(msub, "folders", "the folder tree with counts and backends")
    fo.add_argument("mailbox")
    fo.add_argument("--json", action="store_true", help="machine-readable output")
    fo.set_defaults(func=_folders)

    pr = command_parser(msub, "provision", "create a user's mailbox (idempotent)")
    pr.add_argument("mailbox", help="login name, address or user:<id>")
    pr.add_argument("--locale", default="en", help="folder names: en, de, fr, es")
    pr.set_defaults(func=_provision)

    rp = command_parser(msub, "repair", "check index and backends; --fix repairs")
    rp.add_argument("mailbox", nargs="?", help="one mailbox (default: --all)")
    rp.add_argument("--all", action="store_true", help="every mailbox")
    rp.add_argument("--fix", action="store_true", help="repair what can be repaired")
    rp.add_argument("--json", action="store_true", help="machine-readable output")
    rp.set_defaults(func=_repair)

    mv = command_parser(msub, "move-folder", "move a folder's content to another backend "
                        "(resumable)")
    mv.add_argument("mailbox")
    mv.add_argument("--role", required=True, help="special folder: inbox, calendar, ...")
    mv.add_argument("--to", required=True, dest="target", metavar="URI",
                    help="target backend URI, e.g. maildir:///srv/mail/alice")
    mv.add_argument("--batch", type=int, default=200, help="messages per transaction")
    mv.set_defaults(func=_move_folder)

    gc = command_parser(msub, "gc", "purge expired tombstones and soft-deleted messages, "
                        "then unreferenced blobs")
    gc.add_argument("--grace", type=float, default=3600.0,
                    help="seconds a new unreferenced blob is kept (default 3600)")
    gc.set_defaults(func=_gc)


async def _store_id(server: Any, ref: str, *, create_locale: str | None = None) -> int:
    store = server.get_mapistore()
    if ref.startswith("store:"):
        try:
            sid = int(ref[6:])
        except ValueError:
            raise CliError(f"not a store id: {ref!r}") from None
        info = await store.get_store(sid)
        return int(info.id)
    user = await find_user(server, ref)
    info = await store.find_store(user_id=user.user_id)
    if info is None and create_locale is not None:
        guid = getattr(user, "mailbox_guid", None) or uuid.uuid4()
        login = getattr(user, "address", None) or ref
        info = await store.provision_mailbox(user.user_id, guid, create_locale,
                                             username=str(login).split("@", 1)[0])
    if info is None:
        raise CliError(f"{ref} has no mailbox yet; run `groupware mailbox provision {ref}`")
    return int(info.id)


def _show(args: argparse.Namespace) -> int:
    async def main(server: Any) -> dict[str, Any]:
        store = server.get_mapistore()
        sid = await _store_id(server, args.mailbox)
        info = await store.get_store(sid)
        quota = await store.quota_status(sid)
        folders = await store.list_folders(sid, recursive=True)
        return {
            "store": info.id, "user_id": info.user_id, "username": info.username,
            "mailbox_guid": str(info.mailbox_guid), "replica_guid": str(info.replica_guid),
            "locale": info.locale, "provisioned": info.provisioned,
            "highest_change_number": info.highest_cn, "size": info.size_used,
            "quota_state": quota.state.value, "quota_warning": quota.warning,
            "quota_send": quota.send, "quota_receive": quota.receive,
            "folders": len(folders) + 1,
            "messages": sum(f.message_count for f in folders),
        }

    emit(run(args, main), args.json)
    return EXIT_OK


def _folders(args: argparse.Namespace) -> int:
    async def main(server: Any) -> list[dict[str, Any]]:
        store = server.get_mapistore()
        sid = await _store_id(server, args.mailbox)
        root = await store.folder_by_role(sid, "root")
        folders = await store.list_folders(sid, recursive=True)
        by_id = {f.fid: f for f in [root, *folders]}

        def depth(f: Any) -> int:
            d = 0
            while f.parent is not None and f.parent in by_id:
                f = by_id[f.parent]
                d += 1
            return d

        return [{"folder": "  " * depth(f) + (f.name or "(root)"), "role": f.role or "",
                 "id": f"{f.fid:#x}", "messages": f.message_count, "unread": f.unread_count,
                 "fai": f.associated_count, "size": f.size, "uidvalidity": f.uidvalidity,
                 "uidnext": f.uidnext, "backend": f.backend_uri}
                for f in [root, *folders]]

    rows = run(args, main)
    emit(rows, args.json, title=None)
    return EXIT_OK


def _provision(args: argparse.Namespace) -> int:
    async def main(server: Any) -> int:
        return await _store_id(server, args.mailbox, create_locale=args.locale)

    say(f"mailbox store {run(args, main)} ready")
    return EXIT_OK


def _repair(args: argparse.Namespace) -> int:
    if not args.all and not args.mailbox:
        raise CliError("name a mailbox or use --all", 2)

    async def main(server: Any) -> dict[str, list[str]]:
        store = server.get_mapistore()
        if args.all:
            ids = [int(s.id) for s in await store.list_stores()]
        else:
            ids = [await _store_id(server, args.mailbox)]
        out: dict[str, list[str]] = {}
        for sid in ids:
            report = await store.repair(sid, fix=args.fix)
            if report.problems and args.fix:
                again = await store.repair(sid)
                out[str(sid)] = [f"fixed: {p}" for p in report.problems] + again.problems
                out[f"{sid}:remaining"] = again.problems
            else:
                out[str(sid)] = report.problems
                out[f"{sid}:remaining"] = report.problems
        return out

    result = run(args, main)
    remaining = {k: v for k, v in result.items() if k.endswith(":remaining")}
    found = {k: v for k, v in result.items() if not k.endswith(":remaining")}
    if args.json:
        emit({"problems": found, "clean": not any(remaining.values())}, True)
    else:
        for sid, problems in found.items():
            if not problems:
                say(f"store {sid}: nothing to fix")
            for problem in problems:
                say(f"store {sid}: {problem}")
    return EXIT_FAILED if any(remaining.values()) else EXIT_OK


def _move_folder(args: argparse.Namespace) -> int:
    if args.batch < 1:
        raise CliError("--batch must be at least 1", 2)

    def progress(done: int, total: int) -> None:
        print(f"\rcopied {done}/{total}", end="", file=sys.stderr, flush=True)  # noqa: T201

    async def main(server: Any) -> int:
        store = server.get_mapistore()
        sid = await _store_id(server, args.mailbox)
        folder = await store.folder_by_role(sid, args.role)
        copied: int = await store.move_folder_content(sid, folder.fid, args.target,
                                                      batch=args.batch, progress=progress)
        return copied

    copied = run(args, main)
    print(file=sys.stderr)  # noqa: T201
    say(f"folder {args.role} moved to {args.target} ({copied} messages copied)")
    return EXIT_OK


def _gc(args: argparse.Namespace) -> int:
    async def main(server: Any) -> tuple[int, int, int]:
        store = server.get_mapistore()
        purged = forgotten = 0
        for info in await store.list_stores():
            p, f = await store.purge_expired(info.id)
            purged += p
            forgotten += f
        removed = await store.collect_garbage(grace=args.grace)
        return purged, forgotten, len(removed)

    purged, forgotten, removed = run(args, main)
    say(f"purged {purged} soft-deleted messages, {forgotten} tombstones, {removed} blobs")
    return EXIT_OK
