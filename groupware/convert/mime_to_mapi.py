"""MIME -> MAPI: an RFC 5322 message to the :class:`~.model.Message` model (MS-OXCMAIL 2.2).

Sections of MS-OXCMAIL this follows: 2.2.3 (message headers to properties),
2.2.3.2.x (addressing, dates, ids, importance/sensitivity, receipts, keywords),
2.2.4 (the body: text, HTML, alternatives, related parts), 2.2.5 (attachments,
inline parts with Content-ID, message/rfc822 as embedded messages), 2.5 (S/MIME
and other security multiparts are kept intact as one attachment, see MS-OXOSMIME
2.1.3). Headers that map to no property are kept in PidTagTransportMessageHeaders and,
for the first occurrence of each, as PS_INTERNET_HEADERS named properties.

Bad input degrades and never raises, except for input over ``max_size``
(:class:`~.errors.LimitExceeded`).
"""

from __future__ import annotations

import datetime as dt
import logging
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from groupware.convert import _tags as t
from groupware.convert.charsets import codepage_for, decode_text
from groupware.convert.entrylists import encode_one_offs
from groupware.convert.errors import LimitExceeded
from groupware.convert.headers import (
    Address,
    collapse,
    decode_words,
    parse_addresses,
    parse_date,
    parse_msg_ids,
)
from groupware.convert.mimetree import DEFAULT_LIMITS, Entity, MimeLimits, parse_mime
from groupware.convert.model import Attachment, Message, NamedProp, Props, Recipient
from groupware.mapi.entryids import OneOffEntryId
from groupware.mapi.proptypes import PropType
from groupware.mapi.values import datetime_to_filetime
from groupware.types import PropTag

log = logging.getLogger(__name__)

MAPPED_HEADERS = frozenset(
    {
        "from", "sender", "reply-to", "to", "cc", "bcc", "subject", "date", "message-id",
        "in-reply-to", "references", "importance", "x-priority", "priority", "sensitivity",
        "keywords", "mime-version", "content-type", "content-transfer-encoding",
        "content-disposition", "content-id", "content-location", "content-length",
    }
)
"""Header fields regenerated from properties on output (never passed through)."""

_TRACE_HEADERS = frozenset(
    {"received", "return-path", "dkim-signature", "authentication-results", "received-spf",
     "delivered-to", "x-original-to", "arc-seal", "arc-message-signature",
     "arc-authentication-results"}
)
_SUBJECT_PREFIX = re.compile(r"^([^\s:\d]{1,3}): ")
_IMPORTANCE = {"high": 2, "normal": 1, "low": 0}
_PRIORITY = {"urgent": 1, "normal": 0, "non-urgent": -1}
_SENSITIVITY = {"personal": 1, "private": 2, "company-confidential": 3, "confidential": 3}

SignedClass = "IPM.Note.SMIME.MultipartSigned"
OpaqueClass = "IPM.Note.SMIME"
PgpEncryptedClass = "IPM.Note.PGP.Encrypted"
SECURE_CLASSES = (SignedClass, OpaqueClass, PgpEncryptedClass)


@dataclass(frozen=True)
class MimeOptions:
    """How :func:`mime_to_mapi` converts; the defaults suit delivery into a store."""

    max_size: int = 200 << 20
    limits: MimeLimits = DEFAULT_LIMITS
    max_embedding: int = 8
    """Deepest message/rfc822 nesting turned into embedded messages."""
    rtf: bool = False
    """Also produce PidTagRtfCompressed (MS-OXRTFCP) from the body."""
    delivery_time: dt.datetime | None = None
    keep_transport_headers: bool = True
    decode_tnef: bool = True
    decode_itip: bool = True


@dataclass
class _Body:
    text: str | None = None
    html: bytes | None = None
    html_charset: str | None = None
    text_charset: str | None = None
    calendar: Entity | None = None
    tnef: Entity | None = None


@dataclass
class _Collected:
    body: _Body = field(default_factory=_Body)
    attachments: list[tuple[Entity, bool]] = field(default_factory=list)
    """(part, referenced from a multipart/related root)"""


