"""The address-book bodies of MAPI/HTTP (MS-OXCMAPIHTTP 2.2.5, 2.2.1): exact bytes of the
documented layouts, round trips of every request and response type, the address-book
value rules (HasValue, 32-bit counts, flagged rows) and garbage."""

from __future__ import annotations

import contextlib
import struct
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.errors import InvalidInput
from groupware.mapi.buffer import Reader, Writer
from groupware.mapi.restrictions import (
    AndRestriction,
    ContentRestriction,
    ExistRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
)
from groupware.mapi.values import TaggedPropertyValue
from groupware.types import PropTag
from protocols.nspi.http_messages import (
    REQUESTS,
    decode_fields,
    encode_fields,
    read_row,
    read_value,
    write_row,
    write_value,
)

STAT = (0, 0, 0, 0, 0, 0, 1252, 0x409, 0x409)


def test_bind_request_layout() -> None:
    """2.2.5.1.1: Flags, HasState, State (36 bytes), AuxiliaryBufferSize, AuxiliaryBuffer."""
    body = encode_fields({"flags": 0, "state": STAT, "aux": b""}, REQUESTS["Bind"][0])
    assert body == (b"\x00\x00\x00\x00" + b"\xff" + struct.pack("<9I", *STAT)
                    + b"\x00\x00\x00\x00")
    answer = encode_fields({"status": 0, "result": 0,
                            "server_guid": uuid.UUID(bytes_le=bytes(range(16)))},
                           REQUESTS["Bind"][1])
    assert answer == b"\x00" * 8 + bytes(range(16)) + b"\x00" * 4


def test_query_rows_response_layout() -> None:
    """2.2.5.12.2 with one AddressBookPropertyRow (2.2.1.7) of a string and a binary."""
    body = encode_fields({"status": 0, "result": 0, "state": STAT,
                          "rows": ([0x3001001F, 0x0FFF0102], [[(0x3001001F, "A"),
                                                               (0x0FFF0102, b"\x07")]])},
                         REQUESTS["QueryRows"][1])
    expected = (b"\x00" * 8 + b"\xff" + struct.pack("<9I", *STAT) + b"\xff"
                + struct.pack("<III", 2, 0x3001001F, 0x0FFF0102) + struct.pack("<I", 1)
                + b"\x00"                               # row flag: all present
                + b"\xff" + "A".encode("utf-16-le") + b"\x00\x00"  # HasValue + string
                + b"\xff" + struct.pack("<I", 1) + b"\x07"        # HasValue + COUNT + bytes
                + b"\x00\x00\x00\x00")
    assert body == expected


def test_flagged_row_with_missing_and_error_cells() -> None:
    columns = [0x3001001F, 0x3A17001F, 0x3A08001F, 0x0FFE0000]
    row = [(0x3001001F, "Bob"), (0x3A17000A, 0x8004010F), (0x3A08000A, 0x80070005),
           (0x0FFE0003, 6)]
    w = Writer()
    write_row(w, columns, row)
    data = w.getvalue()
    assert data[0] == 1  # flagged
    r = Reader(data)
    assert read_row(r, columns) == row
    r.expect_end("row")
    # Cell flags: present (0), unavailable (1) for ecNotFound, error (0x0A) + code.
    assert data[1] == 0 and b"\x01" in data and b"\x0a\x05\x00\x07\x80" in data


@pytest.mark.parametrize(("kind", "value"), [
    (0x0002, -7), (0x0003, 123456), (0x0005, 2.5), (0x000B, True), (0x0014, -(1 << 40)),
    (0x001E, b"caf\xe9"), (0x001F, "Grüße"), (0x0040, 133_000_000_000_000_000),
    (0x0048, uuid.UUID("11223344-5566-7788-99aa-bbccddeeff00")), (0x0102, b""),
    (0x1003, [1, 2, 3]), (0x101F, ["a", "ß"]), (0x101E, [b"x"]), (0x1102, [b"\x00", b"yz"]),
    (0x1048, [uuid.UUID(int=5)]), (0x0102, None), (0x101F, None),
])
def test_value_round_trip(kind: int, value: Any) -> None:
    w = Writer()
    write_value(w, kind, value)
    data = w.getvalue()
    if kind in (0x001E, 0x001F, 0x0102) or kind & 0x1000:
        assert data[0] == (0 if value is None else 0xFF)  # HasValue (2.2.1.1)
    r = Reader(data)
    assert read_value(r, kind) == value
    r.expect_end("value")


SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "Bind": ({"flags": 0, "state": STAT}, {"server_guid": uuid.UUID(int=9)}),
    "Unbind": ({"reserved": 0}, {"result": 1}),
    "CompareMIds": ({"state": STAT, "mid1": 0x101, "mid2": 0x102}, {"comparison": -1}),
    "DNToMId": ({"names": [b"/o=x/cn=a", b"/"]}, {"mids": [0x101, 0]}),
    "GetMatches": ({"state": STAT, "in_mids": None, "reserved2": 0,
                    "filter": AndRestriction((
                        ContentRestriction(FuzzyLevelLow.PREFIX, FuzzyLevelHigh.IGNORECASE,
                                           PropTag(0x360C001F),
                                           TaggedPropertyValue(PropTag(0x360C001F), "bo")),
                        ExistRestriction(PropTag(0x3A17001F)))),
                    "prop_name": (uuid.UUID(int=3), 0x8001), "row_count": 50,
                    "columns": [0x3001001F]},
                   {"state": STAT, "mids": [0x101],
                    "rows": ([0x3001001F], [[(0x3001001F, "Bob")]])}),
    "GetPropList": ({"flags": 1, "mid": 0x101, "code_page": 1252},
                    {"tags": [0x3001001E, 0x0FFF0102]}),
    "GetProps": ({"flags": 0, "state": STAT, "tags": [0x3001001F]},
                 {"code_page": 1252, "values": [(0x3001001F, "Bob"), (0x3A17000A, 0x8004010F)]}),
    "GetSpecialTable": ({"flags": 4, "state": STAT, "version": 3},
                        {"code_page": 1252, "version": 4,
                         "rows": [[(0x3001001F, "GAL"), (0xFFFD0003, 0)]]}),
    "GetTemplateInfo": ({"flags": 1, "type": 0, "dn": b"/o=x", "code_page": 1252,
                         "locale": 0x409}, {"code_page": 1252, "row": None}),
    "ModLinkAtt": ({"flags": 1, "tag": 0x8009000D, "mid": 0x101,
                    "entry_ids": [b"\x87" + bytes(31), bytes(28) + b"/o=x\x00"]}, {}),
    "ModProps": ({"state": STAT, "remove": [0x8C9E0102],
                  "values": [(0x3A701102, [b"cert"])]}, {}),
    "QueryRows": ({"flags": 0, "state": STAT, "explicit": [0x101, 0x102], "row_count": 10,
                   "columns": None},
                  {"state": STAT, "rows": ([0x0FFE0000], [[(0x0FFE0003, 6)]])}),
    "QueryColumns": ({"reserved": 0, "flags": 0x80000000}, {"columns": [0x3001001F]}),
    "ResolveNames": ({"state": STAT, "columns": [0x3001001F], "names": ["bob", "Ève"]},
                     {"code_page": 1252, "mids": [0x101, 0],
                      "rows": ([0x3001001F], [[(0x3001001F, "Bob")]])}),
    "ResortRestriction": ({"state": STAT, "mids": [3, 2, 1]}, {"state": STAT, "mids": [1, 2]}),
    "SeekEntries": ({"state": STAT, "target": (0x3001001F, "c"), "explicit": None,
                     "columns": [0x3001001F]},
                    {"state": STAT, "rows": ([0x3001001F], [])}),
    "UpdateStat": ({"state": STAT, "delta_requested": 1}, {"state": STAT, "delta": -2}),
    "GetMailboxUrl": ({"flags": 0, "server_dn": "/o=x/cn=s"}, {"url": "https://h/mapi/emsmdb/"}),
    "GetAddressBookUrl": ({"flags": 0, "user_dn": "/o=x/cn=u"},
                          {"url": "https://h/mapi/nspi/"}),
}


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_type_round_trips(name: str) -> None:
    request, response = SAMPLES[name]
    request_fields, response_fields = REQUESTS[name]
    decoded = decode_fields(encode_fields(request, request_fields), request_fields)
    for key, value in request.items():
        assert decoded[key] == value, key
    response = {"status": 0, "result": 0, **response}
    decoded = decode_fields(encode_fields(response, response_fields), response_fields)
    for key, value in response.items():
        assert decoded[key] == value, key


@pytest.mark.parametrize("name", sorted(REQUESTS))
@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=300))
def test_garbage_raises_invalid_input_only(name: str, data: bytes) -> None:
    for fields in REQUESTS[name]:
        with contextlib.suppress(InvalidInput):
            decode_fields(data, fields)


def test_counts_bounded_before_allocation() -> None:
    body = b"\x00\x00\x00\x00" + b"\xff" + b"\xff\xff\xff\x7f"  # DNToMId with 2**31 names
    with pytest.raises(InvalidInput):
        decode_fields(body, REQUESTS["DNToMId"][0])
