"""``groupware queue list|retry|delete``: the outbound mail queue in the database.

The commands work on the database directly, so they see what every node has queued.
``retry`` makes messages due now; a running server picks them up at its next poll
(``[queue] poll_interval``). ``delete`` drops messages without telling the sender.
"""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from groupware.cli import EXIT_OK, EXIT_USAGE, CliError
from groupware.cli.common import command_parser
from groupware.cli.dirtools import emit, run, say


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "queue", "the outbound mail queue: list, retry, delete")
    qsub = p.add_subparsers(dest="queue_command", metavar="ACTION")
    qsub.required = True
    ls = command_parser(qsub, "list", "list queued messages and their recipients")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(func=_list)
    rt = command_parser(qsub, "retry", "deliver queued messages now")
    rt.add_argument("ids", nargs="*", type=int, help="queue ids (default: --all)")
    rt.add_argument("--all", action="store_true", help="every queued message")
    rt.set_defaults(func=_retry)
    rm = command_parser(qsub, "delete", "drop messages from the queue (no bounce)")
    rm.add_argument("ids", nargs="+", type=int, help="queue ids")
    rm.set_defaults(func=_delete)


def _when(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _list(args: argparse.Namespace) -> int:
    async def go(server: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = await server.get_queue().list_entries()
        return entries

    entries = run(args, go)
    if args.json:
        emit(entries, True)
        return EXIT_OK
    if not entries:
        say("the queue is empty")
        return EXIT_OK
    # Plain lines (one per recipient) rather than a table: addresses and errors stay
    # whole and greppable whatever the terminal width.
    say(f"{len(entries)} queued message(s)")
    for e in entries:
        say(f"{e['id']}  {_when(e['created_at'])}  from <{e['sender']}>  {e['size']} bytes  "
            f"({e['origin']})")
        for r in e["recipients"]:
            line = f"    <{r['address']}>  {r['status']}  attempts={r['attempts']}"
            if r["status"] == "queued":
                line += f"  next={_when(r['next_attempt_at'])}"
            if r["last_error"]:
                line += f"  last error: {r['last_error']}"
            say(line)
    return EXIT_OK


def _retry(args: argparse.Namespace) -> int:
    if not args.ids and not args.all:
        raise CliError("name queue ids or use --all", EXIT_USAGE)

    async def go(server: Any) -> int:
        n: int = await server.get_queue().retry(None if args.all else args.ids)
        return n

    say(f"{run(args, go)} recipient(s) due now")
    return EXIT_OK


def _delete(args: argparse.Namespace) -> int:
    async def go(server: Any) -> int:
        n: int = await server.get_queue().delete(args.ids)
        return n

    say(f"deleted {run(args, go)} message(s)")
    return EXIT_OK
