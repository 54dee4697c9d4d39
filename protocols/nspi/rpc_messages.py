"""NSPI and RFR calls over DCE/RPC: request stubs in, response stubs out.

Layouts follow the MS-OXNSPI IDL (3.1.4.1; the parameter order below is the wire
order) and MS-OXABREF 3.1.4. Top-level ``[in] T*`` parameters are [ref]: their
referent is inline. Output ``T**`` parameters are a [unique] pointer then the
referent. The return value (a ``long``) ends every response stub.

One deliberate leniency: impacket 0.13 marshals ``pStat`` of NspiGetProps and
NspiGetSpecialTable as a [unique] pointer, contrary to the IDL that Outlook (and the
Microsoft test suite's MIDL stubs) follow. :func:`decode_get_props` and
:func:`decode_get_special_table` first parse the IDL form and require it to consume
the stub exactly; only when it does not do they parse the pointer form.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from groupware.mapi.restrictions import Restriction
from protocols.nspi.ndr_types import (
    PropValue,
    StatTuple,
    read_binary_array,
    read_prop_name,
    read_prop_value,
    read_restriction,
    read_row,
    read_stat,
    read_strings_array,
    read_tag_array,
    resolve,
    write_prop_name_set,
    write_row,
    write_rowset,
    write_stat,
    write_tag_array,
)
from protocols.rpc.errors import NdrError
from protocols.rpc.ndr import ContextHandle, Reader, Writer

Rows = Sequence[Sequence[PropValue]]
String8Codec = Callable[[int], Callable[[bytes], str]]
"""code page -> decoder of 8-bit strings in that code page."""

MAX_STUB = 8 << 20
"""Largest response stub we build (a QueryRows page of 100 wide rows is ~1 MB)."""


def _reader(stub: bytes) -> Reader:
    return Reader(stub, max_count=1 << 20)


def _end(r: Reader, exact: bool = False) -> None:
    r.expect_end()
    if exact and r.remaining:
        raise NdrError(f"{r.remaining} bytes after the last parameter")


def _out_writer() -> Writer:
    return Writer(max_size=MAX_STUB)


# --- requests --------------------------------------------------------------------------


@dataclass(frozen=True)
class BindRequest:
    flags: int
    stat: StatTuple
    server_guid: uuid.UUID | None


@dataclass(frozen=True)
class HandleRequest:
    """Unbind and the calls that carry nothing but the handle and two DWORDs."""

    handle: ContextHandle
    first: int
    second: int = 0


@dataclass(frozen=True)
class UpdateStatRequest:
    handle: ContextHandle
    stat: StatTuple
    delta_requested: bool


@dataclass(frozen=True)
class QueryRowsRequest:
    handle: ContextHandle
    flags: int
    stat: StatTuple
    explicit: list[int] | None
    count: int
    tags: list[int] | None


@dataclass(frozen=True)
class SeekEntriesRequest:
    handle: ContextHandle
    stat: StatTuple
    target: PropValue
    explicit: list[int] | None
    tags: list[int] | None


@dataclass(frozen=True)
class GetMatchesRequest:
    handle: ContextHandle
    stat: StatTuple
    reserved1: int
    in_mids: list[int] | None
    restriction: Restriction | None
    prop_name: tuple[uuid.UUID | None, int] | None
    requested: int
    tags: list[int] | None


@dataclass(frozen=True)
class ResortRestrictionRequest:
    handle: ContextHandle
    stat: StatTuple
    in_mids: list[int]


@dataclass(frozen=True)
class DNToMIdRequest:
    handle: ContextHandle
    names: list[bytes]


@dataclass(frozen=True)
class GetPropListRequest:
    handle: ContextHandle
    flags: int
    mid: int
    code_page: int


@dataclass(frozen=True)
class GetPropsRequest:
    handle: ContextHandle
    flags: int
    stat: StatTuple
    tags: list[int] | None


@dataclass(frozen=True)
class CompareMIdsRequest:
    handle: ContextHandle
    stat: StatTuple
    mid1: int
    mid2: int


@dataclass(frozen=True)
class ModPropsRequest:
    handle: ContextHandle
    stat: StatTuple
    tags: list[int] | None
    row: list[PropValue]


@dataclass(frozen=True)
class GetSpecialTableRequest:
    handle: ContextHandle
    flags: int
    stat: StatTuple
    version: int


@dataclass(frozen=True)
class GetTemplateInfoRequest:
    handle: ContextHandle
    flags: int
    type: int
    dn: bytes | None
    code_page: int
    locale: int


@dataclass(frozen=True)
class ModLinkAttRequest:
    handle: ContextHandle
    flags: int
    tag: int
    mid: int
    entry_ids: list[bytes]


@dataclass(frozen=True)
class GetNamesFromIDsRequest:
    handle: ContextHandle
    guid: uuid.UUID | None
    tags: list[int] | None


@dataclass(frozen=True)
class GetIDsFromNamesRequest:
    handle: ContextHandle
    flags: int
    names: list[tuple[uuid.UUID | None, int]]


@dataclass(frozen=True)
class ResolveNamesRequest:
    handle: ContextHandle
    stat: StatTuple
    tags: list[int] | None
    names: list[str] | list[bytes]
    wide: bool


def _unique_tags(r: Reader) -> list[int] | None:
    cell = r.unique(read_tag_array)
    r.flush()
    return cell.value


def decode_bind(stub: bytes) -> BindRequest:
    """NspiBind (3.1.4.1.1): dwFlags, [in] STAT*, [in,out,unique] FlatUID_r* pServerGuid."""
    r = _reader(stub)
    flags = r.u32()
    stat = read_stat(r)
    guid = r.unique(lambda x: uuid.UUID(bytes_le=x.raw(16)))
    r.flush()
    _end(r)
    return BindRequest(flags, stat, guid.value)


def decode_unbind(stub: bytes) -> HandleRequest:
    """NspiUnbind (3.1.4.1.2): [in,out] NSPI_HANDLE*, Reserved."""
    r = _reader(stub)
    handle = r.context_handle()
    reserved = r.u32()
    _end(r)
    return HandleRequest(handle, reserved)


def decode_update_stat(stub: bytes) -> UpdateStatRequest:
    """NspiUpdateStat (3.1.4.1.5): handle, Reserved, [in,out] STAT*, [in,out,unique] long*."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    delta = r.unique(lambda x: x.i32())
    r.flush()
    _end(r)
    return UpdateStatRequest(handle, stat, delta.present)


