"""``groupware import ldif|csv FILE``: bulk provisioning of the SQL directory.

The whole file is applied in one transaction with a savepoint per entry, so a bad row is
reported (line number and reason) without stopping the others, and ``--dry-run`` checks
everything against the real database and then rolls back. Passwords are hashed before
the transaction starts, in parallel threads (argon2 releases the GIL).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import csv
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from groupware.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError
from groupware.cli.common import command_parser
from groupware.cli.dirtools import run, say, sql_directory

CSV_COLUMNS = ("address", "display_name", "password", "password_hash", "kind", "aliases",
               "given_name", "surname", "title", "department", "office", "company", "phone",
               "mobile", "quota_mb", "disabled_features", "groups")
ATTRS = ("given_name", "surname", "title", "department", "office", "company", "phone",
         "mobile")


@dataclass
class Item:
    """One user or group to create, with where it came from."""

    line: int
    kind: str                      # user, room, equipment, group
    address: str
    display_name: str = ""
    password: str | None = None
    password_hash: str | None = None
    aliases: list[str] = field(default_factory=list)
    attrs: dict[str, str] = field(default_factory=dict)
    quota: int | None = None
    disabled_features: str = ""
    groups: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)  # groups only (addresses)
    photo: bytes | None = None


class _Rollback(Exception):
    pass


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = command_parser(sub, "import", "bulk-create users and groups from LDIF or CSV")
    isub = p.add_subparsers(dest="import_command", metavar="FORMAT")
    isub.required = True
    for fmt, doc in (("ldif", "inetOrgPerson users and groupOfNames groups (LDIF)"),
                     ("csv", f"a CSV file with a header row ({', '.join(CSV_COLUMNS)})")):
        c = command_parser(isub, fmt, doc)
        c.add_argument("file", type=Path)
        c.add_argument("--dry-run", action="store_true",
                       help="check every entry against the database, change nothing")
        c.add_argument("--create-domains", action="store_true",
                       help="add domains that are not served yet")
        c.add_argument("--no-progress", action="store_true", help="no progress bar")
        c.set_defaults(func=run_import, format=fmt)


def run_import(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CliError(f"{args.file}: {exc.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"{args.file}: not UTF-8", EXIT_USAGE) from None
    items, errors = (parse_ldif(text) if args.format == "ldif" else parse_csv(text))
    if not args.dry_run:
        _hash_passwords(args, items)

    async def go(server: Any) -> list[str]:
        directory = sql_directory(server)
        return list(await directory.db.run_interaction(
            "import", _apply_or_rollback, directory.settings, items, args))

    errors += run(args, go)
    verb = "would create" if args.dry_run else "created"
    users = sum(1 for i in items if i.kind != "group")
    groups = len(items) - users
    for err in errors:
        print(err, file=sys.stderr)  # noqa: T201
    say(f"{verb} {users - sum(1 for e in errors if ' user ' in e)} user(s) and "
        f"{groups - sum(1 for e in errors if ' group ' in e)} group(s); {len(errors)} error(s)"
        + (" (dry run: nothing changed)" if args.dry_run else ""))
    return EXIT_FAILED if errors else EXIT_OK


def _hash_passwords(args: argparse.Namespace, items: list[Item]) -> None:
    from groupware.cli.common import config_from_args
    from groupware.passwords import PasswordHasher, nt_hash

    cfg = config_from_args(args).auth
    hasher = PasswordHasher(time_cost=cfg.argon2_time_cost, memory_cost=cfg.argon2_memory_cost,
                            parallelism=cfg.argon2_parallelism)
    todo = [i for i in items if i.password]
    if not todo:
        return

    def work(item: Item) -> None:
        assert item.password is not None
        item.password_hash = hasher.hash(item.password)
        item.attrs["_nt_hash"] = nt_hash(item.password) if cfg.store_nt_hash else ""

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in _progress(pool.map(work, todo), len(todo), "hashing passwords",
                           args.no_progress):
            pass


def _progress(it: Iterator[Any], total: int, what: str, quiet: bool) -> Iterator[Any]:
    if quiet or not total:
        yield from it
        return
    from rich.progress import Progress

    with Progress(transient=False) as progress:
        task = progress.add_task(what, total=total)
        for value in it:
            yield value
            progress.advance(task)


def _apply_or_rollback(conn: Any, settings: Any, items: list[Item],
                       args: argparse.Namespace) -> list[str]:
    errors = _apply(conn, settings, items, args)
    if args.dry_run:
        # Leave the transaction by rolling back: nothing of the dry run is kept.
        conn.rollback()
    return errors


def _apply(conn: Any, settings: Any, items: list[Item], args: argparse.Namespace) -> list[str]:
    from directory import sql
    from directory.model import RecipientKind, parse_features
    from directory.names import split_address
    from groupware.errors import GroupwareError

    errors: list[str] = []
    order = [i for i in items if i.kind != "group"] + [i for i in items if i.kind == "group"]
    for item in _progress(iter(order), len(order), "importing", args.no_progress):
        savepoint = conn.begin_nested()
        try:
            if args.create_domains:
                domain = split_address(item.address)[1]
                if sql._domain_id(conn, domain) is None:
                    sql.add_domain_txn(conn, domain)
            if item.kind == "group":
                group = sql.add_group_txn(conn, settings, item.address,
                                          display_name=item.display_name)
                for alias in item.aliases:
                    sql.add_alias_txn(conn, group.id, alias)
                for member in item.members:
                    sql.add_member_txn(conn, group.id, member)
            else:
                nt = item.attrs.pop("_nt_hash", "") or None
                user = sql.add_user_txn(
                    conn, settings, item.address, display_name=item.display_name,
                    kind=RecipientKind(item.kind), aliases=item.aliases,
                    password_hash=item.password_hash, nt_hash=nt, quota=item.quota,
                    disabled_features=parse_features(item.disabled_features),
                    attrs={k: v for k, v in item.attrs.items() if k in ATTRS})
                if item.photo:
                    sql.set_photo_txn(conn, user.id, item.photo)
                for group_address in item.groups:
                    sql.add_member_txn(conn, group_address, user.id)
            savepoint.commit()
        except (GroupwareError, ValueError) as exc:
            savepoint.rollback()
            message = exc.message if isinstance(exc, GroupwareError) else str(exc)
            errors.append(f"line {item.line}: {item.kind if item.kind == 'group' else 'user'} "
                          f"{item.address}: {message}")
    return errors


# ------------------------------------------------------------------------------ CSV


def parse_csv(text: str) -> tuple[list[Item], list[str]]:
    reader = csv.DictReader(text.splitlines())
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if not reader.fieldnames or "address" not in reader.fieldnames:
        raise CliError("the CSV file needs a header row with at least 'address'", EXIT_USAGE)
    if unknown:
        raise CliError(f"unknown CSV column(s): {', '.join(sorted(unknown))}", EXIT_USAGE)
    items, errors = [], []
    for row in reader:
        line = reader.line_num

        def col(name: str, row: dict[str, Any] = row) -> str:
            return str(row.get(name) or "").strip()

        try:
            quota = int(col("quota_mb")) * 1024 * 1024 if col("quota_mb") else None
        except ValueError:
            errors.append(f"line {line}: user {col('address')}: quota_mb is not a number")
            continue
        kind = col("kind") or "user"
        if kind not in ("user", "room", "equipment", "group"):
            errors.append(f"line {line}: user {col('address')}: unknown kind {kind!r}")
            continue
        items.append(Item(
            line=line, kind=kind, address=col("address"), display_name=col("display_name"),
            password=(row.get("password") or None), password_hash=col("password_hash") or None,
            aliases=_split(col("aliases")), attrs={a: col(a) for a in ATTRS if col(a)},
            quota=quota, disabled_features=col("disabled_features").replace(";", ","),
            groups=_split(col("groups")) if kind != "group" else [],
        ))
    return items, errors


def _split(value: str) -> list[str]:
    return [v for v in value.replace(",", " ").replace(";", " ").split() if v]


# ----------------------------------------------------------------------------- LDIF


def parse_ldif_records(text: str) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """(line, {attribute (lower-case): [values]}) per record; ``attr::`` is base64."""
    record: dict[str, list[Any]] = {}
    start = 0
    logical: list[tuple[int, str]] = []
    for n, raw in enumerate(text.splitlines(), 1):
        if raw.startswith(" ") and logical:
            logical[-1] = (logical[-1][0], logical[-1][1] + raw[1:])
        else:
            logical.append((n, raw))
    for n, line in [*logical, (0, "")]:
        if not line.strip():
            if record:
                yield start, record
            record = {}
            continue
        if line.startswith("#") or line.startswith("version:"):
            continue
        if not record:
            start = n
        name, sep, value = line.partition(":")
        if not sep:
            raise CliError(f"LDIF line {n}: expected 'attribute: value'", EXIT_USAGE)
        decoded: Any
        if value.startswith(":"):
            try:
                decoded = base64.b64decode(value[1:].strip(), validate=True)
            except ValueError:
                raise CliError(f"LDIF line {n}: bad base64", EXIT_USAGE) from None
            if name.lower() != "jpegphoto":
                with contextlib.suppress(UnicodeDecodeError):
                    decoded = decoded.decode("utf-8")
        else:
            decoded = value.strip()
        record.setdefault(name.strip().lower(), []).append(decoded)


def parse_ldif(text: str) -> tuple[list[Item], list[str]]:
    """inetOrgPerson (with mail) -> users; groupOfNames -> groups (members by DN)."""
    records = list(parse_ldif_records(text))
    dn_to_mail: dict[str, str] = {}
    for _line, rec in records:
        if rec.get("dn") and rec.get("mail"):
            dn_to_mail[_norm_dn(str(rec["dn"][0]))] = str(rec["mail"][0])
    items, errors = [], []
    for line, rec in records:
        classes = {str(c).lower() for c in rec.get("objectclass", [])}

        def first(attr: str, rec: dict[str, list[Any]] = rec) -> str:
            values = rec.get(attr.lower())
            return str(values[0]) if values else ""

        if classes & {"groupofnames", "groupofuniquenames"}:
            if not first("mail"):
                errors.append(f"line {line}: group {first('cn')}: no mail attribute")
                continue
            members = [dn_to_mail.get(_norm_dn(str(m))) for m in
                       rec.get("member", []) + rec.get("uniquemember", [])]
            items.append(Item(line=line, kind="group", address=first("mail"),
                              display_name=first("displayName") or first("cn"),
                              aliases=[str(a) for a in rec.get("mailalternateaddress", [])],
                              members=[m for m in members if m]))
            continue
        if not classes & {"inetorgperson", "person", "organizationalperson", "groupwareuser"}:
            continue
        if not first("mail"):
            errors.append(f"line {line}: user {first('dn')}: no mail attribute")
            continue
        stored = first("userPassword")
        kind = first("gwRecipientType").lower() or "user"
        quota = first("gwQuota")
        photo = rec.get("jpegphoto", [None])[0]
        items.append(Item(
            line=line, kind=kind if kind in ("room", "equipment") else "user",
            address=first("mail"), display_name=first("displayName") or first("cn"),
            password_hash=stored[len("{ARGON2}"):] if stored.upper().startswith("{ARGON2}")
            else None,
            aliases=[str(a) for a in rec.get("mailalternateaddress", [])],
            attrs={k: v for k, v in {
                "given_name": first("givenName"), "surname": first("sn"),
                "title": first("title"), "department": first("departmentNumber")
                or first("ou"), "office": first("physicalDeliveryOfficeName")
                or first("roomNumber"), "company": first("o"),
                "phone": first("telephoneNumber"), "mobile": first("mobile")}.items() if v},
            quota=int(quota) if quota.isdigit() else None,
            disabled_features=",".join(str(f) for f in rec.get("gwdisabledfeature", [])),
            photo=photo if isinstance(photo, bytes) else None,
        ))
    return items, errors


def _norm_dn(dn: str) -> str:
    return ",".join(part.strip().lower() for part in dn.split(","))
