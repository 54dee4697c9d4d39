"""The SMTP/LMTP session core, bytes in and bytes out (RFC 5321, 2920, 1870, 3461, 4954,
2033, 3207, 6531), including garbage and every limit."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.smtp.core import (
    AuthAttempt,
    MailFrom,
    MessageReceived,
    Mode,
    RcptTo,
    Settings,
    SmtpServerConnection,
    StartTls,
)
from protocols.smtp.reply import Reply

OK = Reply(250, "2.0.0", "OK")


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def conn(mode: Mode = Mode.MX, clock: Clock | None = None, **kw: object) -> SmtpServerConnection:
    c = SmtpServerConnection(Settings(mode=mode, hostname="mx.test", **kw),  # type: ignore[arg-type]
                             clock or Clock())
    c.greeting()
    assert c.data_to_send().startswith(b"220 mx.test ")
    return c


def feed(c: SmtpServerConnection, data: bytes,
         answers: dict[type, Reply | list[Reply]] | None = None) -> tuple[bytes, list[object]]:
    """Feed bytes, answer every event (accept by default), return output and events."""
    c.receive_data(data)
    events: list[object] = []
    out = b""
    while True:
        ev = c.next_event()
        out += c.data_to_send()
        if ev is None:
            break
        events.append(ev)
        if isinstance(ev, StartTls):
            c.tls_started()
            continue
        answer = (answers or {}).get(type(ev))
        if answer is None:
            if isinstance(ev, MessageReceived) and c.mode is Mode.LMTP:
                answer = [OK] * len(ev.recipients)
            elif isinstance(ev, AuthAttempt):
                answer = Reply(235, "2.7.0", "Authentication successful")
            else:
                answer = OK
        c.answer(answer)
        out += c.data_to_send()
    return out, events


def codes(out: bytes) -> list[int]:
    return [int(line[:3]) for line in out.split(b"\r\n") if line[3:4] == b" "]


def test_ehlo_advertises_the_extensions() -> None:
    c = conn(starttls=True)
    out, _ = feed(c, b"EHLO client.test\r\n")
    lines = out.decode().split("\r\n")
    assert lines[0] == "250-mx.test"
    for cap in ("PIPELINING", "SIZE 52428800", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                "DSN", "STARTTLS"):
        assert any(line[4:] == cap for line in lines), cap
    assert not any("AUTH" in line for line in lines)  # the MX offers no AUTH


def test_pipelined_transaction_answers_in_order_and_unstuffs_dots() -> None:
    c = conn()
    out, events = feed(c, b"EHLO c\r\nMAIL FROM:<a@x.test> SIZE=100\r\nRCPT TO:<b@y.test>\r\n"
                          b"RCPT TO:<c@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+2Bx@y.test\r\n"
                          b"DATA\r\n..dotted\r\nline\r\n.\r\nQUIT\r\n")
    assert codes(out) == [250, 250, 250, 250, 354, 250, 221]
    mail, _r1, r2, msg = events
    assert isinstance(mail, MailFrom) and mail.sender.address == "a@x.test" and mail.size == 100
    assert isinstance(r2, RcptTo) and r2.notify == {"SUCCESS", "FAILURE"}
    assert r2.orcpt == "rfc822;c+x@y.test"
    assert isinstance(msg, MessageReceived)
    assert msg.data == b".dotted\r\nline\r\n"
    assert [r.recipient.address for r in msg.recipients] == ["b@y.test", "c@y.test"]
    assert c.closed


def test_wrong_sequence_gets_503_and_the_session_stays_usable() -> None:
    c = conn()
    out, _ = feed(c, b"MAIL FROM:<a@x.test>\r\n")
    assert codes(out) == [503]
    out, _ = feed(c, b"EHLO c\r\nRCPT TO:<b@y.test>\r\nDATA\r\nMAIL FROM:<a@x.test>\r\n"
                     b"MAIL FROM:<a@x.test>\r\nDATA\r\n")
    assert codes(out) == [250, 503, 503, 250, 503, 503]
    assert b"503 5.5.1 Nested MAIL command" in out
    out, _ = feed(c, b"RCPT TO:<b@y.test>\r\nDATA\r\nhi\r\n.\r\n")
    assert codes(out) == [250, 354, 250]


def test_refused_recipients_then_data_is_554() -> None:
    c = conn()
    out, _ = feed(c, b"EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n",
                  {RcptTo: Reply(550, "5.1.1", "User unknown")})
    assert codes(out) == [250, 250, 550, 554]


def test_unknown_commands_garbage_and_long_lines() -> None:
    c = conn(max_line_length=512)
    out, _ = feed(c, b"FOO bar\r\n\r\n" + b"X" * 5000 + b"\r\n\xff\xfe\r\nNOOP\r\n")
    assert codes(out) == [500, 500, 500, 500, 250]
    assert b"500 5.5.2 Line too long" not in out  # no EHLO yet: plain codes
    assert b"Line too long" in out


def test_too_many_errors_closes_with_421() -> None:
    c = conn(max_errors=3)
    out, _ = feed(c, b"A\r\nB\r\nC\r\nNOOP\r\n")
    assert codes(out) == [500, 500, 500, 421]
    assert c.closed


def test_command_rate_limit() -> None:
    clock = Clock()
    c = conn(clock=clock, command_rate=1.0, command_burst=3)
    out, _ = feed(c, b"NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n")
    assert codes(out) == [250, 250, 250, 421]
    assert b"Too many commands" in out and c.closed


def test_size_limits() -> None:
    c = conn(max_message_size=1024)
    out, _ = feed(c, b"EHLO c\r\nMAIL FROM:<a@x.test> SIZE=2048\r\n")
    assert codes(out)[-1] == 552 and b"5.3.4" in out
    big = b"Subject: x\r\n\r\n" + (b"y" * 70 + b"\r\n") * 2000
    out, events = feed(c, b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" + big +
                       b".\r\nNOOP\r\n")
    assert codes(out) == [250, 250, 354, 552, 250]
    assert not any(isinstance(e, MessageReceived) for e in events)


def test_long_data_line_is_refused() -> None:
    c = conn(max_data_line_length=1000)
    out, _ = feed(c, b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n" +
                  b"z" * 1001 + b"\r\n.\r\n")
    assert codes(out)[-1] == 552 and b"longer than 1000" in out


def test_lmtp_one_reply_per_recipient_and_no_helo() -> None:
    c = conn(Mode.LMTP)
    out, _ = feed(c, b"HELO c\r\nEHLO c\r\n")
    assert codes(out) == [500, 500]
    out, _ = feed(c, b"LHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
                          b"RCPT TO:<c@y.test>\r\nDATA\r\nhello\r\n.\r\n",
                       {MessageReceived: [OK, Reply(452, "4.2.2", "Mailbox full")]})
    assert codes(out) == [250, 250, 250, 250, 354, 250, 452]


def test_submission_requires_auth_and_tls() -> None:
    c = conn(Mode.SUBMISSION, starttls=True)
    out, _ = feed(c, b"EHLO c\r\n")
    assert b"AUTH" not in out
    out, _ = feed(c, b"AUTH PLAIN AGEAYg==\r\nMAIL FROM:<a@x.test>\r\n")
    assert codes(out) == [538, 530]
    out, events = feed(c, b"STARTTLS\r\nMAIL FROM:<smuggled@x.test>\r\n")
    assert codes(out) == [220] and isinstance(events[0], StartTls)  # pipelined text dropped
    out, _ = feed(c, b"EHLO c\r\n")
    assert b"250-AUTH PLAIN LOGIN" in out or b"250 AUTH PLAIN LOGIN" in out
    plain = base64.b64encode(b"\x00alice@example.test\x00pw").decode()
    out, events = feed(c, f"AUTH PLAIN {plain}\r\n".encode())
    assert isinstance(events[0], AuthAttempt)
    assert (events[0].login, events[0].password) == ("alice@example.test", "pw")
    assert codes(out) == [235]


def test_auth_login_exchange_and_cancel() -> None:
    c = conn(Mode.SUBMISSION, tls=True)
    feed(c, b"EHLO c\r\n")
    out, _ = feed(c, b"AUTH LOGIN\r\n")
    assert out == b"334 VXNlcm5hbWU6\r\n"
    out, _ = feed(c, b"*\r\n")
    assert codes(out) == [501]
    out, events = feed(c, b"AUTH LOGIN\r\n" + base64.b64encode(b"bob") + b"\r\n" +
                       base64.b64encode(b"secret") + b"\r\n",
                       {AuthAttempt: Reply(535, "5.7.8", "Authentication credentials invalid")})
    assert codes(out) == [334, 334, 535]
    assert isinstance(events[0], AuthAttempt) and events[0].password == "secret"
    out, _ = feed(c, b"AUTH PLAIN !!!notbase64\r\n")
    assert codes(out) == [501]


def test_smtputf8_and_address_syntax() -> None:
    c = conn()
    out, _ = feed(c, "EHLO c\r\nMAIL FROM:<jörg@x.test>\r\n".encode())
    assert codes(out)[-1] == 553 and b"5.6.7" in out
    out, events = feed(c, "MAIL FROM:<jörg@x.test> SMTPUTF8\r\nRCPT TO:<ü@bücher.test>\r\n"
                          .encode())
    assert codes(out) == [250, 250]
    assert isinstance(events[0], MailFrom) and events[0].smtputf8
    feed(c, b"RSET\r\n")
    out, _ = feed(c, b"MAIL FROM:<a@x.test> FOO=bar\r\nMAIL FROM:<a@@x>\r\n"
                     b"MAIL FROM:<a@x.test> BODY=BINARYMIME\r\nMAIL FROM:a@x.test\r\n"
                     b"RCPT TO:<postmaster>\r\n")
    assert codes(out) == [555, 501, 501, 250, 250]


def test_empty_message_and_dsn_parameters() -> None:
    c = conn()
    _, events = feed(c, b"EHLO c\r\nMAIL FROM:<a@x.test> RET=HDRS ENVID=abc+2B1\r\n"
                        b"RCPT TO:<b@y.test> NOTIFY=NEVER\r\nDATA\r\n.\r\n")
    mail, rcpt, msg = events
    assert isinstance(mail, MailFrom) and (mail.ret, mail.envid) == ("HDRS", "abc+1")
    assert isinstance(rcpt, RcptTo) and rcpt.notify == {"NEVER"}
    assert isinstance(msg, MessageReceived) and msg.data == b""
    out, _ = feed(c, b"MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test> NOTIFY=NEVER,SUCCESS\r\n")
    assert codes(out) == [250, 501]


def test_data_split_across_packets() -> None:
    c = conn()
    feed(c, b"EHLO c\r\nMAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n")
    events: list[object] = []
    for chunk in (b"line1\r", b"\n..", b"stuffed\r", b"\n.", b"\r", b"\n"):
        _, ev = feed(c, chunk)
        events += ev
    (msg,) = events
    assert isinstance(msg, MessageReceived) and msg.data == b"line1\r\n.stuffed\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20), st.sampled_from(list(Mode)))
def test_garbage_never_raises_and_replies_are_well_formed(chunks: list[bytes],
                                                          mode: Mode) -> None:
    c = conn(mode, tls=True, max_line_length=512, max_errors=50)
    out = b""
    for chunk in chunks:
        o, _ = feed(c, chunk)
        out += o
    for line in out.split(b"\r\n")[:-1]:
        assert line[:3].isdigit() and line[3:4] in (b" ", b"-"), line
