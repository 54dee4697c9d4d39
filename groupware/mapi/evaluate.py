"""Evaluate restrictions over property values, the way a naive table does it.

Backends that cannot translate a restriction into their own query language fall
back to :class:`Evaluator` row by row. Rows are mappings from property tag to value
(the Python forms of :mod:`groupware.mapi.values`); a property that is absent is
simply not in the mapping.

Rules, following MS-OXCDATA 2.12 and what Exchange does where the spec is silent:

* A Property, CompareProperties, Bitmask, Size or Content restriction on a property
  the row does not have is false (clients pair NE with Exist when they mean it).
* Values of different kinds never compare (false for every operator, NE included).
* PtypString and PtypString8 are interchangeable: a tag of one type finds a value
  stored under the other.
* A multi-valued property tested against a single value matches when any value
  does; two multi-valued values compare element-wise.
* Property and CompareProperties restrictions compare strings case-insensitively
  (Exchange compares with its sort collation); Content restrictions compare
  case-sensitively unless FuzzyLevelHigh says IGNORECASE or LOOSE.
* RELOP_RE and RELOP_MEMBER_OF_DL need help: :class:`UnsupportedRestriction` is
  raised unless a ``member_of`` callback is given (regular expressions never are).
"""

from __future__ import annotations

import logging
import math
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from groupware.errors import Code, GroupwareError
from groupware.mapi.proptypes import MV_FLAG, PropType, tag_id, tag_type
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
    Restriction,
    SizeRestriction,
    SubObjectRestriction,
)
from groupware.mapi.values import PropValue

log = logging.getLogger(__name__)

Row = Mapping[int, PropValue]
SubObjects = Callable[[int], Iterable[Row]]
MemberOf = Callable[[PropValue, PropValue], bool]


class UnsupportedRestriction(GroupwareError):
    """The restriction is valid but this evaluator cannot decide it (MAPI: ecTooComplex)."""

    code = Code.NOT_IMPLEMENTED


_STRING_TYPES = (PropType.STRING, PropType.STRING8)


def lookup(row: Row, tag: int) -> PropValue | None:
    """The value of ``tag`` in ``row``, treating PtypString and PtypString8 alike.

    Returns ``None`` when absent. The MVI flag (0x2000) of a table column is ignored.
    """
    tag &= ~0x2000
    if tag in row:
        return row[tag]
    base = tag_type(tag) & ~MV_FLAG
    if base in _STRING_TYPES:
        other = PropType.STRING8 if base == PropType.STRING else PropType.STRING
        alt = (tag_id(tag) << 16) | (tag_type(tag) & MV_FLAG) | other
        if alt in row:
            return row[alt]
    return None


def _rank(value: object) -> int | None:
    """Kinds of values that can be ordered against each other share a rank."""
    if isinstance(value, (bool, int, float)):
        return 0
    if isinstance(value, str):
        return 1
    if isinstance(value, (bytes, bytearray)):
        return 2
    if isinstance(value, uuid.UUID):
        return 3
    return None


def _norm(value: object, ignore_case: bool) -> object:
    if isinstance(value, str) and ignore_case:
        return value.casefold()
    if isinstance(value, uuid.UUID):
        return value.bytes_le
    if isinstance(value, bool):
        return int(value)
    return value


def compare_values(a: object, b: object, *, ignore_case: bool = True) -> int | None:
    """-1/0/1 like ``cmp``; ``None`` when the two values cannot be compared.

    Tuples (multi-valued properties) compare element-wise, then by length.
    """
    if isinstance(a, tuple) and isinstance(b, tuple):
        for x, y in zip(a, b, strict=False):
            c = compare_values(x, y, ignore_case=ignore_case)
            if c is None:
                return None
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    ra, rb = _rank(a), _rank(b)
    if ra is None or ra != rb:
        return None
    x, y = _norm(a, ignore_case), _norm(b, ignore_case)
    if (isinstance(x, float) and math.isnan(x)) or (isinstance(y, float) and math.isnan(y)):
        return None  # NaN never compares
    return int(x > y) - int(x < y)  # type: ignore[operator]


def _relop_holds(relop: RelOp, c: int) -> bool:
    if relop is RelOp.LT:
        return c < 0
    if relop is RelOp.LE:
        return c <= 0
    if relop is RelOp.GT:
        return c > 0
    if relop is RelOp.GE:
        return c >= 0
    if relop is RelOp.EQ:
        return c == 0
    if relop is RelOp.NE:
        return c != 0
    raise UnsupportedRestriction(f"relational operator {relop.name} is not supported")


