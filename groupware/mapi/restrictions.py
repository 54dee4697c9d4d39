"""Restrictions (MS-OXCDATA 2.12): the filter tree of tables, searches and rules.

This module holds the node types and their binary form in ROP buffers and extended
rules (the count widths come from :class:`~groupware.mapi.values.WireContext`:
RestrictCount of And/Or is 16 bits in ROPs and 32 bits in extended rules). NSPI
sends the same tree as NDR unions (MS-OXNSPI 2.2.2.x ``RestrictionUnion_r``); that
encoding belongs to the NSPI codec, which can still build these nodes.
Evaluation over property values lives in :mod:`groupware.mapi.evaluate`.

Every node is a frozen dataclass, so trees compare, hash and print structurally.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.values import ROP, TaggedPropertyValue, WireContext
from groupware.types import PropTag


class RestrictionType(enum.IntEnum):
    """RestrictType byte (MS-OXCDATA 2.12)."""

    AND = 0x00
    OR = 0x01
    NOT = 0x02
    CONTENT = 0x03
    PROPERTY = 0x04
    COMPARE_PROPERTIES = 0x05
    BITMASK = 0x06
    SIZE = 0x07
    EXIST = 0x08
    SUB_OBJECT = 0x09
    COMMENT = 0x0A
    COUNT = 0x0B


class RelOp(enum.IntEnum):
    """Relational operators of Property, CompareProperties and Size restrictions."""

    LT = 0x00
    LE = 0x01
    GT = 0x02
    GE = 0x03
    EQ = 0x04
    NE = 0x05
    RE = 0x06  # regular expression (not supported by Exchange for most properties)
    MEMBER_OF_DL = 0x64  # recipient is a member of the distribution list


class FuzzyLevelLow(enum.IntEnum):
    """FuzzyLevelLow of a Content restriction (MS-OXCDATA 2.12.4): where to match."""

    FULLSTRING = 0x0000
    SUBSTRING = 0x0001
    PREFIX = 0x0002


class FuzzyLevelHigh(enum.IntFlag):
    """FuzzyLevelHigh of a Content restriction: how loosely to compare."""

    NONE = 0x0000
    IGNORECASE = 0x0001
    IGNORENONSPACE = 0x0002
    LOOSE = 0x0004


class BitmapRelOp(enum.IntEnum):
    """BitmapRelOp of a Bitmask restriction (MS-OXCDATA 2.12.7)."""

    BMR_EQZ = 0x00  # (value & mask) == 0
    BMR_NEZ = 0x01  # (value & mask) != 0


class Restriction:
    """Base of every restriction node."""

    __slots__ = ()


@dataclass(frozen=True)
class AndRestriction(Restriction):
    """MS-OXCDATA 2.12.1: true when every child is (and when there are none)."""

    restrictions: tuple[Restriction, ...]


@dataclass(frozen=True)
class OrRestriction(Restriction):
    """MS-OXCDATA 2.12.2: true when any child is."""

    restrictions: tuple[Restriction, ...]


@dataclass(frozen=True)
class NotRestriction(Restriction):
    """MS-OXCDATA 2.12.3."""

    restriction: Restriction


@dataclass(frozen=True)
class ContentRestriction(Restriction):
    """MS-OXCDATA 2.12.4: string/binary matching with fuzzy levels."""

    fuzzy_low: FuzzyLevelLow
    fuzzy_high: FuzzyLevelHigh
    tag: PropTag
    value: TaggedPropertyValue


@dataclass(frozen=True)
class PropertyRestriction(Restriction):
    """MS-OXCDATA 2.12.5: compare a property with a constant."""

    relop: RelOp
    tag: PropTag
    value: TaggedPropertyValue


@dataclass(frozen=True)
class ComparePropertiesRestriction(Restriction):
    """MS-OXCDATA 2.12.6: compare two properties of the same object."""

    relop: RelOp
    tag1: PropTag
    tag2: PropTag


@dataclass(frozen=True)
class BitmaskRestriction(Restriction):
    """MS-OXCDATA 2.12.7: test bits of an integer property."""

    op: BitmapRelOp
    tag: PropTag
    mask: int


@dataclass(frozen=True)
class SizeRestriction(Restriction):
    """MS-OXCDATA 2.12.8: compare the size in bytes of a property value."""

    relop: RelOp
    tag: PropTag
    size: int


@dataclass(frozen=True)
class ExistRestriction(Restriction):
    """MS-OXCDATA 2.12.9: the property has a value."""

    tag: PropTag


@dataclass(frozen=True)
class SubObjectRestriction(Restriction):
    """MS-OXCDATA 2.12.10: some recipient or attachment matches.

    ``subobject`` is PidTagMessageRecipients (0x0E12000D) or PidTagMessageAttachments
    (0x0E13000D).
    """

    subobject: PropTag
    restriction: Restriction


@dataclass(frozen=True)
class CommentRestriction(Restriction):
    """MS-OXCDATA 2.12.11: annotations for the client; evaluates like its child.

    With no child it is true. Outlook stores search-folder hints here.
    """

    values: tuple[TaggedPropertyValue, ...]
    restriction: Restriction | None


@dataclass(frozen=True)
class CountRestriction(Restriction):
    """MS-OXCDATA 2.12.12: the child, applied to at most ``count`` matching rows."""

    count: int
    restriction: Restriction


# --- codec --------------------------------------------------------------------------


def encode_restriction(
    w: Writer, node: Restriction, ctx: WireContext = ROP, depth: int = 0
) -> None:
    """Write ``node`` in the ROP / extended-rule form of MS-OXCDATA 2.12."""
    if depth > ctx.max_depth:
        raise MapiFormatError(f"restriction nested deeper than {ctx.max_depth}")
    inner = depth + 1
    if isinstance(node, AndRestriction | OrRestriction):
        w.u8(RestrictionType.AND if isinstance(node, AndRestriction) else RestrictionType.OR)
        w.uint(len(node.restrictions), ctx.struct_count, "RestrictCount")
        for child in node.restrictions:
            encode_restriction(w, child, ctx, inner)
    elif isinstance(node, NotRestriction):
        w.u8(RestrictionType.NOT)
        encode_restriction(w, node.restriction, ctx, inner)
    elif isinstance(node, ContentRestriction):
        w.u8(RestrictionType.CONTENT)
        w.u16(node.fuzzy_low, "FuzzyLevelLow")
        w.u16(node.fuzzy_high, "FuzzyLevelHigh")
        w.u32(node.tag, "PropertyTag")
        node.value.encode(w, ctx)
    elif isinstance(node, PropertyRestriction):
        w.u8(RestrictionType.PROPERTY)
        w.u8(node.relop, "RelOp")
        w.u32(node.tag, "PropTag")
        node.value.encode(w, ctx)
    elif isinstance(node, ComparePropertiesRestriction):
        w.u8(RestrictionType.COMPARE_PROPERTIES)
        w.u8(node.relop, "RelOp")
        w.u32(node.tag1, "PropTag1")
        w.u32(node.tag2, "PropTag2")
    elif isinstance(node, BitmaskRestriction):
        w.u8(RestrictionType.BITMASK)
        w.u8(node.op, "BitmapRelOp")
        w.u32(node.tag, "PropTag")
        w.u32(node.mask, "Mask")
    elif isinstance(node, SizeRestriction):
        w.u8(RestrictionType.SIZE)
        w.u8(node.relop, "RelOp")
        w.u32(node.tag, "PropTag")
        w.u32(node.size, "Size")
    elif isinstance(node, ExistRestriction):
        w.u8(RestrictionType.EXIST)
        w.u32(node.tag, "PropTag")
    elif isinstance(node, SubObjectRestriction):
        w.u8(RestrictionType.SUB_OBJECT)
        w.u32(node.subobject, "Subobject")
        encode_restriction(w, node.restriction, ctx, inner)
    elif isinstance(node, CommentRestriction):
        w.u8(RestrictionType.COMMENT)
        w.u8(len(node.values), "TaggedValuesCount")
        for value in node.values:
            value.encode(w, ctx)
        if node.restriction is None:
            w.u8(0)
        else:
            w.u8(1)
            encode_restriction(w, node.restriction, ctx, inner)
    elif isinstance(node, CountRestriction):
        w.u8(RestrictionType.COUNT)
        w.u32(node.count, "Count")
        encode_restriction(w, node.restriction, ctx, inner)
    else:
        raise MapiFormatError(f"not a restriction: {type(node).__name__}")


_MIN_RESTRICTION_SIZE = 3


def _enum(kind: type[enum.IntEnum], raw: int, what: str) -> enum.IntEnum:
    try:
        return kind(raw)
    except ValueError:
        raise MapiFormatError(f"invalid {what} 0x{raw:X}") from None


def decode_restriction(r: Reader, ctx: WireContext = ROP, depth: int = 0) -> Restriction:
    """Read one restriction tree; refuses trees deeper than ``ctx.max_depth``."""
    if depth > ctx.max_depth:
        raise MapiFormatError(f"restriction nested deeper than {ctx.max_depth}")
    inner = depth + 1
    kind = _enum(RestrictionType, r.u8("RestrictType"), "RestrictType")
    if kind in (RestrictionType.AND, RestrictionType.OR):
        # The smallest child is an empty Comment restriction: 3 bytes.
        n = r.count(ctx.struct_count, _MIN_RESTRICTION_SIZE, "RestrictCount", ctx.max_values)
        children = tuple(decode_restriction(r, ctx, inner) for _ in range(n))
        return AndRestriction(children) if kind is RestrictionType.AND else OrRestriction(children)
    if kind is RestrictionType.NOT:
        return NotRestriction(decode_restriction(r, ctx, inner))
    if kind is RestrictionType.CONTENT:
        low = r.u16("FuzzyLevelLow")
        high = r.u16("FuzzyLevelHigh")
        if high & ~0x7:
            raise MapiFormatError(f"invalid FuzzyLevelHigh 0x{high:04X}")
        tag = PropTag(r.u32("PropertyTag"))
        value = TaggedPropertyValue.decode(r, ctx, inner)
        return ContentRestriction(
            FuzzyLevelLow(_enum(FuzzyLevelLow, low, "FuzzyLevelLow")),
            FuzzyLevelHigh(high),
            tag,
            value,
        )
    if kind is RestrictionType.PROPERTY:
        relop = RelOp(_enum(RelOp, r.u8("RelOp"), "RelOp"))
        tag = PropTag(r.u32("PropTag"))
        return PropertyRestriction(relop, tag, TaggedPropertyValue.decode(r, ctx, inner))
    if kind is RestrictionType.COMPARE_PROPERTIES:
        relop = RelOp(_enum(RelOp, r.u8("RelOp"), "RelOp"))
        return ComparePropertiesRestriction(
            relop, PropTag(r.u32("PropTag1")), PropTag(r.u32("PropTag2"))
        )
    if kind is RestrictionType.BITMASK:
        op = BitmapRelOp(_enum(BitmapRelOp, r.u8("BitmapRelOp"), "BitmapRelOp"))
        return BitmaskRestriction(op, PropTag(r.u32("PropTag")), r.u32("Mask"))
    if kind is RestrictionType.SIZE:
        relop = RelOp(_enum(RelOp, r.u8("RelOp"), "RelOp"))
        return SizeRestriction(relop, PropTag(r.u32("PropTag")), r.u32("Size"))
    if kind is RestrictionType.EXIST:
        return ExistRestriction(PropTag(r.u32("PropTag")))
    if kind is RestrictionType.SUB_OBJECT:
        sub = PropTag(r.u32("Subobject"))
        return SubObjectRestriction(sub, decode_restriction(r, ctx, inner))
    if kind is RestrictionType.COMMENT:
        n = r.u8("TaggedValuesCount")
        values = tuple(TaggedPropertyValue.decode(r, ctx, inner) for _ in range(n))
        present = r.u8("RestrictionPresent")
        if present not in (0, 1):
            raise MapiFormatError(f"invalid RestrictionPresent 0x{present:02X}")
        child = decode_restriction(r, ctx, inner) if present else None
        return CommentRestriction(values, child)
    # RestrictionType.COUNT
    count = r.u32("Count")
    return CountRestriction(count, decode_restriction(r, ctx, inner))


def restriction_to_bytes(node: Restriction, ctx: WireContext = ROP) -> bytes:
    w = Writer()
    encode_restriction(w, node, ctx)
    return w.getvalue()


def restriction_from_bytes(data: bytes, ctx: WireContext = ROP) -> Restriction:
    """Decode a buffer holding exactly one restriction (e.g. a PtypRestriction blob)."""
    r = Reader(data)
    node = decode_restriction(r, ctx)
    r.expect_end("restriction")
    return node