# Hooks filled by the iTIP and TNEF modules, so this module does not import them eagerly.
ItipHook = Callable[[Message, bytes, str | None], None]
TnefHook = Callable[[Message, bytes], None]
_itip_hook: list[ItipHook] = []
_tnef_hook: list[TnefHook] = []


def register_itip(hook: ItipHook) -> None:
    _itip_hook[:] = [hook]


def register_tnef(hook: TnefHook) -> None:
    _tnef_hook[:] = [hook]


def mime_to_mapi(data: bytes, options: MimeOptions | None = None) -> Message:
    """Convert one RFC 5322 message. Raises only :class:`LimitExceeded` for huge input."""
    options = options or MimeOptions()
    if len(data) > options.max_size:
        raise LimitExceeded(f"message of {len(data)} bytes exceeds {options.max_size}")
    _load_hooks()
    root = parse_mime(data, options.limits)
    return entity_to_message(root, options, depth=0)


_hooks_loaded: list[bool] = []


def _load_hooks() -> None:
    if not _hooks_loaded:
        _hooks_loaded.append(True)
        # Imported late: both modules import this one and register themselves.
        from groupware.convert import itip, tnef  # noqa: F401


def entity_to_message(root: Entity, options: MimeOptions, depth: int) -> Message:
    """A parsed entity tree -> message model (also used for embedded messages)."""
    msg = Message()
    _envelope(root, msg, options, top=depth == 0)
    ctype = root.content_type
    security = _security_class(root)
    if security is not None:
        msg.props[t.MESSAGE_CLASS] = security
        _keep_intact(root, msg)
        collected = _Collected()
        first = root.children[0] if ctype == "multipart/signed" and root.children else None
        if first is not None:
            collected = _collect(first)
            collected.attachments.clear()  # the intact blob is the only attachment
        _set_body(msg, collected.body, options)
        _finish(msg)
        return msg
    msg.props[t.MESSAGE_CLASS] = _report_class(root) or "IPM.Note"
    collected = _collect(root)
    _set_body(msg, collected.body, options)
    for index, (part, related) in enumerate(collected.attachments):
        msg.attachments.append(_attachment(part, related, index, options, depth))
    if collected.body.calendar is not None and options.decode_itip and _itip_hook:
        part = collected.body.calendar
        _itip_hook[0](msg, part.decoded(), part.params.get("charset"))
    if collected.body.tnef is not None and options.decode_tnef and _tnef_hook:
        _tnef_hook[0](msg, collected.body.tnef.decoded())
    _finish(msg)
    return msg


# --- envelope -------------------------------------------------------------------------


