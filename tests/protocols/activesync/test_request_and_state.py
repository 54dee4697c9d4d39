"""Sans-IO parts: the request line (MS-ASHTTP 2.2.1.1.1), sync state values, WBXML of
the command layer against libwbxml's decoder."""

from __future__ import annotations

import base64
import random
import struct

import pytest

from groupware.errors import InvalidInput
from groupware.handlers.activesync.handler import make_key, parse_item_sid, parse_key
from groupware.handlers.activesync.state import CollectionState, HierarchyState, IdRanges
from protocols.activesync.request import EasRequest, encode_base64_query, parse_request


def test_plain_query() -> None:
    req = parse_request("Cmd=SendMail&User=alice&DeviceId=ABC123&DeviceType=iPhone"
                        "&SaveInSent=T&ItemId=5%3A7", {"ms-asprotocolversion": "12.1",
                                                       "x-ms-policykey": "3942919513"})
    assert (req.command, req.user, req.device_id, req.device_type) == (
        "SendMail", "alice", "ABC123", "iPhone")
    assert req.version == "12.1" and req.policy_key == 3942919513
    assert req.save_in_sent and req.params["ItemId"] == "5:7"


def test_base64_query_fields() -> None:
    # MS-ASHTTP 2.2.1.1.1.1: version 141, Sync (0), locale 0x0409, device id, 4-byte
    # policy key, device type, then CollectionId (tag 1) and Options (tag 7: AcceptMultiPart).
    raw = bytes([141, 0]) + struct.pack("<H", 0x0409) + bytes([8]) + b"DEV12345"
    raw += bytes([4]) + struct.pack("<I", 1234567890) + bytes([9]) + b"SmartPhone"[:9]
    raw += bytes([1, 2]) + b"42" + bytes([7, 1, 2])
    req = parse_request(base64.b64encode(raw).decode(), {})
    assert req.command == "Sync" and req.version == "14.1" and req.locale == 0x0409
    assert req.device_id == "DEV12345" and req.policy_key == 1234567890
    assert req.device_type == "SmartPhon" and req.params == {"CollectionId": "42"}
    assert req.accept_multipart and not req.save_in_sent


def test_base64_round_trip() -> None:
    req = EasRequest("ItemOperations", user="bob@example.test", device_id="d1",
                     device_type="Phone", version="16.1", policy_key=7,
                     params={"CollectionId": "9"}, save_in_sent=True)
    back = parse_request(encode_base64_query(req), {})
    assert (back.command, back.user, back.device_id, back.version, back.policy_key,
            back.params, back.save_in_sent) == ("ItemOperations", "bob@example.test", "d1",
                                                "16.1", 7, {"CollectionId": "9"}, True)


@pytest.mark.parametrize("query", ["", "Cmd=Sync&User=a", "Cmd=Sync&DeviceId=" + "x" * 65,
                                   "AAAA", base64.b64encode(bytes([141, 99, 0, 0, 0, 0, 0]))
                                   .decode()])
def test_bad_queries(query: str) -> None:
    with pytest.raises(InvalidInput):
        parse_request(query, {})


def test_id_ranges_behave_like_a_set() -> None:
    rng = random.Random(5)
    ranges = IdRanges()
    model: set[int] = set()
    for _ in range(3000):
        value = rng.randrange(200)
        if rng.random() < 0.6:
            ranges.add(value)
            model.add(value)
        else:
            ranges.discard(value)
            model.discard(value)
        assert (value in ranges) == (value in model)
    assert sorted(ranges) == sorted(model)
    assert len(ranges) == len(model)
    # A folder filled in order costs one range.
    seq = IdRanges()
    for i in range(1, 10001):
        seq.add(i)
    assert seq.ranges() == [[1, 10000]]


def test_states_round_trip() -> None:
    state = CollectionState(cursor_cn=55, cursor_mid=12, given=IdRanges([(1, 10), (20, 20)]),
                            skip={3: 60}, klass="Contacts", filter_type=3, retries=2,
                            first_sent=9, broken=[4], options={"p": [[1, 100, False, 0]]})
    back = CollectionState.from_bytes(state.to_bytes())
    assert (back.cursor_cn, back.cursor_mid, back.given.ranges(), back.skip, back.klass,
            back.filter_type, back.retries, back.first_sent, back.broken, back.options) == (
        55, 12, [[1, 10], [20, 20]], {3: 60}, "Contacts", 3, 2, 9, [4],
        {"p": [[1, 100, False, 0]]})
    assert back.done(54, 99) and back.done(55, 12) and not back.done(55, 13)
    hier = HierarchyState({"5": ("0", "Inbox", 2)})
    assert HierarchyState.from_bytes(hier.to_bytes()).folders == hier.folders


def test_sync_keys_and_item_ids() -> None:
    key = make_key("1b4e28ba-2fa1-11d2-883f-0016d3cca427", 7)
    assert key == "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}7"
    assert parse_key(key) == ("1b4e28ba-2fa1-11d2-883f-0016d3cca427", 7)
    for bad in ("0", "{nope}1", "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}0", "12"):
        assert parse_key(bad) is None
    fid, mid = parse_item_sid("12:345")
    assert fid is not None and fid & 0xFFFF == 1
    assert mid >> 16 != 0 and mid & 0xFFFF == 1
    with pytest.raises(Exception, match="not an item id"):
        parse_item_sid("x:y")
