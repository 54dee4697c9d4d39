"""ENVELOPE/BODYSTRUCTURE computation, section byte ranges and BINARY decoding."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.imap.encoder import ResponseEncoder
from protocols.imap.fetch_items import Section
from protocols.imap.mime_headers import Address
from protocols.imap.mime_structure import (
    MimeLimitError,
    UnknownEncoding,
    binary_content,
    envelope_of,
    parse_message,
    section_content,
)

RFC3501_HEADER = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
)


def test_rfc3501_section8_message() -> None:
    """The header of RFC 3501 section 8 is 342 bytes and gives the example's ENVELOPE."""
    body = b"".join(b"line %02d of the minutes\r\n" % i for i in range(92))
    raw = RFC3501_HEADER + body
    root = parse_message(raw)
    header = section_content(root, Section((), "HEADER"))
    assert header is not None and header.size == 342
    assert header.read(raw) == RFC3501_HEADER
    env = envelope_of(root.fields)
    assert env.subject == b"IMAP4rev1 WG mtg summary and minutes"
    assert env.from_ == env.sender == env.reply_to == (
        Address(b"Terry Gray", None, b"gray", b"cac.washington.edu"),
    )
    assert env.cc == (
        Address(None, None, b"minutes", b"CNRI.Reston.VA.US"),
        Address(b"John Klensin", None, b"KLENSIN", b"MIT.EDU"),
    )
    assert env.message_id == b"<B27397-0100000@cac.washington.edu>"
    body_value = ResponseEncoder().body_structure(root, extended=False)
    assert body_value == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7bit" %d 92)' % len(body)
    )


NESTED = (
    b"From: a@example.org\r\n"
    b"Subject: nested\r\n"
    b"Content-Type: multipart/mixed; boundary=outer\r\n"
    b"\r\n"
    b"preamble\r\n"
    b"--outer\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"caf=C3=A9 =\r\n"
    b"au lait\r\n"
    b"--outer\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"Subject: inner\r\n"
    b"Content-Type: multipart/alternative; boundary=inner\r\n"
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"plain\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html\r\n"
    b"\r\n"
    b"<p>html</p>\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    b"\r\n"
    + base64.encodebytes(b"\x00\x01binary\xff").replace(b"\n", b"\r\n")
    + b"--outer--\r\n"
    b"epilogue\r\n"
)


def _read(raw: bytes, section: Section) -> bytes | None:
    content = section_content(parse_message(raw), section)
    return None if content is None else content.read(raw)


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (Section((1,)), b"caf=C3=A9 =\r\nau lait"),
        (Section((1,), "MIME"),
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"),
        (Section((2,), "HEADER"),
         b"Subject: inner\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n"),
        (Section((2, 1)), b"plain"),
        (Section((2, 2)), b"<p>html</p>"),
        (Section((2, 2), "MIME"), b"Content-Type: text/html\r\n\r\n"),
        (Section((2,), "HEADER.FIELDS", ("SUBJECT",)), b"Subject: inner\r\n\r\n"),
        (Section((), "HEADER.FIELDS.NOT", ("Content-Type", "from")), b"Subject: nested\r\n\r\n"),
        (Section((), "HEADER.FIELDS", ("X-Missing",)), b"\r\n"),
        (Section((1,), "HEADER"), None),
        (Section((9,)), None),
        (Section((1, 1)), None),
        (Section((3, 1)), None),
    ],
)
def test_sections(section: Section, expected: bytes | None) -> None:
    assert _read(NESTED, section) == expected


def test_whole_message_text_and_message_rfc822_part() -> None:
    root = parse_message(NESTED)
    assert _read(NESTED, Section()) == NESTED
    text = _read(NESTED, Section((), "TEXT"))
    assert text is not None and text.startswith(b"preamble") and text.endswith(b"epilogue\r\n")
    inner = _read(NESTED, Section((2,)))
    assert inner is not None and inner.startswith(b"Subject: inner")
    assert inner.endswith(b"--inner--\r\n")  # the close delimiter line keeps its CRLF
    assert [c.subtype for c in root.children] == [b"plain", b"rfc822", b"octet-stream"]
    assert root.children[1].envelope is not None
    assert root.children[1].envelope.subject == b"inner"


