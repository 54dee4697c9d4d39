"""Time zone structures of MS-OXOCAL and their iCalendar/Python equivalents.

* :class:`TimeZoneStruct` — PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39): one pair of
  rules, biases in minutes, transitions as SYSTEMTIME "nth weekday of month".
* :class:`TimeZoneDefinition` — PidLidAppointmentTimeZoneDefinition* (2.2.1.41):
  a key name plus a list of :class:`TZRule` effective from given years.
* :class:`RuleTz` — a :class:`datetime.tzinfo` that applies such a rule, so times in
  blobs (local wall clock) and PtypTime values (UTC) convert both ways.
* :func:`struct_from_zoneinfo` and :func:`struct_from_vtimezone` derive the rule from
  an IANA zone or a VTIMEZONE; :func:`vtimezone_lines` writes one (MS-OXCICAL 2.1.3.1.1.19).

Decoders raise :class:`~.errors.ConversionError` on short or malformed blobs.
"""

from __future__ import annotations

import datetime as dt
import functools
import struct
import zoneinfo
from dataclasses import dataclass, field

from groupware.convert.errors import ConversionError

DAY_NAMES = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")


@dataclass(frozen=True)
class SystemTime:
    """SYSTEMTIME (MS-DTYP 2.3.13) as used for transitions: wYear 0 means "every year",
    wDay is the week of the month (1-4, 5 = last) and wDayOfWeek 0 = Sunday."""

    year: int = 0
    month: int = 0
    day_of_week: int = 0
    day: int = 0
    hour: int = 0
    minute: int = 0
    second: int = 0
    milliseconds: int = 0

    _FMT = "<8H"

    def pack(self) -> bytes:
        return struct.pack(self._FMT, self.year, self.month, self.day_of_week, self.day,
                           self.hour, self.minute, self.second, self.milliseconds)

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> SystemTime:
        return cls(*struct.unpack_from(cls._FMT, data, offset))

    @property
    def is_set(self) -> bool:
        return self.month != 0

    def transition(self, year: int) -> dt.datetime:
        """The naive local time of this transition in ``year``."""
        if self.year:  # an absolute date
            return dt.datetime(self.year, self.month, max(1, self.day), self.hour, self.minute)
        first = dt.date(year, self.month, 1)
        shift = (self.day_of_week - (first.weekday() + 1) % 7) % 7
        day = first + dt.timedelta(days=shift + 7 * (min(self.day, 5) - 1))
        while day.month != self.month:  # "fifth" means the last one
            day -= dt.timedelta(days=7)
        return dt.datetime(day.year, day.month, day.day, self.hour, self.minute, self.second)


@dataclass(frozen=True)
class TimeZoneStruct:
    """PidLidTimeZoneStruct (MS-OXOCAL 2.2.1.39), 48 bytes.

    UTC = local + bias (+ daylight_bias during daylight time); biases in minutes.
    """

    bias: int = 0
    standard_bias: int = 0
    daylight_bias: int = 0
    standard_year: int = 0
    standard_date: SystemTime = field(default_factory=SystemTime)
    daylight_year: int = 0
    daylight_date: SystemTime = field(default_factory=SystemTime)

    SIZE = 48

    def pack(self) -> bytes:
        return (struct.pack("<iiiH", self.bias, self.standard_bias, self.daylight_bias,
                            self.standard_year)
                + self.standard_date.pack()
                + struct.pack("<H", self.daylight_year)
                + self.daylight_date.pack())

    @classmethod
    def unpack(cls, data: bytes) -> TimeZoneStruct:
        if len(data) < cls.SIZE:
            raise ConversionError(f"PidLidTimeZoneStruct needs 48 bytes, got {len(data)}")
        bias, sbias, dbias, syear = struct.unpack_from("<iiiH", data, 0)
        (dyear,) = struct.unpack_from("<H", data, 30)
        return cls(bias, sbias, dbias, syear, SystemTime.unpack(data, 14), dyear,
                   SystemTime.unpack(data, 32))

    @property
    def has_dst(self) -> bool:
        return self.daylight_date.is_set and self.standard_date.is_set

    def to_rule(self, year: int = 0, flags: int = 0) -> TZRule:
        return TZRule(flags, year, self.bias, self.standard_bias, self.daylight_bias,
                      self.standard_date, self.daylight_date)


