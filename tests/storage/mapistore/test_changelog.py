"""The change log: change numbers, UIDs, "changes since N", tombstones, events."""

from __future__ import annotations

from typing import Any

import pytest

from groupware.notifier import Event
from storage.mapistore import tags
from storage.mapistore.errors import SyncStateTooOld
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, mail, mime_of


def test_change_numbers_and_uids_only_grow(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    before = store.get_folder(info.id, inbox)
    made = [store.deliver(info.id, mail(f"m{i}"), mime=mime_of(f"m{i}")) for i in range(5)]
    cns = [m.cn for m in made]
    uids = [m.uid for m in made]
    assert cns == sorted(cns) and len(set(cns)) == 5
    assert uids == list(range(before.uidnext, before.uidnext + 5))
    after = store.get_folder(info.id, inbox)
    assert after.uidnext == uids[-1] + 1
    assert after.uidvalidity == before.uidvalidity
    assert store.highest_change_number(info.id, inbox) == cns[-1]
    assert store.highest_change_number(info.id) == cns[-1]
    # A moved message gets a new UID in its new folder; UIDs are never reused.
    store.move_messages(info.id, [made[0].mid], special[SpecialFolder.JUNK])
    again = store.deliver(info.id, mail("again"), mime=mime_of("again"))
    assert again.uid == uids[-1] + 1
    assert store.list_uids(info.id, inbox) == [*uids[1:], again.uid]


def test_changes_since_sorts_new_changed_read_deleted(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    a, b, c, d = (store.deliver(info.id, mail(s), mime=mime_of(s)) for s in "abcd")
    mark = store.highest_change_number(info.id, inbox)
    store.set_properties(info.id, a.mid, {tags.IMPORTANCE: 2})
    store.set_read(info.id, [b.mid], True)
    store.delete_messages(info.id, [c.mid], hard=True)
    e = store.deliver(info.id, mail("e"), mime=mime_of("e"))
    changes = store.changes_since(info.id, inbox, mark)
    assert [m.mid for m in changes.new] == [e.mid]
    assert [m.mid for m in changes.changed] == [a.mid]
    assert [(m.mid, m.read) for m in changes.read_changed] == [(b.mid, True)]
    assert [(x.object_id, x.uid) for x in changes.deleted] == [(c.mid, c.uid)]
    assert changes.highest_cn == store.highest_change_number(info.id, inbox)
    # Nothing since the newest change number; everything since 0.
    assert not store.changes_since(info.id, inbox, changes.highest_cn).new
    everything = store.changes_since(info.id, inbox, 0)
    assert {m.mid for m in everything.new} == {a.mid, b.mid, d.mid, e.mid}
    assert everything.deleted == []
    # IMAP MODSEQ of a message is the newest of its content and read changes.
    read_b = changes.read_changed[0]
    assert read_b.modseq == read_b.read_cn > read_b.cn


def test_hierarchy_changes(store: SyncStore, box: Any) -> None:
    info, special = box
    mark = store.highest_change_number(info.id)
    projects = store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE], "Projects")
    old = store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE], "Old")
    store.set_folder_properties(info.id, special[SpecialFolder.INBOX],
                                {tags.DISPLAY_NAME: "Incoming"})
    store.delete_folder(info.id, old.fid)
    folders, changes = store.hierarchy_changes_since(info.id, mark)
    assert {f.fid for f in folders} == {projects.fid, special[SpecialFolder.INBOX]}
    assert [d.object_id for d in changes.deleted] == [old.fid]
    assert all(d.is_folder for d in changes.deleted)


