"""Mailbox-wide operations: provisioning, store properties, the change log, named
properties, receive folders, permissions and quotas.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import sqlalchemy as sa

from groupware.notifier import Event
from groupware.types import ChangeNumber, FolderId, PropTag, StoreId, UserId
from storage.db.tables_mapistore import named_props, permissions, receive_folders
from storage.mapistore import tags
from storage.mapistore.base import StoreMeta, meta_of
from storage.mapistore.bulk import BulkOps
from storage.mapistore.errors import InvalidParameter, NamedPropertyQuotaExceeded
from storage.mapistore.folders import FolderOps
from storage.mapistore.ids import fid_of, folder_entry_id
from storage.mapistore.index import FolderChanges, HierarchyChanges
from storage.mapistore.info import (
    FolderInfo,
    NamedProperty,
    PermissionEntry,
    QuotaStatus,
    StoreInfo,
)
from storage.mapistore.model import Value
from storage.mapistore.special_folders import (
    DEFAULT_RECEIVE_FOLDERS,
    LOGON_FOLDERS,
    SPECIAL_FOLDERS,
    SpecialFolder,
    language_of,
)

logger = logging.getLogger(__name__)

PS_MAPI = uuid.UUID("00020328-0000-0000-c000-000000000046")
"""Names in PS_MAPI map to the property id equal to their LID (MS-OXCPRPT 3.1.5.10)."""
FIRST_NAMED_ID = 0x8000
LAST_NAMED_ID = 0xFFFE
MAX_NAME = 512

# MS-OXCPERM 2.2.7 PidTagMemberRights bits.
RIGHTS_OWNER = 0x000007FB | 0x00001800
MEMBER_DEFAULT = 0
MEMBER_ANONYMOUS = -1

STORE_ENTRY_ID_TAGS: dict[PropTag, SpecialFolder] = {
    tags.IPM_SUBTREE_ENTRY_ID: SpecialFolder.IPM_SUBTREE,
    tags.IPM_OUTBOX_ENTRY_ID: SpecialFolder.OUTBOX,
    tags.IPM_WASTEBASKET_ENTRY_ID: SpecialFolder.DELETED,
    tags.IPM_SENT_MAIL_ENTRY_ID: SpecialFolder.SENT,
    tags.VIEWS_ENTRY_ID: SpecialFolder.VIEWS,
    tags.COMMON_VIEWS_ENTRY_ID: SpecialFolder.COMMON_VIEWS,
    tags.FINDER_ENTRY_ID: SpecialFolder.FINDER,
}
"""Special-folder entry ids on the store object (MS-OXOSFLD 2.2.1)."""


class MailboxOps(BulkOps, FolderOps):
    """Mailbox-wide operations of :class:`~storage.mapistore.store.MapiStore`."""

    # --- provisioning ----------------------------------------------------------------

    async def provision_mailbox(self, user_id: UserId, mailbox_guid: uuid.UUID | str,
                                locale: str = "en", *, username: str | None = None) -> StoreInfo:
        """Create the mailbox store of a user with the special folder tree of MS-OXOSFLD
        in the user's language, receive folders and special-folder entry ids.

        Idempotent: a store already provisioned is returned as is, a half-provisioned
        one (a crash in between) is completed. ``username`` fills ``{user}`` in the
        configured backend URIs (default: the user id).
        """
        guid = uuid.UUID(str(mailbox_guid))
        for _attempt in range(3):
            try:
                return await self.write("provision_mailbox", self._provision_txn,
                                        user_id=user_id, guid=guid, locale=locale,
                                        username=username)
            except sa.exc.IntegrityError:
                # Another process provisioned the same user at the same moment.
                logger.info("provisioning of user %s raced; reading the winner", user_id)
        return await self.write("provision_mailbox", self._provision_txn, user_id=user_id,
                                guid=guid, locale=locale, username=username)

    def _provision_txn(self, conn: sa.Connection, events: list[Event], *, user_id: UserId,
                       guid: uuid.UUID, locale: str, username: str | None) -> StoreInfo:
        rec = self.index.find_store(conn, user_id=user_id)
        if rec is None:
            rec = self.index.find_store(conn, mailbox_guid=guid)
        if rec is not None and (rec.mailbox_guid != guid or rec.user_id != user_id):
            from storage.mapistore.errors import DuplicateName

            raise DuplicateName(f"user {user_id} already has mailbox {rec.mailbox_guid}"
                                if rec.user_id == user_id
                                else f"mailbox {guid} belongs to user {rec.user_id}")
        if rec is not None and rec.provisioned:
            return StoreInfo.of(rec)
        if rec is None:
            store = self.index.create_store(
                conn, user_id=user_id, mailbox_guid=guid, replica_guid=uuid.uuid4(),
                username=username or str(user_id), locale=locale)
            rec = self.index.store(conn, store)
        meta = meta_of(rec)
        self._meta[meta.id] = meta
        self.index.lock_store(conn, meta.id)
        made: dict[SpecialFolder, int] = {}
        for spec in SPECIAL_FOLDERS:
            existing = self.index.folder_by_role(conn, meta.id, spec.key)
            if existing is not None:
                made[spec.key] = existing.fid
                continue
            template = self.config.uri_for_role(spec.backend_role.value)
            folder = self.insert_folder(
                conn, events, meta, parent=None if spec.parent is None else made[spec.parent],
                name=spec.name_for(locale), container_class=spec.container_class,
                role=spec.key.value, uri=self.expand_uri(template, meta), props={},
                folder_type=spec.folder_type)
            made[spec.key] = folder.fid
        for message_class, role in DEFAULT_RECEIVE_FOLDERS:
            key = message_class.casefold()
            exists = conn.execute(sa.select(receive_folders.c.fid).where(
                receive_folders.c.store_id == meta.id,
                receive_folders.c.class_key == key)).first()
            if exists is None:
                conn.execute(sa.insert(receive_folders).values(
                    store_id=meta.id, class_key=key, message_class=message_class,
                    fid=made[role]))
        self.index.update_store(conn, meta.id, provisioned=True,
                                locale=language_of(locale) if locale else "en")
        events.clear()
        events.append(self.event("created", meta.id, None, (), None, object="store"))
        return StoreInfo.of(self.index.store(conn, meta.id))

    async def get_store(self, store: StoreId) -> StoreInfo:
        return await self.read("get_store",
                               lambda conn: StoreInfo.of(self.index.store(conn, store)))

    async def find_store(self, *, user_id: UserId | None = None,
                         mailbox_guid: uuid.UUID | None = None) -> StoreInfo | None:
        def txn(conn: sa.Connection) -> StoreInfo | None:
            rec = self.index.find_store(conn, user_id=user_id, mailbox_guid=mailbox_guid)
            return None if rec is None else StoreInfo.of(rec)

        return await self.read("find_store", txn)

    async def list_stores(self) -> list[StoreInfo]:
        return await self.read("list_stores",
                               lambda conn: [StoreInfo.of(r) for r in self.index.all_stores(conn)])

    async def logon_folder_ids(self, store: StoreId) -> list[FolderId]:
        """The 13 folder ids of a private RopLogon response, in order (MS-OXCSTOR
        2.2.1.1.3)."""
        special = await self.special_folders(store)
        return [special[key] for key in LOGON_FOLDERS]

    async def store_properties(self, store: StoreId) -> dict[PropTag, Value]:
        """Properties of the store object: special-folder entry ids (MS-OXOSFLD 2.2.1),
        record key, owner name, size and quotas (KiB, MS-OXCSTOR 2.2.2.1)."""
        def txn(conn: sa.Connection) -> dict[PropTag, Value]:
            rec = self.index.store(conn, store)
            meta = self.meta(conn, store)
            roles = self._roles(conn, store)
            props: dict[PropTag, Value] = {
                tags.STORE_RECORD_KEY: meta.mailbox_guid.bytes_le,
                tags.MAILBOX_OWNER_NAME: meta.username,
                tags.MESSAGE_SIZE_EXTENDED: rec.size_used,
                tags.MESSAGE_SIZE: min(rec.size_used, (1 << 31) - 1),
            }
            for tag, role in STORE_ENTRY_ID_TAGS.items():
                if role in roles:
                    props[tag] = folder_entry_id(meta.mailbox_guid, meta.replica_guid,
                                                 roles[role])
            quota = self._quota(rec.quota_warning, rec.quota_send, rec.quota_receive,
                                rec.size_used)
            for tag, limit in ((tags.STORAGE_QUOTA_LIMIT, quota.warning),
                               (tags.PROHIBIT_SEND_QUOTA, quota.send),
                               (tags.PROHIBIT_RECEIVE_QUOTA, quota.receive)):
                if limit is not None:
                    props[tag] = min(limit >> 10, (1 << 31) - 1)
            return props

        return await self.read("store_properties", txn)

    # --- the change log --------------------------------------------------------------

    async def changes_since(self, store: StoreId, fid: FolderId, since: int, *,
                            associated: bool | None = None) -> FolderChanges:
        """What changed in folder ``fid`` after change number ``since`` (0: everything
        now there): new, changed, read-state-only and deleted messages, and the
        folder's highest change number to ask from next time. The one change log
        behind IMAP CONDSTORE/QRESYNC, ActiveSync SyncKeys and MAPI ICS. Raises
        SyncStateTooOld when tombstones after ``since`` were already purged."""
        if since < 0:
            raise InvalidParameter("change numbers are not negative")
        return await self.read("changes_since", self.index.changes_since, store,
                               self.fid_gc(fid), since, associated=associated)

    async def hierarchy_changes_since(self, store: StoreId, since: int,
                                      ) -> tuple[list[FolderInfo], HierarchyChanges]:
        """Folders created, renamed, moved or changed after ``since`` (as FolderInfo)
        and folder tombstones (ICS hierarchy sync, ActiveSync FolderSync)."""
        changes = await self.read("hierarchy_changes_since", self.index.hierarchy_changes_since,
                                  store, since)
        return [FolderInfo.of(f) for f in changes.changed], changes

    async def highest_change_number(self, store: StoreId,
                                    fid: FolderId | None = None) -> ChangeNumber:
        """The store's newest change number, or the newest of one folder's content."""
        def txn(conn: sa.Connection) -> ChangeNumber:
            if fid is None:
                return ChangeNumber(self.index.store(conn, store).last_cn)
            return ChangeNumber(self.index.folder(conn, store, self.fid_gc(fid)).highest_cn)

        return await self.read("highest_change_number", txn)

    async def reserve_ids(self, store: StoreId, count: int) -> int:
        """RopGetLocalReplicaIds (MS-OXCFXICS 2.2.3.2.4.1): reserve ``count`` GLOBCNTs
        of the store's replica for the client; returns the first."""
        if not 0 < count <= 1 << 24:
            raise InvalidParameter("count must be between 1 and 2**24")

        def txn(conn: sa.Connection, events: list[Event]) -> int:
            return self.index.allocate_globcnts(conn, store, count)

        return await self.write("reserve_ids", txn)

    # --- named properties --------------------------------------------------------------

    async def get_ids_from_names(self, store: StoreId, names: Sequence[NamedProperty], *,
                                 create: bool = False) -> list[int | None]:
        """RopGetPropertyIdsFromNames (MS-OXCPRPT 2.2.12): the 0x8000+ id of each name,
        created when missing and ``create`` (None stays for missing ones otherwise).
        NamedPropertyQuotaExceeded (ecNPQuotaExceeded) when the id space is used up."""
        for named in names:
            if named.name is not None and len(named.name) > MAX_NAME:
                raise InvalidParameter(f"named property name longer than {MAX_NAME}")
            if named.lid is not None and not 0 <= named.lid <= 0xFFFFFFFF:
                raise InvalidParameter("a LID is 32 bits")
        if not create:
            return await self.read("get_ids_from_names", self._ids_txn, store, list(names),
                                   False)
        return await self.write("get_ids_from_names",
                                lambda conn, events: self._ids_txn(conn, store, list(names),
                                                                   True))

    def _ids_txn(self, conn: sa.Connection, store: int, names: list[NamedProperty],
                 create: bool) -> list[int | None]:
        if create:
            self.index.lock_store(conn, store)
        else:
            self.index.store(conn, store)
        out: list[int | None] = []
        next_id: int | None = None
        for named in names:
            if named.guid == PS_MAPI and named.lid is not None:
                out.append(named.lid if named.lid < FIRST_NAMED_ID else None)
                continue
            found = conn.execute(sa.select(named_props.c.prop_id).where(
                named_props.c.store_id == store, named_props.c.key == named.key)).scalar()
            if found is not None or not create:
                out.append(found)
                continue
            if next_id is None:
                top = conn.execute(sa.select(sa.func.max(named_props.c.prop_id)).where(
                    named_props.c.store_id == store)).scalar()
                next_id = FIRST_NAMED_ID if top is None else int(top) + 1
            if next_id > LAST_NAMED_ID:
                raise NamedPropertyQuotaExceeded(f"store {store} has no named property id left")
            conn.execute(sa.insert(named_props).values(
                store_id=store, prop_id=next_id, guid=str(named.guid), lid=named.lid,
                name=named.name, key=named.key))
            out.append(next_id)
            next_id += 1
        return out

    async def get_names_from_ids(self, store: StoreId,
                                 ids: Sequence[int]) -> list[NamedProperty | None]:
        """RopGetNamesFromPropertyIds (MS-OXCPRPT 2.2.13)."""
        def txn(conn: sa.Connection) -> list[NamedProperty | None]:
            out: list[NamedProperty | None] = []
            for prop_id in ids:
                if prop_id < FIRST_NAMED_ID:
                    out.append(NamedProperty(PS_MAPI, lid=prop_id))
                    continue
                row = conn.execute(sa.select(named_props).where(
                    named_props.c.store_id == store, named_props.c.prop_id == prop_id)).first()
                out.append(None if row is None else NamedProperty(
                    uuid.UUID(row.guid), lid=row.lid, name=row.name))
            return out

        return await self.read("get_names_from_ids", txn)

    # --- receive folders ---------------------------------------------------------------

    async def get_receive_folder(self, store: StoreId,
                                 message_class: str = "") -> tuple[FolderId, str]:
        """RopGetReceiveFolder (MS-OXCSTOR 2.2.1.2): the folder for the longest matching
        class, and that explicit class."""
        def txn(conn: sa.Connection) -> tuple[FolderId, str]:
            folder = self._receive_folder(conn, store, message_class)
            rows = conn.execute(sa.select(receive_folders).where(
                receive_folders.c.store_id == store, receive_folders.c.fid == folder.fid))
            key = message_class.casefold()
            best = max((r for r in rows if r.class_key in ("", key)
                        or key.startswith(r.class_key + ".")),
                       key=lambda r: len(r.class_key))
            return fid_of(folder.fid), best.message_class

        return await self.read("get_receive_folder", txn)

    async def set_receive_folder(self, store: StoreId, message_class: str,
                                 fid: FolderId | None) -> None:
        """RopSetReceiveFolder: map a class to a folder (None removes the mapping; the
        default class "" cannot be removed, MS-OXCSTOR 3.2.5.2)."""
        if len(message_class) > 255 or not all(32 < ord(c) < 127 for c in message_class):
            raise InvalidParameter("a message class is printable ASCII of up to 255 chars")
        if fid is None and message_class == "":
            raise InvalidParameter("the default receive folder cannot be removed")

        def txn(conn: sa.Connection, events: list[Event]) -> None:
            self.index.lock_store(conn, store)
            key = message_class.casefold()
            conn.execute(sa.delete(receive_folders).where(receive_folders.c.store_id == store,
                                                          receive_folders.c.class_key == key))
            if fid is not None:
                folder = self.index.folder(conn, store, self.fid_gc(fid))
                conn.execute(sa.insert(receive_folders).values(
                    store_id=store, class_key=key, message_class=message_class,
                    fid=folder.fid))

        await self.write("set_receive_folder", txn)

    async def receive_folders(self, store: StoreId) -> list[tuple[str, FolderId]]:
        """RopGetReceiveFolderTable: every (message class, folder)."""
        def txn(conn: sa.Connection) -> list[tuple[str, FolderId]]:
            rows = conn.execute(sa.select(receive_folders).where(
                receive_folders.c.store_id == store).order_by(receive_folders.c.class_key))
            return [(r.message_class, fid_of(r.fid)) for r in rows]

        return await self.read("receive_folders", txn)

    # --- permissions -----------------------------------------------------------------

    async def get_permissions(self, store: StoreId, fid: FolderId) -> list[PermissionEntry]:
        """The folder's ACL (MS-OXCPERM 2.2.4 permissions table)."""
        def txn(conn: sa.Connection) -> list[PermissionEntry]:
            folder = self.index.folder(conn, store, self.fid_gc(fid))
            rows = conn.execute(sa.select(permissions).where(
                permissions.c.store_id == store, permissions.c.fid == folder.fid)
                .order_by(permissions.c.member_id))
            return [PermissionEntry(r.member_id, r.member_name, r.rights) for r in rows]

        return await self.read("get_permissions", txn)

    async def modify_permissions(self, store: StoreId, fid: FolderId,
                                 changes: Sequence[tuple[int, str, int | None]], *,
                                 replace: bool = False) -> ChangeNumber:
        """RopModifyPermissions (MS-OXCPERM 2.2.2): add or update (member id, name,
        rights) entries; rights None removes the member. ``replace`` drops every other
        entry first (ModifyFlags ReplaceRows)."""
        for member, _name, rights in changes:
            if rights is not None and not 0 <= rights <= 0xFFFFFFFF:
                raise InvalidParameter(f"rights of member {member} out of range")

        def txn(conn: sa.Connection, events: list[Event]) -> ChangeNumber:
            cn = self.index.allocate_cns(conn, store)
            folder = self.index.folder(conn, store, self.fid_gc(fid))
            if replace:
                conn.execute(sa.delete(permissions).where(permissions.c.store_id == store,
                                                          permissions.c.fid == folder.fid))
            for member, name, rights in changes:
                conn.execute(sa.delete(permissions).where(
                    permissions.c.store_id == store, permissions.c.fid == folder.fid,
                    permissions.c.member_id == member))
                if rights is not None:
                    conn.execute(sa.insert(permissions).values(
                        store_id=store, fid=folder.fid, member_id=member, member_name=name,
                        rights=rights))
            self.index.update_folder(conn, store, folder.fid, cn=cn)
            self.index.touch_folder(conn, store, folder.fid, cn)
            events.append(self.event("modified", store, folder.parent, (fid_of(folder.fid),),
                                     cn, object="folder", what="permissions"))
            return ChangeNumber(cn)

        return await self.write("modify_permissions", txn)

    async def effective_rights(self, store: StoreId, fid: FolderId, user_id: UserId | None) -> int:
        """Rights of a user on a folder: the owner has all; others their entry, else
        the Default entry (Anonymous for None), else none."""
        def txn(conn: sa.Connection) -> int:
            meta: StoreMeta = self.meta(conn, store)
            folder = self.index.folder(conn, store, self.fid_gc(fid))
            if user_id is not None and user_id == meta.user_id:
                return RIGHTS_OWNER
            wanted = [MEMBER_ANONYMOUS] if user_id is None else [user_id, MEMBER_DEFAULT]
            rows = {r.member_id: r.rights for r in conn.execute(sa.select(permissions).where(
                permissions.c.store_id == store, permissions.c.fid == folder.fid,
                permissions.c.member_id.in_(wanted)))}
            for member in wanted:
                if member in rows:
                    return int(rows[member])
            return 0

        return await self.read("effective_rights", txn)

    # --- quotas ----------------------------------------------------------------------

    def _quota(self, warning: int | None, send: int | None, receive: int | None,
               used: int) -> QuotaStatus:
        cfg = self.config

        def pick(own: int | None, default_mb: int) -> int | None:
            value = own if own is not None else default_mb << 20
            return value or None

        return QuotaStatus(used, pick(warning, cfg.quota_warning_mb),
                           pick(send, cfg.quota_send_mb), pick(receive, cfg.quota_receive_mb))

    async def quota_status(self, store: StoreId) -> QuotaStatus:
        def txn(conn: sa.Connection) -> QuotaStatus:
            rec = self.index.store(conn, store)
            return self._quota(rec.quota_warning, rec.quota_send, rec.quota_receive,
                               rec.size_used)

        return await self.read("quota_status", txn)

    async def set_quota(self, store: StoreId, *, warning: int | None = None,
                        send: int | None = None, receive: int | None = None) -> QuotaStatus:
        """Per-mailbox quotas in bytes (None: the configured default; 0: no limit)."""
        for value in (warning, send, receive):
            if value is not None and value < 0:
                raise InvalidParameter("quotas are not negative")

        def txn(conn: sa.Connection, events: list[Event]) -> QuotaStatus:
            self.index.lock_store(conn, store)
            self.index.update_store(conn, store, quota_warning=warning, quota_send=send,
                                    quota_receive=receive)
            rec = self.index.store(conn, store)
            return self._quota(rec.quota_warning, rec.quota_send, rec.quota_receive,
                               rec.size_used)

        return await self.write("set_quota", txn)
