"""Items on the wire: MAPI properties <-> ApplicationData of each class.

Email (MS-ASEMAIL), Calendar (MS-ASCAL), Contacts (MS-ASCNTC), Tasks (MS-ASTASK) and
Notes (MS-ASNOTE); bodies and attachments are AirSyncBase (MS-ASAIRS). Writers stream
into a :class:`WbxmlWriter`; readers turn a request's ApplicationData element into the
handler's :class:`ItemData` (converter-model properties).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import functools
import html
from dataclasses import dataclass, field
from typing import Any

from groupware.convert import _tags as ct
from groupware.convert.model import Message as Model
from groupware.handlers.activesync.handler import FetchedMessage, ItemData
from groupware.mapi.values import datetime_to_filetime, filetime_to_datetime
from protocols.activesync.wbxml import Element, WbxmlWriter, lookup_tag

_t = functools.cache(lookup_tag)
"""Tags resolved once: item writers run for every item of a 10,000-item Sync."""

BODY_PLAIN, BODY_HTML, BODY_RTF, BODY_MIME = 1, 2, 3, 4
FLAG_STATUS = 0x10900003  # PidTagFlagStatus
FLAG_COMPLETE_TIME = 0x10910040  # PidTagFlagCompleteTime
ICON_INDEX = 0x10800003
LAST_VERB = 0x10810003
LAST_VERB_TIME = 0x10820040


@dataclass
class BodyPreference:
    type: int
    truncation: int | None = None
    all_or_none: bool = False
    preview: int = 0


@dataclass
class ItemOptions:
    """A collection's (or a Fetch's) Options: body preferences, MIME support, filter."""

    prefs: list[BodyPreference] = field(default_factory=list)
    mime_support: int = 0
    filter_type: int | None = None
    rights_management: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"p": [[p.type, p.truncation, p.all_or_none, p.preview] for p in self.prefs],
                "m": self.mime_support}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ItemOptions:
        return cls([BodyPreference(int(p[0]), p[1], bool(p[2]), int(p[3]))
                    for p in raw.get("p", [])], int(raw.get("m", 0)))

    def wants_mime(self, klass: str) -> BodyPreference | None:
        for pref in self.prefs:
            if pref.type == BODY_MIME and klass == "Email":
                return pref
        if self.mime_support == 2 and klass == "Email":
            return BodyPreference(BODY_MIME)
        return None

    def mime_limit(self, klass: str) -> int:
        """Bytes of the MIME original the writer needs (0: none, -1: all)."""
        pref = self.wants_mime(klass)
        if pref is None:
            return 0
        return -1 if pref.truncation is None else pref.truncation + 8


def parse_options(options: Element | None) -> ItemOptions:
    out = ItemOptions()
    if options is None:
        return out
    for child in options.children:
        name = child.tag.name
        if name == "BodyPreference":
            try:
                ptype = int(child.findtext("AirSyncBase:Type", "1") or 1)
                trunc = child.findtext("AirSyncBase:TruncationSize")
                prev = child.findtext("AirSyncBase:Preview")
                out.prefs.append(BodyPreference(
                    ptype, int(trunc) if trunc else None,
                    (child.findtext("AirSyncBase:AllOrNone") or "0") == "1",
                    int(prev) if prev else 0))
            except ValueError:
                continue
        elif name == "MIMESupport":
            out.mime_support = _int(child.text, 0)
        elif name == "FilterType":
            out.filter_type = _int(child.text, 0)
        elif name in ("Truncation", "MIMETruncation"):
            # EAS 2.5 style truncation: map to a plain-text preference.
            if not out.prefs:
                out.prefs.append(BodyPreference(BODY_PLAIN, None))
        elif name == "RightsManagementSupport":
            out.rights_management = child.text == "1"
    return out


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or "")
    except ValueError:
        return default


def eas_date(filetime: object) -> str | None:
    if not isinstance(filetime, int) or isinstance(filetime, bool) or filetime <= 0:
        return None
    when = filetime_to_datetime(filetime)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def compact_date(filetime: object) -> str | None:
    """MS-ASDTYPE 2.7.2 compact form (Calendar): ``20091112T004506Z``."""
    if not isinstance(filetime, int) or filetime <= 0:
        return None
    return filetime_to_datetime(filetime).strftime("%Y%m%dT%H%M%SZ")


def parse_date(text: str | None) -> int | None:
    """An EAS date (``2009-11-12T00:45:06.000Z`` or ``20091112T004506Z``) -> FILETIME."""
    if not text:
        return None
    text = text.strip()
    for fmt in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ",
                "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
        try:
            when = dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC)
        except ValueError:
            continue
        return datetime_to_filetime(when)
    return None


def _s(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --- bodies -----------------------------------------------------------------------------


def _cut_utf8(data: bytes, size: int) -> bytes:
    """The first ``size`` bytes without splitting a UTF-8 sequence."""
    if len(data) <= size:
        return data
    cut = data[:size]
    while cut and (cut[-1] & 0xC0) == 0x80:
        cut = cut[:-1]
    if cut and cut[-1] >= 0xC0:
        cut = cut[:-1]
    return cut


def html_of(props: dict[Any, Any]) -> str | None:
    raw = props.get(ct.HTML)
    if isinstance(raw, bytes):
        cpid = props.get(ct.INTERNET_CPID)
        codec = "utf-8"
        if isinstance(cpid, int):
            from groupware.convert.charsets import codec_for_codepage

            codec = codec_for_codepage(cpid) or "utf-8"
        try:
            return raw.decode(codec, "replace")
        except LookupError:
            return raw.decode("utf-8", "replace")
    return raw if isinstance(raw, str) else None


def plain_of(props: dict[Any, Any]) -> str:
    text = props.get(ct.BODY)
    if isinstance(text, str):
        return text
    markup = html_of(props)
    if markup:
        from groupware.convert.htmltext import html_to_text

        return html_to_text(markup)
    return ""


def choose_body(options: ItemOptions, props: dict[Any, Any], klass: str,
                has_mime: bool) -> BodyPreference:
    mime = options.wants_mime(klass)
    if mime is not None and has_mime:
        return mime
    types = {p.type: p for p in options.prefs}
    if BODY_HTML in types and (html_of(props) is not None or BODY_PLAIN not in types):
        return types[BODY_HTML]
    if BODY_PLAIN in types:
        return types[BODY_PLAIN]
    if BODY_HTML in types:
        return types[BODY_HTML]
    if options.prefs:
        return BodyPreference(BODY_PLAIN, options.prefs[0].truncation)
    return BodyPreference(BODY_PLAIN)


def write_body(w: WbxmlWriter, options: ItemOptions, msg: FetchedMessage | None,
               props: dict[Any, Any], *, klass: str, version: float) -> None:
    """AirSyncBase:Body (MS-ASAIRS 2.2.2.9) per the client's preferences."""
    has_mime = msg is not None and msg.mime_head is not None and msg.mime_size > 0
    pref = choose_body(options, props, klass, has_mime)
    data: bytes
    total: int
    if pref.type == BODY_MIME and msg is not None and msg.mime_head is not None:
        data, total = msg.mime_head, msg.mime_size
    elif pref.type == BODY_HTML:
        markup = html_of(props)
        if markup is None:
            markup = "<html><body><pre>" + html.escape(plain_of(props)) + "</pre></body></html>"
        data = markup.encode("utf-8")
        total = len(data)
    else:
        pref = BodyPreference(BODY_PLAIN, pref.truncation, pref.all_or_none, pref.preview)
        data = plain_of(props).encode("utf-8")
        total = len(data)
    truncated = False
    if pref.truncation is not None and total > pref.truncation:
        if pref.all_or_none:
            data, truncated = b"", True
        else:
            data, truncated = _cut_utf8(data, pref.truncation), True
    w.start(_t("AirSyncBase:Body"))
    w.element(_t("AirSyncBase:Type"), str(pref.type))
    w.element(_t("AirSyncBase:EstimatedDataSize"), str(total))
    if truncated:
        w.element(_t("AirSyncBase:Truncated"), "1")
    if data:
        try:
            w.element(_t("AirSyncBase:Data"), data.decode("utf-8"))
        except UnicodeDecodeError:
            w.element(_t("AirSyncBase:Data"), data)
    if pref.preview and version >= 14.0:
        preview = " ".join(plain_of(props).split())[:pref.preview]
        if preview:
            w.element(_t("AirSyncBase:Preview"), preview)
    w.end()


