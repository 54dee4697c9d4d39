"""Python's smtplib against submission, the MX and LMTP; outbound delivery through a
real smarthost (aiosmtpd) with retries, DSNs and the queue CLI; limits and garbage on
the wire with the connection staying usable where RFC 5321 says so."""

from __future__ import annotations

import email
import json
import smtplib
import socket
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from tests.conftest import RunningServer
from tests.protocols.smtp.helpers import (
    Smarthost,
    mail_server,
    no_verify,
    start_smarthost,
    submission,
    wait_for_message,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def smarthost() -> Iterator[Smarthost]:
    host = start_smarthost()
    yield host
    host.controller.stop()


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           smarthost: Smarthost) -> Iterator[RunningServer]:
    extra = "\n[smtp]\nmax_message_size = 200000\nmax_errors = 5\n"
    yield from mail_server(request, tmp_path_factory.mktemp("smtplib"), extra, smarthost)


def message(to: str, subject: str, sender: str = "alice@example.test") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Hello över there.\n.leading dot line\n")
    return msg


def test_outbound_mail_goes_through_the_smarthost(server: RunningServer,
                                                  smarthost: Smarthost) -> None:
    tag = f"out-{uuid.uuid4().hex}"
    with submission(server) as client:
        refused = client.send_message(message("Friend <friend@example.org>", tag))
    assert refused == {}
    env = smarthost.wait_for(lambda e: tag.encode() in e.original_content)
    assert env.mail_from == "alice@example.test"
    assert env.rcpt_tos == ["friend@example.org"]
    body = env.original_content
    assert body.startswith(b"Received: from ")
    parsed = email.message_from_bytes(body)
    assert parsed["Message-ID"] and parsed["Date"]
    assert "Hello över there." in parsed.get_payload(decode=True).decode()
    assert b"\r\n.leading dot line" in body  # dot-stuffing undone on both hops
    wait_for_message(server, tag.encode(), "alice", "Sent Items")


def test_permanent_failure_bounces_a_dsn_to_the_sender(server: RunningServer,
                                                       smarthost: Smarthost) -> None:
    tag = f"bounce-{uuid.uuid4().hex}"
    smarthost.answers["gone@example.org"] = "550 5.1.1 gone@example.org: no such user"
    with submission(server) as client:
        client.send_message(message("gone@example.org", tag))
    dsn = email.message_from_bytes(wait_for_message(server, b"Action: failed", "alice",
                                                    timeout=20))
    assert dsn.get_content_type() == "multipart/report"
    assert dsn.get_param("report-type") == "delivery-status"
    status = dsn.get_payload()[1]
    fields = status.get_payload()
    assert fields[1]["Final-Recipient"] == "rfc822; gone@example.org"
    assert fields[1]["Status"] == "5.1.1"
    assert "no such user" in fields[1]["Diagnostic-Code"]
    assert tag.encode() in dsn.get_payload()[2].as_bytes()


def test_temporary_failure_is_retried_and_listed(server: RunningServer,
                                                 smarthost: Smarthost) -> None:
    tag = f"retry-{uuid.uuid4().hex}"
    smarthost.answers["later@example.org"] = "451 4.3.0 try again later"
    with submission(server) as client:
        client.send_message(message("later@example.org", tag))
    deadline = time.monotonic() + 15
    while True:
        listing = json.loads(server.cli("queue", "list", "--json").stdout)
        rows = [r for e in listing for r in e["recipients"] if r["address"] == "later@example.org"]
        if rows and rows[0]["attempts"] >= 1:
            break
        assert time.monotonic() < deadline, listing
        time.sleep(0.2)
    assert "451 4.3.0 try again later" in rows[0]["last_error"]
    assert "later@example.org" in server.cli("queue", "list").stdout
    del smarthost.answers["later@example.org"]
    server.cli("queue", "retry", "--all")
    env = smarthost.wait_for(lambda e: tag.encode() in e.original_content)
    assert env.rcpt_tos == ["later@example.org"]
    deadline = time.monotonic() + 10
    while "later@example.org" in server.cli("queue", "list").stdout:
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_success_dsn_when_relayed(server: RunningServer, smarthost: Smarthost) -> None:
    tag = f"notify-{uuid.uuid4().hex}"
    with submission(server) as client:
        client.sendmail("alice@example.test", ["n@example.org"],
                        message("n@example.org", tag).as_bytes(),
                        mail_options=["RET=HDRS", "ENVID=" + tag],
                        rcpt_options=["NOTIFY=SUCCESS"])
    smarthost.wait_for(lambda e: tag.encode() in e.original_content)
    dsn = email.message_from_bytes(wait_for_message(server, b"Action: relayed", "alice",
                                                    timeout=20))
    fields = dsn.get_payload()[1].get_payload()
    assert fields[0]["Original-Envelope-Id"] == tag
    assert dsn.get_payload()[2].get_content_type() == "text/rfc822-headers"


def test_mx_delivery_with_smtplib_and_8bit_utf8(server: RunningServer) -> None:
    tag = f"mx-{uuid.uuid4().hex}"
    with smtplib.SMTP("127.0.0.1", server.port("smtp"), timeout=10) as client:
        client.starttls(context=no_verify())
        body = f"Subject: {tag}\r\nFrom: jörg@bücher.example\r\n\r\nGrüße\r\n".encode()
        client.sendmail("jörg@bücher.example", ["alice@example.test"], body,
                        mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    got = wait_for_message(server, tag.encode(), "alice")
    assert "Grüße".encode() in got and b"with UTF8SMTPS id" in got


def raw(server: RunningServer, protocol: str = "smtp") -> tuple[socket.socket, bytes]:
    sock = socket.create_connection(("127.0.0.1", server.port(protocol)), timeout=10)
    return sock, sock.recv(4096)


def ask(sock: socket.socket, line: bytes) -> bytes:
    sock.sendall(line)
    data = b""
    while not data.endswith(b"\r\n") or data.split(b"\r\n")[-2][3:4] == b"-":
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_garbage_long_lines_and_limits_on_the_wire(server: RunningServer) -> None:
    sock, banner = raw(server)
    assert banner.startswith(b"220 ")
    assert ask(sock, b"EHLO c\r\n").startswith(b"250-")
    assert ask(sock, b"X" * 10000 + b"\r\n").startswith(b"500 5.5.2 Line too long")
    assert ask(sock, b"NOOP\r\n").startswith(b"250 ")  # still usable
    assert ask(sock, b"\x00\x01\xff\r\n").startswith(b"500 ")
    assert ask(sock, b"RCPT TO:<alice@example.test>\r\n").startswith(b"503 5.5.1")
    assert ask(sock, b"MAIL FROM:<a@x.test> SIZE=999999999\r\n").startswith(b"552 5.3.4")
    assert ask(sock, b"MAIL FROM:<a@x.test>\r\n").startswith(b"250 ")
    assert ask(sock, b"RCPT TO:<alice@example.test>\r\n").startswith(b"250 ")
    assert ask(sock, b"DATA\r\n").startswith(b"354 ")
    big = b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 300
    assert ask(sock, big + b".\r\n").startswith(b"552 5.3.4")
    assert ask(sock, b"FOO\r\n").startswith(b"500 5.5.2")
    # max_errors = 5 (three errors so far plus the rejections count): the rest closes.
    reply = ask(sock, b"BAR\r\nBAZ\r\nQUX\r\n")
    assert b"421 4.7.0" in reply
    assert sock.recv(100) == b""
    sock.close()
