"""The mail store port (:mod:`.port`) on the real message store (``storage.mapistore``).

What IMAP and POP3 see is a projection of the MAPI mailbox:

* Folders are the mail folders (``IPF.Note`` and folders without a class) below the
  IPM subtree; calendars, contacts and their children are left out. Mailboxes are
  provisioned on first use (idempotent), so SQL and LDAP users both work.
* UIDs, UIDVALIDITY and MODSEQ are the store's (index UIDs, folder UIDVALIDITY,
  change numbers). Flags are MAPI properties (:mod:`.flags`), so Outlook and
  ActiveSync see what IMAP clients set and the other way round.
* Messages keep their byte-exact MIME original; their table properties come from
  :func:`groupware.convert.mime_to_mapi`. Messages made through MAPI without an
  original get one generated (:func:`groupware.convert.mapi_to_mime`, deterministic).

A per-folder cache of message states (UID, flags, MODSEQ, size, arrival time) is
kept current from the store's change log: a SELECT, an IDLE wake-up or a STORE
reads only what changed since the cache's change number (one small read), not the
folder. The change log is in the database, so caches of several processes (or
nodes) stay exact; a cache only saves work. Caches are bounded in total messages
and dropped least recently used first.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime
import logging
import math
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from directory.model import Recipient
from groupware.convert import MimeOptions, mapi_to_mime, mime_to_mapi
from groupware.convert._tags import KEYWORDS
from groupware.convert.model import Message
from groupware.errors import (
    Conflict,
    GroupwareError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    TooBig,
)
from groupware.handlers.activesync.mapping import NameMap
from groupware.notifier import Event, Notifier, Subscription, store_channel
from groupware.types import FolderId, MessageId, PropTag, StoreId
from storage.mapistore import tags
from storage.mapistore.bulk import FolderRows, MessageRow, MessageUpdate
from storage.mapistore.errors import SyncStateTooOld
from storage.mapistore.info import FolderInfo
from storage.mapistore.info import MessageInfo as StoreMessageInfo
from storage.mapistore.model import Capability
from storage.mapistore.special_folders import SpecialFolder
from storage.mapistore.store import MapiStore

from . import flags as fl
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

MAIL_CLASSES = ("", "IPF.Note")
BASE_TAGS: tuple[PropTag, ...] = (
    fl.FLAG_STATUS, fl.LAST_VERB_EXECUTED, fl.MESSAGE_FLAGS, fl.MESSAGE_STATUS,
    fl.ICON_INDEX, fl.MESSAGE_DELIVERY_TIME,
)
"""Properties every cached message keeps: the flag properties and its arrival time."""
DEFAULT_CACHE_MESSAGES = 100_000
"""Messages kept in all folder caches together (a few hundred bytes each)."""
MIME_CACHE_BYTES = 64 << 20
"""Bytes of MIME originals (and generated MIME of messages made through MAPI) kept in
memory: clients read a message several times (BODYSTRUCTURE, then parts)."""
READ_AHEAD = 32
READ_AHEAD_BYTES = 1 << 20
"""A client reading messages in UID order (header sync, FETCH 1:100 ENVELOPE) gets the
next ones read with the one it asked for: one transaction instead of one each."""
VANISHED_KEEP = 10_000
"""Expunged UIDs a folder cache remembers for VANISHED answers before asking the store."""
MIME_INLINE = 16 << 10
"""Smaller messages are converted on the reactor thread (cheaper than a thread hop)."""
TREE_TTL = 30.0
"""Seconds a folder tree read for name lookups is trusted without an event saying it
changed (folder events invalidate it at once; this bounds a missed one)."""
TRUST_WINDOW = 2.0
"""Seconds a folder cache that no event touched is taken as current without a read."""
RESCAN_INTERVAL = 1.0
"""Seconds between rescans of a folder other programs may change (maildir)."""

TxnGuard = Callable[[sa.Connection], None]
"""Runs in a delivery's transaction, see :meth:`storage.mapistore.MapiStore.deliver`."""


def _filetime(unix: float) -> int:
    return int((unix + 11644473600) * 10_000_000)


def _unix(filetime: object) -> float | None:
    if isinstance(filetime, int) and not isinstance(filetime, bool) and filetime > 0:
        return filetime / 10_000_000 - 11644473600
    return None


def is_mail_class(container_class: str) -> bool:
    return container_class in MAIL_CLASSES or container_class.startswith("IPF.Note.")


