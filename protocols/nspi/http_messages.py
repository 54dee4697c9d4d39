"""Request and response bodies of the MAPI/HTTP address-book endpoint
(MS-OXCMAPIHTTP 2.2.5, common types 2.2.1).

Every body is a little-endian sequence of fields; optional fields are preceded by a
one-byte "Has..." flag (any non-zero value means present; we write 0xFF). Each request
type is described once as a list of :class:`Field` and the same description drives
decoding and encoding in both directions, so the server and the project's own client
cannot disagree. Field shapes:

``u32``/``i32``/``u8``      fixed integers
``stat``                    HasState + STAT (MS-OXNSPI 2.2.8), optional
``stat!``                   STAT without the flag (Bind)
``guid``                    16 bytes
``mids``                    HasMinimalIds + count + MIds, optional
``mids!``                   count + MIds (QueryRows' explicit table, never flagged)
``tags``                    Has... + LargePropertyTagArray (2.2.1.3), optional
``values``                  Has... + AddressBookPropertyValueList (2.2.1.1), optional
``target``                  HasTarget + AddressBookTaggedPropertyValue, optional
``restriction``             HasFilter + restriction (MS-OXCDATA 2.12, 32-bit counts)
``propname``                HasPropertyName + GUID + id, optional
``strings``                 HasNames + StringArray_r (count + 8-bit NUL-terminated)
``wstrings``                HasNames + WStringArray_r (count + UTF-16 NUL-terminated)
``wstring``                 one UTF-16 NUL-terminated string
``string8``                 Has... + 8-bit NUL-terminated string, optional
``rows``                    HasColumnsAndRows + columns + row count + AddressBookPropertyRows
``value_lists``             HasRows + count + AddressBookPropertyValueList each
``entryids``                HasEntryIds + count + address-book entry ids (unprefixed)
``aux``                     AuxiliaryBufferSize + AuxiliaryBuffer

Property values in rows follow the address-book rules of 2.2.1.1: PtypString8,
PtypString, PtypBinary and every multi-valued type carry a HasValue byte, strings and
binaries inside multi-valued values one each, and counts are 32 bits. Python forms are
those of :mod:`protocols.nspi.ndr_types` (PtypString8 as bytes).
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.errors import MapiFormatError
from groupware.mapi.restrictions import decode_restriction, encode_restriction
from groupware.mapi.values import WireContext

# MAPI/HTTP counts are 32 bits wide everywhere, restrictions included (2.2.1).
AB_CONTEXT = WireContext(binary_count=4, value_count=4, struct_count=4,
                         string8_encoding="latin-1")
MAX_ITEMS = 100_000
MAX_AUX = 64 * 1024
ERROR_FLAG = 0x0A
UNAVAILABLE_FLAG = 0x01
PT_ERROR = 0x000A
EC_NOT_FOUND = 0x8004010F

_FIXED = {0x0002: "<h", 0x0003: "<i", 0x0004: "<f", 0x0005: "<d", 0x0006: "<q",
          0x0007: "<d", 0x000A: "<I", 0x0014: "<q", 0x0040: "<Q"}
_HAS_VALUE = {0x001E, 0x001F, 0x0102}


def _has_value(kind: int) -> bool:
    """MS-OXCMAPIHTTP 2.2.1.1: which types carry the HasValue byte."""
    return kind in _HAS_VALUE or bool(kind & 0x1000)


# --- values ------------------------------------------------------------------------------


def _write_element(w: Writer, kind: int, value: Any) -> None:
    if kind in _FIXED:
        fmt = _FIXED[kind]
        if fmt in ("<h", "<i", "<q"):
            bits = struct.calcsize(fmt) * 8
            value &= (1 << bits) - 1
            value = value - (1 << bits) if value >> (bits - 1) else value
        w.raw(struct.pack(fmt, value))
    elif kind == 0x000B:
        w.u8(1 if value else 0)
    elif kind == 0x001E:
        w.cstring8(bytes(value))
    elif kind == 0x001F:
        w.cstring16(str(value))
    elif kind == 0x0102:
        w.u32(len(value))
        w.raw(bytes(value))
    elif kind == 0x0048:
        w.guid(value)
    elif kind in (0x0001, 0x000D, 0x0000):
        pass
    else:
        raise MapiFormatError(f"property type 0x{kind:04X} has no address-book form")


def _read_element(r: Reader, kind: int) -> Any:
    if kind in _FIXED:
        fmt = _FIXED[kind]
        return struct.unpack(fmt, r.take(struct.calcsize(fmt), "value"))[0]
    if kind == 0x000B:
        return r.u8("PtypBoolean") != 0
    if kind == 0x001E:
        return r.cstring8("PtypString8")
    if kind == 0x001F:
        return r.cstring16("PtypString")
    if kind == 0x0102:
        size = r.count(4, 1, "PtypBinary", 1 << 24)
        return r.take(size, "PtypBinary")
    if kind == 0x0048:
        return r.guid()
    if kind in (0x0001, 0x000D, 0x0000):
        return None
    raise MapiFormatError(f"property type 0x{kind:04X} has no address-book form")


def write_value(w: Writer, kind: int, value: Any) -> None:
    """AddressBookPropertyValue (2.2.1.1): [HasValue] value."""
    if _has_value(kind):
        if value is None:
            w.u8(0)
            return
        w.u8(0xFF)
    if kind & 0x1000:
        element = kind & ~0x1000
        items = list(value)
        w.u32(len(items))
        for item in items:
            if element in _HAS_VALUE:
                w.u8(0xFF)
            _write_element(w, element, item)
    else:
        _write_element(w, kind, value)


def read_value(r: Reader, kind: int) -> Any:
    if _has_value(kind):
        flag = r.u8("HasValue")
        if flag == 0:
            return None
    if kind & 0x1000:
        element = kind & ~0x1000
        count = r.count(4, 1, "multi-valued property", MAX_ITEMS)
        items = []
        for _ in range(count):
            if element in _HAS_VALUE and r.u8("HasValue") == 0:
                items.append(b"" if element != 0x001F else "")
                continue
            items.append(_read_element(r, element))
        return items
    return _read_element(r, kind)


def write_value_list(w: Writer, props: Sequence[tuple[int, Any]]) -> None:
    """AddressBookPropertyValueList (2.2.1.2): count then AddressBookTaggedPropertyValue."""
    w.u32(len(props))
    for tag, value in props:
        w.u32(tag & 0xFFFFFFFF)
        write_value(w, tag & 0xFFFF, value)


def read_value_list(r: Reader) -> list[tuple[int, Any]]:
    count = r.count(4, 4, "AddressBookPropertyValueList", MAX_ITEMS)
    out = []
    for _ in range(count):
        tag = r.u32("property tag")
        out.append((tag, read_value(r, tag & 0xFFFF)))
    return out


def write_row(w: Writer, columns: Sequence[int], row: Sequence[tuple[int, Any]]) -> None:
    """AddressBookPropertyRow (2.2.1.7): flag 0 with plain (or typed) values, or flag 1
    with flagged values when any cell is missing or an error."""
    if len(row) != len(columns):
        raise MapiFormatError(f"{len(row)} cells for {len(columns)} columns")
    flagged = any(tag & 0xFFFF == PT_ERROR and column & 0xFFFF != PT_ERROR
                  for column, (tag, _) in zip(columns, row, strict=True))
    w.u8(1 if flagged else 0)
    for column, (tag, value) in zip(columns, row, strict=True):
        kind = column & 0xFFFF
        actual = tag & 0xFFFF
        is_error = actual == PT_ERROR and kind != PT_ERROR
        if kind == 0x0000:
            w.u16(PT_ERROR if is_error else actual)
        if flagged:
            if is_error:
                if value == EC_NOT_FOUND:
                    w.u8(UNAVAILABLE_FLAG)
                else:
                    w.u8(ERROR_FLAG)
                    w.u32(value & 0xFFFFFFFF)
                continue
            w.u8(0)
        write_value(w, actual if kind == 0x0000 else kind, value)


def read_row(r: Reader, columns: Sequence[int]) -> list[tuple[int, Any]]:
    """The inverse of :func:`write_row`; missing cells come back as PtypErrorCode
    (ecNotFound), as NSPI over DCE/RPC reports them."""
    flag = r.u8("AddressBookPropertyRow flag")
    if flag not in (0, 1):
        raise MapiFormatError(f"AddressBookPropertyRow flag {flag}")
    out = []
    for column in columns:
        kind = column & 0xFFFF
        base = column & 0xFFFF0000
        if kind == 0x0000:
            kind = r.u16("property type")
        if flag:
            cell = r.u8("flag")
            if cell == UNAVAILABLE_FLAG:
                out.append((base | PT_ERROR, EC_NOT_FOUND))
                continue
            if cell == ERROR_FLAG:
                out.append((base | PT_ERROR, r.u32("error")))
                continue
            if cell != 0:
                raise MapiFormatError(f"flagged value flag {cell}")
        out.append((base | kind, read_value(r, kind)))
    return out


# --- fields ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    shape: str


def _stat(r: Reader) -> tuple[int, ...]:
    values = [r.u32("STAT") for _ in range(9)]
    delta = values[3]
    values[3] = delta - (1 << 32) if delta & 0x80000000 else delta
    return tuple(values)


def _write_stat(w: Writer, stat: Sequence[int]) -> None:
    for value in stat:
        w.u32(value & 0xFFFFFFFF)


def _entry_id(r: Reader) -> bytes:
    """An address-book entry id, unprefixed: ephemeral (0x87, 32 bytes) or permanent
    (28 bytes and a NUL-terminated DN)."""
    kind = r.u8("entry id type")
    if kind == 0x87:
        return bytes([kind]) + r.take(31, "ephemeral entry id")
    if kind == 0:
        head = r.take(27, "permanent entry id")
        return bytes([kind]) + head + r.cstring8("X500DN", 4096) + b"\0"
    raise MapiFormatError(f"entry id type 0x{kind:02X}")


def _present(r: Reader) -> bool:
    return r.u8("Has flag") != 0


def decode_fields(data: bytes, fields: Sequence[Field]) -> dict[str, Any]:
    r = Reader(data)
    out: dict[str, Any] = {}
    for f in fields:
        s = f.shape
        if s == "u32":
            out[f.name] = r.u32(f.name)
        elif s == "i32":
            out[f.name] = r.i32(f.name)
        elif s == "u8":
            out[f.name] = r.u8(f.name)
        elif s == "guid":
            out[f.name] = r.guid(f.name)
        elif s == "stat!":
            out[f.name] = _stat(r)
        elif s == "opt_u32":
            out[f.name] = r.u32(f.name) if _present(r) else None
        elif s == "opt_i32":
            out[f.name] = r.i32(f.name) if _present(r) else None
        elif s == "stat":
            out[f.name] = _stat(r) if _present(r) else None
        elif s == "mids!":
            count = r.count(4, 4, f.name, MAX_ITEMS)
            out[f.name] = [r.u32() for _ in range(count)] if count else None
        elif s in ("mids", "tags"):
            if _present(r):
                count = r.count(4, 4, f.name, MAX_ITEMS)
                out[f.name] = [r.u32() for _ in range(count)]
            else:
                out[f.name] = None
        elif s == "values":
            out[f.name] = read_value_list(r) if _present(r) else None
        elif s == "target":
            if _present(r):
                tag = r.u32("tag")
                out[f.name] = (tag, read_value(r, tag & 0xFFFF))
            else:
                out[f.name] = None
        elif s == "restriction":
            out[f.name] = decode_restriction(r, AB_CONTEXT) if _present(r) else None
        elif s == "propname":
            out[f.name] = (r.guid(), r.u32()) if _present(r) else None
        elif s in ("strings", "wstrings"):
            if _present(r):
                count = r.count(4, 1, f.name, MAX_ITEMS)
                out[f.name] = [r.cstring8(f.name) if s == "strings" else r.cstring16(f.name)
                               for _ in range(count)]
            else:
                out[f.name] = None
        elif s == "wstring":
            out[f.name] = r.cstring16(f.name)
        elif s == "string8":
            out[f.name] = r.cstring8(f.name) if _present(r) else None
        elif s == "rows":
            if _present(r):
                count = r.count(4, 4, "columns", MAX_ITEMS)
                columns = [r.u32() for _ in range(count)]
                rows = r.count(4, 1, "rows", MAX_ITEMS)
                out[f.name] = (columns, [read_row(r, columns) for _ in range(rows)])
            else:
                out[f.name] = None
        elif s == "value_lists":
            if _present(r):
                count = r.count(4, 4, "rows", MAX_ITEMS)
                out[f.name] = [read_value_list(r) for _ in range(count)]
            else:
                out[f.name] = None
        elif s == "entryids":
            if _present(r):
                count = r.count(4, 28, "entry ids", MAX_ITEMS)
                out[f.name] = [_entry_id(r) for _ in range(count)]
            else:
                out[f.name] = []
        elif s == "aux":
            size = r.count(4, 1, "AuxiliaryBuffer", MAX_AUX)
            out[f.name] = r.take(size, "AuxiliaryBuffer")
        else:  # pragma: no cover - a programming error in a schema
            raise AssertionError(s)
    r.expect_end("request body")
    return out


def encode_fields(values: dict[str, Any], fields: Sequence[Field]) -> bytes:
    w = Writer()
    for f in fields:
        s = f.shape
        v: Any = values.get(f.name)
        optional = s in ("stat", "opt_u32", "opt_i32", "mids", "tags", "values", "target",
                         "restriction",
                         "propname", "strings", "wstrings", "string8", "rows",
                         "value_lists")
        if optional:
            if v is None:
                w.u8(0)
                continue
            w.u8(0xFF)
        if s in ("u32", "opt_u32"):
            w.u32((v or 0) & 0xFFFFFFFF)
        elif s in ("i32", "opt_i32"):
            w.sint(v or 0, 4)
        elif s == "u8":
            w.u8(v or 0)
        elif s == "guid":
            w.guid(v or uuid.UUID(int=0))
        elif s in ("stat!", "stat"):
            _write_stat(w, v or (0,) * 9)
        elif s in ("mids!", "mids", "tags"):
            items = list(v or ())
            w.u32(len(items))
            for item in items:
                w.u32(item & 0xFFFFFFFF)
        elif s == "values":
            write_value_list(w, v)
        elif s == "target":
            tag, value = v
            w.u32(tag)
            write_value(w, tag & 0xFFFF, value)
        elif s == "restriction":
            encode_restriction(w, v, AB_CONTEXT)
        elif s == "propname":
            guid, lid = v
            w.guid(guid)
            w.u32(lid)
        elif s in ("strings", "wstrings"):
            w.u32(len(v))
            for item in v:
                if s == "strings":
                    w.cstring8(item if isinstance(item, bytes) else str(item).encode("latin-1"))
                else:
                    w.cstring16(item)
        elif s == "wstring":
            w.cstring16(v or "")
        elif s == "string8":
            w.cstring8(v)
        elif s == "rows":
            columns, rows = v
            w.u32(len(columns))
            for tag in columns:
                w.u32(tag & 0xFFFFFFFF)
            w.u32(len(rows))
            for row in rows:
                write_row(w, columns, row)
        elif s == "value_lists":
            w.u32(len(v))
            for props in v:
                write_value_list(w, props)
        elif s == "entryids":
            items = list(v or ())
            if not items:
                w.u8(0)
                continue
            w.u8(0xFF)
            w.u32(len(items))
            for raw in items:
                w.raw(bytes(raw))
        elif s == "aux":
            data = v or b""
            w.u32(len(data))
            w.raw(data)
        else:  # pragma: no cover
            raise AssertionError(s)
    return w.getvalue()


def _fields(*spec: str) -> tuple[Field, ...]:
    return tuple(Field(*item.split(":")) for item in spec)


# MS-OXCMAPIHTTP 2.2.5.x: (request fields, response fields). Every response starts with
# StatusCode (always 0 once the request was processed) and ErrorCode.
REQUESTS: dict[str, tuple[tuple[Field, ...], tuple[Field, ...]]] = {
    "Bind": (_fields("flags:u32", "state:stat", "aux:aux"),
             _fields("status:u32", "result:u32", "server_guid:guid", "aux:aux")),
    "Unbind": (_fields("reserved:u32", "aux:aux"),
               _fields("status:u32", "result:u32", "aux:aux")),
    "CompareMIds": (_fields("reserved:u32", "state:stat", "mid1:u32", "mid2:u32", "aux:aux"),
                    _fields("status:u32", "result:u32", "comparison:i32", "aux:aux")),
    "DNToMId": (_fields("reserved:u32", "names:strings", "aux:aux"),
                _fields("status:u32", "result:u32", "mids:mids", "aux:aux")),
    "GetMatches": (_fields("reserved:u32", "state:stat", "in_mids:mids", "reserved2:u32",
                           "filter:restriction", "prop_name:propname", "row_count:u32",
                           "columns:tags", "aux:aux"),
                   _fields("status:u32", "result:u32", "state:stat", "mids:mids",
                           "rows:rows", "aux:aux")),
    "GetPropList": (_fields("flags:u32", "mid:u32", "code_page:u32", "aux:aux"),
                    _fields("status:u32", "result:u32", "tags:tags", "aux:aux")),
    "GetProps": (_fields("flags:u32", "state:stat", "tags:tags", "aux:aux"),
                 _fields("status:u32", "result:u32", "code_page:u32", "values:values",
                         "aux:aux")),
    "GetSpecialTable": (_fields("flags:u32", "state:stat", "version:opt_u32", "aux:aux"),
                        _fields("status:u32", "result:u32", "code_page:u32",
                                "version:opt_u32", "rows:value_lists", "aux:aux")),
    "GetTemplateInfo": (_fields("flags:u32", "type:u32", "dn:string8", "code_page:u32",
                                "locale:u32", "aux:aux"),
                        _fields("status:u32", "result:u32", "code_page:u32", "row:values",
                                "aux:aux")),
    "ModLinkAtt": (_fields("flags:u32", "tag:u32", "mid:u32", "entry_ids:entryids", "aux:aux"),
                   _fields("status:u32", "result:u32", "aux:aux")),
    "ModProps": (_fields("reserved:u32", "state:stat", "remove:tags", "values:values",
                         "aux:aux"),
                 _fields("status:u32", "result:u32", "aux:aux")),
    "QueryRows": (_fields("flags:u32", "state:stat", "explicit:mids!", "row_count:u32",
                          "columns:tags", "aux:aux"),
                  _fields("status:u32", "result:u32", "state:stat", "rows:rows", "aux:aux")),
    "QueryColumns": (_fields("reserved:u32", "flags:u32", "aux:aux"),
                     _fields("status:u32", "result:u32", "columns:tags", "aux:aux")),
    "ResolveNames": (_fields("reserved:u32", "state:stat", "columns:tags", "names:wstrings",
                             "aux:aux"),
                     _fields("status:u32", "result:u32", "code_page:u32", "mids:mids",
                             "rows:rows", "aux:aux")),
    "ResortRestriction": (_fields("reserved:u32", "state:stat", "mids:mids", "aux:aux"),
                          _fields("status:u32", "result:u32", "state:stat", "mids:mids",
                                  "aux:aux")),
    "SeekEntries": (_fields("reserved:u32", "state:stat", "target:target", "explicit:mids",
                            "columns:tags", "aux:aux"),
                    _fields("status:u32", "result:u32", "state:stat", "rows:rows",
                            "aux:aux")),
    "UpdateStat": (_fields("reserved:u32", "state:stat", "delta_requested:u8", "aux:aux"),
                   _fields("status:u32", "result:u32", "state:stat", "delta:opt_i32",
                           "aux:aux")),
    "GetMailboxUrl": (_fields("flags:u32", "server_dn:wstring", "aux:aux"),
                      _fields("status:u32", "result:u32", "url:wstring", "aux:aux")),
    "GetAddressBookUrl": (_fields("flags:u32", "user_dn:wstring", "aux:aux"),
                          _fields("status:u32", "result:u32", "url:wstring", "aux:aux")),
}
