"""Two batched reads of the message store that ActiveSync Sync needs to be fast.

``MapiStore.changes_since`` returns every change after a change number at once and
``get_message`` costs one transaction per message; an initial Sync of a 10,000-item
folder in windows of 512 would re-read the whole change list for every window and
run 10,000 transactions. Here the change log is read a page at a time in change
number order (memory stays flat in the folder size) and a window's messages are
read in one transaction, MIME originals cut to the size the client asked for.

This is an adapter over the store's index and backends (same package layer); the
store's public API may grow equivalents, then this module shrinks to calls of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage.backends.sql.backend import SqlBackend
from storage.blobs import BlobRef
from storage.db.tables_mapistore import (
    messages,
    sql_attachments,
    sql_messages,
    sql_recipients,
    tombstones,
)
from storage.mapistore import propcodec, tags
from storage.mapistore.base import indexed, message_computed
from storage.mapistore.errors import ObjectNotFound
from storage.mapistore.ids import globcnt, mid_of
from storage.mapistore.index import message_record
from storage.mapistore.info import MessageInfo
from storage.mapistore.model import AttachmentContent, BlobValue, MessageContent
from storage.mapistore.store import MapiStore


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change log of a folder, ordered by ``modseq``.

    ``deleted`` entries come from tombstones (``mid`` is the deleted message);
    others are live messages whose content (``cn``) or read state (``read_cn``)
    changed. ``modseq`` = max(cn, read_cn), or the deleting change number.
    """

    mid: int
    modseq: int
    deleted: bool
    created_cn: int = 0
    cn: int = 0
    read: bool = False
    soft: bool = False
    created_at: float = 0.0
    message_class: str = ""
    gc: int = 0
    """The MID's global counter: the order of ties (packed MIDs do not sort by it)."""


@dataclass(frozen=True)
class ChangePage:
    changes: list[Change]
    highest_cn: int
    """The folder's highest change number when the page was read."""
    more: bool
    """True when changes beyond the page exist."""


@dataclass
class FetchedMessage:
    """A message as Sync and ItemOperations export it."""

    info: MessageInfo
    content: MessageContent
    """Properties resolved up to the read's ``inline_limit``; attachment data left out
    unless asked for."""
    mime_head: bytes | None
    """The first ``mime_limit`` bytes of the MIME original (None: no original)."""
    mime_size: int


async def changes_page(store: MapiStore, store_id: int, fid: int, *, cursor_cn: int,
                       cursor_gc: int, limit: int) -> ChangePage:
    """At most ``limit`` changes of folder ``fid`` after the cursor, in (modseq, MID
    counter) order: those with modseq > ``cursor_cn``, or == ``cursor_cn`` and a MID
    counter above ``cursor_gc`` (-1: none of modseq ``cursor_cn``). Ties of one change
    number (a bulk flag change of thousands of messages) are paged through like any
    other run. Raises SyncStateTooOld past the tombstone horizon."""
    fgc = globcnt(fid, "folder")
    since = max(0, cursor_cn - 1)

    def after(modseq: Any, ident: Any) -> Any:
        if cursor_gc < 0:
            return modseq > cursor_cn
        return sa.or_(modseq > cursor_cn, sa.and_(modseq == cursor_cn, ident > cursor_gc))

    def txn(conn: sa.Connection) -> ChangePage:
        store.index._check_horizon(conn, store_id, since)
        folder = store.index.folder(conn, store_id, fgc)
        modseq = sa.case((messages.c.cn >= messages.c.read_cn, messages.c.cn),
                         else_=messages.c.read_cn)
        rows = conn.execute(
            sa.select(messages.c.mid, messages.c.created_cn, messages.c.cn,
                      messages.c.read_cn, messages.c.is_read, messages.c.created_at,
                      messages.c.message_class, modseq.label("modseq"))
            .where(messages.c.store_id == store_id, messages.c.fid == fgc,
                   messages.c.associated == sa.false(), messages.c.soft_deleted == sa.false(),
                   sa.or_(messages.c.cn > since, messages.c.read_cn > since),
                   after(modseq, messages.c.mid))
            .order_by(modseq, messages.c.mid).limit(limit + 1)).all()
        live = [Change(int(mid_of(r.mid)), int(r.modseq), False, int(r.created_cn), int(r.cn),
                       bool(r.is_read), False, float(r.created_at), r.message_class,
                       gc=int(r.mid))
                for r in rows]
        dead: list[Change] = []
        if cursor_cn > 0:
            trows = conn.execute(
                sa.select(tombstones.c.object_id, tombstones.c.cn, tombstones.c.soft)
                .where(tombstones.c.store_id == store_id, tombstones.c.fid == fgc,
                       tombstones.c.is_folder == sa.false(),
                       tombstones.c.associated == sa.false(), tombstones.c.cn > since,
                       after(tombstones.c.cn, tombstones.c.object_id))
                .order_by(tombstones.c.cn, tombstones.c.object_id).limit(limit + 1)).all()
            dead = [Change(int(mid_of(r.object_id)), int(r.cn), True, soft=bool(r.soft),
                           gc=int(r.object_id)) for r in trows]
        merged = sorted(live + dead, key=lambda c: (c.modseq, c.gc, c.deleted))
        more = len(merged) > limit
        return ChangePage(merged[:limit], int(folder.highest_cn), more)

    return await store.read("eas_changes_page", txn)


