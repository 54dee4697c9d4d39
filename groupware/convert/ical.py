"""iCalendar <-> MAPI calendar and task items (MS-OXCICAL, MS-OXOCAL, MS-OXOTASK).

Import (:func:`ical_to_messages`): each VEVENT series becomes one IPM.Appointment —
times in PidLidAppointmentStartWhole/EndWhole (UTC), all-day flag, location,
reminder (VALARM), free/busy (TRANSP, X-MICROSOFT-CDO-BUSYSTATUS), organizer and
attendees as recipients, UID as PidLidGlobalObjectId (MS-OXCICAL 2.1.3.1.1.20.26),
recurrence as PidLidAppointmentRecur with its time zone (PidLidTimeZoneStruct and
the TZ definitions) and every overridden instance (RECURRENCE-ID) both in the blob
and as an exception attachment (MS-OXOCAL 2.2.10). Each VTODO becomes an IPM.Task.

Export (:func:`message_to_ical`) writes the same back, deterministic byte for byte.
iCalendar parsing is the ``icalendar`` library's; what it does not know (the blobs,
Windows time zone structures) lives in :mod:`.recurrence` and :mod:`.timezones`.
"""

from __future__ import annotations

import datetime as dt
import logging
import struct
from dataclasses import dataclass
from typing import Any

from dateutil import rrule as du_rrule  # type: ignore[import-untyped]

from groupware.convert import _tags as t
from groupware.convert.errors import ConversionError, LimitExceeded
from groupware.convert.icaltext import date as fmt_date
from groupware.convert.icaltext import escape, param, render
from groupware.convert.icaltext import local as fmt_local
from groupware.convert.icaltext import utc as fmt_utc
from groupware.convert.model import Attachment, Message, Props, Recipient
from groupware.convert.recurrence import (
    AppointmentRecurrencePattern,
    EndType,
    ExceptionInfo,
    Freq,
    Override,
    PatternType,
    RecurrencePattern,
    from_minutes,
    minutes,
    pattern_from_rrule,
    rrule_from_pattern,
)
from groupware.convert.timezones import (
    UTC_STRUCT,
    RuleTz,
    TimeZoneDefinition,
    TimeZoneStruct,
    TZRule,
    struct_from_vtimezone,
    struct_from_zoneinfo,
    vtimezone_lines,
)
from groupware.mapi.entryids import OneOffEntryId
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime

log = logging.getLogger(__name__)

GOID_PREFIX = bytes.fromhex("040000008200E00074C5B7101A82E008")
VCAL_UID = b"vCal-Uid\x01\x00\x00\x00"
EXCEPTION_CLASS = "IPM.OLE.CLASS.{00061055-0000-0000-C000-000000000046}"
PRODID = "-//groupware//convert//EN"
_BUSY = {"FREE": 0, "TENTATIVE": 1, "BUSY": 2, "OOF": 3, "WORKINGELSEWHERE": 4}
_BUSY_NAMES = {v: k for k, v in _BUSY.items()}
_PARTSTAT = {"ACCEPTED": t.RESP_ACCEPTED, "DECLINED": t.RESP_DECLINED,
             "TENTATIVE": t.RESP_TENTATIVE, "NEEDS-ACTION": t.RESP_NONE}
_PARTSTAT_NAMES = {v: k for k, v in _PARTSTAT.items()}
_CLASS = {"PUBLIC": 0, "PRIVATE": 2, "CONFIDENTIAL": 3}
_CLASS_NAMES = {0: "PUBLIC", 1: "PRIVATE", 2: "PRIVATE", 3: "CONFIDENTIAL"}
_TASK_STATUS = {"NEEDS-ACTION": 0, "IN-PROCESS": 1, "COMPLETED": 2, "CANCELLED": 4}
_TASK_STATUS_NAMES = {0: "NEEDS-ACTION", 1: "IN-PROCESS", 2: "COMPLETED", 3: "NEEDS-ACTION",
                      4: "CANCELLED"}
_RECURRENCE_TYPE = {PatternType.DAY: 1, PatternType.WEEK: 2, PatternType.MONTH: 3,
                    PatternType.MONTH_END: 3, PatternType.MONTH_NTH: 5}


@dataclass(frozen=True)
class IcalOptions:
    default_tz: str = "UTC"
    """Zone for floating times and all-day dates."""
    max_size: int = 16 << 20
    max_components: int = 10_000


# --- global object ids ----------------------------------------------------------------------


def goid_from_uid(uid: str) -> bytes:
    """UID -> PidLidGlobalObjectId (MS-OXCICAL 2.1.3.1.1.20.26 and MS-OXOCAL 2.2.1.27)."""
    try:
        raw = bytes.fromhex(uid)
    except ValueError:
        raw = b""
    if raw.startswith(GOID_PREFIX) and len(raw) >= 40:
        return raw[:16] + b"\x00\x00\x00\x00" + raw[20:]  # the series, not an instance
    data = VCAL_UID + uid.encode("utf-8") + b"\x00"
    # ByteArrayId, instance date (none: the series), creation time, reserved, size, data
    return GOID_PREFIX + b"\x00" * 20 + struct.pack("<I", len(data)) + data


