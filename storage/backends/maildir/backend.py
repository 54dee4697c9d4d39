"""The ``maildir`` backend: mail folders as a Maildir++ tree other programs can use.

``maildir:///srv/mail/alice`` is a Maildir++ root: the folder with the ``inbox``
role is the root itself, every other folder a ``.Name`` directory (``.Parent.Child``
below a parent of the same root, ``.INBOX.Child`` below INBOX). Dovecot and mutt read
and change it directly; what they change is found by :meth:`scan_folder` and enters
the change log through the store's rescan.

Messages
    A message with a MIME original is a file in ``new/`` (unread, no flags) or
    ``cur/`` (``:2,<flags>``) holding the byte-exact original; its backend key is the
    file's base name (before ``:``), which never changes, and its version is
    ``<size>.<mtime_ns>:<flags but S>``, so a flag change or an edit by another
    program is a new version, while Dovecot moving a file from ``new/`` to ``cur/``
    is not and ``S`` is reported as the read state.
    Files are written to ``tmp/``, fsynced, their mtime set to the delivery time
    (Dovecot's INTERNALDATE), then renamed into place. The MAPI content that a file
    cannot hold (all properties, recipients, attachment table) is kept in a sidecar
    (:mod:`.sidecar`); a file without one (delivered by another program) gets its
    properties from the ``derive`` hook (:mod:`.headers`).

    Messages without a MIME original (created through MAPI) and FAI messages exist
    only as sidecars; their key is ``:<mid>`` (a colon never occurs in a maildir
    base name). When the store later supplies a MIME original they become files.

Flags
    ``S`` mirrors the index's read state; ``F``/``R``/``P``/``D`` mirror properties
    (:mod:`.flags`); ``T`` and keywords are preserved.

Options (``[mapistore.backend_options.maildir]``)
    ``fsync`` (default true) — fsync files and directories (tests turn it off);
    ``derive`` — ``"package.module:function"`` turning a foreign message's bytes into
    MAPI content (see :class:`~.headers.ContentDeriver`); default: headers only.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import importlib
import logging
import os
import shutil
import stat as stat_mod
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from groupware.mapi.values import filetime_to_datetime
from groupware.types import FolderId, PropTag
from storage.backends.maildir import flags as mflags
from storage.backends.maildir.fileio import (
    fsync_dir,
    read_chunks,
    remove_stale,
    unlink_quietly,
    write_temp,
)
from storage.backends.maildir.folders import FolderLocator, marker_text, subdirectories
from storage.backends.maildir.headers import ContentDeriver, derive_from_headers
from storage.backends.maildir.names import (
    HIDDEN_DIR,
    folder_key,
    is_hidden_key,
    is_message_name,
    join_name,
    new_base_name,
    split_name,
)
from storage.backends.maildir.sidecar import OWN_ONLY, WITH_FILE, Sidecar, Sidecars
from storage.blobs import BlobRef
from storage.mapistore import tags
from storage.mapistore.backend import Backend, BackendContext
from storage.mapistore.errors import BackendError, BackendNotAvailable, ObjectNotFound
from storage.mapistore.model import (
    BackendUri,
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

META = "groupware-meta"
"""Per-folder metadata directory; no leading dot, so Dovecot does not list it."""
MESSAGE_DIRS = ("new", "cur")
TMP_MAX_AGE = 36 * 3600
"""Maildir: files in tmp/ untouched for 36 hours are left-overs of crashed writers."""
DIRTY_WINDOW_NS = 2_000_000_000
"""A directory changed this recently may change again within the same mtime tick, so
a listing of it is not cached (Dovecot uses the same rule)."""
_LISTING_CACHE = 32


def own_key(mid: int) -> str:
    return f":{mid:016x}"


def is_own_key(key: str) -> bool:
    return key.startswith(":")


def _own_mid(key: str) -> int:
    try:
        return int(key[1:], 16)
    except ValueError:
        raise ObjectNotFound(f"bad maildir key {key!r}") from None


def _version(st: os.stat_result, flags: str | None) -> str:
    """Size, mtime and every flag but ``S``: the read state travels separately
    (ScanEntry.read), so marking a message read elsewhere is a read-state change,
    not a content change that makes sync clients download it again."""
    return f"{st.st_size}.{st.st_mtime_ns}:{(flags or '').replace('S', '')}"


def _maildir_candidates(root: Path) -> Iterator[tuple[str, Path]]:
    yield "", root
    yield from subdirectories(root, lambda n: n.startswith(".") and n not in (".", ".."))
    for name, path in subdirectories(root / HIDDEN_DIR, lambda n: not n.startswith(".")):
        yield f"{HIDDEN_DIR}/{name}", path


def load_deriver(spec: object) -> ContentDeriver | None:
    """The ``derive`` option: ``"package.module:function"``."""
    if spec is None or spec == "":
        return None
    if not isinstance(spec, str) or ":" not in spec:
        raise BackendNotAvailable("backend_options.maildir.derive",
                                  f"expected 'package.module:function', got {spec!r}")
    module_name, _, attr = spec.partition(":")
    try:
        fn = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise BackendNotAvailable("backend_options.maildir.derive", str(exc)) from None
    if not callable(fn):
        raise BackendNotAvailable("backend_options.maildir.derive", f"{spec} is not callable")
    return fn  # type: ignore[no-any-return]


@dataclass
class _Listing:
    stamp: tuple[int, int]
    trusted: bool
    files: dict[str, tuple[str, str]]  # base -> (subdir, file name)


class _Listings:
    """Base name -> file, per folder, valid while ``new/`` and ``cur/`` are unchanged.

    Lookups first try the names a message is expected to have (one ``stat`` each);
    this is the fallback after another program renamed files.
    """

    def __init__(self) -> None:
        self._cache: OrderedDict[Path, _Listing] = OrderedDict()
        self._lock = threading.Lock()

    def lookup(self, folder_dir: Path, base: str) -> tuple[str, str] | None:
        stamp = _dir_stamp(folder_dir)
        with self._lock:
            listing = self._cache.get(folder_dir)
            if listing is not None and listing.trusted and listing.stamp == stamp:
                self._cache.move_to_end(folder_dir)
                return listing.files.get(base)
        files = {base_: (sub, name) for base_, (sub, name, _) in list_messages(folder_dir).items()}
        trusted = time.time_ns() - max(stamp) > DIRTY_WINDOW_NS
        with self._lock:
            self._cache[folder_dir] = _Listing(stamp, trusted, files)
            self._cache.move_to_end(folder_dir)
            while len(self._cache) > _LISTING_CACHE:
                self._cache.popitem(last=False)
        return files.get(base)

    def forget(self, folder_dir: Path) -> None:
        with self._lock:
            self._cache.pop(folder_dir, None)


def _dir_stamp(folder_dir: Path) -> tuple[int, int]:
    try:
        return (os.stat(folder_dir / "new").st_mtime_ns, os.stat(folder_dir / "cur").st_mtime_ns)
    except FileNotFoundError:
        return (0, 0)


def list_messages(folder_dir: Path) -> dict[str, tuple[str, str, os.stat_result]]:
    """Every message file of a folder: base -> (subdir, name, stat).

    ``new/`` is listed before ``cur/``: a file another program moves from new to cur
    meanwhile is then seen twice (cur wins) rather than not at all.
    """
    found: dict[str, tuple[str, str, os.stat_result]] = {}
    for sub in MESSAGE_DIRS:
        try:
            entries = list(os.scandir(folder_dir / sub))
        except FileNotFoundError:
            continue
        for entry in entries:
            if not is_message_name(entry.name):
                continue
            try:
                st = entry.stat(follow_symlinks=True)
            except FileNotFoundError:
                continue  # renamed while we listed; the other directory has it
            if not _is_regular(st):
                continue
            base, _ = split_name(entry.name)
            found[base] = (sub, entry.name, st)
    return found


def _is_regular(st: os.stat_result) -> bool:
    return stat_mod.S_ISREG(st.st_mode)


@dataclass
class _Batch:
    """State shared by the lookups of one batch read."""

    files: dict[str, tuple[str, str]] | None = None


@dataclass
class _Current:
    """A message file as found now, with its (validated) sidecar."""

    sub: str
    name: str
    st: os.stat_result
    sidecar: Sidecar

    @property
    def base(self) -> str:
        return split_name(self.name)[0]

    @property
    def flags(self) -> str:
        return split_name(self.name)[1] or ""

    @property
    def rel(self) -> str:
        return f"{self.sub}/{self.name}"


class MaildirBackend(Backend):
    """Mail folders in a Maildir++ tree (see the module docstring)."""

    name = "maildir"
    capabilities = frozenset({
        Capability.ARBITRARY_PROPERTIES,
        Capability.RECIPIENTS,
        Capability.ATTACHMENTS,
        Capability.ASSOCIATED,
        Capability.MESSAGES_WITHOUT_MIME,
        Capability.EXTERNAL_CHANGES,
    })

    def __init__(self, options: Mapping[str, Any] | None = None, *,
                 derive: ContentDeriver | None = None) -> None:
        super().__init__(options)
        self._fsync = bool(self.options.get("fsync", True))
        self._derive: ContentDeriver = (derive or load_deriver(self.options.get("derive"))
                                        or derive_from_headers)
        self._sidecars = Sidecars(META, fsync=self._fsync)
        self._folders = FolderLocator(self._sidecars, _maildir_candidates, fsync=self._fsync)
        self._listings = _Listings()

    # --- set-up ------------------------------------------------------------------------

    def check_uri(self, uri: BackendUri) -> None:
        super().check_uri(uri)
        check_directory_uri(uri)

    # --- folders -----------------------------------------------------------------------

    @staticmethod
    def _root(folder: FolderRef) -> Path:
        return Path(folder.uri.path)

    @staticmethod
    def _dir_of(root: Path, key: str) -> Path:
        return root / key if key else root

    def _key(self, ctx: BackendContext, folder: FolderRef) -> str | None:
        root = self._root(folder)
        return self._folders.locate(root, functools.partial(self._dir_of, root), ctx.mailbox_guid,
                                    folder.fid, hints=(folder.key,))

    def _dir(self, ctx: BackendContext, folder: FolderRef) -> Path:
        key = self._key(ctx, folder)
        if key is None:
            raise ObjectNotFound(f"maildir folder {folder.name!r} ({folder.fid:x}) is "
                                 f"missing under {self._root(folder)}")
        return self._dir_of(self._root(folder), key)

    def _make_maildir(self, path: Path, *, subfolder: bool) -> None:
        try:
            for sub in ("cur", "new", "tmp"):
                (path / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if subfolder:
                (path / "maildirfolder").touch(mode=0o600, exist_ok=True)
        except OSError as exc:
            raise BackendError(f"cannot create maildir {path}: {exc}") from exc

    def _placement(self, ctx: BackendContext, root: Path, folder: FolderRef, *,
                   parent: FolderId | None, parent_hint: str, name: str) -> str:
        """The key a folder gets below ``parent``, made unique among other folders."""
        dir_of = functools.partial(self._dir_of, root)
        parent_key = None
        if parent is not None:
            parent_key = self._folders.locate(root, dir_of, ctx.mailbox_guid, parent,
                                              hints=(parent_hint,) if parent_hint else ())
        key = folder_key(parent_key, name, folder.role, folder.fid)
        n = 1
        # An existing directory without a marker (made by Dovecot or mutt before the
        # mailbox was provisioned) is adopted; one of another folder is not.
        while key and self._folders.read_marker(dir_of(key)) not in (
                None, marker_text(ctx.mailbox_guid, folder.fid)):
            n += 1
            key = folder_key(parent_key, f"{name} ({n})", folder.role, folder.fid)
        return key

    def create_folder(self, ctx: BackendContext, folder: FolderRef) -> str:
        root = self._root(folder)
        self._make_maildir(root, subfolder=False)
        dir_of = functools.partial(self._dir_of, root)
        existing = self._folders.locate(root, dir_of, ctx.mailbox_guid, folder.fid)
        if existing is not None:
            return existing  # a retry, or repair
        key = self._placement(ctx, root, folder, parent=folder.parent, parent_hint="",
                              name=folder.name)
        if key == "":
            marker = self._folders.read_marker(root)
            if marker is not None:
                raise BackendError(f"{root} already holds another mailbox's INBOX "
                                   f"({marker.strip()})")
        else:
            self._make_maildir(dir_of(key), subfolder=True)
        self._folders.write_marker(root, key, dir_of(key), ctx.mailbox_guid, folder.fid)
        if self._fsync:
            fsync_dir(root)
        logger.debug("maildir folder %r at %s", folder.name, dir_of(key))
        return key

    def delete_folder(self, ctx: BackendContext, folder: FolderRef) -> None:
        root = self._root(folder)
        key = self._key(ctx, folder)
        if key is None:
            return
        self._folders.forget(root, ctx.mailbox_guid, folder.fid)
        if key == "":
            # INBOX is the root, which holds every other folder: remove its messages and
            # our metadata, never the subfolders.
            for sub in ("new", "cur", "tmp"):
                shutil.rmtree(root / sub, ignore_errors=True)
            shutil.rmtree(self._sidecars.meta_dir(root), ignore_errors=True)
            self._listings.forget(root)
            return
        path = self._dir_of(root, key)
        self._listings.forget(path)
        shutil.rmtree(path, ignore_errors=True)
        if self._fsync:
            fsync_dir(root)

    def move_folder(self, ctx: BackendContext, folder: FolderRef, new_parent: FolderRef,
                    new_name: str) -> str:
        root = self._root(folder)
        dir_of = functools.partial(self._dir_of, root)
        key = self._key(ctx, folder)
        if key is None:
            raise ObjectNotFound(f"maildir folder {folder.name!r} is missing under {root}")
        if key == "":
            return key  # INBOX is the root and does not move
        same_root = new_parent.uri.scheme == self.name and new_parent.uri.path == folder.uri.path
        new_key = self._placement(ctx, root, folder, parent=new_parent.fid if same_root else None,
                                  parent_hint=new_parent.key, name=new_name)
        if new_key == key:
            return key
        if new_key.startswith(key + "."):
            raise BackendError(f"cannot move maildir folder {key} below itself")
        # Maildir++ children are siblings named after their parent: they move too.
        children = [] if is_hidden_key(key) else [
            k for k, _ in subdirectories(root, lambda n: n.startswith(key + "."))]
        try:
            dir_of(new_key).parent.mkdir(parents=True, exist_ok=True)
            os.rename(dir_of(key), dir_of(new_key))
            for child in children:
                os.rename(dir_of(child), dir_of(new_key + child[len(key):]))
        except OSError as exc:
            raise BackendError(f"cannot rename maildir folder {key} to {new_key}: {exc}") from exc
        if self._fsync:
            fsync_dir(root)
        self._listings.forget(dir_of(key))
        self._folders.write_marker(root, new_key, dir_of(new_key), ctx.mailbox_guid, folder.fid)
        return new_key

    # --- writing files -------------------------------------------------------------------

    def _write_file(self, folder_dir: Path, mid: int, chunks: Iterable[bytes], *,
                    flags: str, mtime: float | None, sidecar: Sidecar) -> WriteResult:
        """Deliver one message file the Maildir way and record it in its sidecar."""
        size = 0
        bare_lf = 0
        last = b""

        def counted() -> Iterator[bytes]:
            nonlocal size, bare_lf, last
            for chunk in chunks:
                if not chunk:
                    continue
                size += len(chunk)
                bare_lf += chunk.count(b"\n") - chunk.count(b"\r\n")
                if last == b"\r" and chunk[:1] == b"\n":
                    bare_lf -= 1
                last = chunk[-1:]
                yield chunk

        try:
            tmp = write_temp(folder_dir / "tmp", counted(), fsync=self._fsync, mtime=mtime)
        except OSError as exc:
            raise BackendError(f"cannot deliver into {folder_dir}: {exc}") from exc
        try:
            base = new_base_name(size, size + bare_lf, mid)
            sub = "cur" if flags else "new"
            name = join_name(base, flags if sub == "cur" else None)
            st = os.stat(tmp)
            sidecar.header.update({"base": base, "path": f"{sub}/{name}", "size": st.st_size,
                                   "mtime_ns": st.st_mtime_ns})
            self._sidecars.save(folder_dir, WITH_FILE, mid, sidecar)
            os.rename(tmp, folder_dir / sub / name)
        except BaseException:
            unlink_quietly(tmp)
            raise
        if self._fsync:
            fsync_dir(folder_dir / sub)
        return WriteResult(base, _version(st, flags))

    def _save_own(self, folder_dir: Path, mid: int, content: MessageContent) -> WriteResult:
        self._sidecars.save(folder_dir, OWN_ONLY, mid, Sidecar(content))
        return WriteResult(own_key(mid), "")

    def _load_own(self, folder_dir: Path, msg: MessageRef) -> Sidecar:
        sidecar = self._sidecars.load(folder_dir, OWN_ONLY, _own_mid(msg.key))
        if sidecar is None:
            raise ObjectNotFound(f"message {msg.mid:x} is gone from {folder_dir}")
        return sidecar

    def _new_message_file(self, ctx: BackendContext, folder_dir: Path, mid: int,
                          content: MessageContent, flags: str) -> WriteResult:
        assert content.mime is not None
        sidecar = Sidecar(_without_mime(content), {"sha": content.mime, "mime": True})
        try:
            fh = ctx.blobs.open(content.mime)
        except Exception as exc:
            raise BackendError(f"MIME blob {content.mime} unreadable: {exc}") from exc
        with fh:
            return self._write_file(folder_dir, mid, read_chunks(fh), flags=flags,
                                    mtime=_delivery_time(content.props), sidecar=sidecar)

    # --- finding files -------------------------------------------------------------------

    def _find(self, folder_dir: Path, base: str, guesses: Iterable[str],
              batch: _Batch | None = None) -> tuple[str, str] | None:
        for rel in guesses:
            if rel and os.path.lexists(folder_dir / rel):
                sub, _, name = rel.partition("/")
                if split_name(name)[0] == base:
                    return sub, name
        if batch is not None:
            # One listing serves every miss of a batch (a table read right after
            # another program renamed many files), trusted or not.
            if batch.files is None:
                batch.files = {b: (sub, name)
                               for b, (sub, name, _) in list_messages(folder_dir).items()}
            found = batch.files.get(base)
            if found is not None:
                return found
        return self._listings.lookup(folder_dir, base)

    def _current(self, ctx: BackendContext, folder_dir: Path, msg: MessageRef,
                 batch: _Batch | None = None) -> _Current:
        """The message's file and up-to-date sidecar (derived again when the file
        changed or has none; properties reconciled with the flags in its name)."""
        base = msg.key
        sidecar = self._sidecars.load(folder_dir, WITH_FILE, msg.mid)
        if sidecar is not None and sidecar.header.get("base") != base:
            sidecar = None
        guesses: list[str] = []
        if sidecar is not None:
            guesses.append(str(sidecar.header.get("path", "")))
            for read in (True, False):
                expected = mflags.flags_for(sidecar.content.props, read)
                guesses.append(f"cur/{join_name(base, expected)}")
        guesses.append(f"new/{base}")
        for attempt in range(2):
            found = self._find(folder_dir, base, guesses if attempt == 0 else (),
                               batch if attempt == 0 else None)
            if found is None:
                raise ObjectNotFound(f"message {base} is gone from {folder_dir}")
            sub, name = found
            try:
                st = os.stat(folder_dir / sub / name)
                break
            except FileNotFoundError:
                self._listings.forget(folder_dir)
        else:
            raise ObjectNotFound(f"message {base} keeps moving in {folder_dir}")
        dirty = False
        if sidecar is None or (st.st_size, st.st_mtime_ns) != (
                sidecar.header.get("size"), sidecar.header.get("mtime_ns")):
            data = (folder_dir / sub / name).read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            if sidecar is None or sidecar.header.get("sha") != sha:
                if sidecar is not None:
                    logger.info("maildir message %s changed outside the store", base)
                derived = self._derive(ctx, data, st.st_mtime)
                sidecar = Sidecar(_without_mime(derived), {"base": base, "sha": sha, "mime": True})
            sidecar.header.update({"size": st.st_size, "mtime_ns": st.st_mtime_ns})
            dirty = True
        current = _Current(sub, name, st, sidecar)
        if sidecar.header.get("path") != current.rel:
            sidecar.header["path"] = current.rel
            dirty = True
        if mflags.reconcile(sidecar.content.props, current.flags):
            dirty = True
        if dirty and msg.mid:  # MID 0: the store's rescan reading a file not yet indexed
            # everything refreshed here can be derived again from the file: no fsync
            self._sidecars.save(folder_dir, WITH_FILE, msg.mid, sidecar, durable=False)
        return current

    def _set_flags(self, folder_dir: Path, mid: int, current: _Current,
                   flags: str) -> WriteResult:
        """Save the sidecar, then rename the file to carry ``flags`` (in ``cur/``)."""
        name = join_name(current.base, flags)
        target = f"cur/{name}"
        sidecar = current.sidecar
        sidecar.header["path"] = target
        self._sidecars.save(folder_dir, WITH_FILE, mid, sidecar)
        if target != current.rel:
            try:
                os.rename(folder_dir / current.sub / current.name, folder_dir / "cur" / name)
            except FileNotFoundError:
                raise ObjectNotFound(f"message {current.base} vanished from {folder_dir}") from None
            if self._fsync:
                fsync_dir(folder_dir / "cur")
                if current.sub != "cur":
                    fsync_dir(folder_dir / current.sub)
        return WriteResult(current.base, _version(current.st, flags))

    # --- messages ------------------------------------------------------------------------

    def create_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       content: MessageContent) -> WriteResult:
        folder_dir = self._dir(ctx, folder)
        if msg.associated or content.mime is None:
            return self._save_own(folder_dir, msg.mid, content)
        previous = self._sidecars.load(folder_dir, WITH_FILE, msg.mid)
        if previous is not None and previous.header.get("sha") == content.mime:
            # A retried transaction: the file of the first attempt is reused.
            with contextlib.suppress(ObjectNotFound):
                current = self._current(ctx, folder_dir, MessageRef(
                    msg.mid, str(previous.header.get("base")), msg.uid, msg.associated, msg.read))
                current.sidecar.content = _without_mime(content)
                return self._set_flags(folder_dir, msg.mid, current,
                                       mflags.flags_for(content.props, msg.read, current.flags))
        return self._new_message_file(ctx, folder_dir, msg.mid, content,
                                      mflags.flags_for(content.props, msg.read))

    def read_message(self, ctx: BackendContext, folder: FolderRef,
                     msg: MessageRef) -> MessageContent:
        folder_dir = self._dir(ctx, folder)
        if is_own_key(msg.key):
            return self._load_own(folder_dir, msg).content
        current = self._current(ctx, folder_dir, msg)
        content = _copy(current.sidecar.content)
        if current.sidecar.header.get("mime", True):
            content.mime = self._ensure_blob(ctx, folder_dir / current.sub / current.name,
                                             str(current.sidecar.header.get("sha", "")))
        return content

    def _ensure_blob(self, ctx: BackendContext, path: Path, sha: str) -> BlobRef:
        """The file's bytes as a blob (callers of read_message expect a reference).
        The maildir file stays the original: the blob is a cache that blob garbage
        collection may take once unused (referenced_blobs does not list it)."""
        if sha and ctx.blobs.exists(BlobRef(sha)):
            return BlobRef(sha)
        with path.open("rb") as fh:
            ref, _ = ctx.blobs.put_stream(read_chunks(fh))
        return ref

    def write_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                      content: MessageContent) -> WriteResult:
        folder_dir = self._dir(ctx, folder)
        if is_own_key(msg.key):
            if not msg.associated and content.mime is not None:
                # The message got a MIME original: it becomes a file mutt can see.
                result = self._new_message_file(ctx, folder_dir, msg.mid, content,
                                                mflags.flags_for(content.props, msg.read))
                self._sidecars.delete(folder_dir, OWN_ONLY, _own_mid(msg.key))
                return result
            self._load_own(folder_dir, msg)
            return self._save_own(folder_dir, _own_mid(msg.key), content)
        current = self._current(ctx, folder_dir, msg)
        read = "S" in current.flags
        if content.mime is not None and content.mime != current.sidecar.header.get("sha"):
            # New original bytes: maildir files never change, a new file replaces it.
            result = self._new_message_file(ctx, folder_dir, msg.mid, content,
                                            mflags.flags_for(content.props, read, current.flags))
            unlink_quietly(folder_dir / current.sub / current.name)
            if self._fsync:
                fsync_dir(folder_dir / current.sub)
            return result
        current.sidecar.content = _without_mime(content)
        current.sidecar.header["mime"] = content.mime is not None
        return self._set_flags(folder_dir, msg.mid, current,
                               mflags.flags_for(content.props, read, current.flags))

    def set_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       props: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> WriteResult:
        folder_dir = self._dir(ctx, folder)
        if is_own_key(msg.key):
            sidecar = self._load_own(folder_dir, msg)
            _update(sidecar.content.props, props, delete)
            return self._save_own(folder_dir, _own_mid(msg.key), sidecar.content)
        current = self._current(ctx, folder_dir, msg)
        _update(current.sidecar.content.props, props, delete)
        return self._set_flags(folder_dir, msg.mid, current, mflags.flags_for(
            current.sidecar.content.props, "S" in current.flags, current.flags))

    def set_read_state(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                       read: bool) -> WriteResult | None:
        if is_own_key(msg.key):
            return None
        folder_dir = self._dir(ctx, folder)
        current = self._current(ctx, folder_dir, msg)
        flags = current.flags.replace("S", "")
        return self._set_flags(folder_dir, msg.mid, current,
                               "".join(sorted(flags + "S")) if read else flags)

    def delete_message(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> None:
        try:
            folder_dir = self._dir(ctx, folder)
        except ObjectNotFound:
            return
        if is_own_key(msg.key):
            self._sidecars.delete(folder_dir, OWN_ONLY, _own_mid(msg.key))
            return
        sidecar = self._sidecars.load(folder_dir, WITH_FILE, msg.mid)
        guesses = [str(sidecar.header.get("path", ""))] if sidecar is not None else []
        found = self._find(folder_dir, msg.key, [*guesses, f"new/{msg.key}"])
        if found is not None:
            sub, name = found
            if unlink_quietly(folder_dir / sub / name) and self._fsync:
                fsync_dir(folder_dir / sub)
        self._sidecars.delete(folder_dir, WITH_FILE, msg.mid)

    def move_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        src_dir = self._dir(ctx, source)
        dst_dir = self._dir(ctx, target)
        if is_own_key(msg.key):
            if not self._sidecars.move(src_dir, (OWN_ONLY, _own_mid(msg.key)), dst_dir,
                                       (OWN_ONLY, new.mid)):
                raise ObjectNotFound(f"message {msg.mid:x} is gone from {src_dir}")
            return WriteResult(own_key(new.mid), "")
        current = self._current(ctx, src_dir, msg)
        # Sidecar first: a crash then leaves a sidecar without a file (ignored), never a
        # file whose MAPI content is lost.
        self._sidecars.save(dst_dir, WITH_FILE, new.mid, current.sidecar)
        try:
            os.rename(src_dir / current.rel, dst_dir / current.rel)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise BackendError(f"cannot move {current.rel} to {dst_dir}: {exc}") from exc
            with (src_dir / current.rel).open("rb") as fh:
                tmp = write_temp(dst_dir / "tmp", read_chunks(fh), fsync=self._fsync,
                                 mtime=current.st.st_mtime)
            os.rename(tmp, dst_dir / current.rel)
            unlink_quietly(src_dir / current.rel)
        if self._fsync:
            fsync_dir(dst_dir / current.sub)
            fsync_dir(src_dir / current.sub)
        self._sidecars.delete(src_dir, WITH_FILE, msg.mid)
        st = os.stat(dst_dir / current.rel)
        return WriteResult(current.base, _version(st, current.flags))

    def copy_message(self, ctx: BackendContext, source: FolderRef, target: FolderRef,
                     msg: MessageRef, new: MessageRef) -> WriteResult:
        src_dir = self._dir(ctx, source)
        dst_dir = self._dir(ctx, target)
        if is_own_key(msg.key):
            return self._save_own(dst_dir, new.mid, self._load_own(src_dir, msg).content)
        current = self._current(ctx, src_dir, msg)
        sidecar = Sidecar(_copy(current.sidecar.content),
                          {k: current.sidecar.header.get(k) for k in ("sha", "mime")})
        with (src_dir / current.rel).open("rb") as fh:
            return self._write_file(dst_dir, new.mid, read_chunks(fh), flags=current.flags,
                                    mtime=current.st.st_mtime, sidecar=sidecar)

    def open_mime(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef) -> BinaryIO | None:
        folder_dir = self._dir(ctx, folder)
        if is_own_key(msg.key):
            ref = self._load_own(folder_dir, msg).content.mime
            return None if ref is None else ctx.blobs.open(ref)
        current = self._current(ctx, folder_dir, msg)
        if not current.sidecar.header.get("mime", True):
            return None
        try:
            return (folder_dir / current.rel).open("rb")
        except FileNotFoundError:
            raise ObjectNotFound(f"message {current.base} vanished from {folder_dir}") from None

    def read_properties(self, ctx: BackendContext, folder: FolderRef, msg: MessageRef,
                        wanted: Sequence[PropTag] | None = None) -> Props:
        return self._props(ctx, self._dir(ctx, folder), msg, wanted)

    def _props(self, ctx: BackendContext, folder_dir: Path, msg: MessageRef,
               wanted: Sequence[PropTag] | None, batch: _Batch | None = None) -> Props:
        if is_own_key(msg.key):
            props = self._load_own(folder_dir, msg).content.props
        else:
            props = self._current(ctx, folder_dir, msg, batch).sidecar.content.props
        if wanted is None:
            return props
        out: Props = {}
        for tag in wanted:
            base = PropTag(tag & ~0x2000)
            if base in props:
                out[base] = props[base]
        return out

    def read_properties_many(self, ctx: BackendContext, folder: FolderRef,
                             msgs: Sequence[MessageRef], wanted: Sequence[PropTag] | None,
                             ) -> Iterator[tuple[MessageRef, Props]]:
        folder_dir = self._dir(ctx, folder)
        batch = _Batch()
        for msg in msgs:
            try:
                yield msg, self._props(ctx, folder_dir, msg, wanted, batch)
            except ObjectNotFound:
                continue

    # --- synchronisation ---------------------------------------------------------------

    def scan_folder(self, ctx: BackendContext, folder: FolderRef) -> Iterator[ScanEntry]:
        folder_dir = self._dir(ctx, folder)
        remove_stale(folder_dir / "tmp", older_than=TMP_MAX_AGE, now=time.time())
        files = list_messages(folder_dir)
        # readdir() may miss a file that another program renames while we list (a
        # flag change): check the keys the index knows once more before calling
        # them deleted.
        missing = [key for key in _known_keys(ctx, folder) if key not in files]
        if missing:
            again = list_messages(folder_dir)
            for key in missing:
                if key in again:
                    files[key] = again[key]
        for base, (_, name, st) in files.items():
            flags = split_name(name)[1] or ""
            yield ScanEntry(base, _version(st, flags), "S" in flags)
        for mid in self._sidecars.own_only(folder_dir):
            yield ScanEntry(own_key(mid), "", None)

    def referenced_blobs(self, ctx: BackendContext, folder: FolderRef) -> Iterator[BlobRef]:
        try:
            folder_dir = self._dir(ctx, folder)
        except ObjectNotFound:
            return
        for _, _, sidecar in self._sidecars.all(folder_dir):
            yield from message_blob_refs(sidecar.content)


def check_directory_uri(uri: BackendUri) -> None:
    """A file backend's URI: an absolute path whose existing part we may write to."""
    path = uri.path
    if not path.startswith("/"):
        raise BackendNotAvailable("mapistore", f"{uri}: the path must be absolute "
                                               f"(e.g. {uri.scheme}:///srv/mail/{{user}})")
    fixed = Path(path.split("{", 1)[0])
    probe = fixed
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise BackendNotAvailable("mapistore", f"{uri}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BackendNotAvailable("mapistore", f"{uri}: {probe} is not writable")


def _known_keys(ctx: BackendContext, folder: FolderRef) -> set[str]:
    keys: set[str] = set()
    for associated in (False, True):
        for soft_deleted in (False, True):
            for m in ctx.index.messages(folder, associated=associated, soft_deleted=soft_deleted):
                if not is_own_key(m.ref.key):
                    keys.add(m.ref.key)
    return keys


def _without_mime(content: MessageContent) -> MessageContent:
    return MessageContent(dict(content.props), list(content.recipients),
                          list(content.attachments), None)


def _copy(content: MessageContent) -> MessageContent:
    return MessageContent(dict(content.props), [dict(r) for r in content.recipients],
                          list(content.attachments), content.mime)


def _update(props: Props, changes: Mapping[PropTag, Any], delete: Iterable[PropTag]) -> None:
    for tag in delete:
        props.pop(tag, None)
    props.update(changes)


def _delivery_time(props: Props) -> float | None:
    value = props.get(tags.MESSAGE_DELIVERY_TIME)
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return filetime_to_datetime(value).timestamp()
    except (ValueError, OverflowError):
        return None


__all__ = ["MaildirBackend", "check_directory_uri", "own_key"]