async def older_than(store: MapiStore, store_id: int, fid: int, cutoff: float, *,
                     since: float, limit: int) -> list[int]:
    """MID counters of live messages of a folder stored in [``since``, ``cutoff``) (Unix
    time), oldest first: what left a device's FilterType window since the last look."""
    fgc = globcnt(fid, "folder")

    def txn(conn: sa.Connection) -> list[int]:
        rows = conn.execute(sa.select(messages.c.mid).where(
            messages.c.store_id == store_id, messages.c.fid == fgc,
            messages.c.associated == sa.false(), messages.c.soft_deleted == sa.false(),
            messages.c.created_at < cutoff, messages.c.created_at >= since)
            .order_by(messages.c.created_at).limit(limit))
        return [int(r.mid) for r in rows]

    return await store.read("eas_older_than", txn)


async def count_changes(store: MapiStore, store_id: int, fid: int, since: int) -> int:
    """How many live messages changed after ``since`` plus deletions (GetItemEstimate)."""
    fgc = globcnt(fid, "folder")

    def txn(conn: sa.Connection) -> int:
        store.index._check_horizon(conn, store_id, since)
        live = conn.execute(sa.select(sa.func.count()).where(
            messages.c.store_id == store_id, messages.c.fid == fgc,
            messages.c.associated == sa.false(), messages.c.soft_deleted == sa.false(),
            sa.or_(messages.c.cn > since, messages.c.read_cn > since))).scalar_one()
        dead = 0
        if since > 0:
            dead = conn.execute(sa.select(sa.func.count()).where(
                tombstones.c.store_id == store_id, tombstones.c.fid == fgc,
                tombstones.c.is_folder == sa.false(), tombstones.c.associated == sa.false(),
                tombstones.c.cn > since)).scalar_one()
        return int(live) + int(dead)

    return await store.read("eas_count_changes", txn)


async def read_messages(store: MapiStore, store_id: int, mids: Sequence[int], *,
                        inline_limit: int | None = 1 << 20, mime_limit: int | None = 0,
                        attachment_data: bool = False,
                        computed: bool = False) -> list[FetchedMessage | None]:
    """Many messages in one transaction, in the order asked (None for vanished ones).

    ``mime_limit``: bytes of the MIME original to read (0: none, None: all).
    Attachment data (PidTagAttachDataBinary) is left out unless ``attachment_data``;
    the index's computed properties (entry ids, change keys ...) unless ``computed``.
    Messages of the ``sql`` backend are read with four queries per call, not per message.
    """
    def txn(conn: sa.Connection) -> list[FetchedMessage | None]:
        meta = store.meta(conn, store_id)
        gcs = [store.mid_gc(m) for m in mids]
        recs = {r.mid: r for r in (message_record(row) for chunk in _chunks(gcs, 500)
                                   for row in conn.execute(sa.select(messages).where(
                                       messages.c.store_id == store_id,
                                       messages.c.mid.in_(chunk))))}
        folders: dict[int, Any] = {}
        contents: dict[int, MessageContent] = {}
        by_folder: dict[int, list[int]] = {}
        for gc in gcs:
            rec = recs.get(gc)
            if rec is not None:
                by_folder.setdefault(rec.fid, []).append(gc)
        ctx = store.ctx(conn, meta)
        for fgc, members in by_folder.items():
            folder = store.index.folder(conn, store_id, fgc)
            folders[fgc] = folder
            backend = store.backend(folder.backend_uri)
            if isinstance(backend, SqlBackend):
                contents.update(_sql_contents(conn, store_id, members))
                continue
            for gc in members:
                try:
                    contents[gc] = backend.read_message(ctx, store.folder_ref(folder),
                                                        store.message_ref(recs[gc]))
                except ObjectNotFound:
                    continue
        out: list[FetchedMessage | None] = []
        for gc in gcs:
            rec = recs.get(gc)
            content = contents.get(gc)
            if rec is None or content is None:
                out.append(None)
                continue
            if computed:
                content.props.update(message_computed(
                    meta, rec.fid, indexed(rec), content.props.get(tags.MESSAGE_FLAGS),
                    pcl=rec.pcl))
            if not attachment_data:
                for att in content.attachments:
                    data = att.props.pop(tags.ATTACH_DATA_BINARY, None)
                    if isinstance(data, BlobValue):
                        att.props.setdefault(tags.ATTACH_SIZE, data.size)
                    elif isinstance(data, bytes):
                        att.props.setdefault(tags.ATTACH_SIZE, len(data))
            resolved = store._resolve_content(content, inline_limit)
            head: bytes | None = None
            size = 0
            if content.mime is not None:
                if mime_limit is None:
                    head = store.blobs.get(content.mime)
                    size = len(head)
                elif mime_limit > 0:
                    with store.blobs.open(content.mime) as fh:
                        head = fh.read(mime_limit)
                        size = len(head) if len(head) < mime_limit else \
                            store.blobs.size(content.mime)
                else:
                    head = b""
                    size = store.blobs.size(content.mime)
            out.append(FetchedMessage(MessageInfo.of(rec), resolved, head, size))
        return out

    return await store.read("eas_read_messages", txn)