def uid_from_goid(goid: bytes) -> str:
    """The inverse: the vCal-Uid text when present, else the id in upper-case hex."""
    if len(goid) >= 40 and goid[40:48] == VCAL_UID[:8] and goid[40:52] == VCAL_UID:
        return goid[52:].rstrip(b"\x00").decode("utf-8", errors="replace")
    return goid.hex().upper()


# --- import -----------------------------------------------------------------------------------


def _parse(data: bytes, options: IcalOptions) -> Any:
    from icalendar import Calendar

    if len(data) > options.max_size:
        raise LimitExceeded(f"calendar of {len(data)} bytes exceeds {options.max_size}")
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except Exception as exc:  # the library raises ValueError, KeyError, IndexError ...
        raise ConversionError(f"not an iCalendar object: {exc}") from None
    if not calendars:
        raise ConversionError("no VCALENDAR found")
    return calendars[0]


def ical_to_messages(data: bytes, options: IcalOptions | None = None) -> list[Message]:
    """Every VEVENT series and VTODO of a VCALENDAR as appointment and task messages."""
    options = options or IcalOptions()
    cal = _parse(data, options)
    try:
        return _calendar_messages(cal, options)
    except ConversionError:
        raise
    except Exception as exc:  # malformed values the library lets through
        raise ConversionError(f"bad iCalendar content: {exc}") from None


def _calendar_messages(cal: Any, options: IcalOptions) -> list[Message]:
    zones = {str(z.get("TZID")): z for z in cal.walk("VTIMEZONE")}
    events = cal.walk("VEVENT")
    todos = cal.walk("VTODO")
    if len(events) + len(todos) > options.max_components:
        raise LimitExceeded("too many calendar components")
    series: dict[str, list[Any]] = {}
    for event in events:
        series.setdefault(str(event.get("UID", "")), []).append(event)
    out: list[Message] = []
    for uid, comps in series.items():
        masters = [c for c in comps if c.get("RECURRENCE-ID") is None]
        overrides = [c for c in comps if c.get("RECURRENCE-ID") is not None]
        for master in masters or overrides[:1]:
            out.append(event_to_message(master, overrides if masters else [], zones, options))
        if not uid:
            log.info("VEVENT without UID converted without a global object id")
    out.extend(todo_to_message(todo, zones, options) for todo in todos)
    return out


@dataclass
class _Zone:
    struct: TimeZoneStruct
    name: str
    tz: dt.tzinfo


def _zone_for(comp: Any, prop: str, zones: dict[str, Any], options: IcalOptions,
              year: int) -> _Zone:
    value = comp.get(prop)
    tzid = value.params.get("TZID") if value is not None else None
    decoded = comp.decoded(prop) if value is not None else None
    if tzid:
        found = None
        if tzid in zones:
            found = struct_from_vtimezone(zones[tzid], year)
        if found is None:
            found = struct_from_zoneinfo(tzid, year)
        if found is not None:
            return _Zone(found, tzid, RuleTz(found, tzid))
    if isinstance(decoded, dt.datetime) and decoded.tzinfo is not None:
        offset = decoded.utcoffset()
        if not offset:
            return _Zone(UTC_STRUCT, "UTC", dt.UTC)
        key = getattr(decoded.tzinfo, "key", None)
        if key:
            found = struct_from_zoneinfo(key, year)
            if found is not None:
                return _Zone(found, key, RuleTz(found, key))
    found = struct_from_zoneinfo(options.default_tz, year) or UTC_STRUCT
    return _Zone(found, options.default_tz, RuleTz(found, options.default_tz))


def _as_local(value: dt.date, zone: _Zone) -> dt.datetime:
    """A DTSTART-like value -> naive wall-clock time in ``zone``."""
    if not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    if value.tzinfo is None:
        return value
    if value.utcoffset() == dt.timedelta(0) and zone.name == "UTC":
        return value.replace(tzinfo=None)
    return value.astimezone(zone.tz).replace(tzinfo=None)


def _to_utc(local: dt.datetime, zone: _Zone) -> dt.datetime:
    return local.replace(tzinfo=zone.tz).astimezone(dt.UTC)


def _ft(when: dt.datetime) -> int:
    return datetime_to_filetime(when)


def _text(comp: Any, name: str) -> str | None:
    value = comp.get(name)
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0]
    return str(value)


