"""NSPI and RFR stubs against an independent NDR implementation: requests marshalled by
impacket decode with ours, our responses unmarshal with impacket's classes, the
MS-OXNSPI section 4 example decodes as documented, and garbage only ever raises
NdrError (or another InvalidInput)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from impacket.dcerpc.v5 import nspi, oxabref
from impacket.dcerpc.v5.dtypes import DWORD, LPSTR, LPWSTR, NULL, ULONG
from impacket.dcerpc.v5.ndr import NDRCALL

from groupware.errors import InvalidInput
from groupware.mapi.restrictions import (
    AndRestriction,
    ContentRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    OrRestriction,
    PropertyRestriction,
    RelOp,
)
from groupware.mapi.values import TaggedPropertyValue
from groupware.types import PropTag
from protocols.nspi import rpc_messages as m
from protocols.nspi.ndr_types import read_restriction, resolve, write_restriction
from protocols.rpc.ndr import ContextHandle, Reader, Writer

HANDLE = ContextHandle(0, uuid.UUID("01234567-89ab-cdef-0123-456789abcdef"))


def _handle() -> nspi.handle_t:
    h = nspi.handle_t()
    h["context_handle_attributes"] = 0
    h["context_handle_uuid"] = HANDLE.uuid.bytes_le
    return h


def _tags(target: Any, tags: list[int]) -> None:
    for tag in tags:
        item = DWORD()
        item["Data"] = tag
        target["aulPropTag"].append(item)
    target["cValues"] = len(tags)


def _impacket_stat(**fields: int) -> nspi.STAT:
    stat = nspi.STAT()
    for key, value in fields.items():
        stat[key] = value
    return stat


# --- MS-OXNSPI section 4 --------------------------------------------------------------

SPEC_SERVER_GUID = bytes.fromhex("abbc8b867933c448a1ef1b53e63bdc46")


def test_ms_oxnspi_section_4_bind_example() -> None:
    """NspiBind as the example sends it: dwFlags 0, CodePage 0x4E4, locales 0x409, and a
    pServerGuid for the server to fill; the answer carries the example's GUID."""
    request = nspi.NspiBind()
    request["dwFlags"] = 0
    request["pStat"] = _impacket_stat(CodePage=0x4E4, TemplateLocale=0x409, SortLocale=0x409)
    request["pServerGuid"] = b"\x00" * 16
    decoded = m.decode_bind(request.getData())
    assert decoded.flags == 0
    assert decoded.stat == (0, 0, 0, 0, 0, 0, 0x4E4, 0x409, 0x409)
    assert decoded.server_guid is not None

    stub = m.encode_bind(uuid.UUID(bytes_le=SPEC_SERVER_GUID), HANDLE, 0)
    answer = nspi.NspiBindResponse(stub)
    assert answer["pServerGuid"] == SPEC_SERVER_GUID
    assert answer["contextHandle"]["context_handle_uuid"] == HANDLE.uuid.bytes_le
    assert answer["ErrorCode"] == 0

    # Step 3: the hierarchy table with dwFlags = NspiUnicodeStrings.
    special = nspi.NspiGetSpecialTable()
    special["hRpc"] = _handle()
    special["dwFlags"] = nspi.NspiUnicodeStrings
    special["pStat"] = _impacket_stat(CodePage=0x4E4)
    special["lpVersion"] = NULL
    got = m.decode_get_special_table(special.getData())
    assert (got.handle, got.flags, got.stat[6]) == (HANDLE, 4, 0x4E4)


# --- requests: impacket marshals, we decode -------------------------------------------


