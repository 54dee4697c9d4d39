"""Per-message side files: the MAPI content a plain file cannot hold.

A maildir file holds the RFC 5322 original and an ``.ics``/``.vcf`` file the item as
other programs see it; neither can hold what Outlook stores next to it (named
properties, recipients of a draft, the attachment table, FAI messages). That content
lives in a *sidecar* per message, in a metadata directory inside the folder that the
other programs ignore (``groupware-meta/`` in a maildir, ``.groupware/`` in a vdir
collection).

Sidecars are named after the message id, not the file: the file's name changes
(maildir flags) or is chosen by others (vdir), the MID does not. ``m-<mid>`` belongs
to a message that has a file; ``o-<mid>`` is a message that exists only here
(messages without a MIME original, FAI messages). Each sidecar records which file it
describes and that file's size/mtime/hash when it was last read, so an edit made by
another program is noticed and the content derived again.

Format: ``GWSC`` | version (u8) | header length (u32) | header (JSON) | the message
in :mod:`storage.mapistore.propcodec` form. Written atomically (temporary file,
fsync, rename); a sidecar that cannot be decoded is treated as missing.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage.backends.maildir.fileio import fsync_dir, replace_file, unlink_quietly
from storage.mapistore.model import MessageContent
from storage.mapistore.propcodec import decode_message, encode_message

logger = logging.getLogger(__name__)

MAGIC = b"GWSC"
FORMAT = 1
_HEAD = struct.Struct("<4sBI")

WITH_FILE = "m"
"""Sidecar of a message that has a file (maildir message, vdir item)."""
OWN_ONLY = "o"
"""Sidecar that is the whole message (no file: MAPI-only or FAI)."""

FOLDER_MARKER = "folder"
"""File in the metadata directory naming the folder (mailbox GUID and FID)."""


@dataclass
class Sidecar:
    """What is stored for one message besides its file.

    ``header`` describes the file the content was taken from (``path`` relative to
    the folder directory, ``size``, ``mtime_ns``, ``sha`` ...); backends define the
    keys they need.
    """

    content: MessageContent
    header: dict[str, Any] = field(default_factory=dict)


def encode_sidecar(sidecar: Sidecar) -> bytes:
    head = json.dumps(sidecar.header, separators=(",", ":"), sort_keys=True).encode()
    return _HEAD.pack(MAGIC, FORMAT, len(head)) + head + encode_message(sidecar.content)


def decode_sidecar(data: bytes) -> Sidecar:
    """Raises ValueError for anything that is not a sidecar of a known format."""
    if len(data) < _HEAD.size:
        raise ValueError("sidecar too short")
    magic, version, head_len = _HEAD.unpack_from(data)
    if magic != MAGIC or version != FORMAT:
        raise ValueError(f"not a sidecar of format {FORMAT}")
    start = _HEAD.size
    header = json.loads(data[start:start + head_len])
    if not isinstance(header, dict):
        raise ValueError("sidecar header is not an object")
    return Sidecar(decode_message(data[start + head_len:]), header)


class Sidecars:
    """The sidecars of the folders of one backend (``meta`` names the directory)."""

    def __init__(self, meta: str, *, fsync: bool) -> None:
        self.meta = meta
        self._fsync = fsync

    def meta_dir(self, folder_dir: Path) -> Path:
        return folder_dir / self.meta

    def ensure_dir(self, folder_dir: Path) -> Path:
        d = self.meta_dir(folder_dir)
        d.mkdir(mode=0o700, exist_ok=True)
        return d

    @staticmethod
    def file_name(kind: str, mid: int) -> str:
        return f"{kind}-{mid:016x}"

    def path(self, folder_dir: Path, kind: str, mid: int) -> Path:
        return self.meta_dir(folder_dir) / self.file_name(kind, mid)

    def load(self, folder_dir: Path, kind: str, mid: int) -> Sidecar | None:
        path = self.path(folder_dir, kind, mid)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return decode_sidecar(data)
        except Exception:
            logger.warning("ignoring undecodable sidecar %s", path, exc_info=True)
            return None

    def save(self, folder_dir: Path, kind: str, mid: int, sidecar: Sidecar, *,
             durable: bool = True) -> None:
        """Write a sidecar atomically; ``durable=False`` skips the fsyncs for content
        that can be derived again (a cache refresh on the read path)."""
        d = self.ensure_dir(folder_dir)
        replace_file(d, self.file_name(kind, mid), encode_sidecar(sidecar),
                     fsync=self._fsync and durable)

    def delete(self, folder_dir: Path, kind: str, mid: int) -> bool:
        removed = unlink_quietly(self.path(folder_dir, kind, mid))
        if removed and self._fsync:
            fsync_dir(self.meta_dir(folder_dir))
        return removed

    def move(self, source_dir: Path, source: tuple[str, int], target_dir: Path,
             target: tuple[str, int]) -> bool:
        """Rename a sidecar ((kind, mid) to (kind, mid)) into another folder, or copy
        it there when the folders are on different file systems."""
        src = self.path(source_dir, *source)
        dst_dir = self.ensure_dir(target_dir)
        dst = dst_dir / self.file_name(*target)
        try:
            os.replace(src, dst)
        except FileNotFoundError:
            return False
        except OSError:  # another file system: copy, then drop the source
            replace_file(dst_dir, dst.name, src.read_bytes(), fsync=self._fsync)
            unlink_quietly(src)
        if self._fsync:
            fsync_dir(dst_dir)
        return True

    def own_only(self, folder_dir: Path) -> Iterator[int]:
        """MIDs of the folder's sidecar-only messages."""
        prefix = OWN_ONLY + "-"
        try:
            entries = list(os.scandir(self.meta_dir(folder_dir)))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(prefix):
                try:
                    yield int(entry.name[len(prefix):], 16)
                except ValueError:
                    continue

    def all(self, folder_dir: Path) -> Iterator[tuple[str, int, Sidecar]]:
        """Every readable sidecar of a folder as (kind, mid, sidecar)."""
        try:
            entries = list(os.scandir(self.meta_dir(folder_dir)))
        except FileNotFoundError:
            return
        for entry in entries:
            kind, sep, hexmid = entry.name.partition("-")
            if not sep or kind not in (WITH_FILE, OWN_ONLY):
                continue
            try:
                mid = int(hexmid, 16)
            except ValueError:
                continue
            sidecar = self.load(folder_dir, kind, mid)
            if sidecar is not None:
                yield kind, mid, sidecar
