"""Messages: create, deliver, read, change, read state, move, copy, delete, tables
(MS-OXCMSG, MS-OXCTABL), all through the index and the folder's backend.

Order of work in every write: validate and normalize (nothing written on error),
move large values to the blob store (idempotent, outside the transaction), then one
transaction that takes change numbers (locking the store row), checks the quota,
writes the backend and the index, and collects events published after commit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from groupware.mapi.changes import PredecessorChangeList
from groupware.mapi.evaluate import UnsupportedRestriction
from groupware.mapi.proptypes import PropType, tag_type
from groupware.mapi.restrictions import (
    AndRestriction,
    CommentRestriction,
    CountRestriction,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
    Restriction,
    SubObjectRestriction,
)
from groupware.notifier import Event
from groupware.types import ChangeNumber, FolderId, MessageId, PropTag, StoreId, UserId
from storage.blobs import BlobRef
from storage.blobs.interface import blob_ref_of
from storage.db.tables_mapistore import read_states, receive_folders
from storage.mapistore import fastsql, tags
from storage.mapistore.backend import Backend, resolve_blob_value
from storage.mapistore.base import StoreBase, StoreMeta, indexed, message_computed
from storage.mapistore.errors import (
    BackendError,
    InvalidParameter,
    InvalidRestriction,
    ObjectNotFound,
    QuotaExceeded,
)
from storage.mapistore.ids import fid_of, mid_of
from storage.mapistore.index import FolderRecord, MessageRecord, counter_deltas, merge_deltas
from storage.mapistore.info import Message, MessageInfo, Transferred
from storage.mapistore.model import (
    AttachmentContent,
    BlobValue,
    LargeValue,
    MessageContent,
    MessageRef,
    Props,
    TableQuery,
    TableRow,
    Value,
)
from storage.mapistore.validation import (
    check_tag,
    normalize_content,
    normalize_props,
    normalize_tags,
    offload_large_values,
)

logger = logging.getLogger(__name__)

MIME_AFFECTING: frozenset[PropTag] = frozenset({
    tags.SUBJECT, tags.BODY, tags.HTML, tags.RTF_COMPRESSED, tags.SENDER_NAME,
    tags.SENDER_EMAIL_ADDRESS, tags.SENT_REPRESENTING_NAME, tags.CLIENT_SUBMIT_TIME,
    tags.IMPORTANCE, tags.MESSAGE_CLASS, tags.DISPLAY_TO, tags.DISPLAY_CC,
})
"""Changing one of these makes the stored MIME original stale: it is dropped, and
MIME clients get a freshly generated one (``groupware.convert``)."""

DEFAULT_MESSAGE_CLASS = "IPM.Note"

_RECEIVE_FOLDERS = sa.select(receive_folders.c.class_key, receive_folders.c.fid).where(
    receive_folders.c.store_id == sa.bindparam("b_store"))


def _filetime(unix: float) -> int:
    return int((unix + 11644473600) * 10_000_000)


def _prepared_flags(props: Props, content: MessageContent) -> None:
    """Stored PidTagMessageFlags/PidTagHasAttachments as the content implies; the read
    and associated bits are the index's and never stored."""
    flags = props.get(tags.MESSAGE_FLAGS)
    flags = flags if isinstance(flags, int) and not isinstance(flags, bool) else 0
    flags &= ~(tags.MSGFLAG_READ | tags.MSGFLAG_ASSOCIATED | tags.MSGFLAG_HASATTACH)
    if content.attachments:
        flags |= tags.MSGFLAG_HASATTACH
    props[tags.MESSAGE_FLAGS] = flags
    props[tags.HAS_ATTACHMENTS] = bool(content.attachments)


def foreign_pcl(props: Mapping[Any, Any]) -> bytes | None:
    """A PidTagPredecessorChangeList the caller brings (ICS upload, MS-OXCFXICS 2.2.1.2.8),
    checked; the store merges it into the message's own list."""
    value = props.get(tags.PREDECESSOR_CHANGE_LIST)
    if value is None:
        return None
    if not isinstance(value, bytes | bytearray):
        raise InvalidParameter("PidTagPredecessorChangeList must be bytes")
    try:
        return PredecessorChangeList.from_bytes(bytes(value)).to_bytes()
    except Exception as exc:
        raise InvalidParameter(f"bad PidTagPredecessorChangeList: {exc}") from None


def merged_pcl(stored: bytes | None, incoming: bytes | None) -> bytes | None:
    if incoming is None:
        return stored
    if stored is None:
        return incoming
    return PredecessorChangeList.from_bytes(stored).merge(
        PredecessorChangeList.from_bytes(incoming)).to_bytes()


INLINE_PREPARE_LIMIT = 256 << 10
"""MIME originals up to this size are checked on the calling (event loop) thread."""


def _small(content: object, mime: object, threshold: int) -> bool:
    """A message without attachments, a small MIME original and no value big enough
    to go to the blob store: preparing it writes nothing and takes microseconds."""
    if not isinstance(content, MessageContent) or content.attachments \
            or len(content.recipients) > 64:
        return False
    if isinstance(mime, bytes | bytearray) and len(mime) > INLINE_PREPARE_LIMIT:
        return False
    if not isinstance(content.props, dict) or len(content.props) > 256:
        return False
    for value in content.props.values():
        if isinstance(value, str | bytes) and len(value) * 4 > threshold:
            return False
    return True


