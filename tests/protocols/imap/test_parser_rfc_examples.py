"""Client lines from the examples of RFC 3501/9051 and the extension RFCs parse as expected."""

from __future__ import annotations

import datetime

import pytest

from protocols.imap.commands import (
    Append,
    AppendMessage,
    Authenticate,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Copy,
    Create,
    Delete,
    Enable,
    Examine,
    Expunge,
    Fetch,
    GetQuota,
    GetQuotaRoot,
    Id,
    Idle,
    List,
    Login,
    Logout,
    Lsub,
    Move,
    Namespace,
    Noop,
    QResync,
    Rename,
    Search,
    Select,
    SetQuota,
    Sort,
    SortCriterion,
    StartTLS,
    Status,
    Store,
    StoreMode,
    Subscribe,
    Thread,
    Unselect,
    Unsubscribe,
)
from protocols.imap.events import NeedContinuation
from protocols.imap.fetch_items import (
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchSimple,
    Partial,
    Section,
)
from protocols.imap.search_keys import (
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchModSeq,
    SearchNot,
    SearchOr,
    SearchRecent,
    SearchSequence,
    SearchSize,
    SearchText,
)
from protocols.imap.sequence import SeqRange, SequenceSet

from .helpers import events, one


def seq(*ranges: tuple[int | None, int | None]) -> SequenceSet:
    return SequenceSet(tuple(SeqRange(a, b) for a, b in ranges))


def test_rfc3501_section8_session() -> None:
    """The sample session of RFC 3501 section 8, client side."""
    data = (
        b"a001 login mrc secret\r\n"
        b"a002 select inbox\r\n"
        b"a003 fetch 12 full\r\n"
        b"a004 fetch 12 body[header]\r\n"
        b"a005 store 12 +flags \\deleted\r\n"
        b"a006 logout\r\n"
    )
    assert events(data) == [
        Login(b"a001", b"mrc", b"secret"),
        Select(b"a002", "INBOX"),
        Fetch(
            b"a003",
            sequence=seq((12, 12)),
            items=tuple(
                FetchSimple(n)
                for n in ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")
            ),
        ),
        Fetch(b"a004", sequence=seq((12, 12)), items=(FetchBody(Section((), "HEADER")),)),
        Store(b"a005", sequence=seq((12, 12)), mode=StoreMode.ADD, flags=("\\Deleted",)),
        Logout(b"a006"),
    ]


