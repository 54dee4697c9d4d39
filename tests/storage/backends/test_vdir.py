"""The vdir backend on a real file system: collections, item files, patches that keep
what other programs wrote, outside edits. khal/khard/vdirsyncer: test_vdir_khal.py."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from groupware.errors import NotFound
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime
from groupware.types import PropTag
from storage.backends.vdir import VdirBackend
from storage.backends.vdir import mapping as m
from storage.backends.vdir.contentlines import (
    escape_text,
    fold,
    parse,
    serialize,
    split_structured,
    unescape_text,
)
from storage.mapistore import tags
from storage.mapistore.model import BlobValue, MessageContent, MessageRef
from tests.storage.backends.file_backend_harness import Driver

NAMED_LOCATION = PropTag(0x8010001F)  # a named property: kept in the sidecar only


def ft(*args: int) -> int:
    return datetime_to_filetime(dt.datetime(*args, tzinfo=dt.UTC))  # type: ignore[misc]


KHAL_EVENT = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//PIMUTILS.ORG//NONSGML khal / icalendar //EN\r
BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
TZNAME:CET\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
SUMMARY:Team meeting\r
DTSTART;TZID=Europe/Berlin:20260309T100000\r
DTEND;TZID=Europe/Berlin:20260309T110000\r
DTSTAMP:20260301T120000Z\r
UID:khal-team-meeting@example.org\r
RRULE:FREQ=WEEKLY;BYDAY=MO\r
LOCATION:Room 1\r
X-VENDOR-THING;X-PARAM="a:b":kept as is\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
DESCRIPTION:reminder\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Team meeting (moved)\r
RECURRENCE-ID;TZID=Europe/Berlin:20260316T100000\r
DTSTART;TZID=Europe/Berlin:20260316T140000\r
DTEND;TZID=Europe/Berlin:20260316T150000\r
DTSTAMP:20260301T120000Z\r
UID:khal-team-meeting@example.org\r
END:VEVENT\r
END:VCALENDAR\r
"""


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Driver]:
    d = Driver(VdirBackend({"fsync": False}), tmp_path)
    yield d
    d.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "pim" / "alice"


def uri(root: Path) -> str:
    return f"vdir://{root}"


def items(coll: Path) -> list[str]:
    return sorted(n for n in os.listdir(coll) if n.endswith((".ics", ".vcf")))


def appointment(subject: str, start: int, end: int,
                extra: dict[PropTag, object] | None = None) -> MessageContent:
    props = {tags.MESSAGE_CLASS: "IPM.Appointment", tags.SUBJECT: subject,
             m.START_DATE: start, m.END_DATE: end, **(extra or {})}
    return MessageContent(props=props)  # type: ignore[arg-type]


def text_of(path: Path) -> str:
    return path.read_bytes().decode()  # as stored: CRLF stays CRLF


def later(path: Path) -> None:
    """Make an edit visible to mtime-based checks even on coarse clocks."""
    t = time.time_ns() + 3_000_000_000
    os.utime(path, ns=(t, t))


# --- content lines -----------------------------------------------------------------------


def test_parse_serialize_keeps_unknown_lines() -> None:
    top = parse(KHAL_EVENT)
    assert serialize(top) == KHAL_EVENT
    event = top.components("VEVENT")[0]
    assert event.first("X-VENDOR-THING").param("X-PARAM") == "a:b"  # type: ignore[union-attr]


def test_folding_never_splits_utf8_and_unfolds_back() -> None:
    line = "SUMMARY:" + "Grüße aus Köln " * 12
    folded = fold(line)
    assert all(len(p.encode()) <= 75 for p in folded.split("\r\n") if p)
    assert parse(f"BEGIN:X\r\n{folded}END:X\r\n").first("SUMMARY").value == line[8:]  # type: ignore[union-attr]


def test_text_escaping() -> None:
    text = "a,b;c\\d\nnew line"
    assert unescape_text(escape_text(text)) == text
    assert split_structured("Doe;John\\;Jr;;Dr.;") == ["Doe", "John;Jr", "", "Dr.", ""]


# --- folders -------------------------------------------------------------------------


