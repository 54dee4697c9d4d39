"""The mailbox as mail clients see it: named folders, UID/MSN maps, flag updates.

Protocol-neutral logic shared by the mail gateways (IMAP, POP3), on top
of :class:`~.port.MailStore`:

* Folder names: the Inbox is ``INBOX``; the IPM subtree's mail folders are the top
  level, children are joined with ``/``. Non-mail folders (calendar, contacts ...)
  are not shown. Special folders carry their RFC 6154 SPECIAL-USE attribute.
* A selected folder keeps the session's view of the folder — the UIDs in message
  sequence number order, each message's flags and MODSEQ — and brings it up to date
  from the store's change log (``changes_since`` the MODSEQ it last saw). Expunges
  found that way stay pending until the protocol may announce them, as IMAP forbids
  renumbering messages in the middle of FETCH, STORE and SEARCH.
* :class:`ChangeFeed` lets thousands of sessions of one folder share one change
  query per change, which is what keeps IDLE wake-ups fast.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from directory.model import Recipient
from groupware.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from groupware.notifier import Event, Notifier, Subscription, store_channel

from .port import (
    FlagChange,
    FolderChanges,
    FolderRow,
    MailboxRef,
    MailStore,
    MessageInfo,
    MessageState,
    Quota,
    StoreResult,
)

logger = logging.getLogger(__name__)

DELIMITER = "/"
INBOX = "INBOX"

SPECIAL_USE: dict[str, str] = {
    "drafts": "\\Drafts",
    "sent": "\\Sent",
    "deleted": "\\Trash",
    "junk": "\\Junk",
}
"""Folder role -> RFC 6154 attribute."""

MAIL_CLASSES = ("", "IPF.Note")


@dataclass(frozen=True, slots=True)
class MailFolder:
    """A folder under its client-visible name."""

    name: str
    row: FolderRow
    has_children: bool

    @property
    def fid(self) -> int:
        return self.row.fid

    @property
    def special_use(self) -> str | None:
        return SPECIAL_USE.get(self.row.role or "")

    @property
    def subscribed(self) -> bool:
        return self.row.subscribed


def is_mail_class(container_class: str) -> bool:
    return container_class in MAIL_CLASSES or container_class.startswith("IPF.Note.")


def folder_names(rows: Sequence[FolderRow]) -> list[MailFolder]:
    """Client names of mail folders, parents before children, INBOX first."""
    by_id = {r.fid: r for r in rows}
    children: dict[int | None, list[FolderRow]] = {}
    for r in rows:
        if is_mail_class(r.container_class):
            children.setdefault(r.parent if r.parent in by_id else None, []).append(r)
    out: list[MailFolder] = []

    def walk(parent: int | None, prefix: str) -> None:
        kids = sorted(children.get(parent, ()),
                      key=lambda r: (r.role != "inbox", r.name.casefold()))
        for r in kids:
            if parent is None and r.role == "inbox":
                name = INBOX
            else:
                name = prefix + r.name.replace(DELIMITER, "_")
            out.append(MailFolder(name, r, bool(children.get(r.fid))))
            walk(r.fid, name + DELIMITER)

    walk(None, "")
    return out


def normalise_name(name: str) -> str:
    """``inbox`` in any case and ``inbox/x`` are spelled ``INBOX``; trailing ``/`` dropped."""
    name = name.rstrip(DELIMITER) if name != DELIMITER else name
    head, sep, tail = name.partition(DELIMITER)
    if head.upper() == INBOX:
        return INBOX + sep + tail
    return name


class ChangeFeed:
    """Coalesces identical ``changes_since`` queries of concurrent sessions.

    When a change wakes 5,000 IDLE sessions of one folder they all ask the store for
    the changes after the same MODSEQ; one query answers them all.
    """

    def __init__(self, store: MailStore) -> None:
        self._store = store
        self._inflight: dict[tuple[int, int, int], asyncio.Future[FolderChanges]] = {}

    async def changes_since(self, box: MailboxRef, fid: int, modseq: int) -> FolderChanges:
        key = (box.store_id, fid, modseq)
        fut = self._inflight.get(key)
        if fut is None:
            fut = asyncio.ensure_future(self._store.changes_since(box, fid, modseq))
            self._inflight[key] = fut
            fut.add_done_callback(lambda _f: self._inflight.pop(key, None))
        return await asyncio.shield(fut)


@dataclass
class Updates:
    """What a sync found, for the protocol to announce."""

    expunged: list[int] = field(default_factory=list)
    """Message sequence numbers, each valid at the moment it is announced (in order)."""
    expunged_uids: list[int] = field(default_factory=list)
    exists: int | None = None
    changed: list[MessageState] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.expunged or self.exists is not None or self.changed)


class SelectedFolder:
    """One session's view of a selected folder (see the module docstring)."""

    def __init__(self, mail: MailSession, folder: MailFolder, *, read_only: bool,
                 uidvalidity: int, uidnext: int, highest_modseq: int,
                 messages: Iterable[MessageState]) -> None:
        self.mail = mail
        self.folder = folder
        self.name = folder.name
        self.fid = folder.fid
        self.read_only = read_only
        self.uidvalidity = uidvalidity
        self.uidnext = uidnext
        self.highest_modseq = highest_modseq
        self.synced_modseq = highest_modseq
        self.uids: list[int] = []
        self.states: dict[int, MessageState] = {}
        for state in messages:
            self.uids.append(state.uid)
            self.states[state.uid] = state
        self.uids.sort()
        self.pending_expunge: set[int] = set()
        self.deleted_flag_cache: dict[int, bool] = {}

    # --- numbering ----------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def msn(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def uid_at(self, msn: int) -> int:
        return self.uids[msn - 1]

    @property
    def max_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def live(self, uid: int) -> bool:
        return uid in self.states and uid not in self.pending_expunge

    # --- keeping up with the store ---------------------------------------------------

    async def sync(self, *, expunge: bool) -> Updates:
        """Fold the store's changes into this view; announce expunges if ``expunge``."""
        changes = await self.mail.feed.changes_since(self.mail.box, self.fid, self.synced_modseq)
        if changes.uidvalidity != self.uidvalidity:
            raise NotFound(f"folder {self.name} was replaced (UIDVALIDITY changed)")
        updates = Updates()
        known_max = self.max_uid
        added = False
        for state in sorted(changes.changed, key=lambda s: s.uid):
            old = self.states.get(state.uid)
            if old is None:
                if state.uid <= known_max or state.uid in self.pending_expunge:
                    continue  # expunged before we saw it (or a stale read)
                self.uids.append(state.uid)
                known_max = state.uid
                self.states[state.uid] = state
                added = True
                continue
            if old.flags != state.flags or old.modseq != state.modseq:
                self.states[state.uid] = state
                if old.flags != state.flags or old.modseq < state.modseq:
                    updates.changed.append(state)
        for uid in changes.vanished:
            if uid in self.states:
                self.pending_expunge.add(uid)
        self.synced_modseq = max(self.synced_modseq, changes.highest_modseq)
        self.highest_modseq = max(self.highest_modseq, changes.highest_modseq)
        self.uidnext = max(self.uidnext, changes.uidnext)
        updates.changed = [s for s in updates.changed if s.uid not in self.pending_expunge]
        if expunge and self.pending_expunge:
            updates.expunged, updates.expunged_uids = self._drop(self.pending_expunge)
            self.pending_expunge = set()
        if added:
            updates.exists = len(self.uids)
        return updates

    def _drop(self, uids: Iterable[int]) -> tuple[list[int], list[int]]:
        msns: list[int] = []
        done: list[int] = []
        for uid in sorted(uids):
            pos = bisect.bisect_left(self.uids, uid)
            if pos < len(self.uids) and self.uids[pos] == uid:
                del self.uids[pos]
                self.states.pop(uid, None)
                msns.append(pos + 1)
                done.append(uid)
        return msns, done

    def note_states(self, states: Iterable[MessageState]) -> None:
        """Our own STORE changed these: keep them so the next sync does not repeat them."""
        for state in states:
            if state.uid in self.states:
                self.states[state.uid] = state
                self.highest_modseq = max(self.highest_modseq, state.modseq)

    # --- operations ------------------------------------------------------------------

    async def info(self, uids: Sequence[int]) -> dict[int, MessageInfo]:
        return await self.mail.store.message_info(self.mail.box, self.fid, uids)

    async def read_mime(self, uid: int) -> bytes:
        return await self.mail.store.read_mime(self.mail.box, self.fid, uid)

    async def store_flags(self, uids: Sequence[int], change: FlagChange,
                          unchanged_since: int | None) -> StoreResult:
        if self.read_only:
            raise PermissionDenied("the folder is open read-only (EXAMINE)")
        result = await self.mail.store.store_flags(self.mail.box, self.fid, uids, change,
                                                   unchanged_since)
        self.note_states(result.changed)
        return result

    async def set_seen(self, uids: Sequence[int]) -> list[MessageState]:
        """Implicit ``\\Seen`` of a body fetch (nothing in a read-only folder)."""
        if self.read_only:
            return []
        todo = [u for u in uids if u in self.states and "\\Seen" not in self.states[u].flags]
        if not todo:
            return []
        result = await self.mail.store.store_flags(
            self.mail.box, self.fid, todo, FlagChange(add=frozenset({"\\Seen"})), None)
        self.note_states(result.changed)
        return list(result.changed)

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """Remove ``\\Deleted`` messages (only those in ``uids`` when given)."""
        if self.read_only:
            raise PermissionDenied("the folder is open read-only (EXAMINE)")
        wanted = self.uids if uids is None else uids
        doomed = [u for u in wanted if self.live(u) and "\\Deleted" in self.states[u].flags]
        if not doomed:
            return []
        return await self.mail.store.expunge(self.mail.box, self.fid, doomed)

    async def copy(self, uids: Sequence[int], target: MailFolder, *,
                   move: bool) -> list[tuple[int, int]]:
        if move and self.read_only:
            raise PermissionDenied("the folder is open read-only (EXAMINE)")
        return await self.mail.store.copy(self.mail.box, self.fid, uids, target.fid, move=move)


