"""Edits khal makes in a vdir of a real MapiStore enter its change log.

Appointments created through the store become ``.ics`` files; khal replaces one
(``import --batch``), adds one (``new``), and a file is removed; ``rescan_folder``
reports them as "changes since" with new change numbers.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from groupware.mapi.values import datetime_to_filetime
from storage.backends.vdir import mapping as m
from storage.db import Database
from storage.mapistore import tags
from storage.mapistore.model import MessageContent
from storage.mapistore.special_folders import SpecialFolder
from tests.storage.mapistore.support import SyncStore, build_store, provision

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("khal") is None, reason="needs khal (make test installs it)"),
]


def ft(*args: int) -> int:
    return datetime_to_filetime(dt.datetime(*args, tzinfo=dt.UTC))  # type: ignore[misc]


def khal(work: Path, root: Path, *args: str) -> str:
    conf = work / "khal.conf"
    conf.write_text(f"[calendars]\n[[pim]]\npath = {root}/*\ntype = discover\n"
                    f"[sqlite]\npath = {work}/khal.db\n[locale]\nlocal_timezone = UTC\n"
                    "default_timezone = UTC\ntimeformat = %H:%M\ndateformat = %Y-%m-%d\n"
                    "longdateformat = %Y-%m-%d\ndatetimeformat = %Y-%m-%d %H:%M\n"
                    "longdatetimeformat = %Y-%m-%d %H:%M\n")
    result = subprocess.run(["khal", "-c", str(conf), *args], capture_output=True, text=True,
                            timeout=30, check=False,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8"})
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_khal_edits_enter_the_change_log(database: Database, tmp_path: Path) -> None:
    root = tmp_path / "pim" / "alice"
    store = SyncStore(build_store(database, tmp_path, {
        "fallback": "sql:", "calendar": f"vdir://{tmp_path}/pim/{{user}}"}))
    info = provision(store)
    calendar = store.special_folders(info.id)[SpecialFolder.CALENDAR]
    created = {
        name: store.create_message(info.id, calendar, MessageContent(props={
            tags.MESSAGE_CLASS: "IPM.Appointment", tags.SUBJECT: name,
            m.START_DATE: ft(2026, 6, day, 9), m.END_DATE: ft(2026, 6, day, 10)}))
        for day, name in ((1, "Standup"), (2, "Retro"))}
    coll = next(p for p in root.iterdir() if not p.name.startswith("."))
    assert len([n for n in os.listdir(coll) if n.endswith(".ics")]) == 2
    since = store.changes_since(info.id, calendar, 0).highest_cn

    standup_uid = m.item_uid(str(info.mailbox_guid), created["Standup"].mid)
    update = tmp_path / "update.ics"
    update.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\n"
                      f"UID:{standup_uid}\r\nDTSTAMP:20260501T000000Z\r\n"
                      "SUMMARY:Standup (longer)\r\nDTSTART:20260601T090000Z\r\n"
                      "DTEND:20260601T103000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    khal(tmp_path, root, "import", "--batch", "-a", coll.name, str(update))
    khal(tmp_path, root, "new", "-a", coll.name, "2026-06-03", "14:00", "15:00", "Made in khal")
    retro = store.get_message_info(info.id, created["Retro"].mid)
    os.unlink(coll / next(n for n in os.listdir(coll) if n.startswith(
        m.item_uid(str(info.mailbox_guid), retro.mid))))

    result = store.rescan_folder(info.id, calendar)
    assert (result.new, result.changed, result.deleted) == (1, 1, 1)
    changes = store.changes_since(info.id, calendar, since)
    assert [c.mid for c in changes.changed] == [created["Standup"].mid]
    assert changes.changed[0].cn > since
    assert [d.object_id for d in changes.deleted] == [created["Retro"].mid]
    [new] = changes.new
    assert new.message_class == "IPM.Appointment"
    props = store.get_properties(info.id, created["Standup"].mid,
                                 [tags.SUBJECT, m.START_DATE, m.END_DATE])
    assert props == {tags.SUBJECT: "Standup (longer)", m.START_DATE: ft(2026, 6, 1, 9),
                     m.END_DATE: ft(2026, 6, 1, 10, 30)}
    made = store.get_properties(info.id, new.mid, [tags.SUBJECT, m.START_DATE])
    assert made == {tags.SUBJECT: "Made in khal", m.START_DATE: ft(2026, 6, 3, 14)}
    assert store.rescan_folder(info.id, calendar).total == 0
    assert store.repair(info.id).clean

    store.set_properties(info.id, new.mid, {tags.SUBJECT: "Renamed through the store"})
    listed = khal(tmp_path, root, "list", "--format", "{title}", "2026-06-01", "7d")
    assert "Renamed through the store" in listed and "Standup (longer)" in listed
