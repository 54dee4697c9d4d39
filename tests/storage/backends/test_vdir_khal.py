"""khal and khard (Debian) on the vdir collections our backend writes.

They list what we stored, and their own edits (``khal import`` replacing an event,
``khal new``, ``khard edit``/``khard new`` from a template) are found by scan_folder
and read back as properties; what Outlook changes then shows in khal again.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from groupware.mapi.values import datetime_to_filetime
from groupware.types import PropTag
from storage.backends.vdir import VdirBackend
from storage.backends.vdir import mapping as m
from storage.mapistore import tags
from storage.mapistore.model import MessageContent
from tests.storage.backends.file_backend_harness import Driver

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("khal") is None or shutil.which("khard") is None,
                       reason="needs khal and khard (make test installs them)"),
]

NAMED = PropTag(0x8010001F)


def ft(*args: int) -> int:
    return datetime_to_filetime(dt.datetime(*args, tzinfo=dt.UTC))  # type: ignore[misc]


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    d = Driver(VdirBackend({"fsync": False}), tmp_path)
    yield d
    d.close()


class Tools:
    """khal and khard configured for one vdir root, with private caches."""

    def __init__(self, root: Path, work: Path) -> None:
        self.khal_conf = work / "khal.conf"
        self.khal_conf.write_text(f"""[calendars]
