"""Property rows, tag arrays and problems (MS-OXCDATA 2.8-2.10)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType, make_tag
from groupware.mapi.rows import (
    Cell,
    PropertyProblem,
    PropertyRow,
    decode_problem_array,
    decode_row_set,
    decode_tag_array,
    encode_problem_array,
    encode_row_set,
    encode_tag_array,
)
from groupware.mapi.values import ValueFlag
from tests.groupware.mapi.strategies import VALUE_TYPES, values_of

SUBJECT = make_tag(0x0037, PropType.STRING)
FLAGS = make_tag(0x0E07, PropType.INTEGER32)
ANY = make_tag(0x8001, PropType.UNSPECIFIED)


def test_standard_row_layout() -> None:
    row = PropertyRow((Cell(PropType.STRING, "A"), Cell(PropType.INTEGER32, 1)))
    w = Writer()
    row.encode(w, [SUBJECT, FLAGS])
    assert w.getvalue() == b"\x00" + b"A\x00\x00\x00" + b"\x01\x00\x00\x00"


def test_error_cell_forces_flagged_row() -> None:
    row = PropertyRow((Cell(PropType.STRING, "A"), Cell.error(PropType.INTEGER32, 0x8004010F)))
    w = Writer()
    row.encode(w, [SUBJECT, FLAGS])
    assert w.getvalue() == (
        b"\x01" + b"\x00A\x00\x00\x00" + b"\x0a" + bytes.fromhex("0f010480")
    )
    decoded = PropertyRow.decode(Reader(w.getvalue()), [SUBJECT, FLAGS])
    assert decoded.flagged
    assert decoded.cells[1].flag is ValueFlag.ERROR


def test_unspecified_column_carries_type() -> None:
    row = PropertyRow((Cell(PropType.INTEGER16, 7),))
    w = Writer()
    row.encode(w, [ANY])
    assert w.getvalue() == b"\x00\x02\x00\x07\x00"
    w = Writer()
    PropertyRow((Cell(PropType.INTEGER16, 7),), flagged=True).encode(w, [ANY])
    assert w.getvalue() == b"\x01\x02\x00\x00\x07\x00"
    assert PropertyRow.decode(Reader(w.getvalue()), [ANY]).cells == row.cells


def test_row_errors() -> None:
    with pytest.raises(MapiFormatError):
        PropertyRow((Cell(PropType.STRING, "A"),)).encode(Writer(), [FLAGS])
    with pytest.raises(MapiFormatError):
        PropertyRow(()).encode(Writer(), [FLAGS])
    with pytest.raises(MapiFormatError):
        PropertyRow.decode(Reader(b"\x02"), [FLAGS])


def test_tag_array_and_problems() -> None:
    w = Writer()
    encode_tag_array(w, [SUBJECT, FLAGS])
    assert w.getvalue() == b"\x02\x00" + bytes.fromhex("1f003700") + bytes.fromhex("0300070e")
    assert decode_tag_array(Reader(w.getvalue())) == (SUBJECT, FLAGS)
    with pytest.raises(MapiFormatError):
        decode_tag_array(Reader(b"\x05\x00\x00"))
    problems = [PropertyProblem(1, FLAGS, 0x80040102)]
    w = Writer()
    encode_problem_array(w, problems)
    assert w.getvalue() == b"\x01\x00\x01\x00" + bytes.fromhex("0300070e") + bytes.fromhex(
        "02010480"
    )
    assert decode_problem_array(Reader(w.getvalue())) == tuple(problems)


cells = st.sampled_from(VALUE_TYPES).flatmap(
    lambda t: st.one_of(
        values_of(t).map(lambda v: Cell(t, v)),  # type: ignore[arg-type]
        st.just(Cell(t, None, ValueFlag.ABSENT)),
        st.integers(0, (1 << 32) - 1).map(lambda c: Cell.error(t, c)),
    )
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cells, st.booleans()), max_size=6), st.integers(0, 3))
def test_row_set_round_trip(spec: list[tuple[Cell, bool]], nrows: int) -> None:
    columns = [
        make_tag(0x8000 + i, PropType.UNSPECIFIED if unspec else c.prop_type)
        for i, (c, unspec) in enumerate(spec)
    ]
    row = PropertyRow(tuple(c for c, _ in spec))
    rows = [row] * nrows
    w = Writer()
    encode_row_set(w, columns, rows)
    decoded = decode_row_set(Reader(w.getvalue()), columns)
    assert [d.cells for d in decoded] == [row.cells] * nrows


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=60))
def test_garbage_rows(data: bytes) -> None:
    columns = [SUBJECT, ANY, FLAGS]
    try:
        rows = decode_row_set(Reader(data), columns)
    except MapiFormatError:
        return
    w = Writer()
    encode_row_set(w, columns, rows)
    again = decode_row_set(Reader(w.getvalue()), columns)
    w2 = Writer()
    encode_row_set(w2, columns, again)
    assert w2.getvalue() == w.getvalue()
