"""The default blob store: one file per blob under ``<root>/ab/<sha256>``.

256 directories (named by the first byte of the hash) keep each small enough for any
file system (a million blobs is ~4,000 files per directory, fine for ext4/xfs hashed
directories) while a new directory is rare: each is created once, and its parent
fsynced then. A blob is written to a temporary file in its final directory, fsynced,
renamed into place and the directory fsynced, so a crash (kill -9 or power loss)
leaves either the whole blob or none of it, never a truncated one under a valid name.
Left-over temporary files (``.tmp-*``) are removed by :meth:`collect_garbage`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from groupware.errors import NotFound
from storage.blobs.interface import BlobRef, BlobStore, check_blob_ref, is_blob_ref

logger = logging.getLogger(__name__)

_TMP_PREFIX = ".tmp-"
_CHUNK = 1 << 20


class FilesystemBlobStore(BlobStore):
    """Blobs as files below ``root`` (created on first use)."""

    def __init__(self, root: Path | str, *, fsync: bool = True) -> None:
        self.root = Path(root)
        self._fsync = fsync
        self._made_dirs: set[Path] = set()

    def __repr__(self) -> str:
        return f"<FilesystemBlobStore {self.root}>"

    def path_of(self, ref: BlobRef) -> Path:
        ref = check_blob_ref(ref)
        return self.root / ref[:2] / ref

    def _dir_for(self, ref: BlobRef) -> Path:
        d = self.root / ref[:2]
        if d not in self._made_dirs:
            try:
                d.mkdir(parents=True)
            except FileExistsError:
                pass
            else:
                self._sync_dir(self.root)  # the new directory's own name is durable
            self._made_dirs.add(d)
        return d

    def put(self, data: bytes) -> BlobRef:
        ref = BlobRef(hashlib.sha256(data).hexdigest())
        if self._refresh(ref):
            return ref
        self._write(ref, [data])
        return ref

    def put_stream(self, chunks: Iterable[bytes]) -> tuple[BlobRef, int]:
        # The name is only known at the end: write to a temporary file in the root,
        # then rename into the blob's directory (same file system, still atomic).
        self.root.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.root)
        try:
            with os.fdopen(fd, "wb") as fh:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    fh.write(chunk)
                fh.flush()
                if self._fsync:
                    os.fsync(fh.fileno())
            ref = BlobRef(digest.hexdigest())
            if self._refresh(ref):
                os.unlink(tmp)
                return ref, size
            final_dir = self._dir_for(ref)
            os.replace(tmp, final_dir / ref)
            self._sync_dir(final_dir)
            return ref, size
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _refresh(self, ref: BlobRef) -> bool:
        """Touch an existing blob (see BlobStore.put); False when it does not exist."""
        try:
            os.utime(self.path_of(ref))
        except FileNotFoundError:
            return False
        return True

    def _write(self, ref: BlobRef, chunks: Iterable[bytes]) -> None:
        final_dir = self._dir_for(ref)
        # A name unique to this process and thread: O_EXCL never collides with another
        # writer of the same blob, and a crashed writer's file is found by its prefix.
        tmp = final_dir / f"{_TMP_PREFIX}{ref[:16]}-{os.getpid()}-{threading.get_ident()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
        try:
            try:
                for chunk in chunks:
                    view = memoryview(chunk)
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, final_dir / ref)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        self._sync_dir(final_dir)

    def _sync_dir(self, directory: Path) -> None:
        if not self._fsync:
            return
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def open(self, ref: BlobRef) -> BinaryIO:
        try:
            return self.path_of(ref).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {ref} is missing") from None

    def size(self, ref: BlobRef) -> int:
        try:
            return self.path_of(ref).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {ref} is missing") from None

    def exists(self, ref: BlobRef) -> bool:
        return self.path_of(ref).is_file()

    def delete(self, ref: BlobRef) -> bool:
        try:
            self.path_of(ref).unlink()
        except FileNotFoundError:
            return False
        return True

    def iter_refs(self) -> Iterator[tuple[BlobRef, float]]:
        if not self.root.is_dir():
            return
        for top in sorted(self.root.iterdir()):
            if not top.is_dir() or len(top.name) != 2:
                continue
            for entry in os.scandir(top):
                if is_blob_ref(entry.name):
                    yield BlobRef(entry.name), entry.stat().st_mtime

    def collect_garbage(self, referenced: Iterable[BlobRef], *, grace: float,
                        now: float) -> list[BlobRef]:
        removed = super().collect_garbage(referenced, grace=grace, now=now)
        self._remove_stale_temporaries(grace, now)
        return removed

    def _remove_stale_temporaries(self, grace: float, now: float) -> None:
        """Temporary files of writers that crashed (never of ones still running)."""
        if not self.root.is_dir():
            return
        for path in self.root.rglob(f"{_TMP_PREFIX}*"):
            try:
                if now - path.stat().st_mtime > grace:
                    path.unlink()
                    logger.info("removed stale temporary blob file %s", path)
            except FileNotFoundError:
                continue


def now() -> float:
    """Wall-clock seconds (blob mtimes are wall-clock)."""
    return time.time()
