"""What the store's public API returns (ids packed, change numbers plain counters)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field

from groupware.types import ChangeNumber, FolderId, MessageId, StoreId, UserId
from storage.mapistore import tags
from storage.mapistore.ids import fid_of, mid_of
from storage.mapistore.index import FolderRecord, MessageRecord, StoreRecord
from storage.mapistore.model import MessageContent, Props
from storage.mapistore.propcodec import decode_props


@dataclass(frozen=True)
class StoreInfo:
    id: StoreId
    user_id: UserId | None
    mailbox_guid: uuid.UUID
    replica_guid: uuid.UUID
    """Replica GUID of replica id 1 (RopLogon ReplGuid, MS-OXCSTOR 2.2.1.1.3)."""
    username: str
    locale: str
    highest_cn: ChangeNumber
    size_used: int
    provisioned: bool

    @classmethod
    def of(cls, rec: StoreRecord) -> StoreInfo:
        return cls(rec.id, None if rec.user_id is None else UserId(rec.user_id),
                   rec.mailbox_guid, rec.replica_guid, rec.username, rec.locale,
                   ChangeNumber(rec.last_cn), rec.size_used, rec.provisioned)


@dataclass(frozen=True)
class FolderInfo:
    """A folder as the hierarchy table and IMAP LIST/STATUS need it."""

    store: StoreId
    fid: FolderId
    parent: FolderId | None
    name: str
    container_class: str
    role: str | None
    folder_type: int
    backend_uri: str
    uidvalidity: int
    uidnext: int
    cn: ChangeNumber
    """Change number of the folder's own last change (hierarchy sync)."""
    highest_cn: ChangeNumber
    """Newest change number of anything in the folder (IMAP HIGHESTMODSEQ)."""
    message_count: int
    unread_count: int
    associated_count: int
    deleted_count: int
    size: int
    subscribed: bool = True
    """IMAP subscription state (SUBSCRIBE/UNSUBSCRIBE); folders start subscribed."""

    @classmethod
    def of(cls, rec: FolderRecord) -> FolderInfo:
        return cls(rec.store, fid_of(rec.fid), None if rec.parent is None else fid_of(rec.parent),
                   rec.name, rec.container_class, rec.role, rec.folder_type, rec.backend_uri,
                   rec.uidvalidity, rec.uidnext, ChangeNumber(rec.cn),
                   ChangeNumber(rec.highest_cn), rec.message_count, rec.unread_count,
                   rec.associated_count, rec.deleted_count, rec.size,
                   not _unsubscribed(rec.props))


_UNSUBSCRIBED = frozenset({int(tags.IMAP_UNSUBSCRIBED)})


def _unsubscribed(props: bytes | None) -> bool:
    if not props:
        return False
    return bool(decode_props(props, _UNSUBSCRIBED).get(tags.IMAP_UNSUBSCRIBED))


@dataclass(frozen=True)
class MessageInfo:
    """A message's index entry: identity and sync state, no content."""

    store: StoreId
    mid: MessageId
    fid: FolderId
    uid: int
    cn: ChangeNumber
    created_cn: ChangeNumber
    read_cn: ChangeNumber
    read: bool
    associated: bool
    soft_deleted: bool
    message_class: str
    size: int

    @property
    def modseq(self) -> int:
        """IMAP MODSEQ (RFC 7162): newest change of content or flags."""
        return max(self.cn, self.read_cn)

    @classmethod
    def of(cls, rec: MessageRecord) -> MessageInfo:
        return cls(rec.store, mid_of(rec.mid), fid_of(rec.fid), rec.uid, ChangeNumber(rec.cn),
                   ChangeNumber(rec.created_cn), ChangeNumber(rec.read_cn), rec.is_read,
                   rec.associated, rec.soft_deleted, rec.message_class, rec.size)


@dataclass(frozen=True, slots=True)
class Transferred:
    """One message moved or copied: its MID and UID before and after."""

    old_mid: MessageId
    old_uid: int
    mid: MessageId
    uid: int
    cn: ChangeNumber


@dataclass
class Message:
    """A message with content: stored and computed properties, recipients, attachments.

    Blob-stored values are resolved, or :class:`~storage.mapistore.model.LargeValue`
    when bigger than the caller's ``inline_limit``.
    """

    info: MessageInfo
    content: MessageContent

    @property
    def props(self) -> Props:
        return self.content.props


class QuotaState(enum.Enum):
    OK = "ok"
    WARNING = "warning"
    SEND_PROHIBITED = "send_prohibited"
    RECEIVE_PROHIBITED = "receive_prohibited"


@dataclass(frozen=True)
class QuotaStatus:
    """Mailbox size against its limits (bytes; None = no limit)."""

    used: int
    warning: int | None
    send: int | None
    receive: int | None

    @property
    def state(self) -> QuotaState:
        if self.receive is not None and self.used >= self.receive:
            return QuotaState.RECEIVE_PROHIBITED
        if self.send is not None and self.used >= self.send:
            return QuotaState.SEND_PROHIBITED
        if self.warning is not None and self.used >= self.warning:
            return QuotaState.WARNING
        return QuotaState.OK


@dataclass(frozen=True)
class NamedProperty:
    """A named property (MS-OXCDATA 2.6.1): property set GUID plus a LID or a name."""

    guid: uuid.UUID
    lid: int | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if (self.lid is None) == (self.name is None):
            raise ValueError("a named property has either a LID or a name")

    @property
    def key(self) -> str:
        if self.lid is not None:
            return f"{self.guid}:L:{self.lid}"
        return f"{self.guid}:N:{self.name}"


@dataclass(frozen=True)
class PermissionEntry:
    """One ACL entry (MS-OXCPERM 2.2.4): member 0 = Default, -1 = Anonymous."""

    member_id: int
    member_name: str
    rights: int


@dataclass
class RepairReport:
    """What ``repair`` found (and fixed, when asked)."""

    problems: list[str] = field(default_factory=list)
    fixed: bool = False

    @property
    def clean(self) -> bool:
        return not self.problems
