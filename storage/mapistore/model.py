"""Value objects passed between the store, the index and the backends.

Property bags are dicts from :data:`~groupware.types.PropTag` to the Python forms of
:mod:`groupware.mapi.values` (int, float, bool, str, bytes, uuid.UUID, tuples for
multi-valued types, None for PtypNull). A large PtypBinary / PtypString value may be
a :class:`BlobValue` instead: its bytes live in the blob store. Backends receive and
return :class:`BlobValue` as is; the store resolves it for callers (or hands out a
:class:`LargeValue` when a caller asked for values up to a size only).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import parse_qsl, urlsplit

from groupware.errors import InvalidInput
from groupware.mapi.restrictions import Restriction
from groupware.mapi.sorting import SortOrder
from groupware.types import ChangeNumber, FolderId, MessageId, PropTag, StoreId
from storage.blobs import BlobRef

if TYPE_CHECKING:
    from groupware.mapi.values import PropValue


@dataclass(frozen=True)
class BlobValue:
    """A property value stored in the blob store.

    ``size`` is the size of the stored bytes: raw bytes for PtypBinary, UTF-8 for
    PtypString. The property type comes from the tag it is stored under.
    """

    ref: BlobRef
    size: int


@dataclass(frozen=True)
class LargeValue:
    """Placeholder the store returns instead of a value bigger than the caller's limit.

    MAPI clients then read it with a stream (RopOpenStream); see
    ``MapiStore.read_property_stream``.
    """

    size: int


if TYPE_CHECKING:
    StoredValue: TypeAlias = PropValue | BlobValue
    Value: TypeAlias = PropValue | BlobValue | LargeValue
else:
    StoredValue = Any
    Value = Any

Props: TypeAlias = dict[PropTag, "Value"]
"""A property bag. Backends only ever see and return :data:`StoredValue` values;
:class:`LargeValue` appears only in what the store hands its callers."""


@dataclass
class AttachmentContent:
    """One attachment: its properties, and the embedded message for
    PidTagAttachMethod = ATTACH_EMBEDDED_MSG (5).

    PidTagAttachNumber is assigned by the store (0, 1, 2 ... in order) when missing
    and is the attachment's identity within its message. The data of an
    ATTACH_BY_VALUE attachment is PidTagAttachDataBinary (usually a BlobValue).
    """

    props: Props = field(default_factory=dict)
    embedded: MessageContent | None = None


@dataclass
class MessageContent:
    """Everything a backend stores for one message.

    ``recipients`` are property bags whose PidTagRowid (0x30000003) the store assigns
    (0, 1, 2 ...) when missing. ``mime`` is the raw RFC 5322 original when the message
    has one (delivered or appended mail): byte-exact, kept in the blob store.
    Properties in :data:`storage.mapistore.tags.COMPUTED_MESSAGE_TAGS` never appear
    here: the store computes them from the index.
    """

    props: Props = field(default_factory=dict)
    recipients: list[Props] = field(default_factory=list)
    attachments: list[AttachmentContent] = field(default_factory=list)
    mime: BlobRef | None = None


@dataclass(frozen=True)
class BackendUri:
    """A backend location such as ``sql:``, ``maildir:///srv/mail/alice`` or
    ``vdir:///srv/pim/alice/calendar?layout=flat``.

    ``scheme`` selects the backend class, the rest is the backend's business:
    ``path`` is the URI path (``{user}`` and friends are already expanded when a
    folder's URI is recorded), ``params`` the query parameters.
    """

    raw: str
    scheme: str
    path: str
    params: Mapping[str, str]

    @classmethod
    def parse(cls, raw: str) -> BackendUri:
        if ":" not in raw:
            raise InvalidInput(f"backend URI {raw!r} has no scheme (e.g. sql:)")
        parts = urlsplit(raw)
        scheme = parts.scheme.lower()
        if not scheme.isidentifier():
            raise InvalidInput(f"backend URI {raw!r}: bad scheme {scheme!r}")
        return cls(raw, scheme, parts.path, dict(parse_qsl(parts.query)))

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True)
class FolderRef:
    """What a backend is told about a folder (the index owns all of it).

    ``key`` is whatever the backend returned from ``create_folder`` (a directory
    name, an empty string ...); ``uri`` is the folder's backend location.
    """

    store: StoreId
    fid: FolderId
    parent: FolderId | None
    name: str
    container_class: str
    role: str | None
    uri: BackendUri
    key: str


@dataclass(frozen=True)
class MessageRef:
    """What a backend is told about a message.

    ``key`` is what the backend returned when it stored the message (file name,
    object name ...; the sql backend uses ``""`` and the MID). ``uid`` is the IMAP
    UID in the current folder; ``read`` the owner's read state (the index is
    authoritative; backends that can show it, like maildir's ``S`` flag, mirror it).
    """

    mid: MessageId
    key: str
    uid: int
    associated: bool = False
    read: bool = False


@dataclass(frozen=True)
class WriteResult:
    """What a backend reports after storing a message.

    ``key`` locates the stored object from now on (it may change on every write).
    ``version`` is an opaque token that changes whenever the stored object changes
    behind the store's back (mtime+size, an ETag ...); ``scan_folder`` reports the
    same token so the store notices external edits. Backends without external
    edits return ``""``.
    """

    key: str
    version: str = ""


@dataclass(frozen=True)
class ScanEntry:
    """One object found by ``Backend.scan_folder``.

    ``read`` is the read state the backend shows (maildir ``S`` flag), or None when
    the backend keeps none.
    """

    key: str
    version: str = ""
    read: bool | None = None


class Capability(enum.Enum):
    """What a backend can do beyond the minimum; the conformance suite adapts to it."""

    ARBITRARY_PROPERTIES = "arbitrary_properties"
    """Every MAPI property (any tag, any type, named ones) round-trips unchanged."""
    RECIPIENTS = "recipients"
    """Recipient tables round-trip."""
    ATTACHMENTS = "attachments"
    """Attachments (by value and embedded messages) round-trip."""
    ASSOCIATED = "associated"
    """Folder-associated information (FAI) messages can be stored."""
    MESSAGES_WITHOUT_MIME = "messages_without_mime"
    """Messages created through MAPI (no RFC 5322 original) can be stored."""
    EXTERNAL_CHANGES = "external_changes"
    """Content may change behind the store's back; ``scan_folder`` finds it."""
    NATIVE_TABLES = "native_tables"
    """``query_table``/``count_rows`` are answered by native queries."""


@dataclass(frozen=True)
class TableQuery:
    """A contents table request (MS-OXCTABL): columns, restriction, sort and window.

    ``columns`` are the tags to return (absent properties are left out of a row).
    ``sort`` orders rows (ties keep creation order, so paging is stable);
    ``offset``/``limit`` select the window (position). ``associated`` selects the FAI
    table instead of the normal contents; ``soft_deleted`` the soft-deleted items
    (MS-OXCFOLD SHOW_SOFT_DELETES) instead of live ones.
    """

    columns: tuple[PropTag, ...]
    restriction: Restriction | None = None
    sort: tuple[SortOrder, ...] = ()
    offset: int = 0
    limit: int | None = None
    associated: bool = False
    soft_deleted: bool = False

    def __post_init__(self) -> None:
        if self.offset < 0:
            raise InvalidInput("table offset must not be negative")
        if self.limit is not None and self.limit < 0:
            raise InvalidInput("table limit must not be negative")


@dataclass(frozen=True)
class TableRow:
    """One contents-table row: the message and the requested columns it has."""

    mid: MessageId
    values: dict[PropTag, Value]


@dataclass(frozen=True)
class IndexedMessage:
    """What the index knows of a message, as backends see it in ``query_table``."""

    ref: MessageRef
    cn: ChangeNumber
    created_cn: ChangeNumber
    read_cn: ChangeNumber
    message_class: str
    size: int
    soft_deleted: bool = False