def _strip_nonspacing(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def content_matches(
    haystack: object, needle: object, low: FuzzyLevelLow, high: FuzzyLevelHigh
) -> bool:
    """MS-OXCDATA 2.12.4 matching of one value: full string, substring or prefix."""
    if isinstance(haystack, str) and isinstance(needle, str):
        if high & (FuzzyLevelHigh.IGNORENONSPACE | FuzzyLevelHigh.LOOSE):
            haystack, needle = _strip_nonspacing(haystack), _strip_nonspacing(needle)
        if high & (FuzzyLevelHigh.IGNORECASE | FuzzyLevelHigh.LOOSE):
            haystack, needle = haystack.casefold(), needle.casefold()
    elif not (isinstance(haystack, bytes) and isinstance(needle, bytes)):
        return False
    if low is FuzzyLevelLow.SUBSTRING:
        return needle in haystack  # type: ignore[operator]
    if low is FuzzyLevelLow.PREFIX:
        return haystack.startswith(needle)  # type: ignore[arg-type]
    return haystack == needle


def value_size(value: object, prop_type: int | None = None) -> int:
    """Size of a value in bytes as a Size restriction measures it.

    Fixed-size types (known from ``prop_type``, the restriction's tag) count their wire
    size; strings their UTF-16 (or 8-bit) bytes plus the terminator; binaries their
    length; multi-valued values the sum of their elements.
    """
    fixed = None
    if prop_type is not None:
        try:
            fixed = PropType(prop_type & ~MV_FLAG & ~0x2000).fixed_size
        except ValueError:
            fixed = None
    if isinstance(value, tuple):
        return sum(value_size(v, prop_type) for v in value)
    if fixed is not None:
        return fixed
    if isinstance(value, str):
        if prop_type is not None and prop_type & ~MV_FLAG == PropType.STRING8:
            return len(value.encode("utf-8", "surrogatepass")) + 1
        return len(value.encode("utf-16-le", "surrogatepass")) + 2
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, bool):
        return 1
    if isinstance(value, uuid.UUID):
        return 16
    if isinstance(value, float):
        return 8
    if isinstance(value, int):
        return 4 if -(1 << 31) <= value < (1 << 32) else 8
    return 0


def _values(value: object) -> tuple[object, ...]:
    return value if isinstance(value, tuple) else (value,)


@dataclass
class Evaluator:
    """Decides whether rows match one restriction; holds the state of Count nodes.

    One evaluator per table pass: CountRestriction (MS-OXCDATA 2.12.12) lets only the
    first ``count`` rows that satisfy its child through, so the evaluator remembers how
    many each Count node has admitted.
    """

    restriction: Restriction | None
    subobjects: SubObjects | None = None
    member_of: MemberOf | None = None
    _admitted: dict[int, int] = field(default_factory=dict)

    def matches(self, row: Row) -> bool:
        if self.restriction is None:
            return True
        return self._eval(self.restriction, row, self.subobjects)

    def filter(self, rows: Iterable[Row]) -> Iterable[Row]:
        return (row for row in rows if self.matches(row))

    def _eval(self, node: Restriction, row: Row, subobjects: SubObjects | None) -> bool:
        if isinstance(node, AndRestriction):
            return all(self._eval(c, row, subobjects) for c in node.restrictions)
        if isinstance(node, OrRestriction):
            return any(self._eval(c, row, subobjects) for c in node.restrictions)
        if isinstance(node, NotRestriction):
            return not self._eval(node.restriction, row, subobjects)
        if isinstance(node, ExistRestriction):
            return lookup(row, node.tag) is not None
        if isinstance(node, PropertyRestriction):
            return self._property(node, row)
        if isinstance(node, ContentRestriction):
            have = lookup(row, node.tag)
            if have is None:
                return False
            needles = _values(node.value.value)
            return any(
                content_matches(h, n, node.fuzzy_low, node.fuzzy_high)
                for h in _values(have)
                for n in needles
            )
        if isinstance(node, ComparePropertiesRestriction):
            a, b = lookup(row, node.tag1), lookup(row, node.tag2)
            if a is None or b is None:
                return False
            c = compare_values(a, b)
            return c is not None and _relop_holds(node.relop, c)
        if isinstance(node, BitmaskRestriction):
            have = lookup(row, node.tag)
            if not isinstance(have, int):
                return False
            hit = (have & node.mask) != 0
            return hit if node.op is BitmapRelOp.BMR_NEZ else not hit
        if isinstance(node, SizeRestriction):
            have = lookup(row, node.tag)
            if have is None:
                return False
            size = value_size(have, tag_type(node.tag))
            return _relop_holds(node.relop, (size > node.size) - (size < node.size))
        if isinstance(node, SubObjectRestriction):
            if subobjects is None:
                log.debug("SubObject restriction without sub-object rows: false")
                return False
            return any(
                self._eval(node.restriction, sub, None) for sub in subobjects(node.subobject)
            )
        if isinstance(node, CommentRestriction):
            return node.restriction is None or self._eval(node.restriction, row, subobjects)
        if isinstance(node, CountRestriction):
            key = id(node)
            used = self._admitted.get(key, 0)
            if used >= node.count or not self._eval(node.restriction, row, subobjects):
                return False
            self._admitted[key] = used + 1
            return True
        raise UnsupportedRestriction(f"unknown restriction node {type(node).__name__}")

    def _property(self, node: PropertyRestriction, row: Row) -> bool:
        have = lookup(row, node.tag)
        if have is None:
            return False
        want = node.value.value
        if node.relop is RelOp.MEMBER_OF_DL:
            if self.member_of is None:
                raise UnsupportedRestriction("RELOP_MEMBER_OF_DL needs a directory")
            return self.member_of(have, want)
        if node.relop is RelOp.RE:
            raise UnsupportedRestriction("RELOP_RE (regular expressions) is not supported")
        if isinstance(have, tuple) and not isinstance(want, tuple):
            return any(
                (c := compare_values(h, want)) is not None and _relop_holds(node.relop, c)
                for h in have
            )
        c = compare_values(have, want)
        return c is not None and _relop_holds(node.relop, c)


def evaluate(
    node: Restriction | None,
    row: Row,
    *,
    subobjects: SubObjects | None = None,
    member_of: MemberOf | None = None,
) -> bool:
    """One-shot evaluation (Count nodes see only this row)."""
    return Evaluator(node, subobjects, member_of).matches(row)