class _Entry:
    """One cached message."""

    __slots__ = ("cn", "created_at", "mid", "mime_size", "props", "read", "read_cn", "state")

    def __init__(self, row: MessageRow, keywords: PropTag | None) -> None:
        self.mid = row.mid
        self.cn = row.cn
        self.read_cn = row.read_cn
        self.read = row.read
        self.props = row.props
        self.mime_size = row.mime_size
        self.created_at = row.created_at
        self.state = MessageState(row.uid, fl.flags_of(row.read, row.props, keywords),
                                  row.modseq)

    @property
    def internal_date(self) -> float:
        stamp = _unix(self.props.get(fl.MESSAGE_DELIVERY_TIME))
        return self.created_at if stamp is None else stamp


@dataclass
class _Folder:
    """The cached state of one folder (see the module docstring)."""

    store: StoreId
    fid: FolderId
    uidvalidity: int = 0
    uidnext: int = 1
    synced: int = -1
    """The folder's highest change number at the last read; -1: never read."""
    since: int = 0
    """``vanished`` is complete for change numbers above this one."""
    entries: dict[int, _Entry] = field(default_factory=dict)
    vanished: list[tuple[int, int]] = field(default_factory=list)
    """(change number, UID) of messages that left the folder, oldest first."""
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    asked: int = 0
    covered: int = 0
    external: bool | None = None
    """True when other programs may change the folder's backend (maildir)."""
    rescanned: float = float("-inf")
    store_cn: int = -1
    """The store's newest change number when the cache was last known exact."""
    pending: float = 0
    """The newest change number an event announced for this folder (inf: unknown)."""
    read_at: float = float("-inf")

    _order: list[int] | None = None

    def order(self) -> list[int]:
        """The cached UIDs, ascending."""
        if self._order is None:
            self._order = list(self.entries)
        return self._order

    def forget(self, uid: int, cn: int) -> None:
        if self.entries.pop(uid, None) is not None:
            self._order = None
            self.vanished.append((cn, uid))
        if len(self.vanished) > VANISHED_KEEP:
            cut = len(self.vanished) // 2
            self.since = max(self.since, self.vanished[cut - 1][0])
            del self.vanished[:cut]


@dataclass
class _Box:
    store: StoreId
    ipm: FolderId
    names: NameMap
    keywords: PropTag | None = None
    limit: int | None = None
    tree: list[FolderRow] | None = None
    """The folder list as last read (see ``folders(fresh=False)``)."""
    tree_read: float = 0.0
    tree_gen: int = 0
    """Bumped whenever the tree may have changed; a read that overlapped it is not kept."""
    watch: Subscription | None = None

    def invalidate(self) -> None:
        self.tree = None
        self.tree_gen += 1


