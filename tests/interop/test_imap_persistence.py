"""Mail lives in the message store: it survives a restart of the server process, and a
``kill -9`` right after LMTP's 250.

Real processes on the same database and data directory (MIME originals are blobs
there), real clients: smtplib's LMTP, imaplib, poplib. What a client saw before the
restart — bytes, UIDs, UIDVALIDITY, flags, MODSEQ, INTERNALDATE, folders and
subscriptions — is what it sees after it.
"""

from __future__ import annotations

import imaplib
import poplib
import re
import signal
import smtplib
import uuid
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.interop.imap_server import FAST_AUTH, module_database_url
from tests.protocols.smtp.helpers import MAIL_LISTENERS, PASSWORDS, no_verify

pytestmark = pytest.mark.interop


def start(tmp: Path, url: str, *, init: bool) -> RunningServer:
    (tmp / "ready.json").unlink(missing_ok=True)  # the restarted process writes its own
    return start_server(tmp, url, listeners=MAIL_LISTENERS, extra_config=FAST_AUTH, init=init)


def restart(server: RunningServer, tmp: Path, *, kill: bool = False) -> RunningServer:
    if kill:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        assert server.process.returncode == -signal.SIGKILL
    else:
        assert server.stop() == 0
    return start(tmp, server.database_url, init=False)


def lmtp(server: RunningServer, data: bytes, to: str = "alice@example.test") -> None:
    with smtplib.LMTP("127.0.0.1", server.port("lmtp")) as client:
        client.ehlo("lmtp-client.example")
        code, _ = client.mail("sender@example.org")
        assert code == 250
        code, _ = client.rcpt(to)
        assert code == 250
        code, reply = client.data(data)
        assert code == 250, reply


def imap(server: RunningServer) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port("imap"), timeout=10)
    client.login("alice@example.test", PASSWORDS["alice"])
    return client


def pop3_messages(server: RunningServer) -> dict[str, bytes]:
    """UIDL -> message, as poplib reads them (dot-unstuffed, CRLF line ends)."""
    client = poplib.POP3("127.0.0.1", server.port("pop3", "starttls"), timeout=10)
    try:
        client.stls(no_verify())
        client.user("alice@example.test")
        client.pass_(PASSWORDS["alice"])
        out = {}
        for line in client.uidl()[1]:
            number, uidl = line.decode().split()
            lines = client.retr(int(number))[1]
            out[uidl] = b"\r\n".join(lines) + b"\r\n"
        return out
    finally:
        client.quit()


