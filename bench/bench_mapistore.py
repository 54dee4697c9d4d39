"""Message-store benchmarks (sql backend; SQLite by default, or --database URL).

    python -m bench.bench_mapistore [--messages 10000] [--big 100000] [--database URL]

1. Append N messages of ~4 KB (MIME original + extracted properties) into one folder,
   one acknowledged write after the other, through MapiStore.deliver: messages/s.
2. A folder of BIG messages (filled by the bulk loader below, which writes exactly the
   rows the store writes, so the fixture builds in seconds): the first 50 rows sorted by
   delivery time descending with 8 columns (median of 20).
3. "Changes since N" on that folder after 10 changes (median of 20).
4. Peak Python memory while iterating the whole folder (iter_messages) for a tenth of
   the folder and for all of it: flat means it does not grow with the folder.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from groupware.config.sections import MapiStoreConfig
from groupware.mapi.sorting import SortDirection, SortOrder
from groupware.types import FolderId, StoreId, UserId
from storage.backends.sql.columns import hot_values
from storage.blobs import FilesystemBlobStore
from storage.db import Database
from storage.db import schema as db_schema
from storage.db.tables_mapistore import folders, messages, sql_messages, stores
from storage.mapistore import propcodec, tags
from storage.mapistore.model import MessageContent, TableQuery
from storage.mapistore.special_folders import SpecialFolder
from storage.mapistore.store import MapiStore

BODY = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        "incididunt ut labore et dolore magna aliqua. ") * 16


def mime(i: int) -> bytes:
    head = (f"From: Sender {i % 97} <s{i % 97}@example.test>\r\nTo: alice@example.test\r\n"
            f"Subject: Message number {i}\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
            f"Message-ID: <{i}.{uuid.uuid4()}@example.test>\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n")
    return head.encode() + BODY.encode()


def content(i: int) -> MessageContent:
    return MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Note",
        tags.SUBJECT: f"Message number {i}",
        tags.SENDER_NAME: f"Sender {i % 97}",
        tags.SENDER_EMAIL_ADDRESS: f"s{i % 97}@example.test",
        tags.MESSAGE_DELIVERY_TIME: 133_000_000_000_000_000 + i * 10_000_000,
        tags.CLIENT_SUBMIT_TIME: 133_000_000_000_000_000 + i * 10_000_000 - 5,
        tags.DISPLAY_TO: "Alice",
        tags.IMPORTANCE: 1,
        tags.BODY: BODY,
    })


def make_store(url: str, workdir: Path, fsync: bool = True) -> tuple[MapiStore, Database]:
    db = Database(url, pool_size=4)
    if url.startswith("postgresql"):
        with db.engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    db_schema.upgrade(db)
    cfg = MapiStoreConfig()
    return MapiStore(db, FilesystemBlobStore(workdir / "blobs", fsync=fsync), cfg), db


async def bench_append(store: MapiStore, sid: StoreId, fid: FolderId, n: int,
                       concurrency: int = 1) -> tuple[float, float]:
    """IMAP APPEND-style writes into one folder; each awaited before the next (per
    writer), so every counted message is acknowledged (committed, blob fsynced).
    Returns (messages/s, CPU milliseconds of this process per message): the second
    does not depend on how busy the machine is."""
    start = time.perf_counter()
    cpu = time.process_time()

    async def writer(k: int) -> None:
        for i in range(k, n, concurrency):
            await store.create_message(sid, fid, content(i), mime=mime(i))

    await asyncio.gather(*(writer(k) for k in range(concurrency)))
    return n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n


def bulk_fill(db: Database, blobs: FilesystemBlobStore, sid: int, fid: int, n: int) -> None:
    """Write ``n`` messages straight into the index and the sql backend's tables (the
    same rows MapiStore.deliver writes, without per-message transactions)."""
    ref = blobs.put(mime(0))
    with db.engine.begin() as conn:
        store_row = conn.execute(sa.select(stores).where(stores.c.id == sid)).one()
        folder_row = conn.execute(sa.select(folders).where(
            folders.c.store_id == sid, folders.c.fid == fid)).one()
        gc0, cn0, uid0 = store_row.last_globcnt + 1, store_row.last_cn + 1, folder_row.uidnext
        now = time.time()
        size = 4800
        for start in range(0, n, 5000):
            index_rows, backend_rows = [], []
            for i in range(start, min(n, start + 5000)):
                props = dict(content(i).props)
                props[tags.MESSAGE_FLAGS] = 0
                props[tags.HAS_ATTACHMENTS] = False
                index_rows.append({
                    "store_id": sid, "mid": gc0 + i, "fid": fid, "uid": uid0 + i,
                    "created_cn": cn0 + i, "cn": cn0 + i, "read_cn": cn0 + i,
                    "is_read": i % 3 == 0, "associated": False, "soft_deleted": False,
                    "message_class": "IPM.Note", "size": size, "backend_key": str(gc0 + i),
                    "backend_version": "", "created_at": now, "modified_at": now})
                backend_rows.append({"store_id": sid, "mid": gc0 + i, "fid": fid,
                                     "props": propcodec.encode_props(props), "mime_ref": ref,
                                     **hot_values(props)})
            conn.execute(sa.insert(messages), index_rows)
            conn.execute(sa.insert(sql_messages), backend_rows)
        conn.execute(sa.update(stores).where(stores.c.id == sid).values(
            last_globcnt=gc0 + n, last_cn=cn0 + n, size_used=stores.c.size_used + n * size))
        unread = sum(1 for i in range(n) if i % 3 != 0)
        conn.execute(sa.update(folders).where(folders.c.store_id == sid, folders.c.fid == fid)
                     .values(uidnext=uid0 + n, highest_cn=cn0 + n,
                             message_count=folders.c.message_count + n,
                             unread_count=folders.c.unread_count + unread,
                             size=folders.c.size + n * size))
    if db.dialect == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE"))


async def timed(coro_factory: Any, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        await coro_factory()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def bench_big(store: MapiStore, db: Database, blobs: FilesystemBlobStore, sid: StoreId,
                    fid: FolderId, n: int) -> dict[str, float]:
    from storage.mapistore.ids import globcnt

    t = time.perf_counter()
    bulk_fill(db, blobs, sid, globcnt(fid), n)
    fill = time.perf_counter() - t
    columns = (tags.SUBJECT, tags.SENDER_NAME, tags.MESSAGE_DELIVERY_TIME, tags.MESSAGE_SIZE,
               tags.MESSAGE_FLAGS, tags.IMPORTANCE, tags.DISPLAY_TO, tags.MID)
    query = TableQuery(columns=columns, sort=(SortOrder(tags.MESSAGE_DELIVERY_TIME,
                                                        SortDirection.DESCEND),), limit=50)
    rows = await store.query_table(sid, fid, query)
    assert len(rows) == 50 and rows[0].values[tags.SUBJECT] == f"Message number {n - 1}"
    first50 = await timed(lambda: store.query_table(sid, fid, query))
    mark = await store.highest_change_number(sid, fid)
    unread = [r.mid for r in rows if not r.values[tags.MESSAGE_FLAGS] & tags.MSGFLAG_READ]
    others = [r.mid for r in rows if r.mid not in unread[:4]]
    await store.set_read(sid, unread[:4], True)
    await store.set_properties(sid, others[0], {tags.IMPORTANCE: 2})
    await store.delete_messages(sid, others[1:3], hard=True)
    for i in range(3):
        await store.deliver(sid, content(n + i), mime=mime(n + i), fid=fid)
    changes = await store.changes_since(sid, fid, mark)
    counts = (len(changes.new), len(changes.changed), len(changes.read_changed),
              len(changes.deleted))
    assert counts == (3, 1, 4, 2), counts
    since = await timed(lambda: store.changes_since(sid, fid, mark))
    return {"fill_s": fill, "first50_ms": first50, "changes_since_ms": since}


async def bench_iteration_memory(store: MapiStore, sid: StoreId, fid: FolderId,
                                 n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for label, limit in (("tenth", n // 10), ("all", None)):
        tracemalloc.start()
        count = 0
        start = time.perf_counter()
        async for _info in store.iter_messages(sid, fid, batch=500):
            count += 1
            if limit is not None and count >= limit:
                break
        elapsed = time.perf_counter() - start
        _cur, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[f"iterate_{label}_peak_kib"] = peak / 1024
        out[f"iterate_{label}_count"] = count
        out[f"iterate_{label}_s"] = elapsed
    return out


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-mapistore-") as tmp:
        workdir = Path(tmp)
        url = args.database or f"sqlite:///{workdir / 'bench.sqlite3'}"
        store, db = make_store(url, workdir, fsync=not args.no_fsync)
        try:
            info = await store.provision_mailbox(UserId(1), uuid.uuid4(), "en", username="alice")
            special = await store.special_folders(info.id)
            inbox = special[SpecialFolder.INBOX]
            load = os.getloadavg()[0]
            rate, cpu = await bench_append(store, info.id, inbox, args.messages)
            print(f"append {args.messages} x ~4 KB into one folder, one writer: "
                  f"{rate:,.0f} messages/s ({cpu:.2f} ms CPU each; load {load:.1f} on "
                  f"{os.cpu_count()} CPUs)")
            rate4, cpu4 = await bench_append(store, info.id, special[SpecialFolder.DRAFTS],
                                             args.messages, concurrency=4)
            print(f"append {args.messages} x ~4 KB into one folder, 4 writers: "
                  f"{rate4:,.0f} messages/s ({cpu4:.2f} ms CPU each)")
            big_folder = (await store.create_folder(info.id, special[SpecialFolder.IPM_SUBTREE],
                                                    "Big")).fid
            result = await bench_big(store, db, store.blobs, info.id, big_folder,  # type: ignore[arg-type]
                                     args.big)
            print(f"bulk-loaded {args.big:,} messages in {result['fill_s']:.1f} s")
            print(f"first 50 rows, date descending, 8 columns: {result['first50_ms']:.2f} ms "
                  "(median of 20)")
            print(f"changes since N (10 changes): {result['changes_since_ms']:.2f} ms "
                  "(median of 20)")
            mem = await bench_iteration_memory(store, info.id, big_folder, args.big)
            print(f"iterate {mem['iterate_tenth_count']:,.0f} messages: peak "
                  f"{mem['iterate_tenth_peak_kib']:,.0f} KiB; all {mem['iterate_all_count']:,.0f}"
                  f": peak {mem['iterate_all_peak_kib']:,.0f} KiB "
                  f"({mem['iterate_all_s']:.1f} s)")
            report = await store.repair(info.id)
            print(f"repair afterwards: {'clean' if report.clean else report.problems[:3]}")
        finally:
            store.close()
            db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--no-fsync", action="store_true",
                        help="blob writes without fsync (shows the CPU-bound ceiling)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
