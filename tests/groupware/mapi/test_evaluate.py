"""Restriction evaluation over rows (the naive table's filter)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.evaluate import (
    Evaluator,
    UnsupportedRestriction,
    compare_values,
    evaluate,
    lookup,
    value_size,
)
from groupware.mapi.proptypes import PropType, make_tag
from groupware.mapi.restrictions import (
    AndRestriction,
    BitmapRelOp,
    BitmaskRestriction,
    CommentRestriction,
    ComparePropertiesRestriction,
    ContentRestriction,
    CountRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
    SizeRestriction,
    SubObjectRestriction,
)
from groupware.mapi.values import TaggedPropertyValue

SUBJECT = make_tag(0x0037, PropType.STRING)
SUBJECT_A = make_tag(0x0037, PropType.STRING8)
FLAGS = make_tag(0x0E07, PropType.INTEGER32)
SIZE = make_tag(0x0E08, PropType.INTEGER32)
KEYWORDS = make_tag(0x8001, PropType.MULTIPLE_STRING)
KEYWORD = make_tag(0x8001, PropType.STRING)
RECIPIENTS = make_tag(0x0E12, PropType.OBJECT)
EMAIL = make_tag(0x3003, PropType.STRING)

ROW = {SUBJECT: "Re: Caf\u00e9 Meeting", FLAGS: 0x0001, SIZE: 2048, KEYWORDS: ("red", "Blue")}


def content(low: FuzzyLevelLow, high: FuzzyLevelHigh, text: str) -> ContentRestriction:
    return ContentRestriction(low, high, SUBJECT, TaggedPropertyValue(SUBJECT, text))


def prop(relop: RelOp, tag: int, value: object) -> PropertyRestriction:
    return PropertyRestriction(relop, tag, TaggedPropertyValue(tag, value))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high", "needle", "expected"),
    [
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.NONE, "Caf\u00e9", True),
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.NONE, "caf\u00e9", False),
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE, "caf\u00e9 MEETING", True),
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE, "cafe", False),
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORENONSPACE, "Cafe", True),
        (FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.LOOSE, "cafe meeting", True),
        (FuzzyLevelLow.PREFIX, FuzzyLevelHigh.IGNORECASE, "re:", True),
        (FuzzyLevelLow.PREFIX, FuzzyLevelHigh.IGNORECASE, "meeting", False),
        (FuzzyLevelLow.FULLSTRING, FuzzyLevelHigh.IGNORECASE, "re: caf\u00e9 meeting", True),
        (FuzzyLevelLow.FULLSTRING, FuzzyLevelHigh.IGNORECASE, "re: caf\u00e9", False),
    ],
)
def test_content_fuzzy_levels(
    low: FuzzyLevelLow, high: FuzzyLevelHigh, needle: str, expected: bool
) -> None:
    assert evaluate(content(low, high, needle), ROW) is expected


def test_content_on_binary_and_multivalue() -> None:
    blob = make_tag(0x0FFF, PropType.BINARY)
    node = ContentRestriction(
        FuzzyLevelLow.PREFIX, FuzzyLevelHigh.IGNORECASE, blob, TaggedPropertyValue(blob, b"\x01")
    )
    assert evaluate(node, {blob: b"\x01\x02"})
    assert not evaluate(node, {blob: b"\x02\x01"})
    mv = ContentRestriction(
        FuzzyLevelLow.FULLSTRING, FuzzyLevelHigh.IGNORECASE, KEYWORDS,
        TaggedPropertyValue(KEYWORD, "blue"),
    )
    assert evaluate(mv, ROW)


def test_property_relops_and_string8_alias() -> None:
    assert evaluate(prop(RelOp.EQ, FLAGS, 1), ROW)
    assert evaluate(prop(RelOp.GE, SIZE, 2048), ROW)
    assert not evaluate(prop(RelOp.GT, SIZE, 2048), ROW)
    assert evaluate(prop(RelOp.LT, SIZE, 4096), ROW)
    assert evaluate(prop(RelOp.NE, FLAGS, 2), ROW)
    # String comparison in property restrictions is case-insensitive, any string width.
    assert evaluate(prop(RelOp.EQ, SUBJECT_A, "re: caf\u00c9 meeting"), ROW)
    # Absent properties and mismatched kinds are false, NE included.
    assert not evaluate(prop(RelOp.NE, make_tag(0x1000, PropType.STRING), "x"), ROW)
    assert not evaluate(prop(RelOp.NE, FLAGS, "1"), {FLAGS: 1})
    # A multi-valued property matches when any value does.
    assert evaluate(prop(RelOp.EQ, KEYWORDS, "RED"), ROW)


def test_unsupported_relops() -> None:
    with pytest.raises(UnsupportedRestriction):
        evaluate(prop(RelOp.RE, SUBJECT, ".*"), ROW)
    with pytest.raises(UnsupportedRestriction):
        evaluate(prop(RelOp.MEMBER_OF_DL, SUBJECT, "x"), ROW)
    member = prop(RelOp.MEMBER_OF_DL, SUBJECT, "list")
    assert evaluate(member, ROW, member_of=lambda value, dl: dl == "list")


def test_logic_bitmask_size_exist_compare() -> None:
    assert evaluate(BitmaskRestriction(BitmapRelOp.BMR_NEZ, FLAGS, 0x1), ROW)
    assert evaluate(BitmaskRestriction(BitmapRelOp.BMR_EQZ, FLAGS, 0x2), ROW)
    assert not evaluate(BitmaskRestriction(BitmapRelOp.BMR_EQZ, EMAIL, 0x2), ROW)
    assert evaluate(SizeRestriction(RelOp.EQ, SUBJECT, len(ROW[SUBJECT]) * 2 + 2), ROW)  # type: ignore[arg-type]
    assert evaluate(SizeRestriction(RelOp.EQ, FLAGS, 4), ROW)
    assert evaluate(SizeRestriction(RelOp.GT, SUBJECT, 4), ROW)
    assert evaluate(ExistRestriction(SUBJECT_A), ROW)
    assert evaluate(ComparePropertiesRestriction(RelOp.LT, FLAGS, SIZE), ROW)
    assert not evaluate(ComparePropertiesRestriction(RelOp.EQ, FLAGS, SUBJECT), ROW)
    yes, no = ExistRestriction(FLAGS), ExistRestriction(EMAIL)
    assert evaluate(AndRestriction(()), ROW)
    assert not evaluate(OrRestriction(()), ROW)
    assert evaluate(OrRestriction((no, yes)), ROW)
    assert not evaluate(AndRestriction((yes, no)), ROW)
    assert evaluate(NotRestriction(no), ROW)
    assert evaluate(CommentRestriction((), None), ROW)
    assert not evaluate(CommentRestriction((), no), ROW)


def test_subobject_restriction_uses_recipient_rows() -> None:
    node = SubObjectRestriction(RECIPIENTS, prop(RelOp.EQ, EMAIL, "bob@example.org"))
    recips = {RECIPIENTS: [{EMAIL: "alice@example.org"}, {EMAIL: "BOB@example.org"}]}
    assert evaluate(node, ROW, subobjects=lambda tag: recips.get(tag, []))
    assert not evaluate(node, ROW, subobjects=lambda tag: [])
    assert not evaluate(node, ROW)


def test_count_restriction_admits_only_count_rows() -> None:
    ev = Evaluator(CountRestriction(2, ExistRestriction(FLAGS)))
    rows = [{FLAGS: i} for i in range(5)] + [{SIZE: 1}]
    assert sum(ev.matches(r) for r in rows) == 2


def test_compare_values_total_on_same_kind() -> None:
    assert compare_values("a", "B") == -1
    assert compare_values("a", "A") == 0
    assert compare_values("a", "A", ignore_case=False) == 1
    assert compare_values(1, "1") is None
    assert compare_values(float("nan"), 1.0) is None
    assert compare_values((1, 2), (1, 3)) == -1
    assert compare_values((1, 2), (1,)) == 1
    assert value_size(("ab", "c")) == 6 + 4
    assert value_size(7, PropType.INTEGER64) == 8
    assert value_size((1, 2), PropType.MULTIPLE_INTEGER16) == 4
    assert value_size("ab", PropType.STRING8) == 3


def test_lookup_ignores_mvi_flag() -> None:
    assert lookup(ROW, KEYWORDS | 0x2000) == ("red", "Blue")


@settings(max_examples=200, deadline=None)
@given(st.integers(-(1 << 31), (1 << 31) - 1), st.integers(-(1 << 31), (1 << 31) - 1))
def test_relops_agree_with_python(a: int, b: int) -> None:
    row = {FLAGS: a}
    assert evaluate(prop(RelOp.LT, FLAGS, b), row) is (a < b)
    assert evaluate(prop(RelOp.LE, FLAGS, b), row) is (a <= b)
    assert evaluate(prop(RelOp.GT, FLAGS, b), row) is (a > b)
    assert evaluate(prop(RelOp.GE, FLAGS, b), row) is (a >= b)
    assert evaluate(prop(RelOp.EQ, FLAGS, b), row) is (a == b)
    assert evaluate(prop(RelOp.NE, FLAGS, b), row) is (a != b)
    assert evaluate(NotRestriction(prop(RelOp.LT, FLAGS, b)), row) is not (a < b)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=20), st.text(max_size=5))
def test_substring_ignorecase_agrees_with_casefold(hay: str, needle: str) -> None:
    node = ContentRestriction(
        FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE, SUBJECT,
        TaggedPropertyValue(SUBJECT, needle),
    )
    assert evaluate(node, {SUBJECT: hay}) is (needle.casefold() in hay.casefold())
