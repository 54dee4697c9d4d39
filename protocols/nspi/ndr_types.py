"""NDR20 forms of the NSPI data structures (MS-OXNSPI 2.2.2, 2.2.8; MS-NSPI 2.3).

Values travel as ``(tag, value)`` pairs whose Python form depends on the tag's type
(:data:`WireValue`): PtypString8 is *bytes* (the caller applies the session's code
page, which it knows), PtypString is ``str``, PtypBinary ``bytes``, PtypGuid
:class:`uuid.UUID`, PtypTime the FILETIME ``int``, PtypBoolean ``bool``, multi-valued
types are lists, PtypNull / PtypEmbeddedTable carry ``None``. A property the object
lacks is its tag with type PtypErrorCode (0x000A) and the error code as value.

Reading embedded pointers is two-phase (C706 14.3.12.3): the ``read_*`` functions
return structures that may still hold :class:`~protocols.rpc.ndr.Deferred` cells;
after the caller's ``Reader.flush()`` at the end of the top-level parameter,
:func:`resolve` replaces them by their referents.

Everything is bounded: the IDL's ``range(0, 100000)`` counts, Binary_r's 2 MiB,
restriction depth. Malformed stubs raise :class:`protocols.rpc.errors.NdrError`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from groupware.mapi.restrictions import (
    AndRestriction,
    BitmapRelOp,
    BitmaskRestriction,
    ComparePropertiesRestriction,
    ContentRestriction,
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
from groupware.mapi.values import TaggedPropertyValue
from groupware.types import PropTag
from protocols.nspi.constants import MAX_ROWS
from protocols.rpc.errors import NdrError
from protocols.rpc.ndr import Deferred, Reader, Writer

WireValue: TypeAlias = Any
"""See the module docstring for the Python form of each property type."""
PropValue: TypeAlias = tuple[int, WireValue]
"""One property of a row: (tag, value)."""

StatTuple: TypeAlias = tuple[int, int, int, int, int, int, int, int, int]
"""STAT (MS-OXNSPI 2.2.8): SortType, ContainerID, CurrentRec, Delta, NumPos,
TotalRecs, CodePage, TemplateLocale, SortLocale."""

PT_ERROR = 0x000A
PT_NULL = 0x0001
PT_OBJECT = 0x000D
PT_UNSPECIFIED = 0x0000
MAX_BINARY = 2_097_152
"""Binary_r.cb range (MS-OXNSPI 2.2.2.3)."""
MAX_RESTRICTION_DEPTH = 32

NDR_PROP_TYPES = frozenset({
    0x0002, 0x0003, 0x000B, 0x001E, 0x0102, 0x001F, 0x0048, 0x0040, 0x000A,
    0x1002, 0x1003, 0x101E, 0x1102, 0x1048, 0x101F, 0x1040, 0x0001, 0x000D, 0x0000,
})
"""The arms of PROP_VAL_UNION (MS-OXNSPI 2.2.2.11)."""


def error_tag(tag: int) -> int:
    return (tag & 0xFFFF0000) | PT_ERROR


# --- deferred post-processing ----------------------------------------------------------


@dataclass
class _Post:
    """A value computed from (resolved) parts once the deferred referents are known."""

    parts: Any
    build: Callable[[Any], Any]


def resolve(obj: Any) -> Any:
    """Replace every Deferred / _Post inside ``obj`` (tuples, lists) by its value."""
    if isinstance(obj, Deferred):
        return resolve(obj.value) if obj.present else None
    if isinstance(obj, _Post):
        return obj.build(resolve(obj.parts))
    if isinstance(obj, tuple):
        return tuple(resolve(item) for item in obj)
    if isinstance(obj, list):
        return [resolve(item) for item in obj]
    return obj


# --- STAT ------------------------------------------------------------------------


def read_stat(r: Reader) -> StatTuple:
    """STAT (MS-OXNSPI 2.2.8): nine 32-bit fields, Delta signed."""
    return (r.u32(), r.u32(), r.u32(), r.i32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32())


def write_stat(w: Writer, stat: StatTuple) -> None:
    for index, value in enumerate(stat):
        if index == 3:
            w.i32(signed32(value))
        else:
            w.u32(value & 0xFFFFFFFF)


def signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value & 0x80000000 else value


# --- PropertyTagArray_r --------------------------------------------------------------


def read_tag_array(r: Reader) -> list[int]:
    """PropertyTagArray_r (MS-OXNSPI 2.2.2.1): [size_is(cValues+1), length_is(cValues)].

    The elements actually sent (the varying count) are authoritative: impacket 0.13
    sends cValues one too large in NspiGetProps, and nothing else depends on it.
    """
    maximum = r.conformance()
    count = r.u32()
    if count > MAX_ROWS + 1:
        raise NdrError(f"PropertyTagArray_r.cValues {count} out of range")
    actual = r.variance(maximum)
    if actual > MAX_ROWS + 1:
        raise NdrError(f"PropertyTagArray_r with {actual} elements")
    return r.items(actual, lambda x: x.u32(), min_item_size=4)


def write_tag_array(w: Writer, tags: Sequence[int]) -> None:
    w.conformance(len(tags) + 1)
    w.u32(len(tags))
    w.u32(0)
    w.u32(len(tags))
    for tag in tags:
        w.u32(tag & 0xFFFFFFFF)


# --- PropertyValue_r ----------------------------------------------------------------


def _conformant(r: Reader, count: int, read: Callable[[Reader], Any], size: int) -> list[Any]:
    actual = r.conformance()
    if actual != count:
        raise NdrError(f"array conformance {actual} does not match its count {count}")
    return r.items(actual, read, min_item_size=size)


def _counted(r: Reader, read: Callable[[Reader], Any], size: int, limit: int = MAX_ROWS) -> Any:
    """``{ DWORD count; [size_is(count)] T* items; }`` — the *Array_r shapes."""
    count = r.u32()
    if count > limit:
        raise NdrError(f"array count {count} out of range")
    cell = r.unique(lambda x: _conformant(x, count, read, size))
    if not cell.present and count:
        raise NdrError("null array pointer with a non-zero count")
    return _Post(cell, lambda items: items or [])


def _read_binary(r: Reader) -> Any:
    """Binary_r (2.2.2.3): cb, then [size_is(cb)] BYTE* lpb."""
    size = r.u32()
    if size > MAX_BINARY:
        raise NdrError(f"Binary_r of {size} bytes")

    def body(x: Reader) -> bytes:
        data = x.byte_array()
        if len(data) != size:
            raise NdrError("Binary_r conformance does not match cb")
        return data

    cell = r.unique(body)
    if not cell.present and size:
        raise NdrError("null Binary_r pointer with a non-zero size")
    return _Post(cell, lambda data: data or b"")


def _read_guid(x: Reader) -> uuid.UUID:
    return uuid.UUID(bytes_le=x.raw(16))


def _string8(x: Reader) -> Any:
    return _Post(x.unique(lambda y: y.cstring_bytes()), lambda data: data or b"")


def _wstring(x: Reader) -> Any:
    return _Post(x.unique(lambda y: y.wstring()), lambda text: text or "")


def _filetime(x: Reader) -> int:
    low = x.u32()
    return (x.u32() << 32) | low


def read_prop_value(r: Reader) -> Any:
    """PropertyValue_r (2.2.2.12) with its PROP_VAL_UNION (2.2.2.11); resolve() later."""
    tag = r.u32()
    r.u32()  # ulReserved
    arm = r.union_discriminant()
    if arm != tag & 0xFFFF:
        raise NdrError(f"union discriminant 0x{arm:04X} does not match tag 0x{tag:08X}")
    value: Any
    if arm == 0x0002:
        value = r.i16()
    elif arm == 0x0003:
        value = r.i32()
    elif arm == 0x000B:
        value = bool(r.u16())
    elif arm == 0x001E:
        value = _string8(r)
    elif arm == 0x001F:
        value = _wstring(r)
    elif arm == 0x0102:
        value = _read_binary(r)
    elif arm == 0x0048:
        cell = r.unique(_read_guid)
        value = cell
    elif arm == 0x0040:
        value = _filetime(r)
    elif arm == 0x000A:
        value = r.u32()
    elif arm == 0x1002:
        value = _counted(r, lambda x: x.i16(), 2)
    elif arm == 0x1003:
        value = _counted(r, lambda x: x.i32(), 4)
    elif arm == 0x101E:
        value = _counted(r, _string8, 4)
    elif arm == 0x101F:
        value = _counted(r, _wstring, 4)
    elif arm == 0x1102:
        value = _counted(r, _read_binary, 8)
    elif arm == 0x1048:
        value = _counted(r, lambda x: x.unique(_read_guid), 4)
    elif arm == 0x1040:
        value = _counted(r, _filetime, 8)
    elif arm in (0x0001, 0x000D, 0x0000):
        r.u32()  # lReserved
        value = None
    else:
        raise NdrError(f"property type 0x{arm:04X} has no PROP_VAL_UNION arm")
    return (tag, value)


def write_prop_value(w: Writer, prop: PropValue) -> None:
    """PropertyValue_r: tag, reserved, the union discriminant and arm (referents deferred)."""
    tag, value = prop
    arm = tag & 0xFFFF
    w.u32(tag & 0xFFFFFFFF)
    w.u32(0)
    w.u32(arm)
    if arm == 0x0002:
        w.i16(_s(value, 16))
    elif arm == 0x0003:
        w.i32(_s(value, 32))
    elif arm == 0x000B:
        w.u16(1 if value else 0)
    elif arm == 0x001E:
        w.unique(bytes(value), lambda x, v: x.cstring(v))
    elif arm == 0x001F:
        w.unique(str(value), lambda x, v: x.wstring(v))
    elif arm == 0x0102:
        _write_binary(w, bytes(value))
    elif arm == 0x0048:
        w.unique(value, lambda x, v: x.raw(v.bytes_le))
    elif arm == 0x0040:
        w.u32(value & 0xFFFFFFFF)
        w.u32((value >> 32) & 0xFFFFFFFF)
    elif arm == 0x000A:
        w.u32(value & 0xFFFFFFFF)
    elif arm in (0x1002, 0x1003, 0x101E, 0x101F, 0x1102, 0x1048, 0x1040):
        items = list(value)
        w.u32(len(items))
        w.unique(items, lambda x, v: _write_mv(x, arm, v))
    elif arm in (0x0001, 0x000D, 0x0000):
        w.u32(0)
    else:
        raise NdrError(f"property type 0x{arm:04X} cannot travel in PROP_VAL_UNION")


def _s(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _write_binary(w: Writer, data: bytes) -> None:
    w.u32(len(data))
    w.unique(data, lambda x, v: x.byte_array(v))


def _write_mv(w: Writer, arm: int, items: list[Any]) -> None:
    w.conformance(len(items))
    for item in items:
        if arm == 0x1002:
            w.i16(_s(item, 16))
        elif arm == 0x1003:
            w.i32(_s(item, 32))
        elif arm == 0x101E:
            w.unique(bytes(item), lambda x, v: x.cstring(v))
        elif arm == 0x101F:
            w.unique(str(item), lambda x, v: x.wstring(v))
        elif arm == 0x1102:
            _write_binary(w, bytes(item))
        elif arm == 0x1048:
            w.unique(item, lambda x, v: x.raw(v.bytes_le))
        else:  # 0x1040 FILETIME
            w.u32(item & 0xFFFFFFFF)
            w.u32((item >> 32) & 0xFFFFFFFF)


# --- rows ----------------------------------------------------------------------------


def write_row(w: Writer, props: Sequence[PropValue]) -> None:
    """PropertyRow_r (2.2.3): Reserved, cValues, pointer to the PropertyValue_r array."""
    w.u32(0)
    w.u32(len(props))
    w.unique(props, _write_prop_array)


def _write_prop_array(w: Writer, props: Sequence[PropValue]) -> None:
    w.conformance(len(props))
    for prop in props:
        write_prop_value(w, prop)


def write_rowset(w: Writer, rows: Sequence[Sequence[PropValue]]) -> None:
    """PropertyRowSet_r (2.2.4): a conformant structure (cRows first as max_count)."""
    w.conformance(len(rows))
    w.u32(len(rows))
    for row in rows:
        write_row(w, row)


def read_row(r: Reader) -> Any:
    """PropertyRow_r; resolve() after the flush gives a list of PropValue."""
    r.u32()  # Reserved
    count = r.u32()
    if count > MAX_ROWS:
        raise NdrError(f"PropertyRow_r with {count} values")
    cell = r.unique(lambda x: _conformant(x, count, read_prop_value, 12))
    if not cell.present and count:
        raise NdrError("null lpProps with a non-zero cValues")
    return _Post(cell, lambda props: props or [])


def read_rowset(r: Reader) -> Any:
    count = r.conformance()
    if r.u32() != count:
        raise NdrError("PropertyRowSet_r.cRows does not match its conformance")
    if count > MAX_ROWS:
        raise NdrError(f"PropertyRowSet_r with {count} rows")
    return r.items(count, read_row, min_item_size=12)


# --- string arrays -------------------------------------------------------------------


def read_strings_array(r: Reader, *, wide: bool) -> Any:
    """StringsArray_r / WStringsArray_r (2.2.2.13-14): a conformant structure of
    ``Count`` string pointers. resolve() gives a list of bytes (8-bit) or str."""
    count = r.conformance()
    if r.u32() != count:
        raise NdrError("StringsArray_r.Count does not match its conformance")
    if count > MAX_ROWS:
        raise NdrError(f"StringsArray_r with {count} strings")
    return r.items(count, _wstring if wide else _string8, min_item_size=4)


def write_strings_array(w: Writer, strings: Sequence[str | bytes], *, wide: bool) -> None:
    w.conformance(len(strings))
    w.u32(len(strings))
    for text in strings:
        if wide:
            w.unique(str(text), lambda x, v: x.wstring(v))
        else:
            w.unique(bytes(text) if isinstance(text, bytes) else str(text).encode("latin-1"),
                     lambda x, v: x.cstring(v))


def read_binary_array(r: Reader) -> Any:
    """BinaryArray_r (2.2.2.4): cValues and a pointer to Binary_r[]."""
    return _counted(r, _read_binary, 8)


# --- PropertyName_r ------------------------------------------------------------------


def read_prop_name(r: Reader) -> Any:
    """PropertyName_r (2.2.2.6): lpguid pointer, ulReserved, lID. resolve() -> (guid, id)."""
    guid = r.unique(_read_guid)
    r.u32()
    lid = r.i32()
    return _Post(guid, lambda g: (g, lid & 0xFFFFFFFF))


def write_prop_name_set(w: Writer, names: Sequence[tuple[uuid.UUID | None, int]]) -> None:
    """PropertyNameSet_r (2.2.2.7): a conformant structure of PropertyName_r."""
    w.conformance(len(names))
    w.u32(len(names))
    for guid, lid in names:
        w.unique(guid, lambda x, v: x.raw(v.bytes_le))
        w.u32(0)
        w.i32(_s(lid, 32))


# --- restrictions ----------------------------------------------------------------------


def read_restriction(r: Reader, string8: Callable[[bytes], str], depth: int = 0) -> Any:
    """Restriction_r (2.2.2.5 / MS-NSPI 2.3.4): rt and its RestrictionUnion_r.

    resolve() gives a :mod:`groupware.mapi.restrictions` node; PtypString8 constants
    are decoded with ``string8`` (the session's code page).
    """
    if depth > MAX_RESTRICTION_DEPTH:
        raise NdrError(f"restriction nested deeper than {MAX_RESTRICTION_DEPTH}")
    rt = r.u32()
    arm = r.union_discriminant()
    if arm != rt:
        raise NdrError(f"restriction discriminant {arm} does not match rt {rt}")
    inner = depth + 1

    def child(x: Reader) -> Any:
        return read_restriction(x, string8, inner)

    if rt in (0x00, 0x01):
        children = _counted(r, child, 8)
        kind: type[AndRestriction | OrRestriction] = AndRestriction if rt == 0 else OrRestriction
        return _Post(children, lambda items: kind(tuple(items)))
    if rt == 0x02:
        cell = r.unique(child)
        return _Post(cell, lambda node: NotRestriction(_need(node)))
    if rt in (0x03, 0x04):
        first, tag = r.u32(), r.u32()
        value = r.unique(read_prop_value)
        if rt == 0x03:
            return _Post(value, lambda v: ContentRestriction(
                _enum(FuzzyLevelLow, first & 0xFFFF), FuzzyLevelHigh(first >> 16 & 0xFFFF),
                PropTag(tag), _tagged(_need(v), string8)))
        return _Post(value, lambda v: PropertyRestriction(
            _enum(RelOp, first), PropTag(tag), _tagged(_need(v), string8)))
    if rt == 0x05:
        relop, tag1, tag2 = r.u32(), r.u32(), r.u32()
        return ComparePropertiesRestriction(_enum(RelOp, relop), PropTag(tag1), PropTag(tag2))
    if rt == 0x06:
        op, tag, mask = r.u32(), r.u32(), r.u32()
        return BitmaskRestriction(_enum(BitmapRelOp, op), PropTag(tag), mask)
    if rt == 0x07:
        relop, tag, size = r.u32(), r.u32(), r.u32()
        return SizeRestriction(_enum(RelOp, relop), PropTag(tag), size)
    if rt == 0x08:
        r.u32()
        tag = r.u32()
        r.u32()
        return ExistRestriction(PropTag(tag))
    if rt == 0x09:
        sub = r.u32()
        cell = r.unique(child)
        return _Post(cell, lambda node: SubObjectRestriction(PropTag(sub), _need(node)))
    raise NdrError(f"unknown restriction type {rt}")


def _need(value: Any) -> Any:
    if value is None:
        raise NdrError("null pointer inside a restriction")
    return value


def _enum(kind: Any, raw: int) -> Any:
    try:
        return kind(raw)
    except ValueError:
        raise NdrError(f"invalid {kind.__name__} {raw}") from None


def _tagged(prop: PropValue, string8: Callable[[bytes], str]) -> TaggedPropertyValue:
    tag, value = prop
    return TaggedPropertyValue(PropTag(tag), to_mapi_value(tag, value, string8))


def to_mapi_value(tag: int, value: Any, string8: Callable[[bytes], str]) -> Any:
    """A wire value in the Python form of :mod:`groupware.mapi.values`."""
    kind = tag & 0xFFFF
    if kind == 0x001E:
        return string8(value)
    if kind == 0x101E:
        return tuple(string8(v) for v in value)
    if kind & 0x1000 and isinstance(value, list):
        return tuple(value)
    return value


def write_restriction(w: Writer, node: Restriction, string8: Callable[[str], bytes]) -> None:
    """The encoder of :func:`read_restriction` (used by tests and clients)."""
    if isinstance(node, AndRestriction | OrRestriction):
        rt = 0 if isinstance(node, AndRestriction) else 1
        w.u32(rt)
        w.u32(rt)
        w.u32(len(node.restrictions))
        w.unique(list(node.restrictions), lambda x, v: _write_restriction_array(x, v, string8))
    elif isinstance(node, NotRestriction):
        w.u32(2)
        w.u32(2)
        w.unique(node.restriction, lambda x, v: write_restriction(x, v, string8))
    elif isinstance(node, ContentRestriction | PropertyRestriction):
        rt = 3 if isinstance(node, ContentRestriction) else 4
        w.u32(rt)
        w.u32(rt)
        if isinstance(node, ContentRestriction):
            w.u32(int(node.fuzzy_low) | (int(node.fuzzy_high) << 16))
        else:
            w.u32(int(node.relop))
        w.u32(node.tag)
        tag, value = node.value.tag, node.value.value
        if tag & 0xFFFF == 0x001E:
            value = string8(str(value))
        w.unique((tag, value), write_prop_value)
    elif isinstance(node, ComparePropertiesRestriction):
        w.u32(5)
        w.u32(5)
        w.u32(int(node.relop))
        w.u32(node.tag1)
        w.u32(node.tag2)
    elif isinstance(node, BitmaskRestriction):
        w.u32(6)
        w.u32(6)
        w.u32(int(node.op))
        w.u32(node.tag)
        w.u32(node.mask)
    elif isinstance(node, SizeRestriction):
        w.u32(7)
        w.u32(7)
        w.u32(int(node.relop))
        w.u32(node.tag)
        w.u32(node.size)
    elif isinstance(node, ExistRestriction):
        w.u32(8)
        w.u32(8)
        w.u32(0)
        w.u32(node.tag)
        w.u32(0)
    elif isinstance(node, SubObjectRestriction):
        w.u32(9)
        w.u32(9)
        w.u32(node.subobject)
        w.unique(node.restriction, lambda x, v: write_restriction(x, v, string8))
    else:
        raise NdrError(f"{type(node).__name__} has no NSPI form")


def _write_restriction_array(
    w: Writer, nodes: list[Restriction], string8: Callable[[str], bytes]
) -> None:
    w.conformance(len(nodes))
    for node in nodes:
        write_restriction(w, node, string8)
