"""Quotas, named properties, permissions and per-user read state."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from groupware.mapi.codes import ErrorCode
from groupware.types import UserId
from storage.mapistore.errors import mapi_code_of
from storage.mapistore.info import NamedProperty, QuotaState
from storage.mapistore.mailbox import PS_MAPI, RIGHTS_OWNER
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, mail, mime_of

PS_PUBLIC_STRINGS = uuid.UUID("00020329-0000-0000-c000-000000000046")
PSETID_APPOINTMENT = uuid.UUID("00062002-0000-0000-c000-000000000046")


def test_receive_quota_refuses_delivery_but_not_deletion(store: SyncStore, box: Any) -> None:
    info, special = box
    first = store.deliver(info.id, mail("a", body="x" * 5000), mime=mime_of("a"))
    used = store.get_store(info.id).size_used
    store.set_quota(info.id, warning=used // 2, send=used + 100, receive=used + 10)
    assert store.quota_status(info.id).state is QuotaState.WARNING
    before = store.get_folder(info.id, special[SpecialFolder.INBOX])
    with pytest.raises(Exception, match="receive quota") as exc:
        store.deliver(info.id, mail("b", body="y" * 5000), mime=mime_of("b"))
    assert mapi_code_of(exc.value) == ErrorCode.ecQuotaExceeded
    after = store.get_folder(info.id, special[SpecialFolder.INBOX])
    assert (after.message_count, after.uidnext) == (before.message_count, before.uidnext)
    with pytest.raises(Exception, match="send quota"):
        store.copy_messages(info.id, [first.mid], special[SpecialFolder.SENT])
    # Moving and deleting are always allowed; they are how users get under quota.
    moved = store.move_messages(info.id, [first.mid], special[SpecialFolder.DELETED])
    store.delete_messages(info.id, list(moved.values()), hard=True)
    assert store.quota_status(info.id).state is QuotaState.OK
    store.deliver(info.id, mail("c"), mime=mime_of("c"))
    props = store.store_properties(info.id)
    from storage.mapistore import tags

    assert props[tags.PROHIBIT_RECEIVE_QUOTA] == (used + 10) >> 10


def test_default_quota_from_config(database: Any, tmp_path: Any) -> None:
    from tests.storage.mapistore.support import build_store, provision

    store = SyncStore(build_store(database, tmp_path, quota_send_mb=1))
    info = provision(store)
    drafts = store.special_folders(info.id)[SpecialFolder.DRAFTS]
    store.create_message(info.id, drafts, mail("fits", body="x" * 900_000))
    with pytest.raises(Exception, match="send quota"):
        store.create_message(info.id, drafts, mail("too much", body="x" * 200_000))
    store.deliver(info.id, mail("delivery still works", body="x" * 200_000))
    assert store.quota_status(info.id).state is QuotaState.SEND_PROHIBITED
    store.set_quota(info.id, send=0)  # explicit: unlimited for this mailbox
    store.create_message(info.id, drafts, mail("now fine"))


def test_named_properties(store: SyncStore, box: Any) -> None:
    info, _ = box
    names = [NamedProperty(PSETID_APPOINTMENT, lid=0x8205),
             NamedProperty(PS_PUBLIC_STRINGS, name="Keywords"),
             NamedProperty(PS_MAPI, lid=0x0037)]
    assert store.get_ids_from_names(info.id, names) == [None, None, 0x0037]
    ids = store.get_ids_from_names(info.id, names, create=True)
    assert ids[0] >= 0x8000 and ids[1] == ids[0] + 1 and ids[2] == 0x0037
    assert store.get_ids_from_names(info.id, list(reversed(names)), create=True) == \
        list(reversed(ids))
    assert store.get_names_from_ids(info.id, [ids[1], ids[0], 0x9999]) == [
        names[1], names[0], None]
    other = store.provision_mailbox(UserId(99), uuid.uuid4(), "en")
    # Maps are per store: the other mailbox starts at 0x8000 with its own names.
    assert store.get_ids_from_names(other.id, [names[1]], create=True) == [0x8000]


def test_permissions(store: SyncStore, box: Any) -> None:
    info, special = box
    calendar = special[SpecialFolder.CALENDAR]
    assert store.effective_rights(info.id, calendar, info.user_id) == RIGHTS_OWNER
    assert store.effective_rights(info.id, calendar, UserId(42)) == 0
    store.modify_permissions(info.id, calendar, [(0, "Default", 0x800), (42, "Bob", 0x49B)])
    assert store.effective_rights(info.id, calendar, UserId(42)) == 0x49B
    assert store.effective_rights(info.id, calendar, UserId(43)) == 0x800
    assert store.effective_rights(info.id, calendar, None) == 0
    store.modify_permissions(info.id, calendar, [(42, "Bob", None)])
    assert [(e.member_id, e.rights) for e in store.get_permissions(info.id, calendar)] == [
        (0, 0x800)]
    store.modify_permissions(info.id, calendar, [(-1, "Anonymous", 0x400)], replace=True)
    assert [e.member_id for e in store.get_permissions(info.id, calendar)] == [-1]


def test_per_user_read_state(store: SyncStore, box: Any) -> None:
    info, _special = box
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    assert store.set_read(info.id, [a.mid], True, user_id=UserId(42)) is None
    assert store.is_read_by(info.id, a.mid, UserId(42)) is True
    assert store.is_read_by(info.id, a.mid, UserId(43)) is False
    assert store.get_message_info(info.id, a.mid).read is False  # the owner's state
    store.set_read(info.id, [a.mid], True)
    assert store.is_read_by(info.id, a.mid, info.user_id) is True