[[pim]]
path = {root}/*
type = discover
[sqlite]
path = {work}/khal.db
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%d %H:%M
longdatetimeformat = %Y-%m-%d %H:%M
local_timezone = UTC
default_timezone = UTC
""")
        self.khard_conf = work / "khard.conf"
        self.khard_conf.write_text(f"""[addressbooks]
[[contacts]]
path = {root}/Contacts
[general]
editor = /bin/false
merge_editor = /bin/false
[vcard]
preferred_version = 3.0
""")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(work), "LANG": "C.UTF-8",
                    "XDG_CONFIG_HOME": str(work), "XDG_DATA_HOME": str(work)}

    def run(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(list(args), input=stdin, capture_output=True, text=True,
                                env=self.env, timeout=30, check=False)
        assert result.returncode == 0, f"{args} failed: {result.stdout}\n{result.stderr}"
        return result.stdout

    def khal(self, *args: str, stdin: str = "") -> str:
        return self.run("khal", "-c", str(self.khal_conf), *args, stdin=stdin)

    def khard(self, *args: str, stdin: str = "") -> str:
        return self.run("khard", "-c", str(self.khard_conf), *args, stdin=stdin)

    def events(self) -> set[str]:
        out = self.khal("list", "--format", "{calendar}|{title}|{start}|{end}|{uid}",
                        "2026-01-01", "365d")
        return {line for line in out.splitlines() if line.count("|") == 4}


@pytest.fixture
def tools(tmp_path: Path) -> Tools:
    return Tools(tmp_path / "pim", tmp_path)


def test_khal_and_khard_list_what_we_wrote(driver: Driver, tools: Tools, tmp_path: Path) -> None:
    uri = f"vdir://{tmp_path / 'pim'}"
    cal = driver.folder(uri, "Calendar", container_class="IPF.Appointment")
    book = driver.folder(uri, "Contacts", container_class="IPF.Contact")
    event = driver.create(cal, MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Appointment", tags.SUBJECT: "Review, part 1; café",
        tags.BODY: "bring the numbers", m.START_DATE: ft(2026, 3, 10, 8),
        m.END_DATE: ft(2026, 3, 10, 9, 30)}))
    contact = driver.create(book, MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Contact", tags.DISPLAY_NAME: "Ada Lovelace",
        m.GIVEN_NAME: "Ada", m.SURNAME: "Lovelace", m.MOBILE_PHONE: "+44 20 7946 0000"}))
    uid = m.item_uid(driver.ctx.mailbox_guid, event.mid)

    assert tools.events() == {
        f"Calendar|Review, part 1; café|2026-03-10 08:00|2026-03-10 09:30|{uid}"}
    assert "bring the numbers" in tools.khal("search", "--format", "{description}", "Review")
    phones = tools.khard("phone", "--parsable").splitlines()
    assert phones == ["+44 20 7946 0000\tAda Lovelace\tcell"]
    contact_uid = m.item_uid(driver.ctx.mailbox_guid, contact.mid)
    assert contact_uid[:8] in tools.khard("list", "--parsable")


def test_edits_made_by_khal_and_khard_are_found(driver: Driver, tools: Tools,
                                                tmp_path: Path) -> None:
    uri = f"vdir://{tmp_path / 'pim'}"
    cal = driver.folder(uri, "Calendar", container_class="IPF.Appointment")
    book = driver.folder(uri, "Contacts", container_class="IPF.Contact")
    event = driver.create(cal, MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Appointment", tags.SUBJECT: "Planning",
        m.START_DATE: ft(2026, 4, 1, 9), m.END_DATE: ft(2026, 4, 1, 10), NAMED: "Outlook only"}))
    contact = driver.create(book, MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Contact", tags.DISPLAY_NAME: "Ada Lovelace",
        m.GIVEN_NAME: "Ada", m.SURNAME: "Lovelace", m.MOBILE_PHONE: "+44 20 7946 0000"}))
    uid = m.item_uid(driver.ctx.mailbox_guid, event.mid)
    contact_uid = m.item_uid(driver.ctx.mailbox_guid, contact.mid)

    # khal replaces our event (same UID) from an .ics, and creates one of its own
    update = tmp_path / "update.ics"
    update.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:test\r\nBEGIN:VEVENT\r\n"
                      f"UID:{uid}\r\nDTSTAMP:20260301T000000Z\r\nSUMMARY:Planning (moved)\r\n"
                      "DTSTART:20260402T130000Z\r\nDTEND:20260402T143000Z\r\n"
                      "END:VEVENT\r\nEND:VCALENDAR\r\n")
    tools.khal("import", "--batch", "-a", "Calendar", str(update))
    tools.khal("new", "-a", "Calendar", "2026-04-03", "10:00", "11:00", "Made in khal",
               "::", "with a description")
    # khard edits our contact and adds one
    (tmp_path / "ada.yaml").write_text("Formatted name: Ada King\nFirst name: Ada\n"
                                       "Last name: King\nPhone:\n  cell: +44 20 7946 9999\n")
    tools.khard("edit", "-i", str(tmp_path / "ada.yaml"), contact_uid, stdin="y\n")
    (tmp_path / "grace.yaml").write_text("Formatted name: Grace Hopper\nFirst name: Grace\n"
                                         "Last name: Hopper\nPhone:\n  work: +1 555 0100\n")
    tools.khard("new", "-a", "contacts", "-i", str(tmp_path / "grace.yaml"))

    scan = driver.scan(cal)
    assert scan[event.key].version != driver.version(event)
    props = driver.backend.read_message(driver.ctx, cal, event).props
    assert props[tags.SUBJECT] == "Planning (moved)"
    assert (props[m.START_DATE], props[m.END_DATE]) == (ft(2026, 4, 2, 13), ft(2026, 4, 2, 14, 30))
    assert props[NAMED] == "Outlook only"
    [new_key] = set(scan) - {event.key}
    made = driver.backend.read_message(driver.ctx, cal, driver.adopt(cal, scan[new_key])).props
    assert made[tags.MESSAGE_CLASS] == "IPM.Appointment"
    assert made[tags.SUBJECT] == "Made in khal"
    assert made[tags.BODY] == "with a description"
    assert (made[m.START_DATE], made[m.END_DATE]) == (ft(2026, 4, 3, 10), ft(2026, 4, 3, 11))

    book_scan = driver.scan(book)
    assert book_scan[contact.key].version != driver.version(contact)
    ada = driver.backend.read_message(driver.ctx, book, contact).props
    assert (ada[tags.DISPLAY_NAME], ada[m.SURNAME], ada[m.MOBILE_PHONE]) == (
        "Ada King", "King", "+44 20 7946 9999")
    [grace_key] = set(book_scan) - {contact.key}
    grace = driver.backend.read_message(driver.ctx, book,
                                        driver.adopt(book, book_scan[grace_key])).props
    assert (grace[tags.MESSAGE_CLASS], grace[tags.DISPLAY_NAME], grace[m.BUSINESS_PHONE]) == (
        "IPM.Contact", "Grace Hopper", "+1 555 0100")

    # and Outlook's next change to khal's event shows in khal
    made_ref = next(r for r in (ix.ref for ix in driver.index.messages_by_mid.values())
                    if r.key == new_key)
    driver.backend.set_properties(driver.ctx, cal, made_ref, {tags.SUBJECT: "Renamed in Outlook"},
                                  [])
    assert any(line.startswith("Calendar|Renamed in Outlook|2026-04-03 10:00|2026-04-03 11:00|")
               for line in tools.events())
