"""Which MAPI properties a vdir item file carries, both ways.

The full MS-OXCICAL / MS-OXVCARD mapping (recurrence, attendees, reminders, named
properties such as PidLidLocation or PidLidEmail1EmailAddress) belongs to
``groupware.convert`` and needs the store's named-property map; this module maps
the *tagged* properties that identify and list an item, so that items made in
Outlook show in khal/khard and edits made there show in Outlook:

========  =============================================================================
kind      mapped
========  =============================================================================
VEVENT    SUMMARY=PidTagSubject, DESCRIPTION=PidTagBody, DTSTART=PidTagStartDate,
          DTEND (or DTSTART+DURATION)=PidTagEndDate
VTODO     SUMMARY, DESCRIPTION
VJOURNAL  SUMMARY, DESCRIPTION
VCARD     FN=PidTagDisplayName, N=Surname;GivenName;MiddleName;DisplayNamePrefix;
          Generation, ORG=CompanyName;DepartmentName, TITLE=PidTagTitle,
          NOTE=PidTagBody, TEL by TYPE (work, home, cell)
========  =============================================================================

Everything else of an item survives in two places: unmapped lines stay in the file
(we patch, never regenerate, a file we did not create), unmapped properties stay in
the sidecar.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime
from groupware.types import PropTag
from storage.backends.vdir.contentlines import (
    Component,
    Line,
    escape_text,
    join_structured,
    split_structured,
    unescape_text,
)
from storage.mapistore import tags
from storage.mapistore.model import Props

logger = logging.getLogger(__name__)

START_DATE = PropTag(0x00600040)  # PidTagStartDate
END_DATE = PropTag(0x00610040)  # PidTagEndDate
SURNAME = PropTag(0x3A11001F)  # PidTagSurname
GIVEN_NAME = PropTag(0x3A06001F)  # PidTagGivenName
MIDDLE_NAME = PropTag(0x3A44001F)  # PidTagMiddleName
DISPLAY_NAME_PREFIX = PropTag(0x3A45001F)  # PidTagDisplayNamePrefix
GENERATION = PropTag(0x3A05001F)  # PidTagGeneration
COMPANY_NAME = PropTag(0x3A16001F)  # PidTagCompanyName
DEPARTMENT_NAME = PropTag(0x3A18001F)  # PidTagDepartmentName
TITLE = PropTag(0x3A17001F)  # PidTagTitle
BUSINESS_PHONE = PropTag(0x3A08001F)  # PidTagBusinessTelephoneNumber
HOME_PHONE = PropTag(0x3A09001F)  # PidTagHomeTelephoneNumber
MOBILE_PHONE = PropTag(0x3A1C001F)  # PidTagMobileTelephoneNumber

PRODID = "-//groupware//vdir backend//EN"
UID_NAMESPACE = uuid.UUID("8b6f2c1e-55a4-4c7e-9d0e-6a1f2f0b7c3d")

Resolve = Callable[[PropTag, object], str | bytes | None]
"""Reads a property value for writing into a file (BlobValues from the blob store)."""


@dataclass(frozen=True)
class Kind:
    component: str  # VEVENT, VTODO, VJOURNAL, VCARD
    ext: str
    message_class: str

    @property
    def is_card(self) -> bool:
        return self.component == "VCARD"


EVENT = Kind("VEVENT", ".ics", "IPM.Appointment")
TODO = Kind("VTODO", ".ics", "IPM.Task")
NOTE = Kind("VJOURNAL", ".ics", "IPM.StickyNote")
JOURNAL = Kind("VJOURNAL", ".ics", "IPM.Activity")
CARD = Kind("VCARD", ".vcf", "IPM.Contact")

EXTENSIONS = (".ics", ".vcf")
_BY_CLASS = (("IPM.APPOINTMENT", EVENT), ("IPM.TASK", TODO), ("IPM.STICKYNOTE", NOTE),
             ("IPM.ACTIVITY", JOURNAL), ("IPM.CONTACT", CARD))
_BY_CONTAINER = {"IPF.APPOINTMENT": EVENT, "IPF.TASK": TODO, "IPF.STICKYNOTE": NOTE,
                 "IPF.JOURNAL": JOURNAL, "IPF.CONTACT": CARD}


def kind_for_class(message_class: object) -> Kind | None:
    """The file kind of a message class; None for messages that stay sidecar-only."""
    if not isinstance(message_class, str):
        return None
    upper = message_class.upper()
    for prefix, kind in _BY_CLASS:
        if upper == prefix or upper.startswith(prefix + "."):
            return kind
    return None


def kind_for_folder(name: str, container_class: str) -> Kind:
    """The kind a file of a folder has when its content says nothing (unparsable)."""
    if name.endswith(".vcf"):
        return CARD
    return _BY_CONTAINER.get(".".join(container_class.upper().split(".")[:2]), EVENT)


def kind_for_file(name: str, top: Component, container_class: str) -> Kind:
    """The kind of a file another program wrote."""
    if name.endswith(".vcf") or top.name == "VCARD":
        return CARD
    folder_kind = _BY_CONTAINER.get(".".join(container_class.upper().split(".")[:2]))
    present = {c.name for c in top.components()}
    if "VEVENT" in present:
        return EVENT
    if "VTODO" in present:
        return TODO
    if "VJOURNAL" in present:
        return JOURNAL if folder_kind is JOURNAL else NOTE
    return folder_kind or EVENT


def item_uid(mailbox_guid: str, mid: int) -> str:
    """The UID of an item created through MAPI: stable for the MID, so a retried
    transaction writes the same file again instead of a second one."""
    return str(uuid.uuid5(UID_NAMESPACE, f"{mailbox_guid}/{mid:x}"))


def main_component(top: Component, kind: Kind) -> Component | None:
    """The component mapped to the message: the VCARD, or the master VEVENT/VTODO/
    VJOURNAL (the one without RECURRENCE-ID)."""
    if kind.is_card:
        return top if top.name == "VCARD" else None
    candidates = top.components(kind.component)
    for comp in candidates:
        if comp.first("RECURRENCE-ID") is None:
            return comp
    return candidates[0] if candidates else None


def uid_of(top: Component, kind: Kind) -> str | None:
    main = main_component(top, kind)
    line = None if main is None else main.first("UID")
    return None if line is None else line.value.strip()


# --- file -> properties ---------------------------------------------------------------


def props_from_item(top: Component, kind: Kind) -> Props:
    """The mapped properties an item file carries (absent ones are absent)."""
    props: Props = {}
    main = main_component(top, kind)
    if main is None:
        return props
    if kind.is_card:
        _card_props(main, props)
    else:
        _text_prop(main, "SUMMARY", tags.SUBJECT, props)
        _text_prop(main, "DESCRIPTION", tags.BODY, props)
        if kind is EVENT:
            start = _time_of(main, "DTSTART")
            if start is not None:
                props[START_DATE] = datetime_to_filetime(start)
                end = _event_end(main, start)
                props[END_DATE] = datetime_to_filetime(end)
    if kind.is_card and tags.DISPLAY_NAME in props:
        props[tags.SUBJECT] = props[tags.DISPLAY_NAME]
    if tags.SUBJECT in props:
        props[tags.NORMALIZED_SUBJECT] = props[tags.SUBJECT]
    return props


def mapped_tags(kind: Kind) -> tuple[PropTag, ...]:
    """Tags :func:`props_from_item` may set for ``kind`` (others are left alone)."""
    if kind.is_card:
        return (tags.DISPLAY_NAME, tags.SUBJECT, tags.NORMALIZED_SUBJECT, *_N_TAGS,
                COMPANY_NAME, DEPARTMENT_NAME, TITLE, tags.BODY, *_PHONES.values())
    base = (tags.SUBJECT, tags.NORMALIZED_SUBJECT, tags.BODY)
    return (*base, START_DATE, END_DATE) if kind is EVENT else base


_N_TAGS = (SURNAME, GIVEN_NAME, MIDDLE_NAME, DISPLAY_NAME_PREFIX, GENERATION)
_PHONES = {"CELL": MOBILE_PHONE, "HOME": HOME_PHONE, "WORK": BUSINESS_PHONE}


def _text_prop(comp: Component, name: str, tag: PropTag, props: Props) -> None:
    line = comp.first(name)
    if line is not None:
        props[tag] = unescape_text(line.value)


def _card_props(card: Component, props: Props) -> None:
    _text_prop(card, "FN", tags.DISPLAY_NAME, props)
    _text_prop(card, "TITLE", TITLE, props)
    _text_prop(card, "NOTE", tags.BODY, props)
    n = card.first("N")
    if n is not None:
        for tag, part in zip(_N_TAGS, split_structured(n.value), strict=False):
            if part:
                props[tag] = part
    org = card.first("ORG")
    if org is not None:
        for tag, part in zip((COMPANY_NAME, DEPARTMENT_NAME), split_structured(org.value),
                             strict=False):
            if part:
                props[tag] = part
    for type_name, line in _phone_lines(card).items():
        props[_PHONES[type_name]] = unescape_text(line.value).removeprefix("tel:")


# --- properties -> file ---------------------------------------------------------------


def new_item(kind: Kind, uid: str, props: Props,
             resolve: Resolve, now: dt.datetime) -> Component:
    """A minimal, valid item for a message created through MAPI."""
    if kind.is_card:
        card = Component("VCARD")
        card.set("VERSION", "3.0")
        card.set("UID", uid)
        patch_item(card, kind, props, resolve)
        if card.first("FN") is None:
            card.set("FN", "")
        if card.first("N") is None:
            card.set("N", ";;;;")
        return card
    top = Component("VCALENDAR")
    top.set("VERSION", "2.0")
    top.set("PRODID", PRODID)
    main = Component(kind.component)
    main.set("UID", uid)
    main.set("DTSTAMP", format_utc(now))
    top.items.append(main)
    patch_item(top, kind, props, resolve)
    return top


def patch_item(top: Component, kind: Kind, props: Props,
               resolve: Resolve) -> bool:
    """Make the mapped lines of an item say what ``props`` say; True if any changed.
    Lines of unmapped properties are never touched."""
    main = main_component(top, kind)
    if main is None:
        return False
    changed = False
    if kind.is_card:
        changed |= _patch_text(main, "FN", resolve(tags.DISPLAY_NAME,
                                                   props.get(tags.DISPLAY_NAME)))
        changed |= _patch_text(main, "TITLE", resolve(TITLE, props.get(TITLE)))
        changed |= _patch_text(main, "NOTE", resolve(tags.BODY, props.get(tags.BODY)))
        changed |= _patch_structured(main, "N", [props.get(t) for t in _N_TAGS])
        changed |= _patch_structured(main, "ORG", [props.get(COMPANY_NAME),
                                                   props.get(DEPARTMENT_NAME)])
        for type_name, tag in _PHONES.items():
            changed |= _patch_phone(main, type_name, props.get(tag))
        return changed
    changed |= _patch_text(main, "SUMMARY", resolve(tags.SUBJECT, props.get(tags.SUBJECT)))
    changed |= _patch_text(main, "DESCRIPTION", resolve(tags.BODY, props.get(tags.BODY)))
    if kind is EVENT:
        changed |= _patch_time(main, "DTSTART", props.get(START_DATE))
        end = props.get(END_DATE)
        if isinstance(end, int) and main.first("DURATION") is not None:
            start = _time_of(main, "DTSTART")
            if start is None or _event_end(main, start) != filetime_to_datetime(end):
                main.remove("DURATION")
                changed = True
        if main.first("DURATION") is None:
            changed |= _patch_time(main, "DTEND", end)
    return changed


def _patch_text(comp: Component, name: str, value: str | bytes | None) -> bool:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if value is None:
        return comp.remove(name)
    line = comp.first(name)
    if line is not None and unescape_text(line.value) == value:
        return False
    return comp.set(name, escape_text(value))


def _patch_structured(comp: Component, name: str, values: list[object]) -> bool:
    parts = [v if isinstance(v, str) else "" for v in values]
    line = comp.first(name)
    if line is not None:
        current = split_structured(line.value)
        current += [""] * (len(parts) - len(current))
        if current[:len(parts)] == parts:
            return False
        # keep components beyond those we map (ORG's sub-units)
        return comp.set(name, join_structured(parts + current[len(parts):]))
    if not any(parts):
        return False
    return comp.set(name, join_structured(parts))


def _phone_lines(card: Component) -> dict[str, Line]:
    """The TEL line each mapped phone type reads from (first line of that type; a
    line with several types serves the first of CELL, HOME, WORK only)."""
    out: dict[str, Line] = {}
    for line in card.lines("TEL"):
        types = set(line.param_values("TYPE"))
        for type_name in _PHONES:
            if type_name in types and type_name not in out:
                out[type_name] = line
                break
    return out


def _patch_phone(card: Component, type_name: str, value: object) -> bool:
    line = _phone_lines(card).get(type_name)
    wanted = value if isinstance(value, str) and value else None
    if line is not None:
        if wanted is None:
            card.items.remove(line)
            return True
        if unescape_text(line.value).removeprefix("tel:") == wanted:
            return False
        line.set_value(escape_text(wanted))
        return True
    if wanted is None:
        return False
    tels = card.lines("TEL")
    index = card.items.index(tels[-1]) + 1 if tels else len(card.items)
    card.items.insert(index, Line("TEL", [("TYPE", type_name.lower())], escape_text(wanted)))
    return True


def _patch_time(comp: Component, name: str, value: object) -> bool:
    """Times are set, never removed (an event without DTSTART is invalid)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return False
    when = filetime_to_datetime(value)
    line = comp.first(name)
    if line is not None:
        current = _parse_time(line.value, line.param("TZID"), line.param("VALUE"))
        if current == when:
            return False
        text, params = _format_like(when, line.params, line.value)
        line.set_value(text, params)
        return True
    return comp.set(name, format_utc(when))


