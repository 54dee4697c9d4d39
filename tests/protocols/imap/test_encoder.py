"""Response encoding: RFC example responses byte for byte, string forms, streaming."""

from __future__ import annotations

import datetime

import pytest

from protocols.imap.encoder import (
    Atom,
    BodyData,
    BodyStructure,
    Mailbox,
    ResponseCode,
    ResponseEncoder,
    ThreadNode,
    format_internal_date,
)
from protocols.imap.fetch_items import FetchBody, Partial, Section
from protocols.imap.mime_structure import Address, Envelope, Part

from . import sexp

enc = ResponseEncoder()


def _rfc3501_envelope() -> Envelope:
    gray = (Address(b"Terry Gray", None, b"gray", b"cac.washington.edu"),)
    return Envelope(
        date=b"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
        subject=b"IMAP4rev1 WG mtg summary and minutes",
        from_=gray,
        sender=gray,
        reply_to=gray,
        to=(Address(None, None, b"imap", b"cac.washington.edu"),),
        cc=(
            Address(None, None, b"minutes", b"CNRI.Reston.VA.US"),
            Address(b"John Klensin", None, b"KLENSIN", b"MIT.EDU"),
        ),
        bcc=None,
        in_reply_to=None,
        message_id=b"<B27397-0100000@cac.washington.edu>",
    )


def test_rfc3501_section8_fetch_full_response() -> None:
    body = Part(0, 342, 342 + 3028, b"TEXT", b"PLAIN", ((b"CHARSET", b"US-ASCII"),), [],
                encoding=b"7BIT", lines=92)
    tz = datetime.timezone(-datetime.timedelta(hours=7))
    out = b"".join(
        enc.fetch(
            12,
            [
                (b"FLAGS", (Atom(b"\\Seen"),)),
                (b"INTERNALDATE", datetime.datetime(1996, 7, 17, 2, 44, 25, tzinfo=tz)),
                (b"RFC822.SIZE", 4286),
                (b"ENVELOPE", _rfc3501_envelope()),
                (b"BODY", BodyStructure(body, extended=False)),
            ],
        )
    )
    assert out == (
        b'* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
        b'RFC822.SIZE 4286 ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" '
        b'"IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")'
        b'("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL '
        b'"<B27397-0100000@cac.washington.edu>") '
        b'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n'
    )


