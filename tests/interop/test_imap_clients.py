"""Real IMAP clients against the running server: imapclient, imap-tools, mbsync,
offlineimap3, fetchmail and mutt (under tmux)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import imap_tools
import pytest
from imapclient import IMAPClient

from tests.conftest import RunningServer
from tests.interop.imap_server import PASSWORDS, fill, imap_server, login, make_message

pytestmark = pytest.mark.interop

MULTIPART = (
    b"From: Ann Example <ann@example.org>\r\n"
    b"To: alice@example.test, \"Bob B.\" <bob@example.test>\r\n"
    b"Cc: carol@example.test\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= report\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <report-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Caf=C3=A9 numbers attached.\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"aGVsbG8gd28=\r\n"
    b"--XX--\r\n"
)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from imap_server(request, tmp_path_factory.mktemp("imapclients"))


def _client(server: RunningServer) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port("imap", "starttls"), ssl=False, timeout=10)
    client.login("alice@example.test", PASSWORDS["alice"])
    return client


def test_imapclient_envelope_bodystructure_binary(server: RunningServer) -> None:
    c = _client(server)
    c.create_folder("ic-structure")
    c.append("ic-structure", MULTIPART)
    c.select_folder("ic-structure")
    data = c.fetch([1], ["ENVELOPE", "BODYSTRUCTURE", "BINARY.PEEK[2]", "BINARY.SIZE[2]",
                         "BODY.PEEK[1]<0.4>"])[1]
    env = data[b"ENVELOPE"]
    assert env.subject == b"=?utf-8?q?Caf=C3=A9?= report"
    assert env.message_id == b"<report-1@example.org>"
    assert [(a.mailbox, a.host) for a in env.to] == [(b"alice", b"example.test"),
                                                     (b"bob", b"example.test")]
    assert env.to[1].name == b"Bob B."
    assert env.from_[0].name == b"Ann Example"
    body = data[b"BODYSTRUCTURE"]
    assert body.is_multipart
    parts, subtype = body[0], body[1]
    assert subtype == b"mixed"
    assert parts[0][:2] == (b"text", b"plain")
    assert parts[0][5] == b"quoted-printable"
    assert parts[1][:2] == (b"application", b"octet-stream")
    assert data[b"BINARY[2]"] == b"hello wo"
    assert data[b"BINARY.SIZE[2]"] == 8
    assert data[b"BODY[1]<0>"] == b"Caf="
    assert b"\\Seen" not in c.get_flags([1])[1]  # PEEK and BINARY.SIZE leave it unseen
    c.logout()


def test_imapclient_idle_move_condstore(server: RunningServer) -> None:
    watcher = _client(server)
    actor = _client(server)
    assert watcher.enable("CONDSTORE") == [b"CONDSTORE"]
    actor.create_folder("ic-a")
    actor.create_folder("ic-b")
    watcher.select_folder("ic-a")
    watcher.idle()
    actor.append("ic-a", make_message("idle test"))
    responses = watcher.idle_check(timeout=2)
    watcher.idle_done()
    assert (1, b"EXISTS") in responses
    info = watcher.select_folder("ic-a")
    modseq = info[b"HIGHESTMODSEQ"]
    actor.select_folder("ic-a")
    actor.add_flags([1], [b"\\Flagged"])
    changed = watcher.fetch([1], ["FLAGS"], modifiers=[f"CHANGEDSINCE {modseq}"])
    assert changed[1][b"FLAGS"] == (b"\\Flagged",)
    assert changed[1][b"MODSEQ"][0] > modseq
    actor.move([1], "ic-b")
    assert (1, b"EXPUNGE") in watcher.noop()[1]  # the expunge reaches the other session
    assert watcher.folder_status("ic-b", ["MESSAGES"])[b"MESSAGES"] == 1
    assert watcher.folder_status("ic-a", ["MESSAGES"])[b"MESSAGES"] == 0
    special = {f[2]: f[0] for f in watcher.list_folders()}
    assert b"\\Sent" in special["Sent Items"]
    assert watcher.find_special_folder(b"\\Trash") == "Deleted Items"
    assert watcher.namespace().personal == (("", "/"),)
    watcher.logout()
    actor.logout()


def test_imap_tools(server: RunningServer) -> None:
    box = imap_tools.MailBoxUnencrypted("127.0.0.1", port=server.port("imap", "starttls"))
    box.login("alice@example.test", PASSWORDS["alice"], initial_folder=None)
    try:
        box.folder.create("it-folder")
        box.append(MULTIPART, "it-folder", flag_set=[imap_tools.MailMessageFlags.FLAGGED])
        box.append(make_message("second"), "it-folder")
        box.folder.set("it-folder")
        msgs = list(box.fetch(mark_seen=False))
        assert [m.subject for m in msgs] == ["Café report", "second"]
        assert msgs[0].attachments[0].filename == "data.bin"
        assert msgs[0].attachments[0].payload == b"hello wo"
        assert msgs[0].text.strip() == "Café numbers attached."
        assert imap_tools.MailMessageFlags.FLAGGED in msgs[0].flags
        uids = [m.uid for m in box.fetch(imap_tools.AND(subject="second"))]
        assert len(uids) == 1
        box.flag(uids, imap_tools.MailMessageFlags.SEEN, True)
        box.move(uids, "INBOX")
        assert [m.subject for m in box.fetch()] == ["Café report"]
        names = {f.name: f.flags for f in box.folder.list()}
        assert "\\Junk" in names["Junk E-mail"]
        box.folder.delete("it-folder")
        assert "it-folder" not in {f.name for f in box.folder.list()}
    finally:
        box.logout()


def _mbsync_config(server: RunningServer, local: Path, rc: Path) -> None:
    passfile = rc.parent / "pass"
    passfile.write_text(PASSWORDS["alice"])
    rc.write_text(f"""IMAPAccount gw