def _common(comp: Any, p: Props) -> None:
    summary = _text(comp, "SUMMARY")
    if summary is not None:
        p[t.SUBJECT] = summary
        p[t.NORMALIZED_SUBJECT] = summary
        p[t.CONVERSATION_TOPIC] = summary
    description = _text(comp, "DESCRIPTION")
    if description is not None:
        p[t.BODY] = description.replace("\r\n", "\n").replace("\n", "\r\n")
    klass = _text(comp, "CLASS")
    if klass:
        p[t.SENSITIVITY] = _CLASS.get(klass.upper(), 0)
    priority = comp.get("PRIORITY")
    if priority is not None:
        try:
            level = int(priority)
        except (TypeError, ValueError):
            level = 0
        if level:
            p[t.IMPORTANCE] = 2 if level < 5 else 1 if level == 5 else 0
    categories: list[str] = []
    for value in comp.get("CATEGORIES", []) if isinstance(comp.get("CATEGORIES"), list) else (
            [comp.get("CATEGORIES")] if comp.get("CATEGORIES") is not None else []):
        categories.extend(str(c) for c in getattr(value, "cats", [value]))
    if categories:
        p[t.KEYWORDS] = tuple(categories)
    for name, tag in (("DTSTAMP", t.LAST_MODIFICATION_TIME), ("LAST-MODIFIED",
                      t.LAST_MODIFICATION_TIME), ("CREATED", t.CREATION_TIME)):
        if comp.get(name) is not None:
            when = comp.decoded(name)
            if isinstance(when, dt.datetime):
                p[tag] = _ft(when if when.tzinfo else when.replace(tzinfo=dt.UTC))


