"""Byte examples published in the Open Specifications, decoded and re-encoded.

* MS-OXCPRPT section 4 (RopSetProperties request): two TaggedPropertyValues.
* MS-OXORULE 4.2.2 (RopQueryRows response on a rules table): one StandardPropertyRow.
  The example shows only the response; the columns (PidTagRuleId,
  PidTagRuleProviderData, PidTagRuleName) are the ones whose types consume the row
  exactly, which is itself part of what this test checks.
"""

from __future__ import annotations

from groupware.mapi import tags
from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.proptypes import PropType
from groupware.mapi.rows import Cell, PropertyRow, decode_row_set, encode_row_set
from groupware.mapi.values import TaggedPropertyValue

SET_PROPERTIES = bytes.fromhex(
    "0A 00 00 24 00 02 00 1F 00 3D 00 00 00 1F 00 1D"
    "0E 48 00 65 00 6C 00 6C 00 6F 00 20 00 57 00 6F"
    "00 72 00 6C 00 64 00 00 00"
)

QUERY_ROWS = bytes.fromhex(
    "15 01 00 00 00 00 02 01 00 00 01 00 00 00 01 3f"
    "f8 56 10 00 01 00 00 00 01 00 00 00 55 55 55 55"
    "d1 44 e3 40 50 00 72 00 6f 00 6a 00 65 00 63 00"
    "74 00 20 00 58 00 00 00"
)


def test_oxcprpt_set_properties_values() -> None:
    r = Reader(SET_PROPERTIES, offset=3)
    size = r.u16()
    body_start = r.position
    count = r.u16()
    values = [TaggedPropertyValue.decode(r) for _ in range(count)]
    assert r.at_end()
    assert r.position - body_start == size == 0x24
    assert values == [
        TaggedPropertyValue(tags.PidTagSubjectPrefix, ""),
        TaggedPropertyValue(tags.PidTagNormalizedSubject, "Hello World"),
    ]
    w = Writer()
    for value in values:
        value.encode(w)
    assert w.getvalue() == SET_PROPERTIES[7:]


def test_oxorule_query_rows_standard_row() -> None:
    columns = [tags.PidTagRuleId, tags.PidTagRuleProviderData, tags.PidTagRuleName]
    r = Reader(QUERY_ROWS, offset=7)  # RowCount then the rows
    rows = decode_row_set(r, columns)
    assert r.at_end()
    assert len(rows) == 1
    (row,) = rows
    assert not row.flagged
    assert row.cells[0] == Cell(PropType.INTEGER64, 0x56F83F0100000001)
    assert row.cells[1].value == bytes.fromhex("01000000 01000000 55555555d144e340")
    assert row.cells[2] == Cell(PropType.STRING, "Project X")
    w = Writer()
    encode_row_set(w, columns, [PropertyRow(row.cells)])
    assert w.getvalue() == QUERY_ROWS[7:]
