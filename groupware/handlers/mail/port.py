"""What the mail view needs from the message store, as one small interface.

The mail gateways (IMAP, POP3) see a mailbox as folders of RFC 5322 messages with
UIDs, flags and modification sequences. The MAPI store owns all of that (UIDs,
UIDVALIDITY, change numbers = MODSEQ, read state, tombstones); this interface names
exactly the operations the gateways use, so the view and the protocol sessions do
not depend on the store's much wider MAPI API, and the mapping of IMAP flags to
MAPI properties (:mod:`.flags`) sits in one adapter
(:mod:`.mapistore_port`, which delivery uses too).

Flags cross this interface as IMAP-style names (``\\Seen``, ``\\Flagged``,
``\\Answered``, ``\\Draft``, ``\\Deleted``, ``$Forwarded`` and keywords) because
every mail protocol we serve speaks them; ``\\Recent`` never does (per-session).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from directory.model import Recipient

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
"""Flags every message can carry (RFC 9051 2.3.2)."""


@dataclass(frozen=True, slots=True)
class FolderRow:
    """One folder of a mailbox as the store knows it.

    ``parent`` is None for the top of the mail hierarchy (the IPM subtree's
    children). ``role`` is the special-folder role (``inbox``, ``sent`` ...).
    """

    fid: int
    parent: int | None
    name: str
    role: str | None
    container_class: str
    uidvalidity: int
    uidnext: int
    highest_modseq: int
    messages: int
    unseen: int
    deleted: int
    size: int
    subscribed: bool = True


@dataclass(frozen=True, slots=True)
class MessageState:
    """What a session keeps per message: identity, flags and their MODSEQ."""

    uid: int
    flags: frozenset[str]
    modseq: int


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """Per-message facts that never change after delivery (INTERNALDATE, size)."""

    uid: int
    size: int
    internal_date: float
    """Seconds since the epoch (UTC) when the store received the message."""


@dataclass(frozen=True, slots=True)
class FolderSnapshot:
    """A folder's state at one point: every live message in UID order."""

    uidvalidity: int
    uidnext: int
    highest_modseq: int
    messages: tuple[MessageState, ...]


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """What changed in a folder after a MODSEQ: changed/new messages and vanished UIDs."""

    uidvalidity: int
    uidnext: int
    highest_modseq: int
    changed: tuple[MessageState, ...]
    vanished: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class FlagChange:
    """A STORE request: replace all flags, or add/remove some, on UIDs of a folder."""

    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()
    replace: frozenset[str] | None = None

    def apply(self, flags: frozenset[str]) -> frozenset[str]:
        if self.replace is not None:
            return self.replace
        return (flags | self.add) - self.remove


@dataclass(frozen=True, slots=True)
class StoreResult:
    """Outcome of a flag change: new states, and UIDs refused by UNCHANGEDSINCE."""

    changed: tuple[MessageState, ...]
    unchanged: tuple[MessageState, ...] = ()
    conflicts: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Quota:
    """Storage used and allowed (bytes; ``limit`` None = unlimited); message counts."""

    used: int
    limit: int | None
    messages: int = 0
    message_limit: int | None = None


@dataclass(frozen=True, slots=True)
class MailboxRef:
    """An opened mailbox: the store id events are published under, and its owner."""

    store_id: int
    user: Recipient = field(repr=False)


class MailStore(Protocol):
    """The store operations the mail gateways use. All ids are the store's."""

    async def open_mailbox(self, user: Recipient) -> MailboxRef:
        """The user's mailbox, provisioned on first use."""
        ...

    async def folders(self, box: MailboxRef, *, fresh: bool = True) -> list[FolderRow]:
        """Every mail folder (IPF.Note and folders without a class) below the IPM
        subtree; non-mail folders are left out, their mail children too.

        With ``fresh=False`` the answer may come from a cache of the folder tree: names,
        ids, UIDVALIDITY and subscriptions are current, counters may not be."""
        ...

    async def folder(self, box: MailboxRef, fid: int) -> FolderRow:
        """One folder; NotFound when it is gone."""
        ...

    async def create_folder(self, box: MailboxRef, parent: int | None, name: str) -> int:
        """A new mail folder; AlreadyExists for a taken name."""
        ...

    async def delete_folder(self, box: MailboxRef, fid: int) -> None:
        """Delete a folder and its messages; special folders are refused (DENIED)."""
        ...

    async def rename_folder(self, box: MailboxRef, fid: int, parent: int | None,
                            name: str) -> None:
        ...

    async def set_subscribed(self, box: MailboxRef, fid: int, subscribed: bool) -> None:
        ...

    async def snapshot(self, box: MailboxRef, fid: int) -> FolderSnapshot:
        ...

    async def changes_since(self, box: MailboxRef, fid: int, modseq: int) -> FolderChanges:
        """Messages whose MODSEQ is above ``modseq`` and UIDs expunged after it."""
        ...

    async def message_info(self, box: MailboxRef, fid: int,
                           uids: Sequence[int]) -> dict[int, MessageInfo]:
        ...

    async def read_mime(self, box: MailboxRef, fid: int, uid: int) -> bytes:
        """The byte-exact RFC 5322 message; NotFound when it was expunged."""
        ...

    async def append(self, box: MailboxRef, fid: int, raw: bytes, flags: Iterable[str],
                     internal_date: float | None) -> MessageState:
        """Store a message; QuotaExceeded/TooBig when it does not fit."""
        ...

    async def store_flags(self, box: MailboxRef, fid: int, uids: Sequence[int],
                          change: FlagChange, unchanged_since: int | None) -> StoreResult:
        ...

    async def copy(self, box: MailboxRef, fid: int, uids: Sequence[int], target: int, *,
                   move: bool) -> list[tuple[int, int]]:
        """Copy (or move) messages; the (source UID, new UID) pairs in source order."""
        ...

    async def expunge(self, box: MailboxRef, fid: int, uids: Sequence[int]) -> list[int]:
        """Delete these messages for good; the UIDs that were removed."""
        ...

    async def quota(self, box: MailboxRef) -> Quota:
        ...
