"""Property value codec: spec layouts, both count widths, round trips and garbage."""

from __future__ import annotations

import calendar
import datetime as dt
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import InvalidInput
from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType, make_tag
from groupware.mapi.values import (
    EXTENDED_RULES,
    ROP,
    FlaggedPropertyValue,
    RuleActions,
    StringType,
    TaggedPropertyValue,
    TypedPropertyValue,
    TypedString,
    ValueFlag,
    WireContext,
    datetime_to_filetime,
    decode_value,
    filetime_to_datetime,
    value_from_bytes,
    value_to_bytes,
)
from tests.groupware.mapi.strategies import VALUE_TYPES, tagged_values, values_of

PID_TAG_SUBJECT_W = 0x0037001F


def test_string_is_utf16le_with_terminator() -> None:
    # MS-OXCDATA 2.11.1: PtypString is UTF-16LE terminated by 0x0000.
    assert value_to_bytes(PropType.STRING, "Hi") == b"H\x00i\x00\x00\x00"
    assert value_to_bytes(PropType.STRING8, "Hi") == b"Hi\x00"


def test_binary_count_width_depends_on_context() -> None:
    # MS-OXCDATA 2.11.1.1: 16-bit byte counts in ROP buffers, 32-bit in extended rules.
    assert value_to_bytes(PropType.BINARY, b"\xab\xcd", ROP) == b"\x02\x00\xab\xcd"
    assert value_to_bytes(PropType.BINARY, b"\xab\xcd", EXTENDED_RULES) == (
        b"\x02\x00\x00\x00\xab\xcd"
    )


def test_multivalue_counts_are_32_bit_in_rops() -> None:
    data = value_to_bytes(PropType.MULTIPLE_BINARY, (b"\x01", b""), ROP)
    assert data == b"\x02\x00\x00\x00" + b"\x01\x00\x01" + b"\x00\x00"
    data = value_to_bytes(PropType.MULTIPLE_INTEGER16, (1, -1), ROP)
    assert data == b"\x02\x00\x00\x00\x01\x00\xff\xff"


def test_guid_is_mixed_endian() -> None:
    g = uuid.UUID("00020329-0000-0000-c000-000000000046")
    assert value_to_bytes(PropType.GUID, g) == bytes.fromhex(
        "29030200 0000 0000 c000 000000000046"
    )


def test_tagged_value_layout() -> None:
    w = Writer()
    TaggedPropertyValue(PID_TAG_SUBJECT_W, "A").encode(w)  # type: ignore[arg-type]
    assert w.getvalue() == bytes.fromhex("1f003700") + b"A\x00\x00\x00"


def test_typed_value_layout() -> None:
    w = Writer()
    TypedPropertyValue(PropType.INTEGER32, 5).encode(w)
    assert w.getvalue() == bytes.fromhex("0300") + bytes.fromhex("05000000")


def test_flagged_value_forms() -> None:
    w = Writer()
    FlaggedPropertyValue.present(PropType.BOOLEAN, True).encode(w)
    FlaggedPropertyValue(PropType.BOOLEAN, ValueFlag.ABSENT).encode(w)
    FlaggedPropertyValue.error(PropType.BOOLEAN, 0x8004010F).encode(w)
    assert w.getvalue() == b"\x00\x01" + b"\x01" + b"\x0a" + bytes.fromhex("0f010480")
    r = Reader(w.getvalue())
    decoded = [FlaggedPropertyValue.decode(r, PropType.BOOLEAN) for _ in range(3)]
    assert [d.flag for d in decoded] == [ValueFlag.PRESENT, ValueFlag.ABSENT, ValueFlag.ERROR]
    assert decoded[2].value == 0x8004010F
    assert r.at_end()


def test_typed_string_forms() -> None:
    cases = [
        (TypedString.best(None), b"\x00"),
        (TypedString.best(""), b"\x01"),
        (TypedString.best("ab"), b"\x03ab\x00"),
        (TypedString.best("\u20ac"), b"\x04\xac\x20\x00\x00"),
        (TypedString(StringType.STRING8, "x"), b"\x02x\x00"),
    ]
    for ts, wire in cases:
        w = Writer()
        ts.encode(w)
        assert w.getvalue() == wire
        assert TypedString.decode(Reader(wire)) == ts


def test_rule_actions_are_framed_with_struct_counts() -> None:
    actions = RuleActions((b"\x01\x02", b"\x03"))
    assert value_to_bytes(PropType.RULE_ACTION, actions) == (
        b"\x02\x00" + b"\x02\x00\x01\x02" + b"\x01\x00\x03"
    )
    assert value_from_bytes(
        value_to_bytes(PropType.RULE_ACTION, actions, EXTENDED_RULES),
        PropType.RULE_ACTION,
        EXTENDED_RULES,
    ) == actions