def _envelope(root: Entity, msg: Message, options: MimeOptions, top: bool) -> None:
    p = msg.props
    subject = root.header_str("subject")
    if subject is not None:
        subject = decode_words(subject)
        p[t.SUBJECT] = subject
        match = _SUBJECT_PREFIX.match(subject)
        prefix = match.group(0) if match else ""
        p[t.SUBJECT_PREFIX] = prefix
        p[t.NORMALIZED_SUBJECT] = subject[len(prefix) :]
    topic = root.header_str("thread-topic")
    p[t.CONVERSATION_TOPIC] = decode_words(topic) if topic else str(p.get(t.NORMALIZED_SUBJECT, ""))

    from_ = parse_addresses(root.header_str("from"))
    sender = parse_addresses(root.header_str("sender")) or from_[:1]
    if from_:
        _address_props(p, from_[0], t.SENT_REPRESENTING_NAME, t.SENT_REPRESENTING_EMAIL_ADDRESS,
                       t.SENT_REPRESENTING_ADDRTYPE, t.SENT_REPRESENTING_SMTP_ADDRESS,
                       t.SENT_REPRESENTING_ENTRYID)
    if sender:
        _address_props(p, sender[0], t.SENDER_NAME, t.SENDER_EMAIL_ADDRESS, t.SENDER_ADDRTYPE,
                       t.SENDER_SMTP_ADDRESS, t.SENDER_ENTRYID)
    reply_to = parse_addresses(root.header_str("reply-to"))
    if reply_to:
        p[t.REPLY_RECIPIENT_NAMES] = "; ".join(a.name or a.addr for a in reply_to)
        p[t.REPLY_RECIPIENT_ENTRIES] = encode_one_offs([(a.name, a.addr) for a in reply_to])

    for header, rtype in (("to", t.MAPI_TO), ("cc", t.MAPI_CC), ("bcc", t.MAPI_BCC)):
        for value in _all_values(root, header):
            for address in parse_addresses(value):
                msg.recipients.append(_recipient(address, rtype, len(msg.recipients)))

    date = parse_date(root.header_str("date"))
    if date is not None:
        p[t.CLIENT_SUBMIT_TIME] = datetime_to_filetime(date)
    delivered = options.delivery_time if top else None
    if delivered is None:
        received = root.header_str("received")
        delivered = parse_date(received.rpartition(";")[2]) if received else None
    delivered = delivered or date
    if delivered is not None:
        p[t.MESSAGE_DELIVERY_TIME] = datetime_to_filetime(delivered)

    ids = parse_msg_ids(root.header_str("message-id"))
    if ids:
        p[t.INTERNET_MESSAGE_ID] = ids[0]
    reply_ids = parse_msg_ids(root.header_str("in-reply-to"))
    if reply_ids:
        p[t.IN_REPLY_TO_ID] = " ".join(reply_ids)
    refs = parse_msg_ids(root.header_str("references"))
    if refs:
        p[t.INTERNET_REFERENCES] = " ".join(refs)

    _importance(root, p)
    sensitivity = root.header_str("sensitivity")
    if sensitivity:
        p[t.SENSITIVITY] = _SENSITIVITY.get(sensitivity.strip().lower(), 0)
    if root.header("disposition-notification-to") is not None:
        p[t.READ_RECEIPT_REQUESTED] = True
    if root.header("return-receipt-to") is not None:
        p[t.ORIGINATOR_DELIVERY_REPORT_REQUESTED] = True
    keywords = [decode_words(v) for v in _all_values(root, "keywords")]
    words = tuple(w for v in keywords for w in (x.strip() for x in v.split(",")) if w)
    if words:
        p[t.KEYWORDS] = words
    for name, tag in (("list-help", t.LIST_HELP), ("list-subscribe", t.LIST_SUBSCRIBE),
                      ("list-unsubscribe", t.LIST_UNSUBSCRIBE)):
        list_value = root.header_str(name)
        if list_value:
            p[tag] = list_value

    if options.keep_transport_headers:
        block = root.source[root.start : root.body_start]
        p[t.TRANSPORT_MESSAGE_HEADERS] = decode_text(block, "utf-8")
    seen: set[str] = set()
    for name, raw in root.headers:
        lname = name.lower()
        if lname in MAPPED_HEADERS or lname in _TRACE_HEADERS or lname in seen:
            continue
        seen.add(lname)
        from groupware.convert.mimetree import unfold

        p[NamedProp(t.PS_INTERNET_HEADERS, lname, PropType.STRING)] = decode_words(unfold(raw))


def _all_values(root: Entity, name: str) -> list[str]:
    from groupware.convert.mimetree import unfold

    return [unfold(v) for k, v in root.headers if k.lower() == name]


def _importance(root: Entity, p: Props) -> None:
    importance = root.header_str("importance")
    value: int | None = None
    if importance:
        value = _IMPORTANCE.get(importance.strip().lower())
    if value is None:
        x_priority = root.header_str("x-priority")
        digits = re.match(r"\s*(\d)", x_priority or "")
        if digits:
            level = int(digits.group(1))
            value = 2 if level < 3 else 0 if level > 3 else 1
    if value is not None:
        p[t.IMPORTANCE] = value
    priority = root.header_str("priority")
    if priority:
        p[t.PRIORITY] = _PRIORITY.get(priority.strip().lower(), 0)


