"""MAPI -> MIME: the :class:`~.model.Message` model to RFC 5322/2045 bytes (MS-OXCMAIL 2.1).

The output is a pure function of the model: boundaries come from a digest of the
message's identity, headers are folded by fixed rules, attachments are always base64
with 76-character lines. So the same message always gives the same bytes and IMAP
RFC822.SIZE never changes. :func:`iter_mime` yields the message in chunks so a
50 MB message is never one string; :func:`mapi_to_mime` joins them.

Structure (MS-OXCMAIL 2.1.3.1): text/plain and/or text/html (multipart/alternative
when both, a text/calendar iMIP part joins the alternative for meeting messages),
inline attachments referenced from HTML in multipart/related, everything else in
multipart/mixed, embedded messages as message/rfc822. Messages of the S/MIME
classes are written from their intact security attachment (MS-OXOSMIME 2.1.3).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from groupware.convert import _tags as t
from groupware.convert.charsets import charset_for_codepage, codec_for_codepage
from groupware.convert.entrylists import decode_one_offs
from groupware.convert.headers import (
    Address,
    encode_unstructured,
    encode_words,
    fold,
    format_address,
    format_date,
    needs_encoding,
)
from groupware.convert.mime_to_mapi import MAPPED_HEADERS, SECURE_CLASSES
from groupware.convert.mimetree import DEFAULT_LIMITS, _Budget, _parse_headers
from groupware.convert.model import Attachment, Message, NamedProp, PropKey, Props
from groupware.mapi.proptypes import PropType
from groupware.mapi.values import filetime_to_datetime

log = logging.getLogger(__name__)

_CHUNK = 57 * 1024  # base64 input per chunk: whole 57-byte lines
_IMPORTANCE = {2: "high", 0: "low"}
_X_PRIORITY = {2: "1 (Highest)", 0: "5 (Lowest)"}
_PRIORITY = {1: "urgent", -1: "non-urgent"}
_SENSITIVITY = {1: "Personal", 2: "Private", 3: "Company-Confidential"}

# Hook the iCalendar module fills: message -> (method, iCalendar bytes) for iMIP.
ItipWriter = Callable[[Message], "tuple[str, bytes] | None"]
_itip_writer: list[ItipWriter] = []


def register_itip_writer(hook: ItipWriter) -> None:
    _itip_writer[:] = [hook]


@dataclass(frozen=True)
class MimeWriteOptions:
    """Choices for :func:`iter_mime`."""

    include_bcc: bool = True
    """Write Bcc (drafts and sent items: yes; a message being submitted: no)."""
    passthrough: bool = True
    """Write unmapped headers kept from the original (transport headers, X-*)."""


@dataclass
class _Part:
    headers: list[tuple[str, str]]
    body: Callable[[], Iterator[bytes]] | None = None
    children: list[_Part] = field(default_factory=list)
    boundary: str = ""


def mapi_to_mime(msg: Message, options: MimeWriteOptions | None = None) -> bytes:
    """The whole message as bytes (see :func:`iter_mime` for the streaming form)."""
    return b"".join(iter_mime(msg, options))


def iter_mime(msg: Message, options: MimeWriteOptions | None = None) -> Iterator[bytes]:
    """Yield the RFC 5322 message for ``msg`` in chunks."""
    _load_hooks()
    options = options or MimeWriteOptions()
    yield from _message(msg, options, "m")


_hooks_loaded: list[bool] = []


def _load_hooks() -> None:
    if not _hooks_loaded:
        _hooks_loaded.append(True)
        from groupware.convert import itip  # noqa: F401  (registers the iMIP writer)


def _message(msg: Message, options: MimeWriteOptions, path: str) -> Iterator[bytes]:
    seed = _seed(msg, path)
    for name, value in _top_headers(msg, options):
        yield _header_line(name, value)
    secure = _secure_blob(msg)
    if secure is not None:
        yield b"MIME-Version: 1.0\r\n"
        yield secure
        return
    body = _structure(msg, options, path, seed)
    yield b"MIME-Version: 1.0\r\n"
    yield from _emit(body)


def _header_line(name: str, value: str) -> bytes:
    if name.startswith("\x00raw:"):
        return value.encode("utf-8", "surrogateescape")
    return fold(name, value)


def _seed(msg: Message, path: str) -> bytes:
    h = hashlib.blake2b(digest_size=12)
    identity = (t.INTERNET_MESSAGE_ID, t.SUBJECT, t.CLIENT_SUBMIT_TIME, t.TRANSPORT_MESSAGE_HEADERS)
    for tag in identity:
        h.update(repr(msg.props.get(tag)).encode("utf-8", "replace"))
    h.update(str(len(msg.attachments)).encode())
    h.update(path.encode())
    return h.hexdigest().encode()


# --- headers ------------------------------------------------------------------------------


def _top_headers(msg: Message, options: MimeWriteOptions) -> list[tuple[str, str]]:
    p = msg.props
    out: list[tuple[str, str]] = []
    passthrough_names: set[str] = set()
    if options.passthrough:
        for name, raw in _passthrough(msg):
            passthrough_names.add(name.lower())
            out.append(("\x00raw:" + name, raw))
    submit = p.get(t.CLIENT_SUBMIT_TIME)
    if isinstance(submit, int):
        out.append(("Date", format_date(filetime_to_datetime(submit))))
    sent_rep = _address(msg, t.SENT_REPRESENTING_NAME, t.SENT_REPRESENTING_SMTP_ADDRESS,
                        t.SENT_REPRESENTING_EMAIL_ADDRESS, t.SENT_REPRESENTING_ADDRTYPE)
    sender = _address(msg, t.SENDER_NAME, t.SENDER_SMTP_ADDRESS, t.SENDER_EMAIL_ADDRESS,
                      t.SENDER_ADDRTYPE)
    if sent_rep is None:
        sent_rep, sender = sender, None
    if sent_rep is not None:
        out.append(("From", format_address(sent_rep)))
    if sender is not None and sent_rep is not None and sender.addr.lower() != sent_rep.addr.lower():
        out.append(("Sender", format_address(sender)))
    entries = p.get(t.REPLY_RECIPIENT_ENTRIES)
    if isinstance(entries, bytes):
        replies = [Address(n if n != a else "", a) for n, a in decode_one_offs(entries)]
        if replies:
            out.append(("Reply-To", ", ".join(format_address(a) for a in replies)))
    subject = p.get(t.SUBJECT)
    if isinstance(subject, str):
        out.append(("Subject", encode_unstructured(subject)))
    for label, rtype in (("To", t.MAPI_TO), ("Cc", t.MAPI_CC), ("Bcc", t.MAPI_BCC)):
        if rtype == t.MAPI_BCC and not options.include_bcc:
            continue
        addresses = [a for a in (_recipient_address(r.props) for r in msg.recipients
                                 if r.props.get(t.RECIPIENT_TYPE) == rtype) if a]
        if addresses:
            out.append((label, ", ".join(format_address(a) for a in addresses)))
    for label, tag in (("Message-ID", t.INTERNET_MESSAGE_ID), ("In-Reply-To", t.IN_REPLY_TO_ID),
                       ("References", t.INTERNET_REFERENCES)):
        value = p.get(tag)
        if isinstance(value, str) and value and value.isascii():
            out.append((label, value))
    importance = p.get(t.IMPORTANCE)
    if isinstance(importance, int) and importance in _IMPORTANCE:
        out.append(("Importance", _IMPORTANCE[importance]))
        out.append(("X-Priority", _X_PRIORITY[importance]))
    priority = p.get(t.PRIORITY)
    if isinstance(priority, int) and priority in _PRIORITY:
        out.append(("Priority", _PRIORITY[priority]))
    sensitivity = p.get(t.SENSITIVITY)
    if isinstance(sensitivity, int) and sensitivity in _SENSITIVITY:
        out.append(("Sensitivity", _SENSITIVITY[sensitivity]))
    keywords = p.get(t.KEYWORDS)
    if isinstance(keywords, tuple) and keywords:
        out.append(("Keywords", ", ".join(encode_unstructured(str(k)) for k in keywords)))
    notify_to = format_address(sent_rep) if sent_rep else None
    if p.get(t.READ_RECEIPT_REQUESTED) is True and notify_to and (
        "disposition-notification-to" not in passthrough_names
    ):
        out.append(("Disposition-Notification-To", notify_to))
    if p.get(t.ORIGINATOR_DELIVERY_REPORT_REQUESTED) is True and notify_to and (
        "return-receipt-to" not in passthrough_names
    ):
        out.append(("Return-Receipt-To", notify_to))
    if not passthrough_names:
        topic = p.get(t.CONVERSATION_TOPIC)
        if isinstance(topic, str) and topic and topic != p.get(t.NORMALIZED_SUBJECT):
            out.append(("Thread-Topic", encode_unstructured(topic)))
    return out


def _passthrough(msg: Message) -> list[tuple[str, str]]:
    """Unmapped header fields to write again, original bytes and order when known."""
    block = msg.props.get(t.TRANSPORT_MESSAGE_HEADERS)
    out: list[tuple[str, str]] = []
    if isinstance(block, str):
        raw = block.encode("utf-8", "replace")
        headers, _, _ = _parse_headers(raw, 0, len(raw), _Budget(DEFAULT_LIMITS), top=True)
        for name, raw_value in headers:
            if name.lower() not in MAPPED_HEADERS:
                value = raw_value.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                line = name.encode("ascii") + b":" + value + b"\r\n"
                out.append((name, line.decode("utf-8", "surrogateescape")))
        return out
    named: list[tuple[str, str]] = sorted(
        (str(k.name), v) for k, v in msg.props.items()
        if isinstance(k, NamedProp) and k.guid == t.PS_INTERNET_HEADERS
        and isinstance(k.name, str) and isinstance(v, str)
        and k.name not in MAPPED_HEADERS and k.name.isascii()
    )
    for hname, hvalue in named:
        label = "-".join(w.capitalize() for w in str(hname).split("-"))
        text = encode_words(hvalue) if needs_encoding(hvalue) else hvalue
        out.append((label, fold(label, text).decode("ascii")))
    return out


def _address(msg: Message, name_tag: PropKey, smtp_tag: PropKey, email_tag: PropKey,
             type_tag: PropKey) -> Address | None:
    p = msg.props
    smtp = p.get(smtp_tag)
    if not isinstance(smtp, str) or not smtp:
        email = p.get(email_tag)
        smtp = email if isinstance(email, str) and p.get(type_tag) in ("SMTP", None) else None
    name = p.get(name_tag)
    name = name if isinstance(name, str) and name != smtp else ""
    if not smtp and not name:
        return None
    return Address(name, smtp or "")


def _recipient_address(props: Props) -> Address | None:
    smtp = props.get(t.SMTP_ADDRESS)
    if not isinstance(smtp, str) or not smtp:
        email = props.get(t.EMAIL_ADDRESS)
        smtp = email if isinstance(email, str) and props.get(t.ADDRTYPE) in ("SMTP", None) else ""
    name = props.get(t.DISPLAY_NAME)
    name = name if isinstance(name, str) and name != smtp else ""
    if not smtp and not name:
        return None
    return Address(name, smtp)


# --- structure ----------------------------------------------------------------------------


def _secure_blob(msg: Message) -> bytes | None:
    if msg.props.get(t.MESSAGE_CLASS) not in SECURE_CLASSES or len(msg.attachments) != 1:
        return None
    data = msg.attachments[0].props.get(t.ATTACH_DATA_BIN)
    tag = msg.attachments[0].props.get(t.ATTACH_MIME_TAG)
    if not isinstance(data, bytes) or not isinstance(tag, str):
        return None
    if tag.startswith("multipart/") or data[:40].lower().startswith(b"content-"):
        return data
    return None


def _is_inline(att: Attachment, has_html: bool) -> bool:
    flags = att.props.get(t.ATTACH_FLAGS)
    cid = att.props.get(t.ATTACH_CONTENT_ID) or att.props.get(t.ATTACH_CONTENT_LOCATION)
    return has_html and bool(cid) and isinstance(flags, int) and bool(flags & t.ATT_MHTML_REF)


def _structure(msg: Message, options: MimeWriteOptions, path: str, seed: bytes) -> _Part:
    p = msg.props
    html = p.get(t.HTML)
    text = p.get(t.BODY)
    if html is None and text is None and isinstance(p.get(t.RTF_COMPRESSED), bytes):
        text, html = _body_from_rtf(p[t.RTF_COMPRESSED])  # type: ignore[arg-type]
    cpid = p.get(t.INTERNET_CPID)
    cpid = cpid if isinstance(cpid, int) and not isinstance(cpid, bool) else None
    alternatives: list[_Part] = []
    if isinstance(text, str) and not (isinstance(html, bytes) and _derived_from(text, html, cpid)):
        alternatives.append(_text_part("text/plain", text, cpid))
    html_part: _Part | None = None
    if isinstance(html, bytes):
        html_part = _bytes_text_part("text/html", html, charset_for_codepage(cpid))
    inline = [a for a in msg.attachments if _is_inline(a, html_part is not None)]
    regular = [a for a in msg.attachments if not _is_inline(a, html_part is not None)]
    counter = [0]

    def boundary() -> str:
        counter[0] += 1
        return f"=_{path}{counter[0]}_{seed.decode()}"

    if html_part is not None:
        if inline:
            related = _Part([("Content-Type", 'multipart/related; type="text/html"')],
                            children=[html_part])
            related.children += [_attachment_part(a, options, f"{path}r{i}")
                                 for i, a in enumerate(inline)]
            html_part = related
        alternatives.append(html_part)
    if _itip_writer and str(p.get(t.MESSAGE_CLASS, "")).startswith("IPM.Schedule.Meeting"):
        itip = _itip_writer[0](msg)
        if itip is not None:
            method, data = itip
            alternatives.append(_bytes_text_part("text/calendar", data, "utf-8",
                                                 extra=f"; method={method}"))
    if not alternatives and not regular:
        alternatives.append(_text_part("text/plain", "", cpid))
    body: _Part | None = None
    if alternatives:
        body = alternatives[0] if len(alternatives) == 1 else _Part(
            [("Content-Type", "multipart/alternative")], children=alternatives
        )
    if regular:
        body = _Part([("Content-Type", "multipart/mixed")], children=[body] if body else [])
        body.children += [_attachment_part(a, options, f"{path}a{i}")
                          for i, a in enumerate(regular)]
    assert body is not None
    _assign_boundaries(body, boundary)
    return body


def _body_from_rtf(blob: bytes) -> tuple[str | None, bytes | None]:
    """An RTF-only message (Outlook "rich text"): its text, or the HTML it wraps."""
    from groupware.convert.errors import ConversionError
    from groupware.convert.rtf import decompress, rtf_to_text

    try:
        text, is_html = rtf_to_text(decompress(blob))
    except ConversionError:
        return None, None
    return (None, text.encode("utf-8")) if is_html else (text, None)


def _derived_from(text: str, html: bytes, cpid: int | None) -> bool:
    """Whether PidTagBody is only our rendering of the HTML (then it is not written)."""
    from groupware.convert.charsets import decode_text
    from groupware.convert.htmltext import html_to_text

    rendered = html_to_text(decode_text(html, charset_for_codepage(cpid)))
    return rendered.replace("\r\n", "\n") == text.replace("\r\n", "\n")


def _assign_boundaries(part: _Part, boundary: Callable[[], str]) -> None:
    if part.children:
        part.boundary = boundary()
        ctype = part.headers[0][1]
        part.headers[0] = ("Content-Type", f'{ctype}; boundary="{part.boundary}"')
        for child in part.children:
            _assign_boundaries(child, boundary)


def _emit(part: _Part) -> Iterator[bytes]:
    for name, value in part.headers:
        yield fold(name, value)
    yield b"\r\n"
    if part.children:
        delimiter = b"--" + part.boundary.encode("ascii")
        for child in part.children:
            yield delimiter + b"\r\n"
            yield from _emit(child)
            yield b"\r\n"
        yield delimiter + b"--\r\n"
    elif part.body is not None:
        yield from part.body()


def _text_part(ctype: str, text: str, cpid: int | None) -> _Part:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    codec = codec_for_codepage(cpid)
    charset = charset_for_codepage(cpid)
    try:
        data = text.encode(codec)
    except (UnicodeEncodeError, LookupError):
        data, charset = text.encode("utf-8"), "utf-8"
    return _bytes_text_part(ctype, data, charset)


def _bytes_text_part(ctype: str, data: bytes, charset: str, extra: str = "") -> _Part:
    """A text leaf: 7bit when safe (ASCII, short lines, no boundary prefix), else QP."""
    headers = [("Content-Type", f"{ctype}; charset={charset}{extra}")]
    if _seven_bit_safe(data):
        headers.append(("Content-Transfer-Encoding", "7bit"))
        return _Part(headers, body=lambda: iter((data,)))
    headers.append(("Content-Transfer-Encoding", "quoted-printable"))
    normalized = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    return _Part(headers, body=lambda: iter((binascii.b2a_qp(normalized, istext=True),)))


def _seven_bit_safe(data: bytes) -> bool:
    if not data.isascii() or b"=_" in data or b"\x00" in data:
        return False
    if b"\r" in data.replace(b"\r\n", b"") or b"\n" in data.replace(b"\r\n", b""):
        return False
    return all(len(line) <= 998 for line in data.split(b"\r\n"))


def _quote_param(name: str, value: str) -> str:
    """A filename/name parameter: plain, quoted, or RFC 2231 for non-ASCII."""
    if value.isascii() and not any(c in value for c in '"\\\r\n'):
        return f'{name}="{value}"'
    from urllib.parse import quote

    return f"{name}*=utf-8''{quote(value, safe='')}"


def _attachment_part(att: Attachment, options: MimeWriteOptions, path: str) -> _Part:
    p = att.props
    name = p.get(t.ATTACH_LONG_FILENAME) or p.get(t.ATTACH_FILENAME) or p.get(t.DISPLAY_NAME)
    name = name if isinstance(name, str) else ""
    ctype = p.get(t.ATTACH_MIME_TAG)
    ctype = ctype if isinstance(ctype, str) and "/" in ctype else "application/octet-stream"
    disposition = p.get(t.ATTACH_CONTENT_DISPOSITION)
    flags = p.get(t.ATTACH_FLAGS)
    if not isinstance(disposition, str) or disposition not in ("inline", "attachment"):
        inline = isinstance(flags, int) and bool(flags & t.ATT_MHTML_REF)
        disposition = "inline" if inline else "attachment"
    if att.embedded is not None:
        embedded = att.embedded
        headers = [("Content-Type", "message/rfc822")]
        data = b"".join(_message(embedded, options, path))
        headers.append(("Content-Transfer-Encoding", "7bit" if data.isascii() else "8bit"))
        if name:
            headers.append(_disposition_header(disposition, name))
        return _Part(headers, body=lambda: iter((data,)))
    blob = p.get(t.ATTACH_DATA_BIN)
    data_bytes = blob if isinstance(blob, bytes) else b""
    if ctype.startswith("message/") and _seven_or_eight_bit_safe(data_bytes):
        # RFC 2046 5.2: message/* bodies are never base64 or quoted-printable.
        cte = "7bit" if data_bytes.isascii() else "8bit"
        data_bytes = data_bytes.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        headers = [("Content-Type", ctype), ("Content-Transfer-Encoding", cte)]
        if name:
            headers.append(_disposition_header(disposition, name))
        return _Part(headers, body=lambda: iter((data_bytes,)))
    params = ""
    charset = p.get(t.TEXT_ATTACHMENT_CHARSET)
    if ctype.startswith("text/") and isinstance(charset, str) and charset.isascii():
        params += f"; charset={charset}"
    if name:
        params += "; " + _quote_param("name", name)
    headers = [("Content-Type", ctype + params), ("Content-Transfer-Encoding", "base64")]
    disp = disposition + (f"; {_quote_param('filename', name)}" if name else "")
    headers.append(("Content-Disposition", disp))
    cid = p.get(t.ATTACH_CONTENT_ID)
    if isinstance(cid, str) and cid and cid.isascii():
        headers.append(("Content-ID", f"<{cid}>"))
    location = p.get(t.ATTACH_CONTENT_LOCATION)
    if isinstance(location, str) and location and location.isascii():
        headers.append(("Content-Location", location))
    description = p.get(NamedProp(t.PS_INTERNET_HEADERS, "content-description", PropType.STRING))
    if isinstance(description, str) and description:
        headers.append(("Content-Description", encode_unstructured(description)))
    return _Part(headers, body=lambda: _base64(data_bytes))


def _disposition_header(disposition: str, name: str) -> tuple[str, str]:
    return ("Content-Disposition", f"{disposition}; {_quote_param('filename', name)}")


def _seven_or_eight_bit_safe(data: bytes) -> bool:
    return b"\n--=_" not in data and b"\x00" not in data and not data.startswith(b"--=_")


def _base64(data: bytes) -> Iterator[bytes]:
    view = memoryview(data)
    for offset in range(0, len(data), _CHUNK):
        yield base64.encodebytes(view[offset : offset + _CHUNK]).replace(b"\n", b"\r\n")
