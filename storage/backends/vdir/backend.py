"""The ``vdir`` backend: calendars, contacts, tasks and notes as vdir collections.

``vdir:///srv/pim/alice`` is a vdir storage directory (the layout vdirsyncer, khal
and khard use, https://vdirsyncer.pimutils.org/en/stable/vdir.html): every folder is
one collection directory below it, every item one file — ``<uid>.ics`` (a VCALENDAR
with one VEVENT, VTODO or VJOURNAL and its overrides) or ``<uid>.vcf`` (a VCARD).
Point khal at ``/srv/pim/alice/*`` (``type = discover``) and khard at a collection.

Folders
    The collection directory is named after the folder when it is created and keeps
    that name (vdirsyncer pairs collections by name): a rename updates the
    ``displayname`` file only. The folder tree stays in the index; on disk the
    collections are flat. A marker in ``.groupware/`` finds the directory again.
    Structural folders (root, IPM subtree, Finder ...) go to ``.groupware-folders/``.

Items
    An item's key is its file name and its version ``<size>.<mtime_ns>.<inode>``, so
    an edit by khal (which replaces the file) is a new version. The MAPI content
    lives in a sidecar (:mod:`storage.backends.maildir.sidecar`); the file carries
    the mapped properties (:mod:`.mapping`). A MAPI write patches the mapped lines
    of the existing file and leaves every other line alone; an outside edit is read
    back into the mapped properties and the rest of the content is kept.

    Messages of other classes (a mail in the calendar, FAI messages) are kept only
    as sidecars with the key ``:<mid>``.

Options (``[mapistore.backend_options.vdir]``): ``fsync`` (default true).
"""

from __future__ import annotations

import datetime as dt
import errno
import functools
import hashlib
import logging
import os
import re
import shutil
import stat as stat_mod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from groupware.types import PropTag
from storage.backends.maildir.backend import check_directory_uri
from storage.backends.maildir.fileio import fsync_dir, replace_file, unlink_quietly
from storage.backends.maildir.folders import FolderLocator, subdirectories
from storage.backends.maildir.names import VISIBLE_ROLES
from storage.backends.maildir.sidecar import OWN_ONLY, WITH_FILE, Sidecar, Sidecars
from storage.backends.vdir import mapping
from storage.backends.vdir.contentlines import ContentError, parse, serialize
from storage.backends.vdir.mapping import EXTENSIONS
from storage.blobs import BlobRef
from storage.mapistore import tags
from storage.mapistore.backend import Backend, BackendContext, resolve_blob_value
from storage.mapistore.errors import BackendError, ObjectNotFound
from storage.mapistore.model import (
    BackendUri,
    BlobValue,
    Capability,
    FolderRef,
    MessageContent,
    MessageRef,
    Props,
    ScanEntry,
    WriteResult,
)
from storage.mapistore.propcodec import message_blob_refs

logger = logging.getLogger(__name__)

META = ".groupware"
DISPLAYNAME = "displayname"
MAX_ITEM_SIZE = 16 << 20
"""Item files larger than this are not parsed (listed, with minimal properties)."""
_SAFE_UID = re.compile(r"[A-Za-z0-9@_+=-][A-Za-z0-9@._+=-]{0,127}")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f/\\:*?"<>|]')


def own_key(mid: int) -> str:
    return f":{mid:016x}"


def is_own_key(key: str) -> bool:
    return key.startswith(":")


def _own_mid(key: str) -> int:
    try:
        return int(key[1:], 16)
    except ValueError:
        raise ObjectNotFound(f"bad vdir key {key!r}") from None


def _version(st: os.stat_result) -> str:
    return f"{st.st_size}.{st.st_mtime_ns}.{st.st_ino}"


def _is_item_name(name: str) -> bool:
    return not name.startswith(".") and name.endswith(EXTENSIONS)


def collection_name(folder_name: str) -> str:
    """A directory name for a folder: the display name made safe for file systems
    and for khal's glob (no leading dot, no separators)."""
    name = _UNSAFE_NAME.sub("_", folder_name).strip().lstrip(".") or "folder"
    return name[:100]


def item_file_name(uid: str, ext: str) -> str:
    """vdirsyncer's rule: the UID when it is a safe file name, else its hash."""
    if _SAFE_UID.fullmatch(uid):
        return f"{uid}{ext}"
    return f"{hashlib.sha1(uid.encode(), usedforsecurity=False).hexdigest()}{ext}"


HIDDEN_DIR = ".groupware-folders"
"""Structural folders (the MAPI root, the IPM subtree, Finder ...) when every role is
on one vdir: a dot directory, so khal's ``path = <root>/*`` does not list them."""


