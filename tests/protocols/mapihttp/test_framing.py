"""MAPI/HTTP framing and session contexts (MS-OXCMAPIHTTP 2.2.2.2, 2.2.3.3, 2.2.7, 3.2.5.1),
including the response shape of the section 4 examples."""

from __future__ import annotations

import pytest

from protocols.mapihttp.framing import (
    PENDING,
    PROCESSING,
    ResponseCode,
    done_trailer,
    error_page,
    parse_response_body,
    valid_id,
)
from protocols.mapihttp.sessions import SessionTable


def test_section_4_response_body_shape() -> None:
    """MS-OXCMAPIHTTP 4.x: PROCESSING, PENDING keep-alives, DONE, the two additional
    headers, an empty line, then the binary body."""
    body = (b"PROCESSING\r\nPENDING\r\nPENDING\r\nDONE\r\n"
            b"X-ElapsedTime: 2\r\nX-StartTime: Tue, 16 Jul 2013 19:08:15 GMT\r\n\r\n"
            b"\x00\x00\x00\x00\x01\x02")
    parsed = parse_response_body(body)
    assert parsed.meta == ("PROCESSING", "PENDING", "PENDING", "DONE")
    assert parsed.headers == {"X-ElapsedTime": "2",
                              "X-StartTime": "Tue, 16 Jul 2013 19:08:15 GMT"}
    assert parsed.body == b"\x00\x00\x00\x00\x01\x02"


def test_what_we_write_parses() -> None:
    data = PROCESSING + PENDING + done_trailer(1234, 0.0) + b"payload\r\n"
    parsed = parse_response_body(data)
    assert parsed.meta == ("PROCESSING", "PENDING", "DONE")
    assert parsed.headers["X-ElapsedTime"] == "1234"
    assert parsed.headers["X-StartTime"] == "Thu, 01 Jan 1970 00:00:00 GMT"
    assert parsed.body == b"payload\r\n"


@pytest.mark.parametrize("broken", [b"", b"PROCESSING\r\n", b"HELLO\r\n",
                                    b"DONE\r\nX-ElapsedTime 1\r\n\r\n", b"DONE\r\nX: 1"])
def test_broken_bodies_are_refused(broken: bytes) -> None:
    with pytest.raises(ValueError):
        parse_response_body(broken)


def test_response_codes_are_the_spec_table() -> None:
    assert ResponseCode.INVALID_SEQUENCE == 15 and ResponseCode.MISSING_COOKIE == 13
    assert ResponseCode.ENDPOINT_SHUTTING_DOWN == 18 and len(ResponseCode) == 19
    assert b"15 INVALID_SEQUENCE" in error_page(ResponseCode.INVALID_SEQUENCE, "x<y")
    assert b"x&lt;y" in error_page(ResponseCode.INVALID_SEQUENCE, "x<y")


@pytest.mark.parametrize(("value", "ok"), [("{A1}:1", True), ("", False), (None, False),
                                           ("a b", False), ("x" * 257, False),
                                           ("{0E7C}:12", True), ("é", False)])
def test_request_ids(value: str | None, ok: bool) -> None:
    assert valid_id(value) is ok


def test_sessions_sequence_owner_and_expiry() -> None:
    now = [1000.0]
    table = SessionTable(lambda: now[0], idle_timeout=60)
    closed: list[str] = []
    session = table.create("nspi", "user:1")
    session.on_close.append(lambda: closed.append(session.id))
    assert table.get(session.id, "nspi", "user:1") is session
    assert table.get(session.id, "nspi", "user:2") is None  # someone else's cookie
    assert table.get(session.id, "emsmdb", "user:1") is None  # another endpoint's
    old = session.sequence
    table.touch(session, rotate=True)
    assert session.sequence != old
    now[0] += 59
    assert table.get(session.id, "nspi", "user:1") is session
    now[0] += 61
    assert table.get(session.id, "nspi", "user:1") is None
    assert closed == [session.id] and len(table) == 0


def test_session_limit_evicts_the_oldest() -> None:
    now = [0.0]
    table = SessionTable(lambda: now[0], idle_timeout=60, max_sessions=2)
    first = table.create("nspi", "u")
    now[0] += 1
    second = table.create("nspi", "u")
    now[0] += 1
    third = table.create("nspi", "u")
    assert table.get(first.id, "nspi", "u") is None
    assert table.get(second.id, "nspi", "u") is second
    assert table.get(third.id, "nspi", "u") is third
