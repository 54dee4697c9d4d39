"""imaplib and raw sockets against the running server: exact transcripts, TLS, SASL,
limits, bad input, and updates across sessions (flags, EXPUNGE, IDLE wake-ups)."""

from __future__ import annotations

import base64
import imaplib
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server
from tests.interop.imap_server import (
    FAST_AUTH,
    LISTENERS,
    PASSWORDS,
    fill,
    imap_server,
    login,
    login_tls,
    make_message,
    new_folder,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from imap_server(request, tmp_path_factory.mktemp("imap"),
                           "\n[imap]\nmax_line = 2048\nmax_literal = 1000000\n"
                           "max_connections_per_user = 30\n")


class Raw:
    """A line-level IMAP client for exact transcripts."""

    def __init__(self, port: int, *, tls: bool = False) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock)
        self.sock: socket.socket = sock
        self.buf = b""
        self.inflate: zlib._Decompress | None = None
        self.deflate: zlib._Compress | None = None
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        if self.inflate is not None:
            chunk = self.inflate.decompress(chunk)
        self.buf += chunk

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, line: bytes, tag: bytes | None = None) -> list[bytes]:
        """Send one command line; lines up to and including its tagged answer."""
        self.send(line + b"\r\n")
        tag = tag or line.split(b" ", 1)[0]
        return self.until(tag)

    def until(self, tag: bytes) -> list[bytes]:
        out = []
        while True:
            line = self.line()
            m = re.search(rb"\{(\d+)\}$", line)
            if m:
                line += b"\r\n" + self.read(int(m.group(1))) + self.line()
            out.append(line)
            if line.startswith(tag + b" "):
                return out

    def close(self) -> None:
        self.sock.close()


def _auth_plain(user: str) -> bytes:
    return base64.b64encode(b"\0" + f"{user}@example.test".encode() + b"\0"
                            + PASSWORDS[user].encode())