def decode_query_rows(stub: bytes) -> QueryRowsRequest:
    """NspiQueryRows (3.1.4.1.8): handle, dwFlags, STAT, dwETableCount,
    [unique, size_is(dwETableCount)] DWORD* lpETable, Count, [unique] pPropTags."""
    r = _reader(stub)
    handle = r.context_handle()
    flags = r.u32()
    stat = read_stat(r)
    count = r.u32()
    if count > 100_000:
        raise NdrError(f"dwETableCount {count} out of range")

    def table(x: Reader) -> list[int]:
        size = x.conformance()
        if size != count:
            raise NdrError("lpETable conformance does not match dwETableCount")
        return x.items(size, lambda y: y.u32(), min_item_size=4)

    explicit = r.unique(table)
    r.flush()
    rows = r.u32()
    tags = _unique_tags(r)
    _end(r)
    return QueryRowsRequest(handle, flags, stat, explicit.value, rows, tags)


def decode_seek_entries(stub: bytes) -> SeekEntriesRequest:
    """NspiSeekEntries (3.1.4.1.9): handle, Reserved, STAT, [in] PropertyValue_r* pTarget,
    [unique] lpETable, [unique] pPropTags."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    target = read_prop_value(r)
    r.flush()
    explicit = _unique_tags(r)
    tags = _unique_tags(r)
    _end(r)
    return SeekEntriesRequest(handle, stat, resolve(target), explicit, tags)


def decode_get_matches(stub: bytes, codec: String8Codec) -> GetMatchesRequest:
    """NspiGetMatches (3.1.4.1.10): handle, Reserved1, STAT, [unique] pReserved,
    Reserved2, [unique] Restriction_r* Filter, [unique] PropertyName_r* lpPropName,
    ulRequested, [unique] pPropTags."""
    r = _reader(stub)
    handle = r.context_handle()
    reserved1 = r.u32()
    stat = read_stat(r)
    in_mids = _unique_tags(r)
    r.u32()
    string8 = codec(stat[6])
    node = r.unique(lambda x: read_restriction(x, string8))
    r.flush()
    name = r.unique(read_prop_name)
    r.flush()
    requested = r.u32()
    tags = _unique_tags(r)
    _end(r)
    return GetMatchesRequest(handle, stat, reserved1, in_mids, resolve(node),
                             resolve(name), requested, tags)


def decode_resort_restriction(stub: bytes) -> ResortRestrictionRequest:
    """NspiResortRestriction (3.1.4.1.11): handle, Reserved, STAT, [in] pInMIds,
    [in,out] PropertyTagArray_r** ppOutMIds (a [unique] pointer the server ignores)."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    mids = read_tag_array(r)
    _unique_tags(r)
    _end(r)
    return ResortRestrictionRequest(handle, stat, mids)


