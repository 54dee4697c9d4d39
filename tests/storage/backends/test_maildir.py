"""The maildir backend on a real file system: layout, round trips, flags, external
edits, crash safety. Dovecot and mutt reading and changing it: test_maildir_dovecot.py."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from groupware.errors import NotFound
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime
from groupware.types import FolderRole, MessageId, PropTag
from storage.backends.maildir import MaildirBackend
from storage.backends.maildir.flags import FLAG_STATUS, LAST_VERB_EXECUTED
from storage.backends.maildir.names import decode_mutf7, encode_mutf7, split_name
from storage.mapistore import tags
from storage.mapistore.errors import BackendError, BackendNotAvailable
from storage.mapistore.model import (
    AttachmentContent,
    BackendUri,
    BlobValue,
    MessageContent,
    MessageRef,
)
from tests.storage.backends.file_backend_harness import Driver

MAIL = (b"From: Alice Example <alice@example.org>\r\n"
        b"To: Bob <bob@example.org>, carol@example.org\r\n"
        b"Cc: =?utf-8?q?J=C3=BCrgen?= <j@example.org>\r\n"
        b"Subject: Re: Quarterly numbers\r\n"
        b"Date: Tue, 03 Mar 2026 10:15:00 +0100\r\n"
        b"Message-ID: <q1@example.org>\r\n"
        b"X-Priority: 1\r\n"
        b"\r\n"
        b"See attached.\r\n")
NAMED = PropTag(0x8005001F)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    d = Driver(MaildirBackend({"fsync": False}), tmp_path)
    yield d
    d.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "mail" / "alice"


def uri(root: Path) -> str:
    return f"maildir://{root}"


def files(folder_dir: Path) -> list[str]:
    return sorted(f"{sub}/{name}" for sub in ("new", "cur")
                  for name in os.listdir(folder_dir / sub))


# --- folders -------------------------------------------------------------------------


def test_maildir_plus_plus_layout(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    sent = driver.folder(uri(root), "Sent Items", role=FolderRole.SENT)
    projects = driver.folder(uri(root), "Projects")
    child = driver.folder(uri(root), "2026.Q1", parent=projects)
    under_inbox = driver.folder(uri(root), "Lists", parent=inbox)
    umlaut = driver.folder(uri(root), "Entwürfe & Ideen")

    assert inbox.key == ""
    assert sent.key == ".Sent Items"
    assert child.key == ".Projects.2026\\2eQ1"
    assert under_inbox.key == ".INBOX.Lists"
    assert umlaut.key == ".Entw&APw-rfe &- Ideen"
    for key in ("", ".Sent Items", ".Projects", ".Projects.2026\\2eQ1", ".INBOX.Lists"):
        for sub in ("cur", "new", "tmp"):
            assert (root / key / sub).is_dir()
    assert (root / ".Sent Items" / "maildirfolder").is_file()
    assert not (root / "maildirfolder").exists()


def test_structural_folders_are_hidden_from_imap(driver: Driver, root: Path) -> None:
    top = driver.folder(uri(root), "Root", role="root")
    ipm = driver.folder(uri(root), "Top of Information Store", role="ipm_subtree", parent=top)
    finder = driver.folder(uri(root), "Finder", role="finder", parent=top)
    search = driver.folder(uri(root), "Unread Mail", parent=finder)
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX, parent=ipm)
    user = driver.folder(uri(root), "Receipts", parent=ipm)
    assert inbox.key == "" and user.key == ".Receipts"
    for hidden in (top, ipm, finder, search):
        assert hidden.key.startswith("groupware-folders/")  # no dot: Dovecot ignores it
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == [".Receipts"]
    assert driver.backend.move_folder(driver.ctx, user, finder, "Receipts").startswith(
        "groupware-folders/")


def test_mutf7_round_trip() -> None:
    for name in ("Entwürfe", "&", "日本語 メール", "a&b~c", "😀 smile"):
        assert decode_mutf7(encode_mutf7(name)) == name
    assert encode_mutf7("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"  # RFC 3501


def test_create_folder_is_idempotent_and_adopts_foreign_directories(
        driver: Driver, root: Path) -> None:
    (root / ".Archive" / "cur").mkdir(parents=True)  # made by Dovecot before provisioning
    archive = driver.folder(uri(root), "Archive")
    assert archive.key == ".Archive"
    again = driver.backend.create_folder(driver.ctx, replace(archive, key=""))
    assert again == ".Archive"
    other = driver.folder(uri(root), "Archive")  # another folder (e.g. another parent)
    assert other.key == ".Archive (2)"


def test_folder_found_after_outside_rename(driver: Driver, root: Path) -> None:
    folder = driver.folder(uri(root), "Old")
    ref = driver.create(folder, driver.mime(MAIL))
    os.rename(root / ".Old", root / ".Renamed by admin")
    content = driver.backend.read_message(driver.ctx, folder, ref)
    assert content.props[tags.MESSAGE_CLASS] == "IPM.Note"


def test_move_folder_renames_children(driver: Driver, root: Path) -> None:
    a = driver.folder(uri(root), "A")
    b = driver.folder(uri(root), "B", parent=a)
    c = driver.folder(uri(root), "C", parent=b)
    target = driver.folder(uri(root), "Target")
    msg = driver.create(c, driver.mime(MAIL))
    new_key = driver.backend.move_folder(driver.ctx, a, target, "A2")
    assert new_key == ".Target.A2"
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".")) == [
        ".Target", ".Target.A2", ".Target.A2.B", ".Target.A2.B.C"]
    # the child's key in the index is stale now: its marker still finds it
    assert driver.backend.open_mime(driver.ctx, c, msg).read() == MAIL  # type: ignore[union-attr]
    assert driver.backend.move_folder(driver.ctx, replace(b, key=".Target.A2.B"), target,
                                      "B") == ".Target.B"


def test_delete_folder(driver: Driver, root: Path) -> None:
    folder = driver.folder(uri(root), "Gone")
    driver.create(folder, driver.mime(MAIL))
    driver.backend.delete_folder(driver.ctx, folder)
    assert not (root / ".Gone").exists()
    driver.backend.delete_folder(driver.ctx, folder)  # missing is fine
    # INBOX (the root) moved to another backend: its mail goes, the subfolders stay
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    kept = driver.folder(uri(root), "Kept")
    driver.create(inbox, driver.mime(MAIL))
    driver.create(kept, driver.mime(MAIL))
    driver.backend.delete_folder(driver.ctx, inbox)
    assert not (root / "new").exists() and not (root / "groupware-meta").exists()
    assert files(root / ".Kept") != []


# --- messages ------------------------------------------------------------------------


def test_new_mail_is_a_byte_exact_file_in_new(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    when = datetime_to_filetime(filetime_to_datetime(133_000_000_000_000_000))
    content = driver.mime(MAIL)
    content.props[tags.MESSAGE_DELIVERY_TIME] = when
    ref = driver.create(inbox, content)
    [name] = files(root)
    assert name.startswith("new/") and ":" not in name
    path = root / name
    assert path.read_bytes() == MAIL
    base = split_name(path.name)[0]
    assert ref.key == base
    assert f",S={len(MAIL)}" in base and f",W={len(MAIL)}" in base
    assert path.stat().st_mtime == pytest.approx(filetime_to_datetime(when).timestamp())
    scan = driver.scan(inbox)
    assert scan[ref.key].version == driver.version(ref)
    assert scan[ref.key].read is False
    assert os.listdir(root / "tmp") == []


def test_vsize_counts_bare_newlines(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    data = b"Subject: lf\n\nline\nline\r\n"
    ref = driver.create(inbox, driver.mime(data))
    assert ref.key.endswith(f",S={len(data)},W={len(data) + 3}")


def test_round_trip_of_full_mapi_content(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    big = driver.blobs.put(b"x" * 5000)
    content = driver.mime(MAIL)
    content.props.update({tags.SUBJECT: "Quarterly numbers", NAMED: "named value",
                          tags.BODY: BlobValue(big, 5000), tags.IMPORTANCE: 2})
    content.recipients = [{tags.ROWID: 0, tags.DISPLAY_NAME: "Bob", tags.RECIPIENT_TYPE: 1}]
    embedded = MessageContent(props={tags.SUBJECT: "inner"})
    content.attachments = [
        AttachmentContent({tags.ATTACH_NUMBER: 0, tags.ATTACH_METHOD: 1,
                           tags.ATTACH_DATA_BINARY: b"\x00\x01"}),
        AttachmentContent({tags.ATTACH_NUMBER: 1, tags.ATTACH_METHOD: 5}, embedded),
    ]
    ref = driver.create(inbox, content)
    back = driver.backend.read_message(driver.ctx, inbox, ref)
    assert back.props == content.props
    assert back.recipients == content.recipients
    assert back.attachments == content.attachments
    assert back.mime == content.mime
    assert driver.blobs.get(back.mime) == MAIL
    assert set(driver.backend.referenced_blobs(driver.ctx, inbox)) == {big}
    props = driver.backend.read_properties(driver.ctx, inbox, ref, [tags.SUBJECT, NAMED])
    assert props == {tags.SUBJECT: "Quarterly numbers", NAMED: "named value"}


def test_mime_blob_is_recreated_from_the_file(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    ref = driver.create(inbox, content)
    assert content.mime is not None
    driver.blobs.delete(content.mime)  # blob GC took it: the maildir file is the original
    back = driver.backend.read_message(driver.ctx, inbox, ref)
    assert back.mime == content.mime and driver.blobs.get(back.mime) == MAIL


def test_flags_follow_properties_and_read_state(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    content.props.update({FLAG_STATUS: 2, LAST_VERB_EXECUTED: 102,
                          tags.MESSAGE_FLAGS: tags.MSGFLAG_UNSENT})
    ref = driver.create(inbox, content, read=True)
    assert files(root) == [f"cur/{ref.key}:2,DFRS"]
    result = driver.backend.set_properties(driver.ctx, inbox, ref, {LAST_VERB_EXECUTED: 104},
                                           [FLAG_STATUS])
    assert files(root) == [f"cur/{ref.key}:2,DPS"]
    assert result.key == ref.key and result.version != driver.version(ref)
    result = driver.backend.set_read_state(driver.ctx, inbox, ref, False)
    assert result is not None
    assert files(root) == [f"cur/{ref.key}:2,DP"]
    entry = driver.scan(inbox)[ref.key]
    assert entry.version == result.version and entry.read is False


def test_unmapped_flags_survive_our_writes(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    ref = driver.create(inbox, driver.mime(MAIL), read=True)
    os.rename(root / "cur" / f"{ref.key}:2,S", root / "cur" / f"{ref.key}:2,STab")
    driver.backend.set_properties(driver.ctx, inbox, ref, {FLAG_STATUS: 2}, [])
    assert files(root) == [f"cur/{ref.key}:2,FSTab"]


# --- changes made by other programs ------------------------------------------------------


def test_outside_flag_changes_are_new_versions_and_properties(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    ref = driver.create(inbox, driver.mime(MAIL))
    # a MUA sees it (new -> cur, no change), then flags and reads it
    os.rename(root / "new" / ref.key, root / "cur" / f"{ref.key}:2,")
    assert driver.scan(inbox)[ref.key].version == driver.version(ref)
    os.rename(root / "cur" / f"{ref.key}:2,", root / "cur" / f"{ref.key}:2,FRS")
    entry = driver.scan(inbox)[ref.key]
    assert entry.version != driver.version(ref) and entry.read is True
    props = driver.backend.read_message(driver.ctx, inbox, ref).props
    assert props[FLAG_STATUS] == 2 and props[LAST_VERB_EXECUTED] == 102
    os.rename(root / "cur" / f"{ref.key}:2,FRS", root / "cur" / f"{ref.key}:2,S")
    props = driver.backend.read_properties(driver.ctx, inbox, ref)
    assert FLAG_STATUS not in props and LAST_VERB_EXECUTED not in props


def test_outside_delivery_gets_properties_from_headers(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    (root / "new" / "1772530000.M1P99.otherhost").write_bytes(MAIL)
    os.utime(root / "new" / "1772530000.M1P99.otherhost", (1772530000, 1772530000))
    scan = driver.scan(inbox)
    assert list(scan) == ["1772530000.M1P99.otherhost"]
    ref = driver.adopt(inbox, scan["1772530000.M1P99.otherhost"])
    content = driver.backend.read_message(driver.ctx, inbox, ref)
    p = content.props
    assert p[tags.SUBJECT] == "Re: Quarterly numbers"
    assert p[tags.NORMALIZED_SUBJECT] == "Quarterly numbers"
    assert p[tags.SENDER_NAME] == "Alice Example"
    assert p[tags.SENDER_EMAIL_ADDRESS] == "alice@example.org"
    assert p[tags.DISPLAY_TO] == "Bob; carol@example.org"
    assert p[tags.DISPLAY_CC] == "Jürgen"
    assert p[tags.IMPORTANCE] == 2
    assert filetime_to_datetime(p[tags.CLIENT_SUBMIT_TIME]).isoformat() == \
        "2026-03-03T09:15:00+00:00"
    assert filetime_to_datetime(p[tags.MESSAGE_DELIVERY_TIME]).timestamp() == 1772530000
    assert [r[tags.EMAIL_ADDRESS] for r in content.recipients] == [
        "bob@example.org", "carol@example.org", "j@example.org"]
    assert driver.blobs.get(content.mime) == MAIL  # type: ignore[arg-type]


def test_outside_edit_of_the_file_is_noticed(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    content.props[tags.SUBJECT] = "from the store"
    ref = driver.create(inbox, content)
    path = root / "new" / ref.key
    edited = MAIL.replace(b"Quarterly", b"Monthly")
    path.write_bytes(edited)
    os.utime(path, ns=(time.time_ns() + 5_000_000_000,) * 2)
    assert driver.scan(inbox)[ref.key].version != driver.version(ref)
    back = driver.backend.read_message(driver.ctx, inbox, ref)
    assert back.props[tags.SUBJECT] == "Re: Monthly numbers"
    assert driver.blobs.get(back.mime) == edited  # type: ignore[arg-type]


def test_outside_delete_and_move(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    archive = driver.folder(uri(root), "Archive")
    gone = driver.create(inbox, driver.mime(MAIL))
    moved = driver.create(inbox, driver.mime(MAIL + b"2"))
    os.unlink(root / "new" / gone.key)
    os.rename(root / "new" / moved.key, root / ".Archive" / "cur" / f"{moved.key}:2,S")
    assert driver.scan(inbox) == {}
    assert list(driver.scan(archive)) == [moved.key]
    with pytest.raises(NotFound):
        driver.backend.read_message(driver.ctx, inbox, gone)
    assert list(driver.backend.read_properties_many(driver.ctx, inbox, [gone, moved], None)) == []


def test_scan_ignores_dot_files_and_cleans_stale_tmp(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    (root / "cur" / ".hidden").write_bytes(b"x")
    stale, fresh = root / "tmp" / "crashed.writer", root / "tmp" / "busy.writer"
    stale.write_bytes(b"half")
    fresh.write_bytes(b"half")
    old = time.time() - 37 * 3600
    os.utime(stale, (old, old))
    assert driver.scan(inbox) == {}
    assert not stale.exists() and fresh.exists()


# --- MAPI-only and FAI messages, rewrites, moves -------------------------------------------


def test_mapi_only_message_becomes_a_file_when_it_gets_mime(driver: Driver, root: Path) -> None:
    drafts = driver.folder(uri(root), "Drafts", role=FolderRole.DRAFTS)
    fai = driver.create(drafts, MessageContent(props={tags.MESSAGE_CLASS: "IPM.Configuration"}),
                        associated=True)
    draft = driver.create(drafts, MessageContent(props={tags.SUBJECT: "draft"}))
    assert draft.key.startswith(":") and fai.key.startswith(":")
    assert files(root / ".Drafts") == []
    assert set(driver.scan(drafts)) == {draft.key, fai.key}
    assert driver.backend.open_mime(driver.ctx, drafts, draft) is None
    content = driver.backend.read_message(driver.ctx, drafts, draft)
    content.mime = driver.blobs.put(MAIL)
    result = driver.backend.write_message(driver.ctx, drafts, draft, content)
    assert not result.key.startswith(":")
    assert files(root / ".Drafts") == [f"new/{result.key}"]
    draft = driver.record(drafts, draft, result)
    assert set(driver.scan(drafts)) == {draft.key, fai.key}
    assert driver.backend.read_message(driver.ctx, drafts, draft).props[tags.SUBJECT] == "draft"


def test_new_original_means_new_file(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    ref = driver.create(inbox, driver.mime(MAIL), read=True)
    content = driver.backend.read_message(driver.ctx, inbox, ref)
    content.mime = driver.blobs.put(MAIL + b"changed\r\n")
    result = driver.backend.write_message(driver.ctx, inbox, ref, content)
    assert result.key != ref.key
    assert files(root) == [f"cur/{result.key}:2,S"]
    # MAPI changed the content and no original matches any more: the file stays for
    # Dovecot, but the store is told there is no MIME for it
    ref = driver.record(inbox, ref, result)
    content.mime = None
    content.props[tags.SUBJECT] = "edited in Outlook"
    driver.backend.write_message(driver.ctx, inbox, ref, content)
    assert driver.backend.open_mime(driver.ctx, inbox, ref) is None
    assert driver.backend.read_message(driver.ctx, inbox, ref).mime is None
    assert len(files(root)) == 1


def test_move_and_copy_between_folders(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    archive = driver.folder(uri(root), "Archive")
    content = driver.mime(MAIL)
    content.props[NAMED] = "kept"
    ref = driver.create(inbox, content, read=True)
    new = driver.new_ref(ref)
    moved = driver.backend.move_message(driver.ctx, inbox, archive, ref, new)
    driver.forget(ref)
    new = driver.record(archive, new, moved)
    assert moved.key == ref.key
    assert files(root) == [] and files(root / ".Archive") == [f"cur/{ref.key}:2,S"]
    assert driver.backend.read_message(driver.ctx, archive, new).props[NAMED] == "kept"
    assert list((root / "groupware-meta").glob("m-*")) == []
    copy = driver.new_ref(new)
    copied = driver.backend.copy_message(driver.ctx, archive, inbox, new, copy)
    copy = driver.record(inbox, copy, copied)
    assert copied.key != new.key
    assert files(root) == [f"cur/{copied.key}:2,S"]
    assert (root / "cur" / f"{copied.key}:2,S").read_bytes() == MAIL
    assert driver.backend.read_message(driver.ctx, inbox, copy).props[NAMED] == "kept"


def test_delete_message(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    ref = driver.create(inbox, driver.mime(MAIL))
    own = driver.create(inbox, MessageContent(props={tags.SUBJECT: "x"}))
    driver.backend.delete_message(driver.ctx, inbox, ref)
    driver.backend.delete_message(driver.ctx, inbox, own)
    driver.backend.delete_message(driver.ctx, inbox, ref)  # missing is fine
    assert files(root) == [] and driver.scan(inbox) == {}
    assert list((root / "groupware-meta").glob("[mo]-*")) == []


# --- crash safety ------------------------------------------------------------------------


def test_retried_create_reuses_the_first_file(driver: Driver, root: Path) -> None:
    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    ref = driver.create(inbox, content)
    again = driver.backend.create_message(driver.ctx, inbox, replace(ref, key=""), content)
    assert again.key == ref.key and len(files(root)) == 1


def test_failed_write_leaves_no_message(driver: Driver, root: Path) -> None:
    class BrokenBlobs(type(driver.blobs)):  # type: ignore[misc]
        def open(self, ref):  # type: ignore[no-untyped-def]
            real = super().open(ref)

            class Half:
                def __enter__(self):  # type: ignore[no-untyped-def]
                    return self

                def __exit__(self, *a):  # type: ignore[no-untyped-def]
                    real.close()

                def read(self, n: int) -> bytes:
                    if real.tell():
                        raise OSError("disk gone")
                    return real.read(10)
            return Half()

    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    driver.ctx.blobs = BrokenBlobs(driver.blobs.root, fsync=False)
    with pytest.raises(BackendError, match="disk gone"):
        driver.create(inbox, content)
    assert files(root) == [] and os.listdir(root / "tmp") == []


def test_unique_names_under_concurrency(driver: Driver, root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    inbox = driver.folder(uri(root), "Inbox", role=FolderRole.INBOX)
    content = driver.mime(MAIL)
    refs = [MessageRef(MessageId(driver.index.new_id()), "", i) for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(lambda r: driver.backend.create_message(
            driver.ctx, inbox, r, content).key, refs))
    assert len(set(keys)) == 200 and len(files(root)) == 200


def test_check_uri(tmp_path: Path) -> None:
    backend = MaildirBackend()
    backend.check_uri(BackendUri.parse(f"maildir://{tmp_path}/mail/{{user}}"))
    with pytest.raises(BackendNotAvailable):
        backend.check_uri(BackendUri.parse("maildir:relative/path"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(BackendNotAvailable):
        backend.check_uri(BackendUri.parse(f"maildir://{tmp_path}/file/sub"))
    with pytest.raises(BackendNotAvailable):
        backend.check_uri(BackendUri.parse(f"vdir://{tmp_path}"))


CRASH_WRITER = """
import sys
from pathlib import Path
from storage.backends.maildir import MaildirBackend
from groupware.types import FolderRole
from tests.storage.backends.file_backend_harness import Driver
root, work = Path(sys.argv[1]), Path(sys.argv[2])
driver = Driver(MaildirBackend({"fsync": True}), work)
inbox = driver.folder(f"maildir://{root}", "Inbox", role=FolderRole.INBOX)
big = b"Subject: big\\r\\n\\r\\n" + b"0123456789abcdef" * 65536
content = driver.mime(big)
print("ready", flush=True)
while True:
    driver.create(inbox, content)
"""


def test_kill_9_leaves_only_whole_messages(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "mail"
    proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(root), str(tmp_path)],
                            stdout=subprocess.PIPE, cwd=Path(__file__).parents[3])
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    deadline = time.monotonic() + 10
    while len(os.listdir(root / "new")) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    size = len(b"Subject: big\r\n\r\n") + 16 * 65536
    names = os.listdir(root / "new")
    assert len(names) >= 3
    for name in names:  # never a torn message under a name readers look at
        assert (root / "new" / name).stat().st_size == size
    # what the killed writer left in tmp/ is not a message, and goes once stale
    d = Driver(MaildirBackend({"fsync": False}), tmp_path / "after")
    inbox = d.folder(f"maildir://{root}", "Inbox", role=FolderRole.INBOX)
    assert set(d.scan(inbox)) == {split_name(n)[0] for n in names}
    old = time.time() - 40 * 3600
    for leftover in os.listdir(root / "tmp"):
        os.utime(root / "tmp" / leftover, (old, old))
    d.scan(inbox)
    assert os.listdir(root / "tmp") == []
    d.close()
