"""Property data types and property tags (MS-OXCDATA 2.9, 2.11.1).

A property tag is 32 bits: the property id in the high word and the property type
in the low word. Multi-valued types are the single-valued type with
:data:`MV_FLAG` (0x1000) set; :data:`MV_INSTANCE` (0x2000) asks a table to expand
a multi-valued column into one row per value (MS-OXCTABL 2.2.1.1.1).
"""

from __future__ import annotations

import enum

from groupware.types import PropTag

MV_FLAG = 0x1000
"""Bit of the type word that marks a multi-valued type (PtypMultiple*)."""
MV_INSTANCE = 0x2000
"""MVI flag: one table row per value of a multi-valued column."""

FIRST_NAMED_ID = 0x8000
"""Property ids from here up are mapped per store to named properties (MS-OXCDATA 2.6)."""


class PropType(enum.IntEnum):
    """Property data types of MS-OXCDATA 2.11.1 (canonical Ptyp* names in comments)."""

    UNSPECIFIED = 0x0000  # PtypUnspecified: any type; only in requests
    NULL = 0x0001  # PtypNull: placeholder, no value bytes
    INTEGER16 = 0x0002  # PtypInteger16, PT_SHORT
    INTEGER32 = 0x0003  # PtypInteger32, PT_LONG
    FLOATING32 = 0x0004  # PtypFloating32, PT_FLOAT
    FLOATING64 = 0x0005  # PtypFloating64, PT_DOUBLE
    CURRENCY = 0x0006  # PtypCurrency: 64-bit scaled integer, 4 decimals
    FLOATING_TIME = 0x0007  # PtypFloatingTime, PT_APPTIME: days since 1899-12-30
    ERROR_CODE = 0x000A  # PtypErrorCode, PT_ERROR
    BOOLEAN = 0x000B  # PtypBoolean: one byte, 0 or 1
    OBJECT = 0x000D  # PtypObject / PtypEmbeddedTable: no inline value
    INTEGER64 = 0x0014  # PtypInteger64, PT_I8
    STRING8 = 0x001E  # PtypString8: 8-bit string, NUL-terminated
    STRING = 0x001F  # PtypString: UTF-16LE, NUL-terminated
    TIME = 0x0040  # PtypTime: FILETIME, 100 ns since 1601-01-01 UTC
    GUID = 0x0048  # PtypGuid
    SERVER_ID = 0x00FB  # PtypServerId: 16-bit COUNT + ServerId structure
    RESTRICTION = 0x00FD  # PtypRestriction (MS-OXCDATA 2.12)
    RULE_ACTION = 0x00FE  # PtypRuleAction (MS-OXORULE 2.2.5)
    BINARY = 0x0102  # PtypBinary: COUNT + bytes
    MULTIPLE_INTEGER16 = 0x1002
    MULTIPLE_INTEGER32 = 0x1003
    MULTIPLE_FLOATING32 = 0x1004
    MULTIPLE_FLOATING64 = 0x1005
    MULTIPLE_CURRENCY = 0x1006
    MULTIPLE_FLOATING_TIME = 0x1007
    MULTIPLE_INTEGER64 = 0x1014
    MULTIPLE_STRING8 = 0x101E
    MULTIPLE_STRING = 0x101F
    MULTIPLE_TIME = 0x1040
    MULTIPLE_GUID = 0x1048
    MULTIPLE_BINARY = 0x1102

    @property
    def is_multi(self) -> bool:
        return bool(self.value & MV_FLAG)

    @property
    def element_type(self) -> PropType:
        """The single-valued type of one element (itself for single-valued types)."""
        return PropType(self.value & ~MV_FLAG)

    @property
    def fixed_size(self) -> int | None:
        """Wire size of one value in bytes, or ``None`` when it is variable."""
        return FIXED_SIZES.get(self)

    @property
    def canonical_name(self) -> str:
        """The Ptyp* name of MS-OXCDATA 2.11.1, e.g. ``PtypMultipleString``."""
        return _CANONICAL[self]


