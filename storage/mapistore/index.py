"""The index: identity, folder tree, UIDs, change numbers and tombstones, in SQL.

Every function takes the open transaction (``conn``) and works in GLOBCNTs (48-bit
counters); :mod:`.store` packs them into FIDs/MIDs at its API. Rules that keep the
change log exact:

* Every write transaction first takes change numbers with :meth:`Index.allocate_cns`,
  an ``UPDATE ... RETURNING`` on the store row. The row stays locked until commit
  (PostgreSQL row lock; SQLite's ``BEGIN IMMEDIATE`` serializes writers anyway), so
  change numbers are handed out in commit order and a reader that has seen CN *n*
  will never later find a committed change below *n*. Locking the store row first in
  every writer also rules out deadlocks between writers of one mailbox.
* An IMAP UID is taken from the folder row (``uidnext``) in the same transaction as
  the change number, so UIDs only grow and are never reused within a UIDVALIDITY.
* A message has three change numbers: ``created_cn``, ``cn`` (last content change)
  and ``read_cn`` (last read-state change, its own stream for ICS). Deleting leaves a
  tombstone with the deleting CN; ``folders.highest_cn`` is the newest CN of anything
  in the folder (IMAP HIGHESTMODSEQ).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from groupware.types import ChangeNumber, FolderId, MessageId, StoreId
from storage.db.tables_mapistore import folders, messages, stores, tombstones
from storage.mapistore import fastsql
from storage.mapistore.errors import ObjectNotFound, SyncStateTooOld
from storage.mapistore.ids import fid_of, mid_of


@dataclass(frozen=True, slots=True)
class StoreRecord:
    id: StoreId
    user_id: int | None
    mailbox_guid: uuid.UUID
    replica_guid: uuid.UUID
    username: str
    locale: str
    last_cn: int
    last_globcnt: int
    tombstone_horizon_cn: int
    size_used: int
    quota_warning: int | None
    quota_send: int | None
    quota_receive: int | None
    provisioned: bool


@dataclass(frozen=True, slots=True)
class FolderRecord:
    store: StoreId
    fid: int
    parent: int | None
    name: str
    container_class: str
    role: str | None
    folder_type: int
    backend_uri: str
    backend_key: str
    uidvalidity: int
    uidnext: int
    created_cn: int
    cn: int
    highest_cn: int
    pcl: bytes | None
    props: bytes | None
    message_count: int
    unread_count: int
    associated_count: int
    deleted_count: int
    size: int
    created_at: float
    modified_at: float


@dataclass(frozen=True, slots=True)
class MessageRecord:
    store: StoreId
    mid: int
    fid: int
    uid: int
    created_cn: int
    cn: int
    read_cn: int
    is_read: bool
    associated: bool
    soft_deleted: bool
    message_class: str
    size: int
    backend_key: str
    backend_version: str
    pcl: bytes | None
    created_at: float
    modified_at: float


@dataclass(frozen=True, slots=True)
class ChangedMessage:
    """A message created, changed or re-read after the asked change number."""

    mid: MessageId
    uid: int
    cn: int
    read_cn: int
    created_cn: int
    read: bool
    associated: bool
    message_class: str

    @property
    def modseq(self) -> int:
        """IMAP MODSEQ (RFC 7162): the newest change of any kind."""
        return max(self.cn, self.read_cn)


@dataclass(frozen=True, slots=True)
class DeletedObject:
    """A tombstone: what was deleted, from where, with which change number.

    ``object_id`` is the packed MID (or FID for a folder), ``fid`` the packed id of
    the folder it was in (for a folder: its parent).
    """

    object_id: int
    fid: FolderId
    uid: int | None
    cn: int
    soft: bool
    associated: bool
    is_folder: bool
    deleted_at: float


@dataclass
class FolderChanges:
    """"What changed in folder F since change number N" (all GLOBCNTs).

    ``new`` were created after N; ``changed`` existed at N and their content changed;
    ``read_changed`` existed at N, content unchanged, read state changed (ICS sends
    those as read-state changes only); ``deleted`` are tombstones after N (``soft``
    for soft deletions). ``highest_cn`` is the folder's newest change number: the
    caller's next N.
    """

    fid: FolderId
    since: int
    highest_cn: int
    new: list[ChangedMessage] = field(default_factory=list)
    changed: list[ChangedMessage] = field(default_factory=list)
    read_changed: list[ChangedMessage] = field(default_factory=list)
    deleted: list[DeletedObject] = field(default_factory=list)


@dataclass
class HierarchyChanges:
    """Folders created or changed since N, and folder tombstones since N."""

    since: int
    highest_cn: int
    changed: list[FolderRecord] = field(default_factory=list)
    deleted: list[DeletedObject] = field(default_factory=list)


def _store(row: Any) -> StoreRecord:
    m = row._mapping
    return StoreRecord(
        StoreId(m["id"]), m["user_id"], uuid.UUID(m["mailbox_guid"]),
        uuid.UUID(m["replica_guid"]), m["username"], m["locale"], m["last_cn"],
        m["last_globcnt"], m["tombstone_horizon_cn"], m["size_used"], m["quota_warning"],
        m["quota_send"], m["quota_receive"], bool(m["provisioned"]))


_FOLDER_COLS = [c.name for c in folders.columns]
_MESSAGE_COLS = [c.name for c in messages.columns]


def folder_record(row: Any) -> FolderRecord:
    m = row._mapping
    return FolderRecord(
        StoreId(m["store_id"]), m["fid"], m["parent_fid"], m["name"], m["container_class"],
        m["role"], m["folder_type"], m["backend_uri"], m["backend_key"], m["uidvalidity"],
        m["uidnext"], m["created_cn"], m["cn"], m["highest_cn"], m["pcl"], m["props"],
        m["message_count"], m["unread_count"], m["associated_count"], m["deleted_count"],
        m["size"], m["created_at"], m["modified_at"])


def message_record(row: Any) -> MessageRecord:
    m = row._mapping
    return MessageRecord(
        StoreId(m["store_id"]), m["mid"], m["fid"], m["uid"], m["created_cn"], m["cn"],
        m["read_cn"], bool(m["is_read"]), bool(m["associated"]), bool(m["soft_deleted"]),
        m["message_class"], m["size"], m["backend_key"], m["backend_version"], m["pcl"],
        m["created_at"], m["modified_at"])


def counter_deltas(rec: MessageRecord | None, sign: int) -> dict[str, int]:
    """How a message in state ``rec`` contributes to its folder's counters."""
    if rec is None:
        return {}
    out = {"size": sign * rec.size}
    if rec.soft_deleted:
        out["deleted_count"] = sign
    elif rec.associated:
        out["associated_count"] = sign
    else:
        out["message_count"] = sign
        if not rec.is_read:
            out["unread_count"] = sign
    return out