def test_requests_from_impacket() -> None:
    update = nspi.NspiUpdateStat()
    update["hRpc"] = _handle()
    update["pStat"] = _impacket_stat(ContainerID=7, CurrentRec=0x123, Delta=-5, CodePage=1252)
    update["plDelta"] = 0
    got = m.decode_update_stat(update.getData())
    assert got.stat[1:4] == (7, 0x123, -5) and got.delta_requested

    rows = nspi.NspiQueryRows()
    rows["hRpc"] = _handle()
    rows["dwFlags"] = nspi.fEphID
    rows["pStat"] = _impacket_stat(CodePage=nspi.CP_TELETEX)
    for mid in (0x101, 0x102):
        item = DWORD()
        item["Data"] = mid
        rows["lpETable"].append(item)
    rows["dwETableCount"] = 2
    rows["Count"] = 50
    _tags(rows["pPropTags"], [0x3001001F, 0x0FFF0102])
    got_rows = m.decode_query_rows(rows.getData())
    assert (got_rows.flags, got_rows.explicit, got_rows.count, got_rows.tags) == (
        2, [0x101, 0x102], 50, [0x3001001F, 0x0FFF0102])

    seek = NspiSeekEntries()
    seek["hRpc"] = _handle()
    seek["pStat"] = _impacket_stat(CodePage=1252)
    seek["pTarget"]["ulPropTag"] = 0x3001001F
    seek["pTarget"]["Value"]["tag"] = 0x1F
    seek["pTarget"]["Value"]["lpszW"] = "Grüße\x00"
    seek["lpETable"] = NULL
    seek["pPropTags"] = NULL
    got_seek = m.decode_seek_entries(seek.getData())
    assert got_seek.target == (0x3001001F, "Grüße")
    assert got_seek.explicit is None and got_seek.tags is None

    names = nspi.NspiDNToMId()
    names["hRpc"] = _handle()
    names["pNames"]["Count"] = 2
    for text in ("/o=Org/cn=Recipients/cn=alice", "/o=Org/cn=x"):
        item = LPSTR()
        item["Data"] = text + "\x00"
        names["pNames"]["Strings"].append(item)
    assert m.decode_dn_to_mid(names.getData()).names == [b"/o=Org/cn=Recipients/cn=alice",
                                                         b"/o=Org/cn=x"]

    props = nspi.NspiGetProps()  # impacket's pointer form of pStat, cValues one too big
    props["hRpc"] = _handle()
    props["dwFlags"] = 0
    props["pStat"]["CurrentRec"] = 0x444
    props["pStat"]["CodePage"] = 1252
    _tags(props["pPropTags"], [0x3001001F])
    props["pPropTags"]["cValues"] = 2
    got_props = m.decode_get_props(props.getData())
    assert got_props.stat[2] == 0x444 and got_props.tags == [0x3001001F]

    resolve_w = nspi.NspiResolveNamesW()
    resolve_w["hRpc"] = _handle()
    resolve_w["pStat"] = _impacket_stat(CodePage=1252)
    resolve_w["pPropTags"] = NULL
    resolve_w["paStr"]["Count"] = 2
    for text in ("Ève", "bob"):
        item = LPWSTR()
        item["Data"] = text + "\x00"
        resolve_w["paStr"]["Strings"].append(item)
    got_w = m.decode_resolve_names(resolve_w.getData(), wide=True)
    assert got_w.names == ["Ève", "bob"] and got_w.tags is None

    template = nspi.NspiGetTemplateInfo()
    template["hRpc"] = _handle()
    template["dwFlags"] = nspi.TI_TEMPLATE
    template["ulType"] = 0
    template["pDN"] = "/o=Org/cn=tmpl\x00"
    template["dwCodePage"] = 1252
    template["dwLocaleID"] = 0x409
    got_t = m.decode_get_template_info(template.getData())
    assert (got_t.flags, got_t.dn, got_t.code_page, got_t.locale) == (
        1, b"/o=Org/cn=tmpl", 1252, 0x409)

    link = nspi.NspiModLinkAtt()
    link["hRpc"] = _handle()
    link["dwFlags"] = nspi.fDelete
    link["ulPropTag"] = 0x8009000D
    link["dwMId"] = 0x500
    for raw in (b"\x00" * 28 + b"/o=x\x00", b"\x87" + b"\x00" * 31):
        item = nspi.Binary_r()
        item["lpb"] = raw
        item["cValues"] = len(raw)
        link["lpEntryIds"]["lpbin"].append(item)
    link["lpEntryIds"]["cValues"] = 2
    got_l = m.decode_mod_link_att(link.getData())
    assert (got_l.flags, got_l.tag, got_l.mid) == (1, 0x8009000D, 0x500)
    assert got_l.entry_ids == [b"\x00" * 28 + b"/o=x\x00", b"\x87" + b"\x00" * 31]