def test_tombstone_purge_moves_the_horizon(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    old_state = store.highest_change_number(info.id, inbox)
    store.delete_messages(info.id, [a.mid], hard=True)
    deleted_at = store.highest_change_number(info.id, inbox)
    far_future = store.store.clock() + 365 * 86400
    _purged, forgotten = store.purge_expired(info.id, now=far_future)
    assert forgotten == 1
    with pytest.raises(SyncStateTooOld) as exc:
        store.changes_since(info.id, inbox, old_state)
    assert exc.value.mapi_code.name == "SyncUnsynchronized"
    assert store.changes_since(info.id, inbox, deleted_at).deleted == []


def test_soft_deleted_messages_are_purged_after_retention(store: SyncStore, box: Any) -> None:
    info, special = box
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    store.delete_messages(info.id, [a.mid])
    used = store.get_store(info.id).size_used
    assert used > 0
    assert store.purge_expired(info.id)[0] == 0  # too young
    purged, _ = store.purge_expired(info.id, now=store.store.clock() + 100 * 86400)
    assert purged == 1
    assert store.get_store(info.id).size_used == 0
    assert store.get_folder(info.id, special[SpecialFolder.INBOX]).deleted_count == 0


def test_events_carry_store_folder_ids_and_change_number(store: SyncStore, box: Any,
                                                         events: list[Event]) -> None:
    info, special = box
    inbox, junk = special[SpecialFolder.INBOX], special[SpecialFolder.JUNK]
    events.clear()
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    kinds = [(e.kind, e.store, e.folder, e.ids, e.change_number) for e in events]
    assert kinds == [("created", info.id, inbox, (a.mid,), a.cn),
                     ("new_mail", info.id, inbox, (a.mid,), a.cn)]
    events.clear()
    cn = store.set_read(info.id, [a.mid], True)
    assert [(e.kind, e.data.get("read"), e.change_number) for e in events] == [
        ("modified", True, cn)]
    events.clear()
    moved = store.move_messages(info.id, [a.mid], junk)
    (event,) = events
    assert (event.kind, event.folder, event.ids) == ("moved", junk, (moved[a.mid],))
    assert event.data["old_folder"] == inbox and event.data["old_ids"] == (a.mid,)
    events.clear()
    store.delete_messages(info.id, [moved[a.mid]], hard=True)
    assert [(e.kind, e.folder, e.data["object"]) for e in events] == [
        ("deleted", junk, "message")]
    events.clear()
    folder = store.create_folder(info.id, inbox, "Sub")
    assert [(e.kind, e.ids, e.data["object"]) for e in events] == [
        ("created", (folder.fid,), "folder")]


def test_failed_writes_publish_nothing(store: SyncStore, box: Any, events: list[Event]) -> None:
    info, special = box
    events.clear()
    with pytest.raises(Exception, match="already has a subfolder"):
        store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE], "inbox")
    assert events == []


def test_iteration_is_batched_in_uid_order(store: SyncStore, box: Any) -> None:
    info, special = box
    made = [store.deliver(info.id, mail(f"m{i}"), mime=mime_of(f"m{i}")) for i in range(7)]
    seen = store.iter_messages(info.id, special[SpecialFolder.INBOX], batch=3)
    assert [m.mid for m in seen] == [m.mid for m in made]
    assert store.message_by_uid(info.id, special[SpecialFolder.INBOX], made[3].uid).mid == \
        made[3].mid


def test_reserved_ids_can_be_used_once(store: SyncStore, box: Any) -> None:
    from storage.mapistore.ids import mid_of

    info, special = box
    first = store.reserve_ids(info.id, 10)
    chosen = mid_of(first + 3)
    made = store.create_message(info.id, special[SpecialFolder.DRAFTS], mail("x"), mid=chosen)
    assert made.mid == chosen
    with pytest.raises(Exception, match="in use"):
        store.create_message(info.id, special[SpecialFolder.DRAFTS], mail("y"), mid=chosen)
    with pytest.raises(Exception, match="never reserved"):
        store.create_message(info.id, special[SpecialFolder.DRAFTS], mail("z"),
                             mid=mid_of(first + 10_000))


def test_change_keys_and_predecessor_change_lists(store: SyncStore, box: Any) -> None:
    import uuid

    from groupware.mapi.changes import PredecessorChangeList, Xid, change_key
    from groupware.mapi.ids import globcnt_to_bytes

    info, special = box
    other = uuid.UUID("11111111-2222-3333-4444-555555555555")
    foreign = PredecessorChangeList([Xid(other, globcnt_to_bytes(5))]).to_bytes()
    made = store.create_message(info.id, special[SpecialFolder.DRAFTS],
                                mail("synced", extra={tags.PREDECESSOR_CHANGE_LIST: foreign}))
    wanted = [tags.CHANGE_KEY, tags.PREDECESSOR_CHANGE_LIST, tags.CHANGE_NUMBER]
    props = store.get_properties(info.id, made.mid, wanted)
    own = change_key(info.replica_guid, made.cn)
    assert props[tags.CHANGE_KEY] == own.to_bytes()
    pcl = PredecessorChangeList.from_bytes(props[tags.PREDECESSOR_CHANGE_LIST])
    assert pcl.includes(own) and pcl.get(other).counter == 5
    cn = store.set_properties(info.id, made.mid, {tags.IMPORTANCE: 1})
    pcl2 = PredecessorChangeList.from_bytes(
        store.get_properties(info.id, made.mid, wanted)[tags.PREDECESSOR_CHANGE_LIST])
    assert pcl2.get(info.replica_guid).counter == cn
    assert pcl2.get(other).counter == 5
    assert pcl2.compare(pcl).value == "newer"
    with pytest.raises(Exception, match="PredecessorChangeList"):
        store.set_properties(info.id, made.mid, {tags.PREDECESSOR_CHANGE_LIST: b"\x05abc"})
