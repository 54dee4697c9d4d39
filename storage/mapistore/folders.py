"""Folders: create, open, list (hierarchy tables), properties, move, delete
(MS-OXCFOLD), and the special-folder entry ids clients look for (MS-OXOSFLD 2.2).

The tree lives in the index; a folder's backend only prepares storage for it. Every
change to a folder takes a change number (its ``cn``, for hierarchy sync) and
publishes a ``created`` / ``modified`` / ``moved`` / ``deleted`` event with
``data["object"] = "folder"``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from groupware.mapi.changes import PredecessorChangeList
from groupware.mapi.ids import id_to_bytes
from groupware.notifier import Event
from groupware.types import ChangeNumber, FolderId, PropTag, StoreId
from storage.db.tables_mapistore import folders as folders_table
from storage.mapistore import propcodec, tags
from storage.mapistore.base import ACCESS_LEVEL_MODIFY, ACCESS_OWNER_FOLDER, StoreBase, StoreMeta
from storage.mapistore.errors import (
    DuplicateName,
    FolderCycle,
    FolderHasChildren,
    FolderHasContents,
    InvalidParameter,
    SpecialFolderProtected,
)
from storage.mapistore.ids import (
    change_key_bytes,
    change_xid,
    fid_of,
    folder_entry_id,
    packed_cn,
    source_key,
)
from storage.mapistore.index import FolderRecord
from storage.mapistore.info import FolderInfo
from storage.mapistore.model import BackendUri, Props, Value
from storage.mapistore.special_folders import FOLDER_TYPE_GENERIC, SpecialFolder
from storage.mapistore.validation import normalize_props, normalize_tags

MAX_FOLDER_NAME = 256

COMPUTED_FOLDER_TAGS: frozenset[PropTag] = frozenset({
    tags.FOLDER_ID, tags.PARENT_FOLDER_ID, tags.ENTRY_ID, tags.PARENT_ENTRY_ID,
    tags.SOURCE_KEY, tags.PARENT_SOURCE_KEY, tags.CHANGE_KEY, tags.PREDECESSOR_CHANGE_LIST,
    tags.CHANGE_NUMBER, tags.CONTENT_COUNT, tags.CONTENT_UNREAD_COUNT,
    tags.ASSOCIATED_CONTENT_COUNT, tags.SUBFOLDERS, tags.FOLDER_CHILD_COUNT, tags.FOLDER_TYPE,
    tags.MESSAGE_SIZE, tags.MESSAGE_SIZE_EXTENDED, tags.LOCAL_COMMIT_TIME_MAX,
    tags.DELETED_COUNT_TOTAL, tags.ACCESS, tags.ACCESS_LEVEL, tags.RECORD_KEY,
    tags.INSTANCE_KEY, tags.STORE_RECORD_KEY, tags.HIERARCHY_CHANGE_NUMBER,
    tags.DISPLAY_NAME, tags.CONTAINER_CLASS,
    tags.IPM_APPOINTMENT_ENTRY_ID, tags.IPM_CONTACT_ENTRY_ID, tags.IPM_JOURNAL_ENTRY_ID,
    tags.IPM_NOTE_ENTRY_ID, tags.IPM_TASK_ENTRY_ID, tags.REMINDERS_ONLINE_ENTRY_ID,
    tags.IPM_DRAFTS_ENTRY_ID, tags.ADDITIONAL_REN_ENTRY_IDS,
})
"""Folder properties the store computes; SetProps ignores them (display name and
container class are set through their own columns)."""

# Entry ids of special folders exposed on the root folder and the Inbox (MS-OXOSFLD 2.2.2).
SPECIAL_ENTRY_ID_TAGS: dict[PropTag, SpecialFolder] = {
    tags.IPM_APPOINTMENT_ENTRY_ID: SpecialFolder.CALENDAR,
    tags.IPM_CONTACT_ENTRY_ID: SpecialFolder.CONTACTS,
    tags.IPM_JOURNAL_ENTRY_ID: SpecialFolder.JOURNAL,
    tags.IPM_NOTE_ENTRY_ID: SpecialFolder.NOTES,
    tags.IPM_TASK_ENTRY_ID: SpecialFolder.TASKS,
    tags.REMINDERS_ONLINE_ENTRY_ID: SpecialFolder.REMINDERS,
    tags.IPM_DRAFTS_ENTRY_ID: SpecialFolder.DRAFTS,
}
ADDITIONAL_REN_ORDER = (SpecialFolder.CONFLICTS, SpecialFolder.SYNC_ISSUES,
                        SpecialFolder.LOCAL_FAILURES, SpecialFolder.SERVER_FAILURES,
                        SpecialFolder.JUNK)
"""PidTagAdditionalRenEntryIds order (MS-OXOSFLD 2.2.4)."""

PROTECTED_ROLES = frozenset(s.value for s in SpecialFolder)


def uidvalidity_for(fid_gc: int) -> int:
    """IMAP UIDVALIDITY of a new folder: its id counter, never reused in the store, so
    a folder deleted and created again under the same name gets a new one."""
    return (fid_gc & 0xFFFFFFFF) or 1


def check_folder_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("a folder needs a non-empty name")
    if len(name) > MAX_FOLDER_NAME or "\x00" in name:
        raise InvalidParameter(f"folder name too long or invalid: {name[:40]!r}")
    return name


class FolderOps(StoreBase):
    """Folder operations of :class:`~storage.mapistore.store.MapiStore`."""

    # --- creating ------------------------------------------------------------------

    async def create_folder(self, store: StoreId, parent: FolderId, name: str, *,
                            container_class: str = "", props: Mapping[Any, Any] | None = None,
                            open_existing: bool = False,
                            backend_uri: str | None = None) -> FolderInfo:
        """RopCreateFolder (MS-OXCFOLD 2.2.1.2): a new generic folder under ``parent``.

        A sibling with the same name (case-insensitive) is DuplicateName
        (ecDuplicateName) unless ``open_existing``, which returns it. The folder's
        backend is ``backend_uri`` or the ``fallback`` role's URI of the configuration.
        """
        check_folder_name(name)
        stored, _size = normalize_props("folder", props or {}, self.limits,
                                        drop=COMPUTED_FOLDER_TAGS)
        return await self.write("create_folder", self._create_folder_txn, store=store,
                                parent=parent, name=name, container_class=container_class,
                                props=stored, open_existing=open_existing,
                                backend_uri=backend_uri)

    def _create_folder_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                           parent: FolderId, name: str, container_class: str, props: Props,
                           open_existing: bool, backend_uri: str | None) -> FolderInfo:
        meta = self.meta(conn, store)
        self.index.lock_store(conn, store)
        parent_rec = self.index.folder(conn, store, self.fid_gc(parent))
        existing = self.index.folder_by_name(conn, store, parent_rec.fid, name)
        if existing is not None:
            if open_existing:
                return FolderInfo.of(existing)
            raise DuplicateName(f"folder {parent_rec.name!r} already has a subfolder {name!r}")
        uri = backend_uri or self.expand_uri(self.config.uri_for_role(None), meta)
        rec = self.insert_folder(conn, events, meta, parent=parent_rec.fid, name=name,
                                 container_class=container_class, role=None, uri=uri,
                                 props=props)
        return FolderInfo.of(rec)

    def expand_uri(self, template: str, meta: StoreMeta) -> str:
        """A configured URI with ``{user}``, ``{user_id}`` and ``{guid}`` filled in."""
        return (template.replace("{user}", meta.username or str(meta.user_id or meta.id))
                .replace("{user_id}", str(meta.user_id or ""))
                .replace("{guid}", str(meta.mailbox_guid)))

    def insert_folder(self, conn: sa.Connection, events: list[Event], meta: StoreMeta, *,
                      parent: int | None, name: str, container_class: str, role: str | None,
                      uri: str, props: Props, folder_type: int = FOLDER_TYPE_GENERIC,
                      ) -> FolderRecord:
        """Create one folder row and its backend storage (the caller holds the lock)."""
        parsed = BackendUri.parse(uri)
        backend = self.backend(uri)
        backend.check_uri(parsed)
        cn = self.index.allocate_cns(conn, meta.id)
        gc = self.index.allocate_globcnts(conn, meta.id)
        self.index.insert_folder(
            conn, store_id=meta.id, fid=gc, parent_fid=parent, name=name,
            container_class=container_class, role=role, folder_type=folder_type,
            backend_uri=uri, uidvalidity=uidvalidity_for(gc), created_cn=cn, cn=cn,
            highest_cn=cn, props=propcodec.encode_props(props) if props else None)
        rec = self.index.folder(conn, meta.id, gc)
        key = backend.create_folder(self.ctx(conn, meta), self.folder_ref(rec))
        if key:
            self.index.update_folder(conn, meta.id, gc, backend_key=key)
            rec = self.index.folder(conn, meta.id, gc)
        if parent is not None:
            self.index.touch_folder(conn, meta.id, parent, cn)
        events.append(self.event("created", meta.id, parent, (fid_of(gc),), cn, object="folder"))
        return rec

    # --- reading ---------------------------------------------------------------------

    async def get_folder(self, store: StoreId, fid: FolderId) -> FolderInfo:
        def txn(conn: sa.Connection) -> FolderInfo:
            return FolderInfo.of(self.index.folder(conn, store, self.fid_gc(fid)))

        return await self.read("get_folder", txn)

    async def folder_by_role(self, store: StoreId, role: SpecialFolder | str) -> FolderInfo:
        def txn(conn: sa.Connection) -> FolderInfo:
            rec = self.index.folder_by_role(conn, store, str(role))
            if rec is None:
                from storage.mapistore.errors import ObjectNotFound

                raise ObjectNotFound(f"store {store} has no {role} folder")
            return FolderInfo.of(rec)

        return await self.read("folder_by_role", txn)

    async def special_folders(self, store: StoreId) -> dict[SpecialFolder, FolderId]:
        """Every special folder's id, by role."""
        def txn(conn: sa.Connection) -> dict[SpecialFolder, FolderId]:
            return {SpecialFolder(role): fid_of(gc)
                    for role, gc in self._roles(conn, store).items()}

        return await self.read("special_folders", txn)

    def _roles(self, conn: sa.Connection, store: int) -> dict[str, int]:
        rows = conn.execute(sa.select(folders_table.c.role, folders_table.c.fid).where(
            folders_table.c.store_id == store, folders_table.c.role.is_not(None)))
        return {r.role: r.fid for r in rows if r.role in PROTECTED_ROLES}

    async def list_folders(self, store: StoreId, parent: FolderId | None = None, *,
                           recursive: bool = False) -> list[FolderInfo]:
        """Subfolders of ``parent`` (default: the whole tree under the root when
        ``recursive``, else the root's children), sorted by name (hierarchy table)."""
        def txn(conn: sa.Connection) -> list[FolderInfo]:
            if parent is None:
                root = self.index.folder_by_role(conn, store, SpecialFolder.ROOT)
                if root is None:
                    return []
                start = root.fid
            else:
                start = self.index.folder(conn, store, self.fid_gc(parent)).fid
            if not recursive:
                return [FolderInfo.of(r) for r in self.index.children(conn, store, start)]
            by_parent: dict[int | None, list[FolderRecord]] = {}
            for rec in self.index.all_folders(conn, store):
                by_parent.setdefault(rec.parent, []).append(rec)
            out: list[FolderInfo] = []
            stack = sorted(by_parent.get(start, []), key=lambda r: r.name.casefold(),
                           reverse=True)
            seen: set[int] = set()
            while stack:
                rec = stack.pop()
                if rec.fid in seen:
                    continue
                seen.add(rec.fid)
                out.append(FolderInfo.of(rec))
                stack.extend(sorted(by_parent.get(rec.fid, []),
                                    key=lambda r: r.name.casefold(), reverse=True))
            return out

        return await self.read("list_folders", txn)

    async def get_folder_properties(self, store: StoreId, fid: FolderId,
                                    wanted: Sequence[PropTag] | None = None,
                                    ) -> dict[PropTag, Value]:
        """Stored and computed folder properties (all, or the ``wanted`` ones it has)."""
        want = None if wanted is None else normalize_tags("folder", wanted)

        def txn(conn: sa.Connection) -> dict[PropTag, Value]:
            meta = self.meta(conn, store)
            rec = self.index.folder(conn, store, self.fid_gc(fid))
            return self.folder_properties(conn, meta, rec, want)

        return await self.read("get_folder_properties", txn)

    def folder_properties(self, conn: sa.Connection, meta: StoreMeta, rec: FolderRecord,
                          wanted: Sequence[PropTag] | None) -> dict[PropTag, Value]:
        props: dict[PropTag, Value] = {}
        if rec.props:
            props.update(propcodec.decode_props(rec.props))
        computed: dict[PropTag, Callable[[], Value]] = {
            tags.DISPLAY_NAME: lambda: rec.name,
            tags.CONTAINER_CLASS: lambda: rec.container_class or None,
            tags.FOLDER_ID: lambda: fid_of(rec.fid),
            tags.PARENT_FOLDER_ID: lambda: fid_of(rec.parent) if rec.parent else None,
            tags.ENTRY_ID: lambda: folder_entry_id(meta.mailbox_guid, meta.replica_guid,
                                                   rec.fid),
            tags.PARENT_ENTRY_ID: lambda: folder_entry_id(
                meta.mailbox_guid, meta.replica_guid, rec.parent) if rec.parent else None,
            tags.SOURCE_KEY: lambda: source_key(meta.replica_guid, rec.fid),
            tags.PARENT_SOURCE_KEY: lambda: source_key(meta.replica_guid, rec.parent)
            if rec.parent else b"",
            tags.RECORD_KEY: lambda: source_key(meta.replica_guid, rec.fid),
            tags.INSTANCE_KEY: lambda: id_to_bytes(fid_of(rec.fid)),
            tags.CHANGE_KEY: lambda: change_key_bytes(meta.replica_guid, rec.cn),
            tags.PREDECESSOR_CHANGE_LIST: lambda: (
                PredecessorChangeList.from_bytes(rec.pcl) if rec.pcl
                else PredecessorChangeList()).with_change(
                    change_xid(meta.replica_guid, rec.cn)).to_bytes(),
            tags.CHANGE_NUMBER: lambda: packed_cn(rec.cn),
            tags.CONTENT_COUNT: lambda: rec.message_count,
            tags.CONTENT_UNREAD_COUNT: lambda: rec.unread_count,
            tags.ASSOCIATED_CONTENT_COUNT: lambda: rec.associated_count,
            tags.DELETED_COUNT_TOTAL: lambda: rec.deleted_count,
            tags.FOLDER_CHILD_COUNT: lambda: self._child_count(conn, rec),
            tags.SUBFOLDERS: lambda: self._child_count(conn, rec) > 0,
            tags.FOLDER_TYPE: lambda: rec.folder_type,
            tags.MESSAGE_SIZE: lambda: min(rec.size, (1 << 31) - 1),
            tags.MESSAGE_SIZE_EXTENDED: lambda: rec.size,
            tags.LOCAL_COMMIT_TIME_MAX: lambda: _filetime(rec.modified_at),
            tags.HIERARCHY_CHANGE_NUMBER: lambda: rec.cn & 0x7FFFFFFF,
            tags.ACCESS: lambda: ACCESS_OWNER_FOLDER,
            tags.ACCESS_LEVEL: lambda: ACCESS_LEVEL_MODIFY,
            tags.STORE_RECORD_KEY: lambda: meta.mailbox_guid.bytes_le,
        }
        if rec.role in (SpecialFolder.ROOT, SpecialFolder.INBOX):
            roles = self._roles(conn, meta.id)

            def entry(role: SpecialFolder) -> bytes | None:
                gc = roles.get(role)
                return None if gc is None else folder_entry_id(meta.mailbox_guid,
                                                               meta.replica_guid, gc)

            for tag, role in SPECIAL_ENTRY_ID_TAGS.items():
                computed[tag] = functools.partial(entry, role)
            computed[tags.ADDITIONAL_REN_ENTRY_IDS] = lambda: tuple(
                entry(r) or b"" for r in ADDITIONAL_REN_ORDER)
        names = computed if wanted is None else [t for t in wanted if t in computed]
        for tag in names:
            value = computed[tag]()
            if value is not None:
                props[tag] = value
        if wanted is not None:
            keep = set(wanted)
            props = {t: v for t, v in props.items() if t in keep}
        return props

    def _child_count(self, conn: sa.Connection, rec: FolderRecord) -> int:
        return int(conn.execute(sa.select(sa.func.count()).where(
            folders_table.c.store_id == rec.store, folders_table.c.parent_fid == rec.fid))
            .scalar_one())

    # --- changing ------------------------------------------------------------------

    async def set_folder_properties(self, store: StoreId, fid: FolderId,
                                    props: Mapping[Any, Any],
                                    delete: Iterable[Any] = ()) -> ChangeNumber:
        """RopSetProperties / RopDeleteProperties on a folder.

        PidTagDisplayName renames (DuplicateName on a clash; special folders may be
        renamed, as Outlook does when the language changes) and PidTagContainerClass
        sets the class; other computed properties are ignored.
        """
        name = props.get(tags.DISPLAY_NAME)
        if name is None:
            name = props.get(PropTag(tags.DISPLAY_NAME & 0xFFFF0000 | 0x001E))
        if name is not None:
            check_folder_name(name)
        cls = props.get(tags.CONTAINER_CLASS)
        if cls is None:
            cls = props.get(PropTag(tags.CONTAINER_CLASS & 0xFFFF0000 | 0x001E))
        if cls is not None and not isinstance(cls, str):
            raise InvalidParameter("PidTagContainerClass must be a string")
        stored, _size = normalize_props("folder", props, self.limits, drop=COMPUTED_FOLDER_TAGS)
        removed = normalize_tags("folder", delete)
        return await self.write("set_folder_properties", self._set_folder_props_txn,
                                store=store, fid=fid, stored=stored, removed=removed, name=name,
                                cls=cls)

    def _set_folder_props_txn(self, conn: sa.Connection, events: list[Event], *,
                              store: StoreId,
                              fid: FolderId, stored: Props, removed: list[PropTag],
                              name: str | None, cls: str | None) -> ChangeNumber:
        self.meta(conn, store)
        cn = self.index.allocate_cns(conn, store)
        rec = self.index.folder(conn, store, self.fid_gc(fid))
        values: dict[str, Any] = {"cn": cn}
        if name is not None and name != rec.name:
            if rec.parent is not None:
                clash = self.index.folder_by_name(conn, store, rec.parent, name)
                if clash is not None and clash.fid != rec.fid:
                    raise DuplicateName(f"a sibling folder is already called {name!r}")
            values["name"] = name
        if cls is not None:
            values["container_class"] = cls
        current = propcodec.decode_props(rec.props) if rec.props else {}
        for tag in removed:
            current.pop(tag, None)
        current.update(stored)
        values["props"] = propcodec.encode_props(current) if current else None
        self.index.update_folder(conn, store, rec.fid, **values)
        self.index.touch_folder(conn, store, rec.fid, cn)
        events.append(self.event("modified", store, rec.parent, (fid_of(rec.fid),), cn,
                                 object="folder"))
        return ChangeNumber(cn)

    async def set_folder_subscribed(self, store: StoreId, fid: FolderId,
                                    subscribed: bool) -> None:
        """IMAP SUBSCRIBE / UNSUBSCRIBE (``FolderInfo.subscribed``).

        Kept in the folder's own properties (a provider-internal tag) but not a MAPI
        change: no change number, no event, so Outlook and ActiveSync hierarchy sync
        do not see a folder change when a mail client reorganises its folder list.
        """
        def txn(conn: sa.Connection, events: list[Event]) -> None:
            self.index.lock_store(conn, store)
            rec = self.index.folder(conn, store, self.fid_gc(fid))
            current = propcodec.decode_props(rec.props) if rec.props else {}
            if subscribed:
                if current.pop(tags.IMAP_UNSUBSCRIBED, None) is None:
                    return
            else:
                if current.get(tags.IMAP_UNSUBSCRIBED) is True:
                    return
                current[tags.IMAP_UNSUBSCRIBED] = True
            self.index.update_folder(
                conn, store, rec.fid,
                props=propcodec.encode_props(current) if current else None)

        await self.write("set_folder_subscribed", txn)

    async def move_folder(self, store: StoreId, fid: FolderId, new_parent: FolderId,
                          new_name: str | None = None) -> ChangeNumber:
        """RopMoveFolder (MS-OXCFOLD 2.2.1.7). Special folders cannot move
        (SpecialFolderProtected); a folder cannot move below itself (FolderCycle,
        ecFolderCycle); a name clash is DuplicateName. Nothing changes on error."""
        if new_name is not None:
            check_folder_name(new_name)
        return await self.write("move_folder", self._move_folder_txn, store=store, fid=fid,
                                new_parent=new_parent, new_name=new_name)

    def _move_folder_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                         fid: FolderId, new_parent: FolderId,
                         new_name: str | None) -> ChangeNumber:
        meta = self.meta(conn, store)
        cn = self.index.allocate_cns(conn, store)
        rec = self.index.folder(conn, store, self.fid_gc(fid))
        target = self.index.folder(conn, store, self.fid_gc(new_parent))
        if rec.role in PROTECTED_ROLES:
            raise SpecialFolderProtected(f"the special folder {rec.role} cannot be moved")
        if rec.fid in self.index.ancestors(conn, store, target.fid):
            raise FolderCycle(f"folder {rec.name!r} cannot move into itself or a subfolder")
        name = new_name or rec.name
        clash = self.index.folder_by_name(conn, store, target.fid, name)
        if clash is not None and clash.fid != rec.fid:
            raise DuplicateName(f"folder {target.name!r} already has a subfolder {name!r}")
        key = self.backend(rec.backend_uri).move_folder(
            self.ctx(conn, meta), self.folder_ref(rec), self.folder_ref(target), name)
        self.index.update_folder(conn, store, rec.fid, parent_fid=target.fid, name=name, cn=cn,
                                 backend_key=key)
        for touched in {rec.fid, target.fid, rec.parent}:
            if touched is not None:
                self.index.touch_folder(conn, store, touched, cn)
        events.append(self.event("moved", store, target.fid, (fid_of(rec.fid),), cn,
                                 object="folder",
                                 old_parent=fid_of(rec.parent) if rec.parent else None))
        return ChangeNumber(cn)

    async def delete_folder(self, store: StoreId, fid: FolderId, *, messages: bool = False,
                            subfolders: bool = False) -> ChangeNumber:
        """RopDeleteFolder (MS-OXCFOLD 2.2.1.3) with DEL_MESSAGES / DEL_FOLDERS.

        Without ``subfolders`` a folder with children is FolderHasChildren; without
        ``messages`` one with messages (FAI included) is FolderHasContents. Deletion
        is hard: content leaves the backends, tombstones record the folders and
        messages for sync clients.
        """
        return await self.write("delete_folder", self._delete_folder_txn, store=store, fid=fid,
                                messages=messages, subfolders=subfolders)

    def _delete_folder_txn(self, conn: sa.Connection, events: list[Event], *, store: StoreId,
                           fid: FolderId, messages: bool, subfolders: bool) -> ChangeNumber:
        meta = self.meta(conn, store)
        cn = self.index.allocate_cns(conn, store)
        rec = self.index.folder(conn, store, self.fid_gc(fid))
        if rec.role in PROTECTED_ROLES:
            raise SpecialFolderProtected(f"the special folder {rec.role} cannot be deleted")
        order = self._subtree(conn, store, rec)
        if len(order) > 1 and not subfolders:
            raise FolderHasChildren(f"folder {rec.name!r} has subfolders")
        for folder in order:
            if (folder.message_count or folder.associated_count or folder.deleted_count) \
                    and not messages:
                raise FolderHasContents(f"folder {folder.name!r} is not empty")
        ctx = self.ctx(conn, meta)
        freed = 0
        for folder in reversed(order):
            backend = self.backend(folder.backend_uri)
            ref = self.folder_ref(folder)
            for msg in list(self.index.messages_in(conn, store, folder.fid, associated=None,
                                                   soft_deleted=None)):
                backend.delete_message(ctx, ref, self.message_ref(msg))
                self.index.delete_message_row(conn, msg, cn, tombstone=False)
                freed += msg.size
            backend.delete_folder(ctx, ref)
            self.index.delete_folder_row(conn, folder, cn)
            events.append(self.event("deleted", store, folder.parent, (fid_of(folder.fid),), cn,
                                     object="folder"))
        self.index.add_store_size(conn, store, -freed)
        if rec.parent is not None:
            self.index.touch_folder(conn, store, rec.parent, cn)
        return ChangeNumber(cn)

    def _subtree(self, conn: sa.Connection, store: int, rec: FolderRecord) -> list[FolderRecord]:
        """``rec`` and its descendants, parents before children."""
        out = [rec]
        i = 0
        while i < len(out):
            out.extend(self.index.children(conn, store, out[i].fid))
            i += 1
        return out


def _filetime(unix: float) -> int:
    return int((unix + 11644473600) * 10_000_000)
