"""Child process of the crash test: appends messages and reports each acknowledgement.

    python -m tests.storage.mapistore.crash_writer DB_URL BLOB_DIR STORE FOLDER FIRST LAST

Writes messages FIRST..LAST-1 (content derived from the number, so the parent can
check them) one after the other and prints ``ack <n> <mid> <uid> <cn>`` after each
write returned: every printed line is an acknowledged, committed write.
"""

from __future__ import annotations

import asyncio
import sys

from groupware.config.sections import MapiStoreConfig
from groupware.types import FolderId, StoreId
from storage.blobs import FilesystemBlobStore
from storage.db import Database
from storage.mapistore.store import MapiStore
from tests.storage.mapistore.support import mail


def numbered_mime(n: int) -> bytes:
    return (f"From: writer@example.test\r\nSubject: crash test {n}\r\n"
            f"Message-ID: <{n}@crash.test>\r\n\r\n" + f"body {n}\r\n" * 50).encode()


async def main(url: str, blob_dir: str, store_id: int, fid: int, first: int, last: int) -> None:
    db = Database(url, pool_size=2)
    store = MapiStore(db, FilesystemBlobStore(blob_dir), MapiStoreConfig())
    try:
        for n in range(first, last):
            info = await store.create_message(StoreId(store_id), FolderId(fid),
                                              mail(f"crash test {n}"), mime=numbered_mime(n))
            sys.stdout.write(f"ack {n} {info.mid} {info.uid} {info.cn}\n")
            sys.stdout.flush()
    finally:
        store.close()
        db.close()


if __name__ == "__main__":
    a = sys.argv[1:]
    asyncio.run(main(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5])))