def merge_deltas(*parts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in parts:
        for k, v in part.items():
            out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


class Index:
    """Transaction functions over the index tables (stateless apart from the clock)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock

    # --- stores and counters ---------------------------------------------------------

    def create_store(self, conn: sa.Connection, *, user_id: int | None, mailbox_guid: uuid.UUID,
                     replica_guid: uuid.UUID, username: str, locale: str) -> StoreId:
        result = conn.execute(
            sa.insert(stores).values(
                user_id=user_id, mailbox_guid=str(mailbox_guid), replica_guid=str(replica_guid),
                username=username, locale=locale, created_at=self.clock(),
            ).returning(stores.c.id))
        return StoreId(result.scalar_one())

    def store(self, conn: sa.Connection, store_id: int) -> StoreRecord:
        row = conn.execute(sa.select(stores).where(stores.c.id == store_id)).first()
        if row is None:
            raise ObjectNotFound(f"mailbox store {store_id} does not exist")
        return _store(row)

    def find_store(self, conn: sa.Connection, *, user_id: int | None = None,
                   mailbox_guid: uuid.UUID | None = None) -> StoreRecord | None:
        query = sa.select(stores)
        if user_id is not None:
            query = query.where(stores.c.user_id == user_id)
        if mailbox_guid is not None:
            query = query.where(stores.c.mailbox_guid == str(mailbox_guid))
        row = conn.execute(query).first()
        return None if row is None else _store(row)

    def all_stores(self, conn: sa.Connection) -> list[StoreRecord]:
        return [_store(r) for r in conn.execute(sa.select(stores).order_by(stores.c.id))]

    def allocate_cns(self, conn: sa.Connection, store: int, n: int = 1) -> int:
        """Reserve ``n`` change numbers; returns the first. Locks the store row."""
        result = conn.execute(
            sa.update(stores).where(stores.c.id == store)
            .values(last_cn=stores.c.last_cn + n).returning(stores.c.last_cn))
        last = result.scalar_one_or_none()
        if last is None:
            raise ObjectNotFound(f"mailbox store {store} does not exist")
        return int(last) - n + 1

    def allocate(self, conn: sa.Connection, store: int, *, cns: int, ids: int,
                 size: int) -> Allocation:
        """One statement for the hot path: take ``cns`` change numbers and ``ids``
        GLOBCNTs and add ``size`` bytes to the store, returning what the quota check
        needs. Locks the store row like :meth:`allocate_cns`."""
        row = fastsql.first(fastsql.execute(conn, _ALLOCATE, {
            "b_store": store, "b_cns": cns, "b_ids": ids, "b_size": size}))
        if row is None:
            raise ObjectNotFound(f"mailbox store {store} does not exist")
        return Allocation(int(row.last_cn) - cns + 1, int(row.last_globcnt) - ids + 1,
                          int(row.size_used), row.quota_send, row.quota_receive)

    def claim_uids(self, conn: sa.Connection, store: int, fid: int, n: int, *, cn: int,
                   deltas: dict[str, int]) -> FolderRecord:
        """Take ``n`` UIDs and record a change in the folder in one statement; returns
        the folder as it is now (its first new UID is ``uidnext - n``)."""
        params = {"b_store": store, "b_fid": fid, "b_n": n, "b_cn": cn, "b_now": self.clock()}
        for name in _COUNTERS:
            params[f"b_{name}"] = deltas.get(name, 0)
        row = fastsql.first(fastsql.execute(conn, _CLAIM_UIDS, params))
        if row is None:
            raise ObjectNotFound(f"folder {fid:#x} does not exist in store {store}")
        return folder_record(row)

    def allocate_globcnts(self, conn: sa.Connection, store: int, n: int = 1) -> int:
        """Reserve ``n`` object ids (GLOBCNTs); returns the first."""
        result = conn.execute(
            sa.update(stores).where(stores.c.id == store)
            .values(last_globcnt=stores.c.last_globcnt + n).returning(stores.c.last_globcnt))
        return int(result.scalar_one()) - n + 1

    def add_store_size(self, conn: sa.Connection, store: int, delta: int) -> None:
        if delta:
            conn.execute(sa.update(stores).where(stores.c.id == store)
                         .values(size_used=stores.c.size_used + delta))

    def lock_store(self, conn: sa.Connection, store: int) -> None:
        """Take the store row lock without changing anything (writers that need no
        change number still serialize with the others, see the module docstring)."""
        result = conn.execute(sa.update(stores).where(stores.c.id == store)
                              .values(last_cn=stores.c.last_cn))
        if not result.rowcount:
            raise ObjectNotFound(f"mailbox store {store} does not exist")

    def update_store(self, conn: sa.Connection, store: int, **values: Any) -> None:
        conn.execute(sa.update(stores).where(stores.c.id == store).values(**values))

    # --- folders ---------------------------------------------------------------------

    def insert_folder(self, conn: sa.Connection, **values: Any) -> None:
        now = self.clock()
        values.setdefault("created_at", now)
        values.setdefault("modified_at", now)
        values["name_key"] = values["name"].casefold()
        conn.execute(sa.insert(folders).values(**values))

    def folder(self, conn: sa.Connection, store: int, fid: int) -> FolderRecord:
        row = conn.execute(sa.select(folders).where(
            folders.c.store_id == store, folders.c.fid == fid)).first()
        if row is None:
            raise ObjectNotFound(f"folder {fid:#x} does not exist in store {store}")
        return folder_record(row)

    def folder_or_none(self, conn: sa.Connection, store: int, fid: int) -> FolderRecord | None:
        row = conn.execute(sa.select(folders).where(
            folders.c.store_id == store, folders.c.fid == fid)).first()
        return None if row is None else folder_record(row)

    def folder_by_role(self, conn: sa.Connection, store: int, role: str) -> FolderRecord | None:
        row = conn.execute(sa.select(folders).where(
            folders.c.store_id == store, folders.c.role == role)).first()
        return None if row is None else folder_record(row)

    def folder_by_name(self, conn: sa.Connection, store: int, parent: int,
                       name: str) -> FolderRecord | None:
        row = conn.execute(sa.select(folders).where(
            folders.c.store_id == store, folders.c.parent_fid == parent,
            folders.c.name_key == name.casefold())).first()
        return None if row is None else folder_record(row)

    def children(self, conn: sa.Connection, store: int, parent: int) -> list[FolderRecord]:
        rows = conn.execute(sa.select(folders).where(
            folders.c.store_id == store, folders.c.parent_fid == parent)
            .order_by(folders.c.name_key, folders.c.fid))
        return [folder_record(r) for r in rows]

    def all_folders(self, conn: sa.Connection, store: int) -> list[FolderRecord]:
        rows = conn.execute(sa.select(folders).where(folders.c.store_id == store)
                            .order_by(folders.c.fid))
        return [folder_record(r) for r in rows]

    def ancestors(self, conn: sa.Connection, store: int, fid: int) -> list[int]:
        """The folder's parent chain up to the root (the folder itself first).

        Stops on a cycle (a damaged tree) instead of looping.
        """
        chain: list[int] = []
        current: int | None = fid
        while current is not None and current not in chain:
            chain.append(current)
            current = conn.execute(sa.select(folders.c.parent_fid).where(
                folders.c.store_id == store, folders.c.fid == current)).scalar_one_or_none()
        return chain

    def update_folder(self, conn: sa.Connection, store: int, fid: int, **values: Any) -> None:
        if "name" in values:
            values["name_key"] = values["name"].casefold()
        conn.execute(sa.update(folders).where(folders.c.store_id == store,
                                               folders.c.fid == fid).values(**values))

    def touch_folder(self, conn: sa.Connection, store: int, fid: int, cn: int,
                     deltas: dict[str, int] | None = None) -> None:
        """Record a change inside the folder: highest CN, counters, modification time."""
        values: dict[str, Any] = {
            "highest_cn": sa.case((folders.c.highest_cn < cn, cn),
                                  else_=folders.c.highest_cn),
            "modified_at": self.clock(),
        }
        for name, delta in (deltas or {}).items():
            values[name] = folders.c[name] + delta
        conn.execute(sa.update(folders).where(folders.c.store_id == store,
                                               folders.c.fid == fid).values(**values))

    def allocate_uids(self, conn: sa.Connection, store: int, fid: int, n: int = 1) -> int:
        """Reserve ``n`` IMAP UIDs in a folder; returns the first."""
        result = conn.execute(
            sa.update(folders).where(folders.c.store_id == store, folders.c.fid == fid)
            .values(uidnext=folders.c.uidnext + n).returning(folders.c.uidnext))
        nxt = result.scalar_one_or_none()
        if nxt is None:
            raise ObjectNotFound(f"folder {fid:#x} does not exist in store {store}")
        return int(nxt) - n

    def delete_folder_row(self, conn: sa.Connection, folder: FolderRecord, cn: int) -> None:
        conn.execute(sa.delete(folders).where(folders.c.store_id == folder.store,
                                               folders.c.fid == folder.fid))
        self.add_tombstone(conn, folder.store, fid=folder.parent or 0, object_id=folder.fid,
                           is_folder=True, uid=None, cn=cn)

    # --- messages ----------------------------------------------------------------------

    def insert_message(self, conn: sa.Connection, **values: Any) -> None:
        now = self.clock()
        values.setdefault("created_at", now)
        values.setdefault("modified_at", now)
        for name, default in _MESSAGE_DEFAULTS.items():
            values.setdefault(name, default)
        fastsql.execute(conn, _INSERT_MESSAGE, values)

    def message(self, conn: sa.Connection, store: int, mid: int) -> MessageRecord:
        row = conn.execute(sa.select(messages).where(
            messages.c.store_id == store, messages.c.mid == mid)).first()
        if row is None:
            raise ObjectNotFound(f"message {mid:#x} does not exist in store {store}")
        return message_record(row)

    def message_or_none(self, conn: sa.Connection, store: int, mid: int) -> MessageRecord | None:
        row = conn.execute(sa.select(messages).where(
            messages.c.store_id == store, messages.c.mid == mid)).first()
        return None if row is None else message_record(row)

    def message_by_uid(self, conn: sa.Connection, store: int, fid: int,
                       uid: int) -> MessageRecord | None:
        row = conn.execute(sa.select(messages).where(
            messages.c.store_id == store, messages.c.fid == fid, messages.c.uid == uid)).first()
        return None if row is None else message_record(row)

    def messages_in(self, conn: sa.Connection, store: int, fid: int, *,
                    associated: bool | None = False, soft_deleted: bool | None = False,
                    after_uid: int = 0, limit: int | None = None) -> Iterator[MessageRecord]:
        """A folder's messages in UID order, streamed from the database."""
        query = sa.select(messages).where(messages.c.store_id == store, messages.c.fid == fid,
                                          messages.c.uid > after_uid)
        if associated is not None:
            query = query.where(messages.c.associated == associated)
        if soft_deleted is not None:
            query = query.where(messages.c.soft_deleted == soft_deleted)
        query = query.order_by(messages.c.uid)
        if limit is not None:
            query = query.limit(limit)
        result = conn.execute(query.execution_options(stream_results=True, yield_per=500))
        for row in result:
            yield message_record(row)

    def update_message(self, conn: sa.Connection, store: int, mid: int, **values: Any) -> None:
        values.setdefault("modified_at", self.clock())
        conn.execute(sa.update(messages).where(messages.c.store_id == store,
                                                messages.c.mid == mid).values(**values))

    def delete_message_row(self, conn: sa.Connection, rec: MessageRecord, cn: int, *,
                           soft: bool = False, tombstone: bool = True) -> None:
        conn.execute(sa.delete(messages).where(messages.c.store_id == rec.store,
                                                messages.c.mid == rec.mid))
        if tombstone:
            self.add_tombstone(conn, rec.store, fid=rec.fid, object_id=rec.mid,
                               is_folder=False, uid=rec.uid, cn=cn, soft=soft,
                               associated=rec.associated)

    def add_tombstone(self, conn: sa.Connection, store: int, *, fid: int, object_id: int,
                      is_folder: bool, uid: int | None, cn: int, soft: bool = False,
                      associated: bool = False) -> None:
        conn.execute(sa.insert(tombstones).values(
            store_id=store, fid=fid, object_id=object_id, is_folder=is_folder, uid=uid, cn=cn,
            soft=soft, associated=associated, deleted_at=self.clock()))

    # --- the change log --------------------------------------------------------------

    def _check_horizon(self, conn: sa.Connection, store: int, since: int) -> StoreRecord:
        rec = self.store(conn, store)
        if 0 < since < rec.tombstone_horizon_cn:
            raise SyncStateTooOld(
                f"change number {since} is older than the tombstone horizon "
                f"{rec.tombstone_horizon_cn} of store {store}; synchronize from scratch")
        return rec

    def changes_since(self, conn: sa.Connection, store: int, fid: int, since: int, *,
                      associated: bool | None = None) -> FolderChanges:
        """What changed in a folder after change number ``since`` (0: everything)."""
        self._check_horizon(conn, store, since)
        folder = self.folder(conn, store, fid)
        out = FolderChanges(fid=fid_of(fid), since=since, highest_cn=folder.highest_cn)
        cols = (messages.c.mid, messages.c.uid, messages.c.cn, messages.c.read_cn,
                messages.c.created_cn, messages.c.is_read, messages.c.associated,
                messages.c.message_class)
        base = [messages.c.store_id == store, messages.c.fid == fid,
                messages.c.soft_deleted == sa.false()]
        if associated is not None:
            base.append(messages.c.associated == associated)
        content = conn.execute(sa.select(*cols).where(*base, messages.c.cn > since)
                               .order_by(messages.c.cn))
        for row in content:
            change = ChangedMessage(mid_of(row.mid), row.uid, row.cn, row.read_cn, row.created_cn,
                                    bool(row.is_read), bool(row.associated), row.message_class)
            (out.new if row.created_cn > since else out.changed).append(change)
        reads = conn.execute(sa.select(*cols).where(
            *base, messages.c.read_cn > since, messages.c.cn <= since)
            .order_by(messages.c.read_cn))
        for row in reads:
            out.read_changed.append(ChangedMessage(
                mid_of(row.mid), row.uid, row.cn, row.read_cn, row.created_cn, bool(row.is_read),
                bool(row.associated), row.message_class))
        if since > 0:
            query = sa.select(tombstones).where(
                tombstones.c.store_id == store, tombstones.c.fid == fid,
                tombstones.c.is_folder == sa.false(), tombstones.c.cn > since)
            if associated is not None:
                query = query.where(tombstones.c.associated == associated)
            for row in conn.execute(query.order_by(tombstones.c.cn)):
                out.deleted.append(_tombstone(row))
        return out

    def hierarchy_changes_since(self, conn: sa.Connection, store: int,
                                since: int) -> HierarchyChanges:
        rec = self._check_horizon(conn, store, since)
        out = HierarchyChanges(since=since, highest_cn=rec.last_cn)
        rows = conn.execute(sa.select(folders).where(folders.c.store_id == store,
                                                     folders.c.cn > since)
                            .order_by(folders.c.cn))
        out.changed = [folder_record(r) for r in rows]
        if since > 0:
            rows = conn.execute(sa.select(tombstones).where(
                tombstones.c.store_id == store, tombstones.c.is_folder == sa.true(),
                tombstones.c.cn > since).order_by(tombstones.c.cn))
            out.deleted = [_tombstone(r) for r in rows]
        return out

    def purge_tombstones(self, conn: sa.Connection, store: int, older_than: float) -> int:
        """Forget tombstones deleted before ``older_than``; move the horizon past them."""
        newest = conn.execute(sa.select(sa.func.max(tombstones.c.cn)).where(
            tombstones.c.store_id == store, tombstones.c.deleted_at < older_than)).scalar()
        if newest is None:
            return 0
        result = conn.execute(sa.delete(tombstones).where(
            tombstones.c.store_id == store, tombstones.c.cn <= newest))
        # A client that has seen CN ``newest`` missed none of the purged deletions.
        conn.execute(sa.update(stores).where(stores.c.id == store).values(
            tombstone_horizon_cn=sa.case((stores.c.tombstone_horizon_cn < newest, newest),
                                         else_=stores.c.tombstone_horizon_cn)))
        return int(result.rowcount or 0)


@dataclass(frozen=True, slots=True)
class Allocation:
    first_cn: int
    first_globcnt: int
    size_used: int
    """Store size after the allocation's size was added."""
    quota_send: int | None
    quota_receive: int | None


_INSERT_MESSAGE = sa.insert(messages)
_MESSAGE_DEFAULTS: dict[str, Any] = {
    "is_read": False, "associated": False, "soft_deleted": False, "message_class": "",
    "size": 0, "backend_key": "", "backend_version": "", "pcl": None,
}
_COUNTERS = ("message_count", "unread_count", "associated_count", "deleted_count", "size")

# Prebuilt statements of the append path: building and compiling SQLAlchemy
# constructs per call costs more than SQLite takes to run them.
_ALLOCATE = (
    sa.update(stores).where(stores.c.id == sa.bindparam("b_store"))
    .values(last_cn=stores.c.last_cn + sa.bindparam("b_cns"),
            last_globcnt=stores.c.last_globcnt + sa.bindparam("b_ids"),
            size_used=stores.c.size_used + sa.bindparam("b_size"))
    .returning(stores.c.last_cn, stores.c.last_globcnt, stores.c.size_used,
               stores.c.quota_send, stores.c.quota_receive))
_CLAIM_UIDS = (
    sa.update(folders)
    .where(folders.c.store_id == sa.bindparam("b_store"), folders.c.fid == sa.bindparam("b_fid"))
    .values(uidnext=folders.c.uidnext + sa.bindparam("b_n"),
            highest_cn=sa.case((folders.c.highest_cn < sa.bindparam("b_cn"),
                                sa.bindparam("b_cn")), else_=folders.c.highest_cn),
            modified_at=sa.bindparam("b_now"),
            **{name: folders.c[name] + sa.bindparam(f"b_{name}") for name in _COUNTERS})
    .returning(*folders.columns))


def _tombstone(row: Any) -> DeletedObject:
    m = row._mapping
    is_folder = bool(m["is_folder"])
    object_id = fid_of(m["object_id"]) if is_folder else mid_of(m["object_id"])
    return DeletedObject(object_id, fid_of(m["fid"]) if m["fid"] else FolderId(0), m["uid"],
                         m["cn"], bool(m["soft"]),
                         bool(m["associated"]), is_folder, m["deleted_at"])


def highest_cn(rec: StoreRecord) -> ChangeNumber:
    return ChangeNumber(rec.last_cn)
