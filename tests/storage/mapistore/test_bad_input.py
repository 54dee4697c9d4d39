"""Bad input gets a clear error with its MAPI code, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from groupware.mapi.codes import ErrorCode
from groupware.mapi.restrictions import PropertyRestriction, RelOp
from groupware.mapi.sorting import SortOrder
from groupware.mapi.values import TaggedPropertyValue
from groupware.types import PropTag
from storage.mapistore import tags
from storage.mapistore.errors import mapi_code_of
from storage.mapistore.model import AttachmentContent, MessageContent, TableQuery
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, mail


def _refused(store: SyncStore, info: Any, action: Callable[[], Any], code: ErrorCode,
             match: str) -> None:
    before = store.get_store(info.id)
    with pytest.raises(Exception, match=match) as exc:
        action()
    assert mapi_code_of(exc.value) == code
    after = store.get_store(info.id)
    assert (after.highest_cn, after.size_used) == (before.highest_cn, before.size_used)


def test_property_errors(store: SyncStore, box: Any) -> None:
    info, special = box
    drafts = special[SpecialFolder.DRAFTS]

    def create(props: dict[Any, Any]) -> Any:
        return store.create_message(info.id, drafts, MessageContent(props=props))

    _refused(store, info, lambda: create({PropTag(0x80010099): 1}), ErrorCode.ecInvalidType,
             "unknown type 0x0099")
    _refused(store, info, lambda: create({tags.SUBJECT: 12}), ErrorCode.ecInvalidType,
             "needs a string")
    _refused(store, info, lambda: create({PropTag(0x80010003): 1 << 40}), ErrorCode.ecBadValue,
             "does not fit 32 bits")
    _refused(store, info, lambda: create({PropTag(0x8001000D): b""}), ErrorCode.ecInvalidType,
             "not stored")
    _refused(store, info, lambda: create({"subject": "x"}), ErrorCode.ecInvalidType,
             "not a property tag")
    _refused(store, info, lambda: create({PropTag(0x80010040): -5}), ErrorCode.ecBadValue,
             "time out of range")
    assert store.get_folder(info.id, drafts).message_count == 0


def test_size_limits(store: SyncStore, box: Any) -> None:
    info, special = box
    drafts = special[SpecialFolder.DRAFTS]
    limit = store.store.limits.max_value_size
    _refused(store, info, lambda: store.create_message(
        info.id, drafts, mail("big", extra={PropTag(0x80010102): b"x" * (limit + 1)})),
        ErrorCode.ecTooBig, "at most")
    deep = MessageContent(props={tags.SUBJECT: "0"})
    for i in range(12):
        deep = MessageContent(props={tags.SUBJECT: str(i + 1)},
                              attachments=[AttachmentContent({}, embedded=deep)])
    _refused(store, info, lambda: store.create_message(info.id, drafts, deep),
             ErrorCode.ecTooBig, "nested deeper")
    many = MessageContent(props={}, recipients=[{tags.DISPLAY_NAME: "x"}] * 10_000)
    _refused(store, info, lambda: store.create_message(info.id, drafts, many),
             ErrorCode.ecTooBig, "recipients")
    dup = MessageContent(props={}, recipients=[{tags.ROWID: 1}, {tags.ROWID: 1}])
    _refused(store, info, lambda: store.create_message(info.id, drafts, dup),
             ErrorCode.ecBadValue, "duplicate recipient")


def test_invalid_restrictions_and_columns(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    regex = PropertyRestriction(RelOp.RE, tags.SUBJECT, TaggedPropertyValue(tags.SUBJECT, "x"))
    _refused(store, info, lambda: store.query_table(info.id, inbox, TableQuery(
        columns=(tags.SUBJECT,), restriction=regex)), ErrorCode.ecTooComplex, "not supported")
    _refused(store, info, lambda: store.query_table(info.id, inbox, TableQuery(
        columns=(tags.SUBJECT,), restriction="subject = 1")),  # type: ignore[arg-type]
        ErrorCode.ecTooComplex, "not a restriction")
    _refused(store, info, lambda: store.query_table(info.id, inbox, TableQuery(
        columns=(PropTag(0x00370099),))), ErrorCode.ecInvalidType, "unknown type")
    _refused(store, info, lambda: store.query_table(info.id, inbox, TableQuery(
        columns=(), sort=(SortOrder(PropTag(0x12340777)),))), ErrorCode.ecInvalidType,
        "unknown type")
    with pytest.raises(Exception, match="offset"):
        TableQuery(columns=(), offset=-1)


def test_folder_errors(store: SyncStore, box: Any) -> None:
    info, special = box
    ipm = special[SpecialFolder.IPM_SUBTREE]
    top = store.create_folder(info.id, ipm, "Top")
    child = store.create_folder(info.id, top.fid, "Child")
    grandchild = store.create_folder(info.id, child.fid, "Grandchild")
    _refused(store, info, lambda: store.move_folder(info.id, top.fid, grandchild.fid),
             ErrorCode.ecFolderCycle, "into itself")
    _refused(store, info, lambda: store.move_folder(info.id, top.fid, top.fid),
             ErrorCode.ecFolderCycle, "into itself")
    _refused(store, info, lambda: store.create_folder(info.id, ipm, "TOP"),
             ErrorCode.ecDuplicateName, "already has a subfolder")
    _refused(store, info, lambda: store.move_folder(info.id, special[SpecialFolder.INBOX],
                                                    top.fid), ErrorCode.ecAccessDenied,
             "cannot be moved")
    _refused(store, info, lambda: store.delete_folder(info.id, special[SpecialFolder.INBOX],
                                                      messages=True, subfolders=True),
             ErrorCode.ecAccessDenied, "cannot be deleted")
    _refused(store, info, lambda: store.delete_folder(info.id, top.fid),
             ErrorCode.ecFolderHasChildren, "has subfolders")
    store.create_message(info.id, grandchild.fid, mail("x"))
    _refused(store, info, lambda: store.delete_folder(info.id, child.fid, subfolders=True),
             ErrorCode.ecFolderHasContents, "not empty")
    _refused(store, info, lambda: store.create_folder(info.id, ipm, ""),
             ErrorCode.ecInvalidParam, "non-empty name")
    _refused(store, info, lambda: store.create_folder(info.id, ipm, "x" * 300),
             ErrorCode.ecInvalidParam, "too long")
    _refused(store, info, lambda: store.get_folder(info.id, 12345), ErrorCode.ecNotFound,
             "not an object of this mailbox")
    assert store.create_folder(info.id, ipm, "top", open_existing=True).fid == top.fid
    assert store.get_folder(info.id, grandchild.fid).parent == child.fid