# --- email ------------------------------------------------------------------------------


def _address_list(content_recipients: list[dict[Any, Any]], rtype: int) -> str:
    out = []
    for r in content_recipients:
        if r.get(ct.RECIPIENT_TYPE) != rtype:
            continue
        addr = _s(r.get(ct.SMTP_ADDRESS)) or _s(r.get(ct.EMAIL_ADDRESS)) or ""
        name = _s(r.get(ct.DISPLAY_NAME)) or ""
        if addr or name:
            out.append(email.utils.formataddr((name if name != addr else "", addr)))
    return ", ".join(out)


def _sender(props: dict[Any, Any]) -> str | None:
    for name_tag, addr_tags in (
            (ct.SENT_REPRESENTING_NAME, (ct.SENT_REPRESENTING_SMTP_ADDRESS,
                                         ct.SENT_REPRESENTING_EMAIL_ADDRESS)),
            (ct.SENDER_NAME, (ct.SENDER_SMTP_ADDRESS, ct.SENDER_EMAIL_ADDRESS))):
        addr = next((a for t in addr_tags if (a := _s(props.get(t))) and "@" in a), None)
        name = _s(props.get(name_tag))
        if addr or name:
            return email.utils.formataddr((name if name and name != addr else "", addr or ""))
    return None


