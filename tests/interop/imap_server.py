"""One running server with IMAP listeners per test module, and mail helpers.

Starting ``groupware serve`` takes about a second; the IMAP interop modules share
one per module (users alice and bob, bob without the ``imap`` feature). Each test
works in folders of its own, so tests of a module do not see each other's mail.
"""

from __future__ import annotations

import imaplib
import ssl
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import RunningServer, empty_database_url, start_server

PASSWORDS = {"alice": "alice-Secret-1", "bob": "bob-Secret-1", "carol": "carol-Secret-1"}
FAST_AUTH = """
[auth]
argon2_time_cost = 1
argon2_memory_cost = 1024
argon2_parallelism = 1
"""
LISTENERS = [
    {"protocol": "imap", "address": "127.0.0.1", "port": 0, "tls": "starttls"},
    {"protocol": "imap", "address": "127.0.0.1", "port": 0, "tls": "implicit"},
]


def module_database_url(request: pytest.FixtureRequest, tmp: Path) -> str:
    """A database at the schema head, empty, for one module's server."""
    return empty_database_url(request, tmp)


def imap_server(request: pytest.FixtureRequest, tmp: Path,
                extra: str = "") -> Iterator[RunningServer]:
    url = module_database_url(request, tmp)
    server = start_server(tmp, url, listeners=LISTENERS, extra_config=FAST_AUTH + extra)
    try:
        for user in ("alice", "bob", "carol"):
            server.cli("user", "add", f"{user}@example.test", "--name", user.title(),
                       "--password-stdin", input=PASSWORDS[user] + "\n")
        server.cli("user", "features", "bob", "--disable", "imap")
        yield server
    finally:
        server.stop()


def login(server: RunningServer, user: str = "alice") -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    client.login(f"{user}@example.test", PASSWORDS[user])
    return client


def login_tls(server: RunningServer, user: str = "alice") -> imaplib.IMAP4_SSL:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    client = imaplib.IMAP4_SSL("127.0.0.1", server.port("imap", "implicit"), ssl_context=ctx,
                               timeout=10)
    client.login(f"{user}@example.test", PASSWORDS[user])
    return client


def new_folder(client: imaplib.IMAP4, prefix: str = "t") -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    typ, data = client.create(name)
    assert typ == "OK", data
    return name


def make_message(subject: str, body: str = "Hello.\r\n", *, sender: str = "sender@example.org",
                 to: str = "alice@example.test", extra: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 23 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def fill(client: imaplib.IMAP4, folder: str, count: int, prefix: str = "msg") -> None:
    for i in range(count):
        typ, data = client.append(folder, "", None, make_message(f"{prefix} {i}"))
        assert typ == "OK", data