CASES: list[tuple[bytes, Command]] = [
    (b"abcd CAPABILITY", Capability(b"abcd")),
    (b"a002 NOOP", Noop(b"a002")),
    (b"a002 STARTTLS", StartTLS(b"a002")),
    (b"A023 LOGOUT", Logout(b"A023")),
    (b"a001 LOGIN SMITH SESAME", Login(b"a001", b"SMITH", b"SESAME")),
    (b'a001 LOGIN "fred" "foo \\"bar\\""', Login(b"a001", b"fred", b'foo "bar"')),
    (b"A142 SELECT INBOX", Select(b"A142", "INBOX")),
    (b"A932 EXAMINE blurdybloop", Examine(b"A932", "blurdybloop")),
    (b"A003 CREATE owatagusiam/", Create(b"A003", "owatagusiam/")),
    (b"A683 DELETE blurdybloop", Delete(b"A683", "blurdybloop")),
    (b"A683 RENAME blurdybloop sarasoop", Rename(b"A683", "blurdybloop", "sarasoop")),
    (b"A002 SUBSCRIBE #news.comp.mail.mime", Subscribe(b"A002", "#news.comp.mail.mime")),
    (b"A002 UNSUBSCRIBE #news.comp.mail.mime", Unsubscribe(b"A002", "#news.comp.mail.mime")),
    (b'A101 LIST "" ""', List(b"A101", "", ("",))),
    (b'A102 LIST #news.comp.mail.misc ""', List(b"A102", "#news.comp.mail.misc", ("",))),
    (b"A202 LIST ~/Mail/ %", List(b"A202", "~/Mail/", ("%",))),
    (b'A002 LSUB "#news." "comp.mail.*"', Lsub(b"A002", "#news.", "comp.mail.*")),
    (
        b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
        Status(b"A042", "blurdybloop", ("UIDNEXT", "MESSAGES")),
    ),
    (b"FXXZ CHECK", Check(b"FXXZ")),
    (b"A341 CLOSE", Close(b"A341")),
    (b"A202 EXPUNGE", Expunge(b"A202")),
    (
        b"A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
        Search(
            b"A282",
            criteria=SearchAnd(
                (
                    SearchFlag("\\Flagged"),
                    SearchDate("SINCE", datetime.date(1994, 2, 1)),
                    SearchNot(SearchText("FROM", b"Smith")),
                )
            ),
        ),
    ),
    (
        b'A283 SEARCH TEXT "string not in mailbox"',
        Search(b"A283", criteria=SearchText("TEXT", b"string not in mailbox")),
    ),
    (
        b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
        Fetch(
            b"A654",
            sequence=seq((2, 4)),
            items=(
                FetchSimple("FLAGS"),
                FetchBody(Section((), "HEADER.FIELDS", ("DATE", "FROM"))),
            ),
        ),
    ),
    (
        b"A003 STORE 2:4 +FLAGS (\\Deleted)",
        Store(b"A003", sequence=seq((2, 4)), mode=StoreMode.ADD, flags=("\\Deleted",)),
    ),
    (b"A003 COPY 2:4 MEETING", Copy(b"A003", sequence=seq((2, 4)), mailbox="MEETING")),
    (
        b"A999 UID FETCH 4827313:4828442 FLAGS",
        Fetch(b"A999", True, seq((4827313, 4828442)), (FetchSimple("FLAGS"),)),
    ),
    # RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 3691 UNSELECT, RFC 2342, RFC 2971, RFC 5161
    (b"A003 UID EXPUNGE 3000:3002", Expunge(b"A003", True, seq((3000, 3002)))),
    (b"a UID MOVE 42:69 foo", Move(b"a", True, seq((42, 69)), "foo")),
    (b"A341 UNSELECT", Unselect(b"A341")),
    (b"A001 NAMESPACE", Namespace(b"A001")),
    (
        b'a023 ID ("name" "sodr" "version" "19.34" "vendor" NIL)',
        Id(b"a023", (("name", "sodr"), ("version", "19.34"), ("vendor", None))),
    ),
    (b"a ID NIL", Id(b"a", None)),
    (b"t2 ENABLE CONDSTORE X-GOOD-IDEA", Enable(b"t2", ("CONDSTORE", "X-GOOD-IDEA"))),
    (b"i IDLE", Idle(b"i")),
    (b"a COMPRESS DEFLATE", Compress(b"a", "DEFLATE")),
    # RFC 4959 SASL-IR
    (
        b"a AUTHENTICATE PLAIN AGFsaWNlAHBhc3M=",
        Authenticate(b"a", "PLAIN", b"\x00alice\x00pass"),
    ),
    (b"a AUTHENTICATE EXTERNAL =", Authenticate(b"a", "EXTERNAL", b"")),
    (b"a AUTHENTICATE LOGIN", Authenticate(b"a", "LOGIN", None)),
    # RFC 7162 CONDSTORE/QRESYNC
    (b"a SELECT INBOX (CONDSTORE)", Select(b"a", "INBOX", condstore=True)),
    (
        b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))",
        Select(
            b"A02",
            "INBOX",
            qresync=QResync(67890007, 20050715194045000, seq((41, 41), (43, 211), (214, 541))),
        ),
    ),
    (
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 "
        b"(5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979,29982,29985:29988)))",
        Select(
            b"B04",
            "INBOX",
            qresync=QResync(
                67890007,
                90060115194045000,
                seq((1, 29997)),
                seq((5000, 5000), (7500, 7500), (9000, 9000), (9990, 9999)),
                seq(
                    (15000, 15000), (22500, 22500), (27000, 27000), (29970, 29970),
                    (29973, 29973), (29976, 29976), (29979, 29979), (29982, 29982),
                    (29985, 29988),
                ),
            ),
        ),
    ),
    (
        b"a103 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
        Fetch(b"a103", True, seq((1, None)), (FetchSimple("FLAGS"),), 12345, True),
    ),
    (
        b"a FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 12345)",
        Fetch(
            b"a",
            False,
            seq((1, None)),
            (FetchSimple("UID"), FetchSimple("FLAGS"), FetchSimple("MODSEQ")),
            12345,
        ),
    ),
    (
        b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)",
        Store(
            b"d105",
            sequence=seq((7, 7), (5, 5), (9, 9)),
            mode=StoreMode.ADD,
            silent=True,
            flags=("\\Deleted",),
            unchanged_since=320162338,
        ),
    ),
    (
        b"a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
        Search(b"a", criteria=SearchModSeq(620162338, b"/flags/\\draft", "ALL")),
    ),
    # RFC 6154 SPECIAL-USE, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS
    (
        b"t1 CREATE \"Important Messages\" (USE (\\Important))",
        Create(b"t1", "Important Messages", ("\\Important",)),
    ),
    (
        b'A01 LIST (SPECIAL-USE) "" "*"',
        List(b"A01", "", ("*",), ("SPECIAL-USE",), extended=True),
    ),
    (
        b'A02 LIST "" "%" RETURN (SPECIAL-USE)',
        List(b"A02", "", ("%",), return_options=("SPECIAL-USE",), extended=True),
    ),
    (
        b'A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)',
        List(b"A02", "", ("%",), ("SUBSCRIBED", "RECURSIVEMATCH"), ("CHILDREN",), None, True),
    ),
    (
        b'A04 LIST "" ("INBOX" "Drafts" "Sent/%")',
        List(b"A04", "", ("INBOX", "Drafts", "Sent/%"), extended=True),
    ),
    (
        b'A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))',
        List(b"A01", "", ("%",), (), ("STATUS",), ("MESSAGES", "UNSEEN"), True),
    ),
    # RFC 8438 STATUS=SIZE, RFC 7889 APPENDLIMIT
    (
        b"a STATUS INBOX (SIZE HIGHESTMODSEQ APPENDLIMIT)",
        Status(b"a", "INBOX", ("SIZE", "HIGHESTMODSEQ", "APPENDLIMIT")),
    ),
    # RFC 4731 ESEARCH, RFC 5182 SEARCHRES
    (
        b"A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
        Search(
            b"A282",
            criteria=SearchAnd(
                (
                    SearchFlag("\\Flagged"),
                    SearchDate("SINCE", datetime.date(1994, 2, 1)),
                    SearchNot(SearchText("FROM", b"Smith")),
                )
            ),
            return_options=("MIN", "COUNT"),
        ),
    ),
    (b"A283 SEARCH RETURN () FLAGGED", Search(b"A283", criteria=SearchFlag("\\Flagged"),
                                              return_options=())),
    (
        b"A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
        Search(
            b"A282",
            criteria=SearchAnd(
                (
                    SearchFlag("\\Flagged"),
                    SearchDate("SINCE", datetime.date(1994, 2, 1)),
                    SearchNot(SearchText("FROM", b"Smith")),
                )
            ),
            return_options=("SAVE",),
        ),
    ),
    (b"A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)",
     Fetch(b"A283", False, SequenceSet(saved=True),
           tuple(FetchSimple(n) for n in ("UID", "INTERNALDATE", "FLAGS", "RFC822.HEADER")))),
    (
        b"C283 SEARCH CHARSET UTF-8 (OR $ 1:10) SINCE 1-Feb-1994",
        Search(
            b"C283",
            charset="UTF-8",
            criteria=SearchAnd(
                (
                    SearchAnd(
                        (SearchOr(SearchSequence(SequenceSet(saved=True)),
                                  SearchSequence(seq((1, 10)))),)
                    ),
                    SearchDate("SINCE", datetime.date(1994, 2, 1)),
                )
            ),
        ),
    ),
    # RFC 9208 QUOTA
    (b'G0001 GETQUOTA "!partition/sda4"', GetQuota(b"G0001", b"!partition/sda4")),
    (b"A003 GETQUOTAROOT INBOX", GetQuotaRoot(b"A003", "INBOX")),
    (
        b'S0000 SETQUOTA "#user/alice" (STORAGE 510)',
        SetQuota(b"S0000", b"#user/alice", (("STORAGE", 510),)),
    ),
    # RFC 5256 SORT/THREAD
    (
        b"A282 SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994",
        Sort(b"A282", False, (SortCriterion("SUBJECT"),), "UTF-8",
             SearchDate("SINCE", datetime.date(1994, 2, 1))),
    ),
    (
        b"A285 SORT (SUBJECT REVERSE DATE) UTF-8 ALL",
        Sort(b"A285", False, (SortCriterion("SUBJECT"), SortCriterion("DATE", True)), "UTF-8",
             SearchAll()),
    ),
    (
        b"A284 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000",
        Thread(b"A284", False, "ORDEREDSUBJECT", "UTF-8",
               SearchDate("SINCE", datetime.date(2000, 3, 5))),
    ),
    (
        b"A283 UID THREAD REFERENCES US-ASCII SINCE 5-MAR-2000",
        Thread(b"A283", True, "REFERENCES", "US-ASCII",
               SearchDate("SINCE", datetime.date(2000, 3, 5))),
    ),
    # RFC 3516 BINARY
    (
        b"t FETCH 1 (BINARY[1.2]<0.1024> BINARY.PEEK[] BINARY.SIZE[3])",
        Fetch(
            b"t",
            False,
            seq((1, 1)),
            (FetchBinary((1, 2), Partial(0, 1024)), FetchBinary((), peek=True),
             FetchBinarySize((3,))),
        ),
    ),
    (
        b"x FETCH 1 (BODY.PEEK[1.2.MIME] BODY[4.2.HEADER.FIELDS.NOT (Subject)]<10.20> BODY[])",
        Fetch(
            b"x",
            False,
            seq((1, 1)),
            (
                FetchBody(Section((1, 2), "MIME"), peek=True),
                FetchBody(Section((4, 2), "HEADER.FIELDS.NOT", ("Subject",)), Partial(10, 20)),
                FetchBody(Section()),
            ),
        ),
    ),
    (
        b"s SEARCH OR (UNSEEN NEW) NOT OLD LARGER 10 SMALLER 5000 HEADER X-Spam yes "
        b"UID 1:*,7",
        Search(
            b"s",
            criteria=SearchAnd(
                (
                    SearchOr(SearchAnd((SearchFlag("\\Seen", False), SearchRecent("NEW"))),
                             SearchNot(SearchRecent("OLD"))),
                    SearchSize("LARGER", 10),
                    SearchSize("SMALLER", 5000),
                    SearchHeader("X-Spam", b"yes"),
                    SearchSequence(seq((1, None), (7, 7)), uid=True),
                )
            ),
        ),
    ),
]