def write_email(w: WbxmlWriter, msg: FetchedMessage, options: ItemOptions, version: float,
                server_id: str, *, read_only: bool = False) -> None:
    """Email ApplicationData (MS-ASEMAIL 2.2.2); ``read_only``: just Read and Flag."""
    props: dict[Any, Any] = dict(msg.content.props)
    w.start(_t("AirSync:ApplicationData"))
    if read_only:
        w.element(_t("Email:Read"), "1" if msg.info.read else "0")
        _write_flag(w, props)
        w.end()
        return
    recipients = [dict(r) for r in msg.content.recipients]
    to = _address_list(recipients, 1)
    cc = _address_list(recipients, 2)
    if to:
        w.element(_t("Email:To"), to)
    if cc:
        w.element(_t("Email:Cc"), cc)
    sender = _sender(props)
    if sender:
        w.element(_t("Email:From"), sender)
    w.element(_t("Email:Subject"), _s(props.get(ct.SUBJECT)) or "")
    reply_to = _s(props.get(ct.REPLY_RECIPIENT_NAMES))
    if reply_to and "@" in reply_to:
        w.element(_t("Email:ReplyTo"), reply_to)
    received = eas_date(props.get(ct.MESSAGE_DELIVERY_TIME)) or eas_date(
        props.get(ct.CLIENT_SUBMIT_TIME)) or eas_date(props.get(ct.CREATION_TIME))
    if received:
        w.element(_t("Email:DateReceived"), received)
    w.element(_t("Email:DisplayTo"), _s(props.get(ct.DISPLAY_TO)) or "")
    topic = _s(props.get(ct.CONVERSATION_TOPIC)) or _s(props.get(ct.NORMALIZED_SUBJECT))
    if topic:
        w.element(_t("Email:ThreadTopic"), topic)
    importance = props.get(ct.IMPORTANCE)
    w.element(_t("Email:Importance"), str(importance if isinstance(importance, int) else 1))
    w.element(_t("Email:Read"), "1" if msg.info.read else "0")
    _write_attachments(w, msg, server_id)
    write_body(w, options, msg, props, klass="Email", version=version)
    w.element(_t("Email:MessageClass"), msg.info.message_class or "IPM.Note")
    cpid = props.get(ct.INTERNET_CPID)
    w.element(_t("Email:InternetCPID"), str(cpid if isinstance(cpid, int) else 65001))
    _write_flag(w, props)
    w.element(_t("Email:ContentClass"), "urn:content-classes:message")
    native = BODY_HTML if html_of(props) is not None else BODY_PLAIN
    w.element(_t("AirSyncBase:NativeBodyType"), str(native))
    if version >= 14.0:
        index = props.get(ct.CONVERSATION_INDEX)
        if isinstance(index, bytes) and len(index) >= 22:
            w.element(_t("Email2:ConversationId"), index[6:22])
    w.end()


def _write_flag(w: WbxmlWriter, props: dict[Any, Any]) -> None:
    status = props.get(FLAG_STATUS)
    w.start(_t("Email:Flag"), keep_empty=True)
    if status == 2:
        w.element(_t("Email:Status"), "2")
        w.element(_t("Email:FlagType"), "Flag for follow up")
    elif status == 1:
        w.element(_t("Email:Status"), "1")
        done = eas_date(props.get(FLAG_COMPLETE_TIME))
        if done:
            w.element(_t("Email:CompleteTime"), done)
    w.end()


def file_reference(server_id: str, attach_num: int) -> str:
    return f"{server_id}:{attach_num}"


def _write_attachments(w: WbxmlWriter, msg: FetchedMessage, server_id: str) -> None:
    atts = msg.content.attachments
    if not atts:
        return
    w.start(_t("AirSyncBase:Attachments"))
    for att in atts:
        p = att.props
        num = p.get(ct.ATTACH_NUM)
        if not isinstance(num, int):
            continue
        name = _s(p.get(ct.ATTACH_LONG_FILENAME)) or _s(p.get(ct.ATTACH_FILENAME)) or \
            (_s(att.embedded.props.get(ct.SUBJECT)) if att.embedded is not None else None) \
            or f"attachment-{num}"
        method = p.get(ct.ATTACH_METHOD)
        w.start(_t("AirSyncBase:Attachment"))
        w.element(_t("AirSyncBase:DisplayName"), name)
        w.element(_t("AirSyncBase:FileReference"), file_reference(server_id, num))
        w.element(_t("AirSyncBase:Method"), "5" if method == ct.AFEMBEDDEDMESSAGE else "1")
        size = p.get(ct.ATTACH_SIZE)
        w.element(_t("AirSyncBase:EstimatedDataSize"), str(size if isinstance(size, int) else 0))
        cid = _s(p.get(ct.ATTACH_CONTENT_ID))
        if cid:
            w.element(_t("AirSyncBase:ContentId"), cid)
            flags = p.get(ct.ATTACH_FLAGS)
            if isinstance(flags, int) and flags & 0x4:
                w.element(_t("AirSyncBase:IsInline"), "1")
        w.end()
    w.end()


def read_email(app: Element) -> ItemData:
    """Email ApplicationData of a Sync Change/Add: Read, Flag, Categories (MS-ASEMAIL 2.2.2)."""
    data = ItemData()
    read = app.findtext("Email:Read")
    if read is not None:
        data.read = read == "1"
    flag = app.find("Email:Flag")
    if flag is not None:
        status = flag.findtext("Email:Status")
        if status in ("0", None) or not flag.children:
            data.props[FLAG_STATUS] = 0
        elif status == "1":
            data.props[FLAG_STATUS] = 1
            done = parse_date(flag.findtext("Email:CompleteTime") or flag.findtext(
                "Tasks:DateCompleted"))
            if done:
                data.props[FLAG_COMPLETE_TIME] = done
        elif status == "2":
            data.props[FLAG_STATUS] = 2
    cats = app.find("Email:Categories")
    if cats is not None:
        data.props[ct.KEYWORDS] = tuple(c.text or "" for c in cats.children)
    # A draft (Sync Add in Drafts, EAS 16.x): MIME, or fields and a body.
    body = app.find("AirSyncBase:Body")
    if body is not None and body.findtext("AirSyncBase:Type") == "4":
        el = body.find("AirSyncBase:Data")
        if el is not None:
            data.mime = el.opaque if el.opaque is not None else (el.text or "").encode("utf-8")
    else:
        _body_props(app, data)
        subject = app.findtext("Email:Subject")
        if subject is not None:
            data.props[ct.SUBJECT] = subject
        importance = app.findtext("Email:Importance")
        if importance and importance.isdigit():
            data.props[ct.IMPORTANCE] = int(importance)
        recipients: list[dict[Any, Any]] = []
        for rtype, tag in ((1, "Email:To"), (2, "Email:Cc"), (3, "Email2:Bcc")):
            for name, addr in email.utils.getaddresses([app.findtext(tag) or ""]):
                if addr:
                    recipients.append({ct.DISPLAY_NAME: name or addr, ct.EMAIL_ADDRESS: addr,
                                       ct.SMTP_ADDRESS: addr, ct.ADDRTYPE: "SMTP",
                                       ct.RECIPIENT_TYPE: rtype, ct.ROWID: len(recipients)})
        if recipients:
            data.recipients = recipients
    return data