def test_partial_slices_span_ranges_and_suffix() -> None:
    root = parse_message(NESTED)
    content = section_content(root, Section((2,), "HEADER.FIELDS", ("Subject", "Content-Type")))
    assert content is not None
    full = content.read(NESTED)
    for offset in range(len(full) + 2):
        for length in (1, 5, 100):
            assert content.slice(offset, length).read(NESTED) == full[offset : offset + length]


def test_binary_decoding() -> None:
    root = parse_message(NESTED)
    assert binary_content(NESTED, root, (1,)) == "caf\u00e9 au lait".encode()
    assert binary_content(NESTED, root, (3,)) == b"\x00\x01binary\xff"
    assert binary_content(NESTED, root, (2, 1)) == b"plain"
    assert binary_content(NESTED, root, ()) == NESTED
    assert binary_content(NESTED, root, (7,)) is None
    odd = b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n"
    with pytest.raises(UnknownEncoding):
        binary_content(odd, parse_message(odd), (1,))


def test_qp_keeps_crlf_and_base64_tolerates_junk() -> None:
    qp = (
        b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"a=3Db\r\nsoft=\r\nbreak\r\n"
    )
    assert binary_content(qp, parse_message(qp), (1,)) == b"a=b\r\nsoftbreak\r\n"
    b64 = b"MIME-Version: 1.0\r\nContent-Transfer-Encoding: base64\r\n\r\naGVs\r\n!bG8=\r\n"
    assert binary_content(b64, parse_message(b64), (1,)) == b"hello"


def test_body_structure_of_nested_message() -> None:
    out = ResponseEncoder().body_structure(parse_message(NESTED))
    assert out.startswith(b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 20 1')
    assert b'("message" "rfc822" NIL NIL NIL "7bit"' in out
    assert b'"alternative" ("boundary" "inner") NIL NIL NIL)' in out
    assert b'("attachment" ("filename" "a.bin"))' in out
    assert out.endswith(b'"mixed" ("boundary" "outer") NIL NIL NIL)')


def test_lf_only_messages_are_understood() -> None:
    raw = NESTED.replace(b"\r\n", b"\n")
    root = parse_message(raw)
    assert [c.subtype for c in root.children] == [b"plain", b"rfc822", b"octet-stream"]
    assert _read(raw, Section((2, 1))) == b"plain"


def test_repeated_headers_and_case_are_kept_byte_exact() -> None:
    raw = b"Received: one\r\nRECEIVED: two\r\n\tfolded\r\nX: y\r\n\r\nbody"
    fields = _read(raw, Section((), "HEADER.FIELDS", ("received",)))
    assert fields == b"Received: one\r\nRECEIVED: two\r\n\tfolded\r\n\r\n"


def test_limits() -> None:
    deep = b""
    for i in range(60):
        deep += b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
    with pytest.raises(MimeLimitError):
        parse_message(deep)
    many = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n" + b"--x\r\n\r\n.\r\n" * 100
    with pytest.raises(MimeLimitError):
        parse_message(many, max_parts=50)
    assert len(parse_message(many).children) == 100
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n"
    with pytest.raises(MimeLimitError):
        parse_message(fields, max_fields=50)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    b"Content-Type: multipart/mixed; boundary=q\r\n", b"Content-Type: message/rfc822\r\n",
    b"--q\r\n", b"--q--\r\n", b"\r\n", b"From: \"a\" <b@c>, (x) d@e\r\n", b"To: g:;\r\n",
    b"text\r\n", b"\n", b"Content-Type: text/plain; a*0*=x; a*1=y\r\n", b"(", b"\"", b"<",
]) | st.binary(max_size=10), max_size=30).map(b"".join))
def test_any_bytes_give_a_structure_or_a_limit_error(raw: bytes) -> None:
    try:
        root = parse_message(raw, max_depth=10, max_parts=50)
    except MimeLimitError:
        return
    enc = ResponseEncoder()
    assert enc.body_structure(root).startswith(b"(")
    assert enc.envelope(envelope_of(root.fields)).startswith(b"(")
    whole = section_content(root, Section())
    assert whole is not None and whole.read(raw) == raw
