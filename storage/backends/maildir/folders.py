"""Finding a folder's directory again: a marker file written when it was created.

The index records the key a backend returned for a folder, but a directory can be
renamed behind our back (Dovecot's RENAME, ``mv`` by an admin) and Maildir++
children are renamed with their parent. Each folder directory therefore carries a
marker (``<meta>/folder``: mailbox GUID and FID); the key in the index is tried
first, and only when its marker does not match are the root's directories searched.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from storage.backends.maildir.fileio import replace_file
from storage.backends.maildir.sidecar import FOLDER_MARKER, Sidecars

logger = logging.getLogger(__name__)

Candidates = Callable[[Path], Iterator[tuple[str, Path]]]
"""The (key, directory) pairs under a root that may be folders of this backend."""


def marker_text(mailbox_guid: str, fid: int) -> str:
    return f"{mailbox_guid} {fid:016x}\n"


class FolderLocator:
    """Folder key by (root, mailbox, FID), verified against the marker on each use."""

    def __init__(self, sidecars: Sidecars, candidates: Candidates, *, fsync: bool) -> None:
        self._sidecars = sidecars
        self._candidates = candidates
        self._fsync = fsync
        self._cache: dict[tuple[str, str, int], str] = {}
        self._lock = threading.Lock()

    def read_marker(self, folder_dir: Path) -> str | None:
        try:
            text: str = (self._sidecars.meta_dir(folder_dir) / FOLDER_MARKER).read_text()
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None
        return text

    def write_marker(self, root: Path, key: str, folder_dir: Path, mailbox_guid: str,
                     fid: int) -> None:
        meta = self._sidecars.ensure_dir(folder_dir)
        replace_file(meta, FOLDER_MARKER, marker_text(mailbox_guid, fid).encode(),
                     fsync=self._fsync)
        with self._lock:
            self._cache[(str(root), mailbox_guid, fid)] = key

    def forget(self, root: Path, mailbox_guid: str, fid: int) -> None:
        with self._lock:
            self._cache.pop((str(root), mailbox_guid, fid), None)

    def locate(self, root: Path, dir_of: Callable[[str], Path], mailbox_guid: str, fid: int,
               hints: tuple[str, ...] = ()) -> str | None:
        """The key of the folder's directory, or None when no directory has its marker."""
        want = marker_text(mailbox_guid, fid)
        with self._lock:
            cached = self._cache.get((str(root), mailbox_guid, fid))
        tried: list[str] = [] if cached is None else [cached]
        for key in [*tried, *hints]:
            if self.read_marker(dir_of(key)) == want:
                self._remember(root, mailbox_guid, fid, key)
                return key
        for key, path in self._candidates(root):
            if self.read_marker(path) == want:
                logger.info("folder %x found at %s (moved outside the store)", fid, path)
                self._remember(root, mailbox_guid, fid, key)
                return key
        return None

    def _remember(self, root: Path, mailbox_guid: str, fid: int, key: str) -> None:
        with self._lock:
            self._cache[(str(root), mailbox_guid, fid)] = key


def subdirectories(root: Path, accept: Callable[[str], bool]) -> Iterator[tuple[str, Path]]:
    """Directories directly under ``root`` whose names ``accept`` likes."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except FileNotFoundError:
        return
    for entry in entries:
        if accept(entry.name) and entry.is_dir(follow_symlinks=False):
            yield entry.name, Path(entry.path)
