"""The shared backend conformance suite: every backend must pass it, on SQLite and
PostgreSQL. It drives backends through the public MapiStore, the way protocols do.

A backend plugs in from its own test module::

    import pytest
    from tests.storage.mapistore.conformance import *  # noqa: F403

    @pytest.fixture
    def backend_uri(tmp_path) -> str:
        return f"maildir://{tmp_path}/mail/{{user}}"

Optionally override ``backend_roles`` (which folder roles live on the backend; by
default all of them). Tests needing an optional ability are skipped unless the
backend declares the :class:`~storage.mapistore.model.Capability`; messages always
come with a MIME original unless the backend has ``MESSAGES_WITHOUT_MIME``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from groupware.mapi.restrictions import (
    BitmapRelOp,
    BitmaskRestriction,
    ContentRestriction,
    FuzzyLevelHigh,
    FuzzyLevelLow,
    NotRestriction,
    PropertyRestriction,
    RelOp,
    SubObjectRestriction,
)
from groupware.mapi.sorting import SortDirection, SortOrder
from groupware.mapi.values import TaggedPropertyValue
from groupware.notifier import Event
from groupware.types import PropTag
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.bulk import MessageUpdate
from storage.mapistore.model import Capability, LargeValue, MessageContent, TableQuery
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import (
    ALL_ROLES,
    SyncStore,
    build_store,
    mail,
    mime_of,
    provision,
    rich_message,
)

__all__ = [
    "backend_roles", "capabilities", "conformance_events", "conformance_store", "mailbox",
    "test_conformance_associated_messages_have_their_own_table",
    "test_conformance_blobs_stay_while_referenced",
    "test_conformance_copy_keeps_the_original",
    "test_conformance_delete_folder_removes_content",
    "test_conformance_folder_subscription_is_not_a_change",
    "test_conformance_hard_and_soft_delete",
    "test_conformance_large_values_and_streams",
    "test_conformance_mail_rows_updates_and_transfers",
    "test_conformance_message_round_trip",
    "test_conformance_mime_original_is_byte_exact",
    "test_conformance_move_between_folders",
    "test_conformance_read_state",
    "test_conformance_recipients_attachments_embedded",
    "test_conformance_rename_and_move_folder_keep_content",
    "test_conformance_repair_finds_nothing_after_a_workout",
    "test_conformance_save_message_replaces_everything",
    "test_conformance_set_and_delete_properties",
    "test_conformance_table_restrictions",
    "test_conformance_table_sort_and_window",
]

GUID = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
PT_LONG = PropTag(0x80010003)
PT_DOUBLE = PropTag(0x80020005)
PT_BOOL = PropTag(0x8003000B)
PT_I8 = PropTag(0x80040014)
PT_GUID = PropTag(0x80050048)
PT_BIN = PropTag(0x80060102)
PT_MV_STR = PropTag(0x8007101F)
PT_MV_LONG = PropTag(0x80081003)
PT_SHORT = PropTag(0x80090002)
PT_CURRENCY = PropTag(0x800A0006)
PT_APPTIME = PropTag(0x800B0007)
PT_MV_BIN = PropTag(0x800C1102)
PT_STRING8 = PropTag(0x800D001E)


@pytest.fixture
def backend_roles(backend_uri: str) -> dict[str, str]:
    return dict.fromkeys(ALL_ROLES, backend_uri)


@pytest.fixture
def conformance_events() -> list[Event]:
    return []


@pytest.fixture
def conformance_store(database: Database, tmp_path: Path, backend_roles: dict[str, str],
                      conformance_events: list[Event]) -> Iterator[SyncStore]:
    store = build_store(database, tmp_path, backend_roles, conformance_events)
    yield SyncStore(store)
    store.close()


@pytest.fixture
def mailbox(conformance_store: SyncStore) -> tuple[Any, dict[SpecialFolder, int]]:
    info = provision(conformance_store)
    return info, conformance_store.special_folders(info.id)


@pytest.fixture
def capabilities(conformance_store: SyncStore, backend_uri: str) -> frozenset[Capability]:
    return conformance_store.store.registry.for_uri(backend_uri).capabilities


def _needs(caps: frozenset[Capability], *wanted: Capability) -> None:
    missing = [c.value for c in wanted if c not in caps]
    if missing:
        pytest.skip(f"backend lacks {', '.join(missing)}")


def _mime(caps: frozenset[Capability], subject: str) -> bytes | None:
    return None if Capability.MESSAGES_WITHOUT_MIME in caps else mime_of(subject)


def _create(store: SyncStore, sid: int, fid: int, caps: frozenset[Capability],
            content: MessageContent, **kw: Any) -> Any:
    subject = str(content.props.get(tags.SUBJECT, "x"))
    return store.create_message(sid, fid, content, mime=kw.pop("mime", _mime(caps, subject)),
                                **kw)


def test_conformance_message_round_trip(conformance_store: SyncStore, mailbox: Any,
                                        capabilities: frozenset[Capability]) -> None:
    _needs(capabilities, Capability.ARBITRARY_PROPERTIES)
    info, special = mailbox
    values = {
        PT_LONG: -5, PT_DOUBLE: 2.5, PT_BOOL: True, PT_I8: 1 << 40, PT_GUID: GUID,
        PT_BIN: b"\x00\xff", PT_MV_STR: ("a", "b\u00e9"), PT_MV_LONG: (1, 2, 3),
        PT_SHORT: -2, PT_CURRENCY: 12345, PT_APPTIME: 45000.5, PT_MV_BIN: (b"x", b""),
        tags.IMPORTANCE: 2,
    }
    content = mail("Round trip \u2713", extra=dict(values))
    content.props[PT_STRING8] = "eight"
    created = _create(conformance_store, info.id, special[SpecialFolder.INBOX], capabilities,
                      content)
    got = conformance_store.get_message(info.id, created.mid)
    for tag, value in values.items():
        assert got.props[tag] == value, hex(tag)
    assert got.props[tags.SUBJECT] == "Round trip \u2713"
    # PtypString8 is kept as PtypString (the store is Unicode).
    assert got.props[PropTag(0x800D001F)] == "eight"
    assert got.props[tags.MID] == created.mid
    assert got.props[tags.FOLDER_ID] == special[SpecialFolder.INBOX]
    assert got.info.uid == created.uid
    assert got.props[tags.MESSAGE_SIZE] == created.size > 0


def test_conformance_mime_original_is_byte_exact(conformance_store: SyncStore, mailbox: Any
                                                 ) -> None:
    info, _special = mailbox
    raw = mime_of("bytes", body="line one\r\n\xe9 latin-1 \x00 stays\r\n".encode("latin-1")
                  .decode("latin-1")) + b"\r\n\r\n trailing  \r\n"
    created = conformance_store.deliver(info.id, mail("bytes"), mime=raw)
    assert conformance_store.read_mime(info.id, created.mid) == raw


def test_conformance_recipients_attachments_embedded(conformance_store: SyncStore, mailbox: Any,
                                                     capabilities: frozenset[Capability]) -> None:
    _needs(capabilities, Capability.RECIPIENTS, Capability.ATTACHMENTS)
    info, special = mailbox
    created = _create(conformance_store, info.id, special[SpecialFolder.DRAFTS], capabilities,
                      rich_message())
    got = conformance_store.get_message(info.id, created.mid).content
    assert [r[tags.DISPLAY_NAME] for r in got.recipients] == ["Alice", "Dave"]
    assert [r[tags.ROWID] for r in got.recipients] == [0, 1]
    assert [a.props[tags.ATTACH_NUMBER] for a in got.attachments] == [0, 1]
    assert got.attachments[0].props[tags.ATTACH_DATA_BINARY] == bytes(range(256)) * 512
    embedded = got.attachments[1].embedded
    assert embedded is not None
    assert got.attachments[1].props[tags.ATTACH_METHOD] == tags.ATTACH_EMBEDDED_MSG
    assert embedded.props[tags.SUBJECT] == "inner"
    assert embedded.recipients[0][tags.DISPLAY_NAME] == "Carol"
    assert embedded.attachments[0].props[tags.ATTACH_DATA_BINARY] == b"deep"
    props = conformance_store.get_properties(info.id, created.mid,
                                             [tags.HAS_ATTACHMENTS, tags.MESSAGE_FLAGS])
    assert props[tags.HAS_ATTACHMENTS] is True
    assert props[tags.MESSAGE_FLAGS] & tags.MSGFLAG_HASATTACH


def test_conformance_set_and_delete_properties(conformance_store: SyncStore, mailbox: Any,
                                               capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    created = _create(conformance_store, info.id, special[SpecialFolder.INBOX], capabilities,
                      mail("before", extra={PT_LONG: 1} if Capability.ARBITRARY_PROPERTIES
                           in capabilities else None))
    cn = conformance_store.set_properties(info.id, created.mid, {tags.SUBJECT: "after",
                                                                 tags.IMPORTANCE: 2},
                                          delete=[tags.BODY])
    assert cn > created.cn
    props = conformance_store.get_properties(info.id, created.mid)
    assert props[tags.SUBJECT] == "after"
    assert props[tags.IMPORTANCE] == 2
    assert tags.BODY not in props
    assert conformance_store.get_message_info(info.id, created.mid).cn == cn
    # A MIME-visible change makes the original stale: it is dropped.
    assert conformance_store.read_mime(info.id, created.mid) is None


def test_conformance_save_message_replaces_everything(conformance_store: SyncStore,
                                                      mailbox: Any,
                                                      capabilities: frozenset[Capability]
                                                      ) -> None:
    _needs(capabilities, Capability.RECIPIENTS, Capability.ATTACHMENTS)
    info, special = mailbox
    created = _create(conformance_store, info.id, special[SpecialFolder.DRAFTS], capabilities,
                      rich_message())
    replacement = MessageContent(props={tags.SUBJECT: "v2"},
                                 recipients=[{tags.DISPLAY_NAME: "Eve"}])
    conformance_store.save_message(info.id, created.mid, replacement,
                                   mime=_mime(capabilities, "v2"))
    got = conformance_store.get_message(info.id, created.mid).content
    assert got.props[tags.SUBJECT] == "v2"
    assert [r[tags.DISPLAY_NAME] for r in got.recipients] == ["Eve"]
    assert got.attachments == []
    assert got.props[tags.HAS_ATTACHMENTS] is False


def test_conformance_read_state(conformance_store: SyncStore, mailbox: Any,
                                capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    inbox = special[SpecialFolder.INBOX]
    a = conformance_store.deliver(info.id, mail("a"), mime=mime_of("a"))
    b = conformance_store.deliver(info.id, mail("b"), mime=mime_of("b"))
    cn = conformance_store.set_read(info.id, [a.mid], True)
    assert cn is not None
    assert conformance_store.set_read(info.id, [a.mid], True) is None  # no change, no CN
    flags = conformance_store.get_properties(info.id, a.mid, [tags.MESSAGE_FLAGS])
    assert flags[tags.MESSAGE_FLAGS] & tags.MSGFLAG_READ
    folder = conformance_store.get_folder(info.id, inbox)
    assert (folder.message_count, folder.unread_count) == (2, 1)
    unread = conformance_store.query_table(info.id, inbox, TableQuery(
        columns=(tags.SUBJECT,), restriction=BitmaskRestriction(
            BitmapRelOp.BMR_EQZ, tags.MESSAGE_FLAGS, tags.MSGFLAG_READ)))
    assert [r.mid for r in unread] == [b.mid]
    assert conformance_store.get_message_info(info.id, a.mid).read_cn == cn
    assert conformance_store.get_message_info(info.id, a.mid).cn == a.cn


def test_conformance_move_between_folders(conformance_store: SyncStore, mailbox: Any,
                                          capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    inbox, deleted = special[SpecialFolder.INBOX], special[SpecialFolder.DELETED]
    a = conformance_store.deliver(info.id, mail("moving"), mime=mime_of("moving"))
    raw = conformance_store.read_mime(info.id, a.mid)
    mapping = conformance_store.move_messages(info.id, [a.mid], deleted)
    new = mapping[a.mid]
    assert new != a.mid
    moved = conformance_store.get_message(info.id, new)
    assert moved.info.fid == deleted
    assert moved.props[tags.SUBJECT] == "moving"
    assert conformance_store.read_mime(info.id, new) == raw
    assert conformance_store.get_folder(info.id, inbox).message_count == 0
    changes = conformance_store.changes_since(info.id, inbox, a.cn)
    assert [d.object_id for d in changes.deleted] == [a.mid]


def test_conformance_copy_keeps_the_original(conformance_store: SyncStore, mailbox: Any,
                                             capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    a = conformance_store.deliver(info.id, mail("copy me"), mime=mime_of("copy me"))
    mapping = conformance_store.copy_messages(info.id, [a.mid], special[SpecialFolder.SENT])
    copy = conformance_store.get_message(info.id, mapping[a.mid])
    original = conformance_store.get_message(info.id, a.mid)
    assert copy.props[tags.SUBJECT] == original.props[tags.SUBJECT] == "copy me"
    assert conformance_store.read_mime(info.id, mapping[a.mid]) == \
        conformance_store.read_mime(info.id, a.mid)
    conformance_store.set_properties(info.id, mapping[a.mid], {tags.IMPORTANCE: 0})
    assert tags.IMPORTANCE not in conformance_store.get_properties(info.id, a.mid)


def test_conformance_hard_and_soft_delete(conformance_store: SyncStore, mailbox: Any) -> None:
    info, special = mailbox
    inbox = special[SpecialFolder.INBOX]
    soft = conformance_store.deliver(info.id, mail("soft"), mime=mime_of("soft"))
    hard = conformance_store.deliver(info.id, mail("hard"), mime=mime_of("hard"))
    keep = conformance_store.deliver(info.id, mail("keep"), mime=mime_of("keep"))
    conformance_store.delete_messages(info.id, [soft.mid])
    conformance_store.delete_messages(info.id, [hard.mid], hard=True)
    live = conformance_store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,)))
    assert [r.values[tags.SUBJECT] for r in live] == ["keep"]
    gone = conformance_store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,),
                                                                    soft_deleted=True))
    assert [r.values[tags.SUBJECT] for r in gone] == ["soft"]
    assert conformance_store.get_message(info.id, soft.mid).info.soft_deleted
    with pytest.raises(Exception, match="does not exist"):
        conformance_store.get_message(info.id, hard.mid)
    changes = conformance_store.changes_since(info.id, inbox, keep.cn)
    assert {(d.object_id, d.soft) for d in changes.deleted} == {(soft.mid, True),
                                                                 (hard.mid, False)}


def test_conformance_table_sort_and_window(conformance_store: SyncStore, mailbox: Any,
                                           capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    inbox = special[SpecialFolder.INBOX]
    subjects = ["delta", "Alpha", "charlie", "bravo", "echo"]
    for i, subject in enumerate(subjects):
        conformance_store.deliver(info.id, mail(subject, when=1_000 + 10 * ((i * 3) % 5)),
                                  mime=mime_of(subject))
    by_date = conformance_store.query_table(info.id, inbox, TableQuery(
        columns=(tags.SUBJECT, tags.MESSAGE_DELIVERY_TIME),
        sort=(SortOrder(tags.MESSAGE_DELIVERY_TIME, SortDirection.DESCEND),)))
    times = [r.values[tags.MESSAGE_DELIVERY_TIME] for r in by_date]
    assert times == sorted(times, reverse=True)
    by_subject = conformance_store.query_table(info.id, inbox, TableQuery(
        columns=(tags.SUBJECT,), sort=(SortOrder(tags.SUBJECT),), offset=1, limit=3))
    assert [r.values[tags.SUBJECT] for r in by_subject] == ["bravo", "charlie", "delta"]
    assert conformance_store.count_rows(info.id, inbox, TableQuery(columns=())) == 5
    unsorted = conformance_store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,)))
    assert [r.values[tags.SUBJECT] for r in unsorted] == subjects  # creation order


def test_conformance_table_restrictions(conformance_store: SyncStore, mailbox: Any,
                                        capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    inbox = special[SpecialFolder.INBOX]
    for subject, sender in [("Project kickoff", "Bob"), ("Lunch", "Carol"),
                            ("project review", "Bob"), ("Invoice", "Dave")]:
        conformance_store.deliver(info.id, mail(subject, sender=sender), mime=mime_of(subject))

    def subjects(restriction: Any) -> list[str]:
        rows = conformance_store.query_table(info.id, inbox, TableQuery(
            columns=(tags.SUBJECT,), restriction=restriction, sort=(SortOrder(tags.SUBJECT),)))
        return [r.values[tags.SUBJECT] for r in rows]

    contains = ContentRestriction(FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE,
                                  tags.SUBJECT, TaggedPropertyValue(tags.SUBJECT, "PROJECT"))
    assert subjects(contains) == ["Project kickoff", "project review"]
    by_sender = PropertyRestriction(RelOp.EQ, tags.SENDER_NAME,
                                    TaggedPropertyValue(tags.SENDER_NAME, "bob"))
    assert subjects(by_sender) == ["Project kickoff", "project review"]
    assert subjects(NotRestriction(by_sender)) == ["Invoice", "Lunch"]
    body = ContentRestriction(FuzzyLevelLow.SUBSTRING, FuzzyLevelHigh.IGNORECASE, tags.BODY,
                              TaggedPropertyValue(tags.BODY, "hi THERE"))
    assert len(subjects(body)) == 4
    assert conformance_store.count_rows(info.id, inbox, TableQuery(columns=(),
                                                                   restriction=contains)) == 2
    if Capability.RECIPIENTS in capabilities:
        _create(conformance_store, info.id, inbox, capabilities, rich_message())
        to_dave = SubObjectRestriction(tags.MESSAGE_RECIPIENTS, PropertyRestriction(
            RelOp.EQ, tags.DISPLAY_NAME, TaggedPropertyValue(tags.DISPLAY_NAME, "Dave")))
        assert subjects(to_dave) == ["outer"]
    regex = PropertyRestriction(RelOp.RE, tags.SUBJECT, TaggedPropertyValue(tags.SUBJECT, ".*"))
    with pytest.raises(Exception, match="not supported") as exc:
        subjects(regex)
    assert getattr(exc.value, "mapi_code", None) is not None


def test_conformance_associated_messages_have_their_own_table(
        conformance_store: SyncStore, mailbox: Any, capabilities: frozenset[Capability]) -> None:
    _needs(capabilities, Capability.ASSOCIATED)
    info, special = mailbox
    inbox = special[SpecialFolder.INBOX]
    conformance_store.deliver(info.id, mail("normal"), mime=mime_of("normal"))
    fai = _create(conformance_store, info.id, inbox, capabilities,
                  MessageContent(props={tags.MESSAGE_CLASS: "IPM.Microsoft.FolderDesign",
                                        tags.SUBJECT: "view"}), associated=True)
    normal = conformance_store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,)))
    assoc = conformance_store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,),
                                                                     associated=True))
    assert [r.values[tags.SUBJECT] for r in normal] == ["normal"]
    assert [r.mid for r in assoc] == [fai.mid]
    folder = conformance_store.get_folder(info.id, inbox)
    assert (folder.message_count, folder.associated_count) == (1, 1)
    flags = conformance_store.get_properties(info.id, fai.mid, [tags.MESSAGE_FLAGS])
    assert flags[tags.MESSAGE_FLAGS] & tags.MSGFLAG_ASSOCIATED


def test_conformance_large_values_and_streams(conformance_store: SyncStore, mailbox: Any,
                                              capabilities: frozenset[Capability]) -> None:
    info, special = mailbox
    body = "Lorem ipsum \u00e9 " * 20_000
    created = conformance_store.deliver(info.id, mail("big", body=body), mime=mime_of("big"))
    limited = conformance_store.get_properties(info.id, created.mid, [tags.BODY],
                                               inline_limit=4096)
    assert isinstance(limited[tags.BODY], LargeValue)
    full = conformance_store.get_properties(info.id, created.mid, [tags.BODY])
    assert full[tags.BODY] == body
    chunk = conformance_store.read_property_stream(info.id, created.mid, tags.BODY, 24, 48)
    assert chunk == body.encode("utf-16-le")[24:72]
    row = conformance_store.query_table(info.id, special[SpecialFolder.INBOX],
                                        TableQuery(columns=(tags.BODY,)))[0]
    assert isinstance(row.values[tags.BODY], LargeValue | str)


def test_conformance_rename_and_move_folder_keep_content(conformance_store: SyncStore,
                                                         mailbox: Any) -> None:
    info, special = mailbox
    top = conformance_store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE],
                                          "Projects", container_class="IPF.Note")
    sub = conformance_store.create_folder(info.id, top.fid, "2026")
    created = conformance_store.create_message(info.id, sub.fid, mail("kept"),
                                               mime=mime_of("kept"))
    conformance_store.set_folder_properties(info.id, top.fid, {tags.DISPLAY_NAME: "Archive"})
    conformance_store.move_folder(info.id, sub.fid, special[SpecialFolder.INBOX], "Year 2026")
    moved = conformance_store.get_folder(info.id, sub.fid)
    assert (moved.name, moved.parent) == ("Year 2026", special[SpecialFolder.INBOX])
    got = conformance_store.get_message(info.id, created.mid)
    assert got.props[tags.SUBJECT] == "kept"
    assert conformance_store.get_folder(info.id, top.fid).name == "Archive"


def test_conformance_delete_folder_removes_content(conformance_store: SyncStore,
                                                   mailbox: Any) -> None:
    info, special = mailbox
    top = conformance_store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE], "Old")
    sub = conformance_store.create_folder(info.id, top.fid, "Older")
    conformance_store.create_message(info.id, sub.fid, mail("x"), mime=mime_of("x"))
    before = conformance_store.get_store(info.id).size_used
    conformance_store.delete_folder(info.id, top.fid, messages=True, subfolders=True)
    with pytest.raises(Exception, match="does not exist"):
        conformance_store.get_folder(info.id, sub.fid)
    assert conformance_store.get_store(info.id).size_used < before
    assert conformance_store.repair(info.id).clean


def test_conformance_blobs_stay_while_referenced(conformance_store: SyncStore,
                                                 mailbox: Any) -> None:
    info, _special = mailbox
    a = conformance_store.deliver(info.id, mail("a", body="x" * 100_000), mime=mime_of("a"))
    b = conformance_store.deliver(info.id, mail("b"), mime=mime_of("b"))
    conformance_store.delete_messages(info.id, [b.mid], hard=True)
    removed = conformance_store.collect_garbage(grace=-1)
    assert conformance_store.read_mime(info.id, a.mid) is not None
    assert conformance_store.get_properties(info.id, a.mid, [tags.BODY])[tags.BODY] == \
        "x" * 100_000
    assert removed  # at least b's MIME original was collected
    assert conformance_store.repair(info.id).clean


def test_conformance_repair_finds_nothing_after_a_workout(conformance_store: SyncStore,
                                                          mailbox: Any,
                                                          capabilities: frozenset[Capability]
                                                          ) -> None:
    info, special = mailbox
    inbox, sent = special[SpecialFolder.INBOX], special[SpecialFolder.SENT]
    mids = [conformance_store.deliver(info.id, mail(f"m{i}"), mime=mime_of(f"m{i}")).mid
            for i in range(6)]
    conformance_store.set_read(info.id, mids[:3], True)
    moved = conformance_store.move_messages(info.id, mids[3:5], sent)
    conformance_store.copy_messages(info.id, list(moved.values()), inbox)
    conformance_store.delete_messages(info.id, [mids[0]])
    conformance_store.delete_messages(info.id, [mids[1]], hard=True)
    conformance_store.set_properties(info.id, mids[2], {tags.IMPORTANCE: 2})
    report = conformance_store.repair(info.id)
    assert report.clean, report.problems


FLAG_STATUS = PropTag(0x10900003)
LAST_VERB = PropTag(0x10810003)


def test_conformance_mail_rows_updates_and_transfers(conformance_store: SyncStore,
                                                     mailbox: Any) -> None:
    """What IMAP needs: a folder's rows with flag properties and MIME sizes, flag
    changes of several messages in one step (new change numbers, conditional on
    UNCHANGEDSINCE), deltas since a change number, and move/copy reporting UIDs."""
    store = conformance_store
    info, special = mailbox
    inbox, sent = special[SpecialFolder.INBOX], special[SpecialFolder.SENT]
    mimes = {s: mime_of(s, body=f"body of {s}\r\n" * (i + 1)) for i, s in enumerate("abc")}
    a = store.deliver(info.id, mail("a"), mime=mimes["a"])
    b = store.deliver(info.id, mail("b"), mime=mimes["b"])
    c = store.deliver(info.id, mail("c", extra={FLAG_STATUS: 2}), mime=mimes["c"])
    store.set_read(info.id, [a.mid], True)
    wanted = [FLAG_STATUS, LAST_VERB, tags.MESSAGE_DELIVERY_TIME]
    full = store.read_rows(info.id, inbox, wanted)
    assert [r.mid for r in full.rows] == [a.mid, b.mid, c.mid]
    assert [r.uid for r in full.rows] == sorted(r.uid for r in full.rows)
    assert [r.read for r in full.rows] == [True, False, False]
    assert [r.props.get(FLAG_STATUS) for r in full.rows] == [None, None, 2]
    assert all(tags.MESSAGE_DELIVERY_TIME in r.props for r in full.rows)
    assert [r.mime_size for r in full.rows] == [len(mimes[s]) for s in "abc"]
    assert full.rows[0].modseq == max(full.rows[0].cn, full.rows[0].read_cn) > a.cn
    assert full.deleted == [] and full.folder.highest_cn >= full.rows[0].modseq
    assert full.store_cn == store.get_store(info.id).highest_cn >= full.folder.highest_cn
    mark = full.folder.highest_cn

    result = store.update_messages(info.id, [
        MessageUpdate(b.mid, read=True, props={FLAG_STATUS: 2, LAST_VERB: 102}),
        MessageUpdate(c.mid, delete=(FLAG_STATUS,))])
    assert not result.conflicts and not result.missing
    assert min(i.modseq for i in result.changed.values()) > mark
    assert result.changed[b.mid].read and result.changed[b.mid].cn > b.cn
    assert result.previous[b.mid].cn == b.cn and not result.previous[b.mid].read
    assert store.read_mime(info.id, b.mid) == mimes["b"]  # flags leave the original alone
    delta = store.read_rows(info.id, inbox, wanted, since=mark)
    assert [r.mid for r in delta.rows] == [b.mid, c.mid]
    assert delta.rows[0].props == {FLAG_STATUS: 2, LAST_VERB: 102,
                                   tags.MESSAGE_DELIVERY_TIME:
                                   full.rows[1].props[tags.MESSAGE_DELIVERY_TIME]}
    assert FLAG_STATUS not in delta.rows[1].props

    # CONDSTORE: only messages unchanged since the mark are touched.
    cond = store.update_messages(info.id, [MessageUpdate(a.mid, props={FLAG_STATUS: 2}),
                                           MessageUpdate(b.mid, read=False)],
                                 unchanged_since=mark)
    assert cond.conflicts == [b.mid] and list(cond.changed) == [a.mid]
    assert store.get_message_info(info.id, b.mid).read

    before = store.get_folder(info.id, sent).uidnext
    moved = store.transfer_messages(info.id, [c.mid, a.mid], sent, move=True)
    assert [(t.old_mid, t.old_uid) for t in moved] == [(c.mid, c.uid), (a.mid, a.uid)]
    assert [t.uid for t in moved] == [before, before + 1]
    in_sent = store.read_rows(info.id, sent, [FLAG_STATUS])
    assert [(r.mid, r.uid) for r in in_sent.rows] == [(t.mid, t.uid) for t in moved]
    assert in_sent.rows[1].props == {FLAG_STATUS: 2} and in_sent.rows[1].read
    after = store.read_rows(info.id, inbox, wanted, since=delta.folder.highest_cn)
    assert sorted(d.uid for d in after.deleted) == sorted([a.uid, c.uid])
    assert store.read_rows(info.id, inbox, uids=[b.uid, 999]).rows[0].mid == b.mid
    copied = store.transfer_messages(info.id, [b.mid], sent, move=False)
    assert copied[0].uid == before + 2
    assert store.read_mime(info.id, copied[0].mid) == mimes["b"]
    # Several originals in one read; moved-away ids are left out; a byte budget stops it.
    got = store.read_mimes(info.id, [b.mid, a.mid, moved[0].mid, copied[0].mid])
    assert got == {b.mid: mimes["b"], moved[0].mid: mimes["c"], copied[0].mid: mimes["b"]}
    assert list(store.read_mimes(info.id, [b.mid, moved[0].mid], max_bytes=1)) == [b.mid]


def test_conformance_folder_subscription_is_not_a_change(conformance_store: SyncStore,
                                                         mailbox: Any) -> None:
    info, special = mailbox
    junk = special[SpecialFolder.JUNK]
    assert conformance_store.get_folder(info.id, junk).subscribed
    last = conformance_store.get_store(info.id).highest_cn
    conformance_store.set_folder_subscribed(info.id, junk, False)
    folder = conformance_store.get_folder(info.id, junk)
    assert not folder.subscribed
    assert conformance_store.get_store(info.id).highest_cn == last
    listed = {f.fid: f.subscribed for f in conformance_store.list_folders(info.id,
                                                                          recursive=True)}
    assert listed[junk] is False and listed[special[SpecialFolder.INBOX]] is True
    conformance_store.set_folder_subscribed(info.id, junk, True)
    assert conformance_store.get_folder(info.id, junk).subscribed
    assert tags.IMAP_UNSUBSCRIBED not in conformance_store.get_folder_properties(info.id, junk)