class NspiSeekEntries(NDRCALL):
    """MS-OXNSPI 3.1.4.1.9 in impacket's types; impacket's own class marshals lpETable and
    pPropTags inline although the IDL makes them [unique] pointers."""

    opnum = 4
    structure = (
        ("hRpc", nspi.handle_t),
        ("Reserved", DWORD),
        ("pStat", nspi.STAT),
        ("pTarget", nspi.PropertyValue_r),
        ("lpETable", nspi.PPropertyTagArray_r),
        ("pPropTags", nspi.PPropertyTagArray_r),
    )


class NspiGetMatches(NDRCALL):
    """MS-OXNSPI 3.1.4.1.10 in impacket's own types (impacket leaves it commented out)."""

    opnum = 5
    structure = (
        ("hRpc", nspi.handle_t),
        ("Reserved1", DWORD),
        ("pStat", nspi.STAT),
        ("pReserved", nspi.PPropertyTagArray_r),
        ("Reserved2", DWORD),
        ("Filter", nspi.PRestriction_r),
        ("lpPropName", nspi.PPropertyName_r),
        ("ulRequested", DWORD),
        ("pPropTags", nspi.PPropertyTagArray_r),
    )


def _content_restriction(tag: int, text: str, level: int) -> Any:
    node = nspi.Restriction_r()
    node["rt"] = 3
    node["res"]["tag"] = 3
    node["res"]["resContent"]["ulFuzzyLevel"] = level
    node["res"]["resContent"]["ulPropTag"] = tag
    node["res"]["resContent"]["lpProp"]["ulPropTag"] = tag
    node["res"]["resContent"]["lpProp"]["Value"]["tag"] = tag & 0xFFFF
    node["res"]["resContent"]["lpProp"]["Value"]["lpszA" if tag & 0xFFFF == 0x1E
                                                 else "lpszW"] = text + "\x00"
    return node


def test_get_matches_restriction_from_impacket() -> None:
    exist = nspi.Restriction_r()
    exist["rt"] = 8
    exist["res"]["tag"] = 8
    exist["res"]["resExist"]["ulPropTag"] = 0x3A17001F
    both = nspi.Restriction_r()
    both["rt"] = 0
    both["res"]["tag"] = 0
    both["res"]["resAnd"]["cRes"] = 2
    both["res"]["resAnd"]["lpRes"].append(_content_restriction(0x360C001E, "Mueller", 0x10001))
    both["res"]["resAnd"]["lpRes"].append(exist)
    call = NspiGetMatches()
    call["hRpc"] = _handle()
    call["pStat"] = _impacket_stat(CodePage=1252, ContainerID=0x104)
    call["pReserved"] = NULL
    call["Filter"] = both
    call["lpPropName"] = NULL
    call["ulRequested"] = 250
    _tags(call["pPropTags"], [0x3001001F])
    got = m.decode_get_matches(call.getData(), lambda cp: lambda raw: raw.decode(f"cp{cp}"))
    assert got.stat[1] == 0x104 and got.requested == 250 and got.tags == [0x3001001F]
    assert got.restriction == AndRestriction((
        ContentRestriction(FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE,
                           PropTag(0x360C001E),
                           TaggedPropertyValue(PropTag(0x360C001E), "Mueller")),
        ExistRestriction(PropTag(0x3A17001F)),
    ))


def test_restriction_round_trip() -> None:
    tree = OrRestriction((
        NotRestriction(ExistRestriction(PropTag(0x3A17001F))),
        PropertyRestriction(RelOp.GE, PropTag(0x3001001F),
                            TaggedPropertyValue(PropTag(0x3001001F), "Zoë")),
        AndRestriction(()),
        PropertyRestriction(RelOp.EQ, PropTag(0x3001001E),
                            TaggedPropertyValue(PropTag(0x3001001E), "café")),
    ))
    w = Writer()
    w.unique(tree, lambda x, v: write_restriction(x, v, lambda s: s.encode("cp1252")))
    w.flush()
    r = Reader(w.getvalue())
    cell = r.unique(lambda x: read_restriction(x, lambda b: b.decode("cp1252")))
    r.flush()
    r.expect_end()
    assert resolve(cell) == tree