# --- other classes --------------------------------------------------------------------

# Contacts (MS-ASCNTC 2.2.2): element -> property.
CONTACT_FIELDS: list[tuple[str, Any]] = [
    ("Contacts:FileAs", ct.FILE_UNDER),
    ("Contacts:FirstName", ct.GIVEN_NAME),
    ("Contacts:LastName", ct.SURNAME),
    ("Contacts:MiddleName", ct.MIDDLE_NAME),
    ("Contacts:Title", ct.DISPLAY_NAME_PREFIX),
    ("Contacts:Suffix", ct.GENERATION),
    ("Contacts:CompanyName", ct.COMPANY_NAME),
    ("Contacts:Department", ct.DEPARTMENT_NAME),
    ("Contacts:JobTitle", ct.JOB_TITLE),
    ("Contacts:BusinessPhoneNumber", ct.BUSINESS_TELEPHONE),
    ("Contacts:Business2PhoneNumber", ct.BUSINESS2_TELEPHONE),
    ("Contacts:HomePhoneNumber", ct.HOME_TELEPHONE),
    ("Contacts:Home2PhoneNumber", ct.HOME2_TELEPHONE),
    ("Contacts:MobilePhoneNumber", ct.MOBILE_TELEPHONE),
    ("Contacts:BusinessFaxNumber", ct.BUSINESS_FAX),
    ("Contacts:HomeFaxNumber", ct.HOME_FAX),
    ("Contacts:PagerNumber", ct.PAGER_TELEPHONE),
    ("Contacts:CarPhoneNumber", ct.CAR_TELEPHONE),
    ("Contacts:WebPage", ct.BUSINESS_HOME_PAGE),
    ("Contacts:Email1Address", ct.EMAILS[0][2]),
    ("Contacts:Email2Address", ct.EMAILS[1][2]),
    ("Contacts:Email3Address", ct.EMAILS[2][2]),
    ("Contacts:HomeAddressStreet", ct.HOME_ADDRESS[1]),
    ("Contacts:HomeAddressCity", ct.HOME_ADDRESS[2]),
    ("Contacts:HomeAddressState", ct.HOME_ADDRESS[3]),
    ("Contacts:HomeAddressPostalCode", ct.HOME_ADDRESS[4]),
    ("Contacts:HomeAddressCountry", ct.HOME_ADDRESS[5]),
    ("Contacts:BusinessAddressStreet", ct.WORK_ADDRESS[1]),
    ("Contacts:BusinessAddressCity", ct.WORK_ADDRESS[2]),
    ("Contacts:BusinessAddressState", ct.WORK_ADDRESS[3]),
    ("Contacts:BusinessAddressPostalCode", ct.WORK_ADDRESS[4]),
    ("Contacts:BusinessAddressCountry", ct.WORK_ADDRESS[5]),
    ("Contacts:OtherAddressStreet", ct.OTHER_ADDRESS[1]),
    ("Contacts:OtherAddressCity", ct.OTHER_ADDRESS[2]),
    ("Contacts:OtherAddressState", ct.OTHER_ADDRESS[3]),
    ("Contacts:OtherAddressPostalCode", ct.OTHER_ADDRESS[4]),
    ("Contacts:OtherAddressCountry", ct.OTHER_ADDRESS[5]),
    ("Contacts2:NickName", ct.NICKNAME),
]
CONTACT_DATES = [("Contacts:Birthday", ct.BIRTHDAY),
                 ("Contacts:Anniversary", ct.WEDDING_ANNIVERSARY)]

# Tasks (MS-ASTASK 2.2.2).
TASK_DATES = [("Tasks:StartDate", ct.TASK_START_DATE), ("Tasks:UtcStartDate", ct.TASK_START_DATE),
              ("Tasks:DueDate", ct.TASK_DUE_DATE), ("Tasks:UtcDueDate", ct.TASK_DUE_DATE),
              ("Tasks:DateCompleted", ct.TASK_DATE_COMPLETED)]

# Calendar (MS-ASCAL 2.2.2): busy status and sensitivity are the MAPI values.
CALENDAR_BUSY = ct.BUSY_STATUS


def _body_props(app: Element, data: ItemData) -> None:
    body = app.find("AirSyncBase:Body")
    if body is not None:
        text = body.findtext("AirSyncBase:Data")
        btype = body.findtext("AirSyncBase:Type") or "1"
        if text is not None:
            if btype == "2":
                data.props[ct.HTML] = text.encode("utf-8")
                from groupware.convert.htmltext import html_to_text

                data.props[ct.BODY] = html_to_text(text)
            else:
                data.props[ct.BODY] = text


def _categories(app: Element, tag: str, data: ItemData) -> None:
    cats = app.find(tag)
    if cats is not None:
        data.props[ct.KEYWORDS] = tuple(c.text or "" for c in cats.children)