def _address_props(p: Props, a: Address, *tags: PropTag) -> None:
    name, email, addrtype, smtp, entryid = tags
    p[name] = a.name or a.addr
    p[email] = a.addr
    p[addrtype] = "SMTP"
    p[smtp] = a.addr
    p[entryid] = _one_off(a)


def _one_off(a: Address) -> bytes:
    return OneOffEntryId(a.name or a.addr, "SMTP", a.addr).to_bytes()


def _recipient(a: Address, rtype: int, row: int) -> Recipient:
    return Recipient(
        {
            t.RECIPIENT_TYPE: rtype,
            t.DISPLAY_NAME: a.name or a.addr,
            t.EMAIL_ADDRESS: a.addr,
            t.ADDRTYPE: "SMTP",
            t.SMTP_ADDRESS: a.addr,
            t.OBJECT_TYPE: t.MAPI_MAILUSER,
            t.DISPLAY_TYPE: 0,
            t.ROWID: row,
            t.ENTRYID: _one_off(a),
        }
    )


# --- classes ----------------------------------------------------------------------------


def _security_class(root: Entity) -> str | None:
    ctype = root.content_type
    if ctype == "multipart/signed" and root.children:
        return SignedClass
    if ctype in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        return OpaqueClass
    if ctype == "multipart/encrypted" and root.children:
        return PgpEncryptedClass
    return None


def _report_class(root: Entity) -> str | None:
    if root.content_type != "multipart/report":
        return None
    kind = root.params.get("report-type", "").lower()
    if kind == "disposition-notification":
        return "REPORT.IPM.Note.IPNRN"
    if kind == "delivery-status":
        for part in root.children:
            if part.content_type in ("message/delivery-status", "message/global-delivery-status"):
                text = part.raw_body().tobytes().lower()
                if b"action: failed" in text:
                    return "REPORT.IPM.Note.NDR"
        return "REPORT.IPM.Note.DR"
    return None


def _keep_intact(root: Entity, msg: Message) -> None:
    """MS-OXOSMIME 2.1.3: the whole security entity becomes the one attachment."""
    lines = [f"{name}:".encode("ascii") + _crlf_bytes(value) + b"\r\n"
             for name, value in root.headers if name.lower().startswith("content-")]
    blob = b"".join(lines) + b"\r\n" + root.raw_body().tobytes()
    ctype = root.content_type
    name = "smime.p7m" if ctype.endswith("pkcs7-mime") else "SMIME.txt"
    if ctype == "multipart/encrypted":
        name = "PGPMIME.txt"
    msg.attachments.append(Attachment({
        t.ATTACH_NUM: 0,
        t.ATTACH_METHOD: t.AFBYVALUE,
        t.ATTACH_MIME_TAG: ctype,
        t.ATTACH_LONG_FILENAME: name,
        t.ATTACH_FILENAME: name,
        t.DISPLAY_NAME: name,
        t.ATTACH_EXTENSION: posixpath.splitext(name)[1],
        t.ATTACH_DATA_BIN: blob,
        t.ATTACH_SIZE: len(blob),
        t.RENDERING_POSITION: -1,
        t.OBJECT_TYPE: t.MAPI_ATTACH,
    }))


# --- structure ----------------------------------------------------------------------------


def _disposition(part: Entity) -> tuple[str, dict[str, str]]:
    from groupware.convert.mimetree import parse_content_type

    raw = part.header_str("content-disposition")
    return parse_content_type(raw) if raw else ("", {})


def _is_body_text(part: Entity) -> bool:
    if part.content_type not in ("text/plain", "text/html", "text/enriched"):
        return False
    disposition, params = _disposition(part)
    if disposition == "attachment":
        return False
    return "filename" not in params and "name" not in part.params


def _collect(root: Entity) -> _Collected:
    out = _Collected()
    _walk(root, out, body_taken=False)
    return out


