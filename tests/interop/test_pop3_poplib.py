"""poplib against the POP3 listeners: CAPA, STLS and implicit TLS, USER/PASS and AUTH
PLAIN, RESP-CODES, stable UIDLs, TOP, deletion only on QUIT, the maildrop lock."""

from __future__ import annotations

import base64
import poplib
import smtplib
import socket
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer
from tests.protocols.smtp.helpers import PASSWORDS, mail_server, no_verify

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    extra = "\n[pop3]\nmax_connections_per_address = 4\n"
    yield from mail_server(request, tmp_path_factory.mktemp("pop3"), extra)


def deliver(server: RunningServer, user: str, subject: str) -> None:
    with smtplib.LMTP("127.0.0.1", server.port("lmtp")) as lmtp:
        lmtp.sendmail("x@example.org", [f"{user}@example.test"],
                      f"Subject: {subject}\r\nFrom: x@example.org\r\n\r\nbody of {subject}\r\n"
                      ".dot line\r\n")


def connect(server: RunningServer, user: str | None = "carol") -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    client.stls(no_verify())
    if user:
        client.user(f"{user}@example.test")
        client.pass_(PASSWORDS[user])
    return client


def test_capa_and_plaintext_refused_before_stls(server: RunningServer) -> None:
    client = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    caps = client.capa()
    assert {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "STLS", "PIPELINING"} <= set(caps)
    assert "USER" not in caps
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        client.user("carol@example.test")
    client.stls(no_verify())
    assert "USER" in client.capa() and "STLS" not in client.capa()
    client.quit()


def test_retrieve_uidl_top_and_delete_on_quit(server: RunningServer) -> None:
    tags = [f"p-{uuid.uuid4().hex}" for _ in range(3)]
    for tag in tags:
        deliver(server, "carol", tag)
    client = connect(server)
    count, size = client.stat()
    assert count >= 3 and size > 0
    _, listing, _ = client.uidl()
    uidls = [line.split()[1] for line in listing]
    assert len(set(uidls)) == len(uidls)
    _, lines, octets = client.retr(count)
    assert b"Subject: " + tags[-1].encode() in lines and b".dot line" in lines
    sizes = dict(line.split() for line in client.list()[1])
    assert int(sizes[str(count).encode()]) == octets
    _, top, _ = client.top(count, 0)
    assert top[-1] == b"" and not any(b"body of" in x for x in top)
    client.dele(count)
    # Dropping the connection without QUIT deletes nothing (RFC 1939 6). The maildrop
    # lock goes when the server has seen the connection close.
    client.sock.shutdown(socket.SHUT_RDWR)
    client.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            client = connect(server)
            break
        except poplib.error_proto as exc:
            assert b"[IN-USE]" in exc.args[0] and time.monotonic() < deadline
            time.sleep(0.05)
    assert client.stat()[0] == count
    assert [line.split()[1] for line in client.uidl()[1]] == uidls  # stable across sessions
    client.dele(count)
    assert client.quit().startswith(b"+OK")
    client = connect(server)
    assert client.stat()[0] == count - 1
    assert [line.split()[1] for line in client.uidl()[1]] == uidls[:-1]
    client.quit()


def test_auth_failures_have_response_codes(server: RunningServer) -> None:
    client = connect(server, None)
    client.user("carol@example.test")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] Authentication failed"):
        client.pass_("wrong")
    client.user("bob@example.test")  # pop3 feature disabled
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\] POP3 is disabled"):
        client.pass_(PASSWORDS["bob"])
    token = base64.b64encode(f"\0alice@example.test\0{PASSWORDS['alice']}".encode()).decode()
    assert client._shortcmd(f"AUTH PLAIN {token}").startswith(b"+OK")
    client.quit()


def test_second_session_gets_in_use(server: RunningServer) -> None:
    first = connect(server, "alice")
    second = connect(server, None)
    second.user("alice@example.test")
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        second.pass_(PASSWORDS["alice"])
    first.quit()
    second.user("alice@example.test")
    assert second.pass_(PASSWORDS["alice"]).startswith(b"+OK")
    second.quit()


def test_implicit_tls_and_wrong_state(server: RunningServer) -> None:
    client = poplib.POP3_SSL("127.0.0.1", server.port("pop3", "implicit"), timeout=10,
                             context=no_verify())
    with pytest.raises(poplib.error_proto, match="not valid in this state"):
        client.stat()
    with pytest.raises(poplib.error_proto, match="Unknown command"):
        client._shortcmd("XYZZY")
    client.user("carol@example.test")
    client.pass_(PASSWORDS["carol"])
    with pytest.raises(poplib.error_proto, match="No such message"):
        client.retr(99999)
    client.quit()


def test_connections_per_address_are_limited(server: RunningServer) -> None:
    port = server.port("pop3", "starttls")
    open_ones = [poplib.POP3("127.0.0.1", port, timeout=10) for _ in range(4)]
    with pytest.raises(poplib.error_proto, match=r"Too many connections"):
        poplib.POP3("127.0.0.1", port, timeout=10)
    for client in open_ones:
        client.quit()
    deadline = time.monotonic() + 5
    while True:  # the server counts a connection down when it has seen it close
        try:
            client = poplib.POP3("127.0.0.1", port, timeout=10)
            break
        except poplib.error_proto:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert "TOP" in client.capa()
    client.quit()
    assert "too many connections from 127.0.0.1" in server.log()