def test_idl_form_of_get_props_and_special_table() -> None:
    """Outlook's (IDL) form: STAT inline, consumed exactly."""
    w = Writer()
    w.context_handle(HANDLE)
    w.u32(0)
    for value in (0, 0, 0x777, 0, 0, 0, 1252, 0x409, 0x409):
        w.u32(value)
    w.unique([0x3001001F], m.write_tag_array)
    assert m.decode_get_props(w.getvalue()).stat[2] == 0x777
    w = Writer()
    w.context_handle(HANDLE)
    w.u32(4)
    for value in (0, 0, 0, 0, 0, 0, 1252, 0x409, 0x409):
        w.u32(value)
    w.u32(99)
    got = m.decode_get_special_table(w.getvalue())
    assert (got.flags, got.stat[6], got.version) == (4, 1252, 99)


# --- responses: we marshal, impacket decodes ------------------------------------------

ALL_TYPES = [
    (0x66000002, -2), (0x66010003, -70000), (0x6602000B, True), (0x6603001E, b"latin"),
    (0x6604001F, "Ünïcødé"), (0x66050102, b"\x00\x01\x02"),
    (0x66060048, uuid.UUID("11223344-5566-7788-99aa-bbccddeeff00")),
    (0x66070040, 0x01D9_0000_1234_5678), (0x6608000A, 0x8004010F),
    (0x66091003, [1, -2, 3]), (0x660A101E, [b"a", b"bc"]), (0x660B101F, ["x", "ÿz"]),
    (0x660C1102, [b"\x01", b""]), (0x660D0001, None),
]


def test_rows_with_every_type_unmarshal_in_impacket() -> None:
    stub = m.encode_stat_rows((0, 0, 2, 0, 1, 1, 1252, 0x409, 0x409), [ALL_TYPES, ALL_TYPES],
                              0)
    answer = nspi.NspiQueryRowsResponse(stub)
    assert answer["pStat"]["CurrentRec"] == 2 and answer["ErrorCode"] == 0
    rows = nspi.simplifyPropertyRowSet(answer["ppRows"])
    assert len(rows) == 2
    row = rows[0]
    assert row[0x66000002] == -2 and row[0x66010003] == -70000 and row[0x6602000B] == 1
    assert row[0x6603001E] == "latin" and row[0x6604001F] == "Ünïcødé"
    assert bytes(row[0x66050102]) == b"\x00\x01\x02"
    assert row[0x6608000A] == 0x8004010F
    assert row[0x660A101E] == ["a", "bc"] and row[0x660B101F] == ["x", "ÿz"]
    assert row[0x660C1102] == [b"\x01", b""]


def test_other_responses_unmarshal_in_impacket() -> None:
    tables = nspi.NspiDNToMIdResponse(m.encode_tags([0x101, 0, 0x103], 0))
    assert [int(t["Data"]) for t in tables["ppOutMIds"]["aulPropTag"]] == [0x101, 0, 0x103]
    special = nspi.NspiGetSpecialTableResponse(m.encode_get_special_table(
        77, [[(0x3001001F, "GAL"), (0xFFFD0003, 0)]], 0))
    assert special["lpVersion"] == 77
    assert nspi.simplifyPropertyRowSet(special["ppRows"]) == [
        {0x3001001F: "GAL", 0xFFFD0003: 0}]
    props = nspi.NspiGetPropsResponse(m.encode_row([(0x3001001F, "Bob")], 0x40380))
    assert nspi.simplifyPropertyRow(props["ppRows"]) == {0x3001001F: "Bob"}
    assert props["ErrorCode"] == 0x40380
    update = nspi.NspiUpdateStatResponse(m.encode_update_stat(
        (0, 5, 6, 0, 7, 8, 1252, 0x409, 0x409), -3, 0))
    assert update["pStat"]["NumPos"] == 7 and update["plDelta"] == -3
    guid = uuid.UUID("00020328-0000-0000-c000-000000000046")
    names = nspi.NspiGetNamesFromIDsResponse(m.encode_get_names_from_ids(
        [0x3001001F], [(guid, 0x3001)], 0))
    assert names["ppNames"]["aulPropTag"][0]["lID"] == 0x3001
    assert names["ppNames"]["aulPropTag"][0]["lpguid"] == guid.bytes_le
    resolved = nspi.NspiResolveNamesWResponse(m.encode_resolve_names(
        [0x104, 0, 1], [[(0x3001001F, "Bob")]], 0))
    assert [int(x["Data"]) for x in resolved["ppMIds"]["aulPropTag"]] == [0x104, 0, 1]
    # A failed call: NULL outputs and the status.
    failed = nspi.NspiQueryRowsResponse(m.encode_stat_rows((0,) * 9, None, 0x80004005))
    assert failed["ppRows"] == b"" and failed["ErrorCode"] == 0x80004005  # NULL pointer