def test_collections(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    work = driver.folder(uri(root), "Work/Projects", parent=cal, container_class="IPF.Appointment")
    again = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    assert (cal.key, work.key, again.key) == ("Calendar", "Work_Projects", "Calendar (2)")
    assert (root / "Calendar" / "displayname").read_text() == "Calendar"
    assert driver.backend.create_folder(driver.ctx, replace(cal, key="")) == "Calendar"
    assert driver.backend.move_folder(driver.ctx, cal, cal, "Kalender") == "Calendar"
    assert (root / "Calendar" / "displayname").read_text() == "Kalender"
    driver.backend.delete_folder(driver.ctx, again)
    assert not (root / "Calendar (2)").exists()
    top = driver.folder(uri(root), "Top of Information Store", role="ipm_subtree")
    assert top.key.startswith(".groupware-folders/ipm_subtree-")  # khal's glob skips it
    assert sorted(os.listdir(root)) == [".groupware-folders", "Calendar", "Work_Projects"]


# --- items written through MAPI -----------------------------------------------------------


def test_appointment_becomes_an_ics_file(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    content = appointment("Dentist, then lunch", ft(2026, 3, 10, 8), ft(2026, 3, 10, 9),
                          {NAMED_LOCATION: "Main St", tags.BODY: "line 1\nline 2"})
    ref = driver.create(cal, content)
    uid = m.item_uid(driver.ctx.mailbox_guid, ref.mid)
    assert items(root / "Calendar") == [f"{uid}.ics"] == [ref.key]
    event = parse(text_of(root / "Calendar" / ref.key)).components("VEVENT")[0]
    assert event.first("UID").value == uid  # type: ignore[union-attr]
    assert event.first("SUMMARY").value == "Dentist\\, then lunch"  # type: ignore[union-attr]
    assert event.first("DESCRIPTION").value == "line 1\\nline 2"  # type: ignore[union-attr]
    assert event.first("DTSTART").value == "20260310T080000Z"  # type: ignore[union-attr]
    assert event.first("DTEND").value == "20260310T090000Z"  # type: ignore[union-attr]
    assert event.first("DTSTAMP") is not None
    back = driver.backend.read_message(driver.ctx, cal, ref)
    assert back.props == content.props
    assert driver.scan(cal)[ref.key].version == driver.version(ref)
    # a retried transaction writes the same file, not a second one
    again = driver.backend.create_message(driver.ctx, cal, replace(ref, key=""), content)
    assert again.key == ref.key and items(root / "Calendar") == [ref.key]


def test_contact_becomes_a_vcf_file(driver: Driver, root: Path) -> None:
    contacts = driver.folder(uri(root), "Contacts", container_class="IPF.Contact")
    ref = driver.create(contacts, MessageContent(props={
        tags.MESSAGE_CLASS: "IPM.Contact", tags.DISPLAY_NAME: "Dr. Ada Lovelace",
        m.SURNAME: "Lovelace", m.GIVEN_NAME: "Ada", m.DISPLAY_NAME_PREFIX: "Dr.",
        m.COMPANY_NAME: "Analytical Engines; Ltd", m.MOBILE_PHONE: "+44 20 7946 0000",
        m.BUSINESS_PHONE: "+44 20 7946 0001"}))
    assert ref.key.endswith(".vcf")
    card = parse(text_of(root / "Contacts" / ref.key))
    assert card.first("VERSION").value == "3.0"  # type: ignore[union-attr]
    assert card.first("FN").value == "Dr. Ada Lovelace"  # type: ignore[union-attr]
    assert card.first("N").value == "Lovelace;Ada;;Dr.;"  # type: ignore[union-attr]
    assert card.first("ORG").value == "Analytical Engines\\; Ltd;"  # type: ignore[union-attr]
    assert {(ln.param("TYPE"), ln.value) for ln in card.lines("TEL")} == {
        ("cell", "+44 20 7946 0000"), ("work", "+44 20 7946 0001")}


def test_other_messages_stay_in_sidecars(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    fai = driver.create(cal, MessageContent(props={tags.MESSAGE_CLASS: "IPM.Microsoft.WunderBar"}),
                        associated=True)
    note = driver.create(cal, MessageContent(props={tags.MESSAGE_CLASS: "IPM.Note"}))
    assert items(root / "Calendar") == []
    assert set(driver.scan(cal)) == {fai.key, note.key}
    assert driver.backend.read_message(driver.ctx, cal, fai).props[tags.MESSAGE_CLASS] == \
        "IPM.Microsoft.WunderBar"


def test_large_body_blob_is_written_into_the_file(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    body = "agenda " * 2000
    ref_blob = driver.blobs.put(body.encode())
    ref = driver.create(cal, appointment("Long", ft(2026, 1, 1, 9), ft(2026, 1, 1, 10),
                                         {tags.BODY: BlobValue(ref_blob, len(body))}))
    event = parse(text_of(root / "Calendar" / ref.key)).components("VEVENT")[0]
    assert unescape_text(event.first("DESCRIPTION").value) == body  # type: ignore[union-attr]
    assert set(driver.backend.referenced_blobs(driver.ctx, cal)) == {ref_blob}


# --- patches keep what other programs wrote ------------------------------------------------


def test_mapi_edit_patches_only_mapped_lines(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    (root / "Calendar" / "khal-team-meeting@example.org.ics").write_text(KHAL_EVENT)
    ref = driver.adopt(cal, driver.scan(cal)["khal-team-meeting@example.org.ics"])
    props = driver.backend.read_message(driver.ctx, cal, ref).props
    assert props[tags.SUBJECT] == "Team meeting"
    assert props[tags.MESSAGE_CLASS] == "IPM.Appointment"
    assert filetime_to_datetime(props[m.START_DATE]) == dt.datetime(2026, 3, 9, 9, tzinfo=dt.UTC)
    result = driver.backend.set_properties(driver.ctx, cal, ref, {
        tags.SUBJECT: "Team sync", m.START_DATE: ft(2026, 3, 9, 8, 30),
        m.END_DATE: ft(2026, 3, 9, 9, 30), NAMED_LOCATION: "kept in the sidecar"}, [])
    assert result.key == ref.key and result.version != driver.version(ref)
    text = text_of(root / "Calendar" / ref.key)
    expected = (KHAL_EVENT.replace("SUMMARY:Team meeting\r\n", "SUMMARY:Team sync\r\n")
                .replace("DTSTART;TZID=Europe/Berlin:20260309T100000",
                         "DTSTART;TZID=Europe/Berlin:20260309T093000")
                .replace("DTEND;TZID=Europe/Berlin:20260309T110000",
                         "DTEND;TZID=Europe/Berlin:20260309T103000"))
    assert text == expected  # RRULE, VALARM, X- lines, the override: untouched
    # a write that changes nothing in the file leaves the file alone
    before = (root / "Calendar" / ref.key).stat()
    driver.backend.set_properties(driver.ctx, cal, ref, {NAMED_LOCATION: "still kept"}, [])
    assert (root / "Calendar" / ref.key).stat().st_ino == before.st_ino


def test_all_day_and_duration_forms(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    (root / "Calendar" / "a.ics").write_text(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nSUMMARY:holiday\n"
        "DTSTART;VALUE=DATE:20260406\nEND:VEVENT\nEND:VCALENDAR\n")
    (root / "Calendar" / "b.ics").write_text(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:b\nSUMMARY:call\n"
        "DTSTART:20260406T100000Z\nDURATION:PT45M\nEND:VEVENT\nEND:VCALENDAR\n")
    scan = driver.scan(cal)
    a, b = driver.adopt(cal, scan["a.ics"]), driver.adopt(cal, scan["b.ics"])
    pa = driver.backend.read_properties(driver.ctx, cal, a)
    pb = driver.backend.read_properties(driver.ctx, cal, b)
    assert (pa[m.START_DATE], pa[m.END_DATE]) == (ft(2026, 4, 6), ft(2026, 4, 7))
    assert (pb[m.START_DATE], pb[m.END_DATE]) == (ft(2026, 4, 6, 10), ft(2026, 4, 6, 10, 45))
    driver.backend.set_properties(driver.ctx, cal, a, {m.START_DATE: ft(2026, 4, 8),
                                                       m.END_DATE: ft(2026, 4, 9)}, [])
    driver.backend.set_properties(driver.ctx, cal, b, {m.END_DATE: ft(2026, 4, 6, 11)}, [])
    ea = parse((root / "Calendar" / "a.ics").read_text()).components("VEVENT")[0]
    eb = parse((root / "Calendar" / "b.ics").read_text()).components("VEVENT")[0]
    assert ea.first("DTSTART").render() == "DTSTART;VALUE=DATE:20260408"  # type: ignore[union-attr]
    assert ea.first("DTEND").value == "20260409T000000Z"  # type: ignore[union-attr]
    assert eb.first("DURATION") is None
    assert eb.first("DTEND").value == "20260406T110000Z"  # type: ignore[union-attr]


# --- changes made by other programs ------------------------------------------------------


def test_outside_edit_updates_mapped_properties_and_keeps_the_rest(
        driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    ref = driver.create(cal, appointment("Planning", ft(2026, 5, 4, 9), ft(2026, 5, 4, 10),
                                         {NAMED_LOCATION: "Room 7", tags.BODY: "agenda"}))
    path = root / "Calendar" / ref.key
    text = text_of(path).replace("SUMMARY:Planning", "SUMMARY:Planning (moved)")
    text = text.replace("DTSTART:20260504T090000Z", "DTSTART:20260505T090000Z")
    text = text.replace("DTEND:20260504T100000Z", "DTEND:20260505T100000Z")
    text = text.replace("DESCRIPTION:agenda\r\n", "")
    path.write_text(text)
    later(path)
    entry = driver.scan(cal)[ref.key]
    assert entry.version != driver.version(ref)
    props = driver.backend.read_message(driver.ctx, cal, ref).props
    assert props[tags.SUBJECT] == "Planning (moved)"
    assert props[m.START_DATE] == ft(2026, 5, 5, 9)
    assert tags.BODY not in props  # removed outside
    assert props[NAMED_LOCATION] == "Room 7"  # not in the file: kept


def test_outside_contact_and_garbage(driver: Driver, root: Path) -> None:
    book = driver.folder(uri(root), "Contacts", container_class="IPF.Contact")
    (root / "Contacts" / "grace.vcf").write_text(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:grace\r\nFN:Grace Hopper\r\nN:Hopper;Grace;;;\r\n"
        "TEL;TYPE=cell,voice:tel:+1-555-0100\r\nitem1.EMAIL:grace@example.org\r\nEND:VCARD\r\n")
    (root / "Contacts" / "broken.vcf").write_bytes(b"\xff\xfe not a card")
    (root / "Contacts" / ".hidden.vcf").write_text("ignored")
    scan = driver.scan(book)
    assert set(scan) == {"grace.vcf", "broken.vcf"}
    grace = driver.backend.read_message(driver.ctx, book, driver.adopt(book, scan["grace.vcf"]))
    assert grace.props[tags.MESSAGE_CLASS] == "IPM.Contact"
    assert grace.props[tags.DISPLAY_NAME] == "Grace Hopper"
    assert grace.props[m.SURNAME] == "Hopper" and grace.props[m.GIVEN_NAME] == "Grace"
    assert grace.props[m.MOBILE_PHONE] == "+1-555-0100"
    broken = driver.backend.read_message(driver.ctx, book, driver.adopt(book, scan["broken.vcf"]))
    assert broken.props[tags.MESSAGE_CLASS] == "IPM.Contact"


def test_outside_delete(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    ref = driver.create(cal, appointment("x", ft(2026, 1, 1), ft(2026, 1, 1, 1)))
    os.unlink(root / "Calendar" / ref.key)
    assert driver.scan(cal) == {}
    with pytest.raises(NotFound):
        driver.backend.read_message(driver.ctx, cal, ref)
    assert list(driver.backend.read_properties_many(driver.ctx, cal, [ref], None)) == []


# --- moves and copies ----------------------------------------------------------------------


def test_move_keeps_uid_copy_gets_a_new_one(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    other = driver.folder(uri(root), "Holidays", container_class="IPF.Appointment")
    (root / "Calendar" / "khal-team-meeting@example.org.ics").write_text(KHAL_EVENT)
    ref = driver.adopt(cal, driver.scan(cal)["khal-team-meeting@example.org.ics"])
    driver.backend.set_properties(driver.ctx, cal, ref, {NAMED_LOCATION: "sidecar"}, [])
    new = driver.new_ref(ref)
    moved = driver.backend.move_message(driver.ctx, cal, other, ref, new)
    driver.forget(ref)
    new = driver.record(other, new, moved)
    assert moved.key == ref.key and items(root / "Calendar") == []
    assert text_of(root / "Holidays" / moved.key) == KHAL_EVENT
    assert driver.backend.read_message(driver.ctx, other, new).props[NAMED_LOCATION] == "sidecar"
    copy = driver.new_ref(new)
    copied = driver.backend.copy_message(driver.ctx, other, cal, new, copy)
    top = parse(text_of(root / "Calendar" / copied.key))
    uids = {e.first("UID").value for e in top.components("VEVENT")}  # type: ignore[union-attr]
    assert uids == {m.item_uid(driver.ctx.mailbox_guid, copy.mid)}
    assert top.components("VEVENT")[0].first("RRULE") is not None
    copy = driver.record(cal, copy, copied)
    assert driver.backend.read_message(driver.ctx, cal, copy).props[NAMED_LOCATION] == "sidecar"


def test_delete_message(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    ref = driver.create(cal, appointment("x", ft(2026, 1, 1), ft(2026, 1, 1, 1)))
    driver.backend.delete_message(driver.ctx, cal, ref)
    driver.backend.delete_message(driver.ctx, cal, ref)
    assert items(root / "Calendar") == []
    assert list((root / "Calendar" / ".groupware").glob("[mo]-*")) == []
    assert driver.scan(cal) == {}


def test_unknown_kind_of_message_ref_is_not_found(driver: Driver, root: Path) -> None:
    cal = driver.folder(uri(root), "Calendar", container_class="IPF.Appointment")
    with pytest.raises(NotFound):
        driver.backend.read_message(driver.ctx, cal, MessageRef(driver.index.new_id(), ":zz", 1))  # type: ignore[arg-type]