def read_contact(app: Element) -> ItemData:
    data = ItemData(props={ct.MESSAGE_CLASS: "IPM.Contact"})
    for tag, prop in CONTACT_FIELDS:
        value = app.findtext(tag)
        if value is not None:
            data.props[prop] = value
    for tag, prop in CONTACT_DATES:
        when = parse_date(app.findtext(tag))
        if when:
            data.props[prop] = when
    for i in range(3):
        addr = data.props.get(ct.EMAILS[i][2])
        if isinstance(addr, str):
            name, bare = email.utils.parseaddr(addr)
            data.props[ct.EMAILS[i][2]] = bare or addr
            data.props[ct.EMAILS[i][1]] = "SMTP"
            data.props[ct.EMAILS[i][0]] = name or bare or addr
    first = data.props.get(ct.GIVEN_NAME) or ""
    last = data.props.get(ct.SURNAME) or ""
    display = f"{first} {last}".strip() or data.props.get(ct.FILE_UNDER) or ""
    if display:
        data.props[ct.DISPLAY_NAME] = display
        data.props[ct.SUBJECT] = display
    _categories(app, "Contacts:Categories", data)
    _body_props(app, data)
    picture = app.find("Contacts:Picture")
    if picture is not None:
        import base64
        import binascii

        raw = picture.opaque
        if raw is None:
            try:
                raw = base64.b64decode(picture.text or "", validate=False)
            except (binascii.Error, ValueError):
                raw = b""
        if raw:
            data.props[ct.HAS_PICTURE] = True
            data.attachments = [{ct.ATTACH_METHOD: ct.AFBYVALUE, ct.ATTACH_DATA_BIN: raw,
                                 ct.ATTACH_LONG_FILENAME: "ContactPicture.jpg",
                                 ct.ATTACH_EXTENSION: ".jpg",
                                 ct.ATTACHMENT_CONTACT_PHOTO: True, ct.ATTACHMENT_HIDDEN: True}]
    return data


def write_contact(w: WbxmlWriter, model: Model, options: ItemOptions, version: float) -> None:
    p = model.props
    w.start(_t("AirSync:ApplicationData"))
    for tag, prop in CONTACT_FIELDS:
        value = _s(p.get(prop))
        if value:
            w.element(tag, value)
    for tag, prop in CONTACT_DATES:
        value = eas_date(p.get(prop))
        if value:
            w.element(tag, value)
    write_body(w, options, None, p, klass="Contacts", version=version)
    _write_categories(w, "Contacts:Categories", "Contacts:Category", p)
    photo = next((a.props.get(ct.ATTACH_DATA_BIN) for a in model.attachments
                  if a.props.get(ct.ATTACHMENT_CONTACT_PHOTO) is True), None)
    if isinstance(photo, bytes) and photo and len(photo) <= 48 * 1024:
        import base64

        w.element(_t("Contacts:Picture"), base64.b64encode(photo).decode("ascii"))
    w.end()


def _write_categories(w: WbxmlWriter, outer: str, inner: str, p: dict[Any, Any]) -> None:
    cats = p.get(ct.KEYWORDS)
    if isinstance(cats, tuple) and cats:
        w.start(outer)
        for c in cats:
            w.element(inner, str(c))
        w.end()


def read_task(app: Element) -> ItemData:
    data = ItemData(props={ct.MESSAGE_CLASS: "IPM.Task"})
    subject = app.findtext("Tasks:Subject")
    if subject is not None:
        data.props[ct.SUBJECT] = subject
    for tag, prop in TASK_DATES:
        when = parse_date(app.findtext(tag))
        if when:
            data.props[prop] = when
    complete = app.findtext("Tasks:Complete")
    if complete is not None:
        done = complete == "1"
        data.props[ct.TASK_COMPLETE] = done
        data.props[ct.TASK_STATUS] = 2 if done else 0
        data.props[ct.PERCENT_COMPLETE] = 1.0 if done else 0.0
    importance = app.findtext("Tasks:Importance")
    if importance and importance.isdigit():
        data.props[ct.IMPORTANCE] = int(importance)
    sensitivity = app.findtext("Tasks:Sensitivity")
    if sensitivity and sensitivity.isdigit():
        data.props[ct.SENSITIVITY] = int(sensitivity)
    reminder = app.findtext("Tasks:ReminderSet")
    if reminder is not None:
        data.props[ct.REMINDER_SET] = reminder == "1"
        when = parse_date(app.findtext("Tasks:ReminderTime"))
        if when:
            data.props[ct.REMINDER_TIME] = when
    _categories(app, "Tasks:Categories", data)
    _body_props(app, data)
    return data


def write_task(w: WbxmlWriter, model: Model, options: ItemOptions, version: float) -> None:
    p = model.props
    w.start(_t("AirSync:ApplicationData"))
    write_body(w, options, None, p, klass="Tasks", version=version)
    w.element(_t("Tasks:Subject"), _s(p.get(ct.SUBJECT)) or "")
    importance = p.get(ct.IMPORTANCE)
    w.element(_t("Tasks:Importance"), str(importance if isinstance(importance, int) else 1))
    for tag, prop in (("Tasks:UtcStartDate", ct.TASK_START_DATE),
                      ("Tasks:StartDate", ct.TASK_START_DATE),
                      ("Tasks:UtcDueDate", ct.TASK_DUE_DATE), ("Tasks:DueDate", ct.TASK_DUE_DATE)):
        value = eas_date(p.get(prop))
        if value:
            w.element(tag, value)
    done = p.get(ct.TASK_COMPLETE) is True or p.get(ct.TASK_STATUS) == 2
    w.element(_t("Tasks:Complete"), "1" if done else "0")
    if done:
        value = eas_date(p.get(ct.TASK_DATE_COMPLETED))
        if value:
            w.element(_t("Tasks:DateCompleted"), value)
    sensitivity = p.get(ct.SENSITIVITY)
    w.element(_t("Tasks:Sensitivity"), str(sensitivity if isinstance(sensitivity, int) else 0))
    w.element(_t("Tasks:ReminderSet"), "1" if p.get(ct.REMINDER_SET) is True else "0")
    if p.get(ct.REMINDER_SET) is True:
        value = eas_date(p.get(ct.REMINDER_TIME))
        if value:
            w.element(_t("Tasks:ReminderTime"), value)
    _write_categories(w, "Tasks:Categories", "Tasks:Category", p)
    w.end()