@dataclass(frozen=True)
class TZRule:
    """TZRule (MS-OXOCAL 2.2.1.41.1), 66 bytes: a rule effective from ``year``."""

    flags: int
    year: int
    bias: int
    standard_bias: int
    daylight_bias: int
    standard_date: SystemTime
    daylight_date: SystemTime

    RECUR_CURRENT = 0x0001  # TZRULE_FLAG_RECUR_CURRENT_TZREG
    EFFECTIVE = 0x0002  # TZRULE_FLAG_EFFECTIVE_TZREG
    SIZE = 66

    def pack(self) -> bytes:
        return (struct.pack("<BBHHH", 0x02, 0x01, 0x003E, self.flags, self.year)
                + b"\x00" * 14
                + struct.pack("<iii", self.bias, self.standard_bias, self.daylight_bias)
                + self.standard_date.pack() + self.daylight_date.pack())

    @classmethod
    def unpack(cls, data: bytes, offset: int) -> TZRule:
        if len(data) < offset + cls.SIZE:
            raise ConversionError("TZRule truncated")
        major, _, _, flags, year = struct.unpack_from("<BBHHH", data, offset)
        if major != 0x02:
            raise ConversionError(f"TZRule major version {major:#x} is not 0x02")
        bias, sbias, dbias = struct.unpack_from("<iii", data, offset + 22)
        return cls(flags, year, bias, sbias, dbias, SystemTime.unpack(data, offset + 34),
                   SystemTime.unpack(data, offset + 50))

    def to_struct(self) -> TimeZoneStruct:
        return TimeZoneStruct(self.bias, self.standard_bias, self.daylight_bias, 0,
                              self.standard_date, 0, self.daylight_date)


@dataclass(frozen=True)
class TimeZoneDefinition:
    """PidLidAppointmentTimeZoneDefinition{Recur,StartDisplay,EndDisplay} (2.2.1.41)."""

    key_name: str
    rules: tuple[TZRule, ...]

    MAX_RULES = 1024

    def pack(self) -> bytes:
        key = self.key_name.encode("utf-16-le")
        header = struct.pack("<HH", 0x0002, len(self.key_name)) + key + struct.pack(
            "<H", len(self.rules))
        return (struct.pack("<BBH", 0x02, 0x01, len(header)) + header
                + b"".join(r.pack() for r in self.rules))

    @classmethod
    def unpack(cls, data: bytes) -> TimeZoneDefinition:
        if len(data) < 6:
            raise ConversionError("time zone definition truncated")
        major, _, header_size = struct.unpack_from("<BBH", data, 0)
        if major != 0x02:
            raise ConversionError(f"time zone definition major version {major:#x}")
        if len(data) < 4 + header_size or header_size < 6:
            raise ConversionError("time zone definition header truncated")
        _reserved, chars = struct.unpack_from("<HH", data, 4)
        if 8 + 2 * chars + 2 > 4 + header_size:
            raise ConversionError("time zone key name overruns the header")
        key = data[8 : 8 + 2 * chars].decode("utf-16-le", errors="replace")
        (count,) = struct.unpack_from("<H", data, 8 + 2 * chars)
        if count > cls.MAX_RULES:
            raise ConversionError(f"{count} time zone rules is too many")
        offset = 4 + header_size
        rules = tuple(TZRule.unpack(data, offset + i * TZRule.SIZE) for i in range(count))
        return cls(key, rules)

    def effective(self, year: int | None = None) -> TZRule | None:
        """The rule for ``year`` (the latest starting at or before it), else the
        rule flagged effective."""
        if not self.rules:
            return None
        if year is not None:
            fitting = [r for r in self.rules if r.year <= year]
            if fitting:
                return max(fitting, key=lambda r: r.year)
        flagged = [r for r in self.rules if r.flags & TZRule.EFFECTIVE]
        return flagged[0] if flagged else self.rules[-1]