def test_rfr_both_ways() -> None:
    request = oxabref.RfrGetNewDSA()
    request["ulFlags"] = 0
    request["pUserDN"] = "/o=Org/cn=alice\x00"
    request["ppszUnused"] = NULL
    request["ppszServer"] = "\x00"
    decoded = m.decode_get_new_dsa(request.getData())
    assert decoded.user_dn == b"/o=Org/cn=alice" and decoded.unused is None
    answer = oxabref.RfrGetNewDSAResponse(m.encode_get_new_dsa(None, b"mail.example.test", 0))
    assert answer["ppszServer"] == "mail.example.test\x00"
    fqdn_request = oxabref.RfrGetFQDNFromServerDN()
    fqdn_request["ulFlags"] = 0
    fqdn_request["szMailboxServerDN"] = "/o=Org/cn=Servers/cn=x\x00"
    fqdn_request["cbMailboxServerDN"] = len("/o=Org/cn=Servers/cn=x\x00")
    assert m.decode_get_fqdn(fqdn_request.getData())[1] == b"/o=Org/cn=Servers/cn=x"
    fqdn = oxabref.RfrGetFQDNFromServerDNResponse(m.encode_get_fqdn(b"mail.example.test", 0))
    assert fqdn["ppszServerFQDN"] == "mail.example.test\x00"


# --- bad input ----------------------------------------------------------------------------

DECODERS = [
    m.decode_bind, m.decode_unbind, m.decode_update_stat, m.decode_query_rows,
    m.decode_seek_entries, m.decode_resort_restriction, m.decode_dn_to_mid,
    m.decode_get_prop_list, m.decode_get_props, m.decode_compare_mids, m.decode_mod_props,
    m.decode_get_special_table, m.decode_get_template_info, m.decode_mod_link_att,
    m.decode_query_columns, m.decode_get_names_from_ids, m.decode_get_ids_from_names,
    lambda s: m.decode_resolve_names(s, wide=True), lambda s: m.decode_resolve_names(s, wide=False),
    lambda s: m.decode_get_matches(s, lambda cp: lambda raw: raw.decode("latin-1")),
    m.decode_get_new_dsa, m.decode_get_fqdn,
]


@pytest.mark.parametrize("decode", DECODERS)
@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=400))
def test_garbage_raises_only_invalid_input(decode: Any, data: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        decode(data)


def test_oversized_counts_fail_before_allocating() -> None:
    w = Writer()
    w.context_handle(HANDLE)
    w.u32(0)
    for value in (0,) * 9:
        w.u32(value)
    w.u32(0xFFFFFFF0)  # dwETableCount out of range
    with pytest.raises(InvalidInput):
        m.decode_query_rows(w.getvalue())
    w = Writer()
    w.context_handle(HANDLE)
    w.u32(0)
    w.u32(0x7FFFFFFF)  # StringsArray_r claiming two billion strings
    w.u32(0x7FFFFFFF)
    with pytest.raises(InvalidInput):
        m.decode_dn_to_mid(w.getvalue())


def test_ulong_is_what_impacket_uses() -> None:
    # Guard against impacket renaming the types this file relies on.
    assert ULONG is not None and nspi.PropertyName_r is not None
