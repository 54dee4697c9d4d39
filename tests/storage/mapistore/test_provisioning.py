"""Mailbox provisioning: the MS-OXOSFLD tree, localized names, entry ids, idempotence."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from groupware.mapi.entryids import FolderEntryId, parse_entry_id
from groupware.mapi.ids import split_id
from groupware.types import UserId
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.special_folders import (
    LOGON_FOLDERS,
    SPECIAL_FOLDERS,
    SpecialFolder,
    language_of,
)
from tests.storage.mapistore.support import SyncStore, build_store, provision


def test_tree_classes_and_parents(store: SyncStore, box: Any) -> None:
    info, special = box
    assert set(special) == {s.key for s in SPECIAL_FOLDERS}
    for spec in SPECIAL_FOLDERS:
        folder = store.get_folder(info.id, special[spec.key])
        assert folder.container_class == spec.container_class
        assert folder.role == spec.key.value
        expected_parent = None if spec.parent is None else special[spec.parent]
        assert folder.parent == expected_parent
    ipm = store.list_folders(info.id, special[SpecialFolder.IPM_SUBTREE])
    assert {f.name for f in ipm} >= {"Inbox", "Outbox", "Sent Items", "Deleted Items", "Drafts",
                                      "Calendar", "Contacts", "Tasks", "Notes", "Journal",
                                      "Junk E-mail", "Conversation History", "Sync Issues"}
    reminders = store.get_folder(info.id, special[SpecialFolder.REMINDERS])
    assert reminders.folder_type == 2  # a search folder


@pytest.mark.parametrize(("locale", "inbox", "sent"), [
    ("de-DE", "Posteingang", "Gesendete Elemente"),
    ("fr_FR.UTF-8", "Boîte de réception", "Éléments envoyés"),
    ("es", "Bandeja de entrada", "Elementos enviados"),
    ("xx", "Inbox", "Sent Items"),
])
def test_localized_names(store: SyncStore, locale: str, inbox: str, sent: str) -> None:
    info = provision(store, locale=locale)
    special = store.special_folders(info.id)
    assert store.get_folder(info.id, special[SpecialFolder.INBOX]).name == inbox
    assert store.get_folder(info.id, special[SpecialFolder.SENT]).name == sent
    assert info.locale == language_of(locale)


def test_idempotent_and_one_store_per_user(store: SyncStore) -> None:
    guid = uuid.uuid4()
    first = store.provision_mailbox(UserId(7), guid, "en", username="bob")
    again = store.provision_mailbox(UserId(7), guid, "de", username="bob")
    assert again.id == first.id
    assert again.highest_cn == first.highest_cn  # nothing new was written
    assert len(store.list_folders(first.id, recursive=True)) == len(SPECIAL_FOLDERS) - 1
    with pytest.raises(Exception, match="already has mailbox"):
        store.provision_mailbox(UserId(7), uuid.uuid4(), "en")
    other = store.provision_mailbox(UserId(8), uuid.uuid4(), "en")
    assert other.id != first.id
    assert store.find_store(user_id=UserId(8)).id == other.id


def test_logon_folder_ids_and_entry_ids(store: SyncStore, box: Any) -> None:
    info, special = box
    ids = store.logon_folder_ids(info.id)
    assert ids == [special[k] for k in LOGON_FOLDERS]
    assert all(split_id(fid)[0] == 1 for fid in ids)  # replica id 1
    props = store.store_properties(info.id)
    subtree = FolderEntryId.from_bytes(props[tags.IPM_SUBTREE_ENTRY_ID])
    assert subtree.provider_uid == info.mailbox_guid
    assert subtree.database_guid == info.replica_guid
    assert subtree.globcnt == split_id(special[SpecialFolder.IPM_SUBTREE])[1]
    wastebasket = FolderEntryId.from_bytes(props[tags.IPM_WASTEBASKET_ENTRY_ID])
    assert wastebasket.globcnt == split_id(special[SpecialFolder.DELETED])[1]
    for folder in (SpecialFolder.ROOT, SpecialFolder.INBOX):
        fprops = store.get_folder_properties(info.id, special[folder])
        calendar = parse_entry_id(fprops[tags.IPM_APPOINTMENT_ENTRY_ID])
        assert isinstance(calendar, FolderEntryId)
        assert calendar.globcnt == split_id(special[SpecialFolder.CALENDAR])[1]
        ren = fprops[tags.ADDITIONAL_REN_ENTRY_IDS]
        assert len(ren) == 5
        junk = FolderEntryId.from_bytes(ren[4])
        assert junk.globcnt == split_id(special[SpecialFolder.JUNK])[1]
    inbox_props = store.get_folder_properties(info.id, special[SpecialFolder.INBOX],
                                              [tags.DISPLAY_NAME, tags.CONTENT_COUNT,
                                               tags.CONTAINER_CLASS, tags.ENTRY_ID])
    assert inbox_props[tags.DISPLAY_NAME] == "Inbox"
    assert inbox_props[tags.CONTAINER_CLASS] == "IPF.Note"
    assert inbox_props[tags.CONTENT_COUNT] == 0
    assert FolderEntryId.from_bytes(inbox_props[tags.ENTRY_ID]).globcnt == \
        split_id(special[SpecialFolder.INBOX])[1]


def test_receive_folders(store: SyncStore, box: Any) -> None:
    info, special = box
    assert store.get_receive_folder(info.id, "IPM.Note") == (special[SpecialFolder.INBOX], "IPM")
    assert store.get_receive_folder(info.id, "IPC.Foo")[0] == special[SpecialFolder.ROOT]
    assert store.get_receive_folder(info.id, "Random")[0] == special[SpecialFolder.INBOX]
    store.set_receive_folder(info.id, "IPM.Note.Custom", special[SpecialFolder.JUNK])
    assert store.get_receive_folder(info.id, "ipm.note.custom.x") == (
        special[SpecialFolder.JUNK], "IPM.Note.Custom")
    assert ("IPM.Note.Custom", special[SpecialFolder.JUNK]) in store.receive_folders(info.id)
    with pytest.raises(Exception, match="cannot be removed"):
        store.set_receive_folder(info.id, "", None)


def test_backend_uri_templates_are_expanded(database: Database, tmp_path: Path) -> None:
    roles = {"fallback": "sql:", "calendar": f"testfile://{tmp_path}/pim/{{user}}"}
    store = SyncStore(build_store(database, tmp_path, roles))
    info = provision(store, username="carol")
    special = store.special_folders(info.id)
    calendar = store.get_folder(info.id, special[SpecialFolder.CALENDAR])
    assert calendar.backend_uri == f"testfile://{tmp_path}/pim/carol"
    assert store.get_folder(info.id, special[SpecialFolder.INBOX]).backend_uri == "sql:"
    assert (tmp_path / "pim" / "carol").is_dir()


def test_unknown_backend_fails_clearly(database: Database, tmp_path: Path) -> None:
    store = SyncStore(build_store(database, tmp_path, {"fallback": "nosuch:///x"}))
    with pytest.raises(Exception, match="no backend for scheme 'nosuch'"):
        provision(store)
    with pytest.raises(Exception, match="no backend"):
        store.store.check_backends()
    assert store.list_stores() == [] or not store.list_stores()[0].provisioned
