"""PropertyName (MS-OXCDATA 2.6.1) and the NamedProperty value type."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.named import (
    PS_INTERNET_HEADERS,
    PS_PUBLIC_STRINGS,
    NamedProperty,
    PSETID_Appointment,
    decode_property_name,
    encode_property_name,
)


def encode(prop: NamedProperty | None) -> bytes:
    w = Writer()
    encode_property_name(w, prop)
    return w.getvalue()


def test_lid_layout() -> None:
    raw = encode(NamedProperty.by_lid(PSETID_Appointment, 0x8205))
    assert raw == b"\x00" + PSETID_Appointment.bytes_le + b"\x05\x82\x00\x00"
    # PSETID_Appointment {00062002-...} is stored little-endian: 02 20 06 00 ...
    assert raw[1:5] == b"\x02\x20\x06\x00"


def test_name_layout_counts_the_terminator() -> None:
    raw = encode(NamedProperty.by_name(PS_PUBLIC_STRINGS, "Keywords"))
    name = "Keywords".encode("utf-16-le") + b"\x00\x00"
    assert raw == b"\x01" + PS_PUBLIC_STRINGS.bytes_le + bytes([len(name)]) + name
    assert decode_property_name(Reader(raw)) == NamedProperty(PS_PUBLIC_STRINGS, name="Keywords")


def test_no_name_kind() -> None:
    raw = encode(None)
    assert raw[0] == 0xFF
    assert decode_property_name(Reader(raw)) is None


def test_value_type_rules() -> None:
    with pytest.raises(MapiFormatError):
        NamedProperty(PS_PUBLIC_STRINGS)
    with pytest.raises(MapiFormatError):
        NamedProperty(PS_PUBLIC_STRINGS, lid=1, name="x")
    with pytest.raises(MapiFormatError):
        NamedProperty(PS_PUBLIC_STRINGS, lid=1 << 32)
    with pytest.raises(MapiFormatError):
        encode(NamedProperty(PS_PUBLIC_STRINGS, name="x" * 200))
    # Internet header names compare case-insensitively; other names do not.
    assert NamedProperty(PS_INTERNET_HEADERS, name="X-Spam") == NamedProperty(
        PS_INTERNET_HEADERS, name="x-spam"
    )
    assert NamedProperty(PS_PUBLIC_STRINGS, name="A") != NamedProperty(PS_PUBLIC_STRINGS, name="a")
    assert {NamedProperty(PS_PUBLIC_STRINGS, lid=1): 1}[NamedProperty(PS_PUBLIC_STRINGS, lid=1)]


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02" + b"\x00" * 20,  # unknown Kind
        b"\x01" + b"\x00" * 16 + b"\x03abc",  # odd NameSize
        b"\x01" + b"\x00" * 16 + b"\x08",  # name shorter than NameSize
    ],
)
def test_malformed(data: bytes) -> None:
    with pytest.raises(MapiFormatError):
        decode_property_name(Reader(data))


names = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=60,
).filter(lambda s: len(s.encode("utf-16-le")) <= 253)
props = st.one_of(
    st.builds(NamedProperty.by_lid, st.uuids(), st.integers(0, (1 << 32) - 1)),
    st.builds(NamedProperty.by_name, st.uuids(), names),
)


@settings(max_examples=200, deadline=None)
@given(props)
def test_round_trip(prop: NamedProperty) -> None:
    r = Reader(encode(prop))
    assert decode_property_name(r) == prop
    assert r.at_end()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_garbage(data: bytes) -> None:
    try:
        prop = decode_property_name(Reader(data))
    except MapiFormatError:
        return
    if prop is not None:
        assert decode_property_name(Reader(encode(prop))) == prop
    else:
        assert data[0] == 0xFF


def test_uuid_constant_spelling() -> None:
    assert uuid.UUID("{00020329-0000-0000-C000-000000000046}") == PS_PUBLIC_STRINGS
