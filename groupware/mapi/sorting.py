"""Sort orders (MS-OXCDATA 2.13) and sort keys for tables sorted in Python.

A SortOrderSet lists the columns to sort on; its first ``categorized_count`` entries
are categories (grouped views), of which the first ``expanded_count`` are expanded.
:func:`sort_key` turns a row into a key that ``sorted()`` accepts whatever the mix
of value kinds: absent values come first in ascending order (last in descending),
strings compare case-insensitively as Exchange's collation does (rows equal there
fall through to the next column), and values of unrelated kinds are ordered by kind.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.evaluate import Row, lookup
from groupware.mapi.proptypes import make_tag, tag_id, tag_type
from groupware.types import PropTag


class SortDirection(enum.IntEnum):
    """Order byte of SortOrder (MS-OXCDATA 2.13.1)."""

    ASCEND = 0x00  # TABLE_SORT_ASCEND
    DESCEND = 0x01  # TABLE_SORT_DESCEND
    MAXIMUM_CATEGORY = 0x04  # TABLE_SORT_MAXIMUM_CATEGORY: order categories by their max


@dataclass(frozen=True)
class SortOrder:
    """MS-OXCDATA 2.13.1: PropertyType (2), PropertyId (2), Order (1)."""

    tag: PropTag
    direction: SortDirection = SortDirection.ASCEND

    def encode(self, w: Writer) -> None:
        w.u16(tag_type(self.tag), "PropertyType")
        w.u16(tag_id(self.tag), "PropertyId")
        w.u8(self.direction, "Order")

    @classmethod
    def decode(cls, r: Reader) -> SortOrder:
        ptype = r.u16("PropertyType")
        pid = r.u16("PropertyId")
        raw = r.u8("Order")
        try:
            direction = SortDirection(raw)
        except ValueError:
            raise MapiFormatError(f"invalid sort Order 0x{raw:02X}") from None
        return cls(make_tag(pid, ptype), direction)


MAX_SORT_ORDERS = 64
"""Most columns one SortOrderSet may name; Outlook sends a handful."""


@dataclass(frozen=True)
class SortOrderSet:
    """MS-OXCDATA 2.13.2: counts (2 bytes each) then the SortOrder array."""

    orders: tuple[SortOrder, ...] = ()
    categorized_count: int = 0
    expanded_count: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.expanded_count <= self.categorized_count <= len(self.orders):
            raise MapiFormatError(
                f"sort order set needs expanded ({self.expanded_count}) <= categorized "
                f"({self.categorized_count}) <= count ({len(self.orders)})"
            )

    def encode(self, w: Writer) -> None:
        w.u16(len(self.orders), "SortOrderCount")
        w.u16(self.categorized_count, "CategorizedCount")
        w.u16(self.expanded_count, "ExpandedCount")
        for order in self.orders:
            order.encode(w)

    @classmethod
    def decode(cls, r: Reader, limit: int = MAX_SORT_ORDERS) -> SortOrderSet:
        n = r.count(2, 5, "SortOrderCount", limit)
        categorized = r.u16("CategorizedCount")
        expanded = r.u16("ExpandedCount")
        orders = tuple(SortOrder.decode(r) for _ in range(n))
        return cls(orders, categorized, expanded)


def _kind(value: object) -> tuple[int, object]:
    """Map a value to (kind rank, comparable form) so any two values compare."""
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN sorts last
            return (1, float("inf"))
        return (1, value)
    if isinstance(value, str):
        return (2, value.casefold())
    if isinstance(value, (bytes, bytearray)):
        return (3, bytes(value))
    if isinstance(value, uuid.UUID):
        return (4, value.bytes_le)
    if isinstance(value, tuple):
        return (5, tuple(_kind(v) for v in value))
    return (6, repr(value))


@functools.total_ordering
class _Part:
    """One column of a sort key, aware of its direction."""

    __slots__ = ("descending", "key")

    def __init__(self, value: object, descending: bool) -> None:
        self.key: tuple[int, object] = (0, 0) if value is None else _kind(value)
        self.descending = descending

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Part) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __lt__(self, other: _Part) -> bool:
        if self.key == other.key:
            return False
        less: bool = self.key < other.key
        return not less if self.descending else less


SortKey = tuple[_Part, ...]


def sort_key_function(orders: Sequence[SortOrder]) -> Callable[[Row], SortKey]:
    """A ``key=`` function for ``sorted(rows, key=...)`` implementing ``orders``."""
    columns = [(o.tag, o.direction is SortDirection.DESCEND) for o in orders]

    def key(row: Row) -> SortKey:
        return tuple(_Part(lookup(row, tag), desc) for tag, desc in columns)

    return key


def sort_key(row: Row, orders: Sequence[SortOrder]) -> SortKey:
    """The sort key of one row (see :func:`sort_key_function` for many rows)."""
    return sort_key_function(orders)(row)


def sort_rows(rows: Sequence[Row], order_set: SortOrderSet) -> list[Row]:
    """Rows in the order of ``order_set`` (categories sort like ordinary columns).

    ``sorted`` is stable, so rows equal on every column keep their input order, which
    a caller makes deterministic by appending e.g. PidTagMid as the last column.
    """
    return sorted(rows, key=sort_key_function(order_set.orders))
