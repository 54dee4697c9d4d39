"""Value types shared across layers.

They are ``NewType`` wrappers so that mypy keeps a folder id from being passed where a
message id is expected, at no run-time cost.
"""

from __future__ import annotations

import enum
from typing import NewType

UserId = NewType("UserId", int)
DomainId = NewType("DomainId", int)
StoreId = NewType("StoreId", int)
FolderId = NewType("FolderId", int)
"""64-bit MAPI folder id: 16-bit replica id + 48-bit global counter (MS-OXCDATA 2.2.1.1)."""
MessageId = NewType("MessageId", int)
"""64-bit MAPI message id, same layout as :data:`FolderId`."""
ChangeNumber = NewType("ChangeNumber", int)
"""Per-store monotonically increasing change number (the one change log)."""
PropTag = NewType("PropTag", int)
"""32-bit property tag: property id in the high word, type in the low word."""


class Feature(enum.StrEnum):
    """Per-user features; each login path checks the one it serves."""

    IMAP = "imap"
    POP3 = "pop3"
    SMTP = "smtp"
    MOBILE = "mobile"
    OUTLOOK = "outlook"
    CHAT = "chat"
    DAV = "dav"


ALL_FEATURES: frozenset[Feature] = frozenset(Feature)


class FolderRole(enum.StrEnum):
    """Special folder roles of MS-OXOSFLD, plus ``fallback`` for every other folder."""

    ROOT = "root"
    IPM_SUBTREE = "ipm_subtree"
    INBOX = "inbox"
    OUTBOX = "outbox"
    SENT = "sent"
    DELETED = "deleted"
    DRAFTS = "drafts"
    CALENDAR = "calendar"
    CONTACTS = "contacts"
    TASKS = "tasks"
    NOTES = "notes"
    JOURNAL = "journal"
    JUNK = "junk"
    FALLBACK = "fallback"
