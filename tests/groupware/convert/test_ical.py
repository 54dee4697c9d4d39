"""iCalendar <-> appointments and tasks (MS-OXCICAL), and iTIP in mail."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError
from groupware.convert.ical import goid_from_uid, ical_to_messages, message_to_ical, uid_from_goid
from groupware.convert.mapi_to_mime import mapi_to_mime
from groupware.convert.mime_to_mapi import mime_to_mapi
from groupware.convert.recurrence import AppointmentRecurrencePattern, from_minutes
from groupware.convert.timezones import TimeZoneStruct
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime

BERLIN = """BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
"""

SERIES = ("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:test\n" + BERLIN + """BEGIN:VEVENT
UID:series-1@example.com
DTSTAMP:20250101T000000Z
DTSTART;TZID=W. Europe Standard Time:20250303T100000
DTEND;TZID=W. Europe Standard Time:20250303T103000
SUMMARY:Weekly sync
LOCATION:Room 1
CATEGORIES:Work,Team
RRULE:FREQ=WEEKLY;BYDAY=MO,TH;UNTIL=20250403T090000Z
EXDATE;TZID=W. Europe Standard Time:20250306T100000
ORGANIZER;CN=Alice:mailto:alice@example.com
ATTENDEE;CN=Bob;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:bob@example.com
ATTENDEE;ROLE=OPT-PARTICIPANT;PARTSTAT=TENTATIVE:mailto:carol@example.com
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT10M
END:VALARM
END:VEVENT
BEGIN:VEVENT
UID:series-1@example.com
RECURRENCE-ID;TZID=W. Europe Standard Time:20250310T100000
DTSTART;TZID=W. Europe Standard Time:20250310T110000
DTEND;TZID=W. Europe Standard Time:20250310T113000
SUMMARY:Weekly sync (moved)
LOCATION:Room 1
END:VEVENT
END:VCALENDAR
""").replace("\n", "\r\n").encode()


def _utc(*args: int) -> int:
    return datetime_to_filetime(dt.datetime(*args, tzinfo=dt.UTC))


def test_recurring_event_to_appointment() -> None:
    (msg,) = ical_to_messages(SERIES)
    p = msg.props
    assert p[t.MESSAGE_CLASS] == "IPM.Appointment"
    assert p[t.APPT_START_WHOLE] == _utc(2025, 3, 3, 9, 0)  # 10:00 CET
    assert p[t.APPT_END_WHOLE] == _utc(2025, 3, 3, 9, 30)
    assert (p[t.APPT_DURATION], p[t.LOCATION], p[t.KEYWORDS]) == (30, "Room 1", ("Work", "Team"))
    assert (p[t.REMINDER_SET], p[t.REMINDER_DELTA]) == (True, 10)
    assert uid_from_goid(p[t.GLOBAL_OBJECT_ID]) == "series-1@example.com"  # type: ignore[arg-type]
    zone = TimeZoneStruct.unpack(p[t.TIME_ZONE_STRUCT])  # type: ignore[arg-type]
    assert (zone.bias, zone.daylight_bias, zone.daylight_date.month) == (-60, -60, 3)
    blob = AppointmentRecurrencePattern.unpack(p[t.APPT_RECUR])  # type: ignore[arg-type]
    assert (blob.start_time_offset, blob.end_time_offset) == (600, 630)  # local wall clock
    assert blob.pattern.days == 0x12  # Monday and Thursday
    assert from_minutes(blob.pattern.end_date) == dt.datetime(2025, 4, 3)
    assert blob.pattern.occurrence_count == 10
    deleted = [from_minutes(d).date() for d in blob.pattern.deleted]
    assert deleted == [dt.date(2025, 3, 6), dt.date(2025, 3, 10)]
    (exc,) = blob.exceptions
    assert from_minutes(exc.start) == dt.datetime(2025, 3, 10, 11, 0)
    assert exc.subject == "Weekly sync (moved)"
    (attachment,) = msg.attachments
    assert attachment.embedded is not None
    assert attachment.props[t.ATTACHMENT_FLAGS] == t.AFX_EXCEPTION
    replace = attachment.embedded.props[t.EXCEPTION_REPLACE_TIME]
    expected = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
    assert filetime_to_datetime(replace) == expected  # type: ignore[arg-type]
    roles = [(r.props[t.SMTP_ADDRESS], r.props[t.RECIPIENT_TYPE],
              r.props[t.RECIPIENT_TRACK_STATUS]) for r in msg.recipients]
    assert roles == [("alice@example.com", t.MAPI_TO, t.RESP_ORGANIZED),
                     ("bob@example.com", t.MAPI_TO, t.RESP_ACCEPTED),
                     ("carol@example.com", t.MAPI_CC, t.RESP_TENTATIVE)]


def test_appointment_round_trip_is_stable() -> None:
    (msg,) = ical_to_messages(SERIES)
    text = message_to_ical(msg)
    assert text == message_to_ical(msg)
    assert b"RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH;UNTIL=20250403T080000Z" in text
    assert b"EXDATE;TZID=W. Europe Standard Time:20250306T100000" in text
    assert b"RECURRENCE-ID;TZID=W. Europe Standard Time:20250310T100000" in text
    (again,) = ical_to_messages(text)
    for key in (t.APPT_START_WHOLE, t.APPT_END_WHOLE, t.APPT_RECUR, t.TIME_ZONE_STRUCT,
                t.SUBJECT, t.LOCATION, t.REMINDER_DELTA, t.GLOBAL_OBJECT_ID, t.KEYWORDS):
        assert again.props[key] == msg.props[key], key
    assert message_to_ical(again) == text


def test_all_day_and_free() -> None:
    data = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:d\r\n"
            b"DTSTART;VALUE=DATE:20250501\r\nDTEND;VALUE=DATE:20250502\r\nSUMMARY:Holiday\r\n"
            b"TRANSP:TRANSPARENT\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    (msg,) = ical_to_messages(data)
    assert msg.props[t.APPT_SUB_TYPE] is True
    assert msg.props[t.BUSY_STATUS] == 0
    assert msg.props[t.APPT_DURATION] == 1440
    text = message_to_ical(msg)
    assert b"DTSTART;VALUE=DATE:20250501" in text and b"TRANSP:TRANSPARENT" in text


def test_goid_round_trip() -> None:
    goid = goid_from_uid("plain-uid")
    assert goid.startswith(bytes.fromhex("040000008200E00074C5B7101A82E008"))
    assert uid_from_goid(goid) == "plain-uid"
    outlook = goid_from_uid(goid.hex().upper())
    assert outlook == goid


def test_vtodo_to_task_and_back() -> None:
    data = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VTODO\r\nUID:t1\r\n"
            b"SUMMARY:File taxes\r\nDUE;VALUE=DATE:20250415\r\nSTATUS:IN-PROCESS\r\n"
            b"PERCENT-COMPLETE:40\r\nPRIORITY:1\r\nEND:VTODO\r\nEND:VCALENDAR\r\n")
    (task,) = ical_to_messages(data)
    p = task.props
    assert p[t.MESSAGE_CLASS] == "IPM.Task"
    assert (p[t.TASK_STATUS], p[t.PERCENT_COMPLETE], p[t.IMPORTANCE]) == (1, 0.4, 2)
    assert p[t.TASK_DUE_DATE] == _utc(2025, 4, 15)
    text = message_to_ical(task)
    for line in (b"DUE;VALUE=DATE:20250415", b"STATUS:IN-PROCESS", b"PERCENT-COMPLETE:40"):
        assert line in text
    assert ical_to_messages(text)[0].props == task.props


def test_meeting_request_mail() -> None:
    mail = (b"From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: Invitation\r\n"
            b"Content-Type: multipart/alternative; boundary=x\r\n\r\n--x\r\n"
            b"Content-Type: text/plain\r\n\r\nPlease come\r\n--x\r\n"
            b"Content-Type: text/calendar; method=REQUEST; charset=utf-8\r\n\r\n"
            + SERIES.replace(b"VERSION:2.0", b"VERSION:2.0\r\nMETHOD:REQUEST") + b"\r\n--x--\r\n")
    msg = mime_to_mapi(mail)
    assert msg.props[t.MESSAGE_CLASS] == "IPM.Schedule.Meeting.Request"
    assert msg.props[t.SUBJECT] == "Invitation"
    assert msg.props[t.APPT_START_WHOLE] == _utc(2025, 3, 3, 9, 0)
    out = mapi_to_mime(msg)
    assert b"Content-Type: text/calendar; charset=utf-8; method=REQUEST" in out
    again = mime_to_mapi(out)
    assert again.props[t.MESSAGE_CLASS] == "IPM.Schedule.Meeting.Request"
    assert again.props[t.APPT_RECUR] == msg.props[t.APPT_RECUR]


@pytest.mark.parametrize("partstat,klass", [("ACCEPTED", "Resp.Pos"), ("DECLINED", "Resp.Neg")])
def test_replies_and_cancel(partstat: str, klass: str) -> None:
    def mail(method: str, attendee: str) -> bytes:
        return (b"From: b@example.com\r\nContent-Type: text/calendar; method=" + method.encode()
                + b"\r\n\r\nBEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nMETHOD:" + method.encode()
                + b"\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTART:20250101T100000Z\r\n"
                + b"ORGANIZER:mailto:a@example.com\r\n" + attendee.encode()
                + b"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    reply = mime_to_mapi(mail("REPLY", f"ATTENDEE;PARTSTAT={partstat}:mailto:b@example.com"))
    assert reply.props[t.MESSAGE_CLASS] == "IPM.Schedule.Meeting." + klass
    cancel = mime_to_mapi(mail("CANCEL", "ATTENDEE:mailto:b@example.com"))
    assert cancel.props[t.MESSAGE_CLASS] == "IPM.Schedule.Meeting.Canceled"
    assert int(cancel.props[t.APPT_STATE_FLAGS]) & t.ASF_CANCELED  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(
    lambda s: ("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + s
               + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n").encode()))
def test_garbage_calendars(data: bytes) -> None:
    try:
        messages = ical_to_messages(data)
    except ConversionError:
        return
    for msg in messages:
        message_to_ical(msg)