def check_restriction(node: Restriction | None, depth: int = 0) -> None:
    """Refuse restrictions no evaluator here can decide, before any work
    (RELOP_RE, RELOP_MEMBER_OF_DL, nesting beyond 64): InvalidRestriction (ecTooComplex)."""
    if node is None:
        return
    if depth > 64:
        raise InvalidRestriction("restriction nested too deeply")
    if isinstance(node, AndRestriction | OrRestriction):
        for child in node.restrictions:
            check_restriction(child, depth + 1)
    elif isinstance(node, NotRestriction | CountRestriction | SubObjectRestriction
                    | CommentRestriction):
        check_restriction(node.restriction, depth + 1)
    elif isinstance(node, PropertyRestriction):
        if node.relop in (RelOp.RE, RelOp.MEMBER_OF_DL):
            raise InvalidRestriction(f"{node.relop.name} restrictions are not supported")
    elif not isinstance(node, Restriction):
        raise InvalidRestriction(f"{type(node).__name__} is not a restriction")


def check_columns(columns: Sequence[Any]) -> tuple[PropTag, ...]:
    out: list[PropTag] = []
    for tag in columns:
        if isinstance(tag, bool) or not isinstance(tag, int) or not 0 < tag <= 0xFFFFFFFF:
            raise InvalidParameter(f"{tag!r} is not a property tag")
        if tag_type(tag) & 0x0FFF != PropType.UNSPECIFIED:
            check_tag("table column", tag & ~0x2000)
        out.append(PropTag(tag))
    return tuple(out)