Host 127.0.0.1
Port {server.port("imap", "starttls")}
User alice@example.test
PassCmd "cat {passfile}"
SSLType None
AuthMechs LOGIN

IMAPStore gw-remote
Account gw

MaildirStore gw-local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel gw
Far :gw-remote:
Near :gw-local:
Patterns INBOX mb-*
Create Both
Expunge Both
SyncState *
""")


def _maildir_files(path: Path) -> list[Path]:
    return sorted(p for sub in ("cur", "new") for p in (path / sub).glob("*") if p.is_file())


def test_mbsync_full_then_incremental(server: RunningServer, tmp_path: Path) -> None:
    client = login(server)
    client.create("mb-one")
    fill(client, "mb-one", 25, "mbsync")
    local = tmp_path / "Mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    _mbsync_config(server, local, rc)
    run = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    files = _maildir_files(local / "mb-one")
    assert len(files) == 25
    assert b"Subject: mbsync 0" in min(files, key=lambda p: p.stat().st_mtime).read_bytes() or \
        any(b"Subject: mbsync 0" in f.read_bytes() for f in files)
    # changes on the server: a new message, a flag, an expunge
    client.append("mb-one", "", None, make_message("after first sync"))
    client.select("mb-one")
    client.store("1", "+FLAGS", r"\Flagged")
    client.store("2", "+FLAGS", r"\Deleted")
    client.expunge()
    # and a local change: a new message to upload
    (local / "mb-one" / "new" / "1700000000.local.host").write_bytes(make_message("from mbsync"))
    run = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr
    files = _maildir_files(local / "mb-one")
    assert len(files) == 26
    contents = [f.read_bytes() for f in files]
    assert any(b"after first sync" in c for c in contents)
    assert not any(b"Subject: mbsync 1\r\n" in c or b"Subject: mbsync 1\n" in c
                   for c in contents)
    assert sum(1 for f in files if "F" in f.name.split(":2,")[-1]) == 1
    client.select("mb-one")
    typ, data = client.search(None, "SUBJECT", '"from mbsync"')
    assert data[0].split() and typ == "OK"
    client.logout()


def test_offlineimap(server: RunningServer, tmp_path: Path) -> None:
    client = login(server)
    client.create("oi-box")
    fill(client, "oi-box", 5, "offline")
    client.logout()
    local = tmp_path / "oimail"
    rc = tmp_path / "offlineimaprc"
    rc.write_text(f"""[general]