def read_note(app: Element) -> ItemData:
    data = ItemData(props={ct.MESSAGE_CLASS: app.findtext("Notes:MessageClass") or
                           "IPM.StickyNote"})
    subject = app.findtext("Notes:Subject")
    if subject is not None:
        data.props[ct.SUBJECT] = subject
    _categories(app, "Notes:Categories", data)
    _body_props(app, data)
    return data


def write_note(w: WbxmlWriter, model: Model, options: ItemOptions, version: float) -> None:
    p = model.props
    w.start(_t("AirSync:ApplicationData"))
    write_body(w, options, None, p, klass="Notes", version=version)
    w.element(_t("Notes:Subject"), _s(p.get(ct.SUBJECT)) or "")
    w.element(_t("Notes:MessageClass"), _s(p.get(ct.MESSAGE_CLASS)) or "IPM.StickyNote")
    modified = eas_date(p.get(ct.LAST_MODIFICATION_TIME))
    if modified:
        w.element(_t("Notes:LastModifiedDate"), modified)
    _write_categories(w, "Notes:Categories", "Notes:Category", p)
    w.end()


def write_recurrence(w: WbxmlWriter, blob: bytes, start: object) -> None:
    """Calendar:Recurrence and deleted occurrences (MS-ASCAL 2.2.2.37, 2.2.2.21) from
    PidLidAppointmentRecur (MS-OXOCAL 2.2.1.44.5)."""
    from groupware.convert.errors import ConversionError
    from groupware.convert.recurrence import (
        AppointmentRecurrencePattern,
        EndType,
        Freq,
        PatternType,
        from_minutes,
    )

    try:
        recur = AppointmentRecurrencePattern.unpack(blob)
    except (ConversionError, ValueError):
        return
    pat = recur.pattern
    rtype: int | None = None
    interval = pat.period
    if pat.frequency == Freq.DAILY and pat.pattern_type == PatternType.DAY:
        rtype, interval = 0, max(1, pat.period // 1440)
    elif pat.frequency == Freq.DAILY and pat.pattern_type == PatternType.WEEK:
        rtype, interval = 1, 1  # every weekday
    elif pat.frequency == Freq.WEEKLY:
        rtype = 1
    elif pat.frequency == Freq.MONTHLY:
        rtype = 3 if pat.pattern_type == PatternType.MONTH_NTH else 2
    elif pat.frequency == Freq.YEARLY:
        rtype, interval = (6 if pat.pattern_type == PatternType.MONTH_NTH else 5), 1
    if rtype is None:
        return
    first = from_minutes(pat.start_date)
    w.start(_t("Calendar:Recurrence"))
    w.element(_t("Calendar:Type"), str(rtype))
    # Occurrence times: the series start (UTC) moved by whole days (no DST shift).
    base = filetime_to_datetime(start) if isinstance(start, int) and start > 0 else \
        first + dt.timedelta(minutes=recur.start_time_offset)

    def utc_of(day_minutes: int) -> str:
        when = base + dt.timedelta(minutes=day_minutes - pat.start_date)
        return when.strftime("%Y%m%dT%H%M%SZ")

    if pat.end_type == EndType.AFTER_N:
        w.element(_t("Calendar:Occurrences"), str(pat.occurrence_count))
    elif pat.end_type == EndType.AFTER_DATE:
        w.element(_t("Calendar:Until"), utc_of(pat.end_date))
    w.element(_t("Calendar:Interval"), str(max(1, interval)))
    if rtype in (1, 3, 6):
        w.element(_t("Calendar:DayOfWeek"), str(pat.days or 1 << ((first.weekday() + 1) % 7)))
    if rtype in (2, 5):
        w.element(_t("Calendar:DayOfMonth"), str(pat.day_of_month or first.day))
    if rtype in (3, 6):
        w.element(_t("Calendar:WeekOfMonth"), str(pat.nth or 1))
    if rtype in (5, 6):
        w.element(_t("Calendar:MonthOfYear"), str(first.month))
    w.end()
    modified = set(pat.modified)
    deleted = [d for d in pat.deleted if d not in modified]
    if deleted:
        w.start(_t("Calendar:Exceptions"))
        for day in deleted:
            w.start(_t("Calendar:Exception"))
            w.element(_t("Calendar:Deleted"), "1")
            w.element(_t("Calendar:ExceptionStartTime"), utc_of(day))
            w.end()
        w.end()


def read_calendar(app: Element) -> ItemData:
    """Calendar ApplicationData (MS-ASCAL 2.2.2) -> appointment properties."""
    data = ItemData(props={ct.MESSAGE_CLASS: "IPM.Appointment"})
    p = data.props
    subject = app.findtext("Calendar:Subject")
    if subject is not None:
        p[ct.SUBJECT] = subject
    start = parse_date(app.findtext("Calendar:StartTime"))
    end = parse_date(app.findtext("Calendar:EndTime"))
    if start:
        p[ct.APPT_START_WHOLE] = p[ct.COMMON_START] = p[ct.START_DATE] = start
    if end:
        p[ct.APPT_END_WHOLE] = p[ct.COMMON_END] = p[ct.END_DATE] = end
    if start and end:
        p[ct.APPT_DURATION] = max(0, (end - start) // 600_000_000)
    all_day = app.findtext("Calendar:AllDayEvent")
    if all_day is not None:
        p[ct.APPT_SUB_TYPE] = all_day == "1"
    location = app.findtext("Calendar:Location") or app.findtext("AirSyncBase:Location")
    if location is not None:
        p[ct.LOCATION] = location
    busy = app.findtext("Calendar:BusyStatus")
    if busy and busy.isdigit():
        p[ct.BUSY_STATUS] = int(busy)
    sensitivity = app.findtext("Calendar:Sensitivity")
    if sensitivity and sensitivity.isdigit():
        p[ct.SENSITIVITY] = int(sensitivity)
    reminder = app.findtext("Calendar:Reminder")
    if reminder and reminder.isdigit():
        p[ct.REMINDER_SET] = True
        p[ct.REMINDER_DELTA] = int(reminder)
        if start:
            p[ct.REMINDER_TIME] = start
            p[ct.REMINDER_SIGNAL_TIME] = start - int(reminder) * 600_000_000
    uid = app.findtext("Calendar:UID")
    if uid:
        from groupware.convert.ical import goid_from_uid

        goid = goid_from_uid(uid)
        p[ct.GLOBAL_OBJECT_ID] = goid
        p[ct.CLEAN_GLOBAL_OBJECT_ID] = goid
    tz = app.findtext("Calendar:Timezone")
    if tz:
        import base64

        with contextlib.suppress(ValueError):
            p[ct.TIME_ZONE_STRUCT] = base64.b64decode(tz)
    meeting = app.findtext("Calendar:MeetingStatus")
    if meeting and meeting.isdigit():
        p[ct.APPT_STATE_FLAGS] = int(meeting) & 0x7
    recipients: list[dict[Any, Any]] = []
    attendees = app.find("Calendar:Attendees")
    if attendees is not None:
        for i, att in enumerate(attendees.findall("Calendar:Attendee")):
            addr = att.findtext("Calendar:Email") or ""
            name = att.findtext("Calendar:Name") or addr
            kind = att.findtext("Calendar:AttendeeType") or "1"
            recipients.append({ct.DISPLAY_NAME: name, ct.EMAIL_ADDRESS: addr,
                               ct.SMTP_ADDRESS: addr, ct.ADDRTYPE: "SMTP",
                               ct.RECIPIENT_TYPE: 2 if kind == "2" else 1, ct.ROWID: i,
                               ct.RECIPIENT_FLAGS: ct.RECIP_SENDABLE})
        data.recipients = recipients
    _categories(app, "Calendar:Categories", data)
    _body_props(app, data)
    recurrence = app.find("Calendar:Recurrence")
    if recurrence is not None and start and end:
        _read_recurrence(recurrence, app.find("Calendar:Exceptions"), start, end, data)
    return data


_DAYS = ("SU", "MO", "TU", "WE", "TH", "FR", "SA")
_RECURRENCE_KEYS = (ct.APPT_RECUR, ct.RECURRING, ct.RECURRENCE_TYPE, ct.RECURRENCE_PATTERN,
                    ct.CLIP_START, ct.CLIP_END, ct.TIME_ZONE_STRUCT, ct.TZDEF_RECUR,
                    ct.IS_RECURRING, ct.TIME_ZONE_DESCRIPTION)


def _read_recurrence(rec: Element, exceptions: Element | None, start: int, end: int,
                     data: ItemData) -> None:
    """Calendar:Recurrence -> PidLidAppointmentRecur and friends, through the iCalendar
    converter (an RRULE is the shared form of both)."""
    from groupware.convert.errors import ConversionError
    from groupware.convert.ical import ical_to_messages

    rtype = rec.findtext("Calendar:Type") or "0"
    interval = rec.findtext("Calendar:Interval") or "1"
    days = int(rec.findtext("Calendar:DayOfWeek") or 0)
    byday = ",".join(d for i, d in enumerate(_DAYS) if days & (1 << i))
    week = int(rec.findtext("Calendar:WeekOfMonth") or 1)
    nth = "-1" if week == 5 else str(week)
    month = rec.findtext("Calendar:MonthOfYear") or ""
    mday = rec.findtext("Calendar:DayOfMonth") or ""
    rule = {"0": f"FREQ=DAILY;INTERVAL={interval}",
            "1": f"FREQ=WEEKLY;INTERVAL={interval};BYDAY={byday or 'MO'}",
            "2": f"FREQ=MONTHLY;INTERVAL={interval};BYMONTHDAY={mday or 1}",
            "3": f"FREQ=MONTHLY;INTERVAL={interval};BYDAY={nth}{byday or 'MO'}",
            "5": f"FREQ=YEARLY;BYMONTH={month or 1};BYMONTHDAY={mday or 1}",
            "6": f"FREQ=YEARLY;BYMONTH={month or 1};BYDAY={nth}{byday or 'MO'}"}.get(rtype)
    if rule is None:
        return
    count = rec.findtext("Calendar:Occurrences")
    until = parse_date(rec.findtext("Calendar:Until"))
    if count and count.isdigit():
        rule += f";COUNT={count}"
    elif until:
        rule += f";UNTIL={compact_date(until)}"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//groupware//activesync//EN",
             "BEGIN:VEVENT", "UID:recurrence", f"DTSTART:{compact_date(start)}",
             f"DTEND:{compact_date(end)}", f"RRULE:{rule}"]
    for exc in exceptions.findall("Calendar:Exception") if exceptions is not None else []:
        when = parse_date(exc.findtext("Calendar:ExceptionStartTime"))
        if when and exc.findtext("Calendar:Deleted") == "1":
            lines.append(f"EXDATE:{compact_date(when)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    try:
        models = ical_to_messages(("\r\n".join(lines) + "\r\n").encode())
    except ConversionError:
        return
    for model in models:
        for key in _RECURRENCE_KEYS:
            if key in model.props:
                data.props[key] = model.props[key]


def write_calendar(w: WbxmlWriter, model: Model, options: ItemOptions, version: float) -> None:
    p = model.props
    w.start(_t("AirSync:ApplicationData"))
    tz = p.get(ct.TIME_ZONE_STRUCT)
    import base64

    w.element(_t("Calendar:Timezone"), base64.b64encode(tz if isinstance(tz, bytes) and
                                                    len(tz) == 172 else bytes(172)).decode())
    all_day = p.get(ct.APPT_SUB_TYPE) is True
    w.element(_t("Calendar:AllDayEvent"), "1" if all_day else "0")
    write_body(w, options, None, p, klass="Calendar", version=version)
    busy = p.get(ct.BUSY_STATUS)
    w.element(_t("Calendar:BusyStatus"), str(busy if isinstance(busy, int) else 2))
    organizer = next((r for r in model.recipients if _is_organizer(r.props)), None)
    if organizer is not None:
        w.element(_t("Calendar:OrganizerName"), _s(organizer.props.get(ct.DISPLAY_NAME)) or "")
        addr = _s(organizer.props.get(ct.SMTP_ADDRESS)) or _s(
            organizer.props.get(ct.EMAIL_ADDRESS))
        if addr:
            w.element(_t("Calendar:OrganizerEmail"), addr)
    stamp = compact_date(p.get(ct.LAST_MODIFICATION_TIME) or p.get(ct.CREATION_TIME))
    if stamp:
        w.element(_t("Calendar:DtStamp"), stamp)
    end = compact_date(p.get(ct.APPT_END_WHOLE) or p.get(ct.END_DATE))
    if end:
        w.element(_t("Calendar:EndTime"), end)
    location = _s(p.get(ct.LOCATION))
    if location:
        w.element(_t("Calendar:Location"), location)
    if p.get(ct.REMINDER_SET) is True:
        delta = p.get(ct.REMINDER_DELTA)
        w.element(_t("Calendar:Reminder"), str(delta if isinstance(delta, int) else 15))
    sensitivity = p.get(ct.SENSITIVITY)
    w.element(_t("Calendar:Sensitivity"), str(sensitivity if isinstance(sensitivity, int) else 0))
    w.element(_t("Calendar:Subject"), _s(p.get(ct.SUBJECT)) or "")
    start = compact_date(p.get(ct.APPT_START_WHOLE) or p.get(ct.START_DATE))
    if start:
        w.element(_t("Calendar:StartTime"), start)
    goid = p.get(ct.GLOBAL_OBJECT_ID)
    if isinstance(goid, bytes):
        from groupware.convert.ical import uid_from_goid

        w.element(_t("Calendar:UID"), uid_from_goid(goid))
    state = p.get(ct.APPT_STATE_FLAGS)
    w.element(_t("Calendar:MeetingStatus"), str(state & 0x7 if isinstance(state, int) else 0))
    recur = p.get(ct.APPT_RECUR)
    if isinstance(recur, bytes):
        write_recurrence(w, recur, p.get(ct.APPT_START_WHOLE))
    attendees = [r for r in model.recipients if not _is_organizer(r.props)]
    if attendees:
        w.start(_t("Calendar:Attendees"))
        for r in attendees:
            addr = _s(r.props.get(ct.SMTP_ADDRESS)) or _s(r.props.get(ct.EMAIL_ADDRESS)) or ""
            w.start(_t("Calendar:Attendee"))
            w.element(_t("Calendar:Email"), addr)
            w.element(_t("Calendar:Name"), _s(r.props.get(ct.DISPLAY_NAME)) or addr)
            if version >= 12.0:
                rtype = r.props.get(ct.RECIPIENT_TYPE)
                w.element(_t("Calendar:AttendeeType"), "2" if rtype == 2 else "1")
            w.end()
        w.end()
    _write_categories(w, "Calendar:Categories", "Calendar:Category", p)
    if version >= 14.0:
        status = p.get(ct.RESPONSE_STATUS)
        if isinstance(status, int):
            w.element(_t("Calendar:ResponseType"), str(status))
    w.end()


def _is_organizer(props: dict[Any, Any]) -> bool:
    flags = props.get(ct.RECIPIENT_FLAGS)
    return isinstance(flags, int) and bool(flags & ct.RECIP_ORGANIZER)


READERS = {"Contacts": read_contact, "Tasks": read_task, "Notes": read_note,
           "Calendar": read_calendar, "Email": read_email}
MODEL_WRITERS = {"Contacts": write_contact, "Tasks": write_task, "Notes": write_note,
                 "Calendar": write_calendar}
