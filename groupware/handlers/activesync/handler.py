"""ActiveSync business logic, protocol-neutral: devices, policy, folders, sync, mail.

The protocol layer (``protocols.activesync``) parses WBXML into the small request
values of this module and writes their results back as WBXML; everything that reads
or changes the mailbox, the directory or device state happens here.

Sync states are views of the store's change log (see :mod:`.state`): a SyncKey is
``{generation}counter``, its state lives in the database (the newest and the one
before, for retries), so a restart never forces a device to resync from scratch.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import email.utils
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge

from directory.model import Recipient, RecipientKind
from groupware.convert import mime_to_mapi
from groupware.errors import GroupwareError, InvalidInput, NotFound, PermissionDenied
from groupware.handlers.activesync.mapping import NameMap
from groupware.handlers.activesync.policy import policy_hash
from groupware.handlers.activesync.state import CollectionState, HierarchyState
from groupware.notifier import Event, store_channel
from groupware.types import FolderId, MessageId, PropTag, StoreId, UserId
from storage.activesync.mailbox import (
    Change,
    FetchedMessage,
    changes_page,
    count_changes,
    older_than,
    read_attachment,
    read_messages,
)
from storage.activesync.state import DeviceRecord, DeviceStateStore
from storage.mapistore import tags
from storage.mapistore.errors import ObjectNotFound, SyncStateTooOld
from storage.mapistore.ids import fid_of, globcnt, mid_of
from storage.mapistore.info import FolderInfo
from storage.mapistore.model import MessageContent
from storage.mapistore.special_folders import SpecialFolder

if TYPE_CHECKING:
    from groupware.server import GroupwareServer
    from storage.mapistore.store import MapiStore

logger = logging.getLogger(__name__)

_PARKED = Gauge("groupware_activesync_waiting_long_polls",
                "ActiveSync Pings and hanging Syncs waiting for changes")

__all__ = ["ActiveSyncHandler", "EasSession", "FetchedMessage"]

HIERARCHY = "hierarchy"
OOF_GUID = uuid.UUID("00020329-0000-0000-c000-000000000046")  # PS_PUBLIC_STRINGS

# MS-ASCMD 2.2.3.186.3 folder types.
TYPE_GENERIC, TYPE_INBOX, TYPE_DRAFTS, TYPE_DELETED, TYPE_SENT, TYPE_OUTBOX = 1, 2, 3, 4, 5, 6
TYPE_TASKS, TYPE_CALENDAR, TYPE_CONTACTS, TYPE_NOTES, TYPE_JOURNAL = 7, 8, 9, 10, 11
TYPE_USER_MAIL, TYPE_USER_CALENDAR, TYPE_USER_CONTACTS, TYPE_USER_TASKS = 12, 13, 14, 15
TYPE_USER_JOURNAL, TYPE_USER_NOTES = 16, 17

ROLE_TYPES = {
    SpecialFolder.INBOX: TYPE_INBOX, SpecialFolder.DRAFTS: TYPE_DRAFTS,
    SpecialFolder.DELETED: TYPE_DELETED, SpecialFolder.SENT: TYPE_SENT,
    SpecialFolder.OUTBOX: TYPE_OUTBOX, SpecialFolder.TASKS: TYPE_TASKS,
    SpecialFolder.CALENDAR: TYPE_CALENDAR, SpecialFolder.CONTACTS: TYPE_CONTACTS,
    SpecialFolder.NOTES: TYPE_NOTES, SpecialFolder.JOURNAL: TYPE_JOURNAL,
}
CLASS_TYPES = {
    "ipf.note": TYPE_USER_MAIL, "": TYPE_USER_MAIL, "ipf.appointment": TYPE_USER_CALENDAR,
    "ipf.contact": TYPE_USER_CONTACTS, "ipf.task": TYPE_USER_TASKS,
    "ipf.journal": TYPE_USER_JOURNAL, "ipf.stickynote": TYPE_USER_NOTES,
}
TYPE_CONTAINER = {
    TYPE_GENERIC: "IPF.Note", TYPE_USER_MAIL: "IPF.Note",
    TYPE_USER_CALENDAR: "IPF.Appointment", TYPE_USER_CONTACTS: "IPF.Contact",
    TYPE_USER_TASKS: "IPF.Task", TYPE_USER_JOURNAL: "IPF.Journal",
    TYPE_USER_NOTES: "IPF.StickyNote",
}
TYPE_CLASS = {
    TYPE_INBOX: "Email", TYPE_DRAFTS: "Email", TYPE_DELETED: "Email", TYPE_SENT: "Email",
    TYPE_OUTBOX: "Email", TYPE_USER_MAIL: "Email", TYPE_GENERIC: "Email",
    TYPE_TASKS: "Tasks", TYPE_USER_TASKS: "Tasks", TYPE_CALENDAR: "Calendar",
    TYPE_USER_CALENDAR: "Calendar", TYPE_CONTACTS: "Contacts", TYPE_USER_CONTACTS: "Contacts",
    TYPE_NOTES: "Notes", TYPE_USER_NOTES: "Notes", TYPE_JOURNAL: "Journal",
    TYPE_USER_JOURNAL: "Journal",
}
HIDDEN_ROLES = frozenset({SpecialFolder.CONVERSATION_HISTORY, SpecialFolder.SYNC_ISSUES,
                          SpecialFolder.CONFLICTS, SpecialFolder.LOCAL_FAILURES,
                          SpecialFolder.SERVER_FAILURES})

# Filter types (MS-ASCMD 2.2.3.69.2): days back, for email and calendar.
FILTER_DAYS = {0: None, 1: 1, 2: 3, 3: 7, 4: 14, 5: 31, 6: 93, 7: 186, 8: None}
CHUNK = 64
"""Messages read per store transaction while exporting."""


class InvalidSyncKey(GroupwareError):
    """The SyncKey is not one the server handed out (or its state is gone)."""


class HierarchyChanged(GroupwareError):
    """The collection is not in the folder hierarchy the device knows."""


# --- small values -----------------------------------------------------------------------


@dataclass(frozen=True)
class EasFolder:
    server_id: str
    parent_id: str
    name: str
    type: int
    fid: FolderId
    role: str | None
    container_class: str

    @property
    def klass(self) -> str:
        return TYPE_CLASS.get(self.type, "Email")


def folder_sid(fid: int) -> str:
    return str(globcnt(fid, "folder"))


def item_sid(fid: int, mid: int) -> str:
    return f"{globcnt(fid, 'folder')}:{globcnt(mid, 'message')}"


def parse_item_sid(server_id: str) -> tuple[FolderId | None, MessageId]:
    """``"12:345"`` -> (folder, message); a bare ``"345"`` has no folder."""
    head, sep, tail = server_id.strip().partition(":")
    try:
        if sep:
            return fid_of(int(head)), mid_of(int(tail))
        return None, mid_of(int(head))
    except ValueError:
        raise NotFound(f"{server_id!r} is not an item id") from None


def make_key(generation: str, counter: int) -> str:
    return f"{{{generation}}}{counter}"


def parse_key(key: str) -> tuple[str, int] | None:
    """``{uuid}N`` -> (uuid, N); anything else None (``"0"`` is handled by callers)."""
    key = key.strip()
    if not key.startswith("{") or "}" not in key:
        return None
    generation, _, counter = key[1:].partition("}")
    try:
        uuid.UUID(generation)
        n = int(counter)
    except ValueError:
        return None
    return (generation, n) if n > 0 else None


@dataclass
class ItemData:
    """What a client sends for one item: converter-model properties plus flags that are
    index state rather than properties."""

    props: dict[Any, Any] = field(default_factory=dict)
    read: bool | None = None
    recipients: list[dict[Any, Any]] | None = None
    mime: bytes | None = None
    attachments: list[dict[Any, Any]] | None = None
    """Attachment property bags (a contact's photo)."""


@dataclass
class ClientCommand:
    kind: str
    """add, change, delete, fetch"""
    server_id: str = ""
    client_id: str = ""
    data: ItemData | None = None


@dataclass
class CommandResult:
    kind: str
    status: int
    server_id: str = ""
    client_id: str = ""
    message: FetchedMessage | None = None


@dataclass
class OutItem:
    kind: str
    """add, change, delete, soft_delete"""
    server_id: str
    message: FetchedMessage | None = None
    read_only: bool = False


@dataclass
class CollectionRequest:
    sync_key: str
    collection_id: str
    get_changes: bool = True
    window_size: int = 100
    filter_type: int | None = None
    commands: list[ClientCommand] = field(default_factory=list)
    deletes_as_moves: bool = True
    server_wins: bool = True
    mime_limit: int | None = 0
    """Bytes of the MIME original to read per item (None: whole)."""
    klass: str | None = None
    options: dict[str, Any] | None = None


@dataclass
class CollectionResult:
    collection_id: str
    status: int
    sync_key: str = ""
    klass: str = "Email"
    responses: list[CommandResult] = field(default_factory=list)
    changes: list[OutItem] = field(default_factory=list)
    more: bool = False
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class FolderSyncResult:
    sync_key: str
    adds: list[EasFolder]
    updates: list[EasFolder]
    deletes: list[str]


# --- the handler --------------------------------------------------------------------------


class ActiveSyncHandler:
    """One per process: device state, mailboxes, and the long-polls waiting on them."""

    def __init__(self, server: GroupwareServer) -> None:
        self._server = server
        self.config = server.config.activesync
        self.clock = server.clock
        self.states = DeviceStateStore(server.get_database(), server.clock.time)
        self.notifier = server.get_notifier()
        self.directory = server.get_directory()
        self.policy_hash = policy_hash(self.config)
        self._stores: dict[int, tuple[StoreId, NameMap]] = {}
        self._waiters: dict[tuple[int, str], asyncio.Future[None]] = {}
        self.parked = 0
        """Long-polls waiting on the notifier right now (the /metrics gauge)."""
        _PARKED.set_function(lambda: self.parked)

    @property
    def store(self) -> MapiStore:
        return self._server.get_mapistore()

    async def session(self, user: Recipient, device_id: str, *, device_type: str,
                      user_agent: str, version: str, command: str) -> EasSession:
        if user.user_id is None:
            raise PermissionDenied(f"{user.address} has no mailbox")
        device = await self.states.touch_device(
            int(user.user_id), device_id, device_type=device_type, user_agent=user_agent,
            protocol_version=version, command=command)
        return EasSession(self, user, device, version)

    async def open_store(self, user: Recipient) -> tuple[StoreId, NameMap]:
        """The user's store (provisioned on first use) and its named-property map."""
        assert user.user_id is not None
        key = int(user.user_id)
        hit = self._stores.get(key)
        if hit is not None:
            return hit
        store = self.store
        info = await store.find_store(user_id=user.user_id)
        if info is None or not info.provisioned:
            guid = user.mailbox_guid or uuid.uuid4()
            login = (user.address or str(user.user_id)).split("@", 1)[0]
            info = await store.provision_mailbox(user.user_id, guid, "en", username=login)
        out = (info.id, NameMap(store, info.id))
        if len(self._stores) > 10000:
            self._stores.clear()
        self._stores[key] = out
        return out

    # --- long-polls -----------------------------------------------------------------

    def claim_waiter(self, user_id: int, device_id: str) -> asyncio.Future[None]:
        """A future that is set when a newer Ping/Sync of the same device arrives."""
        key = (user_id, device_id)
        old = self._waiters.get(key)
        if old is not None and not old.done():
            old.set_result(None)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key] = fut
        return fut

    def release_waiter(self, user_id: int, device_id: str, fut: asyncio.Future[None]) -> None:
        key = (user_id, device_id)
        if self._waiters.get(key) is fut:
            del self._waiters[key]

    def superseded(self, user_id: int, device_id: str) -> None:
        """A non-waiting command of the device also ends its pending long-poll."""
        old = self._waiters.get((user_id, device_id))
        if old is not None and not old.done():
            old.set_result(None)

    def waiting(self) -> int:
        return len(self._waiters)

    # --- admin ------------------------------------------------------------------------

    async def list_devices(self, user_id: int | None = None) -> list[DeviceRecord]:
        return await self.states.list_devices(user_id)

    async def request_wipe(self, device: DeviceRecord, *, account_only: bool) -> None:
        await self.states.update_device(
            device.ref, wipe_state="account_wipe" if account_only else "wipe",
            wipe_requested_at=self.clock.time(), wipe_acknowledged_at=None)

    async def cancel_wipe(self, device: DeviceRecord) -> None:
        await self.states.update_device(device.ref, wipe_state="none", wipe_requested_at=None)

    async def remove_device(self, device: DeviceRecord) -> None:
        await self.states.remove_device(device.ref)

    # --- out of office ------------------------------------------------------------------

    async def _oof_tag(self, user_id: int) -> tuple[StoreId, PropTag, FolderId]:
        user = await self.directory.get_user(UserId(user_id))
        if user is None:
            raise NotFound(f"no user {user_id}")
        sid, names = await self.open_store(user)
        from groupware.convert.model import NamedProp
        from groupware.mapi.proptypes import PropType

        tag = await names.tag(NamedProp(OOF_GUID, "x-groupware-oof", PropType.STRING),
                              create=True)
        assert tag is not None
        inbox = await self.store.folder_by_role(sid, SpecialFolder.INBOX)
        return sid, tag, inbox.fid

    async def save_oof(self, user_id: int, settings: dict[str, Any]) -> None:
        """Out-of-office settings live on the user's Inbox folder (one per user)."""
        sid, tag, fid = await self._oof_tag(user_id)
        await self.store.set_folder_properties(sid, fid, {tag: json.dumps(settings)})

    async def load_oof(self, user_id: int) -> dict[str, Any] | None:
        sid, tag, fid = await self._oof_tag(user_id)
        props = await self.store.get_folder_properties(sid, fid, [tag])
        raw = props.get(tag)
        if not isinstance(raw, str):
            return None
        try:
            value = json.loads(raw)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class EasSession:
    """One request of one device of one user."""

    def __init__(self, handler: ActiveSyncHandler, user: Recipient, device: DeviceRecord,
                 version: str) -> None:
        self.handler = handler
        self.user = user
        self.device = device
        self.version = version
        self.config = handler.config
        self._store_id: StoreId | None = None
        self._names: NameMap | None = None
        self._folders: list[EasFolder] | None = None

    @property
    def store(self) -> MapiStore:
        return self.handler.store

    @property
    def user_id(self) -> int:
        assert self.user.user_id is not None
        return int(self.user.user_id)

    async def store_id(self) -> StoreId:
        if self._store_id is None:
            self._store_id, self._names = await self.handler.open_store(self.user)
        return self._store_id

    async def names(self) -> NameMap:
        await self.store_id()
        assert self._names is not None
        return self._names

    # --- policy -----------------------------------------------------------------------

    def wipe_pending(self) -> str | None:
        """``wipe`` / ``account_wipe`` while a requested wipe is not acknowledged."""
        state = self.device.wipe_state
        if state in ("wipe", "wiping"):
            return "wipe"
        if state in ("account_wipe", "account_wiping"):
            return "account_wipe"
        return None

    def policy_status(self, sent_key: int | None) -> int:
        """0 when the request may proceed, else the EAS status: 140 a wipe is pending,
        142 not provisioned, 144 wrong key, 143 the policy changed."""
        if self.wipe_pending():
            return 140
        if not self.config.require_provisioning:
            return 0
        if self.device.policy_key == 0 or not sent_key:
            return 142
        if sent_key != self.device.policy_key:
            return 144
        if self.device.policy_hash != self.handler.policy_hash:
            return 143
        return 0

    async def provision_start(self, info: dict[str, str] | None) -> int:
        """Phase one: a temporary policy key the device must acknowledge."""
        key = secrets.randbelow(0x7FFFFFFE) + 1
        values: dict[str, Any] = {"pending_policy_key": key}
        if info:
            values["info"] = {**self.device.info, **info}
        await self.handler.states.update_device(self.device.ref, **values)
        logger.info("provision: device %s of %s got temporary policy key",
                    self.device.device_id, self.user.address)
        return key

    async def provision_ack(self, key: int, status: int) -> int | None:
        """Phase two: the device accepted (status 1) the temporary key; the final key,
        or None when the key does not match."""
        if not key or key != self.device.pending_policy_key:
            return None
        final = secrets.randbelow(0x7FFFFFFE) + 1
        await self.handler.states.update_device(
            self.device.ref, policy_key=final, pending_policy_key=0,
            policy_hash=self.handler.policy_hash)
        logger.info("provision: device %s of %s acknowledged the policy (status %d)",
                    self.device.device_id, self.user.address, status)
        return final

    async def wipe_sent(self) -> None:
        state = "account_wiping" if self.wipe_pending() == "account_wipe" else "wiping"
        await self.handler.states.update_device(self.device.ref, wipe_state=state)

    async def wipe_acknowledged(self, status: int) -> None:
        await self.handler.states.update_device(
            self.device.ref, wipe_state="wiped" if status == 1 else self.device.wipe_state,
            wipe_acknowledged_at=self.handler.clock.time(), policy_key=0)
        logger.warning("device %s of %s acknowledged the remote wipe (status %d)",
                       self.device.device_id, self.user.address, status)

    async def set_device_info(self, info: dict[str, str]) -> None:
        await self.handler.states.update_device(self.device.ref,
                                                info={**self.device.info, **info})

    # --- folders ----------------------------------------------------------------------

    async def folders(self, *, refresh: bool = False) -> list[EasFolder]:
        """Every folder a device sees: the IPM subtree, parents before children."""
        if self._folders is not None and not refresh:
            return self._folders
        sid = await self.store_id()
        store = self.store
        top = await store.folder_by_role(sid, SpecialFolder.IPM_SUBTREE)
        infos = await store.list_folders(sid, top.fid, recursive=True)
        out: list[EasFolder] = []
        hidden: set[int] = set()
        for info in infos:
            if info.role in HIDDEN_ROLES or (info.parent is not None and info.parent in hidden):
                hidden.add(info.fid)
                continue
            etype = self._type_of(info)
            if etype is None:
                hidden.add(info.fid)
                continue
            parent = "0" if info.parent == top.fid or info.parent is None \
                else folder_sid(info.parent)
            out.append(EasFolder(folder_sid(info.fid), parent, info.name, etype, info.fid,
                                 info.role, info.container_class))
        self._folders = out
        return out

    @staticmethod
    def _type_of(info: FolderInfo) -> int | None:
        if info.role is not None:
            try:
                role_type = ROLE_TYPES.get(SpecialFolder(info.role))
            except ValueError:
                role_type = None
            if role_type is not None:
                return role_type
        base = info.container_class.lower()
        for prefix, etype in CLASS_TYPES.items():
            if prefix and (base == prefix or base.startswith(prefix + ".")):
                return etype
        return TYPE_USER_MAIL if base == "" else None

    async def folder(self, server_id: str) -> EasFolder:
        for f in await self.folders():
            if f.server_id == server_id:
                return f
        raise NotFound(f"no folder {server_id!r}")

    async def folder_by_type(self, etype: int) -> EasFolder:
        for f in await self.folders():
            if f.type == etype:
                return f
        raise NotFound(f"no folder of type {etype}")

    async def _load_hierarchy(self, sync_key: str) -> tuple[HierarchyState, str, int]:
        """The state behind a FolderSync key: (state, generation, counter)."""
        if sync_key.strip() == "0":
            return HierarchyState(), str(uuid.uuid4()), 0
        parsed = parse_key(sync_key)
        if parsed is None:
            raise InvalidSyncKey(f"{sync_key!r} is not a FolderSync key")
        rows = await self.handler.states.load_states(self.device.ref, HIERARCHY)
        for row in rows:
            if (row.generation, row.counter) == parsed:
                return HierarchyState.from_bytes(row.data), row.generation, row.counter
        raise InvalidSyncKey(f"unknown FolderSync key {sync_key!r}")

    async def folder_sync(self, sync_key: str) -> FolderSyncResult:
        """MS-ASCMD 2.2.1.5: the folder changes since the key's state."""
        state, generation, counter = await self._load_hierarchy(sync_key)
        current = await self.folders(refresh=True)
        adds: list[EasFolder] = []
        updates: list[EasFolder] = []
        seen: set[str] = set()
        new_state = HierarchyState()
        for f in current:
            seen.add(f.server_id)
            new_state.folders[f.server_id] = (f.parent_id, f.name, f.type)
            known = state.folders.get(f.server_id)
            if known is None:
                adds.append(f)
            elif known != (f.parent_id, f.name, f.type):
                updates.append(f)
        deletes = [sid for sid in state.folders if sid not in seen]
        if counter and not adds and not updates and not deletes:
            return FolderSyncResult(make_key(generation, counter), [], [], [])
        await self.handler.states.save_state(self.device.ref, HIERARCHY, generation,
                                             counter + 1, new_state.to_bytes(),
                                             reset=counter == 0)
        if counter == 0:
            # A new folder hierarchy: the device's collections start over too.
            for collection in await self.handler.states.collections(self.device.ref):
                if collection != HIERARCHY:
                    await self.handler.states.drop_states(self.device.ref, collection)
        return FolderSyncResult(make_key(generation, counter + 1), adds, updates, deletes)

    async def _bump_hierarchy(self, sync_key: str, change: Any) -> str:
        """FolderCreate/Update/Delete: apply ``change`` to the key's state, store the next."""
        state, generation, counter = await self._load_hierarchy(sync_key)
        if counter == 0:
            raise InvalidSyncKey("FolderCreate/Update/Delete need a FolderSync key")
        change(state)
        await self.handler.states.save_state(self.device.ref, HIERARCHY, generation,
                                             counter + 1, state.to_bytes())
        return make_key(generation, counter + 1)

    async def folder_create(self, sync_key: str, parent_id: str, name: str,
                            etype: int) -> tuple[str, EasFolder]:
        await self._load_hierarchy(sync_key)
        sid = await self.store_id()
        if parent_id in ("", "0"):
            parent = (await self.store.folder_by_role(sid, SpecialFolder.IPM_SUBTREE)).fid
        else:
            parent = (await self.folder(parent_id)).fid
        container = TYPE_CONTAINER.get(etype)
        if container is None:
            raise InvalidInput(f"folder type {etype} cannot be created")
        info = await self.store.create_folder(sid, parent, name, container_class=container)
        folder = EasFolder(folder_sid(info.fid), parent_id or "0", name,
                           self._type_of(info) or TYPE_USER_MAIL, info.fid, None, container)

        def add(state: HierarchyState) -> None:
            state.folders[folder.server_id] = (folder.parent_id, folder.name, folder.type)

        return await self._bump_hierarchy(sync_key, add), folder

    async def folder_update(self, sync_key: str, server_id: str, parent_id: str,
                            name: str) -> str:
        await self._load_hierarchy(sync_key)
        folder = await self.folder(server_id)
        if folder.role is not None:
            raise PermissionDenied(f"special folder {folder.name!r} cannot be changed")
        sid = await self.store_id()
        if parent_id in ("", "0"):
            parent = (await self.store.folder_by_role(sid, SpecialFolder.IPM_SUBTREE)).fid
        else:
            parent = (await self.folder(parent_id)).fid
        await self.store.move_folder(sid, folder.fid, parent, name)

        def update(state: HierarchyState) -> None:
            state.folders[server_id] = (parent_id or "0", name, folder.type)

        return await self._bump_hierarchy(sync_key, update)

    async def folder_delete(self, sync_key: str, server_id: str) -> str:
        await self._load_hierarchy(sync_key)
        folder = await self.folder(server_id)
        if folder.role is not None:
            raise PermissionDenied(f"special folder {folder.name!r} cannot be deleted")
        sid = await self.store_id()
        await self.store.delete_folder(sid, folder.fid, messages=True, subfolders=True)
        self._folders = None
        gone = {server_id}

        def delete(state: HierarchyState) -> None:
            grew = True
            while grew:
                grew = False
                for key, (parent, _n, _t) in list(state.folders.items()):
                    if key in gone or parent in gone:
                        gone.add(key)
                        del state.folders[key]
                        grew = True

        return await self._bump_hierarchy(sync_key, delete)

    async def hierarchy_known(self) -> HierarchyState | None:
        rows = await self.handler.states.load_states(self.device.ref, HIERARCHY)
        return HierarchyState.from_bytes(rows[0].data) if rows else None

    # --- collection sync ----------------------------------------------------------------

    async def _load_collection(self, folder: EasFolder, sync_key: str
                               ) -> tuple[CollectionState, str, int, CollectionState | None]:
        """(state, generation, counter, the abandoned newer state when this is a retry)."""
        parsed = parse_key(sync_key)
        if parsed is None:
            raise InvalidSyncKey(f"{sync_key!r} is not a SyncKey")
        rows = await self.handler.states.load_states(self.device.ref, folder.server_id)
        for i, row in enumerate(rows):
            if (row.generation, row.counter) == parsed:
                newer = CollectionState.from_bytes(rows[0].data) if i > 0 else None
                return CollectionState.from_bytes(row.data), row.generation, row.counter, newer
        raise InvalidSyncKey(f"unknown SyncKey {sync_key!r} for collection {folder.server_id}")

    async def sync_collection(self, req: CollectionRequest, *,
                              deadline: float) -> CollectionResult:
        """MS-ASCMD 2.2.1.21 for one collection: client commands, then server changes."""
        try:
            folder = await self.folder(req.collection_id)
        except NotFound:
            return CollectionResult(req.collection_id, 12 if req.sync_key != "0" else 8)
        result = CollectionResult(req.collection_id, 1, klass=folder.klass)
        if req.sync_key.strip() == "0":
            state = CollectionState(klass=folder.klass,
                                    filter_type=req.filter_type or 0,
                                    options=req.options or {})
            generation = str(uuid.uuid4())
            await self.handler.states.save_state(self.device.ref, folder.server_id, generation,
                                                 1, state.to_bytes(), reset=True)
            result.sync_key = make_key(generation, 1)
            return result
        try:
            state, generation, counter, abandoned = await self._load_collection(
                folder, req.sync_key)
        except InvalidSyncKey as exc:
            logger.info("sync: %s", exc)
            result.status = 3
            result.sync_key = "0"
            return result
        if req.options is not None:
            state.options = req.options
        elif state.options:
            result.options = state.options
        if req.filter_type is not None:
            state.filter_type = req.filter_type
        window = max(1, min(req.window_size, self.config.max_window_size))
        retries = 0
        if abandoned is not None:
            retries = abandoned.retries + 1
            window = max(1, window >> retries)
            if retries > self.config.loop_retries and window == 1 and abandoned.first_sent:
                if abandoned.first_sent not in state.broken:
                    state.broken.append(abandoned.first_sent)
                    logger.warning("sync loop: device %s keeps failing on item %d of "
                                   "collection %s; skipping it", self.device.device_id,
                                   abandoned.first_sent, folder.server_id)
                retries = 0
            else:
                logger.info("sync: device %s resent SyncKey %s (retry %d, window %d)",
                            self.device.device_id, req.sync_key, retries, window)
        new_state = state.copy()
        new_state.retries = retries
        for command in req.commands:
            result.responses.append(await self._client_command(folder, new_state, command, req))
        changed = bool(req.commands)
        if req.get_changes:
            try:
                items, more = await self._export(folder, new_state, window, req, deadline)
            except SyncStateTooOld:
                result.status = 3
                result.sync_key = "0"
                return result
            result.changes = items
            result.more = more
            changed = changed or bool(items)
            if items:
                first = items[0].server_id.rpartition(":")[2]
                new_state.first_sent = int(first) if first.isdigit() else 0
        if not changed and abandoned is None and (new_state.cursor_cn, new_state.cursor_mid) \
                == (state.cursor_cn, state.cursor_mid) and not req.commands:
            # Nothing happened: the same key stays valid (MS-ASCMD 3.1.5.3).
            await self._maybe_save_options(folder, generation, counter, state, req)
            result.sync_key = req.sync_key
            return result
        await self.handler.states.save_state(self.device.ref, folder.server_id, generation,
                                             counter + 1, new_state.to_bytes())
        result.sync_key = make_key(generation, counter + 1)
        return result

    async def _maybe_save_options(self, folder: EasFolder, generation: str, counter: int,
                                  state: CollectionState, req: CollectionRequest) -> None:
        if req.options is not None or req.filter_type is not None:
            await self.handler.states.replace_state(self.device.ref, folder.server_id, counter,
                                                    state.to_bytes())

    async def has_changes(self, folder: EasFolder) -> bool:
        """Whether a Sync of this collection would bring anything (Ping, GetItemEstimate)."""
        rows = await self.handler.states.load_states(self.device.ref, folder.server_id)
        if not rows:
            return True
        state = CollectionState.from_bytes(rows[0].data)
        sid = await self.store_id()
        try:
            page = await changes_page(self.store, sid, folder.fid, cursor_cn=state.cursor_cn,
                                      cursor_gc=state.cursor_mid, limit=64)
        except SyncStateTooOld:
            return True
        for change in page.changes:
            if state.skip.get(change.gc, -1) >= change.modseq or change.gc in state.broken:
                continue
            if change.deleted and change.gc not in state.given:
                continue
            return True
        return page.more

    async def estimate(self, folder: EasFolder, sync_key: str) -> int:
        """GetItemEstimate: roughly how many changes the next Sync brings."""
        state, _g, _c, _a = await self._load_collection(folder, sync_key)
        sid = await self.store_id()
        return await count_changes(self.store, sid, folder.fid, max(0, state.cursor_cn - 1))

    def _cutoff(self, state: CollectionState) -> float | None:
        days = FILTER_DAYS.get(state.filter_type)
        if days is None or state.klass not in ("Email", "Calendar"):
            return None
        return self.handler.clock.time() - days * 86400.0

    async def _export(self, folder: EasFolder, state: CollectionState, window: int,
                      req: CollectionRequest, deadline: float) -> tuple[list[OutItem], bool]:
        """Up to ``window`` changes after the state's cursor; updates ``state``."""
        sid = await self.store_id()
        out: list[OutItem] = []
        cutoff = self._cutoff(state)
        before = CollectionState(state.cursor_cn, state.cursor_mid)
        pending: list[tuple[Change, str]] = []
        more = False
        page_size = max(window * 2, 64)
        exhausted = False
        while len(out) + len(pending) < window:
            page = await changes_page(self.store, sid, folder.fid, cursor_cn=state.cursor_cn,
                                      cursor_gc=state.cursor_mid, limit=page_size)
            for change in page.changes:
                gc = change.gc
                if state.done(change.modseq, gc):
                    continue
                if len(out) + len(pending) >= window:
                    more = True
                    break
                if time.monotonic() > deadline and (out or pending):
                    more = True
                    break
                kind = self._classify(state, before, change, gc, cutoff)
                state.cursor_cn, state.cursor_mid = change.modseq, gc
                if kind is not None:
                    pending.append((change, kind))
                if len(pending) >= CHUNK:
                    out.extend(await self._materialize(folder, pending, req))
                    pending = []
            else:
                if not page.more:
                    exhausted = True
                    if page.highest_cn > state.cursor_cn or state.cursor_mid >= 0:
                        state.cursor_cn, state.cursor_mid = max(page.highest_cn,
                                                                state.cursor_cn), -1
                    break
                continue
            break
        if pending:
            out.extend(await self._materialize(folder, pending, req))
        if cutoff is not None and len(out) < window:
            # Items that left the FilterType window since the last look: SoftDelete
            # (MS-ASCMD 2.2.3.165).
            since = state.last_cutoff or cutoff
            done_all = True
            for gc in await older_than(self.store, sid, folder.fid, cutoff, since=since,
                                       limit=10000):
                if gc not in state.given:
                    continue
                if len(out) >= window:
                    more, done_all = True, False
                    break
                state.given.discard(gc)
                out.append(OutItem("soft_delete", item_sid(folder.fid, mid_of(gc))))
            if done_all:
                state.last_cutoff = cutoff
        if not exhausted and not more:
            more = True
        state.skip = {m: s for m, s in state.skip.items() if s > state.cursor_cn
                      or (s == state.cursor_cn and state.cursor_mid >= 0)}
        return out, more

    def _classify(self, state: CollectionState, before: CollectionState, change: Change,
                  gc: int, cutoff: float | None) -> str | None:
        """What the client gets for ``change``: add, change, read (flags only), delete,
        or None; ``before`` is the cursor the export started from."""
        if gc in state.broken:
            return None
        if change.deleted:
            if gc in state.given:
                state.given.discard(gc)
                state.skip.pop(gc, None)
                return "delete"
            return None
        if state.skip.get(gc, -1) >= change.modseq:
            return None
        if gc in state.given:
            content_known = before.done(change.cn, gc) or state.skip.get(gc, -1) >= change.cn
            if content_known and state.klass == "Email":
                return "read"
            return "change"
        if cutoff is not None and change.created_at and change.created_at < cutoff:
            return None
        state.given.add(gc)
        return "add"

    async def _materialize(self, folder: EasFolder, pending: list[tuple[Change, str]],
                           req: CollectionRequest) -> list[OutItem]:
        sid = await self.store_id()
        wanted = [c.mid for c, k in pending if k not in ("delete", "soft_delete")]
        fetched = await read_messages(self.store, sid, [MessageId(m) for m in wanted],
                                      mime_limit=req.mime_limit,
                                      attachment_data=folder.klass == "Contacts"
                                      ) if wanted else []
        by_mid = dict(zip(wanted, fetched, strict=True))
        out: list[OutItem] = []
        for change, kind in pending:
            server_id = item_sid(folder.fid, change.mid)
            if kind in ("delete", "soft_delete"):
                out.append(OutItem(kind, server_id))
                continue
            msg = by_mid.get(change.mid)
            if msg is None:
                continue
            if kind == "read":
                out.append(OutItem("change", server_id, msg, read_only=True))
            else:
                out.append(OutItem(kind, server_id, msg))
        return out

    # --- client commands -----------------------------------------------------------------

    async def _client_command(self, folder: EasFolder, state: CollectionState,
                              command: ClientCommand, req: CollectionRequest) -> CommandResult:
        try:
            if command.kind == "add":
                return await self._client_add(folder, state, command)
            if command.kind == "change":
                return await self._client_change(folder, state, command, req)
            if command.kind == "delete":
                return await self._client_delete(folder, state, command, req)
            if command.kind == "fetch":
                _fid, mid = parse_item_sid(command.server_id)
                found = await read_messages(self.store, await self.store_id(), [mid],
                                            mime_limit=req.mime_limit)
                if found[0] is None or found[0].info.fid != folder.fid:
                    return CommandResult("fetch", 8, command.server_id)
                return CommandResult("fetch", 1, command.server_id, message=found[0])
        except (NotFound, ObjectNotFound):
            return CommandResult(command.kind, 8, command.server_id, command.client_id)
        except InvalidInput as exc:
            logger.info("sync %s in %s refused: %s", command.kind, folder.server_id, exc)
            return CommandResult(command.kind, 6, command.server_id, command.client_id)
        return CommandResult(command.kind, 4, command.server_id, command.client_id)

    async def _mark(self, state: CollectionState, mid: int) -> None:
        """The client has the current version of ``mid``: never echo it back."""
        info = await self.store.get_message_info(await self.store_id(), MessageId(mid))
        gc = globcnt(mid, "message")
        state.given.add(gc)
        state.skip[gc] = info.modseq

    async def _client_add(self, folder: EasFolder, state: CollectionState,
                          command: ClientCommand) -> CommandResult:
        states = self.handler.states
        if command.client_id:
            known = await states.find_client_id(self.device.ref, folder.server_id,
                                                command.client_id)
            if known:
                return CommandResult("add", 1, known, command.client_id)
        data = command.data or ItemData()
        if folder.klass == "Email" and folder.type != TYPE_DRAFTS:
            # MS-ASCMD 2.2.3.7.2: mail is added by the device only as drafts.
            return CommandResult("add", 6, "", command.client_id)
        content = await self.build_content(data)
        if folder.klass == "Email":
            flags = content.props.get(tags.MESSAGE_FLAGS)
            content.props[tags.MESSAGE_FLAGS] = (flags if isinstance(flags, int) else 0) | 0x8
        sid = await self.store_id()
        info = await self.store.create_message(sid, folder.fid, content,
                                               mime=data.mime, read=bool(data.read))
        server_id = item_sid(folder.fid, info.mid)
        await self._mark(state, info.mid)
        if command.client_id:
            await states.remember_client_id(self.device.ref, folder.server_id,
                                            command.client_id, server_id)
        return CommandResult("add", 1, server_id, command.client_id)

    async def build_content(self, data: ItemData) -> MessageContent:
        names = await self.names()
        from groupware.convert.model import Message as CMessage
        from groupware.convert.model import Recipient as CRecipient

        if data.mime is not None:
            msg = await asyncio.to_thread(mime_to_mapi, data.mime)
            msg.props.update(data.props)
        else:
            from groupware.convert.model import Attachment as CAttachment

            msg = CMessage(dict(data.props),
                           [CRecipient(dict(r)) for r in (data.recipients or [])],
                           [CAttachment(dict(a)) for a in (data.attachments or [])])
        return await names.to_content(msg)

    async def _client_change(self, folder: EasFolder, state: CollectionState,
                             command: ClientCommand, req: CollectionRequest) -> CommandResult:
        _fid, mid = parse_item_sid(command.server_id)
        sid = await self.store_id()
        info = await self.store.get_message_info(sid, mid)
        if info.fid != folder.fid:
            raise NotFound(f"{command.server_id} is not in {folder.server_id}")
        gc = globcnt(mid, "message")
        if req.server_wins and not state.done(info.modseq, gc) \
                and state.skip.get(gc, -1) < info.modseq:
            # Changed on the server since the client last saw it: the server wins and
            # the client gets the server's version with the next changes.
            logger.info("sync conflict on %s: server version kept", command.server_id)
            return CommandResult("change", 1, command.server_id)
        data = command.data or ItemData()
        if data.read is not None:
            await self.store.set_read(sid, [mid], data.read)
        if data.props or data.recipients is not None:
            names = await self.names()
            props = await names.to_props(data.props)
            if props:
                await self.store.set_properties(sid, mid, props)
        await self._mark(state, mid)
        return CommandResult("change", 1, command.server_id)

    async def _client_delete(self, folder: EasFolder, state: CollectionState,
                             command: ClientCommand, req: CollectionRequest) -> CommandResult:
        _fid, mid = parse_item_sid(command.server_id)
        sid = await self.store_id()
        info = await self.store.get_message_info(sid, mid)
        if info.fid != folder.fid:
            raise NotFound(f"{command.server_id} is not in {folder.server_id}")
        state.given.discard(globcnt(mid, "message"))
        if req.deletes_as_moves and folder.type != TYPE_DELETED and folder.klass == "Email":
            target = await self.folder_by_type(TYPE_DELETED)
            await self.store.move_messages(sid, [mid], target.fid)
        else:
            await self.store.delete_messages(sid, [mid], hard=True)
        return CommandResult("delete", 1, command.server_id)

    # --- single items ---------------------------------------------------------------------

    async def fetch(self, server_id: str, *, mime_limit: int | None = None,
                    folder_id: str | None = None) -> FetchedMessage:
        _fid, mid = parse_item_sid(server_id)
        found = await read_messages(self.store, await self.store_id(), [mid],
                                    mime_limit=mime_limit)
        msg = found[0]
        if msg is None:
            raise NotFound(f"no item {server_id}")
        if folder_id is not None and folder_sid(msg.info.fid) != folder_id:
            raise NotFound(f"item {server_id} is not in {folder_id}")
        return msg

    async def attachment(self, file_reference: str) -> tuple[dict[int, Any], bytes]:
        """``<folder>:<message>:<attach number>`` -> (properties, data)."""
        head, sep, num = file_reference.rpartition(":")
        if not sep or not num.isdigit():
            raise NotFound(f"{file_reference!r} is not a file reference")
        _fid, mid = parse_item_sid(head)
        return await read_attachment(self.store, await self.store_id(), mid, int(num))

    async def move_item(self, server_id: str, src_id: str, dst_id: str) -> str:
        """MoveItems: the item's new ServerId. Both collections' newest states learn of
        the move so neither echoes it back."""
        src = await self.folder(src_id)
        dst = await self.folder(dst_id)
        _fid, mid = parse_item_sid(server_id)
        sid = await self.store_id()
        info = await self.store.get_message_info(sid, mid)
        if info.fid != src.fid:
            raise NotFound(f"{server_id} is not in {src_id}")
        mapping = await self.store.move_messages(sid, [mid], dst.fid)
        new_mid = mapping[mid]
        await self._patch_newest(src, lambda s: s.given.discard(globcnt(mid, "message")))
        new_info = await self.store.get_message_info(sid, new_mid)

        def learn(state: CollectionState) -> None:
            gc = globcnt(new_mid, "message")
            state.given.add(gc)
            state.skip[gc] = new_info.modseq

        await self._patch_newest(dst, learn)
        return item_sid(dst.fid, new_mid)

    async def _patch_newest(self, folder: EasFolder, change: Any) -> None:
        rows = await self.handler.states.load_states(self.device.ref, folder.server_id)
        if not rows:
            return
        state = CollectionState.from_bytes(rows[0].data)
        change(state)
        await self.handler.states.replace_state(self.device.ref, folder.server_id,
                                                rows[0].counter, state.to_bytes())

    async def empty_folder(self, collection_id: str, *, subfolders: bool) -> None:
        folder = await self.folder(collection_id)
        sid = await self.store_id()
        mids = [m.mid async for m in self.store.iter_messages(sid, folder.fid)]
        for start in range(0, len(mids), 500):
            await self.store.delete_messages(sid, mids[start:start + 500], hard=True)
        if subfolders:
            for child in await self.store.list_folders(sid, folder.fid):
                await self.store.delete_folder(sid, child.fid, messages=True, subfolders=True)

    async def set_read(self, server_id: str, read: bool) -> None:
        _fid, mid = parse_item_sid(server_id)
        await self.store.set_read(await self.store_id(), [mid], read)

    async def message_model(self, msg: FetchedMessage) -> Any:
        """A fetched message in the converters' model (named properties by name)."""
        names = await self.names()
        return await names.to_message(msg.content)

    async def named_tag(self, name: Any) -> PropTag | None:
        return await (await self.names()).tag(name)

    # --- mail submission ------------------------------------------------------------------

    async def send_mail(self, mime: bytes, *, save_in_sent: bool, client_id: str = "",
                        collection: str = "compose") -> bool:
        """Submit a message the device composed; False when the ClientId was already sent.

        Recipients come from To/Cc/Bcc; Bcc is removed from what is transmitted. The
        queue delivers (local recipients through the delivery pipeline); the sender's
        copy goes to Sent Items, read.
        """
        states = self.handler.states
        if client_id and await states.find_client_id(self.device.ref, collection, client_id):
            logger.info("sendmail: ClientId %s already sent", client_id)
            return False
        parsed = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(
            mime, headersonly=True)
        addresses: list[str] = []
        for header in ("to", "cc", "bcc", "resent-to"):
            for _name, addr in email.utils.getaddresses(parsed.get_all(header) or []):
                if addr and "@" in addr and addr.lower() not in (a.lower() for a in addresses):
                    addresses.append(addr)
        if not addresses:
            raise InvalidInput("the message has no recipients")
        data = _strip_header(mime, b"bcc")
        data = _ensure_headers(data, self.user, self.handler.clock.time())
        sender = self.user.address or ""
        from groupware.handlers.delivery import EnvelopeRecipient

        queue = self.handler._server.get_queue()
        await queue.enqueue(sender, [EnvelopeRecipient(a) for a in addresses], data,
                            origin="submission", user_id=self.user_id)
        logger.info("sendmail: %s -> %d recipient(s), %d bytes", sender, len(addresses),
                    len(data))
        if save_in_sent:
            await self.save_copy(_ensure_headers(mime, self.user, self.handler.clock.time()),
                                 SpecialFolder.SENT, read=True)
        if client_id:
            await states.remember_client_id(self.device.ref, collection, client_id, "sent")
        return True

    async def save_copy(self, mime: bytes, role: SpecialFolder, *, read: bool) -> MessageId:
        sid = await self.store_id()
        folder = await self.store.folder_by_role(sid, role)
        content = await self.build_content(ItemData(mime=mime))
        info = await self.store.create_message(sid, folder.fid, content, mime=mime, read=read)
        return info.mid

    async def original_mime(self, server_id: str) -> tuple[FetchedMessage, bytes]:
        """The message a SmartReply/SmartForward refers to, with its MIME."""
        msg = await self.fetch(server_id, mime_limit=None)
        if msg.mime_head:
            return msg, msg.mime_head
        from groupware.convert import mapi_to_mime

        full = await read_messages(self.store, await self.store_id(), [msg.info.mid],
                                   mime_limit=None, attachment_data=True)
        assert full[0] is not None
        model = await self.message_model(full[0])
        return msg, await asyncio.to_thread(mapi_to_mime, model)

    async def full_message(self, server_id: str) -> Any:
        """The message with attachment data, in the converters' model."""
        _fid, mid = parse_item_sid(server_id)
        full = await read_messages(self.store, await self.store_id(), [mid], mime_limit=0,
                                   attachment_data=True)
        if full[0] is None:
            raise NotFound(f"no item {server_id}")
        return await self.message_model(full[0])

    # --- meetings ---------------------------------------------------------------------

    async def meeting_response(self, request_id: str, response: int) -> str:
        """MeetingResponse (MS-ASCMD 2.2.1.11): accept (1), tentative (2) or decline (3)
        a meeting request: the calendar item is created, updated or removed, the
        organizer gets an iTIP REPLY, the request moves to Deleted Items. Returns the
        calendar item's ServerId ("" when declined)."""
        from groupware.convert import _tags as ct
        from groupware.convert.ical import uid_from_goid
        from groupware.convert.model import Message as CMessage

        request = await self.full_message(request_id)
        props = request.props
        goid = props.get(ct.GLOBAL_OBJECT_ID)
        if not isinstance(goid, bytes) or ct.APPT_START_WHOLE not in props:
            raise InvalidInput(f"{request_id} is not a meeting request")
        status = {1: ct.RESP_ACCEPTED, 2: ct.RESP_TENTATIVE, 3: ct.RESP_DECLINED}[response]
        calendar = await self.folder_by_type(TYPE_CALENDAR)
        sid = await self.store_id()
        names = await self.names()
        goid_tag = await names.tag(ct.CLEAN_GLOBAL_OBJECT_ID) or await names.tag(
            ct.GLOBAL_OBJECT_ID)
        existing: MessageId | None = None
        if goid_tag is not None:
            clean = props.get(ct.CLEAN_GLOBAL_OBJECT_ID, goid)
            async for info in self.store.iter_messages(sid, calendar.fid):
                found = await self.store.get_properties(sid, info.mid, [goid_tag])
                if found.get(goid_tag) in (clean, goid):
                    existing = info.mid
                    break
        calendar_id = ""
        if status == ct.RESP_DECLINED:
            if existing is not None:
                await self.store.delete_messages(sid, [existing], hard=True)
        else:
            appt = CMessage({k: v for k, v in props.items()
                             if k not in (ct.MESSAGE_DELIVERY_TIME, ct.MESSAGE_FLAGS)},
                            list(request.recipients))
            appt.props[ct.MESSAGE_CLASS] = "IPM.Appointment"
            appt.props[ct.RESPONSE_STATUS] = status
            appt.props[ct.BUSY_STATUS] = 2 if status == ct.RESP_ACCEPTED else 1
            appt.props[ct.APPT_STATE_FLAGS] = ct.ASF_MEETING | ct.ASF_RECEIVED
            content = await names.to_content(appt)
            if existing is None:
                info = await self.store.create_message(sid, calendar.fid, content, read=True)
                existing = info.mid
            else:
                await self.store.save_message(sid, existing, content)
            calendar_id = item_sid(calendar.fid, existing)
        organizer = str(props.get(ct.SENT_REPRESENTING_SMTP_ADDRESS) or props.get(
            ct.SENDER_SMTP_ADDRESS) or props.get(ct.SENDER_EMAIL_ADDRESS) or "")
        if "@" in organizer:
            partstat = {ct.RESP_ACCEPTED: "ACCEPTED", ct.RESP_TENTATIVE: "TENTATIVE",
                        ct.RESP_DECLINED: "DECLINED"}[status]
            uid = uid_from_goid(goid)
            start = props.get(ct.APPT_START_WHOLE)
            reply = _itip_reply(self.user, organizer, uid, partstat, start=start,
                                subject=str(props.get(ct.SUBJECT) or ""),
                                sequence=int(props.get(ct.APPT_SEQUENCE) or 0),
                                now=self.handler.clock.time())
            await self.send_mail(reply, save_in_sent=False)
        try:
            deleted = await self.folder_by_type(TYPE_DELETED)
            _fid, mid = parse_item_sid(request_id)
            await self.store.move_messages(sid, [mid], deleted.fid)
        except (NotFound, ObjectNotFound):
            pass
        return calendar_id

    # --- directory ----------------------------------------------------------------------

    async def gal_search(self, query: str, limit: int) -> list[Recipient]:
        kinds = [RecipientKind.USER, RecipientKind.ROOM, RecipientKind.EQUIPMENT,
                 RecipientKind.GROUP, RecipientKind.CONTACT]
        return await self.handler.directory.anr(query, limit=min(limit,
                                                                 self.config.gal_max_results),
                                                kinds=kinds)

    async def photo(self, recipient: Recipient) -> bytes | None:
        if not recipient.has_photo:
            return None
        try:
            return await self.handler.directory.get_photo(recipient.id)
        except GroupwareError:
            return None

    async def free_busy(self, recipient: Recipient, start: int, end: int) -> str | None:
        """MergedFreeBusy (MS-ASCMD 2.2.3.105) of a local mailbox between two FILETIMEs,
        30 minutes a digit: 0 free, 1 tentative, 2 busy, 3 out of office, 4 no data.
        None for recipients without a mailbox here. Single appointments only
        (recurring series show their first occurrence)."""
        from groupware.convert import _tags as ct

        if recipient.user_id is None or not recipient.is_mailbox:
            return None
        slot = 30 * 60 * 10_000_000
        count = min(max(1, (end - start + slot - 1) // slot), 4 * 48 * 7)
        digits = [0] * count
        sid, names = await self.handler.open_store(recipient)
        tags_wanted = {"start": await names.tag(ct.APPT_START_WHOLE),
                       "end": await names.tag(ct.APPT_END_WHOLE),
                       "busy": await names.tag(ct.BUSY_STATUS)}
        if tags_wanted["start"] is None or tags_wanted["end"] is None:
            return "0" * count
        store = self.store
        calendar = await store.folder_by_role(sid, SpecialFolder.CALENDAR)
        mids = [m.mid async for m in store.iter_messages(sid, calendar.fid)]
        for first in range(0, len(mids), 200):
            for msg in await read_messages(store, sid, mids[first:first + 200], mime_limit=0):
                if msg is None:
                    continue
                p = msg.content.props
                a, b = p.get(tags_wanted["start"]), p.get(tags_wanted["end"])
                if not isinstance(a, int) or not isinstance(b, int) or b <= start or a >= end:
                    continue
                busy = p.get(tags_wanted["busy"]) if tags_wanted["busy"] else 2
                level = busy if isinstance(busy, int) and 0 <= busy <= 4 else 2
                last = min(count, (b - start - 1) // slot + 1)
                for i in range(max(0, (a - start) // slot), last):
                    digits[i] = max(digits[i], {0: 0, 1: 1, 2: 2, 3: 3, 4: 2}[level])
        return "".join(str(d) for d in digits)

    async def resolve(self, text: str, limit: int) -> list[Recipient]:
        text = text.strip()
        if "@" in text:
            found = await self.handler.directory.find_address(_bare_address(text))
            if found is not None:
                return [found]
        return await self.gal_search(_display_part(text), limit)

    async def search_mailbox(self, folder_ids: Sequence[str], words: str, *,
                             limit: int, klass: str = "Email",
                             received_after: float | None = None) -> list[FetchedMessage]:
        """Items whose subject, sender or text body contain ``words`` (case-insensitive),
        newest first, from the given folders (all mail folders when none)."""
        folders = [await self.folder(f) for f in folder_ids] if folder_ids else \
            [f for f in await self.folders() if f.klass == klass]
        sid = await self.store_id()
        needle = words.casefold().strip()
        hits: list[FetchedMessage] = []
        for folder in folders:
            mids = [m.mid async for m in self.store.iter_messages(sid, folder.fid)]
            for start in range(0, len(mids), 200):
                batch = await read_messages(self.store, sid, mids[start:start + 200],
                                            mime_limit=0)
                for msg in batch:
                    if msg is None:
                        continue
                    if received_after is not None:
                        when = msg.content.props.get(tags.MESSAGE_DELIVERY_TIME)
                        if not isinstance(when, int) or \
                                when / 10_000_000 - 11644473600 < received_after:
                            continue
                    if needle:
                        text = " ".join(str(msg.content.props.get(t) or "") for t in (
                            tags.SUBJECT, tags.SENDER_NAME, tags.SENDER_EMAIL_ADDRESS,
                            tags.DISPLAY_TO, tags.BODY)).casefold()
                        if needle not in text:
                            continue
                    hits.append(msg)
        def received(m: FetchedMessage) -> int:
            value = m.content.props.get(tags.MESSAGE_DELIVERY_TIME)
            return value if isinstance(value, int) else 0

        hits.sort(key=received, reverse=True)
        return hits[:limit]

    # --- Ping -----------------------------------------------------------------------------

    async def wait_for_changes(self, folders: list[EasFolder], heartbeat: float
                               ) -> tuple[int, list[str]]:
        """Ping: (1, []) when nothing changed within ``heartbeat`` seconds, (2, ids)
        when collections have changes, (7, []) when the hierarchy changed."""
        handler = self.handler
        sid = await self.store_id()
        by_fid = {int(f.fid): f for f in folders}
        changed: set[str] = set()
        woke = asyncio.get_running_loop().create_future()
        hierarchy = [False]

        def on_event(event: Event) -> None:
            data = event.data or {}
            if data.get("object") == "folder":
                if any(int(i) in by_fid for i in event.ids):
                    hierarchy[0] = True
                    if not woke.done():
                        woke.set_result(None)
                return
            folder = by_fid.get(int(event.folder or 0))
            if folder is not None:
                changed.add(folder.server_id)
                if not woke.done():
                    woke.set_result(None)

        superseded = handler.claim_waiter(self.user_id, self.device.device_id)
        sub = handler.notifier.subscribe(store_channel(sid), on_event)
        try:
            for folder in folders:
                if await self.has_changes(folder):
                    changed.add(folder.server_id)
            if changed:
                return 2, sorted(changed)
            handler.parked += 1
            try:
                await asyncio.wait([woke, superseded], timeout=heartbeat,
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                handler.parked -= 1
            if hierarchy[0]:
                return 7, []
            if changed:
                # Let the rest of the same burst (a bulk move) arrive.
                await asyncio.sleep(0)
                return 2, sorted(changed)
            return 1, []
        finally:
            sub.close()
            handler.release_waiter(self.user_id, self.device.device_id, superseded)
            if not woke.done():
                woke.cancel()


def _bare_address(text: str) -> str:
    _name, addr = email.utils.parseaddr(text)
    return addr or text


def _display_part(text: str) -> str:
    name, addr = email.utils.parseaddr(text)
    return name or addr or text


def _strip_header(mime: bytes, name: bytes) -> bytes:
    """Remove every ``name:`` header (with its continuation lines) from the header block."""
    m = re.search(rb"\r?\n\r?\n", mime)
    if m is None:
        return mime
    kept: list[bytes] = []
    skipping = False
    for line in mime[:m.start()].splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        skipping = line.lower().startswith(name + b":")
        if not skipping:
            kept.append(line)
    return b"".join(kept).rstrip(b"\r\n") + mime[m.start():]


def _ensure_headers(mime: bytes, user: Recipient, now: float) -> bytes:
    """Date, Message-ID and From when the device left them out (RFC 6409 8)."""
    end = mime.find(b"\r\n\r\n")
    head = (mime[:end] if end >= 0 else mime[:65536]).lower()
    extra = b""
    if b"\ndate:" not in b"\n" + head:
        extra += f"Date: {email.utils.formatdate(now)}\r\n".encode()
    if b"\nmessage-id:" not in b"\n" + head:
        domain = (user.address or "localhost").rpartition("@")[2]
        extra += f"Message-ID: <{secrets.token_hex(16)}@{domain}>\r\n".encode()
    if b"\nfrom:" not in b"\n" + head and user.address:
        extra += f"From: {email.utils.formataddr((user.display_name, user.address))}\r\n" \
            .encode()
    return extra + mime


def device_summary(device: DeviceRecord) -> dict[str, Any]:
    return {
        "user_id": device.user_id, "device_id": device.device_id,
        "device_type": device.device_type, "user_agent": device.user_agent,
        "protocol_version": device.protocol_version,
        "model": device.info.get("Model", ""), "friendly_name": device.info.get(
            "FriendlyName", ""), "os": device.info.get("OS", ""),
        "provisioned": device.policy_key != 0, "wipe_state": device.wipe_state,
        "first_seen": device.first_seen, "last_seen": device.last_seen,
        "last_command": device.last_command,
    }



def _itip_reply(user: Recipient, organizer: str, uid: str, partstat: str, *, start: object,
                subject: str, sequence: int, now: float) -> bytes:
    """An iMIP REPLY (RFC 6047) from ``user`` to the organizer."""
    import datetime as dt

    def stamp(when: dt.datetime) -> str:
        return when.strftime("%Y%m%dT%H%M%SZ")

    nowdt = dt.datetime.fromtimestamp(now, dt.UTC)
    lines = ["BEGIN:VCALENDAR", "PRODID:-//groupware//ActiveSync//EN", "VERSION:2.0",
             "METHOD:REPLY", "BEGIN:VEVENT", f"UID:{uid}", f"DTSTAMP:{stamp(nowdt)}",
             f"SEQUENCE:{sequence}"]
    if isinstance(start, int) and start > 0:
        when = dt.datetime(1601, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=start // 10)
        lines.append(f"DTSTART:{stamp(when)}")
    lines += [f"ORGANIZER:mailto:{organizer}",
              f"ATTENDEE;PARTSTAT={partstat}:mailto:{user.address}",
              "END:VEVENT", "END:VCALENDAR"]
    ical = "\r\n".join(lines) + "\r\n"
    word = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}[partstat]
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"] = email.utils.formataddr((user.display_name, user.address or ""))
    msg["To"] = organizer
    msg["Subject"] = f"{word}: {subject}"
    msg["Date"] = email.utils.formatdate(now)
    msg.set_content(f"{user.display_name} has {word.lower()} this meeting.\r\n")
    msg.add_alternative(ical, subtype="calendar", params={"method": "REPLY"})
    return msg.as_bytes(policy=email.policy.SMTP)
