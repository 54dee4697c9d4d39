"""Sort orders (MS-OXCDATA 2.13): layout, validation and Python sort keys."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType, make_tag
from groupware.mapi.sorting import (
    SortDirection,
    SortOrder,
    SortOrderSet,
    sort_key,
    sort_rows,
)

SUBJECT = make_tag(0x0037, PropType.STRING)
DELIVERY = make_tag(0x0E06, PropType.TIME)


def test_sort_order_set_layout() -> None:
    sos = SortOrderSet(
        (SortOrder(SUBJECT, SortDirection.ASCEND), SortOrder(DELIVERY, SortDirection.DESCEND)),
        categorized_count=1,
        expanded_count=1,
    )
    w = Writer()
    sos.encode(w)
    assert w.getvalue() == (
        b"\x02\x00\x01\x00\x01\x00"
        + b"\x1f\x00\x37\x00\x00"  # PropertyType, PropertyId, Order
        + b"\x40\x00\x06\x0e\x01"
    )
    assert SortOrderSet.decode(Reader(w.getvalue())) == sos


def test_invalid_sort_sets() -> None:
    with pytest.raises(MapiFormatError):
        SortOrderSet((SortOrder(SUBJECT),), categorized_count=2)
    with pytest.raises(MapiFormatError):
        SortOrderSet.decode(Reader(b"\x01\x00\x00\x00\x00\x00\x1f\x00\x37\x00\x09"))
    with pytest.raises(MapiFormatError):
        SortOrderSet.decode(Reader(b"\x01\x00\x02\x00\x00\x00\x1f\x00\x37\x00\x00"))
    with pytest.raises(MapiFormatError):
        SortOrderSet.decode(Reader(b"\xff\x00\x00\x00\x00\x00"))


def test_sort_rows_mixed_and_missing() -> None:
    rows = [
        {SUBJECT: "beta", DELIVERY: 3},
        {SUBJECT: "Alpha", DELIVERY: 1},
        {DELIVERY: 2},
        {SUBJECT: "alpha", DELIVERY: 5},
    ]
    asc = SortOrderSet((SortOrder(SUBJECT), SortOrder(DELIVERY, SortDirection.DESCEND)))
    ordered = sort_rows(rows, asc)
    assert [r.get(SUBJECT) for r in ordered] == [None, "alpha", "Alpha", "beta"]
    desc = SortOrderSet((SortOrder(SUBJECT, SortDirection.DESCEND),))
    assert [r.get(SUBJECT) for r in sort_rows(rows, desc)][-1] is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.binary(max_size=3))))
def test_sort_key_is_a_total_order(values: list[object]) -> None:
    tag = make_tag(0x8000, PropType.UNSPECIFIED)
    rows = [{tag: v} for v in values if v is not None] + [{} for v in values if v is None]
    orders = [SortOrder(tag)]
    asc = sorted(rows, key=lambda r: sort_key(r, orders))
    desc = sorted(rows, key=lambda r: sort_key(r, [SortOrder(tag, SortDirection.DESCEND)]))
    keys = [sort_key(r, orders) for r in asc]
    assert all(not keys[i + 1] < keys[i] for i in range(len(keys) - 1))
    assert [sort_key(r, orders) for r in desc] == list(reversed(keys))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-1000, 1000)))
def test_integer_sort_matches_python(values: list[int]) -> None:
    rows = [{DELIVERY: v} for v in values]
    out = sort_rows(rows, SortOrderSet((SortOrder(DELIVERY, SortDirection.DESCEND),)))
    assert [r[DELIVERY] for r in out] == sorted(values, reverse=True)
