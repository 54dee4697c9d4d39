"""Property rows, tag arrays and property problems (MS-OXCDATA 2.8-2.10).

A row is the answer to "these columns of that object": RopGetPropertiesSpecific,
RopQueryRows, RopFindRow and notifications all send one. Its layout depends on the
columns: a column of a known type carries a bare PropertyValue, a PtypUnspecified
column carries a TypedPropertyValue. When any cell is missing or an error the
server must use a FlaggedPropertyRow, where every cell carries a flag byte.
:meth:`PropertyRow.encode` picks the row kind from the cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.proptypes import PropType
from groupware.mapi.values import (
    ROP,
    FlaggedPropertyValue,
    PropValue,
    TypedPropertyValue,
    ValueFlag,
    WireContext,
    decode_value,
    encode_value,
    tag_prop_type,
)
from groupware.types import PropTag

STANDARD_ROW = 0x00
FLAGGED_ROW = 0x01

MAX_TAGS = 1 << 12
"""Most tags one PropertyTagArray may hold (ROP columns are far fewer)."""
MAX_ROWS = 1 << 16


@dataclass(frozen=True)
class Cell:
    """One column of a row: the value's actual type, its flag and the value.

    For an ERROR cell ``value`` is the 32-bit error code (e.g. ecNotFound for a
    property the object lacks); for an ABSENT cell it is ``None``.
    """

    prop_type: PropType
    value: PropValue
    flag: ValueFlag = ValueFlag.PRESENT

    @classmethod
    def error(cls, prop_type: PropType, code: int) -> Cell:
        return cls(prop_type, code, ValueFlag.ERROR)


def _column_type(tag: int) -> PropType:
    return tag_prop_type(tag)


@dataclass(frozen=True)
class PropertyRow:
    """MS-OXCDATA 2.8.1: StandardPropertyRow (flag 0x00) or FlaggedPropertyRow (0x01)."""

    cells: tuple[Cell, ...]
    flagged: bool = False

    @property
    def needs_flags(self) -> bool:
        return any(c.flag is not ValueFlag.PRESENT for c in self.cells)

    def encode(self, w: Writer, columns: Sequence[int], ctx: WireContext = ROP) -> None:
        if len(columns) != len(self.cells):
            raise MapiFormatError(f"{len(self.cells)} cells for {len(columns)} columns")
        flagged = self.flagged or self.needs_flags
        w.u8(FLAGGED_ROW if flagged else STANDARD_ROW)
        for tag, cell in zip(columns, self.cells, strict=True):
            ctype = _column_type(tag)
            unspecified = ctype is PropType.UNSPECIFIED
            if not unspecified and cell.prop_type is not ctype:
                raise MapiFormatError(
                    f"cell of type {cell.prop_type.canonical_name} in a "
                    f"{ctype.canonical_name} column"
                )
            if flagged:
                fv = FlaggedPropertyValue(cell.prop_type, cell.flag, cell.value)
                if unspecified:
                    fv.encode_with_type(w, ctx)
                else:
                    fv.encode(w, ctx)
            elif unspecified:
                TypedPropertyValue(cell.prop_type, cell.value).encode(w, ctx)
            else:
                encode_value(w, ctype, cell.value, ctx)

    @classmethod
    def decode(cls, r: Reader, columns: Sequence[int], ctx: WireContext = ROP) -> PropertyRow:
        kind = r.u8("PropertyRow flag")
        if kind not in (STANDARD_ROW, FLAGGED_ROW):
            raise MapiFormatError(f"invalid PropertyRow flag 0x{kind:02X}")
        flagged = kind == FLAGGED_ROW
        cells = []
        for tag in columns:
            ctype = _column_type(tag)
            unspecified = ctype is PropType.UNSPECIFIED
            if flagged:
                fv = (
                    FlaggedPropertyValue.decode_with_type(r, ctx)
                    if unspecified
                    else FlaggedPropertyValue.decode(r, ctype, ctx)
                )
                cells.append(Cell(fv.prop_type, fv.value, fv.flag))
            elif unspecified:
                tv = TypedPropertyValue.decode(r, ctx)
                cells.append(Cell(tv.prop_type, tv.value))
            else:
                cells.append(Cell(ctype, decode_value(r, ctype, ctx)))
        return cls(tuple(cells), flagged)


def encode_row_set(
    w: Writer, columns: Sequence[int], rows: Sequence[PropertyRow], ctx: WireContext = ROP
) -> None:
    """PropertyRowSet (MS-OXCDATA 2.8.2): RowCount (2 bytes) then the rows."""
    w.u16(len(rows), "RowCount")
    for row in rows:
        row.encode(w, columns, ctx)


def decode_row_set(
    r: Reader, columns: Sequence[int], ctx: WireContext = ROP, limit: int = MAX_ROWS
) -> tuple[PropertyRow, ...]:
    n = r.count(2, 1, "RowCount", limit)
    return tuple(PropertyRow.decode(r, columns, ctx) for _ in range(n))


def encode_tag_array(w: Writer, tags: Sequence[int], count_width: int = 2) -> None:
    """PropertyTagArray (MS-OXCDATA 2.10.1): Count then 4-byte tags."""
    w.uint(len(tags), count_width, "PropertyTagArray count")
    for tag in tags:
        w.u32(tag, "property tag")


def decode_tag_array(
    r: Reader, count_width: int = 2, limit: int = MAX_TAGS
) -> tuple[PropTag, ...]:
    n = r.count(count_width, 4, "PropertyTagArray", limit)
    return tuple(PropTag(r.u32("property tag")) for _ in range(n))


@dataclass(frozen=True)
class PropertyProblem:
    """MS-OXCDATA 2.9.1: Index (2), PropertyTag (4), ErrorCode (4)."""

    index: int
    tag: PropTag
    error_code: int

    def encode(self, w: Writer) -> None:
        w.u16(self.index, "Index")
        w.u32(self.tag, "PropertyTag")
        w.u32(self.error_code, "ErrorCode")

    @classmethod
    def decode(cls, r: Reader) -> PropertyProblem:
        return cls(r.u16("Index"), PropTag(r.u32("PropertyTag")), r.u32("ErrorCode"))


def encode_problem_array(w: Writer, problems: Sequence[PropertyProblem]) -> None:
    """PropertyProblemArray (MS-OXCDATA 2.9.2): Count (2 bytes) then the problems."""
    w.u16(len(problems), "PropertyProblemCount")
    for problem in problems:
        problem.encode(w)


def decode_problem_array(r: Reader, limit: int = MAX_TAGS) -> tuple[PropertyProblem, ...]:
    n = r.count(2, 10, "PropertyProblemArray", limit)
    return tuple(PropertyProblem.decode(r) for _ in range(n))
