"""The ``sql`` backend: content in the index's own database, atomic with it.

Layout (tables in :mod:`storage.db.tables_mapistore`): one ``sqlbackend_messages`` row
per message with the hot sort/filter columns and every property packed
(:mod:`storage.mapistore.propcodec`); recipients and attachments one row each
(embedded messages packed into their attachment row); blob references of each
message in ``sqlbackend_blob_refs`` so garbage collection needs no decoding. The
backend's key of a message is its MID counter as text.

Contents tables run as one SQL query joined with the index when the sort columns
have SQL forms (:mod:`.query`); otherwise the naive base implementation is used.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

import sqlalchemy as sa

from groupware.mapi.evaluate import Evaluator, UnsupportedRestriction
from groupware.types import ChangeNumber, MessageId, PropTag
from storage.backends.sql import query as sqlquery
from storage.backends.sql.columns import hot_values
from storage.blobs import BlobRef
from storage.db.tables_mapistore import messages as index_messages
from storage.db.tables_mapistore import (
    sql_attachments,
    sql_blob_refs,
    sql_messages,
    sql_recipients,
)
from storage.mapistore import fastsql, propcodec, tags
from storage.mapistore.backend import (
    Backend,
    BackendContext,
    needed_tags,
    project_row,
    resolve_for_evaluation,
)
from storage.mapistore.errors import InvalidRestriction, ObjectNotFound
from storage.mapistore.ids import globcnt, mid_of
from storage.mapistore.model import (
    AttachmentContent,
    Capability,
    FolderRef,
    IndexedMessage,
    MessageContent,
    MessageRef,
    Props,
    ScanEntry,
    TableQuery,
    TableRow,
    Value,
    WriteResult,
)

logger = logging.getLogger(__name__)

_SUBTABLES = (sql_recipients, sql_attachments, sql_blob_refs)
# Built once: constructing statements per message costs more than running them.
_INSERT_MESSAGE = sa.insert(sql_messages)
_INSERT_RECIPIENT = sa.insert(sql_recipients)
_INSERT_ATTACHMENT = sa.insert(sql_attachments)
_INSERT_BLOB_REF = sa.insert(sql_blob_refs)


class SqlBackend(Backend):
    """Message content in SQL tables (the default backend)."""

    name = "sql"
    capabilities = frozenset({
        Capability.ARBITRARY_PROPERTIES, Capability.RECIPIENTS, Capability.ATTACHMENTS,
        Capability.ASSOCIATED, Capability.MESSAGES_WITHOUT_MIME, Capability.NATIVE_TABLES,
    })
    single_location = True
    reads_blobs_on_write = False

    # --- folders: nothing to prepare, rows carry their folder id -------------------

    def create_folder(self, ctx: BackendContext, folder: FolderRef) -> str:
        return ""

    def delete_folder(self, ctx: BackendContext, folder: FolderRef) -> None:
        fid = globcnt(folder.fid, "folder")
        leftovers = sa.select(sql_messages.c.mid).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.fid == fid)
        for table in _SUBTABLES:
            ctx.conn.execute(sa.delete(table).where(table.c.store_id == ctx.store,
                                                    table.c.mid.in_(leftovers)))
        ctx.conn.execute(sa.delete(sql_messages).where(sql_messages.c.store_id == ctx.store,
                                                       sql_messages.c.fid == fid))

    # --- messages ---------------------------------------------------------------------

    def _insert(self, ctx: BackendContext, fid: int, mid: int, content: MessageContent) -> None:
        conn = ctx.conn
        fastsql.execute(conn, _INSERT_MESSAGE, {
            "store_id": ctx.store, "mid": mid, "fid": fid,
            "props": propcodec.encode_props(content.props), "mime_ref": content.mime,
            **hot_values(content.props)})
        if content.recipients:
            conn.execute(_INSERT_RECIPIENT, [
                {"store_id": ctx.store, "mid": mid, "row_id": r[tags.ROWID],
                 "props": propcodec.encode_props(r)} for r in content.recipients])
        if content.attachments:
            conn.execute(_INSERT_ATTACHMENT, [
                {"store_id": ctx.store, "mid": mid, "attach_num": a.props[tags.ATTACH_NUMBER],
                 "props": propcodec.encode_props(a.props),
                 "embedded": None if a.embedded is None
                 else propcodec.encode_message(a.embedded)}
                for a in content.attachments])
        refs = _extra_refs(content)
        if refs:
            conn.execute(_INSERT_BLOB_REF, [
                {"store_id": ctx.store, "mid": mid, "ref": ref} for ref in refs])

    def _delete_rows(self, ctx: BackendContext, mid: int, *, main: bool = True) -> None:
        for table in _SUBTABLES:
            ctx.conn.execute(sa.delete(table).where(table.c.store_id == ctx.store,
                                                    table.c.mid == mid))
        if main:
            ctx.conn.execute(sa.delete(sql_messages).where(sql_messages.c.store_id == ctx.store,
                                                           sql_messages.c.mid == mid))

    def create_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       content: MessageContent) -> WriteResult:
        mid = globcnt(msg.mid, "message")
        self._insert(ctx, globcnt(folder.fid, "folder"), mid, content)
        return WriteResult(str(mid))

    def read_message(self, ctx: BackendContext, folder: FolderRef,
                     msg: MessageRef) -> MessageContent:
        return self._read(ctx, globcnt(msg.mid, "message"))

    def _read(self, ctx: BackendContext, mid: int) -> MessageContent:
        row = ctx.conn.execute(sa.select(sql_messages.c.props, sql_messages.c.mime_ref).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == mid)).first()
        if row is None:
            raise ObjectNotFound(f"message {mid_of(mid):#x} has no content in the sql backend")
        recipients = [propcodec.decode_props(r.props) for r in ctx.conn.execute(
            sa.select(sql_recipients.c.props).where(
                sql_recipients.c.store_id == ctx.store, sql_recipients.c.mid == mid)
            .order_by(sql_recipients.c.row_id))]
        attachments = [
            AttachmentContent(propcodec.decode_props(a.props),
                              None if a.embedded is None else propcodec.decode_message(a.embedded))
            for a in ctx.conn.execute(
                sa.select(sql_attachments.c.props, sql_attachments.c.embedded).where(
                    sql_attachments.c.store_id == ctx.store, sql_attachments.c.mid == mid)
                .order_by(sql_attachments.c.attach_num))]
        mime = None if row.mime_ref is None else BlobRef(row.mime_ref)
        return MessageContent(propcodec.decode_props(row.props), recipients, attachments, mime)

    def write_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                      content: MessageContent) -> WriteResult:
        mid = globcnt(msg.mid, "message")
        self._delete_rows(ctx, mid)
        self._insert(ctx, globcnt(folder.fid, "folder"), mid, content)
        return WriteResult(str(mid))

    def delete_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> None:
        # An orphan found by scan_folder comes with MID 0; its key is the MID counter.
        self._delete_rows(ctx, int(msg.key) if msg.mid == 0 else globcnt(msg.mid, "message"))

    def read_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                        wanted: Sequence[PropTag] | None = None) -> Props:
        mid = globcnt(msg.mid, "message")
        data = ctx.conn.execute(sa.select(sql_messages.c.props).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == mid)).scalar()
        if data is None:
            raise ObjectNotFound(f"message {msg.mid:#x} has no content in the sql backend")
        return propcodec.decode_props(data, _wanted(wanted))

    def read_properties_many(self, ctx: BackendContext, folder: FolderRef,
                             msgs: Sequence[MessageRef], wanted: Sequence[PropTag] | None,
                             ) -> Iterator[tuple[MessageRef, Props]]:
        by_gc = {globcnt(m.mid, "message"): m for m in msgs}
        want = _wanted(wanted)
        for chunk in _chunks(list(by_gc), 500):
            rows = ctx.conn.execute(sa.select(sql_messages.c.mid, sql_messages.c.props).where(
                sql_messages.c.store_id == ctx.store, sql_messages.c.mid.in_(chunk)))
            found = {r.mid: r.props for r in rows}
            for gc in chunk:
                if gc in found:
                    yield by_gc[gc], propcodec.decode_props(found[gc], want)

    def set_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       props: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> WriteResult:
        mid = globcnt(msg.mid, "message")
        current = self.read_properties(ctx, folder, msg)
        for tag in delete:
            current.pop(tag, None)
        current.update(props)
        ctx.conn.execute(sa.update(sql_messages).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == mid).values(
            props=propcodec.encode_props(current), **hot_values(current)))
        self._refresh_blob_refs(ctx, mid)
        return WriteResult(str(mid))

    def _refresh_blob_refs(self, ctx: BackendContext, mid: int) -> None:
        content = self._read(ctx, mid)
        ctx.conn.execute(sa.delete(sql_blob_refs).where(sql_blob_refs.c.store_id == ctx.store,
                                                        sql_blob_refs.c.mid == mid))
        refs = _extra_refs(content)
        if refs:
            ctx.conn.execute(_INSERT_BLOB_REF, [
                {"store_id": ctx.store, "mid": mid, "ref": r} for r in refs])

    def move_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        old_mid = globcnt(msg.mid, "message")
        new_mid = globcnt(new.mid, "message")
        fid = globcnt(target.fid, "folder")
        result = ctx.conn.execute(sa.update(sql_messages).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == old_mid)
            .values(mid=new_mid, fid=fid))
        if not result.rowcount:
            raise ObjectNotFound(f"message {msg.mid:#x} has no content in the sql backend")
        for table in _SUBTABLES:
            ctx.conn.execute(sa.update(table).where(table.c.store_id == ctx.store,
                                                    table.c.mid == old_mid).values(mid=new_mid))
        return WriteResult(str(new_mid))

    def copy_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        old_mid = globcnt(msg.mid, "message")
        new_mid = globcnt(new.mid, "message")
        conn = ctx.conn
        row = conn.execute(sa.select(sql_messages).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == old_mid)).first()
        if row is None:
            raise ObjectNotFound(f"message {msg.mid:#x} has no content in the sql backend")
        values = dict(row._mapping)
        values.update(mid=new_mid, fid=globcnt(target.fid, "folder"))
        conn.execute(sa.insert(sql_messages).values(**values))
        for table in _SUBTABLES:
            rows = [dict(r._mapping) for r in conn.execute(sa.select(table).where(
                table.c.store_id == ctx.store, table.c.mid == old_mid))]
            for r in rows:
                r["mid"] = new_mid
            if rows:
                conn.execute(sa.insert(table), rows)
        return WriteResult(str(new_mid))

    def open_mime(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> BinaryIO | None:
        mid = globcnt(msg.mid, "message")
        row = ctx.conn.execute(sa.select(sql_messages.c.mime_ref).where(
            sql_messages.c.store_id == ctx.store, sql_messages.c.mid == mid)).first()
        if row is None:
            raise ObjectNotFound(f"message {msg.mid:#x} has no content in the sql backend")
        return None if row.mime_ref is None else ctx.blobs.open(BlobRef(row.mime_ref))

    def mime_sizes(self, ctx: BackendContext, folder: FolderRef,
                   msgs: Sequence[MessageRef]) -> Iterator[tuple[MessageRef, int | None]]:
        by_gc = {globcnt(m.mid, "message"): m for m in msgs}
        for chunk in _chunks(list(by_gc), 500):
            rows = ctx.conn.execute(sa.select(sql_messages.c.mid, sql_messages.c.mime_ref).where(
                sql_messages.c.store_id == ctx.store, sql_messages.c.mid.in_(chunk)))
            found = {r.mid: r.mime_ref for r in rows}
            for gc in chunk:
                if gc in found:
                    ref = found[gc]
                    yield by_gc[gc], None if ref is None else ctx.blobs.size(BlobRef(ref))

    # --- tables --------------------------------------------------------------------

    def _native_plan(self, query: TableQuery) -> tuple[list[Any], sqlquery.Translation] | None:
        order = [sqlquery.sort_expression(o) for o in query.sort]
        if any(o is None for o in order):
            return None
        return [o for o in order if o is not None], sqlquery.translate(query.restriction)

    def _select(self, ctx: BackendContext, folder: FolderRef, query: TableQuery,
                where: Any, order: list[Any], *, window: bool) -> sa.Select[Any]:
        fid = globcnt(folder.fid, "folder")
        s, i = sql_messages, index_messages
        stmt = (sa.select(s.c.mid, s.c.props, s.c.flags, i.c.uid, i.c.cn, i.c.created_cn,
                          i.c.read_cn, i.c.is_read, i.c.associated, i.c.soft_deleted,
                          i.c.message_class, i.c.size, i.c.backend_key)
                .select_from(s.join(i, sa.and_(i.c.store_id == s.c.store_id,
                                               i.c.mid == s.c.mid)))
                .where(s.c.store_id == ctx.store, s.c.fid == fid,
                       i.c.associated == query.associated,
                       i.c.soft_deleted == query.soft_deleted))
        if where is not None:
            stmt = stmt.where(where)
        stmt = stmt.order_by(*order, i.c.uid)
        if window:
            if query.offset:
                stmt = stmt.offset(query.offset)
            if query.limit is not None:
                stmt = stmt.limit(query.limit)
        return stmt

    def query_table(self, ctx: BackendContext, folder: FolderRef,
                    query: TableQuery) -> list[TableRow]:
        plan = self._native_plan(query)
        if plan is None:
            return super().query_table(ctx, folder, query)
        order, translation = plan
        wanted = needed_tags(query)
        want = _wanted(wanted)
        stmt = self._select(ctx, folder, query, translation.where, order,
                            window=translation.exact)
        result = ctx.conn.execute(stmt.execution_options(stream_results=True,
                                                         yield_per=200))
        rows: Iterator[tuple[MessageId, dict[PropTag, Value]]] = (
            self._row(ctx, folder, r, want, wanted) for r in result)
        if not translation.exact:
            rows = self._python_filter(ctx, folder, rows, query)
            stop = None if query.limit is None else query.offset + query.limit
            rows = itertools.islice(rows, query.offset, stop)
        out = [TableRow(mid, project_row(row, query.columns)) for mid, row in rows]
        result.close()
        return out

    def count_rows(self, ctx: BackendContext, folder: FolderRef, query: TableQuery) -> int:
        translation = sqlquery.translate(query.restriction)
        if not translation.exact:
            return super().count_rows(ctx, folder, query)
        stmt = self._select(ctx, folder, query, translation.where, [], window=False)
        return int(ctx.conn.execute(
            sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())).scalar_one())

    def _row(self, ctx: BackendContext, folder: FolderRef, r: Any, want: frozenset[int] | None,
             wanted: Sequence[PropTag]) -> tuple[MessageId, dict[PropTag, Value]]:
        mid = mid_of(r.mid)
        indexed = IndexedMessage(
            MessageRef(mid, r.backend_key, r.uid, bool(r.associated), bool(r.is_read)),
            ChangeNumber(r.cn), ChangeNumber(r.created_cn), ChangeNumber(r.read_cn),
            r.message_class, r.size, bool(r.soft_deleted))
        props = propcodec.decode_props(r.props, want)
        return mid, ctx.index.row(folder, indexed, props, wanted)

    def _python_filter(self, ctx: BackendContext, folder: FolderRef,
                       rows: Iterator[tuple[MessageId, dict[PropTag, Value]]],
                       query: TableQuery) -> Iterator[tuple[MessageId, dict[PropTag, Value]]]:
        evaluator = Evaluator(query.restriction)
        for mid, row in rows:
            evaluator.subobjects = self._subobjects(
                ctx, folder, MessageRef(mid, str(globcnt(mid)), 0))
            try:
                if evaluator.matches(resolve_for_evaluation(ctx.blobs, row)):
                    yield mid, row
            except UnsupportedRestriction as exc:
                raise InvalidRestriction(str(exc)) from exc

    # --- repair and garbage collection ---------------------------------------------

    def scan_folder(self, ctx: BackendContext, folder: FolderRef) -> Iterator[ScanEntry]:
        fid = globcnt(folder.fid, "folder")
        rows = ctx.conn.execute(
            sa.select(sql_messages.c.mid).where(sql_messages.c.store_id == ctx.store,
                                                sql_messages.c.fid == fid)
            .order_by(sql_messages.c.mid).execution_options(stream_results=True,
                                                            yield_per=1000))
        for row in rows:
            yield ScanEntry(str(row.mid))

    def referenced_blobs(self, ctx: BackendContext, folder: FolderRef) -> Iterator[BlobRef]:
        fid = globcnt(folder.fid, "folder")
        in_folder = sa.select(sql_messages.c.mid).where(sql_messages.c.store_id == ctx.store,
                                                        sql_messages.c.fid == fid)
        rows = ctx.conn.execute(sa.union(
            sa.select(sql_blob_refs.c.ref).where(sql_blob_refs.c.store_id == ctx.store,
                                                 sql_blob_refs.c.mid.in_(in_folder)),
            sa.select(sql_messages.c.mime_ref.label("ref")).where(
                sql_messages.c.store_id == ctx.store, sql_messages.c.fid == fid,
                sql_messages.c.mime_ref.is_not(None))))
        for row in rows:
            yield BlobRef(row.ref)


def _extra_refs(content: MessageContent) -> list[BlobRef]:
    """Blob references besides the MIME original (which has its own column)."""
    refs = set(propcodec.message_blob_refs(content))
    if content.mime is not None:
        refs.discard(content.mime)
    return sorted(refs)


def _wanted(wanted: Sequence[PropTag] | None) -> frozenset[int] | None:
    if wanted is None:
        return None
    return frozenset(t & ~0x2000 for t in wanted)


def _chunks(items: list[int], n: int) -> Iterator[list[int]]:
    for start in range(0, len(items), n):
        yield items[start:start + n]
