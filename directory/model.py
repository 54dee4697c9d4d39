"""Directory records shared by every implementation and every consumer.

One flat :class:`Recipient` type serves users, resources, groups and contacts because
the consumers (NSPI tables, ActiveSync GAL search, XMPP rosters) show them side by side
and sort them together; ``kind`` says which one a record is.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from groupware.types import ALL_FEATURES, Feature, UserId

LEGACY_DN_GROUP = "/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients"


class RecipientKind(enum.StrEnum):
    USER = "user"
    ROOM = "room"
    EQUIPMENT = "equipment"
    GROUP = "group"
    CONTACT = "contact"


MAILBOX_KINDS = frozenset({RecipientKind.USER, RecipientKind.ROOM, RecipientKind.EQUIPMENT})


def legacy_dn(organization: str, cn: str) -> str:
    """``/o=<org>/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=<cn>``."""
    return f"/o={organization}{LEGACY_DN_GROUP}/cn={cn}"


@dataclass(frozen=True)
class Recipient:
    """One address-book entry.

    ``id`` is an opaque, stable string (``user:12``, ``group:<entryUUID>`` ...): callers
    keep it and hand it back to :meth:`Directory.get`. Mailbox owners also have
    ``user_id``, the integer key the store uses.
    """

    id: str
    kind: RecipientKind
    display_name: str
    address: str | None
    aliases: tuple[str, ...] = ()
    legacy_dn: str = ""
    given_name: str = ""
    surname: str = ""
    title: str = ""
    department: str = ""
    office: str = ""
    company: str = ""
    phone: str = ""
    mobile: str = ""
    description: str = ""
    manager_id: str | None = None
    hidden: bool = False
    # Mailbox owners (users and resources)
    user_id: UserId | None = None
    enabled: bool = True
    is_admin: bool = False
    disabled_features: frozenset[Feature] = field(default_factory=frozenset)
    mailbox_guid: uuid.UUID | None = None
    quota: int | None = None
    """Bytes; None = the configured default."""
    capacity: int | None = None
    credentials_version: int = 0
    has_photo: bool = False

    @property
    def features(self) -> frozenset[Feature]:
        return ALL_FEATURES - self.disabled_features

    @property
    def is_mailbox(self) -> bool:
        return self.kind in MAILBOX_KINDS

    @property
    def addresses(self) -> tuple[str, ...]:
        return ((self.address,) if self.address else ()) + self.aliases

    def as_dict(self) -> dict[str, object]:
        """Plain data for ``--json`` output and HTTP answers."""
        return {
            "id": self.id,
            "kind": self.kind.value,
            "display_name": self.display_name,
            "address": self.address,
            "aliases": list(self.aliases),
            "legacy_dn": self.legacy_dn,
            "given_name": self.given_name,
            "surname": self.surname,
            "title": self.title,
            "department": self.department,
            "office": self.office,
            "company": self.company,
            "phone": self.phone,
            "mobile": self.mobile,
            "description": self.description,
            "manager_id": self.manager_id,
            "hidden": self.hidden,
            "user_id": self.user_id,
            "enabled": self.enabled,
            "is_admin": self.is_admin,
            "features": sorted(f.value for f in self.features) if self.is_mailbox else [],
            "disabled_features": sorted(f.value for f in self.disabled_features),
            "mailbox_guid": str(self.mailbox_guid) if self.mailbox_guid else None,
            "quota": self.quota,
            "capacity": self.capacity,
            "has_photo": self.has_photo,
        }


@dataclass(frozen=True)
class Page:
    """One page of a sorted listing and the size of the whole listing."""

    total: int
    offset: int
    items: tuple[Recipient, ...]


@dataclass(frozen=True)
class StoredCredentials:
    """What the SQL directory keeps for password checks (never shown to users)."""

    password_hash: str | None
    nt_hash: str | None
    version: int


def parse_features(value: str | list[str] | tuple[str, ...] | None) -> frozenset[Feature]:
    """``"imap, pop3"`` or ``["imap"]`` -> features; unknown names raise ValueError."""
    if not value:
        return frozenset()
    items = value.split(",") if isinstance(value, str) else list(value)
    out = set()
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        try:
            out.add(Feature(name))
        except ValueError:
            known = ", ".join(f.value for f in Feature)
            raise ValueError(f"unknown feature {name!r} (known: {known})") from None
    return frozenset(out)


def format_features(features: frozenset[Feature]) -> str:
    return ",".join(sorted(f.value for f in features))
