"""Recurrence blobs of MS-OXOCAL 2.2.1.44 and their RRULE equivalents (MS-OXCICAL 2.1.3.2.2).

:class:`RecurrencePattern` (2.2.1.44.1) is the part tasks use (PidLidTaskRecurrence);
:class:`AppointmentRecurrencePattern` (2.2.1.44.5, PidLidAppointmentRecur) adds the
time of day and per-exception overrides (:class:`ExceptionInfo` 2.2.1.44.2 with its
:class:`ExtendedException` 2.2.1.44.3). Decoding then encoding gives the same bytes,
reserved blocks included. Times inside are minutes since 1601-01-01 in the
appointment's local time zone.

:func:`pattern_from_rrule` / :func:`rrule_from_pattern` translate to and from the
iCalendar templates of MS-OXCICAL 2.1.3.2.2.x.
"""

from __future__ import annotations

import datetime as dt
import struct
from dataclasses import dataclass, field, replace

from groupware.convert.errors import ConversionError

EPOCH = dt.datetime(1601, 1, 1)
NO_END_DATE = 0x5AE980DF  # 31 Dec 4500, 23:59 (2.2.1.44.1)
MAX_INSTANCES = 10_000


class Freq:
    DAILY, WEEKLY, MONTHLY, YEARLY = 0x200A, 0x200B, 0x200C, 0x200D


class PatternType:
    DAY, WEEK, MONTH, MONTH_NTH, MONTH_END = 0x0, 0x1, 0x2, 0x3, 0x4
    HJ_MONTH, HJ_MONTH_NTH, HJ_MONTH_END = 0xA, 0xB, 0xC


class EndType:
    AFTER_DATE, AFTER_N, NEVER, NEVER2 = 0x2021, 0x2022, 0x2023, 0xFFFFFFFF


class Override:
    """OverrideFlags of ExceptionInfo (2.2.1.44.2)."""

    SUBJECT, MEETINGTYPE, REMINDERDELTA, REMINDER = 0x001, 0x002, 0x004, 0x008
    LOCATION, BUSYSTATUS, ATTACHMENT, SUBTYPE, APPTCOLOR = 0x010, 0x020, 0x040, 0x080, 0x100


def minutes(when: dt.datetime | dt.date) -> int:
    """Naive local datetime (or date) -> minutes since 1601-01-01."""
    if not isinstance(when, dt.datetime):
        when = dt.datetime(when.year, when.month, when.day)
    delta = when.replace(tzinfo=None) - EPOCH
    return delta.days * 1440 + delta.seconds // 60


