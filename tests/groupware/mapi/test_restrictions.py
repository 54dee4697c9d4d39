"""Restriction codec (MS-OXCDATA 2.12): layouts, count widths, depth limit, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.buffer import Reader
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType
from groupware.mapi.restrictions import (
    AndRestriction,
    BitmapRelOp,
    BitmaskRestriction,
    CommentRestriction,
    ContentRestriction,
    CountRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
    Restriction,
    SubObjectRestriction,
    decode_restriction,
    restriction_from_bytes,
    restriction_to_bytes,
)
from groupware.mapi.values import (
    EXTENDED_RULES,
    TaggedPropertyValue,
    WireContext,
    value_from_bytes,
    value_to_bytes,
)
from groupware.types import PropTag
from tests.groupware.mapi.strategies import restrictions

SUBJECT = PropTag(0x0037001F)
MESSAGE_FLAGS = PropTag(0x0E070003)


def test_content_restriction_layout() -> None:
    node = ContentRestriction(
        FuzzyLevelLow.SUBSTRING,
        FuzzyLevelHigh.IGNORECASE,
        SUBJECT,
        TaggedPropertyValue(SUBJECT, "ab"),
    )
    expected = (
        b"\x03"  # RestrictType: Content
        + b"\x01\x00"  # FuzzyLevelLow: FL_SUBSTRING
        + b"\x01\x00"  # FuzzyLevelHigh: FL_IGNORECASE
        + bytes.fromhex("1f003700")  # PropertyTag
        + bytes.fromhex("1f003700")  # TaggedValue.PropertyTag
        + b"a\x00b\x00\x00\x00"
    )
    assert restriction_to_bytes(node) == expected
    assert restriction_from_bytes(expected) == node


def test_and_count_is_16_bit_in_rops_and_32_bit_in_extended_rules() -> None:
    node = AndRestriction((ExistRestriction(SUBJECT), NotRestriction(ExistRestriction(SUBJECT))))
    exist = b"\x08" + bytes.fromhex("1f003700")
    assert restriction_to_bytes(node) == b"\x00\x02\x00" + exist + b"\x02" + exist
    assert restriction_to_bytes(node, EXTENDED_RULES) == (
        b"\x00\x02\x00\x00\x00" + exist + b"\x02" + exist
    )
    wide = restriction_to_bytes(node, EXTENDED_RULES)
    assert restriction_from_bytes(wide, EXTENDED_RULES) == node


def test_bitmask_property_comment_count_layouts() -> None:
    bm = BitmaskRestriction(BitmapRelOp.BMR_NEZ, MESSAGE_FLAGS, 0x1)
    assert restriction_to_bytes(bm) == b"\x06\x01" + bytes.fromhex("0300070e") + b"\x01\0\0\0"
    prop = PropertyRestriction(RelOp.EQ, MESSAGE_FLAGS, TaggedPropertyValue(MESSAGE_FLAGS, 4))
    assert restriction_to_bytes(prop) == (
        b"\x04\x04" + bytes.fromhex("0300070e") * 2 + b"\x04\0\0\0"
    )
    comment = CommentRestriction((), None)
    assert restriction_to_bytes(comment) == b"\x0a\x00\x00"
    count = CountRestriction(7, comment)
    assert restriction_to_bytes(count) == b"\x0b\x07\0\0\0" + b"\x0a\x00\x00"


def test_restriction_as_property_value() -> None:
    node = OrRestriction((ExistRestriction(SUBJECT),))
    data = value_to_bytes(PropType.RESTRICTION, node)
    assert value_from_bytes(data, PropType.RESTRICTION) == node


def test_depth_limit() -> None:
    node: Restriction = ExistRestriction(SUBJECT)
    for _ in range(40):
        node = NotRestriction(node)
    with pytest.raises(MapiFormatError, match="deeper"):
        restriction_to_bytes(node)
    data = b"\x02" * 40 + b"\x08" + bytes.fromhex("1f003700")
    with pytest.raises(MapiFormatError, match="deeper"):
        restriction_from_bytes(data)
    assert restriction_from_bytes(data, WireContext(max_depth=64)) is not None


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x0c",  # unknown RestrictType
        b"\x00\xff\xff",  # And with 65535 children and no bytes
        b"\x04\x07" + bytes.fromhex("1f003700"),  # invalid RelOp
        b"\x03\x03\x00\x00\x00",  # invalid FuzzyLevelLow
        b"\x0a\x00\x02",  # RestrictionPresent must be 0 or 1
        b"\x09\x0d\x00\x12\x0e",  # SubObject without its child
    ],
)
def test_malformed_restrictions(data: bytes) -> None:
    with pytest.raises(MapiFormatError):
        restriction_from_bytes(data)


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(MapiFormatError, match="trailing"):
        restriction_from_bytes(b"\x08" + bytes.fromhex("1f003700") + b"\x00")


@settings(max_examples=200, deadline=None)
@given(restrictions)
def test_round_trip_rop(node: Restriction) -> None:
    assert restriction_from_bytes(restriction_to_bytes(node)) == node


@settings(max_examples=100, deadline=None)
@given(restrictions)
def test_round_trip_extended_rules(node: Restriction) -> None:
    data = restriction_to_bytes(node, EXTENDED_RULES)
    assert restriction_from_bytes(data, EXTENDED_RULES) == node


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_raises_only_format_errors(data: bytes) -> None:
    try:
        node = decode_restriction(Reader(data))
    except MapiFormatError:
        return
    # Whatever decodes re-encodes to a stable form (bytes compared: NaN != NaN).
    once = restriction_to_bytes(node)
    assert restriction_to_bytes(restriction_from_bytes(once)) == once


def test_subobject_round_trip() -> None:
    node = SubObjectRestriction(PropTag(0x0E12000D), ExistRestriction(SUBJECT))
    assert restriction_to_bytes(node)[:5] == b"\x09" + bytes.fromhex("0d00120e")
    assert restriction_from_bytes(restriction_to_bytes(node)) == node
