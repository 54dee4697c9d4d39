"""Bulk reads and writes for the mail gateways (IMAP, POP3).

A mail client sees a folder as a list of messages in UID order, each with a read
state, a few flag properties, a modification sequence (the change number), a size
and an arrival time; it changes flags of many messages at once, optionally only if
they did not change since a MODSEQ (RFC 7162 UNCHANGEDSINCE). Built from the
per-message API that would be a transaction per message; here:

* :meth:`BulkOps.read_rows` — one folder's live messages (or those changed after a
  change number, or a set of UIDs) with the asked properties and the byte size of
  their MIME originals, plus the deletions after that change number, in one read.
* :meth:`BulkOps.update_messages` — read state and property changes of many messages
  in one transaction, the conditional check included. Every changed message gets a
  new change number, exactly as :meth:`~.messages.MessageOps.set_read` and
  :meth:`~.messages.MessageOps.set_properties` give it, so flag changes reach IMAP
  MODSEQ, ActiveSync and ICS like any other change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from groupware.notifier import Event
from groupware.types import FolderId, MessageId, PropTag, StoreId
from storage.db.tables_mapistore import folders, messages, stores, tombstones
from storage.mapistore import fastsql, tags
from storage.mapistore.errors import InvalidParameter, ObjectNotFound, SyncStateTooOld
from storage.mapistore.ids import mid_of
from storage.mapistore.index import folder_record
from storage.mapistore.info import FolderInfo, MessageInfo
from storage.mapistore.messages import MessageOps
from storage.mapistore.model import MessageContent, MessageRef, Props
from storage.mapistore.validation import normalize_props, normalize_tags, offload_large_values

_ROW_COLUMNS = (messages.c.mid, messages.c.uid, messages.c.cn, messages.c.read_cn,
                messages.c.is_read, messages.c.size, messages.c.backend_key,
                messages.c.created_at)
_CHUNK = 500

# The statements of an incremental read (a SELECT or an IDLE wake-up asks "what changed
# since my change number" and usually gets a handful of rows): prebuilt, and run on
# the DB-API cursor (storage.mapistore.fastsql).
_HORIZON = sa.select(stores.c.tombstone_horizon_cn, stores.c.last_cn).where(
    stores.c.id == sa.bindparam("b_store"))
_FOLDER = sa.select(folders).where(folders.c.store_id == sa.bindparam("b_store"),
                                   folders.c.fid == sa.bindparam("b_fid"))
_LIVE = (messages.c.store_id == sa.bindparam("b_store"),
         messages.c.fid == sa.bindparam("b_fid"),
         messages.c.associated == sa.false(), messages.c.soft_deleted == sa.false())
# Two halves, each on its own (store, folder, change number) index: with an OR, SQLite
# walks the whole folder in UID order instead.
_CHANGED_ROWS = sa.union(
    sa.select(*_ROW_COLUMNS).where(*_LIVE, messages.c.cn > sa.bindparam("b_since")),
    sa.select(*_ROW_COLUMNS).where(*_LIVE, messages.c.read_cn > sa.bindparam("b_since")),
).order_by(sa.literal_column("uid"))
_TOMBSTONES = (
    sa.select(tombstones.c.object_id, tombstones.c.uid, tombstones.c.cn)
    .where(tombstones.c.store_id == sa.bindparam("b_store"),
           tombstones.c.fid == sa.bindparam("b_fid"),
           tombstones.c.is_folder == sa.false(), tombstones.c.associated == sa.false(),
           tombstones.c.cn > sa.bindparam("b_since"))
    .order_by(tombstones.c.cn))


@dataclass(frozen=True, slots=True)
class MessageRow:
    """A live, non-FAI message as a mail client lists it."""

    mid: MessageId
    uid: int
    cn: int
    read_cn: int
    read: bool
    size: int
    """The index's size (properties + MIME original); see ``mime_size``."""
    mime_size: int | None
    """Bytes of the MIME original (IMAP RFC822.SIZE); None when it has none or when
    the caller did not ask."""
    created_at: float
    """Seconds since the epoch when the message entered this folder."""
    props: Props
    """The asked properties the message has (as the backend stores them)."""

    @property
    def modseq(self) -> int:
        """IMAP MODSEQ (RFC 7162): the newest change of content or read state."""
        return max(self.cn, self.read_cn)


@dataclass(frozen=True, slots=True)
class DeletedRow:
    """A message that left the folder (deleted, expunged or moved away)."""

    mid: MessageId
    uid: int
    cn: int


