"""Content-addressed blob store: MIME originals, attachment data, large property values.

A blob is named by the SHA-256 of its bytes (:data:`BlobRef`, 64 lower-case hex
digits), so writing the same bytes twice stores them once and a reference can never
point at different content than it was made from. Writes are atomic (temporary file,
fsync, rename, fsync of the directory): after a crash a blob either exists whole or
not at all. Blobs are never modified; unreferenced ones are removed by
:meth:`BlobStore.collect_garbage` from the set of references the index and the
backends still hold.
"""

from storage.blobs.filesystem import FilesystemBlobStore
from storage.blobs.interface import BlobRef, BlobStore, is_blob_ref

__all__ = ["BlobRef", "BlobStore", "FilesystemBlobStore", "is_blob_ref"]
