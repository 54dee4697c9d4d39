"""Entry ids (MS-OXCDATA 2.2.4, 2.2.5): layouts, parse/build round trips, garbage."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.entryids import (
    ADDRESS_BOOK_UID,
    ONE_OFF_UID,
    STORE_WRAP_UID,
    AddressBookEntryId,
    DisplayType,
    FolderEntryId,
    MessageEntryId,
    OneOffEntryId,
    OneOffFlags,
    StoreEntryId,
    StoreObjectType,
    parse_entry_id,
)
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.ids import GLOBCNT_MAX

MAILBOX = uuid.UUID("c0ffee00-1234-4321-8888-0123456789ab")
DB = uuid.UUID("0d0e0a0d-beef-4caf-0000-000000000000")
DN = "/o=Example/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=alice"


def test_folder_entry_id_layout() -> None:
    eid = FolderEntryId(MAILBOX, StoreObjectType.PRIVATE_FOLDER, DB, 0x0102)
    raw = eid.to_bytes()
    assert len(raw) == 46
    assert raw[:4] == b"\x00\x00\x00\x00"
    assert raw[4:20] == MAILBOX.bytes_le
    assert raw[20:22] == b"\x01\x00"
    assert raw[22:38] == DB.bytes_le
    assert raw[38:44] == bytes.fromhex("000000000102")
    assert raw[44:] == b"\x00\x00"
    assert parse_entry_id(raw) == eid


def test_message_entry_id_layout() -> None:
    eid = MessageEntryId(MAILBOX, StoreObjectType.PRIVATE_MESSAGE, DB, 5, DB, 9)
    raw = eid.to_bytes()
    assert len(raw) == 70
    assert raw[20:22] == b"\x07\x00"
    assert raw[38:44] == bytes.fromhex("000000000005")
    assert raw[62:68] == bytes.fromhex("000000000009")
    assert parse_entry_id(raw) == eid
    with pytest.raises(MapiFormatError):
        FolderEntryId.from_bytes(raw[:46])  # message type in a folder id


def test_store_entry_id_layout() -> None:
    eid = StoreEntryId("mail", DN)
    raw = eid.to_bytes()
    assert raw[4:20] == STORE_WRAP_UID
    assert raw[22:36] == b"emsmdb.dll\x00\x00\x00\x00"
    assert raw[40:56] == bytes.fromhex("1B55FA20AA6611CD9BC800AA002FC45A")
    assert raw[56:60] == b"\x0c\x00\x00\x00"
    assert raw[60:] == b"mail\x00" + DN.encode() + b"\x00"
    assert parse_entry_id(raw) == eid
    public = StoreEntryId("mail", None)
    assert parse_entry_id(public.to_bytes()) == public
    assert public.to_bytes()[56:60] == b"\x06\x00\x00\x00"


def test_address_book_entry_id_layout() -> None:
    eid = AddressBookEntryId(DisplayType.MAILUSER, DN)
    raw = eid.to_bytes()
    assert raw[4:20] == ADDRESS_BOOK_UID
    assert raw[20:28] == b"\x01\x00\x00\x00\x00\x00\x00\x00"
    assert raw[28:] == DN.encode() + b"\x00"
    assert parse_entry_id(raw) == eid


def test_one_off_unicode_and_8bit() -> None:
    eid = OneOffEntryId("J\u00f6rg", "SMTP", "jorg@example.org")
    raw = eid.to_bytes()
    assert raw[4:20] == ONE_OFF_UID
    assert raw[20:24] == b"\x00\x00\x01\x80"  # version 0, NO_RICH_INFO | UNICODE
    assert raw[24:] == "J\u00f6rg\x00SMTP\x00jorg@example.org\x00".encode("utf-16-le")
    assert parse_entry_id(raw) == eid
    narrow = OneOffEntryId("J\u00f6rg", "SMTP", "jorg@example.org", OneOffFlags.NONE)
    assert narrow.to_bytes()[24:] == b"J\xf6rg\x00SMTP\x00jorg@example.org\x00"
    assert parse_entry_id(narrow.to_bytes()) == narrow
    with pytest.raises(MapiFormatError):
        OneOffEntryId("\u4e00", "SMTP", "x", OneOffFlags.NONE).to_bytes()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00" * 19,
        b"\x01\x00\x00\x00" + b"\x00" * 42,  # short-term flags
        b"\x00" * 4 + b"\x11" * 16 + b"\x02\x00" + b"\x00" * 24,  # unknown folder type
        b"\x00" * 4 + ADDRESS_BOOK_UID + b"\x02\x00\x00\x00" + b"\x00" * 5,  # version 2
        b"\x00" * 4 + ADDRESS_BOOK_UID + b"\x01\x00\x00\x00" + b"\x00" * 4 + b"/o=x",
        b"\x00" * 4 + ONE_OFF_UID + b"\x00\x00\x00\x80" + b"a\x00",  # truncated strings
        b"\x00" * 4 + b"\x22" * 16 + b"\x00" * 10,  # unknown provider and size
    ],
)
def test_malformed_entry_ids(data: bytes) -> None:
    with pytest.raises(MapiFormatError):
        parse_entry_id(data)


texts = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=30,
)
ascii_texts = st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=127), max_size=60)
globcnts = st.integers(0, GLOBCNT_MAX)
entry_ids = st.one_of(
    st.builds(
        FolderEntryId,
        st.uuids(),
        st.sampled_from([t for t in StoreObjectType if not t.is_message]),
        st.uuids(),
        globcnts,
    ),
    st.builds(
        MessageEntryId,
        st.uuids(),
        st.sampled_from([t for t in StoreObjectType if t.is_message]),
        st.uuids(),
        globcnts,
        st.uuids(),
        globcnts,
    ),
    st.builds(StoreEntryId, ascii_texts, st.none() | ascii_texts),
    st.builds(AddressBookEntryId, st.integers(0, (1 << 32) - 1), ascii_texts),
    st.builds(OneOffEntryId, texts, texts, texts, st.just(0x8001)),
)


@settings(max_examples=200, deadline=None)
@given(entry_ids)
def test_round_trip(eid: object) -> None:
    raw = eid.to_bytes()  # type: ignore[attr-defined]
    assert parse_entry_id(raw) == eid


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=100),
    st.sampled_from([b"", STORE_WRAP_UID, ADDRESS_BOOK_UID, ONE_OFF_UID]),
)
def test_garbage(data: bytes, uid: bytes) -> None:
    blob = (b"\x00" * 4 + uid + data) if uid else data
    try:
        eid = parse_entry_id(blob)
    except MapiFormatError:
        return
    assert parse_entry_id(eid.to_bytes()) == eid
