"""Keeping index and backends in step: rescans of externally edited backends,
``repair`` (consistency check and fix), expiry of tombstones and soft-deleted
messages, blob garbage collection, and moving a folder's content to another backend.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from groupware.notifier import Event
from groupware.types import FolderId, MessageId, StoreId
from storage.blobs import BlobRef
from storage.db.tables_mapistore import (
    folder_move_items,
    folder_moves,
    folders,
    messages,
    tombstones,
)
from storage.mapistore import tags
from storage.mapistore.base import StoreMeta
from storage.mapistore.errors import BackendError, InvalidParameter, ObjectNotFound
from storage.mapistore.ids import fid_of, mid_of
from storage.mapistore.index import FolderRecord, MessageRecord, counter_deltas
from storage.mapistore.info import RepairReport
from storage.mapistore.mailbox import MailboxOps
from storage.mapistore.model import BackendUri, Capability, MessageRef
from storage.mapistore.validation import normalize_content

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(done, total)`` callback of long operations."""


@dataclass(frozen=True)
class RescanResult:
    new: int = 0
    changed: int = 0
    deleted: int = 0
    read_changed: int = 0

    @property
    def total(self) -> int:
        return self.new + self.changed + self.deleted + self.read_changed


class MaintenanceOps(MailboxOps):
    """Maintenance operations of :class:`~storage.mapistore.store.MapiStore`."""

    # --- rescans -----------------------------------------------------------------------

    async def rescan_folder(self, store: StoreId, fid: FolderId) -> RescanResult:
        """Bring the index in line with a backend edited from outside (a maildir another
        tool delivered into): unknown objects become new messages, changed versions and
        read states get change numbers, vanished objects tombstones. Events as usual."""
        return await self.write("rescan_folder", self._rescan_txn, store, fid)

    def _rescan_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                    fid: FolderId) -> RescanResult:
        meta = self.meta(conn, store)
        folder = self.index.folder(conn, store, self.fid_gc(fid))
        backend = self.backend(folder.backend_uri)
        ctx = self.ctx(conn, meta)
        fref = self.folder_ref(folder)
        found = {e.key: e for e in backend.scan_folder(ctx, fref)}
        known = {r.backend_key: r for r in self.index.messages_in(
            conn, store, folder.fid, associated=None, soft_deleted=None)}
        new_keys = [k for k in found if k not in known]
        gone = [r for k, r in known.items() if k not in found]
        changed = [r for k, r in known.items()
                   if k in found and found[k].version != r.backend_version]
        reread = [r for k, r in known.items() if k in found and found[k].read is not None
                  and found[k].read != r.is_read and r not in changed]
        if not (new_keys or gone or changed or reread):
            return RescanResult()
        cn = self.index.allocate_cns(conn, store)
        ids: dict[str, list[MessageId]] = {"created": [], "modified": [], "deleted": []}
        for key in new_keys:
            entry = found[key]
            content = backend.read_message(ctx, fref, MessageRef(MessageId(0), key, 0))
            try:
                _normal, size = normalize_content(content, self.limits)
            except Exception as exc:
                logger.warning("store %s folder %s: object %s is not usable: %s", store,
                               folder.name, key, exc)
                continue
            if content.mime is not None:
                size += self.blobs.size(content.mime) if self.blobs.exists(content.mime) else 0
            gc = self.index.allocate_globcnts(conn, store)
            uid = self.index.allocate_uids(conn, store, folder.fid)
            self.index.insert_message(
                conn, store_id=store, mid=gc, fid=folder.fid, uid=uid, created_cn=cn, cn=cn,
                read_cn=cn, is_read=bool(entry.read), message_class=str(
                    content.props.get(tags.MESSAGE_CLASS) or "IPM.Note")[:255],
                size=size, backend_key=key, backend_version=entry.version)
            rec = self.index.message(conn, store, gc)
            self.index.touch_folder(conn, store, folder.fid, cn, counter_deltas(rec, +1))
            self.index.add_store_size(conn, store, size)
            ids["created"].append(mid_of(gc))
        for rec in changed:
            entry = found[rec.backend_key]
            values: dict[str, Any] = {"cn": cn, "backend_version": entry.version}
            if entry.read is not None and entry.read != rec.is_read:
                values.update(is_read=entry.read, read_cn=cn)
            self._update_counted(conn, rec, cn, **values)
            ids["modified"].append(mid_of(rec.mid))
        for rec in reread:
            self._update_counted(conn, rec, cn, is_read=found[rec.backend_key].read, read_cn=cn)
            ids["modified"].append(mid_of(rec.mid))
        for rec in gone:
            self.index.delete_message_row(conn, rec, cn, tombstone=not rec.soft_deleted)
            self.index.touch_folder(conn, store, folder.fid, cn, counter_deltas(rec, -1))
            self.index.add_store_size(conn, store, -rec.size)
            ids["deleted"].append(mid_of(rec.mid))
        for kind, mids in ids.items():
            if mids:
                events.append(self.event(kind, store, folder.fid, tuple(mids), cn,
                                         object="message", external=True))
        return RescanResult(len(ids["created"]), len(changed), len(gone), len(reread))

    def _update_counted(self, conn: sa.Connection, rec: MessageRecord, cn: int, /,
                        **values: Any) -> None:
        self.index.update_message(conn, rec.store, rec.mid, **values)
        new = self.index.message(conn, rec.store, rec.mid)
        deltas = counter_deltas(new, +1)
        for key, value in counter_deltas(rec, -1).items():
            deltas[key] = deltas.get(key, 0) + value
        self.index.touch_folder(conn, rec.store, rec.fid, cn, deltas)

    # --- repair ------------------------------------------------------------------------

    async def repair(self, store: StoreId, *, fix: bool = False) -> RepairReport:
        """Check a mailbox: counters and change numbers, UIDs, folder tree, sizes, every
        index entry against its backend and back, referenced blobs. With ``fix``,
        repair what can be: counters recomputed, index entries without content
        removed (tombstoned), orphaned backend objects removed (adopted as new
        messages for backends edited from outside)."""
        return await self.write("repair", self._repair_txn, store, fix)

    def _repair_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                    fix: bool) -> RepairReport:
        meta = self.meta(conn, store)
        self.index.lock_store(conn, store)
        report = RepairReport(fixed=fix)
        rec = self.index.store(conn, store)
        self._repair_counters(conn, store, rec.last_cn, rec.last_globcnt, report=report,
                              fix=fix)
        all_folders = self.index.all_folders(conn, store)
        self._repair_tree(conn, store, all_folders, report)
        ctx = self.ctx(conn, meta)
        for folder in all_folders:
            self._repair_folder(conn, events, meta, folder, report=report, fix=fix)
        size = int(conn.execute(sa.select(sa.func.coalesce(sa.func.sum(messages.c.size), 0))
                                .where(messages.c.store_id == store)).scalar_one())
        rec = self.index.store(conn, store)
        if size != rec.size_used:
            report.problems.append(f"store size is {rec.size_used}, messages add up to {size}")
            if fix:
                self.index.update_store(conn, store, size_used=size)
        for ref in sorted(self._referenced_blobs(conn, meta, ctx)):
            if not self.blobs.exists(ref):
                report.problems.append(f"blob {ref} is referenced but missing")
        return report

    def _repair_counters(self, conn: sa.Connection, store: int, last_cn: int,
                         last_globcnt: int, *, report: RepairReport, fix: bool) -> None:
        def top(column: Any, table: Any) -> int:
            return int(conn.execute(sa.select(sa.func.max(column))
                                    .where(table.c.store_id == store)).scalar() or 0)

        top_cn = max(top(messages.c.cn, messages), top(messages.c.read_cn, messages),
                     top(folders.c.highest_cn, folders), top(tombstones.c.cn, tombstones))
        if top_cn > last_cn:
            report.problems.append(f"change number counter {last_cn} is below used {top_cn}")
            if fix:
                self.index.update_store(conn, store, last_cn=top_cn)
        top_id = max(top(messages.c.mid, messages), top(folders.c.fid, folders))
        if top_id > last_globcnt:
            report.problems.append(f"id counter {last_globcnt} is below used {top_id}")
            if fix:
                self.index.update_store(conn, store, last_globcnt=top_id)

    def _repair_tree(self, conn: sa.Connection, store: int, all_folders: list[FolderRecord],
                     report: RepairReport) -> None:
        by_fid = {f.fid: f for f in all_folders}
        for folder in all_folders:
            if folder.parent is None:
                if folder.role != "root":
                    report.problems.append(f"folder {folder.name!r} has no parent")
                continue
            if folder.parent not in by_fid:
                report.problems.append(f"folder {folder.name!r} has a missing parent")
                continue
            chain = self.index.ancestors(conn, store, folder.fid)
            top = by_fid.get(chain[-1])
            if top is None or top.parent is not None:
                report.problems.append(f"folder {folder.name!r} is in a parent cycle")

    def _repair_folder(self, conn: sa.Connection, events: list[Event], meta: StoreMeta,
                       folder: FolderRecord, *, report: RepairReport, fix: bool) -> None:
        store = meta.id
        msgs = list(self.index.messages_in(conn, store, folder.fid, associated=None,
                                           soft_deleted=None))
        top_uid = max((m.uid for m in msgs), default=0)
        if top_uid >= folder.uidnext:
            report.problems.append(f"folder {folder.name!r}: UIDNEXT {folder.uidnext} is not "
                                   f"above UID {top_uid}")
            if fix:
                self.index.update_folder(conn, store, folder.fid, uidnext=top_uid + 1)
        expected: dict[str, int] = {"message_count": 0, "unread_count": 0,
                                    "associated_count": 0, "deleted_count": 0, "size": 0}
        for m in msgs:
            for key, value in counter_deltas(m, +1).items():
                expected[key] += value
        actual = {"message_count": folder.message_count, "unread_count": folder.unread_count,
                  "associated_count": folder.associated_count,
                  "deleted_count": folder.deleted_count, "size": folder.size}
        if expected != actual:
            report.problems.append(f"folder {folder.name!r}: counters {actual} should be "
                                   f"{expected}")
            if fix:
                self.index.update_folder(conn, store, folder.fid, **expected)
        top_cn = max((max(m.cn, m.read_cn) for m in msgs), default=0)
        if top_cn > folder.highest_cn:
            report.problems.append(f"folder {folder.name!r}: highest change number "
                                   f"{folder.highest_cn} below {top_cn}")
            if fix:
                self.index.update_folder(conn, store, folder.fid, highest_cn=top_cn)
        backend = self.backend(folder.backend_uri)
        ctx = self.ctx(conn, meta)
        fref = self.folder_ref(folder)
        try:
            found = {e.key for e in backend.scan_folder(ctx, fref)}
        except NotImplementedError:
            report.problems.append(f"folder {folder.name!r}: backend {backend.name} cannot "
                                   "list its objects; content not checked")
            return
        known = {m.backend_key: m for m in msgs}
        missing = [m for k, m in known.items() if k not in found]
        orphans = sorted(k for k in found if k not in known)
        for m in missing:
            report.problems.append(f"folder {folder.name!r}: message {mid_of(m.mid):#x} "
                                   "has no content in the backend")
        for key in orphans:
            report.problems.append(f"folder {folder.name!r}: backend object {key!r} is not "
                                   "in the index")
        if not fix or not (missing or orphans):
            return
        cn = self.index.allocate_cns(conn, store)
        for m in missing:
            self.index.delete_message_row(conn, m, cn, tombstone=not m.soft_deleted)
            self.index.touch_folder(conn, store, folder.fid, cn, counter_deltas(m, -1))
            self.index.add_store_size(conn, store, -m.size)
        if orphans and Capability.EXTERNAL_CHANGES in backend.capabilities:
            self._rescan_txn(conn, events, store, fid_of(folder.fid))
        else:
            for key in orphans:
                backend.delete_message(ctx, fref, MessageRef(MessageId(0), key, 0))

    def _referenced_blobs(self, conn: sa.Connection, meta: StoreMeta, ctx: Any) -> set[BlobRef]:
        refs: set[BlobRef] = set()
        for folder in self.index.all_folders(conn, meta.id):
            backend = self.backend(folder.backend_uri)
            refs.update(backend.referenced_blobs(ctx, self.folder_ref(folder)))
        return refs

    # --- expiry and garbage collection -------------------------------------------------

    async def purge_expired(self, store: StoreId, *, now: float | None = None) -> tuple[int, int]:
        """Hard-delete messages soft-deleted longer than ``tombstone_days`` and forget
        tombstones older than that; returns (messages purged, tombstones forgotten)."""
        cutoff = (self.clock() if now is None else now) - self.config.tombstone_days * 86400

        def txn(conn: sa.Connection, events: list[Event]) -> tuple[int, int]:
            meta = self.meta(conn, store)
            cn = self.index.allocate_cns(conn, store)
            ctx = self.ctx(conn, meta)
            old = conn.execute(sa.select(messages).where(
                messages.c.store_id == store, messages.c.soft_deleted == sa.true(),
                messages.c.modified_at < cutoff))
            from storage.mapistore.index import message_record

            purged = 0
            for row in list(old):
                rec = message_record(row)
                folder = self.index.folder(conn, store, rec.fid)
                self.backend(folder.backend_uri).delete_message(ctx, self.folder_ref(folder),
                                                                self.message_ref(rec))
                self.index.delete_message_row(conn, rec, cn, tombstone=False)
                self.index.touch_folder(conn, store, rec.fid, cn, counter_deltas(rec, -1))
                self.index.add_store_size(conn, store, -rec.size)
                purged += 1
            return purged, self.index.purge_tombstones(conn, store, cutoff)

        return await self.write("purge_expired", txn)

    async def collect_garbage(self, *, grace: float = 3600.0,
                              now: float | None = None) -> list[BlobRef]:
        """Delete blobs no mailbox references any more (older than ``grace`` seconds)."""
        def txn(conn: sa.Connection) -> set[BlobRef]:
            refs: set[BlobRef] = set()
            for rec in self.index.all_stores(conn):
                meta = self.meta(conn, rec.id)
                refs |= self._referenced_blobs(conn, meta, self.ctx(conn, meta))
            return refs

        referenced = await self.read("collect_garbage", txn)
        return self.blobs.collect_garbage(referenced, grace=grace,
                                          now=self.clock() if now is None else now)

    # --- moving a folder between backends ----------------------------------------------

    async def move_folder_content(self, store: StoreId, fid: FolderId, target_uri: str, *,
                                  batch: int = 100, progress: Progress | None = None,
                                  stop_after: int | None = None) -> int:
        """Move a folder's content to another backend; returns messages copied.

        Resumable: progress is recorded per message (``mapistore_folder_move_items``),
        so an interrupted move continues where it stopped when called again with the
        same target. Clients keep working meanwhile (reads and writes go to the old
        backend until the switch); ids, UIDs and change numbers do not change. The
        switch is one transaction that first copies whatever changed since; the old
        copy is removed afterwards. ``stop_after`` stops after that many batches
        (tests of resumption).
        """
        uri = BackendUri.parse(target_uri)
        self.backend(target_uri).check_uri(uri)
        state = await self.write("move_folder_start", self._move_start_txn, store, fid,
                                 target_uri)
        copied = 0
        batches = 0
        if state == "copying":
            total = (await self.get_folder(store, fid))
            count = total.message_count + total.associated_count + total.deleted_count
            while True:
                n = await self.write("move_folder_copy", self._move_copy_batch_txn, store, fid,
                                     batch)
                copied += n
                batches += 1
                if progress is not None:
                    progress(copied, count)
                if n < batch:
                    break
                if stop_after is not None and batches >= stop_after:
                    return copied
            copied += await self.write("move_folder_switch", self._move_switch_txn, store, fid)
        await self.write("move_folder_cleanup", self._move_cleanup_txn, store, fid)
        return copied

    def _move_start_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                        fid: FolderId, target_uri: str) -> str:
        meta = self.meta(conn, store)
        self.index.lock_store(conn, store)
        folder = self.index.folder(conn, store, self.fid_gc(fid))
        row = conn.execute(sa.select(folder_moves).where(
            folder_moves.c.store_id == store, folder_moves.c.fid == folder.fid)).first()
        if row is not None:
            if row.state == "copying" and row.target_uri != target_uri:
                raise InvalidParameter(f"folder {folder.name!r} is being moved to "
                                       f"{row.target_uri}; finish that first")
            return str(row.state)
        source, target = self.backend(folder.backend_uri), self.backend(target_uri)
        if folder.backend_uri == target_uri or (source is target and source.single_location):
            raise InvalidParameter(f"folder {folder.name!r} is already on {target_uri}")
        target_ref = self.folder_ref(folder, uri=target_uri, key="")
        key = self.backend(target_uri).create_folder(self.ctx(conn, meta), target_ref)
        conn.execute(sa.insert(folder_moves).values(
            store_id=store, fid=folder.fid, target_uri=target_uri, target_key=key,
            state="copying", started_at=self.clock()))
        return "copying"

    def _move_row(self, conn: sa.Connection, store: int, fid_gc: int) -> Any:
        row = conn.execute(sa.select(folder_moves).where(
            folder_moves.c.store_id == store, folder_moves.c.fid == fid_gc)).first()
        if row is None:
            raise ObjectNotFound("no folder move in progress")
        return row

    def _pending(self, conn: sa.Connection, store: int, fid_gc: int,
                 limit: int | None) -> list[MessageRecord]:
        from storage.mapistore.index import message_record

        item = folder_move_items
        query = (sa.select(messages).select_from(messages.outerjoin(item, sa.and_(
            item.c.store_id == messages.c.store_id, item.c.mid == messages.c.mid)))
            .where(messages.c.store_id == store, messages.c.fid == fid_gc,
                   sa.or_(item.c.mid.is_(None), item.c.copied_cn < messages.c.cn,
                          item.c.fid != messages.c.fid))
            .order_by(messages.c.uid))
        if limit is not None:
            query = query.limit(limit)
        return [message_record(r) for r in conn.execute(query)]

    def _copy_to_target(self, conn: sa.Connection, meta: StoreMeta, folder: FolderRecord,
                        move: Any, recs: list[MessageRecord]) -> int:
        ctx = self.ctx(conn, meta)
        src = self.backend(folder.backend_uri)
        dst = self.backend(move.target_uri)
        src_ref = self.folder_ref(folder)
        dst_ref = self.folder_ref(folder, uri=move.target_uri, key=move.target_key)
        for rec in recs:
            old = conn.execute(sa.select(folder_move_items.c.target_key).where(
                folder_move_items.c.store_id == meta.id,
                folder_move_items.c.mid == rec.mid)).scalar()
            if old is not None:
                dst.delete_message(ctx, dst_ref, MessageRef(mid_of(rec.mid), old, rec.uid))
                conn.execute(sa.delete(folder_move_items).where(
                    folder_move_items.c.store_id == meta.id,
                    folder_move_items.c.mid == rec.mid))
            content = src.read_message(ctx, src_ref, self.message_ref(rec))
            new_ref = MessageRef(mid_of(rec.mid), "", rec.uid, rec.associated, rec.is_read)
            result = dst.create_message(ctx, dst_ref, new_ref, content)
            if rec.is_read:
                mirrored = dst.set_read_state(ctx, dst_ref, MessageRef(
                    new_ref.mid, result.key, rec.uid, rec.associated, True), True)
                if mirrored is not None:
                    result = mirrored
            conn.execute(sa.insert(folder_move_items).values(
                store_id=meta.id, mid=rec.mid, fid=folder.fid, target_key=result.key,
                target_version=result.version, copied_cn=max(rec.cn, rec.read_cn)))
        return len(recs)

    def _move_copy_batch_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                             fid: FolderId, batch: int) -> int:
        meta = self.meta(conn, store)
        folder = self.index.folder(conn, store, self.fid_gc(fid))
        move = self._move_row(conn, store, folder.fid)
        return self._copy_to_target(conn, meta, folder, move,
                                    self._pending(conn, store, folder.fid, batch))

    def _move_switch_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                         fid: FolderId) -> int:
        meta = self.meta(conn, store)
        self.index.lock_store(conn, store)
        folder = self.index.folder(conn, store, self.fid_gc(fid))
        move = self._move_row(conn, store, folder.fid)
        if move.state != "copying":
            return 0
        late = self._copy_to_target(conn, meta, folder, move,
                                    self._pending(conn, store, folder.fid, None))
        ctx = self.ctx(conn, meta)
        dst = self.backend(move.target_uri)
        dst_ref = self.folder_ref(folder, uri=move.target_uri, key=move.target_key)
        live = {r.mid for r in self.index.messages_in(conn, store, folder.fid, associated=None,
                                                       soft_deleted=None)}
        items = list(conn.execute(sa.select(folder_move_items).where(
            folder_move_items.c.store_id == store, folder_move_items.c.fid == folder.fid)))
        for item in items:
            if item.mid not in live:
                dst.delete_message(ctx, dst_ref, MessageRef(mid_of(item.mid), item.target_key,
                                                            0))
                continue
            conn.execute(sa.update(messages).where(
                messages.c.store_id == store, messages.c.mid == item.mid).values(
                backend_key=item.target_key, backend_version=item.target_version))
        conn.execute(sa.delete(folder_move_items).where(
            folder_move_items.c.store_id == store, folder_move_items.c.fid == folder.fid))
        self.index.update_folder(conn, store, folder.fid, backend_uri=move.target_uri,
                                 backend_key=move.target_key)
        conn.execute(sa.update(folder_moves).where(
            folder_moves.c.store_id == store, folder_moves.c.fid == folder.fid).values(
            state="cleanup", target_uri=folder.backend_uri, target_key=folder.backend_key))
        logger.info("store %s: folder %r now on %s", store, folder.name, move.target_uri)
        return late

    def _move_cleanup_txn(self, conn: sa.Connection, events: list[Event], store: StoreId,
                          fid: FolderId) -> None:
        meta = self.meta(conn, store)
        folder = self.index.folder(conn, store, self.fid_gc(fid))
        move = self._move_row(conn, store, folder.fid)
        if move.state != "cleanup":
            raise BackendError(f"folder move of {folder.name!r} is not ready for cleanup")
        old_ref = self.folder_ref(folder, uri=move.target_uri, key=move.target_key)
        self.backend(move.target_uri).delete_folder(self.ctx(conn, meta), old_ref)
        conn.execute(sa.delete(folder_moves).where(folder_moves.c.store_id == store,
                                                   folder_moves.c.fid == folder.fid))

    async def folder_moves_pending(self) -> list[tuple[StoreId, FolderId, str, str]]:
        """Unfinished folder moves: (store, folder, target URI, state)."""
        def txn(conn: sa.Connection) -> list[tuple[StoreId, FolderId, str, str]]:
            rows = conn.execute(sa.select(folder_moves).order_by(folder_moves.c.store_id))
            return [(StoreId(r.store_id), fid_of(r.fid), r.target_uri, r.state) for r in rows]

        return await self.read("folder_moves_pending", txn)