def _collection_candidates(root: Path) -> Iterator[tuple[str, Path]]:
    yield from subdirectories(root, lambda n: not n.startswith("."))
    for name, path in subdirectories(root / HIDDEN_DIR, lambda n: not n.startswith(".")):
        yield f"{HIDDEN_DIR}/{name}", path


@dataclass
class _Item:
    """An item file as found now, with its (up-to-date) sidecar."""

    name: str
    st: os.stat_result
    sidecar: Sidecar


class VdirBackend(Backend):
    """PIM folders as vdir collections (see the module docstring)."""

    name = "vdir"
    capabilities = frozenset({
        Capability.ARBITRARY_PROPERTIES,
        Capability.RECIPIENTS,
        Capability.ATTACHMENTS,
        Capability.ASSOCIATED,
        Capability.MESSAGES_WITHOUT_MIME,
        Capability.EXTERNAL_CHANGES,
    })

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._fsync = bool(self.options.get("fsync", True))
        self._sidecars = Sidecars(META, fsync=self._fsync)
        self._folders = FolderLocator(self._sidecars, _collection_candidates, fsync=self._fsync)

    def check_uri(self, uri: BackendUri) -> None:
        super().check_uri(uri)
        check_directory_uri(uri)

    # --- folders -----------------------------------------------------------------------

    @staticmethod
    def _root(folder: FolderRef) -> Path:
        return Path(folder.uri.path)

    @staticmethod
    def _dir_of(root: Path, key: str) -> Path:
        return root / key

    def _key(self, ctx: BackendContext, folder: FolderRef) -> str | None:
        root = self._root(folder)
        hints = (folder.key,) if folder.key else ()
        return self._folders.locate(root, functools.partial(self._dir_of, root),
                                    ctx.mailbox_guid, folder.fid, hints=hints)

    def _dir(self, ctx: BackendContext, folder: FolderRef) -> Path:
        key = self._key(ctx, folder)
        if key is None:
            raise ObjectNotFound(f"vdir collection of {folder.name!r} ({folder.fid:x}) is "
                                 f"missing under {self._root(folder)}")
        return self._root(folder) / key

    def create_folder(self, ctx: BackendContext, folder: FolderRef) -> str:
        root = self._root(folder)
        existing = self._key(ctx, folder)
        if existing is not None:
            return existing
        if folder.role is not None and folder.role not in VISIBLE_ROLES:
            key = f"{HIDDEN_DIR}/{folder.role}-{folder.fid:016x}"
        else:
            base = collection_name(folder.name)
            key, n = base, 1
            while self._folders.read_marker(root / key) is not None:
                n += 1
                key = f"{base} ({n})"
        path = root / key
        try:
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            replace_file(path, DISPLAYNAME, folder.name.encode(), fsync=self._fsync)
        except OSError as exc:
            raise BackendError(f"cannot create vdir collection {path}: {exc}") from exc
        self._folders.write_marker(root, key, path, ctx.mailbox_guid, folder.fid)
        if self._fsync:
            fsync_dir(root)
        return key

    def move_folder(self, ctx: BackendContext, folder: FolderRef, new_parent: FolderRef,
                    new_name: str) -> str:
        path = self._dir(ctx, folder)
        if new_name != folder.name:
            replace_file(path, DISPLAYNAME, new_name.encode(), fsync=self._fsync)
        return path.name

    def delete_folder(self, ctx: BackendContext, folder: FolderRef) -> None:
        key = self._key(ctx, folder)
        if key is None:
            return
        self._folders.forget(self._root(folder), ctx.mailbox_guid, folder.fid)
        shutil.rmtree(self._root(folder) / key, ignore_errors=True)
        if self._fsync:
            fsync_dir(self._root(folder))

    # --- items -------------------------------------------------------------------------

    def _resolver(self, ctx: BackendContext) -> mapping.Resolve:
        def resolve(tag: PropTag, value: object) -> str | bytes | None:
            if isinstance(value, BlobValue):
                return resolve_blob_value(ctx.blobs, tag, value)
            if isinstance(value, str | bytes):
                return value
            return None
        return resolve

    def _write_item(self, coll: Path, mid: int, name: str, text: str, sidecar: Sidecar,
                    ) -> WriteResult:
        data = text.encode("utf-8")
        sidecar.header.update({"name": name, "sha": hashlib.sha256(data).hexdigest()})
        try:
            # The sidecar first: a crash in between leaves a file whose sidecar
            # describes other bytes, which the next read notices and merges.
            self._sidecars.save(coll, WITH_FILE, mid, sidecar)
            st = replace_file(coll, name, data, fsync=self._fsync, tmp_prefix=".tmp-")
        except OSError as exc:
            raise BackendError(f"cannot write {coll / name}: {exc}") from exc
        sidecar.header.update({"size": st.st_size, "mtime_ns": st.st_mtime_ns,
                               "ino": st.st_ino})
        self._sidecars.save(coll, WITH_FILE, mid, sidecar)
        return WriteResult(name, _version(st))

    def _free_name(self, coll: Path, uid: str, ext: str, mid: int) -> str:
        """The item's file name, made unique against files of other items."""
        name = item_file_name(uid, ext)
        stem = name[:-len(ext)]
        n = 1
        while os.path.lexists(coll / name):
            try:
                top = parse((coll / name).read_text("utf-8"))
                kind = mapping.CARD if ext == ".vcf" else mapping.kind_for_file(name, top, "")
                if mapping.uid_of(top, kind) == uid:
                    return name  # our own file from an attempt that was rolled back
            except (OSError, UnicodeDecodeError, ContentError):
                pass
            n += 1
            name = f"{stem}-{n}{ext}"
        return name

    def _save_own(self, coll: Path, mid: int, content: MessageContent) -> WriteResult:
        self._sidecars.save(coll, OWN_ONLY, mid, Sidecar(content))
        return WriteResult(own_key(mid), "")

    def _load_own(self, coll: Path, key: str) -> Sidecar:
        sidecar = self._sidecars.load(coll, OWN_ONLY, _own_mid(key))
        if sidecar is None:
            raise ObjectNotFound(f"item {key} is gone from {coll}")
        return sidecar

    def create_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       content: MessageContent) -> WriteResult:
        coll = self._dir(ctx, folder)
        kind = mapping.kind_for_class(content.props.get(tags.MESSAGE_CLASS))
        if msg.associated or kind is None:
            return self._save_own(coll, msg.mid, content)
        uid = mapping.item_uid(ctx.mailbox_guid, msg.mid)
        top = mapping.new_item(kind, uid, content.props, self._resolver(ctx),
                               dt.datetime.now(dt.UTC))
        name = self._free_name(coll, uid, kind.ext, msg.mid)
        sidecar = Sidecar(content, {"uid": uid, "kind": kind.component})
        return self._write_item(coll, msg.mid, name, serialize(top), sidecar)

    def _current(self, ctx: BackendContext, folder: FolderRef, coll: Path,
                 msg: MessageRef) -> _Item:
        """The item file and its sidecar, with the mapped properties read again from
        the file when another program changed it."""
        path = coll / msg.key
        try:
            st = path.stat()
        except FileNotFoundError:
            raise ObjectNotFound(f"item {msg.key} is gone from {coll}") from None
        sidecar = self._sidecars.load(coll, WITH_FILE, msg.mid)
        if sidecar is not None and sidecar.header.get("name") != msg.key:
            sidecar = None
        if sidecar is not None and (st.st_size, st.st_mtime_ns, st.st_ino) == (
                sidecar.header.get("size"), sidecar.header.get("mtime_ns"),
                sidecar.header.get("ino")):
            return _Item(msg.key, st, sidecar)
        data = path.read_bytes() if st.st_size <= MAX_ITEM_SIZE else b""
        sha = hashlib.sha256(data).hexdigest()
        if sidecar is None or sidecar.header.get("sha") != sha:
            sidecar = self._merge(folder, msg.key, data, sidecar)
            sidecar.header["sha"] = sha
        sidecar.header.update({"name": msg.key, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                               "ino": st.st_ino})
        if msg.mid:  # MID 0: the store's rescan reading a file not yet indexed
            # derived again from the file and the old sidecar after a crash: no fsync
            self._sidecars.save(coll, WITH_FILE, msg.mid, sidecar, durable=False)
        return _Item(msg.key, st, sidecar)

    def _merge(self, folder: FolderRef, name: str, data: bytes,
               sidecar: Sidecar | None) -> Sidecar:
        """Content for a file changed (or created) by another program: its mapped
        properties from the file, everything else from the sidecar we had."""
        try:
            top = parse(data.decode("utf-8"))
        except (UnicodeDecodeError, ContentError) as exc:
            logger.warning("vdir item %s is not valid iCalendar/vCard (%s); listed with "
                           "minimal properties", name, exc)
            top = None
        if top is None:
            kind = mapping.kind_for_folder(name, folder.container_class)
            found: Props = {tags.SUBJECT: name}
            uid = None
        else:
            kind = mapping.kind_for_file(name, top, folder.container_class)
            found = mapping.props_from_item(top, kind)
            uid = mapping.uid_of(top, kind)
        if sidecar is None:
            content = MessageContent(props={tags.MESSAGE_CLASS: kind.message_class})
            sidecar = Sidecar(content, {})
            if top is not None:
                logger.info("vdir item %s added outside the store", name)
        else:
            logger.info("vdir item %s changed outside the store", name)
        props = sidecar.content.props
        for tag in mapping.mapped_tags(kind):
            props.pop(tag, None)
        props.update(found)
        sidecar.header.update({"uid": uid, "kind": kind.component})
        return sidecar

    def read_message(self, ctx: BackendContext, folder: FolderRef,
                     msg: MessageRef) -> MessageContent:
        coll = self._dir(ctx, folder)
        if is_own_key(msg.key):
            return self._load_own(coll, msg.key).content
        return self._current(ctx, folder, coll, msg).sidecar.content

    def read_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                        wanted: Sequence[PropTag] | None = None) -> Props:
        return _select(self.read_message(ctx, folder, msg).props, wanted)

    def read_properties_many(self, ctx: BackendContext, folder: FolderRef,
                             msgs: Sequence[MessageRef], wanted: Sequence[PropTag] | None,
                             ) -> Iterator[tuple[MessageRef, Props]]:
        coll = self._dir(ctx, folder)
        for msg in msgs:
            try:
                if is_own_key(msg.key):
                    props = self._load_own(coll, msg.key).content.props
                else:
                    props = self._current(ctx, folder, coll, msg).sidecar.content.props
            except ObjectNotFound:
                continue
            yield msg, _select(props, wanted)

    def write_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                      content: MessageContent) -> WriteResult:
        coll = self._dir(ctx, folder)
        if is_own_key(msg.key):
            self._load_own(coll, msg.key)
            return self._save_own(coll, _own_mid(msg.key), content)
        item = self._current(ctx, folder, coll, msg)
        return self._rewrite(ctx, coll, msg.mid, item, content)

    def _rewrite(self, ctx: BackendContext, coll: Path, mid: int, item: _Item,
                 content: MessageContent) -> WriteResult:
        """Patch the mapped lines of the item's file; unmapped lines stay as they are."""
        sidecar = item.sidecar
        sidecar.content = content
        try:
            top = parse((coll / item.name).read_text("utf-8"))
            kind = mapping.kind_for_file(item.name, top, "")
        except (UnicodeDecodeError, ContentError, OSError):
            kind = mapping.kind_for_class(content.props.get(tags.MESSAGE_CLASS)) or mapping.EVENT
            uid = str(sidecar.header.get("uid") or mapping.item_uid(ctx.mailbox_guid, mid))
            top = mapping.new_item(kind, uid, content.props, self._resolver(ctx),
                                   dt.datetime.now(dt.UTC))
            return self._write_item(coll, mid, item.name, serialize(top), sidecar)
        if not mapping.patch_item(top, kind, content.props, self._resolver(ctx)):
            self._sidecars.save(coll, WITH_FILE, mid, sidecar)
            return WriteResult(item.name, _version(item.st))
        return self._write_item(coll, mid, item.name, serialize(top), sidecar)

    def set_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       props: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> WriteResult:
        coll = self._dir(ctx, folder)
        if is_own_key(msg.key):
            sidecar = self._load_own(coll, msg.key)
            _update(sidecar.content.props, props, delete)
            return self._save_own(coll, _own_mid(msg.key), sidecar.content)
        item = self._current(ctx, folder, coll, msg)
        content = item.sidecar.content
        _update(content.props, props, delete)
        return self._rewrite(ctx, coll, msg.mid, item, content)

    def delete_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> None:
        try:
            coll = self._dir(ctx, folder)
        except ObjectNotFound:
            return
        if is_own_key(msg.key):
            self._sidecars.delete(coll, OWN_ONLY, _own_mid(msg.key))
            return
        if unlink_quietly(coll / msg.key) and self._fsync:
            fsync_dir(coll)
        self._sidecars.delete(coll, WITH_FILE, msg.mid)

    def move_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        src = self._dir(ctx, source)
        dst = self._dir(ctx, target)
        if is_own_key(msg.key):
            if not self._sidecars.move(src, (OWN_ONLY, _own_mid(msg.key)), dst,
                                       (OWN_ONLY, new.mid)):
                raise ObjectNotFound(f"item {msg.key} is gone from {src}")
            return WriteResult(own_key(new.mid), "")
        item = self._current(ctx, source, src, msg)
        # the same event in another calendar keeps its UID and file name
        uid = str(item.sidecar.header.get("uid") or "")
        ext = os.path.splitext(item.name)[1]
        name = item.name if not os.path.lexists(dst / item.name) else \
            self._free_name(dst, uid or item.name, ext, new.mid)
        self._sidecars.save(dst, WITH_FILE, new.mid, item.sidecar)
        try:
            os.rename(src / item.name, dst / name)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise BackendError(f"cannot move {src / item.name}: {exc}") from exc
            replace_file(dst, name, (src / item.name).read_bytes(), fsync=self._fsync)
            unlink_quietly(src / item.name)
        if self._fsync:
            fsync_dir(dst)
            fsync_dir(src)
        self._sidecars.delete(src, WITH_FILE, msg.mid)
        st = (dst / name).stat()
        item.sidecar.header.update({"name": name, "size": st.st_size,
                                    "mtime_ns": st.st_mtime_ns, "ino": st.st_ino})
        self._sidecars.save(dst, WITH_FILE, new.mid, item.sidecar)
        return WriteResult(name, _version(st))

    def copy_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        src = self._dir(ctx, source)
        dst = self._dir(ctx, target)
        if is_own_key(msg.key):
            return self._save_own(dst, new.mid, self._load_own(src, msg.key).content)
        item = self._current(ctx, source, src, msg)
        content = item.sidecar.content
        uid = mapping.item_uid(ctx.mailbox_guid, new.mid)
        ext = os.path.splitext(item.name)[1]
        try:
            top = parse((src / item.name).read_text("utf-8"))
            kind = mapping.kind_for_file(item.name, top, source.container_class)
            main = mapping.main_component(top, kind)
            comps = [top] if kind.is_card else top.components(kind.component)
            for comp in comps:  # a copy is another item: new UID, overrides included
                comp.set("UID", uid)
            if main is None:
                raise ContentError("no main component")
        except (UnicodeDecodeError, ContentError, OSError):
            kind = mapping.kind_for_class(content.props.get(tags.MESSAGE_CLASS)) or mapping.EVENT
            top = mapping.new_item(kind, uid, content.props, self._resolver(ctx),
                                   dt.datetime.now(dt.UTC))
        name = self._free_name(dst, uid, ext, new.mid)
        sidecar = Sidecar(MessageContent(dict(content.props), list(content.recipients),
                                         list(content.attachments), content.mime),
                          {"uid": uid, "kind": kind.component})
        return self._write_item(dst, new.mid, name, serialize(top), sidecar)

    # --- synchronisation ---------------------------------------------------------------

    def scan_folder(self, ctx: BackendContext, folder: FolderRef) -> Iterator[ScanEntry]:
        coll = self._dir(ctx, folder)
        found = _list_items(coll)
        missing = [k for k in _known_keys(ctx, folder) if k not in found]
        if missing:  # readdir may miss a file replaced while we list: look again
            again = _list_items(coll)
            found.update({k: again[k] for k in missing if k in again})
        for name, st in found.items():
            yield ScanEntry(name, _version(st), None)
        for mid in self._sidecars.own_only(coll):
            yield ScanEntry(own_key(mid), "", None)

    def referenced_blobs(self, ctx: BackendContext, folder: FolderRef) -> Iterator[BlobRef]:
        try:
            coll = self._dir(ctx, folder)
        except ObjectNotFound:
            return
        for _, _, sidecar in self._sidecars.all(coll):
            yield from message_blob_refs(sidecar.content)


def _list_items(coll: Path) -> dict[str, os.stat_result]:
    found: dict[str, os.stat_result] = {}
    try:
        entries = list(os.scandir(coll))
    except FileNotFoundError:
        return found
    for entry in entries:
        if not _is_item_name(entry.name):
            continue
        try:
            st = entry.stat()
        except FileNotFoundError:
            continue
        if stat_mod.S_ISREG(st.st_mode):
            found[entry.name] = st
    return found


def _known_keys(ctx: BackendContext, folder: FolderRef) -> set[str]:
    keys: set[str] = set()
    for associated in (False, True):
        for soft_deleted in (False, True):
            for m in ctx.index.messages(folder, associated=associated, soft_deleted=soft_deleted):
                if not is_own_key(m.ref.key):
                    keys.add(m.ref.key)
    return keys


def _select(props: Props, wanted: Sequence[PropTag] | None) -> Props:
    if wanted is None:
        return props
    out: Props = {}
    for tag in wanted:
        base = PropTag(tag & ~0x2000)
        if base in props:
            out[base] = props[base]
    return out


def _update(props: Props, changes: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> None:
    for tag in delete:
        props.pop(tag, None)
    props.update(changes)