@dataclass
class FolderRows:
    """What :meth:`BulkOps.read_rows` returns.

    ``folder`` is read first, so every change up to ``folder.highest_cn`` is in
    ``rows``/``deleted`` (change numbers are handed out in commit order); changes
    committed while the read ran may be there as well.
    """

    folder: FolderInfo
    since: int
    store_cn: int = 0
    """The store's newest change number when the read began: every change of the
    store up to it is reflected (a caller that later commits change number
    ``store_cn + 1`` knows nothing else happened in between)."""
    rows: list[MessageRow] = field(default_factory=list)
    """In UID order."""
    deleted: list[DeletedRow] = field(default_factory=list)
    """Tombstones with a change number above ``since`` (none when ``since`` is 0)."""


@dataclass(frozen=True)
class MessageUpdate:
    """One message's change in :meth:`BulkOps.update_messages`."""

    mid: MessageId
    read: bool | None = None
    """New read state (None: unchanged)."""
    props: Mapping[PropTag, Any] = field(default_factory=dict)
    delete: tuple[PropTag, ...] = ()


@dataclass
class UpdateResult:
    changed: dict[MessageId, MessageInfo] = field(default_factory=dict)
    """Messages the update reached, as they are now (also those it left as they were)."""
    previous: dict[MessageId, MessageInfo] = field(default_factory=dict)
    """The same messages as the update found them."""
    conflicts: list[MessageId] = field(default_factory=list)
    """Refused: changed after ``unchanged_since``."""
    missing: list[MessageId] = field(default_factory=list)
    """Gone (deleted or soft-deleted) before the update."""


def _chunks(items: Sequence[int], n: int = _CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), n):
        yield items[start:start + n]


