"""Driving a file backend (maildir, vdir) directly, as the store does.

The store calls a backend inside an index transaction with a :class:`BackendContext`;
these helpers build one around a real blob store and a small index view that
remembers what the backend returned, so the tests exercise the backend's own
contract (and, later, the shared conformance suite runs it through the real store).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from groupware.mapi.ids import make_id
from groupware.types import ChangeNumber, FolderId, MessageId, PropTag, StoreId
from storage.blobs.filesystem import FilesystemBlobStore
from storage.mapistore import tags
from storage.mapistore.backend import Backend, BackendContext
from storage.mapistore.model import (
    BackendUri,
    FolderRef,
    IndexedMessage,
    MessageContent,
    MessageRef,
    ScanEntry,
    Value,
    WriteResult,
)

MAILBOX_GUID = "6f1e2d3c-0000-4000-8000-00000000beef"


@dataclass
class Indexed:
    folder: FolderId
    ref: MessageRef
    version: str


@dataclass
class SimpleIndex:
    """What the index would record: MIDs, UIDs, keys and versions per folder."""

    messages_by_mid: dict[MessageId, Indexed] = field(default_factory=dict)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(100))

    def new_id(self) -> int:
        return make_id(1, next(self._ids))

    def messages(self, folder: FolderRef, *, associated: bool,
                 soft_deleted: bool) -> Iterator[IndexedMessage]:
        if soft_deleted:
            return
        for ix in list(self.messages_by_mid.values()):
            if ix.folder == folder.fid and ix.ref.associated == associated:
                yield IndexedMessage(ix.ref, ChangeNumber(1), ChangeNumber(1), ChangeNumber(1),
                                     "IPM.Note", 0)

    def row(self, folder: FolderRef, message: IndexedMessage, props: Mapping[PropTag, Value],
            wanted: Any = None) -> dict[PropTag, Value]:
        row = dict(props)
        row[tags.MID] = message.ref.mid
        return row


class Driver:
    """One backend, one blob store, one mailbox: the calls the store would make."""

    def __init__(self, backend: Backend, tmp_path: Path) -> None:
        self.backend = backend
        self.blobs = FilesystemBlobStore(tmp_path / "blobs", fsync=False)
        self.index = SimpleIndex()
        self._engine = sa.create_engine("sqlite://")
        self._conn = self._engine.connect()
        self.ctx = BackendContext(conn=self._conn, store=StoreId(1), user_id=None,
                                  mailbox_guid=MAILBOX_GUID, username="alice",
                                  blobs=self.blobs, index=self.index)

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()

    def folder(self, uri: str, name: str, *, role: str | None = None,
               parent: FolderRef | None = None,
               container_class: str = "IPF.Note") -> FolderRef:
        ref = FolderRef(StoreId(1), FolderId(self.index.new_id()),
                        None if parent is None else parent.fid, name, container_class, role,
                        BackendUri.parse(uri), "")
        key = self.backend.create_folder(self.ctx, ref)
        return replace(ref, key=key)

    def create(self, folder: FolderRef, content: MessageContent, *, read: bool = False,
               associated: bool = False) -> MessageRef:
        mid = MessageId(self.index.new_id())
        ref = MessageRef(mid, "", uid=len(self.index.messages_by_mid) + 1,
                         associated=associated, read=read)
        result = self.backend.create_message(self.ctx, folder, ref, content)
        return self.record(folder, ref, result)

    def record(self, folder: FolderRef, ref: MessageRef, result: WriteResult) -> MessageRef:
        ref = replace(ref, key=result.key)
        self.index.messages_by_mid[ref.mid] = Indexed(folder.fid, ref, result.version)
        return ref

    def adopt(self, folder: FolderRef, entry: ScanEntry) -> MessageRef:
        """Index an object scan_folder found, as the store's rescan does."""
        ref = MessageRef(MessageId(self.index.new_id()), entry.key,
                         uid=len(self.index.messages_by_mid) + 1, read=bool(entry.read))
        self.index.messages_by_mid[ref.mid] = Indexed(folder.fid, ref, entry.version)
        return ref

    def forget(self, ref: MessageRef) -> None:
        self.index.messages_by_mid.pop(ref.mid, None)

    def new_ref(self, like: MessageRef) -> MessageRef:
        return MessageRef(MessageId(self.index.new_id()), "", like.uid + 1000,
                          like.associated, like.read)

    def mime(self, data: bytes) -> MessageContent:
        return MessageContent(props={tags.MESSAGE_CLASS: "IPM.Note"}, mime=self.blobs.put(data))

    def scan(self, folder: FolderRef) -> dict[str, ScanEntry]:
        entries = list(self.backend.scan_folder(self.ctx, folder))
        by_key = {e.key: e for e in entries}
        assert len(by_key) == len(entries), "scan_folder reported a key twice"
        return by_key

    def version(self, ref: MessageRef) -> str:
        return self.index.messages_by_mid[ref.mid].version