class RuleTz(dt.tzinfo):
    """A tzinfo applying one :class:`TimeZoneStruct` every year."""

    def __init__(self, rule: TimeZoneStruct, name: str = "") -> None:
        self.rule = rule
        self.name = name or "Custom"

    def _is_dst(self, local: dt.datetime) -> bool:
        if not self.rule.has_dst:
            return False
        naive = local.replace(tzinfo=None)
        start = self.rule.daylight_date.transition(naive.year)
        end = self.rule.standard_date.transition(naive.year)
        if start < end:  # northern hemisphere
            return start <= naive < end
        return not end <= naive < start

    def utcoffset(self, when: dt.datetime | None) -> dt.timedelta:
        bias = self.rule.bias + self.rule.standard_bias
        if when is not None and self._is_dst(when):
            bias = self.rule.bias + self.rule.daylight_bias
        return dt.timedelta(minutes=-bias)

    def dst(self, when: dt.datetime | None) -> dt.timedelta:
        if when is not None and self._is_dst(when):
            return dt.timedelta(minutes=self.rule.standard_bias - self.rule.daylight_bias)
        return dt.timedelta(0)

    def tzname(self, when: dt.datetime | None) -> str:
        return self.name

    def fromutc(self, when: dt.datetime) -> dt.datetime:
        naive = when.replace(tzinfo=None)
        standard = naive - dt.timedelta(minutes=self.rule.bias + self.rule.standard_bias)
        if self._is_dst(standard):
            daylight = naive - dt.timedelta(minutes=self.rule.bias + self.rule.daylight_bias)
            return daylight.replace(tzinfo=self)
        return standard.replace(tzinfo=self)


UTC_STRUCT = TimeZoneStruct()


def _nth(day: dt.date) -> tuple[int, int]:
    """(week of month 1-5 where 5 = last, weekday with Sunday 0) of a date."""
    week = (day.day - 1) // 7 + 1
    if (day + dt.timedelta(days=7)).month != day.month:
        week = 5
    return week, (day.weekday() + 1) % 7


