"""The embedded SQL directory: domains, users, resources, aliases, groups, contacts.

Lives in the server's own database (``storage.db.tables``). Reads are small named
transactions on the thread pool; the admin operations are the same kind of function so
the CLI and the server share them. ANR uses the ``anr_keys`` table: lower-cased keys
matched by an indexed prefix range scan, refreshed whenever names or addresses change.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from directory.interface import ANR_MAX_LENGTH, Directory
from directory.model import (
    MAILBOX_KINDS,
    Page,
    Recipient,
    RecipientKind,
    StoredCredentials,
    format_features,
    legacy_dn,
    parse_features,
)
from directory.names import (
    MAX_DISPLAY_NAME,
    clean_text,
    normalize_address,
    normalize_domain,
    parse_login,
    split_address,
)
from groupware.errors import AlreadyExists, Conflict, InvalidInput, NotFound
from groupware.types import Feature, UserId
from storage.db import Database
from storage.db.tables import (
    addresses,
    anr_keys,
    contacts,
    domains,
    group_members,
    groups,
    photos,
    users,
)

logger = logging.getLogger(__name__)

MAX_PHOTO = 512 * 1024
USER_ATTRS = ("given_name", "surname", "title", "department", "office", "company",
              "phone", "mobile", "description")
CONTACT_ATTRS = ("given_name", "surname", "company", "title", "department", "phone", "mobile")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def make_id(kind: str, key: int) -> str:
    return f"{kind}:{key}"


def parse_id(recipient_id: str) -> tuple[str, int]:
    """``user:12`` -> ("user", 12); raises NotFound for anything else."""
    kind, _, key = str(recipient_id).partition(":")
    if kind not in ("user", "group", "contact") or not key.isdigit() or len(key) > 18:
        raise NotFound(f"no recipient {recipient_id!r}")
    return kind, int(key)


@dataclass(frozen=True)
class SqlSettings:
    organization: str = "First Organization"
    default_domain: str = "example.test"
    max_group_depth: int = 16


# --------------------------------------------------------------------------- reading


def _domain_id(conn: sa.Connection, name: str) -> int | None:
    value = conn.execute(sa.select(domains.c.id).where(domains.c.name == name)).scalar()
    return int(value) if value is not None else None


def _aliases(conn: sa.Connection, column: sa.Column[Any],
             ids: Sequence[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    rows = conn.execute(
        sa.select(column, addresses.c.localpart, domains.c.name)
        .join(domains, domains.c.id == addresses.c.domain_id)
        .where(column.in_(ids), addresses.c.is_primary.is_(False))
        .order_by(addresses.c.localpart, domains.c.name)
    )
    for owner, lp, dom in rows:
        out.setdefault(int(owner), []).append(f"{lp}@{dom}")
    return out


def load_users(conn: sa.Connection, ids: Sequence[int]) -> dict[int, Recipient]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(users, domains.c.name.label("domain"))
        .join(domains, domains.c.id == users.c.domain_id)
        .where(users.c.id.in_(ids))
    ).mappings().all()
    aliases = _aliases(conn, addresses.c.user_id, ids)
    with_photo = set(conn.execute(
        sa.select(photos.c.user_id).where(photos.c.user_id.in_(ids))).scalars())
    out = {}
    for r in rows:
        uid = int(r["id"])
        out[uid] = Recipient(
            id=make_id("user", uid),
            kind=RecipientKind(r["kind"]),
            display_name=r["display_name"] or r["localpart"],
            address=f"{r['localpart']}@{r['domain']}",
            aliases=tuple(aliases.get(uid, ())),
            legacy_dn=r["legacy_dn"] or "",
            **{a: r[a] for a in USER_ATTRS},
            manager_id=make_id("user", r["manager_id"]) if r["manager_id"] else None,
            hidden=bool(r["hidden"]),
            user_id=UserId(uid),
            enabled=bool(r["enabled"]),
            is_admin=bool(r["is_admin"]),
            disabled_features=_features_or_all(r["disabled_features"]),
            mailbox_guid=uuid.UUID(r["mailbox_guid"]) if r["mailbox_guid"] else None,
            quota=r["quota"],
            capacity=r["capacity"],
            credentials_version=int(r["credentials_version"]),
            has_photo=uid in with_photo,
        )
    return out


def _features_or_all(value: str) -> frozenset[Feature]:
    """Stored feature list; an unreadable one disables everything (fail closed)."""
    try:
        return parse_features(value)
    except ValueError:
        logger.error("unreadable disabled_features %r: treating every feature as disabled",
                     value)
        return frozenset(Feature)


def load_groups(conn: sa.Connection, ids: Sequence[int]) -> dict[int, Recipient]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.select(groups, domains.c.name.label("domain"))
        .join(domains, domains.c.id == groups.c.domain_id)
        .where(groups.c.id.in_(ids))
    ).mappings().all()
    aliases = _aliases(conn, addresses.c.group_id, ids)
    return {
        int(r["id"]): Recipient(
            id=make_id("group", int(r["id"])),
            kind=RecipientKind.GROUP,
            display_name=r["display_name"] or r["localpart"],
            address=f"{r['localpart']}@{r['domain']}",
            aliases=tuple(aliases.get(int(r["id"]), ())),
            legacy_dn=r["legacy_dn"] or "",
            description=r["description"],
            hidden=bool(r["hidden"]),
        )
        for r in rows
    }


def load_contacts(conn: sa.Connection, ids: Sequence[int]) -> dict[int, Recipient]:
    if not ids:
        return {}
    rows = conn.execute(sa.select(contacts).where(contacts.c.id.in_(ids))).mappings().all()
    return {
        int(r["id"]): Recipient(
            id=make_id("contact", int(r["id"])),
            kind=RecipientKind.CONTACT,
            display_name=r["display_name"] or r["address"],
            address=r["address"],
            legacy_dn=r["legacy_dn"] or "",
            **{a: r[a] for a in CONTACT_ATTRS},
            hidden=bool(r["hidden"]),
        )
        for r in rows
    }


_LOADERS = {"user": load_users, "group": load_groups, "contact": load_contacts}


def load_refs(conn: sa.Connection, refs: Sequence[tuple[str, int]]) -> list[Recipient]:
    """Recipients for (kind, id) pairs, in the given order (missing ones dropped)."""
    loaded: dict[tuple[str, int], Recipient] = {}
    for kind, loader in _LOADERS.items():
        ids = [key for k, key in refs if k == kind]
        for key, rec in loader(conn, ids).items():
            loaded[(kind, key)] = rec
    return [loaded[ref] for ref in refs if ref in loaded]


def get_txn(conn: sa.Connection, recipient_id: str) -> Recipient | None:
    try:
        ref = parse_id(recipient_id)
    except NotFound:
        return None
    found = load_refs(conn, [ref])
    return found[0] if found else None


def find_address_txn(conn: sa.Connection, address: str) -> Recipient | None:
    try:
        address = normalize_address(address)
    except InvalidInput:
        return None
    localpart, domain = address.split("@")
    row = conn.execute(
        sa.select(addresses.c.user_id, addresses.c.group_id)
        .join(domains, domains.c.id == addresses.c.domain_id)
        .where(domains.c.name == domain, addresses.c.localpart == localpart)
    ).first()
    if row is not None:
        ref = ("user", row.user_id) if row.user_id is not None else ("group", row.group_id)
        found = load_refs(conn, [ref])
        return found[0] if found else None
    cid = conn.execute(sa.select(contacts.c.id).where(contacts.c.address == address)).scalar()
    if cid is not None:
        return load_contacts(conn, [int(cid)]).get(int(cid))
    return None


def find_legacy_dn_txn(conn: sa.Connection, dn: str) -> Recipient | None:
    if not dn or len(dn) > 512:
        return None
    for kind, table in (("user", users), ("group", groups), ("contact", contacts)):
        key = conn.execute(sa.select(table.c.id).where(table.c.legacy_dn == dn)).scalar()
        if key is None:
            key = conn.execute(
                sa.select(table.c.id).where(sa.func.lower(table.c.legacy_dn) == dn.lower())
            ).scalar()
        if key is not None:
            found = load_refs(conn, [(kind, int(key))])
            return found[0] if found else None
    return None


def resolve_login_txn(conn: sa.Connection, login: str, default_domain: str) -> Recipient | None:
    name = parse_login(login)
    query = (
        sa.select(addresses.c.user_id, domains.c.name)
        .join(domains, domains.c.id == addresses.c.domain_id)
        .where(addresses.c.localpart == name.localpart, addresses.c.user_id.is_not(None))
    )
    if name.domain is not None:
        query = query.where(domains.c.name == name.domain)
    rows = conn.execute(query).all()
    if name.netbios is not None and name.domain is None:
        rows = [r for r in rows if r.name.split(".")[0] == name.netbios]
    if not rows:
        return None
    if len(rows) > 1:
        preferred = [r for r in rows if r.name == default_domain]
        if len(preferred) != 1:
            logger.info("login name %r is ambiguous (%d domains)", login, len(rows))
            return None
        rows = preferred
    user = load_users(conn, [int(rows[0].user_id)]).get(int(rows[0].user_id))
    return user if user is not None and user.kind in MAILBOX_KINDS else None


def _kind_filter(kinds: Iterable[RecipientKind] | None) -> frozenset[RecipientKind]:
    return frozenset(kinds) if kinds is not None else frozenset(RecipientKind)


def _listing(kinds: frozenset[RecipientKind], include_hidden: bool,
             key_range: tuple[str, str] | None) -> sa.Select[Any] | None:
    """UNION ALL of (kind, id, sort key) rows over the requested kinds."""
    parts: list[sa.Select[Any]] = []

    def restrict(sel: sa.Select[Any], table: sa.Table, fk: sa.Column[Any]) -> sa.Select[Any]:
        if not include_hidden:
            sel = sel.where(table.c.hidden.is_(False))
        if key_range is not None:
            lo, hi = key_range
            sel = sel.where(table.c.id.in_(
                sa.select(fk).where(anr_keys.c.key >= lo, anr_keys.c.key < hi)))
        return sel

    user_kinds = [k.value for k in kinds if k in MAILBOX_KINDS]
    if user_kinds:
        sel = sa.select(sa.literal("user").label("k"), users.c.id.label("i"),
                        sa.func.lower(users.c.display_name).label("s"),
                        users.c.localpart.label("t")).where(users.c.kind.in_(user_kinds))
        parts.append(restrict(sel, users, anr_keys.c.user_id))
    if RecipientKind.GROUP in kinds:
        sel = sa.select(sa.literal("group").label("k"), groups.c.id.label("i"),
                        sa.func.lower(groups.c.display_name).label("s"),
                        groups.c.localpart.label("t"))
        parts.append(restrict(sel, groups, anr_keys.c.group_id))
    if RecipientKind.CONTACT in kinds:
        sel = sa.select(sa.literal("contact").label("k"), contacts.c.id.label("i"),
                        sa.func.lower(contacts.c.display_name).label("s"),
                        contacts.c.address.label("t"))
        parts.append(restrict(sel, contacts, anr_keys.c.contact_id))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)  # type: ignore[return-value]


def anr_txn(conn: sa.Connection, query: str, limit: int,
            kinds: Iterable[RecipientKind] | None) -> list[Recipient]:
    prefix = anr_prefix(query)
    if prefix is None:
        return []
    listing = _listing(_kind_filter(kinds), False, (prefix, prefix + "\U0010ffff"))
    if listing is None:
        return []
    sub = listing.subquery()
    rows = conn.execute(
        sa.select(sub.c.k, sub.c.i).order_by(sub.c.s, sub.c.t, sub.c.k, sub.c.i).limit(limit)
    ).all()
    return load_refs(conn, [(r.k, int(r.i)) for r in rows])


def anr_prefix(query: str) -> str | None:
    """The lower-cased search key, or None when there is nothing to search for."""
    if not isinstance(query, str):
        return None
    prefix = clean_text(query, ANR_MAX_LENGTH, "search text").lower()
    prefix = prefix.lstrip("=")  # "=alice" is NSPI's "exact" ANR; a prefix covers it
    return prefix or None


def list_txn(conn: sa.Connection, offset: int, limit: int,
             kinds: Iterable[RecipientKind] | None, include_hidden: bool) -> Page:
    listing = _listing(_kind_filter(kinds), include_hidden, None)
    if listing is None:
        return Page(0, offset, ())
    sub = listing.subquery()
    total = int(conn.execute(sa.select(sa.func.count()).select_from(sub)).scalar_one())
    rows = conn.execute(
        sa.select(sub.c.k, sub.c.i).order_by(sub.c.s, sub.c.t, sub.c.k, sub.c.i)
        .offset(max(0, offset)).limit(max(0, limit))
    ).all()
    return Page(total, offset, tuple(load_refs(conn, [(r.k, int(r.i)) for r in rows])))


def _member_refs(conn: sa.Connection, group_ids: Sequence[int]) -> list[tuple[int, str, int]]:
    rows = conn.execute(
        sa.select(group_members.c.group_id, group_members.c.user_id,
                  group_members.c.member_group_id, group_members.c.contact_id)
        .where(group_members.c.group_id.in_(group_ids))
        .order_by(group_members.c.id)
    ).all()
    out = []
    for g, u, mg, c in rows:
        if u is not None:
            out.append((int(g), "user", int(u)))
        elif mg is not None:
            out.append((int(g), "group", int(mg)))
        elif c is not None:
            out.append((int(g), "contact", int(c)))
    return out


def members_txn(conn: sa.Connection, group_id: str) -> list[Recipient]:
    kind, key = parse_id(group_id)
    if kind != "group":
        raise NotFound(f"{group_id} is not a group")
    refs = [(k, i) for _g, k, i in _member_refs(conn, [key])]
    return sorted(load_refs(conn, refs), key=lambda r: (r.display_name.lower(), r.id))


def expand_txn(conn: sa.Connection, group_id: str, max_depth: int) -> list[Recipient]:
    kind, key = parse_id(group_id)
    if kind != "group":
        raise NotFound(f"{group_id} is not a group")
    seen_groups = {key}
    frontier = [key]
    found: list[tuple[str, int]] = []
    seen: set[tuple[str, int]] = set()
    depth = 0
    while frontier and depth < max_depth:
        nxt = []
        for _g, k, i in _member_refs(conn, frontier):
            if k == "group":
                if i not in seen_groups:
                    seen_groups.add(i)
                    nxt.append(i)
            elif (k, i) not in seen:
                seen.add((k, i))
                found.append((k, i))
        frontier = nxt
        depth += 1
    if frontier:
        logger.warning("group %s nests deeper than %d levels; expansion cut", group_id,
                       max_depth)
    return sorted(load_refs(conn, found), key=lambda r: (r.display_name.lower(), r.id))


def member_of_txn(conn: sa.Connection, recipient_id: str) -> list[Recipient]:
    kind, key = parse_id(recipient_id)
    column = {"user": group_members.c.user_id, "group": group_members.c.member_group_id,
              "contact": group_members.c.contact_id}[kind]
    ids = [int(g) for g in conn.execute(
        sa.select(group_members.c.group_id).where(column == key)).scalars()]
    return sorted(load_groups(conn, ids).values(), key=lambda r: r.display_name.lower())


def photo_txn(conn: sa.Connection, recipient_id: str) -> bytes | None:
    try:
        kind, key = parse_id(recipient_id)
    except NotFound:
        return None
    if kind != "user":
        return None
    data = conn.execute(sa.select(photos.c.data).where(photos.c.user_id == key)).scalar()
    return bytes(data) if data is not None else None


def credentials_txn(conn: sa.Connection, user_id: int) -> StoredCredentials | None:
    row = conn.execute(
        sa.select(users.c.password_hash, users.c.nt_hash, users.c.credentials_version)
        .where(users.c.id == user_id)
    ).first()
    if row is None:
        return None
    return StoredCredentials(row.password_hash, row.nt_hash, int(row.credentials_version))


def set_credentials_txn(conn: sa.Connection, user_id: int, password_hash: str | None,
                        nt_hash: str | None, bump_version: bool) -> None:
    values: dict[str, Any] = {"password_hash": password_hash, "nt_hash": nt_hash}
    if bump_version:
        values["credentials_version"] = users.c.credentials_version + 1
    result = conn.execute(users.update().where(users.c.id == user_id).values(**values))
    if result.rowcount == 0:
        raise NotFound(f"no user {user_id}")


def domains_txn(conn: sa.Connection) -> list[str]:
    return [str(n) for n in conn.execute(sa.select(domains.c.name).order_by(domains.c.name))
            .scalars()]


# --------------------------------------------------------------------------- writing


def anr_keys_for(rec: Recipient) -> set[str]:
    keys: set[str] = set()
    for value in (rec.display_name, rec.given_name, rec.surname):
        text = (value or "").strip().lower()
        if text:
            keys.add(text[:256])
            keys.update(w[:256] for w in text.split() if w)
    for addr in rec.addresses:
        keys.add(addr.lower()[:256])
    return keys


def refresh_anr(conn: sa.Connection, kind: str, key: int) -> None:
    column = {"user": anr_keys.c.user_id, "group": anr_keys.c.group_id,
              "contact": anr_keys.c.contact_id}[kind]
    conn.execute(anr_keys.delete().where(column == key))
    found = load_refs(conn, [(kind, key)])
    if not found:
        return
    rows = [{"key": k, column.name: key} for k in sorted(anr_keys_for(found[0]))]
    if rows:
        conn.execute(anr_keys.insert(), rows)


def add_domain_txn(conn: sa.Connection, name: str) -> str:
    name = normalize_domain(name)
    if _domain_id(conn, name) is not None:
        raise AlreadyExists(f"domain {name} exists")
    conn.execute(domains.insert().values(name=name, created_at=_now()))
    return name


def list_domains_txn(conn: sa.Connection) -> list[dict[str, Any]]:
    users_n = sa.select(sa.func.count()).where(users.c.domain_id == domains.c.id)
    groups_n = sa.select(sa.func.count()).where(groups.c.domain_id == domains.c.id)
    rows = conn.execute(
        sa.select(domains.c.name, domains.c.created_at,
                  users_n.scalar_subquery().label("users"),
                  groups_n.scalar_subquery().label("groups"))
        .order_by(domains.c.name)
    ).all()
    return [{"name": r.name, "users": int(r.users), "groups": int(r.groups),
             "created_at": r.created_at.isoformat() if r.created_at else None} for r in rows]


def remove_domain_txn(conn: sa.Connection, name: str) -> None:
    name = normalize_domain(name)
    did = _domain_id(conn, name)
    if did is None:
        raise NotFound(f"no domain {name}")
    used = conn.execute(
        sa.select(sa.func.count()).select_from(addresses).where(addresses.c.domain_id == did)
    ).scalar_one()
    used += conn.execute(
        sa.select(sa.func.count()).select_from(users).where(users.c.domain_id == did)
    ).scalar_one()
    if used:
        raise Conflict(f"domain {name} still has {used} address(es); remove them first")
    conn.execute(domains.delete().where(domains.c.id == did))


def _claim_address(conn: sa.Connection, address: str, *, user_id: int | None = None,
                   group_id: int | None = None, primary: bool = False) -> tuple[int, str]:
    localpart, domain = split_address(address)
    did = _domain_id(conn, domain)
    if did is None:
        raise NotFound(f"domain {domain} is not served here; add it with `groupware domain add`")
    taken = conn.execute(
        sa.select(addresses.c.id).where(addresses.c.domain_id == did,
                                        addresses.c.localpart == localpart)
    ).scalar()
    if taken is not None:
        raise AlreadyExists(f"address {localpart}@{domain} is already in use")
    conn.execute(addresses.insert().values(domain_id=did, localpart=localpart, user_id=user_id,
                                           group_id=group_id, is_primary=primary))
    return did, localpart


def _check_free(conn: sa.Connection, domain_id: int, localpart: str, domain: str) -> None:
    """AlreadyExists when the address (or a stale user row) already uses this name."""
    for table in (addresses, users, groups):
        taken = conn.execute(sa.select(table.c.id).where(
            table.c.domain_id == domain_id, table.c.localpart == localpart)).scalar()
        if taken is not None:
            raise AlreadyExists(f"address {localpart}@{domain} is already in use")


def _clean_attrs(attrs: dict[str, Any], allowed: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attrs.items():
        if name not in allowed:
            raise InvalidInput(f"unknown attribute {name!r}")
        if value is None:
            continue
        limit = 64 if name in ("phone", "mobile") else 1024 if name == "description" else 128
        out[name] = clean_text(str(value), limit, name.replace("_", " "))
    return out


def add_user_txn(conn: sa.Connection, settings: SqlSettings, address: str, *,
                 display_name: str = "", password_hash: str | None = None,
                 nt_hash: str | None = None, kind: RecipientKind = RecipientKind.USER,
                 aliases: Sequence[str] = (), disabled_features: Iterable[Feature] = (),
                 quota: int | None = None, is_admin: bool = False, capacity: int | None = None,
                 hidden: bool = False, manager: str | None = None,
                 attrs: dict[str, Any] | None = None) -> Recipient:
    if kind not in MAILBOX_KINDS:
        raise InvalidInput(f"{kind} is not a mailbox kind")
    localpart, domain = split_address(address)
    display = clean_text(display_name, MAX_DISPLAY_NAME, "display name") or localpart
    values = _clean_attrs(attrs or {}, USER_ATTRS)
    did = _domain_id(conn, domain)
    if did is None:
        raise NotFound(f"domain {domain} is not served here; add it with `groupware domain add`")
    if quota is not None and quota < 0:
        raise InvalidInput("quota must not be negative")
    manager_id = _resolve_user_ref(conn, manager) if manager else None
    _check_free(conn, did, localpart, domain)
    mailbox_guid = uuid.uuid4()
    result = conn.execute(users.insert().values(
        domain_id=did, localpart=localpart, display_name=display, password_hash=password_hash,
        nt_hash=nt_hash, is_admin=is_admin, created_at=_now(), kind=kind.value,
        disabled_features=format_features(frozenset(disabled_features)), quota=quota,
        capacity=capacity, hidden=hidden, manager_id=manager_id,
        mailbox_guid=str(mailbox_guid), **values,
    ))
    assert result.inserted_primary_key is not None
    uid = int(result.inserted_primary_key[0])
    conn.execute(users.update().where(users.c.id == uid).values(
        legacy_dn=legacy_dn(settings.organization, str(uid))))
    _claim_address(conn, f"{localpart}@{domain}", user_id=uid, primary=True)
    for alias in aliases:
        _claim_address(conn, alias, user_id=uid)
    refresh_anr(conn, "user", uid)
    return load_users(conn, [uid])[uid]


def _resolve_user_ref(conn: sa.Connection, ref: str) -> int:
    """A user given as ``user:12`` or as an address."""
    if ref.startswith("user:"):
        _kind, key = parse_id(ref)
        return key
    rec = find_address_txn(conn, ref)
    if rec is None or rec.user_id is None:
        raise NotFound(f"no user {ref}")
    return int(rec.user_id)


def _resolve_ref(conn: sa.Connection, ref: str) -> tuple[str, int]:
    """Any recipient given as an opaque id or as an address."""
    if ref.startswith(("user:", "group:", "contact:")):
        return parse_id(ref)
    rec = find_address_txn(conn, ref)
    if rec is None:
        raise NotFound(f"no recipient {ref}")
    return parse_id(rec.id)


def update_user_txn(conn: sa.Connection, user: str, *, display_name: str | None = None,
                    enabled: bool | None = None, quota: int | bool | None = False,
                    hidden: bool | None = None, is_admin: bool | None = None,
                    capacity: int | None = None, manager: str | None = None,
                    disabled_features: Iterable[Feature] | None = None,
                    attrs: dict[str, Any] | None = None) -> Recipient:
    uid = _resolve_user_ref(conn, user)
    values: dict[str, Any] = _clean_attrs(attrs or {}, USER_ATTRS)
    if display_name is not None:
        values["display_name"] = clean_text(display_name, MAX_DISPLAY_NAME, "display name")
    if enabled is not None:
        values["enabled"] = enabled
    if quota is not False:
        if isinstance(quota, int) and not isinstance(quota, bool) and quota < 0:
            raise InvalidInput("quota must not be negative")
        values["quota"] = quota
    if hidden is not None:
        values["hidden"] = hidden
    if is_admin is not None:
        values["is_admin"] = is_admin
    if capacity is not None:
        values["capacity"] = capacity
    if manager is not None:
        values["manager_id"] = _resolve_user_ref(conn, manager) if manager else None
    if disabled_features is not None:
        values["disabled_features"] = format_features(frozenset(disabled_features))
    if values:
        conn.execute(users.update().where(users.c.id == uid).values(**values))
    refresh_anr(conn, "user", uid)
    return load_users(conn, [uid])[uid]


def remove_user_txn(conn: sa.Connection, user: str) -> None:
    uid = _resolve_user_ref(conn, user)
    conn.execute(users.update().where(users.c.manager_id == uid).values(manager_id=None))
    conn.execute(users.delete().where(users.c.id == uid))


def add_alias_txn(conn: sa.Connection, owner: str, alias: str) -> Recipient:
    kind, key = _resolve_ref(conn, owner)
    if kind == "contact":
        raise InvalidInput("contacts have no local aliases")
    _claim_address(conn, alias, user_id=key if kind == "user" else None,
                   group_id=key if kind == "group" else None)
    refresh_anr(conn, kind, key)
    return load_refs(conn, [(kind, key)])[0]


def remove_alias_txn(conn: sa.Connection, alias: str) -> Recipient:
    localpart, domain = split_address(alias)
    row = conn.execute(
        sa.select(addresses.c.id, addresses.c.user_id, addresses.c.group_id,
                  addresses.c.is_primary)
        .join(domains, domains.c.id == addresses.c.domain_id)
        .where(domains.c.name == domain, addresses.c.localpart == localpart)
    ).first()
    if row is None:
        raise NotFound(f"no alias {localpart}@{domain}")
    if row.is_primary:
        raise Conflict(f"{localpart}@{domain} is a primary address, not an alias")
    conn.execute(addresses.delete().where(addresses.c.id == row.id))
    ref = ("user", int(row.user_id)) if row.user_id is not None else ("group", int(row.group_id))
    refresh_anr(conn, *ref)
    return load_refs(conn, [ref])[0]


def set_photo_txn(conn: sa.Connection, user: str, data: bytes | None,
                  content_type: str = "image/jpeg") -> None:
    uid = _resolve_user_ref(conn, user)
    conn.execute(photos.delete().where(photos.c.user_id == uid))
    if data is None:
        return
    if len(data) > MAX_PHOTO:
        raise InvalidInput(f"photo is larger than {MAX_PHOTO // 1024} KiB")
    if not (data.startswith(b"\xff\xd8\xff") or data.startswith(b"\x89PNG\r\n\x1a\n")):
        raise InvalidInput("photo must be a JPEG or PNG image")
    conn.execute(photos.insert().values(user_id=uid, data=data, content_type=content_type,
                                        updated_at=_now()))


def add_group_txn(conn: sa.Connection, settings: SqlSettings, address: str, *,
                  display_name: str = "", description: str = "",
                  hidden: bool = False) -> Recipient:
    localpart, domain = split_address(address)
    did = _domain_id(conn, domain)
    if did is None:
        raise NotFound(f"domain {domain} is not served here; add it with `groupware domain add`")
    _check_free(conn, did, localpart, domain)
    result = conn.execute(groups.insert().values(
        domain_id=did, localpart=localpart, created_at=_now(), hidden=hidden,
        display_name=clean_text(display_name, MAX_DISPLAY_NAME, "display name") or localpart,
        description=clean_text(description, 1024, "description"),
    ))
    assert result.inserted_primary_key is not None
    gid = int(result.inserted_primary_key[0])
    conn.execute(groups.update().where(groups.c.id == gid).values(
        legacy_dn=legacy_dn(settings.organization, f"group-{gid}")))
    _claim_address(conn, f"{localpart}@{domain}", group_id=gid, primary=True)
    refresh_anr(conn, "group", gid)
    return load_groups(conn, [gid])[gid]


def _group_key(conn: sa.Connection, group: str) -> int:
    kind, key = _resolve_ref(conn, group)
    if kind != "group":
        raise NotFound(f"{group} is not a group")
    return key


def add_member_txn(conn: sa.Connection, group: str, member: str) -> None:
    gid = _group_key(conn, group)
    kind, key = _resolve_ref(conn, member)
    if kind == "group" and key == gid:
        raise InvalidInput("a group cannot contain itself")
    column = {"user": "user_id", "group": "member_group_id", "contact": "contact_id"}[kind]
    exists = conn.execute(
        sa.select(group_members.c.id).where(group_members.c.group_id == gid,
                                            group_members.c[column] == key)
    ).scalar()
    if exists is not None:
        raise AlreadyExists(f"{member} is already a member")
    conn.execute(group_members.insert().values(group_id=gid, **{column: key}))


def remove_member_txn(conn: sa.Connection, group: str, member: str) -> None:
    gid = _group_key(conn, group)
    kind, key = _resolve_ref(conn, member)
    column = {"user": "user_id", "group": "member_group_id", "contact": "contact_id"}[kind]
    result = conn.execute(group_members.delete().where(group_members.c.group_id == gid,
                                                       group_members.c[column] == key))
    if result.rowcount == 0:
        raise NotFound(f"{member} is not a member")


def remove_group_txn(conn: sa.Connection, group: str) -> None:
    conn.execute(groups.delete().where(groups.c.id == _group_key(conn, group)))


def add_contact_txn(conn: sa.Connection, settings: SqlSettings, address: str, *,
                    display_name: str = "", hidden: bool = False,
                    attrs: dict[str, Any] | None = None) -> Recipient:
    address = normalize_address(address)
    domain = address.split("@")[1]
    if _domain_id(conn, domain) is not None:
        raise InvalidInput(f"{address} is in a local domain; contacts are external")
    if conn.execute(sa.select(contacts.c.id).where(contacts.c.address == address)).scalar():
        raise AlreadyExists(f"contact {address} exists")
    result = conn.execute(contacts.insert().values(
        address=address, created_at=_now(), hidden=hidden,
        display_name=clean_text(display_name, MAX_DISPLAY_NAME, "display name") or address,
        **_clean_attrs(attrs or {}, CONTACT_ATTRS),
    ))
    assert result.inserted_primary_key is not None
    cid = int(result.inserted_primary_key[0])
    conn.execute(contacts.update().where(contacts.c.id == cid).values(
        legacy_dn=legacy_dn(settings.organization, f"contact-{cid}")))
    refresh_anr(conn, "contact", cid)
    return load_contacts(conn, [cid])[cid]


def remove_contact_txn(conn: sa.Connection, contact: str) -> None:
    kind, key = _resolve_ref(conn, contact)
    if kind != "contact":
        raise NotFound(f"{contact} is not a contact")
    conn.execute(contacts.delete().where(contacts.c.id == key))


# --------------------------------------------------------------------------- the class


class SqlDirectory(Directory):
    """The directory in the server's own database."""

    name = "sql"
    writable = True

    def __init__(self, db: Database, settings: SqlSettings | None = None) -> None:
        self.db = db
        self.settings = settings or SqlSettings()

    async def domains(self) -> list[str]:
        return await self.db.run_read("dir_domains", domains_txn)

    async def resolve_login(self, login: str) -> Recipient | None:
        parse_login(login)  # raise InvalidInput before touching the database
        return await self.db.run_read("dir_resolve_login", resolve_login_txn, login,
                                      self.settings.default_domain)

    async def get(self, recipient_id: str) -> Recipient | None:
        return await self.db.run_read("dir_get", get_txn, recipient_id)

    async def get_user(self, user_id: UserId) -> Recipient | None:
        found = await self.db.run_read("dir_get_user", load_users, [int(user_id)])
        return found.get(int(user_id))

    async def find_address(self, address: str) -> Recipient | None:
        return await self.db.run_read("dir_find_address", find_address_txn, address)

    async def find_legacy_dn(self, dn: str) -> Recipient | None:
        return await self.db.run_read("dir_find_legacy_dn", find_legacy_dn_txn, dn)

    async def anr(self, query: str, *, limit: int = 50,
                  kinds: Iterable[RecipientKind] | None = None) -> list[Recipient]:
        kinds = list(kinds) if kinds is not None else None
        return await self.db.run_read("dir_anr", anr_txn, query, max(0, min(limit, 1000)),
                                      kinds)

    async def list_recipients(self, *, offset: int = 0, limit: int = 100,
                              kinds: Iterable[RecipientKind] | None = None,
                              include_hidden: bool = False) -> Page:
        kinds = list(kinds) if kinds is not None else None
        return await self.db.run_read("dir_list", list_txn, offset, limit, kinds,
                                      include_hidden)

    async def group_members(self, group_id: str) -> list[Recipient]:
        return await self.db.run_read("dir_members", members_txn, group_id)

    async def expand_group(self, group_id: str) -> list[Recipient]:
        return await self.db.run_read("dir_expand", expand_txn, group_id,
                                      self.settings.max_group_depth)

    async def member_of(self, recipient_id: str) -> list[Recipient]:
        return await self.db.run_read("dir_member_of", member_of_txn, recipient_id)

    async def get_photo(self, recipient_id: str) -> bytes | None:
        return await self.db.run_read("dir_photo", photo_txn, recipient_id)

    async def get_credentials(self, user_id: UserId) -> StoredCredentials | None:
        return await self.db.run_read("dir_credentials", credentials_txn, int(user_id))

    async def set_credentials(self, user_id: UserId, password_hash: str | None,
                              nt_hash: str | None, *, bump_version: bool) -> None:
        await self.db.run_interaction("dir_set_credentials", set_credentials_txn,
                                      int(user_id), password_hash, nt_hash, bump_version)

    # Admin operations: thin async wrappers so the CLI and handlers share one code path.
    async def write(self, desc: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.db.run_interaction(desc, fn, *args, **kwargs)