def test_greeting_capabilities_and_login_transcript(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    assert raw.greeting.startswith(b"* OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    caps = raw.cmd(b"a1 CAPABILITY")
    assert caps[-1] == b"a1 OK CAPABILITY completed"
    words = caps[0].split()
    assert words[:2] == [b"*", b"CAPABILITY"]
    for cap in (b"STARTTLS", b"AUTH=PLAIN", b"AUTH=LOGIN", b"SASL-IR", b"LITERAL+", b"ID",
                b"ENABLE", b"IDLE"):
        assert cap in words
    assert b"LOGINDISABLED" not in words  # loopback and allow_plaintext_loopback
    assert raw.cmd(b"a2 SELECT INBOX") == [b"a2 BAD SELECT needs authentication first"]
    assert raw.cmd(b"a3 LOGIN alice@example.test wrong") == [
        b"a3 NO [AUTHENTICATIONFAILED] Authentication failed."]
    ok = raw.cmd(b'a4 LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    assert ok[-1].startswith(b"a4 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ")
    for cap in (b"UIDPLUS", b"MOVE", b"CONDSTORE", b"QRESYNC", b"SPECIAL-USE", b"QUOTA",
                b"COMPRESS=DEFLATE", b"APPENDLIMIT=1000000", b"STATUS=SIZE", b"BINARY",
                b"ESEARCH", b"SEARCHRES", b"LIST-STATUS", b"THREAD=REFERENCES", b"SORT",
                b"MULTIAPPEND", b"UNSELECT", b"NAMESPACE", b"CHILDREN", b"UTF8=ACCEPT"):
        assert cap in ok[-1].replace(b"]", b" ").split(), cap
    assert raw.cmd(b"a5 NAMESPACE") == [b'* NAMESPACE (("" "/")) NIL NIL',
                                        b"a5 OK NAMESPACE completed"]
    listing = raw.cmd(b'a6 LIST "" %')
    assert b'* LIST (\\HasNoChildren) "/" INBOX' in listing
    assert b'* LIST (\\HasNoChildren \\Sent) "/" "Sent Items"' in listing
    assert b'* LIST (\\HasNoChildren \\Trash) "/" "Deleted Items"' in listing
    assert b'* LIST (\\HasNoChildren \\Drafts) "/" Drafts' in listing
    assert b'* LIST (\\HasNoChildren \\Junk) "/" "Junk E-mail"' in listing
    assert raw.cmd(b'a7 LIST "" ""') == [b'* LIST (\\Noselect) "/" ""', b"a7 OK LIST completed"]
    special = raw.cmd(b'a8 LIST (SPECIAL-USE) "" *')
    assert len(special) == 5 and all(b"\\HasNoChildren \\" in x for x in special[:-1])
    assert raw.cmd(b"a9 ID NIL")[0].startswith(b'* ID ("name" "groupware"')
    assert raw.cmd(b"b1 ENABLE CONDSTORE QRESYNC") == [b"* ENABLED CONDSTORE QRESYNC",
                                                       b"b1 OK ENABLE completed"]
    assert raw.cmd(b"b2 LOGOUT") == [b"* BYE Logging out", b"b2 OK LOGOUT completed"]
    raw.close()


def test_select_fetch_store_expunge_transcript(server: RunningServer) -> None:
    client = login(server)
    folder = new_folder(client)
    message = make_message("Transcript", "Line one.\r\nLine two.\r\n")
    typ, data = client.append(folder, r"(\Flagged $Label1)", None, message)
    assert typ == "OK" and data[0].startswith(b"[APPENDUID ")
    uidvalidity, uid = data[0].split(b"]")[0].split()[1:]
    assert uid == b"1"
    client.logout()

    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    sel = raw.cmd(b"s SELECT " + folder.encode())
    assert sel[:3] == [b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)",
                       b"* 1 EXISTS", b"* 0 RECENT"]
    assert b"* OK [UNSEEN 1] First unseen message is 1" in sel
    assert b"* OK [UIDVALIDITY " + uidvalidity + b"] UIDs valid" in sel
    assert b"* OK [UIDNEXT 2] Predicted next UID" in sel
    assert any(x.startswith(b"* OK [HIGHESTMODSEQ ") for x in sel)
    assert sel[-1] == b"s OK [READ-WRITE] SELECT completed"
    size = len(message)
    got = raw.cmd(b"f1 FETCH 1 (FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert got == [
        b"* 1 FETCH (FLAGS ($Label1 \\Flagged) RFC822.SIZE %d "
        b"BODY[HEADER.FIELDS (SUBJECT)] {23}\r\nSubject: Transcript\r\n\r\n)" % size,
        b"f1 OK FETCH completed"]
    # partial fetch of the text, then the implicit \Seen of a non-peek body fetch
    got = raw.cmd(b"f2 FETCH 1 (BODY[TEXT]<5.8>)")
    assert got == [b"* 1 FETCH (BODY[TEXT]<5> {8}\r\none.\r\nLi FLAGS ($Label1 \\Flagged \\Seen))",
                   b"f2 OK FETCH completed"]
    got = raw.cmd(b"f3 UID FETCH 1 (FLAGS)")
    assert got == [b"* 1 FETCH (UID 1 FLAGS ($Label1 \\Flagged \\Seen))",
                   b"f3 OK UID FETCH completed"]
    assert raw.cmd(b"f4 FETCH 1 (BODY[1.2])")[-1] == b"f4 OK FETCH completed"
    assert raw.cmd(b"f5 FETCH 2 FLAGS") == [b"f5 BAD Invalid message sequence number"]
    assert raw.cmd(b"st STORE 1 -FLAGS.SILENT (\\Flagged)") == [b"st OK STORE completed"]
    assert raw.cmd(b"s2 STORE 1 +FLAGS (\\Deleted)") == [
        b"* 1 FETCH (FLAGS ($Label1 \\Deleted \\Seen))", b"s2 OK STORE completed"]
    assert raw.cmd(b"se SEARCH DELETED") == [b"* SEARCH 1", b"se OK SEARCH completed"]
    assert raw.cmd(b"e EXPUNGE") == [b"* 1 EXPUNGE", b"e OK EXPUNGE completed"]
    assert raw.cmd(b"n NOOP") == [b"n OK NOOP completed"]
    status = raw.cmd(b"t STATUS " + folder.encode() + b" (MESSAGES UIDNEXT UNSEEN SIZE)")
    assert status == [b"* STATUS " + folder.encode() + b" (MESSAGES 0 UIDNEXT 2 UNSEEN 0 SIZE 0)",
                      b"t OK STATUS completed"]
    raw.close()


def test_authenticate_plain_sasl_ir_login_and_feature(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    # SASL-IR: the initial response on the command line
    got = raw.cmd(b"a AUTHENTICATE PLAIN " + _auth_plain("alice"))
    assert got[-1].startswith(b"a OK [CAPABILITY ")
    raw.close()
    raw = Raw(server.port("imap", "starttls"))
    raw.send(b"b AUTHENTICATE LOGIN\r\n")
    assert raw.line() == b"+ VXNlcm5hbWU6"
    raw.send(base64.b64encode(b"alice@example.test") + b"\r\n")
    assert raw.line() == b"+ UGFzc3dvcmQ6"
    raw.send(base64.b64encode(PASSWORDS["alice"].encode()) + b"\r\n")
    assert raw.until(b"b")[-1].startswith(b"b OK [CAPABILITY ")
    raw.close()
    raw = Raw(server.port("imap", "starttls"))
    raw.send(b"c AUTHENTICATE PLAIN\r\n")
    assert raw.line() == b"+ "
    raw.send(b"*\r\n")
    assert raw.until(b"c") == [b"c BAD AUTHENTICATE cancelled"]
    # bob exists and knows his password but has IMAP disabled
    assert raw.cmd(b"d AUTHENTICATE PLAIN " + _auth_plain("bob")) == [
        b"d NO [AUTHORIZATIONFAILED] IMAP is not enabled for this user."]
    assert raw.cmd(b"e AUTHENTICATE CRAM-MD5") == [
        b"e NO [CANNOT] Unsupported authentication mechanism CRAM-MD5"]
    raw.close()
    assert "feature imap disabled" in server.log()


def test_starttls_and_implicit_tls(server: RunningServer) -> None:
    client = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    typ, _ = client.starttls(ssl_context=ctx)
    assert typ == "OK"
    assert isinstance(client.sock, ssl.SSLSocket)
    assert "STARTTLS" not in client.capabilities
    client.login("alice@example.test", PASSWORDS["alice"])
    assert client.select("INBOX")[0] == "OK"
    client.logout()
    tls = login_tls(server)
    assert tls.noop()[0] == "OK"
    tls.logout()
    raw = Raw(server.port("imap", "implicit"), tls=True)
    assert b"STARTTLS" not in raw.greeting
    raw.close()


def test_logindisabled_until_starttls(server: RunningServer, tmp_path: Path) -> None:
    """With allow_plaintext_loopback off, plaintext login waits for STARTTLS."""
    strict = start_server(tmp_path, server.database_url, listeners=LISTENERS,
                          extra_config=FAST_AUTH + "\n[imap]\nallow_plaintext_loopback = false\n")
    try:
        raw = Raw(strict.port("imap", "starttls"))
        assert b" LOGINDISABLED" in raw.greeting and b"AUTH=PLAIN" not in raw.greeting
        assert raw.cmd(b"a LOGIN alice@example.test x") == [
            b"a NO [PRIVACYREQUIRED] Plaintext authentication is disabled; use STARTTLS first"]
        raw.close()
        client = imaplib.IMAP4("127.0.0.1", strict.port("imap", "starttls"), timeout=10)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        client.starttls(ssl_context=ctx)
        assert "AUTH=PLAIN" in client.capabilities
        assert client.login("alice@example.test", PASSWORDS["alice"])[0] == "OK"
        client.logout()
    finally:
        strict.stop()


def test_bad_input_keeps_connection_usable(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    assert raw.cmd(b"a1 FROBNICATE") == [b"a1 BAD unknown command FROBNICATE"]
    raw.send(b"\x00\xff garbage\r\n")
    assert raw.line().startswith(b"* BAD")
    assert raw.cmd(b"a2 NOOP") == [b"a2 OK NOOP completed"]
    # a line above max_line (2048)
    raw.send(b"a3 LOGIN " + b"x" * 5000 + b" y\r\n")
    assert raw.line() == b"a3 BAD line too long"
    assert raw.cmd(b"a4 NOOP") == [b"a4 OK NOOP completed"]
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    # a synchronising literal above max_literal is refused before it is sent
    raw.send(b"a5 APPEND INBOX {2000000}\r\n")
    assert raw.line() == b"a5 NO [TOOBIG] literal too large"
    assert raw.cmd(b"a6 NOOP") == [b"a6 OK NOOP completed"]
    # a non-synchronising literal above the limit is read and dropped
    raw.send(b"a7 APPEND INBOX {1000001+}\r\n" + b"x" * 1000001 + b"\r\n")
    assert raw.line() == b"a7 NO [TOOBIG] literal too large"
    assert raw.cmd(b"a8 NOOP") == [b"a8 OK NOOP completed"]
    assert raw.cmd(b"a9 FETCH 1 FLAGS") == [b"a9 BAD FETCH: no mailbox selected"]
    assert raw.cmd(b'b1 SELECT "no such folder"') == [
        b"b1 NO [NONEXISTENT] mailbox no such folder does not exist"]
    assert raw.cmd(b"b2 APPEND nosuch {3+}\r\nabc") == [
        b"b2 NO [TRYCREATE] Mailbox nosuch does not exist"]
    assert raw.cmd(b"b3 LOGIN a b") == [b"b3 BAD LOGIN is not allowed in the authenticated state"]
    assert raw.cmd(b"b4 DELETE INBOX") == [b"b4 NO [CANNOT] INBOX cannot be deleted"]
    # a truncated literal: the connection drops mid-literal; the server survives it
    raw.send(b"b5 APPEND INBOX {100+}\r\nonly a few bytes")
    raw.close()
    again = login(server)
    assert again.noop()[0] == "OK"
    again.logout()
    assert "refused input: line too long" in server.log()


def test_too_many_bad_commands_closes(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    for i in range(19):
        assert raw.cmd(b"x%d BOGUS" % i)[0].startswith(b"x%d BAD" % i)
    raw.send(b"y BOGUS\r\n")
    assert raw.line() == b"y BAD unknown command BOGUS"
    assert raw.line() == b"* BYE Too many invalid commands."
    with pytest.raises((ConnectionError, OSError)):
        raw.line()


def test_connections_per_user_limit(server: RunningServer) -> None:
    clients = [login(server, "carol") for _ in range(30)]
    extra = imaplib.IMAP4("127.0.0.1", server.port("imap", "starttls"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error, match="LIMIT"):
        extra.login("carol@example.test", PASSWORDS["carol"])
    for c in clients:
        c.logout()
    assert "carol@example.test has 30 sessions already" in server.log()
    fine = login(server, "carol")
    fine.logout()


def test_flags_and_expunge_reach_other_sessions(server: RunningServer) -> None:
    one = login(server)
    folder = new_folder(one)
    fill(one, folder, 3)
    one.select(folder)
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    raw.cmd(b"e ENABLE CONDSTORE")
    raw.cmd(b"s SELECT " + folder.encode())
    assert one.store("2", "+FLAGS", r"\Flagged")[0] == "OK"
    got = raw.cmd(b"n NOOP")
    assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", got[0])
    assert got[-1] == b"n OK NOOP completed"
    one.store("1", "+FLAGS", r"\Deleted")
    one.expunge()
    # not during FETCH (RFC 9051 7.4.1) ...
    got = raw.cmd(b"f FETCH 1:* (UID)")
    assert all(b"EXPUNGE" not in x for x in got)
    assert len(got) == 4  # the expunged message is still message 1 for this session
    # ... but at the next NOOP
    got = raw.cmd(b"n2 NOOP")
    assert got == [b"* 1 EXPUNGE", b"n2 OK NOOP completed"]
    raw.close()
    one.logout()


def test_idle_wakes_within_a_second_on_append_from_another_session(
        server: RunningServer) -> None:
    one = login(server)
    folder = new_folder(one)
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    raw.cmd(b"s SELECT " + folder.encode())
    raw.send(b"i IDLE\r\n")
    assert raw.line() == b"+ idling"
    started = time.monotonic()
    one.append(folder, "", None, make_message("wake up"))
    assert raw.line() == b"* 1 EXISTS"
    waited = time.monotonic() - started
    assert waited < 1.0, waited
    one.select(folder)
    one.store("1", "+FLAGS", r"\Seen")
    assert raw.line() == b"* 1 FETCH (UID 1 FLAGS (\\Seen))"
    raw.send(b"DONE\r\n")
    assert raw.until(b"i") == [b"i OK IDLE terminated"]
    raw.close()
    one.logout()


def test_compress_deflate(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    assert raw.cmd(b"z COMPRESS DEFLATE") == [b"z OK DEFLATE active"]
    raw.inflate = zlib.decompressobj(-15)
    raw.deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert raw.cmd(b"c CAPABILITY")[-1] == b"c OK CAPABILITY completed"
    folder = b"z-" + str(time.time_ns()).encode()
    assert raw.cmd(b"k CREATE " + folder) == [b"k OK CREATE completed"]
    body = make_message("compressed " * 20)
    got = raw.cmd(b"p APPEND " + folder + b" {%d+}\r\n" % len(body) + body)
    assert got[-1].startswith(b"p OK [APPENDUID ")
    raw.cmd(b"s SELECT " + folder)
    got = raw.cmd(b"f FETCH 1 BODY.PEEK[]")
    assert got[0].endswith(body + b")")
    assert raw.cmd(b"z2 COMPRESS DEFLATE") == [
        b"z2 NO [COMPRESSIONACTIVE] Compression is already active"]
    raw.close()


def test_multiappend_uidplus_copy_move(server: RunningServer) -> None:
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    src, dst = b"m-src-%d" % time.time_ns(), b"m-dst-%d" % time.time_ns()
    raw.cmd(b"c1 CREATE " + src)
    raw.cmd(b"c2 CREATE " + dst)
    a, b = make_message("one"), make_message("two")
    got = raw.cmd(b"a APPEND " + src + b" (\\Seen) {%d+}\r\n" % len(a) + a
                  + b" {%d+}\r\n" % len(b) + b)
    m = re.fullmatch(rb"a OK \[APPENDUID (\d+) 1:2\] APPEND completed", got[-1])
    assert m, got
    raw.cmd(b"s SELECT " + src)
    got = raw.cmd(b"c UID COPY 1:2 " + dst)
    assert re.fullmatch(rb"c OK \[COPYUID \d+ 1:2 1:2\] UID COPY completed", got[-1]), got
    got = raw.cmd(b"m MOVE 2 " + dst)
    assert re.fullmatch(rb"\* OK \[COPYUID \d+ 2 3\] Moved", got[0]), got
    assert got[1:] == [b"* 2 EXPUNGE", b"m OK MOVE completed"]
    got = raw.cmd(b"x UID EXPUNGE 1")
    assert got == [b"x OK UID EXPUNGE completed"]  # not \Deleted: nothing to expunge
    raw.cmd(b"d STORE 1 +FLAGS.SILENT (\\Deleted)")
    assert raw.cmd(b"x2 UID EXPUNGE 1") == [b"* 1 EXPUNGE", b"x2 OK UID EXPUNGE completed"]
    status = raw.cmd(b"t STATUS " + dst + b" (MESSAGES UIDNEXT)")
    assert status[0] == b"* STATUS " + dst + b" (MESSAGES 3 UIDNEXT 4)"
    got = raw.cmd(b"q GETQUOTAROOT INBOX")
    assert got == [b"* QUOTAROOT INBOX", b"q OK GETQUOTAROOT completed"]
    raw.close()


def test_search_esearch_searchres_sort_thread(server: RunningServer) -> None:
    client = login(server)
    folder = new_folder(client)
    msgs = [
        make_message("apples", sender="zed@example.org"),
        make_message("Re: apples", sender="amy@example.org"),
        make_message("pears", "big pears here\r\n", sender="bob@example.org"),
    ]
    for m in msgs:
        client.append(folder, "", None, m)
    client.select(folder)
    assert client.search(None, "SUBJECT", "apples") == ("OK", [b"1 2"])
    assert client.search(None, "BODY", "PEARS") == ("OK", [b"3"])
    assert client.search(None, "FROM", "amy") == ("OK", [b"2"])
    assert client.search(None, "NOT", "SUBJECT", "apples") == ("OK", [b"3"])
    assert client.uid("SEARCH", "UID", "2:*") == ("OK", [b"2 3"])
    assert client.sort("(FROM)", "UTF-8", "ALL") == ("OK", [b"2 3 1"])
    assert client.sort("(REVERSE SUBJECT)", "UTF-8", "ALL") == ("OK", [b"3 1 2"])
    assert client.thread("ORDEREDSUBJECT", "UTF-8", "ALL") == ("OK", [b"(1 2)(3)"])
    assert client.thread("REFERENCES", "UTF-8", "ALL") == ("OK", [b"((1)(2))(3)"])
    client.logout()
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    raw.cmd(b"s SELECT " + folder.encode())
    assert raw.cmd(b"e SEARCH RETURN (MIN MAX COUNT) SUBJECT apples") == [
        b'* ESEARCH (TAG "e") MIN 1 MAX 2 COUNT 2', b"e OK SEARCH completed"]
    assert raw.cmd(b"r UID SEARCH RETURN (SAVE) FROM bob") == [b"r OK UID SEARCH completed"]
    got = raw.cmd(b"f UID FETCH $ (UID)")
    assert got == [b"* 3 FETCH (UID 3)", b"f OK UID FETCH completed"]
    assert raw.cmd(b"c SEARCH CHARSET KOI8-R ALL") == [
        b"c NO [BADCHARSET] Unsupported charset KOI8-R"]
    raw.close()


def test_condstore_qresync(server: RunningServer) -> None:
    client = login(server)
    folder = new_folder(client)
    fill(client, folder, 4)
    client.logout()
    raw = Raw(server.port("imap", "starttls"))
    raw.cmd(b'l LOGIN alice@example.test "' + PASSWORDS["alice"].encode() + b'"')
    raw.cmd(b"e ENABLE QRESYNC")
    sel = raw.cmd(b"s SELECT " + folder.encode())
    uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b"\n".join(sel)).group(1))
    modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"\n".join(sel)).group(1))
    got = raw.cmd(b"u1 UID STORE 2 +FLAGS (\\Seen)")
    m = re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \((\d+)\)\)", got[0])
    assert m and int(m.group(1)) > modseq
    got = raw.cmd(b"u2 STORE 2:3 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % modseq)
    assert re.fullmatch(rb"\* 3 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", got[0])
    assert got[1:] == [b"u2 OK [MODIFIED 2] Conditional STORE failed"]
    raw.cmd(b"d STORE 4 +FLAGS.SILENT (\\Deleted)")
    got = raw.cmd(b"x EXPUNGE")
    assert got[0] == b"* VANISHED 4"
    got = raw.cmd(b"f UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % modseq)
    assert got[0] == b"* VANISHED (EARLIER) 4"
    assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", got[1])
    assert re.fullmatch(rb"\* 3 FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)", got[2])
    assert len(got) == 4
    raw.cmd(b"u UNSELECT")
    got = raw.cmd(b"q SELECT %s (QRESYNC (%d %d 1:4))" % (folder.encode(), uidvalidity, modseq))
    assert b"* VANISHED (EARLIER) 4" in got
    assert any(re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", x)
               for x in got)
    raw.close()


def test_idle_wakes_many_sessions(server: RunningServer) -> None:
    """Twenty IDLE sessions of one folder all hear of one new message within 1 s."""
    one = login(server)
    folder = new_folder(one)
    sessions = []
    for _ in range(20):
        raw = Raw(server.port("imap", "starttls"))
        raw.cmd(b'l AUTHENTICATE PLAIN ' + _auth_plain("alice"))
        raw.cmd(b"s SELECT " + folder.encode())
        raw.send(b"i IDLE\r\n")
        assert raw.line() == b"+ idling"
        sessions.append(raw)
    times: list[float] = []
    lock = threading.Lock()

    def wait(raw: Raw, start: float) -> None:
        assert raw.line() == b"* 1 EXISTS"
        with lock:
            times.append(time.monotonic() - start)

    start = time.monotonic()
    threads = [threading.Thread(target=wait, args=(r, start)) for r in sessions]
    for t in threads:
        t.start()
    one.append(folder, "", None, make_message("for everyone"))
    for t in threads:
        t.join(5)
    assert len(times) == 20 and max(times) < 1.0, times
    for raw in sessions:
        raw.close()
    one.logout()

