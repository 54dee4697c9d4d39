"""Packing between the index's GLOBCNTs and the 64-bit FIDs/MIDs/CNs of the API.

Every object of a mailbox belongs to the mailbox's own replica, replica id 1
(MS-OXCSTOR 2.2.1.1.3: RopLogon returns ReplId 1 with the store's replica GUID), so
the index stores only the 48-bit global counter and packs it with
:func:`groupware.mapi.ids.make_id` at the API boundary.
"""

from __future__ import annotations

import uuid

from groupware.mapi.changes import Xid, change_key
from groupware.mapi.entryids import FolderEntryId, MessageEntryId, StoreObjectType
from groupware.mapi.ids import GLOBCNT_MAX, globcnt_to_bytes, make_id, split_id
from groupware.types import ChangeNumber, FolderId, MessageId
from storage.mapistore.errors import ObjectNotFound

REPLID = 1
"""The replica id of the mailbox's own objects."""


def fid_of(globcnt: int) -> FolderId:
    return FolderId(make_id(REPLID, globcnt))


def mid_of(globcnt: int) -> MessageId:
    return MessageId(make_id(REPLID, globcnt))


def packed_cn(cn: int) -> int:
    """PidTagChangeNumber: the CN packed like an id (MS-OXCFXICS 2.2.1.2.3)."""
    return make_id(REPLID, cn)


def globcnt(object_id: int, what: str = "object") -> int:
    """The GLOBCNT of a packed id of this mailbox; ObjectNotFound for any other."""
    if isinstance(object_id, bool) or not isinstance(object_id, int) \
            or not 0 <= object_id < (1 << 64):
        raise ObjectNotFound(f"{what} id {object_id!r} is not a 64-bit id")
    replid, counter = split_id(object_id)
    if replid != REPLID or not 0 < counter <= GLOBCNT_MAX:
        raise ObjectNotFound(f"{what} {object_id:#x} is not an object of this mailbox")
    return counter


def source_key(replica_guid: uuid.UUID, counter: int) -> bytes:
    """PidTagSourceKey (MS-OXCFXICS 2.2.1.2.5): replica GUID + 6-byte GLOBCNT."""
    return replica_guid.bytes_le + globcnt_to_bytes(counter)


def change_key_bytes(replica_guid: uuid.UUID, cn: int) -> bytes:
    return change_key(replica_guid, cn).to_bytes()


def change_xid(replica_guid: uuid.UUID, cn: int) -> Xid:
    return change_key(replica_guid, cn)


def folder_entry_id(mailbox_guid: uuid.UUID, replica_guid: uuid.UUID, fid_gc: int) -> bytes:
    """PidTagEntryId of a folder (MS-OXCDATA 2.2.4.1)."""
    return FolderEntryId(mailbox_guid, StoreObjectType.PRIVATE_FOLDER, replica_guid,
                         fid_gc).to_bytes()


def message_entry_id(mailbox_guid: uuid.UUID, replica_guid: uuid.UUID, fid_gc: int,
                     mid_gc: int) -> bytes:
    """PidTagEntryId of a message (MS-OXCDATA 2.2.4.2)."""
    return MessageEntryId(mailbox_guid, StoreObjectType.PRIVATE_MESSAGE, replica_guid, fid_gc,
                          replica_guid, mid_gc).to_bytes()


def as_change_number(cn: int) -> ChangeNumber:
    return ChangeNumber(cn)