def _walk(part: Entity, out: _Collected, body_taken: bool) -> bool:
    """Fill ``out`` from ``part``; returns whether the body has been taken."""
    ctype = part.content_type
    if not part.is_multipart:
        if not body_taken and _is_body_text(part) and _take_text(part, out.body):
            return True
        if not body_taken and ctype == "application/ms-tnef":
            out.body.tnef = part
            return body_taken
        if ctype == "text/calendar" and out.body.calendar is None and "method" in part.params:
            out.body.calendar = part
            return body_taken
        out.attachments.append((part, False))
        return body_taken
    children = part.children
    if ctype == "multipart/alternative" and not body_taken:
        kinds: set[str] = set()
        for child in children:
            cct = child.content_type
            if cct in ("text/plain", "text/html", "text/enriched") and _is_body_text(child):
                if cct in kinds:
                    continue  # a second alternative of the same kind says nothing new
                kinds.add(cct)
                if not _take_text(child, out.body):
                    out.attachments.append((child, False))
            elif cct == "text/calendar":
                out.body.calendar = out.body.calendar or child
            elif child.is_multipart:
                _walk(child, out, body_taken=False)
            elif cct == "application/ms-tnef":
                out.body.tnef = child
            else:
                out.attachments.append((child, False))
        return True
    if not children:
        return body_taken
    if ctype == "multipart/related" and not body_taken:
        start = part.params.get("start")
        root = children[0]
        if start:
            for child in children:
                if (child.header_str("content-id") or "").strip() == start.strip():
                    root = child
                    break
        _walk(root, out, body_taken=False)
        for child in children:
            if child is root:
                continue
            if child.is_multipart:
                _walk(child, out, body_taken=True)
            else:
                out.attachments.append((child, True))
        return True
    seen: set[str] = set()
    for child in children:
        if ctype == "multipart/alternative" and not child.is_multipart:
            # Alternatives say the same thing: one text part of each kind is enough.
            if child.content_type in ("text/plain", "text/html") and child.content_type in seen:
                continue
            seen.add(child.content_type)
        body_taken = _walk(child, out, body_taken)
    return body_taken