def message(tag: str) -> bytes:
    # 8-bit body, a long header line, trailing blanks, a dot line, folded header:
    # what comes back must be byte for byte what was stored.
    return (f"From: Sender <sender@example.org>\r\nTo: alice@example.test\r\n"
            f"Subject: {tag}\r\nMessage-ID: <{tag}@example.org>\r\n"
            f"X-Long: {'x' * 300}\r\nX-Folded: one\r\n\ttwo  \r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            f"\r\nGrüße aus {tag}  \r\n.\r\n..two dots\r\n\r\nlast line\r\n").encode()


def fetch_all(client: imaplib.IMAP4) -> dict[int, tuple[bytes, bytes, bytes]]:
    """UID -> (FLAGS item, INTERNALDATE item, BODY[]) of the selected folder."""
    typ, data = client.uid("FETCH", "1:*", "(FLAGS INTERNALDATE BODY.PEEK[])")
    assert typ == "OK"
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        head = item[0]
        uid = int(re.search(rb"UID (\d+)", head).group(1))  # type: ignore[union-attr]
        flags = re.search(rb"FLAGS \(([^)]*)\)", head).group(1)  # type: ignore[union-attr]
        date = re.search(rb'INTERNALDATE "([^"]+)"', head).group(1)  # type: ignore[union-attr]
        out[uid] = (b" ".join(sorted(flags.split())), date, item[1])
    return out


def status(client: imaplib.IMAP4, folder: str) -> dict[str, int]:
    typ, data = client.status(folder, "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)")
    assert typ == "OK"
    text = data[0].decode()
    return {k: int(v) for k, v in re.findall(r"([A-Z]+) (\d+)", text)}


def test_mail_and_flags_survive_a_restart(request: pytest.FixtureRequest,
                                          tmp_path: Path) -> None:
    url = module_database_url(request, tmp_path)
    server = start(tmp_path, url, init=True)
    try:
        server.cli("user", "add", "alice@example.test", "--password-stdin",
                   input=PASSWORDS["alice"] + "\n")
        tags = [f"persist-{uuid.uuid4().hex[:8]}-{i}" for i in range(3)]
        for tag in tags:
            lmtp(server, message(tag))
        client = imap(server)
        client.select("INBOX")
        typ, _ = client.uid("STORE", "1", "+FLAGS", r"(\Flagged \Answered $label1)")
        assert typ == "OK"
        client.uid("STORE", "2", "+FLAGS", r"(\Seen \Deleted \Draft)")
        client.uid("STORE", "3", "+FLAGS", "($Forwarded)")
        assert client.create("Projects/2026")[0] == "OK"
        typ, data = client.append("Projects/2026", r"(\Seen $Important)",
                                  '"01-Feb-2026 10:11:12 +0100"', message("appended"))
        assert typ == "OK", data
        assert client.unsubscribe('"Junk E-mail"')[0] == "OK"
        before = fetch_all(client)
        inbox_before = status(client, "INBOX")
        client.select("Projects/2026")
        projects_before = fetch_all(client)
        projects_status = status(client, "Projects/2026")
        client.logout()
        pop_before = pop3_messages(server)
        assert sorted(before) == [1, 2, 3]
        assert before[1][0] == rb"$label1 \Answered \Flagged"
        assert before[2][0] == rb"\Deleted \Draft \Seen"
        assert before[3][0] == rb"$Forwarded"
        for uid, tag in zip((1, 2, 3), tags, strict=True):
            body = before[uid][2]
            assert body.startswith(b"Received: from lmtp-client.example")
            assert body.endswith(message(tag))
        assert projects_before[1][1] == b" 1-Feb-2026 09:11:12 +0000"  # the same instant
        assert projects_before[1][0] == rb"$Important \Seen"
        assert projects_before[1][2] == message("appended")

        server = restart(server, tmp_path)

        client = imap(server)
        assert status(client, "INBOX") == inbox_before
        assert status(client, "Projects/2026") == projects_status
        client.select("INBOX")
        assert fetch_all(client) == before
        typ, data = client.uid("FETCH", "1:*", f"(FLAGS) (CHANGEDSINCE "
                                               f"{inbox_before['HIGHESTMODSEQ']})")
        assert typ == "OK" and data == [None]  # nothing changed behind our back
        client.select("Projects/2026")
        assert fetch_all(client) == projects_before
        typ, listed = client.lsub()
        names = b"\n".join(x for x in listed if isinstance(x, bytes))
        assert b"Projects/2026" in names and b"INBOX" in names and b"Junk" not in names
        client.logout()
        pop_after = pop3_messages(server)
        assert pop_after == pop_before  # same UIDLs, same bytes
        # POP3 leaves out messages marked \Deleted (message 2); the rest byte for byte.
        assert sorted(pop_after.values()) == sorted(before[u][2] for u in (1, 3))
    finally:
        server.stop()


def test_kill_9_right_after_lmtp_250_loses_nothing(request: pytest.FixtureRequest,
                                                   tmp_path: Path) -> None:
    url = module_database_url(request, tmp_path)
    server = start(tmp_path, url, init=True)
    try:
        server.cli("user", "add", "alice@example.test", "--password-stdin",
                   input=PASSWORDS["alice"] + "\n")
        tag = f"kill9-{uuid.uuid4().hex}"
        lmtp(server, message(tag))
        server = restart(server, tmp_path, kill=True)  # SIGKILL as soon as the 250 came

        client = imap(server)
        client.select("INBOX", readonly=True)
        found = fetch_all(client)
        client.logout()
        assert len(found) == 1
        (flags, _date, body), = found.values()
        assert flags == b"" and body.endswith(message(tag))
        assert list(pop3_messages(server).values()) == [body]
        # The Message-ID was remembered in the same transaction: a retry of the same
        # message (a client that never saw the 250) is accepted and dropped.
        lmtp(server, message(tag))
        client = imap(server)
        assert status(client, "INBOX")["MESSAGES"] == 1
        client.logout()
    finally:
        server.stop()
