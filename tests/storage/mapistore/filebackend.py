"""A minimal file backend for tests: one file per message, nothing but the base class's
naive defaults. It proves the conformance suite does not depend on the sql backend,
exercises the Python table implementation, external changes (rescan) and moves of a
folder between backends.

``testfile:///<root>`` keeps each folder in ``<root>/<folder key>/`` and each message
as ``<key>.msg`` (the packed message, :func:`storage.mapistore.propcodec.encode_message`);
the read state lives in a ``.seen`` suffix of the file name, as maildir's ``S`` flag.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from storage.blobs import BlobRef
from storage.mapistore import propcodec
from storage.mapistore.backend import Backend, BackendContext
from storage.mapistore.errors import ObjectNotFound
from storage.mapistore.model import (
    Capability,
    FolderRef,
    MessageContent,
    MessageRef,
    ScanEntry,
    WriteResult,
)


class FileBackend(Backend):
    name = "testfile"
    capabilities = frozenset({
        Capability.ARBITRARY_PROPERTIES, Capability.RECIPIENTS, Capability.ATTACHMENTS,
        Capability.ASSOCIATED, Capability.MESSAGES_WITHOUT_MIME, Capability.EXTERNAL_CHANGES,
    })

    def _dir(self, folder: FolderRef) -> Path:
        return Path(folder.uri.path) / (folder.key or str(folder.fid))

    def _path(self, folder: FolderRef, key: str) -> Path:
        d = self._dir(folder)
        for candidate in (d / f"{key}.msg", d / f"{key}.msg.seen"):
            if candidate.exists():
                return candidate
        raise ObjectNotFound(f"{key} is not in {d}")

    def create_folder(self, ctx: BackendContext, folder: FolderRef) -> str:
        key = str(folder.fid)
        (Path(folder.uri.path) / key).mkdir(parents=True, exist_ok=True)
        return key

    def delete_folder(self, ctx: BackendContext, folder: FolderRef) -> None:
        d = self._dir(folder)
        if d.is_dir():
            for f in d.iterdir():
                f.unlink()
            d.rmdir()

    def _write(self, folder: FolderRef, key: str, content: MessageContent,
               read: bool) -> WriteResult:
        d = self._dir(folder)
        final = d / (f"{key}.msg.seen" if read else f"{key}.msg")
        tmp = d / f".tmp-{key}"
        tmp.write_bytes(propcodec.encode_message(content))
        os.replace(tmp, final)
        for other in (d / f"{key}.msg", d / f"{key}.msg.seen"):
            if other != final and other.exists():
                other.unlink()
        st = final.stat()
        return WriteResult(key, f"{st.st_mtime_ns}:{st.st_size}")

    def create_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       content: MessageContent) -> WriteResult:
        return self._write(folder, uuid.uuid4().hex, content, msg.read)

    def read_message(self, ctx: BackendContext, folder: FolderRef,
                     msg: MessageRef) -> MessageContent:
        return propcodec.decode_message(self._path(folder, msg.key).read_bytes())

    def write_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                      content: MessageContent) -> WriteResult:
        return self._write(folder, msg.key, content, msg.read)

    def delete_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> None:
        with contextlib.suppress(ObjectNotFound, FileNotFoundError):
            self._path(folder, msg.key).unlink()

    def set_read_state(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       read: bool) -> WriteResult | None:
        content = self.read_message(ctx, folder, msg)
        return self._write(folder, msg.key, content, read)

    def open_mime(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> BinaryIO | None:
        ref = self.read_message(ctx, folder, msg).mime
        return None if ref is None else ctx.blobs.open(ref)

    def scan_folder(self, ctx: BackendContext, folder: FolderRef) -> Iterator[ScanEntry]:
        d = self._dir(folder)
        if not d.is_dir():
            return
        for f in sorted(d.iterdir()):
            if f.name.startswith("."):
                continue
            key, _, rest = f.name.partition(".msg")
            st = f.stat()
            yield ScanEntry(key, f"{st.st_mtime_ns}:{st.st_size}", read=rest == ".seen")

    def referenced_blobs(self, ctx: BackendContext, folder: FolderRef) -> Iterator[BlobRef]:
        d = self._dir(folder)
        if not d.is_dir():
            return
        for f in d.iterdir():
            if f.name.startswith("."):
                continue
            yield from propcodec.message_blob_refs(propcodec.decode_message(f.read_bytes()))
