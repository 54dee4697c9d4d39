"""An in-process :class:`~.port.MailStore` used until the MAPI store lands.

The MAPI store (``storage.mapistore``) is being written in parallel; the IMAP gateway
needs a mailbox to serve now, so this adapter keeps folders and messages in memory,
with the same rules the store will enforce: UIDs only grow within a UIDVALIDITY,
every change takes the next per-mailbox change number (= MODSEQ), expunges leave
tombstones so ``changes_since`` reports VANISHED UIDs, and every change is
published on the notifier's ``store:<id>`` channel, which wakes IDLE sessions.

It is deliberately not persistent: contents are lost when the process stops. The
server uses it only while :class:`groupware.server.GroupwareServer` has no MAPI
store; replacing it is a matter of one adapter class implementing the port.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from directory.model import Recipient
from groupware.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied, TooBig
from groupware.notifier import Event, Notifier, store_channel

from .port import (
    FlagChange,
    FolderChanges,
    FolderRow,
    FolderSnapshot,
    MailboxRef,
    MessageInfo,
    MessageState,
    Quota,
    StoreResult,
)

logger = logging.getLogger(__name__)

DEFAULT_FOLDERS = (
    ("inbox", "Inbox"),
    ("drafts", "Drafts"),
    ("sent", "Sent Items"),
    ("deleted", "Deleted Items"),
    ("junk", "Junk E-mail"),
    ("outbox", "Outbox"),
)
"""Special mail folders every mailbox starts with (MS-OXOSFLD English names)."""


@dataclass
class _Message:
    uid: int
    raw: bytes
    flags: frozenset[str]
    modseq: int
    internal_date: float

    def state(self) -> MessageState:
        return MessageState(self.uid, self.flags, self.modseq)


@dataclass
class _Folder:
    fid: int
    parent: int | None
    name: str
    role: str | None
    uidvalidity: int
    uidnext: int = 1
    subscribed: bool = True
    highest_modseq: int = 0
    messages: dict[int, _Message] = field(default_factory=dict)
    tombstones: list[tuple[int, int]] = field(default_factory=list)  # (modseq, uid)


@dataclass
class _Mailbox:
    store_id: int
    folders: dict[int, _Folder] = field(default_factory=dict)
    last_modseq: int = 0
    last_fid: int = 0
    quota: int | None = None

    def next_modseq(self) -> int:
        self.last_modseq += 1
        return self.last_modseq


class InterimMailStore:
    """Mailboxes in memory, one per user id; see the module docstring."""

    def __init__(self, notifier: Notifier, *, max_message: int = 64 << 20,
                 default_quota: int | None = None) -> None:
        self._notifier = notifier
        self._boxes: dict[int, _Mailbox] = {}
        self._max_message = max_message
        self._default_quota = default_quota
        self._uidvalidity = int(time.time())

    # --- helpers ---------------------------------------------------------------

    def _box(self, ref: MailboxRef) -> _Mailbox:
        return self._boxes[ref.store_id]

    def _folder(self, ref: MailboxRef, fid: int) -> _Folder:
        folder = self._box(ref).folders.get(fid)
        if folder is None:
            raise NotFound(f"folder {fid} does not exist")
        return folder

    def _publish(self, box: _Mailbox, kind: str, folder: _Folder, modseq: int,
                 uids: Iterable[int] = ()) -> None:
        folder.highest_modseq = max(folder.highest_modseq, modseq)
        self._notifier.publish(store_channel(box.store_id), Event(
            kind, store=box.store_id, folder=folder.fid, ids=tuple(uids), change_number=modseq))

    def _new_folder(self, box: _Mailbox, parent: int | None, name: str,
                    role: str | None) -> _Folder:
        box.last_fid += 1
        self._uidvalidity += 1
        folder = _Folder(box.last_fid, parent, name, role, self._uidvalidity)
        folder.highest_modseq = box.next_modseq()
        box.folders[folder.fid] = folder
        return folder

    def _row(self, folder: _Folder) -> FolderRow:
        msgs = folder.messages.values()
        return FolderRow(
            fid=folder.fid, parent=folder.parent, name=folder.name, role=folder.role,
            container_class="IPF.Note", uidvalidity=folder.uidvalidity,
            uidnext=folder.uidnext, highest_modseq=folder.highest_modseq,
            messages=len(folder.messages),
            unseen=sum(1 for m in msgs if "\\Seen" not in m.flags),
            deleted=sum(1 for m in msgs if "\\Deleted" in m.flags),
            size=sum(len(m.raw) for m in msgs), subscribed=folder.subscribed)

    # --- the port ------------------------------------------------------------------

    async def open_mailbox(self, user: Recipient) -> MailboxRef:
        if user.user_id is None:
            raise InvalidInput(f"{user.address} has no mailbox")
        key = int(user.user_id)
        box = self._boxes.get(key)
        if box is None:
            box = _Mailbox(key, quota=user.quota if user.quota else self._default_quota)
            for role, name in DEFAULT_FOLDERS:
                self._new_folder(box, None, name, role)
            self._boxes[key] = box
            logger.info("interim mail store: provisioned mailbox of %s", user.address)
        return MailboxRef(key, user)

    async def folders(self, box: MailboxRef) -> list[FolderRow]:
        return [self._row(f) for f in self._box(box).folders.values()]

    async def folder(self, box: MailboxRef, fid: int) -> FolderRow:
        return self._row(self._folder(box, fid))

    async def create_folder(self, box: MailboxRef, parent: int | None, name: str) -> int:
        mb = self._box(box)
        if parent is not None:
            self._folder(box, parent)
        for f in mb.folders.values():
            if f.parent == parent and f.name.casefold() == name.casefold():
                raise AlreadyExists(f"folder {name!r} exists")
        folder = self._new_folder(mb, parent, name, None)
        self._publish(mb, "folder_created", folder, folder.highest_modseq)
        return folder.fid

    async def delete_folder(self, box: MailboxRef, fid: int) -> None:
        mb = self._box(box)
        folder = self._folder(box, fid)
        if folder.role is not None:
            raise PermissionDenied(f"special folder {folder.name!r} cannot be deleted")
        if any(f.parent == fid for f in mb.folders.values()):
            raise PermissionDenied(f"folder {folder.name!r} has subfolders")
        del mb.folders[fid]
        self._publish(mb, "folder_deleted", folder, mb.next_modseq())

    async def rename_folder(self, box: MailboxRef, fid: int, parent: int | None,
                            name: str) -> None:
        mb = self._box(box)
        folder = self._folder(box, fid)
        for f in mb.folders.values():
            if f.fid != fid and f.parent == parent and f.name.casefold() == name.casefold():
                raise AlreadyExists(f"folder {name!r} exists")
        up = parent
        while up is not None:
            if up == fid:
                raise InvalidInput("a folder cannot move below itself")
            up = mb.folders[up].parent
        folder.parent, folder.name = parent, name
        self._publish(mb, "folder_renamed", folder, mb.next_modseq())

    async def set_subscribed(self, box: MailboxRef, fid: int, subscribed: bool) -> None:
        self._folder(box, fid).subscribed = subscribed

    async def snapshot(self, box: MailboxRef, fid: int) -> FolderSnapshot:
        folder = self._folder(box, fid)
        return FolderSnapshot(folder.uidvalidity, folder.uidnext, folder.highest_modseq,
                              tuple(m.state() for m in folder.messages.values()))

    async def changes_since(self, box: MailboxRef, fid: int, modseq: int) -> FolderChanges:
        folder = self._folder(box, fid)
        changed = tuple(m.state() for m in folder.messages.values() if m.modseq > modseq)
        vanished = tuple(sorted(uid for ms, uid in folder.tombstones if ms > modseq))
        return FolderChanges(folder.uidvalidity, folder.uidnext, folder.highest_modseq,
                             changed, vanished)

    async def message_info(self, box: MailboxRef, fid: int,
                           uids: Sequence[int]) -> dict[int, MessageInfo]:
        folder = self._folder(box, fid)
        out = {}
        for uid in uids:
            m = folder.messages.get(uid)
            if m is not None:
                out[uid] = MessageInfo(uid, len(m.raw), m.internal_date)
        return out

    async def read_mime(self, box: MailboxRef, fid: int, uid: int) -> bytes:
        m = self._folder(box, fid).messages.get(uid)
        if m is None:
            raise NotFound(f"message {uid} was expunged")
        return m.raw

    def _check_quota(self, mb: _Mailbox, extra: int) -> None:
        if len(mb.folders) and mb.quota is not None:
            used = sum(len(m.raw) for f in mb.folders.values() for m in f.messages.values())
            if used + extra > mb.quota:
                from groupware.errors import QuotaExceeded

                raise QuotaExceeded("mailbox is over quota")

    async def append(self, box: MailboxRef, fid: int, raw: bytes, flags: Iterable[str],
                     internal_date: float | None) -> MessageState:
        mb = self._box(box)
        folder = self._folder(box, fid)
        if len(raw) > self._max_message:
            raise TooBig(f"message of {len(raw)} bytes is larger than the limit")
        self._check_quota(mb, len(raw))
        modseq = mb.next_modseq()
        uid = folder.uidnext
        folder.uidnext += 1
        msg = _Message(uid, bytes(raw), frozenset(flags), modseq,
                       time.time() if internal_date is None else internal_date)
        folder.messages[uid] = msg
        self._publish(mb, "new_mail", folder, modseq, (uid,))
        return msg.state()

    async def store_flags(self, box: MailboxRef, fid: int, uids: Sequence[int],
                          change: FlagChange, unchanged_since: int | None) -> StoreResult:
        mb = self._box(box)
        folder = self._folder(box, fid)
        changed: list[MessageState] = []
        unchanged: list[MessageState] = []
        conflicts: list[int] = []
        modseq = 0
        for uid in uids:
            m = folder.messages.get(uid)
            if m is None:
                continue
            if unchanged_since is not None and m.modseq > unchanged_since:
                conflicts.append(uid)
                continue
            new = change.apply(m.flags)
            if new == m.flags:
                unchanged.append(m.state())
                continue
            if not modseq:
                modseq = mb.next_modseq()
            m.flags, m.modseq = new, modseq
            changed.append(m.state())
        if changed:
            self._publish(mb, "modified", folder, modseq, (s.uid for s in changed))
        return StoreResult(tuple(changed), tuple(unchanged), tuple(conflicts))

    async def copy(self, box: MailboxRef, fid: int, uids: Sequence[int], target: int, *,
                   move: bool) -> list[tuple[int, int]]:
        mb = self._box(box)
        source = self._folder(box, fid)
        dest = self._folder(box, target)
        found = [source.messages[u] for u in uids if u in source.messages]
        if not move:
            self._check_quota(mb, sum(len(m.raw) for m in found))
        if not found:
            return []
        modseq = mb.next_modseq()
        pairs = []
        for m in found:
            uid = dest.uidnext
            dest.uidnext += 1
            dest.messages[uid] = _Message(uid, m.raw, m.flags, modseq, m.internal_date)
            pairs.append((m.uid, uid))
            if move:
                del source.messages[m.uid]
                source.tombstones.append((modseq, m.uid))
        self._publish(mb, "new_mail", dest, modseq, (p[1] for p in pairs))
        if move:
            self._publish(mb, "deleted", source, modseq, (p[0] for p in pairs))
        return pairs

    async def expunge(self, box: MailboxRef, fid: int, uids: Sequence[int]) -> list[int]:
        mb = self._box(box)
        folder = self._folder(box, fid)
        gone = [u for u in uids if u in folder.messages]
        if not gone:
            return []
        modseq = mb.next_modseq()
        for uid in gone:
            del folder.messages[uid]
            folder.tombstones.append((modseq, uid))
        self._publish(mb, "deleted", folder, modseq, gone)
        return gone

    async def quota(self, box: MailboxRef) -> Quota:
        mb = self._box(box)
        used = sum(len(m.raw) for f in mb.folders.values() for m in f.messages.values())
        count = sum(len(f.messages) for f in mb.folders.values())
        return Quota(used, mb.quota, count)