def from_minutes(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(minutes=value)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ConversionError(f"recurrence blob truncated at byte {self.pos}")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def raw(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ConversionError(f"recurrence blob truncated at byte {self.pos}")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out

    def array(self, limit: int = MAX_INSTANCES) -> tuple[int, ...]:
        count = self.take("<I")
        if count > limit:
            raise ConversionError(f"{count} instance dates exceed the limit of {limit}")
        return tuple(self.take("<I") for _ in range(count))


@dataclass(frozen=True)
class RecurrencePattern:
    """RecurrencePattern (MS-OXOCAL 2.2.1.44.1)."""

    frequency: int
    pattern_type: int
    first_date_time: int
    period: int
    end_type: int
    occurrence_count: int
    start_date: int
    end_date: int
    calendar_type: int = 0
    sliding: int = 0
    days: int = 0  # Week / MonthNth: day bits, Sunday = 0x01
    day_of_month: int = 0  # Month / MonthEnd
    nth: int = 0  # MonthNth: 1-4, 5 = last
    first_dow: int = 0
    deleted: tuple[int, ...] = ()
    modified: tuple[int, ...] = ()
    reader_version: int = 0x3004
    writer_version: int = 0x3004

    def pack(self) -> bytes:
        out = struct.pack("<HHHHHIII", self.reader_version, self.writer_version, self.frequency,
                          self.pattern_type, self.calendar_type, self.first_date_time,
                          self.period, self.sliding)
        if self.pattern_type in (PatternType.WEEK,):
            out += struct.pack("<I", self.days)
        elif self.pattern_type in (PatternType.MONTH, PatternType.MONTH_END, PatternType.HJ_MONTH,
                                   PatternType.HJ_MONTH_END):
            out += struct.pack("<I", self.day_of_month)
        elif self.pattern_type in (PatternType.MONTH_NTH, PatternType.HJ_MONTH_NTH):
            out += struct.pack("<II", self.days, self.nth)
        out += struct.pack("<III", self.end_type, self.occurrence_count, self.first_dow)
        for dates in (self.deleted, self.modified):
            out += struct.pack(f"<I{len(dates)}I", len(dates), *dates)
        return out + struct.pack("<II", self.start_date, self.end_date)

    @classmethod
    def read(cls, r: _Reader) -> RecurrencePattern:
        reader_version, writer_version = r.take("<H"), r.take("<H")
        if reader_version != 0x3004 or writer_version != 0x3004:
            raise ConversionError(f"unknown recurrence pattern version {reader_version:#x}")
        frequency, pattern_type, calendar_type = r.take("<H"), r.take("<H"), r.take("<H")
        first, period, sliding = r.take("<I"), r.take("<I"), r.take("<I")
        days = day_of_month = nth = 0
        if pattern_type == PatternType.WEEK:
            days = r.take("<I")
        elif pattern_type in (PatternType.MONTH, PatternType.MONTH_END, PatternType.HJ_MONTH,
                              PatternType.HJ_MONTH_END):
            day_of_month = r.take("<I")
        elif pattern_type in (PatternType.MONTH_NTH, PatternType.HJ_MONTH_NTH):
            days, nth = r.take("<I"), r.take("<I")
        elif pattern_type != PatternType.DAY:
            raise ConversionError(f"unknown recurrence pattern type {pattern_type:#x}")
        end_type, count, first_dow = r.take("<I"), r.take("<I"), r.take("<I")
        deleted = r.array()
        modified = r.array()
        start, end = r.take("<I"), r.take("<I")
        return cls(frequency, pattern_type, first, period, end_type, count, start, end,
                   calendar_type, sliding, days, day_of_month, nth, first_dow, deleted,
                   modified, reader_version, writer_version)

    @classmethod
    def unpack(cls, data: bytes) -> RecurrencePattern:
        r = _Reader(data)
        return cls.read(r)


@dataclass(frozen=True)
class ExtendedException:
    """ExtendedException (2.2.1.44.3): Unicode subject/location, change highlight."""

    change_highlight: bytes | None = None  # ChangeHighlightSize + value + reserved, raw
    reserved_ee1: bytes = b""
    start: int = 0
    end: int = 0
    original_start: int = 0
    subject: str | None = None
    location: str | None = None
    reserved_ee2: bytes = b""


@dataclass(frozen=True)
class ExceptionInfo:
    """ExceptionInfo (2.2.1.44.2): one modified instance, only the overridden fields."""

    start: int
    end: int
    original_start: int
    flags: int = 0
    subject: str | None = None
    meeting_type: int | None = None
    reminder_delta: int | None = None
    reminder_set: int | None = None
    location: str | None = None
    busy_status: int | None = None
    attachment: int | None = None
    subtype: int | None = None
    color: int | None = None
    extended: ExtendedException = field(default_factory=ExtendedException)


@dataclass(frozen=True)
class AppointmentRecurrencePattern:
    """AppointmentRecurrencePattern (MS-OXOCAL 2.2.1.44.5), the PidLidAppointmentRecur value."""

    pattern: RecurrencePattern
    start_time_offset: int
    end_time_offset: int
    exceptions: tuple[ExceptionInfo, ...] = ()
    reserved1: bytes = b""
    reserved2: bytes = b""
    reader_version2: int = 0x3006
    writer_version2: int = 0x3009

    def pack(self) -> bytes:
        out = bytearray(self.pattern.pack())
        out += struct.pack("<IIIIH", self.reader_version2, self.writer_version2,
                           self.start_time_offset, self.end_time_offset, len(self.exceptions))
        for exc in self.exceptions:
            out += struct.pack("<IIIH", exc.start, exc.end, exc.original_start, exc.flags)
            if exc.flags & Override.SUBJECT:
                out += _string8(exc.subject or "")
            for flag, value in ((Override.MEETINGTYPE, exc.meeting_type),
                                (Override.REMINDERDELTA, exc.reminder_delta),
                                (Override.REMINDER, exc.reminder_set)):
                if exc.flags & flag:
                    out += struct.pack("<I", value or 0)
            if exc.flags & Override.LOCATION:
                out += _string8(exc.location or "")
            for flag, value in ((Override.BUSYSTATUS, exc.busy_status),
                                (Override.ATTACHMENT, exc.attachment),
                                (Override.SUBTYPE, exc.subtype),
                                (Override.APPTCOLOR, exc.color)):
                if exc.flags & flag:
                    out += struct.pack("<I", value or 0)
        out += struct.pack("<I", len(self.reserved1)) + self.reserved1
        for exc in self.exceptions:
            ext = exc.extended
            if self.writer_version2 >= 0x3009:
                out += ext.change_highlight if ext.change_highlight is not None else (
                    struct.pack("<II", 4, 0))
            out += struct.pack("<I", len(ext.reserved_ee1)) + ext.reserved_ee1
            if exc.flags & (Override.SUBJECT | Override.LOCATION):
                out += struct.pack("<III", ext.start or exc.start, ext.end or exc.end,
                                   ext.original_start or exc.original_start)
                if exc.flags & Override.SUBJECT:
                    text = ext.subject if ext.subject is not None else (exc.subject or "")
                    out += _string16(text)
                if exc.flags & Override.LOCATION:
                    text = ext.location if ext.location is not None else (exc.location or "")
                    out += _string16(text)
                out += struct.pack("<I", len(ext.reserved_ee2)) + ext.reserved_ee2
        out += struct.pack("<I", len(self.reserved2)) + self.reserved2
        return bytes(out)

    @classmethod
    def unpack(cls, data: bytes) -> AppointmentRecurrencePattern:
        r = _Reader(data)
        pattern = RecurrencePattern.read(r)
        reader2, writer2 = r.take("<I"), r.take("<I")
        start_offset, end_offset = r.take("<I"), r.take("<I")
        count = r.take("<H")
        if count > MAX_INSTANCES:
            raise ConversionError("too many exceptions")
        infos: list[ExceptionInfo] = []
        for _ in range(count):
            start, end, original, flags = r.take("<I"), r.take("<I"), r.take("<I"), r.take("<H")
            values: dict[str, object] = {}
            if flags & Override.SUBJECT:
                values["subject"] = _read_string8(r)
            for flag, name in ((Override.MEETINGTYPE, "meeting_type"),
                               (Override.REMINDERDELTA, "reminder_delta"),
                               (Override.REMINDER, "reminder_set")):
                if flags & flag:
                    values[name] = r.take("<I")
            if flags & Override.LOCATION:
                values["location"] = _read_string8(r)
            for flag, name in ((Override.BUSYSTATUS, "busy_status"),
                               (Override.ATTACHMENT, "attachment"),
                               (Override.SUBTYPE, "subtype"), (Override.APPTCOLOR, "color")):
                if flags & flag:
                    values[name] = r.take("<I")
            infos.append(ExceptionInfo(start, end, original, flags, **values))  # type: ignore[arg-type]
        reserved1 = r.raw(r.take("<I"))
        exceptions: list[ExceptionInfo] = []
        for info in infos:
            highlight = None
            if writer2 >= 0x3009:
                size = r.take("<I")
                highlight = struct.pack("<I", size) + r.raw(size)
            ee1 = r.raw(r.take("<I"))
            ext = ExtendedException(highlight, ee1)
            if info.flags & (Override.SUBJECT | Override.LOCATION):
                start, end, original = r.take("<I"), r.take("<I"), r.take("<I")
                subject = _read_string16(r) if info.flags & Override.SUBJECT else None
                location = _read_string16(r) if info.flags & Override.LOCATION else None
                ee2 = r.raw(r.take("<I"))
                ext = ExtendedException(highlight, ee1, start, end, original, subject, location,
                                        ee2)
            exceptions.append(replace(info, extended=ext))
        reserved2 = r.raw(r.take("<I"))
        if r.pos != len(data):
            raise ConversionError(f"{len(data) - r.pos} bytes after the recurrence blob")
        return cls(pattern, start_offset, end_offset, tuple(exceptions), reserved1, reserved2,
                   reader2, writer2)


def _string8(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return struct.pack("<HH", len(raw) + 1, len(raw)) + raw


def _read_string8(r: _Reader) -> str:
    _length, length2 = r.take("<H"), r.take("<H")
    return r.raw(length2).decode("cp1252", errors="replace")


def _string16(text: str) -> bytes:
    raw = text.encode("utf-16-le")
    return struct.pack("<H", len(raw) // 2) + raw


def _read_string16(r: _Reader) -> str:
    chars = r.take("<H")
    return r.raw(2 * chars).decode("utf-16-le", errors="replace")


# --- RRULE <-> pattern ------------------------------------------------------------------

WEEKDAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")


def first_date_time(frequency: int, pattern_type: int, period: int, start: dt.datetime,
                    first_dow: int) -> int:
    """FirstDateTime (2.2.1.44.1.1) for a series whose first instance is ``start``."""
    start_day = dt.datetime(start.year, start.month, start.day)
    if pattern_type == PatternType.DAY:
        return minutes(start_day) % max(period, 1)
    if pattern_type == PatternType.WEEK:
        sunday_based = (start_day.weekday() + 1) % 7
        week_start = start_day - dt.timedelta(days=(sunday_based - first_dow) % 7)
        return minutes(week_start) % (max(period, 1) * 10080)
    months = (start.year - 1601) * 12 + start.month - 1
    offset_months = months % max(period, 1)
    first = dt.datetime(1601 + offset_months // 12, offset_months % 12 + 1, 1)
    return minutes(first)


def _day_bits(bydays: list[str]) -> tuple[int, int]:
    """BYDAY values -> (day bit mask, nth or 0); ``2TU`` gives nth 2, ``-1FR`` nth 5."""
    mask = 0
    nth = 0
    for raw in bydays:
        value = raw.upper()
        name = value[-2:]
        if name not in WEEKDAYS:
            raise ConversionError(f"bad BYDAY value {value!r}")
        mask |= 1 << WEEKDAYS.index(name)
        prefix = value[:-2]
        if prefix:
            number = int(prefix)
            nth = 5 if number < 0 else min(number, 5)
    return mask, nth


def pattern_from_rrule(rule: dict[str, list[object]], start: dt.datetime,
                       occurrences: list[dt.datetime]) -> RecurrencePattern:
    """An RRULE (icalendar ``vRecur`` mapping, upper-case keys) -> RecurrencePattern.

    ``start`` is the local start of the first instance and ``occurrences`` the local
    starts of all instances (bounded), used for EndDate and OccurrenceCount.
    """
    freq = str(rule.get("FREQ", ["DAILY"])[0]).upper()
    interval = int(str(rule.get("INTERVAL", [1])[0]))
    bydays = [str(d) for d in rule.get("BYDAY", [])]
    setpos = [int(str(p)) for p in rule.get("BYSETPOS", [])]
    monthdays = [int(str(d)) for d in rule.get("BYMONTHDAY", [])]
    wkst = str(rule.get("WKST", ["SU"])[0]).upper()
    first_dow = WEEKDAYS.index(wkst) if wkst in WEEKDAYS else 0
    days = nth = day_of_month = 0
    if freq == "DAILY" and not bydays:
        frequency, ptype, period = Freq.DAILY, PatternType.DAY, 1440 * interval
    elif freq in ("DAILY", "WEEKLY"):
        frequency, ptype, period = Freq.WEEKLY, PatternType.WEEK, interval
        days, _ = _day_bits(bydays or [WEEKDAYS[(start.weekday() + 1) % 7]])
        if freq == "DAILY":
            frequency = Freq.DAILY  # "every weekday" is a daily frequency with a week pattern
    elif freq in ("MONTHLY", "YEARLY"):
        frequency = Freq.MONTHLY if freq == "MONTHLY" else Freq.YEARLY
        period = interval if freq == "MONTHLY" else 12 * interval
        if bydays:
            days, nth = _day_bits(bydays)
            if setpos:
                nth = 5 if setpos[0] < 0 else min(setpos[0], 5)
            ptype = PatternType.MONTH_NTH
            nth = nth or 1
        elif monthdays and monthdays[0] < 0:
            ptype, day_of_month = PatternType.MONTH_END, 31
        else:
            ptype = PatternType.MONTH
            day_of_month = monthdays[0] if monthdays else start.day
    else:
        raise ConversionError(f"FREQ={freq} cannot be stored in a recurrence pattern")
    if "COUNT" in rule:
        end_type = EndType.AFTER_N
        count = int(str(rule["COUNT"][0]))
    elif "UNTIL" in rule:
        end_type = EndType.AFTER_DATE
        count = len(occurrences)
    else:
        end_type, count = EndType.NEVER, 10
    start_day = dt.datetime(start.year, start.month, start.day)
    if end_type == EndType.NEVER:
        end_date = NO_END_DATE
    else:
        last = occurrences[-1] if occurrences else start
        end_date = minutes(dt.datetime(last.year, last.month, last.day))
    return RecurrencePattern(
        frequency=frequency, pattern_type=ptype,
        first_date_time=first_date_time(frequency, ptype, period, start, first_dow),
        period=period, end_type=end_type, occurrence_count=count,
        start_date=minutes(start_day), end_date=end_date, days=days,
        day_of_month=day_of_month, nth=nth, first_dow=first_dow,
    )


def rrule_from_pattern(p: RecurrencePattern, until: dt.datetime | None = None) -> str:
    """RecurrencePattern -> RRULE value text (MS-OXCICAL 2.1.3.2.2 templates).

    ``until`` is the UTC start of the last instance, needed when EndType is a date.
    """
    parts: list[str] = []
    if p.pattern_type == PatternType.DAY:
        parts += ["FREQ=DAILY", f"INTERVAL={max(p.period // 1440, 1)}"]
    elif p.pattern_type == PatternType.WEEK:
        freq = "DAILY" if p.frequency == Freq.DAILY and p.period == 1 else "WEEKLY"
        parts += [f"FREQ={freq}"]
        if freq == "WEEKLY":
            parts.append(f"INTERVAL={max(p.period, 1)}")
        parts.append("BYDAY=" + ",".join(d for i, d in enumerate(WEEKDAYS) if p.days >> i & 1))
    else:
        yearly = p.frequency == Freq.YEARLY or (p.period % 12 == 0 and p.period >= 12)
        interval = max(p.period // 12 if yearly else p.period, 1)
        parts += ["FREQ=YEARLY" if yearly else "FREQ=MONTHLY", f"INTERVAL={interval}"]
        if p.pattern_type in (PatternType.MONTH_NTH, PatternType.HJ_MONTH_NTH):
            parts.append("BYDAY=" + ",".join(d for i, d in enumerate(WEEKDAYS) if p.days >> i & 1))
            parts.append(f"BYSETPOS={-1 if p.nth >= 5 else p.nth}")
        elif p.pattern_type in (PatternType.MONTH_END, PatternType.HJ_MONTH_END):
            parts.append("BYMONTHDAY=-1")
        else:
            parts.append(f"BYMONTHDAY={p.day_of_month}")
        if yearly:
            start = from_minutes(p.start_date)
            parts.append(f"BYMONTH={start.month}")
    if p.end_type == EndType.AFTER_N:
        parts.append(f"COUNT={p.occurrence_count}")
    elif p.end_type == EndType.AFTER_DATE and until is not None:
        parts.append("UNTIL=" + until.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ"))
    if p.first_dow != 1 and p.pattern_type == PatternType.WEEK:
        parts.append(f"WKST={WEEKDAYS[p.first_dow % 7]}")
    return ";".join(parts)
