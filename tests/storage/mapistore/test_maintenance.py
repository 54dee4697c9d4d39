"""Repair, rescans of externally edited backends, and folder moves between backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from groupware.mapi.ids import split_id
from groupware.notifier import Event
from storage.db import Database
from storage.db.tables_mapistore import folders, sql_messages, stores
from storage.mapistore import tags
from storage.mapistore.model import TableQuery
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, build_store, mail, mime_of, provision


def test_repair_finds_and_fixes_damage(store: SyncStore, box: Any, database: Database) -> None:
    info, special = box
    inbox = special[SpecialFolder.INBOX]
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    b = store.deliver(info.id, mail("b"), mime=mime_of("b"))
    assert store.repair(info.id).clean
    with database.engine.begin() as conn:
        conn.execute(sa.update(folders).where(folders.c.role == "inbox")
                     .values(message_count=7, uidnext=1))
        conn.execute(sa.update(stores).values(size_used=1, last_cn=1))
        # b's content vanishes; an orphan row appears that the index does not know.
        conn.execute(sa.update(sql_messages).where(sql_messages.c.mid == split_id(b.mid)[1])
                     .values(fid=0))
        row = conn.execute(sa.select(sql_messages).where(
            sql_messages.c.mid == split_id(a.mid)[1])).first()
        assert row is not None
        values = dict(row._mapping)
        values["mid"] = 999_999
        conn.execute(sa.insert(sql_messages).values(**values))
    report = store.repair(info.id)
    text = "\n".join(report.problems)
    for expected in ("counters", "UIDNEXT", "store size", "change number counter",
                     "has no content", "not in the index"):
        assert expected in text
    fixed = store.repair(info.id, fix=True)
    assert fixed.problems
    assert store.repair(info.id).clean, store.repair(info.id).problems
    folder = store.get_folder(info.id, inbox)
    assert folder.message_count == 1 and folder.uidnext > b.uid
    assert store.get_message(info.id, a.mid).props[tags.SUBJECT] == "a"


def test_rescan_picks_up_external_changes(database: Database, tmp_path: Path) -> None:
    events: list[Event] = []
    roles = {"fallback": "sql:", "inbox": f"testfile://{tmp_path}/files/{{user}}"}
    store = SyncStore(build_store(database, tmp_path, roles, events))
    info = provision(store)
    inbox = store.special_folders(info.id)[SpecialFolder.INBOX]
    a = store.deliver(info.id, mail("a"), mime=mime_of("a"))
    b = store.deliver(info.id, mail("b"), mime=mime_of("b"))
    folder_dir = next((tmp_path / "files" / "alice").iterdir())
    files = sorted(folder_dir.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    # Another tool: copies a message file, deletes one, marks one read.
    (folder_dir / "external.msg").write_bytes(files[0].read_bytes())
    files[1].unlink()
    files[0].rename(files[0].with_name(files[0].name + ".seen"))
    mark = store.highest_change_number(info.id, inbox)
    events.clear()
    result = store.rescan_folder(info.id, inbox)
    assert (result.new, result.deleted, result.read_changed + result.changed) == (1, 1, 1)
    changes = store.changes_since(info.id, inbox, mark)
    assert [d.object_id for d in changes.deleted] == [b.mid]
    assert len(changes.new) == 1
    assert store.get_message_info(info.id, a.mid).read is True
    assert {e.kind for e in events} >= {"created", "deleted"}
    assert store.rescan_folder(info.id, inbox).total == 0
    assert store.repair(info.id).clean


@pytest.mark.parametrize("direction", ["sql-to-file", "file-to-sql"])
def test_move_folder_between_backends_is_resumable(database: Database, tmp_path: Path,
                                                   direction: str) -> None:
    file_uri = f"testfile://{tmp_path}/files/alice"
    source, target = ("sql:", file_uri) if direction == "sql-to-file" else (file_uri, "sql:")
    store = SyncStore(build_store(database, tmp_path, {"fallback": "sql:", "inbox": source}))
    info = provision(store)
    inbox = store.special_folders(info.id)[SpecialFolder.INBOX]
    made = [store.deliver(info.id, mail(f"m{i:02}"), mime=mime_of(f"m{i:02}"))
            for i in range(25)]
    store.set_read(info.id, [made[0].mid], True)
    before = store.get_folder(info.id, inbox)
    raw = store.read_mime(info.id, made[3].mid)
    copied = store.move_folder_content(info.id, inbox, target, batch=4, stop_after=2)
    assert copied == 8
    assert store.folder_moves_pending() == [(info.id, inbox, target, "copying")]
    # Users keep working during the move: a change, a deletion and a new message.
    store.set_properties(info.id, made[1].mid, {tags.SUBJECT: "changed during move"})
    store.delete_messages(info.id, [made[2].mid], hard=True)
    late = store.deliver(info.id, mail("late"), mime=mime_of("late"))
    progress: list[tuple[int, int]] = []
    store.move_folder_content(info.id, inbox, target, batch=4,
                              progress=lambda done, total: progress.append((done, total)))
    assert progress and progress[-1][0] > 0
    assert store.folder_moves_pending() == []
    after = store.get_folder(info.id, inbox)
    assert after.backend_uri == target
    assert (after.uidvalidity, after.uidnext) == (before.uidvalidity, before.uidnext + 1)
    rows = store.query_table(info.id, inbox, TableQuery(columns=(tags.SUBJECT,)))
    subjects = [r.values[tags.SUBJECT] for r in rows]
    assert subjects[:2] == ["m00", "changed during move"]
    assert "m02" not in subjects and subjects[-1] == "late"
    assert raw is not None and store.read_mime(info.id, made[3].mid) == raw
    assert store.get_message_info(info.id, made[0].mid).read is True
    assert store.get_message(info.id, late.mid).info.uid == late.uid
    assert store.repair(info.id).clean, store.repair(info.id).problems
    with pytest.raises(Exception, match="already on"):
        store.move_folder_content(info.id, inbox, target)
