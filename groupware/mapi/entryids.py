"""Entry ids (MS-OXCDATA 2.2.4 store objects, 2.2.5 address book): parse and build.

Clients hold entry ids as opaque PtypBinary values (PidTagEntryId, PidTagParentEntryId,
PidTagIpm*EntryId, recipients' PidTagEntryId ...) and give them back later; the server
has to recognise which kind it issued. All start with 4 Flags bytes (zero for the
long-term ids stored in properties) and a 16-byte ProviderUID naming who minted them:

* Folder / Message EntryID (2.2.4.1, 2.2.4.2): the ProviderUID is the mailbox GUID
  (PidTagStoreRecordKey); then the object type and LongTermID-like GID + Pad pairs.
* Store Object EntryID (2.2.4.3): wrapped by the emsmdb.dll provider
  (:data:`STORE_WRAP_UID`) with the inner provider UID for a private mailbox or public
  folders, then the server name and the mailbox's legacyExchangeDN.
* Address Book EntryID (2.2.5.2, "permanent"): :data:`ADDRESS_BOOK_UID`, a display
  type and the object's X500 DN.
* One-Off EntryID (2.2.5.1): :data:`ONE_OFF_UID`, flags, then display name, address
  type and address, in UTF-16 when the Unicode flag is set.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import GLOBCNT_MAX, globcnt_from_bytes, globcnt_to_bytes


def _uid(hexbytes: str) -> bytes:
    return bytes.fromhex(hexbytes)


STORE_WRAP_UID = _uid("38A1BB1005E5101AA1BB08002B2A56C2")
"""ProviderUID of a Store Object EntryID: the emsmdb.dll store wrapper (2.2.4.3)."""
PRIVATE_STORE_UID = _uid("1B55FA20AA6611CD9BC800AA002FC45A")
"""WrappedProvider UID of a mailbox store (2.2.4.3)."""
PUBLIC_STORE_UID = _uid("1C830210AA6611CD9BC800AA002FC45A")
"""WrappedProvider UID of the public folder store (2.2.4.3)."""
ADDRESS_BOOK_UID = _uid("DCA740C8C042101AB4B908002B2FE182")
"""ProviderUID of an Address Book EntryID (2.2.5.2)."""
ONE_OFF_UID = _uid("812B1FA4BEA310199D6E00DD010F5402")
"""ProviderUID of a One-Off EntryID, MAPI_ONE_OFF_UID (2.2.5.1)."""

STORE_DLL_NAME = b"emsmdb.dll".ljust(14, b"\x00")
WRAPPED_TYPE_PRIVATE = 0x0000000C
WRAPPED_TYPE_PUBLIC = 0x00000006

MAX_ENTRY_ID = 4096
"""Entry ids longer than this are refused before parsing (DNs are short)."""


class StoreObjectType(enum.IntEnum):
    """FolderType / MessageType of Folder and Message EntryIDs (2.2.4.1-2.2.4.2)."""

    PRIVATE_FOLDER = 0x0001  # eitLTPrivateFolder
    PUBLIC_FOLDER = 0x0003  # eitLTPublicFolder
    WACKY_FOLDER = 0x0005  # eitLTWackyFolder
    PRIVATE_MESSAGE = 0x0007  # eitLTPrivateMessage
    PUBLIC_MESSAGE = 0x0009  # eitLTPublicMessage
    WACKY_MESSAGE = 0x000B  # eitLTWackyMessage
    PUBLIC_FOLDER_BY_NAME = 0x000C  # eitLTPublicFolderByName

    @property
    def is_message(self) -> bool:
        return self in (
            StoreObjectType.PRIVATE_MESSAGE,
            StoreObjectType.PUBLIC_MESSAGE,
            StoreObjectType.WACKY_MESSAGE,
        )


class DisplayType(enum.IntEnum):
    """PidTagDisplayType values carried by Address Book EntryIDs (MS-OXOABK 2.2.3.11)."""

    MAILUSER = 0x00000000  # DT_MAILUSER
    DISTLIST = 0x00000001  # DT_DISTLIST
    FORUM = 0x00000002  # DT_FORUM
    AGENT = 0x00000003  # DT_AGENT
    ORGANIZATION = 0x00000004  # DT_ORGANIZATION
    PRIVATE_DISTLIST = 0x00000005  # DT_PRIVATE_DISTLIST
    REMOTE_MAILUSER = 0x00000006  # DT_REMOTE_MAILUSER
    CONTAINER = 0x00000100  # DT_CONTAINER
    TEMPLATE = 0x00000101  # DT_TEMPLATE
    ADDRESS_TEMPLATE = 0x00000102  # DT_ADDRESS_TEMPLATE
    SEARCH = 0x00000200  # DT_SEARCH


def _read_gid(r: Reader, what: str) -> tuple[uuid.UUID, int]:
    guid = r.guid(f"{what} DatabaseGuid")
    globcnt = globcnt_from_bytes(r.take(6, f"{what} GlobalCounter"))
    pad = r.take(2, f"{what} Pad")
    if pad != b"\x00\x00":
        raise MapiFormatError(f"{what} Pad must be zero")
    return guid, globcnt


def _write_gid(w: Writer, guid: uuid.UUID, globcnt: int) -> None:
    w.guid(guid)
    w.raw(globcnt_to_bytes(globcnt))
    w.raw(b"\x00\x00")


def _header(r: Reader, what: str) -> bytes:
    flags = r.take(4, f"{what} Flags")
    if flags != b"\x00\x00\x00\x00":
        raise MapiFormatError(f"{what} is not a long-term entry id (Flags {flags.hex()})")
    return r.take(16, f"{what} ProviderUID")


@dataclass(frozen=True)
class FolderEntryId:
    """Folder EntryID (MS-OXCDATA 2.2.4.1), 46 bytes."""

    provider_uid: uuid.UUID
    folder_type: StoreObjectType
    database_guid: uuid.UUID
    globcnt: int

    SIZE = 46

    def to_bytes(self) -> bytes:
        if self.folder_type.is_message:
            raise MapiFormatError(f"{self.folder_type.name} is not a folder type")
        if not 0 <= self.globcnt <= GLOBCNT_MAX:
            raise MapiFormatError("GlobalCounter outside 48 bits")
        w = Writer()
        w.raw(b"\x00" * 4)
        w.raw(self.provider_uid.bytes_le)
        w.u16(self.folder_type)
        _write_gid(w, self.database_guid, self.globcnt)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> FolderEntryId:
        r = Reader(data)
        uid = _header(r, "Folder EntryID")
        kind = _store_type(r.u16("FolderType"))
        if kind.is_message:
            raise MapiFormatError("a message entry id where a folder was expected")
        guid, globcnt = _read_gid(r, "folder")
        r.expect_end("Folder EntryID")
        return cls(uuid.UUID(bytes_le=uid), kind, guid, globcnt)


@dataclass(frozen=True)
class MessageEntryId:
    """Message EntryID (MS-OXCDATA 2.2.4.2), 70 bytes: folder GID, then message GID."""

    provider_uid: uuid.UUID
    message_type: StoreObjectType
    folder_database_guid: uuid.UUID
    folder_globcnt: int
    message_database_guid: uuid.UUID
    message_globcnt: int

    SIZE = 70

    def to_bytes(self) -> bytes:
        if not self.message_type.is_message:
            raise MapiFormatError(f"{self.message_type.name} is not a message type")
        for gc in (self.folder_globcnt, self.message_globcnt):
            if not 0 <= gc <= GLOBCNT_MAX:
                raise MapiFormatError("GlobalCounter outside 48 bits")
        w = Writer()
        w.raw(b"\x00" * 4)
        w.raw(self.provider_uid.bytes_le)
        w.u16(self.message_type)
        _write_gid(w, self.folder_database_guid, self.folder_globcnt)
        _write_gid(w, self.message_database_guid, self.message_globcnt)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> MessageEntryId:
        r = Reader(data)
        uid = _header(r, "Message EntryID")
        kind = _store_type(r.u16("MessageType"))
        if not kind.is_message:
            raise MapiFormatError("a folder entry id where a message was expected")
        fguid, fgc = _read_gid(r, "folder")
        mguid, mgc = _read_gid(r, "message")
        r.expect_end("Message EntryID")
        return cls(uuid.UUID(bytes_le=uid), kind, fguid, fgc, mguid, mgc)


def _store_type(raw: int) -> StoreObjectType:
    try:
        return StoreObjectType(raw)
    except ValueError:
        raise MapiFormatError(f"unknown store object type 0x{raw:04X}") from None


def _cstring8(r: Reader, what: str) -> str:
    raw = r.cstring8(what, MAX_ENTRY_ID)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise MapiFormatError(f"{what} is not ASCII") from None


def _ascii(text: str, what: str) -> bytes:
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise MapiFormatError(f"{what} must be ASCII") from None


@dataclass(frozen=True)
class StoreEntryId:
    """Store Object EntryID (MS-OXCDATA 2.2.4.3), the wrapped emsmdb.dll form.

    ``mailbox_dn`` is the mailbox's legacyExchangeDN for a private store and ``None``
    for the public folder store (whose entry id ends after the server name).
    """

    server_name: str
    mailbox_dn: str | None

    @property
    def is_public(self) -> bool:
        return self.mailbox_dn is None

    def to_bytes(self) -> bytes:
        w = Writer()
        w.raw(b"\x00" * 4)
        w.raw(STORE_WRAP_UID)
        w.u8(0)  # Version
        w.u8(0)  # Flag
        w.raw(STORE_DLL_NAME)
        w.u32(0)  # WrappedFlags
        if self.mailbox_dn is None:
            w.raw(PUBLIC_STORE_UID)
            w.u32(WRAPPED_TYPE_PUBLIC)
            w.cstring8(_ascii(self.server_name, "ServerShortname"), "ServerShortname")
        else:
            w.raw(PRIVATE_STORE_UID)
            w.u32(WRAPPED_TYPE_PRIVATE)
            w.cstring8(_ascii(self.server_name, "ServerShortname"), "ServerShortname")
            w.cstring8(_ascii(self.mailbox_dn, "MailboxDN"), "MailboxDN")
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> StoreEntryId:
        if len(data) > MAX_ENTRY_ID:
            raise MapiFormatError(f"store entry id longer than {MAX_ENTRY_ID} bytes")
        r = Reader(data)
        if _header(r, "Store EntryID") != STORE_WRAP_UID:
            raise MapiFormatError("not a wrapped store entry id")
        r.take(2, "Version and Flag")
        r.take(14, "DLLFileName")
        r.take(4, "WrappedFlags")
        inner = r.take(16, "WrappedProvider UID")
        wrapped_type = r.u32("WrappedType")
        server = _cstring8(r, "ServerShortname")
        if inner == PUBLIC_STORE_UID:
            dn = None
        elif inner == PRIVATE_STORE_UID:
            dn = _cstring8(r, "MailboxDN")
        else:
            raise MapiFormatError("unknown wrapped store provider")
        # Newer clients append a v2/v3 tail (SMTP address, flags) after the DN; the
        # server needs only the DN, so extra bytes are accepted and ignored here.
        if wrapped_type & 0xFF not in (WRAPPED_TYPE_PRIVATE, WRAPPED_TYPE_PUBLIC):
            raise MapiFormatError(f"unknown WrappedType 0x{wrapped_type:08X}")
        return cls(server, dn)


@dataclass(frozen=True)
class AddressBookEntryId:
    """Address Book EntryID (MS-OXCDATA 2.2.5.2): Version 1, display type, X500 DN."""

    display_type: int
    x500_dn: str

    VERSION = 1

    def to_bytes(self) -> bytes:
        w = Writer()
        w.raw(b"\x00" * 4)
        w.raw(ADDRESS_BOOK_UID)
        w.u32(self.VERSION)
        w.u32(self.display_type, "Type")
        w.cstring8(_ascii(self.x500_dn, "X500DN"), "X500DN")
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> AddressBookEntryId:
        if len(data) > MAX_ENTRY_ID:
            raise MapiFormatError(f"address book entry id longer than {MAX_ENTRY_ID} bytes")
        r = Reader(data)
        if _header(r, "Address Book EntryID") != ADDRESS_BOOK_UID:
            raise MapiFormatError("not an address book entry id")
        version = r.u32("Version")
        if version != cls.VERSION:
            raise MapiFormatError(f"unsupported address book entry id version {version}")
        display_type = r.u32("Type")
        dn = _cstring8(r, "X500DN")
        r.expect_end("Address Book EntryID")
        return cls(display_type, dn)


class OneOffFlags(enum.IntFlag):
    """The 16-bit flags word of a One-Off EntryID, read little-endian (2.2.5.1).

    Only the two MAPI documents are named; the encoder keeps any other bits (MIME
    format preferences) as it found them.
    """

    NONE = 0x0000
    NO_RICH_INFO = 0x0001  # MAPI_ONE_OFF_NO_RICH_INFO (M: send MIME, not TNEF)
    UNICODE = 0x8000  # MAPI_ONE_OFF_UNICODE (U: the strings are UTF-16LE)


@dataclass(frozen=True)
class OneOffEntryId:
    """One-Off EntryID (MS-OXCDATA 2.2.5.1): a recipient not in the directory."""

    display_name: str
    address_type: str
    email_address: str
    flags: int = OneOffFlags.UNICODE | OneOffFlags.NO_RICH_INFO

    @property
    def unicode(self) -> bool:
        return bool(self.flags & OneOffFlags.UNICODE)

    def to_bytes(self, string8_encoding: str = "cp1252") -> bytes:
        w = Writer()
        w.raw(b"\x00" * 4)
        w.raw(ONE_OFF_UID)
        w.u16(0)  # Version
        w.u16(self.flags, "one-off flags")
        for text, what in (
            (self.display_name, "DisplayName"),
            (self.address_type, "AddressType"),
            (self.email_address, "EmailAddress"),
        ):
            if self.unicode:
                w.cstring16(text, what)
            else:
                try:
                    raw = text.encode(string8_encoding)
                except UnicodeEncodeError:
                    raise MapiFormatError(f"{what} not representable in 8 bits") from None
                w.cstring8(raw, what)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, string8_encoding: str = "cp1252") -> OneOffEntryId:
        if len(data) > 3 * MAX_ENTRY_ID:
            raise MapiFormatError("one-off entry id too long")
        r = Reader(data)
        if _header(r, "One-Off EntryID") != ONE_OFF_UID:
            raise MapiFormatError("not a one-off entry id")
        version = r.u16("Version")
        if version != 0:
            raise MapiFormatError(f"unsupported one-off entry id version {version}")
        flags = r.u16("flags")
        texts: list[str] = []
        for what in ("DisplayName", "AddressType", "EmailAddress"):
            if flags & OneOffFlags.UNICODE:
                texts.append(r.cstring16(what, MAX_ENTRY_ID))
            else:
                raw = r.cstring8(what, MAX_ENTRY_ID)
                try:
                    texts.append(raw.decode(string8_encoding))
                except UnicodeDecodeError:
                    raise MapiFormatError(f"{what} is not valid {string8_encoding}") from None
        r.expect_end("One-Off EntryID")
        return cls(texts[0], texts[1], texts[2], flags)


EntryId = FolderEntryId | MessageEntryId | StoreEntryId | AddressBookEntryId | OneOffEntryId


def parse_entry_id(data: bytes) -> EntryId:
    """Recognise and parse any entry id this module knows; MapiFormatError otherwise."""
    if len(data) < 20:
        raise MapiFormatError(f"entry id of {len(data)} bytes is too short")
    uid = data[4:20]
    if uid == STORE_WRAP_UID:
        return StoreEntryId.from_bytes(data)
    if uid == ADDRESS_BOOK_UID:
        return AddressBookEntryId.from_bytes(data)
    if uid == ONE_OFF_UID:
        return OneOffEntryId.from_bytes(data)
    if len(data) == FolderEntryId.SIZE:
        return FolderEntryId.from_bytes(data)
    if len(data) == MessageEntryId.SIZE:
        return MessageEntryId.from_bytes(data)
    raise MapiFormatError("unrecognised entry id")