@functools.lru_cache(maxsize=512)
def struct_from_zoneinfo(name: str, year: int) -> TimeZoneStruct | None:
    """The rule an IANA zone follows in ``year``, as Windows would write it (cached:
    it scans the year hour by hour)."""
    try:
        zone = zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    year = min(max(year, 1971), 2099)
    base = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    transitions: list[tuple[dt.datetime, dt.timedelta, dt.timedelta]] = []
    prev = base.astimezone(zone).utcoffset() or dt.timedelta(0)
    hour = base
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    while hour < end:  # hourly scan; 8,760 steps once per zone and year
        nxt = hour + dt.timedelta(hours=1)
        offset = nxt.astimezone(zone).utcoffset() or dt.timedelta(0)
        if offset != prev:
            transitions.append((nxt, prev, offset))
            prev = offset
        hour = nxt
    jan = base.astimezone(zone)
    jul = dt.datetime(year, 7, 1, tzinfo=dt.UTC).astimezone(zone)
    jan_off = jan.utcoffset() or dt.timedelta(0)
    jul_off = jul.utcoffset() or dt.timedelta(0)
    if len(transitions) < 2 or jan_off == jul_off:
        offset = transitions[-1][2] if transitions else jan_off
        return TimeZoneStruct(bias=-int(offset.total_seconds() // 60))
    standard_off = min(jan_off, jul_off)
    daylight_off = max(jan_off, jul_off)
    to_daylight = next(t for t in transitions if t[2] == daylight_off)
    to_standard = next(t for t in transitions if t[2] == standard_off)

    def systemtime(moment: dt.datetime, old_offset: dt.timedelta) -> SystemTime:
        local = (moment + old_offset).replace(tzinfo=None)
        week, weekday = _nth(local.date())
        return SystemTime(0, local.month, weekday, week, local.hour, local.minute)

    return TimeZoneStruct(
        bias=-int(standard_off.total_seconds() // 60),
        standard_bias=0,
        daylight_bias=-int((daylight_off - standard_off).total_seconds() // 60),
        standard_date=systemtime(to_standard[0], to_standard[1]),
        daylight_date=systemtime(to_daylight[0], to_daylight[1]),
    )


def _offset_minutes(value: object) -> int:
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds() // 60)
    td = getattr(value, "td", None)
    return int(td.total_seconds() // 60) if isinstance(td, dt.timedelta) else 0


def struct_from_vtimezone(component: object, year: int) -> TimeZoneStruct | None:
    """A VTIMEZONE (icalendar ``Timezone``) -> the rule in force in ``year``.

    Takes the STANDARD and DAYLIGHT observances with the latest DTSTART not after
    ``year`` and reads their RRULE (BYMONTH + BYDAY such as ``-1SU``).
    """
    observances: dict[str, tuple[dt.datetime, object]] = {}
    walk = getattr(component, "walk", None)
    if walk is None:
        return None
    for sub in walk():
        name = getattr(sub, "name", "")
        if name not in ("STANDARD", "DAYLIGHT"):
            continue
        start = sub.get("DTSTART")
        start_dt = getattr(start, "dt", None)
        if not isinstance(start_dt, dt.datetime):
            continue
        if start_dt.year > year and name in observances:
            continue
        if name not in observances or observances[name][0] <= start_dt.replace(tzinfo=None):
            observances[name] = (start_dt.replace(tzinfo=None), sub)
    if "STANDARD" not in observances and "DAYLIGHT" not in observances:
        return None
    std = observances.get("STANDARD") or observances["DAYLIGHT"]
    std_sub = std[1]
    std_off = _offset_minutes(getattr(std_sub.get("TZOFFSETTO"), "td", None)  # type: ignore[attr-defined]
                              or std_sub.get("TZOFFSETTO"))  # type: ignore[attr-defined]
    if "DAYLIGHT" not in observances or "STANDARD" not in observances:
        return TimeZoneStruct(bias=-std_off)
    day_sub = observances["DAYLIGHT"][1]
    day_off = _offset_minutes(day_sub.get("TZOFFSETTO"))  # type: ignore[attr-defined]
    std_date = _observance_date(std_sub, std[0])
    day_date = _observance_date(day_sub, observances["DAYLIGHT"][0])
    if std_date is None or day_date is None:
        return TimeZoneStruct(bias=-std_off)
    return TimeZoneStruct(bias=-std_off, daylight_bias=-(day_off - std_off),
                          standard_date=std_date, daylight_date=day_date)


def _observance_date(sub: object, start: dt.datetime) -> SystemTime | None:
    rrule = sub.get("RRULE")  # type: ignore[attr-defined]
    if not rrule:
        week, weekday = _nth(start.date())
        return SystemTime(0, start.month, weekday, week, start.hour, start.minute)
    months = rrule.get("BYMONTH") or [start.month]
    bydays = rrule.get("BYDAY") or []
    if not bydays:
        return None
    byday = str(bydays[0]).upper()
    weekday_name = byday[-2:]
    if weekday_name not in DAY_NAMES:
        return None
    count_text = byday[:-2] or "1"
    try:
        count = int(count_text)
    except ValueError:
        return None
    if count < 0:
        count = 5
    return SystemTime(0, int(months[0]), DAY_NAMES.index(weekday_name), min(count, 5),
                      start.hour, start.minute)


def vtimezone_lines(tzid: str, rule: TimeZoneStruct) -> list[str]:
    """VTIMEZONE content lines for a rule (MS-OXCICAL 2.1.3.1.1.19)."""

    def offset(minutes: int) -> str:
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"

    std = -(rule.bias + rule.standard_bias)
    day = -(rule.bias + rule.daylight_bias)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    if not rule.has_dst:
        lines += ["BEGIN:STANDARD", "DTSTART:16010101T000000", f"TZOFFSETFROM:{offset(std)}",
                  f"TZOFFSETTO:{offset(std)}", "END:STANDARD", "END:VTIMEZONE"]
        return lines
    for kind, date, frm, to in (("STANDARD", rule.standard_date, day, std),
                                ("DAYLIGHT", rule.daylight_date, std, day)):
        nth = -1 if date.day >= 5 else date.day
        lines += [
            f"BEGIN:{kind}",
            f"DTSTART:1601{date.month:02d}01T{date.hour:02d}{date.minute:02d}00",
            f"RRULE:FREQ=YEARLY;BYDAY={nth}{DAY_NAMES[date.day_of_week]};BYMONTH={date.month}",
            f"TZOFFSETFROM:{offset(frm)}",
            f"TZOFFSETTO:{offset(to)}",
            f"END:{kind}",
        ]
    lines.append("END:VTIMEZONE")
    return lines
