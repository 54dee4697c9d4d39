"""Dovecot (Debian's dovecot-imapd) on the maildirs our backend writes.

Dovecot reads what we stored (folders, exact bytes, flags, INTERNALDATE) and changes
it over IMAP (STORE, MOVE, EXPUNGE, APPEND); our scan_folder must see every change.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from imapclient import imap_utf7

from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime
from groupware.types import FolderRole
from storage.backends.maildir import MaildirBackend
from storage.backends.maildir.flags import FLAG_STATUS, LAST_VERB_EXECUTED
from storage.mapistore import tags
from storage.mapistore.model import MessageContent, MessageRef
from tests.storage.backends import dovecot_maildir
from tests.storage.backends.dovecot_maildir import check, fetch_messages, quote, session
from tests.storage.backends.file_backend_harness import Driver

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not dovecot_maildir.available(),
                       reason="needs dovecot-imapd (make test installs it)"),
]


def mail(n: int, subject: str, body: str = "Body {n}\r\nwith \xfc8-bit text\r\n") -> bytes:
    return (f"From: Sender {n} <s{n}@example.org>\r\nTo: alice@example.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <m{n}@example.org>\r\n"
            f"Date: Mon, 02 Mar 2026 08:00:0{n} +0000\r\n\r\n" + body.format(n=n)).encode()


@pytest.fixture
def shared() -> Iterator[Path]:
    with dovecot_maildir.shared_directory() as path:
        yield path


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    d = Driver(MaildirBackend({"fsync": False}), tmp_path)
    yield d
    d.close()


def delivered(driver: Driver, data: bytes, when: dt.datetime, **props: int) -> MessageContent:
    content = MessageContent(props={tags.MESSAGE_CLASS: "IPM.Note",
                                    tags.MESSAGE_DELIVERY_TIME: datetime_to_filetime(when)},
                             mime=driver.blobs.put(data))
    names = {"flag_status": FLAG_STATUS, "last_verb": LAST_VERB_EXECUTED,
             "message_flags": tags.MESSAGE_FLAGS}
    for name, value in props.items():
        content.props[names[name]] = value
    return content


def list_names(client: object) -> set[str]:
    data = check(client.list('""', '"*"'))  # type: ignore[attr-defined]
    names = set()
    for line in data:
        assert isinstance(line, bytes)
        m = re.match(rb'\([^)]*\) "." (?:"((?:[^"\\]|\\.)*)"|(\S+))$', line)
        assert m, line
        raw = (m.group(1) or m.group(2)).replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        names.add(imap_utf7.decode(raw))
    return names


def test_dovecot_serves_our_folders_bytes_and_flags(driver: Driver, shared: Path) -> None:
    root = shared / "alice"
    uri = f"maildir://{root}"
    inbox = driver.folder(uri, "Inbox", role=FolderRole.INBOX)
    driver.folder(uri, "Sent Items", role=FolderRole.SENT)
    driver.folder(uri, "Lists", parent=inbox)
    projects = driver.folder(uri, "Projekte für 2026")
    driver.folder(uri, "Q1 & Q2", parent=projects)
    when = dt.datetime(2026, 3, 2, 9, 30, 15, tzinfo=dt.UTC)
    unread, answered, draft = mail(1, "unread"), mail(2, "answered"), mail(3, "draft")
    unix = mail(4, "bare LF", "Body\nwritten\nby a Unix tool\n")
    unix_ref = driver.create(inbox, delivered(driver, unix, when))
    driver.create(inbox, delivered(driver, unread, when))
    driver.create(inbox, delivered(driver, answered, when, flag_status=2, last_verb=102),
                  read=True)
    driver.create(inbox, delivered(driver, draft, when, message_flags=tags.MSGFLAG_UNSENT))

    with session(root, shared / "dovecot") as client:
        assert list_names(client) == {"INBOX", "Sent Items", "INBOX.Lists", "Projekte für 2026",
                                      "Projekte für 2026.Q1 & Q2"}
        seen = fetch_messages(client, "INBOX")

    unix_crlf = unix.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # IMAP speaks CRLF
    assert set(seen) == {unread, answered, draft, unix_crlf}  # byte-exact
    # the W= (virtual size) in our file name is what Dovecot reports without reading
    assert unix_ref.key.endswith(f",W={len(unix_crlf)}")
    assert seen[unix_crlf][3] == len(unix_crlf)
    assert seen[unread][1] - {"\\Recent"} == set()
    assert seen[answered][1] - {"\\Recent"} == {"\\Seen", "\\Flagged", "\\Answered"}
    assert seen[draft][1] - {"\\Recent"} == {"\\Draft"}
    for _, _, internaldate, _ in seen.values():
        assert dt.datetime.strptime(internaldate, "%d-%b-%Y %H:%M:%S %z") == when


def test_changes_made_through_dovecot_are_found_by_scan(driver: Driver, shared: Path) -> None:
    root = shared / "alice"
    uri = f"maildir://{root}"
    inbox = driver.folder(uri, "Inbox", role=FolderRole.INBOX)
    archive = driver.folder(uri, "Archive")
    when = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
    data = {n: mail(n, f"message {n}") for n in range(1, 6)}
    refs: dict[int, MessageRef] = {}
    for n in (1, 2, 3, 4):
        refs[n] = driver.create(inbox, delivered(driver, data[n], when), read=n == 2)
    before = driver.scan(inbox)
    assert {k: e.version for k, e in before.items()} == {
        r.key: driver.version(r) for r in refs.values()}

    with session(root, shared / "dovecot") as client:
        uids = {body: uid for body, (uid, *_) in fetch_messages(client, "INBOX").items()}
        check(client.uid("STORE", str(uids[data[1]]), "+FLAGS", r"(\Flagged \Seen)"))
        check(client.uid("STORE", str(uids[data[2]]), "-FLAGS", r"(\Seen)"))
        check(client.uid("MOVE", str(uids[data[3]]), quote("Archive")))
        check(client.uid("STORE", str(uids[data[4]]), "+FLAGS", r"(\Deleted)"))
        check(client.expunge())
        check(client.append("INBOX", r"(\Seen \Answered)", None, data[5]))
        after_dovecot = fetch_messages(client, "INBOX")
    assert set(after_dovecot) == {data[1], data[2], data[5]}

    scan = driver.scan(inbox)
    assert scan[refs[1].key].version != driver.version(refs[1])
    assert scan[refs[1].key].read is True
    # only \Seen went: the same version (content unchanged), another read state
    assert scan[refs[2].key].version == driver.version(refs[2])
    assert scan[refs[2].key].read is False
    assert refs[3].key not in scan and refs[4].key not in scan
    [appended_key] = set(scan) - {refs[1].key, refs[2].key}
    assert scan[appended_key].read is True
    moved_scan = driver.scan(archive)
    assert len(moved_scan) == 1

    flagged = driver.backend.read_message(driver.ctx, inbox, refs[1]).props
    assert flagged[FLAG_STATUS] == 2
    appended = driver.adopt(inbox, scan[appended_key])
    content = driver.backend.read_message(driver.ctx, inbox, appended)
    assert content.props[tags.SUBJECT] == "message 5"
    assert content.props[LAST_VERB_EXECUTED] == 102
    # Dovecot stores LF line ends (mail_save_crlf = no): the original is its file, as is
    assert driver.blobs.get(content.mime) == data[5].replace(b"\r\n", b"\n")  # type: ignore[arg-type]
    [moved_entry] = moved_scan.values()
    moved = driver.adopt(archive, moved_entry)
    with driver.backend.open_mime(driver.ctx, archive, moved) as fh:  # type: ignore[union-attr]
        assert fh.read() == data[3]
    # and what Outlook changes now is visible to Dovecot again
    driver.backend.set_properties(driver.ctx, archive, moved, {FLAG_STATUS: 2}, [])
    with session(root, shared / "dovecot") as client:
        [(_, flags, *_)] = fetch_messages(client, "Archive").values()
    assert "\\Flagged" in flags
    assert filetime_to_datetime(content.props[tags.MESSAGE_DELIVERY_TIME]).year >= 2026
