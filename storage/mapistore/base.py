"""What every part of :class:`~storage.mapistore.store.MapiStore` shares: the
transaction runner with event publishing, backend contexts, and the properties the
index computes for folders and messages.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa

from groupware.config.sections import MapiStoreConfig
from groupware.mapi.changes import PredecessorChangeList
from groupware.mapi.ids import id_to_bytes
from groupware.notifier import Event, store_channel
from groupware.types import ChangeNumber, FolderId, MessageId, PropTag, StoreId, UserId
from storage.blobs import BlobStore
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.backend import Backend, BackendContext
from storage.mapistore.errors import BackendNotAvailable
from storage.mapistore.ids import (
    change_key_bytes,
    change_xid,
    fid_of,
    folder_entry_id,
    message_entry_id,
    mid_of,
    packed_cn,
    source_key,
)
from storage.mapistore.index import FolderRecord, Index, MessageRecord, StoreRecord
from storage.mapistore.model import (
    BackendUri,
    FolderRef,
    IndexedMessage,
    MessageRef,
    Value,
)
from storage.mapistore.registry import BackendRegistry
from storage.mapistore.validation import Limits

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Publish = Callable[[str, Event], None]
"""How events leave the store (``Notifier.publish``); the store never imports a notifier."""

ACCESS_OWNER_MESSAGE = 0x07  # modify | read | delete (MS-OXCPRPT PidTagAccess)
ACCESS_OWNER_FOLDER = 0x3F  # + create hierarchy / contents / associated
ACCESS_LEVEL_MODIFY = 0x01
MAX_INT32 = (1 << 31) - 1


@dataclass(frozen=True)
class StoreMeta:
    """The immutable identity of a store (cached per process)."""

    id: StoreId
    user_id: UserId | None
    mailbox_guid: uuid.UUID
    replica_guid: uuid.UUID
    username: str


class _View:
    """:class:`storage.mapistore.backend.IndexView` over one transaction."""

    def __init__(self, base: StoreBase, conn: sa.Connection, meta: StoreMeta) -> None:
        self._base = base
        self._conn = conn
        self._meta = meta

    def messages(self, folder: FolderRef, *, associated: bool,
                 soft_deleted: bool) -> Iterator[IndexedMessage]:
        fid = self._base.fid_gc(folder.fid)
        for rec in self._base.index.messages_in(self._conn, self._meta.id, fid,
                                                associated=associated,
                                                soft_deleted=soft_deleted):
            yield indexed(rec)

    def row(self, folder: FolderRef, message: IndexedMessage, props: Mapping[PropTag, Value],
            wanted: Collection[PropTag] | None = None) -> dict[PropTag, Value]:
        out: dict[PropTag, Value] = dict(props)
        out.update(message_computed(self._meta, self._base.fid_gc(folder.fid), message,
                                    props.get(tags.MESSAGE_FLAGS), wanted=wanted))
        return out


def indexed(rec: MessageRecord) -> IndexedMessage:
    return IndexedMessage(
        MessageRef(mid_of(rec.mid), rec.backend_key, rec.uid, rec.associated, rec.is_read),
        ChangeNumber(rec.cn), ChangeNumber(rec.created_cn), ChangeNumber(rec.read_cn),
        rec.message_class, rec.size, rec.soft_deleted)


def message_flags(stored: object, read: bool, associated: bool) -> int:
    flags = stored if isinstance(stored, int) and not isinstance(stored, bool) else 0
    flags &= ~(tags.MSGFLAG_READ | tags.MSGFLAG_ASSOCIATED)
    if read:
        flags |= tags.MSGFLAG_READ
    if associated:
        flags |= tags.MSGFLAG_ASSOCIATED
    return flags


def message_computed(meta: StoreMeta, fid_gc: int, msg: IndexedMessage, stored_flags: object,
                     *, wanted: Collection[PropTag] | None = None,
                     pcl: bytes | None = None) -> dict[PropTag, Value]:
    """The properties the index supplies for a message (only ``wanted`` ones if given)."""
    mid_gc = _gc(msg.ref.mid)
    producers: dict[PropTag, Callable[[], Value]] = {
        tags.MID: lambda: msg.ref.mid,
        tags.INST_ID: lambda: msg.ref.mid,
        tags.INSTANCE_NUM: lambda: 0,
        tags.FOLDER_ID: lambda: fid_of(fid_gc),
        tags.CHANGE_NUMBER: lambda: packed_cn(msg.cn),
        tags.CHANGE_KEY: lambda: change_key_bytes(meta.replica_guid, msg.cn),
        tags.PREDECESSOR_CHANGE_LIST: lambda: _pcl(meta, msg.cn, pcl),
        tags.SOURCE_KEY: lambda: source_key(meta.replica_guid, mid_gc),
        tags.PARENT_SOURCE_KEY: lambda: source_key(meta.replica_guid, fid_gc),
        tags.RECORD_KEY: lambda: source_key(meta.replica_guid, mid_gc),
        tags.INSTANCE_KEY: lambda: id_to_bytes(msg.ref.mid),
        tags.ENTRY_ID: lambda: message_entry_id(meta.mailbox_guid, meta.replica_guid, fid_gc,
                                                mid_gc),
        tags.PARENT_ENTRY_ID: lambda: folder_entry_id(meta.mailbox_guid, meta.replica_guid,
                                                      fid_gc),
        tags.ASSOCIATED: lambda: msg.ref.associated,
        tags.MESSAGE_SIZE: lambda: min(msg.size, MAX_INT32),
        tags.MESSAGE_SIZE_EXTENDED: lambda: msg.size,
        tags.MESSAGE_FLAGS: lambda: message_flags(stored_flags, msg.ref.read,
                                                  msg.ref.associated),
        tags.ACCESS: lambda: ACCESS_OWNER_MESSAGE,
        tags.ACCESS_LEVEL: lambda: ACCESS_LEVEL_MODIFY,
        tags.STORE_RECORD_KEY: lambda: meta.mailbox_guid.bytes_le,
    }
    if wanted is None:
        return {tag: make() for tag, make in producers.items()}
    out: dict[PropTag, Value] = {}
    for tag in wanted:
        base = PropTag(tag & ~0x2000)
        make = producers.get(base)
        if make is not None:
            out[base] = make()
    return out


def _gc(packed: int) -> int:
    from storage.mapistore.ids import globcnt

    return globcnt(packed)


def _pcl(meta: StoreMeta, cn: int, stored: bytes | None) -> bytes:
    """The stored PCL with the current change key merged in (MS-OXCFXICS 2.2.2.3)."""
    base = PredecessorChangeList.from_bytes(stored) if stored else PredecessorChangeList()
    return base.with_change(change_xid(meta.replica_guid, cn)).to_bytes()


class StoreBase:
    """State and helpers shared by the parts of MapiStore."""

    def __init__(self, db: Database, blobs: BlobStore, config: MapiStoreConfig | None = None,
                 *, publish: Publish | None = None, registry: BackendRegistry | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.blobs = blobs
        self.config = config or MapiStoreConfig()
        self.registry = registry or BackendRegistry(self.config.backend_modules,
                                                    self.config.backend_options)
        self.index = Index(clock)
        self.clock = clock
        self._publish = publish
        self._meta: dict[StoreId, StoreMeta] = {}
        self._writer_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                      asyncio.Lock] = weakref.WeakKeyDictionary()
        self.blob_writer = ThreadPoolExecutor(max_workers=4, thread_name_prefix="blobs")
        """Writes MIME originals while their transaction runs (see MessageOps)."""
        self.limits = Limits(
            max_message_size=self.config.max_message_mb << 20,
            max_value_size=self.config.max_value_mb << 20,
            blob_threshold=self.config.blob_threshold,
        )

    # --- running transactions ------------------------------------------------------

    async def write(self, desc: str, fn: Callable[Concatenate[sa.Connection, list[Event], P], T],
                    *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(conn, events, ...)`` in one transaction, then publish ``events``.

        Events are collected per attempt, so a retried transaction publishes once,
        and only after its commit.
        """
        def attempt(conn: sa.Connection) -> tuple[T, list[Event]]:
            events: list[Event] = []
            return fn(conn, events, *args, **kwargs), events

        lock = self._writer_lock()
        if lock is None:
            result, events = await self.db.run_interaction(desc, attempt)
        else:
            async with lock:
                result, events = await self.db.run_interaction(desc, attempt)
        self.publish_events(events)
        return result

    def _writer_lock(self) -> asyncio.Lock | None:
        """SQLite takes one writer at a time and makes the others poll with sleeps
        (its busy handler); queueing our own writers here instead keeps throughput
        with many concurrent writers. PostgreSQL needs no such lock."""
        if self.db.dialect != "sqlite":
            return None
        loop = asyncio.get_running_loop()
        lock = self._writer_locks.get(loop)
        if lock is None:
            lock = self._writer_locks[loop] = asyncio.Lock()
        return lock

    async def read(self, desc: str, fn: Callable[Concatenate[sa.Connection, P], T],
                   *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.db.run_read(desc, fn, *args, **kwargs)

    def publish_events(self, events: list[Event]) -> None:
        if self._publish is None:
            return
        for event in events:
            try:
                self._publish(store_channel(event.store or 0), event)
            except Exception:
                logger.exception("publishing %s for store %s failed", event.kind, event.store)

    # --- ids, metadata, backends ------------------------------------------------------

    @staticmethod
    def fid_gc(fid: int) -> int:
        from storage.mapistore.ids import globcnt

        return globcnt(fid, "folder")

    @staticmethod
    def mid_gc(mid: int) -> int:
        from storage.mapistore.ids import globcnt

        return globcnt(mid, "message")

    def meta(self, conn: sa.Connection, store: int) -> StoreMeta:
        cached = self._meta.get(StoreId(store))
        if cached is not None:
            return cached
        rec = self.index.store(conn, store)
        meta = meta_of(rec)
        self._meta[meta.id] = meta
        return meta

    def forget_store(self, store: StoreId) -> None:
        self._meta.pop(store, None)

    def backend(self, uri: str) -> Backend:
        try:
            return self.registry.for_uri(uri)
        except BackendNotAvailable:
            raise
        except Exception as exc:
            raise BackendNotAvailable("mapistore", f"backend for {uri}: {exc}") from exc

    def ctx(self, conn: sa.Connection, meta: StoreMeta) -> BackendContext:
        return BackendContext(conn, meta.id, meta.user_id, str(meta.mailbox_guid),
                              meta.username, self.blobs, _View(self, conn, meta))

    @staticmethod
    def folder_ref(rec: FolderRecord, uri: str | None = None, key: str | None = None) -> FolderRef:
        return FolderRef(rec.store, fid_of(rec.fid),
                         None if rec.parent is None else fid_of(rec.parent), rec.name,
                         rec.container_class, rec.role,
                         BackendUri.parse(uri if uri is not None else rec.backend_uri),
                         rec.backend_key if key is None else key)

    @staticmethod
    def message_ref(rec: MessageRecord) -> MessageRef:
        return MessageRef(mid_of(rec.mid), rec.backend_key, rec.uid, rec.associated,
                          rec.is_read)

    def event(self, kind: str, store: int, folder: int | None, ids: tuple[int, ...],
              cn: int | None, **data: Any) -> Event:
        return Event(kind, StoreId(store), None if folder is None else fid_of(folder), ids, cn,
                     data)


def meta_of(rec: StoreRecord) -> StoreMeta:
    return StoreMeta(rec.id, None if rec.user_id is None else UserId(rec.user_id),
                     rec.mailbox_guid, rec.replica_guid, rec.username)


def packed_folder(gc: int) -> FolderId:
    return fid_of(gc)


def packed_message(gc: int) -> MessageId:
    return mid_of(gc)
