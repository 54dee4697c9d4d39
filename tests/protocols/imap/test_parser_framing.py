"""Literals, limits, resynchronisation and the SASL/IDLE line modes of the parser."""

from __future__ import annotations

from protocols.imap.commands import Append, Login, Noop, Search
from protocols.imap.events import (
    IdleDone,
    NeedContinuation,
    ParserLimits,
    ProtocolViolation,
    SaslResponse,
)
from protocols.imap.parser import CommandParser

from .helpers import events, one


def test_synchronising_literal_waits_for_continuation() -> None:
    parser = CommandParser()
    parser.feed(b"a LOGIN {5}\r\n")
    assert parser.next_event() == NeedContinuation(5)
    assert parser.next_event() is None
    parser.feed(b"alice {3}\r\n")
    assert parser.next_event() == NeedContinuation(3)
    parser.feed(b"pwd\r\n")
    assert parser.next_event() == Login(b"a", b"alice", b"pwd")


def test_non_synchronising_literal_needs_no_continuation() -> None:
    assert events(b"a LOGIN {5+}\r\nalice {0+}\r\n\r\nb NOOP\r\n") == [
        Login(b"a", b"alice", b""),
        Noop(b"b"),
    ]


def test_literal_bytes_are_never_parsed_as_commands() -> None:
    got = events(b"a LOGIN {14+}\r\nx DELETE INBOX pw\r\n")
    assert got == [Login(b"a", b"x DELETE INBOX", b"pw")]


def test_invalid_command_is_refused_before_the_literal_is_requested() -> None:
    got = events(b"a7 FROBNICATE {10}\r\nb NOOP\r\n")
    assert got == [ProtocolViolation(b"a7", "unknown command FROBNICATE"), Noop(b"b")]


def test_oversize_sync_literal_is_refused_with_toobig_and_no_continuation() -> None:
    got = events(b"a APPEND INBOX {1000}\r\nb NOOP\r\n", max_literal=999)
    assert got == [
        ProtocolViolation(b"a", "literal too large", status="NO", code="TOOBIG"),
        Noop(b"b"),
    ]


def test_oversize_nonsync_literal_is_swallowed_with_the_rest_of_its_command() -> None:
    body = b"x NOOP\r\n" * 200  # would be commands if it were not skipped
    data = b"a APPEND INBOX {%d+}\r\n" % len(body) + body + b" {3+}\r\nabc\r\nb NOOP\r\n"
    got = events(data, max_literal=1000)
    assert got == [
        ProtocolViolation(b"a", "literal too large", status="NO", code="TOOBIG"),
        Noop(b"b"),
    ]


def test_oversize_nonsync_literal_can_close_the_connection_instead() -> None:
    parser = CommandParser(ParserLimits(max_literal=10, close_on_oversize_nonsync=True))
    got = events(b"a APPEND INBOX {11+}\r\n01234567890\r\nb NOOP\r\n", parser)
    assert got == [
        ProtocolViolation(b"a", "literal too large", fatal=True, status="NO", code="TOOBIG")
    ]
    assert parser.closed


def test_literal_minus_limits_only_non_synchronising_literals() -> None:
    limits = {"max_nonsync_literal": 4096}
    big = b"m" * 4097
    got = events(b"a APPEND INBOX {4097+}\r\n" + big + b"\r\nb NOOP\r\n", **limits)
    assert got[0] == ProtocolViolation(
        b"a", "non-synchronizing literal too large (LITERAL-)", status="NO", code="TOOBIG"
    )
    assert got[1:] == [Noop(b"b")]
    assert events(b"a APPEND INBOX {4097}\r\n", **limits) == [NeedContinuation(4097)]


def test_string_literal_limit_is_separate_from_message_literals() -> None:
    got = events(b"a LOGIN {70000}\r\n", max_string_literal=65536)
    assert got == [
        ProtocolViolation(b"a", "literal too large for this argument", status="NO",
                          code="TOOBIG")
    ]
    assert events(b"a APPEND INBOX {70000}\r\n") == [NeedContinuation(70000)]


def test_nul_needs_literal8() -> None:
    got = events(b"a APPEND INBOX {3+}\r\na\x00b\r\n")
    assert got == [ProtocolViolation(b"a", "NUL in a literal (use literal8)")]
    ok = events(b"a APPEND INBOX ~{3+}\r\na\x00b\r\n")
    assert isinstance(ok[0], Append) and ok[0].messages[0].binary


def test_literal8_only_where_the_grammar_allows_it() -> None:
    got = events(b"a LOGIN ~{3+}\r\nabc pw\r\n")
    assert got == [ProtocolViolation(b"a", "literal8 not allowed here")]


def test_literal_marker_must_end_its_line() -> None:
    assert one(b"a LOGIN {3}abc pw\r\n") == ProtocolViolation(b"a", "literal must end the line")


def test_overlong_line_is_refused_and_parser_resynchronises() -> None:
    data = b"a1 SEARCH TEXT " + b"x" * 200 + b"\r\nb NOOP\r\n"
    expected = [ProtocolViolation(b"a1", "line too long"), Noop(b"b")]
    assert events(data, max_line=100) == expected
    from .helpers import events_bytewise

    assert events_bytewise(data, max_line=100) == expected


def test_overlong_line_ending_in_nonsync_literal_skips_the_literal() -> None:
    data = b"a APPEND " + b"x" * 200 + b" {8+}\r\nc NOOP\r\n\r\nb NOOP\r\n"
    assert events(data, max_line=100) == [ProtocolViolation(b"a", "line too long"), Noop(b"b")]