def _chunks(items: list[int], n: int) -> list[list[int]]:
    return [items[i:i + n] for i in range(0, len(items), n)]


def _sql_contents(conn: sa.Connection, store_id: int,
                  gcs: list[int]) -> dict[int, MessageContent]:
    """Contents of many messages of the sql backend: one query per table."""
    out: dict[int, MessageContent] = {}
    for chunk in _chunks(gcs, 500):
        for row in conn.execute(sa.select(sql_messages.c.mid, sql_messages.c.props,
                                          sql_messages.c.mime_ref).where(
                sql_messages.c.store_id == store_id, sql_messages.c.mid.in_(chunk))):
            out[int(row.mid)] = MessageContent(
                propcodec.decode_props(row.props), [], [],
                None if row.mime_ref is None else BlobRef(row.mime_ref))
        for rrow in conn.execute(sa.select(sql_recipients.c.mid, sql_recipients.c.props).where(
                sql_recipients.c.store_id == store_id, sql_recipients.c.mid.in_(chunk))
                .order_by(sql_recipients.c.mid, sql_recipients.c.row_id)):
            if int(rrow.mid) in out:
                out[int(rrow.mid)].recipients.append(propcodec.decode_props(rrow.props))
        for row in conn.execute(sa.select(sql_attachments.c.mid, sql_attachments.c.props,
                                          sql_attachments.c.embedded).where(
                sql_attachments.c.store_id == store_id, sql_attachments.c.mid.in_(chunk))
                .order_by(sql_attachments.c.mid, sql_attachments.c.attach_num)):
            if int(row.mid) in out:
                out[int(row.mid)].attachments.append(AttachmentContent(
                    propcodec.decode_props(row.props),
                    None if row.embedded is None else propcodec.decode_message(row.embedded)))
    return out


async def read_attachment(store: MapiStore, store_id: int, mid: int,
                          attach_num: int) -> tuple[dict[int, Any], bytes]:
    """One attachment's properties and its data (ItemOperations / GetAttachment)."""
    def txn(conn: sa.Connection) -> tuple[dict[int, Any], bytes]:
        meta, rec, folder, backend = store._located(conn, store_id, mid)  # type: ignore[arg-type]
        content = backend.read_message(store.ctx(conn, meta), store.folder_ref(folder),
                                       store.message_ref(rec))
        for att in content.attachments:
            if att.props.get(tags.ATTACH_NUMBER) == attach_num:
                data = att.props.get(tags.ATTACH_DATA_BINARY)
                if isinstance(data, BlobValue):
                    raw = store.blobs.get(data.ref)
                elif isinstance(data, bytes):
                    raw = data
                else:
                    raw = b""
                props = {int(t): v for t, v in att.props.items()
                         if t != tags.ATTACH_DATA_BINARY and not isinstance(v, BlobValue)}
                return props, raw
        raise ObjectNotFound(f"message {mid:#x} has no attachment {attach_num}")

    return await store.read("eas_read_attachment", txn)