class MailSession:
    """One authenticated client's mailbox: folders by name, selection, notifications."""

    def __init__(self, store: MailStore, notifier: Notifier, feed: ChangeFeed,
                 box: MailboxRef) -> None:
        self.store = store
        self.notifier = notifier
        self.feed = feed
        self.box = box

    async def list_folders(self) -> list[MailFolder]:
        return folder_names(await self.store.folders(self.box))

    async def find(self, name: str) -> MailFolder:
        """The folder called ``name``; its counters may lag (see :meth:`status`)."""
        wanted = normalise_name(name)
        for folder in folder_names(await self.store.folders(self.box, fresh=False)):
            if folder.name == wanted:
                return folder
        raise NotFound(f"mailbox {name} does not exist")

    async def create(self, name: str) -> None:
        name = normalise_name(name)
        if not name or name.startswith(DELIMITER) or DELIMITER * 2 in name:
            raise InvalidInput(f"invalid mailbox name {name!r}")
        folders = {f.name: f for f in await self.list_folders()}
        if name in folders:
            raise AlreadyExists(f"mailbox {name} already exists")
        parts = name.split(DELIMITER)
        parent: int | None = None
        path = ""
        for i, part in enumerate(parts):
            path = part if not path else path + DELIMITER + part
            if path in folders:
                parent = folders[path].fid
                continue
            if i == 0 and part.upper() == INBOX:
                raise AlreadyExists("INBOX always exists")
            parent = await self.store.create_folder(self.box, parent, part)

    async def delete(self, name: str) -> None:
        folder = await self.find(name)
        if folder.row.role is not None:
            raise PermissionDenied(f"{folder.name} is a special folder and cannot be deleted")
        await self.store.delete_folder(self.box, folder.fid)

    async def rename(self, old: str, new: str) -> None:
        source = await self.find(old)
        new = normalise_name(new)
        folders = {f.name: f for f in await self.list_folders()}
        if new in folders:
            raise AlreadyExists(f"mailbox {new} already exists")
        parent_name, _, leaf = new.rpartition(DELIMITER)
        if not leaf:
            raise InvalidInput(f"invalid mailbox name {new!r}")
        if parent_name and parent_name not in folders:
            await self.create(parent_name)
            folders = {f.name: f for f in await self.list_folders()}
        parent = folders[parent_name].fid if parent_name else None
        if source.name == INBOX:
            # RFC 9051 6.3.6: renaming INBOX moves its messages to the new folder.
            fid = await self.store.create_folder(self.box, parent, leaf)
            snap = await self.store.snapshot(self.box, source.fid)
            uids = [m.uid for m in snap.messages]
            if uids:
                await self.store.copy(self.box, source.fid, uids, fid, move=True)
            return
        await self.store.rename_folder(self.box, source.fid, parent, leaf)

    async def set_subscribed(self, name: str, subscribed: bool) -> None:
        folder = await self.find(name)
        await self.store.set_subscribed(self.box, folder.fid, subscribed)

    async def status(self, name: str) -> MailFolder:
        """The folder with current counters (STATUS)."""
        folder = await self.find(name)
        row = await self.store.folder(self.box, folder.fid)
        return MailFolder(folder.name, row, folder.has_children)

    async def append(self, name: str, raw: bytes, flags: Iterable[str],
                     internal_date: float | None) -> tuple[int, MessageState]:
        folder = await self.find(name)
        state = await self.store.append(self.box, folder.fid, raw, flags, internal_date)
        return folder.row.uidvalidity, state

    async def select(self, name: str, *, read_only: bool) -> SelectedFolder:
        folder = await self.find(name)
        snap = await self.store.snapshot(self.box, folder.fid)
        return SelectedFolder(self, folder, read_only=read_only,
                              uidvalidity=snap.uidvalidity, uidnext=snap.uidnext,
                              highest_modseq=snap.highest_modseq, messages=snap.messages)

    async def quota(self) -> Quota:
        return await self.store.quota(self.box)

    def watch(self, callback: Callable[[Event], None]) -> Subscription:
        """Call ``callback`` (on the reactor thread) for every change of this mailbox."""
        return self.notifier.subscribe(store_channel(self.box.store_id), callback)


class MailHandler:
    """Process-wide entry point: opens a :class:`MailSession` for an authenticated user."""

    def __init__(self, store: MailStore, notifier: Notifier) -> None:
        self.store = store
        self.notifier = notifier
        self.feed = ChangeFeed(store)

    async def open(self, user: Recipient) -> MailSession:
        box = await self.store.open_mailbox(user)
        return MailSession(self.store, self.notifier, self.feed, box)
