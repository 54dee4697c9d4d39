"""``groupware db upgrade|current|history``: the database schema (Alembic revisions)."""

from __future__ import annotations

import argparse

from groupware.cli import EXIT_OK
from groupware.cli.common import command_parser, config_from_args, ensure_data_dir


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "db", "database schema: upgrade, current, history")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.required = True
    up = command_parser(dbsub, "upgrade", "apply pending schema revisions")
    up.add_argument("--to", default="head", help="target revision (default: head)")
    up.set_defaults(func=run_upgrade)
    command_parser(dbsub, "current", "show the revision the database is at").set_defaults(
        func=run_current)
    command_parser(dbsub, "history", "list every revision the code knows").set_defaults(
        func=run_history)


def _database(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from storage.db import Database

    config = config_from_args(args)
    if not config.database.url:
        ensure_data_dir(config)
    return Database(config.database_url, pool_size=2, busy_timeout=config.database.busy_timeout)


def run_upgrade(args: argparse.Namespace) -> int:
    from storage.db import schema

    db = _database(args)
    try:
        before, after = schema.upgrade(db, args.to)
    finally:
        db.close()
    if before == after:
        print(f"database already at {after}")  # noqa: T201
    else:
        print(f"database upgraded: {before or 'empty'} -> {after}")  # noqa: T201
    return EXIT_OK


def run_current(args: argparse.Namespace) -> int:
    from storage.db import schema

    db = _database(args)
    try:
        current = schema.current_revision(db)
    finally:
        db.close()
    head = schema.head_revision()
    state = "up to date" if current == head else f"behind head {head}; run `groupware db upgrade`"
    print(f"{current or 'empty'} ({state})")  # noqa: T201
    return EXIT_OK


def run_history(args: argparse.Namespace) -> int:
    from storage.db import schema

    for rev, down, message in schema.history():
        print(f"{down or '<base>'} -> {rev}  {message.splitlines()[0] if message else ''}")  # noqa: T201
    return EXIT_OK
