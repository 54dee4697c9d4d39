"""One directory content, written into the SQL directory or into slapd as LDIF, so the
same test suite checks both implementations."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from tests.directory.slapd import SUFFIX, ssha

PASSWORDS = {
    "alice": "Wonderland-ü1:colon",      # non-ASCII and a ':' (ejabberd frames split on it)
    "bob": "builder-pw",
    "carol": "carol-pw",
    "dave": "dave-pw",
    "alice2": "other-alice-pw",
    "xstar": "star-pw",
}
# A tiny valid JPEG header + payload (enough for "is it a JPEG" checks).
PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(64)) + b"\xff\xd9"


@dataclass
class U:
    key: str
    uid: str
    address: str
    display: str
    given: str = ""
    surname: str = ""
    title: str = ""
    aliases: list[str] = field(default_factory=list)
    disabled_features: list[str] = field(default_factory=list)
    enabled: bool = True
    kind: str = "user"
    hidden: bool = False
    capacity: int | None = None
    manager: str | None = None
    photo: bytes | None = None


USERS = [
    U("alice", "alice", "alice@example.test", "Alice Liddell", "Alice", "Liddell", "Engineer",
      aliases=["al@example.test", "a.liddell@example.org"], photo=PHOTO),
    U("bob", "bob", "bob@example.test", "Bob Builder", "Bob", "Builder",
      disabled_features=["imap"], manager="alice"),
    U("carol", "carol", "carol@example.test", "Carol Danvers", "Carol", "Danvers",
      enabled=False),
    U("dave", "dave", "dave@example.org", "Dave Smith", "Dave", "Smith"),
    U("alice2", "alice.org", "alice@example.org", "Alice Other", "Alice", "Other"),
    U("xstar", "xstar", "x*y@example.test", "Star (Test)", "Star", "Test"),
    U("room", "boardroom", "boardroom@example.test", "Board Room", kind="room", capacity=12),
    U("beamer", "beamer", "beamer@example.test", "Beamer One", kind="equipment"),
    U("svc", "svc-backup", "svc-backup@example.test", "Backup Service", hidden=True),
]
GROUPS = {
    # address: (display, members: user keys / group addresses / contact addresses)
    "team@example.test": ("Team", ["alice", "bob", "devs@example.test"]),
    "devs@example.test": ("Developers", ["carol", "dave", "erin@partner.example",
                                         "team@example.test"]),  # a cycle on purpose
    "all@example.test": ("Everyone", ["team@example.test"]),
}
CONTACTS = [("erin@partner.example", "Erin External", "Erin", "External")]
USER_BY_KEY = {u.key: u for u in USERS}


def populate_sql(db: Any, hasher: Any) -> None:
    from directory import sql
    from directory.model import RecipientKind, parse_features

    settings = sql.SqlSettings()

    def txn(conn: Any) -> None:
        for dom in ("example.test", "example.org"):
            sql.add_domain_txn(conn, dom)
        ids = {}
        for u in USERS:
            pw = PASSWORDS.get(u.key)
            rec = sql.add_user_txn(
                conn, settings, u.address, display_name=u.display,
                password_hash=hasher.hash(pw) if pw else None, kind=RecipientKind(u.kind),
                aliases=u.aliases, disabled_features=parse_features(u.disabled_features),
                hidden=u.hidden, capacity=u.capacity,
                manager=USER_BY_KEY[u.manager].address if u.manager else None,
                attrs={"given_name": u.given, "surname": u.surname, "title": u.title})
            ids[u.key] = rec.id
            if not u.enabled:
                sql.update_user_txn(conn, rec.id, enabled=False)
            if u.photo:
                sql.set_photo_txn(conn, rec.id, u.photo)
        for address, given, *_ in CONTACTS:
            sql.add_contact_txn(conn, settings, address, display_name=CONTACTS[0][1],
                                attrs={"given_name": CONTACTS[0][2], "surname": CONTACTS[0][3]})
            del given
        for address, (display, _members) in GROUPS.items():
            sql.add_group_txn(conn, settings, address, display_name=display)
        for address, (_display, members) in GROUPS.items():
            for m in members:
                sql.add_member_txn(conn, address, ids.get(m) or m)

    db.run_sync("populate", txn)


def user_dn(u: U) -> str:
    return f"uid={u.uid},ou=people,{SUFFIX}"


def ldap_ldif() -> str:
    out = []
    for u in USERS:
        lines = [f"dn: {user_dn(u)}", "objectClass: inetOrgPerson",
                 "objectClass: inetLocalMailRecipient", "objectClass: groupwareUser",
                 f"uid: {u.uid}", f"cn: {u.display}", f"displayName: {u.display}",
                 f"sn: {u.surname or u.display}", f"mail: {u.address}"]
        if u.given:
            lines.append(f"givenName: {u.given}")
        if u.title:
            lines.append(f"title: {u.title}")
        # One alias in each attribute the openldap preset reads.
        lines += [f"gwAlias: {a}" for a in u.aliases[:1]]
        lines += [f"mailLocalAddress: {a}" for a in u.aliases[1:]]
        lines += [f"gwDisabledFeature: {f}" for f in u.disabled_features]
        if not u.enabled:
            lines.append("gwAccountDisabled: TRUE")
        if u.kind != "user":
            lines.append(f"gwRecipientType: {u.kind}")
        if u.hidden:
            lines.append("gwHidden: TRUE")
        if u.capacity:
            lines.append(f"gwCapacity: {u.capacity}")
        if u.manager:
            lines.append(f"manager: {user_dn(USER_BY_KEY[u.manager])}")
        if u.photo:
            lines.append(f"jpegPhoto:: {base64.b64encode(u.photo).decode()}")
        if u.key in PASSWORDS:
            lines.append(f"userPassword: {ssha(PASSWORDS[u.key])}")
        out.append("\n".join(lines))
    for address, display, given, surname in CONTACTS:
        out.append("\n".join([
            f"dn: cn={display},ou=contacts,{SUFFIX}", "objectClass: inetOrgPerson",
            "objectClass: groupwareUser", f"cn: {display}", f"displayName: {display}",
            f"givenName: {given}", f"sn: {surname}", f"mail: {address}",
            "gwRecipientType: contact"]))
    for address, (display, members) in GROUPS.items():
        lines = [f"dn: cn={address.split('@')[0]},ou=groups,{SUFFIX}",
                 "objectClass: groupOfNames", "objectClass: groupwareGroup",
                 f"cn: {address.split('@')[0]}", f"displayName: {display}",
                 f"mail: {address}"]
        for m in members:
            if m in USER_BY_KEY:
                lines.append(f"member: {user_dn(USER_BY_KEY[m])}")
            elif m in GROUPS:
                lines.append(f"member: cn={m.split('@')[0]},ou=groups,{SUFFIX}")
            else:
                contact = next(c for c in CONTACTS if c[0] == m)
                lines.append(f"member: cn={contact[1]},ou=contacts,{SUFFIX}")
        out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"
