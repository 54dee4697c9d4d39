"""MS-OXOCAL recurrence blobs and time zone structures: the spec's bytes and round trips."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groupware.convert.errors import ConversionError
from groupware.convert.recurrence import (
    AppointmentRecurrencePattern,
    EndType,
    Freq,
    Override,
    PatternType,
    RecurrencePattern,
    first_date_time,
    from_minutes,
    pattern_from_rrule,
    rrule_from_pattern,
)
from groupware.convert.timezones import (
    RuleTz,
    SystemTime,
    TimeZoneDefinition,
    TimeZoneStruct,
    TZRule,
    struct_from_zoneinfo,
)

# MS-OXOCAL 4.1.1.3 "Daily Recurrence BLOB with Exceptions": every 3 days, 4/7/2011 to
# 5/4/2011, 8:00-8:30, the instances of 4/19 and 4/22 deleted.
SPEC_DAILY = bytes.fromhex(
    "043004300A2000000000A0050000E010000000000000212000000A0000000000000002000000A0C1DC0C"
    "80D2DC0C00000000207EDC0C0016DD0C0630000009300000E0010000FE01000000000000000000000000"
)
# MS-OXOCAL 4.1.1.2: weekly Mo/Th/Fr 10:00-10:30, 12 occurrences, the 4/16/2007 instance
# moved to 11:00 with a new subject and location.
SPEC_WEEKLY_EXCEPTION = bytes.fromhex(
    "043004300B2001000000C0210000010000000000000032000000222000000C0000000000000001000000"
    "A096BC0C01000000A096BC0C8020BC0C20ADBC0C0630000009300000580200007602000001003499BC0C"
    "5299BC0CF898BC0C11002200210053696D706C6520526563757272656E63652077697468206578636570"
    "74696F6E730800070033342F34313431000000000400000000000000000000003499BC0C5299BC0CF898"
    "BC0C2100530069006D0070006C006500200052006500630075007200720065006E006300650020007700"
    "690074006800200065007800630065007000740069006F006E0073000700330034002F00340031003400"
    "31000000000000000000"
)


def test_spec_daily_blob_decodes_to_documented_values() -> None:
    blob = AppointmentRecurrencePattern.unpack(SPEC_DAILY)
    p = blob.pattern
    assert len(SPEC_DAILY) == 0x54
    assert (p.frequency, p.pattern_type, p.period) == (Freq.DAILY, PatternType.DAY, 4320)
    assert p.first_date_time == 1440  # 215,776,800 % 4320
    assert p.end_type == EndType.AFTER_DATE and p.occurrence_count == 10
    assert from_minutes(p.start_date) == dt.datetime(2011, 4, 7)
    assert from_minutes(p.end_date) == dt.datetime(2011, 5, 4)
    assert [from_minutes(d).date() for d in p.deleted] == [dt.date(2011, 4, 19),
                                                           dt.date(2011, 4, 22)]
    assert (blob.start_time_offset, blob.end_time_offset) == (480, 510)
    assert blob.pack() == SPEC_DAILY
    assert first_date_time(Freq.DAILY, PatternType.DAY, 4320, dt.datetime(2011, 4, 7), 0) == 1440


def test_spec_weekly_blob_with_exception() -> None:
    blob = AppointmentRecurrencePattern.unpack(SPEC_WEEKLY_EXCEPTION)
    p = blob.pattern
    assert len(SPEC_WEEKLY_EXCEPTION) == 0x106
    assert p.days == 0x32  # Monday, Thursday, Friday
    assert (p.end_type, p.occurrence_count, p.first_date_time) == (EndType.AFTER_N, 12, 8640)
    (exc,) = blob.exceptions
    assert exc.flags == Override.SUBJECT | Override.LOCATION
    assert exc.subject == exc.extended.subject == "Simple Recurrence with exceptions"
    assert exc.location == exc.extended.location == "34/4141"
    assert from_minutes(exc.start) == dt.datetime(2007, 4, 16, 11, 0)
    assert from_minutes(exc.original_start) == dt.datetime(2007, 4, 16, 10, 0)
    assert blob.pack() == SPEC_WEEKLY_EXCEPTION
    start = from_minutes(p.start_date)
    assert first_date_time(p.frequency, p.pattern_type, p.period, start, 0) == 8640
    assert rrule_from_pattern(p) == "FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH,FR;COUNT=12;WKST=SU"


@pytest.mark.parametrize("rule,start,expect", [
    ({"FREQ": ["MONTHLY"], "BYDAY": ["2TU"]}, dt.datetime(2025, 1, 14, 9),
     (PatternType.MONTH_NTH, 0x04, 2)),
    ({"FREQ": ["MONTHLY"], "BYDAY": ["FR"], "BYSETPOS": [-1]}, dt.datetime(2025, 1, 31),
     (PatternType.MONTH_NTH, 0x20, 5)),
    ({"FREQ": ["YEARLY"], "BYMONTH": [3], "BYMONTHDAY": [15]}, dt.datetime(2025, 3, 15),
     (PatternType.MONTH, 0, 0)),
    ({"FREQ": ["DAILY"], "BYDAY": ["MO", "TU", "WE", "TH", "FR"]}, dt.datetime(2025, 1, 6),
     (PatternType.WEEK, 0x3E, 0)),
])
def test_rrule_templates(rule: dict[str, list[object]], start: dt.datetime,
                         expect: tuple[int, int, int]) -> None:
    pattern = pattern_from_rrule(rule, start, [])  # type: ignore[arg-type]
    assert (pattern.pattern_type, pattern.days, pattern.nth) == expect
    again = RecurrencePattern.unpack(pattern.pack())
    assert again == pattern
    assert rrule_from_pattern(again).startswith("FREQ=" + str(rule["FREQ"][0]))


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([(Freq.DAILY, PatternType.DAY), (Freq.WEEKLY, PatternType.WEEK),
                     (Freq.MONTHLY, PatternType.MONTH), (Freq.MONTHLY, PatternType.MONTH_NTH),
                     (Freq.YEARLY, PatternType.MONTH_END)]),
    st.integers(1, 1000), st.integers(0, 0x7F), st.integers(1, 5),
    st.lists(st.integers(0, 2**32 - 1), max_size=5), st.text(max_size=20),
    st.sampled_from([0x3008, 0x3009]),
)
def test_blob_round_trip(kind: tuple[int, int], period: int, days: int, nth: int,
                         dates: list[int], subject: str, writer: int) -> None:
    from groupware.convert.recurrence import ExceptionInfo, ExtendedException

    pattern = RecurrencePattern(kind[0], kind[1], 0, period, EndType.NEVER, 10, 1000, 2000,
                                days=days if kind[1] in (1, 3) else 0,
                                day_of_month=5 if kind[1] in (2, 4) else 0,
                                nth=nth if kind[1] == 3 else 0,
                                deleted=tuple(sorted(dates)), modified=tuple(sorted(dates)))
    exc = ExceptionInfo(1, 2, 3, Override.SUBJECT | Override.BUSYSTATUS,
                        subject=subject.encode("cp1252", "replace").decode("cp1252"),
                        busy_status=3,
                        extended=ExtendedException(
                            b"\x04\x00\x00\x00\x01\x00\x00\x00" if writer >= 0x3009 else None,
                            b"", 1, 2, 3, subject, None, b""))
    blob = AppointmentRecurrencePattern(pattern, 60, 90, (exc,), writer_version2=writer)
    data = blob.pack()
    assert AppointmentRecurrencePattern.unpack(data) == blob
    assert AppointmentRecurrencePattern.unpack(data).pack() == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_blobs_raise_conversion_error(data: bytes) -> None:
    for decoder in (AppointmentRecurrencePattern.unpack, RecurrencePattern.unpack,
                    TimeZoneDefinition.unpack, TimeZoneStruct.unpack):
        with contextlib.suppress(ConversionError):
            decoder(data)


def test_truncated_spec_blob_is_a_clear_error() -> None:
    with pytest.raises(ConversionError):
        AppointmentRecurrencePattern.unpack(SPEC_WEEKLY_EXCEPTION[:-5])


# --- time zones ---------------------------------------------------------------------------

PACIFIC = TimeZoneStruct(  # MS-OXOCAL 2.2.1.39 fields for US Pacific time since 2007
    bias=480, standard_bias=0, daylight_bias=-60,
    standard_date=SystemTime(0, 11, 0, 1, 2, 0, 0, 0),
    daylight_date=SystemTime(0, 3, 0, 2, 2, 0, 0, 0),
)


def test_pacific_struct_layout_and_zoneinfo() -> None:
    data = PACIFIC.pack()
    assert len(data) == 48
    assert data[:12] == bytes.fromhex("E0010000 00000000 C4FFFFFF")
    assert data[14:22] == bytes.fromhex("0000 0B00 0000 0100")  # year 0, November, Sunday, 1st
    assert TimeZoneStruct.unpack(data) == PACIFIC
    assert struct_from_zoneinfo("America/Los_Angeles", 2025) == PACIFIC


def test_rule_tz_matches_zoneinfo_across_a_year() -> None:
    import zoneinfo

    for name in ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata"):
        rule = struct_from_zoneinfo(name, 2025)
        assert rule is not None
        ours, real = RuleTz(rule), zoneinfo.ZoneInfo(name)
        when = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        while when.year == 2025:
            offsets = (when.astimezone(ours).utcoffset(), when.astimezone(real).utcoffset())
            assert offsets[0] == offsets[1], (name, when)
            when += dt.timedelta(hours=7)


def test_time_zone_definition_round_trip() -> None:
    definition = TimeZoneDefinition("Pacific Standard Time", (
        PACIFIC.to_rule(2006, 0), PACIFIC.to_rule(2007, TZRule.EFFECTIVE)))
    data = definition.pack()
    assert data[:4] == bytes.fromhex("0201") + (len(data) - 4 - 2 * 66).to_bytes(2, "little")
    again = TimeZoneDefinition.unpack(data)
    assert again == definition
    assert again.effective(2025) == definition.rules[1]
    assert again.effective(2006) == definition.rules[0]
