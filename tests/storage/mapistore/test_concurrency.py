"""Concurrent writers and a writer killed with SIGKILL: no lost acknowledged write, no
duplicate UID, change numbers strictly increasing, and ``repair`` finds nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from groupware.config.sections import MapiStoreConfig
from groupware.types import UserId
from storage.blobs import FilesystemBlobStore
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.model import TableQuery
from storage.mapistore.special_folders import SpecialFolder
from storage.mapistore.store import MapiStore
from tests.conftest import REPO
from tests.storage.mapistore.crash_writer import numbered_mime
from tests.storage.mapistore.support import SyncStore, mail, mime_of


def _check_log(store: SyncStore, sid: int, fid: int) -> list[Any]:
    """UIDs unique and increasing with change numbers; returns the folder's messages."""
    infos = store.iter_messages(sid, fid)
    uids = [m.uid for m in infos]
    assert uids == sorted(set(uids)), "duplicate or unordered UIDs"
    cns = [m.cn for m in infos]
    assert cns == sorted(set(cns)), "change numbers must grow with UIDs, never repeat"
    folder = store.get_folder(sid, fid)
    assert folder.uidnext > max(uids, default=0)
    assert folder.message_count == len(infos)
    return infos


def test_two_writers_on_one_folder(store: SyncStore, box: Any) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    results: dict[str, list[Any]] = {}
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        async def run() -> list[Any]:
            out = []
            for i in range(40):
                made = await store.store.create_message(info.id, inbox, mail(f"{name}{i}"),
                                                        mime=mime_of(f"{name}{i}"))
                if i % 5 == 0:
                    await store.store.set_read(info.id, [made.mid], True)
                out.append(made)
            return out

        try:
            results[name] = asyncio.run(run())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    made = results["a"] + results["b"]
    assert len({m.uid for m in made}) == 80
    assert len({m.cn for m in made}) == 80
    infos = _check_log(store, info.id, inbox)
    assert {m.mid for m in infos} == {m.mid for m in made}
    assert sum(1 for m in infos if m.read) == 16
    changes = store.changes_since(info.id, inbox, 0)
    assert len(changes.new) == 80
    assert store.repair(info.id).clean


@pytest.mark.slow
def test_kill_9_during_appends_loses_no_acknowledged_write(database_url: str,
                                                           tmp_path: Path) -> None:
    blob_dir = tmp_path / "blobs"
    db = Database(database_url, pool_size=2)
    store = SyncStore(MapiStore(db, FilesystemBlobStore(blob_dir), MapiStoreConfig()))
    try:
        info = store.provision_mailbox(UserId(1), "5b9e0b2e-8c3e-4f53-9a55-f7d4c46e2f10", "en")
        inbox = store.special_folders(info.id)[SpecialFolder.INBOX]
        env = {**os.environ, "PYTHONPATH": str(REPO)}

        def spawn(first: int, last: int) -> subprocess.Popen[str]:
            return subprocess.Popen(
                [sys.executable, "-m", "tests.storage.mapistore.crash_writer", database_url,
                 str(blob_dir), str(info.id), str(inbox), str(first), str(last)],
                stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)

        acked: dict[int, tuple[int, int, int]] = {}
        child = spawn(0, 1000)
        assert child.stdout is not None
        for line in child.stdout:
            _, n, mid, uid, cn = line.split()
            acked[int(n)] = (int(mid), int(uid), int(cn))
            if len(acked) >= 300:
                os.kill(child.pid, signal.SIGKILL)
                break
        child.wait(30)
        assert child.returncode == -signal.SIGKILL
        # Restart: another process finishes the 1,000 writes.
        rest = spawn(len(acked), 1000)
        out, _ = rest.communicate(timeout=300)
        assert rest.returncode == 0
        for line in out.splitlines():
            _, n, mid, uid, cn = line.split()
            acked[int(n)] = (int(mid), int(uid), int(cn))
        assert len(acked) == 1000
        infos = _check_log(store, info.id, inbox)
        by_mid = {m.mid: m for m in infos}
        for mid, uid, cn in acked.values():
            m = by_mid[mid]
            assert (m.uid, m.cn) == (uid, cn)
        # Unacknowledged writes may or may not have landed; nothing else is there.
        assert len(infos) - len(acked) <= 1
        for n in (0, 299, 300, 999):
            mid = acked[n][0]
            assert store.read_mime(info.id, mid) == numbered_mime(n)
            assert store.get_properties(info.id, mid, [tags.SUBJECT])[tags.SUBJECT] == \
                f"crash test {n}"
        rows = store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,)))
        assert len(rows) == len(infos)
        report = store.repair(info.id)
        assert report.clean, report.problems
    finally:
        db.close()