class BulkOps(MessageOps):
    """Bulk message operations of :class:`~storage.mapistore.store.MapiStore`."""

    async def read_rows(self, store: StoreId, fid: FolderId,
                        wanted: Sequence[PropTag] = (), *, since: int = 0,
                        uids: Sequence[int] | None = None,
                        mime_sizes: bool = True) -> FolderRows:
        """The folder's live, non-FAI messages in UID order with the ``wanted``
        properties: all of them, those changed (content or read state) after change
        number ``since`` together with the deletions after it, or only ``uids``.
        Raises SyncStateTooOld when tombstones after ``since`` were purged."""
        if since < 0:
            raise InvalidParameter("change numbers are not negative")
        want = normalize_tags("message", list(wanted)) if wanted else []
        uid_list = None if uids is None else sorted({int(u) for u in uids})
        fgc = self.fid_gc(fid)

        def txn(conn: sa.Connection) -> FolderRows:
            meta = self.meta(conn, store)
            keys = {"b_store": store, "b_fid": fgc, "b_since": since}
            counters = fastsql.first(fastsql.execute(conn, _HORIZON, keys))
            if counters is None:
                raise ObjectNotFound(f"mailbox store {store} does not exist")
            if 0 < since < int(counters.tombstone_horizon_cn):
                raise SyncStateTooOld(
                    f"change number {since} is older than the tombstone horizon "
                    f"{counters.tombstone_horizon_cn} of store {store}")
            row = fastsql.first(fastsql.execute(conn, _FOLDER, keys))
            if row is None:
                raise ObjectNotFound(f"folder {fgc:#x} does not exist in store {store}")
            folder = folder_record(row)
            out = FolderRows(FolderInfo.of(folder), since, int(counters.last_cn))
            base = sa.select(*_ROW_COLUMNS).where(
                messages.c.store_id == store, messages.c.fid == fgc,
                messages.c.associated == sa.false(), messages.c.soft_deleted == sa.false())
            found: list[Any]
            if since and uid_list is None:
                found = fastsql.execute(conn, _CHANGED_ROWS, keys)
            elif uid_list is None:
                found = list(conn.execute(base.order_by(messages.c.uid)))
            else:
                if since:
                    base = base.where(sa.or_(messages.c.cn > since,
                                             messages.c.read_cn > since))
                found = []
                for chunk in _chunks(uid_list):
                    found.extend(conn.execute(base.where(messages.c.uid.in_(chunk))
                                              .order_by(messages.c.uid)))
            refs = [MessageRef(mid_of(r.mid), r.backend_key, r.uid, False, bool(r.is_read))
                    for r in found]
            props: dict[int, Props] = {}
            sizes: dict[int, int | None] = {}
            if refs and (want or mime_sizes):
                backend = self.backend(folder.backend_uri)
                ctx, fref = self.ctx(conn, meta), self.folder_ref(folder)
                if want:
                    props = {ref.mid: bag for ref, bag in
                             backend.read_properties_many(ctx, fref, refs, want)}
                if mime_sizes:
                    sizes = {ref.mid: size for ref, size in backend.mime_sizes(ctx, fref, refs)}
            keep = set(want)
            for r, ref in zip(found, refs, strict=True):
                bag = props.get(ref.mid, {})
                out.rows.append(MessageRow(
                    ref.mid, int(r.uid), int(r.cn), int(r.read_cn), bool(r.is_read),
                    int(r.size), sizes.get(ref.mid), float(r.created_at),
                    {t: v for t, v in bag.items() if t in keep}))
            if since:
                out.deleted = [DeletedRow(mid_of(r.object_id), int(r.uid or 0), int(r.cn))
                               for r in fastsql.execute(conn, _TOMBSTONES, keys)]
            return out

        return await self.read("read_rows", txn)

    async def read_mimes(self, store: StoreId, mids: Sequence[MessageId], *,
                         max_bytes: int = 4 << 20) -> dict[MessageId, bytes | None]:
        """The MIME originals of several messages in one read (None: made through MAPI,
        no original). Messages that are gone are left out; reading stops once
        ``max_bytes`` were read (the first message is always read whole)."""
        gcs = [self.mid_gc(m) for m in mids]

        def txn(conn: sa.Connection) -> dict[MessageId, bytes | None]:
            meta = self.meta(conn, store)
            out: dict[MessageId, bytes | None] = {}
            folders: dict[int, Any] = {}
            total = 0
            for gc in gcs:
                rec = self.index.message_or_none(conn, store, gc)
                if rec is None or rec.soft_deleted:
                    continue
                folder = folders.get(rec.fid)
                if folder is None:
                    folder = folders[rec.fid] = self.index.folder(conn, store, rec.fid)
                backend = self.backend(folder.backend_uri)
                try:
                    fh = backend.open_mime(self.ctx(conn, meta), self.folder_ref(folder),
                                           self.message_ref(rec))
                except LookupError:
                    continue
                except Exception as exc:
                    from groupware.errors import NotFound

                    if isinstance(exc, NotFound):
                        continue
                    raise
                if fh is None:
                    out[mid_of(gc)] = None
                    continue
                with fh:
                    data = fh.read()
                out[mid_of(gc)] = data
                total += len(data)
                if total >= max_bytes:
                    break
            return out

        return await self.read("read_mimes", txn)

    async def update_messages(self, store: StoreId, updates: Sequence[MessageUpdate], *,
                              unchanged_since: int | None = None) -> UpdateResult:
        """Change read state and properties of many messages in one transaction.

        With ``unchanged_since``, messages whose MODSEQ is above it are left alone and
        reported as conflicts (the check and the change are atomic: the store is
        locked first). Properties follow :meth:`set_properties` (computed ones
        ignored, MIME-visible ones drop the original); every message changed gets new
        change numbers and a ``modified`` event.
        """
        checked: list[tuple[MessageId, bool | None, Props, list[PropTag]]] = []
        for update in updates:
            stored, _ = normalize_props("message", update.props, self.limits,
                                        drop=tags.COMPUTED_MESSAGE_TAGS)
            if any(isinstance(v, str | bytes) and len(v) * 4 > self.limits.blob_threshold
                   for v in stored.values()):
                stored = (await asyncio.to_thread(
                    offload_large_values, MessageContent(stored), self.blobs,
                    self.limits.blob_threshold)).props
            checked.append((update.mid, update.read, stored,
                            normalize_tags("message", update.delete)))
        return await self.write("update_messages", self._update_txn, store=store,
                                checked=checked, unchanged_since=unchanged_since)

    def _update_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                    checked: list[tuple[MessageId, bool | None, Props, list[PropTag]]],
                    unchanged_since: int | None) -> UpdateResult:
        self.meta(conn, store)
        self.index.lock_store(conn, store)
        result = UpdateResult()
        reads: dict[bool, list[int]] = {True: [], False: []}
        writes: list[tuple[MessageId, Props, list[PropTag]]] = []
        for mid, read, props, delete in checked:
            rec = self.index.message_or_none(conn, store, self.mid_gc(mid))
            if rec is None or rec.soft_deleted:
                result.missing.append(mid)
                continue
            if unchanged_since is not None and max(rec.cn, rec.read_cn) > unchanged_since:
                result.conflicts.append(mid)
                continue
            if read is not None and read != rec.is_read:
                reads[read].append(rec.mid)
            if props or delete:
                writes.append((mid, props, delete))
            result.previous[mid] = MessageInfo.of(rec)
        for read, gcs in reads.items():
            if gcs:
                self._set_read_txn(conn, events, store=store, ids=gcs, read=read, user_id=None)
        for mid, props, delete in writes:
            self._set_props_txn(conn, events, store=store, mid=mid, props=props,
                                removed=delete, pcl=None)
        for mid in result.previous:
            result.changed[mid] = MessageInfo.of(self.index.message(conn, store,
                                                                    self.mid_gc(mid)))
        return result