def _take_text(part: Entity, body: _Body) -> bool:
    """Use ``part`` as the HTML or plain body; ``False`` when that slot is taken."""
    charset = part.params.get("charset")
    if part.content_type == "text/html":
        if body.html is not None:
            return False
        body.html = part.decoded()
        body.html_charset = charset
        return True
    if body.text is None:
        raw = part.decoded()
        text = decode_text(raw, charset).replace("\x00", "")
        if part.params.get("format", "").lower() == "flowed":
            text = _unflow(text, part.params.get("delsp", "").lower() == "yes")
        body.text = text
        body.text_charset = charset
        return True
    return False


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 4.2: join soft line breaks of format=flowed text."""
    out: list[str] = []
    buffer = ""
    for raw_line in text.replace("\r\n", "\n").split("\n"):
        line = raw_line[1:] if raw_line.startswith(" ") else raw_line  # space stuffing
        if line.endswith(" ") and line != "-- ":
            buffer += line[:-1] if delsp else line
            continue
        out.append(buffer + line)
        buffer = ""
    if buffer:
        out.append(buffer)
    return "\r\n".join(out)


def _set_body(msg: Message, body: _Body, options: MimeOptions) -> None:
    p = msg.props
    if body.text is not None:
        p[t.BODY] = _crlf(body.text)
    if body.html is not None:
        cpid = codepage_for(body.html_charset)
        html = body.html
        if cpid is None:
            html = decode_text(html, body.html_charset).encode("utf-8")
            cpid = 65001
        p[t.HTML] = html
        p[t.INTERNET_CPID] = cpid
        if t.BODY not in p:
            from groupware.convert.htmltext import html_to_text

            text = html_to_text(decode_text(html, body.html_charset)).replace("\x00", "")
            p[t.BODY] = _crlf(text)
    elif body.text is not None:
        p[t.INTERNET_CPID] = codepage_for(body.text_charset) or 65001
    if options.rtf:
        from groupware.convert.rtf import body_to_rtf_compressed

        rtf = body_to_rtf_compressed(msg)
        if rtf is not None:
            p[t.RTF_COMPRESSED] = rtf


def _crlf_bytes(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _crlf(text: str) -> str:
    if "\n" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


# --- attachments --------------------------------------------------------------------------


def _filename(part: Entity) -> str | None:
    _, params = _disposition(part)
    name = params.get("filename") or part.params.get("name")
    if not name:
        return None
    return decode_words(name).replace("\x00", "")


def _attachment(part: Entity, related: bool, index: int, options: MimeOptions,
                depth: int) -> Attachment:
    p: Props = {t.ATTACH_NUM: index, t.OBJECT_TYPE: t.MAPI_ATTACH, t.RENDERING_POSITION: -1}
    ctype = part.content_type
    p[t.ATTACH_MIME_TAG] = ctype
    name = _filename(part)
    disposition, _ = _disposition(part)
    if disposition:
        p[t.ATTACH_CONTENT_DISPOSITION] = disposition
    cid = part.header_str("content-id")
    if cid:
        p[t.ATTACH_CONTENT_ID] = cid.strip().strip("<>")
    location = part.header_str("content-location")
    if location:
        p[t.ATTACH_CONTENT_LOCATION] = collapse(location)
    if related and (cid or location):
        p[t.ATTACH_FLAGS] = t.ATT_MHTML_REF
        p[t.ATTACHMENT_HIDDEN] = disposition != "attachment"
    description = part.header_str("content-description")
    if description:
        p[NamedProp(t.PS_INTERNET_HEADERS, "content-description", PropType.STRING)] = (
            decode_words(description)
        )
    embedded: Message | None = None
    if ctype in ("message/rfc822", "message/global") and part.children and (
        depth + 1 < options.max_embedding
    ):
        embedded = entity_to_message(part.children[0], options, depth + 1)
        p[t.ATTACH_METHOD] = t.AFEMBEDDEDMESSAGE
        subject = embedded.get_str(t.SUBJECT) or ""
        p[t.DISPLAY_NAME] = name or subject
        p[t.ATTACH_SIZE] = part.end - part.body_start
    else:
        data = part.decoded()
        p[t.ATTACH_METHOD] = t.AFBYVALUE
        p[t.ATTACH_DATA_BIN] = data
        p[t.ATTACH_SIZE] = len(data)
        if ctype.startswith("text/") and part.params.get("charset"):
            p[t.TEXT_ATTACHMENT_CHARSET] = part.params["charset"]
    if name:
        p[t.ATTACH_LONG_FILENAME] = name
        p[t.ATTACH_FILENAME] = _short_name(name)
        p[t.DISPLAY_NAME] = name
        ext = posixpath.splitext(name)[1]
        if ext:
            p[t.ATTACH_EXTENSION] = ext
    return Attachment(p, embedded)


def _short_name(name: str) -> str:
    """An 8.3 name for PidTagAttachFilename (MS-OXCMSG 2.2.2.11)."""
    stem, ext = posixpath.splitext(name.replace("/", "_").replace("\\", "_"))
    clean = re.sub(r"[^A-Za-z0-9_\-]", "", stem).upper()[:8] or "ATT"
    ext_clean = re.sub(r"[^A-Za-z0-9]", "", ext).upper()[:3]
    return f"{clean}.{ext_clean}" if ext_clean else clean


def _finish(msg: Message) -> None:
    p = msg.props
    visible = [a for a in msg.attachments if not a.props.get(t.ATTACHMENT_HIDDEN)]
    p[t.HASATTACH] = bool(visible)
    p[t.MESSAGE_FLAGS] = t.MSGFLAG_UNMODIFIED | (t.MSGFLAG_HASATTACH if visible else 0)
    for tag, rtype in ((t.DISPLAY_TO, t.MAPI_TO), (t.DISPLAY_CC, t.MAPI_CC),
                       (t.DISPLAY_BCC, t.MAPI_BCC)):
        names = [str(r.props.get(t.DISPLAY_NAME, "")) for r in msg.recipients
                 if r.props.get(t.RECIPIENT_TYPE) == rtype]
        p[tag] = "; ".join(names)