def decode_dn_to_mid(stub: bytes) -> DNToMIdRequest:
    """NspiDNToMId (3.1.4.1.13): handle, Reserved, [in] StringsArray_r* pNames."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    names = read_strings_array(r, wide=False)
    r.flush()
    _end(r)
    return DNToMIdRequest(handle, resolve(names))


def decode_get_prop_list(stub: bytes) -> GetPropListRequest:
    """NspiGetPropList (3.1.4.1.6): handle, dwFlags, dwMId, CodePage."""
    r = _reader(stub)
    handle = r.context_handle()
    request = GetPropListRequest(handle, r.u32(), r.u32(), r.u32())
    _end(r)
    return request


def decode_get_props(stub: bytes) -> GetPropsRequest:
    """NspiGetProps (3.1.4.1.7): handle, dwFlags, [in] STAT*, [unique] pPropTags."""

    def parse(pointer_stat: bool) -> GetPropsRequest:
        r = _reader(stub)
        handle = r.context_handle()
        flags = r.u32()
        if pointer_stat:
            cell = r.unique(read_stat)
            r.flush()
            if cell.value is None:
                raise NdrError("null pStat")
            stat = cell.value
        else:
            stat = read_stat(r)
        tags = _unique_tags(r)
        _end(r, exact=True)
        return GetPropsRequest(handle, flags, stat, tags)

    try:
        return parse(False)
    except NdrError:
        return parse(True)


def decode_compare_mids(stub: bytes) -> CompareMIdsRequest:
    """NspiCompareMIds (3.1.4.1.12): handle, Reserved, STAT, MId1, MId2."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    request = CompareMIdsRequest(handle, stat, r.u32(), r.u32())
    _end(r)
    return request


def decode_mod_props(stub: bytes) -> ModPropsRequest:
    """NspiModProps (3.1.4.1.14): handle, Reserved, STAT, [unique] pPropTags,
    [in] PropertyRow_r* pRow."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    tags = _unique_tags(r)
    row = read_row(r)
    r.flush()
    _end(r)
    return ModPropsRequest(handle, stat, tags, resolve(row))


def decode_get_special_table(stub: bytes) -> GetSpecialTableRequest:
    """NspiGetSpecialTable (3.1.4.1.3): handle, dwFlags, [in] STAT*, [in,out] DWORD*."""

    def parse(pointer_stat: bool) -> GetSpecialTableRequest:
        r = _reader(stub)
        handle = r.context_handle()
        flags = r.u32()
        if pointer_stat:
            cell = r.unique(read_stat)
            r.flush()
            if cell.value is None:
                raise NdrError("null pStat")
            stat = cell.value
        else:
            stat = read_stat(r)
        version = r.u32()
        _end(r, exact=True)
        return GetSpecialTableRequest(handle, flags, stat, version)

    try:
        return parse(False)
    except NdrError:
        return parse(True)


def decode_get_template_info(stub: bytes) -> GetTemplateInfoRequest:
    """NspiGetTemplateInfo (3.1.4.1.18): handle, dwFlags, ulType, [unique, string] pDN,
    dwCodePage, dwLocaleID."""
    r = _reader(stub)
    handle = r.context_handle()
    flags = r.u32()
    kind = r.u32()
    dn = r.unique(lambda x: x.cstring_bytes())
    r.flush()
    request = GetTemplateInfoRequest(handle, flags, kind, dn.value, r.u32(), r.u32())
    _end(r)
    return request


def decode_mod_link_att(stub: bytes) -> ModLinkAttRequest:
    """NspiModLinkAtt (3.1.4.1.15): handle, dwFlags, ulPropTag, dwMId,
    [in] BinaryArray_r* lpEntryIds."""
    r = _reader(stub)
    handle = r.context_handle()
    flags, tag, mid = r.u32(), r.u32(), r.u32()
    ids = read_binary_array(r)
    r.flush()
    _end(r)
    return ModLinkAttRequest(handle, flags, tag, mid, resolve(ids))


def decode_query_columns(stub: bytes) -> HandleRequest:
    """NspiQueryColumns (3.1.4.1.19): handle, Reserved, dwFlags."""
    r = _reader(stub)
    handle = r.context_handle()
    request = HandleRequest(handle, r.u32(), r.u32())
    _end(r)
    return request


def decode_get_names_from_ids(stub: bytes) -> GetNamesFromIDsRequest:
    """NspiGetNamesFromIDs (3.1.4.1.16): handle, Reserved, [unique] FlatUID_r* lpguid,
    [unique] pPropTags."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    guid = r.unique(lambda x: uuid.UUID(bytes_le=x.raw(16)))
    r.flush()
    tags = _unique_tags(r)
    _end(r)
    return GetNamesFromIDsRequest(handle, guid.value, tags)


