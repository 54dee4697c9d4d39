"""What every blob store offers (see :mod:`storage.blobs`)."""

from __future__ import annotations

import abc
import hashlib
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NewType

from groupware.errors import InvalidInput

BlobRef = NewType("BlobRef", str)
"""SHA-256 of the blob's bytes as 64 lower-case hex digits."""

_REF = re.compile(r"[0-9a-f]{64}")


def blob_ref_of(data: bytes) -> BlobRef:
    """The reference ``data`` gets when stored (its SHA-256), without storing it."""
    return BlobRef(hashlib.sha256(data).hexdigest())


def is_blob_ref(value: object) -> bool:
    """True for a well-formed :data:`BlobRef` (never trust one read from outside)."""
    return isinstance(value, str) and _REF.fullmatch(value) is not None


def check_blob_ref(value: str) -> BlobRef:
    """``value`` as a :data:`BlobRef`; InvalidInput when it is not one."""
    if not is_blob_ref(value):
        raise InvalidInput(f"not a blob reference: {value[:80]!r}")
    return BlobRef(value)


class BlobStore(abc.ABC):
    """Content-addressed, write-once storage. All methods block: call them from the pool.

    Methods are safe to call from several threads and processes at once: two writers of
    the same bytes both succeed and leave one blob.
    """

    @abc.abstractmethod
    def put(self, data: bytes) -> BlobRef:
        """Store ``data`` durably and return its reference.

        When the blob already exists its modification time is refreshed so a
        concurrent :meth:`collect_garbage` does not take it while the caller is
        about to reference it again.
        """

    @abc.abstractmethod
    def put_stream(self, chunks: Iterable[bytes]) -> tuple[BlobRef, int]:
        """Store a stream of chunks without holding it in memory; (reference, size)."""

    @abc.abstractmethod
    def open(self, ref: BlobRef) -> BinaryIO:
        """A binary file object positioned at 0; NotFound when the blob is missing."""

    def get(self, ref: BlobRef) -> bytes:
        """The whole blob (use :meth:`open` for large ones)."""
        with self.open(ref) as fh:
            return fh.read()

    def read(self, ref: BlobRef, offset: int, size: int) -> bytes:
        """``size`` bytes from ``offset`` (fewer at the end), for stream reads."""
        with self.open(ref) as fh:
            fh.seek(offset)
            return fh.read(size)

    @abc.abstractmethod
    def size(self, ref: BlobRef) -> int:
        """Size in bytes; NotFound when missing."""

    @abc.abstractmethod
    def exists(self, ref: BlobRef) -> bool: ...

    @abc.abstractmethod
    def delete(self, ref: BlobRef) -> bool:
        """Remove a blob; False when it was not there."""

    @abc.abstractmethod
    def iter_refs(self) -> Iterator[tuple[BlobRef, float]]:
        """Every stored blob with its modification time (Unix seconds)."""

    def collect_garbage(self, referenced: Iterable[BlobRef], *, grace: float,
                        now: float) -> list[BlobRef]:
        """Delete blobs not in ``referenced`` that are older than ``grace`` seconds.

        The grace period protects blobs written by transactions that have not
        committed yet (they are written before the transaction that references them).
        Returns what was deleted.
        """
        keep = set(referenced)
        removed: list[BlobRef] = []
        for ref, mtime in self.iter_refs():
            if ref not in keep and now - mtime > grace and self.delete(ref):
                removed.append(ref)
        return removed
