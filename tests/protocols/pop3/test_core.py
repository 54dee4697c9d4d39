"""The POP3 session core: RFC 1939 commands, RFC 2449 CAPA/RESP-CODES, STLS, SASL,
deletion only on QUIT, limits and garbage."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.pop3.core import (
    Fetch,
    Login,
    Message,
    Pop3ServerConnection,
    Settings,
    StartTls,
    Update,
)

MAILDROP = [Message(1, 30, "u1"), Message(2, 40, "u2"), Message(5, 50, "u5")]
RAW = b"Subject: hi\r\nFrom: a@x\r\n\r\n.leading dot\r\nline2\r\nline3\r\n"


def conn(**kw: object) -> Pop3ServerConnection:
    c = Pop3ServerConnection(Settings(hostname="pop.test", **kw),  # type: ignore[arg-type]
                             lambda: 0.0)
    c.greeting()
    assert c.data_to_send() == b"+OK pop.test POP3 ready\r\n"
    return c


def feed(c: Pop3ServerConnection, data: bytes, *,
         login_ok: bool = True) -> tuple[bytes, list[object]]:
    c.receive_data(data)
    out, events = b"", []
    while True:
        ev = c.next_event()
        out += c.data_to_send()
        if ev is None:
            return out, events
        events.append(ev)
        if isinstance(ev, StartTls):
            c.tls_started()
        elif isinstance(ev, Login):
            if login_ok:
                c.answer_login(True, "Logged in", MAILDROP)
            else:
                c.answer_login(False, "[AUTH] Authentication failed")
        elif isinstance(ev, Fetch):
            c.answer_fetch(RAW)
        elif isinstance(ev, Update):
            c.answer_update(True)
        out += c.data_to_send()


def logged_in() -> Pop3ServerConnection:
    c = conn(tls=True)
    out, _ = feed(c, b"USER alice\r\nPASS pw\r\n")
    assert out == b"+OK Send PASS\r\n+OK Logged in\r\n"
    return c


def test_capa_before_and_after_stls() -> None:
    c = conn(starttls=True)
    out, _ = feed(c, b"CAPA\r\n")
    caps = out.decode().split("\r\n")
    assert caps[0].startswith("+OK") and caps[-2] == "."
    assert {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "STLS"} <= set(caps)
    assert "USER" not in caps  # plaintext login is not offered before TLS
    out, _ = feed(c, b"USER alice\r\n")
    assert out.startswith(b"-ERR [AUTH] ")
    out, events = feed(c, b"STLS\r\nUSER smuggled\r\n")
    assert out == b"+OK Begin TLS negotiation\r\n" and isinstance(events[0], StartTls)
    out, _ = feed(c, b"CAPA\r\n")
    assert b"\r\nUSER\r\n" in out and b"SASL PLAIN LOGIN" in out and b"STLS" not in out


def test_transaction_commands() -> None:
    c = logged_in()
    out, _ = feed(c, b"STAT\r\nLIST\r\nUIDL 3\r\nLIST 9\r\n")
    assert out == (b"+OK 3 120\r\n+OK 3 messages\r\n1 30\r\n2 40\r\n3 50\r\n.\r\n"
                   b"+OK 3 u5\r\n-ERR No such message\r\n")
    out, events = feed(c, b"RETR 1\r\n")
    assert isinstance(events[0], Fetch) and events[0].message.uid == 1
    assert out.startswith(b"+OK 30 octets\r\n") and b"\r\n..leading dot\r\n" in out
    assert out.endswith(b"line3\r\n.\r\n")
    out, _ = feed(c, b"TOP 2 1\r\n")
    assert out == (b"+OK Top of message follows\r\nSubject: hi\r\nFrom: a@x\r\n\r\n"
                   b"..leading dot\r\n.\r\n")


def test_deletion_only_on_quit_and_rset() -> None:
    c = logged_in()
    out, _ = feed(c, b"DELE 2\r\nDELE 2\r\nRETR 2\r\nSTAT\r\nRSET\r\nSTAT\r\nDELE 1\r\nDELE 3\r\n")
    assert out.split(b"\r\n")[:8] == [b"+OK Message 2 deleted", b"-ERR Message is deleted",
                                      b"-ERR Message is deleted", b"+OK 2 80",
                                      b"+OK 3 messages (120 octets)", b"+OK 3 120",
                                      b"+OK Message 1 deleted", b"+OK Message 3 deleted"]
    _, events = feed(c, b"QUIT\r\n")
    (update,) = events
    assert isinstance(update, Update) and [m.uid for m in update.deleted] == [1, 5]
    assert c.closed


def test_quit_without_deletions_needs_no_update() -> None:
    c = logged_in()
    out, events = feed(c, b"QUIT\r\n")
    assert events == [] and out.startswith(b"+OK") and c.closed


def test_wrong_state_unknown_and_failed_login() -> None:
    c = conn(tls=True, max_errors=5)
    out, _ = feed(c, b"STAT\r\nFROB\r\nPASS x\r\n")
    assert out == (b"-ERR Command not valid in this state\r\n-ERR Unknown command\r\n"
                   b"-ERR Send USER first\r\n")
    out, _ = feed(c, b"USER a\r\nPASS b\r\n", login_ok=False)
    assert out == b"+OK Send PASS\r\n-ERR [AUTH] Authentication failed\r\n"
    out, _ = feed(c, b"X\r\n")
    assert out.endswith(b"-ERR [SYS/PERM] Too many errors, closing connection\r\n") and c.closed


def test_sasl_plain_and_login() -> None:
    c = conn(tls=True)
    plain = base64.b64encode(b"\x00alice\x00pw")
    _, events = feed(c, b"AUTH PLAIN\r\n" + plain + b"\r\n")
    assert isinstance(events[0], Login)
    assert (events[0].login, events[0].password) == ("alice", "pw")
    c = conn(tls=True)
    out, events = feed(c, b"AUTH LOGIN\r\n" + base64.b64encode(b"bob") + b"\r\n" +
                       base64.b64encode(b"s3") + b"\r\n")
    assert out.startswith(b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n")
    assert isinstance(events[0], Login) and events[0].password == "s3"


def test_long_lines_are_refused_and_the_session_continues() -> None:
    c = logged_in()
    out, _ = feed(c, b"NOOP " + b"x" * 5000 + b"\r\nSTAT\r\n")
    assert out == b"-ERR Line too long\r\n+OK 3 120\r\n"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_garbage_never_raises(chunks: list[bytes]) -> None:
    c = conn(tls=True, max_line_length=255, max_errors=100)
    out = b""
    for chunk in chunks:
        o, _ = feed(c, chunk)
        out += o
    assert not c.waiting
    if not c.closed:  # whatever came before, a new line gets a proper answer
        out, _ = feed(c, b"\r\nCAPA\r\n")
        assert b"+OK Capability list follows\r\n" in out