# --- times ----------------------------------------------------------------------------

_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_DATETIME = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(Z?)$")
_DURATION = re.compile(
    r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def format_utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _zone(tzid: str | None) -> dt.tzinfo | None:
    if not tzid:
        return None
    try:
        return zoneinfo.ZoneInfo(tzid.strip().lstrip("/"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        logger.debug("unknown TZID %r, times read as UTC", tzid)
        return None


def _parse_time(value: str, tzid: str | None, value_type: str | None) -> dt.datetime | None:
    value = value.strip()
    m = _DATE.match(value)
    if m:
        y, mo, d = (int(g) for g in m.groups())
        return dt.datetime(y, mo, d, tzinfo=dt.UTC)
    m = _DATETIME.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    naive = dt.datetime(y, mo, d, h, mi, min(s, 59))
    if m.group(7):
        return naive.replace(tzinfo=dt.UTC)
    zone = _zone(tzid)
    return naive.replace(tzinfo=zone or dt.UTC).astimezone(dt.UTC)


def _time_of(comp: Component, name: str) -> dt.datetime | None:
    line = comp.first(name)
    if line is None:
        return None
    return _parse_time(line.value, line.param("TZID"), line.param("VALUE"))


def _event_end(main: Component, start: dt.datetime) -> dt.datetime:
    end = _time_of(main, "DTEND")
    if end is not None:
        return end
    duration = main.first("DURATION")
    if duration is not None:
        m = _DURATION.match(duration.value.strip())
        if m:
            sign = -1 if m.group(1) == "-" else 1
            w, d, h, mi, s = (int(g) if g else 0 for g in m.groups()[1:])
            return start + sign * dt.timedelta(weeks=w, days=d, hours=h, minutes=mi, seconds=s)
    start_line = main.first("DTSTART")
    if start_line is not None and _DATE.match(start_line.value.strip()):
        return start + dt.timedelta(days=1)  # RFC 5545 3.6.1: an all-day event
    return start


def _format_like(when: dt.datetime, params: list[tuple[str, str]],
                 old: str) -> tuple[str, list[tuple[str, str]]]:
    """A new time in the form of the line it replaces: a date stays a date when it
    is one, a TZID stays when we know the zone, else UTC."""
    is_date = any(k.upper() == "VALUE" and v.upper() == "DATE" for k, v in params) \
        or bool(_DATE.match(old.strip()))
    utc = when.astimezone(dt.UTC)
    if is_date and utc.time() == dt.time(0):
        return utc.strftime("%Y%m%d"), params
    kept = [(k, v) for k, v in params if k.upper() not in ("VALUE",)]
    tzid = next((v for k, v in params if k.upper() == "TZID"), None)
    zone = _zone(tzid)
    if zone is not None:
        return when.astimezone(zone).strftime("%Y%m%dT%H%M%S"), kept
    return format_utc(when), [(k, v) for k, v in kept if k.upper() != "TZID"]