def decode_get_ids_from_names(stub: bytes) -> GetIDsFromNamesRequest:
    """NspiGetIDsFromNames (3.1.4.1.17): handle, Reserved, dwFlags, cPropNames,
    [size_is(cPropNames)] PropertyName_r** pNames."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    flags = r.u32()
    count = r.u32()
    if count > 100_000:
        raise NdrError(f"cPropNames {count} out of range")
    size = r.conformance()
    if size != count:
        raise NdrError("pNames conformance does not match cPropNames")
    cells = r.items(size, lambda x: x.unique(read_prop_name), min_item_size=4)
    r.flush()
    _end(r)
    names = []
    for cell in cells:
        if not cell.present:
            raise NdrError("null PropertyName_r pointer")
        names.append(resolve(cell))
    return GetIDsFromNamesRequest(handle, flags, names)


def decode_resolve_names(stub: bytes, *, wide: bool) -> ResolveNamesRequest:
    """NspiResolveNames[W] (3.1.4.1.16-17): handle, Reserved, STAT, [unique] pPropTags,
    [in] (W)StringsArray_r* paStr."""
    r = _reader(stub)
    handle = r.context_handle()
    r.u32()
    stat = read_stat(r)
    tags = _unique_tags(r)
    names = read_strings_array(r, wide=wide)
    r.flush()
    _end(r)
    return ResolveNamesRequest(handle, stat, tags, resolve(names), wide)


# --- responses ---------------------------------------------------------------------------


def _unique_tags_out(w: Writer, tags: Sequence[int] | None) -> None:
    w.unique(list(tags) if tags is not None else None, write_tag_array)
    w.flush()


def _rows_out(w: Writer, rows: Rows | None) -> None:
    w.unique(rows, write_rowset)
    w.flush()


def encode_bind(server_guid: uuid.UUID | None, handle: ContextHandle, result: int) -> bytes:
    w = _out_writer()
    w.unique(server_guid, lambda x, v: x.raw(v.bytes_le))
    w.flush()
    w.context_handle(handle)
    w.u32(result)
    return w.getvalue()


def encode_unbind(handle: ContextHandle, result: int) -> bytes:
    w = _out_writer()
    w.context_handle(handle)
    w.u32(result)
    return w.getvalue()


def encode_update_stat(stat: StatTuple, delta: int | None, result: int) -> bytes:
    w = _out_writer()
    write_stat(w, stat)
    w.unique(delta, lambda x, v: x.i32(v))
    w.flush()
    w.u32(result)
    return w.getvalue()


def encode_stat_rows(stat: StatTuple, rows: Rows | None, result: int) -> bytes:
    """NspiQueryRows and NspiSeekEntries: [in,out] STAT, PropertyRowSet_r**."""
    w = _out_writer()
    write_stat(w, stat)
    _rows_out(w, rows)
    w.u32(result)
    return w.getvalue()


def encode_get_matches(stat: StatTuple, mids: Sequence[int] | None, rows: Rows | None,
                       result: int) -> bytes:
    w = _out_writer()
    write_stat(w, stat)
    _unique_tags_out(w, mids)
    _rows_out(w, rows)
    w.u32(result)
    return w.getvalue()


def encode_resort_restriction(stat: StatTuple, mids: Sequence[int] | None,
                              result: int) -> bytes:
    w = _out_writer()
    write_stat(w, stat)
    _unique_tags_out(w, mids)
    w.u32(result)
    return w.getvalue()


def encode_tags(tags: Sequence[int] | None, result: int) -> bytes:
    """DNToMId, GetPropList, QueryColumns, GetIDsFromNames: one PropertyTagArray_r**."""
    w = _out_writer()
    _unique_tags_out(w, tags)
    w.u32(result)
    return w.getvalue()


def encode_row(row: Sequence[PropValue] | None, result: int) -> bytes:
    """GetProps and GetTemplateInfo: one PropertyRow_r**."""
    w = _out_writer()
    w.unique(row, write_row)
    w.flush()
    w.u32(result)
    return w.getvalue()


def encode_compare_mids(comparison: int, result: int) -> bytes:
    w = _out_writer()
    w.i32(comparison)
    w.u32(result)
    return w.getvalue()


def encode_result(result: int) -> bytes:
    """ModProps and ModLinkAtt return only the status."""
    w = _out_writer()
    w.u32(result)
    return w.getvalue()


def encode_get_special_table(version: int, rows: Rows | None, result: int) -> bytes:
    w = _out_writer()
    w.u32(version)
    _rows_out(w, rows)
    w.u32(result)
    return w.getvalue()


def encode_get_names_from_ids(tags: Sequence[int] | None,
                              names: Sequence[tuple[uuid.UUID | None, int]] | None,
                              result: int) -> bytes:
    w = _out_writer()
    _unique_tags_out(w, tags)
    w.unique(list(names) if names is not None else None, write_prop_name_set)
    w.flush()
    w.u32(result)
    return w.getvalue()


def encode_resolve_names(mids: Sequence[int] | None, rows: Rows | None, result: int) -> bytes:
    w = _out_writer()
    _unique_tags_out(w, mids)
    _rows_out(w, rows)
    w.u32(result)
    return w.getvalue()


# --- RFR (MS-OXABREF) ------------------------------------------------------------------


@dataclass(frozen=True)
class GetNewDsaRequest:
    flags: int
    user_dn: bytes
    unused: bytes | None
    server: bytes | None


def _double_pointer_string(r: Reader) -> Any:
    """``[unique, string] char**``: a pointer to a (unique) pointer to a string."""
    return r.unique(lambda x: x.unique(lambda y: y.cstring_bytes()))


def decode_get_new_dsa(stub: bytes) -> GetNewDsaRequest:
    """RfrGetNewDSA (MS-OXABREF 3.1.4.1): ulFlags, [string] pUserDN,
    [in,out,unique,string] ppszUnused, [in,out,unique,string] ppszServer."""
    r = _reader(stub)
    flags = r.u32()
    user_dn = r.cstring_bytes()
    unused = _double_pointer_string(r)
    r.flush()
    server = _double_pointer_string(r)
    r.flush()
    _end(r)
    return GetNewDsaRequest(flags, user_dn, resolve(unused), resolve(server))


def encode_get_new_dsa(unused: bytes | None, server: bytes | None, result: int) -> bytes:
    w = _out_writer()
    for value in (unused, server):
        w.unique(value, lambda x, v: x.unique(v, lambda y, s: y.cstring(s)))
        w.flush()
    w.u32(result)
    return w.getvalue()


def decode_get_fqdn(stub: bytes) -> tuple[int, bytes]:
    """RfrGetFQDNFromServerDN (3.1.4.2): ulFlags, cbMailboxServerDN in 10..1024,
    [string, size_is(cbMailboxServerDN)] szMailboxServerDN."""
    r = _reader(stub)
    flags = r.u32()
    size = r.u32()
    if not 10 <= size <= 1024:
        raise NdrError(f"cbMailboxServerDN {size} out of range")
    dn = r.cstring_bytes()
    _end(r)
    return flags, dn


def encode_get_fqdn(fqdn: bytes | None, result: int) -> bytes:
    """[out, ref, string] char** ppszServerFQDN: the inner [unique] pointer and string."""
    w = _out_writer()
    w.unique(fqdn, lambda x, v: x.cstring(v))
    w.flush()
    w.u32(result)
    return w.getvalue()
