"""A running server with every mail listener, users and a real smarthost, shared by the
SMTP/LMTP/POP3 interop modules (one server per module keeps the suite fast).

Users: alice (alias alice.alias@), bob (``smtp`` and ``pop3`` disabled), carol; group
team@ = alice + carol. The smarthost is aiosmtpd — a real SMTP server from PyPI — on a
loopback port, recording what it receives; tests choose its answers per recipient.
"""

from __future__ import annotations

import imaplib
import smtplib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer, free_port, start_server
from tests.interop.imap_server import FAST_AUTH, module_database_url

PASSWORDS = {"alice": "alice-Secret-1", "bob": "bob-Secret-1", "carol": "carol-Secret-1"}
MAIL_LISTENERS = [
    {"protocol": "smtp", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
    {"protocol": "submission", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
    {"protocol": "submission", "address": "127.0.0.1", "port": 0, "tls": "implicit"},
    {"protocol": "lmtp", "address": "127.0.0.1", "port": 0, "tls": "none"},
    {"protocol": "pop3", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
    {"protocol": "pop3", "address": "127.0.0.1", "port": 0, "tls": "implicit"},
    {"protocol": "imap", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
]


def no_verify() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Smarthost:
    """aiosmtpd on loopback; ``answers`` maps a recipient to the RCPT reply it gets."""

    port: int
    received: list[Any] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)
    controller: Any = None

    def wait_for(self, pred: Callable[[Any], bool], timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for env in list(self.received):
                if pred(env):
                    return env
            time.sleep(0.05)
        raise AssertionError(f"smarthost received nothing matching in {timeout}s: "
                             f"{[e.rcpt_tos for e in self.received]}")


def start_smarthost(port: int | None = None) -> Smarthost:
    from aiosmtpd.controller import Controller

    host = Smarthost(port or free_port())

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              rcpt_options: list[str]) -> str:
            answer = host.answers.get(address.lower())
            if answer is not None and not answer.startswith("250"):
                return answer
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.append(rcpt_options)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            host.received.append(envelope)
            return "250 2.0.0 Message accepted"

    host.controller = Controller(Handler(), hostname="127.0.0.1", port=host.port,
                                 enable_SMTPUTF8=True)
    host.controller.start()
    return host


def mail_server(request: pytest.FixtureRequest, tmp: Path, extra: str = "",
                smarthost: Smarthost | None = None) -> Iterator[RunningServer]:
    url = module_database_url(request, tmp)
    relay = ""
    if smarthost is not None:
        relay = (f'\n[queue]\nrelay_host = "127.0.0.1"\nrelay_port = {smarthost.port}\n'
                 'relay_tls = "none"\npoll_interval = 0.5\nretry_schedule = [1.0]\n'
                 'lease = 5.0\n')
    server = start_server(tmp, url, listeners=MAIL_LISTENERS,
                          extra_config=FAST_AUTH + relay + extra)
    try:
        server.cli("user", "add", "alice@example.test", "--name", "Alice", "--alias",
                   "alice.alias@example.test", "--password-stdin",
                   input=PASSWORDS["alice"] + "\n")
        for user in ("bob", "carol"):
            server.cli("user", "add", f"{user}@example.test", "--name", user.title(),
                       "--password-stdin", input=PASSWORDS[user] + "\n")
        server.cli("user", "features", "bob", "--disable", "smtp", "--disable", "pop3")
        server.cli("group", "add", "team@example.test", "--member", "alice@example.test",
                   "--member", "carol@example.test")
        yield server
    finally:
        server.stop()


def imap_login(server: RunningServer, user: str = "alice") -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=10)
    client.login(f"{user}@example.test", PASSWORDS[user])
    return client


def inbox_messages(server: RunningServer, user: str = "alice",
                   folder: str = "INBOX") -> list[bytes]:
    """Every message of ``folder`` (read over IMAP, a real client of the same store)."""
    client = imap_login(server, user)
    try:
        typ, _ = client.select(f'"{folder}"', readonly=True)
        assert typ == "OK"
        typ, data = client.uid("SEARCH", "ALL")
        uids = data[0].split()
        out = []
        for uid in uids:
            typ, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
            out.append(parts[0][1])
        return out
    finally:
        client.logout()


def wait_for_message(server: RunningServer, marker: bytes, user: str = "alice",
                     folder: str = "INBOX", timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        for msg in inbox_messages(server, user, folder):
            if marker in msg:
                return msg
        if time.monotonic() > deadline:
            raise AssertionError(f"no message with {marker!r} in {user}'s {folder}")
        time.sleep(0.1)


def submission(server: RunningServer, user: str = "alice") -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", server.port("submission", "starttls"), timeout=10)
    client.starttls(context=no_verify())
    client.login(f"{user}@example.test", PASSWORDS[user])
    return client


def raw_session(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    return sock


def read_reply(sock: socket.socket) -> bytes:
    """One complete (multi-line) SMTP reply."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        lines = data.split(b"\r\n")
        complete = lines[:-1]
        if complete and len(complete[-1]) >= 4 and complete[-1][3:4] == b" ":
            return data

