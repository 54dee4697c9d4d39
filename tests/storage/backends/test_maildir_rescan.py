"""Changes Dovecot makes in a maildir of a real MapiStore enter its change log.

The store (index on the test database: SQLite, or PostgreSQL with
GROUPWARE_TEST_DATABASE) delivers into maildir folders; Dovecot flags, moves,
expunges and appends over IMAP; ``rescan_folder`` then reports them as "changes
since" with new change numbers, as an IMAP/ActiveSync/ICS client would see them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.backends.maildir.flags import FLAG_STATUS
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.backends import dovecot_maildir
from tests.storage.backends.dovecot_maildir import check, fetch_messages, quote, session
from tests.storage.mapistore.support import SyncStore, build_store, mail, mime_of, provision

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not dovecot_maildir.available(),
                       reason="needs dovecot-imapd (make test installs it)"),
]


@pytest.fixture
def shared() -> Iterator[Path]:
    with dovecot_maildir.shared_directory() as path:
        yield path


@pytest.fixture
def store(database: Database, tmp_path: Path, shared: Path) -> SyncStore:
    uri = f"maildir://{shared}/mail/{{user}}"
    roles = {"fallback": "sql:", "inbox": uri, "sent": uri, "drafts": uri, "deleted": uri,
             "junk": uri}
    return SyncStore(build_store(database, tmp_path, roles))


def test_dovecot_changes_enter_the_change_log(store: SyncStore, shared: Path) -> None:
    info = provision(store)
    special = store.special_folders(info.id)
    inbox, sent = special[SpecialFolder.INBOX], special[SpecialFolder.SENT]
    raw = {n: mime_of(f"message {n}") for n in range(1, 6)}
    mids = {n: store.deliver(info.id, mail(f"message {n}"), mime=raw[n]).mid for n in (1, 2, 3, 4)}
    store.set_read(info.id, [mids[4]], True)
    since = store.changes_since(info.id, inbox, 0).highest_cn
    assert store.rescan_folder(info.id, inbox).total == 0  # nothing changed yet

    root = shared / "mail" / "alice"
    with session(root, shared / "dovecot") as client:
        uids = {body: uid for body, (uid, *_) in fetch_messages(client, "INBOX").items()}
        assert set(uids) == set(raw.values()) - {raw[5]}  # Dovecot sees our deliveries
        check(client.uid("STORE", str(uids[raw[1]]), "+FLAGS", r"(\Flagged \Seen)"))
        check(client.uid("MOVE", str(uids[raw[2]]), quote("Sent Items")))
        check(client.uid("STORE", str(uids[raw[3]]), "+FLAGS", r"(\Deleted)"))
        check(client.expunge())
        check(client.uid("STORE", str(uids[raw[4]]), "-FLAGS", r"(\Seen)"))
        check(client.append("INBOX", None, None, raw[5]))

    result = store.rescan_folder(info.id, inbox)
    assert (result.new, result.changed, result.deleted, result.read_changed) == (1, 1, 2, 1)
    store.rescan_folder(info.id, sent)
    changes = store.changes_since(info.id, inbox, since)
    assert changes.highest_cn > since
    assert {c.mid for c in changes.changed} == {mids[1]}
    assert all(c.cn > since for c in changes.changed)
    assert {c.mid for c in changes.read_changed} == {mids[4]}
    assert {d.object_id for d in changes.deleted} == {mids[2], mids[3]}
    assert all(d.cn > since for d in changes.deleted)
    [new] = changes.new
    assert new.cn > since
    assert store.get_properties(info.id, new.mid, [tags.SUBJECT])[tags.SUBJECT] == "message 5"
    assert store.read_mime(info.id, new.mid) == raw[5].replace(b"\r\n", b"\n")  # Dovecot's file

    flagged: dict[Any, Any] = store.get_properties(info.id, mids[1],
                                                   [FLAG_STATUS, tags.MESSAGE_FLAGS])
    assert flagged[FLAG_STATUS] == 2
    assert flagged[tags.MESSAGE_FLAGS] & tags.MSGFLAG_READ
    assert store.get_message_info(info.id, mids[1]).cn > since
    assert not store.get_message_info(info.id, mids[4]).read
    [moved] = store.changes_since(info.id, sent, since).new
    assert store.read_mime(info.id, moved.mid) == raw[2]
    folder = store.get_folder(info.id, inbox)
    assert (folder.message_count, folder.unread_count) == (3, 2)

    assert store.rescan_folder(info.id, inbox).total == 0  # a second rescan finds nothing
    assert store.repair(info.id).clean

    # and a change made through the store is what Dovecot sees next
    store.set_read(info.id, [new.mid], True)
    store.set_properties(info.id, new.mid, {FLAG_STATUS: 2})
    with session(root, shared / "dovecot") as client:
        seen = fetch_messages(client, "INBOX")
    assert seen[raw[5]][1] - {"\\Recent"} == {"\\Seen", "\\Flagged"}
    assert store.rescan_folder(info.id, inbox).total == 0