def test_filetime_conversion() -> None:
    when = dt.datetime(2024, 2, 29, 12, 30, tzinfo=dt.UTC)
    ft = datetime_to_filetime(when)
    unix_epoch_as_filetime = 116_444_736_000_000_000  # 1970-01-01 in 100 ns since 1601
    assert ft == unix_epoch_as_filetime + calendar.timegm(when.utctimetuple()) * 10_000_000
    assert filetime_to_datetime(ft) == when
    assert filetime_to_datetime((1 << 63) - 1).year == 9999


@pytest.mark.parametrize(
    ("ptype", "value"),
    [
        (PropType.INTEGER32, "1"),
        (PropType.INTEGER32, True),
        (PropType.INTEGER16, 1 << 16),
        (PropType.BOOLEAN, 1),
        (PropType.STRING, b"x"),
        (PropType.STRING, "a\x00b"),
        (PropType.STRING8, "\u20ac\u4e00"),
        (PropType.MULTIPLE_INTEGER32, 5),
        (PropType.OBJECT, None),
        (PropType.UNSPECIFIED, 1),
        (PropType.NULL, 0),
        (PropType.BINARY, b"x" * 70000),
    ],
)
def test_encoding_refuses_wrong_values(ptype: PropType, value: object) -> None:
    with pytest.raises(MapiFormatError):
        value_to_bytes(ptype, value)


def test_truncated_and_oversized_input_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        value_from_bytes(b"\x01", PropType.INTEGER32)
    with pytest.raises(MapiFormatError, match="cannot fit"):
        value_from_bytes(b"\x00\x01\x00\x00", PropType.MULTIPLE_INTEGER64)
    tight = WireContext(max_values=2)
    with pytest.raises(MapiFormatError, match="limit"):
        value_from_bytes(b"\x03\x00\x00\x00" + b"\x00" * 6, PropType.MULTIPLE_INTEGER16, tight)
    with pytest.raises(MapiFormatError, match="unterminated"):
        value_from_bytes(b"a\x00b", PropType.STRING)
    with pytest.raises(MapiFormatError, match="longer than"):
        value_from_bytes(b"a" * 50 + b"\x00", PropType.STRING8, WireContext(max_string=10))
    with pytest.raises(MapiFormatError):
        value_from_bytes(b"\x00\xd8\x00\x00", PropType.STRING)  # lone surrogate


def test_unknown_type_in_tag_is_refused() -> None:
    with pytest.raises(MapiFormatError, match="unknown property type"):
        TaggedPropertyValue.decode(Reader(bytes.fromhex("99003700")))


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VALUE_TYPES).flatmap(lambda t: st.tuples(st.just(t), values_of(t))))
def test_round_trip_every_type_rop(case: tuple[PropType, object]) -> None:
    ptype, value = case
    assert value_from_bytes(value_to_bytes(ptype, value, ROP), ptype, ROP) == value


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VALUE_TYPES).flatmap(lambda t: st.tuples(st.just(t), values_of(t))))
def test_round_trip_every_type_extended_rules(case: tuple[PropType, object]) -> None:
    ptype, value = case
    data = value_to_bytes(ptype, value, EXTENDED_RULES)
    assert value_from_bytes(data, ptype, EXTENDED_RULES) == value


@settings(max_examples=200, deadline=None)
@given(tagged_values())
def test_tagged_round_trip(tv: TaggedPropertyValue) -> None:
    w = Writer()
    tv.encode(w)
    r = Reader(w.getvalue())
    assert TaggedPropertyValue.decode(r) == tv
    assert r.at_end()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(VALUE_TYPES), st.binary(max_size=80))
def test_garbage_values_raise_only_format_errors(ptype: PropType, data: bytes) -> None:
    try:
        value = decode_value(Reader(data), ptype)
    except MapiFormatError:
        return
    once = value_to_bytes(ptype, value)
    assert value_to_bytes(ptype, value_from_bytes(once, ptype)) == once


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_garbage_tagged_values_raise_only_format_errors(data: bytes) -> None:
    r = Reader(data)
    try:
        tv = TaggedPropertyValue.decode(r)
    except MapiFormatError:
        return
    w = Writer()
    tv.encode(w)
    # The decoder consumed exactly the bytes the encoder writes for that value.
    assert w.getvalue() == data[: r.position] or tv.prop_type in (
        PropType.BOOLEAN,  # any non-zero byte decodes as True
        PropType.FLOATING32,  # a signalling NaN comes back quiet
        PropType.MULTIPLE_FLOATING32,
    )
    assert make_tag(tv.tag >> 16, tv.tag & 0xFFFF) == tv.tag