@pytest.mark.parametrize(
    ("produced", "expected"),
    [
        (enc.exists(18), b"* 18 EXISTS\r\n"),
        (enc.recent(2), b"* 2 RECENT\r\n"),
        (enc.expunge(3), b"* 3 EXPUNGE\r\n"),
        (
            enc.flags(["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]),
            b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        ),
        (
            enc.untagged_status("OK", "Message 17 is the first unseen message",
                                ResponseCode.number("UNSEEN", 17)),
            b"* OK [UNSEEN 17] Message 17 is the first unseen message\r\n",
        ),
        (
            enc.untagged_status("OK", "UIDs valid", ResponseCode.number("UIDVALIDITY",
                                                                        3857529045)),
            b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
        ),
        (
            enc.tagged(b"a002", "OK", "SELECT completed", ResponseCode("READ-WRITE")),
            b"a002 OK [READ-WRITE] SELECT completed\r\n",
        ),
        (enc.bye("IMAP4rev1 server terminating connection"),
         b"* BYE IMAP4rev1 server terminating connection\r\n"),
        (
            enc.untagged_status("OK", "Limited",
                                ResponseCode.permanent_flags(["\\Deleted", "\\Seen", "\\*"])),
            b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
        ),
        (enc.continuation("Ready for literal data"), b"+ Ready for literal data\r\n"),
        (enc.continuation(), b"+ \r\n"),
        (enc.capability(["IMAP4rev1", "IMAP4rev2", "LITERAL+"]),
         b"* CAPABILITY IMAP4rev1 IMAP4rev2 LITERAL+\r\n"),
        # RFC 4315
        (
            enc.tagged(b"A003", "OK", "APPEND completed", ResponseCode.append_uid(38505, [3955])),
            b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
        ),
        (
            enc.tagged(b"A004", "OK", "Done",
                       ResponseCode.copy_uid(38505, [304, 319, 320], [3956, 3957, 3958])),
            b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
        ),
        (
            enc.tagged(b"A004", "NO", "Mailbox does not exist", ResponseCode("TRYCREATE")),
            b"A004 NO [TRYCREATE] Mailbox does not exist\r\n",
        ),
        (
            enc.tagged(b"a", "NO", "Over quota", ResponseCode("OVERQUOTA")),
            b"a NO [OVERQUOTA] Over quota\r\n",
        ),
        (
            enc.tagged(b"a", "NO", "No such mailbox", ResponseCode("NONEXISTENT")),
            b"a NO [NONEXISTENT] No such mailbox\r\n",
        ),
        (
            enc.tagged(b"o", "NO", "Mailbox already exists", ResponseCode("ALREADYEXISTS")),
            b"o NO [ALREADYEXISTS] Mailbox already exists\r\n",
        ),
        # RFC 7162
        (
            enc.untagged_status("OK", "Highest", ResponseCode.number("HIGHESTMODSEQ",
                                                                     715194045007)),
            b"* OK [HIGHESTMODSEQ 715194045007] Highest\r\n",
        ),
        (
            enc.tagged(b"d105", "OK", "Conditional STORE failed",
                       ResponseCode.modified([7, 9])),
            b"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
        ),
        (
            enc.vanished([41, *range(43, 117), 118, *range(120, 212), *range(214, 541)],
                         earlier=True),
            b"* VANISHED (EARLIER) 41,43:116,118,120:211,214:540\r\n",
        ),
        (
            enc.search([2, 5, 6, 7, 11, 12, 18, 19, 20, 23], modseq=917162500),
            b"* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)\r\n",
        ),
        (enc.search([]), b"* SEARCH\r\n"),
        # RFC 3501 7.2
        (enc.list_item(["\\Noselect"], "/", ""), b'* LIST (\\Noselect) "/" ""\r\n'),
        (enc.list_item(["\\Noselect"], ".", "#news."), b'* LIST (\\Noselect) "." #news.\r\n'),
        (enc.list_item([], None, "INBOX"), b"* LIST () NIL INBOX\r\n"),
        (
            enc.list_item([], "/", "Foo", extended=[("CHILDINFO", ("SUBSCRIBED",))]),
            b'* LIST () "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n',
        ),
        (
            enc.list_item(["\\HasNoChildren"], "/", "Fruit & Veg", command="LSUB"),
            b'* LSUB (\\HasNoChildren) "/" "Fruit &- Veg"\r\n',
        ),
        (
            enc.status("blurdybloop", [("MESSAGES", 231), ("UIDNEXT", 44292)]),
            b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
        ),
        # RFC 4731
        (enc.esearch(b"A282", minimum=2, count=3), b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'),
        (enc.esearch(b"A283", all_=[2, 10, 11]), b'* ESEARCH (TAG "A283") ALL 2,10:11\r\n'),
        (enc.esearch(b"A285", uid=True, minimum=7, maximum=3800),
         b'* ESEARCH (TAG "A285") UID MIN 7 MAX 3800\r\n'),
        (enc.esearch(b"A286", all_=[]), b'* ESEARCH (TAG "A286")\r\n'),
        # RFC 5161, 2971, 2342, 9208, 5256
        (enc.enabled(["X-GOOD-IDEA"]), b"* ENABLED X-GOOD-IDEA\r\n"),
        (enc.enabled([]), b"* ENABLED\r\n"),
        (
            enc.id([("name", "Cyrus"), ("version", "1.5"), ("os", "sunos"),
                    ("os-version", "5.5"), ("support-url", "mailto:cyrus-bugs+@andrew.cmu.edu")]),
            b'* ID ("name" "Cyrus" "version" "1.5" "os" "sunos" "os-version" "5.5" '
            b'"support-url" "mailto:cyrus-bugs+@andrew.cmu.edu")\r\n',
        ),
        (enc.id(None), b"* ID NIL\r\n"),
        (enc.namespace([("", "/")], None, None), b'* NAMESPACE (("" "/")) NIL NIL\r\n'),
        (
            enc.namespace([("", "/")], [("~", "/")],
                          [("#shared/", "/"), ("#public/", "/"), ("#ftp/", "/"), ("#news.", ".")]),
            b'* NAMESPACE (("" "/")) (("~" "/")) (("#shared/" "/")("#public/" "/")'
            b'("#ftp/" "/")("#news." "."))\r\n',
        ),
        (enc.quota(b"", [("STORAGE", 10, 512)]), b'* QUOTA "" (STORAGE 10 512)\r\n'),
        (enc.quotaroot("INBOX", [b""]), b'* QUOTAROOT INBOX ""\r\n'),
        (enc.sort([2, 84, 882]), b"* SORT 2 84 882\r\n"),
        (
            enc.thread([
                ThreadNode(2),
                ThreadNode(3, (ThreadNode(6, (ThreadNode(4, (ThreadNode(23),)),
                                              ThreadNode(44, (ThreadNode(7, (ThreadNode(96),)),)),
                                              )),)),
            ]),
            b"* THREAD (2)(3 6 (4 23)(44 7 96))\r\n",
        ),
        (
            enc.thread([ThreadNode(None, (ThreadNode(3), ThreadNode(5)))]),
            b"* THREAD ((3)(5))\r\n",
        ),
    ],
)
def test_rfc_example_responses(produced: bytes, expected: bytes) -> None:
    assert produced == expected


def test_string_forms() -> None:
    assert enc.string(b"plain") == b'"plain"'
    assert enc.string(b'say "hi" \\o/') == b'"say \\"hi\\" \\\\o/"'
    assert enc.string(b"two\r\nlines") == b"{10}\r\ntwo\r\nlines"
    assert enc.string("caf\u00e9") == b"{5}\r\ncaf\xc3\xa9"
    assert ResponseEncoder(utf8=True).string("caf\u00e9") == b'"caf\xc3\xa9"'
    assert ResponseEncoder(utf8=True).string(b"\xff") == b"{1}\r\n\xff"
    assert enc.string(b"x" * 2000).startswith(b"{2000}\r\n")
    assert enc.astring(b"INBOX") == b"INBOX"
    assert enc.astring(b"NIL") == b'"NIL"'
    assert enc.astring(b"") == b'""'
    assert enc.nstring(None) == b"NIL"
    assert enc.value([1, None, Atom(b"\\Seen"), "x", (b"a",)]) == b'(1 NIL \\Seen "x" ("a"))'
    assert enc.value(Mailbox("\u65e5\u672c\u8a9e")) == b"&ZeVnLIqe-"
    assert ResponseEncoder(utf8=True).value(Mailbox("\u65e5")) == b'"' + "\u65e5".encode() + b'"'
    with pytest.raises(TypeError):
        enc.value(object())


def test_internal_date_is_space_padded() -> None:
    tz = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    value = datetime.datetime(2024, 3, 7, 8, 9, 10, tzinfo=tz)
    assert format_internal_date(value) == b'" 7-Mar-2024 08:09:10 +0530"'


def test_fetch_streams_body_chunks_without_joining() -> None:
    chunks = [b"a" * 10, b"b" * 5]
    item = FetchBody(Section((), "TEXT"), Partial(0, 100), peek=True)
    stream = list(enc.fetch(7, [(b"UID", 42), (item.item_name(), BodyData(15, iter(chunks)))]))
    assert stream[0] == b"* 7 FETCH ("
    assert chunks[0] in stream and chunks[1] in stream
    head = b"* 7 FETCH (UID 42 BODY[TEXT]<0> {15}\r\n"
    assert b"".join(stream) == head + b"a" * 10 + b"b" * 5 + b")\r\n"


def test_fetch_body_size_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        b"".join(enc.fetch(1, [(b"BODY[]", BodyData(3, iter([b"ab"])))]))
    with pytest.raises(ValueError):
        b"".join(enc.fetch(1, [(b"BODY[]", BodyData(1, iter([b"ab"])))]))


def test_binary_literal8_and_nil_section() -> None:
    out = b"".join(enc.fetch(1, [(b"BINARY[1]", BodyData(3, b"a\x00b", binary=True)),
                                 (b"BODY[9]", None)]))
    assert out == b"* 1 FETCH (BINARY[1] ~{3}\r\na\x00b BODY[9] NIL)\r\n"


def test_modseq_fetch_item_rfc7162() -> None:
    out = b"".join(enc.fetch(7, [(b"MODSEQ", (320162342,)),
                                 (b"FLAGS", (Atom(b"\\Seen"), Atom(b"\\Deleted")))]))
    assert out == b"* 7 FETCH (MODSEQ (320162342) FLAGS (\\Seen \\Deleted))\r\n"


def test_encoded_responses_parse_back_with_an_independent_reader() -> None:
    env = _rfc3501_envelope()
    values = sexp.parse_values(enc.envelope(env))[0]
    assert values[1] == b"IMAP4rev1 WG mtg summary and minutes"
    assert values[6][1] == [b"John Klensin", None, b"KLENSIN", b"MIT.EDU"]


def test_copyuid_needs_matching_sets() -> None:
    with pytest.raises(ValueError):
        ResponseCode.copy_uid(1, [1, 2], [3])


def test_minimal_text_part_body_structure() -> None:
    part = Part(0, 0, 0, b"text", b"plain", None, [])
    assert enc.body_structure(part) == b'("text" "plain" NIL NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'
    assert BodyStructure(part).extended