def test_untagged_violation_when_no_tag_can_be_read() -> None:
    assert events(b"(garbage)\r\n") == [ProtocolViolation(None, "invalid tag")]
    assert events(b"+ NOOP\r\n")[0] == ProtocolViolation(None, "invalid tag")


def test_empty_lines_between_commands_are_ignored() -> None:
    assert events(b"\r\n\r\na NOOP\r\n\n") == [Noop(b"a")]


def test_bare_lf_is_accepted_as_line_end() -> None:
    assert events(b"a NOOP\nb LOGIN {1+}\nx y\n") == [Noop(b"a"), Login(b"b", b"x", b"y")]


def test_depth_limit() -> None:
    deep = b"a SEARCH " + b"(" * 70 + b"ALL" + b")" * 70 + b"\r\n"
    assert one(deep) == ProtocolViolation(b"a", "parentheses nested too deeply")
    nots = b"a SEARCH " + b"NOT " * 40 + b"ALL\r\n"
    assert events(nots, max_depth=32) == [
        ProtocolViolation(b"a", "parentheses nested too deeply")
    ]
    assert isinstance(events(nots, max_depth=64)[0], Search)


def test_argument_count_limit() -> None:
    line = b"a FETCH " + b",".join(b"%d" % i for i in range(1, 200)) + b" FLAGS\r\n"
    assert events(line, max_args=100) == [ProtocolViolation(b"a", "too many arguments")]


def test_literal_count_limit() -> None:
    data = b"a APPEND INBOX {1+}\r\nx {1+}\r\ny {1+}\r\nz\r\nb NOOP\r\n"
    got = events(data, max_command_literals=2)
    assert got == [ProtocolViolation(b"a", "too many literals in one command"), Noop(b"b")]


def test_sasl_line_mode() -> None:
    parser = CommandParser()
    parser.feed(b"a AUTHENTICATE PLAIN\r\nAGFsaWNlAHB3\r\nb NOOP\r\n")
    cmd = parser.next_event()
    assert cmd is not None and cmd.name == "AUTHENTICATE"  # type: ignore[union-attr]
    parser.expect_sasl_response(b"a")
    assert parser.next_event() == SaslResponse(b"a", b"\x00alice\x00pw")
    assert parser.next_event() == Noop(b"b")
    parser.feed(b"c AUTHENTICATE LOGIN\r\n*\r\n")
    parser.next_event()
    parser.expect_sasl_response(b"c")
    assert parser.next_event() == SaslResponse(b"c", b"", cancelled=True)
    parser.feed(b"d AUTHENTICATE LOGIN\r\n!!!\r\n")
    parser.next_event()
    parser.expect_sasl_response(b"d")
    assert parser.next_event() == ProtocolViolation(b"d", "invalid base64 in SASL response")


def test_idle_done_mode() -> None:
    parser = CommandParser()
    parser.feed(b"i IDLE\r\ndone\r\ni2 IDLE\r\nNOOP\r\n")
    assert parser.next_event() is not None
    parser.expect_idle_done(b"i")
    assert parser.idle
    assert parser.next_event() == IdleDone(b"i")
    assert not parser.idle
    parser.next_event()
    parser.expect_idle_done(b"i2")
    assert parser.next_event() == ProtocolViolation(b"i2", "expected DONE")


def test_take_unparsed_after_starttls() -> None:
    parser = CommandParser()
    parser.feed(b"a STARTTLS\r\nb LOGIN injected x\r\n")
    assert parser.next_event() is not None
    assert parser.take_unparsed() == b"b LOGIN injected x\r\n"
    assert parser.next_event() is None


def test_utf8_mode_changes_mailbox_decoding() -> None:
    parser = CommandParser()
    parser.feed(b"a SELECT &ZeVnLIqe-\r\n")
    assert parser.next_event().mailbox == "\u65e5\u672c\u8a9e"  # type: ignore[union-attr]
    parser.utf8 = True
    parser.feed(b"a SELECT &ZeVnLIqe-\r\n")
    assert parser.next_event().mailbox == "&ZeVnLIqe-"  # type: ignore[union-attr]


def test_grammar_errors_keep_the_tag() -> None:
    cases = {
        b"a FETCH 0 FLAGS": "sequence number out of range",
        b"a FETCH 1 (ALL)": "ALL is a macro and must be used alone",
        b"a UID SELECT x": "UID SELECT is not a command",
        b"a NOOP extra": "unexpected extra arguments",
        b"a FETCH 1 BODY[0]": "number must not be zero",
        b"a FETCH 1 BODY[MIME]": "MIME needs a part number",
        b"a FETCH 1 (FLAGS) (VANISHED)": (
            "VANISHED needs UID FETCH and CHANGEDSINCE (RFC 7162 3.2.6)"
        ),
        b'a LIST (RECURSIVEMATCH) "" *': "RECURSIVEMATCH needs a base selection option",
        b"a STATUS INBOX (BOGUS)": "unknown status item BOGUS",
        b"a SEARCH BEFORE 31-Feb-2020": "invalid date",
        b'a SELECT "unterminated': "unterminated quoted string",
        b"a ID (\"k\" \"v\" \"k2\")": "expected space",
    }
    for line, message in cases.items():
        assert one(line + b"\r\n") == ProtocolViolation(b"a", message), line