class MessageOps(StoreBase):
    """Message operations of :class:`~storage.mapistore.store.MapiStore`."""

    # --- preparing content (outside any transaction) --------------------------------

    def _prepare(self, content: MessageContent, mime: bytes | BlobRef | None,
                 *, delivery: bool, defer_mime: bool = False,
                 ) -> tuple[MessageContent, int, bytes | None]:
        """Validate and store blobs (runs in a worker thread: blob writes fsync).

        With ``defer_mime`` the MIME original is only hashed and returned for the
        caller to write in parallel with the transaction (see :meth:`_write_mime`).
        """
        normal, size = normalize_content(content, self.limits)
        pending: bytes | None = None
        if isinstance(mime, bytes | bytearray):
            if len(mime) > self.limits.max_message_size:
                from storage.mapistore.errors import MessageTooBig

                raise MessageTooBig(f"MIME original of {len(mime)} bytes is too big")
            if defer_mime:
                pending = bytes(mime)
                normal.mime = blob_ref_of(pending)
            else:
                normal.mime = self.blobs.put(bytes(mime))
            size += len(mime)
        elif mime is not None:
            from storage.blobs.interface import check_blob_ref

            normal.mime = check_blob_ref(mime)
            size += self.blobs.size(normal.mime)
        now = _filetime(self.clock())
        props = normal.props
        props.setdefault(tags.MESSAGE_CLASS, DEFAULT_MESSAGE_CLASS)
        props.setdefault(tags.CREATION_TIME, now)
        props.setdefault(tags.LAST_MODIFICATION_TIME, now)
        if delivery:
            props.setdefault(tags.MESSAGE_DELIVERY_TIME, now)
        _prepared_flags(props, normal)
        return offload_large_values(normal, self.blobs, self.limits.blob_threshold), size, pending

    async def _prepare_new(self, content: MessageContent, mime: bytes | BlobRef | None, *,
                           delivery: bool) -> tuple[MessageContent, int, bytes | None]:
        """:meth:`_prepare` for a new message: inline when it is small (checking and
        hashing a few KiB costs less than a thread hand-off; nothing is written then),
        in a worker thread otherwise."""
        if _small(content, mime, self.limits.blob_threshold):
            return self._prepare(content, mime, delivery=delivery, defer_mime=True)
        return await asyncio.to_thread(self._prepare, content, mime, delivery=delivery,
                                       defer_mime=True)

    def _write_mime(self, data: bytes | None) -> concurrent.futures.Future[BlobRef] | None:
        """Start writing a MIME original on the blob writers. The transaction that
        references it waits for the write (``.result()``) before it commits, so a
        committed message never points at a blob that is not durable, while the
        fsyncs overlap the SQL work."""
        if data is None:
            return None
        return self.blob_writer.submit(self.blobs.put, data)

    def _check_quota(self, conn: sa.Connection, store: int, grow: int, *, delivery: bool) -> None:
        if grow <= 0:
            return
        rec = self.index.store(conn, store)
        cfg = self.config
        if delivery:
            limit = rec.quota_receive if rec.quota_receive is not None \
                else cfg.quota_receive_mb << 20
            what = "receive"
        else:
            limit = rec.quota_send if rec.quota_send is not None else cfg.quota_send_mb << 20
            what = "send"
        if limit and rec.size_used + grow > limit:
            raise QuotaExceeded(f"mailbox {store} is over its {what} quota "
                                f"({rec.size_used} + {grow} > {limit} bytes)")

    # --- creating ------------------------------------------------------------------

    async def create_message(self, store: StoreId, fid: FolderId, content: MessageContent, *,
                             mime: bytes | BlobRef | None = None, read: bool = False,
                             associated: bool = False, mid: MessageId | None = None,
                             ) -> MessageInfo:
        """Save a new message in ``fid`` (RopCreateMessage + RopSaveChangesMessage, IMAP
        APPEND, ActiveSync Add). ``mime`` is the raw RFC 5322 original (bytes or a blob
        already stored). ``mid`` may name an id the client reserved (RopGetLocalReplicaIds);
        otherwise one is allocated. Refused above the send quota."""
        pcl = foreign_pcl(content.props)
        prepared, size, pending = await self._prepare_new(content, mime, delivery=False)
        return await self.write("create_message", self._create_txn, store=store, fid=fid,
                                content=prepared, size=size, read=read, associated=associated,
                                mid=mid, delivery=False, pcl=pcl,
                                mime_written=self._write_mime(pending))

    async def deliver(self, store: StoreId, content: MessageContent, *,
                      mime: bytes | BlobRef | None = None,
                      fid: FolderId | None = None,
                      guard: Callable[[sa.Connection], None] | None = None) -> MessageInfo:
        """Deliver incoming mail: into ``fid`` or the receive folder of its message class
        (MS-OXCSTOR 3.2.5.2). Refused above the receive quota; publishes ``new_mail``.

        ``guard`` runs inside the delivery's transaction once the mailbox is locked and
        before anything is written; whatever it raises aborts the delivery with nothing
        stored, and whatever it writes commits together with the message. Delivery's
        duplicate suppression uses it, so "seen this Message-ID?" and the store write
        are one step even with concurrent deliveries and several processes."""
        prepared, size, pending = await self._prepare_new(content, mime, delivery=True)
        return await self.write("deliver", self._create_txn, store=store, fid=fid,
                                content=prepared, size=size, read=False, associated=False,
                                mid=None, delivery=True, pcl=None,
                                mime_written=self._write_mime(pending), guard=guard)

    def _create_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                    fid: FolderId | None, content: MessageContent, size: int, read: bool,
                    associated: bool, mid: MessageId | None, delivery: bool,
                    pcl: bytes | None,
                    mime_written: concurrent.futures.Future[BlobRef] | None,
                    guard: Callable[[sa.Connection], None] | None = None) -> MessageInfo:
        # The append path: six statements (store counters, folder counters + UID, the
        # backend's rows, the index row), built once (see Index.allocate/claim_uids).
        meta = self.meta(conn, store)
        message_class = str(content.props.get(tags.MESSAGE_CLASS) or "")[:255]
        fgc = self._receive_fid(conn, store, message_class) if fid is None else self.fid_gc(fid)
        alloc = self.index.allocate(conn, store, cns=1, ids=0 if mid is not None else 1,
                                    size=size)
        self._check_quota_after(store, alloc.size_used, size, alloc.quota_send,
                                alloc.quota_receive, delivery=delivery)
        if guard is not None:
            guard(conn)  # the store row is locked from here to the commit
        cn = alloc.first_cn
        if mid is None:
            gc = alloc.first_globcnt
        else:
            gc = self.mid_gc(mid)
            self._check_reserved(conn, store, gc)
        deltas = {"size": size}
        if associated:
            deltas["associated_count"] = 1
        else:
            deltas["message_count"] = 1
            if not read:
                deltas["unread_count"] = 1
        folder = self.index.claim_uids(conn, store, fgc, 1, cn=cn, deltas=deltas)
        uid = folder.uidnext - 1
        ref = MessageRef(mid_of(gc), "", uid, associated, read)
        backend = self.backend(folder.backend_uri)
        if backend.reads_blobs_on_write:
            self._wait_for_mime(mime_written)
        result = backend.create_message(self.ctx(conn, meta), self.folder_ref(folder), ref,
                                        content)
        now = self.clock()
        self.index.insert_message(
            conn, store_id=store, mid=gc, fid=folder.fid, uid=uid, created_cn=cn, cn=cn,
            read_cn=cn, is_read=read, associated=associated, soft_deleted=False,
            message_class=message_class, size=size, backend_key=result.key,
            backend_version=result.version, pcl=pcl, created_at=now, modified_at=now)
        self._wait_for_mime(mime_written)  # durable before the commit that references it
        ids = (ref.mid,)
        events.append(self.event("created", store, folder.fid, ids, cn, object="message",
                                 uid=uid))
        if delivery:
            events.append(self.event("new_mail", store, folder.fid, ids, cn, uid=uid,
                                     message_class=message_class))
        return MessageInfo(store, ref.mid, fid_of(folder.fid), uid, ChangeNumber(cn),
                           ChangeNumber(cn), ChangeNumber(cn), read, associated, False,
                           message_class, size)

    @staticmethod
    def _wait_for_mime(written: concurrent.futures.Future[BlobRef] | None) -> None:
        if written is None:
            return
        try:
            written.result()
        except OSError as exc:
            raise BackendError(f"blob store cannot take the MIME original: {exc}") from exc

    def _check_quota_after(self, store: int, used: int, grow: int, send: int | None,
                           receive: int | None, *, delivery: bool) -> None:
        """Quota check on the size *after* adding ``grow`` (see _check_quota)."""
        if grow <= 0:
            return
        cfg = self.config
        if delivery:
            limit = receive if receive is not None else cfg.quota_receive_mb << 20
            what = "receive"
        else:
            limit = send if send is not None else cfg.quota_send_mb << 20
            what = "send"
        if limit and used > limit:
            raise QuotaExceeded(f"mailbox {store} is over its {what} quota "
                                f"({used - grow} + {grow} > {limit} bytes)")

    def _check_reserved(self, conn: sa.Connection, store: int, gc: int) -> None:
        rec = self.index.store(conn, store)
        if gc > rec.last_globcnt:
            raise InvalidParameter(f"message id counter {gc} was never reserved")
        if self.index.message_or_none(conn, store, gc) is not None:
            from storage.mapistore.errors import DuplicateName

            raise DuplicateName(f"message id {mid_of(gc):#x} is in use")

    def _receive_folder(self, conn: sa.Connection, store: int, message_class: str) -> FolderRecord:
        return self.index.folder(conn, store, self._receive_fid(conn, store, message_class))

    def _receive_fid(self, conn: sa.Connection, store: int, message_class: str) -> int:
        """Folder of the longest receive-folder class that prefixes ``message_class``."""
        rows = fastsql.execute(conn, _RECEIVE_FOLDERS, {"b_store": store})
        key = message_class.casefold()
        best: tuple[int, int] | None = None
        for row in rows:
            k = row.class_key
            matches = k in ("", key) or key.startswith(k + ".")
            if matches and (best is None or len(k) > best[0]):
                best = (len(k), row.fid)
        if best is None:
            raise ObjectNotFound(f"store {store} has no receive folder for {message_class!r}")
        return int(best[1])

    # --- reading ---------------------------------------------------------------------

    def _located(self, conn: sa.Connection, store: int,
                 mid: MessageId) -> tuple[StoreMeta, MessageRecord, FolderRecord, Backend]:
        meta = self.meta(conn, store)
        rec = self.index.message(conn, store, self.mid_gc(mid))
        folder = self.index.folder(conn, store, rec.fid)
        return meta, rec, folder, self.backend(folder.backend_uri)

    async def get_message_info(self, store: StoreId, mid: MessageId) -> MessageInfo:
        def txn(conn: sa.Connection) -> MessageInfo:
            return MessageInfo.of(self.index.message(conn, store, self.mid_gc(mid)))

        return await self.read("get_message_info", txn)

    async def message_by_uid(self, store: StoreId, fid: FolderId, uid: int) -> MessageInfo | None:
        def txn(conn: sa.Connection) -> MessageInfo | None:
            rec = self.index.message_by_uid(conn, store, self.fid_gc(fid), uid)
            return None if rec is None else MessageInfo.of(rec)

        return await self.read("message_by_uid", txn)

    async def get_message(self, store: StoreId, mid: MessageId, *,
                          inline_limit: int | None = None) -> Message:
        """The whole message: stored and computed properties, recipients, attachments
        (embedded messages included). Values over ``inline_limit`` bytes come back as
        :class:`LargeValue` (read them with :meth:`read_property_stream`)."""
        def txn(conn: sa.Connection) -> Message:
            meta, rec, folder, backend = self._located(conn, store, mid)
            content = backend.read_message(self.ctx(conn, meta), self.folder_ref(folder),
                                           self.message_ref(rec))
            content.props.update(message_computed(
                meta, rec.fid, indexed(rec), content.props.get(tags.MESSAGE_FLAGS),
                pcl=rec.pcl))
            return Message(MessageInfo.of(rec), self._resolve_content(content, inline_limit))

        return await self.read("get_message", txn)

    async def get_properties(self, store: StoreId, mid: MessageId,
                             wanted: Sequence[Any] | None = None, *,
                             inline_limit: int | None = None) -> dict[PropTag, Value]:
        """RopGetPropertiesSpecific / GetPropertiesAll of a message."""
        want = None if wanted is None else normalize_tags("message", wanted)

        def txn(conn: sa.Connection) -> dict[PropTag, Value]:
            meta, rec, folder, backend = self._located(conn, store, mid)
            props = backend.read_properties(self.ctx(conn, meta), self.folder_ref(folder),
                                            self.message_ref(rec), want)
            props.update(message_computed(meta, rec.fid, indexed(rec),
                                          props.get(tags.MESSAGE_FLAGS), wanted=want,
                                          pcl=rec.pcl))
            if want is not None:
                keep = set(want)
                props = {t: v for t, v in props.items() if t in keep}
            return self._resolve(props, inline_limit)

        return await self.read("get_properties", txn)

    def _resolve(self, props: Props, inline_limit: int | None) -> Props:
        out: Props = {}
        for tag, value in props.items():
            if isinstance(value, BlobValue):
                if inline_limit is not None and value.size > inline_limit:
                    out[tag] = LargeValue(value.size)
                else:
                    out[tag] = resolve_blob_value(self.blobs, tag, value)
            else:
                out[tag] = value
        return out

    def _resolve_content(self, content: MessageContent, limit: int | None) -> MessageContent:
        return MessageContent(
            self._resolve(content.props, limit),
            [self._resolve(r, limit) for r in content.recipients],
            [AttachmentContent(self._resolve(a.props, limit),
                               None if a.embedded is None
                               else self._resolve_content(a.embedded, limit))
             for a in content.attachments],
            content.mime)

    async def read_property_stream(self, store: StoreId, mid: MessageId, tag: PropTag,
                                   offset: int = 0, size: int = 1 << 20) -> bytes:
        """RopReadStream on a message property: ``size`` bytes from ``offset`` of its
        stored form (raw bytes for PtypBinary, UTF-16LE for PtypString as MAPI streams
        carry strings). Blob-stored values are read without loading them whole."""
        ntag = check_tag("stream", tag)[0]

        def txn(conn: sa.Connection) -> bytes:
            meta, rec, folder, backend = self._located(conn, store, mid)
            props = backend.read_properties(self.ctx(conn, meta), self.folder_ref(folder),
                                            self.message_ref(rec), [ntag])
            value = props.get(ntag)
            if value is None:
                raise ObjectNotFound(f"message {mid:#x} has no property {ntag:#010x}")
            if isinstance(value, BlobValue) and tag_type(ntag) == PropType.BINARY:
                return self.blobs.read(value.ref, offset, size)
            if isinstance(value, BlobValue):
                value = resolve_blob_value(self.blobs, ntag, value)
            data = value.encode("utf-16-le") if isinstance(value, str) else value
            if not isinstance(data, bytes):
                raise InvalidParameter(f"property {ntag:#010x} is not a stream property")
            return data[offset:offset + size]

        return await self.read("read_property_stream", txn)

    async def read_mime(self, store: StoreId, mid: MessageId) -> bytes | None:
        """The byte-exact RFC 5322 original, or None for messages made through MAPI."""
        def txn(conn: sa.Connection) -> bytes | None:
            meta, rec, folder, backend = self._located(conn, store, mid)
            fh = backend.open_mime(self.ctx(conn, meta), self.folder_ref(folder),
                                   self.message_ref(rec))
            if fh is None:
                return None
            with fh:
                return fh.read()

        return await self.read("read_mime", txn)

    # --- changing ------------------------------------------------------------------

    async def set_properties(self, store: StoreId, mid: MessageId, props: Mapping[Any, Any],
                             delete: Iterable[Any] = ()) -> ChangeNumber:
        """RopSetProperties / RopDeleteProperties + save on a message. Computed
        properties are ignored. Changing a property the MIME original shows (subject,
        body, sender ...) drops the original."""
        stored, _ = normalize_props("message", props, self.limits,
                                    drop=tags.COMPUTED_MESSAGE_TAGS)
        removed = normalize_tags("message", delete)
        pcl = foreign_pcl(props)
        holder = await asyncio.to_thread(offload_large_values, MessageContent(stored),
                                         self.blobs, self.limits.blob_threshold)
        return await self.write("set_properties", self._set_props_txn, store=store, mid=mid,
                                props=holder.props, removed=removed, pcl=pcl)

    def _set_props_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                       mid: MessageId, props: Props, removed: list[PropTag],
                       pcl: bytes | None) -> ChangeNumber:
        meta, rec, folder, backend = self._located(conn, store, mid)
        cn = self.index.allocate_cns(conn, store)
        ctx = self.ctx(conn, meta)
        fref, mref = self.folder_ref(folder), self.message_ref(rec)
        props = dict(props)
        if tags.MESSAGE_FLAGS in props:
            flags = props[tags.MESSAGE_FLAGS]
            if isinstance(flags, int):
                props[tags.MESSAGE_FLAGS] = flags & ~(tags.MSGFLAG_READ | tags.MSGFLAG_ASSOCIATED)
        props.setdefault(tags.LAST_MODIFICATION_TIME, _filetime(self.clock()))
        old = backend.read_properties(ctx, fref, mref, None)
        delta = _props_size(props) - _props_size({t: old[t] for t in (*props, *removed)
                                                  if t in old})
        self._check_quota(conn, store, delta, delivery=False)
        touched = set(props) | set(removed)
        if touched & MIME_AFFECTING:
            content = backend.read_message(ctx, fref, mref)
            for tag in removed:
                content.props.pop(tag, None)
            content.props.update(props)
            content.mime = None
            result = backend.write_message(ctx, fref, mref, content)
        else:
            result = backend.set_properties(ctx, fref, mref, props, removed)
        message_class = props.get(tags.MESSAGE_CLASS, rec.message_class)
        self._changed(conn, events, rec, cn, size=max(0, rec.size + delta),
                      message_class=str(message_class)[:255], backend_key=result.key,
                      backend_version=result.version, pcl=merged_pcl(rec.pcl, pcl))
        return ChangeNumber(cn)

    async def save_message(self, store: StoreId, mid: MessageId, content: MessageContent, *,
                           mime: bytes | BlobRef | None = None) -> ChangeNumber:
        """Replace a message's whole content (properties, recipients, attachments)."""
        pcl = foreign_pcl(content.props)
        prepared, size, _ = await asyncio.to_thread(self._prepare, content, mime,
                                                    delivery=False)
        return await self.write("save_message", self._save_txn, store=store, mid=mid,
                                content=prepared, size=size, pcl=pcl)

    def _save_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                  mid: MessageId, content: MessageContent, size: int,
                  pcl: bytes | None) -> ChangeNumber:
        meta, rec, folder, backend = self._located(conn, store, mid)
        cn = self.index.allocate_cns(conn, store)
        self._check_quota(conn, store, size - rec.size, delivery=False)
        result = backend.write_message(self.ctx(conn, meta), self.folder_ref(folder),
                                       self.message_ref(rec), content)
        self._changed(conn, events, rec, cn, size=size,
                      message_class=str(content.props.get(tags.MESSAGE_CLASS) or "")[:255],
                      backend_key=result.key, backend_version=result.version,
                      pcl=merged_pcl(rec.pcl, pcl))
        return ChangeNumber(cn)

    def _changed(self, conn: sa.Connection, events: list[Event], rec: MessageRecord, cn: int,
                 **values: Any) -> None:
        """Index bookkeeping of a content change: CN, PCL, size, counters, event."""
        self.index.update_message(conn, rec.store, rec.mid, cn=cn, **values)
        new = self.index.message(conn, rec.store, rec.mid)
        deltas = merge_deltas(counter_deltas(rec, -1), counter_deltas(new, +1))
        self.index.touch_folder(conn, rec.store, rec.fid, cn, deltas)
        self.index.add_store_size(conn, rec.store, new.size - rec.size)
        events.append(self.event("modified", rec.store, rec.fid, (mid_of(rec.mid),), cn,
                                 object="message", uid=rec.uid))

    async def set_read(self, store: StoreId, mids: Sequence[MessageId], read: bool = True, *,
                       user_id: UserId | None = None) -> ChangeNumber | None:
        """Set the read state (RopSetMessageReadFlag, IMAP \\Seen, EAS Read).

        For the owner (``user_id`` None or the owner) it is the index's read state with
        its own change number (``read_cn``); messages already in that state are left
        alone. Other users (delegates) keep their own state without change numbers.
        Returns the change number used, or None when nothing changed."""
        ids = [self.mid_gc(m) for m in mids]
        return await self.write("set_read", self._set_read_txn, store=store, ids=ids,
                                read=read, user_id=user_id)

    def _set_read_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                      ids: list[int], read: bool, user_id: UserId | None) -> ChangeNumber | None:
        meta = self.meta(conn, store)
        if user_id is not None and user_id != meta.user_id:
            self.index.lock_store(conn, store)
            for gc in ids:
                self.index.message(conn, store, gc)
                conn.execute(sa.delete(read_states).where(
                    read_states.c.store_id == store, read_states.c.mid == gc,
                    read_states.c.user_id == user_id))
                conn.execute(sa.insert(read_states).values(store_id=store, mid=gc,
                                                           user_id=user_id, is_read=read))
            return None
        cn = self.index.allocate_cns(conn, store)
        ctx = self.ctx(conn, meta)
        changed_any = False
        folders: dict[int, FolderRecord] = {}
        by_folder: dict[int, list[int]] = {}
        for gc in ids:
            rec = self.index.message(conn, store, gc)
            if rec.is_read == read:
                continue
            changed_any = True
            values: dict[str, Any] = {"is_read": read, "read_cn": cn}
            folder = folders.get(rec.fid) or self.index.folder(conn, store, rec.fid)
            folders[rec.fid] = folder
            mirrored = self.backend(folder.backend_uri).set_read_state(
                ctx, self.folder_ref(folder), self.message_ref(rec), read)
            if mirrored is not None:
                values.update(backend_key=mirrored.key, backend_version=mirrored.version)
            self.index.update_message(conn, store, gc, **values)
            new = self.index.message(conn, store, gc)
            self.index.touch_folder(conn, store, rec.fid, cn,
                                    merge_deltas(counter_deltas(rec, -1),
                                                 counter_deltas(new, +1)))
            by_folder.setdefault(rec.fid, []).append(gc)
        for fid, gcs in by_folder.items():
            events.append(self.event("modified", store, fid, tuple(mid_of(g) for g in gcs), cn,
                                     object="message", read=read))
        return ChangeNumber(cn) if changed_any else None

    async def is_read_by(self, store: StoreId, mid: MessageId, user_id: UserId) -> bool:
        """Per-user read state (the owner's is ``MessageInfo.read``)."""
        def txn(conn: sa.Connection) -> bool:
            meta = self.meta(conn, store)
            rec = self.index.message(conn, store, self.mid_gc(mid))
            if user_id == meta.user_id:
                return rec.is_read
            value = conn.execute(sa.select(read_states.c.is_read).where(
                read_states.c.store_id == store, read_states.c.mid == rec.mid,
                read_states.c.user_id == user_id)).scalar()
            return bool(value)

        return await self.read("is_read_by", txn)

    # --- move, copy, delete ------------------------------------------------------------

    async def move_messages(self, store: StoreId, mids: Sequence[MessageId],
                            target: FolderId) -> dict[MessageId, MessageId]:
        """RopMoveCopyMessages (move): each message gets a new MID and UID in ``target``
        (IMAP MOVE semantics) and leaves a tombstone behind. Returns old -> new MID."""
        moved = await self.transfer_messages(store, mids, target, move=True)
        return {t.old_mid: t.mid for t in moved}

    async def copy_messages(self, store: StoreId, mids: Sequence[MessageId],
                            target: FolderId) -> dict[MessageId, MessageId]:
        """RopMoveCopyMessages (copy); refused above the send quota."""
        copied = await self.transfer_messages(store, mids, target, move=False)
        return {t.old_mid: t.mid for t in copied}

    async def transfer_messages(self, store: StoreId, mids: Sequence[MessageId],
                                target: FolderId, *, move: bool) -> list[Transferred]:
        """Move or copy messages as :meth:`move_messages` / :meth:`copy_messages` do,
        reporting each message's old and new MID and UID, in the order given (what
        IMAP's COPYUID response code needs, RFC 4315)."""
        return await self.write("move_messages" if move else "copy_messages",
                                self._move_copy_txn, store=store, mids=list(mids),
                                target=target, move=move)

    def _move_copy_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                       mids: list[MessageId], target: FolderId,
                       move: bool) -> list[Transferred]:
        meta = self.meta(conn, store)
        cn = self.index.allocate_cns(conn, store)
        dst = self.index.folder(conn, store, self.fid_gc(target))
        recs = [self.index.message(conn, store, self.mid_gc(m)) for m in mids]
        if not move:
            self._check_quota(conn, store, sum(r.size for r in recs), delivery=False)
        ctx = self.ctx(conn, meta)
        dst_backend = self.backend(dst.backend_uri)
        dst_ref = self.folder_ref(dst)
        mapping: dict[MessageId, MessageId] = {}
        done: list[Transferred] = []
        folders: dict[int, FolderRecord] = {}
        sources: dict[int, list[int]] = {}
        if recs:
            first_gc = self.index.allocate_globcnts(conn, store, len(recs))
            first_uid = self.index.allocate_uids(conn, store, dst.fid, len(recs))
        for i, rec in enumerate(recs):
            src = folders.get(rec.fid) or self.index.folder(conn, store, rec.fid)
            folders[rec.fid] = src
            new_gc, uid = first_gc + i, first_uid + i
            self.index.insert_message(
                conn, store_id=store, mid=new_gc, fid=dst.fid, uid=uid, created_cn=cn, cn=cn,
                read_cn=cn, is_read=rec.is_read, associated=rec.associated,
                soft_deleted=False, message_class=rec.message_class, size=rec.size,
                pcl=rec.pcl)
            new = self.index.message(conn, store, new_gc)
            src_backend = self.backend(src.backend_uri)
            src_ref, old_ref, new_ref = (self.folder_ref(src), self.message_ref(rec),
                                         self.message_ref(new))
            if src_backend is dst_backend and src.backend_uri == dst.backend_uri:
                op = src_backend.move_message if move else src_backend.copy_message
                result = op(ctx, src_ref, dst_ref, old_ref, new_ref)
            else:
                content = src_backend.read_message(ctx, src_ref, old_ref)
                result = dst_backend.create_message(ctx, dst_ref, new_ref, content)
                if move:
                    src_backend.delete_message(ctx, src_ref, old_ref)
            self.index.update_message(conn, store, new_gc, backend_key=result.key,
                                      backend_version=result.version)
            self.index.touch_folder(conn, store, dst.fid, cn, counter_deltas(new, +1))
            if move:
                self.index.delete_message_row(conn, rec, cn, soft=False,
                                              tombstone=not rec.soft_deleted)
                self.index.touch_folder(conn, store, rec.fid, cn, counter_deltas(rec, -1))
            else:
                self.index.add_store_size(conn, store, rec.size)
            mapping[mid_of(rec.mid)] = mid_of(new_gc)
            done.append(Transferred(mid_of(rec.mid), rec.uid, mid_of(new_gc), uid,
                                    ChangeNumber(cn)))
            sources.setdefault(rec.fid, []).append(rec.mid)
        for src_fid, gcs in sources.items():
            kind = "moved" if move else "created"
            events.append(self.event(
                kind, store, dst.fid, tuple(mapping[mid_of(g)] for g in gcs), cn,
                object="message", old_folder=fid_of(src_fid),
                old_ids=tuple(mid_of(g) for g in gcs)))
        return done

    async def delete_messages(self, store: StoreId, mids: Sequence[MessageId], *,
                              hard: bool = False) -> ChangeNumber:
        """RopDeleteMessages (soft: hidden, kept until purged, reported to sync clients
        as soft deletions) or RopHardDeleteMessages (content gone now). Missing
        messages are ignored, as Exchange does for partially completed deletes."""
        return await self.write("delete_messages", self._delete_txn, store, list(mids), hard)

    def _delete_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                    mids: list[MessageId], hard: bool) -> ChangeNumber:
        meta = self.meta(conn, store)
        cn = self.index.allocate_cns(conn, store)
        ctx = self.ctx(conn, meta)
        folders: dict[int, FolderRecord] = {}
        by_folder: dict[int, list[int]] = {}
        for mid in mids:
            rec = self.index.message_or_none(conn, store, self.mid_gc(mid))
            if rec is None or (rec.soft_deleted and not hard):
                continue
            folder = folders.get(rec.fid) or self.index.folder(conn, store, rec.fid)
            folders[rec.fid] = folder
            if hard:
                self.backend(folder.backend_uri).delete_message(
                    ctx, self.folder_ref(folder), self.message_ref(rec))
                self.index.delete_message_row(conn, rec, cn, soft=False,
                                              tombstone=not rec.soft_deleted)
                conn.execute(sa.delete(read_states).where(read_states.c.store_id == store,
                                                          read_states.c.mid == rec.mid))
                self.index.touch_folder(conn, store, rec.fid, cn, counter_deltas(rec, -1))
                self.index.add_store_size(conn, store, -rec.size)
            else:
                self.index.update_message(conn, store, rec.mid, soft_deleted=True, cn=cn)
                new = self.index.message(conn, store, rec.mid)
                self.index.add_tombstone(conn, store, fid=rec.fid, object_id=rec.mid,
                                         is_folder=False, uid=rec.uid, cn=cn, soft=True,
                                         associated=rec.associated)
                self.index.touch_folder(conn, store, rec.fid, cn,
                                        merge_deltas(counter_deltas(rec, -1),
                                                     counter_deltas(new, +1)))
            by_folder.setdefault(rec.fid, []).append(rec.mid)
        for fid, gcs in by_folder.items():
            events.append(self.event("deleted", store, fid, tuple(mid_of(g) for g in gcs), cn,
                                     object="message", hard=hard))
        return ChangeNumber(cn)

    # --- tables and iteration ------------------------------------------------------

    async def query_table(self, store: StoreId, fid: FolderId, query: TableQuery) -> list[TableRow]:
        """A contents-table window (MS-OXCTABL). Cells holding blob-stored values come
        back as :class:`LargeValue`; restrictions the store cannot evaluate are
        InvalidRestriction (ecTooComplex)."""
        query = self._checked_query(query)

        def txn(conn: sa.Connection) -> list[TableRow]:
            meta = self.meta(conn, store)
            folder = self.index.folder(conn, store, self.fid_gc(fid))
            try:
                rows = self.backend(folder.backend_uri).query_table(
                    self.ctx(conn, meta), self.folder_ref(folder), query)
            except UnsupportedRestriction as exc:
                raise InvalidRestriction(str(exc)) from exc
            return [TableRow(r.mid, {t: LargeValue(v.size) if isinstance(v, BlobValue) else v
                                     for t, v in r.values.items()}) for r in rows]

        return await self.read("query_table", txn)

    async def count_rows(self, store: StoreId, fid: FolderId, query: TableQuery) -> int:
        """Rows of the table without window (RopQueryPosition's denominator)."""
        query = self._checked_query(query)

        def txn(conn: sa.Connection) -> int:
            meta = self.meta(conn, store)
            folder = self.index.folder(conn, store, self.fid_gc(fid))
            try:
                return self.backend(folder.backend_uri).count_rows(
                    self.ctx(conn, meta), self.folder_ref(folder), query)
            except UnsupportedRestriction as exc:
                raise InvalidRestriction(str(exc)) from exc

        return await self.read("count_rows", txn)

    def _checked_query(self, query: TableQuery) -> TableQuery:
        if not isinstance(query, TableQuery):
            raise InvalidParameter("expected a TableQuery")
        check_restriction(query.restriction)
        check_columns(query.columns)
        for order in query.sort:
            check_columns([order.tag])
        return query

    async def iter_messages(self, store: StoreId, fid: FolderId, *, batch: int = 500,
                            associated: bool = False,
                            soft_deleted: bool = False) -> AsyncIterator[MessageInfo]:
        """Every message of a folder in UID order, ``batch`` per transaction, so memory
        does not grow with the folder."""
        after = 0
        fgc = self.fid_gc(fid)
        while True:
            def txn(conn: sa.Connection, start: int = after) -> list[MessageInfo]:
                return [MessageInfo.of(r) for r in self.index.messages_in(
                    conn, store, fgc, associated=associated, soft_deleted=soft_deleted,
                    after_uid=start, limit=batch)]

            chunk = await self.read("iter_messages", txn)
            for info in chunk:
                yield info
            if len(chunk) < batch:
                return
            after = chunk[-1].uid

    async def list_uids(self, store: StoreId, fid: FolderId) -> list[int]:
        """UIDs of the live, non-FAI messages of a folder, ascending (IMAP sequence map)."""
        from storage.db.tables_mapistore import messages as mt

        def txn(conn: sa.Connection) -> list[int]:
            rows = conn.execute(sa.select(mt.c.uid).where(
                mt.c.store_id == store, mt.c.fid == self.fid_gc(fid),
                mt.c.associated == sa.false(), mt.c.soft_deleted == sa.false())
                .order_by(mt.c.uid))
            return [int(r.uid) for r in rows]

        return await self.read("list_uids", txn)


def _props_size(props: Mapping[PropTag, Any]) -> int:
    total = 0
    for value in props.values():
        if isinstance(value, BlobValue):
            total += value.size
        elif isinstance(value, str):
            total += len(value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, bytes):
            total += len(value)
        elif isinstance(value, tuple):
            total += sum(len(v) if isinstance(v, str | bytes) else 8 for v in value)
        else:
            total += 8
        total += 8
    return total