FIXED_SIZES: dict[PropType, int] = {
    PropType.NULL: 0,
    PropType.INTEGER16: 2,
    PropType.INTEGER32: 4,
    PropType.FLOATING32: 4,
    PropType.FLOATING64: 8,
    PropType.CURRENCY: 8,
    PropType.FLOATING_TIME: 8,
    PropType.ERROR_CODE: 4,
    PropType.BOOLEAN: 1,
    PropType.INTEGER64: 8,
    PropType.TIME: 8,
    PropType.GUID: 16,
}
"""Fixed wire sizes (MS-OXCDATA 2.11.1); PtypBoolean is one byte in ROP buffers."""

_CANONICAL: dict[PropType, str] = {
    PropType.UNSPECIFIED: "PtypUnspecified",
    PropType.NULL: "PtypNull",
    PropType.INTEGER16: "PtypInteger16",
    PropType.INTEGER32: "PtypInteger32",
    PropType.FLOATING32: "PtypFloating32",
    PropType.FLOATING64: "PtypFloating64",
    PropType.CURRENCY: "PtypCurrency",
    PropType.FLOATING_TIME: "PtypFloatingTime",
    PropType.ERROR_CODE: "PtypErrorCode",
    PropType.BOOLEAN: "PtypBoolean",
    PropType.OBJECT: "PtypObject",
    PropType.INTEGER64: "PtypInteger64",
    PropType.STRING8: "PtypString8",
    PropType.STRING: "PtypString",
    PropType.TIME: "PtypTime",
    PropType.GUID: "PtypGuid",
    PropType.SERVER_ID: "PtypServerId",
    PropType.RESTRICTION: "PtypRestriction",
    PropType.RULE_ACTION: "PtypRuleAction",
    PropType.BINARY: "PtypBinary",
    PropType.MULTIPLE_INTEGER16: "PtypMultipleInteger16",
    PropType.MULTIPLE_INTEGER32: "PtypMultipleInteger32",
    PropType.MULTIPLE_FLOATING32: "PtypMultipleFloating32",
    PropType.MULTIPLE_FLOATING64: "PtypMultipleFloating64",
    PropType.MULTIPLE_CURRENCY: "PtypMultipleCurrency",
    PropType.MULTIPLE_FLOATING_TIME: "PtypMultipleFloatingTime",
    PropType.MULTIPLE_INTEGER64: "PtypMultipleInteger64",
    PropType.MULTIPLE_STRING8: "PtypMultipleString8",
    PropType.MULTIPLE_STRING: "PtypMultipleString",
    PropType.MULTIPLE_TIME: "PtypMultipleTime",
    PropType.MULTIPLE_GUID: "PtypMultipleGuid",
    PropType.MULTIPLE_BINARY: "PtypMultipleBinary",
}

_BY_CANONICAL = {name: t for t, name in _CANONICAL.items()}


def type_by_name(name: str) -> PropType:
    """``PtypString`` -> :attr:`PropType.STRING`; KeyError for an unknown name."""
    return _BY_CANONICAL[name]


def make_tag(prop_id: int, prop_type: int) -> PropTag:
    """Build a 32-bit tag from a 16-bit id and a 16-bit type."""
    if not 0 <= prop_id <= 0xFFFF or not 0 <= prop_type <= 0xFFFF:
        raise ValueError(f"property id {prop_id:#x} / type {prop_type:#x} out of range")
    return PropTag((prop_id << 16) | prop_type)


def tag_id(tag: int) -> int:
    """The property id (high word) of a tag."""
    return (tag >> 16) & 0xFFFF


def tag_type(tag: int) -> int:
    """The raw type word of a tag, including any MV/MVI flag."""
    return tag & 0xFFFF


def with_type(tag: int, prop_type: int) -> PropTag:
    """The same property id with another type (e.g. PtypString8 -> PtypString)."""
    return make_tag(tag_id(tag), prop_type)


def known_type(type_word: int) -> PropType | None:
    """The :class:`PropType` for a type word (MVI flag ignored), or ``None`` if unknown."""
    try:
        return PropType(type_word & ~MV_INSTANCE)
    except ValueError:
        return None


def format_tag(tag: int) -> str:
    """``0x0037001F`` — the usual way tags are written in logs and specs."""
    return f"0x{tag & 0xFFFFFFFF:08X}"