accounts = gw
metadata = {tmp_path}/oimeta

[Account gw]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {local}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {server.port("imap", "starttls")}
remoteuser = alice@example.test
remotepass = {PASSWORDS["alice"]}
ssl = no
starttls = no
folderfilter = lambda f: f.startswith("oi-")
""")
    for _ in range(2):
        run = subprocess.run(["offlineimap", "-c", str(rc), "-o", "-u", "basic"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
    files = _maildir_files(local / "oi-box")
    assert len(files) == 5
    assert any(b"Subject: offline 4" in f.read_bytes() for f in files)


def test_fetchmail(server: RunningServer, tmp_path: Path) -> None:
    client = login(server, "carol")
    for i in range(3):
        client.append("INBOX", "", None, make_message(f"fetch me {i}", to="carol@example.test"))
    client.logout()
    out = tmp_path / "mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 service {server.port("imap", "starttls")} protocol imap '
        f'auth password user "carol@example.test" password "{PASSWORDS["carol"]}" '
        f'sslproto "" keep mda "cat >> {out}"\n')
    rc.chmod(0o600)
    env = {**os.environ, "HOME": str(tmp_path)}
    run = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-v"], capture_output=True,
                         text=True, timeout=60, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    text = out.read_text()
    assert text.count("Subject: fetch me") == 3
    again = subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog"], capture_output=True,
                           text=True, timeout=60, env=env)
    assert again.returncode == 1  # 1 = no new mail: they were marked seen
    assert out.read_text().count("Subject: fetch me") == 3


def test_mutt_under_tmux(server: RunningServer, tmp_path: Path) -> None:
    client = login(server)
    client.create("mutt-box")
    client.append("mutt-box", "", None, make_message("Hello from the server",
                                                     "A body mutt shows.\r\n"))
    client.logout()
    rc = tmp_path / "muttrc"
    port = server.port("imap", "starttls")
    rc.write_text(f"""set folder="imap://alice%40example.test@127.0.0.1:{port}/"
set imap_pass="{PASSWORDS['alice']}"
set spoolfile="=mutt-box"
set ssl_starttls=no
set ssl_force_tls=no
set header_cache=""
set message_cachedir=""
set imap_check_subscribed=no
set mail_check=1
set timeout=1
set pager_stop=yes
set mark_old=no
set confirmappend=no
set record=""
""")
    session = f"gwmutt{os.getpid()}"
    env = {**os.environ, "HOME": str(tmp_path), "TERM": "xterm"}
    subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, env=env)
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30",
                    f"mutt -n -F {rc}"], check=True, env=env)

    def screen() -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                              capture_output=True, text=True, env=env).stdout

    def wait_for(text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = screen()
            if text in shown:
                return shown
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not on screen:\n{screen()}")

    try:
        wait_for("Hello from the server")
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True, env=env)
        wait_for("A body mutt shows.")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True, env=env)
        subprocess.run(["tmux", "send-keys", "-t", session, "$"], check=True, env=env)
        # mutt synced its read state: the message is \Seen on the server
        check = login(server)
        check.select("mutt-box")
        deadline = time.monotonic() + 5
        flags = b""
        while time.monotonic() < deadline:
            flags = check.fetch("1", "(FLAGS)")[1][0]
            if b"\\Seen" in flags:
                break
            time.sleep(0.2)
        assert b"\\Seen" in flags
        # new mail while mutt watches: it shows up
        check.append("mutt-box", "", None, make_message("Second arrival"))
        check.logout()
        subprocess.run(["tmux", "send-keys", "-t", session, "$"], check=True, env=env)
        wait_for("Second arrival", timeout=15)
    finally:
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], env=env)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True, env=env)