def _alarm(comp: Any, start_utc: dt.datetime | None, p: Props) -> None:
    for alarm in comp.walk("VALARM"):
        trigger = alarm.get("TRIGGER")
        if trigger is None:
            continue
        value = alarm.decoded("TRIGGER")
        if isinstance(value, dt.timedelta) and start_utc is not None:
            delta = int(-value.total_seconds() // 60)
            signal = start_utc - dt.timedelta(minutes=delta)
        elif isinstance(value, dt.datetime) and start_utc is not None:
            when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
            delta = int((start_utc - when).total_seconds() // 60)
            signal = when
        else:
            continue
        p[t.REMINDER_SET] = True
        p[t.REMINDER_DELTA] = max(delta, 0)
        p[t.REMINDER_SIGNAL_TIME] = _ft(signal)
        if start_utc is not None:
            p[t.REMINDER_TIME] = _ft(start_utc)
        return
    p[t.REMINDER_SET] = False


def _address(value: Any) -> tuple[str, str]:
    addr = str(value)
    if addr.lower().startswith("mailto:"):
        addr = addr[7:]
    name = str(getattr(value, "params", {}).get("CN", "") or "")
    return name, addr


def _people(comp: Any, msg: Message) -> bool:
    """ORGANIZER and ATTENDEE -> sender properties and recipient rows."""
    p = msg.props
    organizer = comp.get("ORGANIZER")
    org_addr = ""
    if organizer is not None:
        name, org_addr = _address(organizer)
        entry = OneOffEntryId(name or org_addr, "SMTP", org_addr).to_bytes()
        for tags in ((t.SENT_REPRESENTING_NAME, t.SENT_REPRESENTING_EMAIL_ADDRESS,
                      t.SENT_REPRESENTING_ADDRTYPE, t.SENT_REPRESENTING_SMTP_ADDRESS,
                      t.SENT_REPRESENTING_ENTRYID),
                     (t.SENDER_NAME, t.SENDER_EMAIL_ADDRESS, t.SENDER_ADDRTYPE,
                      t.SENDER_SMTP_ADDRESS, t.SENDER_ENTRYID)):
            p[tags[0]] = name or org_addr
            p[tags[1]] = org_addr
            p[tags[2]] = "SMTP"
            p[tags[3]] = org_addr
            p[tags[4]] = entry
    attendees = comp.get("ATTENDEE")
    if attendees is None:
        return False
    if not isinstance(attendees, list):
        attendees = [attendees]
    if organizer is not None:
        name, addr = _address(organizer)
        msg.recipients.append(_attendee_row(name, addr, t.MAPI_TO, t.RESP_ORGANIZED,
                                            t.RECIP_SENDABLE | t.RECIP_ORGANIZER, row=0))
    for attendee in attendees:
        name, addr = _address(attendee)
        if organizer is not None and addr.lower() == org_addr.lower():
            continue
        params = attendee.params
        cutype = str(params.get("CUTYPE", "")).upper()
        role = str(params.get("ROLE", "REQ-PARTICIPANT")).upper()
        rtype = t.MAPI_BCC if cutype in ("RESOURCE", "ROOM") else (
            t.MAPI_CC if role in ("OPT-PARTICIPANT", "NON-PARTICIPANT") else t.MAPI_TO)
        status = _PARTSTAT.get(str(params.get("PARTSTAT", "NEEDS-ACTION")).upper(), t.RESP_NONE)
        msg.recipients.append(_attendee_row(name, addr, rtype, status, t.RECIP_SENDABLE,
                                            row=len(msg.recipients)))
    return True


def _attendee_row(name: str, addr: str, rtype: int, status: int, flags: int, *,
                  row: int) -> Recipient:
    return Recipient({
        t.RECIPIENT_TYPE: rtype, t.DISPLAY_NAME: name or addr, t.EMAIL_ADDRESS: addr,
        t.ADDRTYPE: "SMTP", t.SMTP_ADDRESS: addr, t.RECIPIENT_TRACK_STATUS: status,
        t.RECIPIENT_FLAGS: flags, t.OBJECT_TYPE: t.MAPI_MAILUSER, t.DISPLAY_TYPE: 0,
        t.ROWID: row,
        t.ENTRYID: OneOffEntryId(name or addr, "SMTP", addr).to_bytes(),
    })


def _span(comp: Any, zone: _Zone) -> tuple[dt.datetime, dt.datetime, bool]:
    """Local (naive) start and end of a VEVENT and whether it is all-day."""
    start_value = comp.decoded("DTSTART")
    all_day = not isinstance(start_value, dt.datetime)
    start = _as_local(start_value, zone)
    if comp.get("DTEND") is not None:
        end = _as_local(comp.decoded("DTEND"), zone)
    elif comp.get("DURATION") is not None:
        end = start + comp.decoded("DURATION")
    else:
        end = start + (dt.timedelta(days=1) if all_day else dt.timedelta(0))
    return start, max(end, start), all_day


def event_to_message(comp: Any, overrides: list[Any], zones: dict[str, Any],
                     options: IcalOptions) -> Message:
    """One VEVENT (plus its RECURRENCE-ID overrides) -> an IPM.Appointment."""
    msg = Message()
    p = msg.props
    p[t.MESSAGE_CLASS] = "IPM.Appointment"
    if comp.get("DTSTART") is None:
        raise ConversionError("VEVENT without DTSTART")
    start_value = comp.decoded("DTSTART")
    zone = _zone_for(comp, "DTSTART", zones, options, start_value.year)
    start, end, all_day = _span(comp, zone)
    start_utc, end_utc = _to_utc(start, zone), _to_utc(end, zone)
    _common(comp, p)
    for tag in (t.APPT_START_WHOLE, t.START_DATE, t.COMMON_START):
        p[tag] = _ft(start_utc)
    for tag in (t.APPT_END_WHOLE, t.END_DATE, t.COMMON_END):
        p[tag] = _ft(end_utc)
    p[t.APPT_DURATION] = int((end - start).total_seconds() // 60)
    p[t.APPT_SUB_TYPE] = all_day
    location = _text(comp, "LOCATION")
    if location is not None:
        p[t.LOCATION] = location
    busy = _text(comp, "X-MICROSOFT-CDO-BUSYSTATUS")
    if busy and busy.upper() in _BUSY:
        p[t.BUSY_STATUS] = _BUSY[busy.upper()]
    else:
        transparent = (_text(comp, "TRANSP") or "OPAQUE").upper() == "TRANSPARENT"
        p[t.BUSY_STATUS] = 0 if transparent else 2
    sequence = comp.get("SEQUENCE")
    p[t.APPT_SEQUENCE] = int(sequence) if sequence is not None else 0
    state = 0
    if _people(comp, msg):
        state |= t.ASF_MEETING
    if (_text(comp, "STATUS") or "").upper() == "CANCELLED":
        state |= t.ASF_CANCELED
    p[t.APPT_STATE_FLAGS] = state
    uid = _text(comp, "UID")
    if uid:
        goid = goid_from_uid(uid)
        p[t.GLOBAL_OBJECT_ID] = goid
        p[t.CLEAN_GLOBAL_OBJECT_ID] = goid
    _alarm(comp, start_utc, p)
    p[t.TIME_ZONE_DESCRIPTION] = zone.name
    definition = TimeZoneDefinition(zone.name, (zone.struct.to_rule(0, TZRule.EFFECTIVE),))
    p[t.TZDEF_START_DISPLAY] = definition.pack()
    p[t.TZDEF_END_DISPLAY] = definition.pack()
    recurring = comp.get("RRULE") is not None
    p[t.RECURRING] = recurring
    p[t.IS_RECURRING] = recurring
    if recurring:
        _recurrence(comp, overrides, msg, zone, start=start, end=end, zones=zones,
                    options=options)
    else:
        p[t.RECURRENCE_TYPE] = 0
    return msg


def _rrule_dict(comp: Any) -> dict[str, list[object]]:
    rule = comp.get("RRULE")
    if isinstance(rule, list):
        rule = rule[0]
    return {str(k).upper(): list(v) for k, v in rule.items()}


def _expand(comp: Any, rule: dict[str, list[object]], start: dt.datetime,
            zone: _Zone) -> list[dt.datetime]:
    """Local starts of the series, bounded, for COUNT/UNTIL ends (dateutil)."""
    if "COUNT" not in rule and "UNTIL" not in rule:
        return []
    text = comp.get("RRULE")
    if isinstance(text, list):
        text = text[0]
    parts = [part for part in text.to_ical().decode().split(";")
             if not part.upper().startswith("UNTIL=")]
    parsed = du_rrule.rrulestr(";".join(parts), dtstart=start)
    if "UNTIL" in rule:
        until = rule["UNTIL"][0]
        if isinstance(until, dt.datetime):
            until_local = _as_local(until, zone) if until.tzinfo else until
        else:
            assert isinstance(until, dt.date)
            until_local = dt.datetime(until.year, until.month, until.day, 23, 59, 59)
        parsed = parsed.replace(until=until_local)
    out: list[dt.datetime] = []
    for occurrence in parsed:
        out.append(occurrence)
        if len(out) >= 5000:
            break
    return out


def _exdates(comp: Any, zone: _Zone) -> list[dt.datetime]:
    values = comp.get("EXDATE")
    if values is None:
        return []
    if not isinstance(values, list):
        values = [values]
    out: list[dt.datetime] = []
    for value in values:
        for item in value.dts:
            out.append(_as_local(item.dt, zone))
    return out


def _recurrence(comp: Any, overrides: list[Any], msg: Message, zone: _Zone, *,
                start: dt.datetime, end: dt.datetime, zones: dict[str, Any],
                options: IcalOptions) -> None:
    p = msg.props
    rule = _rrule_dict(comp)
    occurrences = _expand(comp, rule, start, zone)
    pattern = pattern_from_rrule(rule, start, occurrences)
    if comp.get("RDATE") is not None:
        log.info("RDATE cannot be stored in PidLidAppointmentRecur; ignored")
    deleted = {minutes(d.date()) for d in _exdates(comp, zone)}
    infos: list[ExceptionInfo] = []
    modified: set[int] = set()
    for override in sorted(overrides, key=lambda c: str(c.get("RECURRENCE-ID").to_ical())):
        original = _as_local(override.decoded("RECURRENCE-ID"), zone)
        attachment, info = _exception(override, original, msg, zone, zones=zones,
                                      options=options)
        deleted.add(minutes(original.date()))
        modified.add(minutes(from_minutes(info.start).date()))
        infos.append(info)
        msg.attachments.append(attachment)
    pattern = RecurrencePattern(**{**pattern.__dict__, "deleted": tuple(sorted(deleted)),
                                   "modified": tuple(sorted(modified))})
    start_offset = start.hour * 60 + start.minute
    blob = AppointmentRecurrencePattern(
        pattern, start_offset, start_offset + int((end - start).total_seconds() // 60),
        tuple(infos))
    p[t.APPT_RECUR] = blob.pack()
    p[t.RECURRENCE_TYPE] = _RECURRENCE_TYPE.get(pattern.pattern_type, 1) + (
        1 if pattern.frequency == Freq.YEARLY and pattern.pattern_type != PatternType.WEEK
        else 0)
    p[t.TIME_ZONE_STRUCT] = zone.struct.pack()
    p[t.TZDEF_RECUR] = TimeZoneDefinition(
        zone.name, (zone.struct.to_rule(0, TZRule.EFFECTIVE | TZRule.RECUR_CURRENT),)).pack()
    p[t.CLIP_START] = _ft(_to_utc(from_minutes(pattern.start_date), zone))
    if pattern.end_type in (EndType.NEVER, EndType.NEVER2):
        p[t.CLIP_END] = _ft(dt.datetime(4500, 8, 31, 23, 59, tzinfo=dt.UTC))
    else:
        p[t.CLIP_END] = _ft(_to_utc(from_minutes(pattern.end_date), zone))


def _exception(override: Any, original: dt.datetime, master: Message, zone: _Zone, *,
               zones: dict[str, Any], options: IcalOptions) -> tuple[Attachment, ExceptionInfo]:
    """An overridden instance -> exception attachment (MS-OXOCAL 2.2.10) + ExceptionInfo."""
    start, end, _ = _span(override, zone)
    embedded = event_to_message(override, [], zones, options)
    embedded.props[t.MESSAGE_CLASS] = EXCEPTION_CLASS
    embedded.props[t.EXCEPTION_REPLACE_TIME] = _ft(_to_utc(original, zone))
    for tag in (t.GLOBAL_OBJECT_ID, t.CLEAN_GLOBAL_OBJECT_ID, t.RECURRING, t.IS_RECURRING):
        embedded.props.pop(tag, None)
    flags = 0
    values: dict[str, Any] = {}
    mp, ep = master.props, embedded.props
    if ep.get(t.SUBJECT) != mp.get(t.SUBJECT):
        flags |= Override.SUBJECT
        values["subject"] = str(ep.get(t.SUBJECT, ""))
    if ep.get(t.LOCATION) != mp.get(t.LOCATION):
        flags |= Override.LOCATION
        values["location"] = str(ep.get(t.LOCATION, ""))
    if ep.get(t.BUSY_STATUS) != mp.get(t.BUSY_STATUS):
        flags |= Override.BUSYSTATUS
        values["busy_status"] = ep.get(t.BUSY_STATUS)
    if ep.get(t.REMINDER_SET) != mp.get(t.REMINDER_SET):
        flags |= Override.REMINDER
        values["reminder_set"] = int(bool(ep.get(t.REMINDER_SET)))
    if ep.get(t.REMINDER_DELTA) != mp.get(t.REMINDER_DELTA) and t.REMINDER_DELTA in ep:
        flags |= Override.REMINDERDELTA
        values["reminder_delta"] = ep[t.REMINDER_DELTA]
    info = ExceptionInfo(minutes(start), minutes(end), minutes(original), flags, **values)
    attachment = Attachment({
        t.ATTACH_METHOD: t.AFEMBEDDEDMESSAGE, t.ATTACHMENT_HIDDEN: True,
        t.ATTACHMENT_FLAGS: t.AFX_EXCEPTION, t.ATTACHMENT_LINKID: 0,
        t.ATTACH_FLAGS: 0, t.RENDERING_POSITION: -1, t.OBJECT_TYPE: t.MAPI_ATTACH,
        t.DISPLAY_NAME: str(ep.get(t.SUBJECT, "")),
        t.EXCEPTION_STARTTIME: _ft(start.replace(tzinfo=dt.UTC)),  # local time, as specified
        t.EXCEPTION_ENDTIME: _ft(end.replace(tzinfo=dt.UTC)),
    }, embedded)
    return attachment, info


def todo_to_message(comp: Any, zones: dict[str, Any], options: IcalOptions) -> Message:
    """A VTODO -> IPM.Task (MS-OXOTASK 2.2.2.2)."""
    msg = Message()
    p = msg.props
    p[t.MESSAGE_CLASS] = "IPM.Task"
    _common(comp, p)
    due_utc: dt.datetime | None = None
    for prop, tag in (("DTSTART", t.TASK_START_DATE), ("DUE", t.TASK_DUE_DATE),
                      ("COMPLETED", t.TASK_DATE_COMPLETED)):
        if comp.get(prop) is None:
            continue
        value = comp.decoded(prop)
        zone = _zone_for(comp, prop, zones, options, value.year)
        local = _as_local(value, zone)
        # MS-OXOTASK 2.2.2.2.4: task dates are midnight of the local date, stored as UTC.
        p[tag] = _ft(dt.datetime(local.year, local.month, local.day, tzinfo=dt.UTC))
        if prop == "DUE":
            due_utc = _to_utc(local, zone)
    status = (_text(comp, "STATUS") or "NEEDS-ACTION").upper()
    p[t.TASK_STATUS] = _TASK_STATUS.get(status, 0)
    percent = comp.get("PERCENT-COMPLETE")
    fraction = int(percent) / 100 if percent is not None else (1.0 if status == "COMPLETED"
                                                                else 0.0)
    p[t.PERCENT_COMPLETE] = float(fraction)
    p[t.TASK_COMPLETE] = status == "COMPLETED"
    uid = _text(comp, "UID")
    if uid:
        p[t.ICAL_UID] = uid
    _alarm(comp, due_utc, p)
    p[t.TASK_F_RECURRING] = False
    if comp.get("RRULE") is not None and comp.get("DTSTART") is not None:
        value = comp.decoded("DTSTART")
        zone = _zone_for(comp, "DTSTART", zones, options, value.year)
        start = _as_local(value, zone)
        rule = _rrule_dict(comp)
        pattern = pattern_from_rrule(rule, start, _expand(comp, rule, start, zone))
        p[t.TASK_RECURRENCE] = pattern.pack()
        p[t.TASK_F_RECURRING] = True
    return msg


# --- export -----------------------------------------------------------------------------------


def _get_time(props: Props, key: Any) -> dt.datetime | None:
    value = props.get(key)
    return filetime_to_datetime(value) if isinstance(value, int) and not isinstance(
        value, bool) else None


def _zone_of(msg: Message) -> _Zone:
    p = msg.props
    name = p.get(t.TIME_ZONE_DESCRIPTION)
    name = name if isinstance(name, str) and name else ""
    for key in (t.TZDEF_RECUR, t.TZDEF_START_DISPLAY):
        blob = p.get(key)
        if isinstance(blob, bytes):
            try:
                definition = TimeZoneDefinition.unpack(blob)
            except ConversionError:
                continue
            rule = definition.effective()
            if rule is not None:
                tzname = name or definition.key_name or "Custom"
                return _Zone(rule.to_struct(), tzname, RuleTz(rule.to_struct(), tzname))
    blob = p.get(t.TIME_ZONE_STRUCT)
    if isinstance(blob, bytes):
        try:
            struct_ = TimeZoneStruct.unpack(blob)
            return _Zone(struct_, name or "Custom", RuleTz(struct_, name or "Custom"))
        except ConversionError:
            pass
    return _Zone(UTC_STRUCT, "UTC", dt.UTC)


def _when(prop: str, when: dt.datetime, zone: _Zone, all_day: bool) -> str:
    local = when.astimezone(zone.tz)
    if all_day:
        return f"{prop};VALUE=DATE:{fmt_date(local)}"
    if zone.name == "UTC":
        return f"{prop}:{fmt_utc(when)}"
    return f"{prop};TZID={param(zone.name)}:{fmt_local(local.replace(tzinfo=None))}"


def _common_lines(p: Props) -> list[str]:
    lines: list[str] = []
    subject = p.get(t.SUBJECT)
    if isinstance(subject, str):
        lines.append(f"SUMMARY:{escape(subject)}")
    body = p.get(t.BODY)
    if isinstance(body, str) and body:
        lines.append(f"DESCRIPTION:{escape(body)}")
    sensitivity = p.get(t.SENSITIVITY)
    if isinstance(sensitivity, int) and sensitivity:
        lines.append(f"CLASS:{_CLASS_NAMES.get(sensitivity, 'PUBLIC')}")
    importance = p.get(t.IMPORTANCE)
    if isinstance(importance, int) and importance != 1:
        lines.append(f"PRIORITY:{1 if importance == 2 else 9}")
    keywords = p.get(t.KEYWORDS)
    if isinstance(keywords, tuple) and keywords:
        lines.append("CATEGORIES:" + ",".join(escape(str(k)) for k in keywords))
    return lines


def _alarm_lines(p: Props) -> list[str]:
    if p.get(t.REMINDER_SET) is not True:
        return []
    delta = p.get(t.REMINDER_DELTA)
    delta = delta if isinstance(delta, int) else 15
    return ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder",
            f"TRIGGER;RELATED=START:-PT{delta}M", "END:VALARM"]


def _person(prefix: str, props: Props, extra: str = "") -> str:
    found = props.get(t.SMTP_ADDRESS) or props.get(t.EMAIL_ADDRESS) or ""
    addr = found if isinstance(found, str) else ""
    name = props.get(t.DISPLAY_NAME)
    cn = f";CN={param(name)}" if isinstance(name, str) and name and name != addr else ""
    return f"{prefix}{cn}{extra}:mailto:{addr!s}"


def _event_lines(msg: Message, zone: _Zone, recurrence_id: dt.datetime | None = None,
                 uid: str | None = None) -> list[str]:
    p = msg.props
    start = _get_time(p, t.APPT_START_WHOLE) or _get_time(p, t.START_DATE)
    end = _get_time(p, t.APPT_END_WHOLE) or _get_time(p, t.END_DATE) or start
    all_day = p.get(t.APPT_SUB_TYPE) is True
    lines = ["BEGIN:VEVENT"]
    goid = p.get(t.GLOBAL_OBJECT_ID)
    if uid is None:
        uid = uid_from_goid(goid) if isinstance(goid, bytes) else str(p.get(t.ICAL_UID, ""))
    if uid:
        lines.append(f"UID:{uid}")
    stamp = _get_time(p, t.LAST_MODIFICATION_TIME) or _get_time(p, t.CREATION_TIME)
    if stamp is not None:
        lines.append(f"DTSTAMP:{fmt_utc(stamp)}")
    if recurrence_id is not None:
        lines.append(_when("RECURRENCE-ID", recurrence_id, zone, all_day))
    if start is not None:
        lines.append(_when("DTSTART", start, zone, all_day))
    if end is not None:
        lines.append(_when("DTEND", end, zone, all_day))
    lines += _common_lines(p)
    location = p.get(t.LOCATION)
    if isinstance(location, str) and location:
        lines.append(f"LOCATION:{escape(location)}")
    busy = p.get(t.BUSY_STATUS)
    if isinstance(busy, int):
        lines.append(f"TRANSP:{'TRANSPARENT' if busy == 0 else 'OPAQUE'}")
        lines.append(f"X-MICROSOFT-CDO-BUSYSTATUS:{_BUSY_NAMES.get(busy, 'BUSY')}")
    sequence = p.get(t.APPT_SEQUENCE)
    if isinstance(sequence, int):
        lines.append(f"SEQUENCE:{sequence}")
    state = p.get(t.APPT_STATE_FLAGS)
    if isinstance(state, int) and state & t.ASF_CANCELED:
        lines.append("STATUS:CANCELLED")
    organizer = next((r for r in msg.recipients
                      if isinstance(r.props.get(t.RECIPIENT_FLAGS), int)
                      and r.props[t.RECIPIENT_FLAGS] & t.RECIP_ORGANIZER), None)  # type: ignore[operator]
    if organizer is not None:
        lines.append(_person("ORGANIZER", organizer.props))
    elif isinstance(p.get(t.SENT_REPRESENTING_SMTP_ADDRESS), str) and msg.recipients:
        lines.append(_person("ORGANIZER", {t.SMTP_ADDRESS: p[t.SENT_REPRESENTING_SMTP_ADDRESS],
                                           t.DISPLAY_NAME: p.get(t.SENT_REPRESENTING_NAME)}))
    for row in msg.recipients:
        if row is organizer:
            continue
        rp = row.props
        rtype = rp.get(t.RECIPIENT_TYPE)
        role = "OPT-PARTICIPANT" if rtype == t.MAPI_CC else "REQ-PARTICIPANT"
        extra = f";ROLE={role}"
        if rtype == t.MAPI_BCC:
            extra = ";CUTYPE=RESOURCE;ROLE=NON-PARTICIPANT"
        status = rp.get(t.RECIPIENT_TRACK_STATUS)
        extra += f";PARTSTAT={_PARTSTAT_NAMES.get(status if isinstance(status, int) else 0, 'NEEDS-ACTION')}"  # noqa: E501
        lines.append(_person("ATTENDEE", rp, extra))
    return lines


def message_to_ical(msg: Message, method: str | None = None) -> bytes:
    """An appointment or task message -> a VCALENDAR (with VTIMEZONE when zoned)."""
    p = msg.props
    klass = str(p.get(t.MESSAGE_CLASS, ""))
    lines = ["BEGIN:VCALENDAR", f"PRODID:{PRODID}", "VERSION:2.0"]
    if method:
        lines.append(f"METHOD:{method}")
    if klass.startswith("IPM.Task"):
        lines += _todo_lines(msg)
        lines.append("END:VCALENDAR")
        return render(lines)
    zone = _zone_of(msg)
    if zone.name != "UTC":
        lines += vtimezone_lines(zone.name, zone.struct)
    event = _event_lines(msg, zone)
    uid = next((line[4:] for line in event if line.startswith("UID:")), None)
    blob = p.get(t.APPT_RECUR)
    overrides: list[list[str]] = []
    if isinstance(blob, bytes):
        try:
            recur = AppointmentRecurrencePattern.unpack(blob)
        except ConversionError as exc:
            log.warning("unreadable PidLidAppointmentRecur: %s", exc)
        else:
            event += _recurrence_lines(recur, zone, p.get(t.APPT_SUB_TYPE) is True)
            overrides = _override_events(msg, recur, zone, uid)
    event += _alarm_lines(p)
    event.append("END:VEVENT")
    lines += event
    for override in overrides:
        lines += override
    lines.append("END:VCALENDAR")
    return render(lines)


def _recurrence_lines(recur: AppointmentRecurrencePattern, zone: _Zone,
                      all_day: bool) -> list[str]:
    pattern = recur.pattern
    until = None
    if pattern.end_type == EndType.AFTER_DATE:
        last = from_minutes(pattern.end_date) + dt.timedelta(minutes=recur.start_time_offset)
        until = _to_utc(last, zone)
    lines = [f"RRULE:{rrule_from_pattern(pattern, until)}"]
    modified_originals = {minutes(from_minutes(e.original_start).date()) for e in recur.exceptions}
    for day in pattern.deleted:
        if day in modified_originals:
            continue
        original = from_minutes(day) + dt.timedelta(minutes=recur.start_time_offset)
        lines.append(_when("EXDATE", _to_utc(original, zone), zone, all_day))
    return lines


def _override_events(msg: Message, recur: AppointmentRecurrencePattern, zone: _Zone,
                     uid: str | None) -> list[list[str]]:
    out: list[list[str]] = []
    by_original = {}
    for att in msg.attachments:
        emb = att.embedded
        if emb is None:
            continue
        replace_time = _get_time(emb.props, t.EXCEPTION_REPLACE_TIME)
        if replace_time is not None:
            by_original[replace_time] = emb
    for info in recur.exceptions:
        original = _to_utc(from_minutes(info.original_start), zone)
        emb = by_original.get(original)
        if emb is None:  # only the blob knows: build the instance from the master
            emb = Message(dict(msg.props), list(msg.recipients))
            emb.props[t.APPT_START_WHOLE] = _ft(_to_utc(from_minutes(info.start), zone))
            emb.props[t.APPT_END_WHOLE] = _ft(_to_utc(from_minutes(info.end), zone))
            if info.subject is not None:
                emb.props[t.SUBJECT] = info.extended.subject or info.subject
            if info.location is not None:
                emb.props[t.LOCATION] = info.extended.location or info.location
            if info.busy_status is not None:
                emb.props[t.BUSY_STATUS] = info.busy_status
        lines = _event_lines(emb, zone, recurrence_id=original, uid=uid)
        lines += _alarm_lines(emb.props)
        lines.append("END:VEVENT")
        out.append(lines)
    return out


def _todo_lines(msg: Message) -> list[str]:
    p = msg.props
    lines = ["BEGIN:VTODO"]
    uid = p.get(t.ICAL_UID)
    if isinstance(uid, str):
        lines.append(f"UID:{uid}")
    stamp = _get_time(p, t.LAST_MODIFICATION_TIME)
    if stamp is not None:
        lines.append(f"DTSTAMP:{fmt_utc(stamp)}")
    for prop, key in (("DTSTART", t.TASK_START_DATE), ("DUE", t.TASK_DUE_DATE)):
        when = _get_time(p, key)
        if when is not None:
            lines.append(f"{prop};VALUE=DATE:{fmt_date(when)}")
    completed = _get_time(p, t.TASK_DATE_COMPLETED)
    if completed is not None:
        lines.append(f"COMPLETED:{fmt_utc(completed)}")
    lines += _common_lines(p)
    status = p.get(t.TASK_STATUS)
    lines.append(f"STATUS:{_TASK_STATUS_NAMES.get(status if isinstance(status, int) else 0)}")
    percent = p.get(t.PERCENT_COMPLETE)
    if isinstance(percent, (int, float)):
        lines.append(f"PERCENT-COMPLETE:{round(float(percent) * 100)}")
    blob = p.get(t.TASK_RECURRENCE)
    if isinstance(blob, bytes) and p.get(t.TASK_F_RECURRING) is True:
        try:
            lines.append(f"RRULE:{rrule_from_pattern(RecurrencePattern.unpack(blob))}")
        except ConversionError as exc:
            log.warning("unreadable PidLidTaskRecurrence: %s", exc)
    lines += _alarm_lines(p)
    lines.append("END:VTODO")
    return lines
