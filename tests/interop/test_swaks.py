"""swaks (a real SMTP/LMTP client) against the running server: LMTP with one reply per
recipient, the inbound MX (local domains only: never an open relay), submission with
STARTTLS/implicit TLS and AUTH PLAIN/LOGIN; results read back over IMAP. Also: an LMTP
delivery wakes an IMAP IDLE session within one second."""

from __future__ import annotations

import smtplib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import RunningServer
from tests.protocols.smtp.helpers import (
    PASSWORDS,
    imap_login,
    inbox_messages,
    mail_server,
    wait_for_message,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from mail_server(request, tmp_path_factory.mktemp("swaks"))


def swaks(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["swaks", "--server", "127.0.0.1", "--timeout", "20", *args],
                          capture_output=True, text=True, timeout=60)


def marker() -> str:
    return f"m-{uuid.uuid4().hex}"


def test_lmtp_replies_per_recipient_and_delivers(server: RunningServer) -> None:
    tag = marker()
    r = swaks("--port", str(server.port("lmtp")), "--protocol", "LMTP",
              "--to", "alice@example.test,nobody@example.test,carol@example.test",
              "--from", "sender@example.org", "--header", f"Subject: {tag}")
    assert "250 2.0.0 <alice@example.test> delivered" in r.stdout
    assert "250 2.0.0 <carol@example.test> delivered" in r.stdout
    assert "550 5.1.1 <nobody@example.test>" in r.stdout
    for user in ("alice", "carol"):
        msg = wait_for_message(server, tag.encode(), user)
        assert msg.startswith(b"Received: from ")
        assert b"with LMTP id " in msg


def test_mx_is_not_an_open_relay(server: RunningServer) -> None:
    r = swaks("--port", str(server.port("smtp")), "--to", "someone@example.org",
              "--from", "spammer@example.net")
    assert r.returncode != 0
    assert "550 5.7.1 Relay access denied" in r.stdout
    # Not even with a local sender address, and not after STARTTLS.
    r = swaks("--port", str(server.port("smtp")), "-tls", "--to", "someone@example.org",
              "--from", "alice@example.test")
    assert "550 5.7.1 Relay access denied" in r.stdout and "STARTTLS" in r.stdout


def test_mx_accepts_aliases_and_groups(server: RunningServer) -> None:
    tag = marker()
    r = swaks("--port", str(server.port("smtp")), "--to", "alice.alias@example.test",
              "--from", "friend@example.org", "--header", f"Subject: {tag}")
    assert r.returncode == 0, r.stdout
    assert b"with ESMTP id" in wait_for_message(server, tag.encode(), "alice")
    tag = marker()
    r = swaks("--port", str(server.port("smtp")), "--to", "team@example.test",
              "--from", "friend@example.org", "--header", f"Subject: {tag}")
    assert r.returncode == 0, r.stdout
    wait_for_message(server, tag.encode(), "alice")
    wait_for_message(server, tag.encode(), "carol")


def test_submission_starttls_auth_plain_copies_to_sent(server: RunningServer) -> None:
    tag = marker()
    r = swaks("--port", str(server.port("submission", "starttls")), "-tls",
              "--auth", "PLAIN", "--auth-user", "alice@example.test",
              "--auth-password", PASSWORDS["alice"], "--to", "carol@example.test",
              "--from", "alice@example.test", "--header", f"Subject: {tag}")
    assert "235 2.7.0 Authentication successful" in r.stdout, r.stdout
    assert r.returncode == 0
    got = wait_for_message(server, tag.encode(), "carol")
    assert b"with ESMTPSA id" in got and b"(Authenticated sender: alice@example.test)" in got
    wait_for_message(server, tag.encode(), "alice", "Sent Items")


def test_submission_implicit_tls_auth_login(server: RunningServer) -> None:
    tag = marker()
    r = swaks("--port", str(server.port("submission", "implicit")), "--tlsc",
              "--auth", "LOGIN", "--auth-user", "carol@example.test",
              "--auth-password", PASSWORDS["carol"], "--to", "alice@example.test",
              "--from", "carol@example.test", "--header", f"Subject: {tag}")
    assert r.returncode == 0, r.stdout
    wait_for_message(server, tag.encode(), "alice")


def test_submission_refusals(server: RunningServer) -> None:
    port = str(server.port("submission", "starttls"))
    # Without TLS, AUTH is neither offered nor accepted.
    r = swaks("--port", port, "--auth", "PLAIN", "--auth-user", "alice@example.test",
              "--auth-password", PASSWORDS["alice"], "--to", "carol@example.test")
    assert r.returncode != 0 and "250-AUTH" not in r.stdout
    # A sender address that is not the user's own.
    r = swaks("--port", port, "-tls", "--auth", "PLAIN", "--auth-user", "alice@example.test",
              "--auth-password", PASSWORDS["alice"], "--to", "carol@example.test",
              "--from", "carol@example.test")
    assert "553 5.7.1" in r.stdout and r.returncode != 0
    # Unauthenticated MAIL.
    r = swaks("--port", port, "-tls", "--to", "carol@example.test", "--from", "x@example.org")
    assert "530 5.7.0 Authentication required" in r.stdout
    # bob has the smtp feature disabled; wrong passwords fail the same way.
    r = swaks("--port", port, "-tls", "--auth", "PLAIN", "--auth-user", "bob@example.test",
              "--auth-password", PASSWORDS["bob"], "--to", "carol@example.test")
    assert "535 5.7.8" in r.stdout
    r = swaks("--port", port, "-tls", "--auth", "LOGIN", "--auth-user", "alice@example.test",
              "--auth-password", "wrong", "--to", "carol@example.test")
    assert "535 5.7.8 Authentication credentials invalid" in r.stdout


def test_lmtp_delivery_wakes_imap_idle_within_a_second(server: RunningServer) -> None:
    client = imap_login(server, "carol")
    client.select("INBOX")
    sock: socket.socket = client.socket()
    sock.sendall(b"I1 IDLE\r\n")
    assert client.readline().startswith(b"+")
    tag = marker()
    with smtplib.LMTP("127.0.0.1", server.port("lmtp")) as lmtp:
        started = time.monotonic()
        lmtp.sendmail("x@example.org", ["carol@example.test"],
                      f"Subject: {tag}\r\n\r\nwake up\r\n")
    sock.settimeout(5)
    line = client.readline()
    elapsed = time.monotonic() - started
    assert line.startswith(b"* ") and b"EXISTS" in line, line
    assert elapsed < 1.0, f"IDLE woke after {elapsed:.3f}s"
    sock.sendall(b"DONE\r\n")
    while not client.readline().startswith(b"I1 OK"):
        pass
    client.logout()
    assert any(tag.encode() in m for m in inbox_messages(server, "carol"))