@pytest.mark.parametrize(("line", "expected"), CASES, ids=[c[0][:40].decode() for c in CASES])
def test_command_examples(line: bytes, expected: Command) -> None:
    assert one(line + b"\r\n") == expected


def test_rfc3501_append_example_with_synchronising_literal() -> None:
    """RFC 3501 6.3.11: the client waits for '+' before sending the 310-byte message."""
    message = (
        b"Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n"
        b"From: Fred Foobar <foobar@Blurdybloop.COM>\r\n"
        b"Subject: afternoon meeting\r\n"
        b"To: mooch@owatagu.siam.edu\r\n"
        b"Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
        b"\r\n"
        b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
    )
    assert len(message) == 310
    first = events(b"A003 APPEND saved-messages (\\Seen) {310}\r\n")
    assert first == [NeedContinuation(310)]


def test_append_after_continuation_and_multiappend() -> None:
    from protocols.imap.parser import CommandParser

    parser = CommandParser()
    parser.feed(b'A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {5}\r\n')
    assert parser.next_event() == NeedContinuation(5)
    assert parser.next_event() is None
    parser.feed(b"hello ~{3+}\r\na\x00b UTF8 (~{2+}\r\nhi)\r\n")
    cmd = parser.next_event()
    tz = datetime.timezone(-datetime.timedelta(hours=8))
    assert cmd == Append(
        b"A003",
        "saved-messages",
        (
            AppendMessage(b"hello", ("\\Seen",), datetime.datetime(1994, 2, 7, 21, 52, 25,
                                                                 tzinfo=tz)),
            AppendMessage(b"a\x00b", binary=True),
            AppendMessage(b"hi", binary=True, utf8=True),
        ),
    )


def test_uid_and_name_properties() -> None:
    assert one(b"a UID SEARCH ALL\r\n").name == "UID SEARCH"
    assert one(b"a examine x\r\n").name == "EXAMINE"
    cmd = one(b"a EXAMINE x\r\n")
    assert isinstance(cmd, Examine) and cmd.read_only
