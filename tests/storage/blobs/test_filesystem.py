"""The filesystem blob store: content addressing, atomic writes, garbage collection."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from groupware.errors import InvalidInput, NotFound
from storage.blobs import BlobRef, FilesystemBlobStore


def test_content_addressed_round_trip(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    data = b"From: a\r\n\r\nbody\r\n"
    ref = store.put(data)
    assert ref == hashlib.sha256(data).hexdigest()
    assert store.put(data) == ref
    assert store.get(ref) == data and store.size(ref) == len(data)
    assert store.read(ref, 6, 3) == data[6:9]
    assert store.path_of(ref).relative_to(tmp_path).parts == (ref[:2], ref)
    assert [r for r, _ in store.iter_refs()] == [ref]
    big = [os.urandom(1 << 16) for _ in range(20)]
    sref, size = store.put_stream(iter(big))
    assert size == 20 << 16 and sref == store.put(b"".join(big))
    assert store.delete(ref) and not store.exists(ref) and not store.delete(ref)
    with pytest.raises(NotFound):
        store.get(ref)
    with pytest.raises(InvalidInput):
        store.get(BlobRef("../../etc/passwd"))


def test_concurrent_writers_of_one_blob(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    data = os.urandom(200_000)
    refs: list[str] = []
    threads = [threading.Thread(target=lambda: refs.append(store.put(data))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(refs)) == 1
    assert store.get(BlobRef(refs[0])) == data
    leftovers = [p for p in tmp_path.rglob("*") if p.is_file() and p.name != refs[0]]
    assert leftovers == []


def test_garbage_collection_keeps_referenced_and_young_blobs(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path)
    keep, drop, young = store.put(b"keep"), store.put(b"drop"), store.put(b"young")
    old = time.time() - 7200
    for ref in (keep, drop):
        os.utime(store.path_of(ref), (old, old))
    # A writer that crashed between its temporary file and the rename.
    stale = store.path_of(drop).parent / ".tmp-deadbeef-1-1"
    stale.write_bytes(b"half a mess")
    os.utime(stale, (old, old))
    removed = store.collect_garbage([keep], grace=3600, now=time.time())
    assert removed == [drop]
    assert store.exists(keep) and store.exists(young) and not store.exists(drop)
    assert not stale.exists()
    # Putting an existing blob again refreshes it, so a collector does not take it.
    os.utime(store.path_of(keep), (old, old))
    store.put(b"keep")
    assert store.collect_garbage([], grace=3600, now=time.time()) == []


def test_a_killed_writer_leaves_no_partial_blob(tmp_path: Path) -> None:
    """The blob name appears only by rename after the bytes are written and synced: a
    writer dying before that leaves a temporary file, never a truncated blob."""
    store = FilesystemBlobStore(tmp_path)
    data = os.urandom(1 << 20)
    ref = BlobRef(hashlib.sha256(data).hexdigest())

    def chunks() -> object:
        yield data[: 1 << 19]
        raise KeyboardInterrupt  # the writer dies half-way

    with pytest.raises(KeyboardInterrupt):
        store.put_stream(chunks())  # type: ignore[arg-type]
    assert not store.exists(ref)
    assert list(store.iter_refs()) == []
    assert store.put(data) == ref and store.get(ref) == data
