"""The delivery pipeline in process, on the real database and SQL directory: recipient
resolution (aliases, sub-addresses, groups, catch-all, foreign domains), duplicate
suppression by Message-ID, the Received header, and the DSN builder."""

from __future__ import annotations

import asyncio
import email
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.clock import Clock
from groupware.config import load_config
from groupware.errors import NotFound
from groupware.handlers.delivery import (
    DeliveryHandler,
    Envelope,
    EnvelopeRecipient,
    RelayDenied,
    SessionInfo,
)
from groupware.handlers.queue_dsn import RecipientStatus, build_dsn
from groupware.server import GroupwareServer
from tests.conftest import GROUPWARE, write_config

FAST = "\n[auth]\nargon2_time_cost = 1\nargon2_memory_cost = 1024\nargon2_parallelism = 1\n"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[GroupwareServer]:
    config = tmp_path / "groupware.toml"
    write_config(config, tmp_path / "var", database_url, [],
                 FAST + '\n[delivery]\ncatch_all = { "catch.test" = "carol@catch.test" }\n')

    def cli(*args: str) -> None:
        subprocess.run([GROUPWARE, "--config", str(config), *args], check=True,
                       capture_output=True, input="pw-123456\n", text=True, timeout=120)

    cli("init", "--admin-password", "admin-secret")
    cli("user", "add", "alice@example.test", "--alias", "al@example.test", "--password-stdin")
    cli("user", "add", "bob@example.test", "--password-stdin")
    cli("domain", "add", "catch.test")
    cli("user", "add", "carol@catch.test", "--password-stdin")
    cli("group", "add", "team@example.test", "--member", "alice@example.test", "--member",
        "bob@example.test")
    srv = GroupwareServer(load_config(config, env={}), Clock())
    yield srv
    srv.close()


def rcpt(address: str) -> EnvelopeRecipient:
    return EnvelopeRecipient(address)


def test_resolution(server: GroupwareServer) -> None:
    async def go() -> None:
        d: DeliveryHandler = server.get_delivery()
        for address in ("alice@example.test", "AL@Example.Test", "alice+news@example.test"):
            target = await d.resolve(rcpt(address))
            assert [u.address for u in target.mailboxes] == ["alice@example.test"]
        team = await d.resolve(rcpt("team@example.test"))
        assert sorted(u.address for u in team.mailboxes) == ["alice@example.test",
                                                             "bob@example.test"]
        with pytest.raises(NotFound):
            await d.resolve(rcpt("nobody@example.test"))
        with pytest.raises(RelayDenied):
            await d.resolve(rcpt("alice@example.org"))
        caught = await d.resolve(rcpt("whoever@catch.test"))
        assert [u.address for u in caught.mailboxes] == ["carol@catch.test"]
        await server.get_directory().close()

    asyncio.run(go())


def test_duplicates_within_the_window_are_dropped(server: GroupwareServer) -> None:
    async def go() -> None:
        d = server.get_delivery()
        session = SessionInfo("lmtp", "127.0.0.1", "T1", helo="client")
        env = Envelope("x@example.org")
        target = await d.resolve(rcpt("alice@example.test"))
        group = await d.resolve(rcpt("team@example.test"))
        msg = b"Message-ID: <same@example.org>\r\nSubject: one\r\n\r\nbody\r\n"
        assert await d.deliver(session, env, [target, group], msg) == [None, None]
        assert await d.deliver(session, env, [target], msg) == [None]
        other = b"Message-ID: <other@example.org>\r\nSubject: two\r\n\r\nbody\r\n"
        assert await d.deliver(session, env, [target], other) == [None]
        port = d.store.port
        for user, expected in (("alice@example.test", 2), ("bob@example.test", 1)):
            found = await server.get_directory().find_address(user)
            assert found is not None
            box, fid = await d.store.folder(found, "inbox")
            snap = await port.snapshot(box, fid)
            assert len(snap.messages) == expected, user
            first = await port.read_mime(box, fid, snap.messages[0].uid)
            assert first.startswith(b"Received: from client ([127.0.0.1])\r\n\tby ")
            assert b"with LMTP id T1" in first
        await server.get_directory().close()

    asyncio.run(go())


def test_dsn_is_a_valid_multipart_report() -> None:
    original = b"From: a@example.test\r\nSubject: hi\r\n\r\nbody\r\n"
    raw = build_dsn(hostname="mx.example.test", original_sender="a@example.test",
                    original=original, arrival=0.0, now=60.0, envid="E1", ret=None,
                    recipients=[RecipientStatus("x@example.org", "failed", "5.1.1",
                                                "550 5.1.1 unknown", "rfc822;X@example.org",
                                                "mx.example.org", 60.0)])
    msg = email.message_from_bytes(raw)
    assert msg["To"] == "<a@example.test>" and msg["Auto-Submitted"] == "auto-replied"
    human, status, returned = msg.get_payload()
    assert "x@example.org" in human.get_payload()
    per_message, per_rcpt = status.get_payload()
    assert per_message["Reporting-MTA"] == "dns; mx.example.test"
    assert per_message["Original-Envelope-Id"] == "E1"
    assert per_rcpt["Action"] == "failed" and per_rcpt["Status"] == "5.1.1"
    assert per_rcpt["Original-Recipient"] == "rfc822;X@example.org"
    assert returned.get_content_type() == "message/rfc822"
    assert b"Subject: hi" in returned.as_bytes()