class MapiMailStore:
    """:class:`~.port.MailStore` over :class:`~storage.mapistore.store.MapiStore`."""

    def __init__(self, store: MapiStore, *, notifier: Notifier | None = None,
                 trust_events: bool = False, default_quota: int | None = None,
                 max_message: int = 64 << 20, locale: str = "en",
                 cache_messages: int = DEFAULT_CACHE_MESSAGES) -> None:
        """``trust_events``: every change of the store is announced on ``notifier`` as
        it commits (one process with the in-process notifier), so a folder cache no
        event has touched since its last read is current (see :meth:`_current`)."""
        self.store = store
        self._notifier = notifier
        self._trust = trust_events and notifier is not None
        self._default_quota = default_quota or None
        self._max_message = max_message
        self._locale = locale
        self._cache_budget = cache_messages
        self._boxes: dict[int, _Box] = {}
        self._folders: OrderedDict[tuple[int, int], _Folder] = OrderedDict()
        self._mime_cache: OrderedDict[tuple[int, int], tuple[int, bytes]] = OrderedDict()
        self._mime_bytes = 0
        self._mime_budget = MIME_CACHE_BYTES
        self._last_read: dict[tuple[int, int], int] = {}

    # --- mailboxes ---------------------------------------------------------------------

    async def open_mailbox(self, user: Recipient) -> MailboxRef:
        if user.user_id is None:
            raise InvalidInput(f"{user.address} has no mailbox")
        key = int(user.user_id)
        box = self._boxes.get(key)
        if box is None:
            box = await self._open(user)
            if len(self._boxes) > 100_000:
                for old in self._boxes.values():
                    if old.watch is not None:
                        old.watch.close()
                self._boxes.clear()
            self._boxes[key] = box
        limit = user.quota if user.quota is not None else self._default_quota
        if limit != box.limit:
            await self._apply_quota(box, limit)
        return MailboxRef(box.store, user)

    async def provision(self, user: Recipient, locale: str | None = None) -> StoreId:
        """The user's mailbox store, created (folder names in ``locale``) when missing.

        Idempotent, as the store's ``provision_mailbox``: whoever comes first (this,
        ActiveSync, ``groupware mailbox provision``) creates it, with the login name
        (the address's local part) filling ``{user}`` in backend URIs."""
        if user.user_id is None:
            raise InvalidInput(f"{user.address} has no mailbox")
        store = self.store
        info = await store.find_store(user_id=user.user_id)
        if info is None or not info.provisioned:
            guid = info.mailbox_guid if info is not None else (user.mailbox_guid or uuid.uuid4())
            login = (user.address or str(user.user_id)).split("@", 1)[0]
            info = await store.provision_mailbox(user.user_id, guid, locale or self._locale,
                                                 username=login)
            logger.info("mail: provisioned the mailbox of %s (store %d)", user.address,
                        info.id)
        return info.id

    async def _open(self, user: Recipient) -> _Box:
        store = self.store
        sid = await self.provision(user)
        ipm = await store.folder_by_role(sid, SpecialFolder.IPM_SUBTREE)
        names = NameMap(store, sid)
        box = _Box(sid, ipm.fid, names)
        box.keywords = await names.tag(KEYWORDS, create=True)
        if self._notifier is not None:
            # Folder changes from anywhere (Outlook, ActiveSync, another node through
            # Redis) make the next lookup read the folder tree again.
            def on_event(event: Event, box: _Box = box) -> None:
                kind = event.data.get("object")
                if kind in ("folder", "imap_subscription"):
                    box.invalidate()
                cn = math.inf if event.change_number is None else event.change_number
                touched = {event.folder, event.data.get("old_folder")}
                if kind == "folder":
                    touched.update(event.ids)
                for fid in touched:
                    cached = self._folders.get((int(box.store), int(fid or 0)))
                    if cached is not None and cn > cached.pending:
                        cached.pending = cn

            box.watch = self._notifier.subscribe(store_channel(sid), on_event)
        return box

    async def _apply_quota(self, box: _Box, limit: int | None) -> None:
        """The directory's quota is the mailbox's receive quota (deliveries refused
        above it); APPEND and COPY check it here. A quota of 0 means none."""
        status = await self.store.quota_status(box.store)
        if (status.receive or 0) != (limit or 0):
            await self.store.set_quota(box.store, receive=limit or 0)
        box.limit = limit

    async def _boxof(self, ref: MailboxRef) -> _Box:
        """The open mailbox of ``ref`` (opened again if the table was cleared)."""
        user_id = ref.user.user_id
        box = None if user_id is None else self._boxes.get(int(user_id))
        if box is None or box.store != ref.store_id:
            await self.open_mailbox(ref.user)
            assert user_id is not None
            box = self._boxes[int(user_id)]
        return box

    def _wanted(self, box: _Box) -> tuple[PropTag, ...]:
        return BASE_TAGS if box.keywords is None else (*BASE_TAGS, box.keywords)

    # --- folders -----------------------------------------------------------------------

    def _row(self, box: _Box, info: FolderInfo) -> FolderRow:
        cached = self._folders.get((box.store, info.fid))
        deleted = 0
        size = info.size
        if cached is not None and cached.synced >= 0:
            deleted = sum(1 for e in cached.entries.values() if fl.DELETED in e.state.flags)
            if cached.synced == info.highest_cn:
                size = sum(e.mime_size or 0 for e in cached.entries.values())
        return FolderRow(
            fid=info.fid, parent=None if info.parent == box.ipm else info.parent,
            name=info.name, role=info.role, container_class=info.container_class,
            uidvalidity=info.uidvalidity, uidnext=info.uidnext,
            highest_modseq=info.highest_cn, messages=info.message_count,
            unseen=info.unread_count, deleted=deleted, size=size,
            subscribed=info.subscribed)

    async def folders(self, ref: MailboxRef, *, fresh: bool = True) -> list[FolderRow]:
        box = await self._boxof(ref)
        now = time.monotonic()
        if not fresh and box.tree is not None and now - box.tree_read < TREE_TTL:
            return box.tree
        gen = box.tree_gen
        infos = await self.store.list_folders(box.store, box.ipm, recursive=True)
        shown: set[int] = {box.ipm}
        out: list[FolderRow] = []
        for info in infos:  # parents come before their children
            if info.parent in shown and is_mail_class(info.container_class):
                shown.add(info.fid)
                out.append(self._row(box, info))
        if box.tree_gen == gen:
            box.tree, box.tree_read = out, now
        return out

    async def folder(self, ref: MailboxRef, fid: int) -> FolderRow:
        box = await self._boxof(ref)
        return self._row(box, await self.store.get_folder(box.store, FolderId(fid)))

    async def create_folder(self, ref: MailboxRef, parent: int | None, name: str) -> int:
        box = await self._boxof(ref)
        try:
            info = await self.store.create_folder(
                box.store, FolderId(box.ipm if parent is None else parent), name,
                container_class="IPF.Note")
        finally:
            box.invalidate()
        return int(info.fid)

    async def delete_folder(self, ref: MailboxRef, fid: int) -> None:
        box = await self._boxof(ref)
        info = await self.store.get_folder(box.store, FolderId(fid))
        if info.role is not None:
            raise PermissionDenied(f"special folder {info.name!r} cannot be deleted")
        try:
            await self.store.delete_folder(box.store, FolderId(fid), messages=True)
        except Conflict as exc:
            raise PermissionDenied(f"folder {info.name!r} has subfolders") from exc
        finally:
            box.invalidate()
        self._folders.pop((box.store, fid), None)

    async def rename_folder(self, ref: MailboxRef, fid: int, parent: int | None,
                            name: str) -> None:
        box = await self._boxof(ref)
        target = FolderId(box.ipm if parent is None else parent)
        info = await self.store.get_folder(box.store, FolderId(fid))
        try:
            if info.parent == target:
                await self.store.set_folder_properties(box.store, FolderId(fid),
                                                       {tags.DISPLAY_NAME: name})
            else:
                await self.store.move_folder(box.store, FolderId(fid), target, name)
        finally:
            box.invalidate()

    async def set_subscribed(self, ref: MailboxRef, fid: int, subscribed: bool) -> None:
        box = await self._boxof(ref)
        try:
            await self.store.set_folder_subscribed(box.store, FolderId(fid), subscribed)
        finally:
            box.invalidate()
        if self._notifier is not None:
            # For the trees of other processes (the store sends no event for this). No
            # folder and no "folder" object: ActiveSync must not see a hierarchy change.
            self._notifier.publish(store_channel(box.store), Event(
                "subscription", box.store, None, (), None,
                {"object": "imap_subscription", "fid": fid}))

    # --- the folder cache --------------------------------------------------------------

    def _cache(self, box: _Box, fid: int) -> _Folder:
        key = (int(box.store), fid)
        cached = self._folders.get(key)
        if cached is None:
            cached = self._folders[key] = _Folder(box.store, FolderId(fid))
        else:
            self._folders.move_to_end(key)
        return cached

    def _trim(self) -> None:
        total = sum(len(f.entries) for f in self._folders.values())
        while total > self._cache_budget and len(self._folders) > 1:
            _key, oldest = self._folders.popitem(last=False)
            total -= len(oldest.entries)

    def _known_current(self, cached: _Folder) -> bool:
        """True when no change after the cache's last read can exist: events are
        trusted, none announced a newer change, and the read is recent (writers
        that send no events, like a CLI import, are seen within the window)."""
        return (self._trust and cached.synced >= 0 and cached.pending <= cached.store_cn
                and time.monotonic() - cached.read_at < TRUST_WINDOW)

    def _advance(self, cached: _Folder | None, cns: Iterable[int]) -> None:
        """Our own write in this folder took change numbers ``cns`` (and the cache
        already holds its effect): when they directly follow the cache's last known
        store state, nothing else happened in between and the cache stays exact."""
        numbers = sorted(set(cns))
        if cached is None or not numbers or cached.synced < 0:
            return
        if numbers[0] == cached.store_cn + 1 and numbers[-1] - numbers[0] + 1 == len(numbers):
            cached.store_cn = numbers[-1]
            cached.synced = max(cached.synced, numbers[-1])

    async def _current(self, box: _Box, fid: int) -> _Folder:
        """The folder's cache, brought up to the store's state now."""
        cached = self._cache(box, fid)
        if self._known_current(cached):
            return cached
        cached.asked += 1
        ticket = cached.asked
        async with cached.lock:
            if cached.covered >= ticket:
                return cached  # a read that started after our request has finished
            covers = cached.asked
            started = time.monotonic()
            try:
                rows = await self.store.read_rows(box.store, FolderId(fid), self._wanted(box),
                                                  since=max(cached.synced, 0))
            except SyncStateTooOld:
                cached.synced = -1
                rows = await self.store.read_rows(box.store, FolderId(fid), self._wanted(box))
            except NotFound:
                self._folders.pop((int(box.store), fid), None)
                raise
            self._apply(box, cached, rows)
            cached.store_cn = rows.store_cn
            cached.read_at = started
            cached.covered = covers
        if cached.synced >= 0 and len(cached.entries) > 1000:
            self._trim()
        return cached

    def _apply(self, box: _Box, cached: _Folder, rows: FolderRows) -> None:
        info = rows.folder
        full = rows.since == 0
        if full or info.uidvalidity != cached.uidvalidity:
            cached.entries = {}
            cached.vanished = []
            cached.since = info.highest_cn
        cached.uidvalidity = info.uidvalidity
        cached.uidnext = info.uidnext
        entries = cached.entries
        cached._order = None
        ordered = True
        top = next(reversed(entries), 0) if entries else 0
        for row in rows.rows:
            if row.uid not in entries and row.uid < top:
                ordered = False
            entries[row.uid] = _Entry(row, box.keywords)
            top = max(top, row.uid)
        for gone in rows.deleted:
            cached.forget(gone.uid, gone.cn)
        if not ordered:
            cached.entries = dict(sorted(entries.items()))
        cached.synced = max(cached.synced, info.highest_cn)

    async def _rescan(self, box: _Box, fid: int) -> None:
        """Let changes other programs made (Dovecot delivering into a maildir Inbox,
        mutt flagging) enter the change log before a client opens the folder; at most
        every :data:`RESCAN_INTERVAL` seconds per folder."""
        cached = self._cache(box, fid)
        if cached.external is None:
            try:
                info = await self.store.get_folder(box.store, FolderId(fid))
            except NotFound:
                self._folders.pop((int(box.store), fid), None)
                raise
            backend = self.store.registry.for_uri(info.backend_uri)
            cached.external = Capability.EXTERNAL_CHANGES in backend.capabilities
        now = time.monotonic()
        if not cached.external or now - cached.rescanned < RESCAN_INTERVAL:
            return
        cached.rescanned = now
        try:
            found = await self.store.rescan_folder(box.store, FolderId(fid))
        except GroupwareError as exc:
            logger.warning("mail: rescan of folder %#x of store %d failed: %s", fid,
                           box.store, exc)
            return
        if found.total:
            logger.info("mail: folder %#x of store %d changed outside: %s", fid, box.store,
                        found)

    async def snapshot(self, ref: MailboxRef, fid: int) -> FolderSnapshot:
        box = await self._boxof(ref)
        await self._rescan(box, fid)
        cached = await self._current(box, fid)
        return FolderSnapshot(cached.uidvalidity, cached.uidnext, cached.synced,
                              tuple(e.state for e in cached.entries.values()))

    async def changes_since(self, ref: MailboxRef, fid: int, modseq: int) -> FolderChanges:
        box = await self._boxof(ref)
        cached = await self._current(box, fid)
        if modseq >= cached.since:
            changed = tuple(e.state for e in cached.entries.values() if e.state.modseq > modseq)
            vanished = tuple(sorted({uid for cn, uid in cached.vanished if cn > modseq}))
            return FolderChanges(cached.uidvalidity, cached.uidnext, cached.synced, changed,
                                 vanished)
        rows = await self.store.read_rows(box.store, FolderId(fid), self._wanted(box),
                                          since=modseq, mime_sizes=False)
        return FolderChanges(
            rows.folder.uidvalidity, rows.folder.uidnext, rows.folder.highest_cn,
            tuple(MessageState(r.uid, fl.flags_of(r.read, r.props, box.keywords), r.modseq)
                  for r in rows.rows),
            tuple(sorted({d.uid for d in rows.deleted})))

    async def _entries(self, box: _Box, fid: int, uids: Sequence[int], *,
                       fresh: bool = False) -> dict[int, _Entry]:
        """Cache entries of ``uids`` (the cache is refreshed when one is unknown, or
        always with ``fresh``)."""
        cached = self._cache(box, fid)
        if fresh or cached.synced < 0 or any(u not in cached.entries for u in uids):
            cached = await self._current(box, fid)
        return {u: cached.entries[u] for u in uids if u in cached.entries}

    # --- messages ------------------------------------------------------------------------

    async def message_info(self, ref: MailboxRef, fid: int,
                           uids: Sequence[int]) -> dict[int, MessageInfo]:
        box = await self._boxof(ref)
        out: dict[int, MessageInfo] = {}
        for uid, entry in (await self._entries(box, fid, uids)).items():
            size = entry.mime_size
            if size is None:
                try:
                    size = len(await self._mime(box, entry.mid, entry.cn))
                except NotFound:
                    continue
            out[uid] = MessageInfo(uid, size, entry.internal_date)
        return out

    async def read_mime(self, ref: MailboxRef, fid: int, uid: int) -> bytes:
        box = await self._boxof(ref)
        cached = self._folders.get((int(box.store), fid))
        entry = cached.entries.get(uid) if cached is not None else None
        if entry is None:
            found = await self.store.message_by_uid(box.store, FolderId(fid), uid)
            if found is None or found.soft_deleted:
                raise NotFound(f"message {uid} was expunged")
            return await self._mime(box, found.mid, found.cn)
        hit = self._cached_mime(box, entry.mid, entry.cn)
        if hit is not None:
            return hit
        assert cached is not None
        ahead = self._read_ahead(box, cached, uid)
        if len(ahead) > 1:
            got = await self.store.read_mimes(box.store, [e.mid for e in ahead],
                                              max_bytes=READ_AHEAD_BYTES)
            for other in ahead[1:]:
                data = got.get(other.mid)
                if data is not None:
                    self._keep_mime(box, other.mid, other.cn, data)
            if entry.mid not in got:
                raise NotFound(f"message {uid} was expunged")
            first = got[entry.mid]
            if first is not None:
                self._keep_mime(box, entry.mid, entry.cn, first)
                return first
        return await self._mime(box, entry.mid, entry.cn)

    def _read_ahead(self, box: _Box, cached: _Folder, uid: int) -> list[_Entry]:
        """``uid``'s entry, and the next ones not yet cached when the client reads in
        UID order (the previous read of this folder was one of the two before)."""
        key = (int(box.store), int(cached.fid))
        previous = self._last_read.get(key)
        self._last_read[key] = uid
        if len(self._last_read) > 10000:
            self._last_read.clear()
        entry = cached.entries[uid]
        if previous is None or previous >= uid:
            return [entry]
        order = cached.order()
        at = bisect.bisect_left(order, uid)
        if at - bisect.bisect_left(order, previous) > 2:
            return [entry]
        out = [entry]
        size = entry.mime_size or 0
        for next_uid in order[at + 1:at + READ_AHEAD]:
            other = cached.entries[next_uid]
            if other.mime_size is None or size + other.mime_size > READ_AHEAD_BYTES:
                break
            if self._cached_mime(box, other.mid, other.cn, touch=False) is None:
                out.append(other)
                size += other.mime_size
        return out

    def _cached_mime(self, box: _Box, mid: MessageId, cn: int, *,
                     touch: bool = True) -> bytes | None:
        key = (int(box.store), int(mid))
        hit = self._mime_cache.get(key)
        if hit is None or hit[0] != cn:
            return None
        if touch:
            self._mime_cache.move_to_end(key)
        return hit[1]

    def _keep_mime(self, box: _Box, mid: MessageId, cn: int, raw: bytes) -> None:
        if len(raw) > self._mime_budget // 8:
            return
        key = (int(box.store), int(mid))
        old = self._mime_cache.pop(key, None)
        if old is not None:
            self._mime_bytes -= len(old[1])
        self._mime_cache[key] = (cn, raw)
        self._mime_bytes += len(raw)
        while self._mime_bytes > self._mime_budget and self._mime_cache:
            _k, (_cn, dropped) = self._mime_cache.popitem(last=False)
            self._mime_bytes -= len(dropped)

    async def _mime(self, box: _Box, mid: MessageId, cn: int) -> bytes:
        hit = self._cached_mime(box, mid, cn)
        if hit is not None:
            return hit
        raw = await self.store.read_mime(box.store, mid)
        if raw is None:
            # Made through MAPI: generated, deterministic (same content, same bytes).
            message = await self.store.get_message(box.store, mid)
            converted = await box.names.to_message(message.content)
            raw = await asyncio.to_thread(mapi_to_mime, converted)
        self._keep_mime(box, mid, cn, raw)
        return raw

    async def convert(self, raw: bytes, *, delivery_time: float | None = None) -> Message:
        """Table properties of an RFC 5322 message (its bytes are stored as they are);
        delivery converts once and stores the result in every recipient's mailbox."""
        options = MimeOptions(
            max_size=max(self._max_message, len(raw)),
            delivery_time=None if delivery_time is None
            else datetime.datetime.fromtimestamp(delivery_time, datetime.UTC))
        try:
            if len(raw) <= MIME_INLINE:
                return mime_to_mapi(raw, options)
            return await asyncio.to_thread(mime_to_mapi, raw, options)
        except Exception as exc:
            # IMAP and SMTP store any bytes; tables then show what little we know.
            logger.warning("mail: message of %d bytes not converted (%s); stored as is",
                           len(raw), exc)
            return Message({tags.MESSAGE_CLASS: "IPM.Note"})

    def _check_size(self, raw: bytes) -> None:
        if len(raw) > self._max_message:
            raise TooBig(f"message of {len(raw)} bytes is larger than the limit")

    async def _check_quota(self, box: _Box, extra: int) -> None:
        if not box.limit or extra <= 0:
            return
        status = await self.store.quota_status(box.store)
        if status.used + extra > box.limit:
            raise QuotaExceeded("mailbox is over quota")

    async def append(self, ref: MailboxRef, fid: int, raw: bytes, flags: Iterable[str],
                     internal_date: float | None) -> MessageState:
        box = await self._boxof(ref)
        self._check_size(raw)
        await self._check_quota(box, len(raw))
        wanted = fl.normalise(flags)
        when = time.time() if internal_date is None else internal_date
        content = await box.names.to_content(await self.convert(raw, delivery_time=when))
        # Categories from the message's own Keywords header stay (Outlook shows them);
        # they appear as keywords next to the flags the client gave.
        wanted |= fl.flags_of(False, content.props, box.keywords) - fl.SYSTEM - {fl.FORWARDED}
        change = fl.change_for(False, content.props, wanted, box.keywords, _filetime(when))
        content.props.update(change.props)
        for tag in change.delete:
            content.props.pop(tag, None)
        content.props[fl.MESSAGE_DELIVERY_TIME] = _filetime(when)
        info = await self.store.create_message(box.store, FolderId(fid), content, mime=raw,
                                               read=fl.SEEN in wanted)
        state = MessageState(info.uid, fl.flags_of(info.read, content.props, box.keywords),
                             info.modseq)
        return state

    async def deliver(self, ref: MailboxRef, fid: int, raw: bytes, *,
                      guard: TxnGuard | None = None,
                      converted: Message | None = None) -> StoreMessageInfo:
        """Incoming mail into ``fid``, unread: ``new_mail`` wakes IDLE and Ping. The
        receive quota is the store's; ``guard`` runs inside the delivery transaction
        (duplicate suppression); ``converted`` is :meth:`convert` of ``raw``."""
        box = await self._boxof(ref)
        self._check_size(raw)
        message = converted if converted is not None else await self.convert(raw)
        content = await box.names.to_content(message)
        return await self.store.deliver(box.store, content, mime=raw, fid=FolderId(fid),
                                        guard=guard)

    async def store_flags(self, ref: MailboxRef, fid: int, uids: Sequence[int],
                          change: FlagChange, unchanged_since: int | None) -> StoreResult:
        box = await self._boxof(ref)
        norm = FlagChange(add=fl.normalise(change.add), remove=fl.normalise(change.remove),
                          replace=None if change.replace is None
                          else fl.normalise(change.replace))
        # From the current state: flags another process set since our last read must
        # neither be lost nor survive a removal computed from an older state.
        entries = await self._entries(box, fid, uids, fresh=True)
        now = _filetime(time.time())
        updates: list[MessageUpdate] = []
        by_mid: dict[MessageId, _Entry] = {}
        unchanged: list[MessageState] = []
        conflicts: list[int] = []
        for uid in uids:
            entry = entries.get(uid)
            if entry is None:
                continue
            if unchanged_since is not None and entry.state.modseq > unchanged_since:
                conflicts.append(uid)
                continue
            old = entry.state.flags
            new = _apply(norm, old)
            if new == old:
                unchanged.append(entry.state)
                continue
            writes = fl.change_for(entry.read, entry.props, new, box.keywords, now)
            if not writes:
                unchanged.append(entry.state)
                continue
            updates.append(MessageUpdate(entry.mid, writes.read, writes.props,
                                         tuple(writes.delete)))
            by_mid[entry.mid] = entry
        changed: list[MessageState] = []
        if updates:
            result = await self.store.update_messages(box.store, updates,
                                                      unchanged_since=unchanged_since)
            conflicts.extend(by_mid[m].state.uid for m in result.conflicts)
            taken: set[int] = set()
            for update in updates:
                info = result.changed.get(update.mid)
                if info is None:
                    continue
                entry = by_mid[update.mid]
                props = dict(entry.props)
                props.update(update.props)
                for tag in update.delete:
                    props.pop(tag, None)
                entry.props = props
                entry.read = info.read
                kept = self._cached_mime(box, entry.mid, entry.cn, touch=False)
                before = result.previous.get(update.mid)
                if kept is not None and before is not None and before.cn == entry.cn:
                    self._keep_mime(box, entry.mid, info.cn, kept)  # flags leave MIME alone
                if before is not None:
                    taken.update(n for n, old in ((info.cn, before.cn),
                                                  (info.read_cn, before.read_cn)) if n != old)
                entry.cn, entry.read_cn = info.cn, info.read_cn
                entry.state = MessageState(entry.state.uid,
                                           fl.flags_of(info.read, props, box.keywords),
                                           info.modseq)
                changed.append(entry.state)
            if not result.missing and len(result.previous) == len(updates):
                self._advance(self._folders.get((int(box.store), fid)), taken)
        return StoreResult(tuple(changed), tuple(unchanged), tuple(sorted(conflicts)))

    async def copy(self, ref: MailboxRef, fid: int, uids: Sequence[int], target: int, *,
                   move: bool) -> list[tuple[int, int]]:
        box = await self._boxof(ref)
        entries = await self._entries(box, fid, uids)
        found = [(uid, entries[uid]) for uid in uids if uid in entries]
        if not found:
            return []
        if not move:
            await self._check_quota(box, sum(e.mime_size or 0 for _u, e in found))
        done = await self.store.transfer_messages(
            box.store, [e.mid for _u, e in found], FolderId(target), move=move)
        if move:
            cached = self._folders.get((int(box.store), fid))
            if cached is not None:
                for t in done:
                    cached.forget(t.old_uid, t.cn)
                if len(done) == len(found):
                    self._advance(cached, {t.cn for t in done})
        return [(t.old_uid, t.uid) for t in done]

    async def expunge(self, ref: MailboxRef, fid: int, uids: Sequence[int]) -> list[int]:
        box = await self._boxof(ref)
        entries = await self._entries(box, fid, uids)
        gone = [u for u in uids if u in entries]
        if not gone:
            return []
        cn = await self.store.delete_messages(box.store, [entries[u].mid for u in gone],
                                              hard=True)
        cached = self._folders.get((int(box.store), fid))
        if cached is not None:
            for uid in gone:
                cached.forget(uid, cn)
            self._advance(cached, [cn])
        return gone

    async def quota(self, ref: MailboxRef) -> Quota:
        box = await self._boxof(ref)
        status = await self.store.quota_status(box.store)
        limit = box.limit or status.receive or None
        return Quota(status.used, limit)

    async def role_folder(self, ref: MailboxRef, role: str) -> int:
        """The folder of a special role (``inbox``, ``sent`` ...)."""
        box = await self._boxof(ref)
        return int((await self.store.folder_by_role(box.store, role)).fid)

    def forget(self, ref: MailboxRef) -> None:
        """Drop what is cached for a mailbox (tests, administration)."""
        for key in [k for k in self._folders if k[0] == ref.store_id]:
            del self._folders[key]


def _apply(change: FlagChange, flags: frozenset[str]) -> frozenset[str]:
    seen = {f.casefold() for f in flags}
    if change.replace is not None:
        return change.replace
    out = {f for f in flags if f.casefold() not in {r.casefold() for r in change.remove}}
    out |= {f for f in change.add if f.casefold() not in seen}
    return frozenset(out)


__all__ = ["MapiMailStore", "TxnGuard", "is_mail_class"]
