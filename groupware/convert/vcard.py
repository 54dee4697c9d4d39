"""vCard 3.0/4.0 (RFC 2426, RFC 6350; 2.1 read leniently) <-> contacts (MS-OXVCARD, MS-OXOCNTC).

Names (N, FN, NICKNAME), organisation (ORG, TITLE), phones by TYPE, e-mail 1-3,
postal addresses (work/home/other), BDAY and ANNIVERSARY, NOTE, URL, CATEGORIES,
UID and PHOTO (an attachment flagged PidTagAttachmentContactPhoto, MS-OXOCNTC 2.2.1.8).

The content-line parser is ours: it is small (unfolding, groups, parameters,
RFC 6350 escaping, 2.1 quoted-printable) and keeps limits; output is deterministic.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import re
from dataclasses import dataclass, field

from groupware.convert import _tags as t
from groupware.convert.charsets import decode_text
from groupware.convert.errors import ConversionError, LimitExceeded
from groupware.convert.icaltext import escape, render
from groupware.convert.model import Attachment, Message, PropKey, Props
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime


@dataclass
class ContentLine:
    name: str
    params: dict[str, list[str]] = field(default_factory=dict)
    value: str = ""

    def types(self) -> set[str]:
        return {v.lower() for v in self.params.get("TYPE", [])}


MAX_SIZE = 8 << 20
MAX_LINES = 20_000
_LINE = re.compile(r"^(?:[A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$", re.DOTALL)


def _unescape(text: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _split(text: str, sep: str) -> list[str]:
    """Split on unescaped ``sep`` and unescape each piece.

    Scans escapes pairwise, so an escaped backslash before a separator (``\\\\;``)
    ends the piece, which a look-behind on one backslash gets wrong.
    """
    parts: list[str] = []
    start = i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [_unescape(p) for p in parts]


def _params(raw: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in re.findall(r';((?:[^;"]|"[^"]*")*)', raw):
        if not item:
            continue
        name, eq, value = item.partition("=")
        if not eq:  # vCard 2.1 bare type ("TEL;WORK;VOICE")
            name, value = "TYPE", item
        values = [v.strip('"') for v in re.findall(r'"[^"]*"|[^,]+', value)]
        out.setdefault(name.upper(), []).extend(values)
    return out


def parse_vcards(data: bytes) -> list[list[ContentLine]]:
    """Content lines of every BEGIN:VCARD ... END:VCARD block; never raises but
    :class:`ConversionError` for input that is not vCard or too big."""
    if len(data) > MAX_SIZE:
        raise LimitExceeded(f"vCard data of {len(data)} bytes exceeds {MAX_SIZE}")
    text = decode_text(data, "utf-8").replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"\n[ \t]", "", text)  # unfold
    lines = text.split("\n")
    if len(lines) > MAX_LINES:
        raise LimitExceeded("too many vCard lines")
    cards: list[list[ContentLine]] = []
    current: list[ContentLine] | None = None
    pending = ""
    for raw_line in lines:
        line = pending + raw_line
        pending = ""
        if "QUOTED-PRINTABLE" in line.upper().split(":", 1)[0] and line.endswith("="):
            pending = line[:-1]  # 2.1 soft line break
            continue
        match = _LINE.match(line)
        if not match:
            continue
        name, raw_params, value = match.group(1).upper(), match.group(2), match.group(3)
        if name == "BEGIN" and value.strip().upper() == "VCARD":
            current = []
            continue
        if name == "END" and value.strip().upper() == "VCARD":
            if current is not None:
                cards.append(current)
            current = None
            continue
        if current is None:
            continue
        params = _params(raw_params)
        if [e.upper() for e in params.get("ENCODING", [])] == ["QUOTED-PRINTABLE"]:
            charset = (params.get("CHARSET") or ["utf-8"])[0]
            with contextlib.suppress(binascii.Error, ValueError):
                value = decode_text(binascii.a2b_qp(value.encode("utf-8")), charset)
        current.append(ContentLine(name, params, value))
    if not cards:
        raise ConversionError("no vCard found")
    return cards


# --- vCard -> MAPI ---------------------------------------------------------------------------

_PHONE_TAGS: list[tuple[set[str], PropKey]] = [
    ({"work", "fax"}, t.BUSINESS_FAX), ({"home", "fax"}, t.HOME_FAX), ({"fax"}, t.BUSINESS_FAX),
    ({"cell"}, t.MOBILE_TELEPHONE), ({"pager"}, t.PAGER_TELEPHONE), ({"car"}, t.CAR_TELEPHONE),
    ({"work"}, t.BUSINESS_TELEPHONE), ({"home"}, t.HOME_TELEPHONE),
    ({"pref"}, t.PRIMARY_TELEPHONE),
]
_SECOND_PHONE: dict[PropKey, PropKey] = {t.BUSINESS_TELEPHONE: t.BUSINESS2_TELEPHONE,
                                          t.HOME_TELEPHONE: t.HOME2_TELEPHONE}


def _date(value: str) -> dt.datetime | None:
    digits = value.strip().replace("-", "")
    match = re.match(r"^(\d{4})(\d{2})(\d{2})", digits)
    if not match:
        return None
    try:
        return dt.datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)),
                           tzinfo=dt.UTC)
    except ValueError:
        return None


def vcard_to_messages(data: bytes) -> list[Message]:
    """Every vCard in ``data`` as an IPM.Contact."""
    return [_card_to_message(card) for card in parse_vcards(data)]


def _card_to_message(card: list[ContentLine]) -> Message:
    msg = Message()
    p = msg.props
    p[t.MESSAGE_CLASS] = "IPM.Contact"
    emails = 0
    for line in card:
        name, value = line.name, line.value
        if name == "FN":
            p[t.DISPLAY_NAME] = _unescape(value)
        elif name == "N":
            parts = (_split(value, ";") + [""] * 5)[:5]
            for tag, part in zip((t.SURNAME, t.GIVEN_NAME, t.MIDDLE_NAME,
                                  t.DISPLAY_NAME_PREFIX, t.GENERATION), parts, strict=True):
                if part:
                    p[tag] = part
        elif name == "NICKNAME":
            p[t.NICKNAME] = _split(value, ",")[0]
        elif name == "ORG":
            parts = _split(value, ";")
            p[t.COMPANY_NAME] = parts[0]
            if len(parts) > 1 and parts[1]:
                p[t.DEPARTMENT_NAME] = parts[1]
        elif name == "TITLE":
            p[t.JOB_TITLE] = _unescape(value)
        elif name == "TEL":
            _phone(p, line)
        elif name == "EMAIL" and emails < 3:
            display, addrtype, address, original = t.EMAILS[emails]
            address_value = _unescape(value).strip()
            p[address] = address_value
            p[addrtype] = "SMTP"
            p[display] = address_value
            p[original] = address_value
            emails += 1
        elif name == "ADR":
            types = line.types()
            tags: tuple[PropKey, ...] = t.WORK_ADDRESS if "work" in types else (
                t.HOME_ADDRESS if "home" in types else t.OTHER_ADDRESS)
            parts = (_split(value, ";") + [""] * 7)[:7]
            # ADR: PO box, extended, street, locality, region, postal code, country
            street = "\n".join(x for x in (parts[1], parts[2]) if x) if parts[1] else parts[2]
            for key, part in zip(tags, (parts[0], street, *parts[3:7]), strict=True):
                if part:
                    p[key] = part
        elif name in ("BDAY", "ANNIVERSARY", "X-ANNIVERSARY"):
            when = _date(value)
            if when is not None:
                p[t.BIRTHDAY if name == "BDAY" else t.WEDDING_ANNIVERSARY] = (
                    datetime_to_filetime(when))
        elif name == "NOTE":
            p[t.BODY] = _unescape(value).replace("\n", "\r\n")
        elif name == "URL":
            tag = t.PERSONAL_HOME_PAGE if "home" in line.types() else t.BUSINESS_HOME_PAGE
            p.setdefault(tag, _unescape(value))
        elif name == "CATEGORIES":
            p[t.KEYWORDS] = tuple(c for c in _split(value, ",") if c)
        elif name == "UID":
            p[t.ICAL_UID] = _unescape(value)
        elif name == "PHOTO":
            _photo(msg, line)
    if t.DISPLAY_NAME not in p:
        p[t.DISPLAY_NAME] = " ".join(str(p[k]) for k in (t.GIVEN_NAME, t.SURNAME) if k in p)
    p[t.SUBJECT] = p[t.DISPLAY_NAME]
    p[t.FILE_UNDER] = ", ".join(str(p[k]) for k in (t.SURNAME, t.GIVEN_NAME) if k in p) or str(
        p[t.DISPLAY_NAME])
    p[t.HAS_PICTURE] = bool(msg.attachments)
    return msg


def _phone(p: Props, line: ContentLine) -> None:
    types = line.types()
    number = _unescape(line.value).removeprefix("tel:")
    for wanted, tag in _PHONE_TAGS:
        if wanted <= types:
            target = _SECOND_PHONE.get(tag, tag) if tag in p else tag
            if target not in p:
                p[target] = number
                return
    p.setdefault(t.OTHER_TELEPHONE, number)


def _photo(msg: Message, line: ContentLine) -> None:
    value = line.value.strip()
    mime = "image/jpeg"
    if value.startswith("data:"):
        header, _, payload = value.partition(",")
        mime = header[5:].split(";")[0] or mime
        value = payload
    else:
        kind = (line.params.get("TYPE") or ["JPEG"])[0].lower()
        mime = kind if "/" in kind else f"image/{kind}"
    try:
        data = base64.b64decode(value + "=" * (-len(value) % 4), validate=False)
    except (binascii.Error, ValueError):
        return
    ext = mime.rpartition("/")[2].replace("jpeg", "jpg")
    name = f"ContactPicture.{ext}"
    msg.attachments.append(Attachment({
        t.ATTACH_METHOD: t.AFBYVALUE, t.ATTACH_DATA_BIN: data, t.ATTACH_SIZE: len(data),
        t.ATTACH_MIME_TAG: mime, t.ATTACH_LONG_FILENAME: name, t.ATTACH_FILENAME: name,
        t.DISPLAY_NAME: name, t.ATTACH_EXTENSION: "." + ext, t.ATTACHMENT_CONTACT_PHOTO: True,
        t.ATTACHMENT_HIDDEN: True, t.RENDERING_POSITION: -1, t.OBJECT_TYPE: t.MAPI_ATTACH,
    }))


# --- MAPI -> vCard ---------------------------------------------------------------------------

_PHONE_OUT: list[tuple[PropKey, str]] = [
    (t.BUSINESS_TELEPHONE, "work,voice"), (t.BUSINESS2_TELEPHONE, "work,voice"),
    (t.HOME_TELEPHONE, "home,voice"), (t.HOME2_TELEPHONE, "home,voice"),
    (t.MOBILE_TELEPHONE, "cell"), (t.BUSINESS_FAX, "work,fax"), (t.HOME_FAX, "home,fax"),
    (t.PAGER_TELEPHONE, "pager"), (t.CAR_TELEPHONE, "car"), (t.PRIMARY_TELEPHONE, "pref"),
    (t.OTHER_TELEPHONE, "voice"),
]


def message_to_vcard(msg: Message, version: str = "3.0") -> bytes:
    """An IPM.Contact -> one vCard (3.0 or 4.0)."""
    if version not in ("3.0", "4.0"):
        raise ConversionError(f"vCard version {version} is not written")
    p = msg.props

    def s(key: PropKey) -> str:
        value = p.get(key)
        return value if isinstance(value, str) else ""

    v4 = version == "4.0"
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if s(t.ICAL_UID):
        lines.append(f"UID:{escape(s(t.ICAL_UID))}")
    lines.append(f"FN:{escape(s(t.DISPLAY_NAME))}")
    name = ";".join(escape(s(k)) for k in (t.SURNAME, t.GIVEN_NAME, t.MIDDLE_NAME,
                                            t.DISPLAY_NAME_PREFIX, t.GENERATION))
    lines.append(f"N:{name}")
    if s(t.NICKNAME):
        lines.append(f"NICKNAME:{escape(s(t.NICKNAME))}")
    if s(t.COMPANY_NAME) or s(t.DEPARTMENT_NAME):
        org = escape(s(t.COMPANY_NAME))
        lines.append(f"ORG:{org};{escape(s(t.DEPARTMENT_NAME))}" if s(t.DEPARTMENT_NAME)
                     else f"ORG:{org}")
    if s(t.JOB_TITLE):
        lines.append(f"TITLE:{escape(s(t.JOB_TITLE))}")
    for tag, types in _PHONE_OUT:
        if s(tag):
            kinds = types.replace(",voice", "") if v4 else types
            lines.append(f"TEL;TYPE={kinds}:{escape(s(tag))}")
    for index, (_display, _kind, address, _original) in enumerate(t.EMAILS):
        if s(address):
            pref = ";PREF=1" if v4 and index == 0 else (";TYPE=internet,pref" if index == 0
                                                          else ";TYPE=internet")
            lines.append(f"EMAIL{pref}:{escape(s(address))}")
    for kind, tags in (("work", t.WORK_ADDRESS), ("home", t.HOME_ADDRESS),
                       ("other", t.OTHER_ADDRESS)):
        values = [s(k) for k in tags]
        if any(values):
            adr = ";".join([escape(values[0]), "", *(escape(v) for v in values[1:])])
            type_param = f";TYPE={kind}" if kind != "other" else ""
            lines.append(f"ADR{type_param}:{adr}")
    for key, label in ((t.BIRTHDAY, "BDAY"), (t.WEDDING_ANNIVERSARY, "ANNIVERSARY")):
        value = p.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            day = filetime_to_datetime(value)
            text = day.strftime("%Y%m%d") if v4 else day.strftime("%Y-%m-%d")
            lines.append(f"{label if v4 or label == 'BDAY' else 'X-ANNIVERSARY'}:{text}")
    for key, kind in ((t.BUSINESS_HOME_PAGE, "work"), (t.PERSONAL_HOME_PAGE, "home")):
        if s(key):
            lines.append(f"URL;TYPE={kind}:{s(key)}")
    keywords = p.get(t.KEYWORDS)
    if isinstance(keywords, tuple) and keywords:
        lines.append("CATEGORIES:" + ",".join(escape(str(k)) for k in keywords))
    if s(t.BODY):
        lines.append(f"NOTE:{escape(s(t.BODY))}")
    for att in msg.attachments:
        data = att.props.get(t.ATTACH_DATA_BIN)
        if att.props.get(t.ATTACHMENT_CONTACT_PHOTO) is True and isinstance(data, bytes):
            mime = att.props.get(t.ATTACH_MIME_TAG)
            mime = mime if isinstance(mime, str) else "image/jpeg"
            encoded = base64.b64encode(data).decode("ascii")
            if v4:
                lines.append(f"PHOTO:data:{mime};base64,{encoded}")
            else:
                kind = mime.rpartition("/")[2].upper()
                lines.append(f"PHOTO;ENCODING=b;TYPE={kind}:{encoded}")
            break
    lines.append("END:VCARD")
    return render(lines)
